/* levi-cl pretrain, run in-process on a tiny synthetic ImageFolder (2 classes
 * of 8×8 images: a bright left or right half, plus noise): training reaches
 * an accuracy well above chance, the output folder loads as a backbone, the
 * same seed gives the same weights, and bad inputs give the documented exit
 * codes and messages without leaving temporary folders behind. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clitest.h"
#include "levi/data.h"
#include "testutil.h"

enum { IMG = 8 };

static char g_dir[512], g_data[600];

static void setup_data(void) {
    char *d = test_tmpdir();
    snprintf(g_dir, sizeof g_dir, "%s", d);
    free(d);
    snprintf(g_data, sizeof g_data, "%s/data", g_dir);
    unsigned char px[IMG * IMG];
    float noise[IMG * IMG];
    for (int c = 0; c < 2; c++) {
        char dir[700], path[800];
        snprintf(dir, sizeof dir, "%s/%s", g_data, c ? "right" : "left");
        ck_assert_levi_ok(levi_mkdirs(dir));
        for (int i = 0; i < 24; i++) {
            test_fill_uniform(noise, IMG * IMG, (unsigned)(100 * c + i + 1), 0.0f, 0.5f);
            for (int y = 0; y < IMG; y++)
                for (int x = 0; x < IMG; x++) {
                    float v = noise[y * IMG + x] + (((x < IMG / 2) == (c == 0)) ? 0.5f : 0.0f);
                    px[y * IMG + x] = (unsigned char)(v >= 1 ? 255 : v * 255);
                }
            snprintf(path, sizeof path, "%s/%03d.png", dir, i);
            ck_assert_levi_ok(levi_png_write(path, px, IMG, IMG, 1));
        }
    }
}

#define run_pretrain(out_path, ...) test_run_cmd(cmd_pretrain, out_path, "pretrain", __VA_ARGS__)

static char *path_in(const char *name) {
    static char buf[8][700];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

/* Entries of g_dir left over by a run: temporary folders (".tmp."), moved-aside
 * copies (".old.") and lock files (".lock"). */
static int count_tmp(void) {
    DIR *d = opendir(g_dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp") || strstr(e->d_name, ".old") || strstr(e->d_name, ".lock")) n++;
    closedir(d);
    return n;
}

/* The JSON summary: the last line of the captured stdout. */
static cJSON *summary(const char *out_path) {
    char *text;
    size_t len;
    ck_assert_levi_ok(levi_read_file(out_path, &text, &len));
    char *last = NULL, *p = text;
    while ((p = strstr(p, "{\"type\":\"summary\""))) last = p++;
    ck_assert_msg(last != NULL, "no summary line in:\n%s", text);
    cJSON *j = cJSON_Parse(last);
    ck_assert_ptr_nonnull(j);
    free(text);
    return j;
}

#define TINY "--image-size", "8", "--patch", "4", "--dim", "16", "--depth", "2", "--heads", "2", "--mlp", "32"

START_TEST(pretrain_learns_and_loads) {
    const char *out = path_in("bb"), *log = path_in("stdout.txt");
    int rc = run_pretrain(log, "--data", g_data, "--out", out, TINY, "--epochs", "12", "--batch", "16", "--lr",
                          "3e-3", "--seed", "1", NULL);
    ck_assert_int_eq(rc, 0);
    cJSON *s = summary(log);
    double acc = cJSON_GetObjectItem(s, "acc")->valuedouble;
    ck_assert_int_eq(cJSON_GetObjectItem(s, "steps")->valueint, 12 * 3);
    cJSON_Delete(s);
    fprintf(stderr, "pretrain: last-epoch train accuracy %.3f\n", acc);
    ck_assert_msg(acc >= 0.85, "last-epoch train accuracy %.3f, expected >= 0.85 (chance 0.5)", acc);
    ck_assert_int_eq(count_tmp(), 0);
    /* the folder is a backbone */
    levi_ctx *ctx = test_ctx();
    levi_vit *v;
    ck_assert_levi_ok(levi_vit_load(&v, ctx, out, 4, LEVI_VIT_FROZEN, 0));
    const levi_vit_config *c = levi_vit_get_config(v);
    ck_assert_int_eq(c->image_size, 8);
    ck_assert_int_eq(c->patch_size, 4);
    ck_assert_int_eq(c->hidden_size, 16);
    ck_assert_int_eq(c->num_hidden_layers, 2);
    ck_assert_int_eq(c->intermediate_size, 32);
    levi_vit_free(v);
    levi_ctx_destroy(ctx);
}
END_TEST

START_TEST(pretrain_same_seed_same_weights) {
    const char *a = path_in("seed_a"), *b = path_in("seed_b/"); /* a trailing slash is fine */
    ck_assert_int_eq(run_pretrain(path_in("o1.txt"), "--data", g_data, "--out", a, TINY, "--epochs", "1", "--batch",
                                  "16", "--seed", "5", NULL),
                     0);
    ck_assert_int_eq(run_pretrain(path_in("o2.txt"), "--data", g_data, "--out", b, TINY, "--epochs", "1", "--batch",
                                  "16", "--seed", "5", NULL),
                     0);
    char pa[800], pb[800];
    snprintf(pa, sizeof pa, "%s/model.safetensors", a);
    snprintf(pb, sizeof pb, "%s/model.safetensors", b);
    char *da, *db;
    size_t la, lb;
    ck_assert_levi_ok(levi_read_file(pa, &da, &la));
    ck_assert_levi_ok(levi_read_file(pb, &db, &lb));
    ck_assert_uint_eq(la, lb);
    ck_assert_msg(memcmp(da, db, la) == 0, "two runs with seed 5 wrote different weights");
    free(da);
    /* --force replaces an existing backbone; without it the folder is kept */
    ck_assert_int_eq(run_pretrain(path_in("o3.txt"), "--data", g_data, "--out", a, TINY, "--epochs", "1", "--seed",
                                  "6", NULL),
                     2);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "--force"));
    ck_assert_int_eq(run_pretrain(path_in("o3.txt"), "--data", g_data, "--out", a, TINY, "--epochs", "1", "--seed",
                                  "6", "--force", NULL),
                     0);
    ck_assert_levi_ok(levi_read_file(pa, &da, &la));
    ck_assert_msg(la != lb || memcmp(da, db, la) != 0, "--force did not replace the backbone");
    free(da);
    free(db);
    ck_assert_int_eq(count_tmp(), 0);
}
END_TEST

START_TEST(pretrain_bad_inputs) {
    const char *out = path_in("bad_out");
    ck_assert_int_eq(run_pretrain(NULL, "--help", NULL), 0);
    ck_assert_int_eq(run_pretrain(NULL, "--out", out, NULL), 2);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "--data"));
    ck_assert_int_eq(run_pretrain(NULL, "--data", g_data, NULL), 2);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "--out"));
    ck_assert_int_eq(run_pretrain(NULL, "--data", g_data, "--out", out, "--bogus", "1", NULL), 2);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "--bogus"));
    ck_assert_int_eq(run_pretrain(NULL, "--data", g_data, "--out", out, "--arch", "vit-huge", NULL), 2);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "vit-huge"));
    ck_assert_int_eq(run_pretrain(NULL, "--data", g_data, "--out", out, "--epochs", "zero", NULL), 2);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "--epochs"));
    ck_assert_int_eq(run_pretrain(NULL, "--data", g_data, "--out", out, "--image-size", "8", "--patch", "3", NULL), 2);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "patch_size"));
    /* a data folder that does not exist is named */
    const char *missing = path_in("no_such_data");
    ck_assert_int_eq(run_pretrain(NULL, "--data", missing, "--out", out, TINY, NULL), 1);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "no_such_data"));
    /* --out is a file, or a non-empty folder that is not a backbone (even with --force) */
    const char *file = path_in("plain_file");
    FILE *f = fopen(file, "w");
    fputs("keep", f);
    fclose(f);
    ck_assert_int_eq(run_pretrain(NULL, "--data", g_data, "--out", file, TINY, NULL), 2);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "not a folder"));
    const char *busy = path_in("busy");
    ck_assert_levi_ok(levi_mkdirs(busy));
    char keep[800];
    snprintf(keep, sizeof keep, "%s/notes.txt", busy);
    f = fopen(keep, "w");
    fputs("keep", f);
    fclose(f);
    ck_assert_int_eq(run_pretrain(NULL, "--data", g_data, "--out", busy, TINY, "--force", NULL), 2);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "not replacing"));
    char *text;
    size_t len;
    ck_assert_levi_ok(levi_read_file(keep, &text, &len));
    ck_assert_str_eq(text, "keep");
    free(text);
    ck_assert_int_eq(access(out, F_OK), -1); /* nothing was written for the failed runs */
    ck_assert_int_eq(count_tmp(), 0);
}
END_TEST

static void remove_data(void) {
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (g_dir[0] && system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
}

int main(void) {
    Suite *s = suite_create("pretrain");
    int device = test_have_device();
    if (device) {
        setenv("LEVI_LOG", "warn", 0);
        levi_log_init();
        TCase *tc = tcase_create("device");
        tcase_add_unchecked_fixture(tc, setup_data, remove_data);
        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, pretrain_bad_inputs);
        tcase_add_test(tc, pretrain_learns_and_loads);
        tcase_add_test(tc, pretrain_same_seed_same_weights);
        suite_add_tcase(s, tc);
    }
    return test_finish(s, device);
}
