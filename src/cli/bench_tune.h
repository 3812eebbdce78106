/* The GEMM parameter search behind `levi-cl tune gemm` (bench_tune.c). */
#ifndef LEVI_CLI_BENCH_TUNE_H
#define LEVI_CLI_BENCH_TUNE_H

#include "cli.h"
#include "levi/tuning.h"

typedef struct tune_report {
    int tried, valid, rejected;   /* candidates */
    double defaults, tuned;       /* GFLOP/s, geometric mean over the bench shapes (but square 1024) */
    double seconds;
} tune_report;

/* Search within budget_s on ctx's device (which must have no overridden
 * parameters yet, so the defaults are CLBlast's own); *best receives the
 * chosen Xgemm + XgemmDirect + threshold set, already applied. */
levi_status bench_tune_gemm(levi_ctx *ctx, double budget_s, levi_tuning *best, tune_report *rep);

#endif
