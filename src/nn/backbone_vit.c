/* The ViT behind the backbone interface: a thin wrapper over the public
 * levi_vit API (taps are levi_vit_cls: CLS pooling). */
#include <stdlib.h>

#include "backbone_internal.h"

static levi_status vit_forward(void *self, const levi_input *in, int B) { return levi_vit_forward(self, &in->x, B); }
static levi_tensor vit_tap(void *self, int l, int B) { return levi_vit_cls(self, l, B); }
static levi_status vit_backward(void *self, const levi_tensor *const *dtaps, const int *taps, int ntaps, int B) {
    return levi_vit_backward(self, dtaps, taps, ntaps, B);
}
static levi_status vit_zero_grad(void *self) { return levi_vit_zero_grad(self); }
static int vit_trainable(void *self, levi_tensor *p, levi_tensor *g, levi_tensor *m, levi_tensor *v) {
    return levi_vit_trainable(self, p, g, m, v);
}
static levi_status vit_write(const void *self, struct levi_st_writer *w, const char *prefix) {
    return levi_vit_write_weights(self, w, prefix);
}
static levi_status vit_read(void *self, const struct levi_safetensors *st, const char *prefix) {
    return levi_vit_read_weights(self, st, prefix);
}
static char *vit_config_text(const void *self) { return levi_vit_config_json(levi_vit_get_config(self)); }
static size_t vit_num_params(const void *self, size_t *lora) { return levi_vit_num_params(self, lora); }
static void vit_free(void *self) { levi_vit_free(self); }

static const levi_backbone_ops k_vit_ops = {
    .kind = "vit",
    .config_key = "vit_config",
    .forward = vit_forward,
    .tap = vit_tap,
    .backward = vit_backward,
    .zero_grad = vit_zero_grad,
    .trainable = vit_trainable,
    .write_weights = vit_write,
    .read_weights = vit_read,
    .config_text = vit_config_text,
    .num_params = vit_num_params,
    .free = vit_free,
};

levi_status levi_backbone_from_vit(levi_backbone **out, levi_ctx *ctx, levi_vit *vit) {
    *out = NULL;
    if (!vit || !ctx) {
        levi_vit_free(vit);
        return levi_error(LEVI_ERR_INVALID_ARG, "levi_backbone_from_vit: no ViT or no ctx");
    }
    const levi_vit_config *c = levi_vit_get_config(vit);
    levi_backbone_desc d = {0};
    d.hidden = c->hidden_size;
    d.depth = c->num_hidden_layers;
    d.mode = levi_vit_train_mode(vit);
    d.max_batch = levi_vit_max_batch(vit);
    d.input.kind = LEVI_INPUT_PIXELS;
    d.input.channels = c->num_channels;
    d.input.height = d.input.width = c->image_size;
    d.input.mean = c->image_mean;
    d.input.std = c->image_std;
    return levi_backbone_create(out, ctx, &k_vit_ops, vit, &d);
}

levi_vit *levi_backbone_vit(levi_backbone *bb) { return backbone_self(bb, &k_vit_ops); }

levi_status backbone_vit_from_config(levi_backbone **out, levi_ctx *ctx, const char *config_text, const char *where,
                                     int max_batch, int mode, int lora_rank) {
    *out = NULL;
    levi_vit_config vc;
    LEVI_TRY(levi_vit_config_parse(&vc, config_text, where));
    levi_vit *v;
    LEVI_TRY(levi_vit_create(&v, ctx, &vc, max_batch, mode, lora_rank));
    return levi_backbone_from_vit(out, ctx, v);
}
