/* One pre-LN transformer encoder block (Hugging Face ViTLayer), forward and
 * backward, through ops only. It sees its weights, gradients and
 * activations as views (vit_block_weights / _acts / _grads), not the ViT
 * that owns them.
 *
 * Forward, BT = B*T rows of width D:
 *   ln1  = layernorm(hin)
 *   q,k,v = ln1 W{q,k,v}ᵀ + b   (+ LoRA: (ln1 Aᵀ) Bᵀ on q and v)
 *   ctx  = attention(q, k, v)   (one kernel, lse saved)
 *   hmid = hin + ctx Woᵀ + bo ; ln2 = layernorm(hmid)   (GEMM + one fused kernel)
 *   fc1  = ln2 W1ᵀ + b1 ; gel = gelu(fc1)              (GEMM + one fused kernel)
 *   hout = hmid + gel W2ᵀ + b2                         (GEMM + one fused kernel) */
#include "vit_internal.h"

#define HAS(t) ((t).buf != NULL)
#define OPT(t) (HAS(t) ? &(t) : NULL)

levi_status vit_block_forward(levi_ctx *ctx, const vit_block_dims *d, const vit_block_weights *w,
                              const vit_block_acts *a) {
    const int BT = d->B * d->T, D = d->D, M = d->M, r = d->r;
    LEVI_TRY(levi_layernorm_forward(ctx, &a->ln1, &a->ln1_mean, &a->ln1_rstd, &a->hin, &w->ln1_w, &w->ln1_b, BT, D,
                                    d->eps));
    LEVI_TRY(levi_linear_forward(ctx, &a->q, &a->ln1, &w->q_w, OPT(w->q_b), BT, D, D));
    LEVI_TRY(levi_linear_forward(ctx, &a->k, &a->ln1, &w->k_w, OPT(w->k_b), BT, D, D));
    LEVI_TRY(levi_linear_forward(ctx, &a->v, &a->ln1, &w->v_w, OPT(w->v_b), BT, D, D));
    if (r > 0) { /* q += (ln1 Aᵀ) Bᵀ, the same for v */
        LEVI_TRY(levi_linear_forward(ctx, &a->qa, &a->ln1, &w->qa, NULL, BT, D, r));
        LEVI_TRY(levi_gemm(ctx, 0, 1, BT, D, r, 1.0f, &a->qa, &w->qb, 1.0f, &a->q));
        LEVI_TRY(levi_linear_forward(ctx, &a->va, &a->ln1, &w->va, NULL, BT, D, r));
        LEVI_TRY(levi_gemm(ctx, 0, 1, BT, D, r, 1.0f, &a->va, &w->vb, 1.0f, &a->v));
    }
    LEVI_TRY(levi_attention_forward(ctx, &a->ctx, &a->lse, &a->q, &a->k, &a->v, NULL, d->B, d->T, D, d->NH));
    LEVI_TRY(levi_gemm(ctx, 0, 1, BT, D, D, 1.0f, &a->ctx, &w->o_w, 0.0f, &a->hmid));
    LEVI_TRY(levi_residual_layernorm_forward(ctx, &a->hmid, &a->ln2, &a->ln2_mean, &a->ln2_rstd, &a->hmid, &a->hin,
                                             &w->o_b, &w->ln2_w, &w->ln2_b, BT, D, d->eps));
    LEVI_TRY(levi_linear_act_forward(ctx, &a->gel, &a->fc1, &a->ln2, &w->fc1_w, &w->fc1_b, NULL,
                                     LEVI_ACTIVATION_GELU, BT, D, M));
    return levi_linear_act_forward(ctx, &a->hout, NULL, &a->gel, &w->fc2_w, &w->fc2_b, &a->hmid,
                                   LEVI_ACTIVATION_NONE, BT, M, D);
}

levi_status vit_block_backward(levi_ctx *ctx, const vit_block_dims *d, const vit_block_weights *w,
                               const vit_block_weights *gw, const vit_block_acts *a, const vit_block_grads *g,
                               int need_dinp) {
    const int BT = d->B * d->T, D = d->D, M = d->M, r = d->r;
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
    /* attention: hmid = hin + o(attention(q, k, v)) */
    LEVI_TRY(levi_tensor_zero(&g->dctx));
    LEVI_TRY(levi_linear_backward(ctx, &g->dctx, OPT(gw->o_w), OPT(gw->o_b), &g->dh, &a->ctx, &w->o_w, BT, D, D));
    LEVI_TRY(levi_tensor_zero(&g->dq));
    LEVI_TRY(levi_tensor_zero(&g->dk));
    LEVI_TRY(levi_tensor_zero(&g->dv));
    LEVI_TRY(levi_attention_backward(ctx, &g->dq, &g->dk, &g->dv, &g->dctx, &a->q, &a->k, &a->v, &a->ctx, &a->lse,
                                     NULL, d->B, d->T, D, d->NH));
    const levi_tensor *dln1 = need_dinp ? &g->dtmp : NULL;
    if (dln1) LEVI_TRY(levi_tensor_zero(dln1));
    if (r > 0) { /* q = ln1 Wqᵀ + bq + (ln1 Aᵀ) Bᵀ: dB += dqᵀ qa, dqa = dq B, dA += dqaᵀ ln1, dln1 += dqa A */
        const levi_tensor *A[2] = {&w->qa, &w->va}, *Bw[2] = {&w->qb, &w->vb}, *dA[2] = {&gw->qa, &gw->va},
                          *dB[2] = {&gw->qb, &gw->vb}, *xa[2] = {&a->qa, &a->va}, *dout[2] = {&g->dq, &g->dv};
        for (int j = 0; j < 2; j++) {
            LEVI_TRY(levi_tensor_zero(&g->dqa));
            LEVI_TRY(levi_linear_backward(ctx, &g->dqa, HAS(*dB[j]) ? dB[j] : NULL, NULL, dout[j], xa[j], Bw[j], BT,
                                          r, D));
            LEVI_TRY(levi_linear_backward(ctx, dln1, HAS(*dA[j]) ? dA[j] : NULL, NULL, &g->dqa, &a->ln1, A[j], BT, D,
                                          r));
        }
    }
    const int full = HAS(gw->q_w);
    if (!dln1 && !full) return LEVI_OK;
    LEVI_TRY(levi_linear_backward(ctx, dln1, OPT(gw->q_w), OPT(gw->q_b), &g->dq, &a->ln1, &w->q_w, BT, D, D));
    LEVI_TRY(levi_linear_backward(ctx, dln1, OPT(gw->k_w), OPT(gw->k_b), &g->dk, &a->ln1, &w->k_w, BT, D, D));
    LEVI_TRY(levi_linear_backward(ctx, dln1, OPT(gw->v_w), OPT(gw->v_b), &g->dv, &a->ln1, &w->v_w, BT, D, D));
    return levi_layernorm_backward(ctx, need_dinp ? &g->dh : NULL, OPT(gw->ln1_w), OPT(gw->ln1_b), &g->dtmp,
                                   &a->hin, &w->ln1_w, &a->ln1_mean, &a->ln1_rstd, BT, D);
}
