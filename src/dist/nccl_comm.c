/* nccl_comm.c - NCCL communicator with an MPI fallback (contract in
 * nccl_comm.h). The NCCL half lives in the GPU module (src/dist/nccl_gpu.c,
 * loaded by gpu_module_get); without it every communicator is the host
 * fallback. */
#include "dist/nccl_comm.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "nn/cudnn_device.h"
#include "nn/gpu_module.h"
#include "util/check.h"
#include "util/log.h"

struct nccl_comm {
    int on_gpu;
    int device;
    const struct gpu_module *gm; /* when on_gpu */
    void *gpu;                   /* the module's communicator, when on_gpu */
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

/* The module on every rank (agreed: a rank without it must not leave the
 * others waiting in the module's collective create), then its communicator. */
static int gpu_init(struct nccl_comm *c) {
    int rc = ST_OK;
    int st = gpu_module_get(&c->gm);
    if (st != ST_OK)
        st = err_wrap(st, "nccl_comm_create: GPU device %d given on rank %d, but NCCL is not "
                          "available (pass -1 for the MPI fallback)", c->device, dist_rank());
    TRY(dist_agree(st));
    TRY(c->gm->nccl_create(c->device, &c->gpu));
fail:
    return rc;
}

static int gpu_sum(struct nccl_comm *c, void *buf, size_t count, int f64) {
    return c->gm->nccl_sum(c->gpu, buf, count, f64);
}

static int gpu_sum_host_f64(struct nccl_comm *c, double *host, size_t count) {
    return c->gm->nccl_sum_host_f64(c->gpu, host, count);
}

static void gpu_free(struct nccl_comm *c) {
    if (c->on_gpu && c->gm && c->gpu) c->gm->nccl_free(c->gpu);
}

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
    return c->on_gpu ? gpu_sum(c, buf, count, 0) : dist_allreduce_sum_f32(buf, count);
}

int nccl_comm_sum_f64(struct nccl_comm *c, double *buf, size_t count) {
    if (count == 0) return ST_OK;
    return c->on_gpu ? gpu_sum(c, buf, count, 1) : dist_allreduce_sum_f64(buf, count);
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
