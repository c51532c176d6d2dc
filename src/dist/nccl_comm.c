/* nccl_comm.c - NCCL communicator with an MPI fallback (contract in
 * nccl_comm.h). The NCCL half sits in the one #ifdef below; without CUDA
 * every communicator is the host fallback. */
#include "dist/nccl_comm.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "nn/cudnn_device.h"
#include "util/check.h"
#include "util/log.h"

#ifdef ASSORT_HAVE_CUDA
#include "nn/cuda_check.h"
#endif

struct nccl_comm {
    int on_gpu;
    int device;
#ifdef ASSORT_HAVE_CUDA
    ncclComm_t comm;
    cudaStream_t stream;
    double *dev_f64;        /* (dev_f64_count) staging for nccl_comm_sum_host_f64 */
    size_t dev_f64_count;
#endif
};

int nccl_comm_on_gpu(const struct nccl_comm *c) { return c->on_gpu; }

/* Every rank must agree on GPU vs host: a mix would leave the NCCL ranks
 * waiting for peers that never join. */
static int agree_mode(int on_gpu) {
    int rc = ST_OK;
    int64_t v[2] = {on_gpu, on_gpu};
    TRY(dist_allreduce_min_i64(&v[0], 1));
    TRY(dist_allreduce_max_i64(&v[1], 1));
    REQUIRE(v[0] == v[1], ST_USAGE,
            "nccl_comm_create: some ranks have a GPU and some do not (rank %d: %s); give "
            "every rank a GPU or none",
            dist_rank(), on_gpu ? "GPU" : "no GPU");
fail:
    return rc;
}

#ifdef ASSORT_HAVE_CUDA
static int gpu_init(struct nccl_comm *c) {
    int rc = ST_OK;
    /* Every rank reaches the Bcast and the agreement even when its own
     * setup failed, so that no rank is left waiting in ncclCommInitRank. */
    struct {
        int32_t ok;
        ncclUniqueId id;
    } msg;
    memset(&msg, 0, sizeof msg);
    int st = ST_OK;
    cudaError_t ce = cudaSetDevice(c->device);
    if (ce != cudaSuccess)
        st = err_set(ST_ERR, "CUDA call `cudaSetDevice(%d)` failed on rank %d: %s", c->device,
                     dist_rank(), cudaGetErrorString(ce));
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
fail:
    return rc;
}

static int gpu_sum(struct nccl_comm *c, void *buf, size_t count, ncclDataType_t type) {
    int rc = ST_OK;
    TRY_CUDA(cudaSetDevice(c->device));
    TRY_NCCL(ncclAllReduce(buf, buf, count, type, ncclSum, c->comm, c->stream));
    TRY_CUDA(cudaStreamSynchronize(c->stream));
fail:
    return rc;
}

static int gpu_sum_host_f64(struct nccl_comm *c, double *host, size_t count) {
    int rc = ST_OK;
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

static void gpu_free(struct nccl_comm *c) {
    if (!c->on_gpu) return;
    cudaSetDevice(c->device);
    if (c->comm) ncclCommDestroy(c->comm);
    if (c->dev_f64) cudaFree(c->dev_f64);
    if (c->stream) cudaStreamDestroy(c->stream);
}
#else
static int gpu_init(struct nccl_comm *c) {
    (void)c;
    return err_set(ST_USAGE, "nccl_comm_create: a GPU device was given but this build has no "
                             "CUDA/NCCL; pass -1 for the MPI fallback");
}
static int gpu_sum(struct nccl_comm *c, void *buf, size_t count, int type) {
    (void)c, (void)buf, (void)count, (void)type;
    return err_set(ST_ERR, "nccl_comm: no NCCL in this build");
}
static int gpu_sum_host_f64(struct nccl_comm *c, double *host, size_t count) {
    (void)c, (void)host, (void)count;
    return err_set(ST_ERR, "nccl_comm: no NCCL in this build");
}
static void gpu_free(struct nccl_comm *c) { (void)c; }
#define ncclFloat32 0
#define ncclFloat64 0
#endif

int nccl_comm_create(int device, struct nccl_comm **out) {
    int rc = ST_OK;
    struct nccl_comm *c = NULL;
    *out = NULL;
    TRY_ALLOC(c = calloc(1, sizeof *c));
    c->device = device;
    c->on_gpu = device >= 0;
    TRY(agree_mode(c->on_gpu));
    if (c->on_gpu) TRY(gpu_init(c));
    log_debug("nccl", "communicator on %s (device %d)", c->on_gpu ? "NCCL" : "MPI fallback",
              device);
    *out = c;
    c = NULL;
fail:
    nccl_comm_free(c);
    return rc;
}

int nccl_comm_sum_f32(struct nccl_comm *c, float *buf, size_t count) {
    if (count == 0) return ST_OK;
    return c->on_gpu ? gpu_sum(c, buf, count, ncclFloat32) : dist_allreduce_sum_f32(buf, count);
}

int nccl_comm_sum_f64(struct nccl_comm *c, double *buf, size_t count) {
    if (count == 0) return ST_OK;
    return c->on_gpu ? gpu_sum(c, buf, count, ncclFloat64) : dist_allreduce_sum_f64(buf, count);
}

int nccl_comm_sum_host_f64(struct nccl_comm *c, double *host, size_t count) {
    if (count == 0) return ST_OK;
    return c->on_gpu ? gpu_sum_host_f64(c, host, count) : dist_allreduce_sum_f64(host, count);
}

void nccl_comm_free(struct nccl_comm *c) {
    if (!c) return;
    gpu_free(c);
    free(c);
}

static struct nccl_comm *global_comm;

static void global_free(void) {
    nccl_comm_free(global_comm);
    global_comm = NULL;
}

int nccl_comm_global(struct nccl_comm **out) {
    int rc = ST_OK;
    if (!global_comm) {
        int use_gpu = 0, device = -1;
        TRY(gpu_select("auto", &use_gpu, &device));
        TRY(nccl_comm_create(use_gpu ? device : -1, &global_comm));
        atexit(global_free);
        log_info("train", "gradient allreduce 'nccl': %s",
                 global_comm->on_gpu ? "NCCL on the GPU" : "no GPU, MPI_Allreduce fallback");
    }
fail:
    *out = global_comm;
    return rc;
}
