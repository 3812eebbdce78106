/* Softmax cross-entropy with integer labels: launches of cl/loss.cl. */
#include <math.h>
#include <stdlib.h>

#include "ops_internal.h"

/* logits, probs (B,K); labels, losses, correct (B) */
levi_status levi_crossentropy_forward(levi_ctx *ctx, const levi_tensor *probs, const levi_tensor *losses,
                                      const levi_tensor *correct, const levi_tensor *logits,
                                      const levi_tensor *labels, int B, int K, float *host_loss,
                                      int *host_correct) {
    const char *op = "crossentropy_forward";
    if (B <= 0 || K <= 0) return levi_error(LEVI_ERR_INVALID_ARG, "%s: B=%d K=%d must be positive", op, B, K);
    LEVI_TRY(ops_need(op, "probs", probs, (size_t)B * K));
    LEVI_TRY(ops_need(op, "losses", losses, (size_t)B));
    LEVI_TRY(ops_need(op, "correct", correct, (size_t)B));
    LEVI_TRY(ops_need(op, "logits", logits, (size_t)B * K));
    LEVI_TRY(ops_need(op, "labels", labels, (size_t)B));
    int want_host = host_loss || host_correct;
    float *h = NULL;
    if (want_host) {
        /* read labels first: a bad label must be an error, not a NaN mean */
        h = malloc((size_t)B * 2 * sizeof(float));
        if (!h) return levi_error(LEVI_ERR_HOST_MEMORY, "%s: out of host memory for %d rows", op, B);
        levi_tensor lab = *labels;
        lab.numel = (size_t)B;
        levi_status st = levi_tensor_read(&lab, h);
        for (int i = 0; st == LEVI_OK && i < B; i++)
            if (!(h[i] >= 0.0f && h[i] < (float)K && floorf(h[i]) == h[i]))
                st = levi_error(LEVI_ERR_INVALID_ARG, "%s: label %g of row %d is not a class index in [0, %d)", op,
                                (double)h[i], i, K);
        if (st != LEVI_OK) {
            free(h);
            return st;
        }
    }
    const int rowwise = ops_use_rowwise(ctx, B, K);
    ops_kernel k = ops_kernel_get(ctx, "loss", rowwise ? "crossentropy_forward_rowwise" : "crossentropy_forward");
    ops_arg_tensor(&k, probs);
    ops_arg_tensor(&k, losses);
    ops_arg_tensor(&k, correct);
    ops_arg_tensor(&k, logits);
    ops_arg_tensor(&k, labels);
    ops_arg_int(&k, K);
    levi_status st;
    if (rowwise) {
        ops_arg_int(&k, B);
        st = ops_run_items(&k, (size_t)B);
    } else {
        size_t wg = ops_row_wg(&k, K);
        ops_arg_local(&k, wg * sizeof(float));
        ops_arg_local(&k, wg * sizeof(cl_int));
        st = ops_run_groups(&k, (size_t)B, wg);
    }
    if (st == LEVI_OK && want_host) {
        levi_tensor l = *losses, c = *correct;
        l.numel = c.numel = (size_t)B;
        st = levi_tensor_read(&l, h);
        if (st == LEVI_OK) st = levi_tensor_read(&c, h + B);
        if (st == LEVI_OK) {
            double sum = 0;
            int right = 0;
            for (int i = 0; i < B; i++) {
                sum += h[i];
                right += h[B + i] > 0.5f;
            }
            if (host_loss) *host_loss = (float)(sum / B);
            if (host_correct) *host_correct = right;
        }
    }
    free(h);
    return st;
}

/* dlogits (B,K) += scale * (probs − onehot(labels)) */
levi_status levi_crossentropy_backward(levi_ctx *ctx, const levi_tensor *dlogits, const levi_tensor *probs,
                                       const levi_tensor *labels, int B, int K, float scale) {
    return levi_crossentropy_backward_acc(ctx, dlogits, probs, labels, B, K, scale, 1);
}

levi_status levi_crossentropy_backward_acc(levi_ctx *ctx, const levi_tensor *dlogits, const levi_tensor *probs,
                                           const levi_tensor *labels, int B, int K, float scale, int accumulate) {
    const char *op = "crossentropy_backward";
    if (!dlogits) return LEVI_OK;
    if (B <= 0 || K <= 0) return levi_error(LEVI_ERR_INVALID_ARG, "%s: B=%d K=%d must be positive", op, B, K);
    LEVI_TRY(ops_need(op, "dlogits", dlogits, (size_t)B * K));
    LEVI_TRY(ops_need(op, "probs", probs, (size_t)B * K));
    LEVI_TRY(ops_need(op, "labels", labels, (size_t)B));
    ops_kernel k = ops_kernel_get(ctx, "loss", "crossentropy_backward");
    ops_arg_tensor(&k, dlogits);
    ops_arg_tensor(&k, probs);
    ops_arg_tensor(&k, labels);
    ops_arg_int(&k, K);
    ops_arg_float(&k, scale);
    ops_arg_int(&k, accumulate != 0);
    return ops_run_grid(&k, (size_t)K, (size_t)B, 1);
}
