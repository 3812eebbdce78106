/* Multi-head scaled-dot-product attention with an optional key-padding
 * mask: launches of cl/attention.cl (tiled, online softmax, one kernel for
 * the forward and two for the backward, for every sequence length).
 *
 * Sizes come from the device: query/key rows per work-group = the smallest
 * power of two covering T, at most 64 and the kernel's limit; rows per
 * __local tile = as many as fit in half the device's local memory, at most
 * ATT_BK (32, cl/attention.cl). CPU devices take the row kernels (a
 * work-item per row, 16-wide vectors, no local tiles) for head sizes 16, 32
 * and 64. */
#include <math.h>
#include <stdio.h>

#include "ops_internal.h"

enum { ATT_BK = 32, ATT_HS_MAX = 128 }; /* = cl/attention.cl */

static levi_status check_dims(const char *op, int B, int T, int C, int NH) {
    if (B <= 0 || T <= 0 || C <= 0 || NH <= 0 || C % NH != 0)
        return levi_error(LEVI_ERR_INVALID_ARG, "%s: B=%d T=%d C=%d NH=%d: expected positive sizes with C %% NH == 0",
                          op, B, T, C, NH);
    if (C / NH > ATT_HS_MAX)
        return levi_error(LEVI_ERR_UNSUPPORTED, "%s: head size %d is above %d", op, C / NH, ATT_HS_MAX);
    return LEVI_OK;
}

/* The kernel `base` for head size hs: a compile-time variant when there is one. */
static ops_kernel att_kernel(levi_ctx *ctx, const char *base, int hs) {
    char name[64];
    if (hs == 16 || hs == 32 || hs == 64)
        snprintf(name, sizeof name, "%s_hs%d", base, hs);
    else
        snprintf(name, sizeof name, "%s", base);
    return ops_kernel_get(ctx, "attention", name);
}

/* The row kernel `base`_rows_hs<hs> on CPU devices where one exists
 * (k->k NULL otherwise). */
static ops_kernel att_rows_kernel(levi_ctx *ctx, const char *base, int hs) {
    ops_kernel k = {ctx, NULL, 0, LEVI_OK};
    if (!ops_is_cpu(ctx) || (hs != 16 && hs != 32 && hs != 64)) return k;
    char name[64];
    snprintf(name, sizeof name, "%s_rows_hs%d", base, hs);
    return ops_kernel_get(ctx, "attention", name);
}

static void arg_rows_tail(ops_kernel *k, const levi_tensor *mask, const levi_tensor *any, int B, int T, int C,
                          int NH) {
    ops_arg_tensor(k, mask ? mask : any);
    ops_arg_int(k, mask != NULL);
    ops_arg_int(k, T);
    ops_arg_int(k, C);
    ops_arg_int(k, NH);
    ops_arg_int(k, B * NH);
    ops_arg_float(k, (float)(1.0 / sqrt((double)(C / NH))));
}

/* Rows per work-group (covering T, at most 64) and rows per tile. */
static void att_shape(levi_ctx *ctx, ops_kernel *k, int T, int hs, size_t *wg, int *bk) {
    *wg = ops_row_wg(k, T < 64 ? T : 64);
    size_t budget = ctx->info.local_mem ? (size_t)ctx->info.local_mem / 2 : 16384;
    size_t fit = budget / ((size_t)8 * hs + 8); /* two (bk, hs) tiles and two bk vectors, floats */
    *bk = fit < 1 ? 1 : fit > ATT_BK ? ATT_BK : (int)fit;
}

static void arg_mask_tail(ops_kernel *k, const levi_tensor *mask, const levi_tensor *any, int T, int C, int NH,
                          int bk) {
    ops_arg_tensor(k, mask ? mask : any);
    ops_arg_int(k, mask != NULL);
    ops_arg_int(k, T);
    ops_arg_int(k, C);
    ops_arg_int(k, NH);
    ops_arg_int(k, C / NH);
    ops_arg_int(k, bk);
    ops_arg_float(k, (float)(1.0 / sqrt((double)(C / NH))));
}

static levi_status run_rows(ops_kernel *k, size_t wg, int T, int B, int NH) {
    size_t local[2] = {wg, 1}, global[2] = {((size_t)T + wg - 1) / wg * wg, (size_t)B * NH};
    return ops_run(k, 2, global, local);
}

// out (B,T,C), lse (B,NH,T) from q, k, v (B,T,C); mask (B,T) or NULL
levi_status levi_attention_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *lse,
                                   const levi_tensor *q, const levi_tensor *k, const levi_tensor *v,
                                   const levi_tensor *mask, int B, int T, int C, int NH) {
    const char *op = "attention_forward";
    LEVI_TRY(check_dims(op, B, T, C, NH));
    const size_t btc = (size_t)B * T * C;
    LEVI_TRY(ops_need(op, "out", out, btc));
    LEVI_TRY(ops_need(op, "lse", lse, (size_t)B * NH * T));
    LEVI_TRY(ops_need(op, "q", q, btc));
    LEVI_TRY(ops_need(op, "k", k, btc));
    LEVI_TRY(ops_need(op, "v", v, btc));
    if (mask) LEVI_TRY(ops_need(op, "mask", mask, (size_t)B * T));
    const int hs = C / NH;
    ops_kernel kr = att_rows_kernel(ctx, "attention_forward", hs);
    if (kr.k || kr.st != LEVI_OK) {
        ops_arg_tensor(&kr, out);
        ops_arg_tensor(&kr, lse);
        ops_arg_tensor(&kr, q);
        ops_arg_tensor(&kr, k);
        ops_arg_tensor(&kr, v);
        arg_rows_tail(&kr, mask, q, B, T, C, NH);
        return ops_run_items(&kr, (size_t)B * NH * T);
    }
    ops_kernel kn = att_kernel(ctx, "attention_forward", hs);
    size_t wg;
    int bk;
    att_shape(ctx, &kn, T, hs, &wg, &bk);
    ops_arg_tensor(&kn, out);
    ops_arg_tensor(&kn, lse);
    ops_arg_tensor(&kn, q);
    ops_arg_tensor(&kn, k);
    ops_arg_tensor(&kn, v);
    arg_mask_tail(&kn, mask, q, T, C, NH, bk);
    ops_arg_local(&kn, (size_t)bk * hs * sizeof(float));
    ops_arg_local(&kn, (size_t)bk * hs * sizeof(float));
    return run_rows(&kn, wg, T, B, NH);
}

// dq, dk, dv (B,T,C) += gradients given dout (B,T,C); out, lse from the forward
levi_status levi_attention_backward(levi_ctx *ctx, const levi_tensor *dq, const levi_tensor *dk,
                                    const levi_tensor *dv, const levi_tensor *dout, const levi_tensor *q,
                                    const levi_tensor *k, const levi_tensor *v, const levi_tensor *out,
                                    const levi_tensor *lse, const levi_tensor *mask, int B, int T, int C, int NH) {
    const char *op = "attention_backward";
    LEVI_TRY(check_dims(op, B, T, C, NH));
    if (!dq && !dk && !dv) return LEVI_OK;
    const size_t btc = (size_t)B * T * C, bht = (size_t)B * NH * T;
    const levi_tensor *need[] = {dout, q, k, v, out};
    const char *names[] = {"dout", "q", "k", "v", "out"};
    for (int i = 0; i < 5; i++) LEVI_TRY(ops_need(op, names[i], need[i], btc));
    LEVI_TRY(ops_need(op, "lse", lse, bht));
    if (mask) LEVI_TRY(ops_need(op, "mask", mask, (size_t)B * T));
    if (dq) LEVI_TRY(ops_need(op, "dq", dq, btc));
    if (dk) LEVI_TRY(ops_need(op, "dk", dk, btc));
    if (dv) LEVI_TRY(ops_need(op, "dv", dv, btc));
    const int hs = C / NH;
    levi_tensor dsum;
    LEVI_TRY(ops_scratch(ctx, bht, &dsum));

    ops_kernel rq = att_rows_kernel(ctx, "attention_backward_dq", hs);
    if (rq.k || rq.st != LEVI_OK) {
        const size_t rows = (size_t)B * NH * T;
        ops_arg_tensor(&rq, dq ? dq : q);
        ops_arg_int(&rq, dq != NULL);
        ops_arg_tensor(&rq, &dsum);
        ops_arg_tensor(&rq, dout);
        ops_arg_tensor(&rq, out);
        ops_arg_tensor(&rq, q);
        ops_arg_tensor(&rq, k);
        ops_arg_tensor(&rq, v);
        ops_arg_tensor(&rq, lse);
        arg_rows_tail(&rq, mask, q, B, T, C, NH);
        LEVI_TRY(ops_run_items(&rq, rows));
        if (!dk && !dv) return LEVI_OK;
        ops_kernel rk = att_rows_kernel(ctx, "attention_backward_dkv", hs);
        ops_arg_tensor(&rk, dk ? dk : q);
        ops_arg_int(&rk, dk != NULL);
        ops_arg_tensor(&rk, dv ? dv : q);
        ops_arg_int(&rk, dv != NULL);
        ops_arg_tensor(&rk, dout);
        ops_arg_tensor(&rk, q);
        ops_arg_tensor(&rk, k);
        ops_arg_tensor(&rk, v);
        ops_arg_tensor(&rk, lse);
        ops_arg_tensor(&rk, &dsum);
        arg_rows_tail(&rk, mask, q, B, T, C, NH);
        return ops_run_items(&rk, rows);
    }

    /* rows: D = Σ dout·out, and dq */
    ops_kernel kq = att_kernel(ctx, "attention_backward_dq", hs);
    size_t wg;
    int bk;
    att_shape(ctx, &kq, T, hs, &wg, &bk);
    ops_arg_tensor(&kq, dq ? dq : q);
    ops_arg_int(&kq, dq != NULL);
    ops_arg_tensor(&kq, &dsum);
    ops_arg_tensor(&kq, dout);
    ops_arg_tensor(&kq, out);
    ops_arg_tensor(&kq, q);
    ops_arg_tensor(&kq, k);
    ops_arg_tensor(&kq, v);
    ops_arg_tensor(&kq, lse);
    arg_mask_tail(&kq, mask, q, T, C, NH, bk);
    ops_arg_local(&kq, (size_t)bk * hs * sizeof(float));
    ops_arg_local(&kq, (size_t)bk * hs * sizeof(float));
    LEVI_TRY(run_rows(&kq, wg, T, B, NH));
    if (!dk && !dv) return LEVI_OK;

    /* key rows: dk, dv */
    ops_kernel kk = att_kernel(ctx, "attention_backward_dkv", hs);
    att_shape(ctx, &kk, T, hs, &wg, &bk);
    ops_arg_tensor(&kk, dk ? dk : q);
    ops_arg_int(&kk, dk != NULL);
    ops_arg_tensor(&kk, dv ? dv : q);
    ops_arg_int(&kk, dv != NULL);
    ops_arg_tensor(&kk, dout);
    ops_arg_tensor(&kk, q);
    ops_arg_tensor(&kk, k);
    ops_arg_tensor(&kk, v);
    ops_arg_tensor(&kk, lse);
    ops_arg_tensor(&kk, &dsum);
    arg_mask_tail(&kk, mask, q, T, C, NH, bk);
    ops_arg_local(&kk, (size_t)bk * hs * sizeof(float));
    ops_arg_local(&kk, (size_t)bk * hs * sizeof(float));
    ops_arg_local(&kk, (size_t)bk * sizeof(float));
    ops_arg_local(&kk, (size_t)bk * sizeof(float));
    return run_rows(&kk, wg, T, B, NH);
}
