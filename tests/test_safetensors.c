/* safetensors and config JSON: every validation rule of the reader with a
 * crafted file, F16/BF16 conversion against known bit patterns, writer round
 * trip, atomic writes that fail half-way, a fixture written by the reference
 * Python package, and the typed JSON getters. Host only, no device needed. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

/* 8-byte little-endian length `hlen` (the real header length when hlen is
 * (unsigned long long)-1), the header text, then `dlen` data bytes. */
static const char *craft_n(const char *header, unsigned long long hlen, const void *data, size_t dlen) {
    size_t n = strlen(header);
    if (hlen == (unsigned long long)-1) hlen = n;
    unsigned char *buf = malloc(8 + n + dlen + 1);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(hlen >> (8 * i));
    memcpy(buf + 8, header, n);
    if (dlen) memcpy(buf + 8 + n, data, dlen);
    const char *p = test_tmp_path("crafted.safetensors");
    test_write_bytes(p, buf, 8 + n + dlen);
    free(buf);
    return p;
}

static const char *craft(const char *header, size_t dlen) {
    static unsigned char zeros[256];
    return craft_n(header, (unsigned long long)-1, zeros, dlen);
}

/* Reading `path` must fail with `status` and a message containing `needle`
 * (and the file's path when `named`). */
static void expect_fail(const char *path, levi_status status, const char *needle) {
    levi_safetensors st;
    levi_status rc = levi_safetensors_read(path, &st);
    ck_assert_msg(rc == status, "expected %s, got %s: %s", levi_status_name(status), levi_status_name(rc),
                  levi_last_error());
    ck_assert_msg(strstr(levi_last_error(), needle), "message '%s' lacks '%s'", levi_last_error(), needle);
    ck_assert_msg(strstr(levi_last_error(), path), "message '%s' does not name the file", levi_last_error());
    ck_assert_int_eq(st.count, 0);
    ck_assert_ptr_null(st.tensors);
}

#define T1(dtype, shape, offs) "{\"x\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":" offs "}}"

/* --- reader validation ------------------------------------------------------ */

START_TEST(rejects_short_file) {
    const char *p = test_tmp_path("short.safetensors");
    test_write_bytes(p, "\x02\0\0\0\0", 5);
    expect_fail(p, LEVI_ERR_FORMAT, "shorter than the 8-byte header length");
    test_write_bytes(p, "", 0);
    expect_fail(p, LEVI_ERR_FORMAT, "shorter than the 8-byte header length");
}
END_TEST

START_TEST(rejects_header_length) {
    expect_fail(craft_n("{}", 100000001ull, NULL, 0), LEVI_ERR_FORMAT, "above the limit");
    expect_fail(craft_n("{}", 0xffffffffffffffffull - 1, NULL, 0), LEVI_ERR_FORMAT, "above the limit");
    expect_fail(craft_n("{}", 3, NULL, 0), LEVI_ERR_FORMAT, "runs past the end of the file");
}
END_TEST

START_TEST(rejects_bad_header_text) {
    expect_fail(craft("{\"a\xff\":{}}", 0), LEVI_ERR_FORMAT, "UTF-8");
    expect_fail(craft("{\"\xc0\xaf\":{}}", 0), LEVI_ERR_FORMAT, "UTF-8");  /* overlong '/' */
    expect_fail(craft("{\"\xed\xa0\x80\":{}}", 0), LEVI_ERR_FORMAT, "UTF-8"); /* surrogate */
    expect_fail(craft("{\"a\":1", 0), LEVI_ERR_FORMAT, "not valid JSON");
    expect_fail(craft("{\"a\": }", 0), LEVI_ERR_FORMAT, "not valid JSON");
    expect_fail(craft("[]", 0), LEVI_ERR_FORMAT, "must start with '{'");
    expect_fail(craft(" {}", 0), LEVI_ERR_FORMAT, "must start with '{'");
    expect_fail(craft("{} x", 0), LEVI_ERR_FORMAT, "after the JSON header");
    expect_fail(craft_n("{}", 4, "\0\0", 2), LEVI_ERR_FORMAT, "UTF-8"); /* NUL padding */
}
END_TEST

START_TEST(rejects_bad_schema) {
    expect_fail(craft(T1("F33", "[1]", "[0,4]"), 4), LEVI_ERR_FORMAT, "unknown dtype 'F33'");
    expect_fail(craft(T1("f32", "[1]", "[0,4]"), 4), LEVI_ERR_FORMAT, "unknown dtype 'f32'");
    expect_fail(craft("{\"x\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4), LEVI_ERR_FORMAT,
                "'dtype' must be a string");
    expect_fail(craft("{\"__metadata__\":{\"k\":1}}", 0), LEVI_ERR_FORMAT, "key 'k' must be a string");
    expect_fail(craft("{\"__metadata__\":{\"k\":null}}", 0), LEVI_ERR_FORMAT, "key 'k' must be a string");
    expect_fail(craft("{\"__metadata__\":[\"a\"]}", 0), LEVI_ERR_FORMAT, "'__metadata__' must be an object");
    expect_fail(craft("{\"__metadata__\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4),
                LEVI_ERR_FORMAT, "key 'shape' must be a string");
    expect_fail(craft(T1("F32", "[-1]", "[0,4]"), 4), LEVI_ERR_FORMAT, "shape[0] must be a non-negative integer");
    expect_fail(craft(T1("F32", "[1,1.5]", "[0,4]"), 4), LEVI_ERR_FORMAT, "shape[1] must be a non-negative integer");
    expect_fail(craft(T1("F32", "[-0]", "[0,0]"), 0), LEVI_ERR_FORMAT, "shape[0] must be a non-negative integer");
    expect_fail(craft(T1("F32", "[1e300]", "[0,4]"), 4), LEVI_ERR_FORMAT, "shape[0] must be a non-negative integer");
    expect_fail(craft(T1("F32", "[\"1\"]", "[0,4]"), 4), LEVI_ERR_FORMAT, "shape[0] must be a non-negative");
    expect_fail(craft(T1("F32", "[1]", "[-0.5,4]"), 4), LEVI_ERR_FORMAT, "data_offsets must be non-negative");
    expect_fail(craft(T1("F32", "[1]", "[0,4.5]"), 4), LEVI_ERR_FORMAT, "data_offsets must be non-negative");
    expect_fail(craft(T1("F32", "[1]", "[0]"), 4), LEVI_ERR_FORMAT, "'data_offsets' must be [begin, end]");
    expect_fail(craft(T1("F32", "[1]", "[0,4,8]"), 4), LEVI_ERR_FORMAT, "'data_offsets' must be [begin, end]");
    expect_fail(craft(T1("F32", "1", "[0,4]"), 4), LEVI_ERR_FORMAT, "'shape' must be an array");
    expect_fail(craft("{\"x\":[1]}", 0), LEVI_ERR_FORMAT, "tensor 'x': expected an object");
    expect_fail(craft("{\"x\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4), LEVI_ERR_FORMAT,
                "missing field 'dtype'");
    expect_fail(craft("{\"x\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4), LEVI_ERR_FORMAT,
                "missing field 'shape'");
    expect_fail(craft("{\"x\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4), LEVI_ERR_FORMAT,
                "missing field 'data_offsets'");
}
END_TEST

START_TEST(rejects_bad_offsets) {
    /* gap: y starts at 8, not 4 */
    expect_fail(craft("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                      "\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
                      12),
                LEVI_ERR_FORMAT, "tensor 'y': data_offsets [8, 12] must start at byte 4");
    /* overlap */
    expect_fail(craft("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                      "\"y\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                      12),
                LEVI_ERR_FORMAT, "must start at byte 8");
    /* does not start at 0 */
    expect_fail(craft(T1("F32", "[1]", "[4,8]"), 8), LEVI_ERR_FORMAT, "must start at byte 0");
    /* end before begin */
    expect_fail(craft("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                      "\"y\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}",
                      4),
                LEVI_ERR_FORMAT, "tensor 'y': data_offsets [4, 0]");
}
END_TEST

START_TEST(rejects_bad_sizes) {
    expect_fail(craft(T1("F32", "[4294967296,4294967296]", "[0,4]"), 4), LEVI_ERR_FORMAT,
                "element count of the shape overflows");
    expect_fail(craft(T1("F32", "[2147483648,2147483648]", "[0,4]"), 4), LEVI_ERR_FORMAT,
                "byte size of the shape overflows");
    expect_fail(craft(T1("F32", "[2]", "[0,4]"), 4), LEVI_ERR_FORMAT, "hold 4 bytes but 2 elements of F32 need 8");
    expect_fail(craft(T1("F16", "[3]", "[0,4]"), 4), LEVI_ERR_FORMAT, "need 6");
    expect_fail(craft(T1("F4", "[3]", "[0,2]"), 2), LEVI_ERR_FORMAT, "do not fill whole bytes");
    /* data longer than the tensors, and shorter */
    expect_fail(craft(T1("F32", "[1]", "[0,4]"), 5), LEVI_ERR_FORMAT, "ends at byte 4 of the data but the file holds 5");
    expect_fail(craft(T1("F32", "[2]", "[0,8]"), 7), LEVI_ERR_FORMAT, "ends at byte 8 of the data but the file holds 7");
    expect_fail(craft("{}", 1), LEVI_ERR_FORMAT, "ends at byte 0 of the data but the file holds 1");
}
END_TEST

START_TEST(rejects_duplicates_and_unsupported) {
    expect_fail(craft("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                      "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                      8),
                LEVI_ERR_FORMAT, "duplicate entry 'x'");
    expect_fail(craft("{\"__metadata__\":{},\"__metadata__\":{}}", 0), LEVI_ERR_FORMAT,
                "duplicate entry '__metadata__'");
    const char *p = craft(T1("I32", "[1]", "[0,4]"), 4);
    expect_fail(p, LEVI_ERR_UNSUPPORTED, "unsupported dtype I32 for tensor x in ");
    expect_fail(craft(T1("F32", "[1,1,1,1,1,1,1,1,1]", "[0,4]"), 4), LEVI_ERR_UNSUPPORTED,
                "9 dimensions; at most 8");
    ck_assert_int_eq(levi_safetensors_read(test_tmp_path("missing.safetensors"), &(levi_safetensors){0}), LEVI_ERR_IO);
    ck_assert_int_eq(levi_safetensors_read(test_tmp, &(levi_safetensors){0}), LEVI_ERR_IO);
}
END_TEST

/* --- reader success ------------------------------------------------------ */

START_TEST(reads_unaligned_and_padded) {
    /* header of odd length: the data starts at an odd offset */
    const char *hdr = "{\"__metadata__\":{\"k\":\"v\"},\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[4,16]},"
                      "\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}   ";
    const float vals[4] = {7.0f, 1.5f, -2.25f, 1e-30f};
    unsigned char data[16];
    for (int i = 0; i < 4; i++) {
        unsigned u;
        memcpy(&u, &vals[i], 4);
        for (int q = 0; q < 4; q++) data[4 * i + q] = (unsigned char)(u >> (8 * q));
    }
    for (int pad = 0; pad < 4; pad++) {
        char h[512];
        snprintf(h, sizeof h, "%s%.*s", hdr, pad, "   ");
        const char *p = craft_n(h, (unsigned long long)-1, data, 16);
        levi_safetensors st;
        ck_assert_levi_ok(levi_safetensors_read(p, &st));
        ck_assert_int_eq(st.count, 2);
        ck_assert_str_eq(st.tensors[0].name, "a"); /* offset order */
        const levi_st_tensor *a = levi_safetensors_find(&st, "a"), *b = levi_safetensors_find(&st, "b");
        ck_assert_ptr_nonnull(a);
        ck_assert_ptr_nonnull(b);
        ck_assert_ptr_null(levi_safetensors_find(&st, "c"));
        ck_assert_int_eq(a->ndim, 0);
        ck_assert_uint_eq(a->numel, 1);
        ck_assert_int_eq(b->ndim, 1);
        ck_assert_int_eq(b->shape[0], 3);
        ck_assert_msg(a->data[0] == 7.0f, "a = %g", a->data[0]);
        for (int i = 0; i < 3; i++) ck_assert_msg(b->data[i] == vals[i + 1], "b[%d] = %g", i, b->data[i]);
        ck_assert_str_eq(levi_safetensors_meta(&st, "k"), "v");
        ck_assert_ptr_null(levi_safetensors_meta(&st, "nope"));
        ck_assert_str_eq(st.metadata_json, "{\"k\":\"v\"}");
        levi_safetensors_free(&st);
    }
    levi_safetensors st;
    ck_assert_levi_ok(levi_safetensors_read(craft("{}", 0), &st));
    ck_assert_int_eq(st.count, 0);
    ck_assert_ptr_null(st.metadata_json);
    levi_safetensors_free(&st);
}
END_TEST

/* Every truncation and many random byte changes of a valid file: the reader
 * returns OK or a clean error, never crashes (run under valgrind/ASan too). */
START_TEST(survives_corruption) {
    levi_st_writer *w;
    float v[6] = {1, 2, 3, 4, 5, 6};
    ck_assert_levi_ok(levi_st_writer_create(&w));
    ck_assert_levi_ok(levi_st_writer_add(w, "a", 2, (long long[]){2, 3}, v));
    ck_assert_levi_ok(levi_st_writer_add(w, "b", 1, (long long[]){2}, v));
    ck_assert_levi_ok(levi_st_writer_meta(w, "k", "v"));
    char good[600];
    snprintf(good, sizeof good, "%s", test_tmp_path("good.safetensors"));
    ck_assert_levi_ok(levi_st_writer_write(w, good));
    levi_st_writer_free(w);
    char *buf;
    size_t len;
    ck_assert_levi_ok(levi_read_file(good, &buf, &len));
    levi_safetensors st;
    for (size_t n = 0; n < len; n++) {
        ck_assert_int_eq(levi_safetensors_parse(buf, n, "cut", &st), LEVI_ERR_FORMAT);
        ck_assert_int_eq(st.count, 0);
    }
    unsigned char *m = malloc(len);
    unsigned long long r = 12345;
    int ok = 0, bad = 0;
    for (int it = 0; it < 3000; it++) {
        memcpy(m, buf, len);
        for (int k = 0; k < 1 + it % 3; k++) {
            r = r * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t at = (size_t)(r >> 33) % len;
            m[at] = (unsigned char)(r >> 20);
        }
        levi_status rc = levi_safetensors_parse(m, len, "mutated", &st);
        ck_assert_msg(rc == LEVI_OK || rc == LEVI_ERR_FORMAT || rc == LEVI_ERR_UNSUPPORTED, "iteration %d: %s", it,
                      levi_status_name(rc));
        if (rc == LEVI_OK) ok++;
        else bad++;
        levi_safetensors_free(&st);
    }
    ck_assert_msg(ok > 0 && bad > 0, "ok %d, rejected %d", ok, bad);
    free(m);
    free(buf);
}
END_TEST

/* --- F16 / BF16 -------------------------------------------------------------- */

static const unsigned short f16_bits[] = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x7c00, 0xfc00, 0x8000, 0x3555};
static const double f16_vals[] = {1.0, -2.0, 65504.0, 0x1p-24, 1023 * 0x1p-24, 0x1p-14,
                                  INFINITY, -INFINITY, -0.0, 0x1.554p-2};
static const unsigned short bf16_bits[] = {0x3f80, 0xc2f7, 0x0001, 0x807f, 0x7f80, 0xff80, 0x0000, 0x4049};
static const double bf16_vals[] = {1.0, -123.5, 0x1p-133, -127 * 0x1p-133, INFINITY, -INFINITY, 0.0, 3.140625};

static void check_same(double want, float got, const char *what, int i) {
    ck_assert_msg(got == want && !!signbit(got) == !!signbit(want), "%s[%d]: got %a, want %a", what, i, (double)got, want);
}

START_TEST(half_conversions) {
    for (size_t i = 0; i < sizeof f16_bits / sizeof f16_bits[0]; i++)
        check_same(f16_vals[i], levi_f16_to_f32(f16_bits[i]), "f16", (int)i);
    for (size_t i = 0; i < sizeof bf16_bits / sizeof bf16_bits[0]; i++)
        check_same(bf16_vals[i], levi_bf16_to_f32(bf16_bits[i]), "bf16", (int)i);
    ck_assert(isnan(levi_f16_to_f32(0x7e00)) && isnan(levi_f16_to_f32(0xfe01)));
    ck_assert(isnan(levi_bf16_to_f32(0x7fc0)) && isnan(levi_bf16_to_f32(0xff81)));
    /* every finite half round-trips through float's own conversion rules */
    for (unsigned h = 0; h < 0x10000; h++) {
        unsigned e = (h >> 10) & 31;
        if (e == 31) continue;
        double m = (h & 0x3ff), v = e ? ldexp(1024 + m, (int)e - 25) : ldexp(m, -24);
        if (h & 0x8000) v = -v;
        ck_assert_msg(levi_f16_to_f32((unsigned short)h) == v, "f16 %04x: got %a want %a", h,
                      (double)levi_f16_to_f32((unsigned short)h), v);
    }
}
END_TEST

START_TEST(reads_f16_bf16_files) {
    size_t nf = sizeof f16_bits / sizeof f16_bits[0], nb = sizeof bf16_bits / sizeof bf16_bits[0];
    unsigned char data[64];
    for (size_t i = 0; i < nf; i++) data[2 * i] = f16_bits[i] & 0xff, data[2 * i + 1] = f16_bits[i] >> 8;
    for (size_t i = 0; i < nb; i++)
        data[2 * nf + 2 * i] = bf16_bits[i] & 0xff, data[2 * nf + 2 * i + 1] = bf16_bits[i] >> 8;
    char hdr[256];
    snprintf(hdr, sizeof hdr,
             "{\"h\":{\"dtype\":\"F16\",\"shape\":[2,%zu],\"data_offsets\":[0,%zu]},"
             "\"g\":{\"dtype\":\"BF16\",\"shape\":[%zu],\"data_offsets\":[%zu,%zu]}}",
             nf / 2, 2 * nf, nb, 2 * nf, 2 * nf + 2 * nb);
    levi_safetensors st;
    ck_assert_levi_ok(levi_safetensors_read(craft_n(hdr, (unsigned long long)-1, data, 2 * (nf + nb)), &st));
    const levi_st_tensor *h = levi_safetensors_find(&st, "h"), *g = levi_safetensors_find(&st, "g");
    ck_assert_int_eq(h->ndim, 2);
    ck_assert_uint_eq(h->numel, nf);
    for (size_t i = 0; i < nf; i++) check_same(f16_vals[i], h->data[i], "file f16", (int)i);
    for (size_t i = 0; i < nb; i++) check_same(bf16_vals[i], g->data[i], "file bf16", (int)i);
    levi_safetensors_free(&st);
}
END_TEST

/* The fixture written by the reference Python package (tools/make_safetensors_fixture.py). */
START_TEST(reads_reference_fixture) {
    const char *fx = getenv("LEVI_FIXTURES");
    char p[600];
    snprintf(p, sizeof p, "%s/small.safetensors", fx && *fx ? fx : "tests/fixtures");
    levi_safetensors st;
    ck_assert_levi_ok(levi_safetensors_read(p, &st));
    ck_assert_int_eq(st.count, 6);
    const levi_st_tensor *a = levi_safetensors_find(&st, "a.f32");
    ck_assert_int_eq(a->ndim, 2);
    ck_assert_int_eq(a->shape[0], 2);
    ck_assert_int_eq(a->shape[1], 3);
    for (int i = 0; i < 6; i++) check_same(i * 0.5 - 1.0, a->data[i], "a.f32", i);
    const levi_st_tensor *b = levi_safetensors_find(&st, "b.f16");
    const double bw[8] = {1, -2, 65504, 0x1p-24, 1023 * 0x1p-24, INFINITY, -INFINITY, -0.0};
    ck_assert_int_eq(b->shape[1], 4);
    for (int i = 0; i < 8; i++) check_same(bw[i], b->data[i], "b.f16", i);
    const levi_st_tensor *c = levi_safetensors_find(&st, "c.bf16");
    const double cw[4] = {1, -123.5, 0x1p-133, INFINITY};
    ck_assert_uint_eq(c->numel, 5);
    for (int i = 0; i < 4; i++) check_same(cw[i], c->data[i], "c.bf16", i);
    ck_assert(isnan(c->data[4]));
    const levi_st_tensor *d = levi_safetensors_find(&st, "d.scalar");
    ck_assert_int_eq(d->ndim, 0);
    check_same(3.25, d->data[0], "d.scalar", 0);
    const levi_st_tensor *e = levi_safetensors_find(&st, "e.empty");
    ck_assert_int_eq(e->ndim, 2);
    ck_assert_uint_eq(e->numel, 0);
    ck_assert(isnan(levi_safetensors_find(&st, "f.nan16")->data[0]));
    ck_assert_str_eq(levi_safetensors_meta(&st, "format"), "pt");
    ck_assert_str_eq(levi_safetensors_meta(&st, "levi"), "{\"fusion\":\"concat\"}");
    ck_assert_str_eq(levi_safetensors_meta(&st, "classes"), "tee,trouser");
    levi_safetensors_free(&st);
}
END_TEST

/* --- writer ------------------------------------------------------------------ */

START_TEST(writer_round_trip) {
    levi_st_writer *w;
    ck_assert_levi_ok(levi_st_writer_create(&w));
    float big[3 * 5], one = -4.5f;
    test_fill_uniform(big, 15, 3, -2.0f, 2.0f);
    big[7] = INFINITY;
    ck_assert_levi_ok(levi_st_writer_add(w, "z.weight", 2, (long long[]){3, 5}, big));
    ck_assert_levi_ok(levi_st_writer_add(w, "a.scale", 0, NULL, &one));
    ck_assert_levi_ok(levi_st_writer_add(w, "m.empty", 2, (long long[]){0, 4}, NULL));
    ck_assert_int_eq(levi_st_writer_add(w, "a.scale", 1, (long long[]){1}, &one), LEVI_ERR_INVALID_ARG);
    ck_assert_int_eq(levi_st_writer_add(w, "__metadata__", 1, (long long[]){1}, &one), LEVI_ERR_INVALID_ARG);
    ck_assert_int_eq(levi_st_writer_add(w, "neg", 1, (long long[]){-1}, &one), LEVI_ERR_INVALID_ARG);
    ck_assert_levi_ok(levi_st_writer_meta(w, "config", "{\"fusion\": \"concat\", \"taps\": [5, 11]}"));
    ck_assert_levi_ok(levi_st_writer_meta(w, "classes", "old"));
    ck_assert_levi_ok(levi_st_writer_meta(w, "classes", "t-shirt,trouser,\"quoted\"\n"));
    big[0] = 1000.0f; /* data was copied at add */
    const char *p = test_tmp_path("model.safetensors");
    ck_assert_levi_ok(levi_st_writer_write(w, p));
    levi_st_writer_free(w);
    big[0] = 0;
    test_fill_uniform(big, 1, 3, -2.0f, 2.0f);

    levi_safetensors st;
    ck_assert_levi_ok(levi_safetensors_read(p, &st));
    ck_assert_int_eq(st.count, 3);
    ck_assert_str_eq(st.tensors[0].name, "a.scale"); /* written sorted by name */
    ck_assert_str_eq(st.tensors[1].name, "m.empty");
    ck_assert_str_eq(st.tensors[2].name, "z.weight");
    ck_assert_int_eq(st.tensors[0].ndim, 0);
    check_same(-4.5, st.tensors[0].data[0], "a.scale", 0);
    ck_assert_int_eq(st.tensors[1].shape[1], 4);
    ck_assert_uint_eq(st.tensors[1].numel, 0);
    ck_assert_int_eq(st.tensors[2].shape[0], 3);
    for (int i = 0; i < 15; i++) check_same(big[i], st.tensors[2].data[i], "z.weight", i);
    ck_assert_str_eq(levi_safetensors_meta(&st, "config"), "{\"fusion\": \"concat\", \"taps\": [5, 11]}");
    ck_assert_str_eq(levi_safetensors_meta(&st, "classes"), "t-shirt,trouser,\"quoted\"\n");
    cJSON *m = cJSON_Parse(st.metadata_json);
    ck_assert_int_eq(cJSON_GetArraySize(m), 2);
    cJSON_Delete(m);
    levi_safetensors_free(&st);

    /* header length makes the data 8-byte aligned; padding is spaces */
    char *buf;
    size_t len;
    ck_assert_levi_ok(levi_read_file(p, &buf, &len));
    unsigned long long n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | (unsigned char)buf[i];
    ck_assert_uint_eq((8 + n) % 8, 0);
    ck_assert_uint_eq(len, 8 + n + 16 * 4);
    ck_assert_int_eq(buf[8], '{');
    free(buf);
}
END_TEST

static int count_tmp_files(void) {
    DIR *d = opendir(test_tmp);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) n++;
    closedir(d);
    return n;
}

/* A write that fails half-way (the file-size limit makes write() fail with
 * EFBIG, as a full disk would) leaves the old checkpoint intact and no
 * temporary file behind. */
START_TEST(writer_interrupted_keeps_old_file) {
    char p[600];
    snprintf(p, sizeof p, "%s", test_tmp_path("ckpt.safetensors"));
    levi_st_writer *w;
    float small[4] = {1, 2, 3, 4};
    ck_assert_levi_ok(levi_st_writer_create(&w));
    ck_assert_levi_ok(levi_st_writer_add(w, "w", 1, (long long[]){4}, small));
    ck_assert_levi_ok(levi_st_writer_write(w, p));
    levi_st_writer_free(w);

    enum { N = 50000 };
    float *big = calloc(N, sizeof(float));
    ck_assert_levi_ok(levi_st_writer_create(&w));
    ck_assert_levi_ok(levi_st_writer_add(w, "w", 1, (long long[]){N}, big));
    struct rlimit old, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 64 * 1024;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    levi_status rc = levi_st_writer_write(w, p);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    ck_assert_msg(rc == LEVI_ERR_IO, "got %s: %s", levi_status_name(rc), levi_last_error());
    ck_assert_ptr_nonnull(strstr(levi_last_error(), p));

    /* into a missing folder, and onto a folder */
    ck_assert_int_eq(levi_st_writer_write(w, test_tmp_path("no/such/dir/x.safetensors")), LEVI_ERR_IO);
    ck_assert_int_eq(mkdir(test_tmp_path("adir"), 0755), 0);
    ck_assert_int_eq(levi_st_writer_write(w, test_tmp_path("adir")), LEVI_ERR_IO);
    levi_st_writer_free(w);
    free(big);
    ck_assert_int_eq(count_tmp_files(), 0);

    levi_safetensors st;
    ck_assert_levi_ok(levi_safetensors_read(p, &st));
    ck_assert_uint_eq(st.tensors[0].numel, 4);
    check_same(4.0, st.tensors[0].data[3], "old w", 3);
    levi_safetensors_free(&st);
}
END_TEST

/* --- JSON helpers ------------------------------------------------------------------ */

START_TEST(json_getters) {
    const char *p = test_tmp_path("config.json");
    const char *txt = "{\"hidden_size\": 192, \"neg\": -3, \"frac\": 2.5, \"eps\": 1e-12, \"act\": \"gelu\",\n"
                      " \"qkv_bias\": true, \"s\": \"7\"}\n";
    test_write_bytes(p, txt, strlen(txt));
    cJSON *c;
    ck_assert_levi_ok(levi_json_load(p, &c));
    int i = -1, b = -1;
    double f = -1;
    const char *s = NULL;
    ck_assert_levi_ok(levi_json_get_int(c, p, "hidden_size", 1, 65536, &i, 1));
    ck_assert_int_eq(i, 192);
    ck_assert_int_eq(levi_json_get_int(c, p, "neg", 1, 65536, &i, 1), LEVI_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "config.json: field 'neg' must be an integer in [1, 65536], got -3"));
    ck_assert_int_eq(levi_json_get_int(c, p, "frac", 0, 10, &i, 1), LEVI_ERR_FORMAT);
    ck_assert_int_eq(levi_json_get_int(c, p, "s", 0, 10, &i, 1), LEVI_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "got \"7\""));
    ck_assert_int_eq(levi_json_get_int(c, p, "missing", 0, 10, &i, 1), LEVI_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "missing required field 'missing'"));
    i = 42;
    ck_assert_levi_ok(levi_json_get_int(c, p, "missing", 0, 10, &i, 0));
    ck_assert_int_eq(i, 42);
    ck_assert_levi_ok(levi_json_get_float(c, p, "eps", 0, 1, &f, 1));
    ck_assert(f == 1e-12);
    ck_assert_levi_ok(levi_json_get_float(c, p, "hidden_size", 0, 1e6, &f, 1));
    ck_assert(f == 192);
    ck_assert_int_eq(levi_json_get_float(c, p, "eps", 0.1, 1, &f, 1), LEVI_ERR_FORMAT);
    ck_assert_int_eq(levi_json_get_float(c, p, "act", 0, 1, &f, 1), LEVI_ERR_FORMAT);
    ck_assert_levi_ok(levi_json_get_string(c, p, "act", &s, 1));
    ck_assert_str_eq(s, "gelu");
    ck_assert_int_eq(levi_json_get_string(c, p, "eps", &s, 1), LEVI_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "field 'eps' must be a string"));
    ck_assert_levi_ok(levi_json_get_bool(c, p, "qkv_bias", &b, 1));
    ck_assert_int_eq(b, 1);
    ck_assert_int_eq(levi_json_get_bool(c, p, "hidden_size", &b, 1), LEVI_ERR_FORMAT);
    b = 0;
    ck_assert_levi_ok(levi_json_get_bool(c, p, "nope", &b, 0));
    ck_assert_int_eq(b, 0);

    /* atomic write, then read back */
    const char *q = test_tmp_path("out.json");
    ck_assert_levi_ok(levi_json_write_atomic(q, c));
    cJSON *d;
    ck_assert_levi_ok(levi_json_load(q, &d));
    ck_assert(cJSON_Compare(c, d, 1));
    cJSON_Delete(d);
    ck_assert_int_eq(levi_json_write_atomic(test_tmp_path("no/dir/out.json"), c), LEVI_ERR_IO);
    ck_assert_int_eq(count_tmp_files(), 0);
    cJSON_Delete(c);
}
END_TEST

START_TEST(json_load_errors) {
    const char *p = test_tmp_path("bad.json");
    test_write_bytes(p, "{\"a\": 1,\n \"b\": }\n", 17);
    cJSON *c = (cJSON *)1;
    ck_assert_int_eq(levi_json_load(p, &c), LEVI_ERR_FORMAT);
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(levi_last_error(), "line 2"), "%s", levi_last_error());
    test_write_bytes(p, "[1, 2]", 6);
    ck_assert_int_eq(levi_json_load(p, &c), LEVI_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "must be a JSON object"));
    test_write_bytes(p, "{} {}", 5);
    ck_assert_int_eq(levi_json_load(p, &c), LEVI_ERR_FORMAT);
    test_write_bytes(p, "", 0);
    ck_assert_int_eq(levi_json_load(p, &c), LEVI_ERR_FORMAT);
    ck_assert_int_eq(levi_json_load(test_tmp_path("absent.json"), &c), LEVI_ERR_IO);
}
END_TEST

int main(void) {
    Suite *s = suite_create("safetensors");
    TCase *r = tcase_create("reader");
    tcase_add_checked_fixture(r, test_tmp_setup, test_tmp_teardown);
    tcase_add_test(r, rejects_short_file);
    tcase_add_test(r, rejects_header_length);
    tcase_add_test(r, rejects_bad_header_text);
    tcase_add_test(r, rejects_bad_schema);
    tcase_add_test(r, rejects_bad_offsets);
    tcase_add_test(r, rejects_bad_sizes);
    tcase_add_test(r, rejects_duplicates_and_unsupported);
    tcase_add_test(r, reads_unaligned_and_padded);
    tcase_add_test(r, survives_corruption);
    tcase_add_test(r, half_conversions);
    tcase_add_test(r, reads_f16_bf16_files);
    tcase_add_test(r, reads_reference_fixture);
    suite_add_tcase(s, r);
    TCase *w = tcase_create("writer");
    tcase_add_checked_fixture(w, test_tmp_setup, test_tmp_teardown);
    tcase_add_test(w, writer_round_trip);
    tcase_add_test(w, writer_interrupted_keeps_old_file);
    suite_add_tcase(s, w);
    TCase *j = tcase_create("json");
    tcase_add_checked_fixture(j, test_tmp_setup, test_tmp_teardown);
    tcase_add_test(j, json_getters);
    tcase_add_test(j, json_load_errors);
    suite_add_tcase(s, j);
    return test_run(s);
}
