/* Ops on views beyond 2^31 floats (8 GiB) into one buffer, against host
 * references: every offset, size and index must be 64-bit safe on the host,
 * in our kernels and in what the GEMM library is given (CLBlast 1.5 takes
 * offsets as 32-bit ints; a ViT-B/16 trained at batch 64 has its last
 * block's activations there and crashed on a GPU).
 *
 * One buffer of 2^31 + 2^22 floats is allocated and never zero-filled:
 * only the pages the tests touch are committed. The test is skipped (exit
 * 77) when the device cannot allocate that much. PoCL sizes its memory
 * from hwloc and offers at most a quarter of it in one allocation, so
 * unless HWLOC_SYNTHETIC is already set, main() describes this machine's
 * cores with 64 GB to hwloc before the first OpenCL call (pages are
 * committed on touch, so nothing near that is used). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops_check.h"

#define BIG ((size_t)1 << 31)
#define BUF_FLOATS (BIG + ((size_t)1 << 22))

static cl_mem g_buf;

/* A view of g_buf at `off` holding host[0..n) (zeros when host is NULL). */
static levi_tensor put(size_t off, const float *host, size_t n) {
    int shape = (int)n;
    levi_tensor t = levi_tensor_view(ops_ctx, g_buf, off, 1, &shape);
    float *z = NULL;
    if (!host) host = z = calloc(n, sizeof(float));
    ck_assert_ptr_nonnull(host);
    ck_assert_levi_ok(levi_tensor_write(&t, host));
    free(z);
    return t;
}

/* Offsets for the operands of one test: beyond 2^31, apart, not aligned. */
static size_t at(int i) { return BIG + 37 + (size_t)i * 300000; }

static void gemm_ref(double *c, int ta, int tb, int M, int N, int K, const float *a, const float *b) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++)
                s += (double)(ta ? a[(size_t)k * M + i] : a[(size_t)i * K + k]) *
                     (tb ? b[(size_t)j * K + k] : b[(size_t)k * N + j]);
            c[(size_t)i * N + j] = s;
        }
}

/* GEMM with each operand beyond 2^31, and with C straddling it. */
START_TEST(gemm_beyond_2g) {
    const int M = 67, N = 45, K = 33;
    float *a = ops_rand((size_t)M * K, 1, -1, 1), *b = ops_rand((size_t)K * N, 2, -1, 1);
    double *ref = ops_dalloc((size_t)M * N);
    const size_t c_offs[2] = {at(3), BIG - 1000};
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int s = 0; s < 2; s++) {
                levi_tensor A = put(at(1), a, (size_t)M * K), B = put(at(2), b, (size_t)K * N);
                levi_tensor C = put(c_offs[s], NULL, (size_t)M * N);
                ck_assert_levi_ok(levi_gemm(ops_ctx, ta, tb, M, N, K, 1.0f, &A, &B, 0.0f, &C));
                float *got = ops_download(&C, (size_t)M * N);
                gemm_ref(ref, ta, tb, M, N, K, a, b);
                char what[64];
                snprintf(what, sizeof what, "gemm ta=%d tb=%d C at %zu", ta, tb, c_offs[s]);
                test_check_close(what, got, ref, (size_t)M * N, 1e-5, 1e-5);
                free(got);
            }
    free(a), free(b), free(ref);
}
END_TEST

/* batched GEMM: matrix i at offset + i*stride, all beyond 2^31 */
START_TEST(gemm_batched_beyond_2g) {
    const int M = 13, N = 17, K = 9, batch = 3;
    const size_t sa = 200, sb = 160, sc = 250;
    float *a = ops_rand(sa * batch, 13, -1, 1), *b = ops_rand(sb * batch, 14, -1, 1);
    levi_tensor A = put(at(0), a, sa * batch), B = put(at(1), b, sb * batch), C = put(at(2), NULL, sc * batch);
    ck_assert_levi_ok(levi_gemm_batched(ops_ctx, 0, 1, M, N, K, 1.0f, &A, sa, &B, sb, 0.0f, &C, sc, batch));
    float *got = ops_download(&C, sc * batch);
    double *ref = ops_dalloc((size_t)M * N);
    for (int i = 0; i < batch; i++) {
        gemm_ref(ref, 0, 1, M, N, K, a + i * sa, b + i * sb);
        test_check_close("batched gemm", got + i * sc, ref, (size_t)M * N, 1e-5, 1e-5);
    }
    free(a), free(b), free(got), free(ref);
}
END_TEST

/* an arena beyond 2^31 floats seen whole keeps its exact size */
START_TEST(arena_all_beyond_2g) {
    levi_arena a;
    levi_arena_init(&a, ops_ctx, "test");
    levi_arena_reserve(&a, 1000);
    size_t off = levi_arena_reserve(&a, BIG);
    ck_assert_uint_eq(off, 1024);
    a.buf = g_buf; /* not committed: the test's buffer stands in */
    levi_tensor all = levi_arena_all(&a);
    ck_assert_uint_eq(all.numel, BIG + 1024);
    ck_assert_uint_eq((size_t)all.shape[0] * (size_t)all.shape[1], all.numel);
}
END_TEST

/* linear forward and backward (dx, dw, db accumulate) with every tensor beyond 2^31 */
START_TEST(linear_beyond_2g) {
    const int N = 50, C = 40, OC = 30;
    const size_t nx = (size_t)N * C, nw = (size_t)OC * C, no = (size_t)N * OC;
    float *x = ops_rand(nx, 3, -1, 1), *w = ops_rand(nw, 4, -1, 1), *b = ops_rand(OC, 5, -1, 1);
    float *dy = ops_rand(no, 6, -1, 1);
    levi_tensor tx = put(at(0), x, nx), tw = put(at(1), w, nw), tb = put(at(2), b, OC), ty = put(at(3), NULL, no);
    levi_tensor tdy = put(at(4), dy, no), tdx = put(at(5), NULL, nx), tdw = put(at(6), NULL, nw),
                tdb = put(at(7), NULL, OC);
    ck_assert_levi_ok(levi_linear_forward(ops_ctx, &ty, &tx, &tw, &tb, N, C, OC));
    ck_assert_levi_ok(levi_linear_backward(ops_ctx, &tdx, &tdw, &tdb, &tdy, &tx, &tw, N, C, OC));
    double *ry = ops_dalloc(no), *rdx = ops_dalloc(nx), *rdw = ops_dalloc(nw), *rdb = ops_dalloc(OC);
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double s = b[o], g = dy[n * OC + o];
            for (int c = 0; c < C; c++) {
                s += (double)x[n * C + c] * w[o * C + c];
                rdx[n * C + c] += g * w[o * C + c];
                rdw[o * C + c] += g * x[n * C + c];
            }
            ry[n * OC + o] = s;
            rdb[o] += g;
        }
    const struct {
        const char *what;
        levi_tensor *t;
        double *ref;
        size_t n;
    } out[] = {{"linear out", &ty, ry, no}, {"linear dx", &tdx, rdx, nx}, {"linear dw", &tdw, rdw, nw},
               {"linear db", &tdb, rdb, OC}};
    for (int i = 0; i < 4; i++) {
        float *got = ops_download(out[i].t, out[i].n);
        test_check_close(out[i].what, got, out[i].ref, out[i].n, 1e-5, 1e-5);
        free(got);
    }
    free(x), free(w), free(b), free(dy), free(ry), free(rdx), free(rdw), free(rdb);
}
END_TEST

/* layernorm forward + backward and softmax beyond 2^31 */
START_TEST(rows_beyond_2g) {
    const int N = 70, C = 96;
    const size_t n = (size_t)N * C;
    float *x = ops_rand(n, 7, -2, 2), *w = ops_rand(C, 8, 0.5f, 1.5f), *b = ops_rand(C, 9, -1, 1);
    float *dy = ops_rand(n, 10, -1, 1);
    levi_tensor tx = put(at(0), x, n), tw = put(at(1), w, C), tb = put(at(2), b, C), ty = put(at(3), NULL, n);
    levi_tensor tm = put(at(4), NULL, N), tr = put(at(5), NULL, N), tdy = put(at(6), dy, n);
    levi_tensor tdx = put(at(7), NULL, n), tdw = put(at(8), NULL, C), tdb = put(at(9), NULL, C);
    ck_assert_levi_ok(levi_layernorm_forward(ops_ctx, &ty, &tm, &tr, &tx, &tw, &tb, N, C, 1e-5f));
    ck_assert_levi_ok(levi_layernorm_backward(ops_ctx, &tdx, &tdw, &tdb, &tdy, &tx, &tw, &tm, &tr, N, C));
    double *ry = ops_dalloc(n), *rdx = ops_dalloc(n), *rdw = ops_dalloc(C), *rdb = ops_dalloc(C);
    for (int r = 0; r < N; r++) {
        double m = 0, v = 0, a1 = 0, a2 = 0;
        for (int c = 0; c < C; c++) m += x[r * C + c];
        m /= C;
        for (int c = 0; c < C; c++) v += (x[r * C + c] - m) * (x[r * C + c] - m);
        double rs = 1.0 / sqrt(v / C + 1e-5);
        for (int c = 0; c < C; c++) {
            double xh = (x[r * C + c] - m) * rs, g = dy[r * C + c];
            ry[r * C + c] = xh * w[c] + b[c];
            rdw[c] += g * xh;
            rdb[c] += g;
            a1 += g * w[c];
            a2 += g * w[c] * xh;
        }
        for (int c = 0; c < C; c++) {
            double xh = (x[r * C + c] - m) * rs;
            rdx[r * C + c] = (dy[r * C + c] * w[c] - a1 / C - xh * a2 / C) * rs;
        }
    }
    float *got = ops_download(&ty, n);
    test_check_close("layernorm out", got, ry, n, 1e-5, 1e-5);
    free(got);
    got = ops_download(&tdx, n);
    test_check_close("layernorm dx", got, rdx, n, 1e-5, 1e-4);
    free(got);
    got = ops_download(&tdw, C);
    test_check_close("layernorm dw", got, rdw, C, 1e-5, 1e-5);
    free(got);
    got = ops_download(&tdb, C);
    test_check_close("layernorm db", got, rdb, C, 1e-5, 1e-5);
    free(got);
    /* softmax in place on the layernorm output */
    ck_assert_levi_ok(levi_softmax_forward(ops_ctx, &ty, &tx, N, C));
    for (int r = 0; r < N; r++) {
        double mx = -INFINITY, s = 0;
        for (int c = 0; c < C; c++) mx = fmax(mx, x[r * C + c]);
        for (int c = 0; c < C; c++) s += exp(x[r * C + c] - mx);
        for (int c = 0; c < C; c++) ry[r * C + c] = exp(x[r * C + c] - mx) / s;
    }
    got = ops_download(&ty, n);
    test_check_close("softmax", got, ry, n, 1e-7, 1e-5);
    free(got);
    free(x), free(w), free(b), free(dy), free(ry), free(rdx), free(rdw), free(rdb);
}
END_TEST

/* token gather and elementwise ops beyond 2^31 */
START_TEST(tokens_beyond_2g) {
    const int B = 3, T = 11, C = 40;
    const size_t n = (size_t)B * T * C;
    float *x = ops_rand(n, 11, -3, 3), *y = ops_rand(n, 12, -1, 1);
    levi_tensor tx = put(at(0), x, n), ty = put(at(1), y, n), tg = put(at(2), NULL, n), tc = put(at(3), NULL, B * C);
    levi_tensor tmean = put(at(4), NULL, B * C);
    ck_assert_levi_ok(levi_gelu_forward(ops_ctx, &tg, &tx, n));
    ck_assert_levi_ok(levi_axpy(ops_ctx, &tg, 0.5f, &ty, n));
    ck_assert_levi_ok(levi_take_token_forward(ops_ctx, &tc, &tx, 2, B, T, C));
    ck_assert_levi_ok(levi_mean_tokens_forward(ops_ctx, &tmean, &tx, B, T, C));
    double *rg = ops_dalloc(n), *rc = ops_dalloc(B * C), *rm = ops_dalloc(B * C);
    for (size_t i = 0; i < n; i++) rg[i] = 0.5 * x[i] * (1 + erf(x[i] / sqrt(2.0))) + 0.5 * y[i];
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            rc[b * C + c] = x[((size_t)b * T + 2) * C + c];
            for (int t = 0; t < T; t++) rm[b * C + c] += x[((size_t)b * T + t) * C + c] / T;
        }
    float *got = ops_download(&tg, n);
    test_check_close("gelu + axpy", got, rg, n, 2e-6, 1e-6);
    free(got);
    got = ops_download(&tc, B * C);
    test_check_close("take token", got, rc, B * C, 0, 0);
    free(got);
    got = ops_download(&tmean, B * C);
    test_check_close("mean tokens", got, rm, B * C, 1e-6, 1e-6);
    free(got);
    free(x), free(y), free(rg), free(rc), free(rm);
}
END_TEST

static void large_setup(void) {
    ops_setup();
    ck_assert_levi_ok(levi_buffer_alloc(ops_ctx, BUF_FLOATS * sizeof(float), &g_buf));
}

static void large_teardown(void) {
    if (g_buf) clReleaseMemObject(g_buf);
    g_buf = NULL;
    ops_teardown();
}

/* 1 when the default device takes one buffer of BUF_FLOATS floats and a
 * write at its end (where a lazy runtime allocates). */
static int device_takes_big_buffer(void) {
    levi_ctx *ctx = NULL;
    if (levi_ctx_open(&ctx, NULL) != LEVI_OK) return 0;
    int ok = 0;
    if ((unsigned long long)BUF_FLOATS * sizeof(float) <= ctx->info.max_alloc) {
        cl_mem m;
        if (levi_buffer_alloc(ctx, BUF_FLOATS * sizeof(float), &m) == LEVI_OK) {
            float one = 1.0f;
            ok = clEnqueueWriteBuffer(ctx->queue, m, CL_TRUE, (BUF_FLOATS - 1) * sizeof(float), sizeof one, &one, 0,
                                      NULL, NULL) == CL_SUCCESS;
            clReleaseMemObject(m);
        }
    }
    if (!ok)
        fprintf(stderr, "'%s' cannot allocate %zu bytes in one buffer (max %llu): skipped\n", ctx->info.name,
                BUF_FLOATS * sizeof(float), ctx->info.max_alloc);
    levi_ctx_destroy(ctx);
    return ok;
}

int main(void) {
    if (!getenv("HWLOC_SYNTHETIC")) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        char topo[128];
        snprintf(topo, sizeof topo, "numa:1(memory=64GB) pack:1 core:%ld pu:1", cores > 0 ? cores : 1);
        setenv("HWLOC_SYNTHETIC", topo, 1);
    }
    if (!test_have_device()) return TEST_SKIP;
    if (!device_takes_big_buffer()) return TEST_SKIP;
    Suite *s = suite_create("ops_large");
    TCase *tc = tcase_create("beyond 2^31 floats");
    tcase_add_unchecked_fixture(tc, large_setup, large_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, gemm_beyond_2g);
    tcase_add_test(tc, gemm_batched_beyond_2g);
    tcase_add_test(tc, arena_all_beyond_2g);
    tcase_add_test(tc, linear_beyond_2g);
    tcase_add_test(tc, rows_beyond_2g);
    tcase_add_test(tc, tokens_beyond_2g);
    suite_add_tcase(s, tc);
    return test_run(s);
}
