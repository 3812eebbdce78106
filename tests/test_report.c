/* The HTML report writer on fabricated results: base64, escaping, a well-formed
 * document (balanced tags), every method row, both SVG charts, the embedded
 * PNG, the commands, and atomic writing. Needs no device. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "levi/report.h"
#include "testutil.h"

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

/* A minimal well-formedness check: every non-void element is closed in order.
 * Returns NULL when balanced, else a static message. */
static const char *check_balanced(const char *h) {
    static char msg[256];
    static const char *const voids[] = {"meta", "img", "br", "hr", "link", "input", NULL};
    char stack[64][16];
    int depth = 0;
    for (const char *p = strchr(h, '<'); p; p = strchr(p + 1, '<')) {
        if (!strncmp(p, "<!", 2)) continue;
        int closing = p[1] == '/';
        const char *q = p + 1 + closing;
        char name[16];
        int n = 0;
        while ((q[n] >= 'a' && q[n] <= 'z') || (q[n] >= '0' && q[n] <= '9')) {
            if (n >= 15) break;
            name[n] = q[n];
            n++;
        }
        name[n] = '\0';
        if (n == 0) {
            snprintf(msg, sizeof msg, "raw '<' at offset %ld", (long)(p - h));
            return msg;
        }
        const char *end = strchr(q, '>');
        if (!end) return "unterminated tag";
        if (closing) {
            if (depth == 0 || strcmp(stack[depth - 1], name)) {
                snprintf(msg, sizeof msg, "</%s> closes <%s> at offset %ld", name, depth ? stack[depth - 1] : "(none)",
                         (long)(p - h));
                return msg;
            }
            depth--;
            continue;
        }
        if (end[-1] == '/') continue;
        int is_void = 0;
        for (int i = 0; voids[i]; i++) is_void |= !strcmp(voids[i], name);
        if (is_void) continue;
        if (depth >= 64) return "nesting too deep";
        strcpy(stack[depth++], name);
    }
    if (depth != 0) {
        snprintf(msg, sizeof msg, "%d unclosed elements, innermost <%s>", depth, stack[depth - 1]);
        return msg;
    }
    return NULL;
}

static const unsigned char k_png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
static const double k_x[] = {0, 10, 20, 30};
static const double k_loss_a[] = {2.3, 1.5, 1.0, 0.8};
static const double k_loss_b[] = {2.3, 1.9, 1.7, 1.6};

static levi_report_row g_rows[4];
static levi_report_stage g_stages[2];

static levi_report fabricated(void) {
    memset(g_rows, 0, sizeof g_rows);
    const char *names[4] = {"scratch", "lp", "ft<x>&\"y\"", "levi"};
    const double id[4] = {0.80, 0.75, 0.91, 0.905};
    const double ood[4] = {0.40, 0.55, 0.35, 0.625};
    for (int i = 0; i < 4; i++) {
        g_rows[i].method = names[i];
        g_rows[i].id_acc = id[i];
        g_rows[i].ood_acc = ood[i];
        g_rows[i].train_s = 10.0 * (i + 1);
        g_rows[i].samples_per_s = 100.0 * (i + 1);
        g_rows[i].curve_x = k_x;
        g_rows[i].curve_loss = i % 2 ? k_loss_b : k_loss_a;
        g_rows[i].curve_n = 4;
        g_rows[i].command = i == 3 ? "levi-cl train --method levi --data 'a b' > out" : "levi-cl train";
    }
    g_rows[1].curve_x = NULL; /* a row without a curve */
    g_stages[0] = (levi_report_stage){"generate fashion-shift", 0, 1};
    g_stages[1] = (levi_report_stage){"pretrain <vit-tiny>", 42.5, 0};
    levi_report r = {0};
    r.title = "LEVI demo";
    r.intro = "Intro with <script>alert(1)</script> & more.";
    r.device = "pthread-cpu";
    r.driver = "PoCL 3.1";
    r.generated = "2026-11-26 20:00 UTC";
    r.rows = g_rows;
    r.n_rows = 4;
    r.stages = g_stages;
    r.n_stages = 2;
    r.image_png = k_png;
    r.image_png_len = sizeof k_png;
    r.image_caption = "contact sheet";
    r.setup_commands = "levi-cl data fashion-shift --out x";
    return r;
}

START_TEST(base64_vectors) {
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char *s = levi_base64((const unsigned char *)in[i], strlen(in[i]));
        ck_assert_ptr_nonnull(s);
        ck_assert_msg(!strcmp(s, want[i]), "base64('%s') = '%s', want '%s'", in[i], s, want[i]);
        free(s);
    }
    unsigned char all[256];
    for (int i = 0; i < 256; i++) all[i] = (unsigned char)i;
    char *s = levi_base64(all, 256);
    ck_assert_uint_eq(strlen(s), 344);
    ck_assert(!strncmp(s, "AAECAwQFBgcICQoLDA0ODxAR", 24));
    ck_assert(!strcmp(s + 336, "/P3+/w=="));
    free(s);
}
END_TEST

START_TEST(escape) {
    char *s = levi_html_escape("<a href=\"x\">Tom & 'Jerry'</a>");
    ck_assert_str_eq(s, "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;");
    free(s);
    s = levi_html_escape(NULL);
    ck_assert_str_eq(s, "");
    free(s);
}
END_TEST

START_TEST(structure) {
    levi_report r = fabricated();
    char *h;
    ck_assert_levi_ok(levi_report_html(&r, &h));
    ck_assert(!strncmp(h, "<!DOCTYPE html>", 15));
    const char *why = check_balanced(h);
    ck_assert_msg(why == NULL, "report is not well formed: %s", why);
    ck_assert_int_eq(count(h, "<html"), 1);
    ck_assert_int_eq(count(h, "</body>"), 1);
    /* both charts, nothing external */
    ck_assert_int_eq(count(h, "<svg class=\"chart\""), 2);
    ck_assert_ptr_nonnull(strstr(h, "id=\"acc-chart\""));
    ck_assert_ptr_nonnull(strstr(h, "id=\"loss-chart\""));
    ck_assert_int_eq(count(h, "<script"), 0);
    ck_assert_int_eq(count(h, "src=\"http"), 0);
    ck_assert_ptr_nonnull(strstr(h, "pthread-cpu"));
    ck_assert_ptr_nonnull(strstr(h, "PoCL 3.1"));
    free(h);
}
END_TEST

START_TEST(rows_and_values) {
    levi_report r = fabricated();
    char *h;
    ck_assert_levi_ok(levi_report_html(&r, &h));
    ck_assert_int_eq(count(h, "<tr class=\"row"), 4);
    const char *cells[] = {"<td class=\"method\">scratch</td>", "<td class=\"method\">lp</td>",
                           "<td class=\"method\">ft&lt;x&gt;&amp;&quot;y&quot;</td>", "<td class=\"method\">levi</td>"};
    for (int i = 0; i < 4; i++) ck_assert_msg(strstr(h, cells[i]) != NULL, "row cell %s missing", cells[i]);
    /* the best OOD row (levi, 62.5%) is highlighted, with its numbers */
    ck_assert_int_eq(count(h, "class=\"row best\""), 1);
    const char *best = strstr(h, "class=\"row best\"");
    ck_assert(strstr(best, "levi") < strstr(best, "</tr>"));
    ck_assert_ptr_nonnull(strstr(h, "<td>90.5%</td><td>62.5%</td><td>-28.0</td><td>40.0 s</td><td>400</td>"));
    /* one pair of bars per method; a bar of 62.5% is 0.625 of the 258-pixel plot height */
    ck_assert_int_eq(count(h, "fill=\"#4e79a7\"><title>"), 4);
    ck_assert_ptr_nonnull(strstr(h, "height=\"161.2\" fill=\"#f28e2b\"><title>levi OOD 62.5%"));
    /* one curve per row that has one (3), and a legend entry each */
    ck_assert_int_eq(count(h, "<polyline class=\"curve\""), 3);
    /* commands, escaped */
    ck_assert_ptr_nonnull(strstr(h, "levi-cl train --method levi --data &#39;a b&#39; &gt; out"));
    ck_assert_ptr_nonnull(strstr(h, "<td>pretrain &lt;vit-tiny&gt;</td><td>42.5 s</td>"));
    ck_assert_ptr_nonnull(strstr(h, "<td>generate fashion-shift</td><td>cached</td>"));
    free(h);
}
END_TEST

START_TEST(escaping_in_page) {
    levi_report r = fabricated();
    char *h;
    ck_assert_levi_ok(levi_report_html(&r, &h));
    ck_assert_msg(strstr(h, "<script>") == NULL, "caller text was not escaped");
    ck_assert_ptr_nonnull(strstr(h, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more."));
    ck_assert_msg(strstr(h, "ft<x>") == NULL, "method name was not escaped");
    ck_assert_int_ge(count(h, "ft&lt;x&gt;&amp;&quot;y&quot;"), 4); /* table, bar x2, label, curve, legend */
    free(h);
}
END_TEST

START_TEST(embedded_png) {
    levi_report r = fabricated();
    char *h;
    ck_assert_levi_ok(levi_report_html(&r, &h));
    /* base64 of the 16 bytes, computed by hand: 89 50 4E 47 0D 0A 1A 0A 00 00 00 0D 49 48 44 52 */
    ck_assert_ptr_nonnull(strstr(h, "src=\"data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==\""));
    free(h);
    r.image_png = NULL;
    ck_assert_levi_ok(levi_report_html(&r, &h));
    ck_assert_int_eq(count(h, "data:image/png"), 0);
    ck_assert_ptr_null(check_balanced(h));
    free(h);
}
END_TEST

START_TEST(empty_and_missing) {
    levi_report r = fabricated();
    for (int i = 0; i < 4; i++) g_rows[i].curve_x = NULL;
    g_rows[0].id_acc = -1;
    char *h;
    ck_assert_levi_ok(levi_report_html(&r, &h));
    ck_assert_ptr_nonnull(strstr(h, "No training curves were recorded."));
    ck_assert_ptr_nonnull(strstr(h, "<td class=\"method\">scratch</td><td>–</td><td>40.0%</td><td>–</td>"));
    ck_assert_ptr_null(check_balanced(h));
    free(h);
    r.n_rows = 0;
    ck_assert_levi_ok(levi_report_html(&r, &h));
    ck_assert_ptr_null(check_balanced(h));
    free(h);
    g_rows[2].method = "";
    r.n_rows = 4;
    ck_assert_int_eq(levi_report_html(&r, &h), LEVI_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "row 2"));
    ck_assert_ptr_null(h);
}
END_TEST

static int dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

START_TEST(atomic_write) {
    char *dir = test_tmpdir();
    char path[1024];
    snprintf(path, sizeof path, "%s/report.html", dir);
    /* an old, longer file is replaced completely */
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 200000; i++) fputc('x', f);
    fclose(f);
    levi_report r = fabricated();
    ck_assert_levi_ok(levi_report_write(path, &r));
    char *want, *got;
    size_t len;
    ck_assert_levi_ok(levi_report_html(&r, &want));
    ck_assert_levi_ok(levi_read_file(path, &got, &len));
    ck_assert_uint_eq(len, strlen(want));
    ck_assert(!strcmp(got, want));
    free(got);
    ck_assert_int_eq(dir_entries(dir), 1); /* no temp file left */
    /* a bad report leaves the previous file untouched */
    g_rows[0].method = NULL;
    ck_assert_int_eq(levi_report_write(path, &r), LEVI_ERR_INVALID_ARG);
    ck_assert_levi_ok(levi_read_file(path, &got, &len));
    ck_assert(!strcmp(got, want));
    free(got);
    free(want);
    ck_assert_int_eq(dir_entries(dir), 1);
    /* a folder that does not exist: an error naming the path, no file */
    char bad[1100];
    snprintf(bad, sizeof bad, "%s/missing/report.html", dir);
    r = fabricated();
    ck_assert_int_eq(levi_report_write(bad, &r), LEVI_ERR_IO);
    ck_assert_ptr_nonnull(strstr(levi_last_error(), "missing/report.html"));
    ck_assert_int_eq(dir_entries(dir), 1);
    remove(path);
    rmdir(dir);
    free(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("report");
    tcase_add_test(tc, base64_vectors);
    tcase_add_test(tc, escape);
    tcase_add_test(tc, structure);
    tcase_add_test(tc, rows_and_values);
    tcase_add_test(tc, escaping_in_page);
    tcase_add_test(tc, embedded_png);
    tcase_add_test(tc, empty_and_missing);
    tcase_add_test(tc, atomic_write);
    suite_add_tcase(s, tc);
    return test_run(s);
}
