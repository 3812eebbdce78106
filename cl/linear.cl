/* Linear layer helpers (the products themselves are CLBlast GEMMs). */

/* db (OC) += sum over rows of dout (N,OC); one item per column, so reads of
 * a row are contiguous across neighbouring items. */
__kernel void linear_bias_backward(__global float *db, const ulong db_off, __global const float *dout,
                                   const ulong dout_off, const int N, const int OC) {
    const size_t j = get_global_id(0);
    if (j >= (size_t)OC) return;
    __global const float *p = dout + dout_off + j;
    float s = 0.0f;
    for (int r = 0; r < N; r++) s += p[(size_t)r * (size_t)OC];
    db[db_off + j] += s;
}
