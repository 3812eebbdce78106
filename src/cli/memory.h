/* The memory check of train, pretrain and bench train (levi/memplan.h): a
 * ViT-backed model's recipe, planned before anything is allocated. */
#ifndef LEVI_CLI_MEMORY_H
#define LEVI_CLI_MEMORY_H

#include "cli.h"

/* How a run builds its model: a ViT of config vc (NULL for scratch) in
 * train mode `mode` with LoRA rank `lora_rank`, under model config mc; or,
 * for texts, a BERT of config bc instead (sequences of mc.seq_len tokens). */
typedef struct cli_recipe {
    const levi_vit_config *vc;
    int mode, lora_rank;
    levi_model_config mc;
    const levi_bert_config *bc;
} cli_recipe;

/* levi_model_builder for a recipe (random weights). */
levi_status cli_build_model(void *recipe, levi_ctx *head, levi_ctx *backbone, int batch, levi_model **out);

/* Plan the run of `r` on head/backbone (+ other replica contexts, each with a
 * whole model) at *batch; *batch == 0 asks for the largest batch that fits,
 * at most max_batch, which is then written to *batch and reported on
 * stderr. cache_floats: floats of a feature cache on the head. Errors name
 * `what` (e.g. "train --method ft"). */
levi_status cli_memory_check(const cli_recipe *r, levi_ctx *head, levi_ctx *backbone, levi_ctx *const *replicas,
                             int nreplicas, int *batch, int max_batch, double cache_floats, const char *what);

/* A ViT's config.json from a Hugging Face folder (sizes only). */
levi_status cli_read_vit_config(const char *folder, levi_vit_config *vc);

/* Presets: vit-tiny (the demo's), vit-small (28x28 gray like vit-tiny, for GPUs), vit-s16, vit-b16. */
levi_status cli_vit_preset(const char *name, levi_vit_config *vc);

#endif
