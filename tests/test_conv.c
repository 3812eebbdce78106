/* Convolution and pooling: forward against host references with double
 * accumulation, backward against host analytic gradients (themselves checked
 * against central finite differences in double), accumulation into non-zero
 * gradients, tensors at non-zero offsets, outputs and scratch pre-filled with
 * NaN (so a read before write shows), and bad shapes. The CNN block against
 * PyTorch is in test_conv_block.c (same program).
 * LEVI_TEST_SMALL=1 (set under oclgrind) shrinks every size. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static int small(void) {
    const char *s = getenv("LEVI_TEST_SMALL");
    return s && *s && strcmp(s, "0") != 0;
}

/* A device tensor placed at a non-zero offset inside its buffer, so that
 * every kernel's offset argument is exercised. */
typedef struct {
    levi_tensor base, t;
} dev_t_;

static void dev_alloc(dev_t_ *d, levi_ctx *ctx, size_t n, const float *init) {
    const size_t pad = 5;
    ck_assert_levi_ok(levi_tensor_alloc1(&d->base, ctx, (int)(n + pad)));
    int shape[1] = {(int)n};
    d->t = levi_tensor_view(ctx, d->base.buf, pad, 1, shape);
    if (init) ck_assert_levi_ok(levi_tensor_write(&d->t, init));
}

static float *dev_read(dev_t_ *d) {
    float *h = malloc(d->t.numel * sizeof *h);
    ck_assert_ptr_nonnull(h);
    ck_assert_levi_ok(levi_tensor_read(&d->t, h));
    return h;
}

static void dev_free(dev_t_ *d) { levi_tensor_free(&d->base); }

static float *rnd(size_t n, unsigned seed, float lo, float hi) {
    float *x = malloc((n ? n : 1) * sizeof *x);
    ck_assert_ptr_nonnull(x);
    test_fill_uniform(x, n, seed, lo, hi);
    return x;
}

/* Fails unless max|got - ref| <= tol * max(max|ref|, 1). */
static void expect_close(const char *what, const float *got, const double *ref, size_t n, double tol) {
    test_check_rel(what, got, ref, n, tol, 1.0);
}

/* --- host reference: convolution ----------------------------------------------- */

static size_t in_n(const levi_conv_shape *s) { return (size_t)s->B * s->C * s->H * s->W; }
static size_t out_n(const levi_conv_shape *s) { return (size_t)s->B * s->OC * s->OH * s->OW; }
static size_t w_n(const levi_conv_shape *s) { return (size_t)s->OC * s->C * s->KH * s->KW; }

// out (B,OC,OH,OW) = conv(inp (B,C,H,W), w (OC,C,KH,KW)) + b (OC); double in, double out
static void host_conv(double *out, const double *inp, const double *w, const double *b, const levi_conv_shape *s) {
    for (int n = 0; n < s->B; n++)
        for (int o = 0; o < s->OC; o++)
            for (int y = 0; y < s->OH; y++)
                for (int x = 0; x < s->OW; x++) {
                    double acc = b ? b[o] : 0;
                    for (int c = 0; c < s->C; c++)
                        for (int kh = 0; kh < s->KH; kh++)
                            for (int kw = 0; kw < s->KW; kw++) {
                                int ih = y * s->stride - s->pad + kh, iw = x * s->stride - s->pad + kw;
                                if (ih < 0 || ih >= s->H || iw < 0 || iw >= s->W) continue;
                                acc += inp[(((size_t)n * s->C + c) * s->H + ih) * s->W + iw] *
                                       w[(((size_t)o * s->C + c) * s->KH + kh) * s->KW + kw];
                            }
                    out[(((size_t)n * s->OC + o) * s->OH + y) * s->OW + x] = acc;
                }
}

// dinp, dw, db += analytic gradients given dout (B,OC,OH,OW)
static void host_conv_backward(double *dinp, double *dw, double *db, const double *dout, const double *inp,
                               const double *w, const levi_conv_shape *s) {
    for (int n = 0; n < s->B; n++)
        for (int o = 0; o < s->OC; o++)
            for (int y = 0; y < s->OH; y++)
                for (int x = 0; x < s->OW; x++) {
                    double g = dout[(((size_t)n * s->OC + o) * s->OH + y) * s->OW + x];
                    db[o] += g;
                    for (int c = 0; c < s->C; c++)
                        for (int kh = 0; kh < s->KH; kh++)
                            for (int kw = 0; kw < s->KW; kw++) {
                                int ih = y * s->stride - s->pad + kh, iw = x * s->stride - s->pad + kw;
                                if (ih < 0 || ih >= s->H || iw < 0 || iw >= s->W) continue;
                                size_t ii = (((size_t)n * s->C + c) * s->H + ih) * s->W + iw;
                                size_t wi = (((size_t)o * s->C + c) * s->KH + kh) * s->KW + kw;
                                dinp[ii] += g * w[wi];
                                dw[wi] += g * inp[ii];
                            }
                }
}

static double *to_d(const float *x, size_t n) {
    double *d = malloc((n ? n : 1) * sizeof *d);
    ck_assert_ptr_nonnull(d);
    for (size_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}

static double dot(const double *a, const double *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* Central differences of L = Σ dout ⊙ conv(inp, w, b) in double at a few
 * coordinates of each input; the host analytic gradient must agree. */
static void check_host_backward_fd(const levi_conv_shape *s, double *inp, double *w, double *b, const double *dout,
                                   const double *dinp, const double *dw, const double *db) {
    double *out = malloc(out_n(s) * sizeof *out);
    struct {
        double *x;
        const double *g;
        size_t n;
        const char *name;
    } v[3] = {{inp, dinp, in_n(s), "dinp"}, {w, dw, w_n(s), "dw"}, {b, db, (size_t)s->OC, "db"}};
    const double eps = 1e-3;
    for (int k = 0; k < 3; k++)
        for (int t = 0; t < 5; t++) {
            size_t i = (size_t)(t * 7919) % v[k].n;
            double keep = v[k].x[i];
            v[k].x[i] = keep + eps;
            host_conv(out, inp, w, b, s);
            double lp = dot(out, dout, out_n(s));
            v[k].x[i] = keep - eps;
            host_conv(out, inp, w, b, s);
            double lm = dot(out, dout, out_n(s));
            v[k].x[i] = keep;
            double fd = (lp - lm) / (2 * eps);
            char what[96];
            snprintf(what, sizeof what, "host %s[%zu]: analytic vs finite difference", v[k].name, i);
            test_check_value(what, v[k].g[i], fd, 1e-6, 1e-6);
        }
    free(out);
}

/* One convolution case: forward (with and without bias) and backward with
 * accumulation into random non-zero gradients, all against the host. */
static void conv_case(levi_ctx *ctx, levi_conv_shape s, unsigned seed) {
    ck_assert_levi_ok(levi_conv_shape_init(&s));
    char tag[160];
    snprintf(tag, sizeof tag, "conv B=%d C=%d %dx%d OC=%d k=%dx%d st=%d pad=%d", s.B, s.C, s.H, s.W, s.OC, s.KH,
             s.KW, s.stride, s.pad);
    size_t ni = in_n(&s), no = out_n(&s), nw = w_n(&s), nb = (size_t)s.OC;
    float *x = rnd(ni, seed, -1, 1), *w = rnd(nw, seed + 1, -0.5f, 0.5f), *b = rnd(nb, seed + 2, -1, 1);
    float *dout = rnd(no, seed + 3, -1, 1), *dx0 = rnd(ni, seed + 4, -1, 1), *dw0 = rnd(nw, seed + 5, -1, 1),
          *db0 = rnd(nb, seed + 6, -1, 1);
    dev_t_ X, Wt, Bt, O, S, DO, DX, DW, DB;
    dev_alloc(&X, ctx, ni, x);
    dev_alloc(&Wt, ctx, nw, w);
    dev_alloc(&Bt, ctx, nb, b);
    dev_alloc(&O, ctx, no, NULL);
    dev_alloc(&S, ctx, levi_conv2d_scratch_numel(&s), NULL);
    dev_alloc(&DO, ctx, no, dout);
    dev_alloc(&DX, ctx, ni, dx0);
    dev_alloc(&DW, ctx, nw, dw0);
    dev_alloc(&DB, ctx, nb, db0);
    /* NaN in the output and scratch: an element read before it is written
     * poisons the result, so the comparisons catch uninitialized reads */
    ck_assert_levi_ok(levi_tensor_fill(&O.t, NAN));
    ck_assert_levi_ok(levi_tensor_fill(&S.t, NAN));

    double *xd = to_d(x, ni), *wd = to_d(w, nw), *bd = to_d(b, nb), *dod = to_d(dout, no);
    double *ref = malloc(no * sizeof *ref);
    char what[200];

    host_conv(ref, xd, wd, bd, &s);
    ck_assert_levi_ok(levi_conv2d_forward(ctx, &O.t, &X.t, &Wt.t, &Bt.t, &S.t, &s));
    float *got = dev_read(&O);
    snprintf(what, sizeof what, "%s forward", tag);
    expect_close(what, got, ref, no, 1e-5);
    free(got);
    ck_assert_levi_ok(levi_tensor_zero(&O.t));
    ck_assert_levi_ok(levi_conv2d_forward_direct(ctx, &O.t, &X.t, &Wt.t, &Bt.t, &s));
    got = dev_read(&O);
    snprintf(what, sizeof what, "%s forward (direct kernel)", tag);
    expect_close(what, got, ref, no, 1e-5);
    free(got);

    host_conv(ref, xd, wd, NULL, &s);
    ck_assert_levi_ok(levi_conv2d_forward(ctx, &O.t, &X.t, &Wt.t, NULL, &S.t, &s));
    got = dev_read(&O);
    snprintf(what, sizeof what, "%s forward without bias", tag);
    expect_close(what, got, ref, no, 1e-5);
    free(got);

    double *gx = to_d(dx0, ni), *gw = to_d(dw0, nw), *gb = to_d(db0, nb);
    double *zx = calloc(ni, sizeof *zx), *zw = calloc(nw, sizeof *zw), *zb = calloc(nb, sizeof *zb);
    host_conv_backward(zx, zw, zb, dod, xd, wd, &s);
    check_host_backward_fd(&s, xd, wd, bd, dod, zx, zw, zb);
    for (size_t i = 0; i < ni; i++) gx[i] += zx[i];
    for (size_t i = 0; i < nw; i++) gw[i] += zw[i];
    for (size_t i = 0; i < nb; i++) gb[i] += zb[i];
    ck_assert_levi_ok(levi_conv2d_backward(ctx, &DX.t, &DW.t, &DB.t, &DO.t, &X.t, &Wt.t, &S.t, &s));
    const struct {
        dev_t_ *d;
        const double *r;
        size_t n;
        const char *name;
    } g[3] = {{&DX, gx, ni, "dinp"}, {&DW, gw, nw, "dw"}, {&DB, gb, nb, "db"}};
    for (int i = 0; i < 3; i++) {
        got = dev_read(g[i].d);
        snprintf(what, sizeof what, "%s backward %s (accumulated)", tag, g[i].name);
        expect_close(what, got, g[i].r, g[i].n, 1e-5);
        free(got);
    }
    /* NULL outputs are skipped: only dw accumulates a second time */
    for (size_t i = 0; i < nw; i++) gw[i] += zw[i];
    ck_assert_levi_ok(levi_conv2d_backward(ctx, NULL, &DW.t, NULL, &DO.t, &X.t, &Wt.t, &S.t, &s));
    for (int i = 0; i < 3; i++) {
        got = dev_read(g[i].d);
        snprintf(what, sizeof what, "%s backward %s (dw only)", tag, g[i].name);
        expect_close(what, got, g[i].r, g[i].n, 1e-5);
        free(got);
    }

    dev_t_ *all[] = {&X, &Wt, &Bt, &O, &S, &DO, &DX, &DW, &DB};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) dev_free(all[i]);
    float *fs[] = {x, w, b, dout, dx0, dw0, db0};
    for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++) free(fs[i]);
    double *ds[] = {xd, wd, bd, dod, ref, gx, gw, gb, zx, zw, zb};
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) free(ds[i]);
}

static levi_conv_shape shape(int B, int C, int H, int W, int OC, int KH, int KW, int st, int pad) {
    levi_conv_shape s = {B, C, H, W, OC, KH, KW, st, pad, 0, 0};
    return s;
}

START_TEST(conv_forward_backward) {
    levi_ctx *ctx = test_ctx();
    if (small()) {
        conv_case(ctx, shape(2, 1, 5, 6, 3, 3, 3, 1, 1), 10);
        conv_case(ctx, shape(1, 3, 7, 5, 2, 3, 2, 2, 2), 20);
        conv_case(ctx, shape(1, 2, 4, 3, 1, 1, 1, 1, 0), 30);
    } else {
        conv_case(ctx, shape(2, 1, 7, 9, 7, 3, 3, 1, 1), 10);   /* 1 → 7 channels, pad 1 */
        conv_case(ctx, shape(3, 7, 9, 8, 33, 3, 2, 2, 2), 20);  /* 7 → 33, stride 2, pad 2, 3×2 kernel */
        conv_case(ctx, shape(2, 33, 5, 6, 1, 2, 2, 1, 0), 30);  /* 33 → 1, pad 0 */
        conv_case(ctx, shape(1, 3, 11, 11, 5, 5, 5, 3, 2), 40); /* 5×5, stride 3 */
        conv_case(ctx, shape(4, 16, 14, 14, 32, 3, 3, 1, 1), 50); /* the CNN's second layer, small batch */
    }
    levi_ctx_destroy(ctx);
}
END_TEST

/* the device backward of a few inputs also agrees with float central
 * differences of Σ dout ⊙ forward computed on the device itself */
START_TEST(conv_backward_device_fd) {
    levi_ctx *ctx = test_ctx();
    levi_conv_shape s = shape(2, 3, 6, 5, 4, 3, 3, 2, 1);
    ck_assert_levi_ok(levi_conv_shape_init(&s));
    size_t ni = in_n(&s), no = out_n(&s), nw = w_n(&s);
    float *x = rnd(ni, 7, -1, 1), *w = rnd(nw, 8, -1, 1), *dout = rnd(no, 9, -1, 1), *out = malloc(no * 4);
    dev_t_ X, Wt, O, S, DO, DX, DW;
    dev_alloc(&X, ctx, ni, x);
    dev_alloc(&Wt, ctx, nw, w);
    dev_alloc(&O, ctx, no, NULL);
    dev_alloc(&S, ctx, levi_conv2d_scratch_numel(&s), NULL);
    dev_alloc(&DO, ctx, no, dout);
    dev_alloc(&DX, ctx, ni, NULL);
    dev_alloc(&DW, ctx, nw, NULL);
    ck_assert_levi_ok(levi_conv2d_backward(ctx, &DX.t, &DW.t, NULL, &DO.t, &X.t, &Wt.t, &S.t, &s));
    float *gx = dev_read(&DX), *gw = dev_read(&DW);
    const float eps = 0.05f;
    for (int which = 0; which < 2; which++) {
        float *v = which ? w : x, *g = which ? gw : gx;
        dev_t_ *dv = which ? &Wt : &X;
        size_t n = which ? nw : ni;
        for (int t = 0; t < (small() ? 2 : 4); t++) {
            size_t i = (size_t)(t * 37 + 3) % n;
            double l[2];
            for (int sgn = 0; sgn < 2; sgn++) {
                float keep = v[i];
                v[i] = keep + (sgn ? -eps : eps);
                ck_assert_levi_ok(levi_tensor_write(&dv->t, v));
                v[i] = keep;
                ck_assert_levi_ok(levi_conv2d_forward(ctx, &O.t, &X.t, &Wt.t, NULL, &S.t, &s));
                ck_assert_levi_ok(levi_tensor_read(&O.t, out));
                l[sgn] = 0;
                for (size_t j = 0; j < no; j++) l[sgn] += (double)out[j] * dout[j];
            }
            ck_assert_levi_ok(levi_tensor_write(&dv->t, v));
            double fd = (l[0] - l[1]) / (2 * eps);
            char what[96];
            snprintf(what, sizeof what, "%s[%zu]: device vs central difference", which ? "dw" : "dinp", i);
            test_check_value(what, g[i], fd, 2e-3, 2e-3);
        }
    }
    dev_t_ *all[] = {&X, &Wt, &O, &S, &DO, &DX, &DW};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) dev_free(all[i]);
    free(x), free(w), free(dout), free(out), free(gx), free(gw);
    levi_ctx_destroy(ctx);
}
END_TEST

START_TEST(conv_bad_shapes) {
    levi_conv_shape s = shape(1, 1, 2, 2, 1, 5, 5, 1, 1);
    ck_assert_int_eq(levi_conv_shape_init(&s), LEVI_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "5x5"));
    s = shape(1, 0, 4, 4, 1, 3, 3, 1, 1);
    ck_assert_int_eq(levi_conv_shape_init(&s), LEVI_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "C=0"));
    s = shape(1, 1, 4, 4, 1, 3, 3, 0, 1);
    ck_assert_int_eq(levi_conv_shape_init(&s), LEVI_ERR_INVALID_ARG);
    s = shape(1, 1, 4, 4, 1, 3, 3, 1, -1);
    ck_assert_int_eq(levi_conv_shape_init(&s), LEVI_ERR_INVALID_ARG);
    s = shape(2, 3, 28, 28, 16, 3, 3, 2, 1);
    ck_assert_levi_ok(levi_conv_shape_init(&s));
    ck_assert_int_eq(s.OH, 14);
    ck_assert_int_eq(s.OW, 14);
}
END_TEST

START_TEST(conv_small_tensors_rejected) {
    levi_ctx *ctx = test_ctx();
    levi_conv_shape s = shape(2, 3, 6, 6, 4, 3, 3, 1, 1);
    ck_assert_levi_ok(levi_conv_shape_init(&s));
    levi_tensor x, w, o, sc;
    ck_assert_levi_ok(levi_tensor_alloc1(&x, ctx, (int)in_n(&s)));
    ck_assert_levi_ok(levi_tensor_alloc1(&w, ctx, (int)w_n(&s)));
    ck_assert_levi_ok(levi_tensor_alloc1(&o, ctx, (int)out_n(&s)));
    ck_assert_levi_ok(levi_tensor_alloc1(&sc, ctx, (int)levi_conv2d_scratch_numel(&s) - 1));
    ck_assert_int_eq(levi_conv2d_forward(ctx, &o, &x, &w, NULL, &sc, &s), LEVI_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "scratch"));
    levi_conv_shape bad = s;
    bad.OH = 99;
    ck_assert_int_eq(levi_conv2d_forward(ctx, &o, &x, &w, NULL, &sc, &bad), LEVI_ERR_SHAPE);
    levi_tensor tiny;
    ck_assert_levi_ok(levi_tensor_alloc1(&tiny, ctx, 3));
    ck_assert_int_eq(levi_conv2d_backward(ctx, NULL, NULL, &tiny, &o, &x, &w, NULL, &s), LEVI_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "db tensor has 3 elements"));
    ck_assert_int_eq(levi_conv2d_backward(ctx, &x, NULL, NULL, &o, &x, &w, NULL, &s), LEVI_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "scratch"));
    levi_tensor_free(&tiny);
    ck_assert_int_eq(levi_maxpool_forward(ctx, &o, &x, 2, 3, 6, 6, 7, 1), LEVI_ERR_SHAPE);
    ck_assert_int_eq(levi_avgpool_forward(ctx, &x, &o, 2, 4, 6, 6, 2, 2), LEVI_OK);
    ck_assert_int_eq(levi_avgpool_forward(ctx, &o, &x, 2, 4, 6, 6, 2, 1), LEVI_ERR_SHAPE); /* x too small */
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "input"));
    ck_assert_levi_ok(levi_finish(ctx));
    levi_tensor_free(&x), levi_tensor_free(&w), levi_tensor_free(&o), levi_tensor_free(&sc);
    levi_ctx_destroy(ctx);
}
END_TEST

/* --- pooling --------------------------------------------------------------------- */

// out (B,C,OH,OW) = max / mean over k×k windows of inp (B,C,H,W); first maximum wins
static void host_pool(double *out, long *arg, const float *inp, int BC, int H, int W, int k, int st, int is_max) {
    int OH = (H - k) / st + 1, OW = (W - k) / st + 1;
    for (int n = 0; n < BC; n++)
        for (int y = 0; y < OH; y++)
            for (int x = 0; x < OW; x++) {
                double m = -INFINITY, sum = 0;
                long best = -1;
                for (int dy = 0; dy < k; dy++)
                    for (int dx = 0; dx < k; dx++) {
                        long j = ((long)n * H + y * st + dy) * W + x * st + dx;
                        sum += inp[j];
                        if (inp[j] > m) m = inp[j], best = j;
                    }
                size_t o = ((size_t)n * OH + y) * OW + x;
                out[o] = is_max ? m : sum / (k * k);
                if (arg) arg[o] = best;
            }
}

static void pool_case(levi_ctx *ctx, int B, int C, int H, int W, int k, int st, int is_max, int ties,
                      unsigned seed) {
    int OH = (H - k) / st + 1, OW = (W - k) / st + 1, BC = B * C;
    size_t ni = (size_t)BC * H * W, no = (size_t)BC * OH * OW;
    float *x = rnd(ni, seed, -2, 2), *dout = rnd(no, seed + 1, -1, 1), *dx0 = rnd(ni, seed + 2, -1, 1);
    if (ties) /* three levels only: many windows hold several equal maxima */
        for (size_t i = 0; i < ni; i++) x[i] = floorf(x[i] * 0.75f);
    double *ref = malloc(no * sizeof *ref), *gref = to_d(dx0, ni);
    long *arg = malloc(no * sizeof *arg);
    host_pool(ref, arg, x, BC, H, W, k, st, is_max);
    int KK = k * k;
    for (int n = 0; n < BC; n++)
        for (int y = 0; y < OH; y++)
            for (int xx = 0; xx < OW; xx++) {
                size_t o = ((size_t)n * OH + y) * OW + xx;
                if (is_max) {
                    gref[arg[o]] += dout[o];
                    continue;
                }
                for (int dy = 0; dy < k; dy++)
                    for (int dx = 0; dx < k; dx++)
                        gref[((size_t)n * H + y * st + dy) * W + xx * st + dx] += (double)dout[o] / KK;
            }
    dev_t_ X, O, DO, DX;
    dev_alloc(&X, ctx, ni, x);
    dev_alloc(&O, ctx, no, NULL);
    dev_alloc(&DO, ctx, no, dout);
    dev_alloc(&DX, ctx, ni, dx0);
    ck_assert_levi_ok(levi_tensor_fill(&O.t, NAN));
    char what[160];
    snprintf(what, sizeof what, "%s B=%d C=%d %dx%d k=%d st=%d%s", is_max ? "maxpool" : "avgpool", B, C, H, W, k,
             st, ties ? " (ties)" : "");
    if (is_max) {
        ck_assert_levi_ok(levi_maxpool_forward(ctx, &O.t, &X.t, B, C, H, W, k, st));
        ck_assert_levi_ok(levi_maxpool_backward(ctx, &DX.t, &DO.t, &X.t, B, C, H, W, k, st));
    } else {
        ck_assert_levi_ok(levi_avgpool_forward(ctx, &O.t, &X.t, B, C, H, W, k, st));
        ck_assert_levi_ok(levi_avgpool_backward(ctx, &DX.t, &DO.t, B, C, H, W, k, st));
    }
    float *got = dev_read(&O);
    expect_close(what, got, ref, no, 1e-6);
    free(got);
    got = dev_read(&DX);
    strcat(what, " backward (accumulated)");
    expect_close(what, got, gref, ni, 1e-6);
    free(got);
    dev_free(&X), dev_free(&O), dev_free(&DO), dev_free(&DX);
    free(x), free(dout), free(dx0), free(ref), free(gref), free(arg);
}

START_TEST(pool_forward_backward) {
    levi_ctx *ctx = test_ctx();
    for (int is_max = 0; is_max < 2; is_max++) {
        if (small()) {
            pool_case(ctx, 1, 2, 5, 4, 2, 2, is_max, 0, 1);
            pool_case(ctx, 1, 1, 5, 5, 3, 1, is_max, is_max, 2);
            continue;
        }
        pool_case(ctx, 2, 3, 7, 9, 2, 2, is_max, 0, 1);  /* odd sizes, last row/column unused */
        pool_case(ctx, 1, 7, 9, 8, 3, 1, is_max, 0, 2);  /* overlapping windows */
        pool_case(ctx, 3, 1, 11, 7, 3, 2, is_max, 0, 3); /* overlap with stride 2 */
        pool_case(ctx, 2, 33, 6, 6, 3, 2, is_max, 1, 4); /* ties: first maximum wins */
        pool_case(ctx, 1, 1, 1, 1, 1, 1, is_max, 0, 5); /* 1×1 */
    }
    levi_ctx_destroy(ctx);
}
END_TEST

static void gap_case(levi_ctx *ctx, int B, int C, int HW, unsigned seed) {
    size_t ni = (size_t)B * C * HW, no = (size_t)B * C;
    float *x = rnd(ni, seed, -1, 3), *dout = rnd(no, seed + 1, -1, 1), *dx0 = rnd(ni, seed + 2, -1, 1);
    double *ref = calloc(no, sizeof *ref), *gref = to_d(dx0, ni);
    for (size_t r = 0; r < no; r++) {
        for (int j = 0; j < HW; j++) ref[r] += x[r * HW + j];
        ref[r] /= HW;
        for (int j = 0; j < HW; j++) gref[r * HW + j] += (double)dout[r] / HW;
    }
    dev_t_ X, O, DO, DX;
    dev_alloc(&X, ctx, ni, x);
    dev_alloc(&O, ctx, no, NULL);
    dev_alloc(&DO, ctx, no, dout);
    dev_alloc(&DX, ctx, ni, dx0);
    ck_assert_levi_ok(levi_tensor_fill(&O.t, NAN));
    ck_assert_levi_ok(levi_global_avgpool_forward(ctx, &O.t, &X.t, B, C, HW));
    ck_assert_levi_ok(levi_global_avgpool_backward(ctx, &DX.t, &DO.t, B, C, HW));
    char what[120];
    snprintf(what, sizeof what, "global_avgpool B=%d C=%d HW=%d", B, C, HW);
    float *got = dev_read(&O);
    expect_close(what, got, ref, no, 1e-6);
    free(got);
    strcat(what, " backward (accumulated)");
    got = dev_read(&DX);
    expect_close(what, got, gref, ni, 1e-6);
    free(got);
    dev_free(&X), dev_free(&O), dev_free(&DO), dev_free(&DX);
    free(x), free(dout), free(dx0), free(ref), free(gref);
}

START_TEST(global_avgpool_forward_backward) {
    levi_ctx *ctx = test_ctx();
    gap_case(ctx, 1, 1, 1, 1);
    gap_case(ctx, 2, 7, 33, 2);
    if (!small()) {
        gap_case(ctx, 3, 33, 197, 3);
        gap_case(ctx, 4, 32, 1000, 4);
    }
    levi_ctx_destroy(ctx);
}
END_TEST

void conv_block_add_tests(TCase *tc); /* test_conv_block.c */

int main(void) {
    Suite *s = suite_create("conv");
    TCase *host = tcase_create("host");
    tcase_add_test(host, conv_bad_shapes);
    suite_add_tcase(s, host);
    int device = test_have_device();
    if (device) {
        TCase *dev = tcase_create("device");
        tcase_set_timeout(dev, 600);
        tcase_add_test(dev, conv_forward_backward);
        tcase_add_test(dev, conv_backward_device_fd);
        tcase_add_test(dev, conv_small_tensors_rejected);
        tcase_add_test(dev, pool_forward_backward);
        tcase_add_test(dev, global_avgpool_forward_backward);
        conv_block_add_tests(dev);
        suite_add_tcase(s, dev);
    }
    return test_finish(s, device);
}
