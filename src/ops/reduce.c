/* Column and row sums as parallel trees (cl/reduce.cl): the shape and the
 * number of passes come from the device's type, compute units and work-group
 * limits.
 *
 * Columns: the rows are split into G chunks so that there are work-groups
 * enough to fill the device (GPU: 8 per compute unit, each LX columns wide;
 * CPU: 4 per core, each streaming whole rows); with G > 1 the first pass
 * writes G partial rows into the ctx scratch and a second launch sums them. */
#include "ops_internal.h"

/* Groups per compute unit to aim for: GPUs hide latency with many. */
enum { GPU_GROUPS_PER_CU = 8, CPU_ITEMS_PER_CU = 4 };

int ops_is_cpu(const levi_ctx *ctx) { return (ctx->info.type & CL_DEVICE_TYPE_CPU) != 0; }

void ops_cols_plan(levi_ctx *ctx, size_t max_wg, int batch, int nrows, int ncols, ops_cols_shape *p) {
    size_t cu = ctx->info.compute_units ? ctx->info.compute_units : 1;
    p->cpu = ops_is_cpu(ctx);
    size_t across; /* work-groups (GPU) or items (CPU) for one chunk of every batch */
    if (p->cpu) {
        p->lx = p->ly = 1;
        across = (size_t)batch;
        size_t want = CPU_ITEMS_PER_CU * cu;
        p->chunks = across >= want ? 1 : (int)((want + across - 1) / across);
    } else {
        /* LX columns wide (coalesced rows), LY row lanes: LX*LY within the kernel's limit */
        size_t wg = max_wg < 1 ? 1 : max_wg;
        p->lx = ctx->wg < wg ? ctx->wg : wg;
        if (p->lx > 32 && ncols <= 32) p->lx = 32;
        p->ly = wg / p->lx;
        across = (size_t)((ncols + (int)p->lx - 1) / (int)p->lx) * (size_t)batch;
        size_t want = GPU_GROUPS_PER_CU * cu;
        p->chunks = across >= want ? 1 : (int)((want + across - 1) / across);
    }
    /* every chunk keeps at least 8 rows per lane: fewer makes the second pass the larger;
     * on CPUs at least 16384 values (less costs less than the second launch) */
    int min_rows = 8 * (int)p->ly;
    if (p->cpu && ncols > 0 && min_rows < 16384 / ncols) min_rows = 16384 / ncols;
    int most = (nrows + min_rows - 1) / min_rows;
    if (p->chunks > most) p->chunks = most;
    if (p->chunks < 1) p->chunks = 1;
    p->chunk = (nrows + p->chunks - 1) / p->chunks;
    p->chunks = (nrows + p->chunk - 1) / p->chunk;
}

/* One launch of reduce_cols / reduce_cols_tile with a given chunking. */
static levi_status cols_pass(levi_ctx *ctx, const ops_cols_shape *p, const levi_tensor *dst, size_t dst_bs, int dst_ld,
                             const levi_tensor *src, size_t src_bs, int batch, int nrows, int ncols, int ld,
                             int chunk, int chunks, float alpha, int accumulate) {
    ops_kernel k = ops_kernel_get(ctx, "reduce", p->cpu ? "reduce_cols_stream" : "reduce_cols");
    ops_arg_tensor(&k, dst);
    ops_arg_ulong(&k, dst_bs);
    ops_arg_int(&k, dst_ld);
    ops_arg_tensor(&k, src);
    ops_arg_ulong(&k, src_bs);
    ops_arg_int(&k, ld);
    ops_arg_int(&k, nrows);
    ops_arg_int(&k, ncols);
    ops_arg_int(&k, chunk);
    ops_arg_float(&k, alpha);
    ops_arg_int(&k, accumulate);
    if (p->cpu) {
        /* an item per group: it streams whole rows (PoCL runs a group on one thread) */
        size_t global[2] = {(size_t)chunks, (size_t)batch}, local[2] = {1, 1};
        return ops_run(&k, 2, global, local);
    }
    ops_arg_local(&k, p->lx * p->ly * sizeof(float));
    size_t local[3] = {p->lx, p->ly, 1};
    size_t global[3] = {((size_t)ncols + p->lx - 1) / p->lx * p->lx, (size_t)chunks * p->ly, (size_t)batch};
    return ops_run(&k, 3, global, local);
}

size_t ops_cols_max_wg(levi_ctx *ctx) {
    if (ops_is_cpu(ctx)) return 1;
    ops_kernel k = ops_kernel_get(ctx, "reduce", "reduce_cols");
    return ops_kernel_wg(&k, 256);
}

levi_status ops_sum_cols(levi_ctx *ctx, const levi_tensor *dst, size_t dst_bs, const levi_tensor *src, size_t src_bs,
                         int batch, int nrows, int ncols, int ld, float alpha, int accumulate) {
    ops_cols_shape p;
    ops_cols_plan(ctx, ops_cols_max_wg(ctx), batch, nrows, ncols, &p);
    if (p.chunks == 1)
        return cols_pass(ctx, &p, dst, dst_bs, ncols, src, src_bs, batch, nrows, ncols, ld, nrows, 1, alpha,
                         accumulate);
    levi_tensor part;
    LEVI_TRY(ops_scratch(ctx, (size_t)batch * p.chunks * ncols, &part));
    const size_t part_bs = (size_t)p.chunks * ncols;
    LEVI_TRY(cols_pass(ctx, &p, &part, part_bs, ncols, src, src_bs, batch, nrows, ncols, ld, p.chunk, p.chunks, 1.0f,
                       0));
    return ops_sum_partials(ctx, &p, dst, dst_bs, &part, part_bs, batch, p.chunks, ncols, alpha, accumulate);
}

levi_status ops_sum_partials(levi_ctx *ctx, const ops_cols_shape *p, const levi_tensor *dst, size_t dst_bs,
                             const levi_tensor *part, size_t part_bs, int batch, int chunks, int ncols, float alpha,
                             int accumulate) {
    return cols_pass(ctx, p, dst, dst_bs, ncols, part, part_bs, batch, chunks, ncols, ncols, chunks, 1, alpha,
                     accumulate);
}

levi_status ops_sum_rows(levi_ctx *ctx, const levi_tensor *dst, const levi_tensor *src, int nrows, int ncols, int ld,
                         float alpha, int accumulate) {
    const int item = ops_use_rowwise(ctx, nrows, ncols);
    ops_kernel k = ops_kernel_get(ctx, "reduce", item ? "reduce_rows_item" : "reduce_rows");
    size_t wg = item ? 1 : ops_kernel_wg(&k, 256);
    ops_arg_tensor(&k, dst);
    ops_arg_tensor(&k, src);
    ops_arg_int(&k, ld);
    ops_arg_int(&k, ncols);
    ops_arg_float(&k, alpha);
    ops_arg_int(&k, accumulate);
    if (item) {
        ops_arg_int(&k, nrows);
        return ops_run_items(&k, (size_t)nrows);
    }
    ops_arg_local(&k, wg * sizeof(float));
    return ops_run_groups(&k, (size_t)nrows, wg);
}

levi_status ops_scratch(levi_ctx *ctx, size_t numel, levi_tensor *out) {
    cl_mem buf;
    LEVI_TRY(levi_ctx_scratch(ctx, numel * sizeof(float), &buf));
    int shape[2] = {(int)((numel + 63) / 64), 64};
    *out = levi_tensor_view(ctx, buf, 0, 2, shape);
    out->numel = numel;
    return LEVI_OK;
}
