/* Token reductions over (B,T,C): mean over tokens and take-token (CLS),
 * launches of cl/elementwise.cl. */
#include "ops_internal.h"

static levi_status check_btc(const char *op, int B, int T, int C) {
    if (B <= 0 || T <= 0 || C <= 0)
        return levi_error(LEVI_ERR_INVALID_ARG, "%s: B=%d T=%d C=%d must be positive", op, B, T, C);
    return LEVI_OK;
}

/* out (B,C) = mean over T of inp (B,T,C): a column sum per image */
levi_status levi_mean_tokens_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *inp, int B, int T,
                                     int C) {
    LEVI_TRY(check_btc("mean_tokens_forward", B, T, C));
    LEVI_TRY(ops_need("mean_tokens_forward", "out", out, (size_t)B * C));
    LEVI_TRY(ops_need("mean_tokens_forward", "inp", inp, (size_t)B * T * C));
    return ops_sum_cols(ctx, out, (size_t)C, inp, (size_t)T * C, B, T, C, C, 1.0f / (float)T, 0);
}

/* dinp (B,T,C) += dout (B,C) / T */
levi_status levi_mean_tokens_backward(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *dout, int B,
                                      int T, int C) {
    if (!dinp) return LEVI_OK;
    LEVI_TRY(check_btc("mean_tokens_backward", B, T, C));
    LEVI_TRY(ops_need("mean_tokens_backward", "dinp", dinp, (size_t)B * T * C));
    LEVI_TRY(ops_need("mean_tokens_backward", "dout", dout, (size_t)B * C));
    ops_kernel k = ops_kernel_get(ctx, "elementwise", "mean_tokens_backward");
    ops_arg_tensor(&k, dinp);
    ops_arg_tensor(&k, dout);
    ops_arg_int(&k, T);
    ops_arg_int(&k, C);
    ops_arg_float(&k, 1.0f / (float)T);
    return ops_run_grid(&k, (size_t)C, (size_t)T, (size_t)B);
}

/* x (B,T,C), y (B,C): y = x[:, token, :] or, backward, x[:, token, :] += y */
static levi_status take_token(levi_ctx *ctx, const char *op, const levi_tensor *x, const levi_tensor *y, int token,
                              int B, int T, int C, int backward) {
    LEVI_TRY(check_btc(op, B, T, C));
    if (token < 0 || token >= T)
        return levi_error(LEVI_ERR_INVALID_ARG, "%s: token %d is not in [0, %d)", op, token, T);
    LEVI_TRY(ops_need(op, backward ? "dinp" : "inp", x, (size_t)B * T * C));
    LEVI_TRY(ops_need(op, backward ? "dout" : "out", y, (size_t)B * C));
    ops_kernel k = ops_kernel_get(ctx, "elementwise", "take_token_rows");
    ops_arg_tensor(&k, x);
    ops_arg_tensor(&k, y);
    ops_arg_int(&k, token);
    ops_arg_int(&k, T);
    ops_arg_int(&k, C);
    ops_arg_int(&k, backward);
    return ops_run_grid(&k, (size_t)C, (size_t)B, 1);
}

levi_status levi_take_token_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *inp, int token,
                                    int B, int T, int C) {
    return take_token(ctx, "take_token_forward", inp, out, token, B, T, C, 0);
}

levi_status levi_take_token_backward(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *dout, int token,
                                     int B, int T, int C) {
    if (!dinp) return LEVI_OK;
    return take_token(ctx, "take_token_backward", dinp, dout, token, B, T, C, 1);
}

/* out (B,C) = Σ_t mask[b,t] inp[b,t] / Σ_t mask[b,t] (0 for an empty mask) */
levi_status levi_masked_mean_tokens_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *inp,
                                            const levi_tensor *mask, int B, int T, int C) {
    const char *op = "masked_mean_tokens_forward";
    LEVI_TRY(check_btc(op, B, T, C));
    LEVI_TRY(ops_need(op, "out", out, (size_t)B * C));
    LEVI_TRY(ops_need(op, "inp", inp, (size_t)B * T * C));
    LEVI_TRY(ops_need(op, "mask", mask, (size_t)B * T));
    ops_kernel k = ops_kernel_get(ctx, "elementwise", "masked_mean_tokens");
    ops_arg_tensor(&k, inp);
    ops_arg_tensor(&k, out);
    ops_arg_tensor(&k, mask);
    ops_arg_int(&k, T);
    ops_arg_int(&k, C);
    ops_arg_int(&k, 0);
    return ops_run_grid(&k, (size_t)C, (size_t)B, 1);
}

/* dinp (B,T,C) += mask[b,t] dout[b] / Σ_t mask[b,t] */
levi_status levi_masked_mean_tokens_backward(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *dout,
                                             const levi_tensor *mask, int B, int T, int C) {
    if (!dinp) return LEVI_OK;
    const char *op = "masked_mean_tokens_backward";
    LEVI_TRY(check_btc(op, B, T, C));
    LEVI_TRY(ops_need(op, "dinp", dinp, (size_t)B * T * C));
    LEVI_TRY(ops_need(op, "dout", dout, (size_t)B * C));
    LEVI_TRY(ops_need(op, "mask", mask, (size_t)B * T));
    ops_kernel k = ops_kernel_get(ctx, "elementwise", "masked_mean_tokens");
    ops_arg_tensor(&k, dinp);
    ops_arg_tensor(&k, dout);
    ops_arg_tensor(&k, mask);
    ops_arg_int(&k, T);
    ops_arg_int(&k, C);
    ops_arg_int(&k, 1);
    return ops_run_grid(&k, (size_t)C, (size_t)B, 1);
}
