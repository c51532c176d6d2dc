/* dist.h - MPI plumbing: init/finalize, rank/size, shards, collectives.
 *
 * Runs as one process without mpirun (MPI singleton init). A fatal error on
 * any rank goes through dist_abort(), which prints the message once and ends
 * every rank with MPI_Abort, so no rank is left waiting in a collective.
 */
#ifndef ASSORT_DIST_H
#define ASSORT_DIST_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

/* Initialises MPI (thread level MULTIPLE requested, SERIALIZED accepted) and
 * the node-local communicator. Call once from main. */
int dist_init(int *argc, char ***argv);
/* 1 when the launcher's environment says every rank of this job runs on
 * this node: mpirun's OMPI_COMM_WORLD_LOCAL_SIZE equals its
 * OMPI_COMM_WORLD_SIZE, a Slurm step (SLURM_STEP_ID) spans one node
 * (SLURM_STEP_NUM_NODES), or there is no launcher at all (a singleton). An
 * unknown launcher (PMIX_RANK without either) counts as not one node. Reads
 * only the environment; callable before MPI_Init. On one node, when
 * OMPI_MCA_pml is unset, dist_init asks Open MPI for the ob1 PML (the cm
 * PML's hardware probes cost ~0.2 s per process start and are of no use
 * there). */
int dist_env_one_node(void);
/* The Open MPI PML this process asked for and why, for --version. */
const char *dist_pml_note(void);
/* Finalises MPI if dist_init started it. */
void dist_finalize(void);
int dist_initialized(void);

int dist_rank(void);
int dist_size(void);
/* Rank among the ranks on this node, and how many share it (for GPU choice
 * and default thread counts). */
int dist_local_rank(void);
int dist_local_size(void);
MPI_Comm dist_comm(void);
/* MPI thread level actually provided. */
int dist_thread_level(void);

/* Balanced contiguous shard of n items for `rank` of `size`: the first
 * n % size ranks get one more. [*begin, *end) */
void dist_shard_range(int64_t n, int rank, int size, int64_t *begin, int64_t *end);

/* Collectives on flat host buffers; counts are elements, not bytes. Counts
 * above INT_MAX are split. Return ST_OK or ST_ERR with the MPI message. */
int dist_barrier(void);
int dist_bcast_bytes(void *buf, size_t size_bytes, int root);
int dist_allreduce_sum_f32(float *buf, size_t count);
int dist_allreduce_sum_f64(double *buf, size_t count);
int dist_allreduce_sum_i64(int64_t *buf, size_t count);
int dist_allreduce_max_i64(int64_t *buf, size_t count);
int dist_allreduce_min_i64(int64_t *buf, size_t count);
/* Allgather of `count` int64 per rank into out (size * count elements). */
int dist_allgather_i64(const int64_t *in, size_t count, int64_t *out);
/* Broadcast of a malloc'ed NUL-terminated string (*s may be NULL on non-roots;
 * it is replaced by a new allocation there). */
int dist_bcast_string(char **s, int root);

/* Collective status agreement: every rank passes its status; all get the
 * worst (largest) one. When it is not ST_OK, the message of the lowest
 * failing rank becomes this rank's err_msg(), so rank 0 can print it once. */
int dist_agree(int status);
/* 1 when the last dist_agree() returned a failure that every rank knows of
 * (so main may print it once on rank 0 and exit normally on every rank). */
int dist_failure_agreed(void);

/* A check-in that does not wait: every rank posts a flag word at the same
 * point of its loop, and reads the maximum over the ranks at its next
 * check-in point, by which time the others have (almost always) posted
 * theirs. Long loops use it between their blocking agreements so that a
 * rank ahead does not wait at every check for a rank behind (the waits add
 * up over a run), at the cost of learning of a failure or a stop request one
 * interval later:
 *
 *   struct dist_checkin ci = DIST_CHECKIN_INIT;
 *   for each interval:
 *       int64_t any = 0;
 *       TRY(dist_checkin_read(&ci, &any));   // the previous post's max (0 at first)
 *       if (any) { TRY(dist_agree(st)); ... } // all ranks see the same `any`
 *       TRY(dist_checkin_post(&ci, st != ST_OK || stop_requested));
 *   TRY(dist_checkin_read(&ci, &any));       // complete the last post
 *
 * Collective in the sense that every rank posts and reads the same number of
 * times, in the same order. */
struct dist_checkin {
    MPI_Request req;
    int64_t send, recv;
    int posted;
};
#define DIST_CHECKIN_INIT {MPI_REQUEST_NULL, 0, 0, 0}
int dist_checkin_post(struct dist_checkin *c, int64_t flags);
/* Completes the last post (0 when none is outstanding) into *any. */
int dist_checkin_read(struct dist_checkin *c, int64_t *any);

/* Prints "assort: [rK] <msg>" on stderr and ends all ranks with `code`.
 * Never returns. */
_Noreturn void dist_abort(int code, const char *msg);

#endif
