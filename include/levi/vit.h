/* levi/vit.h — a pre-LN Vision Transformer with Hugging Face ViTModel weight
 * names, forward and backward on device, optional LoRA on query and value.
 *
 * Weight names (HF ViTModel; ViTForImageClassification adds a "vit." prefix):
 *   embeddings.cls_token (1,1,D), embeddings.position_embeddings (1,T,D),
 *   embeddings.patch_embeddings.projection.{weight (D,C,P,P), bias (D)},
 *   encoder.layer.{i}.layernorm_before.{weight,bias} (D),
 *   encoder.layer.{i}.attention.attention.{query,key,value}.{weight (D,D), bias (D)},
 *   encoder.layer.{i}.attention.output.dense.{weight (D,D), bias (D)},
 *   encoder.layer.{i}.layernorm_after.{weight,bias} (D),
 *   encoder.layer.{i}.intermediate.dense.{weight (M,D), bias (M)},
 *   encoder.layer.{i}.output.dense.{weight (D,M), bias (D)},
 *   layernorm.{weight,bias} (D)
 * with T = 1 + (image_size/patch_size)^2 tokens. */
#ifndef LEVI_VIT_H
#define LEVI_VIT_H

#include "levi/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

struct levi_st_writer;
struct levi_safetensors;

typedef struct levi_vit_config {
    int image_size, patch_size, num_channels, hidden_size, num_hidden_layers, num_attention_heads,
        intermediate_size;
    float layer_norm_eps;
    int qkv_bias;
    /* preprocessing (HF: image_mean/std from the preprocessor; default 0.5/0.5) */
    float image_mean, image_std;
} levi_vit_config;

typedef struct levi_vit levi_vit; /* opaque */

/* Training modes of levi_vit_create / levi_vit_load. */
enum { LEVI_VIT_FROZEN = 0, LEVI_VIT_FULL = 1, LEVI_VIT_LORA = 2 };

/* vit-tiny for 28×28 gray: image 28, patch 7, channels 1, dim 64, depth 4,
 * heads 4, mlp 128, eps 1e-12, qkv_bias 1, mean/std 0.5/0.5. */
void levi_vit_config_default(levi_vit_config *c);

/* Check a configuration; errors name the field and what was expected. */
levi_status levi_vit_config_validate(const levi_vit_config *c);

/* Allocate for batches up to max_batch. train_mode: 0 frozen (no grads, no
 * optimizer state, activations only as needed), 1 full fine-tuning (grads for
 * every weight), 2 LoRA (frozen base, trainable A (r,D), B (D,r) of rank
 * lora_rank on query and value; lora_alpha = rank, so scale 1:
 * q = x Wqᵀ + bq + (x Aᵀ) Bᵀ). lora_rank > 0 with train_mode 0 applies the
 * adapters without training them (inference of a LoRA model, no gradient
 * memory). train_mode 1 takes no LoRA. */
levi_status levi_vit_create(levi_vit **out, levi_ctx *ctx, const levi_vit_config *cfg, int max_batch,
                            int train_mode, int lora_rank);

/* Device memory a ViT would take (bytes per arena, none allocated): one
 * buffer per role, so `largest` must fit the device's largest allocation and
 * `total` its global memory (with the rest of the run). Same checks and
 * errors as levi_vit_create. */
typedef struct levi_vit_memory {
    size_t params, lora, grads, adam_m, adam_v, acts;
    size_t total, largest;
} levi_vit_memory;
levi_status levi_vit_memory_plan(const levi_vit_config *cfg, int max_batch, int train_mode, int lora_rank,
                                 levi_vit_memory *out);

/* HF-like init: trunc-normal(0.02) weights, zero biases, LayerNorm 1/0;
 * LoRA A random, B zero. Deterministic for a seed. */
levi_status levi_vit_init_random(levi_vit *v, unsigned long long seed);

/* Re-initialize only the LoRA weights (A random as peft's kaiming-uniform,
 * B zero), e.g. with the training seed after levi_vit_load. No-op without LoRA. */
levi_status levi_vit_init_lora(levi_vit *v, unsigned long long seed);

/* Load a HF folder (config.json + model.safetensors; accepts the "vit."
 * prefix; ignores classifier.* and pooler.*). image_mean/std come from
 * config.json, else preprocessor_config.json, else 0.5/0.5 (per-channel lists
 * are averaged here; the data loader applies them per channel, see levi/data.h). With lora_rank > 0
 * the LoRA tensors are loaded when the file has all of them (same rank), else
 * initialized (A random, B zero). Errors name the file and the tensor/field. */
levi_status levi_vit_load(levi_vit **out, levi_ctx *ctx, const char *folder, int max_batch, int train_mode,
                          int lora_rank);

/* Save HF layout: folder/config.json + folder/model.safetensors (each written
 * atomically; folder created). LoRA weights are not merged: they are saved as
 * "encoder.layer.{i}.attention.attention.{query,value}.lora_{A,B}" only when
 * save_lora is 1. */
levi_status levi_vit_save(const levi_vit *v, const char *folder, int save_lora);

/* The config as HF config.json text (malloc'ed; caller frees). */
char *levi_vit_config_json(const levi_vit_config *c);
/* Parse HF config.json text; `name` (a path) is used in error messages. */
levi_status levi_vit_config_parse(levi_vit_config *c, const char *json_text, const char *name);

/* Add the backbone's weights into a writer (for self-contained model files),
 * names prefixed by `prefix` (e.g. "backbone."; may be ""); LoRA tensors are
 * included when the model has them (lora_rank > 0). And load them back from a
 * read safetensors with the same prefix (LoRA tensors required iff
 * lora_rank > 0; a missing tensor is LEVI_ERR_NOT_FOUND, a wrong shape
 * LEVI_ERR_SHAPE, both naming the tensor). */
levi_status levi_vit_write_weights(const levi_vit *v, struct levi_st_writer *w, const char *prefix);
levi_status levi_vit_read_weights(levi_vit *v, const struct levi_safetensors *st, const char *prefix);

const levi_vit_config *levi_vit_get_config(const levi_vit *v);
int levi_vit_train_mode(const levi_vit *v);
int levi_vit_max_batch(const levi_vit *v);

/* Forward pixels (B, C, H, W) already normalized; stores activations for
 * backward when train_mode != 0. B <= max_batch. */
levi_status levi_vit_forward(levi_vit *v, const levi_tensor *pixels, int B);

/* CLS feature (B, hidden) view: layer l in [0, depth-1] is the CLS token of
 * block l's output (HF hidden_states[l+1]); l == depth is the CLS token after
 * the final layernorm (what ViTForImageClassification's classifier reads).
 * Valid until the next forward. */
levi_tensor levi_vit_cls(levi_vit *v, int l, int B);

/* Hidden states (B, T, hidden) of the last forward: l = 0 the embeddings, l in
 * [1, depth] block l-1's output (HF hidden_states[l]), l == depth + 1 after the
 * final layernorm (HF last_hidden_state). */
levi_tensor levi_vit_hidden(levi_vit *v, int l, int B);

/* Backward: dcls[i] (B, hidden) is the gradient w.r.t. levi_vit_cls(v,
 * taps[i]); accumulates into the trainable grads (call levi_vit_zero_grad
 * first). Only when train_mode != 0. */
levi_status levi_vit_backward(levi_vit *v, const levi_tensor *const *dcls, const int *taps, int ntaps, int B);
levi_status levi_vit_zero_grad(levi_vit *v);

/* Trainable parameters as flat tensors for AdamW / clipping / allreduce:
 * params, grads, m, v (same numel). Returns the number of tensors (1) or 0
 * when frozen. Any output pointer may be NULL. */
int levi_vit_trainable(levi_vit *v, levi_tensor *params, levi_tensor *grads, levi_tensor *adam_m,
                       levi_tensor *adam_v);

/* Views of the weight called `name` (HF name, e.g. "layernorm.weight" or
 * "encoder.layer.0.attention.attention.query.lora_A") and of its gradient
 * (grad->numel == 0 when that weight is not trainable). param or grad may be
 * NULL. LEVI_ERR_NOT_FOUND for an unknown name. */
levi_status levi_vit_find(levi_vit *v, const char *name, levi_tensor *param, levi_tensor *grad);

/* Number of parameters of the backbone (excluding LoRA) and of LoRA. */
size_t levi_vit_num_params(const levi_vit *v, size_t *lora_params);

void levi_vit_free(levi_vit *v);

#ifdef __cplusplus
}
#endif
#endif
