/* The memory plan of a run (levi/memplan.h): the model built on planning
 * contexts at batch 1 and 2, extrapolated to the batch asked for. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "levi/memplan.h"

enum { STAGING_SLOTS = 3, PLAN_B1 = 64, PLAN_B2 = 128 }; /* staging: as levi_feed's */
#define USABLE_FRACTION 0.9 /* of a device's global memory: drivers and other programs keep some */

/* Build at batch B on planning contexts; tallies of the head and the backbone. */
static levi_status plan_at(levi_ctx *head, levi_ctx *bb, levi_model_builder build, void *user, int B,
                           levi_mem_tally *th, levi_mem_tally *tb) {
    levi_ctx_plan_begin(head, th);
    if (bb != head) levi_ctx_plan_begin(bb, tb);
    levi_model *m = NULL;
    levi_status st = build(user, head, bb, B, &m);
    levi_model_free(m); /* frees nothing on the device: nothing was allocated */
    levi_ctx_plan_end(head);
    if (bb != head) levi_ctx_plan_end(bb);
    return st;
}

static void stage_from(levi_mem_stage *s, levi_ctx *ctx, const levi_mem_tally *t1, const levi_mem_tally *t2, int B,
                       double extra_fixed, double extra_per_sample) {
    memset(s, 0, sizeof *s);
    s->ctx = ctx;
#define SLOPE(field) (((double)t2->field - (double)t1->field) / (PLAN_B2 - PLAN_B1))
#define AT(field) ((double)t1->field + SLOPE(field) * (double)(B - PLAN_B1))
    s->params = AT(bytes[LEVI_MEM_PARAMS]);
    s->grads = AT(bytes[LEVI_MEM_GRADS]);
    s->optimizer = AT(bytes[LEVI_MEM_OPTIMIZER]);
    s->activations = AT(bytes[LEVI_MEM_ACTIVATIONS]) + AT(bytes[LEVI_MEM_OTHER]) + extra_fixed +
                     extra_per_sample * B;
    s->workspace = 2 * AT(largest_tensor);
    s->total = s->params + s->grads + s->optimizer + s->activations + s->workspace;
    /* the same build makes the same allocations in the same order at any batch: each one extrapolated */
    unsigned long long na = t1->allocations < LEVI_MEM_MAX_ALLOCS ? t1->allocations : LEVI_MEM_MAX_ALLOCS;
    if (t2->allocations != t1->allocations) na = 0;
    s->nalloc = (int)na;
    s->largest_alloc = AT(largest_alloc);
    for (unsigned long long i = 0; i < na; i++) {
        double slope = SLOPE(alloc[i]);
        s->alloc_per_sample[i] = slope;
        s->alloc_fixed[i] = (double)t1->alloc[i] - slope * PLAN_B1;
        double at = s->alloc_fixed[i] + slope * B;
        if (at > s->largest_alloc) s->largest_alloc = at;
    }
    s->total_per_sample = SLOPE(total) + 2 * SLOPE(largest_tensor) + extra_per_sample;
    s->total_fixed = s->total - s->total_per_sample * B;
#undef AT
#undef SLOPE
}

levi_status levi_mem_plan_run(levi_mem_plan *out, levi_ctx *head, levi_ctx *backbone, levi_model_builder build,
                              void *user, int batch, size_t input_floats, double cache_bytes) {
    memset(out, 0, sizeof *out);
    if (batch < 1) return levi_error(LEVI_ERR_INVALID_ARG, "memory plan of batch %d", batch);
    if (!backbone) backbone = head;
    levi_mem_tally h1, b1, h2, b2;
    memset(&b1, 0, sizeof b1);
    memset(&b2, 0, sizeof b2);
    /* at two multiples of 64: arenas round every tensor up to 64 floats, so
     * between such batches the sizes are exactly linear */
    LEVI_TRY(plan_at(head, backbone, build, user, PLAN_B1, &h1, &b1));
    LEVI_TRY(plan_at(head, backbone, build, user, PLAN_B2, &h2, &b2));
    out->batch = batch;
    /* the trainer's input staging (x and labels per slot) and the feature cache, on the head */
    double staging = (double)STAGING_SLOTS * ((double)input_floats + 1) * sizeof(float);
    stage_from(&out->stage[0], head, &h1, &h2, batch, cache_bytes, staging);
    out->nstages = 1;
    if (backbone != head) {
        stage_from(&out->stage[1], backbone, &b1, &b2, batch, 0, 0);
        out->nstages = 2;
    }
    return LEVI_OK;
}

static double usable(const levi_ctx *ctx) { return USABLE_FRACTION * (double)ctx->info.global_mem; }

int levi_mem_plan_fit(const levi_mem_plan *p, int max_batch) {
    double best = max_batch;
    for (int i = 0; i < p->nstages; i++) {
        const levi_mem_stage *s = &p->stage[i];
        double lim = s->total_per_sample > 0 ? floor((usable(s->ctx) - s->total_fixed) / s->total_per_sample) : best;
        if (lim < best) best = lim;
        for (int a = 0; s->ctx->info.max_alloc && a < s->nalloc; a++) {
            if (s->alloc_per_sample[a] <= 0) continue;
            lim = floor(((double)s->ctx->info.max_alloc - s->alloc_fixed[a]) / s->alloc_per_sample[a]);
            if (lim < best) best = lim;
        }
    }
    return best < 1 ? 0 : (int)best;
}

static const char *gib(double bytes, char *buf, size_t len) {
    if (bytes >= 1024.0 * 1024 * 1024) snprintf(buf, len, "%.2f GiB", bytes / (1024.0 * 1024 * 1024));
    else snprintf(buf, len, "%.1f MiB", bytes / (1024.0 * 1024));
    return buf;
}

levi_status levi_mem_plan_check(const levi_mem_plan *p, const char *what, int *fit) {
    int f = levi_mem_plan_fit(p, p->batch);
    if (fit) *fit = f;
    for (int i = 0; i < p->nstages; i++) {
        const levi_mem_stage *s = &p->stage[i];
        char a[32], b[32];
        int largest = p->batch > 1 ? levi_mem_plan_fit(p, 1 << 20) : f;
        char hint[96];
        if (largest) snprintf(hint, sizeof hint, "the largest batch that fits is %d (--batch auto picks it)", largest);
        else snprintf(hint, sizeof hint, "not even batch 1 fits");
        if (s->total > usable(s->ctx))
            return levi_error(LEVI_ERR_DEVICE_MEMORY,
                              "%s at batch %d needs %s on '%s' (%s stage: parameters %.0f MiB, gradients %.0f MiB, "
                              "optimizer %.0f MiB, activations %.0f MiB, workspace %.0f MiB), but %s of its %.2f GiB "
                              "are usable; %s",
                              what, p->batch, gib(s->total, a, sizeof a), s->ctx->info.name, i ? "backbone" : "head",
                              s->params / 1048576, s->grads / 1048576, s->optimizer / 1048576,
                              s->activations / 1048576, s->workspace / 1048576, gib(usable(s->ctx), b, sizeof b),
                              (double)s->ctx->info.global_mem / (1024.0 * 1024 * 1024), hint);
        if (s->ctx->info.max_alloc && s->largest_alloc > (double)s->ctx->info.max_alloc)
            return levi_error(LEVI_ERR_DEVICE_MEMORY,
                              "%s at batch %d needs one buffer of %s on '%s', above its largest allocation of %s; %s",
                              what, p->batch, gib(s->largest_alloc, a, sizeof a), s->ctx->info.name,
                              gib((double)s->ctx->info.max_alloc, b, sizeof b), hint);
    }
    return LEVI_OK;
}

void levi_mem_plan_print(const levi_mem_plan *p, FILE *f) {
    for (int i = 0; i < p->nstages; i++) {
        const levi_mem_stage *s = &p->stage[i];
        char a[32], b[32];
        fprintf(f,
                "memory: %s stage on '%s' at batch %d: %s of %s usable (parameters %.1f MiB, gradients %.1f MiB, "
                "optimizer %.1f MiB, activations %.1f MiB, workspace %.1f MiB)\n",
                i ? "backbone" : "head", s->ctx->info.name, p->batch, gib(s->total, a, sizeof a),
                gib(usable(s->ctx), b, sizeof b), s->params / 1048576, s->grads / 1048576, s->optimizer / 1048576,
                s->activations / 1048576, s->workspace / 1048576);
    }
}
