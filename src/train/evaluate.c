/* Evaluation of a levi_model on a dataset: accuracy, per-class accuracy,
 * confusion matrix and mean cross-entropy. */
#include <stdlib.h>
#include <string.h>

#include "levi/parallel.h"
#include "levi/train.h"

static levi_status check_dataset(const levi_model *m, const levi_dataset *ds, const char *what) {
    const levi_model_config *c = levi_model_get_config(m);
    if (ds->num_classes != c->num_classes)
        return levi_error(LEVI_ERR_SHAPE, "%s has %d classes but the model was trained on %d", what, ds->num_classes,
                          c->num_classes);
    if (ds->channels != c->channels || ds->height != c->height || ds->width != c->width)
        return levi_error(LEVI_ERR_SHAPE, "%s images are (%d,%d,%d), the model expects (%d,%d,%d)", what,
                          ds->channels, ds->height, ds->width, c->channels, c->height, c->width);
    if (ds->n < 1) return levi_error(LEVI_ERR_INVALID_ARG, "%s is empty", what);
    return LEVI_OK;
}

levi_status levi_train_check_dataset(const levi_model *m, const levi_dataset *ds, const char *what) {
    return check_dataset(m, ds, what);
}

void levi_eval_result_free(levi_eval_result *r) {
    free(r->confusion);
    free(r->class_acc);
    memset(r, 0, sizeof *r);
}

levi_status levi_evaluate(levi_model *m, const levi_dataset *ds, levi_eval_result *res) {
    return levi_evaluate_features(m, ds, NULL, res);
}

levi_status levi_evaluate_features(levi_model *m, const levi_dataset *ds, const float *feats, levi_eval_result *res) {
    memset(res, 0, sizeof *res);
    LEVI_TRY(check_dataset(m, ds, "the data set"));
    const levi_model_config *c = levi_model_get_config(m);
    int K = c->num_classes, MB = levi_model_max_batch(m);
    size_t chw = (size_t)c->channels * c->height * c->width;
    res->num_classes = K;
    res->confusion = calloc((size_t)K * K, sizeof *res->confusion);
    res->class_acc = calloc((size_t)K, sizeof *res->class_acc);
    float *px = malloc((size_t)MB * chw * sizeof *px), *lab = malloc((size_t)MB * sizeof *lab);
    float *lg = malloc((size_t)MB * K * sizeof *lg);
    levi_status st = LEVI_OK;
    if (!res->confusion || !res->class_acc || !px || !lab || !lg)
        st = levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory evaluating %d images", ds->n);
    levi_loader l;
    if (st == LEVI_OK) st = levi_loader_init(&l, ds, MB, 0, 0);
    double loss_sum = 0;
    int b, done = 0, F = levi_model_feature_dim(m);
    if (st == LEVI_OK && feats && (!F || !levi_model_features_cacheable(m)))
        st = levi_error(LEVI_ERR_INVALID_ARG, "precomputed features for a model without frozen backbone features");
    /* The backbone on its own device: its forward of the next batch runs
     * while the head computes this one. */
    levi_feature_pipe *pipe = NULL;
    if (st == LEVI_OK && !feats && F && levi_model_features_cacheable(m) &&
        levi_model_backbone_ctx(m) != levi_model_ctx(m))
        st = levi_feature_pipe_create(&pipe, m, &l);
    while (st == LEVI_OK) {
        if (pipe) st = levi_feature_pipe_next(pipe, px, lab, &b);
        else b = levi_loader_next(&l, px, lab, c->image_mean, c->image_std);
        if (st != LEVI_OK || b <= 0) break;
        levi_tensor tp = levi_model_input_pixels(m, b), tl = levi_model_input_labels(m, b);
        float loss;
        int correct;
        levi_tensor tf = levi_model_input_feats(m, b);
        if ((!feats && !pipe) || c->task.kind != LEVI_TASK_NONE) st = levi_tensor_write(&tp, px);
        if (st == LEVI_OK) st = levi_tensor_write(&tl, lab);
        if (st == LEVI_OK && feats) st = levi_tensor_write(&tf, feats + (size_t)done * F);
        if (st == LEVI_OK) st = levi_model_forward(m, &tp, feats || pipe ? &tf : NULL, &tl, b, &loss, &correct);
        done += b;
        levi_tensor lt = levi_model_logits(m, b);
        if (st == LEVI_OK) st = levi_tensor_read(&lt, lg);
        if (st != LEVI_OK) break;
        loss_sum += (double)loss * b;
        for (int i = 0; i < b; i++) {
            const float *row = lg + (size_t)i * K;
            int pred = 0;
            for (int k = 1; k < K; k++)
                if (row[k] > row[pred]) pred = k;
            int y = (int)lab[i];
            res->confusion[(size_t)y * K + pred]++;
            res->correct += pred == y;
            res->n++;
        }
    }
    levi_feature_pipe_free(pipe);
    if (st == LEVI_OK) levi_loader_free(&l);
    free(px);
    free(lab);
    free(lg);
    if (st != LEVI_OK) {
        levi_eval_result_free(res);
        return st;
    }
    res->acc = res->n ? (double)res->correct / res->n : 0;
    res->loss = res->n ? loss_sum / res->n : 0;
    for (int k = 0; k < K; k++) {
        long tot = 0;
        for (int j = 0; j < K; j++) tot += res->confusion[(size_t)k * K + j];
        res->class_acc[k] = tot ? (double)res->confusion[(size_t)k * K + k] / tot : -1.0;
    }
    return LEVI_OK;
}
