/* levi/ops.h — forward and backward launches on device tensors.
 *
 * Conventions (llm.c): arguments are ctx, outputs, saved statistics, inputs,
 * weights, sizes. Gradients carry a d prefix; every *_backward ACCUMULATES
 * into its outputs (+=), zeroing gradients is its own step
 * (levi_tensor_zero). A NULL gradient output means "not needed" (frozen
 * weights, or an input that is data). Every op is enqueued on ctx->queue and
 * returns without waiting, unless it returns host values.
 * All tensors are float32, row-major, contiguous from their offset. */
#ifndef LEVI_OPS_H
#define LEVI_OPS_H

#include "levi/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- GEMM (CLBlast) -------------------------------------------------------- */

/* C (M,N) = alpha * op(A) op(B) + beta * C, row-major. op(A) is (M,K):
 * A is (M,K) or, with trans_a, (K,M); likewise B is (K,N) or (N,K).
 * Uses ctx's pre-allocated temporary buffer (grown once, never per call). */
levi_status levi_gemm(levi_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha,
                      const levi_tensor *A, const levi_tensor *B, float beta, const levi_tensor *C);

/* The same on operands with leading dimensions lda, ldb, ldc (floats between
 * rows as stored; at least the stored row's length): e.g. a block of columns. */
levi_status levi_gemm_ld(levi_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha,
                         const levi_tensor *A, size_t lda, const levi_tensor *B, size_t ldb, float beta,
                         const levi_tensor *C, size_t ldc);

/* Two independent GEMMs (neither reads what the other writes), e.g. a layer's
 * input and weight gradients: in this order, or at once. On the OpenBLAS path
 * one command, whose two products run side by side on one thread each when
 * both are small. A leading dimension of 0 means packed. */
typedef struct levi_gemm_op {
    int trans_a, trans_b, M, N, K;
    float alpha, beta;
    const levi_tensor *A, *B, *C;
    size_t lda, ldb, ldc;
} levi_gemm_op;
levi_status levi_gemm2(levi_ctx *ctx, const levi_gemm_op *a, const levi_gemm_op *b);

/* batch independent GEMMs; matrix i starts at offset + i*stride in each tensor. */
levi_status levi_gemm_batched(levi_ctx *ctx, int trans_a, int trans_b, int M, int N, int K, float alpha,
                              const levi_tensor *A, size_t stride_a, const levi_tensor *B, size_t stride_b,
                              float beta, const levi_tensor *C, size_t stride_c, int batch);

/* --- linear ----------------------------------------------------------------- */

/* out (N,OC) = inp (N,C) · w (OC,C)ᵀ + b (OC); b may be NULL. */
levi_status levi_linear_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *inp,
                                const levi_tensor *w, const levi_tensor *b, int N, int C, int OC);
/* dinp (N,C) += dout·w; dw (OC,C) += doutᵀ·inp; db (OC) += Σ_rows dout. Any of
 * dinp, dw, db may be NULL. */
levi_status levi_linear_backward(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *dw,
                                 const levi_tensor *db, const levi_tensor *dout, const levi_tensor *inp,
                                 const levi_tensor *w, int N, int C, int OC);
/* The same with dinp_accumulate = 0: dinp = dout · w, no zeroed dinp needed
 * (dw and db still accumulate). */
levi_status levi_linear_backward_acc(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *dw,
                                     const levi_tensor *db, const levi_tensor *dout, const levi_tensor *inp,
                                     const levi_tensor *w, int N, int C, int OC, int dinp_accumulate);
/* The same with the input gradient of columns [col0, col0 + cols) of inp only:
 * dinp (N, cols) = dout · w[:, col0 : col0 + cols] (+= with dinp_accumulate);
 * the other columns' gradient is not computed (their input needs none). */
levi_status levi_linear_backward_cols(levi_ctx *ctx, const levi_tensor *dinp, int col0, int cols,
                                      const levi_tensor *dw, const levi_tensor *db, const levi_tensor *dout,
                                      const levi_tensor *inp, const levi_tensor *w, int N, int C, int OC,
                                      int dinp_accumulate);

/* Activations of the fused linear epilogue. */
typedef enum levi_activation { LEVI_ACTIVATION_NONE = 0, LEVI_ACTIVATION_RELU = 1, LEVI_ACTIVATION_GELU = 2 } levi_activation;

/* Linear with its elementwise tail fused into one kernel after the GEMM:
 * y = inp (N,C) · w (OC,C)ᵀ + b (OC) + res (N,OC); pre (N,OC) = y, kept as the
 * activation's input for backward; out (N,OC) = act(y). b, res and pre may be
 * NULL. Backward: levi_relu_backward / levi_gelu_backward on pre, then
 * levi_linear_backward (res's gradient is dout itself). */
levi_status levi_linear_act_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *pre,
                                    const levi_tensor *inp, const levi_tensor *w, const levi_tensor *b,
                                    const levi_tensor *res, levi_activation act, int N, int C, int OC);

/* --- elementwise ------------------------------------------------------------ */

/* GELU, exact erf form (Hugging Face "gelu"): out = x/2 (1 + erf(x/√2)). n elements. */
levi_status levi_gelu_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *inp, size_t n);
levi_status levi_gelu_backward(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *inp,
                               const levi_tensor *dout, size_t n);
levi_status levi_relu_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *inp, size_t n);
levi_status levi_relu_backward(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *inp,
                               const levi_tensor *dout, size_t n);
/* The backward ops above with accumulate = 0: dinp = 0 + f'(inp)·dout, bit for
 * bit what += into a zeroed dinp gives, without a zeroing command first. */
levi_status levi_gelu_backward_acc(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *inp,
                                   const levi_tensor *dout, size_t n, int accumulate);
levi_status levi_relu_backward_acc(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *inp,
                                   const levi_tensor *dout, size_t n, int accumulate);
/* out = a + b (residual). Its backward is two levi_accumulate calls. */
levi_status levi_add_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *a, const levi_tensor *b,
                             size_t n);
/* out = s * inp. Its backward is levi_axpy(dinp, s, dout). */
levi_status levi_scale_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *inp, float s, size_t n);
/* dst += src */
levi_status levi_accumulate(levi_ctx *ctx, const levi_tensor *dst, const levi_tensor *src, size_t n);
/* dst += alpha * src */
levi_status levi_axpy(levi_ctx *ctx, const levi_tensor *dst, float alpha, const levi_tensor *src, size_t n);
/* out (rows, cols) += bias (cols) broadcast over rows */
levi_status levi_add_bias(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *bias, int rows, int cols);

/* Column blocks: dst[r, dst_col + j] (=|+=) src[r, src_col + j] for r < rows, j < cols;
 * row strides dst_ld and src_ld. Concatenation along the feature axis is one
 * call per input (accumulate = 0); its backward (split) is one call per input
 * with roles swapped and accumulate = 1. */
levi_status levi_copy_cols(levi_ctx *ctx, const levi_tensor *dst, int dst_ld, int dst_col, const levi_tensor *src,
                           int src_ld, int src_col, int rows, int cols, int accumulate);

/* --- token reductions -------------------------------------------------------- */

/* out (B,C) = mean over T of inp (B,T,C); backward: dinp (B,T,C) += dout/T. */
levi_status levi_mean_tokens_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *inp, int B, int T,
                                     int C);
levi_status levi_mean_tokens_backward(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *dout, int B,
                                      int T, int C);
/* out (B,C) = inp[:, token, :] of (B,T,C) (CLS = token 0); backward adds back. */
levi_status levi_take_token_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *inp, int token,
                                    int B, int T, int C);
levi_status levi_take_token_backward(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *dout, int token,
                                     int B, int T, int C);

/* Masked mean over tokens (BERT's mean pooling): out (B,C) = Σ_t mask[b,t]
 * inp[b,t] / Σ_t mask[b,t] (0 when a row's mask is empty); backward: dinp
 * (B,T,C) += mask[b,t] dout[b] / Σ_t mask[b,t]. mask (B,T) holds 1/0. */
levi_status levi_masked_mean_tokens_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *inp,
                                            const levi_tensor *mask, int B, int T, int C);
levi_status levi_masked_mean_tokens_backward(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *dout,
                                             const levi_tensor *mask, int B, int T, int C);

/* --- token-id embeddings ------------------------------------------------------------ */

/* out (B,T,D) = table[ids[b,t]] (V,D) + pos[t] (T,D) + add (D); pos and add
 * may be NULL. ids (B,T) are exact integers stored as floats; an id outside
 * [0,V) looks up zeros. BERT's word + position + token-type embeddings. */
levi_status levi_embedding_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *ids,
                                   const levi_tensor *table, const levi_tensor *pos, const levi_tensor *add, int B,
                                   int T, int D, int V);
/* dtable (V,D) += dout rows scattered by id (deterministic: one work item
 * per column walks the rows in order, no atomics); dpos (T,D) += Σ_b dout[b];
 * dadd (D) += Σ_{b,t} dout[b,t]. Any of the three may be NULL. */
levi_status levi_embedding_backward(levi_ctx *ctx, const levi_tensor *dtable, const levi_tensor *dpos,
                                    const levi_tensor *dadd, const levi_tensor *dout, const levi_tensor *ids, int B,
                                    int T, int D, int V);

/* Hashed n-grams for a bag of n-grams: hid, hmask (B, 2T) from token ids and
 * mask (B, T): column t < T the unigram ids[b,t], column T + t the bigram
 * (ids[b,t], ids[b,t+1]), each hashed into [0, N) (levi_ngram_hash_host is
 * the same function); positions outside the mask get id -1 (which
 * levi_embedding_* skip) and mask 0. */
levi_status levi_ngram_hash(levi_ctx *ctx, const levi_tensor *hid, const levi_tensor *hmask, const levi_tensor *ids,
                            const levi_tensor *mask, int B, int T, int N);
/* The hash of one unigram (b < 0) or bigram (a, b) into [0, N), on the host. */
int levi_ngram_hash_host(int a, int b, int N);

/* --- vision-transformer embeddings ----------------------------------------------- */

/* pixels (B,C,H,W) → patches (B*NP, C*P*P), NP = (H/P)*(W/P) patches per image
 * in row-major order, each patch in (c, ky, kx) order: a Conv2d with stride =
 * kernel = P is this followed by a linear layer with its weight (D,C,P,P)
 * seen as (D, C*P*P). H and W are multiples of P. */
levi_status levi_patchify(levi_ctx *ctx, const levi_tensor *patches, const levi_tensor *pixels, int B, int C, int H,
                          int W, int P);
/* h (B,T,D) = [cls (D); tokens (B,T-1,D)] + pos (T,D): the CLS token before
 * each image's T-1 patch tokens, plus position embeddings. */
levi_status levi_embed_tokens_forward(levi_ctx *ctx, const levi_tensor *h, const levi_tensor *cls,
                                      const levi_tensor *pos, const levi_tensor *tokens, int B, int T, int D);
/* dcls (D) += Σ_b dh[b,0]; dpos (T,D) += Σ_b dh[b]; dtokens (B,T-1,D) = dh[:,1:]
 * (overwritten, not accumulated). Any of the three may be NULL. */
levi_status levi_embed_tokens_backward(levi_ctx *ctx, const levi_tensor *dcls, const levi_tensor *dpos,
                                       const levi_tensor *dtokens, const levi_tensor *dh, int B, int T, int D);

/* --- normalization and softmax ------------------------------------------------ */

/* LayerNorm over the last axis, biased variance: out (N,C), mean (N), rstd (N). */
levi_status levi_layernorm_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *mean,
                                   const levi_tensor *rstd, const levi_tensor *inp, const levi_tensor *w,
                                   const levi_tensor *b, int N, int C, float eps);
/* dinp, dw, db accumulate; dw/db may be NULL (frozen). */
levi_status levi_layernorm_backward(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *dw,
                                    const levi_tensor *db, const levi_tensor *dout, const levi_tensor *inp,
                                    const levi_tensor *w, const levi_tensor *mean, const levi_tensor *rstd, int N,
                                    int C);

/* Fused residual + LayerNorm: sum (N,C) = a + b + bias (C; NULL: none), then
 * out = layernorm(sum) with w, lb (C) as levi_layernorm_forward (sum is its
 * input for backward). sum may be a (in place). */
levi_status levi_residual_layernorm_forward(levi_ctx *ctx, const levi_tensor *sum, const levi_tensor *out,
                                            const levi_tensor *mean, const levi_tensor *rstd, const levi_tensor *a,
                                            const levi_tensor *b, const levi_tensor *bias, const levi_tensor *w,
                                            const levi_tensor *lb, int N, int C, float eps);

/* Row softmax, numerically stable: out (rows, cols). */
levi_status levi_softmax_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *inp, int rows, int cols);
/* dinp += out ⊙ (dout − Σ_j dout⊙out) per row. */
levi_status levi_softmax_backward(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *out,
                                  const levi_tensor *dout, int rows, int cols);

/* --- attention ------------------------------------------------------------------ */

/* Multi-head scaled-dot-product attention, tiled with an online softmax: no
 * (T,T) matrix is stored, for any sequence length.
 *   q, k, v, out (B,T,C) with C = NH*hs (hs <= 128), head h in columns
 *   [h*hs, (h+1)*hs); lse (B,NH,T) saves each query row's log-sum-exp of its
 *   scaled scores for backward.
 *   mask (B,T) may be NULL; else 1 = attend to the key, 0 = padding (a BERT
 *   attention mask). A query whose keys are all padding gets out = 0 and no
 *   gradient. */
levi_status levi_attention_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *lse,
                                   const levi_tensor *q, const levi_tensor *k, const levi_tensor *v,
                                   const levi_tensor *mask, int B, int T, int C, int NH);
/* dq, dk, dv (B,T,C) accumulate (any may be NULL); out and lse from the
 * forward; probabilities are recomputed. Uses the ctx scratch (B*NH*T floats). */
levi_status levi_attention_backward(levi_ctx *ctx, const levi_tensor *dq, const levi_tensor *dk,
                                    const levi_tensor *dv, const levi_tensor *dout, const levi_tensor *q,
                                    const levi_tensor *k, const levi_tensor *v, const levi_tensor *out,
                                    const levi_tensor *lse, const levi_tensor *mask, int B, int T, int C, int NH);

/* --- convolution and pooling (NCHW) ------------------------------------------------ */

typedef struct levi_conv_shape {
    int B, C, H, W;   /* input */
    int OC, KH, KW;   /* filters: w (OC, C, KH, KW) */
    int stride, pad;
    int OH, OW;       /* filled by levi_conv_shape_init */
} levi_conv_shape;
levi_status levi_conv_shape_init(levi_conv_shape *s);
size_t levi_conv2d_scratch_numel(const levi_conv_shape *s);
/* out (B,OC,OH,OW) = conv(inp (B,C,H,W), w) + b (OC); b may be NULL. */
levi_status levi_conv2d_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *inp,
                                const levi_tensor *w, const levi_tensor *b, const levi_tensor *scratch,
                                const levi_conv_shape *s);
/* dinp, dw, db accumulate; any may be NULL. */
levi_status levi_conv2d_backward(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *dw,
                                 const levi_tensor *db, const levi_tensor *dout, const levi_tensor *inp,
                                 const levi_tensor *w, const levi_tensor *scratch, const levi_conv_shape *s);

/* Max / average pooling, window k, stride st, no padding: inp (B,C,H,W) →
 * out (B,C,(H-k)/st+1,(W-k)/st+1). Max backward recomputes the argmax from inp
 * (first maximum wins, as PyTorch). */
levi_status levi_maxpool_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *inp, int B, int C,
                                 int H, int W, int k, int st);
levi_status levi_maxpool_backward(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *dout,
                                  const levi_tensor *inp, int B, int C, int H, int W, int k, int st);
levi_status levi_avgpool_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *inp, int B, int C,
                                 int H, int W, int k, int st);
levi_status levi_avgpool_backward(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *dout, int B, int C,
                                  int H, int W, int k, int st);
/* out (B,C) = mean over H*W of inp (B,C,H,W) — same as mean_tokens with
 * T = H*W on a (B,C,HW) layout; provided under its own name for clarity. */
levi_status levi_global_avgpool_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *inp, int B,
                                        int C, int HW);
levi_status levi_global_avgpool_backward(levi_ctx *ctx, const levi_tensor *dinp, const levi_tensor *dout, int B,
                                         int C, int HW);
/* The same forward as levi_conv2d_forward in one kernel without scratch (one
 * work item per output). Slower than im2col + GEMM on PoCL at the CNN's sizes,
 * kept for scratch-free inference and as a cross-check. */
levi_status levi_conv2d_forward_direct(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *inp,
                                       const levi_tensor *w, const levi_tensor *b, const levi_conv_shape *s);

/* --- loss ------------------------------------------------------------------------ */

/* Softmax cross-entropy with integer labels (stored as exact floats, B).
 * probs (B,K) saved for backward; losses (B) per-row loss; correct (B) 1/0
 * per row (argmax == label, first maximum wins). If host_loss / host_correct
 * are non-NULL this call waits and returns the batch mean loss and the
 * number of correct rows. A label outside [0,K) gives LEVI_ERR_INVALID_ARG
 * (checked on the host before launch when host values are requested). */
levi_status levi_crossentropy_forward(levi_ctx *ctx, const levi_tensor *probs, const levi_tensor *losses,
                                      const levi_tensor *correct, const levi_tensor *logits,
                                      const levi_tensor *labels, int B, int K, float *host_loss,
                                      int *host_correct);
/* dlogits (B,K) += scale * (probs − onehot(labels)); scale is 1/B for a mean. */
levi_status levi_crossentropy_backward(levi_ctx *ctx, const levi_tensor *dlogits, const levi_tensor *probs,
                                       const levi_tensor *labels, int B, int K, float scale);
/* accumulate = 0: dlogits = 0 + scale * (probs − onehot), no zeroed dlogits needed */
levi_status levi_crossentropy_backward_acc(levi_ctx *ctx, const levi_tensor *dlogits, const levi_tensor *probs,
                                           const levi_tensor *labels, int B, int K, float scale, int accumulate);

/* --- optimizer --------------------------------------------------------------------- */

typedef struct levi_adamw_cfg {
    float lr, beta1, beta2, eps, weight_decay;
} levi_adamw_cfg;

/* One flat AdamW step over n parameters (decoupled weight decay, bias
 * correction with step t ≥ 1): params, m, v updated in place. */
levi_status levi_adamw_update(levi_ctx *ctx, const levi_tensor *params, const levi_tensor *grads,
                              const levi_tensor *m, const levi_tensor *v, size_t n, const levi_adamw_cfg *cfg,
                              int t);
/* Global L2 norm of grads (n), returned on the host; if max_norm > 0 and the
 * norm exceeds it, grads are scaled by max_norm / norm. */
levi_status levi_grad_clip(levi_ctx *ctx, const levi_tensor *grads, size_t n, float max_norm, float *norm_out);
/* How many partial sums of squares the norm of n values takes on a CPU device
 * (contiguous chunks, one work-item each; cl/optim.cl sumsq_chunks), so that
 * a norm computed elsewhere (the training step's) adds the same partials in
 * the same order. 0 on other devices (work-group partials). */
size_t levi_sumsq_chunks(const levi_ctx *ctx, size_t n);

/* --- self-check -------------------------------------------------------------------- */

/* One kernel from cl/ and one CLBlast SGEMM on ctx, each compared with a
 * host result; a line per check goes to `report` (may be NULL). Returns
 * LEVI_ERR_CHECK_FAILED when a result differs. */
levi_status levi_self_check(levi_ctx *ctx, FILE *report);

/* --- scratch ------------------------------------------------------------------------ */

/* A device buffer of at least `bytes` owned by ctx (the GEMM temporary
 * buffer, grown once, never per call). Its contents are valid only until the
 * next op on ctx that uses scratch (any GEMM, levi_grad_clip); ops on one ctx
 * run in queue order, so an op may use it between its own launches. */
levi_status levi_ctx_scratch(levi_ctx *ctx, size_t bytes, cl_mem *out);

#ifdef __cplusplus
}
#endif
#endif
