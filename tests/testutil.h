/* Shared helpers of the Check suites. */
#ifndef LEVI_TESTUTIL_H
#define LEVI_TESTUTIL_H

#include <check.h>

#include "levi/levi.h"

/* Exit status that meson (and automake) read as "skipped". */
#define TEST_SKIP 77

/* 1 when an OpenCL device exists (PoCL on CI); tests that need one return
 * TEST_SKIP from main() otherwise. */
int test_have_device(void);

/* A context on the default device (or $LEVI_DEVICE); fails the test on error.
 * LEVI_TEST_GPU_SHAPES=1 makes it report a GPU with 64 compute units, so that
 * ops take their GPU-shaped kernels on any device (tests/meson.build runs the
 * op suites both ways); otherwise LEVI_TEST_CPU_SHAPES=1 makes it report a CPU
 * with 2 compute units (the CPU kernels under Oclgrind, which reports a GPU). */
levi_ctx *test_ctx(void);

/* Deterministic uniform floats in [lo, hi). */
void test_fill_uniform(float *x, size_t n, unsigned seed, float lo, float hi);

/* Run a suite and turn its result into an exit status. */
int test_run(Suite *s);

/* Run a suite whose device tests were added only when `device` is true: the
 * exit status is 1 on any failure, else TEST_SKIP without a device, else 0. */
int test_finish(Suite *s, int device);

/* A fresh temporary folder (mkdtemp); the caller owns the string. */
char *test_tmpdir(void);

/* One temporary folder per test: tcase_add_checked_fixture(tc, test_tmp_setup,
 * test_tmp_teardown) makes test_tmp and removes it with its contents. */
extern char *test_tmp;
void test_tmp_setup(void);
void test_tmp_teardown(void);
/* test_tmp/name (the last two results stay valid). */
const char *test_tmp_path(const char *name);

/* root/c<class>/<i>.png: 3 classes of 5 gray 9x7 images (pixels from class and index). */
void test_make_png_folder(const char *root);

/* Write a whole file (fails the test on any error). */
void test_write_bytes(const char *path, const void *data, size_t len);
void test_write_text(const char *path, const char *text);

/* --- the one comparison of every suite -------------------------------------------
 * Every element must satisfy |got - ref| <= atol + rtol * max|ref|, and both
 * got and ref must be finite: a NaN or an infinity anywhere fails (a plain
 * `fmax` / `>` over differences silently skips NaN). */
typedef struct test_diff {
    int ok;
    double worst;  /* largest |got - ref|; INFINITY when something is not finite */
    double tol;    /* atol + rtol * scale */
    double scale;  /* max |ref| over the finite references */
    size_t at;     /* index of the worst excess (the first non-finite value if any) */
    double got_at, ref_at;
} test_diff;

/* got as float or double, ref as double or float; no assertion. */
test_diff test_diff_fd(const float *got, const double *ref, size_t n, double atol, double rtol);
test_diff test_diff_dd(const double *got, const double *ref, size_t n, double atol, double rtol);
test_diff test_diff_ff(const float *got, const float *ref, size_t n, double atol, double rtol);

/* Assert the comparison; on failure the message names `what`, the index,
 * both values and the tolerance. Return the worst |got - ref|. */
double test_check_close(const char *what, const float *got, const double *ref, size_t n, double atol, double rtol);
double test_check_close_d(const char *what, const double *got, const double *ref, size_t n, double atol,
                          double rtol);
double test_check_close_f(const char *what, const float *got, const float *ref, size_t n, double atol, double rtol);
/* One value (a loss, a norm): the same rule with n = 1. */
void test_check_value(const char *what, double got, double ref, double atol, double rtol);
/* Relative to the reference's scale with a floor: |got - ref| <= rtol *
 * max(max|ref|, floor) everywhere (the floor keeps "relative" meaningful for
 * references that are all but zero). */
double test_check_rel_f(const char *what, const float *got, const float *ref, size_t n, double rtol, double floor);
double test_check_rel(const char *what, const float *got, const double *ref, size_t n, double rtol, double floor);

#define ck_assert_levi_ok(expr)                                                                        \
    do {                                                                                               \
        levi_status st_ = (expr);                                                                      \
        ck_assert_msg(st_ == LEVI_OK, "%s -> %s: %s", #expr, levi_status_name(st_), levi_last_error()); \
    } while (0)

#endif
