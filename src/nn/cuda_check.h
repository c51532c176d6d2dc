/* cuda_check.h - the CUDA, cuDNN, cuBLAS and NCCL members of the one check-macro
 * family (src/util/check.h). Each is generated from CHECK_GEN: when the call
 * fails, rc gets ST_ERR with "<lib> call `expr` failed in fn (file:line) on
 * rank R: <the library's own message>" and control jumps to `fail:`.
 *
 *   int rc = ST_OK;
 *   TRY_CUDA(cudaMemcpyAsync(dst, src, n_bytes, cudaMemcpyHostToDevice, stream));
 *   TRY_CUDNN(cudnnSetStream(handle, stream));
 *   ...
 * fail:
 *   return rc;
 *
 * Usable from C (.c, compiled by gcc) and CUDA C++ (.cu); only included by
 * files that are compiled when ASSORT_HAVE_CUDA is defined (or inside its
 * #ifdef), so the rest of the tree needs no CUDA headers.
 */
#ifndef ASSORT_NN_CUDA_CHECK_H
#define ASSORT_NN_CUDA_CHECK_H

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>
#include <nccl.h>

#ifdef __cplusplus
extern "C" {
#endif
#include "util/check.h"
#ifdef __cplusplus
}
#endif

/* cudaError_t: anything but cudaSuccess, with cudaGetErrorString. */
#define TRY_CUDA(expr)                                                            \
    do {                                                                          \
        cudaError_t try_cuda_ = (expr);                                           \
        CHECK_GEN(try_cuda_ != cudaSuccess,                                       \
                  check_report(ST_ERR, "CUDA", #expr, cudaGetErrorString(try_cuda_), \
                               __func__, __FILE__, __LINE__));                    \
    } while (0)

/* cudnnStatus_t: anything but CUDNN_STATUS_SUCCESS, with cudnnGetErrorString. */
#define TRY_CUDNN(expr)                                                           \
    do {                                                                          \
        cudnnStatus_t try_cudnn_ = (expr);                                        \
        CHECK_GEN(try_cudnn_ != CUDNN_STATUS_SUCCESS,                             \
                  check_report(ST_ERR, "cuDNN", #expr, cudnnGetErrorString(try_cudnn_), \
                               __func__, __FILE__, __LINE__));                    \
    } while (0)

/* cublasStatus_t: anything but CUBLAS_STATUS_SUCCESS, with cublasGetStatusString. */
#define TRY_CUBLAS(expr)                                                          \
    do {                                                                          \
        cublasStatus_t try_cublas_ = (expr);                                      \
        CHECK_GEN(try_cublas_ != CUBLAS_STATUS_SUCCESS,                           \
                  check_report(ST_ERR, "cuBLAS", #expr, cublasGetStatusString(try_cublas_), \
                               __func__, __FILE__, __LINE__));                    \
    } while (0)

/* ncclResult_t: anything but ncclSuccess, with ncclGetErrorString (and NCCL's
 * last detailed message when it has one). */
#define TRY_NCCL(expr)                                                            \
    do {                                                                          \
        ncclResult_t try_nccl_ = (expr);                                          \
        CHECK_GEN(try_nccl_ != ncclSuccess,                                       \
                  check_report(ST_ERR, "NCCL", #expr, ncclGetErrorString(try_nccl_), \
                               __func__, __FILE__, __LINE__));                    \
    } while (0)

/* A kernel launch: the launch error (bad configuration, no kernel image for
 * this GPU), checked right after the <<<>>> line. */
#define TRY_LAUNCH(kernel)                                                        \
    do {                                                                          \
        cudaError_t try_launch_ = cudaGetLastError();                             \
        CHECK_GEN(try_launch_ != cudaSuccess,                                     \
                  check_report(ST_ERR, "CUDA", "launch of kernel " #kernel,        \
                               cudaGetErrorString(try_launch_), __func__, __FILE__, \
                               __LINE__));                                        \
    } while (0)

#endif
