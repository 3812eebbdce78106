/* WordPiece tokenization against transformers' BertTokenizerFast: the golden
 * ids of tools/golden_tokenizer.py over its whole corpus (10,000+ lines of
 * real and adversarial text) in six configurations, the folder loader
 * (tokenizer_config.json, sentence_bert_config.json, added tokens), invalid
 * UTF-8, and bad vocabularies and configs. Host only, no device needed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "golden.h"
#include "testutil.h"

/* A gzip fixture, whole, in memory. */
static unsigned char *read_gz(const char *name, size_t *len) {
    char path[600];
    golden_path(path, sizeof path, name);
    gzFile f = gzopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open fixture %s", path);
    size_t cap = 1 << 20, n = 0;
    unsigned char *buf = malloc(cap);
    for (;;) {
        if (n == cap) buf = realloc(buf, cap *= 2);
        int r = gzread(f, buf + n, (unsigned)(cap - n));
        ck_assert_msg(r >= 0, "corrupt fixture %s", path);
        if (r == 0) break;
        n += (size_t)r;
    }
    gzclose(f);
    *len = n;
    return buf;
}

/* --- the golden fixture ---------------------------------------------------- */

typedef struct reader {
    const unsigned char *p, *end;
} reader;

static unsigned rd_u32(reader *r) {
    ck_assert_msg(r->p + 4 <= r->end, "golden fixture truncated");
    unsigned v = (unsigned)r->p[0] | (unsigned)r->p[1] << 8 | (unsigned)r->p[2] << 16 | (unsigned)r->p[3] << 24;
    r->p += 4;
    return v;
}

static unsigned rd_u16(reader *r) {
    ck_assert_msg(r->p + 2 <= r->end, "golden fixture truncated");
    unsigned v = (unsigned)r->p[0] | (unsigned)r->p[1] << 8;
    r->p += 2;
    return v;
}

static const unsigned char *rd_bytes(reader *r, size_t n) {
    ck_assert_msg((size_t)(r->end - r->p) >= n, "golden fixture truncated");
    const unsigned char *p = r->p;
    r->p += n;
    return p;
}

static levi_tokenizer *fixture_tokenizer(const levi_tokenizer_options *o) {
    size_t len;
    unsigned char *vocab = read_gz("text/vocab_uncased.txt.gz", &len);
    levi_tokenizer *t;
    ck_assert_levi_ok(levi_tokenizer_create(&t, (const char *)vocab, len, "vocab_uncased.txt", o));
    free(vocab);
    return t;
}

/* The line, printable: control and non-ASCII bytes as \xNN. */
static void show(const unsigned char *s, size_t n, char *out, size_t cap) {
    size_t k = 0;
    for (size_t i = 0; i < n && k + 5 < cap; i++)
        k += (size_t)snprintf(out + k, cap - k, s[i] >= 0x20 && s[i] < 0x7f ? "%c" : "\\x%02x", s[i]);
    out[k] = '\0';
}

START_TEST(matches_transformers_on_corpus) {
    size_t len;
    unsigned char *data = read_gz("text/tokenizer_golden.bin.gz", &len);
    reader r = {data, data + len};
    ck_assert_msg(len > 8 && !memcmp(rd_bytes(&r, 8), "LEVITOK1", 8), "bad golden magic");
    ck_assert_uint_eq(rd_u32(&r), 1);
    unsigned nlines = rd_u32(&r);
    ck_assert_uint_ge(nlines, 10000);
    const unsigned char **line = malloc(nlines * sizeof *line);
    size_t *line_len = malloc(nlines * sizeof *line_len);
    for (unsigned i = 0; i < nlines; i++) {
        line_len[i] = rd_u32(&r);
        line[i] = rd_bytes(&r, line_len[i]);
    }
    unsigned nconfigs = rd_u32(&r), total = 0, failed = 0;
    ck_assert_uint_ge(nconfigs, 6);
    int32_t *ids = malloc(600 * sizeof *ids);
    for (unsigned c = 0; c < nconfigs; c++) {
        unsigned nlen = rd_u32(&r);
        char name[64] = {0};
        memcpy(name, rd_bytes(&r, nlen), nlen < 63 ? nlen : 63);
        levi_tokenizer_options o;
        levi_tokenizer_defaults(&o);
        o.lowercase = (int)rd_u32(&r);
        o.strip_accents = (int)rd_u32(&r);
        o.chinese_chars = (int)rd_u32(&r);
        o.max_length = (int)rd_u32(&r);
        ck_assert_int_le(o.max_length, 600);
        levi_tokenizer *t = fixture_tokenizer(&o);
        unsigned count = rd_u32(&r), bad = 0;
        for (unsigned k = 0; k < count; k++) {
            unsigned li = rd_u32(&r), n = rd_u16(&r);
            ck_assert_uint_lt(li, nlines);
            int got = 0, same;
            ck_assert_levi_ok(levi_tokenizer_encode(t, (const char *)line[li], line_len[li], 0, ids, &got));
            same = got == (int)n;
            const unsigned char *want = rd_bytes(&r, 2 * (size_t)n);
            for (unsigned j = 0; j < n && same; j++) same = ids[j] == (int32_t)(want[2 * j] | want[2 * j + 1] << 8);
            if (!same && bad++ < 8) {
                char shown[400];
                show(line[li], line_len[li], shown, sizeof shown);
                fprintf(stderr, "%s: line %u \"%s\": %d ids, expected %u; first ids", name, li, shown, got, n);
                for (unsigned j = 0; j < n && j < 12; j++)
                    fprintf(stderr, " %d/%d", j < (unsigned)got ? ids[j] : -1, want[2 * j] | want[2 * j + 1] << 8);
                fputc('\n', stderr);
            }
        }
        fprintf(stderr, "%-20s %5u lines, %u differ\n", name, count, bad);
        total += count;
        failed += bad;
        levi_tokenizer_free(t);
    }
    ck_assert_msg(r.p == r.end, "golden fixture has trailing bytes");
    free(ids);
    free(line);
    free(line_len);
    free(data);
    ck_assert_msg(failed == 0, "%u of %u tokenizations differ from transformers", failed, total);
}
END_TEST

/* --- small cases whose ids are obvious from the vocabulary ------------------- */

static void expect_tokens(const levi_tokenizer *t, const char *text, int max_length, const char *want) {
    int32_t ids[64];
    int n;
    ck_assert_levi_ok(levi_tokenizer_encode(t, text, strlen(text), max_length, ids, &n));
    char got[512] = {0};
    size_t k = 0;
    for (int i = 0; i < n; i++)
        k += (size_t)snprintf(got + k, sizeof got - k, "%s%s", i ? " " : "", levi_tokenizer_token(t, ids[i]));
    ck_assert_msg(!strcmp(got, want), "'%s' -> '%s', expected '%s'", text, got, want);
}

START_TEST(known_pieces) {
    levi_tokenizer *t = fixture_tokenizer(NULL);
    ck_assert_int_eq(levi_tokenizer_vocab_size(t), 30522);
    ck_assert_int_eq(levi_tokenizer_cls_id(t), 101);
    ck_assert_int_eq(levi_tokenizer_sep_id(t), 102);
    ck_assert_int_eq(levi_tokenizer_pad_id(t), 0);
    ck_assert_int_eq(levi_tokenizer_unk_id(t), 100);
    ck_assert_int_eq(levi_tokenizer_token_id(t, "##ing"), 2075);
    ck_assert_int_eq(levi_tokenizer_token_id(t, "no such token"), -1);
    ck_assert_ptr_null(levi_tokenizer_token(t, 30522));
    expect_tokens(t, "Hello, World!", 0, "[CLS] hello , world ! [SEP]");
    expect_tokens(t, "Déjà vu", 0, "[CLS] de ##ja vu [SEP]");
    expect_tokens(t, "tokenization", 0, "[CLS] token ##ization [SEP]");
    expect_tokens(t, "a [MASK] b [mask]", 0, "[CLS] a [MASK] b [ mask ] [SEP]");
    expect_tokens(t, "中文", 0, "[CLS] 中 文 [SEP]");
    expect_tokens(t, "", 0, "[CLS] [SEP]");
    expect_tokens(t, "zero\xe2\x80\x8bwidth", 0, "[CLS] zero ##wi ##dt ##h [SEP]");
    expect_tokens(t, "one two three four", 4, "[CLS] one two [SEP]");
    expect_tokens(t, "one two", 2, "[CLS] [SEP]");
    char longword[202];
    memset(longword, 'a', 101);
    longword[101] = '\0';
    expect_tokens(t, longword, 0, "[CLS] [UNK] [SEP]");
    levi_tokenizer_free(t);
}
END_TEST

START_TEST(tokenizes_batches) {
    levi_tokenizer *t = fixture_tokenizer(NULL);
    const char *texts[3] = {"hello world", "one two three four five", "bad \xff"};
    float ids[12], mask[12];
    int truncated = -1;
    ck_assert_levi_ok(levi_text_tokenize(t, texts, 2, 6, ids, mask, &truncated));
    ck_assert_int_eq(truncated, 1);
    const float want_ids[12] = {101, 7592, 2088, 102, 0, 0, 101, 2028, 2048, 2093, 2176, 102};
    const float want_mask[12] = {1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1};
    for (int i = 0; i < 12; i++) {
        ck_assert_float_eq(ids[i], want_ids[i]);
        ck_assert_float_eq(mask[i], want_mask[i]);
    }
    ck_assert_int_eq(levi_text_tokenize(t, texts, 3, 6, ids, mask, NULL), LEVI_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "text 2: invalid UTF-8 at byte 4"));
    ck_assert_int_eq(levi_text_tokenize(t, texts, 1, 1, ids, mask, NULL), LEVI_ERR_INVALID_ARG);
    levi_tokenizer_free(t);
}
END_TEST

START_TEST(rejects_invalid_utf8) {
    levi_tokenizer *t = fixture_tokenizer(NULL);
    static const char *const bad[] = {
        "ab\xff", "\xc0\xaf",         /* overlong '/' */
        "x\xe0\x80\xaf",              /* overlong 3-byte */
        "\xed\xa0\x80",               /* a surrogate */
        "\xf4\x90\x80\x80",           /* above U+10FFFF */
        "\xc3",                       /* truncated */
        "ok \xe2\x82",                /* truncated 3-byte */
        "\x80 lone continuation",     /* */
        "\xf8\x88\x80\x80\x80",       /* 5-byte form */
    };
    static const int at[] = {2, 0, 1, 0, 0, 0, 3, 0, 0};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int32_t ids[16];
        int n = 5;
        levi_status st = levi_tokenizer_encode(t, bad[i], strlen(bad[i]), 16, ids, &n);
        ck_assert_int_eq(st, LEVI_ERR_FORMAT);
        ck_assert_int_eq(n, 0);
        char want[64];
        snprintf(want, sizeof want, "invalid UTF-8 at byte %d", at[i]);
        ck_assert_msg(strstr(levi_last_error(), want), "case %zu: '%s'", i, levi_last_error());
    }
    int32_t ids[4];
    int n;
    ck_assert_int_eq(levi_tokenizer_encode(t, "x", 1, 1, ids, &n), LEVI_ERR_INVALID_ARG);
    /* an embedded NUL is valid UTF-8: the cleaner drops it, joining "a" and "b" */
    ck_assert_levi_ok(levi_tokenizer_encode(t, "a\0b", 3, 4, ids, &n));
    ck_assert_int_eq(n, 3);
    ck_assert_str_eq(levi_tokenizer_token(t, ids[1]), "ab");
    levi_tokenizer_free(t);
}
END_TEST

/* --- vocabularies and folders ------------------------------------------------ */

static const char *k_small = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n##s\nworld\n,\n";

START_TEST(vocab_lines_like_transformers) {
    levi_tokenizer *t;
    /* '\n' ends a line, trailing white space ('\r' of "\r\n") is dropped, a lone '\r' inside a line
     * is not dropped, the last line needs no newline, a later duplicate wins */
    const char *v = "[PAD]\r\n[UNK] \t\n[CL\rS]\n[CLS]\n[SEP]\nab\nab\n##c";
    ck_assert_levi_ok(levi_tokenizer_create(&t, v, strlen(v), "v", NULL));
    ck_assert_int_eq(levi_tokenizer_vocab_size(t), 8);
    ck_assert_int_eq(levi_tokenizer_token_id(t, "[UNK]"), 1);
    ck_assert_int_eq(levi_tokenizer_token_id(t, "[CL\rS]"), 2);
    ck_assert_int_eq(levi_tokenizer_token_id(t, "ab"), 6);
    ck_assert_ptr_null(levi_tokenizer_token(t, 5));
    expect_tokens(t, "abc AB x", 0, "[CLS] ab ##c ab [UNK] [SEP]");
    levi_tokenizer_free(t);

    ck_assert_int_eq(levi_tokenizer_create(&t, "", 0, "empty.txt", NULL), LEVI_ERR_FORMAT);
    ck_assert_ptr_null(t);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "empty.txt"));
    const char *no_unk = "[PAD]\n[CLS]\n[SEP]\n";
    ck_assert_int_eq(levi_tokenizer_create(&t, no_unk, strlen(no_unk), "v.txt", NULL), LEVI_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "'[UNK]' is not in the vocabulary"));
    const char *bad_utf8 = "[PAD]\n[UNK]\n\xff\n";
    ck_assert_int_eq(levi_tokenizer_create(&t, bad_utf8, strlen(bad_utf8), "v.txt", NULL), LEVI_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "v.txt: line 3: invalid UTF-8"));
}
END_TEST

START_TEST(loads_folder_config) {
    test_write_text(test_tmp_path("vocab.txt"), k_small);
    test_write_text(test_tmp_path("tokenizer_config.json"),
               "{\"do_lower_case\": false, \"strip_accents\": null, \"tokenizer_class\": \"BertTokenizerFast\","
               " \"model_max_length\": 1000000000000000019884624838656, \"unk_token\": \"[UNK]\","
               " \"added_tokens_decoder\": {\"5\": {\"content\": \"hello\", \"special\": true}}}");
    levi_tokenizer *t;
    ck_assert_levi_ok(levi_tokenizer_load(&t, test_tmp));
    const levi_tokenizer_options *o = levi_tokenizer_get_options(t);
    ck_assert_int_eq(o->lowercase, 0);
    ck_assert_int_eq(o->strip_accents, -1);
    ck_assert_int_eq(levi_tokenizer_max_length(t), 1 << 20);
    /* "hello" is an added token: matched in the raw text, inside words too */
    expect_tokens(t, "worldhellos Hello", 0, "[CLS] world hello [UNK] [UNK] [SEP]");
    levi_tokenizer_free(t);

    test_write_text(test_tmp_path("sentence_bert_config.json"), "{\"max_seq_length\": 3, \"do_lower_case\": false}");
    ck_assert_levi_ok(levi_tokenizer_load(&t, test_tmp));
    ck_assert_int_eq(levi_tokenizer_max_length(t), 3);
    expect_tokens(t, "world world", 0, "[CLS] world [SEP]");
    levi_tokenizer_free(t);

    test_write_text(test_tmp_path("tokenizer_config.json"), "{\"tokenizer_class\": \"RobertaTokenizer\"}");
    ck_assert_int_eq(levi_tokenizer_load(&t, test_tmp), LEVI_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "tokenizer_config.json: tokenizer_class 'RobertaTokenizer'"));
    test_write_text(test_tmp_path("tokenizer_config.json"), "{\"do_lower_case\": \"yes\"}");
    ck_assert_int_eq(levi_tokenizer_load(&t, test_tmp), LEVI_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "do_lower_case"));
    test_write_text(test_tmp_path("tokenizer_config.json"), "{\"strip_accents\": 1}");
    ck_assert_int_eq(levi_tokenizer_load(&t, test_tmp), LEVI_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "strip_accents"));
    test_write_text(test_tmp_path("tokenizer_config.json"),
               "{\"added_tokens_decoder\": {\"5\": {\"content\": \"hello\", \"lstrip\": true}}}");
    ck_assert_int_eq(levi_tokenizer_load(&t, test_tmp), LEVI_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "lstrip"));
    test_write_text(test_tmp_path("tokenizer_config.json"), "{\"cls_token\": \"<s>\"}");
    ck_assert_int_eq(levi_tokenizer_load(&t, test_tmp), LEVI_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "'<s>' is not in the vocabulary"));
    test_write_text(test_tmp_path("tokenizer_config.json"), "{not json");
    ck_assert_int_eq(levi_tokenizer_load(&t, test_tmp), LEVI_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "tokenizer_config.json: not valid JSON"));
    ck_assert_int_eq(remove(test_tmp_path("vocab.txt")), 0);
    ck_assert_int_eq(levi_tokenizer_load(&t, test_tmp), LEVI_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "has no vocab.txt"));
}
END_TEST

/* The real all-MiniLM-L6-v2 folder when the quick start installed it (it
 * exports $LEVI_MINILM): same ids as the committed vocabulary on a line, and
 * its own max_seq_length (256). */
START_TEST(real_minilm_folder) {
    const char *path = getenv("LEVI_MINILM");
    if (!path) {
        fprintf(stderr, "real_minilm_folder: skipped, LEVI_MINILM is not set\n");
        return;
    }
    levi_tokenizer *t;
    ck_assert_levi_ok(levi_tokenizer_load(&t, path));
    ck_assert_int_eq(levi_tokenizer_max_length(t), 256);
    expect_tokens(t, "Tokenization of Ünïcödé text!", 0, "[CLS] token ##ization of unicode text ! [SEP]");
    levi_tokenizer_free(t);
}
END_TEST

int main(void) {
    Suite *s = suite_create("text_tokenizer");
    TCase *g = tcase_create("golden");
    tcase_set_timeout(g, 120);
    tcase_add_test(g, matches_transformers_on_corpus);
    tcase_add_test(g, known_pieces);
    tcase_add_test(g, tokenizes_batches);
    tcase_add_test(g, rejects_invalid_utf8);
    tcase_add_test(g, real_minilm_folder);
    suite_add_tcase(s, g);
    TCase *v = tcase_create("vocab");
    tcase_add_checked_fixture(v, test_tmp_setup, test_tmp_teardown);
    tcase_add_test(v, vocab_lines_like_transformers);
    tcase_add_test(v, loads_folder_config);
    suite_add_tcase(s, v);
    return test_run(s);
}
