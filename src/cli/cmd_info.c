/* levi-cl info: the selected device in full, plus a self-check. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static const char *k_usage =
    "usage: levi-cl [--device SEL] info\n"
    "\n"
    "Print the selected OpenCL device in full and run a self-check: one kernel\n"
    "from cl/ and one SGEMM (CLBlast or OpenBLAS: levi/gemm.h), each compared with a host result.\n"
    "Exit status 0 when the self-check passes, 1 when it fails.\n";

int cmd_info(int argc, char **argv, const cli_env *env) {
    if (cli_wants_help(argc, argv)) {
        fputs(k_usage, stdout);
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "levi-cl info: unexpected argument '%s'\n%s", argv[1], k_usage);
        return 2;
    }
    levi_ctx *ctx;
    levi_status st = cli_open(env, &ctx);
    if (st != LEVI_OK) return cli_fail(st);
    levi_device_print(stdout, &ctx->info, 0);
    printf("    build options    %s\n", ctx->build_options);
    printf("    program cache    %s\n", ctx->cache_dir[0] ? ctx->cache_dir : "off");
    printf("self-check:\n");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    st = levi_self_check(ctx, stdout);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("self-check %s in %.0f ms (programs compiled: %d, loaded from cache: %d)\n",
           st == LEVI_OK ? "passed" : "FAILED", ms, ctx->programs_compiled, ctx->programs_from_cache);
    int rc = st == LEVI_OK ? 0 : cli_fail(st);
    levi_ctx_destroy(ctx);
    return rc;
}
