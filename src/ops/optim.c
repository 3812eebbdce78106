/* AdamW and global gradient-norm clipping over flat buffers: launches of
 * cl/train.cl. */
#include <math.h>
#include <stdlib.h>

#include "ops_internal.h"

/* params, grads, m, v (n) */
levi_status levi_adamw_update(levi_ctx *ctx, const levi_tensor *params, const levi_tensor *grads,
                              const levi_tensor *m, const levi_tensor *v, size_t n, const levi_adamw_cfg *cfg,
                              int t) {
    const char *op = "adamw_update";
    if (!cfg) return levi_error(LEVI_ERR_INVALID_ARG, "%s: cfg is NULL", op);
    if (t < 1) return levi_error(LEVI_ERR_INVALID_ARG, "%s: step t=%d must be >= 1", op, t);
    if (!(cfg->beta1 >= 0 && cfg->beta1 < 1) || !(cfg->beta2 >= 0 && cfg->beta2 < 1) || !(cfg->eps > 0) ||
        !(cfg->lr >= 0) || !(cfg->weight_decay >= 0))
        return levi_error(LEVI_ERR_INVALID_ARG,
                          "%s: lr=%g beta1=%g beta2=%g eps=%g weight_decay=%g: expected lr, weight_decay >= 0, "
                          "betas in [0,1), eps > 0",
                          op, (double)cfg->lr, (double)cfg->beta1, (double)cfg->beta2, (double)cfg->eps,
                          (double)cfg->weight_decay);
    if (n == 0) return LEVI_OK;
    LEVI_TRY(ops_need(op, "params", params, n));
    LEVI_TRY(ops_need(op, "grads", grads, n));
    LEVI_TRY(ops_need(op, "m", m, n));
    LEVI_TRY(ops_need(op, "v", v, n));
    float bc1 = (float)(1.0 - pow((double)cfg->beta1, t));
    float bc2 = (float)(1.0 - pow((double)cfg->beta2, t));
    ops_kernel k = ops_kernel_get(ctx, "train", "adamw_update");
    ops_arg_tensor(&k, params);
    ops_arg_tensor(&k, grads);
    ops_arg_tensor(&k, m);
    ops_arg_tensor(&k, v);
    ops_arg_ulong(&k, n);
    ops_arg_float(&k, cfg->lr);
    ops_arg_float(&k, cfg->beta1);
    ops_arg_float(&k, cfg->beta2);
    ops_arg_float(&k, cfg->eps);
    ops_arg_float(&k, cfg->weight_decay);
    ops_arg_float(&k, bc1);
    ops_arg_float(&k, bc2);
    return ops_run_1d(&k, n);
}

/* Most partial sums the first stage writes; enough groups to fill any device. */
#define MAX_PARTIALS 256

size_t levi_sumsq_chunks(const levi_ctx *ctx, size_t n) {
    if (!ops_is_cpu(ctx)) return 0;
    /* a few per compute unit, none under 4096 values */
    size_t cu = ctx->info.compute_units ? ctx->info.compute_units : 1, want = 4 * cu;
    if (want > MAX_PARTIALS) want = MAX_PARTIALS;
    size_t c = n < 4096 * want ? (n + 4095) / 4096 : want;
    return c ? c : 1;
}

/* grads (n): norm = sqrt(Σ g²) (per-group partials on the device, summed in
 * double on the host); scaled by max_norm / norm when that is below 1. */
levi_status levi_grad_clip(levi_ctx *ctx, const levi_tensor *grads, size_t n, float max_norm, float *norm_out) {
    const char *op = "grad_clip";
    if (n == 0) {
        if (norm_out) *norm_out = 0.0f;
        return LEVI_OK;
    }
    LEVI_TRY(ops_need(op, "grads", grads, n));
    size_t groups = levi_sumsq_chunks(ctx, n);
    ops_kernel k = ops_kernel_get(ctx, "train", groups ? "sumsq_chunks" : "sumsq_partials");
    size_t wg = groups ? 1 : ops_kernel_wg(&k, ctx->wg);
    if (!groups) {
        groups = (n + wg - 1) / wg;
        if (groups > MAX_PARTIALS) groups = MAX_PARTIALS;
    }
    cl_mem scratch;
    LEVI_TRY(levi_ctx_scratch(ctx, groups * sizeof(float), &scratch));
    levi_tensor partials = levi_tensor_view(ctx, scratch, 0, 1, (int[]){(int)groups});
    ops_arg_tensor(&k, &partials);
    ops_arg_tensor(&k, grads);
    ops_arg_ulong(&k, n);
    if (wg == 1)
        ops_arg_int(&k, (int)groups);
    else
        ops_arg_local(&k, wg * sizeof(float));
    LEVI_TRY(ops_run_groups(&k, groups, wg));
    float host[MAX_PARTIALS];
    LEVI_TRY(levi_tensor_read(&partials, host));
    double sum = 0;
    for (size_t i = 0; i < groups; i++) sum += host[i];
    double norm = sqrt(sum);
    if (norm_out) *norm_out = (float)norm;
    if (!isfinite(norm))
        return levi_error(LEVI_ERR_NOT_FINITE, "%s: the gradient norm over %zu values is %g", op, n, norm);
    if (max_norm > 0 && norm > max_norm) {
        levi_tensor g = *grads;
        g.numel = n;
        LEVI_TRY(levi_scale_forward(ctx, &g, &g, (float)(max_norm / norm), n));
    }
    return LEVI_OK;
}
