/* Text on the command line (text_cli.h). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "levi/json_util.h"
#include "text_cli.h"

levi_status cli_backbone_kind(const char *folder, const char **kind) {
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", folder);
    cJSON *o = NULL;
    LEVI_TRY(levi_json_load(path, &o));
    const char *mt = NULL;
    levi_status st = levi_json_get_string(o, path, "model_type", &mt, 0);
    if (st == LEVI_OK && (!mt || !strcmp(mt, "vit"))) *kind = "vit";
    else if (st == LEVI_OK && !strcmp(mt, "bert")) *kind = "bert";
    else if (st == LEVI_OK)
        st = levi_error(LEVI_ERR_UNSUPPORTED,
                        "%s: model_type '%s' is not a backbone levi-cl reads (vit for images, bert for texts)", path,
                        mt);
    cJSON_Delete(o);
    return st;
}

static void columns(cli_text *t, const char *text_column, const char *label_column) {
    t->opt.text_column = text_column;
    t->opt.label_column = label_column;
}

levi_status cli_text_open(cli_text *t, const char *folder, const char *what, int seq_len, const char *text_column,
                          const char *label_column) {
    memset(t, 0, sizeof *t);
    columns(t, text_column, label_column);
    levi_status st = levi_tokenizer_load(&t->tok, folder);
    if (st != LEVI_OK) return levi_error(st, "%s %s: %s", what, folder, levi_last_error());
    int max = levi_tokenizer_max_length(t->tok);
    if (seq_len > max) {
        levi_status e = levi_error(LEVI_ERR_INVALID_ARG, "--seq-len %d is above the tokenizer's limit of %d tokens (%s)",
                                   seq_len, max, folder);
        cli_text_close(t);
        return e;
    }
    if (seq_len > 0) t->seq_len = seq_len;
    else {
        /* the tokenizer's limit, at most CLI_TEXT_SEQ_LEN and at most -seq_len (a model's positions) */
        t->seq_len = max < CLI_TEXT_SEQ_LEN ? max : CLI_TEXT_SEQ_LEN;
        if (seq_len < 0 && -seq_len < t->seq_len) t->seq_len = -seq_len;
    }
    return LEVI_OK;
}

levi_status cli_text_from_model(cli_text *t, levi_model *m, const char *model_path, const char *text_column,
                                const char *label_column) {
    memset(t, 0, sizeof *t);
    columns(t, text_column, label_column);
    const levi_input_spec *in = levi_model_input_spec(m);
    if (in->kind != LEVI_INPUT_TOKENS)
        return levi_error(LEVI_ERR_INVALID_ARG, "%s reads images, not texts", model_path);
    const char *js = levi_model_tokenizer(m);
    if (!js)
        return levi_error(LEVI_ERR_FORMAT, "%s: a text model without its tokenizer (__metadata__ 'tokenizer')",
                          model_path);
    char where[4200];
    snprintf(where, sizeof where, "%s (__metadata__ tokenizer)", model_path);
    LEVI_TRY(levi_tokenizer_from_json(&t->tok, js, where));
    t->seq_len = in->seq_len;
    t->opt.classes = levi_model_class_names(m);
    t->opt.num_classes = levi_model_get_config(m)->num_classes;
    return LEVI_OK;
}

levi_status cli_text_load(cli_text *t, levi_dataset *ds, const char *path, int limit) {
    levi_text_options o = t->opt;
    o.limit_per_class = limit;
    int truncated = 0;
    LEVI_TRY(levi_text_load_tokens(ds, path, &o, t->tok, t->seq_len, &truncated));
    if (truncated)
        fprintf(stderr, "levi-cl: %s: %d of %d texts are longer than %d tokens and were cut (--seq-len)\n", path,
                truncated, ds->n, t->seq_len);
    return LEVI_OK;
}

void cli_text_close(cli_text *t) {
    levi_tokenizer_free(t->tok);
    memset(t, 0, sizeof *t);
}

levi_status cli_backbone_load(levi_backbone **out, levi_ctx *ctx, const char *folder, const char *kind, int batch,
                              int seq_len, int mode, int lora_rank) {
    *out = NULL;
    int rank = mode == LEVI_BACKBONE_LORA ? lora_rank : 0;
    if (!strcmp(kind, "bert")) {
        levi_bert *b = NULL;
        LEVI_TRY(levi_bert_load(&b, ctx, folder, batch, seq_len, mode, rank));
        return levi_backbone_from_bert(out, ctx, b);
    }
    levi_vit *v = NULL;
    LEVI_TRY(levi_vit_load(&v, ctx, folder, batch, mode, rank));
    return levi_backbone_from_vit(out, ctx, v);
}

levi_status cli_read_bert_config(const char *folder, levi_bert_config *bc) {
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", folder);
    char *text = NULL;
    size_t len = 0;
    LEVI_TRY(levi_read_file(path, &text, &len));
    levi_status st = levi_bert_config_parse(bc, text, path);
    free(text);
    return st;
}
