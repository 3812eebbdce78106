#include "testutil.h"

#include <clblast_c.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int test_have_device(void) {
    levi_device_list list;
    if (levi_device_list_query(&list) != LEVI_OK) return 0;
    int n = list.count;
    levi_device_list_free(&list);
    return n > 0;
}

levi_ctx *test_ctx(void) {
    levi_ctx *ctx = NULL;
    levi_status st = levi_ctx_open(&ctx, NULL);
    ck_assert_msg(st == LEVI_OK, "opening a device: %s", levi_last_error());
    const char *gpu = getenv("LEVI_TEST_GPU_SHAPES");
    if (gpu && *gpu && strcmp(gpu, "0")) {
        /* ops pick kernel shapes from the device type and size: take the GPU
         * shapes (work-group trees, several chunks per reduction) here too */
        ctx->info.type = CL_DEVICE_TYPE_GPU;
        ctx->info.compute_units = 64;
    } else if ((gpu = getenv("LEVI_TEST_CPU_SHAPES")) && *gpu && strcmp(gpu, "0")) {
        ctx->info.type = CL_DEVICE_TYPE_CPU;
        ctx->info.compute_units = 2;
    }
    return ctx;
}

void test_fill_uniform(float *x, size_t n, unsigned seed, float lo, float hi) {
    unsigned long long s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        double u = (double)(s >> 11) / 9007199254740992.0;
        x[i] = (float)(lo + (hi - lo) * u);
    }
}

int test_run(Suite *s) {
    SRunner *sr = srunner_create(s);
    /* OpenCL runtimes (PoCL's worker threads) do not survive fork(): run
     * tests in this process. */
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    /* CLBlast keeps compiled programs in a static cache that is released at
     * exit, after an OpenCL runtime such as Oclgrind may be gone (a crash
     * there): release it while the runtime is alive. */
    CLBlastClearCache();
    return failed == 0 ? 0 : 1;
}

int test_finish(Suite *s, int device) {
    int rc = test_run(s);
    if (rc == 0 && !device) {
        fprintf(stderr, "no OpenCL device: device tests skipped\n");
        return TEST_SKIP;
    }
    return rc;
}

char *test_tmpdir(void) {
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/levi-test-XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    ck_assert_msg(d != NULL, "mkdtemp failed");
    return strdup(d);
}

char *test_tmp;

void test_tmp_setup(void) { test_tmp = test_tmpdir(); }

void test_tmp_teardown(void) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", test_tmp);
    ck_assert_msg(system(cmd) == 0, "could not remove %s", test_tmp);
    free(test_tmp);
    test_tmp = NULL;
}

const char *test_tmp_path(const char *name) {
    static char buf[2][1024];
    static int k;
    k ^= 1;
    snprintf(buf[k], sizeof buf[k], "%s/%s", test_tmp, name);
    return buf[k];
}

void test_write_bytes(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

void test_write_text(const char *path, const char *text) { test_write_bytes(path, text, strlen(text)); }

/* root/<class>/<i>.png, 3 classes of 5 images of 9x7 gray */
void test_make_png_folder(const char *root) {
    mkdir(root, 0755);
    char p[1200];
    unsigned char img[9 * 7];
    for (int c = 0; c < 3; c++) {
        snprintf(p, sizeof p, "%s/c%d", root, c);
        mkdir(p, 0755);
        for (int i = 0; i < 5; i++) {
            for (int k = 0; k < 63; k++) img[k] = (unsigned char)(c * 50 + i * 7 + k);
            snprintf(p, sizeof p, "%s/c%d/%d.png", root, c, i);
            ck_assert_levi_ok(levi_png_write(p, img, 9, 7, 1));
        }
    }
}

/* --- comparison ------------------------------------------------------------------- */

static double at_f(const void *p, size_t i) { return (double)((const float *)p)[i]; }
static double at_d(const void *p, size_t i) { return ((const double *)p)[i]; }

static test_diff diff_impl(const void *got, double (*g)(const void *, size_t), const void *ref,
                           double (*r)(const void *, size_t), size_t n, double atol, double rtol) {
    test_diff d = {1, 0, 0, 0, 0, 0, 0};
    for (size_t i = 0; i < n; i++)
        if (isfinite(r(ref, i))) d.scale = fmax(d.scale, fabs(r(ref, i)));
    d.tol = atol + rtol * d.scale;
    double worst_excess = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        const double a = g(got, i), b = r(ref, i);
        if (!isfinite(a) || !isfinite(b)) {
            if (d.worst != INFINITY) d.at = i; /* the first non-finite value */
            d.worst = INFINITY;
            continue;
        }
        const double e = fabs(a - b);
        if (d.worst != INFINITY && e > d.worst) d.worst = e;
        if (d.worst != INFINITY && e - d.tol > worst_excess) {
            worst_excess = e - d.tol;
            d.at = i;
        }
    }
    d.ok = d.worst <= d.tol;
    if (n) d.got_at = g(got, d.at), d.ref_at = r(ref, d.at);
    return d;
}

test_diff test_diff_fd(const float *got, const double *ref, size_t n, double atol, double rtol) {
    return diff_impl(got, at_f, ref, at_d, n, atol, rtol);
}
test_diff test_diff_dd(const double *got, const double *ref, size_t n, double atol, double rtol) {
    return diff_impl(got, at_d, ref, at_d, n, atol, rtol);
}
test_diff test_diff_ff(const float *got, const float *ref, size_t n, double atol, double rtol) {
    return diff_impl(got, at_f, ref, at_f, n, atol, rtol);
}

static double check(const char *what, test_diff d, size_t n, double atol, double rtol) {
    if (getenv("LEVI_TEST_VERBOSE"))
        fprintf(stderr, "  %-56s worst |diff| %.2e (tol %.2e)\n", what, d.worst, d.tol);
    ck_assert_msg(d.ok,
                  "%s: worst |diff| %.3g at [%zu] (got %.8g, want %.8g) exceeds %.3g "
                  "(atol %.2g + rtol %.2g * max|ref| %.3g), n=%zu",
                  what, d.worst, d.at, d.got_at, d.ref_at, d.tol, atol, rtol, d.scale, n);
    return d.worst;
}

double test_check_close(const char *what, const float *got, const double *ref, size_t n, double atol, double rtol) {
    return check(what, test_diff_fd(got, ref, n, atol, rtol), n, atol, rtol);
}
double test_check_close_d(const char *what, const double *got, const double *ref, size_t n, double atol,
                          double rtol) {
    return check(what, test_diff_dd(got, ref, n, atol, rtol), n, atol, rtol);
}
double test_check_close_f(const char *what, const float *got, const float *ref, size_t n, double atol, double rtol) {
    return check(what, test_diff_ff(got, ref, n, atol, rtol), n, atol, rtol);
}
void test_check_value(const char *what, double got, double ref, double atol, double rtol) {
    check(what, test_diff_dd(&got, &ref, 1, atol, rtol), 1, atol, rtol);
}

double test_check_rel_f(const char *what, const float *got, const float *ref, size_t n, double rtol, double floor) {
    const double atol = rtol * fmax(test_diff_ff(got, ref, n, 0, 0).scale, floor);
    return check(what, test_diff_ff(got, ref, n, atol, 0), n, atol, 0);
}
double test_check_rel(const char *what, const float *got, const double *ref, size_t n, double rtol, double floor) {
    const double atol = rtol * fmax(test_diff_fd(got, ref, n, 0, 0).scale, floor);
    return check(what, test_diff_fd(got, ref, n, atol, 0), n, atol, 0);
}
