#include "clitest.h"

#include <check.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

int test_run_cmd(cli_command_fn fn, const char *out_path, ...) {
    static const cli_env env = {NULL};
    char *argv[64];
    int argc = 0;
    va_list ap;
    va_start(ap, out_path);
    const char *a;
    while ((a = va_arg(ap, const char *)) && argc < 63) argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    int saved = -1;
    fflush(stdout);
    if (out_path) {
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ck_assert_int_ge(fd, 0);
        saved = dup(1);
        dup2(fd, 1);
        close(fd);
    }
    int rc = fn(argc, argv, &env);
    fflush(stdout);
    if (out_path) {
        dup2(saved, 1);
        close(saved);
    }
    return rc;
}
