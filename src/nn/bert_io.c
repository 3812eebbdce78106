/* BERT files: Hugging Face config.json (+ sentence-transformers'
 * 1_Pooling/config.json) and model.safetensors with HF names, with or
 * without the "bert." prefix of the BertFor* classes; pooler.* is ignored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bert_internal.h"
#include "levi/json_util.h"
#include "levi/safetensors.h"

static levi_status parse_obj(levi_bert_config *c, const cJSON *o, const char *where) {
    memset(c, 0, sizeof *c);
    c->type_vocab_size = 2;
    c->max_position_embeddings = 512;
    const char *type = "bert", *pet = "absolute", *pool = "cls";
    LEVI_TRY(levi_json_get_string(o, where, "model_type", &type, 0));
    if (strcmp(type, "bert"))
        return levi_error(LEVI_ERR_UNSUPPORTED,
                          "%s: model_type '%s' is not supported; levi-cl loads \"bert\" (RoBERTa, XLM-RoBERTa and "
                          "DistilBERT use other tokenizers, position ids or weight names)",
                          where, type);
    const struct {
        const char *key;
        int *dst, lo, hi, required;
    } ints[] = {
        {"vocab_size", &c->vocab_size, 1, 1 << 24, 1},
        {"hidden_size", &c->hidden_size, 1, 65536, 1},
        {"num_hidden_layers", &c->num_hidden_layers, 1, BERT_MAX_LAYERS, 1},
        {"num_attention_heads", &c->num_attention_heads, 1, 4096, 1},
        {"intermediate_size", &c->intermediate_size, 1, 1 << 20, 1},
        {"max_position_embeddings", &c->max_position_embeddings, 1, 1 << 20, 0},
        {"type_vocab_size", &c->type_vocab_size, 1, 1 << 16, 0},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        LEVI_TRY(levi_json_get_int(o, where, ints[i].key, ints[i].lo, ints[i].hi, ints[i].dst, ints[i].required));
    LEVI_TRY(enc_config_common(o, where, &c->layer_norm_eps));
    LEVI_TRY(levi_json_get_string(o, where, "position_embedding_type", &pet, 0));
    if (strcmp(pet, "absolute"))
        return levi_error(LEVI_ERR_UNSUPPORTED, "%s: field 'position_embedding_type' is '%s'; only \"absolute\"", where,
                          pet);
    LEVI_TRY(levi_json_get_string(o, where, "pooling", &pool, 0));
    if (strcmp(pool, "cls") && strcmp(pool, "mean"))
        return levi_error(LEVI_ERR_FORMAT, "%s: field 'pooling' must be \"cls\" or \"mean\", got '%s'", where, pool);
    c->pooling = !strcmp(pool, "mean") ? LEVI_POOL_MEAN : LEVI_POOL_CLS;
    levi_status st = levi_bert_config_validate(c);
    if (st != LEVI_OK) return levi_error(LEVI_ERR_FORMAT, "%s: %s", where, levi_last_error());
    return LEVI_OK;
}

levi_status levi_bert_config_parse(levi_bert_config *c, const char *json_text, const char *name) {
    cJSON *o;
    LEVI_TRY(levi_json_parse_object(json_text, name, &o));
    levi_status st = parse_obj(c, o, name);
    cJSON_Delete(o);
    return st;
}

char *levi_bert_config_json(const levi_bert_config *c) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "model_type", "bert");
    cJSON_AddStringToObject(o, "hidden_act", "gelu");
    cJSON_AddNumberToObject(o, "vocab_size", c->vocab_size);
    cJSON_AddNumberToObject(o, "hidden_size", c->hidden_size);
    cJSON_AddNumberToObject(o, "num_hidden_layers", c->num_hidden_layers);
    cJSON_AddNumberToObject(o, "num_attention_heads", c->num_attention_heads);
    cJSON_AddNumberToObject(o, "intermediate_size", c->intermediate_size);
    cJSON_AddNumberToObject(o, "max_position_embeddings", c->max_position_embeddings);
    cJSON_AddNumberToObject(o, "type_vocab_size", c->type_vocab_size);
    cJSON_AddNumberToObject(o, "layer_norm_eps", levi_json_short_float(c->layer_norm_eps));
    cJSON_AddStringToObject(o, "pooling", c->pooling == LEVI_POOL_MEAN ? "mean" : "cls");
    return levi_json_take_text(o);
}

levi_status levi_bert_read_weights(levi_bert *b, const levi_safetensors *st, const char *prefix) {
    return enc_read_table(&b->enc, st, prefix ? prefix : "", 2, NULL); /* adapters not in the file keep their init */
}

levi_status levi_bert_write_weights(const levi_bert *b, levi_st_writer *w, const char *prefix) {
    return enc_write_table(&b->enc, w, prefix ? prefix : "", 1);
}

/* sentence-transformers' pooling: mean or CLS (others are refused) */
static levi_status read_pooling(const char *folder, int *pooling) {
    char path[4096];
    snprintf(path, sizeof path, "%s/1_Pooling/config.json", folder);
    if (access(path, F_OK) != 0) return LEVI_OK; /* never fopen: a FIFO would block; the loader refuses it */
    cJSON *o;
    LEVI_TRY(levi_json_load(path, &o));
    int cls = 0, mean = 0, other = 0;
    levi_status st = levi_json_get_bool(o, path, "pooling_mode_cls_token", &cls, 0);
    if (st == LEVI_OK) st = levi_json_get_bool(o, path, "pooling_mode_mean_tokens", &mean, 0);
    const char *others[] = {"pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens",
                            "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"};
    for (int i = 0; i < 4 && st == LEVI_OK; i++) {
        int v = 0;
        st = levi_json_get_bool(o, path, others[i], &v, 0);
        if (v) other = 1;
    }
    cJSON_Delete(o);
    LEVI_TRY(st);
    if (other || cls + mean != 1)
        return levi_error(LEVI_ERR_UNSUPPORTED, "%s: exactly one of pooling_mode_cls_token and pooling_mode_mean_tokens "
                          "must be true (other poolings are not supported)", path);
    *pooling = mean ? LEVI_POOL_MEAN : LEVI_POOL_CLS;
    return LEVI_OK;
}

levi_status levi_bert_load(levi_bert **out, levi_ctx *ctx, const char *folder, int max_batch, int seq_len,
                           int train_mode, int lora_rank) {
    *out = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", folder);
    cJSON *o = NULL;
    LEVI_TRY(levi_json_load(path, &o));
    levi_bert_config c;
    levi_status st = parse_obj(&c, o, path);
    cJSON_Delete(o);
    LEVI_TRY(st);
    LEVI_TRY(read_pooling(folder, &c.pooling));
    snprintf(path, sizeof path, "%s/model.safetensors", folder);
    levi_safetensors sf;
    LEVI_TRY(levi_safetensors_read(path, &sf));
    const char *prefix = enc_name_prefix(&sf, "embeddings.word_embeddings.weight", "bert.");
    levi_bert *b = NULL;
    st = levi_bert_create(&b, ctx, &c, max_batch, seq_len, train_mode, lora_rank);
    if (st == LEVI_OK) st = levi_bert_init_random(b, 0); /* LoRA A/B when the file has none */
    if (st == LEVI_OK) st = enc_read_file(&b->enc, &sf, prefix, 2, path);
    levi_safetensors_free(&sf);
    if (st != LEVI_OK) {
        levi_bert_free(b);
        return st;
    }
    *out = b;
    return LEVI_OK;
}
