/* Work counters of a ctx and, when its queue profiles, the device time of
 * every kernel by name (LEVI_PROFILE=1, levi-cl bench train --profile).
 *
 * Device times come from OpenCL profiling events: an event callback adds
 * END - START of the completed command to its name's entry (callbacks run on
 * a runtime thread, hence the mutex), then releases the event. Nothing here
 * waits on the queue. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime_internal.h"

#define PROF_MAX_NAMES 256

typedef struct prof_entry {
    char name[64];
    unsigned long long count;
    double device_s;
} prof_entry;

struct levi_profile {
    pthread_mutex_t lock;
    prof_entry entries[PROF_MAX_NAMES];
    int n;
    long pending; /* callbacks registered and not yet run */
};

typedef struct prof_ticket {
    struct levi_profile *p;
    struct levi_busy *busy;
    int entry;
} prof_ticket;

void levi_counters_get(const levi_ctx *ctx, levi_counters *out) { *out = ctx->counters; }

void levi_counters_diff(const levi_counters *a, const levi_counters *b, levi_counters *out) {
    out->launches = b->launches - a->launches;
    out->gemm_calls = b->gemm_calls - a->gemm_calls;
    out->blocking_syncs = b->blocking_syncs - a->blocking_syncs;
    out->backpressure_waits = b->backpressure_waits - a->backpressure_waits;
    out->h2d_bytes = b->h2d_bytes - a->h2d_bytes;
    out->d2h_bytes = b->d2h_bytes - a->d2h_bytes;
}

void levi_counters_reset(levi_ctx *ctx) {
    memset(&ctx->counters, 0, sizeof ctx->counters);
    levi_profile_reset_times(ctx);
}

void levi_profile_reset_times(levi_ctx *ctx) {
    if (ctx->prof) {
        pthread_mutex_lock(&ctx->prof->lock);
        for (int i = 0; i < ctx->prof->n; i++) ctx->prof->entries[i].count = 0, ctx->prof->entries[i].device_s = 0;
        pthread_mutex_unlock(&ctx->prof->lock);
    }
}

void levi_count_gemm(levi_ctx *ctx) { ctx->counters.gemm_calls++; }
void levi_count_sync(levi_ctx *ctx) { ctx->counters.blocking_syncs++; }
void levi_count_h2d(levi_ctx *ctx, size_t bytes) { ctx->counters.h2d_bytes += bytes; }
void levi_count_d2h(levi_ctx *ctx, size_t bytes) { ctx->counters.d2h_bytes += bytes; }

int levi_event_done(cl_event ev) {
    if (!ev) return 1;
    cl_int s = CL_QUEUED;
    cl_int rc = clGetEventInfo(ev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof s, &s, NULL);
    if (rc != CL_SUCCESS) return rc < 0 ? rc : -1;
    if (s < 0) return s; /* the command failed */
    return s == CL_COMPLETE;
}

static levi_status wait_events(levi_ctx *ctx, cl_uint n, const cl_event *events, unsigned long long *counter) {
    cl_event list[64];
    cl_uint k = 0;
    for (cl_uint i = 0; i < n; i++) {
        int d = levi_event_done(events[i]);
        if (d < 0) return levi_error(d, "a command on '%s' failed: %s", ctx->info.name, levi_status_name(d));
        if (!d) {
            if (k == 64) {
                (*counter)++;
                LEVI_CL_CHECK(clWaitForEvents(k, list));
                k = 0;
            }
            list[k++] = events[i];
        }
    }
    if (!k) return LEVI_OK;
    (*counter)++;
    LEVI_CL_CHECK(clWaitForEvents(k, list));
    return LEVI_OK;
}

levi_status levi_event_wait(levi_ctx *ctx, cl_uint n, const cl_event *events) {
    return wait_events(ctx, n, events, &ctx->counters.blocking_syncs);
}

levi_status levi_event_wait_backpressure(levi_ctx *ctx, cl_uint n, const cl_event *events) {
    return wait_events(ctx, n, events, &ctx->counters.backpressure_waits);
}

void levi_event_release(cl_event *ev) {
    if (ev && *ev) {
        clReleaseEvent(*ev);
        *ev = NULL;
    }
}

static int entry_for(struct levi_profile *p, const char *name) {
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->entries[i].name, name)) return i;
    if (p->n == PROF_MAX_NAMES) return PROF_MAX_NAMES - 1; /* the last entry collects the rest */
    snprintf(p->entries[p->n].name, sizeof p->entries[0].name, "%s", p->n == PROF_MAX_NAMES - 1 ? "(other)" : name);
    return p->n++;
}

static void CL_CALLBACK on_complete(cl_event ev, cl_int status, void *user) {
    prof_ticket *t = user;
    cl_ulong a = 0, b = 0;
    int ok = status == CL_COMPLETE &&
             clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_START, sizeof a, &a, NULL) == CL_SUCCESS &&
             clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, sizeof b, &b, NULL) == CL_SUCCESS && b >= a;
    pthread_mutex_lock(&t->p->lock);
    if (ok) {
        t->p->entries[t->entry].count++;
        t->p->entries[t->entry].device_s += (double)(b - a) * 1e-9;
    }
    t->p->pending--;
    pthread_mutex_unlock(&t->p->lock);
    if (ok) runtime_busy_add(t->busy, a, b);
    clReleaseEvent(ev);
    free(t);
}

cl_event *levi_profile_event(levi_ctx *ctx, cl_event *slot) {
    if (slot) *slot = NULL;
    return ctx->profiling ? slot : NULL;
}

void levi_profile_track(levi_ctx *ctx, const char *name, cl_event *slot) {
    if (!slot || !*slot) return;
    cl_event ev = *slot;
    *slot = NULL;
    struct levi_profile *p = ctx->prof;
    prof_ticket *t = p ? malloc(sizeof *t) : NULL;
    if (!t) {
        clReleaseEvent(ev);
        return;
    }
    t->p = p;
    t->busy = ctx->busy;
    pthread_mutex_lock(&p->lock);
    t->entry = entry_for(p, name);
    p->pending++;
    pthread_mutex_unlock(&p->lock);
    if (clSetEventCallback(ev, CL_COMPLETE, on_complete, t) != CL_SUCCESS) {
        pthread_mutex_lock(&p->lock);
        p->pending--;
        pthread_mutex_unlock(&p->lock);
        free(t);
        clReleaseEvent(ev);
    }
}

levi_status levi_ctx_set_profiling(levi_ctx *ctx, int on) {
    on = on ? 1 : 0;
    if (ctx->profiling == on) return LEVI_OK;
    if (on && !ctx->prof) {
        ctx->prof = calloc(1, sizeof *ctx->prof);
        if (!ctx->prof) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory for the profile");
        pthread_mutex_init(&ctx->prof->lock, NULL);
    }
    if (on && !ctx->busy && !(ctx->busy = runtime_busy_create()))
        return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory for the profile");
    cl_int rc;
    cl_command_queue q =
        clCreateCommandQueue(ctx->context, ctx->info.device, on ? CL_QUEUE_PROFILING_ENABLE : 0, &rc);
    if (rc != CL_SUCCESS)
        return levi_error(rc, "cannot create a %scommand queue on '%s': %s", on ? "profiling " : "", ctx->info.name,
                          levi_status_name(rc));
    if (ctx->queue) {
        clFinish(ctx->queue);
        clReleaseCommandQueue(ctx->queue);
    }
    ctx->queue = q;
    ctx->profiling = on;
    return LEVI_OK;
}

/* Callbacks of commands that completed may still be on their way: wait for
 * them (up to about a second). */
static void wait_callbacks(struct levi_profile *p) {
    for (int tries = 0; tries < 1000; tries++) {
        pthread_mutex_lock(&p->lock);
        long pending = p->pending;
        pthread_mutex_unlock(&p->lock);
        if (pending <= 0) break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

static int by_time(const void *a, const void *b) {
    double x = ((const levi_kernel_time *)a)->device_s, y = ((const levi_kernel_time *)b)->device_s;
    return x < y ? 1 : x > y ? -1 : 0;
}

int levi_profile_top(levi_ctx *ctx, levi_kernel_time *out, int n) {
    struct levi_profile *p = ctx->prof;
    if (!p || n <= 0) return 0;
    wait_callbacks(p);
    pthread_mutex_lock(&p->lock);
    levi_kernel_time all[PROF_MAX_NAMES];
    int m = 0;
    for (int i = 0; i < p->n; i++) {
        if (!p->entries[i].count) continue;
        memcpy(all[m].name, p->entries[i].name, sizeof all[m].name);
        all[m].count = p->entries[i].count;
        all[m].device_s = p->entries[i].device_s;
        m++;
    }
    pthread_mutex_unlock(&p->lock);
    qsort(all, (size_t)m, sizeof all[0], by_time);
    if (m > n) m = n;
    memcpy(out, all, (size_t)m * sizeof *out);
    return m;
}

void levi_profile_print(levi_ctx *ctx, FILE *f, const char *title, const levi_counters *c, double per,
                        const char *unit) {
    if (!(per > 0)) per = 1;
    fprintf(f, "profile: %s on '%s'%s%s:\n", title, ctx->info.name, unit ? ", per " : "", unit ? unit : "");
    fprintf(f,
            "  launches %.1f, GEMM calls %.1f, blocking syncs %.2f, backpressure waits %.2f, h2d %.0f bytes, d2h %.0f "
            "bytes\n",
            (double)c->launches / per, (double)c->gemm_calls / per, (double)c->blocking_syncs / per,
            (double)c->backpressure_waits / per, (double)c->h2d_bytes / per, (double)c->d2h_bytes / per);
    levi_kernel_time top[10];
    int n = levi_profile_top(ctx, top, 10);
    for (int i = 0; i < n; i++)
        fprintf(f, "  %2d. %-40s %10.1f us (%.1f launches)\n", i + 1, top[i].name, top[i].device_s / per * 1e6,
                (double)top[i].count / per);
    if (!ctx->profiling && !n) fprintf(f, "  (device times: run with LEVI_PROFILE=1 or --profile)\n");
}

void runtime_profile_free(levi_ctx *ctx) {
    struct levi_profile *p = ctx->prof;
    if (!p) return;
    wait_callbacks(p);
    pthread_mutex_destroy(&p->lock);
    free(p);
    ctx->prof = NULL;
    runtime_busy_free(ctx->busy);
    ctx->busy = NULL;
}
