/* safetensors writer: F32 tensors sorted by name, __metadata__ first, header
 * padded with spaces so the data starts 8-byte aligned, written atomically. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "levi/runtime.h"
#include "levi/safetensors.h"

typedef struct {
    char *name;
    int ndim;
    long long shape[LEVI_ST_MAX_DIMS];
    size_t numel;
    float *data;
} st_entry;

struct levi_st_writer {
    st_entry *items;
    int count, cap;
    cJSON *meta;
};

levi_status levi_st_writer_create(levi_st_writer **w) {
    if (!w) return levi_error(LEVI_ERR_INVALID_ARG, "levi_st_writer_create: w is NULL");
    *w = calloc(1, sizeof **w);
    if (!*w) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    (*w)->meta = cJSON_CreateObject();
    if (!(*w)->meta) {
        free(*w);
        *w = NULL;
        return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    }
    return LEVI_OK;
}

// data (shape...)
levi_status levi_st_writer_add(levi_st_writer *w, const char *name, int ndim, const long long *shape,
                               const float *data) {
    if (!w || !name) return levi_error(LEVI_ERR_INVALID_ARG, "levi_st_writer_add: writer or name is NULL");
    if (!*name || !strcmp(name, "__metadata__"))
        return levi_error(LEVI_ERR_INVALID_ARG, "safetensors writer: '%s' is not a valid tensor name", name);
    if (ndim < 0 || ndim > LEVI_ST_MAX_DIMS || (ndim > 0 && !shape))
        return levi_error(LEVI_ERR_INVALID_ARG, "safetensors writer: tensor '%s' has %d dimensions, expected 0..%d",
                          name, ndim, LEVI_ST_MAX_DIMS);
    for (int i = 0; i < w->count; i++)
        if (!strcmp(w->items[i].name, name))
            return levi_error(LEVI_ERR_INVALID_ARG, "safetensors writer: tensor '%s' added twice", name);
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return levi_error(LEVI_ERR_INVALID_ARG, "safetensors writer: tensor '%s' shape[%d] = %lld is negative",
                              name, i, shape[i]);
        if (shape[i] != 0 && numel > SIZE_MAX / 4 / (size_t)shape[i])
            return levi_error(LEVI_ERR_HOST_MEMORY, "safetensors writer: tensor '%s' is too large", name);
        numel *= (size_t)shape[i];
    }
    if (numel && !data)
        return levi_error(LEVI_ERR_INVALID_ARG, "safetensors writer: tensor '%s' has no data", name);
    if (w->count == w->cap) {
        int cap = w->cap ? 2 * w->cap : 16;
        st_entry *n = realloc(w->items, (size_t)cap * sizeof *n);
        if (!n) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
        w->items = n;
        w->cap = cap;
    }
    st_entry e = {0};
    e.name = strdup(name);
    e.data = malloc(numel ? numel * sizeof(float) : 1);
    if (!e.name || !e.data) {
        free(e.name);
        free(e.data);
        return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory copying tensor '%s'", name);
    }
    e.ndim = ndim;
    for (int i = 0; i < ndim; i++) e.shape[i] = shape[i];
    e.numel = numel;
    if (numel) memcpy(e.data, data, numel * sizeof(float));
    w->items[w->count++] = e;
    return LEVI_OK;
}

levi_status levi_st_writer_meta(levi_st_writer *w, const char *key, const char *value) {
    if (!w || !key || !value) return levi_error(LEVI_ERR_INVALID_ARG, "levi_st_writer_meta: NULL argument");
    cJSON *v = cJSON_CreateString(value);
    if (!v) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    if (cJSON_GetObjectItemCaseSensitive(w->meta, key)) {
        if (!cJSON_ReplaceItemInObjectCaseSensitive(w->meta, key, v)) {
            cJSON_Delete(v);
            return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
        }
    } else if (!cJSON_AddItemToObject(w->meta, key, v)) {
        cJSON_Delete(v);
        return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    }
    return LEVI_OK;
}

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const st_entry *)a)->name, ((const st_entry *)b)->name);
}

/* The header JSON text, not yet padded. */
static levi_status build_header(levi_st_writer *w, char **text) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    int ok = 1;
    if (cJSON_GetArraySize(w->meta) > 0) {
        cJSON *m = cJSON_Duplicate(w->meta, 1);
        ok = m && cJSON_AddItemToObject(root, "__metadata__", m);
        if (!ok) cJSON_Delete(m);
    }
    unsigned long long off = 0;
    for (int i = 0; ok && i < w->count; i++) {
        const st_entry *e = &w->items[i];
        cJSON *t = cJSON_AddObjectToObject(root, e->name);
        cJSON *shape = t ? cJSON_AddArrayToObject(t, "shape") : NULL;
        cJSON *offs = shape ? cJSON_AddArrayToObject(t, "data_offsets") : NULL;
        ok = offs && cJSON_AddStringToObject(t, "dtype", "F32");
        for (int d = 0; ok && d < e->ndim; d++)
            ok = cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)e->shape[d]));
        unsigned long long end = off + (unsigned long long)e->numel * 4ull;
        if (ok) ok = cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
        if (ok) ok = cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)end));
        off = end;
    }
    *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!*text) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory building the safetensors header");
    return LEVI_OK;
}

static levi_status write_body(levi_st_writer *w, levi_atomic_file *f, const char *text) {
    size_t n = strlen(text);
    size_t padded = (8 + n + 7) / 8 * 8 - 8;
    unsigned char lenb[8];
    for (int i = 0; i < 8; i++) lenb[i] = (unsigned char)((unsigned long long)padded >> (8 * i));
    LEVI_TRY(levi_atomic_write(f, lenb, 8));
    LEVI_TRY(levi_atomic_write(f, text, n));
    LEVI_TRY(levi_atomic_write(f, "        ", padded - n));
    enum { CHUNK = 1 << 12 };
    unsigned char buf[CHUNK * 4];
    for (int i = 0; i < w->count; i++) {
        const st_entry *e = &w->items[i];
        for (size_t j = 0; j < e->numel; j += CHUNK) {
            size_t m = e->numel - j < CHUNK ? e->numel - j : CHUNK;
            for (size_t k = 0; k < m; k++) { /* little-endian whatever the host */
                uint32_t b;
                memcpy(&b, &e->data[j + k], 4);
                for (int q = 0; q < 4; q++) buf[4 * k + (size_t)q] = (unsigned char)(b >> (8 * q));
            }
            LEVI_TRY(levi_atomic_write(f, buf, m * 4));
        }
    }
    return LEVI_OK;
}

levi_status levi_st_writer_write(levi_st_writer *w, const char *path) {
    if (!w || !path) return levi_error(LEVI_ERR_INVALID_ARG, "levi_st_writer_write: writer or path is NULL");
    qsort(w->items, (size_t)w->count, sizeof *w->items, cmp_entry);
    char *text = NULL;
    LEVI_TRY(build_header(w, &text));
    levi_atomic_file f;
    levi_status st = levi_atomic_open(&f, path);
    if (st == LEVI_OK) {
        st = write_body(w, &f, text);
        /* a failed write already removed the temporary file */
        if (st == LEVI_OK) st = levi_atomic_commit(&f);
    }
    cJSON_free(text);
    return st;
}

void levi_st_writer_free(levi_st_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->count; i++) {
        free(w->items[i].name);
        free(w->items[i].data);
    }
    free(w->items);
    cJSON_Delete(w->meta);
    free(w);
}
