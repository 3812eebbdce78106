/* The fused short-sequence attention of cl/vit.cl (src/nn/vit_attention.c)
 * against the general levi_attention_* on random inputs, forward and
 * backward (accumulating), at vit-tiny's sizes and at the length limit; and a
 * model whose sequence is longer than the limit takes the general path. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

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

/* a (got) against b (reference), relative to max |b| (at least 1e-2). */
static void compare_dev(const levi_tensor *a, const levi_tensor *b, double tol, const char *what) {
    ck_assert_uint_eq(a->numel, b->numel);
    float *ha = malloc(a->numel * sizeof(float)), *hb = malloc(b->numel * sizeof(float));
    ck_assert_levi_ok(levi_tensor_read(a, ha));
    ck_assert_levi_ok(levi_tensor_read(b, hb));
    double mx = 1e-2, worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < b->numel; i++) mx = fmax(mx, fabs((double)hb[i]));
    for (size_t i = 0; i < b->numel; i++) {
        double d = fabs((double)ha[i] - (double)hb[i]) / mx;
        if (!(d <= worst)) worst = isnan(d) ? INFINITY : d, at = i;
    }
    if (getenv("LEVI_TEST_VERBOSE")) fprintf(stderr, "  %-40s worst rel diff %.2e (tol %.0e)\n", what, worst, tol);
    ck_assert_msg(worst <= tol, "%s: worst relative difference %.3g at %zu (got %g, want %g), tolerance %.1g", what,
                  worst, at, (double)ha[at], (double)hb[at], tol);
    free(ha);
    free(hb);
}

static void fused_attention_case(int B, int T, int C, int NH) {
    const size_t n = (size_t)B * T * C, na = (size_t)B * NH * T * T;
    levi_tensor x[12];
    float *h = malloc(n * sizeof(float));
    for (int i = 0; i < 12; i++) {
        ck_assert_levi_ok(levi_tensor_alloc1(&x[i], CTX, (int)(i == 4 || i == 5 ? na : n)));
        test_fill_uniform(h, n, 40u + (unsigned)(i < 6 ? i : i % 3 + 6), -2.0f, 2.0f);
        if (i != 4 && i != 5) ck_assert_levi_ok(levi_tensor_write(&x[i], h)); /* q k v dctx; dq dk dv twice */
    }
    levi_tensor *q = &x[0], *k = &x[1], *v = &x[2], *dctx = &x[3], *att1 = &x[4], *att2 = &x[5];
    levi_tensor out1, out2, s1, s2;
    size_t ns = levi_attention_backward_scratch_numel(B, T, C, NH);
    ck_assert_levi_ok(levi_tensor_alloc1(&out1, CTX, (int)n));
    ck_assert_levi_ok(levi_tensor_alloc1(&out2, CTX, (int)n));
    ck_assert_levi_ok(levi_tensor_alloc1(&s1, CTX, (int)(ns > na ? ns : na)));
    ck_assert_levi_ok(levi_tensor_alloc1(&s2, CTX, (int)na));
    ck_assert_levi_ok(levi_attention_forward(CTX, &out1, att1, q, k, v, &s1, B, T, C, NH));
    ck_assert_levi_ok(vit_attention_forward(CTX, &out2, att2, q, k, v, B, T, C, NH));
    compare_dev(&out2, &out1, 1e-5, "fused attention out");
    compare_dev(att2, att1, 1e-5, "fused attention probabilities");
    /* backward accumulates into dq, dk, dv that start non-zero (same values in both) */
    ck_assert_levi_ok(levi_attention_backward(CTX, &x[6], &x[7], &x[8], dctx, q, k, v, att1, &s1, B, T, C, NH));
    ck_assert_levi_ok(vit_attention_backward(CTX, &x[9], &x[10], &x[11], dctx, q, k, v, att1, &s2, B, T, C, NH));
    compare_dev(&x[9], &x[6], 1e-5, "fused attention dq");
    compare_dev(&x[10], &x[7], 1e-5, "fused attention dk");
    compare_dev(&x[11], &x[8], 1e-5, "fused attention dv");
    for (int i = 0; i < 12; i++) levi_tensor_free(&x[i]);
    levi_tensor_free(&out1);
    levi_tensor_free(&out2);
    levi_tensor_free(&s1);
    levi_tensor_free(&s2);
    free(h);
    /* sequences longer than the fused kernel's limit are refused (the model then uses levi_attention_*) */
    ck_assert_int_eq(vit_attention_forward(CTX, &out1, att1, q, k, v, 1, VIT_ATT_MAX_T + 1, C, NH),
                     LEVI_ERR_INVALID_ARG);
}

START_TEST(fused_attention_matches_general) {
    fused_attention_case(3, 17, 64, 4); /* vit-tiny */
    fused_attention_case(1, VIT_ATT_MAX_T, 32, 2);
    fused_attention_case(2, 1, 8, 1);
}
END_TEST

/* A model with T > VIT_ATT_MAX_T takes the general levi_attention_* path. */
START_TEST(long_sequence_uses_general_attention) {
    levi_vit_config c;
    levi_vit_config_default(&c);
    c.image_size = 36;
    c.patch_size = 4; /* T = 82 */
    c.hidden_size = 16;
    c.num_hidden_layers = 1;
    c.num_attention_heads = 2;
    c.intermediate_size = 16;
    levi_vit *v;
    ck_assert_levi_ok(levi_vit_create(&v, CTX, &c, 2, LEVI_VIT_FULL, 0));
    ck_assert_int_eq(v->fused_attention, 0);
    ck_assert_levi_ok(levi_vit_init_random(v, 3));
    levi_tensor px, d, g;
    ck_assert_levi_ok(levi_tensor_alloc1(&px, CTX, 2 * 36 * 36));
    ck_assert_levi_ok(levi_tensor_alloc2(&d, CTX, 2, 16));
    float h[2 * 36 * 36];
    test_fill_uniform(h, 2 * 36 * 36, 5, -1, 1);
    ck_assert_levi_ok(levi_tensor_write(&px, h));
    test_fill_uniform(h, 32, 6, -1, 1);
    ck_assert_levi_ok(levi_tensor_write(&d, h));
    const levi_tensor *dp = &d;
    const int tap = 1;
    ck_assert_levi_ok(levi_vit_forward(v, &px, 2));
    ck_assert_levi_ok(levi_vit_zero_grad(v));
    ck_assert_levi_ok(levi_vit_backward(v, &dp, &tap, 1, 2));
    ck_assert_levi_ok(levi_vit_find(v, "encoder.layer.0.attention.attention.key.weight", NULL, &g));
    float hg[256];
    ck_assert_levi_ok(levi_tensor_read(&g, hg));
    double norm = 0;
    for (int i = 0; i < 256; i++) norm += fabs(hg[i]);
    ck_assert_msg(norm > 0 && isfinite(norm), "key gradient norm %g", norm);
    levi_tensor_free(&px);
    levi_tensor_free(&d);
    levi_vit_free(v);
}
END_TEST

int main(void) {
    Suite *s = suite_create("vit_attention");
    int device = test_have_device();
    if (device) {
        TCase *dev = tcase_create("device");
        tcase_set_timeout(dev, 120);
        tcase_add_checked_fixture(dev, setup, teardown);
        tcase_add_test(dev, fused_attention_matches_general);
        tcase_add_test(dev, long_sequence_uses_general_attention);
        suite_add_tcase(s, dev);
    }
    return test_finish(s, device);
}
