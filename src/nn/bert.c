/* BERT encoder: configuration, memory plan, HF-like random init, the
 * forward pass (HF BertModel, post-LN, through encoder_stack.c shared with
 * the ViT) and pooled taps. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bert_internal.h"

levi_status levi_bert_config_validate(const levi_bert_config *c) {
    const struct {
        const char *name;
        int v, lo, hi;
    } f[] = {
        {"vocab_size", c->vocab_size, 1, 1 << 24},
        {"hidden_size", c->hidden_size, 1, 65536},
        {"num_hidden_layers", c->num_hidden_layers, 1, BERT_MAX_LAYERS},
        {"num_attention_heads", c->num_attention_heads, 1, 4096},
        {"intermediate_size", c->intermediate_size, 1, 1 << 20},
        {"max_position_embeddings", c->max_position_embeddings, 1, 1 << 20},
        {"type_vocab_size", c->type_vocab_size, 1, 1 << 16},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].v < f[i].lo || f[i].v > f[i].hi)
            return levi_error(LEVI_ERR_INVALID_ARG, "BERT config: %s must be in [%d, %d], got %d", f[i].name,
                              f[i].lo, f[i].hi, f[i].v);
    if (c->hidden_size % c->num_attention_heads || c->hidden_size / c->num_attention_heads > 128)
        return levi_error(LEVI_ERR_INVALID_ARG,
                          "BERT config: hidden_size %d must be a multiple of num_attention_heads %d with heads of at "
                          "most 128",
                          c->hidden_size, c->num_attention_heads);
    if (!(c->layer_norm_eps > 0.0f) || !isfinite(c->layer_norm_eps))
        return levi_error(LEVI_ERR_INVALID_ARG, "BERT config: layer_norm_eps must be positive");
    if (c->pooling != LEVI_POOL_CLS && c->pooling != LEVI_POOL_MEAN)
        return levi_error(LEVI_ERR_INVALID_ARG, "BERT config: pooling must be cls or mean");
    return LEVI_OK;
}

static void plan_params(levi_bert *b) {
    enc_stack *s = &b->enc;
    const levi_bert_config *c = &b->cfg;
    const long long D = c->hidden_size, M = c->intermediate_size;
    const int P = ENC_ARENA_PARAMS, N = ENC_INIT_NORMAL, Z = ENC_INIT_ZERO, O = ENC_INIT_ONE;
#define SHAPE(...) ((const long long[]){__VA_ARGS__})
    b->word = enc_add_param(s, P, N, 2, SHAPE(c->vocab_size, D), "embeddings.word_embeddings.weight");
    b->pos = enc_add_param(s, P, N, 2, SHAPE(c->max_position_embeddings, D), "embeddings.position_embeddings.weight");
    b->type = enc_add_param(s, P, N, 2, SHAPE(c->type_vocab_size, D), "embeddings.token_type_embeddings.weight");
    b->lne_w = enc_add_param(s, P, O, 1, SHAPE(D), "embeddings.LayerNorm.weight");
    b->lne_b = enc_add_param(s, P, Z, 1, SHAPE(D), "embeddings.LayerNorm.bias");
    for (int l = 0; l < c->num_hidden_layers; l++) {
        enc_layer_w *w = &s->lw[l];
        const char *pre = "encoder.layer.";
        const char *qkv[3] = {"query", "key", "value"};
        size_t *qw[3] = {&w->q_w, &w->k_w, &w->v_w}, *qb[3] = {&w->q_b, &w->k_b, &w->v_b};
        for (int j = 0; j < 3; j++) {
            *qw[j] = enc_add_param(s, P, N, 2, SHAPE(D, D), "%s%d.attention.self.%s.weight", pre, l, qkv[j]);
            *qb[j] = enc_add_param(s, P, Z, 1, SHAPE(D), "%s%d.attention.self.%s.bias", pre, l, qkv[j]);
        }
        w->o_w = enc_add_param(s, P, N, 2, SHAPE(D, D), "%s%d.attention.output.dense.weight", pre, l);
        w->o_b = enc_add_param(s, P, Z, 1, SHAPE(D), "%s%d.attention.output.dense.bias", pre, l);
        w->ln1_w = enc_add_param(s, P, O, 1, SHAPE(D), "%s%d.attention.output.LayerNorm.weight", pre, l);
        w->ln1_b = enc_add_param(s, P, Z, 1, SHAPE(D), "%s%d.attention.output.LayerNorm.bias", pre, l);
        w->fc1_w = enc_add_param(s, P, N, 2, SHAPE(M, D), "%s%d.intermediate.dense.weight", pre, l);
        w->fc1_b = enc_add_param(s, P, Z, 1, SHAPE(M), "%s%d.intermediate.dense.bias", pre, l);
        w->fc2_w = enc_add_param(s, P, N, 2, SHAPE(D, M), "%s%d.output.dense.weight", pre, l);
        w->fc2_b = enc_add_param(s, P, Z, 1, SHAPE(D), "%s%d.output.dense.bias", pre, l);
        w->ln2_w = enc_add_param(s, P, O, 1, SHAPE(D), "%s%d.output.LayerNorm.weight", pre, l);
        w->ln2_b = enc_add_param(s, P, Z, 1, SHAPE(D), "%s%d.output.LayerNorm.bias", pre, l);
    }
#undef SHAPE
    enc_plan_lora(s, "encoder.layer.%d.attention.self.%s.lora_%s");
}

static void plan_acts(levi_bert *b) {
    enc_stack *s = &b->enc;
    const size_t BT = (size_t)s->max_batch * (size_t)s->T;
    levi_arena *a = &s->acts;
    s->mask = levi_arena_reserve(a, BT);
    s->has_mask = 1;
    if (s->train_mode == LEVI_BACKBONE_FULL) b->ids = levi_arena_reserve(a, BT); /* the embedding gradient's rows */
    b->emb = levi_arena_reserve(a, BT * (size_t)s->D);
    b->lne_mean = levi_arena_reserve(a, BT);
    b->lne_rstd = levi_arena_reserve(a, BT);
    enc_plan_hidden(s, s->L + 1);
    enc_plan_blocks(s);
    enc_plan_taps(s);
    enc_plan_scratch(s);
}

levi_status levi_bert_create(levi_bert **out, levi_ctx *ctx, const levi_bert_config *cfg, int max_batch,
                             int seq_len, int train_mode, int lora_rank) {
    *out = NULL;
    LEVI_TRY(levi_bert_config_validate(cfg));
    if (seq_len < 1 || seq_len > cfg->max_position_embeddings)
        return levi_error(LEVI_ERR_INVALID_ARG, "BERT: seq_len must be in [1, max_position_embeddings %d], got %d",
                          cfg->max_position_embeddings, seq_len);
    if (max_batch < 1 || (size_t)max_batch * seq_len * (size_t)cfg->intermediate_size > (size_t)INT_MAX)
        return levi_error(LEVI_ERR_INVALID_ARG, "BERT: max_batch %d with seq_len %d is out of range", max_batch,
                          seq_len);
    if (train_mode < LEVI_BACKBONE_FROZEN || train_mode > LEVI_BACKBONE_LORA || lora_rank < 0 ||
        lora_rank > cfg->hidden_size || (train_mode == LEVI_BACKBONE_LORA) != (lora_rank > 0 && train_mode != 0) ||
        (train_mode == LEVI_BACKBONE_FULL && lora_rank > 0))
        return levi_error(LEVI_ERR_INVALID_ARG, "BERT: train_mode %d with lora_rank %d (LoRA needs a rank, full "
                          "fine-tuning takes none)", train_mode, lora_rank);
    levi_bert *b = calloc(1, sizeof *b);
    if (!b) return levi_error(LEVI_ERR_HOST_MEMORY, "BERT: out of host memory");
    b->cfg = *cfg;
    b->enc = (enc_stack){.name = "BERT", .D = cfg->hidden_size, .M = cfg->intermediate_size,
                         .NH = cfg->num_attention_heads, .L = cfg->num_hidden_layers, .T = seq_len,
                         .lora_rank = lora_rank, .max_batch = max_batch, .train_mode = train_mode, .post_ln = 1,
                         .qkv_bias = 1, .eps = cfg->layer_norm_eps};
    static const char *const roles[6] = {"BERT parameters", "BERT LoRA parameters", "BERT gradients",
                                         "BERT AdamW first moments", "BERT AdamW second moments", "BERT activations"};
    levi_status st = enc_stack_init(&b->enc, ctx, roles);
    if (st == LEVI_OK) {
        plan_params(b);
        plan_acts(b);
        enc_plan_optimizer(&b->enc);
        st = enc_stack_commit(&b->enc);
    }
    if (st != LEVI_OK) {
        levi_bert_free(b);
        return st;
    }
    *out = b;
    return LEVI_OK;
}

void levi_bert_free(levi_bert *b) {
    if (!b) return;
    enc_stack_free(&b->enc);
    free(b);
}

const levi_bert_config *levi_bert_get_config(const levi_bert *b) { return &b->cfg; }
int levi_bert_seq_len(const levi_bert *b) { return b->enc.T; }

size_t levi_bert_num_params(const levi_bert *b, size_t *lora_params) { return enc_num_params(&b->enc, lora_params); }

/* a normal draw for every weight, whatever its init (the stream of values
 * a seed gives stays that of the first BERT) */
static float bert_sample(int init, double bound, unsigned long long *s) {
    double z = sqrt(-2.0 * log(enc_uniform01(s))) * cos(6.283185307179586 * enc_uniform01(s));
    return init == ENC_INIT_NORMAL   ? (float)(0.02 * z)
           : init == ENC_INIT_ONE    ? 1.0f
           : init == ENC_INIT_LORA_A ? (float)((2.0 * enc_uniform01(s) - 1.0) * bound)
                                     : 0.0f;
}

levi_status levi_bert_init_random(levi_bert *b, unsigned long long seed) {
    return enc_init_weights(&b->enc, seed * 0x2545F4914F6CDD1Dull + 0x9e3779b9ull, bert_sample, 0);
}

/* token type 0 for every token: row 0 of the token-type table is added to all */
levi_status levi_bert_forward(levi_bert *b, const levi_tensor *ids, const levi_tensor *mask, int B) {
    enc_stack *s = &b->enc;
    const levi_bert_config *c = &b->cfg;
    if (B < 1 || B > s->max_batch)
        return levi_error(LEVI_ERR_INVALID_ARG, "BERT forward: batch %d outside [1, max_batch %d]", B, s->max_batch);
    const int T = s->T, bt = B * T, D = c->hidden_size, L = c->num_hidden_layers;
    if (ids->numel < (size_t)bt || mask->numel < (size_t)bt)
        return levi_error(LEVI_ERR_SHAPE, "BERT forward: ids hold %zu and mask %zu floats, (%d,%d) needed", ids->numel,
                          mask->numel, B, T);
    levi_ctx *ctx = s->ctx;
    const levi_arena *A = &s->acts, *P = &s->params;
    /* the mask is kept (attention backward and mean pooling read it again) */
    levi_tensor m = enc_view(A, s->mask, B, T), m1 = enc_view(A, s->mask, bt, 0);
    levi_tensor src = levi_tensor_view(mask->ctx, mask->buf, mask->offset, 1, &bt);
    LEVI_TRY(levi_tensor_copy(&m1, &src));
    if (s->train_mode == LEVI_BACKBONE_FULL) {
        levi_tensor i1 = enc_view(A, b->ids, bt, 0), isrc = levi_tensor_view(ids->ctx, ids->buf, ids->offset, 1, &bt);
        LEVI_TRY(levi_tensor_copy(&i1, &isrc));
    }
    levi_tensor emb = enc_view(A, b->emb, bt, D), word = enc_view(P, b->word, c->vocab_size, D);
    levi_tensor pos = enc_view(P, b->pos, T, D), type = enc_view(P, b->type, D, 0);
    LEVI_TRY(levi_embedding_forward(ctx, &emb, ids, &word, &pos, &type, B, T, D, c->vocab_size));
    levi_tensor h0 = enc_view(A, s->hidden[0], bt, D);
    levi_tensor mu = enc_view(A, b->lne_mean, bt, 0), rs = enc_view(A, b->lne_rstd, bt, 0);
    levi_tensor lw = enc_view(P, b->lne_w, D, 0), lb = enc_view(P, b->lne_b, D, 0);
    LEVI_TRY(levi_layernorm_forward(ctx, &h0, &mu, &rs, &emb, &lw, &lb, bt, D, c->layer_norm_eps));
    LEVI_TRY(enc_forward_blocks(s, B));
    for (int l = 0; l <= L; l++) {
        levi_tensor tap = enc_tap(s, l, B), h = enc_hidden(s, l, B);
        if (c->pooling == LEVI_POOL_MEAN)
            LEVI_TRY(levi_masked_mean_tokens_forward(ctx, &tap, &h, &m, B, T, D));
        else
            LEVI_TRY(levi_take_token_forward(ctx, &tap, &h, 0, B, T, D));
    }
    return LEVI_OK;
}

levi_tensor levi_bert_hidden(levi_bert *b, int l, int B) { return enc_hidden(&b->enc, l, B); }
levi_tensor levi_bert_tap(levi_bert *b, int l, int B) { return enc_tap(&b->enc, l, B); }
levi_status levi_bert_zero_grad(levi_bert *b) { return enc_zero_grad(&b->enc); }

int levi_bert_trainable(levi_bert *b, levi_tensor *params, levi_tensor *grads, levi_tensor *adam_m,
                        levi_tensor *adam_v) {
    return enc_trainable(&b->enc, params, grads, adam_m, adam_v);
}

levi_status levi_bert_find(levi_bert *b, const char *name, levi_tensor *param, levi_tensor *grad) {
    return enc_find(&b->enc, name, param, grad);
}
