/* When each device was busy (LEVI_PROFILE=1): the START..END intervals of
 * every profiled command of a ctx, merged into a sorted list of disjoint
 * intervals, so that two contexts — the backbone and the head stage — can
 * show how long both computed at the same time. Device clocks are mapped to
 * the host's monotonic clock by one marker per ctx (an error of
 * microseconds, well below a step's time). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime_internal.h"

#define BUSY_MAX ((size_t)1 << 20) /* intervals kept; beyond, the last one grows */

struct levi_busy {
    pthread_mutex_t lock;
    unsigned long long *iv; /* start, end pairs (device ns), sorted and disjoint */
    size_t n, cap;
};

struct levi_busy *runtime_busy_create(void) {
    struct levi_busy *b = calloc(1, sizeof *b);
    if (b) pthread_mutex_init(&b->lock, NULL);
    return b;
}

void runtime_busy_free(struct levi_busy *b) {
    if (!b) return;
    pthread_mutex_destroy(&b->lock);
    free(b->iv);
    free(b);
}

static int room_for_one(struct levi_busy *b) {
    if (b->n < b->cap) return 1;
    if (b->n >= BUSY_MAX) return 0;
    size_t cap = b->cap ? 2 * b->cap : 1024;
    unsigned long long *iv = realloc(b->iv, cap * 2 * sizeof *iv);
    if (!iv) return 0;
    b->iv = iv;
    b->cap = cap;
    return 1;
}

void runtime_busy_add(struct levi_busy *b, unsigned long long start, unsigned long long end) {
    if (!b || end < start) return;
    pthread_mutex_lock(&b->lock);
    /* Commands complete in order on an in-order queue: the new interval
     * almost always lands at the end, so search from there. */
    size_t i = b->n;
    while (i > 0 && b->iv[2 * (i - 1)] > start) i--;
    if (i > 0 && b->iv[2 * (i - 1) + 1] >= start) { /* overlaps interval i-1: grow it */
        i--;
        if (end > b->iv[2 * i + 1]) b->iv[2 * i + 1] = end;
    } else if (room_for_one(b)) {
        memmove(b->iv + 2 * (i + 1), b->iv + 2 * i, (b->n - i) * 2 * sizeof *b->iv);
        b->iv[2 * i] = start;
        b->iv[2 * i + 1] = end;
        b->n++;
    } else if (b->n > 0) { /* no room: the last interval absorbs it */
        i = b->n - 1;
        if (end > b->iv[2 * i + 1]) b->iv[2 * i + 1] = end;
    } else {
        pthread_mutex_unlock(&b->lock);
        return;
    }
    /* swallow the intervals that the grown one now reaches */
    size_t j = i + 1;
    while (j < b->n && b->iv[2 * j] <= b->iv[2 * i + 1]) {
        if (b->iv[2 * j + 1] > b->iv[2 * i + 1]) b->iv[2 * i + 1] = b->iv[2 * j + 1];
        j++;
    }
    if (j > i + 1) {
        memmove(b->iv + 2 * (i + 1), b->iv + 2 * j, (b->n - j) * 2 * sizeof *b->iv);
        b->n -= j - i - 1;
    }
    pthread_mutex_unlock(&b->lock);
}

static long long host_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Host clock minus device clock, in ns: a marker's END read right after it
 * completed. */
static levi_status clock_offset(levi_ctx *ctx, long long *out) {
    cl_event ev = NULL;
    LEVI_CL_CHECK(clEnqueueMarkerWithWaitList(ctx->queue, 0, NULL, &ev));
    cl_int rc = clWaitForEvents(1, &ev);
    long long host = host_ns();
    cl_ulong end = 0;
    if (rc == CL_SUCCESS) rc = clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, sizeof end, &end, NULL);
    clReleaseEvent(ev);
    if (rc != CL_SUCCESS)
        return levi_error(rc, "the device clock of '%s' cannot be read: %s", ctx->info.name, levi_status_name(rc));
    *out = host - (long long)end;
    return LEVI_OK;
}

/* A copy of the intervals shifted to the host clock. */
static levi_status snapshot(levi_ctx *ctx, long long *iv, size_t *n) {
    long long off = 0;
    LEVI_TRY(clock_offset(ctx, &off));
    struct levi_busy *b = ctx->busy;
    pthread_mutex_lock(&b->lock);
    for (size_t i = 0; i < 2 * b->n && i < 2 * *n; i++) iv[i] = (long long)b->iv[i] + off;
    *n = b->n < *n ? b->n : *n;
    pthread_mutex_unlock(&b->lock);
    return LEVI_OK;
}

static double total(const long long *iv, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)(iv[2 * i + 1] - iv[2 * i]);
    return s * 1e-9;
}

levi_status levi_profile_overlap(levi_ctx *a, levi_ctx *b, levi_overlap *out) {
    memset(out, 0, sizeof *out);
    if (!a->profiling || !b->profiling || !a->busy || !b->busy)
        return levi_error(LEVI_ERR_INVALID_ARG, "busy times need profiling on both contexts (LEVI_PROFILE=1)");
    LEVI_TRY(levi_finish(a));
    LEVI_TRY(levi_finish(b));
    levi_kernel_time top[1]; /* waits for the callbacks of completed commands */
    levi_profile_top(a, top, 1);
    levi_profile_top(b, top, 1);
    size_t na = BUSY_MAX, nb = BUSY_MAX;
    pthread_mutex_lock(&a->busy->lock);
    na = a->busy->n;
    pthread_mutex_unlock(&a->busy->lock);
    pthread_mutex_lock(&b->busy->lock);
    nb = b->busy->n;
    pthread_mutex_unlock(&b->busy->lock);
    long long *x = malloc((2 * na + 2 * nb + 2) * sizeof *x), *y = x ? x + 2 * na : NULL;
    if (!x) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    levi_status st = snapshot(a, x, &na);
    if (st == LEVI_OK && a == b) { /* one clock reading: the same intervals */
        nb = na;
        memcpy(y, x, 2 * na * sizeof *x);
    } else if (st == LEVI_OK) {
        st = snapshot(b, y, &nb);
    }
    if (st == LEVI_OK) {
        out->busy_a = total(x, na);
        out->busy_b = total(y, nb);
        double both = 0;
        for (size_t i = 0, j = 0; i < na && j < nb;) {
            long long lo = x[2 * i] > y[2 * j] ? x[2 * i] : y[2 * j];
            long long hi = x[2 * i + 1] < y[2 * j + 1] ? x[2 * i + 1] : y[2 * j + 1];
            if (hi > lo) both += (double)(hi - lo);
            if (x[2 * i + 1] < y[2 * j + 1]) i++;
            else j++;
        }
        out->both = both * 1e-9;
        long long first = 0, last = 0;
        int any = 0;
        if (na) first = x[0], last = x[2 * na - 1], any = 1;
        if (nb) {
            if (!any || y[0] < first) first = y[0];
            if (!any || y[2 * nb - 1] > last) last = y[2 * nb - 1];
        }
        out->span = (double)(last - first) * 1e-9;
    }
    free(x);
    return st;
}

void levi_profile_print_overlap(FILE *f, levi_ctx *a, const char *a_name, levi_ctx *b, const char *b_name) {
    levi_overlap o;
    if (levi_profile_overlap(a, b, &o) != LEVI_OK) {
        fprintf(f, "profile: stage overlap unavailable: %s\n", levi_last_error());
        return;
    }
    double shorter = o.busy_a < o.busy_b ? o.busy_a : o.busy_b;
    fprintf(f,
            "profile: stages at once: %s on '%s' busy %.3f s, %s on '%s' busy %.3f s, both busy %.3f s "
            "(%.0f%% of the shorter) within %.3f s of wall clock\n",
            a_name, a->info.name, o.busy_a, b_name, b->info.name, o.busy_b, o.both,
            shorter > 0 ? 100.0 * o.both / shorter : 0.0, o.span);
}
