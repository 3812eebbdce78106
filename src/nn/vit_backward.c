/* ViT backward: from gradients of CLS taps back through the blocks to the
 * embeddings, accumulating into the trainable gradients (all weights in full
 * fine-tuning, LoRA A/B only in LoRA mode). dh (BT,D) carries the gradient of
 * the residual stream downwards. */
#include "vit_internal.h"

/* dh (B,T,D) → d(cls), d(pos), then the patch embedding's weight and bias */
static levi_status embed_backward(levi_vit *v, const levi_tensor *dh, int B) {
    const enc_stack *s = &v->enc;
    const int D = s->D, NPB = B * v->NP;
    const levi_arena *A = &s->acts, *G = &s->grads;
    levi_tensor dcls = enc_view(G, v->cls, D, 0), dpos = enc_view(G, v->pos, s->T, D);
    levi_tensor dpemb = enc_view(A, v->dpemb, NPB, D), patches = enc_view(A, v->patches, NPB, v->CPP);
    LEVI_TRY(levi_embed_tokens_backward(s->ctx, &dcls, &dpos, &dpemb, dh, B, s->T, D));
    levi_tensor pw = enc_view(&s->params, v->patch_w, D, v->CPP);
    levi_tensor dpw = enc_view(G, v->patch_w, D, v->CPP), dpb = enc_view(G, v->patch_b, D, 0);
    return levi_linear_backward(s->ctx, NULL, &dpw, &dpb, &dpemb, &patches, &pw, NPB, v->CPP, D);
}

levi_status levi_vit_backward(levi_vit *v, const levi_tensor *const *dcls, const int *taps, int ntaps, int B) {
    enc_stack *s = &v->enc;
    const int D = s->D, L = s->L, T = s->T, BT = B * T;
    int top;
    LEVI_TRY(enc_check_backward(s, "dcls", dcls, taps, ntaps, B, &top));
    if (top < 0) return LEVI_OK;
    levi_ctx *ctx = s->ctx;
    const int full = s->train_mode == LEVI_VIT_FULL;
    const levi_arena *A = &s->acts, *G = &s->grads;
    levi_tensor dh = enc_view(A, s->dh, BT, D), dh3 = enc_view3(A, s->dh, B, T, D);
    LEVI_TRY(levi_tensor_zero(&dh));
    if (top == L) { /* through the final layernorm */
        levi_tensor dtmp = enc_view(A, s->dtmp, BT, D), dtmp3 = enc_view3(A, s->dtmp, B, T, D);
        LEVI_TRY(levi_tensor_zero(&dtmp));
        for (int i = 0; i < ntaps; i++)
            if (taps[i] == L) LEVI_TRY(levi_take_token_backward(ctx, &dtmp3, dcls[i], 0, B, T, D));
        levi_tensor hl = enc_view(A, s->hidden[L], BT, D), fw = enc_view(&s->params, v->lnf_w, D, 0);
        levi_tensor mf = enc_view(A, v->lnf_mean, BT, 0), rf = enc_view(A, v->lnf_rstd, BT, 0);
        levi_tensor dfw = enc_view(G, v->lnf_w, D, 0), dfb = enc_view(G, v->lnf_b, D, 0);
        LEVI_TRY(levi_layernorm_backward(ctx, &dh, full ? &dfw : NULL, full ? &dfb : NULL, &dtmp, &hl, &fw, &mf, &rf,
                                         BT, D));
        top = L - 1;
    }
    for (int l = top; l >= 0; l--) { /* tap l is the output of block l */
        for (int i = 0; i < ntaps; i++)
            if (taps[i] == l) LEVI_TRY(levi_take_token_backward(ctx, &dh3, dcls[i], 0, B, T, D));
        LEVI_TRY(enc_backward_block(s, l, B));
    }
    if (full) LEVI_TRY(embed_backward(v, &dh, B));
    return LEVI_OK;
}
