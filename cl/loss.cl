/* Softmax cross-entropy with integer labels (stored as exact floats). One
 * work-group per row for the forward; the group size is a power of two. */

/* logits, probs (B,K), labels, losses, correct (B). loss = logsumexp - logit[label];
 * correct = (argmax == label), first maximum wins. A label outside [0,K)
 * gives a NaN loss and correct = 0 (the host checks labels when it can). */
__kernel void crossentropy_forward(__global float *probs, const ulong probs_off, __global float *losses,
                                   const ulong losses_off, __global float *correct, const ulong correct_off,
                                   __global const float *logits, const ulong logits_off,
                                   __global const float *labels, const ulong labels_off, const int K,
                                   __local float *sv, __local int *si) {
    const size_t row = get_group_id(0);
    const int lid = get_local_id(0), wg = get_local_size(0);
    __global const float *x = logits + logits_off + row * (size_t)K;
    float best = -INFINITY;
    int arg = K;
    for (int j = lid; j < K; j += wg)
        if (x[j] > best || arg == K) {
            best = x[j];
            arg = j;
        }
    sv[lid] = best;
    si[lid] = arg;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int off = wg / 2; off > 0; off >>= 1) {
        if (lid < off) {
            const float ov = sv[lid + off];
            const int oi = si[lid + off];
            if (oi < K && (si[lid] == K || ov > sv[lid] || (ov == sv[lid] && oi < si[lid]))) {
                sv[lid] = ov;
                si[lid] = oi;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float mx = sv[0];
    const int amax = si[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    float acc = 0.0f;
    for (int j = lid; j < K; j += wg) acc += exp(x[j] - mx);
    sv[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int off = wg / 2; off > 0; off >>= 1) {
        if (lid < off) sv[lid] += sv[lid + off];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float sum = sv[0];
    __global float *p = probs + probs_off + row * (size_t)K;
    for (int j = lid; j < K; j += wg) p[j] = exp(x[j] - mx) / sum;
    if (lid == 0) {
        const float lf = labels[labels_off + row];
        const int label = (int)lf;
        const int ok = lf >= 0.0f && label < K && (float)label == lf;
        losses[losses_off + row] = ok ? log(sum) + mx - x[label] : NAN;
        correct[correct_off + row] = ok && amax == label ? 1.0f : 0.0f;
    }
}

/* The same forward, an item per row (CPU devices, few classes): the first
 * maximum is the argmax, as in the group form. */
__kernel void crossentropy_forward_rowwise(__global float *probs, const ulong probs_off, __global float *losses,
                                           const ulong losses_off, __global float *correct, const ulong correct_off,
                                           __global const float *logits, const ulong logits_off,
                                           __global const float *labels, const ulong labels_off, const int K,
                                           const int B) {
    const size_t row = get_global_id(0);
    if (row >= (size_t)B) return;
    __global const float *x = logits + logits_off + row * (size_t)K;
    __global float *p = probs + probs_off + row * (size_t)K;
    /* max eight lanes at a time, then its first index; exp and sum likewise */
    float8 m8 = -INFINITY;
    int j = 0;
    for (; j + 8 <= K; j += 8) m8 = fmax(m8, vload8(0, x + j));
    float mx = fmax(fmax(fmax(m8.s0, m8.s1), fmax(m8.s2, m8.s3)), fmax(fmax(m8.s4, m8.s5), fmax(m8.s6, m8.s7)));
    for (; j < K; j++) mx = fmax(mx, x[j]);
    int amax = 0;
    while (amax < K - 1 && x[amax] != mx) amax++;
    float8 s8 = 0.0f;
    for (j = 0; j + 8 <= K; j += 8) {
        const float8 e = exp(vload8(0, x + j) - mx);
        vstore8(e, 0, p + j);
        s8 += e;
    }
    float sum = ((s8.s0 + s8.s1) + (s8.s2 + s8.s3)) + ((s8.s4 + s8.s5) + (s8.s6 + s8.s7));
    for (; j < K; j++) {
        const float e = exp(x[j] - mx);
        p[j] = e;
        sum += e;
    }
    const float inv = 1.0f / sum;
    for (j = 0; j < K; j++) p[j] *= inv;
    const float lf = labels[labels_off + row];
    const int label = (int)lf;
    const int ok = lf >= 0.0f && label < K && (float)label == lf;
    losses[losses_off + row] = ok ? log(sum) + mx - x[label] : NAN;
    correct[correct_off + row] = ok && amax == label ? 1.0f : 0.0f;
}

/* dlogits (B,K) += scale * (probs - onehot(label)); accumulate = 0: = 0 + that; range (K, B) */
__kernel void crossentropy_backward(__global float *dlogits, const ulong dlogits_off, __global const float *probs,
                                    const ulong probs_off, __global const float *labels, const ulong labels_off,
                                    const int K, const float scale, const int accumulate) {
    const int j = get_global_id(0);
    if (j >= K) return;
    const size_t row = get_global_id(1), i = row * K + j;
    const float y = labels[labels_off + row] == (float)j ? 1.0f : 0.0f;
    dlogits[dlogits_off + i] = (accumulate ? dlogits[dlogits_off + i] : 0.0f) + scale * (probs[probs_off + i] - y);
}
