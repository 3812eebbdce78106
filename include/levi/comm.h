/* levi/comm.h — the participants of one training run and the sums between
 * them: one process (world 1), several devices in one process, and Open MPI
 * ranks (`mpirun -np N levi-cl ...`, when liblevi is built with MPI).
 *
 * A run is `size` ranks (processes), each holding `n_local` replicas of the
 * trainable gradients (one per device it drives). levi_grad_sum adds the
 * replicas of every rank and writes the total back into each replica, so
 * clip and AdamW then run identically everywhere. Sums are reduced to rank 0
 * and broadcast, so every rank holds bit-identical totals (an allreduce may
 * round differently on different ranks, and the replicas would drift).
 *
 * Every collective waits at most the run's timeout (LEVI_COMM_TIMEOUT
 * seconds, default 600): a rank that died or hangs makes the others fail
 * with LEVI_ERR_COMM instead of waiting forever. After any failure, close
 * with clean = 0 and exit non-zero: mpirun then ends the whole job. */
#ifndef LEVI_COMM_H
#define LEVI_COMM_H

#include <stddef.h>
#include <stdio.h>

#include "levi/status.h"
#include "levi/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct levi_comm levi_comm;

typedef struct levi_comm_options {
    /* -1 auto: MPI when the process was started by an MPI launcher (and
     * liblevi has MPI); 0 never (world 1); 1 MPI required. */
    int mpi;
    /* Seconds a collective may wait; 0: $LEVI_COMM_TIMEOUT, else 600. */
    double timeout_s;
} levi_comm_options;

/* 1 when liblevi was built with MPI (meson -Dmpi=enabled|auto and found). */
int levi_comm_have_mpi(void);

/* The world size an MPI launcher announced in the environment
 * (OMPI_COMM_WORLD_SIZE, PMI_SIZE), 0 when not started by one. */
int levi_comm_launcher_size(void);

/* Join the run: MPI_Init under a launcher (see options), else world 1.
 * Started by mpirun with N > 1 ranks but built without MPI is an error that
 * says how to build with it. opt may be NULL (auto, default timeout). */
levi_status levi_comm_open(levi_comm **out, const levi_comm_options *opt);

/* Leave the run. clean = 1 after success: MPI_Finalize (waits for the other
 * ranks). clean = 0 after an error, or when a collective failed: returns at
 * once without waiting for anyone (exit non-zero next; mpirun ends the job). */
void levi_comm_close(levi_comm *c, int clean);

int levi_comm_rank(const levi_comm *c);
int levi_comm_size(const levi_comm *c);
/* Rank among the ranks on this machine (0 without MPI): picks a device. */
int levi_comm_local_rank(const levi_comm *c);
int levi_comm_is_root(const levi_comm *c);
/* "single" or "mpi". */
const char *levi_comm_backend(const levi_comm *c);
double levi_comm_timeout(const levi_comm *c);

/* --- collectives (every rank calls them in the same order) ---------------- */

/* Sum n values over every rank, in place; every rank gets the same total.
 * `what` names the sum in a timeout error ("the gradient sum"). */
levi_status levi_comm_sum_f32(levi_comm *c, float *buf, size_t n, const char *what);
levi_status levi_comm_sum_f64(levi_comm *c, double *buf, size_t n, const char *what);
/* Rank `root`'s bytes to every rank. */
levi_status levi_comm_bcast(levi_comm *c, void *buf, size_t bytes, int root, const char *what);
/* Every rank's `bytes` bytes into all (size * bytes, rank order). */
levi_status levi_comm_allgather(levi_comm *c, const void *mine, void *all, size_t bytes, const char *what);
levi_status levi_comm_barrier(levi_comm *c, const char *what);

/* All ranks must run the same configuration: n (name, value) pairs in
 * kv[2i], kv[2i+1], in a fixed order (the options that shape the result,
 * not the ones that may differ per rank such as the device). The pairs are
 * hashed and compared; when ranks differ, every rank returns
 * LEVI_ERR_INVALID_ARG with one message naming the first differing option
 * and both values ("... option 'lr' is '0.002' on rank 1 but '0.001' on
 * rank 0"). World 1: LEVI_OK. */
levi_status levi_comm_check_config(levi_comm *c, const char *const *kv, int n);

/* The first pair where two configurations differ: its index, or -1 when
 * equal. A pair missing from one side counts as differing. */
int levi_config_first_difference(const char *const *a, int na, const char *const *b, int nb);

/* Rows [*start, *start + *count) of a global batch of n rows that
 * participant `part` of `parts` computes: consecutive shards whose sizes
 * differ by at most one (the first n % parts get one more). */
void levi_comm_shard(int n, int part, int parts, int *start, int *count);

/* --- output from rank 0 only ---------------------------------------------- */

/* fprintf on rank 0; nothing on the other ranks (returns 0 there). */
int levi_comm_printf(const levi_comm *c, FILE *f, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* On ranks other than 0: log lines carry "rank R" and info lines are
 * dropped (warnings and errors remain), unless LEVI_LOG asks for a level. */
void levi_comm_quiet_others(const levi_comm *c);

/* --- gradient sums over devices and ranks --------------------------------- */

typedef struct levi_grad_sum levi_grad_sum;

/* n_local replicas of the same n_groups gradient tensors, replica-major:
 * groups[r * n_groups + g] is group g of replica r (replica r on its own
 * context, or on several: each tensor is read and written on its own
 * context's queue; group g has the same numel in every replica). The
 * tensors are borrowed: they must outlive the sum. Host staging is
 * allocated once. */
levi_status levi_grad_sum_create(levi_grad_sum **out, levi_comm *c, int n_local, int n_groups,
                                 const levi_tensor *groups);

/* Add group g of every replica on every rank and write the total into each
 * replica (reads, a fixed-order host sum, the ranks' sum, non-blocking
 * writes). Work queued on the replicas' queues after this call sees the
 * totals. One replica and world 1: nothing to do, returns at once. */
levi_status levi_grad_sum_run(levi_grad_sum *s);

/* Floats in one replica's groups: 4× this is the bytes each rank sends (and
 * receives) per step across ranks. */
size_t levi_grad_sum_floats(const levi_grad_sum *s);

void levi_grad_sum_destroy(levi_grad_sum *s);

#ifdef __cplusplus
}
#endif
#endif
