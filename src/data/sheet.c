/* Contact sheets: a few samples per class for every split of a benchmark,
 * scaled up (nearest neighbour) so the spurious features are visible, with
 * split and class names drawn in a built-in 5x7 bitmap font. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data_internal.h"

static const char k_font_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.?";
static const unsigned char k_font[40][7] = {
    {0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11}, /* A */
    {0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e}, /* B */
    {0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e}, /* C */
    {0x1e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1e}, /* D */
    {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f}, /* E */
    {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10}, /* F */
    {0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f}, /* G */
    {0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11}, /* H */
    {0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e}, /* I */
    {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c}, /* J */
    {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}, /* K */
    {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f}, /* L */
    {0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11}, /* M */
    {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}, /* N */
    {0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e}, /* O */
    {0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10}, /* P */
    {0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d}, /* Q */
    {0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11}, /* R */
    {0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e}, /* S */
    {0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}, /* T */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e}, /* U */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04}, /* V */
    {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a}, /* W */
    {0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11}, /* X */
    {0x11, 0x11, 0x11, 0x0a, 0x04, 0x04, 0x04}, /* Y */
    {0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f}, /* Z */
    {0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e}, /* 0 */
    {0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e}, /* 1 */
    {0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f}, /* 2 */
    {0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e}, /* 3 */
    {0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02}, /* 4 */
    {0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e}, /* 5 */
    {0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e}, /* 6 */
    {0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}, /* 7 */
    {0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e}, /* 8 */
    {0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c}, /* 9 */
    {0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00}, /* - */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1f}, /* _ */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c}, /* . */
    {0x0e, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04}, /* ? */
};

#define GAP 2        /* pixels between tiles */
#define BLOCK_GAP 8  /* pixels between splits */
#define HEADER 14    /* class-name row */
#define LABEL_SCALE 2

static const unsigned char k_bg[3] = {36, 44, 72};
static const unsigned char k_label[3] = {255, 214, 64};
static const unsigned char k_header[3] = {200, 220, 255};

typedef struct canvas {
    unsigned char *px; /* (h, w, 3) */
    int w, h;
} canvas;

static void put(canvas *c, int x, int y, const unsigned char rgb[3]) {
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
    memcpy(c->px + ((size_t)y * c->w + x) * 3, rgb, 3);
}

/* Text at (x, y) top-left; lower case shows as upper case; unknown → '?'. */
static void draw_text(canvas *c, int x, int y, const char *s, int scale, const unsigned char rgb[3]) {
    for (; *s; s++, x += 6 * scale) {
        int ch = *s >= 'a' && *s <= 'z' ? *s - 32 : *s;
        if (ch == ' ') continue;
        const char *at = strchr(k_font_chars, ch);
        int g = at ? (int)(at - k_font_chars) : (int)strlen(k_font_chars) - 1;
        for (int r = 0; r < 7; r++)
            for (int col = 0; col < 5; col++)
                if (k_font[g][r] >> (4 - col) & 1)
                    for (int dy = 0; dy < scale; dy++)
                        for (int dx = 0; dx < scale; dx++) put(c, x + col * scale + dx, y + r * scale + dy, rgb);
    }
}

static int has_subfolder(const char *dir) {
    char **n;
    int k;
    if (levi_folder_classes(dir, &n, &k) != LEVI_OK) {
        levi_error_clear();
        return 0;
    }
    levi_class_names_free(n, k);
    return 1;
}

levi_status levi_benchmark_splits(const char *dir, char ***names, int *count) {
    char **sub;
    int n;
    LEVI_TRY(levi_folder_classes(dir, &sub, &n));
    static const char *const known[4] = {"pretrain", "train", "test-id", "test-ood"};
    char **out = calloc((size_t)n, sizeof(char *));
    if (!out) {
        levi_class_names_free(sub, n);
        return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    }
    int k = 0;
    char path[4096];
    /* known names first, in table order, then the rest in sorted order */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++) {
            if (!sub[i]) continue;
            int is_known = 0;
            for (int j = 0; j < 4; j++) is_known |= !strcmp(sub[i], known[j]);
            if (pass == 0 && !is_known) continue;
            snprintf(path, sizeof path, "%s/%s", dir, sub[i]);
            if (!has_subfolder(path)) continue;
            out[k++] = sub[i];
            sub[i] = NULL;
        }
    if (k > 1) {
        /* pass 0 kept sorted order among known names: fix to table order */
        for (int a = 0; a < k; a++)
            for (int b = a + 1; b < k; b++) {
                int ia = 4, ib = 4;
                for (int j = 0; j < 4; j++) {
                    if (!strcmp(out[a], known[j])) ia = j;
                    if (!strcmp(out[b], known[j])) ib = j;
                }
                if (ib < ia) {
                    char *t = out[a];
                    out[a] = out[b];
                    out[b] = t;
                }
            }
    }
    levi_class_names_free(sub, n);
    if (k == 0) {
        out[0] = strdup(".");
        if (!out[0]) {
            free(out);
            return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
        }
        k = 1;
    }
    *names = out;
    *count = k;
    return LEVI_OK;
}

levi_status levi_contact_sheet(const char *dir, const char *out_png, int per_class, int scale) {
    if (per_class < 1 || per_class > 32 || scale < 1 || scale > 16)
        return levi_error(LEVI_ERR_INVALID_ARG, "contact sheet: %d per class at scale %d, expected 1..32 and 1..16",
                          per_class, scale);
    char **splits, **classes;
    int ns, nc;
    LEVI_TRY(levi_benchmark_splits(dir, &splits, &ns));
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, splits[0]);
    levi_status st = levi_folder_classes(path, &classes, &nc);
    if (st != LEVI_OK) {
        levi_class_names_free(splits, ns);
        return st;
    }
    const int base = 28, tile = base * scale;
    /* a plain ImageFolder ("." split) is labelled with its folder's name */
    const char *base_name = strrchr(dir, '/') && strrchr(dir, '/')[1] ? strrchr(dir, '/') + 1 : dir;
    int label_w = 0;
    for (int s = 0; s < ns; s++) {
        int w = (int)strlen(strcmp(splits[s], ".") ? splits[s] : base_name) * 6 * LABEL_SCALE;
        if (w > label_w) label_w = w;
    }
    label_w += 12;
    canvas c;
    c.w = label_w + nc * (tile + GAP);
    c.h = HEADER + ns * (per_class * (tile + GAP) + BLOCK_GAP);
    c.px = malloc((size_t)c.w * c.h * 3);
    float *img = malloc(sizeof(float) * base * base);
    if (!c.px || !img) st = levi_error(LEVI_ERR_HOST_MEMORY, "contact sheet: out of host memory");
    for (long i = 0; st == LEVI_OK && i < (long)c.w * c.h; i++) memcpy(c.px + 3 * i, k_bg, 3);
    int chars = (tile + GAP) / 6;
    for (int k = 0; st == LEVI_OK && k < nc; k++) {
        char name[64];
        snprintf(name, sizeof name, "%.*s", chars < 63 ? chars : 63, classes[k]);
        draw_text(&c, label_w + k * (tile + GAP), 3, name, 1, k_header);
    }
    for (int s = 0; st == LEVI_OK && s < ns; s++) {
        int y0 = HEADER + s * (per_class * (tile + GAP) + BLOCK_GAP);
        int bh = per_class * (tile + GAP);
        draw_text(&c, 4, y0 + bh / 2 - 7 * LABEL_SCALE / 2, strcmp(splits[s], ".") ? splits[s] : base_name,
                  LABEL_SCALE, k_label);
        for (int k = 0; st == LEVI_OK && k < nc; k++) {
            snprintf(path, sizeof path, "%s/%s/%s", dir, splits[s], classes[k]);
            char **files = NULL;
            int nf = 0;
            struct stat sb;
            if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) st = data_list_images(path, &files, &nf, NULL);
            for (int i = 0; st == LEVI_OK && i < nf && i < per_class; i++) {
                char file[4200];
                snprintf(file, sizeof file, "%s/%s", path, files[i]);
                st = levi_image_load(file, 1, base, base, img);
                int x0 = label_w + k * (tile + GAP), ty = y0 + i * (tile + GAP);
                for (int y = 0; st == LEVI_OK && y < tile; y++)
                    for (int x = 0; x < tile; x++) {
                        float v = img[(y / scale) * base + x / scale];
                        unsigned char g = (unsigned char)(v <= 0 ? 0 : v >= 1 ? 255 : (int)(v * 255.0f + 0.5f));
                        unsigned char rgb[3] = {g, g, g};
                        put(&c, x0 + x, ty + y, rgb);
                    }
            }
            if (files) levi_class_names_free(files, nf);
        }
    }
    if (st == LEVI_OK) st = levi_png_write(out_png, c.px, c.w, c.h, 3);
    free(c.px);
    free(img);
    levi_class_names_free(classes, nc);
    levi_class_names_free(splits, ns);
    return st;
}
