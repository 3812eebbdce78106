/* levi/nn.h — small trainable building blocks of a LEVI model: a table of
 * named parameters in one allocation per role, the task models g (mlp, cnn),
 * and the adapting layers A (Linear → GELU → Linear, or one Linear).
 *
 * Parameters, gradients and AdamW moments live in four arenas with the SAME
 * layout (a parameter has one offset valid in all four), so AdamW, zeroing
 * and clipping are one flat call each. Activations of a module live in an
 * activation arena the caller owns; a module reserves its slices at plan
 * time (levi_*_plan) and binds views after the arenas are committed. */
#ifndef LEVI_NN_H
#define LEVI_NN_H

#include "levi/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

struct levi_st_writer;
struct levi_safetensors;

/* --- parameter table ------------------------------------------------------- */

typedef struct levi_param {
    char name[96]; /* e.g. "g.fc1.weight" */
    size_t offset; /* in floats, valid in params, grads, adam_m and adam_v */
    int ndim;
    int shape[LEVI_MAX_DIMS];
    size_t numel;
    float init_bound; /* init U(-b, b); 0 → zeros; < 0 → the constant -b */
} levi_param;

typedef struct levi_params {
    levi_ctx *ctx;
    levi_arena params, grads, adam_m, adam_v;
    levi_param *list;
    int count, cap;
    int trainable; /* 0: inference only (no grads / optimizer storage) */
    int committed;
} levi_params;

void levi_params_init(levi_params *p, levi_ctx *ctx, int trainable);
/* Reserve a parameter; returns its index (≥ 0) or -1 when out of memory. */
int levi_params_add(levi_params *p, const char *name, int ndim, const int *shape, float init_bound);
/* Allocate the arenas (zero-filled). */
levi_status levi_params_commit(levi_params *p);
levi_tensor levi_params_value(const levi_params *p, int idx);
/* Gradient view, or a tensor with buf == NULL when not trainable. */
levi_tensor levi_params_grad(const levi_params *p, int idx);
/* Total parameter count (floats actually used, without alignment padding). */
size_t levi_params_numel(const levi_params *p);
/* Seeded init by each parameter's init_bound (own PRNG, same on every machine). */
levi_status levi_params_init_random(levi_params *p, unsigned long long seed);
/* Every parameter into a writer as prefix+name; optionally the AdamW moments
 * as one flat tensor each, `opt_prefix`m / `opt_prefix`v. */
levi_status levi_params_write(const levi_params *p, struct levi_st_writer *w, const char *prefix,
                              const char *opt_prefix);
/* Load every parameter (required, shapes checked; errors name `file`, the
 * tensor and the expected shape); the moments too when opt_prefix != NULL. */
levi_status levi_params_read(levi_params *p, const struct levi_safetensors *st, const char *prefix,
                             const char *opt_prefix, const char *file);
levi_status levi_params_zero_grad(levi_params *p);
void levi_params_free(levi_params *p);

/* --- linear layer (a pair of parameters) ----------------------------------- */

typedef struct levi_linear {
    int in, out;
    int w, b; /* parameter indices: w (out,in), b (out) */
} levi_linear;

/* PyTorch nn.Linear default init: U(±1/√in) for weight and bias. */
int levi_linear_plan(levi_linear *l, levi_params *p, const char *name, int in, int out);
/* out (B,out) = inp (B,in) · wᵀ + b */
levi_status levi_linear_apply(const levi_linear *l, const levi_params *p, const levi_tensor *out,
                              const levi_tensor *inp, int B);
/* The same with a fused epilogue (levi_linear_act_forward): pre = inp·wᵀ + b
 * (kept for the activation's backward), out = act(pre); one GEMM + one kernel. */
levi_status levi_linear_apply_act(const levi_linear *l, const levi_params *p, const levi_tensor *out,
                                  const levi_tensor *pre, const levi_tensor *inp, levi_activation act, int B);
/* dinp may be NULL (data); accumulates into the parameter grads. */
levi_status levi_linear_apply_backward(const levi_linear *l, const levi_params *p, const levi_tensor *dinp,
                                       const levi_tensor *dout, const levi_tensor *inp, int B);
/* dinp_accumulate = 0: dinp = dout · w instead of += (no zeroed dinp needed) */
levi_status levi_linear_apply_backward_acc(const levi_linear *l, const levi_params *p, const levi_tensor *dinp,
                                           const levi_tensor *dout, const levi_tensor *inp, int B,
                                           int dinp_accumulate);
/* dinp (B, cols) = the gradient of inp's columns [col0, col0 + cols) only */
levi_status levi_linear_apply_backward_cols(const levi_linear *l, const levi_params *p, const levi_tensor *dinp,
                                            int col0, int cols, const levi_tensor *dout, const levi_tensor *inp,
                                            int B, int dinp_accumulate);

/* --- activations arena helper ---------------------------------------------- */

/* A slice of an activation arena reserved at plan time: (rows = max_batch, cols). */
typedef struct levi_act {
    size_t offset;
    int cols;
} levi_act;
levi_act levi_act_plan(levi_arena *a, int max_batch, int cols);
/* (B, cols) view of a committed arena. */
levi_tensor levi_act_view(const levi_arena *a, levi_act s, int B);

/* --- task models g ------------------------------------------------------------ */

typedef enum { LEVI_TASK_NONE = 0, LEVI_TASK_MLP = 1, LEVI_TASK_CNN = 2, LEVI_TASK_NGRAM = 3 } levi_task_kind;

/* "none", "mlp", "cnn", "ngram"; parse → LEVI_ERR_INVALID_ARG naming the word. */
const char *levi_task_name(levi_task_kind k);
levi_status levi_task_parse(const char *name, levi_task_kind *out);

typedef struct levi_task_config {
    levi_task_kind kind;
    int channels, height, width; /* mlp, cnn: input pixels (B,C,H,W) */
    int hidden;                  /* z size (mlp: both hidden layers); default 128 */
    int conv1, conv2;            /* cnn channels; default 16, 32 */
    int seq_len;                 /* ngram: token ids and attention mask (B,T), T = seq_len */
    int buckets, embed;          /* ngram: hashed n-gram ids in [0, buckets), embedding width; default 32768, 64 */
} levi_task_config;

/* mlp: z = ReLU(fc2(ReLU(fc1(x)))), x the flattened pixels (B, C·H·W).
 * cnn: two conv3×3(pad 1)–ReLU–maxpool2 stages C→conv1→conv2, flatten,
 *      z = ReLU(fc(flat)) of size hidden.
 * ngram: a bag of hashed unigrams and bigrams of the token ids (a text's
 *      own embeddings, trained from scratch, fastText-like):
 *      bag = masked mean over the 2T n-grams of embed[hash(ngram)] (B, embed),
 *      z = ReLU(fc1(bag)) of size hidden (levi_ngram_hash: which n-grams). */
typedef struct levi_task_model {
    levi_task_config cfg;
    levi_linear fc1, fc2;   /* mlp: fc1, fc2; cnn: fc2 is the final fc; ngram: fc1 */
    int emb;                /* ngram: embedding table (buckets, embed) parameter index */
    int c1w, c1b, c2w, c2b; /* cnn conv parameter indices */
    levi_conv_shape s1, s2; /* cnn conv shapes at max_batch */
    int p1h, p1w, p2h, p2w; /* cnn pooled sizes */
    levi_act act[16];       /* activations and backward temporaries (see mlp.c, cnn.c) */
    int z_act;              /* index of z in act */
    int max_batch;
} levi_task_model;

levi_status levi_task_config_validate(const levi_task_config *c);
/* Reserve parameters (names "g.*") and activations. */
levi_status levi_task_plan(levi_task_model *g, const levi_task_config *cfg, levi_params *p, levi_arena *acts,
                           int max_batch);
/* x (B,C,H,W) pixels, or ids (B,T) with mask (B,T) for ngram (mask NULL
 * for pixels) → z (B,hidden) = levi_task_z(g, acts, B). */
levi_status levi_task_forward(levi_task_model *g, const levi_params *p, const levi_arena *acts,
                              const levi_tensor *x, const levi_tensor *mask, int B);
levi_tensor levi_task_z(const levi_task_model *g, const levi_arena *acts, int B);
/* dz (B,hidden) → parameter grads (accumulated), after a forward of the same
 * x (and mask) and B. dz may be modified. */
levi_status levi_task_backward(levi_task_model *g, const levi_params *p, const levi_arena *acts,
                               const levi_tensor *x, const levi_tensor *dz, int B);

/* --- adapters A ----------------------------------------------------------------- */

/* mlp: logits = fc2(GELU(fc1(x))); linear: logits = fc1(x). */
typedef struct levi_adapter {
    int linear, in, hidden, out;
    levi_linear fc1, fc2;
    levi_act h, g, dh, dg; /* fc1 out, GELU out, and their grads */
} levi_adapter;

levi_status levi_adapter_plan(levi_adapter *a, const char *name, int linear, int in, int hidden, int out,
                              levi_params *p, levi_arena *acts, int max_batch);
/* x (B,in) → logits (B,out) */
levi_status levi_adapter_forward(levi_adapter *a, const levi_params *p, const levi_arena *acts,
                                 const levi_tensor *logits, const levi_tensor *x, int B);
/* dlogits (B,out) → dx (B,in) accumulated (may be NULL) and parameter grads. */
levi_status levi_adapter_backward(levi_adapter *a, const levi_params *p, const levi_arena *acts,
                                  const levi_tensor *dx, const levi_tensor *dlogits, const levi_tensor *x, int B);
/* dx_accumulate = 0: dx is written, not accumulated (no zeroed dx needed) */
levi_status levi_adapter_backward_acc(levi_adapter *a, const levi_params *p, const levi_arena *acts,
                                      const levi_tensor *dx, const levi_tensor *dlogits, const levi_tensor *x, int B,
                                      int dx_accumulate);
/* dx (B, in - dx_col) = the gradient of x's columns from dx_col on only (the
 * others' input needs none: it is not computed) */
levi_status levi_adapter_backward_cols(levi_adapter *a, const levi_params *p, const levi_arena *acts,
                                       const levi_tensor *dx, int dx_col, const levi_tensor *dlogits,
                                       const levi_tensor *x, int B, int dx_accumulate);

#ifdef __cplusplus
}
#endif
#endif
