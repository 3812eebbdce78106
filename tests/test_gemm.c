/* GEMM on every path the device offers (CLBlast; OpenBLAS inside the queue
 * where it applies) against a host reference in double: odd shapes, all four
 * transposes, alpha/beta, operands at odd offsets of one shared buffer or of
 * two or three buffers (every float but C's must stay untouched), strided
 * batches (B shared with stride 0), operands past float 2^31 of a buffer
 * (CLBlast then gets sub-buffers), the path API, pairs (levi_gemm2) with
 * leading dimensions, and
 * two contexts side by side (POCL_DEVICES="pthread pthread": two devices):
 * concurrent first calls, and destroying one keeps the other's programs. */
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static int small(void) {
    const char *s = getenv("LEVI_TEST_SMALL");
    return s && *s && strcmp(s, "0") != 0;
}

/* The paths to test on ctx: CLBlast always, OpenBLAS where it applies. */
static int paths(const levi_ctx *ctx, levi_gemm_path *out) {
    int n = 0;
    out[n++] = LEVI_GEMM_CLBLAST;
    if (levi_gemm_openblas_applies(ctx, NULL)) out[n++] = LEVI_GEMM_OPENBLAS;
    return n;
}

/* One (batched) product laid out in one host image of a shared buffer. */
typedef struct layout {
    int ta, tb, M, N, K, batch;
    size_t off_a, off_b, off_c, sa, sb, sc; /* floats */
    size_t total;                          /* floats in the buffer */
} layout;

static size_t mat(int rows, int cols) { return (size_t)rows * (size_t)cols; }

/* A, B, C one after another from float `first`, with odd gaps; batch
 * strides leave a gap of 3 floats (B: stride 0 when shared_b). */
static layout make_layout(int ta, int tb, int M, int N, int K, int batch, size_t first, int shared_b) {
    layout L = {ta, tb, M, N, K, batch, 0, 0, 0, 0, 0, 0, 0};
    L.sa = mat(M, K) + 3, L.sb = shared_b ? 0 : mat(K, N) + 3, L.sc = mat(M, N) + 3;
    L.off_a = first + 5;
    L.off_b = L.off_a + (size_t)(batch - 1) * L.sa + mat(M, K) + 7;
    L.off_c = L.off_b + (size_t)(batch - 1) * L.sb + mat(K, N) + 11;
    L.total = L.off_c + (size_t)(batch - 1) * L.sc + mat(M, N) + 13;
    return L;
}

/* C = alpha op(A) op(B) + beta C for each matrix of the batch, in double;
 * img holds the buffer's floats from float `lo` on. */
static void reference(double *out, const float *img, size_t lo, const layout *L, float alpha, float beta) {
    int lda = L->ta ? L->M : L->K, ldb = L->tb ? L->K : L->N;
    for (int b = 0; b < L->batch; b++) {
        const float *A = img + (L->off_a - lo) + (size_t)b * L->sa, *B = img + (L->off_b - lo) + (size_t)b * L->sb;
        const float *C = img + (L->off_c - lo) + (size_t)b * L->sc;
        double *O = out + (size_t)b * mat(L->M, L->N);
        for (int i = 0; i < L->M; i++)
            for (int j = 0; j < L->N; j++) {
                double acc = 0;
                for (int k = 0; k < L->K; k++) {
                    double a = L->ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                    double bb = L->tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                    acc += a * bb;
                }
                O[(size_t)i * L->N + j] = alpha * acc + (beta != 0 ? beta * (double)C[(size_t)i * L->N + j] : 0);
            }
    }
}

#define FAIL(...) (snprintf(msg, len, __VA_ARGS__), 1)

/* Which buffers hold the operands: all in one, or A, B and C each in its
 * own (created C first, so the runtime's order differs from A, B, C), or A
 * and C in one with B in another (a layer's activations and weights). */
enum { ONE_BUFFER, THREE_BUFFERS, A_C_SHARED, NLAYOUTS };

/* Run the product on ctx through `path` with the operands in the buffers
 * `bufs` says (ONE_BUFFER: `buf`, or a fresh one when NULL; else fresh
 * ones), each holding the same image of floats lo..L->total, and compare: C
 * against the reference (test_diff_fd, 1e-5 + 1e-5 max|ref|), every other
 * float of every buffer unchanged. 0 when it passed, else 1 with a message:
 * usable from any thread. */
static int gemm_case(levi_ctx *ctx, levi_gemm_path path, const layout *L, float alpha, float beta, cl_mem buf,
                     int bufs, int batched_api, char *msg, size_t len) {
    static const int which[NLAYOUTS][3] = {{0, 0, 0}, {2, 1, 0}, {1, 0, 1}}; /* buffer of A, B, C */
    int nb = bufs == ONE_BUFFER ? 1 : bufs == THREE_BUFFERS ? 3 : 2;
    if (levi_gemm_set_path(ctx, path) != LEVI_OK) return FAIL("set_path: %s", levi_last_error());
    if (levi_gemm_get_path(ctx) != path) return FAIL("get_path is not %s", levi_gemm_path_name(path));
    size_t lo = L->off_a - 5, n = L->total - lo; /* the range this case owns */
    float *img = malloc(sizeof(float) * n), *got = malloc(sizeof(float) * n);
    double *want = malloc(sizeof(double) * mat(L->M, L->N) * (size_t)L->batch);
    if (!img || !got || !want) return FAIL("out of host memory");
    test_fill_uniform(img, n, (unsigned)(L->M * 31 + L->N * 7 + L->K), -1, 1);
    reference(want, img, lo, L, alpha, beta);
    cl_mem b[3] = {buf, NULL, NULL}, own[3] = {NULL, NULL, NULL};
    int rc = 0;
    for (int i = 0; i < nb && !rc; i++) {
        if (!b[i] && levi_buffer_alloc(ctx, sizeof(float) * L->total, &own[i]) != LEVI_OK)
            rc = FAIL("alloc: %s", levi_last_error());
        if (!b[i]) b[i] = own[i];
        if (!rc && clEnqueueWriteBuffer(ctx->queue, b[i], CL_TRUE, lo * sizeof(float), n * sizeof(float), img, 0,
                                        NULL, NULL) != CL_SUCCESS)
            rc = FAIL("clEnqueueWriteBuffer failed");
    }
    const int *w = which[bufs];
    int one = 1;
    levi_tensor A = levi_tensor_view(ctx, b[w[0]], L->off_a, 1, &one), B = levi_tensor_view(ctx, b[w[1]], L->off_b, 1, &one),
                C = levi_tensor_view(ctx, b[w[2]], L->off_c, 1, &one);
    A.numel = L->total - L->off_a, B.numel = L->total - L->off_b, C.numel = L->total - L->off_c;
    levi_status st = LEVI_OK;
    if (!rc && L->batch == 1 && !batched_api)
        st = levi_gemm(ctx, L->ta, L->tb, L->M, L->N, L->K, alpha, &A, &B, beta, &C);
    else if (!rc)
        st = levi_gemm_batched(ctx, L->ta, L->tb, L->M, L->N, L->K, alpha, &A, L->sa, &B, L->sb, beta, &C, L->sc,
                               L->batch);
    if (!rc && st != LEVI_OK) rc = FAIL("GEMM: %s: %s", levi_status_name(st), levi_last_error());
    size_t nc = mat(L->M, L->N) * (size_t)L->batch;
    float *got_c = malloc(sizeof(float) * nc);
    if (!got_c) rc = FAIL("out of host memory");
    for (int ib = 0; ib < nb && !rc; ib++) {
        if (clEnqueueReadBuffer(ctx->queue, b[ib], CL_TRUE, lo * sizeof(float), n * sizeof(float), got, 0, NULL,
                                NULL) != CL_SUCCESS) {
            rc = FAIL("clEnqueueReadBuffer failed");
            break;
        }
        for (size_t i = lo; !rc && i < L->total; i++) {
            float g = got[i - lo], was = img[i - lo];
            size_t r = i - L->off_c;
            if (ib == w[2] && i >= L->off_c && r / L->sc < (size_t)L->batch && r % L->sc < mat(L->M, L->N))
                got_c[(r / L->sc) * mat(L->M, L->N) + r % L->sc] = g;
            else if (g != was)
                rc = FAIL("%s %dx%dx%d x%d t%d%d: float %zu of buffer %d (not C) changed (%g -> %g)",
                          levi_gemm_path_name(path), L->M, L->N, L->K, L->batch, L->ta, L->tb, i, ib, was, g);
        }
    }
    if (!rc) {
        /* the suites' one comparison (a NaN or an infinity fails) */
        test_diff d = test_diff_fd(got_c, want, nc, 1e-5, 1e-5);
        if (!d.ok)
            rc = FAIL("%s %dx%dx%d x%d t%d%d alpha %g beta %g, buffers %d: C[%zu] = %g, want %g (tolerance %g)",
                      levi_gemm_path_name(path), L->M, L->N, L->K, L->batch, L->ta, L->tb, alpha, beta, bufs, d.at,
                      d.got_at, d.ref_at, d.tol);
    }
    free(got_c);
    for (int i = 0; i < 3; i++)
        if (own[i]) clReleaseMemObject(own[i]);
    free(img), free(got), free(want);
    return rc;
}

static void run_case(levi_ctx *ctx, levi_gemm_path path, const layout *L, float alpha, float beta, cl_mem buf,
                     int bufs, int batched_api) {
    char msg[512] = "";
    ck_assert_msg(gemm_case(ctx, path, L, alpha, beta, buf, bufs, batched_api, msg, sizeof msg) == 0, "%s", msg);
}

static levi_ctx *g_ctx;

static void setup(void) { g_ctx = test_ctx(); }
static void teardown(void) {
    levi_ctx_destroy(g_ctx);
    g_ctx = NULL;
}

START_TEST(odd_shapes_all_transposes) {
    static const int shapes[][3] = {{1, 1, 1}, {7, 13, 5}, {33, 17, 65}, {67, 45, 33}, {130, 3, 257}};
    static const float ab[][2] = {{1.0f, 0.0f}, {-0.75f, 0.5f}};
    /* small (Oclgrind interprets CLBlast's kernels): fewer shapes, one alpha/beta each */
    int nshapes = small() ? 2 : 5;
    levi_gemm_path p[2];
    int np = paths(g_ctx, p);
    for (int ip = 0; ip < np; ip++)
        for (int s = 0; s < nshapes; s++)
            for (int t = 0; t < 4; t++)
                for (int k = small() ? (s + t) % 2 : 0; k < 2; k += small() ? 2 : 1) {
                    layout L = make_layout(t >> 1, t & 1, shapes[s][0], shapes[s][1], shapes[s][2], 1, 0, 0);
                    run_case(g_ctx, p[ip], &L, ab[k][0], ab[k][1], NULL, (s + t + k) % NLAYOUTS, 0);
                }
}
END_TEST

START_TEST(strided_batches) {
    levi_gemm_path p[2];
    int np = paths(g_ctx, p);
    for (int ip = 0; ip < np; ip++)
        for (int t = 0; t < 4; t++) {
            layout L = make_layout(t >> 1, t & 1, 17, 9, 16, 5, 0, 0);
            run_case(g_ctx, p[ip], &L, 0.25f, 0.0f, NULL, THREE_BUFFERS, 1);
            layout S = make_layout(t >> 1, t & 1, 5, 17, 17, 4, 0, 1); /* one B for every matrix */
            run_case(g_ctx, p[ip], &S, 1.0f, -1.0f, NULL, A_C_SHARED, 1);
        }
    /* a batch of one through the batched routine */
    layout one = make_layout(0, 1, 9, 8, 7, 1, 0, 0);
    for (int ip = 0; ip < np; ip++) run_case(g_ctx, p[ip], &one, 1.0f, 0.5f, NULL, ONE_BUFFER, 1);
    if (small()) return;
    /* attention-sized batches (OpenBLAS: halves side by side, odd and shared-B ones too) */
    for (int ip = 0; ip < np; ip++) {
        layout L = make_layout(0, 1, 17, 17, 16, 257, 0, 0);
        run_case(g_ctx, p[ip], &L, 1.0f, 0.0f, NULL, THREE_BUFFERS, 1);
        layout S = make_layout(1, 0, 17, 16, 17, 256, 0, 1);
        run_case(g_ctx, p[ip], &S, 0.5f, 1.0f, NULL, A_C_SHARED, 1);
    }
    ck_assert_levi_ok(levi_gemm_set_path(g_ctx, LEVI_GEMM_AUTO));
}
END_TEST

/* OpenBLAS: a batch computes, bit for bit, what its products compute one by
 * one (each on one thread, wherever it runs). */
START_TEST(batch_bits_as_alone) {
    if (!levi_gemm_openblas_applies(g_ctx, NULL) || small()) return;
    const int M = 17, N = 17, K = 16, nb = 129;
    const size_t na = (size_t)M * K * nb, nbb = (size_t)K * N * nb, nc = (size_t)M * N * nb;
    float *h = malloc(sizeof(float) * (na + nbb)), *c1 = malloc(sizeof(float) * nc), *c2 = malloc(sizeof(float) * nc);
    ck_assert_msg(h && c1 && c2, "out of host memory");
    test_fill_uniform(h, na + nbb, 11, -1, 1);
    levi_tensor A, B, C1, C2;
    ck_assert_levi_ok(levi_tensor_alloc1(&A, g_ctx, (int)na));
    ck_assert_levi_ok(levi_tensor_alloc1(&B, g_ctx, (int)nbb));
    ck_assert_levi_ok(levi_tensor_alloc1(&C1, g_ctx, (int)nc));
    ck_assert_levi_ok(levi_tensor_alloc1(&C2, g_ctx, (int)nc));
    ck_assert_levi_ok(levi_tensor_write(&A, h));
    ck_assert_levi_ok(levi_tensor_write(&B, h + na));
    ck_assert_levi_ok(levi_gemm_set_path(g_ctx, LEVI_GEMM_OPENBLAS));
    ck_assert_levi_ok(levi_gemm_batched(g_ctx, 0, 1, M, N, K, 1.0f, &A, (size_t)M * K, &B, (size_t)K * N, 0.0f, &C1,
                                        (size_t)M * N, nb));
    for (int b = 0; b < nb; b++) {
        levi_tensor a = A, bb = B, c = C2;
        a.offset += (size_t)b * M * K, a.numel = (size_t)M * K;
        bb.offset += (size_t)b * K * N, bb.numel = (size_t)K * N;
        c.offset += (size_t)b * M * N, c.numel = (size_t)M * N;
        ck_assert_levi_ok(levi_gemm(g_ctx, 0, 1, M, N, K, 1.0f, &a, &bb, 0.0f, &c));
    }
    ck_assert_levi_ok(levi_tensor_read(&C1, c1));
    ck_assert_levi_ok(levi_tensor_read(&C2, c2));
    for (size_t i = 0; i < nc; i++)
        ck_assert_msg(memcmp(&c1[i], &c2[i], sizeof(float)) == 0 && isfinite(c1[i]),
                      "batched %dx%dx%d x%d: float %zu is %.9g, alone %.9g", M, N, K, nb, i, c1[i], c2[i]);
    levi_tensor_free(&A), levi_tensor_free(&B), levi_tensor_free(&C1), levi_tensor_free(&C2);
    free(h), free(c1), free(c2);
    ck_assert_levi_ok(levi_gemm_set_path(g_ctx, LEVI_GEMM_AUTO));
}
END_TEST

START_TEST(bad_arguments) {
    levi_tensor A, C;
    ck_assert_levi_ok(levi_tensor_alloc1(&A, g_ctx, 12));
    ck_assert_levi_ok(levi_tensor_alloc1(&C, g_ctx, 8));
    ck_assert_int_eq(levi_gemm(g_ctx, 0, 0, 0, 2, 2, 1, &A, &A, 0, &C), LEVI_ERR_INVALID_ARG);
    /* 3x4 · 4x3 needs C of 9 floats */
    ck_assert_int_eq(levi_gemm(g_ctx, 0, 0, 3, 3, 4, 1, &A, &A, 0, &C), LEVI_ERR_SHAPE);
    ck_assert_msg(strstr(levi_last_error(), "need 12, 12, 9"), "message: %s", levi_last_error());
    /* a batch of 2 with stride 6 needs 6 + 3*2 floats of A and 6 + 2*2 of C */
    ck_assert_levi_ok(levi_gemm_batched(g_ctx, 0, 0, 2, 2, 3, 1, &A, 6, &A, 6, 0, &C, 4, 2));
    ck_assert_int_eq(levi_gemm_batched(g_ctx, 0, 0, 2, 2, 3, 1, &A, 7, &A, 6, 0, &C, 4, 2), LEVI_ERR_SHAPE);
    ck_assert_int_eq(levi_gemm_batched(g_ctx, 0, 0, 2, 2, 3, 1, &A, 6, &A, 6, 0, &C, 4, 0), LEVI_ERR_INVALID_ARG);
    levi_tensor none = {0};
    ck_assert_int_eq(levi_gemm(g_ctx, 0, 0, 1, 1, 1, 1, &none, &A, 0, &C), LEVI_ERR_INVALID_ARG);
    ck_assert_levi_ok(levi_finish(g_ctx));
    levi_tensor_free(&A);
    levi_tensor_free(&C);
}
END_TEST

/* Operands past float 2^31 (byte 8 GiB) of a buffer, C straddling it: past
 * CLBlast's int offsets (a sub-buffer then) and 32-bit byte offsets. PoCL
 * offers a quarter of the memory hwloc reports in one allocation: main()
 * describes 64 GB to hwloc unless HWLOC_SYNTHETIC is set; pages are
 * committed only where written. Elsewhere the last operand ends at the
 * largest buffer the device allows. A failing allocation skips: that is the
 * machine, not GEMM. */
START_TEST(offsets_past_2_31) {
    const size_t two31 = (size_t)1 << 31, max_floats = g_ctx->info.max_alloc / sizeof(float);
    layout L0 = make_layout(0, 1, 33, 17, 40, 2, 0, 0);
    size_t total = two31 + ((size_t)1 << 20) <= max_floats ? two31 + ((size_t)1 << 20) : max_floats;
    if (small() || total < two31 / 2) {
        fprintf(stderr, "offsets_past_2_31: '%s' allows %llu bytes per buffer: skipped\n", g_ctx->info.name,
                g_ctx->info.max_alloc);
        return;
    }
#ifdef M_PERTURB
    /* meson's MALLOC_PERTURB_ would make malloc fill (touch) all of it */
    mallopt(M_PERTURB, 0);
#endif
    cl_mem buf = NULL;
    /* runtimes may reserve the memory at the first write: a machine without
     * the memory to spare skips */
    float probe = 0;
    if (levi_buffer_alloc(g_ctx, total * sizeof(float), &buf) != LEVI_OK ||
        clEnqueueWriteBuffer(g_ctx->queue, buf, CL_TRUE, (total - 1) * sizeof(float), sizeof probe, &probe, 0, NULL,
                             NULL) != CL_SUCCESS) {
        fprintf(stderr, "offsets_past_2_31: cannot use a buffer of %zu bytes on '%s': skipped\n",
                total * sizeof(float), g_ctx->info.name);
        if (buf) clReleaseMemObject(buf);
        return;
    }
    /* every operand past 2^31; C straddling 2^31; or (smaller buffers) the
     * last operand ending at the buffer's last float */
    size_t first[2] = {two31 + 37, two31 - L0.off_c - 100};
    int nfirst = 2;
    if (total <= two31) first[0] = total - L0.total, nfirst = 1;
    levi_gemm_path p[2];
    int np = paths(g_ctx, p);
    for (int f = 0; f < nfirst; f++) {
        layout L = make_layout(0, 1, 33, 17, 40, 2, first[f], 0);
        ck_assert_uint_le(L.total, total);
        fprintf(stderr, "offsets_past_2_31: buffer of %zu floats, A at float %zu, C at %zu..%zu\n", total, L.off_a,
                L.off_c, L.total);
        for (int ip = 0; ip < np; ip++) run_case(g_ctx, p[ip], &L, 1.0f, 0.25f, buf, ONE_BUFFER, 1);
    }
    clReleaseMemObject(buf);
}
END_TEST

START_TEST(path_api) {
    levi_gemm_path p;
    ck_assert_levi_ok(levi_gemm_path_parse("OpenBLAS", "test", &p));
    ck_assert_int_eq(p, LEVI_GEMM_OPENBLAS);
    ck_assert_levi_ok(levi_gemm_path_parse("clblast", "test", &p));
    ck_assert_int_eq(p, LEVI_GEMM_CLBLAST);
    ck_assert_int_eq(levi_gemm_path_parse("cublas", "LEVI_GEMM", &p), LEVI_ERR_INVALID_ARG);
    ck_assert_msg(strstr(levi_last_error(), "LEVI_GEMM: 'cublas'"), "message: %s", levi_last_error());
    const char *why = NULL;
    int applies = levi_gemm_openblas_applies(g_ctx, &why);
    ck_assert_levi_ok(levi_gemm_set_path(g_ctx, LEVI_GEMM_AUTO));
    ck_assert_int_eq(levi_gemm_get_path(g_ctx), applies ? LEVI_GEMM_OPENBLAS : LEVI_GEMM_CLBLAST);
    if (!applies) {
        ck_assert_ptr_nonnull(why);
        ck_assert_int_eq(levi_gemm_set_path(g_ctx, LEVI_GEMM_OPENBLAS), LEVI_ERR_UNSUPPORTED);
        ck_assert_msg(strstr(levi_last_error(), why), "message: %s", levi_last_error());
    }
    /* on PoCL built with OpenBLAS the path must apply */
    if (levi_gemm_have_openblas() && strstr(g_ctx->info.platform_name, "Portable Computing Language"))
        ck_assert_msg(applies, "OpenBLAS does not apply on '%s': %s", g_ctx->info.name, why);
    /* LEVI_GEMM chooses for new contexts; a bad value names the variable */
    setenv("LEVI_GEMM", "clblast", 1);
    levi_ctx *c2 = test_ctx();
    ck_assert_int_eq(levi_gemm_get_path(c2), LEVI_GEMM_CLBLAST);
    levi_ctx_destroy(c2);
    setenv("LEVI_GEMM", "fastest", 1);
    ck_assert_int_eq(levi_ctx_open(&c2, NULL), LEVI_ERR_INVALID_ARG);
    ck_assert_msg(strstr(levi_last_error(), "LEVI_GEMM"), "message: %s", levi_last_error());
    unsetenv("LEVI_GEMM");
}
END_TEST

/* levi_gemm2 and leading dimensions: a layer's input gradient of a block of
 * columns (B = w[:, c0:] with ldb the full row, C with ldc past its row) and
 * its weight gradient (accumulated), as one pair: small, of the size that
 * runs side by side on OpenBLAS, and large enough to run in turn. Floats of C
 * outside its columns stay untouched. */
static void pair_case(levi_gemm_path path, int N, int C, int OC, int c0) {
    const int cols = C - c0, ldc = cols + 3;
    size_t nd = (size_t)N * OC, nw = (size_t)OC * C, nx = (size_t)N * ldc, ni = (size_t)N * C;
    float *dout = malloc(nd * 4), *w = malloc(nw * 4), *dx = malloc(nx * 4), *inp = malloc(ni * 4), *dw = malloc(nw * 4);
    double *rx = malloc(nx * 8), *rw = malloc(nw * 8);
    for (size_t i = 0; i < nd; i++) dout[i] = (float)((i * 37) % 17) / 8.0f - 1.0f;
    for (size_t i = 0; i < nw; i++) w[i] = (float)((i * 11) % 13) / 6.0f - 1.0f, dw[i] = (float)(i % 5) - 2.0f;
    for (size_t i = 0; i < ni; i++) inp[i] = (float)((i * 7) % 19) / 9.0f - 1.0f;
    for (size_t i = 0; i < nx; i++) dx[i] = 100.0f + (float)(i % 3);
    for (int r = 0; r < N; r++)
        for (int j = 0; j < ldc; j++) {
            double acc = 0;
            for (int o = 0; o < OC && j < cols; o++) acc += (double)dout[(size_t)r * OC + o] * w[(size_t)o * C + c0 + j];
            rx[(size_t)r * ldc + j] = j < cols ? acc : dx[(size_t)r * ldc + j];
        }
    for (int o = 0; o < OC; o++)
        for (int j = 0; j < C; j++) {
            double acc = dw[(size_t)o * C + j];
            for (int r = 0; r < N; r++) acc += (double)dout[(size_t)r * OC + o] * inp[(size_t)r * C + j];
            rw[(size_t)o * C + j] = acc;
        }
    levi_tensor td, tw, tx, ti, tg;
    ck_assert_levi_ok(levi_tensor_alloc1(&td, g_ctx, (int)nd));
    ck_assert_levi_ok(levi_tensor_alloc1(&tw, g_ctx, (int)nw));
    ck_assert_levi_ok(levi_tensor_alloc1(&tx, g_ctx, (int)nx));
    ck_assert_levi_ok(levi_tensor_alloc1(&ti, g_ctx, (int)ni));
    ck_assert_levi_ok(levi_tensor_alloc1(&tg, g_ctx, (int)nw));
    ck_assert_levi_ok(levi_tensor_write(&td, dout));
    ck_assert_levi_ok(levi_tensor_write(&tw, w));
    ck_assert_levi_ok(levi_tensor_write(&tx, dx));
    ck_assert_levi_ok(levi_tensor_write(&ti, inp));
    ck_assert_levi_ok(levi_tensor_write(&tg, dw));
    ck_assert_levi_ok(levi_gemm_set_path(g_ctx, path));
    levi_tensor wc = tw;
    wc.offset += (size_t)c0, wc.numel -= (size_t)c0;
    levi_gemm_op gx = {0, 0, N, cols, OC, 1.0f, 0.0f, &td, &wc, &tx, 0, (size_t)C, (size_t)ldc};
    levi_gemm_op gw = {1, 0, OC, C, N, 1.0f, 1.0f, &td, &ti, &tg, 0, 0, 0};
    ck_assert_levi_ok(levi_gemm2(g_ctx, &gx, &gw));
    ck_assert_levi_ok(levi_tensor_read(&tx, dx));
    ck_assert_levi_ok(levi_tensor_read(&tg, dw));
    char what[96];
    snprintf(what, sizeof what, "pair dx %dx%dx%d from col %d (%s)", N, cols, OC, c0, levi_gemm_path_name(path));
    test_check_close(what, dx, rx, nx, 1e-4, 1e-5);
    snprintf(what, sizeof what, "pair dw %dx%dx%d (%s)", OC, C, N, levi_gemm_path_name(path));
    test_check_close(what, dw, rw, nw, 1e-4, 1e-5);
    /* a leading dimension below the row, and B's block past its buffer */
    gx.ldb = (size_t)cols - 1;
    ck_assert_int_eq(levi_gemm2(g_ctx, &gx, &gw), LEVI_ERR_SHAPE);
    gx.ldb = (size_t)C + 1;
    ck_assert_int_eq(levi_gemm_ld(g_ctx, 0, 0, N, cols, OC, 1.0f, &td, 0, &wc, gx.ldb, 0.0f, &tx, (size_t)ldc),
                     LEVI_ERR_SHAPE);
    levi_tensor *ts[] = {&td, &tw, &tx, &ti, &tg};
    for (int i = 0; i < 5; i++) levi_tensor_free(ts[i]);
    free(dout), free(w), free(dx), free(inp), free(dw), free(rx), free(rw);
}

START_TEST(pairs_and_leading_dims) {
    levi_gemm_path p[2];
    int np = paths(g_ctx, p);
    for (int ip = 0; ip < np; ip++) {
        pair_case(p[ip], 5, 9, 7, 4);
        if (small()) continue;
        pair_case(p[ip], 64, 192, 128, 64); /* 1M and 1.5M multiply-adds: side by side */
        pair_case(p[ip], 300, 200, 150, 0); /* 9M multiply-adds each: in turn */
    }
    ck_assert_levi_ok(levi_gemm_set_path(g_ctx, LEVI_GEMM_AUTO));
}
END_TEST

/* --- two contexts ------------------------------------------------------------------ */

typedef struct worker {
    levi_ctx *ctx;
    levi_gemm_path path;
    int failed;
    char msg[512];
} worker;

static void *work(void *arg) {
    worker *w = arg;
    /* first calls of both routines race with the other context's */
    layout L = make_layout(0, 1, 37, 21, 19, 1, 0, 0), B = make_layout(1, 0, 8, 9, 10, 3, 0, 0);
    for (int r = 0; r < 3 && !w->failed; r++) {
        w->failed = gemm_case(w->ctx, w->path, &L, 1.0f, 0.0f, NULL, THREE_BUFFERS, 0, w->msg, sizeof w->msg);
        if (!w->failed) w->failed = gemm_case(w->ctx, w->path, &B, 0.5f, 1.0f, NULL, A_C_SHARED, 1, w->msg,
                                                    sizeof w->msg);
    }
    return NULL;
}

static cl_uint context_refs(cl_context c) {
    cl_uint n = 0;
    ck_assert_int_eq(clGetContextInfo(c, CL_CONTEXT_REFERENCE_COUNT, sizeof n, &n, NULL), CL_SUCCESS);
    return n;
}

START_TEST(two_contexts) {
    levi_device_list list;
    ck_assert_levi_ok(levi_device_list_query(&list));
    levi_ctx *c[2];
    ck_assert_levi_ok(levi_ctx_create(&c[0], &list.devices[0]));
    ck_assert_levi_ok(levi_ctx_create(&c[1], &list.devices[list.count > 1 ? 1 : 0]));
    fprintf(stderr, "two_contexts: '%s' and '%s'%s\n", c[0]->info.name, c[1]->info.name,
            list.count > 1 ? "" : " (one device: two contexts on it)");
    levi_device_list_free(&list);
    levi_gemm_path p[2], p1[2];
    int np = paths(c[0], p), np1 = paths(c[1], p1);
    for (int ip = 0; ip < np && ip < np1; ip++) {
        worker w[2] = {{c[0], p[ip], 0, ""}, {c[1], p[ip], 0, ""}};
        pthread_t t[2];
        /* Oclgrind's runtime is not thread-safe (its issue #28): one after the other there */
        int serial = strstr(c[0]->info.platform_name, "Oclgrind") != NULL;
        for (int i = 0; i < 2; i++) {
            ck_assert_int_eq(pthread_create(&t[i], NULL, work, &w[i]), 0);
            if (serial) pthread_join(t[i], NULL);
        }
        for (int i = 0; i < 2 && !serial; i++) pthread_join(t[i], NULL);
        for (int i = 0; i < 2; i++) ck_assert_msg(!w[i].failed, "context %d: %s", i, w[i].msg);
    }
    /* CLBlast's cached programs hold their context: destroying c[0] must
     * leave c[1]'s alone, and the last destroy releases c[0]'s too */
    ck_assert_levi_ok(levi_gemm_set_path(c[1], LEVI_GEMM_CLBLAST));
    cl_context first = c[0]->context;
    ck_assert_int_eq(clRetainContext(first), CL_SUCCESS);
    cl_uint refs1 = context_refs(c[1]->context);
    ck_assert_uint_gt(refs1, 1); /* programs compiled for c[1] */
    levi_ctx_destroy(c[0]);
    ck_assert_uint_eq(context_refs(c[1]->context), refs1);
    layout L = make_layout(0, 0, 5, 6, 7, 1, 0, 0);
    run_case(c[1], LEVI_GEMM_CLBLAST, &L, 1.0f, 0.0f, NULL, ONE_BUFFER, 0);
    ck_assert_uint_gt(context_refs(first), 1); /* c[0]'s programs wait for the last context */
    levi_ctx_destroy(c[1]);
    ck_assert_uint_eq(context_refs(first), 1); /* only ours is left */
    clReleaseContext(first);
}
END_TEST

int main(void) {
    if (!getenv("HWLOC_SYNTHETIC")) { /* see offsets_past_2_31 */
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        char topo[128];
        snprintf(topo, sizeof topo, "numa:1(memory=64GB) pack:1 core:%ld pu:1", cores > 0 ? cores : 1);
        setenv("HWLOC_SYNTHETIC", topo, 1);
    }
    Suite *s = suite_create("gemm");
    int device = test_have_device();
    if (device) {
        TCase *tc = tcase_create("device");
        tcase_add_unchecked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, odd_shapes_all_transposes);
        tcase_add_test(tc, strided_batches);
        tcase_add_test(tc, batch_bits_as_alone);
        tcase_add_test(tc, bad_arguments);
        tcase_add_test(tc, offsets_past_2_31);
        tcase_add_test(tc, path_api);
        tcase_add_test(tc, pairs_and_leading_dims);
        suite_add_tcase(s, tc);
        TCase *two = tcase_create("two contexts");
        tcase_set_timeout(two, 300);
        tcase_add_test(two, two_contexts);
        suite_add_tcase(s, two);
    }
    return test_finish(s, device);
}
