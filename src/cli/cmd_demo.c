/* levi-cl demo: the whole LEVI story in one command.
 *
 *   1  generate fashion-shift          cached in <cache>/demo/fashion-shift-<key>/
 *   2  pretrain the default ViT        cached in <cache>/demo/backbone-<key>/
 *   3… train each method on `train`, evaluate on test-id and test-ood
 *                                      DIR/runs/<method>/
 *   then print the table and write DIR/report.html and DIR/results.json.
 *
 * With --text (demo_text.c): text-shift (Debian package descriptions) in
 * place of fashion-shift, and all-MiniLM-L6-v2, found rather than pretrained.
 *
 * Every stage runs an ordinary levi-cl command in this process (through the
 * command table), with its output in DIR/logs/<stage>.log. A stage is done
 * when its completion marker (complete.json, written atomically after its
 * outputs) holds the key of its parameters; an interrupted stage has no
 * marker and is redone from a clean folder, so Ctrl-C and a rerun never see
 * half-written files. The sizes below were measured on 2 CPU cores through
 * PoCL (see the README): the full demo takes about 2 minutes, --quick seconds. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "demo_stages.h"

/* --- sizes: the one table of constants ------------------------------------ */

/* Chosen from CPU time measured on 2 cores through PoCL (user+sys seconds):
 * fashion-shift, all 70,000 PNGs: 14 s; vit-tiny pretrain: 5.4 ms per image
 * and epoch; a frozen-backbone forward (lp/levi features, eval): 1.9 ms per
 * image; ft: ~5 ms per image and epoch; scratch (MLP): 0.15 ms.
 * Measured wall time with a cold cache on 2 cores (PoCL 3.1, AMD EPYC, shared
 * with other jobs, load average 4.5-6.8): full 7:10 (data 1:44, pretrain on
 * all 30,000 images for 10 epochs 4:38, methods 0:49), --quick 0:14; a second
 * full demo into a new --out 0:52 (data and backbone cached), into the same
 * --out 0:01. tiny: seconds (smoke tests only). */
static const demo_size k_sizes[] = {
    /* name    data  pretrain:lim ep batch  train:lim ep batch  eval  est: data pretrain train */
    {"full", 0, 0, 10, 64, 500, 0, 64, 0, 30, 300, 25},
    {"quick", 2000, 200, 3, 64, 100, 2, 64, 50, 5, 30, 6},
    {"tiny", 200, 20, 1, 32, 20, 1, 32, 10, 3, 5, 2},
};

const demo_size *demo_size_named(const char *name) {
    for (size_t k = 0; k < sizeof k_sizes / sizeof k_sizes[0]; k++)
        if (name && !strcmp(k_sizes[k].name, name)) return &k_sizes[k];
    return NULL;
}

/* Learning rate, weight decay, epochs (of the full size) and relative cost
 * (for the ETA) per method. scratch, lp, ft and levi: the settings that
 * `levi-cl study --subdomain invert` selected on its validation split (the
 * mean over seeds 0, 1, 2; README, "Does LEVI beat both of its views?"); lora and levi+lora
 * were not in that study. */
static const demo_method k_methods[] = {
    {"scratch", "1e-3", "0.01", 5, 0.5}, {"lp", "3e-3", "0.01", 6, 1.0},   {"ft", "1e-3", "0.01", 5, 6.0},
    {"lora", "1e-3", "0.01", 3, 3.5},    {"levi", "1e-3", "0.1", 5, 1.5}, {"levi+lora", "1e-3", "0.01", 3, 4.0},
};
#define N_METHODS (int)(sizeof k_methods / sizeof k_methods[0])
_Static_assert(N_METHODS <= DEMO_MAX_METHODS, "demo: too many methods");

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
    "  --quick          a smaller run (seconds on 2 CPU cores instead of about 2 minutes)\n"
    "  --size S         full | quick | tiny (tiny: seconds, for smoke tests)\n"
    "  --seed S         training seed of the methods (default 0; data and backbone stay fixed)\n"
    "  --methods LIST   comma-separated, from scratch,lp,ft,lora,levi,levi+lora\n"
    "                   (default scratch,lp,ft,levi)\n"
    "  --source DIR     Fashion-MNIST's four .gz files (default: the Debian package's\n"
    "                   /usr/share/datasets/fashion-mnist)\n"
    "  --arch A         the backbone: vit-tiny (default) or vit-small (a larger one, for GPUs)\n"
    "  --device SEL     the OpenCL device (see levi-cl --device list)\n"
    "\n"
    "  --text           the comparison on texts instead: text-shift (Debian package\n"
    "                   descriptions labelled by section, the package name a shortcut\n"
    "                   shuffled in test-ood; levi-cl data text-shift --help) with the\n"
    "                   pre-trained all-MiniLM-L6-v2 as the backbone (no pretraining stage);\n"
    "                   all six methods by default, the report titled text-shift.\n"
    "                   --source FILE is then a Packages file (default: apt-cache dumpavail)\n"
    "  --backbone DIR   with --text: the BERT folder (default: $LEVI_MINILM, else\n"
    "                   <cache>/models/all-MiniLM-L6-v2, where the quick start installs it)\n"
    "\n"
    "The cache folder is $LEVI_CACHE_DIR, else ~/.cache/levi-cl (DIR/cache when\n"
    "LEVI_CACHE_DIR=off). Logs of every stage are in DIR/logs/.\n";

/* --- the command ----------------------------------------------------------------- */

static levi_status parse_methods(demo_run_state *s, const char *list, const demo_method *table, int n_table) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    s->n_methods = 0;
    if (strlen(list) >= sizeof buf) return levi_error(LEVI_ERR_INVALID_ARG, "--methods: the list is too long");
    for (char *t = buf, *next; t; t = next) {
        next = strchr(t, ',');
        if (next) *next++ = '\0';
        if (!*t)
            return levi_error(LEVI_ERR_INVALID_ARG, "--methods '%s': an empty name (expected comma-separated methods "
                              "from scratch, lp, ft, lora, levi, levi+lora)", list);
        int found = -1;
        for (int i = 0; i < n_table; i++)
            if (!strcmp(table[i].name, t)) found = i;
        if (found < 0)
            return levi_error(LEVI_ERR_INVALID_ARG,
                              "--methods: unknown method '%s' (expected scratch, lp, ft, lora, levi, levi+lora)", t);
        for (int i = 0; i < s->n_methods; i++)
            if (s->methods[i] == &table[found])
                return levi_error(LEVI_ERR_INVALID_ARG, "--methods: '%s' is listed twice", t);
        s->methods[s->n_methods++] = &table[found];
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
    s->data_seed = k_data_seed;
    s->pretrain_seed = k_pretrain_seed;
    s->size = &k_sizes[0];
    const char *methods = NULL, *size_name = "full", *text_backbone = NULL;
    levi_status st = LEVI_OK;
    for (int i = 1; i < argc && st == LEVI_OK; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick")) size_name = "quick";
        else if (!strcmp(a, "--text")) s->text = 1;
        else if (!strcmp(a, "--backbone") && v && *v) text_backbone = argv[++i];
        else if (!strcmp(a, "--out") && v && *v) s->out = argv[++i];
        else if (!strcmp(a, "--device") && v && *v) env.device = argv[++i];
        else if (!strcmp(a, "--methods") && v) methods = argv[++i];
        else if (!strcmp(a, "--source") && v && *v) s->source = argv[++i];
        else if (!strcmp(a, "--arch") && v) {
            s->arch = argv[++i];
            if (strcmp(s->arch, "vit-tiny") && strcmp(s->arch, "vit-small"))
                st = levi_error(LEVI_ERR_INVALID_ARG, "--arch: '%s' is not vit-tiny or vit-small", s->arch);
        } else if (!strcmp(a, "--seed") && v) {
            long seed;
            st = cli_parse_int("--seed", argv[++i], 0, 2147483647L, &seed);
            s->seed = (unsigned long long)seed;
        } else if (!strcmp(a, "--size") && v) {
            size_name = v;
            if (!demo_size_named(v)) st = levi_error(LEVI_ERR_INVALID_ARG, "--size: '%s' is not full, quick or tiny", v);
            i++;
        } else if (!strncmp(a, "--", 2) && !v && (!strcmp(a, "--out") || !strcmp(a, "--methods") ||
                                                  !strcmp(a, "--seed") || !strcmp(a, "--size") || !strcmp(a, "--device") ||
                                                  !strcmp(a, "--source") || !strcmp(a, "--arch") ||
                                                  !strcmp(a, "--backbone")))
            st = levi_error(LEVI_ERR_INVALID_ARG, "%s needs a value", a);
        else st = levi_error(LEVI_ERR_INVALID_ARG, "unexpected argument '%s' (see levi-cl demo --help)", a);
    }
    if (st == LEVI_OK && !s->text && text_backbone)
        st = levi_error(LEVI_ERR_INVALID_ARG, "--backbone applies to --text (the image demo pretrains its own ViT)");
    if (st == LEVI_OK && s->text && s->arch)
        st = levi_error(LEVI_ERR_INVALID_ARG, "--arch applies to the image demo (--text uses a pre-trained BERT)");
    if (st == LEVI_OK) {
        int n_text;
        const demo_method *text_methods = demo_text_methods(&n_text);
        s->size = s->text ? demo_text_size(size_name) : demo_size_named(size_name);
        if (s->text) st = parse_methods(s, methods ? methods : "scratch,lp,ft,lora,levi,levi+lora", text_methods, n_text);
        else st = parse_methods(s, methods ? methods : k_default_methods, k_methods, N_METHODS);
    }
    if (st != LEVI_OK) {
        free(s);
        fprintf(stderr, "levi-cl demo: %s\n", levi_last_error());
        return 2;
    }
    levi_device_info dev;
    st = device_info(&env, &dev);
    /* one demo per --out folder at a time (the cache is shared safely) */
    levi_output_lock lock;
    if (st == LEVI_OK) st = levi_output_check_dir("--out", s->out);
    if (st == LEVI_OK) st = levi_output_lock_take(&lock, s->out);
    if (st != LEVI_OK) {
        free(s);
        return cli_fail(st);
    }

    /* folders and keys */
    st = demo_set_paths(s);
    if (st == LEVI_OK && s->text) st = demo_text_find_backbone(s, text_backbone);
    char logs[1200], demo_cache[1100];
    snprintf(logs, sizeof logs, "%s/logs", s->out);
    snprintf(demo_cache, sizeof demo_cache, "%s/demo", s->cache);
    if (st == LEVI_OK) st = levi_mkdirs(logs);
    if (st == LEVI_OK) st = levi_mkdirs(demo_cache);
    if (st != LEVI_OK) {
        levi_output_lock_release(&lock);
        free(s);
        return cli_fail(st);
    }

    /* the text demo has no pretraining stage */
    int first = s->text ? 1 : 2, n = first + s->n_methods;
    demo_progress_init(&s->prog, n);
    snprintf(s->stage_names[0], sizeof s->stage_names[0], "generate %s", s->text ? "text-shift" : "fashion-shift");
    if (!s->text)
        snprintf(s->stage_names[1], sizeof s->stage_names[1], "pretrain %s backbone", s->arch ? s->arch : "vit-tiny");
    s->prog.est[0] = s->size->est_data_s;
    if (!s->text) s->prog.est[1] = s->size->est_pretrain_s;
    for (int i = 0; i < s->n_methods; i++) {
        snprintf(s->stage_names[first + i], sizeof s->stage_names[0], "train + evaluate %s", s->methods[i]->name);
        s->prog.est[first + i] = s->size->est_train_s * s->methods[i]->cost;
    }
    fprintf(stderr, "levi-cl demo: %s%s run on %s; output in %s, cache in %s\n", s->text ? "text " : "",
            s->size->name, dev.name, s->out, demo_cache);
    if (s->text) fprintf(stderr, "levi-cl demo: backbone %s\n", s->backbone);

    demo_sigint_install();
    demo_result *res = calloc((size_t)s->n_methods, sizeof *res);
    int rc = res ? 0 : cli_fail(levi_error(LEVI_ERR_HOST_MEMORY, "out of memory"));
    double t0 = levi_now_s();
    if (!rc) rc = demo_stage_data(s, &env, 0);
    if (!rc && !s->text) rc = demo_stage_pretrain(s, &env, 1);
    if (!rc && s->text) snprintf(s->setup_cmds + strlen(s->setup_cmds), sizeof s->setup_cmds - strlen(s->setup_cmds),
                                 "# the backbone: %s (all-MiniLM-L6-v2 unless --backbone)\n", s->backbone);
    for (int i = 0; i < s->n_methods && !rc; i++) rc = demo_stage_method(s, &env, first + i, i, &res[i]);
    demo_sigint_restore();
    if (!rc) {
        double total = levi_now_s() - t0;
        demo_summary sum = {.size = s->size->name,
                            .seed = s->seed,
                            .dev = &dev,
                            .out = s->out,
                            .data = s->data,
                            .backbone = s->backbone,
                            .sheet = s->sheet[0] ? s->sheet : NULL,
                            .text = s->text,
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
    levi_output_lock_release(&lock);
    return rc;
}
