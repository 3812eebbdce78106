/* LayerNorm over the last axis, biased variance (as PyTorch). One
 * work-group per row for the row statistics; the group size is a power of
 * two chosen by the host (get_local_size), reductions go through __local
 * scratch of that many floats. */

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

/* dw (C) += sum_rows dout * xhat, db (C) += sum_rows dout; one item per column.
 * has_dw / has_db say which outputs exist (the other buffer is a dummy). */
__kernel void layernorm_backward_params(__global float *dw, const ulong dw_off, __global float *db,
                                        const ulong db_off, __global const float *dout, const ulong dout_off,
                                        __global const float *inp, const ulong inp_off, __global const float *mean,
                                        const ulong mean_off, __global const float *rstd, const ulong rstd_off,
                                        const int N, const int C, const int has_dw, const int has_db) {
    const size_t c = get_global_id(0);
    if (c >= (size_t)C) return;
    float sw = 0.0f, sb = 0.0f;
    for (int r = 0; r < N; r++) {
        const size_t i = (size_t)r * (size_t)C + c;
        const float dy = dout[dout_off + i];
        sw += dy * (inp[inp_off + i] - mean[mean_off + r]) * rstd[rstd_off + r];
        sb += dy;
    }
    if (has_dw) dw[dw_off + c] += sw;
    if (has_db) db[db_off + c] += sb;
}

/* Item-per-row forms (see ops_use_rowwise in src/ops/ops_internal.h): the
 * same arithmetic, one work-item per row, no barriers. */

/* inp, out (N,C), w, b (C), mean, rstd (N) */
__kernel void layernorm_forward_rowwise(__global float *out, const ulong out_off, __global float *mean,
                                        const ulong mean_off, __global float *rstd, const ulong rstd_off,
                                        __global const float *inp, const ulong inp_off, __global const float *w,
                                        const ulong w_off, __global const float *b, const ulong b_off, const int C,
                                        const float eps, const int N) {
    const size_t row = get_global_id(0);
    if (row >= (size_t)N) return;
    __global const float *x = inp + inp_off + row * (size_t)C;
    float acc = 0.0f;
    for (int j = 0; j < C; j++) acc += x[j];
    const float m = acc / (float)C;
    acc = 0.0f;
    for (int j = 0; j < C; j++) {
        const float d = x[j] - m;
        acc += d * d;
    }
    const float rs = 1.0f / sqrt(acc / (float)C + eps);
    __global float *o = out + out_off + row * (size_t)C;
    for (int j = 0; j < C; j++) o[j] = (x[j] - m) * rs * w[w_off + j] + b[b_off + j];
    mean[mean_off + row] = m;
    rstd[rstd_off + row] = rs;
}

/* dinp (N,C) += rstd * (dout*w - mean(dout*w) - xhat * mean(dout*w*xhat)) */
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
    const float m = mean[mean_off + row], rs = rstd[rstd_off + row];
    float a1 = 0.0f, a2 = 0.0f;
    for (int j = 0; j < C; j++) {
        const float dn = dy[j] * w[w_off + j];
        a1 += dn;
        a2 += dn * (x[j] - m) * rs;
    }
    const float mean_dn = a1 / (float)C, mean_dnx = a2 / (float)C;
    __global float *dx = dinp + dinp_off + row * (size_t)C;
    for (int j = 0; j < C; j++) {
        const float xhat = (x[j] - m) * rs;
        dx[j] += (dy[j] * w[w_off + j] - mean_dn - xhat * mean_dnx) * rs;
    }
}
