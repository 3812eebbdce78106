/* The data loader with a device: the second epoch of training decodes
 * nothing (scratch, lp and levi; a process-wide decode counter), and a
 * JPEG/PNG ImageFolder of mixed sizes and modes trains, evaluates and
 * predicts from the command line. The host-side loader tests are in
 * test_loader_host.c (image suite, also under ASan). Images are tiny. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clitest.h"
#include "levi/backbone.h"
#include "levi/train.h"
#include "testutil.h"

int cmd_train(int argc, char **argv, const cli_env *env);
int cmd_eval(int argc, char **argv, const cli_env *env);
int cmd_predict(int argc, char **argv, const cli_env *env);

/* --- with a device ----------------------------------------------------------------- */

typedef struct epoch_counts {
    long at[4];
} epoch_counts;

static void on_epoch(void *user, int epoch, const levi_train_result *r) {
    (void)r;
    ((epoch_counts *)user)->at[epoch] = levi_image_decode_count();
}

START_TEST(second_epoch_decodes_nothing) {
    char root[1024];
    snprintf(root, sizeof root, "%s/ds", test_tmp);
    test_make_png_folder(root);
    levi_ctx *ctx = test_ctx();
    const levi_method methods[3] = {LEVI_METHOD_SCRATCH, LEVI_METHOD_LP, LEVI_METHOD_LEVI};
    for (int k = 0; k < 3; k++) {
        levi_model_config mc;
        levi_model_config_default(&mc, methods[k]);
        mc.num_classes = 3;
        mc.channels = 3;
        mc.height = mc.width = 16;
        mc.task.hidden = 8;
        levi_vit *vit = NULL;
        levi_backbone *bb = NULL;
        if (methods[k] != LEVI_METHOD_SCRATCH) {
            levi_vit_config vc;
            levi_vit_config_default(&vc);
            vc.image_size = 16;
            vc.patch_size = 8;
            vc.num_channels = 3;
            vc.hidden_size = 16;
            vc.num_hidden_layers = 2;
            vc.num_attention_heads = 2;
            vc.intermediate_size = 16;
            ck_assert_levi_ok(levi_vit_create(&vit, ctx, &vc, 8, LEVI_VIT_FROZEN, 0));
            ck_assert_levi_ok(levi_vit_init_random(vit, 3));
            ck_assert_levi_ok(levi_backbone_from_vit(&bb, ctx, vit));
        }
        levi_model *m;
        ck_assert_levi_ok(levi_model_create(&m, ctx, &mc, bb, 8));
        levi_preprocess pre;
        levi_preprocess_default(&pre, 3, 16, 16, 0.5f, 0.5f);
        levi_dataset ds;
        levi_load_options opt = {.workers = 2};
        long before = levi_image_decode_count();
        ck_assert_levi_ok(levi_dataset_load(&ds, root, &pre, 16, 16, &opt));
        long loaded = levi_image_decode_count();
        ck_assert_int_eq(loaded - before, 15);
        ds.augment = methods[k] == LEVI_METHOD_SCRATCH ? LEVI_AUGMENT_FLIP | LEVI_AUGMENT_CROP : 0;
        levi_train_config tc;
        levi_train_config_default(&tc);
        tc.batch = 8;
        tc.epochs = 3;
        epoch_counts ec = {{0}};
        tc.on_epoch = on_epoch;
        tc.on_epoch_user = &ec;
        levi_train_result res;
        ck_assert_levi_ok(levi_train(m, &ds, &tc, &res));
        for (int e = 1; e <= 3; e++)
            ck_assert_msg(ec.at[e] == loaded, "%s: %ld images decoded by the end of epoch %d", levi_method_name(methods[k]),
                          ec.at[e] - loaded, e);
        ck_assert(res.last_epoch_data_wait_s >= 0 && res.last_epoch_data_wait_s < res.last_epoch_s);
        /* augmentation and the feature cache exclude each other */
        if (methods[k] == LEVI_METHOD_LEVI) {
            ds.augment = LEVI_AUGMENT_FLIP;
            tc.cache_features = 1;
            tc.on_epoch = NULL;
            ck_assert_int_eq(levi_train(m, &ds, &tc, &res), LEVI_ERR_INVALID_ARG);
        }
        levi_dataset_free(&ds);
        levi_model_free(m);
    }
    levi_ctx_destroy(ctx);
}
END_TEST

/* A JPEG/PNG ImageFolder of mixed sizes and modes from the command line. */
START_TEST(jpeg_folder_trains_evaluates_predicts) {
    const char *files[2][3] = {{"photo_rgb.jpg", "photo_rgba.png", "small_444.jpg"},
                               {"photo_gray.jpg", "photo_prog.jpg", "small_pal.png"}};
    char root[1024], p[1400], src[1200], rel[256], out[1100], log[1100], res[1100];
    snprintf(root, sizeof root, "%s/photos", test_tmp);
    mkdir(root, 0755);
    const char *fx = getenv("LEVI_FIXTURES");
    for (int c = 0; c < 2; c++) {
        snprintf(p, sizeof p, "%s/class%d", root, c);
        mkdir(p, 0755);
        for (int i = 0; i < 3; i++) {
            snprintf(rel, sizeof rel, "images/%s", files[c][i]);
            snprintf(src, sizeof src, "%s/%s", fx ? fx : "tests/fixtures", rel);
            char *real = realpath(src, NULL);
            ck_assert_ptr_nonnull(real);
            snprintf(p, sizeof p, "%s/class%d/%s", root, c, files[c][i]);
            ck_assert_int_eq(symlink(real, p), 0);
            free(real);
        }
    }
    snprintf(out, sizeof out, "%s/m.safetensors", test_tmp);
    snprintf(log, sizeof log, "%s/log.jsonl", test_tmp);
    snprintf(res, sizeof res, "%s/stdout.txt", test_tmp);
    ck_assert_int_eq(test_run_cmd(cmd_train, res, "train", "--method", "scratch", "--channels", "3", "--image-size",
                                  "24", "--data", root, "--out", out, "--epochs", "2", "--batch", "4", "--workers", "2",
                                  "--augment", "flip,crop", "--log", log, NULL),
                     0);
    char *text;
    size_t len;
    ck_assert_levi_ok(levi_read_file(log, &text, &len));
    ck_assert_ptr_nonnull(strstr(text, "\"data_wait_s\""));
    free(text);
    ck_assert_int_eq(test_run_cmd(cmd_eval, res, "eval", "--model", out, "--data", root, "--json", NULL), 0);
    ck_assert_levi_ok(levi_read_file(res, &text, &len));
    ck_assert_ptr_nonnull(strstr(text, "\"n\":\t6"));
    free(text);
    snprintf(p, sizeof p, "%s/class1/photo_prog.jpg", root);
    ck_assert_int_eq(test_run_cmd(cmd_predict, res, "predict", "--model", out, p, NULL), 0);
    ck_assert_levi_ok(levi_read_file(res, &text, &len));
    ck_assert_ptr_nonnull(strstr(text, "photo_prog.jpg\tclass"));
    free(text);
    /* a broken JPEG among them: train fails naming it; --skip-bad trains on */
    snprintf(src, sizeof src, "%s/images/bad/truncated_progressive.jpg", fx ? fx : "tests/fixtures");
    char *real = realpath(src, NULL);
    snprintf(p, sizeof p, "%s/class0/zz.jpg", root);
    ck_assert_int_eq(symlink(real, p), 0);
    free(real);
    ck_assert_int_eq(test_run_cmd(cmd_train, res, "train", "--method", "scratch", "--channels", "3", "--image-size",
                                  "24", "--data", root, "--out", out, "--epochs", "1", NULL),
                     1);
    ck_assert_int_eq(test_run_cmd(cmd_train, res, "train", "--method", "scratch", "--channels", "3", "--image-size",
                                  "24", "--data", root, "--out", out, "--epochs", "1", "--skip-bad", NULL),
                     0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("loader");
    int device = test_have_device();
    if (device) {
        TCase *d = tcase_create("device");
        tcase_add_checked_fixture(d, test_tmp_setup, test_tmp_teardown);
        tcase_set_timeout(d, 300);
        tcase_add_test(d, second_epoch_decodes_nothing);
        tcase_add_test(d, jpeg_folder_trains_evaluates_predicts);
        suite_add_tcase(s, d);
    }
    return test_finish(s, device);
}
