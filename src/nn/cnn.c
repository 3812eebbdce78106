/* Task model g, cnn variant: two conv3×3(pad 1)–ReLU–maxpool2 stages,
 * flatten, fc, ReLU.
 *   x (B,C,H,W) → c1 (B,K1,H,W) → q1 (B,K1,H/2,W/2) → c2 (B,K2,H/2,W/2)
 *   → q2 (B,K2,H/4,W/4) = flat (B, K2·H/4·W/4) → f = fc(flat) (B,h) → z = relu(f)
 * ReLU runs in place on c1 and c2: the backward mask (out > 0) equals (in > 0). */
#include <math.h>
#include <string.h>

#include "task_internal.h"

enum { C1 = 0, Q1, C2, Q2, F, Z, SCR, DF, DQ2, DC2, DR2, DQ1, DC1, DR1 };

static int conv_param(levi_params *p, const char *name, int oc, int c, int *w, int *b) {
    int ws[4] = {oc, c, 3, 3};
    float bound = (float)(1.0 / sqrt((double)c * 9.0));
    char n[96];
    snprintf(n, sizeof n, "%s.weight", name);
    *w = levi_params_add(p, n, 4, ws, bound);
    snprintf(n, sizeof n, "%s.bias", name);
    *b = levi_params_add(p, n, 1, &oc, bound);
    return (*w < 0 || *b < 0) ? -1 : 0;
}

static levi_conv_shape conv_shape(int B, int C, int H, int W, int OC) {
    levi_conv_shape s;
    memset(&s, 0, sizeof s);
    s.B = B;
    s.C = C;
    s.H = H;
    s.W = W;
    s.OC = OC;
    s.KH = s.KW = 3;
    s.stride = 1;
    s.pad = 1;
    return s;
}

levi_status levi_cnn_plan(levi_task_model *g, levi_params *p, levi_arena *acts, int max_batch) {
    const levi_task_config *c = &g->cfg;
    g->s1 = conv_shape(max_batch, c->channels, c->height, c->width, c->conv1);
    LEVI_TRY(levi_conv_shape_init(&g->s1));
    g->p1h = (g->s1.OH - 2) / 2 + 1;
    g->p1w = (g->s1.OW - 2) / 2 + 1;
    g->s2 = conv_shape(max_batch, c->conv1, g->p1h, g->p1w, c->conv2);
    LEVI_TRY(levi_conv_shape_init(&g->s2));
    g->p2h = (g->s2.OH - 2) / 2 + 1;
    g->p2w = (g->s2.OW - 2) / 2 + 1;
    int flat = c->conv2 * g->p2h * g->p2w;
    if (conv_param(p, "g.conv1", c->conv1, c->channels, &g->c1w, &g->c1b) ||
        conv_param(p, "g.conv2", c->conv2, c->conv1, &g->c2w, &g->c2b) ||
        levi_linear_plan(&g->fc2, p, "g.fc", flat, c->hidden))
        return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory planning the cnn");
    int c1 = c->conv1 * g->s1.OH * g->s1.OW, q1 = c->conv1 * g->p1h * g->p1w;
    int c2 = c->conv2 * g->s2.OH * g->s2.OW;
    int cols[14] = {c1, q1, c2, flat, c->hidden, c->hidden, 0, c->hidden, flat, c2, c2, q1, c1, c1};
    size_t scr = levi_conv2d_scratch_numel(&g->s1), scr2 = levi_conv2d_scratch_numel(&g->s2);
    if (scr2 > scr) scr = scr2;
    for (int k = 0; k < 14; k++) {
        if (k == SCR) {
            g->act[k].cols = (int)scr;
            g->act[k].offset = levi_arena_reserve(acts, scr ? scr : 1);
        } else {
            g->act[k] = levi_act_plan(acts, max_batch, cols[k]);
        }
    }
    g->z_act = Z;
    return LEVI_OK;
}

static levi_tensor view(const levi_task_model *g, const levi_arena *acts, int k, int B) {
    return levi_act_view(acts, g->act[k], B);
}

levi_status levi_cnn_forward(levi_task_model *g, const levi_params *p, const levi_arena *acts,
                             const levi_tensor *x, int B) {
    levi_ctx *ctx = p->ctx;
    const levi_task_config *c = &g->cfg;
    levi_conv_shape s1 = g->s1, s2 = g->s2;
    s1.B = s2.B = B;
    levi_tensor c1 = view(g, acts, C1, B), q1 = view(g, acts, Q1, B), c2 = view(g, acts, C2, B);
    levi_tensor q2 = view(g, acts, Q2, B), f = view(g, acts, F, B), z = view(g, acts, Z, B);
    levi_tensor scr = view(g, acts, SCR, 1);
    levi_tensor w1 = levi_params_value(p, g->c1w), b1 = levi_params_value(p, g->c1b);
    levi_tensor w2 = levi_params_value(p, g->c2w), b2 = levi_params_value(p, g->c2b);
    LEVI_TRY(levi_conv2d_forward(ctx, &c1, x, &w1, &b1, &scr, &s1));
    LEVI_TRY(levi_relu_forward(ctx, &c1, &c1, c1.numel));
    LEVI_TRY(levi_maxpool_forward(ctx, &q1, &c1, B, c->conv1, s1.OH, s1.OW, 2, 2));
    LEVI_TRY(levi_conv2d_forward(ctx, &c2, &q1, &w2, &b2, &scr, &s2));
    LEVI_TRY(levi_relu_forward(ctx, &c2, &c2, c2.numel));
    LEVI_TRY(levi_maxpool_forward(ctx, &q2, &c2, B, c->conv2, s2.OH, s2.OW, 2, 2));
    return levi_linear_apply_act(&g->fc2, p, &z, &f, &q2, LEVI_ACTIVATION_RELU, B);
}

levi_status levi_cnn_backward(levi_task_model *g, const levi_params *p, const levi_arena *acts,
                              const levi_tensor *x, const levi_tensor *dz, int B) {
    levi_ctx *ctx = p->ctx;
    const levi_task_config *c = &g->cfg;
    levi_conv_shape s1 = g->s1, s2 = g->s2;
    s1.B = s2.B = B;
    levi_tensor c1 = view(g, acts, C1, B), q1 = view(g, acts, Q1, B), c2 = view(g, acts, C2, B);
    levi_tensor q2 = view(g, acts, Q2, B), f = view(g, acts, F, B), scr = view(g, acts, SCR, 1);
    levi_tensor df = view(g, acts, DF, B), dq2 = view(g, acts, DQ2, B), dc2 = view(g, acts, DC2, B);
    levi_tensor dr2 = view(g, acts, DR2, B), dq1 = view(g, acts, DQ1, B), dc1 = view(g, acts, DC1, B);
    levi_tensor dr1 = view(g, acts, DR1, B);
    levi_tensor *zero[7] = {&df, &dq2, &dc2, &dr2, &dq1, &dc1, &dr1};
    for (int k = 0; k < 7; k++) LEVI_TRY(levi_tensor_zero(zero[k]));
    levi_tensor w1 = levi_params_value(p, g->c1w), w2 = levi_params_value(p, g->c2w);
    levi_tensor dw1 = levi_params_grad(p, g->c1w), db1 = levi_params_grad(p, g->c1b);
    levi_tensor dw2 = levi_params_grad(p, g->c2w), db2 = levi_params_grad(p, g->c2b);
    LEVI_TRY(levi_relu_backward(ctx, &df, &f, dz, f.numel));
    LEVI_TRY(levi_linear_apply_backward(&g->fc2, p, &dq2, &df, &q2, B));
    LEVI_TRY(levi_maxpool_backward(ctx, &dc2, &dq2, &c2, B, c->conv2, s2.OH, s2.OW, 2, 2));
    LEVI_TRY(levi_relu_backward(ctx, &dr2, &c2, &dc2, c2.numel));
    LEVI_TRY(levi_conv2d_backward(ctx, &dq1, &dw2, &db2, &dr2, &q1, &w2, &scr, &s2));
    LEVI_TRY(levi_maxpool_backward(ctx, &dc1, &dq1, &c1, B, c->conv1, s1.OH, s1.OW, 2, 2));
    LEVI_TRY(levi_relu_backward(ctx, &dr1, &c1, &dc1, c1.numel));
    return levi_conv2d_backward(ctx, NULL, &dw1, &db1, &dr1, x, &w1, &scr, &s1);
}
