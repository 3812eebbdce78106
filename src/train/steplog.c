/* Per-step metrics read in batches (see steplog.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "steplog.h"

enum { HOST_RING = 2 * LEVI_METRICS_RING }; /* steps not handed over: at most two read intervals */

struct steplog {
    levi_model *m[LEVI_PARALLEL_MAX];
    int n; /* replicas of this process */
    levi_parallel *par;
    int collective; /* several ranks: hand over at read points only, the same steps everywhere */
    int read_every;
    steplog_sink sink;
    void *user;
    steplog_step info[HOST_RING]; /* by step % HOST_RING */
    long last;                    /* the last step recorded */
    long done_to;                 /* the last step handed over */
    int pending;                  /* a snapshot is enqueued, covering (done_to, pending_to] */
    long pending_to;
    levi_metrics_snapshot snap[LEVI_PARALLEL_MAX]; /* one per replica */
    cl_event ev[LEVI_PARALLEL_MAX];
    levi_metrics sums;
    double *v; /* 3 values per step of a read interval and 3 sums, summed over the ranks */
};

levi_status steplog_create(steplog **out, levi_model *m, levi_parallel *par, int read_every, steplog_sink sink,
                           void *user) {
    *out = NULL;
    if (read_every < 1 || read_every > LEVI_METRICS_RING)
        return levi_error(LEVI_ERR_INVALID_ARG, "a metrics read every %d steps, expected 1..%d", read_every,
                          LEVI_METRICS_RING);
    steplog *l = calloc(1, sizeof *l);
    if (!l) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    l->par = par;
    l->n = par ? levi_parallel_replicas(par) : 1;
    for (int r = 0; r < l->n; r++) l->m[r] = par ? levi_parallel_replica(par, r) : m;
    l->collective = par && levi_comm_size(levi_parallel_comm(par)) > 1;
    l->read_every = read_every;
    l->sink = sink;
    l->user = user;
    l->v = malloc((3 * (size_t)LEVI_METRICS_RING + 3) * sizeof *l->v);
    if (!l->v) {
        free(l);
        return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    }
    *out = l;
    return LEVI_OK;
}

void steplog_free(steplog *l) {
    if (!l) return;
    for (int r = 0; r < l->n; r++) {
        if (l->ev[r]) clWaitForEvents(1, &l->ev[r]); /* the read writes l->snap */
        levi_event_release(&l->ev[r]);
    }
    free(l->v);
    free(l);
}

levi_status steplog_epoch(steplog *l, int clear_flags) {
    memset(&l->sums, 0, sizeof l->sums);
    for (int r = 0; r < l->n; r++) LEVI_TRY(levi_model_metrics_reset(l->m[r], LEVI_METRICS_TRAIN, clear_flags));
    return LEVI_OK;
}

const levi_metrics *steplog_sums(const steplog *l) { return &l->sums; }

/* A snapshot of every replica covering the steps up to l->last, enqueued. */
static levi_status enqueue(steplog *l) {
    for (int r = 0; r < l->n; r++) {
        LEVI_TRY(levi_model_metrics_read_async(l->m[r], LEVI_METRICS_TRAIN, &l->snap[r], &l->ev[r]));
        clFlush(levi_model_ctx(l->m[r])->queue); /* submitted now, so a later status query can see it done */
    }
    l->pending = 1;
    l->pending_to = l->last;
    return LEVI_OK;
}

static int all_done(const steplog *l) {
    for (int r = 0; r < l->n; r++)
        if (levi_event_done(l->ev[r]) == 0) return 0;
    return 1;
}

/* Wait for the pending snapshot (newest: it covers the last step enqueued,
 * so the wait is a blocking sync; else a backpressure wait), combine the
 * replicas (and ranks), and hand its steps to the sink in order. */
static levi_status hand_over(steplog *l) {
    levi_status st = LEVI_OK;
    for (int r = 0; r < l->n; r++) {
        levi_ctx *ctx = levi_model_ctx(l->m[r]);
        levi_status w = l->pending_to == l->last ? levi_event_wait(ctx, 1, &l->ev[r])
                                                 : levi_event_wait_backpressure(ctx, 1, &l->ev[r]);
        if (st == LEVI_OK) st = w;
        levi_event_release(&l->ev[r]);
    }
    l->pending = 0;
    LEVI_TRY(st);
    const long from = l->done_to + 1, count = l->pending_to - l->done_to;
    levi_metrics s0;
    levi_metrics_snapshot_sums(&l->snap[0], &s0);
    double *v = l->v;
    memset(v, 0, (3 * (size_t)count + 3) * sizeof *v);
    for (long i = 0; i < count; i++) {
        const steplog_step *in = &l->info[(from + i) % HOST_RING];
        for (int r = 0; r < l->n; r++) {
            int start = 0, cnt = in->n;
            if (l->par) levi_parallel_shard(l->par, r, in->n, &start, &cnt);
            if (!cnt) continue; /* a replica without rows added nothing */
            float loss;
            int correct;
            levi_metrics_snapshot_step(&l->snap[r], in->step, &loss, &correct);
            v[3 * i] += (double)loss * cnt;
            v[3 * i + 1] += correct;
        }
        v[3 * i + 2] = s0.bad_grad_step == in->step; /* the summed gradients: the same norm on every replica */
    }
    for (int r = 0; r < l->n; r++) {
        levi_metrics sr;
        levi_metrics_snapshot_sums(&l->snap[r], &sr);
        v[3 * count] += sr.loss_sum;
        v[3 * count + 1] += (double)sr.correct;
        v[3 * count + 2] += (double)sr.n;
    }
    if (l->par) LEVI_TRY(levi_comm_sum_f64(levi_parallel_comm(l->par), v, 3 * (size_t)count + 3, "the step metrics"));
    l->sums = s0;
    l->sums.loss_sum = v[3 * count];
    l->sums.correct = (long)llround(v[3 * count + 1]);
    l->sums.n = (long)llround(v[3 * count + 2]);
    for (long i = 0; i < count; i++) {
        const steplog_step *in = &l->info[(from + i) % HOST_RING];
        const float loss = (float)(v[3 * i] / in->n);
        const int correct = (int)llround(v[3 * i + 1]);
        if (!isfinite(loss))
            return levi_error(LEVI_ERR_NOT_FINITE, "the loss is %g at step %ld (epoch %d): training stopped",
                              (double)loss, in->step, in->epoch + 1);
        if (v[3 * i + 2] > 0)
            return levi_error(LEVI_ERR_NOT_FINITE,
                              "the gradient norm is not finite at step %ld (epoch %d, loss %g): training stopped",
                              in->step, in->epoch + 1, (double)loss);
        l->sums.last_loss = loss;
        l->sums.last_correct = correct;
        l->done_to = in->step;
        if (l->sink) l->sink(l->user, in, loss, correct);
    }
    return LEVI_OK;
}

levi_status steplog_step_done(steplog *l, const steplog_step *s, int *fresh) {
    *fresh = 0;
    if (s->step != l->last + 1 && l->last)
        return levi_error(LEVI_ERR_INVALID_ARG, "step %ld recorded after step %ld", s->step, l->last);
    if (!l->last) l->done_to = s->step - 1; /* the first step of a run (or of a resumed one) */
    l->info[s->step % HOST_RING] = *s;
    l->last = s->step;
    if (s->step % l->read_every == 0) {
        if (l->pending) {
            LEVI_TRY(hand_over(l));
            *fresh = 1;
        }
        return enqueue(l);
    }
    if (l->pending && !l->collective && all_done(l)) {
        LEVI_TRY(hand_over(l));
        *fresh = 1;
    }
    return LEVI_OK;
}

levi_status steplog_flush(steplog *l, levi_metrics *sums) {
    if (l->pending) LEVI_TRY(hand_over(l));
    if (l->last > l->done_to) {
        LEVI_TRY(enqueue(l));
        LEVI_TRY(hand_over(l));
    }
    *sums = l->sums;
    return LEVI_OK;
}
