/* cudnn_device.c - GPU choice for a rank (policy in cudnn_device.h). The
 * CUDA calls sit in the one #ifdef below: a build without CUDA has no
 * device and says so. */
#include "nn/cudnn_device.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "util/check.h"

#ifdef ASSORT_HAVE_CUDA
#include <cuda_runtime_api.h>
#include <cudnn.h>
#include <nccl.h>

int gpu_device_count(char *why, size_t why_bytes) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        if (why) snprintf(why, why_bytes, "cudaGetDeviceCount: %s", cudaGetErrorString(e));
        cudaGetLastError(); /* reset the runtime's last-error state */
        return 0;
    }
    if (n == 0 && why) snprintf(why, why_bytes, "cudaGetDeviceCount found 0 devices");
    return n;
}

void gpu_describe(int device, char *out, size_t out_bytes) {
    struct cudaDeviceProp p;
    int drv = 0, rt = 0, nccl = 0;
    cudaDriverGetVersion(&drv);
    cudaRuntimeGetVersion(&rt);
    ncclGetVersion(&nccl);
    if (cudaGetDeviceProperties(&p, device) != cudaSuccess) {
        cudaGetLastError();
        snprintf(out, out_bytes, "device %d: properties unavailable", device);
        return;
    }
    snprintf(out, out_bytes,
             "device %d: %s, sm_%d%d, %d SMs, %.1f GiB, driver API %d.%d, runtime %d.%d, "
             "cuDNN %zu, NCCL %d",
             device, p.name, p.major, p.minor, p.multiProcessorCount,
             (double)p.totalGlobalMem / (1024.0 * 1024 * 1024), drv / 1000, drv % 1000 / 10,
             rt / 1000, rt % 1000 / 10, cudnnGetVersion(), nccl);
}
void *gpu_host_alloc(size_t bytes) {
    void *p = NULL;
    if (gpu_device_count(NULL, 0) > 0 && cudaHostAlloc(&p, bytes, cudaHostAllocPortable) == cudaSuccess)
        return p;
    cudaGetLastError();
    return malloc(bytes);
}

void gpu_host_free(void *p) {
    if (!p) return;
    struct cudaPointerAttributes a;
    if (cudaPointerGetAttributes(&a, p) == cudaSuccess && a.type == cudaMemoryTypeHost) {
        cudaFreeHost(p);
        return;
    }
    cudaGetLastError();
    free(p);
}
#else
void *gpu_host_alloc(size_t bytes) { return malloc(bytes); }
void gpu_host_free(void *p) { free(p); }

int gpu_device_count(char *why, size_t why_bytes) {
    if (why) snprintf(why, why_bytes, "this build has no CUDA (nvcc/cuDNN/NCCL were not found "
                                      "when it was configured)");
    return 0;
}

void gpu_describe(int device, char *out, size_t out_bytes) {
    snprintf(out, out_bytes, "device %d: no CUDA in this build", device);
}
#endif

int gpu_select(const char *mode, int *use_gpu, int *device) {
    int rc = ST_OK;
    *use_gpu = 0;
    *device = -1;
    REQUIRE(mode && (!strcmp(mode, "auto") || !strcmp(mode, "cpu") || !strcmp(mode, "gpu")),
            ST_USAGE, "device '%s' is not one of auto|cpu|gpu (extract.device / --device)",
            mode ? mode : "(null)");
    if (!strcmp(mode, "cpu")) return ST_OK;
    char why[256] = "";
    int n = gpu_device_count(why, sizeof why);
    if (n <= 0) {
        const char *vis = getenv("CUDA_VISIBLE_DEVICES");
        REQUIRE(strcmp(mode, "gpu") != 0, ST_USAGE,
                "--device gpu: no CUDA device on rank %d (%s; CUDA_VISIBLE_DEVICES=%s); run on "
                "a GPU node (Slurm: --gpus-per-task=1) or use --device cpu / auto",
                dist_rank(), why, vis ? vis : "(unset)");
        return ST_OK; /* auto: CPU */
    }
    *use_gpu = 1;
    *device = dist_local_rank() % n;
fail:
    return rc;
}
