/* levi/levi_model.h — a complete classifier for one of the six methods of
 * DESIGN.md section 1: the (optional) ViT backbone read at taps, the
 * (optional) task model g, the LEVI fusion and adapters, and its
 * self-contained model file.
 *
 *   method     backbone        taps                g     fusion / head
 *   scratch    none            -                   yes   linear head on z
 *   lp         frozen          {depth}             no    linear head on h
 *   ft         full            {depth}             no    linear head on h
 *   lora       LoRA rank r     {depth}             no    linear head on h
 *   levi       frozen          S (default mid,last) yes  concat | ensemble, adapter mlp|linear
 *   levi+lora  LoRA rank r     S                   yes   concat | ensemble
 *
 * Taps use levi_vit_cls numbering: l in 0..depth-1 is block l's output CLS
 * token, l == depth the CLS token after the final layernorm.
 *
 * Model file (safetensors): "backbone.*" (HF ViTModel names, LoRA included
 * when present), "head.*" (task model "head.g.*", adapters "head.adapter{i}.*",
 * ensemble weights "head.alpha"), and __metadata__:
 *   format "levi-model", version "1", method, config (JSON of
 *   levi_model_config), vit_config (HF config.json text, absent for scratch),
 *   class_names (JSON array of strings).
 * A training checkpoint adds "opt.head.m/v", "opt.backbone.m/v" (flat AdamW
 * moments) and __metadata__ "train_state" (JSON: epoch, step, seed). */
#ifndef LEVI_LEVI_MODEL_H
#define LEVI_LEVI_MODEL_H

#include "levi/nn.h"
#include "levi/vit.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LEVI_MAX_TAPS 16

typedef enum {
    LEVI_METHOD_SCRATCH = 0,
    LEVI_METHOD_LP,
    LEVI_METHOD_FT,
    LEVI_METHOD_LORA,
    LEVI_METHOD_LEVI,
    LEVI_METHOD_LEVI_LORA,
} levi_method;

typedef enum { LEVI_FUSION_CONCAT = 0, LEVI_FUSION_ENSEMBLE = 1 } levi_fusion;

typedef struct levi_model_config {
    levi_method method;
    int num_classes;
    int channels, height, width; /* input images */
    float image_mean, image_std; /* pixels in [0,1] are normalized (x - mean)/std */
    levi_task_config task;       /* kind NONE for lp/ft/lora */
    int ntaps;
    int taps[LEVI_MAX_TAPS];
    levi_fusion fusion;
    int adapter_linear; /* 1: A is one Linear (lp/ft/lora/scratch always) */
    int adapter_hidden; /* default 128 */
    float lambda;       /* ensemble auxiliary loss weight, default 0.5 */
    int lora_rank;      /* lora / levi+lora, default 4 */
    unsigned long long seed;
} levi_model_config;

typedef struct levi_model levi_model;

const char *levi_method_name(levi_method m);
levi_status levi_method_parse(const char *name, levi_method *out);
/* Defaults for a method: mlp task model of 128, concat, adapter hidden 128,
 * lambda 0.5, rank 4; taps filled by levi_model_create when ntaps == 0. */
void levi_model_config_default(levi_model_config *c, levi_method m);
/* Which backbone mode a method trains with (LEVI_VIT_FROZEN/FULL/LORA), or -1
 * when it has no backbone (scratch). */
int levi_method_backbone_mode(levi_method m);

/* Build a model. `backbone` (may be NULL for scratch) is taken over (freed
 * with the model, also on error); its train mode must match the method.
 * Taps default to {depth/2 - 1, depth} for levi, {depth} otherwise.
 * max_batch bounds every forward. Parameters are initialized from cfg->seed. */
levi_status levi_model_create(levi_model **out, levi_ctx *ctx, const levi_model_config *cfg, levi_vit *backbone,
                              int max_batch);
/* Build from a model file or checkpoint (self-contained). trainable = 1 keeps
 * gradient and optimizer storage (for --resume); 0 is inference only. */
levi_status levi_model_load(levi_model **out, levi_ctx *ctx, const char *path, int max_batch, int trainable);
void levi_model_free(levi_model *m);

const levi_model_config *levi_model_get_config(const levi_model *m);
levi_vit *levi_model_backbone(levi_model *m);
/* Class names (num_classes strings, owned by the model); set before saving. */
const char *const *levi_model_class_names(const levi_model *m);
levi_status levi_model_set_class_names(levi_model *m, const char *const *names, int count);
int levi_model_max_batch(const levi_model *m);
/* Trainable parameter count (head + trainable backbone part). */
size_t levi_model_num_trainable(const levi_model *m);

/* The head's parameter table (task model, adapters, alpha): names, values,
 * gradients and AdamW moments, for tests, inspection and gradient allreduce. */
levi_params *levi_model_head_params(levi_model *m);

/* Width of the concatenated tap features (ntaps · hidden), 0 without taps. */
int levi_model_feature_dim(const levi_model *m);
/* 1 when the tap features of an input never change during training (the
 * backbone is frozen and has taps): they can be computed once and cached. */
int levi_model_features_cacheable(const levi_model *m);
/* feats (B, feature_dim) = [h_t1; h_t2; ...] for pixels (B,C,H,W). */
levi_status levi_model_features(levi_model *m, const levi_tensor *pixels, const levi_tensor *feats, int B);

/* Input staging tensors owned by the model (valid views for B <= max_batch):
 * pixels (B,C,H,W), labels (B), tap features (B, feature_dim; NULL-buf when
 * feature_dim is 0). Callers may pass their own tensors to forward instead. */
levi_tensor levi_model_input_pixels(levi_model *m, int B);
levi_tensor levi_model_input_labels(levi_model *m, int B);
levi_tensor levi_model_input_feats(levi_model *m, int B);

/* Forward: pixels (B,C,H,W) normalized; feats (B, feature_dim) precomputed
 * tap features or NULL (then the backbone runs). labels (B, exact integers as
 * floats) may be NULL (no loss). With labels, *loss (mean, the full LEVI loss)
 * and *correct are returned when non-NULL. */
levi_status levi_model_forward(levi_model *m, const levi_tensor *pixels, const levi_tensor *feats,
                               const levi_tensor *labels, int B, float *loss, int *correct);
/* The logits (B, num_classes) of the last forward. */
levi_tensor levi_model_logits(levi_model *m, int B);
/* Gradients of the last forward's loss (needs labels), accumulated. */
levi_status levi_model_backward(levi_model *m, int B);
levi_status levi_model_zero_grad(levi_model *m);
/* One AdamW step (t ≥ 1) over every trainable parameter; grad_clip > 0
 * clips the global norm first (over head and backbone together). */
levi_status levi_model_step(levi_model *m, const levi_adamw_cfg *cfg, int t, float grad_clip, float *grad_norm);

/* Convenience for inference: images (n, C, H, W) in [0,1] on the host →
 * probs (n, num_classes) on the host (batches of max_batch). */
levi_status levi_model_predict(levi_model *m, const float *images, int n, float *probs);

/* Save the model file atomically. extra_meta (key/value pairs, n_extra) may be
 * NULL; with_optimizer adds the AdamW moments (checkpoints). */
levi_status levi_model_save(levi_model *m, const char *path, const char *const *extra_meta_kv, int n_extra,
                            int with_optimizer);
/* Read parameters (and moments when with_optimizer) from a model file into an
 * existing model of the same configuration. */
levi_status levi_model_read_weights(levi_model *m, const struct levi_safetensors *st, const char *path,
                                    int with_optimizer);

#ifdef __cplusplus
}
#endif
#endif
