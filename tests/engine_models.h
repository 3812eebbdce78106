/* The engine suites' tiny models and data: a ViT of depth 2 on 8x8 images
 * of 1 channel, 3 classes, batches of B; for text a BERT of depth 2 on
 * SEQ tokens of a vocabulary of VOCAB_TEXT ids, the ngram task model. */
#ifndef LEVI_TEST_ENGINE_MODELS_H
#define LEVI_TEST_ENGINE_MODELS_H

#include "levi/levi.h"
#include "testutil.h"

enum { B = 6, IMG = 8, K = 3, SEQ = 10, VOCAB_TEXT = 50 };

/* The suite's context (test_engine.c's main opens it). */
extern levi_ctx *g_ctx;

void tiny_vit(levi_vit_config *c);
/* A model of `method` on head ctx `hc` with its ViT backbone on `bc`. */
levi_model *tiny_model(levi_ctx *hc, levi_ctx *bc, levi_method method, levi_fusion fusion);
/* A batch of B random images and labels. */
void batch(float *x, float *y, unsigned seed);
/* Every trainable value (parameters of every group) on the host (malloc'ed). */
float *params_of(levi_model *m, size_t *n);
/* A synthetic data set of n images of the tiny model's size (free with synthetic_free). */
levi_dataset synthetic(int n);
/* The text model of `method` (tiny BERT on `bc`, ngram task model) and n
 * texts of SEQ token ids (free with synthetic_free). */
levi_model *tiny_text_model(levi_ctx *hc, levi_ctx *bc, levi_method method, levi_fusion fusion);
levi_dataset synthetic_text(int n);
void synthetic_free(levi_dataset *ds);

/* test_engine_steps.c: steps and training runs that never wait. */
void engine_steps_tests(TCase *tc);

#endif
