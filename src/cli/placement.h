/* Where a levi-cl run computes: the devices of this process (--device, or
 * --devices SEL,SEL,... for data parallelism), the backbone stage's device
 * (--backbone-device), and the ranks of an MPI run (mpirun -np N). */
#ifndef LEVI_CLI_PLACEMENT_H
#define LEVI_CLI_PLACEMENT_H

#include "cli.h"
#include "levi/comm.h"

#define CLI_MAX_DEVICES 16

typedef struct cli_placement {
    levi_comm *comm;               /* world 1 without mpirun */
    levi_ctx *ctx[CLI_MAX_DEVICES]; /* one replica of the head (and backbone) per device */
    int n;
    levi_ctx *backbone_ctx; /* the backbone stage's own ctx, NULL when with the head */
} cli_placement;

/* Join the run (MPI under mpirun) and open the devices. devices: a comma-
 * separated list of selectors or NULL; backbone: a selector or NULL. Without
 * either: env->device (else LEVI_DEVICE, else the default), except that the
 * ranks of an MPI run without --device take one device each (local rank r:
 * the r-th GPU, else the r-th device, modulo their count). A device named
 * twice, or --devices with --device or --backbone-device, is an error. */
levi_status cli_placement_open(cli_placement *p, const cli_env *env, const char *devices, const char *backbone);

/* Close the devices and leave the run (clean: after success; see
 * levi_comm_close). */
void cli_placement_close(cli_placement *p, int clean);

/* "world_size":N,"devices":["name",...] (backbone stage first when placed
 * apart) for a summary line; malloc'ed. */
char *cli_placement_json(const cli_placement *p);

/* The ranks must agree: argv's options (except where each rank may differ:
 * --device, --devices, --backbone-device) and n extra (name, value) pairs
 * that describe the inputs (image count, classes, ...). World 1: LEVI_OK. */
levi_status cli_placement_check(cli_placement *p, int argc, char **argv, const char *const *extra, int n_extra);

#endif
