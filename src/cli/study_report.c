/* What `levi-cl study` concludes: the setting chosen for every variant by
 * validation accuracy, mean ± sample standard deviation (and min–max) of ID
 * and OOD accuracy over the seeds, and the paired differences (reference
 * minus each other variant, seed by seed). Written as DIR/study.json and
 * DIR/study.md, and the Markdown printed on stdout. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "study.h"

int study_select(study *s, int vi) {
    study_variant *v = &s->v[vi];
    v->sel_lr = v->sel_wd = -1;
    v->sel_epochs = 0;
    v->sel_val = -1;
    for (int li = 0; li < s->nlr; li++)
        for (int wi = 0; wi < s->nwd; wi++)
            for (int e = 0; e < s->max_epochs; e++) {
                double sum = 0;
                int n = 0;
                for (int si = 0; si < s->nsearch; si++)
                    if (v->val_s[si][li][wi][e] >= 0) {
                        sum += v->val_s[si][li][wi][e];
                        n++;
                    }
                v->val[li][wi][e] = n == s->nsearch && n > 0 ? sum / n : -1;
            }
    /* epochs outermost so that a tie keeps the shortest training */
    for (int e = 0; e < s->max_epochs; e++)
        for (int li = 0; li < s->nlr; li++)
            for (int wi = 0; wi < s->nwd; wi++)
                if (v->val[li][wi][e] > v->sel_val) {
                    v->sel_val = v->val[li][wi][e];
                    v->sel_lr = li;
                    v->sel_wd = wi;
                    v->sel_epochs = e + 1;
                }
    return v->sel_lr >= 0 ? 0 : -1;
}

typedef struct stats {
    int n;
    double mean, sd, min, max;
} stats;

/* Over the values >= 0 (a missing run is -1): percent points. */
static stats stats_of(const double *x, int n, double scale) {
    stats r = {0, 0, 0, 0, 0};
    double sum = 0;
    for (int i = 0; i < n; i++)
        if (x[i] > -1e9) {
            double v = x[i] * scale;
            if (!r.n || v < r.min) r.min = v;
            if (!r.n || v > r.max) r.max = v;
            sum += v;
            r.n++;
        }
    if (!r.n) return r;
    r.mean = sum / r.n;
    double ss = 0;
    for (int i = 0; i < n; i++)
        if (x[i] > -1e9) ss += (x[i] * scale - r.mean) * (x[i] * scale - r.mean);
    r.sd = r.n > 1 ? sqrt(ss / (r.n - 1)) : 0;
    return r;
}

static void only_found(const double *x, int n, double *out) {
    for (int i = 0; i < n; i++) out[i] = x[i] >= 0 ? x[i] : -1e10;
}

/* reference − other per seed, both present; else "missing" */
static void paired(const double *a, const double *b, int n, double *d) {
    for (int i = 0; i < n; i++) d[i] = a[i] >= 0 && b[i] >= 0 ? a[i] - b[i] : -1e10;
}

static cJSON *stats_json(stats r, const double *x, int n, double scale) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "n", r.n);
    cJSON_AddNumberToObject(o, "mean", r.mean);
    cJSON_AddNumberToObject(o, "sd", r.sd);
    cJSON_AddNumberToObject(o, "min", r.min);
    cJSON_AddNumberToObject(o, "max", r.max);
    cJSON *a = cJSON_AddArrayToObject(o, "per_seed");
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(a, x[i] > -1e9 ? cJSON_CreateNumber(x[i] * scale) : cJSON_CreateNull());
    return o;
}

static int fmt_stats(char *out, size_t len, stats r, int sign) {
    if (!r.n) return snprintf(out, len, "-");
    const char *f = sign ? "%+.1f ± %.1f (%+.1f … %+.1f)" : "%.1f ± %.1f (%.1f–%.1f)";
    return snprintf(out, len, f, r.mean, r.sd, r.min, r.max);
}

/* The paired table's order: the shift first, then ID, then the rest. */
static int paired_test(const study *s, int j) {
    return j == 0 ? 1 : j == 1 ? 0 : j < s->bench->ntests ? j : -1;
}

static char *markdown(const study *s) {
    size_t cap = 65536, o = 0;
    char *md = malloc(cap);
    if (!md) return NULL;
    const study_bench *b = s->bench;
    int nt = b->ntests;
#define P(...) (o += (size_t)snprintf(md + o, o < cap ? cap - o : 0, __VA_ARGS__))
    const char *seed_word = s->nseeds == 1 ? "seed" : "seeds";
    if (s->ds.text) P("## %s: %d %s\n\n", b->name, s->nseeds, seed_word);
    else P("## %s / %s: %d %s\n\n", b->name, s->subdomain, s->nseeds, seed_word);
    P("Every method chose its learning rate (");
    for (int i = 0; i < s->nlr; i++) P("%s%s", i ? ", " : "", s->lr_s[i]);
    P("), weight decay (");
    for (int i = 0; i < s->nwd; i++) P("%s%s", i ? ", " : "", s->wd_s[i]);
    P(") and epochs (1–%d) by accuracy on a validation split of %d %s per class carved from `train` "
      "(disjoint from the %d per class it trains on), ",
      s->max_epochs, s->val, b->rows, s->fit);
    if (s->nsearch == 1) P("on seed %ld", s->seeds[0]);
    else {
        P("the mean over seeds ");
        for (int i = 0; i < s->nsearch; i++) P("%s%ld", i ? ", " : "", s->seeds[i]);
    }
    P("; then it trained with seeds ");
    for (int i = 0; i < s->nseeds; i++) P("%s%ld", i ? ", " : "", s->seeds[i]);
    if (s->eval_limit > 0) P(" and was evaluated on %d %s per class of ", s->eval_limit, b->rows);
    else P(" and was evaluated on all of ");
    for (int t = 0; t < nt; t++) P("%s`%s`", t == 0 ? "" : t + 1 < nt ? ", " : " and ", b->tests[t]);
    P(".\n\n| method | lr | wd | epochs | val %% |");
    for (int t = 0; t < nt; t++) P(" %s %% |", b->labels[t]);
    P(" seeds |\n|---|---|---|---|---|");
    for (int t = 0; t < nt; t++) P("---|");
    P("---|\n");
    for (int vi = 0; vi < s->nv; vi++) {
        const study_variant *v = &s->v[vi];
        P("| %s | %s | %s | %d | %.1f |", v->name, v->sel_lr >= 0 ? s->lr_s[v->sel_lr] : "-",
          v->sel_wd >= 0 ? s->wd_s[v->sel_wd] : "-", v->sel_epochs, 100 * v->sel_val);
        for (int t = 0; t < nt; t++) {
            double x[STUDY_MAX_SEEDS];
            char a[96];
            only_found(v->acc[t], s->nseeds, x);
            fmt_stats(a, sizeof a, stats_of(x, s->nseeds, 100), 0);
            P(" %s |", a);
        }
        double ood[STUDY_MAX_SEEDS];
        only_found(v->acc[1], s->nseeds, ood);
        P(" %d |\n", stats_of(ood, s->nseeds, 100).n);
    }
    P("\nmean ± sample standard deviation over seeds (min–max).\n\n");
    if (s->nv > 1) {
        const study_variant *r = &s->v[s->ref];
        P("| paired, seed by seed |");
        for (int j = 0; j < nt; j++) P(" Δ%s (points) |", b->labels[paired_test(s, j)]);
        P("\n|---|");
        for (int j = 0; j < nt; j++) P("---|");
        P("\n");
        for (int vi = 0; vi < s->nv; vi++) {
            if (vi == s->ref) continue;
            P("| %s − %s |", r->name, s->v[vi].name);
            for (int j = 0; j < nt; j++) {
                int t = paired_test(s, j);
                double d[STUDY_MAX_SEEDS];
                char a[96];
                paired(r->acc[t], s->v[vi].acc[t], s->nseeds, d);
                fmt_stats(a, sizeof a, stats_of(d, s->nseeds, 100), 1);
                P(" %s |", a);
            }
            P("\n");
        }
        P("\n");
    }
    P("Variants:");
    for (int vi = 0; vi < s->nv; vi++)
        P(" `%s` = `--method %s%s%s`%s", s->v[vi].name, s->v[vi].method, s->v[vi].argc ? " " : "", s->v[vi].args,
          vi + 1 < s->nv ? ";" : ".\n");
    P("Reproduce: `%s`\n", s->command);
#undef P
    if (o >= cap) md[cap - 1] = '\0';
    return md;
}

static cJSON *json(const study *s) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", "levi-study");
    cJSON_AddNumberToObject(root, "version", 1);
    cJSON_AddStringToObject(root, "command", s->command);
    cJSON_AddStringToObject(root, "benchmark", s->bench->name);
    if (!s->ds.text) cJSON_AddStringToObject(root, "subdomain", s->subdomain);
    else cJSON_AddNumberToObject(root, "seq_len", s->seq_len);
    cJSON_AddStringToObject(root, "data", s->ds.data);
    cJSON_AddStringToObject(root, "backbone", s->ds.backbone);
    cJSON_AddNumberToObject(root, "fit_per_class", s->fit);
    cJSON_AddNumberToObject(root, "val_per_class", s->val);
    cJSON_AddNumberToObject(root, "eval_per_class", s->eval_limit);
    cJSON_AddNumberToObject(root, "batch", s->batch);
    cJSON *grid = cJSON_AddObjectToObject(root, "grid");
    cJSON *lr = cJSON_AddArrayToObject(grid, "lr"), *wd = cJSON_AddArrayToObject(grid, "wd");
    for (int i = 0; i < s->nlr; i++) cJSON_AddItemToArray(lr, cJSON_CreateNumber(atof(s->lr_s[i])));
    for (int i = 0; i < s->nwd; i++) cJSON_AddItemToArray(wd, cJSON_CreateNumber(atof(s->wd_s[i])));
    cJSON_AddNumberToObject(grid, "max_epochs", s->max_epochs);
    cJSON *ss = cJSON_AddArrayToObject(root, "search_seeds");
    for (int i = 0; i < s->nsearch; i++) cJSON_AddItemToArray(ss, cJSON_CreateNumber((double)s->seeds[i]));
    cJSON *seeds = cJSON_AddArrayToObject(root, "seeds");
    for (int i = 0; i < s->nseeds; i++) cJSON_AddItemToArray(seeds, cJSON_CreateNumber((double)s->seeds[i]));
    cJSON *ms = cJSON_AddArrayToObject(root, "methods");
    for (int vi = 0; vi < s->nv; vi++) {
        const study_variant *v = &s->v[vi];
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "name", v->name);
        cJSON_AddStringToObject(m, "method", v->method);
        cJSON_AddStringToObject(m, "args", v->args);
        cJSON *sel = cJSON_AddObjectToObject(m, "selected");
        cJSON_AddNumberToObject(sel, "lr", v->sel_lr >= 0 ? atof(s->lr_s[v->sel_lr]) : -1);
        cJSON_AddNumberToObject(sel, "wd", v->sel_wd >= 0 ? atof(s->wd_s[v->sel_wd]) : -1);
        cJSON_AddNumberToObject(sel, "epochs", v->sel_epochs);
        cJSON_AddNumberToObject(sel, "val_acc", v->sel_val);
        cJSON *search = cJSON_AddArrayToObject(m, "search");
        for (int li = 0; li < s->nlr; li++)
            for (int wi = 0; wi < s->nwd; wi++) {
                cJSON *g = cJSON_CreateObject();
                cJSON_AddNumberToObject(g, "lr", atof(s->lr_s[li]));
                cJSON_AddNumberToObject(g, "wd", atof(s->wd_s[wi]));
                cJSON_AddItemToObject(g, "val_acc", cJSON_CreateDoubleArray(v->val[li][wi], s->max_epochs));
                cJSON *per = cJSON_AddArrayToObject(g, "val_acc_per_seed");
                double t = 0;
                for (int si = 0; si < s->nsearch; si++) {
                    cJSON_AddItemToArray(per, cJSON_CreateDoubleArray(v->val_s[si][li][wi], s->max_epochs));
                    t += v->search_s[si][li][wi];
                }
                cJSON_AddNumberToObject(g, "train_s", t);
                cJSON_AddItemToArray(search, g);
            }
        for (int t = 0; t < s->bench->ntests; t++) {
            double x[STUDY_MAX_SEEDS];
            char key[40];
            only_found(v->acc[t], s->nseeds, x);
            snprintf(key, sizeof key, "%s_acc", s->bench->keys[t]);
            cJSON_AddItemToObject(m, key, stats_json(stats_of(x, s->nseeds, 100), x, s->nseeds, 100));
        }
        cJSON *runs = cJSON_AddArrayToObject(m, "runs");
        for (int si = 0; si < s->nseeds; si++) {
            cJSON *r = cJSON_CreateObject();
            cJSON_AddNumberToObject(r, "seed", (double)s->seeds[si]);
            for (int t = 0; t < s->bench->ntests; t++) {
                char key[40];
                snprintf(key, sizeof key, "%s_acc", s->bench->keys[t]);
                cJSON_AddNumberToObject(r, key, v->acc[t][si]);
            }
            cJSON_AddNumberToObject(r, "train_s", v->train_s[si]);
            cJSON_AddStringToObject(r, "commands", v->cmd[si]);
            cJSON_AddItemToArray(runs, r);
        }
        cJSON_AddItemToArray(ms, m);
    }
    cJSON *pairs = cJSON_AddArrayToObject(root, "paired");
    const study_variant *r = &s->v[s->ref];
    for (int vi = 0; vi < s->nv; vi++) {
        if (vi == s->ref) continue;
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "method", r->name);
        cJSON_AddStringToObject(p, "baseline", s->v[vi].name);
        for (int j = 0; j < s->bench->ntests; j++) {
            int t = paired_test(s, j);
            double d[STUDY_MAX_SEEDS];
            char key[40];
            paired(r->acc[t], s->v[vi].acc[t], s->nseeds, d);
            snprintf(key, sizeof key, "%s_diff", s->bench->keys[t]);
            cJSON_AddItemToObject(p, key, stats_json(stats_of(d, s->nseeds, 100), d, s->nseeds, 100));
        }
        cJSON_AddItemToArray(pairs, p);
    }
    cJSON_AddNumberToObject(root, "total_s", s->total_s);
    return root;
}

levi_status study_write(const study *s) {
    char *md = markdown(s);
    cJSON *j = json(s);
    char *text = j ? cJSON_Print(j) : NULL;
    cJSON_Delete(j);
    levi_status st = md && text ? LEVI_OK : levi_error(LEVI_ERR_HOST_MEMORY, "out of memory writing the study");
    char path[1200];
    if (st == LEVI_OK) {
        snprintf(path, sizeof path, "%s/study.json", s->out);
        st = levi_write_file_atomic(path, text, strlen(text));
    }
    if (st == LEVI_OK) {
        snprintf(path, sizeof path, "%s/study.md", s->out);
        st = levi_write_file_atomic(path, md, strlen(md));
    }
    if (st == LEVI_OK) fputs(md, stdout);
    free(md);
    free(text);
    return st;
}
