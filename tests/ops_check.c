#include "ops_check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int ops_small(void) {
    const char *s = getenv("LEVI_TEST_SMALL");
    return s && *s && strcmp(s, "0") != 0;
}

levi_tensor ops_upload(levi_ctx *ctx, const float *host, size_t n) {
    levi_tensor t;
    ck_assert_levi_ok(levi_tensor_alloc1(&t, ctx, (int)n));
    if (host) {
        ck_assert_levi_ok(levi_tensor_write(&t, host));
    } else {
        /* zeros written from the host: Oclgrind 21.10 takes memory set by
         * clEnqueueFillBuffer (levi_tensor_zero) for uninitialized */
        float *z = calloc(n ? n : 1, sizeof(float));
        ck_assert_ptr_nonnull(z);
        ck_assert_levi_ok(levi_tensor_write(&t, z));
        free(z);
    }
    return t;
}

float *ops_download(const levi_tensor *t, size_t n) {
    ck_assert_uint_ge(t->numel, n);
    float *h = malloc(t->numel * sizeof(float));
    ck_assert_ptr_nonnull(h);
    ck_assert_levi_ok(levi_tensor_read(t, h));
    return h;
}

float *ops_rand(size_t n, unsigned seed, float lo, float hi) {
    float *x = malloc((n ? n : 1) * sizeof(float));
    ck_assert_ptr_nonnull(x);
    test_fill_uniform(x, n, seed, lo, hi);
    return x;
}

double *ops_to_double(const float *x, size_t n) {
    double *d = malloc((n ? n : 1) * sizeof(double));
    ck_assert_ptr_nonnull(d);
    for (size_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}

void ops_fd_grad(double *grad, ops_fn f, double *x, size_t n, const double *w, size_t m, double h, void *user) {
    double *out = malloc((m ? m : 1) * sizeof(double));
    ck_assert_ptr_nonnull(out);
    for (size_t i = 0; i < n; i++) {
        double x0 = x[i], lp = 0, lm = 0;
        x[i] = x0 + h;
        f(out, x, user);
        for (size_t j = 0; j < m; j++) lp += w[j] * out[j];
        x[i] = x0 - h;
        f(out, x, user);
        for (size_t j = 0; j < m; j++) lm += w[j] * out[j];
        x[i] = x0;
        grad[i] = (lp - lm) / (2 * h);
    }
    free(out);
}

levi_ctx *ops_ctx;

void ops_setup(void) { ops_ctx = test_ctx(); }

void ops_teardown(void) {
    levi_ctx_destroy(ops_ctx);
    ops_ctx = NULL;
}

double *ops_dalloc(size_t n) {
    double *p = calloc(n ? n : 1, sizeof(double));
    ck_assert_ptr_nonnull(p);
    return p;
}
