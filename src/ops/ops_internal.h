/* Helpers shared by the op launchers in src/ops/ (not installed).
 *
 * Every launch goes through ops_kernel (below); every tensor argument is
 * checked to hold enough elements first (ops_need). */
#ifndef LEVI_OPS_INTERNAL_H
#define LEVI_OPS_INTERNAL_H

#include "levi/ops.h"

/* Helpers named ops_* stay inside liblevi (public symbols start with levi_). */
#define OPS_HIDDEN __attribute__((visibility("hidden")))

/* One kernel launch: the kernel, its arguments in order through a cursor,
 * then the launch, always through levi_launch (which counts it). The first
 * error sticks and is returned by the launch, so a launcher reads
 *     ops_kernel k = ops_kernel_get(ctx, "norm", "layernorm_forward");
 *     ops_arg_tensor(&k, out);   // (buffer, ulong offset in floats)
 *     ops_arg_int(&k, C);
 *     return ops_run_1d(&k, n);  */
typedef struct ops_kernel {
    levi_ctx *ctx;
    cl_kernel k;
    cl_uint arg;    /* index of the next argument */
    levi_status st; /* first error */
} ops_kernel;

OPS_HIDDEN ops_kernel ops_kernel_get(levi_ctx *ctx, const char *file, const char *name);
OPS_HIDDEN void ops_arg_tensor(ops_kernel *k, const levi_tensor *t);
OPS_HIDDEN void ops_arg_int(ops_kernel *k, int v);
OPS_HIDDEN void ops_arg_ulong(ops_kernel *k, size_t v);
OPS_HIDDEN void ops_arg_float(ops_kernel *k, float v);
/* A __local array of `bytes`. */
OPS_HIDDEN void ops_arg_local(ops_kernel *k, size_t bytes);
/* 1-D over n items, the global size rounded up to the default group size
 * (kernels guard `if (i >= n) return;`). */
OPS_HIDDEN levi_status ops_run_1d(ops_kernel *k, size_t n);
/* 1-D over n items that each do a row's work (item-per-row kernels): the
 * default group size, but on CPU devices small enough that every core gets
 * 4 groups (a few long rows still spread over the cores). */
OPS_HIDDEN levi_status ops_run_items(ops_kernel *k, size_t n);
/* `groups` work-groups of `wg` items (1-D). */
OPS_HIDDEN levi_status ops_run_groups(ops_kernel *k, size_t groups, size_t wg);
/* A (cols, rows, depth) range, columns first in groups of up to the default
 * size (kernels guard the column: `if (c >= cols) return;`); 2-D when
 * depth is 1. */
OPS_HIDDEN levi_status ops_run_grid(ops_kernel *k, size_t cols, size_t rows, size_t depth);
/* Explicit global and local sizes (dims 1..3; local may be NULL). */
OPS_HIDDEN levi_status ops_run(ops_kernel *k, cl_uint dims, const size_t *global, const size_t *local);

/* Largest power of two <= min(limit, the kernel's CL_KERNEL_WORK_GROUP_SIZE,
 * the device's max work-group size): the group size of a kernel that
 * reduces within a group. */
OPS_HIDDEN size_t ops_kernel_wg(ops_kernel *k, size_t limit);

/* The group size of a kernel with a work-group per row of `cols`: the
 * smallest power of two covering the row, at most 256 and the limits. */
OPS_HIDDEN size_t ops_row_wg(ops_kernel *k, int cols);

/* `t` must be non-NULL and hold at least `need` floats. `op` and `name` go
 * into the message: "layernorm_forward: inp holds 12 floats, needs 16". */
OPS_HIDDEN levi_status ops_need(const char *op, const char *name, const levi_tensor *t, size_t need);

/* Row-wise reductions (softmax, layernorm) come in two forms: a work-group
 * per row, or a work-item per row. The item-per-row form wins when a row is
 * shorter than the work-group (most items would idle through the barriers)
 * and on CPU devices whenever there are rows enough to fill the cores (PoCL:
 * ~3x faster for 4096 rows of 192); GPUs keep a group per longer row. */
OPS_HIDDEN int ops_use_rowwise(const levi_ctx *ctx, int rows, int cols);

/* --- reductions (reduce.c, cl/reduce.cl) --- */

/* 1 on a CPU device (CL_DEVICE_TYPE_CPU): reductions take their CPU shapes. */
OPS_HIDDEN int ops_is_cpu(const levi_ctx *ctx);

/* How a column sum over nrows is cut: GPU work-groups of lx columns x ly row
 * lanes, or CPU items over 64-column tiles (lx = ly = 1); `chunks` chunks of
 * `chunk` rows each write a partial row when chunks > 1. */
typedef struct ops_cols_shape {
    int cpu;
    size_t lx, ly;
    int chunks, chunk;
} ops_cols_shape;
/* max_wg: the group-size limit of the first-pass kernel (ops_kernel_wg). */
OPS_HIDDEN void ops_cols_plan(levi_ctx *ctx, size_t max_wg, int batch, int nrows, int ncols, ops_cols_shape *p);
OPS_HIDDEN size_t ops_cols_max_wg(levi_ctx *ctx);

/* dst (batch, ncols) (=|+=) alpha * Σ over nrows of src (batch, nrows, ld);
 * dst_bs, src_bs: batch strides in floats. */
OPS_HIDDEN levi_status ops_sum_cols(levi_ctx *ctx, const levi_tensor *dst, size_t dst_bs, const levi_tensor *src,
                                    size_t src_bs, int batch, int nrows, int ncols, int ld, float alpha,
                                    int accumulate);
/* The second pass: dst (batch, ncols) (=|+=) alpha * Σ of the `chunks`
 * partial rows of part (batch, chunks, ncols). */
OPS_HIDDEN levi_status ops_sum_partials(levi_ctx *ctx, const ops_cols_shape *p, const levi_tensor *dst,
                                        size_t dst_bs, const levi_tensor *part, size_t part_bs, int batch,
                                        int chunks, int ncols, float alpha, int accumulate);
/* dst (nrows) (=|+=) alpha * Σ_j src (nrows, ld)[:, :ncols]. */
OPS_HIDDEN levi_status ops_sum_rows(levi_ctx *ctx, const levi_tensor *dst, const levi_tensor *src, int nrows,
                                    int ncols, int ld, float alpha, int accumulate);
/* A view of numel floats of the ctx scratch (levi_ctx_scratch): valid until
 * the next op on ctx that uses scratch. */
OPS_HIDDEN levi_status ops_scratch(levi_ctx *ctx, size_t numel, levi_tensor *out);

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

/* softmax backward that overwrites (accumulate = 0, in place allowed:
 * dinp == dout) or accumulates (accumulate = 1); softmax.c. */
OPS_HIDDEN levi_status ops_softmax_backward_mode(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *out,
                                      const levi_tensor *dout, int rows, int cols, int accumulate);

#endif
