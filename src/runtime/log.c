/* Leveled logging to stderr; the level is read from LEVI_LOG once. */
#include "levi/log.h"
#include "levi/runtime.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

static levi_log_level g_level = LEVI_LOG_INFO;
static char g_tag[40]; /* "rank 1" on MPI ranks other than 0 (levi_log_set_tag) */

void levi_log_init(void) {
    const char *s = getenv("LEVI_LOG");
    if (!s || !*s) return;
    if (!strcasecmp(s, "error")) g_level = LEVI_LOG_ERROR;
    else if (!strcasecmp(s, "warn") || !strcasecmp(s, "warning")) g_level = LEVI_LOG_WARN;
    else if (!strcasecmp(s, "info")) g_level = LEVI_LOG_INFO;
    else if (!strcasecmp(s, "debug")) g_level = LEVI_LOG_DEBUG;
    else fprintf(stderr, "levi: warning: LEVI_LOG=%s is not one of error|warn|info|debug; using info\n", s);
}

void levi_log_set_level(levi_log_level level) { g_level = level; }
levi_log_level levi_log_get_level(void) { return g_level; }

void levi_log_set_tag(const char *tag) { snprintf(g_tag, sizeof g_tag, "%s", tag ? tag : ""); }

void levi_log(levi_log_level level, const char *fmt, ...) {
    if (level > g_level) return;
    static const char *const prefix[] = {"error: ", "warning: ", "", "debug: "};
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "levi: %s%s%s", g_tag, g_tag[0] ? ": " : "", prefix[level]);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

double levi_now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}
