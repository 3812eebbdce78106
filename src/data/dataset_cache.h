/* The cache file of a data set too large for host memory (inside src/data). */
#ifndef LEVI_DATASET_CACHE_H
#define LEVI_DATASET_CACHE_H

#include "data_internal.h"
#include "levi/runtime.h"

typedef struct data_cache {
    int enabled;           /* 0: the cache folder is off (LEVI_CACHE_DIR=off): nothing else is set */
    int hit;               /* 1: a complete file for this key exists; pixels and kept are valid */
    char path[4096];       /* <cache>/data/<key>.u8 */
    char key[33];
    levi_atomic_file tmp;  /* a miss: the file being written */
    int writing;
    unsigned char *map;    /* the mapping (read-only after a hit or a commit) */
    size_t map_len;
    unsigned char *pixels; /* into map */
    const int *kept;       /* into map after a hit: n_kept indices into the listed files */
    int n, n_kept, C, H, W;
} data_cache;

/* Look the key up (paths' names, sizes, mtimes, the preprocessing, the size
 * and options): a hit maps the file read-only; a miss creates a temporary
 * file with room for n images, mapped for writing. Stale temporaries of
 * processes that died are removed. */
LEVI_DATA_HIDDEN levi_status data_cache_open(data_cache *c, const char *root, const char *const *paths, int n,
                                             const levi_preprocess *pre, int H, int W, const levi_load_options *opt);
/* After decoding into c->pixels: st == LEVI_OK writes the header and the
 * kept list, shrinks the file, renames it into place and maps it read-only;
 * otherwise the temporary file is removed and st returned. */
LEVI_DATA_HIDDEN levi_status data_cache_commit(data_cache *c, const int *kept, int n_kept, levi_status st);
/* Release whatever is still held (a mapping taken over by a data set is
 * set to NULL by its new owner first). */
LEVI_DATA_HIDDEN void data_cache_close(data_cache *c);

#endif
