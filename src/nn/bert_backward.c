/* BERT backward: from gradients of pooled taps down through the post-LN
 * blocks (encoder_stack.c) to the embeddings, accumulating into the
 * trainable gradients (every weight in full fine-tuning, LoRA A/B only in
 * LoRA mode). dh (BT,D) carries the residual stream's gradient downwards. */
#include "bert_internal.h"

/* dh (B,T,D) += d(tap l) pooled back over the tokens */
static levi_status add_tap_grads(levi_bert *b, const levi_tensor *dh3, const levi_tensor *const *dtaps,
                                 const int *taps, int ntaps, int l, int B) {
    const enc_stack *s = &b->enc;
    levi_tensor m = enc_view(&s->acts, s->mask, B, s->T);
    for (int i = 0; i < ntaps; i++) {
        if (taps[i] != l) continue;
        if (b->cfg.pooling == LEVI_POOL_MEAN)
            LEVI_TRY(levi_masked_mean_tokens_backward(s->ctx, dh3, dtaps[i], &m, B, s->T, s->D));
        else
            LEVI_TRY(levi_take_token_backward(s->ctx, dh3, dtaps[i], 0, B, s->T, s->D));
    }
    return LEVI_OK;
}

levi_status levi_bert_backward(levi_bert *b, const levi_tensor *const *dtaps, const int *taps, int ntaps, int B) {
    enc_stack *s = &b->enc;
    const levi_bert_config *c = &b->cfg;
    const int D = c->hidden_size, BT = B * s->T;
    int top;
    LEVI_TRY(enc_check_backward(s, "dtaps", dtaps, taps, ntaps, B, &top));
    if (top < 0) return LEVI_OK;
    const levi_arena *A = &s->acts, *P = &s->params, *G = &s->grads;
    levi_tensor dh = enc_view(A, s->dh, BT, D), dh3 = enc_view3(A, s->dh, B, s->T, D);
    LEVI_TRY(levi_tensor_zero(&dh));
    for (int l = top; l >= 1; l--) { /* tap l is the output of block l-1 */
        LEVI_TRY(add_tap_grads(b, &dh3, dtaps, taps, ntaps, l, B));
        LEVI_TRY(enc_backward_block(s, l - 1, B));
    }
    if (s->train_mode != LEVI_BACKBONE_FULL) return LEVI_OK;
    LEVI_TRY(add_tap_grads(b, &dh3, dtaps, taps, ntaps, 0, B));
    /* hidden[0] = LayerNorm(word[ids] + pos + type[0]) */
    levi_tensor dtmp = enc_view(A, s->dtmp, BT, D), emb = enc_view(A, b->emb, BT, D);
    levi_tensor lw = enc_view(P, b->lne_w, D, 0), dlw = enc_view(G, b->lne_w, D, 0);
    levi_tensor dlb = enc_view(G, b->lne_b, D, 0);
    levi_tensor mu = enc_view(A, b->lne_mean, BT, 0), rs = enc_view(A, b->lne_rstd, BT, 0);
    LEVI_TRY(levi_tensor_zero(&dtmp));
    LEVI_TRY(levi_layernorm_backward(s->ctx, &dtmp, &dlw, &dlb, &dh, &emb, &lw, &mu, &rs, BT, D));
    levi_tensor dword = enc_view(G, b->word, c->vocab_size, D), dpos = enc_view(G, b->pos, s->T, D);
    levi_tensor dtype = enc_view(G, b->type, D, 0), ids = enc_view(A, b->ids, B, s->T);
    return levi_embedding_backward(s->ctx, &dword, &dpos, &dtype, &dtmp, &ids, B, s->T, D, c->vocab_size);
}
