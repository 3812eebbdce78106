/* Any supported image file (PNG or JPEG, told apart by their first bytes,
 * not by the name) → 8-bit gray or RGB, converted as Pillow's
 * Image.convert("L") / convert("RGB") does: alpha is dropped (not
 * composited), gray is replicated, RGB → L is ITU-R 601-2 luma in PIL's
 * integer form L = (19595 R + 38470 G + 7471 B + 2^15) >> 16. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data_internal.h"
#include "levi/files.h"

/* Images decoded by this process: tests prove with it that a later epoch
 * decodes nothing. A statistic, not state anything depends on. */
static atomic_long g_decoded;

long levi_image_decode_count(void) { return atomic_load(&g_decoded); }

static inline unsigned char luma(unsigned r, unsigned g, unsigned b) {
    return (unsigned char)((r * 19595u + g * 38470u + b * 7471u + 0x8000u) >> 16);
}

void data_convert_pixels(const unsigned char *src, int sc, unsigned char *dst, int dc, size_t n) {
    if (sc == dc) {
        memcpy(dst, src, n * (size_t)dc);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p = src + i * (size_t)sc;
        if (dc == 1) {
            dst[i] = sc <= 2 ? p[0] : luma(p[0], p[1], p[2]);
        } else if (sc <= 2) {
            dst[3 * i] = dst[3 * i + 1] = dst[3 * i + 2] = p[0];
        } else {
            dst[3 * i] = p[0];
            dst[3 * i + 1] = p[1];
            dst[3 * i + 2] = p[2];
        }
    }
}

levi_status data_read_image_file(const char *path, const char *kind, char **data, size_t *len) {
    *data = NULL;
    *len = 0;
    /* O_NONBLOCK: a FIFO named like an image must not block the open. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return levi_error(LEVI_ERR_IO, "cannot open %s '%s': %s", kind, path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return levi_error(LEVI_ERR_IO, "%s '%s' is not a regular file", kind, path);
    }
    if ((unsigned long long)sb.st_size > LEVI_IMAGE_MAX_FILE_BYTES) {
        close(fd);
        return levi_error(LEVI_ERR_FORMAT, "%s '%s' is %lld bytes, more than the %u this reader accepts", kind, path,
                          (long long)sb.st_size, LEVI_IMAGE_MAX_FILE_BYTES);
    }
    LEVI_TRY(levi_read_fd(fd, path, (size_t)sb.st_size, data));
    *len = (size_t)sb.st_size;
    return LEVI_OK;
}

levi_image_format levi_image_sniff(const unsigned char *data, size_t len) {
    if (len >= 8 && !memcmp(data, "\x89PNG\r\n\x1a\n", 8)) return LEVI_IMAGE_PNG;
    if (len >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return LEVI_IMAGE_JPEG;
    return LEVI_IMAGE_UNKNOWN;
}

levi_status levi_image_decode(const unsigned char *data, size_t len, const char *name, int channels, int *width,
                              int *height, unsigned char **pixels) {
    *pixels = NULL;
    levi_status st;
    switch (levi_image_sniff(data, len)) {
    case LEVI_IMAGE_PNG: st = levi_png_decode(data, len, name, channels, width, height, pixels); break;
    case LEVI_IMAGE_JPEG: st = levi_jpeg_decode(data, len, name, channels, width, height, pixels); break;
    default:
        if (len == 0) return levi_error(LEVI_ERR_FORMAT, "image '%s': empty file (0 bytes)", name);
        return levi_error(LEVI_ERR_FORMAT, "'%s' is neither a PNG nor a JPEG file (unknown signature)", name);
    }
    if (st == LEVI_OK) atomic_fetch_add(&g_decoded, 1);
    return st;
}

levi_status data_decode_file(const char *path, const char *kind, data_image_decoder decode, int channels, int *width,
                             int *height, unsigned char **pixels) {
    *pixels = NULL;
    char *d;
    size_t len;
    LEVI_TRY(data_read_image_file(path, kind, &d, &len));
    levi_status st = decode((const unsigned char *)d, len, path, channels, width, height, pixels);
    free(d);
    return st;
}

levi_status levi_image_read(const char *path, int channels, int *width, int *height, unsigned char **pixels) {
    return data_decode_file(path, "image", levi_image_decode, channels, width, height, pixels);
}
