/* bench --compare A.json B.json ...: one table, one column per results
 * file, ratios against the first file (the vendor-neutral comparison). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define MAX_DOCS 8

static const char *doc_label(const cJSON *doc, const char *path) {
    const cJSON *d = cJSON_GetObjectItem(doc, "device");
    const cJSON *n = d ? cJSON_GetObjectItem(d, "name") : NULL;
    const cJSON *tool = cJSON_GetObjectItem(doc, "tool");
    if (cJSON_IsString(n)) return n->valuestring;
    if (cJSON_IsString(tool)) return tool->valuestring;
    return path;
}

static const char *g_field = "value";

static double val(const cJSON *doc, const char *group, const char *name) {
    return bench_doc_field(doc, group, name, g_field);
}

static int seen_before(cJSON **docs, int upto, const char *group, const char *name) {
    for (int i = 0; i < upto; i++)
        if (val(docs[i], group, name) != 0) return 1;
    return 0;
}

int bench_compare(int n, char **paths) {
    if (n > 0 && !strcmp(paths[0], "--best")) {
        /* the best sample instead of the median: less sensitive to a busy machine */
        g_field = "best";
        n--, paths++;
    }
    if (n < 2 || n > MAX_DOCS) {
        fprintf(stderr, "levi-cl bench --compare: needs 2..%d result files, got %d\n", MAX_DOCS, n);
        return 2;
    }
    cJSON *docs[MAX_DOCS] = {0};
    for (int i = 0; i < n; i++) {
        levi_status st = bench_doc_load(paths[i], &docs[i]);
        if (st != LEVI_OK) {
            for (int k = 0; k < i; k++) cJSON_Delete(docs[k]);
            return cli_fail(st);
        }
    }
    for (int i = 0; i < n; i++) {
        const cJSON *date = cJSON_GetObjectItem(docs[i], "date");
        const cJSON *ver = cJSON_GetObjectItem(docs[i], "levi_version");
        printf("[%c] %s: %s (%s, levi-cl %s)\n", 'A' + i, paths[i], doc_label(docs[i], paths[i]),
               cJSON_IsString(date) ? date->valuestring : "?", cJSON_IsString(ver) ? ver->valuestring : "?");
    }
    printf("\n%-44s %-10s", g_field[0] == 'b' ? "benchmark (best sample)" : "benchmark (median)", "unit");
    for (int i = 0; i < n; i++) printf(" %10c", 'A' + i);
    for (int i = 1; i < n; i++) printf("   %c/A", 'A' + i);
    printf("\n");
    for (int i = 0; i < n; i++) {
        const cJSON *r;
        cJSON_ArrayForEach(r, cJSON_GetObjectItem(docs[i], "results")) {
            const char *group = cJSON_GetObjectItem(r, "group")->valuestring;
            const char *name = cJSON_GetObjectItem(r, "name")->valuestring;
            if (seen_before(docs, i, group, name)) continue;
            char label[128];
            snprintf(label, sizeof label, "%s: %s", group, name);
            printf("%-44s %-10s", label, cJSON_GetObjectItem(r, "unit")->valuestring);
            double base = val(docs[0], group, name);
            for (int k = 0; k < n; k++) {
                double v = val(docs[k], group, name);
                if (v != 0) printf(" %10.2f", v);
                else printf(" %10s", "-");
            }
            for (int k = 1; k < n; k++) {
                double v = val(docs[k], group, name);
                if (v != 0 && base != 0) printf(" %6.2fx", v / base);
                else printf(" %7s", "-");
            }
            printf("\n");
        }
    }
    for (int i = 0; i < n; i++) cJSON_Delete(docs[i]);
    return 0;
}
