/* grad_allreduce.h - how the flat gradient is summed across ranks.
 *
 * A table of backends (grad_allreduce_find by name). "mpi" sums doubles with
 * MPI_Allreduce over dist_comm(); the trainer converts each rank's float
 * gradient sum to double first, so the cross-rank sum adds no float
 * rounding. A GPU build adds an "nccl" entry here (ncclAllReduce on the
 * foundation's communicator, ncclFloat64) and nothing else changes.
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

/* The backend called `name` ("mpi"), or NULL when it is not built in. */
const struct grad_allreduce *grad_allreduce_find(const char *name);

#endif
