/* Task model g, ngram variant: a text's own embeddings trained from scratch,
 * a bag of hashed unigrams and bigrams of its token ids, then one layer.
 *   ids, mask (B,T) → hid, hmask (B,2T) hashed n-gram ids (levi_ngram_hash)
 *   → rows (B,2T,E) = embed[hid] → bag (B,E) = masked mean of rows
 *   → a1 = fc1(bag) (B,h) → z = relu(a1)
 * The embedding table is one parameter (buckets, E): its gradient is the
 * rows' gradients scattered by id (levi_embedding_backward, deterministic). */
#include <math.h>
#include <string.h>

#include "task_internal.h"

enum { HID = 0, HMASK, ROWS, BAG, A1, Z, DA1, DBAG, DROWS };

/* Initial embeddings: U(-0.1, 0.1) (small against what training writes; a
 * bag averages tens of rows). */
#define NGRAM_INIT 0.1f

levi_status levi_ngram_plan(levi_task_model *g, levi_params *p, levi_arena *acts, int max_batch) {
    const levi_task_config *c = &g->cfg;
    int shape[2] = {c->buckets, c->embed}, T2 = 2 * c->seq_len, E = c->embed, h = c->hidden;
    g->emb = levi_params_add(p, "g.embed.weight", 2, shape, NGRAM_INIT);
    if (g->emb < 0 || levi_linear_plan(&g->fc1, p, "g.fc1", E, h))
        return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory planning the ngram task model");
    int cols[9] = {T2, T2, T2 * E, E, h, h, h, E, T2 * E};
    for (int k = HID; k <= DROWS; k++) g->act[k] = levi_act_plan(acts, max_batch, cols[k]);
    g->z_act = Z;
    return LEVI_OK;
}

static levi_tensor view(const levi_task_model *g, const levi_arena *acts, int k, int B) {
    return levi_act_view(acts, g->act[k], B);
}

// ids, mask (B,T) → z (B,h)
levi_status levi_ngram_forward(levi_task_model *g, const levi_params *p, const levi_arena *acts,
                               const levi_tensor *ids, const levi_tensor *mask, int B) {
    levi_ctx *ctx = p->ctx;
    const levi_task_config *c = &g->cfg;
    int T = c->seq_len, E = c->embed;
    levi_tensor hid = view(g, acts, HID, B), hm = view(g, acts, HMASK, B), rows = view(g, acts, ROWS, B);
    levi_tensor bag = view(g, acts, BAG, B), a1 = view(g, acts, A1, B), z = view(g, acts, Z, B);
    levi_tensor table = levi_params_value(p, g->emb);
    LEVI_TRY(levi_ngram_hash(ctx, &hid, &hm, ids, mask, B, T, c->buckets));
    LEVI_TRY(levi_embedding_forward(ctx, &rows, &hid, &table, NULL, NULL, B, 2 * T, E, c->buckets));
    LEVI_TRY(levi_masked_mean_tokens_forward(ctx, &bag, &rows, &hm, B, 2 * T, E));
    return levi_linear_apply_act(&g->fc1, p, &z, &a1, &bag, LEVI_ACTIVATION_RELU, B);
}

// dz (B,h) → grads of fc1 and the embedding table (the n-grams of the last forward)
levi_status levi_ngram_backward(levi_task_model *g, const levi_params *p, const levi_arena *acts,
                                const levi_tensor *dz, int B) {
    levi_ctx *ctx = p->ctx;
    const levi_task_config *c = &g->cfg;
    int T = c->seq_len, E = c->embed;
    levi_tensor hid = view(g, acts, HID, B), hm = view(g, acts, HMASK, B);
    levi_tensor bag = view(g, acts, BAG, B), a1 = view(g, acts, A1, B);
    levi_tensor da1 = view(g, acts, DA1, B), dbag = view(g, acts, DBAG, B), drows = view(g, acts, DROWS, B);
    levi_tensor dtable = levi_params_grad(p, g->emb);
    LEVI_TRY(levi_tensor_zero(&da1));
    LEVI_TRY(levi_tensor_zero(&dbag));
    LEVI_TRY(levi_tensor_zero(&drows));
    LEVI_TRY(levi_relu_backward(ctx, &da1, &a1, dz, (size_t)B * c->hidden));
    LEVI_TRY(levi_linear_apply_backward(&g->fc1, p, &dbag, &da1, &bag, B));
    LEVI_TRY(levi_masked_mean_tokens_backward(ctx, &drows, &dbag, &hm, B, 2 * T, E));
    return levi_embedding_backward(ctx, &dtable, NULL, NULL, &drows, &hid, B, 2 * T, E, c->buckets);
}
