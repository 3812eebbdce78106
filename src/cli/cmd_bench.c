/* levi-cl bench: GEMM, bandwidth, per-op, training and start-up throughput
 * on the selected device, as a table and as JSON; --compare puts result
 * files side by side. */
#include <stdio.h>
#include <string.h>

#include "bench.h"

int bench_startup_child(const cli_env *env);

static const char *k_usage =
    "usage: levi-cl [--device SEL] bench GROUP [--json] [--out FILE] [--budget SECONDS]\n"
    "                                          [--reference FILE]\n"
    "       levi-cl bench --compare [--best] A.json B.json [C.json ...]\n"
    "\n"
    "GROUP: gemm       SGEMM GFLOP/s, square 128..1024 and the models' shapes (path: LEVI_GEMM)\n"
    "       bandwidth  device copy and host<->device transfer, GB/s\n"
    "       ops        every op of levi/ops.h at the demo's sizes, GFLOP/s or GB/s\n"
    "       train      training samples/s of ft, lora and levi (with/without feature cache)\n"
    "       startup    cold and warm time to the first kernel and first GEMM (child processes)\n"
    "       all        all of the above\n"    "       data       decode/cached/augmented images/s of an ImageFolder (levi-cl bench data --help)\n"
    "\n"
    "Each benchmark warms up, then times samples (wall clock after clFinish) with an\n"
    "iteration count calibrated to the budget; the table shows the median and min.\n"
    "  --budget S       seconds per group (default 10)\n"
    "  --json           write the results as JSON to stdout (the table goes to stderr)\n"
    "  --out FILE       write the results as JSON to FILE (atomically)\n"
    "  --reference F    a results file (e.g. from levi-openblas-ref) for a ratio column (gemm)\n"
    "  --compare ...    print a side-by-side table of result files with ratios to the first\n"
    "                   (medians; --best: the best samples, steadier on a busy machine)\n"
    "train only:\n"
    "  --model M        vit-tiny (the demo's, default), vit-s16 or vit-b16 (random weights)\n"
    "  --batch N|auto   batch size (default 64; auto: the largest that fits the device)\n"
    "  --methods all|default|LIST  default: ft, lora, levi, levi-cache; all: every method\n"
    "                   and fusion; LIST: some of ft, lora, levi, levi-cache, scratch, lp,\n"
    "                   lp-cache, levi-ensemble, levi-ensemble-cache, levi+lora,\n"
    "                   levi+lora-ensemble (comma-separated)\n"
    "  --profile        per steady-state step (over 32 steps, one read of the metrics as\n"
    "                   train --log takes it): kernel launches, GEMM calls, blocking syncs,\n"
    "                   host<->device bytes and the ten kernels of most device time\n"
    "                   (also a \"profile\" object in every JSON row)\n"
    "  --plan           print every row's memory plan (parameters, gradients, optimizer,\n"
    "                   activations, workspace) and the largest batch that fits, then stop\n"
    "  --devices SEL,SEL,...  data parallel over these devices (and under mpirun over the\n"
    "                   ranks): samples/s on one device and on all, scaling efficiency\n";

static const char *const k_groups[] = {"gemm", "bandwidth", "ops", "train", "startup", NULL};

static levi_status run_group(const char *g, levi_ctx *ctx, const cli_env *env, cJSON *doc, double budget,
                             const cJSON *ref, const bench_train_opts *to) {
    if (!strcmp(g, "gemm")) return bench_gemm(ctx, doc, budget, ref);
    if (!strcmp(g, "bandwidth")) return bench_bandwidth(ctx, doc, budget);
    if (!strcmp(g, "ops")) return bench_ops(ctx, doc, budget);
    if (!strcmp(g, "train")) return bench_train(ctx, doc, budget, to);
    return bench_startup(env, doc, budget);
}

int cmd_bench(int argc, char **argv, const cli_env *env) {
    if (argc >= 2 && !strcmp(argv[1], "data")) return bench_data(argc - 1, argv + 1); /* host only: no device */
    if (cli_wants_help(argc, argv)) {
        fputs(k_usage, stdout);
        return 0;
    }
    if (argc >= 2 && !strcmp(argv[1], "--compare")) return bench_compare(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "startup-child")) return bench_startup_child(env);
    const char *group = NULL, *out_path = NULL, *ref_path = NULL, *devices = NULL;
    int json = 0;
    double budget = 10;
    bench_train_opts to = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--profile")) to.profile = 1;
        else if (!strcmp(a, "--plan")) to.plan = 1;
        else if (!strcmp(a, "--model") || !strcmp(a, "--batch") || !strcmp(a, "--methods")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "levi-cl bench: %s needs a value\n", a);
                return 2;
            }
            const char *v = argv[++i];
            long b = 0;
            if (!strcmp(a, "--model")) to.model = v;
            else if (!strcmp(a, "--methods")) to.methods = v; /* checked by the train group */
            else if (!strcmp(v, "auto")) {
                to.batch = -1; /* the largest that fits every row */
            } else if (cli_parse_int("--batch", v, 1, 65536, &b) != LEVI_OK) {
                return cli_fail(LEVI_ERR_INVALID_ARG);
            } else {
                to.batch = (int)b;
            }
        } else if (!strcmp(a, "--devices") && i + 1 < argc) {
            devices = argv[++i];
        } else if (!strcmp(a, "--out") || !strcmp(a, "--reference") || !strcmp(a, "--budget")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "levi-cl bench: %s needs a value\n", a);
                return 2;
            }
            const char *v = argv[++i];
            if (!strcmp(a, "--out")) out_path = v;
            else if (!strcmp(a, "--reference")) ref_path = v;
            else if (cli_parse_float("--budget", v, 0.1, 86400, &budget) != LEVI_OK) return cli_fail(LEVI_ERR_INVALID_ARG);
        } else if (a[0] == '-') {
            fprintf(stderr, "levi-cl bench: unknown option '%s'\n%s", a, k_usage);
            return 2;
        } else if (!group) {
            group = a;
        } else {
            fprintf(stderr, "levi-cl bench: unexpected argument '%s'\n%s", a, k_usage);
            return 2;
        }
    }
    if (!group) {
        fprintf(stderr, "levi-cl bench: which group? (gemm, bandwidth, ops, train, startup, all)\n%s", k_usage);
        return 2;
    }
    int known = !strcmp(group, "all");
    for (int i = 0; k_groups[i]; i++) known |= !strcmp(group, k_groups[i]);
    if (!known) {
        fprintf(stderr, "levi-cl bench: unknown group '%s' (expected gemm, bandwidth, ops, train, startup or all)\n",
                group);
        return 2;
    }
    if (out_path) { /* before minutes of benchmarking, not after */
        levi_status st = levi_output_check_file("--out", out_path);
        if (st != LEVI_OK) return cli_fail(st);
    }
    /* several devices or ranks: the train group's own run (bench_train_multi.c) */
    if (devices || levi_comm_launcher_size() > 1) {
        if (strcmp(group, "train")) {
            fprintf(stderr, "levi-cl bench: --devices and mpirun apply to the train group only\n");
            return 2;
        }
        return bench_train_multi(env, devices, budget, json, out_path, &to);
    }
    cJSON *ref = NULL;
    if (ref_path) {
        levi_status st = bench_doc_load(ref_path, &ref);
        if (st != LEVI_OK) return cli_fail(st);
    }
    bench_set_table_stream(json && !out_path ? stderr : stdout);
    levi_ctx *ctx;
    levi_status st = cli_open(env, &ctx);
    if (st != LEVI_OK) {
        cJSON_Delete(ref);
        return cli_fail(st);
    }
    cJSON *doc = bench_doc_new(&ctx->info, "levi-cl bench");
    if (!doc) st = levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    if (doc) cJSON_AddNumberToObject(doc, "budget_s", budget);
    int failures = 0;
    for (int i = 0; k_groups[i] && st == LEVI_OK; i++) {
        if (strcmp(group, "all") && strcmp(group, k_groups[i])) continue;
        FILE *t = json && !out_path ? stderr : stdout;
        fprintf(t, "== %s on %s ==\n", k_groups[i], ctx->info.name);
        levi_status gs = run_group(k_groups[i], ctx, env, doc, budget, ref, &to);
        if (gs != LEVI_OK) {
            /* in "all", one missing group (e.g. train before the trainer lands) does not hide the others */
            if (strcmp(group, "all") || gs != LEVI_ERR_UNSUPPORTED) st = gs;
            else fprintf(stderr, "levi-cl bench: %s skipped: %s\n", k_groups[i], levi_last_error());
            failures += gs != LEVI_ERR_UNSUPPORTED;
        }
    }
    if (st == LEVI_OK && (json || out_path)) st = bench_doc_write(doc, out_path);
    if (st == LEVI_OK && out_path) printf("results written to %s\n", out_path);
    int rc = st == LEVI_OK ? (failures ? 1 : 0) : cli_fail(st);
    cJSON_Delete(doc);
    cJSON_Delete(ref);
    levi_ctx_destroy(ctx);
    return rc;
}
