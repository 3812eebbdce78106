/* Running levi-cl commands in-process from tests. */
#ifndef LEVI_CLITEST_H
#define LEVI_CLITEST_H

#include "../src/cli/cli.h"

/* Call a command with a NULL-terminated argument list (argv[0] first);
 * its stdout goes to out_path when that is non-NULL. Returns its exit code. */
int test_run_cmd(cli_command_fn fn, const char *out_path, ...);

#endif
