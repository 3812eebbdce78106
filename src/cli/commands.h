/* The command table: one line per command, in the order --help lists them. */
#ifndef LEVI_CLI_COMMANDS_H
#define LEVI_CLI_COMMANDS_H

#include "cli.h"

typedef struct cli_command {
    const char *name;
    cli_command_fn fn;
    const char *summary;
} cli_command;

static const cli_command k_commands[] = {
    {"info", cmd_info, "print the selected device and run a self-check"},
    {"data", cmd_data, "fashion-shift and text-shift benchmark generators, contact sheets, dataset counts"},
    {"pretrain", cmd_pretrain, "train a ViT backbone on an ImageFolder (Hugging Face folder out)"},
    {"train", cmd_train, "fine-tune with scratch, lp, ft, lora, levi or levi+lora"},
    {"eval", cmd_eval, "accuracy, per-class accuracy and confusion matrix of a model"},
    {"predict", cmd_predict, "class and probability of PNG images under a model"},
    {"bench", cmd_bench, "GEMM, bandwidth, op, training and start-up throughput; --compare result files"},
    {"tune", cmd_tune, "search and store CLBlast GEMM parameters for the device (--reset removes them)"},
    {"demo", cmd_demo, "the whole LEVI comparison on fashion-shift, with an HTML report"},
    {"study", cmd_study, "a fair comparison on fashion-shift: settings chosen on a validation split, seeds"},
    {NULL, NULL, NULL},
};

#endif
