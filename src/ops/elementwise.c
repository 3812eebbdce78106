/* Elementwise ops: launches of cl/elementwise.cl. All tensors are flat
 * float32 runs of n elements from their offsets. */
#include "ops_internal.h"

#define FILE_CL "elementwise"

/* out (n) = s * inp (n) */
levi_status levi_scale_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *inp, float s, size_t n) {
    LEVI_TRY(ops_need("scale_forward", "out", out, n));
    LEVI_TRY(ops_need("scale_forward", "inp", inp, n));
    ops_kernel k = ops_kernel_get(ctx, FILE_CL, "scale_forward");
    ops_arg_tensor(&k, out);
    ops_arg_tensor(&k, inp);
    ops_arg_float(&k, s);
    ops_arg_ulong(&k, n);
    return ops_run_1d(&k, n);
}

/* out (n) = f(inp (n)) for a unary kernel `name` */
static levi_status unary_forward(levi_ctx *ctx, const char *name, const levi_tensor *out, const levi_tensor *inp,
                                 size_t n) {
    LEVI_TRY(ops_need(name, "out", out, n));
    LEVI_TRY(ops_need(name, "inp", inp, n));
    ops_kernel k = ops_kernel_get(ctx, FILE_CL, name);
    ops_arg_tensor(&k, out);
    ops_arg_tensor(&k, inp);
    ops_arg_ulong(&k, n);
    return ops_run_1d(&k, n);
}

/* dinp (n) += f'(inp) * dout for a unary kernel `name` (accumulate = 0: dinp =
 * 0 + that, bit for bit what += into a zeroed dinp gives); dinp NULL: nothing to do */
static levi_status unary_backward(levi_ctx *ctx, const char *name, const levi_tensor *dinp,
                                  const levi_tensor *inp, const levi_tensor *dout, size_t n, int accumulate) {
    if (!dinp) return LEVI_OK;
    LEVI_TRY(ops_need(name, "dinp", dinp, n));
    LEVI_TRY(ops_need(name, "inp", inp, n));
    LEVI_TRY(ops_need(name, "dout", dout, n));
    ops_kernel k = ops_kernel_get(ctx, FILE_CL, name);
    ops_arg_tensor(&k, dinp);
    ops_arg_tensor(&k, inp);
    ops_arg_tensor(&k, dout);
    ops_arg_ulong(&k, n);
    ops_arg_int(&k, accumulate != 0);
    return ops_run_1d(&k, n);
}

levi_status levi_gelu_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *inp, size_t n) {
    return unary_forward(ctx, "gelu_forward", out, inp, n);
}

levi_status levi_gelu_backward(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *inp,
                               const levi_tensor *dout, size_t n) {
    return unary_backward(ctx, "gelu_backward", dinp, inp, dout, n, 1);
}

levi_status levi_gelu_backward_acc(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *inp,
                                   const levi_tensor *dout, size_t n, int accumulate) {
    return unary_backward(ctx, "gelu_backward", dinp, inp, dout, n, accumulate);
}

levi_status levi_relu_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *inp, size_t n) {
    return unary_forward(ctx, "relu_forward", out, inp, n);
}

levi_status levi_relu_backward(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *inp,
                               const levi_tensor *dout, size_t n) {
    return unary_backward(ctx, "relu_backward", dinp, inp, dout, n, 1);
}

levi_status levi_relu_backward_acc(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *inp,
                                   const levi_tensor *dout, size_t n, int accumulate) {
    return unary_backward(ctx, "relu_backward", dinp, inp, dout, n, accumulate);
}

/* out (n) = a (n) + b (n) */
levi_status levi_add_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *a, const levi_tensor *b,
                             size_t n) {
    LEVI_TRY(ops_need("add_forward", "out", out, n));
    LEVI_TRY(ops_need("add_forward", "a", a, n));
    LEVI_TRY(ops_need("add_forward", "b", b, n));
    ops_kernel k = ops_kernel_get(ctx, FILE_CL, "add_forward");
    ops_arg_tensor(&k, out);
    ops_arg_tensor(&k, a);
    ops_arg_tensor(&k, b);
    ops_arg_ulong(&k, n);
    return ops_run_1d(&k, n);
}

/* dst (n) += alpha * src (n) */
levi_status levi_axpy(levi_ctx *ctx, const levi_tensor *dst, float alpha, const levi_tensor *src, size_t n) {
    if (!dst) return LEVI_OK;
    LEVI_TRY(ops_need("axpy", "dst", dst, n));
    LEVI_TRY(ops_need("axpy", "src", src, n));
    ops_kernel k = ops_kernel_get(ctx, FILE_CL, "axpy_accumulate");
    ops_arg_tensor(&k, dst);
    ops_arg_float(&k, alpha);
    ops_arg_tensor(&k, src);
    ops_arg_ulong(&k, n);
    return ops_run_1d(&k, n);
}

/* dst (n) += src (n) */
levi_status levi_accumulate(levi_ctx *ctx, const levi_tensor *dst, const levi_tensor *src, size_t n) {
    return levi_axpy(ctx, dst, 1.0f, src, n);
}

/* out (rows, cols) += bias (cols) */
levi_status levi_add_bias(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *bias, int rows, int cols) {
    if (rows <= 0 || cols <= 0)
        return levi_error(LEVI_ERR_INVALID_ARG, "add_bias: rows=%d cols=%d must be positive", rows, cols);
    size_t n = (size_t)rows * (size_t)cols;
    LEVI_TRY(ops_need("add_bias", "out", out, n));
    LEVI_TRY(ops_need("add_bias", "bias", bias, (size_t)cols));
    ops_kernel k = ops_kernel_get(ctx, FILE_CL, "add_bias_rows");
    ops_arg_tensor(&k, out);
    ops_arg_tensor(&k, bias);
    ops_arg_int(&k, cols);
    return ops_run_grid(&k, (size_t)cols, (size_t)rows, 1);
}

/* dst (rows, dst_ld)[:, dst_col:dst_col+cols] (=|+=) src (rows, src_ld)[:, src_col:src_col+cols] */
levi_status levi_copy_cols(levi_ctx *ctx, const levi_tensor *dst, int dst_ld, int dst_col, const levi_tensor *src,
                           int src_ld, int src_col, int rows, int cols, int accumulate) {
    if (rows <= 0 || cols <= 0 || dst_col < 0 || src_col < 0 || dst_col + cols > dst_ld || src_col + cols > src_ld)
        return levi_error(LEVI_ERR_INVALID_ARG,
                          "copy_cols: %d columns from column %d of a %d-wide source into column %d of a %d-wide "
                          "destination (rows=%d) do not fit",
                          cols, src_col, src_ld, dst_col, dst_ld, rows);
    LEVI_TRY(ops_need("copy_cols", "dst", dst, (size_t)(rows - 1) * (size_t)dst_ld + (size_t)(dst_col + cols)));
    LEVI_TRY(ops_need("copy_cols", "src", src, (size_t)(rows - 1) * (size_t)src_ld + (size_t)(src_col + cols)));
    ops_kernel k = ops_kernel_get(ctx, FILE_CL, "copy_cols_2d");
    ops_arg_tensor(&k, dst);
    ops_arg_int(&k, dst_ld);
    ops_arg_int(&k, dst_col);
    ops_arg_tensor(&k, src);
    ops_arg_int(&k, src_ld);
    ops_arg_int(&k, src_col);
    ops_arg_int(&k, cols);
    ops_arg_int(&k, accumulate ? 1 : 0);
    return ops_run_grid(&k, (size_t)cols, (size_t)rows, 1);
}
