/* levi-cl demo: the whole LEVI story in one command.
 *
 *   1  generate fashion-shift          cached in <cache>/demo/fashion-shift-<key>/
 *   2  pretrain the default ViT        cached in <cache>/demo/backbone-<key>/
 *   3… train each method on `train`, evaluate on test-id and test-ood
 *                                      DIR/runs/<method>/
 *   then print the table and write DIR/report.html and DIR/results.json.
 *
 * Every stage runs an ordinary levi-cl command in this process (through the
 * command table), with its output in DIR/logs/<stage>.log. A stage is done
 * when its completion marker (complete.json, written atomically after its
 * outputs) holds the key of its parameters; an interrupted stage has no
 * marker and is redone from a clean folder, so Ctrl-C and a rerun never see
 * half-written files. The sizes below were measured on 2 CPU cores through
 * PoCL (see the README): the full demo fits 10 minutes, --quick 2 minutes. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "demo_results.h"
#include "demo_stage.h"

/* --- sizes: the one table of constants ------------------------------------ */

typedef struct demo_size {
    const char *name;
    int data_limit;         /* fashion-shift --limit: images per split (0: the full benchmark) */
    int pretrain_limit;     /* pretrain --limit: images per class */
    int pretrain_epochs;
    int pretrain_batch;
    int train_limit;        /* train --limit: images per class */
    int train_epochs;
    int train_batch;
    int eval_limit;         /* eval --limit: images per class of test-id and of test-ood */
    double est_data_s;      /* stage times (seconds) for the ETA */
    double est_pretrain_s;
    double est_train_s;     /* train + eval of a method of relative cost 1 */
} demo_size;

/* Chosen from CPU time measured on 2 cores through PoCL (user+sys seconds):
 * fashion-shift, all 70,000 PNGs: 14 s; vit-tiny pretrain: 5.4 ms per image
 * and epoch; a frozen-backbone forward (lp/levi features, eval): 1.9 ms per
 * image; ft: ~5 ms per image and epoch; scratch (MLP): 0.15 ms.
 * full: 14 + 160 (pretrain) + ~120 (methods) + kernel builds ≈ 5–6 min of
 * CPU; quick: ≈ 1 min; tiny: seconds (smoke tests only). */
static const demo_size k_sizes[] = {
    /* name    data  pretrain:lim ep batch  train:lim ep batch  eval  est: data pretrain train */
    {"full", 0, 1000, 3, 64, 500, 3, 64, 200, 30, 160, 25},
    {"quick", 2000, 200, 3, 64, 100, 2, 64, 50, 5, 30, 6},
    {"tiny", 200, 20, 1, 32, 20, 1, 32, 10, 3, 5, 2},
};

typedef struct demo_method {
    const char *name;
    const char *lr;
    double cost; /* relative training + evaluation cost, for the ETA */
} demo_method;

static const demo_method k_methods[] = {
    {"scratch", "1e-3", 0.3}, {"lp", "1e-3", 1.0},   {"ft", "3e-4", 4.0},
    {"lora", "1e-3", 3.5},    {"levi", "1e-3", 1.1}, {"levi+lora", "1e-3", 4.0},
};
#define N_METHODS (int)(sizeof k_methods / sizeof k_methods[0])

static const char *k_default_methods = "scratch,lp,ft,levi";
static const unsigned long long k_data_seed = 0;
static const unsigned long long k_pretrain_seed = 0;

static const char *k_usage =
    "usage: levi-cl [--device SEL] demo [--out DIR] [--quick] [--seed S] [--methods LIST] [--source DIR]\n"
    "\n"
    "Run the whole LEVI comparison on the fashion-shift benchmark:\n"
    "  1. generate fashion-shift (cached in the levi cache folder),\n"
    "  2. pretrain the default ViT backbone on its `pretrain` split (cached),\n"
    "  3. train each method on `train` and evaluate it on `test-id` and `test-ood`,\n"
    "then print the table and write DIR/report.html (open it in a browser) and\n"
    "DIR/results.json. Stopping it (Ctrl-C) and running it again resumes after\n"
    "the last finished stage.\n"
    "\n"
    "  --out DIR        output folder (default ./levi-demo)\n"
    "  --quick          a smaller run (about 2 minutes on 2 CPU cores instead of 10)\n"
    "  --size S         full | quick | tiny (tiny: seconds, for smoke tests)\n"
    "  --seed S         training seed of the methods (default 0; data and backbone stay fixed)\n"
    "  --methods LIST   comma-separated, from scratch,lp,ft,lora,levi,levi+lora\n"
    "                   (default scratch,lp,ft,levi)\n"
    "  --source DIR     Fashion-MNIST's four .gz files (default: the Debian package's\n"
    "                   /usr/share/datasets/fashion-mnist)\n"
    "  --device SEL     the OpenCL device (see levi-cl --device list)\n"
    "\n"
    "The cache folder is $LEVI_CACHE_DIR, else ~/.cache/levi-cl (DIR/cache when\n"
    "LEVI_CACHE_DIR=off). Logs of every stage are in DIR/logs/.\n";

/* --- small helpers ------------------------------------------------------------ */

#define ARG_MAX_N 40
typedef struct argv_buf {
    int n;
    char *v[ARG_MAX_N + 1];
    char s[ARG_MAX_N][1100];
} argv_buf;

static void argv_add(argv_buf *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void argv_add(argv_buf *a, const char *fmt, ...) {
    if (a->n >= ARG_MAX_N) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->s[a->n], sizeof a->s[0], fmt, ap);
    va_end(ap);
    a->v[a->n] = a->s[a->n];
    a->n++;
    a->v[a->n] = NULL;
}

/* Append "levi-cl arg arg ..." (shell-quoted, continued with " \\" before an
 * option once a line grows long) and a newline to out. */
static void argv_command(const argv_buf *a, char *out, size_t len) {
    size_t o = strlen(out);
    o += (size_t)snprintf(out + o, o < len ? len - o : 0, "levi-cl");
    size_t line = 7;
    for (int i = 0; i < a->n && o < len; i++) {
        char q[2300];
        demo_shell_quote(q, sizeof q, a->v[i]);
        size_t need = strlen(q) + 1;
        if (a->v[i][0] == '-' && a->v[i][1] == '-' && i + 1 < a->n && a->v[i + 1][0] != '-')
            need += strlen(a->v[i + 1]) + 1; /* keep an option with its value */
        if (a->v[i][0] == '-' && line + need > 78) {
            o += (size_t)snprintf(out + o, len - o, " \\\n   ");
            line = 3;
        }
        if (o < len) o += (size_t)snprintf(out + o, len - o, " %s", q);
        line += strlen(q) + 1;
    }
    if (o < len) snprintf(out + o, len - o, "\n");
}

typedef struct demo_run_state {
    const demo_size *size;
    const char *out;
    char cache[1024];
    char data_dir[1200];   /* .../fashion-shift-KEY */
    char data[1300];       /* .../fashion-shift-KEY/data */
    char sheet[1300];
    char backbone_dir[1200];
    char backbone[1300];
    char data_key[17], backbone_key[17];
    unsigned long long seed;
    const char *source; /* Fashion-MNIST folder, NULL: the data command's default */
    const demo_method *methods[N_METHODS];
    int n_methods;
    demo_progress prog;
    levi_report_stage stages[16];
    char stage_names[16][96];
    char setup_cmds[8192];
    char row_cmds[N_METHODS][4096];
} demo_run_state;

static int stage_failed(demo_run_state *s, int k, const char *log, int rc) {
    int have_log = access(log, R_OK) == 0;
    fprintf(stderr, "levi-cl demo: stage %d/%d (%s) failed (exit status %d)%s%s\n", k + 1, s->prog.n_stages,
            s->stage_names[k], rc, have_log ? "; its log is " : "", have_log ? log : "");
    if (have_log) demo_print_tail(log, 12);
    fprintf(stderr, "Fix the cause and run the same command again: finished stages are kept.\n");
    return rc == 2 ? 1 : (rc ? rc : 1);
}

static void stage_cached(demo_run_state *s, int k) {
    s->stages[k] = (levi_report_stage){s->stage_names[k], 0, 1};
    s->prog.actual[k] = -1;
    fprintf(stderr, "stage %d/%d: %s — cached\n", k + 1, s->prog.n_stages, s->stage_names[k]);
}

static void stage_done(demo_run_state *s, int k, double secs) {
    s->stages[k] = (levi_report_stage){s->stage_names[k], secs, 0};
    s->prog.actual[k] = secs;
    char t[32], eta[32];
    demo_fmt_time(t, sizeof t, secs);
    demo_fmt_time(eta, sizeof eta, demo_eta(&s->prog, k, secs));
    fprintf(stderr, "stage %d/%d: %s — done in %s — ETA %s\n", k + 1, s->prog.n_stages, s->stage_names[k], t, eta);
}

static void log_path(const demo_run_state *s, const char *stage, char *out, size_t len) {
    snprintf(out, len, "%s/logs/%s.log", s->out, stage);
}

/* --- stages ----------------------------------------------------------------- */

static int stage_data(demo_run_state *s, const cli_env *env, int k) {
    char marker[1400], lock[1400], log[1400];
    snprintf(marker, sizeof marker, "%s/complete.json", s->data_dir);
    snprintf(lock, sizeof lock, "%s.lock", s->data_dir);
    log_path(s, "1-data", log, sizeof log);
    argv_buf *gen = calloc(1, sizeof *gen), *show = calloc(1, sizeof *show);
    if (!gen || !show) return cli_fail(levi_error(LEVI_ERR_HOST_MEMORY, "out of memory"));
    argv_add(gen, "data");
    argv_add(gen, "fashion-shift");
    argv_add(gen, "--out");
    argv_add(gen, "%s", s->data);
    if (s->size->data_limit > 0) {
        argv_add(gen, "--limit");
        argv_add(gen, "%d", s->size->data_limit);
    }
    argv_add(gen, "--seed");
    argv_add(gen, "%llu", k_data_seed);
    if (s->source) {
        argv_add(gen, "--source");
        argv_add(gen, "%s", s->source);
    }
    argv_add(show, "data");
    argv_add(show, "show");
    argv_add(show, "%s", s->data);
    argv_add(show, "--out");
    argv_add(show, "%s", s->sheet);
    argv_command(gen, s->setup_cmds, sizeof s->setup_cmds);
    argv_command(show, s->setup_cmds, sizeof s->setup_cmds);

    int rc = 0;
    int lk = demo_lock(lock);
    cJSON *m = demo_marker_read(marker, s->data_key);
    if (m) {
        stage_cached(s, k);
    } else {
        double t0 = demo_now();
        levi_status st = demo_rmtree(s->data_dir);
        if (st == LEVI_OK) st = levi_mkdirs(s->data_dir);
        if (st != LEVI_OK) rc = cli_fail(st);
        if (!rc) {
            rc = demo_run(&s->prog, k, s->stage_names[k], log, NULL, NULL, gen->n, gen->v, env);
            if (!rc) rc = demo_run(&s->prog, k, s->stage_names[k], log, NULL, NULL, show->n, show->v, env);
            if (rc) rc = stage_failed(s, k, log, rc);
        }
        if (!rc) {
            m = cJSON_CreateObject();
            cJSON_AddStringToObject(m, "stage", "fashion-shift");
            cJSON_AddNumberToObject(m, "limit", s->size->data_limit);
            cJSON_AddNumberToObject(m, "seed", (double)k_data_seed);
            cJSON_AddNumberToObject(m, "seconds", demo_now() - t0);
            st = demo_marker_write(marker, s->data_key, m);
            if (st != LEVI_OK) rc = cli_fail(st);
            else stage_done(s, k, demo_now() - t0);
        }
    }
    cJSON_Delete(m);
    demo_unlock(lk);
    free(gen);
    free(show);
    return rc;
}

static int stage_pretrain(demo_run_state *s, const cli_env *env, int k) {
    char marker[1400], lock[1400], log[1400];
    snprintf(marker, sizeof marker, "%s/complete.json", s->backbone_dir);
    snprintf(lock, sizeof lock, "%s.lock", s->backbone_dir);
    log_path(s, "2-pretrain", log, sizeof log);
    argv_buf *a = calloc(1, sizeof *a);
    if (!a) return cli_fail(levi_error(LEVI_ERR_HOST_MEMORY, "out of memory"));
    argv_add(a, "pretrain");
    argv_add(a, "--data");
    argv_add(a, "%s/pretrain", s->data);
    argv_add(a, "--arch");
    argv_add(a, "vit-tiny");
    argv_add(a, "--epochs");
    argv_add(a, "%d", s->size->pretrain_epochs);
    argv_add(a, "--batch");
    argv_add(a, "%d", s->size->pretrain_batch);
    if (s->size->pretrain_limit > 0) {
        argv_add(a, "--limit");
        argv_add(a, "%d", s->size->pretrain_limit);
    }
    argv_add(a, "--seed");
    argv_add(a, "%llu", k_pretrain_seed);
    argv_add(a, "--out");
    argv_add(a, "%s", s->backbone);
    argv_command(a, s->setup_cmds, sizeof s->setup_cmds);

    int rc = 0;
    int lk = demo_lock(lock);
    cJSON *m = demo_marker_read(marker, s->backbone_key);
    if (m) {
        stage_cached(s, k);
    } else {
        double t0 = demo_now();
        levi_status st = demo_rmtree(s->backbone_dir);
        if (st == LEVI_OK) st = levi_mkdirs(s->backbone_dir);
        if (st != LEVI_OK) rc = cli_fail(st);
        if (!rc) {
            rc = demo_run(&s->prog, k, s->stage_names[k], log, NULL, NULL, a->n, a->v, env);
            if (rc) rc = stage_failed(s, k, log, rc);
        }
        if (!rc) {
            m = cJSON_CreateObject();
            cJSON_AddStringToObject(m, "stage", "pretrain");
            cJSON_AddStringToObject(m, "data_key", s->data_key);
            cJSON_AddNumberToObject(m, "seconds", demo_now() - t0);
            st = demo_marker_write(marker, s->backbone_key, m);
            if (st != LEVI_OK) rc = cli_fail(st);
            else stage_done(s, k, demo_now() - t0);
        }
    }
    cJSON_Delete(m);
    demo_unlock(lk);
    free(a);
    return rc;
}


static void method_dir(const demo_run_state *s, const demo_method *me, char *out, size_t len) {
    snprintf(out, len, "%s/runs/%s", s->out, me->name);
}

/* Train (resuming from the trainer's per-epoch checkpoint when an earlier
 * run was interrupted, or skipping training when it had finished), then
 * evaluate; on success *m is the new completion marker. */
static int run_method(demo_run_state *s, const cli_env *env, int k, const char *key, const char *dir,
                      const char *log, const char *metrics, argv_buf *tr, argv_buf *ev, cJSON **m) {
    char trained[1400], ckpt[1400], eval[1400], eval_tmp[1400];
    snprintf(trained, sizeof trained, "%s/trained.json", dir);
    snprintf(ckpt, sizeof ckpt, "%s/model.safetensors.ckpt", dir);
    snprintf(eval, sizeof eval, "%s/eval.json", dir);
    snprintf(eval_tmp, sizeof eval_tmp, "%s/eval.json.partial", dir);
    double t0 = demo_now(), t_before = 0;
    int rc = 0;
    cJSON *done = demo_marker_read(trained, key);
    if (!done && access(ckpt, R_OK) == 0 && access(metrics, R_OK) == 0) {
        /* an interrupted training run: continue from its last finished epoch */
        t_before = demo_metrics_truncate(metrics);
        argv_buf *rt = calloc(1, sizeof *rt);
        if (rt) {
            *rt = *tr;
            for (int i = 0; i < rt->n; i++) rt->v[i] = rt->s[i];
            argv_add(rt, "--resume");
            argv_add(rt, "%s", ckpt);
            fprintf(stderr, "stage %d/%d: %s — resuming training from %s\n", k + 1, s->prog.n_stages,
                    s->stage_names[k], ckpt);
            rc = demo_run(&s->prog, k, s->stage_names[k], log, NULL, metrics, rt->n, rt->v, env);
            free(rt);
        }
        if (!rt || rc) {
            fprintf(stderr, "stage %d/%d: %s — could not resume; starting this stage over\n", k + 1,
                    s->prog.n_stages, s->stage_names[k]);
            rc = 0;
            t_before = 0;
            t0 = demo_now();
        } else {
            done = cJSON_CreateObject();
        }
    }
    if (!done) {
        levi_status st = demo_rmtree(dir);
        if (st == LEVI_OK) st = levi_mkdirs(dir);
        if (st != LEVI_OK) return cli_fail(st);
        rc = demo_run(&s->prog, k, s->stage_names[k], log, NULL, metrics, tr->n, tr->v, env);
        if (rc) return stage_failed(s, k, log, rc);
        done = cJSON_CreateObject();
    }
    if (!cJSON_GetObjectItemCaseSensitive(done, "train_s")) {
        cJSON_AddNumberToObject(done, "train_s", t_before + demo_now() - t0);
        levi_status st = demo_marker_write(trained, key, done);
        if (st != LEVI_OK) {
            cJSON_Delete(done);
            return cli_fail(st);
        }
    }
    rc = demo_run(&s->prog, k, s->stage_names[k], log, eval_tmp, NULL, ev->n, ev->v, env);
    if (!rc && rename(eval_tmp, eval) != 0)
        rc = cli_fail(levi_error(LEVI_ERR_IO, "cannot rename '%s' onto '%s'", eval_tmp, eval));
    if (rc) {
        cJSON_Delete(done);
        return stage_failed(s, k, log, rc);
    }
    double secs = demo_now() - t0;
    cJSON_AddNumberToObject(done, "seconds", secs);
    char complete[1400];
    snprintf(complete, sizeof complete, "%s/complete.json", dir);
    levi_status st = demo_marker_write(complete, key, done);
    if (st != LEVI_OK) {
        cJSON_Delete(done);
        return cli_fail(st);
    }
    stage_done(s, k, secs);
    *m = done;
    return 0;
}

static int stage_method(demo_run_state *s, const cli_env *env, int k, int mi, demo_result *res) {
    const demo_method *me = s->methods[mi];
    char dir[1200], marker[1400], log[1400], model[1400], metrics[1400], eval[1400];
    method_dir(s, me, dir, sizeof dir);
    snprintf(marker, sizeof marker, "%s/complete.json", dir);
    snprintf(model, sizeof model, "%s/model.safetensors", dir);
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", dir);
    snprintf(eval, sizeof eval, "%s/eval.json", dir);
    char stage[64];
    snprintf(stage, sizeof stage, "%d-%s", k + 1, me->name);
    log_path(s, stage, log, sizeof log);
    char key[17];
    demo_key(key, "method v1 %s data=%s backbone=%s lr=%s epochs=%d batch=%d limit=%d eval_limit=%d seed=%llu",
             me->name, s->data_key, s->backbone_key, me->lr, s->size->train_epochs, s->size->train_batch,
             s->size->train_limit, s->size->eval_limit, s->seed);

    argv_buf *tr = calloc(1, sizeof *tr), *ev = calloc(1, sizeof *ev);
    if (!tr || !ev) return cli_fail(levi_error(LEVI_ERR_HOST_MEMORY, "out of memory"));
    argv_add(tr, "train");
    argv_add(tr, "--method");
    argv_add(tr, "%s", me->name);
    if (strcmp(me->name, "scratch")) {
        argv_add(tr, "--backbone");
        argv_add(tr, "%s", s->backbone);
    }
    argv_add(tr, "--data");
    argv_add(tr, "%s/train", s->data);
    argv_add(tr, "--epochs");
    argv_add(tr, "%d", s->size->train_epochs);
    argv_add(tr, "--batch");
    argv_add(tr, "%d", s->size->train_batch);
    argv_add(tr, "--lr");
    argv_add(tr, "%s", me->lr);
    if (s->size->train_limit > 0) {
        argv_add(tr, "--limit");
        argv_add(tr, "%d", s->size->train_limit);
    }
    argv_add(tr, "--seed");
    argv_add(tr, "%llu", s->seed);
    argv_add(tr, "--log");
    argv_add(tr, "%s", metrics);
    argv_add(tr, "--out");
    argv_add(tr, "%s", model);
    argv_add(ev, "eval");
    argv_add(ev, "--model");
    argv_add(ev, "%s", model);
    argv_add(ev, "--data");
    argv_add(ev, "%s/test-id", s->data);
    argv_add(ev, "--data");
    argv_add(ev, "%s/test-ood", s->data);
    if (s->size->eval_limit > 0) {
        argv_add(ev, "--limit");
        argv_add(ev, "%d", s->size->eval_limit);
    }
    argv_add(ev, "--json");
    s->row_cmds[mi][0] = '\0';
    argv_command(tr, s->row_cmds[mi], sizeof s->row_cmds[mi]);
    argv_command(ev, s->row_cmds[mi], sizeof s->row_cmds[mi]);

    int rc = 0;
    cJSON *m = demo_marker_read(marker, key);
    if (m) stage_cached(s, k);
    else rc = run_method(s, env, k, key, dir, log, metrics, tr, ev, &m);
    res->method = me->name;
    res->command = s->row_cmds[mi];
    res->id_acc = res->ood_acc = res->train_s = res->sps = -1;
    if (!rc) {
        const cJSON *ts = cJSON_GetObjectItemCaseSensitive(m, "train_s");
        res->train_s = cJSON_IsNumber(ts) ? ts->valuedouble : -1;
        levi_status st = demo_metrics_read(metrics, &res->metrics);
        if (st != LEVI_OK) {
            LEVI_WARN("demo: %s", levi_last_error());
            memset(&res->metrics, 0, sizeof res->metrics);
            res->metrics.samples_per_s = -1;
        }
        res->sps = res->metrics.samples_per_s;
        st = demo_eval_read(eval, "test-id", "test-ood", &res->id_acc, &res->ood_acc);
        if (st != LEVI_OK) LEVI_WARN("demo: %s", levi_last_error());
    }
    cJSON_Delete(m);
    free(tr);
    free(ev);
    return rc;
}

/* --- the command ----------------------------------------------------------------- */

static levi_status parse_methods(demo_run_state *s, const char *list) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    s->n_methods = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int found = -1;
        for (int i = 0; i < N_METHODS; i++)
            if (!strcmp(k_methods[i].name, t)) found = i;
        if (found < 0)
            return levi_error(LEVI_ERR_INVALID_ARG,
                              "--methods: unknown method '%s' (expected scratch, lp, ft, lora, levi, levi+lora)", t);
        for (int i = 0; i < s->n_methods; i++)
            if (s->methods[i] == &k_methods[found])
                return levi_error(LEVI_ERR_INVALID_ARG, "--methods: '%s' is listed twice", t);
        s->methods[s->n_methods++] = &k_methods[found];
    }
    if (s->n_methods == 0) return levi_error(LEVI_ERR_INVALID_ARG, "--methods: the list is empty");
    return LEVI_OK;
}

static levi_status device_info(const cli_env *env, levi_device_info *out) {
    levi_device_list list;
    LEVI_TRY(levi_device_list_query(&list));
    const char *sel = env->device ? env->device : getenv("LEVI_DEVICE");
    int idx = -1;
    levi_status st = levi_device_select(list.devices, list.count, sel, &idx, NULL, 0);
    if (st == LEVI_OK) *out = list.devices[idx];
    levi_device_list_free(&list);
    return st;
}

int cmd_demo(int argc, char **argv, const cli_env *env_in) {
    if (cli_wants_help(argc, argv)) {
        fputs(k_usage, stdout);
        return 0;
    }
    demo_run_state *s = calloc(1, sizeof *s);
    if (!s) return cli_fail(levi_error(LEVI_ERR_HOST_MEMORY, "out of memory"));
    cli_env env = *env_in;
    s->out = "levi-demo";
    s->size = &k_sizes[0];
    const char *methods = k_default_methods;
    levi_status st = LEVI_OK;
    for (int i = 1; i < argc && st == LEVI_OK; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick")) s->size = &k_sizes[1];
        else if (!strcmp(a, "--out") && v && *v) s->out = argv[++i];
        else if (!strcmp(a, "--device") && v && *v) env.device = argv[++i];
        else if (!strcmp(a, "--methods") && v) methods = argv[++i];
        else if (!strcmp(a, "--source") && v && *v) s->source = argv[++i];
        else if (!strcmp(a, "--seed") && v) {
            long seed;
            st = cli_parse_int("--seed", argv[++i], 0, 2147483647L, &seed);
            s->seed = (unsigned long long)seed;
        } else if (!strcmp(a, "--size") && v) {
            s->size = NULL;
            for (size_t k = 0; k < sizeof k_sizes / sizeof k_sizes[0]; k++)
                if (!strcmp(k_sizes[k].name, v)) s->size = &k_sizes[k];
            if (!s->size) st = levi_error(LEVI_ERR_INVALID_ARG, "--size: '%s' is not full, quick or tiny", v);
            i++;
        } else if (!strncmp(a, "--", 2) && !v && (!strcmp(a, "--out") || !strcmp(a, "--methods") ||
                                                  !strcmp(a, "--seed") || !strcmp(a, "--size") || !strcmp(a, "--device") ||
                                                  !strcmp(a, "--source")))
            st = levi_error(LEVI_ERR_INVALID_ARG, "%s needs a value", a);
        else st = levi_error(LEVI_ERR_INVALID_ARG, "unexpected argument '%s' (see levi-cl demo --help)", a);
    }
    if (st == LEVI_OK) st = parse_methods(s, methods);
    if (st != LEVI_OK) {
        free(s);
        fprintf(stderr, "levi-cl demo: %s\n", levi_last_error());
        return 2;
    }
    levi_device_info dev;
    st = device_info(&env, &dev);
    if (st != LEVI_OK) {
        free(s);
        return cli_fail(st);
    }

    /* folders and keys */
    int cache_on;
    st = levi_cache_dir(s->cache, sizeof s->cache, &cache_on);
    if (st == LEVI_OK && !cache_on) snprintf(s->cache, sizeof s->cache, "%s/cache", s->out);
    demo_key(s->data_key, "fashion-shift v1 %s limit=%d seed=%llu%s%s", LEVI_VERSION, s->size->data_limit,
             k_data_seed, s->source ? " source=" : "", s->source ? s->source : "");
    demo_key(s->backbone_key, "pretrain v1 %s data=%s arch=vit-tiny epochs=%d batch=%d limit=%d seed=%llu",
             LEVI_VERSION, s->data_key, s->size->pretrain_epochs, s->size->pretrain_batch, s->size->pretrain_limit,
             k_pretrain_seed);
    snprintf(s->data_dir, sizeof s->data_dir, "%s/demo/fashion-shift-%s", s->cache, s->data_key);
    snprintf(s->data, sizeof s->data, "%s/data", s->data_dir);
    snprintf(s->sheet, sizeof s->sheet, "%s/sheet.png", s->data_dir);
    snprintf(s->backbone_dir, sizeof s->backbone_dir, "%s/demo/backbone-%s", s->cache, s->backbone_key);
    snprintf(s->backbone, sizeof s->backbone, "%s/backbone", s->backbone_dir);
    char logs[1200], demo_cache[1100];
    snprintf(logs, sizeof logs, "%s/logs", s->out);
    snprintf(demo_cache, sizeof demo_cache, "%s/demo", s->cache);
    if (st == LEVI_OK) st = levi_mkdirs(logs);
    if (st == LEVI_OK) st = levi_mkdirs(demo_cache);
    if (st != LEVI_OK) {
        free(s);
        return cli_fail(st);
    }

    int n = 2 + s->n_methods;
    demo_progress_init(&s->prog, n);
    snprintf(s->stage_names[0], sizeof s->stage_names[0], "generate fashion-shift");
    snprintf(s->stage_names[1], sizeof s->stage_names[1], "pretrain vit-tiny backbone");
    s->prog.est[0] = s->size->est_data_s;
    s->prog.est[1] = s->size->est_pretrain_s;
    for (int i = 0; i < s->n_methods; i++) {
        snprintf(s->stage_names[2 + i], sizeof s->stage_names[0], "train + evaluate %s", s->methods[i]->name);
        s->prog.est[2 + i] = s->size->est_train_s * s->methods[i]->cost;
    }
    fprintf(stderr, "levi-cl demo: %s run on %s; output in %s, cache in %s\n", s->size->name, dev.name, s->out,
            demo_cache);

    demo_sigint_install();
    demo_result *res = calloc((size_t)s->n_methods, sizeof *res);
    int rc = res ? 0 : cli_fail(levi_error(LEVI_ERR_HOST_MEMORY, "out of memory"));
    double t0 = demo_now();
    if (!rc) rc = stage_data(s, &env, 0);
    if (!rc) rc = stage_pretrain(s, &env, 1);
    for (int i = 0; i < s->n_methods && !rc; i++) rc = stage_method(s, &env, 2 + i, i, &res[i]);
    demo_sigint_restore();
    if (!rc) {
        double total = demo_now() - t0;
        demo_summary sum = {.size = s->size->name,
                            .seed = s->seed,
                            .dev = &dev,
                            .out = s->out,
                            .data = s->data,
                            .backbone = s->backbone,
                            .sheet = s->sheet,
                            .setup_cmds = s->setup_cmds,
                            .total_s = total,
                            .stages = s->stages,
                            .n_stages = s->prog.n_stages,
                            .r = res,
                            .n = s->n_methods};
        demo_print_table(stdout, &sum);
        fflush(stdout);
        st = demo_write_results(&sum);
        if (st != LEVI_OK) rc = cli_fail(st);
        else {
            char t[32];
            demo_fmt_time(t, sizeof t, total);
            fprintf(stderr, "levi-cl demo: finished in %s; open %s/report.html in a browser\n", t, s->out);
        }
    }
    free(res);
    free(s);
    return rc;
}
