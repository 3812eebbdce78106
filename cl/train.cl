/* The training engine's own kernels: AdamW and the gradient norm over one
 * flat buffer (src/ops/optim.c), metrics that stay on the device, the
 * global-norm clip and AdamW over the trainable groups in one launch each,
 * LEVI's ensemble weights and their gradient, and row gathers for inputs and
 * features that live on the device.
 *
 * state (floats, one block per metric set: STATE_SET floats of sums, then a
 * ring of (mean loss, correct) per step) is read by the host once per read
 * interval; step numbers are stored as int bits. */

#ifdef cl_khr_fp64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
typedef double acc_t;
#else
typedef float acc_t;
#endif

/* keep equal to src/nn/levi_model_device.c */
#define S_LOSS 0          /* Σ per-sample loss (Kahan sum) */
#define S_LOSS_C 1        /* its compensation */
#define S_CORRECT 2       /* Σ correct */
#define S_N 3             /* samples */
#define S_LAST_LOSS 4     /* mean loss of the last batch */
#define S_LAST_CORRECT 5  /* correct of the last batch */
#define S_BAD_LOSS_STEP 6 /* int bits: first step with a non-finite loss (0: none) */
#define S_BAD_LOSS 7
#define S_BAD_GRAD_STEP 8 /* int bits: first step with a non-finite gradient norm (0: none) */
#define S_BAD_GRAD_NORM 9
#define S_BAD_GRAD_LOSS 10
#define S_CLIP_SCALE 11   /* gradient scale of the last step; NaN: the update is skipped */
#define S_NORM 12         /* gradient norm of the last step */
#define STATE_SET 16      /* floats of sums; the ring follows */

/* state += the batch's losses (B) + aux_w · Σ_a aux (naux rows of B at
 * aux_stride) and correct (B); the batch's mean loss and correct count also
 * go to slot step % ring of the ring. One work-group; its size a power of two. */
__kernel void metrics_accumulate(__global float *state, const ulong state_off, __global const float *losses,
                                 const ulong losses_off, __global const float *correct, const ulong correct_off,
                                 __global const float *aux, const ulong aux_off, const ulong aux_stride,
                                 const int naux, const float aux_w, const int B, const int step,
                                 const int ring, __local float *sl, __local float *sc) {
    const int lid = get_local_id(0), wg = get_local_size(0);
    float l = 0.0f, c = 0.0f;
    for (int b = lid; b < B; b += wg) {
        float aux_sum = 0.0f;
        for (int a = 0; a < naux; a++) aux_sum += aux[aux_off + (ulong)a * aux_stride + b];
        l += losses[losses_off + b] + aux_w * aux_sum;
        c += correct[correct_off + b];
    }
    sl[lid] = l;
    sc[lid] = c;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int off = wg / 2; off > 0; off >>= 1) {
        if (lid < off) {
            sl[lid] += sl[lid + off];
            sc[lid] += sc[lid + off];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid) return;
    __global float *s = state + state_off;
    const float mean = sl[0] / (float)B;
    if (!isfinite(mean) && as_int(s[S_BAD_LOSS_STEP]) == 0) {
        s[S_BAD_LOSS_STEP] = as_float(step);
        s[S_BAD_LOSS] = mean;
    }
    const float y = sl[0] - s[S_LOSS_C], t = s[S_LOSS] + y;
    s[S_LOSS_C] = (t - s[S_LOSS]) - y;
    s[S_LOSS] = t;
    s[S_CORRECT] += sc[0];
    s[S_N] += (float)B;
    s[S_LAST_LOSS] = mean;
    s[S_LAST_CORRECT] = sc[0];
    __global float *r = s + STATE_SET + 2 * (step % ring);
    r[0] = mean;
    r[1] = sc[0];
}

/* AdamW, decoupled weight decay, on item i of params, m, v with gradient g;
 * bc1 = 1 - beta1^t, bc2 = 1 - beta2^t (computed on the host in double). */
static void adamw_item(__global float *params, __global float *m, __global float *v, const size_t i, const float g,
                       const float lr, const float beta1, const float beta2, const float eps,
                       const float weight_decay, const float bc1, const float bc2) {
    const float mi = beta1 * m[i] + (1.0f - beta1) * g;
    const float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    const float p = params[i];
    params[i] = p - lr * ((mi / bc1) / (sqrt(vi / bc2) + eps) + weight_decay * p);
}

/* Σ x² over chunk g of chunks contiguous chunks of x (n), with 16-wide vector
 * loads and accumulators (a CPU runs a work-group as a loop on one thread, so
 * a tree over a large group costs more than the sum). */
static float sumsq_chunk(__global const float *x, const size_t n, const int chunks, const int g) {
    const size_t len = ((n + chunks - 1) / chunks + 15) / 16 * 16;
    const size_t start = (size_t)g * len, end = start + len < n ? start + len : n;
    float16 acc16 = (float16)(0.0f);
    size_t i = start;
    for (; i + 16 <= end; i += 16) {
        const float16 v = vload16(0, x + i);
        acc16 += v * v;
    }
    const float8 a8 = acc16.lo + acc16.hi;
    const float4 a4 = a8.lo + a8.hi;
    float acc = (a4.x + a4.y) + (a4.z + a4.w);
    for (; i < end; i++) acc += x[i] * x[i];
    return acc;
}

/* AdamW over params, grads, m, v (n). */
__kernel void adamw_update(__global float *params, const ulong p_off, __global const float *grads,
                           const ulong g_off, __global float *m, const ulong m_off, __global float *v,
                           const ulong v_off, const ulong n, const float lr, const float beta1, const float beta2,
                           const float eps, const float weight_decay, const float bc1, const float bc2) {
    const size_t i = get_global_id(0);
    if (i >= n) return;
    adamw_item(params + p_off, m + m_off, v + v_off, i, grads[g_off + i], lr, beta1, beta2, eps, weight_decay, bc1,
               bc2);
}

/* partials (num_groups) = per-group sums of x^2 over x (n), grid-stride loop;
 * the host adds the partials in double. Group size: a power of two. */
__kernel void sumsq_partials(__global float *partials, const ulong partials_off, __global const float *x,
                             const ulong x_off, const ulong n, __local float *s) {
    const int lid = get_local_id(0);
    float acc = 0.0f;
    for (size_t i = get_global_id(0); i < n; i += get_global_size(0)) {
        const float g = x[x_off + i];
        acc += g * g;
    }
    s[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int off = get_local_size(0) / 2; off > 0; off >>= 1) {
        if (lid < off) s[lid] += s[lid + off];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) partials[partials_off + get_group_id(0)] = s[0];
}

/* CPU devices: partials (chunks) = Σ x² over contiguous chunks of x (n), one
 * work-item each (sumsq_chunk). */
__kernel void sumsq_chunks(__global float *partials, const ulong partials_off, __global const float *x,
                           const ulong x_off, const ulong n, const int chunks) {
    const int g = get_global_id(0);
    if (g >= chunks) return;
    partials[partials_off + g] = sumsq_chunk(x + x_off, n, chunks, g);
}

/* partials (groups1 + groups2) = per-group Σ x² over x1 (n1), then x2 (n2):
 * group g < groups1 strides over x1 as sumsq_partials would with groups1
 * groups, the others over x2. Group size: a power of two. */
__kernel void clip_sumsq2(__global float *partials, const ulong partials_off, __global const float *x1,
                          const ulong x1_off, const ulong n1, const int groups1, __global const float *x2,
                          const ulong x2_off, const ulong n2, __local float *s) {
    const int lid = get_local_id(0), wg = get_local_size(0);
    const int g = get_group_id(0), second = g >= groups1;
    const int gi = second ? g - groups1 : g;
    const size_t ng = second ? get_num_groups(0) - groups1 : groups1;
    __global const float *x = second ? x2 + x2_off : x1 + x1_off;
    const ulong n = second ? n2 : n1;
    float acc = 0.0f;
    for (size_t i = (size_t)gi * wg + lid; i < n; i += ng * wg) {
        const float v = x[i];
        acc += v * v;
    }
    s[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int off = wg / 2; off > 0; off >>= 1) {
        if (lid < off) s[lid] += s[lid + off];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) partials[partials_off + g] = s[0];
}

/* CPU devices: as clip_sumsq2, one work-item per partial over a contiguous
 * chunk of x1 (chunks1 of them) or x2 (the others), each partial as
 * sumsq_chunks computes it. */
__kernel void clip_sumsq2_chunks(__global float *partials, const ulong partials_off, __global const float *x1,
                                 const ulong x1_off, const ulong n1, const int chunks1, __global const float *x2,
                                 const ulong x2_off, const ulong n2, const int chunks2) {
    const int g = get_global_id(0);
    if (g >= chunks1 + chunks2) return;
    const int second = g >= chunks1;
    partials[partials_off + g] = second ? sumsq_chunk(x2 + x2_off, n2, chunks2, g - chunks1)
                                        : sumsq_chunk(x1 + x1_off, n1, chunks1, g);
}

/* One work-item: norm = sqrt(|g1|² + |g2|²) from the partials (each group's
 * norm rounded to float first, as the host did); the clip scale
 * min(1, max_norm / norm) (max_norm > 0), or NaN when the norm is not finite
 * (the update is skipped and the step recorded). */
__kernel void clip_finish(__global float *state, const ulong state_off, __global const float *partials,
                          const ulong partials_off, const int groups1, const int groups2, const float max_norm,
                          const int step) {
    if (get_global_id(0) != 0) return;
    __global float *s = state + state_off;
    __global const float *p = partials + partials_off;
    acc_t s1 = 0, s2 = 0;
    for (int i = 0; i < groups1; i++) s1 += p[i];
    for (int i = 0; i < groups2; i++) s2 += p[groups1 + i];
    const float n1 = (float)sqrt(s1), n2 = (float)sqrt(s2);
    const acc_t norm = sqrt((acc_t)n1 * n1 + (acc_t)n2 * n2);
    s[S_NORM] = (float)norm;
    if (!isfinite(norm)) {
        s[S_CLIP_SCALE] = NAN;
        if (as_int(s[S_BAD_GRAD_STEP]) == 0) {
            s[S_BAD_GRAD_STEP] = as_float(step);
            s[S_BAD_GRAD_NORM] = (float)norm;
            s[S_BAD_GRAD_LOSS] = s[S_LAST_LOSS];
        }
    } else if (max_norm > 0 && norm > max_norm) {
        s[S_CLIP_SCALE] = (float)((acc_t)max_norm / norm);
    } else {
        s[S_CLIP_SCALE] = 1.0f;
    }
}

/* The parameters of adamw_update2 and adamw_update2_x16, and their first
 * lines: the clip scale (NaN: no update), the group of this work-item's
 * work-group (the same for all of it), that group's buffers and size n, and
 * i, the first of the PER items of this work-item within the group. */
#define ADAMW2_PARAMS                                                                                              \
    __global float *p1, const ulong p1_off, __global float *g1, const ulong g1_off, __global float *m1,              \
        const ulong m1_off, __global float *v1, const ulong v1_off, const ulong n1, __global float *p2,              \
        const ulong p2_off, __global float *g2, const ulong g2_off, __global float *m2, const ulong m2_off,          \
        __global float *v2, const ulong v2_off, const ulong n2, const ulong start2, const float lr,                  \
        const float beta1, const float beta2, const float eps, const float weight_decay, const float bc1,           \
        const float bc2, __global const float *state, const ulong state_off
#define ADAMW2_PROLOGUE(PER)                                                                                       \
    const float scale = state[state_off + S_CLIP_SCALE];                                                            \
    if (isnan(scale)) return;                                                                                       \
    const int second = get_group_id(0) >= start2 / get_local_size(0);                                               \
    size_t i = (PER) * (second ? get_global_id(0) - start2 : get_global_id(0));                                     \
    const size_t n = second ? n2 : n1;                                                                              \
    if (i >= n) return;                                                                                             \
    __global float *params = second ? p2 + p2_off : p1 + p1_off, *grads = second ? g2 + g2_off : g1 + g1_off;       \
    __global float *m = second ? m2 + m2_off : m1 + m1_off, *v = second ? v2 + v2_off : v1 + v1_off

/* AdamW (as adamw_update) over two groups in one launch: items [0, n1) of
 * group 1, then group 2 from item start2 (n1 rounded up to a multiple of the
 * work-group size, so that every work-group works on one group and the branch
 * is uniform), with the gradients scaled by the clip scale in state (written
 * back, as clipping in place would); a NaN scale skips the update. */
__kernel void adamw_update2(ADAMW2_PARAMS) {
    ADAMW2_PROLOGUE(1);
    float g = grads[i];
    if (scale != 1.0f) {
        g = scale * g;
        grads[i] = g;
    }
    adamw_item(params, m, v, i, g, lr, beta1, beta2, eps, weight_decay, bc1, bc2);
}

/* CPU devices: as adamw_update2 with 16 consecutive items a work-item, as
 * vectors (item w of a group covers its items 16w..16w+15; start2 counts
 * work-items). The same operations on every item, so the same results; on
 * PoCL 1.6x as fast as one item a work-item (its vectorizer leaves the
 * divisions and square roots narrower). */
__kernel void adamw_update2_x16(ADAMW2_PARAMS) {
    ADAMW2_PROLOGUE(16);
    if (i + 16 <= n) {
        float16 g = vload16(0, grads + i);
        if (scale != 1.0f) {
            g = scale * g;
            vstore16(g, 0, grads + i);
        }
        const float16 mi = beta1 * vload16(0, m + i) + (1.0f - beta1) * g;
        const float16 vi = beta2 * vload16(0, v + i) + (1.0f - beta2) * g * g;
        vstore16(mi, 0, m + i);
        vstore16(vi, 0, v + i);
        const float16 p = vload16(0, params + i);
        vstore16(p - lr * ((mi / bc1) / (sqrt(vi / bc2) + eps) + weight_decay * p), 0, params + i);
        return;
    }
    for (; i < n; i++) {
        float g = grads[i];
        if (scale != 1.0f) {
            g = scale * g;
            grads[i] = g;
        }
        adamw_item(params, m, v, i, g, lr, beta1, beta2, eps, weight_decay, bc1, bc2);
    }
}

/* w (k) = softmax(alpha (k)); one work-item. */
__kernel void ensemble_weights(__global float *w, const ulong w_off, __global const float *alpha,
                               const ulong alpha_off, const int k) {
    if (get_global_id(0) != 0) return;
    acc_t mx = alpha[alpha_off], s = 0;
    for (int i = 1; i < k; i++) mx = alpha[alpha_off + i] > mx ? alpha[alpha_off + i] : mx;
    for (int i = 0; i < k; i++) s += exp((acc_t)alpha[alpha_off + i] - mx);
    for (int i = 0; i < k; i++) w[w_off + i] = (float)(exp((acc_t)alpha[alpha_off + i] - mx) / s);
}

/* logits (n) = Σ_l w_l · ll_l (n), ll_l at ll_off + l·stride. */
__kernel void ensemble_combine(__global float *logits, const ulong logits_off, __global const float *ll,
                               const ulong ll_off, const ulong stride, __global const float *w, const ulong w_off,
                               const int k, const ulong n) {
    const size_t i = get_global_id(0);
    if (i >= n) return;
    float acc = 0.0f;
    for (int l = 0; l < k; l++) acc += w[w_off + l] * ll[ll_off + (ulong)l * stride + i];
    logits[logits_off + i] = acc;
}

/* dl_l (n) = w_l · dlogits (n) for every l (dl_l at dl_off + l·stride); n·k items. */
__kernel void ensemble_dsplit(__global float *dl, const ulong dl_off, const ulong stride, __global const float *w,
                              const ulong w_off, __global const float *dlogits, const ulong dlogits_off, const int k,
                              const ulong n) {
    const size_t i = get_global_id(0);
    if (i >= n * (ulong)k) return;
    const size_t l = i / n, j = i % n;
    dl[dl_off + l * stride + j] = w[w_off + l] * dlogits[dlogits_off + j];
}

/* dalpha_j += w_j (g_j − Σ_l w_l g_l), g_l = <dlogits, ll_l> over n values.
 * One work-group (size a power of two); k ≤ 16. */
__kernel void ensemble_alpha_backward(__global float *dalpha, const ulong dalpha_off, __global const float *w,
                                      const ulong w_off, __global const float *dlogits, const ulong dlogits_off,
                                      __global const float *ll, const ulong ll_off, const ulong stride, const int k,
                                      const ulong n, __local float *s) {
    __local float g[16];
    const int lid = get_local_id(0), wg = get_local_size(0);
    for (int l = 0; l < k; l++) {
        float acc = 0.0f;
        for (size_t j = lid; j < n; j += wg) acc += dlogits[dlogits_off + j] * ll[ll_off + (ulong)l * stride + j];
        s[lid] = acc;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int off = wg / 2; off > 0; off >>= 1) {
            if (lid < off) s[lid] += s[lid + off];
            barrier(CLK_LOCAL_MEM_FENCE);
        }
        if (lid == 0) g[l] = s[0];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid) return;
    float mean = 0.0f;
    for (int l = 0; l < k; l++) mean += w[w_off + l] * g[l];
    for (int l = 0; l < k; l++) dalpha[dalpha_off + l] += w[w_off + l] * (g[l] - mean);
}

/* dst (B, row) = src[idx[b], :] for b < B. Range (row, B) (rounded up). */
__kernel void gather_rows(__global float *dst, const ulong dst_off, __global const float *src, const ulong src_off,
                          __global const int *idx, const ulong idx_off, const ulong row, const int B) {
    const size_t j = get_global_id(0), b = get_global_id(1);
    if (j >= row || b >= (size_t)B) return;
    dst[dst_off + b * row + j] = src[src_off + (ulong)idx[idx_off + b] * row + j];
}

/* The same for rows of a multiple of 4 floats, 4 floats a work-item (on PoCL
 * twice as fast as one: fewer work-items, vector loads). Range (row/4, B). */
__kernel void gather_rows4(__global float *dst, const ulong dst_off, __global const float *src, const ulong src_off,
                           __global const int *idx, const ulong idx_off, const ulong row, const int B) {
    const size_t j = get_global_id(0), b = get_global_id(1);
    if (j >= row / 4 || b >= (size_t)B) return;
    vstore4(vload4(j, src + src_off + (ulong)idx[idx_off + b] * row), j, dst + dst_off + b * row);
}

/* conf (K,K) int: += 1 at (label, argmax of the row's logits, first maximum)
 * for each of B rows; one work-item per row. */
__kernel void confusion_accumulate(__global int *conf, __global const float *logits, const ulong logits_off,
                                   __global const float *labels, const ulong labels_off, const int K, const int B) {
    const int b = get_global_id(0);
    if (b >= B) return;
    __global const float *x = logits + logits_off + (ulong)b * K;
    int pred = 0;
    for (int k = 1; k < K; k++)
        if (x[k] > x[pred]) pred = k;
    const int y = (int)labels[labels_off + b];
    if (y >= 0 && y < K) atomic_inc(&conf[y * K + pred]);
}
