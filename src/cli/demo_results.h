/* Reading what the train and eval commands wrote: the JSON-lines metrics of
 * `levi-cl train --log` and the output of `levi-cl eval --json`. Tolerant of
 * extra fields and of a few layouts, so that the demo survives small format
 * changes; a missing value is reported as negative, never as a crash. */
#ifndef LEVI_CLI_DEMO_RESULTS_H
#define LEVI_CLI_DEMO_RESULTS_H

#include <cjson/cJSON.h>

#include <stdio.h>

#include "levi/report.h"
#include "levi/runtime.h"

#define DEMO_CURVE_MAX 200

typedef struct demo_metrics {
    int n;                         /* curve points */
    double x[DEMO_CURVE_MAX];      /* step */
    double loss[DEMO_CURVE_MAX];   /* training loss (averaged over the steps a point stands for) */
    double samples_per_s;          /* last epoch line (else last step line); -1 unknown */
    double elapsed;                /* last line's elapsed seconds; -1 unknown */
    double final_acc;              /* last epoch's training accuracy; -1 unknown */
} demo_metrics;

/* Parse a metrics file. Lines that do not parse are skipped (a run that was
 * interrupted may end in half a line). */
levi_status demo_metrics_read(const char *path, demo_metrics *m);

/* Cut a metrics file after its last epoch line (before resuming a training
 * run from its per-epoch checkpoint) and return that line's "elapsed" (0 if
 * none). Best effort: a failure leaves the file as it was. */
double demo_metrics_truncate(const char *path);

/* ID and OOD accuracy (fractions) from eval's JSON output: the data set
 * whose name or path contains `id_name` / `ood_name`, else the first and
 * second data set in order. Accuracies given in percent are converted. */
levi_status demo_eval_read(const char *path, const char *id_name, const char *ood_name, double *id_acc,
                           double *ood_acc);

/* One method's row of the demo. */
typedef struct demo_result {
    const char *method;
    const char *command; /* the commands that reproduce it */
    double id_acc, ood_acc, train_s, sps; /* negative: unknown */
    demo_metrics metrics;
} demo_result;

/* Everything the table, results.json and report.html show. */
typedef struct demo_summary {
    const char *size;
    unsigned long long seed;
    const levi_device_info *dev;
    const char *out;           /* output folder */
    const char *data, *backbone, *sheet; /* sheet NULL: no picture */
    int text;                            /* the text demo (text-shift, a BERT backbone) */
    const char *setup_cmds;
    double total_s;
    const levi_report_stage *stages;
    int n_stages;
    const demo_result *r;
    int n;
} demo_summary;

/* The table: method, ID acc, OOD acc, train time, samples/s. */
void demo_print_table(FILE *f, const demo_summary *s);

/* out/results.json and out/report.html, each written atomically. */
levi_status demo_write_results(const demo_summary *s);

#endif
