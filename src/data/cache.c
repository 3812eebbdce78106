/* Data sets that do not fit in host memory: decoded once into
 * <cache>/data/<key>.u8 and memory-mapped. The key hashes the folder's
 * contents (each file's path, size and modification time), the
 * preprocessing, the output size and the load options, so a changed file or
 * setting makes a new entry. The file is written under a temporary name
 * (space reserved up front, so a full disk is an error, not a SIGBUS) and
 * renamed into place only when every image is in it.
 *
 * Layout: a 64-byte header {magic "LEVIDAT1", u32 version, C, H, W, n (listed
 * files), n_kept, key[40]}, n_kept int32 indices of the files kept, then at
 * a page-aligned offset n_kept images of H·W·C bytes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataset_cache.h"
#include "levi/log.h"

#define CACHE_MAGIC "LEVIDAT1"
#define CACHE_VERSION 1u
#define CACHE_HEADER 64

typedef struct cache_header {
    char magic[8];
    unsigned version, C, H, W, n, n_kept;
    char key[32];
} cache_header;

_Static_assert(sizeof(cache_header) <= CACHE_HEADER, "cache header");

static size_t pixel_offset(int n) {
    size_t off = CACHE_HEADER + sizeof(int) * (size_t)n;
    return (off + 4095) & ~(size_t)4095;
}

static levi_status make_key(data_cache *c, const char *root, const char *const *paths, int n,
                            const levi_preprocess *pre, const levi_load_options *opt) {
    levi_hash128 h;
    levi_hash_init(&h);
    levi_hash_str(&h, "levi-data-cache 1");
    char *real = realpath(root, NULL);
    levi_hash_str(&h, real ? real : root);
    free(real);
    char *pj = levi_preprocess_json(pre);
    if (!pj) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    levi_hash_str(&h, pj);
    free(pj);
    int v[5] = {c->C, c->H, c->W, opt->skip_bad, opt->limit_per_class};
    levi_hash_update(&h, v, sizeof v);
    size_t rl = strlen(root);
    for (int i = 0; i < n; i++) {
        struct stat sb;
        if (stat(paths[i], &sb) != 0)
            return levi_error(LEVI_ERR_IO, "cannot open image '%s': %s", paths[i], strerror(errno));
        long long m[3] = {(long long)sb.st_size, (long long)sb.st_mtim.tv_sec, (long long)sb.st_mtim.tv_nsec};
        levi_hash_str(&h, paths[i] + rl);
        levi_hash_update(&h, m, sizeof m);
    }
    levi_hash_hex(&h, c->key);
    return LEVI_OK;
}

/* "<key>.u8.tmp.<pid>.<n>" of a process that no longer runs */
static void remove_stale(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[4400];
    while ((e = readdir(d)) != NULL) {
        const char *t = strstr(e->d_name, ".u8.tmp.");
        if (!t) continue;
        long pid = strtol(t + 8, NULL, 10);
        if (pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) == 0) LEVI_INFO("data cache: removed %s, left by a process that died", path);
    }
    closedir(d);
}

static int try_hit(data_cache *c) {
    int fd = open(c->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return 0;
    struct stat sb;
    cache_header hd;
    int ok = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && (size_t)sb.st_size >= pixel_offset(0) &&
             pread(fd, &hd, sizeof hd, 0) == (ssize_t)sizeof hd && !memcmp(hd.magic, CACHE_MAGIC, 8) &&
             hd.version == CACHE_VERSION && hd.C == (unsigned)c->C && hd.H == (unsigned)c->H &&
             hd.W == (unsigned)c->W && hd.n == (unsigned)c->n && hd.n_kept <= hd.n && !memcmp(hd.key, c->key, 32);
    size_t per = (size_t)c->C * c->H * c->W;
    if (ok) ok = (size_t)sb.st_size == pixel_offset(c->n) + per * hd.n_kept;
    void *m = ok ? mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
    close(fd);
    if (m == MAP_FAILED) {
        if (ok) LEVI_WARN("data cache: cannot map %s (%s); decoding again", c->path, strerror(errno));
        else LEVI_WARN("data cache: %s is not a valid entry; decoding again", c->path);
        return 0;
    }
    c->map = m;
    c->map_len = (size_t)sb.st_size;
    c->kept = (const int *)(c->map + CACHE_HEADER);
    c->n_kept = (int)hd.n_kept;
    for (int i = 0; i < c->n_kept; i++)
        if (c->kept[i] < 0 || c->kept[i] >= c->n || (i && c->kept[i] <= c->kept[i - 1])) {
            LEVI_WARN("data cache: %s holds a bad index list; decoding again", c->path);
            munmap(c->map, c->map_len);
            c->map = NULL;
            return 0;
        }
    c->pixels = c->map + pixel_offset(c->n);
    c->hit = 1;
    return 1;
}

levi_status data_cache_open(data_cache *c, const char *root, const char *const *paths, int n,
                            const levi_preprocess *pre, int H, int W, const levi_load_options *opt) {
    memset(c, 0, sizeof *c);
    c->tmp.fd = -1;
    char dir[4096];
    int enabled;
    LEVI_TRY(levi_cache_dir(dir, sizeof dir, &enabled));
    if (!enabled) return LEVI_OK;
    c->C = pre->channels;
    c->H = H;
    c->W = W;
    c->n = n;
    LEVI_TRY(make_key(c, root, paths, n, pre, opt));
    if (strlen(dir) + 48 >= sizeof dir) return levi_error(LEVI_ERR_INVALID_ARG, "cache folder path is too long");
    strcat(dir, "/data");
    LEVI_TRY(levi_mkdirs(dir));
    remove_stale(dir);
    snprintf(c->path, sizeof c->path, "%s/%s.u8", dir, c->key);
    c->enabled = 1;
    if (try_hit(c)) {
        LEVI_INFO("dataset '%s': %d decoded images from the cache %s", root, c->n_kept, c->path);
        return LEVI_OK;
    }
    size_t per = (size_t)c->C * H * W, len = pixel_offset(n) + per * (size_t)n;
    LEVI_TRY(levi_atomic_open(&c->tmp, c->path));
    c->writing = 1;
    int fd = open(c->tmp.tmp, O_RDWR | O_CLOEXEC);
    int err = fd < 0 ? errno : posix_fallocate(fd, 0, (off_t)len);
    void *m = MAP_FAILED;
    if (!err) {
        m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED) err = errno;
    }
    if (fd >= 0) close(fd);
    if (err) {
        levi_status st = levi_error(LEVI_ERR_IO, "dataset '%s': cannot make room for %zu MB of decoded images in %s: %s",
                                    root, len >> 20, c->tmp.tmp, strerror(err));
        levi_atomic_abort(&c->tmp);
        c->writing = 0;
        return st;
    }
    c->map = m;
    c->map_len = len;
    c->pixels = c->map + pixel_offset(n);
    LEVI_INFO("dataset '%s': %zu MB of decoded images go to %s", root, len >> 20, c->path);
    return LEVI_OK;
}

levi_status data_cache_commit(data_cache *c, const int *kept, int n_kept, levi_status st) {
    if (!c->writing) return st;
    size_t per = (size_t)c->C * c->H * c->W, len = pixel_offset(c->n) + per * (size_t)n_kept;
    if (st == LEVI_OK) {
        cache_header hd;
        memset(&hd, 0, sizeof hd);
        memcpy(hd.magic, CACHE_MAGIC, 8);
        hd.version = CACHE_VERSION;
        hd.C = (unsigned)c->C;
        hd.H = (unsigned)c->H;
        hd.W = (unsigned)c->W;
        hd.n = (unsigned)c->n;
        hd.n_kept = (unsigned)n_kept;
        memcpy(hd.key, c->key, 32);
        memcpy(c->map, &hd, sizeof hd);
        memcpy(c->map + CACHE_HEADER, kept, sizeof(int) * (size_t)n_kept);
    }
    munmap(c->map, c->map_len);
    c->map = NULL;
    if (st == LEVI_OK && truncate(c->tmp.tmp, (off_t)len) != 0)
        st = levi_error(LEVI_ERR_IO, "cannot shrink '%s': %s", c->tmp.tmp, strerror(errno));
    c->writing = 0;
    if (st != LEVI_OK) {
        levi_atomic_abort(&c->tmp);
        return st;
    }
    LEVI_TRY(levi_atomic_commit(&c->tmp));
    int fd = open(c->path, O_RDONLY | O_CLOEXEC);
    void *m = fd >= 0 ? mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
    int err = errno;
    if (fd >= 0) close(fd);
    if (m == MAP_FAILED) return levi_error(LEVI_ERR_IO, "cannot map '%s': %s", c->path, strerror(err));
    c->map = m;
    c->map_len = len;
    c->pixels = c->map + pixel_offset(c->n);
    return LEVI_OK;
}

void data_cache_close(data_cache *c) {
    if (c->map) munmap(c->map, c->map_len);
    c->map = NULL;
    if (c->writing) levi_atomic_abort(&c->tmp);
    c->writing = 0;
}
