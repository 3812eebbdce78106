/* BERT backward: from gradients of pooled taps down through the post-LN
 * blocks (encoder_block.c) to the embeddings, accumulating into the
 * trainable gradients (every weight in full fine-tuning, LoRA A/B only in
 * LoRA mode). dh (BT,D) carries the residual stream's gradient downwards. */
#include "bert_internal.h"

/* dh (B,T,D) += d(tap l) pooled back over the tokens */
static levi_status add_tap_grads(levi_bert *b, const levi_tensor *dh3, const levi_tensor *const *dtaps,
                                 const int *taps, int ntaps, int l, int B) {
    const int D = b->cfg.hidden_size;
    levi_tensor m = bert_view(&b->acts, b->mask, B, b->T);
    for (int i = 0; i < ntaps; i++) {
        if (taps[i] != l) continue;
        if (b->cfg.pooling == LEVI_POOL_MEAN)
            LEVI_TRY(levi_masked_mean_tokens_backward(b->ctx, dh3, dtaps[i], &m, B, b->T, D));
        else
            LEVI_TRY(levi_take_token_backward(b->ctx, dh3, dtaps[i], 0, B, b->T, D));
    }
    return LEVI_OK;
}

levi_status levi_bert_backward(levi_bert *b, const levi_tensor *const *dtaps, const int *taps, int ntaps, int B) {
    const levi_bert_config *c = &b->cfg;
    const int D = c->hidden_size, L = c->num_hidden_layers, BT = B * b->T;
    if (b->train_mode == LEVI_BACKBONE_FROZEN)
        return levi_error(LEVI_ERR_INVALID_ARG, "BERT backward: the backbone is frozen");
    if (B < 1 || B > b->max_batch)
        return levi_error(LEVI_ERR_INVALID_ARG, "BERT backward: batch %d outside [1, max_batch %d]", B, b->max_batch);
    int top = -1;
    for (int i = 0; i < ntaps; i++) {
        if (taps[i] < 0 || taps[i] > L)
            return levi_error(LEVI_ERR_INVALID_ARG, "BERT backward: tap %d outside [0, %d]", taps[i], L);
        if (dtaps[i]->numel < (size_t)B * D)
            return levi_error(LEVI_ERR_SHAPE, "BERT backward: dtaps[%d] holds %zu floats, (%d,%d) needed", i,
                              dtaps[i]->numel, B, D);
        if (taps[i] > top) top = taps[i];
    }
    if (top < 0) return LEVI_OK;
    const int full = b->train_mode == LEVI_BACKBONE_FULL;
    int s3[3] = {B, b->T, D};
    levi_tensor dh = bert_view(&b->acts, b->dh, BT, D), dh3 = levi_arena_tensor(&b->acts, b->dh, 3, s3);
    LEVI_TRY(levi_tensor_zero(&dh));
    for (int l = top; l >= 1; l--) {
        LEVI_TRY(add_tap_grads(b, &dh3, dtaps, taps, ntaps, l, B));
        enc_block_dims d;
        enc_block_weights w, gw;
        enc_block_acts a;
        enc_block_grads g;
        bert_block_views(b, l - 1, B, &d, &w, &gw, &a, &g);
        LEVI_TRY(enc_block_backward(b->ctx, &d, &w, &gw, &a, &g, full || l - 1 > 0));
    }
    if (!full) return LEVI_OK;
    LEVI_TRY(add_tap_grads(b, &dh3, dtaps, taps, ntaps, 0, B));
    /* hidden[0] = LayerNorm(word[ids] + pos + type[0]) */
    levi_tensor dtmp = bert_view(&b->acts, b->dtmp, BT, D), emb = bert_view(&b->acts, b->emb, BT, D);
    levi_tensor lw = bert_view(&b->params, b->lne_w, D, 0), dlw = bert_view(&b->grads, b->lne_w, D, 0);
    levi_tensor dlb = bert_view(&b->grads, b->lne_b, D, 0);
    levi_tensor mu = bert_view(&b->acts, b->lne_mean, BT, 0), rs = bert_view(&b->acts, b->lne_rstd, BT, 0);
    LEVI_TRY(levi_tensor_zero(&dtmp));
    LEVI_TRY(levi_layernorm_backward(b->ctx, &dtmp, &dlw, &dlb, &dh, &emb, &lw, &mu, &rs, BT, D));
    levi_tensor dword = bert_view(&b->grads, b->word, c->vocab_size, D), dpos = bert_view(&b->grads, b->pos, b->T, D);
    levi_tensor dtype = bert_view(&b->grads, b->type, D, 0), ids = bert_view(&b->acts, b->ids, B, b->T);
    return levi_embedding_backward(b->ctx, &dword, &dpos, &dtype, &dtmp, &ids, B, b->T, D, c->vocab_size);
}
