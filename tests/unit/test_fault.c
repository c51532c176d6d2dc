/* test_fault.c - ASSORT_FAULT parsing and actions (src/util/fault.c): fail on
 * the N-th call only, rank filters, and the term:/usr1: actions, which must
 * deliver a real signal to the installed handler (signals.c) and return OK. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "util/fault.h"
#include "util/signals.h"
#include "util/status.h"

int main(void) {
    /* rank 0 in this process (log_rank() without log_init) */
    setenv("ASSORT_FAULT", "fail:a#2@0,b@1,term:t#3@*,usr1:u@0,c@0", 1);
    signals_install();
    EXPECT(fault_armed(), "ASSORT_FAULT is set: armed");
    EXPECT_INT(fault_point("a"), ST_OK);                /* 1st call of a: not yet */
    EXPECT_INT(fault_point("a"), ST_ERR);               /* 2nd: fails */
    EXPECT(strstr(err_msg(), "injected fault at a on rank 0") != NULL, "message: %s", err_msg());
    EXPECT_INT(fault_point("a"), ST_OK);                /* 3rd: only the 2nd */
    EXPECT_INT(fault_point("b"), ST_OK);                /* rank 1 only */
    EXPECT_INT(fault_point("c"), ST_ERR);               /* bare spec = fail */
    EXPECT_INT(fault_point("nope"), ST_OK);
    int sig = 0;
    EXPECT(!signals_stop_requested(&sig), "no stop yet");
    EXPECT_INT(fault_point("t"), ST_OK);
    EXPECT_INT(fault_point("t"), ST_OK);
    EXPECT(!signals_stop_requested(&sig), "term fires on the 3rd call only");
    EXPECT_INT(fault_point("t"), ST_OK);                /* raises SIGTERM, returns OK */
    EXPECT(signals_stop_requested(&sig) && sig == SIGTERM, "SIGTERM reached the handler (%d)", sig);
    EXPECT_INT(fault_point("u"), ST_OK);
    EXPECT(signals_stop_requested(&sig) && sig == SIGUSR1, "SIGUSR1 reached the handler (%d)", sig);
    return TEST_END();
}
