/* 2-D convolution (NCHW) as im2col + GEMM, plus a direct kernel.
 *
 * The GEMM plan works on a batch-wide column matrix so that the whole batch is
 * one SGEMM: N = B*OH*OW columns, CKK = C*KH*KW rows.
 *   col  (CKK, N)   col[(c,kh,kw), (b,oh,ow)] = inp[b, c, oh*st-pad+kh, ow*st-pad+kw] (0 outside)
 *   tmp  (OC, N)    = w (OC, CKK) · col
 *   out  (B,OC,OH,OW) = tmp permuted + b (OC)
 * Every kernel takes (buffer, offset-in-floats) pairs and guards i < n. */

/* col (C*KH*KW, B*OH*OW) from inp (B,C,H,W); n = C*KH*KW*B*OH*OW */
__kernel void conv2d_im2col(__global float *col, const ulong col_off, __global const float *inp,
                            const ulong inp_off, const int B, const int C, const int H, const int W,
                            const int KH, const int KW, const int st, const int pad, const int OH,
                            const int OW, const ulong n) {
    const size_t i = get_global_id(0);
    if (i >= n) return;
    const size_t N = (size_t)B * OH * OW;
    const size_t r = i / N, j = i % N;
    const int kw = (int)(r % KW), kh = (int)((r / KW) % KH), c = (int)(r / ((size_t)KW * KH));
    const int ow = (int)(j % OW), oh = (int)((j / OW) % OH), b = (int)(j / ((size_t)OW * OH));
    const int ih = oh * st - pad + kh, iw = ow * st - pad + kw;
    float v = 0.0f;
    if (ih >= 0 && ih < H && iw >= 0 && iw < W) v = inp[inp_off + (((size_t)b * C + c) * H + ih) * W + iw];
    col[col_off + i] = v;
}

/* dinp (B,C,H,W) += col2im(dcol (C*KH*KW, B*OH*OW)); one item per input
 * element gathers every column entry it fed, so there is no write conflict.
 * n = B*C*H*W */
__kernel void conv2d_col2im(__global float *dinp, const ulong dinp_off, __global const float *dcol,
                            const ulong dcol_off, const int B, const int C, const int H, const int W,
                            const int KH, const int KW, const int st, const int pad, const int OH,
                            const int OW, const ulong n) {
    const size_t i = get_global_id(0);
    if (i >= n) return;
    const int w = (int)(i % W), h = (int)((i / W) % H), c = (int)((i / ((size_t)W * H)) % C);
    const int b = (int)(i / ((size_t)W * H * C));
    const size_t N = (size_t)B * OH * OW;
    float acc = 0.0f;
    for (int kh = 0; kh < KH; kh++) {
        const int y = h + pad - kh; /* = oh * st */
        if (y < 0 || y % st != 0 || y / st >= OH) continue;
        const int oh = y / st;
        for (int kw = 0; kw < KW; kw++) {
            const int x = w + pad - kw;
            if (x < 0 || x % st != 0 || x / st >= OW) continue;
            const int ow = x / st;
            const size_t r = ((size_t)c * KH + kh) * KW + kw;
            acc += dcol[dcol_off + r * N + ((size_t)b * OH + oh) * OW + ow];
        }
    }
    dinp[dinp_off + i] += acc;
}

/* out (B,OC,P) = tmp (OC,B,P) permuted, + bias (OC) when has_bias; n = B*OC*P */
__kernel void conv2d_unpermute(__global float *out, const ulong out_off, __global const float *tmp,
                               const ulong tmp_off, __global const float *bias, const ulong bias_off,
                               const int has_bias, const int B, const int OC, const int P, const ulong n) {
    const size_t i = get_global_id(0);
    if (i >= n) return;
    const size_t p = i % P, oc = (i / P) % OC, b = i / ((size_t)P * OC);
    float v = tmp[tmp_off + (oc * B + b) * P + p];
    if (has_bias) v += bias[bias_off + oc];
    out[out_off + i] = v;
}

/* tmp (OC,B,P) = dout (B,OC,P) permuted; n = B*OC*P */
__kernel void conv2d_permute(__global float *tmp, const ulong tmp_off, __global const float *dout,
                             const ulong dout_off, const int B, const int OC, const int P, const ulong n) {
    const size_t i = get_global_id(0);
    if (i >= n) return;
    const size_t p = i % P, b = (i / P) % B, oc = i / ((size_t)P * B);
    tmp[tmp_off + i] = dout[dout_off + (b * OC + oc) * P + p];
}

/* out (B,OC,OH,OW) = conv(inp (B,C,H,W), w (OC,C,KH,KW)) + bias (OC), one item
 * per output element; n = B*OC*OH*OW */
__kernel void conv2d_forward_direct(__global float *out, const ulong out_off, __global const float *inp,
                                    const ulong inp_off, __global const float *w, const ulong w_off,
                                    __global const float *bias, const ulong bias_off, const int has_bias,
                                    const int B, const int C, const int H, const int W, const int OC,
                                    const int KH, const int KW, const int st, const int pad, const int OH,
                                    const int OW, const ulong n) {
    const size_t i = get_global_id(0);
    if (i >= n) return;
    const int ow = (int)(i % OW), oh = (int)((i / OW) % OH), oc = (int)((i / ((size_t)OW * OH)) % OC);
    const int b = (int)(i / ((size_t)OW * OH * OC));
    float acc = has_bias ? bias[bias_off + oc] : 0.0f;
    for (int c = 0; c < C; c++) {
        const size_t ib = inp_off + ((size_t)b * C + c) * H * W;
        const size_t wb = w_off + ((size_t)oc * C + c) * KH * KW;
        for (int kh = 0; kh < KH; kh++) {
            const int ih = oh * st - pad + kh;
            if (ih < 0 || ih >= H) continue;
            for (int kw = 0; kw < KW; kw++) {
                const int iw = ow * st - pad + kw;
                if (iw < 0 || iw >= W) continue;
                acc += inp[ib + (size_t)ih * W + iw] * w[wb + kh * KW + kw];
            }
        }
    }
    out[out_off + i] = acc;
}
