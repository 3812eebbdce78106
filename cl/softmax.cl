/* Row softmax (numerically stable), forward and backward. One work-group per
 * row; the group size is a power of two chosen by the host. In-place use
 * (out == inp, dinp == dout) is safe: every item writes only elements it
 * read itself, after the row's reductions. */

static float group_max(__local float *s, float v) {
    const int lid = get_local_id(0);
    s[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int off = get_local_size(0) / 2; off > 0; off >>= 1) {
        if (lid < off) s[lid] = fmax(s[lid], s[lid + off]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float r = s[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

static float group_sum(__local float *s, float v) {
    const int lid = get_local_id(0);
    s[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int off = get_local_size(0) / 2; off > 0; off >>= 1) {
        if (lid < off) s[lid] += s[lid + off];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float r = s[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

/* out (rows, cols) = softmax(inp) per row */
__kernel void softmax_forward(__global float *out, const ulong out_off, __global const float *inp,
                              const ulong inp_off, const int cols, __local float *s) {
    const size_t row = get_group_id(0);
    const int lid = get_local_id(0), wg = get_local_size(0);
    __global const float *x = inp + inp_off + row * (size_t)cols;
    float mx = -INFINITY;
    for (int j = lid; j < cols; j += wg) mx = fmax(mx, x[j]);
    mx = group_max(s, mx);
    float acc = 0.0f;
    for (int j = lid; j < cols; j += wg) acc += exp(x[j] - mx);
    const float inv = 1.0f / group_sum(s, acc);
    __global float *o = out + out_off + row * (size_t)cols;
    for (int j = lid; j < cols; j += wg) o[j] = exp(x[j] - mx) * inv;
}

/* dinp (rows, cols) (+)= out * (dout - sum_j dout*out) per row */
__kernel void softmax_backward(__global float *dinp, const ulong dinp_off, __global const float *out,
                               const ulong out_off, __global const float *dout, const ulong dout_off,
                               const int cols, const int accumulate, __local float *s) {
    const size_t row = get_group_id(0);
    const int lid = get_local_id(0), wg = get_local_size(0);
    __global const float *y = out + out_off + row * (size_t)cols;
    __global const float *dy = dout + dout_off + row * (size_t)cols;
    float acc = 0.0f;
    for (int j = lid; j < cols; j += wg) acc += dy[j] * y[j];
    const float dot = group_sum(s, acc);
    __global float *dx = dinp + dinp_off + row * (size_t)cols;
    for (int j = lid; j < cols; j += wg) {
        const float g = y[j] * (dy[j] - dot);
        if (accumulate)
            dx[j] += g;
        else
            dx[j] = g;
    }
}

/* One work-item per row (CPU devices, and rows shorter than a work-group,
 * e.g. attention over T=17 tokens): no item idles and no barrier is needed;
 * eight lanes at a time. Same results and in-place rules. */

static float hmax8(float8 a) { return fmax(fmax(fmax(a.s0, a.s1), fmax(a.s2, a.s3)), fmax(fmax(a.s4, a.s5), fmax(a.s6, a.s7))); }
static float hsum8(float8 a) { return ((a.s0 + a.s1) + (a.s2 + a.s3)) + ((a.s4 + a.s5) + (a.s6 + a.s7)); }

/* out (rows, cols) = softmax(inp) per row */
__kernel void softmax_forward_rowwise(__global float *out, const ulong out_off, __global const float *inp,
                                      const ulong inp_off, const int cols, const int rows) {
    const size_t row = get_global_id(0);
    if (row >= (size_t)rows) return;
    __global const float *x = inp + inp_off + row * (size_t)cols;
    __global float *o = out + out_off + row * (size_t)cols;
    float8 m8 = -INFINITY;
    int j = 0;
    for (; j + 8 <= cols; j += 8) m8 = fmax(m8, vload8(0, x + j));
    float mx = hmax8(m8);
    for (; j < cols; j++) mx = fmax(mx, x[j]);
    float8 s8 = 0.0f;
    for (j = 0; j + 8 <= cols; j += 8) {
        const float8 e = exp(vload8(0, x + j) - mx);
        vstore8(e, 0, o + j);
        s8 += e;
    }
    float s = hsum8(s8);
    for (; j < cols; j++) {
        const float e = exp(x[j] - mx);
        o[j] = e;
        s += e;
    }
    const float inv = 1.0f / s;
    for (j = 0; j < cols; j++) o[j] *= inv;
}

/* dinp (rows, cols) (+)= out * (dout - sum_j dout*out) per row */
__kernel void softmax_backward_rowwise(__global float *dinp, const ulong dinp_off, __global const float *out,
                                       const ulong out_off, __global const float *dout, const ulong dout_off,
                                       const int cols, const int accumulate, const int rows) {
    const size_t row = get_global_id(0);
    if (row >= (size_t)rows) return;
    __global const float *y = out + out_off + row * (size_t)cols;
    __global const float *dy = dout + dout_off + row * (size_t)cols;
    __global float *dx = dinp + dinp_off + row * (size_t)cols;
    float8 d8 = 0.0f;
    int j = 0;
    for (; j + 8 <= cols; j += 8) d8 += vload8(0, dy + j) * vload8(0, y + j);
    float dot = hsum8(d8);
    for (; j < cols; j++) dot += dy[j] * y[j];
    for (j = 0; j < cols; j++) {
        const float g = y[j] * (dy[j] - dot);
        dx[j] = accumulate ? dx[j] + g : g;
    }
}
