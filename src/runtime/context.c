/* Contexts: one OpenCL context + in-order queue per device, with its own
 * program and kernel tables. */
#include <stdlib.h>
#include <string.h>

#include "levi/gemm.h"
#include "levi/log.h"
#include "runtime_internal.h"

static void derive_build_options(levi_ctx *ctx) {
    int major = 1, minor = 1;
    /* "OpenCL C 1.2 pocl" → 1.2; kernels are OpenCL C 1.2, so never ask for more. */
    if (sscanf(ctx->info.opencl_c_version, "OpenCL C %d.%d", &major, &minor) != 2) major = 1, minor = 1;
    const char *std = (major > 1 || minor >= 2) ? "-cl-std=CL1.2" : "-cl-std=CL1.1";
    snprintf(ctx->build_options, sizeof ctx->build_options, "%s -DLEVI_WG=%zu", std, ctx->wg);
}

static levi_status ctx_create(levi_ctx **out, const levi_device_info *device, int tuned) {
    *out = NULL;
    levi_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    ctx->info = *device;
    ctx->wg = device->max_work_group >= 64 ? 64 : device->max_work_group;
    if (ctx->wg == 0) ctx->wg = 1;
    derive_build_options(ctx);
    int enabled = 0;
    if (levi_cache_dir(ctx->cache_dir, sizeof ctx->cache_dir, &enabled) != LEVI_OK || !enabled)
        ctx->cache_dir[0] = '\0';
    cl_int rc;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)device->platform, 0};
    ctx->context = clCreateContext(props, 1, &device->device, NULL, NULL, &rc);
    if (rc != CL_SUCCESS) {
        free(ctx);
        return levi_error(rc, "cannot create an OpenCL context on '%s': %s", device->name, levi_status_name(rc));
    }
    ctx->queue = clCreateCommandQueue(ctx->context, device->device, 0, &rc);
    if (rc != CL_SUCCESS) {
        clReleaseContext(ctx->context);
        free(ctx);
        return levi_error(rc, "cannot create a command queue on '%s': %s", device->name, levi_status_name(rc));
    }
    /* GEMM path, lock, tuned CLBlast parameters if stored (levi-cl tune) */
    levi_status st = levi_gemm_ctx_init(ctx, tuned);
    if (st != LEVI_OK) {
        clReleaseCommandQueue(ctx->queue);
        clReleaseContext(ctx->context);
        free(ctx);
        return st;
    }
    const char *prof = getenv("LEVI_PROFILE");
    if (prof && *prof && strcmp(prof, "0")) {
        ctx->profile_at_exit = 1;
        st = levi_ctx_set_profiling(ctx, 1);
        if (st != LEVI_OK) {
            LEVI_WARN("LEVI_PROFILE: %s; counting without device times", levi_last_error());
        }
    }
    *out = ctx;
    return LEVI_OK;
}

levi_status levi_ctx_create(levi_ctx **out, const levi_device_info *device) { return ctx_create(out, device, 1); }

levi_status levi_ctx_create_untuned(levi_ctx **out, const levi_device_info *device) {
    return ctx_create(out, device, 0);
}

levi_status levi_ctx_open(levi_ctx **out, const char *sel) {
    *out = NULL;
    levi_device_list list;
    LEVI_TRY(levi_device_list_query(&list));
    const char *from = "--device";
    if (!sel || !*sel) {
        sel = getenv("LEVI_DEVICE");
        from = "LEVI_DEVICE";
    }
    int index = -1;
    char why[160] = "";
    levi_status st = levi_device_select(list.devices, list.count, sel, &index, why, sizeof why);
    if (st != LEVI_OK) {
        char msg[4096];
        int used = snprintf(msg, sizeof msg, "%s=%s: %s\ncandidates:", from, sel ? sel : "", levi_last_error());
        for (int i = 0; i < list.count && used > 0 && (size_t)used < sizeof msg; i++)
            used += snprintf(msg + used, sizeof msg - (size_t)used, "\n  [%d] %d:%d  %-5s %s (%s)", i,
                             list.devices[i].platform_index, list.devices[i].device_index,
                             levi_device_type_name(list.devices[i].type), list.devices[i].name,
                             list.devices[i].platform_name);
        levi_device_list_free(&list);
        return levi_error(st, "%s", msg);
    }
    const levi_device_info *d = &list.devices[index];
    LEVI_INFO("device [%d] %d:%d %s (%s, driver %s): %s", d->index, d->platform_index, d->device_index, d->name,
              d->platform_name, d->driver_version, why);
    st = levi_ctx_create(out, d);
    levi_device_list_free(&list);
    return st;
}

void levi_ctx_destroy(levi_ctx *ctx) {
    if (!ctx) return;
    if (ctx->queue) clFinish(ctx->queue);
    if (ctx->profile_at_exit) levi_profile_print(ctx, stderr, "totals of this context", &ctx->counters, 1, NULL);
    runtime_profile_free(ctx);
    levi_gemm_ctx_release(ctx); /* CLBlast's programs go with the last context (src/ops/gemm_clblast.c) */
    for (int i = 0; i < ctx->n_kernels; i++) clReleaseKernel(ctx->kernels[i].kernel);
    for (int i = 0; i < ctx->n_programs; i++) clReleaseProgram(ctx->programs[i].program);
    if (ctx->gemm_temp) clReleaseMemObject(ctx->gemm_temp);
    if (ctx->queue) clReleaseCommandQueue(ctx->queue);
    if (ctx->context) clReleaseContext(ctx->context);
    free(ctx);
}

/* The kernel's name from ctx's table (profiling only). */
static const char *kernel_name(const levi_ctx *ctx, cl_kernel k) {
    for (int i = 0; i < ctx->n_kernels; i++)
        if (ctx->kernels[i].kernel == k) return ctx->kernels[i].name;
    return "(kernel)";
}

void levi_ctx_plan_begin(levi_ctx *ctx, levi_mem_tally *tally) {
    memset(tally, 0, sizeof *tally);
    ctx->plan = tally;
}

void levi_ctx_plan_end(levi_ctx *ctx) { ctx->plan = NULL; }

levi_status levi_launch(levi_ctx *ctx, cl_kernel k, cl_uint dims, const size_t *global, const size_t *local) {
    if (ctx->plan) return LEVI_OK;
    cl_event ev = NULL;
    cl_int rc = clEnqueueNDRangeKernel(ctx->queue, k, dims, NULL, global, local, 0, NULL,
                                       ctx->profiling ? &ev : NULL);
    if (rc != CL_SUCCESS) {
        char name[64] = "?";
        clGetKernelInfo(k, CL_KERNEL_FUNCTION_NAME, sizeof name, name, NULL);
        return levi_error(rc, "launching kernel '%s' on '%s': %s", name, ctx->info.name, levi_status_name(rc));
    }
    ctx->counters.launches++;
    if (ev) levi_profile_track(ctx, kernel_name(ctx, k), &ev);
    return LEVI_OK;
}

size_t levi_group_1d(const levi_ctx *ctx, size_t n) {
    if (!(ctx->info.type & CL_DEVICE_TYPE_CPU)) return ctx->wg;
    size_t cu = ctx->info.compute_units ? ctx->info.compute_units : 1;
    size_t lim = ctx->info.max_work_group ? ctx->info.max_work_group : ctx->wg, g = ctx->wg;
    if (lim > 4096) lim = 4096;
    while (g * 2 <= lim && g * 2 * 4 * cu <= n) g *= 2;
    return g;
}

levi_status levi_launch_1d(levi_ctx *ctx, cl_kernel k, size_t n) {
    if (n == 0) return LEVI_OK;
    size_t local = levi_group_1d(ctx, n);
    size_t global = (n + local - 1) / local * local;
    return levi_launch(ctx, k, 1, &global, &local);
}

levi_status levi_finish(levi_ctx *ctx) {
    if (ctx->plan) return LEVI_OK;
    levi_count_sync(ctx);
    LEVI_CL_CHECK(clFinish(ctx->queue));
    return LEVI_OK;
}
