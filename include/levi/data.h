/* levi/data.h — images on the host: IDX files (Fashion-MNIST), PNG through
 * libpng, ImageFolder datasets (root/<class>/<file>.png), seeded batching,
 * and the `fashion-shift` benchmark generator of DESIGN.md section 2.
 *
 * Everything here lives in host memory; nothing needs an OpenCL device. */
#ifndef LEVI_DATA_H
#define LEVI_DATA_H

#include <stddef.h>

#include "levi/random.h"
#include "levi/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- datasets ------------------------------------------------------------ */

typedef struct levi_dataset {
    int n;                       /* images */
    int channels, height, width; /* every image stored at this size */
    float *images;               /* n*channels*height*width floats in [0,1], NCHW, host memory */
    int *labels;                 /* n, each in [0, num_classes) */
    int num_classes;
    char **class_names; /* num_classes strings (sorted folder names) */
} levi_dataset;

/* Load root/<class>/<file>.png (classes = sorted sub-folder names, files in
 * sorted order); every image converted to `channels` (1 or 3) and bilinearly
 * resized to height×width. limit_per_class ≤ 0 means all. Non-PNG files are
 * skipped with one warning that counts them. An empty class folder, a root
 * that is not a folder or a bad PNG is an error naming the path. */
levi_status levi_dataset_load_folder(levi_dataset *ds, const char *root, int channels, int height, int width,
                                     int limit_per_class);
void levi_dataset_free(levi_dataset *ds);

/* The sorted sub-folder names of root (the class list) without loading any
 * image; *names is an array of *count malloc'ed strings, free with
 * levi_class_names_free. */
levi_status levi_folder_classes(const char *root, char ***names, int *count);
void levi_class_names_free(char **names, int count);

/* Number of .png files in root/<class> for every class (counts[i] for
 * names[i] from levi_folder_classes); *counts is malloc'ed. */
levi_status levi_folder_counts(const char *root, char ***names, int *num_classes, int **counts);

/* --- loader -------------------------------------------------------------- */

/* Seeded shuffling and batching; the same seed gives the same order on every
 * machine (own PRNG: splitmix64 + Fisher-Yates; never rand()). */
typedef struct levi_loader {
    const levi_dataset *ds;
    int batch;
    int *order;
    int pos;
    unsigned long long seed;
    int epoch;
    int shuffle;
} levi_loader;

levi_status levi_loader_init(levi_loader *l, const levi_dataset *ds, int batch, unsigned long long seed,
                             int shuffle);
/* Start epoch e (reshuffles deterministically from seed and e, so resuming at
 * epoch e gives the same order as an uninterrupted run). */
void levi_loader_epoch(levi_loader *l, int epoch);
/* Next batch into images (batch*C*H*W) and labels (batch floats holding exact
 * integers); normalizes x → (x - mean)/std. Returns the number of images
 * (the last batch may be short), 0 at epoch end. */
int levi_loader_next(levi_loader *l, float *images, float *labels, float mean, float std);
void levi_loader_free(levi_loader *l);

/* --- PNG ------------------------------------------------------------------ */

/* Largest width or height levi_png_read accepts (checked from the header,
 * before any pixel memory is allocated). */
#define LEVI_PNG_MAX_SIDE 16384

/* Read any PNG (8/16-bit, gray, gray+alpha, RGB, RGBA, palette) as 8-bit
 * pixels with `channels` (1 or 3) interleaved channels, rows top-down;
 * alpha is composited over black. *pixels is malloc'ed. */
levi_status levi_png_read(const char *path, int channels, int *width, int *height, unsigned char **pixels);
/* Write 8-bit gray (channels 1) or RGB (3) pixels, atomically (temp file +
 * rename). zlib level 1: the benchmark writes ~70,000 of these. */
levi_status levi_png_write(const char *path, const unsigned char *pixels, int width, int height, int channels);
/* The same image encoded in memory (*data malloc'ed); byte-identical to
 * what levi_png_write puts in the file. */
levi_status levi_png_encode(const unsigned char *pixels, int width, int height, int channels,
                            unsigned char **data, size_t *len);
/* One PNG → floats in [0,1], CHW, `channels` (1 or 3), bilinearly resized to
 * height×width (used by `predict`). out holds channels*height*width floats. */
levi_status levi_image_load(const char *path, int channels, int height, int width, float *out);

/* Bilinear resize with align_corners=False semantics (PyTorch's default).
 * in (C,ih,iw), out (C,oh,ow). */
void levi_resize_bilinear(const float *in, int channels, int ih, int iw, float *out, int oh, int ow);

/* --- IDX (gzip or raw) ----------------------------------------------------- */

/* Images: magic 0x00000803, dims (n, rows, cols); *pixels (n*rows*cols) malloc'ed. */
levi_status levi_idx_read_images(const char *path, int *n, int *rows, int *cols, unsigned char **pixels);
/* Labels: magic 0x00000801, dims (n); validates labels < 10. */
levi_status levi_idx_read_labels(const char *path, int *n, unsigned char **labels);
/* Both of the above, from memory (the fuzz harness and tests use these);
 * `name` is used in error messages. */
levi_status levi_idx_parse_images(const unsigned char *data, size_t len, const char *name, int *n, int *rows,
                                  int *cols, unsigned char **pixels);
levi_status levi_idx_parse_labels(const unsigned char *data, size_t len, const char *name, int *n,
                                  unsigned char **labels);
/* PNG from memory (fuzzing, tests); same rules as levi_png_read. */
levi_status levi_png_decode(const unsigned char *data, size_t len, const char *name, int channels, int *width,
                            int *height, unsigned char **pixels);

/* --- the fashion-shift benchmark (DESIGN.md section 2) --------------------- */

typedef enum { LEVI_SUBDOMAIN_INVERT = 0, LEVI_SUBDOMAIN_EDGES, LEVI_SUBDOMAIN_BLUR } levi_subdomain;

typedef struct levi_shift_params {
    const char *source; /* folder with the four Fashion-MNIST .gz files */
    const char *out;    /* output folder (created whole, or not at all) */
    levi_subdomain subdomain;
    double rho_a; /* P(texture of the image's class) in pretrain */
    double rho_b; /* P(marker of the image's class) in train and test-id */
    unsigned long long seed;
    int limit; /* images per split, ≤ 0: the full table */
    int force; /* replace a non-empty out folder */
    /* progress: called now and then with images written so far and the total */
    void (*progress)(void *user, long done, long total);
    void *progress_user;
} levi_shift_params;

/* Parameters with the documented defaults (rho 0.9, seed 0, invert, the
 * Debian source folder). */
void levi_shift_defaults(levi_shift_params *p);
const char *levi_subdomain_name(levi_subdomain s);
levi_status levi_subdomain_parse(const char *name, levi_subdomain *out);

/* Write out/{pretrain,train,test-id,test-ood}/<class>/<index>.png and
 * out/manifest.json. Same parameters → byte-identical files. */
levi_status levi_fashion_shift(const levi_shift_params *p);

/* The class names of Fashion-MNIST as folder names ("0-tshirt" ... "9-boot"),
 * so that sorted order is label order. */
extern const char *const levi_fashion_classes[10];

/* The splits of a benchmark folder: its sub-folders that hold class folders,
 * pretrain, train, test-id, test-ood first, then the others sorted. When dir
 * is itself one ImageFolder, *count is 1 and the name is ".". Free with
 * levi_class_names_free. */
levi_status levi_benchmark_splits(const char *dir, char ***names, int *count);

/* A contact sheet of a benchmark (or any folder of ImageFolder splits):
 * `per_class` samples per class per split, labelled by split, scaled by
 * `scale`; written as an RGB PNG, atomically. */
levi_status levi_contact_sheet(const char *dir, const char *out_png, int per_class, int scale);

#ifdef __cplusplus
}
#endif
#endif
