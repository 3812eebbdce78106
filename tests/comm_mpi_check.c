/* The comm layer across Open MPI ranks, run by test_comm_mpi.sh under
 * `mpirun -np 2`. One mode per run:
 *   sums     rank and size, sums of floats and doubles (bit-identical on
 *            every rank), broadcast, gather, an agreeing configuration, and
 *            a gradient sum of one device replica per rank
 *   config   ranks that disagree on 'lr': every rank fails with one message
 *   die      rank 1 is killed (SIGKILL) while rank 0 waits in a sum
 *   exit     rank 1 exits with an error while rank 0 waits in a sum
 *   hang     rank 1 sleeps while rank 0 waits in a sum (LEVI_COMM_TIMEOUT)
 * Each rank writes its pid to $LEVI_TEST_PIDS/rank<R> so the script can see
 * that none is left. Exit 0: the mode behaved as expected on this rank. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "levi/levi.h"

#define FAIL(...)                                                      \
    do {                                                               \
        fprintf(stderr, "rank %d: FAIL: ", rank);                      \
        fprintf(stderr, __VA_ARGS__);                                  \
        fputc('\n', stderr);                                           \
        levi_comm_close(c, 0);                                         \
        return 1;                                                      \
    } while (0)
#define OK_OR_FAIL(expr)                                                                       \
    do {                                                                                       \
        levi_status st_ = (expr);                                                              \
        if (st_ != LEVI_OK) FAIL("%s -> %s: %s", #expr, levi_status_name(st_), levi_last_error()); \
    } while (0)

static void write_pid(int rank) {
    const char *dir = getenv("LEVI_TEST_PIDS");
    if (!dir) return;
    char path[1024];
    snprintf(path, sizeof path, "%s/rank%d", dir, rank);
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "%d\n", (int)getpid());
        fclose(f);
    }
}

/* One replica per rank on device local_rank of the list: the ranks' sum. */
static int device_sum(levi_comm *c, int rank, int size) {
    levi_device_list list;
    if (levi_device_list_query(&list) != LEVI_OK || list.count == 0) {
        levi_comm_printf(c, stderr, "no OpenCL device: the device part is skipped\n");
        return 0;
    }
    levi_ctx *ctx = NULL;
    levi_status st = levi_ctx_create(&ctx, &list.devices[levi_comm_local_rank(c) % list.count]);
    levi_device_list_free(&list);
    if (st != LEVI_OK) FAIL("levi_ctx_create: %s", levi_last_error());
    enum { N = 3001 };
    levi_tensor t;
    OK_OR_FAIL(levi_tensor_alloc1(&t, ctx, N));
    float *x = malloc(N * sizeof *x);
    for (int i = 0; i < N; i++) x[i] = (float)(rank + 1) * 0.5f + (float)i;
    OK_OR_FAIL(levi_tensor_write(&t, x));
    levi_grad_sum *s = NULL;
    OK_OR_FAIL(levi_grad_sum_create(&s, c, 1, 1, &t));
    OK_OR_FAIL(levi_grad_sum_run(s));
    OK_OR_FAIL(levi_tensor_read(&t, x));
    for (int i = 0; i < N; i++) {
        double want = 0;
        for (int r = 0; r < size; r++) want += (r + 1) * 0.5 + i;
        if (!isfinite(x[i]) || fabs(x[i] - want) > 1e-3) FAIL("device sum[%d] = %g, expected %g", i, x[i], want);
    }
    levi_grad_sum_destroy(s);
    free(x);
    levi_tensor_free(&t);
    levi_ctx_destroy(ctx);
    return 0;
}

static int sums(levi_comm *c, int rank, int size) {
    if (size != 2) FAIL("world size %d, expected 2 (mpirun -np 2)", size);
    if (strcmp(levi_comm_backend(c), "mpi")) FAIL("backend %s, expected mpi", levi_comm_backend(c));
    /* Longer than one message of the shared-memory transport. */
    size_t n = ((size_t)1 << 20) + 3;
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = 1.0f / (float)(i + 1 + rank * 7);
    OK_OR_FAIL(levi_comm_sum_f32(c, x, n, "a float sum"));
    for (size_t i = 0; i < n; i++) {
        float want = 1.0f / (float)(i + 1) + 1.0f / (float)(i + 8);
        if (!(fabsf(x[i] - want) <= 1e-6f * want)) FAIL("float sum[%zu] = %g, expected %g", i, x[i], want);
    }
    /* Every rank holds rank 0's bits. */
    unsigned char *all = malloc(2 * 64);
    OK_OR_FAIL(levi_comm_allgather(c, x, all, 64, "a gather of sums"));
    if (memcmp(all, all + 64, 64)) FAIL("the ranks hold different bits of one sum");
    free(all);
    free(x);
    double d[2] = {rank + 0.25, 1e300};
    OK_OR_FAIL(levi_comm_sum_f64(c, d, 1, "a double sum"));
    if (d[0] != 1.5 || d[1] != 1e300) FAIL("double sum %g, expected 1.5", d[0]);
    char word[8] = "";
    if (rank == 1) strcpy(word, "rank1");
    OK_OR_FAIL(levi_comm_bcast(c, word, sizeof word, 1, "a broadcast"));
    if (strcmp(word, "rank1")) FAIL("broadcast gave '%s'", word);
    int mine = 10 + rank, got[2] = {0, 0};
    OK_OR_FAIL(levi_comm_allgather(c, &mine, got, sizeof mine, "a gather"));
    if (got[0] != 10 || got[1] != 11) FAIL("gather gave %d %d", got[0], got[1]);
    const char *kv[] = {"method", "levi", "lr", "0.001"};
    OK_OR_FAIL(levi_comm_check_config(c, kv, 2));
    OK_OR_FAIL(levi_comm_barrier(c, "a barrier"));
    if (device_sum(c, rank, size)) return 1;
    levi_comm_printf(c, stdout, "sums: ok on %d ranks\n", size);
    levi_comm_close(c, 1);
    return 0;
}

static int config(levi_comm *c, int rank) {
    const char *kv[] = {"method", "levi", "lr", rank ? "0.002" : "0.001", "batch", "64"};
    levi_status st = levi_comm_check_config(c, kv, 3);
    const char *want = "ranks disagree on the configuration: option 'lr' is '0.002' on rank 1 but '0.001' on rank 0";
    if (st != LEVI_ERR_INVALID_ARG || strcmp(levi_last_error(), want))
        FAIL("check_config -> %s: '%s', expected '%s'", levi_status_name(st), levi_last_error(), want);
    /* A rank missing an option. */
    st = levi_comm_check_config(c, kv, rank ? 2 : 3);
    want = "ranks disagree on the configuration: option 'lr' is '0.002' on rank 1 but '0.001' on rank 0";
    if (st != LEVI_ERR_INVALID_ARG || strcmp(levi_last_error(), want))
        FAIL("check_config -> %s: '%s'", levi_status_name(st), levi_last_error());
    const char *kv2[] = {"method", "levi", "lr", "0.001", "batch", "64"};
    st = levi_comm_check_config(c, kv2, rank ? 2 : 3);
    want = "ranks disagree on the configuration: rank 0 has option 'batch' = '64' that rank 1 lacks";
    if (st != LEVI_ERR_INVALID_ARG || strcmp(levi_last_error(), want))
        FAIL("check_config -> %s: '%s', expected '%s'", levi_status_name(st), levi_last_error(), want);
    levi_comm_printf(c, stdout, "config: ok\n");
    levi_comm_close(c, 1);
    return 0;
}

/* Rank 1 leaves (how depends on the mode) after one good sum; rank 0 goes on
 * summing and must not come back with success. */
static int leave(levi_comm *c, int rank, const char *mode) {
    float x[4] = {1, 2, 3, 4};
    OK_OR_FAIL(levi_comm_sum_f32(c, x, 4, "the first sum"));
    if (rank == 1) {
        if (!strcmp(mode, "die")) raise(SIGKILL);
        if (!strcmp(mode, "exit")) {
            fprintf(stderr, "rank 1: leaving with an error, as a command that failed\n");
            levi_comm_close(c, 0);
            return 1;
        }
        sleep(120); /* hang: mpirun ends this rank once rank 0 gave up */
        return 1;
    }
    for (int i = 0; i < 1000; i++) {
        levi_status st = levi_comm_sum_f32(c, x, 4, "the gradient sum");
        if (st != LEVI_OK) {
            fprintf(stderr, "rank 0: %s: %s\n", levi_status_name(st), levi_last_error());
            levi_comm_close(c, 0);
            return 3;
        }
    }
    FAIL("1000 sums went through without rank 1");
}

int main(int argc, char **argv) {
    levi_log_init();
    const char *mode = argc > 1 ? argv[1] : "";
    levi_comm *c = NULL;
    levi_status st = levi_comm_open(&c, NULL);
    if (st != LEVI_OK) {
        fprintf(stderr, "levi_comm_open: %s\n", levi_last_error());
        return 1;
    }
    int rank = levi_comm_rank(c), size = levi_comm_size(c);
    levi_comm_quiet_others(c);
    write_pid(rank);
    if (!strcmp(mode, "sums")) return sums(c, rank, size);
    if (!strcmp(mode, "config")) return config(c, rank);
    if (!strcmp(mode, "die") || !strcmp(mode, "exit") || !strcmp(mode, "hang")) return leave(c, rank, mode);
    FAIL("usage: comm_mpi_check sums|config|die|exit|hang");
}
