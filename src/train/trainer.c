/* The training loop: seeded epochs, AdamW, JSON-lines metrics, a checkpoint
 * per epoch, exact resume, a stop on a non-finite loss, and the frozen-
 * backbone feature cache (see levi/train.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "levi/parallel.h"
#include "levi/safetensors.h"
#include "levi/train.h"

void levi_train_config_default(levi_train_config *c) {
    memset(c, 0, sizeof *c);
    c->epochs = 5;
    c->batch = 64;
    c->lr = 1e-3f;
    c->wd = 0.01f;
    c->grad_clip = 1.0f;
    c->cache_features = -1;
    c->log_every = 1;
}

float levi_train_lr(const levi_train_config *c, long t, long total) {
    double lr = c->lr;
    if (c->warmup > 0 && t < c->warmup) lr *= (double)t / c->warmup;
    if (c->cosine && total > c->warmup) {
        double p = (double)(t - c->warmup) / (double)(total - c->warmup);
        if (p > 0) lr *= 0.5 * (1.0 + cos(3.14159265358979323846 * (p > 1 ? 1 : p)));
    }
    return (float)lr;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Tap features of every image, in dataset order: (n, F) on the host. */
levi_status levi_compute_features(levi_model *m, const levi_dataset *ds, float **out) {
    const levi_model_config *c = levi_model_get_config(m);
    int F = levi_model_feature_dim(m), MB = levi_model_max_batch(m);
    size_t chw = (size_t)c->channels * c->height * c->width;
    float *cache = malloc((size_t)ds->n * F * sizeof *cache);
    float *px = malloc((size_t)MB * chw * sizeof *px), *lab = malloc((size_t)MB * sizeof *lab);
    levi_status st = (cache && px && lab) ? LEVI_OK
                                          : levi_error(LEVI_ERR_HOST_MEMORY,
                                                       "out of host memory for a feature cache of %d x %d floats",
                                                       ds->n, F);
    levi_loader l;
    if (st == LEVI_OK) st = levi_loader_init(&l, ds, MB, 0, 0);
    int b, done = 0;
    while (st == LEVI_OK && (b = levi_loader_next(&l, px, lab, c->image_mean, c->image_std)) > 0) {
        levi_tensor tp = levi_model_input_pixels(m, b), tf = levi_model_input_feats(m, b);
        st = levi_tensor_write(&tp, px);
        if (st == LEVI_OK) st = levi_model_features(m, &tp, &tf, b);
        if (st == LEVI_OK) st = levi_tensor_read(&tf, cache + (size_t)done * F);
        done += b;
    }
    if (st == LEVI_OK) levi_loader_free(&l);
    free(px);
    free(lab);
    if (st != LEVI_OK) {
        free(cache);
        return st;
    }
    *out = cache;
    return LEVI_OK;
}

static levi_status resume(levi_model *m, const char *path, int *epoch, long *step) {
    levi_safetensors st;
    LEVI_TRY(levi_safetensors_read(path, &st));
    levi_status rc = LEVI_OK;
    const char *ts = levi_safetensors_meta(&st, "train_state");
    const char *method = levi_safetensors_meta(&st, "method");
    const char *want = levi_method_name(levi_model_get_config(m)->method);
    long long e = -1, s = -1;
    if (!ts || sscanf(ts, "{\"epoch\":%lld,\"step\":%lld", &e, &s) != 2 || e < 0 || s < 0)
        rc = levi_error(LEVI_ERR_FORMAT, "%s: not a training checkpoint (__metadata__ 'train_state' is %s)", path,
                        ts ? "malformed" : "missing");
    else if (!method || strcmp(method, want))
        rc = levi_error(LEVI_ERR_INVALID_ARG, "%s: checkpoint of method '%s' cannot resume method '%s'", path,
                        method ? method : "?", want);
    if (rc == LEVI_OK) rc = levi_model_read_weights(m, &st, path, 1);
    levi_safetensors_free(&st);
    if (rc == LEVI_OK) {
        *epoch = (int)e;
        *step = (long)s;
    }
    return rc;
}

static levi_status checkpoint(levi_model *m, const levi_train_config *cfg, int epoch, long step) {
    char state[128];
    snprintf(state, sizeof state, "{\"epoch\":%d,\"step\":%ld,\"seed\":%llu}", epoch, step, cfg->seed);
    int n = cfg->n_extra_meta;
    const char **kv = malloc((size_t)(2 * n + 2) * sizeof *kv);
    if (!kv) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    for (int i = 0; i < 2 * n; i++) kv[i] = cfg->extra_meta_kv[i];
    kv[2 * n] = "train_state";
    kv[2 * n + 1] = state;
    levi_status st = levi_model_save(m, cfg->checkpoint_path, kv, n + 1, 1);
    free(kv);
    return st;
}

/* A bar redrawn in place (progress 1) or about four plain lines per epoch
 * (progress 2); *mark counts the plain lines printed in this epoch. */
static void progress(const levi_train_config *cfg, int *mark, int epoch, int done, int total, double loss,
                     double acc, double sps, int last) {
    if (cfg->progress == 1) {
        int w = 24, f = total ? (int)((double)done / total * w) : w;
        char bar[32];
        for (int i = 0; i < w; i++) bar[i] = i < f ? '#' : '.';
        bar[w] = '\0';
        fprintf(stderr, "\repoch %d/%d [%s] %d/%d loss %.4f acc %.3f %.0f img/s%s", epoch, cfg->epochs, bar, done,
                total, loss, acc, sps, last ? "\n" : "");
        fflush(stderr);
    } else if (cfg->progress == 2 && !last) {
        if (done < total && (long)done * 4 >= (long)(*mark + 1) * total) {
            fprintf(stderr, "epoch %d/%d: %d/%d images, loss %.4f, acc %.3f, %.0f img/s\n", epoch, cfg->epochs, done,
                    total, loss, acc, sps);
            (*mark)++;
        }
    } else if (cfg->progress == 2 && last) {
        fprintf(stderr, "epoch %d/%d: %d images, loss %.4f, acc %.3f, %.0f img/s\n", epoch, cfg->epochs, total, loss,
                acc, sps);
    }
}

/* The loader's next batch, through the backbone/head pipeline when there is one. */
static int next_batch(levi_feature_pipe *pipe, levi_loader *l, float *px, float *lab, const levi_model_config *c,
                      levi_status *st) {
    if (!pipe) return levi_loader_next(l, px, lab, c->image_mean, c->image_std);
    int b = 0;
    *st = levi_feature_pipe_next(pipe, px, lab, &b);
    return *st == LEVI_OK ? b : 0;
}

levi_status levi_train(levi_model *m, const levi_dataset *train, const levi_train_config *cfg,
                       levi_train_result *res) {
    memset(res, 0, sizeof *res);
    res->val_acc = -1;
    const levi_model_config *c = levi_model_get_config(m);
    LEVI_TRY(levi_train_check_dataset(m, train, "the training set"));
    if (cfg->val) LEVI_TRY(levi_train_check_dataset(m, cfg->val, "the validation set"));
    if (cfg->batch < 1 || cfg->batch > levi_model_max_batch(m))
        return levi_error(LEVI_ERR_INVALID_ARG, "batch %d is not in 1..%d (the model's max batch)", cfg->batch,
                          levi_model_max_batch(m));
    if (cfg->epochs < 1) return levi_error(LEVI_ERR_INVALID_ARG, "epochs %d, expected >= 1", cfg->epochs);
    int cacheable = levi_model_features_cacheable(m);
    if (cfg->cache_features == 1 && !cacheable)
        return levi_error(LEVI_ERR_INVALID_ARG, "--cache-features on: method %s has no frozen backbone features",
                          levi_method_name(c->method));
    int use_cache = cacheable && cfg->cache_features != 0;
    int F = levi_model_feature_dim(m), K = c->num_classes;
    size_t chw = (size_t)c->channels * c->height * c->width;
    int start_epoch = 0;
    long step = 0;
    if (cfg->resume_path) LEVI_TRY(resume(m, cfg->resume_path, &start_epoch, &step));
    if (start_epoch >= cfg->epochs)
        return levi_error(LEVI_ERR_INVALID_ARG, "%s already finished epoch %d of %d: nothing to resume",
                          cfg->resume_path, start_epoch, cfg->epochs);
    double t0 = now_s();
    float *cache = NULL, *val_cache = NULL;
    if (use_cache) {
        if (cfg->progress)
            fprintf(stderr, "feature cache: computing the backbone's tap features of %d images once\n",
                    train->n + (cfg->val ? cfg->val->n : 0));
        LEVI_TRY(levi_compute_features(m, train, &cache));
        if (cfg->val) {
            levi_status vs = levi_compute_features(m, cfg->val, &val_cache);
            if (vs != LEVI_OK) {
                free(cache);
                return vs;
            }
        }
        res->cache_build_s = now_s() - t0;
        res->cached_features = 1;
        if (cfg->progress) fprintf(stderr, "feature cache: ready in %.1f s\n", res->cache_build_s);
    }
    float *px = malloc((size_t)cfg->batch * chw * sizeof *px), *lab = malloc((size_t)cfg->batch * sizeof *lab);
    float *fb = F ? malloc((size_t)cfg->batch * F * sizeof *fb) : NULL;
    FILE *log = NULL;
    levi_status st = (px && lab && (!F || fb)) ? LEVI_OK : levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    if (st == LEVI_OK && cfg->log_path && !(log = fopen(cfg->log_path, cfg->resume_path ? "a" : "w")))
        st = levi_error(LEVI_ERR_IO, "cannot open the metrics log %s for writing", cfg->log_path);
    levi_loader l;
    int have_loader = 0;
    if (st == LEVI_OK) st = levi_loader_init(&l, train, cfg->batch, cfg->seed, 1);
    have_loader = st == LEVI_OK;
    /* Backbone on its own device, features not cached: a two-deep pipeline. */
    levi_feature_pipe *pipe = NULL;
    if (st == LEVI_OK && !use_cache && cacheable && !cfg->parallel && levi_model_backbone_ctx(m) != levi_model_ctx(m))
        st = levi_feature_pipe_create(&pipe, m, &l);
    levi_adamw_cfg opt = {cfg->lr, 0.9f, 0.999f, 1e-8f, cfg->wd};
    long total_steps = (long)cfg->epochs * ((train->n + cfg->batch - 1) / cfg->batch);
    long samples = 0;
    (void)K;
    for (int epoch = start_epoch; st == LEVI_OK && epoch < cfg->epochs; epoch++) {
        double te = now_s(), loss_sum = 0;
        long correct_sum = 0, seen = 0;
        int mark = 0;
        levi_loader_epoch(&l, epoch);
        int b;
        while (st == LEVI_OK && (b = next_batch(pipe, &l, px, lab, c, &st)) > 0) {
            if (cfg->stop && *cfg->stop) {
                if (cfg->progress == 1) fputc('\n', stderr);
                st = levi_error(LEVI_ERR_INTERRUPTED, "interrupted at step %ld (epoch %d)%s%s", step + 1, epoch + 1,
                                cfg->checkpoint_path && epoch > start_epoch ? "; resume with --resume " : "",
                                cfg->checkpoint_path && epoch > start_epoch ? cfg->checkpoint_path : "");
                break;
            }
            if (use_cache)
                for (int i = 0; i < b; i++)
                    memcpy(fb + (size_t)i * F, cache + (size_t)l.order[l.pos - b + i] * F, (size_t)F * sizeof *fb);
            float loss = 0, gnorm = 0;
            int correct = 0;
            opt.lr = levi_train_lr(cfg, step + 1, total_steps);
            if (cfg->parallel) {
                st = levi_parallel_step(cfg->parallel, px, lab, use_cache ? fb : NULL, b, &opt, (int)(step + 1),
                                        cfg->grad_clip, &loss, &correct, &gnorm);
                if (st == LEVI_ERR_NOT_FINITE && !isfinite(loss))
                    st = levi_error(LEVI_ERR_NOT_FINITE, "the loss is %g at step %ld (epoch %d): training stopped",
                                    (double)loss, step + 1, epoch + 1);
            } else {
                levi_tensor tp = levi_model_input_pixels(m, b), tl = levi_model_input_labels(m, b);
                levi_tensor tf = levi_model_input_feats(m, b);
                if ((!use_cache && !pipe) || c->task.kind != LEVI_TASK_NONE) st = levi_tensor_write(&tp, px);
                if (st == LEVI_OK) st = levi_tensor_write(&tl, lab);
                if (st == LEVI_OK && use_cache) st = levi_tensor_write(&tf, fb);
                if (st == LEVI_OK) st = levi_model_zero_grad(m);
                if (st == LEVI_OK)
                    st = levi_model_forward(m, &tp, use_cache || pipe ? &tf : NULL, &tl, b, &loss, &correct);
                if (st == LEVI_OK && !isfinite(loss))
                    st = levi_error(LEVI_ERR_NOT_FINITE, "the loss is %g at step %ld (epoch %d): training stopped",
                                    (double)loss, step + 1, epoch + 1);
                if (st == LEVI_OK) st = levi_model_backward(m, b);
                if (st != LEVI_OK) break;
                st = levi_model_step(m, &opt, (int)(step + 1), cfg->grad_clip, &gnorm);
            }
            if ((st == LEVI_ERR_NOT_FINITE && isfinite(loss)) || (st == LEVI_OK && !isfinite(gnorm)))
                st = levi_error(LEVI_ERR_NOT_FINITE,
                                "the gradient norm is not finite at step %ld (epoch %d, loss %g): training stopped",
                                step + 1, epoch + 1, (double)loss);
            if (st != LEVI_OK) break;
            step++;
            samples += b;
            seen += b;
            loss_sum += (double)loss * b;
            correct_sum += correct;
            double el = now_s() - t0, sps = samples / (el > 0 ? el : 1e-9);
            if (log && cfg->log_every > 0 && step % cfg->log_every == 0)
                fprintf(log,
                        "{\"type\":\"step\",\"step\":%ld,\"epoch\":%d,\"loss\":%.6g,\"acc\":%.6g,\"lr\":%g,"
                        "\"samples_per_s\":%.4g,\"elapsed\":%.4g}\n",
                        step, epoch + 1, (double)loss, (double)correct / b, (double)opt.lr, sps, el);
            progress(cfg, &mark, epoch + 1, (int)seen, train->n, loss_sum / seen, (double)correct_sum / seen, sps, 0);
        }
        if (st != LEVI_OK) break;
        double epoch_s = now_s() - te;
        if (epoch == start_epoch) res->first_epoch_s = epoch_s;
        res->last_epoch_s = epoch_s;
        res->loss = loss_sum / seen;
        res->acc = (double)correct_sum / seen;
        res->epochs_done = epoch + 1;
        res->steps = step;
        double el = now_s() - t0, sps = samples / (el > 0 ? el : 1e-9);
        progress(cfg, &mark, epoch + 1, (int)seen, train->n, res->loss, res->acc, sps, 1);
        if (cfg->val) {
            levi_eval_result ev;
            st = levi_evaluate_features(m, cfg->val, val_cache, &ev);
            if (st != LEVI_OK) break;
            res->val_acc = ev.acc;
            res->val_loss = ev.loss;
            levi_eval_result_free(&ev);
            if (cfg->progress) fprintf(stderr, "epoch %d/%d: validation accuracy %.4f\n", epoch + 1, cfg->epochs, res->val_acc);
        }
        if (log) {
            fprintf(log,
                    "{\"type\":\"epoch\",\"step\":%ld,\"epoch\":%d,\"loss\":%.6g,\"acc\":%.6g,\"lr\":%g,"
                    "\"samples_per_s\":%.4g,\"elapsed\":%.4g,\"epoch_s\":%.4g,",
                    step, epoch + 1, res->loss, res->acc, (double)opt.lr, sps, el, epoch_s);
            if (cfg->val) fprintf(log, "\"val_acc\":%.6g,\"val_loss\":%.6g,", res->val_acc, res->val_loss);
            fprintf(log, "\"cached_features\":%d}\n", use_cache);
            fflush(log);
        }
        if (cfg->checkpoint_path) st = checkpoint(m, cfg, epoch + 1, step);
        if (st == LEVI_OK && cfg->on_epoch) cfg->on_epoch(cfg->on_epoch_user, epoch + 1, res);
    }
    double el = now_s() - t0;
    res->seconds = el;
    res->samples_per_s = samples / (el > 0 ? el : 1e-9);
    if (log && fclose(log) != 0 && st == LEVI_OK)
        st = levi_error(LEVI_ERR_IO, "writing the metrics log %s failed", cfg->log_path);
    levi_feature_pipe_free(pipe);
    if (have_loader) levi_loader_free(&l);
    free(px);
    free(lab);
    free(fb);
    free(cache);
    free(val_cache);
    return st;
}
