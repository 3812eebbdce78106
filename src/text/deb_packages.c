/* Debian Packages stanzas ("Key: value" lines, continuation lines start with
 * a space, stanzas separated by blank lines) -> name, section, one-line
 * description, source package. */
#include <stdlib.h>
#include <string.h>

#include "text_data_internal.h"
#include "text_shift_internal.h"

static char *dup_trim(const char *s, size_t n) {
    while (n > 0 && (*s == ' ' || *s == '\t')) s++, n--;
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) n--;
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static int cmp_name(const void *a, const void *b) {
    const deb_package *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static void free_one(deb_package *p) {
    free(p->name);
    free(p->section);
    free(p->description);
    free(p->source);
    memset(p, 0, sizeof *p);
}

levi_status deb_packages_parse(const char *data, size_t len, deb_package **out, int *count, int *skipped) {
    *out = NULL;
    *count = *skipped = 0;
    deb_package *v = NULL, cur = {0};
    int n = 0, cap = 0, bad = 0;
    levi_status st = LEVI_OK;
    for (size_t pos = 0; pos <= len && st == LEVI_OK;) {
        const char *nl = pos < len ? memchr(data + pos, '\n', len - pos) : NULL;
        size_t ln = pos < len ? (nl ? (size_t)(nl - data) - pos : len - pos) : 0;
        const char *line = data + pos;
        int end_of_stanza = pos >= len || ln == 0 || (ln == 1 && line[0] == '\r');
        if (!end_of_stanza) {
            if (text_utf8_invalid_at(line, ln) >= 0) bad = 1;
            const char *colon = line[0] != ' ' && line[0] != '\t' ? memchr(line, ':', ln) : NULL;
            if (colon) {
                size_t k = (size_t)(colon - line), rest = ln - k - 1;
                char **slot = k == 7 && !memcmp(line, "Package", 7)       ? &cur.name
                              : k == 7 && !memcmp(line, "Section", 7)     ? &cur.section
                              : k == 11 && !memcmp(line, "Description", 11) ? &cur.description
                              : k == 6 && !memcmp(line, "Source", 6)       ? &cur.source
                                                                          : NULL;
                if (slot && !*slot && !(*slot = dup_trim(colon + 1, rest)))
                    st = levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
            }
        } else if (cur.name || cur.section || cur.description) {
            if (bad) (*skipped)++;
            if (!bad && cur.name && cur.section && cur.description && *cur.name && *cur.section && *cur.description) {
                char *slash = strrchr(cur.section, '/'); /* "contrib/games" -> "games" */
                if (slash) memmove(cur.section, slash + 1, strlen(slash + 1) + 1);
                char *sp = cur.source ? strchr(cur.source, ' ') : NULL; /* "src (1.2-3)" -> "src" */
                if (sp) *sp = '\0';
                if (!cur.source || !*cur.source) {
                    free(cur.source);
                    cur.source = strdup(cur.name);
                }
                if (n == cap) {
                    cap = cap ? cap * 2 : 4096;
                    deb_package *nv = realloc(v, (size_t)cap * sizeof *nv);
                    if (!nv) st = levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
                    else v = nv;
                }
                if (st == LEVI_OK && cur.source) {
                    cur.seq = n;
                    v[n++] = cur;
                    memset(&cur, 0, sizeof cur);
                }
            }
            free_one(&cur);
            bad = 0;
        }
        pos += ln + 1;
    }
    free_one(&cur);
    if (st != LEVI_OK) {
        deb_packages_free(v, n);
        return st;
    }
    if (n > 1) qsort(v, (size_t)n, sizeof *v, cmp_name);
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (k > 0 && !strcmp(v[k - 1].name, v[i].name)) {
            free_one(&v[i]);
            continue;
        }
        v[k++] = v[i];
    }
    *out = v;
    *count = k;
    return LEVI_OK;
}

void deb_packages_free(deb_package *p, int count) {
    for (int i = 0; i < count; i++) free_one(&p[i]);
    free(p);
}
