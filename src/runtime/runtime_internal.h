/* Internal to src/runtime (not installed). */
#ifndef LEVI_RUNTIME_INTERNAL_H
#define LEVI_RUNTIME_INTERNAL_H

#include "levi/runtime.h"

/* Free the kernel-time table once no callback is pending (levi_ctx_destroy,
 * after the queue finished). */
__attribute__((visibility("hidden"))) void runtime_profile_free(levi_ctx *ctx);

#endif
