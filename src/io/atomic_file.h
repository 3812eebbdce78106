/* Internal: write a file atomically in pieces. The data goes to a temporary
 * file in the same folder ("<path>.tmp.<pid>.<n>", created exclusively); commit
 * fsyncs it, renames it onto the path and fsyncs the folder so the rename
 * itself survives a crash; abort (or any failed step) removes the temporary
 * file, so the path always holds either the old file or the complete new one. */
#ifndef LEVI_IO_ATOMIC_FILE_H
#define LEVI_IO_ATOMIC_FILE_H

#include <stddef.h>

#include "levi/status.h"

typedef struct levi_atomic_file {
    int fd;
    char *path;
    char *tmp;
} levi_atomic_file;

levi_status levi_atomic_open(levi_atomic_file *f, const char *path);
/* On failure the temporary file is already removed (f is closed). */
levi_status levi_atomic_write(levi_atomic_file *f, const void *data, size_t len);
levi_status levi_atomic_commit(levi_atomic_file *f);
void levi_atomic_abort(levi_atomic_file *f);

#endif
