/* The search behind `levi-cl tune gemm`: random sampling of CLBlast 1.5.3's
 * Xgemm and XgemmDirect parameter spaces (only sets that pass the constraint
 * checker), each candidate checked against a host reference before it is
 * timed, and the direct/indirect threshold chosen from measured times.
 *
 * CLBlast decides per call: XgemmDirect when M*N*K < XGEMM_MIN_INDIRECT_SIZE³,
 * else the indirect Xgemm (with its pad/transpose helpers). So Xgemm is tuned
 * with the threshold at 1 (always indirect), XgemmDirect with it at 4096
 * (always direct), and the threshold from both paths' times per shape.
 *
 * Where the time goes: CLBlast compiles one program per parameter set (all
 * of the GEMM routine's kernels; 9-14 s through PoCL on 2 cores, 10-60 s on
 * a busy machine, about a second on a GPU), then each shape is timed for
 * ~0.15 s (the 13 shapes: ~3 s). So every measurement that
 * needs a program of its own is budgeted: CLBlast's own kernels forced down
 * each path (2 programs), then candidates while the budget lasts. The best
 * candidate of each path is timed on every shape as soon as it leads, so the
 * threshold needs no program of its own, and the best set so far is always
 * complete: the caller's watchdog stores it when the budget runs out in the
 * middle of a compilation. */
#include <math.h>
#include <pthread.h>
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

/* --- the search state --------------------------------------------------------------- */

enum { NMAX = 32 };

typedef struct tune_state {
    levi_ctx *ctx;
    const levi_device_info *d;
    double start, deadline;
    tune_shared *shared;
    check_case checks[2];
    const char *all[NMAX]; /* the bench shapes but square 1024 and the batched ones */
    int nall;
    int have_defind, have_defdir; /* CLBlast's kernels forced indirect / direct, timed on all shapes */
    double g_defind[NMAX], g_defdir[NMAX];
    int have_x, have_d; /* the best tuned Xgemm / XgemmDirect so far, timed on all shapes */
    double best_x, best_d; /* their scores on the search shapes */
    size_t best_xp[LEVI_XGEMM_NPARAMS], best_dp[LEVI_XGEMM_DIRECT_NPARAMS];
    double g_ind[NMAX], g_dir[NMAX];
    double cost;    /* the longest candidate so far (compile + check + timing), seconds */
    double first_s; /* the last time_shapes' first shape: compilation + warm-up + timing */
    double prep_s;  /* the last candidate's compilation and correctness checks */
    tune_report rep;
} tune_state;

static const double k_per_shape_s = 0.15;

static int index_of(const tune_state *S, const char *name) {
    for (int i = 0; i < S->nall; i++)
        if (!strcmp(S->all[i], name)) return i;
    return -1;
}

/* Time the shapes of `names` (n of them) into g at their positions in all[];
 * skip those already marked in `done` (may be NULL). *mean (may be NULL):
 * the geometric mean over `names`. */
static levi_status time_shapes(tune_state *S, const char *const *names, int n, double *g, double *mean) {
    double logsum = 0;
    for (int i = 0; i < n; i++) {
        int k = index_of(S, names[i]);
        bench_row row;
        double t0 = levi_now_s();
        LEVI_TRY(bench_gemm_shape_time(S->ctx, shape_by_name(names[i]), k_per_shape_s, &row));
        if (i == 0) S->first_s = levi_now_s() - t0; /* with the program's compilation, when it is new */
        LEVI_DEBUG("tune: %-32s %8.2f GFLOP/s, timed in %.2f s", names[i], row.value, levi_now_s() - t0);
        if (k >= 0) g[k] = row.value;
        logsum += log(row.value);
    }
    if (mean) *mean = exp(logsum / n);
    return LEVI_OK;
}

/* The shapes of all[] that are not in names[]. */
static int rest_of(const tune_state *S, const char *const *names, int n, const char **rest) {
    int m = 0;
    for (int i = 0; i < S->nall; i++) {
        int in = 0;
        for (int j = 0; j < n; j++) in |= !strcmp(S->all[i], names[j]);
        if (!in) rest[m++] = S->all[i];
    }
    return m;
}

/* The best complete set from what is measured: tuned or CLBlast's Xgemm,
 * tuned or CLBlast's XgemmDirect, and the threshold, maximizing the
 * geometric mean over all shapes (each on the path the threshold sends it).
 * A part whose default wins is not stored: the next process starts from
 * CLBlast's own parameters, which this process can no longer restore.
 * Needs both default paths; returns 0 before. *own: the best with CLBlast's
 * kernels only (threshold chosen too), for the report. */
static int choose(const tune_state *S, levi_tuning *t, double *score, double *own) {
    if (!S->have_defind || !S->have_defdir) return 0;
    static const size_t thresholds[] = {1, 32, 48, 64, 96, 128, 160, 192, 256, 320, 384, 512, 768, 1024, 4096};
    double best = -1e300, best_own = -1e300;
    levi_tuning_defaults(t);
    for (int ux = 0; ux <= S->have_x; ux++)
        for (int ud = 0; ud <= S->have_d; ud++)
            for (size_t k = 0; k < sizeof thresholds / sizeof thresholds[0]; k++) {
                double thr3 = (double)thresholds[k] * thresholds[k] * thresholds[k], logsum = 0;
                for (int i = 0; i < S->nall; i++) {
                    const bench_gemm_shape *s = shape_by_name(S->all[i]);
                    int direct = (double)s->M * s->N * s->K < thr3;
                    logsum += log(direct ? (ud ? S->g_dir[i] : S->g_defdir[i]) : (ux ? S->g_ind[i] : S->g_defind[i]));
                }
                if (!ux && !ud && logsum > best_own) best_own = logsum;
                if (logsum > best) {
                    best = logsum;
                    t->min_indirect = thresholds[k];
                    t->has_xgemm = ux, t->has_direct = ud;
                }
            }
    memcpy(t->xgemm, S->best_xp, sizeof S->best_xp);
    memcpy(t->direct, S->best_dp, sizeof S->best_dp);
    t->has_min_indirect = 1;
    *score = exp(best / S->nall);
    *own = exp(best_own / S->nall);
    t->gflops_default = *own;
    t->gflops_tuned = *score;
    return 1;
}

/* Hand the best complete set so far to the watchdog. */
static void publish(tune_state *S) {
    levi_tuning t;
    double score, own;
    if (!choose(S, &t, &score, &own)) return;
    S->rep.defaults = own;
    S->rep.tuned = score;
    S->rep.seconds = levi_now_s() - S->start;
    pthread_mutex_lock(&S->shared->mu);
    S->shared->have = 1;
    S->shared->best = t;
    S->shared->rep = S->rep;
    pthread_mutex_unlock(&S->shared->mu);
}

/* Apply t, check both correctness cases, then score on the search shapes;
 * *gflops = 0 when the candidate failed (compile error or wrong result),
 * with the reason logged. */
static levi_status try_candidate(tune_state *S, const levi_tuning *t, const char *const *shapes, int nshapes,
                                 double *g, double *gflops) {
    *gflops = 0;
    double t0 = levi_now_s();
    levi_status st = levi_tuning_apply(S->d, t);
    for (int i = 0; i < 2 && st == LEVI_OK; i++) {
        double worst = 0;
        st = check_run(S->ctx, &S->checks[i], &worst);
        if (st == LEVI_OK && !(worst <= CHECK_TOL)) {
            fprintf(stderr, "    rejected: %dx%dx%d worst relative difference %.3g > %g\n", S->checks[i].M,
                    S->checks[i].N, S->checks[i].K, worst, CHECK_TOL);
            return LEVI_OK;
        }
    }
    S->prep_s = levi_now_s() - t0; /* CLBlast's compilation is in the first check */
    if (st == LEVI_OK) st = time_shapes(S, shapes, nshapes, g, gflops);
    if (st != LEVI_OK) {
        fprintf(stderr, "    rejected: %s\n", levi_last_error());
        levi_error_clear();
        *gflops = 0;
        /* a failed build can leave the queue in an error state: drain it */
        clFinish(S->ctx->queue);
    }
    return LEVI_OK;
}

/* One candidate of a path (direct = 0: Xgemm, 1: XgemmDirect): sample it,
 * try it, and when it leads, time it on every shape. Returns 0 when the
 * space has no new valid set. */
static levi_status candidate(tune_state *S, int direct, int n, int *more) {
    levi_tuning t;
    levi_tuning_defaults(&t);
    *more = 1;
    double *best = direct ? &S->best_d : &S->best_x;
    if (n > 0) { /* the first candidate is the known-good starting set */
        int ok = direct ? (n % 2 && *best > 0 ? near_direct(t.direct, S->best_dp, S->d) : random_direct(t.direct, S->d))
                        : (n % 2 && *best > 0 ? near_xgemm(t.xgemm, S->best_xp, S->d) : random_xgemm(t.xgemm, S->d));
        if (!ok) {
            *more = 0;
            return LEVI_OK;
        }
    }
    t.has_xgemm = !direct, t.has_direct = direct;
    t.has_min_indirect = 1, t.min_indirect = direct ? 4096 : 1;
    double c0 = levi_now_s();
    fprintf(stderr, "tune: %s #%d ", direct ? "XgemmDirect" : "Xgemm", n + 1);
    if (direct) print_params(stderr, levi_xgemm_direct_param_names, t.direct, LEVI_XGEMM_DIRECT_NPARAMS);
    else print_params(stderr, levi_xgemm_param_names, t.xgemm, LEVI_XGEMM_NPARAMS);
    fprintf(stderr, "\n");
    const char *const *shapes = direct ? k_direct_shapes : k_indirect_shapes;
    int nshapes = direct ? NDIR : NIND;
    double g_new[NMAX], gf;
    LEVI_TRY(try_candidate(S, &t, shapes, nshapes, g_new, &gf));
    double c_first = S->prep_s;
    S->rep.tried++;
    if (gf > 0) S->rep.valid++;
    else S->rep.rejected++;
    if (gf > 0) fprintf(stderr, "    %.2f GFLOP/s%s\n", gf, gf > *best ? "  (best so far)" : "");
    if (gf > *best) {
        /* the new leader on every other shape too, for the threshold */
        const char *rest[NMAX];
        int nrest = rest_of(S, shapes, nshapes, rest);
        LEVI_TRY(time_shapes(S, rest, nrest, g_new, NULL));
        *best = gf;
        if (direct) {
            memcpy(S->best_dp, t.direct, sizeof S->best_dp);
            memcpy(S->g_dir, g_new, sizeof S->g_dir);
            S->have_d = 1;
        } else {
            memcpy(S->best_xp, t.xgemm, sizeof S->best_xp);
            memcpy(S->g_ind, g_new, sizeof S->g_ind);
            S->have_x = 1;
        }
        publish(S);
    }
    double c = levi_now_s() - c0;
    fprintf(stderr, "    (%.1f s, of which %.1f s compiling and checking)\n", c, c_first);
    if (c > S->cost) S->cost = c;
    return LEVI_OK;
}

/* CLBlast's own kernels forced down one path, timed on every shape. */
static levi_status time_defaults(tune_state *S, int direct) {
    double c0 = levi_now_s(), mean;
    levi_tuning thr = {.has_min_indirect = 1, .min_indirect = direct ? 4096 : 1};
    LEVI_TRY(levi_tuning_apply(S->d, &thr));
    LEVI_TRY(time_shapes(S, S->all, S->nall, direct ? S->g_defdir : S->g_defind, &mean));
    if (direct) S->have_defdir = 1;
    else S->have_defind = 1;
    fprintf(stderr, "tune: CLBlast's kernels forced %s: %.2f GFLOP/s (%.1f s, of which %.1f s compiling and the first shape)\n",
            direct ? "direct" : "indirect", mean, levi_now_s() - c0, S->first_s);
    if (levi_now_s() - c0 > S->cost) S->cost = levi_now_s() - c0;
    publish(S);
    return LEVI_OK;
}

/* The chosen threshold and every shape's path and speed, on stderr. */
static void tune_print_choice(const tune_state *S, const levi_tuning *t) {
    double thr3 = (double)t->min_indirect * t->min_indirect * t->min_indirect;
    fprintf(stderr, "tune: XGEMM_MIN_INDIRECT_SIZE=%zu, Xgemm %s, XgemmDirect %s\n%-36s %10s %10s\n",
            t->min_indirect, t->has_xgemm ? "tuned" : "CLBlast's", t->has_direct ? "tuned" : "CLBlast's", "shape",
            "CLBlast", "chosen");
    for (int i = 0; i < S->nall; i++) {
        const bench_gemm_shape *s = shape_by_name(S->all[i]);
        int direct = (double)s->M * s->N * s->K < thr3;
        double own = S->g_defdir[i] > S->g_defind[i] ? S->g_defdir[i] : S->g_defind[i];
        double got = direct ? (t->has_direct ? S->g_dir[i] : S->g_defdir[i])
                            : (t->has_xgemm ? S->g_ind[i] : S->g_defind[i]);
        fprintf(stderr, "%-36s %10.2f %10.2f  (%s)\n", S->all[i], own, got, direct ? "direct" : "indirect");
    }
}

/* Room for one more step that costs about S->cost before `end`. */
static int fits(const tune_state *S, double end) { return levi_now_s() + S->cost <= end; }

levi_status bench_tune_gemm(levi_ctx *ctx, double start, double budget_s, tune_shared *shared, levi_tuning *best,
                            tune_report *rep) {
    tune_state *S = calloc(1, sizeof *S);
    if (!S) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    S->ctx = ctx;
    S->d = &ctx->info;
    S->start = start;
    S->deadline = start + budget_s;
    S->shared = shared;
    /* Not square 1024 (slow), nor the batched shapes: CLBlast runs those
     * through a routine of its own (XgemmBatched), whose program costs a
     * second compilation per parameter set (measured: 14-28 s through PoCL,
     * more than the rest of a step), and no model runs batched GEMMs. */
    for (int i = 0; i < BENCH_GEMM_NSHAPES && S->nall < NMAX; i++)
        if (strcmp(k_bench_gemm_shapes[i].name, "square 1024") && k_bench_gemm_shapes[i].batch == 1)
            S->all[S->nall++] = k_bench_gemm_shapes[i].name;
    levi_status st = check_init(ctx, &S->checks[0], 67, 45, 33, 0);
    if (st == LEVI_OK) st = check_init(ctx, &S->checks[1], 100, 70, 90, 1);
    /* Every step needs a program of its own: the first ones run whatever
     * they cost (the watchdog ends the process at the budget), later ones
     * only while one more fits. Xgemm gets about half of what is left after
     * the first candidate of each path. */
    int more = 1;
    if (st == LEVI_OK) st = time_defaults(S, 0);
    if (st == LEVI_OK && fits(S, S->deadline)) st = time_defaults(S, 1);
    if (st == LEVI_OK && fits(S, S->deadline)) st = candidate(S, 0, 0, &more);
    if (st == LEVI_OK && fits(S, S->deadline)) st = candidate(S, 1, 0, &more);
    double x_end = levi_now_s() + 0.5 * (S->deadline - levi_now_s());
    for (int n = 1; st == LEVI_OK && more && fits(S, x_end); n++) st = candidate(S, 0, n, &more);
    more = 1;
    for (int n = 1; st == LEVI_OK && more && fits(S, S->deadline); n++) st = candidate(S, 1, n, &more);

    double score = 0, own = 0;
    if (st == LEVI_OK && !choose(S, best, &score, &own))
        st = levi_error(LEVI_ERR_CHECK_FAILED,
                        "tune: the budget of %.0f s ended before CLBlast's own kernels were timed on both paths "
                        "(each needs its own program: 10-60 s through PoCL); give a larger --budget",
                        budget_s);
    if (st == LEVI_OK) {
        S->rep.defaults = own;
        S->rep.tuned = score;
        S->rep.seconds = levi_now_s() - start;
        tune_print_choice(S, best);
    }
    *rep = S->rep;
    check_free(&S->checks[0]);
    check_free(&S->checks[1]);
    free(S);
    return st;
}
