/* gpu_module.h - the GPU half of assort, built as a module loaded on demand.
 *
 * Everything that calls CUDA, cuBLAS, cuDNN or NCCL - the cuDNN backbone
 * backend (cudnn_backend.cu, cudnn_kernels.cu), the device queries and pinned
 * host memory (gpu_module_cuda.c) and the NCCL half of the communicator
 * (src/dist/nccl_gpu.c) - is built into libassort_gpu.so, next to the assort
 * binary, and loaded with dlopen the first time a process asks for a GPU
 * (gpu_device_count, gpu_select, the "cudnn" backbone, an NCCL communicator).
 * A run that never asks - ingest, similarity, classify, report, or any
 * command with --device cpu - never maps the CUDA libraries: they cost every
 * process ~0.1 s to load and relocate and ~200 MB of mapped pages
 * (docs/gpu.md "The GPU module").
 *
 * The module exports one object, `assort_gpu_module` (this table). It takes
 * the core's error, logging and MPI helpers from the program that loads it
 * (programs are linked with --export-dynamic; gpu_module.c keeps the helpers
 * the module uses linked into every program that can load it), so an error
 * set inside the module is the one err_msg() returns.
 *
 * Where it is looked for, first found wins:
 *   $ASSORT_GPU_MODULE                         (a path to the .so)
 *   <directory of the running program>/libassort_gpu.so
 *   the build directory it was built in       (ASSORT_GPU_MODULE_PATH, for the
 *                                               tests and tools under build/)
 */
#ifndef ASSORT_NN_GPU_MODULE_H
#define ASSORT_NN_GPU_MODULE_H

#include <stddef.h>

/* Bumped whenever the table below changes: a module of another ABI is
 * refused with a message naming both numbers. */
#define GPU_MODULE_ABI 1
#define GPU_MODULE_SYMBOL "assort_gpu_module"
#define GPU_MODULE_FILE "libassort_gpu.so"

struct backbone_ops;

struct gpu_module {
    int abi; /* GPU_MODULE_ABI of the module's build */

    /* Devices (contracts of the gpu_* functions in cudnn_device.h). */
    int (*device_count)(char *why, size_t why_bytes);
    void (*describe)(int device, char *out, size_t out_bytes);
    void *(*host_alloc)(size_t bytes); /* page-locked, or plain malloc */
    void (*host_free)(void *p);        /* either kind */

    /* The cuDNN backbone backend (name "cudnn"). */
    const struct backbone_ops *backbone;

    /* The NCCL communicator on `device` (collective over dist_comm(): every
     * rank calls create together, with its own device); sums are in place,
     * device buffers for sum, host buffers for sum_host_f64 (staged through
     * the device). f64: 0 float32, 1 float64. */
    int (*nccl_create)(int device, void **comm);
    int (*nccl_sum)(void *comm, void *buf, size_t count, int f64);
    int (*nccl_sum_host_f64)(void *comm, double *host, size_t count);
    void (*nccl_free)(void *comm);
};

/* The GPU module of this process, loaded on the first call. ST_OK with *out
 * set; otherwise *out = NULL and a status (ST_USAGE) whose err_msg says why
 * it is not there: a build without CUDA, no module file, a library it needs
 * that did not load (dlerror's words), an ABI mismatch. The answer (either
 * way) is kept for the process: later calls return it again without
 * touching the disk. Not thread-safe; not collective. */
int gpu_module_get(const struct gpu_module **out);

/* The module when it is loaded in this process, else NULL (no load attempt). */
const struct gpu_module *gpu_module_loaded(void);

#endif
