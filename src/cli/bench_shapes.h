/* The GEMM shapes `levi-cl bench gemm` times, shared with the OpenBLAS
 * reference program (tools/openblas_ref.c) so both time the same work.
 * Row-major C (M,N) = op(A) (M,K) · op(B) (K,N), batch independent products.
 *
 * Model shapes are the demo's ViT-tiny (image 28, patch 7 → T = 16+1 tokens,
 * dim 64, 4 heads of 16, mlp 128, batch 64 → 1088 token rows) and the LEVI
 * task model / adapters (MLP 784→128, adapter 256→128→10). */
#ifndef LEVI_BENCH_SHAPES_H
#define LEVI_BENCH_SHAPES_H

typedef struct bench_gemm_shape {
    const char *name;
    int trans_a, trans_b;
    int M, N, K, batch;
} bench_gemm_shape;

static const bench_gemm_shape k_bench_gemm_shapes[] = {
    {"square 128", 0, 0, 128, 128, 128, 1},
    {"square 256", 0, 0, 256, 256, 256, 1},
    {"square 512", 0, 0, 512, 512, 512, 1},
    {"square 1024", 0, 0, 1024, 1024, 1024, 1},
    {"vit patch-embed 1024x64x49 NT", 0, 1, 1024, 64, 49, 1},
    {"vit qkv 1088x192x64 NT", 0, 1, 1088, 192, 64, 1},
    {"vit proj 1088x64x64 NT", 0, 1, 1088, 64, 64, 1},
    {"vit fc1 1088x128x64 NT", 0, 1, 1088, 128, 64, 1},
    {"vit fc2 1088x64x128 NT", 0, 1, 1088, 64, 128, 1},
    {"vit qkv dinp 1088x64x192 NN", 0, 0, 1088, 64, 192, 1},
    {"vit qkv dw 192x64x1088 TN", 1, 0, 192, 64, 1088, 1},
    {"attn scores 17x17x16 NT x256", 0, 1, 17, 17, 16, 256},
    {"attn context 17x16x17 NN x256", 0, 0, 17, 16, 17, 256},
    {"task mlp 64x128x784 NT", 0, 1, 64, 128, 784, 1},
    {"adapter 64x128x256 NT", 0, 1, 64, 128, 256, 1},
    {"adapter head 64x10x128 NT", 0, 1, 64, 10, 128, 1},
};
#define BENCH_GEMM_NSHAPES ((int)(sizeof k_bench_gemm_shapes / sizeof k_bench_gemm_shapes[0]))

#endif
