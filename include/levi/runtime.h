/* levi/runtime.h — OpenCL platforms and devices, selection, contexts, and
 * runtime compilation of the kernels in cl/ with a persistent binary cache.
 *
 * Nothing here assumes one global device: every levi_ctx owns its context,
 * queue, programs and scratch memory, and several may live side by side. */
#ifndef LEVI_RUNTIME_H
#define LEVI_RUNTIME_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <stddef.h>
#include <stdio.h>

#include "levi/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Everything levi needs to know about a device, gathered once by query. */
typedef struct levi_device_info {
    int index;          /* flat index over all platforms, stable for a given machine */
    int platform_index; /* P in "P:D" */
    int device_index;   /* D in "P:D" */
    cl_platform_id platform;
    cl_device_id device;
    cl_device_type type;
    char platform_name[128];
    char platform_vendor[128];
    char platform_version[128];
    char name[256];
    char vendor[128];
    char driver_version[128];
    char device_version[128];   /* "OpenCL 3.0 PoCL ..." */
    char opencl_c_version[128]; /* "OpenCL C 1.2 ..." */
    unsigned compute_units;
    unsigned max_clock_mhz;
    unsigned long long global_mem;
    unsigned long long max_alloc;
    unsigned long long local_mem;
    size_t max_work_group;
    int fp16; /* cl_khr_fp16 reported */
    int fp64; /* cl_khr_fp64 reported or double config non-zero */
} levi_device_info;

typedef struct levi_device_list {
    levi_device_info *devices;
    int count;
    int default_index; /* first GPU, else 0 */
} levi_device_list;

/* Enumerate every platform and device. A platform that fails is skipped with a
 * warning; no platform at all returns LEVI_ERR_NO_PLATFORM with a hint. */
levi_status levi_device_list_query(levi_device_list *out);
void levi_device_list_free(levi_device_list *list);

/* Seconds on the monotonic clock (for durations and deadlines). */
double levi_now_s(void);

/* Index of the default device in `devices` (first GPU, else first), -1 if n == 0. */
int levi_device_default(const levi_device_info *devices, int n);

/* Resolve a selector against a device list. `sel` may be NULL or "" (default),
 * an index "N", "P:D", "cpu" | "gpu" | "accelerator", or a case-insensitive
 * substring of the device, vendor or platform name. No match gives
 * LEVI_ERR_NO_MATCH, several gives LEVI_ERR_AMBIGUOUS; `why` (may be NULL)
 * receives a short reason for the log line. */
levi_status levi_device_select(const levi_device_info *devices, int n, const char *sel, int *index,
                               char *why, size_t why_len);

const char *levi_device_type_name(cl_device_type type);

/* The list as a JSON array (one object per device, stable field names).
 * `tuned` may be NULL; else tuned[i] says whether device i has tuned GEMM
 * parameters. Caller frees the string with free(). */
char *levi_device_list_json(const levi_device_list *list, const int *tuned);

/* One human-readable block describing a device. */
void levi_device_print(FILE *f, const levi_device_info *d, int is_default);

/* --- on-disk cache folder ------------------------------------------------ */

/* The cache folder: $LEVI_CACHE_DIR, else $XDG_CACHE_HOME/levi-cl, else
 * $HOME/.cache/levi-cl. LEVI_CACHE_DIR=off disables caching (*enabled = 0). */
levi_status levi_cache_dir(char *buf, size_t len, int *enabled);

/* Create a folder and its parents (mkdir -p). */
levi_status levi_mkdirs(const char *path);

/* Write `len` bytes to `path` atomically (levi_atomic_open/write/commit). */
levi_status levi_write_file_atomic(const char *path, const void *data, size_t len);

/* Streaming atomic writes: data goes to "<path>.tmp.<pid>.<n>" (created
 * exclusively) in the same folder; commit fsyncs it, renames it onto path
 * and fsyncs the folder; abort, or any failed step, removes the temporary
 * file, so path always holds the old file or the complete new one. */
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

/* Read a whole file into malloc'ed memory (NUL-terminated for convenience). */
levi_status levi_read_file(const char *path, char **data, size_t *len);

/* --- hashing (program cache keys, tuning files) --------------------------- */
typedef struct {
    unsigned long long a, b;
} levi_hash128;
void levi_hash_init(levi_hash128 *h);
void levi_hash_update(levi_hash128 *h, const void *data, size_t len);
void levi_hash_str(levi_hash128 *h, const char *s); /* includes the terminating NUL */
void levi_hash_hex(const levi_hash128 *h, char out[33]);

/* --- context ------------------------------------------------------------ */

#define LEVI_MAX_PROGRAMS 32
#define LEVI_MAX_KERNELS 192

typedef struct levi_program_slot {
    char file[48]; /* "elementwise" for cl/elementwise.cl */
    cl_program program;
} levi_program_slot;

typedef struct levi_kernel_slot {
    char name[64];
    cl_kernel kernel;
} levi_kernel_slot;

/* What a ctx has been asked to do since it was created (or last reset):
 * kernels launched through levi_launch / levi_launch_1d, GEMM calls
 * (levi_gemm, levi_gemm_batched), blocking host synchronisations (blocking
 * reads and writes, levi_finish, levi_event_wait that actually waited: the
 * host waits for the newest work, the queue runs dry), backpressure waits
 * (levi_event_wait_backpressure that actually waited: the host waits for
 * work enqueued steps earlier while later steps stay queued) and bytes moved
 * between host and device. The counts do not depend on the device's speed,
 * except backpressure waits (they happen when the host runs ahead). */
typedef struct levi_counters {
    unsigned long long launches;
    unsigned long long gemm_calls;
    unsigned long long blocking_syncs;
    unsigned long long backpressure_waits;
    unsigned long long h2d_bytes, d2h_bytes;
} levi_counters;

struct levi_profile;
struct levi_busy;

/* Device memory a ctx was asked for while it planned (levi_ctx_plan_begin):
 * bytes by role, every allocation's size in order (the first
 * LEVI_MEM_MAX_ALLOCS), and the largest activation tensor reserved in an
 * arena. */
enum { LEVI_MEM_PARAMS = 0, LEVI_MEM_GRADS, LEVI_MEM_OPTIMIZER, LEVI_MEM_ACTIVATIONS, LEVI_MEM_OTHER, LEVI_MEM_ROLES };
#define LEVI_MEM_MAX_ALLOCS 128
typedef struct levi_mem_tally {
    unsigned long long bytes[LEVI_MEM_ROLES];
    unsigned long long total, largest_alloc, largest_tensor, allocations;
    unsigned long long alloc[LEVI_MEM_MAX_ALLOCS];
} levi_mem_tally;

typedef struct levi_ctx {
    levi_device_info info;
    cl_context context;
    cl_command_queue queue;
    char build_options[256]; /* derived from the device; part of the cache key */
    char cache_dir[1024];    /* "" when caching is off */
    levi_program_slot programs[LEVI_MAX_PROGRAMS];
    int n_programs;
    levi_kernel_slot kernels[LEVI_MAX_KERNELS];
    int n_kernels;
    size_t wg; /* default 1-D work-group size: min(64, device max) */
    /* GEMM scratch for CLBlast (grown on demand, never per call once sized) */
    cl_mem gemm_temp;
    size_t gemm_temp_bytes;
    struct levi_gemm_state *gemm; /* GEMM path and lock (levi/gemm.h) */
    /* counters, for tests and the debug log */
    int programs_compiled;
    int programs_from_cache;
    /* work issued on this ctx (levi_counters_get); one thread uses a ctx at a time */
    levi_counters counters;
    int profiling;             /* the queue records kernel device times (levi_ctx_set_profiling) */
    int profile_at_exit;       /* LEVI_PROFILE=1: levi_ctx_destroy prints the totals on stderr */
    struct levi_profile *prof; /* kernel device times; NULL until profiling is first enabled */
    struct levi_busy *busy;    /* when the device computed (levi_profile_overlap); with prof */
    levi_mem_tally *plan;      /* planning (levi_ctx_plan_begin): buffers are counted, not made */
} levi_ctx;

/* Create a context and in-order queue on one device. */
levi_status levi_ctx_create(levi_ctx **out, const levi_device_info *device);
/* The same without applying the device's stored tuned GEMM parameters:
 * CLBlast's own (what `levi-cl tune` starts from). */
levi_status levi_ctx_create_untuned(levi_ctx **out, const levi_device_info *device);

/* Enumerate, select (`sel`, else $LEVI_DEVICE, else the default), log the
 * choice in one line on stderr, and create the context. On a selection
 * error, the message lists the candidates. */
levi_status levi_ctx_open(levi_ctx **out, const char *sel);

void levi_ctx_destroy(levi_ctx *ctx);

/* The kernel `name` from cl/<file>.cl, built for this context on first use
 * (from the disk cache where possible). The kernel stays owned by ctx. */
levi_status levi_kernel_get(levi_ctx *ctx, const char *file, const char *name, cl_kernel *out);

/* Source of cl/<file>.cl: $LEVI_CL_DIR/<file>.cl when set, else the copy
 * embedded at build time. *src is malloc'ed; free it. */
levi_status levi_cl_source(const char *file, char **src, size_t *len);

/* Names of the embedded .cl files (without extension), NULL-terminated. */
const char *const *levi_cl_files(void);

/* Launch a 1-D kernel over n items, rounding the global size up to a multiple
 * of the work-group size (kernels guard with `if (i >= n) return;`). */
levi_status levi_launch_1d(levi_ctx *ctx, cl_kernel k, size_t n);

/* The work-group size levi_launch_1d takes for n items: the context's default
 * on GPUs; on CPU devices, which run a work-group as one loop on one thread
 * (vectorized across its work-items) and pay per group, groups as large as the
 * device allows (at most 4096) while every compute unit still gets 4. */
size_t levi_group_1d(const levi_ctx *ctx, size_t n);

/* Launch with explicit global and local sizes (dims 1..3; local may be NULL). */
levi_status levi_launch(levi_ctx *ctx, cl_kernel k, cl_uint dims, const size_t *global,
                        const size_t *local);

/* Plan instead of run: until levi_ctx_plan_end, every buffer asked of ctx is
 * counted into *tally (by the role of its arena) and not allocated (its
 * cl_mem is NULL), and transfers, fills, copies and launches do nothing; so
 * building a model on a planning ctx tells how much memory it would take.
 * Nothing built while planning may be used after it (only freed). */
void levi_ctx_plan_begin(levi_ctx *ctx, levi_mem_tally *tally);
void levi_ctx_plan_end(levi_ctx *ctx);

/* Wait for everything queued on ctx (one blocking sync). */
levi_status levi_finish(levi_ctx *ctx);

/* --- events -------------------------------------------------------------- */

/* 1 when ev has completed, 0 while it is pending: a status query that never
 * waits (and so is not a sync). A NULL event counts as complete. An event
 * that failed returns its (negative) error status. */
int levi_event_done(cl_event ev);

/* Wait until the n events (NULL entries allowed) complete; one blocking sync
 * is counted on ctx unless every one had completed already. */
levi_status levi_event_wait(levi_ctx *ctx, cl_uint n, const cl_event *events);

/* The same for an event of work enqueued well before the newest (a staging
 * buffer about to be refilled): a wait counts as a backpressure wait, not as
 * a blocking sync. */
levi_status levi_event_wait_backpressure(levi_ctx *ctx, cl_uint n, const cl_event *events);

/* Release *ev when set and clear it. */
void levi_event_release(cl_event *ev);

/* --- counters and profiling (LEVI_PROFILE=1, bench train --profile) ------- */

void levi_counters_get(const levi_ctx *ctx, levi_counters *out);
/* out = b - a (counts between two snapshots a then b). */
void levi_counters_diff(const levi_counters *a, const levi_counters *b, levi_counters *out);
/* Zero the counters and the kernel device times. */
void levi_counters_reset(levi_ctx *ctx);

/* Called where the counted thing happens (the one place each is issued). */
void levi_count_gemm(levi_ctx *ctx);
void levi_count_sync(levi_ctx *ctx);
void levi_count_h2d(levi_ctx *ctx, size_t bytes);
void levi_count_d2h(levi_ctx *ctx, size_t bytes);

/* Turn recording of kernel device times on or off: the queue is recreated
 * with (or without) CL_QUEUE_PROFILING_ENABLE after everything queued
 * finished. levi_ctx_create turns it on when LEVI_PROFILE=1. */
levi_status levi_ctx_set_profiling(levi_ctx *ctx, int on);

/* For a command enqueued outside levi_launch (a GEMM library call): pass
 * levi_profile_event(ctx, &ev) as its event argument (NULL unless profiling),
 * then levi_profile_track(ctx, "name", &ev), which records the command's
 * device time under `name` once it completes and releases the event. */
cl_event *levi_profile_event(levi_ctx *ctx, cl_event *slot);
void levi_profile_track(levi_ctx *ctx, const char *name, cl_event *slot);

/* Device time per kernel name, summed over launches. */
typedef struct levi_kernel_time {
    char name[64];
    unsigned long long count;
    double device_s;
} levi_kernel_time;

/* The n kernels of most device time (waits for pending records of commands
 * that already completed; call after levi_finish). Returns how many were
 * written (0 when profiling is off). */
int levi_profile_top(levi_ctx *ctx, levi_kernel_time *out, int n);

/* Two contexts' device busy time over the same wall-clock interval, from
 * every profiled command since profiling began (LEVI_PROFILE=1): busy_a,
 * busy_b: seconds each computed; both: seconds both computed at once; span:
 * from the first command's start to the last one's end, on either. Waits for
 * both queues. */
typedef struct levi_overlap {
    double busy_a, busy_b, both, span;
} levi_overlap;
levi_status levi_profile_overlap(levi_ctx *a, levi_ctx *b, levi_overlap *out);
/* One line "profile: stages at once: ..." with the numbers above. */
void levi_profile_print_overlap(FILE *f, levi_ctx *a, const char *a_name, levi_ctx *b, const char *b_name);

/* Forget the kernel device times recorded so far (the counters stay). */
void levi_profile_reset_times(levi_ctx *ctx);

/* Print counters divided by `per` units (per = 1: totals) and, when
 * profiling, the ten kernels of most device time (also divided by per),
 * as a few lines on f headed by `title`. */
void levi_profile_print(levi_ctx *ctx, FILE *f, const char *title, const levi_counters *c, double per,
                        const char *unit);


#ifdef __cplusplus
}
#endif
#endif
