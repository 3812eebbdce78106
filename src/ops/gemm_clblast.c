/* GEMM through CLBlast, row-major, with a per-context temporary buffer.
 *
 * Locks. CLBlast 1.5.3 keeps process-wide caches (compiled programs per
 * context, binaries per device name, parameter databases per device) and
 * throws when two threads store the same entry, which two contexts on
 * identical devices compiling the same routine at the same time would do.
 * So a call that may compile (the first of a routine on a ctx since CLBlast's
 * parameters last changed) holds the process-wide g_compile; every other call
 * only reads those caches and holds just its ctx's lock: GEMMs on different
 * contexts never wait for each other once compiled. `levi-cl tune` overrides
 * parameters while it runs GEMMs on its single context.
 *
 * Teardown. CLBlast 1.5.3 can only clear its whole cache, and the programs
 * it keeps hold their context alive. Clearing at every levi_ctx_destroy made
 * every other live context recompile (seconds to a minute on PoCL), so the
 * cache is cleared when the last context is destroyed: a context destroyed
 * while others live keeps its compiled GEMM programs (and its cl_context)
 * until then.
 *
 * Offsets. CLBlast 1.5.3 hands offsets and strides to its kernels as int: an
 * operand that reaches 2^31 floats into its buffer goes in as a sub-buffer
 * that starts just before it (ops_operand_open). */
#include <clblast_c.h>
#include <limits.h>
#include <stdatomic.h>

#include "gemm_internal.h"
#include "levi/log.h"
#include "levi/tuning.h"

static pthread_mutex_t g_compile = PTHREAD_MUTEX_INITIALIZER;
static atomic_uint g_generation = 1; /* bumped when CLBlast's parameters change (under g_compile) */
static int g_live;                   /* contexts registered (under g_compile) */

static CLBlastTranspose tr(int t) { return t ? CLBlastTransposeYes : CLBlastTransposeNo; }

static levi_status ensure_temp(levi_ctx *ctx, size_t bytes) {
    if (bytes <= ctx->gemm_temp_bytes && ctx->gemm_temp) return LEVI_OK;
    /* grow geometrically so a sequence of shapes settles after a few calls */
    size_t want = bytes > 2 * ctx->gemm_temp_bytes ? bytes : 2 * ctx->gemm_temp_bytes;
    if (want < 4096) want = 4096;
    cl_mem m;
    LEVI_TRY(levi_buffer_alloc(ctx, want, &m));
    if (ctx->gemm_temp) clReleaseMemObject(ctx->gemm_temp);
    ctx->gemm_temp = m;
    ctx->gemm_temp_bytes = want;
    LEVI_DEBUG("GEMM temporary buffer grown to %zu bytes", want);
    return LEVI_OK;
}

static levi_status call_plain(levi_ctx *ctx, const gemm_call *g, const ops_operand *a, const ops_operand *b,
                              const ops_operand *c) {
    size_t temp = 0;
    cl_event ev; /* profiling only; CLBlast's event covers its last kernel */
    CLBlastStatusCode rc = CLBlastSGemmTempBufferSize(
        CLBlastLayoutRowMajor, tr(g->trans_a), tr(g->trans_b), (size_t)g->M, (size_t)g->N, (size_t)g->K, a->offset,
        g->lda, b->offset, g->ldb, c->offset, g->ldc, &ctx->queue, &temp);
    if (rc != CLBlastSuccess)
        return levi_error(rc, "CLBlastSGemmTempBufferSize on '%s': %s", ctx->info.name, levi_status_name(rc));
    if (temp) LEVI_TRY(ensure_temp(ctx, temp));
    rc = CLBlastSgemmWithTempBuffer(CLBlastLayoutRowMajor, tr(g->trans_a), tr(g->trans_b), (size_t)g->M,
                                    (size_t)g->N, (size_t)g->K, g->alpha, a->buf, a->offset, g->lda, b->buf,
                                    b->offset, g->ldb, g->beta, c->buf, c->offset, g->ldc, &ctx->queue,
                                    levi_profile_event(ctx, &ev), temp ? ctx->gemm_temp : NULL);
    levi_profile_track(ctx, "sgemm (CLBlast)", &ev);
    if (rc != CLBlastSuccess)
        return levi_error(rc, "CLBlastSgemm %dx%dx%d (trans %d%d) on '%s': %s", g->M, g->N, g->K, g->trans_a,
                          g->trans_b, ctx->info.name, levi_status_name(rc));
    return LEVI_OK;
}

static levi_status call_batched(levi_ctx *ctx, const gemm_call *g, const ops_operand *a, const ops_operand *b,
                                const ops_operand *c) {
    if (g->stride_a > INT_MAX || g->stride_b > INT_MAX || g->stride_c > INT_MAX)
        return levi_error(LEVI_ERR_UNSUPPORTED, "CLBlast batched GEMM on '%s': strides %zu, %zu, %zu exceed its int %d",
                          ctx->info.name, g->stride_a, g->stride_b, g->stride_c, INT_MAX);
    cl_event ev; /* profiling only */
    CLBlastStatusCode rc = CLBlastSgemmStridedBatched(
        CLBlastLayoutRowMajor, tr(g->trans_a), tr(g->trans_b), (size_t)g->M, (size_t)g->N, (size_t)g->K, g->alpha,
        a->buf, a->offset, g->lda, g->stride_a, b->buf, b->offset, g->ldb, g->stride_b, g->beta, c->buf, c->offset,
        g->ldc, g->stride_c, (size_t)g->batch, &ctx->queue, levi_profile_event(ctx, &ev));
    levi_profile_track(ctx, "sgemm_batched (CLBlast)", &ev);
    if (rc != CLBlastSuccess)
        return levi_error(rc, "CLBlastSgemmStridedBatched %dx%dx%d x%d on '%s': %s", g->M, g->N, g->K, g->batch,
                          ctx->info.name, levi_status_name(rc));
    return LEVI_OK;
}

static levi_status call(levi_ctx *ctx, const gemm_call *g) {
    size_t last = (size_t)g->batch - 1;
    const levi_tensor *t[3] = {g->A, g->B, g->C};
    const size_t ext[3] = {last * g->stride_a + (size_t)g->M * g->K, last * g->stride_b + (size_t)g->K * g->N,
                           last * g->stride_c + (size_t)g->M * g->N};
    ops_operand o[3] = {{0}, {0}, {0}};
    levi_status st = LEVI_OK;
    for (int i = 0; i < 3 && st == LEVI_OK; i++) st = ops_operand_open(ctx, t[i], ext[i], &o[i]);
    if (st == LEVI_OK) st = g->batched ? call_batched(ctx, g, &o[0], &o[1], &o[2]) : call_plain(ctx, g, &o[0], &o[1], &o[2]);
    for (int i = 0; i < 3; i++) ops_operand_close(&o[i]); /* the queued commands hold their own references */
    return st;
}

levi_status gemm_clblast(levi_ctx *ctx, const gemm_call *g) {
    levi_gemm_state *s = ctx->gemm;
    int routine = g->batched ? 1 : 0;
    pthread_mutex_lock(&s->lock);
    unsigned gen = atomic_load(&g_generation);
    int cold = s->warm[routine] != gen;
    if (cold) pthread_mutex_lock(&g_compile);
    levi_status st = call(ctx, g);
    if (cold) {
        if (st == LEVI_OK) s->warm[routine] = gen;
        pthread_mutex_unlock(&g_compile);
    }
    pthread_mutex_unlock(&s->lock);
    return st;
}

levi_status gemm_clblast_scratch(levi_ctx *ctx, size_t bytes, cl_mem *out) {
    pthread_mutex_lock(&ctx->gemm->lock);
    levi_status st = ensure_temp(ctx, bytes);
    *out = ctx->gemm_temp;
    pthread_mutex_unlock(&ctx->gemm->lock);
    return st;
}

levi_status gemm_clblast_ctx_init(levi_ctx *ctx, int apply_tuning) {
    pthread_mutex_lock(&g_compile);
    g_live++;
    /* tuned parameters, if stored (levi-cl tune): the override drops this
     * device's compiled programs, so every ctx compiles again */
    if (apply_tuning && levi_tuning_apply_stored(&ctx->info)) atomic_fetch_add(&g_generation, 1);
    pthread_mutex_unlock(&g_compile);
    return LEVI_OK;
}

void gemm_clblast_ctx_release(levi_ctx *ctx) {
    (void)ctx;
    pthread_mutex_lock(&g_compile);
    if (--g_live == 0) {
        /* release the programs while the contexts live: some runtimes
         * (Oclgrind) crash when they are released at exit */
        CLBlastClearCache();
        atomic_fetch_add(&g_generation, 1);
    }
    pthread_mutex_unlock(&g_compile);
}
