/* levi/json_util.h — read config JSON files with cJSON and get typed fields
 * with errors that name the file and the field:
 *   "config.json: field 'hidden_size' must be an integer in [1, 65536], got -3" */
#ifndef LEVI_JSON_UTIL_H
#define LEVI_JSON_UTIL_H

#include <cjson/cJSON.h>

#include "levi/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Parse the whole file `path` (a regular file: a FIFO is refused, never
 * waited on); the caller frees *out with cJSON_Delete. The top level must
 * be a JSON object; of duplicate keys the last one counts. */
levi_status levi_json_load(const char *path, cJSON **out);

/* Of duplicate keys in an object, keep the last one, as Python's json (and
 * so transformers) does; cJSON's lookups would find the first. Applied to
 * the whole tree; levi_json_load already does it. */
void levi_json_keep_last(cJSON *item);

/* Typed getters. `where` names the object in errors (usually the file path).
 * When the key is absent: LEVI_ERR_FORMAT if `required`, else *out keeps its
 * value (the default) and LEVI_OK. A present key of the wrong type or out of
 * range is always LEVI_ERR_FORMAT. */
levi_status levi_json_get_int(const cJSON *obj, const char *where, const char *key, long long min,
                              long long max, int *out, int required);
levi_status levi_json_get_float(const cJSON *obj, const char *where, const char *key, double min,
                                double max, double *out, int required);
/* *out points into obj (valid while obj lives). */
levi_status levi_json_get_string(const cJSON *obj, const char *where, const char *key, const char **out,
                                 int required);
levi_status levi_json_get_bool(const cJSON *obj, const char *where, const char *key, int *out,
                               int required);

/* Parse `text` whose top level must be a JSON object (`name` names it in the
 * error); the caller frees *out with cJSON_Delete. */
levi_status levi_json_parse_object(const char *text, const char *name, cJSON **out);

/* The float's shortest decimal form that reads back as the same float, as a
 * double (0.485f -> 0.485, not 0.485000014; 1e-12f -> 1e-12), so a value
 * written to JSON parses back to the same float and reads naturally. */
double levi_json_short_float(float f);

/* Serialize `json` (formatted) into a string the caller frees with free(),
 * and delete `json`; NULL when json is NULL or memory runs out. */
char *levi_json_take_text(cJSON *json);

/* Serialize (formatted) and write atomically: temp file, fsync, rename. */
levi_status levi_json_write_atomic(const char *path, const cJSON *json);

#ifdef __cplusplus
}
#endif
#endif
