/* The one comparison of the suites (testutil.h): tolerances, and that a NaN
 * or an infinity anywhere fails. The planted-NaN case uses a real head
 * gradient from tests/fixtures/levi_concat.bin (PyTorch), compared the way
 * the golden LEVI tests compare it: the comparison they used before
 * (fmax over differences) passed with a NaN in it; test_diff must not. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "testutil.h"

START_TEST(tolerance_rule) {
    const double ref[4] = {1.0, -2.0, 4.0, 0.0};
    const float got[4] = {1.0f, -2.0f, 4.003f, 0.0f};
    /* tol = atol + rtol * max|ref| = 0 + 1e-3 * 4 */
    test_diff d = test_diff_fd(got, ref, 4, 0, 1e-3);
    ck_assert_int_eq(d.ok, 1);
    ck_assert_uint_eq(d.at, 2);
    ck_assert(fabs(d.tol - 4e-3) < 1e-12 && fabs(d.scale - 4.0) < 1e-12);
    ck_assert_int_eq(test_diff_fd(got, ref, 4, 0, 5e-4).ok, 0); /* 3e-3 > 2e-3 */
    ck_assert_int_eq(test_diff_fd(got, ref, 4, 5e-3, 0).ok, 1);
    ck_assert_int_eq(test_diff_fd(got, ref, 0, 0, 0).ok, 1); /* nothing to compare */
}
END_TEST

START_TEST(nan_and_inf_fail) {
    const double nonfinite[3] = {NAN, INFINITY, -INFINITY};
    for (int k = 0; k < 3; k++) {
        double ref[5] = {0.5, 1, 2, 3, 4}, got[5] = {0.5, 1, 2, 3, 4};
        for (int at = 0; at < 5; at++) {
            got[at] = nonfinite[k];
            test_diff d = test_diff_dd(got, ref, 5, 1e9, 1e9); /* any finite difference would pass */
            ck_assert_msg(!d.ok && d.at == (size_t)at && isinf(d.worst), "%g in got at %d passed", nonfinite[k], at);
            got[at] = ref[at];
            ref[at] = nonfinite[k]; /* a broken reference fails too */
            d = test_diff_dd(got, ref, 5, 1e9, 1e9);
            ck_assert_msg(!d.ok && d.at == (size_t)at, "%g in ref at %d passed", nonfinite[k], at);
            ref[at] = got[at];
        }
    }
    const float f[2] = {1.0f, NAN}, g[2] = {1.0f, 1.0f};
    ck_assert_int_eq(test_diff_ff(f, g, 2, 1, 1).ok, 0);
    ck_assert_int_eq(test_diff_ff(g, f, 2, 1, 1).ok, 0);
}
END_TEST

/* The comparison test_levi.c made before: worst |diff| by `>`, relative to max|ref|. */
static double old_relative_worst(const float *got, const float *ref, size_t n) {
    double diff = 0, scale = 0;
    for (size_t j = 0; j < n; j++) {
        double d = fabs((double)got[j] - ref[j]);
        if (d > diff) diff = d;
        scale = fmax(scale, fabs(ref[j]));
    }
    return diff / fmax(scale, 1e-12);
}

START_TEST(planted_nan_in_head_gradient) {
    char path[1024], err[512];
    golden_path(path, sizeof path, "levi_concat.bin");
    golden_file g;
    ck_assert_msg(golden_load(&g, path, err, sizeof err) == 0, "%s", err);
    const char *names[] = {"grad.head.g.fc1.weight", "grad.head.adapter0.fc1.weight", "grad.head.adapter0.fc2.bias"};
    for (int i = 0; i < 3; i++) {
        const golden_array *ref = golden_get(&g, names[i]);
        ck_assert_ptr_nonnull(ref);
        float *got = malloc(ref->numel * sizeof(float));
        memcpy(got, ref->data, ref->numel * sizeof(float));
        ck_assert_int_eq(test_diff_ff(got, ref->data, ref->numel, 0, 1e-3).ok, 1);
        got[ref->numel / 2] = NAN;
        ck_assert_msg(old_relative_worst(got, ref->data, ref->numel) <= 1e-3,
                      "%s: the old comparison was expected to miss the NaN", names[i]);
        test_diff d = test_diff_ff(got, ref->data, ref->numel, 0, 1e-3);
        ck_assert_msg(!d.ok && d.at == ref->numel / 2, "%s: a planted NaN passed the comparison", names[i]);
        free(got);
    }
    golden_free(&g);
}
END_TEST

int main(void) {
    Suite *s = suite_create("testutil");
    TCase *tc = tcase_create("comparison");
    tcase_add_test(tc, tolerance_rule);
    tcase_add_test(tc, nan_and_inf_fail);
    tcase_add_test(tc, planted_nan_in_head_gradient);
    suite_add_tcase(s, tc);
    return test_run(s);
}
