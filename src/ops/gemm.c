/* GEMM through CLBlast, row-major, with a per-context temporary buffer.
 *
 * CLBlast 1.5.3 compiles a routine's kernels on its first call and that path
 * is not thread-safe, so calls into CLBlast are serialized by one mutex; the
 * calls only enqueue work, so this costs nothing measurable. */
#include <clblast_c.h>
#include <pthread.h>

#include "levi/log.h"
#include "ops_internal.h"

static pthread_mutex_t g_clblast_lock = PTHREAD_MUTEX_INITIALIZER;

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

levi_status levi_gemm(levi_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha,
                      const levi_tensor *A, const levi_tensor *B, float beta, const levi_tensor *C) {
    if (M <= 0 || N <= 0 || K <= 0)
        return levi_error(LEVI_ERR_INVALID_ARG, "GEMM with M=%d N=%d K=%d", M, N, K);
    if (A->numel < (size_t)M * K || B->numel < (size_t)K * N || C->numel < (size_t)M * N)
        return levi_error(LEVI_ERR_SHAPE, "GEMM %dx%dx%d: operands of %zu, %zu, %zu elements are too small", M, N,
                          K, A->numel, B->numel, C->numel);
    size_t lda = trans_a ? (size_t)M : (size_t)K;
    size_t ldb = trans_b ? (size_t)K : (size_t)N;
    size_t ldc = (size_t)N;
    size_t temp = 0;
    /* operands reaching 2^31 floats into their buffer go in as sub-buffers (32-bit offsets) */
    cl_event ev; /* profiling only; CLBlast's event covers its last kernel */
    levi_count_gemm(ctx);
    ops_operand o[3] = {{0}, {0}, {0}};
    const levi_tensor *t[3] = {A, B, C};
    const size_t ext[3] = {(size_t)M * K, (size_t)K * N, (size_t)M * N};
    levi_status st = LEVI_OK;
    for (int i = 0; i < 3 && st == LEVI_OK; i++) st = ops_operand_open(ctx, t[i], ext[i], &o[i]);
    if (st != LEVI_OK) {
        for (int i = 0; i < 3; i++) ops_operand_close(&o[i]);
        return st;
    }
    pthread_mutex_lock(&g_clblast_lock);
    CLBlastStatusCode rc = CLBlastSGemmTempBufferSize(CLBlastLayoutRowMajor, tr(trans_a), tr(trans_b), M, N, K,
                                                      o[0].offset, lda, o[1].offset, ldb, o[2].offset, ldc,
                                                      &ctx->queue,
                                                      &temp);
    if (rc != CLBlastSuccess) st = levi_error(rc, "CLBlastSGemmTempBufferSize: %s", levi_status_name(rc));
    if (st == LEVI_OK && temp) st = ensure_temp(ctx, temp);
    if (st == LEVI_OK) {
        rc = CLBlastSgemmWithTempBuffer(CLBlastLayoutRowMajor, tr(trans_a), tr(trans_b), M, N, K, alpha, o[0].buf,
                                        o[0].offset, lda, o[1].buf, o[1].offset, ldb, beta, o[2].buf,
                                        o[2].offset, ldc,
                                        &ctx->queue, levi_profile_event(ctx, &ev), temp ? ctx->gemm_temp : NULL);
        levi_profile_track(ctx, "sgemm (CLBlast)", &ev);
        if (rc != CLBlastSuccess)
            st = levi_error(rc, "CLBlastSgemm %dx%dx%d (trans %d%d) on '%s': %s", M, N, K, trans_a, trans_b,
                            ctx->info.name, levi_status_name(rc));
    }
    pthread_mutex_unlock(&g_clblast_lock);
    for (int i = 0; i < 3; i++) ops_operand_close(&o[i]);
    return st;
}

levi_status levi_gemm_batched(levi_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha,
                              const levi_tensor *A, size_t stride_a, const levi_tensor *B, size_t stride_b,
                              float beta, const levi_tensor *C, size_t stride_c, int batch) {
    if (M <= 0 || N <= 0 || K <= 0 || batch <= 0)
        return levi_error(LEVI_ERR_INVALID_ARG, "batched GEMM with M=%d N=%d K=%d batch=%d", M, N, K, batch);
    size_t lda = trans_a ? (size_t)M : (size_t)K;
    size_t ldb = trans_b ? (size_t)K : (size_t)N;
    size_t ldc = (size_t)N;
    cl_event ev; /* profiling only */
    levi_count_gemm(ctx);
    ops_operand o[3] = {{0}, {0}, {0}};
    const levi_tensor *t[3] = {A, B, C};
    const size_t ext[3] = {stride_a * (size_t)(batch - 1) + (size_t)M * K,
                           stride_b * (size_t)(batch - 1) + (size_t)K * N,
                           stride_c * (size_t)(batch - 1) + (size_t)M * N};
    levi_status st = LEVI_OK;
    for (int i = 0; i < 3 && st == LEVI_OK; i++) st = ops_operand_open(ctx, t[i], ext[i], &o[i]);
    CLBlastStatusCode rc = CLBlastSuccess;
    if (st == LEVI_OK) {
        pthread_mutex_lock(&g_clblast_lock);
        rc = CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, tr(trans_a), tr(trans_b), M, N, K, alpha, o[0].buf,
                                        o[0].offset, lda, stride_a, o[1].buf, o[1].offset, ldb, stride_b, beta,
                                        o[2].buf, o[2].offset, ldc, stride_c, (size_t)batch, &ctx->queue,
                                        levi_profile_event(ctx, &ev));
        pthread_mutex_unlock(&g_clblast_lock);
        levi_profile_track(ctx, "sgemm_batched (CLBlast)", &ev);
    }
    for (int i = 0; i < 3; i++) ops_operand_close(&o[i]);
    LEVI_TRY(st);
    if (rc != CLBlastSuccess)
        return levi_error(rc, "CLBlastSgemmStridedBatched %dx%dx%d x%d on '%s': %s", M, N, K, batch,
                          ctx->info.name, levi_status_name(rc));
    return LEVI_OK;
}

/* The GEMM temporary buffer doubles as small op scratch (grad_clip's partial
 * sums): ops on one ctx run in queue order, so it is never in use twice. */
levi_status levi_ctx_scratch(levi_ctx *ctx, size_t bytes, cl_mem *out) {
    pthread_mutex_lock(&g_clblast_lock);
    levi_status st = ensure_temp(ctx, bytes);
    *out = ctx->gemm_temp;
    pthread_mutex_unlock(&g_clblast_lock);
    return st;
}
