/* ViT embedding kernels. The patch embedding (a Conv2d with stride = kernel =
 * patch) is patchify + a linear layer whose weight is the Conv2d weight
 * (D, C, P, P) seen as (D, C*P*P): patch rows use the same (c, ky, kx) order. */

/* pixels (B,C,H,W) → patches (B*NP, C*P*P), NP = (H/P)*(W/P) in row-major
 * (py, px) order as HF's flatten(2).transpose(1,2). n = B*NP*C*P*P. */
__kernel void vit_patchify(__global float *patches, const ulong patches_off, __global const float *pixels,
                           const ulong pixels_off, const int C, const int H, const int W, const int P,
                           const ulong n) {
    const size_t i = get_global_id(0);
    if (i >= n) return;
    const int GW = W / P, NP = (H / P) * GW, CPP = C * P * P;
    const size_t row = i / CPP;
    const int col = (int)(i % CPP);
    const int b = (int)(row / NP), p = (int)(row % NP);
    const int c = col / (P * P), ky = (col / P) % P, kx = col % P;
    const int y = (p / GW) * P + ky, x = (p % GW) * P + kx;
    patches[patches_off + i] = pixels[pixels_off + (((size_t)b * C + c) * H + y) * W + x];
}

/* h (B,T,D) = [cls (D); pemb (B*NP, D) rows of image b] + pos (T,D), T = NP+1. n = B*T*D. */
__kernel void vit_embed_forward(__global float *h, const ulong h_off, __global const float *cls,
                                const ulong cls_off, __global const float *pos, const ulong pos_off,
                                __global const float *pemb, const ulong pemb_off, const int T, const int D,
                                const ulong n) {
    const size_t i = get_global_id(0);
    if (i >= n) return;
    const int d = (int)(i % D);
    const size_t bt = i / D;
    const int t = (int)(bt % T);
    const size_t b = bt / T;
    const float e = t == 0 ? cls[cls_off + d] : pemb[pemb_off + (b * (T - 1) + (t - 1)) * D + d];
    h[h_off + i] = e + pos[pos_off + (size_t)t * D + d];
}

/* dpos (T,D) += Σ_b dh[b]; dcls (D) += Σ_b dh[b,0]. n = T*D. */
__kernel void vit_embed_backward_pos(__global float *dcls, const ulong dcls_off, __global float *dpos,
                                     const ulong dpos_off, __global const float *dh, const ulong dh_off,
                                     const int B, const int T, const int D, const ulong n) {
    const size_t i = get_global_id(0);
    if (i >= n) return;
    float s = 0.0f;
    for (int b = 0; b < B; b++) s += dh[dh_off + (size_t)b * T * D + i];
    dpos[dpos_off + i] += s;
    if (i < (size_t)D) dcls[dcls_off + i] += s;
}

/* dpemb (B*NP, D) = dh[:, 1:, :] of (B,T,D). n = B*(T-1)*D. */
__kernel void vit_embed_backward_patches(__global float *dpemb, const ulong dpemb_off, __global const float *dh,
                                         const ulong dh_off, const int T, const int D, const ulong n) {
    const size_t i = get_global_id(0);
    if (i >= n) return;
    const size_t TD1 = (size_t)(T - 1) * D;
    const size_t b = i / TD1, r = i % TD1;
    dpemb[dpemb_off + i] = dh[dh_off + b * T * D + D + r];
}
