/* BERT encoder: configuration, memory plan (one arena per role), HF-like
 * random init, the forward pass (HF BertModel, post-LN, through
 * encoder_block.c shared with the ViT) and pooled taps. */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bert_internal.h"
#include "levi/random.h"

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

levi_tensor bert_view(const levi_arena *a, size_t off, int n0, int n1) {
    int s[2] = {n0, n1};
    return n1 > 0 ? levi_arena_tensor(a, off, 2, s) : levi_arena_tensor(a, off, 1, s);
}

static size_t add_param(levi_bert *b, int arena, int init, long long n0, long long n1, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static size_t add_param(levi_bert *b, int arena, int init, long long n0, long long n1, const char *fmt, ...) {
    bert_param *p = &b->table[b->n_table++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->name, sizeof p->name, fmt, ap);
    va_end(ap);
    p->arena = arena;
    p->init = init;
    p->ndim = n1 > 0 ? 2 : 1;
    p->shape[0] = n0;
    p->shape[1] = n1;
    p->numel = (size_t)n0 * (size_t)(n1 > 0 ? n1 : 1);
    p->off = levi_arena_reserve(arena == BERT_ARENA_LORA ? &b->lora : &b->params, p->numel);
    return p->off;
}

static void plan_params(levi_bert *b) {
    const levi_bert_config *c = &b->cfg;
    const long long D = c->hidden_size, M = c->intermediate_size, r = b->lora_rank;
    const int P = BERT_ARENA_PARAMS, N = BERT_INIT_NORMAL, Z = BERT_INIT_ZERO, O = BERT_INIT_ONE;
    b->word = add_param(b, P, N, c->vocab_size, D, "embeddings.word_embeddings.weight");
    b->pos = add_param(b, P, N, c->max_position_embeddings, D, "embeddings.position_embeddings.weight");
    b->type = add_param(b, P, N, c->type_vocab_size, D, "embeddings.token_type_embeddings.weight");
    b->lne_w = add_param(b, P, O, D, 0, "embeddings.LayerNorm.weight");
    b->lne_b = add_param(b, P, Z, D, 0, "embeddings.LayerNorm.bias");
    for (int l = 0; l < c->num_hidden_layers; l++) {
        bert_layer_w *w = &b->lw[l];
        const char *pre = "encoder.layer.";
        const char *qkv[3] = {"query", "key", "value"};
        size_t *qw[3] = {&w->q_w, &w->k_w, &w->v_w}, *qb[3] = {&w->q_b, &w->k_b, &w->v_b};
        for (int j = 0; j < 3; j++) {
            *qw[j] = add_param(b, P, N, D, D, "%s%d.attention.self.%s.weight", pre, l, qkv[j]);
            *qb[j] = add_param(b, P, Z, D, 0, "%s%d.attention.self.%s.bias", pre, l, qkv[j]);
        }
        w->o_w = add_param(b, P, N, D, D, "%s%d.attention.output.dense.weight", pre, l);
        w->o_b = add_param(b, P, Z, D, 0, "%s%d.attention.output.dense.bias", pre, l);
        w->ln1_w = add_param(b, P, O, D, 0, "%s%d.attention.output.LayerNorm.weight", pre, l);
        w->ln1_b = add_param(b, P, Z, D, 0, "%s%d.attention.output.LayerNorm.bias", pre, l);
        w->fc1_w = add_param(b, P, N, M, D, "%s%d.intermediate.dense.weight", pre, l);
        w->fc1_b = add_param(b, P, Z, M, 0, "%s%d.intermediate.dense.bias", pre, l);
        w->fc2_w = add_param(b, P, N, D, M, "%s%d.output.dense.weight", pre, l);
        w->fc2_b = add_param(b, P, Z, D, 0, "%s%d.output.dense.bias", pre, l);
        w->ln2_w = add_param(b, P, O, D, 0, "%s%d.output.LayerNorm.weight", pre, l);
        w->ln2_b = add_param(b, P, Z, D, 0, "%s%d.output.LayerNorm.bias", pre, l);
    }
    if (r > 0)
        for (int l = 0; l < c->num_hidden_layers; l++) {
            bert_layer_w *w = &b->lw[l];
            const char *fmt = "encoder.layer.%d.attention.self.%s.lora_%s";
            w->qa = add_param(b, BERT_ARENA_LORA, BERT_INIT_LORA_A, r, D, fmt, l, "query", "A");
            w->qb = add_param(b, BERT_ARENA_LORA, Z, D, r, fmt, l, "query", "B");
            w->va = add_param(b, BERT_ARENA_LORA, BERT_INIT_LORA_A, r, D, fmt, l, "value", "A");
            w->vb = add_param(b, BERT_ARENA_LORA, Z, D, r, fmt, l, "value", "B");
        }
}

static void plan_acts(levi_bert *b) {
    const levi_bert_config *c = &b->cfg;
    const size_t B = (size_t)b->max_batch, BT = B * (size_t)b->T, D = (size_t)c->hidden_size;
    const size_t M = (size_t)c->intermediate_size, NH = (size_t)c->num_attention_heads, r = (size_t)b->lora_rank;
    const int L = c->num_hidden_layers, train = b->train_mode != LEVI_BACKBONE_FROZEN;
    levi_arena *a = &b->acts;
    b->mask = levi_arena_reserve(a, BT);
    if (b->train_mode == LEVI_BACKBONE_FULL) b->ids = levi_arena_reserve(a, BT); /* the embedding gradient's rows */
    b->emb = levi_arena_reserve(a, BT * D);
    b->lne_mean = levi_arena_reserve(a, BT);
    b->lne_rstd = levi_arena_reserve(a, BT);
    for (int l = 0; l <= L; l++) b->hidden[l] = levi_arena_reserve(a, BT * D);
    for (int l = 0; l < L; l++) {
        if (!train && l > 0) { /* frozen: one set of block intermediates serves every layer */
            b->la[l] = b->la[0];
            b->lnmid[l] = b->lnmid[0];
            continue;
        }
        bert_layer_act *x = &b->la[l];
        size_t *bt_d[] = {&x->q, &x->k, &x->v, &x->ctx, &x->hmid, &x->sum2, &b->lnmid[l]};
        for (size_t i = 0; i < sizeof bt_d / sizeof *bt_d; i++) *bt_d[i] = levi_arena_reserve(a, BT * D);
        x->lse = levi_arena_reserve(a, B * NH * (size_t)b->T);
        x->ln1_mean = levi_arena_reserve(a, BT);
        x->ln1_rstd = levi_arena_reserve(a, BT);
        x->ln2_mean = levi_arena_reserve(a, BT);
        x->ln2_rstd = levi_arena_reserve(a, BT);
        x->fc1 = levi_arena_reserve(a, BT * M);
        x->gel = levi_arena_reserve(a, BT * M);
        if (r) {
            x->qa = levi_arena_reserve(a, BT * r);
            x->va = levi_arena_reserve(a, BT * r);
        }
    }
    b->taps = levi_arena_reserve(a, (size_t)(L + 1) * B * D);
    if (train) {
        size_t *bt_d[] = {&b->dh, &b->dtmp, &b->dq, &b->dk, &b->dv, &b->dctx};
        for (size_t i = 0; i < sizeof bt_d / sizeof *bt_d; i++) *bt_d[i] = levi_arena_reserve(a, BT * D);
        b->dfc1 = levi_arena_reserve(a, BT * M);
        b->dgel = levi_arena_reserve(a, BT * M);
        if (r) b->dqa = levi_arena_reserve(a, BT * r);
    }
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
    b->ctx = ctx;
    b->cfg = *cfg;
    b->train_mode = train_mode;
    b->lora_rank = lora_rank;
    b->max_batch = max_batch;
    b->T = seq_len;
    b->table = calloc((size_t)(20 * cfg->num_hidden_layers + 8), sizeof *b->table);
    const char *roles[6] = {"BERT parameters", "BERT LoRA parameters", "BERT gradients", "BERT AdamW first moments",
                            "BERT AdamW second moments", "BERT activations"};
    levi_arena *all[6] = {&b->params, &b->lora, &b->grads, &b->adam_m, &b->adam_v, &b->acts};
    for (int i = 0; i < 6; i++) levi_arena_init(all[i], ctx, roles[i]);
    if (!b->table) {
        free(b);
        return levi_error(LEVI_ERR_HOST_MEMORY, "BERT: out of host memory");
    }
    plan_params(b);
    plan_acts(b);
    if (train_mode != LEVI_BACKBONE_FROZEN) {
        const size_t n = (train_mode == LEVI_BACKBONE_FULL ? &b->params : &b->lora)->numel;
        for (int i = 2; i < 5; i++) levi_arena_reserve(all[i], n);
    }
    levi_status st = LEVI_OK;
    for (int i = 0; i < 6 && st == LEVI_OK; i++)
        if (all[i]->numel) st = levi_arena_commit(all[i]);
    if (st != LEVI_OK) {
        levi_bert_free(b);
        return st;
    }
    *out = b;
    return LEVI_OK;
}

void levi_bert_free(levi_bert *b) {
    if (!b) return;
    levi_arena *all[6] = {&b->params, &b->lora, &b->grads, &b->adam_m, &b->adam_v, &b->acts};
    for (int i = 0; i < 6; i++) levi_arena_free(all[i]);
    free(b->table);
    free(b);
}

const levi_bert_config *levi_bert_get_config(const levi_bert *b) { return &b->cfg; }
int levi_bert_seq_len(const levi_bert *b) { return b->T; }

size_t levi_bert_num_params(const levi_bert *b, size_t *lora_params) {
    size_t n = 0, nl = 0;
    for (int i = 0; i < b->n_table; i++) *(b->table[i].arena == BERT_ARENA_LORA ? &nl : &n) += b->table[i].numel;
    if (lora_params) *lora_params = nl;
    return n;
}

static double uniform01(unsigned long long *s) { return ((double)(levi_splitmix64(s) >> 11) + 0.5) / 9007199254740992.0; }

levi_status levi_bert_init_random(levi_bert *b, unsigned long long seed) {
    float *hp = calloc(b->params.numel + 1, sizeof(float)), *hl = calloc(b->lora.numel + 1, sizeof(float));
    levi_status st = hp && hl ? LEVI_OK : levi_error(LEVI_ERR_HOST_MEMORY, "BERT init: out of host memory");
    unsigned long long s = seed * 0x2545F4914F6CDD1Dull + 0x9e3779b9ull;
    const double bound = 1.0 / sqrt((double)b->cfg.hidden_size);
    for (int i = 0; i < b->n_table && st == LEVI_OK; i++) {
        const bert_param *p = &b->table[i];
        float *dst = (p->arena == BERT_ARENA_LORA ? hl : hp) + p->off;
        for (size_t j = 0; j < p->numel; j++) {
            double z = sqrt(-2.0 * log(uniform01(&s))) * cos(6.283185307179586 * uniform01(&s));
            dst[j] = p->init == BERT_INIT_NORMAL   ? (float)(0.02 * z)
                     : p->init == BERT_INIT_ONE    ? 1.0f
                     : p->init == BERT_INIT_LORA_A ? (float)((2.0 * uniform01(&s) - 1.0) * bound)
                                                   : 0.0f;
        }
    }
    levi_tensor all;
    if (st == LEVI_OK && b->params.numel) all = levi_arena_all(&b->params), st = levi_tensor_write(&all, hp);
    if (st == LEVI_OK && b->lora.numel) all = levi_arena_all(&b->lora), st = levi_tensor_write(&all, hl);
    free(hp);
    free(hl);
    return st;
}

void bert_block_views(const levi_bert *b, int l, int B, enc_block_dims *d, enc_block_weights *w,
                      enc_block_weights *gw, enc_block_acts *a, enc_block_grads *g) {
    const levi_bert_config *c = &b->cfg;
    const int D = c->hidden_size, M = c->intermediate_size, BT = B * b->T, r = b->lora_rank;
    const int full = b->train_mode == LEVI_BACKBONE_FULL, lora = b->train_mode == LEVI_BACKBONE_LORA;
    *d = (enc_block_dims){B, b->T, D, M, c->num_attention_heads, r, c->layer_norm_eps, 1};
    const bert_layer_w *o = &b->lw[l];
    const size_t offs[16] = {o->ln1_w, o->ln1_b, o->q_w,   o->q_b,   o->k_w,   o->k_b,   o->v_w,   o->v_b,
                             o->o_w,   o->o_b,   o->ln2_w, o->ln2_b, o->fc1_w, o->fc1_b, o->fc2_w, o->fc2_b};
    const int rows[16] = {D, D, D, D, D, D, D, D, D, D, D, D, M, M, D, D};
    const int cols[16] = {0, 0, D, 0, D, 0, D, 0, D, 0, 0, 0, D, 0, M, 0};
    levi_tensor *wt = &w->ln1_w, *gt = &gw->ln1_w; /* the 16 fields in this order */
    for (int i = 0; i < 16; i++) {
        wt[i] = bert_view(&b->params, offs[i], rows[i], cols[i]);
        gt[i] = full ? bert_view(&b->grads, offs[i], rows[i], cols[i]) : (levi_tensor){0};
    }
    memset(&w->qa, 0, 4 * sizeof w->qa);
    memset(&gw->qa, 0, 4 * sizeof gw->qa);
    if (r > 0) {
        w->qa = bert_view(&b->lora, o->qa, r, D), w->qb = bert_view(&b->lora, o->qb, D, r);
        w->va = bert_view(&b->lora, o->va, r, D), w->vb = bert_view(&b->lora, o->vb, D, r);
        if (lora) {
            gw->qa = bert_view(&b->grads, o->qa, r, D), gw->qb = bert_view(&b->grads, o->qb, D, r);
            gw->va = bert_view(&b->grads, o->va, r, D), gw->vb = bert_view(&b->grads, o->vb, D, r);
        }
    }
    const bert_layer_act *x = &b->la[l];
    const levi_arena *A = &b->acts;
    memset(a, 0, sizeof *a);
    a->hin = bert_view(A, b->hidden[l], BT, D), a->hout = bert_view(A, b->hidden[l + 1], BT, D);
    a->q = bert_view(A, x->q, BT, D), a->k = bert_view(A, x->k, BT, D), a->v = bert_view(A, x->v, BT, D);
    a->ctx = bert_view(A, x->ctx, BT, D), a->hmid = bert_view(A, x->hmid, BT, D);
    a->lse = bert_view(A, x->lse, B * c->num_attention_heads, b->T);
    a->ln1 = bert_view(A, b->lnmid[l], BT, D);
    a->ln1_mean = bert_view(A, x->ln1_mean, BT, 0), a->ln1_rstd = bert_view(A, x->ln1_rstd, BT, 0);
    a->ln2_mean = bert_view(A, x->ln2_mean, BT, 0), a->ln2_rstd = bert_view(A, x->ln2_rstd, BT, 0);
    a->fc1 = bert_view(A, x->fc1, BT, M), a->gel = bert_view(A, x->gel, BT, M);
    a->sum2 = bert_view(A, x->sum2, BT, D);
    a->mask = bert_view(A, b->mask, B, b->T);
    if (r > 0) a->qa = bert_view(A, x->qa, BT, r), a->va = bert_view(A, x->va, BT, r);
    memset(g, 0, sizeof *g);
    if (b->train_mode != LEVI_BACKBONE_FROZEN) {
        g->dh = bert_view(A, b->dh, BT, D), g->dtmp = bert_view(A, b->dtmp, BT, D);
        g->dq = bert_view(A, b->dq, BT, D), g->dk = bert_view(A, b->dk, BT, D), g->dv = bert_view(A, b->dv, BT, D);
        g->dctx = bert_view(A, b->dctx, BT, D);
        g->dfc1 = bert_view(A, b->dfc1, BT, M), g->dgel = bert_view(A, b->dgel, BT, M);
        if (r > 0) g->dqa = bert_view(A, b->dqa, BT, r);
    }
}

/* token type 0 for every token: row 0 of the token-type table is added to all */
levi_status levi_bert_forward(levi_bert *b, const levi_tensor *ids, const levi_tensor *mask, int B) {
    const levi_bert_config *c = &b->cfg;
    if (B < 1 || B > b->max_batch)
        return levi_error(LEVI_ERR_INVALID_ARG, "BERT forward: batch %d outside [1, max_batch %d]", B, b->max_batch);
    const size_t BT = (size_t)B * b->T;
    if (ids->numel < BT || mask->numel < BT)
        return levi_error(LEVI_ERR_SHAPE, "BERT forward: ids hold %zu and mask %zu floats, (%d,%d) needed", ids->numel,
                          mask->numel, B, b->T);
    levi_ctx *ctx = b->ctx;
    const int D = c->hidden_size, L = c->num_hidden_layers;
    /* the mask is kept (attention backward and mean pooling read it again) */
    const int bt = (int)BT;
    levi_tensor m = bert_view(&b->acts, b->mask, B, b->T), m1 = bert_view(&b->acts, b->mask, bt, 0);
    levi_tensor src = levi_tensor_view(mask->ctx, mask->buf, mask->offset, 1, &bt);
    LEVI_TRY(levi_tensor_copy(&m1, &src));
    if (b->train_mode == LEVI_BACKBONE_FULL) {
        levi_tensor i1 = bert_view(&b->acts, b->ids, bt, 0), isrc = levi_tensor_view(ids->ctx, ids->buf, ids->offset, 1, &bt);
        LEVI_TRY(levi_tensor_copy(&i1, &isrc));
    }
    levi_tensor emb = bert_view(&b->acts, b->emb, (int)BT, D), word = bert_view(&b->params, b->word, c->vocab_size, D);
    levi_tensor pos = bert_view(&b->params, b->pos, b->T, D), type = bert_view(&b->params, b->type, D, 0);
    LEVI_TRY(levi_embedding_forward(ctx, &emb, ids, &word, &pos, &type, B, b->T, D, c->vocab_size));
    levi_tensor h0 = bert_view(&b->acts, b->hidden[0], (int)BT, D);
    levi_tensor mu = bert_view(&b->acts, b->lne_mean, (int)BT, 0), rs = bert_view(&b->acts, b->lne_rstd, (int)BT, 0);
    levi_tensor lw = bert_view(&b->params, b->lne_w, D, 0), lb = bert_view(&b->params, b->lne_b, D, 0);
    LEVI_TRY(levi_layernorm_forward(ctx, &h0, &mu, &rs, &emb, &lw, &lb, (int)BT, D, c->layer_norm_eps));
    for (int l = 0; l < L; l++) {
        enc_block_dims d;
        enc_block_weights w, gw;
        enc_block_acts a;
        enc_block_grads g;
        bert_block_views(b, l, B, &d, &w, &gw, &a, &g);
        LEVI_TRY(enc_block_forward(ctx, &d, &w, &a));
    }
    for (int l = 0; l <= L; l++) {
        levi_tensor tap = levi_bert_tap(b, l, B), h = levi_bert_hidden(b, l, B);
        if (c->pooling == LEVI_POOL_MEAN)
            LEVI_TRY(levi_masked_mean_tokens_forward(ctx, &tap, &h, &m, B, b->T, D));
        else
            LEVI_TRY(levi_take_token_forward(ctx, &tap, &h, 0, B, b->T, D));
    }
    return LEVI_OK;
}

levi_tensor levi_bert_hidden(levi_bert *b, int l, int B) {
    const int L = b->cfg.num_hidden_layers;
    l = l < 0 ? 0 : l > L ? L : l;
    int s[3] = {B, b->T, b->cfg.hidden_size};
    return levi_arena_tensor(&b->acts, b->hidden[l], 3, s);
}

levi_tensor levi_bert_tap(levi_bert *b, int l, int B) {
    const int D = b->cfg.hidden_size, L = b->cfg.num_hidden_layers;
    l = l < 0 ? 0 : l > L ? L : l;
    return bert_view(&b->acts, b->taps + (size_t)l * (size_t)b->max_batch * (size_t)D, B, D);
}

levi_status levi_bert_zero_grad(levi_bert *b) {
    if (!b->grads.numel) return LEVI_OK;
    levi_tensor g = levi_arena_all(&b->grads);
    return levi_tensor_zero(&g);
}

int levi_bert_trainable(levi_bert *b, levi_tensor *params, levi_tensor *grads, levi_tensor *adam_m,
                        levi_tensor *adam_v) {
    if (b->train_mode == LEVI_BACKBONE_FROZEN) return 0;
    const levi_arena *p = b->train_mode == LEVI_BACKBONE_FULL ? &b->params : &b->lora;
    if (params) *params = levi_arena_all(p);
    if (grads) *grads = levi_arena_all(&b->grads);
    if (adam_m) *adam_m = levi_arena_all(&b->adam_m);
    if (adam_v) *adam_v = levi_arena_all(&b->adam_v);
    return 1;
}

levi_status levi_bert_find(levi_bert *b, const char *name, levi_tensor *param, levi_tensor *grad) {
    for (int i = 0; i < b->n_table; i++) {
        const bert_param *p = &b->table[i];
        if (strcmp(p->name, name)) continue;
        const int lora = p->arena == BERT_ARENA_LORA;
        const int n1 = p->ndim == 2 ? (int)p->shape[1] : 0;
        if (param) *param = bert_view(lora ? &b->lora : &b->params, p->off, (int)p->shape[0], n1);
        if (grad) {
            const int tr = (lora && b->train_mode == LEVI_BACKBONE_LORA) || (!lora && b->train_mode == LEVI_BACKBONE_FULL);
            *grad = tr ? bert_view(&b->grads, p->off, (int)p->shape[0], n1) : (levi_tensor){0};
        }
        return LEVI_OK;
    }
    return levi_error(LEVI_ERR_NOT_FOUND, "BERT: no weight named '%s'", name);
}
