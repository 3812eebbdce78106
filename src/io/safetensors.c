/* safetensors reader: validation as in huggingface/safetensors src/tensor.rs
 * (header length limits, UTF-8 JSON, schema, sorted-contiguous offsets,
 * overflow-checked sizes, data ending exactly at the end of the file), plus
 * explicit rejection of duplicate names. F32, F16 and BF16 load as F32.
 * The data is read with pread/memcpy byte by byte, so unaligned tensors load. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "levi/safetensors.h"
#include "levi/files.h"

/* --- dtypes ---------------------------------------------------------------- */

typedef enum { DT_F32, DT_F16, DT_BF16, DT_OTHER } dtype_kind;

static const struct {
    const char *name;
    unsigned bits;
    dtype_kind kind;
} dtypes[] = {
    {"F32", 32, DT_F32},       {"F16", 16, DT_F16},       {"BF16", 16, DT_BF16},     {"BOOL", 8, DT_OTHER},
    {"U8", 8, DT_OTHER},       {"I8", 8, DT_OTHER},       {"F8_E5M2", 8, DT_OTHER},  {"F8_E4M3", 8, DT_OTHER},
    {"F8_E8M0", 8, DT_OTHER},  {"I16", 16, DT_OTHER},     {"U16", 16, DT_OTHER},     {"I32", 32, DT_OTHER},
    {"U32", 32, DT_OTHER},     {"F64", 64, DT_OTHER},     {"I64", 64, DT_OTHER},     {"U64", 64, DT_OTHER},
    {"C64", 64, DT_OTHER},     {"F4", 4, DT_OTHER},       {"F6_E2M3", 6, DT_OTHER},  {"F6_E3M2", 6, DT_OTHER},
};

static int dtype_find(const char *s) {
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (!strcmp(dtypes[i].name, s)) return (int)i;
    return -1;
}

float levi_f16_to_f32(unsigned short h) {
    unsigned sign = h >> 15, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    float v;
    if (exp == 0) {
        v = ldexpf((float)mant, -24); /* zero or subnormal, exact */
    } else if (exp == 31) {
        uint32_t bits = 0x7f800000u | ((uint32_t)mant << 13); /* inf, nan keeps its payload */
        memcpy(&v, &bits, 4);
    } else {
        uint32_t bits = ((exp + 112u) << 23) | ((uint32_t)mant << 13);
        memcpy(&v, &bits, 4);
    }
    return sign ? -v : v;
}

float levi_bf16_to_f32(unsigned short h) {
    uint32_t bits = (uint32_t)h << 16;
    float v;
    memcpy(&v, &bits, 4);
    return v;
}

/* --- source: a file descriptor or a memory buffer ------------------------------ */

typedef struct {
    int fd;
    const unsigned char *buf;
    size_t len;
    const char *what;
} st_src;

static levi_status src_read(const st_src *s, uint64_t off, void *dst, size_t n) {
    if (off > s->len || n > s->len - off)
        return levi_error(LEVI_ERR_FORMAT, "%s: read of %zu bytes at %llu runs past the end", s->what, n,
                          (unsigned long long)off);
    if (s->buf) {
        memcpy(dst, s->buf + off, n);
        return LEVI_OK;
    }
    unsigned char *p = dst;
    while (n > 0) {
        ssize_t r = pread(s->fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
            return levi_error(LEVI_ERR_IO, "%s: read failed at byte %llu: %s", s->what, (unsigned long long)off,
                              r < 0 ? strerror(errno) : "unexpected end of file");
        p += r;
        off += (uint64_t)r;
        n -= (size_t)r;
    }
    return LEVI_OK;
}

/* --- header validation -------------------------------------------------------- */

/* Strict UTF-8 (no overlongs, surrogates or code points above U+10FFFF); raw
 * control bytes are refused too, since JSON allows them only as whitespace. */
static size_t utf8_invalid_at(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return i;
            i++;
            continue;
        }
        size_t k;
        unsigned cp, min;
        if ((c & 0xe0) == 0xc0) k = 1, cp = c & 0x1f, min = 0x80;
        else if ((c & 0xf0) == 0xe0) k = 2, cp = c & 0x0f, min = 0x800;
        else if ((c & 0xf8) == 0xf0) k = 3, cp = c & 0x07, min = 0x10000;
        else return i;
        if (i + k >= n) return i;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80) return i;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
        i += k + 1;
    }
    return (size_t)-1;
}

typedef struct {
    const char *name; /* points into the cJSON tree */
    int dtype;
    int ndim;
    long long shape[LEVI_ST_MAX_DIMS];
    uint64_t begin, end;
    size_t numel;
} st_info;

/* A JSON number that is a non-negative integer exactly representable (< 2^53). */
static int json_uint(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0) || signbit(d) || d != floor(d) || d > 9007199254740992.0) return 0; /* "-0" too */
    *out = (uint64_t)d;
    return 1;
}

static levi_status parse_tensor(const st_src *s, const cJSON *item, st_info *t, int *unsupported_dims) {
    const char *w = s->what, *nm = item->string;
    if (!cJSON_IsObject(item))
        return levi_error(LEVI_ERR_FORMAT, "%s: tensor '%s': expected an object with dtype, shape and data_offsets",
                          w, nm);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!dt || !sh || !off)
        return levi_error(LEVI_ERR_FORMAT, "%s: tensor '%s': missing field '%s'", w, nm,
                          !dt ? "dtype" : !sh ? "shape" : "data_offsets");
    if (!cJSON_IsString(dt))
        return levi_error(LEVI_ERR_FORMAT, "%s: tensor '%s': field 'dtype' must be a string", w, nm);
    t->name = nm;
    t->dtype = dtype_find(dt->valuestring);
    if (t->dtype < 0)
        return levi_error(LEVI_ERR_FORMAT, "%s: tensor '%s': unknown dtype '%s'", w, nm, dt->valuestring);
    if (!cJSON_IsArray(sh))
        return levi_error(LEVI_ERR_FORMAT, "%s: tensor '%s': field 'shape' must be an array of integers", w, nm);
    int nd = cJSON_GetArraySize(sh), i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, sh) {
        uint64_t v;
        if (!json_uint(e, &v))
            return levi_error(LEVI_ERR_FORMAT, "%s: tensor '%s': shape[%d] must be a non-negative integer", w, nm, i);
        if (i < LEVI_ST_MAX_DIMS) t->shape[i] = (long long)v;
        i++;
    }
    t->ndim = nd;
    if (nd > LEVI_ST_MAX_DIMS) *unsupported_dims = 1;
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2)
        return levi_error(LEVI_ERR_FORMAT, "%s: tensor '%s': field 'data_offsets' must be [begin, end]", w, nm);
    if (!json_uint(cJSON_GetArrayItem(off, 0), &t->begin) || !json_uint(cJSON_GetArrayItem(off, 1), &t->end))
        return levi_error(LEVI_ERR_FORMAT, "%s: tensor '%s': data_offsets must be non-negative integers", w, nm);
    return LEVI_OK;
}

static int cmp_info_offsets(const void *a, const void *b) {
    const st_info *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int cmp_strp(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Offsets tile [0, data_len) in order; each byte size matches shape x dtype. */
static levi_status check_layout(const st_src *s, st_info *infos, int n, uint64_t data_len) {
    qsort(infos, (size_t)n, sizeof *infos, cmp_info_offsets);
    uint64_t expect = 0;
    for (int i = 0; i < n; i++) {
        st_info *t = &infos[i];
        if (t->begin != expect || t->end < t->begin)
            return levi_error(LEVI_ERR_FORMAT,
                              "%s: tensor '%s': data_offsets [%llu, %llu] must start at byte %llu "
                              "(tensors must tile the data without gaps or overlaps)",
                              s->what, t->name, (unsigned long long)t->begin, (unsigned long long)t->end,
                              (unsigned long long)expect);
        expect = t->end;
        uint64_t numel = 1;
        for (int d = 0; d < t->ndim && d < LEVI_ST_MAX_DIMS; d++) {
            uint64_t v = (uint64_t)t->shape[d];
            if (v != 0 && numel > UINT64_MAX / v)
                return levi_error(LEVI_ERR_FORMAT, "%s: tensor '%s': element count of the shape overflows", s->what,
                                  t->name);
            numel *= v;
        }
        unsigned bits = dtypes[t->dtype].bits;
        if (numel > UINT64_MAX / bits || numel > SIZE_MAX)
            return levi_error(LEVI_ERR_FORMAT, "%s: tensor '%s': byte size of the shape overflows", s->what, t->name);
        uint64_t nbits = numel * bits;
        if (nbits % 8 != 0)
            return levi_error(LEVI_ERR_FORMAT, "%s: tensor '%s': %llu elements of %s do not fill whole bytes", s->what,
                              t->name, (unsigned long long)numel, dtypes[t->dtype].name);
        if (t->end - t->begin != nbits / 8)
            return levi_error(LEVI_ERR_FORMAT,
                              "%s: tensor '%s': data_offsets [%llu, %llu] hold %llu bytes but %llu elements of %s "
                              "need %llu",
                              s->what, t->name, (unsigned long long)t->begin, (unsigned long long)t->end,
                              (unsigned long long)(t->end - t->begin), (unsigned long long)numel,
                              dtypes[t->dtype].name, (unsigned long long)(nbits / 8));
        t->numel = (size_t)numel;
    }
    if (expect != data_len)
        return levi_error(LEVI_ERR_FORMAT, "%s: tensor data ends at byte %llu of the data but the file holds %llu data bytes",
                          s->what, (unsigned long long)expect, (unsigned long long)data_len);
    return LEVI_OK;
}

/* --- conversion ----------------------------------------------------------------- */

static levi_status load_tensor(const st_src *s, uint64_t data_start, const st_info *t, float *dst) {
    enum { CHUNK = 1 << 12 };
    unsigned char buf[CHUNK * 4];
    size_t esz = dtypes[t->dtype].bits / 8;
    for (size_t i = 0; i < t->numel; i += CHUNK) {
        size_t m = t->numel - i < CHUNK ? t->numel - i : CHUNK;
        LEVI_TRY(src_read(s, data_start + t->begin + i * esz, buf, m * esz));
        const unsigned char *p = buf;
        for (size_t j = 0; j < m; j++, p += esz) {
            if (dtypes[t->dtype].kind == DT_F32) {
                uint32_t b = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
                memcpy(&dst[i + j], &b, 4);
            } else {
                unsigned short h = (unsigned short)(p[0] | p[1] << 8);
                dst[i + j] = dtypes[t->dtype].kind == DT_F16 ? levi_f16_to_f32(h) : levi_bf16_to_f32(h);
            }
        }
    }
    return LEVI_OK;
}

/* --- entry points --------------------------------------------------------------- */

/* BERT checkpoints from older transformers carry the integer buffer
 * "embeddings.position_ids" (0..P-1), which is no weight: it is skipped. */
static int is_index_buffer(const st_info *t) {
    size_t n = strlen(t->name);
    return (!strcmp(dtypes[t->dtype].name, "I64") || !strcmp(dtypes[t->dtype].name, "I32")) && n >= 12 &&
           !strcmp(t->name + n - 12, "position_ids");
}

static levi_status read_all(const st_src *s, levi_safetensors *out, cJSON **root, st_info **infos_out) {
    const char *w = s->what;
    if (s->len < 8)
        return levi_error(LEVI_ERR_FORMAT, "%s: %zu bytes is shorter than the 8-byte header length", w, s->len);
    unsigned char lenb[8];
    LEVI_TRY(src_read(s, 0, lenb, 8));
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | lenb[i];
    if (n > LEVI_ST_MAX_HEADER)
        return levi_error(LEVI_ERR_FORMAT, "%s: header length %llu is above the limit of %u bytes", w,
                          (unsigned long long)n, LEVI_ST_MAX_HEADER);
    if (n > s->len - 8)
        return levi_error(LEVI_ERR_FORMAT, "%s: header length %llu runs past the end of the file (%zu bytes)", w,
                          (unsigned long long)n, s->len);
    char *hdr = malloc((size_t)n + 1);
    if (!hdr) return levi_error(LEVI_ERR_HOST_MEMORY, "%s: out of host memory for the header", w);
    levi_status st = src_read(s, 8, hdr, (size_t)n);
    if (st != LEVI_OK) {
        free(hdr);
        return st;
    }
    hdr[n] = '\0';
    size_t bad = utf8_invalid_at((const unsigned char *)hdr, (size_t)n);
    if (bad != (size_t)-1) {
        free(hdr);
        return levi_error(LEVI_ERR_FORMAT, "%s: header is not valid UTF-8 JSON text (bad byte at header offset %zu)", w,
                          bad);
    }
    if (n == 0 || hdr[0] != '{') {
        free(hdr);
        return levi_error(LEVI_ERR_FORMAT, "%s: header must start with '{'", w);
    }
    const char *end = NULL;
    *root = cJSON_ParseWithLengthOpts(hdr, (size_t)n, &end, 0);
    if (!*root) {
        size_t at = end ? (size_t)(end - hdr) : 0;
        free(hdr);
        return levi_error(LEVI_ERR_FORMAT, "%s: header is not valid JSON (error near header offset %zu)", w, at);
    }
    for (const char *p = end; p < hdr + n; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            size_t at = (size_t)(p - hdr);
            free(hdr);
            return levi_error(LEVI_ERR_FORMAT, "%s: unexpected bytes after the JSON header at header offset %zu", w, at);
        }
    free(hdr);
    if (!cJSON_IsObject(*root)) return levi_error(LEVI_ERR_FORMAT, "%s: header must be a JSON object", w);

    int count = cJSON_GetArraySize(*root), ntensor = 0, nmeta = 0;
    const char **names = calloc((size_t)count + 1, sizeof *names);
    st_info *infos = calloc((size_t)count + 1, sizeof *infos);
    *infos_out = infos;
    if (!names || !infos) {
        free(names);
        return levi_error(LEVI_ERR_HOST_MEMORY, "%s: out of host memory", w);
    }
    int dims_unsupported = 0;
    const cJSON *item, *meta = NULL;
    cJSON_ArrayForEach(item, *root) {
        names[nmeta + ntensor] = item->string;
        if (!strcmp(item->string, "__metadata__")) {
            nmeta++;
            meta = item;
            if (!cJSON_IsObject(item)) {
                st = levi_error(LEVI_ERR_FORMAT, "%s: '__metadata__' must be an object of strings", w);
                break;
            }
            const cJSON *kv;
            cJSON_ArrayForEach(kv, item) {
                if (!cJSON_IsString(kv)) {
                    st = levi_error(LEVI_ERR_FORMAT, "%s: __metadata__ value for key '%s' must be a string", w,
                                    kv->string);
                    break;
                }
            }
            if (st != LEVI_OK) break;
            continue;
        }
        st = parse_tensor(s, item, &infos[ntensor], &dims_unsupported);
        if (st != LEVI_OK) break;
        ntensor++;
    }
    if (st == LEVI_OK) {
        qsort(names, (size_t)(nmeta + ntensor), sizeof *names, cmp_strp);
        for (int i = 1; i < nmeta + ntensor; i++)
            if (!strcmp(names[i - 1], names[i])) {
                st = levi_error(LEVI_ERR_FORMAT, "%s: duplicate entry '%s' in the header", w, names[i]);
                break;
            }
    }
    free(names);
    if (st != LEVI_OK) return st;
    uint64_t data_start = 8 + n;
    LEVI_TRY(check_layout(s, infos, ntensor, (uint64_t)s->len - data_start));
    for (int i = 0; i < ntensor; i++) {
        if (is_index_buffer(&infos[i])) continue;
        if (dtypes[infos[i].dtype].kind == DT_OTHER)
            return levi_error(LEVI_ERR_UNSUPPORTED,
                              "unsupported dtype %s for tensor %s in %s (levi-cl loads F32, F16 and BF16)",
                              dtypes[infos[i].dtype].name, infos[i].name, w);
        if (infos[i].ndim > LEVI_ST_MAX_DIMS)
            return levi_error(LEVI_ERR_UNSUPPORTED, "%s: tensor '%s' has %d dimensions; at most %d are supported", w,
                              infos[i].name, infos[i].ndim, LEVI_ST_MAX_DIMS);
    }

    out->tensors = calloc((size_t)ntensor + 1, sizeof *out->tensors);
    if (!out->tensors) return levi_error(LEVI_ERR_HOST_MEMORY, "%s: out of host memory", w);
    for (int i = 0, k = 0; i < ntensor; i++) {
        if (is_index_buffer(&infos[i])) continue; /* not a weight: skipped */
        levi_st_tensor *t = &out->tensors[k++];
        out->count = k;
        t->name = strdup(infos[i].name);
        t->ndim = infos[i].ndim;
        memcpy(t->shape, infos[i].shape, sizeof t->shape);
        t->numel = infos[i].numel;
        t->data = malloc((t->numel ? t->numel : 1) * sizeof(float));
        if (!t->name || !t->data)
            return levi_error(LEVI_ERR_HOST_MEMORY, "%s: out of host memory for tensor '%s' (%zu elements)", w,
                              infos[i].name, infos[i].numel);
        LEVI_TRY(load_tensor(s, data_start, &infos[i], t->data));
    }
    if (meta) {
        out->metadata_json = cJSON_PrintUnformatted(meta);
        out->meta_ = cJSON_DetachItemViaPointer(*root, (cJSON *)meta);
        if (!out->metadata_json || !out->meta_) return levi_error(LEVI_ERR_HOST_MEMORY, "%s: out of host memory", w);
    }
    return LEVI_OK;
}

static levi_status read_src(const st_src *s, levi_safetensors *out) {
    memset(out, 0, sizeof *out);
    cJSON *root = NULL;
    st_info *infos = NULL;
    levi_status st = read_all(s, out, &root, &infos);
    cJSON_Delete(root);
    free(infos);
    if (st != LEVI_OK) levi_safetensors_free(out);
    return st;
}

levi_status levi_safetensors_parse(const void *buf, size_t len, const char *what, levi_safetensors *out) {
    if (!out) return levi_error(LEVI_ERR_INVALID_ARG, "levi_safetensors_parse: out is NULL");
    memset(out, 0, sizeof *out);
    if (!buf && len) return levi_error(LEVI_ERR_INVALID_ARG, "levi_safetensors_parse: buffer is NULL");
    st_src s = {.fd = -1, .buf = buf ? buf : (const void *)"", .len = len, .what = what ? what : "<buffer>"};
    return read_src(&s, out);
}

levi_status levi_safetensors_read(const char *path, levi_safetensors *out) {
    if (!out) return levi_error(LEVI_ERR_INVALID_ARG, "levi_safetensors_read: out is NULL");
    memset(out, 0, sizeof *out);
    if (!path) return levi_error(LEVI_ERR_INVALID_ARG, "levi_safetensors_read: path is NULL");
    int fd;
    size_t size;
    LEVI_TRY(levi_open_regular(path, &fd, &size)); /* never blocks on a FIFO or device */
    st_src s = {.fd = fd, .buf = NULL, .len = size, .what = path};
    levi_status st = read_src(&s, out);
    close(fd);
    return st;
}

const levi_st_tensor *levi_safetensors_find(const levi_safetensors *st, const char *name) {
    if (!st || !name) return NULL;
    for (int i = 0; i < st->count; i++)
        if (st->tensors[i].name && !strcmp(st->tensors[i].name, name)) return &st->tensors[i];
    return NULL;
}

const char *levi_safetensors_meta(const levi_safetensors *st, const char *key) {
    if (!st || !st->meta_ || !key) return NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive((const cJSON *)st->meta_, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

void levi_safetensors_free(levi_safetensors *st) {
    if (!st) return;
    for (int i = 0; i < st->count; i++) {
        free(st->tensors[i].name);
        free(st->tensors[i].data);
    }
    free(st->tensors);
    cJSON_free(st->metadata_json);
    cJSON_Delete(st->meta_);
    memset(st, 0, sizeof *st);
}
