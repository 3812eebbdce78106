/* Internal to src/nn: the levi_model struct shared by levi_model.c (build),
 * levi_model_step.c (forward, backward, update), levi_model_stage.c (the
 * backbone stage and the feature hand-off) and levi_model_io.c (files). */
#ifndef LEVI_NN_LEVI_MODEL_INTERNAL_H
#define LEVI_NN_LEVI_MODEL_INTERNAL_H

#include <stdio.h>

#include "levi/levi_model.h"

#define MODEL_HIDDEN __attribute__((visibility("hidden")))

struct levi_model {
    levi_ctx *ctx;    /* head stage: task model, adapters, fusion, loss, optimizer */
    levi_ctx *bb_ctx; /* backbone stage (== ctx when both sit on one ctx); NULL for scratch */
    levi_model_config cfg;
    levi_input_spec input; /* the model's input view (x of every forward) */
    levi_backbone *bb;     /* NULL for scratch; owned */
    int bb_trainable;
    int apart; /* the stages are on different contexts */
    int D;     /* backbone hidden size */
    int hz;    /* task-model feature size, 0 without g */
    int max_batch;
    levi_params P;   /* task model, adapters, alpha: one arena per role */
    levi_arena acts; /* every activation and temporary of the head */
    levi_task_model g;
    int nadapt;
    levi_adapter ad[LEVI_MAX_TAPS];
    int alpha; /* parameter index, -1 for concat */
    /* activation slots */
    levi_act pix, mask, labels, feats, in_feats, dfeats, dz, logits, dlogits, probs, losses, correct;
    levi_act dcls[LEVI_MAX_TAPS];
    levi_act x[LEVI_MAX_TAPS], dx[LEVI_MAX_TAPS];
    int x_alias[LEVI_MAX_TAPS];
    levi_act logits_l[LEVI_MAX_TAPS], dlogits_l[LEVI_MAX_TAPS], probs_l[LEVI_MAX_TAPS];
    levi_act losses_l[LEVI_MAX_TAPS], correct_l[LEVI_MAX_TAPS];
    /* the backbone stage's own buffers when apart (on bb_ctx): input x and
     * mask, tap features, their gradient and its per-tap split */
    levi_arena stage;
    levi_act st_x, st_mask, st_feats, st_dfeats, st_dcls[LEVI_MAX_TAPS];
    float *host_stage;        /* host staging of a cross-context hand-off */
    size_t host_stage_floats;
    cl_event host_stage_busy; /* the last write that reads host_stage */
    /* on the head ctx: metric sets, ensemble weights, clip partials (levi_model_device.c) */
    levi_arena dev;
    size_t dev_state, dev_w, dev_partials;
    cl_mem confusion; /* (K,K) int, allocated by the first evaluation */
    /* state of the last forward, for backward */
    int last_B, have_labels;
    levi_tensor last_pixels, last_labels, last_feats;
    levi_tensor xv[LEVI_MAX_TAPS];
    char **class_names;
    int n_class_names;
    char *preprocessor; /* the data preprocessing (preprocessor_config.json text), or NULL */
    char *tokenizer;    /* token input: the tokenizer (levi_tokenizer_json text), or NULL */
};

/* levi_model_create with trainable = 0: no gradient or optimizer storage
 * for the head (inference). */
MODEL_HIDDEN levi_status model_create_mode(levi_model **out, levi_ctx *ctx, const levi_model_config *cfg,
                                           levi_backbone *backbone, int max_batch, int trainable);

/* (B, cols) view of a head activation slot / of a backbone-stage slot. */
#define VIEW(slot, B) levi_act_view(&m->acts, (slot), (B))
#define STAGE_VIEW(slot, B) levi_act_view(&m->stage, (slot), (B))

/* levi_model_stage.c: plan and commit the backbone-stage buffers (when
 * apart), and move a tensor between the stages through host memory. */
MODEL_HIDDEN levi_status model_stage_plan(levi_model *m);
MODEL_HIDDEN void model_stage_free(levi_model *m);
MODEL_HIDDEN levi_status model_stage_transfer(levi_model *m, const levi_tensor *dst, const levi_tensor *src,
                                              cl_uint n_wait, const cl_event *wait, cl_event *done);
/* levi_model_device.c */
MODEL_HIDDEN levi_status model_device_plan(levi_model *m);
MODEL_HIDDEN void model_device_free(levi_model *m);
MODEL_HIDDEN levi_tensor model_ensemble_w(const levi_model *m);
MODEL_HIDDEN levi_status model_ensemble_weights(levi_model *m);
MODEL_HIDDEN levi_status model_ensemble_combine(levi_model *m, int B);
/* dalpha from dlogits; with split, also dlogits_l = w_l dlogits for every member */
MODEL_HIDDEN levi_status model_ensemble_backward(levi_model *m, int B, int split);
MODEL_HIDDEN levi_status model_step_device(levi_model *m, const levi_grad_group *g, int ng, const levi_adamw_cfg *cfg,
                                           int t, float grad_clip);

/* Tap features (B, F) into feats on the head ctx for the input in (head ctx). */
MODEL_HIDDEN levi_status model_features_input(levi_model *m, const levi_input *in, const levi_tensor *feats, int B);
/* Backward of the backbone from dfe (B, F) on the head ctx. */
MODEL_HIDDEN levi_status model_backbone_backward(levi_model *m, const levi_tensor *dfe, int B);

#endif
