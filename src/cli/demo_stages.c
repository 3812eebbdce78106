/* The stages of `levi-cl demo`: each builds the argv of an ordinary levi-cl
 * command, runs it in this process unless its completion marker says it is
 * done, and records the command line for the report. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "demo_stages.h"
#include "levi/files.h"

/* --- argv and the record of commands ------------------------------------------------------------ */

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

/* --- keys and folders ---------------------------------------------------------- */

levi_status demo_set_paths(demo_run_state *s) {
    int cache_on;
    levi_status st = levi_cache_dir(s->cache, sizeof s->cache, &cache_on);
    if (st == LEVI_OK && !cache_on) snprintf(s->cache, sizeof s->cache, "%s/cache", s->out);
    if (s->text) {
        demo_text_set_paths(s);
        return st;
    }
    int other_sub = s->subdomain && strcmp(s->subdomain, "invert");
    char base_key[17];
    demo_key(base_key, "fashion-shift v1 %s limit=%d seed=%llu%s%s", LEVI_VERSION, s->size->data_limit,
             s->data_seed, s->source ? " source=" : "", s->source ? s->source : "");
    if (other_sub)
        demo_key(s->data_key, "%s subdomain=%s", base_key, s->subdomain);
    else
        memcpy(s->data_key, base_key, sizeof base_key);
    demo_key(s->backbone_key, "pretrain v1 %s data=%s arch=%s epochs=%d batch=%d limit=%d seed=%llu",
             LEVI_VERSION, base_key, s->arch ? s->arch : "vit-tiny", s->size->pretrain_epochs,
             s->size->pretrain_batch, s->size->pretrain_limit, s->pretrain_seed);
    snprintf(s->data_dir, sizeof s->data_dir, "%s/demo/fashion-shift-%s", s->cache, s->data_key);
    snprintf(s->data, sizeof s->data, "%s/data", s->data_dir);
    snprintf(s->sheet, sizeof s->sheet, "%s/sheet.png", s->data_dir);
    snprintf(s->backbone_dir, sizeof s->backbone_dir, "%s/demo/backbone-%s", s->cache, s->backbone_key);
    snprintf(s->backbone, sizeof s->backbone, "%s/backbone", s->backbone_dir);
    return st;
}

/* --- stages ----------------------------------------------------------------- */

int demo_stage_data(demo_run_state *s, const cli_env *env, int k) {
    char marker[1400], lock[1400], log[1400];
    snprintf(marker, sizeof marker, "%s/complete.json", s->data_dir);
    snprintf(lock, sizeof lock, "%s.lock", s->data_dir);
    log_path(s, "1-data", log, sizeof log);
    argv_buf *gen = calloc(1, sizeof *gen), *show = calloc(1, sizeof *show);
    if (!gen || !show) return cli_fail(levi_error(LEVI_ERR_HOST_MEMORY, "out of memory"));
    argv_add(gen, "data");
    argv_add(gen, s->text ? "text-shift" : "fashion-shift");
    argv_add(gen, "--out");
    argv_add(gen, "%s", s->data);
    if (s->text) {
        int train, test, seq_len;
        demo_text_data_size(s, &train, &test, &seq_len);
        argv_add(gen, "--train-per-class");
        argv_add(gen, "%d", train);
        argv_add(gen, "--test-per-class");
        argv_add(gen, "%d", test);
    }
    if (s->size->data_limit > 0) {
        argv_add(gen, "--limit");
        argv_add(gen, "%d", s->size->data_limit);
    }
    argv_add(gen, "--seed");
    argv_add(gen, "%llu", s->data_seed);
    if (s->subdomain) {
        argv_add(gen, "--subdomain");
        argv_add(gen, "%s", s->subdomain);
    }
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
    if (!s->text) argv_command(show, s->setup_cmds, sizeof s->setup_cmds); /* a contact sheet of images */

    int rc = 0;
    int lk = demo_lock(lock);
    cJSON *m = demo_marker_read(marker, s->data_key);
    if (m && !demo_contents_ok(m, s->data_dir, 0)) cJSON_Delete(m), m = NULL;
    if (m) {
        stage_cached(s, k);
    } else {
        double t0 = levi_now_s();
        levi_status st = levi_rmtree(s->data_dir);
        if (st == LEVI_OK) st = levi_mkdirs(s->data_dir);
        if (st != LEVI_OK) rc = cli_fail(st);
        if (!rc) {
            rc = demo_run(&s->prog, k, s->stage_names[k], log, NULL, NULL, gen->n, gen->v, env);
            if (!rc && !s->text) rc = demo_run(&s->prog, k, s->stage_names[k], log, NULL, NULL, show->n, show->v, env);
            if (rc) rc = stage_failed(s, k, log, rc);
        }
        if (!rc) {
            m = cJSON_CreateObject();
            cJSON_AddStringToObject(m, "stage", s->text ? "text-shift" : "fashion-shift");
            cJSON_AddNumberToObject(m, "limit", s->size->data_limit);
            cJSON_AddNumberToObject(m, "seed", (double)s->data_seed);
            cJSON_AddNumberToObject(m, "seconds", levi_now_s() - t0);
            st = demo_contents_add(m, s->data_dir, 0);
            if (st == LEVI_OK) st = demo_marker_write(marker, s->data_key, m);
            if (st != LEVI_OK) rc = cli_fail(st);
            else stage_done(s, k, levi_now_s() - t0);
        }
    }
    cJSON_Delete(m);
    demo_unlock(lk);
    free(gen);
    free(show);
    return rc;
}

int demo_stage_pretrain(demo_run_state *s, const cli_env *env, int k) {
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
    argv_add(a, "%s", s->arch ? s->arch : "vit-tiny");
    argv_add(a, "--epochs");
    argv_add(a, "%d", s->size->pretrain_epochs);
    argv_add(a, "--batch");
    argv_add(a, "%d", s->size->pretrain_batch);
    if (s->size->pretrain_limit > 0) {
        argv_add(a, "--limit");
        argv_add(a, "%d", s->size->pretrain_limit);
    }
    argv_add(a, "--seed");
    argv_add(a, "%llu", s->pretrain_seed);
    argv_add(a, "--out");
    argv_add(a, "%s", s->backbone);
    argv_command(a, s->setup_cmds, sizeof s->setup_cmds);

    int rc = 0;
    int lk = demo_lock(lock);
    cJSON *m = demo_marker_read(marker, s->backbone_key);
    if (m && !demo_contents_ok(m, s->backbone_dir, 1)) cJSON_Delete(m), m = NULL;
    if (m) {
        stage_cached(s, k);
    } else {
        double t0 = levi_now_s();
        levi_status st = levi_rmtree(s->backbone_dir);
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
            cJSON_AddNumberToObject(m, "seconds", levi_now_s() - t0);
            st = demo_contents_add(m, s->backbone_dir, 1);
            if (st == LEVI_OK) st = demo_marker_write(marker, s->backbone_key, m);
            if (st != LEVI_OK) rc = cli_fail(st);
            else stage_done(s, k, levi_now_s() - t0);
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
    double t0 = levi_now_s(), t_before = 0;
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
            t0 = levi_now_s();
        } else {
            done = cJSON_CreateObject();
        }
    }
    if (!done) {
        levi_status st = levi_rmtree(dir);
        if (st == LEVI_OK) st = levi_mkdirs(dir);
        if (st != LEVI_OK) return cli_fail(st);
        rc = demo_run(&s->prog, k, s->stage_names[k], log, NULL, metrics, tr->n, tr->v, env);
        if (rc) return stage_failed(s, k, log, rc);
        done = cJSON_CreateObject();
    }
    if (!cJSON_GetObjectItemCaseSensitive(done, "train_s")) {
        cJSON_AddNumberToObject(done, "train_s", t_before + levi_now_s() - t0);
        levi_status st = demo_marker_write(trained, key, done);
        if (st != LEVI_OK) {
            cJSON_Delete(done);
            return cli_fail(st);
        }
    }
    rc = demo_run(&s->prog, k, s->stage_names[k], log, eval_tmp, NULL, ev->n, ev->v, env);
    if (!rc && rename(eval_tmp, eval) != 0)
        rc = cli_fail(levi_error(LEVI_ERR_IO, "cannot rename '%s' onto '%s': %s", eval_tmp, eval, strerror(errno)));
    if (rc) {
        cJSON_Delete(done);
        return stage_failed(s, k, log, rc);
    }
    double secs = levi_now_s() - t0;
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

int demo_stage_method(demo_run_state *s, const cli_env *env, int k, int mi, demo_result *res) {
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
    int epochs = s->size->train_epochs > 0 ? s->size->train_epochs : me->epochs;
    int seq_len = 0, n_train, n_test;
    if (s->text) demo_text_data_size(s, &n_train, &n_test, &seq_len);
    /* v2: levi's default fusion became late */
    demo_key(key, "method v2 %s data=%s backbone=%s lr=%s wd=%s epochs=%d batch=%d limit=%d eval_limit=%d seed=%llu%s%d",
             me->name, s->data_key, s->backbone_key, me->lr, me->wd, epochs, s->size->train_batch,
             s->size->train_limit, s->size->eval_limit, s->seed, s->text ? " seq_len=" : "", seq_len);
    /* the splits: ImageFolders, or text-shift's JSON lines */
    const char *ext = s->text ? ".jsonl" : "";

    argv_buf *tr = calloc(1, sizeof *tr), *ev = calloc(1, sizeof *ev);
    if (!tr || !ev) return cli_fail(levi_error(LEVI_ERR_HOST_MEMORY, "out of memory"));
    argv_add(tr, "train");
    argv_add(tr, "--method");
    argv_add(tr, "%s", me->name);
    if (strcmp(me->name, "scratch")) {
        argv_add(tr, "--backbone");
        argv_add(tr, "%s", s->backbone);
    }
    if (s->text && !strcmp(me->name, "scratch")) {
        argv_add(tr, "--tokenizer"); /* the n-gram model reads the backbone's word pieces */
        argv_add(tr, "%s", s->backbone);
    }
    argv_add(tr, "--data");
    argv_add(tr, "%s/train%s", s->data, ext);
    if (s->text) {
        argv_add(tr, "--seq-len");
        argv_add(tr, "%d", seq_len);
    }
    argv_add(tr, "--epochs");
    argv_add(tr, "%d", epochs);
    argv_add(tr, "--batch");
    argv_add(tr, "%d", s->size->train_batch);
    argv_add(tr, "--lr");
    argv_add(tr, "%s", me->lr);
    argv_add(tr, "--wd");
    argv_add(tr, "%s", me->wd);
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
    argv_add(ev, "%s/test-id%s", s->data, ext);
    argv_add(ev, "--data");
    argv_add(ev, "%s/test-ood%s", s->data, ext);
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
