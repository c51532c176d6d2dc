/* cudnn_device.c - GPU choice for a rank (policy in cudnn_device.h). The
 * CUDA calls are in the GPU module (gpu_module_cuda.c), loaded on the first
 * question: without it (a build without CUDA, no module file, no driver)
 * there is no device, and the reason says why. */
#include "nn/cudnn_device.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "nn/gpu_module.h"
#include "util/check.h"

int gpu_device_count(char *why, size_t why_bytes) {
    const struct gpu_module *gm = NULL;
    if (gpu_module_get(&gm) != ST_OK) {
        if (why) snprintf(why, why_bytes, "%s", err_msg());
        return 0;
    }
    return gm->device_count(why, why_bytes);
}

void gpu_describe(int device, char *out, size_t out_bytes) {
    const struct gpu_module *gm = NULL;
    if (gpu_module_get(&gm) != ST_OK) {
        snprintf(out, out_bytes, "device %d: no GPU module (%s)", device, err_msg());
        return;
    }
    gm->describe(device, out, out_bytes);
}

void *gpu_host_alloc(size_t bytes) {
    const struct gpu_module *gm = NULL;
    if (gpu_module_get(&gm) != ST_OK) return malloc(bytes);
    return gm->host_alloc(bytes);
}

void gpu_host_free(void *p) {
    if (!p) return;
    /* Only the module can have pinned it; a module loaded after the
     * allocation tells malloc'ed memory apart itself. */
    const struct gpu_module *gm = gpu_module_loaded();
    if (gm) gm->host_free(p);
    else free(p);
}

int gpu_select(const char *mode, int *use_gpu, int *device) {
    int rc = ST_OK;
    *use_gpu = 0;
    *device = -1;
    REQUIRE(mode && (!strcmp(mode, "auto") || !strcmp(mode, "cpu") || !strcmp(mode, "gpu")),
            ST_USAGE, "device '%s' is not one of auto|cpu|gpu (extract.device / --device)",
            mode ? mode : "(null)");
    if (!strcmp(mode, "cpu")) return ST_OK;
    char why[1024] = "";
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
