/* Test helpers for scratch folders: a per-process root under $FSCI_TEST_TMP,
 * path joining, counting and removing folder trees. */
#ifndef FASTSCI_TESTS_FS_TESTUTIL_H
#define FASTSCI_TESTS_FS_TESTUTIL_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* $FSCI_TEST_TMP/<tag>_<pid> (created on first use). */
static inline const char *scratch_root(const char *tag)
{
    static char r[1024];
    if (!r[0]) {
        const char *t = getenv("FSCI_TEST_TMP");
        snprintf(r, sizeof r, "%s/%s_%ld", t && t[0] ? t : "/tmp", tag, (long)getpid());
        mkdir(t && t[0] ? t : "/tmp", 0777);
        mkdir(r, 0777);
    }
    return r;
}

/* "a/b" in one of 8 rotating buffers (a may be an earlier result). */
static inline const char *pj(const char *a, const char *b)
{
    static char bufs[8][1400];
    static int k;
    char tmp[1400];
    snprintf(tmp, sizeof tmp, "%s/%s", a, b);
    char *p = bufs[k++ % 8];
    memcpy(p, tmp, sizeof tmp);
    return p;
}

/* Entries of a folder other than . and .. (-1 if it cannot be opened). */
static inline int count_entries(const char *d)
{
    int n = 0;
    DIR *dp = opendir(d);
    if (!dp) return -1;
    struct dirent *de;
    while ((de = readdir(dp)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
    closedir(dp);
    return n;
}

/* Remove a folder tree. */
static inline void rm_tree(const char *d)
{
    DIR *dp = opendir(d);
    if (dp) {
        struct dirent *de;
        while ((de = readdir(dp))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
            char p[4096];
            int n = snprintf(p, sizeof p, "%s/%s", d, de->d_name);
            if (n < 0 || (size_t)n >= sizeof p) continue;
            if (unlink(p) != 0) rm_tree(p);
        }
        closedir(dp);
    }
    rmdir(d);
}

#endif
