/* ViT backward: from gradients of CLS taps back through the blocks to the
 * embeddings, accumulating into the trainable gradients (all weights in full
 * fine-tuning, LoRA A/B only in LoRA mode). dh (BT,D) carries the gradient of
 * the residual stream downwards. */
#include <stdlib.h>

#include "vit_internal.h"

/* dh (B,T,D) → d(cls), d(pos), then the patch embedding's weight and bias */
static levi_status embed_backward(levi_vit *v, const levi_tensor *dh, int B) {
    const int D = v->cfg.hidden_size, NPB = B * v->NP;
    levi_tensor dcls = vit_view1(&v->grads, v->cls, D), dpos = vit_view2(&v->grads, v->pos, v->T, D);
    levi_tensor dpemb = vit_view2(&v->acts, v->dpemb, NPB, D), patches = vit_view2(&v->acts, v->patches, NPB, v->CPP);
    LEVI_TRY(levi_embed_tokens_backward(v->ctx, &dcls, &dpos, &dpemb, dh, B, v->T, D));
    levi_tensor pw = vit_view2(&v->params, v->patch_w, D, v->CPP);
    levi_tensor dpw = vit_view2(&v->grads, v->patch_w, D, v->CPP), dpb = vit_view1(&v->grads, v->patch_b, D);
    return levi_linear_backward(v->ctx, NULL, &dpw, &dpb, &dpemb, &patches, &pw, NPB, v->CPP, D);
}

levi_status levi_vit_backward(levi_vit *v, const levi_tensor *const *dcls, const int *taps, int ntaps, int B) {
    const levi_vit_config *c = &v->cfg;
    const int D = c->hidden_size, L = c->num_hidden_layers, BT = B * v->T;
    if (v->train_mode == LEVI_VIT_FROZEN)
        return levi_error(LEVI_ERR_INVALID_ARG, "ViT backward: the backbone is frozen (train_mode 0)");
    if (B < 1 || B > v->max_batch)
        return levi_error(LEVI_ERR_INVALID_ARG, "ViT backward: batch %d outside [1, max_batch %d]", B, v->max_batch);
    int top = -1;
    for (int i = 0; i < ntaps; i++) {
        if (taps[i] < 0 || taps[i] > L)
            return levi_error(LEVI_ERR_INVALID_ARG, "ViT backward: tap %d outside [0, %d]", taps[i], L);
        if (dcls[i]->numel < (size_t)B * D)
            return levi_error(LEVI_ERR_SHAPE, "ViT backward: dcls[%d] holds %zu floats, (%d,%d) needed", i,
                              dcls[i]->numel, B, D);
        if (taps[i] > top) top = taps[i];
    }
    if (top < 0) return LEVI_OK;
    levi_ctx *ctx = v->ctx;
    const int full = v->train_mode == LEVI_VIT_FULL;
    levi_tensor dh = vit_view2(&v->acts, v->dh, BT, D), dh3 = vit_view3(&v->acts, v->dh, B, v->T, D);
    LEVI_TRY(levi_tensor_zero(&dh));
    if (top == L) { /* through the final layernorm */
        levi_tensor dtmp = vit_view2(&v->acts, v->dtmp, BT, D), dtmp3 = vit_view3(&v->acts, v->dtmp, B, v->T, D);
        LEVI_TRY(levi_tensor_zero(&dtmp));
        for (int i = 0; i < ntaps; i++)
            if (taps[i] == L) LEVI_TRY(levi_take_token_backward(ctx, &dtmp3, dcls[i], 0, B, v->T, D));
        levi_tensor hl = vit_view2(&v->acts, v->hidden[L], BT, D), fw = vit_view1(&v->params, v->lnf_w, D);
        levi_tensor mf = vit_view1(&v->acts, v->lnf_mean, BT), rf = vit_view1(&v->acts, v->lnf_rstd, BT);
        levi_tensor dfw = vit_view1(&v->grads, v->lnf_w, D), dfb = vit_view1(&v->grads, v->lnf_b, D);
        LEVI_TRY(levi_layernorm_backward(ctx, &dh, full ? &dfw : NULL, full ? &dfb : NULL, &dtmp, &hl, &fw, &mf, &rf,
                                         BT, D));
        top = L - 1;
    }
    for (int l = top; l >= 0; l--) {
        for (int i = 0; i < ntaps; i++)
            if (taps[i] == l) LEVI_TRY(levi_take_token_backward(ctx, &dh3, dcls[i], 0, B, v->T, D));
        enc_block_dims d;
        enc_block_weights w, gw;
        enc_block_acts a;
        enc_block_grads g;
        vit_block_views(v, l, B, &d, &w, &gw, &a, &g);
        LEVI_TRY(enc_block_backward(ctx, &d, &w, &gw, &a, &g, full || l > 0));
    }
    if (full) LEVI_TRY(embed_backward(v, &dh, B));
    return LEVI_OK;
}
