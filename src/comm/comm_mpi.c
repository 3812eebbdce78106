/* The comm backend over MPI (Open MPI): non-blocking collectives polled
 * against the run's timeout, so that a rank that died or hangs turns into
 * an error on the others instead of a wait forever. */
#include <limits.h>
#include <mpi.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include "comm_internal.h"

int levi_comm_have_mpi(void) { return 1; }

/* MPI counts are int: long buffers go in pieces of at most this many elements. */
#define CHUNK ((size_t)1 << 26)

static levi_status mpi_fail(levi_comm *c, int rc, const char *call, const char *what) {
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    c->failed = 1;
    return levi_error(LEVI_ERR_COMM, "rank %d: %s in %s failed: %s", c->rank, call, what, msg);
}

/* Poll a request until it completes or the run's timeout passes. MPI makes
 * progress on a non-blocking collective only inside MPI_Test, and a long
 * sum goes in many segments: for the first 50 ms the poll only yields the
 * core between tests (a sum between live ranks is quick); after that it
 * naps, up to 1 ms, so a rank that waits on a slow one leaves it the cores. */
static levi_status wait_req(levi_comm *c, MPI_Request *req, const char *call, const char *what) {
    double t0 = levi_now_s(), t;
    long nap_ns = 20000;
    for (;;) {
        int done = 0;
        int rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return mpi_fail(c, rc, call, what);
        if (done) return LEVI_OK;
        t = levi_now_s() - t0;
        if (t > c->timeout_s) {
            c->failed = 1;
            return levi_error(LEVI_ERR_COMM,
                              "rank %d: %s did not complete within %g s: another rank died or hangs "
                              "(LEVI_COMM_TIMEOUT sets the limit in seconds)",
                              c->rank, what, c->timeout_s);
        }
        if (t < 0.05) {
            sched_yield();
            continue;
        }
        struct timespec ts = {0, nap_ns};
        nanosleep(&ts, NULL);
        if (nap_ns < 1000000) nap_ns *= 2;
    }
}

levi_status comm_backend_init(levi_comm *c) {
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
        int provided = 0;
        int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
        if (rc != MPI_SUCCESS) return mpi_fail(c, rc, "MPI_Init_thread", "joining the run");
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &c->size);
    MPI_Comm node;
    c->local_rank = 0;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
        MPI_Comm_rank(node, &c->local_rank);
        MPI_Comm_free(&node);
    }
    c->mpi = 1;
    return LEVI_OK;
}

void comm_backend_finalize(levi_comm *c, int clean) {
    if (!c->mpi) return;
    int finalized = 0;
    MPI_Finalized(&finalized);
    /* After a failure, MPI_Finalize could wait for a rank that is gone. */
    if (clean && !c->failed && !finalized) MPI_Finalize();
    c->mpi = 0;
}

levi_status comm_backend_sum(levi_comm *c, void *buf, size_t n, comm_type type, const char *what) {
    MPI_Datatype dt = type == COMM_F32 ? MPI_FLOAT : MPI_DOUBLE;
    size_t esz = type == COMM_F32 ? sizeof(float) : sizeof(double);
    for (size_t off = 0; off < n; off += CHUNK) {
        int cnt = (int)(n - off < CHUNK ? n - off : CHUNK);
        char *p = (char *)buf + off * esz;
        MPI_Request req;
        /* Reduce to rank 0, then broadcast: every rank gets rank 0's bits. */
        int rc = MPI_Ireduce(c->rank == 0 ? MPI_IN_PLACE : p, c->rank == 0 ? p : NULL, cnt, dt, MPI_SUM, 0,
                             MPI_COMM_WORLD, &req);
        if (rc != MPI_SUCCESS) return mpi_fail(c, rc, "MPI_Ireduce", what);
        LEVI_TRY(wait_req(c, &req, "MPI_Ireduce", what));
        rc = MPI_Ibcast(p, cnt, dt, 0, MPI_COMM_WORLD, &req);
        if (rc != MPI_SUCCESS) return mpi_fail(c, rc, "MPI_Ibcast", what);
        LEVI_TRY(wait_req(c, &req, "MPI_Ibcast", what));
    }
    return LEVI_OK;
}

levi_status comm_backend_bcast(levi_comm *c, void *buf, size_t bytes, int root, const char *what) {
    for (size_t off = 0; off < bytes; off += CHUNK) {
        int cnt = (int)(bytes - off < CHUNK ? bytes - off : CHUNK);
        MPI_Request req;
        int rc = MPI_Ibcast((char *)buf + off, cnt, MPI_BYTE, root, MPI_COMM_WORLD, &req);
        if (rc != MPI_SUCCESS) return mpi_fail(c, rc, "MPI_Ibcast", what);
        LEVI_TRY(wait_req(c, &req, "MPI_Ibcast", what));
    }
    return LEVI_OK;
}

levi_status comm_backend_allgather(levi_comm *c, const void *mine, void *all, size_t bytes, const char *what) {
    if (bytes > (size_t)INT_MAX)
        return levi_error(LEVI_ERR_INVALID_ARG, "%s: %zu bytes per rank is more than one gather takes", what, bytes);
    MPI_Request req;
    int rc = MPI_Iallgather(mine, (int)bytes, MPI_BYTE, all, (int)bytes, MPI_BYTE, MPI_COMM_WORLD, &req);
    if (rc != MPI_SUCCESS) return mpi_fail(c, rc, "MPI_Iallgather", what);
    return wait_req(c, &req, "MPI_Iallgather", what);
}

levi_status comm_backend_barrier(levi_comm *c, const char *what) {
    MPI_Request req;
    int rc = MPI_Ibarrier(MPI_COMM_WORLD, &req);
    if (rc != MPI_SUCCESS) return mpi_fail(c, rc, "MPI_Ibarrier", what);
    return wait_req(c, &req, "MPI_Ibarrier", what);
}
