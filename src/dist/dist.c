#include "dist.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/check.h"
#include "util/log.h"

static struct {
    int started_mpi;   /* we called MPI_Init and must finalize */
    int rank, size;
    int local_rank, local_size;
    int thread_level;
    MPI_Comm node_comm;
    int agreed_failure;
    int pml_picked;    /* dist_init set OMPI_MCA_pml=ob1 (dist_pick_pml) */
} g = {0, 0, 1, 0, 1, 0, MPI_COMM_NULL, 0, 0};

int dist_env_one_node(void) {
    const char *ws = getenv("OMPI_COMM_WORLD_SIZE"), *ls = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    if (ws && ls) return strcmp(ws, ls) == 0;
    const char *nodes = getenv("SLURM_STEP_NUM_NODES");
    if (getenv("SLURM_STEP_ID") && nodes) return strcmp(nodes, "1") == 0;
    return !ws && !getenv("PMIX_RANK");
}

/* On one node Open MPI's ob1 PML (shared memory) is the right one, but left to
 * itself Open MPI also opens its cm PML, whose PSM and PSM2 (Omni-Path,
 * TrueScale) MTLs probe for their hardware at every process start: ~0.1 s
 * each (measured: a bare MPI_Init_thread takes 0.23 s, 0.12 s without one of
 * them, 0.02 s with OMPI_MCA_pml=ob1, on the 2-core CI machine with Debian's
 * /etc/openmpi/openmpi-mca-params.conf, which already excludes UCX and OFI).
 * So on one node, and only when the user chose no PML (OMPI_MCA_pml unset),
 * ask for ob1. Every rank sees the same launcher environment, so all ranks
 * pick the same PML. Returns 1 when it set it. */
static int dist_pick_pml(void) {
#ifdef OPEN_MPI
    if (getenv("OMPI_MCA_pml") || !dist_env_one_node()) return 0;
    return setenv("OMPI_MCA_pml", "ob1", 0) == 0;
#else
    return 0;
#endif
}

int dist_init(int *argc, char ***argv) {
    int rc = ST_OK, inited = 0, picked = 0;
    TRY_MPI(MPI_Initialized(&inited));
    if (!inited) {
        picked = dist_pick_pml();
        TRY_MPI(MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &g.thread_level));
        g.started_mpi = 1;
    } else {
        TRY_MPI(MPI_Query_thread(&g.thread_level));
    }
    /* Errors come back as codes so that TRY_MPI can report them. */
    TRY_MPI(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    TRY_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &g.rank));
    TRY_MPI(MPI_Comm_size(MPI_COMM_WORLD, &g.size));
    TRY_MPI(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g.rank,
                                MPI_INFO_NULL, &g.node_comm));
    TRY_MPI(MPI_Comm_rank(g.node_comm, &g.local_rank));
    TRY_MPI(MPI_Comm_size(g.node_comm, &g.local_size));
    log_init(g.rank, g.size, log_verbose());
    g.pml_picked = picked;
fail:
    return rc;
}

void dist_finalize(void) {
    if (g.node_comm != MPI_COMM_NULL) MPI_Comm_free(&g.node_comm);
    g.node_comm = MPI_COMM_NULL;
    int fin = 0;
    MPI_Finalized(&fin);
    if (g.started_mpi && !fin) MPI_Finalize();
    g.started_mpi = 0;
}

int dist_initialized(void) {
    int inited = 0, fin = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&fin);
    return inited && !fin;
}

const char *dist_pml_note(void) {
#ifdef OPEN_MPI
    const char *pml = getenv("OMPI_MCA_pml");
    if (g.pml_picked) return "ob1 (assort's choice: all ranks on one node; set OMPI_MCA_pml to override)";
    if (pml) return pml;
    return "Open MPI's own choice (ranks on several nodes, or a launcher assort does not know)";
#else
    return "not Open MPI: the MPI library's own choice";
#endif
}

int dist_rank(void) { return g.rank; }
int dist_size(void) { return g.size; }
int dist_local_rank(void) { return g.local_rank; }
int dist_local_size(void) { return g.local_size; }
MPI_Comm dist_comm(void) { return MPI_COMM_WORLD; }
int dist_thread_level(void) { return g.thread_level; }

void dist_shard_range(int64_t n, int rank, int size, int64_t *begin, int64_t *end) {
    if (n < 0) n = 0;
    if (size < 1) size = 1;
    int64_t base = n / size, extra = n % size;
    int64_t r = rank;
    *begin = r * base + (r < extra ? r : extra);
    *end = *begin + base + (r < extra ? 1 : 0);
}

int dist_barrier(void) {
    int rc = ST_OK;
    TRY_MPI(MPI_Barrier(MPI_COMM_WORLD));
fail:
    return rc;
}

int dist_bcast_bytes(void *buf, size_t size_bytes, int root) {
    int rc = ST_OK;
    char *p = buf;
    while (size_bytes > 0) {
        int n = size_bytes > (size_t)INT_MAX ? INT_MAX : (int)size_bytes;
        TRY_MPI(MPI_Bcast(p, n, MPI_BYTE, root, MPI_COMM_WORLD));
        p += n;
        size_bytes -= (size_t)n;
    }
fail:
    return rc;
}

/* In-place allreduce in INT_MAX-sized pieces. */
static int allreduce_chunked(void *buf, size_t count, MPI_Datatype type, size_t elem_bytes,
                             MPI_Op op) {
    int rc = ST_OK;
    char *p = buf;
    while (count > 0) {
        int n = count > (size_t)INT_MAX ? INT_MAX : (int)count;
        TRY_MPI(MPI_Allreduce(MPI_IN_PLACE, p, n, type, op, MPI_COMM_WORLD));
        p += (size_t)n * elem_bytes;
        count -= (size_t)n;
    }
fail:
    return rc;
}

int dist_allreduce_sum_f32(float *buf, size_t count) {
    return allreduce_chunked(buf, count, MPI_FLOAT, sizeof(float), MPI_SUM);
}
int dist_allreduce_sum_f64(double *buf, size_t count) {
    return allreduce_chunked(buf, count, MPI_DOUBLE, sizeof(double), MPI_SUM);
}
int dist_allreduce_sum_i64(int64_t *buf, size_t count) {
    return allreduce_chunked(buf, count, MPI_INT64_T, sizeof(int64_t), MPI_SUM);
}
int dist_allreduce_max_i64(int64_t *buf, size_t count) {
    return allreduce_chunked(buf, count, MPI_INT64_T, sizeof(int64_t), MPI_MAX);
}
int dist_allreduce_min_i64(int64_t *buf, size_t count) {
    return allreduce_chunked(buf, count, MPI_INT64_T, sizeof(int64_t), MPI_MIN);
}

int dist_allgather_i64(const int64_t *in, size_t count, int64_t *out) {
    int rc = ST_OK;
    REQUIRE(count <= (size_t)INT_MAX, ST_ERR, "dist_allgather_i64: count %zu too large", count);
    TRY_MPI(MPI_Allgather(in, (int)count, MPI_INT64_T, out, (int)count, MPI_INT64_T,
                          MPI_COMM_WORLD));
fail:
    return rc;
}

int dist_bcast_string(char **s, int root) {
    int rc = ST_OK;
    int64_t len = (g.rank == root && *s) ? (int64_t)strlen(*s) : -1;
    TRY_MPI(MPI_Bcast(&len, 1, MPI_INT64_T, root, MPI_COMM_WORLD));
    if (g.rank != root) {
        free(*s);
        *s = NULL;
        if (len >= 0) {
            *s = malloc((size_t)len + 1);
            TRY_ALLOC(*s);
            (*s)[len] = '\0';
        }
    }
    if (len > 0) TRY(dist_bcast_bytes(*s, (size_t)len, root));
fail:
    return rc;
}

int dist_failure_agreed(void) { return g.agreed_failure; }

int dist_checkin_post(struct dist_checkin *c, int64_t flags) {
    int rc = ST_OK;
    REQUIRE(!c->posted, ST_ERR, "dist_checkin_post: the previous post was not read");
    c->send = flags;
    c->recv = flags;
    if (g.size > 1)
        TRY_MPI(MPI_Iallreduce(&c->send, &c->recv, 1, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD,
                               &c->req));
    c->posted = 1;
fail:
    return rc;
}

int dist_checkin_read(struct dist_checkin *c, int64_t *any) {
    int rc = ST_OK;
    *any = 0;
    if (!c->posted) return ST_OK;
    if (g.size > 1) TRY_MPI(MPI_Wait(&c->req, MPI_STATUS_IGNORE));
    c->posted = 0;
    *any = c->recv;
fail:
    return rc;
}

int dist_agree(int status) {
    int rc = ST_OK;
    g.agreed_failure = 0;
    if (g.size == 1) {
        g.agreed_failure = status != ST_OK;
        return status;
    }
    /* Worst status, then the lowest rank that has it. */
    int64_t worst = status;
    TRY(dist_allreduce_max_i64(&worst, 1));
    if (worst == ST_OK) return ST_OK;
    int64_t who = status == worst ? -(int64_t)g.rank : -(int64_t)INT_MAX;
    TRY(dist_allreduce_max_i64(&who, 1));
    int src = (int)-who;
    char *msg = NULL;
    if (g.rank == src) {
        msg = strdup(err_msg());
        TRY_ALLOC(msg);
    }
    rc = dist_bcast_string(&msg, src);
    if (rc == ST_OK) {
        if (src != 0 && g.size > 1)
            err_set((int)worst, "[r%d] %s", src, msg ? msg : "");
        else
            err_set((int)worst, "%s", msg ? msg : "");
    }
    free(msg);
    g.agreed_failure = rc == ST_OK;
    return rc == ST_OK ? (int)worst : rc;
fail:
    return rc;
}

_Noreturn void dist_abort(int code, const char *msg) {
    if (g.size > 1)
        fprintf(stderr, "assort: [r%d] %s\n", g.rank, msg);
    else
        fprintf(stderr, "assort: %s\n", msg);
    fflush(stderr);
    if (dist_initialized() && g.size > 1) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}
