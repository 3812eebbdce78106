/* levi/train.h — the training loop of a levi_model: epochs of seeded
 * batches, AdamW, JSON-lines metrics, an atomic checkpoint per epoch, exact
 * resume, a stop on a non-finite loss, the frozen-backbone feature cache, and
 * evaluation (accuracy, per-class accuracy, confusion matrix).
 *
 * A step enqueues its work and returns: inputs go up with non-blocking
 * writes (levi_feed), loss and accuracy add up on the device, each step's
 * mean loss and correct count go to a ring there (LEVI_METRICS_RING steps),
 * the gradient norm and the clip scale stay there. Every read_every steps
 * (LEVI_TRAIN_READ_EVERY = 32 by default, over all epochs) the host enqueues
 * one read of the sums and the ring without waiting for it, and uses it once
 * it has completed: checked after every step (a status query, not a wait),
 * waited for at the next read point at the latest; the step lines of the log
 * and the progress display are written from it then. At the end of every
 * epoch the host waits for one last read (one blocking sync per epoch). So a
 * steady-state step never waits for the device, also with --log at every
 * step, and a log line or a progress update lags its step by up to two read
 * intervals. A non-finite loss or gradient norm is found the same way, at
 * most 2·read_every steps later or at the end of the epoch, not at the step
 * itself: training then stops with LEVI_ERR_NOT_FINITE naming the first
 * step it happened at and its epoch (the updates of such steps are skipped,
 * the steps enqueued after it still ran; the log holds the lines of the
 * steps before it).
 *
 * Data parallel (cfg->parallel): the same, with every replica's values
 * combined into the global batch's and summed over the ranks at the read
 * points; the gradient sum itself reads every replica's gradients each step
 * (one blocking sync per gradient group and replica, levi/parallel.h). With
 * the backbone stage on another device (levi_model_backbone_ctx), a frozen
 * backbone without a feature cache runs one batch ahead of the head (the
 * feed's pipeline): handing its features over costs one wait on the
 * backbone's queue per step when the two contexts share no OpenCL context; a
 * trainable backbone apart moves inputs, features and their gradients
 * through the host and meets its gradient norm there (a few blocking syncs
 * per step). LEVI_PROFILE=1 prints the counts per steady-state step of every
 * context the run uses, and their sum.
 *
 * Metrics (--log), one JSON object per line, stable field names:
 *   {"type":"step","step":S,"epoch":E,"loss":L,"acc":A,"lr":LR,"samples_per_s":X,"elapsed":SEC}
 *   (loss, acc: that step's batch; elapsed, samples_per_s: when the step was enqueued)
 *   {"type":"epoch","step":S,"epoch":E,"loss":L,"acc":A,"lr":LR,"samples_per_s":X,"elapsed":SEC,
 *    "epoch_s":SEC,"data_wait_s":SEC,"loader_img_per_s":X,"device_img_per_s":X,
 *    "val_acc":V,"val_loss":L (both only with a validation set),"cached_features":0|1}
 * data_wait_s: time the loop waited for the loader (levi_loader_next); loader_img_per_s: what the
 * loader's threads can prepare; device_img_per_s: images / (epoch_s - data_wait_s).
 * epoch counts from 1 in the log (the epoch just finished); loss and acc of
 * an epoch line are the means over that epoch's samples. */
#ifndef LEVI_TRAIN_H
#define LEVI_TRAIN_H

#include <signal.h>
#include <stdio.h>

#include "levi/data.h"
#include "levi/levi_model.h"

#ifdef __cplusplus
extern "C" {
#endif

struct levi_train_result;
struct levi_parallel;

#define LEVI_TRAIN_READ_EVERY 32 /* default levi_train_config.read_every */

typedef struct levi_train_config {
    int epochs;       /* default 5 */
    int batch;        /* default 64 (≤ the model's max_batch) */
    float lr, wd;     /* default 1e-3, 0.01 */
    float grad_clip;  /* 0: off (default 1.0) */
    int cosine;       /* 1: cosine decay of lr to 0 over all steps (default 0: constant) */
    int warmup;       /* linear warm-up steps (default 0) */
    unsigned long long seed;
    int cache_features; /* -1 auto (on when cacheable), 0 off, 1 on (error when not cacheable) */
    int log_every;      /* a step line every k steps (default 1) */
    int read_every;     /* steps between reads of the device's metrics, 1..LEVI_METRICS_RING (default
                         * LEVI_TRAIN_READ_EVERY); the end of every epoch reads them too */
    const char *log_path;        /* JSON lines, may be NULL */
    const char *checkpoint_path; /* written atomically after every epoch, may be NULL */
    const char *resume_path;     /* a checkpoint to continue from, may be NULL */
    const levi_dataset *val;     /* may be NULL */
    int progress;                /* 0 quiet, 1 a bar on stderr (TTY), 2 plain lines on stderr */
    const char *const *extra_meta_kv; /* extra metadata for checkpoints (pairs) */
    int n_extra_meta;
    /* When non-NULL and set (e.g. by a SIGINT handler), training stops before
     * the next step with LEVI_ERR_INTERRUPTED; the last epoch's checkpoint
     * stays in place for --resume. */
    volatile sig_atomic_t *stop;
    /* Called after every finished epoch (and its checkpoint) when non-NULL. */
    void (*on_epoch)(void *user, int epoch, const struct levi_train_result *so_far);
    void *on_epoch_user;
    /* Data parallel (levi/parallel.h): each step runs over every replica and
     * rank of `parallel` (the trained model is its replica 0); NULL: alone. */
    struct levi_parallel *parallel;
} levi_train_config;

void levi_train_config_default(levi_train_config *c);

/* Learning rate at step t (1-based) of total steps: warm-up, then constant
 * or cosine decay. */
float levi_train_lr(const levi_train_config *c, long t, long total);

typedef struct levi_train_result {
    int epochs_done;      /* including the ones before a resume */
    long steps;           /* AdamW steps taken, in total */
    double loss, acc;     /* means over the last epoch */
    double val_acc;       /* last epoch, -1 without a validation set */
    double val_loss;      /* last epoch, mean loss on the validation set */
    double seconds;       /* wall time of this call */
    double samples_per_s; /* training samples / second of this call */
    double first_epoch_s, last_epoch_s;
    int cached_features;  /* 1 when the feature cache was used */
    double cache_build_s; /* time spent computing the cached features */
    double last_epoch_data_wait_s; /* last epoch: time spent waiting in levi_loader_next */
    /* Work over the steady state of the last epoch (its third step to its
     * last, before the epoch's final read), summed over every context of the
     * run: steady_steps steps (0 when the epoch had fewer than 3). */
    levi_counters steady;
    long steady_steps;
} levi_train_result;

/* Train `m` on `train` (whose images, or texts, must match the model's
 * input). On a non-finite loss: LEVI_ERR_NOT_FINITE naming the step and epoch. */
levi_status levi_train(levi_model *m, const levi_dataset *train, const levi_train_config *cfg,
                       levi_train_result *res);

typedef struct levi_eval_result {
    int n, correct;
    double acc;
    int num_classes;
    int *confusion;       /* num_classes × num_classes, row = true class, col = predicted */
    double *class_acc;    /* num_classes (-1 for a class without samples) */
    double loss;          /* mean cross-entropy */
} levi_eval_result;

/* LEVI_OK when the dataset's classes and input (image size, or texts of the
 * model's sequence length) fit the model; else an error naming `what` ("the
 * training set") and both values. */
levi_status levi_train_check_dataset(const levi_model *m, const levi_dataset *ds, const char *what);

/* --- the input side: batches enqueued without waiting ----------------------- */

/* A dataset's batches as device tensors for a model's head ctx: the loader
 * fills one of a few host staging buffers, which go up with non-blocking
 * writes (a buffer is refilled only once its write completed: the host
 * waits there only when it runs several steps ahead of the device, counted
 * as a backpressure wait). With the feature cache, the backbone's tap
 * features of the whole dataset are computed once at creation and stay on
 * the device (a step gathers its rows by the epoch's order, uploaded once
 * per epoch); a cache larger than a quarter of the device's memory (or its
 * largest allocation) stays on the host and goes up in large chunks. */
typedef struct levi_feed levi_feed;

typedef struct levi_batch {
    int n;              /* samples (an epoch's last batch may be short); 0 at the epoch's end */
    levi_tensor x;      /* (n, ...) normalized input (pixels, or token ids); buf NULL when nothing reads it
                           (cache, no task model) */
    levi_tensor mask;   /* (n, T) attention mask of token ids; buf NULL for pixels or without x */
    levi_tensor labels; /* (n) exact integers as floats */
    levi_tensor feats;  /* (n, feature_dim) cached tap features; buf NULL without the cache */
} levi_batch;

/* batch ≤ the model's max batch; shuffle: a seeded order per epoch (else
 * dataset order); cache: 1 computes and keeps the tap features (a model
 * with taps; only a levi_model_features_cacheable one takes them as input)
 * on the device when they fit, else on the host; 2 keeps them on the host
 * whatever their size, going up two batches at a time; 0 no cache. */
levi_status levi_feed_create(levi_feed **out, levi_model *m, const levi_dataset *ds, int batch, int shuffle,
                             unsigned long long seed, int cache);
/* Precomputed tap features (ds->n, feature_dim) in dataset order on the host
 * (not owned; valid while the feed lives) instead of a cache: a dataset-order
 * feed uploads each batch's rows. */
levi_status levi_feed_create_with_features(levi_feed **out, levi_model *m, const levi_dataset *ds, int batch,
                                           const float *feats);
/* Start epoch e (the order of a shuffling feed depends on seed and e only). */
levi_status levi_feed_epoch(levi_feed *f, int epoch);
/* The next batch, enqueued; b->n == 0 at the epoch's end. */
levi_status levi_feed_next(levi_feed *f, levi_batch *b);
/* 1 when the feed has cached features (on the device: resident = 1). */
int levi_feed_cached(const levi_feed *f, int *resident);
/* Seconds spent computing the cache at creation. */
double levi_feed_cache_seconds(const levi_feed *f);
/* The counters of the feed's loader (time spent waiting in levi_loader_next,
 * worker time): which side waits, the data or the device. */
void levi_feed_loader_stats(const levi_feed *f, levi_loader_stats *out);
/* The cached features (ds->n, feature_dim) into host memory (one read). */
levi_status levi_feed_read_cache(levi_feed *f, float *out);
void levi_feed_free(levi_feed *f);

/* One training step on a batch, enqueued: zero the gradients, forward,
 * metrics (LEVI_METRICS_TRAIN, recorded as step `step` ≥ 1), backward, clip
 * at grad_clip (0: off) and AdamW at step `step`. Nothing waits. */
levi_status levi_train_step(levi_model *m, const levi_batch *b, const levi_adamw_cfg *opt, long step,
                            float grad_clip);

/* Evaluate on a dataset whose class count equals the model's: correct counts,
 * loss and the confusion matrix add up on the device and are read once. */
levi_status levi_evaluate(levi_model *m, const levi_dataset *ds, levi_eval_result *res);
/* The same with precomputed tap features (ds->n, feature_dim) in dataset
 * order on the host (see levi_compute_features); feats NULL runs the backbone. */
levi_status levi_evaluate_features(levi_model *m, const levi_dataset *ds, const float *feats, levi_eval_result *res);
/* The same over a dataset-order feed (for instance one that caches features
 * across the epochs of a training run). */
levi_status levi_evaluate_feed(levi_model *m, levi_feed *f, levi_eval_result *res);
/* Tap features of every image of ds in order: *out (ds->n, feature_dim) malloc'ed. */
levi_status levi_compute_features(levi_model *m, const levi_dataset *ds, float **out);
void levi_eval_result_free(levi_eval_result *r);

#ifdef __cplusplus
}
#endif
#endif
