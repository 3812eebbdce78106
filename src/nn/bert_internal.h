/* Internals of the BERT encoder shared by bert.c, bert_backward.c, bert_io.c. */
#ifndef LEVI_NN_BERT_INTERNAL_H
#define LEVI_NN_BERT_INTERNAL_H

#include "encoder_block.h"
#include "levi/bert.h"

#define BERT_MAX_LAYERS 64

enum { BERT_ARENA_PARAMS = 0, BERT_ARENA_LORA = 1 };
enum { BERT_INIT_NORMAL, BERT_INIT_ZERO, BERT_INIT_ONE, BERT_INIT_LORA_A };

typedef struct bert_param {
    char name[96];
    int arena, init, ndim;
    long long shape[2];
    size_t off, numel;
} bert_param;

/* Offsets of one layer's weights (parameter and gradient arenas alike). */
typedef struct bert_layer_w {
    size_t q_w, q_b, k_w, k_b, v_w, v_b, o_w, o_b, ln1_w, ln1_b, fc1_w, fc1_b, fc2_w, fc2_b, ln2_w, ln2_b;
    size_t qa, qb, va, vb; /* LoRA arena */
} bert_layer_w;

/* Offsets of one layer's saved activations. */
typedef struct bert_layer_act {
    size_t q, k, v, lse, ctx, hmid, ln1_mean, ln1_rstd, fc1, gel, sum2, ln2_mean, ln2_rstd, qa, va;
} bert_layer_act;

struct levi_bert {
    levi_ctx *ctx;
    levi_bert_config cfg;
    int train_mode, lora_rank, max_batch, T;
    levi_arena params, lora, grads, adam_m, adam_v, acts;
    size_t word, pos, type, lne_w, lne_b;
    bert_layer_w lw[BERT_MAX_LAYERS];
    /* activations: emb (sum before the embeddings' LayerNorm), hidden[0..L],
     * ln1 of each layer is hidden-sized and kept in lnmid[l] */
    size_t emb, lne_mean, lne_rstd, hidden[BERT_MAX_LAYERS + 1], lnmid[BERT_MAX_LAYERS], taps, mask, ids;
    bert_layer_act la[BERT_MAX_LAYERS];
    size_t dh, dtmp, dq, dk, dv, dctx, dfc1, dgel, dqa, dtap;
    bert_param *table;
    int n_table;
};

levi_tensor bert_view(const levi_arena *a, size_t off, int n0, int n1);
void bert_block_views(const levi_bert *b, int l, int B, enc_block_dims *d, enc_block_weights *w,
                      enc_block_weights *gw, enc_block_acts *a, enc_block_grads *g);

#endif
