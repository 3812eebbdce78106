/* linear, layernorm, softmax, cross-entropy, AdamW and gradient clipping on
 * the device against host references in double. Every backward is checked
 * twice: the host analytic backward against central finite differences of
 * loss = Σ dout ⊙ f(x) (in double, tight), and the device backward, added
 * onto a non-zero gradient, against that host backward (accumulation). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops_check.h"

/* --- linear ----------------------------------------------------------------------- */

typedef struct lin_args {
    double *x, *w, *b;
    int N, C, OC;
} lin_args;

/* out (N,OC) = x (N,C) · w (OC,C)ᵀ + b */
static void linear_ref(double *out, const double *x, void *user) {
    const lin_args *p = user;
    (void)x;
    for (int n = 0; n < p->N; n++)
        for (int o = 0; o < p->OC; o++) {
            double acc = p->b[o];
            for (int c = 0; c < p->C; c++) acc += p->x[n * p->C + c] * p->w[o * p->C + c];
            out[n * p->OC + o] = acc;
        }
}

static void linear_bwd_ref(double *dx, double *dw, double *db, const double *dout, const lin_args *p) {
    for (int n = 0; n < p->N; n++)
        for (int o = 0; o < p->OC; o++) {
            double g = dout[n * p->OC + o];
            db[o] += g;
            for (int c = 0; c < p->C; c++) {
                dx[n * p->C + c] += g * p->w[o * p->C + c];
                dw[o * p->C + c] += g * p->x[n * p->C + c];
            }
        }
}

START_TEST(linear_host_backward_vs_fd) {
    lin_args p = {NULL, NULL, NULL, 3, 5, 4};
    float *f = ops_rand(100, 5, -1, 1);
    p.x = ops_to_double(f, 15), p.w = ops_to_double(f + 20, 20), p.b = ops_to_double(f + 50, 4);
    double *dout = ops_to_double(f + 60, 12);
    double *dx = ops_dalloc(15), *dw = ops_dalloc(20), *db = ops_dalloc(4), *fd = ops_dalloc(20);
    linear_bwd_ref(dx, dw, db, dout, &p);
    ops_fd_grad(fd, linear_ref, p.x, 15, dout, 12, 1e-4, &p);
    test_check_close_d("linear dx host vs FD", dx, fd, 15, 1e-9, 1e-7);
    ops_fd_grad(fd, linear_ref, p.w, 20, dout, 12, 1e-4, &p);
    test_check_close_d("linear dw host vs FD", dw, fd, 20, 1e-9, 1e-7);
    ops_fd_grad(fd, linear_ref, p.b, 4, dout, 12, 1e-4, &p);
    test_check_close_d("linear db host vs FD", db, fd, 4, 1e-9, 1e-7);
    free(f), free(p.x), free(p.w), free(p.b), free(dout), free(dx), free(dw), free(db), free(fd);
}
END_TEST

START_TEST(linear_device) {
    /* the first three are the small set (LEVI_TEST_SMALL, Oclgrind) */
    const int shapes[][3] = {{1, 1, 1}, {7, 33, 5}, {3, 5, 70}, {33, 7, 197}, {197, 33, 7}, {3, 1000, 7}};
    int ns = ops_small() ? 3 : 6;
    for (int s = 0; s < ns; s++) {
        lin_args p = {NULL, NULL, NULL, shapes[s][0], shapes[s][1], shapes[s][2]};
        size_t nx = (size_t)p.N * p.C, nw = (size_t)p.OC * p.C, no = (size_t)p.N * p.OC;
        float *x = ops_rand(nx, 1, -1, 1), *w = ops_rand(nw, 2, -1, 1), *b = ops_rand(p.OC, 3, -1, 1);
        float *dout = ops_rand(no, 4, -1, 1), *gx = ops_rand(nx, 5, -1, 1), *gw = ops_rand(nw, 6, -1, 1),
              *gb = ops_rand(p.OC, 7, -1, 1);
        p.x = ops_to_double(x, nx), p.w = ops_to_double(w, nw), p.b = ops_to_double(b, p.OC);
        levi_tensor tx = ops_upload(ops_ctx, x, nx), tw = ops_upload(ops_ctx, w, nw), tb = ops_upload(ops_ctx, b, p.OC),
                    to = ops_upload(ops_ctx, NULL, no), td = ops_upload(ops_ctx, dout, no),
                    tgx = ops_upload(ops_ctx, gx, nx), tgw = ops_upload(ops_ctx, gw, nw),
                    tgb = ops_upload(ops_ctx, gb, p.OC);
        ck_assert_levi_ok(levi_linear_forward(ops_ctx, &to, &tx, &tw, &tb, p.N, p.C, p.OC));
        ck_assert_levi_ok(levi_linear_backward(ops_ctx, &tgx, &tgw, &tgb, &td, &tx, &tw, p.N, p.C, p.OC));
        double *ro = ops_dalloc(no), *rgx = ops_to_double(gx, nx), *rgw = ops_to_double(gw, nw),
               *rgb = ops_to_double(gb, p.OC), *dd = ops_to_double(dout, no);
        linear_ref(ro, NULL, &p);
        linear_bwd_ref(rgx, rgw, rgb, dd, &p);
        float *o = ops_download(&to, no), *ogx = ops_download(&tgx, nx), *ogw = ops_download(&tgw, nw),
              *ogb = ops_download(&tgb, p.OC);
        char what[96];
        snprintf(what, sizeof what, "linear forward N=%d C=%d OC=%d", p.N, p.C, p.OC);
        test_check_close(what, o, ro, no, 1e-6, 1e-5);
        snprintf(what, sizeof what, "linear dinp (accumulating) N=%d C=%d OC=%d", p.N, p.C, p.OC);
        test_check_close(what, ogx, rgx, nx, 1e-6, 1e-5);
        snprintf(what, sizeof what, "linear dw (accumulating) N=%d C=%d OC=%d", p.N, p.C, p.OC);
        test_check_close(what, ogw, rgw, nw, 1e-6, 1e-5);
        snprintf(what, sizeof what, "linear db (accumulating) N=%d C=%d OC=%d", p.N, p.C, p.OC);
        test_check_close(what, ogb, rgb, p.OC, 1e-6, 1e-5);
        /* no bias, frozen weights: only dinp */
        ck_assert_levi_ok(levi_linear_forward(ops_ctx, &to, &tx, &tw, NULL, p.N, p.C, p.OC));
        free(o);
        o = ops_download(&to, no);
        for (int n = 0; n < p.N; n++)
            for (int j = 0; j < p.OC; j++) ro[n * p.OC + j] -= p.b[j];
        snprintf(what, sizeof what, "linear forward without bias N=%d", p.N);
        test_check_close(what, o, ro, no, 1e-6, 1e-5);
        ck_assert_levi_ok(levi_linear_backward(ops_ctx, &tgx, NULL, NULL, &td, &tx, &tw, p.N, p.C, p.OC));
        levi_tensor *ts[] = {&tx, &tw, &tb, &to, &td, &tgx, &tgw, &tgb};
        for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) levi_tensor_free(ts[i]);
        free(x), free(w), free(b), free(dout), free(gx), free(gw), free(gb), free(p.x), free(p.w), free(p.b);
        free(ro), free(rgx), free(rgw), free(rgb), free(dd), free(o), free(ogx), free(ogw), free(ogb);
    }
}
END_TEST

/* --- layernorm ------------------------------------------------------------------------ */

typedef struct ln_args {
    double *x, *w, *b;
    int N, C;
    double eps;
} ln_args;

static void layernorm_ref(double *out, const double *unused, void *user) {
    const ln_args *p = user;
    (void)unused;
    for (int n = 0; n < p->N; n++) {
        const double *x = p->x + (size_t)n * p->C;
        double m = 0, v = 0;
        for (int c = 0; c < p->C; c++) m += x[c];
        m /= p->C;
        for (int c = 0; c < p->C; c++) v += (x[c] - m) * (x[c] - m);
        v /= p->C;
        double rs = 1 / sqrt(v + p->eps);
        for (int c = 0; c < p->C; c++) out[(size_t)n * p->C + c] = (x[c] - m) * rs * p->w[c] + p->b[c];
    }
}

static void layernorm_bwd_ref(double *dx, double *dw, double *db, const double *dout, const ln_args *p) {
    for (int n = 0; n < p->N; n++) {
        const double *x = p->x + (size_t)n * p->C, *dy = dout + (size_t)n * p->C;
        double m = 0, v = 0;
        for (int c = 0; c < p->C; c++) m += x[c];
        m /= p->C;
        for (int c = 0; c < p->C; c++) v += (x[c] - m) * (x[c] - m);
        v /= p->C;
        double rs = 1 / sqrt(v + p->eps), a1 = 0, a2 = 0;
        for (int c = 0; c < p->C; c++) {
            double xh = (x[c] - m) * rs, dn = dy[c] * p->w[c];
            a1 += dn;
            a2 += dn * xh;
            dw[c] += dy[c] * xh;
            db[c] += dy[c];
        }
        a1 /= p->C;
        a2 /= p->C;
        for (int c = 0; c < p->C; c++) {
            double xh = (x[c] - m) * rs;
            dx[(size_t)n * p->C + c] += (dy[c] * p->w[c] - a1 - xh * a2) * rs;
        }
    }
}

START_TEST(layernorm_host_backward_vs_fd) {
    ln_args p = {NULL, NULL, NULL, 3, 7, 1e-5};
    float *f = ops_rand(100, 8, -2, 2);
    p.x = ops_to_double(f, 21), p.w = ops_to_double(f + 30, 7), p.b = ops_to_double(f + 40, 7);
    double *dout = ops_to_double(f + 50, 21);
    double *dx = ops_dalloc(21), *dw = ops_dalloc(7), *db = ops_dalloc(7), *fd = ops_dalloc(21);
    layernorm_bwd_ref(dx, dw, db, dout, &p);
    ops_fd_grad(fd, layernorm_ref, p.x, 21, dout, 21, 1e-5, &p);
    test_check_close_d("layernorm dx host vs FD", dx, fd, 21, 1e-8, 1e-6);
    ops_fd_grad(fd, layernorm_ref, p.w, 7, dout, 21, 1e-5, &p);
    test_check_close_d("layernorm dw host vs FD", dw, fd, 7, 1e-8, 1e-6);
    ops_fd_grad(fd, layernorm_ref, p.b, 7, dout, 21, 1e-5, &p);
    test_check_close_d("layernorm db host vs FD", db, fd, 7, 1e-8, 1e-6);
    free(f), free(p.x), free(p.w), free(p.b), free(dout), free(dx), free(dw), free(db), free(fd);
}
END_TEST

START_TEST(layernorm_device) {
    const int shapes[][2] = {{1, 1}, {7, 33}, {3, 70}, {33, 197}, {197, 7}, {3, 1000}};
    int ns = ops_small() ? 3 : 6;
    for (int s = 0; s < ns; s++) {
        ln_args p = {NULL, NULL, NULL, shapes[s][0], shapes[s][1], 1e-5};
        size_t n = (size_t)p.N * p.C;
        float *x = ops_rand(n, 11, -3, 5), *w = ops_rand(p.C, 12, 0.5f, 1.5f), *b = ops_rand(p.C, 13, -1, 1);
        float *dout = ops_rand(n, 14, -1, 1), *gx = ops_rand(n, 15, -1, 1), *gw = ops_rand(p.C, 16, -1, 1),
              *gb = ops_rand(p.C, 17, -1, 1);
        p.x = ops_to_double(x, n), p.w = ops_to_double(w, p.C), p.b = ops_to_double(b, p.C);
        levi_tensor tx = ops_upload(ops_ctx, x, n), tw = ops_upload(ops_ctx, w, p.C), tb = ops_upload(ops_ctx, b, p.C),
                    to = ops_upload(ops_ctx, NULL, n), tm = ops_upload(ops_ctx, NULL, p.N),
                    tr = ops_upload(ops_ctx, NULL, p.N), td = ops_upload(ops_ctx, dout, n),
                    tgx = ops_upload(ops_ctx, gx, n), tgw = ops_upload(ops_ctx, gw, p.C),
                    tgb = ops_upload(ops_ctx, gb, p.C);
        ck_assert_levi_ok(levi_layernorm_forward(ops_ctx, &to, &tm, &tr, &tx, &tw, &tb, p.N, p.C, (float)p.eps));
        ck_assert_levi_ok(
            levi_layernorm_backward(ops_ctx, &tgx, &tgw, &tgb, &td, &tx, &tw, &tm, &tr, p.N, p.C));
        double *ro = ops_dalloc(n), *rgx = ops_to_double(gx, n), *rgw = ops_to_double(gw, p.C),
               *rgb = ops_to_double(gb, p.C), *dd = ops_to_double(dout, n);
        layernorm_ref(ro, NULL, &p);
        layernorm_bwd_ref(rgx, rgw, rgb, dd, &p);
        float *o = ops_download(&to, n), *ogx = ops_download(&tgx, n), *ogw = ops_download(&tgw, p.C),
              *ogb = ops_download(&tgb, p.C);
        char what[96];
        snprintf(what, sizeof what, "layernorm forward N=%d C=%d", p.N, p.C);
        test_check_close(what, o, ro, n, 1e-5, 1e-5);
        snprintf(what, sizeof what, "layernorm dinp (accumulating) N=%d C=%d", p.N, p.C);
        /* C = 1 makes rstd = 1/sqrt(eps) ~ 316, which amplifies fp32 rounding */
        test_check_close(what, ogx, rgx, n, p.C == 1 ? 1e-3 : 1e-5, 1e-4);
        snprintf(what, sizeof what, "layernorm dw (accumulating) N=%d C=%d", p.N, p.C);
        test_check_close(what, ogw, rgw, p.C, 1e-5, 1e-4);
        snprintf(what, sizeof what, "layernorm db (accumulating) N=%d C=%d", p.N, p.C);
        test_check_close(what, ogb, rgb, p.C, 1e-5, 1e-4);
        /* frozen weights: dw, db NULL leaves them untouched */
        ck_assert_levi_ok(levi_layernorm_backward(ops_ctx, NULL, NULL, &tgb, &td, &tx, &tw, &tm, &tr, p.N, p.C));
        free(ogb);
        ogb = ops_download(&tgb, p.C);
        for (int c = 0; c < p.C; c++) rgb[c] += 0; /* recomputed below */
        for (int r = 0; r < p.N; r++)
            for (int c = 0; c < p.C; c++) rgb[c] += dd[(size_t)r * p.C + c];
        snprintf(what, sizeof what, "layernorm db only N=%d C=%d", p.N, p.C);
        test_check_close(what, ogb, rgb, p.C, 1e-5, 1e-4);
        levi_tensor *ts[] = {&tx, &tw, &tb, &to, &tm, &tr, &td, &tgx, &tgw, &tgb};
        for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) levi_tensor_free(ts[i]);
        free(x), free(w), free(b), free(dout), free(gx), free(gw), free(gb), free(p.x), free(p.w), free(p.b);
        free(ro), free(rgx), free(rgw), free(rgb), free(dd), free(o), free(ogx), free(ogw), free(ogb);
    }
}
END_TEST

/* --- softmax ---------------------------------------------------------------------------- */

typedef struct sm_args {
    double *x;
    int rows, cols;
} sm_args;

static void softmax_ref(double *out, const double *unused, void *user) {
    const sm_args *p = user;
    (void)unused;
    for (int r = 0; r < p->rows; r++) {
        const double *x = p->x + (size_t)r * p->cols;
        double mx = -INFINITY, s = 0;
        for (int j = 0; j < p->cols; j++) mx = fmax(mx, x[j]);
        for (int j = 0; j < p->cols; j++) s += exp(x[j] - mx);
        for (int j = 0; j < p->cols; j++) out[(size_t)r * p->cols + j] = exp(x[j] - mx) / s;
    }
}

static void softmax_bwd_ref(double *dx, const double *y, const double *dy, int rows, int cols) {
    for (int r = 0; r < rows; r++) {
        double dot = 0;
        for (int j = 0; j < cols; j++) dot += dy[(size_t)r * cols + j] * y[(size_t)r * cols + j];
        for (int j = 0; j < cols; j++) {
            size_t i = (size_t)r * cols + j;
            dx[i] += y[i] * (dy[i] - dot);
        }
    }
}

START_TEST(softmax_host_backward_vs_fd) {
    sm_args p = {NULL, 3, 7};
    float *f = ops_rand(42, 21, -3, 3);
    p.x = ops_to_double(f, 21);
    double *dout = ops_to_double(f + 21, 21), *y = ops_dalloc(21), *dx = ops_dalloc(21), *fd = ops_dalloc(21);
    softmax_ref(y, NULL, &p);
    softmax_bwd_ref(dx, y, dout, 3, 7);
    ops_fd_grad(fd, softmax_ref, p.x, 21, dout, 21, 1e-5, &p);
    test_check_close_d("softmax dx host vs FD", dx, fd, 21, 1e-9, 1e-6);
    free(f), free(p.x), free(dout), free(y), free(dx), free(fd);
}
END_TEST

START_TEST(softmax_device) {
    const int shapes[][2] = {{1, 1}, {7, 33}, {3, 70}, {33, 197}, {197, 7}, {3, 1000}};
    int ns = ops_small() ? 3 : 6;
    for (int s = 0; s < ns; s++) {
        sm_args p = {NULL, shapes[s][0], shapes[s][1]};
        size_t n = (size_t)p.rows * p.cols;
        /* large offsets: the kernel must subtract the row maximum */
        float *x = ops_rand(n, 31, 80, 100), *dout = ops_rand(n, 32, -1, 1), *g0 = ops_rand(n, 33, -1, 1);
        p.x = ops_to_double(x, n);
        levi_tensor tx = ops_upload(ops_ctx, x, n), ty = ops_upload(ops_ctx, NULL, n), td = ops_upload(ops_ctx, dout, n),
                    tg = ops_upload(ops_ctx, g0, n);
        ck_assert_levi_ok(levi_softmax_forward(ops_ctx, &ty, &tx, p.rows, p.cols));
        double *ry = ops_dalloc(n), *rg = ops_to_double(g0, n), *dd = ops_to_double(dout, n);
        softmax_ref(ry, NULL, &p);
        float *y = ops_download(&ty, n);
        /* the backward uses the device's forward output, as a model would */
        double *yd = ops_to_double(y, n);
        softmax_bwd_ref(rg, yd, dd, p.rows, p.cols);
        ck_assert_levi_ok(levi_softmax_backward(ops_ctx, &tg, &ty, &td, p.rows, p.cols));
        float *g = ops_download(&tg, n);
        char what[96];
        snprintf(what, sizeof what, "softmax forward %dx%d", p.rows, p.cols);
        test_check_close(what, y, ry, n, 1e-7, 1e-5);
        snprintf(what, sizeof what, "softmax backward (accumulating) %dx%d", p.rows, p.cols);
        test_check_close(what, g, rg, n, 1e-6, 1e-5);
        /* in place */
        ck_assert_levi_ok(levi_softmax_forward(ops_ctx, &tx, &tx, p.rows, p.cols));
        float *y2 = ops_download(&tx, n);
        snprintf(what, sizeof what, "softmax in place %dx%d", p.rows, p.cols);
        test_check_close(what, y2, ry, n, 1e-7, 1e-5);
        levi_tensor_free(&tx), levi_tensor_free(&ty), levi_tensor_free(&td), levi_tensor_free(&tg);
        free(x), free(dout), free(g0), free(p.x), free(ry), free(rg), free(dd), free(y), free(yd), free(g), free(y2);
    }
}
END_TEST

/* --- cross-entropy -------------------------------------------------------------------------- */

typedef struct ce_args {
    double *x;
    const float *labels;
    int B, K;
} ce_args;

/* out (1) = mean over rows of -log softmax(x)[label] */
static void ce_ref(double *out, const double *unused, void *user) {
    const ce_args *p = user;
    (void)unused;
    double total = 0;
    for (int r = 0; r < p->B; r++) {
        const double *x = p->x + (size_t)r * p->K;
        double mx = -INFINITY, s = 0;
        for (int j = 0; j < p->K; j++) mx = fmax(mx, x[j]);
        for (int j = 0; j < p->K; j++) s += exp(x[j] - mx);
        total += log(s) + mx - x[(int)p->labels[r]];
    }
    out[0] = total / p->B;
}

START_TEST(crossentropy_device) {
    const int shapes[][2] = {{1, 1}, {7, 10}, {3, 70}, {33, 7}, {5, 1000}, {197, 33}};
    int ns = ops_small() ? 3 : 6;
    for (int s = 0; s < ns; s++) {
        int B = shapes[s][0], K = shapes[s][1];
        size_t n = (size_t)B * K;
        float *x = ops_rand(n, 41, -4, 4), *g0 = ops_rand(n, 42, -1, 1), *lab = malloc(B * sizeof(float));
        for (int r = 0; r < B; r++) lab[r] = (float)((r * 7 + 3) % K);
        /* rows 0 and 1 (when K > 2): a tie for the maximum, first one wins */
        if (K > 2) {
            x[0] = x[2] = 9.0f, lab[0] = 2.0f; /* argmax 0 != label 2: wrong */
            if (B > 1) x[K + 1] = x[K + 2] = 9.0f, lab[1] = 1.0f; /* argmax 1 == label: right */
        }
        ce_args p = {ops_to_double(x, n), lab, B, K};
        levi_tensor tx = ops_upload(ops_ctx, x, n), tl = ops_upload(ops_ctx, lab, B), tp = ops_upload(ops_ctx, NULL, n),
                    tloss = ops_upload(ops_ctx, NULL, B), tc = ops_upload(ops_ctx, NULL, B),
                    tg = ops_upload(ops_ctx, g0, n);
        float loss = -1;
        int correct = -1;
        ck_assert_levi_ok(levi_crossentropy_forward(ops_ctx, &tp, &tloss, &tc, &tx, &tl, B, K, &loss, &correct));
        ck_assert_levi_ok(levi_crossentropy_backward(ops_ctx, &tg, &tp, &tl, B, K, 1.0f / B));
        double ref_loss;
        ce_ref(&ref_loss, NULL, &p);
        int ref_correct = 0;
        for (int r = 0; r < B; r++) {
            int am = 0;
            for (int j = 1; j < K; j++)
                if (x[r * K + j] > x[r * K + am]) am = j;
            ref_correct += am == (int)lab[r];
        }
        ck_assert_msg(fabs(loss - ref_loss) <= 1e-5 * fmax(1, fabs(ref_loss)), "CE loss B=%d K=%d: %.8g vs %.8g", B,
                      K, loss, ref_loss);
        ck_assert_msg(correct == ref_correct, "CE correct B=%d K=%d: %d vs %d", B, K, correct, ref_correct);
        /* gradient of the mean loss: host FD in double, device accumulating onto g0 */
        double one = 1, *fd = ops_dalloc(n), *rg = ops_to_double(g0, n);
        ops_fd_grad(fd, ce_ref, p.x, n, &one, 1, 1e-5, &p);
        for (size_t i = 0; i < n; i++) rg[i] += fd[i];
        float *g = ops_download(&tg, n);
        char what[96];
        snprintf(what, sizeof what, "crossentropy backward vs FD (accumulating) B=%d K=%d", B, K);
        test_check_close(what, g, rg, n, 1e-6, 1e-4);
        levi_tensor *ts[] = {&tx, &tl, &tp, &tloss, &tc, &tg};
        for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) levi_tensor_free(ts[i]);
        free(x), free(g0), free(lab), free(p.x), free(fd), free(rg), free(g);
    }
}
END_TEST

START_TEST(crossentropy_bad_label) {
    float x[6] = {1, 2, 3, 4, 5, 6}, lab[2] = {0, 3};
    levi_tensor tx = ops_upload(ops_ctx, x, 6), tl = ops_upload(ops_ctx, lab, 2), tp = ops_upload(ops_ctx, NULL, 6),
                tloss = ops_upload(ops_ctx, NULL, 2), tc = ops_upload(ops_ctx, NULL, 2);
    float loss;
    int correct;
    ck_assert_int_eq(levi_crossentropy_forward(ops_ctx, &tp, &tloss, &tc, &tx, &tl, 2, 3, &loss, &correct),
                     LEVI_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "label 3 of row 1"));
    /* without host values the device writes NaN for that row, no crash */
    ck_assert_levi_ok(levi_crossentropy_forward(ops_ctx, &tp, &tloss, &tc, &tx, &tl, 2, 3, NULL, NULL));
    float *l = ops_download(&tloss, 2);
    ck_assert(isfinite(l[0]) && isnan(l[1]));
    free(l);
    levi_tensor *ts[] = {&tx, &tl, &tp, &tloss, &tc};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) levi_tensor_free(ts[i]);
}
END_TEST

/* --- AdamW and gradient clipping ------------------------------------------------------------- */

START_TEST(adamw_three_steps) {
    size_t ns[] = {1, 7, 1000};
    for (int s = 0; s < (ops_small() ? 2 : 3); s++) {
        size_t n = ns[s];
        float *p = ops_rand(n, 51, -1, 1), *g = ops_rand(n, 52, -1, 1);
        levi_tensor tp = ops_upload(ops_ctx, p, n), tg = ops_upload(ops_ctx, g, n), tm = ops_upload(ops_ctx, NULL, n),
                    tv = ops_upload(ops_ctx, NULL, n);
        double *rp = ops_to_double(p, n), *rm = ops_dalloc(n), *rv = ops_dalloc(n);
        levi_adamw_cfg cfg = {1e-2f, 0.9f, 0.999f, 1e-8f, 0.05f};
        for (int t = 1; t <= 3; t++) {
            ck_assert_levi_ok(levi_adamw_update(ops_ctx, &tp, &tg, &tm, &tv, n, &cfg, t));
            double b1 = cfg.beta1, b2 = cfg.beta2;
            for (size_t i = 0; i < n; i++) {
                double gi = g[i] * (double)t; /* a different gradient each step */
                rm[i] = b1 * rm[i] + (1 - b1) * gi;
                rv[i] = b2 * rv[i] + (1 - b2) * gi * gi;
                double mh = rm[i] / (1 - pow(b1, t)), vh = rv[i] / (1 - pow(b2, t));
                rp[i] -= cfg.lr * (mh / (sqrt(vh) + cfg.eps) + cfg.weight_decay * rp[i]);
            }
            if (t < 3) ck_assert_levi_ok(levi_scale_forward(ops_ctx, &tg, &tg, (float)(t + 1) / t, n));
        }
        float *op = ops_download(&tp, n), *om = ops_download(&tm, n), *ov = ops_download(&tv, n);
        char what[64];
        snprintf(what, sizeof what, "adamw params n=%zu", n);
        test_check_close(what, op, rp, n, 1e-6, 1e-5);
        snprintf(what, sizeof what, "adamw m n=%zu", n);
        test_check_close(what, om, rm, n, 1e-7, 1e-5);
        snprintf(what, sizeof what, "adamw v n=%zu", n);
        test_check_close(what, ov, rv, n, 1e-9, 1e-5);
        levi_tensor_free(&tp), levi_tensor_free(&tg), levi_tensor_free(&tm), levi_tensor_free(&tv);
        free(p), free(g), free(rp), free(rm), free(rv), free(op), free(om), free(ov);
    }
    levi_adamw_cfg bad = {1e-3f, 1.5f, 0.999f, 1e-8f, 0};
    levi_tensor t = ops_upload(ops_ctx, NULL, 4);
    ck_assert_int_eq(levi_adamw_update(ops_ctx, &t, &t, &t, &t, 4, &bad, 1), LEVI_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "beta1=1.5"));
    levi_tensor_free(&t);
}
END_TEST

START_TEST(grad_clip_norm) {
    size_t ns[] = {1, 7, 33, 197, 1000, 100003};
    for (int s = 0; s < (ops_small() ? 3 : 6); s++) {
        size_t n = ns[s];
        float *g = ops_rand(n, 61, -1, 1);
        levi_tensor tg = ops_upload(ops_ctx, g, n);
        double ref = 0;
        for (size_t i = 0; i < n; i++) ref += (double)g[i] * g[i];
        ref = sqrt(ref);
        float norm = -1;
        ck_assert_levi_ok(levi_grad_clip(ops_ctx, &tg, n, 0.0f, &norm)); /* measure only */
        ck_assert_msg(fabs(norm - ref) <= 1e-5 * ref, "grad norm n=%zu: %.8g vs %.8g", n, norm, ref);
        float max_norm = (float)(ref / 2);
        ck_assert_levi_ok(levi_grad_clip(ops_ctx, &tg, n, max_norm, &norm));
        float *o = ops_download(&tg, n);
        double *rg = ops_dalloc(n);
        for (size_t i = 0; i < n; i++) rg[i] = g[i] * (max_norm / ref);
        char what[64];
        snprintf(what, sizeof what, "grad_clip scaled grads n=%zu", n);
        test_check_close(what, o, rg, n, 1e-7, 1e-5);
        ck_assert_levi_ok(levi_grad_clip(ops_ctx, &tg, n, 10 * max_norm, &norm)); /* below: untouched */
        ck_assert_msg(fabs(norm - max_norm) <= 1e-5 * max_norm, "clipped norm %.8g vs %.8g", norm, max_norm);
        levi_tensor_free(&tg);
        free(g), free(o), free(rg);
    }
}
END_TEST

/* --- views at odd offsets ---------------------------------------------------------------------- */

/* the same ops on views at odd offsets into one shared buffer (as arenas
 * carve them) give the results of standalone tensors: every kernel honours
 * its offsets and writes nothing outside its view */
START_TEST(offset_views) {
    const int N = 7, C = 33, OC = 5;
    size_t nc = (size_t)N * C, no = (size_t)N * OC, nw = (size_t)OC * C;
    float *x = ops_rand(nc, 101, -2, 2), *w = ops_rand(nw, 102, -1, 1), *b = ops_rand(OC, 103, -1, 1),
          *lw = ops_rand(C, 104, 0.5f, 1.5f), *dout = ops_rand(no, 105, -1, 1);
    /* standalone */
    levi_tensor sx = ops_upload(ops_ctx, x, nc), sw = ops_upload(ops_ctx, w, nw), sb = ops_upload(ops_ctx, b, OC),
                slw = ops_upload(ops_ctx, lw, C), sln = ops_upload(ops_ctx, NULL, nc), sm = ops_upload(ops_ctx, NULL, N),
                sr = ops_upload(ops_ctx, NULL, N), so = ops_upload(ops_ctx, NULL, no), sp = ops_upload(ops_ctx, NULL, no),
                sd = ops_upload(ops_ctx, dout, no), sdx = ops_upload(ops_ctx, NULL, nc), sdw = ops_upload(ops_ctx, NULL, nw),
                sdb = ops_upload(ops_ctx, NULL, OC), sdl = ops_upload(ops_ctx, NULL, nc);
    /* one buffer with a sentinel gap of 3 floats around every view */
    const size_t sizes[] = {nc, nw, OC, C, nc, N, N, no, no, no, nc, nw, OC, nc};
    enum { NV = sizeof sizes / sizeof sizes[0] };
    size_t off[NV], total = 3;
    for (int i = 0; i < NV; i++) off[i] = total, total += sizes[i] + 3;
    float *init = malloc(total * sizeof(float));
    for (size_t i = 0; i < total; i++) init[i] = 12345.0f;
    memcpy(init + off[0], x, nc * sizeof(float));
    memcpy(init + off[1], w, nw * sizeof(float));
    memcpy(init + off[2], b, OC * sizeof(float));
    memcpy(init + off[3], lw, C * sizeof(float));
    memcpy(init + off[9], dout, no * sizeof(float));
    for (int i = 10; i < 14; i++) memset(init + off[i], 0, sizes[i] * sizeof(float));
    levi_tensor all = ops_upload(ops_ctx, init, total), v[NV];
    for (int i = 0; i < NV; i++) v[i] = levi_tensor_view(ops_ctx, all.buf, off[i], 1, (int[]){(int)sizes[i]});
    /* roles: x w b lw ln mean rstd out probs dout dx dw db dln */
    levi_tensor ref_t[NV] = {sx, sw, sb, slw, sln, sm, sr, so, sp, sd, sdx, sdw, sdb, sdl};
    for (int pass = 0; pass < 2; pass++) {
        levi_tensor *t = pass ? v : ref_t;
        ck_assert_levi_ok(levi_layernorm_forward(ops_ctx, &t[4], &t[5], &t[6], &t[0], &t[3], &t[3], N, C, 1e-5f));
        ck_assert_levi_ok(levi_linear_forward(ops_ctx, &t[7], &t[4], &t[1], &t[2], N, C, OC));
        ck_assert_levi_ok(levi_softmax_forward(ops_ctx, &t[8], &t[7], N, OC));
        ck_assert_levi_ok(levi_softmax_backward(ops_ctx, &t[9], &t[8], &t[9], N, OC)); /* dout += ... in place */
        ck_assert_levi_ok(levi_linear_backward(ops_ctx, &t[13], &t[11], &t[12], &t[9], &t[4], &t[1], N, C, OC));
        ck_assert_levi_ok(levi_layernorm_backward(ops_ctx, &t[10], NULL, NULL, &t[13], &t[0], &t[3], &t[5], &t[6], N, C));
        ck_assert_levi_ok(levi_gelu_forward(ops_ctx, &t[13], &t[10], nc));
    }
    float *got = ops_download(&all, total);
    for (int i = 0; i < NV; i++) {
        float *ref = ops_download(&ref_t[i], sizes[i]);
        double *rd = ops_to_double(ref, sizes[i]);
        char what[64];
        snprintf(what, sizeof what, "offset view %d (%zu floats at %zu)", i, sizes[i], off[i]);
        test_check_close(what, got + off[i], rd, sizes[i], 1e-6, 1e-5);
        ck_assert_msg(got[off[i] - 1] == 12345.0f && got[off[i] + sizes[i]] == 12345.0f,
                      "a kernel wrote outside view %d", i);
        free(ref), free(rd);
    }
    levi_tensor_free(&all);
    for (int i = 0; i < NV; i++) levi_tensor_free(&ref_t[i]);
    free(x), free(w), free(b), free(lw), free(dout), free(init), free(got);
}
END_TEST

int main(void) {
    Suite *s = suite_create("ops_nn");
    TCase *host = tcase_create("host");
    tcase_add_test(host, linear_host_backward_vs_fd);
    tcase_add_test(host, layernorm_host_backward_vs_fd);
    tcase_add_test(host, softmax_host_backward_vs_fd);
    suite_add_tcase(s, host);
    int device = test_have_device();
    if (device) {
        TCase *tc = tcase_create("device");
        tcase_add_unchecked_fixture(tc, ops_setup, ops_teardown);
        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, linear_device);
        tcase_add_test(tc, layernorm_device);
        tcase_add_test(tc, softmax_device);
        tcase_add_test(tc, crossentropy_device);
        tcase_add_test(tc, crossentropy_bad_label);
        tcase_add_test(tc, adamw_three_steps);
        tcase_add_test(tc, grad_clip_norm);
        tcase_add_test(tc, offset_views);
        suite_add_tcase(s, tc);
    }
    return test_finish(s, device);
}
