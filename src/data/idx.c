/* IDX files (the MNIST / Fashion-MNIST format), gzip-compressed or raw.
 * Header: 0x00 0x00 type ndim, then ndim big-endian uint32 sizes, then the
 * data. We accept only unsigned bytes (type 0x08): images (ndim 3) and
 * labels (ndim 1). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "levi/data.h"

/* Largest IDX we read (decompressed): well above Fashion-MNIST's 47 MB. */
#define IDX_MAX_BYTES (1u << 30)

static unsigned be32(const unsigned char *p) {
    return (unsigned)p[0] << 24 | (unsigned)p[1] << 16 | (unsigned)p[2] << 8 | (unsigned)p[3];
}

/* The whole file, gunzipped when it is gzip (gzread passes raw files through). */
static levi_status read_gz(const char *path, unsigned char **data, size_t *len) {
    *data = NULL;
    *len = 0;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return levi_error(LEVI_ERR_IO, "cannot open IDX file '%s': %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return levi_error(LEVI_ERR_IO, "IDX file '%s' is not a regular file", path);
    gzFile f = gzopen(path, "rb");
    if (!f) return levi_error(LEVI_ERR_IO, "cannot open IDX file '%s': %s", path, strerror(errno ? errno : ENOENT));
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        gzclose(f);
        return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory reading '%s'", path);
    }
    for (;;) {
        if (n == cap) {
            if (cap >= IDX_MAX_BYTES) {
                free(buf);
                gzclose(f);
                return levi_error(LEVI_ERR_FORMAT, "IDX file '%s' is larger than %u bytes uncompressed", path,
                                  IDX_MAX_BYTES);
            }
            unsigned char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                gzclose(f);
                return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory reading '%s'", path);
            }
            buf = nb;
            cap *= 2;
        }
        int r = gzread(f, buf + n, (unsigned)(cap - n));
        if (r < 0) {
            int zerr;
            const char *msg = gzerror(f, &zerr);
            levi_status st = levi_error(LEVI_ERR_FORMAT, "IDX file '%s': corrupt gzip data (%s)", path, msg);
            free(buf);
            gzclose(f);
            return st;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    /* gzread returns 0 (not an error) on a truncated gzip stream: ask. */
    int zerr = Z_OK;
    gzerror(f, &zerr);
    gzclose(f);
    if (zerr != Z_OK && zerr != Z_STREAM_END) {
        free(buf);
        return levi_error(LEVI_ERR_FORMAT, "IDX file '%s': truncated or corrupt gzip data", path);
    }
    *data = buf;
    *len = n;
    return LEVI_OK;
}

/* Validate the header: magic (type 0x08, ndim), sizes, and that the data
 * length equals the product of the sizes exactly. */
static levi_status parse_header(const unsigned char *d, size_t len, const char *name, int ndim, unsigned *dims,
                                size_t *count) {
    const char *what = ndim == 3 ? "images" : "labels";
    if (len < 4)
        return levi_error(LEVI_ERR_FORMAT, "IDX file '%s': %zu bytes, too short for a header (expected %s)", name,
                          len, what);
    unsigned magic = be32(d);
    unsigned want = 0x0800u | (unsigned)ndim;
    if (magic != want)
        return levi_error(LEVI_ERR_FORMAT,
                          "IDX file '%s': bad magic 0x%08x, expected 0x%08x (unsigned-byte %s with %d dimension%s)",
                          name, magic, want, what, ndim, ndim > 1 ? "s" : "");
    size_t hdr = 4 + 4 * (size_t)ndim;
    if (len < hdr)
        return levi_error(LEVI_ERR_FORMAT, "IDX file '%s': header truncated (%zu of %zu bytes)", name, len, hdr);
    size_t total = 1;
    for (int i = 0; i < ndim; i++) {
        dims[i] = be32(d + 4 + 4 * i);
        if (dims[i] == 0 || dims[i] > IDX_MAX_BYTES)
            return levi_error(LEVI_ERR_FORMAT, "IDX file '%s': dimension %d is %u, expected 1..%u", name, i, dims[i],
                              IDX_MAX_BYTES);
        if (total > IDX_MAX_BYTES / dims[i])
            return levi_error(LEVI_ERR_FORMAT, "IDX file '%s': sizes multiply past %u bytes", name, IDX_MAX_BYTES);
        total *= dims[i];
    }
    if (len - hdr != total)
        return levi_error(LEVI_ERR_FORMAT,
                          "IDX file '%s': header claims %u %s (%zu data bytes) but the file holds %zu data bytes",
                          name, dims[0], what, total, len - hdr);
    *count = total;
    return LEVI_OK;
}

levi_status levi_idx_parse_images(const unsigned char *data, size_t len, const char *name, int *n, int *rows,
                                  int *cols, unsigned char **pixels) {
    *pixels = NULL;
    unsigned dims[3] = {0, 0, 0};
    size_t count = 0;
    LEVI_TRY(parse_header(data, len, name, 3, dims, &count));
    if (dims[1] > LEVI_PNG_MAX_SIDE || dims[2] > LEVI_PNG_MAX_SIDE)
        return levi_error(LEVI_ERR_FORMAT, "IDX file '%s': images of %ux%u, expected sides up to %d", name, dims[1],
                          dims[2], LEVI_PNG_MAX_SIDE);
    unsigned char *p = malloc(count);
    if (!p) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory for '%s' (%zu bytes)", name, count);
    memcpy(p, data + 16, count);
    *n = (int)dims[0];
    *rows = (int)dims[1];
    *cols = (int)dims[2];
    *pixels = p;
    return LEVI_OK;
}

levi_status levi_idx_parse_labels(const unsigned char *data, size_t len, const char *name, int *n,
                                  unsigned char **labels) {
    *labels = NULL;
    unsigned dims[1] = {0};
    size_t count = 0;
    LEVI_TRY(parse_header(data, len, name, 1, dims, &count));
    for (size_t i = 0; i < count; i++)
        if (data[8 + i] >= 10)
            return levi_error(LEVI_ERR_FORMAT, "IDX file '%s': label %zu is %u, expected 0..9", name, i,
                              data[8 + i]);
    unsigned char *p = malloc(count);
    if (!p) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory for '%s' (%zu bytes)", name, count);
    memcpy(p, data + 8, count);
    *n = (int)dims[0];
    *labels = p;
    return LEVI_OK;
}

levi_status levi_idx_read_images(const char *path, int *n, int *rows, int *cols, unsigned char **pixels) {
    unsigned char *d;
    size_t len;
    *pixels = NULL;
    LEVI_TRY(read_gz(path, &d, &len));
    levi_status st = levi_idx_parse_images(d, len, path, n, rows, cols, pixels);
    free(d);
    return st;
}

levi_status levi_idx_read_labels(const char *path, int *n, unsigned char **labels) {
    unsigned char *d;
    size_t len;
    *labels = NULL;
    LEVI_TRY(read_gz(path, &d, &len));
    levi_status st = levi_idx_parse_labels(d, len, path, n, labels);
    free(d);
    return st;
}
