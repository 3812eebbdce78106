/* What a levi_model keeps on the device so that a training step never waits
 * for the host: metrics (loss and accuracy sums, the first non-finite step),
 * the global-norm clip and AdamW over every trainable group in one launch
 * each, the ensemble weights softmax(alpha) and their gradient, and the
 * confusion matrix of an evaluation. Launches of cl/train.cl. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "levi_model_internal.h"

/* state layout: keep equal to cl/train.cl */
enum {
    S_LOSS = 0,
    S_LOSS_C,
    S_CORRECT,
    S_N,
    S_LAST_LOSS,
    S_LAST_CORRECT,
    S_BAD_LOSS_STEP,
    S_BAD_LOSS,
    S_BAD_GRAD_STEP,
    S_BAD_GRAD_NORM,
    S_BAD_GRAD_LOSS,
    S_CLIP_SCALE,
    S_NORM,
    STATE_SET = 16, /* floats of a set's sums; its ring of per-step values follows */
    SET_FLOATS = LEVI_METRICS_SNAPSHOT_FLOATS,
    N_SETS = 2,
    MAX_PARTIALS = 256, /* per group, as levi_grad_clip */
};

#define CL_FILE "train"

static levi_status arg_mem(cl_kernel k, cl_uint *a, cl_mem m, size_t off) {
    cl_ulong o = off;
    LEVI_CL_CHECK(clSetKernelArg(k, (*a)++, sizeof(cl_mem), &m));
    LEVI_CL_CHECK(clSetKernelArg(k, (*a)++, sizeof o, &o));
    return LEVI_OK;
}
static levi_status arg_t(cl_kernel k, cl_uint *a, const levi_tensor *t) { return arg_mem(k, a, t->buf, t->offset); }
static levi_status arg_ulong(cl_kernel k, cl_uint *a, size_t v) {
    cl_ulong x = v;
    LEVI_CL_CHECK(clSetKernelArg(k, (*a)++, sizeof x, &x));
    return LEVI_OK;
}
static levi_status arg_int(cl_kernel k, cl_uint *a, int v) {
    cl_int x = v;
    LEVI_CL_CHECK(clSetKernelArg(k, (*a)++, sizeof x, &x));
    return LEVI_OK;
}
static levi_status arg_float(cl_kernel k, cl_uint *a, float v) {
    LEVI_CL_CHECK(clSetKernelArg(k, (*a)++, sizeof v, &v));
    return LEVI_OK;
}
static levi_status arg_local(cl_kernel k, cl_uint *a, size_t floats) {
    LEVI_CL_CHECK(clSetKernelArg(k, (*a)++, floats * sizeof(float), NULL));
    return LEVI_OK;
}

/* A power-of-two group size for a reduction kernel on ctx over n items
 * (levi_group_1d's, within the kernel's limit). */
static levi_status reduce_wg(levi_ctx *ctx, cl_kernel k, size_t n, size_t *wg) {
    size_t kmax = 0, want = levi_group_1d(ctx, n);
    LEVI_CL_CHECK(clGetKernelWorkGroupInfo(k, ctx->info.device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kmax, &kmax, NULL));
    size_t lim = want < kmax || kmax == 0 ? want : kmax, p = 1;
    while (p * 2 <= lim) p *= 2;
    *wg = p;
    return LEVI_OK;
}

static levi_status launch_groups(levi_ctx *ctx, cl_kernel k, size_t groups, size_t wg) {
    size_t global = groups * wg;
    return levi_launch(ctx, k, 1, &global, &wg);
}

levi_status model_device_plan(levi_model *m) {
    levi_arena *a = &m->dev;
    levi_arena_init(a, m->ctx, "training state");
    m->dev_state = levi_arena_reserve(a, N_SETS * SET_FLOATS);
    m->dev_w = levi_arena_reserve(a, LEVI_MAX_TAPS);
    m->dev_partials = levi_arena_reserve(a, 2 * MAX_PARTIALS);
    return levi_arena_commit(a);
}

void model_device_free(levi_model *m) {
    levi_arena_free(&m->dev);
    if (m->confusion) clReleaseMemObject(m->confusion);
    m->confusion = NULL;
}

/* A set's sums (STATE_SET floats); with_ring: and its ring after them. */
static levi_tensor set_view(const levi_model *m, int set, int with_ring) {
    int n = with_ring ? SET_FLOATS : STATE_SET;
    return levi_arena_tensor(&m->dev, m->dev_state + (size_t)set * SET_FLOATS, 1, &n);
}

static levi_tensor state_view(const levi_model *m, int set) { return set_view(m, set, 0); }

levi_tensor model_ensemble_w(const levi_model *m) {
    int k = m->nadapt;
    return levi_arena_tensor(&m->dev, m->dev_w, 1, &k);
}

/* --- metrics ---------------------------------------------------------------- */

levi_status levi_model_metrics_reset(levi_model *m, int set, int clear_flags) {
    if (set < 0 || set >= N_SETS) return levi_error(LEVI_ERR_INVALID_ARG, "metric set %d is not 0 or 1", set);
    levi_tensor s = state_view(m, set);
    if (clear_flags) return levi_tensor_zero(&s);
    levi_tensor sums = levi_tensor_rows(&s, 0, S_LAST_CORRECT + 1);
    return levi_tensor_zero(&sums);
}

levi_status levi_model_metrics_accumulate(levi_model *m, int B, int set, long step) {
    if (set < 0 || set >= N_SETS) return levi_error(LEVI_ERR_INVALID_ARG, "metric set %d is not 0 or 1", set);
    if (B != m->last_B || !m->have_labels)
        return levi_error(LEVI_ERR_INVALID_ARG, "metrics of batch %d need a forward with labels of that batch", B);
    if (step < 0 || step > 0x7fffffffL) return levi_error(LEVI_ERR_INVALID_ARG, "step %ld is out of range", step);
    int ens = m->cfg.fusion != LEVI_FUSION_CONCAT, k = m->nadapt;
    cl_kernel kr;
    size_t wg = 0;
    LEVI_TRY(levi_kernel_get(m->ctx, CL_FILE, "metrics_accumulate", &kr));
    LEVI_TRY(reduce_wg(m->ctx, kr, 0, &wg)); /* one work-group */
    levi_tensor st = state_view(m, set), lo = VIEW(m->losses, B), co = VIEW(m->correct, B);
    levi_tensor aux = ens ? VIEW(m->losses_l[0], B) : lo;
    cl_uint a = 0;
    LEVI_TRY(arg_t(kr, &a, &st));
    LEVI_TRY(arg_t(kr, &a, &lo));
    LEVI_TRY(arg_t(kr, &a, &co));
    LEVI_TRY(arg_t(kr, &a, &aux));
    LEVI_TRY(arg_ulong(kr, &a, (size_t)m->max_batch));
    LEVI_TRY(arg_int(kr, &a, ens ? k : 0));
    LEVI_TRY(arg_float(kr, &a, ens ? m->cfg.lambda / (float)k : 0.0f));
    LEVI_TRY(arg_int(kr, &a, B));
    LEVI_TRY(arg_int(kr, &a, (int)step));
    LEVI_TRY(arg_int(kr, &a, LEVI_METRICS_RING));
    LEVI_TRY(arg_local(kr, &a, wg));
    LEVI_TRY(arg_local(kr, &a, wg));
    return launch_groups(m->ctx, kr, 1, wg);
}

static long as_step(float f) {
    int i;
    memcpy(&i, &f, sizeof i);
    return i;
}

/* The sums of a set as read from the device (STATE_SET floats). */
static void unpack_sums(const float *h, levi_metrics *out) {
    memset(out, 0, sizeof *out);
    out->loss_sum = (double)h[S_LOSS] - (double)h[S_LOSS_C];
    out->correct = (long)h[S_CORRECT];
    out->n = (long)h[S_N];
    out->last_loss = h[S_LAST_LOSS];
    out->last_correct = (int)h[S_LAST_CORRECT];
    out->bad_loss_step = as_step(h[S_BAD_LOSS_STEP]);
    out->bad_loss = h[S_BAD_LOSS];
    out->bad_grad_step = as_step(h[S_BAD_GRAD_STEP]);
    out->bad_grad_norm = h[S_BAD_GRAD_NORM];
    out->bad_grad_loss = h[S_BAD_GRAD_LOSS];
    out->grad_norm = h[S_NORM];
}

levi_status levi_model_metrics_read(levi_model *m, int set, levi_metrics *out) {
    memset(out, 0, sizeof *out);
    if (set < 0 || set >= N_SETS) return levi_error(LEVI_ERR_INVALID_ARG, "metric set %d is not 0 or 1", set);
    float h[STATE_SET];
    levi_tensor st = state_view(m, set);
    LEVI_TRY(levi_tensor_read(&st, h));
    unpack_sums(h, out);
    return LEVI_OK;
}

levi_status levi_model_metrics_read_async(levi_model *m, int set, levi_metrics_snapshot *out, cl_event *done) {
    *done = NULL;
    if (set < 0 || set >= N_SETS) return levi_error(LEVI_ERR_INVALID_ARG, "metric set %d is not 0 or 1", set);
    levi_tensor st = set_view(m, set, 1);
    return levi_tensor_read_async(&st, out->raw, 0, NULL, done);
}

void levi_metrics_snapshot_sums(const levi_metrics_snapshot *s, levi_metrics *out) { unpack_sums(s->raw, out); }

void levi_metrics_snapshot_step(const levi_metrics_snapshot *s, long step, float *loss, int *correct) {
    const float *r = s->raw + STATE_SET + 2 * (size_t)(step % LEVI_METRICS_RING);
    *loss = r[0];
    *correct = (int)r[1];
}

/* --- ensemble ----------------------------------------------------------------- */

levi_status model_ensemble_weights(levi_model *m) {
    cl_kernel kr;
    LEVI_TRY(levi_kernel_get(m->ctx, CL_FILE, "ensemble_weights", &kr));
    levi_tensor w = model_ensemble_w(m), al = levi_params_value(&m->P, m->alpha);
    cl_uint a = 0;
    LEVI_TRY(arg_t(kr, &a, &w));
    LEVI_TRY(arg_t(kr, &a, &al));
    LEVI_TRY(arg_int(kr, &a, m->nadapt));
    size_t one = 1;
    return levi_launch(m->ctx, kr, 1, &one, &one);
}

/* logits (B,K) = Σ_l w_l logits_l */
levi_status model_ensemble_combine(levi_model *m, int B) {
    size_t n = (size_t)B * m->cfg.num_classes;
    cl_kernel kr;
    LEVI_TRY(levi_kernel_get(m->ctx, CL_FILE, "ensemble_combine", &kr));
    levi_tensor lg = VIEW(m->logits, B), ll = VIEW(m->logits_l[0], B), w = model_ensemble_w(m);
    cl_uint a = 0;
    LEVI_TRY(arg_t(kr, &a, &lg));
    LEVI_TRY(arg_t(kr, &a, &ll));
    LEVI_TRY(arg_ulong(kr, &a, (size_t)m->max_batch * m->cfg.num_classes));
    LEVI_TRY(arg_t(kr, &a, &w));
    LEVI_TRY(arg_int(kr, &a, m->nadapt));
    LEVI_TRY(arg_ulong(kr, &a, n));
    return levi_launch_1d(m->ctx, kr, n);
}

/* dalpha += w ⊙ (g − Σ w g), and with split dlogits_l = w_l dlogits for every member */
levi_status model_ensemble_backward(levi_model *m, int B, int split) {
    int k = m->nadapt;
    size_t n = (size_t)B * m->cfg.num_classes;
    size_t stride = (size_t)m->max_batch * m->cfg.num_classes; /* of every per-tap stack */
    levi_tensor w = model_ensemble_w(m), dlg = VIEW(m->dlogits, B), dl0 = VIEW(m->dlogits_l[0], B);
    levi_tensor ll = VIEW(m->logits_l[0], B), da = levi_params_grad(&m->P, m->alpha);
    cl_kernel kr;
    LEVI_TRY(levi_kernel_get(m->ctx, CL_FILE, "ensemble_alpha_backward", &kr));
    size_t wg = 0;
    LEVI_TRY(reduce_wg(m->ctx, kr, 0, &wg)); /* one work-group */
    cl_uint a = 0;
    LEVI_TRY(arg_t(kr, &a, &da));
    LEVI_TRY(arg_t(kr, &a, &w));
    LEVI_TRY(arg_t(kr, &a, &dlg));
    LEVI_TRY(arg_t(kr, &a, &ll));
    LEVI_TRY(arg_ulong(kr, &a, stride));
    LEVI_TRY(arg_int(kr, &a, k));
    LEVI_TRY(arg_ulong(kr, &a, n));
    LEVI_TRY(arg_local(kr, &a, wg));
    LEVI_TRY(launch_groups(m->ctx, kr, 1, wg));
    if (!split) return LEVI_OK;
    LEVI_TRY(levi_kernel_get(m->ctx, CL_FILE, "ensemble_dsplit", &kr));
    a = 0;
    LEVI_TRY(arg_t(kr, &a, &dl0));
    LEVI_TRY(arg_ulong(kr, &a, stride));
    LEVI_TRY(arg_t(kr, &a, &w));
    LEVI_TRY(arg_t(kr, &a, &dlg));
    LEVI_TRY(arg_int(kr, &a, k));
    LEVI_TRY(arg_ulong(kr, &a, n));
    return levi_launch_1d(m->ctx, kr, n * (size_t)k);
}

/* --- the update ------------------------------------------------------------------ */

/* Clip scale into the state, then one AdamW launch over (up to) two groups,
 * all on the head ctx; nothing is read back. */
levi_status model_step_device(levi_model *m, const levi_grad_group *g, int ng, const levi_adamw_cfg *cfg, int t,
                              float grad_clip) {
    levi_ctx *ctx = m->ctx;
    const levi_grad_group *g2 = ng > 1 ? &g[1] : &g[0];
    size_t n1 = g[0].grads.numel, n2 = ng > 1 ? g[1].grads.numel : 0;
    cl_kernel kr;
    size_t gr1, gr2;
    levi_tensor partials = levi_arena_tensor(&m->dev, m->dev_partials, 1, (int[]){2 * MAX_PARTIALS});
    levi_tensor st = state_view(m, 0);
    cl_uint a = 0;
    if (levi_sumsq_chunks(ctx, n1)) {
        /* contiguous chunks, one work-item each, as levi_grad_clip takes them */
        gr1 = levi_sumsq_chunks(ctx, n1);
        gr2 = n2 ? levi_sumsq_chunks(ctx, n2) : 0;
        LEVI_TRY(levi_kernel_get(ctx, CL_FILE, "clip_sumsq2_chunks", &kr));
        LEVI_TRY(arg_t(kr, &a, &partials));
        LEVI_TRY(arg_t(kr, &a, &g[0].grads));
        LEVI_TRY(arg_ulong(kr, &a, n1));
        LEVI_TRY(arg_int(kr, &a, (int)gr1));
        LEVI_TRY(arg_t(kr, &a, &g2->grads));
        LEVI_TRY(arg_ulong(kr, &a, n2));
        LEVI_TRY(arg_int(kr, &a, (int)gr2));
        LEVI_TRY(launch_groups(ctx, kr, gr1 + gr2, 1));
    } else {
        size_t wg = 0;
        LEVI_TRY(levi_kernel_get(ctx, CL_FILE, "clip_sumsq2", &kr));
        LEVI_TRY(reduce_wg(ctx, kr, n1 > n2 ? n1 : n2, &wg));
        gr1 = (n1 + wg - 1) / wg, gr2 = (n2 + wg - 1) / wg;
        if (gr1 > MAX_PARTIALS) gr1 = MAX_PARTIALS;
        if (gr2 > MAX_PARTIALS) gr2 = MAX_PARTIALS;
        if (!gr1) gr1 = 1;
        LEVI_TRY(arg_t(kr, &a, &partials));
        LEVI_TRY(arg_t(kr, &a, &g[0].grads));
        LEVI_TRY(arg_ulong(kr, &a, n1));
        LEVI_TRY(arg_int(kr, &a, (int)gr1));
        LEVI_TRY(arg_t(kr, &a, &g2->grads));
        LEVI_TRY(arg_ulong(kr, &a, n2));
        LEVI_TRY(arg_local(kr, &a, wg));
        LEVI_TRY(launch_groups(ctx, kr, gr1 + gr2, wg));
    }
    LEVI_TRY(levi_kernel_get(ctx, CL_FILE, "clip_finish", &kr));
    a = 0;
    LEVI_TRY(arg_t(kr, &a, &st));
    LEVI_TRY(arg_t(kr, &a, &partials));
    LEVI_TRY(arg_int(kr, &a, (int)gr1));
    LEVI_TRY(arg_int(kr, &a, (int)gr2));
    LEVI_TRY(arg_float(kr, &a, grad_clip));
    LEVI_TRY(arg_int(kr, &a, t));
    size_t one = 1;
    LEVI_TRY(levi_launch(ctx, kr, 1, &one, &one));
    float bc1 = (float)(1.0 - pow((double)cfg->beta1, t));
    float bc2 = (float)(1.0 - pow((double)cfg->beta2, t));
    /* CPU devices: 16 items a work-item (adamw_update2_x16), others one */
    const size_t per = ctx->info.type & CL_DEVICE_TYPE_CPU ? 16 : 1;
    LEVI_TRY(levi_kernel_get(ctx, CL_FILE, per == 16 ? "adamw_update2_x16" : "adamw_update2", &kr));
    a = 0;
    for (int i = 0; i < 2; i++) {
        const levi_grad_group *q = i ? g2 : &g[0];
        LEVI_TRY(arg_t(kr, &a, &q->params));
        LEVI_TRY(arg_t(kr, &a, &q->grads));
        LEVI_TRY(arg_t(kr, &a, &q->adam_m));
        LEVI_TRY(arg_t(kr, &a, &q->adam_v));
        LEVI_TRY(arg_ulong(kr, &a, i ? n2 : n1));
    }
    const size_t w1 = (n1 + per - 1) / per, w2 = (n2 + per - 1) / per; /* work-items */
    size_t local = levi_group_1d(ctx, w1 + w2), start2 = (w1 + local - 1) / local * local;
    LEVI_TRY(arg_ulong(kr, &a, start2));
    LEVI_TRY(arg_float(kr, &a, cfg->lr));
    LEVI_TRY(arg_float(kr, &a, cfg->beta1));
    LEVI_TRY(arg_float(kr, &a, cfg->beta2));
    LEVI_TRY(arg_float(kr, &a, cfg->eps));
    LEVI_TRY(arg_float(kr, &a, cfg->weight_decay));
    LEVI_TRY(arg_float(kr, &a, bc1));
    LEVI_TRY(arg_float(kr, &a, bc2));
    LEVI_TRY(arg_t(kr, &a, &st));
    size_t global = start2 + (w2 + local - 1) / local * local;
    return levi_launch(ctx, kr, 1, &global, &local);
}

/* --- confusion matrix --------------------------------------------------------------- */

levi_status levi_model_confusion_reset(levi_model *m) {
    int K = m->cfg.num_classes;
    size_t bytes = (size_t)K * K * sizeof(cl_int);
    if (!m->confusion) LEVI_TRY(levi_buffer_alloc(m->ctx, bytes, &m->confusion));
    cl_int zero = 0;
    LEVI_CL_CHECK(clEnqueueFillBuffer(m->ctx->queue, m->confusion, &zero, sizeof zero, 0, bytes, 0, NULL, NULL));
    return LEVI_OK;
}

levi_status levi_model_confusion_accumulate(levi_model *m, const levi_tensor *labels, int B) {
    if (!m->confusion) LEVI_TRY(levi_model_confusion_reset(m));
    if (B != m->last_B) return levi_error(LEVI_ERR_INVALID_ARG, "confusion of batch %d after a forward of %d", B, m->last_B);
    cl_kernel kr;
    LEVI_TRY(levi_kernel_get(m->ctx, CL_FILE, "confusion_accumulate", &kr));
    levi_tensor lg = VIEW(m->logits, B);
    cl_uint a = 0;
    LEVI_CL_CHECK(clSetKernelArg(kr, a++, sizeof(cl_mem), &m->confusion));
    LEVI_TRY(arg_t(kr, &a, &lg));
    LEVI_TRY(arg_t(kr, &a, labels));
    LEVI_TRY(arg_int(kr, &a, m->cfg.num_classes));
    LEVI_TRY(arg_int(kr, &a, B));
    return levi_launch_1d(m->ctx, kr, (size_t)B);
}

levi_status levi_model_confusion_read(levi_model *m, int *out) {
    int K = m->cfg.num_classes;
    if (!m->confusion) {
        memset(out, 0, (size_t)K * K * sizeof *out);
        return LEVI_OK;
    }
    return levi_buffer_read(m->ctx, m->confusion, 0, (size_t)K * K * sizeof(cl_int), out, 1, 0, NULL, NULL);
}
