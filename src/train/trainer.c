/* The training loop: seeded epochs, AdamW, JSON-lines metrics, a checkpoint
 * per epoch, exact resume, a stop on a non-finite loss, and the frozen-
 * backbone feature cache (see levi/train.h). Steps only enqueue work; the
 * host reads the device's metrics when a log line, a progress update or the
 * end of an epoch needs them. */
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
                     double acc, double sps, double wait_pct, int last) {
    if (cfg->progress == 1) {
        int w = 24, f = total ? (int)((double)done / total * w) : w;
        char bar[32];
        for (int i = 0; i < w; i++) bar[i] = i < f ? '#' : '.';
        bar[w] = '\0';
        fprintf(stderr, "\repoch %d/%d [%s] %d/%d loss %.4f acc %.3f %.0f img/s, data wait %.0f%%%s", epoch,
                cfg->epochs, bar, done, total, loss, acc, sps, wait_pct, last ? "\n" : "");
        fflush(stderr);
    } else if (cfg->progress == 2 && !last) {
        fprintf(stderr, "epoch %d/%d: %d/%d images, loss %.4f, acc %.3f, %.0f img/s\n", epoch, cfg->epochs, done,
                total, loss, acc, sps);
        (*mark)++;
    } else if (cfg->progress == 2 && last) {
        fprintf(stderr, "epoch %d/%d: %d images, loss %.4f, acc %.3f, %.0f img/s\n", epoch, cfg->epochs, total, loss,
                acc, sps);
    }
}

levi_status levi_train_step(levi_model *m, const levi_batch *b, const levi_adamw_cfg *opt, long step,
                            float grad_clip) {
    if (step < 1 || step > 0x7fffffffL) return levi_error(LEVI_ERR_INVALID_ARG, "step %ld is out of range", step);
    LEVI_TRY(levi_model_zero_grad(m));
    LEVI_TRY(levi_model_forward(m, &b->x, b->feats.buf ? &b->feats : NULL, &b->labels, b->n, NULL, NULL));
    LEVI_TRY(levi_model_metrics_accumulate(m, b->n, LEVI_METRICS_TRAIN, step));
    LEVI_TRY(levi_model_backward(m, b->n));
    return levi_model_step(m, opt, (int)step, grad_clip, NULL);
}

/* The first non-finite loss or gradient norm the device recorded, as the
 * error training stops with; steps count from 1 over epochs of spe steps. */
static levi_status check_finite(const levi_metrics *mt, long spe) {
    long sl = mt->bad_loss_step, sg = mt->bad_grad_step;
    if (sl && (!sg || sl <= sg))
        return levi_error(LEVI_ERR_NOT_FINITE, "the loss is %g at step %ld (epoch %ld): training stopped",
                          (double)mt->bad_loss, sl, (sl - 1) / spe + 1);
    if (sg)
        return levi_error(LEVI_ERR_NOT_FINITE,
                          "the gradient norm is not finite at step %ld (epoch %ld, loss %g): training stopped", sg,
                          (sg - 1) / spe + 1, (double)mt->bad_grad_loss);
    return LEVI_OK;
}

/* The host-side source of batches for the paths whose step takes host
 * buffers: data parallel over devices and ranks (levi_parallel_step), and a
 * backbone on its own device (levi_feature_pipe hands its features to the
 * head). Their loss and accuracy come back every step. */
typedef struct host_src {
    levi_loader l;
    int have_loader;
    levi_feature_pipe *pipe;
    float *px, *lab, *fb, *cache; /* cache: (n, F) tap features in dataset order, or NULL */
    int F;
} host_src;

static void host_src_free(host_src *h) {
    levi_feature_pipe_free(h->pipe);
    if (h->have_loader) levi_loader_free(&h->l);
    free(h->px);
    free(h->lab);
    free(h->fb);
    free(h->cache);
    free(h);
}

static levi_status host_src_create(host_src **out, levi_model *m, const levi_dataset *ds,
                                   const levi_train_config *cfg, int use_cache) {
    *out = NULL;
    host_src *h = calloc(1, sizeof *h);
    if (!h) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    size_t xn = levi_input_numel(levi_model_input_spec(m));
    h->F = levi_model_feature_dim(m);
    h->px = malloc((size_t)cfg->batch * xn * sizeof *h->px);
    h->lab = malloc((size_t)cfg->batch * sizeof *h->lab);
    h->fb = h->F ? malloc((size_t)cfg->batch * h->F * sizeof *h->fb) : NULL;
    levi_status st = h->px && h->lab && (!h->F || h->fb) ? LEVI_OK : levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    if (st == LEVI_OK && use_cache)
        st = cfg->parallel ? levi_parallel_compute_features(cfg->parallel, ds, &h->cache)
                           : levi_compute_features(m, ds, &h->cache);
    if (st == LEVI_OK) st = levi_loader_init(&h->l, ds, cfg->batch, cfg->seed, 1);
    h->have_loader = st == LEVI_OK;
    /* backbone on its own device, features not cached: a two-deep pipeline */
    if (st == LEVI_OK && !use_cache && !cfg->parallel && levi_model_features_cacheable(m) &&
        levi_model_backbone_ctx(m) != levi_model_ctx(m))
        st = levi_feature_pipe_create(&h->pipe, m, &h->l);
    if (st != LEVI_OK) {
        host_src_free(h);
        return st;
    }
    *out = h;
    return LEVI_OK;
}

/* One step of the next host batch; *b = 0 at the epoch's end. Updates mt as
 * the device's metrics would (non-finite values stop at once). */
static levi_status host_step(host_src *h, levi_model *m, const levi_train_config *cfg, const levi_adamw_cfg *opt,
                             long t, long spe, levi_metrics *mt, int *nb) {
    const levi_model_config *c = levi_model_get_config(m);
    int b = 0;
    if (h->pipe) LEVI_TRY(levi_feature_pipe_next(h->pipe, h->px, h->lab, &b));
    else b = levi_loader_next(&h->l, h->px, h->lab);
    *nb = b;
    if (b <= 0) return LEVI_OK;
    if (h->cache)
        for (int i = 0; i < b; i++)
            memcpy(h->fb + (size_t)i * h->F, h->cache + (size_t)h->l.order[h->l.pos - b + i] * h->F,
                   (size_t)h->F * sizeof *h->fb);
    float loss = 0, gnorm = 0;
    int correct = 0;
    levi_status st;
    if (cfg->parallel) {
        st = levi_parallel_step(cfg->parallel, h->px, h->lab, h->cache ? h->fb : NULL, b, opt, (int)t,
                                cfg->grad_clip, &loss, &correct, &gnorm);
    } else {
        levi_tensor tp = levi_model_input_pixels(m, b), tl = levi_model_input_labels(m, b);
        levi_tensor tf = levi_model_input_feats(m, b);
        const int have_feats = h->cache || h->pipe; /* else the backbone runs in the forward */
        st = LEVI_OK;
        if (c->task.kind != LEVI_TASK_NONE || !have_feats) st = levi_tensor_write(&tp, h->px);
        if (st == LEVI_OK) st = levi_tensor_write(&tl, h->lab);
        if (st == LEVI_OK && h->cache) st = levi_tensor_write(&tf, h->fb);
        if (st == LEVI_OK) st = levi_model_zero_grad(m);
        if (st == LEVI_OK) st = levi_model_forward(m, &tp, have_feats ? &tf : NULL, &tl, b, &loss, &correct);
        if (st == LEVI_OK && isfinite(loss)) st = levi_model_backward(m, b);
        if (st == LEVI_OK && isfinite(loss)) st = levi_model_step(m, opt, (int)t, cfg->grad_clip, &gnorm);
    }
    if (!isfinite(loss))
        return levi_error(LEVI_ERR_NOT_FINITE, "the loss is %g at step %ld (epoch %ld): training stopped",
                          (double)loss, t, (t - 1) / spe + 1);
    if (st == LEVI_ERR_NOT_FINITE || (st == LEVI_OK && !isfinite(gnorm)))
        return levi_error(LEVI_ERR_NOT_FINITE,
                          "the gradient norm is not finite at step %ld (epoch %ld, loss %g): training stopped", t,
                          (t - 1) / spe + 1, (double)loss);
    LEVI_TRY(st);
    mt->loss_sum += (double)loss * b;
    mt->correct += correct;
    mt->n += b;
    mt->last_loss = loss;
    mt->last_correct = correct;
    return LEVI_OK;
}

/* The training loader's counters (waits inside levi_loader_next, worker time). */
static void loader_stats(levi_feed *feed, host_src *hs, levi_loader_stats *out) {
    if (feed) levi_feed_loader_stats(feed, out);
    else levi_loader_stats_get(&hs->l, out);
}

/* LEVI_PROFILE: counters over the steady state of the last epoch (its third
 * step to its last); steps -1 while measuring. */
typedef struct steady {
    levi_counters a, b;
    long steps;
    int epoch;
} steady;

levi_status levi_train(levi_model *m, const levi_dataset *train, const levi_train_config *cfg,
                       levi_train_result *res) {
    memset(res, 0, sizeof *res);
    res->val_acc = -1;
    const levi_model_config *c = levi_model_get_config(m);
    levi_ctx *ctx = levi_model_ctx(m);
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
    if (cfg->cache_features == 1 && train->augment)
        return levi_error(LEVI_ERR_INVALID_ARG,
                          "--cache-features on: augmented images change the backbone's features every epoch");
    int use_cache = cacheable && cfg->cache_features != 0 && !train->augment;
    int start_epoch = 0;
    long step = 0;
    if (cfg->resume_path) LEVI_TRY(resume(m, cfg->resume_path, &start_epoch, &step));
    if (start_epoch >= cfg->epochs)
        return levi_error(LEVI_ERR_INVALID_ARG, "%s already finished epoch %d of %d: nothing to resume",
                          cfg->resume_path, start_epoch, cfg->epochs);
    const long spe = (train->n + cfg->batch - 1) / cfg->batch;
    double t0 = now_s();
    if (use_cache && cfg->progress)
        fprintf(stderr, "feature cache: computing the backbone's tap features of %d images once\n",
                train->n + (cfg->val ? cfg->val->n : 0));
    /* data parallel, or the backbone on its own device: batches from the host */
    const int apart = levi_model_backbone_ctx(m) && levi_model_backbone_ctx(m) != ctx;
    levi_feed *feed = NULL, *vfeed = NULL;
    host_src *hs = NULL;
    levi_status st = LEVI_OK;
    if (cfg->parallel || apart) st = host_src_create(&hs, m, train, cfg, use_cache);
    else st = levi_feed_create(&feed, m, train, cfg->batch, 1, cfg->seed, use_cache);
    /* validation: the features stay cached on the device across epochs */
    if (st == LEVI_OK && cfg->val && (use_cache || !apart))
        st = levi_feed_create(&vfeed, m, cfg->val, levi_model_max_batch(m), 0, 0, use_cache);
    if (st == LEVI_OK && use_cache) {
        int resident = 0;
        if (feed) levi_feed_cached(feed, &resident);
        res->cache_build_s = now_s() - t0;
        res->cached_features = 1;
        if (cfg->progress)
            fprintf(stderr, "feature cache: ready in %.1f s (%s)\n", res->cache_build_s,
                    resident ? "on the device" : "on the host, uploaded in chunks");
    }
    FILE *log = NULL;
    if (st == LEVI_OK && cfg->log_path && !(log = fopen(cfg->log_path, cfg->resume_path ? "a" : "w")))
        st = levi_error(LEVI_ERR_IO, "cannot open the metrics log %s for writing", cfg->log_path);
    if (st == LEVI_OK) st = levi_model_metrics_reset(m, LEVI_METRICS_TRAIN, 1);
    levi_adamw_cfg opt = {cfg->lr, 0.9f, 0.999f, 1e-8f, cfg->wd};
    long total_steps = (long)cfg->epochs * spe;
    long samples = 0;
    steady prof = {0};
    for (int epoch = start_epoch; st == LEVI_OK && epoch < cfg->epochs; epoch++) {
        double te = now_s(), last_read = te;
        long seen = 0, in_epoch = 0;
        int mark = 0;
        levi_metrics mt;
        memset(&mt, 0, sizeof mt);
        st = levi_model_metrics_reset(m, LEVI_METRICS_TRAIN, 0);
        if (st == LEVI_OK && feed) st = levi_feed_epoch(feed, epoch);
        if (st == LEVI_OK && hs) levi_loader_epoch(&hs->l, epoch);
        levi_loader_stats ls0;
        loader_stats(feed, hs, &ls0);
        while (st == LEVI_OK) {
            if (cfg->stop && *cfg->stop) {
                if (cfg->progress == 1) fputc('\n', stderr);
                st = levi_error(LEVI_ERR_INTERRUPTED, "interrupted at step %ld (epoch %d)%s%s", step + 1, epoch + 1,
                                cfg->checkpoint_path && epoch > start_epoch ? "; resume with --resume " : "",
                                cfg->checkpoint_path && epoch > start_epoch ? cfg->checkpoint_path : "");
                break;
            }
            levi_batch b;
            opt.lr = levi_train_lr(cfg, step + 1, total_steps);
            if (hs) {
                st = host_step(hs, m, cfg, &opt, step + 1, spe, &mt, &b.n);
            } else {
                st = levi_feed_next(feed, &b);
                if (st == LEVI_OK && b.n) st = levi_train_step(m, &b, &opt, step + 1, cfg->grad_clip);
            }
            if (st != LEVI_OK || !b.n) break;
            step++;
            in_epoch++;
            samples += b.n;
            seen += b.n;
            if (in_epoch == 2 && epoch == cfg->epochs - 1 && ctx->profile_at_exit) {
                /* LEVI_PROFILE: the last epoch's steady state, device times included (the finish only then) */
                if (ctx->profiling && st == LEVI_OK) st = levi_finish(ctx);
                levi_profile_reset_times(ctx);
                levi_counters_get(ctx, &prof.a);
                prof.epoch = epoch;
                prof.steps = -1;
            }
            /* a read when a step line or a progress update is due: never otherwise */
            int log_due = log && cfg->log_every > 0 && step % cfg->log_every == 0;
            int prog_due = (cfg->progress == 1 && now_s() - last_read >= 0.5) ||
                           (cfg->progress == 2 && seen < train->n && (long)seen * 4 >= (long)(mark + 1) * train->n);
            if (!log_due && !prog_due) continue;
            if (!hs) st = levi_model_metrics_read(m, LEVI_METRICS_TRAIN, &mt);
            if (st == LEVI_OK) st = check_finite(&mt, spe);
            if (st != LEVI_OK) break;
            last_read = now_s();
            double el = last_read - t0, sps = samples / (el > 0 ? el : 1e-9);
            if (log_due)
                fprintf(log,
                        "{\"type\":\"step\",\"step\":%ld,\"epoch\":%d,\"loss\":%.6g,\"acc\":%.6g,\"lr\":%g,"
                        "\"samples_per_s\":%.4g,\"elapsed\":%.4g}\n",
                        step, epoch + 1, (double)mt.last_loss, (double)mt.last_correct / b.n, (double)opt.lr, sps,
                        el);
            if (prog_due && mt.n) {
                levi_loader_stats ls;
                loader_stats(feed, hs, &ls);
                double ee = last_read - te;
                progress(cfg, &mark, epoch + 1, (int)seen, train->n, mt.loss_sum / mt.n, (double)mt.correct / mt.n,
                         sps, ee > 0 ? 100 * (ls.wait_s - ls0.wait_s) / ee : 0, 0);
            }
        }
        if (st != LEVI_OK) break;
        if (prof.steps < 0 && in_epoch > 2) {
            levi_counters_get(ctx, &prof.b);
            prof.steps = in_epoch - 2;
            levi_counters d;
            levi_counters_diff(&prof.a, &prof.b, &d);
            if (ctx->profiling) st = levi_finish(ctx);
            char title[96];
            snprintf(title, sizeof title, "training, steady state (steps 3..%ld of epoch %d)", prof.steps + 2,
                     epoch + 1);
            if (st == LEVI_OK) levi_profile_print(ctx, stderr, title, &d, (double)prof.steps, "step");
        }
        if (!hs) st = levi_model_metrics_read(m, LEVI_METRICS_TRAIN, &mt);
        if (st == LEVI_OK) st = check_finite(&mt, spe);
        if (st != LEVI_OK) break;
        double epoch_s = now_s() - te;
        if (epoch == start_epoch) res->first_epoch_s = epoch_s;
        res->last_epoch_s = epoch_s;
        res->loss = mt.n ? mt.loss_sum / mt.n : 0;
        res->acc = mt.n ? (double)mt.correct / mt.n : 0;
        res->epochs_done = epoch + 1;
        res->steps = step;
        double el = now_s() - t0, sps = samples / (el > 0 ? el : 1e-9);
        /* which side waits: time spent in levi_loader_next (waiting for the loader's threads, copying the
         * batch) against the rest of the epoch (the device, uploads, the optimizer) */
        levi_loader_stats ls;
        loader_stats(feed, hs, &ls);
        double wait_s = ls.wait_s - ls0.wait_s, prep_s = ls.prepare_s - ls0.prepare_s;
        res->last_epoch_data_wait_s = wait_s;
        progress(cfg, &mark, epoch + 1, (int)seen, train->n, res->loss, res->acc, sps,
                 epoch_s > 0 ? 100 * wait_s / epoch_s : 0, 1);
        double loader_ips = prep_s > 0 ? seen / prep_s * (ls.workers > 0 ? ls.workers : 1) : 0;
        double device_ips = epoch_s - wait_s > 0 ? seen / (epoch_s - wait_s) : 0;
        if (cfg->progress)
            fprintf(stderr,
                    "epoch %d/%d: loader %.0f img/s (%d threads), device %.0f img/s, waited for data %.2f s (%.1f%%)\n",
                    epoch + 1, cfg->epochs, loader_ips, ls.workers, device_ips, wait_s,
                    epoch_s > 0 ? 100 * wait_s / epoch_s : 0);
        if (cfg->val) {
            levi_eval_result ev;
            st = vfeed ? levi_evaluate_feed(m, vfeed, &ev) : levi_evaluate(m, cfg->val, &ev);
            if (st != LEVI_OK) break;
            res->val_acc = ev.acc;
            res->val_loss = ev.loss;
            levi_eval_result_free(&ev);
            if (cfg->progress) fprintf(stderr, "epoch %d/%d: validation accuracy %.4f\n", epoch + 1, cfg->epochs, res->val_acc);
        }
        if (log) {
            fprintf(log,
                    "{\"type\":\"epoch\",\"step\":%ld,\"epoch\":%d,\"loss\":%.6g,\"acc\":%.6g,\"lr\":%g,"
                    "\"samples_per_s\":%.4g,\"elapsed\":%.4g,\"epoch_s\":%.4g,\"data_wait_s\":%.4g,"
                    "\"loader_img_per_s\":%.4g,\"device_img_per_s\":%.4g,",
                    step, epoch + 1, res->loss, res->acc, (double)opt.lr, sps, el, epoch_s, wait_s, loader_ips,
                    device_ips);
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
    levi_feed_free(feed);
    levi_feed_free(vfeed);
    if (hs) host_src_free(hs);
    return st;
}
