/* The search behind `levi-cl tune gemm`: random sampling of CLBlast 1.5.3's
 * Xgemm and XgemmDirect parameter spaces (only sets that pass the constraint
 * checker), each candidate checked against a host reference before it is
 * timed, then the direct/indirect threshold chosen from measured times.
 *
 * CLBlast decides per call: XgemmDirect when M*N*K < XGEMM_MIN_INDIRECT_SIZE³,
 * else the indirect Xgemm (with its pad/transpose helpers). So Xgemm is tuned
 * with the threshold at 1 (always indirect), XgemmDirect with it at 4096
 * (always direct), and the threshold last, from both sets' times per shape. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bench_shapes.h"
#include "bench_tune.h"
#include "levi/tuning.h"

/* --- shapes -------------------------------------------------------------------- */

/* Timed during the search (names from bench_shapes.h). */
static const char *const k_indirect_shapes[] = {"square 512", "vit qkv 1088x192x64 NT", "vit qkv dw 192x64x1088 TN",
                                                "task mlp 64x128x784 NT"};
static const char *const k_direct_shapes[] = {"vit proj 1088x64x64 NT", "vit fc2 1088x64x128 NT",
                                              "adapter 64x128x256 NT", "adapter head 64x10x128 NT"};
#define NIND ((int)(sizeof k_indirect_shapes / sizeof k_indirect_shapes[0]))
#define NDIR ((int)(sizeof k_direct_shapes / sizeof k_direct_shapes[0]))

static const bench_gemm_shape *shape_by_name(const char *name) {
    for (int i = 0; i < BENCH_GEMM_NSHAPES; i++)
        if (!strcmp(k_bench_gemm_shapes[i].name, name)) return &k_bench_gemm_shapes[i];
    return NULL;
}

/* --- correctness check ------------------------------------------------------------ */

/* An awkward shape (no tile divides it), both transposes of B, compared with
 * a double-precision host product. */
typedef struct check_case {
    int M, N, K, trans_b;
    float *a, *b, *c;
    double *ref;
    levi_tensor A, B, C;
} check_case;

static void fill(float *x, size_t n, unsigned seed) {
    unsigned long long s = seed * 2654435761ULL + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    }
}

static levi_status check_init(levi_ctx *ctx, check_case *c, int M, int N, int K, int trans_b) {
    memset(c, 0, sizeof *c);
    c->M = M, c->N = N, c->K = K, c->trans_b = trans_b;
    c->a = malloc(sizeof(float) * (size_t)M * K);
    c->b = malloc(sizeof(float) * (size_t)K * N);
    c->c = malloc(sizeof(float) * (size_t)M * N);
    c->ref = malloc(sizeof(double) * (size_t)M * N);
    if (!c->a || !c->b || !c->c || !c->ref) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    fill(c->a, (size_t)M * K, 1);
    fill(c->b, (size_t)K * N, 2);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++)
                s += (double)c->a[i * K + k] * (trans_b ? c->b[j * K + k] : c->b[k * N + j]);
            c->ref[i * N + j] = s;
        }
    LEVI_TRY(levi_tensor_alloc2(&c->A, ctx, M, K));
    LEVI_TRY(levi_tensor_alloc2(&c->B, ctx, trans_b ? N : K, trans_b ? K : N));
    LEVI_TRY(levi_tensor_alloc2(&c->C, ctx, M, N));
    LEVI_TRY(levi_tensor_write(&c->A, c->a));
    LEVI_TRY(levi_tensor_write(&c->B, c->b));
    return LEVI_OK;
}

static void check_free(check_case *c) {
    free(c->a), free(c->b), free(c->c), free(c->ref);
    if (c->A.buf) levi_tensor_free(&c->A);
    if (c->B.buf) levi_tensor_free(&c->B);
    if (c->C.buf) levi_tensor_free(&c->C);
}

/* Worst |c - ref| / (1 + |ref|) of one run; NaN counts as failure. */
static levi_status check_run(levi_ctx *ctx, check_case *c, double *worst) {
    LEVI_TRY(levi_tensor_fill(&c->C, 12345.0f)); /* beta = 0 must overwrite it */
    LEVI_TRY(levi_gemm(ctx, 0, c->trans_b, c->M, c->N, c->K, 1.0f, &c->A, &c->B, 0.0f, &c->C));
    LEVI_TRY(levi_tensor_read(&c->C, c->c));
    double w = 0;
    for (int i = 0; i < c->M * c->N; i++) {
        double e = fabs(c->c[i] - c->ref[i]) / (1.0 + fabs(c->ref[i]));
        if (!(e <= w)) w = e;
    }
    *worst = w;
    return LEVI_OK;
}

#define CHECK_TOL 1e-4

/* --- scoring --------------------------------------------------------------------- */

/* Geometric mean GFLOP/s over shapes; per-shape GFLOP/s into gf (may be NULL). */
static levi_status score(levi_ctx *ctx, const char *const *names, int n, double per_shape_s, double *out,
                         double *gf) {
    double logsum = 0;
    for (int i = 0; i < n; i++) {
        bench_row row;
        LEVI_TRY(bench_gemm_shape_time(ctx, shape_by_name(names[i]), per_shape_s, &row));
        if (gf) gf[i] = row.value;
        logsum += log(row.value);
    }
    *out = exp(logsum / n);
    return LEVI_OK;
}

/* --- candidates ---------------------------------------------------------------------- */

static unsigned long long g_rng = 0x9e3779b97f4a7c15ULL;
static size_t pick(const size_t *v, int n) {
    g_rng ^= g_rng << 13, g_rng ^= g_rng >> 7, g_rng ^= g_rng << 17;
    return v[(g_rng >> 11) % (unsigned long long)n];
}
#define PICK(arr) pick(arr, (int)(sizeof arr / sizeof arr[0]))

static int random_xgemm(size_t p[LEVI_XGEMM_NPARAMS], const levi_device_info *d) {
    static const size_t wg[] = {16, 32, 64, 128}, kwg[] = {16, 32}, dim[] = {4, 8, 16, 32}, vw[] = {1, 2, 4, 8},
                        bit[] = {0, 1}, kreg[] = {1, 2, 4, 8}, gemmk[] = {0, 0, 0, 1};
    for (int tries = 0; tries < 100000; tries++) {
        p[LEVI_XG_GEMMK] = PICK(gemmk);
        p[LEVI_XG_MWG] = PICK(wg), p[LEVI_XG_NWG] = PICK(wg);
        p[LEVI_XG_MDIMC] = PICK(dim), p[LEVI_XG_NDIMC] = PICK(dim);
        p[LEVI_XG_MDIMA] = PICK(dim), p[LEVI_XG_NDIMB] = PICK(dim);
        p[LEVI_XG_VWM] = PICK(vw), p[LEVI_XG_VWN] = PICK(vw);
        p[LEVI_XG_STRM] = PICK(bit), p[LEVI_XG_STRN] = PICK(bit);
        if (p[LEVI_XG_GEMMK] == 0) {
            p[LEVI_XG_KWG] = PICK(kwg), p[LEVI_XG_KWI] = 2, p[LEVI_XG_KREG] = 1;
            p[LEVI_XG_SA] = PICK(bit), p[LEVI_XG_SB] = PICK(bit);
        } else { /* kernel 1 (2-D register tiling): CLBlast's tuner ties these */
            p[LEVI_XG_KWG] = 1, p[LEVI_XG_KWI] = 1, p[LEVI_XG_KREG] = PICK(kreg);
            p[LEVI_XG_SA] = p[LEVI_XG_SB] = 0;
            p[LEVI_XG_MDIMA] = p[LEVI_XG_MDIMC], p[LEVI_XG_NDIMB] = p[LEVI_XG_NDIMC];
            p[LEVI_XG_NWG] = p[LEVI_XG_MWG];
        }
        if (levi_tuning_check_xgemm(p, d) == LEVI_OK) return 1;
    }
    levi_error_clear();
    return 0;
}

static int random_direct(size_t p[LEVI_XGEMM_DIRECT_NPARAMS], const levi_device_info *d) {
    static const size_t wgd[] = {8, 16, 32, 64}, dim[] = {4, 8, 16, 32}, kwid[] = {2, 8, 16}, vw[] = {1, 2, 4, 8},
                        bit[] = {0, 1};
    for (int tries = 0; tries < 100000; tries++) {
        p[LEVI_XD_WGD] = PICK(wgd), p[LEVI_XD_KWID] = PICK(kwid);
        p[LEVI_XD_MDIMCD] = PICK(dim), p[LEVI_XD_NDIMCD] = PICK(dim);
        p[LEVI_XD_MDIMAD] = PICK(dim), p[LEVI_XD_NDIMBD] = PICK(dim);
        p[LEVI_XD_VWMD] = PICK(vw), p[LEVI_XD_VWND] = PICK(vw);
        p[LEVI_XD_PADA] = PICK(bit), p[LEVI_XD_PADB] = PICK(bit);
        if (levi_tuning_check_direct(p, d) == LEVI_OK) return 1;
    }
    levi_error_clear();
    return 0;
}

/* A neighbour of a good set: one or two parameters redrawn from a fresh
 * random valid set, kept only when the result is valid too. Alternating
 * this with fresh samples searches near the best while still exploring. */
static int near_xgemm(size_t p[LEVI_XGEMM_NPARAMS], const size_t *best, const levi_device_info *d) {
    size_t r[LEVI_XGEMM_NPARAMS];
    for (int tries = 0; tries < 1000; tries++) {
        if (!random_xgemm(r, d)) return 0;
        memcpy(p, best, sizeof r);
        int k1 = (int)(r[LEVI_XG_MWG] * 7 + r[LEVI_XG_VWN] * 3 + tries) % LEVI_XGEMM_NPARAMS;
        int k2 = (int)(r[LEVI_XG_NDIMC] * 5 + r[LEVI_XG_VWM] + tries * 3) % LEVI_XGEMM_NPARAMS;
        p[k1] = r[k1], p[k2] = r[k2];
        if (memcmp(p, best, sizeof r) && levi_tuning_check_xgemm(p, d) == LEVI_OK) return 1;
    }
    levi_error_clear();
    return random_xgemm(p, d);
}

static int near_direct(size_t p[LEVI_XGEMM_DIRECT_NPARAMS], const size_t *best, const levi_device_info *d) {
    size_t r[LEVI_XGEMM_DIRECT_NPARAMS];
    for (int tries = 0; tries < 1000; tries++) {
        if (!random_direct(r, d)) return 0;
        memcpy(p, best, sizeof r);
        int k1 = (int)(r[LEVI_XD_WGD] * 7 + r[LEVI_XD_VWND] * 3 + tries) % LEVI_XGEMM_DIRECT_NPARAMS;
        int k2 = (int)(r[LEVI_XD_NDIMCD] * 5 + r[LEVI_XD_VWMD] + tries * 3) % LEVI_XGEMM_DIRECT_NPARAMS;
        p[k1] = r[k1], p[k2] = r[k2];
        if (memcmp(p, best, sizeof r) && levi_tuning_check_direct(p, d) == LEVI_OK) return 1;
    }
    levi_error_clear();
    return random_direct(p, d);
}

static void print_params(FILE *f, const char *const *names, const size_t *v, int n) {
    for (int i = 0; i < n; i++) fprintf(f, "%s%s=%zu", i ? " " : "", names[i], v[i]);
}

/* Apply t, check both correctness cases, then score; *gflops = 0 when the
 * candidate failed (compile error or wrong result), with the reason logged. */
static levi_status try_candidate(levi_ctx *ctx, const levi_tuning *t, check_case *checks, int nchecks,
                                 const char *const *shapes, int nshapes, double per_shape_s, double *gflops) {
    *gflops = 0;
    levi_status st = levi_tuning_apply(&ctx->info, t);
    for (int i = 0; i < nchecks && st == LEVI_OK; i++) {
        double worst = 0;
        st = check_run(ctx, &checks[i], &worst);
        if (st == LEVI_OK && !(worst <= CHECK_TOL)) {
            fprintf(stderr, "    rejected: %dx%dx%d worst relative difference %.3g > %g\n", checks[i].M,
                    checks[i].N, checks[i].K, worst, CHECK_TOL);
            return LEVI_OK;
        }
    }
    if (st == LEVI_OK) st = score(ctx, shapes, nshapes, per_shape_s, gflops, NULL);
    if (st != LEVI_OK) {
        fprintf(stderr, "    rejected: %s\n", levi_last_error());
        levi_error_clear();
        *gflops = 0;
        /* a failed build can leave the queue in an error state: drain it */
        clFinish(ctx->queue);
    }
    return LEVI_OK;
}

levi_status bench_tune_gemm(levi_ctx *ctx, double budget_s, levi_tuning *best, tune_report *rep) {
    memset(rep, 0, sizeof *rep);
    double start = bench_now();
    const levi_device_info *d = &ctx->info;
    check_case checks[2];
    memset(checks, 0, sizeof checks);
    levi_status st = check_init(ctx, &checks[0], 67, 45, 33, 0);
    if (st == LEVI_OK) st = check_init(ctx, &checks[1], 100, 70, 90, 1);
    if (st != LEVI_OK) goto done;
    const double per_shape = 0.15;

    /* The threshold is chosen, and the result reported, over every bench
     * shape but the slowest (square 1024): batched attention and the tiny
     * adapter head included, so that no shape is sent to the wrong kernel. */
    enum { NMAX = 32 };
    const char *all[NMAX];
    int nall = 0;
    for (int i = 0; i < BENCH_GEMM_NSHAPES && nall < NMAX; i++)
        if (strcmp(k_bench_gemm_shapes[i].name, "square 1024")) all[nall++] = k_bench_gemm_shapes[i].name;

    /* 1. CLBlast's own parameters (nothing overridden yet in this process) */
    double g_def[NMAX];
    fprintf(stderr, "tune: timing CLBlast's default parameters on %d shapes\n", nall);
    if ((st = score(ctx, all, nall, per_shape, &rep->defaults, g_def)) != LEVI_OK) goto done;
    fprintf(stderr, "tune: defaults: %.2f GFLOP/s (geometric mean)\n", rep->defaults);
    /* ... and CLBlast's own kernels forced down each path (only the routine's
     * threshold overridden), so a tuned kernel is kept only where it beats them */
    double g_defdir[NMAX], g_defind[NMAX], def_dir, def_ind;
    levi_tuning thr = {.has_min_indirect = 1, .min_indirect = 4096};
    if ((st = levi_tuning_apply(d, &thr)) != LEVI_OK) goto done;
    if ((st = score(ctx, all, nall, per_shape, &def_dir, g_defdir)) != LEVI_OK) goto done;
    thr.min_indirect = 1;
    if ((st = levi_tuning_apply(d, &thr)) != LEVI_OK) goto done;
    if ((st = score(ctx, all, nall, per_shape, &def_ind, g_defind)) != LEVI_OK) goto done;
    fprintf(stderr, "tune: default kernels forced direct %.2f, forced indirect %.2f GFLOP/s\n", def_dir, def_ind);

    /* 2. Xgemm, always indirect */
    levi_tuning t;
    levi_tuning_defaults(&t);
    *best = t;
    best->has_xgemm = best->has_direct = best->has_min_indirect = 0;
    /* Candidates cost mostly CLBlast's recompilation, seconds each on a CPU:
     * stop a phase when the next candidate would not fit, and keep room for
     * the threshold phase (about two candidates' worth). */
    const double end = start + budget_s;
    double cost = 0, x_start = bench_now();
    double best_x = 0;
    size_t best_xp[LEVI_XGEMM_NPARAMS];
    t.has_direct = 0, t.has_min_indirect = 1, t.min_indirect = 1;
    for (int n = 0; n == 0 || bench_now() + cost < x_start + 0.55 * (end - x_start - 3 * cost); n++) {
        if (n > 0 && !(n % 2 && best_x > 0 ? near_xgemm(t.xgemm, best_xp, d) : random_xgemm(t.xgemm, d))) break;
        double c0 = bench_now();
        fprintf(stderr, "tune: Xgemm #%d ", n + 1);
        print_params(stderr, levi_xgemm_param_names, t.xgemm, LEVI_XGEMM_NPARAMS);
        fprintf(stderr, "\n");
        double g;
        if ((st = try_candidate(ctx, &t, checks, 2, k_indirect_shapes, NIND, per_shape, &g)) != LEVI_OK) goto done;
        rep->tried++;
        if (g > 0) rep->valid++;
        else rep->rejected++;
        if (g > 0) fprintf(stderr, "    %.2f GFLOP/s%s\n", g, g > best_x ? "  (best so far)" : "");
        if (g > best_x) best_x = g, memcpy(best_xp, t.xgemm, sizeof best_xp);
        if (bench_now() - c0 > cost) cost = bench_now() - c0;
    }

    /* 3. XgemmDirect, always direct */
    double best_d = 0;
    size_t best_dp[LEVI_XGEMM_DIRECT_NPARAMS];
    levi_tuning_defaults(&t);
    t.has_xgemm = 0, t.has_min_indirect = 1, t.min_indirect = 4096;
    for (int n = 0; n == 0 || bench_now() + cost < end - 2.5 * cost; n++) {
        if (n > 0 && !(n % 2 && best_d > 0 ? near_direct(t.direct, best_dp, d) : random_direct(t.direct, d))) break;
        double c0 = bench_now();
        fprintf(stderr, "tune: XgemmDirect #%d ", n + 1);
        print_params(stderr, levi_xgemm_direct_param_names, t.direct, LEVI_XGEMM_DIRECT_NPARAMS);
        fprintf(stderr, "\n");
        double g;
        if ((st = try_candidate(ctx, &t, checks, 2, k_direct_shapes, NDIR, per_shape, &g)) != LEVI_OK) goto done;
        rep->tried++;
        if (g > 0) rep->valid++;
        else rep->rejected++;
        if (g > 0) fprintf(stderr, "    %.2f GFLOP/s%s\n", g, g > best_d ? "  (best so far)" : "");
        if (g > best_d) best_d = g, memcpy(best_dp, t.direct, sizeof best_dp);
        if (bench_now() - c0 > cost) cost = bench_now() - c0;
    }
    if (best_x <= 0 || best_d <= 0) {
        st = levi_error(LEVI_ERR_CHECK_FAILED, "tune: no valid %s candidate within the budget (%d tried)",
                        best_x <= 0 ? "Xgemm" : "XgemmDirect", rep->tried);
        goto done;
    }

    /* 4. the threshold: time every search shape with both best sets */
    double g_ind[NMAX], g_dir[NMAX], dummy;
    memcpy(t.xgemm, best_xp, sizeof best_xp);
    memcpy(t.direct, best_dp, sizeof best_dp);
    t.has_xgemm = t.has_direct = t.has_min_indirect = 1;
    t.min_indirect = 1;
    fprintf(stderr, "tune: choosing the direct/indirect threshold\n");
    if ((st = levi_tuning_apply(d, &t)) != LEVI_OK) goto done;
    if ((st = score(ctx, all, nall, per_shape, &dummy, g_ind)) != LEVI_OK) goto done;
    t.min_indirect = 4096;
    if ((st = levi_tuning_apply(d, &t)) != LEVI_OK) goto done;
    if ((st = score(ctx, all, nall, per_shape, &dummy, g_dir)) != LEVI_OK) goto done;
    /* Choose jointly: tuned or CLBlast's Xgemm, tuned or CLBlast's
     * XgemmDirect, and the threshold, maximizing the geometric mean over all
     * shapes (each shape on the path the threshold sends it). A part whose
     * default wins is not stored: the next process starts from CLBlast's
     * parameters, which this process can no longer restore. */
    static const size_t thresholds[] = {1, 32, 48, 64, 96, 128, 160, 192, 256, 320, 384, 512, 768, 1024, 4096};
    double best_total = -1e300;
    int use_x = 1, use_d = 1;
    for (int ux = 0; ux < 2; ux++)
        for (int ud = 0; ud < 2; ud++)
            for (size_t k = 0; k < sizeof thresholds / sizeof thresholds[0]; k++) {
                double thr3 = (double)thresholds[k] * thresholds[k] * thresholds[k], logsum = 0;
                for (int i = 0; i < nall; i++) {
                    const bench_gemm_shape *s = shape_by_name(all[i]);
                    int direct = (double)s->M * s->N * s->K < thr3;
                    logsum += log(direct ? (ud ? g_dir[i] : g_defdir[i]) : (ux ? g_ind[i] : g_defind[i]));
                }
                if (logsum > best_total) best_total = logsum, t.min_indirect = thresholds[k], use_x = ux, use_d = ud;
            }
    if (!use_x) {
        fprintf(stderr, "tune: CLBlast's Xgemm beats the tuned one overall: not stored\n");
        t.has_xgemm = 0;
        memcpy(g_ind, g_defind, sizeof g_ind);
    }
    if (!use_d) {
        fprintf(stderr, "tune: CLBlast's XgemmDirect beats the tuned one overall: not stored\n");
        t.has_direct = 0;
        memcpy(g_dir, g_defdir, sizeof g_dir);
    }
    rep->tuned = exp(best_total / nall);
    {
        double thr3 = (double)t.min_indirect * t.min_indirect * t.min_indirect;
        fprintf(stderr, "tune: XGEMM_MIN_INDIRECT_SIZE=%zu\n%-36s %10s %10s\n", t.min_indirect, "shape",
                "default", "tuned");
        for (int i = 0; i < nall; i++) {
            const bench_gemm_shape *s = shape_by_name(all[i]);
            int direct = (double)s->M * s->N * s->K < thr3;
            fprintf(stderr, "%-36s %10.2f %10.2f  (%s)\n", all[i], g_def[i], direct ? g_dir[i] : g_ind[i],
                    direct ? "direct" : "indirect");
        }
    }

    /* 5. final check of the chosen set on both correctness cases */
    if ((st = levi_tuning_apply(d, &t)) != LEVI_OK) goto done;
    for (int i = 0; i < 2; i++) {
        double worst;
        if ((st = check_run(ctx, &checks[i], &worst)) != LEVI_OK) goto done;
        if (!(worst <= CHECK_TOL)) {
            st = levi_error(LEVI_ERR_CHECK_FAILED, "tune: the chosen set gives a worst difference %.3g", worst);
            goto done;
        }
    }
    t.gflops_default = rep->defaults;
    t.gflops_tuned = rep->tuned;
    *best = t;
    rep->seconds = bench_now() - start;
done:
    check_free(&checks[0]);
    check_free(&checks[1]);
    return st;
}
