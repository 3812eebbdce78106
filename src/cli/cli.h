/* Shared pieces of the levi-cl commands. */
#ifndef LEVI_CLI_H
#define LEVI_CLI_H

#include "levi/levi.h"

/* What main() parsed before the command: the device selector (from
 * --device anywhere on the line, else NULL → LEVI_DEVICE, else default). */
typedef struct cli_env {
    const char *device;
} cli_env;

/* Every command: argv[0] is the command name; returns the process exit code. */
typedef int (*cli_command_fn)(int argc, char **argv, const cli_env *env);

int cmd_info(int argc, char **argv, const cli_env *env);
int cmd_data(int argc, char **argv, const cli_env *env);
int cmd_bench(int argc, char **argv, const cli_env *env);
int cmd_tune(int argc, char **argv, const cli_env *env);
int cmd_pretrain(int argc, char **argv, const cli_env *env);
int cmd_train(int argc, char **argv, const cli_env *env);
int cmd_eval(int argc, char **argv, const cli_env *env);
int cmd_predict(int argc, char **argv, const cli_env *env);
int cmd_demo(int argc, char **argv, const cli_env *env);
int cmd_study(int argc, char **argv, const cli_env *env);

/* Whether tuned GEMM parameters are stored for this device (levi-cl tune). */
int cli_device_tuned(const levi_device_info *d);

/* Print "levi-cl: error: <message>" for a failed status and return the exit
 * code: 2 for usage and device-selection errors, 1 otherwise. */
int cli_fail(levi_status st);

/* Open the context for a computing command (logs the chosen device). */
levi_status cli_open(const cli_env *env, levi_ctx **ctx);

/* True when argv holds -h or --help. */
int cli_wants_help(int argc, char **argv);

/* Parse a whole decimal integer / float option value or fail with a message
 * naming the option. */
levi_status cli_parse_int(const char *opt, const char *val, long min, long max, long *out);
levi_status cli_parse_float(const char *opt, const char *val, double min, double max, double *out);

#endif
