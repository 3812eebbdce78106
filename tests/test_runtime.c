/* Runtime: status names, device selection over fabricated lists, device
 * enumeration and JSON, the program cache, a cl/ kernel and the CLBlast
 * self-check against host results. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

/* --- status -------------------------------------------------------------- */

START_TEST(status_names) {
    ck_assert_str_eq(levi_status_name(0), "CL_SUCCESS");
    ck_assert_str_eq(levi_status_name(-5), "CL_OUT_OF_RESOURCES");
    ck_assert_str_eq(levi_status_name(-1017), "CLBlastInvalidDimension");
    ck_assert_str_eq(levi_status_name(LEVI_ERR_FORMAT), "LEVI_ERR_FORMAT");
    ck_assert_str_eq(levi_status_name(12345), "unknown status 12345");
    levi_status st = levi_error(LEVI_ERR_IO, "file %s", "x.bin");
    ck_assert_int_eq(st, LEVI_ERR_IO);
    ck_assert_str_eq(levi_last_error(), "file x.bin");
}
END_TEST

static levi_status check_macro_helper(void) {
    LEVI_CL_CHECK(-4);
    return LEVI_OK;
}

START_TEST(check_macro_returns) {
    ck_assert_int_eq(check_macro_helper(), -4);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "CL_MEM_OBJECT_ALLOCATION_FAILURE"));
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "test_runtime.c"));
}
END_TEST

/* --- selection over a fabricated list ------------------------------------- */

static levi_device_info fake[4];

static void make_fake(void) {
    memset(fake, 0, sizeof fake);
    const struct {
        int p, d;
        cl_device_type t;
        const char *name, *vendor, *plat;
    } rows[4] = {
        {0, 0, CL_DEVICE_TYPE_CPU, "pthread-haswell-AMD EPYC", "AuthenticAMD", "Portable Computing Language"},
        {1, 0, CL_DEVICE_TYPE_GPU, "NVIDIA H100", "NVIDIA Corporation", "NVIDIA CUDA"},
        {1, 1, CL_DEVICE_TYPE_GPU, "NVIDIA A100", "NVIDIA Corporation", "NVIDIA CUDA"},
        {2, 0, CL_DEVICE_TYPE_ACCELERATOR, "Intel FPGA Emulation", "Intel(R) Corporation", "Intel FPGA"},
    };
    for (int i = 0; i < 4; i++) {
        fake[i].index = i;
        fake[i].platform_index = rows[i].p;
        fake[i].device_index = rows[i].d;
        fake[i].type = rows[i].t;
        strcpy(fake[i].name, rows[i].name);
        strcpy(fake[i].vendor, rows[i].vendor);
        strcpy(fake[i].platform_name, rows[i].plat);
    }
}

static int sel(const char *s, levi_status *st) {
    int idx = -1;
    *st = levi_device_select(fake, 4, s, &idx, NULL, 0);
    return idx;
}

START_TEST(select_forms) {
    make_fake();
    levi_status st;
    ck_assert_int_eq(sel(NULL, &st), 1); /* first GPU */
    ck_assert_int_eq(st, LEVI_OK);
    ck_assert_int_eq(sel("", &st), 1);
    ck_assert_int_eq(sel("0", &st), 0);
    ck_assert_int_eq(sel("3", &st), 3);
    ck_assert_int_eq(sel("1:1", &st), 2);
    ck_assert_int_eq(sel("2:0", &st), 3);
    ck_assert_int_eq(sel("cpu", &st), 0);
    ck_assert_int_eq(sel("GPU", &st), 1);
    ck_assert_int_eq(sel("accelerator", &st), 3);
    ck_assert_int_eq(sel("h100", &st), 1);
    ck_assert_int_eq(sel("portable", &st), 0); /* platform name */
    ck_assert_int_eq(sel("intel(r)", &st), 3); /* vendor */
    ck_assert_int_eq(st, LEVI_OK);
    /* only CPUs: the default falls back to the first device */
    int idx = -1;
    ck_assert_int_eq(levi_device_select(fake, 1, NULL, &idx, NULL, 0), LEVI_OK);
    ck_assert_int_eq(idx, 0);
}
END_TEST

START_TEST(select_errors) {
    make_fake();
    levi_status st;
    sel("nonexistent", &st);
    ck_assert_int_eq(st, LEVI_ERR_NO_MATCH);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "nonexistent"));
    sel("nvidia", &st);
    ck_assert_int_eq(st, LEVI_ERR_AMBIGUOUS);
    sel("7", &st);
    ck_assert_int_eq(st, LEVI_ERR_NO_MATCH);
    sel("1:5", &st);
    ck_assert_int_eq(st, LEVI_ERR_NO_MATCH);
    int idx;
    ck_assert_int_eq(levi_device_select(fake, 1, "gpu", &idx, NULL, 0), LEVI_ERR_NO_MATCH);
    ck_assert_int_eq(levi_device_select(fake, 0, NULL, &idx, NULL, 0), LEVI_ERR_NO_PLATFORM);
}
END_TEST

/* --- enumeration and JSON ------------------------------------------------- */

START_TEST(enumerate_and_json) {
    levi_device_list list;
    ck_assert_levi_ok(levi_device_list_query(&list));
    ck_assert_int_gt(list.count, 0);
    ck_assert_int_ge(list.default_index, 0);
    char *s = levi_device_list_json(&list, NULL);
    ck_assert_ptr_nonnull(s);
    cJSON *arr = cJSON_Parse(s);
    ck_assert_ptr_nonnull(arr);
    ck_assert_int_eq(cJSON_GetArraySize(arr), list.count);
    for (int i = 0; i < list.count; i++) {
        cJSON *o = cJSON_GetArrayItem(arr, i);
        ck_assert_int_eq(cJSON_GetObjectItem(o, "index")->valueint, i);
        ck_assert_str_eq(cJSON_GetObjectItem(o, "name")->valuestring, list.devices[i].name);
        ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(o, "compute_units")));
        ck_assert(cJSON_GetObjectItem(o, "compute_units")->valueint > 0);
        ck_assert(cJSON_IsBool(cJSON_GetObjectItem(o, "fp64")));
        ck_assert(cJSON_IsString(cJSON_GetObjectItem(o, "opencl_c_version")));
        ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(o, "default")) == (i == list.default_index));
    }
    cJSON_Delete(arr);
    free(s);
    levi_device_list_free(&list);
}
END_TEST

/* --- program cache ---------------------------------------------------------- */

static levi_ctx *ctx_with_cache(const char *dir) {
    setenv("LEVI_CACHE_DIR", dir, 1);
    return test_ctx();
}

static void run_scale(levi_ctx *ctx) {
    enum { N = 197 };
    float x[N], y[N];
    test_fill_uniform(x, N, 3, -2, 2);
    levi_tensor a, b;
    ck_assert_levi_ok(levi_tensor_alloc1(&a, ctx, N));
    ck_assert_levi_ok(levi_tensor_alloc1(&b, ctx, N));
    ck_assert_levi_ok(levi_tensor_write(&a, x));
    ck_assert_levi_ok(levi_scale_forward(ctx, &b, &a, -1.5f, N));
    ck_assert_levi_ok(levi_tensor_read(&b, y));
    for (int i = 0; i < N; i++) ck_assert_float_eq_tol(y[i], -1.5f * x[i], 1e-6f);
    levi_tensor_free(&a);
    levi_tensor_free(&b);
}

static int count_entries(const char *dir, char *first, size_t len) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "ls %s/programs 2>/dev/null", dir);
    FILE *p = popen(cmd, "r");
    int n = 0;
    char line[512];
    while (p && fgets(line, sizeof line, p)) {
        if (n == 0 && first) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(first, len, "%s/programs/%s", dir, line);
        }
        n++;
    }
    if (p) pclose(p);
    return n;
}

START_TEST(cache_miss_hit_corrupt) {
    char *dir = test_tmpdir();
    levi_ctx *ctx = ctx_with_cache(dir);
    run_scale(ctx);
    ck_assert_int_eq(ctx->programs_compiled, 1);
    ck_assert_int_eq(ctx->programs_from_cache, 0);
    levi_ctx_destroy(ctx);
    char entry[1024];
    ck_assert_int_eq(count_entries(dir, entry, sizeof entry), 1);

    ctx = ctx_with_cache(dir); /* warm: nothing compiled */
    run_scale(ctx);
    ck_assert_int_eq(ctx->programs_compiled, 0);
    ck_assert_int_eq(ctx->programs_from_cache, 1);
    levi_ctx_destroy(ctx);

    /* truncate the entry: ignored and rebuilt */
    ck_assert_int_eq(truncate(entry, 40), 0);
    ctx = ctx_with_cache(dir);
    run_scale(ctx);
    ck_assert_int_eq(ctx->programs_compiled, 1);
    ck_assert_int_eq(ctx->programs_from_cache, 0);
    levi_ctx_destroy(ctx);

    /* flip a byte in the binary: the checksum rejects it */
    FILE *f = fopen(entry, "r+b");
    ck_assert_ptr_nonnull(f);
    fseek(f, 100, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 100, SEEK_SET);
    fputc(c ^ 0x5a, f);
    fclose(f);
    ctx = ctx_with_cache(dir);
    run_scale(ctx);
    ck_assert_int_eq(ctx->programs_compiled, 1);
    levi_ctx_destroy(ctx);

    /* and the rebuilt entry is good again */
    ctx = ctx_with_cache(dir);
    run_scale(ctx);
    ck_assert_int_eq(ctx->programs_from_cache, 1);
    levi_ctx_destroy(ctx);
    free(dir);
}
END_TEST

START_TEST(cache_disabled_and_unwritable) {
    setenv("LEVI_CACHE_DIR", "off", 1);
    levi_ctx *ctx = test_ctx();
    ck_assert_str_eq(ctx->cache_dir, "");
    run_scale(ctx);
    ck_assert_int_eq(ctx->programs_compiled, 1);
    levi_ctx_destroy(ctx);

    /* a cache folder below a regular file cannot be created: not fatal */
    char *dir = test_tmpdir();
    char file[600], bad[700];
    snprintf(file, sizeof file, "%s/plainfile", dir);
    FILE *f = fopen(file, "w");
    fputs("x", f);
    fclose(f);
    snprintf(bad, sizeof bad, "%s/cache", file);
    ctx = ctx_with_cache(bad);
    run_scale(ctx);
    ck_assert_int_eq(ctx->programs_compiled, 1);
    levi_ctx_destroy(ctx);
    ctx = ctx_with_cache(bad);
    run_scale(ctx);
    ck_assert_int_eq(ctx->programs_compiled, 1); /* still nothing cached */
    levi_ctx_destroy(ctx);
    free(dir);
}
END_TEST

START_TEST(cl_dir_override) {
    char *dir = test_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/elementwise.cl", dir);
    FILE *f = fopen(path, "w");
    /* a deliberately different kernel: proves the override is read */
    fputs("__kernel void scale_forward(__global float *o, const ulong oo, __global const float *x,\n"
          "  const ulong xo, const float s, const ulong n) {\n"
          "  size_t i = get_global_id(0); if (i >= n) return; o[oo + i] = s * x[xo + i] + 1.0f; }\n",
          f);
    fclose(f);
    setenv("LEVI_CL_DIR", dir, 1);
    setenv("LEVI_CACHE_DIR", "off", 1);
    levi_ctx *ctx = test_ctx();
    float x[5] = {1, 2, 3, 4, 5}, y[5];
    levi_tensor a, b;
    ck_assert_levi_ok(levi_tensor_alloc1(&a, ctx, 5));
    ck_assert_levi_ok(levi_tensor_alloc1(&b, ctx, 5));
    ck_assert_levi_ok(levi_tensor_write(&a, x));
    ck_assert_levi_ok(levi_scale_forward(ctx, &b, &a, 2.0f, 5));
    ck_assert_levi_ok(levi_tensor_read(&b, y));
    for (int i = 0; i < 5; i++) ck_assert_float_eq_tol(y[i], 2 * x[i] + 1, 1e-6f);
    levi_tensor_free(&a);
    levi_tensor_free(&b);
    levi_ctx_destroy(ctx);
    unsetenv("LEVI_CL_DIR");

    /* a broken kernel reports the file, the device and the build log */
    f = fopen(path, "w");
    fputs("__kernel void scale_forward(__global float *o) { o[0] = undefined_name; }\n", f);
    fclose(f);
    setenv("LEVI_CL_DIR", dir, 1);
    ctx = test_ctx();
    cl_kernel k;
    ck_assert_int_eq(levi_kernel_get(ctx, "elementwise", "scale_forward", &k), LEVI_ERR_BUILD);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "cl/elementwise.cl"));
    ck_assert_ptr_nonnull(strstr(levi_last_error(), ctx->info.name));
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "undefined_name"));
    levi_ctx_destroy(ctx);
    unsetenv("LEVI_CL_DIR");
    free(dir);
}
END_TEST

START_TEST(self_check_passes) {
    setenv("LEVI_CACHE_DIR", "off", 1);
    levi_ctx *ctx = test_ctx();
    ck_assert_levi_ok(levi_self_check(ctx, NULL));
    levi_ctx_destroy(ctx);
}
END_TEST

START_TEST(oversized_allocation_is_an_error) {
    setenv("LEVI_CACHE_DIR", "off", 1);
    levi_ctx *ctx = test_ctx();
    cl_mem m = NULL;
    size_t too_big = (size_t)ctx->info.max_alloc + 4096;
    levi_status st = levi_buffer_alloc(ctx, too_big, &m);
    ck_assert_int_eq(st, LEVI_ERR_DEVICE_MEMORY);
    ck_assert_ptr_null(m);
    char want[64];
    snprintf(want, sizeof want, "%zu bytes", too_big);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), want));
    levi_ctx_destroy(ctx);
}
END_TEST

int main(void) {
    Suite *s = suite_create("runtime");
    TCase *host = tcase_create("host");
    tcase_add_test(host, status_names);
    tcase_add_test(host, check_macro_returns);
    tcase_add_test(host, select_forms);
    tcase_add_test(host, select_errors);
    suite_add_tcase(s, host);
    int device = test_have_device();
    if (device) {
        TCase *dev = tcase_create("device");
        tcase_set_timeout(dev, 300);
        tcase_add_test(dev, enumerate_and_json);
        tcase_add_test(dev, cache_miss_hit_corrupt);
        tcase_add_test(dev, cache_disabled_and_unwritable);
        tcase_add_test(dev, cl_dir_override);
        tcase_add_test(dev, self_check_passes);
        tcase_add_test(dev, oversized_allocation_is_an_error);
        suite_add_tcase(s, dev);
    }
    return test_finish(s, device);
}
