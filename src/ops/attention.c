/* Multi-head scaled-dot-product attention (no mask), forward and backward.
 *
 * q, k, v are permuted to head-major (B,NH,T,hs) copies in scratch, the
 * per-head products are batched GEMMs over B*NH matrices, and the softmax
 * runs in fp32 in place on att (B,NH,T,T).
 *
 * Batched GEMM, measured on PoCL 3.1 (2-core EPYC share, B=64 T=17 NH=4
 * hs=16, 256 matrices, median of 400 interleaved runs, a bench program
 * linking liblevi): the score product q·kᵀ (17x17x16, B transposed) takes
 * 4.8 ms with the own kernel (cl/attention.cl attention_bgemm) against 7.3 ms
 * with CLBlast's strided batched GEMM (min 1.46 vs 1.99 ms); the products
 * with inner dimension K=T (att·v, attᵀ·dctx, dS·k) are faster in CLBlast
 * (3.8-4.8 ms against 5.4-5.6 ms). So products shaped like the score (ta=0,
 * tb=1) use the own kernel and the others CLBlast. Both paths are tested. */
#include <math.h>

#include "ops_internal.h"

/* Which implementation a product uses: 1 CLBlast strided batched, 0 own kernel. */
static int use_clblast_for(int ta, int tb) { return !(ta == 0 && tb == 1); }

levi_status levi_attention_bgemm_with(levi_ctx *ctx, int use_clblast, int ta, int tb, int M, int N, int K,
                                      float alpha, const levi_tensor *A, size_t stride_a, const levi_tensor *B,
                                      size_t stride_b, float beta, const levi_tensor *C, size_t stride_c, int batch) {
    if (use_clblast)
        return levi_gemm_batched(ctx, ta, tb, M, N, K, alpha, A, stride_a, B, stride_b, beta, C, stride_c, batch);
    ops_kernel k = ops_kernel_get(ctx, "attention", "attention_bgemm");
    ops_arg_int(&k, ta);
    ops_arg_int(&k, tb);
    ops_arg_int(&k, M);
    ops_arg_int(&k, N);
    ops_arg_int(&k, K);
    ops_arg_float(&k, alpha);
    ops_arg_tensor(&k, A);
    ops_arg_ulong(&k, stride_a);
    ops_arg_tensor(&k, B);
    ops_arg_ulong(&k, stride_b);
    ops_arg_float(&k, beta);
    ops_arg_tensor(&k, C);
    ops_arg_ulong(&k, stride_c);
    ops_arg_int(&k, batch);
    return ops_run_1d(&k, (size_t)M * (size_t)N * (size_t)batch);
}

static levi_status bgemm(levi_ctx *ctx, int ta, int tb, int M, int N, int K, float alpha, const levi_tensor *A,
                         size_t sa, const levi_tensor *B, size_t sb, const levi_tensor *C, size_t sc, int batch) {
    return levi_attention_bgemm_with(ctx, use_clblast_for(ta, tb), ta, tb, M, N, K, alpha, A, sa, B, sb, 0.0f, C,
                                     sc, batch);
}

/* dst (B,NH,T,hs) = src (B,T,C) */
static levi_status split_heads(levi_ctx *ctx, const levi_tensor *dst, const levi_tensor *src, int B, int T, int C,
                               int NH) {
    ops_kernel k = ops_kernel_get(ctx, "attention", "attention_split_heads");
    size_t n = (size_t)B * T * C;
    ops_arg_tensor(&k, dst);
    ops_arg_tensor(&k, src);
    ops_arg_int(&k, T);
    ops_arg_int(&k, NH);
    ops_arg_int(&k, C / NH);
    ops_arg_ulong(&k, n);
    return ops_run_1d(&k, n);
}

/* dst (B,T,C) (=|+=) src (B,NH,T,hs) */
static levi_status merge_heads(levi_ctx *ctx, const levi_tensor *dst, const levi_tensor *src, int B, int T, int C,
                               int NH, int accumulate) {
    ops_kernel k = ops_kernel_get(ctx, "attention", "attention_merge_heads");
    size_t n = (size_t)B * T * C;
    ops_arg_tensor(&k, dst);
    ops_arg_tensor(&k, src);
    ops_arg_int(&k, T);
    ops_arg_int(&k, NH);
    ops_arg_int(&k, C / NH);
    ops_arg_int(&k, accumulate);
    ops_arg_ulong(&k, n);
    return ops_run_1d(&k, n);
}

static levi_status check_dims(const char *op, int B, int T, int C, int NH) {
    if (B <= 0 || T <= 0 || C <= 0 || NH <= 0 || C % NH != 0)
        return levi_error(LEVI_ERR_INVALID_ARG, "%s: B=%d T=%d C=%d NH=%d: expected positive sizes with C %% NH == 0",
                          op, B, T, C, NH);
    return LEVI_OK;
}

/* Slot i of the scratch: a (B*T*C) view at i*B*T*C. */
static levi_tensor slot(const levi_tensor *scratch, int i, size_t btc) {
    levi_tensor t = *scratch;
    t.owns = 0;
    t.offset = scratch->offset + (size_t)i * btc;
    t.numel = btc;
    t.ndim = 1;
    t.shape[0] = (int)btc;
    return t;
}

size_t levi_attention_scratch_numel(int B, int T, int C, int NH) {
    (void)NH;
    return 4 * (size_t)B * T * C;
}

size_t levi_attention_backward_scratch_numel(int B, int T, int C, int NH) {
    return levi_attention_scratch_numel(B, T, C, NH) + (size_t)B * NH * T * T;
}

/* q, k, v, out (B,T,C); att (B,NH,T,T) */
levi_status levi_attention_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *att,
                                   const levi_tensor *q, const levi_tensor *k, const levi_tensor *v,
                                   const levi_tensor *scratch, int B, int T, int C, int NH) {
    const char *op = "attention_forward";
    LEVI_TRY(check_dims(op, B, T, C, NH));
    size_t btc = (size_t)B * T * C, tt = (size_t)T * T;
    int hs = C / NH, BH = B * NH;
    LEVI_TRY(ops_need(op, "out", out, btc));
    LEVI_TRY(ops_need(op, "att", att, (size_t)BH * tt));
    LEVI_TRY(ops_need(op, "q", q, btc));
    LEVI_TRY(ops_need(op, "k", k, btc));
    LEVI_TRY(ops_need(op, "v", v, btc));
    LEVI_TRY(ops_need(op, "scratch", scratch, levi_attention_scratch_numel(B, T, C, NH)));
    levi_tensor qh = slot(scratch, 0, btc), kh = slot(scratch, 1, btc), vh = slot(scratch, 2, btc),
                ch = slot(scratch, 3, btc);
    size_t th = (size_t)T * hs;
    LEVI_TRY(split_heads(ctx, &qh, q, B, T, C, NH));
    LEVI_TRY(split_heads(ctx, &kh, k, B, T, C, NH));
    LEVI_TRY(split_heads(ctx, &vh, v, B, T, C, NH));
    /* att (T,T) = qh (T,hs) · kh (T,hs)ᵀ / sqrt(hs), per head */
    LEVI_TRY(bgemm(ctx, 0, 1, T, T, hs, (float)(1.0 / sqrt((double)hs)), &qh, th, &kh, th, att, tt, BH));
    LEVI_TRY(levi_softmax_forward(ctx, att, att, BH * T, T));
    /* ch (T,hs) = att (T,T) · vh (T,hs) */
    LEVI_TRY(bgemm(ctx, 0, 0, T, hs, T, 1.0f, att, tt, &vh, th, &ch, th, BH));
    return merge_heads(ctx, out, &ch, B, T, C, NH, 0);
}

/* dq, dk, dv (B,T,C) accumulate; dout (B,T,C); att (B,NH,T,T) from the forward */
levi_status levi_attention_backward(levi_ctx *ctx, const levi_tensor *dq, const levi_tensor *dk,
                                    const levi_tensor *dv, const levi_tensor *dout, const levi_tensor *q,
                                    const levi_tensor *k, const levi_tensor *v, const levi_tensor *att,
                                    const levi_tensor *scratch, int B, int T, int C, int NH) {
    const char *op = "attention_backward";
    LEVI_TRY(check_dims(op, B, T, C, NH));
    if (!dq && !dk && !dv) return LEVI_OK;
    size_t btc = (size_t)B * T * C, tt = (size_t)T * T;
    int hs = C / NH, BH = B * NH;
    LEVI_TRY(ops_need(op, "dout", dout, btc));
    LEVI_TRY(ops_need(op, "q", q, btc));
    LEVI_TRY(ops_need(op, "k", k, btc));
    LEVI_TRY(ops_need(op, "v", v, btc));
    LEVI_TRY(ops_need(op, "att", att, (size_t)BH * tt));
    LEVI_TRY(ops_need(op, "scratch", scratch, levi_attention_backward_scratch_numel(B, T, C, NH)));
    if (dq) LEVI_TRY(ops_need(op, "dq", dq, btc));
    if (dk) LEVI_TRY(ops_need(op, "dk", dk, btc));
    if (dv) LEVI_TRY(ops_need(op, "dv", dv, btc));
    levi_tensor s0 = slot(scratch, 0, btc), s1 = slot(scratch, 1, btc), s2 = slot(scratch, 2, btc),
                s3 = slot(scratch, 3, btc);
    levi_tensor datt = *scratch;
    datt.owns = 0;
    datt.offset = scratch->offset + 4 * btc;
    datt.numel = (size_t)BH * tt;
    size_t th = (size_t)T * hs;
    float scale = (float)(1.0 / sqrt((double)hs));

    LEVI_TRY(split_heads(ctx, &s3, dout, B, T, C, NH)); /* dctx */
    LEVI_TRY(split_heads(ctx, &s2, v, B, T, C, NH));    /* vh */
    /* datt (T,T) = dctx (T,hs) · vh (T,hs)ᵀ */
    LEVI_TRY(bgemm(ctx, 0, 1, T, T, hs, 1.0f, &s3, th, &s2, th, &datt, tt, BH));
    if (dv) {
        /* dvh (T,hs) = att (T,T)ᵀ · dctx (T,hs) */
        LEVI_TRY(bgemm(ctx, 1, 0, T, hs, T, 1.0f, att, tt, &s3, th, &s0, th, BH));
        LEVI_TRY(merge_heads(ctx, dv, &s0, B, T, C, NH, 1));
    }
    if (!dq && !dk) return LEVI_OK;
    /* dscores = att ⊙ (datt − rowsum(datt ⊙ att)), in place */
    LEVI_TRY(ops_softmax_backward_mode(ctx, &datt, att, &datt, BH * T, T, 0));
    LEVI_TRY(split_heads(ctx, &s0, q, B, T, C, NH));
    LEVI_TRY(split_heads(ctx, &s1, k, B, T, C, NH));
    if (dq) {
        /* dqh (T,hs) = scale * dscores (T,T) · kh (T,hs) */
        LEVI_TRY(bgemm(ctx, 0, 0, T, hs, T, scale, &datt, tt, &s1, th, &s2, th, BH));
        LEVI_TRY(merge_heads(ctx, dq, &s2, B, T, C, NH, 1));
    }
    if (dk) {
        /* dkh (T,hs) = scale * dscores (T,T)ᵀ · qh (T,hs) */
        LEVI_TRY(bgemm(ctx, 1, 0, T, hs, T, scale, &datt, tt, &s0, th, &s3, th, BH));
        LEVI_TRY(merge_heads(ctx, dk, &s3, B, T, C, NH, 1));
    }
    return LEVI_OK;
}
