/* Elementwise and token ops against host references in double; backwards
 * against the host analytic backward (which is itself checked against
 * central finite differences), accumulating onto non-zero gradients.
 * Sizes are awkward on purpose: 1, 7, 33, 197, 1000. The bag of hashed
 * n-grams (hash, embedding lookup, scatter-add) of the ngram task model. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops_check.h"

static const size_t k_sizes[] = {1, 7, 33, 197, 1000};
static const size_t k_small_sizes[] = {1, 7, 33};

static size_t n_sizes(void) { return ops_small() ? 3 : 5; }
static size_t size_at(size_t i) { return ops_small() ? k_small_sizes[i] : k_sizes[i]; }

/* --- unary activations ------------------------------------------------------ */

static double gelu_ref(double x) { return 0.5 * x * (1 + erf(x / sqrt(2.0))); }
static double gelu_grad_ref(double x) {
    return 0.5 * (1 + erf(x / sqrt(2.0))) + x * exp(-0.5 * x * x) / sqrt(2 * M_PI);
}
static double relu_ref(double x) { return x > 0 ? x : 0; }
static double relu_grad_ref(double x) { return x > 0 ? 1 : 0; }

typedef struct unary_case {
    const char *name;
    double (*f)(double);
    double (*df)(double);
    levi_status (*fwd)(levi_ctx *, const levi_tensor *, const levi_tensor *, size_t);
    levi_status (*bwd)(levi_ctx *, const levi_tensor *, const levi_tensor *, const levi_tensor *, size_t);
} unary_case;

static const unary_case k_unary[] = {
    {"gelu", gelu_ref, gelu_grad_ref, levi_gelu_forward, levi_gelu_backward},
    {"relu", relu_ref, relu_grad_ref, levi_relu_forward, levi_relu_backward},
};


/* host analytic backward against central finite differences, per element */
static void check_unary_host_grad(const unary_case *c) {
    enum { N = 64 };
    float *xf = ops_rand(N, 99, -4, 4);
    double fd[N], an[N];
    for (int i = 0; i < N; i++) {
        double x = xf[i];
        if (fabs(x) < 0.05) x += 0.1; /* keep ReLU's kink out of the stencil */
        const double h = 1e-5;
        fd[i] = (c->f(x + h) - c->f(x - h)) / (2 * h);
        an[i] = c->df(x);
    }
    char what[64];
    snprintf(what, sizeof what, "%s host backward vs FD", c->name);
    test_check_close_d(what, an, fd, N, 1e-8, 1e-7);
    free(xf);
}

START_TEST(unary_ops) {
    const unary_case *c = &k_unary[_i];
    check_unary_host_grad(c);
    for (size_t si = 0; si < n_sizes(); si++) {
        size_t n = size_at(si);
        float *x = ops_rand(n, 1 + (unsigned)n, -5, 5);
        float *dout = ops_rand(n, 2 + (unsigned)n, -1, 1);
        float *g0 = ops_rand(n, 3 + (unsigned)n, -1, 1);
        levi_tensor tx = ops_upload(ops_ctx, x, n), ty = ops_upload(ops_ctx, NULL, n), td = ops_upload(ops_ctx, dout, n),
                    tg = ops_upload(ops_ctx, g0, n);
        ck_assert_levi_ok(c->fwd(ops_ctx, &ty, &tx, n));
        ck_assert_levi_ok(c->bwd(ops_ctx, &tg, &tx, &td, n));
        float *y = ops_download(&ty, n), *g = ops_download(&tg, n);
        double *ry = malloc(n * sizeof(double)), *rg = malloc(n * sizeof(double));
        for (size_t i = 0; i < n; i++) {
            ry[i] = c->f(x[i]);
            rg[i] = g0[i] + dout[i] * c->df(x[i]);
        }
        char what[64];
        snprintf(what, sizeof what, "%s forward n=%zu", c->name, n);
        test_check_close(what, y, ry, n, 1e-6, 1e-6);
        snprintf(what, sizeof what, "%s backward (accumulating) n=%zu", c->name, n);
        test_check_close(what, g, rg, n, 1e-6, 1e-6);
        levi_tensor_free(&tx);
        levi_tensor_free(&ty);
        levi_tensor_free(&td);
        levi_tensor_free(&tg);
        free(x), free(dout), free(g0), free(y), free(g), free(ry), free(rg);
    }
}
END_TEST

/* GELU over a dense sweep of [-10, 10] (cl/elementwise.cl evaluates erf with
 * a rational approximation): forward within 1.5e-6 and derivative within
 * 5e-7 absolute of the double reference */
START_TEST(gelu_accuracy_sweep) {
    size_t n = ops_small() ? 2001 : 200001;
    float *x = malloc(n * sizeof(float)), *one = malloc(n * sizeof(float));
    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_nonnull(one);
    for (size_t i = 0; i < n; i++) x[i] = (float)(-10.0 + 20.0 * (double)i / (double)(n - 1)), one[i] = 1.0f;
    levi_tensor tx = ops_upload(ops_ctx, x, n), ty = ops_upload(ops_ctx, NULL, n), tg = ops_upload(ops_ctx, NULL, n),
                t1 = ops_upload(ops_ctx, one, n);
    ck_assert_levi_ok(levi_gelu_forward(ops_ctx, &ty, &tx, n));
    ck_assert_levi_ok(levi_gelu_backward(ops_ctx, &tg, &tx, &t1, n));
    float *y = ops_download(&ty, n), *g = ops_download(&tg, n);
    double *ry = malloc(n * sizeof(double)), *rg = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) ry[i] = gelu_ref(x[i]), rg[i] = gelu_grad_ref(x[i]);
    test_check_close("gelu forward sweep [-10,10]", y, ry, n, 1.5e-6, 0);
    test_check_close("gelu derivative sweep [-10,10]", g, rg, n, 5e-7, 0);
    levi_tensor_free(&tx), levi_tensor_free(&ty), levi_tensor_free(&tg), levi_tensor_free(&t1);
    free(x), free(one), free(y), free(g), free(ry), free(rg);
}
END_TEST

/* The backward ops' accumulate = 0 forms (no zeroing command first) write
 * into a NaN-filled buffer exactly what the accumulating forms add into a
 * zeroed one: element-wise equality, and no NaN of the old contents left. */
static void expect_same_write(const char *what, const levi_tensor *acc, const levi_tensor *set, size_t n) {
    float *a = ops_download(acc, n), *s = ops_download(set, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(a[i] == s[i], "%s: element %zu: written %.9g, accumulated onto zero %.9g", what, i,
                      (double)s[i], (double)a[i]);
    free(a), free(s);
}

static levi_tensor upload_fill(size_t n, float v) {
    float *h = malloc(n * sizeof *h);
    ck_assert_ptr_nonnull(h);
    for (size_t i = 0; i < n; i++) h[i] = v;
    levi_tensor t = ops_upload(ops_ctx, h, n);
    free(h);
    return t;
}

START_TEST(backward_write_vs_accumulate) {
    const int N = 13, C = 37, OC = 19, K = 10;
    const size_t n = (size_t)N * C;
    float *x = ops_rand(n, 5, -3, 3), *d = ops_rand(n, 6, -1, 1);
    x[0] = 0.0f, x[1] = -0.0f; /* ReLU's kink: written 0 */
    levi_tensor tx = ops_upload(ops_ctx, x, n), td = ops_upload(ops_ctx, d, n);
    static levi_status (*const acc_fn[2])(levi_ctx *, const levi_tensor *, const levi_tensor *, const levi_tensor *,
                                          size_t, int) = {levi_gelu_backward_acc, levi_relu_backward_acc};
    for (int u = 0; u < 2; u++) {
        levi_tensor ta = upload_fill(n, 0.0f), ts = upload_fill(n, NAN);
        ck_assert_levi_ok(k_unary[u].bwd(ops_ctx, &ta, &tx, &td, n));
        ck_assert_levi_ok(acc_fn[u](ops_ctx, &ts, &tx, &td, n, 0));
        expect_same_write(k_unary[u].name, &ta, &ts, n);
        levi_tensor_free(&ta), levi_tensor_free(&ts);
    }
    /* cross-entropy backward on (N, K) probabilities and labels */
    float *lab = malloc((size_t)N * sizeof *lab);
    ck_assert_ptr_nonnull(lab);
    for (int r = 0; r < N; r++) lab[r] = (float)((r * 7) % K);
    levi_tensor tl = ops_upload(ops_ctx, lab, (size_t)N), ta = upload_fill((size_t)N * K, 0.0f),
                ts = upload_fill((size_t)N * K, NAN);
    ck_assert_levi_ok(levi_crossentropy_backward(ops_ctx, &ta, &tx, &tl, N, K, 1.0f / N));
    ck_assert_levi_ok(levi_crossentropy_backward_acc(ops_ctx, &ts, &tx, &tl, N, K, 1.0f / N, 0));
    expect_same_write("crossentropy_backward", &ta, &ts, (size_t)N * K);
    levi_tensor_free(&ta), levi_tensor_free(&ts), levi_tensor_free(&tl);
    /* linear backward's dinp: dout (N,OC) · w (OC,C), a GEMM with beta 0 */
    float *w = ops_rand((size_t)OC * C, 7, -1, 1);
    levi_tensor tw = ops_upload(ops_ctx, w, (size_t)OC * C);
    ta = upload_fill(n, 0.0f), ts = upload_fill(n, NAN);
    ck_assert_levi_ok(levi_linear_backward(ops_ctx, &ta, NULL, NULL, &td, NULL, &tw, N, C, OC));
    ck_assert_levi_ok(levi_linear_backward_acc(ops_ctx, &ts, NULL, NULL, &td, NULL, &tw, N, C, OC, 0));
    expect_same_write("linear_backward dinp", &ta, &ts, n);
    levi_tensor_free(&ta), levi_tensor_free(&ts), levi_tensor_free(&tw);
    levi_tensor_free(&tx), levi_tensor_free(&td);
    free(x), free(d), free(lab), free(w);
}
END_TEST

/* levi_tensor_fill (on CPU devices with OpenBLAS a native kernel): zero,
 * -0, a value, on an offset view with its neighbours untouched; a view past
 * its buffer is an error, not a write. */
START_TEST(tensor_fill_exact) {
    const size_t n = 1000, off = 37, len = 611;
    levi_tensor all = upload_fill(n, 7.0f);
    const float values[] = {0.0f, -0.0f, 3.25f, NAN};
    for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
        int shape[1] = {(int)len};
        levi_tensor part = levi_tensor_view(ops_ctx, all.buf, off, 1, shape);
        ck_assert_levi_ok(levi_tensor_fill(&part, values[v]));
        float *h = ops_download(&all, n);
        for (size_t i = 0; i < n; i++) {
            const int inside = i >= off && i < off + len;
            const float want = inside ? values[v] : 7.0f;
            ck_assert_msg(memcmp(&h[i], &want, sizeof want) == 0, "fill %g: float %zu is %g, expected %g",
                          (double)values[v], i, (double)h[i], (double)want);
        }
        free(h);
        ck_assert_levi_ok(levi_tensor_fill(&part, 7.0f));
    }
    int big[1] = {(int)n};
    levi_tensor past = levi_tensor_view(ops_ctx, all.buf, 1, 1, big);
    ck_assert_int_ne(levi_tensor_fill(&past, 0.0f), LEVI_OK);
    levi_tensor_free(&all);
}
END_TEST

/* --- add, scale, axpy, accumulate ------------------------------------------------ */

START_TEST(binary_ops) {
    for (size_t si = 0; si < n_sizes(); si++) {
        size_t n = size_at(si);
        float *a = ops_rand(n, 11, -3, 3), *b = ops_rand(n, 12, -3, 3);
        levi_tensor ta = ops_upload(ops_ctx, a, n), tb = ops_upload(ops_ctx, b, n), to = ops_upload(ops_ctx, NULL, n);
        double *ref = malloc(n * sizeof(double));
        char what[64];

        ck_assert_levi_ok(levi_add_forward(ops_ctx, &to, &ta, &tb, n));
        float *o = ops_download(&to, n);
        for (size_t i = 0; i < n; i++) ref[i] = (double)a[i] + b[i];
        snprintf(what, sizeof what, "add n=%zu", n);
        test_check_close(what, o, ref, n, 1e-6, 1e-7);
        free(o);

        ck_assert_levi_ok(levi_scale_forward(ops_ctx, &to, &ta, -0.75f, n));
        o = ops_download(&to, n);
        for (size_t i = 0; i < n; i++) ref[i] = -0.75 * a[i];
        snprintf(what, sizeof what, "scale n=%zu", n);
        test_check_close(what, o, ref, n, 1e-6, 1e-7);
        free(o);

        /* to = -0.75 a; to += 2.5 b; to += a */
        ck_assert_levi_ok(levi_axpy(ops_ctx, &to, 2.5f, &tb, n));
        ck_assert_levi_ok(levi_accumulate(ops_ctx, &to, &ta, n));
        o = ops_download(&to, n);
        for (size_t i = 0; i < n; i++) ref[i] = -0.75 * a[i] + 2.5 * b[i] + a[i];
        snprintf(what, sizeof what, "axpy + accumulate n=%zu", n);
        test_check_close(what, o, ref, n, 1e-5, 1e-6);
        free(o);

        levi_tensor_free(&ta);
        levi_tensor_free(&tb);
        levi_tensor_free(&to);
        free(a), free(b), free(ref);
    }
}
END_TEST

/* a size mismatch is an error naming the tensor, not an out-of-bounds launch */
START_TEST(size_errors) {
    levi_tensor a = ops_upload(ops_ctx, NULL, 7), b = ops_upload(ops_ctx, NULL, 8);
    ck_assert_int_eq(levi_add_forward(ops_ctx, &b, &a, &b, 8), LEVI_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "add_forward: a holds 7 floats, needs 8"));
    ck_assert_int_eq(levi_add_bias(ops_ctx, &b, &a, 1, 8), LEVI_ERR_SHAPE);
    ck_assert_int_eq(levi_copy_cols(ops_ctx, &b, 4, 3, &a, 7, 0, 1, 2, 0), LEVI_ERR_INVALID_ARG);
    ck_assert_int_eq(levi_take_token_forward(ops_ctx, &a, &b, 2, 1, 2, 4), LEVI_ERR_INVALID_ARG);
    levi_tensor_free(&a);
    levi_tensor_free(&b);
}
END_TEST

/* --- bias, column blocks, token reductions -------------------------------------- */

START_TEST(add_bias_op) {
    const int shapes[][2] = {{1, 1}, {7, 33}, {33, 7}, {3, 1000}, {197, 5}};
    int ns = ops_small() ? 3 : 5;
    for (int s = 0; s < ns; s++) {
        int R = shapes[s][0], Cc = shapes[s][1];
        size_t n = (size_t)R * Cc;
        float *x = ops_rand(n, 21, -1, 1), *bias = ops_rand(Cc, 22, -1, 1);
        levi_tensor tx = ops_upload(ops_ctx, x, n), tb = ops_upload(ops_ctx, bias, Cc);
        ck_assert_levi_ok(levi_add_bias(ops_ctx, &tx, &tb, R, Cc));
        float *o = ops_download(&tx, n);
        double *ref = malloc(n * sizeof(double));
        for (size_t i = 0; i < n; i++) ref[i] = (double)x[i] + bias[i % Cc];
        char what[64];
        snprintf(what, sizeof what, "add_bias %dx%d", R, Cc);
        test_check_close(what, o, ref, n, 1e-6, 1e-7);
        levi_tensor_free(&tx);
        levi_tensor_free(&tb);
        free(x), free(bias), free(o), free(ref);
    }
}
END_TEST

START_TEST(copy_cols_concat_split) {
    /* concat a (R,5) and b (R,33) into c (R,38), then split back with accumulate */
    int R = ops_small() ? 7 : 197, A = 5, Bw = 33, W = A + Bw;
    float *a = ops_rand((size_t)R * A, 31, -1, 1), *b = ops_rand((size_t)R * Bw, 32, -1, 1);
    float *ga = ops_rand((size_t)R * A, 33, -1, 1);
    levi_tensor ta = ops_upload(ops_ctx, a, (size_t)R * A), tb = ops_upload(ops_ctx, b, (size_t)R * Bw),
                tc = ops_upload(ops_ctx, NULL, (size_t)R * W), tga = ops_upload(ops_ctx, ga, (size_t)R * A);
    ck_assert_levi_ok(levi_copy_cols(ops_ctx, &tc, W, 0, &ta, A, 0, R, A, 0));
    ck_assert_levi_ok(levi_copy_cols(ops_ctx, &tc, W, A, &tb, Bw, 0, R, Bw, 0));
    float *c = ops_download(&tc, (size_t)R * W);
    double *ref = malloc((size_t)R * W * sizeof(double));
    for (int r = 0; r < R; r++)
        for (int j = 0; j < W; j++) ref[r * W + j] = j < A ? a[r * A + j] : b[r * Bw + j - A];
    test_check_close("concat", c, ref, (size_t)R * W, 0, 0);
    /* split: ga += c[:, 0:A] */
    ck_assert_levi_ok(levi_copy_cols(ops_ctx, &tga, A, 0, &tc, W, 0, R, A, 1));
    float *g = ops_download(&tga, (size_t)R * A);
    for (int i = 0; i < R * A; i++) ref[i] = (double)ga[i] + a[i];
    test_check_close("split (accumulate)", g, ref, (size_t)R * A, 1e-6, 1e-7);
    levi_tensor_free(&ta);
    levi_tensor_free(&tb);
    levi_tensor_free(&tc);
    levi_tensor_free(&tga);
    free(a), free(b), free(ga), free(c), free(g), free(ref);
}
END_TEST

START_TEST(token_ops) {
    const int shapes[][3] = {{1, 1, 1}, {2, 7, 33}, {3, 197, 7}, {1, 5, 1000}};
    int ns = ops_small() ? 2 : 4;
    for (int s = 0; s < ns; s++) {
        int B = shapes[s][0], T = shapes[s][1], C = shapes[s][2];
        size_t n = (size_t)B * T * C, m = (size_t)B * C;
        float *x = ops_rand(n, 41, -2, 2), *dout = ops_rand(m, 42, -1, 1), *g0 = ops_rand(n, 43, -1, 1);
        levi_tensor tx = ops_upload(ops_ctx, x, n), to = ops_upload(ops_ctx, NULL, m), td = ops_upload(ops_ctx, dout, m),
                    tg = ops_upload(ops_ctx, g0, n);
        double *ref = malloc(n * sizeof(double));
        char what[80];
        int token = T - 1;

        ck_assert_levi_ok(levi_mean_tokens_forward(ops_ctx, &to, &tx, B, T, C));
        float *o = ops_download(&to, m);
        for (int b = 0; b < B; b++)
            for (int c = 0; c < C; c++) {
                double acc = 0;
                for (int t = 0; t < T; t++) acc += x[((size_t)b * T + t) * C + c];
                ref[b * C + c] = acc / T;
            }
        snprintf(what, sizeof what, "mean_tokens forward B=%d T=%d C=%d", B, T, C);
        test_check_close(what, o, ref, m, 1e-6, 1e-5);
        free(o);

        ck_assert_levi_ok(levi_take_token_forward(ops_ctx, &to, &tx, token, B, T, C));
        o = ops_download(&to, m);
        for (int b = 0; b < B; b++)
            for (int c = 0; c < C; c++) ref[b * C + c] = x[((size_t)b * T + token) * C + c];
        snprintf(what, sizeof what, "take_token forward B=%d T=%d C=%d", B, T, C);
        test_check_close(what, o, ref, m, 0, 0);
        free(o);

        /* both backwards accumulate into the same non-zero gradient */
        ck_assert_levi_ok(levi_mean_tokens_backward(ops_ctx, &tg, &td, B, T, C));
        ck_assert_levi_ok(levi_take_token_backward(ops_ctx, &tg, &td, token, B, T, C));
        o = ops_download(&tg, n);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                for (int c = 0; c < C; c++) {
                    size_t i = ((size_t)b * T + t) * C + c;
                    ref[i] = (double)g0[i] + dout[b * C + c] / (double)T + (t == token ? dout[b * C + c] : 0);
                }
        snprintf(what, sizeof what, "mean_tokens + take_token backward B=%d T=%d C=%d", B, T, C);
        test_check_close(what, o, ref, n, 1e-6, 1e-6);
        free(o);
        levi_tensor_free(&tx);
        levi_tensor_free(&to);
        levi_tensor_free(&td);
        levi_tensor_free(&tg);
        free(x), free(dout), free(g0), free(ref);
    }
}
END_TEST

/* A bag of hashed n-grams as the ngram task model builds it: levi_ngram_hash
 * against the host's hash, then the embedding lookup and its scatter-add
 * backward over those ids (-1 outside the mask: skipped). */
START_TEST(ngram_bag_ops) {
    const int shapes[][3] = {{1, 1, 3}, {3, 9, 5}, {4, 33, 11}};
    int ns = ops_small() ? 2 : 3;
    for (int s = 0; s < ns; s++) {
        int B = shapes[s][0], T = shapes[s][1], D = shapes[s][2], N = 13, T2 = 2 * T;
        size_t bt = (size_t)B * T;
        float *ids = malloc(bt * sizeof *ids), *mask = malloc(bt * sizeof *mask);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++) {
                ids[b * T + t] = (float)((b * 31 + t * 7) % 50);
                mask[b * T + t] = t < 1 + (b * 5) % T ? 1.0f : 0.0f;
            }
        float *table = ops_rand((size_t)N * D, 51, -1, 1), *dout = ops_rand((size_t)B * T2 * D, 52, -1, 1);
        float *g0 = ops_rand((size_t)N * D, 53, -1, 1);
        levi_tensor ti = ops_upload(ops_ctx, ids, bt), tm = ops_upload(ops_ctx, mask, bt);
        levi_tensor th = ops_upload(ops_ctx, NULL, 2 * bt), thm = ops_upload(ops_ctx, NULL, 2 * bt);
        levi_tensor ttab = ops_upload(ops_ctx, table, (size_t)N * D), trows = ops_upload(ops_ctx, NULL, (size_t)B * T2 * D);
        levi_tensor tdo = ops_upload(ops_ctx, dout, (size_t)B * T2 * D), tg = ops_upload(ops_ctx, g0, (size_t)N * D);
        ck_assert_levi_ok(levi_ngram_hash(ops_ctx, &th, &thm, &ti, &tm, B, T, N));
        float *hid = ops_download(&th, 2 * bt), *hm = ops_download(&thm, 2 * bt);
        size_t nref = (size_t)B * T2 * D > (size_t)N * D ? (size_t)B * T2 * D : (size_t)N * D;
        double *ref = malloc(nref * sizeof *ref), *refm = malloc(2 * bt * sizeof *refm);
        for (int b = 0; b < B; b++)
            for (int j = 0; j < T2; j++) {
                int t = j < T ? j : j - T, i = b * T2 + j;
                int valid = mask[b * T + t] > 0 && (j < T || (t + 1 < T && mask[b * T + t + 1] > 0));
                ref[i] = valid ? levi_ngram_hash_host((int)ids[b * T + t], j < T ? -1 : (int)ids[b * T + t + 1], N) : -1;
                refm[i] = valid;
            }
        char what[80];
        snprintf(what, sizeof what, "ngram_hash ids B=%d T=%d", B, T);
        test_check_close(what, hid, ref, 2 * bt, 0, 0);
        snprintf(what, sizeof what, "ngram_hash mask B=%d T=%d", B, T);
        test_check_close(what, hm, refm, 2 * bt, 0, 0);
        ck_assert_levi_ok(levi_embedding_forward(ops_ctx, &trows, &th, &ttab, NULL, NULL, B, T2, D, N));
        float *rows = ops_download(&trows, (size_t)B * T2 * D);
        for (size_t r = 0; r < (size_t)B * T2; r++)
            for (int d = 0; d < D; d++) ref[r * D + d] = hid[r] < 0 ? 0 : table[(int)hid[r] * D + d];
        snprintf(what, sizeof what, "embedding of hashed ids B=%d T=%d D=%d", B, T, D);
        test_check_close(what, rows, ref, (size_t)B * T2 * D, 0, 0);
        ck_assert_levi_ok(levi_embedding_backward(ops_ctx, &tg, NULL, NULL, &tdo, &th, B, T2, D, N));
        float *g = ops_download(&tg, (size_t)N * D);
        for (int i = 0; i < N * D; i++) ref[i] = g0[i];
        for (size_t r = 0; r < (size_t)B * T2; r++)
            for (int d = 0; d < D && hid[r] >= 0; d++) ref[(int)hid[r] * D + d] += dout[r * D + d];
        snprintf(what, sizeof what, "embedding backward over hashed ids B=%d T=%d D=%d", B, T, D);
        test_check_close(what, g, ref, (size_t)N * D, 1e-6, 1e-6);
        levi_tensor *all[] = {&ti, &tm, &th, &thm, &ttab, &trows, &tdo, &tg};
        for (int k = 0; k < 8; k++) levi_tensor_free(all[k]);
        free(ids), free(mask), free(table), free(dout), free(g0), free(hid), free(hm), free(rows), free(g);
        free(ref), free(refm);
    }
}
END_TEST

/* patchify against the host: 3 channels, a non-square image, P = 4 */
START_TEST(patchify_op) {
    const int B = 2, C = 3, H = 8, W = 12, P = 4, GW = W / P, NP = (H / P) * GW, CPP = C * P * P;
    const size_t n = (size_t)B * C * H * W, m = (size_t)B * NP * CPP;
    float *x = ops_rand(n, 41, -1, 1);
    levi_tensor tx = ops_upload(ops_ctx, x, n), tp = ops_upload(ops_ctx, NULL, m);
    ck_assert_levi_ok(levi_patchify(ops_ctx, &tp, &tx, B, C, H, W, P));
    float *got = ops_download(&tp, m);
    double *ref = ops_dalloc(m);
    for (int b = 0; b < B; b++)
        for (int p = 0; p < NP; p++)
            for (int c = 0; c < C; c++)
                for (int ky = 0; ky < P; ky++)
                    for (int kx = 0; kx < P; kx++)
                        ref[((size_t)b * NP + p) * CPP + (c * P + ky) * P + kx] =
                            x[(((size_t)b * C + c) * H + (p / GW) * P + ky) * W + (p % GW) * P + kx];
    test_check_close("patchify", got, ref, m, 0, 0);
    levi_tensor_free(&tx);
    levi_tensor_free(&tp);
    free(x), free(got), free(ref);
}
END_TEST

int main(void) {
    if (!test_have_device()) {
        fprintf(stderr, "no OpenCL device: op tests skipped\n");
        return TEST_SKIP;
    }
    Suite *s = suite_create("ops_elementwise");
    TCase *tc = tcase_create("elementwise");
    tcase_add_unchecked_fixture(tc, ops_setup, ops_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, unary_ops, 0, (int)(sizeof k_unary / sizeof k_unary[0]));
    tcase_add_test(tc, gelu_accuracy_sweep);
    tcase_add_test(tc, backward_write_vs_accumulate);
    tcase_add_test(tc, tensor_fill_exact);
    tcase_add_test(tc, binary_ops);
    tcase_add_test(tc, size_errors);
    tcase_add_test(tc, add_bias_op);
    tcase_add_test(tc, copy_cols_concat_split);
    tcase_add_test(tc, token_ops);
    tcase_add_test(tc, patchify_op);
    tcase_add_test(tc, ngram_bag_ops);
    suite_add_tcase(s, tc);
    return test_run(s);
}
