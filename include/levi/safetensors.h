/* levi/safetensors.h — validated reader and atomic writer of the Hugging Face
 * safetensors format.
 *
 * Layout: 8-byte little-endian u64 header length N, N bytes of UTF-8 JSON
 *   {"__metadata__": {str: str},
 *    "name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
 * (possibly padded with spaces at its end), then the data; offsets are
 * relative to the data start and the tensors tile [0, data_len) exactly.
 * The reader follows the validation of huggingface/safetensors src/tensor.rs. */
#ifndef LEVI_SAFETENSORS_H
#define LEVI_SAFETENSORS_H

#include <stddef.h>

#include "levi/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LEVI_ST_MAX_DIMS 8
#define LEVI_ST_MAX_HEADER (100u * 1000u * 1000u) /* same limit as the reference */

typedef struct levi_st_tensor {
    char *name;
    int ndim;
    long long shape[LEVI_ST_MAX_DIMS];
    size_t numel;
    float *data; /* converted to f32, owned */
} levi_st_tensor;

typedef struct levi_safetensors {
    int count;
    levi_st_tensor *tensors;  /* in file order of data_offsets */
    char *metadata_json;      /* the __metadata__ object re-serialized as JSON text, or NULL */
    void *meta_;              /* internal: the parsed __metadata__ (a cJSON object) */
} levi_safetensors;

/* Read and validate `path`; F32/F16/BF16 load as F32; other dtypes give
 * LEVI_ERR_UNSUPPORTED "unsupported dtype X for tensor Y in FILE". Malformed
 * files give LEVI_ERR_FORMAT with a message naming the file, the tensor or
 * field and what was expected. On error *out is left empty (nothing to free). */
levi_status levi_safetensors_read(const char *path, levi_safetensors *out);

/* Same, from a buffer already in memory; `what` names it in errors. */
levi_status levi_safetensors_parse(const void *buf, size_t len, const char *what, levi_safetensors *out);

/* The tensor called `name`, or NULL. */
const levi_st_tensor *levi_safetensors_find(const levi_safetensors *st, const char *name);

/* A __metadata__ string value, or NULL. The pointer lives as long as `st`. */
const char *levi_safetensors_meta(const levi_safetensors *st, const char *key);

void levi_safetensors_free(levi_safetensors *st);

/* Writer: collect tensors (data copied at add), metadata key/values, then
 * write atomically (temp file in the same folder, fsync, rename, fsync of the
 * folder). Tensors are written F32, sorted by name; the header is padded with
 * spaces so the data starts at an 8-byte aligned offset. Adding a name twice
 * or the key "__metadata__" as a tensor is LEVI_ERR_INVALID_ARG; setting a
 * metadata key twice replaces its value. */
typedef struct levi_st_writer levi_st_writer;

levi_status levi_st_writer_create(levi_st_writer **w);
/* data (shape...), numel = product of shape (1 for ndim 0); copied. */
levi_status levi_st_writer_add(levi_st_writer *w, const char *name, int ndim, const long long *shape,
                               const float *data);
levi_status levi_st_writer_meta(levi_st_writer *w, const char *key, const char *value);
levi_status levi_st_writer_write(levi_st_writer *w, const char *path);
void levi_st_writer_free(levi_st_writer *w);

/* IEEE half / bfloat16 to float, exact (subnormals, inf, nan kept). */
float levi_f16_to_f32(unsigned short h);
float levi_bf16_to_f32(unsigned short h);

#ifdef __cplusplus
}
#endif
#endif
