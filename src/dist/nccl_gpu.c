/* nccl_gpu.c - an NCCL communicator over the MPI ranks, one device per rank
 * (the GPU module's half of nccl_comm; contracts in gpu_module.h). The
 * unique id travels from rank 0 by MPI broadcast. */
#include "dist/nccl_gpu.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "nn/cuda_check.h"
#include "util/check.h"

struct nccl_gpu {
    int device;
    ncclComm_t comm;
    cudaStream_t stream;
    double *dev_f64; /* (dev_f64_count) staging for nccl_gpu_sum_host_f64 */
    size_t dev_f64_count;
};

int nccl_gpu_create(int device, void **out) {
    int rc = ST_OK;
    struct nccl_gpu *c = calloc(1, sizeof *c);
    /* Every rank reaches the Bcast and the agreement even when its own
     * setup failed, so that no rank is left waiting in ncclCommInitRank. */
    struct {
        int32_t ok;
        ncclUniqueId id;
    } msg;
    memset(&msg, 0, sizeof msg);
    *out = NULL;
    int st = c ? ST_OK : err_set(ST_ERR, "nccl_gpu_create: out of memory");
    cudaError_t ce = cudaSuccess;
    if (st == ST_OK) {
        c->device = device;
        ce = cudaSetDevice(device);
        if (ce != cudaSuccess)
            st = err_set(ST_ERR, "CUDA call `cudaSetDevice(%d)` failed on rank %d: %s", device,
                         dist_rank(), cudaGetErrorString(ce));
    }
    if (st == ST_OK) {
        ce = cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking);
        if (ce != cudaSuccess)
            st = err_set(ST_ERR, "CUDA call `cudaStreamCreateWithFlags` failed on rank %d: %s",
                         dist_rank(), cudaGetErrorString(ce));
    }
    if (dist_rank() == 0 && st == ST_OK) {
        ncclResult_t nr = ncclGetUniqueId(&msg.id);
        if (nr == ncclSuccess) msg.ok = 1;
        else st = err_set(ST_ERR, "NCCL call `ncclGetUniqueId` failed on rank 0: %s",
                          ncclGetErrorString(nr));
    }
    TRY(dist_bcast_bytes(&msg, sizeof msg, 0));
    if (st == ST_OK && !msg.ok)
        st = err_set(ST_ERR, "nccl_comm_create: rank 0 could not make the NCCL unique id");
    TRY(dist_agree(st));
    TRY_NCCL(ncclCommInitRank(&c->comm, dist_size(), msg.id, dist_rank()));
    *out = c;
    c = NULL;
fail:
    nccl_gpu_free(c);
    return rc;
}

int nccl_gpu_sum(void *comm, void *buf, size_t count, int f64) {
    int rc = ST_OK;
    struct nccl_gpu *c = comm;
    TRY_CUDA(cudaSetDevice(c->device));
    TRY_NCCL(ncclAllReduce(buf, buf, count, f64 ? ncclFloat64 : ncclFloat32, ncclSum, c->comm,
                           c->stream));
    TRY_CUDA(cudaStreamSynchronize(c->stream));
fail:
    return rc;
}

int nccl_gpu_sum_host_f64(void *comm, double *host, size_t count) {
    int rc = ST_OK;
    struct nccl_gpu *c = comm;
    TRY_CUDA(cudaSetDevice(c->device));
    if (count > c->dev_f64_count) {
        if (c->dev_f64) TRY_CUDA(cudaFree(c->dev_f64));
        c->dev_f64 = NULL;
        c->dev_f64_count = 0;
        TRY_CUDA(cudaMalloc((void **)&c->dev_f64, count * sizeof(double)));
        c->dev_f64_count = count;
    }
    /* Pageable host memory: the copies are synchronous with respect to the
     * host, which is what the trainer needs (it reads the sum right after). */
    TRY_CUDA(cudaMemcpyAsync(c->dev_f64, host, count * sizeof(double), cudaMemcpyHostToDevice,
                             c->stream));
    TRY_NCCL(ncclAllReduce(c->dev_f64, c->dev_f64, count, ncclFloat64, ncclSum, c->comm,
                           c->stream));
    TRY_CUDA(cudaMemcpyAsync(host, c->dev_f64, count * sizeof(double), cudaMemcpyDeviceToHost,
                             c->stream));
    TRY_CUDA(cudaStreamSynchronize(c->stream));
fail:
    return rc;
}

void nccl_gpu_free(void *comm) {
    struct nccl_gpu *c = comm;
    if (!c) return;
    cudaSetDevice(c->device);
    if (c->comm) ncclCommDestroy(c->comm);
    if (c->dev_f64) cudaFree(c->dev_f64);
    if (c->stream) cudaStreamDestroy(c->stream);
    free(c);
}
