/* backbone.c - the backends by name and the dispatch around them. The only
 * place that knows which backends exist. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "backbone.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dist/dist.h"
#include "nn/gpu_module.h"
#include "util/check.h"
#include "util/log.h"

extern const struct backbone_ops backbone_cpu_ops; /* cpu_backend.c */

/* The backends by name: "cpu" is always here; "cudnn" (src/nn/cudnn_backend.cu,
 * docs/gpu.md) comes from the GPU module, loaded on the first request. */
static int find_backend(const char *name, const struct backbone_ops **out) {
    int rc = ST_OK;
    *out = NULL;
    if (strcmp(name, backbone_cpu_ops.name) == 0) {
        *out = &backbone_cpu_ops;
        return ST_OK;
    }
    if (strcmp(name, "cudnn") == 0) {
        const struct gpu_module *gm = NULL;
        rc = gpu_module_get(&gm);
        if (rc != ST_OK) return err_wrap(rc, "backend 'cudnn' is not available");
        *out = gm->backbone;
        return ST_OK;
    }
    FAIL(ST_USAGE, "backend '%s' is not one of cpu, cudnn", name);
fail:
    return rc;
}

struct backbone {
    const struct backbone_ops *ops;
    const struct effnet *net;
    int max_batch;
    void *state;
};

/* CPUs this process may run on (its affinity mask; mpirun binds each rank
 * to one core by default when it starts 1 or 2 ranks), 0 when unknown. */
static int allowed_cpus(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
    return CPU_COUNT(&set);
}

int backbone_default_threads(void) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int per_node = dist_local_size();
    if (cores < 1) cores = 1;
    if (per_node < 1) per_node = 1;
    long t = cores / per_node;
    int allowed = allowed_cpus();
    if (allowed > 0 && t > allowed) t = allowed;
    return t < 1 ? 1 : (int)t;
}

int backbone_create(const char *backend, const struct effnet *net,
                    const struct backbone_opts *opts, struct backbone **out) {
    int rc = ST_OK;
    struct backbone *bb = NULL;
    const struct backbone_ops *ops = NULL;
    *out = NULL;
    TRY(find_backend(backend, &ops));
    REQUIRE(opts->max_batch >= 1, ST_USAGE, "backbone max batch must be >= 1 (got %d)",
            opts->max_batch);
    REQUIRE(opts->threads >= 0, ST_USAGE, "backbone threads must be >= 0 (got %d)",
            opts->threads);
    TRY_ALLOC(bb = calloc(1, sizeof *bb));
    bb->ops = ops;
    bb->net = net;
    bb->max_batch = opts->max_batch;
    struct backbone_opts o = *opts;
    if (o.threads == 0) o.threads = backbone_default_threads();
    int allowed = allowed_cpus();
    if (!strcmp(ops->name, "cpu") && allowed > 0 && o.threads > allowed)
        log_warn("backbone",
                 "%d threads per rank, but this rank may run on only %d CPU(s) (its CPU affinity: "
                 "mpirun binds a rank to one core by default); start it with `mpirun --map-by "
                 "slot:PE=%d` or `--bind-to none`, or `srun --cpus-per-task=%d`",
                 o.threads, allowed, o.threads, o.threads);
    TRY(ops->init(net, &o, &bb->state));
    *out = bb;
    bb = NULL;
fail:
    backbone_free(bb);
    return rc;
}

int backbone_forward(struct backbone *bb, const uint8_t *pixels, int batch, float *features,
                     float *logits) {
    if (batch < 1 || batch > bb->max_batch)
        return err_set(ST_USAGE, "backbone_forward: batch %d outside 1..%d (max batch)", batch,
                       bb->max_batch);
    return bb->ops->forward(bb->state, pixels, batch, features, logits);
}

const char *backbone_name(const struct backbone *bb) { return bb->ops->name; }

void backbone_free(struct backbone *bb) {
    if (!bb) return;
    if (bb->state) bb->ops->free(bb->state);
    free(bb);
}
