/* The GEMM parameter search behind `levi-cl tune gemm` (bench_tune.c). */
#ifndef LEVI_CLI_BENCH_TUNE_H
#define LEVI_CLI_BENCH_TUNE_H

#include "cli.h"
#include "levi/tuning.h"

#include <pthread.h>

typedef struct tune_report {
    int tried, valid, rejected; /* candidates */
    double defaults, tuned;     /* GFLOP/s, geometric mean over the bench shapes (not square 1024, not batched):
                                   CLBlast's own kernels (best threshold), the chosen set */
    double seconds;
} tune_report;

/* The best complete set so far, published after every step that improves
 * it, for a watchdog that stores it when the budget ends mid-step. */
typedef struct tune_shared {
    pthread_mutex_t mu;
    int have; /* best and rep are valid */
    levi_tuning best;
    tune_report rep;
} tune_shared;

/* Search on ctx's device (which must have no overridden parameters yet, so
 * the defaults are CLBlast's own) until start + budget_s (levi_now_s()
 * clock); *best receives the chosen Xgemm + XgemmDirect + threshold set.
 * A step that starts in time may end after the budget: the caller enforces
 * the deadline with `shared`. */
levi_status bench_tune_gemm(levi_ctx *ctx, double start, double budget_s, tune_shared *shared, levi_tuning *best,
                            tune_report *rep);

#endif
