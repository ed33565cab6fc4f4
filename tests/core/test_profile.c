#include "fastsci/core/profile.h"
#include "fastsci/core/progress.h"
#include "testkit.h"

static void spin(double seconds)
{
    double t = fsci_clock();
    while (fsci_clock() - t < seconds) {
    }
}

TEST(events_accumulate_time_and_rates)
{
    fsci_event ev = -1, again = -1;
    ASSERT_OK(fsci_profile_register("test.phase", &ev));
    ASSERT_OK(fsci_profile_register("test.phase", &again));
    ASSERT_EQ(ev, again);
    fsci_profile_enable(true);
    fsci_profile_reset();
    for (int i = 0; i < 3; i++) {
        double t0 = fsci_profile_begin(ev);
        spin(0.01);
        fsci_profile_end(ev, t0, 1e9, 2e9);
    }
    fsci_profile_entry e;
    ASSERT_OK(fsci_profile_get(ev, &e));
    ASSERT_EQ(e.calls, 3);
    ASSERT_TRUE(e.seconds >= 0.03 && e.seconds < 1.0);
    ASSERT_NEAR_REL(e.bytes, 3e9, 1e-12, 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fsci_profile_report(f);
    fclose(f);
    ASSERT_TRUE(strstr(buf, "test.phase") && strstr(buf, "GB/s"));
    free(buf);
    fsci_profile_enable(false);
    double t0 = fsci_profile_begin(ev);
    fsci_profile_end(ev, t0, 1, 1);
    ASSERT_OK(fsci_profile_get(ev, &e));
    ASSERT_EQ(e.calls, 3); /* disabled: not counted */
}

static char captured[8192];
static void sink(const char *text, void *ud)
{
    (void)ud;
    strncat(captured, text, sizeof captured - strlen(captured) - 1);
}

TEST(progress_lines_bar_and_quiet)
{
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
    spin(0.25);
    fsci_progress_add(p, 5);
    fsci_progress_finish(p);
    fsci_progress_destroy(&p);
    ASSERT_TRUE(strstr(captured, "\rbar [###############...............]  50%") != NULL);
    ASSERT_TRUE(strstr(captured, "ETA") && strstr(captured, "items/s"));

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
