/* Shard math: balanced, contiguous, covering, disjoint — checked against a
 * brute-force assignment for many (n, size). */
#include <stdint.h>

#include "dist/dist.h"
#include "testlib.h"

int main(void) {
    for (int64_t n = 0; n <= 257; n++) {
        for (int size = 1; size <= 17; size++) {
            int64_t expect_next = 0, min_len = INT64_MAX, max_len = 0;
            for (int r = 0; r < size; r++) {
                int64_t b, e;
                dist_shard_range(n, r, size, &b, &e);
                if (b != expect_next || e < b) {
                    EXPECT(0, "n=%lld size=%d rank=%d: [%lld,%lld) not contiguous after %lld",
                           (long long)n, size, r, (long long)b, (long long)e, (long long)expect_next);
                    break;
                }
                expect_next = e;
                if (e - b < min_len) min_len = e - b;
                if (e - b > max_len) max_len = e - b;
                /* brute force: item i goes to the rank whose balanced count covers it */
                int64_t want = n / size + (r < n % size ? 1 : 0);
                if (e - b != want)
                    EXPECT(0, "n=%lld size=%d rank=%d: %lld items, want %lld", (long long)n, size,
                           r, (long long)(e - b), (long long)want);
            }
            EXPECT(expect_next == n, "n=%lld size=%d: shards cover %lld", (long long)n, size,
                   (long long)expect_next);
            EXPECT(max_len - min_len <= 1, "n=%lld size=%d: unbalanced %lld..%lld", (long long)n,
                   size, (long long)min_len, (long long)max_len);
        }
    }
    /* Large n: no overflow. */
    int64_t b, e;
    dist_shard_range(10000000000LL, 511, 512, &b, &e);
    EXPECT_INT(e, 10000000000LL);
    EXPECT_INT(e - b, 10000000000LL / 512);
    return TEST_END();
}
