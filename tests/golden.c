/* Golden fixture reader; see golden.h for the format. */
#include "golden.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(golden_file *g, char *err, size_t len, const char *path, const char *what) {
    snprintf(err, len, "%s: %s", path, what);
    golden_free(g);
    return -1;
}

static int read_u32(const char *blob, size_t size, size_t *pos, uint32_t *v) {
    if (size - *pos < 4) return -1;
    memcpy(v, blob + *pos, 4);
    *pos += 4;
    return 0;
}

int golden_load(golden_file *g, const char *path, char *err, size_t err_len) {
    memset(g, 0, sizeof *g);
    FILE *f = fopen(path, "rb");
    if (!f) return fail(g, err, err_len, path, "cannot open (run tools/golden_ops.py to regenerate)");
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (sz < 16) {
        fclose(f);
        return fail(g, err, err_len, path, "shorter than the 16-byte header");
    }
    size_t size = (size_t)sz;
    g->blob = malloc(size);
    if (!g->blob || fread(g->blob, 1, size, f) != size) {
        fclose(f);
        return fail(g, err, err_len, path, "cannot read");
    }
    fclose(f);
    if (memcmp(g->blob, GOLDEN_MAGIC, 8) != 0) return fail(g, err, err_len, path, "bad magic (expected LEVIGLD1)");
    size_t pos = 8;
    uint32_t version, count;
    read_u32(g->blob, size, &pos, &version);
    read_u32(g->blob, size, &pos, &count);
    if (version != GOLDEN_VERSION) return fail(g, err, err_len, path, "unsupported version (expected 1)");
    if (count == 0 || count > 100000) return fail(g, err, err_len, path, "array count out of range");
    g->arrays = calloc(count, sizeof *g->arrays);
    if (!g->arrays) return fail(g, err, err_len, path, "out of memory");
    for (uint32_t i = 0; i < count; i++) {
        golden_array *a = &g->arrays[i];
        g->count = (int)i; /* arrays [0, i) own their data */
        uint32_t name_len, ndim;
        if (read_u32(g->blob, size, &pos, &name_len) || name_len == 0 || name_len >= sizeof a->name ||
            size - pos < name_len)
            return fail(g, err, err_len, path, "truncated or bad array name");
        memcpy(a->name, g->blob + pos, name_len);
        pos += name_len;
        if (read_u32(g->blob, size, &pos, &ndim) || ndim < 1 || ndim > 4)
            return fail(g, err, err_len, path, "bad ndim (expected 1..4)");
        a->ndim = (int)ndim;
        a->numel = 1;
        for (uint32_t d = 0; d < ndim; d++) {
            uint32_t dim;
            if (read_u32(g->blob, size, &pos, &dim) || dim == 0 || dim > (1u << 28))
                return fail(g, err, err_len, path, "bad dimension");
            a->shape[d] = (int)dim;
            a->numel *= dim;
        }
        if (a->numel > (size - pos) / 4) return fail(g, err, err_len, path, "array data runs past the end");
        a->data = malloc(a->numel * sizeof(float)); /* the blob offset need not be aligned */
        if (!a->data) return fail(g, err, err_len, path, "out of memory");
        memcpy(a->data, g->blob + pos, a->numel * 4);
        pos += a->numel * 4;
        g->count = (int)i + 1;
    }
    if (pos != size) return fail(g, err, err_len, path, "trailing bytes after the last array");
    return 0;
}

const golden_array *golden_get(const golden_file *g, const char *name) {
    for (int i = 0; i < g->count; i++)
        if (!strcmp(g->arrays[i].name, name)) return &g->arrays[i];
    return NULL;
}

void golden_free(golden_file *g) {
    for (int i = 0; g->arrays && i < g->count; i++) free(g->arrays[i].data);
    free(g->arrays);
    free(g->blob);
    memset(g, 0, sizeof *g);
}

void golden_path(char *buf, size_t len, const char *name) {
    const char *dir = getenv("LEVI_FIXTURES");
    snprintf(buf, len, "%s/%s", dir && *dir ? dir : "tests/fixtures", name);
}
