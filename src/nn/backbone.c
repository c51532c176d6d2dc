/* backbone.c - the backend table and the dispatch around it. The only place
 * that knows which backends are compiled in. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "backbone.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dist/dist.h"
#include "util/check.h"
#include "util/log.h"

extern const struct backbone_ops backbone_cpu_ops;  /* cpu_backend.c */
/* The cuDNN backend (src/nn/cudnn_backend.cu, docs/gpu.md) is compiled
 * whenever CUDA is (the .cu files are only built then). */
#if defined(ASSORT_HAVE_CUDA) && !defined(ASSORT_HAVE_CUDNN_BACKEND)
#define ASSORT_HAVE_CUDNN_BACKEND 1
#endif
#if defined(ASSORT_HAVE_CUDA) && defined(ASSORT_HAVE_CUDNN_BACKEND)
extern const struct backbone_ops backbone_cudnn_ops;
#endif

static const struct backbone_ops *const backends[] = {
    &backbone_cpu_ops,
#if defined(ASSORT_HAVE_CUDA) && defined(ASSORT_HAVE_CUDNN_BACKEND)
    &backbone_cudnn_ops,
#endif
};
#define BACKEND_COUNT ((int)(sizeof backends / sizeof backends[0]))

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
    for (int i = 0; i < BACKEND_COUNT; i++)
        if (strcmp(backends[i]->name, backend) == 0) ops = backends[i];
    if (!ops) {
        char names[128] = "";
        for (int i = 0; i < BACKEND_COUNT; i++) {
            if (i) strncat(names, ", ", sizeof names - strlen(names) - 1);
            strncat(names, backends[i]->name, sizeof names - strlen(names) - 1);
        }
        FAIL(ST_USAGE, "backend '%s' is not available in this build (available: %s)%s", backend,
             names,
             strcmp(backend, "cudnn") == 0 ? "; rebuild on a machine with CUDA and cuDNN" : "");
    }
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
