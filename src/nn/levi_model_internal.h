/* Internal to src/nn: the levi_model struct shared by levi_model.c and
 * levi_model_io.c. */
#ifndef LEVI_NN_LEVI_MODEL_INTERNAL_H
#define LEVI_NN_LEVI_MODEL_INTERNAL_H

#include <stdio.h>

#include "levi/levi_model.h"

struct levi_model {
    levi_ctx *ctx;
    levi_model_config cfg;
    levi_vit *vit; /* NULL for scratch; owned */
    int vit_trainable;
    int D;  /* backbone hidden size */
    int hz; /* task-model feature size, 0 without g */
    int max_batch;
    levi_params P;   /* task model, adapters, alpha: one arena per role */
    levi_arena acts; /* every activation and temporary of the head */
    levi_task_model g;
    int nadapt;
    levi_adapter ad[LEVI_MAX_TAPS];
    int alpha; /* parameter index, -1 for concat */
    /* activation slots */
    levi_act pix, labels, feats, in_feats, dfeats, dz, logits, dlogits, probs, losses, correct;
    levi_act dcls[LEVI_MAX_TAPS];
    levi_act x[LEVI_MAX_TAPS], dx[LEVI_MAX_TAPS];
    int x_alias[LEVI_MAX_TAPS];
    levi_act logits_l[LEVI_MAX_TAPS], dlogits_l[LEVI_MAX_TAPS], probs_l[LEVI_MAX_TAPS];
    levi_act losses_l[LEVI_MAX_TAPS], correct_l[LEVI_MAX_TAPS];
    /* state of the last forward, for backward */
    int last_B, have_labels;
    levi_tensor last_pixels, last_labels, last_feats;
    levi_tensor xv[LEVI_MAX_TAPS];
    double w[LEVI_MAX_TAPS]; /* softmax(alpha) */
    char **class_names;
    int n_class_names;
};

/* levi_model_create with trainable = 0: no gradient or optimizer storage
 * for the head (inference). */
levi_status levi_model_create_mode(levi_model **out, levi_ctx *ctx, const levi_model_config *cfg,
                                   levi_vit *backbone, int max_batch, int trainable);

#endif
