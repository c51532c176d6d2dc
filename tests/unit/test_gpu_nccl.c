/* test_gpu_nccl.c - the NCCL communicator (src/dist/nccl_comm.h) and the
 * trainer's "nccl" grad_allreduce entry against MPI_Allreduce of the same
 * data (the independent reference) and against the closed-form sum.
 *
 * Runs everywhere: with one GPU per rank on this node (gpu_select "auto"),
 * the sums go through NCCL on device buffers; otherwise (no CUDA, no device,
 * or fewer GPUs than ranks on the node: NCCL refuses two ranks on one GPU)
 * through the MPI fallback, and the output says which. Odd element counts
 * catch element/byte mix-ups. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "dist/nccl_comm.h"
#include "nn/cudnn_device.h"
#include "testlib.h"
#include "train/grad_allreduce.h"
#include "util/status.h"

#ifdef ASSORT_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

static float fval(size_t i, int rank) { return (float)((i % 1021) * 0.25 + rank * 0.5 + 1.0); }
static double dval(size_t i, int rank) { return (double)(i % 977) * 1e-3 + rank * 1.5 - 2.0; }

int main(int argc, char **argv) {
    if (dist_init(&argc, &argv) != ST_OK) return fprintf(stderr, "%s\n", err_msg()), 1;
    const int rank = dist_rank(), size = dist_size();
    const size_t nf = 100003, nd = 70001;

    /* Device per rank; NCCL only when every rank on the node has its own GPU. */
    int use_gpu = 0, device = -1;
    EXPECT_INT(gpu_select("auto", &use_gpu, &device), ST_OK);
    char why[256] = "";
    int count = gpu_device_count(why, sizeof why);
    if (use_gpu && count < dist_local_size()) use_gpu = 0, device = -1;
    int64_t g = use_gpu;
    dist_allreduce_min_i64(&g, 1);
    if (!g) device = -1;
    if (rank == 0)
        printf("%d ranks, %d visible GPU(s) on rank 0: testing %s\n", size, count,
               g ? "NCCL on the GPUs" : "the MPI fallback (no GPU per rank)");

    struct nccl_comm *c = NULL;
    EXPECT_INT(nccl_comm_create(device, &c), ST_OK);
    if (!c) {
        fprintf(stderr, "%s\n", err_msg());
        dist_finalize();
        return 1;
    }
    EXPECT_INT(nccl_comm_on_gpu(c), g ? 1 : 0);

    /* float: reference = MPI_Allreduce of the same host data */
    float *hf = malloc(nf * sizeof(float)), *ref = malloc(nf * sizeof(float));
    for (size_t i = 0; i < nf; i++) hf[i] = ref[i] = fval(i, rank);
    EXPECT_INT(dist_allreduce_sum_f32(ref, nf), ST_OK);
    if (nccl_comm_on_gpu(c)) {
#ifdef ASSORT_HAVE_CUDA
        float *d = NULL;
        EXPECT(cudaMalloc((void **)&d, nf * sizeof(float)) == cudaSuccess, "cudaMalloc");
        EXPECT(cudaMemcpy(d, hf, nf * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess, "h2d");
        /* the communicator's stream is non-blocking: the copy must have landed */
        EXPECT(cudaDeviceSynchronize() == cudaSuccess, "sync");
        EXPECT_INT(nccl_comm_sum_f32(c, d, nf), ST_OK);
        for (size_t i = 0; i < nf; i++) hf[i] = NAN;
        EXPECT(cudaMemcpy(hf, d, nf * sizeof(float), cudaMemcpyDeviceToHost) == cudaSuccess, "d2h");
        cudaFree(d);
#endif
    } else {
        EXPECT_INT(nccl_comm_sum_f32(c, hf, nf), ST_OK);
    }
    double maxd = 0, maxc = 0;
    for (size_t i = 0; i < nf; i++) {
        double want = 0;
        for (int r = 0; r < size; r++) want += fval(i, r);
        double d1 = fabs(hf[i] - ref[i]), d2 = fabs(hf[i] - want);
        if (!(d1 <= maxd)) maxd = isnan(d1) ? INFINITY : d1;
        if (!(d2 <= maxc)) maxc = isnan(d2) ? INFINITY : d2;
    }
    /* Values are multiples of 0.25 below 2^13: every order of summation is exact. */
    EXPECT(maxd == 0 && maxc == 0, "f32 sum: max diff %g vs MPI, %g vs closed form", maxd, maxc);

    /* double, host buffer through the device (the trainer's path) */
    double *hd = malloc(nd * sizeof(double)), *refd = malloc(nd * sizeof(double));
    for (size_t i = 0; i < nd; i++) hd[i] = refd[i] = dval(i, rank);
    EXPECT_INT(dist_allreduce_sum_f64(refd, nd), ST_OK);
    EXPECT_INT(nccl_comm_sum_host_f64(c, hd, nd), ST_OK);
    double maxdd = 0;
    for (size_t i = 0; i < nd; i++) {
        double d = fabs(hd[i] - refd[i]);
        if (!(d <= maxdd)) maxdd = isnan(d) ? INFINITY : d;
    }
    EXPECT(maxdd <= 1e-12, "f64 host sum: max diff %g vs MPI", maxdd);

    /* zero elements is a no-op, not an error */
    EXPECT_INT(nccl_comm_sum_host_f64(c, hd, 0), ST_OK);
    nccl_comm_free(c);

    /* the trainer's table entry */
    const struct grad_allreduce *ar = grad_allreduce_find("nccl");
    EXPECT(ar != NULL, "grad_allreduce 'nccl' is registered");
    if (ar) {
        for (size_t i = 0; i < nd; i++) hd[i] = dval(i, rank);
        EXPECT_INT(ar->sum_f64(hd, nd), ST_OK);
        double m = 0;
        for (size_t i = 0; i < nd; i++) m = fmax(m, fabs(hd[i] - refd[i]));
        EXPECT(m <= 1e-12, "grad_allreduce nccl: max diff %g vs MPI", m);
    }
    free(hf), free(ref), free(hd), free(refd);
    if (rank == 0) printf("f32 max diff vs MPI %g, f64 %g\n", maxd, maxdd);
    int rc = TEST_END();
    dist_finalize();
    return rc;
}
