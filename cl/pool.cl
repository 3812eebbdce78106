/* Pooling over NCHW tensors: max and average with window k, stride st, no
 * padding, and the global average's backward (its forward is a row sum in
 * cl/reduce.cl). Every kernel runs over a 3-D range (columns, rows, planes
 * B*C), so no item divides to find its place.
 *
 * Backward: when windows do not overlap (st >= k) an item per window adds
 * dout into its own window (no element belongs to two windows, so no race);
 * overlapping windows use an item per input element that gathers from every
 * window containing it. */

/* out (B,C,OH,OW) = max over k×k windows of inp (B,C,H,W); range (OW, OH, B*C) */
__kernel void maxpool_forward(__global float *out, const ulong out_off, __global const float *inp,
                              const ulong inp_off, const int H, const int W, const int k, const int st,
                              const int OH, const int OW) {
    const int ow = get_global_id(0), oh = get_global_id(1);
    if (ow >= OW) return;
    const size_t bc = get_global_id(2);
    __global const float *x = inp + inp_off + bc * H * W + (size_t)(oh * st) * W + ow * st;
    float m = x[0];
    for (int dy = 0; dy < k; dy++)
        for (int dx = 0; dx < k; dx++) m = fmax(m, x[dy * W + dx]);
    out[out_off + (bc * OH + oh) * OW + ow] = m;
}

/* out (B,C,OH,OW) = mean over k×k windows of inp (B,C,H,W); range (OW, OH, B*C) */
__kernel void avgpool_forward(__global float *out, const ulong out_off, __global const float *inp,
                              const ulong inp_off, const int H, const int W, const int k, const int st,
                              const int OH, const int OW) {
    const int ow = get_global_id(0), oh = get_global_id(1);
    if (ow >= OW) return;
    const size_t bc = get_global_id(2);
    __global const float *x = inp + inp_off + bc * H * W + (size_t)(oh * st) * W + ow * st;
    float s = 0.0f;
    for (int dy = 0; dy < k; dy++)
        for (int dx = 0; dx < k; dx++) s += x[dy * W + dx];
    out[out_off + (bc * OH + oh) * OW + ow] = s / (float)(k * k);
}

/* st >= k: dinp (B,C,H,W) += dout routed to the window's first maximum (as
 * PyTorch); range (OW, OH, B*C) */
__kernel void maxpool_backward_window(__global float *dinp, const ulong dinp_off, __global const float *dout,
                                      const ulong dout_off, __global const float *inp, const ulong inp_off,
                                      const int H, const int W, const int k, const int st, const int OH,
                                      const int OW) {
    const int ow = get_global_id(0), oh = get_global_id(1);
    if (ow >= OW) return;
    const size_t bc = get_global_id(2);
    const size_t base = bc * H * W + (size_t)(oh * st) * W + ow * st;
    __global const float *x = inp + inp_off + base;
    int best = 0;
    float m = x[0];
    for (int dy = 0; dy < k; dy++)
        for (int dx = 0; dx < k; dx++)
            if (x[dy * W + dx] > m) m = x[dy * W + dx], best = dy * W + dx;
    dinp[dinp_off + base + best] += dout[dout_off + (bc * OH + oh) * OW + ow];
}

/* st >= k: dinp (B,C,H,W) += dout / k² over the window; range (OW, OH, B*C) */
__kernel void avgpool_backward_window(__global float *dinp, const ulong dinp_off, __global const float *dout,
                                      const ulong dout_off, const int H, const int W, const int k, const int st,
                                      const int OH, const int OW) {
    const int ow = get_global_id(0), oh = get_global_id(1);
    if (ow >= OW) return;
    const size_t bc = get_global_id(2);
    __global float *d = dinp + dinp_off + bc * H * W + (size_t)(oh * st) * W + ow * st;
    const float g = dout[dout_off + (bc * OH + oh) * OW + ow] / (float)(k * k);
    for (int dy = 0; dy < k; dy++)
        for (int dx = 0; dx < k; dx++) d[dy * W + dx] += g;
}

/* st < k: dinp (B,C,H,W) += dout routed to the first maximum of each window
 * that contains the element; range (W, H, B*C) */
__kernel void maxpool_backward(__global float *dinp, const ulong dinp_off, __global const float *dout,
                               const ulong dout_off, __global const float *inp, const ulong inp_off,
                               const int H, const int W, const int k, const int st, const int OH,
                               const int OW) {
    const int w = get_global_id(0), h = get_global_id(1);
    if (w >= W) return;
    const size_t bc = get_global_id(2);
    __global const float *x = inp + inp_off + bc * H * W;
    const int oh0 = h - k + 1 <= 0 ? 0 : (h - k + st) / st, oh1 = min(h / st, OH - 1);
    const int ow0 = w - k + 1 <= 0 ? 0 : (w - k + st) / st, ow1 = min(w / st, OW - 1);
    float acc = 0.0f;
    for (int oh = oh0; oh <= oh1; oh++)
        for (int ow = ow0; ow <= ow1; ow++) {
            int best = oh * st * W + ow * st;
            float m = x[best];
            for (int dy = 0; dy < k; dy++)
                for (int dx = 0; dx < k; dx++) {
                    const int j = (oh * st + dy) * W + ow * st + dx;
                    if (x[j] > m) m = x[j], best = j;
                }
            if (best == h * W + w) acc += dout[dout_off + (bc * OH + oh) * OW + ow];
        }
    dinp[dinp_off + bc * H * W + (size_t)h * W + w] += acc;
}

/* st < k: dinp (B,C,H,W) += Σ over windows containing the element of dout / k²; range (W, H, B*C) */
__kernel void avgpool_backward(__global float *dinp, const ulong dinp_off, __global const float *dout,
                               const ulong dout_off, const int H, const int W, const int k, const int st,
                               const int OH, const int OW) {
    const int w = get_global_id(0), h = get_global_id(1);
    if (w >= W) return;
    const size_t bc = get_global_id(2);
    const int oh0 = h - k + 1 <= 0 ? 0 : (h - k + st) / st, oh1 = min(h / st, OH - 1);
    const int ow0 = w - k + 1 <= 0 ? 0 : (w - k + st) / st, ow1 = min(w / st, OW - 1);
    float acc = 0.0f;
    for (int oh = oh0; oh <= oh1; oh++)
        for (int ow = ow0; ow <= ow1; ow++) acc += dout[dout_off + (bc * OH + oh) * OW + ow];
    dinp[dinp_off + bc * H * W + (size_t)h * W + w] += acc / (float)(k * k);
}

/* dinp (B*C, HW) += scale * dout (B*C) broadcast; range (HW, B*C) */
__kernel void global_avgpool_backward(__global float *dinp, const ulong dinp_off, __global const float *dout,
                                      const ulong dout_off, const int HW, const float scale) {
    const int p = get_global_id(0);
    if (p >= HW) return;
    const size_t bc = get_global_id(1);
    dinp[dinp_off + bc * HW + p] += scale * dout[dout_off + bc];
}
