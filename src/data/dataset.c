/* ImageFolder data sets decoded once into uint8 storage: every image is read,
 * converted, resized and cropped on a pool of threads into its slot; bad
 * images are errors (or, with skip_bad, warnings in file order and holes
 * that are closed afterwards). Storage is host memory, or, when it would not
 * fit, a file in the levi cache folder that is memory-mapped and reused by
 * later runs over the same files with the same preprocessing (see cache.c). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "data_internal.h"
#include "dataset_cache.h"
#include "levi/log.h"

typedef struct load_job {
    const levi_preprocess *pre;
    char *const *paths;
    int C, H, W;
    size_t per;
    unsigned char *dst;   /* n slots of per bytes */
    char **errs;          /* per item: the error message, or NULL */
    levi_status *codes;   /* per item */
    atomic_int failed;    /* without skip_bad: stop at the first bad image */
    int skip_bad;
    int n, progress;
    atomic_int done;
    double t0, last;
} load_job;

static void decode_one(void *arg, int i, int worker) {
    load_job *j = arg;
    if (!j->skip_bad && atomic_load(&j->failed)) return;
    int w, h, ow, oh;
    unsigned char *px = NULL, *pre = NULL;
    levi_status st = levi_image_read(j->paths[i], j->C, &w, &h, &px);
    if (st == LEVI_OK) st = levi_preprocess_pixels(j->pre, px, w, h, j->paths[i], &pre, &ow, &oh);
    free(px);
    if (st == LEVI_OK && (ow != j->W || oh != j->H))
        st = levi_error(LEVI_ERR_SHAPE, "image '%s' is %dx%d after preprocessing (from %dx%d), expected %dx%d",
                        j->paths[i], ow, oh, w, h, j->W, j->H);
    if (st == LEVI_OK) memcpy(j->dst + (size_t)i * j->per, pre, j->per);
    free(pre);
    if (st != LEVI_OK) {
        j->codes[i] = st;
        j->errs[i] = strdup(levi_last_error());
        atomic_store(&j->failed, 1);
    }
    int d = atomic_fetch_add(&j->done, 1) + 1;
    if (j->progress && worker == 0) {
        double t = levi_now_s();
        if (t - j->last >= 2.0) {
            j->last = t;
            fprintf(stderr, "decoding: %d/%d images, %.0f images/s\n", d, j->n, d / (t - j->t0));
        }
    }
}

/* Decode every listed image into dst; on success *kept (n ints) lists the
 * good ones in order and dst is compacted to them. */
static levi_status decode_all(const char *root, char *const *paths, int n, const levi_preprocess *pre, int H, int W,
                              const levi_load_options *opt, unsigned char *dst, int *kept, int *nkept) {
    load_job j = {.pre = pre, .paths = paths, .C = pre->channels, .H = H, .W = W, .dst = dst,
                  .skip_bad = opt->skip_bad, .n = n, .progress = opt->progress};
    j.per = (size_t)pre->channels * H * W;
    j.errs = calloc((size_t)n, sizeof *j.errs);
    j.codes = calloc((size_t)n, sizeof *j.codes);
    if (!j.errs || !j.codes) {
        free(j.errs);
        free(j.codes);
        return levi_error(LEVI_ERR_HOST_MEMORY, "dataset '%s': out of host memory", root);
    }
    atomic_init(&j.failed, 0);
    atomic_init(&j.done, 0);
    j.t0 = j.last = levi_now_s();
    data_parallel_for(n, data_workers(opt->workers), decode_one, &j);
    levi_status st = LEVI_OK;
    int k = 0, bad = 0;
    for (int i = 0; i < n; i++) {
        if (!j.errs[i] && !j.codes[i]) {
            if (k != i) memmove(dst + (size_t)k * j.per, dst + (size_t)i * j.per, j.per);
            kept[k++] = i;
            continue;
        }
        if (!opt->skip_bad && st == LEVI_OK)
            st = levi_error(j.codes[i] ? j.codes[i] : LEVI_ERR_HOST_MEMORY, "%s%s",
                            j.errs[i] ? j.errs[i] : "out of host memory at ", j.errs[i] ? "" : paths[i]);
        else if (opt->skip_bad) {
            LEVI_WARN("skipped: %s", j.errs[i] ? j.errs[i] : paths[i]);
            bad++;
        }
    }
    for (int i = 0; i < n; i++) free(j.errs[i]);
    free(j.errs);
    free(j.codes);
    if (st == LEVI_OK && bad)
        LEVI_WARN("dataset '%s': skipped %d bad image%s of %d (--skip-bad)", root, bad, bad > 1 ? "s" : "", n);
    *nkept = k;
    return st;
}

void levi_dataset_free(levi_dataset *ds) {
    if (ds->map_) munmap(ds->map_, ds->map_len_);
    else free(ds->pixels);
    free(ds->labels);
    free(ds->tokens);
    free(ds->mask);
    if (ds->class_names) levi_class_names_free(ds->class_names, ds->num_classes);
    memset(ds, 0, sizeof *ds);
}

/* The files to load: paths[i] with label lab[i], class by class. */
static levi_status list_files(const char *root, char **classes, int nc, int limit, char ***paths_out, int **lab_out,
                              int *n_out) {
    char **paths = NULL, path[4096];
    int *lab = NULL, n = 0, cap = 0, skipped = 0;
    levi_status st = LEVI_OK;
    for (int c = 0; c < nc && st == LEVI_OK; c++) {
        snprintf(path, sizeof path, "%s/%s", root, classes[c]);
        char **files;
        int nf, others = 0;
        st = data_list_images(path, &files, &nf, &others);
        if (st != LEVI_OK) break;
        skipped += others;
        if (nf == 0) st = levi_error(LEVI_ERR_FORMAT, "class folder '%s' holds no image files (.png, .jpg, .jpeg)", path);
        int take = limit > 0 && nf > limit ? limit : nf;
        if (st == LEVI_OK && (long)n + take > 0x7fffffffL / 2)
            st = levi_error(LEVI_ERR_INVALID_ARG, "dataset '%s': too many images", root);
        if (st == LEVI_OK && n + take > cap) {
            int ncap = cap ? cap : 1024;
            while (ncap < n + take) ncap *= 2;
            char **np = realloc(paths, sizeof *np * (size_t)ncap);
            if (np) paths = np;
            int *nl = realloc(lab, sizeof *nl * (size_t)ncap);
            if (nl) lab = nl;
            if (!np || !nl) st = levi_error(LEVI_ERR_HOST_MEMORY, "dataset '%s': out of host memory listing", root);
            else cap = ncap;
        }
        for (int i = 0; i < take && st == LEVI_OK; i++) {
            size_t len = strlen(root) + strlen(classes[c]) + strlen(files[i]) + 3;
            paths[n] = malloc(len);
            if (!paths[n]) {
                st = levi_error(LEVI_ERR_HOST_MEMORY, "dataset '%s': out of host memory listing", root);
                break;
            }
            snprintf(paths[n], len, "%s/%s/%s", root, classes[c], files[i]);
            lab[n++] = c;
        }
        levi_class_names_free(files, nf);
    }
    if (st == LEVI_OK && skipped > 0)
        LEVI_WARN("dataset '%s': skipped %d file%s that are not .png, .jpg or .jpeg", root, skipped,
                  skipped > 1 ? "s" : "");
    if (st != LEVI_OK) {
        for (int i = 0; i < n; i++) free(paths[i]);
        free(paths);
        free(lab);
        return st;
    }
    *paths_out = paths;
    *lab_out = lab;
    *n_out = n;
    return LEVI_OK;
}

static size_t default_memory(void) {
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (size_t)pages * (size_t)size / 2 : (size_t)4 << 30;
}

/* Every class keeps at least one image after skipping. */
static levi_status check_classes(const levi_dataset *ds, const char *root) {
    int *count = calloc((size_t)ds->num_classes, sizeof *count);
    if (!count) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    for (int i = 0; i < ds->n; i++) count[ds->labels[i]]++;
    levi_status st = LEVI_OK;
    for (int c = 0; c < ds->num_classes && st == LEVI_OK; c++)
        if (!count[c])
            st = levi_error(LEVI_ERR_FORMAT, "class folder '%s/%s' holds no readable image (all were skipped)", root,
                            ds->class_names[c]);
    free(count);
    return st;
}

levi_status levi_dataset_load(levi_dataset *ds, const char *root, const levi_preprocess *pre, int height, int width,
                              const levi_load_options *opt_in) {
    memset(ds, 0, sizeof *ds);
    levi_load_options opt = {0};
    if (opt_in) opt = *opt_in;
    int C = pre ? pre->channels : 0;
    if (!pre || (C != 1 && C != 3) || height <= 0 || width <= 0 || height > LEVI_IMAGE_MAX_SIDE ||
        width > LEVI_IMAGE_MAX_SIDE)
        return levi_error(LEVI_ERR_INVALID_ARG,
                          "dataset '%s': asked for %d channels of %dx%d, expected 1 or 3 channels and sides 1..%d",
                          root, C, height, width, LEVI_IMAGE_MAX_SIDE);
    int ph, pw;
    levi_preprocess_output_size(pre, &ph, &pw);
    if (ph && (ph != height || pw != width))
        return levi_error(LEVI_ERR_SHAPE,
                          "dataset '%s': the preprocessing (%s) gives %dx%d images, the model expects %dx%d", root,
                          pre->processor, pw, ph, width, height);
    char **classes;
    int nc;
    LEVI_TRY(levi_folder_classes(root, &classes, &nc));
    ds->class_names = classes;
    ds->num_classes = nc;
    ds->channels = C;
    ds->height = height;
    ds->width = width;
    ds->pre = *pre;
    char **paths = NULL;
    int *lab = NULL, n = 0, nkept = 0;
    levi_status st = list_files(root, classes, nc, opt.limit_per_class, &paths, &lab, &n);
    if (st != LEVI_OK) {
        levi_dataset_free(ds);
        return st;
    }
    size_t per = (size_t)C * height * width;
    int *kept = malloc(sizeof *kept * (size_t)n);
    if (!kept) st = levi_error(LEVI_ERR_HOST_MEMORY, "dataset '%s': out of host memory", root);
    size_t limit = opt.max_memory ? opt.max_memory : default_memory();
    data_cache cache;
    int use_file = 0;
    if (st == LEVI_OK && per * (size_t)n > limit) {
        st = data_cache_open(&cache, root, (const char *const *)paths, n, pre, height, width, &opt);
        use_file = st == LEVI_OK && cache.enabled;
        if (use_file && cache.hit) {
            memcpy(kept, cache.kept, sizeof *kept * (size_t)cache.n_kept);
            nkept = cache.n_kept;
        }
        if (st == LEVI_OK && !use_file)
            LEVI_WARN("dataset '%s': %zu MB of pixels exceed the memory limit but the cache folder is off; "
                      "keeping them in memory", root, per * (size_t)n >> 20);
    }
    if (st == LEVI_OK && !(use_file && cache.hit)) {
        unsigned char *dst = use_file ? cache.pixels : malloc(per * (size_t)(n ? n : 1));
        if (!dst)
            st = levi_error(LEVI_ERR_HOST_MEMORY, "dataset '%s': out of host memory for %d images of %zu bytes",
                            root, n, per);
        if (st == LEVI_OK) st = decode_all(root, paths, n, pre, height, width, &opt, dst, kept, &nkept);
        if (use_file) st = data_cache_commit(&cache, kept, nkept, st);
        else if (st == LEVI_OK) ds->pixels = dst;
        else free(dst);
    }
    if (st == LEVI_OK && use_file) {
        ds->pixels = cache.pixels;
        ds->map_ = cache.map;
        ds->map_len_ = cache.map_len;
        ds->from_cache_file = cache.hit;
        cache.map = NULL; /* the data set owns the mapping now */
    }
    if (st == LEVI_OK) {
        ds->labels = malloc(sizeof *ds->labels * (size_t)(nkept ? nkept : 1));
        if (!ds->labels) st = levi_error(LEVI_ERR_HOST_MEMORY, "dataset '%s': out of host memory", root);
        for (int i = 0; st == LEVI_OK && i < nkept; i++) ds->labels[i] = lab[kept[i]];
        ds->n = nkept;
        ds->skipped = n - nkept;
    }
    if (st == LEVI_OK) st = check_classes(ds, root);
    if (use_file) data_cache_close(&cache);
    for (int i = 0; i < n; i++) free(paths[i]);
    free(paths);
    free(lab);
    free(kept);
    if (st != LEVI_OK) levi_dataset_free(ds);
    return st;
}

levi_status levi_dataset_load_folder(levi_dataset *ds, const char *root, int channels, int height, int width,
                                     int limit_per_class) {
    levi_preprocess pre;
    levi_preprocess_default(&pre, channels, height, width, 0.5f, 0.5f);
    levi_load_options opt = {.limit_per_class = limit_per_class};
    return levi_dataset_load(ds, root, &pre, height, width, &opt);
}
