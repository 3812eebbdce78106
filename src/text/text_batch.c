/* Texts to the (ids, mask) rows a BERT backbone reads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "levi/text.h"

levi_status levi_text_tokenize(const levi_tokenizer *t, const char *const *texts, int n, int T, float *ids,
                               float *mask, int *truncated) {
    if (!t || (!texts && n) || n < 0 || !ids || !mask)
        return levi_error(LEVI_ERR_INVALID_ARG, "levi_text_tokenize: NULL argument or negative count");
    if (T < 2) return levi_error(LEVI_ERR_INVALID_ARG, "levi_text_tokenize: T must be at least 2, got %d", T);
    if (truncated) *truncated = 0;
    /* one more slot than T: a text that needs it was truncated */
    int32_t *row = malloc((size_t)(T + 1) * sizeof *row);
    if (!row) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    const float pad = (float)levi_tokenizer_pad_id(t);
    levi_status st = LEVI_OK;
    for (int i = 0; i < n && st == LEVI_OK; i++) {
        int count = 0;
        st = levi_tokenizer_encode(t, texts[i], strlen(texts[i]), T + 1, row, &count);
        if (st != LEVI_OK) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", levi_last_error());
            st = levi_error(st, "text %d: %s", i, msg);
            break;
        }
        if (count > T) { /* drop the last piece, keep [SEP] */
            row[T - 1] = row[count - 1];
            count = T;
            if (truncated) (*truncated)++;
        }
        float *ri = ids + (size_t)i * T, *rm = mask + (size_t)i * T;
        for (int k = 0; k < T; k++) {
            ri[k] = k < count ? (float)row[k] : pad;
            rm[k] = k < count ? 1.0f : 0.0f;
        }
    }
    free(row);
    return st;
}
