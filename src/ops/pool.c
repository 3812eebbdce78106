/* Max, average and global average pooling (NCHW); launches of cl/pool.cl. */
#include <stdio.h>

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
static void arg_window(ops_kernel *kn, int H, int W, int k, int st, int OH, int OW) {
    const int v[6] = {H, W, k, st, OH, OW};
    for (int i = 0; i < 6; i++) ops_arg_int(kn, v[i]);
}

/* out (B,C,OH,OW) = pool(inp (B,C,H,W)); kernel maxpool_forward or avgpool_forward */
static levi_status pool_forward(levi_ctx *ctx, const char *name, const levi_tensor *out, const levi_tensor *inp,
                                int B, int C, int H, int W, int k, int st) {
    int OH = 0, OW = 0;
    LEVI_TRY(pool_shape(name, B, C, H, W, k, st, &OH, &OW));
    LEVI_TRY(ops_need(name, "input", inp, (size_t)B * C * H * W));
    LEVI_TRY(ops_need(name, "output", out, (size_t)B * C * OH * OW));
    ops_kernel kn = ops_kernel_get(ctx, "pool", name);
    ops_arg_tensor(&kn, out);
    ops_arg_tensor(&kn, inp);
    arg_window(&kn, H, W, k, st, OH, OW);
    return ops_run_grid(&kn, (size_t)OW, (size_t)OH, (size_t)B * C);
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
 * average pool. Windows that do not overlap (st >= k): an item per window
 * (kernel <name>_window); else an item per input element that gathers. */
static levi_status pool_backward(levi_ctx *ctx, const char *name, const levi_tensor *dinp, const levi_tensor *dout,
                                 const levi_tensor *inp, int B, int C, int H, int W, int k, int st) {
    if (!dinp) return LEVI_OK;
    int OH = 0, OW = 0;
    LEVI_TRY(pool_shape(name, B, C, H, W, k, st, &OH, &OW));
    size_t nin = (size_t)B * C * H * W;
    LEVI_TRY(ops_need(name, "dinp", dinp, nin));
    LEVI_TRY(ops_need(name, "dout", dout, (size_t)B * C * OH * OW));
    if (inp) LEVI_TRY(ops_need(name, "input", inp, nin));
    const int window = st >= k;
    char kname[64];
    snprintf(kname, sizeof kname, "%s%s", name, window ? "_window" : "");
    ops_kernel kn = ops_kernel_get(ctx, "pool", kname);
    ops_arg_tensor(&kn, dinp);
    ops_arg_tensor(&kn, dout);
    if (inp) ops_arg_tensor(&kn, inp);
    arg_window(&kn, H, W, k, st, OH, OW);
    if (window) return ops_run_grid(&kn, (size_t)OW, (size_t)OH, (size_t)B * C);
    return ops_run_grid(&kn, (size_t)W, (size_t)H, (size_t)B * C);
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

// out (B,C) = mean over HW of inp (B,C,HW): a row sum per (b,c)
levi_status levi_global_avgpool_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *inp, int B,
                                        int C, int HW) {
    const char *op = "global_avgpool_forward";
    LEVI_TRY(check_bchw(op, B, C, HW));
    LEVI_TRY(ops_need(op, "input", inp, (size_t)B * C * HW));
    LEVI_TRY(ops_need(op, "output", out, (size_t)B * C));
    return ops_sum_rows(ctx, out, inp, B * C, HW, HW, 1.0f / (float)HW, 0);
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
    ops_kernel kn = ops_kernel_get(ctx, "pool", op);
    ops_arg_tensor(&kn, dinp);
    ops_arg_tensor(&kn, dout);
    ops_arg_int(&kn, HW);
    ops_arg_float(&kn, 1.0f / (float)HW);
    return ops_run_grid(&kn, (size_t)HW, (size_t)B * C, 1);
}
