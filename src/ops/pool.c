/* Max, average and global average pooling (NCHW); launches of cl/pool.cl. */
#include "ops_internal.h"

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

/* The window geometry every pooling kernel takes after its tensors. */
static levi_status arg_window(cl_kernel kn, cl_uint *a, int H, int W, int k, int st, int OH, int OW) {
    const int v[6] = {H, W, k, st, OH, OW};
    for (int i = 0; i < 6; i++) LEVI_TRY(ops_arg_int(kn, a, v[i]));
    return LEVI_OK;
}

/* out (B,C,OH,OW) = pool(inp (B,C,H,W)); kernel maxpool_forward or avgpool_forward */
static levi_status pool_forward(levi_ctx *ctx, const char *name, const levi_tensor *out, const levi_tensor *inp,
                                int B, int C, int H, int W, int k, int st) {
    int OH, OW;
    LEVI_TRY(pool_shape(name, B, C, H, W, k, st, &OH, &OW));
    size_t n = (size_t)B * C * OH * OW;
    LEVI_TRY(ops_need(name, "input", inp, (size_t)B * C * H * W));
    LEVI_TRY(ops_need(name, "output", out, n));
    cl_kernel kn;
    LEVI_TRY(levi_kernel_get(ctx, "pool", name, &kn));
    cl_uint a = 0;
    LEVI_TRY(ops_arg_tensor(kn, &a, out));
    LEVI_TRY(ops_arg_tensor(kn, &a, inp));
    LEVI_TRY(arg_window(kn, &a, H, W, k, st, OH, OW));
    LEVI_TRY(ops_arg_ulong(kn, &a, n));
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

/* dinp (B,C,H,W) += pool backward of dout (B,C,OH,OW); inp is NULL for the
 * average pool (its kernel takes no input tensor) */
static levi_status pool_backward(levi_ctx *ctx, const char *name, const levi_tensor *dinp, const levi_tensor *dout,
                                 const levi_tensor *inp, int B, int C, int H, int W, int k, int st) {
    if (!dinp) return LEVI_OK;
    int OH, OW;
    LEVI_TRY(pool_shape(name, B, C, H, W, k, st, &OH, &OW));
    size_t nin = (size_t)B * C * H * W;
    LEVI_TRY(ops_need(name, "dinp", dinp, nin));
    LEVI_TRY(ops_need(name, "dout", dout, (size_t)B * C * OH * OW));
    cl_kernel kn;
    LEVI_TRY(levi_kernel_get(ctx, "pool", name, &kn));
    cl_uint a = 0;
    LEVI_TRY(ops_arg_tensor(kn, &a, dinp));
    LEVI_TRY(ops_arg_tensor(kn, &a, dout));
    if (inp) {
        LEVI_TRY(ops_need(name, "input", inp, nin));
        LEVI_TRY(ops_arg_tensor(kn, &a, inp));
    }
    LEVI_TRY(arg_window(kn, &a, H, W, k, st, OH, OW));
    LEVI_TRY(ops_arg_ulong(kn, &a, nin));
    return levi_launch_1d(ctx, kn, nin);
}

// dinp (B,C,H,W) += dout (B,C,OH,OW) routed to each window's first maximum of inp (B,C,H,W)
levi_status levi_maxpool_backward(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *dout,
                                  const levi_tensor *inp, int B, int C, int H, int W, int k, int st) {
    if (dinp && !inp) return levi_error(LEVI_ERR_INVALID_ARG, "maxpool_backward: tensor input is NULL");
    return pool_backward(ctx, "maxpool_backward", dinp, dout, inp, B, C, H, W, k, st);
}

// dinp (B,C,H,W) += dout (B,C,OH,OW) / k² spread over each window
levi_status levi_avgpool_backward(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *dout, int B, int C,
                                  int H, int W, int k, int st) {
    return pool_backward(ctx, "avgpool_backward", dinp, dout, NULL, B, C, H, W, k, st);
}

static levi_status check_bchw(const char *op, int B, int C, int HW) {
    if (B <= 0 || C <= 0 || HW <= 0)
        return levi_error(LEVI_ERR_INVALID_ARG, "%s: B=%d C=%d HW=%d, expected all > 0", op, B, C, HW);
    return LEVI_OK;
}

// out (B,C) = mean over HW of inp (B,C,HW); one work-group per (b,c) row
levi_status levi_global_avgpool_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *inp, int B,
                                        int C, int HW) {
    const char *op = "global_avgpool_forward";
    LEVI_TRY(check_bchw(op, B, C, HW));
    LEVI_TRY(ops_need(op, "input", inp, (size_t)B * C * HW));
    LEVI_TRY(ops_need(op, "output", out, (size_t)B * C));
    cl_kernel kn;
    LEVI_TRY(levi_kernel_get(ctx, "pool", op, &kn));
    cl_uint a = 0;
    LEVI_TRY(ops_arg_tensor(kn, &a, out));
    LEVI_TRY(ops_arg_tensor(kn, &a, inp));
    LEVI_TRY(ops_arg_int(kn, &a, HW));
    size_t local = ctx->wg, global = (size_t)B * C * local;
    return levi_launch(ctx, kn, 1, &global, &local);
}

// dinp (B,C,HW) += dout (B,C) / HW
levi_status levi_global_avgpool_backward(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *dout, int B,
                                         int C, int HW) {
    const char *op = "global_avgpool_backward";
    if (!dinp) return LEVI_OK;
    LEVI_TRY(check_bchw(op, B, C, HW));
    size_t n = (size_t)B * C * HW;
    LEVI_TRY(ops_need(op, "dinp", dinp, n));
    LEVI_TRY(ops_need(op, "dout", dout, (size_t)B * C));
    cl_kernel kn;
    LEVI_TRY(levi_kernel_get(ctx, "pool", op, &kn));
    cl_uint a = 0;
    LEVI_TRY(ops_arg_tensor(kn, &a, dinp));
    LEVI_TRY(ops_arg_tensor(kn, &a, dout));
    LEVI_TRY(ops_arg_int(kn, &a, HW));
    LEVI_TRY(ops_arg_ulong(kn, &a, n));
    return levi_launch_1d(ctx, kn, n);
}
