/* Text data sets: the file read whole, rows from the JSON lines or CSV/TSV
 * reader, classes from the labels (or given), the per-class limit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "levi/runtime.h"
#include "text_data_internal.h"

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

levi_status text_rows_push(text_rows *r, const char *text, size_t tlen, const char *label, size_t llen, int line) {
    long bad = text_utf8_invalid_at(text, tlen);
    if (bad >= 0)
        return levi_error(LEVI_ERR_FORMAT, "%s:%d: field '%s': invalid UTF-8 at byte %ld of the field", r->path, line,
                          r->text_column, bad);
    bad = text_utf8_invalid_at(label, llen);
    if (bad >= 0)
        return levi_error(LEVI_ERR_FORMAT, "%s:%d: field '%s': invalid UTF-8 at byte %ld of the field", r->path, line,
                          r->label_column, bad);
    if (llen == 0) return levi_error(LEVI_ERR_FORMAT, "%s:%d: field '%s' is empty (expected a class)", r->path, line,
                                     r->label_column);
    if (memchr(label, '\0', llen))
        return levi_error(LEVI_ERR_FORMAT, "%s:%d: field '%s' holds a NUL character", r->path, line, r->label_column);
    if (r->n == r->cap) {
        int cap = r->cap ? r->cap * 2 : 256;
        if (cap > (1 << 30)) return levi_error(LEVI_ERR_FORMAT, "%s: too many rows", r->path);
        char **t = realloc(r->texts, (size_t)cap * sizeof *t);
        if (t) r->texts = t;
        char **l = realloc(r->labels, (size_t)cap * sizeof *l);
        if (l) r->labels = l;
        int *ln = realloc(r->lines, (size_t)cap * sizeof *ln);
        if (ln) r->lines = ln;
        if (!t || !l || !ln) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory reading '%s'", r->path);
        r->cap = cap;
    }
    r->texts[r->n] = dup_n(text, tlen);
    r->labels[r->n] = dup_n(label, llen);
    r->lines[r->n] = line;
    if (!r->texts[r->n] || !r->labels[r->n]) {
        free(r->texts[r->n]);
        free(r->labels[r->n]);
        return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory reading '%s'", r->path);
    }
    r->n++;
    return LEVI_OK;
}

void text_rows_free(text_rows *r) {
    for (int i = 0; i < r->n; i++) {
        free(r->texts[i]);
        free(r->labels[i]);
    }
    free(r->texts);
    free(r->labels);
    free(r->lines);
    r->texts = r->labels = NULL;
    r->lines = NULL;
    r->n = r->cap = 0;
}

const char *levi_text_format_name(levi_text_format f) {
    switch (f) {
    case LEVI_TEXT_JSONL: return "jsonl";
    case LEVI_TEXT_CSV: return "csv";
    case LEVI_TEXT_TSV: return "tsv";
    default: return "auto";
    }
}

levi_status levi_text_format_parse(const char *name, levi_text_format *out) {
    static const struct {
        const char *name;
        levi_text_format f;
    } k[] = {{"auto", LEVI_TEXT_AUTO}, {"jsonl", LEVI_TEXT_JSONL}, {"json", LEVI_TEXT_JSONL},
             {"ndjson", LEVI_TEXT_JSONL}, {"csv", LEVI_TEXT_CSV}, {"tsv", LEVI_TEXT_TSV}};
    for (size_t i = 0; name && i < sizeof k / sizeof *k; i++)
        if (!strcasecmp(name, k[i].name)) {
            *out = k[i].f;
            return LEVI_OK;
        }
    return levi_error(LEVI_ERR_INVALID_ARG, "unknown text format '%s' (expected jsonl, csv or tsv)",
                      name ? name : "(null)");
}

levi_text_format levi_text_format_of(const char *path) {
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (!dot || (slash && slash > dot)) return LEVI_TEXT_AUTO;
    if (!strcasecmp(dot, ".jsonl") || !strcasecmp(dot, ".json") || !strcasecmp(dot, ".ndjson")) return LEVI_TEXT_JSONL;
    if (!strcasecmp(dot, ".csv")) return LEVI_TEXT_CSV;
    if (!strcasecmp(dot, ".tsv") || !strcasecmp(dot, ".tab")) return LEVI_TEXT_TSV;
    return LEVI_TEXT_AUTO;
}

/* A canonical integer ("0", "-12", not "007" or "+1"): numeric class order. */
static int is_integer(const char *s, long long *v) {
    const char *p = s + (*s == '-');
    if (!*p || (p[0] == '0' && p[1]) || strlen(p) > 18) return 0;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9') return 0;
    *v = strtoll(s, NULL, 10);
    return 1;
}

typedef struct label_key {
    const char *s;
    long long v;
    int numeric; /* the same for every key of one sort */
} label_key;

static int cmp_key(const void *a, const void *b) {
    const label_key *x = a, *y = b;
    if (x->numeric) return (x->v > y->v) - (x->v < y->v);
    return strcmp(x->s, y->s);
}

/* The sorted distinct labels; an error past LEVI_TEXT_MAX_CLASSES. */
static levi_status derive_classes(const text_rows *r, levi_text_dataset *ds) {
    label_key *k = malloc((size_t)r->n * sizeof *k);
    if (!k) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    int numeric = 1;
    for (int i = 0; i < r->n; i++) {
        k[i].s = r->labels[i];
        numeric &= is_integer(r->labels[i], &k[i].v);
    }
    for (int i = 0; i < r->n; i++) k[i].numeric = numeric;
    qsort(k, (size_t)r->n, sizeof *k, cmp_key);
    int m = 0;
    for (int i = 0; i < r->n; i++)
        if (i == 0 || strcmp(k[i].s, k[m - 1].s)) k[m++] = k[i];
    levi_status st = LEVI_OK;
    if (m > LEVI_TEXT_MAX_CLASSES)
        st = levi_error(LEVI_ERR_FORMAT,
                        "%s: column '%s' holds %d distinct labels, more than %d classes (is it the right column?)",
                        r->path, r->label_column, m, LEVI_TEXT_MAX_CLASSES);
    if (st == LEVI_OK && !(ds->class_names = calloc((size_t)m, sizeof *ds->class_names)))
        st = levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    if (st == LEVI_OK) ds->num_classes = m;
    for (int i = 0; i < m && st == LEVI_OK; i++)
        if (!(ds->class_names[i] = strdup(k[i].s))) st = levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    free(k);
    return st;
}

static levi_status given_classes(const text_rows *r, const levi_text_options *o, levi_text_dataset *ds) {
    if (o->num_classes < 1 || o->num_classes > LEVI_TEXT_MAX_CLASSES)
        return levi_error(LEVI_ERR_INVALID_ARG, "%s: %d classes given (expected 1 to %d)", r->path, o->num_classes,
                          LEVI_TEXT_MAX_CLASSES);
    ds->class_names = calloc((size_t)o->num_classes, sizeof *ds->class_names);
    if (!ds->class_names) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    ds->num_classes = o->num_classes;
    for (int i = 0; i < o->num_classes; i++)
        if (!o->classes[i] || !(ds->class_names[i] = strdup(o->classes[i])))
            return levi_error(LEVI_ERR_INVALID_ARG, "%s: class %d is NULL or out of memory", r->path, i);
    return LEVI_OK;
}

typedef struct class_index {
    const char *name;
    int id;
} class_index;

static int cmp_index(const void *a, const void *b) {
    return strcmp(((const class_index *)a)->name, ((const class_index *)b)->name);
}

/* Labels to class ids, the per-class limit, ownership of the texts moves to ds. */
static levi_status fill(text_rows *r, const levi_text_options *o, levi_text_dataset *ds) {
    int *label = malloc((size_t)r->n * sizeof *label), *per = calloc((size_t)ds->num_classes, sizeof *per);
    ds->texts = malloc((size_t)r->n * sizeof *ds->texts);
    ds->labels = malloc((size_t)r->n * sizeof *ds->labels);
    if (!label || !per || !ds->texts || !ds->labels) {
        free(label);
        free(per);
        return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory for %d rows of '%s'", r->n, r->path);
    }
    class_index *idx = malloc((size_t)ds->num_classes * sizeof *idx);
    if (!idx) {
        free(label);
        free(per);
        return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    }
    for (int c = 0; c < ds->num_classes; c++) idx[c] = (class_index){ds->class_names[c], c};
    qsort(idx, (size_t)ds->num_classes, sizeof *idx, cmp_index);
    levi_status st = LEVI_OK;
    for (int c = 1; c < ds->num_classes && st == LEVI_OK; c++)
        if (!strcmp(idx[c].name, idx[c - 1].name))
            st = levi_error(LEVI_ERR_INVALID_ARG, "%s: class '%s' is given twice", r->path, idx[c].name);
    for (int i = 0; i < r->n && st == LEVI_OK; i++) {
        class_index key = {r->labels[i], -1};
        const class_index *hit = bsearch(&key, idx, (size_t)ds->num_classes, sizeof *idx, cmp_index);
        label[i] = hit ? hit->id : -1;
        if (label[i] < 0) {
            char known[256] = "";
            size_t k = 0;
            for (int c = 0; c < ds->num_classes && k < sizeof known - 40; c++)
                k += (size_t)snprintf(known + k, sizeof known - k, "%s'%s'", c ? ", " : "", ds->class_names[c]);
            if (k >= sizeof known - 40) snprintf(known + k, sizeof known - k, ", ...");
            st = levi_error(LEVI_ERR_FORMAT, "%s:%d: field '%s': label '%s' is not one of the %d classes (%s)", r->path,
                            r->lines[i], r->label_column, r->labels[i], ds->num_classes, known);
        }
    }
    for (int i = 0; i < r->n && st == LEVI_OK; i++) {
        if (o->limit_per_class > 0 && per[label[i]] >= o->limit_per_class) continue;
        per[label[i]]++;
        ds->texts[ds->n] = r->texts[i];
        ds->labels[ds->n] = label[i];
        r->texts[i] = NULL;
        ds->n++;
    }
    free(idx);
    free(label);
    free(per);
    return st;
}

levi_status levi_text_load(levi_text_dataset *ds, const char *path, const levi_text_options *opt) {
    if (!ds || !path) return levi_error(LEVI_ERR_INVALID_ARG, "levi_text_load: NULL argument");
    memset(ds, 0, sizeof *ds);
    levi_text_options o = {0};
    if (opt) o = *opt;
    text_rows r = {.path = path,
                   .text_column = o.text_column ? o.text_column : "text",
                   .label_column = o.label_column ? o.label_column : "label"};
    levi_text_format f = o.format ? o.format : levi_text_format_of(path);
    if (f == LEVI_TEXT_AUTO)
        return levi_error(LEVI_ERR_INVALID_ARG,
                          "%s: cannot tell the format from the name (expected .jsonl, .csv or .tsv, or give the format)",
                          path);
    char *data;
    size_t len;
    LEVI_TRY(levi_read_file(path, &data, &len));
    const char *p = data;
    if (len >= 3 && !memcmp(p, "\xef\xbb\xbf", 3)) { /* a byte-order mark */
        p += 3;
        len -= 3;
    }
    levi_status st = f == LEVI_TEXT_JSONL ? text_read_jsonl(&r, p, len)
                                          : text_read_delimited(&r, p, len, f == LEVI_TEXT_TSV ? '\t' : ',');
    free(data);
    if (st == LEVI_OK && r.n == 0)
        st = levi_error(LEVI_ERR_FORMAT, "%s: no rows (expected %s)", path,
                        f == LEVI_TEXT_JSONL ? "one JSON object per line" : "a header row and at least one row");
    if (st == LEVI_OK) st = o.classes ? given_classes(&r, &o, ds) : derive_classes(&r, ds);
    if (st == LEVI_OK) st = fill(&r, &o, ds);
    text_rows_free(&r);
    if (st != LEVI_OK) levi_text_free(ds);
    return st;
}

void levi_text_free(levi_text_dataset *ds) {
    if (!ds) return;
    for (int i = 0; i < ds->n; i++) free(ds->texts[i]);
    for (int i = 0; i < ds->num_classes; i++) free(ds->class_names ? ds->class_names[i] : NULL);
    free(ds->texts);
    free(ds->labels);
    free(ds->class_names);
    memset(ds, 0, sizeof *ds);
}
