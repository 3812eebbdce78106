/* Elementwise kernels. Every kernel takes (buffer, offset) pairs so that
 * tensors can be views into one arena, and guards i < n because the host
 * rounds the global size up to a multiple of the work-group size. */

/* out (n) = s * inp (n) */
__kernel void scale_forward(__global float *out, const ulong out_off, __global const float *inp,
                            const ulong inp_off, const float s, const ulong n) {
    const size_t i = get_global_id(0);
    if (i >= n) return;
    out[out_off + i] = s * inp[inp_off + i];
}
