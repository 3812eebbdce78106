/* Internal to src/nn: the table of backbone architectures (backbone.c) and
 * the constructors it points to (backbone_vit.c, ...). */
#ifndef LEVI_NN_BACKBONE_INTERNAL_H
#define LEVI_NN_BACKBONE_INTERNAL_H

#include "levi/backbone.h"

#define BACKBONE_HIDDEN __attribute__((visibility("hidden")))

typedef levi_status (*backbone_from_config_fn)(levi_backbone **out, levi_ctx *ctx, const char *config_text,
                                               const char *where, int max_batch, int mode, int lora_rank);

/* The implementation object of bb when its ops table is `ops`, else NULL. */
BACKBONE_HIDDEN void *backbone_self(levi_backbone *bb, const levi_backbone_ops *ops);

BACKBONE_HIDDEN levi_status backbone_vit_from_config(levi_backbone **out, levi_ctx *ctx, const char *config_text,
                                                     const char *where, int max_batch, int mode, int lora_rank);

BACKBONE_HIDDEN levi_status backbone_bert_from_config(levi_backbone **out, levi_ctx *ctx, const char *config_text,
                                                      const char *where, int max_batch, int mode, int lora_rank);

#endif
