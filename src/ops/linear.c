/* Linear layer, W stored (OC, C) as Hugging Face does: products through
 * CLBlast (levi_gemm), the bias through cl/elementwise.cl, its gradient a
 * column sum (reduce.c). */
#include "ops_internal.h"

/* out (N,OC) = inp (N,C) · w (OC,C)ᵀ + b (OC) */
levi_status levi_linear_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *inp,
                                const levi_tensor *w, const levi_tensor *b, int N, int C, int OC) {
    if (N <= 0 || C <= 0 || OC <= 0)
        return levi_error(LEVI_ERR_INVALID_ARG, "linear_forward: N=%d C=%d OC=%d must be positive", N, C, OC);
    LEVI_TRY(ops_need("linear_forward", "out", out, (size_t)N * OC));
    LEVI_TRY(ops_need("linear_forward", "inp", inp, (size_t)N * C));
    LEVI_TRY(ops_need("linear_forward", "w", w, (size_t)OC * C));
    LEVI_TRY(levi_gemm(ctx, 0, 1, N, OC, C, 1.0f, inp, w, 0.0f, out));
    if (b) LEVI_TRY(levi_add_bias(ctx, out, b, N, OC));
    return LEVI_OK;
}

/* pre (N,OC) (or out) = inp · wᵀ, then one epilogue: y = that + b (+ res);
 * pre = y; out = act(y) */
levi_status levi_linear_act_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *pre,
                                    const levi_tensor *inp, const levi_tensor *w, const levi_tensor *b,
                                    const levi_tensor *res, levi_activation act, int N, int C, int OC) {
    const char *op = "linear_act_forward";
    if (N <= 0 || C <= 0 || OC <= 0)
        return levi_error(LEVI_ERR_INVALID_ARG, "%s: N=%d C=%d OC=%d must be positive", op, N, C, OC);
    if (act != LEVI_ACTIVATION_NONE && act != LEVI_ACTIVATION_RELU && act != LEVI_ACTIVATION_GELU)
        return levi_error(LEVI_ERR_INVALID_ARG, "%s: activation %d is not none (0), relu (1) or gelu (2)", op,
                          (int)act);
    const size_t n = (size_t)N * OC;
    LEVI_TRY(ops_need(op, "out", out, n));
    if (pre) LEVI_TRY(ops_need(op, "pre", pre, n));
    if (b) LEVI_TRY(ops_need(op, "b", b, (size_t)OC));
    if (res) LEVI_TRY(ops_need(op, "res", res, n));
    LEVI_TRY(ops_need(op, "inp", inp, (size_t)N * C));
    LEVI_TRY(ops_need(op, "w", w, (size_t)OC * C));
    LEVI_TRY(levi_gemm(ctx, 0, 1, N, OC, C, 1.0f, inp, w, 0.0f, pre ? pre : out));
    if (!pre && !b && !res && act == LEVI_ACTIVATION_NONE) return LEVI_OK;
    ops_kernel k = ops_kernel_get(ctx, "elementwise",
                                  act == LEVI_ACTIVATION_RELU   ? "linear_epilogue_relu"
                                  : act == LEVI_ACTIVATION_GELU ? "linear_epilogue_gelu"
                                                                : "linear_epilogue");
    ops_arg_tensor(&k, out);
    ops_arg_tensor(&k, pre ? pre : out);
    ops_arg_int(&k, pre != NULL);
    ops_arg_tensor(&k, b ? b : out);
    ops_arg_int(&k, b != NULL);
    ops_arg_tensor(&k, res ? res : out);
    ops_arg_int(&k, res != NULL);
    ops_arg_int(&k, OC);
    return ops_run_grid(&k, (size_t)OC, (size_t)N, 1);
}

/* dinp (N,C) += dout (N,OC) · w (OC,C); dw (OC,C) += doutᵀ · inp (N,C); db (OC) += Σ_rows dout */
levi_status levi_linear_backward(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *dw,
                                 const levi_tensor *db, const levi_tensor *dout, const levi_tensor *inp,
                                 const levi_tensor *w, int N, int C, int OC) {
    return levi_linear_backward_acc(ctx, dinp, dw, db, dout, inp, w, N, C, OC, 1);
}

/* The same; dinp_accumulate = 0: dinp = dout · w (a GEMM with beta 0) */
levi_status levi_linear_backward_acc(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *dw,
                                     const levi_tensor *db, const levi_tensor *dout, const levi_tensor *inp,
                                     const levi_tensor *w, int N, int C, int OC, int dinp_accumulate) {
    return levi_linear_backward_cols(ctx, dinp, 0, C, dw, db, dout, inp, w, N, C, OC, dinp_accumulate);
}

/* dinp (N, cols) (+)= dout (N,OC) · w[:, col0 : col0 + cols], w (OC,C); dw, db as above */
levi_status levi_linear_backward_cols(levi_ctx *ctx, const levi_tensor *dinp, int col0, int cols,
                                      const levi_tensor *dw, const levi_tensor *db, const levi_tensor *dout,
                                      const levi_tensor *inp, const levi_tensor *w, int N, int C, int OC,
                                      int dinp_accumulate) {
    if (N <= 0 || C <= 0 || OC <= 0)
        return levi_error(LEVI_ERR_INVALID_ARG, "linear_backward: N=%d C=%d OC=%d must be positive", N, C, OC);
    if (col0 < 0 || cols < 1 || cols > C - col0)
        return levi_error(LEVI_ERR_INVALID_ARG, "linear_backward: input columns [%d, %d) are not within the %d of inp",
                          col0, col0 + cols, C);
    LEVI_TRY(ops_need("linear_backward", "dout", dout, (size_t)N * OC));
    /* dinp (N, cols) = dout · w[:, col0:] (w's rows C apart), dw (OC,C) += doutᵀ · inp: independent products */
    levi_tensor wc;
    levi_gemm_op gx = {0, 0, N, cols, OC, 1.0f, dinp_accumulate ? 1.0f : 0.0f, dout, &wc, dinp, 0, (size_t)C, 0};
    levi_gemm_op gw = {1, 0, OC, C, N, 1.0f, 1.0f, dout, inp, dw, 0, 0, 0};
    if (dinp) {
        LEVI_TRY(ops_need("linear_backward", "dinp", dinp, (size_t)N * cols));
        LEVI_TRY(ops_need("linear_backward", "w", w, (size_t)OC * C));
        wc = *w;
        wc.offset += (size_t)col0;
        wc.numel -= (size_t)col0;
    }
    if (dw) {
        LEVI_TRY(ops_need("linear_backward", "dw", dw, (size_t)OC * C));
        LEVI_TRY(ops_need("linear_backward", "inp", inp, (size_t)N * C));
    }
    if (dinp && dw) {
        LEVI_TRY(levi_gemm2(ctx, &gx, &gw));
    } else if (dinp) {
        LEVI_TRY(levi_gemm_ld(ctx, 0, 0, N, cols, OC, 1.0f, dout, 0, &wc, (size_t)C, gx.beta, dinp, 0));
    } else if (dw) {
        LEVI_TRY(levi_gemm(ctx, 1, 0, OC, C, N, 1.0f, dout, inp, 1.0f, dw));
    }
    if (db) {
        LEVI_TRY(ops_need("linear_backward", "db", db, (size_t)OC));
        LEVI_TRY(ops_sum_cols(ctx, db, 0, dout, 0, 1, N, OC, OC, 1.0f, 1));
    }
    return LEVI_OK;
}
