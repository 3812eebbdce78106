/* GEMM through OpenBLAS inside the OpenCL queue, for CPU devices whose
 * buffers live in host memory (PoCL).
 *
 * Each call enqueues a native kernel (clEnqueueNativeKernel) that runs
 * cblas_sgemm on the buffers' host addresses when the in-order queue reaches
 * it, on one of the runtime's worker threads. So the GEMM keeps its place
 * between the kernels around it and the host never waits (a map per GEMM
 * would be a blocking sync in every training step).
 *
 * Which address is which buffer's: the runtime writes the buffers' addresses
 * into argument slots, but PoCL 3.1 first sorts the buffers by an internal id
 * and so can swap the slots of a native kernel with two or more buffers (seen
 * here: A's address in B's slot, a crash in sgemm_oncopy). So each buffer's
 * address is learnt once, by a native kernel that has that buffer alone (one
 * slot, nothing to swap), and forgotten when the buffer is destroyed
 * (clSetMemObjectDestructorCallback). The GEMM's own native kernel still
 * lists its buffers, so that the runtime keeps them alive and in place, and
 * run_job checks that the addresses it was given are the ones learnt.
 *
 * Why not CLBlast here: on PoCL (2-core EPYC, bench gemm shapes) CLBlast
 * reaches 0.07-0.35x of OpenBLAS on the same cores, after tuning too.
 *
 * Threads: while the native kernel runs, the device's other worker threads
 * have nothing of this queue to run, so OpenBLAS may use as many threads as
 * the device has compute units (set once, unless OPENBLAS_NUM_THREADS or
 * OMP_NUM_THREADS says otherwise). A GEMM of fewer than SMALL_MNK
 * multiply-adds runs on one thread: handing half of it to a second thread
 * costs more than it saves (the LEVI head's 64x128x128 products: 1 thread as
 * fast as 2; its 64x128x256 ones gain from 2).
 *
 * Scheduling: while OpenBLAS may use several threads, a worker that runs one
 * of these native kernels is made SCHED_BATCH (Linux; only from SCHED_OTHER),
 * which changes when it runs, never what it computes. PoCL 3.1 wakes every idle worker (a condition broadcast)
 * when the next command of the queue becomes ready. After a GEMM on two
 * OpenBLAS threads, OpenBLAS's own thread still busy-waits on the other core,
 * so the woken worker lands on the core of the worker that just finished and,
 * as a normal thread back from sleep, preempts it: it takes the next command
 * itself, about 14 us after the last GEMM ended instead of about 1 us (2-core
 * EPYC VM, 128^3 back to back: 95% of the GEMMs changed worker, 36 us a GEMM,
 * against 21 us with one PoCL worker and 20 us calling OpenBLAS directly). A
 * batch thread waking up does not preempt: the worker that finished takes the
 * next command at once (98% on the same worker, 25 us). */
#include <cblas.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_internal.h"
#include "levi/log.h"
#include "levi/runtime.h"

/* --- host addresses of buffers, learnt in the queue ---------------------------------- */

#define ADDR_BUCKETS 256

typedef struct host_addr {
    cl_mem mem;
    _Atomic(float *) host; /* NULL until the learning kernel ran */
    struct host_addr *next;
} host_addr;

static pthread_mutex_t g_addr_lock = PTHREAD_MUTEX_INITIALIZER;
static host_addr *g_addr[ADDR_BUCKETS];

static size_t bucket(cl_mem m) {
    uintptr_t x = (uintptr_t)m;
    return (size_t)((x >> 4) ^ (x >> 12)) % ADDR_BUCKETS;
}

/* Unlink and free mem's entry, if any. */
static void drop(cl_mem mem) {
    pthread_mutex_lock(&g_addr_lock);
    for (host_addr **p = &g_addr[bucket(mem)]; *p; p = &(*p)->next)
        if ((*p)->mem == mem) {
            host_addr *e = *p;
            *p = e->next;
            free(e);
            break;
        }
    pthread_mutex_unlock(&g_addr_lock);
}

/* The buffer is being destroyed: no command uses it any more. */
static void CL_CALLBACK forget(cl_mem mem, void *user) {
    (void)user;
    drop(mem);
}

typedef struct learn_args {
    void *mem; /* cl_mem on enqueue, its host address when run */
    host_addr *entry;
} learn_args;

static void CL_CALLBACK learn(void *arg) {
    learn_args *a = arg;
    atomic_store_explicit(&a->entry->host, (float *)a->mem, memory_order_release);
}

/* mem's entry; a new one is filled in by a native kernel queued now, before
 * the GEMM that needs it (a buffer is used by one queue: its ctx's). */
static levi_status host_addr_of(levi_ctx *ctx, cl_mem mem, host_addr **out) {
    pthread_mutex_lock(&g_addr_lock);
    host_addr *e = g_addr[bucket(mem)];
    while (e && e->mem != mem) e = e->next;
    if (!e && (e = calloc(1, sizeof *e)) != NULL) {
        e->mem = mem;
        e->next = g_addr[bucket(mem)];
        g_addr[bucket(mem)] = e;
        *out = e;
        pthread_mutex_unlock(&g_addr_lock);
        /* outside the lock: the runtime may run destructor callbacks in these calls */
        cl_int rc = clSetMemObjectDestructorCallback(mem, forget, NULL);
        learn_args a = {(void *)mem, e};
        const void *loc = &a.mem;
        if (rc == CL_SUCCESS) rc = clEnqueueNativeKernel(ctx->queue, learn, &a, sizeof a, 1, &mem, &loc, 0, NULL, NULL);
        if (rc != CL_SUCCESS) {
            drop(mem);
            return levi_error(rc, "OpenBLAS GEMM on '%s': learning a buffer's host address: %s", ctx->info.name,
                              levi_status_name(rc));
        }
        return LEVI_OK;
    }
    *out = e;
    pthread_mutex_unlock(&g_addr_lock);
    return e ? LEVI_OK : levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
}

/* --- the GEMM ------------------------------------------------------------------------ */

#define SMALL_MNK (1 << 21)
/* Two GEMMs that would each run on one thread (fewer than SMALL_MNK
 * multiply-adds) run side by side, unless the smaller has fewer than
 * PAIR_MIN_MNK (not worth a hand-off). Only those: OpenBLAS's results on one
 * thread differ in the last bits from those on two, and a pair computes
 * exactly what its two products compute alone. */
#define PAIR_MIN_MNK (1 << 18)

/* OpenBLAS's thread count for the other GEMMs; 0: leave it alone (set by the
 * environment, or no context on this path yet) */
static atomic_int g_threads;

typedef struct blas_job {
    host_addr *addr[3]; /* A, B, C */
    int trans_a, trans_b, M, N, K, batch;
    int lda, ldb, ldc;
    float alpha, beta;
    size_t off_a, off_b, off_c;          /* floats */
    size_t stride_a, stride_b, stride_c; /* floats between matrices of a batch */
    float *base[3];                      /* A, B, C's host addresses, when run */
} blas_job;

/* One native kernel: one GEMM, or two independent ones (levi_gemm2). */
typedef struct blas_cmd {
    void *mem[6]; /* the distinct buffers' addresses, in the runtime's order */
    int n_mem, n_jobs;
    atomic_int *fault; /* set when the addresses do not match (ctx's) */
    blas_job job[2];
} blas_cmd;

static void sgemm_job(const blas_job *j) {
    const float *A = j->base[0] + j->off_a, *B = j->base[1] + j->off_b;
    float *C = j->base[2] + j->off_c;
    enum CBLAS_TRANSPOSE ta = j->trans_a ? CblasTrans : CblasNoTrans, tb = j->trans_b ? CblasTrans : CblasNoTrans;
    for (int b = 0; b < j->batch; b++)
        cblas_sgemm(CblasRowMajor, ta, tb, j->M, j->N, j->K, j->alpha, A + (size_t)b * j->stride_a, j->lda,
                    B + (size_t)b * j->stride_b, j->ldb, j->beta, C + (size_t)b * j->stride_c, j->ldc);
}

/* multiply-adds of one matrix of the batch: what decides its thread count */
static double mnk(const blas_job *j) { return (double)j->M * j->N * j->K; }

static void set_threads(int want) {
    if (openblas_get_num_threads() != want) openblas_set_num_threads(want);
}

/* --- a second thread for the second GEMM of a pair ----------------------------------- *
 * Two small independent GEMMs (a layer's input and weight gradients), or the
 * two halves of a batch of small products, run side by side, each on one
 * OpenBLAS thread: while the native kernel runs,
 * the device's other worker has nothing of this queue to do. The helper
 * waits for work yielding its core (as OpenBLAS's own idle threads do) for
 * up to HELPER_SPIN_S after its last job, then sleeps; a second product it
 * has not started when the first is done is taken back and run in turn. */

#define HELPER_SPIN_S 1e-3

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* 0 idle, 1 a job posted, 3 the helper runs it, 2 done; -1 not started, -2 could not start */
    atomic_int state;
    atomic_flag busy; /* a pair holds the helper (two devices' queues may run pairs at once) */
    const blas_job *job;
} g_helper = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, -1, ATOMIC_FLAG_INIT, NULL};

static void *helper_main(void *arg) {
    (void)arg;
    for (;;) {
        double t0 = levi_now_s();
        while (atomic_load_explicit(&g_helper.state, memory_order_acquire) != 1) {
            if (levi_now_s() - t0 < HELPER_SPIN_S) {
                sched_yield();
                continue;
            }
            pthread_mutex_lock(&g_helper.mu);
            while (atomic_load_explicit(&g_helper.state, memory_order_acquire) != 1)
                pthread_cond_wait(&g_helper.cv, &g_helper.mu);
            pthread_mutex_unlock(&g_helper.mu);
        }
        int posted = 1;
        if (!atomic_compare_exchange_strong(&g_helper.state, &posted, 3)) continue; /* taken back */
        sgemm_job(g_helper.job);
        atomic_store_explicit(&g_helper.state, 2, memory_order_release);
    }
    return NULL;
}

/* Take the helper (starting it the first time); 0: run the pair in turn. */
static int helper_take(void) {
    if (atomic_flag_test_and_set(&g_helper.busy)) return 0;
    int st = atomic_load(&g_helper.state);
    if (st == -1) {
        pthread_t th;
        pthread_attr_t at;
        int ok = pthread_attr_init(&at) == 0;
        ok = ok && pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED) == 0;
        ok = ok && pthread_create(&th, &at, helper_main, NULL) == 0;
        pthread_attr_destroy(&at);
        atomic_store(&g_helper.state, st = ok ? 0 : -2);
    }
    if (st < 0) {
        atomic_flag_clear(&g_helper.busy);
        return 0;
    }
    return 1;
}

static void run_pair(const blas_job *first, const blas_job *second) {
    set_threads(1);
    g_helper.job = second;
    pthread_mutex_lock(&g_helper.mu);
    atomic_store_explicit(&g_helper.state, 1, memory_order_release);
    pthread_cond_signal(&g_helper.cv);
    pthread_mutex_unlock(&g_helper.mu);
    sgemm_job(first);
    /* not started yet (the helper was not scheduled in time, e.g. on a busy machine): take it
     * back, so that a pair never takes longer than its products in turn */
    int posted = 1;
    if (atomic_compare_exchange_strong(&g_helper.state, &posted, 0)) {
        sgemm_job(second);
        atomic_flag_clear(&g_helper.busy);
        return;
    }
    while (atomic_load_explicit(&g_helper.state, memory_order_acquire) != 2) sched_yield();
    atomic_store_explicit(&g_helper.state, 0, memory_order_relaxed);
    atomic_flag_clear(&g_helper.busy);
}

/* Make the calling runtime worker a batch thread (see the top of the file), once. */
static void worker_batch(void) {
#ifdef SCHED_BATCH
    static _Thread_local int done;
    if (done) return;
    done = 1;
    struct sched_param sp;
    int policy = 0;
    if (pthread_getschedparam(pthread_self(), &policy, &sp) != 0 || policy != SCHED_OTHER) return;
    sp.sched_priority = 0;
    (void)pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
#endif
}

static void CL_CALLBACK run_cmd(void *arg) {
    blas_cmd *c = arg;
    for (int n = 0; n < c->n_jobs; n++) {
        blas_job *j = &c->job[n];
        for (int i = 0; i < 3; i++) {
            j->base[i] = atomic_load_explicit(&j->addr[i]->host, memory_order_acquire);
            int given = 0;
            for (int k = 0; k < c->n_mem; k++) given |= j->base[i] && c->mem[k] == (void *)j->base[i];
            if (!given) {
                atomic_store(c->fault, 1);
                return;
            }
        }
    }
    const int many = atomic_load_explicit(&g_threads, memory_order_relaxed);
    if (many > 1) worker_batch();
    /* both on one thread anyway, and the smaller worth the hand-off; this thread takes the larger
     * (it starts at once, the helper may not) */
    if (c->n_jobs == 2 && many > 1) {
        const int big = mnk(&c->job[1]) > mnk(&c->job[0]);
        const blas_job *large = &c->job[big], *other = &c->job[!big];
        if (mnk(large) < SMALL_MNK && mnk(other) >= PAIR_MIN_MNK && helper_take()) {
            run_pair(large, other);
            return;
        }
    }
    /* a batch of products that each run on one thread: its second half on the helper (each
     * product is computed as alone, on one thread, whichever thread runs it) */
    const blas_job *one = &c->job[0];
    if (c->n_jobs == 1 && many > 1 && one->batch > 1 && mnk(one) < SMALL_MNK &&
        mnk(one) * (one->batch / 2) >= PAIR_MIN_MNK && helper_take()) {
        blas_job lo = *one, hi = *one;
        lo.batch = one->batch - one->batch / 2;
        hi.batch = one->batch / 2;
        hi.off_a += (size_t)lo.batch * one->stride_a;
        hi.off_b += (size_t)lo.batch * one->stride_b;
        hi.off_c += (size_t)lo.batch * one->stride_c;
        run_pair(&lo, &hi);
        return;
    }
    for (int n = 0; n < c->n_jobs; n++) {
        if (many > 1) set_threads(mnk(&c->job[n]) < SMALL_MNK ? 1 : many);
        sgemm_job(&c->job[n]);
    }
}

int gemm_openblas_applies(const levi_ctx *ctx, const char **why) {
    const char *no = NULL;
    cl_device_exec_capabilities caps = 0;
    cl_bool unified = CL_FALSE;
    if (!(ctx->info.type & CL_DEVICE_TYPE_CPU))
        no = "not a CPU device";
    else if (clGetDeviceInfo(ctx->info.device, CL_DEVICE_EXECUTION_CAPABILITIES, sizeof caps, &caps, NULL) !=
                 CL_SUCCESS ||
             !(caps & CL_EXEC_NATIVE_KERNEL))
        no = "the device does not run native kernels";
    else if (clGetDeviceInfo(ctx->info.device, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof unified, &unified, NULL) !=
                 CL_SUCCESS ||
             !unified)
        no = "the device's memory is not host memory";
    if (why) *why = no;
    return no == NULL;
}

void gemm_openblas_ctx_init(levi_ctx *ctx) {
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static int done;
    pthread_mutex_lock(&lock);
    if (!done && !getenv("OPENBLAS_NUM_THREADS") && !getenv("OMP_NUM_THREADS")) {
        /* the first context on the OpenBLAS path decides (OpenBLAS has one pool per process) */
        int have = openblas_get_num_threads(), units = (int)ctx->info.compute_units;
        if (units > 0 && units < have) {
            openblas_set_num_threads(units);
            LEVI_DEBUG("OpenBLAS threads: %d (the compute units of '%s'; OpenBLAS had %d)", units, ctx->info.name,
                       have);
        }
        atomic_store(&g_threads, openblas_get_num_threads());
    }
    done = 1;
    pthread_mutex_unlock(&lock);
}

/* Floats op(X) of rows x cols spans with leading dimension ld, from its first. */
static size_t extent(int trans, int rows, int cols, size_t ld) {
    int r = trans ? cols : rows, c = trans ? rows : cols;
    return (size_t)(r - 1) * ld + (size_t)c;
}

static levi_status check_buffer(levi_ctx *ctx, cl_mem buf, size_t end_floats, const char *name, int *sub) {
    cl_mem parent = NULL;
    size_t bytes = 0;
    LEVI_CL_CHECK(clGetMemObjectInfo(buf, CL_MEM_ASSOCIATED_MEMOBJECT, sizeof parent, &parent, NULL));
    LEVI_CL_CHECK(clGetMemObjectInfo(buf, CL_MEM_SIZE, sizeof bytes, &bytes, NULL));
    if (parent) *sub = 1;
    if (end_floats > bytes / sizeof(float))
        return levi_error(LEVI_ERR_SHAPE, "GEMM on '%s': %s reaches float %zu of a buffer of %zu floats",
                          ctx->info.name, name, end_floats, bytes / sizeof(float));
    return LEVI_OK;
}

/* Check g's operands and fill job, adding its buffers to c's list. */
static levi_status prepare(levi_ctx *ctx, const gemm_call *g, blas_cmd *c, blas_job *j, cl_mem *list) {
    /* the last float each operand touches must lie inside its buffer: a
     * native kernel writes host memory directly, nothing else checks it */
    size_t last = (size_t)(g->batch - 1);
    int sub = 0;
    LEVI_TRY(check_buffer(ctx, g->A->buf, g->A->offset + last * g->stride_a + extent(g->trans_a, g->M, g->K, g->lda),
                          "A", &sub));
    LEVI_TRY(check_buffer(ctx, g->B->buf, g->B->offset + last * g->stride_b + extent(g->trans_b, g->K, g->N, g->ldb),
                          "B", &sub));
    LEVI_TRY(check_buffer(ctx, g->C->buf, g->C->offset + last * g->stride_c + extent(0, g->M, g->N, g->ldc), "C",
                          &sub));
    /* a sub-buffer's host address is not portable across runtimes (PoCL
     * passes its parent's): such calls go to CLBlast */
    if (sub) return LEVI_ERR_UNSUPPORTED;
    memset(j, 0, sizeof *j);
    const levi_tensor *op[3] = {g->A, g->B, g->C};
    for (int i = 0; i < 3; i++) {
        LEVI_TRY(host_addr_of(ctx, op[i]->buf, &j->addr[i]));
        int k = 0;
        while (k < c->n_mem && list[k] != op[i]->buf) k++;
        if (k == c->n_mem) {
            list[k] = op[i]->buf;
            c->mem[k] = (void *)op[i]->buf;
            c->n_mem++;
        }
    }
    j->trans_a = g->trans_a, j->trans_b = g->trans_b;
    j->M = g->M, j->N = g->N, j->K = g->K, j->batch = g->batch;
    j->lda = (int)g->lda, j->ldb = (int)g->ldb, j->ldc = (int)g->ldc;
    j->alpha = g->alpha, j->beta = g->beta;
    j->off_a = g->A->offset, j->off_b = g->B->offset, j->off_c = g->C->offset;
    j->stride_a = g->stride_a, j->stride_b = g->stride_b, j->stride_c = g->stride_c;
    c->n_jobs++;
    return LEVI_OK;
}

/* g, then g2 (may be NULL; independent of g) in one native kernel */
levi_status gemm_openblas2(levi_ctx *ctx, const gemm_call *g, const gemm_call *g2) {
    if (atomic_exchange(&ctx->gemm->blas_fault, 0))
        return levi_error(LEVI_ERR_CHECK_FAILED,
                          "an earlier OpenBLAS GEMM on '%s' was skipped: the runtime handed it buffer addresses "
                          "other than those learnt for its buffers", ctx->info.name);
    blas_cmd c;
    memset(&c, 0, sizeof c);
    cl_mem list[6];
    LEVI_TRY(prepare(ctx, g, &c, &c.job[0], list));
    if (g2) LEVI_TRY(prepare(ctx, g2, &c, &c.job[1], list));
    c.fault = &ctx->gemm->blas_fault;
    const void *locs[6];
    for (int k = 0; k < c.n_mem; k++) locs[k] = &c.mem[k];
    cl_event ev; /* profiling only */
    cl_int rc = clEnqueueNativeKernel(ctx->queue, run_cmd, &c, sizeof c, (cl_uint)c.n_mem, list, locs, 0, NULL,
                                      levi_profile_event(ctx, &ev));
    levi_profile_track(ctx, g2 ? "sgemm pair (OpenBLAS)" : g->batched ? "sgemm_batched (OpenBLAS)" : "sgemm (OpenBLAS)",
                       &ev);
    if (rc != CL_SUCCESS)
        return levi_error(rc, "enqueueing OpenBLAS SGEMM %dx%dx%d x%d%s on '%s': %s", g->M, g->N, g->K, g->batch,
                          g2 ? " and its pair" : "", ctx->info.name, levi_status_name(rc));
    return LEVI_OK;
}

levi_status gemm_openblas(levi_ctx *ctx, const gemm_call *g) { return gemm_openblas2(ctx, g, NULL); }
