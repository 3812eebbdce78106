/* levi-cl: global options, `--device list`, and dispatch to one command. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: levi-cl --device list [--json]\n"
            "       levi-cl [--device SEL] COMMAND [OPTIONS]\n"
            "       levi-cl COMMAND --help\n"
            "\n"
            "SEL: N (index from the list) | P:D (platform:device) | cpu | gpu | accelerator |\n"
            "     case-insensitive substring of device, vendor or platform name.\n"
            "     Also read from LEVI_DEVICE; default: first GPU, else first device.\n"
            "\n"
            "commands:\n");
    for (const cli_command *c = k_commands; c->name; c++) fprintf(f, "  %-9s %s\n", c->name, c->summary);
    fprintf(f,
            "\n"
            "environment: LEVI_DEVICE, LEVI_LOG=error|warn|info|debug, LEVI_CACHE_DIR (or 'off'),\n"
            "             LEVI_CL_DIR (read kernels from this folder instead of the built-in copies)\n");
}

static int device_list(int json) {
    levi_device_list list;
    levi_status st = levi_device_list_query(&list);
    if (st != LEVI_OK) return cli_fail(st);
    int *tuned = calloc((size_t)list.count, sizeof *tuned);
    for (int i = 0; tuned && i < list.count; i++) tuned[i] = cli_device_tuned(&list.devices[i]);
    if (json) {
        char *s = levi_device_list_json(&list, tuned);
        if (!s) {
            free(tuned);
            levi_device_list_free(&list);
            return cli_fail(levi_error(LEVI_ERR_HOST_MEMORY, "out of memory writing JSON"));
        }
        puts(s);
        free(s);
    } else {
        for (int i = 0; i < list.count; i++) {
            levi_device_print(stdout, &list.devices[i], i == list.default_index);
            if (tuned) printf("    GEMM tuned       %s\n", tuned[i] ? "yes" : "no (levi-cl tune gemm)");
        }
    }
    free(tuned);
    levi_device_list_free(&list);
    return 0;
}

/* Whatever a command printed must have reached stdout: a full disk, a
 * closed pipe or /dev/full turns success into exit status 1. */
static int finish_stdout(int rc) {
    errno = 0;
    int bad = fflush(stdout) != 0;
    int e = errno;
    bad |= ferror(stdout) != 0;
    if (fclose(stdout) != 0 && !bad) bad = 1, e = errno;
    if (!bad) return rc;
    fprintf(stderr, "levi-cl: error: writing to standard output failed: %s\n",
            e ? strerror(e) : "an earlier write failed");
    return rc ? rc : 1;
}

static int run(int argc, char **argv);

int main(int argc, char **argv) { return finish_stdout(run(argc, argv)); }

static int run(int argc, char **argv) {
    levi_log_init();
    cli_env env = {0};
    /* Pull --device SEL / --device=SEL out of the line, wherever it stands. */
    int n = 1;
    int json = 0, list = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--device") || !strncmp(a, "--device=", 9)) {
            const char *v = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v || !*v) {
                fprintf(stderr, "levi-cl: --device needs a value (an index, P:D, cpu, gpu, a name, or 'list')\n");
                return 2;
            }
            if (!strcmp(v, "list")) list = 1;
            else env.device = v;
            continue;
        }
        argv[n++] = argv[i];
    }
    argc = n;
    argv[argc] = NULL;
    if (list) {
        for (int i = 1; i < argc; i++) {
            if (!strcmp(argv[i], "--json")) json = 1;
            else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
                printf("usage: levi-cl --device list [--json]\n\nList every OpenCL platform and device with a "
                       "stable index; --json prints a JSON array and nothing else.\n");
                return 0;
            } else {
                fprintf(stderr, "levi-cl --device list: unexpected argument '%s'\n", argv[i]);
                return 2;
            }
        }
        return device_list(json);
    }
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("levi-cl %s\n", LEVI_VERSION);
        return 0;
    }
    for (const cli_command *c = k_commands; c->name; c++)
        if (!strcmp(c->name, argv[1])) return c->fn(argc - 1, argv + 1, &env);
    fprintf(stderr, "levi-cl: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
