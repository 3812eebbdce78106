/* The backbone stage of a levi_model and the hand-off of its features to
 * the head stage (levi/levi_model.h: "Two stages").
 *
 * Together (one ctx): the backbone writes its taps straight into the head's
 * feature buffer and its gradient is split on the same queue; nothing moves.
 * Apart (two contexts): the stage keeps its own input, feature and gradient
 * buffers on the backbone ctx, and a tensor crosses through one host buffer:
 * a read the host waits for (events of one context cannot order commands of
 * another) and a non-blocking write on the other side. */
#include <stdlib.h>
#include <string.h>

#include "levi_model_internal.h"

levi_status model_stage_plan(levi_model *m) {
    int B = m->max_batch, F = m->cfg.ntaps * m->D;
    levi_arena *a = &m->stage;
    m->st_x = levi_act_plan(a, B, (int)levi_input_numel(&m->input));
    if (m->input.kind == LEVI_INPUT_TOKENS) m->st_mask = levi_act_plan(a, B, m->input.seq_len);
    if (F) {
        m->st_feats = levi_act_plan(a, B, F);
        if (m->bb_trainable) {
            m->st_dfeats = levi_act_plan(a, B, F);
            for (int i = 0; i < m->cfg.ntaps; i++) m->st_dcls[i] = levi_act_plan(a, B, m->D);
        }
    }
    LEVI_TRY(levi_arena_commit(a));
    size_t xn = levi_input_numel(&m->input), n = (size_t)F > xn ? (size_t)F : xn;
    m->host_stage_floats = (size_t)B * n;
    m->host_stage = malloc(m->host_stage_floats * sizeof(float));
    if (!m->host_stage)
        return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory for a hand-off buffer of %zu floats",
                          m->host_stage_floats);
    return LEVI_OK;
}

void model_stage_free(levi_model *m) {
    if (m->host_stage_busy) {
        clWaitForEvents(1, &m->host_stage_busy);
        levi_event_release(&m->host_stage_busy);
    }
    free(m->host_stage);
    m->host_stage = NULL;
    levi_arena_free(&m->stage);
}

levi_status model_stage_transfer(levi_model *m, const levi_tensor *dst, const levi_tensor *src, cl_uint n_wait,
                                 const cl_event *wait, cl_event *done) {
    if (done) *done = NULL;
    if (dst->numel != src->numel)
        return levi_error(LEVI_ERR_SHAPE, "stage hand-off of %zu values into %zu", src->numel, dst->numel);
    if (dst->ctx->context == src->ctx->context) {
        cl_event marker = NULL;
        if (dst->ctx->queue != src->ctx->queue && !n_wait) {
            LEVI_CL_CHECK(clEnqueueMarkerWithWaitList(src->ctx->queue, 0, NULL, &marker));
            wait = &marker;
            n_wait = 1;
        }
        cl_int rc = clEnqueueCopyBuffer(dst->ctx->queue, src->buf, dst->buf, src->offset * sizeof(float),
                                        dst->offset * sizeof(float), dst->numel * sizeof(float), n_wait,
                                        n_wait ? wait : NULL, done);
        levi_event_release(&marker);
        LEVI_CL_CHECK(rc);
        return LEVI_OK;
    }
    if (src->numel > m->host_stage_floats)
        return levi_error(LEVI_ERR_SHAPE, "stage hand-off of %zu values, the host buffer holds %zu", src->numel,
                          m->host_stage_floats);
    /* the previous write out of the host buffer must be done before it is refilled (enqueued
     * before work that stays queued: a backpressure wait) */
    LEVI_TRY(levi_event_wait_backpressure(dst->ctx, 1, &m->host_stage_busy));
    levi_event_release(&m->host_stage_busy);
    cl_event r = NULL;
    LEVI_TRY(levi_tensor_read_async(src, m->host_stage, n_wait, wait, &r));
    levi_status st = levi_event_wait(src->ctx, 1, &r);
    levi_event_release(&r);
    if (st == LEVI_OK) st = levi_tensor_write_async(dst, m->host_stage, 0, NULL, &m->host_stage_busy);
    if (st == LEVI_OK && done && m->host_stage_busy) {
        clRetainEvent(m->host_stage_busy);
        *done = m->host_stage_busy;
    }
    return st;
}

levi_input levi_model_stage_input(levi_model *m, int B) {
    levi_input in;
    memset(&in, 0, sizeof in);
    if (!m->apart) {
        in.x = levi_model_input_pixels(m, B);
        in.mask = levi_model_input_mask(m, B);
        return in;
    }
    in.x = STAGE_VIEW(m->st_x, B);
    if (m->input.kind == LEVI_INPUT_PIXELS) {
        int s[4] = {B, m->input.channels, m->input.height, m->input.width};
        in.x = levi_tensor_reshape(&in.x, 4, s);
    } else {
        in.mask = STAGE_VIEW(m->st_mask, B);
    }
    return in;
}

/* Taps side by side: feats (B, k·D) on the backbone's ctx. */
static levi_status taps_into(levi_model *m, const levi_tensor *feats, int B) {
    int D = m->D, k = m->cfg.ntaps;
    for (int i = 0; i < k; i++) {
        levi_tensor h = levi_backbone_tap(m->bb, m->cfg.taps[i], B);
        LEVI_TRY(levi_copy_cols(m->bb_ctx, feats, k * D, i * D, &h, D, 0, B, D, 0));
    }
    return LEVI_OK;
}

levi_status levi_model_backbone_forward(levi_model *m, const levi_input *in, int B, cl_event *done) {
    if (done) *done = NULL;
    if (!m->bb || !m->cfg.ntaps)
        return levi_error(LEVI_ERR_INVALID_ARG, "method %s has no backbone features", levi_method_name(m->cfg.method));
    if (B < 1 || B > m->max_batch) return levi_error(LEVI_ERR_INVALID_ARG, "batch %d is not in 1..%d", B, m->max_batch);
    levi_tensor fe = m->apart ? STAGE_VIEW(m->st_feats, B) : levi_model_input_feats(m, B);
    LEVI_TRY(levi_backbone_forward(m->bb, in, B));
    LEVI_TRY(taps_into(m, &fe, B));
    if (done) LEVI_CL_CHECK(clEnqueueMarkerWithWaitList(m->bb_ctx->queue, 0, NULL, done));
    return LEVI_OK;
}

levi_status levi_model_handoff_features(levi_model *m, int B, cl_uint n_wait, const cl_event *wait,
                                        cl_event *done) {
    if (done) *done = NULL;
    if (!m->cfg.ntaps)
        return levi_error(LEVI_ERR_INVALID_ARG, "method %s has no backbone features", levi_method_name(m->cfg.method));
    if (!m->apart) {
        /* the backbone wrote into the head's buffer on the same queue */
        if (done) LEVI_CL_CHECK(clEnqueueMarkerWithWaitList(m->ctx->queue, n_wait, n_wait ? wait : NULL, done));
        return LEVI_OK;
    }
    levi_tensor src = STAGE_VIEW(m->st_feats, B), dst = levi_model_input_feats(m, B);
    return model_stage_transfer(m, &dst, &src, n_wait, wait, done);
}

levi_status model_features_input(levi_model *m, const levi_input *in, const levi_tensor *feats, int B) {
    if (!m->apart) {
        LEVI_TRY(levi_backbone_forward(m->bb, in, B));
        return taps_into(m, feats, B);
    }
    levi_input s = levi_model_stage_input(m, B);
    LEVI_TRY(model_stage_transfer(m, &s.x, &in->x, 0, NULL, NULL));
    if (in->mask.buf) LEVI_TRY(model_stage_transfer(m, &s.mask, &in->mask, 0, NULL, NULL));
    levi_tensor sf = STAGE_VIEW(m->st_feats, B);
    LEVI_TRY(levi_backbone_forward(m->bb, &s, B));
    LEVI_TRY(taps_into(m, &sf, B));
    return model_stage_transfer(m, feats, &sf, 0, NULL, NULL);
}

levi_status model_backbone_backward(levi_model *m, const levi_tensor *dfe, int B) {
    int D = m->D, k = m->cfg.ntaps, F = k * D;
    levi_tensor src = *dfe;
    levi_ctx *bctx = m->bb_ctx;
    if (m->apart) {
        src = STAGE_VIEW(m->st_dfeats, B);
        LEVI_TRY(model_stage_transfer(m, &src, dfe, 0, NULL, NULL));
    }
    levi_tensor dcls[LEVI_MAX_TAPS];
    const levi_tensor *dp[LEVI_MAX_TAPS];
    for (int i = 0; i < k; i++) {
        dcls[i] = m->apart ? STAGE_VIEW(m->st_dcls[i], B) : VIEW(m->dcls[i], B);
        LEVI_TRY(levi_copy_cols(bctx, &dcls[i], D, 0, &src, F, i * D, B, D, 0));
        dp[i] = &dcls[i];
    }
    return levi_backbone_backward(m->bb, dp, m->cfg.taps, k, B);
}
