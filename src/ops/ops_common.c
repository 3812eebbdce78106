/* Checks and launch shapes shared by the op launchers. */
#include <limits.h>

#include "ops_internal.h"

levi_status ops_need(const char *op, const char *name, const levi_tensor *t, size_t need) {
    if (!t || !t->buf) return levi_error(LEVI_ERR_INVALID_ARG, "%s: tensor %s is NULL", op, name);
    if (t->numel < need)
        return levi_error(LEVI_ERR_SHAPE, "%s: %s holds %zu floats, needs %zu", op, name, t->numel, need);
    return LEVI_OK;
}

ops_kernel ops_kernel_get(levi_ctx *ctx, const char *file, const char *name) {
    ops_kernel k = {ctx, NULL, 0, LEVI_OK};
    k.st = levi_kernel_get(ctx, file, name, &k.k);
    return k;
}

static void set_arg(ops_kernel *k, size_t size, const void *value) {
    if (k->st != LEVI_OK) return;
    cl_int rc = clSetKernelArg(k->k, k->arg, size, value);
    if (rc != CL_SUCCESS) {
        char name[64] = "?";
        clGetKernelInfo(k->k, CL_KERNEL_FUNCTION_NAME, sizeof name, name, NULL);
        k->st = levi_error(rc, "setting argument %u of kernel '%s': %s", k->arg, name, levi_status_name(rc));
    }
    k->arg++;
}

void ops_arg_tensor(ops_kernel *k, const levi_tensor *t) {
    if (k->st == LEVI_OK && (!t || !t->buf)) {
        k->st = levi_error(LEVI_ERR_INVALID_ARG, "argument %u: tensor is NULL", k->arg);
        return;
    }
    cl_ulong off = k->st == LEVI_OK ? t->offset : 0;
    set_arg(k, sizeof(cl_mem), k->st == LEVI_OK ? &t->buf : NULL);
    set_arg(k, sizeof off, &off);
}

void ops_arg_int(ops_kernel *k, int v) {
    cl_int x = v;
    set_arg(k, sizeof x, &x);
}

void ops_arg_ulong(ops_kernel *k, size_t v) {
    cl_ulong x = v;
    set_arg(k, sizeof x, &x);
}

void ops_arg_float(ops_kernel *k, float v) { set_arg(k, sizeof v, &v); }

void ops_arg_local(ops_kernel *k, size_t bytes) { set_arg(k, bytes, NULL); }

levi_status ops_run(ops_kernel *k, cl_uint dims, const size_t *global, const size_t *local) {
    if (k->st != LEVI_OK) return k->st;
    return levi_launch(k->ctx, k->k, dims, global, local);
}

levi_status ops_run_1d(ops_kernel *k, size_t n) {
    if (k->st != LEVI_OK || n == 0) return k->st;
    size_t local = levi_group_1d(k->ctx, n), global = (n + local - 1) / local * local;
    return levi_launch(k->ctx, k->k, 1, &global, &local);
}

levi_status ops_run_items(ops_kernel *k, size_t n) {
    if (k->st != LEVI_OK || n == 0) return k->st;
    size_t local = k->ctx->wg;
    if (ops_is_cpu(k->ctx)) {
        const size_t cu = k->ctx->info.compute_units ? k->ctx->info.compute_units : 1;
        while (local > 1 && local * 4 * cu > n) local /= 2;
    }
    size_t global = (n + local - 1) / local * local;
    return levi_launch(k->ctx, k->k, 1, &global, &local);
}

levi_status ops_run_groups(ops_kernel *k, size_t groups, size_t wg) {
    if (k->st != LEVI_OK || groups == 0) return k->st;
    size_t global = groups * wg;
    return levi_launch(k->ctx, k->k, 1, &global, &wg);
}

levi_status ops_run_grid(ops_kernel *k, size_t cols, size_t rows, size_t depth) {
    if (k->st != LEVI_OK || !cols || !rows || !depth) return k->st;
    /* columns in groups of up to the elementwise size; on CPUs several rows
     * too (a power of two dividing rows: kernels guard only the column) */
    const size_t want = levi_group_1d(k->ctx, cols * rows * depth);
    size_t lx = 1, ly = 1;
    while (lx < cols && lx < want) lx *= 2;
    while (ops_is_cpu(k->ctx) && lx * ly * 2 <= want && rows % (ly * 2) == 0) ly *= 2;
    size_t local[3] = {lx, ly, 1}, global[3] = {(cols + lx - 1) / lx * lx, rows, depth};
    return levi_launch(k->ctx, k->k, depth > 1 ? 3 : 2, global, local);
}

size_t ops_kernel_wg(ops_kernel *k, size_t limit) {
    size_t lim = limit, kmax = 0;
    if (k->st == LEVI_OK &&
        clGetKernelWorkGroupInfo(k->k, k->ctx->info.device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kmax, &kmax, NULL) ==
            CL_SUCCESS &&
        kmax && kmax < lim)
        lim = kmax;
    if (k->ctx->info.max_work_group && k->ctx->info.max_work_group < lim) lim = k->ctx->info.max_work_group;
    size_t p = 1;
    while (p * 2 <= lim) p *= 2;
    return p;
}

size_t ops_row_wg(ops_kernel *k, int cols) {
    size_t want = 1;
    while (want < (size_t)cols && want < 256) want *= 2;
    return ops_kernel_wg(k, want);
}

int ops_use_rowwise(const levi_ctx *ctx, int rows, int cols) {
    if ((size_t)cols < ctx->wg) return 1;
    size_t cores = ctx->info.compute_units ? ctx->info.compute_units : 1;
    return (ctx->info.type & CL_DEVICE_TYPE_CPU) && (size_t)rows >= 4 * cores;
}

levi_status ops_operand_open(levi_ctx *ctx, const levi_tensor *t, size_t extent, ops_operand *o) {
    o->buf = t->buf;
    o->offset = t->offset;
    o->sub = NULL;
    if (t->offset + extent <= (size_t)INT_MAX) return LEVI_OK;
    if (extent > (size_t)INT_MAX)
        return levi_error(LEVI_ERR_UNSUPPORTED, "an operand of %zu floats: the GEMM library indexes at most %d", extent,
                          INT_MAX);
    cl_uint align_bits = 0;
    size_t parent = 0;
    LEVI_CL_CHECK(clGetDeviceInfo(ctx->info.device, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof align_bits, &align_bits,
                                  NULL));
    LEVI_CL_CHECK(clGetMemObjectInfo(t->buf, CL_MEM_SIZE, sizeof parent, &parent, NULL));
    size_t align = align_bits >= 32 ? align_bits / 8 : 4;
    size_t start = t->offset * sizeof(float), end = (t->offset + extent) * sizeof(float);
    cl_buffer_region region = {start / align * align, 0};
    if (end > parent) end = parent;
    region.size = end - region.origin;
    cl_int rc;
    o->sub = clCreateSubBuffer(t->buf, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION, &region, &rc);
    if (rc != CL_SUCCESS) {
        o->sub = NULL;
        return levi_error(rc, "a sub-buffer of %zu bytes at byte %zu (for an operand at float %zu) on '%s': %s",
                          region.size, region.origin, t->offset, ctx->info.name, levi_status_name(rc));
    }
    o->buf = o->sub;
    o->offset = (start - region.origin) / sizeof(float);
    return LEVI_OK;
}

void ops_operand_close(ops_operand *o) {
    if (o->sub) clReleaseMemObject(o->sub); /* the runtime keeps it until enqueued work is done */
    o->sub = NULL;
}
