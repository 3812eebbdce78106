/* Column and row sums, in two shapes (src/ops/reduce.c picks one from the
 * device's type and limits and plans the passes):
 *
 *   GPU  reduce_cols: an item per column and row lane; a work-group is
 *        (LX columns) x (LY row lanes) and covers one chunk of rows; the
 *        lanes meet in a __local tree. Neighbouring items read neighbouring
 *        columns, so every row read is coalesced.
 *   CPU  reduce_cols_stream: an item per chunk of rows reads its rows in
 *        memory order and adds each into its output row, which stays in
 *        cache: one read stream per core, the inner loop along a row
 *        vectorizes.
 *
 * When a sum is split into G chunks of rows, the first pass writes G partial
 * rows and a second launch of the same kernel sums them. Batches: src and
 * dst advance by their batch strides along the last range dimension. */

/* dst[z][g*dst_ld + c] (=|+=) alpha * Σ_{r in chunk g} src[z][r*ld + c] for c < ncols, r < nrows;
 * chunk g = rows [g*chunk, (g+1)*chunk). Range (columns, G*LY, batch), local (LX, LY, 1);
 * s holds LX*LY floats. */
__kernel void reduce_cols(__global float *dst, const ulong dst_off, const ulong dst_bs, const int dst_ld,
                          __global const float *src, const ulong src_off, const ulong src_bs, const int ld,
                          const int nrows, const int ncols, const int chunk, const float alpha,
                          const int accumulate, __local float *s) {
    const int c = get_global_id(0), lx = get_local_id(0), ly = get_local_id(1);
    const int LX = get_local_size(0), LY = get_local_size(1), g = get_group_id(1);
    const size_t z = get_global_id(2);
    const int r0 = g * chunk, r1 = min(nrows, r0 + chunk);
    float acc = 0.0f;
    if (c < ncols) {
        __global const float *p = src + src_off + z * src_bs + c;
        for (int r = r0 + ly; r < r1; r += LY) acc += p[(size_t)r * ld];
    }
    if (LY > 1) {
        s[ly * LX + lx] = acc;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int off = LY / 2; off > 0; off >>= 1) {
            if (ly < off) s[ly * LX + lx] += s[(ly + off) * LX + lx];
            barrier(CLK_LOCAL_MEM_FENCE);
        }
        acc = s[lx];
    }
    if (ly == 0 && c < ncols) {
        __global float *o = dst + dst_off + z * dst_bs + (size_t)g * dst_ld + c;
        *o = accumulate ? *o + alpha * acc : alpha * acc;
    }
}

/* The same sums, CPU shape: an item per (chunk g, batch z) streams its rows
 * in memory order into its output row (which stays in cache):
 * dst[z][g*dst_ld + c] = (accumulate ? itself : 0) + Σ_r alpha * src[z][r*ld + c].
 * Range (G, batch). */
__kernel void reduce_cols_stream(__global float *dst, const ulong dst_off, const ulong dst_bs, const int dst_ld,
                                 __global const float *src, const ulong src_off, const ulong src_bs, const int ld,
                                 const int nrows, const int ncols, const int chunk, const float alpha,
                                 const int accumulate) {
    const int g = get_global_id(0);
    const size_t z = get_global_id(1);
    const int r0 = g * chunk, r1 = min(nrows, r0 + chunk);
    __global float *o = dst + dst_off + z * dst_bs + (size_t)g * dst_ld;
    __global const float *x = src + src_off + z * src_bs;
    if (!accumulate)
        for (int c = 0; c < ncols; c++) o[c] = 0.0f;
    for (int r = r0; r < r1; r++) {
        __global const float *row = x + (size_t)r * ld;
        for (int c = 0; c < ncols; c++) o[c] += alpha * row[c];
    }
}

/* dst[r] (=|+=) alpha * Σ_{j<ncols} src[r*ld + j]: a work-group per row (GPU),
 * s holds get_local_size(0) floats (a power of two). */
__kernel void reduce_rows(__global float *dst, const ulong dst_off, __global const float *src, const ulong src_off,
                          const int ld, const int ncols, const float alpha, const int accumulate, __local float *s) {
    const size_t r = get_group_id(0);
    const int lid = get_local_id(0), wg = get_local_size(0);
    __global const float *x = src + src_off + r * (size_t)ld;
    float acc = 0.0f;
    for (int j = lid; j < ncols; j += wg) acc += x[j];
    s[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int off = wg / 2; off > 0; off >>= 1) {
        if (lid < off) s[lid] += s[lid + off];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) dst[dst_off + r] = accumulate ? dst[dst_off + r] + alpha * s[0] : alpha * s[0];
}

/* The same, an item per row with eight running sums (CPU: one vector register). */
__kernel void reduce_rows_item(__global float *dst, const ulong dst_off, __global const float *src,
                               const ulong src_off, const int ld, const int ncols, const float alpha,
                               const int accumulate, const int nrows) {
    const size_t r = get_global_id(0);
    if (r >= (size_t)nrows) return;
    __global const float *x = src + src_off + r * (size_t)ld;
    float8 a = 0.0f;
    int j = 0;
    for (; j + 8 <= ncols; j += 8) a += vload8(0, x + j);
    float acc = ((a.s0 + a.s1) + (a.s2 + a.s3)) + ((a.s4 + a.s5) + (a.s6 + a.s7));
    for (; j < ncols; j++) acc += x[j];
    dst[dst_off + r] = accumulate ? dst[dst_off + r] + alpha * acc : alpha * acc;
}
