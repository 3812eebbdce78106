/* BERT behind the backbone interface: token ids and mask in, pooled taps out. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "backbone_internal.h"
#include "bert_internal.h"
#include "levi/json_util.h"

static levi_status bert_forward(void *self, const levi_input *in, int B) {
    return levi_bert_forward(self, &in->x, &in->mask, B);
}
static levi_tensor bert_tap(void *self, int l, int B) { return levi_bert_tap(self, l, B); }
static levi_status bert_backward(void *self, const levi_tensor *const *dtaps, const int *taps, int ntaps, int B) {
    return levi_bert_backward(self, dtaps, taps, ntaps, B);
}
static levi_status bert_zero_grad(void *self) { return levi_bert_zero_grad(self); }
static int bert_trainable(void *self, levi_tensor *p, levi_tensor *g, levi_tensor *m, levi_tensor *v) {
    return levi_bert_trainable(self, p, g, m, v);
}
static levi_status bert_write(const void *self, struct levi_st_writer *w, const char *prefix) {
    return levi_bert_write_weights(self, w, prefix);
}
static levi_status bert_read(void *self, const struct levi_safetensors *st, const char *prefix) {
    return levi_bert_read_weights(self, st, prefix);
}
/* config.json's fields plus "seq_len", the sequence length the backbone was built for */
static char *bert_config_text(const void *self) {
    char *text = levi_bert_config_json(levi_bert_get_config(self));
    cJSON *o = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "seq_len", levi_bert_seq_len(self));
    return levi_json_take_text(o);
}
static size_t bert_num_params(const void *self, size_t *lora) { return levi_bert_num_params(self, lora); }
static void bert_free(void *self) { levi_bert_free(self); }

static const levi_backbone_ops k_bert_ops = {
    .kind = "bert",
    .config_key = "bert_config",
    .forward = bert_forward,
    .tap = bert_tap,
    .backward = bert_backward,
    .zero_grad = bert_zero_grad,
    .trainable = bert_trainable,
    .write_weights = bert_write,
    .read_weights = bert_read,
    .config_text = bert_config_text,
    .num_params = bert_num_params,
    .free = bert_free,
};

levi_status levi_backbone_from_bert(levi_backbone **out, levi_ctx *ctx, levi_bert *bert) {
    *out = NULL;
    if (!bert || !ctx) {
        levi_bert_free(bert);
        return levi_error(LEVI_ERR_INVALID_ARG, "levi_backbone_from_bert: no BERT or no ctx");
    }
    const levi_bert_config *c = levi_bert_get_config(bert);
    levi_backbone_desc d = {0};
    d.hidden = c->hidden_size;
    d.depth = c->num_hidden_layers;
    d.mode = bert->enc.train_mode;
    d.max_batch = bert->enc.max_batch;
    d.input.kind = LEVI_INPUT_TOKENS;
    d.input.seq_len = levi_bert_seq_len(bert);
    return levi_backbone_create(out, ctx, &k_bert_ops, bert, &d);
}

levi_status backbone_bert_from_config(levi_backbone **out, levi_ctx *ctx, const char *config_text, const char *where,
                                      int max_batch, int mode, int lora_rank) {
    *out = NULL;
    levi_bert_config c;
    LEVI_TRY(levi_bert_config_parse(&c, config_text, where));
    cJSON *o = cJSON_Parse(config_text);
    int T = 0;
    levi_status st = levi_json_get_int(o, where, "seq_len", 1, c.max_position_embeddings, &T, 1);
    cJSON_Delete(o);
    LEVI_TRY(st);
    levi_bert *b;
    LEVI_TRY(levi_bert_create(&b, ctx, &c, max_batch, T, mode, lora_rank));
    return levi_backbone_from_bert(out, ctx, b);
}
