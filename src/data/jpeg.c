/* JPEG through libjpeg-turbo: decode a baseline or progressive 8-bit gray or
 * YCbCr/RGB JPEG to 8-bit gray or RGB as Pillow does (ISLOW IDCT, fancy
 * upsampling, YCbCr → RGB by libjpeg, RGB → L by PIL's integer luma).
 *
 * Every libjpeg warning is an error here (a truncated file, corrupt entropy
 * data, a bad marker): libjpeg would otherwise fill the rest with grey and
 * say nothing. The size comes from the frame header and is checked before
 * any pixel memory is allocated; libjpeg's own memory is capped, and a
 * progressive file may hold at most JPEG_MAX_SCANS scans (a file of
 * thousands of tiny scans costs minutes of CPU: libjpeg-turbo's advice). */
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "data_internal.h"

#define JPEG_MAX_SCANS 500
/* libjpeg's working memory (progressive coefficient buffers, etc.) */
#define JPEG_MAX_WORK_BYTES (768L << 20)

typedef struct jpeg_guard {
    struct jpeg_error_mgr pub;
    struct jpeg_progress_mgr progress;
    jmp_buf jmp;
    char msg[JMSG_LENGTH_MAX + 64];
} jpeg_guard;

static void on_error_exit(j_common_ptr c) {
    jpeg_guard *g = (jpeg_guard *)c->err;
    char m[JMSG_LENGTH_MAX];
    (*c->err->format_message)(c, m);
    snprintf(g->msg, sizeof g->msg, "%s", m);
    longjmp(g->jmp, 1);
}

/* level < 0: a warning (corrupt or truncated data): fatal here; level ≥ 0:
 * trace messages, ignored. */
static void on_message(j_common_ptr c, int level) {
    if (level >= 0) return;
    jpeg_guard *g = (jpeg_guard *)c->err;
    char m[JMSG_LENGTH_MAX];
    (*c->err->format_message)(c, m);
    snprintf(g->msg, sizeof g->msg, "%s", m);
    longjmp(g->jmp, 1);
}

static void on_output(j_common_ptr c) { (void)c; }

static void on_progress(j_common_ptr c) {
    if (!c->is_decompressor) return;
    j_decompress_ptr d = (j_decompress_ptr)c;
    if (d->input_scan_number > JPEG_MAX_SCANS) {
        jpeg_guard *g = (jpeg_guard *)c->err;
        snprintf(g->msg, sizeof g->msg, "progressive JPEG with more than %d scans", JPEG_MAX_SCANS);
        longjmp(g->jmp, 1);
    }
}

static const char *space_name(J_COLOR_SPACE s) {
    switch (s) {
    case JCS_GRAYSCALE: return "grayscale";
    case JCS_RGB: return "RGB";
    case JCS_YCbCr: return "YCbCr";
    case JCS_CMYK: return "CMYK";
    case JCS_YCCK: return "YCCK";
    default: return "unknown";
    }
}

levi_status levi_jpeg_decode(const unsigned char *data, size_t len, const char *name, int channels, int *width,
                             int *height, unsigned char **pixels) {
    *pixels = NULL;
    if (channels != 1 && channels != 3)
        return levi_error(LEVI_ERR_INVALID_ARG, "JPEG '%s': asked for %d channels, expected 1 or 3", name, channels);
    if (len == 0) return levi_error(LEVI_ERR_FORMAT, "JPEG '%s': empty file (0 bytes)", name);
    if (len < 3 || data[0] != 0xFF || data[1] != 0xD8 || data[2] != 0xFF)
        return levi_error(LEVI_ERR_FORMAT, "'%s' is not a JPEG file (no SOI marker)", name);
    if (len > LEVI_IMAGE_MAX_FILE_BYTES)
        return levi_error(LEVI_ERR_FORMAT, "JPEG '%s' is %zu bytes, more than the %u this reader accepts", name, len,
                          LEVI_IMAGE_MAX_FILE_BYTES);
    struct jpeg_decompress_struct d;
    /* On the heap: written by libjpeg's callbacks between setjmp and longjmp. */
    jpeg_guard *g = calloc(1, sizeof *g);
    if (!g) return levi_error(LEVI_ERR_HOST_MEMORY, "JPEG '%s': out of host memory", name);
    unsigned char *volatile rgb = NULL;
    unsigned char *volatile out = NULL;
    volatile int created = 0;
    d.err = jpeg_std_error(&g->pub);
    g->pub.error_exit = on_error_exit;
    g->pub.emit_message = on_message;
    g->pub.output_message = on_output;
    if (setjmp(g->jmp)) {
        if (created) jpeg_destroy_decompress(&d);
        free(rgb);
        free(out);
        levi_status st = levi_error(LEVI_ERR_FORMAT, "JPEG '%s': %s", name, g->msg);
        free(g);
        return st;
    }
    jpeg_create_decompress(&d);
    created = 1;
    d.mem->max_memory_to_use = JPEG_MAX_WORK_BYTES;
    g->progress.progress_monitor = on_progress;
    d.progress = &g->progress;
    jpeg_mem_src(&d, data, (unsigned long)len);
    jpeg_read_header(&d, TRUE);
    unsigned long long w = d.image_width, h = d.image_height;
    const char *why = NULL;
    char buf[160];
    if (w == 0 || h == 0 || w > LEVI_IMAGE_MAX_SIDE || h > LEVI_IMAGE_MAX_SIDE || w * h > LEVI_IMAGE_MAX_PIXELS) {
        snprintf(buf, sizeof buf, "header claims %llux%llu pixels, expected sides 1..%d and at most %u pixels", w, h,
                 LEVI_IMAGE_MAX_SIDE, LEVI_IMAGE_MAX_PIXELS);
        why = buf;
    } else if (d.jpeg_color_space == JCS_CMYK || d.jpeg_color_space == JCS_YCCK) {
        snprintf(buf, sizeof buf, "%s JPEGs are not supported (expected grayscale or YCbCr/RGB; convert it to RGB)",
                 space_name(d.jpeg_color_space));
        why = buf;
    } else if (!(d.num_components == 1 && d.jpeg_color_space == JCS_GRAYSCALE) &&
               !(d.num_components == 3 && (d.jpeg_color_space == JCS_YCbCr || d.jpeg_color_space == JCS_RGB))) {
        snprintf(buf, sizeof buf, "%d components in color space %s, expected 1 (grayscale) or 3 (YCbCr/RGB)",
                 d.num_components, space_name(d.jpeg_color_space));
        why = buf;
    }
    if (why) {
        jpeg_destroy_decompress(&d);
        free(g);
        return levi_error(LEVI_ERR_FORMAT, "JPEG '%s': %s", name, why);
    }
    /* Pillow's decoder settings: the accurate integer IDCT, fancy upsampling. */
    d.dct_method = JDCT_ISLOW;
    d.do_fancy_upsampling = TRUE;
    int gray = d.num_components == 1;
    d.out_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&d);
    int oc = d.output_components;
    if ((unsigned long long)d.output_width != w || (unsigned long long)d.output_height != h || oc != (gray ? 1 : 3)) {
        /* cannot happen without scaling; never trust it */
        snprintf(g->msg, sizeof g->msg, "decoder output %ux%ux%d differs from the header", d.output_width,
                 d.output_height, oc);
        longjmp(g->jmp, 1);
    }
    size_t np = (size_t)w * (size_t)h;
    rgb = malloc(np * (size_t)oc);
    if (!rgb) {
        snprintf(g->msg, sizeof g->msg, "out of host memory for %llux%llu pixels", w, h);
        longjmp(g->jmp, 1);
    }
    while (d.output_scanline < d.output_height) {
        JSAMPROW row = rgb + (size_t)d.output_scanline * (size_t)w * (size_t)oc;
        jpeg_read_scanlines(&d, &row, 1);
    }
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    created = 0;
    free(g);
    if (oc == channels) {
        out = rgb;
    } else {
        out = malloc(np * (size_t)channels);
        if (!out) {
            free(rgb);
            return levi_error(LEVI_ERR_HOST_MEMORY, "JPEG '%s': out of host memory for %llux%llu pixels", name, w, h);
        }
        data_convert_pixels(rgb, oc, out, channels, np);
        free(rgb);
    }
    *width = (int)w;
    *height = (int)h;
    *pixels = out;
    return LEVI_OK;
}
