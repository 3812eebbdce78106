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
