/* A small CNN block composed from levi ops (conv, ReLU, max-pool, conv, ReLU,
 * global average pool, linear), forward and backward, against
 * tests/fixtures/conv_block.bin written by tools/golden_conv.py (PyTorch).
 * Tolerances: 1e-4 relative on outputs, 1e-3 on gradients (relative to the
 * largest |value| of each PyTorch tensor). Part of the test_conv program. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "golden.h"
#include "testutil.h"

static levi_conv_shape shape(int B, int C, int H, int W, int OC, int KH, int KW, int st, int pad) {
    levi_conv_shape s = {B, C, H, W, OC, KH, KW, st, pad, 0, 0};
    return s;
}
static size_t in_n(const levi_conv_shape *s) { return (size_t)s->B * s->C * s->H * s->W; }
static size_t out_n(const levi_conv_shape *s) { return (size_t)s->B * s->OC * s->OH * s->OW; }
static size_t w_n(const levi_conv_shape *s) { return (size_t)s->OC * s->C * s->KH * s->KW; }

static const golden_array *gneed(const golden_file *g, const char *name) {
    const golden_array *a = golden_get(g, name);
    ck_assert_msg(a != NULL, "conv_block.bin has no array '%s'", name);
    return a;
}

static levi_tensor gtensor(levi_ctx *ctx, size_t n, const golden_array *init) {
    levi_tensor t;
    ck_assert_levi_ok(levi_tensor_alloc1(&t, ctx, (int)n));
    if (init) {
        ck_assert_int_eq(init->numel, n);
        ck_assert_levi_ok(levi_tensor_write(&t, init->data));
    }
    return t;
}

/* worst |got - ref| relative to max |ref| (floor 1e-3); fails above tol */
static void gcompare(const char *what, const levi_tensor *t, const golden_array *ref, double tol) {
    ck_assert_int_eq(t->numel, ref->numel);
    float *got = malloc(t->numel * sizeof *got);
    ck_assert_levi_ok(levi_tensor_read(t, got));
    char name[128];
    snprintf(name, sizeof name, "conv block %s vs PyTorch", what);
    test_check_rel_f(name, got, ref->data, ref->numel, tol, 1e-3);
    free(got);
}

START_TEST(conv_block_golden) {
    char path[1024], err[512];
    golden_path(path, sizeof path, "conv_block.bin");
    golden_file g;
    ck_assert_msg(golden_load(&g, path, err, sizeof err) == 0, "%s", err);
    const golden_array *dims = gneed(&g, "dims");
    ck_assert_int_eq(dims->numel, 7);
    int B = (int)dims->data[0], C = (int)dims->data[1], H = (int)dims->data[2], W = (int)dims->data[3];
    int C1 = (int)dims->data[4], C2 = (int)dims->data[5], K = (int)dims->data[6];
    levi_conv_shape s1 = shape(B, C, H, W, C1, 3, 3, 1, 1);
    ck_assert_levi_ok(levi_conv_shape_init(&s1));
    int PH = (s1.OH - 2) / 2 + 1, PW = (s1.OW - 2) / 2 + 1;
    levi_conv_shape s2 = shape(B, C1, PH, PW, C2, 3, 3, 1, 1);
    ck_assert_levi_ok(levi_conv_shape_init(&s2));
    size_t n1 = out_n(&s1), np = (size_t)B * C1 * PH * PW, n2 = out_n(&s2), nf = (size_t)B * C2, no = (size_t)B * K;
    size_t nsc = levi_conv2d_scratch_numel(&s1);
    if (levi_conv2d_scratch_numel(&s2) > nsc) nsc = levi_conv2d_scratch_numel(&s2);

    levi_ctx *ctx = test_ctx();
    levi_tensor x = gtensor(ctx, in_n(&s1), gneed(&g, "x"));
    levi_tensor w1 = gtensor(ctx, w_n(&s1), gneed(&g, "conv1.weight")), b1 = gtensor(ctx, C1, gneed(&g, "conv1.bias"));
    levi_tensor w2 = gtensor(ctx, w_n(&s2), gneed(&g, "conv2.weight")), b2 = gtensor(ctx, C2, gneed(&g, "conv2.bias"));
    levi_tensor fw = gtensor(ctx, (size_t)K * C2, gneed(&g, "fc.weight")), fb = gtensor(ctx, K, gneed(&g, "fc.bias"));
    levi_tensor a1 = gtensor(ctx, n1, NULL), r1 = gtensor(ctx, n1, NULL), p = gtensor(ctx, np, NULL);
    levi_tensor a2 = gtensor(ctx, n2, NULL), r2 = gtensor(ctx, n2, NULL), feat = gtensor(ctx, nf, NULL);
    levi_tensor out = gtensor(ctx, no, NULL), sc = gtensor(ctx, nsc, NULL);

    ck_assert_levi_ok(levi_conv2d_forward(ctx, &a1, &x, &w1, &b1, &sc, &s1));
    ck_assert_levi_ok(levi_relu_forward(ctx, &r1, &a1, n1));
    ck_assert_levi_ok(levi_maxpool_forward(ctx, &p, &r1, B, C1, s1.OH, s1.OW, 2, 2));
    ck_assert_levi_ok(levi_conv2d_forward(ctx, &a2, &p, &w2, &b2, &sc, &s2));
    ck_assert_levi_ok(levi_relu_forward(ctx, &r2, &a2, n2));
    ck_assert_levi_ok(levi_global_avgpool_forward(ctx, &feat, &r2, B, C2, s2.OH * s2.OW));
    ck_assert_levi_ok(levi_linear_forward(ctx, &out, &feat, &fw, &fb, B, C2, K));
    gcompare("pool", &p, gneed(&g, "pool"), 1e-4);
    gcompare("feat", &feat, gneed(&g, "feat"), 1e-4);
    gcompare("out", &out, gneed(&g, "out"), 1e-4);
    float hout[64];
    const golden_array *R = gneed(&g, "R");
    ck_assert_int_le(no, 64);
    ck_assert_levi_ok(levi_tensor_read(&out, hout));
    double loss = 0, want = gneed(&g, "loss")->data[0];
    for (size_t i = 0; i < no; i++) loss += (double)hout[i] * R->data[i];
    test_check_value("conv block loss vs PyTorch", loss, want, 1e-4 * fmax(fabs(want), 1), 0);

    /* backward of loss = Σ out ⊙ R; gradients start at zero (fresh tensors) */
    levi_tensor dout = gtensor(ctx, no, R), dfeat = gtensor(ctx, nf, NULL), dr2 = gtensor(ctx, n2, NULL);
    levi_tensor da2 = gtensor(ctx, n2, NULL), dp = gtensor(ctx, np, NULL), dr1 = gtensor(ctx, n1, NULL);
    levi_tensor da1 = gtensor(ctx, n1, NULL), dx = gtensor(ctx, in_n(&s1), NULL);
    levi_tensor dw1 = gtensor(ctx, w_n(&s1), NULL), db1 = gtensor(ctx, C1, NULL), dw2 = gtensor(ctx, w_n(&s2), NULL);
    levi_tensor db2 = gtensor(ctx, C2, NULL), dfw = gtensor(ctx, (size_t)K * C2, NULL), dfb = gtensor(ctx, K, NULL);
    ck_assert_levi_ok(levi_linear_backward(ctx, &dfeat, &dfw, &dfb, &dout, &feat, &fw, B, C2, K));
    ck_assert_levi_ok(levi_global_avgpool_backward(ctx, &dr2, &dfeat, B, C2, s2.OH * s2.OW));
    ck_assert_levi_ok(levi_relu_backward(ctx, &da2, &a2, &dr2, n2));
    ck_assert_levi_ok(levi_conv2d_backward(ctx, &dp, &dw2, &db2, &da2, &p, &w2, &sc, &s2));
    ck_assert_levi_ok(levi_maxpool_backward(ctx, &dr1, &dp, &r1, B, C1, s1.OH, s1.OW, 2, 2));
    ck_assert_levi_ok(levi_relu_backward(ctx, &da1, &a1, &dr1, n1));
    ck_assert_levi_ok(levi_conv2d_backward(ctx, &dx, &dw1, &db1, &da1, &x, &w1, &sc, &s1));
    gcompare("d_x", &dx, gneed(&g, "d_x"), 1e-3);
    gcompare("d_conv1.weight", &dw1, gneed(&g, "d_conv1.weight"), 1e-3);
    gcompare("d_conv1.bias", &db1, gneed(&g, "d_conv1.bias"), 1e-3);
    gcompare("d_conv2.weight", &dw2, gneed(&g, "d_conv2.weight"), 1e-3);
    gcompare("d_conv2.bias", &db2, gneed(&g, "d_conv2.bias"), 1e-3);
    gcompare("d_fc.weight", &dfw, gneed(&g, "d_fc.weight"), 1e-3);
    gcompare("d_fc.bias", &dfb, gneed(&g, "d_fc.bias"), 1e-3);

    levi_tensor *all[] = {&x, &w1, &b1, &w2, &b2, &fw, &fb, &a1, &r1, &p, &a2, &r2, &feat, &out, &sc, &dout,
                          &dfeat, &dr2, &da2, &dp, &dr1, &da1, &dx, &dw1, &db1, &dw2, &db2, &dfw, &dfb};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) levi_tensor_free(all[i]);
    levi_ctx_destroy(ctx);
    golden_free(&g);
}
END_TEST

void conv_block_add_tests(TCase *tc);
void conv_block_add_tests(TCase *tc) { tcase_add_test(tc, conv_block_golden); }
