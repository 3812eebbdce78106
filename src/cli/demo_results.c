/* Reading train metrics (JSON lines) and eval results (JSON) for the demo. */
#include <math.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo_results.h"
#include "levi/log.h"
#include "levi/runtime.h"

static double num(const cJSON *o, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? v->valuedouble : NAN;
}

levi_status demo_metrics_read(const char *path, demo_metrics *m) {
    memset(m, 0, sizeof *m);
    m->samples_per_s = m->elapsed = m->final_acc = -1;
    char *text;
    size_t len;
    LEVI_TRY(levi_read_file(path, &text, &len));
    /* first pass: count lines, to bin the step lines into at most DEMO_CURVE_MAX points */
    long n_steps = 0, n_epochs = 0;
    for (char *p = text; (p = strchr(p, '\n')); p++) n_steps++;
    for (char *p = text; (p = strstr(p, "\"type\":\"epoch\"")); p++) n_epochs++;
    for (char *p = text; (p = strstr(p, "\"type\":\"summary\"")); p++) n_steps--; /* the last line */
    n_steps -= n_epochs;
    long per = n_steps > DEMO_CURVE_MAX ? (n_steps + DEMO_CURVE_MAX - 1) / DEMO_CURVE_MAX : 1;
    double sx = 0, sl = 0;
    long in_bin = 0;
    double last_sps_step = -1;
    double ex[DEMO_CURVE_MAX], el[DEMO_CURVE_MAX];
    int ne = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        cJSON *o = cJSON_Parse(line);
        if (!o) continue;
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
        int is_epoch = cJSON_IsString(type) && !strcmp(type->valuestring, "epoch");
        double step = num(o, "step"), loss = num(o, "loss"), sps = num(o, "samples_per_s"),
               elapsed = num(o, "elapsed"), acc = num(o, "acc");
        if (!isnan(elapsed)) m->elapsed = elapsed;
        if (is_epoch) {
            if (!isnan(sps)) m->samples_per_s = sps;
            if (!isnan(acc)) m->final_acc = acc;
            if (!isnan(step) && !isnan(loss) && ne < DEMO_CURVE_MAX) {
                ex[ne] = step;
                el[ne++] = loss;
            }
        } else if (!isnan(step) && !isnan(loss)) {
            if (!isnan(sps)) last_sps_step = sps;
            sx += step;
            sl += loss;
            if (++in_bin == per && m->n < DEMO_CURVE_MAX) {
                m->x[m->n] = sx / (double)in_bin;
                m->loss[m->n++] = sl / (double)in_bin;
                sx = sl = 0;
                in_bin = 0;
            }
        }
        cJSON_Delete(o);
    }
    if (in_bin > 0 && m->n < DEMO_CURVE_MAX) {
        m->x[m->n] = sx / (double)in_bin;
        m->loss[m->n++] = sl / (double)in_bin;
    }
    if (m->samples_per_s < 0) m->samples_per_s = last_sps_step;
    if (m->n < 2 && ne > m->n) { /* only epoch lines: use them as the curve */
        memcpy(m->x, ex, sizeof(double) * (size_t)ne);
        memcpy(m->loss, el, sizeof(double) * (size_t)ne);
        m->n = ne;
    }
    free(text);
    return LEVI_OK;
}

/* --- eval --------------------------------------------------------------- */

typedef struct entry {
    const char *name;
    double acc;
} entry;

static const char *const k_acc_names[] = {"accuracy", "acc", "top1", NULL};
static const char *const k_name_fields[] = {"data", "path", "dataset", "name", "dir", "split", NULL};

static void collect(const cJSON *o, const char *key, entry *out, int *n, int max) {
    if (*n >= max || !o) return;
    if (cJSON_IsObject(o)) {
        double acc = NAN;
        for (int i = 0; k_acc_names[i] && isnan(acc); i++) acc = num(o, k_acc_names[i]);
        if (!isnan(acc)) {
            const char *name = key;
            for (int i = 0; k_name_fields[i]; i++) {
                const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, k_name_fields[i]);
                if (cJSON_IsString(s)) {
                    name = s->valuestring;
                    break;
                }
            }
            out[*n].name = name ? name : "";
            out[*n].acc = acc;
            (*n)++;
            return;
        }
    }
    if (cJSON_IsObject(o) || cJSON_IsArray(o)) {
        const cJSON *c;
        cJSON_ArrayForEach(c, o) collect(c, cJSON_IsObject(o) ? c->string : key, out, n, max);
    }
}

levi_status demo_eval_read(const char *path, const char *id_name, const char *ood_name, double *id_acc,
                           double *ood_acc) {
    *id_acc = *ood_acc = -1;
    char *text;
    size_t len;
    LEVI_TRY(levi_read_file(path, &text, &len));
    /* the JSON document may follow other output: start at the first '{' or '[' that parses */
    cJSON *doc = NULL;
    for (char *p = text; *p && !doc; p++)
        if (*p == '{' || *p == '[') doc = cJSON_Parse(p);
    free(text);
    if (!doc) return levi_error(LEVI_ERR_FORMAT, "%s: no JSON document found in eval's output", path);
    entry e[16];
    int n = 0;
    collect(doc, NULL, e, &n, 16);
    int found_id = -1, found_ood = -1;
    for (int i = 0; i < n; i++) {
        if (found_id < 0 && strstr(e[i].name, id_name)) found_id = i;
        if (found_ood < 0 && strstr(e[i].name, ood_name)) found_ood = i;
    }
    if (found_id < 0 && n >= 1) found_id = 0;
    if (found_ood < 0 && n >= 2) found_ood = found_id == 1 ? 0 : 1;
    double scale = 1;
    for (int i = 0; i < n; i++)
        if (e[i].acc > 1.0) scale = 0.01; /* percent */
    if (found_id >= 0) *id_acc = e[found_id].acc * scale;
    if (found_ood >= 0) *ood_acc = e[found_ood].acc * scale;
    cJSON_Delete(doc);
    if (n == 0) return levi_error(LEVI_ERR_FORMAT, "%s: no accuracy found in eval's JSON output", path);
    return LEVI_OK;
}

/* --- table, results.json, report ---------------------------------------------- */

void demo_print_table(FILE *f, const demo_summary *s) {
    fprintf(f, "\n%-10s %8s %8s %11s %10s\n", "method", "ID acc", "OOD acc", "train time", "samples/s");
    for (int i = 0; i < s->n; i++) {
        const demo_result *r = &s->r[i];
        char id[16] = "-", ood[16] = "-", t[16] = "-", sps[16] = "-";
        if (r->id_acc >= 0) snprintf(id, sizeof id, "%.1f%%", r->id_acc * 100);
        if (r->ood_acc >= 0) snprintf(ood, sizeof ood, "%.1f%%", r->ood_acc * 100);
        if (r->train_s >= 0) snprintf(t, sizeof t, "%.1f s", r->train_s);
        if (r->sps >= 0) snprintf(sps, sizeof sps, "%.0f", r->sps);
        fprintf(f, "%-10s %8s %8s %11s %10s\n", r->method, id, ood, t, sps);
    }
    fprintf(f, "\n");
}

static levi_status write_json(const demo_summary *s) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "benchmark", s->text ? "text-shift" : "fashion-shift");
    cJSON_AddStringToObject(o, "size", s->size);
    cJSON_AddNumberToObject(o, "seed", (double)s->seed);
    cJSON_AddStringToObject(o, "device", s->dev->name);
    cJSON_AddStringToObject(o, "driver", s->dev->driver_version);
    cJSON_AddStringToObject(o, "data", s->data);
    cJSON_AddStringToObject(o, "backbone", s->backbone);
    cJSON_AddNumberToObject(o, "total_s", s->total_s);
    cJSON *arr = cJSON_AddArrayToObject(o, "methods");
    for (int i = 0; i < s->n; i++) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "method", s->r[i].method);
        cJSON_AddNumberToObject(m, "id_acc", s->r[i].id_acc);
        cJSON_AddNumberToObject(m, "ood_acc", s->r[i].ood_acc);
        cJSON_AddNumberToObject(m, "train_s", s->r[i].train_s);
        cJSON_AddNumberToObject(m, "samples_per_s", s->r[i].sps);
        cJSON_AddItemToArray(arr, m);
    }
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text) return levi_error(LEVI_ERR_HOST_MEMORY, "out of memory writing results.json");
    char path[1200];
    snprintf(path, sizeof path, "%s/results.json", s->out);
    levi_status st = levi_write_file_atomic(path, text, strlen(text));
    free(text);
    return st;
}

static const char *k_intro =
    "LEVI fine-tunes a pre-trained model by joining two views: features read at several layers of a frozen "
    "pre-trained backbone, and a small task model trained from scratch on the fine-tuning data. The "
    "fashion-shift benchmark plants a spurious feature in the pre-training data (a class-linked background "
    "texture) and another in the fine-tuning data (a class-linked marker); in test-ood both appear but carry "
    "no information about the class. ID accuracy measures how well a method learned the task; OOD accuracy "
    "how well it did so without relying on either shortcut. A method that is good on ID but drops on OOD has "
    "learned a shortcut.";

static const char *k_intro_text =
    "LEVI fine-tunes a pre-trained model by joining two views: features read at several layers of a frozen "
    "pre-trained backbone (here all-MiniLM-L6-v2, a 6-layer BERT trained on a billion sentence pairs), and a "
    "small task model trained from scratch on the fine-tuning data (a bag of hashed word-piece n-grams). The "
    "text-shift benchmark labels Debian package descriptions by their section (games, python, science, ...); "
    "each text starts with the package's name, a shortcut in train and test-id (python3-..., golang-...), "
    "shuffled between packages in test-ood, where only the description tells the section. ID accuracy measures "
    "how well a method learned the task; OOD accuracy how well it did so without the name.";

static levi_status write_html(const demo_summary *s) {
    levi_report_row *rows = calloc((size_t)(s->n > 0 ? s->n : 1), sizeof *rows);
    if (!rows) return levi_error(LEVI_ERR_HOST_MEMORY, "out of memory writing the report");
    for (int i = 0; i < s->n; i++) {
        const demo_result *r = &s->r[i];
        rows[i] = (levi_report_row){.method = r->method,
                                    .id_acc = r->id_acc,
                                    .ood_acc = r->ood_acc,
                                    .train_s = r->train_s,
                                    .samples_per_s = r->sps,
                                    .curve_x = r->metrics.x,
                                    .curve_loss = r->metrics.loss,
                                    .curve_n = r->metrics.n,
                                    .command = r->command};
    }
    const levi_device_info *d = s->dev;
    char driver[512], when[64], title[128];
    snprintf(driver, sizeof driver, "%s (%s, %s)", d->driver_version, d->platform_name, d->device_version);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
    snprintf(title, sizeof title, "LEVI on %s (%s run, seed %llu)", s->text ? "text-shift" : "fashion-shift", s->size,
             s->seed);
    char *png = NULL;
    size_t png_len = 0;
    if (s->sheet && levi_read_file(s->sheet, &png, &png_len) != LEVI_OK) {
        LEVI_WARN("demo: no contact sheet for the report: %s", levi_last_error());
        png = NULL;
        png_len = 0;
    }
    levi_report rep = {.title = title,
                       .intro = s->text ? k_intro_text : k_intro,
                       .device = d->name,
                       .driver = driver,
                       .generated = when,
                       .rows = rows,
                       .n_rows = s->n,
                       .stages = s->stages,
                       .n_stages = s->n_stages,
                       .image_png = (const unsigned char *)png,
                       .image_png_len = png_len,
                       .image_caption = "The fashion-shift benchmark: samples per class of each split "
                                        "(pretrain with its background textures, train and test-id with the "
                                        "class markers, test-ood with both, unrelated to the class).",
                       .setup_commands = s->setup_cmds};
    char path[1200];
    snprintf(path, sizeof path, "%s/report.html", s->out);
    levi_status st = levi_report_write(path, &rep);
    free(png);
    free(rows);
    return st;
}

levi_status demo_write_results(const demo_summary *s) {
    LEVI_TRY(write_json(s));
    return write_html(s);
}

double demo_metrics_truncate(const char *path) {
    char *text;
    size_t len;
    if (levi_read_file(path, &text, &len) != LEVI_OK) {
        levi_error_clear();
        return 0;
    }
    size_t keep = 0;
    double elapsed = 0;
    for (size_t pos = 0; pos < len;) {
        char *nl = memchr(text + pos, '\n', len - pos);
        if (!nl) break; /* a torn last line is dropped */
        *nl = '\0';
        cJSON *o = cJSON_Parse(text + pos);
        const cJSON *type = o ? cJSON_GetObjectItemCaseSensitive(o, "type") : NULL;
        if (cJSON_IsString(type) && !strcmp(type->valuestring, "epoch")) {
            keep = (size_t)(nl - text) + 1;
            double e = num(o, "elapsed");
            elapsed = isnan(e) ? 0 : e;
        }
        cJSON_Delete(o);
        *nl = '\n';
        pos = (size_t)(nl - text) + 1;
    }
    if (levi_write_file_atomic(path, text, keep) != LEVI_OK) {
        levi_error_clear();
        elapsed = 0;
    }
    free(text);
    return elapsed;
}
