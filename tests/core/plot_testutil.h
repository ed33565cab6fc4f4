/* Helpers shared by the PNG and figure tests (test_png.c, test_plot.c):
 * scratch paths, leftover temporary files, colour checks, figure decoding.
 * Define PLOT_TEST_SUBDIR (a folder under $FSCI_TEST_TMP) before including. */
#ifndef FASTSCI_TESTS_CORE_PLOT_TESTUTIL_H
#define FASTSCI_TESTS_CORE_PLOT_TESTUTIL_H

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fastsci/core/plot.h"
#include "testkit.h"

#ifndef PLOT_TEST_SUBDIR
#define PLOT_TEST_SUBDIR "plot"
#endif

/* Each test file uses a different subset of these. */
#define PLOT_TESTUTIL_UNUSED __attribute__((unused))

PLOT_TESTUTIL_UNUSED static const char *tmpdir(void)
{
    static char dir[1024];
    if (!dir[0]) {
        const char *base = getenv("FSCI_TEST_TMP");
        snprintf(dir, sizeof dir, "%s/%s", base && *base ? base : "/tmp", PLOT_TEST_SUBDIR);
        mkdir(dir, 0777);
    }
    return dir;
}

PLOT_TESTUTIL_UNUSED static const char *tpath(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", tmpdir(), name);
    return buf;
}

PLOT_TESTUTIL_UNUSED static int file_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* Number of leftover temporary files of this process ("*.tmp<pid>.<n>")
 * in the test directory. */
PLOT_TESTUTIL_UNUSED static int count_tmp_files(void)
{
    DIR *d = opendir(tmpdir());
    if (!d) return -1;
    char pat[64];
    snprintf(pat, sizeof pat, ".tmp%ld.", (long)getpid());
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, pat)) n++;
    closedir(d);
    return n;
}

PLOT_TESTUTIL_UNUSED static double luminance(const uint8_t c[3])
{
    double y = 0.0;
    static const double w[3] = {0.2126, 0.7152, 0.0722};
    for (int k = 0; k < 3; k++) {
        double v = c[k] / 255.0;
        y += w[k] * (v <= 0.04045 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4));
    }
    return y;
}

PLOT_TESTUTIL_UNUSED static int rgb_eq(const uint8_t *p, int r, int g, int b)
{
    return p[0] == r && p[1] == g && p[2] == b;
}

/* Pixels within `tol` (per channel) of colour (r, g, b). */
PLOT_TESTUTIL_UNUSED static int64_t count_color(const uint8_t *rgb, int64_t npix, int r, int g, int b,
                                                int tol)
{
    int64_t n = 0;
    for (int64_t i = 0; i < npix; i++) {
        const uint8_t *p = rgb + 3 * i;
        if (abs(p[0] - r) <= tol && abs(p[1] - g) <= tol && abs(p[2] - b) <= tol) n++;
    }
    return n;
}

/* Decode a figure and check size and white corners. Returns the pixels. */
PLOT_TESTUTIL_UNUSED static uint8_t *load_figure(const char *path, int64_t w, int64_t h, int *ok)
{
    uint8_t *rgb = NULL;
    int64_t W = 0, H = 0;
    *ok = 0;
    if (fsci_png_read_rgb(path, &rgb, &W, &H) != FSCI_OK) return NULL;
    if (W != w || H != h) {
        fprintf(stderr, "  figure %s is %lld x %lld, expected %lld x %lld\n", path, (long long)W,
                (long long)H, (long long)w, (long long)h);
        return rgb;
    }
    const uint8_t *c[4] = {rgb, rgb + 3 * (W - 1), rgb + 3 * (H - 1) * W, rgb + 3 * (H * W - 1)};
    for (int k = 0; k < 4; k++)
        if (!rgb_eq(c[k], 255, 255, 255)) {
            fprintf(stderr, "  figure %s: corner %d is %d,%d,%d, not white\n", path, k, c[k][0], c[k][1],
                    c[k][2]);
            return rgb;
        }
    *ok = 1;
    return rgb;
}

#endif
