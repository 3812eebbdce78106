/* ViT backward: from gradients of CLS taps back through the blocks to the
 * embeddings, accumulating into the trainable gradients (all weights in full
 * fine-tuning, LoRA A/B only in LoRA mode). dh (BT,D) carries the gradient of
 * the residual stream downwards. */
#include <stdlib.h>

#include "vit_internal.h"

levi_status vit_embed_backward(levi_vit *v, const levi_tensor *dh, int B) {
    const int D = v->cfg.hidden_size, T = v->T;
    cl_kernel k;
    LEVI_TRY(levi_kernel_get(v->ctx, "vit", "vit_embed_backward_pos", &k));
    cl_mem g = v->grads.buf;
    cl_ulong co = v->cls, po = v->pos, ho = dh->offset, n = (cl_ulong)T * (cl_ulong)D;
    cl_int Bi = B, Ti = T, Di = D;
    LEVI_CL_CHECK(LEVI_ARG(k, 0, g));
    LEVI_CL_CHECK(LEVI_ARG(k, 1, co));
    LEVI_CL_CHECK(LEVI_ARG(k, 2, g));
    LEVI_CL_CHECK(LEVI_ARG(k, 3, po));
    LEVI_CL_CHECK(LEVI_ARG(k, 4, dh->buf));
    LEVI_CL_CHECK(LEVI_ARG(k, 5, ho));
    LEVI_CL_CHECK(LEVI_ARG(k, 6, Bi));
    LEVI_CL_CHECK(LEVI_ARG(k, 7, Ti));
    LEVI_CL_CHECK(LEVI_ARG(k, 8, Di));
    LEVI_CL_CHECK(LEVI_ARG(k, 9, n));
    LEVI_TRY(levi_launch_1d(v->ctx, k, (size_t)n));

    LEVI_TRY(levi_kernel_get(v->ctx, "vit", "vit_embed_backward_patches", &k));
    cl_mem a = v->acts.buf;
    cl_ulong eo = v->dpemb, m = (cl_ulong)B * (cl_ulong)(T - 1) * (cl_ulong)D;
    LEVI_CL_CHECK(LEVI_ARG(k, 0, a));
    LEVI_CL_CHECK(LEVI_ARG(k, 1, eo));
    LEVI_CL_CHECK(LEVI_ARG(k, 2, dh->buf));
    LEVI_CL_CHECK(LEVI_ARG(k, 3, ho));
    LEVI_CL_CHECK(LEVI_ARG(k, 4, Ti));
    LEVI_CL_CHECK(LEVI_ARG(k, 5, Di));
    LEVI_CL_CHECK(LEVI_ARG(k, 6, m));
    LEVI_TRY(levi_launch_1d(v->ctx, k, (size_t)m));

    const int NPB = B * v->NP;
    levi_tensor dpemb = vit_view2(&v->acts, v->dpemb, NPB, D), patches = vit_view2(&v->acts, v->patches, NPB, v->CPP);
    levi_tensor pw = vit_view2(&v->params, v->patch_w, D, v->CPP);
    levi_tensor dpw = vit_view2(&v->grads, v->patch_w, D, v->CPP), dpb = vit_view1(&v->grads, v->patch_b, D);
    return levi_linear_backward(v->ctx, NULL, &dpw, &dpb, &dpemb, &patches, &pw, NPB, v->CPP, D);
}

/* dh (BT,D) holds d(block l output) on entry and d(block l input) on exit
 * (when need_dinp; the lowest LoRA block skips it). */
static levi_status block_backward(levi_vit *v, int l, int B, int need_dinp) {
    levi_ctx *ctx = v->ctx;
    const levi_vit_config *c = &v->cfg;
    const int D = c->hidden_size, M = c->intermediate_size, BT = B * v->T, r = v->lora_rank;
    const int full = v->train_mode == LEVI_VIT_FULL;
    const vit_block_w *w = &v->blk[l];
    const vit_block_act *x = &v->act[l];
    const levi_arena *P = &v->params, *A = &v->acts, *G = &v->grads;
#define PW(off, n0, n1) vit_view2(P, (off), (n0), (n1))
#define PB(off, n0) vit_view1(P, (off), (n0))
#define AT(off, n1) vit_view2(A, (off), BT, (n1))
    /* gradient views of this block's weights; NULL when frozen */
    levi_tensor gw[16];
    const size_t offs[16] = {w->ln1_w, w->ln1_b, w->q_w,   w->q_b,   w->k_w,   w->k_b,   w->v_w,   w->v_b,
                             w->o_w,   w->o_b,   w->ln2_w, w->ln2_b, w->fc1_w, w->fc1_b, w->fc2_w, w->fc2_b};
    const int rows[16] = {D, D, D, D, D, D, D, D, D, D, D, D, M, M, D, D};
    const int cols[16] = {0, 0, D, 0, D, 0, D, 0, D, 0, 0, 0, D, 0, M, 0};
    for (int i = 0; i < 16; i++)
        gw[i] = cols[i] ? vit_view2(G, offs[i], rows[i], cols[i]) : vit_view1(G, offs[i], rows[i]);
#define GRAD(i) (full ? &gw[i] : NULL)
#define GBIAS(i) (full && c->qkv_bias ? &gw[i] : NULL)
    levi_tensor dh = AT(v->dh, D), dtmp = AT(v->dtmp, D);
    /* MLP: out = hmid + fc2(gelu(fc1(ln2(hmid)))) */
    levi_tensor dgel = AT(v->dgel, M), dfc1 = AT(v->dfc1, M), gel = AT(x->gel, M), fc1 = AT(x->fc1, M);
    levi_tensor f1w = PW(w->fc1_w, M, D), f2w = PW(w->fc2_w, D, M);
    LEVI_TRY(levi_tensor_zero(&dgel));
    LEVI_TRY(levi_linear_backward(ctx, &dgel, GRAD(14), GRAD(15), &dh, &gel, &f2w, BT, M, D));
    LEVI_TRY(levi_tensor_zero(&dfc1));
    LEVI_TRY(levi_gelu_backward(ctx, &dfc1, &fc1, &dgel, (size_t)BT * M));
    levi_tensor ln2 = AT(x->ln2, D), hmid = AT(x->hmid, D);
    LEVI_TRY(levi_tensor_zero(&dtmp));
    LEVI_TRY(levi_linear_backward(ctx, &dtmp, GRAD(12), GRAD(13), &dfc1, &ln2, &f1w, BT, D, M));
    levi_tensor ln2w = PB(w->ln2_w, D), m2 = vit_view1(A, x->ln2_mean, BT), r2 = vit_view1(A, x->ln2_rstd, BT);
    LEVI_TRY(levi_layernorm_backward(ctx, &dh, GRAD(10), GRAD(11), &dtmp, &hmid, &ln2w, &m2, &r2, BT, D));
    /* attention: hmid = hin + o(attn(q, k, v)) */
    levi_tensor dctx = AT(v->dctx, D), cx = AT(x->ctx, D), ow = PW(w->o_w, D, D);
    LEVI_TRY(levi_tensor_zero(&dctx));
    LEVI_TRY(levi_linear_backward(ctx, &dctx, GRAD(8), GRAD(9), &dh, &cx, &ow, BT, D, D));
    levi_tensor dq = AT(v->dq, D), dk = AT(v->dk, D), dv = AT(v->dv, D);
    levi_tensor q = AT(x->q, D), k = AT(x->k, D), vv = AT(x->v, D);
    levi_tensor att = vit_view1(A, x->att, B * c->num_attention_heads * v->T * v->T);
    levi_tensor scratch = vit_view1(A, v->att_scratch, (int)v->att_scratch_numel);
    LEVI_TRY(levi_tensor_zero(&dq));
    LEVI_TRY(levi_tensor_zero(&dk));
    LEVI_TRY(levi_tensor_zero(&dv));
    if (v->fused_attention)
        LEVI_TRY(vit_attention_backward(ctx, &dq, &dk, &dv, &dctx, &q, &k, &vv, &att, &scratch, B, v->T, D,
                                        c->num_attention_heads));
    else
        LEVI_TRY(levi_attention_backward(ctx, &dq, &dk, &dv, &dctx, &q, &k, &vv, &att, &scratch, B, v->T, D,
                                         c->num_attention_heads));
    levi_tensor ln1 = AT(x->ln1, D);
    levi_tensor *dln1 = need_dinp ? &dtmp : NULL;
    if (dln1) LEVI_TRY(levi_tensor_zero(dln1));
    if (r > 0) { /* q = ln1 Wqᵀ + bq + (ln1 Aᵀ) Bᵀ: dB += dqᵀ qa, dqa = dq B, dA += dqaᵀ ln1, dln1 += dqa A */
        const vit_block_lora *lw = &v->lblk[l];
        const size_t a_off[2] = {lw->qa, lw->va}, b_off[2] = {lw->qb, lw->vb}, act_off[2] = {x->qa, x->va};
        levi_tensor *dout[2] = {&dq, &dv};
        levi_tensor dqa = AT(v->dqa, r);
        for (int j = 0; j < 2; j++) {
            levi_tensor Aw = vit_view2(&v->lora, a_off[j], r, D), Bw = vit_view2(&v->lora, b_off[j], D, r);
            levi_tensor dA = vit_view2(G, a_off[j], r, D), dB = vit_view2(G, b_off[j], D, r);
            levi_tensor xa = AT(act_off[j], r);
            int trainable = v->train_mode == LEVI_VIT_LORA;
            LEVI_TRY(levi_tensor_zero(&dqa));
            LEVI_TRY(levi_linear_backward(ctx, &dqa, trainable ? &dB : NULL, NULL, dout[j], &xa, &Bw, BT, r, D));
            LEVI_TRY(levi_linear_backward(ctx, dln1, trainable ? &dA : NULL, NULL, &dqa, &ln1, &Aw, BT, D, r));
        }
    }
    levi_tensor qw = PW(w->q_w, D, D), kw = PW(w->k_w, D, D), vw = PW(w->v_w, D, D);
    if (dln1 || full) {
        LEVI_TRY(levi_linear_backward(ctx, dln1, GRAD(2), GBIAS(3), &dq, &ln1, &qw, BT, D, D));
        LEVI_TRY(levi_linear_backward(ctx, dln1, GRAD(4), GBIAS(5), &dk, &ln1, &kw, BT, D, D));
        LEVI_TRY(levi_linear_backward(ctx, dln1, GRAD(6), GBIAS(7), &dv, &ln1, &vw, BT, D, D));
    }
    if (dln1 || full) {
        levi_tensor hin = AT(v->hidden[l], D), ln1w = PB(w->ln1_w, D);
        levi_tensor m1 = vit_view1(A, x->ln1_mean, BT), r1 = vit_view1(A, x->ln1_rstd, BT);
        LEVI_TRY(levi_layernorm_backward(ctx, need_dinp ? &dh : NULL, GRAD(0), GRAD(1), &dtmp, &hin, &ln1w, &m1,
                                         &r1, BT, D));
    }
    return LEVI_OK;
#undef PW
#undef PB
#undef AT
#undef GRAD
#undef GBIAS
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
        LEVI_TRY(block_backward(v, l, B, full || l > 0));
    }
    if (full) LEVI_TRY(vit_embed_backward(v, &dh, B));
    return LEVI_OK;
}
