/* The per-step metrics of a training run, read in batches (levi/train.h):
 * every step's mean loss and correct count stay in the device's ring
 * (levi_model_metrics_accumulate); every read_every steps one snapshot of
 * the sums and the ring is enqueued without waiting, and handed to the sink
 * once it has completed: checked after every step without waiting, waited
 * for at the next read point at the latest, and at the end of an epoch.
 * Data parallel: the snapshots of every replica of this process combine
 * into the global batch's values, and the ranks sum them at the read points
 * only (the same steps on every rank), so every rank sees the same values
 * and stops at the same step. Internal to the trainer. */
#ifndef LEVI_TRAIN_STEPLOG_H
#define LEVI_TRAIN_STEPLOG_H

#include "levi/parallel.h"
#include "levi/train.h"

/* What the host knows of a step when it enqueued it. */
typedef struct steplog_step {
    long step;      /* ≥ 1, over all epochs */
    int epoch;      /* from 0 */
    int n;          /* samples of the global batch */
    float lr;
    double elapsed; /* seconds since the start of the run, when the step was enqueued */
    long samples;   /* samples enqueued since the start of the run, this step's included */
} steplog_step;

/* Called for every step in order, once its values are known: the global
 * batch's mean loss and correct count. Never called for the first step with
 * a non-finite loss or gradient norm, nor after it. */
typedef void (*steplog_sink)(void *user, const steplog_step *s, float loss, int correct);

typedef struct steplog steplog;

/* m: the trained model; par: its data-parallel replicas (NULL: alone);
 * read_every: 1..LEVI_METRICS_RING steps between snapshots. */
levi_status steplog_create(steplog **out, levi_model *m, levi_parallel *par, int read_every, steplog_sink sink,
                           void *user);
/* Waits for the reads still pending (their host memory goes). */
void steplog_free(steplog *l);

/* The start of an epoch: zero the train sums of every replica (clear_flags:
 * also the recorded non-finite steps, once at the start of a run). */
levi_status steplog_epoch(steplog *l, int clear_flags);

/* Step s was enqueued: remember it; at a read point enqueue a snapshot; hand
 * completed snapshots to the sink. *fresh = 1 when values were handed over
 * (steplog_sums changed). A non-finite loss or gradient norm found in them:
 * LEVI_ERR_NOT_FINITE naming the first such step and its epoch. */
levi_status steplog_step_done(steplog *l, const steplog_step *s, int *fresh);

/* The end of an epoch: one snapshot more, waited for (one blocking sync),
 * and everything handed over; *sums: the epoch's (global) sums. */
levi_status steplog_flush(steplog *l, levi_metrics *sums);

/* The epoch's sums as of the last snapshot handed over. */
const levi_metrics *steplog_sums(const steplog *l);

#endif
