/* Config JSON: whole-file load with cJSON, typed getters whose errors name the
 * file and the field, and atomic writes. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "levi/runtime.h"
#include "levi/json_util.h"
#include "levi/runtime.h"

void levi_json_keep_last(cJSON *item) {
    for (cJSON *c = item ? item->child : NULL; c;) {
        cJSON *next = c->next;
        levi_json_keep_last(c);
        if (cJSON_IsObject(item) && c->string)
            for (cJSON *d = next; d; d = d->next)
                if (d->string && !strcmp(d->string, c->string)) {
                    cJSON_Delete(cJSON_DetachItemViaPointer(item, c));
                    break;
                }
        c = next;
    }
}

levi_status levi_json_load(const char *path, cJSON **out) {
    if (!out) return levi_error(LEVI_ERR_INVALID_ARG, "levi_json_load: out is NULL");
    *out = NULL;
    if (!path) return levi_error(LEVI_ERR_INVALID_ARG, "levi_json_load: path is NULL");
    char *text = NULL;
    size_t len = 0;
    LEVI_TRY(levi_read_file(path, &text, &len));
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    levi_status st = LEVI_OK;
    if (!root || !end) {
        /* line and column of the error, 1-based */
        size_t at = end ? (size_t)(end - text) : 0, line = 1, col = 1;
        for (size_t i = 0; i < at && i < len; i++) {
            if (text[i] == '\n') line++, col = 1;
            else col++;
        }
        st = levi_error(LEVI_ERR_FORMAT, "%s: not valid JSON (error at line %zu, column %zu)", path, line, col);
    } else {
        for (const char *p = end; p < text + len; p++)
            if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
                st = levi_error(LEVI_ERR_FORMAT, "%s: unexpected text after the JSON value at byte %zu", path,
                                (size_t)(p - text));
                break;
            }
        if (st == LEVI_OK && !cJSON_IsObject(root))
            st = levi_error(LEVI_ERR_FORMAT, "%s: the top level must be a JSON object", path);
    }
    free(text);
    if (st != LEVI_OK) {
        cJSON_Delete(root);
        return st;
    }
    levi_json_keep_last(root);
    *out = root;
    return LEVI_OK;
}

/* The item for `key`, or NULL when absent (then LEVI_OK or a "missing" error). */
static levi_status get_item(const cJSON *obj, const char *where, const char *key, int required,
                            const cJSON **item) {
    *item = NULL;
    if (!key) return levi_error(LEVI_ERR_INVALID_ARG, "levi_json_get: key is NULL");
    if (!cJSON_IsObject(obj))
        return levi_error(LEVI_ERR_FORMAT, "%s: expected a JSON object holding field '%s'", where ? where : "json",
                          key);
    *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!*item && required)
        return levi_error(LEVI_ERR_FORMAT, "%s: missing required field '%s'", where ? where : "json", key);
    return LEVI_OK;
}

levi_status levi_json_get_int(const cJSON *obj, const char *where, const char *key, long long min,
                              long long max, int *out, int required) {
    const cJSON *v;
    LEVI_TRY(get_item(obj, where, key, required, &v));
    if (!v) return LEVI_OK;
    if (min < INT_MIN) min = INT_MIN;
    if (max > INT_MAX) max = INT_MAX;
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!cJSON_IsNumber(v) || d != floor(d) || d < (double)min || d > (double)max) {
        char *got = cJSON_PrintUnformatted(v);
        levi_status st = levi_error(LEVI_ERR_FORMAT, "%s: field '%s' must be an integer in [%lld, %lld], got %s",
                                    where ? where : "json", key, min, max, got ? got : "?");
        cJSON_free(got);
        return st;
    }
    *out = (int)d;
    return LEVI_OK;
}

levi_status levi_json_get_float(const cJSON *obj, const char *where, const char *key, double min, double max,
                                double *out, int required) {
    const cJSON *v;
    LEVI_TRY(get_item(obj, where, key, required, &v));
    if (!v) return LEVI_OK;
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!cJSON_IsNumber(v) || !isfinite(d) || d < min || d > max) {
        char *got = cJSON_PrintUnformatted(v);
        levi_status st = levi_error(LEVI_ERR_FORMAT, "%s: field '%s' must be a number in [%g, %g], got %s",
                                    where ? where : "json", key, min, max, got ? got : "?");
        cJSON_free(got);
        return st;
    }
    *out = d;
    return LEVI_OK;
}

levi_status levi_json_get_string(const cJSON *obj, const char *where, const char *key, const char **out,
                                 int required) {
    const cJSON *v;
    LEVI_TRY(get_item(obj, where, key, required, &v));
    if (!v) return LEVI_OK;
    if (!cJSON_IsString(v))
        return levi_error(LEVI_ERR_FORMAT, "%s: field '%s' must be a string", where ? where : "json", key);
    *out = v->valuestring;
    return LEVI_OK;
}

levi_status levi_json_get_bool(const cJSON *obj, const char *where, const char *key, int *out, int required) {
    const cJSON *v;
    LEVI_TRY(get_item(obj, where, key, required, &v));
    if (!v) return LEVI_OK;
    if (!cJSON_IsBool(v))
        return levi_error(LEVI_ERR_FORMAT, "%s: field '%s' must be true or false", where ? where : "json", key);
    *out = cJSON_IsTrue(v) ? 1 : 0;
    return LEVI_OK;
}

levi_status levi_json_write_atomic(const char *path, const cJSON *json) {
    if (!path || !json) return levi_error(LEVI_ERR_INVALID_ARG, "levi_json_write_atomic: NULL argument");
    char *text = cJSON_Print(json);
    if (!text) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory serializing JSON for '%s'", path);
    levi_atomic_file f;
    levi_status st = levi_atomic_open(&f, path);
    if (st == LEVI_OK) st = levi_atomic_write(&f, text, strlen(text));
    if (st == LEVI_OK) st = levi_atomic_write(&f, "\n", 1);
    if (st == LEVI_OK) st = levi_atomic_commit(&f);
    cJSON_free(text);
    return st;
}

levi_status levi_json_parse_object(const char *text, const char *name, cJSON **out) {
    *out = cJSON_Parse(text);
    if (*out && cJSON_IsObject(*out)) return LEVI_OK;
    cJSON_Delete(*out);
    *out = NULL;
    return levi_error(LEVI_ERR_FORMAT, "%s: not a JSON object", name);
}

double levi_json_short_float(float f) {
    char buf[32];
    for (int digits = 6; digits < 9; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, (double)f);
        if ((float)strtod(buf, NULL) == f) return strtod(buf, NULL);
    }
    snprintf(buf, sizeof buf, "%.9g", (double)f);
    return strtod(buf, NULL);
}

char *levi_json_take_text(cJSON *json) {
    char *s = json ? cJSON_Print(json) : NULL, *out = s ? strdup(s) : NULL;
    cJSON_free(s);
    cJSON_Delete(json);
    return out;
}
