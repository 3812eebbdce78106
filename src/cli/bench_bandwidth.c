/* bench bandwidth: device-to-device copy and host<->device transfer, GB/s.
 * A copy counts its bytes twice (read + write), as clpeak and STREAM do. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

typedef struct bw_job {
    cl_mem a, b;
    void *host;
    size_t bytes;
} bw_job;

static levi_status run_copy(levi_ctx *ctx, void *arg) {
    bw_job *j = arg;
    LEVI_CL_CHECK(clEnqueueCopyBuffer(ctx->queue, j->a, j->b, 0, 0, j->bytes, 0, NULL, NULL));
    return LEVI_OK;
}

static levi_status run_write(levi_ctx *ctx, void *arg) {
    bw_job *j = arg;
    LEVI_CL_CHECK(clEnqueueWriteBuffer(ctx->queue, j->a, CL_FALSE, 0, j->bytes, j->host, 0, NULL, NULL));
    return LEVI_OK;
}

static levi_status run_read(levi_ctx *ctx, void *arg) {
    bw_job *j = arg;
    LEVI_CL_CHECK(clEnqueueReadBuffer(ctx->queue, j->a, CL_FALSE, 0, j->bytes, j->host, 0, NULL, NULL));
    return LEVI_OK;
}

levi_status bench_bandwidth(levi_ctx *ctx, cJSON *doc, double budget_s) {
    bw_job j = {0};
    j.bytes = 64u << 20;
    if (j.bytes > ctx->info.max_alloc / 2) j.bytes = (size_t)(ctx->info.max_alloc / 2);
    j.host = malloc(j.bytes);
    if (!j.host) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory (%zu bytes)", j.bytes);
    memset(j.host, 1, j.bytes);
    levi_status st = levi_buffer_alloc(ctx, j.bytes, &j.a);
    if (st == LEVI_OK) st = levi_buffer_alloc(ctx, j.bytes, &j.b);
    struct {
        const char *name;
        bench_fn fn;
        double factor;
    } rows[] = {
        {"device copy", run_copy, 2.0},
        {"host to device", run_write, 1.0},
        {"device to host", run_read, 1.0},
    };
    bench_print_row(NULL, 0, 0);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0] && st == LEVI_OK; i++) {
        bench_row row;
        memset(&row, 0, sizeof row);
        st = bench_time(ctx, rows[i].fn, &j, budget_s / 3, &row.st);
        if (st != LEVI_OK) break;
        row.group = "bandwidth";
        snprintf(row.name, sizeof row.name, "%s %zu MiB", rows[i].name, j.bytes >> 20);
        row.unit = "GB/s";
        row.higher_is_better = 1;
        row.value = rows[i].factor * (double)j.bytes / row.st.median_s * 1e-9;
        row.best = rows[i].factor * (double)j.bytes / row.st.min_s * 1e-9;
        bench_doc_add(doc, &row);
        bench_print_row(&row, 0, 0);
    }
    if (j.a) clReleaseMemObject(j.a);
    if (j.b) clReleaseMemObject(j.b);
    free(j.host);
    return st;
}
