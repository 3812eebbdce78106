/* The fashion-shift generator and contact sheets, on the Debian Fashion-MNIST
 * files with a small --limit. Left out (with a note) where those files are
 * not installed. */
#include <cjson/cJSON.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#define FASHION "/usr/share/datasets/fashion-mnist"
#define LIMIT 30

static levi_status gen(const char *name, unsigned long long seed, double rho_a, double rho_b, int force) {
    char out[1024];
    snprintf(out, sizeof out, "%s/%s", test_tmp, name);
    levi_shift_params p;
    levi_shift_defaults(&p);
    p.source = FASHION;
    p.out = out;
    p.seed = seed;
    p.rho_a = rho_a;
    p.rho_b = rho_b;
    p.limit = LIMIT;
    p.force = force;
    return levi_fashion_shift(&p);
}

/* Compare every file under tmp/a with the same path under tmp/b. */
static const char *cmp_other;
static int cmp_files, cmp_diff;
static size_t cmp_root_len;
static int cmp_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)ftw;
    if (flag != FTW_F) return 0;
    char other[2048];
    snprintf(other, sizeof other, "%s%s", cmp_other, path + cmp_root_len);
    char *a, *b;
    size_t la, lb;
    if (levi_read_file(path, &a, &la) != LEVI_OK) return 1;
    if (levi_read_file(other, &b, &lb) != LEVI_OK) {
        free(a);
        cmp_diff++;
        return 0;
    }
    if (la != lb || memcmp(a, b, la)) cmp_diff++;
    cmp_files++;
    free(a);
    free(b);
    return 0;
}

static void compare_trees(const char *a, const char *b, int *files, int *diff) {
    char pa[1024], pb[1024];
    snprintf(pa, sizeof pa, "%s/%s", test_tmp, a);
    snprintf(pb, sizeof pb, "%s/%s", test_tmp, b);
    cmp_other = pb;
    cmp_root_len = strlen(pa);
    cmp_files = cmp_diff = 0;
    ck_assert_int_eq(nftw(pa, cmp_one, 16, FTW_PHYS), 0);
    *files = cmp_files;
    *diff = cmp_diff;
}

static cJSON *read_manifest(const char *name) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s/manifest.json", test_tmp, name);
    char *text;
    size_t len;
    ck_assert_levi_ok(levi_read_file(p, &text, &len));
    cJSON *j = cJSON_Parse(text);
    free(text);
    ck_assert_ptr_nonnull(j);
    return j;
}

START_TEST(shift_deterministic_and_counted) {
    ck_assert_levi_ok(gen("a", 7, 0.9, 0.9, 0));
    ck_assert_levi_ok(gen("b", 7, 0.9, 0.9, 0));
    int files, diff;
    compare_trees("a", "b", &files, &diff);
    ck_assert_int_eq(files, 4 * LIMIT + 1);
    ck_assert_msg(diff == 0, "%d of %d files differ between two runs with the same arguments", diff, files);
    ck_assert_levi_ok(gen("c", 8, 0.9, 0.9, 0));
    compare_trees("a", "c", &files, &diff);
    ck_assert_msg(diff > 0, "seeds 7 and 8 gave identical benchmarks");
    /* manifest counts match the folders, and the table of DESIGN.md */
    cJSON *m = read_manifest("a");
    ck_assert_str_eq(cJSON_GetObjectItem(m, "subdomain")->valuestring, "invert");
    ck_assert_str_eq(cJSON_GetObjectItem(m, "seed")->valuestring, "7");
    const char *splits[4] = {"pretrain", "train", "test-id", "test-ood"};
    const char *ranges[4] = {"train[0:30)", "train[30000:30030)", "test[0:30)", "test[0:30)"};
    for (int s = 0; s < 4; s++) {
        cJSON *js = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "splits"), splits[s]);
        ck_assert_ptr_nonnull(js);
        ck_assert_str_eq(cJSON_GetObjectItem(js, "source")->valuestring, ranges[s]);
        ck_assert_int_eq(cJSON_GetObjectItem(js, "images")->valueint, LIMIT);
        char root[1024];
        snprintf(root, sizeof root, "%s/a/%s", test_tmp, splits[s]);
        char **names;
        int nc, *counts;
        ck_assert_levi_ok(levi_folder_counts(root, &names, &nc, &counts));
        ck_assert_int_eq(nc, 10);
        cJSON *jc = cJSON_GetObjectItem(js, "counts");
        int sum = 0;
        for (int c = 0; c < 10; c++) {
            ck_assert_str_eq(names[c], levi_fashion_classes[c]);
            ck_assert_int_eq(cJSON_GetArrayItem(jc, c)->valueint, counts[c]);
            sum += counts[c];
        }
        ck_assert_int_eq(sum, LIMIT);
        free(counts);
        levi_class_names_free(names, nc);
    }
    cJSON_Delete(m);
}
END_TEST

START_TEST(shift_features_follow_rho) {
    /* rho 1: every texture / marker agrees with the class where linked;
     * test-ood stays independent (about 1 in 10 agree) */
    ck_assert_levi_ok(gen("one", 3, 1.0, 1.0, 0));
    cJSON *m = read_manifest("one");
    cJSON *sp = cJSON_GetObjectItem(m, "splits");
#define AGREE(split, key) cJSON_GetObjectItem(cJSON_GetObjectItem(sp, split), key)->valueint
    ck_assert_int_eq(AGREE("pretrain", "texture_agrees_with_label"), LIMIT);
    ck_assert_int_eq(AGREE("train", "marker_agrees_with_label"), LIMIT);
    ck_assert_int_eq(AGREE("test-id", "marker_agrees_with_label"), LIMIT);
    ck_assert_int_eq(AGREE("train", "texture_agrees_with_label"), 0);
    ck_assert_int_le(AGREE("test-ood", "texture_agrees_with_label"), LIMIT / 2);
    ck_assert_int_le(AGREE("test-ood", "marker_agrees_with_label"), LIMIT / 2);
    cJSON_Delete(m);
    ck_assert_levi_ok(gen("zero", 3, 0.0, 0.0, 0));
    m = read_manifest("zero");
    sp = cJSON_GetObjectItem(m, "splits");
    ck_assert_int_eq(AGREE("pretrain", "texture_agrees_with_label"), 0);
    ck_assert_int_eq(AGREE("train", "marker_agrees_with_label"), 0);
#undef AGREE
    cJSON_Delete(m);
    /* pixels: pretrain keeps the object as it is in the source; train is the
     * inverted image except for the 3x3 marker */
    int n, r, c;
    unsigned char *src;
    ck_assert_levi_ok(levi_idx_read_images(FASHION "/train-images-idx3-ubyte.gz", &n, &r, &c, &src));
    unsigned char *lab;
    ck_assert_levi_ok(levi_idx_read_labels(FASHION "/train-labels-idx1-ubyte.gz", &n, &lab));
    char p[1024];
    int w, h;
    unsigned char *px;
    snprintf(p, sizeof p, "%s/one/pretrain/%s/00000.png", test_tmp, levi_fashion_classes[lab[0]]);
    ck_assert_levi_ok(levi_png_read(p, 1, &w, &h, &px));
    int changed_obj = 0, textured = 0;
    for (int i = 0; i < 784; i++) {
        if (src[i] >= 16) changed_obj += px[i] != src[i];
        else textured += px[i] != src[i];
    }
    free(px);
    ck_assert_msg(changed_obj == 0, "pretrain image 0: %d object pixels changed", changed_obj);
    ck_assert_msg(textured >= 20, "pretrain image 0: only %d background pixels carry the texture", textured);
    snprintf(p, sizeof p, "%s/one/train/%s/30000.png", test_tmp, levi_fashion_classes[lab[30000]]);
    ck_assert_levi_ok(levi_png_read(p, 1, &w, &h, &px));
    int off = 0;
    for (int i = 0; i < 784; i++) off += px[i] != 255 - src[30000 * 784 + i];
    free(px);
    ck_assert_msg(off >= 1 && off <= 9, "train image 30000: %d pixels differ from the inverted source (marker: 1..9)",
                  off);
    free(src);
    free(lab);
}
END_TEST

START_TEST(shift_output_rules) {
    ck_assert_levi_ok(gen("out", 1, 0.9, 0.9, 0));
    levi_status st = gen("out", 2, 0.9, 0.9, 0);
    ck_assert_int_eq(st, LEVI_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "--force"));
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "/out"));
    ck_assert_levi_ok(gen("out", 2, 0.9, 0.9, 1));
    cJSON *m = read_manifest("out");
    ck_assert_str_eq(cJSON_GetObjectItem(m, "seed")->valuestring, "2");
    cJSON_Delete(m);
    /* an empty folder is fine without --force */
    char p[1024];
    snprintf(p, sizeof p, "%s/empty", test_tmp);
    mkdir(p, 0755);
    ck_assert_levi_ok(gen("empty", 1, 0.9, 0.9, 0));
    /* a file in the way */
    snprintf(p, sizeof p, "%s/file", test_tmp);
    FILE *f = fopen(p, "w");
    fclose(f);
    ck_assert_int_eq(gen("file", 1, 0.9, 0.9, 1), LEVI_ERR_IO);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "not a folder"));
    /* no temporary folders left behind */
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -c -e '\\.tmp\\.' -e '\\.old\\.'", test_tmp);
    FILE *ls = popen(cmd, "r");
    int leftovers = -1;
    ck_assert_int_eq(fscanf(ls, "%d", &leftovers), 1);
    pclose(ls);
    ck_assert_int_eq(leftovers, 0);
}
END_TEST

START_TEST(shift_bad_source) {
    levi_shift_params p;
    levi_shift_defaults(&p);
    char out[1024];
    snprintf(out, sizeof out, "%s/o", test_tmp);
    p.out = out;
    p.limit = 5;
    p.source = "/nonexistent/fashion";
    ck_assert_int_eq(levi_fashion_shift(&p), LEVI_ERR_IO);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "/nonexistent/fashion"));
    p.source = test_tmp; /* a folder without the IDX files */
    ck_assert_int_eq(levi_fashion_shift(&p), LEVI_ERR_IO);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "train-images-idx3-ubyte.gz"));
    p.source = FASHION;
    p.rho_a = 1.5;
    ck_assert_int_eq(levi_fashion_shift(&p), LEVI_ERR_INVALID_ARG);
    ck_assert_int_eq(access(out, F_OK), -1);
    levi_subdomain sd;
    ck_assert_levi_ok(levi_subdomain_parse("edges", &sd));
    ck_assert_int_eq(sd, LEVI_SUBDOMAIN_EDGES);
    ck_assert_int_eq(levi_subdomain_parse("sepia", &sd), LEVI_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "sepia"));
}
END_TEST

START_TEST(contact_sheet) {
    ck_assert_levi_ok(gen("fs", 5, 0.9, 0.9, 0));
    char dir[1024], out[1024];
    snprintf(dir, sizeof dir, "%s/fs", test_tmp);
    snprintf(out, sizeof out, "%s/sheet.png", test_tmp);
    ck_assert_levi_ok(levi_contact_sheet(dir, out, 2, 3));
    int w, h;
    unsigned char *px;
    ck_assert_levi_ok(levi_png_read(out, 3, &w, &h, &px));
    /* 10 class columns of 28*3 px, 4 splits of 2 rows of 28*3 px, plus labels */
    ck_assert_int_gt(w, 10 * 84);
    ck_assert_int_gt(h, 4 * 2 * 84);
    ck_assert_int_lt(h, 4 * 2 * 84 + 300);
    int hist[256] = {0}, distinct = 0;
    for (long i = 0; i < (long)w * h; i++) hist[px[3 * i]]++;
    for (int i = 0; i < 256; i++) distinct += hist[i] > 0;
    free(px);
    ck_assert_msg(distinct > 50, "the sheet holds only %d gray levels", distinct);
    /* bad inputs: a folder that is not a benchmark, an unwritable output */
    snprintf(out, sizeof out, "%s/no/such/folder/sheet.png", test_tmp);
    ck_assert_int_ne(levi_contact_sheet(dir, out, 2, 3), LEVI_OK);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "sheet.png"));
    snprintf(dir, sizeof dir, "%s/missing", test_tmp);
    snprintf(out, sizeof out, "%s/sheet2.png", test_tmp);
    ck_assert_int_ne(levi_contact_sheet(dir, out, 2, 3), LEVI_OK);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "missing"));
    ck_assert_int_eq(access(out, F_OK), -1);
}
END_TEST

void register_shift_tests(Suite *s);
void register_shift_tests(Suite *s) {
    if (access(FASHION "/train-images-idx3-ubyte.gz", R_OK) != 0) {
        fprintf(stderr, "note: %s not installed: fashion-shift tests left out\n", FASHION);
        return;
    }
    TCase *tc = tcase_create("fashion-shift");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, test_tmp_setup, test_tmp_teardown);
    tcase_add_test(tc, shift_deterministic_and_counted);
    tcase_add_test(tc, shift_features_follow_rho);
    tcase_add_test(tc, shift_output_rules);
    tcase_add_test(tc, shift_bad_source);
    tcase_add_test(tc, contact_sheet);
    suite_add_tcase(s, tc);
}
