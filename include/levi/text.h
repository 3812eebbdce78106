/* levi/text.h — text on the host: WordPiece tokenization identical to
 * Hugging Face transformers' BertTokenizerFast, text data sets (JSON lines,
 * CSV, TSV), and the `text-shift` benchmark generator.
 *
 * Everything here lives in host memory; nothing needs an OpenCL device. */
#ifndef LEVI_TEXT_H
#define LEVI_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "levi/data.h"
#include "levi/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- WordPiece tokenizer ------------------------------------------------------
 *
 * The pipeline of transformers' BertTokenizerFast (Hugging Face tokenizers:
 * added special tokens, BertNormalizer, BertPreTokenizer, WordPiece, the
 * [CLS] ... [SEP] template), rebuilt on utf8proc:
 *   1. special tokens ([CLS], [SEP], [PAD], [UNK], [MASK]) written literally
 *      in the text are matched first, case-sensitively, and kept whole;
 *   2. clean: NUL, U+FFFD and control/format/private-use characters are
 *      dropped, every kind of white space becomes ' ';
 *   3. CJK ideographs get a space on each side (tokenize_chinese_chars);
 *   4. accents: NFD, then non-spacing marks (Mn) dropped (strip_accents,
 *      which follows do_lower_case when the config leaves it null);
 *   5. lower case (do_lower_case);
 *   6. split on white space, every punctuation character alone;
 *   7. WordPiece: greedy longest match, "##" continuations; a word that
 *      cannot be covered, or longer than max_chars_per_word (100) characters,
 *      becomes one [UNK];
 *   8. truncate to max_length - 2 pieces and add [CLS] and [SEP].
 * Input must be valid UTF-8: anything else (bad bytes, overlong forms,
 * surrogates, code points above U+10FFFF) is an error naming the byte
 * offset; there is no silent replacement. */

typedef struct levi_tokenizer levi_tokenizer;

typedef struct levi_tokenizer_options {
    int lowercase;          /* do_lower_case */
    int strip_accents;      /* 1, 0, or -1: follow lowercase (null in the config) */
    int chinese_chars;      /* tokenize_chinese_chars */
    int max_length;         /* default truncation length, [CLS] and [SEP] included */
    int max_chars_per_word; /* longer words become [UNK] (100) */
    /* special tokens as written in vocab.txt; mask may be NULL (none) */
    const char *unk, *sep, *pad, *cls, *mask;
} levi_tokenizer_options;

/* BertTokenizer's defaults: lower case, accents follow it, CJK split,
 * max_length 512, 100 characters per word, [UNK] [SEP] [PAD] [CLS] [MASK]. */
void levi_tokenizer_defaults(levi_tokenizer_options *opt);

/* A Hugging Face model folder: vocab.txt (one token per line, id = line
 * number) and, when present, tokenizer_config.json (do_lower_case,
 * strip_accents, tokenize_chinese_chars, model_max_length, the special
 * tokens; tokenizer_class must be a WordPiece one such as BertTokenizer) and
 * sentence_bert_config.json (max_seq_length, which sentence-transformers
 * uses in place of model_max_length). Errors name the file and field. */
levi_status levi_tokenizer_load(levi_tokenizer **out, const char *folder);

/* From the text of a vocab.txt in memory; `name` is used in errors. */
levi_status levi_tokenizer_create(levi_tokenizer **out, const char *vocab, size_t len, const char *name,
                                  const levi_tokenizer_options *opt);
void levi_tokenizer_free(levi_tokenizer *t);

/* Token ids of text[0..len) with [CLS] first and [SEP] last, truncated to
 * max_length ids ( ≥ 2; ≤ 0: the tokenizer's own max_length). ids holds room
 * for that many; *count receives the number written. Thread-safe: t is
 * only read. */
levi_status levi_tokenizer_encode(const levi_tokenizer *t, const char *text, size_t len, int max_length,
                                  int32_t *ids, int *count);

int levi_tokenizer_vocab_size(const levi_tokenizer *t);
int levi_tokenizer_max_length(const levi_tokenizer *t);
/* The ids of [PAD], [CLS], [SEP], [UNK]. */
int levi_tokenizer_pad_id(const levi_tokenizer *t);
int levi_tokenizer_cls_id(const levi_tokenizer *t);
int levi_tokenizer_sep_id(const levi_tokenizer *t);
int levi_tokenizer_unk_id(const levi_tokenizer *t);
/* Id of a token as written in vocab.txt ("##ing"), -1 if absent. */
int levi_tokenizer_token_id(const levi_tokenizer *t, const char *token);
/* The token of an id, NULL when out of range. */
const char *levi_tokenizer_token(const levi_tokenizer *t, int id);
const levi_tokenizer_options *levi_tokenizer_get_options(const levi_tokenizer *t);

/* The whole tokenizer as JSON text (malloc'ed, NULL when out of memory):
 * {"vocab": vocab.txt's text, the options, the literal tokens}, which a
 * model file keeps (__metadata__ "tokenizer") so that it needs no model
 * folder to read text. levi_tokenizer_from_json gives an identical
 * tokenizer back; errors name `where` and the field. */
char *levi_tokenizer_json(const levi_tokenizer *t);
levi_status levi_tokenizer_from_json(levi_tokenizer **out, const char *json, const char *where);

/* --- text data sets --------------------------------------------------------
 *
 * JSON lines (one object per line: {"text": "...", "label": "sports"}) or
 * CSV/TSV with a header row (RFC 4180 quoting: "a ""quoted"", multi-line
 * field"). Labels are strings or integers; the classes are the distinct
 * labels, sorted (numerically when every label is an integer), unless a
 * class list is given. Every bad input is an error naming the file, the line
 * and the field: invalid UTF-8, a missing column, a row without a text, an
 * empty file, a record longer than LEVI_TEXT_MAX_RECORD bytes, more than
 * LEVI_TEXT_MAX_CLASSES classes, a label outside the given classes. A UTF-8
 * byte-order mark at the start of the file is skipped; blank lines are
 * skipped; "\r\n" line ends are accepted. */

#define LEVI_TEXT_MAX_RECORD (1 << 20)
#define LEVI_TEXT_MAX_CLASSES 1000

typedef enum { LEVI_TEXT_AUTO = 0, LEVI_TEXT_JSONL, LEVI_TEXT_CSV, LEVI_TEXT_TSV } levi_text_format;

typedef struct levi_text_options {
    const char *text_column;  /* "text" when NULL */
    const char *label_column; /* "label" when NULL */
    levi_text_format format;  /* AUTO: .jsonl/.json/.ndjson, .csv, .tsv/.tab by the file's extension */
    /* When set, the labels must be these classes (in this order), e.g. the
     * classes of a trained model; otherwise they come from the file. */
    const char *const *classes;
    int num_classes;
    int limit_per_class; /* keep the first N rows of each class; <= 0: all */
} levi_text_options;

typedef struct levi_text_dataset {
    int n;              /* rows */
    char **texts;       /* n NUL-terminated UTF-8 strings */
    int *labels;        /* n, each in [0, num_classes) */
    int num_classes;
    char **class_names; /* num_classes strings */
} levi_text_dataset;

levi_status levi_text_load(levi_text_dataset *ds, const char *path, const levi_text_options *opt);
void levi_text_free(levi_text_dataset *ds);

/* Token ids of texts[0..n) as a backbone reads them: ids and mask (n, T)
 * floats, [CLS] ... [SEP] then [PAD] with mask 0, truncated to T tokens.
 * *truncated (may be NULL) counts the texts that did not fit. An error names
 * the row (an invalid UTF-8 text). */
levi_status levi_text_tokenize(const levi_tokenizer *t, const char *const *texts, int n, int T, float *ids,
                               float *mask, int *truncated);
/* A text data set as a training set of token ids (levi/data.h, kind
 * LEVI_INPUT_TOKENS): every text tokenised once, here, into ds->tokens and
 * ds->mask (n, T), [CLS] ... [SEP] then [PAD] (mask 0), truncated to T;
 * labels and class names copied (td may be freed afterwards). *truncated
 * (may be NULL) counts the texts that did not fit. ds is left empty on error. */
levi_status levi_text_dataset_tokens(levi_dataset *ds, const levi_text_dataset *td, const levi_tokenizer *t, int T,
                                     int *truncated);
/* levi_text_load, then levi_text_dataset_tokens. */
levi_status levi_text_load_tokens(levi_dataset *ds, const char *path, const levi_text_options *opt,
                                  const levi_tokenizer *t, int T, int *truncated);
/* 1 when path names a text data set by its extension (.jsonl, .json, .ndjson, .csv, .tsv, .tab). */
int levi_text_path_is_text(const char *path);
/* "jsonl", "csv", "tsv" (parse: also "json", "ndjson") */
const char *levi_text_format_name(levi_text_format f);
levi_status levi_text_format_parse(const char *name, levi_text_format *out);
/* The format of a path from its extension (LEVI_TEXT_AUTO when unknown). */
levi_text_format levi_text_format_of(const char *path);

/* --- the text-shift benchmark -----------------------------------------------
 *
 * Debian package descriptions labelled by their archive section, with the
 * package's name in front of each description: "fonts-dejavu: metapackage to
 * pull in fonts-dejavu-core and fonts-dejavu-extra". The name is the natural
 * shortcut (fonts-*, python3-*, *-doc ...); the description is the meaning,
 * which a pre-trained language model reads better than a model trained from
 * a few hundred examples.
 *   train, test-id   the package's own name with probability rho, else the
 *                    name of a random package of the same split
 *   test-ood         the same packages as test-id, each with the name of a
 *                    random package: the shortcut says nothing
 *   test-noname      the same packages, the description alone
 * Packages are split into train and test by a hash of their source package
 * (every binary package of one source lands on the same side, and the side
 * does not depend on the seed); exact duplicate descriptions and transitional
 * packages are dropped; the seed picks the packages and the names.
 * Same source text and parameters => byte-identical files. Package lists
 * differ between machines and dates, so the manifest records the SHA-256 of
 * the source and of the records actually used. */

typedef struct levi_text_shift_params {
    const char *data; /* Packages-format text: the output of `apt-cache dumpavail` */
    size_t len;
    const char *source_name; /* recorded in the manifest ("apt-cache dumpavail", a path) */
    const char *out;         /* output folder (created whole, or not at all) */
    const char *classes;     /* comma-separated sections; NULL: LEVI_TEXT_SHIFT_CLASSES */
    int train_per_class, test_per_class;
    double rho;
    unsigned long long seed;
    int force; /* replace a non-empty out folder */
} levi_text_shift_params;

#define LEVI_TEXT_SHIFT_CLASSES "doc,fonts,games,golang,perl,python,science,sound"

/* Defaults: the classes above, 150 train and 100 test rows per class,
 * rho 0.9, seed 0. */
void levi_text_shift_defaults(levi_text_shift_params *p);

/* Write out/{train,test-id,test-ood,test-noname}.jsonl ({"text", "label",
 * "package"} per line) and out/manifest.json. A class with fewer than 10
 * usable packages on either side (or fewer than asked, when that is less) is
 * an error; one with fewer than asked is used whole (the manifest has the
 * counts). */
levi_status levi_text_shift(const levi_text_shift_params *p);

#ifdef __cplusplus
}
#endif
#endif
