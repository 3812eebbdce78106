/* A whole pre-LN ViT block (Hugging Face ViTLayer) composed from levi ops,
 * forward and backward, against tests/fixtures/vit_block.bin written by
 * tools/golden_ops.py; plus the golden reader's own checks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden.h"
#include "testutil.h"

/* --- the golden reader ------------------------------------------------------- */

START_TEST(golden_reader_reads_fixture) {
    char path[1024], err[512];
    golden_path(path, sizeof path, "vit_block.bin");
    golden_file g;
    ck_assert_msg(golden_load(&g, path, err, sizeof err) == 0, "%s", err);
    const golden_array *dims = golden_get(&g, "dims");
    ck_assert_ptr_nonnull(dims);
    ck_assert_int_eq(dims->numel, 5);
    const golden_array *x = golden_get(&g, "x");
    ck_assert_ptr_nonnull(x);
    ck_assert_int_eq(x->ndim, 3);
    ck_assert_int_eq(x->numel, (size_t)(dims->data[0] * dims->data[1] * dims->data[2]));
    ck_assert_ptr_null(golden_get(&g, "no-such-array"));
    golden_free(&g);
}
END_TEST

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}

START_TEST(golden_reader_rejects_bad_files) {
    char src[1024], err[512];
    golden_path(src, sizeof src, "vit_block.bin");
    FILE *f = fopen(src, "rb");
    ck_assert_ptr_nonnull(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    ck_assert_int_gt(n, 64);
    char *dir = test_tmpdir();
    char path[1200];
    snprintf(path, sizeof path, "%s/g.bin", dir);
    golden_file g;

    write_bytes(path, buf, n - 3); /* truncated */
    ck_assert_int_eq(golden_load(&g, path, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, path));

    buf[0] = 'X'; /* bad magic */
    write_bytes(path, buf, n);
    ck_assert_int_eq(golden_load(&g, path, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "magic"));
    buf[0] = 'L';

    buf[8] = 9; /* unknown version */
    write_bytes(path, buf, n);
    ck_assert_int_eq(golden_load(&g, path, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "version"));
    buf[8] = 1;

    write_bytes(path, buf, n); /* and the repaired copy loads */
    ck_assert_msg(golden_load(&g, path, err, sizeof err) == 0, "%s", err);
    golden_free(&g);
    remove(path);
    snprintf(path, sizeof path, "%s/missing.bin", dir);
    ck_assert_int_eq(golden_load(&g, path, err, sizeof err), -1);
    remove(dir);
    free(dir);
}
END_TEST

/* --- the ViT block ------------------------------------------------------------------- */

static const char *k_params[] = {
    "layernorm_before.weight", "layernorm_before.bias", "attention.attention.query.weight",
    "attention.attention.query.bias", "attention.attention.key.weight", "attention.attention.key.bias",
    "attention.attention.value.weight", "attention.attention.value.bias", "attention.output.dense.weight",
    "attention.output.dense.bias", "layernorm_after.weight", "layernorm_after.bias", "intermediate.dense.weight",
    "intermediate.dense.bias", "output.dense.weight", "output.dense.bias",
};
enum { NPARAM = sizeof k_params / sizeof k_params[0] };
enum { LN1W, LN1B, QW, QB, KW, KB, VW, VB, OW, OB, LN2W, LN2B, IW, IB, MW, MB };

static const golden_array *need(const golden_file *g, const char *name) {
    const golden_array *a = golden_get(g, name);
    ck_assert_msg(a != NULL, "vit_block.bin has no array '%s'", name);
    return a;
}

static levi_tensor upload(levi_ctx *ctx, const float *host, size_t n) {
    levi_tensor t;
    ck_assert_levi_ok(levi_tensor_alloc1(&t, ctx, (int)n));
    /* zeros written from the host, not levi_tensor_zero's clEnqueueFillBuffer,
     * which Oclgrind 21.10 takes for uninitialized memory */
    float *z = host ? NULL : calloc(n, sizeof(float));
    ck_assert_levi_ok(levi_tensor_write(&t, host ? host : z));
    free(z);
    return t;
}

/* |got - ref| <= tol * max(max|ref|, 1e-3) everywhere (d.key.bias is exactly
 * zero in theory: softmax ignores a shift shared by all keys, so the floor
 * keeps "relative" meaningful) */
static void compare(const char *what, const levi_tensor *t, const golden_array *ref, double tol) {
    ck_assert_uint_eq(t->numel, ref->numel);
    float *got = malloc(t->numel * sizeof(float));
    ck_assert_levi_ok(levi_tensor_read(t, got));
    test_check_rel_f(what, got, ref->data, ref->numel, tol, 1e-3);
    free(got);
}

START_TEST(vit_block_matches_pytorch) {
    char path[1024], err[512];
    golden_path(path, sizeof path, "vit_block.bin");
    golden_file g;
    ck_assert_msg(golden_load(&g, path, err, sizeof err) == 0, "%s", err);
    const golden_array *dims = need(&g, "dims");
    const int B = (int)dims->data[0], T = (int)dims->data[1], C = (int)dims->data[2], NH = (int)dims->data[3],
              MLP = (int)dims->data[4], N = B * T;
    const float eps = need(&g, "eps")->data[0];
    levi_ctx *ctx = test_ctx();

    levi_tensor P[NPARAM], dP[NPARAM];
    for (int i = 0; i < NPARAM; i++) {
        const golden_array *a = need(&g, k_params[i]);
        P[i] = upload(ctx, a->data, a->numel);
        dP[i] = upload(ctx, NULL, a->numel);
    }
    size_t nc = (size_t)N * C, nm = (size_t)N * MLP;
    levi_tensor x = upload(ctx, need(&g, "x")->data, nc), R = upload(ctx, need(&g, "R")->data, nc);
    levi_tensor ln1 = upload(ctx, NULL, nc), m1 = upload(ctx, NULL, N), r1 = upload(ctx, NULL, N);
    levi_tensor q = upload(ctx, NULL, nc), k = upload(ctx, NULL, nc), v = upload(ctx, NULL, nc);
    levi_tensor ctxo = upload(ctx, NULL, nc), lse = upload(ctx, NULL, (size_t)B * NH * T);
    levi_tensor h = upload(ctx, NULL, nc);
    levi_tensor ln2 = upload(ctx, NULL, nc), m2 = upload(ctx, NULL, N), r2 = upload(ctx, NULL, N);
    levi_tensor mid = upload(ctx, NULL, nm), gel = upload(ctx, NULL, nm), out = upload(ctx, NULL, nc);

    /* forward, as Hugging Face ViTLayer, with the fused ops of src/nn/vit_block.c */
    ck_assert_levi_ok(levi_layernorm_forward(ctx, &ln1, &m1, &r1, &x, &P[LN1W], &P[LN1B], N, C, eps));
    ck_assert_levi_ok(levi_linear_forward(ctx, &q, &ln1, &P[QW], &P[QB], N, C, C));
    ck_assert_levi_ok(levi_linear_forward(ctx, &k, &ln1, &P[KW], &P[KB], N, C, C));
    ck_assert_levi_ok(levi_linear_forward(ctx, &v, &ln1, &P[VW], &P[VB], N, C, C));
    ck_assert_levi_ok(levi_attention_forward(ctx, &ctxo, &lse, &q, &k, &v, NULL, B, T, C, NH));
    ck_assert_levi_ok(levi_gemm(ctx, 0, 1, N, C, C, 1.0f, &ctxo, &P[OW], 0.0f, &h));
    ck_assert_levi_ok(levi_residual_layernorm_forward(ctx, &h, &ln2, &m2, &r2, &h, &x, &P[OB], &P[LN2W], &P[LN2B], N,
                                                      C, eps));
    ck_assert_levi_ok(levi_linear_act_forward(ctx, &gel, &mid, &ln2, &P[IW], &P[IB], NULL, LEVI_ACTIVATION_GELU, N, C,
                                              MLP));
    ck_assert_levi_ok(levi_linear_act_forward(ctx, &out, NULL, &gel, &P[MW], &P[MB], &h, LEVI_ACTIVATION_NONE, N, MLP,
                                              C));
    compare("block output", &out, need(&g, "out"), 1e-4);

    /* backward of loss = sum(out * R): dout = R */
    levi_tensor dh = upload(ctx, NULL, nc), dgel = upload(ctx, NULL, nm), dmid = upload(ctx, NULL, nm),
                dln2 = upload(ctx, NULL, nc), dctx = upload(ctx, NULL, nc), dq = upload(ctx, NULL, nc),
                dk = upload(ctx, NULL, nc), dv = upload(ctx, NULL, nc), dln1 = upload(ctx, NULL, nc),
                dx = upload(ctx, NULL, nc);
    ck_assert_levi_ok(levi_accumulate(ctx, &dh, &R, nc)); /* residual */
    ck_assert_levi_ok(levi_linear_backward(ctx, &dgel, &dP[MW], &dP[MB], &R, &gel, &P[MW], N, MLP, C));
    ck_assert_levi_ok(levi_gelu_backward(ctx, &dmid, &mid, &dgel, nm));
    ck_assert_levi_ok(levi_linear_backward(ctx, &dln2, &dP[IW], &dP[IB], &dmid, &ln2, &P[IW], N, C, MLP));
    ck_assert_levi_ok(levi_layernorm_backward(ctx, &dh, &dP[LN2W], &dP[LN2B], &dln2, &h, &P[LN2W], &m2, &r2, N, C));
    ck_assert_levi_ok(levi_accumulate(ctx, &dx, &dh, nc)); /* residual */
    ck_assert_levi_ok(levi_linear_backward(ctx, &dctx, &dP[OW], &dP[OB], &dh, &ctxo, &P[OW], N, C, C));
    ck_assert_levi_ok(levi_attention_backward(ctx, &dq, &dk, &dv, &dctx, &q, &k, &v, &ctxo, &lse, NULL, B, T, C, NH));
    ck_assert_levi_ok(levi_linear_backward(ctx, &dln1, &dP[QW], &dP[QB], &dq, &ln1, &P[QW], N, C, C));
    ck_assert_levi_ok(levi_linear_backward(ctx, &dln1, &dP[KW], &dP[KB], &dk, &ln1, &P[KW], N, C, C));
    ck_assert_levi_ok(levi_linear_backward(ctx, &dln1, &dP[VW], &dP[VB], &dv, &ln1, &P[VW], N, C, C));
    ck_assert_levi_ok(levi_layernorm_backward(ctx, &dx, &dP[LN1W], &dP[LN1B], &dln1, &x, &P[LN1W], &m1, &r1, N, C));
    compare("d.x", &dx, need(&g, "d.x"), 1e-3);
    for (int i = 0; i < NPARAM; i++) {
        char name[96];
        snprintf(name, sizeof name, "d.%s", k_params[i]);
        compare(name, &dP[i], need(&g, name), 1e-3);
    }

    levi_tensor *all[] = {&x, &R, &ln1, &m1, &r1, &q, &k, &v, &ctxo, &lse, &h, &ln2, &m2, &r2,
                          &mid, &gel, &out, &dh, &dgel, &dmid, &dln2, &dctx, &dq, &dk, &dv, &dln1, &dx};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) levi_tensor_free(all[i]);
    for (int i = 0; i < NPARAM; i++) levi_tensor_free(&P[i]), levi_tensor_free(&dP[i]);
    levi_ctx_destroy(ctx);
    golden_free(&g);
}
END_TEST

int main(void) {
    Suite *s = suite_create("ops_block");
    TCase *host = tcase_create("golden");
    tcase_add_test(host, golden_reader_reads_fixture);
    tcase_add_test(host, golden_reader_rejects_bad_files);
    suite_add_tcase(s, host);
    int device = test_have_device();
    if (device) {
        TCase *dev = tcase_create("device");
        tcase_set_timeout(dev, 300);
        tcase_add_test(dev, vit_block_matches_pytorch);
        suite_add_tcase(s, dev);
    }
    return test_finish(s, device);
}
