/* Evaluation of a levi_model on a dataset: accuracy, per-class accuracy,
 * confusion matrix and mean loss, added up on the device and read once; and
 * the tap features of a whole dataset. */
#include <stdlib.h>
#include <string.h>

#include "levi/train.h"

static levi_status check_dataset(const levi_model *m, const levi_dataset *ds, const char *what) {
    const levi_model_config *c = levi_model_get_config(m);
    if (ds->num_classes != c->num_classes)
        return levi_error(LEVI_ERR_SHAPE, "%s has %d classes but the model was trained on %d", what, ds->num_classes,
                          c->num_classes);
    const levi_input_spec *in = levi_model_input_spec(m);
    if (ds->kind != in->kind)
        return levi_error(LEVI_ERR_SHAPE, "%s holds %s, the model reads %s", what,
                          ds->kind == LEVI_INPUT_TOKENS ? "texts" : "images",
                          in->kind == LEVI_INPUT_TOKENS ? "texts (token ids)" : "images");
    if (ds->kind == LEVI_INPUT_TOKENS && ds->seq_len != in->seq_len)
        return levi_error(LEVI_ERR_SHAPE, "%s holds texts of %d tokens, the model reads %d", what, ds->seq_len,
                          in->seq_len);
    if (ds->kind == LEVI_INPUT_PIXELS && (ds->channels != c->channels || ds->height != c->height || ds->width != c->width))
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

/* One read of the device's sums and confusion matrix into res. */
static levi_status finish_result(levi_model *m, levi_eval_result *res) {
    int K = res->num_classes;
    levi_metrics mt;
    LEVI_TRY(levi_model_metrics_read(m, LEVI_METRICS_EVAL, &mt));
    LEVI_TRY(levi_model_confusion_read(m, res->confusion));
    for (int k = 0; k < K; k++) {
        long tot = 0;
        for (int j = 0; j < K; j++) tot += res->confusion[(size_t)k * K + j];
        res->n += (int)tot;
        res->correct += res->confusion[(size_t)k * K + k];
        res->class_acc[k] = tot ? (double)res->confusion[(size_t)k * K + k] / tot : -1.0;
    }
    res->acc = res->n ? (double)res->correct / res->n : 0;
    res->loss = mt.n ? mt.loss_sum / mt.n : 0;
    return LEVI_OK;
}

levi_status levi_evaluate_feed(levi_model *m, levi_feed *f, levi_eval_result *res) {
    memset(res, 0, sizeof *res);
    const levi_model_config *c = levi_model_get_config(m);
    int K = c->num_classes;
    res->num_classes = K;
    res->confusion = calloc((size_t)K * K, sizeof *res->confusion);
    res->class_acc = calloc((size_t)K, sizeof *res->class_acc);
    levi_status st = res->confusion && res->class_acc ? LEVI_OK
                                                       : levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    if (st == LEVI_OK) st = levi_model_metrics_reset(m, LEVI_METRICS_EVAL, 1);
    if (st == LEVI_OK) st = levi_model_confusion_reset(m);
    if (st == LEVI_OK) st = levi_feed_epoch(f, 0);
    levi_ctx *ctx = levi_model_ctx(m);
    levi_counters c0, c1;
    levi_counters_get(ctx, &c0);
    long batches = 0;
    while (st == LEVI_OK) {
        levi_batch b;
        st = levi_feed_next(f, &b);
        if (st != LEVI_OK || !b.n) break;
        batches++;
        levi_input in = {b.x, b.mask};
        st = levi_model_forward_input(m, &in, b.feats.buf ? &b.feats : NULL, &b.labels, b.n, NULL, NULL);
        if (st == LEVI_OK) st = levi_model_metrics_accumulate(m, b.n, LEVI_METRICS_EVAL, 1);
        if (st == LEVI_OK) st = levi_model_confusion_accumulate(m, &b.labels, b.n);
    }
    levi_counters_get(ctx, &c1);
    if (st == LEVI_OK && ctx->profile_at_exit && batches) {
        levi_counters d;
        levi_counters_diff(&c0, &c1, &d);
        st = levi_finish(ctx);
        if (st == LEVI_OK) levi_profile_print(ctx, stderr, "evaluation", &d, (double)batches, "batch");
    }
    if (st == LEVI_OK) st = finish_result(m, res);
    if (st != LEVI_OK) levi_eval_result_free(res);
    return st;
}

levi_status levi_evaluate(levi_model *m, const levi_dataset *ds, levi_eval_result *res) {
    return levi_evaluate_features(m, ds, NULL, res);
}

levi_status levi_evaluate_features(levi_model *m, const levi_dataset *ds, const float *feats, levi_eval_result *res) {
    memset(res, 0, sizeof *res);
    LEVI_TRY(check_dataset(m, ds, "the data set"));
    /* the backbone on its own device: the feed's pipeline runs its forward of the next batch while the
     * head computes this one */
    levi_feed *f = NULL;
    int MB = levi_model_max_batch(m);
    if (feats) LEVI_TRY(levi_feed_create_with_features(&f, m, ds, MB, feats));
    else LEVI_TRY(levi_feed_create(&f, m, ds, MB, 0, 0, 0));
    levi_status st = levi_evaluate_feed(m, f, res);
    levi_feed_free(f);
    return st;
}

levi_status levi_compute_features(levi_model *m, const levi_dataset *ds, float **out) {
    *out = NULL;
    int F = levi_model_feature_dim(m);
    if (!F) return levi_error(LEVI_ERR_INVALID_ARG, "method %s has no backbone features",
                              levi_method_name(levi_model_get_config(m)->method));
    float *cache = malloc((size_t)ds->n * F * sizeof *cache);
    if (!cache)
        return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory for a feature cache of %d x %d floats", ds->n, F);
    levi_feed *f = NULL;
    levi_status st = levi_feed_create(&f, m, ds, levi_model_max_batch(m), 0, 0, 1);
    if (st == LEVI_OK) st = levi_feed_read_cache(f, cache);
    levi_feed_free(f);
    if (st != LEVI_OK) {
        free(cache);
        return st;
    }
    *out = cache;
    return LEVI_OK;
}
