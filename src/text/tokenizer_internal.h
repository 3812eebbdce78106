/* The tokenizer's internals, shared by its vocabulary/config loader and its
 * encoder (internal). */
#ifndef LEVI_TEXT_TOKENIZER_INTERNAL_H
#define LEVI_TEXT_TOKENIZER_INTERNAL_H

#include "levi/text.h"

#ifndef TEXT_HIDDEN
#define TEXT_HIDDEN __attribute__((visibility("hidden")))
#endif

#define TOK_MAX_LITERALS 16

/* A token matched literally in the raw text (special tokens). */
typedef struct tok_literal {
    char *text;
    size_t len;
    int id;
} tok_literal;

struct levi_tokenizer {
    levi_tokenizer_options opt;
    char *names[5];       /* owned copies of the special tokens' strings */
    char *vocab;          /* vocab.txt as given (levi_tokenizer_json stores it) */
    size_t vocab_len;
    char *blob;           /* every token, NUL-terminated, one after the other */
    const char **tokens;  /* id -> token (NULL for a line that a later duplicate replaced) */
    unsigned *lens;       /* id -> length in bytes */
    int n;                /* ids (lines of vocab.txt) */
    int *slots;           /* open-addressing hash table of ids, -1 empty */
    unsigned long long mask;
    int unk_id, cls_id, sep_id, pad_id;
    tok_literal literals[TOK_MAX_LITERALS];
    int nliterals;
};

/* Id of bytes[0..len) preceded by "##" when `continuation`, -1 when absent. */
TEXT_HIDDEN int tok_lookup(const levi_tokenizer *t, const char *bytes, size_t len, int continuation);

/* Add a literal (special) token matched in the raw text; `where` names the
 * file for errors. */
TEXT_HIDDEN levi_status tok_add_literal(levi_tokenizer *t, const char *text, int id, const char *where);

#endif
