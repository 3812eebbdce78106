/* The fashion-shift benchmark (DESIGN.md section 2), generated from the
 * Fashion-MNIST IDX files:
 *
 *   pretrain  train[0:30000)      source domain   A: class texture, p = rho_a
 *   train     train[30000:60000)  target domain   B: class marker,  p = rho_b
 *   test-id   test[0:10000)       target domain   B: class marker,  p = rho_b
 *   test-ood  test[0:10000)       target domain   A and B, both independent of the class
 *
 * With probability rho the feature is the one linked to the image's class,
 * otherwise that of a uniformly drawn other class, so the agreement rate is
 * rho exactly in expectation. Every pixel operation is integer and every
 * random draw comes from splitmix64 seeded by (seed, split, index): the same
 * arguments give byte-identical files, and --limit keeps a prefix of each
 * split unchanged. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "levi/data.h"
#include "levi/files.h"
#include "levi/runtime.h"

const char *const levi_fashion_classes[10] = {"0-tshirt", "1-trouser", "2-pullover", "3-dress", "4-coat",
                                              "5-sandal", "6-shirt",   "7-sneaker",  "8-bag",   "9-boot"};

#define SIDE 28
#define NPIX (SIDE * SIDE)
#define TEXTURE_LEVEL 110 /* gray of texture pixels: visible on black and on white */
#define BG_THRESHOLD 16   /* source pixels darker than this are background */

enum { SPLIT_PRETRAIN, SPLIT_TRAIN, SPLIT_TEST_ID, SPLIT_TEST_OOD, NSPLITS };
static const char *const k_split_names[NSPLITS] = {"pretrain", "train", "test-id", "test-ood"};
static const int k_split_first[NSPLITS] = {0, 30000, 0, 0};
static const int k_split_count[NSPLITS] = {30000, 30000, 10000, 10000};
static const int k_split_from_test[NSPLITS] = {0, 0, 1, 1};

void levi_shift_defaults(levi_shift_params *p) {
    memset(p, 0, sizeof *p);
    p->source = "/usr/share/datasets/fashion-mnist";
    p->subdomain = LEVI_SUBDOMAIN_INVERT;
    p->rho_a = 0.9;
    p->rho_b = 0.9;
}

static const char *const k_subdomains[] = {"invert", "edges", "blur"};

const char *levi_subdomain_name(levi_subdomain s) {
    return (unsigned)s < 3 ? k_subdomains[s] : "unknown";
}

levi_status levi_subdomain_parse(const char *name, levi_subdomain *out) {
    for (int i = 0; i < 3; i++)
        if (name && !strcmp(name, k_subdomains[i])) {
            *out = (levi_subdomain)i;
            return LEVI_OK;
        }
    return levi_error(LEVI_ERR_INVALID_ARG, "unknown subdomain '%s', expected invert, edges or blur",
                      name ? name : "(null)");
}

/* Texture k at (y, x): ten periodic line/dot patterns that differ in
 * orientation and period. */
static int texture_on(int k, int y, int x) {
    switch (k) {
    case 0: return y % 3 == 0;                    /* horizontal lines, period 3 */
    case 1: return x % 3 == 0;                    /* vertical lines, period 3 */
    case 2: return (x + y) % 4 == 0;              /* diagonal / */
    case 3: return (x - y + 28) % 4 == 0;         /* diagonal \ */
    case 4: return ((x / 2) + (y / 2)) % 2 == 0;  /* checkerboard of 2x2 cells */
    case 5: return x % 4 == 0 && y % 4 == 0;      /* dot grid */
    case 6: return y % 5 == 0;                    /* horizontal lines, period 5 */
    case 7: return x % 5 == 0;                    /* vertical lines, period 5 */
    case 8: return x % 6 == 0 || y % 6 == 0;      /* grid */
    default: return (x + y) % 6 == 0 || (x - y + 30) % 6 == 0; /* diamonds */
    }
}

/* Marker k: a 3x3 checked square (255/0, visible on any background) at one
 * of ten places along the border. */
static const int k_marker_yx[10][2] = {{1, 1},  {1, 9},  {1, 16},  {1, 24}, {12, 1},
                                       {12, 24}, {24, 1}, {24, 9}, {24, 16}, {24, 24}};

static void draw_marker(unsigned char *img, int k) {
    int y0 = k_marker_yx[k][0], x0 = k_marker_yx[k][1];
    for (int dy = 0; dy < 3; dy++)
        for (int dx = 0; dx < 3; dx++) img[(y0 + dy) * SIDE + x0 + dx] = (dy + dx) % 2 == 0 ? 255 : 0;
}

// src (28,28) → dst (28,28)
static void subdomain_apply(levi_subdomain s, const unsigned char *src, unsigned char *dst) {
    if (s == LEVI_SUBDOMAIN_INVERT) {
        for (int i = 0; i < NPIX; i++) dst[i] = (unsigned char)(255 - src[i]);
    } else if (s == LEVI_SUBDOMAIN_EDGES) {
        /* Sobel, L1 magnitude / 4, edges clamped. */
        for (int y = 0; y < SIDE; y++)
            for (int x = 0; x < SIDE; x++) {
                int p[3][3];
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++) {
                        int yy = y + dy < 0 ? 0 : y + dy >= SIDE ? SIDE - 1 : y + dy;
                        int xx = x + dx < 0 ? 0 : x + dx >= SIDE ? SIDE - 1 : x + dx;
                        p[dy + 1][dx + 1] = src[yy * SIDE + xx];
                    }
                int gx = (p[0][2] + 2 * p[1][2] + p[2][2]) - (p[0][0] + 2 * p[1][0] + p[2][0]);
                int gy = (p[2][0] + 2 * p[2][1] + p[2][2]) - (p[0][0] + 2 * p[0][1] + p[0][2]);
                int m = ((gx < 0 ? -gx : gx) + (gy < 0 ? -gy : gy)) / 4;
                dst[y * SIDE + x] = (unsigned char)(m > 255 ? 255 : m);
            }
    } else {
        /* Binomial 5-tap (1 4 6 4 1)/16 blur, separable, edges clamped, rounded. */
        static const int w[5] = {1, 4, 6, 4, 1};
        int tmp[NPIX];
        for (int y = 0; y < SIDE; y++)
            for (int x = 0; x < SIDE; x++) {
                int acc = 0;
                for (int k = -2; k <= 2; k++) {
                    int xx = x + k < 0 ? 0 : x + k >= SIDE ? SIDE - 1 : x + k;
                    acc += w[k + 2] * src[y * SIDE + xx];
                }
                tmp[y * SIDE + x] = acc;
            }
        for (int y = 0; y < SIDE; y++)
            for (int x = 0; x < SIDE; x++) {
                int acc = 0;
                for (int k = -2; k <= 2; k++) {
                    int yy = y + k < 0 ? 0 : y + k >= SIDE ? SIDE - 1 : y + k;
                    acc += w[k + 2] * tmp[yy * SIDE + x];
                }
                dst[y * SIDE + x] = (unsigned char)((acc + 128) / 256);
            }
    }
}

/* Uniform in [0, n) from the top 32 bits. */
static int draw_below(unsigned long long *st, int n) {
    return (int)(((levi_splitmix64(st) >> 32) * (unsigned long long)n) >> 32);
}

/* The class's own feature with probability rho, else one of the other nine. */
static int draw_linked(unsigned long long *st, int label, double rho) {
    double u = (double)(levi_splitmix64(st) >> 11) * (1.0 / 9007199254740992.0);
    int other = draw_below(st, 9);
    return u < rho ? label : (other >= label ? other + 1 : other);
}

/* Feature choices for one image (-1: none). */
static void choose_features(const levi_shift_params *p, int split, int index, int label, int *tex, int *mark) {
    unsigned long long st = p->seed ^ (0x9e3779b97f4a7c15ULL * (unsigned long long)(split + 1));
    levi_splitmix64(&st);
    st ^= 0xd6e8feb86659fd93ULL * (unsigned long long)(index + 1);
    levi_splitmix64(&st);
    *tex = *mark = -1;
    switch (split) {
    case SPLIT_PRETRAIN: *tex = draw_linked(&st, label, p->rho_a); break;
    case SPLIT_TRAIN:
    case SPLIT_TEST_ID: *mark = draw_linked(&st, label, p->rho_b); break;
    default:
        *tex = draw_below(&st, 10);
        *mark = draw_below(&st, 10);
    }
}

// src (28,28) → out (28,28)
static void render(const levi_shift_params *p, int split, const unsigned char *src, int tex, int mark,
                   unsigned char *out) {
    if (split == SPLIT_PRETRAIN) memcpy(out, src, NPIX);
    else subdomain_apply(p->subdomain, src, out);
    if (tex >= 0)
        for (int y = 0; y < SIDE; y++)
            for (int x = 0; x < SIDE; x++)
                if (src[y * SIDE + x] < BG_THRESHOLD && texture_on(tex, y, x)) out[y * SIDE + x] = TEXTURE_LEVEL;
    if (mark >= 0) draw_marker(out, mark);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_tree(const char *path) { nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* 0: absent, 1: empty folder, 2: non-empty folder, 3: something else. */
static int out_state(const char *path) {
    struct stat sb;
    if (stat(path, &sb) != 0) return 0;
    if (!S_ISDIR(sb.st_mode)) return 3;
    DIR *d = opendir(path);
    if (!d) return 2; /* unreadable: treat as non-empty, never clobber it silently */
    struct dirent *e;
    int any = 0;
    while (!any && (e = readdir(d)) != NULL) any = strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return any ? 2 : 1;
}

typedef struct split_src {
    unsigned char *images, *labels;
    int n;
} split_src;

static levi_status load_source(const char *dir, const char *prefix, int need, split_src *s) {
    char pi[4096], pl[4096];
    snprintf(pi, sizeof pi, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    snprintf(pl, sizeof pl, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
    int n, r, c, nl;
    LEVI_TRY(levi_idx_read_images(pi, &n, &r, &c, &s->images));
    if (r != SIDE || c != SIDE) {
        free(s->images);
        return levi_error(LEVI_ERR_FORMAT, "'%s': images are %dx%d, expected 28x28 (Fashion-MNIST)", pi, r, c);
    }
    levi_status st = levi_idx_read_labels(pl, &nl, &s->labels);
    if (st == LEVI_OK && nl != n)
        st = levi_error(LEVI_ERR_FORMAT, "'%s' holds %d labels but '%s' holds %d images", pl, nl, pi, n);
    if (st == LEVI_OK && n < need)
        st = levi_error(LEVI_ERR_FORMAT, "'%s' holds %d images, the benchmark needs %d", pi, n, need);
    if (st != LEVI_OK) {
        free(s->images);
        free(s->labels);
        s->images = s->labels = NULL;
        return st;
    }
    s->n = n;
    return LEVI_OK;
}

/* Plain write, no fsync: the files land in a temporary folder that appears
 * whole by one rename, and 80,000 fsyncs would cost minutes. */
static levi_status write_bytes(const char *path, const void *d, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return levi_error(LEVI_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    size_t w = fwrite(d, 1, len, f);
    int bad = w != len;
    if (fclose(f) != 0) bad = 1;
    if (bad) return levi_error(LEVI_ERR_IO, "write to '%s' failed: %s", path, strerror(errno));
    return LEVI_OK;
}

/* One split into tmp/<split>/<class>/<index>.png, recording counts. */
static levi_status write_split(const levi_shift_params *p, const char *tmp, int split, const split_src *src,
                               int count, cJSON *jsplit, long *done, long total) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", tmp, k_split_names[split]);
    LEVI_TRY(levi_mkdirs(path));
    for (int c = 0; c < 10; c++) {
        snprintf(path, sizeof path, "%s/%s/%s", tmp, k_split_names[split], levi_fashion_classes[c]);
        LEVI_TRY(levi_mkdirs(path));
    }
    int counts[10] = {0}, tex_agree = 0, mark_agree = 0;
    unsigned char img[NPIX];
    for (int i = 0; i < count; i++) {
        int idx = k_split_first[split] + i;
        int label = src->labels[idx], tex, mark;
        choose_features(p, split, idx, label, &tex, &mark);
        render(p, split, src->images + (size_t)idx * NPIX, tex, mark, img);
        unsigned char *png;
        size_t len;
        LEVI_TRY(levi_png_encode(img, SIDE, SIDE, 1, &png, &len));
        snprintf(path, sizeof path, "%s/%s/%s/%05d.png", tmp, k_split_names[split], levi_fashion_classes[label], idx);
        levi_status st = write_bytes(path, png, len);
        free(png);
        LEVI_TRY(st);
        counts[label]++;
        tex_agree += tex == label;
        mark_agree += mark == label;
        if (++*done % 2000 == 0 && p->progress) p->progress(p->progress_user, *done, total);
    }
    char range[64];
    snprintf(range, sizeof range, "%s[%d:%d)", k_split_from_test[split] ? "test" : "train", k_split_first[split],
             k_split_first[split] + count);
    cJSON_AddStringToObject(jsplit, "source", range);
    cJSON_AddStringToObject(jsplit, "domain", split == SPLIT_PRETRAIN ? "source" : levi_subdomain_name(p->subdomain));
    cJSON_AddStringToObject(jsplit, "feature_a", split == SPLIT_PRETRAIN ? "class-linked" : split == SPLIT_TEST_OOD ? "random" : "none");
    cJSON_AddStringToObject(jsplit, "feature_b", split == SPLIT_PRETRAIN ? "none" : split == SPLIT_TEST_OOD ? "random" : "class-linked");
    cJSON_AddNumberToObject(jsplit, "images", count);
    cJSON_AddItemToObject(jsplit, "counts", cJSON_CreateIntArray(counts, 10));
    cJSON_AddNumberToObject(jsplit, "texture_agrees_with_label", tex_agree);
    cJSON_AddNumberToObject(jsplit, "marker_agrees_with_label", mark_agree);
    return LEVI_OK;
}

static levi_status generate(const levi_shift_params *p, const char *tmp, const split_src *train,
                            const split_src *test) {
    LEVI_TRY(levi_mkdirs(tmp));
    cJSON *root = cJSON_CreateObject();
    if (!root) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    cJSON_AddStringToObject(root, "format", "levi-fashion-shift");
    cJSON_AddNumberToObject(root, "version", 1);
    cJSON_AddStringToObject(root, "source", p->source);
    cJSON_AddStringToObject(root, "subdomain", levi_subdomain_name(p->subdomain));
    cJSON_AddNumberToObject(root, "rho_a", p->rho_a);
    cJSON_AddNumberToObject(root, "rho_b", p->rho_b);
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", p->seed); /* exact even above 2^53 */
    cJSON_AddStringToObject(root, "seed", seed);
    cJSON_AddNumberToObject(root, "limit", p->limit > 0 ? p->limit : 0);
    cJSON_AddItemToObject(root, "classes", cJSON_CreateStringArray(levi_fashion_classes, 10));
    cJSON_AddNumberToObject(root, "image_size", SIDE);
    cJSON_AddNumberToObject(root, "texture_level", TEXTURE_LEVEL);
    cJSON *splits = cJSON_AddObjectToObject(root, "splits");
    long total = 0, done = 0;
    int counts[NSPLITS];
    for (int s = 0; s < NSPLITS; s++) {
        counts[s] = p->limit > 0 && p->limit < k_split_count[s] ? p->limit : k_split_count[s];
        total += counts[s];
    }
    levi_status st = LEVI_OK;
    for (int s = 0; s < NSPLITS && st == LEVI_OK; s++) {
        cJSON *js = cJSON_AddObjectToObject(splits, k_split_names[s]);
        st = write_split(p, tmp, s, k_split_from_test[s] ? test : train, counts[s], js, &done, total);
    }
    if (st == LEVI_OK) {
        char *text = cJSON_Print(root);
        if (!text) st = levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory writing manifest.json");
        else {
            char path[4096];
            snprintf(path, sizeof path, "%s/manifest.json", tmp);
            size_t n = strlen(text);
            text[n] = '\n'; /* replaces the NUL: the file ends with a newline */
            st = write_bytes(path, text, n + 1);
            free(text);
        }
    }
    cJSON_Delete(root);
    if (st == LEVI_OK && p->progress) p->progress(p->progress_user, total, total);
    return st;
}

levi_status levi_fashion_shift(const levi_shift_params *p) {
    if (!p->out || !*p->out) return levi_error(LEVI_ERR_INVALID_ARG, "fashion-shift: no output folder given");
    if (!p->source || !*p->source) return levi_error(LEVI_ERR_INVALID_ARG, "fashion-shift: no source folder given");
    if (!(p->rho_a >= 0 && p->rho_a <= 1) || !(p->rho_b >= 0 && p->rho_b <= 1))
        return levi_error(LEVI_ERR_INVALID_ARG, "fashion-shift: rho_a %g, rho_b %g, expected each in 0..1", p->rho_a,
                          p->rho_b);
    if ((unsigned)p->subdomain > LEVI_SUBDOMAIN_BLUR)
        return levi_error(LEVI_ERR_INVALID_ARG, "fashion-shift: subdomain %d, expected invert, edges or blur",
                          (int)p->subdomain);
    struct stat sb;
    if (stat(p->source, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return levi_error(LEVI_ERR_IO,
                          "source folder '%s' does not exist or is not a folder (install the Debian package "
                          "dataset-fashion-mnist, or pass --source DIR holding train-images-idx3-ubyte.gz etc.)",
                          p->source);
    int state = out_state(p->out);
    if (state == 3) return levi_error(LEVI_ERR_IO, "output '%s' exists and is not a folder", p->out);
    if (state == 2 && !p->force)
        return levi_error(LEVI_ERR_INVALID_ARG, "output folder '%s' is not empty (pass --force to replace it)", p->out);
    split_src train = {0}, test = {0};
    int need_train = p->limit > 0 ? 30000 + (p->limit < 30000 ? p->limit : 30000) : 60000;
    int need_test = p->limit > 0 && p->limit < 10000 ? p->limit : 10000;
    LEVI_TRY(load_source(p->source, "train", need_train, &train));
    levi_status st = load_source(p->source, "t10k", need_test, &test);
    if (st != LEVI_OK) {
        free(train.images);
        free(train.labels);
        return st;
    }
    size_t n = strlen(p->out);
    char *tmp = malloc(n + 64);
    if (!tmp) st = levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    if (st == LEVI_OK) {
        while (n > 1 && p->out[n - 1] == '/') n--;
        snprintf(tmp, n + 64, "%.*s.tmp.%ld", (int)n, p->out, (long)getpid());
        rm_tree(tmp);
        st = generate(p, tmp, &train, &test);
    }
    /* Swap in without a moment where p->out is missing (levi/files.h). */
    if (st == LEVI_OK) st = levi_dir_publish(tmp, p->out);
    if (st != LEVI_OK && tmp) rm_tree(tmp);
    free(tmp);
    free(train.images);
    free(train.labels);
    free(test.images);
    free(test.labels);
    return st;
}
