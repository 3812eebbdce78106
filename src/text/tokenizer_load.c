/* A tokenizer from a Hugging Face model folder: vocab.txt plus the options of
 * tokenizer_config.json and sentence_bert_config.json, read as transformers
 * reads them for a BERT-family (WordPiece) tokenizer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "levi/json_util.h"
#include "levi/runtime.h"
#include "tokenizer_internal.h"

/* Longest sequence we ever build ("no limit" in a config becomes this). */
#define TOK_MAX_LENGTH (1 << 20)

/* Tokenizer classes that mean BERT's WordPiece pipeline ("...Fast" too). */
static const char *const k_classes[] = {"BertTokenizer",       "DistilBertTokenizer", "ElectraTokenizer",
                                        "MobileBertTokenizer", "SqueezeBertTokenizer", "LayoutLMTokenizer"};

static int file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* A special token: a string, or an object {"content": "..."} (newer configs). */
static levi_status get_token(const cJSON *cfg, const char *where, const char *key, const char **out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (!it || cJSON_IsNull(it)) return LEVI_OK;
    if (cJSON_IsObject(it)) it = cJSON_GetObjectItemCaseSensitive(it, "content");
    if (!cJSON_IsString(it) || !it->valuestring[0])
        return levi_error(LEVI_ERR_FORMAT, "%s: field '%s' must be a token string or {\"content\": ...}", where, key);
    *out = it->valuestring;
    return LEVI_OK;
}

static levi_status read_config(const char *path, levi_tokenizer_options *o, cJSON **keep) {
    cJSON *cfg;
    LEVI_TRY(levi_json_load(path, &cfg));
    *keep = cfg;
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(cfg, "tokenizer_class");
    if (cls && !cJSON_IsNull(cls)) {
        if (!cJSON_IsString(cls))
            return levi_error(LEVI_ERR_FORMAT, "%s: field 'tokenizer_class' must be a string", path);
        size_t n = strlen(cls->valuestring);
        if (n > 4 && !strcmp(cls->valuestring + n - 4, "Fast")) n -= 4;
        int ok = 0;
        for (size_t i = 0; i < sizeof k_classes / sizeof *k_classes; i++)
            ok |= strlen(k_classes[i]) == n && !strncmp(k_classes[i], cls->valuestring, n);
        if (!ok)
            return levi_error(LEVI_ERR_UNSUPPORTED,
                              "%s: tokenizer_class '%s' is not a WordPiece tokenizer (expected BertTokenizer or "
                              "another BERT-family class)",
                              path, cls->valuestring);
    }
    LEVI_TRY(levi_json_get_bool(cfg, path, "do_lower_case", &o->lowercase, 0));
    LEVI_TRY(levi_json_get_bool(cfg, path, "tokenize_chinese_chars", &o->chinese_chars, 0));
    const cJSON *sa = cJSON_GetObjectItemCaseSensitive(cfg, "strip_accents");
    if (sa && !cJSON_IsNull(sa)) {
        if (!cJSON_IsBool(sa))
            return levi_error(LEVI_ERR_FORMAT, "%s: field 'strip_accents' must be true, false or null", path);
        o->strip_accents = cJSON_IsTrue(sa);
    }
    const cJSON *ml = cJSON_GetObjectItemCaseSensitive(cfg, "model_max_length");
    if (ml && !cJSON_IsNull(ml)) {
        if (!cJSON_IsNumber(ml) || ml->valuedouble < 2)
            return levi_error(LEVI_ERR_FORMAT, "%s: field 'model_max_length' must be a number >= 2", path);
        o->max_length = ml->valuedouble > TOK_MAX_LENGTH ? TOK_MAX_LENGTH : (int)ml->valuedouble;
    }
    LEVI_TRY(get_token(cfg, path, "unk_token", &o->unk));
    LEVI_TRY(get_token(cfg, path, "sep_token", &o->sep));
    LEVI_TRY(get_token(cfg, path, "pad_token", &o->pad));
    LEVI_TRY(get_token(cfg, path, "cls_token", &o->cls));
    LEVI_TRY(get_token(cfg, path, "mask_token", &o->mask));
    return LEVI_OK;
}

/* added_tokens_decoder {"id": {"content": ..., "normalized": false, ...}}:
 * tokens matched literally in the raw text, like the special tokens. */
static levi_status read_added(levi_tokenizer *t, const cJSON *cfg, const char *path) {
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(cfg, "added_tokens_decoder");
    if (!added || cJSON_IsNull(added)) return LEVI_OK;
    if (!cJSON_IsObject(added))
        return levi_error(LEVI_ERR_FORMAT, "%s: field 'added_tokens_decoder' must be an object", path);
    const cJSON *e;
    cJSON_ArrayForEach(e, added) {
        char *endp;
        long id = strtol(e->string, &endp, 10);
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(e, "content");
        if (*endp || id < 0 || id >= t->n || !cJSON_IsString(content))
            return levi_error(LEVI_ERR_FORMAT,
                              "%s: added_tokens_decoder entry '%s' must be a vocabulary id holding {\"content\": ...}",
                              path, e->string);
        if (!t->tokens[id] || strcmp(t->tokens[id], content->valuestring))
            return levi_error(LEVI_ERR_UNSUPPORTED,
                              "%s: added token '%s' (id %ld) is not line %ld of vocab.txt; tokens beyond the "
                              "vocabulary are not supported",
                              path, content->valuestring, id, id + 1);
        static const char *const flags[] = {"lstrip", "rstrip", "single_word", "normalized"};
        for (int k = 0; k < 4; k++)
            if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, flags[k])))
                return levi_error(LEVI_ERR_UNSUPPORTED, "%s: added token '%s' has %s true; only plain special "
                                  "tokens are supported", path, content->valuestring, flags[k]);
        LEVI_TRY(tok_add_literal(t, content->valuestring, (int)id, path));
    }
    return LEVI_OK;
}

levi_status levi_tokenizer_load(levi_tokenizer **out, const char *folder) {
    if (!out || !folder) return levi_error(LEVI_ERR_INVALID_ARG, "levi_tokenizer_load: NULL argument");
    *out = NULL;
    char path[4096], cfg_path[4096], st_path[4096];
    snprintf(path, sizeof path, "%s/vocab.txt", folder);
    snprintf(cfg_path, sizeof cfg_path, "%s/tokenizer_config.json", folder);
    snprintf(st_path, sizeof st_path, "%s/sentence_bert_config.json", folder);
    if (!file_exists(path)) {
        if (file_exists(folder) && (snprintf(st_path, sizeof st_path, "%s/tokenizer.json", folder), file_exists(st_path)))
            return levi_error(LEVI_ERR_UNSUPPORTED, "'%s' has tokenizer.json but no vocab.txt: levi-cl reads "
                              "WordPiece vocabularies from vocab.txt", folder);
        return levi_error(LEVI_ERR_NOT_FOUND, "'%s' has no vocab.txt (a Hugging Face BERT-family model folder "
                          "holds one)", folder);
    }
    levi_tokenizer_options o;
    levi_tokenizer_defaults(&o);
    cJSON *cfg = NULL, *stcfg = NULL;
    char *vocab = NULL;
    size_t len = 0;
    levi_tokenizer *t = NULL;
    levi_status st = LEVI_OK;
    if (file_exists(cfg_path)) st = read_config(cfg_path, &o, &cfg);
    if (st == LEVI_OK && file_exists(st_path)) {
        /* sentence-transformers truncates at max_seq_length instead */
        st = levi_json_load(st_path, &stcfg);
        int msl = 0;
        if (st == LEVI_OK) st = levi_json_get_int(stcfg, st_path, "max_seq_length", 2, TOK_MAX_LENGTH, &msl, 0);
        if (st == LEVI_OK && msl > 0) o.max_length = msl;
    }
    if (st == LEVI_OK) st = levi_read_file(path, &vocab, &len);
    if (st == LEVI_OK) st = levi_tokenizer_create(&t, vocab, len, path, &o);
    if (st == LEVI_OK && cfg) st = read_added(t, cfg, cfg_path);
    free(vocab);
    cJSON_Delete(cfg);
    cJSON_Delete(stcfg);
    if (st != LEVI_OK) {
        levi_tokenizer_free(t);
        return st;
    }
    *out = t;
    return LEVI_OK;
}
