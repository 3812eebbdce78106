/* Text on the command line (train, eval, predict, demo --text): which kind
 * of backbone a folder holds, the tokenizer and sequence length of text
 * data, and text data sets tokenised once when loaded. */
#ifndef LEVI_CLI_TEXT_CLI_H
#define LEVI_CLI_TEXT_CLI_H

#include "cli.h"

/* "vit" or "bert" from folder/config.json's model_type (a ViT folder may
 * leave it out); another model_type is LEVI_ERR_UNSUPPORTED naming it. */
levi_status cli_backbone_kind(const char *folder, const char **kind);

/* A backbone of `kind` ("vit", "bert": texts of seq_len tokens) from a
 * Hugging Face folder, on ctx, for batches up to `batch`, in train mode
 * `mode` (LoRA rank lora_rank with LEVI_BACKBONE_LORA). */
levi_status cli_backbone_load(levi_backbone **out, levi_ctx *ctx, const char *folder, const char *kind, int batch,
                              int seq_len, int mode, int lora_rank);
/* A BERT's config.json from a Hugging Face folder (sizes only). */
levi_status cli_read_bert_config(const char *folder, levi_bert_config *bc);

/* Default sequence length of text: the tokenizer's own limit, at most this. */
#define CLI_TEXT_SEQ_LEN 128

/* The tokenizer and the form of a run's texts. */
typedef struct cli_text {
    levi_tokenizer *tok;
    int seq_len;
    levi_text_options opt; /* columns; classes when they must be a model's */
} cli_text;

/* The tokenizer of a model folder (vocab.txt; `what` names the option in
 * errors, e.g. "--backbone"); seq_len 0: the tokenizer's limit, at most
 * CLI_TEXT_SEQ_LEN; seq_len < 0: that, at most -seq_len (the backbone's
 * positions). Columns NULL: "text" and "label". */
levi_status cli_text_open(cli_text *t, const char *folder, const char *what, int seq_len, const char *text_column,
                          const char *label_column);
/* A model's own tokenizer and sequence length (its file's "tokenizer"); the
 * classes are the model's (a label outside them is an error naming it). */
levi_status cli_text_from_model(cli_text *t, levi_model *m, const char *model_path, const char *text_column,
                                const char *label_column);
/* path (.jsonl, .csv, .tsv) as token ids, at most limit rows per class
 * (<= 0: all); a note on stderr counts the texts cut at seq_len tokens. */
levi_status cli_text_load(cli_text *t, levi_dataset *ds, const char *path, int limit);
void cli_text_close(cli_text *t);

#endif
