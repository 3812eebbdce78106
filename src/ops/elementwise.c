/* Elementwise ops: launches of cl/elementwise.cl. All tensors are flat
 * float32 runs of n elements from their offsets. */
#include "ops_internal.h"

#define FILE_CL "elementwise"

/* out (n) = s * inp (n) */
levi_status levi_scale_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *inp, float s, size_t n) {
    LEVI_TRY(ops_need("scale_forward", "out", out, n));
    LEVI_TRY(ops_need("scale_forward", "inp", inp, n));
    cl_kernel k;
    LEVI_TRY(levi_kernel_get(ctx, FILE_CL, "scale_forward", &k));
    cl_uint a = 0;
    LEVI_TRY(ops_arg_tensor(k, &a, out));
    LEVI_TRY(ops_arg_tensor(k, &a, inp));
    LEVI_TRY(ops_arg_float(k, &a, s));
    LEVI_TRY(ops_arg_ulong(k, &a, n));
    return levi_launch_1d(ctx, k, n);
}

/* out (n) = f(inp (n)) for a unary kernel `name` */
static levi_status unary_forward(levi_ctx *ctx, const char *name, const levi_tensor *out, const levi_tensor *inp,
                                 size_t n) {
    LEVI_TRY(ops_need(name, "out", out, n));
    LEVI_TRY(ops_need(name, "inp", inp, n));
    cl_kernel k;
    LEVI_TRY(levi_kernel_get(ctx, FILE_CL, name, &k));
    cl_uint a = 0;
    LEVI_TRY(ops_arg_tensor(k, &a, out));
    LEVI_TRY(ops_arg_tensor(k, &a, inp));
    LEVI_TRY(ops_arg_ulong(k, &a, n));
    return levi_launch_1d(ctx, k, n);
}

/* dinp (n) += f'(inp) * dout for a unary kernel `name`; dinp NULL: nothing to do */
static levi_status unary_backward(levi_ctx *ctx, const char *name, const levi_tensor *dinp,
                                  const levi_tensor *inp, const levi_tensor *dout, size_t n) {
    if (!dinp) return LEVI_OK;
    LEVI_TRY(ops_need(name, "dinp", dinp, n));
    LEVI_TRY(ops_need(name, "inp", inp, n));
    LEVI_TRY(ops_need(name, "dout", dout, n));
    cl_kernel k;
    LEVI_TRY(levi_kernel_get(ctx, FILE_CL, name, &k));
    cl_uint a = 0;
    LEVI_TRY(ops_arg_tensor(k, &a, dinp));
    LEVI_TRY(ops_arg_tensor(k, &a, inp));
    LEVI_TRY(ops_arg_tensor(k, &a, dout));
    LEVI_TRY(ops_arg_ulong(k, &a, n));
    return levi_launch_1d(ctx, k, n);
}

levi_status levi_gelu_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *inp, size_t n) {
    return unary_forward(ctx, "gelu_forward", out, inp, n);
}

levi_status levi_gelu_backward(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *inp,
                               const levi_tensor *dout, size_t n) {
    return unary_backward(ctx, "gelu_backward", dinp, inp, dout, n);
}

levi_status levi_relu_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *inp, size_t n) {
    return unary_forward(ctx, "relu_forward", out, inp, n);
}

levi_status levi_relu_backward(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *inp,
                               const levi_tensor *dout, size_t n) {
    return unary_backward(ctx, "relu_backward", dinp, inp, dout, n);
}

/* out (n) = a (n) + b (n) */
levi_status levi_add_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *a, const levi_tensor *b,
                             size_t n) {
    LEVI_TRY(ops_need("add_forward", "out", out, n));
    LEVI_TRY(ops_need("add_forward", "a", a, n));
    LEVI_TRY(ops_need("add_forward", "b", b, n));
    cl_kernel k;
    LEVI_TRY(levi_kernel_get(ctx, FILE_CL, "add_forward", &k));
    cl_uint i = 0;
    LEVI_TRY(ops_arg_tensor(k, &i, out));
    LEVI_TRY(ops_arg_tensor(k, &i, a));
    LEVI_TRY(ops_arg_tensor(k, &i, b));
    LEVI_TRY(ops_arg_ulong(k, &i, n));
    return levi_launch_1d(ctx, k, n);
}

/* dst (n) += alpha * src (n) */
levi_status levi_axpy(levi_ctx *ctx, const levi_tensor *dst, float alpha, const levi_tensor *src, size_t n) {
    if (!dst) return LEVI_OK;
    LEVI_TRY(ops_need("axpy", "dst", dst, n));
    LEVI_TRY(ops_need("axpy", "src", src, n));
    cl_kernel k;
    LEVI_TRY(levi_kernel_get(ctx, FILE_CL, "axpy_accumulate", &k));
    cl_uint a = 0;
    LEVI_TRY(ops_arg_tensor(k, &a, dst));
    LEVI_TRY(ops_arg_float(k, &a, alpha));
    LEVI_TRY(ops_arg_tensor(k, &a, src));
    LEVI_TRY(ops_arg_ulong(k, &a, n));
    return levi_launch_1d(ctx, k, n);
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
    cl_kernel k;
    LEVI_TRY(levi_kernel_get(ctx, FILE_CL, "add_bias_rows", &k));
    cl_uint a = 0;
    LEVI_TRY(ops_arg_tensor(k, &a, out));
    LEVI_TRY(ops_arg_tensor(k, &a, bias));
    LEVI_TRY(ops_arg_int(k, &a, cols));
    LEVI_TRY(ops_arg_ulong(k, &a, n));
    return levi_launch_1d(ctx, k, n);
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
    cl_kernel k;
    LEVI_TRY(levi_kernel_get(ctx, FILE_CL, "copy_cols_2d", &k));
    cl_uint a = 0;
    LEVI_TRY(ops_arg_tensor(k, &a, dst));
    LEVI_TRY(ops_arg_int(k, &a, dst_ld));
    LEVI_TRY(ops_arg_int(k, &a, dst_col));
    LEVI_TRY(ops_arg_tensor(k, &a, src));
    LEVI_TRY(ops_arg_int(k, &a, src_ld));
    LEVI_TRY(ops_arg_int(k, &a, src_col));
    LEVI_TRY(ops_arg_int(k, &a, rows));
    LEVI_TRY(ops_arg_int(k, &a, cols));
    LEVI_TRY(ops_arg_int(k, &a, accumulate ? 1 : 0));
    return levi_launch_1d(ctx, k, (size_t)rows * (size_t)cols);
}
