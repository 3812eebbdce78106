/* The backbone interface (levi/backbone.h): dispatch to an architecture's
 * ops table, and the table of architectures a model file can name. */
#include <stdlib.h>
#include <string.h>

#include "backbone_internal.h"

struct levi_backbone {
    levi_ctx *ctx;
    const levi_backbone_ops *ops;
    void *self;
    levi_backbone_desc desc;
};

/* Architectures a model file may name in __metadata__ "backbone". */
static const struct {
    const char *kind, *config_key;
    backbone_from_config_fn from_config;
} k_kinds[] = {
    {"vit", "vit_config", backbone_vit_from_config},
    {"bert", "bert_config", backbone_bert_from_config},
};

size_t levi_input_numel(const levi_input_spec *s) {
    if (s->kind == LEVI_INPUT_TOKENS) return (size_t)(s->seq_len > 0 ? s->seq_len : 0);
    return (size_t)(s->channels > 0 ? s->channels : 0) * (size_t)(s->height > 0 ? s->height : 0) *
           (size_t)(s->width > 0 ? s->width : 0);
}

levi_status levi_backbone_create(levi_backbone **out, levi_ctx *ctx, const levi_backbone_ops *ops, void *self,
                                 const levi_backbone_desc *desc) {
    *out = NULL;
    levi_backbone *bb = calloc(1, sizeof *bb);
    if (!bb) {
        if (ops && ops->free) ops->free(self);
        return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory creating a backbone");
    }
    bb->ctx = ctx;
    bb->ops = ops;
    bb->self = self;
    bb->desc = *desc;
    if (!ops || !ops->forward || !ops->tap || !ops->free || !ops->kind || desc->hidden < 1 || desc->depth < 0 ||
        desc->max_batch < 1) {
        levi_backbone_free(bb);
        return levi_error(LEVI_ERR_INVALID_ARG, "a backbone needs forward, tap and free, hidden >= 1 and max batch >= 1");
    }
    *out = bb;
    return LEVI_OK;
}

void levi_backbone_free(levi_backbone *bb) {
    if (!bb) return;
    if (bb->ops && bb->ops->free) bb->ops->free(bb->self);
    free(bb);
}

levi_status levi_backbone_from_config(levi_backbone **out, levi_ctx *ctx, const char *kind, const char *config_text,
                                      const char *where, int max_batch, int mode, int lora_rank) {
    *out = NULL;
    for (size_t i = 0; i < sizeof k_kinds / sizeof k_kinds[0]; i++)
        if (kind && !strcmp(kind, k_kinds[i].kind))
            return k_kinds[i].from_config(out, ctx, config_text, where, max_batch, mode, lora_rank);
    return levi_error(LEVI_ERR_UNSUPPORTED, "%s: backbone kind '%s' is not known (expected vit or bert)", where,
                      kind ? kind : "(null)");
}

const char *levi_backbone_config_key(const char *kind) {
    for (size_t i = 0; i < sizeof k_kinds / sizeof k_kinds[0]; i++)
        if (kind && !strcmp(kind, k_kinds[i].kind)) return k_kinds[i].config_key;
    return NULL;
}

void *backbone_self(levi_backbone *bb, const levi_backbone_ops *ops) {
    return bb && bb->ops == ops ? bb->self : NULL;
}

const char *levi_backbone_kind(const levi_backbone *bb) { return bb->ops->kind; }
const levi_backbone_desc *levi_backbone_get_desc(const levi_backbone *bb) { return &bb->desc; }
levi_ctx *levi_backbone_ctx(const levi_backbone *bb) { return bb->ctx; }
int levi_backbone_train_mode(const levi_backbone *bb) { return bb->desc.mode; }
int levi_backbone_max_batch(const levi_backbone *bb) { return bb->desc.max_batch; }
int levi_backbone_hidden(const levi_backbone *bb) { return bb->desc.hidden; }
int levi_backbone_depth(const levi_backbone *bb) { return bb->desc.depth; }

levi_status levi_backbone_forward(levi_backbone *bb, const levi_input *in, int B) {
    if (B < 1 || B > bb->desc.max_batch)
        return levi_error(LEVI_ERR_INVALID_ARG, "%s backbone: batch %d is not in 1..%d", bb->ops->kind, B,
                          bb->desc.max_batch);
    if (bb->desc.input.kind == LEVI_INPUT_TOKENS && !in->mask.buf)
        return levi_error(LEVI_ERR_INVALID_ARG, "%s backbone: token input without an attention mask", bb->ops->kind);
    return bb->ops->forward(bb->self, in, B);
}

levi_tensor levi_backbone_tap(levi_backbone *bb, int l, int B) { return bb->ops->tap(bb->self, l, B); }

levi_status levi_backbone_backward(levi_backbone *bb, const levi_tensor *const *dtaps, const int *taps, int ntaps,
                                   int B) {
    if (bb->desc.mode == LEVI_BACKBONE_FROZEN || !bb->ops->backward)
        return levi_error(LEVI_ERR_INVALID_ARG, "%s backbone: backward of a frozen backbone", bb->ops->kind);
    return bb->ops->backward(bb->self, dtaps, taps, ntaps, B);
}

levi_status levi_backbone_zero_grad(levi_backbone *bb) {
    if (bb->desc.mode == LEVI_BACKBONE_FROZEN || !bb->ops->zero_grad) return LEVI_OK;
    return bb->ops->zero_grad(bb->self);
}

int levi_backbone_trainable(levi_backbone *bb, levi_tensor *params, levi_tensor *grads, levi_tensor *adam_m,
                            levi_tensor *adam_v) {
    if (bb->desc.mode == LEVI_BACKBONE_FROZEN || !bb->ops->trainable) return 0;
    return bb->ops->trainable(bb->self, params, grads, adam_m, adam_v);
}

levi_status levi_backbone_write_weights(const levi_backbone *bb, struct levi_st_writer *w, const char *prefix) {
    if (!bb->ops->write_weights)
        return levi_error(LEVI_ERR_UNSUPPORTED, "%s backbone: cannot write its weights", bb->ops->kind);
    return bb->ops->write_weights(bb->self, w, prefix);
}

levi_status levi_backbone_read_weights(levi_backbone *bb, const struct levi_safetensors *st, const char *prefix) {
    if (!bb->ops->read_weights)
        return levi_error(LEVI_ERR_UNSUPPORTED, "%s backbone: cannot read weights", bb->ops->kind);
    return bb->ops->read_weights(bb->self, st, prefix);
}

char *levi_backbone_config_text(const levi_backbone *bb) {
    return bb->ops->config_text ? bb->ops->config_text(bb->self) : NULL;
}

size_t levi_backbone_num_params(const levi_backbone *bb, size_t *adapter_params) {
    if (adapter_params) *adapter_params = 0;
    return bb->ops->num_params ? bb->ops->num_params(bb->self, adapter_params) : 0;
}
