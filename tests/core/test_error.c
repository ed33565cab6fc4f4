/* Tests of the per-thread error state: errors recorded concurrently on several
 * OpenMP threads keep their own code, message and location; the macros; and
 * fsci_strerror for every status code. */
#include <omp.h>

#include "testkit.h"

static int fails_with(int code, int tag)
{
    FSCI_CHECK(0, code, "thread %d: value %d rejected", tag, tag * 10);
    return FSCI_OK;
}

static int try_then_fail(int tag, int *cleaned)
{
    int st = FSCI_OK;
    FSCI_TRY(tag >= 0 ? FSCI_OK : FSCI_EINTERNAL);
    FSCI_CHECK_GOTO(tag < 0, FSCI_ERANGE, "tag %d out of range", tag);
fail:
    *cleaned = 1;
    return st;
}

TEST(errors_on_concurrent_threads_keep_their_own_message_code_and_place)
{
    enum { NT = 4, ROUNDS = 2000 };
    int bad[NT] = {0}, ran[NT] = {0};
    static const int codes[NT] = {FSCI_EINVAL, FSCI_EIO, FSCI_ENOMEM, FSCI_EFORMAT};
#pragma omp parallel num_threads(NT)
    {
        int t = omp_get_thread_num();
        ran[t] = 1;
        char want[64];
        snprintf(want, sizeof want, "thread %d: value %d rejected", t, t * 10);
        for (int r = 0; r < ROUNDS; r++) {
            fsci_error_clear();
            if (fsci_error_code() != FSCI_OK || fsci_error_message()[0] != '\0') bad[t]++;
            if (fails_with(codes[t], t) != codes[t]) bad[t]++;
/* every thread re-reads its state after the others have overwritten theirs */
#pragma omp barrier
            if (fsci_error_code() != codes[t]) bad[t]++;
            if (strcmp(fsci_error_message(), want) != 0) bad[t]++;
            if (!strstr(fsci_error_where(), "test_error.c:") || !strstr(fsci_error_where(), "fails_with"))
                bad[t]++;
#pragma omp barrier
        }
    }
    for (int t = 0; t < NT; t++) {
        ASSERT_EQ(ran[t], 1);
        ASSERT_EQ(bad[t], 0);
    }
    /* the main thread's state is its own too: thread 0 of the region was this
     * thread, so it now holds thread 0's error; a clear on it is not seen elsewhere */
    ASSERT_EQ(fsci_error_code(), FSCI_EINVAL);
    fsci_error_clear();
    ASSERT_EQ(fsci_error_code(), FSCI_OK);
    ASSERT_STREQ(fsci_error_message(), "");
    ASSERT_STREQ(fsci_error_where(), "");
}

TEST(check_and_try_macros_record_and_propagate)
{
    int cleaned = 0;
    ASSERT_STATUS(try_then_fail(5, &cleaned), FSCI_ERANGE);
    ASSERT_EQ(cleaned, 1);
    ASSERT_STREQ(fsci_error_message(), "tag 5 out of range");
    ASSERT_TRUE(strstr(fsci_error_where(), "try_then_fail") != NULL);
    cleaned = 0;
    fsci_error_clear();
    ASSERT_STATUS(try_then_fail(-1, &cleaned), FSCI_EINTERNAL); /* FSCI_TRY: no message of its own */
    ASSERT_EQ(cleaned, 1);
    ASSERT_STREQ(fsci_error_message(), "");
    /* long messages are truncated, not overflowed */
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ASSERT_EQ(fsci_error_set(FSCI_EIO, "/a/b/file.c", 12, "fn", "%s", big), FSCI_EIO);
    ASSERT_TRUE(strlen(fsci_error_message()) > 0 && strlen(fsci_error_message()) < sizeof big - 1);
    ASSERT_STREQ(fsci_error_where(), "file.c:12 fn");
}

TEST(strerror_names_every_code)
{
    static const struct {
        int code;
        const char *text;
    } want[] = {{FSCI_OK, "success"},
                {FSCI_EINVAL, "invalid argument"},
                {FSCI_ENOMEM, "out of memory"},
                {FSCI_EIO, "input/output error"},
                {FSCI_EFORMAT, "malformed file"},
                {FSCI_ENOTSUP, "not supported"},
                {FSCI_ERANGE, "value out of range"},
                {FSCI_EINTERNAL, "internal error"},
                {FSCI_ECANCELED, "canceled"}};
    int n = (int)(sizeof want / sizeof want[0]);
    for (int i = 0; i < n; i++) {
        ASSERT_STREQ(fsci_strerror(want[i].code), want[i].text);
        for (int j = 0; j < i; j++) ASSERT_TRUE(strcmp(fsci_strerror(want[j].code), want[i].text) != 0);
    }
    ASSERT_EQ(n, 1 - FSCI_ECANCELED); /* the table covers 0 down to the last code */
    ASSERT_STREQ(fsci_strerror(-9), "unknown error");
    ASSERT_STREQ(fsci_strerror(1), "unknown error");
    ASSERT_STREQ(fsci_strerror(-1000), "unknown error");
}

TESTKIT_MAIN()
