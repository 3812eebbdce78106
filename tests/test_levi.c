/* LEVI model: forward loss, logits and every trainable gradient against the
 * PyTorch reference of tools/golden_levi.py (concat + mlp, ensemble + mlp,
 * concat + cnn, late + mlp), late fusion's distillation gradient against finite
 * differences, the feature-cache path, a frozen backbone that never moves,
 * the save → load round trip, and bad configurations / files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "levi/levi_model.h"
#include "levi/safetensors.h"
#include "testutil.h"

/* the tiny configuration of tools/golden_levi.py */

/* The ViT v as a model's backbone (taken over). */
static levi_backbone *vit_backbone(levi_ctx *ctx, levi_vit *v) {
    levi_backbone *bb = NULL;
    ck_assert_levi_ok(levi_backbone_from_vit(&bb, ctx, v));
    return bb;
}
enum { B = 5, IMG = 8, K = 3, HZ = 12, AH = 10, CNN1 = 4, CNN2 = 6 };
static const int k_taps[2] = {0, 2};

#define LOSS_RTOL 1e-4
#define GRAD_RTOL 1e-3
#define LOGIT_ATOL 1e-4

static levi_ctx *g_ctx;

static void tiny_vit_config(levi_vit_config *c) {
    levi_vit_config_default(c);
    c->image_size = IMG;
    c->patch_size = 4;
    c->num_channels = 1;
    c->hidden_size = 16;
    c->num_hidden_layers = 2;
    c->num_attention_heads = 2;
    c->intermediate_size = 32;
    c->layer_norm_eps = 1e-12f;
    c->qkv_bias = 1;
    c->image_mean = 0.0f;
    c->image_std = 1.0f;
}

static void tiny_model_config(levi_model_config *c, levi_fusion fusion, levi_task_kind task) {
    levi_model_config_default(c, LEVI_METHOD_LEVI);
    c->num_classes = K;
    c->channels = 1;
    c->height = c->width = IMG;
    c->task.kind = task;
    c->task.hidden = HZ;
    c->task.conv1 = CNN1;
    c->task.conv2 = CNN2;
    c->ntaps = 2;
    c->taps[0] = k_taps[0];
    c->taps[1] = k_taps[1];
    c->fusion = fusion;
    c->adapter_linear = 0;
    c->adapter_hidden = AH;
    c->lambda = 0.5f;
}

/* The golden arrays as an in-memory safetensors (views, not owned). */
static levi_safetensors as_safetensors(const golden_file *g) {
    levi_safetensors st;
    memset(&st, 0, sizeof st);
    st.count = g->count;
    st.tensors = calloc((size_t)g->count, sizeof *st.tensors);
    for (int i = 0; i < g->count; i++) {
        levi_st_tensor *t = &st.tensors[i];
        t->name = g->arrays[i].name;
        t->ndim = g->arrays[i].ndim;
        for (int d = 0; d < t->ndim; d++) t->shape[d] = g->arrays[i].shape[d];
        t->numel = g->arrays[i].numel;
        t->data = g->arrays[i].data;
    }
    return st;
}

static const golden_array *need(const golden_file *g, const char *name) {
    const golden_array *a = golden_get(g, name);
    ck_assert_msg(a != NULL, "golden array '%s' is missing", name);
    return a;
}

/* A model built from a golden file, weights loaded, one forward with labels. */
static levi_model *golden_model(golden_file *g, const char *file, levi_fusion fusion, levi_task_kind task,
                                float *loss) {
    char path[1024], err[512];
    golden_path(path, sizeof path, file);
    ck_assert_msg(golden_load(g, path, err, sizeof err) == 0, "%s", err);
    levi_vit_config vc;
    tiny_vit_config(&vc);
    levi_vit *v;
    ck_assert_levi_ok(levi_vit_create(&v, g_ctx, &vc, B, LEVI_VIT_FROZEN, 0));
    levi_model_config mc;
    tiny_model_config(&mc, fusion, task);
    levi_model *m;
    ck_assert_levi_ok(levi_model_create(&m, g_ctx, &mc, vit_backbone(g_ctx, v), B));
    levi_safetensors st = as_safetensors(g);
    ck_assert_levi_ok(levi_model_read_weights(m, &st, path, 0));
    free(st.tensors);
    levi_tensor px = levi_model_input_pixels(m, B), lab = levi_model_input_labels(m, B);
    ck_assert_levi_ok(levi_tensor_write(&px, need(g, "x")->data));
    ck_assert_levi_ok(levi_tensor_write(&lab, need(g, "labels")->data));
    ck_assert_levi_ok(levi_model_zero_grad(m));
    ck_assert_levi_ok(levi_model_forward(m, &px, NULL, &lab, B, loss, NULL));
    return m;
}

static void check_logits(levi_model *m, const golden_file *g, const char *what) {
    float lg[B * K];
    levi_tensor t = levi_model_logits(m, B);
    ck_assert_levi_ok(levi_tensor_read(&t, lg));
    const golden_array *ref = need(g, "logits");
    char name[160];
    snprintf(name, sizeof name, "%s: logits vs PyTorch", what);
    test_check_close_f(name, lg, ref->data, (size_t)B * K, LOGIT_ATOL, 0);
}

static void check_golden(const char *file, levi_fusion fusion, levi_task_kind task) {
    golden_file g;
    float loss;
    levi_model *m = golden_model(&g, file, fusion, task, &loss);
    double ref = need(&g, "loss")->data[0];
    char what[160];
    snprintf(what, sizeof what, "%s: loss vs PyTorch", file);
    test_check_value(what, loss, ref, 0, LOSS_RTOL);
    check_logits(m, &g, file);
    ck_assert_levi_ok(levi_model_backward(m, B));
    levi_params *P = levi_model_head_params(m);
    int checked = 0;
    for (int i = 0; i < P->count; i++) {
        char name[160];
        snprintf(name, sizeof name, "grad.head.%s", P->list[i].name);
        const golden_array *r = need(&g, name);
        ck_assert_int_eq((int)r->numel, (int)P->list[i].numel);
        float *got = malloc(r->numel * sizeof *got);
        levi_tensor gt = levi_params_grad(P, i);
        ck_assert_levi_ok(levi_tensor_read(&gt, got));
        snprintf(what, sizeof what, "%s: gradient of %s vs PyTorch", file, P->list[i].name);
        test_check_rel_f(what, got, r->data, r->numel, GRAD_RTOL, 1e-12);
        free(got);
        checked++;
    }
    ck_assert_int_ge(checked, 6);
    levi_model_free(m);
    golden_free(&g);
}

START_TEST(golden_concat_mlp) { check_golden("levi_concat.bin", LEVI_FUSION_CONCAT, LEVI_TASK_MLP); }
END_TEST

START_TEST(golden_ensemble_mlp) { check_golden("levi_ensemble.bin", LEVI_FUSION_ENSEMBLE, LEVI_TASK_MLP); }
END_TEST

START_TEST(golden_concat_cnn) { check_golden("levi_cnn.bin", LEVI_FUSION_CONCAT, LEVI_TASK_CNN); }
END_TEST

START_TEST(golden_late_mlp) { check_golden("levi_late.bin", LEVI_FUSION_LATE, LEVI_TASK_MLP); }
END_TEST

/* Precomputed (cached) tap features give the same loss; a training step never
 * changes the frozen backbone's features. */
START_TEST(feature_cache_and_frozen_backbone) {
    golden_file g;
    float loss;
    levi_model *m = golden_model(&g, "levi_ensemble.bin", LEVI_FUSION_ENSEMBLE, LEVI_TASK_MLP, &loss);
    ck_assert_int_eq(levi_model_features_cacheable(m), 1);
    ck_assert_int_eq(levi_backbone_trainable(levi_model_backbone(m), NULL, NULL, NULL, NULL), 0);
    int Fd = levi_model_feature_dim(m);
    ck_assert_int_eq(Fd, 2 * 16);
    levi_tensor px = levi_model_input_pixels(m, B), lab = levi_model_input_labels(m, B);
    levi_tensor tf = levi_model_input_feats(m, B);
    ck_assert_levi_ok(levi_model_features(m, &px, &tf, B));
    float *before = malloc((size_t)B * Fd * sizeof *before), *after = malloc((size_t)B * Fd * sizeof *after);
    ck_assert_levi_ok(levi_tensor_read(&tf, before));
    float loss2;
    ck_assert_levi_ok(levi_model_zero_grad(m));
    ck_assert_levi_ok(levi_model_forward(m, &px, &tf, &lab, B, &loss2, NULL));
    ck_assert_msg(loss2 == loss, "cached-feature loss %.9g differs from the backbone loss %.9g", (double)loss2,
                  (double)loss);
    ck_assert_levi_ok(levi_model_backward(m, B));
    levi_adamw_cfg opt = {1e-2f, 0.9f, 0.999f, 1e-8f, 0.01f};
    ck_assert_levi_ok(levi_model_step(m, &opt, 1, 1.0f, NULL));
    ck_assert_levi_ok(levi_model_features(m, &px, &tf, B));
    ck_assert_levi_ok(levi_tensor_read(&tf, after));
    for (int i = 0; i < B * Fd; i++)
        ck_assert_msg(before[i] == after[i], "frozen backbone feature %d moved: %g -> %g", i, (double)before[i],
                      (double)after[i]);
    /* and the head did move: the loss changed */
    float loss3;
    ck_assert_levi_ok(levi_model_forward(m, &px, NULL, &lab, B, &loss3, NULL));
    ck_assert_msg(loss3 < loss, "one AdamW step did not lower the loss (%g -> %g)", (double)loss, (double)loss3);
    free(before);
    free(after);
    levi_model_free(m);
    golden_free(&g);
}
END_TEST

/* save → load → identical logits; the file names its method and classes. */
START_TEST(save_load_round_trip) {
    golden_file g;
    float loss;
    levi_model *m = golden_model(&g, "levi_cnn.bin", LEVI_FUSION_CONCAT, LEVI_TASK_CNN, &loss);
    const char *names[K] = {"ant", "bee", "cat"};
    ck_assert_levi_ok(levi_model_set_class_names(m, names, K));
    float a[B * K], b[B * K];
    levi_tensor t = levi_model_logits(m, B);
    ck_assert_levi_ok(levi_tensor_read(&t, a));
    char *dir = test_tmpdir(), path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    ck_assert_levi_ok(levi_model_save(m, path, NULL, 0, 0));
    levi_model *m2;
    ck_assert_levi_ok(levi_model_load(&m2, g_ctx, path, B, 0));
    const levi_model_config *c2 = levi_model_get_config(m2);
    ck_assert_int_eq(c2->method, LEVI_METHOD_LEVI);
    ck_assert_int_eq(c2->task.kind, LEVI_TASK_CNN);
    ck_assert_int_eq(c2->ntaps, 2);
    ck_assert_int_eq(c2->taps[1], 2);
    ck_assert_str_eq(levi_model_class_names(m2)[2], "cat");
    levi_tensor px = levi_model_input_pixels(m2, B);
    ck_assert_levi_ok(levi_tensor_write(&px, need(&g, "x")->data));
    ck_assert_levi_ok(levi_model_forward(m2, &px, NULL, NULL, B, NULL, NULL));
    t = levi_model_logits(m2, B);
    ck_assert_levi_ok(levi_tensor_read(&t, b));
    for (int i = 0; i < B * K; i++)
        ck_assert_msg(a[i] == b[i], "logit %d after reload: %.9g vs %.9g", i, (double)b[i], (double)a[i]);
    /* loaded for inference: no gradient storage, backward refuses */
    levi_tensor lab2 = levi_model_input_labels(m2, B);
    ck_assert_levi_ok(levi_tensor_write(&lab2, need(&g, "labels")->data));
    ck_assert_levi_ok(levi_model_forward(m2, &px, NULL, &lab2, B, NULL, NULL));
    ck_assert_int_eq(levi_model_backward(m2, B), LEVI_ERR_INVALID_ARG);
    ck_assert_ptr_null(levi_model_head_params(m2)->grads.buf);
    /* predict: probabilities sum to one and follow the logits */
    float probs[B * K], imgs[B * IMG * IMG];
    for (int i = 0; i < B * IMG * IMG; i++) imgs[i] = need(&g, "x")->data[i]; /* mean 0, std 1 */
    ck_assert_levi_ok(levi_model_predict(m2, imgs, B, probs));
    for (int r = 0; r < B; r++) {
        double s = 0;
        for (int k = 0; k < K; k++) s += probs[r * K + k];
        ck_assert_msg(fabs(s - 1) < 1e-5, "probabilities of row %d sum to %g", r, s);
    }
    levi_model_free(m2);

    /* a truncated copy is refused with a message naming the file */
    char bad[700];
    snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
    FILE *in = fopen(path, "rb"), *out = fopen(bad, "wb");
    char buf[300];
    size_t n = fread(buf, 1, sizeof buf, in);
    fwrite(buf, 1, n, out);
    fclose(in);
    fclose(out);
    ck_assert_int_ne(levi_model_load(&m2, g_ctx, bad, B, 0), LEVI_OK);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "bad.safetensors"));
    /* a valid safetensors that is not a model */
    levi_st_writer *w;
    ck_assert_levi_ok(levi_st_writer_create(&w));
    long long one = 1;
    float zero = 0;
    ck_assert_levi_ok(levi_st_writer_add(w, "x", 1, &one, &zero));
    ck_assert_levi_ok(levi_st_writer_write(w, bad));
    levi_st_writer_free(w);
    ck_assert_int_eq(levi_model_load(&m2, g_ctx, bad, B, 0), LEVI_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "not a levi-cl model file"));
    levi_model_free(m);
    golden_free(&g);
    free(dir);
}
END_TEST

START_TEST(bad_configurations) {
    levi_method me;
    ck_assert_int_eq(levi_method_parse("finetune", &me), LEVI_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "finetune"));
    ck_assert_levi_ok(levi_method_parse("levi+lora", &me));
    ck_assert_int_eq(me, LEVI_METHOD_LEVI_LORA);
    levi_vit_config vc;
    tiny_vit_config(&vc);
    levi_model_config mc;
    tiny_model_config(&mc, LEVI_FUSION_CONCAT, LEVI_TASK_MLP);
    levi_vit *v;
    levi_model *m;
    mc.taps[1] = 3; /* depth is 2: taps are 0..2 */
    ck_assert_levi_ok(levi_vit_create(&v, g_ctx, &vc, B, LEVI_VIT_FROZEN, 0));
    ck_assert_int_eq(levi_model_create(&m, g_ctx, &mc, vit_backbone(g_ctx, v), B), LEVI_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "tap 3 is out of range"));
    /* a levi model needs a frozen backbone; ft a full one */
    tiny_model_config(&mc, LEVI_FUSION_CONCAT, LEVI_TASK_MLP);
    ck_assert_levi_ok(levi_vit_create(&v, g_ctx, &vc, B, LEVI_VIT_FULL, 0));
    ck_assert_int_eq(levi_model_create(&m, g_ctx, &mc, vit_backbone(g_ctx, v), B), LEVI_ERR_INVALID_ARG);
    /* scratch without a backbone works, with one does not */
    levi_model_config_default(&mc, LEVI_METHOD_SCRATCH);
    mc.height = mc.width = IMG;
    mc.num_classes = K;
    ck_assert_levi_ok(levi_model_create(&m, g_ctx, &mc, NULL, B));
    ck_assert_int_eq(levi_model_feature_dim(m), 0);
    ck_assert_int_eq(levi_model_features_cacheable(m), 0);
    levi_model_free(m);
    mc.num_classes = 1;
    ck_assert_int_eq(levi_model_create(&m, g_ctx, &mc, NULL, B), LEVI_ERR_INVALID_ARG);
}
END_TEST

/* A model of the backbone_fd tests (the same weights for the same arguments). */
static levi_model *fd_model(levi_method method, int mode, int rank, levi_fusion fusion, float lambda) {
    levi_vit_config vc;
    tiny_vit_config(&vc);
    levi_vit *v;
    ck_assert_levi_ok(levi_vit_create(&v, g_ctx, &vc, B, mode, rank));
    ck_assert_levi_ok(levi_vit_init_random(v, 11));
    levi_model_config mc;
    tiny_model_config(&mc, fusion, LEVI_TASK_MLP);
    mc.method = method;
    mc.lora_rank = rank;
    mc.seed = 5;
    mc.lambda = lambda;
    if (method == LEVI_METHOD_FT) mc.ntaps = 0;
    levi_model *m;
    ck_assert_levi_ok(levi_model_create(&m, g_ctx, &mc, vit_backbone(g_ctx, v), B));
    return m;
}

/* Gradients that reach a trainable backbone (levi+lora through both taps of
 * an ensemble, or through the backbone view of late fusion; ft through the
 * final CLS) against central finite differences of the loss, at the
 * largest-gradient parameters. Late fusion trains the views on their own
 * losses only: its backbone gradient is that of lambda · mean CE(view), the
 * finite difference of the loss minus the loss of the same model with
 * lambda 0 (the mixture's CE alone). */
static void backbone_fd(levi_method method, int mode, int rank, levi_fusion fusion) {
    levi_model *m = fd_model(method, mode, rank, fusion, 0.5f);
    levi_model *m0 = fusion == LEVI_FUSION_LATE ? fd_model(method, mode, rank, fusion, 0.0f) : NULL;
    levi_tensor tp0;
    if (m0) ck_assert_int_eq(levi_backbone_trainable(levi_model_backbone(m0), &tp0, NULL, NULL, NULL), 1);
    ck_assert_int_eq(levi_model_features_cacheable(m), 0);
    float x[B * IMG * IMG], y[B] = {0, 1, 2, 1, 0};
    test_fill_uniform(x, B * IMG * IMG, 9, -1.5f, 1.5f);
    levi_tensor px = levi_model_input_pixels(m, B), lab = levi_model_input_labels(m, B);
    ck_assert_levi_ok(levi_tensor_write(&px, x));
    ck_assert_levi_ok(levi_tensor_write(&lab, y));
    float loss;
    ck_assert_levi_ok(levi_model_zero_grad(m));
    ck_assert_levi_ok(levi_model_forward(m, &px, NULL, &lab, B, &loss, NULL));
    ck_assert_levi_ok(levi_model_backward(m, B));
    levi_tensor tp, tg;
    ck_assert_int_eq(levi_backbone_trainable(levi_model_backbone(m), &tp, &tg, NULL, NULL), 1);
    size_t n = tp.numel;
    float *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g);
    ck_assert_levi_ok(levi_tensor_read(&tp, p));
    ck_assert_levi_ok(levi_tensor_read(&tg, g));
    int checked = 0;
    for (int r = 0; r < 4; r++) {
        size_t j = 0;
        for (size_t i = 1; i < n; i++)
            if (fabsf(g[i]) > fabsf(g[j])) j = i;
        double gj = g[j];
        g[j] = 0; /* next round picks the next largest */
        if (fabs(gj) < 1e-4) break;
        const float eps = 1e-2f;
        float saved = p[j], lp, lm, lp0 = 0, lm0 = 0;
        p[j] = saved + eps;
        ck_assert_levi_ok(levi_tensor_write(&tp, p));
        ck_assert_levi_ok(levi_model_forward(m, &px, NULL, &lab, B, &lp, NULL));
        if (m0) ck_assert_levi_ok(levi_tensor_write(&tp0, p));
        if (m0) ck_assert_levi_ok(levi_model_forward(m0, &px, NULL, &lab, B, &lp0, NULL));
        p[j] = saved - eps;
        ck_assert_levi_ok(levi_tensor_write(&tp, p));
        ck_assert_levi_ok(levi_model_forward(m, &px, NULL, &lab, B, &lm, NULL));
        if (m0) ck_assert_levi_ok(levi_tensor_write(&tp0, p));
        if (m0) ck_assert_levi_ok(levi_model_forward(m0, &px, NULL, &lab, B, &lm0, NULL));
        p[j] = saved;
        ck_assert_levi_ok(levi_tensor_write(&tp, p));
        if (m0) ck_assert_levi_ok(levi_tensor_write(&tp0, p));
        lp -= lp0;
        lm -= lm0;
        char what[160];
        snprintf(what, sizeof what, "%s: backbone parameter %zu: finite difference vs gradient",
                 levi_method_name(method), j);
        test_check_value(what, ((double)lp - lm) / (2.0 * eps), gj, 0, 3e-2);
        checked++;
    }
    ck_assert_msg(checked >= 2, "%s: backbone gradients are (nearly) zero", levi_method_name(method));
    free(p);
    free(g);
    levi_model_free(m);
    levi_model_free(m0);
}

START_TEST(backbone_gradients_levi_lora) { backbone_fd(LEVI_METHOD_LEVI_LORA, LEVI_VIT_LORA, 2, LEVI_FUSION_ENSEMBLE); }
END_TEST

START_TEST(backbone_gradients_levi_lora_late) {
    backbone_fd(LEVI_METHOD_LEVI_LORA, LEVI_VIT_LORA, 2, LEVI_FUSION_LATE);
}
END_TEST

START_TEST(backbone_gradients_ft) { backbone_fd(LEVI_METHOD_FT, LEVI_VIT_FULL, 0, LEVI_FUSION_CONCAT); }
END_TEST

/* Late fusion with distill d: the task view's gradient gains that of
 * d · CE(p_feats, p_z), the backbone view's probabilities a constant. The
 * same model without it (distill 0, the same weights) has the same loss
 * minus d · CE: at the parameters where the two gradients differ most (the
 * task view's), their difference against central finite differences of the
 * difference of the losses. */
START_TEST(late_distill_gradients) {
    levi_model *mm[2];
    for (int i = 0; i < 2; i++) {
        levi_model_config mc;
        tiny_model_config(&mc, LEVI_FUSION_LATE, LEVI_TASK_MLP);
        mc.seed = 5;
        mc.distill = i ? 0.7f : 0.0f;
        levi_vit_config vc;
        tiny_vit_config(&vc);
        levi_vit *v;
        ck_assert_levi_ok(levi_vit_create(&v, g_ctx, &vc, B, LEVI_VIT_FROZEN, 0));
        ck_assert_levi_ok(levi_vit_init_random(v, 11));
        ck_assert_levi_ok(levi_model_create(&mm[i], g_ctx, &mc, vit_backbone(g_ctx, v), B));
    }
    {
        /* only late fusion has a backbone view to learn from */
        levi_model_config mc;
        tiny_model_config(&mc, LEVI_FUSION_CONCAT, LEVI_TASK_MLP);
        mc.distill = 0.7f;
        levi_vit_config vc;
        tiny_vit_config(&vc);
        levi_vit *v;
        levi_model *bad;
        ck_assert_levi_ok(levi_vit_create(&v, g_ctx, &vc, B, LEVI_VIT_FROZEN, 0));
        ck_assert_int_eq(levi_model_create(&bad, g_ctx, &mc, vit_backbone(g_ctx, v), B), LEVI_ERR_INVALID_ARG);
        ck_assert_ptr_nonnull(strstr(levi_last_error(), "needs late fusion"));
    }
    float x[B * IMG * IMG], y[B] = {0, 1, 2, 1, 0}, loss[2];
    test_fill_uniform(x, B * IMG * IMG, 9, -1.5f, 1.5f);
    levi_grad_group g[2];
    float *p = NULL, *gr[2] = {NULL, NULL};
    size_t n = 0;
    for (int i = 0; i < 2; i++) {
        levi_tensor px = levi_model_input_pixels(mm[i], B), lab = levi_model_input_labels(mm[i], B);
        ck_assert_levi_ok(levi_tensor_write(&px, x));
        ck_assert_levi_ok(levi_tensor_write(&lab, y));
        ck_assert_levi_ok(levi_model_zero_grad(mm[i]));
        ck_assert_levi_ok(levi_model_forward(mm[i], &px, NULL, &lab, B, &loss[i], NULL));
        ck_assert_levi_ok(levi_model_backward(mm[i], B));
        ck_assert_int_eq(levi_model_grad_groups(mm[i], &g[i], 1), 1);
        n = g[i].params.numel;
        gr[i] = malloc(n * sizeof *gr[i]);
        ck_assert_levi_ok(levi_tensor_read(&g[i].grads, gr[i]));
    }
    ck_assert_int_eq(g[0].params.numel, g[1].params.numel);
    ck_assert_msg(loss[1] > loss[0], "distill: loss %g is not above %g without it", loss[1], loss[0]);
    p = malloc(n * sizeof *p);
    ck_assert_levi_ok(levi_tensor_read(&g[0].params, p));
    size_t changed = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(isfinite(gr[0][i]) && isfinite(gr[1][i]), "gradient %zu is not finite", i);
        gr[1][i] -= gr[0][i];
        changed += gr[1][i] != 0;
    }
    ck_assert_msg(changed > 0, "distill changed no gradient");
    for (int r = 0; r < 4; r++) {
        size_t j = 0;
        for (size_t i = 1; i < n; i++)
            if (fabsf(gr[1][i]) > fabsf(gr[1][j])) j = i;
        double gj = gr[1][j];
        gr[1][j] = 0;
        ck_assert_msg(fabs(gj) > 1e-4, "distill: gradient difference %g is (nearly) zero", gj);
        const float eps = 1e-2f, saved = p[j];
        float l[2][2];
        for (int s = 0; s < 2; s++) {
            p[j] = saved + (s ? -eps : eps);
            for (int i = 0; i < 2; i++) {
                levi_tensor px = levi_model_input_pixels(mm[i], B), lab = levi_model_input_labels(mm[i], B);
                ck_assert_levi_ok(levi_tensor_write(&g[i].params, p));
                ck_assert_levi_ok(levi_model_forward(mm[i], &px, NULL, &lab, B, &l[s][i], NULL));
            }
        }
        p[j] = saved;
        for (int i = 0; i < 2; i++) ck_assert_levi_ok(levi_tensor_write(&g[i].params, p));
        char what[120];
        snprintf(what, sizeof what, "distill: parameter %zu: finite difference vs gradient", j);
        test_check_value(what, ((double)(l[0][1] - l[0][0]) - (l[1][1] - l[1][0])) / (2.0 * eps), gj, 0, 3e-2);
    }
    free(p);
    free(gr[0]);
    free(gr[1]);
    levi_model_free(mm[0]);
    levi_model_free(mm[1]);
}
END_TEST

int main(void) {
    if (!test_have_device()) return TEST_SKIP;
    Suite *s = suite_create("levi");
    TCase *tc = tcase_create("model");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, golden_concat_mlp);
    tcase_add_test(tc, golden_ensemble_mlp);
    tcase_add_test(tc, golden_concat_cnn);
    tcase_add_test(tc, golden_late_mlp);
    tcase_add_test(tc, feature_cache_and_frozen_backbone);
    tcase_add_test(tc, save_load_round_trip);
    tcase_add_test(tc, bad_configurations);
    tcase_add_test(tc, backbone_gradients_levi_lora);
    tcase_add_test(tc, backbone_gradients_levi_lora_late);
    tcase_add_test(tc, backbone_gradients_ft);
    tcase_add_test(tc, late_distill_gradients);
    suite_add_tcase(s, tc);
    levi_log_init();
    g_ctx = NULL;
    levi_status st = levi_ctx_open(&g_ctx, NULL);
    if (st != LEVI_OK) {
        fprintf(stderr, "no context: %s\n", levi_last_error());
        return 1;
    }
    int rc = test_run(s);
    levi_ctx_destroy(g_ctx);
    return rc;
}
