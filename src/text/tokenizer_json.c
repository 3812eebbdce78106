/* A tokenizer as JSON text and back (levi_tokenizer_json): what a model file
 * stores so that eval and predict read text without the model folder. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "levi/json_util.h"
#include "tokenizer_internal.h"

#define TOK_JSON_FORMAT 1

char *levi_tokenizer_json(const levi_tokenizer *t) {
    if (strlen(t->vocab) != t->vocab_len) return NULL; /* a NUL byte inside: not a JSON string */
    cJSON *o = cJSON_CreateObject(), *lit = NULL;
    if (!o) return NULL;
    const levi_tokenizer_options *p = &t->opt;
    int ok = cJSON_AddNumberToObject(o, "format", TOK_JSON_FORMAT) && cJSON_AddStringToObject(o, "vocab", t->vocab) &&
             cJSON_AddBoolToObject(o, "do_lower_case", p->lowercase) &&
             (p->strip_accents < 0 ? cJSON_AddNullToObject(o, "strip_accents") != NULL
                                   : cJSON_AddBoolToObject(o, "strip_accents", p->strip_accents) != NULL) &&
             cJSON_AddBoolToObject(o, "tokenize_chinese_chars", p->chinese_chars) &&
             cJSON_AddNumberToObject(o, "max_length", p->max_length) &&
             cJSON_AddNumberToObject(o, "max_chars_per_word", p->max_chars_per_word) &&
             cJSON_AddStringToObject(o, "unk_token", p->unk) && cJSON_AddStringToObject(o, "sep_token", p->sep) &&
             cJSON_AddStringToObject(o, "pad_token", p->pad) && cJSON_AddStringToObject(o, "cls_token", p->cls) &&
             (p->mask ? cJSON_AddStringToObject(o, "mask_token", p->mask) != NULL
                      : cJSON_AddNullToObject(o, "mask_token") != NULL) &&
             (lit = cJSON_AddArrayToObject(o, "literals")) != NULL;
    /* the literal (special and added) tokens in the order they were added: [text, id] */
    for (int i = 0; ok && i < t->nliterals; i++) {
        cJSON *e = cJSON_CreateArray();
        ok = e && cJSON_AddItemToArray(lit, e);
        ok = ok && cJSON_AddItemToArray(e, cJSON_CreateString(t->literals[i].text)) &&
             cJSON_AddItemToArray(e, cJSON_CreateNumber(t->literals[i].id));
    }
    char *s = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return s;
}

static levi_status get_token(const cJSON *o, const char *where, const char *key, int required, const char **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!required && cJSON_IsNull(v)) {
        *out = NULL;
        return LEVI_OK;
    }
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return levi_error(LEVI_ERR_FORMAT, "%s: tokenizer field '%s' must be a token string", where, key);
    *out = v->valuestring;
    return LEVI_OK;
}

static levi_status parse(levi_tokenizer **out, const cJSON *o, const char *where) {
    int format = 0;
    LEVI_TRY(levi_json_get_int(o, where, "format", 1, 1000, &format, 1));
    if (format != TOK_JSON_FORMAT)
        return levi_error(LEVI_ERR_FORMAT, "%s: tokenizer format %d is not supported (expected %d)", where, format,
                          TOK_JSON_FORMAT);
    const char *vocab = NULL;
    levi_tokenizer_options p;
    levi_tokenizer_defaults(&p);
    LEVI_TRY(levi_json_get_string(o, where, "vocab", &vocab, 1));
    LEVI_TRY(levi_json_get_bool(o, where, "do_lower_case", &p.lowercase, 1));
    const cJSON *sa = cJSON_GetObjectItemCaseSensitive(o, "strip_accents");
    if (cJSON_IsNull(sa)) p.strip_accents = -1;
    else LEVI_TRY(levi_json_get_bool(o, where, "strip_accents", &p.strip_accents, 1));
    LEVI_TRY(levi_json_get_bool(o, where, "tokenize_chinese_chars", &p.chinese_chars, 1));
    LEVI_TRY(levi_json_get_int(o, where, "max_length", 2, 1 << 20, &p.max_length, 1));
    LEVI_TRY(levi_json_get_int(o, where, "max_chars_per_word", 1, 1 << 20, &p.max_chars_per_word, 1));
    LEVI_TRY(get_token(o, where, "unk_token", 1, &p.unk));
    LEVI_TRY(get_token(o, where, "sep_token", 1, &p.sep));
    LEVI_TRY(get_token(o, where, "pad_token", 1, &p.pad));
    LEVI_TRY(get_token(o, where, "cls_token", 1, &p.cls));
    LEVI_TRY(get_token(o, where, "mask_token", 0, &p.mask));
    const cJSON *lit = cJSON_GetObjectItemCaseSensitive(o, "literals");
    if (!cJSON_IsArray(lit) || cJSON_GetArraySize(lit) > TOK_MAX_LITERALS)
        return levi_error(LEVI_ERR_FORMAT, "%s: tokenizer field 'literals' must be an array of at most %d [text, id]",
                          where, TOK_MAX_LITERALS);
    levi_tokenizer *t = NULL;
    LEVI_TRY(levi_tokenizer_create(&t, vocab, strlen(vocab), where, &p));
    levi_status st = LEVI_OK;
    const cJSON *e;
    cJSON_ArrayForEach(e, lit) {
        const cJSON *text = cJSON_GetArrayItem(e, 0), *id = cJSON_GetArrayItem(e, 1);
        if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) != 2 || !cJSON_IsString(text) || !cJSON_IsNumber(id) ||
            id->valuedouble < 0 || id->valuedouble >= t->n || id->valuedouble != (int)id->valuedouble) {
            st = levi_error(LEVI_ERR_FORMAT, "%s: tokenizer literal must be [text, id] with an id in 0..%d", where,
                            t->n - 1);
            break;
        }
        if ((st = tok_add_literal(t, text->valuestring, (int)id->valuedouble, where)) != LEVI_OK) break;
    }
    if (st != LEVI_OK) {
        levi_tokenizer_free(t);
        return st;
    }
    *out = t;
    return LEVI_OK;
}

levi_status levi_tokenizer_from_json(levi_tokenizer **out, const char *json, const char *where) {
    if (!out) return levi_error(LEVI_ERR_INVALID_ARG, "levi_tokenizer_from_json: NULL argument");
    *out = NULL;
    if (!where) where = "tokenizer";
    cJSON *o = json ? cJSON_Parse(json) : NULL;
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return levi_error(LEVI_ERR_FORMAT, "%s: the tokenizer is %s", where, json ? "not a JSON object" : "missing");
    }
    levi_json_keep_last(o);
    levi_status st = parse(out, o, where);
    cJSON_Delete(o);
    return st;
}
