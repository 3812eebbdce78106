/* Internals of the ViT backbone shared by vit.c, vit_backward.c and vit_io.c
 * (its blocks are encoder_stack.c's, pre-LN). */
#ifndef LEVI_NN_VIT_INTERNAL_H
#define LEVI_NN_VIT_INTERNAL_H

#include "encoder_stack.h"
#include "levi/ops.h"
#include "levi/vit.h"

#define VIT_MAX_LAYERS ENC_MAX_LAYERS

/* hidden[0] = [cls; patches Wᵀ + b] + pos, hidden[1..L] the blocks' outputs,
 * hidden[L+1] the final LayerNorm's; tap l is the CLS row of hidden[l+1]. */
struct levi_vit {
    enc_stack enc;
    levi_vit_config cfg;
    int NP, CPP; /* patches per image, C*P*P */
    size_t cls, pos, patch_w, patch_b, lnf_w, lnf_b; /* parameters */
    size_t patches, pemb, lnf_mean, lnf_rstd, dpemb; /* activations */
};

#endif
