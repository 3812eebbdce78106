/* bench train: training throughput (samples/s) of ft, lora and levi (with
 * and without the frozen-backbone feature cache) at the demo's model size:
 * ViT-tiny (image 28, patch 7, 1 channel, dim 64, depth 4, heads 4, mlp 128)
 * with random weights, batch 64, task model mlp 128, adapters 128.
 *
 * One timed run is one training step exactly as levi_train takes it: zero
 * gradients, forward with loss, backward, global-norm clip at 1.0 (which
 * reads the norm back to the host) and AdamW. With the feature cache, the
 * tap features are computed once before timing (as the trainer does in its
 * first epoch), so a step is the task model + adapters only.
 * tools/torch_train_bench.py times the same steps in PyTorch. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"

enum { TB = 64 };

typedef struct train_job {
    levi_model *m;
    levi_tensor pixels, labels, feats;
    int use_cache;
    int t;
    levi_adamw_cfg opt;
} train_job;

static levi_status train_step(levi_ctx *ctx, void *arg) {
    (void)ctx;
    train_job *j = arg;
    LEVI_TRY(levi_model_zero_grad(j->m));
    LEVI_TRY(levi_model_forward(j->m, &j->pixels, j->use_cache ? &j->feats : NULL, &j->labels, TB, NULL, NULL));
    LEVI_TRY(levi_model_backward(j->m, TB));
    float norm;
    return levi_model_step(j->m, &j->opt, ++j->t, 1.0f, &norm);
}

static levi_status make_model(levi_ctx *ctx, levi_method method, levi_model **out) {
    *out = NULL;
    levi_vit_config vc;
    levi_vit_config_default(&vc);
    levi_model_config mc;
    levi_model_config_default(&mc, method);
    mc.seed = 1;
    levi_vit *vit = NULL;
    int mode = levi_method_backbone_mode(method);
    if (mode >= 0) {
        LEVI_TRY(levi_vit_create(&vit, ctx, &vc, TB, mode, mode == LEVI_VIT_LORA ? mc.lora_rank : 0));
        levi_status st = levi_vit_init_random(vit, 7);
        if (st != LEVI_OK) {
            levi_vit_free(vit);
            return st;
        }
    }
    return levi_model_create(out, ctx, &mc, vit, TB); /* takes vit over, also on error */
}

levi_status bench_train(levi_ctx *ctx, cJSON *doc, double budget_s) {
    struct {
        const char *name;
        levi_method method;
        int cache;
    } rows[] = {
        {"ft (full fine-tuning) b64", LEVI_METHOD_FT, 0},
        {"lora r4 b64", LEVI_METHOD_LORA, 0},
        {"levi concat, no feature cache b64", LEVI_METHOD_LEVI, 0},
        {"levi concat, feature cache b64", LEVI_METHOD_LEVI, 1},
    };
    int n = (int)(sizeof rows / sizeof rows[0]);
    /* deterministic pseudo-images and labels */
    float *px = malloc(sizeof(float) * TB * 28 * 28), lab[TB];
    if (!px) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    unsigned s = 12345;
    for (int i = 0; i < TB * 28 * 28; i++) s = s * 1103515245u + 12345u, px[i] = (float)((s >> 9) & 0xffff) / 65535.0f;
    for (int i = 0; i < TB; i++) lab[i] = (float)(i % 10);
    bench_print_row(NULL, 0, 0);
    levi_status st = LEVI_OK;
    for (int i = 0; i < n && st == LEVI_OK; i++) {
        train_job j;
        memset(&j, 0, sizeof j);
        j.opt = (levi_adamw_cfg){1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f};
        j.use_cache = rows[i].cache;
        st = make_model(ctx, rows[i].method, &j.m);
        if (st == LEVI_OK) {
            j.pixels = levi_model_input_pixels(j.m, TB);
            j.labels = levi_model_input_labels(j.m, TB);
            st = levi_tensor_write(&j.pixels, px);
        }
        if (st == LEVI_OK) st = levi_tensor_write(&j.labels, lab);
        if (st == LEVI_OK && j.use_cache) {
            j.feats = levi_model_input_feats(j.m, TB);
            st = levi_model_features(j.m, &j.pixels, &j.feats, TB);
        }
        bench_row row;
        memset(&row, 0, sizeof row);
        if (st == LEVI_OK) st = bench_time(ctx, train_step, &j, budget_s / n, &row.st);
        if (j.m) levi_model_free(j.m);
        if (st != LEVI_OK) break;
        row.group = "train";
        snprintf(row.name, sizeof row.name, "%s", rows[i].name);
        row.unit = "samples/s";
        row.higher_is_better = 1;
        row.value = TB / row.st.median_s;
        row.best = TB / row.st.min_s;
        bench_doc_add(doc, &row);
        bench_print_row(&row, 0, 0);
    }
    free(px);
    return st;
}
