/* Adapting layers A: Linear → GELU → Linear, or one Linear. */
#include <stdio.h>

#include "levi/nn.h"

levi_status levi_adapter_plan(levi_adapter *a, const char *name, int linear, int in, int hidden, int out,
                              levi_params *p, levi_arena *acts, int max_batch) {
    char n[96];
    a->linear = linear;
    a->in = in;
    a->hidden = linear ? 0 : hidden;
    a->out = out;
    if (in < 1 || out < 1 || (!linear && hidden < 1))
        return levi_error(LEVI_ERR_INVALID_ARG, "adapter %s: sizes in %d, hidden %d, out %d must be positive", name,
                          in, hidden, out);
    snprintf(n, sizeof n, "%s.fc1", name);
    if (levi_linear_plan(&a->fc1, p, n, in, linear ? out : hidden))
        return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory planning adapter %s", name);
    if (linear) return LEVI_OK;
    snprintf(n, sizeof n, "%s.fc2", name);
    if (levi_linear_plan(&a->fc2, p, n, hidden, out))
        return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory planning adapter %s", name);
    a->h = levi_act_plan(acts, max_batch, hidden);
    a->g = levi_act_plan(acts, max_batch, hidden);
    a->dh = levi_act_plan(acts, max_batch, hidden);
    a->dg = levi_act_plan(acts, max_batch, hidden);
    return LEVI_OK;
}

// x (B,in) → h = fc1(x) (B,hid), g = gelu(h), logits = fc2(g) (B,out)
levi_status levi_adapter_forward(levi_adapter *a, const levi_params *p, const levi_arena *acts,
                                 const levi_tensor *logits, const levi_tensor *x, int B) {
    if (a->linear) return levi_linear_apply(&a->fc1, p, logits, x, B);
    levi_tensor h = levi_act_view(acts, a->h, B), g = levi_act_view(acts, a->g, B);
    LEVI_TRY(levi_linear_apply_act(&a->fc1, p, &g, &h, x, LEVI_ACTIVATION_GELU, B));
    return levi_linear_apply(&a->fc2, p, logits, &g, B);
}

// dlogits (B,out) → dx (B,in) += (may be NULL), parameter grads +=
levi_status levi_adapter_backward(levi_adapter *a, const levi_params *p, const levi_arena *acts,
                                  const levi_tensor *dx, const levi_tensor *dlogits, const levi_tensor *x, int B) {
    return levi_adapter_backward_acc(a, p, acts, dx, dlogits, x, B, 1);
}

// dg and dh written, not accumulated: no zeroing commands
levi_status levi_adapter_backward_acc(levi_adapter *a, const levi_params *p, const levi_arena *acts,
                                      const levi_tensor *dx, const levi_tensor *dlogits, const levi_tensor *x, int B,
                                      int dx_accumulate) {
    return levi_adapter_backward_cols(a, p, acts, dx, 0, dlogits, x, B, dx_accumulate);
}

levi_status levi_adapter_backward_cols(levi_adapter *a, const levi_params *p, const levi_arena *acts,
                                       const levi_tensor *dx, int dx_col, const levi_tensor *dlogits,
                                       const levi_tensor *x, int B, int dx_accumulate) {
    const int cols = a->in - dx_col;
    if (a->linear)
        return levi_linear_apply_backward_cols(&a->fc1, p, dx, dx_col, cols, dlogits, x, B, dx_accumulate);
    levi_tensor h = levi_act_view(acts, a->h, B), g = levi_act_view(acts, a->g, B);
    levi_tensor dh = levi_act_view(acts, a->dh, B), dg = levi_act_view(acts, a->dg, B);
    LEVI_TRY(levi_linear_apply_backward_acc(&a->fc2, p, &dg, dlogits, &g, B, 0));
    LEVI_TRY(levi_gelu_backward_acc(p->ctx, &dh, &h, &dg, (size_t)B * a->hidden, 0));
    return levi_linear_apply_backward_cols(&a->fc1, p, dx, dx_col, cols, &dh, x, B, dx_accumulate);
}
