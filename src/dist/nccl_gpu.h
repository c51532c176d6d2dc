/* nccl_gpu.h - the NCCL half of nccl_comm (built into the GPU module only;
 * the core reaches it through struct gpu_module, contracts there). */
#ifndef ASSORT_DIST_NCCL_GPU_H
#define ASSORT_DIST_NCCL_GPU_H

#include <stddef.h>

int nccl_gpu_create(int device, void **comm);
int nccl_gpu_sum(void *comm, void *buf, size_t count, int f64);
int nccl_gpu_sum_host_f64(void *comm, double *host, size_t count);
void nccl_gpu_free(void *comm);

#endif
