/* Device tensors and arenas. */
#include "levi/tensor.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "levi/gemm.h"

/* A planning ctx (levi_ctx_plan_begin) counts what it would allocate. */
static int role_of(const char *role) {
    if (!role) return LEVI_MEM_OTHER;
    if (strstr(role, "AdamW") || strstr(role, "moment")) return LEVI_MEM_OPTIMIZER;
    if (strstr(role, "gradient")) return LEVI_MEM_GRADS;
    if (strstr(role, "parameter")) return LEVI_MEM_PARAMS;
    if (strstr(role, "activation") || strstr(role, "staging") || strstr(role, "buffers")) return LEVI_MEM_ACTIVATIONS;
    return LEVI_MEM_OTHER;
}

static void plan_count(levi_ctx *ctx, size_t bytes, const char *role) {
    levi_mem_tally *t = ctx->plan;
    t->bytes[role_of(role)] += bytes;
    t->total += bytes;
    if (t->allocations < LEVI_MEM_MAX_ALLOCS) t->alloc[t->allocations] = bytes;
    t->allocations++;
    if (bytes > t->largest_alloc) t->largest_alloc = bytes;
}

static levi_status buffer_alloc(levi_ctx *ctx, size_t bytes, const char *role, cl_mem *out) {
    *out = NULL;
    if (bytes == 0) bytes = 4;
    if (ctx->plan) {
        plan_count(ctx, bytes, role);
        return LEVI_OK;
    }
    if (ctx->info.max_alloc && bytes > ctx->info.max_alloc)
        return levi_error(LEVI_ERR_DEVICE_MEMORY,
                          "requested %zu bytes on '%s', above its max single allocation of %llu bytes", bytes,
                          ctx->info.name, ctx->info.max_alloc);
    cl_int rc;
    cl_mem m = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, bytes, NULL, &rc);
    if (rc != CL_SUCCESS)
        return levi_error(LEVI_ERR_DEVICE_MEMORY, "allocating %zu bytes on '%s' failed: %s", bytes, ctx->info.name,
                          levi_status_name(rc));
    *out = m;
    return LEVI_OK;
}

levi_status levi_buffer_alloc(levi_ctx *ctx, size_t bytes, cl_mem *out) { return buffer_alloc(ctx, bytes, NULL, out); }

static size_t shape_numel(int ndim, const int *shape) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)(shape[i] > 0 ? shape[i] : 0);
    return n;
}

levi_tensor levi_tensor_view(levi_ctx *ctx, cl_mem buf, size_t offset, int ndim, const int *shape) {
    levi_tensor t;
    memset(&t, 0, sizeof t);
    t.ctx = ctx;
    t.buf = buf;
    t.offset = offset;
    t.ndim = ndim;
    for (int i = 0; i < ndim && i < LEVI_MAX_DIMS; i++) t.shape[i] = shape[i];
    t.numel = shape_numel(ndim, shape);
    return t;
}

levi_status levi_tensor_alloc(levi_tensor *t, levi_ctx *ctx, int ndim, const int *shape) {
    memset(t, 0, sizeof *t);
    if (ndim < 1 || ndim > LEVI_MAX_DIMS)
        return levi_error(LEVI_ERR_INVALID_ARG, "tensor rank %d is not in 1..%d", ndim, LEVI_MAX_DIMS);
    for (int i = 0; i < ndim; i++)
        if (shape[i] <= 0) return levi_error(LEVI_ERR_INVALID_ARG, "tensor dimension %d is %d", i, shape[i]);
    size_t n = shape_numel(ndim, shape);
    cl_mem m;
    LEVI_TRY(levi_buffer_alloc(ctx, n * sizeof(float), &m));
    *t = levi_tensor_view(ctx, m, 0, ndim, shape);
    t->owns = 1;
    levi_status st = levi_tensor_zero(t);
    if (st != LEVI_OK) levi_tensor_free(t);
    return st;
}

levi_status levi_tensor_alloc1(levi_tensor *t, levi_ctx *ctx, int n0) { return levi_tensor_alloc(t, ctx, 1, &n0); }

levi_status levi_tensor_alloc2(levi_tensor *t, levi_ctx *ctx, int n0, int n1) {
    int s[2] = {n0, n1};
    return levi_tensor_alloc(t, ctx, 2, s);
}

levi_tensor levi_tensor_reshape(const levi_tensor *t, int ndim, const int *shape) {
    levi_tensor r = levi_tensor_view(t->ctx, t->buf, t->offset, ndim, shape);
    return r;
}

levi_tensor levi_tensor_rows(const levi_tensor *t, int start, int count) {
    levi_tensor r = *t;
    size_t row = t->shape[0] ? t->numel / (size_t)t->shape[0] : 0;
    r.owns = 0;
    r.offset = t->offset + (size_t)start * row;
    r.shape[0] = count;
    r.numel = row * (size_t)count;
    return r;
}

void levi_tensor_free(levi_tensor *t) {
    if (t->owns && t->buf) clReleaseMemObject(t->buf);
    memset(t, 0, sizeof *t);
}

/* levi_buffer_write (to_device 1) and levi_buffer_read (0): a plan moves
 * nothing (reads give zeros), an empty transfer with an event is a marker. */
static levi_status buffer_copy(levi_ctx *ctx, int to_device, cl_mem buf, size_t offset_bytes, size_t bytes,
                               void *host, int blocking, cl_uint n_wait, const cl_event *wait, cl_event *done) {
    if (done) *done = NULL;
    if (ctx->plan) {
        if (!to_device) memset(host, 0, bytes);
        return LEVI_OK;
    }
    if (!bytes && !done) return LEVI_OK;
    if (blocking) levi_count_sync(ctx);
    if (to_device)
        levi_count_h2d(ctx, bytes);
    else
        levi_count_d2h(ctx, bytes);
    const cl_event *w = n_wait ? wait : NULL;
    const cl_bool b = blocking ? CL_TRUE : CL_FALSE;
    if (!bytes)
        LEVI_CL_CHECK(clEnqueueMarkerWithWaitList(ctx->queue, n_wait, w, done));
    else if (to_device)
        LEVI_CL_CHECK(clEnqueueWriteBuffer(ctx->queue, buf, b, offset_bytes, bytes, host, n_wait, w, done));
    else
        LEVI_CL_CHECK(clEnqueueReadBuffer(ctx->queue, buf, b, offset_bytes, bytes, host, n_wait, w, done));
    return LEVI_OK;
}

levi_status levi_buffer_write(levi_ctx *ctx, cl_mem buf, size_t offset_bytes, size_t bytes, const void *host,
                              int blocking, cl_uint n_wait, const cl_event *wait, cl_event *done) {
    return buffer_copy(ctx, 1, buf, offset_bytes, bytes, (void *)host, blocking, n_wait, wait, done);
}

levi_status levi_buffer_read(levi_ctx *ctx, cl_mem buf, size_t offset_bytes, size_t bytes, void *host,
                             int blocking, cl_uint n_wait, const cl_event *wait, cl_event *done) {
    return buffer_copy(ctx, 0, buf, offset_bytes, bytes, host, blocking, n_wait, wait, done);
}

levi_status levi_tensor_write(const levi_tensor *t, const float *host) {
    if (!t->numel) return LEVI_OK;
    return levi_buffer_write(t->ctx, t->buf, t->offset * sizeof(float), t->numel * sizeof(float), host, 1, 0, NULL,
                             NULL);
}

levi_status levi_tensor_read(const levi_tensor *t, float *host) {
    if (!t->numel) return LEVI_OK;
    return levi_buffer_read(t->ctx, t->buf, t->offset * sizeof(float), t->numel * sizeof(float), host, 1, 0, NULL,
                            NULL);
}

levi_status levi_tensor_write_async(const levi_tensor *t, const float *host, cl_uint n_wait, const cl_event *wait,
                                    cl_event *done) {
    return levi_buffer_write(t->ctx, t->buf, t->offset * sizeof(float), t->numel * sizeof(float), host, 0, n_wait,
                             wait, done);
}

levi_status levi_tensor_read_async(const levi_tensor *t, float *host, cl_uint n_wait, const cl_event *wait,
                                   cl_event *done) {
    return levi_buffer_read(t->ctx, t->buf, t->offset * sizeof(float), t->numel * sizeof(float), host, 0, n_wait,
                            wait, done);
}

levi_status levi_tensor_copy(const levi_tensor *dst, const levi_tensor *src) {
    if (dst->numel != src->numel)
        return levi_error(LEVI_ERR_SHAPE, "copy of %zu elements into a tensor of %zu", src->numel, dst->numel);
    if (!dst->numel || dst->ctx->plan) return LEVI_OK;
    LEVI_CL_CHECK(clEnqueueCopyBuffer(dst->ctx->queue, src->buf, dst->buf, src->offset * sizeof(float),
                                      dst->offset * sizeof(float), dst->numel * sizeof(float), 0, NULL, NULL));
    return LEVI_OK;
}

/* A fill as a native kernel (one buffer: its host address in the one slot). */
typedef struct fill_job {
    void *mem; /* cl_mem on enqueue, its host address when run */
    size_t offset, numel;
    float value;
} fill_job;

static void CL_CALLBACK fill_native(void *arg) {
    const fill_job *j = arg;
    float *p = (float *)j->mem + j->offset;
    uint32_t bits;
    memcpy(&bits, &j->value, sizeof bits);
    if (!bits) {
        memset(p, 0, j->numel * sizeof(float));
        return;
    }
    for (size_t i = 0; i < j->numel; i++) p[i] = j->value;
}

/* On the OpenBLAS GEMM path (a CPU device that runs native kernels on host
 * memory) a fill is a memset in a native kernel: PoCL's clEnqueueFillBuffer
 * stores the pattern float by float (605 KB: 37 us against 4.5 us). A
 * sub-buffer's host address is not portable (PoCL passes its parent's): such
 * fills stay clEnqueueFillBuffer. */
levi_status levi_tensor_fill(const levi_tensor *t, float value) {
    if (!t->numel || t->ctx->plan) return LEVI_OK;
    cl_mem parent = NULL;
    size_t bytes = 0;
    /* a native kernel writes host memory directly: the range is checked here, on every path */
    LEVI_CL_CHECK(clGetMemObjectInfo(t->buf, CL_MEM_SIZE, sizeof bytes, &bytes, NULL));
    if (t->offset + t->numel > bytes / sizeof(float))
        return levi_error(LEVI_ERR_SHAPE, "fill: floats [%zu, %zu) of a buffer of %zu floats", t->offset,
                          t->offset + t->numel, bytes / sizeof(float));
    if (levi_gemm_get_path(t->ctx) == LEVI_GEMM_OPENBLAS &&
        clGetMemObjectInfo(t->buf, CL_MEM_ASSOCIATED_MEMOBJECT, sizeof parent, &parent, NULL) == CL_SUCCESS &&
        !parent) {
        fill_job j = {(void *)t->buf, t->offset, t->numel, value};
        const void *loc = &j.mem;
        cl_event ev; /* profiling only */
        cl_int rc = clEnqueueNativeKernel(t->ctx->queue, fill_native, &j, sizeof j, 1, &t->buf, &loc, 0, NULL,
                                          levi_profile_event(t->ctx, &ev));
        levi_profile_track(t->ctx, "fill (native)", &ev);
        LEVI_CL_CHECK(rc);
        return LEVI_OK;
    }
    LEVI_CL_CHECK(clEnqueueFillBuffer(t->ctx->queue, t->buf, &value, sizeof value, t->offset * sizeof(float),
                                      t->numel * sizeof(float), 0, NULL, NULL));
    return LEVI_OK;
}

levi_status levi_tensor_zero(const levi_tensor *t) { return levi_tensor_fill(t, 0.0f); }

const char *levi_tensor_shape_str(const levi_tensor *t, char *buf, size_t len) {
    size_t used = 0;
    used += (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < t->ndim && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, i ? ",%d" : "%d", t->shape[i]);
    if (used < len) snprintf(buf + used, len - used, ")");
    return buf;
}

levi_status levi_tensor_dump(const levi_tensor *t, const char *path) {
    size_t head = 8 + 4 + 4 * LEVI_MAX_DIMS;
    char *buf = malloc(head + t->numel * sizeof(float));
    if (!buf) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory dumping a tensor");
    memcpy(buf, "LEVITNS1", 8);
    int dims[LEVI_MAX_DIMS + 1] = {t->ndim};
    for (int i = 0; i < LEVI_MAX_DIMS; i++) dims[i + 1] = i < t->ndim ? t->shape[i] : 0;
    memcpy(buf + 8, dims, sizeof dims);
    levi_status st = levi_tensor_read(t, (float *)(void *)(buf + head));
    if (st == LEVI_OK) st = levi_write_file_atomic(path, buf, head + t->numel * sizeof(float));
    free(buf);
    return st;
}

void levi_arena_init(levi_arena *a, levi_ctx *ctx, const char *role) {
    memset(a, 0, sizeof *a);
    a->ctx = ctx;
    a->role = role;
}

size_t levi_arena_reserve(levi_arena *a, size_t numel) {
    size_t off = a->numel;
    if (a->ctx && a->ctx->plan && role_of(a->role) == LEVI_MEM_ACTIVATIONS &&
        numel * sizeof(float) > a->ctx->plan->largest_tensor)
        a->ctx->plan->largest_tensor = numel * sizeof(float);
    a->numel += (numel + 63) / 64 * 64;
    return off;
}

levi_status levi_arena_commit(levi_arena *a) {
    levi_status st = buffer_alloc(a->ctx, a->numel * sizeof(float), a->role, &a->buf);
    if (st != LEVI_OK) return levi_error(st, "%s arena: %s", a->role ? a->role : "tensor", levi_last_error());
    levi_tensor all = levi_arena_all(a);
    return levi_tensor_zero(&all);
}

levi_tensor levi_arena_tensor(const levi_arena *a, size_t offset, int ndim, const int *shape) {
    return levi_tensor_view(a->ctx, a->buf, offset, ndim, shape);
}

levi_tensor levi_arena_all(const levi_arena *a) {
    /* shape (numel/64, 64): reservations are multiples of 64 floats, so an
     * arena beyond 2^31 floats still has an exact int shape */
    int s[2] = {(int)(a->numel / 64), 64};
    return levi_tensor_view(a->ctx, a->buf, 0, 2, s);
}

void levi_arena_free(levi_arena *a) {
    if (a->buf) clReleaseMemObject(a->buf);
    a->buf = NULL;
    a->numel = 0;
}
