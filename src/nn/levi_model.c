/* A LEVI model (or one of its baselines): backbone taps + task model g +
 * fusion + adapters; forward, loss, backward and the AdamW step.
 *
 *   feats (B, F) = [h_t1; ...; h_tk], F = k·D      (backbone CLS taps)
 *   z     (B, hz) = g(pixels)
 *   concat  : x (B, F+hz) = [feats; z], logits = A(x)
 *   ensemble: x_l (B, D+hz) = [h_l; z], logits_l = A_l(x_l),
 *             logits = Σ_l w_l logits_l with w = softmax(alpha),
 *             loss = CE(logits) + lambda · mean_l CE(logits_l) */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "levi_model_internal.h"

const char *levi_method_name(levi_method m) {
    static const char *names[] = {"scratch", "lp", "ft", "lora", "levi", "levi+lora"};
    return (m >= 0 && m <= LEVI_METHOD_LEVI_LORA) ? names[m] : "unknown";
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
    case LEVI_METHOD_FT: return LEVI_VIT_FULL;
    case LEVI_METHOD_LORA:
    case LEVI_METHOD_LEVI_LORA: return LEVI_VIT_LORA;
    default: return LEVI_VIT_FROZEN;
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
    c->fusion = LEVI_FUSION_CONCAT;
    c->adapter_linear = !(m == LEVI_METHOD_LEVI || m == LEVI_METHOD_LEVI_LORA);
    c->adapter_hidden = 128;
    c->lambda = 0.5f;
    c->lora_rank = 4;
}

static levi_status validate(levi_model_config *c, const levi_vit *v) {
    if (c->method < 0 || c->method > LEVI_METHOD_LEVI_LORA)
        return levi_error(LEVI_ERR_INVALID_ARG, "unknown method %d", (int)c->method);
    if (c->num_classes < 2 || c->num_classes > 100000)
        return levi_error(LEVI_ERR_INVALID_ARG, "num_classes %d is not in 2..100000", c->num_classes);
    int mode = levi_method_backbone_mode(c->method);
    if (mode < 0 && v) return levi_error(LEVI_ERR_INVALID_ARG, "method scratch takes no backbone");
    if (mode >= 0 && !v)
        return levi_error(LEVI_ERR_INVALID_ARG, "method %s needs a backbone", levi_method_name(c->method));
    if (v && levi_vit_train_mode(v) != mode)
        return levi_error(LEVI_ERR_INVALID_ARG, "method %s needs a backbone in train mode %d, got %d",
                          levi_method_name(c->method), mode, levi_vit_train_mode(v));
    if (!method_has_g(c->method)) c->task.kind = LEVI_TASK_NONE;
    else if (c->task.kind == LEVI_TASK_NONE) c->task.kind = LEVI_TASK_MLP;
    c->task.channels = c->channels;
    c->task.height = c->height;
    c->task.width = c->width;
    if (c->task.kind != LEVI_TASK_NONE) LEVI_TRY(levi_task_config_validate(&c->task));
    if (c->method != LEVI_METHOD_LEVI && c->method != LEVI_METHOD_LEVI_LORA) {
        c->adapter_linear = 1;
        c->fusion = LEVI_FUSION_CONCAT;
    }
    if (!c->adapter_linear && (c->adapter_hidden < 1 || c->adapter_hidden > 65536))
        return levi_error(LEVI_ERR_INVALID_ARG, "adapter hidden size %d is not in 1..65536", c->adapter_hidden);
    if (!(c->lambda >= 0 && c->lambda <= 100))
        return levi_error(LEVI_ERR_INVALID_ARG, "lambda %g is not in 0..100", (double)c->lambda);
    if (!v) {
        c->ntaps = 0;
        return LEVI_OK;
    }
    const levi_vit_config *vc = levi_vit_get_config(v);
    int depth = vc->num_hidden_layers;
    if (c->channels != vc->num_channels || c->height != vc->image_size || c->width != vc->image_size)
        return levi_error(LEVI_ERR_SHAPE, "images (%d,%d,%d) do not fit the backbone's input (%d,%d,%d)",
                          c->channels, c->height, c->width, vc->num_channels, vc->image_size, vc->image_size);
    c->image_mean = vc->image_mean;
    c->image_std = vc->image_std;
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
    m->pix = levi_act_plan(a, max_batch, c->channels * c->height * c->width);
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
    int ens = c->fusion == LEVI_FUSION_ENSEMBLE;
    m->nadapt = ens ? k : 1;
    for (int i = 0; i < m->nadapt; i++) {
        int in = ens ? D + m->hz : F + m->hz;
        char name[32];
        snprintf(name, sizeof name, "adapter%d", i);
        LEVI_TRY(levi_adapter_plan(&m->ad[i], name, c->adapter_linear, in, c->adapter_hidden, K, &m->P, a,
                                   max_batch));
        /* x is its own buffer unless it is just z or just feats */
        m->x_alias[i] = !ens && (F == 0 || m->hz == 0);
        if (!m->x_alias[i]) {
            m->x[i] = levi_act_plan(a, max_batch, in);
            m->dx[i] = levi_act_plan(a, max_batch, in);
        }
        if (ens) {
            m->logits_l[i] = levi_act_plan(a, max_batch, K);
            m->dlogits_l[i] = levi_act_plan(a, max_batch, K);
            m->probs_l[i] = levi_act_plan(a, max_batch, K);
            m->losses_l[i] = levi_act_plan(a, max_batch, 1);
            m->correct_l[i] = levi_act_plan(a, max_batch, 1);
        }
    }
    if (ens) {
        m->alpha = levi_params_add(&m->P, "alpha", 1, &k, 0.0f);
        if (m->alpha < 0) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory planning alpha");
    } else {
        m->alpha = -1;
    }
    return LEVI_OK;
}

levi_status levi_model_create(levi_model **out, levi_ctx *ctx, const levi_model_config *cfg, levi_vit *backbone,
                              int max_batch) {
    return levi_model_create_mode(out, ctx, cfg, backbone, max_batch, 1);
}

levi_status levi_model_create_mode(levi_model **out, levi_ctx *ctx, const levi_model_config *cfg,
                                   levi_vit *backbone, int max_batch, int trainable) {
    *out = NULL;
    levi_model *m = calloc(1, sizeof *m);
    if (!m) {
        levi_vit_free(backbone);
        return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory creating a model");
    }
    m->ctx = ctx;
    m->cfg = *cfg;
    m->vit = backbone;
    m->max_batch = max_batch;
    levi_params_init(&m->P, ctx, trainable);
    levi_arena_init(&m->acts, ctx, "activations");
    levi_status st = LEVI_OK;
    if (max_batch < 1 || (backbone && max_batch > levi_vit_max_batch(backbone)))
        st = levi_error(LEVI_ERR_INVALID_ARG, "max batch %d is not in 1..%d", max_batch,
                        backbone ? levi_vit_max_batch(backbone) : 1 << 20);
    if (st == LEVI_OK) st = validate(&m->cfg, backbone);
    if (st == LEVI_OK) {
        m->D = backbone ? levi_vit_get_config(backbone)->hidden_size : 0;
        m->vit_trainable = backbone && levi_vit_train_mode(backbone) != LEVI_VIT_FROZEN;
        st = plan(m, max_batch);
    }
    if (st == LEVI_OK) st = levi_params_commit(&m->P);
    if (st == LEVI_OK) st = levi_arena_commit(&m->acts);
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
    levi_vit_free(m->vit);
    levi_params_free(&m->P);
    levi_arena_free(&m->acts);
    if (m->class_names)
        for (int i = 0; i < m->n_class_names; i++) free(m->class_names[i]);
    free(m->class_names);
    free(m);
}

const levi_model_config *levi_model_get_config(const levi_model *m) { return &m->cfg; }
levi_vit *levi_model_backbone(levi_model *m) { return m->vit; }
levi_params *levi_model_head_params(levi_model *m) { return &m->P; }
const char *const *levi_model_class_names(const levi_model *m) { return (const char *const *)m->class_names; }
int levi_model_max_batch(const levi_model *m) { return m->max_batch; }
int levi_model_feature_dim(const levi_model *m) { return m->cfg.ntaps * m->D; }
int levi_model_features_cacheable(const levi_model *m) { return m->vit && !m->vit_trainable && m->cfg.ntaps > 0; }

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
    if (m->vit_trainable) {
        size_t lora = 0, base = levi_vit_num_params(m->vit, &lora);
        n += levi_vit_train_mode(m->vit) == LEVI_VIT_LORA ? lora : base;
    }
    return n;
}

#define VIEW(slot, B) levi_act_view(&m->acts, (slot), (B))

levi_tensor levi_model_input_pixels(levi_model *m, int B) {
    levi_tensor t = VIEW(m->pix, B);
    int s[4] = {B, m->cfg.channels, m->cfg.height, m->cfg.width};
    return levi_tensor_reshape(&t, 4, s);
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

// pixels (B,C,H,W) → feats (B, k·D) = CLS taps side by side
levi_status levi_model_features(levi_model *m, const levi_tensor *pixels, const levi_tensor *feats, int B) {
    int D = m->D, k = m->cfg.ntaps;
    if (!k) return levi_error(LEVI_ERR_INVALID_ARG, "method %s has no backbone features", levi_method_name(m->cfg.method));
    LEVI_TRY(levi_vit_forward(m->vit, pixels, B));
    for (int i = 0; i < k; i++) {
        levi_tensor h = levi_vit_cls(m->vit, m->cfg.taps[i], B);
        LEVI_TRY(levi_copy_cols(m->ctx, feats, k * D, i * D, &h, D, 0, B, D, 0));
    }
    return LEVI_OK;
}

/* w = softmax(alpha) on the host (k values). */
static levi_status ensemble_weights(levi_model *m, double *w) {
    int k = m->cfg.ntaps;
    float alpha[LEVI_MAX_TAPS];
    levi_tensor at = levi_params_value(&m->P, m->alpha);
    LEVI_TRY(levi_tensor_read(&at, alpha));
    double mx = alpha[0], s = 0;
    for (int i = 1; i < k; i++) mx = alpha[i] > mx ? alpha[i] : mx;
    for (int i = 0; i < k; i++) s += (w[i] = exp((double)alpha[i] - mx));
    for (int i = 0; i < k; i++) w[i] /= s;
    return LEVI_OK;
}

levi_status levi_model_forward(levi_model *m, const levi_tensor *pixels, const levi_tensor *feats,
                               const levi_tensor *labels, int B, float *loss, int *correct) {
    levi_ctx *ctx = m->ctx;
    const levi_model_config *c = &m->cfg;
    int K = c->num_classes, k = c->ntaps, D = m->D, F = k * D, hz = m->hz;
    if (B < 1 || B > m->max_batch) return levi_error(LEVI_ERR_INVALID_ARG, "batch %d is not in 1..%d", B, m->max_batch);
    if (feats && (!F || m->vit_trainable))
        return levi_error(LEVI_ERR_INVALID_ARG, "precomputed features given to a model whose features %s",
                          F ? "change during training" : "do not exist");
    m->last_B = B;
    m->last_pixels = *pixels;
    m->have_labels = labels != NULL;
    if (labels) m->last_labels = *labels;
    levi_tensor fe;
    memset(&fe, 0, sizeof fe);
    if (F) {
        if (feats) {
            fe = *feats;
        } else {
            fe = VIEW(m->feats, B);
            LEVI_TRY(levi_model_features(m, pixels, &fe, B));
        }
        m->last_feats = fe;
    }
    levi_tensor z;
    memset(&z, 0, sizeof z);
    if (hz) {
        LEVI_TRY(levi_task_forward(&m->g, &m->P, &m->acts, pixels, B));
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
    } else {
        LEVI_TRY(ensemble_weights(m, m->w));
        LEVI_TRY(levi_tensor_zero(&logits));
        for (int i = 0; i < k; i++) {
            levi_tensor x = VIEW(m->x[i], B), ll = VIEW(m->logits_l[i], B);
            LEVI_TRY(levi_copy_cols(ctx, &x, D + hz, 0, &fe, F, i * D, B, D, 0));
            if (hz) LEVI_TRY(levi_copy_cols(ctx, &x, D + hz, D, &z, hz, 0, B, hz, 0));
            m->xv[i] = x;
            LEVI_TRY(levi_adapter_forward(&m->ad[i], &m->P, &m->acts, &ll, &x, B));
            LEVI_TRY(levi_axpy(ctx, &logits, (float)m->w[i], &ll, (size_t)B * K));
        }
    }
    if (!labels) return LEVI_OK;
    levi_tensor probs = VIEW(m->probs, B), losses = VIEW(m->losses, B), corr = VIEW(m->correct, B);
    float l0;
    int c0;
    LEVI_TRY(levi_crossentropy_forward(ctx, &probs, &losses, &corr, &logits, labels, B, K, &l0, &c0));
    double total = l0;
    if (c->fusion == LEVI_FUSION_ENSEMBLE) {
        double aux = 0;
        for (int i = 0; i < k; i++) {
            levi_tensor ll = VIEW(m->logits_l[i], B), pl = VIEW(m->probs_l[i], B);
            levi_tensor lo = VIEW(m->losses_l[i], B), co = VIEW(m->correct_l[i], B);
            float li;
            int ci;
            LEVI_TRY(levi_crossentropy_forward(ctx, &pl, &lo, &co, &ll, labels, B, K, &li, &ci));
            aux += li;
        }
        total += c->lambda * aux / k;
    }
    if (loss) *loss = (float)total;
    if (correct) *correct = c0;
    return LEVI_OK;
}

/* dalpha_j += w_j (g_j - Σ_l w_l g_l), g_l = <dlogits, logits_l> */
static levi_status alpha_backward(levi_model *m, int B) {
    int K = m->cfg.num_classes, k = m->cfg.ntaps;
    size_t n = (size_t)B * K;
    float *buf = malloc(2 * n * sizeof *buf);
    if (!buf) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    levi_tensor dl = VIEW(m->dlogits, B);
    levi_status st = levi_tensor_read(&dl, buf);
    double g[LEVI_MAX_TAPS], mean = 0;
    for (int i = 0; i < k && st == LEVI_OK; i++) {
        levi_tensor ll = VIEW(m->logits_l[i], B);
        st = levi_tensor_read(&ll, buf + n);
        g[i] = 0;
        for (size_t j = 0; j < n; j++) g[i] += (double)buf[j] * buf[n + j];
        mean += m->w[i] * g[i];
    }
    float da[LEVI_MAX_TAPS];
    levi_tensor dat = levi_params_grad(&m->P, m->alpha);
    if (st == LEVI_OK) st = levi_tensor_read(&dat, da);
    for (int i = 0; i < k; i++) da[i] += (float)(m->w[i] * (g[i] - mean));
    if (st == LEVI_OK) st = levi_tensor_write(&dat, da);
    free(buf);
    return st;
}

levi_status levi_model_backward(levi_model *m, int Bcall) {
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
    if (hz) {
        dz = VIEW(m->dz, B);
        LEVI_TRY(levi_tensor_zero(&dz));
    }
    int need_dfe = F && m->vit_trainable;
    if (need_dfe) {
        dfe = VIEW(m->dfeats, B);
        LEVI_TRY(levi_tensor_zero(&dfe));
    }
    LEVI_TRY(levi_tensor_zero(&dlogits));
    LEVI_TRY(levi_crossentropy_backward(ctx, &dlogits, &probs, &m->last_labels, B, K, 1.0f / (float)B));
    if (c->fusion == LEVI_FUSION_CONCAT) {
        if (m->x_alias[0]) {
            const levi_tensor *dx = hz ? &dz : (need_dfe ? &dfe : NULL);
            LEVI_TRY(levi_adapter_backward(&m->ad[0], &m->P, &m->acts, dx, &dlogits, &m->xv[0], B));
        } else {
            levi_tensor dx = VIEW(m->dx[0], B);
            LEVI_TRY(levi_tensor_zero(&dx));
            LEVI_TRY(levi_adapter_backward(&m->ad[0], &m->P, &m->acts, &dx, &dlogits, &m->xv[0], B));
            if (need_dfe) LEVI_TRY(levi_copy_cols(ctx, &dfe, F, 0, &dx, F + hz, 0, B, F, 1));
            LEVI_TRY(levi_copy_cols(ctx, &dz, hz, 0, &dx, F + hz, F, B, hz, 1));
        }
    } else {
        LEVI_TRY(alpha_backward(m, B));
        for (int i = 0; i < k; i++) {
            levi_tensor dl = VIEW(m->dlogits_l[i], B), pl = VIEW(m->probs_l[i], B), dx = VIEW(m->dx[i], B);
            LEVI_TRY(levi_tensor_zero(&dl));
            LEVI_TRY(levi_tensor_zero(&dx));
            LEVI_TRY(levi_axpy(ctx, &dl, (float)m->w[i], &dlogits, (size_t)B * K));
            LEVI_TRY(levi_crossentropy_backward(ctx, &dl, &pl, &m->last_labels, B, K,
                                                c->lambda / (float)k / (float)B));
            LEVI_TRY(levi_adapter_backward(&m->ad[i], &m->P, &m->acts, &dx, &dl, &m->xv[i], B));
            if (need_dfe) LEVI_TRY(levi_copy_cols(ctx, &dfe, F, i * D, &dx, D + hz, 0, B, D, 1));
            if (hz) LEVI_TRY(levi_copy_cols(ctx, &dz, hz, 0, &dx, D + hz, D, B, hz, 1));
        }
    }
    if (hz) LEVI_TRY(levi_task_backward(&m->g, &m->P, &m->acts, &m->last_pixels, &dz, B));
    if (!need_dfe) return LEVI_OK;
    levi_tensor dcls[LEVI_MAX_TAPS];
    const levi_tensor *dp[LEVI_MAX_TAPS];
    for (int i = 0; i < k; i++) {
        dcls[i] = VIEW(m->dcls[i], B);
        LEVI_TRY(levi_copy_cols(ctx, &dcls[i], D, 0, &dfe, F, i * D, B, D, 0));
        dp[i] = &dcls[i];
    }
    return levi_vit_backward(m->vit, dp, c->taps, k, B);
}

levi_status levi_model_zero_grad(levi_model *m) {
    LEVI_TRY(levi_params_zero_grad(&m->P));
    if (m->vit_trainable) LEVI_TRY(levi_vit_zero_grad(m->vit));
    return LEVI_OK;
}

levi_status levi_model_step(levi_model *m, const levi_adamw_cfg *cfg, int t, float grad_clip, float *grad_norm) {
    if (!m->P.trainable)
        return levi_error(LEVI_ERR_INVALID_ARG, "the model was loaded for inference only: no optimizer state");
    levi_tensor hp = levi_arena_all(&m->P.params), hg = levi_arena_all(&m->P.grads);
    levi_tensor hm = levi_arena_all(&m->P.adam_m), hv = levi_arena_all(&m->P.adam_v);
    levi_tensor bp, bg, bm, bv;
    int nb = m->vit_trainable ? levi_vit_trainable(m->vit, &bp, &bg, &bm, &bv) : 0;
    if (grad_clip > 0 || grad_norm) {
        float n1 = 0, n2 = 0;
        LEVI_TRY(levi_grad_clip(m->ctx, &hg, hg.numel, 0.0f, &n1));
        if (nb) LEVI_TRY(levi_grad_clip(m->ctx, &bg, bg.numel, 0.0f, &n2));
        double norm = sqrt((double)n1 * n1 + (double)n2 * n2);
        if (grad_norm) *grad_norm = (float)norm;
        if (!isfinite(norm)) return levi_error(LEVI_ERR_NOT_FINITE, "gradient norm is %g", norm);
        if (grad_clip > 0 && norm > grad_clip) {
            float s = (float)(grad_clip / norm);
            LEVI_TRY(levi_scale_forward(m->ctx, &hg, &hg, s, hg.numel));
            if (nb) LEVI_TRY(levi_scale_forward(m->ctx, &bg, &bg, s, bg.numel));
        }
    }
    LEVI_TRY(levi_adamw_update(m->ctx, &hp, &hg, &hm, &hv, hp.numel, cfg, t));
    if (nb) LEVI_TRY(levi_adamw_update(m->ctx, &bp, &bg, &bm, &bv, bp.numel, cfg, t));
    return LEVI_OK;
}
