/* The cache folder, mkdir -p, atomic writes, whole-file reads, and the
 * 128-bit FNV-1a hash used for cache keys. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "levi/files.h"
#include "levi/runtime.h"

levi_status levi_cache_dir(char *buf, size_t len, int *enabled) {
    const char *env = getenv("LEVI_CACHE_DIR");
    *enabled = 1;
    if (env && !strcmp(env, "off")) {
        *enabled = 0;
        buf[0] = '\0';
        return LEVI_OK;
    }
    int n;
    if (env && *env) n = snprintf(buf, len, "%s", env);
    else if (getenv("XDG_CACHE_HOME") && *getenv("XDG_CACHE_HOME"))
        n = snprintf(buf, len, "%s/levi-cl", getenv("XDG_CACHE_HOME"));
    else if (getenv("HOME") && *getenv("HOME")) n = snprintf(buf, len, "%s/.cache/levi-cl", getenv("HOME"));
    else n = snprintf(buf, len, "/tmp/levi-cl-cache");
    if (n < 0 || (size_t)n >= len) return levi_error(LEVI_ERR_INVALID_ARG, "cache folder path is too long");
    return LEVI_OK;
}

levi_status levi_mkdirs(const char *path) {
    char tmp[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp) return levi_error(LEVI_ERR_INVALID_ARG, "bad folder path '%s'", path);
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return levi_error(LEVI_ERR_IO, "cannot create folder '%s': %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return levi_error(LEVI_ERR_IO, "cannot create folder '%s': %s", tmp, strerror(errno));
    struct stat st;
    if (stat(tmp, &st) != 0 || !S_ISDIR(st.st_mode))
        return levi_error(LEVI_ERR_IO, "'%s' exists and is not a folder", tmp);
    return LEVI_OK;
}

levi_status levi_write_file_atomic(const char *path, const void *data, size_t len) {
    levi_atomic_file f;
    LEVI_TRY(levi_atomic_open(&f, path));
    LEVI_TRY(levi_atomic_write(&f, data, len));
    return levi_atomic_commit(&f);
}

levi_status levi_read_fd(int fd, const char *path, size_t n, char **data) {
    *data = NULL;
    char *buf = malloc(n + 1);
    if (!buf) {
        close(fd);
        return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory reading '%s' (%zu bytes)", path, n);
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            levi_status e = r < 0 ? levi_error(LEVI_ERR_IO, "reading '%s' failed: %s", path, strerror(errno))
                                  : levi_error(LEVI_ERR_IO, "short read from '%s' (%zu of %zu bytes)", path, got, n);
            free(buf);
            close(fd);
            return e;
        }
        got += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *data = buf;
    return LEVI_OK;
}

levi_status levi_read_file(const char *path, char **data, size_t *len) {
    *data = NULL;
    *len = 0;
    int fd;
    size_t size;
    LEVI_TRY(levi_open_regular(path, &fd, &size)); /* never blocks on a FIFO or device */
    LEVI_TRY(levi_read_fd(fd, path, size, data));
    *len = size;
    return LEVI_OK;
}

/* Two FNV-1a 64 streams with different offsets: 128 bits of key, enough to
 * make accidental collisions between cache entries negligible. */
void levi_hash_init(levi_hash128 *h) {
    h->a = 0xcbf29ce484222325ULL;
    h->b = 0x84222325cbf29ce4ULL;
}

void levi_hash_update(levi_hash128 *h, const void *data, size_t len) {
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h->a = (h->a ^ p[i]) * 0x100000001b3ULL;
        h->b = (h->b ^ (unsigned char)(p[i] + 0x5b)) * 0x100000001b3ULL;
        h->b ^= h->b >> 29;
    }
}

void levi_hash_str(levi_hash128 *h, const char *s) { levi_hash_update(h, s, strlen(s) + 1); }

void levi_hash_hex(const levi_hash128 *h, char out[33]) {
    snprintf(out, 33, "%016llx%016llx", h->a, h->b);
}
