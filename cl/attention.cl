/* Multi-head attention helpers: head-major permutes and a simple batched
 * GEMM (the alternative to CLBlast's strided batched GEMM for the small
 * per-head products; see src/ops/attention.c for which one is used). */

/* dst (B,NH,T,hs) = src (B,T,C) with C = NH*hs; n = B*T*C, i in src order */
__kernel void attention_split_heads(__global float *dst, const ulong dst_off, __global const float *src,
                                    const ulong src_off, const int T, const int NH, const int hs, const ulong n) {
    const size_t i = get_global_id(0);
    if (i >= n) return;
    const size_t d = i % (size_t)hs;
    const size_t h = (i / (size_t)hs) % (size_t)NH;
    const size_t bt = i / ((size_t)hs * (size_t)NH);
    const size_t t = bt % (size_t)T, b = bt / (size_t)T;
    dst[dst_off + ((b * (size_t)NH + h) * (size_t)T + t) * (size_t)hs + d] = src[src_off + i];
}

/* dst (B,T,C) (=|+=) src (B,NH,T,hs); n = B*T*C, i in dst order */
__kernel void attention_merge_heads(__global float *dst, const ulong dst_off, __global const float *src,
                                    const ulong src_off, const int T, const int NH, const int hs,
                                    const int accumulate, const ulong n) {
    const size_t i = get_global_id(0);
    if (i >= n) return;
    const size_t d = i % (size_t)hs;
    const size_t h = (i / (size_t)hs) % (size_t)NH;
    const size_t bt = i / ((size_t)hs * (size_t)NH);
    const size_t t = bt % (size_t)T, b = bt / (size_t)T;
    const float x = src[src_off + ((b * (size_t)NH + h) * (size_t)T + t) * (size_t)hs + d];
    if (accumulate)
        dst[dst_off + i] += x;
    else
        dst[dst_off + i] = x;
}

/* For each of `batch` matrices (starts offset + b*stride), row-major:
 * C (M,N) = alpha * op(A) op(B) + beta * C; A is (M,K) or, with ta, (K,M);
 * B is (K,N) or, with tb, (N,K). One item per output element. beta = 0
 * never reads C. */
__kernel void attention_bgemm(const int ta, const int tb, const int M, const int N, const int K, const float alpha,
                              __global const float *A, const ulong a_off, const ulong stride_a,
                              __global const float *B, const ulong b_off, const ulong stride_b, const float beta,
                              __global float *C, const ulong c_off, const ulong stride_c, const int batch) {
    const size_t i = get_global_id(0);
    const size_t mn = (size_t)M * (size_t)N;
    if (i >= mn * (size_t)batch) return;
    const size_t bi = i / mn, r = (i % mn) / (size_t)N, c = i % (size_t)N;
    __global const float *a = A + a_off + bi * stride_a;
    __global const float *bm = B + b_off + bi * stride_b;
    const size_t a_r = ta ? 1 : (size_t)K, a_k = ta ? (size_t)M : 1; /* A(r,k) = a[r*a_r + k*a_k] */
    const size_t b_k = tb ? 1 : (size_t)N, b_c = tb ? (size_t)K : 1; /* B(k,c) = bm[k*b_k + c*b_c] */
    float acc = 0.0f;
    for (int k = 0; k < K; k++) acc += a[r * a_r + (size_t)k * a_k] * bm[(size_t)k * b_k + c * b_c];
    __global float *out = C + c_off + bi * stride_c + r * (size_t)N + c;
    *out = beta == 0.0f ? alpha * acc : alpha * acc + beta * *out;
}
