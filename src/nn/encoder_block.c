/* One transformer encoder block, forward and backward, through ops only:
 * pre-LN (Hugging Face ViTLayer) or post-LN (BertLayer), with an optional
 * attention mask. BT = B*T rows of width D:
 *
 * pre-LN                                        post-LN
 *   ln1  = layernorm(hin)                         q,k,v = hin W{q,k,v}ᵀ + b
 *   q,k,v = ln1 W{q,k,v}ᵀ + b                     ctx  = attention(q, k, v, mask)
 *   ctx  = attention(q, k, v, mask)               hmid = hin + ctx Woᵀ + bo; ln1 = LN1(hmid)
 *   hmid = hin + ctx Woᵀ + bo; ln2 = LN2(hmid)    fc1 = ln1 W1ᵀ + b1; gel = gelu(fc1)
 *   fc1 = ln2 W1ᵀ + b1; gel = gelu(fc1)           sum2 = ln1 + gel W2ᵀ + b2; hout = LN2(sum2)
 *   hout = hmid + gel W2ᵀ + b2
 * (LoRA adds (x Aᵀ) Bᵀ to q and v; each residual + LayerNorm is one fused kernel.) */
#include "encoder_block.h"

#define HAS(t) ((t).buf != NULL)
#define OPT(t) (HAS(t) ? &(t) : NULL)

levi_status enc_block_forward(levi_ctx *ctx, const enc_block_dims *d, const enc_block_weights *w,
                              const enc_block_acts *a) {
    const int BT = d->B * d->T, D = d->D, M = d->M, r = d->r;
    const levi_tensor *x = d->post_ln ? &a->hin : &a->ln1; /* the attention's input */
    if (!d->post_ln)
        LEVI_TRY(levi_layernorm_forward(ctx, &a->ln1, &a->ln1_mean, &a->ln1_rstd, &a->hin, &w->ln1_w, &w->ln1_b, BT,
                                        D, d->eps));
    LEVI_TRY(levi_linear_forward(ctx, &a->q, x, &w->q_w, OPT(w->q_b), BT, D, D));
    LEVI_TRY(levi_linear_forward(ctx, &a->k, x, &w->k_w, OPT(w->k_b), BT, D, D));
    LEVI_TRY(levi_linear_forward(ctx, &a->v, x, &w->v_w, OPT(w->v_b), BT, D, D));
    if (r > 0) { /* q += (x Aᵀ) Bᵀ, the same for v */
        LEVI_TRY(levi_linear_forward(ctx, &a->qa, x, &w->qa, NULL, BT, D, r));
        LEVI_TRY(levi_gemm(ctx, 0, 1, BT, D, r, 1.0f, &a->qa, &w->qb, 1.0f, &a->q));
        LEVI_TRY(levi_linear_forward(ctx, &a->va, x, &w->va, NULL, BT, D, r));
        LEVI_TRY(levi_gemm(ctx, 0, 1, BT, D, r, 1.0f, &a->va, &w->vb, 1.0f, &a->v));
    }
    LEVI_TRY(levi_attention_forward(ctx, &a->ctx, &a->lse, &a->q, &a->k, &a->v, OPT(a->mask), d->B, d->T, D, d->NH));
    LEVI_TRY(levi_gemm(ctx, 0, 1, BT, D, D, 1.0f, &a->ctx, &w->o_w, 0.0f, &a->hmid));
    if (d->post_ln) {
        LEVI_TRY(levi_residual_layernorm_forward(ctx, &a->hmid, &a->ln1, &a->ln1_mean, &a->ln1_rstd, &a->hmid,
                                                 &a->hin, &w->o_b, &w->ln1_w, &w->ln1_b, BT, D, d->eps));
        LEVI_TRY(levi_linear_act_forward(ctx, &a->gel, &a->fc1, &a->ln1, &w->fc1_w, &w->fc1_b, NULL,
                                         LEVI_ACTIVATION_GELU, BT, D, M));
        LEVI_TRY(levi_gemm(ctx, 0, 1, BT, D, M, 1.0f, &a->gel, &w->fc2_w, 0.0f, &a->sum2));
        return levi_residual_layernorm_forward(ctx, &a->sum2, &a->hout, &a->ln2_mean, &a->ln2_rstd, &a->sum2,
                                               &a->ln1, &w->fc2_b, &w->ln2_w, &w->ln2_b, BT, D, d->eps);
    }
    LEVI_TRY(levi_residual_layernorm_forward(ctx, &a->hmid, &a->ln2, &a->ln2_mean, &a->ln2_rstd, &a->hmid, &a->hin,
                                             &w->o_b, &w->ln2_w, &w->ln2_b, BT, D, d->eps));
    LEVI_TRY(levi_linear_act_forward(ctx, &a->gel, &a->fc1, &a->ln2, &w->fc1_w, &w->fc1_b, NULL,
                                     LEVI_ACTIVATION_GELU, BT, D, M));
    return levi_linear_act_forward(ctx, &a->hout, NULL, &a->gel, &w->fc2_w, &w->fc2_b, &a->hmid,
                                   LEVI_ACTIVATION_NONE, BT, M, D);
}

/* The attention half backwards from d(hmid) in dmid: Wo, attention, q/k/v
 * (+ LoRA) down to their input x; d(x) accumulates into dx (NULL: not needed). */
static levi_status attention_backward(levi_ctx *ctx, const enc_block_dims *d, const enc_block_weights *w,
                                      const enc_block_weights *gw, const enc_block_acts *a, const enc_block_grads *g,
                                      const levi_tensor *dmid, const levi_tensor *x, const levi_tensor *dx) {
    const int BT = d->B * d->T, D = d->D, r = d->r;
    LEVI_TRY(levi_tensor_zero(&g->dctx));
    LEVI_TRY(levi_linear_backward(ctx, &g->dctx, OPT(gw->o_w), OPT(gw->o_b), dmid, &a->ctx, &w->o_w, BT, D, D));
    LEVI_TRY(levi_tensor_zero(&g->dq));
    LEVI_TRY(levi_tensor_zero(&g->dk));
    LEVI_TRY(levi_tensor_zero(&g->dv));
    LEVI_TRY(levi_attention_backward(ctx, &g->dq, &g->dk, &g->dv, &g->dctx, &a->q, &a->k, &a->v, &a->ctx, &a->lse,
                                     OPT(a->mask), d->B, d->T, D, d->NH));
    if (r > 0) { /* q = x Wqᵀ + bq + (x Aᵀ) Bᵀ: dB += dqᵀ qa, dqa = dq B, dA += dqaᵀ x, dx += dqa A */
        const levi_tensor *A[2] = {&w->qa, &w->va}, *Bw[2] = {&w->qb, &w->vb}, *dA[2] = {&gw->qa, &gw->va},
                          *dB[2] = {&gw->qb, &gw->vb}, *xa[2] = {&a->qa, &a->va}, *dout[2] = {&g->dq, &g->dv};
        for (int j = 0; j < 2; j++) {
            LEVI_TRY(levi_tensor_zero(&g->dqa));
            LEVI_TRY(levi_linear_backward(ctx, &g->dqa, HAS(*dB[j]) ? dB[j] : NULL, NULL, dout[j], xa[j], Bw[j], BT,
                                          r, D));
            LEVI_TRY(levi_linear_backward(ctx, dx, HAS(*dA[j]) ? dA[j] : NULL, NULL, &g->dqa, x, A[j], BT, D, r));
        }
    }
    if (!dx && !HAS(gw->q_w)) return LEVI_OK;
    LEVI_TRY(levi_linear_backward(ctx, dx, OPT(gw->q_w), OPT(gw->q_b), &g->dq, x, &w->q_w, BT, D, D));
    LEVI_TRY(levi_linear_backward(ctx, dx, OPT(gw->k_w), OPT(gw->k_b), &g->dk, x, &w->k_w, BT, D, D));
    return levi_linear_backward(ctx, dx, OPT(gw->v_w), OPT(gw->v_b), &g->dv, x, &w->v_w, BT, D, D);
}

/* Post-LN backward. Buffers: dh (in: d hout, out: d hin), dtmp. */
static levi_status post_ln_backward(levi_ctx *ctx, const enc_block_dims *d, const enc_block_weights *w,
                                    const enc_block_weights *gw, const enc_block_acts *a, const enc_block_grads *g,
                                    int need_dinp) {
    const int BT = d->B * d->T, D = d->D, M = d->M;
    /* hout = LN2(sum2): dtmp = d sum2 */
    LEVI_TRY(levi_tensor_zero(&g->dtmp));
    LEVI_TRY(levi_layernorm_backward(ctx, &g->dtmp, OPT(gw->ln2_w), OPT(gw->ln2_b), &g->dh, &a->sum2, &w->ln2_w,
                                     &a->ln2_mean, &a->ln2_rstd, BT, D));
    /* sum2 = ln1 + fc2(gelu(fc1(ln1))): dh = d ln1 = dtmp + the MLP's input gradient */
    LEVI_TRY(levi_tensor_zero(&g->dh));
    LEVI_TRY(levi_accumulate(ctx, &g->dh, &g->dtmp, (size_t)BT * D));
    LEVI_TRY(levi_tensor_zero(&g->dgel));
    LEVI_TRY(levi_linear_backward(ctx, &g->dgel, OPT(gw->fc2_w), OPT(gw->fc2_b), &g->dtmp, &a->gel, &w->fc2_w, BT, M,
                                  D));
    LEVI_TRY(levi_tensor_zero(&g->dfc1));
    LEVI_TRY(levi_gelu_backward(ctx, &g->dfc1, &a->fc1, &g->dgel, (size_t)BT * M));
    LEVI_TRY(levi_linear_backward(ctx, &g->dh, OPT(gw->fc1_w), OPT(gw->fc1_b), &g->dfc1, &a->ln1, &w->fc1_w, BT, D,
                                  M));
    /* ln1 = LN1(hmid): dtmp = d hmid; hmid = hin + o(attention(hin)) */
    LEVI_TRY(levi_tensor_zero(&g->dtmp));
    LEVI_TRY(levi_layernorm_backward(ctx, &g->dtmp, OPT(gw->ln1_w), OPT(gw->ln1_b), &g->dh, &a->hmid, &w->ln1_w,
                                     &a->ln1_mean, &a->ln1_rstd, BT, D));
    LEVI_TRY(levi_tensor_zero(&g->dh));
    if (need_dinp) LEVI_TRY(levi_accumulate(ctx, &g->dh, &g->dtmp, (size_t)BT * D));
    return attention_backward(ctx, d, w, gw, a, g, &g->dtmp, &a->hin, need_dinp ? &g->dh : NULL);
}

levi_status enc_block_backward(levi_ctx *ctx, const enc_block_dims *d, const enc_block_weights *w,
                               const enc_block_weights *gw, const enc_block_acts *a, const enc_block_grads *g,
                               int need_dinp) {
    if (d->post_ln) return post_ln_backward(ctx, d, w, gw, a, g, need_dinp);
    const int BT = d->B * d->T, D = d->D, M = d->M;
    /* MLP: hout = hmid + fc2(gelu(fc1(ln2(hmid)))) */
    LEVI_TRY(levi_tensor_zero(&g->dgel));
    LEVI_TRY(levi_linear_backward(ctx, &g->dgel, OPT(gw->fc2_w), OPT(gw->fc2_b), &g->dh, &a->gel, &w->fc2_w, BT, M,
                                  D));
    LEVI_TRY(levi_tensor_zero(&g->dfc1));
    LEVI_TRY(levi_gelu_backward(ctx, &g->dfc1, &a->fc1, &g->dgel, (size_t)BT * M));
    LEVI_TRY(levi_tensor_zero(&g->dtmp));
    LEVI_TRY(levi_linear_backward(ctx, &g->dtmp, OPT(gw->fc1_w), OPT(gw->fc1_b), &g->dfc1, &a->ln2, &w->fc1_w, BT, D,
                                  M));
    LEVI_TRY(levi_layernorm_backward(ctx, &g->dh, OPT(gw->ln2_w), OPT(gw->ln2_b), &g->dtmp, &a->hmid, &w->ln2_w,
                                     &a->ln2_mean, &a->ln2_rstd, BT, D));
    /* attention: hmid = hin + o(attention(ln1(hin))); dtmp = d ln1 */
    const levi_tensor *dln1 = need_dinp ? &g->dtmp : NULL;
    if (dln1) LEVI_TRY(levi_tensor_zero(dln1));
    LEVI_TRY(attention_backward(ctx, d, w, gw, a, g, &g->dh, &a->ln1, dln1));
    if (!dln1 && !HAS(gw->ln1_w)) return LEVI_OK;
    return levi_layernorm_backward(ctx, need_dinp ? &g->dh : NULL, OPT(gw->ln1_w), OPT(gw->ln1_b), &g->dtmp,
                                   &a->hin, &w->ln1_w, &a->ln1_mean, &a->ln1_rstd, BT, D);
}
