/* The two-deep backbone/head pipeline (see levi/parallel.h):
 *
 *   host:      next(k)                              next(k+1)
 *   backbone:  ... fwd(k+1) ─────────────────┐      fwd(k+2) ...
 *   head:      ... step(k-1) │ feats(k) step(k) ... │ feats(k+1) step(k+1)
 *
 * next(k) waits for the backbone's features of batch k (while the head
 * still computes k-1), hands them to the head ctx (queued behind k-1),
 * then loads batch k+1 and queues its upload and backbone forward. */
#include <stdlib.h>
#include <string.h>

#include "levi/parallel.h"

struct levi_feature_pipe {
    levi_model *m;
    levi_loader *loader;
    size_t xn;         /* floats of one sample's input (and of its mask, for token ids) */
    int text;          /* token input: a mask goes with x */
    float *x[2], *mk[2], *y[2]; /* host batches: the one in flight on the backbone, the one handed out */
    int n[2];
    int ahead;         /* slot of the batch in flight; -1: none queued (start of an epoch) */
    cl_event ready;    /* the backbone forward of the batch in flight */
    int done;          /* the loader's epoch ended */
};

levi_status levi_feature_pipe_create(levi_feature_pipe **out, levi_model *m, levi_loader *loader) {
    *out = NULL;
    if (!levi_model_features_cacheable(m))
        return levi_error(LEVI_ERR_INVALID_ARG,
                          "a backbone/head pipeline needs a frozen backbone with taps (method %s)",
                          levi_method_name(levi_model_get_config(m)->method));
    if (levi_model_backbone_ctx(m) == levi_model_ctx(m))
        return levi_error(LEVI_ERR_INVALID_ARG, "a backbone/head pipeline needs the backbone on its own context");
    levi_feature_pipe *p = calloc(1, sizeof *p);
    if (!p) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    p->m = m;
    p->loader = loader;
    p->xn = levi_input_numel(levi_model_input_spec(m));
    p->text = levi_model_input_spec(m)->kind == LEVI_INPUT_TOKENS;
    p->ahead = -1;
    for (int i = 0; i < 2; i++) {
        p->x[i] = malloc((size_t)loader->batch * p->xn * sizeof(float));
        p->mk[i] = p->text ? malloc((size_t)loader->batch * p->xn * sizeof(float)) : NULL;
        p->y[i] = malloc((size_t)loader->batch * sizeof(float));
        if (!p->x[i] || !p->y[i] || (p->text && !p->mk[i])) {
            levi_feature_pipe_free(p);
            return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory for two batches of %d", loader->batch);
        }
    }
    *out = p;
    return LEVI_OK;
}

void levi_feature_pipe_free(levi_feature_pipe *p) {
    if (!p) return;
    if (p->ready) {
        clWaitForEvents(1, &p->ready); /* its upload reads p->x */
        levi_event_release(&p->ready);
    }
    for (int i = 0; i < 2; i++) {
        free(p->x[i]);
        free(p->mk[i]);
        free(p->y[i]);
    }
    free(p);
}

/* Load the loader's next batch into slot s and queue its upload and backbone
 * forward on the backbone ctx (p->n[s] = 0 at the end of the epoch). */
static levi_status launch(levi_feature_pipe *p, int s) {
    int b = levi_loader_next_input(p->loader, p->x[s], p->mk[s], p->y[s]);
    p->n[s] = b;
    if (b <= 0) {
        p->n[s] = 0;
        return LEVI_OK;
    }
    levi_input in = levi_model_stage_input(p->m, b);
    LEVI_TRY(levi_tensor_write_async(&in.x, p->x[s], 0, NULL, NULL));
    if (p->text) LEVI_TRY(levi_tensor_write_async(&in.mask, p->mk[s], 0, NULL, NULL));
    LEVI_TRY(levi_model_backbone_forward(p->m, &in, b, &p->ready));
    clFlush(levi_model_backbone_ctx(p->m)->queue);
    return LEVI_OK;
}

levi_status levi_feature_pipe_next(levi_feature_pipe *p, float *x, float *mask, float *labels, int *n) {
    *n = 0;
    if (p->ahead < 0) { /* a new epoch: fill the pipe */
        p->ahead = 0;
        LEVI_TRY(launch(p, 0));
    }
    int s = p->ahead, b = p->n[s];
    if (b == 0) { /* the epoch is over; the next call starts the next one */
        p->ahead = -1;
        return LEVI_OK;
    }
    levi_status st = levi_model_handoff_features(p->m, b, 1, &p->ready, NULL);
    levi_event_release(&p->ready);
    if (st != LEVI_OK) return st;
    memcpy(x, p->x[s], (size_t)b * p->xn * sizeof *x);
    if (mask && p->text) memcpy(mask, p->mk[s], (size_t)b * p->xn * sizeof *mask);
    memcpy(labels, p->y[s], (size_t)b * sizeof *labels);
    p->ahead = 1 - s;
    LEVI_TRY(launch(p, p->ahead));
    *n = b;
    return LEVI_OK;
}
