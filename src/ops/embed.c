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
    return ops_run_grid(&k, (size_t)C * P, rows / B, (size_t)B);
}

static levi_status check_btd(const char *op, int B, int T, int D) {
    if (B <= 0 || T < 1 || D <= 0)
        return levi_error(LEVI_ERR_INVALID_ARG, "%s: B=%d T=%d D=%d must be positive", op, B, T, D);
    return LEVI_OK;
}

// dpos (T,D) += Σ_b dh[b] (dpos NULL: nothing)
static levi_status pos_backward(levi_ctx *ctx, const char *op, const levi_tensor *dpos, const levi_tensor *dh, int B,
                                int T, int D) {
    if (!dpos) return LEVI_OK;
    const int td = T * D;
    LEVI_TRY(ops_need(op, "dpos", dpos, (size_t)td));
    return ops_sum_cols(ctx, dpos, 0, dh, 0, 1, B, td, td, 1.0f, 1);
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
    LEVI_TRY(pos_backward(ctx, op, dpos, dh, B, T, D));
    if (dcls) {
        LEVI_TRY(ops_need(op, "dcls", dcls, (size_t)D));
        LEVI_TRY(ops_sum_cols(ctx, dcls, 0, dh, 0, 1, B, D, T * D, 1.0f, 1));
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

/* --- token-id embeddings (BERT's word embeddings, a text task model's bag) ---- */

// out (B,T,D) = table[ids[b,t]] (V,D) + pos[t] (T,D; NULL: none) + add (D; NULL: none)
levi_status levi_embedding_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *ids,
                                   const levi_tensor *table, const levi_tensor *pos, const levi_tensor *add, int B,
                                   int T, int D, int V) {
    const char *op = "embedding_forward";
    LEVI_TRY(check_btd(op, B, T, D));
    if (V <= 0) return levi_error(LEVI_ERR_INVALID_ARG, "%s: V=%d must be positive", op, V);
    LEVI_TRY(ops_need(op, "out", out, (size_t)B * T * D));
    LEVI_TRY(ops_need(op, "ids", ids, (size_t)B * T));
    LEVI_TRY(ops_need(op, "table", table, (size_t)V * D));
    if (pos) LEVI_TRY(ops_need(op, "pos", pos, (size_t)T * D));
    if (add) LEVI_TRY(ops_need(op, "add", add, (size_t)D));
    ops_kernel k = ops_kernel_get(ctx, "embed", "embedding_forward");
    ops_arg_tensor(&k, out);
    ops_arg_tensor(&k, ids);
    ops_arg_tensor(&k, table);
    ops_arg_tensor(&k, pos ? pos : table);
    ops_arg_int(&k, pos != NULL);
    ops_arg_tensor(&k, add ? add : table);
    ops_arg_int(&k, add != NULL);
    ops_arg_int(&k, T);
    ops_arg_int(&k, D);
    ops_arg_int(&k, V);
    return ops_run_grid(&k, (size_t)D, (size_t)T, (size_t)B);
}

// dtable (V,D) += Σ rows of dout with that id; dpos (T,D) += Σ_b dout[b]; dadd (D) += Σ_bt dout; each may be NULL
levi_status levi_embedding_backward(levi_ctx *ctx, const levi_tensor *dtable, const levi_tensor *dpos,
                                    const levi_tensor *dadd, const levi_tensor *dout, const levi_tensor *ids, int B,
                                    int T, int D, int V) {
    const char *op = "embedding_backward";
    LEVI_TRY(check_btd(op, B, T, D));
    LEVI_TRY(ops_need(op, "dout", dout, (size_t)B * T * D));
    LEVI_TRY(pos_backward(ctx, op, dpos, dout, B, T, D));
    if (dadd) {
        LEVI_TRY(ops_need(op, "dadd", dadd, (size_t)D));
        LEVI_TRY(ops_sum_cols(ctx, dadd, 0, dout, 0, 1, B * T, D, D, 1.0f, 1));
    }
    if (!dtable) return LEVI_OK;
    if (V <= 0) return levi_error(LEVI_ERR_INVALID_ARG, "%s: V=%d must be positive", op, V);
    LEVI_TRY(ops_need(op, "dtable", dtable, (size_t)V * D));
    LEVI_TRY(ops_need(op, "ids", ids, (size_t)B * T));
    /* one work item per column walks the rows in order: no two items touch
     * one element, so no atomics, and the sum order is fixed */
    ops_kernel k = ops_kernel_get(ctx, "embed", "embedding_backward_table");
    ops_arg_tensor(&k, dtable);
    ops_arg_tensor(&k, dout);
    ops_arg_tensor(&k, ids);
    ops_arg_int(&k, B * T);
    ops_arg_int(&k, D);
    ops_arg_int(&k, V);
    return ops_run_grid(&k, (size_t)D, 1, 1);
}

/* --- hashed n-grams (a text task model's bag) --------------------------------- */

static unsigned ngram_mix(unsigned h) {
    h ^= h >> 16;
    h *= 0x7feb352dU;
    h ^= h >> 15;
    h *= 0x846ca68bU;
    h ^= h >> 16;
    return h;
}

int levi_ngram_hash_host(int a, int b, int N) {
    unsigned ua = a > 0 ? (unsigned)a : 0u, h;
    if (b < 0) h = ngram_mix(ua * 2u + 1u);
    else h = ngram_mix(ngram_mix(ua * 2u) ^ ((unsigned)b * 0x9e3779b9U));
    return (int)(h % (unsigned)N);
}

// hid, hmask (B,2T) = hashed unigrams and bigrams of ids, mask (B,T)
levi_status levi_ngram_hash(levi_ctx *ctx, const levi_tensor *hid, const levi_tensor *hmask, const levi_tensor *ids,
                            const levi_tensor *mask, int B, int T, int N) {
    const char *op = "ngram_hash";
    if (B <= 0 || T < 1 || N < 1 || N > (1 << 24))
        return levi_error(LEVI_ERR_INVALID_ARG, "%s: B=%d T=%d N=%d: expected B, T >= 1 and N in 1..2^24", op, B, T, N);
    const size_t bt = (size_t)B * T;
    LEVI_TRY(ops_need(op, "hid", hid, 2 * bt));
    LEVI_TRY(ops_need(op, "hmask", hmask, 2 * bt));
    LEVI_TRY(ops_need(op, "ids", ids, bt));
    LEVI_TRY(ops_need(op, "mask", mask, bt));
    ops_kernel k = ops_kernel_get(ctx, "embed", "ngram_hash");
    ops_arg_tensor(&k, hid);
    ops_arg_tensor(&k, hmask);
    ops_arg_tensor(&k, ids);
    ops_arg_tensor(&k, mask);
    ops_arg_int(&k, T);
    ops_arg_int(&k, N);
    return ops_run_grid(&k, 2 * (size_t)T, (size_t)B, 1);
}
