/* cudnn_device.h - which GPU this rank drives, or why none.
 *
 * Policy (docs/gpu.md): one GPU per rank. The node-local rank
 * (dist_local_rank) picks device local_rank % visible_count among the
 * devices CUDA shows this process, so CUDA_VISIBLE_DEVICES and Slurm's
 * --gpus-per-task (which sets CUDA_VISIBLE_DEVICES per task, so each task
 * sees one device, index 0) are honoured without further code.
 * Callable from every build: the CUDA calls are in the GPU module
 * (gpu_module.h), loaded on the first question; without it (a build without
 * CUDA, no module file) there is no device.
 */
#ifndef ASSORT_NN_CUDNN_DEVICE_H
#define ASSORT_NN_CUDNN_DEVICE_H

#include <stddef.h>

/* Number of CUDA devices this process can use (0 without CUDA compiled in,
 * without the GPU module, without a driver, or with none visible). When 0 and `why` is not NULL, a
 * one-line reason is written there (e.g. the CUDA error string). */
int gpu_device_count(char *why, size_t why_bytes);

/* Resolves a device mode ("auto" | "cpu" | "gpu", the config key
 * extract.device) to a decision for this rank:
 *   *use_gpu = 1 and *device = dist_local_rank() % count   when a GPU is used,
 *   *use_gpu = 0 and *device = -1                            otherwise.
 * "auto" uses a GPU when one is visible, else the CPU; "gpu" without a
 * visible device (or without CUDA compiled in) fails with ST_USAGE and a
 * message that says "no CUDA device", why, and the fix. ST_USAGE for an
 * unknown mode. Not collective. */
int gpu_select(const char *mode, int *use_gpu, int *device);

/* A one-line description of device `device` ("NVIDIA H100 80GB HBM3, sm_90,
 * 79.1 GiB, driver 13.0, runtime 13.0, cuDNN 91900, NCCL 22809") into out;
 * "no CUDA" when not compiled in. */
void gpu_describe(int device, char *out, size_t out_bytes);

/* Host memory of `bytes` for pixel batches and features: page-locked
 * (cudaHostAlloc) when CUDA is compiled in and a device exists, so the cuDNN
 * backend uploads it directly without a staging copy and a reader thread can
 * fill the next buffer while the GPU computes on this one; plain malloc
 * otherwise (or when pinning fails). NULL when out of memory. Free with
 * gpu_host_free (which knows which kind it was). */
void *gpu_host_alloc(size_t bytes);
void gpu_host_free(void *p);

#endif
