/* The machinery of `levi-cl demo`: cache keys, per-stage completion markers,
 * locks, running another command in-process with its output sent to a log
 * file, and a progress line (stage k/n, elapsed, ETA) while it runs. */
#ifndef LEVI_CLI_DEMO_STAGE_H
#define LEVI_CLI_DEMO_STAGE_H

#include <cjson/cJSON.h>

#include "cli.h"

/* A 16-hex-digit key of a formatted description of a stage's parameters. */
void demo_key(char out[17], const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The stage's completion marker `path` (JSON) when it exists, parses and its
 * "key" equals `key`; else NULL. The caller deletes the object. */
cJSON *demo_marker_read(const char *path, const char *key);

/* Write the marker atomically; `obj` gets "key" set to `key`. */
levi_status demo_marker_write(const char *path, const char *key, cJSON *obj);

/* What a finished stage left in `dir` (files, bytes and, with `hash`, a hash
 * of every file's name and contents), recorded in its marker under
 * "contents" by demo_contents_add; demo_contents_ok recomputes it, so a
 * truncated, deleted or replaced file behind an intact marker is found and
 * the stage rebuilt. Without `hash` only names and sizes count (the 80,000
 * PNGs of the benchmark are not read back). */
levi_status demo_contents_add(cJSON *marker, const char *dir, int hash);
int demo_contents_ok(const cJSON *marker, const char *dir, int hash);

/* An exclusive lock on `path` (created), so that two demos sharing a cache
 * folder never build the same entry at once. Returns the fd (or -1: no lock,
 * which is not fatal) and waits while another process holds it. */
int demo_lock(const char *path);
void demo_unlock(int fd);

/* Ctrl-C prints where to pick up (on the terminal, also while a command's
 * output goes to its log) and then ends the process as SIGINT does; every
 * stage's output is atomic, so nothing half-written stays behind. A command
 * that handles SIGINT itself (the trainer) replaces this while it runs. */
void demo_sigint_install(void);
void demo_sigint_restore(void);

/* Progress of the whole run: stage estimates (seconds) calibrate the ETA. */
#define DEMO_MAX_STAGES 1024
typedef struct demo_progress {
    int n_stages;
    double est[DEMO_MAX_STAGES];    /* estimated seconds per stage (0 when skipped) */
    double actual[DEMO_MAX_STAGES]; /* measured seconds of finished stages (-1 pending) */
    int tty;             /* stderr is a terminal: one rewritten line */
    int err_fd;          /* where progress goes (the real stderr while output is redirected) */
    double t_start;      /* monotonic time the run began */
    int announced;       /* 1 + the stage whose first progress line was printed */
    double stage_t0;     /* when that stage began */
} demo_progress;

void demo_progress_init(demo_progress *p, int n_stages);

/* Seconds left after stage k (0-based) has run for `elapsed`, from the
 * estimates scaled by how fast the finished stages went. */
double demo_eta(const demo_progress *p, int k, double elapsed);

/* "1:05" / "12:30" / "1:02:03". */
void demo_fmt_time(char *out, size_t len, double s);

/* Run the command `argv[0]` from the command table in this process, with its
 * stdout written to `stdout_path` (NULL: to `log_path`) and its stderr to
 * `log_path`, while a progress line for stage k shows `label`, the elapsed
 * time, the last step and loss of `metrics_path` (may be NULL) and the ETA.
 * Returns the command's exit code (127 when the command is not built in). */
int demo_run(demo_progress *p, int k, const char *label, const char *log_path, const char *stdout_path,
             const char *metrics_path, int argc, char **argv, const cli_env *env);

/* Print the last `lines` lines of a log file to stderr, indented. */
void demo_print_tail(const char *path, int lines);

/* `s` quoted for a POSIX shell when it needs quoting, into out. */
void demo_shell_quote(char *out, size_t len, const char *s);

#endif
