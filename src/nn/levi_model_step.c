/* Forward, loss, backward and the AdamW update of a levi_model:
 *
 *   feats (B, F) = [h_t1; ...; h_tk], F = k·D      (backbone taps)
 *   z     (B, hz) = g(x)   (pixels, or token ids with their mask)
 *   concat  : x (B, F+hz) = [feats; z], logits = A(x)
 *   ensemble: x_l (B, D+hz) = [h_l; z], logits_l = A_l(x_l),
 *             logits = Σ_l w_l logits_l with w = softmax(alpha),
 *             loss = CE(logits) + lambda · mean_l CE(logits_l)
 *   late    : logits_v = A_v(v) for the views v = feats, z; mixed as in
 *             ensemble; the views learn from their own CE only, alpha from CE(logits);
 *             with distill d > 0 the task view also learns from d · CE(p_feats, p_z),
 *             the backbone view's probabilities as soft labels (in the loss returned
 *             by forward, not in the on-device metrics' loss) */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "levi_model_internal.h"

/* Late fusion's distillation term on the host: the mean over the batch of
 * CE(p_feats, p_z) = -sum_k p_feats,k log p_z,k. */
static levi_status distill_loss(levi_model *m, int B, double *out) {
    size_t n = (size_t)B * m->cfg.num_classes;
    float *pb = malloc(n * sizeof *pb), *pz = malloc(n * sizeof *pz);
    levi_tensor tb = VIEW(m->probs_l[0], B), tz = VIEW(m->probs_l[1], B);
    levi_status st = LEVI_OK;
    if (!pb || !pz) st = levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory for the distillation loss");
    if (st == LEVI_OK) st = levi_tensor_read(&tb, pb);
    if (st == LEVI_OK) st = levi_tensor_read(&tz, pz);
    double s = 0;
    for (size_t i = 0; st == LEVI_OK && i < n; i++) s -= (double)pb[i] * log(fmax((double)pz[i], 1e-30));
    free(pb);
    free(pz);
    *out = s / B;
    return st;
}

levi_tensor levi_model_input_pixels(levi_model *m, int B) {
    levi_tensor t = VIEW(m->pix, B);
    if (m->input.kind == LEVI_INPUT_TOKENS) return t; /* (B,T) token ids */
    int s[4] = {B, m->input.channels, m->input.height, m->input.width};
    return levi_tensor_reshape(&t, 4, s);
}
levi_tensor levi_model_input_mask(levi_model *m, int B) {
    if (m->input.kind != LEVI_INPUT_TOKENS) {
        levi_tensor t;
        memset(&t, 0, sizeof t);
        return t;
    }
    return VIEW(m->mask, B);
}
levi_tensor levi_model_input_labels(levi_model *m, int B) {
    levi_tensor t = VIEW(m->labels, B);
    return levi_tensor_reshape(&t, 1, &B);
}
levi_tensor levi_model_input_feats(levi_model *m, int B) {
    if (!m->cfg.ntaps) {
        levi_tensor t;
        memset(&t, 0, sizeof t);
        return t;
    }
    return VIEW(m->in_feats, B);
}
levi_tensor levi_model_logits(levi_model *m, int B) { return VIEW(m->logits, B); }

// x (B, ...) on the head ctx → feats (B, k·D) on the head ctx = taps side by side
levi_status levi_model_features(levi_model *m, const levi_tensor *x, const levi_tensor *feats, int B) {
    if (!m->cfg.ntaps)
        return levi_error(LEVI_ERR_INVALID_ARG, "method %s has no backbone features", levi_method_name(m->cfg.method));
    levi_input in;
    memset(&in, 0, sizeof in);
    in.x = *x;
    in.mask = levi_model_input_mask(m, B);
    return levi_model_features_input(m, &in, feats, B);
}

levi_status levi_model_features_input(levi_model *m, const levi_input *in, const levi_tensor *feats, int B) {
    if (!m->cfg.ntaps)
        return levi_error(LEVI_ERR_INVALID_ARG, "method %s has no backbone features", levi_method_name(m->cfg.method));
    if (B < 1 || B > m->max_batch) return levi_error(LEVI_ERR_INVALID_ARG, "batch %d is not in 1..%d", B, m->max_batch);
    return model_features_input(m, in, feats, B);
}

levi_status levi_model_forward(levi_model *m, const levi_tensor *x, const levi_tensor *feats,
                               const levi_tensor *labels, int B, float *loss, int *correct) {
    levi_input in;
    memset(&in, 0, sizeof in);
    in.x = *x;
    in.mask = levi_model_input_mask(m, B);
    return levi_model_forward_input(m, &in, feats, labels, B, loss, correct);
}

levi_status levi_model_forward_input(levi_model *m, const levi_input *in, const levi_tensor *feats,
                                     const levi_tensor *labels, int B, float *loss, int *correct) {
    levi_ctx *ctx = m->ctx;
    const levi_model_config *c = &m->cfg;
    int K = c->num_classes, k = c->ntaps, D = m->D, F = k * D, hz = m->hz;
    if (B < 1 || B > m->max_batch) return levi_error(LEVI_ERR_INVALID_ARG, "batch %d is not in 1..%d", B, m->max_batch);
    if (feats && (!F || m->bb_trainable))
        return levi_error(LEVI_ERR_INVALID_ARG, "precomputed features given to a model whose features %s",
                          F ? "change during training" : "do not exist");
    m->last_B = B;
    m->last_pixels = in->x;
    m->have_labels = labels != NULL;
    if (labels) m->last_labels = *labels;
    levi_tensor fe;
    memset(&fe, 0, sizeof fe);
    if (F) {
        if (feats) {
            fe = *feats;
        } else {
            fe = VIEW(m->feats, B);
            LEVI_TRY(model_features_input(m, in, &fe, B));
        }
        m->last_feats = fe;
    }
    levi_tensor z;
    memset(&z, 0, sizeof z);
    if (hz) {
        LEVI_TRY(levi_task_forward(&m->g, &m->P, &m->acts, &in->x, in->mask.buf ? &in->mask : NULL, B));
        z = levi_task_z(&m->g, &m->acts, B);
    }
    levi_tensor logits = VIEW(m->logits, B);
    if (c->fusion == LEVI_FUSION_CONCAT) {
        levi_tensor x;
        if (m->x_alias[0]) {
            x = hz ? z : fe;
        } else {
            x = VIEW(m->x[0], B);
            LEVI_TRY(levi_copy_cols(ctx, &x, F + hz, 0, &fe, F, 0, B, F, 0));
            LEVI_TRY(levi_copy_cols(ctx, &x, F + hz, F, &z, hz, 0, B, hz, 0));
        }
        m->xv[0] = x;
        LEVI_TRY(levi_adapter_forward(&m->ad[0], &m->P, &m->acts, &logits, &x, B));
    } else if (c->fusion == LEVI_FUSION_LATE) {
        LEVI_TRY(model_ensemble_weights(m));
        for (int i = 0; i < m->nadapt; i++) {
            levi_tensor ll = VIEW(m->logits_l[i], B);
            m->xv[i] = F && i == 0 ? fe : z;
            LEVI_TRY(levi_adapter_forward(&m->ad[i], &m->P, &m->acts, &ll, &m->xv[i], B));
        }
        LEVI_TRY(model_ensemble_combine(m, B));
    } else {
        LEVI_TRY(model_ensemble_weights(m));
        for (int i = 0; i < k; i++) {
            levi_tensor x = VIEW(m->x[i], B), ll = VIEW(m->logits_l[i], B);
            LEVI_TRY(levi_copy_cols(ctx, &x, D + hz, 0, &fe, F, i * D, B, D, 0));
            if (hz) LEVI_TRY(levi_copy_cols(ctx, &x, D + hz, D, &z, hz, 0, B, hz, 0));
            m->xv[i] = x;
            LEVI_TRY(levi_adapter_forward(&m->ad[i], &m->P, &m->acts, &ll, &x, B));
        }
        LEVI_TRY(model_ensemble_combine(m, B));
    }
    if (!labels) return LEVI_OK;
    /* host values only when asked for: they wait for the batch */
    const int host = loss || correct;
    levi_tensor probs = VIEW(m->probs, B), losses = VIEW(m->losses, B), corr = VIEW(m->correct, B);
    float l0 = 0;
    int c0 = 0;
    LEVI_TRY(levi_crossentropy_forward(ctx, &probs, &losses, &corr, &logits, labels, B, K, host ? &l0 : NULL,
                                       host ? &c0 : NULL));
    double total = l0;
    if (c->fusion != LEVI_FUSION_CONCAT) {
        double aux = 0;
        for (int i = 0; i < m->nadapt; i++) {
            levi_tensor ll = VIEW(m->logits_l[i], B), pl = VIEW(m->probs_l[i], B);
            levi_tensor lo = VIEW(m->losses_l[i], B), co = VIEW(m->correct_l[i], B);
            float li = 0;
            int ci;
            LEVI_TRY(levi_crossentropy_forward(ctx, &pl, &lo, &co, &ll, labels, B, K, host ? &li : NULL,
                                               host ? &ci : NULL));
            aux += li;
        }
        total += c->lambda * aux / m->nadapt;
        if (host && c->fusion == LEVI_FUSION_LATE && F && hz && c->distill > 0) {
            double d;
            LEVI_TRY(distill_loss(m, B, &d));
            total += c->distill * d;
        }
    }
    if (loss) *loss = (float)total;
    if (correct) *correct = c0;
    return LEVI_OK;
}

levi_status levi_model_backward(levi_model *m, int B) { return levi_model_backward_shard(m, B, B); }

levi_status levi_model_backward_shard(levi_model *m, int Bcall, int global_batch) {
    levi_ctx *ctx = m->ctx;
    const levi_model_config *c = &m->cfg;
    if (Bcall != m->last_B)
        return levi_error(LEVI_ERR_INVALID_ARG, "backward of batch %d after a forward of batch %d", Bcall, m->last_B);
    int B = m->last_B, K = c->num_classes, k = c->ntaps, D = m->D, F = k * D, hz = m->hz;
    if (!m->have_labels) return levi_error(LEVI_ERR_INVALID_ARG, "backward needs a forward with labels");
    if (!m->P.trainable)
        return levi_error(LEVI_ERR_INVALID_ARG, "the model was loaded for inference only: no gradient storage");
    levi_tensor dlogits = VIEW(m->dlogits, B), probs = VIEW(m->probs, B);
    levi_tensor dz, dfe;
    memset(&dz, 0, sizeof dz);
    memset(&dfe, 0, sizeof dfe);
    if (global_batch < B)
        return levi_error(LEVI_ERR_INVALID_ARG, "a shard of %d samples of a global batch of %d", B, global_batch);
    /* concat: dlogits, dx, dz and dfe each have one writer, which writes
     * (accumulate 0) instead of adding to a zeroed buffer: no zeroing commands */
    const int concat = c->fusion == LEVI_FUSION_CONCAT;
    if (hz) {
        dz = VIEW(m->dz, B);
        if (!concat) LEVI_TRY(levi_tensor_zero(&dz));
    }
    int need_dfe = F && m->bb_trainable;
    if (need_dfe) {
        dfe = VIEW(m->dfeats, B);
        if (!concat || (m->x_alias[0] && hz)) LEVI_TRY(levi_tensor_zero(&dfe)); /* the latter: no writer */
    }
    const float G = (float)global_batch;
    LEVI_TRY(levi_crossentropy_backward_acc(ctx, &dlogits, &probs, &m->last_labels, B, K, 1.0f / G, 0));
    if (concat) {
        if (m->x_alias[0]) {
            const levi_tensor *dx = hz ? &dz : (need_dfe ? &dfe : NULL);
            LEVI_TRY(levi_adapter_backward_acc(&m->ad[0], &m->P, &m->acts, dx, &dlogits, &m->xv[0], B, 0));
        } else if (!need_dfe) {
            /* frozen features: the gradient of z's columns of x only, straight into dz */
            LEVI_TRY(levi_adapter_backward_cols(&m->ad[0], &m->P, &m->acts, &dz, F, &dlogits, &m->xv[0], B, 0));
        } else {
            levi_tensor dx = VIEW(m->dx[0], B);
            LEVI_TRY(levi_adapter_backward_acc(&m->ad[0], &m->P, &m->acts, &dx, &dlogits, &m->xv[0], B, 0));
            LEVI_TRY(levi_copy_cols(ctx, &dfe, F, 0, &dx, F + hz, 0, B, F, 0));
            LEVI_TRY(levi_copy_cols(ctx, &dz, hz, 0, &dx, F + hz, F, B, hz, 0));
        }
    } else if (c->fusion == LEVI_FUSION_LATE) {
        LEVI_TRY(model_ensemble_backward(m, B, 0)); /* dalpha only: no gradient of the mixture into the views */
        for (int i = 0; i < m->nadapt; i++) {
            levi_tensor dl = VIEW(m->dlogits_l[i], B), pl = VIEW(m->probs_l[i], B);
            LEVI_TRY(levi_tensor_zero(&dl));
            LEVI_TRY(levi_crossentropy_backward(ctx, &dl, &pl, &m->last_labels, B, K,
                                                c->lambda / (float)m->nadapt / G));
            int z_view = !F || i == 1;
            if (z_view && F && hz && c->distill > 0) {
                /* d CE(p_b, softmax(l_z)) / d l_z = p_z - p_b; p_b is a constant (no gradient into view 0) */
                levi_tensor pb = VIEW(m->probs_l[0], B);
                LEVI_TRY(levi_axpy(ctx, &dl, c->distill / G, &pl, (size_t)B * K));
                LEVI_TRY(levi_axpy(ctx, &dl, -c->distill / G, &pb, (size_t)B * K));
            }
            const levi_tensor *dx = z_view ? (hz ? &dz : NULL) : (need_dfe ? &dfe : NULL);
            LEVI_TRY(levi_adapter_backward(&m->ad[i], &m->P, &m->acts, dx, &dl, &m->xv[i], B));
        }
    } else {
        LEVI_TRY(model_ensemble_backward(m, B, 1)); /* dlogits_l = w_l dlogits, dalpha */
        for (int i = 0; i < k; i++) {
            levi_tensor dl = VIEW(m->dlogits_l[i], B), pl = VIEW(m->probs_l[i], B), dx = VIEW(m->dx[i], B);
            LEVI_TRY(levi_tensor_zero(&dx));
            LEVI_TRY(levi_crossentropy_backward(ctx, &dl, &pl, &m->last_labels, B, K,
                                                c->lambda / (float)k / G));
            LEVI_TRY(levi_adapter_backward(&m->ad[i], &m->P, &m->acts, &dx, &dl, &m->xv[i], B));
            if (need_dfe) LEVI_TRY(levi_copy_cols(ctx, &dfe, F, i * D, &dx, D + hz, 0, B, D, 1));
            if (hz) LEVI_TRY(levi_copy_cols(ctx, &dz, hz, 0, &dx, D + hz, D, B, hz, 1));
        }
    }
    if (hz) LEVI_TRY(levi_task_backward(&m->g, &m->P, &m->acts, &m->last_pixels, &dz, B));
    if (!need_dfe) return LEVI_OK;
    return model_backbone_backward(m, &dfe, B);
}

levi_status levi_model_zero_grad(levi_model *m) {
    LEVI_TRY(levi_params_zero_grad(&m->P));
    if (m->bb_trainable) LEVI_TRY(levi_backbone_zero_grad(m->bb));
    return LEVI_OK;
}

/* Norms on the host (groups on different contexts, or a read-back asked for). */
static levi_status step_host(levi_grad_group *g, int ng, const levi_adamw_cfg *cfg, int t, float grad_clip,
                             float *grad_norm) {
    if (grad_clip > 0 || grad_norm) {
        double sq = 0;
        for (int i = 0; i < ng; i++) {
            float n = 0;
            LEVI_TRY(levi_grad_clip(g[i].ctx, &g[i].grads, g[i].grads.numel, 0.0f, &n));
            sq += (double)n * n;
        }
        double norm = sqrt(sq);
        if (grad_norm) *grad_norm = (float)norm;
        if (!isfinite(norm)) return levi_error(LEVI_ERR_NOT_FINITE, "gradient norm is %g", norm);
        if (grad_clip > 0 && norm > grad_clip) {
            float s = (float)(grad_clip / norm);
            for (int i = 0; i < ng; i++)
                LEVI_TRY(levi_scale_forward(g[i].ctx, &g[i].grads, &g[i].grads, s, g[i].grads.numel));
        }
    }
    for (int i = 0; i < ng; i++)
        LEVI_TRY(levi_adamw_update(g[i].ctx, &g[i].params, &g[i].grads, &g[i].adam_m, &g[i].adam_v,
                                   g[i].params.numel, cfg, t));
    return LEVI_OK;
}

levi_status levi_model_step(levi_model *m, const levi_adamw_cfg *cfg, int t, float grad_clip, float *grad_norm) {
    if (!m->P.trainable)
        return levi_error(LEVI_ERR_INVALID_ARG, "the model was loaded for inference only: no optimizer state");
    if (!cfg) return levi_error(LEVI_ERR_INVALID_ARG, "levi_model_step: cfg is NULL");
    if (t < 1) return levi_error(LEVI_ERR_INVALID_ARG, "levi_model_step: step t=%d must be >= 1", t);
    if (!(cfg->beta1 >= 0 && cfg->beta1 < 1) || !(cfg->beta2 >= 0 && cfg->beta2 < 1) || !(cfg->eps > 0) ||
        !(cfg->lr >= 0) || !(cfg->weight_decay >= 0))
        return levi_error(LEVI_ERR_INVALID_ARG,
                          "AdamW: lr=%g beta1=%g beta2=%g eps=%g weight_decay=%g: expected lr, weight_decay >= 0, "
                          "betas in [0,1), eps > 0",
                          (double)cfg->lr, (double)cfg->beta1, (double)cfg->beta2, (double)cfg->eps,
                          (double)cfg->weight_decay);
    levi_grad_group g[2];
    int ng = levi_model_grad_groups(m, g, 2);
    if (ng > 1 && g[1].ctx != g[0].ctx) return step_host(g, ng, cfg, t, grad_clip, grad_norm);
    LEVI_TRY(model_step_device(m, g, ng, cfg, t, grad_clip));
    if (!grad_norm) return LEVI_OK;
    levi_metrics mt;
    LEVI_TRY(levi_model_metrics_read(m, LEVI_METRICS_TRAIN, &mt));
    *grad_norm = mt.grad_norm;
    if (!isfinite(mt.grad_norm))
        return levi_error(LEVI_ERR_NOT_FINITE, "gradient norm is %g (the update was skipped)", (double)mt.grad_norm);
    return LEVI_OK;
}
