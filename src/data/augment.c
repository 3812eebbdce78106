/* Training-time augmentation on the cached uint8 image: torchvision's
 * RandomResizedCrop (default scale (0.08, 1) and ratio (3/4, 4/3): ten tries
 * at a random area and log-uniform aspect, else the central crop at the
 * nearest allowed ratio), resized back to the image's size with PIL's
 * bilinear filter, then RandomHorizontalFlip (p = 0.5). The randomness is
 * splitmix64 from a per-image state, so results do not depend on threads. */
#include <math.h>
#include <string.h>

#include "data_internal.h"
#include "levi/random.h"

static double uniform(unsigned long long *s, double lo, double hi) {
    double u = (double)(levi_splitmix64(s) >> 11) * (1.0 / 9007199254740992.0);
    return lo + (hi - lo) * u;
}

/* uniform integer in [0, n) */
static int below(unsigned long long *s, int n) {
    return (int)(((levi_splitmix64(s) >> 32) * (unsigned long long)n) >> 32);
}

static void crop_params(unsigned long long *s, int h, int w, int *ci, int *cj, int *ch, int *cw) {
    const double smin = 0.08, smax = 1.0, rmin = 3.0 / 4.0, rmax = 4.0 / 3.0;
    double area = (double)h * w, lrmin = log(rmin), lrmax = log(rmax);
    for (int t = 0; t < 10; t++) {
        double target = area * uniform(s, smin, smax);
        double ar = exp(uniform(s, lrmin, lrmax));
        int ww = (int)lround(sqrt(target * ar)), hh = (int)lround(sqrt(target / ar));
        if (ww > 0 && ww <= w && hh > 0 && hh <= h) {
            *ci = below(s, h - hh + 1);
            *cj = below(s, w - ww + 1);
            *ch = hh;
            *cw = ww;
            return;
        }
    }
    double in_ratio = (double)w / h;
    int ww = w, hh = h;
    if (in_ratio < rmin) hh = (int)lround(ww / rmin);
    else if (in_ratio > rmax) ww = (int)lround(hh * rmax);
    if (hh < 1) hh = 1;
    if (ww < 1) ww = 1;
    *ci = (h - hh) / 2;
    *cj = (w - ww) / 2;
    *ch = hh;
    *cw = ww;
}

// src (h, w, C) → dst (h, w, C)
void data_augment(const unsigned char *src, int h, int w, int C, unsigned flags, unsigned long long rng,
                  unsigned char *dst) {
    unsigned long long s = rng;
    int done = 0;
    if (flags & LEVI_AUGMENT_CROP) {
        int i, j, ch, cw;
        crop_params(&s, h, w, &i, &j, &ch, &cw);
        double box[4] = {j, i, j + cw, i + ch};
        done = levi_resample(src, w, h, C, box, dst, w, h, LEVI_RESAMPLE_BILINEAR) == LEVI_OK;
    }
    if (!done) memcpy(dst, src, (size_t)h * w * C);
    if ((flags & LEVI_AUGMENT_FLIP) && (levi_splitmix64(&s) >> 63)) {
        for (int y = 0; y < h; y++) {
            unsigned char *row = dst + (size_t)y * w * C;
            for (int a = 0, b = w - 1; a < b; a++, b--)
                for (int c = 0; c < C; c++) {
                    unsigned char t = row[(size_t)a * C + c];
                    row[(size_t)a * C + c] = row[(size_t)b * C + c];
                    row[(size_t)b * C + c] = t;
                }
        }
    }
}

levi_status levi_augment_parse(const char *spec, unsigned *flags) {
    *flags = 0;
    if (!spec || !strcmp(spec, "none") || !*spec) return LEVI_OK;
    const char *p = spec;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 4 && !strncmp(p, "flip", 4)) *flags |= LEVI_AUGMENT_FLIP;
        else if (n == 4 && !strncmp(p, "crop", 4)) *flags |= LEVI_AUGMENT_CROP;
        else
            return levi_error(LEVI_ERR_INVALID_ARG, "--augment: '%.*s' in '%s' is not flip or crop (expected e.g. flip,crop)",
                              (int)n, p, spec);
        if (!e) break;
        p = e + 1;
        if (!*p) return levi_error(LEVI_ERR_INVALID_ARG, "--augment: '%s' ends with a comma", spec);
    }
    return LEVI_OK;
}
