/* Internal to src/nn: the cnn and ngram parts of the task-model dispatch in mlp.c. */
#ifndef LEVI_NN_TASK_INTERNAL_H
#define LEVI_NN_TASK_INTERNAL_H

#include "levi/nn.h"

levi_status levi_cnn_plan(levi_task_model *g, levi_params *p, levi_arena *acts, int max_batch);
levi_status levi_cnn_forward(levi_task_model *g, const levi_params *p, const levi_arena *acts,
                             const levi_tensor *x, int B);
levi_status levi_cnn_backward(levi_task_model *g, const levi_params *p, const levi_arena *acts,
                              const levi_tensor *x, const levi_tensor *dz, int B);

levi_status levi_ngram_plan(levi_task_model *g, levi_params *p, levi_arena *acts, int max_batch);
levi_status levi_ngram_forward(levi_task_model *g, const levi_params *p, const levi_arena *acts,
                               const levi_tensor *ids, const levi_tensor *mask, int B);
levi_status levi_ngram_backward(levi_task_model *g, const levi_params *p, const levi_arena *acts,
                                const levi_tensor *dz, int B);

#endif
