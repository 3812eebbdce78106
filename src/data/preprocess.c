/* Hugging Face image preprocessing as transformers applies it (the PIL
 * backend: ViTImageProcessor of transformers 4, ViTImageProcessorPil of 5):
 * convert to the backbone's channels, resize (height/width, or the shortest
 * edge with the aspect ratio kept) with PIL's filters, centre crop (padding
 * with zeros when the image is smaller), rescale (uint8 · factor in double,
 * then float32) and normalise ((x - mean_c) / std_c in float32).
 *
 * The uint8 steps (convert, resize, crop) run once per image when a data set
 * is loaded; rescale and normalise run per batch through a 256-entry table
 * per channel that holds exactly the float32 values transformers computes. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data_internal.h"
#include "levi/json_util.h"

void levi_preprocess_default(levi_preprocess *p, int channels, int height, int width, float mean, float std) {
    memset(p, 0, sizeof *p);
    snprintf(p->processor, sizeof p->processor, "ViTImageProcessor");
    p->channels = channels;
    p->do_resize = 1;
    p->resize_height = height;
    p->resize_width = width;
    p->resample = LEVI_RESAMPLE_BILINEAR;
    p->crop_height = height;
    p->crop_width = width;
    p->do_rescale = 1;
    p->rescale_factor = 1.0 / 255.0;
    p->do_normalize = 1;
    for (int c = 0; c < LEVI_PRE_MAX_CHANNELS; c++) {
        p->image_mean[c] = mean;
        p->image_std[c] = std;
    }
}

/* size / crop_size: an integer (a square) or {"height","width"}; size also
 * {"shortest_edge"}. */
static levi_status get_size(const cJSON *o, const char *where, const char *key, int allow_edge, int *h, int *w,
                            int *edge) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!s || cJSON_IsNull(s)) return LEVI_OK;
    if (cJSON_IsNumber(s)) {
        if (s->valuedouble != floor(s->valuedouble) || s->valuedouble < 1 || s->valuedouble > LEVI_IMAGE_MAX_SIDE)
            return levi_error(LEVI_ERR_FORMAT, "%s: field '%s' must be an integer in 1..%d", where, key,
                              LEVI_IMAGE_MAX_SIDE);
        *h = *w = (int)s->valuedouble;
        if (edge) *edge = 0;
        return LEVI_OK;
    }
    if (!cJSON_IsObject(s))
        return levi_error(LEVI_ERR_FORMAT, "%s: field '%s' must be an integer or an object", where, key);
    int hh = 0, ww = 0, e = 0;
    char sub[600];
    snprintf(sub, sizeof sub, "%s (field '%s')", where, key);
    const cJSON *it;
    cJSON_ArrayForEach(it, s) {
        int known = !strcmp(it->string, "height") || !strcmp(it->string, "width") ||
                    (allow_edge && !strcmp(it->string, "shortest_edge"));
        if (!known && !cJSON_IsNull(it))
            return levi_error(LEVI_ERR_UNSUPPORTED, "%s: '%s' is not supported (expected %s)", sub, it->string,
                              allow_edge ? "height and width, or shortest_edge" : "height and width");
    }
    LEVI_TRY(levi_json_get_int(s, sub, "height", 1, LEVI_IMAGE_MAX_SIDE, &hh, 0));
    LEVI_TRY(levi_json_get_int(s, sub, "width", 1, LEVI_IMAGE_MAX_SIDE, &ww, 0));
    if (allow_edge) LEVI_TRY(levi_json_get_int(s, sub, "shortest_edge", 1, LEVI_IMAGE_MAX_SIDE, &e, 0));
    if (e && (hh || ww))
        return levi_error(LEVI_ERR_FORMAT, "%s: give height and width, or shortest_edge, not both", sub);
    if (!e && (!hh || !ww))
        return levi_error(LEVI_ERR_FORMAT, "%s: needs both 'height' and 'width'%s", sub,
                          allow_edge ? " (or 'shortest_edge')" : "");
    *h = hh;
    *w = ww;
    if (edge) *edge = e;
    return LEVI_OK;
}

/* image_mean / image_std: a number, or a list of 1 or `channels` numbers. */
static levi_status get_stats(const cJSON *o, const char *where, const char *key, int channels, int positive,
                             float *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) return LEVI_OK;
    double vals[LEVI_PRE_MAX_CHANNELS] = {0};
    int n = 0;
    if (cJSON_IsNumber(v)) {
        vals[n++] = v->valuedouble;
    } else if (cJSON_IsArray(v)) {
        const cJSON *x;
        cJSON_ArrayForEach(x, v) {
            if (!cJSON_IsNumber(x) || n == LEVI_PRE_MAX_CHANNELS) {
                n = -1;
                break;
            }
            vals[n++] = x->valuedouble;
        }
    } else {
        n = -1;
    }
    if (n != 1 && n != channels)
        return levi_error(LEVI_ERR_FORMAT, "%s: field '%s' must be a number or a list of 1 or %d numbers (one per channel)",
                          where, key, channels);
    for (int c = 0; c < n; c++)
        if (!isfinite(vals[c]) || (positive && !(vals[c] > 0)))
            return levi_error(LEVI_ERR_FORMAT, "%s: field '%s' holds %g, expected a finite%s number", where, key,
                              vals[c], positive ? " positive" : "");
    for (int c = 0; c < LEVI_PRE_MAX_CHANNELS; c++) out[c] = (float)vals[n == 1 ? 0 : (c < n ? c : 0)];
    return LEVI_OK;
}

levi_status levi_preprocess_parse(levi_preprocess *p, const char *json, const char *where, int channels, int height,
                                  int width) {
    if (channels != 1 && channels != 3)
        return levi_error(LEVI_ERR_INVALID_ARG, "%s: %d channels, expected 1 or 3", where, channels);
    levi_preprocess_default(p, channels, height, width, 0.5f, 0.5f);
    cJSON *o = json ? cJSON_Parse(json) : NULL;
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return levi_error(LEVI_ERR_FORMAT, "%s: not a JSON object", where);
    }
    levi_status st = LEVI_OK;
    const char *type = NULL;
    if (levi_json_get_string(o, where, "image_processor_type", &type, 0) != LEVI_OK ||
        (!type && levi_json_get_string(o, where, "feature_extractor_type", &type, 0) != LEVI_OK))
        st = levi_error(LEVI_ERR_FORMAT, "%s: field 'image_processor_type' must be a string", where);
    if (st == LEVI_OK && type) snprintf(p->processor, sizeof p->processor, "%s", type);
    /* crop_pct (ConvNeXT, PoolFormer...) and the like change what `size` means: refuse rather than guess */
    static const char *const unsupported[] = {"crop_pct", "do_pad", "pad_size", "do_reduce_labels", NULL};
    for (int i = 0; st == LEVI_OK && unsupported[i]; i++) {
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(o, unsupported[i]);
        if (u && !cJSON_IsNull(u) && !cJSON_IsFalse(u))
            st = levi_error(LEVI_ERR_UNSUPPORTED, "%s: field '%s' is not supported (processor %s)", where,
                            unsupported[i], p->processor);
    }
    double rf = p->rescale_factor;
    if (st == LEVI_OK) st = levi_json_get_bool(o, where, "do_resize", &p->do_resize, 0);
    if (st == LEVI_OK) st = get_size(o, where, "size", 1, &p->resize_height, &p->resize_width, &p->shortest_edge);
    if (st == LEVI_OK) st = levi_json_get_int(o, where, "resample", 0, 5, &p->resample, 0);
    if (st == LEVI_OK) st = levi_json_get_bool(o, where, "do_center_crop", &p->do_center_crop, 0);
    if (st == LEVI_OK) st = get_size(o, where, "crop_size", 0, &p->crop_height, &p->crop_width, NULL);
    if (st == LEVI_OK) st = levi_json_get_bool(o, where, "do_rescale", &p->do_rescale, 0);
    if (st == LEVI_OK) st = levi_json_get_float(o, where, "rescale_factor", 1e-12, 1e12, &rf, 0);
    if (st == LEVI_OK) st = levi_json_get_bool(o, where, "do_normalize", &p->do_normalize, 0);
    if (st == LEVI_OK) st = get_stats(o, where, "image_mean", channels, 0, p->image_mean);
    if (st == LEVI_OK) st = get_stats(o, where, "image_std", channels, 1, p->image_std);
    p->rescale_factor = rf;
    cJSON_Delete(o);
    return st;
}

levi_status levi_preprocess_load(levi_preprocess *p, const char *folder, int channels, int height, int width,
                                 float mean, float std) {
    char path[4096];
    snprintf(path, sizeof path, "%s/preprocessor_config.json", folder);
    struct stat sb;
    if (stat(path, &sb) != 0) {
        levi_preprocess_default(p, channels, height, width, mean, std);
        return LEVI_OK;
    }
    char *text;
    size_t len;
    LEVI_TRY(data_read_image_file(path, "preprocessor config", &text, &len));
    levi_status st = levi_preprocess_parse(p, text, path, channels, height, width);
    free(text);
    return st;
}

levi_status levi_preprocess_for_model(levi_preprocess *p, const char *json, const char *where, int channels,
                                      int height, int width, float mean, float std) {
    if (!json) {
        levi_preprocess_default(p, channels, height, width, mean, std);
        return LEVI_OK;
    }
    char name[1100];
    snprintf(name, sizeof name, "%s (__metadata__ preprocessor)", where);
    return levi_preprocess_parse(p, json, name, channels, height, width);
}

char *levi_preprocess_json(const levi_preprocess *p) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "image_processor_type", p->processor);
    cJSON_AddBoolToObject(o, "do_resize", p->do_resize);
    cJSON *s = cJSON_AddObjectToObject(o, "size");
    if (p->shortest_edge) {
        cJSON_AddNumberToObject(s, "shortest_edge", p->shortest_edge);
    } else {
        cJSON_AddNumberToObject(s, "height", p->resize_height);
        cJSON_AddNumberToObject(s, "width", p->resize_width);
    }
    cJSON_AddNumberToObject(o, "resample", p->resample);
    cJSON_AddBoolToObject(o, "do_center_crop", p->do_center_crop);
    cJSON *cs = cJSON_AddObjectToObject(o, "crop_size");
    cJSON_AddNumberToObject(cs, "height", p->crop_height);
    cJSON_AddNumberToObject(cs, "width", p->crop_width);
    cJSON_AddBoolToObject(o, "do_rescale", p->do_rescale);
    cJSON_AddNumberToObject(o, "rescale_factor", p->rescale_factor);
    cJSON_AddBoolToObject(o, "do_normalize", p->do_normalize);
    cJSON *m = cJSON_AddArrayToObject(o, "image_mean"), *sd = cJSON_AddArrayToObject(o, "image_std");
    for (int c = 0; c < p->channels; c++) {
        cJSON_AddItemToArray(m, cJSON_CreateNumber(levi_json_short_float(p->image_mean[c])));
        cJSON_AddItemToArray(sd, cJSON_CreateNumber(levi_json_short_float(p->image_std[c])));
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

void levi_preprocess_output_size(const levi_preprocess *p, int *height, int *width) {
    *height = *width = 0;
    if (p->do_center_crop) {
        *height = p->crop_height;
        *width = p->crop_width;
    } else if (p->do_resize && !p->shortest_edge) {
        *height = p->resize_height;
        *width = p->resize_width;
    }
}

/* transformers' get_resize_output_image_size(default_to_square=False) */
static void shortest_edge_size(int h, int w, int edge, int *oh, int *ow) {
    int shrt = w <= h ? w : h, lng = w <= h ? h : w;
    int nl = (int)((double)((long long)edge * lng) / shrt);
    if (w <= h) {
        *ow = edge;
        *oh = nl;
    } else {
        *oh = edge;
        *ow = nl;
    }
}

static long long floor_div2(long long a) { return a >= 0 ? a / 2 : -((-a + 1) / 2); }

// in (h, w, C) → out (ch, cw, C): transformers' center_crop, zeros where the image does not reach
static void center_crop(const unsigned char *in, int h, int w, int C, unsigned char *out, int ch, int cw) {
    long long top = floor_div2((long long)h - ch), left = floor_div2((long long)w - cw);
    for (int y = 0; y < ch; y++) {
        long long sy = y + top;
        unsigned char *o = out + (size_t)y * cw * C;
        if (sy < 0 || sy >= h) {
            memset(o, 0, (size_t)cw * C);
            continue;
        }
        for (int x = 0; x < cw; x++) {
            long long sx = x + left;
            if (sx < 0 || sx >= w) memset(o + (size_t)x * C, 0, (size_t)C);
            else memcpy(o + (size_t)x * C, in + ((size_t)sy * w + (size_t)sx) * C, (size_t)C);
        }
    }
}

levi_status levi_preprocess_pixels(const levi_preprocess *p, const unsigned char *px, int w, int h, const char *name,
                                   unsigned char **out, int *ow, int *oh) {
    *out = NULL;
    int C = p->channels, rh = h, rw = w;
    if (p->do_resize) {
        if (p->shortest_edge) shortest_edge_size(h, w, p->shortest_edge, &rh, &rw);
        else rh = p->resize_height, rw = p->resize_width;
        if (rh < 1 || rw < 1 || rh > LEVI_IMAGE_MAX_SIDE || rw > LEVI_IMAGE_MAX_SIDE)
            return levi_error(LEVI_ERR_FORMAT, "image '%s' (%dx%d) resizes to %dx%d, expected sides 1..%d", name, w,
                              h, rw, rh, LEVI_IMAGE_MAX_SIDE);
    }
    unsigned char *r = NULL;
    const unsigned char *cur = px;
    if (rh != h || rw != w) {
        r = malloc((size_t)rh * rw * C);
        if (!r) return levi_error(LEVI_ERR_HOST_MEMORY, "image '%s': out of host memory resizing", name);
        levi_status st = levi_resample(px, w, h, C, NULL, r, rw, rh, p->resample);
        if (st != LEVI_OK) {
            free(r);
            return st;
        }
        cur = r;
    }
    int fh = rh, fw = rw;
    if (p->do_center_crop) fh = p->crop_height, fw = p->crop_width;
    unsigned char *o = malloc((size_t)fh * fw * C);
    if (!o) {
        free(r);
        return levi_error(LEVI_ERR_HOST_MEMORY, "image '%s': out of host memory", name);
    }
    if (p->do_center_crop) center_crop(cur, rh, rw, C, o, fh, fw);
    else memcpy(o, cur, (size_t)fh * fw * C);
    free(r);
    *out = o;
    *ow = fw;
    *oh = fh;
    return LEVI_OK;
}

void levi_preprocess_table(const levi_preprocess *p, float table[LEVI_PRE_MAX_CHANNELS][256]) {
    for (int c = 0; c < LEVI_PRE_MAX_CHANNELS; c++)
        for (int v = 0; v < 256; v++) {
            float x = p->do_rescale ? (float)((double)v * p->rescale_factor) : (float)v;
            /* volatile: keep the float32 rounding of each step, as numpy's float32 arrays have it */
            volatile float d = x - p->image_mean[c];
            table[c][v] = p->do_normalize ? d / p->image_std[c] : x;
        }
}

// hwc (h, w, C) uint8 → chw (C, h, w) float
void levi_preprocess_normalize(const float table[LEVI_PRE_MAX_CHANNELS][256], const unsigned char *hwc, int C, int h,
                               int w, float *chw) {
    size_t np = (size_t)h * w;
    if (C == 1) {
        for (size_t i = 0; i < np; i++) chw[i] = table[0][hwc[i]];
        return;
    }
    for (int c = 0; c < C; c++) {
        const float *t = table[c];
        float *o = chw + (size_t)c * np;
        const unsigned char *s = hwc + c;
        for (size_t i = 0; i < np; i++) o[i] = t[s[i * (size_t)C]];
    }
}

levi_status levi_image_preprocess(const char *path, const levi_preprocess *p, int height, int width, float *chw) {
    int w, h, ow, oh;
    unsigned char *px, *pre;
    LEVI_TRY(levi_image_read(path, p->channels, &w, &h, &px));
    levi_status st = levi_preprocess_pixels(p, px, w, h, path, &pre, &ow, &oh);
    free(px);
    LEVI_TRY(st);
    if (ow != width || oh != height) {
        free(pre);
        return levi_error(LEVI_ERR_SHAPE, "image '%s' is %dx%d after preprocessing, the model expects %dx%d", path, ow,
                          oh, width, height);
    }
    float table[LEVI_PRE_MAX_CHANNELS][256];
    levi_preprocess_table(p, table);
    levi_preprocess_normalize((const float(*)[256])table, pre, p->channels, oh, ow, chw);
    free(pre);
    return LEVI_OK;
}
