/* Self-contained model files of a levi_model (see levi/levi_model.h for the
 * layout), and host-side inference. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "levi/json_util.h"
#include "levi/safetensors.h"
#include "levi_model_internal.h"

#define MODEL_FORMAT "levi-model"
#define MODEL_VERSION "1"

static char *config_json(const levi_model_config *c) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "method", levi_method_name(c->method));
    cJSON_AddNumberToObject(o, "num_classes", c->num_classes);
    cJSON_AddNumberToObject(o, "channels", c->channels);
    cJSON_AddNumberToObject(o, "height", c->height);
    cJSON_AddNumberToObject(o, "width", c->width);
    cJSON_AddNumberToObject(o, "image_mean", c->image_mean);
    cJSON_AddNumberToObject(o, "image_std", c->image_std);
    cJSON_AddStringToObject(o, "input", c->input == LEVI_INPUT_TOKENS ? "tokens" : "pixels");
    if (c->input == LEVI_INPUT_TOKENS) cJSON_AddNumberToObject(o, "seq_len", c->seq_len);
    cJSON_AddStringToObject(o, "task_model", levi_task_name(c->task.kind));
    cJSON_AddNumberToObject(o, "task_hidden", c->task.hidden);
    cJSON_AddNumberToObject(o, "cnn_conv1", c->task.conv1);
    cJSON_AddNumberToObject(o, "cnn_conv2", c->task.conv2);
    if (c->task.kind == LEVI_TASK_NGRAM) {
        cJSON_AddNumberToObject(o, "ngram_buckets", c->task.buckets);
        cJSON_AddNumberToObject(o, "ngram_embed", c->task.embed);
    }
    cJSON *taps = cJSON_AddArrayToObject(o, "taps");
    for (int i = 0; taps && i < c->ntaps; i++) cJSON_AddItemToArray(taps, cJSON_CreateNumber(c->taps[i]));
    cJSON_AddStringToObject(o, "fusion", levi_fusion_name(c->fusion));
    cJSON_AddStringToObject(o, "adapter", c->adapter_linear ? "linear" : "mlp");
    cJSON_AddNumberToObject(o, "adapter_hidden", c->adapter_hidden);
    cJSON_AddNumberToObject(o, "lambda", c->lambda);
    if (c->distill > 0) cJSON_AddNumberToObject(o, "distill", c->distill);
    cJSON_AddNumberToObject(o, "lora_rank", c->lora_rank);
    cJSON_AddNumberToObject(o, "seed", (double)c->seed);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static levi_status get_int(const cJSON *o, const char *file, const char *key, int lo, int hi, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi)
        return levi_error(LEVI_ERR_FORMAT, "%s: config field '%s' must be an integer in %d..%d", file, key, lo, hi);
    *out = (int)v->valuedouble;
    return LEVI_OK;
}

static levi_status get_float(const cJSON *o, const char *file, const char *key, float *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return levi_error(LEVI_ERR_FORMAT, "%s: config field '%s' must be a number", file, key);
    *out = (float)v->valuedouble;
    return LEVI_OK;
}

static levi_status get_str(const cJSON *o, const char *file, const char *key, const char *a, const char *b,
                           const char *c3, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    const char *s = cJSON_IsString(v) ? v->valuestring : NULL;
    if (s && !strcmp(s, a)) *out = 0;
    else if (s && !strcmp(s, b)) *out = 1;
    else if (s && c3 && !strcmp(s, c3)) *out = 2;
    else
        return levi_error(LEVI_ERR_FORMAT, "%s: config field '%s' must be \"%s\" or \"%s\"%s%s%s", file, key, a, b,
                          c3 ? " or \"" : "", c3 ? c3 : "", c3 ? "\"" : "");
    return LEVI_OK;
}

static levi_status parse_config(const char *text, const char *file, levi_model_config *c) {
    cJSON *o = text ? cJSON_Parse(text) : NULL;
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return levi_error(LEVI_ERR_FORMAT, "%s: __metadata__ 'config' is %s", file, text ? "not a JSON object" : "missing");
    }
    levi_json_keep_last(o); /* duplicate keys: the last counts, as in Python's json */
    levi_status st = LEVI_OK;
    const cJSON *mv = cJSON_GetObjectItemCaseSensitive(o, "method");
    levi_method method = LEVI_METHOD_LEVI;
    if (!cJSON_IsString(mv) || levi_method_parse(mv->valuestring, &method) != LEVI_OK)
        st = levi_error(LEVI_ERR_FORMAT, "%s: config field 'method' must be one of scratch, lp, ft, lora, levi, levi+lora",
                        file);
    if (st == LEVI_OK) levi_model_config_default(c, method);
    int kind = 0, fusion = 0, lin = 0, seed = 0, tokens = 0;
    /* "input" and its fields came with text; files without them read images */
    if (st == LEVI_OK && cJSON_GetObjectItemCaseSensitive(o, "input"))
        st = get_str(o, file, "input", "pixels", "tokens", NULL, &tokens);
    c->input = tokens ? LEVI_INPUT_TOKENS : LEVI_INPUT_PIXELS;
    const int lo = tokens ? 0 : 1; /* a token model has no image size */
    if (st == LEVI_OK && tokens) st = get_int(o, file, "seq_len", 1, 1 << 20, &c->seq_len);
    if (st == LEVI_OK) st = get_int(o, file, "num_classes", 2, 100000, &c->num_classes);
    if (st == LEVI_OK) st = get_int(o, file, "channels", lo, 4, &c->channels);
    if (st == LEVI_OK) st = get_int(o, file, "height", lo, 4096, &c->height);
    if (st == LEVI_OK) st = get_int(o, file, "width", lo, 4096, &c->width);
    if (st == LEVI_OK) st = get_float(o, file, "image_mean", &c->image_mean);
    if (st == LEVI_OK) st = get_float(o, file, "image_std", &c->image_std);
    if (st == LEVI_OK && !(c->image_std > 0))
        st = levi_error(LEVI_ERR_FORMAT, "%s: config field 'image_std' must be positive, got %g", file,
                        (double)c->image_std);
    const cJSON *tm = cJSON_GetObjectItemCaseSensitive(o, "task_model");
    levi_task_kind tk = LEVI_TASK_NONE;
    if (st == LEVI_OK && !(cJSON_IsString(tm) && (!strcmp(tm->valuestring, "none") ||
                                                 levi_task_parse(tm->valuestring, &tk) == LEVI_OK)))
        st = levi_error(LEVI_ERR_FORMAT, "%s: config field 'task_model' must be \"none\", \"mlp\", \"cnn\" or \"ngram\"",
                        file);
    kind = (int)tk;
    if (st == LEVI_OK) st = get_int(o, file, "task_hidden", 1, 65536, &c->task.hidden);
    if (st == LEVI_OK) st = get_int(o, file, "cnn_conv1", 1, 1024, &c->task.conv1);
    if (st == LEVI_OK) st = get_int(o, file, "cnn_conv2", 1, 1024, &c->task.conv2);
    if (st == LEVI_OK && tk == LEVI_TASK_NGRAM) st = get_int(o, file, "ngram_buckets", 1, 1 << 24, &c->task.buckets);
    if (st == LEVI_OK && tk == LEVI_TASK_NGRAM) st = get_int(o, file, "ngram_embed", 1, 4096, &c->task.embed);
    if (st == LEVI_OK) st = get_str(o, file, "fusion", "concat", "ensemble", "late", &fusion);
    if (st == LEVI_OK) st = get_str(o, file, "adapter", "mlp", "linear", NULL, &lin);
    if (st == LEVI_OK) st = get_int(o, file, "adapter_hidden", 1, 65536, &c->adapter_hidden);
    if (st == LEVI_OK) st = get_float(o, file, "lambda", &c->lambda);
    c->distill = 0; /* optional: written only when set */
    if (st == LEVI_OK && cJSON_GetObjectItemCaseSensitive(o, "distill"))
        st = get_float(o, file, "distill", &c->distill);
    if (st == LEVI_OK) st = get_int(o, file, "lora_rank", 0, 4096, &c->lora_rank);
    if (st == LEVI_OK) st = get_int(o, file, "seed", 0, 2147483647, &seed);
    const cJSON *taps = cJSON_GetObjectItemCaseSensitive(o, "taps");
    if (st == LEVI_OK && (!cJSON_IsArray(taps) || cJSON_GetArraySize(taps) > LEVI_MAX_TAPS))
        st = levi_error(LEVI_ERR_FORMAT, "%s: config field 'taps' must be an array of at most %d integers", file,
                        LEVI_MAX_TAPS);
    if (st == LEVI_OK) {
        c->ntaps = 0;
        const cJSON *t;
        cJSON_ArrayForEach(t, taps) {
            if (!cJSON_IsNumber(t) || t->valuedouble < 0 || t->valuedouble > 10000) {
                st = levi_error(LEVI_ERR_FORMAT, "%s: config field 'taps' holds a non-integer or negative value", file);
                break;
            }
            c->taps[c->ntaps++] = (int)t->valuedouble;
        }
    }
    /* a backbone's model was trained at recorded taps: none recorded is no model */
    if (st == LEVI_OK && c->ntaps == 0 && levi_method_backbone_mode(method) >= 0)
        st = levi_error(LEVI_ERR_FORMAT, "%s: config field 'taps' is empty; method %s reads the backbone at 1..%d taps",
                        file, levi_method_name(method), LEVI_MAX_TAPS);
    c->task.kind = (levi_task_kind)kind;
    c->fusion = (levi_fusion)fusion;
    c->adapter_linear = lin;
    c->seed = (unsigned long long)seed;
    cJSON_Delete(o);
    return st;
}

static char *class_names_json(const levi_model *m) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < m->cfg.num_classes; i++) {
        char def[32];
        snprintf(def, sizeof def, "%d", i);
        cJSON_AddItemToArray(a, cJSON_CreateString(m->class_names ? m->class_names[i] : def));
    }
    char *s = a ? cJSON_PrintUnformatted(a) : NULL;
    cJSON_Delete(a);
    return s;
}

static levi_status add_flat(levi_st_writer *w, const char *name, const levi_tensor *t) {
    float *h = malloc((t->numel ? t->numel : 1) * sizeof *h);
    if (!h) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory saving %s", name);
    levi_status st = levi_tensor_read(t, h);
    long long n = (long long)t->numel;
    if (st == LEVI_OK) st = levi_st_writer_add(w, name, 1, &n, h);
    free(h);
    return st;
}

levi_status levi_model_save(levi_model *m, const char *path, const char *const *extra_meta_kv, int n_extra,
                            int with_optimizer) {
    levi_st_writer *w;
    LEVI_TRY(levi_st_writer_create(&w));
    char *cfg = config_json(&m->cfg), *names = class_names_json(m), *vcfg = NULL;
    levi_status st = (cfg && names) ? LEVI_OK : levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory saving %s", path);
    if (st == LEVI_OK) st = levi_st_writer_meta(w, "format", MODEL_FORMAT);
    if (st == LEVI_OK) st = levi_st_writer_meta(w, "version", MODEL_VERSION);
    if (st == LEVI_OK) st = levi_st_writer_meta(w, "method", levi_method_name(m->cfg.method));
    if (st == LEVI_OK) st = levi_st_writer_meta(w, "config", cfg);
    if (st == LEVI_OK) st = levi_st_writer_meta(w, "class_names", names);
    if (st == LEVI_OK && m->preprocessor) st = levi_st_writer_meta(w, "preprocessor", m->preprocessor);
    if (st == LEVI_OK && m->tokenizer) st = levi_st_writer_meta(w, "tokenizer", m->tokenizer);
    for (int i = 0; st == LEVI_OK && i < n_extra; i++)
        st = levi_st_writer_meta(w, extra_meta_kv[2 * i], extra_meta_kv[2 * i + 1]);
    if (st == LEVI_OK && m->bb) {
        const char *kind = levi_backbone_kind(m->bb), *key = levi_backbone_config_key(kind);
        vcfg = levi_backbone_config_text(m->bb);
        if (!key) st = levi_error(LEVI_ERR_UNSUPPORTED, "saving %s: backbone kind '%s' is not known", path, kind);
        else if (!vcfg) st = levi_error(LEVI_ERR_HOST_MEMORY, "out of memory");
        /* the ViT's files stay as they were: its kind is implied by vit_config */
        if (st == LEVI_OK && strcmp(kind, "vit")) st = levi_st_writer_meta(w, "backbone", kind);
        if (st == LEVI_OK) st = levi_st_writer_meta(w, key, vcfg);
        if (st == LEVI_OK) st = levi_backbone_write_weights(m->bb, w, "backbone.");
    }
    if (st == LEVI_OK) st = levi_params_write(&m->P, w, "head.", with_optimizer ? "opt.head." : NULL);
    if (st == LEVI_OK && with_optimizer && m->bb_trainable) {
        levi_tensor bm, bv;
        if (levi_backbone_trainable(m->bb, NULL, NULL, &bm, &bv)) {
            st = add_flat(w, "opt.backbone.m", &bm);
            if (st == LEVI_OK) st = add_flat(w, "opt.backbone.v", &bv);
        }
    }
    if (st == LEVI_OK) st = levi_st_writer_write(w, path);
    levi_st_writer_free(w);
    free(cfg);
    free(names);
    free(vcfg);
    return st;
}

static levi_status read_flat(const levi_safetensors *st, const char *path, const char *name, const levi_tensor *t) {
    const levi_st_tensor *s = levi_safetensors_find(st, name);
    if (!s) return levi_error(LEVI_ERR_FORMAT, "%s: optimizer state '%s' is missing", path, name);
    if (s->numel != t->numel)
        return levi_error(LEVI_ERR_SHAPE, "%s: '%s' has %zu values, expected %zu", path, name, s->numel, t->numel);
    return levi_tensor_write(t, s->data);
}

levi_status levi_model_read_weights(levi_model *m, const levi_safetensors *st, const char *path,
                                    int with_optimizer) {
    if (m->bb) LEVI_TRY(levi_backbone_read_weights(m->bb, st, "backbone."));
    LEVI_TRY(levi_params_read(&m->P, st, "head.", with_optimizer ? "opt.head." : NULL, path));
    if (with_optimizer && m->bb_trainable) {
        levi_tensor bm, bv;
        if (levi_backbone_trainable(m->bb, NULL, NULL, &bm, &bv)) {
            LEVI_TRY(read_flat(st, path, "opt.backbone.m", &bm));
            LEVI_TRY(read_flat(st, path, "opt.backbone.v", &bv));
        }
    }
    return LEVI_OK;
}

static levi_status parse_names(const char *text, const char *path, int K, char ***out) {
    cJSON *a = text ? cJSON_Parse(text) : NULL;
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != K) {
        cJSON_Delete(a);
        return levi_error(LEVI_ERR_FORMAT, "%s: __metadata__ 'class_names' must be a JSON array of %d strings", path, K);
    }
    char **n = calloc((size_t)K, sizeof *n);
    int i = 0;
    const cJSON *e;
    levi_status st = n ? LEVI_OK : levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    cJSON_ArrayForEach(e, a) {
        if (st != LEVI_OK) break;
        if (!cJSON_IsString(e)) st = levi_error(LEVI_ERR_FORMAT, "%s: class name %d is not a string", path, i);
        else if (!(n[i++] = strdup(e->valuestring))) st = levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    }
    cJSON_Delete(a);
    if (st != LEVI_OK) {
        for (int j = 0; n && j < K; j++) free(n[j]);
        free(n);
        return st;
    }
    *out = n;
    return LEVI_OK;
}

levi_status levi_model_load(levi_model **out, levi_ctx *ctx, const char *path, int max_batch, int trainable) {
    return levi_model_load_placed(out, ctx, ctx, path, max_batch, trainable);
}

levi_status levi_model_load_placed(levi_model **out, levi_ctx *ctx, levi_ctx *backbone_ctx, const char *path,
                                   int max_batch, int trainable) {
    *out = NULL;
    levi_safetensors st;
    LEVI_TRY(levi_safetensors_read(path, &st));
    levi_status rc = LEVI_OK;
    const char *fmt = levi_safetensors_meta(&st, "format"), *ver = levi_safetensors_meta(&st, "version");
    if (!fmt || strcmp(fmt, MODEL_FORMAT))
        rc = levi_error(LEVI_ERR_FORMAT, "%s: not a levi-cl model file (__metadata__ 'format' is %s%s%s, expected \"%s\")",
                        path, fmt ? "\"" : "", fmt ? fmt : "missing", fmt ? "\"" : "", MODEL_FORMAT);
    else if (!ver || strcmp(ver, MODEL_VERSION))
        rc = levi_error(LEVI_ERR_FORMAT, "%s: model file version %s is not supported (expected %s)", path,
                        ver ? ver : "(missing)", MODEL_VERSION);
    levi_model_config cfg;
    if (rc == LEVI_OK) rc = parse_config(levi_safetensors_meta(&st, "config"), path, &cfg);
    const char *meta_method = levi_safetensors_meta(&st, "method");
    if (rc == LEVI_OK && meta_method && strcmp(meta_method, levi_method_name(cfg.method)))
        rc = levi_error(LEVI_ERR_FORMAT, "%s: __metadata__ 'method' is '%s' but its config's method is '%s'", path,
                        meta_method, levi_method_name(cfg.method));
    char **names = NULL;
    if (rc == LEVI_OK) rc = parse_names(levi_safetensors_meta(&st, "class_names"), path, cfg.num_classes, &names);
    levi_backbone *bb = NULL;
    int mode = rc == LEVI_OK ? levi_method_backbone_mode(cfg.method) : -1;
    if (rc == LEVI_OK && mode >= 0) {
        const char *kind = levi_safetensors_meta(&st, "backbone");
        if (!kind) kind = "vit";
        const char *key = levi_backbone_config_key(kind);
        const char *text = key ? levi_safetensors_meta(&st, key) : NULL;
        char where[1100];
        snprintf(where, sizeof where, "%s (__metadata__ %s)", path, key ? key : "backbone");
        /* inference: a frozen backbone, except LoRA which needs its adapters */
        int run_mode = trainable ? mode : (mode == LEVI_BACKBONE_LORA ? LEVI_BACKBONE_LORA : LEVI_BACKBONE_FROZEN);
        if (!key)
            rc = levi_error(LEVI_ERR_FORMAT, "%s: __metadata__ 'backbone' names the unknown kind '%s'", path, kind);
        else if (!text)
            rc = levi_error(LEVI_ERR_FORMAT, "%s: __metadata__ '%s' is missing", path, key);
        else
            rc = levi_backbone_from_config(&bb, backbone_ctx ? backbone_ctx : ctx, kind, text, where, max_batch,
                                           run_mode, run_mode == LEVI_BACKBONE_LORA ? cfg.lora_rank : 0);
        if (rc == LEVI_OK && run_mode != mode) {
            /* an ft model evaluated frozen: a frozen-mode method config keeps the head layout */
            cfg.method = cfg.method == LEVI_METHOD_FT ? LEVI_METHOD_LP : cfg.method;
        }
    }
    levi_model *m = NULL;
    if (rc == LEVI_OK) {
        levi_method saved = cfg.method;
        rc = model_create_mode(&m, ctx, &cfg, bb, max_batch, trainable);
        bb = NULL;
        if (rc == LEVI_OK && saved != m->cfg.method) m->cfg.method = saved;
    }
    if (rc == LEVI_OK) rc = levi_model_read_weights(m, &st, path, 0);
    if (rc == LEVI_OK) {
        m->class_names = names;
        m->n_class_names = m->cfg.num_classes;
        names = NULL;
    }
    if (rc == LEVI_OK) rc = levi_model_set_preprocessor(m, levi_safetensors_meta(&st, "preprocessor"));
    if (rc == LEVI_OK) rc = levi_model_set_tokenizer(m, levi_safetensors_meta(&st, "tokenizer"));
    if (names)
        for (int i = 0; i < cfg.num_classes; i++) free(names[i]);
    free(names);
    levi_backbone_free(bb);
    levi_safetensors_free(&st);
    if (rc != LEVI_OK) {
        levi_model_free(m);
        /* every error names the file (the model's own checks do not know it) */
        if (!strstr(levi_last_error(), path)) levi_error(rc, "%s: %s", path, levi_last_error());
        return rc;
    }
    *out = m;
    return LEVI_OK;
}

levi_status levi_model_set_preprocessor(levi_model *m, const char *json) {
    char *copy = json ? strdup(json) : NULL;
    if (json && !copy) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    free(m->preprocessor);
    m->preprocessor = copy;
    return LEVI_OK;
}

const char *levi_model_preprocessor(const levi_model *m) { return m->preprocessor; }

levi_status levi_model_set_tokenizer(levi_model *m, const char *json) {
    char *copy = json ? strdup(json) : NULL;
    if (json && !copy) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    free(m->tokenizer);
    m->tokenizer = copy;
    return LEVI_OK;
}

const char *levi_model_tokenizer(const levi_model *m) { return m->tokenizer; }

/* Softmax of each row of logits (n, K) in place. */
static void softmax_rows(float *probs, int n, int K) {
    for (int b = 0; b < n; b++) {
        float *p = probs + (size_t)b * K;
        double mx = p[0], sum = 0;
        for (int k = 1; k < K; k++) mx = p[k] > mx ? p[k] : mx;
        for (int k = 0; k < K; k++) sum += exp((double)p[k] - mx);
        for (int k = 0; k < K; k++) p[k] = (float)(exp((double)p[k] - mx) / sum);
    }
}

levi_status levi_model_predict_tokens(levi_model *m, const float *ids, const float *mask, int n, float *probs) {
    if (m->input.kind != LEVI_INPUT_TOKENS)
        return levi_error(LEVI_ERR_UNSUPPORTED, "levi_model_predict_tokens takes texts; this model reads images");
    if (n < 1) return LEVI_OK;
    size_t T = (size_t)m->input.seq_len;
    int K = m->cfg.num_classes;
    levi_status st = LEVI_OK;
    /* every batch goes up and every logit comes back without a wait; one at the end */
    for (int s = 0; s < n && st == LEVI_OK; s += m->max_batch) {
        int B = n - s < m->max_batch ? n - s : m->max_batch;
        levi_input in;
        memset(&in, 0, sizeof in);
        in.x = levi_model_input_pixels(m, B);
        in.mask = levi_model_input_mask(m, B);
        levi_tensor lg = levi_model_logits(m, B);
        st = levi_tensor_write_async(&in.x, ids + (size_t)s * T, 0, NULL, NULL);
        if (st == LEVI_OK) st = levi_tensor_write_async(&in.mask, mask + (size_t)s * T, 0, NULL, NULL);
        if (st == LEVI_OK) st = levi_model_forward_input(m, &in, NULL, NULL, B, NULL, NULL);
        if (st == LEVI_OK) st = levi_tensor_read_async(&lg, probs + (size_t)s * K, 0, NULL, NULL);
    }
    levi_status fs = levi_finish(m->ctx);
    if (st == LEVI_OK) st = fs;
    if (st == LEVI_OK) softmax_rows(probs, n, K);
    return st;
}

/* normalize: images in [0,1] → (x - image_mean) / image_std first; else
 * they are the model's input already. */
static levi_status predict(levi_model *m, const float *images, int n, float *probs, int normalize) {
    const levi_model_config *c = &m->cfg;
    if (m->input.kind != LEVI_INPUT_PIXELS)
        return levi_error(LEVI_ERR_UNSUPPORTED, "levi_model_predict takes images; this model reads tokens");
    if (n < 1) return LEVI_OK;
    size_t chw = (size_t)c->channels * c->height * c->width;
    int K = c->num_classes;
    /* every batch goes up and every logit comes back without a wait; one at the end */
    float *x = NULL;
    const float *src = images;
    if (normalize) {
        x = malloc((size_t)n * chw * sizeof *x);
        if (!x) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory for %d images", n);
        for (size_t i = 0; i < (size_t)n * chw; i++) x[i] = (images[i] - c->image_mean) / c->image_std;
        src = x;
    }
    levi_status st = LEVI_OK;
    for (int s = 0; s < n && st == LEVI_OK; s += m->max_batch) {
        int B = n - s < m->max_batch ? n - s : m->max_batch;
        levi_tensor px = levi_model_input_pixels(m, B), lg = levi_model_logits(m, B);
        st = levi_tensor_write_async(&px, src + (size_t)s * chw, 0, NULL, NULL);
        if (st == LEVI_OK) st = levi_model_forward(m, &px, NULL, NULL, B, NULL, NULL);
        if (st == LEVI_OK) st = levi_tensor_read_async(&lg, probs + (size_t)s * K, 0, NULL, NULL);
    }
    /* the queue must drain before x is freed, also after an error */
    levi_status fs = levi_finish(m->ctx);
    if (st == LEVI_OK) st = fs;
    free(x);
    if (st == LEVI_OK) softmax_rows(probs, n, K);
    return st;
}

levi_status levi_model_predict(levi_model *m, const float *images, int n, float *probs) {
    return predict(m, images, n, probs, 1);
}

levi_status levi_model_predict_normalized(levi_model *m, const float *pixels, int n, float *probs) {
    return predict(m, pixels, n, probs, 0);
}
