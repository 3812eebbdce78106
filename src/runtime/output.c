/* Outputs that survive kills and concurrent runs: advisory locks, stale
 * temporaries of dead processes, folder publication that never leaves the
 * output missing, and output-path checks before any work. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "levi/files.h"
#include "levi/log.h"
#include "levi/runtime.h"

/* `path` without trailing slashes ("/" stays "/"), malloc'ed. */
static char *strip_slashes(const char *path) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    return strndup(path, n);
}

/* Split a slash-free-at-the-end path into its folder ("." when none) and name. */
static levi_status split_path(const char *path, char **dir, char **base) {
    *dir = *base = NULL;
    char *p = strip_slashes(path);
    if (!p) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    char *slash = strrchr(p, '/');
    if (!slash) *dir = strdup("."), *base = strdup(p);
    else if (slash == p) *dir = strdup("/"), *base = strdup(p + 1);
    else *dir = strndup(p, (size_t)(slash - p)), *base = strdup(slash + 1);
    free(p);
    if (!*dir || !*base) {
        free(*dir), free(*base);
        *dir = *base = NULL;
        return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    }
    return LEVI_OK;
}

/* A process that no longer exists. EPERM means it exists (another user);
 * a recycled PID keeps the leftover until that process is gone too. */
static int pid_dead(long pid) { return pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH; }

/* --- rm -rf ----------------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    if (remove(path) != 0 && errno != ENOENT) return -1;
    return 0;
}

levi_status levi_rmtree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return LEVI_OK;
    if (!S_ISDIR(st.st_mode)) {
        if (unlink(path) != 0 && errno != ENOENT)
            return levi_error(LEVI_ERR_IO, "cannot remove '%s': %s", path, strerror(errno));
        return LEVI_OK;
    }
    if (nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return levi_error(LEVI_ERR_IO, "cannot remove '%s': %s", path, strerror(errno));
    return LEVI_OK;
}

/* --- inputs ------------------------------------------------------------------------ */

static const char *kind_of(mode_t m) {
    return S_ISDIR(m) ? "a folder" : S_ISFIFO(m) ? "a FIFO" : S_ISCHR(m) ? "a character device"
         : S_ISBLK(m) ? "a block device" : S_ISSOCK(m) ? "a socket" : "not a regular file";
}

levi_status levi_check_regular(const char *path) {
    struct stat sb;
    if (!path || !*path) return levi_error(LEVI_ERR_INVALID_ARG, "empty input path");
    if (stat(path, &sb) != 0) return levi_error(LEVI_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return levi_error(LEVI_ERR_IO, "'%s' is %s, expected a regular file", path, kind_of(sb.st_mode));
    return LEVI_OK;
}

levi_status levi_open_regular(const char *path, int *fd, size_t *size) {
    *fd = -1;
    LEVI_TRY(levi_check_regular(path));
    /* O_NONBLOCK: should the path have become a FIFO since the stat, the
     * open returns at once and the fstat below refuses it. */
    int f = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (f < 0) return levi_error(LEVI_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(f, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(f);
        return levi_error(LEVI_ERR_IO, "'%s' is not a regular file", path);
    }
    int flags = fcntl(f, F_GETFL);
    if (flags >= 0) fcntl(f, F_SETFL, flags & ~O_NONBLOCK);
    *fd = f;
    if (size) *size = (size_t)sb.st_size;
    return LEVI_OK;
}

/* --- output checks ------------------------------------------------------------------- */

/* Create and remove a temporary file next to `path`: the folder exists and
 * accepts new files (permissions, read-only file systems, quotas). */
static levi_status probe_write(const char *opt, const char *path) {
    levi_atomic_file f;
    levi_status st = levi_atomic_open(&f, path);
    if (st != LEVI_OK) return levi_error(st, "%s '%s' cannot be written: %s", opt, path, levi_last_error());
    levi_atomic_abort(&f);
    return LEVI_OK;
}

levi_status levi_output_check_file(const char *opt, const char *path) {
    if (!path || !*path) return levi_error(LEVI_ERR_INVALID_ARG, "%s: empty file name", opt);
    size_t n = strlen(path);
    struct stat sb;
    if (path[n - 1] == '/' || (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)))
        return levi_error(LEVI_ERR_INVALID_ARG, "%s '%s' is a folder; expected a file name", opt, path);
    if (lstat(path, &sb) == 0 && !S_ISREG(sb.st_mode) && !S_ISLNK(sb.st_mode))
        return levi_error(LEVI_ERR_INVALID_ARG, "%s '%s' exists and is %s; expected a regular file", opt, path,
                          kind_of(sb.st_mode));
    char *dir, *base;
    LEVI_TRY(split_path(path, &dir, &base));
    levi_status st = LEVI_OK;
    if (stat(dir, &sb) != 0)
        st = levi_error(LEVI_ERR_IO, "%s '%s': folder '%s' does not exist", opt, path, dir);
    else if (!S_ISDIR(sb.st_mode))
        st = levi_error(LEVI_ERR_IO, "%s '%s': '%s' is not a folder", opt, path, dir);
    free(dir);
    free(base);
    LEVI_TRY(st);
    return probe_write(opt, path);
}

levi_status levi_output_check_dir(const char *opt, const char *path) {
    if (!path || !*path) return levi_error(LEVI_ERR_INVALID_ARG, "%s: empty folder name", opt);
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISDIR(sb.st_mode))
        return levi_error(LEVI_ERR_INVALID_ARG, "%s '%s' exists and is not a folder", opt, path);
    /* the nearest existing folder on the way must accept new entries */
    char *p = strip_slashes(path);
    if (!p) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    levi_status st = LEVI_OK;
    for (;;) {
        char *slash = strrchr(p, '/');
        if (!slash) {
            snprintf(p, strlen(p) + 1, ".");
            break;
        }
        if (slash == p) {
            p[1] = '\0';
            break;
        }
        *slash = '\0';
        if (stat(p, &sb) == 0) {
            if (!S_ISDIR(sb.st_mode)) st = levi_error(LEVI_ERR_IO, "%s '%s': '%s' is not a folder", opt, path, p);
            break;
        }
    }
    if (st == LEVI_OK) {
        /* probe a file in that folder */
        size_t n = strlen(p) + 32;
        char *probe = malloc(n);
        if (!probe) st = levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
        else {
            snprintf(probe, n, "%s/.levi-probe", p);
            levi_atomic_file f;
            st = levi_atomic_open(&f, probe);
            if (st == LEVI_OK) levi_atomic_abort(&f);
            else st = levi_error(st, "%s '%s': folder '%s' does not accept new files (%s)", opt, path, p,
                                 levi_last_error());
            free(probe);
        }
    }
    free(p);
    return st;
}

/* --- locks ------------------------------------------------------------------------- */

levi_status levi_output_lock_take(levi_output_lock *lk, const char *out) {
    lk->fd = -1;
    lk->path = NULL;
    if (!out || !*out) return levi_error(LEVI_ERR_INVALID_ARG, "empty output path");
    char *p = strip_slashes(out), *dir = NULL, *base = NULL;
    if (!p) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    levi_status st = split_path(p, &dir, &base);
    if (st == LEVI_OK && strcmp(dir, ".")) st = levi_mkdirs(dir);
    free(dir);
    free(base);
    size_t n = strlen(p) + 6;
    lk->path = malloc(n);
    if (st == LEVI_OK && !lk->path) st = levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    if (st == LEVI_OK) snprintf(lk->path, n, "%s.lock", p);
    for (int attempt = 0; st == LEVI_OK && attempt < 100; attempt++) {
        int fd = open(lk->path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0) {
            st = levi_error(LEVI_ERR_IO, "cannot create the lock file '%s': %s", lk->path, strerror(errno));
            break;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            char buf[32] = "";
            ssize_t r = pread(fd, buf, sizeof buf - 1, 0);
            close(fd);
            if (e != EWOULDBLOCK && e != EINTR) {
                st = levi_error(LEVI_ERR_IO, "cannot lock '%s': %s", lk->path, strerror(e));
                break;
            }
            long pid = r > 0 ? strtol(buf, NULL, 10) : 0;
            if (pid > 0)
                st = levi_error(LEVI_ERR_BUSY,
                                "'%s' is in use by PID %ld (another levi-cl is writing it; lock file '%s'): wait for "
                                "it to finish or choose another output",
                                p, pid, lk->path);
            else
                st = levi_error(LEVI_ERR_BUSY, "'%s' is in use by another process (lock file '%s')", p, lk->path);
            break;
        }
        /* The holder before us may have removed the file after we opened
         * it: the lock is only ours when the path still names our file. */
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(lk->path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
            char buf[32];
            int len = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
            if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)len, 0) != len)
                LEVI_DEBUG("could not record the PID in '%s': %s", lk->path, strerror(errno));
            lk->fd = fd;
            break;
        }
        close(fd);
    }
    if (st == LEVI_OK && lk->fd < 0) st = levi_error(LEVI_ERR_BUSY, "cannot lock '%s': it keeps changing", lk->path);
    free(p);
    if (st != LEVI_OK) {
        free(lk->path);
        lk->path = NULL;
    }
    return st;
}

void levi_output_lock_release(levi_output_lock *lk) {
    if (lk->fd >= 0) {
        unlink(lk->path); /* while still holding it: see the inode check above */
        close(lk->fd);
    }
    free(lk->path);
    lk->fd = -1;
    lk->path = NULL;
}

/* --- stale temporaries ------------------------------------------------------------ */

enum { LEFT_TMP, LEFT_OLD, LEFT_ATOMIC };

/* Parse `suffix` (what follows "<base>") as one of the leftover names:
 * ".tmp.<pid>" (LEFT_TMP), ".tmp.<pid>.<n>" (LEFT_ATOMIC), ".old.<pid>" or
 * ".old-<pid>" (LEFT_OLD), ".tmp-XXXXXX" (LEFT_TMP, pid 0: earlier versions'
 * mkdtemp). Returns -1 for anything else. */
static int leftover_kind(const char *suffix, long *pid) {
    *pid = 0;
    int kind;
    const char *p;
    if (!strncmp(suffix, ".tmp.", 5)) kind = LEFT_TMP, p = suffix + 5;
    else if (!strncmp(suffix, ".old.", 5) || !strncmp(suffix, ".old-", 5)) kind = LEFT_OLD, p = suffix + 5;
    else if (!strncmp(suffix, ".tmp-", 5) && strlen(suffix) == 11) return LEFT_TMP;
    else return -1;
    char *end;
    errno = 0;
    long v = strtol(p, &end, 10);
    if (end == p || errno || v <= 0 || *p == '-' || *p == '+') return -1;
    if (kind == LEFT_TMP && *end == '.') {
        const char *q = end + 1;
        if (!*q) return -1;
        for (; *q; q++)
            if (*q < '0' || *q > '9') return -1;
        kind = LEFT_ATOMIC;
    } else if (*end) {
        return -1;
    }
    *pid = v;
    return kind;
}

/* Collect the dead leftovers of dir/base; atomic_only: ".tmp.<pid>.<n>" only. */
static levi_status scan_leftovers(const char *dir, const char *base, int atomic_only, char ***names, int **kinds,
                                  int *count) {
    *names = NULL, *kinds = NULL, *count = 0;
    DIR *d = opendir(dir);
    if (!d) return LEVI_OK; /* nothing to clean where nothing can be read */
    size_t bl = strlen(base);
    int cap = 0;
    levi_status st = LEVI_OK;
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, base, bl)) continue;
        long pid;
        int kind = leftover_kind(e->d_name + bl, &pid);
        if (kind < 0 || (atomic_only && kind != LEFT_ATOMIC)) continue;
        if (pid > 0 ? !pid_dead(pid) : atomic_only) continue;
        if (*count == cap) {
            cap = cap ? 2 * cap : 8;
            char **nn = realloc(*names, sizeof *nn * (size_t)cap);
            int *nk = nn ? realloc(*kinds, sizeof *nk * (size_t)cap) : NULL;
            if (nn) *names = nn;
            if (nk) *kinds = nk;
            if (!nn || !nk) {
                st = levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
                break;
            }
        }
        size_t n = strlen(dir) + strlen(e->d_name) + 2;
        char *full = malloc(n);
        if (!full) {
            st = levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
            break;
        }
        snprintf(full, n, "%s/%s", dir, e->d_name);
        (*names)[*count] = full;
        (*kinds)[*count] = kind;
        (*count)++;
    }
    closedir(d);
    return st;
}

static void free_names(char **names, int *kinds, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    free(kinds);
}

static levi_status recover(const char *out, int atomic_only, int *removed) {
    if (removed) *removed = 0;
    char *dir, *base;
    LEVI_TRY(split_path(out, &dir, &base));
    char **names;
    int *kinds, n;
    levi_status st = scan_leftovers(dir, base, atomic_only, &names, &kinds, &n);
    if (st == LEVI_OK && n > 0) {
        char *o = strip_slashes(out);
        struct stat sb;
        /* a replacement killed between its two renames: the previous output returns */
        for (int i = 0; o && i < n && !atomic_only; i++) {
            if (kinds[i] != LEFT_OLD || lstat(o, &sb) == 0 || errno != ENOENT) continue;
            if (rename(names[i], o) == 0) {
                LEVI_WARN("'%s' was missing after an interrupted replacement: restored the previous one from '%s'",
                          o, names[i]);
                names[i][0] = '\0';
                if (removed) (*removed)++;
            } else {
                LEVI_WARN("cannot restore '%s' from '%s': %s", o, names[i], strerror(errno));
            }
        }
        free(o);
        for (int i = 0; i < n; i++) {
            if (!names[i][0]) continue;
            if (levi_rmtree(names[i]) == LEVI_OK) {
                LEVI_INFO("removed '%s', left by an interrupted run", names[i]);
                if (removed) (*removed)++;
            } else {
                LEVI_WARN("%s", levi_last_error());
                levi_error_clear();
            }
        }
    }
    free_names(names, kinds, n);
    free(dir);
    free(base);
    return st;
}

levi_status levi_output_recover(const char *out, int *removed) {
    if (!out || !*out) return levi_error(LEVI_ERR_INVALID_ARG, "empty output path");
    return recover(out, 0, removed);
}

void levi_output_clean_atomic(const char *path) {
    if (recover(path, 1, NULL) != LEVI_OK) levi_error_clear();
}

/* --- temporary folders and publication ------------------------------------------- */

levi_status levi_output_tmpdir(const char *out, char *buf, size_t len) {
    char *p = strip_slashes(out);
    if (!p) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    int n = snprintf(buf, len, "%s.tmp.%ld", p, (long)getpid());
    free(p);
    if (n < 0 || (size_t)n >= len) return levi_error(LEVI_ERR_INVALID_ARG, "output path '%s' is too long", out);
    LEVI_TRY(levi_rmtree(buf));
    if (mkdir(buf, 0755) != 0) return levi_error(LEVI_ERR_IO, "cannot create folder '%s': %s", buf, strerror(errno));
    return LEVI_OK;
}

static void sync_dir_of(const char *path) {
    char *dir, *base;
    if (split_path(path, &dir, &base) != LEVI_OK) {
        levi_error_clear();
        return;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        if (fsync(fd) != 0) LEVI_DEBUG("fsync of folder '%s': %s", dir, strerror(errno));
        close(fd);
    }
    free(dir);
    free(base);
}

levi_status levi_dir_publish(const char *tmp, const char *out) {
    char *o = strip_slashes(out);
    if (!o) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    levi_status st = LEVI_OK;
    struct stat sb;
    if (lstat(o, &sb) != 0) {
        if (rename(tmp, o) != 0)
            st = levi_error(LEVI_ERR_IO, "cannot rename '%s' to '%s': %s", tmp, o, strerror(errno));
    } else if (!S_ISDIR(sb.st_mode)) {
        st = levi_error(LEVI_ERR_IO, "'%s' exists and is not a folder: not replacing it", o);
    } else if (renameat2(AT_FDCWD, tmp, AT_FDCWD, o, RENAME_EXCHANGE) == 0) {
        /* one step: o is the new tree, tmp the old one */
        st = levi_rmtree(tmp);
        if (st != LEVI_OK) {
            LEVI_WARN("%s (the new '%s' is in place)", levi_last_error(), o);
            levi_error_clear();
            st = LEVI_OK;
        }
    } else if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP && errno != EPERM) {
        st = levi_error(LEVI_ERR_IO, "cannot exchange '%s' and '%s': %s", tmp, o, strerror(errno));
    } else if (rename(tmp, o) == 0) {
        /* o was an empty folder: replaced in one step */
    } else if (errno != ENOTEMPTY && errno != EEXIST) {
        st = levi_error(LEVI_ERR_IO, "cannot rename '%s' to '%s': %s", tmp, o, strerror(errno));
    } else {
        /* No exchange on this file system: two renames. A kill between them
         * leaves o missing and "<o>.old.<pid>" present; the next writer's
         * levi_output_recover renames it back. */
        size_t n = strlen(o) + 32;
        char *old = malloc(n);
        if (!old) st = levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
        else {
            snprintf(old, n, "%s.old.%ld", o, (long)getpid());
            if (rename(o, old) != 0) {
                st = levi_error(LEVI_ERR_IO, "cannot move '%s' aside to '%s': %s", o, old, strerror(errno));
            } else if (rename(tmp, o) != 0) {
                int e = errno;
                if (rename(old, o) != 0)
                    LEVI_WARN("cannot put '%s' back to '%s': %s", old, o, strerror(errno));
                st = levi_error(LEVI_ERR_IO, "cannot rename '%s' to '%s': %s", tmp, o, strerror(e));
            } else if (levi_rmtree(old) != LEVI_OK) {
                LEVI_WARN("%s (the new '%s' is in place)", levi_last_error(), o);
                levi_error_clear();
            }
            free(old);
        }
    }
    if (st == LEVI_OK) sync_dir_of(o);
    free(o);
    return st;
}
