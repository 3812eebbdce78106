/* levi-cl bench data: how fast the host feeds the device, per worker count:
 *   decode     images/s decoding an ImageFolder (read, decode, convert,
 *              resize, crop) into the uint8 cache
 *   cached     images/s the loader hands out from the cache (normalise)
 *   augmented  the same with --augment flip,crop
 * No OpenCL device is used. Rows go into the usual results document
 * (group "data", unit "images/s"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "levi/data.h"

static const char *k_usage =
    "usage: levi-cl bench data --data DIR [--workers N,N,...] [--size N] [--channels C]\n"
    "                          [--preprocessor FILE] [--limit N] [--batch N] [--budget S]\n"
    "                          [--json] [--out FILE]\n"
    "\n"
    "Decode, cached and augmented images/s of an ImageFolder for each worker count\n"
    "(default 1, 2, 4, ... up to the number of cores). No device is needed.\n"
    "  --size N (224) --channels C (3)   the model's input\n"
    "  --preprocessor FILE   a preprocessor_config.json (default: ViT's, bilinear, mean/std 0.5)\n"
    "  --limit N             at most N images per class\n"
    "  --batch N (64)        images per batch of the loader\n"
    "  --budget S (10)       seconds for the whole benchmark (each measurement runs at least once)\n";

static void add_row(cJSON *doc, const char *what, int workers, long images, double seconds) {
    bench_row r;
    memset(&r, 0, sizeof r);
    r.group = "data";
    snprintf(r.name, sizeof r.name, "%s workers=%d", what, workers);
    r.unit = "images/s";
    r.higher_is_better = 1;
    r.value = r.best = seconds > 0 ? images / seconds : 0;
    r.st.median_s = r.st.min_s = r.st.max_s = images > 0 ? seconds / images : 0;
    r.st.samples = 1;
    r.st.reps = (int)images;
    bench_print_row(&r, 0, 0);
    if (doc) bench_doc_add(doc, &r);
}

/* Batches from the cache for about `budget` seconds (at least one epoch). */
static void time_loader(levi_dataset *ds, int batch, double budget, long *images, double *seconds) {
    levi_loader l;
    *images = 0;
    *seconds = 0;
    if (levi_loader_init(&l, ds, batch, 1, 1) != LEVI_OK) return;
    size_t per = (size_t)ds->channels * ds->height * ds->width;
    float *px = malloc(sizeof(float) * per * (size_t)l.batch), *lab = malloc(sizeof(float) * (size_t)l.batch);
    double t0 = levi_now_s();
    for (int e = 0; px && lab; e++) {
        levi_loader_epoch(&l, e);
        int b;
        while ((b = levi_loader_next(&l, px, lab)) > 0) *images += b;
        if (levi_now_s() - t0 >= budget) break;
    }
    *seconds = levi_now_s() - t0;
    free(px);
    free(lab);
    levi_loader_free(&l);
}

int bench_data(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(k_usage, stdout);
        return 0;
    }
    const char *dir = NULL, *wlist = NULL, *ppath = NULL, *out = NULL;
    long size = 224, channels = 3, limit = 0, batch = 64;
    double budget = 10;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "--json")) {
            json = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "levi-cl bench data: %s needs a value\n\n%s", o, k_usage);
            return 2;
        }
        i++;
        levi_status st = LEVI_OK;
        if (!strcmp(o, "--data")) dir = v;
        else if (!strcmp(o, "--workers")) wlist = v;
        else if (!strcmp(o, "--preprocessor")) ppath = v;
        else if (!strcmp(o, "--out")) out = v;
        else if (!strcmp(o, "--size")) st = cli_parse_int(o, v, 1, LEVI_IMAGE_MAX_SIDE, &size);
        else if (!strcmp(o, "--channels")) st = cli_parse_int(o, v, 1, 3, &channels);
        else if (!strcmp(o, "--limit")) st = cli_parse_int(o, v, 1, 100000000, &limit);
        else if (!strcmp(o, "--batch")) st = cli_parse_int(o, v, 1, 65536, &batch);
        else if (!strcmp(o, "--budget")) st = cli_parse_float(o, v, 0.01, 86400, &budget);
        else {
            fprintf(stderr, "levi-cl bench data: unknown option '%s'\n\n%s", o, k_usage);
            return 2;
        }
        if (st != LEVI_OK) return cli_fail(st);
    }
    if (!dir || channels == 2) {
        fprintf(stderr, "levi-cl bench data: %s\n\n%s", dir ? "--channels must be 1 or 3" : "--data DIR is required",
                k_usage);
        return 2;
    }
    int counts[32], nw = 0;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (wlist) {
        for (const char *p = wlist; *p && nw < 32;) {
            char *end;
            long w = strtol(p, &end, 10);
            if (end == p || w < 1 || w > 1024 || (*end && *end != ',')) {
                fprintf(stderr, "levi-cl bench data: --workers: '%s' is not a list of counts 1..1024\n", wlist);
                return 2;
            }
            counts[nw++] = (int)w;
            p = *end ? end + 1 : end;
        }
    } else {
        for (int w = 1; w < cores && nw < 31; w *= 2) counts[nw++] = w;
        counts[nw++] = cores > 0 ? (int)cores : 1;
    }
    levi_preprocess pre;
    levi_status st = LEVI_OK;
    levi_preprocess_default(&pre, (int)channels, (int)size, (int)size, 0.5f, 0.5f);
    if (ppath) {
        char *text;
        size_t len;
        st = levi_read_file(ppath, &text, &len);
        if (st == LEVI_OK) {
            st = levi_preprocess_parse(&pre, text, ppath, (int)channels, (int)size, (int)size);
            free(text);
        }
    }
    cJSON *doc = json || out ? bench_doc_new(NULL, "levi-cl bench data") : NULL;
    if (doc) cJSON_AddNumberToObject(doc, "host_cores", (double)cores);
    bench_set_table_stream(json && !out ? stderr : stdout);
    FILE *t = json && !out ? stderr : stdout;
    if (st == LEVI_OK) fprintf(t, "== data: %s, %ldx%ldx%ld ==\n", dir, channels, size, size);
    bench_print_row(NULL, 0, 0);
    double per_run = budget / (3.0 * nw);
    for (int k = 0; st == LEVI_OK && k < nw; k++) {
        levi_dataset ds;
        /* all in memory: the cache folder would turn a second decode into a file read */
        levi_load_options lo = {.limit_per_class = (int)limit, .workers = counts[k], .max_memory = (size_t)-1};
        double t0 = levi_now_s();
        long before = levi_image_decode_count();
        st = levi_dataset_load(&ds, dir, &pre, (int)size, (int)size, &lo);
        if (st != LEVI_OK) break;
        add_row(doc, "decode", counts[k], levi_image_decode_count() - before, levi_now_s() - t0);
        ds.workers = counts[k];
        long n;
        double s;
        time_loader(&ds, (int)batch, per_run, &n, &s);
        add_row(doc, "cached", counts[k], n, s);
        ds.augment = LEVI_AUGMENT_FLIP | LEVI_AUGMENT_CROP;
        time_loader(&ds, (int)batch, per_run, &n, &s);
        add_row(doc, "augmented", counts[k], n, s);
        levi_dataset_free(&ds);
    }
    if (st == LEVI_OK && doc) st = bench_doc_write(doc, out);
    if (st == LEVI_OK && out) printf("results written to %s\n", out);
    cJSON_Delete(doc);
    return st == LEVI_OK ? 0 : cli_fail(st);
}
