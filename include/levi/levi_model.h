/* levi/levi_model.h — a complete classifier for one of the six methods of
 * DESIGN.md section 1: the (optional) backbone read at taps (levi/backbone.h:
 * the ViT, or another architecture), the (optional) task model g, the LEVI
 * fusion and adapters, and its self-contained model file.
 *
 * Two stages: the backbone stage runs on the backbone's own ctx, the head
 * stage (task model, adapters, fusion, loss, optimizer) on the model's ctx;
 * both may be the same ctx. Tap features cross from one to the other in one
 * explicit hand-off per batch (levi_model_handoff_features): no copy on one
 * ctx, one transfer through host memory between contexts.
 *
 *   method     backbone        taps                g     fusion / head
 *   scratch    none            -                   yes   linear head on z
 *   lp         frozen          {depth}             no    linear head on h
 *   ft         full            {depth}             no    linear head on h
 *   lora       LoRA rank r     {depth}             no    linear head on h
 *   levi       frozen          S (default mid,last) yes  late | concat | ensemble, adapter mlp|linear
 *   levi+lora  LoRA rank r     S                   yes   late | concat | ensemble
 *
 * Taps use levi_vit_cls numbering: l in 0..depth-1 is block l's output CLS
 * token, l == depth the CLS token after the final layernorm.
 *
 * Model file (safetensors): "backbone.*" (HF ViTModel names, LoRA included
 * when present), "head.*" (task model "head.g.*", adapters "head.adapter{i}.*",
 * ensemble weights "head.alpha"), and __metadata__:
 *   format "levi-model", version "1", method, config (JSON of
 *   levi_model_config), vit_config (HF config.json text, absent for scratch),
 *   class_names (JSON array of strings). A backbone other than the ViT adds
 *   "backbone" (its kind, e.g. "bert") and stores its config text under its
 *   own key (levi_backbone_config_key).
 *   "preprocessor" (optional) is the HF preprocessor_config.json the data was
 *   prepared with (per-channel mean/std included).
 *   "tokenizer" (models that read token ids) is the tokenizer that made them
 *   (levi/text.h levi_tokenizer_json: vocabulary and options), so a model
 *   file reads text without the model folder.
 * A training checkpoint adds "opt.head.m/v", "opt.backbone.m/v" (flat AdamW
 * moments) and __metadata__ "train_state" (JSON: epoch, step, seed). */
#ifndef LEVI_LEVI_MODEL_H
#define LEVI_LEVI_MODEL_H

#include "levi/backbone.h"
#include "levi/nn.h"

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

/* concat: one adapter on [taps; z] (the paper's). ensemble: one adapter per
 * tap on [h_l; z], logits mixed by softmax(alpha), loss CE(mix) + lambda ·
 * mean CE(per tap). late: two views, each with its own head and loss — the
 * backbone (adapter on the taps side by side) and the task model (a Linear
 * on z, the head of scratch) — mixed by softmax(alpha); the views learn only
 * from their own losses (weighted lambda), the mixture loss trains alpha. */
typedef enum { LEVI_FUSION_CONCAT = 0, LEVI_FUSION_ENSEMBLE = 1, LEVI_FUSION_LATE = 2 } levi_fusion;

typedef struct levi_model_config {
    levi_method method;
    int num_classes;
    int channels, height, width; /* input images (0 for token input) */
    float image_mean, image_std; /* pixels in [0,1] are normalized (x - mean)/std; the per-channel values
                                    of the data preprocessing are in levi_model_preprocessor() */
    levi_input_kind input;       /* what the model reads: images, or token ids with their mask (texts);
                                    with a backbone its view decides (levi_model_create sets this) */
    int seq_len;                 /* token input: T (with a backbone: the backbone's) */
    levi_task_config task;       /* kind NONE for lp/ft/lora */
    int ntaps;
    int taps[LEVI_MAX_TAPS];
    levi_fusion fusion;
    int adapter_linear; /* 1: A is one Linear (lp/ft/lora/scratch always) */
    int adapter_hidden; /* default 128 */
    float lambda;       /* ensemble: auxiliary loss weight; late: per-view loss weight (default 0.5) */
    float distill;      /* late: weight of the task view's extra loss CE(p_backbone, p_task), the backbone
                           view's probabilities (no gradient into it) as soft labels (default 0: none) */
    int lora_rank;      /* lora / levi+lora, default 4 */
    unsigned long long seed;
} levi_model_config;

typedef struct levi_model levi_model;

const char *levi_method_name(levi_method m);
/* "concat", "ensemble" or "late" */
const char *levi_fusion_name(levi_fusion f);
levi_status levi_method_parse(const char *name, levi_method *out);
/* Defaults for a method: mlp task model of 128 (for token input choose ngram:
 * 32768 buckets of width 64), late fusion for levi and levi+lora, adapter
 * hidden 128, lambda 0.5, rank 4; taps filled by levi_model_create when
 * ntaps == 0. */
void levi_model_config_default(levi_model_config *c, levi_method m);
/* Which backbone mode a method trains with (LEVI_BACKBONE_FROZEN / FULL /
 * LORA), or -1 when it has no backbone (scratch). */
int levi_method_backbone_mode(levi_method m);

/* Build a model whose head stage runs on ctx. `backbone` (NULL for
 * scratch) runs on its own ctx (levi_backbone_ctx: the same or another one)
 * and is taken over (freed with the model, also on error); its train mode
 * must match the method (levi_method_backbone_mode). Taps default to
 * {depth/2 - 1, depth} for levi, {depth} otherwise. max_batch bounds every
 * forward. Parameters are initialized from cfg->seed. */
levi_status levi_model_create(levi_model **out, levi_ctx *ctx, const levi_model_config *cfg, levi_backbone *backbone,
                              int max_batch);
/* Build from a model file or checkpoint (self-contained), both stages on
 * ctx. trainable = 1 keeps gradient and optimizer storage (for --resume); 0
 * is inference only. */
levi_status levi_model_load(levi_model **out, levi_ctx *ctx, const char *path, int max_batch, int trainable);
/* The same with the backbone stage on backbone_ctx (may equal ctx). */
levi_status levi_model_load_placed(levi_model **out, levi_ctx *ctx, levi_ctx *backbone_ctx, const char *path,
                                   int max_batch, int trainable);
void levi_model_free(levi_model *m);

const levi_model_config *levi_model_get_config(const levi_model *m);
/* The backbone (owned by the model), NULL for scratch. */
levi_backbone *levi_model_backbone(levi_model *m);
/* The head stage's ctx, and the backbone stage's (== the head's when
 * together; NULL for scratch). */
levi_ctx *levi_model_ctx(const levi_model *m);
levi_ctx *levi_model_backbone_ctx(const levi_model *m);
/* The input view every forward takes (pixels, or token ids + mask). */
const levi_input_spec *levi_model_input_spec(const levi_model *m);
/* Class names (num_classes strings, owned by the model); set before saving. */
const char *const *levi_model_class_names(const levi_model *m);
levi_status levi_model_set_class_names(levi_model *m, const char *const *names, int count);
int levi_model_max_batch(const levi_model *m);
/* Trainable parameter count (head + trainable backbone part). */
size_t levi_model_num_trainable(const levi_model *m);

/* The head's parameter table (task model, adapters, alpha): names, values,
 * gradients and AdamW moments, for tests and inspection. */
levi_params *levi_model_head_params(levi_model *m);

/* Width of the concatenated tap features (ntaps · hidden), 0 without taps. */
int levi_model_feature_dim(const levi_model *m);
/* 1 when the tap features of an input never change during training (the
 * backbone is frozen and has taps): they can be computed once and cached. */
int levi_model_features_cacheable(const levi_model *m);
/* feats (B, feature_dim) on the head ctx = [h_t1; h_t2; ...] for the input
 * x (B, ...) on the head ctx (through the backbone stage); token ids take
 * the model's own mask staging (levi_model_input_mask). */
levi_status levi_model_features(levi_model *m, const levi_tensor *x, const levi_tensor *feats, int B);
/* The same for a full input on the head ctx (token ids with their mask). */
levi_status levi_model_features_input(levi_model *m, const levi_input *in, const levi_tensor *feats, int B);

/* Input staging tensors owned by the model, on the head ctx (valid views for
 * B <= max_batch): x — pixels (B,C,H,W), or token ids (B,T) —, the attention
 * mask (B,T) of token input (buf NULL for pixels), labels (B), tap features
 * (B, feature_dim; buf NULL when feature_dim is 0). Callers may pass their
 * own tensors to forward instead. */
levi_tensor levi_model_input_pixels(levi_model *m, int B);
levi_tensor levi_model_input_mask(levi_model *m, int B);
levi_tensor levi_model_input_labels(levi_model *m, int B);
levi_tensor levi_model_input_feats(levi_model *m, int B);

/* --- the two stages, explicitly (a pipeline over batches uses these) ----- */

/* The backbone stage's input buffers for a batch of B (on the backbone ctx;
 * the head's input staging when both stages share a ctx). */
levi_input levi_model_stage_input(levi_model *m, int B);
/* Backbone forward of `in` (on the backbone ctx) and its taps side by side
 * into the stage's feature buffer. *done (may be NULL) receives an event on
 * the backbone ctx that completes with the features. */
levi_status levi_model_backbone_forward(levi_model *m, const levi_input *in, int B, cl_event *done);
/* The features of the last backbone forward → levi_model_input_feats(m, B)
 * on the head ctx, after the events in wait (on the backbone ctx). One ctx:
 * nothing moves (the backbone stage wrote there); two: one transfer through
 * host memory (the host waits for the features: one counted sync). *done (may be NULL) receives an event on
 * the head ctx. */
levi_status levi_model_handoff_features(levi_model *m, int B, cl_uint n_wait, const cl_event *wait,
                                        cl_event *done);

/* --- a training step ------------------------------------------------------ */

/* Forward: x (B, ...) normalized input on the head ctx (pixels (B,C,H,W));
 * feats (B, feature_dim) on the head ctx, precomputed tap features, or NULL
 * (then the backbone stage runs on x and hands its features over). labels
 * (B, exact integers as floats) may be NULL (no loss). With labels, *loss
 * (mean, the full LEVI loss) and *correct are returned when non-NULL, which
 * waits for them (blocking reads). */
levi_status levi_model_forward(levi_model *m, const levi_tensor *x, const levi_tensor *feats,
                               const levi_tensor *labels, int B, float *loss, int *correct);
/* The same with a full input on the head ctx (token ids need their mask). */
levi_status levi_model_forward_input(levi_model *m, const levi_input *in, const levi_tensor *feats,
                                     const levi_tensor *labels, int B, float *loss, int *correct);
/* The logits (B, num_classes) of the last forward. */
levi_tensor levi_model_logits(levi_model *m, int B);
/* Gradients of the last forward's loss (needs labels), accumulated into every
 * trainable group (head; backbone when it trains). */
levi_status levi_model_backward(levi_model *m, int B);
/* The same for a shard of B samples of a global batch of global_batch ≥ B
 * samples split over replicas: every loss term is divided by the global
 * batch (cross-entropy 1/G), so the sum of the shards' gradients is the
 * global batch's mean. levi_model_backward(m, B) is global_batch = B. */
levi_status levi_model_backward_shard(levi_model *m, int B, int global_batch);
levi_status levi_model_zero_grad(levi_model *m);

/* The trainable parameters in flat groups — params, grads and AdamW moments
 * of equal numel, on the group's ctx: "head" (task model, adapters, alpha),
 * then "backbone" when the backbone trains (ft, lora, levi+lora). A comm
 * layer sums the grads of every replica between backward and
 * levi_model_step. Returns the number of groups written (at most max). */
typedef struct levi_grad_group {
    const char *name;
    levi_ctx *ctx;
    levi_tensor params, grads, adam_m, adam_v;
} levi_grad_group;
int levi_model_grad_groups(levi_model *m, levi_grad_group *out, int max);

/* The update: one AdamW step (t ≥ 1) over every trainable group; grad_clip
 * > 0 clips the global norm first (over all groups together). The norm, the
 * clip scale and the check for a non-finite norm stay on the device: with
 * grad_norm NULL nothing is read back (a non-finite norm skips the update
 * and is recorded for levi_model_metrics_read as bad_grad_step = t); with
 * grad_norm set, the norm is read (one blocking read) and a non-finite norm
 * returns LEVI_ERR_NOT_FINITE. The clip and AdamW are one launch each over
 * the head and a trainable backbone on the same ctx; with the backbone on
 * another ctx, the norms meet on the host (one blocking read per group). */
levi_status levi_model_step(levi_model *m, const levi_adamw_cfg *cfg, int t, float grad_clip, float *grad_norm);

/* --- metrics on the device ---------------------------------------------------
 * Two sets (LEVI_METRICS_TRAIN, LEVI_METRICS_EVAL) of sums on the head ctx:
 * every accumulate adds the last forward's per-sample losses (the full LEVI
 * loss) and correct predictions without waiting; a read waits once. */
enum { LEVI_METRICS_TRAIN = 0, LEVI_METRICS_EVAL = 1 };
typedef struct levi_metrics {
    double loss_sum;     /* Σ per-sample loss since the reset */
    long correct, n;     /* correct predictions and samples since the reset */
    float last_loss;     /* mean loss of the last accumulated batch */
    int last_correct;    /* its correct predictions */
    long bad_loss_step;  /* first step whose batch loss was not finite (0: none) */
    float bad_loss;      /* that loss */
    long bad_grad_step;  /* train set: first step whose gradient norm was not finite (0: none) */
    float bad_grad_norm; /* that norm, and the batch loss of that step */
    float bad_grad_loss;
    float grad_norm; /* train set: the norm of the last levi_model_step */
} levi_metrics;
/* Zero the sums of a set (enqueued); clear_flags also forgets the recorded
 * non-finite steps. */
levi_status levi_model_metrics_reset(levi_model *m, int set, int clear_flags);
/* Add the last forward (with labels, batch B) to a set; `step` (≥ 1) is
 * recorded when its loss is not finite. Enqueued, one launch. */
levi_status levi_model_metrics_accumulate(levi_model *m, int B, int set, long step);
/* One blocking read of a set. */
levi_status levi_model_metrics_read(levi_model *m, int set, levi_metrics *out);

/* Per-step values: every accumulate also keeps its batch's mean loss and
 * correct count in slot step % LEVI_METRICS_RING of a ring beside the set's
 * sums, so the values of up to LEVI_METRICS_RING consecutive steps come back
 * in one read, taken without waiting. */
#define LEVI_METRICS_RING 128
#define LEVI_METRICS_SNAPSHOT_FLOATS (16 + 2 * LEVI_METRICS_RING)
typedef struct levi_metrics_snapshot {
    float raw[LEVI_METRICS_SNAPSHOT_FLOATS]; /* the set's sums, then its ring, as on the device */
} levi_metrics_snapshot;
/* Enqueue a read of a set's sums and ring into *out; nothing waits. *done
 * completes once *out holds them (out must stay valid until then). */
levi_status levi_model_metrics_read_async(levi_model *m, int set, levi_metrics_snapshot *out, cl_event *done);
/* The sums of a completed snapshot, as levi_model_metrics_read gives them. */
void levi_metrics_snapshot_sums(const levi_metrics_snapshot *s, levi_metrics *out);
/* Step `step`'s batch (mean loss, correct predictions) from a completed
 * snapshot taken after that step and fewer than LEVI_METRICS_RING steps later. */
void levi_metrics_snapshot_step(const levi_metrics_snapshot *s, long step, float *loss, int *correct);

/* Confusion matrix (K,K) of predictions (argmax of the logits, first maximum)
 * against labels, on the device: reset, add the last forward's batch
 * (labels (B) as passed to it), read once (rows: true class). */
levi_status levi_model_confusion_reset(levi_model *m);
levi_status levi_model_confusion_accumulate(levi_model *m, const levi_tensor *labels, int B);
levi_status levi_model_confusion_read(levi_model *m, int *out);

/* Convenience for inference: images (n, C, H, W) in [0,1] on the host →
 * probs (n, num_classes) on the host (batches of max_batch). */
levi_status levi_model_predict(levi_model *m, const float *images, int n, float *probs);

/* The same for pixels that are the model's input already (normalised by
 * the data loader or levi_image_preprocess, per channel). */
levi_status levi_model_predict_normalized(levi_model *m, const float *pixels, int n, float *probs);

/* The data preprocessing the model was trained with (preprocessor_config.json
 * text, see levi/data.h levi_preprocess_json), saved as __metadata__
 * "preprocessor"; NULL for model files without one (then image_mean/std
 * above on every channel). The text is copied; NULL clears it. */
levi_status levi_model_set_preprocessor(levi_model *m, const char *json);
const char *levi_model_preprocessor(const levi_model *m);

/* Texts already tokenised: ids and mask (n, T) on the host, T the model's
 * seq_len → probs (n, num_classes) on the host (batches of max_batch). */
levi_status levi_model_predict_tokens(levi_model *m, const float *ids, const float *mask, int n, float *probs);
/* The tokenizer of a token-input model (levi_tokenizer_json text), saved as
 * __metadata__ "tokenizer"; NULL when unset. The text is copied; NULL clears. */
levi_status levi_model_set_tokenizer(levi_model *m, const char *json);
const char *levi_model_tokenizer(const levi_model *m);

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
