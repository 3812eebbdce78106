/* levi/memplan.h — the device memory a training run needs, known before
 * anything is allocated: the model is built on planning contexts
 * (levi_ctx_plan_begin) at batch 64 and 128, which count every buffer by role
 * instead of allocating it, and the sizes are extrapolated to the batch
 * asked for (everything a run allocates is fixed or grows with the batch).
 * A run that does not fit stops with an error giving both numbers and the
 * largest batch that fits, never a driver error; `--batch auto` takes that
 * batch. */
#ifndef LEVI_MEMPLAN_H
#define LEVI_MEMPLAN_H

#include "levi/levi_model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One stage's device (head; backbone when placed apart). Bytes. */
typedef struct levi_mem_stage {
    levi_ctx *ctx;
    double params, grads, optimizer, activations, workspace, total;
    double largest_alloc; /* the largest single buffer */
    /* total and every allocation as fixed + per_sample · batch */
    double total_fixed, total_per_sample;
    int nalloc;
    double alloc_fixed[LEVI_MEM_MAX_ALLOCS], alloc_per_sample[LEVI_MEM_MAX_ALLOCS];
} levi_mem_stage;

typedef struct levi_mem_plan {
    int batch;
    int nstages;
    levi_mem_stage stage[2]; /* [0] head, [1] backbone when on another ctx */
} levi_mem_plan;

/* Build the model of a run for batches up to `batch` on head ctx `head`
 * with its backbone on `backbone` (may equal head): the caller's recipe
 * (e.g. levi_vit_create + levi_backbone_from_vit + levi_model_create). */
typedef levi_status (*levi_model_builder)(void *user, levi_ctx *head, levi_ctx *backbone, int batch,
                                          levi_model **out);

/* The plan of a run at `batch`: the model (built twice while planning),
 * the trainer's input staging (input_floats per sample, e.g. C·H·W) and a
 * feature cache of cache_bytes kept on the head's device. Workspace: two
 * copies of the largest tensor (GEMM libraries pad their operands). */
levi_status levi_mem_plan_run(levi_mem_plan *out, levi_ctx *head, levi_ctx *backbone, levi_model_builder build,
                              void *user, int batch, size_t input_floats, double cache_bytes);

/* Check a plan against every stage's device: its global memory (of which
 * 90 % are counted usable) and its largest allocation. LEVI_OK when it fits,
 * else LEVI_ERR_DEVICE_MEMORY with a message naming the device, the bytes
 * needed and available, and the largest batch that fits (*fit, may be
 * NULL: 0 when not even batch 1 fits). `what` names the run in the message
 * ("train --method ft"). */
levi_status levi_mem_plan_check(const levi_mem_plan *p, const char *what, int *fit);

/* The largest batch in 1..max_batch that fits (0: none), from the same plan. */
int levi_mem_plan_fit(const levi_mem_plan *p, int max_batch);

/* One line per stage: "head on 'NAME': 1.2 GiB of 80 GiB (parameters ..., ...)". */
void levi_mem_plan_print(const levi_mem_plan *p, FILE *f);

#ifdef __cplusplus
}
#endif
#endif
