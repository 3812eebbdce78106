/* GEMM entry points: checks, the choice of library per context (levi/gemm.h),
 * and the per-context state. Every GEMM of levi goes through levi_gemm or
 * levi_gemm_batched; gemm_clblast.c and gemm_openblas.c do the work. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gemm_internal.h"
#include "levi/log.h"

const char *levi_gemm_path_name(levi_gemm_path path) {
    switch (path) {
    case LEVI_GEMM_CLBLAST: return "clblast";
    case LEVI_GEMM_OPENBLAS: return "openblas";
    default: return "auto";
    }
}

levi_status levi_gemm_path_parse(const char *name, const char *what, levi_gemm_path *out) {
    static const levi_gemm_path all[] = {LEVI_GEMM_AUTO, LEVI_GEMM_CLBLAST, LEVI_GEMM_OPENBLAS};
    for (size_t i = 0; name && i < sizeof all / sizeof all[0]; i++)
        if (!strcasecmp(name, levi_gemm_path_name(all[i]))) {
            *out = all[i];
            return LEVI_OK;
        }
    return levi_error(LEVI_ERR_INVALID_ARG, "%s: '%s' is not a GEMM path (expected auto, clblast or openblas)",
                      what, name ? name : "");
}

int levi_gemm_have_openblas(void) {
#ifdef LEVI_HAVE_OPENBLAS
    return 1;
#else
    return 0;
#endif
}

int levi_gemm_openblas_applies(const levi_ctx *ctx, const char **why) {
#ifdef LEVI_HAVE_OPENBLAS
    return gemm_openblas_applies(ctx, why);
#else
    (void)ctx;
    if (why) *why = "liblevi was built without OpenBLAS";
    return 0;
#endif
}

levi_gemm_path levi_gemm_get_path(const levi_ctx *ctx) { return ctx->gemm ? ctx->gemm->path : LEVI_GEMM_CLBLAST; }

levi_status levi_gemm_set_path(levi_ctx *ctx, levi_gemm_path path) {
    const char *why = NULL;
    int blas = levi_gemm_openblas_applies(ctx, &why);
    if (path == LEVI_GEMM_OPENBLAS && !blas)
        return levi_error(LEVI_ERR_UNSUPPORTED, "GEMM through OpenBLAS on '%s': %s", ctx->info.name, why);
    if (path == LEVI_GEMM_AUTO) path = blas ? LEVI_GEMM_OPENBLAS : LEVI_GEMM_CLBLAST;
#ifdef LEVI_HAVE_OPENBLAS
    if (path == LEVI_GEMM_OPENBLAS) gemm_openblas_ctx_init(ctx);
#endif
    ctx->gemm->path = path;
    return LEVI_OK;
}

levi_status levi_gemm_ctx_init(levi_ctx *ctx, int apply_tuning) {
    levi_gemm_state *s = calloc(1, sizeof *s);
    if (!s) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        free(s);
        return levi_error(LEVI_ERR_HOST_MEMORY, "cannot create the GEMM lock of '%s'", ctx->info.name);
    }
    s->path = LEVI_GEMM_CLBLAST;
    ctx->gemm = s;
    levi_gemm_path want = LEVI_GEMM_AUTO;
    const char *env = getenv("LEVI_GEMM");
    levi_status st = env && *env ? levi_gemm_path_parse(env, "LEVI_GEMM", &want) : LEVI_OK;
    if (st == LEVI_OK) st = levi_gemm_set_path(ctx, want);
    if (st == LEVI_OK) st = gemm_clblast_ctx_init(ctx, apply_tuning); /* on every path: a call may fall back */
    if (st != LEVI_OK) {
        pthread_mutex_destroy(&s->lock);
        free(s);
        ctx->gemm = NULL;
        return st;
    }
    const char *why = NULL;
    levi_gemm_openblas_applies(ctx, &why);
    LEVI_DEBUG("GEMM on '%s': %s%s%s", ctx->info.name, levi_gemm_path_name(s->path),
               s->path == LEVI_GEMM_CLBLAST && why ? " (OpenBLAS: " : "",
               s->path == LEVI_GEMM_CLBLAST && why ? why : "");
    return LEVI_OK;
}

void levi_gemm_ctx_release(levi_ctx *ctx) {
    if (!ctx->gemm) return;
    gemm_clblast_ctx_release(ctx);
    pthread_mutex_destroy(&ctx->gemm->lock);
    free(ctx->gemm);
    ctx->gemm = NULL;
}

static levi_status run(levi_ctx *ctx, const gemm_call *g) {
    if (!ctx->gemm) return levi_error(LEVI_ERR_INVALID_ARG, "GEMM on a context that was not created by levi_ctx_create");
    levi_count_gemm(ctx); /* one per call, whichever path runs it */
#ifdef LEVI_HAVE_OPENBLAS
    if (ctx->gemm->path == LEVI_GEMM_OPENBLAS) {
        levi_status st = gemm_openblas(ctx, g);
        if (st != LEVI_ERR_UNSUPPORTED) return st;
    }
#endif
    return gemm_clblast(ctx, g);
}

/* Floats a packed rows x cols matrix spans. */
static size_t span(int rows, int cols) { return (size_t)rows * (size_t)cols; }

static levi_status check(const char *what, const gemm_call *g) {
    const char *bad = !g->A || !g->A->buf ? "A" : !g->B || !g->B->buf ? "B" : !g->C || !g->C->buf ? "C" : NULL;
    if (bad) return levi_error(LEVI_ERR_INVALID_ARG, "%s: operand %s is NULL", what, bad);
    size_t last = (size_t)g->batch - 1;
    size_t need_a = last * g->stride_a + span(g->M, g->K), need_b = last * g->stride_b + span(g->K, g->N),
           need_c = last * g->stride_c + span(g->M, g->N);
    if (g->A->numel < need_a || g->B->numel < need_b || g->C->numel < need_c)
        return levi_error(LEVI_ERR_SHAPE,
                          "%s %dx%dx%d x%d: operands of %zu, %zu, %zu floats are too small (need %zu, %zu, %zu)",
                          what, g->M, g->N, g->K, g->batch, g->A->numel, g->B->numel, g->C->numel, need_a, need_b,
                          need_c);
    return LEVI_OK;
}

levi_status levi_gemm(levi_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha,
                      const levi_tensor *A, const levi_tensor *B, float beta, const levi_tensor *C) {
    if (M <= 0 || N <= 0 || K <= 0)
        return levi_error(LEVI_ERR_INVALID_ARG, "GEMM with M=%d N=%d K=%d", M, N, K);
    gemm_call g = {.trans_a = trans_a, .trans_b = trans_b, .M = M, .N = N, .K = K, .batch = 1, .batched = 0,
                   .alpha = alpha, .beta = beta, .A = A, .B = B, .C = C,
                   .lda = trans_a ? (size_t)M : (size_t)K, .ldb = trans_b ? (size_t)K : (size_t)N, .ldc = (size_t)N};
    LEVI_TRY(check("GEMM", &g));
    return run(ctx, &g);
}

/* op's call, checked: leading dimensions (0: packed) at least the stored rows, operands large enough */
static levi_status make_call(const levi_gemm_op *op, gemm_call *g) {
    const int M = op->M, N = op->N, K = op->K, ta = op->trans_a, tb = op->trans_b;
    if (M <= 0 || N <= 0 || K <= 0) return levi_error(LEVI_ERR_INVALID_ARG, "GEMM with M=%d N=%d K=%d", M, N, K);
    const char *bad = !op->A || !op->A->buf ? "A" : !op->B || !op->B->buf ? "B" : !op->C || !op->C->buf ? "C" : NULL;
    if (bad) return levi_error(LEVI_ERR_INVALID_ARG, "GEMM: operand %s is NULL", bad);
    /* rows x cols of each stored operand, and the floats it spans with its leading dimension */
    size_t ra = ta ? (size_t)K : (size_t)M, ca = ta ? (size_t)M : (size_t)K;
    size_t rb = tb ? (size_t)N : (size_t)K, cb = tb ? (size_t)K : (size_t)N;
    size_t lda = op->lda ? op->lda : ca, ldb = op->ldb ? op->ldb : cb, ldc = op->ldc ? op->ldc : (size_t)N;
    if (lda < ca || ldb < cb || ldc < (size_t)N)
        return levi_error(LEVI_ERR_SHAPE, "GEMM %dx%dx%d: leading dimensions %zu, %zu, %zu below the rows' %zu, %zu, %d",
                          M, N, K, lda, ldb, ldc, ca, cb, N);
    size_t need_a = (ra - 1) * lda + ca, need_b = (rb - 1) * ldb + cb, need_c = (size_t)(M - 1) * ldc + (size_t)N;
    if (op->A->numel < need_a || op->B->numel < need_b || op->C->numel < need_c)
        return levi_error(LEVI_ERR_SHAPE,
                          "GEMM %dx%dx%d: operands of %zu, %zu, %zu floats are too small (need %zu, %zu, %zu)", M, N,
                          K, op->A->numel, op->B->numel, op->C->numel, need_a, need_b, need_c);
    *g = (gemm_call){.trans_a = ta, .trans_b = tb, .M = M, .N = N, .K = K, .batch = 1, .batched = 0,
                     .alpha = op->alpha, .beta = op->beta, .A = op->A, .B = op->B, .C = op->C,
                     .lda = lda, .ldb = ldb, .ldc = ldc};
    return LEVI_OK;
}

levi_status levi_gemm_ld(levi_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha,
                         const levi_tensor *A, size_t lda, const levi_tensor *B, size_t ldb, float beta,
                         const levi_tensor *C, size_t ldc) {
    levi_gemm_op op = {trans_a, trans_b, M, N, K, alpha, beta, A, B, C, lda, ldb, ldc};
    gemm_call g;
    LEVI_TRY(make_call(&op, &g));
    return run(ctx, &g);
}

levi_status levi_gemm2(levi_ctx *ctx, const levi_gemm_op *a, const levi_gemm_op *b) {
    gemm_call g[2];
    LEVI_TRY(make_call(a, &g[0]));
    LEVI_TRY(make_call(b, &g[1]));
    if (!ctx->gemm) return levi_error(LEVI_ERR_INVALID_ARG, "GEMM on a context that was not created by levi_ctx_create");
#ifdef LEVI_HAVE_OPENBLAS
    if (ctx->gemm->path == LEVI_GEMM_OPENBLAS) {
        levi_status st = gemm_openblas2(ctx, &g[0], &g[1]);
        if (st == LEVI_OK) {
            levi_count_gemm(ctx); /* one per product, as run counts */
            levi_count_gemm(ctx);
        }
        if (st != LEVI_ERR_UNSUPPORTED) return st;
    }
#endif
    LEVI_TRY(run(ctx, &g[0]));
    return run(ctx, &g[1]);
}

levi_status levi_gemm_batched(levi_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha,
                              const levi_tensor *A, size_t stride_a, const levi_tensor *B, size_t stride_b,
                              float beta, const levi_tensor *C, size_t stride_c, int batch) {
    if (M <= 0 || N <= 0 || K <= 0 || batch <= 0)
        return levi_error(LEVI_ERR_INVALID_ARG, "batched GEMM with M=%d N=%d K=%d batch=%d", M, N, K, batch);
    gemm_call g = {.trans_a = trans_a, .trans_b = trans_b, .M = M, .N = N, .K = K, .batch = batch, .batched = 1,
                   .alpha = alpha, .beta = beta, .A = A, .B = B, .C = C,
                   .stride_a = stride_a, .stride_b = stride_b, .stride_c = stride_c,
                   .lda = trans_a ? (size_t)M : (size_t)K, .ldb = trans_b ? (size_t)K : (size_t)N, .ldc = (size_t)N};
    LEVI_TRY(check("batched GEMM", &g));
    return run(ctx, &g);
}

/* The GEMM temporary buffer doubles as small op scratch (grad_clip's partial
 * sums): ops on one ctx run in queue order, so it is never in use twice. */
levi_status levi_ctx_scratch(levi_ctx *ctx, size_t bytes, cl_mem *out) {
    if (!ctx->gemm) return levi_error(LEVI_ERR_INVALID_ARG, "scratch on a context that was not created by levi_ctx_create");
    return gemm_clblast_scratch(ctx, bytes, out);
}
