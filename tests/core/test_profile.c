/* Tests of profiling events and progress reports. Time comes from a fake
 * clock (core/profile_impl.h) that the tests advance by hand, so every
 * assertion is on exact counts, sums, rates and text, never on how fast the
 * machine ran. */
#include "core/profile_impl.h"
#include "fastsci/core/profile.h"
#include "fastsci/core/progress.h"
#include "testkit.h"

static double fake_now = 100.0;
static double fake_clock(void)
{
    return fake_now;
}

TEST(events_accumulate_time_and_rates)
{
    fsci_event ev = -1, again = -1, other = -1;
    ASSERT_OK(fsci_profile_register("test.phase", &ev));
    ASSERT_OK(fsci_profile_register("test.phase", &again));
    ASSERT_EQ(ev, again);
    ASSERT_OK(fsci_profile_register("test.other", &other));
    ASSERT_TRUE(other != ev);
    ASSERT_TRUE(fsci_profile_count() >= 2);
    fsci__profile_set_clock(fake_clock);
    fsci_profile_enable(true);
    fsci_profile_reset();
    for (int i = 0; i < 3; i++) {
        double t0 = fsci_profile_begin(ev);
        ASSERT_TRUE(t0 == fake_now);
        fake_now += 0.25; /* binary fractions: the sums below are exact */
        fsci_profile_end(ev, t0, 1e9, 2e9);
    }
    fsci_profile_add(other, 1.5, 6, 0, 3e9);
    fsci_profile_entry e;
    ASSERT_OK(fsci_profile_get(ev, &e));
    ASSERT_STREQ(e.name, "test.phase");
    ASSERT_EQ(e.calls, 3);
    ASSERT_TRUE(e.seconds == 0.75);
    ASSERT_TRUE(e.bytes == 3e9 && e.flops == 6e9);
    ASSERT_OK(fsci_profile_get(other, &e));
    ASSERT_EQ(e.calls, 6);
    ASSERT_TRUE(e.seconds == 1.5 && e.bytes == 0 && e.flops == 3e9);
    ASSERT_STATUS(fsci_profile_get(fsci_profile_count(), &e), FSCI_ERANGE);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ASSERT_TRUE(f);
    fsci_profile_report(f);
    fclose(f);
    /* name, calls, total s, ms/call, GB/s, GFLOP/s: 3e9 B / 0.75 s = 4 GB/s, 6e9 / 0.75 = 8 GFLOP/s */
    char want[160];
    snprintf(want, sizeof want, "%-28s %8d %10.4f %10.3f %9s %9s\n", "test.phase", 3, 0.75, 250.0, "4.00",
             "8.00");
    ASSERT_TRUE(strstr(buf, want) != NULL);
    snprintf(want, sizeof want, "%-28s %8d %10.4f %10.3f %9s %9s\n", "test.other", 6, 1.5, 250.0, "-",
             "2.00");
    ASSERT_TRUE(strstr(buf, want) != NULL);
    free(buf);
    /* disabled: begin returns 0 and nothing is counted */
    fsci_profile_enable(false);
    double t0 = fsci_profile_begin(ev);
    ASSERT_TRUE(t0 == 0.0);
    fake_now += 1.0;
    fsci_profile_end(ev, t0, 1, 1);
    ASSERT_OK(fsci_profile_get(ev, &e));
    ASSERT_EQ(e.calls, 3);
    ASSERT_TRUE(e.seconds == 0.75);
    /* reset zeroes counters and keeps the events */
    int n = fsci_profile_count();
    fsci_profile_reset();
    ASSERT_EQ(fsci_profile_count(), n);
    ASSERT_OK(fsci_profile_get(ev, &e));
    ASSERT_TRUE(e.calls == 0 && e.seconds == 0 && e.bytes == 0);
    fsci__profile_set_clock(NULL);
    ASSERT_TRUE(fsci_clock() != fake_now); /* the real clock is back */
}

static char captured[8192];
static void sink(const char *text, void *ud)
{
    (void)ud;
    strncat(captured, text, sizeof captured - strlen(captured) - 1);
}

TEST(progress_lines_bar_and_quiet)
{
    fsci__profile_set_clock(fake_clock);
    fsci_progress_set_sink(sink, NULL);
    fsci_progress_set_min_time(0);
    fsci_progress_set_mode(FSCI_PROGRESS_LINES);
    captured[0] = '\0';
    fsci_progress *p = NULL;
    ASSERT_OK(fsci_progress_create("job", 100, "steps", &p));
    for (int i = 0; i < 100; i++) fsci_progress_add(p, 1);
    fsci_progress_finish(p);
    fsci_progress_destroy(&p);
    ASSERT_TRUE(strstr(captured, "job:  10%") != NULL);
    ASSERT_TRUE(strstr(captured, "job:  90%") != NULL);
    ASSERT_TRUE(strstr(captured, "job: done, 100 steps") != NULL);
    ASSERT_TRUE(strchr(captured, '\r') == NULL);

    fsci_progress_set_mode(FSCI_PROGRESS_BAR);
    captured[0] = '\0';
    ASSERT_OK(fsci_progress_create("bar", 10, "items", &p));
    fake_now += 0.25; /* the first redraw of a bar is due after 0.2 s */
    fsci_progress_add(p, 5);
    fsci_progress_finish(p);
    fsci_progress_destroy(&p);
    ASSERT_TRUE(strstr(captured, "\rbar [###############...............]  50%") != NULL);
    ASSERT_TRUE(strstr(captured, " 5/10 20 items/s ETA ") != NULL); /* 5 items in 0.25 s */

    fsci_progress_set_mode(FSCI_PROGRESS_QUIET);
    captured[0] = '\0';
    ASSERT_OK(fsci_progress_create("quiet", 10, "items", &p));
    fsci_progress_add(p, 10);
    fsci_progress_finish(p);
    fsci_progress_destroy(&p);
    fsci_warn("should not appear");
    ASSERT_STREQ(captured, "");
    fsci_progress_set_mode(FSCI_PROGRESS_AUTO);
    fsci_warn("capped at %d", 7);
    ASSERT_STREQ(captured, "fastsci: warning: capped at 7\n");

    /* a short job under the minimum time prints nothing at all */
    fsci_progress_set_min_time(5.0);
    fsci_progress_set_mode(FSCI_PROGRESS_LINES);
    captured[0] = '\0';
    ASSERT_OK(fsci_progress_create("short", 10, "items", &p));
    for (int i = 0; i < 10; i++) fsci_progress_add(p, 1);
    fsci_progress_finish(p);
    fsci_progress_destroy(&p);
    ASSERT_STREQ(captured, "");
    fsci_progress_set_min_time(1.0);
    fsci_progress_set_mode(FSCI_PROGRESS_AUTO);
    fsci_progress_set_sink(NULL, NULL);
    fsci__profile_set_clock(NULL);
}

TEST(si_formatting)
{
    char b[32];
    fsci_format_si(999, b, sizeof b);
    ASSERT_STREQ(b, "999");
    fsci_format_si(1234567, b, sizeof b);
    ASSERT_STREQ(b, "1.23M");
    fsci_format_si(45600, b, sizeof b);
    ASSERT_STREQ(b, "45.6k");
}

TESTKIT_MAIN()
