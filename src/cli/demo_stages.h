/* The stages of `levi-cl demo` (see cmd_demo.c): generate fashion-shift,
 * pretrain the backbone, train + evaluate one method. Each returns the exit
 * code (0 done or cached) and prints its own failure with the log's tail. */
#ifndef LEVI_CLI_DEMO_STAGES_H
#define LEVI_CLI_DEMO_STAGES_H

#include "demo_results.h"
#include "demo_stage.h"

typedef struct demo_size {
    const char *name;
    int data_limit;         /* fashion-shift --limit: images per split (0: the full benchmark) */
    int pretrain_limit;     /* pretrain --limit: images per class */
    int pretrain_epochs;
    int pretrain_batch;
    int train_limit;        /* train --limit: images per class */
    int train_epochs;       /* 0: each method's own (demo_method.epochs) */
    int train_batch;
    int eval_limit;         /* eval --limit: images per class of test-id and of test-ood (0: all) */
    double est_data_s;      /* stage times (seconds) for the ETA */
    double est_pretrain_s;
    double est_train_s;     /* train + eval of a method of relative cost 1 */
} demo_size;

typedef struct demo_method {
    const char *name;
    const char *lr, *wd;
    int epochs;  /* when the size does not fix them */
    double cost; /* relative training + evaluation cost, for the ETA */
} demo_method;

/* The demo's sizes by name (full, quick, tiny), NULL for another name. */
const demo_size *demo_size_named(const char *name);

#define DEMO_MAX_METHODS 8

typedef struct demo_run_state {
    const demo_size *size;
    const char *out;
    char cache[1024];
    char data_dir[1200];   /* .../fashion-shift-KEY */
    char data[1300];       /* .../fashion-shift-KEY/data */
    char sheet[1300];
    char backbone_dir[1200];
    char backbone[1300];
    char data_key[17], backbone_key[17];
    unsigned long long seed;          /* training seed of the methods */
    unsigned long long data_seed, pretrain_seed;
    const char *source; /* Fashion-MNIST folder, NULL: the data command's default */
    const char *subdomain; /* fashion-shift --subdomain, NULL: the default (invert) */
    const char *arch;      /* pretrain --arch, NULL: vit-tiny */
    int text;              /* demo --text: text-shift with a BERT backbone (demo_text.c) */
    const demo_method *methods[DEMO_MAX_METHODS];
    int n_methods;
    demo_progress prog;
    levi_report_stage stages[16];
    char stage_names[16][96];
    char setup_cmds[8192];
    char row_cmds[DEMO_MAX_METHODS][4096];
} demo_run_state;

/* The cache folder (s->cache, DIR/cache when the cache is off) and the keys
 * and folders of the benchmark and the backbone, from s->size, s->source,
 * s->subdomain and the seeds. The backbone's key leaves out the subdomain:
 * the pretrain split is the same in every subdomain, so one backbone serves
 * them all. */
levi_status demo_set_paths(demo_run_state *s);

/* demo --text (demo_text.c): its sizes by name (full, quick, tiny) and
 * methods; the BERT backbone from --backbone DIR (NULL: none), else
 * $LEVI_MINILM, else <cache>/models/all-MiniLM-L6-v2 (an error naming where
 * it looked and how to install it); folders and keys (after s->cache is
 * set); the rows per class of train and of each test split, and tokens per
 * text, of s->size. */
const demo_size *demo_text_size(const char *name);
const demo_method *demo_text_methods(int *n);
levi_status demo_text_find_backbone(demo_run_state *s, const char *given);
void demo_text_set_paths(demo_run_state *s);
void demo_text_data_size(const demo_run_state *s, int *train, int *test, int *seq_len);

int demo_stage_data(demo_run_state *s, const cli_env *env, int k);
int demo_stage_pretrain(demo_run_state *s, const cli_env *env, int k);
int demo_stage_method(demo_run_state *s, const cli_env *env, int k, int mi, demo_result *res);

#endif
