/* levi/train.h — the training loop of a levi_model: epochs of seeded
 * batches, AdamW, JSON-lines metrics, an atomic checkpoint per epoch, exact
 * resume, a stop on a non-finite loss, the frozen-backbone feature cache, and
 * evaluation (accuracy, per-class accuracy, confusion matrix).
 *
 * Metrics (--log), one JSON object per line, stable field names:
 *   {"type":"step","step":S,"epoch":E,"loss":L,"acc":A,"lr":LR,"samples_per_s":X,"elapsed":SEC}
 *   {"type":"epoch","step":S,"epoch":E,"loss":L,"acc":A,"lr":LR,"samples_per_s":X,"elapsed":SEC,
 *    "epoch_s":SEC,"val_acc":V,"val_loss":L (both only with a validation set),"cached_features":0|1}
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
} levi_train_result;

/* Train `m` on `train` (whose images must match the model's input). On a
 * non-finite loss: LEVI_ERR_NOT_FINITE naming the step and epoch. */
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

/* LEVI_OK when the dataset's classes and image size fit the model; else an
 * error naming `what` ("the training set") and both values. */
levi_status levi_train_check_dataset(const levi_model *m, const levi_dataset *ds, const char *what);

/* Evaluate on a dataset whose class count equals the model's. */
levi_status levi_evaluate(levi_model *m, const levi_dataset *ds, levi_eval_result *res);
/* The same with precomputed tap features (ds->n, feature_dim) in dataset
 * order (see levi_compute_features); feats NULL runs the backbone. */
levi_status levi_evaluate_features(levi_model *m, const levi_dataset *ds, const float *feats, levi_eval_result *res);
/* Tap features of every image of ds in order: *out (ds->n, feature_dim) malloc'ed. */
levi_status levi_compute_features(levi_model *m, const levi_dataset *ds, float **out);
void levi_eval_result_free(levi_eval_result *r);

#ifdef __cplusplus
}
#endif
#endif
