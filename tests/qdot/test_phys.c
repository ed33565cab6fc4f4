/* qdot physical agent: reaches (1, 1) on random devices of its prior, the same results for 1 and
 * 2 threads, bad options refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qdot/phys.h"
#include "testkit.h"

TEST(reaches_the_target_on_random_devices)
{
    enum { N = 12 };
    fsci__qdot_phys_opts o;
    fsci__qdot_phys_defaults(&o);
    o.particles = 2000;
    fsci__qdot_phys_result r[N];
    ASSERT_OK(fsci__qdot_phys_bench(&o, N, 0, r));
    int ok = 0;
    for (int k = 0; k < N; k++) {
        ok += r[k].success;
        /* success means COMPLETE in the true (1, 1) at the final voltage */
        if (r[k].success) ASSERT_TRUE(r[k].complete && r[k].true_n1 == 1 && r[k].true_n2 == 1);
        ASSERT_TRUE(r[k].total_measurements == 256 + 144 * (r[k].steps - 1));
        ASSERT_TRUE(r[k].v[0] >= 0 && r[k].v[0] <= 60 && r[k].v[1] >= 0 && r[k].v[1] <= 60);
    }
    ASSERT_TRUE(ok >= N - 1); /* measured: 12 of 12 (300 trials with 4000 particles: 99.7 %) */
}

TEST(threads_do_not_change_results)
{
    enum { N = 4 };
    fsci__qdot_phys_opts o;
    fsci__qdot_phys_defaults(&o);
    o.particles = 500;
    o.trial = 17;
    fsci__qdot_phys_result a[N], b[N];
    ASSERT_OK(fsci__qdot_phys_bench(&o, N, 1, a));
    ASSERT_OK(fsci__qdot_phys_bench(&o, N, 2, b));
    for (int k = 0; k < N; k++) {
        ASSERT_TRUE(a[k].v[0] == b[k].v[0] && a[k].v[1] == b[k].v[1]);
        ASSERT_TRUE(a[k].p_final == b[k].p_final && a[k].ess == b[k].ess);
        ASSERT_EQ(a[k].total_measurements, b[k].total_measurements);
    }
    /* a single trial equals the same trial inside the pool */
    fsci__qdot_phys_result one;
    o.trial = 19;
    ASSERT_OK(fsci__qdot_phys_trial(&o, &one));
    ASSERT_TRUE(one.v[0] == a[2].v[0] && one.v[1] == a[2].v[1] && one.p_final == a[2].p_final);
}

TEST(bad_options)
{
    fsci__qdot_phys_opts o;
    fsci__qdot_phys_result r;
    fsci__qdot_phys_defaults(&o);
    o.particles = 3;
    ASSERT_STATUS(fsci__qdot_phys_trial(&o, &r), FSCI_EINVAL);
    fsci__qdot_phys_defaults(&o);
    o.p_goal = 1.5;
    ASSERT_STATUS(fsci__qdot_phys_trial(&o, &r), FSCI_EINVAL);
    fsci__qdot_phys_defaults(&o);
    o.trial = -1;
    ASSERT_STATUS(fsci__qdot_phys_trial(&o, &r), FSCI_EINVAL);
}

TEST(moves_respect_the_slew_limit_and_the_bounds)
{
    fsci__qdot_phys_opts o;
    fsci__qdot_phys_defaults(&o);
    o.particles = 500;
    o.slew = 4;
    char *buf = NULL;
    size_t len = 0;
    o.log = open_memstream(&buf, &len);
    ASSERT_TRUE(o.log != NULL);
    fsci__qdot_phys_result r;
    ASSERT_OK(fsci__qdot_phys_trial(&o, &r));
    fclose(o.log);
    ASSERT_TRUE(r.moves > 0);
    /* every gate step (its L1 length is the line's value) is at most slew, inside the bounds */
    int steps = 0;
    for (char *p = strstr(buf, "gate_step"); p; p = strstr(p + 1, "gate_step")) {
        double v[2], l1;
        ASSERT_TRUE(sscanf(strstr(p, "\"v\":[") + 5, "%lf,%lf", &v[0], &v[1]) == 2);
        ASSERT_TRUE(sscanf(strstr(p, "\"value\":") + 8, "%lf", &l1) == 1);
        ASSERT_TRUE(v[0] >= 0 && v[0] <= 60 && v[1] >= 0 && v[1] <= 60);
        ASSERT_TRUE(l1 > 0 && l1 <= 4 + 1e-9);
        steps++;
    }
    ASSERT_EQ(steps, r.moves);
    free(buf);
}

TESTKIT_MAIN()
