/* The two readers of text data sets: JSON lines through cJSON, CSV/TSV
 * through libcsv in strict RFC 4180 mode (fields are not trimmed). Both
 * count physical lines so that every error names one. */
#include <cjson/cJSON.h>
#include <csv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text_data_internal.h"

/* --- JSON lines ------------------------------------------------------------- */

static int blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t') return 0;
    return 1;
}

static levi_status jsonl_row(text_rows *r, const char *s, size_t n, int line) {
    const char *end = NULL;
    cJSON *obj = cJSON_ParseWithLengthOpts(s, n, &end, 0);
    levi_status st = LEVI_OK;
    if (!obj || !end) {
        st = levi_error(LEVI_ERR_FORMAT, "%s:%d: not valid JSON (error at column %zu)", r->path, line,
                        end ? (size_t)(end - s) + 1 : (size_t)1);
    } else if (!blank(end, n - (size_t)(end - s))) {
        st = levi_error(LEVI_ERR_FORMAT, "%s:%d: text after the JSON object at column %zu (one object per line)",
                        r->path, line, (size_t)(end - s) + 1);
    } else if (!cJSON_IsObject(obj)) {
        st = levi_error(LEVI_ERR_FORMAT, "%s:%d: expected a JSON object such as {\"%s\": \"...\", \"%s\": \"...\"}",
                        r->path, line, r->text_column, r->label_column);
    }
    const cJSON *text = NULL, *label = NULL;
    char number[32];
    const char *lab = NULL;
    if (st == LEVI_OK) {
        text = cJSON_GetObjectItemCaseSensitive(obj, r->text_column);
        label = cJSON_GetObjectItemCaseSensitive(obj, r->label_column);
        if (!text)
            st = levi_error(LEVI_ERR_FORMAT, "%s:%d: missing field '%s' (the text column)", r->path, line,
                            r->text_column);
        else if (!cJSON_IsString(text))
            st = levi_error(LEVI_ERR_FORMAT, "%s:%d: field '%s' must be a string", r->path, line, r->text_column);
        else if (!label)
            st = levi_error(LEVI_ERR_FORMAT, "%s:%d: missing field '%s' (the label column)", r->path, line,
                            r->label_column);
    }
    if (st == LEVI_OK) {
        if (cJSON_IsString(label)) {
            lab = label->valuestring;
        } else if (cJSON_IsNumber(label) && label->valuedouble == (double)(long long)label->valuedouble &&
                   label->valuedouble > -1e15 && label->valuedouble < 1e15) {
            snprintf(number, sizeof number, "%lld", (long long)label->valuedouble);
            lab = number;
        } else {
            st = levi_error(LEVI_ERR_FORMAT, "%s:%d: field '%s' must be a string or an integer", r->path, line,
                            r->label_column);
        }
    }
    if (st == LEVI_OK) st = text_rows_push(r, text->valuestring, strlen(text->valuestring), lab, strlen(lab), line);
    if (st == LEVI_OK) { /* the rest of the line: JSON text is UTF-8 */
        long bad = text_utf8_invalid_at(s, n);
        if (bad >= 0)
            st = levi_error(LEVI_ERR_FORMAT, "%s:%d: invalid UTF-8 at byte %ld of the line", r->path, line, bad);
    }
    cJSON_Delete(obj);
    return st;
}

levi_status text_read_jsonl(text_rows *r, const char *data, size_t len) {
    int line = 0;
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - data) - pos : len - pos, next = pos + n + 1;
        line++;
        if (n > LEVI_TEXT_MAX_RECORD)
            return levi_error(LEVI_ERR_FORMAT, "%s:%d: line longer than %d bytes", r->path, line, LEVI_TEXT_MAX_RECORD);
        if (n > 0 && data[pos + n - 1] == '\r') n--;
        if (!blank(data + pos, n)) LEVI_TRY(jsonl_row(r, data + pos, n, line));
        pos = next;
    }
    return LEVI_OK;
}

/* --- CSV / TSV ---------------------------------------------------------------- */

typedef struct field {
    char *s;
    size_t n;
} field;

typedef struct csv_state {
    text_rows *r;
    field *f;       /* fields of the record being read */
    int nf, capf;
    char **header;  /* column names */
    int ncol, text_idx, label_idx;
    int line;       /* physical line being fed */
    int start;      /* line where the current record began */
    int pending;    /* the next non-blank line starts a record */
    size_t bytes;   /* size of the current record */
    levi_status st;
} csv_state;

static int no_space(unsigned char c) {
    (void)c;
    return 0;
}

static void on_field(void *s, size_t n, void *user) {
    csv_state *c = user;
    if (c->st != LEVI_OK) return;
    if (c->nf == c->capf) {
        int cap = c->capf ? c->capf * 2 : 8;
        field *nf = cap <= 100000 ? realloc(c->f, (size_t)cap * sizeof *nf) : NULL;
        if (!nf) {
            c->st = levi_error(LEVI_ERR_FORMAT, "%s:%d: too many fields or out of memory", c->r->path, c->start);
            return;
        }
        c->f = nf;
        c->capf = cap;
    }
    field *f = &c->f[c->nf];
    f->s = malloc(n + 1);
    if (!f->s) {
        c->st = levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory reading '%s'", c->r->path);
        return;
    }
    if (n) memcpy(f->s, s, n);
    f->s[n] = '\0';
    f->n = n;
    c->nf++;
}

static void clear_fields(csv_state *c) {
    for (int i = 0; i < c->nf; i++) free(c->f[i].s);
    c->nf = 0;
}

static levi_status take_header(csv_state *c) {
    text_rows *r = c->r;
    c->header = calloc((size_t)c->nf, sizeof *c->header);
    if (!c->header) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    c->ncol = c->nf;
    c->text_idx = c->label_idx = -1;
    for (int i = 0; i < c->nf; i++) {
        long bad = text_utf8_invalid_at(c->f[i].s, c->f[i].n);
        if (bad >= 0)
            return levi_error(LEVI_ERR_FORMAT, "%s:%d: header column %d: invalid UTF-8 at byte %ld", r->path, c->start,
                              i + 1, bad);
        c->header[i] = c->f[i].s;
        c->f[i].s = NULL;
        int *idx = !strcmp(c->header[i], r->text_column) ? &c->text_idx
                   : !strcmp(c->header[i], r->label_column) ? &c->label_idx : NULL;
        if (idx && *idx >= 0)
            return levi_error(LEVI_ERR_FORMAT, "%s:%d: column '%s' appears twice in the header", r->path, c->start,
                              c->header[i]);
        if (idx) *idx = i;
    }
    if (c->text_idx < 0 || c->label_idx < 0) {
        char cols[300] = "";
        size_t k = 0;
        for (int i = 0; i < c->ncol && k < sizeof cols - 40; i++)
            k += (size_t)snprintf(cols + k, sizeof cols - k, "%s'%s'", i ? ", " : "", c->header[i]);
        return levi_error(LEVI_ERR_FORMAT, "%s:%d: the header has no column '%s' (its columns: %s)", r->path,
                          c->start, c->text_idx < 0 ? r->text_column : r->label_column, cols);
    }
    return LEVI_OK;
}

static void on_record(int term, void *user) {
    (void)term;
    csv_state *c = user;
    if (c->st == LEVI_OK) {
        if (!c->header) {
            c->st = take_header(c);
        } else if (c->nf != c->ncol) {
            c->st = levi_error(LEVI_ERR_FORMAT, "%s:%d: %d fields, but the header has %d columns", c->r->path,
                               c->start, c->nf, c->ncol);
        } else {
            const field *t = &c->f[c->text_idx], *l = &c->f[c->label_idx];
            c->st = text_rows_push(c->r, t->s, t->n, l->s, l->n, c->start);
        }
    }
    clear_fields(c);
    c->pending = 1;
    c->bytes = 0;
}

levi_status text_read_delimited(text_rows *r, const char *data, size_t len, char delim) {
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    csv_set_delim(&p, (unsigned char)delim);
    csv_set_space_func(&p, no_space);
    csv_state c = {.r = r, .pending = 1, .st = LEVI_OK};
    for (size_t pos = 0; pos < len && c.st == LEVI_OK;) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - data) - pos + 1 : len - pos;
        c.line++;
        if (c.pending && !(n == 1 || (n == 2 && data[pos] == '\r'))) {
            c.start = c.line;
            c.pending = 0;
        }
        c.bytes += n;
        if (c.bytes > LEVI_TEXT_MAX_RECORD) {
            c.st = levi_error(LEVI_ERR_FORMAT, "%s:%d: record longer than %d bytes (an unclosed quote?)", r->path,
                              c.start, LEVI_TEXT_MAX_RECORD);
            break;
        }
        if (csv_parse(&p, data + pos, n, on_field, on_record, &c) != n && c.st == LEVI_OK)
            c.st = levi_error(LEVI_ERR_FORMAT,
                              "%s:%d: malformed quoting (%s): a field holding quotes, delimiters or line breaks is "
                              "enclosed in double quotes and its quotes are doubled",
                              r->path, c.line, csv_strerror(csv_error(&p)));
        pos += n;
    }
    if (c.st == LEVI_OK && csv_fini(&p, on_field, on_record, &c) != 0 && c.st == LEVI_OK)
        c.st = levi_error(LEVI_ERR_FORMAT, "%s:%d: a quoted field is not closed before the end of the file", r->path,
                          c.start);
    if (c.st == LEVI_OK && !c.header)
        c.st = levi_error(LEVI_ERR_FORMAT, "%s: empty file (expected a header row with '%s' and '%s')", r->path,
                          r->text_column, r->label_column);
    csv_free(&p);
    clear_fields(&c);
    free(c.f);
    for (int i = 0; i < c.ncol; i++) free(c.header[i]);
    free(c.header);
    return c.st;
}
