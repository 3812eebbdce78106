/* Shared helpers of the levi-cl commands. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "levi/tuning.h"

int cli_fail(levi_status st) {
    const char *msg = levi_last_error();
    fprintf(stderr, "levi-cl: error: %s\n", msg && *msg ? msg : levi_status_name(st));
    return (st == LEVI_ERR_INVALID_ARG || st == LEVI_ERR_NO_MATCH || st == LEVI_ERR_AMBIGUOUS) ? 2 : 1;
}

levi_status cli_open(const cli_env *env, levi_ctx **ctx) { return levi_ctx_open(ctx, env->device); }

int cli_wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return 1;
    return 0;
}

levi_status cli_parse_int(const char *opt, const char *val, long min, long max, long *out) {
    if (!val) return levi_error(LEVI_ERR_INVALID_ARG, "%s needs a value", opt);
    char *end;
    errno = 0;
    long v = strtol(val, &end, 10);
    if (errno || end == val || *end || v < min || v > max)
        return levi_error(LEVI_ERR_INVALID_ARG, "%s: '%s' is not a whole number in %ld..%ld", opt, val, min, max);
    *out = v;
    return LEVI_OK;
}

levi_status cli_parse_float(const char *opt, const char *val, double min, double max, double *out) {
    if (!val) return levi_error(LEVI_ERR_INVALID_ARG, "%s needs a value", opt);
    char *end;
    errno = 0;
    double v = strtod(val, &end);
    if (errno || end == val || *end || !isfinite(v) || v < min || v > max)
        return levi_error(LEVI_ERR_INVALID_ARG, "%s: '%s' is not a number in %g..%g", opt, val, min, max);
    *out = v;
    return LEVI_OK;
}

/* A readable, valid tuning file exists for this device and driver. */
int cli_device_tuned(const levi_device_info *d) { return levi_tuning_exists(d); }
