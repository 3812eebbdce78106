/* LayerNorm (biased variance): launches of cl/norm.cl. Row statistics use a
 * work-group or a work-item per row (ops_use_rowwise); the weight and bias
 * gradients are column sums cut as ops_cols_plan says, with a second pass
 * (cl/reduce.cl) when the rows are split into chunks. */
#include <stdio.h>

#include "ops_internal.h"

static levi_status check_sizes(const char *op, int N, int C) {
    if (N <= 0 || C <= 0) return levi_error(LEVI_ERR_INVALID_ARG, "%s: N=%d C=%d must be positive", op, N, C);
    return LEVI_OK;
}

/* Row kernels of norm.cl share this tail: C, eps, then N (item per row) or
 * the __local scratch (group per row), and the launch. */
static levi_status run_rows(ops_kernel *k, int rowwise, size_t wg, int N, int C, const float *eps) {
    ops_arg_int(k, C);
    if (eps) ops_arg_float(k, *eps);
    if (rowwise) {
        ops_arg_int(k, N);
        return ops_run_items(k, (size_t)N);
    }
    ops_arg_local(k, wg * sizeof(float));
    return ops_run_groups(k, (size_t)N, wg);
}

/* The row kernel `name` of norm.cl, or its `name`_rowwise variant (an item
 * per row) where ops_use_rowwise says; *wg: the group size per row (1: rowwise). */
static ops_kernel row_kernel(levi_ctx *ctx, const char *name, int N, int C, int *rowwise, size_t *wg) {
    char full[96];
    *rowwise = ops_use_rowwise(ctx, N, C);
    snprintf(full, sizeof full, "%s%s", name, *rowwise ? "_rowwise" : "");
    ops_kernel k = ops_kernel_get(ctx, "norm", full);
    *wg = *rowwise ? 1 : ops_row_wg(&k, C);
    return k;
}

/* inp, out (N,C); w, b (C); mean, rstd (N) */
levi_status levi_layernorm_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *mean,
                                   const levi_tensor *rstd, const levi_tensor *inp, const levi_tensor *w,
                                   const levi_tensor *b, int N, int C, float eps) {
    const char *op = "layernorm_forward";
    LEVI_TRY(check_sizes(op, N, C));
    if (!(eps >= 0.0f)) return levi_error(LEVI_ERR_INVALID_ARG, "%s: eps=%g must be >= 0", op, (double)eps);
    LEVI_TRY(ops_need(op, "out", out, (size_t)N * C));
    LEVI_TRY(ops_need(op, "mean", mean, (size_t)N));
    LEVI_TRY(ops_need(op, "rstd", rstd, (size_t)N));
    LEVI_TRY(ops_need(op, "inp", inp, (size_t)N * C));
    LEVI_TRY(ops_need(op, "w", w, (size_t)C));
    LEVI_TRY(ops_need(op, "b", b, (size_t)C));
    int rowwise;
    size_t wg;
    ops_kernel k = row_kernel(ctx, "layernorm_forward", N, C, &rowwise, &wg);
    ops_arg_tensor(&k, out);
    ops_arg_tensor(&k, mean);
    ops_arg_tensor(&k, rstd);
    ops_arg_tensor(&k, inp);
    ops_arg_tensor(&k, w);
    ops_arg_tensor(&k, b);
    return run_rows(&k, rowwise, wg, N, C, &eps);
}

/* sum (N,C) = a + b + bias (C, may be NULL); out = layernorm(sum) with w, lb (C); mean, rstd (N) */
levi_status levi_residual_layernorm_forward(levi_ctx *ctx, const levi_tensor *sum, const levi_tensor *out,
                                            const levi_tensor *mean, const levi_tensor *rstd, const levi_tensor *a,
                                            const levi_tensor *b, const levi_tensor *bias, const levi_tensor *w,
                                            const levi_tensor *lb, int N, int C, float eps) {
    const char *op = "residual_layernorm_forward";
    LEVI_TRY(check_sizes(op, N, C));
    if (!(eps >= 0.0f)) return levi_error(LEVI_ERR_INVALID_ARG, "%s: eps=%g must be >= 0", op, (double)eps);
    const size_t n = (size_t)N * C;
    LEVI_TRY(ops_need(op, "sum", sum, n));
    LEVI_TRY(ops_need(op, "out", out, n));
    LEVI_TRY(ops_need(op, "mean", mean, (size_t)N));
    LEVI_TRY(ops_need(op, "rstd", rstd, (size_t)N));
    LEVI_TRY(ops_need(op, "a", a, n));
    LEVI_TRY(ops_need(op, "b", b, n));
    if (bias) LEVI_TRY(ops_need(op, "bias", bias, (size_t)C));
    LEVI_TRY(ops_need(op, "w", w, (size_t)C));
    LEVI_TRY(ops_need(op, "lb", lb, (size_t)C));
    int rowwise;
    size_t wg;
    ops_kernel k = row_kernel(ctx, "residual_layernorm_forward", N, C, &rowwise, &wg);
    ops_arg_tensor(&k, sum);
    ops_arg_tensor(&k, out);
    ops_arg_tensor(&k, mean);
    ops_arg_tensor(&k, rstd);
    ops_arg_tensor(&k, a);
    ops_arg_tensor(&k, b);
    ops_arg_tensor(&k, bias ? bias : w);
    ops_arg_int(&k, bias != NULL);
    ops_arg_tensor(&k, w);
    ops_arg_tensor(&k, lb);
    return run_rows(&k, rowwise, wg, N, C, &eps);
}

/* dw, db (C) += Σ_rows dout*xhat, Σ_rows dout (either may be NULL) */
static levi_status params_backward(levi_ctx *ctx, const levi_tensor *dw, const levi_tensor *db,
                                   const levi_tensor *dout, const levi_tensor *inp, const levi_tensor *mean,
                                   const levi_tensor *rstd, int N, int C) {
    const int cpu = ops_is_cpu(ctx);
    ops_kernel k =
        ops_kernel_get(ctx, "norm", cpu ? "layernorm_backward_params_stream" : "layernorm_backward_params");
    ops_cols_shape p;
    ops_cols_plan(ctx, cpu ? 1 : ops_kernel_wg(&k, 256), 1, N, C, &p);
    /* one chunk: straight into dw/db; else partial rows dw_part (G,C), db_part (G,C) in scratch */
    levi_tensor part = {0}, pw, pb;
    if (p.chunks > 1) {
        LEVI_TRY(ops_scratch(ctx, 2 * (size_t)p.chunks * C, &part));
        pw = pb = part;
        pb.offset += (size_t)p.chunks * C;
        pw.numel = pb.numel = (size_t)p.chunks * C;
    }
    const levi_tensor *dummy = dw ? dw : db;
    ops_arg_tensor(&k, p.chunks > 1 ? &pw : dw ? dw : dummy);
    ops_arg_tensor(&k, p.chunks > 1 ? &pb : db ? db : dummy);
    ops_arg_int(&k, C);
    ops_arg_int(&k, dw != NULL);
    ops_arg_int(&k, db != NULL);
    ops_arg_int(&k, p.chunks == 1);
    ops_arg_tensor(&k, dout);
    ops_arg_tensor(&k, inp);
    ops_arg_tensor(&k, mean);
    ops_arg_tensor(&k, rstd);
    ops_arg_int(&k, N);
    ops_arg_int(&k, C);
    ops_arg_int(&k, p.chunk);
    if (cpu) {
        size_t global = (size_t)p.chunks, local = 1; /* an item per group streams its rows (reduce.c) */
        LEVI_TRY(ops_run(&k, 1, &global, &local));
    } else {
        ops_arg_local(&k, 2 * p.lx * p.ly * sizeof(float));
        size_t local[2] = {p.lx, p.ly}, global[2] = {((size_t)C + p.lx - 1) / p.lx * p.lx, (size_t)p.chunks * p.ly};
        LEVI_TRY(ops_run(&k, 2, global, local));
    }
    if (p.chunks == 1) return LEVI_OK;
    if (dw) LEVI_TRY(ops_sum_partials(ctx, &p, dw, 0, &pw, 0, 1, p.chunks, C, 1.0f, 1));
    if (db) LEVI_TRY(ops_sum_partials(ctx, &p, db, 0, &pb, 0, 1, p.chunks, C, 1.0f, 1));
    return LEVI_OK;
}

/* dinp (N,C), dw, db (C) accumulate; any may be NULL */
levi_status levi_layernorm_backward(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *dw,
                                    const levi_tensor *db, const levi_tensor *dout, const levi_tensor *inp,
                                    const levi_tensor *w, const levi_tensor *mean, const levi_tensor *rstd, int N,
                                    int C) {
    const char *op = "layernorm_backward";
    LEVI_TRY(check_sizes(op, N, C));
    LEVI_TRY(ops_need(op, "dout", dout, (size_t)N * C));
    LEVI_TRY(ops_need(op, "inp", inp, (size_t)N * C));
    LEVI_TRY(ops_need(op, "mean", mean, (size_t)N));
    LEVI_TRY(ops_need(op, "rstd", rstd, (size_t)N));
    if (dinp) {
        LEVI_TRY(ops_need(op, "dinp", dinp, (size_t)N * C));
        LEVI_TRY(ops_need(op, "w", w, (size_t)C));
        int rowwise;
        size_t wg;
        ops_kernel k = row_kernel(ctx, "layernorm_backward_input", N, C, &rowwise, &wg);
        ops_arg_tensor(&k, dinp);
        ops_arg_tensor(&k, dout);
        ops_arg_tensor(&k, inp);
        ops_arg_tensor(&k, w);
        ops_arg_tensor(&k, mean);
        ops_arg_tensor(&k, rstd);
        LEVI_TRY(run_rows(&k, rowwise, wg, N, C, NULL));
    }
    if (!dw && !db) return LEVI_OK;
    if (dw) LEVI_TRY(ops_need(op, "dw", dw, (size_t)C));
    if (db) LEVI_TRY(ops_need(op, "db", db, (size_t)C));
    return params_backward(ctx, dw, db, dout, inp, mean, rstd, N, C);
}
