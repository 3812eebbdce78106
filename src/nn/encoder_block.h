/* One transformer encoder block, shared by the ViT (pre-LN) and BERT
 * (post-LN), forward and backward through ops only. It sees its weights,
 * gradients and activations as views, not the model that owns them. */
#ifndef LEVI_NN_ENCODER_BLOCK_H
#define LEVI_NN_ENCODER_BLOCK_H

#include "levi/ops.h"

/* Sizes: BT = B*T rows of width D, NH heads, MLP width M, LoRA rank r (0:
 * none); post_ln 0: pre-LN (ViT), 1: post-LN (BERT). */
typedef struct enc_block_dims {
    int B, T, D, M, NH, r;
    float eps;
    int post_ln;
} enc_block_dims;

/* A block's weights, or their gradients (a tensor with buf NULL is absent:
 * frozen, or no query/key/value bias). ln1 is the attention's LayerNorm
 * (ViT layernorm_before, BERT attention.output.LayerNorm), ln2 the MLP's
 * (ViT layernorm_after, BERT output.LayerNorm). */
typedef struct enc_block_weights {
    levi_tensor ln1_w, ln1_b, q_w, q_b, k_w, k_b, v_w, v_b, o_w, o_b, ln2_w, ln2_b, fc1_w, fc1_b, fc2_w, fc2_b;
    levi_tensor qa, qb, va, vb; /* LoRA A (r,D), B (D,r) of query and value */
} enc_block_weights;

/* Saved activations (BT rows) and, for backward, the shared gradient
 * buffers. mask (B,T) is the attention mask (buf NULL: none). Post-LN uses
 * hmid for the first residual sum, ln1 for its LayerNorm (the MLP's input),
 * sum2 for the second residual sum (hout = LayerNorm(sum2)); ln2 is unused. */
typedef struct enc_block_acts {
    levi_tensor hin, hout, ln1, ln1_mean, ln1_rstd, q, k, v, lse, ctx, hmid, ln2, ln2_mean, ln2_rstd, fc1, gel, qa,
        va, sum2, mask;
} enc_block_acts;
typedef struct enc_block_grads {
    levi_tensor dh, dtmp, dq, dk, dv, dctx, dfc1, dgel, dqa;
} enc_block_grads;

/* Pre-LN:  hmid = hin + attention(ln1(hin)) Woᵀ + bo,  hout = hmid + mlp(ln2(hmid)).
 * Post-LN: ln1 = LN1(hin + attention(hin) Woᵀ + bo),   hout = LN2(ln1 + mlp(ln1)). */
levi_status enc_block_forward(levi_ctx *ctx, const enc_block_dims *d, const enc_block_weights *w,
                              const enc_block_acts *a);
/* g->dh holds d(hout) on entry and d(hin) on exit (when need_dinp); weight
 * gradients accumulate into gw (absent tensors are skipped). */
levi_status enc_block_backward(levi_ctx *ctx, const enc_block_dims *d, const enc_block_weights *w,
                               const enc_block_weights *gw, const enc_block_acts *a, const enc_block_grads *g,
                               int need_dinp);

#endif
