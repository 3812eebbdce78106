/* Reader of golden fixture files written by tools/golden_*.py.
 *
 * Format (little-endian):
 *   "LEVIGLD1"      8-byte magic
 *   u32 version     GOLDEN_VERSION
 *   u32 count       number of arrays
 *   count times:
 *     u32 name_len, name bytes (no NUL), u32 ndim (1..4), u32 dims[ndim],
 *     float32 data[prod(dims)]
 * Arrays are looked up by name. The reader validates every length against
 * the file size, so a truncated or corrupt fixture is an error, not a crash. */
#ifndef LEVI_TEST_GOLDEN_H
#define LEVI_TEST_GOLDEN_H

#include <stddef.h>

#define GOLDEN_MAGIC "LEVIGLD1"
#define GOLDEN_VERSION 1u

typedef struct golden_array {
    char name[64];
    int ndim;
    int shape[4];
    size_t numel;
    float *data; /* owned copy */
} golden_array;

typedef struct golden_file {
    int count;
    golden_array *arrays;
    char *blob; /* the whole file */
} golden_file;

/* Load `path`; on failure returns -1 and writes a message naming the file
 * and what was wrong into err. */
int golden_load(golden_file *g, const char *path, char *err, size_t err_len);

/* The array called `name`, or NULL. */
const golden_array *golden_get(const golden_file *g, const char *name);

void golden_free(golden_file *g);

/* Path of a fixture: $LEVI_FIXTURES/<name> (set by tests/meson.build), else
 * tests/fixtures/<name> relative to the working directory. */
void golden_path(char *buf, size_t len, const char *name);

#endif
