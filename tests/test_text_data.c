/* Text data sets: JSON lines, CSV (RFC 4180 quoting) and TSV, column names,
 * class order, the per-class limit, a given class list, and every bad input
 * with the file, line and field its error must name. Host only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* Write `len` bytes (or strlen) to dir/name and return the path. */
static const char *put(const char *name, const char *data, size_t len) {
    const char *path = test_tmp_path(name);
    test_write_bytes(path, data, len ? len : strlen(data));
    return path;
}

static void expect_error(const char *path, const levi_text_options *o, levi_status want, const char *msg) {
    levi_text_dataset ds;
    levi_status st = levi_text_load(&ds, path, o);
    ck_assert_msg(st == want, "%s: %s, expected %s (%s)", path, levi_status_name(st), levi_status_name(want),
                  levi_last_error());
    ck_assert_msg(strstr(levi_last_error(), msg), "error '%s' lacks '%s'", levi_last_error(), msg);
    ck_assert_int_eq(ds.n, 0);
    ck_assert_ptr_null(ds.texts);
}

START_TEST(reads_jsonl) {
    const char *p = put("a.jsonl",
                        "{\"text\": \"good film\", \"label\": \"pos\"}\n"
                        "\n"
                        "  {\"label\": \"neg\", \"id\": 7, \"text\": \"dull \\u00e9 \\\"plot\\\"\"}\r\n"
                        "{\"text\": \"\", \"label\": \"neutral\"}\n"
                        "{\"text\": \"fine\", \"label\": \"pos\"}",
                        0);
    levi_text_dataset ds;
    ck_assert_levi_ok(levi_text_load(&ds, p, NULL));
    ck_assert_int_eq(ds.n, 4);
    ck_assert_int_eq(ds.num_classes, 3);
    ck_assert_str_eq(ds.class_names[0], "neg");
    ck_assert_str_eq(ds.class_names[1], "neutral");
    ck_assert_str_eq(ds.class_names[2], "pos");
    ck_assert_str_eq(ds.texts[1], "dull \xc3\xa9 \"plot\"");
    ck_assert_str_eq(ds.texts[2], "");
    ck_assert_int_eq(ds.labels[0], 2);
    ck_assert_int_eq(ds.labels[1], 0);
    ck_assert_int_eq(ds.labels[3], 2);
    levi_text_free(&ds);

    /* integer labels sort as numbers; custom column names; the per-class limit keeps the first rows */
    p = put("b.json",
            "{\"body\": \"a\", \"y\": 10}\n{\"body\": \"b\", \"y\": 2}\n{\"body\": \"c\", \"y\": 10}\n"
            "{\"body\": \"d\", \"y\": \"2\"}\n",
            0);
    levi_text_options o = {.text_column = "body", .label_column = "y", .limit_per_class = 1};
    ck_assert_levi_ok(levi_text_load(&ds, p, &o));
    ck_assert_int_eq(ds.num_classes, 2);
    ck_assert_str_eq(ds.class_names[0], "2");
    ck_assert_str_eq(ds.class_names[1], "10");
    ck_assert_int_eq(ds.n, 2);
    ck_assert_str_eq(ds.texts[0], "a");
    ck_assert_str_eq(ds.texts[1], "b");
    levi_text_free(&ds);
}
END_TEST

START_TEST(reads_csv_rfc4180) {
    const char *p = put("c.csv",
                        "\xef\xbb\xbfid,label,text\r\n"
                        "1,sport,\"a, b and \"\"c\"\"\"\r\n"
                        "2,news,\"two\nlines\"\r\n"
                        "\r\n"
                        "3,sport,  spaces kept  \r\n"
                        "4,news,\n"
                        "5,café,last line without newline",
                        0);
    levi_text_dataset ds;
    ck_assert_levi_ok(levi_text_load(&ds, p, NULL));
    ck_assert_int_eq(ds.n, 5);
    ck_assert_int_eq(ds.num_classes, 3);
    ck_assert_str_eq(ds.class_names[0], "caf\xc3\xa9");
    ck_assert_str_eq(ds.class_names[1], "news");
    ck_assert_str_eq(ds.texts[0], "a, b and \"c\"");
    ck_assert_str_eq(ds.texts[1], "two\nlines");
    ck_assert_str_eq(ds.texts[2], "  spaces kept  ");
    ck_assert_str_eq(ds.texts[3], "");
    ck_assert_int_eq(ds.labels[4], 0);
    levi_text_free(&ds);

    p = put("t.tsv", "text\tlabel\nhello, world\tgreet\n\"tab\there\"\tgreet\n", 0);
    ck_assert_levi_ok(levi_text_load(&ds, p, NULL));
    ck_assert_int_eq(ds.n, 2);
    ck_assert_str_eq(ds.texts[0], "hello, world");
    ck_assert_str_eq(ds.texts[1], "tab\there");
    levi_text_free(&ds);

    /* a given class list (a trained model's) fixes the ids, even for classes absent from the file */
    static const char *const classes[] = {"zeta", "greet", "alpha"};
    levi_text_options o = {.classes = classes, .num_classes = 3, .format = LEVI_TEXT_TSV};
    p = put("t.txt", "text\tlabel\nhi\tgreet\n", 0);
    ck_assert_levi_ok(levi_text_load(&ds, p, &o));
    ck_assert_int_eq(ds.num_classes, 3);
    ck_assert_int_eq(ds.labels[0], 1);
    ck_assert_str_eq(ds.class_names[0], "zeta");
    levi_text_free(&ds);
}
END_TEST

START_TEST(rejects_bad_jsonl) {
    expect_error(put("e.jsonl", "", 0), NULL, LEVI_ERR_FORMAT, "e.jsonl: no rows");
    expect_error(put("e.jsonl", "\n  \n", 0), NULL, LEVI_ERR_FORMAT, "e.jsonl: no rows");
    expect_error(put("m.jsonl", "{\"text\": \"a\", \"label\": 1}\n{\"txt\": \"b\", \"label\": 1}\n", 0), NULL,
                 LEVI_ERR_FORMAT, "m.jsonl:2: missing field 'text'");
    expect_error(put("m.jsonl", "{\"text\": \"a\"}\n", 0), NULL, LEVI_ERR_FORMAT, "m.jsonl:1: missing field 'label'");
    expect_error(put("u.jsonl", "{\"text\": \"a\", \"label\": 1}\n\n{\"text\": \"b\xff\", \"label\": 1}\n", 0), NULL,
                 LEVI_ERR_FORMAT, "u.jsonl:3: field 'text': invalid UTF-8 at byte 1");
    expect_error(put("u.jsonl", "{\"text\": \"a\", \"label\": \"\xc0\xaf\"}\n", 0), NULL, LEVI_ERR_FORMAT,
                 "u.jsonl:1: field 'label': invalid UTF-8 at byte 0");
    expect_error(put("u.jsonl", "{\"text\": \"a\", \"label\": 1, \"x\": \"\xed\xa0\x80\"}\n", 0), NULL,
                 LEVI_ERR_FORMAT, "u.jsonl:1: invalid UTF-8 at byte 32 of the line");
    expect_error(put("j.jsonl", "{\"text\": \"a\", \"label\": 1\n", 0), NULL, LEVI_ERR_FORMAT, "j.jsonl:1: not valid JSON");
    expect_error(put("j.jsonl", "[\"a\", 1]\n", 0), NULL, LEVI_ERR_FORMAT, "j.jsonl:1: expected a JSON object");
    expect_error(put("j.jsonl", "{\"text\": \"a\", \"label\": 1} {}\n", 0), NULL, LEVI_ERR_FORMAT,
                 "j.jsonl:1: text after the JSON object");
    expect_error(put("j.jsonl", "{\"text\": 5, \"label\": 1}\n", 0), NULL, LEVI_ERR_FORMAT,
                 "j.jsonl:1: field 'text' must be a string");
    expect_error(put("j.jsonl", "{\"text\": \"a\", \"label\": 1.5}\n", 0), NULL, LEVI_ERR_FORMAT,
                 "j.jsonl:1: field 'label' must be a string or an integer");
    expect_error(put("j.jsonl", "{\"text\": \"a\", \"label\": null}\n", 0), NULL, LEVI_ERR_FORMAT,
                 "field 'label' must be a string or an integer");
    expect_error(put("j.jsonl", "{\"text\": \"a\", \"label\": \"\"}\n", 0), NULL, LEVI_ERR_FORMAT,
                 "j.jsonl:1: field 'label' is empty");
    static const char *const classes[] = {"pos", "neg"};
    levi_text_options o = {.classes = classes, .num_classes = 2};
    expect_error(put("k.jsonl", "{\"text\": \"a\", \"label\": \"pos\"}\n{\"text\": \"a\", \"label\": \"meh\"}\n", 0),
                 &o, LEVI_ERR_FORMAT, "k.jsonl:2: field 'label': label 'meh' is not one of the 2 classes ('pos', 'neg')");
    expect_error(put("x.txt", "{}", 0), NULL, LEVI_ERR_INVALID_ARG, "cannot tell the format");
    char missing[700];
    snprintf(missing, sizeof missing, "%s/none.jsonl", test_tmp);
    expect_error(missing, NULL, LEVI_ERR_IO, "none.jsonl");
}
END_TEST

START_TEST(rejects_huge_and_too_many) {
    size_t n = LEVI_TEXT_MAX_RECORD + 100;
    char *big = malloc(n + 64);
    strcpy(big, "{\"text\": \"a\", \"label\": 1}\n{\"text\": \"");
    size_t k = strlen(big);
    memset(big + k, 'x', n - k);
    strcpy(big + n, "\", \"label\": 1}\n");
    expect_error(put("h.jsonl", big, 0), NULL, LEVI_ERR_FORMAT, "h.jsonl:2: line longer than 1048576 bytes");
    strcpy(big, "text,label\nok,1\n\"");
    k = strlen(big);
    memset(big + k, 'x', n - k);
    strcpy(big + n, "\",1\n");
    expect_error(put("h.csv", big, 0), NULL, LEVI_ERR_FORMAT, "h.csv:3: record longer than 1048576 bytes");
    /* 1001 distinct labels */
    k = (size_t)sprintf(big, "text,label\n");
    for (int i = 0; i <= LEVI_TEXT_MAX_CLASSES; i++) k += (size_t)sprintf(big + k, "t,c%d\n", i);
    expect_error(put("many.csv", big, 0), NULL, LEVI_ERR_FORMAT,
                 "many.csv: column 'label' holds 1001 distinct labels, more than 1000 classes");
    free(big);
}
END_TEST

START_TEST(rejects_bad_csv) {
    expect_error(put("e.csv", "", 0), NULL, LEVI_ERR_FORMAT, "e.csv: empty file (expected a header row");
    expect_error(put("e.csv", "text,label\n", 0), NULL, LEVI_ERR_FORMAT, "e.csv: no rows");
    expect_error(put("c.csv", "txt,label\na,b\n", 0), NULL, LEVI_ERR_FORMAT,
                 "c.csv:1: the header has no column 'text' (its columns: 'txt', 'label')");
    levi_text_options o = {.label_column = "class"};
    expect_error(put("c.csv", "text,label\na,b\n", 0), &o, LEVI_ERR_FORMAT, "c.csv:1: the header has no column 'class'");
    expect_error(put("c.csv", "text,label,text\na,b,c\n", 0), NULL, LEVI_ERR_FORMAT,
                 "c.csv:1: column 'text' appears twice");
    expect_error(put("c.csv", "text,label\na,b\n\"x\",y,z\n", 0), NULL, LEVI_ERR_FORMAT,
                 "c.csv:3: 3 fields, but the header has 2 columns");
    expect_error(put("q.csv", "text,label\nsay \"hi\",b\n", 0), NULL, LEVI_ERR_FORMAT, "q.csv:2: malformed quoting");
    expect_error(put("q.csv", "text,label\n\"open,b\nmore\n", 0), NULL, LEVI_ERR_FORMAT,
                 "q.csv:2: a quoted field is not closed");
    expect_error(put("u.csv", "text,label\nok,a\n\"two\nli\xffnes\",a\n", 0), NULL, LEVI_ERR_FORMAT,
                 "u.csv:3: field 'text': invalid UTF-8 at byte 6");
    expect_error(put("u.tsv", "text\tlabel\nok\t\xff\n", 0), NULL, LEVI_ERR_FORMAT,
                 "u.tsv:2: field 'label': invalid UTF-8");
    expect_error(put("n.csv", "text,label\nok,a\0b\n", 16), NULL, LEVI_ERR_FORMAT, "n.csv:2: field 'label' holds a NUL");
}
END_TEST

/* Texts as a training set of token ids (tokenised once, at load) and the
 * loader's batches of them: ids and mask as floats, in the epoch's order. */
START_TEST(tokens_for_training) {
    static const char vocab[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nfont\nfonts\n-\npython\n##3\nmodule\n";
    levi_tokenizer *t;
    ck_assert_levi_ok(levi_tokenizer_create(&t, vocab, sizeof vocab - 1, "vocab", NULL));
    const char *path = put("d.jsonl",
                           "{\"text\": \"python3-module\", \"label\": \"python\"}\n"
                           "{\"text\": \"the fonts\", \"label\": \"fonts\"}\n"
                           "{\"text\": \"the font the font the font\", \"label\": \"fonts\"}\n",
                           0);
    ck_assert(levi_text_path_is_text(path));
    ck_assert(!levi_text_path_is_text("images/"));
    levi_dataset ds;
    int trunc = -1;
    ck_assert_levi_ok(levi_text_load_tokens(&ds, path, NULL, t, 6, &trunc));
    ck_assert_int_eq(ds.kind, LEVI_INPUT_TOKENS);
    ck_assert_int_eq(ds.n, 3);
    ck_assert_int_eq(ds.seq_len, 6);
    ck_assert_int_eq(ds.num_classes, 2);
    ck_assert_str_eq(ds.class_names[1], "python");
    ck_assert_int_eq(trunc, 1);
    ck_assert_uint_eq(levi_dataset_sample_floats(&ds), 6);
    /* [CLS] python ##3 - module [SEP]; [CLS] the fonts [SEP] [PAD] [PAD]; truncated: ... font [SEP] */
    const int want[3][6] = {{2, 9, 10, 8, 11, 3}, {2, 5, 7, 3, 0, 0}, {2, 5, 6, 5, 6, 3}};
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 6; k++) {
            ck_assert_int_eq(ds.tokens[i * 6 + k], want[i][k]);
            ck_assert_int_eq(ds.mask[i * 6 + k], i != 1 || k < 4);
        }
    ck_assert_int_eq(ds.labels[0], 1);
    levi_loader l;
    ck_assert_levi_ok(levi_loader_init(&l, &ds, 2, 7, 1));
    float x[12], m[12], y[2];
    for (int e = 0; e < 2; e++) {
        levi_loader_epoch(&l, e);
        int seen = 0, b;
        while ((b = levi_loader_next_input(&l, x, m, y)) > 0) {
            for (int r = 0; r < b; r++) {
                int idx = l.order[l.pos - b + r];
                ck_assert_int_eq((int)y[r], ds.labels[idx]);
                for (int k = 0; k < 6; k++) {
                    ck_assert_int_eq((int)x[r * 6 + k], want[idx][k]);
                    ck_assert(m[r * 6 + k] == (float)ds.mask[idx * 6 + k]);
                }
            }
            seen += b;
        }
        ck_assert_int_eq(seen, 3);
    }
    levi_loader_free(&l);
    levi_dataset_free(&ds);
    /* an invalid text names its row; T < 2 is refused */
    path = put("bad.jsonl", "{\"text\": \"ok\", \"label\": \"a\"}\n{\"text\": \"ok\", \"label\": \"b\"}\n", 0);
    ck_assert_int_eq(levi_text_load_tokens(&ds, path, NULL, t, 1, NULL), LEVI_ERR_INVALID_ARG);
    ck_assert_ptr_null(ds.tokens);
    levi_tokenizer_free(t);
}
END_TEST

START_TEST(format_names) {
    levi_text_format f;
    ck_assert_levi_ok(levi_text_format_parse("TSV", &f));
    ck_assert_int_eq(f, LEVI_TEXT_TSV);
    ck_assert_int_eq(levi_text_format_parse("xml", &f), LEVI_ERR_INVALID_ARG);
    ck_assert_int_eq(levi_text_format_of("a/b.NDJSON"), LEVI_TEXT_JSONL);
    ck_assert_int_eq(levi_text_format_of("a.b/c"), LEVI_TEXT_AUTO);
    ck_assert_str_eq(levi_text_format_name(LEVI_TEXT_CSV), "csv");
}
END_TEST

int main(void) {
    Suite *s = suite_create("text_data");
    TCase *t = tcase_create("text_data");
    tcase_add_checked_fixture(t, test_tmp_setup, test_tmp_teardown);
    tcase_add_test(t, reads_jsonl);
    tcase_add_test(t, reads_csv_rfc4180);
    tcase_add_test(t, rejects_bad_jsonl);
    tcase_add_test(t, rejects_huge_and_too_many);
    tcase_add_test(t, rejects_bad_csv);
    tcase_add_test(t, format_names);
    tcase_add_test(t, tokens_for_training);
    suite_add_tcase(s, t);
    return test_run(s);
}
