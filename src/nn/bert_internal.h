/* Internals of the BERT encoder shared by bert.c, bert_backward.c, bert_io.c. */
#ifndef LEVI_NN_BERT_INTERNAL_H
#define LEVI_NN_BERT_INTERNAL_H

#include "encoder_stack.h"
#include "levi/bert.h"

#define BERT_MAX_LAYERS ENC_MAX_LAYERS

/* The blocks are the encoder stack's (post-LN); the embeddings are BERT's:
 * hidden[0] = LayerNorm(emb), emb = word[ids] + pos + type[0]. Taps are
 * hidden[0..L] pooled (CLS or mean over the mask). */
struct levi_bert {
    enc_stack enc;
    levi_bert_config cfg;
    size_t word, pos, type, lne_w, lne_b;   /* parameters */
    size_t emb, lne_mean, lne_rstd, ids;    /* activations */
};

#endif
