/* train --resume: the checkpoint must come from this very run (same
 * options), and the run continues as if it had never stopped. */
#ifndef LEVI_CLI_TRAIN_RESUME_H
#define LEVI_CLI_TRAIN_RESUME_H

#include "cli.h"

/* The options that decide a run's result, as (option, value) pairs: "--lr",
 * "0.001", ... Values are compared as strings, so callers format numbers
 * the same way every time (train_opt_* below). */
typedef struct train_run_opts {
    int n;
    const char *name[40];
    char value[40][512];
} train_run_opts;

void train_opt_str(train_run_opts *o, const char *name, const char *value); /* NULL: not given */
void train_opt_long(train_run_opts *o, const char *name, long value);
void train_opt_double(train_run_opts *o, const char *name, double value);
/* A folder or file option: compared by its real path when it resolves. */
void train_opt_path(train_run_opts *o, const char *name, const char *path);

/* JSON object of the options (malloc'ed), stored in every checkpoint under
 * __metadata__ "run". */
char *train_run_json(const train_run_opts *o);

/* Check the checkpoint `ckpt` against this run before any work: its
 * "train_state" epoch must be in 1..epochs (an absurd or foreign value is an
 * error naming it), and every option recorded in its "run" must equal this
 * run's (an error names the option and both values). A checkpoint from an
 * earlier levi-cl without "run" is accepted with a warning. *epoch receives
 * the finished epochs, *steps the AdamW steps. */
levi_status train_resume_check(const char *ckpt, const train_run_opts *o, int epochs, int *epoch, long *steps);

/* Make the metrics log read as one run: drop what the interrupted run wrote
 * after the end of epoch `epoch` (the checkpoint's), which the resumed run
 * writes again. The log is rewritten atomically; a missing log is fine. */
levi_status train_log_rewind(const char *log, int epoch);

#endif
