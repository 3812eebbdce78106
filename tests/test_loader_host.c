/* The data loader on the host (run under ASan/UBSan in CI with the image
 * suite): batches prepared ahead by worker threads are the same for every
 * thread count (with and without augmentation), a jump to another epoch
 * cancels the prefetch, augmentation is seeded, and data sets too large for
 * memory go to a memory-mapped cache file that later runs reuse without
 * decoding. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

enum { N = 37, C = 3, H = 5, W = 4 };

static levi_dataset fake_ds(unsigned char *px, int *lab) {
    levi_dataset ds = {.n = N, .channels = C, .height = H, .width = W, .pixels = px, .labels = lab, .num_classes = 3};
    levi_preprocess_default(&ds.pre, C, H, W, 0.5f, 0.5f);
    ds.pre.image_mean[1] = 0.25f; /* per channel */
    ds.pre.image_std[2] = 2.0f;
    unsigned long long s = 7;
    for (int i = 0; i < N * C * H * W; i++) px[i] = (unsigned char)(levi_splitmix64(&s) >> 56);
    for (int i = 0; i < N; i++) lab[i] = i % 3;
    return ds;
}

/* Every batch of `epochs` epochs, concatenated. */
static float *run_epochs(levi_dataset *ds, int workers, int shuffle, int epochs, int batch, int *count) {
    ds->workers = workers;
    levi_loader l;
    ck_assert_levi_ok(levi_loader_init(&l, ds, batch, 42, shuffle));
    size_t per = (size_t)C * H * W;
    float *all = malloc(sizeof(float) * (per + 1) * N * epochs), *px = malloc(sizeof(float) * per * batch);
    float lab[64];
    int k = 0;
    for (int e = 0; e < epochs; e++) {
        levi_loader_epoch(&l, e);
        int b;
        while ((b = levi_loader_next(&l, px, lab)) > 0) {
            for (int i = 0; i < b; i++) {
                ck_assert_float_eq(lab[i], (float)ds->labels[l.order[l.pos - b + i]]);
                memcpy(all + (size_t)k * (per + 1), px + (size_t)i * per, sizeof(float) * per);
                all[(size_t)k * (per + 1) + per] = lab[i];
                k++;
            }
        }
    }
    levi_loader_stats ls;
    levi_loader_stats_get(&l, &ls);
    ck_assert_int_eq(ls.images, N * epochs);
    ck_assert(ls.wait_s >= 0 && ls.prepare_s > 0);
    levi_loader_free(&l);
    free(px);
    *count = k;
    return all;
}

START_TEST(prefetch_same_for_any_thread_count) {
    unsigned char px[N * C * H * W];
    int lab[N], n1, n4;
    levi_dataset ds = fake_ds(px, lab);
    float t[LEVI_PRE_MAX_CHANNELS][256];
    levi_preprocess_table(&ds.pre, t);
    ck_assert_float_eq(t[1][255], (1.0f - 0.25f) / 0.5f);
    ck_assert_float_eq(t[2][0], (0.0f - 0.5f) / 2.0f);
    size_t per = (size_t)C * H * W;
    for (int aug = 0; aug < 2; aug++)
        for (int shuffle = 0; shuffle < 2; shuffle++) {
            ds.augment = aug ? LEVI_AUGMENT_FLIP | LEVI_AUGMENT_CROP : 0;
            float *a = run_epochs(&ds, 1, shuffle, 3, 8, &n1), *b = run_epochs(&ds, 4, shuffle, 3, 8, &n4);
            ck_assert_int_eq(n1, 3 * N);
            ck_assert_int_eq(n4, 3 * N);
            ck_assert_msg(!memcmp(a, b, sizeof(float) * (per + 1) * n1), "1 and 4 threads differ (aug %d shuffle %d)",
                          aug, shuffle);
            /* without shuffling (evaluation) there is never augmentation: image k is dataset image k % N */
            if (!shuffle)
                for (int k = 0; k < n1; k++) {
                    const unsigned char *src = px + (size_t)(k % N) * per;
                    for (int c = 0; c < C; c++)
                        for (int i = 0; i < H * W; i++)
                            ck_assert_float_eq(a[(size_t)k * (per + 1) + (size_t)c * H * W + i], t[c][src[i * C + c]]);
                }
            free(a);
            free(b);
        }
}
END_TEST

START_TEST(epoch_jump_cancels_prefetch) {
    unsigned char px[N * C * H * W];
    int lab[N];
    levi_dataset ds = fake_ds(px, lab);
    ds.augment = LEVI_AUGMENT_FLIP | LEVI_AUGMENT_CROP;
    ds.workers = 3;
    size_t per = (size_t)C * H * W;
    float a[8 * C * H * W], b[8 * C * H * W], la[8], lb[8];
    levi_loader l, r;
    ck_assert_levi_ok(levi_loader_init(&l, &ds, 8, 5, 1));
    ck_assert_int_eq(levi_loader_next(&l, a, la), 8);
    ck_assert_int_eq(levi_loader_next(&l, a, la), 8);
    levi_loader_epoch(&l, 4); /* a resume: the prefetched rest of epoch 0 and start of epoch 1 are dropped */
    ck_assert_levi_ok(levi_loader_init(&r, &ds, 8, 5, 1));
    levi_loader_epoch(&r, 4);
    ck_assert_mem_eq(l.order, r.order, sizeof(int) * N);
    int x, y, total = 0;
    while ((x = levi_loader_next(&l, a, la)) > 0) {
        y = levi_loader_next(&r, b, lb);
        ck_assert_int_eq(x, y);
        ck_assert_mem_eq(a, b, sizeof(float) * per * x);
        ck_assert_mem_eq(la, lb, sizeof(float) * x);
        total += x;
    }
    ck_assert_int_eq(total, N);
    levi_loader_free(&l);
    levi_loader_free(&r);
}
END_TEST

START_TEST(augmentation_seeded) {
    unsigned char px[N * C * H * W];
    int lab[N];
    levi_dataset ds = fake_ds(px, lab);
    size_t per = (size_t)C * H * W;
    /* flip only: every image is itself or its mirror, and both happen */
    ds.augment = LEVI_AUGMENT_FLIP;
    int n;
    float *a = run_epochs(&ds, 2, 1, 2, 8, &n);
    float t[LEVI_PRE_MAX_CHANNELS][256];
    levi_preprocess_table(&ds.pre, t);
    int same = 0, mirrored = 0;
    levi_loader l;
    ck_assert_levi_ok(levi_loader_init(&l, &ds, 8, 42, 1));
    for (int e = 0, k = 0; e < 2; e++) {
        levi_loader_epoch(&l, e);
        for (int i = 0; i < N; i++, k++) {
            const unsigned char *src = px + (size_t)l.order[i] * per;
            const float *o = a + (size_t)k * (per + 1);
            int s = 1, m = 1;
            for (int c = 0; c < C; c++)
                for (int y = 0; y < H; y++)
                    for (int x = 0; x < W; x++) {
                        float v = o[(size_t)c * H * W + y * W + x];
                        s &= v == t[c][src[(y * W + x) * C + c]];
                        m &= v == t[c][src[(y * W + (W - 1 - x)) * C + c]];
                    }
            ck_assert_msg(s || m, "image %d of epoch %d is neither itself nor its mirror", i, e);
            same += s;
            mirrored += m && !s;
        }
    }
    levi_loader_free(&l);
    ck_assert_msg(same > 10 && mirrored > 10, "flips: %d kept, %d mirrored of %d", same, mirrored, 2 * N);
    free(a);
    ck_assert_int_eq(levi_augment_parse("crop,flip", &ds.augment), LEVI_OK);
    ck_assert_uint_eq(ds.augment, LEVI_AUGMENT_FLIP | LEVI_AUGMENT_CROP);
    ck_assert_int_eq(levi_augment_parse("flip,rotate", &ds.augment), LEVI_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "rotate"));
    ck_assert_int_eq(levi_augment_parse("flip,", &ds.augment), LEVI_ERR_INVALID_ARG);
}
END_TEST

START_TEST(cache_file_when_too_large) {
    char root[1024], cache[1024], p[1200];
    snprintf(root, sizeof root, "%s/ds", test_tmp);
    snprintf(cache, sizeof cache, "%s/cache", test_tmp);
    test_make_png_folder(root);
    const char *was = getenv("LEVI_CACHE_DIR");
    char *old = was ? strdup(was) : NULL;
    setenv("LEVI_CACHE_DIR", cache, 1);
    levi_preprocess pre;
    levi_preprocess_default(&pre, 3, 6, 8, 0.5f, 0.5f);
    levi_dataset mem, a, b;
    levi_load_options opt = {.workers = 2};
    ck_assert_levi_ok(levi_dataset_load(&mem, root, &pre, 6, 8, &opt));
    ck_assert_ptr_null(mem.map_);
    /* a stale temporary of a process that died goes away */
    ck_assert_levi_ok(levi_mkdirs(cache));
    snprintf(p, sizeof p, "%s/data", cache);
    ck_assert_levi_ok(levi_mkdirs(p));
    snprintf(p, sizeof p, "%s/data/0123.u8.tmp.999999999.0", cache);
    ck_assert_levi_ok(levi_write_file_atomic(p, "x", 1));
    opt.max_memory = 100; /* bytes: nothing fits */
    long before = levi_image_decode_count();
    ck_assert_levi_ok(levi_dataset_load(&a, root, &pre, 6, 8, &opt));
    ck_assert_int_eq(levi_image_decode_count() - before, 15);
    ck_assert_ptr_nonnull(a.map_);
    ck_assert_int_eq(a.from_cache_file, 0);
    ck_assert_int_ne(access(p, F_OK), 0);
    ck_assert_int_eq(a.n, 15);
    ck_assert_mem_eq(a.pixels, mem.pixels, (size_t)15 * 3 * 6 * 8);
    /* the next run maps the same file and decodes nothing */
    before = levi_image_decode_count();
    ck_assert_levi_ok(levi_dataset_load(&b, root, &pre, 6, 8, &opt));
    ck_assert_int_eq(levi_image_decode_count() - before, 0);
    ck_assert_int_eq(b.from_cache_file, 1);
    ck_assert_mem_eq(b.pixels, mem.pixels, (size_t)15 * 3 * 6 * 8);
    ck_assert_mem_eq(b.labels, mem.labels, sizeof(int) * 15);
    levi_dataset_free(&b);
    /* other preprocessing, or a changed file: a new entry */
    levi_preprocess other = pre;
    other.resample = LEVI_RESAMPLE_BICUBIC;
    before = levi_image_decode_count();
    ck_assert_levi_ok(levi_dataset_load(&b, root, &other, 6, 8, &opt));
    ck_assert_int_eq(b.from_cache_file, 0);
    levi_dataset_free(&b);
    snprintf(p, sizeof p, "%s/c1/3.png", root);
    unsigned char img[9 * 7] = {0};
    sleep(1); /* a different mtime even on coarse file systems */
    ck_assert_levi_ok(levi_png_write(p, img, 9, 7, 1));
    ck_assert_levi_ok(levi_dataset_load(&b, root, &pre, 6, 8, &opt));
    ck_assert_int_eq(b.from_cache_file, 0);
    ck_assert_int_eq(b.pixels[(5 + 3) * 144], 0);
    levi_dataset_free(&b);
    /* a bad image: an error and no entry left behind; with skip_bad an entry without it */
    snprintf(p, sizeof p, "%s/c2/9.png", root);
    ck_assert_levi_ok(levi_write_file_atomic(p, "not a png", 9));
    ck_assert_int_eq(levi_dataset_load(&b, root, &pre, 6, 8, &opt), LEVI_ERR_FORMAT);
    opt.skip_bad = 1;
    ck_assert_levi_ok(levi_dataset_load(&b, root, &pre, 6, 8, &opt));
    ck_assert_int_eq(b.n, 15);
    ck_assert_int_eq(b.skipped, 1);
    levi_dataset_free(&b);
    ck_assert_levi_ok(levi_dataset_load(&b, root, &pre, 6, 8, &opt));
    ck_assert_int_eq(b.from_cache_file, 1);
    ck_assert_int_eq(b.skipped, 1);
    ck_assert_int_eq(b.labels[14], 2);
    levi_dataset_free(&b);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "ls %s/data | grep -c tmp", cache);
    FILE *f = popen(cmd, "r");
    int leftovers = -1;
    ck_assert_int_eq(fscanf(f, "%d", &leftovers), 1);
    pclose(f);
    ck_assert_int_eq(leftovers, 0);
    levi_dataset_free(&a);
    levi_dataset_free(&mem);
    if (old) setenv("LEVI_CACHE_DIR", old, 1);
    else unsetenv("LEVI_CACHE_DIR");
    free(old);
}
END_TEST


void register_loader_tests(Suite *s);

void register_loader_tests(Suite *s) {
    TCase *t = tcase_create("loader");
    tcase_add_checked_fixture(t, test_tmp_setup, test_tmp_teardown);
    tcase_add_test(t, prefetch_same_for_any_thread_count);
    tcase_add_test(t, epoch_jump_cancels_prefetch);
    tcase_add_test(t, augmentation_seeded);
    tcase_add_test(t, cache_file_when_too_large);
    suite_add_tcase(s, t);
}
