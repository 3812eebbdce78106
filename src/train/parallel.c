/* Data-parallel training steps over the replicas of this process and the
 * ranks of the run (see levi/parallel.h). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "levi/parallel.h"
#include "levi/train.h"

#define MAX_GROUPS 2 /* head, backbone (levi_model_grad_groups) */

struct levi_parallel {
    levi_comm *comm;
    levi_model **m;
    int n, n_groups;
    levi_grad_sum *sum;
    int synced;
};

levi_status levi_parallel_create(levi_parallel **out, levi_comm *comm, levi_model *const *replicas, int n) {
    *out = NULL;
    if (n < 1 || n > LEVI_PARALLEL_MAX || !replicas)
        return levi_error(LEVI_ERR_INVALID_ARG, "data parallel over %d replicas, expected 1..%d", n, LEVI_PARALLEL_MAX);
    levi_grad_group g[MAX_GROUPS];
    int ng = levi_model_grad_groups(replicas[0], g, MAX_GROUPS);
    if (ng < 1) return levi_error(LEVI_ERR_INVALID_ARG, "the model has no trainable parameters");
    levi_tensor *grads = malloc((size_t)n * ng * sizeof *grads);
    levi_parallel *p = calloc(1, sizeof *p);
    levi_model **m = malloc((size_t)n * sizeof *m);
    levi_status st = grads && p && m ? LEVI_OK : levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    for (int r = 0; st == LEVI_OK && r < n; r++) {
        m[r] = replicas[r];
        if (levi_model_grad_groups(replicas[r], g, MAX_GROUPS) != ng)
            st = levi_error(LEVI_ERR_INVALID_ARG, "replica %d trains other parameter groups than replica 0", r);
        for (int k = 0; st == LEVI_OK && k < ng; k++) grads[r * ng + k] = g[k].grads;
    }
    if (st == LEVI_OK) st = levi_grad_sum_create(&p->sum, comm, n, ng, grads);
    free(grads);
    if (st != LEVI_OK) {
        free(m);
        free(p);
        return st;
    }
    p->comm = comm;
    p->m = m;
    p->n = n;
    p->n_groups = ng;
    *out = p;
    return LEVI_OK;
}

void levi_parallel_free(levi_parallel *p) {
    if (!p) return;
    levi_grad_sum_destroy(p->sum);
    free(p->m);
    free(p);
}

int levi_parallel_participants(const levi_parallel *p) { return levi_comm_size(p->comm) * p->n; }
int levi_parallel_replicas(const levi_parallel *p) { return p->n; }
levi_model *levi_parallel_replica(const levi_parallel *p, int r) { return r >= 0 && r < p->n ? p->m[r] : NULL; }
levi_comm *levi_parallel_comm(const levi_parallel *p) { return p->comm; }

void levi_parallel_shard(const levi_parallel *p, int r, int B, int *start, int *count) {
    levi_comm_shard(B, levi_comm_rank(p->comm) * p->n + r, levi_parallel_participants(p), start, count);
}
size_t levi_parallel_grad_floats(const levi_parallel *p) { return levi_grad_sum_floats(p->sum); }

/* params, adam_m, adam_v of group k: replica 0 of rank 0 → everyone. */
levi_status levi_parallel_sync(levi_parallel *p) {
    levi_grad_group g0[MAX_GROUPS], g[MAX_GROUPS];
    levi_model_grad_groups(p->m[0], g0, MAX_GROUPS);
    int ranks = levi_comm_size(p->comm) > 1;
    if (p->n == 1 && !ranks) return LEVI_OK;
    levi_status st = LEVI_OK;
    for (int k = 0; st == LEVI_OK && k < p->n_groups; k++) {
        const levi_tensor *src[3] = {&g0[k].params, &g0[k].adam_m, &g0[k].adam_v};
        float *host = malloc(src[0]->numel * sizeof *host);
        if (!host) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
        for (int j = 0; st == LEVI_OK && j < 3; j++) {
            st = levi_tensor_read(src[j], host);
            if (st == LEVI_OK && ranks)
                st = levi_comm_bcast(p->comm, host, src[j]->numel * sizeof *host, 0, "the replicas' weights");
            if (st == LEVI_OK && ranks && levi_comm_rank(p->comm) > 0) st = levi_tensor_write(src[j], host);
            for (int r = 1; st == LEVI_OK && r < p->n; r++) {
                levi_model_grad_groups(p->m[r], g, MAX_GROUPS);
                const levi_tensor *dst[3] = {&g[k].params, &g[k].adam_m, &g[k].adam_v};
                st = levi_tensor_write(dst[j], host);
            }
        }
        free(host);
    }
    if (st == LEVI_OK) p->synced = 1;
    return st;
}

/* Forward and backward of rows [s, s+cnt) of the global batch on replica m;
 * t > 0: the shard's metrics stay on the device as step t (nothing is read),
 * else its loss and correct count come back. */
static levi_status shard_step(levi_model *m, const float *x, const float *mask, const float *labels,
                              const float *feats, int s, int cnt, int B, long t, double *loss_sum, long *correct) {
    LEVI_TRY(levi_model_zero_grad(m));
    if (cnt == 0) return LEVI_OK; /* more participants than samples: a zero gradient */
    const levi_input_spec *in = levi_model_input_spec(m);
    size_t xn = levi_input_numel(in);
    int F = levi_model_feature_dim(m);
    const levi_model_config *c = levi_model_get_config(m);
    levi_input tin = {levi_model_input_pixels(m, cnt), levi_model_input_mask(m, cnt)};
    levi_tensor tl = levi_model_input_labels(m, cnt), tf = levi_model_input_feats(m, cnt);
    if (in->kind == LEVI_INPUT_TOKENS && !mask)
        return levi_error(LEVI_ERR_INVALID_ARG, "a data-parallel step of token ids without their attention mask");
    /* Non-blocking uploads: the loss read below, or else the gradient sum's reads after the
     * backward (there are at least two participants), wait for them before x is refilled. */
    if (!feats || c->task.kind != LEVI_TASK_NONE) {
        LEVI_TRY(levi_tensor_write_async(&tin.x, x + (size_t)s * xn, 0, NULL, NULL));
        if (in->kind == LEVI_INPUT_TOKENS)
            LEVI_TRY(levi_tensor_write_async(&tin.mask, mask + (size_t)s * xn, 0, NULL, NULL));
    }
    LEVI_TRY(levi_tensor_write_async(&tl, labels + s, 0, NULL, NULL));
    if (feats) LEVI_TRY(levi_tensor_write_async(&tf, feats + (size_t)s * F, 0, NULL, NULL));
    float loss = 0;
    int corr = 0;
    LEVI_TRY(levi_model_forward_input(m, &tin, feats ? &tf : NULL, &tl, cnt, t > 0 ? NULL : &loss,
                                      t > 0 ? NULL : &corr));
    if (t > 0) LEVI_TRY(levi_model_metrics_accumulate(m, cnt, LEVI_METRICS_TRAIN, t));
    *loss_sum += (double)loss * cnt;
    *correct += corr;
    return levi_model_backward_shard(m, cnt, B);
}

/* Rows [s, s+cnt) of the data set seen as a data set of their own (a view:
 * never freed). */
static levi_dataset rows_of(const levi_dataset *ds, int s, int cnt) {
    levi_dataset v = *ds;
    size_t per = ds->kind == LEVI_INPUT_TOKENS ? (size_t)ds->seq_len : (size_t)ds->height * ds->width * ds->channels;
    v.n = cnt;
    if (ds->kind == LEVI_INPUT_TOKENS) {
        v.tokens = ds->tokens + (size_t)s * per;
        v.mask = ds->mask + (size_t)s * per;
    } else {
        v.pixels = ds->pixels + (size_t)s * per;
    }
    v.labels = ds->labels + s;
    v.map_ = NULL;
    v.map_len_ = 0;
    return v;
}

/* Replica r's slice of the feature cache: its rows of the data set. */
static levi_status slice_features(levi_parallel *p, int r, const levi_dataset *ds, float *cache) {
    int s, cnt, F = levi_model_feature_dim(p->m[r]);
    levi_comm_shard(ds->n, levi_comm_rank(p->comm) * p->n + r, levi_parallel_participants(p), &s, &cnt);
    if (cnt == 0) return LEVI_OK;
    levi_dataset v = rows_of(ds, s, cnt);
    float *part = NULL;
    LEVI_TRY(levi_compute_features(p->m[r], &v, &part));
    memcpy(cache + (size_t)s * F, part, (size_t)cnt * F * sizeof *part);
    free(part);
    return LEVI_OK;
}

/* One replica's part of a step, run on its own thread: the devices then
 * compute at the same time whatever blocks inside a replica's calls. */
typedef struct replica_job {
    levi_parallel *p;
    int r, phase; /* 0: forward and backward of the shard; 1: the update; 2: features of a slice */
    const levi_dataset *ds;
    float *cache;
    const float *x, *mask, *labels, *feats;
    int B, t, on_device;
    const levi_adamw_cfg *opt;
    float grad_clip, grad_norm;
    double loss_sum;
    long correct;
    levi_status st;
    char msg[1024]; /* the error message lives per thread: carried back */
} replica_job;

static void *run_job(void *arg) {
    replica_job *j = arg;
    levi_parallel *p = j->p;
    if (j->phase == 0) {
        int s, cnt, parts = levi_parallel_participants(p);
        levi_comm_shard(j->B, levi_comm_rank(p->comm) * p->n + j->r, parts, &s, &cnt);
        j->st = shard_step(p->m[j->r], j->x, j->mask, j->labels, j->feats, s, cnt, j->B, j->on_device ? j->t : 0,
                           &j->loss_sum, &j->correct);
    } else if (j->phase == 1) {
        j->st = levi_model_step(p->m[j->r], j->opt, j->t, j->grad_clip, j->on_device ? NULL : &j->grad_norm);
    } else {
        j->st = slice_features(p, j->r, j->ds, j->cache);
    }
    if (j->st != LEVI_OK) snprintf(j->msg, sizeof j->msg, "%s", levi_last_error());
    return NULL;
}

/* Replica 0 on this thread, the others on their own; the first error wins. */
static levi_status run_all(levi_parallel *p, replica_job *jobs) {
    pthread_t th[LEVI_PARALLEL_MAX];
    int started[LEVI_PARALLEL_MAX] = {0};
    for (int r = 1; r < p->n; r++) started[r] = pthread_create(&th[r], NULL, run_job, &jobs[r]) == 0;
    run_job(&jobs[0]);
    for (int r = 1; r < p->n; r++) {
        if (started[r]) pthread_join(th[r], NULL);
        else run_job(&jobs[r]);
    }
    for (int r = 0; r < p->n; r++)
        if (jobs[r].st != LEVI_OK)
            return levi_error(jobs[r].st, "%s%s (replica %d on '%s')", jobs[r].msg, jobs[r].msg[0] ? "" : "failed",
                              r, levi_model_ctx(p->m[r])->info.name);
    return LEVI_OK;
}

levi_status levi_parallel_step(levi_parallel *p, const float *x, const float *labels, const float *feats, int B,
                               const levi_adamw_cfg *opt, int t, float grad_clip, float *loss, int *correct,
                               float *grad_norm) {
    return levi_parallel_step_input(p, x, NULL, labels, feats, B, opt, t, grad_clip, loss, correct, grad_norm);
}

levi_status levi_parallel_step_input(levi_parallel *p, const float *x, const float *mask, const float *labels,
                                     const float *feats, int B, const levi_adamw_cfg *opt, int t, float grad_clip,
                                     float *loss, int *correct, float *grad_norm) {
    if (!p->synced) LEVI_TRY(levi_parallel_sync(p));
    replica_job jobs[LEVI_PARALLEL_MAX];
    memset(jobs, 0, (size_t)p->n * sizeof *jobs);
    for (int r = 0; r < p->n; r++) {
        replica_job *j = &jobs[r];
        j->p = p, j->r = r, j->x = x, j->mask = mask, j->labels = labels, j->feats = feats, j->B = B;
        j->opt = opt, j->t = t, j->grad_clip = grad_clip, j->on_device = !loss;
    }
    LEVI_TRY(run_all(p, jobs));
    if (!loss) { /* metrics, norm and the check for non-finite values stay on every device */
        LEVI_TRY(levi_grad_sum_run(p->sum));
        for (int r = 0; r < p->n; r++) jobs[r].phase = 1;
        return run_all(p, jobs);
    }
    double sums[2] = {0, 0}; /* loss × samples, correct samples: replica order */
    for (int r = 0; r < p->n; r++) sums[0] += jobs[r].loss_sum, sums[1] += (double)jobs[r].correct;
    LEVI_TRY(levi_comm_sum_f64(p->comm, sums, 2, "the step's loss"));
    double mean = sums[0] / B;
    *loss = (float)mean;
    *correct = (int)llround(sums[1]);
    /* Every rank sees the same global loss, so every rank stops here. */
    if (!isfinite(mean))
        return levi_error(LEVI_ERR_NOT_FINITE, "the loss of the global batch is %g", mean);
    LEVI_TRY(levi_grad_sum_run(p->sum));
    for (int r = 0; r < p->n; r++) jobs[r].phase = 1;
    LEVI_TRY(run_all(p, jobs));
    if (grad_norm) *grad_norm = jobs[0].grad_norm;
    return LEVI_OK;
}

levi_status levi_parallel_compute_features(levi_parallel *p, const levi_dataset *ds, float **out) {
    *out = NULL;
    int F = levi_model_feature_dim(p->m[0]);
    if (!F)
        return levi_error(LEVI_ERR_INVALID_ARG, "method %s has no backbone features",
                          levi_method_name(levi_model_get_config(p->m[0])->method));
    /* zero outside this rank's rows: the ranks' sum then assembles the cache exactly */
    float *cache = calloc((size_t)ds->n * F, sizeof *cache);
    if (!cache)
        return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory for a feature cache of %d x %d floats", ds->n, F);
    replica_job jobs[LEVI_PARALLEL_MAX];
    memset(jobs, 0, (size_t)p->n * sizeof *jobs);
    for (int r = 0; r < p->n; r++) jobs[r].p = p, jobs[r].r = r, jobs[r].phase = 2, jobs[r].ds = ds, jobs[r].cache = cache;
    levi_status st = run_all(p, jobs);
    if (st == LEVI_OK) st = levi_comm_sum_f32(p->comm, cache, (size_t)ds->n * F, "the feature cache");
    if (st != LEVI_OK) {
        free(cache);
        return st;
    }
    *out = cache;
    return LEVI_OK;
}
