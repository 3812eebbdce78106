/* The training engine's structure: work counters and profiling of a ctx,
 * non-blocking transfers, the backbone interface (a token backbone that is
 * not the ViT fits without touching the head), the two stages (backbone on
 * another context: the same results as one context), and shards of a global
 * batch whose summed gradients equal the whole batch's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_models.h"

START_TEST(counters_and_async_transfers) {
    levi_tensor a, b;
    ck_assert_levi_ok(levi_tensor_alloc1(&a, g_ctx, 256));
    ck_assert_levi_ok(levi_tensor_alloc1(&b, g_ctx, 256));
    float host[256], back[256];
    test_fill_uniform(host, 256, 1, -1, 1);
    levi_counters c0, c1, d;
    levi_counters_get(g_ctx, &c0);
    ck_assert_levi_ok(levi_tensor_write(&a, host)); /* blocking: one sync */
    levi_counters_get(g_ctx, &c1);
    levi_counters_diff(&c0, &c1, &d);
    ck_assert_uint_eq(d.blocking_syncs, 1);
    ck_assert_uint_eq(d.h2d_bytes, sizeof host);
    /* non-blocking write, an op, a non-blocking read: no sync until the wait */
    cl_event w = NULL, r = NULL;
    c0 = c1;
    ck_assert_levi_ok(levi_tensor_write_async(&a, host, 0, NULL, &w));
    ck_assert_levi_ok(levi_scale_forward(g_ctx, &b, &a, 2.0f, 256));
    ck_assert_levi_ok(levi_tensor_read_async(&b, back, 0, NULL, &r));
    levi_counters_get(g_ctx, &c1);
    levi_counters_diff(&c0, &c1, &d);
    ck_assert_uint_eq(d.blocking_syncs, 0);
    ck_assert_uint_eq(d.launches, 1);
    ck_assert_uint_eq(d.h2d_bytes, sizeof host);
    ck_assert_uint_eq(d.d2h_bytes, sizeof back);
    ck_assert_levi_ok(levi_finish(g_ctx));
    levi_counters_get(g_ctx, &c0);
    ck_assert_uint_eq(c0.blocking_syncs, c1.blocking_syncs + 1);
    /* completed events: a status query, and a wait that does not wait */
    ck_assert_int_eq(levi_event_done(w), 1);
    ck_assert_int_eq(levi_event_done(r), 1);
    ck_assert_levi_ok(levi_event_wait(g_ctx, 1, &r));
    levi_counters_get(g_ctx, &c1);
    ck_assert_uint_eq(c1.blocking_syncs, c0.blocking_syncs);
    for (int i = 0; i < 256; i++) ck_assert_float_eq(back[i], 2.0f * host[i]);
    levi_event_release(&w);
    levi_event_release(&r);
    ck_assert_ptr_null(w);
    /* a GEMM counts once */
    levi_tensor g;
    ck_assert_levi_ok(levi_tensor_alloc2(&g, g_ctx, 16, 16));
    levi_tensor a2 = levi_tensor_reshape(&a, 2, (int[]){16, 16});
    c0 = c1;
    ck_assert_levi_ok(levi_gemm(g_ctx, 0, 0, 16, 16, 16, 1.0f, &a2, &a2, 0.0f, &g));
    levi_counters_get(g_ctx, &c1);
    ck_assert_uint_eq(c1.gemm_calls, c0.gemm_calls + 1);
    levi_counters_reset(g_ctx);
    levi_counters_get(g_ctx, &c0);
    ck_assert_uint_eq(c0.launches + c0.gemm_calls + c0.blocking_syncs + c0.h2d_bytes + c0.d2h_bytes, 0);
    levi_tensor_free(&a);
    levi_tensor_free(&b);
    levi_tensor_free(&g);
}
END_TEST

START_TEST(profiling_times_kernels) {
    levi_ctx *ctx = test_ctx();
    ck_assert_levi_ok(levi_ctx_set_profiling(ctx, 1));
    ck_assert_int_eq(ctx->profiling, 1);
    levi_tensor a;
    ck_assert_levi_ok(levi_tensor_alloc1(&a, ctx, 4096));
    for (int i = 0; i < 3; i++) ck_assert_levi_ok(levi_scale_forward(ctx, &a, &a, 0.5f, 4096));
    ck_assert_levi_ok(levi_finish(ctx));
    levi_kernel_time top[10];
    int n = levi_profile_top(ctx, top, 10);
    ck_assert_int_ge(n, 1);
    ck_assert_uint_eq(top[0].count, 3);
    ck_assert_msg(top[0].device_s >= 0 && isfinite(top[0].device_s), "device time %g", top[0].device_s);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    levi_counters c;
    levi_counters_get(ctx, &c);
    levi_profile_print(ctx, f, "test", &c, 3, "step");
    fclose(f);
    ck_assert_msg(strstr(buf, "launches 1.0") && strstr(buf, top[0].name), "profile output: %s", buf);
    free(buf);
    ck_assert_levi_ok(levi_ctx_set_profiling(ctx, 0));
    levi_tensor_free(&a);
    levi_ctx_destroy(ctx);
}
END_TEST

/* One method trained three steps with the backbone on a second context of
 * the same device gives the same losses and weights as one context. */
static void two_stages(levi_method method, levi_fusion fusion) {
    levi_ctx *c2;
    ck_assert_levi_ok(levi_ctx_create(&c2, &g_ctx->info));
    levi_model *one = tiny_model(g_ctx, g_ctx, method, fusion), *two = tiny_model(g_ctx, c2, method, fusion);
    ck_assert_ptr_eq(levi_model_backbone_ctx(two), c2);
    ck_assert_ptr_eq(levi_model_ctx(two), g_ctx);
    float x[B * IMG * IMG], y[B];
    levi_adamw_cfg opt = {1e-2f, 0.9f, 0.999f, 1e-8f, 0.01f};
    for (int t = 1; t <= 3; t++) {
        batch(x, y, (unsigned)t);
        float loss[2];
        levi_model *ms[2] = {one, two};
        for (int k = 0; k < 2; k++) {
            levi_tensor px = levi_model_input_pixels(ms[k], B), lab = levi_model_input_labels(ms[k], B);
            ck_assert_levi_ok(levi_tensor_write(&px, x));
            ck_assert_levi_ok(levi_tensor_write(&lab, y));
            ck_assert_levi_ok(levi_model_zero_grad(ms[k]));
            ck_assert_levi_ok(levi_model_forward(ms[k], &px, NULL, &lab, B, &loss[k], NULL));
            ck_assert_levi_ok(levi_model_backward(ms[k], B));
            ck_assert_levi_ok(levi_model_step(ms[k], &opt, t, 1.0f, NULL));
        }
        ck_assert_msg(loss[0] == loss[1], "%s step %d: loss %.9g on one ctx, %.9g on two", levi_method_name(method), t,
                      (double)loss[0], (double)loss[1]);
    }
    size_t n1, n2;
    float *p1 = params_of(one, &n1), *p2 = params_of(two, &n2);
    ck_assert_uint_eq(n1, n2);
    for (size_t i = 0; i < n1; i++)
        ck_assert_msg(p1[i] == p2[i], "%s: parameter %zu differs: %.9g vs %.9g", levi_method_name(method), i,
                      (double)p1[i], (double)p2[i]);
    /* the explicit stages: backbone forward, hand-off, head forward on the features */
    if (levi_model_feature_dim(two) && !levi_backbone_trainable(levi_model_backbone(two), NULL, NULL, NULL, NULL)) {
        levi_input in = levi_model_stage_input(two, B);
        ck_assert_ptr_eq(in.x.ctx, c2);
        ck_assert_levi_ok(levi_tensor_write(&in.x, x));
        cl_event ev = NULL, hv = NULL;
        ck_assert_levi_ok(levi_model_backbone_forward(two, &in, B, &ev));
        levi_counters a, b;
        levi_counters_get(g_ctx, &a);
        ck_assert_levi_ok(levi_model_handoff_features(two, B, 1, &ev, &hv));
        levi_counters_get(g_ctx, &b);
        ck_assert_uint_eq(b.h2d_bytes - a.h2d_bytes, (size_t)B * levi_model_feature_dim(two) * sizeof(float));
        levi_tensor tf = levi_model_input_feats(two, B), px = levi_model_input_pixels(two, B);
        levi_tensor lab = levi_model_input_labels(two, B);
        float l_staged, l_direct;
        ck_assert_levi_ok(levi_model_forward(two, &px, &tf, &lab, B, &l_staged, NULL));
        ck_assert_levi_ok(levi_model_forward(two, &px, NULL, &lab, B, &l_direct, NULL));
        ck_assert_msg(l_staged == l_direct, "staged %.9g vs direct %.9g", (double)l_staged, (double)l_direct);
        levi_event_release(&ev);
        levi_event_release(&hv);
    }
    free(p1);
    free(p2);
    levi_model_free(one);
    levi_model_free(two);
    levi_ctx_destroy(c2);
}

START_TEST(two_stages_levi) { two_stages(LEVI_METHOD_LEVI, LEVI_FUSION_CONCAT); }
END_TEST
START_TEST(two_stages_levi_lora_ensemble) { two_stages(LEVI_METHOD_LEVI_LORA, LEVI_FUSION_ENSEMBLE); }
END_TEST
START_TEST(two_stages_ft) { two_stages(LEVI_METHOD_FT, LEVI_FUSION_CONCAT); }
END_TEST

/* Two shards of 3 with backward_shard(.., 6) accumulate the gradients of the
 * whole batch of 6 (ensemble: every loss term scales alike). */
START_TEST(shards_sum_to_the_global_batch) {
    levi_model *m = tiny_model(g_ctx, g_ctx, LEVI_METHOD_LEVI_LORA, LEVI_FUSION_ENSEMBLE);
    float x[B * IMG * IMG], y[B];
    batch(x, y, 7);
    levi_tensor px = levi_model_input_pixels(m, B), lab = levi_model_input_labels(m, B);
    ck_assert_levi_ok(levi_tensor_write(&px, x));
    ck_assert_levi_ok(levi_tensor_write(&lab, y));
    levi_grad_group g[2];
    ck_assert_int_eq(levi_model_grad_groups(m, g, 2), 2);
    ck_assert_str_eq(g[0].name, "head");
    ck_assert_str_eq(g[1].name, "backbone");
    ck_assert_ptr_eq(g[1].ctx, g_ctx);
    size_t n0 = g[0].grads.numel, n1 = g[1].grads.numel;
    float *full = malloc((n0 + n1) * sizeof *full), *sh = malloc((n0 + n1) * sizeof *sh);
    ck_assert_levi_ok(levi_model_zero_grad(m));
    ck_assert_levi_ok(levi_model_forward(m, &px, NULL, &lab, B, NULL, NULL));
    ck_assert_levi_ok(levi_model_backward(m, B));
    ck_assert_levi_ok(levi_tensor_read(&g[0].grads, full));
    ck_assert_levi_ok(levi_tensor_read(&g[1].grads, full + n0));
    ck_assert_levi_ok(levi_model_zero_grad(m));
    for (int s = 0; s < 2; s++) {
        levi_tensor ps = levi_tensor_rows(&px, s * 3, 3), ls = levi_tensor_rows(&lab, s * 3, 3);
        ck_assert_levi_ok(levi_model_forward(m, &ps, NULL, &ls, 3, NULL, NULL));
        ck_assert_levi_ok(levi_model_backward_shard(m, 3, B));
    }
    ck_assert_levi_ok(levi_tensor_read(&g[0].grads, sh));
    ck_assert_levi_ok(levi_tensor_read(&g[1].grads, sh + n0));
    ck_assert_msg(test_diff_ff(sh, full, n0 + n1, 0, 0).scale > 0, "the full-batch gradient is zero");
    test_check_rel_f("shard gradients vs the full batch's", sh, full, n0 + n1, 1e-5, 0);
    ck_assert_int_eq(levi_model_backward_shard(m, 3, 2), LEVI_ERR_INVALID_ARG);
    free(full);
    free(sh);
    levi_model_free(m);
}
END_TEST

/* --- a token backbone that is not the ViT ---------------------------------- */

enum { VOCAB = 11, T = 5, D = 4 };

/* tap 0: masked mean over tokens of an embedding table, computed on the host
 * (the interface, not speed, is under test); tap 1: its square. */
typedef struct bag {
    levi_ctx *ctx;
    float emb[VOCAB * D];
    levi_tensor taps;
} bag;

static levi_status bag_forward(void *self, const levi_input *in, int nb) {
    bag *b = self;
    float ids[B * T], mask[B * T], out[2 * B * D];
    levi_tensor x = levi_tensor_rows(&in->x, 0, nb), mk = levi_tensor_rows(&in->mask, 0, nb);
    LEVI_TRY(levi_tensor_read(&x, ids));
    LEVI_TRY(levi_tensor_read(&mk, mask));
    for (int r = 0; r < nb; r++) {
        float cnt = 0;
        for (int j = 0; j < D; j++) out[r * D + j] = 0;
        for (int t = 0; t < T; t++) {
            if (mask[r * T + t] < 0.5f) continue;
            cnt += 1;
            for (int j = 0; j < D; j++) out[r * D + j] += b->emb[(int)ids[r * T + t] * D + j];
        }
        for (int j = 0; j < D; j++) {
            out[r * D + j] /= cnt > 0 ? cnt : 1;
            out[nb * D + r * D + j] = out[r * D + j] * out[r * D + j];
        }
    }
    levi_tensor all = levi_tensor_rows(&b->taps, 0, 2 * nb);
    return levi_tensor_write(&all, out);
}

static levi_tensor bag_tap(void *self, int l, int nb) {
    bag *b = self;
    levi_tensor t = levi_tensor_rows(&b->taps, l * nb, nb);
    return t;
}

static void bag_free(void *self) {
    bag *b = self;
    levi_tensor_free(&b->taps);
    free(b);
}

static const levi_backbone_ops k_bag_ops = {.kind = "bag", .forward = bag_forward, .tap = bag_tap, .free = bag_free};

START_TEST(token_backbone_fits_the_head) {
    bag *b = calloc(1, sizeof *b);
    b->ctx = g_ctx;
    test_fill_uniform(b->emb, VOCAB * D, 4, -1, 1);
    ck_assert_levi_ok(levi_tensor_alloc2(&b->taps, g_ctx, 2 * B, D));
    levi_backbone_desc d = {0};
    d.hidden = D;
    d.depth = 1;
    d.mode = LEVI_BACKBONE_FROZEN;
    d.max_batch = B;
    d.input.kind = LEVI_INPUT_TOKENS;
    d.input.seq_len = T;
    levi_backbone *bb;
    ck_assert_levi_ok(levi_backbone_create(&bb, g_ctx, &k_bag_ops, b, &d));
    ck_assert_ptr_null(levi_backbone_vit(bb));
    ck_assert_str_eq(levi_backbone_kind(bb), "bag");
    ck_assert_uint_eq(levi_input_numel(&levi_backbone_get_desc(bb)->input), T);
    /* a linear probe on the last tap: the head needs nothing of the architecture */
    levi_model_config mc;
    levi_model_config_default(&mc, LEVI_METHOD_LP);
    mc.num_classes = K;
    levi_model *m;
    ck_assert_levi_ok(levi_model_create(&m, g_ctx, &mc, bb, B));
    ck_assert_int_eq(levi_model_input_spec(m)->kind, LEVI_INPUT_TOKENS);
    ck_assert_int_eq(levi_model_feature_dim(m), D);
    levi_tensor ids = levi_model_input_pixels(m, B), mask = levi_model_input_mask(m, B);
    ck_assert_int_eq(ids.ndim, 2);
    ck_assert_int_eq(ids.shape[1], T);
    ck_assert_ptr_nonnull(mask.buf);
    float hid[B * T], hm[B * T], y[B];
    for (int i = 0; i < B * T; i++) {
        hid[i] = (float)((i * 7) % VOCAB);
        hm[i] = (i % T) < 2 + (i / T) % 3 ? 1.0f : 0.0f;
    }
    for (int i = 0; i < B; i++) y[i] = (float)(i % K);
    levi_tensor lab = levi_model_input_labels(m, B);
    ck_assert_levi_ok(levi_tensor_write(&ids, hid));
    ck_assert_levi_ok(levi_tensor_write(&mask, hm));
    ck_assert_levi_ok(levi_tensor_write(&lab, y));
    levi_adamw_cfg opt = {5e-2f, 0.9f, 0.999f, 1e-8f, 0.0f};
    float first = 0, last = 0;
    for (int t = 1; t <= 20; t++) {
        ck_assert_levi_ok(levi_model_zero_grad(m));
        ck_assert_levi_ok(levi_model_forward(m, &ids, NULL, &lab, B, &last, NULL));
        if (t == 1) first = last;
        ck_assert_levi_ok(levi_model_backward(m, B));
        ck_assert_levi_ok(levi_model_step(m, &opt, t, 0.0f, NULL));
    }
    ck_assert_msg(isfinite(last) && last < first, "the head did not learn on token features: %g -> %g",
                  (double)first, (double)last);
    /* an architecture this build cannot store is refused by name */
    char *dir = test_tmpdir(), path[600];
    snprintf(path, sizeof path, "%s/bag.safetensors", dir);
    ck_assert_int_ne(levi_model_save(m, path, NULL, 0, 0), LEVI_OK);
    ck_assert_msg(strstr(levi_last_error(), "'bag'") != NULL, "message: %s", levi_last_error());
    levi_model_free(m);
    free(dir);
    /* a pixel task model cannot read tokens */
    b = calloc(1, sizeof *b);
    ck_assert_levi_ok(levi_tensor_alloc2(&b->taps, g_ctx, 2 * B, D));
    ck_assert_levi_ok(levi_backbone_create(&bb, g_ctx, &k_bag_ops, b, &d));
    levi_model_config_default(&mc, LEVI_METHOD_LEVI);
    mc.num_classes = K;
    mc.ntaps = 1;
    ck_assert_int_eq(levi_model_create(&m, g_ctx, &mc, bb, B), LEVI_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(levi_last_error(), "tokens") != NULL, "message: %s", levi_last_error());
}
END_TEST

/* The device's loss and accuracy of a batch equal the host-read ones. */
START_TEST(device_metrics_match_the_host) {
    levi_model *m = tiny_model(g_ctx, g_ctx, LEVI_METHOD_LEVI, LEVI_FUSION_ENSEMBLE);
    float x[B * IMG * IMG], y[B];
    batch(x, y, 2);
    levi_tensor px = levi_model_input_pixels(m, B), lab = levi_model_input_labels(m, B);
    ck_assert_levi_ok(levi_tensor_write(&px, x));
    ck_assert_levi_ok(levi_tensor_write(&lab, y));
    ck_assert_levi_ok(levi_model_metrics_reset(m, LEVI_METRICS_EVAL, 1));
    float loss;
    int correct;
    double sum = 0;
    long right = 0;
    for (int r = 0; r < 3; r++) {
        ck_assert_levi_ok(levi_model_forward(m, &px, NULL, &lab, B, &loss, &correct));
        ck_assert_levi_ok(levi_model_metrics_accumulate(m, B, LEVI_METRICS_EVAL, r + 1));
        sum += (double)loss * B;
        right += correct;
    }
    levi_metrics mt;
    ck_assert_levi_ok(levi_model_metrics_read(m, LEVI_METRICS_EVAL, &mt));
    ck_assert_int_eq(mt.n, 3 * B);
    ck_assert_int_eq(mt.correct, right);
    ck_assert_int_eq(mt.last_correct, correct);
    ck_assert_msg(fabs(mt.loss_sum - sum) <= 1e-5 * sum, "device loss sum %.9g, host %.9g", mt.loss_sum, sum);
    ck_assert_msg(fabsf(mt.last_loss - loss) <= 1e-5f * loss, "device last loss %.9g, host %.9g", (double)mt.last_loss,
                  (double)loss);
    /* a NaN weight: the step is recorded, the update skipped */
    levi_params *P = levi_model_head_params(m);
    levi_tensor bias = levi_params_value(P, P->count - 2);
    ck_assert_levi_ok(levi_tensor_fill(&bias, NAN));
    ck_assert_levi_ok(levi_model_metrics_reset(m, LEVI_METRICS_TRAIN, 1));
    ck_assert_levi_ok(levi_model_zero_grad(m));
    ck_assert_levi_ok(levi_model_forward(m, &px, NULL, &lab, B, NULL, NULL));
    ck_assert_levi_ok(levi_model_metrics_accumulate(m, B, LEVI_METRICS_TRAIN, 7));
    ck_assert_levi_ok(levi_model_backward(m, B));
    levi_adamw_cfg opt = {1e-2f, 0.9f, 0.999f, 1e-8f, 0.01f};
    levi_tensor alpha = levi_params_value(P, P->count - 1);
    float a0[2], a1[2];
    ck_assert_levi_ok(levi_tensor_read(&alpha, a0));
    ck_assert_levi_ok(levi_model_step(m, &opt, 7, 1.0f, NULL));
    ck_assert_levi_ok(levi_tensor_read(&alpha, a1));
    ck_assert_msg(a0[0] == a1[0] && a0[1] == a1[1], "alpha moved in a step with a NaN gradient");
    ck_assert_levi_ok(levi_model_metrics_read(m, LEVI_METRICS_TRAIN, &mt));
    ck_assert_int_eq(mt.bad_loss_step, 7);
    ck_assert_int_eq(mt.bad_grad_step, 7);
    ck_assert_msg(isnan(mt.bad_loss), "bad loss %g", (double)mt.bad_loss);
    levi_model_free(m);
}
END_TEST

/* Features cached on the device or on the host in chunks: the same training
 * (levi, frozen backbone), weight for weight; not cached: the same within
 * rounding. */
START_TEST(feature_cache_modes_agree) {
    levi_dataset ds = synthetic(5 * B - 2); /* a short last batch */
    float *w[3];
    size_t n = 0;
    for (int mode = 0; mode < 3; mode++) {
        levi_model *m = tiny_model(g_ctx, g_ctx, LEVI_METHOD_LEVI, LEVI_FUSION_ENSEMBLE);
        levi_train_config tc;
        levi_train_config_default(&tc);
        tc.epochs = 2;
        tc.batch = B;
        tc.seed = 4;
        tc.cache_features = mode ? 1 : 0;
        levi_train_result r;
        if (mode == 2) {
            /* the host-chunk path, through the feed directly */
            levi_feed *f;
            ck_assert_levi_ok(levi_feed_create(&f, m, &ds, B, 1, tc.seed, 2));
            int resident = 1;
            ck_assert_int_eq(levi_feed_cached(f, &resident), 2);
            ck_assert_int_eq(resident, 0);
            levi_adamw_cfg opt = {tc.lr, 0.9f, 0.999f, 1e-8f, tc.wd};
            long t = 0;
            for (int e = 0; e < 2; e++) {
                ck_assert_levi_ok(levi_feed_epoch(f, e));
                levi_batch b;
                for (;;) {
                    ck_assert_levi_ok(levi_feed_next(f, &b));
                    if (!b.n) break;
                    ck_assert_levi_ok(levi_train_step(m, &b, &opt, ++t, tc.grad_clip));
                }
            }
            levi_feed_free(f);
        } else {
            ck_assert_levi_ok(levi_train(m, &ds, &tc, &r));
            ck_assert_int_eq(r.cached_features, mode ? 1 : 0);
        }
        w[mode] = params_of(m, &n);
        levi_model_free(m);
    }
    /* cached on the device or on the host: the same features, the same weights; without a cache the
     * features come from batches of another composition (a GEMM library may round rows differently) */
    test_check_close_f("host-chunk vs device feature cache: weights", w[2], w[1], n, 0, 0);
    test_check_rel_f("cached vs uncached features: weights", w[1], w[0], n, 1e-5, 0);
    for (int mode = 0; mode < 3; mode++) free(w[mode]);
    synthetic_free(&ds);
}
END_TEST

/* The memory plan of a batch, extrapolated from batches 64 and 128, equals
 * what the model asks for when built at that batch (within the rounding of
 * tensors to 64 floats); planning allocates nothing. */
static levi_status build_tiny(void *user, levi_ctx *head, levi_ctx *bb, int B, levi_model **out) {
    levi_method method = *(const levi_method *)user;
    levi_vit_config vc;
    tiny_vit(&vc);
    int mode = levi_method_backbone_mode(method);
    levi_vit *v;
    LEVI_TRY(levi_vit_create(&v, bb, &vc, B, mode, mode == LEVI_BACKBONE_LORA ? 2 : 0));
    levi_backbone *bbk;
    LEVI_TRY(levi_backbone_from_vit(&bbk, bb, v));
    levi_model_config mc;
    levi_model_config_default(&mc, method);
    mc.num_classes = K;
    mc.height = mc.width = IMG;
    return levi_model_create(out, head, &mc, bbk, B);
}

START_TEST(memory_plan_extrapolates) {
    const levi_method methods[3] = {LEVI_METHOD_FT, LEVI_METHOD_LEVI_LORA, LEVI_METHOD_LEVI};
    for (int i = 0; i < 6; i++) {
        levi_method me = methods[i % 3];
        const int batch = i < 3 ? 192 : 37;
        levi_mem_plan p;
        ck_assert_levi_ok(levi_mem_plan_run(&p, g_ctx, g_ctx, build_tiny, &me, batch, 0, 0));
        levi_mem_tally t;
        levi_ctx_plan_begin(g_ctx, &t);
        levi_model *m = NULL;
        ck_assert_levi_ok(build_tiny(&me, g_ctx, g_ctx, batch, &m));
        levi_model_free(m);
        levi_ctx_plan_end(g_ctx);
        ck_assert_msg(t.total > 0 && t.allocations > 3, "nothing counted");
        const levi_mem_stage *s = &p.stage[0];
        /* the staging the plan adds for the trainer: 3 slots of a label per sample */
        double counted = s->params + s->grads + s->optimizer + s->activations - 3.0 * sizeof(float) * batch;
        double slack = batch % 64 ? 256.0 * (double)t.allocations * 64 : 0.5; /* 64-float rounding */
        ck_assert_msg(fabs(counted - (double)t.total) <= slack, "%s: planned %.0f bytes at batch %d, built %llu",
                      levi_method_name(me), counted, batch, t.total);
        ck_assert_msg(counted + slack >= (double)t.total, "%s: the plan is short", levi_method_name(me));
        ck_assert_msg(fabs(s->largest_alloc - (double)t.largest_alloc) <= slack, "%s: largest buffer %.0f vs %llu",
                      levi_method_name(me), s->largest_alloc, t.largest_alloc);
        /* AdamW keeps two moments of every gradient */
        ck_assert_msg(s->grads > 0 && fabs(s->optimizer - 2 * s->grads) < 0.5, "%s: gradients %.0f, optimizer %.0f",
                      levi_method_name(me), s->grads, s->optimizer);
        /* the largest batch that fits fits, one more does not */
        int fit = levi_mem_plan_fit(&p, 1 << 30);
        ck_assert_int_gt(fit, batch);
        ck_assert_levi_ok(levi_mem_plan_check(&p, "test", NULL));
    }
}
END_TEST

int main(void) {
    if (!test_have_device()) return TEST_SKIP;
    levi_log_init();
    Suite *s = suite_create("engine");
    TCase *tc = tcase_create("engine");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, counters_and_async_transfers);
    tcase_add_test(tc, profiling_times_kernels);
    tcase_add_test(tc, two_stages_levi);
    tcase_add_test(tc, two_stages_levi_lora_ensemble);
    tcase_add_test(tc, two_stages_ft);
    tcase_add_test(tc, shards_sum_to_the_global_batch);
    tcase_add_test(tc, token_backbone_fits_the_head);
    engine_steps_tests(tc);
    tcase_add_test(tc, device_metrics_match_the_host);
    tcase_add_test(tc, feature_cache_modes_agree);
    tcase_add_test(tc, memory_plan_extrapolates);
    suite_add_tcase(s, tc);
    if (levi_ctx_open(&g_ctx, NULL) != LEVI_OK) {
        fprintf(stderr, "no context: %s\n", levi_last_error());
        return 1;
    }
    int rc = test_run(s);
    levi_ctx_destroy(g_ctx);
    return rc;
}
