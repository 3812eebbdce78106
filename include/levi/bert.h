/* levi/bert.h — a BERT encoder (post-LN) with Hugging Face BertModel weight
 * names, forward and backward on device, optional LoRA on query and value,
 * and the backbone interface for it (token ids in, pooled taps out).
 *
 * Weight names (HF BertModel; BertFor* models add a "bert." prefix):
 *   embeddings.{word_embeddings (V,D), position_embeddings (P,D),
 *               token_type_embeddings (TT,D)}.weight, embeddings.LayerNorm.{weight,bias},
 *   encoder.layer.{i}.attention.self.{query,key,value}.{weight (D,D), bias (D)},
 *   encoder.layer.{i}.attention.output.dense.{weight,bias}, ...attention.output.LayerNorm.{weight,bias},
 *   encoder.layer.{i}.intermediate.dense.{weight (M,D), bias (M)},
 *   encoder.layer.{i}.output.dense.{weight (D,M), bias (D)}, ...output.LayerNorm.{weight,bias};
 * pooler.* is not used. model_type must be "bert": RoBERTa, XLM-RoBERTa and
 * DistilBERT folders are refused (byte-level BPE / SentencePiece tokenizers,
 * other position ids or other weight names).
 *
 * Inputs: ids (B,T) and mask (B,T) as floats, token type 0, positions 0..T-1.
 * Taps l = 0..L: hidden_states[l] of HF (0: the embeddings' output), pooled by
 * the [CLS] token or by the masked mean over tokens (sentence-transformers'
 * 1_Pooling/config.json decides; CLS without it). */
#ifndef LEVI_BERT_H
#define LEVI_BERT_H

#include "levi/backbone.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { LEVI_POOL_CLS = 0, LEVI_POOL_MEAN = 1 } levi_pooling;

typedef struct levi_bert_config {
    int vocab_size, hidden_size, num_hidden_layers, num_attention_heads, intermediate_size,
        max_position_embeddings, type_vocab_size;
    float layer_norm_eps;
    int pooling; /* levi_pooling */
} levi_bert_config;

typedef struct levi_bert levi_bert;

levi_status levi_bert_config_validate(const levi_bert_config *c);
/* config.json text (model_type, hidden_act "gelu", sizes) plus "pooling"
 * ("cls" or "mean", levi's own key, written by levi_bert_config_json). */
levi_status levi_bert_config_parse(levi_bert_config *c, const char *json_text, const char *name);
char *levi_bert_config_json(const levi_bert_config *c); /* malloc'ed */

/* Sequences of exactly seq_len tokens (≤ max_position_embeddings), batches
 * up to max_batch; train_mode and lora_rank as levi_vit_create. Weights are
 * zero until loaded or initialized. */
levi_status levi_bert_create(levi_bert **out, levi_ctx *ctx, const levi_bert_config *cfg, int max_batch,
                             int seq_len, int train_mode, int lora_rank);
/* HF-like init: normal(0.02) weights, zero biases, LayerNorm 1/0; LoRA A
 * random, B zero. */
levi_status levi_bert_init_random(levi_bert *b, unsigned long long seed);
/* A Hugging Face folder: config.json, model.safetensors (with or without the
 * "bert." prefix), 1_Pooling/config.json when present. */
levi_status levi_bert_load(levi_bert **out, levi_ctx *ctx, const char *folder, int max_batch, int seq_len,
                           int train_mode, int lora_rank);
void levi_bert_free(levi_bert *b);

const levi_bert_config *levi_bert_get_config(const levi_bert *b);
int levi_bert_seq_len(const levi_bert *b);

/* ids, mask (B,T) floats on b's ctx. */
levi_status levi_bert_forward(levi_bert *b, const levi_tensor *ids, const levi_tensor *mask, int B);
/* hidden_states[l] (B,T,D), l = 0..L, of the last forward. */
levi_tensor levi_bert_hidden(levi_bert *b, int l, int B);
/* Tap l pooled (B,D) (CLS or masked mean), of the last forward. */
levi_tensor levi_bert_tap(levi_bert *b, int l, int B);
/* dtaps[i] (B,D) = d loss / d tap taps[i]; accumulates into the trainable gradients. */
levi_status levi_bert_backward(levi_bert *b, const levi_tensor *const *dtaps, const int *taps, int ntaps, int B);
levi_status levi_bert_zero_grad(levi_bert *b);
int levi_bert_trainable(levi_bert *b, levi_tensor *params, levi_tensor *grads, levi_tensor *adam_m,
                        levi_tensor *adam_v);
/* A weight (or its gradient: buf NULL when not trainable) by HF name. */
levi_status levi_bert_find(levi_bert *b, const char *name, levi_tensor *param, levi_tensor *grad);
levi_status levi_bert_read_weights(levi_bert *b, const struct levi_safetensors *st, const char *prefix);
levi_status levi_bert_write_weights(const levi_bert *b, struct levi_st_writer *w, const char *prefix);
size_t levi_bert_num_params(const levi_bert *b, size_t *lora_params);

/* BERT as a backbone (input: tokens, seq_len T); the bert is taken over. */
levi_status levi_backbone_from_bert(levi_backbone **out, levi_ctx *ctx, levi_bert *bert);

#ifdef __cplusplus
}
#endif
#endif
