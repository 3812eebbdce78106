/* The comm layer's backend: world 1 (comm_single.c) or MPI (comm_mpi.c),
 * chosen at build time. Every collective waits at most c->timeout_s. */
#ifndef LEVI_COMM_INTERNAL_H
#define LEVI_COMM_INTERNAL_H

#include "levi/comm.h"

struct levi_comm {
    int rank, size, local_rank;
    int mpi;         /* 1 when MPI was initialised by levi_comm_open */
    int failed;      /* a collective failed or timed out: never wait on the others again */
    double timeout_s;
};

typedef enum { COMM_F32, COMM_F64 } comm_type;

/* MPI_Init (thread level funneled) and the world's rank and size. */
levi_status comm_backend_init(levi_comm *c);
/* MPI_Finalize when clean and nothing failed. */
void comm_backend_finalize(levi_comm *c, int clean);
levi_status comm_backend_sum(levi_comm *c, void *buf, size_t n, comm_type type, const char *what);
levi_status comm_backend_bcast(levi_comm *c, void *buf, size_t bytes, int root, const char *what);
levi_status comm_backend_allgather(levi_comm *c, const void *mine, void *all, size_t bytes, const char *what);
levi_status comm_backend_barrier(levi_comm *c, const char *what);

#endif
