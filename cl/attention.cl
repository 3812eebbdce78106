/* Multi-head scaled-dot-product attention, tiled with an online softmax
 * (flash-attention style): no T×T matrix ever reaches global memory.
 *
 *   q, k, v, out (B,T,C), C = NH*hs, head h in columns [h*hs, (h+1)*hs)
 *   lse (B,NH,T): log Σ_j exp(s_ij) of each query row, saved for backward
 *   mask (B,T) optional: 1 = attend to this key, 0 = padding (has_mask)
 *
 * Forward: a work-group holds get_local_size(0) query rows of one (b, h),
 * an item per row; key and value tiles of bk rows go through __local
 * memory; each tile rescales the running sums once.
 * Backward (from lse, no saved probabilities): attention_backward_dq
 * recomputes each row's probabilities tile by tile, writes
 * D_i = Σ dout_i·out_i and accumulates dq; attention_backward_dkv then
 * holds key rows, walks the query tiles and accumulates dk and dv. No item
 * ever writes another's output, so no atomics.
 *
 * A query whose keys are all masked gets out = 0, lse = +inf and no
 * gradient. Kernels exist for head sizes 16, 32 and 64 (compile-time loops)
 * and for any hs <= ATT_HS_MAX. */

#ifndef ATT_BK
#define ATT_BK 32 /* most rows per tile (private score arrays) */
#endif
#ifndef ATT_HS_MAX
#define ATT_HS_MAX 128
#endif

#define ATT_INLINE static inline __attribute__((always_inline))

/* a (private) · b (local) over hs, four running sums */
ATT_INLINE float dot_pl(const float *a, __local const float *b, const int hs) {
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
    int d = 0;
    for (; d + 4 <= hs; d += 4) {
        s0 += a[d] * b[d];
        s1 += a[d + 1] * b[d + 1];
        s2 += a[d + 2] * b[d + 2];
        s3 += a[d + 3] * b[d + 3];
    }
    for (; d < hs; d++) s0 += a[d] * b[d];
    return (s0 + s1) + (s2 + s3);
}

/* rows [r0, r0+n) of head h of x (B,T,C) for image b into tile (n, hs) */
ATT_INLINE void load_tile(__local float *tile, __global const float *x, const ulong x_off, const size_t b,
                          const int r0, const int n, const int T, const int C, const int h, const int hs) {
    const int lid = get_local_id(0), lsz = get_local_size(0);
    for (int e = lid; e < n * hs; e += lsz) {
        const int j = e / hs, d = e - j * hs;
        tile[e] = x[x_off + (b * T + r0 + j) * C + h * hs + d];
    }
}

ATT_INLINE int key_valid(__global const float *mask, const ulong mask_off, const int has_mask, const size_t b,
                         const int T, const int j) {
    return !has_mask || mask[mask_off + b * T + j] != 0.0f;
}

/* out, lse from q, k, v. Range (query rows rounded up, B*NH). */
ATT_INLINE void att_forward(__global float *out, const ulong out_off, __global float *lse, const ulong lse_off,
                            __global const float *q, const ulong q_off, __global const float *k, const ulong k_off,
                            __global const float *v, const ulong v_off, __global const float *mask,
                            const ulong mask_off, const int has_mask, const int T, const int C, const int NH,
                            const int bk, const float scale, __local float *ks, __local float *vs, const int hs,
                            float *qr, float *acc) {
    const int i = get_global_id(0), h = get_global_id(1) % NH;
    const size_t bh = get_global_id(1), b = bh / NH;
    const int active = i < T;
    const size_t row = (b * T + (active ? i : 0)) * C + h * hs;
    for (int d = 0; d < hs; d++) {
        qr[d] = q[q_off + row + d] * scale;
        acc[d] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    for (int kt = 0; kt < T; kt += bk) {
        const int n = min(bk, T - kt);
        barrier(CLK_LOCAL_MEM_FENCE);
        load_tile(ks, k, k_off, b, kt, n, T, C, h, hs);
        load_tile(vs, v, v_off, b, kt, n, T, C, h, hs);
        barrier(CLK_LOCAL_MEM_FENCE);
        float sc[ATT_BK];
        float tmax = -INFINITY;
        for (int j = 0; j < n; j++) {
            const float s = key_valid(mask, mask_off, has_mask, b, T, kt + j) ? dot_pl(qr, ks + j * hs, hs) : -INFINITY;
            sc[j] = s;
            tmax = fmax(tmax, s);
        }
        const float mnew = fmax(m, tmax);
        if (mnew == -INFINITY) continue; /* every key so far is masked */
        const float corr = exp(m - mnew);
        l *= corr;
        for (int d = 0; d < hs; d++) acc[d] *= corr;
        for (int j = 0; j < n; j++) {
            const float p = exp(sc[j] - mnew);
            l += p;
            for (int d = 0; d < hs; d++) acc[d] += p * vs[j * hs + d];
        }
        m = mnew;
    }
    if (!active) return;
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    for (int d = 0; d < hs; d++) out[out_off + row + d] = acc[d] * inv;
    lse[lse_off + bh * T + i] = l > 0.0f ? m + log(l) : INFINITY;
}

/* dsum (B,NH,T) = Σ dout·out per row; dq += scale Σ_j ds_ij k_j (has_dq). Range as the forward. */
ATT_INLINE void att_backward_dq(__global float *dq, const ulong dq_off, const int has_dq, __global float *dsum,
                                const ulong dsum_off, __global const float *dout, const ulong dout_off,
                                __global const float *out, const ulong out_off, __global const float *q,
                                const ulong q_off, __global const float *k, const ulong k_off,
                                __global const float *v, const ulong v_off, __global const float *lse,
                                const ulong lse_off, __global const float *mask, const ulong mask_off,
                                const int has_mask, const int T, const int C, const int NH, const int bk,
                                const float scale, __local float *ks, __local float *vs, const int hs, float *qr,
                                float *dor, float *acc) {
    const int i = get_global_id(0), h = get_global_id(1) % NH;
    const size_t bh = get_global_id(1), b = bh / NH;
    const int active = i < T;
    const size_t row = (b * T + (active ? i : 0)) * C + h * hs;
    float D = 0.0f;
    for (int d = 0; d < hs; d++) {
        qr[d] = q[q_off + row + d] * scale;
        dor[d] = dout[dout_off + row + d];
        D += dor[d] * out[out_off + row + d];
        acc[d] = 0.0f;
    }
    const float L = lse[lse_off + bh * T + (active ? i : 0)];
    if (active) dsum[dsum_off + bh * T + i] = D;
    if (!has_dq) return; /* uniform over the group */
    for (int kt = 0; kt < T; kt += bk) {
        const int n = min(bk, T - kt);
        barrier(CLK_LOCAL_MEM_FENCE);
        load_tile(ks, k, k_off, b, kt, n, T, C, h, hs);
        load_tile(vs, v, v_off, b, kt, n, T, C, h, hs);
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int j = 0; j < n; j++) {
            if (!key_valid(mask, mask_off, has_mask, b, T, kt + j)) continue;
            const float p = exp(dot_pl(qr, ks + j * hs, hs) - L);
            const float ds = p * (dot_pl(dor, vs + j * hs, hs) - D);
            for (int d = 0; d < hs; d++) acc[d] += ds * ks[j * hs + d];
        }
    }
    if (!active) return;
    for (int d = 0; d < hs; d++) dq[dq_off + row + d] += scale * acc[d];
}

/* dk += scale Σ_i ds_ij q_i, dv += Σ_i p_ij dout_i (has_dk, has_dv), an item per key row j.
 * Range (key rows rounded up, B*NH); tiles of bk query rows: qs, dos (bk, hs), ls, dl (bk). */
ATT_INLINE void att_backward_dkv(__global float *dk, const ulong dk_off, const int has_dk, __global float *dv,
                                 const ulong dv_off, const int has_dv, __global const float *dout,
                                 const ulong dout_off, __global const float *q, const ulong q_off,
                                 __global const float *k, const ulong k_off, __global const float *v,
                                 const ulong v_off, __global const float *lse, const ulong lse_off,
                                 __global const float *dsum, const ulong dsum_off, __global const float *mask,
                                 const ulong mask_off, const int has_mask, const int T, const int C, const int NH,
                                 const int bk, const float scale, __local float *qs, __local float *dos,
                                 __local float *ls, __local float *dl, const int hs, float *kr, float *vr,
                                 float *ka, float *va) {
    const int j = get_global_id(0), h = get_global_id(1) % NH;
    const int lid = get_local_id(0), lsz = get_local_size(0);
    const size_t bh = get_global_id(1), b = bh / NH;
    const int active = j < T;
    const int valid = active && key_valid(mask, mask_off, has_mask, b, T, j);
    const size_t row = (b * T + (active ? j : 0)) * C + h * hs;
    for (int d = 0; d < hs; d++) {
        kr[d] = k[k_off + row + d] * scale;
        vr[d] = v[v_off + row + d];
        ka[d] = va[d] = 0.0f;
    }
    for (int qt = 0; qt < T; qt += bk) {
        const int n = min(bk, T - qt);
        barrier(CLK_LOCAL_MEM_FENCE);
        load_tile(qs, q, q_off, b, qt, n, T, C, h, hs);
        load_tile(dos, dout, dout_off, b, qt, n, T, C, h, hs);
        for (int e = lid; e < n; e += lsz) {
            ls[e] = lse[lse_off + bh * T + qt + e];
            dl[e] = dsum[dsum_off + bh * T + qt + e];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        if (!valid) continue;
        for (int i = 0; i < n; i++) {
            const float p = exp(dot_pl(kr, qs + i * hs, hs) - ls[i]);
            const float ds = p * (dot_pl(vr, dos + i * hs, hs) - dl[i]);
            for (int d = 0; d < hs; d++) {
                va[d] += p * dos[i * hs + d];
                ka[d] += ds * qs[i * hs + d];
            }
        }
    }
    if (!active) return;
    if (has_dk)
        for (int d = 0; d < hs; d++) dk[dk_off + row + d] += scale * ka[d];
    if (has_dv)
        for (int d = 0; d < hs; d++) dv[dv_off + row + d] += va[d];
}

/* The kernels for one head size: SUFFIX names them, HS_ARR sizes the
 * private rows, HS_VAL is the head size the loops run to (a constant, or
 * the argument hs for the general kernels). */
#define ATT_KERNELS(SUFFIX, HS_ARR, HS_VAL)                                                                        \
    __kernel void attention_forward##SUFFIX(                                                                       \
        __global float *out, const ulong out_off, __global float *lse, const ulong lse_off,                        \
        __global const float *q, const ulong q_off, __global const float *k, const ulong k_off,                    \
        __global const float *v, const ulong v_off, __global const float *mask, const ulong mask_off,              \
        const int has_mask, const int T, const int C, const int NH, const int hs, const int bk, const float scale, \
        __local float *ks, __local float *vs) {                                                                    \
        float qr[HS_ARR], acc[HS_ARR];                                                                             \
        att_forward(out, out_off, lse, lse_off, q, q_off, k, k_off, v, v_off, mask, mask_off, has_mask, T, C, NH,   \
                    bk, scale, ks, vs, HS_VAL, qr, acc);                                                           \
    }                                                                                                              \
    __kernel void attention_backward_dq##SUFFIX(                                                                   \
        __global float *dq, const ulong dq_off, const int has_dq, __global float *dsum, const ulong dsum_off,      \
        __global const float *dout, const ulong dout_off, __global const float *out, const ulong out_off,          \
        __global const float *q, const ulong q_off, __global const float *k, const ulong k_off,                    \
        __global const float *v, const ulong v_off, __global const float *lse, const ulong lse_off,                \
        __global const float *mask, const ulong mask_off, const int has_mask, const int T, const int C,            \
        const int NH, const int hs, const int bk, const float scale, __local float *ks, __local float *vs) {       \
        float qr[HS_ARR], dor[HS_ARR], acc[HS_ARR];                                                                \
        att_backward_dq(dq, dq_off, has_dq, dsum, dsum_off, dout, dout_off, out, out_off, q, q_off, k, k_off, v,   \
                        v_off, lse, lse_off, mask, mask_off, has_mask, T, C, NH, bk, scale, ks, vs, HS_VAL, qr,    \
                        dor, acc);                                                                                 \
    }                                                                                                              \
    __kernel void attention_backward_dkv##SUFFIX(                                                                  \
        __global float *dk, const ulong dk_off, const int has_dk, __global float *dv, const ulong dv_off,         \
        const int has_dv, __global const float *dout, const ulong dout_off, __global const float *q,              \
        const ulong q_off, __global const float *k, const ulong k_off, __global const float *v, const ulong v_off, \
        __global const float *lse, const ulong lse_off, __global const float *dsum, const ulong dsum_off,          \
        __global const float *mask, const ulong mask_off, const int has_mask, const int T, const int C,            \
        const int NH, const int hs, const int bk, const float scale, __local float *qs, __local float *dos,        \
        __local float *ls, __local float *dl) {                                                                    \
        float kr[HS_ARR], vr[HS_ARR], ka[HS_ARR], va[HS_ARR];                                                      \
        att_backward_dkv(dk, dk_off, has_dk, dv, dv_off, has_dv, dout, dout_off, q, q_off, k, k_off, v, v_off,    \
                         lse, lse_off, dsum, dsum_off, mask, mask_off, has_mask, T, C, NH, bk, scale, qs, dos, ls, \
                         dl, HS_VAL, kr, vr, ka, va);                                                              \
    }

ATT_KERNELS(_hs16, 16, 16)
ATT_KERNELS(_hs32, 32, 32)
ATT_KERNELS(_hs64, 64, 64)
ATT_KERNELS(, ATT_HS_MAX, hs)

/* --- CPU devices: a work-item per row, 16-wide vectors ------------------------------ */

/* A CPU runs a work-group as a loop over its items on one thread, so the
 * tiled kernels above (local tiles, barriers between them, scalar loops over
 * the head) run far below its speed. These give each work-item one query row
 * (one key row for dkv) and walk the other side's rows straight from global
 * memory (the caches hold them) in blocks of 16: the head as HS/16 float16
 * vectors, 16 scores at a time through one vector exp. Same math as the tiled
 * kernels (online softmax per block, lse saved, no T×T matrix); head sizes 16,
 * 32 and 64. Range: B*NH*T items, any work-group size. */

ATT_INLINE float hsum16(const float16 a) {
    const float8 b = a.lo + a.hi;
    const float4 c = b.lo + b.hi;
    return (c.x + c.y) + (c.z + c.w);
}

ATT_INLINE float hmax16(const float16 a) {
    const float8 b = fmax(a.lo, a.hi);
    const float4 c = fmax(b.lo, b.hi);
    return fmax(fmax(c.x, c.y), fmax(c.z, c.w));
}

/* a (nv float16) · x (nv*16 floats) */
ATT_INLINE float dot_rv(const float16 *a, __global const float *x, const int nv) {
    float16 s = a[0] * vload16(0, x);
    for (int u = 1; u < nv; u++) s += a[u] * vload16(u, x);
    return hsum16(s);
}

ATT_INLINE void att_forward_rows(__global float *out, const ulong out_off, __global float *lse, const ulong lse_off,
                                 __global const float *q, const ulong q_off, __global const float *k,
                                 const ulong k_off, __global const float *v, const ulong v_off,
                                 __global const float *mask, const ulong mask_off, const int has_mask, const int T,
                                 const int C, const int NH, const int BNH, const float scale, const int nv,
                                 float16 *qv, float16 *acc) {
    const size_t gid = get_global_id(0);
    if (gid >= (size_t)BNH * T) return;
    const int i = gid % T, hs = nv * 16;
    const size_t bh = gid / T, b = bh / NH;
    const size_t base = b * T * C + (bh % NH) * hs, row = base + (size_t)i * C;
    for (int u = 0; u < nv; u++) {
        qv[u] = vload16(u, q + q_off + row) * scale;
        acc[u] = (float16)(0.0f);
    }
    __global const float *kb = k + k_off + base, *vb = v + v_off + base;
    float m = -INFINITY, l = 0.0f, sc[16];
    for (int kt = 0; kt < T; kt += 16) {
        const int n = min(16, T - kt);
        for (int jj = 0; jj < 16; jj++)
            sc[jj] = jj < n && key_valid(mask, mask_off, has_mask, b, T, kt + jj)
                         ? dot_rv(qv, kb + (size_t)(kt + jj) * C, nv)
                         : -INFINITY;
        const float16 s = vload16(0, sc);
        const float mnew = fmax(m, hmax16(s));
        if (mnew == -INFINITY) continue; /* every key so far is masked */
        const float corr = exp(m - mnew);
        l *= corr;
        for (int u = 0; u < nv; u++) acc[u] *= corr;
        const float16 p = exp(s - mnew);
        l += hsum16(p);
        vstore16(p, 0, sc);
        for (int jj = 0; jj < n; jj++)
            for (int u = 0; u < nv; u++) acc[u] += sc[jj] * vload16(u, vb + (size_t)(kt + jj) * C);
        m = mnew;
    }
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    for (int u = 0; u < nv; u++) vstore16(acc[u] * inv, u, out + out_off + row);
    lse[lse_off + gid] = l > 0.0f ? m + log(l) : INFINITY;
}

ATT_INLINE void att_backward_dq_rows(__global float *dq, const ulong dq_off, const int has_dq, __global float *dsum,
                                     const ulong dsum_off, __global const float *dout, const ulong dout_off,
                                     __global const float *out, const ulong out_off, __global const float *q,
                                     const ulong q_off, __global const float *k, const ulong k_off,
                                     __global const float *v, const ulong v_off, __global const float *lse,
                                     const ulong lse_off, __global const float *mask, const ulong mask_off,
                                     const int has_mask, const int T, const int C, const int NH, const int BNH,
                                     const float scale, const int nv, float16 *qv, float16 *dov, float16 *acc) {
    const size_t gid = get_global_id(0);
    if (gid >= (size_t)BNH * T) return;
    const int i = gid % T, hs = nv * 16;
    const size_t bh = gid / T, b = bh / NH;
    const size_t base = b * T * C + (bh % NH) * hs, row = base + (size_t)i * C;
    float16 d16 = (float16)(0.0f);
    for (int u = 0; u < nv; u++) {
        qv[u] = vload16(u, q + q_off + row) * scale;
        dov[u] = vload16(u, dout + dout_off + row);
        d16 += dov[u] * vload16(u, out + out_off + row);
        acc[u] = (float16)(0.0f);
    }
    const float D = hsum16(d16), L = lse[lse_off + gid];
    dsum[dsum_off + gid] = D;
    if (!has_dq) return;
    __global const float *kb = k + k_off + base, *vb = v + v_off + base;
    float sc[16], dp[16];
    for (int kt = 0; kt < T; kt += 16) {
        const int n = min(16, T - kt);
        for (int jj = 0; jj < 16; jj++) {
            const int ok = jj < n && key_valid(mask, mask_off, has_mask, b, T, kt + jj);
            sc[jj] = ok ? dot_rv(qv, kb + (size_t)(kt + jj) * C, nv) : -INFINITY;
            dp[jj] = ok ? dot_rv(dov, vb + (size_t)(kt + jj) * C, nv) : 0.0f;
        }
        const float16 p = exp(vload16(0, sc) - L);
        vstore16(p * (vload16(0, dp) - D), 0, sc);
        for (int jj = 0; jj < n; jj++)
            for (int u = 0; u < nv; u++) acc[u] += sc[jj] * vload16(u, kb + (size_t)(kt + jj) * C);
    }
    for (int u = 0; u < nv; u++) {
        __global float *o = dq + dq_off + row;
        vstore16(vload16(u, o) + scale * acc[u], u, o);
    }
}

ATT_INLINE void att_backward_dkv_rows(__global float *dk, const ulong dk_off, const int has_dk, __global float *dv,
                                      const ulong dv_off, const int has_dv, __global const float *dout,
                                      const ulong dout_off, __global const float *q, const ulong q_off,
                                      __global const float *k, const ulong k_off, __global const float *v,
                                      const ulong v_off, __global const float *lse, const ulong lse_off,
                                      __global const float *dsum, const ulong dsum_off, __global const float *mask,
                                      const ulong mask_off, const int has_mask, const int T, const int C,
                                      const int NH, const int BNH, const float scale, const int nv, float16 *kv,
                                      float16 *vv, float16 *ka, float16 *va) {
    const size_t gid = get_global_id(0);
    if (gid >= (size_t)BNH * T) return;
    const int j = gid % T, hs = nv * 16;
    const size_t bh = gid / T, b = bh / NH;
    const size_t base = b * T * C + (bh % NH) * hs, row = base + (size_t)j * C;
    if (!key_valid(mask, mask_off, has_mask, b, T, j)) return; /* no gradient */
    for (int u = 0; u < nv; u++) {
        kv[u] = vload16(u, k + k_off + row) * scale;
        vv[u] = vload16(u, v + v_off + row);
        ka[u] = va[u] = (float16)(0.0f);
    }
    __global const float *qb = q + q_off + base, *ob = dout + dout_off + base;
    __global const float *lb = lse + lse_off + bh * T, *db = dsum + dsum_off + bh * T;
    float sc[16], dp[16], ls[16], dl[16];
    for (int qt = 0; qt < T; qt += 16) {
        const int n = min(16, T - qt);
        for (int ii = 0; ii < 16; ii++) {
            const int ok = ii < n;
            sc[ii] = ok ? dot_rv(kv, qb + (size_t)(qt + ii) * C, nv) : -INFINITY;
            dp[ii] = ok ? dot_rv(vv, ob + (size_t)(qt + ii) * C, nv) : 0.0f;
            ls[ii] = ok ? lb[qt + ii] : 0.0f;
            dl[ii] = ok ? db[qt + ii] : 0.0f;
        }
        const float16 p = exp(vload16(0, sc) - vload16(0, ls));
        vstore16(p, 0, sc);
        vstore16(p * (vload16(0, dp) - vload16(0, dl)), 0, dp);
        for (int ii = 0; ii < n; ii++)
            for (int u = 0; u < nv; u++) {
                va[u] += sc[ii] * vload16(u, ob + (size_t)(qt + ii) * C);
                ka[u] += dp[ii] * vload16(u, qb + (size_t)(qt + ii) * C);
            }
    }
    for (int u = 0; u < nv; u++) {
        if (has_dk) vstore16(vload16(u, dk + dk_off + row) + scale * ka[u], u, dk + dk_off + row);
        if (has_dv) vstore16(vload16(u, dv + dv_off + row) + va[u], u, dv + dv_off + row);
    }
}

#define ATT_ROW_KERNELS(SUFFIX, NV)                                                                                \
    __kernel void attention_forward_rows##SUFFIX(                                                                  \
        __global float *out, const ulong out_off, __global float *lse, const ulong lse_off,                        \
        __global const float *q, const ulong q_off, __global const float *k, const ulong k_off,                    \
        __global const float *v, const ulong v_off, __global const float *mask, const ulong mask_off,              \
        const int has_mask, const int T, const int C, const int NH, const int BNH, const float scale) {            \
        float16 qv[NV], acc[NV];                                                                                   \
        att_forward_rows(out, out_off, lse, lse_off, q, q_off, k, k_off, v, v_off, mask, mask_off, has_mask, T, C, \
                         NH, BNH, scale, NV, qv, acc);                                                             \
    }                                                                                                              \
    __kernel void attention_backward_dq_rows##SUFFIX(                                                              \
        __global float *dq, const ulong dq_off, const int has_dq, __global float *dsum, const ulong dsum_off,      \
        __global const float *dout, const ulong dout_off, __global const float *out, const ulong out_off,          \
        __global const float *q, const ulong q_off, __global const float *k, const ulong k_off,                    \
        __global const float *v, const ulong v_off, __global const float *lse, const ulong lse_off,                \
        __global const float *mask, const ulong mask_off, const int has_mask, const int T, const int C,            \
        const int NH, const int BNH, const float scale) {                                                          \
        float16 qv[NV], dov[NV], acc[NV];                                                                          \
        att_backward_dq_rows(dq, dq_off, has_dq, dsum, dsum_off, dout, dout_off, out, out_off, q, q_off, k, k_off, \
                             v, v_off, lse, lse_off, mask, mask_off, has_mask, T, C, NH, BNH, scale, NV, qv, dov,  \
                             acc);                                                                                 \
    }                                                                                                              \
    __kernel void attention_backward_dkv_rows##SUFFIX(                                                             \
        __global float *dk, const ulong dk_off, const int has_dk, __global float *dv, const ulong dv_off,         \
        const int has_dv, __global const float *dout, const ulong dout_off, __global const float *q,              \
        const ulong q_off, __global const float *k, const ulong k_off, __global const float *v, const ulong v_off, \
        __global const float *lse, const ulong lse_off, __global const float *dsum, const ulong dsum_off,          \
        __global const float *mask, const ulong mask_off, const int has_mask, const int T, const int C,            \
        const int NH, const int BNH, const float scale) {                                                          \
        float16 kv[NV], vv[NV], ka[NV], va[NV];                                                                    \
        att_backward_dkv_rows(dk, dk_off, has_dk, dv, dv_off, has_dv, dout, dout_off, q, q_off, k, k_off, v,      \
                              v_off, lse, lse_off, dsum, dsum_off, mask, mask_off, has_mask, T, C, NH, BNH, scale, \
                              NV, kv, vv, ka, va);                                                                 \
    }

ATT_ROW_KERNELS(_hs16, 1)
ATT_ROW_KERNELS(_hs32, 2)
ATT_ROW_KERNELS(_hs64, 4)
