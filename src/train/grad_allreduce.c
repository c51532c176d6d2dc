#include "grad_allreduce.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dist/dist.h"
#include "dist/nccl_comm.h"
#include "nn/cudnn_device.h"
#include "util/check.h"
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

int grad_allreduce_resolve(const char *mode, const struct grad_allreduce **out) {
    int rc = ST_OK;
    *out = NULL;
    if (!mode || !*mode) mode = "auto";
    REQUIRE(!strcmp(mode, "auto") || !strcmp(mode, "mpi") || !strcmp(mode, "nccl"), ST_USAGE,
            "train.allreduce '%s' is not one of auto|mpi|nccl", mode);
    if (!strcmp(mode, "mpi")) {
        *out = grad_allreduce_find("mpi");
        return ST_OK;
    }
    char why[256] = "";
    int64_t have = gpu_device_count(why, sizeof why) > 0; /* this rank sees a GPU */
    int64_t all = have;
    TRY(dist_allreduce_min_i64(&all, 1)); /* 1 only when every rank sees one */
    if (!strcmp(mode, "nccl")) {
        REQUIRE(all, ST_USAGE,
                "train.allreduce=nccl needs a CUDA device on every rank, but rank %d has none "
                "(%s); run on a GPU node or use --set train.allreduce=mpi (or auto)",
                dist_rank(), have ? "another rank has no device" : why);
    }
    *out = grad_allreduce_find(all ? "nccl" : "mpi");
fail:
    return dist_agree(rc);
}
