/* Token embeddings of a vision transformer: patchify (the patch embedding,
 * a Conv2d with stride = kernel = P, is patchify + a linear layer whose
 * weight is the Conv2d weight (D, C, P, P) seen as (D, C*P*P): patch rows use
 * the same (c, ky, kx) order) and CLS + position embeddings. */

/* pixels (B,C,H,W) → patches (B*NP, C*P*P), NP = (H/P)*(W/P) in row-major
 * (py, px) order (Hugging Face's flatten(2).transpose(1,2)). An item copies
 * one row of P pixels of one patch (channel c, row ky). Range (C*P, NP, B). */
__kernel void patchify(__global float *patches, const ulong patches_off, __global const float *pixels,
                       const ulong pixels_off, const int C, const int H, const int W, const int P) {
    const int cy = get_global_id(0);
    if (cy >= C * P) return;
    const int p = get_global_id(1), GW = W / P, NP = (H / P) * GW;
    const size_t b = get_global_id(2);
    const int c = cy / P, ky = cy - c * P;
    const int y = (p / GW) * P + ky, x = (p % GW) * P;
    __global float *dst = patches + patches_off + (b * NP + p) * (size_t)(C * P * P) + (size_t)cy * P;
    __global const float *src = pixels + pixels_off + ((b * C + c) * H + y) * (size_t)W + x;
    for (int kx = 0; kx < P; kx++) dst[kx] = src[kx];
}

/* h (B,T,D) = [cls (D); tokens (B,T-1,D) of image b] + pos (T,D). Range (D, T, B). */
__kernel void embed_tokens_forward(__global float *h, const ulong h_off, __global const float *cls,
                                   const ulong cls_off, __global const float *pos, const ulong pos_off,
                                   __global const float *tok, const ulong tok_off, const int T, const int D) {
    const int d = get_global_id(0);
    if (d >= D) return;
    const int t = get_global_id(1);
    const size_t b = get_global_id(2);
    const float e = t == 0 ? cls[cls_off + d] : tok[tok_off + (b * (T - 1) + (t - 1)) * D + d];
    h[h_off + (b * T + t) * D + d] = e + pos[pos_off + (size_t)t * D + d];
}

/* dtok (B,T-1,D) = dh[:, 1:, :] of (B,T,D). Range (D, T-1, B). */
__kernel void embed_tokens_backward_tokens(__global float *dtok, const ulong dtok_off, __global const float *dh,
                                           const ulong dh_off, const int T, const int D) {
    const int d = get_global_id(0);
    if (d >= D) return;
    const size_t t = get_global_id(1), b = get_global_id(2);
    dtok[dtok_off + (b * (T - 1) + t) * D + d] = dh[dh_off + (b * T + t + 1) * D + d];
}

/* out (B,T,D) = table[ids[b,t]] (V,D) + pos[t] (T,D, when has_pos) + add (D,
 * when has_add); ids are exact integers stored as floats, one outside [0,V)
 * looks up zeros. Range (D, T, B). */
__kernel void embedding_forward(__global float *out, const ulong out_off, __global const float *ids,
                                const ulong ids_off, __global const float *table, const ulong table_off,
                                __global const float *pos, const ulong pos_off, const int has_pos,
                                __global const float *add, const ulong add_off, const int has_add, const int T,
                                const int D, const int V) {
    const int d = get_global_id(0);
    if (d >= D) return;
    const int t = get_global_id(1);
    const size_t b = get_global_id(2), bt = b * T + t;
    const int id = (int)ids[ids_off + bt];
    float e = id >= 0 && id < V ? table[table_off + (size_t)id * D + d] : 0.0f;
    if (has_pos) e += pos[pos_off + (size_t)t * D + d];
    if (has_add) e += add[add_off + d];
    out[out_off + bt * D + d] = e;
}

/* dtable[ids[r]] += dout[r] over rows r = 0..N-1 in order, one work item per
 * column: deterministic and free of atomics. Range (D). */
__kernel void embedding_backward_table(__global float *dtable, const ulong dtable_off, __global const float *dout,
                                       const ulong dout_off, __global const float *ids, const ulong ids_off,
                                       const int N, const int D, const int V) {
    const int d = get_global_id(0);
    if (d >= D) return;
    for (int r = 0; r < N; r++) {
        const int id = (int)ids[ids_off + r];
        if (id >= 0 && id < V) dtable[dtable_off + (size_t)id * D + d] += dout[dout_off + (size_t)r * D + d];
    }
}

/* --- hashed n-grams of token ids (a text task model's bag of n-grams) ------ */

/* A 32-bit integer mix (lowbias32); the host's reference uses the same. */
inline uint ngram_mix(uint h) {
    h ^= h >> 16;
    h *= 0x7feb352dU;
    h ^= h >> 15;
    h *= 0x846ca68bU;
    h ^= h >> 16;
    return h;
}

/* hid, hmask (B, 2T) from ids, mask (B, T): column t < T is the unigram at
 * t, column T + t the bigram (t, t+1), each hashed into [0, N); a position
 * outside the mask (for a bigram: either token) gets id -1 and mask 0.
 * Range (2T, B). */
__kernel void ngram_hash(__global float *hid, const ulong hid_off, __global float *hmask, const ulong hmask_off,
                         __global const float *ids, const ulong ids_off, __global const float *mask,
                         const ulong mask_off, const int T, const int N) {
    const int j = get_global_id(0);
    if (j >= 2 * T) return;
    const size_t b = get_global_id(1);
    const int t = j < T ? j : j - T;
    __global const float *id = ids + ids_off + b * T;
    __global const float *m = mask + mask_off + b * T;
    int valid = m[t] != 0.0f;
    uint h;
    if (j < T) {
        h = ngram_mix((uint)fmax(id[t], 0.0f) * 2U + 1U);
    } else {
        valid = valid && t + 1 < T && m[t + 1 < T ? t + 1 : t] != 0.0f;
        const uint a = (uint)fmax(id[t], 0.0f), c = (uint)fmax(id[t + 1 < T ? t + 1 : t], 0.0f);
        h = ngram_mix(ngram_mix(a * 2U) ^ (c * 0x9e3779b9U));
    }
    const size_t o = b * 2 * T + j;
    hid[hid_off + o] = valid ? (float)(h % (uint)N) : -1.0f;
    hmask[hmask_off + o] = valid ? 1.0f : 0.0f;
}
