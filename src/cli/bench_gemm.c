/* bench gemm: SGEMM GFLOP/s through levi_gemm (the context's path: CLBlast
 * or OpenBLAS, levi/gemm.h) on square sizes and the models' shapes
 * (bench_shapes.h), with an optional ratio against a reference document
 * (e.g. the OpenBLAS reference program's JSON) and the geometric means. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "bench_shapes.h"

typedef struct gemm_job {
    const bench_gemm_shape *s;
    levi_tensor A, B, C;
} gemm_job;

static levi_status run_gemm(levi_ctx *ctx, void *arg) {
    gemm_job *j = arg;
    const bench_gemm_shape *s = j->s;
    if (s->batch == 1) return levi_gemm(ctx, s->trans_a, s->trans_b, s->M, s->N, s->K, 1.0f, &j->A, &j->B, 0.0f, &j->C);
    return levi_gemm_batched(ctx, s->trans_a, s->trans_b, s->M, s->N, s->K, 1.0f, &j->A, (size_t)s->M * s->K, &j->B,
                             (size_t)s->K * s->N, 0.0f, &j->C, (size_t)s->M * s->N, s->batch);
}

levi_status bench_gemm_shape_time(levi_ctx *ctx, const bench_gemm_shape *s, double budget_s, bench_row *row) {
    gemm_job j = {.s = s};
    levi_status st = levi_tensor_alloc1(&j.A, ctx, s->M * s->K * s->batch);
    if (st == LEVI_OK) st = levi_tensor_alloc1(&j.B, ctx, s->K * s->N * s->batch);
    if (st == LEVI_OK) st = levi_tensor_alloc1(&j.C, ctx, s->M * s->N * s->batch);
    if (st == LEVI_OK) st = levi_tensor_fill(&j.A, 0.5f);
    if (st == LEVI_OK) st = levi_tensor_fill(&j.B, 0.25f);
    memset(row, 0, sizeof *row);
    if (st == LEVI_OK) st = bench_time(ctx, run_gemm, &j, budget_s, &row->st);
    levi_tensor_free(&j.A);
    levi_tensor_free(&j.B);
    levi_tensor_free(&j.C);
    LEVI_TRY(st);
    double flop = 2.0 * s->M * s->N * (double)s->K * s->batch;
    row->group = "gemm";
    snprintf(row->name, sizeof row->name, "%s", s->name);
    row->unit = "GFLOP/s";
    row->higher_is_better = 1;
    row->value = flop / row->st.median_s * 1e-9;
    row->best = flop / row->st.min_s * 1e-9;
    return LEVI_OK;
}

levi_status bench_gemm(levi_ctx *ctx, cJSON *doc, double budget_s, const cJSON *reference) {
    const char *path = levi_gemm_path_name(levi_gemm_get_path(ctx));
    cJSON_AddStringToObject(doc, "gemm_path", path);
    fprintf(stderr, "GEMM path on '%s': %s\n", ctx->info.name, path);
    bench_print_row(NULL, 0, reference != NULL);
    /* geometric means: of the values, and of the ratios to the reference
     * (at the median and at the best sample) over the shapes it has */
    double log_value = 0, log_ratio = 0, log_ratio_best = 0;
    int n_ratio = 0;
    for (int i = 0; i < BENCH_GEMM_NSHAPES; i++) {
        bench_row row;
        LEVI_TRY(bench_gemm_shape_time(ctx, &k_bench_gemm_shapes[i], budget_s / BENCH_GEMM_NSHAPES, &row));
        bench_doc_add(doc, &row);
        double ref = bench_doc_value(reference, "gemm", row.name);
        double ref_best = bench_doc_field(reference, "gemm", row.name, "best");
        bench_print_row(&row, ref, reference != NULL);
        log_value += log(row.value);
        if (ref > 0 && ref_best > 0) {
            log_ratio += log(row.value / ref);
            log_ratio_best += log(row.best / ref_best);
            n_ratio++;
        }
    }
    FILE *out = bench_table_stream();
    fprintf(out, "geometric mean over %d shapes: %.2f GFLOP/s", BENCH_GEMM_NSHAPES, exp(log_value / BENCH_GEMM_NSHAPES));
    if (n_ratio)
        fprintf(out, "; vs reference over %d shapes: %.2fx (medians), %.2fx (best samples)", n_ratio,
                exp(log_ratio / n_ratio), exp(log_ratio_best / n_ratio));
    fprintf(out, "\n");
    return LEVI_OK;
}
