/* levi-cl tune: search CLBlast GEMM parameters for the selected device and
 * store the best set per device and driver (applied at every start-up). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "bench_tune.h"

static const char *k_usage =
    "usage: levi-cl [--device SEL] tune gemm [--budget SECONDS]\n"
    "       levi-cl [--device SEL] tune --reset\n"
    "       levi-cl [--device SEL] tune --show\n"
    "\n"
    "gemm     search CLBlast's Xgemm and XgemmDirect kernel parameters and the\n"
    "         direct/indirect threshold on the GEMM shapes levi-cl uses, within the\n"
    "         budget (default 120 s). Every candidate is checked against a host\n"
    "         reference before it counts; invalid combinations are never tried.\n"
    "         The best set is stored in the cache folder for this device and driver\n"
    "         and applied automatically from then on (levi-cl --device list: tuned).\n"
    "--reset  remove the stored set of the selected device (CLBlast defaults again)\n"
    "--show   print the stored set\n";

/* While searching, the stored set is renamed to <path>.previous (a context
 * would apply it, and the search must start from CLBlast's defaults). Ctrl-C
 * or a kill renames it back (rename() is async-signal-safe). */
static char g_path[1200], g_prev_path[1300];
static volatile sig_atomic_t g_moved;

static void restore_previous(void) {
    if (g_moved && rename(g_prev_path, g_path) == 0) g_moved = 0;
}

static void on_signal(int sig) {
    restore_previous();
    signal(sig, SIG_DFL);
    raise(sig);
}

int cmd_tune(int argc, char **argv, const cli_env *env) {
    if (cli_wants_help(argc, argv)) {
        fputs(k_usage, stdout);
        return 0;
    }
    int reset = 0, show = 0, gemm = 0;
    double budget = 120;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reset")) reset = 1;
        else if (!strcmp(argv[i], "--show")) show = 1;
        else if (!strcmp(argv[i], "gemm")) gemm = 1;
        else if (!strcmp(argv[i], "--budget")) {
            if (cli_parse_float("--budget", i + 1 < argc ? argv[++i] : NULL, 5, 86400, &budget) != LEVI_OK)
                return cli_fail(LEVI_ERR_INVALID_ARG);
        } else {
            fprintf(stderr, "levi-cl tune: unexpected argument '%s'\n%s", argv[i], k_usage);
            return 2;
        }
    }
    if (reset + show + gemm != 1) {
        fprintf(stderr, "levi-cl tune: give exactly one of gemm, --reset, --show\n%s", k_usage);
        return 2;
    }
    /* Select the device without creating a context: a context would apply
     * the stored set, and the search must start from CLBlast's defaults. */
    levi_device_list list;
    levi_status st = levi_device_list_query(&list);
    if (st != LEVI_OK) return cli_fail(st);
    int index = -1;
    const char *sel = env->device ? env->device : getenv("LEVI_DEVICE");
    st = levi_device_select(list.devices, list.count, sel, &index, NULL, 0);
    if (st != LEVI_OK) {
        levi_device_list_free(&list);
        return cli_fail(st);
    }
    levi_device_info dev = list.devices[index];
    levi_device_list_free(&list);
    char path[1200];
    st = levi_tuning_path(&dev, path, sizeof path);
    if (st != LEVI_OK) return cli_fail(st);

    if (reset) {
        int removed = 0;
        st = levi_tuning_reset(&dev, &removed);
        if (st != LEVI_OK) return cli_fail(st);
        printf("%s: %s\n", dev.name, removed ? "tuned GEMM parameters removed" : "nothing was stored");
        return 0;
    }
    levi_tuning prev;
    levi_status have_prev = levi_tuning_load(&dev, &prev);
    if (show) {
        if (have_prev != LEVI_OK) return cli_fail(have_prev);
        char *s = levi_tuning_to_json(&prev, &dev);
        printf("%s\n%s\n", path, s ? s : "");
        free(s);
        return 0;
    }

    /* gemm: move the stored set aside while searching; put it back on failure */
    snprintf(g_path, sizeof g_path, "%s", path);
    snprintf(g_prev_path, sizeof g_prev_path, "%s.previous", path);
    if (have_prev == LEVI_OK) {
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        if (rename(g_path, g_prev_path) != 0)
            return cli_fail(levi_error(LEVI_ERR_IO, "cannot move '%s' aside while tuning", path));
        g_moved = 1;
    }
    levi_ctx *ctx;
    st = levi_ctx_create(&ctx, &dev);
    if (st != LEVI_OK) {
        restore_previous();
        return cli_fail(st);
    }
    printf("tuning GEMM on %s (driver %s) for up to %.0f s\n", dev.name, dev.driver_version, budget);
    /* the search times CLBlast, whichever path the device's GEMMs take */
    if (levi_gemm_get_path(ctx) != LEVI_GEMM_CLBLAST)
        printf("(GEMMs on this device run through %s; the tuned CLBlast set applies with LEVI_GEMM=clblast)\n",
               levi_gemm_path_name(levi_gemm_get_path(ctx)));
    levi_gemm_set_path(ctx, LEVI_GEMM_CLBLAST);
    fflush(stdout);
    levi_tuning best;
    tune_report rep;
    st = bench_tune_gemm(ctx, budget, &best, &rep);
    if (st == LEVI_OK && have_prev == LEVI_OK && prev.gflops_tuned > rep.tuned * 1.05) {
        printf("the previous set scored %.2f GFLOP/s against %.2f now: keeping it\n", prev.gflops_tuned, rep.tuned);
        best = prev;
    }
    if (st == LEVI_OK) st = levi_tuning_save(&dev, &best);
    if (st == LEVI_OK && g_moved) unlink(g_prev_path), g_moved = 0;
    restore_previous();
    levi_ctx_destroy(ctx);
    if (st != LEVI_OK) return cli_fail(st);
    printf("%d candidates in %.0f s (%d valid, %d rejected)\n", rep.tried, rep.seconds, rep.valid, rep.rejected);
    printf("GEMM geometric mean over the bench shapes: %.2f GFLOP/s with CLBlast's defaults, %.2f tuned (%.2fx)\n",
           rep.defaults, rep.tuned, rep.tuned / rep.defaults);
    printf("stored in %s\n", path);
    return 0;
}
