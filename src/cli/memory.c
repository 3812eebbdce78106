/* The memory check of a run before anything is allocated (memory.h). */
#include <stdlib.h>
#include <string.h>

#include "memory.h"

levi_status cli_build_model(void *recipe, levi_ctx *head, levi_ctx *backbone, int batch, levi_model **out) {
    const cli_recipe *r = recipe;
    *out = NULL;
    levi_backbone *bb = NULL;
    if (r->vc) {
        levi_vit *v = NULL;
        LEVI_TRY(levi_vit_create(&v, backbone, r->vc, batch, r->mode, r->lora_rank));
        LEVI_TRY(levi_backbone_from_vit(&bb, backbone, v));
    } else if (r->bc) {
        levi_bert *b = NULL;
        LEVI_TRY(levi_bert_create(&b, backbone, r->bc, batch, r->mc.seq_len, r->mode, r->lora_rank));
        LEVI_TRY(levi_backbone_from_bert(&bb, backbone, b));
    }
    return levi_model_create(out, head, &r->mc, bb, batch);
}

levi_status cli_memory_check(const cli_recipe *r, levi_ctx *head, levi_ctx *backbone, levi_ctx *const *replicas,
                             int nreplicas, int *batch, int max_batch, double cache_floats, const char *what) {
    /* token ids go up with their mask */
    size_t xn = r->mc.input == LEVI_INPUT_TOKENS ? 2 * (size_t)r->mc.seq_len
                                                 : (size_t)r->mc.channels * r->mc.height * r->mc.width;
    int auto_batch = *batch == 0;
    levi_mem_plan p;
    LEVI_TRY(levi_mem_plan_run(&p, head, backbone, cli_build_model, (void *)r, auto_batch ? 1 : *batch, xn,
                               cache_floats * sizeof(float)));
    /* every other replica holds a whole model on its own device */
    levi_mem_plan rp = p;
    rp.nstages = 1;
    if (auto_batch) {
        int fit = levi_mem_plan_fit(&p, max_batch);
        for (int i = 0; i < nreplicas; i++) {
            rp.stage[0].ctx = replicas[i];
            int f = levi_mem_plan_fit(&rp, max_batch);
            if (f < fit) fit = f;
        }
        if (fit < 1) return levi_mem_plan_check(&p, what, NULL);
        LEVI_TRY(levi_mem_plan_run(&p, head, backbone, cli_build_model, (void *)r, fit, xn,
                                   cache_floats * sizeof(float)));
        *batch = fit;
        fprintf(stderr, "%s: --batch auto: %d, the largest batch that fits (at most %d)\n", what, fit, max_batch);
        levi_mem_plan_print(&p, stderr);
    }
    LEVI_TRY(levi_mem_plan_check(&p, what, NULL));
    rp = p;
    rp.nstages = 1;
    for (int i = 0; i < nreplicas; i++) {
        rp.stage[0].ctx = replicas[i];
        LEVI_TRY(levi_mem_plan_check(&rp, what, NULL));
    }
    return LEVI_OK;
}

levi_status cli_read_vit_config(const char *folder, levi_vit_config *vc) {
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", folder);
    char *text = NULL;
    size_t len = 0;
    LEVI_TRY(levi_read_file(path, &text, &len));
    levi_status st = levi_vit_config_parse(vc, text, path);
    free(text);
    return st;
}

levi_status cli_vit_preset(const char *name, levi_vit_config *vc) {
    levi_vit_config_default(vc);
    if (!name || !strcmp(name, "vit-tiny")) return LEVI_OK;
    if (!strcmp(name, "vit-small")) { /* the demo's images (28x28 gray), a larger backbone for GPUs */
        vc->hidden_size = 192;
        vc->num_hidden_layers = 6;
        vc->num_attention_heads = 3;
        vc->intermediate_size = 768;
        return LEVI_OK;
    }
    vc->image_size = 224;
    vc->patch_size = 16;
    vc->num_channels = 3;
    vc->num_hidden_layers = 12;
    if (!strcmp(name, "vit-s16")) {
        vc->hidden_size = 384;
        vc->num_attention_heads = 6;
        vc->intermediate_size = 1536;
    } else if (!strcmp(name, "vit-b16")) {
        vc->hidden_size = 768;
        vc->num_attention_heads = 12;
        vc->intermediate_size = 3072;
    } else {
        return levi_error(LEVI_ERR_INVALID_ARG, "'%s' is not vit-tiny, vit-small, vit-s16 or vit-b16", name);
    }
    vc->layer_norm_eps = 1e-12f;
    return LEVI_OK;
}
