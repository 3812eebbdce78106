/* Helpers of the op test suites: device upload/download, and central finite
 * differences of host references in double (comparisons: testutil.h's
 * test_check_close). */
#ifndef LEVI_TEST_OPS_CHECK_H
#define LEVI_TEST_OPS_CHECK_H

#include "testutil.h"

/* The context of an op suite: ops_setup / ops_teardown are its fixture. */
extern levi_ctx *ops_ctx;
void ops_setup(void);
void ops_teardown(void);
/* calloc'ed n doubles (at least one), asserted non-NULL. */
double *ops_dalloc(size_t n);

/* 1 when LEVI_TEST_SMALL=1 (oclgrind runs): tests use tiny sizes. */
int ops_small(void);

/* A device tensor of n floats holding host[0..n) (zeros, written from the
 * host, when host is NULL). */
levi_tensor ops_upload(levi_ctx *ctx, const float *host, size_t n);
/* The tensor's n floats, read back into malloc'ed memory (waits). */
float *ops_download(const levi_tensor *t, size_t n);
/* malloc'ed n random floats in [lo, hi) / n doubles copied from floats. */
float *ops_rand(size_t n, unsigned seed, float lo, float hi);
double *ops_to_double(const float *x, size_t n);

/* Central finite differences in double of loss(x) = Σ w ⊙ f(x) with respect to
 * x (n), where f writes m outputs: grad[i] = (L(x+h e_i) - L(x-h e_i)) / 2h.
 * `f` gets `user` back. */
typedef void (*ops_fn)(double *out, const double *x, void *user);
void ops_fd_grad(double *grad, ops_fn f, double *x, size_t n, const double *w, size_t m, double h, void *user);

#endif
