/* LayerNorm over the last axis, biased variance (as PyTorch), in two shapes
 * (src/ops/norm.c picks one, see ops_use_rowwise):
 *   a work-group per row: row statistics through a __local tree (GPU, long rows);
 *   a work-item per row with eight running sums (CPU, short rows).
 * The weight and bias gradients are column sums over rows, cut like
 * cl/reduce.cl's: GPU groups of (LX columns x LY row lanes) or CPU items
 * that stream a chunk of rows each; with several chunks they write partial
 * rows that cl/reduce.cl sums. The fused
 * residual + layernorm forward is here too. */

/* Sum of v over the work-group; every item gets the result. */
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

static float hsum8(float8 a) { return ((a.s0 + a.s1) + (a.s2 + a.s3)) + ((a.s4 + a.s5) + (a.s6 + a.s7)); }

/* mean and rstd of one row x (C), eight lanes at a time */
static float2 row_stats(__global const float *x, const int C, const float eps) {
    float8 a = 0.0f;
    int j = 0;
    for (; j + 8 <= C; j += 8) a += vload8(0, x + j);
    float s = hsum8(a);
    for (; j < C; j++) s += x[j];
    const float m = s / (float)C;
    a = 0.0f;
    for (j = 0; j + 8 <= C; j += 8) {
        const float8 d = vload8(0, x + j) - m;
        a += d * d;
    }
    float v = hsum8(a);
    for (; j < C; j++) v += (x[j] - m) * (x[j] - m);
    return (float2)(m, 1.0f / sqrt(v / (float)C + eps));
}

/* inp, out (N,C), w, b (C), mean, rstd (N); one group per row */
__kernel void layernorm_forward(__global float *out, const ulong out_off, __global float *mean,
                                const ulong mean_off, __global float *rstd, const ulong rstd_off,
                                __global const float *inp, const ulong inp_off, __global const float *w,
                                const ulong w_off, __global const float *b, const ulong b_off, const int C,
                                const float eps, __local float *s) {
    const size_t row = get_group_id(0);
    const int lid = get_local_id(0), wg = get_local_size(0);
    __global const float *x = inp + inp_off + row * (size_t)C;
    float acc = 0.0f;
    for (int j = lid; j < C; j += wg) acc += x[j];
    const float m = group_sum(s, acc) / (float)C;
    acc = 0.0f;
    for (int j = lid; j < C; j += wg) {
        const float d = x[j] - m;
        acc += d * d;
    }
    const float var = group_sum(s, acc) / (float)C;
    const float rs = 1.0f / sqrt(var + eps);
    __global float *o = out + out_off + row * (size_t)C;
    for (int j = lid; j < C; j += wg) o[j] = (x[j] - m) * rs * w[w_off + j] + b[b_off + j];
    if (lid == 0) {
        mean[mean_off + row] = m;
        rstd[rstd_off + row] = rs;
    }
}

/* inp, out (N,C), w, b (C), mean, rstd (N); one item per row */
__kernel void layernorm_forward_rowwise(__global float *out, const ulong out_off, __global float *mean,
                                        const ulong mean_off, __global float *rstd, const ulong rstd_off,
                                        __global const float *inp, const ulong inp_off, __global const float *w,
                                        const ulong w_off, __global const float *b, const ulong b_off, const int C,
                                        const float eps, const int N) {
    const size_t row = get_global_id(0);
    if (row >= (size_t)N) return;
    __global const float *x = inp + inp_off + row * (size_t)C;
    const float2 st = row_stats(x, C, eps);
    __global float *o = out + out_off + row * (size_t)C;
    __global const float *wr = w + w_off, *br = b + b_off;
    for (int j = 0; j < C; j++) o[j] = (x[j] - st.x) * st.y * wr[j] + br[j];
    mean[mean_off + row] = st.x;
    rstd[rstd_off + row] = st.y;
}

/* Fused residual + layernorm, an item per row: sum (N,C) = a + b + bias (C);
 * out = layernorm(sum) with w, lb (C); mean, rstd (N). has_bias = 0: no bias. */
__kernel void residual_layernorm_forward_rowwise(
    __global float *sum, const ulong sum_off, __global float *out, const ulong out_off, __global float *mean,
    const ulong mean_off, __global float *rstd, const ulong rstd_off, __global const float *a, const ulong a_off,
    __global const float *bb, const ulong bb_off, __global const float *bias, const ulong bias_off,
    const int has_bias, __global const float *w, const ulong w_off, __global const float *lb, const ulong lb_off,
    const int C, const float eps, const int N) {
    const size_t row = get_global_id(0);
    if (row >= (size_t)N) return;
    __global const float *xa = a + a_off + row * (size_t)C, *xb = bb + bb_off + row * (size_t)C;
    __global float *x = sum + sum_off + row * (size_t)C;
    if (has_bias)
        for (int j = 0; j < C; j++) x[j] = xa[j] + xb[j] + bias[bias_off + j];
    else
        for (int j = 0; j < C; j++) x[j] = xa[j] + xb[j];
    const float2 st = row_stats(x, C, eps);
    __global float *o = out + out_off + row * (size_t)C;
    __global const float *wr = w + w_off, *br = lb + lb_off;
    for (int j = 0; j < C; j++) o[j] = (x[j] - st.x) * st.y * wr[j] + br[j];
    mean[mean_off + row] = st.x;
    rstd[rstd_off + row] = st.y;
}

/* The same, a work-group per row. */
__kernel void residual_layernorm_forward(__global float *sum, const ulong sum_off, __global float *out,
                                         const ulong out_off, __global float *mean, const ulong mean_off,
                                         __global float *rstd, const ulong rstd_off, __global const float *a,
                                         const ulong a_off, __global const float *bb, const ulong bb_off,
                                         __global const float *bias, const ulong bias_off, const int has_bias,
                                         __global const float *w, const ulong w_off, __global const float *lb,
                                         const ulong lb_off, const int C, const float eps, __local float *s) {
    const size_t row = get_group_id(0);
    const int lid = get_local_id(0), wg = get_local_size(0);
    __global const float *xa = a + a_off + row * (size_t)C, *xb = bb + bb_off + row * (size_t)C;
    __global float *x = sum + sum_off + row * (size_t)C;
    float acc = 0.0f;
    for (int j = lid; j < C; j += wg) {
        const float v = xa[j] + xb[j] + (has_bias ? bias[bias_off + j] : 0.0f);
        x[j] = v;
        acc += v;
    }
    const float m = group_sum(s, acc) / (float)C;
    acc = 0.0f;
    for (int j = lid; j < C; j += wg) {
        const float d = x[j] - m;
        acc += d * d;
    }
    const float rs = 1.0f / sqrt(group_sum(s, acc) / (float)C + eps);
    __global float *o = out + out_off + row * (size_t)C;
    for (int j = lid; j < C; j += wg) o[j] = (x[j] - m) * rs * w[w_off + j] + lb[lb_off + j];
    if (lid == 0) {
        mean[mean_off + row] = m;
        rstd[rstd_off + row] = rs;
    }
}

/* dinp (N,C) += rstd * (dout*w - mean(dout*w) - xhat * mean(dout*w*xhat)); one group per row */
__kernel void layernorm_backward_input(__global float *dinp, const ulong dinp_off, __global const float *dout,
                                       const ulong dout_off, __global const float *inp, const ulong inp_off,
                                       __global const float *w, const ulong w_off, __global const float *mean,
                                       const ulong mean_off, __global const float *rstd, const ulong rstd_off,
                                       const int C, __local float *s) {
    const size_t row = get_group_id(0);
    const int lid = get_local_id(0), wg = get_local_size(0);
    __global const float *x = inp + inp_off + row * (size_t)C;
    __global const float *dy = dout + dout_off + row * (size_t)C;
    const float m = mean[mean_off + row], rs = rstd[rstd_off + row];
    float a1 = 0.0f, a2 = 0.0f;
    for (int j = lid; j < C; j += wg) {
        const float dn = dy[j] * w[w_off + j];
        a1 += dn;
        a2 += dn * (x[j] - m) * rs;
    }
    const float mean_dn = group_sum(s, a1) / (float)C;
    const float mean_dnx = group_sum(s, a2) / (float)C;
    __global float *dx = dinp + dinp_off + row * (size_t)C;
    for (int j = lid; j < C; j += wg) {
        const float xhat = (x[j] - m) * rs;
        dx[j] += (dy[j] * w[w_off + j] - mean_dn - xhat * mean_dnx) * rs;
    }
}

/* The same, one item per row, eight lanes at a time. */
__kernel void layernorm_backward_input_rowwise(__global float *dinp, const ulong dinp_off,
                                               __global const float *dout, const ulong dout_off,
                                               __global const float *inp, const ulong inp_off,
                                               __global const float *w, const ulong w_off,
                                               __global const float *mean, const ulong mean_off,
                                               __global const float *rstd, const ulong rstd_off, const int C,
                                               const int N) {
    const size_t row = get_global_id(0);
    if (row >= (size_t)N) return;
    __global const float *x = inp + inp_off + row * (size_t)C;
    __global const float *dy = dout + dout_off + row * (size_t)C;
    __global const float *wr = w + w_off;
    const float m = mean[mean_off + row], rs = rstd[rstd_off + row];
    float8 b1 = 0.0f, b2 = 0.0f;
    int j = 0;
    for (; j + 8 <= C; j += 8) {
        const float8 dn = vload8(0, dy + j) * vload8(0, wr + j);
        b1 += dn;
        b2 += dn * (vload8(0, x + j) - m);
    }
    float a1 = hsum8(b1), a2 = hsum8(b2);
    for (; j < C; j++) {
        const float dn = dy[j] * wr[j];
        a1 += dn;
        a2 += dn * (x[j] - m);
    }
    const float mean_dn = a1 / (float)C, mean_dnx = a2 * rs / (float)C;
    __global float *dx = dinp + dinp_off + row * (size_t)C;
    for (j = 0; j < C; j++) dx[j] += (dy[j] * wr[j] - mean_dn - (x[j] - m) * rs * mean_dnx) * rs;
}

/* dw[g*dst_ld + c] (=|+=) Σ_{r in chunk g} dout*xhat, db likewise Σ dout; c < C, r < N.
 * has_dw / has_db say which outputs exist (the other is a dummy). GPU shape:
 * range (columns, G*LY), local (LX, LY); s holds 2*LX*LY floats. */
__kernel void layernorm_backward_params(__global float *dw, const ulong dw_off, __global float *db,
                                        const ulong db_off, const int dst_ld, const int has_dw, const int has_db,
                                        const int accumulate, __global const float *dout, const ulong dout_off,
                                        __global const float *inp, const ulong inp_off, __global const float *mean,
                                        const ulong mean_off, __global const float *rstd, const ulong rstd_off,
                                        const int N, const int C, const int chunk, __local float *s) {
    const int c = get_global_id(0), lx = get_local_id(0), ly = get_local_id(1);
    const int LX = get_local_size(0), LY = get_local_size(1), g = get_group_id(1);
    const int r0 = g * chunk, r1 = min(N, r0 + chunk);
    float sw = 0.0f, sb = 0.0f;
    if (c < C)
        for (int r = r0 + ly; r < r1; r += LY) {
            const size_t i = (size_t)r * (size_t)C + c;
            const float dy = dout[dout_off + i];
            sw += dy * (inp[inp_off + i] - mean[mean_off + r]) * rstd[rstd_off + r];
            sb += dy;
        }
    if (LY > 1) {
        __local float *t = s + LX * LY;
        s[ly * LX + lx] = sw;
        t[ly * LX + lx] = sb;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int off = LY / 2; off > 0; off >>= 1) {
            if (ly < off) {
                s[ly * LX + lx] += s[(ly + off) * LX + lx];
                t[ly * LX + lx] += t[(ly + off) * LX + lx];
            }
            barrier(CLK_LOCAL_MEM_FENCE);
        }
        sw = s[lx];
        sb = t[lx];
    }
    if (ly != 0 || c >= C) return;
    const size_t o = (size_t)g * dst_ld + c;
    if (has_dw) dw[dw_off + o] = accumulate ? dw[dw_off + o] + sw : sw;
    if (has_db) db[db_off + o] = accumulate ? db[db_off + o] + sb : sb;
}

/* The same sums, CPU shape: an item per chunk g streams its rows in memory
 * order into its output rows dw[g], db[g] (in cache); range (G). */
__kernel void layernorm_backward_params_stream(__global float *dw, const ulong dw_off, __global float *db,
                                               const ulong db_off, const int dst_ld, const int has_dw,
                                               const int has_db, const int accumulate, __global const float *dout,
                                               const ulong dout_off, __global const float *inp,
                                               const ulong inp_off, __global const float *mean,
                                               const ulong mean_off, __global const float *rstd,
                                               const ulong rstd_off, const int N, const int C, const int chunk) {
    const int g = get_global_id(0);
    const int r0 = g * chunk, r1 = min(N, r0 + chunk);
    __global float *ow = dw + dw_off + (size_t)g * dst_ld, *ob = db + db_off + (size_t)g * dst_ld;
    if (!accumulate)
        for (int c = 0; c < C; c++) {
            if (has_dw) ow[c] = 0.0f;
            if (has_db) ob[c] = 0.0f;
        }
    for (int r = r0; r < r1; r++) {
        __global const float *dy = dout + dout_off + (size_t)r * C, *x = inp + inp_off + (size_t)r * C;
        const float m = mean[mean_off + r], rs = rstd[rstd_off + r];
        if (has_dw)
            for (int c = 0; c < C; c++) ow[c] += dy[c] * ((x[c] - m) * rs);
        if (has_db)
            for (int c = 0; c < C; c++) ob[c] += dy[c];
    }
}
