/* levi/data.h — images on the host: IDX files (Fashion-MNIST), PNG through
 * libpng, JPEG through libjpeg-turbo, Hugging Face preprocessing, ImageFolder
 * datasets (root/<class>/<file>.{png,jpg}) decoded once into uint8 storage,
 * a seeded loader that normalises and augments on a thread pool, and the
 * `fashion-shift` benchmark generator of DESIGN.md section 2.
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

/* --- images: PNG and JPEG ---------------------------------------------------- */

/* Largest width or height an image may have, and the most pixels (checked
 * from the header, before any pixel memory is allocated); files above
 * LEVI_IMAGE_MAX_FILE_BYTES are refused before reading. */
#define LEVI_IMAGE_MAX_SIDE 16384
#define LEVI_IMAGE_MAX_PIXELS (64u << 20)
#define LEVI_IMAGE_MAX_FILE_BYTES (256u << 20)
#define LEVI_PNG_MAX_SIDE LEVI_IMAGE_MAX_SIDE

typedef enum { LEVI_IMAGE_UNKNOWN = 0, LEVI_IMAGE_PNG, LEVI_IMAGE_JPEG } levi_image_format;

/* The format from the first bytes (the file name does not matter). */
levi_image_format levi_image_sniff(const unsigned char *data, size_t len);

/* Any PNG or JPEG → 8-bit pixels with `channels` (1 or 3) interleaved
 * channels, rows top-down, converted as Pillow's Image.convert("L") /
 * convert("RGB"): alpha is dropped, gray replicated, RGB → L is
 * (19595 R + 38470 G + 7471 B + 32768) >> 16; 16-bit PNG samples keep their
 * high byte. JPEG: 8-bit grayscale or YCbCr/RGB, baseline or progressive
 * (at most 500 scans), decoded as Pillow decodes (libjpeg-turbo, accurate
 * IDCT, fancy upsampling); CMYK/YCCK, 12-bit, lossless, truncated or corrupt
 * files are errors (every libjpeg warning is one). *pixels is malloc'ed;
 * on error it is NULL and the message names `name`. */
levi_status levi_image_decode(const unsigned char *data, size_t len, const char *name, int channels, int *width,
                              int *height, unsigned char **pixels);
/* The same from a file (a FIFO or other non-regular file is an error, never
 * a blocking open). */
levi_status levi_image_read(const char *path, int channels, int *width, int *height, unsigned char **pixels);
levi_status levi_jpeg_decode(const unsigned char *data, size_t len, const char *name, int channels, int *width,
                             int *height, unsigned char **pixels);
/* Images decoded so far by this process (levi_image_decode calls that
 * succeeded): tests use it to prove that a second epoch decodes nothing. */
long levi_image_decode_count(void);

/* --- preprocessing: Hugging Face image processors ---------------------------------- */

/* PIL's resampling filters, by their PIL codes (preprocessor_config.json
 * "resample"). */
enum {
    LEVI_RESAMPLE_NEAREST = 0,
    LEVI_RESAMPLE_LANCZOS = 1,
    LEVI_RESAMPLE_BILINEAR = 2,
    LEVI_RESAMPLE_BICUBIC = 3,
    LEVI_RESAMPLE_BOX = 4,
    LEVI_RESAMPLE_HAMMING = 5,
};

#define LEVI_PRE_MAX_CHANNELS 3

/* What transformers' image processor (PIL backend) does to an image:
 * convert to `channels`, resize, centre crop, rescale, normalise, in that
 * order, with the fields of preprocessor_config.json. */
typedef struct levi_preprocess {
    char processor[64];      /* image_processor_type, e.g. "ViTImageProcessor" */
    int channels;            /* 1 (convert("L")) or 3 (convert("RGB")): the backbone's */
    int do_resize;
    int resize_height, resize_width; /* size {"height","width"} (or an integer) */
    int shortest_edge;       /* size {"shortest_edge"}: shorter side → this, aspect kept; 0: unused */
    int resample;            /* LEVI_RESAMPLE_* (PIL code) */
    int do_center_crop;
    int crop_height, crop_width;
    int do_rescale;
    double rescale_factor;   /* 1/255 */
    int do_normalize;
    float image_mean[LEVI_PRE_MAX_CHANNELS], image_std[LEVI_PRE_MAX_CHANNELS]; /* per channel */
} levi_preprocess;

/* ViTImageProcessor's defaults at height×width (bilinear, 1/255) with the
 * same mean/std on every channel: what levi-cl applies without a
 * preprocessor_config.json. */
void levi_preprocess_default(levi_preprocess *p, int channels, int height, int width, float mean, float std);
/* Parse preprocessor_config.json text; missing fields keep the defaults
 * above (height×width stands in for an absent size). Errors name `where`
 * and the field; fields that change the meaning of size (crop_pct, padding)
 * are LEVI_ERR_UNSUPPORTED. */
levi_status levi_preprocess_parse(levi_preprocess *p, const char *json, const char *where, int channels, int height,
                                  int width);
/* folder/preprocessor_config.json when it exists, else the defaults. */
levi_status levi_preprocess_load(levi_preprocess *p, const char *folder, int channels, int height, int width,
                                 float mean, float std);
/* A model's preprocessing: its stored preprocessor JSON (levi_model_preprocessor),
 * or, when json is NULL (older model files), the defaults with mean/std. */
levi_status levi_preprocess_for_model(levi_preprocess *p, const char *json, const char *where, int channels,
                                      int height, int width, float mean, float std);
/* As preprocessor_config.json text (malloc'ed; parse gives p back). */
char *levi_preprocess_json(const levi_preprocess *p);
/* The fixed output size (crop, or resize to height×width), or 0×0 when it
 * depends on the image (no resize, or shortest_edge without a crop). */
void levi_preprocess_output_size(const levi_preprocess *p, int *height, int *width);
/* The uint8 steps (resize, crop) on pixels already converted to
 * p->channels: px (h, w, C) → *out (oh, ow, C), malloc'ed. */
levi_status levi_preprocess_pixels(const levi_preprocess *p, const unsigned char *px, int w, int h, const char *name,
                                   unsigned char **out, int *ow, int *oh);
/* The float steps (rescale, normalise) as a table: table[c][v] is what
 * transformers computes for value v in channel c, to the last bit. */
void levi_preprocess_table(const levi_preprocess *p, float table[LEVI_PRE_MAX_CHANNELS][256]);
/* hwc (h, w, C) uint8 → chw (C, h, w) floats through the table. */
void levi_preprocess_normalize(const float table[LEVI_PRE_MAX_CHANNELS][256], const unsigned char *hwc, int C, int h,
                               int w, float *chw);
/* One image file → the model's input (C, height, width) floats, exactly as
 * transformers' processor would give it (used by `predict`). An image whose
 * preprocessed size is not height×width is LEVI_ERR_SHAPE naming it. */
levi_status levi_image_preprocess(const char *path, const levi_preprocess *p, int height, int width, float *chw);

/* Pillow's Image.resize((ow, oh), resample, box) on 8-bit pixels, to the
 * last bit: in (ih, iw, C), out (oh, ow, C), C in 1..4; box (left, top,
 * right, bottom) in input pixels, NULL for the whole image. */
levi_status levi_resample(const unsigned char *in, int iw, int ih, int C, const double box[4], unsigned char *out,
                          int ow, int oh, int resample);

/* --- datasets ------------------------------------------------------------ */

/* What a sample is: an image (pixels), or a text tokenised into ids with an
 * attention mask (levi/text.h builds those). The same values describe a
 * backbone's and a model's input view (levi/backbone.h levi_input_spec). */
typedef enum { LEVI_INPUT_PIXELS = 0, LEVI_INPUT_TOKENS = 1 } levi_input_kind;

/* Training-time augmentation (a shuffling loader only: never evaluation):
 * a random horizontal flip (p = 0.5) and torchvision's RandomResizedCrop
 * (scale 0.08..1, ratio 3/4..4/3, resized back bilinearly with PIL's
 * antialiasing), applied to the cached preprocessed image, seeded by (seed, epoch,
 * image), so every run and every worker count gives the same batches. */
enum { LEVI_AUGMENT_FLIP = 1, LEVI_AUGMENT_CROP = 2 };
/* "flip,crop", "flip", "crop", "none" → flags; errors name the bad word. */
levi_status levi_augment_parse(const char *spec, unsigned *flags);

typedef struct levi_dataset {
    int n;                       /* images */
    int channels, height, width; /* every image stored at this size */
    unsigned char *pixels;       /* n images of height×width×channels bytes (HWC), preprocessed up to the
                                    crop; in memory or memory-mapped from the cache folder */
    int *labels;                 /* n, each in [0, num_classes) */
    int num_classes;
    char **class_names;          /* num_classes strings (sorted folder names) */
    levi_preprocess pre;         /* how pixels were made; the loader normalises with it */
    unsigned augment;            /* LEVI_AUGMENT_* applied by shuffling loaders */
    int workers;                 /* loader threads, 0: one per core */
    int skipped;                 /* bad images left out (skip_bad) */
    int from_cache_file;         /* 1: pixels come from the cache folder (no decoding at all) */
    void *map_;                  /* internal: the mapping of a cache file, or NULL */
    size_t map_len_;
    /* Texts (kind LEVI_INPUT_TOKENS; pixels NULL, channels/height/width 0),
     * tokenised once when loaded (levi_text_dataset_tokens): */
    levi_input_kind kind;  /* LEVI_INPUT_PIXELS (0) for images */
    int seq_len;           /* T: every text padded or truncated to T tokens */
    int *tokens;           /* n × T token ids ([CLS] ... [SEP], then [PAD]) */
    unsigned char *mask;   /* n × T attention mask: 1 for a token, 0 for padding */
} levi_dataset;

typedef struct levi_load_options {
    int limit_per_class; /* ≤ 0: all */
    int skip_bad;        /* 1: a bad image is a warning and is left out (counted in ds->skipped) */
    int workers;         /* decoding threads, 0: one per core */
    /* Bytes of decoded pixels kept in host memory; a larger data set is
     * decoded into a file under the levi cache folder (data/), memory-mapped,
     * keyed by the folder's contents (paths, sizes, mtimes) and the
     * preprocessing, and reused by later runs. 0: half the physical memory. */
    size_t max_memory;
    int progress;        /* 1: progress lines on stderr while decoding */
} levi_load_options;

/* Load root/<class>/<file>.{png,jpg,jpeg} (any case; classes = sorted
 * sub-folder names, files in sorted order): each image is decoded once,
 * converted to pre->channels, resized and cropped by `pre`, on `workers`
 * threads, into uint8 storage. Every image must come out height×width. Other
 * files are skipped with one warning that counts them. An empty class folder
 * (after skipping), a root that is not a folder or a bad image (unless
 * skip_bad) is an error naming the path; nothing is left half-written in the
 * cache folder. */
levi_status levi_dataset_load(levi_dataset *ds, const char *root, const levi_preprocess *pre, int height, int width,
                              const levi_load_options *opt);
/* levi_dataset_load with levi_preprocess_default(channels, height, width,
 * 0.5, 0.5) and only limit_per_class set. */
levi_status levi_dataset_load_folder(levi_dataset *ds, const char *root, int channels, int height, int width,
                                     int limit_per_class);
void levi_dataset_free(levi_dataset *ds);

/* The sorted sub-folder names of root (the class list) without loading any
 * image; *names is an array of *count malloc'ed strings, free with
 * levi_class_names_free. */
levi_status levi_folder_classes(const char *root, char ***names, int *count);
void levi_class_names_free(char **names, int count);

/* Number of image files (.png, .jpg, .jpeg) in root/<class> for every class
 * (counts[i] for names[i] from levi_folder_classes); *counts is malloc'ed. */
levi_status levi_folder_counts(const char *root, char ***names, int *num_classes, int **counts);

/* --- loader -------------------------------------------------------------- */

/* Seeded shuffling and batching; the same seed gives the same order on every
 * machine (own PRNG: splitmix64 + Fisher-Yates; never rand()). Batches are
 * normalised (and, when shuffling, augmented) by ds->workers threads ahead
 * of the caller: while the device computes batch k, batch k+1 (and the first
 * of the next epoch) is being prepared. */
typedef struct levi_loader {
    const levi_dataset *ds;
    int batch;
    int *order; /* this epoch's order: the batch just returned is order[pos - b .. pos) */
    int pos;
    unsigned long long seed;
    int epoch;
    int shuffle;
    struct levi_loader_pool *pool_; /* internal */
} levi_loader;

/* What the loader did since levi_loader_init. */
typedef struct levi_loader_stats {
    long images;      /* images handed out by levi_loader_next */
    double wait_s;    /* time spent inside levi_loader_next: waiting for the workers and copying */
    double prepare_s; /* worker time spent normalising and augmenting */
    int workers;      /* threads preparing batches (0: in the caller's thread) */
} levi_loader_stats;

levi_status levi_loader_init(levi_loader *l, const levi_dataset *ds, int batch, unsigned long long seed,
                             int shuffle);
/* Start epoch e (reshuffles deterministically from seed and e, so resuming at
 * epoch e gives the same order as an uninterrupted run). */
void levi_loader_epoch(levi_loader *l, int epoch);
/* Next batch into caller-provided host buffers: images (batch, C, H, W)
 * normalised by ds->pre, labels (batch floats holding exact integers).
 * Returns the number of images (the last batch may be short), 0 at epoch
 * end; returns at once when the workers prepared the batch already. */
int levi_loader_next(levi_loader *l, float *images, float *labels);
/* The same for any input kind: x (batch, C, H, W) pixels or (batch, T) token
 * ids, mask (batch, T) of 1/0 for tokens (may be NULL: not copied; unused
 * for pixels), labels (batch). Ids and mask values are exact integers as
 * floats. */
int levi_loader_next_input(levi_loader *l, float *x, float *mask, float *labels);
/* Floats per sample of x: C·H·W for images, T for texts (the mask has T too). */
size_t levi_dataset_sample_floats(const levi_dataset *ds);
void levi_loader_stats_get(const levi_loader *l, levi_loader_stats *out);
void levi_loader_free(levi_loader *l);

/* --- PNG ------------------------------------------------------------------ */

/* Read a PNG (8/16-bit, gray, gray+alpha, RGB, RGBA, palette) as
 * levi_image_read does. *pixels is malloc'ed. */
levi_status levi_png_read(const char *path, int channels, int *width, int *height, unsigned char **pixels);
/* Write 8-bit gray (channels 1) or RGB (3) pixels, atomically (temp file +
 * rename). zlib level 1: the benchmark writes ~70,000 of these. */
levi_status levi_png_write(const char *path, const unsigned char *pixels, int width, int height, int channels);
/* The same image encoded in memory (*data malloc'ed); byte-identical to
 * what levi_png_write puts in the file. */
levi_status levi_png_encode(const unsigned char *pixels, int width, int height, int channels,
                            unsigned char **data, size_t *len);
/* One PNG or JPEG → floats in [0,1], CHW, `channels` (1 or 3), bilinearly
 * resized to height×width (levi_resize_bilinear; the contact sheet). out
 * holds channels*height*width floats. */
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
