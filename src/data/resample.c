/* Image resampling exactly as Pillow's Image.resize(size, resample, box) on
 * 8-bit images (libImaging/Resample.c): separable convolution with the
 * filter's support widened by the scale when downscaling (antialiasing),
 * coefficients normalised per output pixel and turned into 22-bit fixed
 * point, a horizontal pass into an 8-bit intermediate image (rounded and
 * clipped), then a vertical pass. NEAREST samples the pixel under each
 * output pixel's centre (Pillow's affine nearest transform). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"

#define PRECISION_BITS (32 - 8 - 2)

static double box_filter(double x) { return x > -0.5 && x <= 0.5 ? 1.0 : 0.0; }

static double bilinear_filter(double x) {
    x = fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

static double hamming_filter(double x) {
    x = fabs(x);
    if (x == 0.0) return 1.0;
    if (x >= 1.0) return 0.0;
    x *= M_PI;
    return sin(x) / x * (0.54 + 0.46 * cos(x));
}

static double bicubic_filter(double x) {
    const double a = -0.5;
    x = fabs(x);
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

static double sinc_filter(double x) {
    if (x == 0.0) return 1.0;
    x *= M_PI;
    return sin(x) / x;
}

static double lanczos_filter(double x) { return -3.0 <= x && x < 3.0 ? sinc_filter(x) * sinc_filter(x / 3) : 0.0; }

typedef struct filter {
    double (*fn)(double);
    double support;
} filter;

static const filter *filter_of(int resample) {
    static const filter box = {box_filter, 0.5}, bilinear = {bilinear_filter, 1.0}, hamming = {hamming_filter, 1.0},
                        bicubic = {bicubic_filter, 2.0}, lanczos = {lanczos_filter, 3.0};
    switch (resample) {
    case LEVI_RESAMPLE_BOX: return &box;
    case LEVI_RESAMPLE_BILINEAR: return &bilinear;
    case LEVI_RESAMPLE_HAMMING: return &hamming;
    case LEVI_RESAMPLE_BICUBIC: return &bicubic;
    case LEVI_RESAMPLE_LANCZOS: return &lanczos;
    default: return NULL;
    }
}

/* Fixed-point coefficients of one axis: out pixel xx reads in[bounds[2xx] ..
 * bounds[2xx] + bounds[2xx+1]) with weights k[xx*ksize ...]. */
typedef struct coeffs {
    int ksize;
    int *bounds;
    int *k;
} coeffs;

static int precompute(int in_size, double in0, double in1, int out_size, const filter *f, coeffs *c) {
    double scale = (in1 - in0) / out_size, filterscale = scale < 1.0 ? 1.0 : scale;
    double support = f->support * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    c->ksize = ksize;
    c->bounds = malloc(sizeof(int) * 2 * (size_t)out_size);
    c->k = malloc(sizeof(int) * (size_t)ksize * (size_t)out_size);
    double *kd = malloc(sizeof(double) * (size_t)ksize);
    if (!c->bounds || !c->k || !kd) {
        free(kd);
        return 0;
    }
    for (int xx = 0; xx < out_size; xx++) {
        double center = in0 + (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        int x = 0;
        for (; x < xmax; x++) {
            double w = f->fn((x + xmin - center + 0.5) * ss);
            kd[x] = w;
            ww += w;
        }
        for (x = 0; x < xmax; x++)
            if (ww != 0.0) kd[x] /= ww;
        for (; x < ksize; x++) kd[x] = 0;
        int *k = c->k + (size_t)xx * ksize;
        for (x = 0; x < ksize; x++)
            k[x] = kd[x] < 0 ? (int)(-0.5 + kd[x] * (1 << PRECISION_BITS)) : (int)(0.5 + kd[x] * (1 << PRECISION_BITS));
        c->bounds[2 * xx] = xmin;
        c->bounds[2 * xx + 1] = xmax;
    }
    free(kd);
    return 1;
}

static inline unsigned char clip8(int in) {
    if (in >= (1 << PRECISION_BITS << 8)) return 255;
    if (in <= 0) return 0;
    return (unsigned char)(in >> PRECISION_BITS);
}

// in (ih, iw, C) rows [y0, y0+rows), out (rows, ow, C)
static void pass_horizontal(const unsigned char *in, int iw, int C, int y0, int rows, const coeffs *cf,
                            unsigned char *out, int ow) {
    for (int y = 0; y < rows; y++) {
        const unsigned char *row = in + (size_t)(y0 + y) * iw * C;
        unsigned char *o = out + (size_t)y * ow * C;
        for (int xx = 0; xx < ow; xx++) {
            int xmin = cf->bounds[2 * xx], xmax = cf->bounds[2 * xx + 1];
            const int *k = cf->k + (size_t)xx * cf->ksize;
            for (int c = 0; c < C; c++) {
                int ss = 1 << (PRECISION_BITS - 1);
                for (int x = 0; x < xmax; x++) ss += row[(size_t)(x + xmin) * C + c] * k[x];
                o[(size_t)xx * C + c] = clip8(ss);
            }
        }
    }
}

// in (ih, w, C) with bounds relative to row 0, out (oh, w, C)
static void pass_vertical(const unsigned char *in, int w, int C, const coeffs *cf, unsigned char *out, int oh) {
    size_t stride = (size_t)w * C;
    for (int yy = 0; yy < oh; yy++) {
        int ymin = cf->bounds[2 * yy], ymax = cf->bounds[2 * yy + 1];
        const int *k = cf->k + (size_t)yy * cf->ksize;
        unsigned char *o = out + (size_t)yy * stride;
        for (size_t i = 0; i < stride; i++) {
            int ss = 1 << (PRECISION_BITS - 1);
            for (int y = 0; y < ymax; y++) ss += in[(size_t)(y + ymin) * stride + i] * k[y];
            o[i] = clip8(ss);
        }
    }
}

/* Pillow's ImagingScaleAffine: source positions accumulated step by step
 * from box0 + scale/2 and truncated, as Pillow does (not recomputed). */
static void nearest(const unsigned char *in, int iw, int ih, int C, const double box[4], unsigned char *out, int ow,
                    int oh) {
    double sx = (box[2] - box[0]) / ow, sy = (box[3] - box[1]) / oh;
    int *xin = malloc(sizeof(int) * (size_t)ow);
    double xo = box[0] + sx * 0.5, yo = box[1] + sy * 0.5;
    for (int x = 0; x < ow; x++, xo += sx) {
        int v = xo < 0 ? 0 : (int)xo;
        if (xin) xin[x] = v < iw ? v : iw - 1;
    }
    for (int y = 0; y < oh; y++, yo += sy) {
        int yi = yo < 0 ? 0 : (int)yo;
        if (yi >= ih) yi = ih - 1;
        for (int x = 0; x < ow; x++) {
            int xi = xin ? xin[x] : (int)(box[0] + (x + 0.5) * sx);
            if (xi >= iw) xi = iw - 1;
            memcpy(out + ((size_t)y * ow + x) * C, in + ((size_t)yi * iw + xi) * C, (size_t)C);
        }
    }
    free(xin);
}

// in (ih, iw, C) uint8, out (oh, ow, C) uint8
levi_status levi_resample(const unsigned char *in, int iw, int ih, int C, const double box_in[4], unsigned char *out,
                          int ow, int oh, int resample) {
    double box[4] = {0, 0, iw, ih};
    if (box_in) memcpy(box, box_in, sizeof box);
    if (iw <= 0 || ih <= 0 || ow <= 0 || oh <= 0 || C < 1 || C > 4 || box[0] < 0 || box[1] < 0 || box[2] > iw ||
        box[3] > ih || box[2] <= box[0] || box[3] <= box[1])
        return levi_error(LEVI_ERR_INVALID_ARG, "resample: %dx%dx%d to %dx%d with box (%g,%g,%g,%g) is out of range", iw,
                          ih, C, ow, oh, box[0], box[1], box[2], box[3]);
    if (resample == LEVI_RESAMPLE_NEAREST) {
        nearest(in, iw, ih, C, box, out, ow, oh);
        return LEVI_OK;
    }
    const filter *f = filter_of(resample);
    if (!f) return levi_error(LEVI_ERR_INVALID_ARG, "resample: filter %d is not a PIL resampling filter (0..5)", resample);
    int need_h = ow != iw || box[0] != 0 || box[2] != ow;
    int need_v = oh != ih || box[1] != 0 || box[3] != oh;
    if (!need_h && !need_v) {
        memcpy(out, in, (size_t)iw * ih * C);
        return LEVI_OK;
    }
    coeffs ch = {0}, cv = {0};
    unsigned char *tmp = NULL;
    levi_status st = LEVI_OK;
    if (!precompute(iw, box[0], box[2], ow, f, &ch) || !precompute(ih, box[1], box[3], oh, f, &cv)) {
        st = levi_error(LEVI_ERR_HOST_MEMORY, "resample: out of host memory");
        goto done;
    }
    /* rows of the source that the vertical pass reads */
    int yfirst = cv.bounds[0], ylast = cv.bounds[2 * oh - 2] + cv.bounds[2 * oh - 1];
    if (need_h) {
        for (int i = 0; i < oh; i++) cv.bounds[2 * i] -= yfirst;
        int rows = ylast - yfirst;
        if (!need_v) {
            pass_horizontal(in, iw, C, yfirst, rows, &ch, out, ow);
            goto done;
        }
        tmp = malloc((size_t)rows * ow * C);
        if (!tmp) {
            st = levi_error(LEVI_ERR_HOST_MEMORY, "resample: out of host memory");
            goto done;
        }
        pass_horizontal(in, iw, C, yfirst, rows, &ch, tmp, ow);
        pass_vertical(tmp, ow, C, &cv, out, oh);
    } else {
        pass_vertical(in, iw, C, &cv, out, oh);
    }
done:
    free(tmp);
    free(ch.bounds);
    free(ch.k);
    free(cv.bounds);
    free(cv.k);
    return st;
}
