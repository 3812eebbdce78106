/* Fault injection for the crash-consistency tests: an LD_PRELOAD library that
 * kills the process, stalls it or fails a call at an exact file event.
 *
 *   LEVI_FAULT="EVENT:N[:ACTION[:SUBSTRING]][,EVENT:N...]"
 *
 * EVENT     open (open, openat, creat, fopen), write (write, pwrite, fwrite),
 *           rename (rename, renameat, renameat2), exchange (renameat2 with
 *           RENAME_EXCHANGE, also counted as a rename), mkdir
 * N         the Nth matching call (1-based); "N+" the Nth and every later one
 * ACTION    kill (SIGKILL instead of the call, the default), kill-after (make
 *           the call, then SIGKILL), sleep=S (sleep S seconds, then make the
 *           call), or fail with an errno: enospc, eio, erofs, einval, eacces
 * SUBSTRING only calls whose path (for writes: the file the descriptor
 *           names) contains it are counted; it may contain ':' but not ','
 *
 * Every fault that fires is reported on stderr ("faultshim: ..."). Under
 * AddressSanitizer run with ASAN_OPTIONS=verify_asan_link_order=0. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
/* open and open64 etc. are both defined here: no 64-bit redirection */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

enum { EV_OPEN, EV_WRITE, EV_RENAME, EV_EXCHANGE, EV_MKDIR };
enum { ACT_KILL, ACT_KILL_AFTER, ACT_SLEEP, ACT_FAIL };

typedef struct fault {
    int event, nth, and_later, action, err;
    double sleep_s;
    char substr[512];
    atomic_int count;
} fault;

#define MAX_FAULTS 8
static fault g_faults[MAX_FAULTS];
static int g_nfaults = -1; /* -1: not parsed yet */

static void say(const char *fmt, ...) {
    char buf[1200];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0) {
        ssize_t (*real_write)(int, const void *, size_t) = dlsym(RTLD_NEXT, "write");
        if (real_write) (void)real_write(2, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    }
}

static void parse(void) {
    if (g_nfaults >= 0) return;
    g_nfaults = 0;
    const char *env = getenv("LEVI_FAULT");
    if (!env || !*env) return;
    char spec[4096];
    snprintf(spec, sizeof spec, "%s", env);
    char *save = NULL;
    for (char *tok = strtok_r(spec, ",", &save); tok && g_nfaults < MAX_FAULTS; tok = strtok_r(NULL, ",", &save)) {
        fault *f = &g_faults[g_nfaults];
        memset(f, 0, sizeof *f);
        char *ev = tok, *n = strchr(ev, ':');
        if (!n) goto bad;
        *n++ = '\0';
        char *act = strchr(n, ':');
        if (act) *act++ = '\0';
        char *sub = act ? strchr(act, ':') : NULL;
        if (sub) *sub++ = '\0';
        if (!strcmp(ev, "open")) f->event = EV_OPEN;
        else if (!strcmp(ev, "write")) f->event = EV_WRITE;
        else if (!strcmp(ev, "rename")) f->event = EV_RENAME;
        else if (!strcmp(ev, "exchange")) f->event = EV_EXCHANGE;
        else if (!strcmp(ev, "mkdir")) f->event = EV_MKDIR;
        else goto bad;
        char *end;
        f->nth = (int)strtol(n, &end, 10);
        if (end == n || f->nth < 1) goto bad;
        if (*end == '+') f->and_later = 1, end++;
        if (*end) goto bad;
        f->action = ACT_KILL;
        if (act && *act) {
            if (!strcmp(act, "kill")) f->action = ACT_KILL;
            else if (!strcmp(act, "kill-after")) f->action = ACT_KILL_AFTER;
            else if (!strncmp(act, "sleep=", 6)) f->action = ACT_SLEEP, f->sleep_s = atof(act + 6);
            else {
                f->action = ACT_FAIL;
                if (!strcmp(act, "enospc")) f->err = ENOSPC;
                else if (!strcmp(act, "eio")) f->err = EIO;
                else if (!strcmp(act, "erofs")) f->err = EROFS;
                else if (!strcmp(act, "einval")) f->err = EINVAL;
                else if (!strcmp(act, "eacces")) f->err = EACCES;
                else goto bad;
            }
        }
        if (sub) snprintf(f->substr, sizeof f->substr, "%s", sub);
        g_nfaults++;
        continue;
    bad:
        say("faultshim: cannot parse LEVI_FAULT entry '%s' (see tests/faultshim.c)\n", tok);
        _exit(99);
    }
}

/* Parse before any thread of the process starts (PoCL starts several). */
__attribute__((constructor)) static void faultshim_init(void) { parse(); }

static const char *k_event_names[] = {"open", "write", "rename", "exchange", "mkdir"};

/* The fault that fires for this call, or NULL. Every matching fault counts
 * the call; the first one whose count is due fires. */
static fault *check(int event, const char *path, const char *path2) {
    parse();
    fault *fire = NULL;
    for (int i = 0; i < g_nfaults; i++) {
        fault *f = &g_faults[i];
        int match = f->event == event || (f->event == EV_RENAME && event == EV_EXCHANGE);
        if (!match) continue;
        if (f->substr[0] && !(path && strstr(path, f->substr)) && !(path2 && strstr(path2, f->substr))) continue;
        int c = atomic_fetch_add(&f->count, 1) + 1;
        if (!fire && (c == f->nth || (f->and_later && c > f->nth))) {
            fire = f;
            say("faultshim: %s #%d of '%s'%s%s: %s\n", k_event_names[f->event], c, path ? path : "?",
                path2 ? " -> " : "", path2 ? path2 : "",
                f->action == ACT_KILL ? "kill -9" : f->action == ACT_KILL_AFTER ? "kill -9 after the call"
                : f->action == ACT_SLEEP ? "stall" : strerror(f->err));
        }
    }
    return fire;
}

static void die(void) { kill(getpid(), SIGKILL); }

/* Before the call: kill, stall, or fail (returns 1 with errno set). */
static int before(fault *f) {
    if (!f) return 0;
    if (f->action == ACT_KILL) die();
    if (f->action == ACT_SLEEP) {
        struct timespec ts = {(time_t)f->sleep_s, (long)((f->sleep_s - (double)(time_t)f->sleep_s) * 1e9)};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
    }
    if (f->action == ACT_FAIL) {
        errno = f->err;
        return 1;
    }
    return 0;
}

static void after(fault *f) {
    if (f && f->action == ACT_KILL_AFTER) die();
}

static const char *fd_path(int fd, char *buf, size_t len) {
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, buf, len - 1);
    if (n < 0) return NULL;
    buf[n] = '\0';
    return buf;
}

#define REAL(name)                                                                                    \
    static __typeof__(&name) real_##name;                                                             \
    if (!real_##name) real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name)

/* --- open ------------------------------------------------------------------ */

static mode_t mode_arg(int flags, va_list ap) {
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    REAL(open);
    fault *f = check(EV_OPEN, path, NULL);
    if (before(f)) return -1;
    int r = real_open(path, flags, m);
    after(f);
    return r;
}

int open64(const char *path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    REAL(open64);
    fault *f = check(EV_OPEN, path, NULL);
    if (before(f)) return -1;
    int r = real_open64(path, flags, m);
    after(f);
    return r;
}

int openat(int dirfd, const char *path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    mode_t m = mode_arg(flags, ap);
    va_end(ap);
    REAL(openat);
    fault *f = check(EV_OPEN, path, NULL);
    if (before(f)) return -1;
    int r = real_openat(dirfd, path, flags, m);
    after(f);
    return r;
}

int creat(const char *path, mode_t mode) { return open(path, O_WRONLY | O_CREAT | O_TRUNC, mode); }

FILE *fopen(const char *path, const char *mode) {
    REAL(fopen);
    fault *f = check(EV_OPEN, path, NULL);
    if (before(f)) return NULL;
    FILE *r = real_fopen(path, mode);
    after(f);
    return r;
}

FILE *fopen64(const char *path, const char *mode) {
    REAL(fopen64);
    fault *f = check(EV_OPEN, path, NULL);
    if (before(f)) return NULL;
    FILE *r = real_fopen64(path, mode);
    after(f);
    return r;
}

/* --- write ------------------------------------------------------------------- */

static fault *check_fd(int fd) {
    parse();
    if (g_nfaults == 0) return NULL;
    char buf[4096];
    return check(EV_WRITE, fd_path(fd, buf, sizeof buf), NULL);
}

ssize_t write(int fd, const void *data, size_t len) {
    REAL(write);
    fault *f = check_fd(fd);
    if (before(f)) return -1;
    ssize_t r = real_write(fd, data, len);
    after(f);
    return r;
}

ssize_t pwrite(int fd, const void *data, size_t len, off_t off) {
    REAL(pwrite);
    fault *f = check_fd(fd);
    if (before(f)) return -1;
    ssize_t r = real_pwrite(fd, data, len, off);
    after(f);
    return r;
}

size_t fwrite(const void *data, size_t size, size_t n, FILE *stream) {
    REAL(fwrite);
    fault *f = check_fd(fileno(stream));
    if (before(f)) return 0;
    size_t r = real_fwrite(data, size, n, stream);
    after(f);
    return r;
}

/* --- rename, mkdir --------------------------------------------------------------- */

int rename(const char *from, const char *to) {
    REAL(rename);
    fault *f = check(EV_RENAME, from, to);
    if (before(f)) return -1;
    int r = real_rename(from, to);
    after(f);
    return r;
}

int renameat(int fd1, const char *from, int fd2, const char *to) {
    REAL(renameat);
    fault *f = check(EV_RENAME, from, to);
    if (before(f)) return -1;
    int r = real_renameat(fd1, from, fd2, to);
    after(f);
    return r;
}

int renameat2(int fd1, const char *from, int fd2, const char *to, unsigned int flags) {
    REAL(renameat2);
    fault *f = check((flags & RENAME_EXCHANGE) ? EV_EXCHANGE : EV_RENAME, from, to);
    if (before(f)) return -1;
    int r = real_renameat2(fd1, from, fd2, to, flags);
    after(f);
    return r;
}

int mkdir(const char *path, mode_t mode) {
    REAL(mkdir);
    fault *f = check(EV_MKDIR, path, NULL);
    if (before(f)) return -1;
    int r = real_mkdir(path, mode);
    after(f);
    return r;
}
