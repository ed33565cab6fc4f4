/* testkit: the project's small in-house test harness.
 *
 *   TEST(name) { ASSERT_...; }      registers a test (runs in declaration order)
 *   TESTKIT_MAIN()                  defines main(): runs all tests, or those whose
 *                                   name contains argv[1]; prints "N passed, N failed"
 *
 * A failed assertion prints file:line and both operands, then ends that test. */
#ifndef FASTSCI_TESTKIT_H
#define FASTSCI_TESTKIT_H

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastsci/core/error.h"

typedef void (*testkit_fn)(int *failed);

enum { TESTKIT_MAX = 512 };
static struct {
    const char *name;
    testkit_fn fn;
} testkit_tests[TESTKIT_MAX];
static int testkit_ntests;

static inline void testkit_register(const char *name, testkit_fn fn)
{
    if (testkit_ntests < TESTKIT_MAX) {
        testkit_tests[testkit_ntests].name = name;
        testkit_tests[testkit_ntests].fn = fn;
        testkit_ntests++;
    }
}

#define TEST(name)                                                                                           \
    static void test_##name(int *testkit_failed);                                                            \
    __attribute__((constructor)) static void testkit_reg_##name(void)                                        \
    {                                                                                                        \
        testkit_register(#name, test_##name);                                                                \
    }                                                                                                        \
    static void test_##name(int *testkit_failed)

#define TESTKIT_FAIL(...)                                                                                    \
    do {                                                                                                     \
        fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);                                                    \
        fprintf(stderr, __VA_ARGS__);                                                                        \
        fprintf(stderr, "\n");                                                                               \
        *testkit_failed = 1;                                                                                 \
        return;                                                                                              \
    } while (0)

#define ASSERT_TRUE(c)                                                                                       \
    do {                                                                                                     \
        if (!(c)) TESTKIT_FAIL("expected true: %s", #c);                                                     \
    } while (0)

#define ASSERT_EQ(a, b)                                                                                      \
    do {                                                                                                     \
        long long testkit_a = (long long)(a), testkit_b = (long long)(b);                                    \
        if (testkit_a != testkit_b) TESTKIT_FAIL("%s == %s: %lld != %lld", #a, #b, testkit_a, testkit_b);    \
    } while (0)

#define ASSERT_EQ_U64(a, b)                                                                                  \
    do {                                                                                                     \
        uint64_t testkit_a = (uint64_t)(a), testkit_b = (uint64_t)(b);                                       \
        if (testkit_a != testkit_b)                                                                          \
            TESTKIT_FAIL("%s == %s: 0x%016" PRIx64 " != 0x%016" PRIx64, #a, #b, testkit_a, testkit_b);       \
    } while (0)

#define ASSERT_STREQ(a, b)                                                                                   \
    do {                                                                                                     \
        const char *testkit_a = (a), *testkit_b = (b);                                                       \
        if (!testkit_a || !testkit_b || strcmp(testkit_a, testkit_b) != 0)                                   \
            TESTKIT_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, testkit_a ? testkit_a : "(null)",             \
                         testkit_b ? testkit_b : "(null)");                                                  \
    } while (0)

/* |a - b| <= atol + rtol * |b| */
#define ASSERT_NEAR_REL(a, b, rtol, atol)                                                                    \
    do {                                                                                                     \
        double testkit_a = (double)(a), testkit_b = (double)(b);                                             \
        double testkit_tol = (double)(atol) + (double)(rtol)*fabs(testkit_b);                                \
        if (!(fabs(testkit_a - testkit_b) <= testkit_tol))                                                   \
            TESTKIT_FAIL("%s ~ %s: %.17g vs %.17g (|diff| %.3g > tol %.3g)", #a, #b, testkit_a, testkit_b,   \
                         fabs(testkit_a - testkit_b), testkit_tol);                                          \
    } while (0)

static inline int64_t testkit_ulp_distance(double a, double b)
{
    int64_t ia, ib;
    memcpy(&ia, &a, sizeof ia);
    memcpy(&ib, &b, sizeof ib);
    if (ia < 0) ia = INT64_MIN - ia;
    if (ib < 0) ib = INT64_MIN - ib;
    return ia > ib ? ia - ib : ib - ia;
}

static inline int32_t testkit_ulp_distance_f(float a, float b)
{
    int32_t ia, ib;
    memcpy(&ia, &a, sizeof ia);
    memcpy(&ib, &b, sizeof ib);
    if (ia < 0) ia = INT32_MIN - ia;
    if (ib < 0) ib = INT32_MIN - ib;
    return ia > ib ? ia - ib : ib - ia;
}

/* Doubles at most `maxulp` units in the last place apart. */
#define ASSERT_ULP(a, b, maxulp)                                                                             \
    do {                                                                                                     \
        double testkit_a = (double)(a), testkit_b = (double)(b);                                             \
        int64_t testkit_d = testkit_ulp_distance(testkit_a, testkit_b);                                      \
        if (isnan(testkit_a) || isnan(testkit_b) || testkit_d > (int64_t)(maxulp))                           \
            TESTKIT_FAIL("%s ~ %s: %.17g vs %.17g (%" PRId64 " ulp > %lld)", #a, #b, testkit_a, testkit_b,   \
                         testkit_d, (long long)(maxulp));                                                    \
    } while (0)

/* Floats at most `maxulp` float ulps apart. */
#define ASSERT_ULP_F(a, b, maxulp)                                                                           \
    do {                                                                                                     \
        float testkit_a = (float)(a), testkit_b = (float)(b);                                                \
        int32_t testkit_d = testkit_ulp_distance_f(testkit_a, testkit_b);                                    \
        if (isnan(testkit_a) || isnan(testkit_b) || testkit_d > (int32_t)(maxulp))                           \
            TESTKIT_FAIL("%s ~ %s: %.9g vs %.9g (%d ulp > %d)", #a, #b, (double)testkit_a,                   \
                         (double)testkit_b, (int)testkit_d, (int)(maxulp));                                  \
    } while (0)

/* A call that must return FSCI_OK; prints the library's message otherwise. */
#define ASSERT_OK(expr)                                                                                      \
    do {                                                                                                     \
        int testkit_st = (expr);                                                                             \
        if (testkit_st != 0)                                                                                 \
            TESTKIT_FAIL("%s returned %d (%s): %s", #expr, testkit_st, fsci_strerror(testkit_st),            \
                         fsci_error_message());                                                              \
    } while (0)

/* A call that must fail with `code`. */
#define ASSERT_STATUS(expr, code)                                                                            \
    do {                                                                                                     \
        int testkit_st = (expr);                                                                             \
        if (testkit_st != (code))                                                                            \
            TESTKIT_FAIL("%s returned %d (%s), expected %d (%s); message: %s", #expr, testkit_st,            \
                         fsci_strerror(testkit_st), (int)(code), fsci_strerror(code), fsci_error_message()); \
    } while (0)

static inline int testkit_run(int argc, char **argv)
{
    int passed = 0, failed = 0;
    const char *filter = argc > 1 ? argv[1] : NULL;
    for (int i = 0; i < testkit_ntests; i++) {
        if (filter && !strstr(testkit_tests[i].name, filter)) continue;
        int f = 0;
        fsci_error_clear();
        testkit_tests[i].fn(&f);
        printf("%s %s\n", f ? "FAIL" : "ok  ", testkit_tests[i].name);
        fflush(stdout);
        if (f)
            failed++;
        else
            passed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : (passed ? 0 : 1);
}

#define TESTKIT_MAIN()                                                                                       \
    int main(int argc, char **argv)                                                                          \
    {                                                                                                        \
        return testkit_run(argc, argv);                                                                      \
    }

#endif
