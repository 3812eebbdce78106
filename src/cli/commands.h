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
    {"demo", cmd_demo, "the whole LEVI comparison on fashion-shift, with an HTML report"},
    {NULL, NULL, NULL},
};

#endif
