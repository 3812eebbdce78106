/* GEMM internals shared by gemm.c (entry points, checks, path choice),
 * gemm_clblast.c and gemm_openblas.c. */
#ifndef LEVI_GEMM_INTERNAL_H
#define LEVI_GEMM_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "levi/gemm.h"
#include "ops_internal.h"

/* Per-context GEMM state (levi_ctx.gemm). */
typedef struct levi_gemm_state {
    pthread_mutex_t lock; /* this ctx's CLBlast calls and its temporary buffer */
    levi_gemm_path path;  /* never LEVI_GEMM_AUTO once initialised */
    /* generation of CLBlast's parameters at this ctx's last call of each
     * routine (0 plain GEMM, 1 strided batched): when it equals the current
     * generation the routine is compiled for this ctx and a call only reads
     * CLBlast's caches (gemm_clblast.c) */
    unsigned warm[2];
    atomic_int blas_fault;       /* an OpenBLAS GEMM found addresses it could not match */
} levi_gemm_state;

/* One (batched) GEMM, checked by gemm.c: row-major, batch >= 1, leading
 * dimensions of packed matrices, strides and offsets in floats (size_t). */
typedef struct gemm_call {
    int trans_a, trans_b, M, N, K, batch;
    int batched; /* 1 from levi_gemm_batched (CLBlast's strided batched routine) */
    float alpha, beta;
    const levi_tensor *A, *B, *C;
    size_t stride_a, stride_b, stride_c;
    size_t lda, ldb, ldc;
} gemm_call;

levi_status gemm_clblast(levi_ctx *ctx, const gemm_call *g);
levi_status gemm_clblast_scratch(levi_ctx *ctx, size_t bytes, cl_mem *out);
/* Register / unregister a ctx with CLBlast's process-wide caches. */
levi_status gemm_clblast_ctx_init(levi_ctx *ctx, int apply_tuning);
void gemm_clblast_ctx_release(levi_ctx *ctx);

/* OpenBLAS inside the queue. gemm_openblas returns LEVI_ERR_UNSUPPORTED
 * (message unset) for operands it cannot address (sub-buffers); the caller
 * then runs the call through CLBlast. */
int gemm_openblas_applies(const levi_ctx *ctx, const char **why);
levi_status gemm_openblas(levi_ctx *ctx, const gemm_call *g);
/* g, then g2 (independent of g) in one native kernel: side by side when small */
levi_status gemm_openblas2(levi_ctx *ctx, const gemm_call *g, const gemm_call *g2);
void gemm_openblas_ctx_init(levi_ctx *ctx);

#endif
