/* Helpers shared inside src/data (not part of the public API). */
#ifndef LEVI_DATA_INTERNAL_H
#define LEVI_DATA_INTERNAL_H

#include <stddef.h>

#include "levi/data.h"

#define LEVI_DATA_HIDDEN __attribute__((visibility("hidden")))

/* The image file names (.png, .jpg, .jpeg, any case) in `dir`, sorted;
 * *names (count strings) is freed with levi_class_names_free. `others` (may
 * be NULL) counts other regular files. */
LEVI_DATA_HIDDEN levi_status data_list_images(const char *dir, char ***names, int *count, int *others);

/* Pixels with sc channels (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA) → dc (1 or 3)
 * with Pillow's convert("L") / convert("RGB") rules. */
LEVI_DATA_HIDDEN void data_convert_pixels(const unsigned char *src, int sc, unsigned char *dst, int dc, size_t n);

/* A whole image file into memory (*data NUL-terminated, malloc'ed); refuses
 * non-regular files without blocking and files over the size limit; `kind`
 * ("PNG", "image") names the file in errors. */
LEVI_DATA_HIDDEN levi_status data_read_image_file(const char *path, const char *kind, char **data, size_t *len);
/* An image decoder (levi_image_decode, levi_png_decode) and a whole file through it. */
typedef levi_status (*data_image_decoder)(const unsigned char *data, size_t len, const char *name, int channels,
                                          int *width, int *height, unsigned char **pixels);
LEVI_DATA_HIDDEN levi_status data_decode_file(const char *path, const char *kind, data_image_decoder decode,
                                              int channels, int *width, int *height, unsigned char **pixels);

/* Threads to use for `workers` (0: one per online core), at least 1. */
LEVI_DATA_HIDDEN int data_workers(int workers);

/* Run fn(arg, i, worker) for i in [0, n) on `threads` threads (the calling
 * thread included); items are handed out in order, one at a time. */
LEVI_DATA_HIDDEN void data_parallel_for(int n, int threads, void (*fn)(void *arg, int i, int worker), void *arg);


/* One augmented image: src (h, w, C) → dst (h, w, C), flags LEVI_AUGMENT_*,
 * randomness from `rng` (a splitmix64 state). */
LEVI_DATA_HIDDEN void data_augment(const unsigned char *src, int h, int w, int C, unsigned flags,
                                   unsigned long long rng, unsigned char *dst);

#endif
