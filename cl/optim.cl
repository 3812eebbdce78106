/* Optimizer and gradient-norm kernels over one flat parameter buffer. */

/* AdamW, decoupled weight decay: params, grads, m, v (n).
 * bc1 = 1 - beta1^t, bc2 = 1 - beta2^t (computed on the host in double). */
__kernel void adamw_update(__global float *params, const ulong p_off, __global const float *grads,
                           const ulong g_off, __global float *m, const ulong m_off, __global float *v,
                           const ulong v_off, const ulong n, const float lr, const float beta1, const float beta2,
                           const float eps, const float weight_decay, const float bc1, const float bc2) {
    const size_t i = get_global_id(0);
    if (i >= n) return;
    const float g = grads[g_off + i];
    const float mi = beta1 * m[m_off + i] + (1.0f - beta1) * g;
    const float vi = beta2 * v[v_off + i] + (1.0f - beta2) * g * g;
    m[m_off + i] = mi;
    v[v_off + i] = vi;
    const float p = params[p_off + i];
    params[p_off + i] = p - lr * ((mi / bc1) / (sqrt(vi / bc2) + eps) + weight_decay * p);
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
 * work-item each, with 16-wide vector loads and accumulators (a CPU runs a
 * work-group as a loop on one thread, so a tree over a large group costs
 * more than the sum). Keep equal to cl/train.cl clip_sumsq2_chunks. */
__kernel void sumsq_chunks(__global float *partials, const ulong partials_off, __global const float *x,
                           const ulong x_off, const ulong n, const int chunks) {
    const int g = get_global_id(0);
    if (g >= chunks) return;
    x += x_off;
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
    partials[partials_off + g] = acc;
}
