/* Fused attention for short sequences (cl/vit.cl vit_attention_*): the ViT
 * regime T = 1 + patches ≤ VIT_ATT_MAX_T. One work item per (b, h, row)
 * instead of head-major copies + batched GEMMs + softmax: at vit-tiny's
 * sizes (B=64, T=17, NH=4, hs=16) the general levi_attention_* spends most of
 * its time in launches and copies. Same contract as levi_attention_*
 * (backward accumulates); tests compare the two. */
#include "vit_internal.h"

static levi_status set_tensor(cl_kernel k, cl_uint *i, const levi_tensor *t) {
    cl_ulong off = t->offset;
    LEVI_CL_CHECK(clSetKernelArg(k, (*i)++, sizeof(cl_mem), &t->buf));
    LEVI_CL_CHECK(clSetKernelArg(k, (*i)++, sizeof(cl_ulong), &off));
    return LEVI_OK;
}

static levi_status set_sizes(cl_kernel k, cl_uint *i, int T, int C, int NH, cl_ulong n) {
    cl_int t = T, c = C, nh = NH;
    LEVI_CL_CHECK(clSetKernelArg(k, (*i)++, sizeof t, &t));
    LEVI_CL_CHECK(clSetKernelArg(k, (*i)++, sizeof c, &c));
    LEVI_CL_CHECK(clSetKernelArg(k, (*i)++, sizeof nh, &nh));
    LEVI_CL_CHECK(clSetKernelArg(k, (*i)++, sizeof n, &n));
    return LEVI_OK;
}

static levi_status check(const char *what, int B, int T, int C, int NH) {
    if (B < 1 || T < 1 || T > VIT_ATT_MAX_T || NH < 1 || C % NH)
        return levi_error(LEVI_ERR_INVALID_ARG, "%s: B %d, T %d (max %d), C %d, NH %d not supported", what, B, T,
                          VIT_ATT_MAX_T, C, NH);
    return LEVI_OK;
}

// out, q, k, v (B,T,C); att (B,NH,T,T)
levi_status vit_attention_forward(levi_ctx *ctx, const levi_tensor *out, const levi_tensor *att,
                                  const levi_tensor *q, const levi_tensor *k, const levi_tensor *v, int B, int T,
                                  int C, int NH) {
    LEVI_TRY(check("vit_attention_forward", B, T, C, NH));
    cl_kernel kn;
    LEVI_TRY(levi_kernel_get(ctx, "vit", "vit_attention_forward", &kn));
    const cl_ulong n = (cl_ulong)B * (cl_ulong)NH * (cl_ulong)T;
    cl_uint i = 0;
    LEVI_TRY(set_tensor(kn, &i, out));
    LEVI_TRY(set_tensor(kn, &i, att));
    LEVI_TRY(set_tensor(kn, &i, q));
    LEVI_TRY(set_tensor(kn, &i, k));
    LEVI_TRY(set_tensor(kn, &i, v));
    LEVI_TRY(set_sizes(kn, &i, T, C, NH, n));
    return levi_launch_1d(ctx, kn, (size_t)n);
}

// dq, dk, dv, dctx, q, k, v (B,T,C) (dq, dk, dv accumulate); att, dS scratch (B,NH,T,T)
levi_status vit_attention_backward(levi_ctx *ctx, const levi_tensor *dq, const levi_tensor *dk,
                                   const levi_tensor *dv, const levi_tensor *dctx, const levi_tensor *q,
                                   const levi_tensor *k, const levi_tensor *v, const levi_tensor *att,
                                   const levi_tensor *dS, int B, int T, int C, int NH) {
    LEVI_TRY(check("vit_attention_backward", B, T, C, NH));
    const cl_ulong n = (cl_ulong)B * (cl_ulong)NH * (cl_ulong)T;
    if (dS->numel < (size_t)n * (size_t)T)
        return levi_error(LEVI_ERR_SHAPE, "vit_attention_backward: scratch holds %zu floats, needs %zu", dS->numel,
                          (size_t)n * (size_t)T);
    cl_kernel kr, kc;
    LEVI_TRY(levi_kernel_get(ctx, "vit", "vit_attention_backward_rows", &kr));
    LEVI_TRY(levi_kernel_get(ctx, "vit", "vit_attention_backward_cols", &kc));
    cl_uint i = 0;
    LEVI_TRY(set_tensor(kr, &i, dq));
    LEVI_TRY(set_tensor(kr, &i, dS));
    LEVI_TRY(set_tensor(kr, &i, dctx));
    LEVI_TRY(set_tensor(kr, &i, k));
    LEVI_TRY(set_tensor(kr, &i, v));
    LEVI_TRY(set_tensor(kr, &i, att));
    LEVI_TRY(set_sizes(kr, &i, T, C, NH, n));
    LEVI_TRY(levi_launch_1d(ctx, kr, (size_t)n));
    i = 0;
    LEVI_TRY(set_tensor(kc, &i, dk));
    LEVI_TRY(set_tensor(kc, &i, dv));
    LEVI_TRY(set_tensor(kc, &i, dS));
    LEVI_TRY(set_tensor(kc, &i, att));
    LEVI_TRY(set_tensor(kc, &i, q));
    LEVI_TRY(set_tensor(kc, &i, dctx));
    LEVI_TRY(set_sizes(kc, &i, T, C, NH, n));
    return levi_launch_1d(ctx, kc, (size_t)n);
}
