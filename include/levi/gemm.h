/* levi/gemm.h — which library runs a context's GEMMs (levi_gemm and
 * levi_gemm_batched in levi/ops.h), and the hooks levi_ctx_create and
 * levi_ctx_destroy call.
 *
 * Two paths, chosen per context when it is created:
 *  - CLBlast (every device): OpenCL kernels, tuned per device by `levi-cl tune`.
 *  - OpenBLAS (CPU devices whose memory is host memory and that run native
 *    kernels, e.g. PoCL; only when liblevi was built with OpenBLAS): each GEMM
 *    is a native kernel in the context's queue (clEnqueueNativeKernel), which
 *    calls cblas_sgemm on the buffers' host addresses when the queue reaches
 *    it. It stays in queue order and the host never waits for it.
 * The default is OpenBLAS where it applies, else CLBlast; $LEVI_GEMM
 * (auto | clblast | openblas) overrides the default for every new context. */
#ifndef LEVI_GEMM_H
#define LEVI_GEMM_H

#include "levi/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum levi_gemm_path {
    LEVI_GEMM_AUTO = 0,     /* OpenBLAS where it applies, else CLBlast */
    LEVI_GEMM_CLBLAST = 1,  /* CLBlast's OpenCL kernels */
    LEVI_GEMM_OPENBLAS = 2, /* cblas_sgemm in a native kernel, in queue order */
} levi_gemm_path;

/* "auto", "clblast", "openblas". */
const char *levi_gemm_path_name(levi_gemm_path path);
/* Parse a name as above; LEVI_ERR_INVALID_ARG naming `what` otherwise. */
levi_status levi_gemm_path_parse(const char *name, const char *what, levi_gemm_path *out);

/* 1 when liblevi was built with OpenBLAS (meson feature 'openblas'). */
int levi_gemm_have_openblas(void);

/* 1 when the OpenBLAS path can run on ctx's device; *why (may be NULL)
 * receives the reason when it cannot. */
int levi_gemm_openblas_applies(const levi_ctx *ctx, const char **why);

/* The path ctx's GEMMs take now (never LEVI_GEMM_AUTO). */
levi_gemm_path levi_gemm_get_path(const levi_ctx *ctx);

/* Switch ctx's GEMMs to `path` (AUTO: the default for the device). Asking
 * for OpenBLAS where it does not apply is LEVI_ERR_UNSUPPORTED with the
 * reason. Work already queued keeps its path; order is kept either way. */
levi_status levi_gemm_set_path(levi_ctx *ctx, levi_gemm_path path);

/* Called by levi_ctx_create (after the queue exists; apply_tuning: hand the
 * device's stored tuned CLBlast parameters to CLBlast) and levi_ctx_destroy
 * (after everything queued finished, before the context is released). */
levi_status levi_gemm_ctx_init(levi_ctx *ctx, int apply_tuning);
void levi_gemm_ctx_release(levi_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif
