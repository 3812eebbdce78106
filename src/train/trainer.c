/* The training loop: seeded epochs, AdamW, JSON-lines metrics, a checkpoint
 * per epoch, exact resume, a stop on a non-finite loss, and the frozen-
 * backbone feature cache (see levi/train.h). Steps only enqueue work; the
 * device's per-step metrics come back in batches (steplog.c) without a wait
 * in steady state, and once, waited for, at the end of every epoch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "levi/parallel.h"
#include "levi/safetensors.h"
#include "levi/train.h"
#include "steplog.h"

void levi_train_config_default(levi_train_config *c) {
    memset(c, 0, sizeof *c);
    c->epochs = 5;
    c->batch = 64;
    c->lr = 1e-3f;
    c->wd = 0.01f;
    c->grad_clip = 1.0f;
    c->cache_features = -1;
    c->log_every = 1;
    c->read_every = LEVI_TRAIN_READ_EVERY;
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

/* What the progress lines count: "texts" or "images". */
static const char *sample_word(const levi_dataset *ds) {
    return ds->kind == LEVI_INPUT_TOKENS ? "texts" : "images";
}

/* A bar redrawn in place (progress 1) or about four plain lines per epoch
 * (progress 2) counting `what` (texts or images); *mark counts the plain
 * lines printed in this epoch. */
static void progress(const levi_train_config *cfg, const char *what, int *mark, int epoch, int done, int total,
                     double loss, double acc, double sps, double wait_pct, int last) {
    if (cfg->progress == 1) {
        int w = 24, f = total ? (int)((double)done / total * w) : w;
        char bar[32];
        for (int i = 0; i < w; i++) bar[i] = i < f ? '#' : '.';
        bar[w] = '\0';
        fprintf(stderr, "\repoch %d/%d [%s] %d/%d loss %.4f acc %.3f %.0f %s/s, data wait %.0f%%%s", epoch,
                cfg->epochs, bar, done, total, loss, acc, sps, what, wait_pct, last ? "\n" : "");
        fflush(stderr);
    } else if (cfg->progress == 2 && !last) {
        fprintf(stderr, "epoch %d/%d: %d/%d %s, loss %.4f, acc %.3f, %.0f %s/s\n", epoch, cfg->epochs, done,
                total, what, loss, acc, sps, what);
        (*mark)++;
    } else if (cfg->progress == 2 && last) {
        fprintf(stderr, "epoch %d/%d: %d %s, loss %.4f, acc %.3f, %.0f %s/s\n", epoch, cfg->epochs, total, what,
                loss, acc, sps, what);
    }
}

levi_status levi_train_step(levi_model *m, const levi_batch *b, const levi_adamw_cfg *opt, long step,
                            float grad_clip) {
    if (step < 1 || step > 0x7fffffffL) return levi_error(LEVI_ERR_INVALID_ARG, "step %ld is out of range", step);
    LEVI_TRY(levi_model_zero_grad(m));
    levi_input in = {b->x, b->mask};
    LEVI_TRY(levi_model_forward_input(m, &in, b->feats.buf ? &b->feats : NULL, &b->labels, b->n, NULL, NULL));
    LEVI_TRY(levi_model_metrics_accumulate(m, b->n, LEVI_METRICS_TRAIN, step));
    LEVI_TRY(levi_model_backward(m, b->n));
    return levi_model_step(m, opt, (int)step, grad_clip, NULL);
}

/* Data parallel: batches from the host, each step over every replica and
 * rank (levi_parallel_step; the gradient sum needs the host). */
typedef struct host_src {
    levi_loader l;
    int have_loader;
    float *px, *mk, *lab, *fb, *cache; /* mk: the mask of token ids; cache: (n, F) tap features in dataset order, or NULL */
    int F;
} host_src;

static void host_src_free(host_src *h) {
    if (h->have_loader) levi_loader_free(&h->l);
    free(h->px);
    free(h->mk);
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
    const int text = levi_model_input_spec(m)->kind == LEVI_INPUT_TOKENS;
    h->px = malloc((size_t)cfg->batch * xn * sizeof *h->px);
    h->mk = text ? malloc((size_t)cfg->batch * xn * sizeof *h->mk) : NULL;
    h->lab = malloc((size_t)cfg->batch * sizeof *h->lab);
    h->fb = h->F ? malloc((size_t)cfg->batch * h->F * sizeof *h->fb) : NULL;
    levi_status st = h->px && h->lab && (!h->F || h->fb) && (!text || h->mk)
                         ? LEVI_OK
                         : levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    if (st == LEVI_OK && use_cache) st = levi_parallel_compute_features(cfg->parallel, ds, &h->cache);
    if (st == LEVI_OK) st = levi_loader_init(&h->l, ds, cfg->batch, cfg->seed, 1);
    h->have_loader = st == LEVI_OK;
    if (st != LEVI_OK) {
        host_src_free(h);
        return st;
    }
    *out = h;
    return LEVI_OK;
}

/* One data-parallel step of the next host batch (*nb = 0 at the epoch's
 * end); its metrics stay on the replicas' devices. */
static levi_status host_step(host_src *h, const levi_train_config *cfg, const levi_adamw_cfg *opt, long t, int *nb) {
    int b = levi_loader_next_input(&h->l, h->px, h->mk, h->lab);
    *nb = b;
    if (b <= 0) return LEVI_OK;
    if (h->cache)
        for (int i = 0; i < b; i++)
            memcpy(h->fb + (size_t)i * h->F, h->cache + (size_t)h->l.order[h->l.pos - b + i] * h->F,
                   (size_t)h->F * sizeof *h->fb);
    return levi_parallel_step_input(cfg->parallel, h->px, h->mk, h->lab, h->cache ? h->fb : NULL, b, opt, (int)t,
                                    cfg->grad_clip, NULL, NULL, NULL);
}

/* The training loader's counters (waits inside levi_loader_next, worker time). */
static void loader_stats(levi_feed *feed, host_src *hs, levi_loader_stats *out) {
    if (feed) levi_feed_loader_stats(feed, out);
    else levi_loader_stats_get(&hs->l, out);
}

/* The contexts a run uses: the head's, then the backbone stage's when apart,
 * then the other data-parallel replicas'; and their counters over the
 * steady state of the last epoch (its third step to its last). */
typedef struct steady {
    levi_ctx *ctx[LEVI_PARALLEL_MAX + 1];
    const char *role[LEVI_PARALLEL_MAX + 1];
    levi_counters a[LEVI_PARALLEL_MAX + 1];
    int n, started;
} steady;

static void steady_init(steady *p, levi_model *m, levi_parallel *par) {
    memset(p, 0, sizeof *p);
    p->ctx[p->n] = levi_model_ctx(m);
    p->role[p->n++] = par ? "replica 0" : "head";
    levi_ctx *b = levi_model_backbone_ctx(m);
    if (b && b != p->ctx[0]) {
        p->ctx[p->n] = b;
        p->role[p->n++] = "backbone stage";
    }
    for (int r = 1; par && r < levi_parallel_replicas(par); r++) {
        p->ctx[p->n] = levi_model_ctx(levi_parallel_replica(par, r));
        p->role[p->n++] = "another replica";
    }
}

static levi_status steady_begin(steady *p) {
    for (int i = 0; i < p->n; i++) {
        /* LEVI_PROFILE: device times of the steady state only (the finish only then) */
        if (p->ctx[i]->profiling) LEVI_TRY(levi_finish(p->ctx[i]));
        if (p->ctx[i]->profile_at_exit) levi_profile_reset_times(p->ctx[i]);
        levi_counters_get(p->ctx[i], &p->a[i]);
    }
    p->started = 1;
    return LEVI_OK;
}

/* The counts summed over every context into res; LEVI_PROFILE: printed per
 * context, with the device times, and the sums per step. */
static levi_status steady_end(steady *p, long steps, int epoch, levi_train_result *res) {
    levi_counters d[LEVI_PARALLEL_MAX + 1], *t = &res->steady;
    memset(t, 0, sizeof *t);
    for (int i = 0; i < p->n; i++) {
        levi_counters b;
        levi_counters_get(p->ctx[i], &b);
        levi_counters_diff(&p->a[i], &b, &d[i]);
        t->launches += d[i].launches;
        t->gemm_calls += d[i].gemm_calls;
        t->blocking_syncs += d[i].blocking_syncs;
        t->backpressure_waits += d[i].backpressure_waits;
        t->h2d_bytes += d[i].h2d_bytes;
        t->d2h_bytes += d[i].d2h_bytes;
    }
    res->steady_steps = steps;
    if (!p->ctx[0]->profile_at_exit) return LEVI_OK;
    for (int i = 0; i < p->n; i++) {
        if (p->ctx[i]->profiling) LEVI_TRY(levi_finish(p->ctx[i]));
        char title[128];
        snprintf(title, sizeof title, "training, steady state (steps 3..%ld of epoch %d)%s%s", steps + 2, epoch + 1,
                 p->n > 1 ? ", " : "", p->n > 1 ? p->role[i] : "");
        levi_profile_print(p->ctx[i], stderr, title, &d[i], (double)steps, "step");
    }
    if (p->n > 1)
        fprintf(stderr,
                "profile: training, steady state, all %d contexts, per step: launches %.1f, GEMM calls %.1f, "
                "blocking syncs %.2f, backpressure waits %.2f, h2d %.0f bytes, d2h %.0f bytes\n",
                p->n, (double)t->launches / steps, (double)t->gemm_calls / steps, (double)t->blocking_syncs / steps,
                (double)t->backpressure_waits / steps, (double)t->h2d_bytes / steps, (double)t->d2h_bytes / steps);
    return LEVI_OK;
}

/* The step lines of the metrics log, written as the steps' values come back. */
typedef struct step_lines {
    FILE *log;
    int every;
} step_lines;

static void write_step(void *user, const steplog_step *s, float loss, int correct) {
    const step_lines *w = user;
    if (!w->log || w->every < 1 || s->step % w->every) return;
    double el = s->elapsed > 0 ? s->elapsed : 1e-9;
    fprintf(w->log,
            "{\"type\":\"step\",\"step\":%ld,\"epoch\":%d,\"loss\":%.6g,\"acc\":%.6g,\"lr\":%g,\"samples_per_s\":%.4g,"
            "\"elapsed\":%.4g}\n",
            s->step, s->epoch + 1, (double)loss, (double)correct / s->n, (double)s->lr, s->samples / el, s->elapsed);
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
    if (cfg->read_every < 1 || cfg->read_every > LEVI_METRICS_RING)
        return levi_error(LEVI_ERR_INVALID_ARG, "read_every %d, expected 1..%d", cfg->read_every, LEVI_METRICS_RING);
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
    double t0 = levi_now_s();
    const char *what = sample_word(train);
    if (use_cache && cfg->progress)
        fprintf(stderr, "feature cache: computing the backbone's tap features of %d %s once\n",
                train->n + (cfg->val ? cfg->val->n : 0), what);
    /* one device (the backbone stage maybe on another): the feed; data parallel: batches from the host */
    levi_feed *feed = NULL, *vfeed = NULL;
    host_src *hs = NULL;
    levi_status st = LEVI_OK;
    if (cfg->parallel) st = host_src_create(&hs, m, train, cfg, use_cache);
    else st = levi_feed_create(&feed, m, train, cfg->batch, 1, cfg->seed, use_cache);
    /* validation: the features stay cached on the device across epochs */
    if (st == LEVI_OK && cfg->val) st = levi_feed_create(&vfeed, m, cfg->val, levi_model_max_batch(m), 0, 0, use_cache);
    if (st == LEVI_OK && use_cache) {
        int resident = 0;
        if (feed) levi_feed_cached(feed, &resident);
        res->cache_build_s = levi_now_s() - t0;
        res->cached_features = 1;
        if (cfg->progress)
            fprintf(stderr, "feature cache: ready in %.1f s (%s)\n", res->cache_build_s,
                    resident ? "on the device" : "on the host, uploaded in chunks");
    }
    step_lines lines = {NULL, cfg->log_every};
    if (st == LEVI_OK && cfg->log_path && !(lines.log = fopen(cfg->log_path, cfg->resume_path ? "a" : "w")))
        st = levi_error(LEVI_ERR_IO, "cannot open the metrics log %s for writing", cfg->log_path);
    FILE *log = lines.log;
    steplog *sl = NULL;
    if (st == LEVI_OK) st = steplog_create(&sl, m, cfg->parallel, cfg->read_every, write_step, &lines);
    levi_adamw_cfg opt = {cfg->lr, 0.9f, 0.999f, 1e-8f, cfg->wd};
    long total_steps = (long)cfg->epochs * spe;
    long samples = 0;
    steady prof;
    steady_init(&prof, m, cfg->parallel);
    for (int epoch = start_epoch; st == LEVI_OK && epoch < cfg->epochs; epoch++) {
        double te = levi_now_s(), last_draw = te;
        long seen = 0, in_epoch = 0;
        int mark = 0;
        st = steplog_epoch(sl, epoch == start_epoch);
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
                st = host_step(hs, cfg, &opt, step + 1, &b.n);
            } else {
                st = levi_feed_next(feed, &b);
                if (st == LEVI_OK && b.n) st = levi_train_step(m, &b, &opt, step + 1, cfg->grad_clip);
            }
            if (st != LEVI_OK || !b.n) break;
            step++;
            in_epoch++;
            samples += b.n;
            seen += b.n;
            if (in_epoch == 2 && epoch == cfg->epochs - 1) st = steady_begin(&prof);
            /* the step's values come back in batches: the log's lines and the progress with them */
            double now = levi_now_s();
            steplog_step info = {step, epoch, b.n, opt.lr, now - t0, samples};
            int fresh = 0;
            if (st == LEVI_OK) st = steplog_step_done(sl, &info, &fresh);
            if (st != LEVI_OK) break;
            const levi_metrics *mt = steplog_sums(sl);
            int draw = fresh && mt->n &&
                       ((cfg->progress == 1 && now - last_draw >= 0.25) ||
                        (cfg->progress == 2 && mt->n < train->n && mt->n * 4 >= (long)(mark + 1) * train->n));
            if (!draw) continue;
            last_draw = now;
            levi_loader_stats ls;
            loader_stats(feed, hs, &ls);
            double ee = now - te, el = now - t0;
            progress(cfg, what, &mark, epoch + 1, (int)mt->n, train->n, mt->loss_sum / mt->n, (double)mt->correct / mt->n,
                     samples / (el > 0 ? el : 1e-9), ee > 0 ? 100 * (ls.wait_s - ls0.wait_s) / ee : 0, 0);
        }
        if (st != LEVI_OK) break;
        if (prof.started && in_epoch > 2) st = steady_end(&prof, in_epoch - 2, epoch, res);
        prof.started = 0;
        levi_metrics mt;
        if (st == LEVI_OK) st = steplog_flush(sl, &mt);
        if (st != LEVI_OK) break;
        double epoch_s = levi_now_s() - te;
        if (epoch == start_epoch) res->first_epoch_s = epoch_s;
        res->last_epoch_s = epoch_s;
        res->loss = mt.n ? mt.loss_sum / mt.n : 0;
        res->acc = mt.n ? (double)mt.correct / mt.n : 0;
        res->epochs_done = epoch + 1;
        res->steps = step;
        double el = levi_now_s() - t0, sps = samples / (el > 0 ? el : 1e-9);
        /* which side waits: time spent in levi_loader_next (waiting for the loader's threads, copying the
         * batch) against the rest of the epoch (the device, uploads, the optimizer) */
        levi_loader_stats ls;
        loader_stats(feed, hs, &ls);
        double wait_s = ls.wait_s - ls0.wait_s, prep_s = ls.prepare_s - ls0.prepare_s;
        res->last_epoch_data_wait_s = wait_s;
        progress(cfg, what, &mark, epoch + 1, (int)seen, train->n, res->loss, res->acc, sps,
                 epoch_s > 0 ? 100 * wait_s / epoch_s : 0, 1);
        double loader_ips = prep_s > 0 ? seen / prep_s * (ls.workers > 0 ? ls.workers : 1) : 0;
        double device_ips = epoch_s - wait_s > 0 ? seen / (epoch_s - wait_s) : 0;
        if (cfg->progress)
            fprintf(stderr,
                    "epoch %d/%d: loader %.0f %s/s (%d threads), device %.0f %s/s, waited for data %.2f s (%.1f%%)\n",
                    epoch + 1, cfg->epochs, loader_ips, what, ls.workers, device_ips, what, wait_s,
                    epoch_s > 0 ? 100 * wait_s / epoch_s : 0);
        if (cfg->val) {
            levi_eval_result ev;
            st = levi_evaluate_feed(m, vfeed, &ev);
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
    double el = levi_now_s() - t0;
    res->seconds = el;
    res->samples_per_s = samples / (el > 0 ? el : 1e-9);
    steplog_free(sl);
    if (log && fclose(log) != 0 && st == LEVI_OK)
        st = levi_error(LEVI_ERR_IO, "writing the metrics log %s failed", cfg->log_path);
    levi_feed_free(feed);
    levi_feed_free(vfeed);
    if (hs) host_src_free(hs);
    return st;
}
