/* `levi-cl study`: a fair comparison of methods on one fashion-shift
 * subdomain or on text-shift (see cmd_study.c). Shared by cmd_study.c
 * (options, the plan), study_bench.c (what differs between the benchmarks),
 * study_runs.c (the splits and every training run) and study_report.c
 * (selection, statistics, JSON and Markdown). */
#ifndef LEVI_CLI_STUDY_H
#define LEVI_CLI_STUDY_H

#include "demo_stages.h"

#define STUDY_MAX_VARIANTS 16
#define STUDY_MAX_GRID 8    /* values per grid axis (lr, wd) */
#define STUDY_MAX_SEEDS 16
#define STUDY_MAX_EPOCHS 50
#define STUDY_MAX_ARGS 24   /* extra train options of a variant */
#define STUDY_MAX_TESTS 3   /* held-out test splits of a benchmark */

struct study;

/* Study sizes on top of the demo's: rows (images, texts) per class to fit and
 * to validate on, test rows per class (0: all), the most epochs, the grid and
 * the batch. */
typedef struct study_size {
    const char *name;
    int fit, val, eval, epochs;
    const char *lrs, *wds;
    int batch;
} study_size;

/* What differs between the benchmarks a study runs on. */
typedef struct study_bench {
    const char *name;                      /* "fashion-shift", "text-shift" */
    const char *ext;                       /* of a split: "" (ImageFolders) or ".jsonl" */
    const char *rows;                      /* "images", "texts" */
    int ntests;
    const char *tests[STUDY_MAX_TESTS];    /* held-out splits: [0] in-distribution, [1] the shift */
    const char *labels[STUDY_MAX_TESTS];   /* their column headings */
    const char *keys[STUDY_MAX_TESTS];     /* their JSON keys: KEY_acc, KEY_diff */
    const study_size *sizes;
    int nsizes;
    /* Write the fit and val splits (fit_per_class then val_per_class rows of
     * every class of `train`, in order) as fit+ext and val+ext. */
    levi_status (*carve)(const char *train, const char *fit, const char *val, int fit_per_class,
                         int val_per_class);
} study_bench;

extern const study_bench study_fashion_shift, study_text_shift;

/* One row of the study: a method with its own train options. */
typedef struct study_variant {
    char name[32];
    char method[16];
    char args[512];                /* extra `levi-cl train` options as given */
    char argbuf[512];              /* args split in place */
    char *argv[STUDY_MAX_ARGS];
    int argc;
    double cost;                   /* relative cost per epoch, for the ETA */
    /* search: validation accuracy after every epoch per search seed (-1 missing), and its mean */
    double val_s[STUDY_MAX_SEEDS][STUDY_MAX_GRID][STUDY_MAX_GRID][STUDY_MAX_EPOCHS];
    double val[STUDY_MAX_GRID][STUDY_MAX_GRID][STUDY_MAX_EPOCHS];
    double search_s[STUDY_MAX_SEEDS][STUDY_MAX_GRID][STUDY_MAX_GRID];
    int sel_lr, sel_wd, sel_epochs; /* the chosen grid point (indices) and epochs */
    double sel_val;
    /* final runs, one per seed: accuracy on every test split (fractions), -1 missing */
    double acc[STUDY_MAX_TESTS][STUDY_MAX_SEEDS], train_s[STUDY_MAX_SEEDS];
    char cmd[STUDY_MAX_SEEDS][3300];
} study_variant;

typedef struct study {
    demo_run_state ds;             /* benchmark, backbone, progress (shared with the demo) */
    const study_bench *bench;
    const char *out;
    char subdomain[16];
    long seeds[STUDY_MAX_SEEDS];
    int nseeds;
    int nsearch;                   /* the first nsearch seeds run the search */
    char lr_s[STUDY_MAX_GRID][24], wd_s[STUDY_MAX_GRID][24];
    int nlr, nwd;
    int max_epochs, fit, val, eval_limit, batch;
    int seq_len;                   /* text-shift: tokens per text */
    const char *task_model;        /* --task-model for scratch and every levi variant, NULL: default */
    long task_hidden;              /* 0: default */
    study_variant v[STUDY_MAX_VARIANTS];
    int nv;
    int ref;                       /* the variant compared with every other one */
    char fit_dir[1300], val_dir[1300];
    char splits_key[17];
    char command[2048];            /* this study's own command line */
    double total_s;
} study;

/* splits: DIR/splits/{fit,val}/<class>/ of links to `train`'s images, or
 * DIR/splits/{fit,val}.jsonl of `train.jsonl`'s lines. */
int study_make_splits(study *s, int k);
/* One search run of variant vi at grid point (li, wi) with seed si. */
int study_search_run(study *s, const cli_env *env, int k, int vi, int li, int wi, int si);
/* One final run of variant vi at its selected setting with seed si. */
int study_final_run(study *s, const cli_env *env, int k, int vi, int si);

/* Pick (lr, wd, epochs) of variant vi by validation accuracy (the mean over
 * the search seeds); -1 when no search result exists. Ties go to fewer
 * epochs, then the earlier lr and wd. */
int study_select(study *s, int vi);
/* Print the tables and write DIR/study.json and DIR/study.md atomically. */
levi_status study_write(const study *s);

/* The image carve: fit/<class>/ and val/<class>/ of links (study_runs.c). */
levi_status study_carve_images(const char *train, const char *fit, const char *val, int fit_per_class,
                               int val_per_class);

/* Relative training cost of a method per epoch (for the ETA). */
double study_method_cost(const char *method);

#endif
