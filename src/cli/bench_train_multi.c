/* bench train over several devices (--devices) and ranks (mpirun): weak
 * scaling of the data-parallel step. Every device keeps the batch B of one
 * device, so a step of N devices trains a global batch of N·B; each row is
 * timed once on one device alone (replica 0 of rank 0, while the others
 * wait) and once on all N, and
 *   scaling efficiency = samples/s on N devices / (N × samples/s on one).
 * A step is levi_parallel_step, as the trainer takes it: upload of each
 * shard, forward, backward, the gradient sum over devices and ranks, clip
 * and AdamW on every replica. Rank 0 writes the table and the JSON; each
 * row's JSON adds "devices", "world_size", "global_batch" and, on the row
 * of N devices, "scaling_efficiency". */
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "levi/parallel.h"
#include "placement.h"

typedef struct multi_row {
    const char *name;
    levi_method method;
    int cache;
} multi_row;

typedef struct step_job {
    levi_parallel *par;
    cli_placement *pl;
    const float *x, *y, *feats;
    int G, t;
    levi_adamw_cfg opt;
    int n_local; /* the devices a timing waits for (finish_all) */
} step_job;

static levi_status finish_all(void *p) {
    const step_job *j = p;
    for (int r = 0; r < j->n_local; r++) LEVI_TRY(levi_finish(j->pl->ctx[r]));
    return LEVI_OK;
}

static levi_status one_step(void *p) {
    step_job *j = p;
    float loss, norm;
    int correct;
    return levi_parallel_step(j->par, j->x, j->y, j->feats, j->G, &j->opt, ++j->t, 1.0f, &loss, &correct, &norm);
}

/* bench_time_runs of one levi_parallel_step on n_local devices (their finish) */
static levi_status time_steps(step_job *j, levi_comm *comm, int n_local, double budget, bench_stats *out) {
    j->n_local = n_local;
    const bench_timer tm = {one_step, finish_all, j};
    return bench_time_runs(&tm, comm, budget, out);
}

static void add_row(cJSON *doc, bench_row *row, int devices, int world, int G, double efficiency) {
    bench_doc_add(doc, row);
    cJSON *res = cJSON_GetObjectItem(doc, "results");
    cJSON *last = res ? cJSON_GetArrayItem(res, cJSON_GetArraySize(res) - 1) : NULL;
    if (last) {
        cJSON_AddNumberToObject(last, "devices", devices);
        cJSON_AddNumberToObject(last, "world_size", world);
        cJSON_AddNumberToObject(last, "global_batch", G);
        if (efficiency >= 0) cJSON_AddNumberToObject(last, "scaling_efficiency", efficiency);
    }
    bench_print_row(row, 0, 0);
}

/* Both timings of one method: one device, then every device of every rank. */
static levi_status bench_row_pair(cli_placement *pl, cJSON *doc, const levi_vit_config *vc, const multi_row *mr,
                                  int B, const float *px, const float *lab, double budget, const char *model) {
    levi_comm *comm = pl->comm;
    int n = pl->n, world = levi_comm_size(comm), N = n * world, G = N * B, root = levi_comm_is_root(comm);
    levi_model *m[CLI_MAX_DEVICES] = {NULL};
    levi_parallel *one = NULL, *all = NULL;
    float *feats = NULL;
    levi_status st = LEVI_OK;
    for (int r = 0; st == LEVI_OK && r < n; r++)
        st = bench_train_make_model(pl->ctx[r], vc, mr->method, LEVI_FUSION_CONCAT, B, &m[r]);
    int F = st == LEVI_OK ? levi_model_feature_dim(m[0]) : 0;
    if (st == LEVI_OK && mr->cache) { /* tap features of the global batch, once, as the trainer's cache */
        size_t chw = (size_t)vc->num_channels * vc->image_size * vc->image_size;
        feats = malloc((size_t)G * F * sizeof *feats);
        if (!feats) st = levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
        for (int k = 0; st == LEVI_OK && k < N; k++) {
            levi_tensor tp = levi_model_input_pixels(m[0], B), tf = levi_model_input_feats(m[0], B);
            st = levi_tensor_write(&tp, px + (size_t)k * B * chw);
            if (st == LEVI_OK) st = levi_model_features(m[0], &tp, &tf, B);
            if (st == LEVI_OK) st = levi_tensor_read(&tf, feats + (size_t)k * B * F);
        }
    }
    bench_row row;
    memset(&row, 0, sizeof row);
    row.group = "train";
    row.unit = "samples/s";
    row.higher_is_better = 1;
    char base[80];
    if (!strcmp(model, "vit-tiny")) snprintf(base, sizeof base, "%s b%d", mr->name, B);
    else snprintf(base, sizeof base, "%s %s b%d", mr->name, model, B);
    /* one device: replica 0 of rank 0 alone */
    double sps1 = 0;
    if (st == LEVI_OK && root) {
        st = levi_parallel_create(&one, NULL, m, 1);
        step_job j = {one, pl, px, lab, feats, B, 0, {1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f}, 0};
        if (st == LEVI_OK) st = time_steps(&j, NULL, 1, budget / 2, &row.st);
        if (st == LEVI_OK) {
            snprintf(row.name, sizeof row.name, "%s x1 device", base);
            row.value = sps1 = B / row.st.median_s;
            row.best = B / row.st.min_s;
            add_row(doc, &row, 1, 1, B, -1);
        }
    }
    /* the other ranks wait for it; a failure on rank 0 ends the job there */
    if (st == LEVI_OK) st = levi_comm_barrier(comm, "the one-device benchmark");
    if (st == LEVI_OK) st = levi_parallel_create(&all, comm, m, n);
    if (st == LEVI_OK) {
        step_job j = {all, pl, px, lab, feats, G, 0, {1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f}, 0};
        st = time_steps(&j, comm, n, budget / 2, &row.st);
    }
    if (st == LEVI_OK && root) {
        snprintf(row.name, sizeof row.name, "%s x%d devices", base, N);
        row.value = G / row.st.median_s;
        row.best = G / row.st.min_s;
        double eff = sps1 > 0 ? row.value / (N * sps1) : 0;
        add_row(doc, &row, N, world, G, eff);
        fprintf(bench_table_stream(), "    %d devices (%d ranks): %.2fx one device, scaling efficiency %.0f%%, "
                                      "%zu floats summed per step\n",
                N, world, sps1 > 0 ? row.value / sps1 : 0, 100 * eff, levi_parallel_grad_floats(all));
    }
    levi_parallel_free(one);
    levi_parallel_free(all);
    for (int r = 0; r < n; r++) levi_model_free(m[r]);
    free(feats);
    return st;
}

int bench_train_multi(const cli_env *env, const char *devices, double budget, int json, const char *out_path,
                      const bench_train_opts *o) {
    static const multi_row k_rows[] = {
        {"ft (full fine-tuning)", LEVI_METHOD_FT, 0},
        {"lora r4", LEVI_METHOD_LORA, 0},
        {"levi concat, no feature cache", LEVI_METHOD_LEVI, 0},
        {"levi concat, feature cache", LEVI_METHOD_LEVI, 1},
    };
    if (o->profile || o->plan || (o->methods && strcmp(o->methods, "default")))
        return cli_fail(levi_error(LEVI_ERR_INVALID_ARG,
                                   "bench train over several devices takes neither --profile nor --methods all"));
    levi_vit_config vc;
    levi_status st = bench_train_model_config(o->model, &vc);
    if (st != LEVI_OK) return cli_fail(st);
    cli_placement pl;
    st = cli_placement_open(&pl, env, devices, NULL);
    if (st != LEVI_OK) return cli_fail(st);
    int root = levi_comm_is_root(pl.comm), B = o->batch > 0 ? o->batch : 64;
    int N = pl.n * levi_comm_size(pl.comm), G = N * B;
    const char *model = o->model ? o->model : "vit-tiny";
    bench_set_table_stream(json && !out_path ? stderr : stdout);
    cJSON *doc = bench_doc_new(&pl.ctx[0]->info, "levi-cl bench");
    /* deterministic pseudo-images and labels: the same on every rank */
    size_t chw = (size_t)vc.num_channels * vc.image_size * vc.image_size;
    float *px = malloc(sizeof(float) * (size_t)G * chw), *lab = malloc(sizeof(float) * (size_t)G);
    if (!doc || !px || !lab) st = levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory for %d synthetic images", G);
    if (st == LEVI_OK) {
        unsigned s = 12345;
        for (size_t i = 0; i < (size_t)G * chw; i++) s = s * 1103515245u + 12345u, px[i] = (float)((s >> 9) & 0xffff) / 65535.0f;
        for (int i = 0; i < G; i++) lab[i] = (float)(i % 10);
        cJSON_AddNumberToObject(doc, "budget_s", budget);
        char *where = cli_placement_json(&pl);
        if (where) { /* "world_size" and "devices" of the summary, at the document's top */
            char buf[4096];
            snprintf(buf, sizeof buf, "{%s}", where);
            cJSON *pj = cJSON_Parse(buf);
            if (pj) {
                cJSON_AddItemToObject(doc, "world_size", cJSON_DetachItemFromObject(pj, "world_size"));
                cJSON_AddItemToObject(doc, "devices", cJSON_DetachItemFromObject(pj, "devices"));
                cJSON_Delete(pj);
            }
        }
        free(where);
        levi_comm_printf(pl.comm, bench_table_stream(), "== train on %d devices (%d ranks), per-device batch %d ==\n",
                         N, levi_comm_size(pl.comm), B);
        if (root) bench_print_row(NULL, 0, 0);
    }
    for (size_t i = 0; st == LEVI_OK && i < sizeof k_rows / sizeof k_rows[0]; i++)
        st = bench_row_pair(&pl, doc, &vc, &k_rows[i], B, px, lab, budget / 4, model);
    if (st == LEVI_OK && root && (json || out_path)) st = bench_doc_write(doc, out_path);
    if (st == LEVI_OK && root && out_path) printf("results written to %s\n", out_path);
    int rc = st == LEVI_OK ? 0 : cli_fail(st);
    cJSON_Delete(doc);
    free(px);
    free(lab);
    cli_placement_close(&pl, st == LEVI_OK);
    return rc;
}
