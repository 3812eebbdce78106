/* levi-cl data text-shift (kept apart from cmd_data.c's image subcommands). */
#ifndef LEVI_CLI_DATA_TEXT_H
#define LEVI_CLI_DATA_TEXT_H

extern const char data_text_usage[];
/* argv[0] is "text-shift"; returns the exit code. */
int data_text_shift(int argc, char **argv);

#endif
