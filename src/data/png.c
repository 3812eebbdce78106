/* PNG through libpng: decode any PNG to 8-bit gray or RGB, encode 8-bit gray
 * or RGB (deterministic bytes, zlib level 1), bilinear resize, and
 * levi_image_load (one PNG or JPEG → floats in [0,1]). */
#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data_internal.h"
#include "levi/runtime.h"

#define PNG_MAX_PIXELS LEVI_IMAGE_MAX_PIXELS
/* Memory libpng may allocate for one ancillary chunk (iCCP, zTXt, ...) beyond
 * the file's own size: a chunk can never hold more than the file, so a header
 * claiming 2 GB in a 44-byte file is refused before anything is allocated. */
#define PNG_CHUNK_SLACK (8u << 20)

typedef struct png_err {
    jmp_buf jmp;
    char msg[200];
} png_err;

static void on_error(png_structp png, png_const_charp msg) {
    png_err *e = png_get_error_ptr(png);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    longjmp(e->jmp, 1);
}

static void on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

typedef struct mem_reader {
    const unsigned char *data;
    size_t len, pos;
} mem_reader;

static void read_mem(png_structp png, png_bytep out, png_size_t n) {
    mem_reader *r = png_get_io_ptr(png);
    if (n > r->len - r->pos) png_error(png, "file ends early (truncated PNG)");
    memcpy(out, r->data + r->pos, n);
    r->pos += n;
}

levi_status levi_png_decode(const unsigned char *data, size_t len, const char *name, int channels, int *width,
                            int *height, unsigned char **pixels) {
    *pixels = NULL;
    if (channels != 1 && channels != 3)
        return levi_error(LEVI_ERR_INVALID_ARG, "PNG '%s': asked for %d channels, expected 1 or 3", name, channels);
    if (len == 0) return levi_error(LEVI_ERR_FORMAT, "PNG '%s': empty file (0 bytes)", name);
    if (len < 8 || png_sig_cmp(data, 0, 8))
        return levi_error(LEVI_ERR_FORMAT, "'%s' is not a PNG file (bad signature)", name);
    /* IHDR must come first: check the claimed size before libpng reads on. */
    if (len >= 24 && !memcmp(data + 12, "IHDR", 4)) {
        unsigned long long hw = (unsigned long long)data[16] << 24 | data[17] << 16 | data[18] << 8 | data[19];
        unsigned long long hh = (unsigned long long)data[20] << 24 | data[21] << 16 | data[22] << 8 | data[23];
        if (hw == 0 || hh == 0 || hw > LEVI_PNG_MAX_SIDE || hh > LEVI_PNG_MAX_SIDE || hw * hh > PNG_MAX_PIXELS)
            return levi_error(LEVI_ERR_FORMAT,
                              "PNG '%s': header claims %llux%llu pixels, expected sides 1..%d and at most %u pixels",
                              name, hw, hh, LEVI_PNG_MAX_SIDE, PNG_MAX_PIXELS);
    }
    /* Every chunk's claimed length against the bytes left, before libpng
     * allocates a buffer for it (a 44-byte file claiming a 2 GB chunk). */
    for (size_t pos = 8; pos + 8 <= len;) {
        const unsigned char *c = data + pos;
        unsigned long n = (unsigned long)c[0] << 24 | (unsigned long)c[1] << 16 | (unsigned long)c[2] << 8 | c[3];
        if (n > 0x7fffffffUL || n + 12 > len - pos)
            return levi_error(LEVI_ERR_FORMAT, "PNG '%s': chunk '%.4s' at byte %zu claims %lu bytes; the file has %zu left",
                              name, (const char *)c + 4, pos, n, len - pos - 8);
        if (!memcmp(c + 4, "IEND", 4)) break;
        pos += 12 + (size_t)n;
    }
    png_err err = {.msg = ""};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &err, on_error, on_warning);
    if (!png) return levi_error(LEVI_ERR_HOST_MEMORY, "PNG '%s': libpng could not start", name);
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return levi_error(LEVI_ERR_HOST_MEMORY, "PNG '%s': libpng could not start", name);
    }
    unsigned char *volatile rgba = NULL;
    png_bytep *volatile rows = NULL;
    unsigned char *volatile out = NULL;
    if (setjmp(err.jmp)) {
        free(rgba);
        free(rows);
        free(out);
        png_destroy_read_struct(&png, &info, NULL);
        return levi_error(LEVI_ERR_FORMAT, "PNG '%s': %s", name, err.msg);
    }
    mem_reader r = {data, len, 0};
    png_set_read_fn(png, &r, read_mem);
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff); /* our own check below names the size */
    png_set_chunk_malloc_max(png, len + PNG_CHUNK_SLACK);
    png_read_info(png, info);
    png_uint_32 w = 0, h = 0;
    int depth, color, interlace;
    png_get_IHDR(png, info, &w, &h, &depth, &color, &interlace, NULL, NULL);
    if (w == 0 || h == 0 || w > LEVI_PNG_MAX_SIDE || h > LEVI_PNG_MAX_SIDE ||
        (unsigned long long)w * h > PNG_MAX_PIXELS) {
        png_destroy_read_struct(&png, &info, NULL);
        return levi_error(LEVI_ERR_FORMAT, "PNG '%s': header claims %ux%u pixels, expected sides 1..%d and at most %u pixels",
                          name, (unsigned)w, (unsigned)h, LEVI_PNG_MAX_SIDE, PNG_MAX_PIXELS);
    }
    /* Everything to 8-bit gray, gray+alpha, RGB or RGBA, then PIL's convert. */
    png_set_expand(png);
    png_set_strip_16(png);
    if (interlace != PNG_INTERLACE_NONE) png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int nc = png_get_channels(png, info);
    if (nc < 1 || nc > 4 || png_get_rowbytes(png, info) != (size_t)w * (size_t)nc)
        png_error(png, "unexpected row layout after conversion");
    rgba = malloc((size_t)w * h * (size_t)nc);
    rows = malloc(sizeof(png_bytep) * h);
    out = malloc((size_t)w * h * (size_t)channels);
    if (!rgba || !rows || !out) png_error(png, "out of host memory");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = rgba + (size_t)y * w * (size_t)nc;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    data_convert_pixels(rgba, nc, out, channels, (size_t)w * h);
    free(rgba);
    free(rows);
    *width = (int)w;
    *height = (int)h;
    *pixels = out;
    return LEVI_OK;
}

levi_status levi_png_read(const char *path, int channels, int *width, int *height, unsigned char **pixels) {
    return data_decode_file(path, "PNG", levi_png_decode, channels, width, height, pixels);
}

typedef struct mem_writer {
    unsigned char *data;
    size_t len, cap;
    int oom;
} mem_writer;

static void write_mem(png_structp png, png_bytep in, png_size_t n) {
    mem_writer *w = png_get_io_ptr(png);
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 1024;
        while (cap < w->len + n) cap *= 2;
        unsigned char *nd = realloc(w->data, cap);
        if (!nd) {
            w->oom = 1;
            png_error(png, "out of host memory");
        }
        w->data = nd;
        w->cap = cap;
    }
    memcpy(w->data + w->len, in, n);
    w->len += n;
}

static void flush_mem(png_structp png) { (void)png; }

levi_status levi_png_encode(const unsigned char *pixels, int width, int height, int channels,
                            unsigned char **data, size_t *len) {
    *data = NULL;
    *len = 0;
    if ((channels != 1 && channels != 3) || width <= 0 || height <= 0 || width > LEVI_PNG_MAX_SIDE ||
        height > LEVI_PNG_MAX_SIDE)
        return levi_error(LEVI_ERR_INVALID_ARG, "PNG encode: %dx%d with %d channels, expected sides 1..%d and 1 or 3 channels",
                          width, height, channels, LEVI_PNG_MAX_SIDE);
    png_err err = {.msg = ""};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &err, on_error, on_warning);
    if (!png) return levi_error(LEVI_ERR_HOST_MEMORY, "PNG encode: libpng could not start");
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return levi_error(LEVI_ERR_HOST_MEMORY, "PNG encode: libpng could not start");
    }
    /* On the heap: it is written through libpng's callbacks after setjmp. */
    mem_writer *w = calloc(1, sizeof *w);
    if (!w) {
        png_destroy_write_struct(&png, &info);
        return levi_error(LEVI_ERR_HOST_MEMORY, "PNG encode: out of host memory");
    }
    if (setjmp(err.jmp)) {
        free(w->data);
        free(w);
        png_destroy_write_struct(&png, &info);
        return levi_error(LEVI_ERR_HOST_MEMORY, "PNG encode failed: %s", err.msg);
    }
    png_set_write_fn(png, w, write_mem, flush_mem);
    /* Level 1 and the SUB filter: ~5x faster than the defaults on 28x28
     * images and within a few percent of their size. */
    png_set_compression_level(png, 1);
    png_set_compression_mem_level(png, 2);
    if ((size_t)width * (size_t)height * (size_t)channels <= 4096) png_set_compression_window_bits(png, 12);
    png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_SUB);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
                 channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_BASE, PNG_FILTER_TYPE_BASE);
    png_write_info(png, info);
    for (int y = 0; y < height; y++)
        png_write_row(png, (png_const_bytep)(pixels + (size_t)y * (size_t)width * (size_t)channels));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    *data = w->data;
    *len = w->len;
    free(w);
    return LEVI_OK;
}

levi_status levi_png_write(const char *path, const unsigned char *pixels, int width, int height, int channels) {
    unsigned char *d;
    size_t len;
    LEVI_TRY(levi_png_encode(pixels, width, height, channels, &d, &len));
    levi_status st = levi_write_file_atomic(path, d, len);
    free(d);
    return st;
}

// in (C,ih,iw), out (C,oh,ow)
void levi_resize_bilinear(const float *in, int channels, int ih, int iw, float *out, int oh, int ow) {
    double sy = (double)ih / oh, sx = (double)iw / ow;
    for (int y = 0; y < oh; y++) {
        double fy = (y + 0.5) * sy - 0.5;
        if (fy < 0) fy = 0;
        int y0 = (int)fy;
        if (y0 > ih - 1) y0 = ih - 1;
        int y1 = y0 + 1 < ih ? y0 + 1 : ih - 1;
        double ly = fy - y0;
        for (int x = 0; x < ow; x++) {
            double fx = (x + 0.5) * sx - 0.5;
            if (fx < 0) fx = 0;
            int x0 = (int)fx;
            if (x0 > iw - 1) x0 = iw - 1;
            int x1 = x0 + 1 < iw ? x0 + 1 : iw - 1;
            double lx = fx - x0;
            for (int c = 0; c < channels; c++) {
                const float *p = in + (size_t)c * ih * iw;
                double v = (1 - ly) * ((1 - lx) * p[y0 * iw + x0] + lx * p[y0 * iw + x1]) +
                           ly * ((1 - lx) * p[y1 * iw + x0] + lx * p[y1 * iw + x1]);
                out[(size_t)c * oh * ow + (size_t)y * ow + x] = (float)v;
            }
        }
    }
}

levi_status levi_image_load(const char *path, int channels, int height, int width, float *out) {
    if ((channels != 1 && channels != 3) || height <= 0 || width <= 0)
        return levi_error(LEVI_ERR_INVALID_ARG, "image '%s': asked for %dx%dx%d, expected 1 or 3 channels and sides > 0",
                          path, channels, height, width);
    int w, h;
    unsigned char *px;
    LEVI_TRY(levi_image_read(path, channels, &w, &h, &px));
    size_t np = (size_t)w * h;
    float *chw = (w == width && h == height) ? out : malloc(np * (size_t)channels * sizeof(float));
    if (!chw) {
        free(px);
        return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory for '%s'", path);
    }
    for (int c = 0; c < channels; c++)
        for (size_t i = 0; i < np; i++) chw[(size_t)c * np + i] = px[i * (size_t)channels + (size_t)c] / 255.0f;
    free(px);
    if (chw != out) {
        levi_resize_bilinear(chw, channels, h, w, out, height, width);
        free(chw);
    }
    return LEVI_OK;
}
