/* bench startup: cold and warm time from process start to the first kernel
 * and to the first GEMM, measured on child processes of /proc/self/exe.
 *
 * Cold: an empty LEVI_CACHE_DIR and POCL_KERNEL_CACHE=0 (PoCL keeps its own
 * kernel cache under ~/.cache/pocl). Warm: the same cache folder again, now
 * filled, with the driver's cache on. CLBlast 1.5.3 has no disk cache, so
 * the first GEMM of every process compiles its kernels. */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

extern char **environ;

/* The child: open the device, run one kernel, then one GEMM; print the
 * CLOCK_MONOTONIC times (system-wide, so the parent can subtract). */
int bench_startup_child(const cli_env *env) {
    levi_ctx *ctx;
    levi_status st = cli_open(env, &ctx);
    if (st != LEVI_OK) return cli_fail(st);
    levi_tensor a, b, c;
    st = levi_tensor_alloc1(&a, ctx, 64 * 64);
    if (st == LEVI_OK) st = levi_tensor_alloc1(&b, ctx, 64 * 64);
    if (st == LEVI_OK) st = levi_tensor_alloc1(&c, ctx, 64 * 64);
    if (st == LEVI_OK) st = levi_scale_forward(ctx, &b, &a, 2.0f, 64 * 64);
    if (st == LEVI_OK) st = levi_finish(ctx);
    double t_kernel = levi_now_s();
    if (st == LEVI_OK) st = levi_gemm(ctx, 0, 0, 64, 64, 64, 1.0f, &a, &b, 0.0f, &c);
    if (st == LEVI_OK) st = levi_finish(ctx);
    double t_gemm = levi_now_s();
    int rc = st == LEVI_OK ? 0 : cli_fail(st);
    if (rc == 0) printf("startup %.6f %.6f %d %d\n", t_kernel, t_gemm, ctx->programs_compiled, ctx->programs_from_cache);
    levi_ctx_destroy(ctx);
    return rc;
}

/* Run one child with extra environment entries; times relative to spawn. */
static levi_status run_child(const cli_env *env, const char *cache_dir, int cold, double *kernel_s, double *gemm_s) {
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return levi_error(LEVI_ERR_IO, "cannot read /proc/self/exe: %s", strerror(errno));
    exe[n] = '\0';
    char *argv[6];
    int k = 0;
    argv[k++] = exe;
    if (env->device) {
        argv[k++] = "--device";
        argv[k++] = (char *)env->device;
    }
    argv[k++] = "bench";
    argv[k++] = "startup-child";
    argv[k] = NULL;
    /* environment: ours, minus the cache variables, plus the chosen ones */
    size_t ne = 0;
    while (environ[ne]) ne++;
    char **envp = calloc(ne + 4, sizeof *envp);
    if (!envp) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    size_t m = 0;
    for (size_t i = 0; i < ne; i++)
        if (strncmp(environ[i], "LEVI_CACHE_DIR=", 15) && strncmp(environ[i], "POCL_KERNEL_CACHE=", 18) &&
            strncmp(environ[i], "LEVI_LOG=", 9))
            envp[m++] = environ[i];
    char cache_kv[1200];
    snprintf(cache_kv, sizeof cache_kv, "LEVI_CACHE_DIR=%s", cache_dir);
    envp[m++] = cache_kv;
    envp[m++] = "LEVI_LOG=error";
    if (cold) envp[m++] = "POCL_KERNEL_CACHE=0";
    int fds[2];
    if (pipe(fds) != 0) {
        free(envp);
        return levi_error(LEVI_ERR_IO, "pipe: %s", strerror(errno));
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    pid_t pid;
    double t0 = levi_now_s();
    int rc = posix_spawn(&pid, exe, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    free(envp);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return levi_error(LEVI_ERR_IO, "cannot start %s: %s", exe, strerror(rc));
    }
    char buf[256] = "";
    FILE *f = fdopen(fds[0], "r");
    double tk = 0, tg = 0;
    int got = 0;
    while (f && fgets(buf, sizeof buf, f))
        if (sscanf(buf, "startup %lf %lf", &tk, &tg) == 2) got = 1;
    if (f) fclose(f);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!got || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return levi_error(LEVI_ERR_CHECK_FAILED, "the startup child (%s bench startup-child) failed with status %d",
                          exe, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    *kernel_s = tk - t0;
    *gemm_s = tg - t0;
    return LEVI_OK;
}

static void add_row(cJSON *doc, const char *name, double *t, int n) {
    bench_row row;
    memset(&row, 0, sizeof row);
    /* sort the few samples */
    for (int i = 1; i < n; i++)
        for (int k = i; k > 0 && t[k] < t[k - 1]; k--) {
            double x = t[k];
            t[k] = t[k - 1];
            t[k - 1] = x;
        }
    row.group = "startup";
    snprintf(row.name, sizeof row.name, "%s", name);
    row.unit = "ms";
    row.higher_is_better = 0;
    row.st.samples = n;
    row.st.reps = 1;
    row.st.min_s = t[0];
    row.st.max_s = t[n - 1];
    row.st.median_s = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
    row.value = row.st.median_s * 1e3;
    row.best = row.st.min_s * 1e3;
    bench_doc_add(doc, &row);
    bench_print_row(&row, 0, 0);
}

levi_status bench_startup(const cli_env *env, cJSON *doc, double budget_s) {
    enum { MAXS = 5 };
    double ck[MAXS], cg[MAXS], wk[MAXS], wg[MAXS];
    int nc = 0, nw = 0;
    char tmpl[] = "/tmp/levi-bench-startup-XXXXXX";
    char *base = mkdtemp(tmpl);
    if (!base) return levi_error(LEVI_ERR_IO, "mkdtemp: %s", strerror(errno));
    bench_print_row(NULL, 0, 0);
    double start = levi_now_s();
    levi_status st = LEVI_OK;
    /* each cold run gets an empty folder; the warm runs reuse the first one */
    char first[1200] = "";
    while (st == LEVI_OK && nc < MAXS && (nc < 1 || levi_now_s() - start < budget_s / 2)) {
        char dir[1200];
        snprintf(dir, sizeof dir, "%s/cold%d", base, nc);
        if (!first[0]) snprintf(first, sizeof first, "%s", dir);
        st = run_child(env, dir, 1, &ck[nc], &cg[nc]);
        if (st == LEVI_OK) nc++;
    }
    while (st == LEVI_OK && nw < MAXS && (nw < 3 || levi_now_s() - start < budget_s)) {
        st = run_child(env, first, 0, &wk[nw], &wg[nw]);
        if (st == LEVI_OK) nw++;
    }
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    if (system(cmd) != 0) fprintf(stderr, "bench startup: could not remove %s\n", base);
    LEVI_TRY(st);
    add_row(doc, "cold start to first kernel", ck, nc);
    add_row(doc, "cold start to first GEMM", cg, nc);
    add_row(doc, "warm start to first kernel", wk, nw);
    add_row(doc, "warm start to first GEMM", wg, nw);
    return LEVI_OK;
}
