/* Texts to the (ids, mask) rows a BERT backbone reads. */
#include <stdlib.h>
#include <string.h>

#include "levi/text.h"

/* One text's ids in row[0..*count), row holding T + 1 (the extra slot shows
 * a text that needs more): a longer text keeps its first T - 1 pieces and its
 * last ([SEP]), and *truncated counts it. */
static levi_status encode_row(const levi_tokenizer *t, const char *text, int T, int32_t *row, int *count,
                              int *truncated) {
    LEVI_TRY(levi_tokenizer_encode(t, text, strlen(text), T + 1, row, count));
    if (*count > T) {
        row[T - 1] = row[*count - 1];
        *count = T;
        if (truncated) (*truncated)++;
    }
    return LEVI_OK;
}

levi_status levi_text_tokenize(const levi_tokenizer *t, const char *const *texts, int n, int T, float *ids,
                               float *mask, int *truncated) {
    if (!t || (!texts && n) || n < 0 || !ids || !mask)
        return levi_error(LEVI_ERR_INVALID_ARG, "levi_text_tokenize: NULL argument or negative count");
    if (T < 2) return levi_error(LEVI_ERR_INVALID_ARG, "levi_text_tokenize: T must be at least 2, got %d", T);
    if (truncated) *truncated = 0;
    int32_t *row = malloc((size_t)(T + 1) * sizeof *row);
    if (!row) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    const float pad = (float)levi_tokenizer_pad_id(t);
    levi_status st = LEVI_OK;
    for (int i = 0; i < n && st == LEVI_OK; i++) {
        int count = 0;
        st = encode_row(t, texts[i], T, row, &count, truncated);
        if (st != LEVI_OK) {
            st = levi_error(st, "text %d: %s", i, levi_last_error());
            break;
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

int levi_text_path_is_text(const char *path) { return path && levi_text_format_of(path) != LEVI_TEXT_AUTO; }

levi_status levi_text_dataset_tokens(levi_dataset *ds, const levi_text_dataset *td, const levi_tokenizer *t, int T,
                                     int *truncated) {
    if (!ds || !td || !t) return levi_error(LEVI_ERR_INVALID_ARG, "levi_text_dataset_tokens: NULL argument");
    memset(ds, 0, sizeof *ds);
    if (truncated) *truncated = 0;
    if (T < 2) return levi_error(LEVI_ERR_INVALID_ARG, "texts of %d tokens: expected at least 2 ([CLS] and [SEP])", T);
    if (td->n < 1) return levi_error(LEVI_ERR_INVALID_ARG, "a text data set without rows");
    size_t n = (size_t)td->n, cells = n * (size_t)T;
    ds->kind = LEVI_INPUT_TOKENS;
    ds->n = td->n;
    ds->seq_len = T;
    ds->num_classes = td->num_classes;
    ds->tokens = malloc(cells * sizeof *ds->tokens);
    ds->mask = malloc(cells);
    ds->labels = malloc(n * sizeof *ds->labels);
    ds->class_names = calloc((size_t)td->num_classes, sizeof *ds->class_names);
    int32_t *row = malloc((size_t)(T + 1) * sizeof *row);
    levi_status st = ds->tokens && ds->mask && ds->labels && ds->class_names && row
                         ? LEVI_OK
                         : levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory for %zu texts of %d tokens", n, T);
    for (int k = 0; st == LEVI_OK && k < td->num_classes; k++)
        if (!(ds->class_names[k] = strdup(td->class_names[k])))
            st = levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    const int pad = levi_tokenizer_pad_id(t);
    for (size_t i = 0; st == LEVI_OK && i < n; i++) {
        int count = 0;
        st = encode_row(t, td->texts[i], T, row, &count, truncated);
        if (st != LEVI_OK) {
            st = levi_error(st, "row %zu: %s", i + 1, levi_last_error());
            break;
        }
        int *ri = ds->tokens + i * (size_t)T;
        unsigned char *rm = ds->mask + i * (size_t)T;
        for (int k = 0; k < T; k++) {
            ri[k] = k < count ? row[k] : pad;
            rm[k] = k < count;
        }
        ds->labels[i] = td->labels[i];
    }
    free(row);
    if (st != LEVI_OK) levi_dataset_free(ds);
    return st;
}

levi_status levi_text_load_tokens(levi_dataset *ds, const char *path, const levi_text_options *opt,
                                  const levi_tokenizer *t, int T, int *truncated) {
    memset(ds, 0, sizeof *ds);
    levi_text_dataset td;
    LEVI_TRY(levi_text_load(&td, path, opt));
    levi_status st = levi_text_dataset_tokens(ds, &td, t, T, truncated);
    if (st != LEVI_OK) st = levi_error(st, "%s: %s", path, levi_last_error());
    levi_text_free(&td);
    return st;
}
