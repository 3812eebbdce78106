/* Internals of the ViT backbone shared by vit.c, vit_backward.c and vit_io.c
 * (its blocks are encoder_block.c's, pre-LN). */
#ifndef LEVI_NN_VIT_INTERNAL_H
#define LEVI_NN_VIT_INTERNAL_H

#include "encoder_block.h"
#include "levi/ops.h"
#include "levi/vit.h"

/* Offsets (floats) of one block's weights in the parameter arena; the
 * gradient arena of full fine-tuning uses the same offsets. */
typedef struct vit_block_w {
    size_t ln1_w, ln1_b, q_w, q_b, k_w, k_b, v_w, v_b, o_w, o_b, ln2_w, ln2_b, fc1_w, fc1_b, fc2_w, fc2_b;
} vit_block_w;

/* Offsets of one block's LoRA weights in the LoRA arena (and its gradients):
 * A (r,D), B (D,r) for query and value. */
typedef struct vit_block_lora {
    size_t qa, qb, va, vb;
} vit_block_lora;

/* Offsets of one block's saved activations; frozen models share one set.
 * lse (B,NH,T) is attention's per-row log-sum-exp (no (T,T) matrix is kept). */
typedef struct vit_block_act {
    size_t ln1, ln1_mean, ln1_rstd, q, k, v, lse, ctx, hmid, ln2, ln2_mean, ln2_rstd, fc1, gel, qa, va;
} vit_block_act;

/* One named tensor of the HF layout. */
enum { VIT_ARENA_PARAMS = 0, VIT_ARENA_LORA = 1 };
enum { VIT_INIT_NORMAL, VIT_INIT_ZERO, VIT_INIT_ONE, VIT_INIT_LORA_A };
typedef struct vit_param {
    char name[80];
    int arena; /* VIT_ARENA_* */
    size_t off;
    int ndim;
    long long shape[4];
    size_t numel;
    int init; /* VIT_INIT_* */
} vit_param;

#define VIT_MAX_LAYERS 64

struct levi_vit {
    levi_ctx *ctx;
    levi_vit_config cfg;
    int train_mode, lora_rank, max_batch;
    int T, NP, CPP; /* tokens, patches per image, C*P*P */
    levi_arena params, lora, grads, adam_m, adam_v, acts;
    /* parameters */
    size_t cls, pos, patch_w, patch_b, lnf_w, lnf_b;
    vit_block_w blk[VIT_MAX_LAYERS];
    vit_block_lora lblk[VIT_MAX_LAYERS];
    /* activations */
    size_t patches, pemb, hidden[VIT_MAX_LAYERS + 2], lnf_mean, lnf_rstd, cls_out;
    vit_block_act act[VIT_MAX_LAYERS];
    /* backward scratch (train only) */
    size_t dh, dtmp, dq, dk, dv, dctx, dfc1, dgel, dqa, dpemb;
    /* the HF tensor table */
    vit_param *table;
    int n_table;
};

/* A view of `a` at `off` with shape (n0) / (n0,n1) / (n0,n1,n2). */
levi_tensor vit_view1(const levi_arena *a, size_t off, int n0);
levi_tensor vit_view2(const levi_arena *a, size_t off, int n0, int n1);
levi_tensor vit_view3(const levi_arena *a, size_t off, int n0, int n1, int n2);

/* Host copies of the parameter and LoRA arenas (malloc'ed, arena numel floats). */
levi_status vit_read_arena(const levi_arena *a, float **host);
levi_status vit_write_arena(const levi_arena *a, const float *host);

/* Views of block l for a batch of B: dims, weights, their gradients (absent
 * when frozen), activations and the gradient buffers. */
void vit_block_views(const levi_vit *v, int l, int B, enc_block_dims *d, enc_block_weights *w, enc_block_weights *gw,
                     enc_block_acts *a, enc_block_grads *g);
levi_status vit_embed_backward(levi_vit *v, const levi_tensor *dh, int B);

#endif
