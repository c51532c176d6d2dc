/* gpu_module_cuda.c - the module's side of gpu_module.h: the device queries
 * and pinned host memory in CUDA, and the exported table. Built only into
 * libassort_gpu.so (with cudnn_backend.cu, cudnn_kernels.cu and
 * src/dist/nccl_gpu.c); the core reaches these through gpu_module_get. */
#include <cuda_runtime_api.h>
#include <cudnn.h>
#include <nccl.h>
#include <stdio.h>
#include <stdlib.h>

#include "dist/nccl_gpu.h"
#include "nn/gpu_module.h"

extern const struct backbone_ops backbone_cudnn_ops; /* cudnn_backend.cu */

static int device_count(char *why, size_t why_bytes) {
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

static void describe(int device, char *out, size_t out_bytes) {
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

static void *host_alloc(size_t bytes) {
    void *p = NULL;
    if (device_count(NULL, 0) > 0 && cudaHostAlloc(&p, bytes, cudaHostAllocPortable) == cudaSuccess)
        return p;
    cudaGetLastError();
    return malloc(bytes);
}

static void host_free(void *p) {
    if (!p) return;
    struct cudaPointerAttributes a;
    if (cudaPointerGetAttributes(&a, p) == cudaSuccess && a.type == cudaMemoryTypeHost) {
        cudaFreeHost(p);
        return;
    }
    cudaGetLastError();
    free(p);
}

/* The one symbol the loader looks up (GPU_MODULE_SYMBOL). */
__attribute__((visibility("default"))) const struct gpu_module assort_gpu_module = {
    .abi = GPU_MODULE_ABI,
    .device_count = device_count,
    .describe = describe,
    .host_alloc = host_alloc,
    .host_free = host_free,
    .backbone = &backbone_cudnn_ops,
    .nccl_create = nccl_gpu_create,
    .nccl_sum = nccl_gpu_sum,
    .nccl_sum_host_f64 = nccl_gpu_sum_host_f64,
    .nccl_free = nccl_gpu_free,
};
