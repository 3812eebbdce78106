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

/* A context on the default device (or $LEVI_DEVICE); fails the test on error. */
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

#define ck_assert_levi_ok(expr)                                                                        \
    do {                                                                                               \
        levi_status st_ = (expr);                                                                      \
        ck_assert_msg(st_ == LEVI_OK, "%s -> %s: %s", #expr, levi_status_name(st_), levi_last_error()); \
    } while (0)

#endif
