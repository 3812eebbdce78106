/* The runs of `levi-cl study`: the fit/validation splits carved from the
 * benchmark's `train` split, one search run (train with --val, the
 * validation accuracy after every epoch) and one final run (train at the
 * selected setting, then eval on test-id and test-ood). Every run is an
 * ordinary levi-cl command run in this process with its output in a log;
 * a run is done when its completion marker holds the key of its parameters,
 * and an interrupted training run continues from its per-epoch checkpoint. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "levi/data.h"
#include "levi/files.h"
#include "study.h"

#define ARGS_MAX 64
typedef struct args {
    int n;
    char *v[ARGS_MAX + 1];
    char s[ARGS_MAX][1400];
} args;

static void add(args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(args *a, const char *fmt, ...) {
    if (a->n >= ARGS_MAX) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->s[a->n], sizeof a->s[0], fmt, ap);
    va_end(ap);
    a->v[a->n] = a->s[a->n];
    a->v[++a->n] = NULL;
}

/* "levi-cl a b ..." shell-quoted into out (one line). */
static void command_line(const args *a, char *out, size_t len) {
    size_t o = (size_t)snprintf(out, len, "levi-cl");
    for (int i = 0; i < a->n && o < len; i++) {
        char q[2900];
        demo_shell_quote(q, sizeof q, a->v[i]);
        o += (size_t)snprintf(out + o, len - o, " %s", q);
    }
}

double study_method_cost(const char *method) {
    if (!strcmp(method, "scratch")) return 0.3;
    if (!strcmp(method, "lp") || !strcmp(method, "levi")) return 1.0;
    if (!strcmp(method, "ft")) return 4.0;
    return 3.5; /* lora, levi+lora */
}

/* --- the splits ----------------------------------------------------------------- */

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Link files [from, from+count) (in name order) of src/<class> into dst/<class>. */
static levi_status link_class(const char *src, const char *dst, const char *cls, int from, int count) {
    char sdir[1600], ddir[1600];
    snprintf(sdir, sizeof sdir, "%s/%s", src, cls);
    snprintf(ddir, sizeof ddir, "%s/%s", dst, cls);
    LEVI_TRY(levi_mkdirs(ddir));
    DIR *d = opendir(sdir);
    if (!d) return levi_error(LEVI_ERR_IO, "cannot open '%s': %s", sdir, strerror(errno));
    char **names = NULL;
    int n = 0, cap = 0;
    levi_status st = LEVI_OK;
    for (struct dirent *e; st == LEVI_OK && (e = readdir(d));) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".png")) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            char **nn = realloc(names, (size_t)cap * sizeof *nn);
            if (!nn) st = levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
            else names = nn;
        }
        if (st == LEVI_OK && !(names[n++] = strdup(e->d_name))) st = levi_error(LEVI_ERR_HOST_MEMORY, "out of memory");
    }
    closedir(d);
    if (st == LEVI_OK) qsort(names, (size_t)n, sizeof *names, cmp_name);
    if (st == LEVI_OK && n < from + count)
        st = levi_error(LEVI_ERR_INVALID_ARG,
                        "'%s' holds %d images; the study needs %d (--fit plus --val images per class)", sdir, n,
                        from + count);
    for (int i = from; st == LEVI_OK && i < from + count; i++) {
        char target[1700], link[1700];
        snprintf(target, sizeof target, "%s/%s", sdir, names[i]);
        snprintf(link, sizeof link, "%s/%s", ddir, names[i]);
        if (symlink(target, link) != 0)
            st = levi_error(LEVI_ERR_IO, "cannot create the link '%s': %s", link, strerror(errno));
    }
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    return st;
}

levi_status study_carve_images(const char *train, const char *fit, const char *val, int fit_per_class,
                               int val_per_class) {
    char **classes = NULL;
    int nc = 0;
    levi_status st = levi_folder_classes(train, &classes, &nc);
    for (int c = 0; c < nc && st == LEVI_OK; c++) {
        st = link_class(train, fit, classes[c], 0, fit_per_class);
        if (st == LEVI_OK) st = link_class(train, val, classes[c], fit_per_class, val_per_class);
    }
    if (classes) levi_class_names_free(classes, nc);
    return st;
}

int study_make_splits(study *s, int k) {
    char dir[1200], tmp[1300], marker[1300];
    const char *ext = s->bench->ext;
    snprintf(dir, sizeof dir, "%s/splits", s->out);
    snprintf(marker, sizeof marker, "%s/complete.json", dir);
    snprintf(s->fit_dir, sizeof s->fit_dir, "%s/fit%s", dir, ext);
    snprintf(s->val_dir, sizeof s->val_dir, "%s/val%s", dir, ext);
    demo_key(s->splits_key, "study splits v1 data=%s train=%s/train%s fit=%d val=%d", s->ds.data_key, s->ds.data,
             ext, s->fit, s->val);
    cJSON *m = demo_marker_read(marker, s->splits_key);
    if (m) {
        cJSON_Delete(m);
        return 0;
    }
    /* the first `fit` rows of every class fit the models, the next `val` select their settings */
    snprintf(tmp, sizeof tmp, "%s.tmp", dir);
    levi_status st = levi_rmtree(tmp);
    char src[1400], fit[1400], val[1400];
    snprintf(src, sizeof src, "%s/train", s->ds.data);
    snprintf(fit, sizeof fit, "%s/fit", tmp);
    snprintf(val, sizeof val, "%s/val", tmp);
    if (st == LEVI_OK) st = levi_mkdirs(tmp);
    if (st == LEVI_OK) st = s->bench->carve(src, fit, val, s->fit, s->val);
    if (st == LEVI_OK) st = levi_rmtree(dir);
    if (st == LEVI_OK && rename(tmp, dir) != 0)
        st = levi_error(LEVI_ERR_IO, "cannot rename '%s' to '%s': %s", tmp, dir, strerror(errno));
    if (st == LEVI_OK) {
        m = cJSON_CreateObject();
        cJSON_AddNumberToObject(m, "fit_per_class", s->fit);
        cJSON_AddNumberToObject(m, "val_per_class", s->val);
        st = demo_marker_write(marker, s->splits_key, m);
        cJSON_Delete(m);
    }
    if (st != LEVI_OK) {
        fprintf(stderr, "levi-cl study: stage %d/%d (validation split) failed\n", k + 1, s->ds.prog.n_stages);
        return cli_fail(st);
    }
    return 0;
}

/* --- one training run ---------------------------------------------------------- */

static void train_args(const study *s, const study_variant *v, args *a, const char *lr, const char *wd, int epochs,
                       long seed, int with_val, const char *dir) {
    add(a, "train");
    add(a, "--method");
    add(a, "%s", v->method);
    if (strcmp(v->method, "scratch")) {
        add(a, "--backbone");
        add(a, "%s", s->ds.backbone);
    }
    if (s->ds.text && !strcmp(v->method, "scratch")) {
        add(a, "--tokenizer"); /* the n-gram model reads the backbone's word pieces */
        add(a, "%s", s->ds.backbone);
    }
    add(a, "--data");
    add(a, "%s", s->fit_dir);
    if (s->ds.text) {
        add(a, "--seq-len");
        add(a, "%d", s->seq_len);
    }
    if (with_val) {
        add(a, "--val");
        add(a, "%s", s->val_dir);
    }
    add(a, "--epochs");
    add(a, "%d", epochs);
    add(a, "--batch");
    add(a, "%d", s->batch);
    add(a, "--lr");
    add(a, "%s", lr);
    add(a, "--wd");
    add(a, "%s", wd);
    add(a, "--seed");
    add(a, "%ld", seed);
    int has_g = !strcmp(v->method, "scratch") || !strncmp(v->method, "levi", 4);
    if (has_g && s->task_model) {
        add(a, "--task-model");
        add(a, "%s", s->task_model);
    }
    if (has_g && s->task_hidden > 0) {
        add(a, "--task-hidden");
        add(a, "%ld", s->task_hidden);
    }
    for (int i = 0; i < v->argc; i++) add(a, "%s", v->argv[i]);
    add(a, "--log-every");
    add(a, "10");
    add(a, "--log");
    add(a, "%s/metrics.jsonl", dir);
    add(a, "--out");
    add(a, "%s/model.safetensors", dir);
}

static int run_failed(study *s, int k, const char *label, const char *log, int rc) {
    fprintf(stderr, "levi-cl study: stage %d/%d (%s) failed (exit status %d); its log is %s\n", k + 1,
            s->ds.prog.n_stages, label, rc, log);
    demo_print_tail(log, 12);
    fprintf(stderr, "Fix the cause and run the same command again: finished runs are kept.\n");
    return rc == 2 ? 1 : (rc ? rc : 1);
}

/* A training run that stopped on a non-finite loss or gradient (the trainer's
 * "training stopped"): in a search, a grid point that diverged. */
#define STUDY_DIVERGED (-2)
static int log_diverged(const char *log) {
    char *text;
    size_t len;
    if (levi_read_file(log, &text, &len) != LEVI_OK) return 0;
    int r = strstr(text, "is not finite") || (strstr(text, "the loss is ") && strstr(text, "training stopped"));
    free(text);
    return r;
}

/* Train unless trained.json in dir holds `key` (continuing an interrupted
 * run from its checkpoint); *train_s is the training time. STUDY_DIVERGED
 * when it stopped on a non-finite loss (with `diverged_ok`; else a failure). */
static int train(study *s, const cli_env *env, int k, const char *label, const char *dir, const char *key,
                 args *tr, double *train_s, int diverged_ok) {
    char trained[1400], ckpt[1400], metrics[1400], log[1400];
    snprintf(trained, sizeof trained, "%s/trained.json", dir);
    snprintf(ckpt, sizeof ckpt, "%s/model.safetensors.ckpt", dir);
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", dir);
    snprintf(log, sizeof log, "%s/run.log", dir);
    cJSON *done = demo_marker_read(trained, key);
    if (done) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(done, "train_s");
        *train_s = cJSON_IsNumber(t) ? t->valuedouble : -1;
        cJSON_Delete(done);
        return 0;
    }
    double t0 = levi_now_s(), before = 0;
    int rc = -1;
    char marker_key[1400];
    snprintf(marker_key, sizeof marker_key, "%s/key", dir);
    cJSON *started = demo_marker_read(marker_key, key);
    if (started && access(ckpt, R_OK) == 0 && access(metrics, R_OK) == 0) {
        before = demo_metrics_truncate(metrics);
        add(tr, "--resume");
        add(tr, "%s", ckpt);
        fprintf(stderr, "stage %d/%d: %s — resuming from %s\n", k + 1, s->ds.prog.n_stages, label, ckpt);
        rc = demo_run(&s->ds.prog, k, label, log, NULL, metrics, tr->n, tr->v, env);
        tr->n -= 2;
        tr->v[tr->n] = NULL;
        if (rc) {
            fprintf(stderr, "stage %d/%d: %s — could not resume; starting the run over\n", k + 1,
                    s->ds.prog.n_stages, label);
            before = 0;
            t0 = levi_now_s();
        }
    }
    cJSON_Delete(started);
    if (rc) {
        levi_status st = levi_rmtree(dir);
        if (st == LEVI_OK) st = levi_mkdirs(dir);
        if (st == LEVI_OK) {
            cJSON *o = cJSON_CreateObject();
            st = demo_marker_write(marker_key, key, o);
            cJSON_Delete(o);
        }
        if (st != LEVI_OK) return cli_fail(st);
        rc = demo_run(&s->ds.prog, k, label, log, NULL, metrics, tr->n, tr->v, env);
        if (rc && diverged_ok && log_diverged(log)) {
            *train_s = levi_now_s() - t0;
            fprintf(stderr, "stage %d/%d: %s — diverged (a non-finite loss, see %s): the epochs it did not "
                    "finish count as validation accuracy 0\n", k + 1, s->ds.prog.n_stages, label, log);
            return STUDY_DIVERGED;
        }
        if (rc) return run_failed(s, k, label, log, rc);
    }
    *train_s = before + levi_now_s() - t0;
    done = cJSON_CreateObject();
    cJSON_AddNumberToObject(done, "train_s", *train_s);
    levi_status st = demo_marker_write(trained, key, done);
    cJSON_Delete(done);
    remove(ckpt); /* the optimizer state is not needed any more */
    return st == LEVI_OK ? 0 : cli_fail(st);
}

/* Validation accuracy after every epoch, from the metrics file; `diverged`:
 * a run stopped early, its missing epochs 0. */
static levi_status read_val_curve(const char *path, double *val, int max_epochs, int diverged) {
    for (int e = 0; e < max_epochs; e++) val[e] = -1;
    char *text;
    size_t len;
    levi_status st = levi_read_file(path, &text, &len);
    if (st != LEVI_OK && diverged) text = NULL;
    else if (st != LEVI_OK) return st;
    char *save = NULL;
    for (char *line = text ? strtok_r(text, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
        if (!strstr(line, "\"type\":\"epoch\"")) continue;
        cJSON *o = cJSON_Parse(line);
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "epoch");
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "val_acc");
        if (cJSON_IsNumber(e) && cJSON_IsNumber(v) && e->valueint >= 1 && e->valueint <= max_epochs)
            val[e->valueint - 1] = v->valuedouble;
        cJSON_Delete(o);
    }
    free(text);
    for (int e = 0; e < max_epochs; e++)
        if (val[e] < 0 && diverged) val[e] = 0;
        else if (val[e] < 0) return levi_error(LEVI_ERR_FORMAT, "%s: no validation accuracy for epoch %d", path, e + 1);
    return LEVI_OK;
}

static void run_key(const study *s, const study_variant *v, char key[17], const char *lr, const char *wd, int epochs,
                    long seed, const char *what) {
    demo_key(key,
             "study run v1 %s splits=%s backbone=%s method=%s args=%s lr=%s wd=%s epochs=%d seed=%ld batch=%d "
             "task=%s,%ld eval=%d",
             what, s->splits_key, strcmp(v->method, "scratch") ? s->ds.backbone_key : "-", v->method, v->args, lr, wd,
             epochs, seed, s->batch, s->task_model ? s->task_model : "-", s->task_hidden, s->eval_limit);
}

int study_search_run(study *s, const cli_env *env, int k, int vi, int li, int wi, int si) {
    study_variant *v = &s->v[vi];
    long seed = s->seeds[si];
    char dir[1400], label[160], marker[1500], key[17];
    snprintf(dir, sizeof dir, "%s/search/%s/lr=%s,wd=%s,seed=%ld", s->out, v->name, s->lr_s[li], s->wd_s[wi], seed);
    snprintf(label, sizeof label, "search %s lr %s wd %s seed %ld", v->name, s->lr_s[li], s->wd_s[wi], seed);
    snprintf(marker, sizeof marker, "%s/complete.json", dir);
    run_key(s, v, key, s->lr_s[li], s->wd_s[wi], s->max_epochs, seed, "search");
    double *val = v->val_s[si][li][wi];
    cJSON *m = demo_marker_read(marker, key);
    if (m) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(m, "val_acc");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(m, "train_s");
        int ok = cJSON_GetArraySize(arr) == s->max_epochs;
        for (int e = 0; ok && e < s->max_epochs; e++) {
            const cJSON *x = cJSON_GetArrayItem(arr, e);
            ok = cJSON_IsNumber(x);
            val[e] = ok ? x->valuedouble : -1;
        }
        v->search_s[si][li][wi] = cJSON_IsNumber(t) ? t->valuedouble : -1;
        cJSON_Delete(m);
        if (ok) {
            s->ds.prog.actual[k] = -1;
            fprintf(stderr, "stage %d/%d: %s — cached\n", k + 1, s->ds.prog.n_stages, label);
            return 0;
        }
    }
    args *tr = calloc(1, sizeof *tr);
    if (!tr) return cli_fail(levi_error(LEVI_ERR_HOST_MEMORY, "out of memory"));
    train_args(s, v, tr, s->lr_s[li], s->wd_s[wi], s->max_epochs, seed, 1, dir);
    double t0 = levi_now_s(), train_s = 0;
    int rc = train(s, env, k, label, dir, key, tr, &train_s, 1);
    free(tr);
    int diverged = rc == STUDY_DIVERGED;
    if (rc && !diverged) return rc;
    char metrics[1500];
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", dir);
    levi_status st = read_val_curve(metrics, val, s->max_epochs, diverged);
    if (st != LEVI_OK) return cli_fail(st);
    v->search_s[si][li][wi] = train_s;
    m = cJSON_CreateObject();
    cJSON_AddItemToObject(m, "val_acc", cJSON_CreateDoubleArray(val, s->max_epochs));
    cJSON_AddNumberToObject(m, "train_s", train_s);
    if (diverged) cJSON_AddBoolToObject(m, "diverged", 1);
    st = demo_marker_write(marker, key, m);
    cJSON_Delete(m);
    if (st != LEVI_OK) return cli_fail(st);
    double secs = levi_now_s() - t0;
    s->ds.prog.actual[k] = secs;
    char t[32], eta[32];
    demo_fmt_time(t, sizeof t, secs);
    demo_fmt_time(eta, sizeof eta, demo_eta(&s->ds.prog, k, secs));
    fprintf(stderr, "stage %d/%d: %s — done in %s — ETA %s\n", k + 1, s->ds.prog.n_stages, label, t, eta);
    return 0;
}

/* The accuracy on every test split of the benchmark from eval's JSON output
 * (the splits in the order eval was given them). */
static levi_status read_eval(const study_bench *b, const char *path, double acc[STUDY_MAX_TESTS]) {
    for (int t = 0; t < b->ntests; t += 2) {
        const char *other = t + 1 < b->ntests ? b->tests[t + 1] : b->tests[t];
        double second;
        LEVI_TRY(demo_eval_read(path, b->tests[t], other, &acc[t], &second));
        if (t + 1 < b->ntests) acc[t + 1] = second;
    }
    for (int t = 0; t < b->ntests; t++)
        if (!(acc[t] >= 0 && acc[t] <= 1))
            return levi_error(LEVI_ERR_FORMAT, "%s: no accuracy for %s in eval's output", path, b->tests[t]);
    return LEVI_OK;
}

int study_final_run(study *s, const cli_env *env, int k, int vi, int si) {
    study_variant *v = &s->v[vi];
    const char *lr = s->lr_s[v->sel_lr], *wd = s->wd_s[v->sel_wd];
    long seed = s->seeds[si];
    char dir[1400], label[160], marker[1500], key[17];
    snprintf(dir, sizeof dir, "%s/final/%s/seed-%ld", s->out, v->name, seed);
    snprintf(label, sizeof label, "final %s seed %ld (lr %s wd %s, %d epochs)", v->name, seed, lr, wd, v->sel_epochs);
    snprintf(marker, sizeof marker, "%s/complete.json", dir);
    run_key(s, v, key, lr, wd, v->sel_epochs, seed, "final");
    args *tr = calloc(1, sizeof *tr), *ev = calloc(1, sizeof *ev);
    if (!tr || !ev) {
        free(tr);
        free(ev);
        return cli_fail(levi_error(LEVI_ERR_HOST_MEMORY, "out of memory"));
    }
    train_args(s, v, tr, lr, wd, v->sel_epochs, seed, 0, dir);
    add(ev, "eval");
    add(ev, "--model");
    add(ev, "%s/model.safetensors", dir);
    for (int t = 0; t < s->bench->ntests; t++) {
        add(ev, "--data");
        add(ev, "%s/%s%s", s->ds.data, s->bench->tests[t], s->bench->ext);
    }
    if (s->eval_limit > 0) {
        add(ev, "--limit");
        add(ev, "%d", s->eval_limit);
    }
    add(ev, "--json");
    char c1[1600], c2[1600];
    command_line(tr, c1, sizeof c1);
    command_line(ev, c2, sizeof c2);
    snprintf(v->cmd[si], sizeof v->cmd[si], "%s\n%s", c1, c2);
    int rc = 0;
    cJSON *m = demo_marker_read(marker, key);
    if (m) {
        s->ds.prog.actual[k] = -1;
        fprintf(stderr, "stage %d/%d: %s — cached\n", k + 1, s->ds.prog.n_stages, label);
    } else {
        double t0 = levi_now_s(), train_s = 0;
        rc = train(s, env, k, label, dir, key, tr, &train_s, 0);
        char eval[1500], eval_tmp[1500], log[1500];
        snprintf(eval, sizeof eval, "%s/eval.json", dir);
        snprintf(eval_tmp, sizeof eval_tmp, "%s/eval.json.partial", dir);
        snprintf(log, sizeof log, "%s/run.log", dir);
        if (!rc) {
            rc = demo_run(&s->ds.prog, k, label, log, eval_tmp, NULL, ev->n, ev->v, env);
            if (!rc && rename(eval_tmp, eval) != 0)
                rc = cli_fail(levi_error(LEVI_ERR_IO, "cannot rename '%s' onto '%s'", eval_tmp, eval));
            else if (rc) rc = run_failed(s, k, label, log, rc);
        }
        double acc[STUDY_MAX_TESTS];
        if (!rc) {
            levi_status st = read_eval(s->bench, eval, acc);
            if (st != LEVI_OK) rc = cli_fail(st);
        }
        if (!rc) {
            m = cJSON_CreateObject();
            for (int t = 0; t < s->bench->ntests; t++) {
                char key[40];
                snprintf(key, sizeof key, "%s_acc", s->bench->keys[t]);
                cJSON_AddNumberToObject(m, key, acc[t]);
            }
            cJSON_AddNumberToObject(m, "train_s", train_s);
            levi_status st = demo_marker_write(marker, key, m);
            if (st != LEVI_OK) rc = cli_fail(st);
            double secs = levi_now_s() - t0;
            s->ds.prog.actual[k] = secs;
            char t[32], eta[32];
            demo_fmt_time(t, sizeof t, secs);
            demo_fmt_time(eta, sizeof eta, demo_eta(&s->ds.prog, k, secs));
            fprintf(stderr, "stage %d/%d: %s — ID %.1f%%, OOD %.1f%% — done in %s — ETA %s\n", k + 1,
                    s->ds.prog.n_stages, label, 100 * acc[0], 100 * acc[1], t, eta);
        }
    }
    if (m) {
        for (int t = 0; t < s->bench->ntests; t++) {
            char key[40];
            snprintf(key, sizeof key, "%s_acc", s->bench->keys[t]);
            const cJSON *a = cJSON_GetObjectItemCaseSensitive(m, key);
            v->acc[t][si] = cJSON_IsNumber(a) ? a->valuedouble : -1;
        }
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(m, "train_s");
        v->train_s[si] = cJSON_IsNumber(t) ? t->valuedouble : -1;
    }
    cJSON_Delete(m);
    free(tr);
    free(ev);
    return rc;
}
