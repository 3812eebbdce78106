/* The demo's readers and writers (src/cli/demo_results.c, compiled in): train
 * metrics JSON lines (binning, epoch lines, a torn last line), eval JSON in
 * several layouts, and results.json + report.html. Needs no device. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/cli/demo_results.h"
#include "testutil.h"

static char *write_tmp(const char *dir, const char *name, const char *text) {
    char *path = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

START_TEST(metrics_binned) {
    char *dir = test_tmpdir();
    size_t cap = 1 << 20, len = 0;
    char *text = malloc(cap);
    /* 500 steps in 2 epochs, loss = 2 - step/500 exactly */
    for (int s = 1; s <= 500; s++) {
        len += (size_t)snprintf(text + len, cap - len,
                                "{\"type\":\"step\",\"step\":%d,\"epoch\":%d,\"loss\":%.6f,\"acc\":0.5,\"lr\":0.001,"
                                "\"samples_per_s\":%d,\"elapsed\":%.1f}\n",
                                s, s <= 250 ? 1 : 2, 2.0 - s / 500.0, 1000 + s, s * 0.1);
        if (s == 250 || s == 500)
            len += (size_t)snprintf(text + len, cap - len,
                                    "{\"type\":\"epoch\",\"step\":%d,\"epoch\":%d,\"loss\":1.5,\"acc\":%.2f,"
                                    "\"samples_per_s\":%d,\"elapsed\":%.1f,\"epoch_s\":25}\n",
                                    s, s / 250, s == 250 ? 0.6 : 0.8, s == 250 ? 900 : 950, s * 0.1);
    }
    strcat(text, "{\"type\":\"step\",\"step\":501,\"lo"); /* torn last line */
    char *path = write_tmp(dir, "m.jsonl", text);
    demo_metrics m;
    ck_assert_levi_ok(demo_metrics_read(path, &m));
    /* 500 steps in bins of 3 → 167 points, each the mean of its bin */
    ck_assert_int_eq(m.n, 167);
    ck_assert_msg(fabs(m.x[0] - 2.0) < 1e-9 && fabs(m.loss[0] - (2.0 - 2.0 / 500)) < 1e-6, "bin 0: %g %g", m.x[0],
                  m.loss[0]);
    ck_assert_msg(fabs(m.x[166] - 499.5) < 1e-9, "last bin x %g, want 499.5 (steps 499, 500)", m.x[166]);
    double *line = malloc((size_t)m.n * sizeof(double));
    ck_assert_ptr_nonnull(line);
    for (int i = 0; i < m.n; i++) line[i] = 2.0 - m.x[i] / 500.0;
    test_check_close_d("binned loss vs the line", m.loss, line, (size_t)m.n, 1e-6, 0);
    free(line);
    ck_assert_double_eq_tol(m.samples_per_s, 950, 1e-9); /* the last epoch line */
    ck_assert_double_eq_tol(m.final_acc, 0.8, 1e-9);
    ck_assert_double_eq_tol(m.elapsed, 50.0, 1e-9);
    free(text);
    free(path);
    free(dir);
}
END_TEST

START_TEST(metrics_epochs_only) {
    char *dir = test_tmpdir();
    char *path = write_tmp(dir, "m.jsonl",
                           "not json\n"
                           "{\"type\":\"epoch\",\"step\":10,\"epoch\":1,\"loss\":2.0,\"acc\":0.3,\"samples_per_s\":100}\n"
                           "{\"type\":\"epoch\",\"step\":20,\"epoch\":2,\"loss\":1.0,\"acc\":0.6,\"samples_per_s\":120}\n");
    demo_metrics m;
    ck_assert_levi_ok(demo_metrics_read(path, &m));
    ck_assert_int_eq(m.n, 2);
    ck_assert(m.x[1] == 20 && m.loss[1] == 1.0);
    ck_assert_double_eq_tol(m.samples_per_s, 120, 1e-9);
    ck_assert(m.elapsed < 0);
    free(path);
    ck_assert_int_eq(demo_metrics_read("/nonexistent/m.jsonl", &m), LEVI_ERR_IO);
    free(dir);
}
END_TEST

START_TEST(eval_layouts) {
    char *dir = test_tmpdir();
    const struct {
        const char *text;
        double id, ood;
    } cases[] = {
        {"{\"datasets\":[{\"path\":\"/c/d/test-id\",\"accuracy\":0.9,\"per_class\":[{\"class\":\"a\",\"acc\":0.1}]},"
         "{\"path\":\"/c/d/test-ood\",\"accuracy\":0.5}]}",
         0.9, 0.5},
        /* keyed by path, in percent, OOD first */
        {"{\"/x/test-ood\":{\"acc\":50.0},\"/x/test-id\":{\"acc\":90.0}}", 0.9, 0.5},
        /* an array after some text, unnamed: first is ID, second OOD */
        {"loading...\n[{\"acc\":0.7},{\"acc\":0.25}]\n", 0.7, 0.25},
        /* only one data set */
        {"{\"data\":\"test-id\",\"accuracy\":0.8}", 0.8, -1},
    };
    for (int i = 0; i < 4; i++) {
        char name[16];
        snprintf(name, sizeof name, "e%d.json", i);
        char *path = write_tmp(dir, name, cases[i].text);
        double id, ood;
        ck_assert_levi_ok(demo_eval_read(path, "test-id", "test-ood", &id, &ood));
        ck_assert_msg(fabs(id - cases[i].id) < 1e-9 && fabs(ood - cases[i].ood) < 1e-9,
                      "case %d: id %g ood %g, want %g %g", i, id, ood, cases[i].id, cases[i].ood);
        free(path);
    }
    char *path = write_tmp(dir, "bad.json", "{\"n\":3}");
    double id, ood;
    ck_assert_int_eq(demo_eval_read(path, "test-id", "test-ood", &id, &ood), LEVI_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "bad.json"));
    free(path);
    path = write_tmp(dir, "empty.json", "error: something\n");
    ck_assert_int_eq(demo_eval_read(path, "test-id", "test-ood", &id, &ood), LEVI_ERR_FORMAT);
    free(path);
    free(dir);
}
END_TEST

START_TEST(summary_files) {
    char *dir = test_tmpdir();
    levi_device_info dev;
    memset(&dev, 0, sizeof dev);
    strcpy(dev.name, "fake <device>");
    strcpy(dev.driver_version, "1.2");
    demo_result r[2];
    memset(r, 0, sizeof r);
    r[0] = (demo_result){.method = "scratch", .command = "levi-cl train", .id_acc = 0.8, .ood_acc = 0.4, .train_s = 3,
                         .sps = 100};
    r[1] = (demo_result){.method = "levi", .command = "levi-cl train", .id_acc = 0.85, .ood_acc = 0.6, .train_s = 5,
                         .sps = -1};
    r[1].metrics.n = 2;
    r[1].metrics.x[1] = 10;
    r[1].metrics.loss[0] = 2;
    r[1].metrics.loss[1] = 1;
    demo_summary s = {.size = "tiny", .seed = 3, .dev = &dev, .out = dir, .data = "d", .backbone = "b",
                      .sheet = NULL, .setup_cmds = "levi-cl data", .total_s = 9, .r = r, .n = 2};
    char tpath[1100];
    snprintf(tpath, sizeof tpath, "%s/table.txt", dir);
    FILE *f = fopen(tpath, "w");
    demo_print_table(f, &s);
    fclose(f);
    char *text;
    size_t len;
    ck_assert_levi_ok(levi_read_file(tpath, &text, &len));
    ck_assert_ptr_nonnull(strstr(text, "scratch       80.0%    40.0%       3.0 s        100"));
    ck_assert_ptr_nonnull(strstr(text, "levi          85.0%    60.0%       5.0 s          -"));
    free(text);
    ck_assert_levi_ok(demo_write_results(&s));
    char jpath[1100];
    snprintf(jpath, sizeof jpath, "%s/results.json", dir);
    ck_assert_levi_ok(levi_read_file(jpath, &text, &len));
    cJSON *o = cJSON_Parse(text);
    free(text);
    ck_assert_ptr_nonnull(o);
    cJSON *arr = cJSON_GetObjectItem(o, "methods");
    ck_assert_int_eq(cJSON_GetArraySize(arr), 2);
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 1), "method")->valuestring, "levi");
    ck_assert_double_eq_tol(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 1), "ood_acc")->valuedouble, 0.6, 1e-12);
    ck_assert_int_eq(cJSON_GetObjectItem(o, "seed")->valueint, 3);
    cJSON_Delete(o);
    snprintf(jpath, sizeof jpath, "%s/report.html", dir);
    ck_assert_levi_ok(levi_read_file(jpath, &text, &len));
    ck_assert_ptr_nonnull(strstr(text, "fake &lt;device&gt;"));
    ck_assert_ptr_nonnull(strstr(text, "<td class=\"method\">levi</td>"));
    ck_assert_int_eq(strstr(text, "<polyline class=\"curve\"") != NULL, 1);
    free(text);
    free(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("demo");
    TCase *tc = tcase_create("demo");
    tcase_add_test(tc, metrics_binned);
    tcase_add_test(tc, metrics_epochs_only);
    tcase_add_test(tc, eval_layouts);
    tcase_add_test(tc, summary_files);
    suite_add_tcase(s, tc);
    return test_run(s);
}
