/* ViT backbone: configuration, memory plan (one arena per role), HF-like
 * random init, and the forward pass (HF ViTModel, pre-LN). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "levi/random.h"
#include "vit_internal.h"

void levi_vit_config_default(levi_vit_config *c) {
    memset(c, 0, sizeof *c);
    c->image_size = 28;
    c->patch_size = 7;
    c->num_channels = 1;
    c->hidden_size = 64;
    c->num_hidden_layers = 4;
    c->num_attention_heads = 4;
    c->intermediate_size = 128;
    c->layer_norm_eps = 1e-12f;
    c->qkv_bias = 1;
    c->image_mean = 0.5f;
    c->image_std = 0.5f;
}

levi_status levi_vit_config_validate(const levi_vit_config *c) {
    const struct {
        const char *name;
        int v, lo, hi;
    } f[] = {
        {"image_size", c->image_size, 1, 4096},
        {"patch_size", c->patch_size, 1, 4096},
        {"num_channels", c->num_channels, 1, 64},
        {"hidden_size", c->hidden_size, 1, 65536},
        {"num_hidden_layers", c->num_hidden_layers, 1, VIT_MAX_LAYERS},
        {"num_attention_heads", c->num_attention_heads, 1, 4096},
        {"intermediate_size", c->intermediate_size, 1, 1 << 20},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].v < f[i].lo || f[i].v > f[i].hi)
            return levi_error(LEVI_ERR_INVALID_ARG, "ViT config: %s must be in [%d, %d], got %d", f[i].name,
                              f[i].lo, f[i].hi, f[i].v);
    if (c->image_size % c->patch_size)
        return levi_error(LEVI_ERR_INVALID_ARG, "ViT config: image_size %d is not a multiple of patch_size %d",
                          c->image_size, c->patch_size);
    if (c->hidden_size % c->num_attention_heads)
        return levi_error(LEVI_ERR_INVALID_ARG,
                          "ViT config: hidden_size %d is not a multiple of num_attention_heads %d",
                          c->hidden_size, c->num_attention_heads);
    if (!(c->layer_norm_eps > 0.0f) || !isfinite(c->layer_norm_eps))
        return levi_error(LEVI_ERR_INVALID_ARG, "ViT config: layer_norm_eps must be positive, got %g",
                          (double)c->layer_norm_eps);
    if (!(c->image_std > 0.0f) || !isfinite(c->image_std) || !isfinite(c->image_mean))
        return levi_error(LEVI_ERR_INVALID_ARG, "ViT config: image_std must be positive and image_mean finite");
    return LEVI_OK;
}

/* --- views and host transfers ------------------------------------------------- */

levi_tensor vit_view1(const levi_arena *a, size_t off, int n0) { return levi_arena_tensor(a, off, 1, &n0); }
levi_tensor vit_view2(const levi_arena *a, size_t off, int n0, int n1) {
    int s[2] = {n0, n1};
    return levi_arena_tensor(a, off, 2, s);
}
levi_tensor vit_view3(const levi_arena *a, size_t off, int n0, int n1, int n2) {
    int s[3] = {n0, n1, n2};
    return levi_arena_tensor(a, off, 3, s);
}

levi_status vit_read_arena(const levi_arena *a, float **host) {
    *host = malloc((a->numel ? a->numel : 1) * sizeof(float));
    if (!*host) return levi_error(LEVI_ERR_HOST_MEMORY, "ViT: cannot allocate %zu floats for the %s", a->numel,
                                  a->role);
    if (!a->numel) return LEVI_OK;
    levi_tensor all = levi_arena_all(a);
    levi_status st = levi_tensor_read(&all, *host);
    if (st != LEVI_OK) {
        free(*host);
        *host = NULL;
    }
    return st;
}

levi_status vit_write_arena(const levi_arena *a, const float *host) {
    if (!a->numel) return LEVI_OK;
    levi_tensor all = levi_arena_all(a);
    return levi_tensor_write(&all, host);
}

/* --- the tensor table ------------------------------------------------------------- */

static size_t add_param(levi_vit *v, int arena, int init, int ndim, const long long *shape, const char *fmt,
                        ...) __attribute__((format(printf, 6, 7)));
static size_t add_param(levi_vit *v, int arena, int init, int ndim, const long long *shape, const char *fmt,
                        ...) {
    vit_param *p = &v->table[v->n_table++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->name, sizeof p->name, fmt, ap);
    va_end(ap);
    p->arena = arena;
    p->init = init;
    p->ndim = ndim;
    p->numel = 1;
    for (int i = 0; i < ndim; i++) {
        p->shape[i] = shape[i];
        p->numel *= (size_t)shape[i];
    }
    p->off = levi_arena_reserve(arena == VIT_ARENA_LORA ? &v->lora : &v->params, p->numel);
    return p->off;
}

#define SHAPE(...) ((const long long[]){__VA_ARGS__})

static void plan_params(levi_vit *v) {
    const levi_vit_config *c = &v->cfg;
    const long long D = c->hidden_size, M = c->intermediate_size, C = c->num_channels, P = c->patch_size;
    const long long r = v->lora_rank;
    const int P_ = VIT_ARENA_PARAMS, N = VIT_INIT_NORMAL, Z = VIT_INIT_ZERO, O = VIT_INIT_ONE;
    v->cls = add_param(v, P_, N, 3, SHAPE(1, 1, D), "embeddings.cls_token");
    v->pos = add_param(v, P_, N, 3, SHAPE(1, v->T, D), "embeddings.position_embeddings");
    v->patch_w = add_param(v, P_, N, 4, SHAPE(D, C, P, P), "embeddings.patch_embeddings.projection.weight");
    v->patch_b = add_param(v, P_, Z, 1, SHAPE(D), "embeddings.patch_embeddings.projection.bias");
    for (int l = 0; l < c->num_hidden_layers; l++) {
        vit_block_w *w = &v->blk[l];
        char pre[64];
        snprintf(pre, sizeof pre, "encoder.layer.%d.", l);
        w->ln1_w = add_param(v, P_, O, 1, SHAPE(D), "%slayernorm_before.weight", pre);
        w->ln1_b = add_param(v, P_, Z, 1, SHAPE(D), "%slayernorm_before.bias", pre);
        const char *qkv[3] = {"query", "key", "value"};
        size_t *qkv_w[3] = {&w->q_w, &w->k_w, &w->v_w}, *qkv_b[3] = {&w->q_b, &w->k_b, &w->v_b};
        for (int j = 0; j < 3; j++) {
            *qkv_w[j] = add_param(v, P_, N, 2, SHAPE(D, D), "%sattention.attention.%s.weight", pre, qkv[j]);
            if (c->qkv_bias)
                *qkv_b[j] = add_param(v, P_, Z, 1, SHAPE(D), "%sattention.attention.%s.bias", pre, qkv[j]);
        }
        w->o_w = add_param(v, P_, N, 2, SHAPE(D, D), "%sattention.output.dense.weight", pre);
        w->o_b = add_param(v, P_, Z, 1, SHAPE(D), "%sattention.output.dense.bias", pre);
        w->ln2_w = add_param(v, P_, O, 1, SHAPE(D), "%slayernorm_after.weight", pre);
        w->ln2_b = add_param(v, P_, Z, 1, SHAPE(D), "%slayernorm_after.bias", pre);
        w->fc1_w = add_param(v, P_, N, 2, SHAPE(M, D), "%sintermediate.dense.weight", pre);
        w->fc1_b = add_param(v, P_, Z, 1, SHAPE(M), "%sintermediate.dense.bias", pre);
        w->fc2_w = add_param(v, P_, N, 2, SHAPE(D, M), "%soutput.dense.weight", pre);
        w->fc2_b = add_param(v, P_, Z, 1, SHAPE(D), "%soutput.dense.bias", pre);
    }
    v->lnf_w = add_param(v, P_, O, 1, SHAPE(D), "layernorm.weight");
    v->lnf_b = add_param(v, P_, Z, 1, SHAPE(D), "layernorm.bias");
    if (r > 0)
        for (int l = 0; l < c->num_hidden_layers; l++) {
            vit_block_lora *lw = &v->lblk[l];
            const char *fmt = "encoder.layer.%d.attention.attention.%s.lora_%s";
            lw->qa = add_param(v, VIT_ARENA_LORA, VIT_INIT_LORA_A, 2, SHAPE(r, D), fmt, l, "query", "A");
            lw->qb = add_param(v, VIT_ARENA_LORA, Z, 2, SHAPE(D, r), fmt, l, "query", "B");
            lw->va = add_param(v, VIT_ARENA_LORA, VIT_INIT_LORA_A, 2, SHAPE(r, D), fmt, l, "value", "A");
            lw->vb = add_param(v, VIT_ARENA_LORA, Z, 2, SHAPE(D, r), fmt, l, "value", "B");
        }
}

static void plan_acts(levi_vit *v) {
    const levi_vit_config *c = &v->cfg;
    const size_t B = (size_t)v->max_batch, BT = B * (size_t)v->T, D = (size_t)c->hidden_size;
    const size_t M = (size_t)c->intermediate_size, NH = (size_t)c->num_attention_heads, r = (size_t)v->lora_rank;
    const int L = c->num_hidden_layers, train = v->train_mode != LEVI_VIT_FROZEN;
    levi_arena *a = &v->acts;
    v->patches = levi_arena_reserve(a, B * (size_t)v->NP * (size_t)v->CPP);
    v->pemb = levi_arena_reserve(a, B * (size_t)v->NP * D);
    for (int l = 0; l <= L + 1; l++) v->hidden[l] = levi_arena_reserve(a, BT * D);
    for (int l = 0; l < L; l++) {
        if (!train && l > 0) { /* frozen: block intermediates are not kept, one set serves all */
            v->act[l] = v->act[0];
            continue;
        }
        vit_block_act *x = &v->act[l];
        x->ln1 = levi_arena_reserve(a, BT * D);
        x->ln1_mean = levi_arena_reserve(a, BT);
        x->ln1_rstd = levi_arena_reserve(a, BT);
        x->q = levi_arena_reserve(a, BT * D);
        x->k = levi_arena_reserve(a, BT * D);
        x->v = levi_arena_reserve(a, BT * D);
        x->lse = levi_arena_reserve(a, B * NH * (size_t)v->T);
        x->ctx = levi_arena_reserve(a, BT * D);
        x->hmid = levi_arena_reserve(a, BT * D);
        x->ln2 = levi_arena_reserve(a, BT * D);
        x->ln2_mean = levi_arena_reserve(a, BT);
        x->ln2_rstd = levi_arena_reserve(a, BT);
        x->fc1 = levi_arena_reserve(a, BT * M);
        x->gel = levi_arena_reserve(a, BT * M);
        if (r) {
            x->qa = levi_arena_reserve(a, BT * r);
            x->va = levi_arena_reserve(a, BT * r);
        }
    }
    v->lnf_mean = levi_arena_reserve(a, BT);
    v->lnf_rstd = levi_arena_reserve(a, BT);
    v->cls_out = levi_arena_reserve(a, (size_t)(L + 1) * B * D);
    if (train) {
        v->dh = levi_arena_reserve(a, BT * D);
        v->dtmp = levi_arena_reserve(a, BT * D);
        v->dq = levi_arena_reserve(a, BT * D);
        v->dk = levi_arena_reserve(a, BT * D);
        v->dv = levi_arena_reserve(a, BT * D);
        v->dctx = levi_arena_reserve(a, BT * D);
        v->dfc1 = levi_arena_reserve(a, BT * M);
        v->dgel = levi_arena_reserve(a, BT * M);
        if (r) v->dqa = levi_arena_reserve(a, BT * r);
        v->dpemb = levi_arena_reserve(a, B * (size_t)v->NP * D);
    }
}

/* A ViT with every arena planned (offsets, sizes) and nothing allocated. */
static levi_status vit_plan(levi_vit **out, levi_ctx *ctx, const levi_vit_config *cfg, int max_batch, int train_mode,
                            int lora_rank) {
    *out = NULL;
    LEVI_TRY(levi_vit_config_validate(cfg));
    if (max_batch < 1 || max_batch > 1 << 20)
        return levi_error(LEVI_ERR_INVALID_ARG, "ViT: max_batch must be in [1, 1048576], got %d", max_batch);
    if (train_mode < LEVI_VIT_FROZEN || train_mode > LEVI_VIT_LORA)
        return levi_error(LEVI_ERR_INVALID_ARG, "ViT: train_mode must be 0 (frozen), 1 (full) or 2 (LoRA), got %d",
                          train_mode);
    if (lora_rank < 0 || lora_rank > cfg->hidden_size)
        return levi_error(LEVI_ERR_INVALID_ARG, "ViT: lora_rank must be in [0, hidden_size %d], got %d",
                          cfg->hidden_size, lora_rank);
    if (train_mode == LEVI_VIT_LORA && lora_rank == 0)
        return levi_error(LEVI_ERR_INVALID_ARG, "ViT: LoRA training (train_mode 2) needs lora_rank >= 1");
    if (train_mode == LEVI_VIT_FULL && lora_rank > 0)
        return levi_error(LEVI_ERR_INVALID_ARG, "ViT: full fine-tuning (train_mode 1) takes no LoRA (rank %d)",
                          lora_rank);
    const int g = cfg->image_size / cfg->patch_size;
    const int T = g * g + 1, CPP = cfg->num_channels * cfg->patch_size * cfg->patch_size;
    /* every activation is a GEMM operand or an op's tensor: at most 2^31-1 floats each */
    const size_t width = (size_t)(cfg->intermediate_size > cfg->hidden_size ? cfg->intermediate_size
                                                                             : cfg->hidden_size);
    const size_t per_image = (size_t)T * (width > (size_t)CPP ? width : (size_t)CPP);
    if ((size_t)max_batch * per_image > (size_t)INT_MAX)
        return levi_error(LEVI_ERR_INVALID_ARG,
                          "ViT: max_batch %d gives activations of %zu floats, above 2^31-1 per tensor; the largest "
                          "batch is %zu",
                          max_batch, (size_t)max_batch * per_image, (size_t)INT_MAX / per_image);
    levi_vit *v = calloc(1, sizeof *v);
    if (v) v->table = calloc((size_t)(20 * cfg->num_hidden_layers + 8), sizeof *v->table);
    if (!v || !v->table) {
        free(v);
        return levi_error(LEVI_ERR_HOST_MEMORY, "ViT: out of host memory");
    }
    v->ctx = ctx;
    v->cfg = *cfg;
    v->train_mode = train_mode;
    v->lora_rank = lora_rank;
    v->max_batch = max_batch;
    v->NP = g * g;
    v->T = T;
    v->CPP = CPP;
    levi_arena_init(&v->params, ctx, "ViT parameters");
    levi_arena_init(&v->lora, ctx, "ViT LoRA parameters");
    levi_arena_init(&v->grads, ctx, "ViT gradients");
    levi_arena_init(&v->adam_m, ctx, "ViT AdamW first moments");
    levi_arena_init(&v->adam_v, ctx, "ViT AdamW second moments");
    levi_arena_init(&v->acts, ctx, "ViT activations");
    plan_params(v);
    plan_acts(v);
    const levi_arena *trainable = train_mode == LEVI_VIT_FULL ? &v->params : &v->lora;
    if (train_mode != LEVI_VIT_FROZEN) {
        levi_arena *opt[3] = {&v->grads, &v->adam_m, &v->adam_v};
        for (int i = 0; i < 3; i++) levi_arena_reserve(opt[i], trainable->numel);
    }
    *out = v;
    return LEVI_OK;
}

levi_status levi_vit_memory_plan(const levi_vit_config *cfg, int max_batch, int train_mode, int lora_rank,
                                 levi_vit_memory *out) {
    memset(out, 0, sizeof *out);
    levi_vit *v;
    LEVI_TRY(vit_plan(&v, NULL, cfg, max_batch, train_mode, lora_rank));
    const levi_arena *all[6] = {&v->params, &v->lora, &v->grads, &v->adam_m, &v->adam_v, &v->acts};
    size_t *bytes[6] = {&out->params, &out->lora, &out->grads, &out->adam_m, &out->adam_v, &out->acts};
    for (int i = 0; i < 6; i++) {
        *bytes[i] = all[i]->numel * sizeof(float);
        out->total += *bytes[i];
        if (*bytes[i] > out->largest) out->largest = *bytes[i];
    }
    levi_vit_free(v);
    return LEVI_OK;
}

levi_status levi_vit_create(levi_vit **out, levi_ctx *ctx, const levi_vit_config *cfg, int max_batch,
                            int train_mode, int lora_rank) {
    levi_vit *v;
    LEVI_TRY(vit_plan(&v, ctx, cfg, max_batch, train_mode, lora_rank));
    levi_status st = LEVI_OK;
    levi_arena *all[6] = {&v->params, &v->lora, &v->grads, &v->adam_m, &v->adam_v, &v->acts};
    for (int i = 0; i < 6 && st == LEVI_OK; i++)
        if (all[i]->numel) st = levi_arena_commit(all[i]);
    if (st != LEVI_OK) {
        levi_vit_free(v);
        return st;
    }
    *out = v;
    return LEVI_OK;
}

void levi_vit_free(levi_vit *v) {
    if (!v) return;
    levi_arena *all[6] = {&v->params, &v->lora, &v->grads, &v->adam_m, &v->adam_v, &v->acts};
    for (int i = 0; i < 6; i++) levi_arena_free(all[i]);
    free(v->table);
    free(v);
}

const levi_vit_config *levi_vit_get_config(const levi_vit *v) { return &v->cfg; }
int levi_vit_train_mode(const levi_vit *v) { return v->train_mode; }
int levi_vit_max_batch(const levi_vit *v) { return v->max_batch; }

size_t levi_vit_num_params(const levi_vit *v, size_t *lora_params) {
    size_t n = 0, nl = 0;
    for (int i = 0; i < v->n_table; i++) {
        if (v->table[i].arena == VIT_ARENA_LORA)
            nl += v->table[i].numel;
        else
            n += v->table[i].numel;
    }
    if (lora_params) *lora_params = nl;
    return n;
}

/* --- init ---------------------------------------------------------------------------- */

static double uniform01(unsigned long long *s) { return ((double)(levi_splitmix64(s) >> 11) + 0.5) / 9007199254740992.0; }

/* standard normal truncated to [-2, 2] (HF's trunc_normal_ with std 0.02 keeps ±2σ here) */
static double trunc_normal(unsigned long long *s) {
    for (;;) {
        double z = sqrt(-2.0 * log(uniform01(s))) * cos(6.283185307179586 * uniform01(s));
        if (fabs(z) <= 2.0) return z;
    }
}

/* lora_only: 1 initializes the LoRA weights only (the parameter arena is not written) */
static levi_status init_weights(levi_vit *v, unsigned long long seed, int lora_only) {
    float *hp = calloc(v->params.numel + 1, sizeof(float)), *hl = calloc(v->lora.numel + 1, sizeof(float));
    if (!hp || !hl) {
        free(hp);
        free(hl);
        return levi_error(LEVI_ERR_HOST_MEMORY, "ViT init: out of host memory");
    }
    unsigned long long s = seed * 0x2545F4914F6CDD1Dull + 0x1234567ull;
    for (int i = 0; i < v->n_table; i++) {
        const vit_param *p = &v->table[i];
        if (lora_only && p->arena != VIT_ARENA_LORA) continue;
        float *dst = (p->arena == VIT_ARENA_LORA ? hl : hp) + p->off;
        /* LoRA A as peft: kaiming_uniform(a=√5) = U(-1/√in, 1/√in), in = D */
        const double bound = 1.0 / sqrt((double)v->cfg.hidden_size);
        for (size_t j = 0; j < p->numel; j++) {
            switch (p->init) {
            case VIT_INIT_NORMAL: dst[j] = (float)(0.02 * trunc_normal(&s)); break;
            case VIT_INIT_ONE: dst[j] = 1.0f; break;
            case VIT_INIT_LORA_A: dst[j] = (float)((2.0 * uniform01(&s) - 1.0) * bound); break;
            default: dst[j] = 0.0f; break;
            }
        }
    }
    levi_status st = lora_only ? LEVI_OK : vit_write_arena(&v->params, hp);
    if (st == LEVI_OK) st = vit_write_arena(&v->lora, hl);
    free(hp);
    free(hl);
    return st;
}

levi_status levi_vit_init_random(levi_vit *v, unsigned long long seed) { return init_weights(v, seed, 0); }

levi_status levi_vit_init_lora(levi_vit *v, unsigned long long seed) {
    return v->lora_rank > 0 ? init_weights(v, seed, 1) : LEVI_OK;
}

/* --- forward --------------------------------------------------------------------------- */

void vit_block_views(const levi_vit *v, int l, int B, enc_block_dims *d, enc_block_weights *w, enc_block_weights *gw,
                     enc_block_acts *a, enc_block_grads *g) {
    const levi_vit_config *c = &v->cfg;
    const int D = c->hidden_size, M = c->intermediate_size, BT = B * v->T, r = v->lora_rank;
    const int full = v->train_mode == LEVI_VIT_FULL, lora = v->train_mode == LEVI_VIT_LORA;
    *d = (enc_block_dims){B, v->T, D, M, c->num_attention_heads, r, c->layer_norm_eps, 0}; /* pre-LN */
    const vit_block_w *o = &v->blk[l];
    const size_t offs[16] = {o->ln1_w, o->ln1_b, o->q_w,   o->q_b,   o->k_w,   o->k_b,   o->v_w,   o->v_b,
                             o->o_w,   o->o_b,   o->ln2_w, o->ln2_b, o->fc1_w, o->fc1_b, o->fc2_w, o->fc2_b};
    const int rows[16] = {D, D, D, D, D, D, D, D, D, D, D, D, M, M, D, D};
    const int cols[16] = {0, 0, D, 0, D, 0, D, 0, D, 0, 0, 0, D, 0, M, 0};
    levi_tensor *wt = &w->ln1_w, *gt = &gw->ln1_w; /* the 16 fields in this order */
    for (int i = 0; i < 16; i++) {
        const int absent = (i == 3 || i == 5 || i == 7) && !c->qkv_bias;
        wt[i] = cols[i] ? vit_view2(&v->params, offs[i], rows[i], cols[i]) : vit_view1(&v->params, offs[i], rows[i]);
        gt[i] = cols[i] ? vit_view2(&v->grads, offs[i], rows[i], cols[i]) : vit_view1(&v->grads, offs[i], rows[i]);
        if (absent) memset(&wt[i], 0, sizeof wt[i]);
        if (absent || !full) memset(&gt[i], 0, sizeof gt[i]);
    }
    memset(&w->qa, 0, 4 * sizeof w->qa);
    memset(&gw->qa, 0, 4 * sizeof gw->qa);
    if (r > 0) {
        const vit_block_lora *lw = &v->lblk[l];
        w->qa = vit_view2(&v->lora, lw->qa, r, D), w->qb = vit_view2(&v->lora, lw->qb, D, r);
        w->va = vit_view2(&v->lora, lw->va, r, D), w->vb = vit_view2(&v->lora, lw->vb, D, r);
        if (lora) {
            gw->qa = vit_view2(&v->grads, lw->qa, r, D), gw->qb = vit_view2(&v->grads, lw->qb, D, r);
            gw->va = vit_view2(&v->grads, lw->va, r, D), gw->vb = vit_view2(&v->grads, lw->vb, D, r);
        }
    }
    const vit_block_act *x = &v->act[l];
    const levi_arena *A = &v->acts;
#define AT(off, n1) vit_view2(A, (off), BT, (n1))
    memset(a, 0, sizeof *a);
    a->hin = AT(v->hidden[l], D), a->hout = AT(v->hidden[l + 1], D);
    a->ln1 = AT(x->ln1, D), a->ln1_mean = vit_view1(A, x->ln1_mean, BT), a->ln1_rstd = vit_view1(A, x->ln1_rstd, BT);
    a->q = AT(x->q, D), a->k = AT(x->k, D), a->v = AT(x->v, D), a->ctx = AT(x->ctx, D);
    a->lse = vit_view2(A, x->lse, B * c->num_attention_heads, v->T);
    a->hmid = AT(x->hmid, D), a->ln2 = AT(x->ln2, D);
    a->ln2_mean = vit_view1(A, x->ln2_mean, BT), a->ln2_rstd = vit_view1(A, x->ln2_rstd, BT);
    a->fc1 = AT(x->fc1, M), a->gel = AT(x->gel, M);
    if (r > 0) a->qa = AT(x->qa, r), a->va = AT(x->va, r);
    memset(g, 0, sizeof *g);
    if (v->train_mode != LEVI_VIT_FROZEN) {
        g->dh = AT(v->dh, D), g->dtmp = AT(v->dtmp, D), g->dq = AT(v->dq, D), g->dk = AT(v->dk, D);
        g->dv = AT(v->dv, D), g->dctx = AT(v->dctx, D), g->dfc1 = AT(v->dfc1, M), g->dgel = AT(v->dgel, M);
        if (r > 0) g->dqa = AT(v->dqa, r);
    }
#undef AT
}

levi_status levi_vit_forward(levi_vit *v, const levi_tensor *pixels, int B) {
    const levi_vit_config *c = &v->cfg;
    if (B < 1 || B > v->max_batch)
        return levi_error(LEVI_ERR_INVALID_ARG, "ViT forward: batch %d outside [1, max_batch %d]", B, v->max_batch);
    const size_t need = (size_t)B * c->num_channels * c->image_size * c->image_size;
    if (pixels->numel < need)
        return levi_error(LEVI_ERR_SHAPE, "ViT forward: pixels hold %zu floats, (%d,%d,%d,%d) needs %zu",
                          pixels->numel, B, c->num_channels, c->image_size, c->image_size, need);
    levi_ctx *ctx = v->ctx;
    const int D = c->hidden_size, L = c->num_hidden_layers, BT = B * v->T, NPB = B * v->NP;
    levi_tensor patches = vit_view2(&v->acts, v->patches, NPB, v->CPP), pemb = vit_view2(&v->acts, v->pemb, NPB, D);
    levi_tensor pw = vit_view2(&v->params, v->patch_w, D, v->CPP), pb = vit_view1(&v->params, v->patch_b, D);
    LEVI_TRY(levi_patchify(ctx, &patches, pixels, B, c->num_channels, c->image_size, c->image_size, c->patch_size));
    LEVI_TRY(levi_linear_forward(ctx, &pemb, &patches, &pw, &pb, NPB, v->CPP, D));
    levi_tensor h0 = vit_view3(&v->acts, v->hidden[0], B, v->T, D), cls = vit_view1(&v->params, v->cls, D);
    levi_tensor pos = vit_view2(&v->params, v->pos, v->T, D);
    LEVI_TRY(levi_embed_tokens_forward(ctx, &h0, &cls, &pos, &pemb, B, v->T, D));
    for (int l = 0; l < L; l++) {
        enc_block_dims d;
        enc_block_weights w, gw;
        enc_block_acts a;
        enc_block_grads g;
        vit_block_views(v, l, B, &d, &w, &gw, &a, &g);
        LEVI_TRY(enc_block_forward(ctx, &d, &w, &a));
    }
    levi_tensor hl = vit_view2(&v->acts, v->hidden[L], BT, D), hf = vit_view2(&v->acts, v->hidden[L + 1], BT, D);
    levi_tensor mf = vit_view1(&v->acts, v->lnf_mean, BT), rf = vit_view1(&v->acts, v->lnf_rstd, BT);
    levi_tensor fw = vit_view1(&v->params, v->lnf_w, D), fb = vit_view1(&v->params, v->lnf_b, D);
    LEVI_TRY(levi_layernorm_forward(ctx, &hf, &mf, &rf, &hl, &fw, &fb, BT, D, c->layer_norm_eps));
    for (int l = 0; l <= L; l++) {
        levi_tensor cls = levi_vit_cls(v, l, B), h = vit_view3(&v->acts, v->hidden[l + 1], B, v->T, D);
        LEVI_TRY(levi_take_token_forward(ctx, &cls, &h, 0, B, v->T, D));
    }
    return LEVI_OK;
}

levi_tensor levi_vit_cls(levi_vit *v, int l, int B) {
    const int D = v->cfg.hidden_size, L = v->cfg.num_hidden_layers;
    if (l < 0) l = 0;
    if (l > L) l = L;
    return vit_view2(&v->acts, v->cls_out + (size_t)l * (size_t)v->max_batch * (size_t)D, B, D);
}

levi_tensor levi_vit_hidden(levi_vit *v, int l, int B) {
    const int L = v->cfg.num_hidden_layers;
    if (l < 0) l = 0;
    if (l > L + 1) l = L + 1;
    return vit_view3(&v->acts, v->hidden[l], B, v->T, v->cfg.hidden_size);
}

levi_status levi_vit_zero_grad(levi_vit *v) {
    if (!v->grads.numel) return LEVI_OK;
    levi_tensor g = levi_arena_all(&v->grads);
    return levi_tensor_zero(&g);
}

int levi_vit_trainable(levi_vit *v, levi_tensor *params, levi_tensor *grads, levi_tensor *adam_m,
                       levi_tensor *adam_v) {
    if (v->train_mode == LEVI_VIT_FROZEN) return 0;
    const levi_arena *p = v->train_mode == LEVI_VIT_FULL ? &v->params : &v->lora;
    if (params) *params = levi_arena_all(p);
    if (grads) *grads = levi_arena_all(&v->grads);
    if (adam_m) *adam_m = levi_arena_all(&v->adam_m);
    if (adam_v) *adam_v = levi_arena_all(&v->adam_v);
    return 1;
}

levi_status levi_vit_find(levi_vit *v, const char *name, levi_tensor *param, levi_tensor *grad) {
    for (int i = 0; i < v->n_table; i++) {
        const vit_param *p = &v->table[i];
        if (strcmp(p->name, name)) continue;
        int shape[4];
        for (int d = 0; d < p->ndim; d++) shape[d] = (int)p->shape[d];
        const int lora = p->arena == VIT_ARENA_LORA;
        if (param) *param = levi_arena_tensor(lora ? &v->lora : &v->params, p->off, p->ndim, shape);
        if (grad) {
            const int trainable = (lora && v->train_mode == LEVI_VIT_LORA) || (!lora && v->train_mode == LEVI_VIT_FULL);
            if (trainable)
                *grad = levi_arena_tensor(&v->grads, p->off, p->ndim, shape);
            else
                memset(grad, 0, sizeof *grad);
        }
        return LEVI_OK;
    }
    return levi_error(LEVI_ERR_NOT_FOUND, "ViT: no weight named '%s'", name);
}
