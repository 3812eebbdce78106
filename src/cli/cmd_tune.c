/* levi-cl tune: search CLBlast GEMM parameters for the selected device and
 * store the best set per device and driver (applied at every start-up). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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
    "         budget (default 120 s, counted from the start, compilation included:\n"
    "         when it ends, the best complete set measured so far is stored).\n"
    "         Every candidate is checked against a host\n"
    "         reference before it counts; invalid combinations are never tried.\n"
    "         The best set is stored in the cache folder for this device and driver\n"
    "         and applied automatically from then on (levi-cl --device list: tuned).\n"
    "         The stored set is replaced in one atomic rename at the end: a kill\n"
    "         leaves the previous set in place. One tune per device at a time.\n"
    "--reset  remove the stored set of the selected device (CLBlast defaults again)\n"
    "--show   print the stored set\n";

/* The stored set is never moved or touched while searching (the context is
 * created without it, so the search starts from CLBlast's own parameters);
 * the new set replaces it in one atomic rename at the end. A kill at any
 * point leaves the old set or the new one. */

typedef struct tune_run {
    tune_shared shared; /* its mutex also guards the fields below */
    pthread_cond_t wake;
    int finished, fired;
    levi_device_info dev;
    char path[1200];
    levi_tuning prev;
    int have_prev;
    double start, budget;
    levi_output_lock lock;
} tune_run;

/* Store `best` (unless the stored set scored clearly better) and report;
 * returns the exit status. */
static int finish(tune_run *r, levi_tuning best, const tune_report *rep, int cut) {
    if (r->have_prev && r->prev.gflops_tuned > rep->tuned * 1.05) {
        printf("the stored set scored %.2f GFLOP/s against %.2f now: keeping it\n", r->prev.gflops_tuned, rep->tuned);
    } else {
        levi_status st = levi_tuning_save(&r->dev, &best);
        if (st != LEVI_OK) return cli_fail(st);
    }
    printf("%d candidates in %.0f s (%d valid, %d rejected)%s\n", rep->tried, levi_now_s() - r->start, rep->valid,
           rep->rejected, cut ? "; the budget ended during the next one" : "");
    printf("GEMM geometric mean over the unbatched bench shapes: %.2f GFLOP/s with CLBlast's own kernels, %.2f tuned (%.2fx)\n",
           rep->defaults, rep->tuned, rep->tuned / rep->defaults);
    printf("stored in %s\n", r->path);
    return 0;
}

/* The budget is a promise: when it ends in the middle of a step (a CLBlast
 * compilation cannot be interrupted), store the best complete set measured
 * so far and end the process here. */
static void *watchdog(void *arg) {
    tune_run *r = arg;
    double end = r->start + r->budget;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double wait = end - levi_now_s();
    if (wait < 0) wait = 0;
    ts.tv_sec += (time_t)wait;
    ts.tv_nsec += (long)((wait - (double)(time_t)wait) * 1e9);
    if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&r->shared.mu);
    while (!r->finished && pthread_cond_timedwait(&r->wake, &r->shared.mu, &ts) == 0) {
    }
    if (r->finished) {
        pthread_mutex_unlock(&r->shared.mu);
        return NULL;
    }
    r->fired = 1; /* the mutex stays locked: the search thread stops at its next publish */
    int rc;
    if (r->shared.have) {
        fprintf(stderr, "tune: the budget of %.0f s is used up: storing the best set measured so far\n", r->budget);
        rc = finish(r, r->shared.best, &r->shared.rep, 1);
    } else {
        fprintf(stderr,
                "levi-cl: error: tune: the budget of %.0f s ended before CLBlast's own kernels were timed on both "
                "paths (each needs a program of its own: 10-60 s through PoCL, seconds on a GPU); nothing stored%s. "
                "Give a larger --budget.\n",
                r->budget, r->have_prev ? ", the stored set is unchanged" : "");
        rc = 1;
    }
    levi_output_lock_release(&r->lock);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "levi-cl: error: writing to standard output failed: %s\n", strerror(errno));
        if (!rc) rc = 1;
    }
    fflush(stderr);
    _exit(rc);
}

static int search(tune_run *r) {
    levi_ctx *ctx;
    levi_status st = levi_ctx_create_untuned(&ctx, &r->dev);
    if (st != LEVI_OK) return cli_fail(st);
    printf("tuning GEMM on %s (driver %s) for up to %.0f s\n", r->dev.name, r->dev.driver_version, r->budget);
    /* the search times CLBlast, whichever path the device's GEMMs take */
    if (levi_gemm_get_path(ctx) != LEVI_GEMM_CLBLAST)
        printf("(GEMMs on this device run through %s; the tuned CLBlast set applies with LEVI_GEMM=clblast)\n",
               levi_gemm_path_name(levi_gemm_get_path(ctx)));
    levi_gemm_set_path(ctx, LEVI_GEMM_CLBLAST);
    fflush(stdout);
    pthread_t th;
    if (pthread_create(&th, NULL, watchdog, r) != 0) {
        levi_ctx_destroy(ctx);
        return cli_fail(levi_error(LEVI_ERR_HOST_MEMORY, "tune: cannot start the budget watchdog"));
    }
    levi_tuning best;
    tune_report rep;
    st = bench_tune_gemm(ctx, r->start, r->budget, &r->shared, &best, &rep);
    pthread_mutex_lock(&r->shared.mu);
    if (r->fired) /* the watchdog is storing and ends the process */
        for (;;) pause();
    r->finished = 1;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->shared.mu);
    pthread_join(th, NULL);
    levi_ctx_destroy(ctx);
    if (st != LEVI_OK) return cli_fail(st);
    return finish(r, best, &rep, 0);
}

int cmd_tune(int argc, char **argv, const cli_env *env) {
    if (cli_wants_help(argc, argv)) {
        fputs(k_usage, stdout);
        return 0;
    }
    double start = levi_now_s();
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
    tune_run *r = calloc(1, sizeof *r);
    if (!r) {
        levi_device_list_free(&list);
        return cli_fail(levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory"));
    }
    r->dev = list.devices[index];
    levi_device_list_free(&list);
    r->start = start;
    r->budget = budget;
    r->lock.fd = -1;
    st = levi_tuning_path(&r->dev, r->path, sizeof r->path);
    int rc = 0;
    if (st == LEVI_OK && show) {
        levi_tuning t;
        st = levi_tuning_load(&r->dev, &t);
        char *s = st == LEVI_OK ? levi_tuning_to_json(&t, &r->dev) : NULL;
        if (st == LEVI_OK) printf("%s\n%s\n", r->path, s ? s : "");
        free(s);
    } else if (st == LEVI_OK) {
        /* one writer of the stored set; its folder must take a new file
         * before any work (a read-only cache fails here, not after the search) */
        char dir[1200];
        snprintf(dir, sizeof dir, "%s", r->path);
        *strrchr(dir, '/') = '\0';
        st = levi_mkdirs(dir);
        if (st == LEVI_OK) st = levi_output_lock_take(&r->lock, r->path);
        if (st == LEVI_OK) st = levi_output_check_file("the tuning file", r->path);
        if (st == LEVI_OK && reset) {
            int removed = 0;
            st = levi_tuning_reset(&r->dev, &removed);
            if (st == LEVI_OK)
                printf("%s: %s\n", r->dev.name, removed ? "tuned GEMM parameters removed" : "nothing was stored");
        } else if (st == LEVI_OK) {
            r->have_prev = levi_tuning_load(&r->dev, &r->prev) == LEVI_OK;
            levi_error_clear();
            pthread_mutex_init(&r->shared.mu, NULL);
            pthread_cond_init(&r->wake, NULL);
            rc = search(r);
            pthread_cond_destroy(&r->wake);
            pthread_mutex_destroy(&r->shared.mu);
        }
    }
    if (st != LEVI_OK) rc = cli_fail(st);
    levi_output_lock_release(&r->lock);
    free(r);
    return rc;
}
