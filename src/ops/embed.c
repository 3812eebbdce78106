/* Token embeddings of a vision transformer: launches of cl/embed.cl; the
 * position and CLS gradients are column sums over the batch (reduce.c). */
#include "ops_internal.h"

// pixels (B,C,H,W) → patches (B*NP, C*P*P)
levi_status levi_patchify(levi_ctx *ctx, const levi_tensor *patches, const levi_tensor *pixels, int B, int C, int H,
                          int W, int P) {
    const char *op = "patchify";
    if (B <= 0 || C <= 0 || P <= 0 || H < P || W < P || H % P || W % P)
        return levi_error(LEVI_ERR_INVALID_ARG, "%s: B=%d C=%d H=%d W=%d P=%d: expected H, W multiples of P", op, B,
                          C, H, W, P);
    const size_t rows = (size_t)B * (H / P) * (W / P), cpp = (size_t)C * P * P;
    LEVI_TRY(ops_need(op, "patches", patches, rows * cpp));
    LEVI_TRY(ops_need(op, "pixels", pixels, (size_t)B * C * H * W));
    ops_kernel k = ops_kernel_get(ctx, "embed", "patchify");
    ops_arg_tensor(&k, patches);
    ops_arg_tensor(&k, pixels);
    ops_arg_int(&k, C);
    ops_arg_int(&k, H);
    ops_arg_int(&k, W);
    ops_arg_int(&k, P);
    return ops_run_grid(&k, cpp, rows, 1);
}

static levi_status check_btd(const char *op, int B, int T, int D) {
    if (B <= 0 || T < 1 || D <= 0)
        return levi_error(LEVI_ERR_INVALID_ARG, "%s: B=%d T=%d D=%d must be positive", op, B, T, D);
    return LEVI_OK;
}

// h (B,T,D) = [cls (D); tokens (B,T-1,D)] + pos (T,D)
levi_status levi_embed_tokens_forward(levi_ctx *ctx, const levi_tensor *h, const levi_tensor *cls,
                                      const levi_tensor *pos, const levi_tensor *tokens, int B, int T, int D) {
    const char *op = "embed_tokens_forward";
    LEVI_TRY(check_btd(op, B, T, D));
    LEVI_TRY(ops_need(op, "h", h, (size_t)B * T * D));
    LEVI_TRY(ops_need(op, "cls", cls, (size_t)D));
    LEVI_TRY(ops_need(op, "pos", pos, (size_t)T * D));
    if (T > 1) LEVI_TRY(ops_need(op, "tokens", tokens, (size_t)B * (T - 1) * D));
    ops_kernel k = ops_kernel_get(ctx, "embed", "embed_tokens_forward");
    ops_arg_tensor(&k, h);
    ops_arg_tensor(&k, cls);
    ops_arg_tensor(&k, pos);
    ops_arg_tensor(&k, T > 1 ? tokens : cls);
    ops_arg_int(&k, T);
    ops_arg_int(&k, D);
    return ops_run_grid(&k, (size_t)D, (size_t)T, (size_t)B);
}

// dcls (D) += Σ_b dh[b,0]; dpos (T,D) += Σ_b dh[b]; dtokens (B,T-1,D) = dh[:,1:]; each may be NULL
levi_status levi_embed_tokens_backward(levi_ctx *ctx, const levi_tensor *dcls, const levi_tensor *dpos,
                                       const levi_tensor *dtokens, const levi_tensor *dh, int B, int T, int D) {
    const char *op = "embed_tokens_backward";
    LEVI_TRY(check_btd(op, B, T, D));
    LEVI_TRY(ops_need(op, "dh", dh, (size_t)B * T * D));
    const size_t td = (size_t)T * D;
    if (dpos) {
        LEVI_TRY(ops_need(op, "dpos", dpos, td));
        LEVI_TRY(ops_sum_cols(ctx, dpos, 0, dh, 0, 1, B, (int)td, (int)td, 1.0f, 1));
    }
    if (dcls) {
        LEVI_TRY(ops_need(op, "dcls", dcls, (size_t)D));
        LEVI_TRY(ops_sum_cols(ctx, dcls, 0, dh, 0, 1, B, D, (int)td, 1.0f, 1));
    }
    if (!dtokens || T < 2) return LEVI_OK;
    LEVI_TRY(ops_need(op, "dtokens", dtokens, (size_t)B * (T - 1) * D));
    ops_kernel k = ops_kernel_get(ctx, "embed", "embed_tokens_backward_tokens");
    ops_arg_tensor(&k, dtokens);
    ops_arg_tensor(&k, dh);
    ops_arg_int(&k, T);
    ops_arg_int(&k, D);
    return ops_run_grid(&k, (size_t)D, (size_t)(T - 1), (size_t)B);
}
