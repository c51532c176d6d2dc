/* nccl_comm.h - a communicator for sums over all ranks of flat buffers that
 * may live on the GPU.
 *
 * With CUDA compiled in and a device given, it is an NCCL communicator over
 * dist_comm(): rank 0 makes the ncclUniqueId, MPI_Bcast hands it to every
 * rank, ncclCommInitRank joins them; sums run on the communicator's own
 * CUDA stream. Without CUDA, or with device < 0, the same calls fall back to
 * MPI_Allreduce on host buffers (nccl_comm_on_gpu() says which).
 *
 * NCCL refuses two ranks on one GPU (ncclInvalidUsage, "Duplicate GPU
 * detected"): run as many ranks per node as GPUs (docs/gpu.md).
 *
 *   struct nccl_comm *c;
 *   TRY(nccl_comm_create(device, &c));               // collective
 *   TRY(nccl_comm_sum_f32(c, buf, count));           // buf: device memory if on GPU
 *   nccl_comm_free(c);
 */
#ifndef ASSORT_DIST_NCCL_COMM_H
#define ASSORT_DIST_NCCL_COMM_H

#include <stddef.h>

struct nccl_comm;

/* Collective over dist_comm(): every rank calls it with its device index
 * (or -1 for the host fallback; every rank must agree on GPU vs host: a mix
 * fails with ST_USAGE on every rank). Sets the calling thread's current
 * device. *out is owned by the caller (nccl_comm_free). */
int nccl_comm_create(int device, struct nccl_comm **out);

/* 1 when sums run through NCCL on the GPU, 0 for the MPI host fallback. */
int nccl_comm_on_gpu(const struct nccl_comm *c);

/* In-place sum over all ranks of `count` floats (elements, not bytes) at
 * buf: device memory when nccl_comm_on_gpu(c), host memory otherwise.
 * Collective; returns once the result is in buf (the stream is synchronised).
 * The communicator's stream does not wait for other streams: work that
 * writes buf must be complete (e.g. cudaDeviceSynchronize) before the call. */
int nccl_comm_sum_f32(struct nccl_comm *c, float *buf, size_t count);

/* The same for doubles. */
int nccl_comm_sum_f64(struct nccl_comm *c, double *buf, size_t count);

/* In-place sum of a HOST buffer of doubles through the communicator: on the
 * GPU it is copied to a device buffer (kept and grown between calls), summed
 * with ncclAllReduce and copied back; on the fallback it is MPI_Allreduce.
 * For the trainer's "nccl" grad_allreduce entry. Collective. */
int nccl_comm_sum_host_f64(struct nccl_comm *c, double *host, size_t count);

/* The process-wide communicator used by the trainer's "nccl" entry, made on
 * first use (collective: every rank's first call must be the same
 * collective call) on the device gpu_select("auto") picks. Freed at exit. */
int nccl_comm_global(struct nccl_comm **out);

/* Frees a communicator (NULL is fine). Not collective. */
void nccl_comm_free(struct nccl_comm *c);

#endif
