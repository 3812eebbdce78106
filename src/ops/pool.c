/* Max, average and global average pooling (NCHW); launches of cl/pool.cl. */
#include "levi/ops.h"

/* Validates a k×k / stride st pooling of (B,C,H,W) and returns OH, OW. */
static levi_status pool_shape(const char *op, int B, int C, int H, int W, int k, int st, int *OH, int *OW) {
    if (B <= 0 || C <= 0 || H <= 0 || W <= 0)
        return levi_error(LEVI_ERR_INVALID_ARG, "%s: B=%d C=%d H=%d W=%d, expected all > 0", op, B, C, H, W);
    if (k <= 0 || st <= 0)
        return levi_error(LEVI_ERR_INVALID_ARG, "%s: window %d stride %d, expected both > 0", op, k, st);
    if (k > H || k > W)
        return levi_error(LEVI_ERR_SHAPE, "%s: window %d larger than the %dx%d input", op, k, H, W);
    *OH = (H - k) / st + 1;
    *OW = (W - k) / st + 1;
    return LEVI_OK;
}

static levi_status need(const char *op, const char *what, const levi_tensor *t, size_t n) {
    if (!t) return levi_error(LEVI_ERR_INVALID_ARG, "%s: %s tensor is NULL", op, what);
    if (t->numel < n)
        return levi_error(LEVI_ERR_SHAPE, "%s: %s tensor has %zu elements, expected at least %zu", op, what,
                          t->numel, n);
    return LEVI_OK;
}

/* out (B,C,OH,OW) = pool(inp (B,C,H,W)); kernel maxpool_forward or avgpool_forward */
static levi_status pool_forward(levi_ctx *ctx, const char *name, const levi_tensor *out, const levi_tensor *inp,
                                int B, int C, int H, int W, int k, int st) {
    int OH, OW;
    LEVI_TRY(pool_shape(name, B, C, H, W, k, st, &OH, &OW));
    LEVI_TRY(need(name, "input", inp, (size_t)B * C * H * W));
    LEVI_TRY(need(name, "output", out, (size_t)B * C * OH * OW));
    cl_kernel kn;
    LEVI_TRY(levi_kernel_get(ctx, "pool", name, &kn));
    cl_ulong oo = out->offset, io = inp->offset, n = (cl_ulong)B * C * OH * OW;
    LEVI_CL_CHECK(LEVI_ARG(kn, 0, out->buf));
    LEVI_CL_CHECK(LEVI_ARG(kn, 1, oo));
    LEVI_CL_CHECK(LEVI_ARG(kn, 2, inp->buf));
    LEVI_CL_CHECK(LEVI_ARG(kn, 3, io));
    LEVI_CL_CHECK(LEVI_ARG(kn, 4, H));
    LEVI_CL_CHECK(LEVI_ARG(kn, 5, W));
    LEVI_CL_CHECK(LEVI_ARG(kn, 6, k));
    LEVI_CL_CHECK(LEVI_ARG(kn, 7, st));
    LEVI_CL_CHECK(LEVI_ARG(kn, 8, OH));
    LEVI_CL_CHECK(LEVI_ARG(kn, 9, OW));
    LEVI_CL_CHECK(LEVI_ARG(kn, 10, n));
    return levi_launch_1d(ctx, kn, n);
}

// out (B,C,OH,OW) = max over k×k windows (stride st) of inp (B,C,H,W)
levi_status levi_maxpool_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *inp, int B, int C,
                                 int H, int W, int k, int st) {
    return pool_forward(ctx, "maxpool_forward", out, inp, B, C, H, W, k, st);
}

// out (B,C,OH,OW) = mean over k×k windows (stride st) of inp (B,C,H,W)
levi_status levi_avgpool_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *inp, int B, int C,
                                 int H, int W, int k, int st) {
    return pool_forward(ctx, "avgpool_forward", out, inp, B, C, H, W, k, st);
}

// dinp (B,C,H,W) += dout (B,C,OH,OW) routed to each window's first maximum of inp (B,C,H,W)
levi_status levi_maxpool_backward(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *dout,
                                  const levi_tensor *inp, int B, int C, int H, int W, int k, int st) {
    if (!dinp) return LEVI_OK;
    const char *op = "maxpool_backward";
    int OH, OW;
    LEVI_TRY(pool_shape(op, B, C, H, W, k, st, &OH, &OW));
    size_t nin = (size_t)B * C * H * W;
    LEVI_TRY(need(op, "dinp", dinp, nin));
    LEVI_TRY(need(op, "input", inp, nin));
    LEVI_TRY(need(op, "dout", dout, (size_t)B * C * OH * OW));
    cl_kernel kn;
    LEVI_TRY(levi_kernel_get(ctx, "pool", op, &kn));
    cl_ulong dio = dinp->offset, doo = dout->offset, io = inp->offset, n = nin;
    LEVI_CL_CHECK(LEVI_ARG(kn, 0, dinp->buf));
    LEVI_CL_CHECK(LEVI_ARG(kn, 1, dio));
    LEVI_CL_CHECK(LEVI_ARG(kn, 2, dout->buf));
    LEVI_CL_CHECK(LEVI_ARG(kn, 3, doo));
    LEVI_CL_CHECK(LEVI_ARG(kn, 4, inp->buf));
    LEVI_CL_CHECK(LEVI_ARG(kn, 5, io));
    LEVI_CL_CHECK(LEVI_ARG(kn, 6, H));
    LEVI_CL_CHECK(LEVI_ARG(kn, 7, W));
    LEVI_CL_CHECK(LEVI_ARG(kn, 8, k));
    LEVI_CL_CHECK(LEVI_ARG(kn, 9, st));
    LEVI_CL_CHECK(LEVI_ARG(kn, 10, OH));
    LEVI_CL_CHECK(LEVI_ARG(kn, 11, OW));
    LEVI_CL_CHECK(LEVI_ARG(kn, 12, n));
    return levi_launch_1d(ctx, kn, n);
}

// dinp (B,C,H,W) += dout (B,C,OH,OW) / k² spread over each window
levi_status levi_avgpool_backward(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *dout, int B, int C,
                                  int H, int W, int k, int st) {
    if (!dinp) return LEVI_OK;
    const char *op = "avgpool_backward";
    int OH, OW;
    LEVI_TRY(pool_shape(op, B, C, H, W, k, st, &OH, &OW));
    size_t nin = (size_t)B * C * H * W;
    LEVI_TRY(need(op, "dinp", dinp, nin));
    LEVI_TRY(need(op, "dout", dout, (size_t)B * C * OH * OW));
    cl_kernel kn;
    LEVI_TRY(levi_kernel_get(ctx, "pool", op, &kn));
    cl_ulong dio = dinp->offset, doo = dout->offset, n = nin;
    LEVI_CL_CHECK(LEVI_ARG(kn, 0, dinp->buf));
    LEVI_CL_CHECK(LEVI_ARG(kn, 1, dio));
    LEVI_CL_CHECK(LEVI_ARG(kn, 2, dout->buf));
    LEVI_CL_CHECK(LEVI_ARG(kn, 3, doo));
    LEVI_CL_CHECK(LEVI_ARG(kn, 4, H));
    LEVI_CL_CHECK(LEVI_ARG(kn, 5, W));
    LEVI_CL_CHECK(LEVI_ARG(kn, 6, k));
    LEVI_CL_CHECK(LEVI_ARG(kn, 7, st));
    LEVI_CL_CHECK(LEVI_ARG(kn, 8, OH));
    LEVI_CL_CHECK(LEVI_ARG(kn, 9, OW));
    LEVI_CL_CHECK(LEVI_ARG(kn, 10, n));
    return levi_launch_1d(ctx, kn, n);
}

// out (B,C) = mean over HW of inp (B,C,HW)
levi_status levi_global_avgpool_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *inp, int B,
                                        int C, int HW) {
    const char *op = "global_avgpool_forward";
    if (B <= 0 || C <= 0 || HW <= 0)
        return levi_error(LEVI_ERR_INVALID_ARG, "%s: B=%d C=%d HW=%d, expected all > 0", op, B, C, HW);
    LEVI_TRY(need(op, "input", inp, (size_t)B * C * HW));
    LEVI_TRY(need(op, "output", out, (size_t)B * C));
    cl_kernel kn;
    LEVI_TRY(levi_kernel_get(ctx, "pool", op, &kn));
    cl_ulong oo = out->offset, io = inp->offset;
    LEVI_CL_CHECK(LEVI_ARG(kn, 0, out->buf));
    LEVI_CL_CHECK(LEVI_ARG(kn, 1, oo));
    LEVI_CL_CHECK(LEVI_ARG(kn, 2, inp->buf));
    LEVI_CL_CHECK(LEVI_ARG(kn, 3, io));
    LEVI_CL_CHECK(LEVI_ARG(kn, 4, HW));
    size_t local = ctx->wg, global = (size_t)B * C * local;
    return levi_launch(ctx, kn, 1, &global, &local);
}

// dinp (B,C,HW) += dout (B,C) / HW
levi_status levi_global_avgpool_backward(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *dout, int B,
                                         int C, int HW) {
    const char *op = "global_avgpool_backward";
    if (!dinp) return LEVI_OK;
    if (B <= 0 || C <= 0 || HW <= 0)
        return levi_error(LEVI_ERR_INVALID_ARG, "%s: B=%d C=%d HW=%d, expected all > 0", op, B, C, HW);
    LEVI_TRY(need(op, "dinp", dinp, (size_t)B * C * HW));
    LEVI_TRY(need(op, "dout", dout, (size_t)B * C));
    cl_kernel kn;
    LEVI_TRY(levi_kernel_get(ctx, "pool", op, &kn));
    cl_ulong dio = dinp->offset, doo = dout->offset, n = (cl_ulong)B * C * HW;
    LEVI_CL_CHECK(LEVI_ARG(kn, 0, dinp->buf));
    LEVI_CL_CHECK(LEVI_ARG(kn, 1, dio));
    LEVI_CL_CHECK(LEVI_ARG(kn, 2, dout->buf));
    LEVI_CL_CHECK(LEVI_ARG(kn, 3, doo));
    LEVI_CL_CHECK(LEVI_ARG(kn, 4, HW));
    LEVI_CL_CHECK(LEVI_ARG(kn, 5, n));
    return levi_launch_1d(ctx, kn, n);
}
