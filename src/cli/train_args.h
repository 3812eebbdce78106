/* levi-cl train's options: the command line read into train_args, the model
 * configuration they ask for, and the options that decide a run's result
 * (for --resume). */
#ifndef LEVI_CLI_TRAIN_ARGS_H
#define LEVI_CLI_TRAIN_ARGS_H

#include "cli.h"
#include "levi/levi_model.h"
#include "train_resume.h"

typedef struct train_args {
    const char *method, *backbone, *data, *out, *val, *log, *resume, *ckpt;
    const char *task, *taps, *fusion, *adapter, *cache, *cnn, *schedule, *devices, *backbone_device, *augment;
    const char *tokenizer, *text_column, *label_column;
    int skip_bad;
    long workers, warmup, epochs, batch, seed, task_hidden, adapter_hidden, lora_rank, limit, image_size, channels, log_every;
    long seq_len, ngram_buckets, ngram_embed;
    double lr, wd, lambda, distill, clip;
    int argc; /* the command line, for the ranks' configuration check */
    char **argv;
} train_args;

/* Read the command line (argv[0] is the command) with the defaults of
 * `levi-cl train --help`; an unknown option, a value out of range or a
 * missing --method/--data/--out is an error naming it. argv is kept. */
levi_status train_parse_args(int argc, char **argv, train_args *a);

/* The model configuration the options ask for (method, task model, fusion,
 * adapters, taps); an option that does not apply to the method is an error. */
levi_status train_build_config(const train_args *a, levi_model_config *c);

/* The options that decide the result, recorded in every checkpoint and
 * compared on --resume (train_resume.c). */
void train_run_opts_of(const train_args *a, train_run_opts *o);

#endif
