/* bench ops: throughput of each op in levi/ops.h at the demo's sizes
 * (ViT-tiny: B=64, T=17, C=64, 4 heads, mlp 128; a small CNN on 28x28), then
 * the memory-bound ops at ViT-B/16's sizes (B=32 images of 197 tokens, dim
 * 768, 12 heads, mlp 3072, 1000 classes; attention at B=4) next to device
 * copies of a (B*197, 768) and a (B*197, 3072) activation in the same run:
 * the bandwidths they are measured against (the smaller one largely in the
 * last-level cache of a CPU, the larger one not).
 *
 * One row per op: {name, run, tensor sizes, flops, bytes}. */
#include <stdio.h>
#include <string.h>

#include "bench.h"


/* demo sizes */
enum { B = 64, T = 17, C = 64, NH = 4, HID = 128, N = B * T, CLS = 10 };
enum { NT = 10 };
#define ELEM ((size_t)N * HID) /* elementwise ops run on the MLP hidden activations */
#define NPARAM ((size_t)1 << 18)

typedef struct op_job {
    levi_tensor t[NT];
    levi_conv_shape cs;
} op_job;

/* (B,1,28,28) → 16 channels, 3x3, stride 1, pad 1 */
static void conv_shape(levi_conv_shape *s) {
    memset(s, 0, sizeof *s);
    s->B = B, s->C = 1, s->H = 28, s->W = 28, s->OC = 16, s->KH = 3, s->KW = 3, s->stride = 1, s->pad = 1;
    levi_conv_shape_init(s);
}

#define T_(i) (&j->t[i])
#define RUN(fn_name, body)                                                                                   \
    static levi_status fn_name(levi_ctx *ctx, void *arg) {                                                  \
        op_job *j = arg;                                                                                     \
        (void)j;                                                                                             \
        return body;                                                                                         \
    }

RUN(r_linear_f, levi_linear_forward(ctx, T_(0), T_(1), T_(2), T_(3), N, C, 3 * C))
RUN(r_linear_b, levi_linear_backward(ctx, T_(6), T_(4), T_(5), T_(0), T_(1), T_(2), N, C, 3 * C))
RUN(r_gelu_f, levi_gelu_forward(ctx, T_(0), T_(1), ELEM))
RUN(r_gelu_b, levi_gelu_backward(ctx, T_(0), T_(1), T_(2), ELEM))
RUN(r_relu_f, levi_relu_forward(ctx, T_(0), T_(1), ELEM))
RUN(r_relu_b, levi_relu_backward(ctx, T_(0), T_(1), T_(2), ELEM))
RUN(r_add_f, levi_add_forward(ctx, T_(0), T_(1), T_(2), ELEM))
RUN(r_scale_f, levi_scale_forward(ctx, T_(0), T_(1), 0.5f, ELEM))
RUN(r_accumulate, levi_accumulate(ctx, T_(0), T_(1), ELEM))
RUN(r_axpy, levi_axpy(ctx, T_(0), 0.5f, T_(1), ELEM))
RUN(r_add_bias, levi_add_bias(ctx, T_(0), T_(1), N, HID))
RUN(r_copy_cols, levi_copy_cols(ctx, T_(0), 2 * C, C, T_(1), C, 0, N, C, 0))
RUN(r_mean_f, levi_mean_tokens_forward(ctx, T_(0), T_(1), B, T, C))
RUN(r_mean_b, levi_mean_tokens_backward(ctx, T_(1), T_(0), B, T, C))
RUN(r_take_f, levi_take_token_forward(ctx, T_(0), T_(1), 0, B, T, C))
RUN(r_ln_f, levi_layernorm_forward(ctx, T_(0), T_(1), T_(2), T_(3), T_(4), T_(5), N, C, 1e-12f))
RUN(r_ln_b, levi_layernorm_backward(ctx, T_(6), T_(7), T_(5), T_(0), T_(3), T_(4), T_(1), T_(2), N, C))
RUN(r_softmax_f, levi_softmax_forward(ctx, T_(0), T_(1), B * NH * T, T))
RUN(r_softmax_b, levi_softmax_backward(ctx, T_(1), T_(0), T_(2), B * NH * T, T))
/* attention: out 0, lse 1, q 2, k 3, v 4; backward dq 5, dk 6, dv 7, dout 8 */
RUN(r_attn_f, levi_attention_forward(ctx, T_(0), T_(1), T_(2), T_(3), T_(4), NULL, B, T, C, NH))
RUN(r_attn_b, levi_attention_backward(ctx, T_(5), T_(6), T_(7), T_(8), T_(2), T_(3), T_(4), T_(0), T_(1), NULL, B,
                                      T, C, NH))
RUN(r_conv_f, levi_conv2d_forward(ctx, T_(0), T_(1), T_(2), T_(3), T_(4), &j->cs))
RUN(r_conv_b, levi_conv2d_backward(ctx, T_(5), T_(6), T_(7), T_(0), T_(1), T_(2), T_(4), &j->cs))
RUN(r_maxpool_f, levi_maxpool_forward(ctx, T_(0), T_(1), B, 16, 28, 28, 2, 2))
RUN(r_maxpool_b, levi_maxpool_backward(ctx, T_(2), T_(0), T_(1), B, 16, 28, 28, 2, 2))
RUN(r_gap_f, levi_global_avgpool_forward(ctx, T_(0), T_(1), B, 16, 28 * 28))
RUN(r_ce_f, levi_crossentropy_forward(ctx, T_(0), T_(1), T_(2), T_(3), T_(4), B, CLS, NULL, NULL))
RUN(r_ce_b, levi_crossentropy_backward(ctx, T_(3), T_(0), T_(4), B, CLS, 1.0f / B))
static levi_status r_adamw(levi_ctx *ctx, void *arg) {
    op_job *j = arg;
    levi_adamw_cfg cfg = {1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f};
    return levi_adamw_update(ctx, T_(0), T_(1), T_(2), T_(3), NPARAM, &cfg, 1);
}
static levi_status r_clip(levi_ctx *ctx, void *arg) {
    op_job *j = arg;
    float norm;
    return levi_grad_clip(ctx, T_(0), NPARAM, 0.0f, &norm);
}

/* ViT-B/16 sizes */
enum { VB = 32, VT = 197, VD = 768, VM = 3072, VNH = 12, VK = 1000, VN = VB * VT, VBA = 4, VNA = VBA * VT };
#define VND ((size_t)VN * VD)
#define VNM ((size_t)VN * VM)
#define VATT ((size_t)VB * VNH * VT * VT)

static levi_status r_copy(levi_ctx *ctx, void *arg) {
    op_job *j = arg;
    LEVI_CL_CHECK(clEnqueueCopyBuffer(ctx->queue, j->t[1].buf, j->t[0].buf, 0, 0, j->t[0].numel * sizeof(float), 0,
                                      NULL, NULL));
    return LEVI_OK;
}
RUN(v_bias_b, levi_linear_backward(ctx, NULL, NULL, T_(1), T_(0), NULL, NULL, VN, VD, VD))
RUN(v_bias_b4, levi_linear_backward(ctx, NULL, NULL, T_(1), T_(0), NULL, NULL, VN, VD, VM))
RUN(v_add_bias, levi_add_bias(ctx, T_(0), T_(1), VN, VM))
RUN(v_gelu_f, levi_gelu_forward(ctx, T_(0), T_(1), VNM))
RUN(v_gelu_b, levi_gelu_backward(ctx, T_(0), T_(1), T_(2), VNM))
RUN(v_add, levi_add_forward(ctx, T_(0), T_(1), T_(2), VND))
RUN(v_ln_f, levi_layernorm_forward(ctx, T_(0), T_(1), T_(2), T_(3), T_(4), T_(5), VN, VD, 1e-12f))
RUN(v_ln_b, levi_layernorm_backward(ctx, T_(6), T_(7), T_(5), T_(0), T_(3), T_(4), T_(1), T_(2), VN, VD))
RUN(v_softmax_f, levi_softmax_forward(ctx, T_(0), T_(1), VB * VNH * VT, VT))
RUN(v_softmax_b, levi_softmax_backward(ctx, T_(1), T_(0), T_(2), VB * VNH * VT, VT))
RUN(v_ce_f, levi_crossentropy_forward(ctx, T_(0), T_(1), T_(2), T_(3), T_(4), VB, VK, NULL, NULL))
RUN(v_ce_b, levi_crossentropy_backward(ctx, T_(3), T_(0), T_(4), VB, VK, 1.0f / VB))
RUN(v_take_f, levi_take_token_forward(ctx, T_(0), T_(1), 0, VB, VT, VD))
RUN(v_take_b, levi_take_token_backward(ctx, T_(1), T_(0), 0, VB, VT, VD))
RUN(v_mean_f, levi_mean_tokens_forward(ctx, T_(0), T_(1), VB, VT, VD))
RUN(v_mean_b, levi_mean_tokens_backward(ctx, T_(1), T_(0), VB, VT, VD))
RUN(v_attn_f, levi_attention_forward(ctx, T_(0), T_(1), T_(2), T_(3), T_(4), NULL, VBA, VT, VD, VNH))
RUN(v_attn_b, levi_attention_backward(ctx, T_(5), T_(6), T_(7), T_(8), T_(2), T_(3), T_(4), T_(0), T_(1), NULL, VBA,
                                      VT, VD, VNH))
RUN(v_res_ln, levi_residual_layernorm_forward(ctx, T_(0), T_(1), T_(2), T_(3), T_(0), T_(4), T_(5), T_(5), T_(5), VN,
                                              VD, 1e-12f))
RUN(v_embed_b, levi_embed_tokens_backward(ctx, T_(1), T_(2), T_(3), T_(0), VB, VT, VD))

typedef struct op_row {
    const char *name;
    bench_fn run;
    size_t numel[NT];  /* tensor sizes, 0 = unused */
    double flops;      /* > 0: report GFLOP/s */
    double bytes;      /* else: GB/s of this much traffic */
} op_row;

#define F4 4.0

static levi_status run_rows(levi_ctx *ctx, cJSON *doc, const op_row *rows, int nrows, double budget_s,
                            const levi_conv_shape *cs);

levi_status bench_ops(levi_ctx *ctx, cJSON *doc, double budget_s) {
    levi_conv_shape cs;
    conv_shape(&cs);
    size_t conv_out = (size_t)B * cs.OC * cs.OH * cs.OW, conv_in = (size_t)B * 28 * 28;
    size_t conv_scr = levi_conv2d_scratch_numel(&cs);
    double conv_flops = 2.0 * conv_out * cs.C * cs.KH * cs.KW;
    size_t att = (size_t)B * NH * T * T, btc = (size_t)N * C;
    double attn_flops = 4.0 * B * NH * T * T * (C / NH);
    size_t pool_in = (size_t)B * 16 * 28 * 28, pool_out = pool_in / 4;
    const op_row rows[] = {
        {"linear fwd 1088x64->192", r_linear_f,
         {N * 3 * C, btc, 3 * C * C, 3 * C}, 2.0 * N * C * 3 * C, 0},
        {"linear bwd 1088x64->192", r_linear_b,
         {N * 3 * C, btc, 3 * C * C, 3 * C, 3 * C * C, 3 * C, btc}, 4.0 * N * C * 3 * C, 0},
        {"gelu fwd", r_gelu_f, {ELEM, ELEM}, 0, F4 * 2 * ELEM},
        {"gelu bwd", r_gelu_b, {ELEM, ELEM, ELEM}, 0, F4 * 4 * ELEM},
        {"relu fwd", r_relu_f, {ELEM, ELEM}, 0, F4 * 2 * ELEM},
        {"relu bwd", r_relu_b, {ELEM, ELEM, ELEM}, 0, F4 * 4 * ELEM},
        {"add (residual)", r_add_f, {ELEM, ELEM, ELEM}, 0, F4 * 3 * ELEM},
        {"scale", r_scale_f, {ELEM, ELEM}, 0, F4 * 2 * ELEM},
        {"accumulate", r_accumulate, {ELEM, ELEM}, 0, F4 * 3 * ELEM},
        {"axpy", r_axpy, {ELEM, ELEM}, 0, F4 * 3 * ELEM},
        {"add bias 1088x128", r_add_bias, {ELEM, HID}, 0, F4 * 2 * ELEM},
        {"copy cols (concat) 1088x64", r_copy_cols, {N * 3 * C, btc}, 0,
         F4 * 2 * btc},
        {"mean tokens fwd", r_mean_f, {B * C, btc}, 0, F4 * (btc + B * C)},
        {"mean tokens bwd", r_mean_b, {B * C, btc}, 0,
         F4 * (2 * btc + B * C)},
        {"take token (CLS) fwd", r_take_f, {B * C, btc}, 0, F4 * 2 * B * C},
        {"layernorm fwd 1088x64", r_ln_f, {btc, N, N, btc, C, C}, 0,
         F4 * (2 * btc + 2 * N)},
        {"layernorm bwd 1088x64", r_ln_b, {btc, N, N, btc, C, C, btc, C}, 0,
         F4 * (4 * btc + 2 * N)},
        {"softmax fwd 4352x17", r_softmax_f, {att, att}, 0, F4 * 2 * att},
        {"softmax bwd 4352x17", r_softmax_b, {att, att, att}, 0,
         F4 * 4 * att},
        {"attention fwd 64x17x64 h4", r_attn_f, {btc, (size_t)B * NH * T, btc, btc, btc}, attn_flops, 0},
        {"attention bwd 64x17x64 h4", r_attn_b, {btc, (size_t)B * NH * T, btc, btc, btc, btc, btc, btc, btc},
         2.0 * attn_flops, 0},
        {"conv2d fwd 64x1x28x28 k3 16", r_conv_f,
         {conv_out, conv_in, 16 * 9, 16, conv_scr}, conv_flops, 0},
        {"conv2d bwd 64x1x28x28 k3 16", r_conv_b,
         {conv_out, conv_in, 16 * 9, 16, conv_scr, conv_in, 16 * 9, 16}, 2.0 * conv_flops, 0},
        {"maxpool fwd 64x16x28x28 k2", r_maxpool_f, {pool_out, pool_in}, 0,
         F4 * (pool_in + pool_out)},
        {"maxpool bwd 64x16x28x28 k2", r_maxpool_b, {pool_out, pool_in, pool_in}, 0,
         F4 * (2 * pool_in + pool_out)},
        {"global avgpool fwd 64x16x784", r_gap_f, {B * 16, pool_in}, 0,
         F4 * pool_in},
        {"cross-entropy fwd 64x10", r_ce_f,
         {B * CLS, B, B, B * CLS, B}, 0, F4 * 3 * B * CLS},
        {"cross-entropy bwd 64x10", r_ce_b,
         {B * CLS, B, B, B * CLS, B}, 0, F4 * 3 * B * CLS},
        {"adamw 262144 params", r_adamw, {NPARAM, NPARAM, NPARAM, NPARAM}, 0,
         F4 * 7 * NPARAM},
        {"grad clip (norm) 262144", r_clip, {NPARAM}, 0, F4 * NPARAM},
    };
    const size_t vatt_btc = (size_t)VNA * VD, vlse = (size_t)VBA * VNH * VT;
    const double vattn_flops = 4.0 * VBA * VNH * VT * VT * (VD / VNH);
    const op_row vrows[] = {
        {"vit-b16 device copy 6304x768", r_copy, {VND, VND}, 0, F4 * 2 * VND},
        {"vit-b16 device copy 6304x3072", r_copy, {VNM, VNM}, 0, F4 * 2 * VNM},
        {"vit-b16 linear bias bwd 6304x768", v_bias_b, {VND, VD}, 0, F4 * (VND + VD)},
        {"vit-b16 linear bias bwd 6304x3072", v_bias_b4, {VNM, VM}, 0, F4 * (VNM + VM)},
        {"vit-b16 add bias 6304x3072", v_add_bias, {VNM, VM}, 0, F4 * 2 * VNM},
        {"vit-b16 gelu fwd 6304x3072", v_gelu_f, {VNM, VNM}, 0, F4 * 2 * VNM},
        {"vit-b16 gelu bwd 6304x3072", v_gelu_b, {VNM, VNM, VNM}, 0, F4 * 4 * VNM},
        {"vit-b16 residual add 6304x768", v_add, {VND, VND, VND}, 0, F4 * 3 * VND},
        {"vit-b16 layernorm fwd 6304x768", v_ln_f, {VND, VN, VN, VND, VD, VD}, 0, F4 * (2 * VND + 2 * VN)},
        {"vit-b16 layernorm bwd 6304x768", v_ln_b, {VND, VN, VN, VND, VD, VD, VND, VD}, 0,
         F4 * (4 * VND + 2 * VN)},
        {"vit-b16 softmax fwd 75648x197", v_softmax_f, {VATT, VATT}, 0, F4 * 2 * VATT},
        {"vit-b16 softmax bwd 75648x197", v_softmax_b, {VATT, VATT, VATT}, 0, F4 * 4 * VATT},
        {"vit-b16 cross-entropy fwd 32x1000", v_ce_f, {VB * VK, VB, VB, VB * VK, VB}, 0, F4 * 2 * VB * VK},
        {"vit-b16 cross-entropy bwd 32x1000", v_ce_b, {VB * VK, VB, VB, VB * VK, VB}, 0, F4 * 3 * VB * VK},
        {"vit-b16 take token fwd 32x197x768", v_take_f, {VB * VD, VND}, 0, F4 * 2 * VB * VD},
        {"vit-b16 take token bwd 32x197x768", v_take_b, {VB * VD, VND}, 0, F4 * 3 * VB * VD},
        {"vit-b16 mean tokens fwd 32x197x768", v_mean_f, {VB * VD, VND}, 0, F4 * (VND + VB * VD)},
        {"vit-b16 mean tokens bwd 32x197x768", v_mean_b, {VB * VD, VND}, 0, F4 * (2 * VND + VB * VD)},
        {"vit-b16 residual+layernorm fwd 6304x768", v_res_ln, {VND, VND, VN, VN, VND, VD}, 0,
         F4 * (4 * VND + 2 * VN)},
        {"vit-b16 embed bwd (pos, cls, tokens) 32x197x768", v_embed_b, {VND, VD, VT * VD, VND}, 0,
         F4 * (3 * VND + VT * VD)},
        {"vit-b16 attention fwd 4x197x768 h12", v_attn_f, {vatt_btc, vlse, vatt_btc, vatt_btc, vatt_btc},
         vattn_flops, 0},
        {"vit-b16 attention bwd 4x197x768 h12", v_attn_b,
         {vatt_btc, vlse, vatt_btc, vatt_btc, vatt_btc, vatt_btc, vatt_btc, vatt_btc, vatt_btc}, 2.0 * vattn_flops, 0},
    };
    const int nrows = (int)(sizeof rows / sizeof rows[0]), nv = (int)(sizeof vrows / sizeof vrows[0]);
    LEVI_TRY(run_rows(ctx, doc, rows, nrows, budget_s * nrows / (nrows + nv), &cs));
    return run_rows(ctx, doc, vrows, nv, budget_s * nv / (nrows + nv), &cs);
}

static levi_status run_rows(levi_ctx *ctx, cJSON *doc, const op_row *rows, int nrows, double budget_s,
                            const levi_conv_shape *cs) {
    bench_print_row(NULL, 0, 0);
    levi_status st = LEVI_OK;
    for (int i = 0; i < nrows && st == LEVI_OK; i++) {
        const op_row *r = &rows[i];
        op_job j;
        memset(&j, 0, sizeof j);
        j.cs = *cs;
        for (int k = 0; k < NT && st == LEVI_OK; k++) {
            if (!r->numel[k]) continue;
            st = levi_tensor_alloc1(&j.t[k], ctx, (int)r->numel[k]);
            /* 1.0 everywhere: valid labels for cross-entropy (class 1), finite everywhere else */
            if (st == LEVI_OK) st = levi_tensor_fill(&j.t[k], 1.0f);
        }
        bench_row row;
        memset(&row, 0, sizeof row);
        if (st == LEVI_OK) st = bench_time(ctx, r->run, &j, budget_s / nrows, &row.st);
        for (int k = 0; k < NT; k++)
            if (j.t[k].buf) levi_tensor_free(&j.t[k]);
        if (st != LEVI_OK) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", levi_last_error());
            return levi_error(st, "bench ops: %s: %s", r->name, msg);
        }
        row.group = "ops";
        snprintf(row.name, sizeof row.name, "%s", r->name);
        double amount = r->flops > 0 ? r->flops : r->bytes;
        row.unit = r->flops > 0 ? "GFLOP/s" : "GB/s";
        row.higher_is_better = 1;
        row.value = amount / row.st.median_s * 1e-9;
        row.best = amount / row.st.min_s * 1e-9;
        bench_doc_add(doc, &row);
        bench_print_row(&row, 0, 0);
    }
    return st;
}
