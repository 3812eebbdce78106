/* A LEVI model (or one of its baselines): configuration, validation against
 * its backbone, the plan of its parameters and activations, and accessors.
 * Forward, backward and the update are in levi_model_step.c.
 *
 *   feats (B, F) = [h_t1; ...; h_tk], F = k·D      (backbone CLS taps)
 *   z     (B, hz) = g(x)   (pixels, or token ids with their mask)
 *   concat  : x (B, F+hz) = [feats; z], logits = A(x)
 *   ensemble: x_l (B, D+hz) = [h_l; z], logits_l = A_l(x_l),
 *             logits = Σ_l w_l logits_l with w = softmax(alpha),
 *             loss = CE(logits) + lambda · mean_l CE(logits_l)
 *   late    : views v = {feats, z}, logits_v = A_v(v) (A_z one Linear),
 *             logits = Σ_v w_v logits_v with w = softmax(alpha),
 *             loss = CE(logits) + lambda · mean_v CE(logits_v); the views
 *             get only the gradient of their own CE, alpha only that of CE(logits) */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "levi_model_internal.h"

const char *levi_method_name(levi_method m) {
    static const char *names[] = {"scratch", "lp", "ft", "lora", "levi", "levi+lora"};
    return (m >= 0 && m <= LEVI_METHOD_LEVI_LORA) ? names[m] : "unknown";
}

const char *levi_fusion_name(levi_fusion f) {
    return f == LEVI_FUSION_ENSEMBLE ? "ensemble" : f == LEVI_FUSION_LATE ? "late" : "concat";
}

levi_status levi_method_parse(const char *name, levi_method *out) {
    for (int m = 0; m <= LEVI_METHOD_LEVI_LORA; m++)
        if (name && !strcmp(name, levi_method_name((levi_method)m))) {
            *out = (levi_method)m;
            return LEVI_OK;
        }
    return levi_error(LEVI_ERR_INVALID_ARG, "unknown method '%s' (expected scratch, lp, ft, lora, levi or levi+lora)",
                      name ? name : "(null)");
}

int levi_method_backbone_mode(levi_method m) {
    switch (m) {
    case LEVI_METHOD_SCRATCH: return -1;
    case LEVI_METHOD_FT: return LEVI_BACKBONE_FULL;
    case LEVI_METHOD_LORA:
    case LEVI_METHOD_LEVI_LORA: return LEVI_BACKBONE_LORA;
    default: return LEVI_BACKBONE_FROZEN;
    }
}

static int method_has_g(levi_method m) {
    return m == LEVI_METHOD_SCRATCH || m == LEVI_METHOD_LEVI || m == LEVI_METHOD_LEVI_LORA;
}

void levi_model_config_default(levi_model_config *c, levi_method m) {
    memset(c, 0, sizeof *c);
    c->method = m;
    c->num_classes = 10;
    c->channels = 1;
    c->height = c->width = 28;
    c->image_mean = 0.5f;
    c->image_std = 0.5f;
    c->task.kind = method_has_g(m) ? LEVI_TASK_MLP : LEVI_TASK_NONE;
    c->task.hidden = 128;
    c->task.conv1 = 16;
    c->task.conv2 = 32;
    c->task.buckets = 32768;
    c->task.embed = 64;
    /* late fusion for levi: measured by `levi-cl study` (README, "Method work") */
    c->fusion = m == LEVI_METHOD_LEVI || m == LEVI_METHOD_LEVI_LORA ? LEVI_FUSION_LATE : LEVI_FUSION_CONCAT;
    c->adapter_linear = !(m == LEVI_METHOD_LEVI || m == LEVI_METHOD_LEVI_LORA);
    c->adapter_hidden = 128;
    c->lambda = 0.5f;
    c->distill = 0.0f;
    c->lora_rank = 4;
}

static levi_status validate(levi_model_config *c, const levi_backbone *v) {
    if (c->method < 0 || c->method > LEVI_METHOD_LEVI_LORA)
        return levi_error(LEVI_ERR_INVALID_ARG, "unknown method %d", (int)c->method);
    if (c->num_classes < 2 || c->num_classes > 100000)
        return levi_error(LEVI_ERR_INVALID_ARG, "num_classes %d is not in 2..100000", c->num_classes);
    int mode = levi_method_backbone_mode(c->method);
    if (mode < 0 && v) return levi_error(LEVI_ERR_INVALID_ARG, "method scratch takes no backbone");
    if (mode >= 0 && !v)
        return levi_error(LEVI_ERR_INVALID_ARG, "method %s needs a backbone", levi_method_name(c->method));
    if (v && levi_backbone_train_mode(v) != mode)
        return levi_error(LEVI_ERR_INVALID_ARG, "method %s needs a backbone in train mode %d, got %d",
                          levi_method_name(c->method), mode, levi_backbone_train_mode(v));
    /* the model's input view: the backbone's, else the configured one */
    if (v) {
        const levi_input_spec *in = &levi_backbone_get_desc(v)->input;
        c->input = in->kind;
        if (in->kind == LEVI_INPUT_PIXELS) {
            if (c->channels != in->channels || c->height != in->height || c->width != in->width)
                return levi_error(LEVI_ERR_SHAPE, "images (%d,%d,%d) do not fit the backbone's input (%d,%d,%d)",
                                  c->channels, c->height, c->width, in->channels, in->height, in->width);
            c->image_mean = in->mean;
            c->image_std = in->std;
        } else {
            c->seq_len = in->seq_len;
        }
    }
    if (c->input != LEVI_INPUT_PIXELS && c->input != LEVI_INPUT_TOKENS)
        return levi_error(LEVI_ERR_INVALID_ARG, "input kind %d is not pixels (0) or tokens (1)", (int)c->input);
    if (c->input == LEVI_INPUT_TOKENS) {
        if (c->seq_len < 1 || c->seq_len > (1 << 20))
            return levi_error(LEVI_ERR_INVALID_ARG, "token input of %d tokens: expected 1..%d", c->seq_len, 1 << 20);
        c->channels = c->height = c->width = 0;
    } else {
        c->seq_len = 0;
    }
    if (!method_has_g(c->method)) c->task.kind = LEVI_TASK_NONE;
    else if (c->task.kind == LEVI_TASK_NONE) c->task.kind = c->input == LEVI_INPUT_TOKENS ? LEVI_TASK_NGRAM : LEVI_TASK_MLP;
    c->task.channels = c->channels;
    c->task.height = c->height;
    c->task.width = c->width;
    c->task.seq_len = c->seq_len;
    /* the task model reads the model's view: pixels (mlp, cnn) or token ids (ngram) */
    if (c->task.kind != LEVI_TASK_NONE && (c->task.kind == LEVI_TASK_NGRAM) != (c->input == LEVI_INPUT_TOKENS))
        return levi_error(LEVI_ERR_UNSUPPORTED, "the task model %s reads %s; this model reads %s%s%s%s: use %s",
                          levi_task_name(c->task.kind), c->task.kind == LEVI_TASK_NGRAM ? "tokens" : "pixels",
                          c->input == LEVI_INPUT_TOKENS ? "tokens" : "images", v ? " (a " : "",
                          v ? levi_backbone_kind(v) : "", v ? " backbone)" : "",
                          c->input == LEVI_INPUT_TOKENS ? "the task model ngram" : "the task model mlp or cnn");
    if (c->task.kind != LEVI_TASK_NONE) LEVI_TRY(levi_task_config_validate(&c->task));
    if (c->method != LEVI_METHOD_LEVI && c->method != LEVI_METHOD_LEVI_LORA) {
        c->adapter_linear = 1;
        c->fusion = LEVI_FUSION_CONCAT;
    }
    if (!c->adapter_linear && (c->adapter_hidden < 1 || c->adapter_hidden > 65536))
        return levi_error(LEVI_ERR_INVALID_ARG, "adapter hidden size %d is not in 1..65536", c->adapter_hidden);
    if (!(c->lambda >= 0 && c->lambda <= 100))
        return levi_error(LEVI_ERR_INVALID_ARG, "lambda %g is not in 0..100", (double)c->lambda);
    if (!(c->distill >= 0 && c->distill <= 100))
        return levi_error(LEVI_ERR_INVALID_ARG, "distill %g is not in 0..100", (double)c->distill);
    if (c->distill > 0 && (c->fusion != LEVI_FUSION_LATE || c->task.kind == LEVI_TASK_NONE))
        return levi_error(LEVI_ERR_INVALID_ARG, "distill %g needs late fusion with a task model", (double)c->distill);
    if (!v) {
        c->ntaps = 0;
        return LEVI_OK;
    }
    int depth = levi_backbone_depth(v);
    if (c->method != LEVI_METHOD_LEVI && c->method != LEVI_METHOD_LEVI_LORA) {
        c->ntaps = 1;
        c->taps[0] = depth;
    } else if (c->ntaps == 0) {
        c->ntaps = 2;
        c->taps[0] = depth / 2 - 1 >= 0 ? depth / 2 - 1 : 0;
        c->taps[1] = depth;
        if (c->taps[0] == c->taps[1]) c->ntaps = 1;
    }
    if (c->ntaps < 1 || c->ntaps > LEVI_MAX_TAPS)
        return levi_error(LEVI_ERR_INVALID_ARG, "%d taps: expected 1..%d", c->ntaps, LEVI_MAX_TAPS);
    for (int i = 0; i < c->ntaps; i++) {
        if (c->taps[i] < 0 || c->taps[i] > depth)
            return levi_error(LEVI_ERR_INVALID_ARG,
                              "tap %d is out of range: the backbone has %d blocks, taps are 0..%d (%d = after the "
                              "final layernorm)",
                              c->taps[i], depth, depth, depth);
        for (int j = 0; j < i; j++)
            if (c->taps[j] == c->taps[i]) return levi_error(LEVI_ERR_INVALID_ARG, "tap %d is listed twice", c->taps[i]);
    }
    return LEVI_OK;
}

static levi_status plan(levi_model *m, int max_batch) {
    levi_model_config *c = &m->cfg;
    int K = c->num_classes, k = c->ntaps, D = m->D, F = k * D;
    m->hz = c->task.kind != LEVI_TASK_NONE ? c->task.hidden : 0;
    levi_arena *a = &m->acts;
    if (m->hz) LEVI_TRY(levi_task_plan(&m->g, &c->task, &m->P, a, max_batch));
    size_t xn = levi_input_numel(&m->input);
    if (xn < 1 || xn > 0x7fffffff) return levi_error(LEVI_ERR_INVALID_ARG, "an input of %zu values per sample", xn);
    m->pix = levi_act_plan(a, max_batch, (int)xn);
    if (m->input.kind == LEVI_INPUT_TOKENS) m->mask = levi_act_plan(a, max_batch, m->input.seq_len);
    m->labels = levi_act_plan(a, max_batch, 1);
    if (F) {
        m->feats = levi_act_plan(a, max_batch, F);
        m->in_feats = levi_act_plan(a, max_batch, F);
        m->dfeats = levi_act_plan(a, max_batch, F);
        for (int i = 0; i < k; i++) m->dcls[i] = levi_act_plan(a, max_batch, D);
    }
    if (m->hz) m->dz = levi_act_plan(a, max_batch, m->hz);
    m->logits = levi_act_plan(a, max_batch, K);
    m->dlogits = levi_act_plan(a, max_batch, K);
    m->probs = levi_act_plan(a, max_batch, K);
    m->losses = levi_act_plan(a, max_batch, 1);
    m->correct = levi_act_plan(a, max_batch, 1);
    int ens = c->fusion == LEVI_FUSION_ENSEMBLE, late = c->fusion == LEVI_FUSION_LATE;
    m->nadapt = ens ? k : late ? (F > 0) + (m->hz > 0) : 1;
    for (int i = 0; i < m->nadapt; i++) {
        /* late: adapter0 reads feats (when there are taps), the last one z */
        int z_view = late && (i == 1 || !F);
        int in = ens ? D + m->hz : late ? (z_view ? m->hz : F) : F + m->hz;
        char name[32];
        snprintf(name, sizeof name, "adapter%d", i);
        LEVI_TRY(levi_adapter_plan(&m->ad[i], name, z_view || c->adapter_linear, in, c->adapter_hidden, K, &m->P, a,
                                   max_batch));
        /* x is its own buffer unless it is just z or just feats */
        m->x_alias[i] = late || (!ens && (F == 0 || m->hz == 0));
        if (!m->x_alias[i]) {
            m->x[i] = levi_act_plan(a, max_batch, in);
            m->dx[i] = levi_act_plan(a, max_batch, in);
        }
    }
    if (ens || late) {
        /* per-member (tap or view) logits, their gradients and losses as
         * stacks of a fixed stride: one kernel combines, splits or sums */
        int n = m->nadapt;
        levi_act *stacks[5] = {m->logits_l, m->dlogits_l, m->probs_l, m->losses_l, m->correct_l};
        for (int s = 0; s < 5; s++) {
            int cols = s < 3 ? K : 1;
            size_t stride = (size_t)max_batch * cols, base = levi_arena_reserve(a, (size_t)n * stride);
            for (int i = 0; i < n; i++) stacks[s][i] = (levi_act){base + (size_t)i * stride, cols};
        }
        m->alpha = levi_params_add(&m->P, "alpha", 1, &n, 0.0f);
        if (m->alpha < 0) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory planning alpha");
    } else {
        m->alpha = -1;
    }
    return LEVI_OK;
}

levi_status levi_model_create(levi_model **out, levi_ctx *ctx, const levi_model_config *cfg, levi_backbone *backbone,
                              int max_batch) {
    return model_create_mode(out, ctx, cfg, backbone, max_batch, 1);
}

/* The input view: the backbone's, else pixels of the configured size. */
static void input_spec(levi_model *m) {
    if (m->bb) {
        m->input = levi_backbone_get_desc(m->bb)->input;
        return;
    }
    memset(&m->input, 0, sizeof m->input);
    if (m->cfg.input == LEVI_INPUT_TOKENS) {
        m->input.kind = LEVI_INPUT_TOKENS;
        m->input.seq_len = m->cfg.seq_len;
        return;
    }
    m->input.kind = LEVI_INPUT_PIXELS;
    m->input.channels = m->cfg.channels;
    m->input.height = m->cfg.height;
    m->input.width = m->cfg.width;
    m->input.mean = m->cfg.image_mean;
    m->input.std = m->cfg.image_std;
}

levi_status model_create_mode(levi_model **out, levi_ctx *ctx, const levi_model_config *cfg, levi_backbone *backbone,
                              int max_batch, int trainable) {
    *out = NULL;
    levi_model *m = calloc(1, sizeof *m);
    if (!m) {
        levi_backbone_free(backbone);
        return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory creating a model");
    }
    m->ctx = ctx;
    m->cfg = *cfg;
    m->bb = backbone;
    m->bb_ctx = backbone ? levi_backbone_ctx(backbone) : NULL;
    m->apart = backbone && m->bb_ctx != ctx;
    m->max_batch = max_batch;
    levi_params_init(&m->P, ctx, trainable);
    levi_arena_init(&m->acts, ctx, "activations");
    levi_arena_init(&m->stage, m->bb_ctx ? m->bb_ctx : ctx, "backbone-stage buffers");
    levi_status st = LEVI_OK;
    if (!ctx) st = levi_error(LEVI_ERR_INVALID_ARG, "levi_model_create: no ctx");
    if (st == LEVI_OK && (max_batch < 1 || (backbone && max_batch > levi_backbone_max_batch(backbone))))
        st = levi_error(LEVI_ERR_INVALID_ARG, "max batch %d is not in 1..%d", max_batch,
                        backbone ? levi_backbone_max_batch(backbone) : 1 << 20);
    if (st == LEVI_OK) st = validate(&m->cfg, backbone);
    if (st == LEVI_OK) {
        input_spec(m);
        m->D = backbone ? levi_backbone_hidden(backbone) : 0;
        m->bb_trainable = backbone && levi_backbone_train_mode(backbone) != LEVI_BACKBONE_FROZEN;
        st = plan(m, max_batch);
    }
    if (st == LEVI_OK) st = levi_params_commit(&m->P);
    if (st == LEVI_OK) st = levi_arena_commit(&m->acts);
    if (st == LEVI_OK) st = model_device_plan(m);
    if (st == LEVI_OK && m->apart) st = model_stage_plan(m);
    if (st == LEVI_OK) st = levi_params_init_random(&m->P, m->cfg.seed);
    if (st != LEVI_OK) {
        levi_model_free(m);
        return st;
    }
    *out = m;
    return LEVI_OK;
}

void levi_model_free(levi_model *m) {
    if (!m) return;
    model_stage_free(m);
    model_device_free(m);
    levi_backbone_free(m->bb);
    levi_params_free(&m->P);
    levi_arena_free(&m->acts);
    if (m->class_names)
        for (int i = 0; i < m->n_class_names; i++) free(m->class_names[i]);
    free(m->class_names);
    free(m->preprocessor);
    free(m->tokenizer);
    free(m);
}

const levi_model_config *levi_model_get_config(const levi_model *m) { return &m->cfg; }
levi_backbone *levi_model_backbone(levi_model *m) { return m->bb; }
levi_ctx *levi_model_ctx(const levi_model *m) { return m->ctx; }
levi_ctx *levi_model_backbone_ctx(const levi_model *m) { return m->bb_ctx; }
const levi_input_spec *levi_model_input_spec(const levi_model *m) { return &m->input; }
levi_params *levi_model_head_params(levi_model *m) { return &m->P; }
const char *const *levi_model_class_names(const levi_model *m) { return (const char *const *)m->class_names; }
int levi_model_max_batch(const levi_model *m) { return m->max_batch; }
int levi_model_feature_dim(const levi_model *m) { return m->cfg.ntaps * m->D; }
int levi_model_features_cacheable(const levi_model *m) { return m->bb && !m->bb_trainable && m->cfg.ntaps > 0; }

levi_status levi_model_set_class_names(levi_model *m, const char *const *names, int count) {
    if (count != m->cfg.num_classes)
        return levi_error(LEVI_ERR_INVALID_ARG, "%d class names for a model of %d classes", count,
                          m->cfg.num_classes);
    char **n = calloc((size_t)count, sizeof *n);
    if (!n) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    for (int i = 0; i < count; i++)
        if (!(n[i] = strdup(names[i] ? names[i] : ""))) {
            for (int j = 0; j < i; j++) free(n[j]);
            free(n);
            return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
        }
    if (m->class_names)
        for (int i = 0; i < m->n_class_names; i++) free(m->class_names[i]);
    free(m->class_names);
    m->class_names = n;
    m->n_class_names = count;
    return LEVI_OK;
}

size_t levi_model_num_trainable(const levi_model *m) {
    size_t n = levi_params_numel(&m->P);
    if (m->bb_trainable) {
        size_t lora = 0, base = levi_backbone_num_params(m->bb, &lora);
        n += levi_backbone_train_mode(m->bb) == LEVI_BACKBONE_LORA ? lora : base;
    }
    return n;
}

int levi_model_grad_groups(levi_model *m, levi_grad_group *out, int max) {
    int n = 0;
    if (!m->P.trainable) return 0;
    if (n < max) {
        out[n].name = "head";
        out[n].ctx = m->ctx;
        out[n].params = levi_arena_all(&m->P.params);
        out[n].grads = levi_arena_all(&m->P.grads);
        out[n].adam_m = levi_arena_all(&m->P.adam_m);
        out[n].adam_v = levi_arena_all(&m->P.adam_v);
        n++;
    }
    if (n < max && m->bb_trainable &&
        levi_backbone_trainable(m->bb, &out[n].params, &out[n].grads, &out[n].adam_m, &out[n].adam_v)) {
        out[n].name = "backbone";
        out[n].ctx = m->bb_ctx;
        n++;
    }
    return n;
}
