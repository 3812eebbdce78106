/* Tuning: CLBlast parameter names, the constraint checker, the JSON store
 * (round trip, corrupt and foreign files), and SGEMM correctness with a
 * stored, non-default parameter set applied through levi_tuning_apply_stored. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "levi/tuning.h"
#include "testutil.h"

static levi_device_info fake_device(void) {
    levi_device_info d;
    memset(&d, 0, sizeof d);
    strcpy(d.name, "Fake GPU 9000");
    strcpy(d.vendor, "Fake Inc.");
    strcpy(d.driver_version, "1.2.3");
    strcpy(d.platform_name, "Fake Platform");
    strcpy(d.platform_version, "OpenCL 3.0 fake");
    d.max_work_group = 256;
    d.local_mem = 32768;
    return d;
}

static void use_tmp_cache(void) {
    char *dir = test_tmpdir();
    setenv("LEVI_CACHE_DIR", dir, 1);
    free(dir);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* A valid set different from the starting set, with the same tile shape on
 * both axes so GEMMK=1 is legal: used by the round trip and the device test. */
static void other_set(levi_tuning *t) {
    levi_tuning_defaults(t);
    /* GEMMK KREG KWG KWI MDIMA MDIMC MWG NDIMB NDIMC NWG SA SB STRM STRN VWM VWN */
    static const size_t xg[LEVI_XGEMM_NPARAMS] = {0, 1, 32, 2, 16, 8, 64, 8, 16, 32, 1, 1, 1, 0, 2, 2};
    /* KWID MDIMAD MDIMCD NDIMBD NDIMCD PADA PADB VWMD VWND WGD */
    static const size_t xd[LEVI_XGEMM_DIRECT_NPARAMS] = {8, 8, 8, 16, 16, 0, 1, 2, 1, 16};
    memcpy(t->xgemm, xg, sizeof xg);
    memcpy(t->direct, xd, sizeof xd);
    t->min_indirect = 48;
    t->gflops_default = 10.5;
    t->gflops_tuned = 31.25;
}

START_TEST(parameter_names) {
    static const char *const xg[] = {"GEMMK", "KREG", "KWG", "KWI", "MDIMA", "MDIMC", "MWG", "NDIMB",
                                     "NDIMC", "NWG",  "SA",  "SB",  "STRM",  "STRN",  "VWM", "VWN"};
    static const char *const xd[] = {"KWID", "MDIMAD", "MDIMCD", "NDIMBD", "NDIMCD",
                                     "PADA", "PADB",   "VWMD",   "VWND",   "WGD"};
    for (int i = 0; i < LEVI_XGEMM_NPARAMS; i++) ck_assert_str_eq(levi_xgemm_param_names[i], xg[i]);
    for (int i = 0; i < LEVI_XGEMM_DIRECT_NPARAMS; i++) ck_assert_str_eq(levi_xgemm_direct_param_names[i], xd[i]);
}
END_TEST

START_TEST(constraints) {
    levi_device_info d = fake_device();
    levi_tuning t;
    levi_tuning_defaults(&t);
    ck_assert_levi_ok(levi_tuning_check_xgemm(t.xgemm, &d));
    ck_assert_levi_ok(levi_tuning_check_direct(t.direct, &d));
    other_set(&t);
    ck_assert_levi_ok(levi_tuning_check_xgemm(t.xgemm, &d));
    ck_assert_levi_ok(levi_tuning_check_direct(t.direct, &d));

    struct {
        int idx;
        size_t val;
        const char *needle;
    } bad[] = {
        {LEVI_XG_MWG, 16, "MDIMC*VWM"},     /* 16 % (8*4) */
        {LEVI_XG_NWG, 16, "NDIMC*VWN"},     /* 16 % (8*4) */
        {LEVI_XG_MDIMA, 16, "MDIMA*VWM"},   /* 32 % (16*4) */
        {LEVI_XG_KWG, 4, "KWG"},            /* 4 % ((8*8)/8) */
        {LEVI_XG_KWI, 32, "KWI"},           /* 16 % 32 */
        {LEVI_XG_VWM, 3, "VWM"},            /* not a power of two */
        {LEVI_XG_GEMMK, 2, "GEMMK"},
        {LEVI_XG_KREG, 4, "KREG=1"},        /* kernel 0 with KREG > 1 miscomputes */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        levi_tuning_defaults(&t);
        t.xgemm[bad[i].idx] = bad[i].val;
        levi_status st = levi_tuning_check_xgemm(t.xgemm, &d);
        ck_assert_msg(st == LEVI_ERR_INVALID_ARG, "case %zu (%s=%zu) accepted", i,
                      levi_xgemm_param_names[bad[i].idx], bad[i].val);
        ck_assert_msg(strstr(levi_last_error(), bad[i].needle), "case %zu: message '%s' lacks '%s'", i,
                      levi_last_error(), bad[i].needle);
    }

    /* GEMMK=1: legal with MWG == NWG, never with MWG != NWG (CLBlast 1.5.3 bug) */
    size_t k1[LEVI_XGEMM_NPARAMS] = {1, 4, 1, 1, 8, 8, 32, 8, 8, 32, 0, 0, 0, 0, 4, 4};
    ck_assert_levi_ok(levi_tuning_check_xgemm(k1, &d));
    k1[LEVI_XG_NWG] = 64;
    ck_assert_int_eq(levi_tuning_check_xgemm(k1, &d), LEVI_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "MWG=32 != NWG=64"));
    k1[LEVI_XG_NWG] = 32;
    k1[LEVI_XG_KREG] = 2; /* KREG % VWN */
    ck_assert_int_eq(levi_tuning_check_xgemm(k1, &d), LEVI_ERR_INVALID_ARG);

    /* device limits: work-group size and local memory */
    levi_tuning_defaults(&t);
    d.max_work_group = 32; /* MDIMC*NDIMC = 64 */
    ck_assert_int_eq(levi_tuning_check_xgemm(t.xgemm, &d), LEVI_ERR_INVALID_ARG);
    ck_assert_levi_ok(levi_tuning_check_xgemm(t.xgemm, NULL));
    d = fake_device();
    t.xgemm[LEVI_XG_SA] = t.xgemm[LEVI_XG_SB] = 1;
    t.xgemm[LEVI_XG_KWG] = 128; /* 4*(128*32 + 128*64) = 49152 > 32768 */
    ck_assert_int_eq(levi_tuning_check_xgemm(t.xgemm, &d), LEVI_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "local memory"));

    /* XgemmDirect */
    levi_tuning_defaults(&t);
    t.direct[LEVI_XD_VWMD] = 8; /* 32 % (8*8) */
    ck_assert_int_eq(levi_tuning_check_direct(t.direct, &d), LEVI_ERR_INVALID_ARG);
    levi_tuning_defaults(&t);
    t.direct[LEVI_XD_KWID] = 64; /* 32 % 64 */
    ck_assert_int_eq(levi_tuning_check_direct(t.direct, &d), LEVI_ERR_INVALID_ARG);
    levi_tuning_defaults(&t);
    t.direct[LEVI_XD_MDIMAD] = 32; /* 32 % (32*1) ok, but (8*8)/32 = 2 fine; WGD % (MDIMAD*VWMD) ok */
    ck_assert_levi_ok(levi_tuning_check_direct(t.direct, &d));
    t.direct[LEVI_XD_WGD] = 16; /* 16 % 32 */
    ck_assert_int_eq(levi_tuning_check_direct(t.direct, &d), LEVI_ERR_INVALID_ARG);
}
END_TEST

START_TEST(store_round_trip) {
    use_tmp_cache();
    levi_device_info d = fake_device();
    levi_tuning t, u;
    ck_assert_int_eq(levi_tuning_load(&d, &u), LEVI_ERR_NOT_FOUND);
    ck_assert_int_eq(levi_tuning_exists(&d), 0);
    other_set(&t);
    ck_assert_levi_ok(levi_tuning_save(&d, &t));
    ck_assert_int_eq(levi_tuning_exists(&d), 1);
    ck_assert_levi_ok(levi_tuning_load(&d, &u));
    ck_assert_int_eq(u.has_xgemm, 1);
    ck_assert_int_eq(u.has_direct, 1);
    ck_assert_int_eq(u.has_min_indirect, 1);
    for (int i = 0; i < LEVI_XGEMM_NPARAMS; i++) ck_assert_uint_eq(u.xgemm[i], t.xgemm[i]);
    for (int i = 0; i < LEVI_XGEMM_DIRECT_NPARAMS; i++) ck_assert_uint_eq(u.direct[i], t.direct[i]);
    ck_assert_uint_eq(u.min_indirect, 48);
    ck_assert_double_eq_tol(u.gflops_tuned, 31.25, 1e-9);

    /* another driver version is another key: not tuned */
    levi_device_info d2 = d;
    strcpy(d2.driver_version, "1.2.4");
    ck_assert_int_eq(levi_tuning_exists(&d2), 0);

    /* an invalid set is refused before it is written */
    levi_tuning bad = t;
    bad.xgemm[LEVI_XG_MWG] = 8;
    ck_assert_int_eq(levi_tuning_save(&d, &bad), LEVI_ERR_INVALID_ARG);
    ck_assert_levi_ok(levi_tuning_load(&d, &u));
    ck_assert_uint_eq(u.xgemm[LEVI_XG_MWG], 64);

    int removed = 0;
    ck_assert_levi_ok(levi_tuning_reset(&d, &removed));
    ck_assert_int_eq(removed, 1);
    ck_assert_int_eq(levi_tuning_exists(&d), 0);
    ck_assert_levi_ok(levi_tuning_reset(&d, &removed));
    ck_assert_int_eq(removed, 0);

    setenv("LEVI_CACHE_DIR", "off", 1);
    ck_assert_int_eq(levi_tuning_save(&d, &t), LEVI_ERR_UNSUPPORTED);
    ck_assert_int_eq(levi_tuning_exists(&d), 0);
}
END_TEST

START_TEST(corrupt_files_ignored) {
    use_tmp_cache();
    levi_device_info d = fake_device();
    levi_tuning t, u;
    other_set(&t);
    ck_assert_levi_ok(levi_tuning_save(&d, &t));
    char path[1200];
    ck_assert_levi_ok(levi_tuning_path(&d, path, sizeof path));
    char *good = levi_tuning_to_json(&t, &d);
    ck_assert_ptr_nonnull(good);

    struct {
        const char *from, *to, *needle;
    } edits[] = {
        {NULL, NULL, "not valid JSON"},                       /* truncated */
        {"\"Fake GPU 9000\"", "\"Other GPU\"", "device.name"}, /* foreign device */
        {"\"1.2.3\"", "\"9.9\"", "device.driver"},              /* other driver */
        {"\"MWG\":\t64", "\"MWG\":\t8", "MDIMC*VWM"},           /* violates a constraint */
        {"\"VWN\":\t2", "\"VWN\":\t\"two\"", "Xgemm.VWN"},      /* not a number */
        {"\"version\":\t1", "\"version\":\t7", "version"},      /* future format */
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        char text[8192];
        if (!edits[i].from) {
            snprintf(text, sizeof text, "%.*s", (int)(strlen(good) / 2), good);
        } else {
            const char *at = strstr(good, edits[i].from);
            ck_assert_msg(at != NULL, "edit %zu: '%s' not in the JSON:\n%s", i, edits[i].from, good);
            snprintf(text, sizeof text, "%.*s%s%s", (int)(at - good), good, edits[i].to,
                     at + strlen(edits[i].from));
        }
        write_text(path, text);
        levi_status st = levi_tuning_load(&d, &u);
        ck_assert_msg(st == LEVI_ERR_FORMAT, "edit %zu: load gave %s", i, levi_status_name(st));
        ck_assert_msg(strstr(levi_last_error(), edits[i].needle), "edit %zu: message '%s' lacks '%s'", i,
                      levi_last_error(), edits[i].needle);
        ck_assert_int_eq(levi_tuning_exists(&d), 0);
        /* never fatal at start-up: ignored with a warning */
        ck_assert_int_eq(levi_tuning_apply_stored(&d), 0);
    }
    write_text(path, good);
    ck_assert_levi_ok(levi_tuning_load(&d, &u));
    free(good);
}
END_TEST

/* --- device: SGEMM stays correct under a stored, non-default set ------------ */

static double gemm_worst(levi_ctx *ctx, int M, int N, int K) {
    float *a = malloc(sizeof(float) * (size_t)M * K), *b = malloc(sizeof(float) * (size_t)K * N);
    float *c = malloc(sizeof(float) * (size_t)M * N);
    test_fill_uniform(a, (size_t)M * K, 11, -1, 1);
    test_fill_uniform(b, (size_t)K * N, 12, -1, 1);
    levi_tensor A, B, C;
    ck_assert_levi_ok(levi_tensor_alloc2(&A, ctx, M, K));
    ck_assert_levi_ok(levi_tensor_alloc2(&B, ctx, K, N));
    ck_assert_levi_ok(levi_tensor_alloc2(&C, ctx, M, N));
    ck_assert_levi_ok(levi_tensor_write(&A, a));
    ck_assert_levi_ok(levi_tensor_write(&B, b));
    ck_assert_levi_ok(levi_gemm_set_path(ctx, LEVI_GEMM_CLBLAST)); /* the tuned set is CLBlast's */
    ck_assert_levi_ok(levi_gemm(ctx, 0, 0, M, N, K, 1.0f, &A, &B, 0.0f, &C));
    ck_assert_levi_ok(levi_tensor_read(&C, c));
    double worst = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double ref = 0;
            for (int k = 0; k < K; k++) ref += (double)a[i * K + k] * b[k * N + j];
            double e = fabs(c[i * N + j] - ref) / (1.0 + fabs(ref));
            if (!(e <= worst)) worst = e; /* NaN propagates as worst */
        }
    levi_tensor_free(&A);
    levi_tensor_free(&B);
    levi_tensor_free(&C);
    free(a);
    free(b);
    free(c);
    return worst;
}

START_TEST(applied_set_gives_correct_sgemm) {
    use_tmp_cache();
    levi_ctx *ctx = test_ctx();
    levi_tuning t;
    other_set(&t);
    ck_assert_levi_ok(levi_tuning_save(&ctx->info, &t));
    ck_assert_int_eq(levi_tuning_apply_stored(&ctx->info), 1);
    /* min_indirect = 48: 33x65x17 runs XgemmDirect, 100x70x90 the indirect Xgemm */
    double w1 = gemm_worst(ctx, 33, 65, 17);
    ck_assert_msg(w1 < 1e-5, "direct 33x65x17 with tuned set: worst relative difference %g", w1);
    double w2 = gemm_worst(ctx, 100, 70, 90);
    ck_assert_msg(w2 < 1e-5, "indirect 100x70x90 with tuned set: worst relative difference %g", w2);
    /* restore the starting set so other tests in this process see sane kernels */
    levi_tuning_defaults(&t);
    ck_assert_levi_ok(levi_tuning_apply(&ctx->info, &t));
    ck_assert_levi_ok(levi_tuning_reset(&ctx->info, NULL));
    levi_ctx_destroy(ctx);
}
END_TEST

int main(void) {
    Suite *s = suite_create("tuning");
    TCase *tc = tcase_create("host");
    tcase_add_test(tc, parameter_names);
    tcase_add_test(tc, constraints);
    tcase_add_test(tc, store_round_trip);
    tcase_add_test(tc, corrupt_files_ignored);
    suite_add_tcase(s, tc);
    if (test_have_device()) {
        TCase *td = tcase_create("device");
        tcase_set_timeout(td, 120);
        tcase_add_test(td, applied_set_gives_correct_sgemm);
        suite_add_tcase(s, td);
    }
    return test_finish(s, test_have_device());
}
