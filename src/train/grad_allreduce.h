/* grad_allreduce.h - how the flat gradient is summed across ranks.
 *
 * A table of backends (grad_allreduce_find by name). "mpi" sums doubles with
 * MPI_Allreduce over dist_comm(); the trainer converts each rank's float
 * gradient sum to double first, so the cross-rank sum adds no float
 * rounding. "nccl" copies the host gradient to the GPU and sums it with
 * ncclAllReduce (ncclFloat64) on src/dist/nccl_comm's process-wide
 * communicator; without CUDA or a device it falls back to MPI_Allreduce.
 * grad_allreduce_resolve turns the config key train.allreduce
 * (auto | mpi | nccl) into a backend and refuses "nccl" where it cannot run.
 */
#ifndef ASSORT_TRAIN_GRAD_ALLREDUCE_H
#define ASSORT_TRAIN_GRAD_ALLREDUCE_H

#include <stddef.h>

struct grad_allreduce {
    const char *name;
    /* In-place sum of buf (count doubles) over all ranks; every rank gets
     * the same result. Collective. Returns a status. */
    int (*sum_f64)(double *buf, size_t count);
};

/* The backend called `name` ("mpi" | "nccl"), or NULL when it is not built in. */
const struct grad_allreduce *grad_allreduce_find(const char *name);

/* Resolves the train.allreduce mode to a backend in *out (static, not owned):
 *   "mpi"  -> mpi;
 *   "nccl" -> nccl when every rank sees a CUDA device (which needs a build
 *             with CUDA/NCCL), else ST_USAGE with a one-line message naming
 *             the key, the reason and the fix (train.allreduce=mpi or auto);
 *   "auto" (or NULL / "") -> nccl when every rank sees a CUDA device, else mpi.
 * Any other mode is ST_USAGE. Collective (the ranks agree on GPU presence so
 * they all pick the same backend); every rank gets the same status. */
int grad_allreduce_resolve(const char *mode, const struct grad_allreduce **out);

#endif
