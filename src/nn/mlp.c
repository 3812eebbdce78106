/* Task model g: the mlp variant, and the dispatch between mlp, cnn and ngram. */
#include <string.h>

#include "levi/nn.h"
#include "task_internal.h"

/* mlp activation slots in g->act */
enum { A1 = 0, R1, A2, Z, D2, D1, D0 };

const char *levi_task_name(levi_task_kind k) {
    static const char *names[] = {"none", "mlp", "cnn", "ngram"};
    return k >= LEVI_TASK_NONE && k <= LEVI_TASK_NGRAM ? names[k] : "unknown";
}

levi_status levi_task_parse(const char *name, levi_task_kind *out) {
    for (int k = LEVI_TASK_MLP; k <= LEVI_TASK_NGRAM; k++)
        if (name && !strcmp(name, levi_task_name((levi_task_kind)k))) {
            *out = (levi_task_kind)k;
            return LEVI_OK;
        }
    return levi_error(LEVI_ERR_INVALID_ARG, "task model '%s' is not mlp, cnn or ngram", name ? name : "(null)");
}

levi_status levi_task_config_validate(const levi_task_config *c) {
    if (c->kind != LEVI_TASK_MLP && c->kind != LEVI_TASK_CNN && c->kind != LEVI_TASK_NGRAM)
        return levi_error(LEVI_ERR_INVALID_ARG, "task model kind %d is not mlp (1), cnn (2) or ngram (3)",
                          (int)c->kind);
    if (c->hidden < 1 || c->hidden > 65536)
        return levi_error(LEVI_ERR_INVALID_ARG, "task model hidden size %d is not in 1..65536", c->hidden);
    if (c->kind == LEVI_TASK_NGRAM) {
        if (c->seq_len < 1 || c->seq_len > (1 << 20))
            return levi_error(LEVI_ERR_INVALID_ARG, "ngram task model: sequence length %d is not in 1..%d", c->seq_len,
                              1 << 20);
        if (c->buckets < 1 || c->buckets > (1 << 24))
            return levi_error(LEVI_ERR_INVALID_ARG, "ngram task model: %d buckets is not in 1..%d", c->buckets,
                              1 << 24);
        if (c->embed < 1 || c->embed > 4096)
            return levi_error(LEVI_ERR_INVALID_ARG, "ngram task model: embedding width %d is not in 1..4096", c->embed);
        if ((size_t)2 * c->seq_len * c->embed > 0x7fffffff)
            return levi_error(LEVI_ERR_INVALID_ARG, "ngram task model: %d tokens of width %d are too many", c->seq_len,
                              c->embed);
        return LEVI_OK;
    }
    if (c->channels < 1 || c->channels > 4 || c->height < 1 || c->width < 1 || c->height > 1024 ||
        c->width > 1024)
        return levi_error(LEVI_ERR_INVALID_ARG, "task model input (%d,%d,%d) is not a small image (C<=4, H,W<=1024)",
                          c->channels, c->height, c->width);
    if (c->kind == LEVI_TASK_CNN) {
        if (c->conv1 < 1 || c->conv2 < 1 || c->conv1 > 1024 || c->conv2 > 1024)
            return levi_error(LEVI_ERR_INVALID_ARG, "cnn channels %d, %d are not in 1..1024", c->conv1, c->conv2);
        if (c->height < 4 || c->width < 4)
            return levi_error(LEVI_ERR_INVALID_ARG, "cnn input %dx%d is smaller than 4x4 (two 2x2 poolings)",
                              c->height, c->width);
    }
    return LEVI_OK;
}

levi_status levi_task_plan(levi_task_model *g, const levi_task_config *cfg, levi_params *p, levi_arena *acts,
                           int max_batch) {
    memset(g, 0, sizeof *g);
    LEVI_TRY(levi_task_config_validate(cfg));
    g->cfg = *cfg;
    g->max_batch = max_batch;
    if (cfg->kind == LEVI_TASK_CNN) return levi_cnn_plan(g, p, acts, max_batch);
    if (cfg->kind == LEVI_TASK_NGRAM) return levi_ngram_plan(g, p, acts, max_batch);
    int in = cfg->channels * cfg->height * cfg->width, h = cfg->hidden;
    if (levi_linear_plan(&g->fc1, p, "g.fc1", in, h) || levi_linear_plan(&g->fc2, p, "g.fc2", h, h))
        return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory planning the mlp");
    for (int k = A1; k <= D0; k++) g->act[k] = levi_act_plan(acts, max_batch, h);
    g->z_act = Z;
    return LEVI_OK;
}

levi_tensor levi_task_z(const levi_task_model *g, const levi_arena *acts, int B) {
    return levi_act_view(acts, g->act[g->z_act], B);
}

// x (B,C,H,W) → a1 = fc1(x) (B,h), r1 = relu(a1), a2 = fc2(r1), z = relu(a2); fused epilogues
levi_status levi_task_forward(levi_task_model *g, const levi_params *p, const levi_arena *acts,
                              const levi_tensor *x, const levi_tensor *mask, int B) {
    if (B > g->max_batch) return levi_error(LEVI_ERR_INVALID_ARG, "batch %d above max %d", B, g->max_batch);
    if (g->cfg.kind == LEVI_TASK_CNN) return levi_cnn_forward(g, p, acts, x, B);
    if (g->cfg.kind == LEVI_TASK_NGRAM) {
        if (!mask || !mask->buf)
            return levi_error(LEVI_ERR_INVALID_ARG, "the ngram task model reads token ids with their attention mask");
        return levi_ngram_forward(g, p, acts, x, mask, B);
    }
    int in = g->fc1.in;
    int fs[2] = {B, in};
    levi_tensor xf = levi_tensor_reshape(x, 2, fs);
    levi_tensor a1 = levi_act_view(acts, g->act[A1], B), r1 = levi_act_view(acts, g->act[R1], B);
    levi_tensor a2 = levi_act_view(acts, g->act[A2], B), z = levi_act_view(acts, g->act[Z], B);
    LEVI_TRY(levi_linear_apply_act(&g->fc1, p, &r1, &a1, &xf, LEVI_ACTIVATION_RELU, B));
    return levi_linear_apply_act(&g->fc2, p, &z, &a2, &r1, LEVI_ACTIVATION_RELU, B);
}

// dz (B,h) → grads of fc1, fc2 (x is data: no dx)
levi_status levi_task_backward(levi_task_model *g, const levi_params *p, const levi_arena *acts,
                               const levi_tensor *x, const levi_tensor *dz, int B) {
    if (g->cfg.kind == LEVI_TASK_CNN) return levi_cnn_backward(g, p, acts, x, dz, B);
    if (g->cfg.kind == LEVI_TASK_NGRAM) return levi_ngram_backward(g, p, acts, dz, B);
    levi_ctx *ctx = p->ctx;
    int in = g->fc1.in, h = g->cfg.hidden;
    size_t n = (size_t)B * h;
    int fs[2] = {B, in};
    levi_tensor xf = levi_tensor_reshape(x, 2, fs);
    levi_tensor a1 = levi_act_view(acts, g->act[A1], B), r1 = levi_act_view(acts, g->act[R1], B);
    levi_tensor a2 = levi_act_view(acts, g->act[A2], B);
    levi_tensor d2 = levi_act_view(acts, g->act[D2], B), d1 = levi_act_view(acts, g->act[D1], B);
    levi_tensor d0 = levi_act_view(acts, g->act[D0], B);
    /* d2, d1, d0 written, not accumulated: no zeroing commands */
    LEVI_TRY(levi_relu_backward_acc(ctx, &d2, &a2, dz, n, 0));
    LEVI_TRY(levi_linear_apply_backward_acc(&g->fc2, p, &d1, &d2, &r1, B, 0));
    LEVI_TRY(levi_relu_backward_acc(ctx, &d0, &a1, &d1, n, 0));
    return levi_linear_apply_backward(&g->fc1, p, NULL, &d0, &xf, B);
}
