/* levi/files.h — inputs and outputs that survive kills, full disks, races
 * and hostile paths.
 *
 * Inputs: only regular files are opened (a FIFO or device never blocks a
 * reader). Outputs: checked before any work, written under an advisory lock
 * ("<out>.lock", holding the writer's PID), built as temporaries named after
 * the writing process ("<out>.tmp.<pid>[.<n>]"), and put in place by one
 * rename; temporaries of processes that died are removed by the next writer
 * of the same output. See the README section "Interrupted and concurrent
 * runs" for the guarantees. */
#ifndef LEVI_FILES_H
#define LEVI_FILES_H

#include <stddef.h>

#include "levi/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- inputs ------------------------------------------------------------------ */

/* LEVI_OK when `path` is a regular file (symlinks followed); else an error
 * naming it: missing, a folder, a FIFO, a device, ... Nothing is opened. */
levi_status levi_check_regular(const char *path);

/* Open a regular file for reading without blocking on a FIFO or device: the
 * type is checked before the open and again on the open descriptor. *fd is
 * a blocking, close-on-exec descriptor; the caller closes it. *size (unless
 * NULL): the file's size in bytes, from that same check. */
levi_status levi_open_regular(const char *path, int *fd, size_t *size);

/* Read exactly n bytes of fd into a new NUL-terminated buffer (the caller
 * frees it) and close fd, on success and on error; errors name `path`. */
levi_status levi_read_fd(int fd, const char *path, size_t n, char **data);

/* --- output checks (before any work) ---------------------------------------- */

/* `path` can become an output file: not empty, no trailing '/', not an
 * existing folder, FIFO or device, and its folder exists and accepts a new
 * file (probed by creating and removing a temporary file there). `opt`
 * names the option in errors ("--out"). */
levi_status levi_output_check_file(const char *opt, const char *path);

/* `path` can become an output folder: not an existing non-folder, and the
 * nearest existing folder on its way accepts new entries. */
levi_status levi_output_check_dir(const char *opt, const char *path);

/* --- locks --------------------------------------------------------------------- */

/* An exclusive advisory lock (flock) for writing `out`, a file or folder:
 * "<out>.lock" next to it (its folder is created if needed) holds the PID of
 * the holder. When another process holds it: LEVI_ERR_BUSY, "... is being
 * written by PID N". The kernel releases the lock when the holder dies,
 * even by kill -9; unlock removes the lock file. */
typedef struct levi_output_lock {
    int fd;
    char *path; /* the lock file */
} levi_output_lock;
levi_status levi_output_lock_take(levi_output_lock *lk, const char *out);
void levi_output_lock_release(levi_output_lock *lk);

/* --- temporaries and recovery -------------------------------------------------- */

/* Repair what interrupted writers of `out` left next to it; call it while
 * holding the lock of `out`, before writing. When `out` is missing but a
 * dead process's "<out>.old.<pid>" exists (a kill between the two renames
 * of a replacement), that previous output is renamed back. Then every
 * "<out>.tmp.<pid>", "<out>.tmp.<pid>.<n>", "<out>.old.<pid>" and
 * "<out>.old-<pid>" whose process is gone, and every "<out>.tmp-XXXXXX"
 * (earlier versions' mkdtemp folders), is removed. *removed (may be NULL)
 * counts what was removed or restored. Failures to remove are warnings. */
levi_status levi_output_recover(const char *out, int *removed);

/* The temporaries of `path` left by dead processes' atomic writes
 * ("<path>.tmp.<pid>.<n>") only; levi_atomic_open calls this. */
void levi_output_clean_atomic(const char *path);

/* Create the temporary folder "<out>.tmp.<pid>" (mode 0755, trailing '/'
 * of out ignored) into buf; a leftover of the same name is removed first. */
levi_status levi_output_tmpdir(const char *out, char *buf, size_t len);

/* Put the complete folder `tmp` in place of `out` (absent, an empty folder,
 * or a folder to replace) so that `out` is never missing: one
 * renameat2(RENAME_EXCHANGE) where the file system supports it, then the
 * old tree (now at tmp) is removed. Elsewhere `out` moves to
 * "<out>.old.<pid>", tmp takes its place and the old tree is removed; a
 * kill between those two renames is repaired by levi_output_recover. */
levi_status levi_dir_publish(const char *tmp, const char *out);

/* rm -rf (symlinks are removed, never followed); a missing path is fine. */
levi_status levi_rmtree(const char *path);

#ifdef __cplusplus
}
#endif
#endif
