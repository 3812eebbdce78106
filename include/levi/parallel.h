/* levi/parallel.h — a training step over several devices and ranks (data
 * parallel), and the two-deep pipeline of a model whose backbone stage runs
 * on another device than its head.
 *
 * Data parallel: every participant (each device of each rank) holds a
 * replica of the model and computes its shard of every global batch
 * (levi_comm_shard); the trainable gradients — the head's only for a frozen
 * backbone (LEVI), every parameter for ft — are summed over all of them
 * (levi_grad_sum), then clip and AdamW run identically on every replica.
 * Loss and accuracy are those of the global batch. Every rank loads the same
 * global batches (same seed, same order) and computes only its rows.
 *
 * Pipeline: the backbone's forward of batch k+1 runs on its device while
 * the head computes batch k on its own (frozen backbone, features not
 * cached); the head sees the same batches in the same order as without it. */
#ifndef LEVI_PARALLEL_H
#define LEVI_PARALLEL_H

#include "levi/comm.h"
#include "levi/data.h"
#include "levi/levi_model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct levi_parallel levi_parallel;

#define LEVI_PARALLEL_MAX 16 /* replicas in one process */

/* replicas: n models of one configuration, one per device of this process
 * (replicas[0] is the one the trainer holds; every replica's head on its own
 * ctx; each replica's part of a step runs on its own thread, so its
 * calls may block without holding back the others). comm: the ranks (NULL:
 * world 1). Borrowed: they outlive p. */
levi_status levi_parallel_create(levi_parallel **out, levi_comm *comm, levi_model *const *replicas, int n);
void levi_parallel_free(levi_parallel *p);

/* Participants of the run: ranks × replicas per rank. */
int levi_parallel_participants(const levi_parallel *p);
/* Floats summed per step (the trainable gradients of one replica). */
size_t levi_parallel_grad_floats(const levi_parallel *p);
/* The replicas of this process (replica r, NULL out of range) and the ranks. */
int levi_parallel_replicas(const levi_parallel *p);
levi_model *levi_parallel_replica(const levi_parallel *p, int r);
levi_comm *levi_parallel_comm(const levi_parallel *p);
/* Rows [*start, *start + *count) of a global batch of B that replica r of
 * this rank computes (*count may be 0). */
void levi_parallel_shard(const levi_parallel *p, int r, int B, int *start, int *count);

/* Copy the trainable parameters and AdamW state of replica 0 of rank 0 into
 * every other replica of every rank (after a resume, or to start from one
 * initialization whatever each device computed). */
levi_status levi_parallel_sync(levi_parallel *p);

/* One step of a global batch of B samples, every input on the host in batch
 * order: x (B, input numel), labels (B), feats (B, feature_dim) of a feature
 * cache or NULL. Each replica computes its rows, the gradients are summed,
 * and each replica takes the same AdamW step t (clip first when grad_clip >
 * 0). *loss (mean over the global batch), *correct (of the global batch) and
 * *grad_norm (may be NULL) are the same on every rank. A non-finite loss
 * stops before the update with LEVI_ERR_NOT_FINITE. The first step syncs
 * the replicas (levi_parallel_sync).
 * With loss NULL (correct and grad_norm then NULL too), nothing but the
 * gradients leaves the devices: each replica adds its shard to its train
 * metrics as step t (levi_model_metrics_accumulate; a replica without rows
 * adds nothing), and a non-finite norm skips the update on every replica and
 * is recorded there (levi_model_step with grad_norm NULL). Per step that
 * costs the gradient sum's reads: one blocking sync per gradient group and
 * replica. */
levi_status levi_parallel_step(levi_parallel *p, const float *x, const float *labels, const float *feats, int B,
                               const levi_adamw_cfg *opt, int t, float grad_clip, float *loss, int *correct,
                               float *grad_norm);

/* The same for any input: token ids x (B, T) come with their mask (B, T),
 * which levi_parallel_step leaves NULL (images). */
levi_status levi_parallel_step_input(levi_parallel *p, const float *x, const float *mask, const float *labels,
                                     const float *feats, int B, const levi_adamw_cfg *opt, int t, float grad_clip,
                                     float *loss, int *correct, float *grad_norm);

/* The frozen backbone's tap features of every image of ds, in dataset order
 * (*out (ds->n, feature_dim), malloc'ed), as levi_compute_features, with
 * the images split over every replica of every rank: each computes its
 * consecutive slice, and the ranks assemble the whole (every rank gets it). */
levi_status levi_parallel_compute_features(levi_parallel *p, const levi_dataset *ds, float **out);

/* --- the backbone/head pipeline ------------------------------------------- */

typedef struct levi_feature_pipe levi_feature_pipe;

/* Batches of `loader` for model m, one ahead: m's backbone stage computes
 * the features of the next batch while the caller computes the current one
 * on the head. The loader is borrowed (epochs are the caller's). */
levi_status levi_feature_pipe_create(levi_feature_pipe **out, levi_model *m, levi_loader *loader);
void levi_feature_pipe_free(levi_feature_pipe *p);

/* The next batch of the loader's epoch, as levi_loader_next_input: x, the
 * mask of token ids (may be NULL) and labels (host, batch order) into the
 * caller's buffers, and its tap features
 * already in levi_model_input_feats(m, B) on the head ctx (queued there
 * after everything the caller queued before this call). Before returning, it
 * queues the backbone's forward of the batch after. *n: the batch size, 0 at
 * the end of the epoch. */
levi_status levi_feature_pipe_next(levi_feature_pipe *p, float *x, float *mask, float *labels, int *n);

#ifdef __cplusplus
}
#endif
#endif
