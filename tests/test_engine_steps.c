/* Steps and training runs that never wait: per steady-state step of every
 * method no blocking sync (levi_train_step), and none either through
 * levi_train with a step line in the log at every step (the metrics come back
 * in batches), whose lines still carry each step's own loss and accuracy; a
 * non-finite loss found that way stops training naming its step; the
 * syncs per step of the backbone stage apart and of data parallel, counted. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "engine_models.h"
#include "levi/parallel.h"

typedef struct step_case {
    const char *name;
    levi_method method;
    levi_fusion fusion;
    int cache;
    int max_launches, max_gemms; /* per step, at or under */
} step_case;

static void steady_steps(const step_case *c, levi_model *m, const levi_dataset *ds);

/* Per steady-state step of every method: no blocking sync, no byte read back,
 * and launches and GEMM calls at or under the bounds of the table (the tiny
 * model: depth 2, taps {0, 2}, task model mlp). */
START_TEST(steps_never_wait) {
    static const step_case cases[] = {
        {"scratch", LEVI_METHOD_SCRATCH, LEVI_FUSION_CONCAT, 0, 14, 8},
        {"lp", LEVI_METHOD_LP, LEVI_FUSION_CONCAT, 0, 32, 15},
        {"lp cache", LEVI_METHOD_LP, LEVI_FUSION_CONCAT, 1, 9, 2},
        {"ft", LEVI_METHOD_FT, LEVI_FUSION_CONCAT, 0, 89, 41},
        {"lora", LEVI_METHOD_LORA, LEVI_FUSION_CONCAT, 0, 44, 47},
        {"levi", LEVI_METHOD_LEVI, LEVI_FUSION_CONCAT, 0, 45, 24},
        {"levi cache", LEVI_METHOD_LEVI, LEVI_FUSION_CONCAT, 1, 21, 11},
        {"levi ensemble", LEVI_METHOD_LEVI, LEVI_FUSION_ENSEMBLE, 0, 61, 30},
        {"levi ensemble cache", LEVI_METHOD_LEVI, LEVI_FUSION_ENSEMBLE, 1, 37, 17},
        {"levi late", LEVI_METHOD_LEVI, LEVI_FUSION_LATE, 0, 51, 26},
        {"levi late cache", LEVI_METHOD_LEVI, LEVI_FUSION_LATE, 1, 27, 13},
        {"levi+lora", LEVI_METHOD_LEVI_LORA, LEVI_FUSION_CONCAT, 0, 60, 55},
        {"levi+lora ensemble", LEVI_METHOD_LEVI_LORA, LEVI_FUSION_ENSEMBLE, 0, 77, 61},
    };
    levi_dataset ds = synthetic(4 * B);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        steady_steps(&cases[i], tiny_model(g_ctx, g_ctx, cases[i].method, cases[i].fusion), &ds);
    synthetic_free(&ds);
}
END_TEST


/* Two warm-up steps of m (taken over) on ds, then the epoch's last two:
 * per step no blocking sync, no byte read back, launches and GEMM calls
 * within the case's bounds; then the device's sums. */
static void steady_steps(const step_case *c, levi_model *m, const levi_dataset *ds) {
    levi_adamw_cfg opt = {1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f};
    levi_feed *f;
    ck_assert_levi_ok(levi_feed_create(&f, m, ds, B, 1, 3, c->cache));
    ck_assert_levi_ok(levi_feed_epoch(f, 0));
    ck_assert_levi_ok(levi_model_metrics_reset(m, LEVI_METRICS_TRAIN, 1));
    long t = 0;
    levi_batch b;
    for (int w = 0; w < 2; w++) {
        ck_assert_levi_ok(levi_feed_next(f, &b));
        ck_assert_levi_ok(levi_train_step(m, &b, &opt, ++t, 1.0f));
    }
    ck_assert_levi_ok(levi_finish(g_ctx));
    levi_counters c0, c1, d;
    levi_counters_get(g_ctx, &c0);
    const int steps = 2; /* the epoch's last two batches */
    for (int s = 0; s < steps; s++) {
        ck_assert_levi_ok(levi_feed_next(f, &b));
        ck_assert_int_eq(b.n, B);
        ck_assert_levi_ok(levi_train_step(m, &b, &opt, ++t, 1.0f));
    }
    levi_counters_get(g_ctx, &c1);
    levi_counters_diff(&c0, &c1, &d);
    fprintf(stderr, "%-20s per step: %4.1f launches, %4.1f GEMM calls, %.1f blocking syncs, %.1f backpressure "
                    "waits, %llu h2d bytes\n",
            c->name, (double)d.launches / steps, (double)d.gemm_calls / steps, (double)d.blocking_syncs / steps,
            (double)d.backpressure_waits / steps, d.h2d_bytes / steps);
    ck_assert_msg(d.blocking_syncs == 0, "%s: %llu blocking syncs in %d steps", c->name, d.blocking_syncs, steps);
    ck_assert_msg(d.d2h_bytes == 0, "%s: %llu bytes read back in %d steps", c->name, d.d2h_bytes, steps);
    ck_assert_msg(d.launches <= (unsigned long long)c->max_launches * steps, "%s: %.1f launches per step > %d",
                  c->name, (double)d.launches / steps, c->max_launches);
    ck_assert_msg(d.gemm_calls <= (unsigned long long)c->max_gemms * steps, "%s: %.1f GEMM calls per step > %d",
                  c->name, (double)d.gemm_calls / steps, c->max_gemms);
    /* the end of the epoch, and one read: the device's sums match the host's */
    ck_assert_levi_ok(levi_feed_next(f, &b));
    ck_assert_int_eq(b.n, 0);
    levi_metrics mt;
    ck_assert_levi_ok(levi_model_metrics_read(m, LEVI_METRICS_TRAIN, &mt));
    ck_assert_int_eq(mt.n, 4 * B);
    ck_assert_int_eq(mt.bad_loss_step, 0);
    ck_assert_int_eq(mt.bad_grad_step, 0);
    ck_assert_msg(isfinite(mt.loss_sum) && mt.loss_sum > 0 && mt.correct >= 0 && mt.correct <= 4 * B,
                  "%s: loss sum %g, correct %ld", c->name, mt.loss_sum, mt.correct);
    levi_feed_free(f);
    levi_model_free(m);
}

/* The step and epoch lines of a metrics log. */
typedef struct log_lines {
    int steps, epochs;
    long step[256];
    double loss[256], acc[256];
} log_lines;

static void read_log(const char *path, log_lines *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "no log %s", path);
    char line[2048];
    while (fgets(line, sizeof line, f)) {
        cJSON *o = cJSON_Parse(line);
        ck_assert_msg(o != NULL, "log line is not JSON: %s", line);
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(o, "type"));
        ck_assert_msg(type != NULL, "log line without a type: %s", line);
        if (!strcmp(type, "epoch")) {
            out->epochs++;
        } else {
            ck_assert_str_eq(type, "step");
            ck_assert_int_lt(out->steps, 256);
            out->step[out->steps] = (long)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "step"));
            out->loss[out->steps] = cJSON_GetNumberValue(cJSON_GetObjectItem(o, "loss"));
            out->acc[out->steps++] = cJSON_GetNumberValue(cJSON_GetObjectItem(o, "acc"));
        }
        cJSON_Delete(o);
    }
    fclose(f);
}

enum { SPE = 41 }; /* steps per epoch: the reads every 32 steps fall anywhere in an epoch */

static void train_config(levi_train_config *tc, const char *log) {
    levi_train_config_default(tc);
    tc->epochs = 2;
    tc->batch = B;
    tc->seed = 4;
    tc->lr = 3e-3f;
    tc->cache_features = 0;
    tc->log_path = log;
}

/* levi_train with a step line at every step: no blocking sync over the
 * steady state (steps 3..41 of epoch 2, with the read at step 64 in it), one
 * read back of the metrics per 32 steps, and every line equal to the step's
 * loss and accuracy read back one step at a time. */
START_TEST(train_log_never_waits) {
    levi_dataset ds = synthetic(SPE * B - 2); /* a short last batch */
    char *dir = test_tmpdir(), log[600];
    snprintf(log, sizeof log, "%s/log.jsonl", dir);
    levi_model *m = tiny_model(g_ctx, g_ctx, LEVI_METHOD_LEVI, LEVI_FUSION_ENSEMBLE);
    levi_train_config tc;
    train_config(&tc, log);
    ck_assert_int_eq(tc.log_every, 1);
    ck_assert_int_eq(tc.read_every, LEVI_TRAIN_READ_EVERY);
    levi_train_result r;
    ck_assert_levi_ok(levi_train(m, &ds, &tc, &r));
    fprintf(stderr, "train --log, steady state per step: %.2f blocking syncs, %.2f backpressure waits, %.1f d2h bytes\n",
            (double)r.steady.blocking_syncs / r.steady_steps, (double)r.steady.backpressure_waits / r.steady_steps,
            (double)r.steady.d2h_bytes / r.steady_steps);
    ck_assert_int_eq(r.steady_steps, SPE - 2);
    ck_assert_msg(r.steady.blocking_syncs == 0, "%llu blocking syncs in %ld steady steps with --log",
                  r.steady.blocking_syncs, r.steady_steps);
    ck_assert_uint_eq(r.steady.d2h_bytes, sizeof(levi_metrics_snapshot));
    /* the same run, read back after every step */
    levi_model *ref = tiny_model(g_ctx, g_ctx, LEVI_METHOD_LEVI, LEVI_FUSION_ENSEMBLE);
    levi_feed *f;
    ck_assert_levi_ok(levi_feed_create(&f, ref, &ds, B, 1, tc.seed, 0));
    levi_adamw_cfg opt = {tc.lr, 0.9f, 0.999f, 1e-8f, tc.wd};
    float want_loss[2 * SPE];
    double want_acc[2 * SPE];
    long t = 0;
    for (int e = 0; e < 2; e++) {
        ck_assert_levi_ok(levi_feed_epoch(f, e));
        ck_assert_levi_ok(levi_model_metrics_reset(ref, LEVI_METRICS_TRAIN, 1));
        levi_batch b;
        for (;;) {
            ck_assert_levi_ok(levi_feed_next(f, &b));
            if (!b.n) break;
            opt.lr = levi_train_lr(&tc, t + 1, 2 * SPE);
            ck_assert_levi_ok(levi_train_step(ref, &b, &opt, ++t, tc.grad_clip));
            levi_metrics mt;
            ck_assert_levi_ok(levi_model_metrics_read(ref, LEVI_METRICS_TRAIN, &mt));
            want_loss[t - 1] = mt.last_loss;
            want_acc[t - 1] = (double)mt.last_correct / b.n;
        }
    }
    ck_assert_int_eq(t, 2 * SPE);
    log_lines got;
    read_log(log, &got);
    ck_assert_int_eq(got.epochs, 2);
    ck_assert_int_eq(got.steps, 2 * SPE);
    double loss[2 * SPE], want[2 * SPE];
    for (int i = 0; i < 2 * SPE; i++) {
        ck_assert_int_eq(got.step[i], i + 1);
        ck_assert_msg(fabs(got.acc[i] - want_acc[i]) < 1e-5, "step %d: accuracy %g in the log, %g read back", i + 1,
                      got.acc[i], want_acc[i]);
        loss[i] = got.loss[i];
        want[i] = want_loss[i];
    }
    test_check_close_d("the log's per-step losses vs the losses read back every step", loss, want, 2 * SPE, 0, 1e-5);
    levi_feed_free(f);
    levi_model_free(ref);
    levi_model_free(m);
    remove(log);
    free(dir);
    synthetic_free(&ds);
}
END_TEST

static void poison(void *user, int epoch, const levi_train_result *r) {
    (void)r;
    if (epoch != 1) return;
    levi_params *P = levi_model_head_params(user);
    levi_tensor w = levi_params_value(P, P->count - 2);
    ck_assert_levi_ok(levi_tensor_fill(&w, NAN));
}

/* A NaN planted after epoch 1 is found at a later read: training stops with
 * the error naming the first step of epoch 2, and the log holds every line
 * before it and none after. */
START_TEST(train_log_stops_at_the_first_bad_step) {
    levi_dataset ds = synthetic(SPE * B - 2);
    char *dir = test_tmpdir(), log[600];
    snprintf(log, sizeof log, "%s/log.jsonl", dir);
    levi_model *m = tiny_model(g_ctx, g_ctx, LEVI_METHOD_LEVI, LEVI_FUSION_ENSEMBLE);
    levi_train_config tc;
    train_config(&tc, log);
    tc.on_epoch = poison;
    tc.on_epoch_user = m;
    levi_train_result r;
    ck_assert_int_eq(levi_train(m, &ds, &tc, &r), LEVI_ERR_NOT_FINITE);
    char want[64];
    snprintf(want, sizeof want, "at step %d (epoch 2)", SPE + 1);
    ck_assert_msg(strstr(levi_last_error(), "the loss is") && strstr(levi_last_error(), want), "message: %s",
                  levi_last_error());
    log_lines got;
    read_log(log, &got);
    ck_assert_int_eq(got.epochs, 1);
    ck_assert_int_eq(got.steps, SPE);
    ck_assert_int_eq(got.step[SPE - 1], SPE);
    levi_model_free(m);
    remove(log);
    free(dir);
    synthetic_free(&ds);
}
END_TEST

/* The syncs of the modes whose steps go through the host, per steady-state
 * step over every context (a wait counts only when it waited): the backbone
 * stage on another context, frozen (one batch ahead, its features handed to
 * the head: at most one) or trained (inputs, features, their gradients and
 * the two groups' norms through the host: at most five), and data parallel
 * over two replicas of one gradient group (the gradient sum reads both
 * replicas, and the writes of the last sum may still be pending: 1 to 4);
 * the step lines add nothing to any. */
START_TEST(host_modes_count_their_syncs) {
    levi_dataset ds = synthetic(SPE * B - 2);
    char *dir = test_tmpdir(), log[600];
    snprintf(log, sizeof log, "%s/log.jsonl", dir);
    levi_ctx *c2;
    ck_assert_levi_ok(levi_ctx_create(&c2, &g_ctx->info));
    levi_train_config tc;
    train_config(&tc, log);
    tc.epochs = 1;
    levi_train_result r;
    /* backbone apart: one OpenCL context per levi_ctx, so the features cross through host memory */
    levi_model *apart = tiny_model(g_ctx, c2, LEVI_METHOD_LEVI, LEVI_FUSION_CONCAT);
    ck_assert_levi_ok(levi_train(apart, &ds, &tc, &r));
    double per = (double)r.steady.blocking_syncs / r.steady_steps;
    fprintf(stderr, "backbone apart: %.2f blocking syncs, %.2f backpressure waits per step\n", per,
            (double)r.steady.backpressure_waits / r.steady_steps);
    ck_assert_int_eq(r.steady_steps, SPE - 2);
    ck_assert_msg(per <= 1.0, "backbone apart: %.2f blocking syncs per step, expected at most 1 (the features)", per);
    levi_model_free(apart);
    apart = tiny_model(g_ctx, c2, LEVI_METHOD_FT, LEVI_FUSION_CONCAT);
    ck_assert_levi_ok(levi_train(apart, &ds, &tc, &r));
    per = (double)r.steady.blocking_syncs / r.steady_steps;
    fprintf(stderr, "backbone apart, trained (ft): %.2f blocking syncs, %.2f backpressure waits per step\n", per,
            (double)r.steady.backpressure_waits / r.steady_steps);
    ck_assert_msg(per <= 5.0, "backbone apart, ft: %.2f blocking syncs per step, expected at most 5", per);
    levi_model_free(apart);
    /* data parallel: two replicas, one gradient group each */
    levi_model *rep[2] = {tiny_model(g_ctx, g_ctx, LEVI_METHOD_LEVI, LEVI_FUSION_CONCAT),
                          tiny_model(c2, c2, LEVI_METHOD_LEVI, LEVI_FUSION_CONCAT)};
    levi_parallel *par;
    ck_assert_levi_ok(levi_parallel_create(&par, NULL, rep, 2));
    tc.parallel = par;
    ck_assert_levi_ok(levi_train(rep[0], &ds, &tc, &r));
    per = (double)r.steady.blocking_syncs / r.steady_steps;
    fprintf(stderr, "data parallel x2: %.2f blocking syncs, %.2f backpressure waits per step\n", per,
            (double)r.steady.backpressure_waits / r.steady_steps);
    ck_assert_msg(per >= 0.5 && per <= 4.0,
                  "data parallel x2: %.2f blocking syncs per step, expected 1 (the gradient reads) to 4", per);
    levi_parallel_free(par);
    levi_model_free(rep[0]);
    levi_model_free(rep[1]);
    levi_ctx_destroy(c2);
    remove(log);
    free(dir);
    synthetic_free(&ds);
}
END_TEST

/* The same on text: a tiny BERT and the ngram task model on token ids (and
 * their mask) going up with non-blocking writes too. */
START_TEST(text_steps_never_wait) {
    static const step_case cases[] = {
        {"text scratch", LEVI_METHOD_SCRATCH, LEVI_FUSION_CONCAT, 0, 16, 6},
        {"text lp cache", LEVI_METHOD_LP, LEVI_FUSION_CONCAT, 1, 9, 2},
        {"text ft", LEVI_METHOD_FT, LEVI_FUSION_CONCAT, 0, 88, 39},
        {"text levi", LEVI_METHOD_LEVI, LEVI_FUSION_CONCAT, 0, 43, 21},
        {"text levi cache", LEVI_METHOD_LEVI, LEVI_FUSION_CONCAT, 1, 23, 9},
        {"text levi+lora ens", LEVI_METHOD_LEVI_LORA, LEVI_FUSION_ENSEMBLE, 0, 77, 58},
    };
    levi_dataset ds = synthetic_text(4 * B);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        steady_steps(&cases[i], tiny_text_model(g_ctx, g_ctx, cases[i].method, cases[i].fusion), &ds);
    synthetic_free(&ds);
    /* levi_train on texts with a step line at every step: none either over the steady state */
    ds = synthetic_text(SPE * B - 2);
    char *dir = test_tmpdir(), log[600];
    snprintf(log, sizeof log, "%s/log.jsonl", dir);
    levi_model *m = tiny_text_model(g_ctx, g_ctx, LEVI_METHOD_LEVI, LEVI_FUSION_ENSEMBLE);
    levi_train_config tc;
    train_config(&tc, log);
    levi_train_result r;
    ck_assert_levi_ok(levi_train(m, &ds, &tc, &r));
    ck_assert_int_eq(r.steady_steps, SPE - 2);
    ck_assert_msg(r.steady.blocking_syncs == 0, "texts: %llu blocking syncs in %ld steady steps with --log",
                  r.steady.blocking_syncs, r.steady_steps);
    ck_assert_uint_eq(r.steady.d2h_bytes, sizeof(levi_metrics_snapshot));
    log_lines ll;
    read_log(log, &ll);
    ck_assert_int_eq(ll.steps, 2 * SPE);
    ck_assert_int_eq(ll.epochs, 2);
    levi_model_free(m);
    synthetic_free(&ds);
    remove(log);
    remove(dir);
    free(dir);
}
END_TEST

void engine_steps_tests(TCase *tc) {
    tcase_add_test(tc, steps_never_wait);
    tcase_add_test(tc, text_steps_never_wait);
    tcase_add_test(tc, train_log_never_waits);
    tcase_add_test(tc, train_log_stops_at_the_first_bad_step);
    tcase_add_test(tc, host_modes_count_their_syncs);
}
