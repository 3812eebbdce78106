/* Helpers shared by the op launchers in src/ops/ (not installed).
 *
 * Kernel arguments are set in order through a cursor:
 *     cl_uint a = 0;
 *     LEVI_TRY(ops_arg_tensor(k, &a, out));   // (buffer, ulong offset) pair
 *     LEVI_TRY(ops_arg_int(k, &a, C));
 * and every tensor argument is checked to hold enough elements first. */
#ifndef LEVI_OPS_INTERNAL_H
#define LEVI_OPS_INTERNAL_H

#include "levi/ops.h"

/* Helpers named ops_* stay inside liblevi (public symbols start with levi_). */
#define OPS_HIDDEN __attribute__((visibility("hidden")))

/* Buffer + offset (in floats) of t. */
static inline levi_status ops_arg_tensor(cl_kernel k, cl_uint *a, const levi_tensor *t) {
    cl_ulong off = t->offset;
    LEVI_CL_CHECK(clSetKernelArg(k, (*a)++, sizeof(cl_mem), &t->buf));
    LEVI_CL_CHECK(clSetKernelArg(k, (*a)++, sizeof off, &off));
    return LEVI_OK;
}

static inline levi_status ops_arg_int(cl_kernel k, cl_uint *a, int v) {
    cl_int x = v;
    LEVI_CL_CHECK(clSetKernelArg(k, (*a)++, sizeof x, &x));
    return LEVI_OK;
}

static inline levi_status ops_arg_ulong(cl_kernel k, cl_uint *a, size_t v) {
    cl_ulong x = v;
    LEVI_CL_CHECK(clSetKernelArg(k, (*a)++, sizeof x, &x));
    return LEVI_OK;
}

static inline levi_status ops_arg_float(cl_kernel k, cl_uint *a, float v) {
    LEVI_CL_CHECK(clSetKernelArg(k, (*a)++, sizeof v, &v));
    return LEVI_OK;
}

/* A __local float array of n elements. */
static inline levi_status ops_arg_local(cl_kernel k, cl_uint *a, size_t n) {
    LEVI_CL_CHECK(clSetKernelArg(k, (*a)++, n * sizeof(float), NULL));
    return LEVI_OK;
}

/* `t` must be non-NULL and hold at least `need` floats. `op` and `name` go
 * into the message: "layernorm_forward: inp holds 12 floats, needs 16". */
OPS_HIDDEN levi_status ops_need(const char *op, const char *name, const levi_tensor *t, size_t need);

/* Work-group size for a kernel that reduces within a group: a power of two,
 * at most ctx->wg and the kernel's own limit (CL_KERNEL_WORK_GROUP_SIZE). */
OPS_HIDDEN levi_status ops_reduce_wg(levi_ctx *ctx, cl_kernel k, size_t *wg);

/* Row-wise reductions (softmax, layernorm) come in two forms: a work-group
 * per row, or a work-item per row. The item-per-row form wins when a row is
 * shorter than the work-group (most items would idle through the barriers)
 * and on CPU devices whenever there are rows enough to fill the cores (PoCL:
 * ~3x faster for 4096 rows of 192); GPUs keep a group per longer row. */
OPS_HIDDEN int ops_use_rowwise(const levi_ctx *ctx, int rows, int cols);

/* An operand handed to a library that indexes with 32-bit ints (CLBlast 1.5
 * takes offsets as `int` and its kernels add indices to them in int): when
 * the `extent` floats from t's offset reach 2^31 floats into its buffer, the
 * operand is passed as a sub-buffer that starts at or just below its offset
 * (aligned as the device requires), so that its offset inside is small. */
typedef struct ops_operand {
    cl_mem buf;    /* the buffer to pass */
    size_t offset; /* the offset to pass, in floats */
    cl_mem sub;    /* a sub-buffer to release after the call, or NULL */
} ops_operand;
OPS_HIDDEN levi_status ops_operand_open(levi_ctx *ctx, const levi_tensor *t, size_t extent, ops_operand *o);
OPS_HIDDEN void ops_operand_close(ops_operand *o);

/* Launch `groups` work-groups of `wg` items each (1-D). */
OPS_HIDDEN levi_status ops_launch_groups(levi_ctx *ctx, cl_kernel k, size_t groups, size_t wg);

/* softmax backward that overwrites (accumulate = 0, in place allowed:
 * dinp == dout) or accumulates (accumulate = 1); softmax.c. */
OPS_HIDDEN levi_status ops_softmax_backward_mode(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *out,
                                      const levi_tensor *dout, int rows, int cols, int accumulate);

/* Batched GEMM for attention's per-head products (attention.c): CLBlast's
 * strided batched GEMM (use_clblast = 1) or the own kernel (0); same
 * arguments as levi_gemm_batched. Exported (not in the installed headers)
 * for tests and measurements. */
levi_status levi_attention_bgemm_with(levi_ctx *ctx, int use_clblast, int ta, int tb, int M, int N, int K,
                                      float alpha, const levi_tensor *A, size_t stride_a, const levi_tensor *B,
                                      size_t stride_b, float beta, const levi_tensor *C, size_t stride_c, int batch);

#endif
