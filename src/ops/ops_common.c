/* Checks and launch shapes shared by the op launchers. */
#include "ops_internal.h"

levi_status ops_need(const char *op, const char *name, const levi_tensor *t, size_t need) {
    if (!t || !t->buf) return levi_error(LEVI_ERR_INVALID_ARG, "%s: tensor %s is NULL", op, name);
    if (t->numel < need)
        return levi_error(LEVI_ERR_SHAPE, "%s: %s holds %zu floats, needs %zu", op, name, t->numel, need);
    return LEVI_OK;
}

levi_status ops_reduce_wg(levi_ctx *ctx, cl_kernel k, size_t *wg) {
    size_t kmax = 0;
    LEVI_CL_CHECK(clGetKernelWorkGroupInfo(k, ctx->info.device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kmax, &kmax,
                                           NULL));
    size_t lim = ctx->wg < kmax || kmax == 0 ? ctx->wg : kmax;
    size_t p = 1;
    while (p * 2 <= lim) p *= 2;
    *wg = p;
    return LEVI_OK;
}

levi_status ops_launch_groups(levi_ctx *ctx, cl_kernel k, size_t groups, size_t wg) {
    if (groups == 0) return LEVI_OK;
    size_t global = groups * wg;
    return levi_launch(ctx, k, 1, &global, &wg);
}

int ops_use_rowwise(const levi_ctx *ctx, int rows, int cols) {
    if ((size_t)cols < ctx->wg) return 1;
    size_t cores = ctx->info.compute_units ? ctx->info.compute_units : 1;
    return (ctx->info.type & CL_DEVICE_TYPE_CPU) && (size_t)rows >= 4 * cores;
}
