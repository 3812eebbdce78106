/* Timing calibrated to a budget, result rows and the results document. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

levi_status bench_time_runs(const bench_timer *tm, levi_comm *comm, double budget_s, bench_stats *out) {
    memset(out, 0, sizeof *out);
    /* warm-up: compilation, allocation of CLBlast's temporaries, caches */
    LEVI_TRY(tm->run(tm->arg));
    LEVI_TRY(tm->finish(tm->arg));
    double t0 = levi_now_s();
    LEVI_TRY(tm->run(tm->arg));
    LEVI_TRY(tm->finish(tm->arg));
    double one = levi_now_s() - t0;
    if (one < 1e-7) one = 1e-7;
    int counts[2]; /* runs per sample, samples */
    counts[0] = (int)(2e-3 / one) + 1;
    if (counts[0] > 1000) counts[0] = 1000;
    counts[1] = (int)(budget_s / (one * counts[0]));
    counts[1] = counts[1] < 3 ? 3 : counts[1] > 200 ? 200 : counts[1];
    LEVI_TRY(levi_comm_bcast(comm, counts, sizeof counts, 0, "the benchmark's step count"));
    const int reps = counts[0], samples = counts[1];
    double *t = malloc(sizeof(double) * (size_t)samples);
    if (!t) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    for (int s = 0; s < samples; s++) {
        double a = levi_now_s();
        levi_status st = LEVI_OK;
        for (int r = 0; r < reps && st == LEVI_OK; r++) st = tm->run(tm->arg);
        if (st == LEVI_OK) st = tm->finish(tm->arg);
        if (st != LEVI_OK) {
            free(t);
            return st;
        }
        t[s] = (levi_now_s() - a) / reps;
    }
    qsort(t, (size_t)samples, sizeof *t, cmp_double);
    out->min_s = t[0];
    out->max_s = t[samples - 1];
    out->median_s = samples % 2 ? t[samples / 2] : 0.5 * (t[samples / 2 - 1] + t[samples / 2]);
    out->samples = samples;
    out->reps = reps;
    free(t);
    return LEVI_OK;
}

typedef struct ctx_run {
    levi_ctx *ctx;
    bench_fn fn;
    void *arg;
} ctx_run;

static levi_status ctx_run_one(void *p) {
    ctx_run *c = p;
    return c->fn(c->ctx, c->arg);
}
static levi_status ctx_finish(void *p) { return levi_finish(((ctx_run *)p)->ctx); }

levi_status bench_time(levi_ctx *ctx, bench_fn fn, void *arg, double budget_s, bench_stats *out) {
    ctx_run c = {ctx, fn, arg};
    const bench_timer tm = {ctx_run_one, ctx_finish, &c};
    return bench_time_runs(&tm, NULL, budget_s, out);
}

cJSON *bench_device_json(const levi_device_info *d) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "name", d->name);
    cJSON_AddStringToObject(o, "vendor", d->vendor);
    cJSON_AddStringToObject(o, "type", levi_device_type_name(d->type));
    cJSON_AddStringToObject(o, "driver", d->driver_version);
    cJSON_AddStringToObject(o, "opencl_version", d->device_version);
    cJSON_AddStringToObject(o, "opencl_c_version", d->opencl_c_version);
    cJSON_AddStringToObject(o, "platform", d->platform_name);
    cJSON_AddStringToObject(o, "platform_version", d->platform_version);
    cJSON_AddNumberToObject(o, "compute_units", d->compute_units);
    cJSON_AddNumberToObject(o, "max_clock_mhz", d->max_clock_mhz);
    cJSON_AddNumberToObject(o, "global_mem_bytes", (double)d->global_mem);
    return o;
}

cJSON *bench_doc_new(const levi_device_info *d, const char *tool) {
    cJSON *doc = cJSON_CreateObject();
    if (!doc) return NULL;
    cJSON_AddStringToObject(doc, "format", "levi-cl bench");
    cJSON_AddNumberToObject(doc, "version", 1);
    cJSON_AddStringToObject(doc, "tool", tool);
    cJSON_AddStringToObject(doc, "levi_version", LEVI_VERSION);
    if (d) cJSON_AddItemToObject(doc, "device", bench_device_json(d));
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON_AddStringToObject(doc, "date", date);
    cJSON_AddItemToObject(doc, "results", cJSON_CreateArray());
    return doc;
}

void bench_doc_add(cJSON *doc, const bench_row *row) {
    cJSON *r = cJSON_CreateObject();
    if (!r) return;
    cJSON_AddStringToObject(r, "group", row->group);
    cJSON_AddStringToObject(r, "name", row->name);
    cJSON_AddStringToObject(r, "unit", row->unit);
    cJSON_AddBoolToObject(r, "higher_is_better", row->higher_is_better);
    cJSON_AddNumberToObject(r, "value", row->value);
    cJSON_AddNumberToObject(r, "best", row->best);
    cJSON_AddNumberToObject(r, "median_s", row->st.median_s);
    cJSON_AddNumberToObject(r, "min_s", row->st.min_s);
    cJSON_AddNumberToObject(r, "max_s", row->st.max_s);
    cJSON_AddNumberToObject(r, "samples", row->st.samples);
    cJSON_AddNumberToObject(r, "reps", row->st.reps);
    cJSON_AddItemToArray(cJSON_GetObjectItem(doc, "results"), r);
}

levi_status bench_doc_write(cJSON *doc, const char *path) {
    char *s = cJSON_Print(doc);
    if (!s) return levi_error(LEVI_ERR_HOST_MEMORY, "out of memory writing JSON");
    levi_status st = LEVI_OK;
    if (!path || !strcmp(path, "-")) {
        puts(s);
        fflush(stdout);
    } else {
        size_t n = strlen(s);
        s[n] = '\n'; /* replaces the NUL; written with its length */
        st = levi_write_file_atomic(path, s, n + 1);
    }
    free(s);
    return st;
}

static FILE *g_table; /* the table's stream: stdout, or stderr when JSON goes to stdout */

void bench_set_table_stream(FILE *f) { g_table = f; }
FILE *bench_table_stream(void) { return g_table ? g_table : stdout; }

void bench_print_row(const bench_row *row, double ref_value, int with_ref) {
    FILE *out = g_table ? g_table : stdout;
    if (!row) {
        fprintf(out, "%-36s %12s %10s %10s %10s %8s%s\n", "benchmark", "value", "unit", "median", "min",
                "samples", with_ref ? "  vs ref" : "");
        return;
    }
    char ratio[32] = "";
    if (with_ref) {
        if (ref_value > 0) snprintf(ratio, sizeof ratio, "  %6.2fx", row->value / ref_value);
        else snprintf(ratio, sizeof ratio, "  %7s", "-");
    }
    fprintf(out, "%-36s %12.2f %10s %8.3fms %8.3fms %4dx%-3d%s\n", row->name, row->value, row->unit,
            row->st.median_s * 1e3, row->st.min_s * 1e3, row->st.samples, row->st.reps, ratio);
    fflush(out);
}

levi_status bench_doc_load(const char *path, cJSON **doc) {
    *doc = NULL;
    char *text = NULL;
    size_t len = 0;
    LEVI_TRY(levi_read_file(path, &text, &len));
    cJSON *d = cJSON_Parse(text);
    free(text);
    if (!d) return levi_error(LEVI_ERR_FORMAT, "%s: not valid JSON", path);
    const cJSON *fmt = cJSON_GetObjectItem(d, "format");
    const cJSON *res = cJSON_GetObjectItem(d, "results");
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "levi-cl bench") || !cJSON_IsArray(res)) {
        cJSON_Delete(d);
        return levi_error(LEVI_ERR_FORMAT, "%s: not a levi-cl bench result (\"format\" and \"results\" expected)",
                          path);
    }
    const cJSON *r;
    int i = 0;
    cJSON_ArrayForEach(r, res) {
        if (!cJSON_IsString(cJSON_GetObjectItem(r, "group")) || !cJSON_IsString(cJSON_GetObjectItem(r, "name")) ||
            !cJSON_IsNumber(cJSON_GetObjectItem(r, "value")) || !cJSON_IsString(cJSON_GetObjectItem(r, "unit"))) {
            cJSON_Delete(d);
            return levi_error(LEVI_ERR_FORMAT, "%s: results[%d] lacks group, name, unit or value", path, i);
        }
        i++;
    }
    *doc = d;
    return LEVI_OK;
}

double bench_doc_value(const cJSON *doc, const char *group, const char *name) {
    return bench_doc_field(doc, group, name, "value");
}

double bench_doc_field(const cJSON *doc, const char *group, const char *name, const char *field) {
    if (!doc) return 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItem(doc, "results")) {
        if (!strcmp(cJSON_GetObjectItem(r, "group")->valuestring, group) &&
            !strcmp(cJSON_GetObjectItem(r, "name")->valuestring, name))
            return cJSON_IsNumber(cJSON_GetObjectItem(r, field)) ? cJSON_GetObjectItem(r, field)->valuedouble : 0;
    }
    return 0;
}
