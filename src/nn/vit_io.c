/* ViT files: Hugging Face config.json (+ preprocessor_config.json) and
 * model.safetensors, read and written with HF names; the "vit." prefix of
 * ViTForImageClassification is accepted; classifier.* and pooler.* ignored. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "levi/json_util.h"
#include "levi/log.h"
#include "levi/safetensors.h"
#include "vit_internal.h"

/* --- config.json -------------------------------------------------------------------- */

/* image_mean / image_std: a number or an array of numbers, one per channel.
 * The ViT config keeps one value for all channels (their mean); the data
 * loader applies the per-channel values of preprocessor_config.json. */
static levi_status get_norm(const cJSON *o, const char *where, const char *key, float *out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!it) return LEVI_OK;
    if (cJSON_IsNumber(it)) {
        *out = (float)it->valuedouble;
        return LEVI_OK;
    }
    int n = cJSON_IsArray(it) ? cJSON_GetArraySize(it) : 0;
    double sum = 0, lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++) {
        const cJSON *x = cJSON_GetArrayItem(it, i);
        if (!cJSON_IsNumber(x)) n = 0;
        else sum += x->valuedouble, lo = fmin(lo, x->valuedouble), hi = fmax(hi, x->valuedouble);
    }
    if (n == 0)
        return levi_error(LEVI_ERR_FORMAT, "%s: field '%s' must be a number or a non-empty array of numbers", where,
                          key);
    if (hi - lo > 1e-6)
        LEVI_DEBUG("%s: per-channel '%s' values differ (%g..%g); the ViT config keeps their mean %g (the data "
                   "loader normalises per channel)", where, key, lo, hi, sum / n);
    *out = (float)(sum / n);
    return LEVI_OK;
}

static levi_status parse_obj(levi_vit_config *c, const cJSON *o, const char *where) {
    levi_vit_config_default(c);
    const struct {
        const char *key;
        int *dst;
        int lo, hi;
    } ints[] = {
        {"hidden_size", &c->hidden_size, 1, 65536},
        {"num_hidden_layers", &c->num_hidden_layers, 1, VIT_MAX_LAYERS},
        {"num_attention_heads", &c->num_attention_heads, 1, 4096},
        {"intermediate_size", &c->intermediate_size, 1, 1 << 20},
        {"image_size", &c->image_size, 1, 4096},
        {"patch_size", &c->patch_size, 1, 4096},
        {"num_channels", &c->num_channels, 1, 64},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        LEVI_TRY(levi_json_get_int(o, where, ints[i].key, ints[i].lo, ints[i].hi, ints[i].dst, 1));
    LEVI_TRY(enc_config_common(o, where, &c->layer_norm_eps));
    LEVI_TRY(levi_json_get_bool(o, where, "qkv_bias", &c->qkv_bias, 0));
    const char *type = "vit";
    LEVI_TRY(levi_json_get_string(o, where, "model_type", &type, 0));
    if (strcmp(type, "vit"))
        return levi_error(LEVI_ERR_UNSUPPORTED, "%s: field 'model_type' is '%s'; expected \"vit\"", where, type);
    LEVI_TRY(get_norm(o, where, "image_mean", &c->image_mean));
    LEVI_TRY(get_norm(o, where, "image_std", &c->image_std));
    levi_status st = levi_vit_config_validate(c);
    if (st != LEVI_OK) return levi_error(LEVI_ERR_FORMAT, "%s: %s", where, levi_last_error());
    return LEVI_OK;
}

levi_status levi_vit_config_parse(levi_vit_config *c, const char *json_text, const char *name) {
    cJSON *o;
    LEVI_TRY(levi_json_parse_object(json_text, name, &o));
    levi_status st = parse_obj(c, o, name);
    cJSON_Delete(o);
    return st;
}

static cJSON *config_obj(const levi_vit_config *c) {
    cJSON *o = cJSON_CreateObject();
    cJSON *arch = cJSON_AddArrayToObject(o, "architectures");
    cJSON_AddItemToArray(arch, cJSON_CreateString("ViTModel"));
    cJSON_AddNumberToObject(o, "attention_probs_dropout_prob", 0.0);
    cJSON_AddNumberToObject(o, "encoder_stride", c->patch_size);
    cJSON_AddStringToObject(o, "hidden_act", "gelu");
    cJSON_AddNumberToObject(o, "hidden_dropout_prob", 0.0);
    cJSON_AddNumberToObject(o, "hidden_size", c->hidden_size);
    cJSON_AddNumberToObject(o, "image_mean", levi_json_short_float(c->image_mean));
    cJSON_AddNumberToObject(o, "image_size", c->image_size);
    cJSON_AddNumberToObject(o, "image_std", levi_json_short_float(c->image_std));
    cJSON_AddNumberToObject(o, "initializer_range", 0.02);
    cJSON_AddNumberToObject(o, "intermediate_size", c->intermediate_size);
    cJSON_AddNumberToObject(o, "layer_norm_eps", levi_json_short_float(c->layer_norm_eps)); /* 1e-12, not 9.99999996e-13 */
    cJSON_AddStringToObject(o, "model_type", "vit");
    cJSON_AddNumberToObject(o, "num_attention_heads", c->num_attention_heads);
    cJSON_AddNumberToObject(o, "num_channels", c->num_channels);
    cJSON_AddNumberToObject(o, "num_hidden_layers", c->num_hidden_layers);
    cJSON_AddNumberToObject(o, "patch_size", c->patch_size);
    cJSON_AddBoolToObject(o, "qkv_bias", c->qkv_bias);
    cJSON_AddStringToObject(o, "torch_dtype", "float32");
    return o;
}

char *levi_vit_config_json(const levi_vit_config *c) { return levi_json_take_text(config_obj(c)); }

/* HF's ViTImageProcessor settings, so transformers users get the same inputs. */
static cJSON *preprocessor_obj(const levi_vit_config *c) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "do_normalize", 1);
    cJSON_AddBoolToObject(o, "do_rescale", 1);
    cJSON_AddBoolToObject(o, "do_resize", 1);
    cJSON_AddStringToObject(o, "image_processor_type", "ViTImageProcessor");
    cJSON *m = cJSON_AddArrayToObject(o, "image_mean"), *s = cJSON_AddArrayToObject(o, "image_std");
    for (int i = 0; i < c->num_channels; i++) {
        cJSON_AddItemToArray(m, cJSON_CreateNumber(levi_json_short_float(c->image_mean)));
        cJSON_AddItemToArray(s, cJSON_CreateNumber(levi_json_short_float(c->image_std)));
    }
    cJSON_AddNumberToObject(o, "resample", 2);
    cJSON_AddNumberToObject(o, "rescale_factor", 1.0 / 255.0);
    cJSON *size = cJSON_AddObjectToObject(o, "size");
    cJSON_AddNumberToObject(size, "height", c->image_size);
    cJSON_AddNumberToObject(size, "width", c->image_size);
    return o;
}

/* --- weights ------------------------------------------------------------------------ */

levi_status levi_vit_read_weights(levi_vit *v, const levi_safetensors *st, const char *prefix) {
    return enc_read_table(&v->enc, st, prefix ? prefix : "", v->enc.lora_rank > 0 ? 1 : 0, NULL);
}

levi_status levi_vit_write_weights(const levi_vit *v, levi_st_writer *w, const char *prefix) {
    return enc_write_table(&v->enc, w, prefix ? prefix : "", 1);
}

/* --- folders --------------------------------------------------------------------------- */

levi_status levi_vit_save(const levi_vit *v, const char *folder, int save_lora) {
    LEVI_TRY(levi_mkdirs(folder));
    char path[4096];
    levi_st_writer *w = NULL;
    LEVI_TRY(levi_st_writer_create(&w));
    levi_status st = enc_write_table(&v->enc, w, "", save_lora && v->enc.lora_rank > 0);
    if (st == LEVI_OK) st = levi_st_writer_meta(w, "format", "pt"); /* transformers requires it */
    snprintf(path, sizeof path, "%s/model.safetensors", folder);
    if (st == LEVI_OK) st = levi_st_writer_write(w, path);
    levi_st_writer_free(w);
    if (st != LEVI_OK) return st;
    cJSON *cfg = config_obj(&v->cfg), *pre = preprocessor_obj(&v->cfg);
    snprintf(path, sizeof path, "%s/config.json", folder);
    st = levi_json_write_atomic(path, cfg);
    snprintf(path, sizeof path, "%s/preprocessor_config.json", folder);
    if (st == LEVI_OK) st = levi_json_write_atomic(path, pre);
    cJSON_Delete(cfg);
    cJSON_Delete(pre);
    return st;
}

/* Mean/std from preprocessor_config.json when config.json does not carry them. */
static levi_status read_preprocessor(levi_vit_config *c, const cJSON *config, const char *folder) {
    if (cJSON_GetObjectItemCaseSensitive(config, "image_mean")) return LEVI_OK;
    char path[4096];
    snprintf(path, sizeof path, "%s/preprocessor_config.json", folder);
    if (access(path, F_OK) != 0) return LEVI_OK; /* never fopen: a FIFO would block; the loader refuses it */
    cJSON *o = NULL;
    LEVI_TRY(levi_json_load(path, &o));
    levi_status st = get_norm(o, path, "image_mean", &c->image_mean);
    if (st == LEVI_OK) st = get_norm(o, path, "image_std", &c->image_std);
    if (st == LEVI_OK && !(c->image_std > 0.0f))
        st = levi_error(LEVI_ERR_FORMAT, "%s: field 'image_std' must be positive", path);
    cJSON_Delete(o);
    return st;
}

levi_status levi_vit_load(levi_vit **out, levi_ctx *ctx, const char *folder, int max_batch, int train_mode,
                          int lora_rank) {
    *out = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", folder);
    cJSON *o = NULL;
    LEVI_TRY(levi_json_load(path, &o));
    levi_vit_config c;
    levi_status st = parse_obj(&c, o, path);
    if (st == LEVI_OK) st = read_preprocessor(&c, o, folder);
    cJSON_Delete(o);
    LEVI_TRY(st);
    snprintf(path, sizeof path, "%s/model.safetensors", folder);
    levi_safetensors sf;
    LEVI_TRY(levi_safetensors_read(path, &sf));
    const char *prefix = enc_name_prefix(&sf, "embeddings.cls_token", "vit.");
    levi_vit *v = NULL;
    st = levi_vit_create(&v, ctx, &c, max_batch, train_mode, lora_rank);
    if (st == LEVI_OK) st = levi_vit_init_lora(v, 0); /* LoRA A/B when the file has none */
    if (st == LEVI_OK) st = enc_read_file(&v->enc, &sf, prefix, lora_rank > 0 ? 2 : 0, path);
    levi_safetensors_free(&sf);
    if (st != LEVI_OK) {
        levi_vit_free(v);
        return st;
    }
    *out = v;
    return LEVI_OK;
}
