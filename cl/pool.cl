/* Pooling over NCHW tensors: max and average with window k, stride st, no
 * padding, and global average pooling. Backward kernels run one item per
 * input element and gather from every window that contains it, so windows
 * that overlap (st < k) never race. Every kernel guards i < n. */

#ifndef LEVI_WG
#define LEVI_WG 64
#endif

/* out (B,C,OH,OW) = max over k×k windows of inp (B,C,H,W); n = B*C*OH*OW */
__kernel void maxpool_forward(__global float *out, const ulong out_off, __global const float *inp,
                              const ulong inp_off, const int H, const int W, const int k, const int st,
                              const int OH, const int OW, const ulong n) {
    const size_t i = get_global_id(0);
    if (i >= n) return;
    const int ow = (int)(i % OW), oh = (int)((i / OW) % OH);
    const size_t bc = i / ((size_t)OW * OH);
    __global const float *x = inp + inp_off + bc * H * W + (size_t)(oh * st) * W + ow * st;
    float m = x[0];
    for (int dy = 0; dy < k; dy++)
        for (int dx = 0; dx < k; dx++) m = fmax(m, x[dy * W + dx]);
    out[out_off + i] = m;
}

/* dinp (B,C,H,W) += dout routed to the first maximum of each window that
 * contains the element (as PyTorch); n = B*C*H*W */
__kernel void maxpool_backward(__global float *dinp, const ulong dinp_off, __global const float *dout,
                               const ulong dout_off, __global const float *inp, const ulong inp_off,
                               const int H, const int W, const int k, const int st, const int OH,
                               const int OW, const ulong n) {
    const size_t i = get_global_id(0);
    if (i >= n) return;
    const int w = (int)(i % W), h = (int)((i / W) % H);
    const size_t bc = i / ((size_t)W * H);
    __global const float *x = inp + inp_off + bc * H * W;
    const int oh0 = h - k + 1 <= 0 ? 0 : (h - k + st) / st, oh1 = min(h / st, OH - 1);
    const int ow0 = w - k + 1 <= 0 ? 0 : (w - k + st) / st, ow1 = min(w / st, OW - 1);
    float acc = 0.0f;
    for (int oh = oh0; oh <= oh1; oh++)
        for (int ow = ow0; ow <= ow1; ow++) {
            /* the window's first maximum, in row-major order */
            int best = oh * st * W + ow * st;
            float m = x[best];
            for (int dy = 0; dy < k; dy++)
                for (int dx = 0; dx < k; dx++) {
                    const int j = (oh * st + dy) * W + ow * st + dx;
                    if (x[j] > m) m = x[j], best = j;
                }
            if (best == h * W + w) acc += dout[dout_off + (bc * OH + oh) * OW + ow];
        }
    dinp[dinp_off + i] += acc;
}

/* out (B,C,OH,OW) = mean over k×k windows of inp (B,C,H,W); n = B*C*OH*OW */
__kernel void avgpool_forward(__global float *out, const ulong out_off, __global const float *inp,
                              const ulong inp_off, const int H, const int W, const int k, const int st,
                              const int OH, const int OW, const ulong n) {
    const size_t i = get_global_id(0);
    if (i >= n) return;
    const int ow = (int)(i % OW), oh = (int)((i / OW) % OH);
    const size_t bc = i / ((size_t)OW * OH);
    __global const float *x = inp + inp_off + bc * H * W + (size_t)(oh * st) * W + ow * st;
    float s = 0.0f;
    for (int dy = 0; dy < k; dy++)
        for (int dx = 0; dx < k; dx++) s += x[dy * W + dx];
    out[out_off + i] = s / (float)(k * k);
}

/* dinp (B,C,H,W) += Σ over windows containing the element of dout / k²; n = B*C*H*W */
__kernel void avgpool_backward(__global float *dinp, const ulong dinp_off, __global const float *dout,
                               const ulong dout_off, const int H, const int W, const int k, const int st,
                               const int OH, const int OW, const ulong n) {
    const size_t i = get_global_id(0);
    if (i >= n) return;
    const int w = (int)(i % W), h = (int)((i / W) % H);
    const size_t bc = i / ((size_t)W * H);
    const int oh0 = h - k + 1 <= 0 ? 0 : (h - k + st) / st, oh1 = min(h / st, OH - 1);
    const int ow0 = w - k + 1 <= 0 ? 0 : (w - k + st) / st, ow1 = min(w / st, OW - 1);
    float acc = 0.0f;
    for (int oh = oh0; oh <= oh1; oh++)
        for (int ow = ow0; ow <= ow1; ow++) acc += dout[dout_off + (bc * OH + oh) * OW + ow];
    dinp[dinp_off + i] += acc / (float)(k * k);
}

/* out (B*C) = mean over HW of inp (B*C, HW): one work-group of LEVI_WG items
 * per row; the tree is correct for any work-group size. */
__kernel void global_avgpool_forward(__global float *out, const ulong out_off, __global const float *inp,
                                     const ulong inp_off, const int HW) {
    __local float part[LEVI_WG];
    const size_t row = get_group_id(0);
    const int lid = (int)get_local_id(0), lsz = (int)get_local_size(0);
    float acc = 0.0f;
    for (int j = lid; j < HW; j += lsz) acc += inp[inp_off + row * HW + j];
    part[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = 1; s < lsz; s <<= 1) {
        if (lid % (2 * s) == 0 && lid + s < lsz) part[lid] += part[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) out[out_off + row] = part[0] / (float)HW;
}

/* dinp (B*C, HW) += dout (B*C) / HW broadcast; n = B*C*HW */
__kernel void global_avgpool_backward(__global float *dinp, const ulong dinp_off, __global const float *dout,
                                      const ulong dout_off, const int HW, const ulong n) {
    const size_t i = get_global_id(0);
    if (i >= n) return;
    dinp[dinp_off + i] += dout[dout_off + i / HW] / (float)HW;
}
