/* LayerNorm (biased variance): launches of cl/norm.cl; the row statistics
 * use a work-group or a work-item per row, as ops_use_rowwise decides. */
#include "ops_internal.h"

/* inp, out (N,C); w, b (C); mean, rstd (N) */
levi_status levi_layernorm_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *mean,
                                   const levi_tensor *rstd, const levi_tensor *inp, const levi_tensor *w,
                                   const levi_tensor *b, int N, int C, float eps) {
    const char *op = "layernorm_forward";
    if (N <= 0 || C <= 0) return levi_error(LEVI_ERR_INVALID_ARG, "%s: N=%d C=%d must be positive", op, N, C);
    if (!(eps >= 0.0f)) return levi_error(LEVI_ERR_INVALID_ARG, "%s: eps=%g must be >= 0", op, (double)eps);
    LEVI_TRY(ops_need(op, "out", out, (size_t)N * C));
    LEVI_TRY(ops_need(op, "mean", mean, (size_t)N));
    LEVI_TRY(ops_need(op, "rstd", rstd, (size_t)N));
    LEVI_TRY(ops_need(op, "inp", inp, (size_t)N * C));
    LEVI_TRY(ops_need(op, "w", w, (size_t)C));
    LEVI_TRY(ops_need(op, "b", b, (size_t)C));
    int rowwise = ops_use_rowwise(ctx, N, C);
    cl_kernel k;
    size_t wg = 1;
    LEVI_TRY(levi_kernel_get(ctx, "norm", rowwise ? "layernorm_forward_rowwise" : "layernorm_forward", &k));
    if (!rowwise) LEVI_TRY(ops_reduce_wg(ctx, k, &wg));
    cl_uint a = 0;
    LEVI_TRY(ops_arg_tensor(k, &a, out));
    LEVI_TRY(ops_arg_tensor(k, &a, mean));
    LEVI_TRY(ops_arg_tensor(k, &a, rstd));
    LEVI_TRY(ops_arg_tensor(k, &a, inp));
    LEVI_TRY(ops_arg_tensor(k, &a, w));
    LEVI_TRY(ops_arg_tensor(k, &a, b));
    LEVI_TRY(ops_arg_int(k, &a, C));
    LEVI_TRY(ops_arg_float(k, &a, eps));
    if (rowwise) {
        LEVI_TRY(ops_arg_int(k, &a, N));
        return levi_launch_1d(ctx, k, (size_t)N);
    }
    LEVI_TRY(ops_arg_local(k, &a, wg));
    return ops_launch_groups(ctx, k, (size_t)N, wg);
}

/* dinp (N,C), dw, db (C) accumulate; any may be NULL */
levi_status levi_layernorm_backward(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *dw,
                                    const levi_tensor *db, const levi_tensor *dout, const levi_tensor *inp,
                                    const levi_tensor *w, const levi_tensor *mean, const levi_tensor *rstd, int N,
                                    int C) {
    const char *op = "layernorm_backward";
    if (N <= 0 || C <= 0) return levi_error(LEVI_ERR_INVALID_ARG, "%s: N=%d C=%d must be positive", op, N, C);
    LEVI_TRY(ops_need(op, "dout", dout, (size_t)N * C));
    LEVI_TRY(ops_need(op, "inp", inp, (size_t)N * C));
    LEVI_TRY(ops_need(op, "mean", mean, (size_t)N));
    LEVI_TRY(ops_need(op, "rstd", rstd, (size_t)N));
    cl_kernel k;
    cl_uint a = 0;
    if (dinp) {
        LEVI_TRY(ops_need(op, "dinp", dinp, (size_t)N * C));
        LEVI_TRY(ops_need(op, "w", w, (size_t)C));
        int rowwise = ops_use_rowwise(ctx, N, C);
        size_t wg = 1;
        LEVI_TRY(levi_kernel_get(ctx, "norm", rowwise ? "layernorm_backward_input_rowwise" : "layernorm_backward_input",
                                 &k));
        if (!rowwise) LEVI_TRY(ops_reduce_wg(ctx, k, &wg));
        LEVI_TRY(ops_arg_tensor(k, &a, dinp));
        LEVI_TRY(ops_arg_tensor(k, &a, dout));
        LEVI_TRY(ops_arg_tensor(k, &a, inp));
        LEVI_TRY(ops_arg_tensor(k, &a, w));
        LEVI_TRY(ops_arg_tensor(k, &a, mean));
        LEVI_TRY(ops_arg_tensor(k, &a, rstd));
        LEVI_TRY(ops_arg_int(k, &a, C));
        if (rowwise) {
            LEVI_TRY(ops_arg_int(k, &a, N));
            LEVI_TRY(levi_launch_1d(ctx, k, (size_t)N));
        } else {
            LEVI_TRY(ops_arg_local(k, &a, wg));
            LEVI_TRY(ops_launch_groups(ctx, k, (size_t)N, wg));
        }
    }
    if (dw || db) {
        if (dw) LEVI_TRY(ops_need(op, "dw", dw, (size_t)C));
        if (db) LEVI_TRY(ops_need(op, "db", db, (size_t)C));
        const levi_tensor *dummy = dw ? dw : db;
        LEVI_TRY(levi_kernel_get(ctx, "norm", "layernorm_backward_params", &k));
        a = 0;
        LEVI_TRY(ops_arg_tensor(k, &a, dw ? dw : dummy));
        LEVI_TRY(ops_arg_tensor(k, &a, db ? db : dummy));
        LEVI_TRY(ops_arg_tensor(k, &a, dout));
        LEVI_TRY(ops_arg_tensor(k, &a, inp));
        LEVI_TRY(ops_arg_tensor(k, &a, mean));
        LEVI_TRY(ops_arg_tensor(k, &a, rstd));
        LEVI_TRY(ops_arg_int(k, &a, N));
        LEVI_TRY(ops_arg_int(k, &a, C));
        LEVI_TRY(ops_arg_int(k, &a, dw ? 1 : 0));
        LEVI_TRY(ops_arg_int(k, &a, db ? 1 : 0));
        LEVI_TRY(levi_launch_1d(ctx, k, (size_t)C));
    }
    return LEVI_OK;
}
