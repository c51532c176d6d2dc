#include "grad_allreduce.h"

#include <string.h>

#include "dist/dist.h"
#include "dist/nccl_comm.h"
#include "util/status.h"

static int mpi_sum_f64(double *buf, size_t count) { return dist_allreduce_sum_f64(buf, count); }

/* Host gradient -> device buffer -> ncclAllReduce (float64) -> host, on the
 * process-wide NCCL communicator (made on the first call, which every rank
 * makes together). Heads are small (Lite0 linear head: 1280 x C doubles), so
 * this is for the correctness of the GPU path, not for speed; without a GPU
 * the communicator falls back to MPI_Allreduce (docs/gpu.md). */
static int nccl_sum_f64(double *buf, size_t count) {
    struct nccl_comm *c = NULL;
    int rc = nccl_comm_global(&c);
    if (rc != ST_OK) return rc;
    return nccl_comm_sum_host_f64(c, buf, count);
}

static const struct grad_allreduce backends[] = {
    {.name = "mpi", .sum_f64 = mpi_sum_f64},
    {.name = "nccl", .sum_f64 = nccl_sum_f64},
};

const struct grad_allreduce *grad_allreduce_find(const char *name) {
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (!strcmp(backends[i].name, name)) return &backends[i];
    return NULL;
}
