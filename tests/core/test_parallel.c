#include "fastsci/core/alloc.h"
#include "fastsci/core/parallel.h"
#include "testkit.h"

TEST(partition_covers_range_once)
{
    for (int parts = 1; parts <= 7; parts++) {
        int64_t next = 0;
        for (int p = 0; p < parts; p++) {
            int64_t b, e;
            fsci_parallel_range(23, parts, p, &b, &e);
            ASSERT_EQ(b, next);
            ASSERT_TRUE(e - b == 23 / parts || e - b == 23 / parts + 1);
            next = e;
        }
        ASSERT_EQ(next, 23);
    }
}

TEST(sum_is_identical_for_any_thread_count)
{
    int64_t n = 1000003;
    double *x = fsci_malloc((size_t)n, sizeof *x);
    ASSERT_TRUE(x);
    /* Values of wildly different magnitude make the sum order-sensitive. */
    for (int64_t i = 0; i < n; i++) x[i] = (i % 3 == 0 ? 1e12 : 1e-3) * (double)((i * 7919) % 1000 - 500);
    double s1 = fsci_parallel_sum_f64(x, n, 1);
    double s2 = fsci_parallel_sum_f64(x, n, 2);
    double s3 = fsci_parallel_sum_f64(x, n, 3);
    ASSERT_TRUE(memcmp(&s1, &s2, sizeof s1) == 0);
    ASSERT_TRUE(memcmp(&s1, &s3, sizeof s1) == 0);
    /* ...and close to a compensated reference. */
    long double ref = 0;
    for (int64_t i = 0; i < n; i++) ref += x[i];
    ASSERT_NEAR_REL(s1, (double)ref, 1e-9, 1e3);
    fsci_free(x);
}

TEST(sum_f32_and_small_inputs)
{
    float v[5] = {1, 2, 3, 4, 5.5f};
    ASSERT_NEAR_REL(fsci_parallel_sum_f32(v, 5, 2), 15.5, 0, 0);
    ASSERT_NEAR_REL(fsci_parallel_sum_f32(v, 0, 2), 0, 0, 0);
}

TEST(thread_count_parsing)
{
    int n;
    ASSERT_OK(fsci_parallel_parse_threads("3", "--threads", &n));
    ASSERT_EQ(n, 3);
    ASSERT_STATUS(fsci_parallel_parse_threads("0", "--threads", &n), FSCI_EINVAL);
    ASSERT_STATUS(fsci_parallel_parse_threads("2x", "--threads", &n), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "--threads") && strstr(fsci_error_message(), "'2x'"));
    ASSERT_OK(fsci_parallel_set_threads(5));
    ASSERT_EQ(fsci_parallel_threads(), 5);
    ASSERT_EQ(fsci_parallel_resolve(0), 5);
    ASSERT_EQ(fsci_parallel_resolve(2), 2);
    ASSERT_OK(fsci_parallel_set_threads(0));
    ASSERT_TRUE(fsci_parallel_threads() >= 1);
    ASSERT_STATUS(fsci_parallel_set_threads(-1), FSCI_EINVAL);
}

TESTKIT_MAIN()
