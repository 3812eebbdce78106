/* Seeded shuffling and batching over a preloaded levi_dataset. The order of
 * epoch e depends only on (seed, e): splitmix64 + Fisher-Yates, integer
 * arithmetic only, so every machine sees the same batches. */
#include <stdlib.h>
#include <string.h>

#include "levi/data.h"

levi_status levi_loader_init(levi_loader *l, const levi_dataset *ds, int batch, unsigned long long seed,
                             int shuffle) {
    memset(l, 0, sizeof *l);
    if (!ds || ds->n <= 0 || !ds->images || !ds->labels)
        return levi_error(LEVI_ERR_INVALID_ARG, "loader: the dataset is empty");
    if (batch <= 0) return levi_error(LEVI_ERR_INVALID_ARG, "loader: batch size %d, expected > 0", batch);
    l->order = malloc(sizeof(int) * (size_t)ds->n);
    if (!l->order) return levi_error(LEVI_ERR_HOST_MEMORY, "loader: out of host memory for %d indices", ds->n);
    l->ds = ds;
    l->batch = batch;
    l->seed = seed;
    l->shuffle = shuffle;
    levi_loader_epoch(l, 0);
    return LEVI_OK;
}

void levi_loader_epoch(levi_loader *l, int epoch) {
    int n = l->ds->n;
    for (int i = 0; i < n; i++) l->order[i] = i;
    l->epoch = epoch;
    l->pos = 0;
    if (!l->shuffle) return;
    unsigned long long st = l->seed;
    unsigned long long mix = levi_splitmix64(&st) ^ (0xd1b54a32d192ed03ULL * (unsigned long long)(epoch + 1));
    st = mix;
    for (int i = n - 1; i > 0; i--) {
        /* Uniform in [0, i] by a 32x32 → 64-bit multiply (no modulo bias to speak of). */
        unsigned long long r = levi_splitmix64(&st) >> 32;
        int j = (int)((r * (unsigned long long)(i + 1)) >> 32);
        int t = l->order[i];
        l->order[i] = l->order[j];
        l->order[j] = t;
    }
}

// images (batch,C,H,W), labels (batch)
int levi_loader_next(levi_loader *l, float *images, float *labels, float mean, float std) {
    const levi_dataset *ds = l->ds;
    int left = ds->n - l->pos;
    if (left <= 0) return 0;
    int b = left < l->batch ? left : l->batch;
    size_t per = (size_t)ds->channels * ds->height * ds->width;
    float sd = std != 0.0f ? std : 1.0f;
    for (int k = 0; k < b; k++) {
        int idx = l->order[l->pos + k];
        const float *src = ds->images + (size_t)idx * per;
        float *dst = images + (size_t)k * per;
        for (size_t i = 0; i < per; i++) dst[i] = (src[i] - mean) / sd;
        labels[k] = (float)ds->labels[idx];
    }
    l->pos += b;
    return b;
}

void levi_loader_free(levi_loader *l) {
    free(l->order);
    memset(l, 0, sizeof *l);
}
