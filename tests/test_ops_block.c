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

int main(void) {
    Suite *s = suite_create("ops_block");
    TCase *host = tcase_create("golden");
    tcase_add_test(host, golden_reader_reads_fixture);
    tcase_add_test(host, golden_reader_rejects_bad_files);
    suite_add_tcase(s, host);
    return test_run(s);
}
