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

/* Fused multi-head attention for short sequences (T <= VIT_ATT_MAX_T, the ViT
 * regime: T = 1 + patches), one work item per (b, h, query t): scores,
 * softmax and the weighted sum of values without head-major copies.
 * q, k, v, out (B,T,C), C = NH*hs; att (B,NH,T,T) softmax probabilities. n = B*NH*T. */
#ifndef VIT_ATT_MAX_T
#define VIT_ATT_MAX_T 64
#endif
__kernel void vit_attention_forward(__global float *out, const ulong out_off, __global float *att, const ulong att_off,
                                    __global const float *q, const ulong q_off, __global const float *k,
                                    const ulong k_off, __global const float *v, const ulong v_off, const int T,
                                    const int C, const int NH, const ulong n) {
    const size_t i = get_global_id(0);
    if (i >= n) return;
    const int hs = C / NH, t = (int)(i % T), h = (int)((i / T) % NH);
    const size_t b = i / ((size_t)T * NH);
    const float scale = 1.0f / sqrt((float)hs);
    __global const float *qr = q + q_off + (b * T + t) * C + h * hs;
    __global const float *kb = k + k_off + b * T * C + h * hs;
    __global const float *vb = v + v_off + b * T * C + h * hs;
    float p[VIT_ATT_MAX_T];
    float mx = -INFINITY;
    for (int s = 0; s < T; s++) {
        float acc = 0.0f;
        for (int d = 0; d < hs; d++) acc += qr[d] * kb[(size_t)s * C + d];
        p[s] = acc * scale;
        mx = fmax(mx, p[s]);
    }
    float sum = 0.0f;
    for (int s = 0; s < T; s++) {
        p[s] = exp(p[s] - mx);
        sum += p[s];
    }
    const float inv = 1.0f / sum;
    __global float *ar = att + att_off + i * T;
    for (int s = 0; s < T; s++) {
        p[s] *= inv;
        ar[s] = p[s];
    }
    __global float *o = out + out_off + (b * T + t) * C + h * hs;
    for (int d = 0; d < hs; d++) {
        float acc = 0.0f;
        for (int s = 0; s < T; s++) acc += p[s] * vb[(size_t)s * C + d];
        o[d] = acc;
    }
}

/* Backward, per (b, h, query t): dS (B,NH,T,T) = att ⊙ (datt − Σ_s att·datt),
 * datt = dctx·vᵀ; dq (B,T,C) += scale · dS·k. n = B*NH*T. */
__kernel void vit_attention_backward_rows(__global float *dq, const ulong dq_off, __global float *dS,
                                          const ulong dS_off, __global const float *dctx, const ulong dctx_off,
                                          __global const float *k, const ulong k_off, __global const float *v,
                                          const ulong v_off, __global const float *att, const ulong att_off,
                                          const int T, const int C, const int NH, const ulong n) {
    const size_t i = get_global_id(0);
    if (i >= n) return;
    const int hs = C / NH, t = (int)(i % T), h = (int)((i / T) % NH);
    const size_t b = i / ((size_t)T * NH);
    const float scale = 1.0f / sqrt((float)hs);
    __global const float *dr = dctx + dctx_off + (b * T + t) * C + h * hs;
    __global const float *kb = k + k_off + b * T * C + h * hs;
    __global const float *vb = v + v_off + b * T * C + h * hs;
    __global const float *ar = att + att_off + i * T;
    float g[VIT_ATT_MAX_T];
    float dot = 0.0f;
    for (int s = 0; s < T; s++) {
        float acc = 0.0f;
        for (int d = 0; d < hs; d++) acc += dr[d] * vb[(size_t)s * C + d];
        g[s] = acc;
        dot += acc * ar[s];
    }
    __global float *sr = dS + dS_off + i * T;
    for (int s = 0; s < T; s++) {
        g[s] = ar[s] * (g[s] - dot);
        sr[s] = g[s];
    }
    __global float *o = dq + dq_off + (b * T + t) * C + h * hs;
    for (int d = 0; d < hs; d++) {
        float acc = 0.0f;
        for (int s = 0; s < T; s++) acc += g[s] * kb[(size_t)s * C + d];
        o[d] += scale * acc;
    }
}

/* Backward, per (b, h, key s): dk (B,T,C) += scale · dSᵀ·q, dv (B,T,C) += attᵀ·dctx. n = B*NH*T. */
__kernel void vit_attention_backward_cols(__global float *dk, const ulong dk_off, __global float *dv,
                                          const ulong dv_off, __global const float *dS, const ulong dS_off,
                                          __global const float *att, const ulong att_off, __global const float *q,
                                          const ulong q_off, __global const float *dctx, const ulong dctx_off,
                                          const int T, const int C, const int NH, const ulong n) {
    const size_t i = get_global_id(0);
    if (i >= n) return;
    const int hs = C / NH, s = (int)(i % T), h = (int)((i / T) % NH);
    const size_t b = i / ((size_t)T * NH), bh = i / T;
    const float scale = 1.0f / sqrt((float)hs);
    __global const float *qb = q + q_off + b * T * C + h * hs;
    __global const float *db = dctx + dctx_off + b * T * C + h * hs;
    __global const float *sc = dS + dS_off + bh * T * T + s; /* column s, stride T */
    __global const float *ac = att + att_off + bh * T * T + s;
    __global float *ok = dk + dk_off + (b * T + s) * C + h * hs;
    __global float *ov = dv + dv_off + (b * T + s) * C + h * hs;
    for (int d = 0; d < hs; d++) {
        float gk = 0.0f, gv = 0.0f;
        for (int t = 0; t < T; t++) {
            gk += sc[(size_t)t * T] * qb[(size_t)t * C + d];
            gv += ac[(size_t)t * T] * db[(size_t)t * C + d];
        }
        ok[d] += scale * gk;
        ov[d] += gv;
    }
}
