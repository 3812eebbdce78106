/* The part of an encoder backbone that does not depend on its embeddings,
 * shared by BERT (post-LN) and the ViT (pre-LN): one arena per role, the
 * table of named weights (HF names; host transfers to and from
 * safetensors), and L blocks of encoder_block.c with their saved
 * activations, backward scratch and pooled taps. The model plans its own
 * tensors (embeddings, final LayerNorm) in the same arenas around these. */
#ifndef LEVI_NN_ENCODER_STACK_H
#define LEVI_NN_ENCODER_STACK_H

#include "encoder_block.h"
#include <cjson/cJSON.h>

#include "levi/safetensors.h"

#define ENC_MAX_LAYERS 64

enum { ENC_ARENA_PARAMS = 0, ENC_ARENA_LORA = 1 };
enum { ENC_INIT_NORMAL, ENC_INIT_ZERO, ENC_INIT_ONE, ENC_INIT_LORA_A };

/* One named tensor of the HF layout. */
typedef struct enc_param {
    char name[96];
    int arena, init, ndim; /* ENC_ARENA_*, ENC_INIT_* */
    long long shape[4];
    size_t off, numel;
} enc_param;

/* Offsets (floats) of one block's weights in the parameter arena (the
 * gradient arena of full fine-tuning uses the same offsets), and of its LoRA
 * A (r,D), B (D,r) of query and value in the LoRA arena. */
typedef struct enc_layer_w {
    size_t ln1_w, ln1_b, q_w, q_b, k_w, k_b, v_w, v_b, o_w, o_b, ln2_w, ln2_b, fc1_w, fc1_b, fc2_w, fc2_b;
    size_t qa, qb, va, vb;
} enc_layer_w;

/* Offsets of one block's saved activations; frozen models share one set.
 * lse (B,NH,T) is attention's per-row log-sum-exp. ln2 is pre-LN's, sum2
 * post-LN's (encoder_block.h). */
typedef struct enc_layer_act {
    size_t ln1, ln1_mean, ln1_rstd, q, k, v, lse, ctx, hmid, ln2, sum2, ln2_mean, ln2_rstd, fc1, gel, qa, va;
} enc_layer_act;

typedef struct enc_stack {
    levi_ctx *ctx;
    const char *name; /* "BERT", "ViT": how errors name the model */
    int D, M, NH, L, T, lora_rank, max_batch, train_mode; /* train_mode: LEVI_BACKBONE_* */
    int post_ln, qkv_bias;
    float eps;
    levi_arena params, lora, grads, adam_m, adam_v, acts;
    enc_layer_w lw[ENC_MAX_LAYERS];
    enc_layer_act la[ENC_MAX_LAYERS];
    /* activations: the residual stream hidden[0..n_hidden-1] (B,T,D), the
     * pooled taps (L+1, max_batch, D), the attention mask (B,T) when has_mask */
    size_t hidden[ENC_MAX_LAYERS + 2], taps, mask;
    int n_hidden, has_mask;
    /* backward scratch (train only) */
    size_t dh, dtmp, dq, dk, dv, dctx, dfc1, dgel, dqa;
    enc_param *table;
    int n_table;
} enc_stack;

/* A view of `a` at `off` with shape (n0) when n1 is 0, else (n0,n1); (n0,n1,n2). */
levi_tensor enc_view(const levi_arena *a, size_t off, int n0, int n1);
levi_tensor enc_view3(const levi_arena *a, size_t off, int n0, int n1, int n2);

/* With the sizes, name, train_mode, lora_rank and max_batch set: the six
 * arenas named by roles (static strings: params, lora, grads, adam_m,
 * adam_v, acts) and an empty table. */
levi_status enc_stack_init(enc_stack *s, levi_ctx *ctx, const char *const roles[6]);
/* The arenas and the table (not s itself). */
void enc_stack_free(enc_stack *s);

/* Plan steps, in the order a model calls them. */
size_t enc_add_param(enc_stack *s, int arena, int init, int ndim, const long long *shape, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
void enc_plan_lora(enc_stack *s, const char *fmt); /* fmt: layer %d, "query"/"value" %s, "A"/"B" %s */
void enc_plan_hidden(enc_stack *s, int n);          /* n residual-stream tensors */
void enc_plan_blocks(enc_stack *s);                 /* every block's saved activations */
void enc_plan_taps(enc_stack *s);
void enc_plan_scratch(enc_stack *s);   /* backward scratch (nothing when frozen) */
void enc_plan_optimizer(enc_stack *s); /* gradients and AdamW moments of the trainable arena */
levi_status enc_stack_commit(enc_stack *s);

size_t enc_num_params(const enc_stack *s, size_t *lora_params);

/* Views of block l for a batch of B: dims, weights, their gradients (absent
 * when not trained), activations and the gradient buffers. */
void enc_block_views(const enc_stack *s, int l, int B, enc_block_dims *d, enc_block_weights *w,
                     enc_block_weights *gw, enc_block_acts *a, enc_block_grads *g);
/* hidden[0] → hidden[L] through every block */
levi_status enc_forward_blocks(enc_stack *s, int B);
/* dh = d(output of block l) on entry, d(its input) on exit */
levi_status enc_backward_block(enc_stack *s, int l, int B);
/* The checks of a backward call: trainable, batch, taps in [0, L] with
 * (B,D) gradients (`what` names them); *top is the highest tap (-1: none). */
levi_status enc_check_backward(const enc_stack *s, const char *what, const levi_tensor *const *dtaps,
                               const int *taps, int ntaps, int B, int *top);

levi_tensor enc_tap(const enc_stack *s, int l, int B);    /* (B,D), l clamped to [0, L] */
levi_tensor enc_hidden(const enc_stack *s, int l, int B); /* (B,T,D), l clamped to the planned ones */
levi_status enc_zero_grad(enc_stack *s);
int enc_trainable(enc_stack *s, levi_tensor *params, levi_tensor *grads, levi_tensor *adam_m, levi_tensor *adam_v);
levi_status enc_find(enc_stack *s, const char *name, levi_tensor *param, levi_tensor *grad);

/* --- encoder_stack_io.c ------------------------------------------------------- */

/* A uniform draw in (0,1) from levi's PRNG. */
double enc_uniform01(unsigned long long *state);
/* One weight's initial value by its ENC_INIT_* kind (bound: LoRA A's). */
typedef float (*enc_sampler)(int init, double bound, unsigned long long *state);
/* Every table entry (lora_only: the LoRA ones) drawn in table order. */
levi_status enc_init_weights(enc_stack *s, unsigned long long state, enc_sampler sample, int lora_only);

/* Host copy of an arena (malloc'ed, numel floats) and back. */
levi_status enc_read_arena(const levi_arena *a, float **host);
levi_status enc_write_arena(const levi_arena *a, const float *host);

/* The table from safetensors names prefix+name. lora: 0 skip the LoRA
 * tensors, 1 required, 2 optional (all or none; *found says all were
 * there; NULL allowed). */
levi_status enc_read_table(enc_stack *s, const levi_safetensors *st, const char *prefix, int lora, int *found);
levi_status enc_write_table(const enc_stack *s, levi_st_writer *w, const char *prefix, int with_lora);
/* enc_read_table whose error names the file at `path`. */
levi_status enc_read_file(enc_stack *s, const levi_safetensors *st, const char *prefix, int lora, const char *path);
/* `model_prefix` when the file holds model_prefix+probe and not probe, else "". */
const char *enc_name_prefix(const levi_safetensors *st, const char *probe, const char *model_prefix);
/* config.json's fields every encoder reads: layer_norm_eps (default 1e-12)
 * and hidden_act (only "gelu"). */
levi_status enc_config_common(const cJSON *o, const char *where, float *layer_norm_eps);

#endif
