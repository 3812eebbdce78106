/* Tiled multi-head attention (levi_attention_*), with and without a
 * key-padding mask, against a host reference in double: the host backward
 * against central finite differences, the device forward and backward
 * (accumulating, any subset of dq/dk/dv) against the host at T = 17, 65, 197
 * and 577 and several head sizes (the compile-time variants 16, 32, 64 and
 * the general kernel), and the device gradients against finite differences
 * of the host forward at sampled inputs; and against PyTorch's
 * scaled_dot_product_attention with a padding mask at the four lengths. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "ops_check.h"

typedef struct att_args {
    double *q, *k, *v;
    const float *mask; /* (B,T) or NULL */
    int B, T, C, NH;
} att_args;

#define IDX(b, t, c) (((size_t)(b) * p->T + (t)) * p->C + (c))

static int valid(const att_args *p, int b, int j) { return !p->mask || p->mask[(size_t)b * p->T + j] != 0.0f; }

/* probabilities P (B,NH,T,T) (0 for masked keys; a row with every key
 * masked is all 0) and output (B,T,C) */
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
                    if (valid(p, b, j)) mx = fmax(mx, d * scale);
                }
                for (int j = 0; j < p->T; j++) s += valid(p, b, j) ? exp(pp[i * p->T + j] - mx) : 0;
                for (int j = 0; j < p->T; j++) pp[i * p->T + j] = valid(p, b, j) ? exp(pp[i * p->T + j] - mx) / s : 0;
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

/* A mask for B images of T tokens: image b keeps its first T - b*T/4 tokens
 * (image 0 all of them); with `empty`, the last image has no token at all. */
static float *make_mask(int B, int T, int empty) {
    float *m = malloc((size_t)B * T * sizeof(float));
    ck_assert_ptr_nonnull(m);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) m[(size_t)b * T + t] = t < T - b * T / 4 ? 1.0f : 0.0f;
    if (empty && B > 1)
        for (int t = 0; t < T; t++) m[(size_t)(B - 1) * T + t] = 0.0f;
    return m;
}

START_TEST(attention_host_backward_vs_fd) {
    for (int masked = 0; masked < 2; masked++) {
        att_args p = {NULL, NULL, NULL, NULL, 2, 5, 4, 2};
        size_t n = (size_t)p.B * p.T * p.C;
        float *m = make_mask(p.B, p.T, 0);
        p.mask = masked ? m : NULL;
        float *f = ops_rand(4 * n, 71, -1.5f, 1.5f);
        p.q = ops_to_double(f, n), p.k = ops_to_double(f + n, n), p.v = ops_to_double(f + 2 * n, n);
        double *dout = ops_to_double(f + 3 * n, n), *dq = ops_dalloc(n), *dk = ops_dalloc(n), *dv = ops_dalloc(n),
               *fd = ops_dalloc(n);
        attention_bwd_ref(dq, dk, dv, dout, &p);
        ops_fd_grad(fd, attention_ref, p.q, n, dout, n, 1e-5, &p);
        test_check_close_d("attention dq host vs FD", dq, fd, n, 1e-9, 1e-6);
        ops_fd_grad(fd, attention_ref, p.k, n, dout, n, 1e-5, &p);
        test_check_close_d("attention dk host vs FD", dk, fd, n, 1e-9, 1e-6);
        ops_fd_grad(fd, attention_ref, p.v, n, dout, n, 1e-5, &p);
        test_check_close_d("attention dv host vs FD", dv, fd, n, 1e-9, 1e-6);
        free(m), free(f), free(p.q), free(p.k), free(p.v), free(dout), free(dq), free(dk), free(dv), free(fd);
    }
}
END_TEST

/* Device gradients against central differences of the host forward in
 * double, at `count` sampled entries of x (one of q, k, v). */
static void fd_sampled(const char *what, att_args *p, double *x, const float *dev, const double *dout, int count) {
    size_t n = (size_t)p->B * p->T * p->C;
    double *o = ops_dalloc(n), *fd = ops_dalloc(count), *got = ops_dalloc(count);
    for (int s = 0; s < count; s++) {
        size_t i = (size_t)((s * 2654435761u) % n);
        double x0 = x[i], lp = 0, lm = 0, h = 1e-4;
        x[i] = x0 + h;
        attention_ref(o, NULL, p);
        for (size_t j = 0; j < n; j++) lp += dout[j] * o[j];
        x[i] = x0 - h;
        attention_ref(o, NULL, p);
        for (size_t j = 0; j < n; j++) lm += dout[j] * o[j];
        x[i] = x0;
        fd[s] = (lp - lm) / (2 * h);
        got[s] = dev[i];
    }
    test_check_close_d(what, got, fd, (size_t)count, 1e-5, 1e-4);
    free(o), free(fd), free(got);
}

/* One shape: forward and backward against the host, a second backward with
 * only dk, and (fd > 0) sampled finite differences. */
static void attention_case(int B, int T, int C, int NH, int masked, int fd) {
    att_args p = {NULL, NULL, NULL, NULL, B, T, C, NH};
    size_t n = (size_t)B * T * C, nl = (size_t)B * NH * T;
    float *m = masked ? make_mask(B, T, masked == 2) : NULL;
    p.mask = m;
    float *q = ops_rand(n, 81, -2, 2), *k = ops_rand(n, 82, -2, 2), *v = ops_rand(n, 83, -2, 2);
    float *dout = ops_rand(n, 84, -1, 1), *g0 = ops_rand(3 * n, 85, -1, 1);
    p.q = ops_to_double(q, n), p.k = ops_to_double(k, n), p.v = ops_to_double(v, n);
    levi_tensor tq = ops_upload(ops_ctx, q, n), tk = ops_upload(ops_ctx, k, n), tv = ops_upload(ops_ctx, v, n),
                to = ops_upload(ops_ctx, NULL, n), tl = ops_upload(ops_ctx, NULL, nl), td = ops_upload(ops_ctx, dout, n),
                tg = ops_upload(ops_ctx, g0, 3 * n), tm = ops_upload(ops_ctx, m, m ? (size_t)B * T : 1);
    const levi_tensor *mk = m ? &tm : NULL;
    levi_tensor tdq = levi_tensor_view(ops_ctx, tg.buf, 0, 1, (int[]){(int)n}),
                tdk = levi_tensor_view(ops_ctx, tg.buf, n, 1, (int[]){(int)n}),
                tdv = levi_tensor_view(ops_ctx, tg.buf, 2 * n, 1, (int[]){(int)n});
    ck_assert_levi_ok(levi_attention_forward(ops_ctx, &to, &tl, &tq, &tk, &tv, mk, B, T, C, NH));
    ck_assert_levi_ok(levi_attention_backward(ops_ctx, &tdq, &tdk, &tdv, &td, &tq, &tk, &tv, &to, &tl, mk, B, T, C, NH));
    double *ro = ops_dalloc(n), *rg = ops_to_double(g0, 3 * n), *dd = ops_to_double(dout, n);
    attention_ref(ro, NULL, &p);
    attention_bwd_ref(rg, rg + n, rg + 2 * n, dd, &p);
    float *o = ops_download(&to, n), *g = ops_download(&tg, 3 * n);
    char what[128];
    const char *mname = masked == 2 ? " mask+empty" : masked ? " mask" : "";
#define WHAT(s) (snprintf(what, sizeof what, "attention %s B=%d T=%d C=%d NH=%d%s", s, B, T, C, NH, mname), what)
    test_check_close(WHAT("out"), o, ro, n, 1e-6, 1e-5);
    test_check_close(WHAT("dq (accumulating)"), g, rg, n, 1e-6, 1e-4);
    test_check_close(WHAT("dk (accumulating)"), g + n, rg + n, n, 1e-6, 1e-4);
    test_check_close(WHAT("dv (accumulating)"), g + 2 * n, rg + 2 * n, n, 1e-6, 1e-4);
    if (fd) {
        double *z = ops_dalloc(3 * n), *gz = ops_dalloc(3 * n);
        for (size_t i = 0; i < 3 * n; i++) gz[i] = (double)g[i] - g0[i]; /* this call's gradient alone */
        float *gf = malloc(3 * n * sizeof(float));
        for (size_t i = 0; i < 3 * n; i++) gf[i] = (float)gz[i];
        fd_sampled(WHAT("dq vs FD"), &p, p.q, gf, dd, fd);
        fd_sampled(WHAT("dk vs FD"), &p, p.k, gf + n, dd, fd);
        fd_sampled(WHAT("dv vs FD"), &p, p.v, gf + 2 * n, dd, fd);
        free(z), free(gz), free(gf);
    }
    /* only dk wanted: dq and dv untouched, dk gets a second copy */
    ck_assert_levi_ok(levi_attention_backward(ops_ctx, NULL, &tdk, NULL, &td, &tq, &tk, &tv, &to, &tl, mk, B, T, C, NH));
    float *g2 = ops_download(&tg, 3 * n);
    double *prev = ops_to_double(g, 3 * n), *rdk2 = ops_dalloc(n), *zq = ops_dalloc(n), *zv = ops_dalloc(n);
    attention_bwd_ref(zq, rdk2, zv, dd, &p);
    for (size_t i = 0; i < n; i++) rdk2[i] += rg[n + i];
    test_check_close(WHAT("dq untouched"), g2, prev, n, 0, 0);
    test_check_close(WHAT("dk twice"), g2 + n, rdk2, n, 1e-6, 1e-4);
    test_check_close(WHAT("dv untouched"), g2 + 2 * n, prev + 2 * n, n, 0, 0);
#undef WHAT
    levi_tensor *ts[] = {&tq, &tk, &tv, &to, &tl, &td, &tg, &tm};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) levi_tensor_free(ts[i]);
    free(m), free(q), free(k), free(v), free(dout), free(g0), free(p.q), free(p.k), free(p.v);
    free(ro), free(rg), free(dd), free(o), free(g), free(g2), free(prev), free(rdk2), free(zq), free(zv);
}

/* small shapes (the Oclgrind set): odd head sizes, T below and above a tile */
START_TEST(attention_small) {
    const int shapes[][4] = {{1, 1, 1, 1}, {2, 7, 12, 3}, {3, 9, 8, 2}, {2, 40, 6, 2}};
    for (int s = 0; s < 4; s++)
        for (int masked = 0; masked < 3; masked++)
            attention_case(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3], masked, 0);
}
END_TEST

/* T = 17, 65, 197, 577 through each kernel variant (head sizes 16, 32, 64 and 8) */
START_TEST(attention_long) {
    if (ops_small()) return;
    const int shapes[][4] = {{3, 17, 64, 4}, {2, 65, 64, 2}, {1, 197, 128, 2}, {1, 577, 16, 2}};
    for (int s = 0; s < 4; s++)
        for (int masked = 0; masked < 2; masked++)
            attention_case(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3], masked ? 2 : 0, masked ? 0 : 6);
}
END_TEST

/* Against PyTorch's scaled_dot_product_attention (float64) with the key
 * padding mask, tests/fixtures/attention.bin (tools/golden_attention.py):
 * the inputs are drawn again with the script's generator (test_fill_uniform). */
START_TEST(attention_matches_pytorch) {
    char path[1024], err[512];
    golden_path(path, sizeof path, "attention.bin");
    golden_file g;
    ck_assert_msg(golden_load(&g, path, err, sizeof err) == 0, "%s", err);
    const int Ts[4] = {17, 65, 197, 577};
    for (int c = 0; c < (ops_small() ? 1 : 4); c++) {
        char name[64];
#define GET(x) (snprintf(name, sizeof name, "t%d.%s", Ts[c], x), golden_get(&g, name))
        const golden_array *dims = GET("dims"), *ro = GET("out"), *rq = GET("dq"), *rk = GET("dk"), *rv = GET("dv");
        ck_assert_msg(dims && ro && rq && rk && rv, "%s lacks case T=%d", path, Ts[c]);
        const int B = (int)dims->data[0], T = (int)dims->data[1], C = (int)dims->data[2], NH = (int)dims->data[3];
        const unsigned seed = (unsigned)dims->data[4];
        const size_t n = (size_t)B * T * C;
        ck_assert_uint_eq(ro->numel, n);
        float *x[4];
        for (int i = 0; i < 4; i++) x[i] = ops_rand(n, seed + (unsigned)i, -2, 2);
        float *m = make_mask(B, T, 0);
        levi_tensor tq = ops_upload(ops_ctx, x[0], n), tk = ops_upload(ops_ctx, x[1], n),
                    tv = ops_upload(ops_ctx, x[2], n), td = ops_upload(ops_ctx, x[3], n),
                    to = ops_upload(ops_ctx, NULL, n), tl = ops_upload(ops_ctx, NULL, (size_t)B * NH * T),
                    tm = ops_upload(ops_ctx, m, (size_t)B * T), tdq = ops_upload(ops_ctx, NULL, n),
                    tdk = ops_upload(ops_ctx, NULL, n), tdv = ops_upload(ops_ctx, NULL, n);
        ck_assert_levi_ok(levi_attention_forward(ops_ctx, &to, &tl, &tq, &tk, &tv, &tm, B, T, C, NH));
        ck_assert_levi_ok(
            levi_attention_backward(ops_ctx, &tdq, &tdk, &tdv, &td, &tq, &tk, &tv, &to, &tl, &tm, B, T, C, NH));
        const struct {
            levi_tensor *t;
            const golden_array *ref;
            const char *what;
            double rtol;
        } out[4] = {{&to, ro, "out", 1e-5}, {&tdq, rq, "dq", 1e-4}, {&tdk, rk, "dk", 1e-4}, {&tdv, rv, "dv", 1e-4}};
        for (int i = 0; i < 4; i++) {
            float *got = ops_download(out[i].t, n);
            snprintf(name, sizeof name, "attention %s T=%d vs PyTorch", out[i].what, T);
            test_check_close_f(name, got, out[i].ref->data, n, 1e-6, out[i].rtol);
            free(got);
        }
#undef GET
        levi_tensor *ts[] = {&tq, &tk, &tv, &td, &to, &tl, &tm, &tdq, &tdk, &tdv};
        for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) levi_tensor_free(ts[i]);
        for (int i = 0; i < 4; i++) free(x[i]);
        free(m);
    }
    golden_free(&g);
}
END_TEST

START_TEST(attention_bad_sizes) {
    levi_tensor t = ops_upload(ops_ctx, NULL, 64);
    ck_assert_int_eq(levi_attention_forward(ops_ctx, &t, &t, &t, &t, &t, NULL, 1, 2, 6, 4), LEVI_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "C % NH == 0"));
    ck_assert_int_eq(levi_attention_forward(ops_ctx, &t, &t, &t, &t, &t, &t, 2, 40, 8, 2), LEVI_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "holds 64 floats"));
    ck_assert_int_eq(levi_attention_forward(ops_ctx, &t, &t, &t, &t, &t, NULL, 1, 1, 258, 1), LEVI_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "head size 258"));
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
        tcase_add_test(tc, attention_small);
        tcase_add_test(tc, attention_long);
        tcase_add_test(tc, attention_matches_pytorch);
        tcase_add_test(tc, attention_bad_sizes);
        suite_add_tcase(s, tc);
    }
    return test_finish(s, device);
}
