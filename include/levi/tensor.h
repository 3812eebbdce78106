/* levi/tensor.h — device tensors: a view (cl_mem, offset) with a shape, and
 * arenas that carve one allocation per role (parameters, gradients,
 * activations, optimizer state) by a size table.
 *
 * Offsets and sizes are in float elements, as CLBlast counts them. A tensor
 * knows its context (and so its device and queue). */
#ifndef LEVI_TENSOR_H
#define LEVI_TENSOR_H

#include "levi/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LEVI_MAX_DIMS 4

typedef struct levi_tensor {
    levi_ctx *ctx;
    cl_mem buf;    /* the underlying buffer (shared with other views) */
    size_t offset; /* first element, in floats */
    size_t numel;
    int ndim;
    int shape[LEVI_MAX_DIMS];
    int owns; /* 1 when this tensor released buf on free */
} levi_tensor;

/* Allocate a device buffer of `bytes`; an allocation above the device's max
 * single allocation, or one that fails, returns LEVI_ERR_DEVICE_MEMORY with a
 * message naming the byte count and the device. */
levi_status levi_buffer_alloc(levi_ctx *ctx, size_t bytes, cl_mem *out);

/* A tensor with its own buffer, zero-filled. shape has ndim entries. */
levi_status levi_tensor_alloc(levi_tensor *t, levi_ctx *ctx, int ndim, const int *shape);
/* Shorthands: levi_tensor_alloc2(&t, ctx, rows, cols) etc. */
levi_status levi_tensor_alloc1(levi_tensor *t, levi_ctx *ctx, int n0);
levi_status levi_tensor_alloc2(levi_tensor *t, levi_ctx *ctx, int n0, int n1);

/* A view into an existing buffer (does not own it). */
levi_tensor levi_tensor_view(levi_ctx *ctx, cl_mem buf, size_t offset, int ndim, const int *shape);
/* The same memory seen with another shape of equal numel (no copy). */
levi_tensor levi_tensor_reshape(const levi_tensor *t, int ndim, const int *shape);
/* Rows [start, start+count) of the first dimension. */
levi_tensor levi_tensor_rows(const levi_tensor *t, int start, int count);

void levi_tensor_free(levi_tensor *t);

/* Blocking copies of the whole tensor (numel floats); each is one blocking
 * sync in the ctx's counters. */
levi_status levi_tensor_write(const levi_tensor *t, const float *host);
levi_status levi_tensor_read(const levi_tensor *t, float *host);
/* Non-blocking copies of the whole tensor: enqueued after the n_wait events
 * of `wait` (events of t's context; wait may be NULL when n_wait is 0) and
 * returned at once. *done (done may be NULL) receives the copy's event, which
 * the caller releases (levi_event_release). The host memory must stay valid,
 * and for a write unchanged, until that event completes (levi_event_done). */
levi_status levi_tensor_write_async(const levi_tensor *t, const float *host, cl_uint n_wait, const cl_event *wait,
                                    cl_event *done);
levi_status levi_tensor_read_async(const levi_tensor *t, float *host, cl_uint n_wait, const cl_event *wait,
                                   cl_event *done);
/* Raw bytes at a byte offset (indices, flags, counters of other types):
 * blocking (1: returns when done, one counted sync) or not (0, as the async
 * tensor copies). With bytes == 0 and done set, *done is a marker event. */
levi_status levi_buffer_write(levi_ctx *ctx, cl_mem buf, size_t offset_bytes, size_t bytes, const void *host,
                              int blocking, cl_uint n_wait, const cl_event *wait, cl_event *done);
levi_status levi_buffer_read(levi_ctx *ctx, cl_mem buf, size_t offset_bytes, size_t bytes, void *host,
                             int blocking, cl_uint n_wait, const cl_event *wait, cl_event *done);
/* Device-to-device copy of src into dst (same numel). */
levi_status levi_tensor_copy(const levi_tensor *dst, const levi_tensor *src);
/* Fill with zeros / a constant (enqueued, not blocking). */
levi_status levi_tensor_zero(const levi_tensor *t);
levi_status levi_tensor_fill(const levi_tensor *t, float value);

/* dst (rows, row_len) = src[idx[idx_off + r], :] for r < rows: src is a
 * table of rows of row_len floats, idx a buffer of ints (row indices), all
 * on dst's context. One launch, nothing waits. */
levi_status levi_gather_rows(const levi_tensor *dst, const levi_tensor *src, cl_mem idx, size_t idx_off, int rows,
                             size_t row_len);

/* Debug dump: "LEVITNS1" magic, ndim, shape, then float32 data. Atomic. */
levi_status levi_tensor_dump(const levi_tensor *t, const char *path);

/* Shape as text, e.g. "(8,197,192)", into buf. */
const char *levi_tensor_shape_str(const levi_tensor *t, char *buf, size_t len);

/* --- arenas -------------------------------------------------------------- */

/* One buffer per role. Plan first (levi_arena_reserve returns offsets), then
 * levi_arena_commit allocates once; views are then made with
 * levi_arena_tensor. Each reservation is aligned to 64 floats, which also
 * satisfies CL_DEVICE_MEM_BASE_ADDR_ALIGN for sub-buffers on all devices we
 * know of; kernels address by offset, so sub-buffers are never needed. */
typedef struct levi_arena {
    levi_ctx *ctx;
    cl_mem buf;
    size_t numel; /* reserved so far (floats) */
    const char *role; /* "parameters", "gradients", ... for error messages */
} levi_arena;

void levi_arena_init(levi_arena *a, levi_ctx *ctx, const char *role);
size_t levi_arena_reserve(levi_arena *a, size_t numel);
levi_status levi_arena_commit(levi_arena *a); /* allocates and zero-fills */
levi_tensor levi_arena_tensor(const levi_arena *a, size_t offset, int ndim, const int *shape);
/* The whole arena as one flat tensor (for AdamW, zeroing, clipping) of shape
 * (numel/64, 64): exact beyond 2^31 floats. */
levi_tensor levi_arena_all(const levi_arena *a);
void levi_arena_free(levi_arena *a);

#ifdef __cplusplus
}
#endif
#endif
