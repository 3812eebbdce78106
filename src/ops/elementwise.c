/* Elementwise ops: launches of cl/elementwise.cl. */
#include "levi/ops.h"

/* out (n) = s * inp (n) */
levi_status levi_scale_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *inp, float s, size_t n) {
    cl_kernel k;
    LEVI_TRY(levi_kernel_get(ctx, "elementwise", "scale_forward", &k));
    cl_ulong oo = out->offset, io = inp->offset, nn = n;
    LEVI_CL_CHECK(LEVI_ARG(k, 0, out->buf));
    LEVI_CL_CHECK(LEVI_ARG(k, 1, oo));
    LEVI_CL_CHECK(LEVI_ARG(k, 2, inp->buf));
    LEVI_CL_CHECK(LEVI_ARG(k, 3, io));
    LEVI_CL_CHECK(LEVI_ARG(k, 4, s));
    LEVI_CL_CHECK(LEVI_ARG(k, 5, nn));
    return levi_launch_1d(ctx, k, n);
}
