/* levi-cl study: a fair comparison of methods on one fashion-shift subdomain,
 * or with --text on text-shift with all-MiniLM-L6-v2 (as `levi-cl demo --text`).
 *
 *   1  generate fashion-shift (the subdomain's)   cached, shared with the demo
 *      or text-shift
 *   2  pretrain the demo's backbone                cached, shared with the demo
 *      (text: the BERT is found, not made)
 *   3  carve DIR/splits/{fit,val} from `train`     (the first --fit rows of every
 *                                                  class, then --val more: links to
 *                                                  images, or lines of train.jsonl)
 *   4  search: every variant × every (lr, wd) of the grid × every search seed,
 *      trained on fit with the validation accuracy after every epoch
 *                                                 DIR/search/<variant>/lr=..,wd=..,seed=S/
 *   5  select (lr, wd, epochs) per variant by the mean validation accuracy
 *   6  final: every variant × every seed at its setting, evaluated on test-id
 *      and test-ood (text: and test-noname)      DIR/final/<variant>/seed-S/
 *   then DIR/study.json and DIR/study.md (printed too).
 *
 * Every variant gets the same grid, the same epochs and the same data, and
 * scratch's task model is the one of every levi variant (--task-model and
 * --task-hidden apply to all of them). Every run is an ordinary levi-cl
 * command with its own completion marker: killed midway, the same command
 * continues where it stopped. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "study.h"

static const char *k_usage =
    "usage: levi-cl [--device SEL] study [--subdomain invert|edges|blur] [--seeds LIST] [--methods LIST]\n"
    "                                    [--variant 'NAME=METHOD [TRAIN OPTIONS]'] [--out DIR] [OPTIONS]\n"
    "       levi-cl [--device SEL] study --text [--backbone DIR] [the same OPTIONS]\n"
    "\n"
    "Compare methods fairly on the fashion-shift benchmark (the demo's data and backbone),\n"
    "or with --text on text-shift with all-MiniLM-L6-v2 (the data and backbone of demo --text):\n"
    "every method picks its learning rate, weight decay and number of epochs from the same\n"
    "grid by accuracy on a validation split carved from `train` (never from a test split;\n"
    "the mean over the search seeds),\n"
    "then trains with every seed at that setting and is evaluated on `test-id` (ID) and\n"
    "`test-ood` (OOD), with --text also on `test-noname` (no package name). Prints mean ±\n"
    "standard deviation over the seeds and the paired differences (the reference minus\n"
    "every other method, seed by seed), and writes\n"
    "DIR/study.json and DIR/study.md. Stopped and run again, it continues where it stopped.\n"
    "A search run whose loss becomes non-finite counts its unfinished epochs as validation\n"
    "accuracy 0 (a learning rate too high for that method), and the study goes on.\n"
    "\n"
    "  --subdomain S      target domain of the benchmark (default invert)\n"
    "  --text             text-shift (Debian package descriptions by section; the package\n"
    "                     name is a shortcut in train and test-id, shuffled in test-ood, absent\n"
    "                     in test-noname; levi-cl data text-shift --help) with a BERT backbone;\n"
    "                     scratch and the levi variants use the n-gram task model\n"
    "  --backbone DIR     with --text: the BERT folder (default: $LEVI_MINILM, else\n"
    "                     <cache>/models/all-MiniLM-L6-v2)\n"
    "  --seeds LIST       training seeds (default 0,1,2)\n"
    "  --search-seeds N   the search trains with the first N seeds and selects by the mean\n"
    "                     validation accuracy over them (default: all)\n"
    "  --methods LIST     from scratch,lp,ft,lora,levi,levi+lora and the --variant names\n"
    "                     (default scratch,lp,ft,levi)\n"
    "  --variant 'NAME=METHOD OPTIONS'  a method with its own `levi-cl train` options, e.g.\n"
    "                     --variant 'levi-ens=levi --fusion ensemble' (repeatable)\n"
    "  --reference NAME   the method compared with every other one (default: levi when listed,\n"
    "                     else the last one)\n"
    "  --lrs LIST --wds LIST   the grid (default 3e-4,1e-3,3e-3 and 0.01,0.1;\n"
    "                     --text: 3e-5,3e-4,3e-3 and 0.01)\n"
    "  --epochs N         the most epochs (default 6); every epoch count up to N is a candidate\n"
    "  --fit N --val N    images (texts) per class to train on / to select with (default 500 / 100;\n"
    "                     --text: 110 / 40 of the 150 per class of train)\n"
    "  --eval-limit N     test images (texts) per class (default 0: all)\n"
    "  --batch N          (default 64; --text 32)\n"
    "  --task-model mlp|cnn|ngram  --task-hidden N   the task model of scratch and of every levi\n"
    "                     variant (default mlp; --text: ngram, the only one for texts)\n"
    "  --size S           full | quick | tiny: the demo's data and backbone sizes and the defaults\n"
    "                     above (quick: fit 100, val 50, 100 test images per class, 4 epochs;\n"
    "                     --text quick: fit 40, val 20 of 60 texts per class, all 50 test texts\n"
    "                     per class, 6 epochs)\n"
    "  --source DIR       Fashion-MNIST's four .gz files (default: the Debian package's);\n"
    "                     --text: a Packages file (default: apt-cache dumpavail)\n"
    "  --arch A           the backbone: vit-tiny (default) or vit-small (a larger one, for GPUs)\n"
    "  --out DIR          output folder (default ./levi-study)\n";

static levi_status parse_list(const char *opt, const char *v, char out[][24], int max, int *n) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", v);
    *n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (*n == max) return levi_error(LEVI_ERR_INVALID_ARG, "%s: more than %d values in '%s'", opt, max, v);
        double x;
        LEVI_TRY(cli_parse_float(opt, t, 0, 10, &x));
        snprintf(out[(*n)++], 24, "%s", t);
    }
    if (!*n) return levi_error(LEVI_ERR_INVALID_ARG, "%s: the list is empty", opt);
    return LEVI_OK;
}

static const char *const k_methods[] = {"scratch", "lp", "ft", "lora", "levi", "levi+lora"};
/* Options the study sets itself for every run. */
static const char *const k_reserved[] = {"--method", "--backbone", "--data", "--val", "--epochs", "--batch",
                                         "--lr", "--wd", "--seed", "--log", "--log-every", "--out", "--resume",
                                         "--checkpoint", "--limit", "--task-model", "--task-hidden"};

static levi_status add_variant(study *s, const char *name, size_t name_len, const char *method, const char *args) {
    if (s->nv == STUDY_MAX_VARIANTS)
        return levi_error(LEVI_ERR_INVALID_ARG, "more than %d methods", STUDY_MAX_VARIANTS);
    if (name_len == 0 || name_len >= sizeof s->v[0].name)
        return levi_error(LEVI_ERR_INVALID_ARG, "a method name must have 1..%d characters",
                          (int)sizeof s->v[0].name - 1);
    for (size_t i = 0; i < name_len; i++)
        if (!isalnum((unsigned char)name[i]) && !strchr("+-_.", name[i]))
            return levi_error(LEVI_ERR_INVALID_ARG, "method name '%.*s': use letters, digits and + - _ . only",
                              (int)name_len, name);
    for (int i = 0; i < s->nv; i++)
        if (strlen(s->v[i].name) == name_len && !strncmp(s->v[i].name, name, name_len))
            return levi_error(LEVI_ERR_INVALID_ARG, "the method name '%.*s' is used twice", (int)name_len, name);
    int known = 0;
    for (size_t i = 0; i < sizeof k_methods / sizeof *k_methods; i++) known |= !strcmp(method, k_methods[i]);
    if (!known)
        return levi_error(LEVI_ERR_INVALID_ARG,
                          "unknown method '%s' (expected scratch, lp, ft, lora, levi or levi+lora)", method);
    study_variant *v = &s->v[s->nv];
    memset(v, 0, sizeof *v);
    snprintf(v->name, sizeof v->name, "%.*s", (int)name_len, name);
    snprintf(v->method, sizeof v->method, "%s", method);
    if (strlen(args) >= sizeof v->args)
        return levi_error(LEVI_ERR_INVALID_ARG, "the options of '%s' are too long", v->name);
    snprintf(v->args, sizeof v->args, "%s", args);
    snprintf(v->argbuf, sizeof v->argbuf, "%s", args);
    char *save = NULL;
    for (char *t = strtok_r(v->argbuf, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
        if (v->argc == STUDY_MAX_ARGS) return levi_error(LEVI_ERR_INVALID_ARG, "too many options for '%s'", v->name);
        for (size_t i = 0; i < sizeof k_reserved / sizeof *k_reserved; i++)
            if (!strcmp(t, k_reserved[i]))
                return levi_error(LEVI_ERR_INVALID_ARG,
                                  "method '%s': %s is set by the study itself (see levi-cl study --help)", v->name, t);
        v->argv[v->argc++] = t;
    }
    v->cost = study_method_cost(method);
    s->nv++;
    return LEVI_OK;
}

/* --variant 'NAME=METHOD [OPTIONS]' */
static levi_status parse_variant(study *s, const char *spec, char defs[][600], int *ndefs) {
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec)
        return levi_error(LEVI_ERR_INVALID_ARG, "--variant '%s': expected NAME=METHOD [TRAIN OPTIONS]", spec);
    if (*ndefs == STUDY_MAX_VARIANTS) return levi_error(LEVI_ERR_INVALID_ARG, "too many --variant options");
    (void)s;
    snprintf(defs[(*ndefs)++], 600, "%s", spec);
    return LEVI_OK;
}

static levi_status build_variants(study *s, const char *methods, char defs[][600], int ndefs) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", methods);
    char *save = NULL;
    int used[STUDY_MAX_VARIANTS] = {0};
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int d = -1;
        for (int i = 0; i < ndefs; i++) {
            const char *eq = strchr(defs[i], '=');
            if ((size_t)(eq - defs[i]) == strlen(t) && !strncmp(defs[i], t, strlen(t))) d = i;
        }
        if (d < 0) {
            LEVI_TRY(add_variant(s, t, strlen(t), t, ""));
            continue;
        }
        used[d] = 1;
        const char *eq = strchr(defs[d], '='), *m = eq + 1;
        while (*m == ' ') m++;
        size_t ml = strcspn(m, " \t");
        char method[32];
        snprintf(method, sizeof method, "%.*s", (int)ml, m);
        LEVI_TRY(add_variant(s, t, strlen(t), method, m + ml + strspn(m + ml, " \t")));
    }
    /* variants not named in --methods are added after them */
    for (int d = 0; d < ndefs; d++) {
        if (used[d]) continue;
        const char *eq = strchr(defs[d], '='), *m = eq + 1;
        while (*m == ' ') m++;
        size_t ml = strcspn(m, " \t");
        char method[32];
        snprintf(method, sizeof method, "%.*s", (int)ml, m);
        LEVI_TRY(add_variant(s, defs[d], (size_t)(eq - defs[d]), method, m + ml + strspn(m + ml, " \t")));
    }
    if (!s->nv) return levi_error(LEVI_ERR_INVALID_ARG, "--methods: the list is empty");
    return LEVI_OK;
}

static void record_command(study *s, int argc, char **argv) {
    size_t o = (size_t)snprintf(s->command, sizeof s->command, "levi-cl study");
    for (int i = 1; i < argc && o < sizeof s->command; i++) {
        char q[1200];
        demo_shell_quote(q, sizeof q, argv[i]);
        o += (size_t)snprintf(s->command + o, sizeof s->command - o, " %s", q);
    }
}

static levi_status parse_args(study *s, int argc, char **argv, const char **device, const char **backbone) {
    const char *methods = "scratch,lp,ft,levi", *lrs = NULL, *wds = NULL, *seeds = "0,1,2", *size = "full";
    const char *ref = NULL, *sub = NULL;
    long fit = -1, val = -1, eval = -1, epochs = -1, batch = 0, hidden = 0, nsearch = 0;
    char defs[STUDY_MAX_VARIANTS][600];
    int ndefs = 0;
    s->out = "levi-study";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--text")) {
            s->ds.text = 1;
            continue;
        }
        if (!v) return levi_error(LEVI_ERR_INVALID_ARG, "%s needs a value (see levi-cl study --help)", a);
        i++;
        if (!strcmp(a, "--subdomain")) sub = v;
        else if (!strcmp(a, "--seeds")) seeds = v;
        else if (!strcmp(a, "--methods")) methods = v;
        else if (!strcmp(a, "--variant")) LEVI_TRY(parse_variant(s, v, defs, &ndefs));
        else if (!strcmp(a, "--reference")) ref = v;
        else if (!strcmp(a, "--lrs")) lrs = v;
        else if (!strcmp(a, "--wds")) wds = v;
        else if (!strcmp(a, "--epochs")) LEVI_TRY(cli_parse_int(a, v, 1, STUDY_MAX_EPOCHS, &epochs));
        else if (!strcmp(a, "--fit")) LEVI_TRY(cli_parse_int(a, v, 1, 100000, &fit));
        else if (!strcmp(a, "--val")) LEVI_TRY(cli_parse_int(a, v, 1, 100000, &val));
        else if (!strcmp(a, "--eval-limit")) LEVI_TRY(cli_parse_int(a, v, 0, 100000, &eval));
        else if (!strcmp(a, "--batch")) LEVI_TRY(cli_parse_int(a, v, 1, 65536, &batch));
        else if (!strcmp(a, "--search-seeds")) LEVI_TRY(cli_parse_int(a, v, 1, STUDY_MAX_SEEDS, &nsearch));
        else if (!strcmp(a, "--task-hidden")) LEVI_TRY(cli_parse_int(a, v, 1, 65536, &hidden));
        else if (!strcmp(a, "--task-model")) {
            if (strcmp(v, "mlp") && strcmp(v, "cnn") && strcmp(v, "ngram"))
                return levi_error(LEVI_ERR_INVALID_ARG, "--task-model: '%s' is not mlp, cnn or ngram", v);
            s->task_model = v;
        } else if (!strcmp(a, "--backbone")) {
            if (!*v) return levi_error(LEVI_ERR_INVALID_ARG, "--backbone: empty folder name");
            *backbone = v;
        } else if (!strcmp(a, "--size")) size = v;
        else if (!strcmp(a, "--source")) s->ds.source = v;
        else if (!strcmp(a, "--arch")) {
            if (strcmp(v, "vit-tiny") && strcmp(v, "vit-small"))
                return levi_error(LEVI_ERR_INVALID_ARG, "--arch: '%s' is not vit-tiny or vit-small", v);
            s->ds.arch = v;
        }
        else if (!strcmp(a, "--out")) s->out = v;
        else if (!strcmp(a, "--device")) *device = v;
        else return levi_error(LEVI_ERR_INVALID_ARG, "unexpected argument '%s' (see levi-cl study --help)", a);
    }
    if (!*s->out) return levi_error(LEVI_ERR_INVALID_ARG, "--out: empty folder name");
    s->bench = s->ds.text ? &study_text_shift : &study_fashion_shift;
    if (s->ds.text) {
        /* text-shift has no subdomains, no ViT to pretrain and no images */
        if (sub) return levi_error(LEVI_ERR_INVALID_ARG, "--subdomain applies to fashion-shift, not to --text");
        if (s->ds.arch)
            return levi_error(LEVI_ERR_INVALID_ARG, "--arch applies to fashion-shift (--text uses a pre-trained BERT)");
        if (s->task_model && strcmp(s->task_model, "ngram"))
            return levi_error(LEVI_ERR_INVALID_ARG, "--task-model %s reads images; --text takes ngram",
                              s->task_model);
    } else {
        if (*backbone)
            return levi_error(LEVI_ERR_INVALID_ARG, "--backbone applies to --text (fashion-shift pretrains its own ViT)");
        if (s->task_model && !strcmp(s->task_model, "ngram"))
            return levi_error(LEVI_ERR_INVALID_ARG, "--task-model ngram reads texts; it applies to --text");
        levi_subdomain sd;
        LEVI_TRY(levi_subdomain_parse(sub ? sub : "invert", &sd));
        snprintf(s->subdomain, sizeof s->subdomain, "%s", sub ? sub : "invert");
    }
    const study_size *z = NULL;
    for (int k = 0; k < s->bench->nsizes; k++)
        if (!strcmp(s->bench->sizes[k].name, size)) z = &s->bench->sizes[k];
    s->ds.size = s->ds.text ? demo_text_size(size) : demo_size_named(size);
    if (!z || !s->ds.size) return levi_error(LEVI_ERR_INVALID_ARG, "--size: '%s' is not full, quick or tiny", size);
    s->fit = fit > 0 ? (int)fit : z->fit;
    s->val = val > 0 ? (int)val : z->val;
    s->eval_limit = eval >= 0 ? (int)eval : z->eval;
    s->max_epochs = epochs > 0 ? (int)epochs : z->epochs;
    s->batch = batch > 0 ? (int)batch : z->batch;
    s->task_hidden = hidden;
    LEVI_TRY(parse_list("--lrs", lrs ? lrs : z->lrs, s->lr_s, STUDY_MAX_GRID, &s->nlr));
    LEVI_TRY(parse_list("--wds", wds ? wds : z->wds, s->wd_s, STUDY_MAX_GRID, &s->nwd));
    char sb[256];
    snprintf(sb, sizeof sb, "%s", seeds);
    char *save = NULL;
    for (char *t = strtok_r(sb, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (s->nseeds == STUDY_MAX_SEEDS)
            return levi_error(LEVI_ERR_INVALID_ARG, "--seeds: more than %d", STUDY_MAX_SEEDS);
        LEVI_TRY(cli_parse_int("--seeds", t, 0, 2147483647L, &s->seeds[s->nseeds]));
        for (int j = 0; j < s->nseeds; j++)
            if (s->seeds[j] == s->seeds[s->nseeds])
                return levi_error(LEVI_ERR_INVALID_ARG, "--seeds: %ld is listed twice", s->seeds[j]);
        s->nseeds++;
    }
    if (!s->nseeds) return levi_error(LEVI_ERR_INVALID_ARG, "--seeds: the list is empty");
    if (nsearch > s->nseeds)
        return levi_error(LEVI_ERR_INVALID_ARG, "--search-seeds %ld: only %d seeds are given", nsearch, s->nseeds);
    s->nsearch = nsearch > 0 ? (int)nsearch : s->nseeds;
    LEVI_TRY(build_variants(s, methods, defs, ndefs));
    s->ref = s->nv - 1;
    for (int i = 0; i < s->nv; i++)
        if (ref ? !strcmp(s->v[i].name, ref) : !strcmp(s->v[i].name, "levi")) s->ref = i;
    if (ref && strcmp(s->v[s->ref].name, ref))
        return levi_error(LEVI_ERR_INVALID_ARG, "--reference: '%s' is not one of the methods", ref);
    return LEVI_OK;
}

int cmd_study(int argc, char **argv, const cli_env *env_in) {
    if (cli_wants_help(argc, argv)) {
        fputs(k_usage, stdout);
        return 0;
    }
    study *s = calloc(1, sizeof *s);
    if (!s) return cli_fail(levi_error(LEVI_ERR_HOST_MEMORY, "out of memory"));
    cli_env env = *env_in;
    const char *backbone = NULL;
    levi_status st = parse_args(s, argc, argv, &env.device, &backbone);
    if (st != LEVI_OK) {
        fprintf(stderr, "levi-cl study: %s\n", levi_last_error());
        free(s);
        return 2;
    }
    record_command(s, argc, argv);
    demo_run_state *d = &s->ds;
    d->out = s->out;
    d->subdomain = d->text ? NULL : s->subdomain;
    st = demo_set_paths(d);
    int text_rows = 0, text_test;
    if (st == LEVI_OK && d->text) {
        st = demo_text_find_backbone(d, backbone);
        demo_text_data_size(d, &text_rows, &text_test, &s->seq_len);
    }
    char logs[1200];
    snprintf(logs, sizeof logs, "%s/logs", s->out);
    if (st == LEVI_OK) st = levi_mkdirs(logs);
    if (st != LEVI_OK) {
        free(s);
        return cli_fail(st);
    }
    int needs_backbone = 0;
    for (int i = 0; i < s->nv; i++) needs_backbone |= strcmp(s->v[i].method, "scratch") != 0;
    if (d->text) needs_backbone = 0; /* found, not pretrained */

    /* stages: data, backbone, splits, searches, finals */
    int n_search = s->nv * s->nlr * s->nwd * s->nsearch, n = 3 + n_search + s->nv * s->nseeds;
    demo_progress_init(&d->prog, n);
    if (d->text) {
        snprintf(d->stage_names[0], sizeof d->stage_names[0], "generate text-shift");
        snprintf(d->stage_names[1], sizeof d->stage_names[1], "%s", "the BERT backbone (found)");
    } else {
        snprintf(d->stage_names[0], sizeof d->stage_names[0], "generate fashion-shift (%s)", s->subdomain);
        snprintf(d->stage_names[1], sizeof d->stage_names[1], "pretrain %s backbone", d->arch ? d->arch : "vit-tiny");
    }
    d->prog.est[0] = d->size->est_data_s;
    d->prog.est[1] = needs_backbone ? d->size->est_pretrain_s : 0;
    /* a method of cost 1 trains + evaluates a demo run (train_limit rows/class, train_epochs) in est_train_s */
    int demo_epochs = d->size->train_epochs > 0 ? d->size->train_epochs : 5;
    int demo_rows = d->size->train_limit > 0 ? d->size->train_limit : text_rows > 0 ? text_rows : 500;
    double per_epoch = d->size->est_train_s / demo_epochs * s->fit / demo_rows;
    int k = 3;
    for (int vi = 0; vi < s->nv; vi++)
        for (int j = 0; j < s->nlr * s->nwd * s->nsearch; j++)
            d->prog.est[k++] = per_epoch * s->v[vi].cost * s->max_epochs;
    for (int vi = 0; vi < s->nv; vi++)
        for (int j = 0; j < s->nseeds; j++) d->prog.est[k++] = per_epoch * s->v[vi].cost * (s->max_epochs / 2.0 + 2);
    fprintf(stderr,
            "levi-cl study: %s%s%s, %d methods × %d grid points × %d search seeds, then × %d seeds; "
            "output in %s\n",
            s->bench->name, d->text ? "" : "/", d->text ? "" : s->subdomain, s->nv, s->nlr * s->nwd, s->nsearch,
            s->nseeds, s->out);
    if (d->text) fprintf(stderr, "levi-cl study: backbone %s\n", d->backbone);

    demo_sigint_install();
    double t0 = levi_now_s();
    int rc = demo_stage_data(d, &env, 0);
    if (!rc && needs_backbone) rc = demo_stage_pretrain(d, &env, 1);
    if (!rc) rc = study_make_splits(s, 2);
    k = 3;
    for (int vi = 0; vi < s->nv && !rc; vi++)
        for (int li = 0; li < s->nlr && !rc; li++)
            for (int wi = 0; wi < s->nwd && !rc; wi++)
                for (int si = 0; si < s->nsearch && !rc; si++) rc = study_search_run(s, &env, k++, vi, li, wi, si);
    for (int vi = 0; vi < s->nv && !rc; vi++) {
        if (study_select(s, vi)) rc = cli_fail(levi_error(LEVI_ERR_INVALID_ARG, "%s: no search result", s->v[vi].name));
        for (int si = 0; si < s->nseeds && !rc; si++) rc = study_final_run(s, &env, k++, vi, si);
    }
    demo_sigint_restore();
    if (!rc) {
        s->total_s = levi_now_s() - t0;
        st = study_write(s);
        if (st != LEVI_OK) rc = cli_fail(st);
        else {
            char t[32];
            demo_fmt_time(t, sizeof t, s->total_s);
            fprintf(stderr, "levi-cl study: finished in %s; %s/study.md and %s/study.json\n", t, s->out, s->out);
        }
    }
    free(s);
    return rc;
}
