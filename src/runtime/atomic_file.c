/* Atomic file writes: temp file, fsync, rename, fsync of the folder. */
#include "levi/files.h"
#include "levi/runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void atomic_release(levi_atomic_file *f) {
    if (f->fd >= 0) close(f->fd);
    if (f->tmp) unlink(f->tmp);
    free(f->tmp);
    free(f->path);
    f->fd = -1;
    f->tmp = NULL;
    f->path = NULL;
}

levi_status levi_atomic_open(levi_atomic_file *f, const char *path) {
    f->fd = -1;
    f->tmp = NULL;
    f->path = NULL;
    if (!path || !*path) return levi_error(LEVI_ERR_INVALID_ARG, "empty output path");
    size_t n = strlen(path);
    f->path = malloc(n + 1);
    f->tmp = malloc(n + 48);
    if (!f->path || !f->tmp) {
        free(f->path);
        free(f->tmp);
        f->path = f->tmp = NULL;
        return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    }
    memcpy(f->path, path, n + 1);
    /* temporaries of this path whose writers died (kill -9, power loss) */
    levi_output_clean_atomic(path);
    /* A counter makes names unique between threads of one process; O_EXCL
     * makes sure we never write through someone else's file or a symlink. */
    static _Atomic unsigned counter;
    for (int attempt = 0; attempt < 100; attempt++) {
        snprintf(f->tmp, n + 48, "%s.tmp.%ld.%u", path, (long)getpid(), counter++);
        f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (f->fd >= 0) return LEVI_OK;
        if (errno != EEXIST) break;
    }
    levi_status st = levi_error(LEVI_ERR_IO, "cannot create '%s': %s", f->tmp, strerror(errno));
    free(f->tmp);
    f->tmp = NULL; /* nothing was created */
    atomic_release(f);
    return st;
}

levi_status levi_atomic_write(levi_atomic_file *f, const void *data, size_t len) {
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(f->fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            levi_status st = levi_error(LEVI_ERR_IO, "writing '%s' failed: %s", f->path,
                                        w < 0 ? strerror(errno) : "no progress");
            atomic_release(f);
            return st;
        }
        p += w;
        len -= (size_t)w;
    }
    return LEVI_OK;
}

/* Make the rename durable: fsync the folder that holds the path. Some file
 * systems refuse fsync on a folder (EINVAL); that is not an error. */
static levi_status fsync_parent(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir;
    if (!slash) dir = strdup(".");
    else if (slash == path) dir = strdup("/");
    else dir = strndup(path, (size_t)(slash - path));
    if (!dir) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    levi_status st = LEVI_OK;
    if (fd < 0) st = levi_error(LEVI_ERR_IO, "cannot open folder '%s' to sync it: %s", dir, strerror(errno));
    else if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS)
        st = levi_error(LEVI_ERR_IO, "syncing folder '%s' failed: %s", dir, strerror(errno));
    if (fd >= 0) close(fd);
    free(dir);
    return st;
}

levi_status levi_atomic_commit(levi_atomic_file *f) {
    if (fsync(f->fd) != 0) {
        levi_status st = levi_error(LEVI_ERR_IO, "flushing '%s' failed: %s", f->path, strerror(errno));
        atomic_release(f);
        return st;
    }
    int rc = close(f->fd);
    f->fd = -1;
    if (rc != 0) {
        levi_status st = levi_error(LEVI_ERR_IO, "closing '%s' failed: %s", f->path, strerror(errno));
        atomic_release(f);
        return st;
    }
    if (rename(f->tmp, f->path) != 0) {
        levi_status st = levi_error(LEVI_ERR_IO, "cannot rename '%s' onto '%s': %s", f->tmp, f->path,
                                    strerror(errno));
        atomic_release(f);
        return st;
    }
    free(f->tmp);
    f->tmp = NULL; /* renamed: nothing to remove */
    levi_status st = fsync_parent(f->path);
    atomic_release(f);
    return st;
}

void levi_atomic_abort(levi_atomic_file *f) { atomic_release(f); }
