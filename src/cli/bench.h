/* Shared pieces of `levi-cl bench` and `levi-cl tune`: timing calibrated to a
 * budget, result rows, and the JSON document they are written to.
 *
 * Every timing is wall clock around a batch of enqueued runs followed by
 * clFinish (a CLBlast event covers only its last kernel), after a warm-up
 * run that also pays for compilation. */
#ifndef LEVI_CLI_BENCH_H
#define LEVI_CLI_BENCH_H

#include <cjson/cJSON.h>

#include "cli.h"

/* Enqueue one run of the thing being timed; the timer waits with clFinish. */
typedef levi_status (*bench_fn)(levi_ctx *ctx, void *arg);

typedef struct bench_stats {
    double median_s, min_s, max_s; /* seconds per run */
    int samples;                   /* timed samples (each of `reps` runs) */
    int reps;                      /* runs per sample */
} bench_stats;


/* Warm up (one run + clFinish), then time samples of `reps` runs each, where
 * reps makes a sample last ≥ ~2 ms and the sample count (3..200) fills
 * budget_s. */
levi_status bench_time(levi_ctx *ctx, bench_fn fn, void *arg, double budget_s, bench_stats *out);

/* The same for runs that span several queues: run enqueues one, finish
 * waits for all of it. With comm, rank 0's run and sample counts are every
 * rank's, so that all take the same steps (NULL: this process alone). */
typedef struct bench_timer {
    levi_status (*run)(void *arg);
    levi_status (*finish)(void *arg);
    void *arg;
} bench_timer;
levi_status bench_time_runs(const bench_timer *tm, levi_comm *comm, double budget_s, bench_stats *out);

/* One result row. value is the headline metric at the median time. */
typedef struct bench_row {
    const char *group; /* "gemm", "bandwidth", "ops", "train", "startup" */
    char name[96];
    const char *unit;  /* "GFLOP/s", "GB/s", "samples/s", "ms" */
    int higher_is_better;
    double value, best; /* at the median / at the best sample */
    bench_stats st;
} bench_row;

/* A results document: {"levi_version", "device": {...}, "date", "results": [rows]}. */
cJSON *bench_doc_new(const levi_device_info *d, const char *tool);
void bench_doc_add(cJSON *doc, const bench_row *row);
/* Write the document atomically to `path` (NULL or "-": stdout). */
levi_status bench_doc_write(cJSON *doc, const char *path);
/* The device object of a results document, for other writers. */
cJSON *bench_device_json(const levi_device_info *d);

/* Where the table goes (default stdout). */
void bench_set_table_stream(FILE *f);
FILE *bench_table_stream(void);

/* Print one row as a table line (header when row is NULL); ref_value > 0 adds
 * a ratio column against a reference. */
void bench_print_row(const bench_row *row, double ref_value, int with_ref);

/* Load a results document (validated) and find a row's value by group+name;
 * returns 0 when absent. */
levi_status bench_doc_load(const char *path, cJSON **doc);
double bench_doc_value(const cJSON *doc, const char *group, const char *name);
/* The same for another numeric field of the row ("best", "median_s", ...). */
double bench_doc_field(const cJSON *doc, const char *group, const char *name, const char *field);

/* Time one GEMM shape (bench_shapes.h) into a "gemm" row. */
struct bench_gemm_shape;
levi_status bench_gemm_shape_time(levi_ctx *ctx, const struct bench_gemm_shape *s, double budget_s, bench_row *row);

/* The groups. Each appends rows to doc (and prints them); budget_s is the
 * whole group's time budget. */
levi_status bench_gemm(levi_ctx *ctx, cJSON *doc, double budget_s, const cJSON *reference);
levi_status bench_bandwidth(levi_ctx *ctx, cJSON *doc, double budget_s);
levi_status bench_ops(levi_ctx *ctx, cJSON *doc, double budget_s);
levi_status bench_startup(const cli_env *env, cJSON *doc, double budget_s);
/* Options of the train group (levi-cl bench train --model M --batch N --profile --methods all). */
typedef struct bench_train_opts {
    const char *model; /* vit-tiny (the demo's, default), vit-s16, vit-b16 */
    int batch;         /* 0: 64; -1: the largest that fits every row */
    int profile;       /* per-step counters and kernel device times in every row */
    const char *methods; /* "all", "default" (NULL: the four compared with PyTorch) or keys: "ft,levi-cache" */
    int plan;            /* print every row's memory plan and stop (nothing is allocated) */
} bench_train_opts;
/* A model of the train group: random weights (seeded), task model and
 * adapters of the defaults, for batches up to B. */
levi_status bench_train_make_model(levi_ctx *ctx, const levi_vit_config *vc, levi_method method, levi_fusion fusion,
                                   int B, levi_model **out);
/* The train group over the devices of --devices and the ranks of mpirun
 * (bench_train_multi.c): a whole `bench train` run that writes its table and
 * JSON on rank 0. */
int bench_train_multi(const cli_env *env, const char *devices, double budget, int json, const char *out_path,
                      const bench_train_opts *o);
levi_status bench_train(levi_ctx *ctx, cJSON *doc, double budget_s, const bench_train_opts *o);
/* The ViT configuration of a --model name (NULL: vit-tiny). */
levi_status bench_train_model_config(const char *name, levi_vit_config *vc);
/* `levi-cl bench data ...` (argv[0] is "data"): the data loader on the host; no device. */
int bench_data(int argc, char **argv);

/* `levi-cl bench --compare [--best] A.json B.json ...`: side-by-side table
 * of the median-based values, or with --best of the best samples'. */
int bench_compare(int n, char **paths);

#endif
