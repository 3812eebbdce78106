/* levi/report.h — a self-contained HTML report of a comparison of methods:
 * the results table, an inline-SVG chart of ID vs OOD accuracy per method,
 * inline-SVG training-loss curves, an embedded PNG (base64 data URI), the
 * device and driver, and the exact commands that reproduce every row.
 *
 * The report needs nothing beside the one .html file: no scripts, no fonts,
 * no external pictures. All text that comes from the caller is HTML-escaped. */
#ifndef LEVI_REPORT_H
#define LEVI_REPORT_H

#include <stddef.h>

#include "levi/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One method's result. Accuracies are fractions in [0, 1]; a negative value
 * means "not measured" and is shown as "–". */
typedef struct levi_report_row {
    const char *method;     /* "scratch", "lp", "ft", "levi", ... */
    double id_acc;          /* accuracy on the in-distribution test split */
    double ood_acc;         /* accuracy on the out-of-distribution test split */
    double train_s;         /* wall-clock training time in seconds (< 0: unknown) */
    double samples_per_s;   /* training throughput (< 0: unknown) */
    const double *curve_x;  /* training-loss curve: x (step), curve_n points; may be NULL */
    const double *curve_loss;
    int curve_n;
    const char *command;    /* the exact command(s) that reproduce this row; may be NULL */
} levi_report_row;

/* One stage of the run that produced the report (for the timing table). */
typedef struct levi_report_stage {
    const char *name;   /* "generate fashion-shift" */
    double seconds;     /* wall-clock time of this run (0 when taken from the cache) */
    int cached;         /* 1 when the stage was skipped because a cached result existed */
} levi_report_stage;

typedef struct levi_report {
    const char *title;        /* page title and heading */
    const char *intro;        /* a paragraph under the heading; may be NULL */
    const char *device;       /* device name */
    const char *driver;       /* driver and platform version text; may be NULL */
    const char *generated;    /* time stamp text; may be NULL */
    const levi_report_row *rows;
    int n_rows;
    const levi_report_stage *stages; /* may be NULL */
    int n_stages;
    const unsigned char *image_png;  /* a PNG shown as a figure (the contact sheet); may be NULL */
    size_t image_png_len;
    const char *image_caption;       /* may be NULL */
    const char *setup_commands;      /* commands that prepare data and backbone; may be NULL */
} levi_report;

/* The report as one malloc'ed, NUL-terminated HTML string (caller frees). */
levi_status levi_report_html(const levi_report *r, char **html);

/* Write the report to `path` atomically (temp file + rename): a failure or an
 * interruption never leaves a half-written report behind. */
levi_status levi_report_write(const char *path, const levi_report *r);

/* Standard base64 (RFC 4648, with padding) of `len` bytes; malloc'ed, NUL-terminated. */
char *levi_base64(const unsigned char *data, size_t len);

/* `s` with & < > " ' replaced by entities; malloc'ed. NULL gives "". */
char *levi_html_escape(const char *s);

#ifdef __cplusplus
}
#endif
#endif
