/* The engine suites' tiny models and data (engine_models.h). */
#include <stdlib.h>
#include <string.h>

#include "engine_models.h"

levi_ctx *g_ctx;

void tiny_vit(levi_vit_config *c) {
    levi_vit_config_default(c);
    c->image_size = IMG;
    c->patch_size = 4;
    c->num_channels = 1;
    c->hidden_size = 16;
    c->num_hidden_layers = 2;
    c->num_attention_heads = 2;
    c->intermediate_size = 32;
}

/* the settings both tiny models share (adapters, LoRA, seed, two taps for LEVI), then the model */
static levi_model *create_small(levi_ctx *hc, levi_model_config *mc, levi_method method, levi_fusion fusion,
                                levi_backbone *bb) {
    mc->adapter_hidden = 8;
    mc->lora_rank = 2;
    mc->seed = 5;
    if (method == LEVI_METHOD_LEVI || method == LEVI_METHOD_LEVI_LORA) {
        mc->fusion = fusion;
        mc->ntaps = 2;
        mc->taps[0] = 0;
        mc->taps[1] = 2;
    }
    levi_model *m;
    ck_assert_levi_ok(levi_model_create(&m, hc, mc, bb, B));
    return m;
}

/* A model of `method` on head ctx `hc` with its ViT backbone on `bc`. */
levi_model *tiny_model(levi_ctx *hc, levi_ctx *bc, levi_method method, levi_fusion fusion) {
    levi_vit_config vc;
    tiny_vit(&vc);
    int mode = levi_method_backbone_mode(method);
    levi_backbone *bb = NULL;
    if (mode >= 0) {
        levi_vit *v;
        ck_assert_levi_ok(levi_vit_create(&v, bc, &vc, B, mode, mode == LEVI_BACKBONE_LORA ? 2 : 0));
        ck_assert_levi_ok(levi_vit_init_random(v, 3));
        ck_assert_levi_ok(levi_backbone_from_vit(&bb, bc, v));
    }
    levi_model_config mc;
    levi_model_config_default(&mc, method);
    mc.num_classes = K;
    mc.height = mc.width = IMG;
    mc.task.hidden = 8;
    return create_small(hc, &mc, method, fusion, bb);
}

void batch(float *x, float *y, unsigned seed) {
    test_fill_uniform(x, (size_t)B * IMG * IMG, seed, -1.0f, 1.0f);
    for (int i = 0; i < B; i++) y[i] = (float)((i + (int)seed) % K);
}

/* Every trainable value (parameters of every group) on the host. */
float *params_of(levi_model *m, size_t *n) {
    levi_grad_group g[2];
    int ng = levi_model_grad_groups(m, g, 2);
    size_t total = 0;
    for (int i = 0; i < ng; i++) total += g[i].params.numel;
    float *h = malloc(total * sizeof *h);
    size_t at = 0;
    for (int i = 0; i < ng; i++) {
        ck_assert_levi_ok(levi_tensor_read(&g[i].params, h + at));
        at += g[i].params.numel;
    }
    *n = total;
    return h;
}

/* A synthetic data set of n images of the tiny model's size (owned by the caller). */
levi_dataset synthetic(int n) {
    static char *names[K] = {"a", "b", "c"};
    levi_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.n = n;
    ds.channels = 1;
    ds.height = ds.width = IMG;
    ds.num_classes = K;
    ds.class_names = names;
    levi_preprocess_default(&ds.pre, 1, IMG, IMG, 0.5f, 0.5f);
    ds.pixels = malloc((size_t)n * IMG * IMG);
    ds.labels = malloc((size_t)n * sizeof(int));
    unsigned long long r = 21;
    for (size_t i = 0; i < (size_t)n * IMG * IMG; i++) ds.pixels[i] = (unsigned char)(levi_splitmix64(&r) >> 56);
    for (int i = 0; i < n; i++) ds.labels[i] = i % K;
    return ds;
}

levi_model *tiny_text_model(levi_ctx *hc, levi_ctx *bc, levi_method method, levi_fusion fusion) {
    int mode = levi_method_backbone_mode(method);
    levi_backbone *bb = NULL;
    if (mode >= 0) {
        levi_bert_config c = {.vocab_size = VOCAB_TEXT, .hidden_size = 16, .num_hidden_layers = 2,
                              .num_attention_heads = 2, .intermediate_size = 32, .max_position_embeddings = 32,
                              .type_vocab_size = 2, .layer_norm_eps = 1e-12f, .pooling = LEVI_POOL_MEAN};
        levi_bert *b;
        ck_assert_levi_ok(levi_bert_create(&b, bc, &c, B, SEQ, mode, mode == LEVI_BACKBONE_LORA ? 2 : 0));
        ck_assert_levi_ok(levi_bert_init_random(b, 3));
        ck_assert_levi_ok(levi_backbone_from_bert(&bb, bc, b));
    }
    levi_model_config mc;
    levi_model_config_default(&mc, method);
    mc.num_classes = K;
    mc.input = LEVI_INPUT_TOKENS;
    mc.seq_len = SEQ;
    mc.task.kind = LEVI_TASK_NGRAM;
    mc.task.hidden = 8;
    mc.task.buckets = 97;
    mc.task.embed = 8;
    return create_small(hc, &mc, method, fusion, bb);
}

levi_dataset synthetic_text(int n) {
    static char *names[K] = {"a", "b", "c"};
    levi_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.kind = LEVI_INPUT_TOKENS;
    ds.n = n;
    ds.seq_len = SEQ;
    ds.num_classes = K;
    ds.class_names = names;
    ds.tokens = malloc((size_t)n * SEQ * sizeof *ds.tokens);
    ds.mask = malloc((size_t)n * SEQ);
    ds.labels = malloc((size_t)n * sizeof(int));
    unsigned long long r = 23;
    for (int i = 0; i < n; i++) {
        int len = 2 + i % (SEQ - 1);
        for (int t = 0; t < SEQ; t++) {
            ds.tokens[i * SEQ + t] = t < len ? (int)(levi_splitmix64(&r) % VOCAB_TEXT) : 0;
            ds.mask[i * SEQ + t] = t < len;
        }
        ds.labels[i] = i % K;
    }
    return ds;
}

void synthetic_free(levi_dataset *ds) {
    free(ds->pixels);
    free(ds->tokens);
    free(ds->mask);
    free(ds->labels);
}
