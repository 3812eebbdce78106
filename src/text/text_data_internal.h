/* Rows of a text data set as read from the file, before classes are known
 * (internal: shared by the JSON lines and the CSV/TSV readers). */
#ifndef LEVI_TEXT_DATA_INTERNAL_H
#define LEVI_TEXT_DATA_INTERNAL_H

#include <stddef.h>

#include "levi/text.h"

#ifndef TEXT_HIDDEN
#define TEXT_HIDDEN __attribute__((visibility("hidden")))
#endif

typedef struct text_rows {
    const char *path;
    const char *text_column, *label_column;
    char **texts, **labels; /* owned, NUL-terminated */
    int *lines;             /* line of the file where each row starts (1-based) */
    int n, cap;
} text_rows;

/* Append one row (copies both strings); checks that both are valid UTF-8
 * and that the label is not empty, naming the file, line and column. */
TEXT_HIDDEN levi_status text_rows_push(text_rows *r, const char *text, size_t tlen, const char *label, size_t llen, int line);
TEXT_HIDDEN void text_rows_free(text_rows *r);

/* Byte offset of the first invalid UTF-8 sequence in s[0..len), -1 when valid. */
TEXT_HIDDEN long text_utf8_invalid_at(const char *s, size_t len);

TEXT_HIDDEN levi_status text_read_jsonl(text_rows *r, const char *data, size_t len);
TEXT_HIDDEN levi_status text_read_delimited(text_rows *r, const char *data, size_t len, char delim);

#endif
