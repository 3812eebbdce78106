/* Gradient groups summed over the replicas of this process (one per device)
 * and over the ranks of the run: non-blocking reads from every device, a
 * host sum in replica order (the same bits whatever the timing), the ranks'
 * sum, then non-blocking writes of the total into every replica. */
#include <stdlib.h>
#include <string.h>

#include "comm_internal.h"

struct levi_grad_sum {
    levi_comm *comm;
    int n_local, n_groups;
    levi_tensor *groups; /* n_local * n_groups, replica-major (copies of the views) */
    size_t total;        /* floats in one replica */
    float *stage;        /* n_local * total: what each replica read (unused with one replica) */
    float *sum;          /* total: the sum, the source of the writes */
    cl_event *events;    /* n_local * n_groups: reads, then writes pending until the next run */
};

levi_status levi_grad_sum_create(levi_grad_sum **out, levi_comm *c, int n_local, int n_groups,
                                 const levi_tensor *groups) {
    *out = NULL;
    if (n_local < 1 || n_groups < 0 || (n_groups > 0 && !groups))
        return levi_error(LEVI_ERR_INVALID_ARG, "gradient sum over %d replicas of %d groups", n_local, n_groups);
    size_t total = 0;
    for (int g = 0; g < n_groups; g++) {
        const levi_tensor *t0 = &groups[g];
        for (int r = 0; r < n_local; r++) {
            const levi_tensor *t = &groups[(size_t)r * n_groups + g];
            if (!t->ctx || !t->buf)
                return levi_error(LEVI_ERR_INVALID_ARG, "gradient group %d of replica %d has no buffer", g, r);
            if (t->numel != t0->numel)
                return levi_error(LEVI_ERR_SHAPE, "gradient group %d has %zu floats on replica %d but %zu on replica 0",
                                  g, t->numel, r, t0->numel);
            for (int q = 0; q < r; q++)
                if (groups[(size_t)q * n_groups + g].buf == t->buf &&
                    groups[(size_t)q * n_groups + g].offset == t->offset)
                    return levi_error(LEVI_ERR_INVALID_ARG, "replicas %d and %d share gradient group %d", q, r, g);
        }
        total += t0->numel;
    }
    levi_grad_sum *s = calloc(1, sizeof *s);
    if (!s) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    s->comm = c;
    s->n_local = n_local;
    s->n_groups = n_groups;
    s->total = total;
    size_t nt = (size_t)n_local * n_groups;
    s->groups = malloc((nt ? nt : 1) * sizeof *s->groups);
    s->sum = malloc((total ? total : 1) * sizeof *s->sum);
    s->stage = n_local > 1 ? malloc((size_t)n_local * (total ? total : 1) * sizeof *s->stage) : NULL;
    s->events = calloc(nt ? nt : 1, sizeof *s->events);
    if (!s->groups || !s->sum || (n_local > 1 && !s->stage) || !s->events) {
        levi_grad_sum_destroy(s);
        return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory for a gradient sum of %d x %zu floats", n_local,
                          total);
    }
    if (nt) memcpy(s->groups, groups, nt * sizeof *groups);
    *out = s;
    return LEVI_OK;
}

size_t levi_grad_sum_floats(const levi_grad_sum *s) { return s ? s->total : 0; }

/* Wait for and release every pending event (reads, or the last run's writes). */
static levi_status wait_all(levi_grad_sum *s, const char *what) {
    levi_status st = LEVI_OK;
    size_t nt = (size_t)s->n_local * s->n_groups;
    for (size_t i = 0; i < nt; i++) {
        if (!s->events[i]) continue;
        levi_status w = levi_event_wait(s->groups[i].ctx, 1, &s->events[i]);
        if (w != LEVI_OK && st == LEVI_OK)
            st = levi_error(w, "%s of gradient group %zu of replica %zu (%s) failed: %s", what, i % s->n_groups,
                            i / s->n_groups, s->groups[i].ctx->info.name, levi_last_error());
        levi_event_release(&s->events[i]);
    }
    return st;
}

/* Flush every queue the groups live on, so all devices work at once. */
static void flush_all(levi_grad_sum *s) {
    size_t nt = (size_t)s->n_local * s->n_groups;
    for (size_t i = 0; i < nt; i++) {
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++) seen = s->groups[j].ctx == s->groups[i].ctx;
        if (!seen) clFlush(s->groups[i].ctx->queue);
    }
}

levi_status levi_grad_sum_run(levi_grad_sum *s) {
    if (s->n_local == 1 && levi_comm_size(s->comm) == 1) return LEVI_OK;
    /* The last run's writes read s->sum: they finish before it is refilled
     * (usually long done: the step's kernels ran after them). */
    LEVI_TRY(wait_all(s, "writing the sum"));
    levi_status st = LEVI_OK;
    for (int r = 0; st == LEVI_OK && r < s->n_local; r++) {
        float *dst = s->n_local == 1 ? s->sum : s->stage + (size_t)r * s->total;
        size_t off = 0;
        for (int g = 0; st == LEVI_OK && g < s->n_groups; g++) {
            size_t i = (size_t)r * s->n_groups + g;
            st = levi_tensor_read_async(&s->groups[i], dst + off, 0, NULL, &s->events[i]);
            off += s->groups[i].numel;
        }
    }
    flush_all(s);
    levi_status w = wait_all(s, "reading the gradients");
    if (st != LEVI_OK) return st;
    if (w != LEVI_OK) return w;
    if (s->n_local > 1) {
        /* replica order, whatever the timing: the same bits every run */
        memcpy(s->sum, s->stage, s->total * sizeof *s->sum);
        for (int r = 1; r < s->n_local; r++) {
            const float *x = s->stage + (size_t)r * s->total;
            for (size_t i = 0; i < s->total; i++) s->sum[i] += x[i];
        }
    }
    LEVI_TRY(levi_comm_sum_f32(s->comm, s->sum, s->total, "the gradient sum"));
    for (int r = 0; r < s->n_local; r++) {
        size_t off = 0;
        for (int g = 0; g < s->n_groups; g++) {
            size_t i = (size_t)r * s->n_groups + g;
            LEVI_TRY(levi_tensor_write_async(&s->groups[i], s->sum + off, 0, NULL, &s->events[i]));
            off += s->groups[i].numel;
        }
    }
    flush_all(s);
    return LEVI_OK;
}

void levi_grad_sum_destroy(levi_grad_sum *s) {
    if (!s) return;
    if (s->events && s->groups) wait_all(s, "writing the sum");
    free(s->events);
    free(s->groups);
    free(s->stage);
    free(s->sum);
    free(s);
}
