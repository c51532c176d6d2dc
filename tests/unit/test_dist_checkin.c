/* test_dist_checkin.c - dist_checkin (src/dist/dist.h) under 2+ ranks:
 *  - every rank reads, at interval i + 1, the maximum of what the ranks
 *    posted at interval i (0 before the first post), whatever the order in
 *    which ranks arrive (rank 1 sleeps before some posts, so rank 0 posts
 *    first and reads later);
 *  - a flag raised by one rank at interval k is seen by every rank at k + 1,
 *    and they can then agree (dist_agree) on that rank's failure message;
 *  - a rank does not wait for a slower rank at a check-in it is ahead of:
 *    rank 0's read+post while the last rank sleeps 0.3 s returns in under 0.15 s;
 *  - posting twice without a read is refused (ST_ERR). */
#include <string.h>
#include <time.h>

#include "dist/dist.h"
#include "testlib.h"
#include "util/log.h"
#include "util/status.h"

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv) {
    if (dist_init(&argc, &argv) != ST_OK) return fprintf(stderr, "%s\n", err_msg()), 1;
    const int rank = dist_rank(), size = dist_size();
    struct dist_checkin ci = DIST_CHECKIN_INIT;
    int64_t any = -1;

    /* nothing posted: 0 */
    EXPECT_INT(dist_checkin_read(&ci, &any), ST_OK);
    EXPECT_INT(any, 0);

    /* interval i: every rank posts (i * 10 + rank) except that the last rank
     * posts 1000 at interval 3; the read at i + 1 is the maximum */
    for (int i = 0; i < 6; i++) {
        if (rank == size - 1 && i % 2 == 1) sleep_ms(20); /* arrive late */
        if (i > 0) {
            EXPECT_INT(dist_checkin_read(&ci, &any), ST_OK);
            int64_t want = (i - 1) == 3 ? 1000 : (int64_t)(i - 1) * 10 + (size - 1);
            EXPECT(any == want, "interval %d read %lld, expected %lld", i, (long long)any,
                   (long long)want);
        }
        int64_t mine = (rank == size - 1 && i == 3) ? 1000 : (int64_t)i * 10 + rank;
        EXPECT_INT(dist_checkin_post(&ci, mine), ST_OK);
    }
    EXPECT_INT(dist_checkin_read(&ci, &any), ST_OK);
    EXPECT_INT(any, 50 + (size - 1));

    /* two posts without a read */
    EXPECT_INT(dist_checkin_post(&ci, 0), ST_OK);
    EXPECT_INT(dist_checkin_post(&ci, 0), ST_ERR);
    EXPECT_INT(dist_checkin_read(&ci, &any), ST_OK);

    /* a failure on the last rank, seen one interval later, then agreed */
    int st = ST_OK;
    for (int i = 0; i < 4; i++) {
        EXPECT_INT(dist_checkin_read(&ci, &any), ST_OK);
        if (any) {
            EXPECT_INT(i, 2); /* raised at interval 1, seen at 2 */
            int rc = dist_agree(st);
            EXPECT_INT(rc, ST_DATA);
            if (size > 1) EXPECT(strstr(err_msg(), "bad thing on the last rank") != NULL,
                                 "agreed message: %s", err_msg());
            break;
        }
        if (rank == size - 1 && i == 1) st = err_set(ST_DATA, "bad thing on the last rank");
        EXPECT_INT(dist_checkin_post(&ci, st != ST_OK), ST_OK);
    }

    /* no waiting for a slower rank: rank 0 posts and reads the previous
     * interval's result while the last rank sleeps before its next post */
    if (size > 1) {
        EXPECT_INT(dist_checkin_post(&ci, 0), ST_OK);
        EXPECT_INT(dist_checkin_read(&ci, &any), ST_OK); /* everyone: interval A */
        EXPECT_INT(dist_checkin_post(&ci, 0), ST_OK);    /* interval B, posted at once */
        double t0 = time_now();
        if (rank == size - 1) sleep_ms(300);
        EXPECT_INT(dist_checkin_read(&ci, &any), ST_OK); /* read of B */
        EXPECT_INT(dist_checkin_post(&ci, 0), ST_OK);    /* interval C */
        double waited = time_now() - t0;
        if (rank == 0) EXPECT(waited < 0.150, "rank 0 waited %.3f s for a rank sleeping 0.3 s", waited);
        EXPECT_INT(dist_checkin_read(&ci, &any), ST_OK); /* read of C: waits for the sleeper */
    }
    dist_finalize();
    return TEST_END();
}
