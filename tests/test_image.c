/* Images: JPEG decoding against Pillow, PIL's resampling filters, Hugging
 * Face preprocessing against transformers (golden files written by
 * tools/make_image_fixtures.py), the corpus of broken JPEGs, preprocessor
 * configs with bad fields, and an ImageFolder with bad images (error, or
 * --skip-bad). No device needed; CI runs this suite under ASan/UBSan.
 *
 * Tolerances: decoded and resampled 8-bit pixels must equal Pillow's exactly
 * (0 levels); transformers' float pixel_values must match to 1e-6 (the same
 * float32 operations give the same bits: the tolerance only absorbs a
 * different libm in the reference's exp/log, never a whole level, which is
 * ≥ 0.015 after normalisation). */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "golden.h"
#include "testutil.h"

static golden_file g_gold;
static const golden_array *gold(const char *name) {
    const golden_array *a = golden_get(&g_gold, name);
    ck_assert_msg(a != NULL, "golden array %s is missing from preprocess.bin", name);
    return a;
}

static void fixture(char *buf, size_t len, const char *name) {
    char rel[512], p[1024];
    snprintf(rel, sizeof rel, "images/%s", name);
    golden_path(p, sizeof p, rel);
    char *real = realpath(p, NULL); /* absolute: the tests link to it from a temp folder */
    if (snprintf(buf, len, "%s", real ? real : p) >= (int)len) ck_abort_msg("fixture path too long");
    free(real);
}

/* 8-bit pixels against a golden array, exactly (through the suites' one comparison) */
static void check_pixels(const char *what, const unsigned char *px, const golden_array *a) {
    float *f = malloc(sizeof *f * a->numel);
    ck_assert_ptr_nonnull(f);
    for (size_t i = 0; i < a->numel; i++) f[i] = px[i];
    test_check_close_f(what, f, a->data, a->numel, 0, 0);
    free(f);
}

START_TEST(jpeg_decodes_as_pillow) {
    const char *names[] = {"small_420.jpg", "small_444.jpg", "small_gray.jpg", "small_prog.jpg"};
    for (int k = 0; k < 4; k++) {
        char path[1024], key[128];
        fixture(path, sizeof path, names[k]);
        snprintf(key, sizeof key, "decode/%s", names[k]);
        const golden_array *a = gold(key);
        int C = a->shape[2], w, h;
        unsigned char *px;
        ck_assert_levi_ok(levi_image_read(path, C, &w, &h, &px));
        ck_assert_int_eq(h, a->shape[0]);
        ck_assert_int_eq(w, a->shape[1]);
        char what[160];
        snprintf(what, sizeof what, "%s: decoded pixels against Pillow's", names[k]);
        check_pixels(what, px, a);
        free(px);
        /* the other channel count: PIL's convert("L") / convert("RGB") */
        ck_assert_levi_ok(levi_image_read(path, 4 - C, &w, &h, &px));
        for (int i = 0; i < w * h; i++) {
            const float *p = a->data + (size_t)i * C;
            if (C == 3) {
                int l = (int)((19595u * (unsigned)p[0] + 38470u * (unsigned)p[1] + 7471u * (unsigned)p[2] + 0x8000u) >> 16);
                ck_assert_int_eq(px[i], l);
            } else {
                for (int c = 0; c < 3; c++) ck_assert_int_eq(px[3 * i + c], (int)p[0]);
            }
        }
        free(px);
        ck_assert_int_eq(levi_image_sniff((const unsigned char *)"\xff\xd8\xff", 3), LEVI_IMAGE_JPEG);
    }
}
END_TEST

START_TEST(resample_matches_pil) {
    const golden_array *src = gold("resample/src");
    int H = src->shape[0], W = src->shape[1];
    unsigned char in[64 * 64 * 3], inl[64 * 64], out[64 * 64 * 3];
    ck_assert_uint_le(src->numel, sizeof in);
    for (size_t i = 0; i < src->numel; i++) in[i] = (unsigned char)src->data[i];
    for (int i = 0; i < H * W; i++)
        inl[i] = (unsigned char)((19595u * in[3 * i] + 38470u * in[3 * i + 1] + 7471u * in[3 * i + 2] + 0x8000u) >> 16);
    const char *names[3] = {"down", "up", "box"};
    for (int f = 0; f < 6; f++)
        for (int c = 0; c < 3; c++) {
            char key[64];
            snprintf(key, sizeof key, "resample/%d/%s", f, names[c]);
            const golden_array *a = gold(key);
            int oh = a->shape[0], ow = a->shape[1], C = a->ndim == 3 ? a->shape[2] : 1;
            double box[4] = {3.5, 2.25, 30.0, 27.0};
            ck_assert_levi_ok(levi_resample(C == 1 ? inl : in, W, H, C, c == 2 ? box : NULL, out, ow, oh, f));
            char what[160];
            snprintf(what, sizeof what, "%s against PIL's Image.resize", key);
            check_pixels(what, out, a);
        }
    ck_assert_int_eq(levi_resample(in, W, H, 3, NULL, out, 4, 4, 9), LEVI_ERR_INVALID_ARG);
    double outside[4] = {0, 0, W + 1.0, H};
    ck_assert_int_eq(levi_resample(in, W, H, 3, outside, out, 4, 4, 2), LEVI_ERR_INVALID_ARG);
}
END_TEST

START_TEST(preprocess_matches_transformers) {
    char path[1024];
    golden_path(path, sizeof path, "preprocess_cases.json");
    char *text;
    size_t len;
    ck_assert_levi_ok(levi_read_file(path, &text, &len));
    cJSON *doc = cJSON_Parse(text);
    free(text);
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(doc, "cases"), *c;
    int n = 0;
    cJSON_ArrayForEach(c, cases) {
        char key[128];
        snprintf(key, sizeof key, "proc/%s", c->string);
        const golden_array *a = gold(key);
        int C = cJSON_GetObjectItemCaseSensitive(c, "channels")->valueint;
        ck_assert_int_eq(a->shape[0], C);
        int H = a->shape[1], W = a->shape[2];
        char *cfg = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(c, "config"));
        levi_preprocess p;
        ck_assert_levi_ok(levi_preprocess_parse(&p, cfg, c->string, C, H, W));
        /* the JSON levi-cl stores in a model file gives the same preprocessing back */
        char *again = levi_preprocess_json(&p);
        levi_preprocess q;
        ck_assert_levi_ok(levi_preprocess_parse(&q, again, "round trip", C, 1, 1));
        ck_assert_mem_eq(&p, &q, sizeof p);
        free(again);
        free(cfg);
        fixture(path, sizeof path, cJSON_GetObjectItemCaseSensitive(c, "image")->valuestring);
        float *out = malloc(sizeof(float) * a->numel);
        ck_assert_levi_ok(levi_image_preprocess(path, &p, H, W, out));
        char what[160];
        snprintf(what, sizeof what, "%s: pixel_values against transformers'", c->string);
        test_check_close_f(what, out, a->data, a->numel, 1e-6, 0);
        /* the wrong output size is an error naming the image */
        ck_assert_int_eq(levi_image_preprocess(path, &p, H + 1, W, out), LEVI_ERR_SHAPE);
        ck_assert_ptr_nonnull(strstr(levi_last_error(), path));
        free(out);
        n++;
    }
    ck_assert_int_ge(n, 5);
    cJSON_Delete(doc);
}
END_TEST

START_TEST(bad_jpegs_rejected) {
    char dir[1024];
    golden_path(dir, sizeof dir, "images/bad");
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        for (int C = 1; C <= 3; C += 2) {
            int w = -1, h = -1;
            unsigned char *px = (unsigned char *)1;
            levi_status st = levi_image_read(path, C, &w, &h, &px);
            ck_assert_msg(st == LEVI_ERR_FORMAT, "%s: expected a format error, got %s (%s)", e->d_name,
                          levi_status_name(st), levi_last_error());
            ck_assert_ptr_null(px);
            ck_assert_msg(strstr(levi_last_error(), e->d_name) != NULL, "message '%s' does not name the file",
                          levi_last_error());
        }
        n++;
    }
    closedir(d);
    ck_assert_int_ge(n, 10);
    /* a few of the messages say what was wrong */
    struct {
        const char *file, *says;
    } why[] = {{"cmyk.jpg", "CMYK"},          {"precision12.jpg", "precision 12"}, {"enormous.jpg", "60000x60000"},
               {"empty.jpg", "empty file"}, {"not_jpeg.jpg", "neither a PNG nor a JPEG"}};
    for (size_t i = 0; i < sizeof why / sizeof why[0]; i++) {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, why[i].file);
        int w, h;
        unsigned char *px;
        ck_assert_int_ne(levi_image_read(path, 3, &w, &h, &px), LEVI_OK);
        ck_assert_msg(strstr(levi_last_error(), why[i].says) != NULL, "message '%s' lacks '%s'", levi_last_error(),
                      why[i].says);
    }
    /* every prefix of a good JPEG is an error, never a crash or a half-grey image */
    char good[1024];
    fixture(good, sizeof good, "small_prog.jpg");
    char *data;
    size_t len;
    ck_assert_levi_ok(levi_read_file(good, &data, &len));
    for (size_t cut = 0; cut < len - 2; cut += 7) {
        int w, h;
        unsigned char *px = NULL;
        ck_assert_int_eq(levi_jpeg_decode((unsigned char *)data, cut, "cut.jpg", 3, &w, &h, &px), LEVI_ERR_FORMAT);
        ck_assert_ptr_null(px);
    }
    free(data);
    /* a PNG chunk claiming 2 GB in a 45-byte file is refused without allocating it */
    unsigned char png[45] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                             0, 0, 0, 4, 0, 0, 0, 4, 8, 0, 0, 0, 0};
    unsigned crc = (unsigned)crc32(0, png + 12, 17);
    unsigned char tail[16] = {crc >> 24, crc >> 16, crc >> 8, crc, 0x7f, 0xff, 0xff, 0xff, 'i', 'C', 'C', 'P', 0, 0, 0, 0};
    memcpy(png + 29, tail, sizeof tail);
    int w, h;
    unsigned char *px;
    ck_assert_int_eq(levi_image_decode(png, sizeof png, "chunk.png", 3, &w, &h, &px), LEVI_ERR_FORMAT);
    ck_assert_ptr_null(px);
}
END_TEST

START_TEST(preprocess_config_errors) {
    levi_preprocess p;
    struct {
        const char *json, *says;
    } bad[] = {
        {"[1,2]", "not a JSON object"},
        {"{\"size\": \"big\"}", "'size'"},
        {"{\"size\": {\"height\": 10}}", "'width'"},
        {"{\"size\": {\"longest_edge\": 10}}", "longest_edge"},
        {"{\"image_mean\": [0.1, 0.2]}", "image_mean"},
        {"{\"image_std\": [0.1, 0, 0.2]}", "image_std"},
        {"{\"resample\": 7}", "resample"},
        {"{\"crop_pct\": 0.875}", "crop_pct"},
        {"{\"do_resize\": 3}", "do_resize"},
        {"{\"image_processor_type\": 5}", "image_processor_type"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        levi_status st = levi_preprocess_parse(&p, bad[i].json, "pp.json", 3, 8, 8);
        ck_assert_msg(st != LEVI_OK, "%s was accepted", bad[i].json);
        ck_assert_msg(strstr(levi_last_error(), "pp.json") && strstr(levi_last_error(), bad[i].says),
                      "message '%s' lacks pp.json or '%s'", levi_last_error(), bad[i].says);
    }
    /* a scalar mean applies to every channel; 1-channel backbones take 1-element lists */
    ck_assert_levi_ok(levi_preprocess_parse(&p, "{\"image_mean\": 0.25, \"image_std\": [2]}", "x", 3, 8, 8));
    for (int c = 0; c < 3; c++) ck_assert(p.image_mean[c] == 0.25f && p.image_std[c] == 2.0f);
    ck_assert_levi_ok(levi_preprocess_parse(&p, "{\"image_mean\": [0.2], \"image_std\": [0.3]}", "x", 1, 8, 8));
    float t[LEVI_PRE_MAX_CHANNELS][256];
    levi_preprocess_table(&p, t);
    ck_assert_float_eq(t[0][255], (1.0f - 0.2f) / 0.3f);
    ck_assert_int_ne(levi_preprocess_parse(&p, "{}", "x", 2, 8, 8), LEVI_OK);
}
END_TEST

/* An ImageFolder of JPEGs and PNGs of mixed sizes and modes, plus bad files. */
START_TEST(folder_with_bad_images) {
    char root[1024], p[2048], src[1024];
    snprintf(root, sizeof root, "%s/ds", test_tmp);
    mkdir(root, 0755);
    const char *cls[2] = {"cat", "dog"};
    const char *files[2][3] = {{"photo_rgb.jpg", "photo_rgba.png", "small_444.jpg"},
                               {"photo_gray.jpg", "photo_prog.jpg", "small_pal.png"}};
    for (int c = 0; c < 2; c++) {
        snprintf(p, sizeof p, "%s/%s", root, cls[c]);
        mkdir(p, 0755);
        for (int i = 0; i < 3; i++) {
            fixture(src, sizeof src, files[c][i]);
            /* upper-case extensions count too */
            snprintf(p, sizeof p, "%s/%s/%d_%s", root, cls[c], i, i == 1 ? "IMG.JPEG" : files[c][i]);
            ck_assert_int_eq(symlink(src, p), 0);
        }
    }
    levi_preprocess pre;
    ck_assert_levi_ok(levi_preprocess_parse(&pre, "{\"size\": {\"height\": 24, \"width\": 32}, \"image_mean\": [0.5,0.4,0.3]}",
                                            "cfg", 3, 24, 32));
    levi_dataset ds;
    levi_load_options opt = {.workers = 3};
    long before = levi_image_decode_count();
    ck_assert_levi_ok(levi_dataset_load(&ds, root, &pre, 24, 32, &opt));
    ck_assert_int_eq(ds.n, 6);
    ck_assert_int_eq(levi_image_decode_count() - before, 6);
    ck_assert_int_eq(ds.labels[5], 1);
    levi_dataset_free(&ds);
    /* a broken JPEG: an error naming it; with skip_bad a warning and a count */
    fixture(src, sizeof src, "bad/truncated_half.jpg");
    snprintf(p, sizeof p, "%s/dog/9_broken.jpg", root);
    ck_assert_int_eq(symlink(src, p), 0);
    ck_assert_int_eq(levi_dataset_load(&ds, root, &pre, 24, 32, &opt), LEVI_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "9_broken.jpg"));
    ck_assert_ptr_null(ds.pixels);
    opt.skip_bad = 1;
    ck_assert_levi_ok(levi_dataset_load(&ds, root, &pre, 24, 32, &opt));
    ck_assert_int_eq(ds.n, 6);
    ck_assert_int_eq(ds.skipped, 1);
    levi_dataset_free(&ds);
    /* a class left with no readable image is an error even with skip_bad */
    snprintf(p, sizeof p, "%s/empty", root);
    mkdir(p, 0755);
    fixture(src, sizeof src, "bad/cmyk.jpg");
    snprintf(p, sizeof p, "%s/empty/a.jpg", root);
    ck_assert_int_eq(symlink(src, p), 0);
    ck_assert_int_eq(levi_dataset_load(&ds, root, &pre, 24, 32, &opt), LEVI_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "empty"));
    /* a preprocessing that does not give the model's size */
    ck_assert_int_eq(levi_dataset_load(&ds, root, &pre, 32, 32, &opt), LEVI_ERR_SHAPE);
}
END_TEST

void register_loader_tests(Suite *s);

int main(void) {
    char path[1024], err[512];
    golden_path(path, sizeof path, "preprocess.bin");
    if (golden_load(&g_gold, path, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    Suite *s = suite_create("image");
    TCase *t = tcase_create("image");
    tcase_add_checked_fixture(t, test_tmp_setup, test_tmp_teardown);
    tcase_add_test(t, jpeg_decodes_as_pillow);
    tcase_add_test(t, resample_matches_pil);
    tcase_add_test(t, preprocess_matches_transformers);
    tcase_add_test(t, bad_jpegs_rejected);
    tcase_add_test(t, preprocess_config_errors);
    tcase_add_test(t, folder_with_bad_images);
    suite_add_tcase(s, t);
    register_loader_tests(s);
    int rc = test_run(s);
    golden_free(&g_gold);
    return rc;
}
