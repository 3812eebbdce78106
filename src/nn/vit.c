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

#define SHAPE(...) ((const long long[]){__VA_ARGS__})

static void plan_params(levi_vit *v) {
    enc_stack *s = &v->enc;
    const levi_vit_config *c = &v->cfg;
    const long long D = c->hidden_size, M = c->intermediate_size, C = c->num_channels, P = c->patch_size;
    const int P_ = ENC_ARENA_PARAMS, N = ENC_INIT_NORMAL, Z = ENC_INIT_ZERO, O = ENC_INIT_ONE;
    v->cls = enc_add_param(s, P_, N, 3, SHAPE(1, 1, D), "embeddings.cls_token");
    v->pos = enc_add_param(s, P_, N, 3, SHAPE(1, s->T, D), "embeddings.position_embeddings");
    v->patch_w = enc_add_param(s, P_, N, 4, SHAPE(D, C, P, P), "embeddings.patch_embeddings.projection.weight");
    v->patch_b = enc_add_param(s, P_, Z, 1, SHAPE(D), "embeddings.patch_embeddings.projection.bias");
    for (int l = 0; l < c->num_hidden_layers; l++) {
        enc_layer_w *w = &s->lw[l];
        char pre[64];
        snprintf(pre, sizeof pre, "encoder.layer.%d.", l);
        w->ln1_w = enc_add_param(s, P_, O, 1, SHAPE(D), "%slayernorm_before.weight", pre);
        w->ln1_b = enc_add_param(s, P_, Z, 1, SHAPE(D), "%slayernorm_before.bias", pre);
        const char *qkv[3] = {"query", "key", "value"};
        size_t *qkv_w[3] = {&w->q_w, &w->k_w, &w->v_w}, *qkv_b[3] = {&w->q_b, &w->k_b, &w->v_b};
        for (int j = 0; j < 3; j++) {
            *qkv_w[j] = enc_add_param(s, P_, N, 2, SHAPE(D, D), "%sattention.attention.%s.weight", pre, qkv[j]);
            if (c->qkv_bias)
                *qkv_b[j] = enc_add_param(s, P_, Z, 1, SHAPE(D), "%sattention.attention.%s.bias", pre, qkv[j]);
        }
        w->o_w = enc_add_param(s, P_, N, 2, SHAPE(D, D), "%sattention.output.dense.weight", pre);
        w->o_b = enc_add_param(s, P_, Z, 1, SHAPE(D), "%sattention.output.dense.bias", pre);
        w->ln2_w = enc_add_param(s, P_, O, 1, SHAPE(D), "%slayernorm_after.weight", pre);
        w->ln2_b = enc_add_param(s, P_, Z, 1, SHAPE(D), "%slayernorm_after.bias", pre);
        w->fc1_w = enc_add_param(s, P_, N, 2, SHAPE(M, D), "%sintermediate.dense.weight", pre);
        w->fc1_b = enc_add_param(s, P_, Z, 1, SHAPE(M), "%sintermediate.dense.bias", pre);
        w->fc2_w = enc_add_param(s, P_, N, 2, SHAPE(D, M), "%soutput.dense.weight", pre);
        w->fc2_b = enc_add_param(s, P_, Z, 1, SHAPE(D), "%soutput.dense.bias", pre);
    }
    v->lnf_w = enc_add_param(s, P_, O, 1, SHAPE(D), "layernorm.weight");
    v->lnf_b = enc_add_param(s, P_, Z, 1, SHAPE(D), "layernorm.bias");
    enc_plan_lora(s, "encoder.layer.%d.attention.attention.%s.lora_%s");
}

static void plan_acts(levi_vit *v) {
    enc_stack *s = &v->enc;
    const size_t B = (size_t)s->max_batch, BT = B * (size_t)s->T, D = (size_t)s->D;
    levi_arena *a = &s->acts;
    v->patches = levi_arena_reserve(a, B * (size_t)v->NP * (size_t)v->CPP);
    v->pemb = levi_arena_reserve(a, B * (size_t)v->NP * D);
    enc_plan_hidden(s, s->L + 2);
    enc_plan_blocks(s);
    v->lnf_mean = levi_arena_reserve(a, BT);
    v->lnf_rstd = levi_arena_reserve(a, BT);
    enc_plan_taps(s);
    enc_plan_scratch(s);
    if (s->train_mode != LEVI_VIT_FROZEN) v->dpemb = levi_arena_reserve(a, B * (size_t)v->NP * D);
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
    if (!v) return levi_error(LEVI_ERR_HOST_MEMORY, "ViT: out of host memory");
    v->cfg = *cfg;
    v->NP = g * g;
    v->CPP = CPP;
    v->enc = (enc_stack){.name = "ViT", .D = cfg->hidden_size, .M = cfg->intermediate_size,
                         .NH = cfg->num_attention_heads, .L = cfg->num_hidden_layers, .T = T,
                         .lora_rank = lora_rank, .max_batch = max_batch, .train_mode = train_mode, .post_ln = 0,
                         .qkv_bias = cfg->qkv_bias, .eps = cfg->layer_norm_eps};
    static const char *const roles[6] = {"ViT parameters", "ViT LoRA parameters", "ViT gradients",
                                         "ViT AdamW first moments", "ViT AdamW second moments", "ViT activations"};
    levi_status st = enc_stack_init(&v->enc, ctx, roles);
    if (st != LEVI_OK) {
        levi_vit_free(v);
        return st;
    }
    plan_params(v);
    plan_acts(v);
    enc_plan_optimizer(&v->enc);
    *out = v;
    return LEVI_OK;
}

levi_status levi_vit_memory_plan(const levi_vit_config *cfg, int max_batch, int train_mode, int lora_rank,
                                 levi_vit_memory *out) {
    memset(out, 0, sizeof *out);
    levi_vit *v;
    LEVI_TRY(vit_plan(&v, NULL, cfg, max_batch, train_mode, lora_rank));
    const enc_stack *s = &v->enc;
    const levi_arena *all[6] = {&s->params, &s->lora, &s->grads, &s->adam_m, &s->adam_v, &s->acts};
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
    levi_status st = enc_stack_commit(&v->enc);
    if (st != LEVI_OK) {
        levi_vit_free(v);
        return st;
    }
    *out = v;
    return LEVI_OK;
}

void levi_vit_free(levi_vit *v) {
    if (!v) return;
    enc_stack_free(&v->enc);
    free(v);
}

const levi_vit_config *levi_vit_get_config(const levi_vit *v) { return &v->cfg; }
int levi_vit_train_mode(const levi_vit *v) { return v->enc.train_mode; }
int levi_vit_max_batch(const levi_vit *v) { return v->enc.max_batch; }

size_t levi_vit_num_params(const levi_vit *v, size_t *lora_params) { return enc_num_params(&v->enc, lora_params); }

/* --- init ---------------------------------------------------------------------------- */

/* standard normal truncated to [-2, 2] (HF's trunc_normal_ with std 0.02 keeps ±2σ here) */
static double trunc_normal(unsigned long long *s) {
    for (;;) {
        double z = sqrt(-2.0 * log(enc_uniform01(s))) * cos(6.283185307179586 * enc_uniform01(s));
        if (fabs(z) <= 2.0) return z;
    }
}

static float vit_sample(int init, double bound, unsigned long long *s) {
    switch (init) {
    case ENC_INIT_NORMAL: return (float)(0.02 * trunc_normal(s));
    case ENC_INIT_ONE: return 1.0f;
    case ENC_INIT_LORA_A: return (float)((2.0 * enc_uniform01(s) - 1.0) * bound);
    default: return 0.0f;
    }
}

static levi_status init_weights(levi_vit *v, unsigned long long seed, int lora_only) {
    return enc_init_weights(&v->enc, seed * 0x2545F4914F6CDD1Dull + 0x1234567ull, vit_sample, lora_only);
}

levi_status levi_vit_init_random(levi_vit *v, unsigned long long seed) { return init_weights(v, seed, 0); }

levi_status levi_vit_init_lora(levi_vit *v, unsigned long long seed) {
    return v->enc.lora_rank > 0 ? init_weights(v, seed, 1) : LEVI_OK;
}

/* --- forward --------------------------------------------------------------------------- */

levi_status levi_vit_forward(levi_vit *v, const levi_tensor *pixels, int B) {
    enc_stack *s = &v->enc;
    const levi_vit_config *c = &v->cfg;
    if (B < 1 || B > s->max_batch)
        return levi_error(LEVI_ERR_INVALID_ARG, "ViT forward: batch %d outside [1, max_batch %d]", B, s->max_batch);
    const size_t need = (size_t)B * c->num_channels * c->image_size * c->image_size;
    if (pixels->numel < need)
        return levi_error(LEVI_ERR_SHAPE, "ViT forward: pixels hold %zu floats, (%d,%d,%d,%d) needs %zu",
                          pixels->numel, B, c->num_channels, c->image_size, c->image_size, need);
    levi_ctx *ctx = s->ctx;
    const int D = c->hidden_size, L = c->num_hidden_layers, T = s->T, BT = B * T, NPB = B * v->NP;
    const levi_arena *A = &s->acts, *P = &s->params;
    levi_tensor patches = enc_view(A, v->patches, NPB, v->CPP), pemb = enc_view(A, v->pemb, NPB, D);
    levi_tensor pw = enc_view(P, v->patch_w, D, v->CPP), pb = enc_view(P, v->patch_b, D, 0);
    LEVI_TRY(levi_patchify(ctx, &patches, pixels, B, c->num_channels, c->image_size, c->image_size, c->patch_size));
    LEVI_TRY(levi_linear_forward(ctx, &pemb, &patches, &pw, &pb, NPB, v->CPP, D));
    levi_tensor h0 = enc_hidden(s, 0, B), cls = enc_view(P, v->cls, D, 0), pos = enc_view(P, v->pos, T, D);
    LEVI_TRY(levi_embed_tokens_forward(ctx, &h0, &cls, &pos, &pemb, B, T, D));
    LEVI_TRY(enc_forward_blocks(s, B));
    levi_tensor hl = enc_view(A, s->hidden[L], BT, D), hf = enc_view(A, s->hidden[L + 1], BT, D);
    levi_tensor mf = enc_view(A, v->lnf_mean, BT, 0), rf = enc_view(A, v->lnf_rstd, BT, 0);
    levi_tensor fw = enc_view(P, v->lnf_w, D, 0), fb = enc_view(P, v->lnf_b, D, 0);
    LEVI_TRY(levi_layernorm_forward(ctx, &hf, &mf, &rf, &hl, &fw, &fb, BT, D, c->layer_norm_eps));
    for (int l = 0; l <= L; l++) {
        levi_tensor tap = enc_tap(s, l, B), h = enc_hidden(s, l + 1, B);
        LEVI_TRY(levi_take_token_forward(ctx, &tap, &h, 0, B, T, D));
    }
    return LEVI_OK;
}

levi_tensor levi_vit_cls(levi_vit *v, int l, int B) { return enc_tap(&v->enc, l, B); }
levi_tensor levi_vit_hidden(levi_vit *v, int l, int B) { return enc_hidden(&v->enc, l, B); }
levi_status levi_vit_zero_grad(levi_vit *v) { return enc_zero_grad(&v->enc); }

int levi_vit_trainable(levi_vit *v, levi_tensor *params, levi_tensor *grads, levi_tensor *adam_m,
                       levi_tensor *adam_v) {
    return enc_trainable(&v->enc, params, grads, adam_m, adam_v);
}

levi_status levi_vit_find(levi_vit *v, const char *name, levi_tensor *param, levi_tensor *grad) {
    return enc_find(&v->enc, name, param, grad);
}
