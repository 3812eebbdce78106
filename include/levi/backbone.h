/* levi/backbone.h — the backbone stage of a LEVI model: a pre-trained
 * network read at taps, behind one interface so that the head (task model,
 * adapters, fusion, loss, optimizer) never depends on the architecture.
 *
 *   input (on the backbone's ctx)  →  forward  →  tap l: pooled (B, hidden)
 *   d(tap features)                →  backward →  gradients of the trainable part
 *
 * A backbone lives on its own levi_ctx (the backbone stage); the head may sit
 * on the same ctx or another one (levi_model hands the features over).
 * Inputs are not assumed to be images: an image backbone (ViT) reads pixels
 * (B,C,H,W), a text backbone (BERT) token ids (B,T) with an attention mask
 * (B,T), both pooled per tap (CLS token, or a masked mean over tokens).
 *
 * An implementation fills a levi_backbone_ops table and a description and
 * calls levi_backbone_create; levi_backbone_from_vit wraps the ViT. */
#ifndef LEVI_BACKBONE_H
#define LEVI_BACKBONE_H

#include "levi/data.h"
#include "levi/vit.h"

#ifdef __cplusplus
extern "C" {
#endif

struct levi_st_writer;
struct levi_safetensors;

/* Train modes; the values equal LEVI_VIT_FROZEN / _FULL / _LORA. */
typedef enum {
    LEVI_BACKBONE_FROZEN = 0, /* no gradients, no optimizer state */
    LEVI_BACKBONE_FULL = 1,   /* every weight trains */
    LEVI_BACKBONE_LORA = 2,   /* LoRA adapters train, the base stays frozen */
} levi_backbone_mode;

/* What one sample looks like to a backbone (and to a task model reading the
 * same view; levi_input_kind is in levi/data.h). All inputs are float
 * tensors; token ids and mask values are exact integers stored as floats. */
typedef struct levi_input_spec {
    levi_input_kind kind;
    int channels, height, width; /* pixels: x (B,C,H,W), normalized (p - mean)/std of p in [0,1] */
    float mean, std;
    int seq_len;                 /* tokens: ids x (B,T) and mask (B,T) of 1/0, T = seq_len */
} levi_input_spec;

/* Floats of x per sample: C·H·W for pixels, T for tokens. */
size_t levi_input_numel(const levi_input_spec *s);

/* One batch of inputs on one ctx. */
typedef struct levi_input {
    levi_tensor x;    /* pixels (B,C,H,W) or token ids (B,T) */
    levi_tensor mask; /* tokens: attention mask (B,T); pixels: buf == NULL */
} levi_input;

/* What the head needs to know about a backbone. */
typedef struct levi_backbone_desc {
    int hidden;    /* width D of every tap */
    int depth;     /* taps are 0..depth (depth: after the final norm) */
    int mode;      /* levi_backbone_mode */
    int max_batch; /* forward takes B in 1..max_batch */
    levi_input_spec input;
} levi_backbone_desc;

/* The functions an architecture provides; `self` is its own object. */
typedef struct levi_backbone_ops {
    /* "vit", "bert", ...: stored in model files as __metadata__ "backbone" */
    const char *kind;
    /* __metadata__ key of its config text ("vit_config" for the ViT) */
    const char *config_key;
    levi_status (*forward)(void *self, const levi_input *in, int B);
    /* pooled features (B, hidden) of tap l after the last forward */
    levi_tensor (*tap)(void *self, int l, int B);
    /* dtaps[i] (B, hidden) = d loss / d tap taps[i]; accumulates into grads */
    levi_status (*backward)(void *self, const levi_tensor *const *dtaps, const int *taps, int ntaps, int B);
    levi_status (*zero_grad)(void *self);
    /* trainable weights as flat tensors (params, grads, AdamW m, v; outputs
     * may be NULL): returns 1, or 0 when frozen */
    int (*trainable)(void *self, levi_tensor *params, levi_tensor *grads, levi_tensor *adam_m, levi_tensor *adam_v);
    levi_status (*write_weights)(const void *self, struct levi_st_writer *w, const char *prefix);
    levi_status (*read_weights)(void *self, const struct levi_safetensors *st, const char *prefix);
    char *(*config_text)(const void *self); /* malloc'ed */
    size_t (*num_params)(const void *self, size_t *adapter_params);
    void (*free)(void *self);
} levi_backbone_ops;

typedef struct levi_backbone levi_backbone;

/* Wrap an implementation; `self` is taken over (ops->free'd with the
 * backbone, also when this call fails). ops must outlive the backbone. */
levi_status levi_backbone_create(levi_backbone **out, levi_ctx *ctx, const levi_backbone_ops *ops, void *self,
                                 const levi_backbone_desc *desc);
void levi_backbone_free(levi_backbone *bb);

/* The ViT as a backbone (taps: levi_vit_cls numbering, CLS pooling); ctx is
 * the one the ViT was created on. The vit is taken over, also on error. */
levi_status levi_backbone_from_vit(levi_backbone **out, levi_ctx *ctx, levi_vit *vit);
/* The wrapped ViT, or NULL for another architecture. */
levi_vit *levi_backbone_vit(levi_backbone *bb);

/* Build a backbone of `kind` from its config text (as stored in a model
 * file; `where` names it in errors) with random weights, for batches up to
 * max_batch in train mode `mode` (LoRA rank for LEVI_BACKBONE_LORA, or > 0
 * with FROZEN to apply adapters without training them). Kinds: "vit", "bert". */
levi_status levi_backbone_from_config(levi_backbone **out, levi_ctx *ctx, const char *kind, const char *config_text,
                                      const char *where, int max_batch, int mode, int lora_rank);
/* The __metadata__ key of kind's config text, NULL for an unknown kind. */
const char *levi_backbone_config_key(const char *kind);

const char *levi_backbone_kind(const levi_backbone *bb);
const levi_backbone_desc *levi_backbone_get_desc(const levi_backbone *bb);
levi_ctx *levi_backbone_ctx(const levi_backbone *bb);
int levi_backbone_train_mode(const levi_backbone *bb);
int levi_backbone_max_batch(const levi_backbone *bb);
int levi_backbone_hidden(const levi_backbone *bb);
int levi_backbone_depth(const levi_backbone *bb);

/* in: the batch on levi_backbone_ctx(bb); B ≤ max batch. */
levi_status levi_backbone_forward(levi_backbone *bb, const levi_input *in, int B);
/* Pooled (B, hidden) features of tap l (0..depth) of the last forward;
 * valid until the next forward. */
levi_tensor levi_backbone_tap(levi_backbone *bb, int l, int B);
/* Only when trainable (mode FULL or LORA). */
levi_status levi_backbone_backward(levi_backbone *bb, const levi_tensor *const *dtaps, const int *taps, int ntaps,
                                   int B);
levi_status levi_backbone_zero_grad(levi_backbone *bb);
/* The one parameter group that trains (flat params, grads, AdamW moments);
 * 1, or 0 when frozen. Outputs may be NULL. */
int levi_backbone_trainable(levi_backbone *bb, levi_tensor *params, levi_tensor *grads, levi_tensor *adam_m,
                            levi_tensor *adam_v);
/* Weights named prefix + the architecture's own names (e.g. "backbone." +
 * Hugging Face names for the ViT). */
levi_status levi_backbone_write_weights(const levi_backbone *bb, struct levi_st_writer *w, const char *prefix);
levi_status levi_backbone_read_weights(levi_backbone *bb, const struct levi_safetensors *st, const char *prefix);
/* The config as text (malloc'ed; levi_backbone_from_config reads it back). */
char *levi_backbone_config_text(const levi_backbone *bb);
/* Parameters of the base network; *adapter_params (may be NULL) the LoRA ones. */
size_t levi_backbone_num_params(const levi_backbone *bb, size_t *adapter_params);

#ifdef __cplusplus
}
#endif
#endif
