/* bench train: training throughput (samples/s) of the methods on a model of
 * the size users train, with random weights and synthetic inputs:
 *   vit-tiny  the demo's (image 28, patch 7, 1 channel, dim 64, depth 4,
 *             heads 4, mlp 128), default batch 64
 *   vit-s16   ViT-S/16 (image 224, patch 16, 3 channels, dim 384, depth 12,
 *             heads 6, mlp 1536)
 *   vit-b16   ViT-B/16 (image 224, patch 16, 3 channels, dim 768, depth 12,
 *             heads 12, mlp 3072)
 * with task model mlp 128, adapters 128, 10 classes.
 *
 * One timed run is one training step exactly as levi_train takes it, on a
 * synthetic data set of four batches: the next batch from a levi_feed
 * (non-blocking uploads), then levi_train_step (zero gradients, forward with
 * loss, metrics on the device, backward, global-norm clip at 1.0, AdamW),
 * and every LEVI_TRAIN_READ_EVERY steps the trainer's read of the metrics
 * (one non-blocking read of the sums and the per-step ring, which feeds the
 * step lines of train --log and the progress display).
 * With the feature cache, the tap features are computed once before timing
 * (as the trainer does before its first epoch), so a step is the task model +
 * adapters only. tools/torch_train_bench.py times the same steps in PyTorch.
 *
 * --profile adds, per steady-state step (after two warm-up steps, over one
 * read interval of LEVI_TRAIN_READ_EVERY steps enqueued back to back): kernel
 * launches, GEMM calls, blocking host syncs, host→device and device→host
 * bytes, and the ten kernels of most device time — a "profile" object in
 * each JSON row. --methods picks rows; --plan prints every row's memory plan
 * and stops before anything is allocated. */
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "memory.h"

typedef struct train_job {
    levi_model *m;
    levi_feed *feed;
    int epoch;
    long t;
    levi_adamw_cfg opt;
    levi_metrics_snapshot snap; /* the trainer's periodic read of the metrics */
    cl_event snap_ev;
} train_job;

static levi_status train_step(levi_ctx *ctx, void *arg) {
    train_job *j = arg;
    levi_batch b;
    LEVI_TRY(levi_feed_next(j->feed, &b));
    if (!b.n) {
        LEVI_TRY(levi_feed_epoch(j->feed, ++j->epoch));
        LEVI_TRY(levi_feed_next(j->feed, &b));
    }
    LEVI_TRY(levi_train_step(j->m, &b, &j->opt, ++j->t, 1.0f));
    if (j->t % LEVI_TRAIN_READ_EVERY) return LEVI_OK;
    /* the previous read completed long ago (a whole interval of steps ran after it) */
    LEVI_TRY(levi_event_wait_backpressure(ctx, 1, &j->snap_ev));
    levi_event_release(&j->snap_ev);
    return levi_model_metrics_read_async(j->m, LEVI_METRICS_TRAIN, &j->snap, &j->snap_ev);
}

static void train_job_free(train_job *j) {
    if (j->snap_ev) clWaitForEvents(1, &j->snap_ev);
    levi_event_release(&j->snap_ev);
    levi_feed_free(j->feed);
    if (j->m) levi_model_free(j->m);
}

levi_status bench_train_model_config(const char *name, levi_vit_config *vc) {
    levi_status st = cli_vit_preset(name, vc);
    if (st == LEVI_OK) return LEVI_OK;
    char msg[256];
    snprintf(msg, sizeof msg, "%s", levi_last_error());
    return levi_error(st, "bench train: --model %s", msg);
}

typedef struct train_row {
    const char *key; /* --methods */
    const char *name;
    levi_method method;
    int cache;
    levi_fusion fusion;
} train_row;

static levi_status make_model(levi_ctx *ctx, const levi_vit_config *vc, const train_row *r, int B, levi_model **out) {
    return bench_train_make_model(ctx, vc, r->method, r->fusion, B, out);
}

levi_status bench_train_make_model(levi_ctx *ctx, const levi_vit_config *vc, levi_method method, levi_fusion fusion,
                                   int B, levi_model **out) {
    *out = NULL;
    levi_model_config mc;
    levi_model_config_default(&mc, method);
    mc.seed = 1;
    mc.channels = vc->num_channels;
    mc.height = mc.width = vc->image_size;
    if (method == LEVI_METHOD_LEVI || method == LEVI_METHOD_LEVI_LORA) mc.fusion = fusion;
    levi_backbone *bb = NULL;
    int mode = levi_method_backbone_mode(method);
    if (mode >= 0) {
        levi_vit *vit = NULL;
        LEVI_TRY(levi_vit_create(&vit, ctx, vc, B, mode, mode == LEVI_BACKBONE_LORA ? mc.lora_rank : 0));
        levi_status st = levi_vit_init_random(vit, 7);
        if (st != LEVI_OK) {
            levi_vit_free(vit);
            return st;
        }
        LEVI_TRY(levi_backbone_from_vit(&bb, ctx, vit)); /* takes vit over, also on error */
    }
    return levi_model_create(out, ctx, &mc, bb, B); /* takes bb over, also on error */
}

/* Counters per step over `steps` steps enqueued back to back, and the top
 * kernels by device time, as the row's "profile" object. */
static levi_status profile_steps(levi_ctx *ctx, train_job *j, cJSON *row) {
    const int steps = LEVI_TRAIN_READ_EVERY;
    LEVI_TRY(train_step(ctx, j));
    LEVI_TRY(train_step(ctx, j));
    LEVI_TRY(levi_finish(ctx));
    levi_counters_reset(ctx);
    for (int i = 0; i < steps; i++) LEVI_TRY(train_step(ctx, j));
    levi_counters c;
    levi_counters_get(ctx, &c);
    LEVI_TRY(levi_finish(ctx));
    levi_kernel_time top[10];
    int n = levi_profile_top(ctx, top, 10);
    cJSON *p = cJSON_AddObjectToObject(row, "profile");
    if (!p) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    cJSON_AddNumberToObject(p, "steps", steps);
    cJSON_AddNumberToObject(p, "launches_per_step", (double)c.launches / steps);
    cJSON_AddNumberToObject(p, "gemm_calls_per_step", (double)c.gemm_calls / steps);
    cJSON_AddNumberToObject(p, "blocking_syncs_per_step", (double)c.blocking_syncs / steps);
    cJSON_AddNumberToObject(p, "backpressure_waits_per_step", (double)c.backpressure_waits / steps);
    cJSON_AddNumberToObject(p, "h2d_bytes_per_step", (double)c.h2d_bytes / steps);
    cJSON_AddNumberToObject(p, "d2h_bytes_per_step", (double)c.d2h_bytes / steps);
    cJSON *k = cJSON_AddArrayToObject(p, "top_kernels");
    for (int i = 0; k && i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", top[i].name);
        cJSON_AddNumberToObject(e, "launches_per_step", (double)top[i].count / steps);
        cJSON_AddNumberToObject(e, "device_us_per_step", top[i].device_s / steps * 1e6);
        cJSON_AddItemToArray(k, e);
    }
    fprintf(bench_table_stream(),
            "    per step: %.1f launches, %.1f GEMM calls, %.2f blocking syncs, %.2f backpressure waits, h2d %.0f B, "
            "d2h %.0f B\n",
            (double)c.launches / steps, (double)c.gemm_calls / steps, (double)c.blocking_syncs / steps,
            (double)c.backpressure_waits / steps, (double)c.h2d_bytes / steps, (double)c.d2h_bytes / steps);
    for (int i = 0; i < n; i++)
        fprintf(bench_table_stream(), "      %2d. %-36s %9.1f us/step (%.1f launches)\n", i + 1, top[i].name,
                top[i].device_s / steps * 1e6, (double)top[i].count / steps);
    return LEVI_OK;
}

/* The rows of --methods: NULL or "default" the first four, "all" every
 * one, else a comma-separated list of keys. */
static levi_status pick_rows(const train_row *all, int n_all, const char *methods, train_row *out, int *n) {
    *n = 0;
    if (!methods || !strcmp(methods, "default") || !strcmp(methods, "all")) {
        *n = methods && !strcmp(methods, "all") ? n_all : 4;
        memcpy(out, all, (size_t)*n * sizeof *out);
        return LEVI_OK;
    }
    const char *p = methods;
    for (;;) {
        size_t len = strcspn(p, ",");
        int found = -1;
        for (int i = 0; i < n_all && found < 0; i++)
            if (strlen(all[i].key) == len && !strncmp(all[i].key, p, len)) found = i;
        if (found < 0 || *n >= n_all) {
            char keys[512] = "";
            for (int i = 0; i < n_all; i++) {
                strncat(keys, i ? ", " : "", sizeof keys - strlen(keys) - 1);
                strncat(keys, all[i].key, sizeof keys - strlen(keys) - 1);
            }
            return levi_error(LEVI_ERR_INVALID_ARG, "bench train: --methods '%.*s' is not all, default or one of %s",
                              (int)len, p, keys);
        }
        out[(*n)++] = all[found];
        if (!p[len]) return LEVI_OK;
        p += len + 1;
    }
}

/* --plan: the memory a row needs at batch B, per stage. */
static levi_status print_plan(const cli_recipe *r, levi_ctx *ctx, int B, const char *what) {
    levi_mem_plan p;
    size_t xn = (size_t)r->mc.channels * r->mc.height * r->mc.width;
    LEVI_TRY(levi_mem_plan_run(&p, ctx, ctx, cli_build_model, (void *)r, B, xn, 0));
    fprintf(bench_table_stream(), "%s:\n", what);
    levi_mem_plan_print(&p, bench_table_stream());
    int fit = levi_mem_plan_fit(&p, 1 << 20);
    fprintf(bench_table_stream(), "memory: the largest batch that fits is %d\n", fit);
    return LEVI_OK;
}

levi_status bench_train(levi_ctx *ctx, cJSON *doc, double budget_s, const bench_train_opts *o) {
    /* the first four: the default rows, the ones compared with PyTorch */
    static const train_row k_all[] = {
        {"ft", "ft (full fine-tuning)", LEVI_METHOD_FT, 0, LEVI_FUSION_CONCAT},
        {"lora", "lora r4", LEVI_METHOD_LORA, 0, LEVI_FUSION_CONCAT},
        {"levi", "levi concat, no feature cache", LEVI_METHOD_LEVI, 0, LEVI_FUSION_CONCAT},
        {"levi-cache", "levi concat, feature cache", LEVI_METHOD_LEVI, 1, LEVI_FUSION_CONCAT},
        {"scratch", "scratch", LEVI_METHOD_SCRATCH, 0, LEVI_FUSION_CONCAT},
        {"lp", "lp, no feature cache", LEVI_METHOD_LP, 0, LEVI_FUSION_CONCAT},
        {"lp-cache", "lp, feature cache", LEVI_METHOD_LP, 1, LEVI_FUSION_CONCAT},
        {"levi-ensemble", "levi ensemble, no feature cache", LEVI_METHOD_LEVI, 0, LEVI_FUSION_ENSEMBLE},
        {"levi-ensemble-cache", "levi ensemble, feature cache", LEVI_METHOD_LEVI, 1, LEVI_FUSION_ENSEMBLE},
        {"levi+lora", "levi+lora concat", LEVI_METHOD_LEVI_LORA, 0, LEVI_FUSION_CONCAT},
        {"levi+lora-ensemble", "levi+lora ensemble", LEVI_METHOD_LEVI_LORA, 0, LEVI_FUSION_ENSEMBLE},
    };
    enum { N_ALL = (int)(sizeof k_all / sizeof k_all[0]) };
    train_row picked[N_ALL];
    int n = 0;
    LEVI_TRY(pick_rows(k_all, N_ALL, o->methods, picked, &n));
    const train_row *rows = picked;
    levi_vit_config vc;
    LEVI_TRY(bench_train_model_config(o->model, &vc));
    int B = o->batch > 0 ? o->batch : 64;
    const char *model = o->model ? o->model : "vit-tiny";
    const int tiny = !strcmp(model, "vit-tiny");
    if (o->profile) LEVI_TRY(levi_ctx_set_profiling(ctx, 1));
    /* every row's memory, before anything is allocated */
    for (int i = 0; i < n; i++) {
        cli_recipe r = {&vc, levi_method_backbone_mode(rows[i].method), 0, {0}, NULL};
        levi_model_config_default(&r.mc, rows[i].method);
        r.mc.channels = vc.num_channels;
        r.mc.height = r.mc.width = vc.image_size;
        if (rows[i].method == LEVI_METHOD_LEVI || rows[i].method == LEVI_METHOD_LEVI_LORA) r.mc.fusion = rows[i].fusion;
        if (r.mode == LEVI_BACKBONE_LORA) r.lora_rank = r.mc.lora_rank;
        if (r.mode < 0) r.vc = NULL;
        char what[160];
        snprintf(what, sizeof what, "bench train %s %s", rows[i].name, model);
        int b = o->batch < 0 ? 0 : B;
        if (o->plan && o->batch >= 0) LEVI_TRY(print_plan(&r, ctx, B, what)); /* auto prints its own */
        LEVI_TRY(cli_memory_check(&r, ctx, ctx, NULL, 0, &b, o->batch < 0 ? 65536 : B, 0, what));
        if (o->batch < 0 && (i == 0 || b < B)) B = b;
    }
    if (o->plan) return LEVI_OK;
    /* a synthetic data set of four batches: deterministic pseudo-images and labels */
    size_t chw = (size_t)vc.num_channels * vc.image_size * vc.image_size;
    levi_dataset ds;
    memset(&ds, 0, sizeof ds);
    char *names[10] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    ds.n = 4 * B;
    ds.channels = vc.num_channels;
    ds.height = ds.width = vc.image_size;
    ds.num_classes = 10;
    ds.class_names = names;
    levi_preprocess_default(&ds.pre, ds.channels, ds.height, ds.width, vc.image_mean, vc.image_std);
    ds.pixels = malloc((size_t)ds.n * chw);
    ds.labels = malloc(sizeof(int) * (size_t)ds.n);
    if (!ds.pixels || !ds.labels) {
        free(ds.pixels);
        free(ds.labels);
        return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory for %d synthetic images", ds.n);
    }
    unsigned s = 12345;
    for (size_t i = 0; i < (size_t)ds.n * chw; i++)
        s = s * 1103515245u + 12345u, ds.pixels[i] = (unsigned char)((s >> 9) & 0xff);
    for (int i = 0; i < ds.n; i++) ds.labels[i] = i % 10;
    bench_print_row(NULL, 0, 0);
    levi_status st = LEVI_OK;
    for (int i = 0; i < n && st == LEVI_OK; i++) {
        train_job j;
        memset(&j, 0, sizeof j);
        j.opt = (levi_adamw_cfg){1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f};
        st = make_model(ctx, &vc, &rows[i], B, &j.m);
        if (st == LEVI_OK) st = levi_feed_create(&j.feed, j.m, &ds, B, 1, 3, rows[i].cache);
        if (st == LEVI_OK) st = levi_feed_epoch(j.feed, 0);
        bench_row row;
        memset(&row, 0, sizeof row);
        row.group = "train";
        if (tiny) snprintf(row.name, sizeof row.name, "%s b%d", rows[i].name, B);
        else snprintf(row.name, sizeof row.name, "%s %s b%d", rows[i].name, model, B);
        cJSON *prof = NULL;
        if (st == LEVI_OK && o->profile) {
            prof = cJSON_CreateObject();
            fprintf(bench_table_stream(), "  %s\n", row.name);
            st = prof ? profile_steps(ctx, &j, prof) : levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
        }
        if (st == LEVI_OK) st = bench_time(ctx, train_step, &j, budget_s / n, &row.st);
        train_job_free(&j);
        if (st != LEVI_OK) {
            cJSON_Delete(prof);
            break;
        }
        row.unit = "samples/s";
        row.higher_is_better = 1;
        row.value = B / row.st.median_s;
        row.best = B / row.st.min_s;
        bench_doc_add(doc, &row);
        if (prof) {
            cJSON *res = cJSON_GetObjectItem(doc, "results");
            cJSON *last = res ? cJSON_GetArrayItem(res, cJSON_GetArraySize(res) - 1) : NULL;
            if (last) cJSON_AddItemToObject(last, "profile", cJSON_DetachItemFromObject(prof, "profile"));
            cJSON_Delete(prof);
        }
        bench_print_row(&row, 0, 0);
    }
    free(ds.pixels);
    free(ds.labels);
    return st;
}
