/* levi-openblas-ref: OpenBLAS SGEMM on the same shapes as `levi-cl bench
 * gemm` (src/cli/bench_shapes.h), with the same method (warm-up, samples
 * calibrated to a time budget, median/min/max), printed as a levi-cl bench
 * results document, so that
 *   levi-cl bench gemm --reference openblas.json     adds a ratio column and
 *   levi-cl bench --compare openblas.json levi.json  compares side by side.
 * Built by meson only when OpenBLAS is found (meson feature openblas).
 * Thread count: OPENBLAS_NUM_THREADS (default: all cores), printed in the JSON. */
#include <cblas.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_shapes.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void run(const bench_gemm_shape *s, const float *A, const float *B, float *C) {
    int lda = s->trans_a ? s->M : s->K, ldb = s->trans_b ? s->K : s->N;
    for (int b = 0; b < s->batch; b++)
        cblas_sgemm(CblasRowMajor, s->trans_a ? CblasTrans : CblasNoTrans, s->trans_b ? CblasTrans : CblasNoTrans,
                    s->M, s->N, s->K, 1.0f, A + (size_t)b * s->M * s->K, lda, B + (size_t)b * s->K * s->N, ldb,
                    0.0f, C + (size_t)b * s->M * s->N, s->N);
}

static void cpu_name(char *buf, size_t len) {
    snprintf(buf, len, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10)) continue;
        char *c = strchr(line, ':');
        if (c) {
            c += 1 + (c[1] == ' ');
            c[strcspn(c, "\n")] = '\0';
            snprintf(buf, len, "%s", c);
        }
        break;
    }
    if (f) fclose(f);
}

int main(int argc, char **argv) {
    double budget = 10;
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--budget") && i + 1 < argc) {
            char *end;
            errno = 0;
            budget = strtod(argv[++i], &end);
            if (errno || *end || !(budget > 0)) {
                fprintf(stderr, "levi-openblas-ref: --budget '%s' is not a positive number of seconds\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            out = argv[++i];
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: levi-openblas-ref [--budget SECONDS] [--out FILE]\n\n"
                   "OpenBLAS SGEMM GFLOP/s on the shapes of levi-cl bench gemm, as JSON\n"
                   "(stdout, or FILE). Threads: OPENBLAS_NUM_THREADS.\n");
            return 0;
        } else {
            fprintf(stderr, "levi-openblas-ref: unexpected argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "format", "levi-cl bench");
    cJSON_AddNumberToObject(doc, "version", 1);
    cJSON_AddStringToObject(doc, "tool", "levi-openblas-ref");
    char cpu[256];
    cpu_name(cpu, sizeof cpu);
    cJSON *dev = cJSON_AddObjectToObject(doc, "device");
    char name[400];
    snprintf(name, sizeof name, "OpenBLAS %s on %s", openblas_get_corename(), cpu);
    cJSON_AddStringToObject(dev, "name", name);
    cJSON_AddStringToObject(dev, "vendor", "OpenBLAS");
    char ver[64];
    snprintf(ver, sizeof ver, "%s", OPENBLAS_VERSION + strspn(OPENBLAS_VERSION, " "));
    while (ver[0] && ver[strlen(ver) - 1] == ' ') ver[strlen(ver) - 1] = '\0';
    cJSON_AddStringToObject(dev, "driver", ver);
    cJSON_AddNumberToObject(dev, "compute_units", openblas_get_num_threads());
    cJSON_AddNumberToObject(doc, "threads", openblas_get_num_threads());
    cJSON_AddNumberToObject(doc, "budget_s", budget);
    char date[64];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON_AddStringToObject(doc, "date", date);
    cJSON *results = cJSON_AddArrayToObject(doc, "results");
    for (int i = 0; i < BENCH_GEMM_NSHAPES; i++) {
        const bench_gemm_shape *s = &k_bench_gemm_shapes[i];
        size_t na = (size_t)s->M * s->K * s->batch, nb = (size_t)s->K * s->N * s->batch,
               nc = (size_t)s->M * s->N * s->batch;
        float *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B), *C = malloc(nc * sizeof *C);
        if (!A || !B || !C) {
            fprintf(stderr, "levi-openblas-ref: out of memory\n");
            return 1;
        }
        for (size_t k = 0; k < na; k++) A[k] = 0.5f;
        for (size_t k = 0; k < nb; k++) B[k] = 0.25f;
        run(s, A, B, C); /* warm-up */
        double t0 = now();
        run(s, A, B, C);
        double one = now() - t0;
        if (one < 1e-7) one = 1e-7;
        int reps = (int)(2e-3 / one) + 1, samples = (int)(budget / BENCH_GEMM_NSHAPES / (one * reps));
        if (reps > 1000) reps = 1000;
        if (samples < 3) samples = 3;
        if (samples > 200) samples = 200;
        double *ts = malloc(sizeof(double) * (size_t)samples);
        for (int k = 0; k < samples; k++) {
            double a = now();
            for (int r = 0; r < reps; r++) run(s, A, B, C);
            ts[k] = (now() - a) / reps;
        }
        qsort(ts, (size_t)samples, sizeof *ts, cmp_double);
        double med = samples % 2 ? ts[samples / 2] : 0.5 * (ts[samples / 2 - 1] + ts[samples / 2]);
        double flop = 2.0 * s->M * s->N * (double)s->K * s->batch;
        /* a result check: every element is K * 0.5 * 0.25 */
        double want = s->K * 0.125, worst = 0;
        for (size_t k = 0; k < nc; k++) worst = fmax(worst, fabs(C[k] - want));
        if (worst > 1e-3 * want) {
            fprintf(stderr, "levi-openblas-ref: %s: wrong result (worst difference %g)\n", s->name, worst);
            return 1;
        }
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "group", "gemm");
        cJSON_AddStringToObject(r, "name", s->name);
        cJSON_AddStringToObject(r, "unit", "GFLOP/s");
        cJSON_AddBoolToObject(r, "higher_is_better", 1);
        cJSON_AddNumberToObject(r, "value", flop / med * 1e-9);
        cJSON_AddNumberToObject(r, "best", flop / ts[0] * 1e-9);
        cJSON_AddNumberToObject(r, "median_s", med);
        cJSON_AddNumberToObject(r, "min_s", ts[0]);
        cJSON_AddNumberToObject(r, "max_s", ts[samples - 1]);
        cJSON_AddNumberToObject(r, "samples", samples);
        cJSON_AddNumberToObject(r, "reps", reps);
        cJSON_AddItemToArray(results, r);
        fprintf(stderr, "%-36s %10.2f GFLOP/s (median of %d)\n", s->name, flop / med * 1e-9, samples);
        free(ts), free(A), free(B), free(C);
    }
    char *text = cJSON_Print(doc);
    int rc = 0;
    if (!out) {
        puts(text);
    } else {
        /* write to a temporary name, then rename: no half-written file */
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", out);
        FILE *f = fopen(tmp, "w");
        if (!f || fputs(text, f) < 0 || fputc('\n', f) < 0 || fclose(f) != 0 || rename(tmp, out) != 0) {
            fprintf(stderr, "levi-openblas-ref: cannot write '%s': %s\n", out, strerror(errno));
            remove(tmp);
            rc = 1;
        }
    }
    free(text);
    cJSON_Delete(doc);
    return rc;
}
