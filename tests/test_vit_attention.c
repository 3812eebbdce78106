/* Long sequences through the ViT: one tiled attention serves every T, so the
 * memory plan holds no (B,NH,T,T) tensor, and a full fine-tuning backward at
 * T = 82 and T = 577 matches central finite differences of the forward on the
 * largest weight gradients. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/nn/vit_internal.h"
#include "testutil.h"

static levi_ctx *CTX;

static void setup(void) {
    setenv("LEVI_CACHE_DIR", "off", 0);
    CTX = test_ctx();
}

static void teardown(void) {
    levi_ctx_destroy(CTX);
    CTX = NULL;
}

/* loss = Σ d ⊙ cls(tap) of the last forward, read back */
static double tap_loss(levi_vit *v, int tap, int B, const float *d, int D) {
    levi_tensor cls = levi_vit_cls(v, tap, B);
    float h[4 * 64];
    ck_assert_int_le(B * D, 4 * 64);
    ck_assert_levi_ok(levi_tensor_read(&cls, h));
    double s = 0;
    for (int i = 0; i < B * D; i++) s += (double)d[i] * h[i];
    return s;
}

/* A 1-block ViT on image `img` with patch 4 (T = (img/4)^2 + 1): gradients
 * of the four largest key/query/fc1 weights against finite differences. */
static void long_sequence_case(int img) {
    enum { B = 2, D = 16, NH = 2 };
    levi_vit_config c;
    levi_vit_config_default(&c);
    c.image_size = img;
    c.patch_size = 4;
    c.hidden_size = D;
    c.num_hidden_layers = 1;
    c.num_attention_heads = NH;
    c.intermediate_size = 16;
    c.layer_norm_eps = 1e-6f;
    levi_vit *v;
    ck_assert_levi_ok(levi_vit_create(&v, CTX, &c, B, LEVI_VIT_FULL, 0));
    const int T = v->enc.T;
    ck_assert_levi_ok(levi_vit_init_random(v, 3));
    const size_t npx = (size_t)B * img * img;
    float *h = malloc(npx * sizeof(float)), d[B * D];
    test_fill_uniform(h, npx, 5, -1, 1);
    test_fill_uniform(d, B * D, 6, -1, 1);
    levi_tensor px, dt;
    ck_assert_levi_ok(levi_tensor_alloc1(&px, CTX, (int)npx));
    ck_assert_levi_ok(levi_tensor_alloc2(&dt, CTX, B, D));
    ck_assert_levi_ok(levi_tensor_write(&px, h));
    ck_assert_levi_ok(levi_tensor_write(&dt, d));
    const levi_tensor *dp = &dt;
    const int tap = 1;
    ck_assert_levi_ok(levi_vit_forward(v, &px, B));
    ck_assert_levi_ok(levi_vit_zero_grad(v));
    ck_assert_levi_ok(levi_vit_backward(v, &dp, &tap, 1, B));
    const char *names[] = {"encoder.layer.0.attention.attention.key.weight",
                           "encoder.layer.0.attention.attention.query.weight",
                           "encoder.layer.0.attention.attention.value.weight", "embeddings.position_embeddings"};
    for (int w = 0; w < 4; w++) {
        levi_tensor tp, tg;
        ck_assert_levi_ok(levi_vit_find(v, names[w], &tp, &tg));
        float *p = malloc(tp.numel * sizeof(float)), *g = malloc(tp.numel * sizeof(float));
        ck_assert_levi_ok(levi_tensor_read(&tp, p));
        ck_assert_levi_ok(levi_tensor_read(&tg, g));
        size_t j = 0;
        for (size_t i = 1; i < tp.numel; i++)
            if (fabsf(g[i]) > fabsf(g[j])) j = i;
        const float eps = 1e-2f, saved = p[j];
        p[j] = saved + eps;
        ck_assert_levi_ok(levi_tensor_write(&tp, p));
        ck_assert_levi_ok(levi_vit_forward(v, &px, B));
        double lp = tap_loss(v, tap, B, d, D);
        p[j] = saved - eps;
        ck_assert_levi_ok(levi_tensor_write(&tp, p));
        ck_assert_levi_ok(levi_vit_forward(v, &px, B));
        double lm = tap_loss(v, tap, B, d, D);
        p[j] = saved;
        ck_assert_levi_ok(levi_tensor_write(&tp, p));
        char what[160];
        snprintf(what, sizeof what, "T=%d %s[%zu]: gradient vs finite difference", T, names[w], j);
        ck_assert_msg(fabsf(g[j]) > 1e-4f, "%s: gradient %g is (nearly) zero", what, (double)g[j]);
        test_check_value(what, g[j], (lp - lm) / (2.0 * eps), 0, 3e-2);
        free(p);
        free(g);
    }
    free(h);
    levi_tensor_free(&px);
    levi_tensor_free(&dt);
    levi_vit_free(v);
}

/* The training plan grows linearly with T: no (B,NH,T,T) tensor. */
START_TEST(plan_linear_in_t) {
    size_t numel[2];
    int T[2];
    for (int i = 0; i < 2; i++) {
        levi_vit_config c;
        levi_vit_config_default(&c);
        c.image_size = i ? 96 : 36;
        c.patch_size = 4;
        levi_vit *v;
        ck_assert_levi_ok(levi_vit_create(&v, CTX, &c, 8, LEVI_VIT_FULL, 0));
        numel[i] = v->enc.acts.numel, T[i] = v->enc.T;
        levi_vit_memory m; /* the plan without a device agrees with what was allocated */
        ck_assert_levi_ok(levi_vit_memory_plan(&c, 8, LEVI_VIT_FULL, 0, &m));
        ck_assert_uint_eq(m.acts, v->enc.acts.numel * sizeof(float));
        ck_assert_uint_eq(m.params, v->enc.params.numel * sizeof(float));
        ck_assert_uint_eq(m.adam_v, v->enc.adam_v.numel * sizeof(float));
        ck_assert_uint_eq(m.largest, m.acts);
        levi_vit_free(v);
    }
    double grow = (double)numel[1] / numel[0], lin = (double)T[1] / T[0];
    ck_assert_msg(grow < 1.1 * lin, "activations grow %.1fx from T=%d to T=%d (linear: %.1fx)", grow, T[0], T[1], lin);
}
END_TEST

/* ViT-B/16 (224, patch 16, 768, depth 12, heads 12, mlp 3072) planned for
 * full fine-tuning at batch 64 and 4096: sizes without a device, and the
 * per-tensor limit of the GEMM library named with the largest batch. */
START_TEST(vit_b16_memory_plan) {
    levi_vit_config c;
    levi_vit_config_default(&c);
    c.image_size = 224, c.patch_size = 16, c.num_channels = 3, c.hidden_size = 768, c.num_hidden_layers = 12;
    c.num_attention_heads = 12, c.intermediate_size = 3072;
    levi_vit_memory m;
    ck_assert_levi_ok(levi_vit_memory_plan(&c, 64, LEVI_VIT_FULL, 0, &m));
    fprintf(stderr, "ViT-B/16 batch 64, full: activations %.2f GiB, parameters %.1f MiB, total %.2f GiB\n",
            m.acts / 1073741824.0, m.params / 1048576.0, m.total / 1073741824.0);
    ck_assert_uint_eq(m.params, m.grads);
    ck_assert_uint_eq(m.largest, m.acts);
    ck_assert_int_eq(levi_vit_memory_plan(&c, 4096, LEVI_VIT_FULL, 0, &m), LEVI_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "the largest batch is 3548"));
}
END_TEST

START_TEST(long_sequence_t82) { long_sequence_case(36); }
END_TEST

START_TEST(long_sequence_t577) { long_sequence_case(96); }
END_TEST

int main(void) {
    Suite *s = suite_create("vit_attention");
    int device = test_have_device();
    if (device) {
        TCase *dev = tcase_create("device");
        tcase_set_timeout(dev, 120);
        tcase_add_checked_fixture(dev, setup, teardown);
        tcase_add_test(dev, plan_linear_in_t);
        tcase_add_test(dev, vit_b16_memory_plan);
        tcase_add_test(dev, long_sequence_t82);
        tcase_add_test(dev, long_sequence_t577);
        suite_add_tcase(s, dev);
    }
    return test_finish(s, device);
}
