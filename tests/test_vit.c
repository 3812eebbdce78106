/* ViT backbone: configuration, Hugging Face parity of the hidden states
 * (golden file from tools/golden_vit.py with transformers), gradients of full
 * fine-tuning and of LoRA against torch autograd, the "vit." prefix, save/load
 * round trips and bad inputs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "golden.h"
#include "testutil.h"

static golden_file G;
static levi_ctx *CTX;

static void fixture_dir(char *buf, size_t len, const char *name) { golden_path(buf, len, name); }

static const golden_array *gget(const char *name) {
    const golden_array *a = golden_get(&G, name);
    ck_assert_msg(a != NULL, "golden array '%s' missing from vit_tiny.bin", name);
    return a;
}

static void expect_tensor(const levi_tensor *t, const golden_array *ref, double tol, const char *what) {
    ck_assert_msg(t->numel >= ref->numel, "%s: tensor has %zu floats, golden %zu", what, t->numel, ref->numel);
    levi_tensor view = *t;
    view.numel = ref->numel;
    float *got = malloc(ref->numel * sizeof(float));
    ck_assert_levi_ok(levi_tensor_read(&view, got));
    /* relative to max |ref|, at least 1e-2: all-but-zero tensors such as the key bias's gradient */
    test_check_rel_f(what, got, ref->data, ref->numel, tol, 1e-2);
    free(got);
}

static levi_tensor upload_pixels(const golden_array *px) {
    levi_tensor t;
    ck_assert_levi_ok(levi_tensor_alloc(&t, CTX, px->ndim, px->shape));
    ck_assert_levi_ok(levi_tensor_write(&t, px->data));
    return t;
}

static void setup(void) {
    char path[1024], err[512];
    golden_path(path, sizeof path, "vit_tiny.bin");
    ck_assert_msg(golden_load(&G, path, err, sizeof err) == 0, "%s", err);
    setenv("LEVI_CACHE_DIR", "off", 0);
    CTX = test_ctx();
}

static void teardown(void) {
    golden_free(&G);
    levi_ctx_destroy(CTX);
    CTX = NULL;
}

/* --- host ---------------------------------------------------------------------- */

START_TEST(config_default_and_validate) {
    levi_vit_config c;
    levi_vit_config_default(&c);
    ck_assert_int_eq(c.image_size, 28);
    ck_assert_int_eq(c.patch_size, 7);
    ck_assert_int_eq(c.hidden_size, 64);
    ck_assert_int_eq(c.num_hidden_layers, 4);
    ck_assert_int_eq(c.num_attention_heads, 4);
    ck_assert_int_eq(c.intermediate_size, 128);
    ck_assert_levi_ok(levi_vit_config_validate(&c));
    c.patch_size = 5;
    ck_assert_int_eq(levi_vit_config_validate(&c), LEVI_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "patch_size"));
    levi_vit_config_default(&c);
    c.num_attention_heads = 3;
    ck_assert_int_eq(levi_vit_config_validate(&c), LEVI_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "num_attention_heads"));
}
END_TEST

START_TEST(config_json_round_trip) {
    levi_vit_config c, d;
    levi_vit_config_default(&c);
    c.image_size = 32;
    c.patch_size = 8;
    c.qkv_bias = 0;
    c.image_mean = 0.25f;
    c.image_std = 0.75f;
    char *s = levi_vit_config_json(&c);
    ck_assert_ptr_nonnull(s);
    ck_assert_levi_ok(levi_vit_config_parse(&d, s, "mem"));
    free(s);
    ck_assert_int_eq(d.image_size, 32);
    ck_assert_int_eq(d.patch_size, 8);
    ck_assert_int_eq(d.qkv_bias, 0);
    ck_assert_int_eq(d.hidden_size, c.hidden_size);
    ck_assert_float_eq_tol(d.layer_norm_eps, 1e-12f, 1e-18f);
    ck_assert_float_eq_tol(d.image_mean, 0.25f, 1e-7f);
    ck_assert_float_eq_tol(d.image_std, 0.75f, 1e-7f);
}
END_TEST

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* Config errors come before any device work, so no context is needed. */
START_TEST(config_bad_inputs) {
    char *dir = test_tmpdir(), path[1024];
    snprintf(path, sizeof path, "%s/config.json", dir);
    const struct {
        const char *json, *want1, *want2;
        levi_status st;
    } cases[] = {
        {"{\"num_hidden_layers\":2,\"num_attention_heads\":2,\"intermediate_size\":32,\"image_size\":8,"
         "\"patch_size\":4,\"num_channels\":1}",
         "hidden_size", "missing", LEVI_ERR_FORMAT},
        {"{\"hidden_size\":\"16\",\"num_hidden_layers\":2,\"num_attention_heads\":2,\"intermediate_size\":32,"
         "\"image_size\":8,\"patch_size\":4,\"num_channels\":1}",
         "hidden_size", "integer", LEVI_ERR_FORMAT},
        {"{\"hidden_size\":16,\"num_hidden_layers\":2,\"num_attention_heads\":2,\"intermediate_size\":32,"
         "\"image_size\":8,\"patch_size\":4,\"num_channels\":1,\"qkv_bias\":3}",
         "qkv_bias", "config.json", LEVI_ERR_FORMAT},
        {"{\"hidden_size\":16,\"num_hidden_layers\":2,\"num_attention_heads\":2,\"intermediate_size\":32,"
         "\"image_size\":8,\"patch_size\":3,\"num_channels\":1}",
         "patch_size", "config.json", LEVI_ERR_FORMAT},
        {"{\"hidden_size\":16,\"num_hidden_layers\":2,\"num_attention_heads\":2,\"intermediate_size\":32,"
         "\"image_size\":8,\"patch_size\":4,\"num_channels\":1,\"hidden_act\":\"relu\"}",
         "hidden_act", "relu", LEVI_ERR_UNSUPPORTED},
        {"{\"hidden_size\":16,", "config.json", "JSON", LEVI_ERR_FORMAT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_text(path, cases[i].json);
        levi_vit *v = (levi_vit *)1;
        levi_status st = levi_vit_load(&v, NULL, dir, 2, 0, 0);
        ck_assert_msg(st == cases[i].st, "case %zu: %s (%s)", i, levi_status_name(st), levi_last_error());
        ck_assert_ptr_null(v);
        ck_assert_msg(strstr(levi_last_error(), cases[i].want1) && strstr(levi_last_error(), cases[i].want2),
                      "case %zu: message '%s' lacks '%s'/'%s'", i, levi_last_error(), cases[i].want1,
                      cases[i].want2);
    }
    /* normalization: per-channel lists are averaged; a bad preprocessor_config.json is named */
    levi_vit_config c;
    ck_assert_levi_ok(levi_vit_config_parse(&c,
                                            "{\"hidden_size\":16,\"num_hidden_layers\":2,\"num_attention_heads\":2,"
                                            "\"intermediate_size\":32,\"image_size\":8,\"patch_size\":4,"
                                            "\"num_channels\":3,\"image_mean\":[0.4,0.5,0.6],\"image_std\":0.25}",
                                            "mem"));
    ck_assert_float_eq_tol(c.image_mean, 0.5f, 1e-6f);
    ck_assert_float_eq_tol(c.image_std, 0.25f, 1e-7f);
    ck_assert_int_eq(levi_vit_config_parse(&c,
                                           "{\"hidden_size\":16,\"num_hidden_layers\":2,\"num_attention_heads\":2,"
                                           "\"intermediate_size\":32,\"image_size\":8,\"patch_size\":4,"
                                           "\"num_channels\":1,\"image_std\":[\"x\"]}",
                                           "mem"),
                     LEVI_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "image_std"));
    write_text(path, "{\"hidden_size\":16,\"num_hidden_layers\":2,\"num_attention_heads\":2,\"intermediate_size\":32,"
                     "\"image_size\":8,\"patch_size\":4,\"num_channels\":1}");
    char pre[1100];
    snprintf(pre, sizeof pre, "%s/preprocessor_config.json", dir);
    write_text(pre, "{\"image_mean\":[0.5],\"image_std\":[0]}");
    levi_vit *v = NULL;
    ck_assert_int_eq(levi_vit_load(&v, NULL, dir, 2, 0, 0), LEVI_ERR_FORMAT);
    ck_assert_msg(strstr(levi_last_error(), "preprocessor_config.json") && strstr(levi_last_error(), "image_std"),
                  "message: %s", levi_last_error());
    remove(pre);
    /* no config.json at all */
    remove(path);
    ck_assert_int_ne(levi_vit_load(&v, NULL, dir, 2, 0, 0), LEVI_OK);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "config.json"));
    rmdir(dir);
    free(dir);
}
END_TEST

/* --- device: parity with Hugging Face --------------------------------------------- */

static void check_hidden(levi_vit *v, const char *prefix, int B) {
    const int L = levi_vit_get_config(v)->num_hidden_layers;
    char name[64];
    for (int l = 0; l <= L; l++) {
        snprintf(name, sizeof name, "%shidden.%d", prefix, l);
        levi_tensor h = levi_vit_hidden(v, l, B);
        expect_tensor(&h, gget(name), 1e-4, name);
    }
    snprintf(name, sizeof name, "%slast", prefix);
    levi_tensor h = levi_vit_hidden(v, L + 1, B);
    expect_tensor(&h, gget(name), 1e-4, name);
    /* CLS taps are token 0 of those states */
    const int D = levi_vit_get_config(v)->hidden_size;
    for (int l = 0; l <= L; l++) {
        snprintf(name, sizeof name, l == L ? "%slast" : "%shidden.%d", prefix, l + 1);
        const golden_array *ref = gget(name);
        const int T = ref->shape[1];
        float *want = malloc((size_t)B * D * sizeof(float));
        for (int b = 0; b < B; b++) memcpy(want + (size_t)b * D, ref->data + (size_t)b * T * D, D * sizeof(float));
        golden_array cls = {.ndim = 2, .shape = {B, D}, .numel = (size_t)B * D, .data = want};
        levi_tensor c = levi_vit_cls(v, l, B);
        ck_assert_int_eq(c.shape[0], B);
        ck_assert_int_eq(c.shape[1], D);
        expect_tensor(&c, &cls, 1e-4, "cls tap");
        free(want);
    }
}

static levi_vit *load_fixture(const char *sub, int mode, int rank) {
    char dir[1024];
    fixture_dir(dir, sizeof dir, sub);
    levi_vit *v = NULL;
    ck_assert_levi_ok(levi_vit_load(&v, CTX, dir, 2, mode, rank));
    return v;
}

START_TEST(hf_parity_hidden_states) {
    const golden_array *px = gget("pixels");
    const int B = px->shape[0];
    levi_tensor pixels = upload_pixels(px);
    levi_vit *v = load_fixture("vit_tiny", LEVI_VIT_FROZEN, 0);
    ck_assert_levi_ok(levi_vit_forward(v, &pixels, B));
    check_hidden(v, "", B);
    /* batch 1 gives the first image's states */
    ck_assert_levi_ok(levi_vit_forward(v, &pixels, 1));
    const golden_array *last = gget("last");
    golden_array first = *last;
    first.shape[0] = 1;
    first.numel = last->numel / (size_t)B;
    levi_tensor h = levi_vit_hidden(v, levi_vit_get_config(v)->num_hidden_layers + 1, 1);
    expect_tensor(&h, &first, 1e-4, "last (batch 1)");
    levi_vit_free(v);
    levi_tensor_free(&pixels);
}
END_TEST

START_TEST(hf_classification_prefix) {
    const golden_array *px = gget("pixels");
    levi_tensor pixels = upload_pixels(px);
    levi_vit *v = load_fixture("vit_tiny_cls", LEVI_VIT_FROZEN, 0);
    ck_assert_levi_ok(levi_vit_forward(v, &pixels, px->shape[0]));
    check_hidden(v, "", px->shape[0]);
    levi_vit_free(v);
    levi_tensor_free(&pixels);
}
END_TEST

/* 3 channels (patch order c, ky, kx), no query/key/value bias, eps 1e-6 */
START_TEST(hf_parity_rgb_no_qkv_bias) {
    const golden_array *px = gget("rgb.pixels");
    levi_tensor pixels = upload_pixels(px);
    levi_vit *v = load_fixture("vit_rgb_nobias", LEVI_VIT_FROZEN, 0);
    ck_assert_int_eq(levi_vit_get_config(v)->qkv_bias, 0);
    ck_assert_int_eq(levi_vit_get_config(v)->num_channels, 3);
    levi_tensor t;
    ck_assert_int_eq(levi_vit_find(v, "encoder.layer.0.attention.attention.query.bias", &t, NULL), LEVI_ERR_NOT_FOUND);
    ck_assert_levi_ok(levi_vit_forward(v, &pixels, px->shape[0]));
    check_hidden(v, "rgb.", px->shape[0]);
    levi_vit_free(v);
    levi_tensor_free(&pixels);
}
END_TEST

static void backward_taps(levi_vit *v, int B) {
    const int L = levi_vit_get_config(v)->num_hidden_layers;
    const int taps[2] = {0, L};
    levi_tensor d[2];
    const levi_tensor *dp[2] = {&d[0], &d[1]};
    char name[32];
    for (int i = 0; i < 2; i++) {
        snprintf(name, sizeof name, "R.%d", taps[i]);
        const golden_array *r = gget(name);
        ck_assert_levi_ok(levi_tensor_alloc(&d[i], CTX, r->ndim, r->shape));
        ck_assert_levi_ok(levi_tensor_write(&d[i], r->data));
    }
    ck_assert_levi_ok(levi_vit_zero_grad(v));
    ck_assert_levi_ok(levi_vit_backward(v, dp, taps, 2, B));
    for (int i = 0; i < 2; i++) levi_tensor_free(&d[i]);
}

static int check_grads(levi_vit *v, const char *golden_prefix) {
    size_t plen = strlen(golden_prefix);
    int n = 0;
    for (int i = 0; i < G.count; i++) {
        const golden_array *g = &G.arrays[i];
        if (strncmp(g->name, golden_prefix, plen)) continue;
        levi_tensor grad;
        ck_assert_levi_ok(levi_vit_find(v, g->name + plen, NULL, &grad));
        ck_assert_msg(grad.numel == g->numel, "%s: %zu floats, golden %zu", g->name, grad.numel, g->numel);
        expect_tensor(&grad, g, 1e-3, g->name);
        n++;
    }
    return n;
}

START_TEST(grads_full_match_autograd) {
    const golden_array *px = gget("pixels");
    const int B = px->shape[0];
    levi_tensor pixels = upload_pixels(px);
    levi_vit *v = load_fixture("vit_tiny", LEVI_VIT_FULL, 0);
    ck_assert_levi_ok(levi_vit_forward(v, &pixels, B));
    check_hidden(v, "", B);
    backward_taps(v, B);
    ck_assert_int_eq(check_grads(v, "grad."), 4 + 16 * 2 + 2);
    /* a second backward accumulates: gradients double */
    backward_taps(v, B);
    ck_assert_levi_ok(levi_vit_zero_grad(v));
    const int L = levi_vit_get_config(v)->num_hidden_layers, taps[2] = {0, L};
    levi_tensor d[2];
    const levi_tensor *dp[2] = {&d[0], &d[1]};
    for (int i = 0; i < 2; i++) {
        char name[32];
        snprintf(name, sizeof name, "R.%d", taps[i]);
        const golden_array *r = gget(name);
        ck_assert_levi_ok(levi_tensor_alloc(&d[i], CTX, r->ndim, r->shape));
        ck_assert_levi_ok(levi_tensor_write(&d[i], r->data));
    }
    ck_assert_levi_ok(levi_vit_backward(v, dp, taps, 2, B));
    ck_assert_levi_ok(levi_vit_backward(v, dp, taps, 2, B));
    const char *names[2] = {"embeddings.patch_embeddings.projection.weight", "layernorm.weight"};
    for (int i = 0; i < 2; i++) {
        char gname[96];
        snprintf(gname, sizeof gname, "grad.%s", names[i]);
        golden_array twice = *gget(gname);
        twice.data = malloc(twice.numel * sizeof(float));
        for (size_t j = 0; j < twice.numel; j++) twice.data[j] = 2.0f * gget(gname)->data[j];
        levi_tensor g;
        ck_assert_levi_ok(levi_vit_find(v, names[i], NULL, &g));
        expect_tensor(&g, &twice, 1e-3, "accumulated twice");
        free(twice.data);
    }
    for (int i = 0; i < 2; i++) levi_tensor_free(&d[i]);
    levi_vit_free(v);
    levi_tensor_free(&pixels);
}
END_TEST

START_TEST(grads_lora_match_autograd) {
    const golden_array *px = gget("pixels");
    const int B = px->shape[0];
    levi_tensor pixels = upload_pixels(px);
    levi_vit *v = load_fixture("vit_tiny_lora", LEVI_VIT_LORA, 2);
    ck_assert_levi_ok(levi_vit_forward(v, &pixels, B));
    check_hidden(v, "lora.", B);
    backward_taps(v, B);
    ck_assert_int_eq(check_grads(v, "lora.grad."), 8);
    /* base weights are frozen: no gradient view, and trainable = LoRA only */
    levi_tensor g;
    ck_assert_levi_ok(levi_vit_find(v, "encoder.layer.0.attention.attention.query.weight", NULL, &g));
    ck_assert_uint_eq(g.numel, 0);
    levi_tensor p, gr, m, s;
    ck_assert_int_eq(levi_vit_trainable(v, &p, &gr, &m, &s), 1);
    size_t nl = 0;
    levi_vit_num_params(v, &nl);
    ck_assert_uint_eq(nl, 2 * 2 * (2 * 16 + 16 * 2));
    ck_assert_uint_ge(p.numel, nl);
    ck_assert_uint_eq(p.numel, gr.numel);
    ck_assert_uint_eq(p.numel, m.numel);
    ck_assert_uint_lt(p.numel, 1000); /* the LoRA arena, not the backbone */
    /* the same file loaded frozen applies the adapters too */
    levi_vit_free(v);
    v = load_fixture("vit_tiny_lora", LEVI_VIT_FROZEN, 2);
    ck_assert_int_eq(levi_vit_trainable(v, &p, NULL, NULL, NULL), 0);
    ck_assert_levi_ok(levi_vit_forward(v, &pixels, B));
    check_hidden(v, "lora.", B);
    ck_assert_int_eq(levi_vit_backward(v, NULL, NULL, 0, B), LEVI_ERR_INVALID_ARG);
    levi_vit_free(v);
    /* a backbone without LoRA tensors gets fresh adapters (B = 0): the output is the base model's */
    v = load_fixture("vit_tiny", LEVI_VIT_LORA, 2);
    ck_assert_levi_ok(levi_vit_init_lora(v, 5));
    ck_assert_levi_ok(levi_vit_forward(v, &pixels, B));
    check_hidden(v, "", B);
    levi_tensor a;
    ck_assert_levi_ok(levi_vit_find(v, "encoder.layer.1.attention.attention.value.lora_A", &a, NULL));
    float ha[2 * 16];
    ck_assert_levi_ok(levi_tensor_read(&a, ha));
    double mx = 0;
    for (int i = 0; i < 32; i++) mx = fmax(mx, fabs(ha[i]));
    ck_assert_msg(mx > 0.01 && mx <= 0.25, "LoRA A max |a| %g, expected in (0.01, 1/sqrt(16)]", mx);
    levi_vit_free(v);
    levi_tensor_free(&pixels);
}
END_TEST

/* --- device: files ------------------------------------------------------------------ */

static float *forward_last(levi_vit *v, const levi_tensor *pixels, int B, size_t *n) {
    ck_assert_levi_ok(levi_vit_forward(v, pixels, B));
    levi_tensor h = levi_vit_hidden(v, levi_vit_get_config(v)->num_hidden_layers + 1, B);
    float *out = malloc(h.numel * sizeof(float));
    ck_assert_levi_ok(levi_tensor_read(&h, out));
    *n = h.numel;
    return out;
}

static void expect_same(const float *a, const float *b, size_t n, const char *what) {
    test_check_close_f(what, a, b, n, 0, 0);
}

START_TEST(save_load_round_trip) {
    const golden_array *px = gget("pixels");
    const int B = px->shape[0];
    levi_tensor pixels = upload_pixels(px);
    levi_vit_config c;
    levi_vit_config_default(&c);
    c.image_size = 8;
    c.patch_size = 4;
    c.hidden_size = 16;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 2;
    c.intermediate_size = 32;
    levi_vit *v;
    ck_assert_levi_ok(levi_vit_create(&v, CTX, &c, B, LEVI_VIT_LORA, 2));
    ck_assert_levi_ok(levi_vit_init_random(v, 7));
    /* make LoRA B non-zero so that the adapters change the output */
    levi_tensor qb;
    ck_assert_levi_ok(levi_vit_find(v, "encoder.layer.1.attention.attention.query.lora_B", &qb, NULL));
    ck_assert_levi_ok(levi_tensor_fill(&qb, 0.5f));
    size_t n;
    float *ref = forward_last(v, &pixels, B, &n);
    /* init statistics: trunc-normal(0.02) */
    levi_tensor w;
    ck_assert_levi_ok(levi_vit_find(v, "encoder.layer.0.intermediate.dense.weight", &w, NULL));
    float *hw = malloc(w.numel * sizeof(float));
    ck_assert_levi_ok(levi_tensor_read(&w, hw));
    double s2 = 0, mx = 0;
    for (size_t i = 0; i < w.numel; i++) s2 += (double)hw[i] * hw[i], mx = fmax(mx, fabs(hw[i]));
    double sd = sqrt(s2 / (double)w.numel);
    ck_assert_msg(sd > 0.015 && sd < 0.025 && mx <= 0.04 + 1e-6, "init std %g max %g", sd, mx);
    free(hw);

    char *dir = test_tmpdir(), sub[1024];
    snprintf(sub, sizeof sub, "%s/backbone", dir);
    ck_assert_levi_ok(levi_vit_save(v, sub, 1));
    levi_vit *u;
    ck_assert_levi_ok(levi_vit_load(&u, CTX, sub, B, LEVI_VIT_FROZEN, 2));
    float *got = forward_last(u, &pixels, B, &n);
    expect_same(got, ref, n, "save/load with LoRA");
    free(got);
    ck_assert_float_eq_tol(levi_vit_get_config(u)->image_mean, 0.5f, 1e-7f);
    levi_vit_free(u);
    /* without LoRA the output differs */
    ck_assert_levi_ok(levi_vit_load(&u, CTX, sub, B, LEVI_VIT_FROZEN, 0));
    got = forward_last(u, &pixels, B, &n);
    test_diff d = test_diff_ff(got, ref, n, 0, 0);
    ck_assert_msg(isfinite(d.worst) && d.worst > 1e-3 * fmax(d.scale, 1e-2), "LoRA had no effect");
    free(got);
    levi_vit_free(u);

    /* write_weights / read_weights with a prefix, inside another file */
    levi_st_writer *wr;
    ck_assert_levi_ok(levi_st_writer_create(&wr));
    ck_assert_levi_ok(levi_vit_write_weights(v, wr, "backbone."));
    long long one = 3;
    float extra[3] = {1, 2, 3};
    ck_assert_levi_ok(levi_st_writer_add(wr, "head.bias", 1, &one, extra));
    char file[1100];
    snprintf(file, sizeof file, "%s/model.safetensors", dir);
    ck_assert_levi_ok(levi_st_writer_write(wr, file));
    levi_st_writer_free(wr);
    levi_safetensors st;
    ck_assert_levi_ok(levi_safetensors_read(file, &st));
    ck_assert_ptr_nonnull(levi_safetensors_find(&st, "backbone.layernorm.weight"));
    ck_assert_ptr_nonnull(levi_safetensors_find(&st, "backbone.encoder.layer.0.attention.attention.value.lora_A"));
    ck_assert_levi_ok(levi_vit_create(&u, CTX, &c, B, LEVI_VIT_FROZEN, 2));
    ck_assert_levi_ok(levi_vit_read_weights(u, &st, "backbone."));
    got = forward_last(u, &pixels, B, &n);
    expect_same(got, ref, n, "write_weights/read_weights");
    free(got);
    ck_assert_int_eq(levi_vit_read_weights(u, &st, "other."), LEVI_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "other.embeddings.cls_token"));
    levi_safetensors_free(&st);
    levi_vit_free(u);
    levi_vit_free(v);
    free(ref);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
    levi_tensor_free(&pixels);
}
END_TEST

/* A copy of the fixture's tensors with one dropped or one reshaped. */
static void write_broken(const char *dir, const char *drop, const char *reshape) {
    char src[1024], path[1100];
    fixture_dir(src, sizeof src, "vit_tiny/model.safetensors");
    levi_safetensors st;
    ck_assert_levi_ok(levi_safetensors_read(src, &st));
    levi_st_writer *w;
    ck_assert_levi_ok(levi_st_writer_create(&w));
    for (int i = 0; i < st.count; i++) {
        const levi_st_tensor *t = &st.tensors[i];
        if (drop && !strcmp(t->name, drop)) continue;
        if (reshape && !strcmp(t->name, reshape)) {
            long long s[2] = {(long long)t->numel / 2, 2};
            ck_assert_levi_ok(levi_st_writer_add(w, t->name, 2, s, t->data));
        } else {
            ck_assert_levi_ok(levi_st_writer_add(w, t->name, t->ndim, t->shape, t->data));
        }
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    ck_assert_levi_ok(levi_st_writer_write(w, path));
    levi_st_writer_free(w);
    levi_safetensors_free(&st);
    fixture_dir(src, sizeof src, "vit_tiny/config.json");
    char *text;
    size_t len;
    ck_assert_levi_ok(levi_read_file(src, &text, &len));
    snprintf(path, sizeof path, "%s/config.json", dir);
    write_text(path, text);
    free(text);
}

START_TEST(weights_bad_inputs) {
    char *dir = test_tmpdir();
    levi_vit *v = (levi_vit *)1;
    const char *name = "encoder.layer.1.attention.output.dense.weight";
    write_broken(dir, name, NULL);
    ck_assert_int_eq(levi_vit_load(&v, CTX, dir, 2, 0, 0), LEVI_ERR_NOT_FOUND);
    ck_assert_ptr_null(v);
    ck_assert_msg(strstr(levi_last_error(), "model.safetensors") && strstr(levi_last_error(), name) &&
                      strstr(levi_last_error(), "(16,16)"),
                  "message: %s", levi_last_error());
    write_broken(dir, NULL, "encoder.layer.0.intermediate.dense.weight");
    ck_assert_int_eq(levi_vit_load(&v, CTX, dir, 2, 0, 0), LEVI_ERR_SHAPE);
    ck_assert_msg(strstr(levi_last_error(), "model.safetensors") &&
                      strstr(levi_last_error(), "encoder.layer.0.intermediate.dense.weight") &&
                      strstr(levi_last_error(), "(256,2)") && strstr(levi_last_error(), "(32,16)"),
                  "message: %s", levi_last_error());
    /* a missing model file names it */
    char path[1100];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    remove(path);
    ck_assert_int_ne(levi_vit_load(&v, CTX, dir, 2, 0, 0), LEVI_OK);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "model.safetensors"));
    /* bad arguments */
    levi_vit_config c;
    levi_vit_config_default(&c);
    ck_assert_int_eq(levi_vit_create(&v, CTX, &c, 0, 0, 0), LEVI_ERR_INVALID_ARG);
    ck_assert_int_eq(levi_vit_create(&v, CTX, &c, 2, LEVI_VIT_LORA, 0), LEVI_ERR_INVALID_ARG);
    ck_assert_int_eq(levi_vit_create(&v, CTX, &c, 2, LEVI_VIT_FULL, 4), LEVI_ERR_INVALID_ARG);
    ck_assert_levi_ok(levi_vit_create(&v, CTX, &c, 2, LEVI_VIT_FROZEN, 0));
    levi_tensor px;
    ck_assert_levi_ok(levi_tensor_alloc1(&px, CTX, 28 * 28));
    ck_assert_int_eq(levi_vit_forward(v, &px, 2), LEVI_ERR_SHAPE);
    ck_assert_int_eq(levi_vit_forward(v, &px, 3), LEVI_ERR_INVALID_ARG);
    levi_tensor_free(&px);
    levi_vit_free(v);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("vit");
    TCase *host = tcase_create("host");
    tcase_add_test(host, config_default_and_validate);
    tcase_add_test(host, config_json_round_trip);
    tcase_add_test(host, config_bad_inputs);
    suite_add_tcase(s, host);
    int device = test_have_device();
    if (device) {
        TCase *dev = tcase_create("device");
        tcase_set_timeout(dev, 300);
        tcase_add_checked_fixture(dev, setup, teardown);
        tcase_add_test(dev, hf_parity_hidden_states);
        tcase_add_test(dev, hf_classification_prefix);
        tcase_add_test(dev, hf_parity_rgb_no_qkv_bias);
        tcase_add_test(dev, grads_full_match_autograd);
        tcase_add_test(dev, grads_lora_match_autograd);
        tcase_add_test(dev, save_load_round_trip);
        tcase_add_test(dev, weights_bad_inputs);
        suite_add_tcase(s, dev);
    }
    return test_finish(s, device);
}
