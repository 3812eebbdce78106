/* The self-contained HTML report: results table, inline-SVG charts (ID vs OOD
 * accuracy per method, training-loss curves), an embedded PNG, the device,
 * stage timings and the commands that reproduce every row. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "levi/report.h"
#include "levi/runtime.h"

/* --- a growable string ------------------------------------------------------ */

typedef struct sbuf {
    char *s;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_reserve(sbuf *b, size_t extra) {
    if (b->oom || b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) {
        b->oom = 1;
        return;
    }
    b->s = s;
    b->cap = cap;
}

static void sb_put(sbuf *b, const char *s) {
    size_t n = strlen(s);
    sb_reserve(b, n);
    if (b->oom) return;
    memcpy(b->s + b->len, s, n + 1);
    b->len += n;
}

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    sb_reserve(b, (size_t)n);
    if (b->oom) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Append `s` escaped for HTML text and attribute values. */
static void sb_esc(sbuf *b, const char *s) {
    if (!s) return;
    for (; *s; s++) {
        switch (*s) {
        case '&': sb_put(b, "&amp;"); break;
        case '<': sb_put(b, "&lt;"); break;
        case '>': sb_put(b, "&gt;"); break;
        case '"': sb_put(b, "&quot;"); break;
        case '\'': sb_put(b, "&#39;"); break;
        default: {
            char c[2] = {*s, 0};
            sb_put(b, c);
        }
        }
    }
}

char *levi_html_escape(const char *s) {
    sbuf b = {0};
    sb_put(&b, "");
    sb_esc(&b, s);
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

char *levi_base64(const unsigned char *data, size_t len) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (len > ((size_t)-1 - 8) / 4 * 3) return NULL;
    size_t out_len = (len + 2) / 3 * 4;
    char *out = malloc(out_len + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)data[i] << 16;
        if (i + 1 < len) v |= (unsigned)data[i + 1] << 8;
        if (i + 2 < len) v |= data[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? tab[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

/* --- charts ------------------------------------------------------------------ */

static const char *const k_palette[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759",
                                        "#76b7b2", "#b07aa1", "#9c755f", "#edc948"};
#define PALETTE_N (int)(sizeof k_palette / sizeof k_palette[0])
#define COLOR_ID "#4e79a7"
#define COLOR_OOD "#f28e2b"

/* A "nice" tick step (1, 2 or 5 times a power of ten) for about n ticks up to max. */
static double nice_step(double max, int n) {
    if (!(max > 0)) return 1;
    double raw = max / n;
    double p = pow(10, floor(log10(raw)));
    double m = raw / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

static void fmt_tick(char *out, size_t len, double v, double step) {
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (dec > 6) dec = 6;
    snprintf(out, len, "%.*f", dec, v);
}

static void chart_accuracy(sbuf *b, const levi_report *r) {
    const int W = 760, H = 360, L = 60, R = 20, T = 44, Bm = 58;
    const int pw = W - L - R, ph = H - T - Bm;
    sb_printf(b,
              "<svg class=\"chart\" id=\"acc-chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
              "width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"ID and OOD accuracy per method\">\n",
              W, H, W, H);
    sb_printf(b, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", W, H);
    for (int p = 0; p <= 100; p += 20) {
        double y = T + ph - ph * p / 100.0;
        sb_printf(b, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", L, L + pw, y, y);
        sb_printf(b, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" font-size=\"13\">%d%%</text>\n", L - 8, y + 4, p);
    }
    sb_printf(b,
              "<text x=\"16\" y=\"%d\" font-size=\"14\" transform=\"rotate(-90 16 %d)\" "
              "text-anchor=\"middle\">accuracy</text>\n",
              T + ph / 2, T + ph / 2);
    /* legend */
    sb_printf(b, "<rect x=\"%d\" y=\"12\" width=\"14\" height=\"14\" fill=\"%s\"/>", L, COLOR_ID);
    sb_printf(b, "<text x=\"%d\" y=\"24\" font-size=\"14\">ID (test-id)</text>\n", L + 20);
    sb_printf(b, "<rect x=\"%d\" y=\"12\" width=\"14\" height=\"14\" fill=\"%s\"/>", L + 140, COLOR_OOD);
    sb_printf(b, "<text x=\"%d\" y=\"24\" font-size=\"14\">OOD (test-ood)</text>\n", L + 160);
    int n = r->n_rows > 0 ? r->n_rows : 1;
    double gw = (double)pw / n;
    double bw = gw * 0.32 < 56 ? gw * 0.32 : 56;
    for (int i = 0; i < r->n_rows; i++) {
        const levi_report_row *row = &r->rows[i];
        double cx = L + gw * (i + 0.5);
        double accs[2] = {row->id_acc, row->ood_acc};
        const char *colors[2] = {COLOR_ID, COLOR_OOD};
        for (int k = 0; k < 2; k++) {
            double x = k == 0 ? cx - bw - 2 : cx + 2;
            double a = accs[k];
            if (!(a >= 0) || !isfinite(a)) {
                sb_printf(b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-size=\"13\">–</text>\n",
                          x + bw / 2, T + ph - 4);
                continue;
            }
            if (a > 1) a = 1;
            double h = ph * a;
            sb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>", x,
                      T + ph - h, bw, h, colors[k]);
            sb_esc(b, row->method);
            sb_printf(b, " %s %.1f%%</title></rect>\n", k == 0 ? "ID" : "OOD", a * 100);
            sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"13\">%.1f</text>\n",
                      x + bw / 2, T + ph - h - 5, a * 100);
        }
        sb_printf(b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">",
                  cx, T + ph + 24);
        sb_esc(b, row->method);
        sb_put(b, "</text>\n");
    }
    sb_printf(b, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n", L, L + pw, T + ph, T + ph);
    sb_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"14\">method</text>\n", L + pw / 2,
              H - 8);
    sb_put(b, "</svg>\n");
}

static void chart_loss(sbuf *b, const levi_report *r) {
    const int W = 760, H = 380, L = 60, R = 130, T = 20, Bm = 52;
    const int pw = W - L - R, ph = H - T - Bm;
    double xmin = INFINITY, xmax = -INFINITY, ymax = 0;
    int any = 0;
    for (int i = 0; i < r->n_rows; i++) {
        const levi_report_row *row = &r->rows[i];
        if (!row->curve_x || !row->curve_loss) continue;
        for (int j = 0; j < row->curve_n; j++) {
            double x = row->curve_x[j], y = row->curve_loss[j];
            if (!isfinite(x) || !isfinite(y)) continue;
            any = 1;
            if (x < xmin) xmin = x;
            if (x > xmax) xmax = x;
            if (y > ymax) ymax = y;
        }
    }
    if (!any) {
        sb_put(b, "<p class=\"note\">No training curves were recorded.</p>\n");
        return;
    }
    if (xmin > 0 && xmin < (xmax - xmin) * 0.2) xmin = 0;
    if (xmax <= xmin) xmax = xmin + 1;
    double ystep = nice_step(ymax, 5);
    double ytop = ceil(ymax / ystep) * ystep;
    if (ytop <= 0) ytop = 1;
    double xstep = nice_step(xmax - xmin, 6);
    sb_printf(b,
              "<svg class=\"chart\" id=\"loss-chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
              "width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"training loss per method\">\n",
              W, H, W, H);
    sb_printf(b, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", W, H);
    char t[32];
    for (double v = 0; v <= ytop + ystep * 1e-6; v += ystep) {
        double y = T + ph - ph * v / ytop;
        fmt_tick(t, sizeof t, v, ystep);
        sb_printf(b, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", L, L + pw, y, y);
        sb_printf(b, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" font-size=\"13\">%s</text>\n", L - 8, y + 4, t);
    }
    for (double v = ceil(xmin / xstep) * xstep; v <= xmax + xstep * 1e-6; v += xstep) {
        double x = L + pw * (v - xmin) / (xmax - xmin);
        fmt_tick(t, sizeof t, v, xstep);
        sb_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n", x, x, T + ph,
                  T + ph + 5);
        sb_printf(b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-size=\"13\">%s</text>\n", x,
                  T + ph + 20, t);
    }
    sb_printf(b, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n", L, L + pw, T + ph, T + ph);
    sb_printf(b, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n", L, L, T, T + ph);
    sb_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"14\">training step</text>\n",
              L + pw / 2, H - 10);
    sb_printf(b,
              "<text x=\"16\" y=\"%d\" font-size=\"14\" transform=\"rotate(-90 16 %d)\" "
              "text-anchor=\"middle\">training loss</text>\n",
              T + ph / 2, T + ph / 2);
    int li = 0;
    for (int i = 0; i < r->n_rows; i++) {
        const levi_report_row *row = &r->rows[i];
        const char *color = k_palette[i % PALETTE_N];
        int npts = 0;
        if (row->curve_x && row->curve_loss) {
            sb_printf(b, "<polyline class=\"curve\" fill=\"none\" stroke=\"%s\" stroke-width=\"2.5\" points=\"",
                      color);
            for (int j = 0; j < row->curve_n; j++) {
                double x = row->curve_x[j], y = row->curve_loss[j];
                if (!isfinite(x) || !isfinite(y)) continue;
                sb_printf(b, "%.1f,%.1f ", L + pw * (x - xmin) / (xmax - xmin), T + ph - ph * y / ytop);
                npts++;
            }
            sb_put(b, "\"><title>");
            sb_esc(b, row->method);
            sb_put(b, "</title></polyline>\n");
        }
        if (npts == 0) continue;
        double ly = T + 10 + 22 * li++;
        sb_printf(b, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"4\"/>",
                  L + pw + 14, L + pw + 38, ly, ly, color);
        sb_printf(b, "<text x=\"%d\" y=\"%.1f\" font-size=\"14\">", L + pw + 44, ly + 5);
        sb_esc(b, row->method);
        sb_put(b, "</text>\n");
    }
    sb_put(b, "</svg>\n");
}

/* --- page ---------------------------------------------------------------------- */

static void put_pct(sbuf *b, double a) {
    if (a >= 0 && isfinite(a)) sb_printf(b, "%.1f%%", a * 100);
    else sb_put(b, "–");
}

static void table_results(sbuf *b, const levi_report *r) {
    int best = -1;
    for (int i = 0; i < r->n_rows; i++)
        if (r->rows[i].ood_acc >= 0 && (best < 0 || r->rows[i].ood_acc > r->rows[best].ood_acc)) best = i;
    sb_put(b, "<table id=\"results\">\n<thead><tr><th>method</th><th>ID accuracy</th><th>OOD accuracy</th>"
              "<th>OOD − ID</th><th>training time</th><th>samples/s</th></tr></thead>\n<tbody>\n");
    for (int i = 0; i < r->n_rows; i++) {
        const levi_report_row *row = &r->rows[i];
        sb_printf(b, "<tr class=\"row%s\"><td class=\"method\">", i == best ? " best" : "");
        sb_esc(b, row->method);
        sb_put(b, "</td><td>");
        put_pct(b, row->id_acc);
        sb_put(b, "</td><td>");
        put_pct(b, row->ood_acc);
        sb_put(b, "</td><td>");
        if (row->id_acc >= 0 && row->ood_acc >= 0) sb_printf(b, "%+.1f", (row->ood_acc - row->id_acc) * 100);
        else sb_put(b, "–");
        sb_put(b, "</td><td>");
        if (row->train_s >= 0 && isfinite(row->train_s)) sb_printf(b, "%.1f s", row->train_s);
        else sb_put(b, "–");
        sb_put(b, "</td><td>");
        if (row->samples_per_s >= 0 && isfinite(row->samples_per_s)) sb_printf(b, "%.0f", row->samples_per_s);
        else sb_put(b, "–");
        sb_put(b, "</td></tr>\n");
    }
    sb_put(b, "</tbody></table>\n");
    if (best >= 0) {
        sb_put(b, "<p class=\"note\">Highlighted: the best OOD accuracy (");
        sb_esc(b, r->rows[best].method);
        sb_put(b, "). OOD − ID is in percentage points; a smaller drop means the method relies less on the "
                  "shortcut features of the fine-tuning data.</p>\n");
    }
}

static const char *k_style =
    "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;max-width:900px;margin:24px auto;"
    "padding:0 16px;color:#222;line-height:1.45;font-size:16px}\n"
    "h1{font-size:28px;margin-bottom:4px}h2{font-size:21px;margin-top:32px;border-bottom:1px solid #ccc}\n"
    "table{border-collapse:collapse;margin:8px 0}th,td{padding:6px 14px;border-bottom:1px solid #ddd;"
    "text-align:right}th:first-child,td:first-child{text-align:left}\n"
    "tr.best td{font-weight:bold;background:#fff5e6}\n"
    "pre{background:#f5f5f5;padding:10px;overflow-x:auto;font-size:13px;white-space:pre}\n"
    ".meta{color:#555}.note{color:#555;font-size:14px}\n"
    "svg.chart{max-width:100%;height:auto;border:1px solid #eee}\n"
    "figure{margin:8px 0}figure img{max-width:100%;image-rendering:pixelated;border:1px solid #eee}\n";

levi_status levi_report_html(const levi_report *r, char **html) {
    *html = NULL;
    if (!r) return levi_error(LEVI_ERR_INVALID_ARG, "report: no report given");
    if (r->n_rows < 0 || (r->n_rows > 0 && !r->rows))
        return levi_error(LEVI_ERR_INVALID_ARG, "report: %d rows but no row array", r->n_rows);
    for (int i = 0; i < r->n_rows; i++)
        if (!r->rows[i].method || !*r->rows[i].method)
            return levi_error(LEVI_ERR_INVALID_ARG, "report: row %d has no method name", i);
    const char *title = r->title && *r->title ? r->title : "levi-cl report";
    sbuf b = {0};
    sb_put(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
    sb_esc(&b, title);
    sb_printf(&b, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<h1>", k_style);
    sb_esc(&b, title);
    sb_put(&b, "</h1>\n<p class=\"meta\">Device: <b>");
    sb_esc(&b, r->device ? r->device : "unknown");
    sb_put(&b, "</b>");
    if (r->driver && *r->driver) {
        sb_put(&b, " — driver ");
        sb_esc(&b, r->driver);
    }
    if (r->generated && *r->generated) {
        sb_put(&b, "<br>Generated ");
        sb_esc(&b, r->generated);
    }
    sb_put(&b, "</p>\n");
    if (r->intro && *r->intro) {
        sb_put(&b, "<p>");
        sb_esc(&b, r->intro);
        sb_put(&b, "</p>\n");
    }
    sb_put(&b, "<h2>Results</h2>\n");
    table_results(&b, r);
    sb_put(&b, "<h2>ID vs OOD accuracy per method</h2>\n");
    chart_accuracy(&b, r);
    sb_put(&b, "<h2>Training loss</h2>\n");
    chart_loss(&b, r);
    if (r->image_png && r->image_png_len > 0) {
        char *b64 = levi_base64(r->image_png, r->image_png_len);
        if (!b64) b.oom = 1;
        sb_put(&b, "<h2>The benchmark</h2>\n<figure><img alt=\"");
        sb_esc(&b, r->image_caption ? r->image_caption : "picture");
        sb_put(&b, "\" src=\"data:image/png;base64,");
        if (b64) sb_put(&b, b64);
        free(b64);
        sb_put(&b, "\">");
        if (r->image_caption) {
            sb_put(&b, "<figcaption class=\"note\">");
            sb_esc(&b, r->image_caption);
            sb_put(&b, "</figcaption>");
        }
        sb_put(&b, "</figure>\n");
    }
    if (r->n_stages > 0 && r->stages) {
        sb_put(&b, "<h2>Stages</h2>\n<table id=\"stages\"><thead><tr><th>stage</th><th>time</th></tr></thead>"
                   "<tbody>\n");
        for (int i = 0; i < r->n_stages; i++) {
            sb_put(&b, "<tr><td>");
            sb_esc(&b, r->stages[i].name);
            if (r->stages[i].cached) sb_put(&b, "</td><td>cached</td></tr>\n");
            else sb_printf(&b, "</td><td>%.1f s</td></tr>\n", r->stages[i].seconds);
        }
        sb_put(&b, "</tbody></table>\n");
    }
    sb_put(&b, "<h2>Reproduce</h2>\n");
    if (r->setup_commands && *r->setup_commands) {
        sb_put(&b, "<p>Data and backbone:</p>\n<pre>");
        sb_esc(&b, r->setup_commands);
        sb_put(&b, "</pre>\n");
    }
    for (int i = 0; i < r->n_rows; i++) {
        if (!r->rows[i].command) continue;
        sb_put(&b, "<p>Row <b>");
        sb_esc(&b, r->rows[i].method);
        sb_put(&b, "</b>:</p>\n<pre class=\"cmd\">");
        sb_esc(&b, r->rows[i].command);
        sb_put(&b, "</pre>\n");
    }
    sb_put(&b, "</body>\n</html>\n");
    if (b.oom) {
        free(b.s);
        return levi_error(LEVI_ERR_HOST_MEMORY, "report: out of host memory building the HTML");
    }
    *html = b.s;
    return LEVI_OK;
}

levi_status levi_report_write(const char *path, const levi_report *r) {
    char *html;
    LEVI_TRY(levi_report_html(r, &html));
    levi_status st = levi_write_file_atomic(path, html, strlen(html));
    free(html);
    return st;
}
