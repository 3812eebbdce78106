/* Checks and launch shapes shared by the op launchers. */
#include <limits.h>

#include "ops_internal.h"

levi_status ops_need(const char *op, const char *name, const levi_tensor *t, size_t need) {
    if (!t || !t->buf) return levi_error(LEVI_ERR_INVALID_ARG, "%s: tensor %s is NULL", op, name);
    if (t->numel < need)
        return levi_error(LEVI_ERR_SHAPE, "%s: %s holds %zu floats, needs %zu", op, name, t->numel, need);
    return LEVI_OK;
}

levi_status ops_reduce_wg(levi_ctx *ctx, cl_kernel k, size_t *wg) {
    size_t kmax = 0;
    LEVI_CL_CHECK(clGetKernelWorkGroupInfo(k, ctx->info.device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kmax, &kmax,
                                           NULL));
    size_t lim = ctx->wg < kmax || kmax == 0 ? ctx->wg : kmax;
    size_t p = 1;
    while (p * 2 <= lim) p *= 2;
    *wg = p;
    return LEVI_OK;
}

levi_status ops_launch_groups(levi_ctx *ctx, cl_kernel k, size_t groups, size_t wg) {
    if (groups == 0) return LEVI_OK;
    size_t global = groups * wg;
    return levi_launch(ctx, k, 1, &global, &wg);
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
