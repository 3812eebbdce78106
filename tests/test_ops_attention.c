/* Multi-head attention forward/backward against a host reference in double
 * (backward also against central finite differences), and both batched-GEMM
 * paths (own kernel and CLBlast strided batched) against a host GEMM. */
#include <clblast_c.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../src/ops/ops_internal.h"
#include "ops_check.h"

typedef struct att_args {
    double *q, *k, *v;
    int B, T, C, NH;
} att_args;

#define IDX(b, t, c) (((size_t)(b) * p->T + (t)) * p->C + (c))

/* probabilities P (B,NH,T,T) and output (B,T,C) */
static void attention_ref_full(double *out, double *P, const att_args *p) {
    int hs = p->C / p->NH;
    double scale = 1 / sqrt((double)hs);
    for (int b = 0; b < p->B; b++)
        for (int h = 0; h < p->NH; h++) {
            double *pp = P + ((size_t)b * p->NH + h) * p->T * p->T;
            for (int i = 0; i < p->T; i++) {
                double mx = -INFINITY, s = 0;
                for (int j = 0; j < p->T; j++) {
                    double d = 0;
                    for (int e = 0; e < hs; e++) d += p->q[IDX(b, i, h * hs + e)] * p->k[IDX(b, j, h * hs + e)];
                    pp[i * p->T + j] = d * scale;
                    mx = fmax(mx, d * scale);
                }
                for (int j = 0; j < p->T; j++) s += exp(pp[i * p->T + j] - mx);
                for (int j = 0; j < p->T; j++) pp[i * p->T + j] = exp(pp[i * p->T + j] - mx) / s;
                for (int e = 0; e < hs; e++) {
                    double acc = 0;
                    for (int j = 0; j < p->T; j++) acc += pp[i * p->T + j] * p->v[IDX(b, j, h * hs + e)];
                    out[IDX(b, i, h * hs + e)] = acc;
                }
            }
        }
}

static void attention_ref(double *out, const double *unused, void *user) {
    const att_args *p = user;
    (void)unused;
    double *P = ops_dalloc((size_t)p->B * p->NH * p->T * p->T);
    attention_ref_full(out, P, p);
    free(P);
}

/* dq, dk, dv accumulate */
static void attention_bwd_ref(double *dq, double *dk, double *dv, const double *dout, const att_args *p) {
    int hs = p->C / p->NH, T = p->T;
    double scale = 1 / sqrt((double)hs);
    double *P = ops_dalloc((size_t)p->B * p->NH * T * T), *o = ops_dalloc((size_t)p->B * T * p->C);
    double *dP = ops_dalloc((size_t)T * T);
    attention_ref_full(o, P, p);
    for (int b = 0; b < p->B; b++)
        for (int h = 0; h < p->NH; h++) {
            const double *pp = P + ((size_t)b * p->NH + h) * T * T;
            for (int i = 0; i < T; i++)
                for (int j = 0; j < T; j++) {
                    double d = 0;
                    for (int e = 0; e < hs; e++) d += dout[IDX(b, i, h * hs + e)] * p->v[IDX(b, j, h * hs + e)];
                    dP[i * T + j] = d;
                    for (int e = 0; e < hs; e++)
                        dv[IDX(b, j, h * hs + e)] += pp[i * T + j] * dout[IDX(b, i, h * hs + e)];
                }
            for (int i = 0; i < T; i++) {
                double dot = 0;
                for (int j = 0; j < T; j++) dot += dP[i * T + j] * pp[i * T + j];
                for (int j = 0; j < T; j++) {
                    double ds = pp[i * T + j] * (dP[i * T + j] - dot) * scale;
                    for (int e = 0; e < hs; e++) {
                        dq[IDX(b, i, h * hs + e)] += ds * p->k[IDX(b, j, h * hs + e)];
                        dk[IDX(b, j, h * hs + e)] += ds * p->q[IDX(b, i, h * hs + e)];
                    }
                }
            }
        }
    free(P), free(o), free(dP);
}

START_TEST(attention_host_backward_vs_fd) {
    att_args p = {NULL, NULL, NULL, 2, 3, 4, 2};
    size_t n = 24;
    float *f = ops_rand(4 * n, 71, -1.5f, 1.5f);
    p.q = ops_to_double(f, n), p.k = ops_to_double(f + n, n), p.v = ops_to_double(f + 2 * n, n);
    double *dout = ops_to_double(f + 3 * n, n), *dq = ops_dalloc(n), *dk = ops_dalloc(n), *dv = ops_dalloc(n), *fd = ops_dalloc(n);
    attention_bwd_ref(dq, dk, dv, dout, &p);
    ops_fd_grad(fd, attention_ref, p.q, n, dout, n, 1e-5, &p);
    ops_check_close_d("attention dq host vs FD", dq, fd, n, 1e-9, 1e-6);
    ops_fd_grad(fd, attention_ref, p.k, n, dout, n, 1e-5, &p);
    ops_check_close_d("attention dk host vs FD", dk, fd, n, 1e-9, 1e-6);
    ops_fd_grad(fd, attention_ref, p.v, n, dout, n, 1e-5, &p);
    ops_check_close_d("attention dv host vs FD", dv, fd, n, 1e-9, 1e-6);
    free(f), free(p.q), free(p.k), free(p.v), free(dout), free(dq), free(dk), free(dv), free(fd);
}
END_TEST

START_TEST(attention_device) {
    /* the first three are the small set (LEVI_TEST_SMALL, Oclgrind) */
    const int shapes[][4] = {{1, 1, 1, 1}, {2, 7, 12, 3}, {1, 9, 8, 2}, {1, 33, 8, 2}, {3, 17, 64, 4}, {1, 197, 16, 2}};
    int ns = ops_small() ? 3 : 6;
    for (int s = 0; s < ns; s++) {
        att_args p = {NULL, NULL, NULL, shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3]};
        size_t n = (size_t)p.B * p.T * p.C, na = (size_t)p.B * p.NH * p.T * p.T;
        float *q = ops_rand(n, 81, -2, 2), *k = ops_rand(n, 82, -2, 2), *v = ops_rand(n, 83, -2, 2);
        float *dout = ops_rand(n, 84, -1, 1), *g0 = ops_rand(3 * n, 85, -1, 1);
        p.q = ops_to_double(q, n), p.k = ops_to_double(k, n), p.v = ops_to_double(v, n);
        levi_tensor tq = ops_upload(ops_ctx, q, n), tk = ops_upload(ops_ctx, k, n), tv = ops_upload(ops_ctx, v, n),
                    to = ops_upload(ops_ctx, NULL, n), tatt = ops_upload(ops_ctx, NULL, na),
                    td = ops_upload(ops_ctx, dout, n), tg = ops_upload(ops_ctx, g0, 3 * n),
                    ts = ops_upload(ops_ctx, NULL, levi_attention_backward_scratch_numel(p.B, p.T, p.C, p.NH));
        levi_tensor tdq = levi_tensor_view(ops_ctx, tg.buf, 0, 1, (int[]){(int)n}),
                    tdk = levi_tensor_view(ops_ctx, tg.buf, n, 1, (int[]){(int)n}),
                    tdv = levi_tensor_view(ops_ctx, tg.buf, 2 * n, 1, (int[]){(int)n});
        ck_assert_levi_ok(levi_attention_forward(ops_ctx, &to, &tatt, &tq, &tk, &tv, &ts, p.B, p.T, p.C, p.NH));
        ck_assert_levi_ok(
            levi_attention_backward(ops_ctx, &tdq, &tdk, &tdv, &td, &tq, &tk, &tv, &tatt, &ts, p.B, p.T, p.C, p.NH));
        double *ro = ops_dalloc(n), *rP = ops_dalloc(na), *rg = ops_to_double(g0, 3 * n), *dd = ops_to_double(dout, n);
        attention_ref_full(ro, rP, &p);
        attention_bwd_ref(rg, rg + n, rg + 2 * n, dd, &p);
        float *o = ops_download(&to, n), *att = ops_download(&tatt, na), *g = ops_download(&tg, 3 * n);
        char what[96];
        snprintf(what, sizeof what, "attention out B=%d T=%d C=%d NH=%d", p.B, p.T, p.C, p.NH);
        ops_check_close(what, o, ro, n, 1e-6, 1e-5);
        snprintf(what, sizeof what, "attention probs B=%d T=%d C=%d NH=%d", p.B, p.T, p.C, p.NH);
        ops_check_close(what, att, rP, na, 1e-7, 1e-5);
        snprintf(what, sizeof what, "attention dq (accumulating) B=%d T=%d C=%d NH=%d", p.B, p.T, p.C, p.NH);
        ops_check_close(what, g, rg, n, 1e-6, 1e-4);
        snprintf(what, sizeof what, "attention dk (accumulating) B=%d T=%d C=%d NH=%d", p.B, p.T, p.C, p.NH);
        ops_check_close(what, g + n, rg + n, n, 1e-6, 1e-4);
        snprintf(what, sizeof what, "attention dv (accumulating) B=%d T=%d C=%d NH=%d", p.B, p.T, p.C, p.NH);
        ops_check_close(what, g + 2 * n, rg + 2 * n, n, 1e-6, 1e-4);
        /* only dk wanted: dq and dv untouched, dk gets a second copy */
        ck_assert_levi_ok(
            levi_attention_backward(ops_ctx, NULL, &tdk, NULL, &td, &tq, &tk, &tv, &tatt, &ts, p.B, p.T, p.C, p.NH));
        float *g1 = g;
        g = ops_download(&tg, 3 * n);
        double *rdk2 = ops_dalloc(n), *zq = ops_dalloc(n), *zv = ops_dalloc(n);
        attention_bwd_ref(zq, rdk2, zv, dd, &p);
        for (size_t i = 0; i < n; i++) rdk2[i] += rg[n + i];
        double *prev = ops_to_double(g1, 3 * n);
        ops_check_close("attention dq untouched", g, prev, n, 0, 0);
        ops_check_close("attention dk twice", g + n, rdk2, n, 1e-6, 1e-4);
        ops_check_close("attention dv untouched", g + 2 * n, prev + 2 * n, n, 0, 0);
        free(g1), free(prev);
        levi_tensor *ts_[] = {&tq, &tk, &tv, &to, &tatt, &td, &tg, &ts};
        for (size_t i = 0; i < sizeof ts_ / sizeof ts_[0]; i++) levi_tensor_free(ts_[i]);
        free(q), free(k), free(v), free(dout), free(g0), free(p.q), free(p.k), free(p.v);
        free(ro), free(rP), free(rg), free(dd), free(o), free(att), free(g), free(rdk2), free(zq), free(zv);
    }
}
END_TEST

/* both batched-GEMM paths, all transpose combinations, alpha and beta */
START_TEST(batched_gemm_paths) {
    const int M = 7, N = 5, K = 33, batch = 3;
    size_t sa = M * K + 3, sb = K * N + 1, sc = M * N + 2; /* strides larger than a matrix */
    float *A = ops_rand(sa * batch, 91, -1, 1), *B = ops_rand(sb * batch, 92, -1, 1),
          *C0 = ops_rand(sc * batch, 93, -1, 1);
    levi_tensor tA = ops_upload(ops_ctx, A, sa * batch), tB = ops_upload(ops_ctx, B, sb * batch),
                tC = ops_upload(ops_ctx, NULL, sc * batch);
    double *ref = ops_dalloc(sc * batch);
    for (int impl = 0; impl < 2; impl++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                ck_assert_levi_ok(levi_tensor_write(&tC, C0));
                ck_assert_levi_ok(levi_attention_bgemm_with(ops_ctx, impl, ta, tb, M, N, K, 0.5f, &tA, sa, &tB, sb,
                                                            -2.0f, &tC, sc, batch));
                for (size_t i = 0; i < sc * batch; i++) ref[i] = C0[i];
                for (int b = 0; b < batch; b++)
                    for (int i = 0; i < M; i++)
                        for (int j = 0; j < N; j++) {
                            double acc = 0;
                            for (int k = 0; k < K; k++) {
                                double a = ta ? A[b * sa + k * M + i] : A[b * sa + i * K + k];
                                double bb = tb ? B[b * sb + j * K + k] : B[b * sb + k * N + j];
                                acc += a * bb;
                            }
                            size_t c = b * sc + i * N + j;
                            ref[c] = 0.5 * acc - 2.0 * C0[c];
                        }
                float *got = ops_download(&tC, sc * batch);
                char what[96];
                snprintf(what, sizeof what, "batched GEMM (%s) trans %d%d", impl ? "CLBlast" : "own kernel", ta, tb);
                ops_check_close(what, got, ref, sc * batch, 1e-6, 1e-5);
                free(got);
            }
    levi_tensor_free(&tA), levi_tensor_free(&tB), levi_tensor_free(&tC);
    free(A), free(B), free(C0), free(ref);
}
END_TEST

START_TEST(attention_bad_sizes) {
    levi_tensor t = ops_upload(ops_ctx, NULL, 64);
    ck_assert_int_eq(levi_attention_forward(ops_ctx, &t, &t, &t, &t, &t, &t, 1, 2, 6, 4), LEVI_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "C % NH == 0"));
    ck_assert_int_eq(levi_attention_forward(ops_ctx, &t, &t, &t, &t, &t, &t, 2, 4, 8, 2), LEVI_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "scratch"));
    levi_tensor_free(&t);
}
END_TEST

int main(void) {
    Suite *s = suite_create("ops_attention");
    TCase *host = tcase_create("host");
    tcase_add_test(host, attention_host_backward_vs_fd);
    suite_add_tcase(s, host);
    int device = test_have_device();
    if (device) {
        TCase *tc = tcase_create("device");
        tcase_add_unchecked_fixture(tc, ops_setup, ops_teardown);
        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, attention_device);
        tcase_add_test(tc, batched_gemm_paths);
        tcase_add_test(tc, attention_bad_sizes);
        suite_add_tcase(s, tc);
    }
    return test_finish(s, device);
}
