/* Internal to src/runtime (not installed). */
#ifndef LEVI_RUNTIME_INTERNAL_H
#define LEVI_RUNTIME_INTERNAL_H

#include "levi/runtime.h"

/* Free the kernel-time table once no callback is pending (levi_ctx_destroy,
 * after the queue finished). */
__attribute__((visibility("hidden"))) void runtime_profile_free(levi_ctx *ctx);

/* Busy intervals of a profiling ctx (profile_busy.c): created with the
 * profile, fed by every completed profiled command (device ns). */
__attribute__((visibility("hidden"))) struct levi_busy *runtime_busy_create(void);
__attribute__((visibility("hidden"))) void runtime_busy_free(struct levi_busy *b);
__attribute__((visibility("hidden"))) void runtime_busy_add(struct levi_busy *b, unsigned long long start,
                                                            unsigned long long end);

#endif
