/* dist_env_one_node: which launcher environments count as "every rank on
 * this node" (dist_init then asks Open MPI for the ob1 PML). Reads only the
 * environment, so it is tested without MPI. */
#include <stdlib.h>

#include "dist/dist.h"
#include "testlib.h"

static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_SIZE",
                                   "SLURM_STEP_ID", "SLURM_STEP_NUM_NODES", "PMIX_RANK"};

/* Sets the five variables (NULL = unset) and returns dist_env_one_node(). */
static int one_node(const char *ws, const char *ls, const char *step, const char *nodes,
                    const char *pmix) {
    const char *v[5] = {ws, ls, step, nodes, pmix};
    for (int i = 0; i < 5; i++) {
        if (v[i]) setenv(vars[i], v[i], 1);
        else unsetenv(vars[i]);
    }
    return dist_env_one_node();
}

int main(void) {
    /* no launcher: a singleton */
    EXPECT_INT(one_node(NULL, NULL, NULL, NULL, NULL), 1);
    /* mpirun: local size equal to world size, or not */
    EXPECT_INT(one_node("2", "2", NULL, NULL, "0"), 1);
    EXPECT_INT(one_node("4", "2", NULL, NULL, "1"), 0);
    /* mpirun inside a multi-node Slurm job still decides by its own counts */
    EXPECT_INT(one_node("2", "2", "0", "3", "0"), 1);
    EXPECT_INT(one_node("8", "4", "0", "1", "0"), 0);
    /* srun (PMIx direct launch, no OMPI_COMM_WORLD_*): the step's node count */
    EXPECT_INT(one_node(NULL, NULL, "0", "1", "0"), 1);
    EXPECT_INT(one_node(NULL, NULL, "0", "2", "0"), 0);
    /* an unknown launcher: not known to be one node */
    EXPECT_INT(one_node(NULL, NULL, NULL, NULL, "3"), 0);
    /* half of mpirun's pair: not trusted as a singleton either */
    EXPECT_INT(one_node("2", NULL, NULL, NULL, NULL), 0);
    return TEST_END();
}
