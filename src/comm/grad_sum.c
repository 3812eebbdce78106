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
    cl_event *written;   /* n_local: each replica's last write, pending until the next run */
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
            if (t->ctx != groups[(size_t)r * n_groups].ctx)
                return levi_error(LEVI_ERR_INVALID_ARG,
                                  "gradient group %d of replica %d lives on another context than its group 0", g, r);
            if (r > 0 && t->ctx == groups[(size_t)(r - 1) * n_groups + g].ctx)
                return levi_error(LEVI_ERR_INVALID_ARG, "replicas %d and %d of gradient group %d share one context",
                                  r - 1, r, g);
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
    s->written = calloc((size_t)n_local, sizeof *s->written);
    if (!s->groups || !s->sum || (n_local > 1 && !s->stage) || !s->written) {
        levi_grad_sum_destroy(s);
        return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory for a gradient sum of %d x %zu floats", n_local,
                          total);
    }
    if (nt) memcpy(s->groups, groups, nt * sizeof *groups);
    *out = s;
    return LEVI_OK;
}

size_t levi_grad_sum_floats(const levi_grad_sum *s) { return s ? s->total : 0; }

/* Enqueue replica r's groups into dst (non-blocking) and flush its queue. */
static levi_status read_replica(levi_grad_sum *s, int r, float *dst, cl_event *done) {
    cl_command_queue q = s->groups[(size_t)r * s->n_groups].ctx->queue;
    size_t off = 0;
    for (int g = 0; g < s->n_groups; g++) {
        const levi_tensor *t = &s->groups[(size_t)r * s->n_groups + g];
        int last = g == s->n_groups - 1;
        LEVI_CL_CHECK(clEnqueueReadBuffer(q, t->buf, CL_FALSE, t->offset * sizeof(float), t->numel * sizeof(float),
                                          dst + off, 0, NULL, last ? done : NULL));
        off += t->numel;
    }
    LEVI_CL_CHECK(clFlush(q));
    return LEVI_OK;
}

static levi_status write_replica(levi_grad_sum *s, int r) {
    cl_command_queue q = s->groups[(size_t)r * s->n_groups].ctx->queue;
    if (s->written[r]) clReleaseEvent(s->written[r]);
    s->written[r] = NULL;
    size_t off = 0;
    for (int g = 0; g < s->n_groups; g++) {
        const levi_tensor *t = &s->groups[(size_t)r * s->n_groups + g];
        int last = g == s->n_groups - 1;
        LEVI_CL_CHECK(clEnqueueWriteBuffer(q, t->buf, CL_FALSE, t->offset * sizeof(float), t->numel * sizeof(float),
                                           s->sum + off, 0, NULL, last ? &s->written[r] : NULL));
        off += t->numel;
    }
    LEVI_CL_CHECK(clFlush(q));
    return LEVI_OK;
}

levi_status levi_grad_sum_run(levi_grad_sum *s) {
    if (s->n_local == 1 && levi_comm_size(s->comm) == 1) return LEVI_OK;
    if (s->n_groups == 0) return levi_comm_sum_f32(s->comm, s->sum, 0, "the gradient sum");
    /* Every read is queued behind the previous run's write on the same queue,
     * so once the reads are done no write still reads s->sum. */
    cl_event *read = calloc((size_t)s->n_local, sizeof *read);
    if (!read) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    levi_status st = LEVI_OK;
    for (int r = 0; st == LEVI_OK && r < s->n_local; r++)
        st = read_replica(s, r, s->n_local == 1 ? s->sum : s->stage + (size_t)r * s->total, &read[r]);
    /* Events of different contexts cannot be waited on together. */
    for (int r = 0; r < s->n_local; r++) {
        if (!read[r]) continue;
        cl_int rc = clWaitForEvents(1, &read[r]);
        if (rc != CL_SUCCESS && st == LEVI_OK)
            st = levi_error(rc, "reading the gradients of replica %d (%s) failed: %s", r,
                            s->groups[(size_t)r * s->n_groups].ctx->info.name, levi_status_name(rc));
        clReleaseEvent(read[r]);
    }
    free(read);
    if (st != LEVI_OK) return st;
    if (s->n_local > 1) {
        memcpy(s->sum, s->stage, s->total * sizeof *s->sum);
        for (int r = 1; r < s->n_local; r++) {
            const float *x = s->stage + (size_t)r * s->total;
            for (size_t i = 0; i < s->total; i++) s->sum[i] += x[i];
        }
    }
    LEVI_TRY(levi_comm_sum_f32(s->comm, s->sum, s->total, "the gradient sum"));
    for (int r = 0; r < s->n_local; r++) LEVI_TRY(write_replica(s, r));
    return LEVI_OK;
}

void levi_grad_sum_destroy(levi_grad_sum *s) {
    if (!s) return;
    if (s->written)
        for (int r = 0; r < s->n_local; r++)
            if (s->written[r]) {
                clWaitForEvents(1, &s->written[r]); /* the writes read s->sum */
                clReleaseEvent(s->written[r]);
            }
    free(s->written);
    free(s->groups);
    free(s->stage);
    free(s->sum);
    free(s);
}
