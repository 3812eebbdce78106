/* Device selection: pure logic over a device list, so tests can feed it
 * fabricated lists. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "levi/runtime.h"

static int contains_ci(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    if (n == 0) return 0;
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0) return 1;
    return 0;
}

static int parse_uint(const char *s, const char *end, int *out) {
    if (s == end) return 0;
    long v = 0;
    for (const char *p = s; p < end; p++) {
        if (!isdigit((unsigned char)*p)) return 0;
        v = v * 10 + (*p - '0');
        if (v > 1000000) return 0;
    }
    *out = (int)v;
    return 1;
}

static void say(char *why, size_t len, const char *fmt, const char *arg) {
    if (why && len) snprintf(why, len, fmt, arg);
}

levi_status levi_device_select(const levi_device_info *devices, int n, const char *sel, int *index,
                               char *why, size_t why_len) {
    if (n <= 0) return levi_error(LEVI_ERR_NO_PLATFORM, "no OpenCL device to select from");
    if (!sel || !*sel) {
        *index = levi_device_default(devices, n);
        say(why, why_len, "%s", (devices[*index].type & CL_DEVICE_TYPE_GPU) ? "default: first GPU"
                                                                            : "default: no GPU, first device");
        return LEVI_OK;
    }
    const char *end = sel + strlen(sel);
    const char *colon = strchr(sel, ':');
    int a, b;
    if (!colon && parse_uint(sel, end, &a)) {
        if (a >= n)
            return levi_error(LEVI_ERR_NO_MATCH, "device index %d is out of range (0..%d)", a, n - 1);
        *index = a;
        say(why, why_len, "selected by index %s", sel);
        return LEVI_OK;
    }
    if (colon && parse_uint(sel, colon, &a) && parse_uint(colon + 1, end, &b)) {
        for (int i = 0; i < n; i++)
            if (devices[i].platform_index == a && devices[i].device_index == b) {
                *index = i;
                say(why, why_len, "selected by platform:device %s", sel);
                return LEVI_OK;
            }
        return levi_error(LEVI_ERR_NO_MATCH, "no device %d:%d (platform:device)", a, b);
    }
    cl_device_type want = 0;
    if (!strcasecmp(sel, "cpu")) want = CL_DEVICE_TYPE_CPU;
    else if (!strcasecmp(sel, "gpu")) want = CL_DEVICE_TYPE_GPU;
    else if (!strcasecmp(sel, "accelerator")) want = CL_DEVICE_TYPE_ACCELERATOR;
    if (want) {
        for (int i = 0; i < n; i++)
            if (devices[i].type & want) {
                *index = i;
                say(why, why_len, "first device of type %s", sel);
                return LEVI_OK;
            }
        return levi_error(LEVI_ERR_NO_MATCH, "no device of type '%s'", sel);
    }
    int found = -1, count = 0;
    for (int i = 0; i < n; i++) {
        const levi_device_info *d = &devices[i];
        if (contains_ci(d->name, sel) || contains_ci(d->vendor, sel) || contains_ci(d->platform_name, sel) ||
            contains_ci(d->platform_vendor, sel)) {
            if (found < 0) found = i;
            count++;
        }
    }
    if (count == 0)
        return levi_error(LEVI_ERR_NO_MATCH, "no device matches '%s' (by index, P:D, type or name)", sel);
    if (count > 1)
        return levi_error(LEVI_ERR_AMBIGUOUS, "'%s' matches %d devices; use an index or P:D", sel, count);
    *index = found;
    say(why, why_len, "name matches '%s'", sel);
    return LEVI_OK;
}
