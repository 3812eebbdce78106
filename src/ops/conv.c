/* 2-D convolution (NCHW, stride, zero padding) as batch-wide im2col + one
 * CLBlast SGEMM; launches of cl/conv.cl.
 *
 * With N = B*OH*OW and CKK = C*KH*KW the scratch holds
 *   col (CKK, N)  — im2col of the input (forward, and dw in backward), then
 *                   reused for dcol = wᵀ·dout in backward;
 *   tmp (OC, N)   — the GEMM result (forward) or dout permuted (backward).
 * Forward:  tmp = w·col; out = permute(tmp) + b.
 * Backward: tmp = permute(dout); db += Σ dout; dw += tmp·colᵀ;
 *           col = wᵀ·tmp; dinp += col2im(col). */
#include <limits.h>

#include "ops_internal.h"

levi_status levi_conv_shape_init(levi_conv_shape *s) {
    if (!s) return levi_error(LEVI_ERR_INVALID_ARG, "conv shape: NULL");
    if (s->B <= 0 || s->C <= 0 || s->H <= 0 || s->W <= 0 || s->OC <= 0 || s->KH <= 0 || s->KW <= 0)
        return levi_error(LEVI_ERR_INVALID_ARG,
                          "conv shape: B=%d C=%d H=%d W=%d OC=%d KH=%d KW=%d, expected all > 0", s->B, s->C,
                          s->H, s->W, s->OC, s->KH, s->KW);
    if (s->stride <= 0) return levi_error(LEVI_ERR_INVALID_ARG, "conv shape: stride=%d, expected > 0", s->stride);
    if (s->pad < 0) return levi_error(LEVI_ERR_INVALID_ARG, "conv shape: pad=%d, expected >= 0", s->pad);
    int eh = s->H + 2 * s->pad - s->KH, ew = s->W + 2 * s->pad - s->KW;
    if (eh < 0 || ew < 0)
        return levi_error(LEVI_ERR_SHAPE, "conv shape: kernel %dx%d larger than padded input %dx%d (pad %d)", s->KH,
                          s->KW, s->H + 2 * s->pad, s->W + 2 * s->pad, s->pad);
    s->OH = eh / s->stride + 1;
    s->OW = ew / s->stride + 1;
    /* GEMM sizes are ints: B*OH*OW columns, C*KH*KW rows */
    if ((size_t)s->B * s->OH * s->OW > INT_MAX || (size_t)s->C * s->KH * s->KW > INT_MAX)
        return levi_error(LEVI_ERR_UNSUPPORTED, "conv shape: B*OH*OW=%zu or C*KH*KW=%zu exceeds %d; split the batch",
                          (size_t)s->B * s->OH * s->OW, (size_t)s->C * s->KH * s->KW, INT_MAX);
    return LEVI_OK;
}

static size_t cols(const levi_conv_shape *s) { return (size_t)s->B * s->OH * s->OW; }
static size_t ckk(const levi_conv_shape *s) { return (size_t)s->C * s->KH * s->KW; }

size_t levi_conv2d_scratch_numel(const levi_conv_shape *s) { return cols(s) * (ckk(s) + (size_t)s->OC); }

/* Checks the shape was initialised and every tensor holds what it must. */
static levi_status check(const levi_conv_shape *s, const levi_tensor *inp, const levi_tensor *out,
                         const levi_tensor *w, const levi_tensor *b, const levi_tensor *scratch, const char *op,
                         int grads) {
    levi_conv_shape t = *s;
    LEVI_TRY(levi_conv_shape_init(&t));
    if (t.OH != s->OH || t.OW != s->OW)
        return levi_error(LEVI_ERR_SHAPE, "%s: shape has OH=%d OW=%d, expected %d %d (call levi_conv_shape_init)",
                          op, s->OH, s->OW, t.OH, t.OW);
    size_t n_in = (size_t)s->B * s->C * s->H * s->W, n_out = (size_t)s->B * s->OC * s->OH * s->OW;
    struct {
        const levi_tensor *t;
        size_t need;
        const char *what;
    } req[] = {{inp, n_in, grads ? "dinp" : "input"},
               {out, n_out, grads ? "dout" : "output"},
               {w, (size_t)s->OC * ckk(s), grads ? "dw" : "weights"},
               {b, (size_t)s->OC, grads ? "db" : "bias"},
               {scratch, levi_conv2d_scratch_numel(s), "scratch"}};
    for (size_t i = 0; i < sizeof req / sizeof req[0]; i++)
        if (req[i].t && req[i].t->numel < req[i].need)
            return levi_error(LEVI_ERR_SHAPE, "%s: %s tensor has %zu elements, expected at least %zu", op,
                              req[i].what, req[i].t->numel, req[i].need);
    return LEVI_OK;
}

/* col (CKK, N) or dinp (B,C,H,W): shared argument tail of im2col / col2im */
static levi_status run_geometry(ops_kernel *k, const levi_conv_shape *s, size_t n) {
    const int v[] = {s->B, s->C, s->H, s->W, s->KH, s->KW, s->stride, s->pad, s->OH, s->OW};
    for (int i = 0; i < 10; i++) ops_arg_int(k, v[i]);
    ops_arg_ulong(k, n);
    return ops_run_1d(k, n);
}

/* col (CKK, N) = im2col(inp (B,C,H,W)) */
static levi_status im2col(levi_ctx *ctx, const levi_tensor *col, const levi_tensor *inp, const levi_conv_shape *s) {
    ops_kernel k = ops_kernel_get(ctx, "conv", "conv2d_im2col");
    ops_arg_tensor(&k, col);
    ops_arg_tensor(&k, inp);
    return run_geometry(&k, s, ckk(s) * cols(s));
}

/* dinp (B,C,H,W) += col2im(dcol (CKK, N)) */
static levi_status col2im(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *dcol,
                          const levi_conv_shape *s) {
    ops_kernel k = ops_kernel_get(ctx, "conv", "conv2d_col2im");
    ops_arg_tensor(&k, dinp);
    ops_arg_tensor(&k, dcol);
    return run_geometry(&k, s, (size_t)s->B * s->C * s->H * s->W);
}

/* The two scratch regions as tensors: col (CKK, N) then tmp (OC, N). */
static void split_scratch(const levi_tensor *scratch, const levi_conv_shape *s, levi_tensor *col,
                          levi_tensor *tmp) {
    int shc[2] = {(int)ckk(s), (int)cols(s)}, sht[2] = {s->OC, (int)cols(s)};
    *col = levi_tensor_view(scratch->ctx, scratch->buf, scratch->offset, 2, shc);
    *tmp = levi_tensor_view(scratch->ctx, scratch->buf, scratch->offset + ckk(s) * cols(s), 2, sht);
}

// out (B,OC,OH,OW) = conv(inp (B,C,H,W), w (OC,C,KH,KW)) + b (OC)
levi_status levi_conv2d_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *inp,
                                const levi_tensor *w, const levi_tensor *b, const levi_tensor *scratch,
                                const levi_conv_shape *s) {
    if (!out || !inp || !w || !scratch)
        return levi_error(LEVI_ERR_INVALID_ARG, "conv2d_forward: out, inp, w and scratch are required");
    LEVI_TRY(check(s, inp, out, w, b, scratch, "conv2d_forward", 0));
    levi_tensor col, tmp;
    split_scratch(scratch, s, &col, &tmp);
    LEVI_TRY(im2col(ctx, &col, inp, s));
    int N = (int)cols(s), K = (int)ckk(s);
    LEVI_TRY(levi_gemm(ctx, 0, 0, s->OC, N, K, 1.0f, w, &col, 0.0f, &tmp));

    ops_kernel k = ops_kernel_get(ctx, "conv", "conv2d_unpermute");
    const size_t n = (size_t)N * s->OC;
    ops_arg_tensor(&k, out);
    ops_arg_tensor(&k, &tmp);
    ops_arg_tensor(&k, b ? b : &tmp); /* any valid buffer when has_bias = 0 */
    ops_arg_int(&k, b != NULL);
    ops_arg_int(&k, s->B);
    ops_arg_int(&k, s->OC);
    ops_arg_int(&k, s->OH * s->OW);
    ops_arg_ulong(&k, n);
    return ops_run_1d(&k, n);
}

// db (OC) += Σ_{b,oh,ow} dout (B,OC,OH,OW): row sums over OH*OW into (B,OC), then column sums over B
static levi_status bias_backward(levi_ctx *ctx, const levi_tensor *db, const levi_tensor *dout,
                                 const levi_conv_shape *s) {
    const int P = s->OH * s->OW, rows = s->B * s->OC;
    levi_tensor part;
    LEVI_TRY(ops_scratch(ctx, (size_t)rows, &part));
    LEVI_TRY(ops_sum_rows(ctx, &part, dout, rows, P, P, 1.0f, 0));
    return ops_sum_cols(ctx, db, 0, &part, 0, 1, s->B, s->OC, s->OC, 1.0f, 1);
}

// dinp (B,C,H,W), dw (OC,C,KH,KW), db (OC) += gradients of conv2d_forward given dout (B,OC,OH,OW)
levi_status levi_conv2d_backward(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *dw,
                                 const levi_tensor *db, const levi_tensor *dout, const levi_tensor *inp,
                                 const levi_tensor *w, const levi_tensor *scratch, const levi_conv_shape *s) {
    if (!dout) return levi_error(LEVI_ERR_INVALID_ARG, "conv2d_backward: dout is required");
    if (!dinp && !dw && !db) return LEVI_OK;
    if ((dinp || dw) && !scratch)
        return levi_error(LEVI_ERR_INVALID_ARG, "conv2d_backward: scratch is required for dinp or dw");
    if (dw && !inp) return levi_error(LEVI_ERR_INVALID_ARG, "conv2d_backward: dw needs inp");
    if (dinp && !w) return levi_error(LEVI_ERR_INVALID_ARG, "conv2d_backward: dinp needs w");
    LEVI_TRY(check(s, inp, NULL, w, NULL, scratch, "conv2d_backward", 0));
    LEVI_TRY(check(s, dinp, dout, dw, db, NULL, "conv2d_backward", 1));
    if (db) LEVI_TRY(bias_backward(ctx, db, dout, s));
    if (!dinp && !dw) return LEVI_OK;

    levi_tensor col, tmp;
    split_scratch(scratch, s, &col, &tmp);
    int N = (int)cols(s), K = (int)ckk(s), P = s->OH * s->OW;
    ops_kernel k = ops_kernel_get(ctx, "conv", "conv2d_permute");
    const size_t n = (size_t)N * s->OC;
    ops_arg_tensor(&k, &tmp);
    ops_arg_tensor(&k, dout);
    ops_arg_int(&k, s->B);
    ops_arg_int(&k, s->OC);
    ops_arg_int(&k, P);
    ops_arg_ulong(&k, n);
    LEVI_TRY(ops_run_1d(&k, n));

    if (dw) {
        LEVI_TRY(im2col(ctx, &col, inp, s));
        /* dw (OC, CKK) += tmp (OC, N) · col (CKK, N)ᵀ */
        LEVI_TRY(levi_gemm(ctx, 0, 1, s->OC, K, N, 1.0f, &tmp, &col, 1.0f, dw));
    }
    if (dinp) {
        /* col (CKK, N) = w (OC, CKK)ᵀ · tmp (OC, N) */
        LEVI_TRY(levi_gemm(ctx, 1, 0, K, N, s->OC, 1.0f, w, &tmp, 0.0f, &col));
        LEVI_TRY(col2im(ctx, dinp, &col, s));
    }
    return LEVI_OK;
}

// out (B,OC,OH,OW) = conv(inp (B,C,H,W), w (OC,C,KH,KW)) + b (OC), one kernel, no scratch
levi_status levi_conv2d_forward_direct(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *inp,
                                       const levi_tensor *w, const levi_tensor *b, const levi_conv_shape *s) {
    if (!out || !inp || !w) return levi_error(LEVI_ERR_INVALID_ARG, "conv2d_forward_direct: out, inp, w required");
    LEVI_TRY(check(s, inp, out, w, b, NULL, "conv2d_forward_direct", 0));
    ops_kernel k = ops_kernel_get(ctx, "conv", "conv2d_forward_direct");
    const size_t n = (size_t)s->B * s->OC * s->OH * s->OW;
    const int v[] = {s->B, s->C, s->H, s->W, s->OC, s->KH, s->KW, s->stride, s->pad, s->OH, s->OW};
    ops_arg_tensor(&k, out);
    ops_arg_tensor(&k, inp);
    ops_arg_tensor(&k, w);
    ops_arg_tensor(&k, b ? b : w);
    ops_arg_int(&k, b != NULL);
    for (int i = 0; i < 11; i++) ops_arg_int(&k, v[i]);
    ops_arg_ulong(&k, n);
    return ops_run_1d(&k, n);
}
