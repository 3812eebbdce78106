/* The text-shift generator on a synthetic Packages file: byte-identical
 * output for the same input, sides that never split a source package, the
 * shortcut's rate in each split, the manifest's hashes (SHA-256 against
 * FIPS 180-4 vectors), the Packages parser, and bad inputs. Host only. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/text/text_shift_internal.h"
#include "testutil.h"

static const char *k_words[] = {"audio", "player", "library", "documentation", "font", "game", "puzzle",
                                "physics", "module", "parser", "network", "viewer", "editor", "tool"};

/* sections a, b, c: 80 packages each from 60 sources (some sources build two
 * binaries), plus noise stanzas. */
static char *packages(size_t *len) {
    size_t cap = 1 << 20, n = 0;
    char *s = malloc(cap);
    const char *secs[] = {"alpha", "contrib/beta", "gamma"};
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 80; i++) {
            int src = i < 60 ? i : i - 60; /* packages 60..79 share a source with 0..19 */
            n += (size_t)snprintf(s + n, cap - n,
                                  "Package: %c-pkg%03d\nVersion: 1.0\nSection: %s\nSource: %c-src%03d (1.0-1)\n"
                                  "Description: %s %s %s number %d\n continuation line ignored\nPriority: optional\n\n",
                                  'a' + c, i, secs[c], 'a' + c, src, k_words[(i + c) % 14], k_words[(i * 3) % 14],
                                  secs[c], i);
        }
    n += (size_t)snprintf(s + n, cap - n,
                          "Package: a-pkg000\nSection: gamma\nDescription: a later duplicate, ignored\n\n"
                          "Package: a-dup1\nSection: alpha\nDescription: same words\n\n"
                          "Package: a-dup2\nSection: alpha\nDescription: same words\n\n"
                          "Package: a-old\nSection: alpha\nDescription: transitional package for a-pkg001\n\n"
                          "Package: a-bad\nSection: alpha\nDescription: bad \xff byte\n\n"
                          "Package: no-section\nDescription: skipped\n\r\n"
                          "Package: z-other\nSection: zeta\nDescription: another section\n");
    *len = n;
    return s;
}

static char *read_all(const char *path) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

static void gen(const char *out, unsigned long long seed, double rho, const char *data, size_t len) {
    levi_text_shift_params p;
    levi_text_shift_defaults(&p);
    p.data = data;
    p.len = len;
    p.source_name = "test";
    p.out = out;
    p.classes = "alpha,beta,gamma";
    p.train_per_class = 25;
    p.test_per_class = 20;
    p.rho = rho;
    p.seed = seed;
    p.force = 1;
    ck_assert_levi_ok(levi_text_shift(&p));
}

START_TEST(sha256_vectors) {
    static const struct {
        const char *in, *hex;
    } v[] = {{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
             {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
             {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"}};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        sha256_ctx c;
        char hex[65];
        sha256_init(&c);
        sha256_update(&c, v[i].in, strlen(v[i].in));
        sha256_hex(&c, hex);
        ck_assert_str_eq(hex, v[i].hex);
    }
    /* a million 'a's, fed in uneven pieces */
    sha256_ctx c;
    char hex[65], chunk[1000];
    memset(chunk, 'a', sizeof chunk);
    sha256_init(&c);
    for (size_t done = 0, k = 1; done < 1000000; done += k, k = k % 997 + 1)
        sha256_update(&c, chunk, done + k > 1000000 ? 1000000 - done : k);
    sha256_hex(&c, hex);
    ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

START_TEST(parses_packages) {
    size_t len;
    char *data = packages(&len);
    deb_package *p;
    int n, skipped;
    ck_assert_levi_ok(deb_packages_parse(data, len, &p, &n, &skipped));
    ck_assert_int_eq(n, 3 * 80 + 4);
    ck_assert_int_eq(skipped, 1);
    for (int i = 1; i < n; i++) ck_assert_int_lt(strcmp(p[i - 1].name, p[i].name), 0);
    ck_assert_str_eq(p[0].name, "a-dup1");
    ck_assert_str_eq(p[0].source, "a-dup1");
    int k = 0;
    while (strcmp(p[k].name, "a-pkg000")) k++;
    ck_assert_str_eq(p[k].section, "alpha"); /* the first of two stanzas wins */
    ck_assert_str_eq(p[k].source, "a-src000");
    ck_assert_str_eq(p[k].description, "audio audio alpha number 0");
    while (strcmp(p[k].name, "b-pkg000")) k++;
    ck_assert_str_eq(p[k].section, "beta"); /* "contrib/" dropped */
    deb_packages_free(p, n);
    free(data);
}
END_TEST

START_TEST(writes_same_bytes_and_keeps_sources_apart) {
    size_t len;
    char *data = packages(&len);
    char a[600], b[600], c[600], path[700];
    snprintf(a, sizeof a, "%s/a", test_tmp);
    snprintf(b, sizeof b, "%s/b", test_tmp);
    snprintf(c, sizeof c, "%s/c", test_tmp);
    gen(a, 3, 0.9, data, len);
    gen(b, 3, 0.9, data, len);
    gen(c, 4, 0.9, data, len);
    const char *files[] = {"train.jsonl", "test-id.jsonl", "test-ood.jsonl", "test-noname.jsonl", "manifest.json"};
    int differs = 0;
    for (int f = 0; f < 5; f++) {
        snprintf(path, sizeof path, "%s/%s", a, files[f]);
        char *x = read_all(path);
        snprintf(path, sizeof path, "%s/%s", b, files[f]);
        char *y = read_all(path);
        snprintf(path, sizeof path, "%s/%s", c, files[f]);
        char *z = read_all(path);
        ck_assert_msg(!strcmp(x, y), "%s differs between two runs with the same seed", files[f]);
        differs += strcmp(x, z) != 0;
        free(x);
        free(y);
        free(z);
    }
    ck_assert_int_ge(differs, 4);

    /* the manifest: the source's hash, counts */
    snprintf(path, sizeof path, "%s/manifest.json", a);
    char *m = read_all(path);
    cJSON *j = cJSON_Parse(m);
    sha256_ctx h;
    char hex[65];
    sha256_init(&h);
    sha256_update(&h, data, len);
    sha256_hex(&h, hex);
    ck_assert_str_eq(cJSON_GetObjectItem(j, "source_sha256")->valuestring, hex);
    ck_assert_int_eq(cJSON_GetObjectItem(j, "source_stanzas_skipped_bad_utf8")->valueint, 1);
    cJSON *splits = cJSON_GetObjectItem(j, "splits");
    double agree_ood = cJSON_GetObjectItem(cJSON_GetObjectItem(splits, "test-ood"), "name_class_agrees_with_label")->valuedouble;
    ck_assert_double_lt(agree_ood, 0.6);
    cJSON_Delete(j);
    free(m);

    /* read back: train and test never share a source; test-ood/noname hold test-id's packages */
    levi_text_dataset ds[4];
    for (int f = 0; f < 4; f++) {
        snprintf(path, sizeof path, "%s/%s", a, files[f]);
        ck_assert_levi_ok(levi_text_load(&ds[f], path, NULL));
        ck_assert_int_eq(ds[f].num_classes, 3);
        ck_assert_str_eq(ds[f].class_names[1], "beta");
    }
    ck_assert_int_eq(ds[0].n, 75);
    ck_assert_int_eq(ds[1].n, 60);
    ck_assert_int_eq(ds[2].n, 60);
    for (int i = 0; i < ds[0].n; i++) {
        const char *num = strstr(ds[0].texts[i], "number ");
        ck_assert_ptr_nonnull(num);
        for (int t = 0; t < ds[3].n; t++) {
            /* same class and same source number: (i mod 60) identifies the source */
            int x = atoi(num + 7) % 60, y = atoi(strstr(ds[3].texts[t], "number ") + 7) % 60;
            ck_assert_msg(!(ds[0].labels[i] == ds[3].labels[t] && x == y), "source of '%s' on both sides",
                          ds[0].texts[i]);
        }
        ck_assert_ptr_null(strstr(ds[0].texts[i], "same words"));
        ck_assert_ptr_null(strstr(ds[0].texts[i], "transitional"));
    }
    for (int i = 0; i < ds[3].n; i++) ck_assert_ptr_null(strchr(ds[3].texts[i], ':'));
    for (int f = 0; f < 4; f++) levi_text_free(&ds[f]);

    /* rho 1: every train text starts with its own package's name */
    gen(a, 3, 1.0, data, len);
    snprintf(path, sizeof path, "%s/train.jsonl", a);
    char *t = read_all(path);
    int rows = 0;
    for (char *line = strtok(t, "\n"); line; line = strtok(NULL, "\n"), rows++) {
        cJSON *o = cJSON_Parse(line);
        const char *text = cJSON_GetObjectItem(o, "text")->valuestring, *pkg = cJSON_GetObjectItem(o, "package")->valuestring;
        ck_assert_msg(!strncmp(text, pkg, strlen(pkg)) && text[strlen(pkg)] == ':', "'%s' lacks its name", text);
        cJSON_Delete(o);
    }
    ck_assert_int_eq(rows, 75);
    free(t);
    free(data);
}
END_TEST

START_TEST(rejects_bad_input) {
    size_t len;
    char *data = packages(&len);
    char out[600];
    snprintf(out, sizeof out, "%s/o", test_tmp);
    levi_text_shift_params p;
    levi_text_shift_defaults(&p);
    p.data = data;
    p.len = len;
    p.out = out;
    p.classes = "alpha,zeta";
    ck_assert_int_eq(levi_text_shift(&p), LEVI_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "section 'zeta' has"));
    p.classes = "alpha,Beta";
    ck_assert_int_eq(levi_text_shift(&p), LEVI_ERR_INVALID_ARG);
    p.classes = "alpha,alpha";
    ck_assert_int_eq(levi_text_shift(&p), LEVI_ERR_INVALID_ARG);
    p.classes = "alpha";
    ck_assert_int_eq(levi_text_shift(&p), LEVI_ERR_INVALID_ARG);
    p.classes = "alpha,beta";
    p.rho = 1.5;
    ck_assert_int_eq(levi_text_shift(&p), LEVI_ERR_INVALID_ARG);
    p.rho = 0.9;
    p.data = "no stanzas here";
    p.len = strlen(p.data);
    ck_assert_int_eq(levi_text_shift(&p), LEVI_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "holds no package stanzas"));
    /* nothing was left behind, and a non-empty folder needs force */
    FILE *f = fopen(out, "r");
    ck_assert_ptr_null(f);
    p.data = data;
    p.len = len;
    p.train_per_class = 5;
    ck_assert_levi_ok(levi_text_shift(&p));
    ck_assert_int_eq(levi_text_shift(&p), LEVI_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "--force"));
    free(data);
}
END_TEST

int main(void) {
    Suite *s = suite_create("text_shift");
    TCase *t = tcase_create("text_shift");
    tcase_add_checked_fixture(t, test_tmp_setup, test_tmp_teardown);
    tcase_add_test(t, sha256_vectors);
    tcase_add_test(t, parses_packages);
    tcase_add_test(t, writes_same_bytes_and_keeps_sources_apart);
    tcase_add_test(t, rejects_bad_input);
    suite_add_tcase(s, t);
    return test_run(s);
}
