/* testlib.h - a tiny assertion library for the C unit tests.
 *
 * EXPECT(cond, fmt, ...) counts a failure and goes on; TEST_END() prints
 * "N passed, M failed" and returns the exit code (1 on any failure).
 * test_skip(why) prints the reason and exits 77, which ctest reports as
 * skipped.
 */
#ifndef ASSORT_TESTLIB_H
#define ASSORT_TESTLIB_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int t_pass_, t_fail_;

#define EXPECT(cond, ...)                                                      \
    do {                                                                       \
        if (cond) {                                                            \
            t_pass_++;                                                         \
        } else {                                                               \
            t_fail_++;                                                         \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);    \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
        }                                                                      \
    } while (0)

#define EXPECT_INT(a, b)                                                       \
    EXPECT((long long)(a) == (long long)(b), "%s = %lld, expected %lld", #a,   \
           (long long)(a), (long long)(b))

#define EXPECT_NEAR(a, b, tol)                                                 \
    EXPECT(fabs((double)(a) - (double)(b)) <= (tol), "%s = %.9g, expected %.9g (tol %g)", \
           #a, (double)(a), (double)(b), (double)(tol))

#define EXPECT_STR(a, b)                                                       \
    EXPECT(strcmp((a), (b)) == 0, "%s = \"%s\", expected \"%s\"", #a, (a), (b))

#define TEST_END()                                                             \
    (printf("%d passed, %d failed\n", t_pass_, t_fail_), t_fail_ ? 1 : 0)

static inline void test_skip(const char *why) {
    printf("SKIP: %s\n", why);
    exit(77);
}

#endif
