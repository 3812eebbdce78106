/* The comm backend of a liblevi built without MPI: world 1, where every
 * collective is the identity. */
#include <string.h>

#include "comm_internal.h"

int levi_comm_have_mpi(void) { return 0; }

levi_status comm_backend_init(levi_comm *c) {
    (void)c;
    return levi_error(LEVI_ERR_UNSUPPORTED,
                      "this levi-cl was built without MPI: install libopenmpi-dev and rebuild "
                      "(meson setup BUILD -Dmpi=enabled)");
}

void comm_backend_finalize(levi_comm *c, int clean) {
    (void)c;
    (void)clean;
}

levi_status comm_backend_sum(levi_comm *c, void *buf, size_t n, comm_type type, const char *what) {
    (void)c, (void)buf, (void)n, (void)type, (void)what;
    return LEVI_OK;
}

levi_status comm_backend_bcast(levi_comm *c, void *buf, size_t bytes, int root, const char *what) {
    (void)c, (void)buf, (void)bytes, (void)root, (void)what;
    return LEVI_OK;
}

levi_status comm_backend_allgather(levi_comm *c, const void *mine, void *all, size_t bytes, const char *what) {
    (void)c, (void)what;
    if (all != mine) memcpy(all, mine, bytes);
    return LEVI_OK;
}

levi_status comm_backend_barrier(levi_comm *c, const char *what) {
    (void)c, (void)what;
    return LEVI_OK;
}
