/* Joining a run, its collectives with world-1 shortcuts, the configuration
 * check, and output from rank 0 only (see levi/comm.h). */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "comm_internal.h"
#include "levi/log.h"
#include "levi/runtime.h"

#define DEFAULT_TIMEOUT_S 600.0

static int env_int(const char *name) {
    const char *s = getenv(name);
    if (!s || !*s) return 0;
    char *end;
    long v = strtol(s, &end, 10);
    return (*end || v < 0 || v > 1 << 24) ? 0 : (int)v;
}

int levi_comm_launcher_size(void) {
    int n = env_int("OMPI_COMM_WORLD_SIZE");
    return n ? n : env_int("PMI_SIZE");
}

static levi_status timeout_from_env(double *out) {
    const char *s = getenv("LEVI_COMM_TIMEOUT");
    *out = DEFAULT_TIMEOUT_S;
    if (!s || !*s) return LEVI_OK;
    char *end;
    double v = strtod(s, &end);
    if (*end || !(v > 0) || v > 1e7)
        return levi_error(LEVI_ERR_INVALID_ARG, "LEVI_COMM_TIMEOUT=%s: expected seconds, a number in (0, 1e7]", s);
    *out = v;
    return LEVI_OK;
}

levi_status levi_comm_open(levi_comm **out, const levi_comm_options *opt) {
    *out = NULL;
    levi_comm_options o = {-1, 0};
    if (opt) o = *opt;
    double timeout = o.timeout_s;
    if (timeout < 0) return levi_error(LEVI_ERR_INVALID_ARG, "comm timeout %g s, expected > 0", timeout);
    if (timeout == 0) LEVI_TRY(timeout_from_env(&timeout));
    int launched = levi_comm_launcher_size();
    int use_mpi = o.mpi == 1 || (o.mpi == -1 && launched > 0 && levi_comm_have_mpi());
    if (o.mpi == -1 && launched > 1 && !levi_comm_have_mpi())
        return levi_error(LEVI_ERR_UNSUPPORTED,
                          "started by an MPI launcher with %d ranks, but this levi-cl was built without MPI: "
                          "install libopenmpi-dev and rebuild (meson setup BUILD -Dmpi=enabled)",
                          launched);
    levi_comm *c = calloc(1, sizeof *c);
    if (!c) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    c->size = 1;
    c->timeout_s = timeout;
    if (use_mpi) {
        levi_status st = comm_backend_init(c);
        if (st != LEVI_OK) {
            free(c);
            return st;
        }
    }
    *out = c;
    return LEVI_OK;
}

void levi_comm_close(levi_comm *c, int clean) {
    if (!c) return;
    comm_backend_finalize(c, clean);
    free(c);
}

int levi_comm_rank(const levi_comm *c) { return c ? c->rank : 0; }
int levi_comm_size(const levi_comm *c) { return c ? c->size : 1; }
int levi_comm_local_rank(const levi_comm *c) { return c ? c->local_rank : 0; }
int levi_comm_is_root(const levi_comm *c) { return !c || c->rank == 0; }
const char *levi_comm_backend(const levi_comm *c) { return c && c->mpi ? "mpi" : "single"; }
double levi_comm_timeout(const levi_comm *c) { return c ? c->timeout_s : DEFAULT_TIMEOUT_S; }

/* A failed collective leaves the ranks out of step: refuse every later one. */
static levi_status usable(const levi_comm *c, const char *what) {
    if (c->failed)
        return levi_error(LEVI_ERR_COMM, "rank %d: %s: an earlier collective failed; the run cannot go on", c->rank,
                          what);
    return LEVI_OK;
}

levi_status levi_comm_sum_f32(levi_comm *c, float *buf, size_t n, const char *what) {
    if (!c || c->size == 1 || n == 0) return LEVI_OK;
    LEVI_TRY(usable(c, what));
    return comm_backend_sum(c, buf, n, COMM_F32, what);
}

levi_status levi_comm_sum_f64(levi_comm *c, double *buf, size_t n, const char *what) {
    if (!c || c->size == 1 || n == 0) return LEVI_OK;
    LEVI_TRY(usable(c, what));
    return comm_backend_sum(c, buf, n, COMM_F64, what);
}

levi_status levi_comm_bcast(levi_comm *c, void *buf, size_t bytes, int root, const char *what) {
    if (c && (root < 0 || root >= c->size))
        return levi_error(LEVI_ERR_INVALID_ARG, "%s: root rank %d, expected 0..%d", what, root, c->size - 1);
    if (!c || c->size == 1 || bytes == 0) return LEVI_OK;
    LEVI_TRY(usable(c, what));
    return comm_backend_bcast(c, buf, bytes, root, what);
}

levi_status levi_comm_allgather(levi_comm *c, const void *mine, void *all, size_t bytes, const char *what) {
    if (!c || c->size == 1) {
        if (all != mine && bytes) memcpy(all, mine, bytes);
        return LEVI_OK;
    }
    LEVI_TRY(usable(c, what));
    return comm_backend_allgather(c, mine, all, bytes, what);
}

levi_status levi_comm_barrier(levi_comm *c, const char *what) {
    if (!c || c->size == 1) return LEVI_OK;
    LEVI_TRY(usable(c, what));
    return comm_backend_barrier(c, what);
}

/* --- the configuration check ---------------------------------------------- */

int levi_config_first_difference(const char *const *a, int na, const char *const *b, int nb) {
    int n = na < nb ? na : nb;
    for (int i = 0; i < n; i++)
        if (strcmp(a[2 * i], b[2 * i]) || strcmp(a[2 * i + 1], b[2 * i + 1])) return i;
    return na == nb ? -1 : n;
}

typedef struct {
    uint64_t a, b;
    int64_t n;
} config_digest;

static config_digest digest(const char *const *kv, int n) {
    levi_hash128 h;
    levi_hash_init(&h);
    for (int i = 0; i < 2 * n; i++) levi_hash_str(&h, kv[i]);
    config_digest d = {h.a, h.b, n};
    return d;
}

/* Rank 0's pairs as "name\0value\0..." to every rank, split back into *kv0. */
static levi_status share_root_config(levi_comm *c, const char *const *kv, int n, char **blob, const char ***kv0,
                                     int *n0) {
    uint64_t len = 0;
    if (c->rank == 0)
        for (int i = 0; i < 2 * n; i++) len += strlen(kv[i]) + 1;
    LEVI_TRY(levi_comm_bcast(c, &len, sizeof len, 0, "the configuration check"));
    *blob = malloc(len + 1);
    if (!*blob) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    if (c->rank == 0) {
        char *p = *blob;
        for (int i = 0; i < 2 * n; i++) p = stpcpy(p, kv[i]) + 1;
    }
    LEVI_TRY(levi_comm_bcast(c, *blob, len, 0, "the configuration check"));
    (*blob)[len] = '\0';
    int strings = 0;
    for (uint64_t i = 0; i < len; i++) strings += (*blob)[i] == '\0';
    *kv0 = malloc(((size_t)strings + 1) * sizeof **kv0);
    if (!*kv0) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    const char *p = *blob;
    for (int i = 0; i < strings; i++, p += strlen(p) + 1) (*kv0)[i] = p;
    *n0 = strings / 2;
    return LEVI_OK;
}

static void describe(char *msg, size_t len, int rank, const char *const *kv, int n, const char *const *kv0, int n0,
                     int i) {
    if (i >= n)
        snprintf(msg, len, "ranks disagree on the configuration: rank 0 has option '%s' = '%s' that rank %d lacks",
                 kv0[2 * i], kv0[2 * i + 1], rank);
    else if (i >= n0)
        snprintf(msg, len, "ranks disagree on the configuration: rank %d has option '%s' = '%s' that rank 0 lacks",
                 rank, kv[2 * i], kv[2 * i + 1]);
    else if (strcmp(kv[2 * i], kv0[2 * i]))
        snprintf(msg, len, "ranks disagree on the configuration: option %d is '%s' on rank %d but '%s' on rank 0",
                 i + 1, kv[2 * i], rank, kv0[2 * i]);
    else
        snprintf(msg, len, "ranks disagree on the configuration: option '%s' is '%s' on rank %d but '%s' on rank 0",
                 kv[2 * i], kv[2 * i + 1], rank, kv0[2 * i + 1]);
}

levi_status levi_comm_check_config(levi_comm *c, const char *const *kv, int n) {
    if (n < 0 || (n > 0 && !kv)) return levi_error(LEVI_ERR_INVALID_ARG, "configuration of %d options", n);
    for (int i = 0; i < 2 * n; i++)
        if (!kv[i]) return levi_error(LEVI_ERR_INVALID_ARG, "configuration entry %d is NULL", i);
    if (!c || c->size == 1) return LEVI_OK;
    const char *what = "the configuration check";
    config_digest mine = digest(kv, n), *all = malloc((size_t)c->size * sizeof *all);
    if (!all) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    levi_status st = levi_comm_allgather(c, &mine, all, sizeof mine, what);
    int same = 1;
    for (int r = 1; st == LEVI_OK && r < c->size; r++)
        same &= !memcmp(&all[r], &all[0], sizeof mine);
    free(all);
    if (st != LEVI_OK || same) return st;
    /* They differ: find the first differing pair against rank 0, and let the
     * lowest rank that differs tell everyone. */
    char *blob = NULL;
    const char **kv0 = NULL;
    int n0 = 0, *first = malloc((size_t)c->size * sizeof *first);
    char msg[768] = "ranks disagree on the configuration";
    st = first ? share_root_config(c, kv, n, &blob, &kv0, &n0) : levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    int mine_i = st == LEVI_OK ? levi_config_first_difference(kv, n, kv0, n0) : -1;
    if (st == LEVI_OK) st = levi_comm_allgather(c, &mine_i, first, sizeof mine_i, what);
    int teller = -1;
    for (int r = 0; st == LEVI_OK && r < c->size && teller < 0; r++)
        if (first[r] >= 0) teller = r;
    if (st == LEVI_OK && teller == c->rank) describe(msg, sizeof msg, c->rank, kv, n, kv0, n0, mine_i);
    if (st == LEVI_OK && teller >= 0) st = levi_comm_bcast(c, msg, sizeof msg, teller, what);
    free(first);
    free(kv0);
    free(blob);
    if (st != LEVI_OK) return st;
    msg[sizeof msg - 1] = '\0';
    return levi_error(LEVI_ERR_INVALID_ARG, "%s", msg);
}

void levi_comm_shard(int n, int part, int parts, int *start, int *count) {
    int q = n / parts, r = n % parts;
    *start = part * q + (part < r ? part : r);
    *count = q + (part < r);
}

/* --- output --------------------------------------------------------------- */

int levi_comm_printf(const levi_comm *c, FILE *f, const char *fmt, ...) {
    if (!levi_comm_is_root(c)) return 0;
    va_list ap;
    va_start(ap, fmt);
    int n = vfprintf(f, fmt, ap);
    va_end(ap);
    return n;
}

void levi_comm_quiet_others(const levi_comm *c) {
    if (levi_comm_is_root(c)) return;
    char tag[32];
    snprintf(tag, sizeof tag, "rank %d", c->rank);
    levi_log_set_tag(tag);
    const char *env = getenv("LEVI_LOG");
    if ((!env || !*env) && levi_log_get_level() > LEVI_LOG_WARN) levi_log_set_level(LEVI_LOG_WARN);
}
