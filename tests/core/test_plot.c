/* PLplot figures: line plots, image plots, PLplot errors, threads. Colormaps,
 * raw PNG I/O and heatmaps are in test_png.c. */
#ifdef _OPENMP
#include <omp.h>
#endif

#include "fastsci/core/alloc.h"
#include "fastsci/core/plot.h"
#include "plot_testutil.h"

/* Test hook in src/core/io/plot.c: 1 = fatal PLplot error (plexit) during
 * the next figure, 2 = recoverable error (plabort). */
void fsci__plot_test_fault(int mode);

/* Under FSCI_SANITIZE: fontconfig, cairo and libltdl (loaded by PLplot) keep
 * process-lifetime caches that LeakSanitizer reports; they are not ours. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libfontconfig.so\nleak:libcairo.so\nleak:libltdl.so\n";
}

/* ------------------------------------------------------------ figures */

/* tab10 entries used by the plots below. */
static const int TAB_BLUE[3] = {31, 119, 180}, TAB_ORANGE[3] = {255, 127, 14}, TAB_RED[3] = {214, 39, 40};

enum { NPT = 120 };
static double gx[NPT], gy1[NPT], gy2[NPT], gy3[NPT];

static void make_series(fsci_plot_series s[3])
{
    for (int i = 0; i < NPT; i++) {
        gx[i] = 1.0 + i;
        gy1[i] = 100.0 * exp(-gx[i] / 40.0);
        gy2[i] = 50.0 + 30.0 * sin(gx[i] / 9.0);
        gy3[i] = i % 12 == 0 ? 10.0 + 0.3 * i : (double)NAN; /* sparse: NaN gaps */
    }
    s[0] = (fsci_plot_series){.x = gx, .y = gy1, .n = NPT, .label = "exp decay"};
    s[1] =
        (fsci_plot_series){.x = gx, .y = gy2, .n = NPT, .label = "sine #2", .style = FSCI_PLOT_LINE_MARKERS};
    s[2] = (fsci_plot_series){
        .x = gx, .y = gy3, .n = NPT, .label = "measured", .style = FSCI_PLOT_MARKERS, .color = 4};
}

TEST(plot_lines_basic)
{
    char p[1200];
    fsci_plot_series s[3];
    make_series(s);
    fsci_plot_vline vl[1] = {{30.0, "PSTAR range"}};
    fsci_plot_opts o = {.title = "Depth–dose, 150 MeV",
                        .xlabel = "depth [mm]",
                        .ylabel = "dose [Gy]",
                        .vlines = vl,
                        .nvlines = 1};
    tpath(p, sizeof p, "lines.png");
    ASSERT_OK(fsci_plot_lines(p, s, 3, &o));
    int ok;
    uint8_t *rgb = load_figure(p, FSCI_PLOT_DEFAULT_WIDTH, FSCI_PLOT_DEFAULT_HEIGHT, &ok);
    ASSERT_TRUE(rgb);
    int64_t npix = (int64_t)FSCI_PLOT_DEFAULT_WIDTH * FSCI_PLOT_DEFAULT_HEIGHT;
    int64_t nb = count_color(rgb, npix, TAB_BLUE[0], TAB_BLUE[1], TAB_BLUE[2], 6);
    int64_t no = count_color(rgb, npix, TAB_ORANGE[0], TAB_ORANGE[1], TAB_ORANGE[2], 6);
    int64_t nr = count_color(rgb, npix, TAB_RED[0], TAB_RED[1], TAB_RED[2], 6);
    int64_t nk = count_color(rgb, npix, 0, 0, 0, 90); /* dark: axes and text */
    fsci_free(rgb);
    ASSERT_TRUE(ok);
    printf("  series pixels: blue %lld, orange %lld, red %lld; dark %lld\n", (long long)nb, (long long)no,
           (long long)nr, (long long)nk);
    ASSERT_TRUE(nb > 200 && no > 500 && nr > 100 && nk > 2000);

    /* Log axes, custom size, legend outside. */
    o.logy = 1;
    o.logx = 1;
    o.width = 640;
    o.height = 480;
    o.legend = FSCI_LEGEND_OUTSIDE_RIGHT;
    tpath(p, sizeof p, "lines_log.png");
    ASSERT_OK(fsci_plot_lines(p, s, 3, &o));
    rgb = load_figure(p, 640, 480, &ok);
    ASSERT_TRUE(rgb);
    nb = count_color(rgb, 640 * 480, TAB_BLUE[0], TAB_BLUE[1], TAB_BLUE[2], 6);
    fsci_free(rgb);
    ASSERT_TRUE(ok && nb > 100);
}

TEST(plot_lines_empty_plot_has_no_series_colour)
{
    /* Guards the colour check above: a series drawn entirely outside a fixed
     * range leaves only its legend sample. */
    char p[1200];
    double x[2] = {0, 1}, y[2] = {5, 6};
    fsci_plot_series s = {.x = x, .y = y, .n = 2, .style = FSCI_PLOT_LINE};
    fsci_plot_opts o = {.ymin = 100, .ymax = 200};
    ASSERT_OK(fsci_plot_lines(tpath(p, sizeof p, "lines_empty.png"), &s, 1, &o));
    int ok;
    uint8_t *rgb = load_figure(p, FSCI_PLOT_DEFAULT_WIDTH, FSCI_PLOT_DEFAULT_HEIGHT, &ok);
    ASSERT_TRUE(rgb);
    int64_t nb = count_color(rgb, (int64_t)FSCI_PLOT_DEFAULT_WIDTH * FSCI_PLOT_DEFAULT_HEIGHT, TAB_BLUE[0],
                             TAB_BLUE[1], TAB_BLUE[2], 6);
    fsci_free(rgb);
    ASSERT_TRUE(ok);
    ASSERT_EQ(nb, 0);
}

TEST(plot_scatter_groups)
{
    /* Scan positions in grey markers with two highlighted groups of 4
     * joined by lines: the use case for line+marker series. */
    char p[1200];
    enum { NS = 64 };
    double sx[NS], sy[NS];
    for (int i = 0; i < NS; i++) {
        sx[i] = (i % 8) * 1.5 + 0.2 * sin(i);
        sy[i] = (i / 8) * 1.5 + 0.2 * cos(i);
    }
    double g1x[5] = {sx[9], sx[10], sx[18], sx[17], sx[9]}, g1y[5] = {sy[9], sy[10], sy[18], sy[17], sy[9]};
    double g2x[5] = {sx[45], sx[46], sx[54], sx[53], sx[45]},
           g2y[5] = {sy[45], sy[46], sy[54], sy[53], sy[45]};
    fsci_plot_series s[3] = {
        {.x = sx, .y = sy, .n = NS, .label = "scan positions", .style = FSCI_PLOT_MARKERS, .color = 8},
        {.x = g1x, .y = g1y, .n = 5, .label = "group A", .style = FSCI_PLOT_LINE_MARKERS, .color = 1},
        {.x = g2x, .y = g2y, .n = 5, .label = "group B", .style = FSCI_PLOT_LINE_MARKERS, .color = 4},
    };
    fsci_plot_opts o = {.title = "Scan positions",
                        .xlabel = "x [µm]",
                        .ylabel = "y [µm]",
                        .legend = FSCI_LEGEND_OUTSIDE_RIGHT,
                        .width = 800,
                        .height = 700,
                        .equal_aspect = 1};
    ASSERT_OK(fsci_plot_lines(tpath(p, sizeof p, "scatter.png"), s, 3, &o));
    int ok;
    uint8_t *rgb = load_figure(p, 800, 700, &ok);
    ASSERT_TRUE(rgb);
    int64_t ng = count_color(rgb, 800 * 700, 127, 127, 127, 4);
    int64_t nr = count_color(rgb, 800 * 700, TAB_RED[0], TAB_RED[1], TAB_RED[2], 6);
    fsci_free(rgb);
    ASSERT_TRUE(ok && ng > 500 && nr > 100);
}

TEST(plot_image_basic)
{
    char p[1200];
    enum { R = 40, C = 64 };
    static double img[R][C];
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) img[r][c] = sin(c / 8.0) * cos(r / 6.0);
    img[20][30] = (double)NAN;
    img[20][31] = (double)NAN;
    img[21][30] = (double)NAN;
    fsci_view v;
    ASSERT_OK(fsci_view_init(&v, img, FSCI_F64, 2, (int64_t[]){R, C}, false));
    fsci_plot_image_opts o = {.title = "Object phase",
                              .xlabel = "x [µm]",
                              .ylabel = "y [µm]",
                              .cbar_label = "phase [rad]",
                              .x0 = -3.2,
                              .x1 = 3.2,
                              .y0 = -2,
                              .y1 = 2,
                              .map = {.cmap = FSCI_CMAP_DIVERGING, .symmetric = 1}};
    ASSERT_OK(fsci_plot_image(tpath(p, sizeof p, "image.png"), &v, &o));
    int ok;
    uint8_t *rgb = load_figure(p, FSCI_PLOT_DEFAULT_WIDTH, FSCI_PLOT_DEFAULT_HEIGHT, &ok);
    ASSERT_TRUE(rgb);
    int64_t npix = (int64_t)FSCI_PLOT_DEFAULT_WIDTH * FSCI_PLOT_DEFAULT_HEIGHT;
    int64_t nbad = count_color(rgb, npix, FSCI_CMAP_BAD_R, FSCI_CMAP_BAD_G, FSCI_CMAP_BAD_B, 2);
    uint8_t lo[3], hi[3];
    fsci_cmap_rgb(FSCI_CMAP_DIVERGING, 0.0, lo);
    fsci_cmap_rgb(FSCI_CMAP_DIVERGING, 1.0, hi);
    int64_t nlo = count_color(rgb, npix, lo[0], lo[1], lo[2], 8);
    int64_t nhi = count_color(rgb, npix, hi[0], hi[1], hi[2], 8);
    fsci_free(rgb);
    ASSERT_TRUE(ok);
    printf("  bad pixels %lld, low-end %lld, high-end %lld\n", (long long)nbad, (long long)nlo,
           (long long)nhi);
    ASSERT_TRUE(nbad > 50 && nlo > 20 && nhi > 20);

    /* float32 transposed view, log scale, equal aspect, magma. */
    static float f[C][R];
    for (int c = 0; c < C; c++)
        for (int r = 0; r < R; r++) f[c][r] = (float)pow(10.0, -2.0 + 4.0 * c / C);
    fsci_view t = {.data = f,
                   .dtype = FSCI_F32,
                   .ndim = 2,
                   .shape = {R, C},
                   .strides = {sizeof(float), R * sizeof(float)}};
    o = (fsci_plot_image_opts){.title = "Fluence",
                               .cbar_label = "cm⁻²",
                               .equal_aspect = 1,
                               .origin_lower = 1,
                               .width = 700,
                               .height = 500,
                               .map = {.cmap = FSCI_CMAP_MAGMA, .log10 = 1}};
    ASSERT_OK(fsci_plot_image(tpath(p, sizeof p, "image_log.png"), &t, &o));
    rgb = load_figure(p, 700, 500, &ok);
    ASSERT_TRUE(rgb);
    fsci_cmap_rgb(FSCI_CMAP_MAGMA, 1.0, hi);
    nhi = count_color(rgb, 700 * 500, hi[0], hi[1], hi[2], 8);
    fsci_free(rgb);
    ASSERT_TRUE(ok && nhi > 20);
}

TEST(plot_bad_inputs)
{
    char p[1200];
    tpath(p, sizeof p, "bad.png");
    remove(p);
    double x[3] = {1, 2, 3}, y[3] = {1, 4, 9}, nan3[3] = {(double)NAN, (double)NAN, (double)NAN};
    fsci_plot_series s = {.x = x, .y = y, .n = 3};
    ASSERT_STATUS(fsci_plot_lines(NULL, &s, 1, NULL), FSCI_EINVAL);
    ASSERT_STATUS(fsci_plot_lines(p, NULL, 1, NULL), FSCI_EINVAL);
    ASSERT_STATUS(fsci_plot_lines(p, &s, 0, NULL), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "nseries = 0"));
    fsci_plot_series b = s;
    b.n = 0;
    ASSERT_STATUS(fsci_plot_lines(p, &b, 1, NULL), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "series[0].n = 0"));
    b = s;
    b.y = NULL;
    ASSERT_STATUS(fsci_plot_lines(p, &b, 1, NULL), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "series[0].y"));
    b = s;
    b.color = 11;
    ASSERT_STATUS(fsci_plot_lines(p, &b, 1, NULL), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "color = 11"));
    b = s;
    b.y = nan3;
    ASSERT_STATUS(fsci_plot_lines(p, &b, 1, NULL), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "plottable"));
    fsci_plot_opts o = {.width = 50};
    ASSERT_STATUS(fsci_plot_lines(p, &s, 1, &o), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "50"));
    o = (fsci_plot_opts){.logx = 1, .xmin = -1, .xmax = 10};
    ASSERT_STATUS(fsci_plot_lines(p, &s, 1, &o), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "xmin = -1"));
    o = (fsci_plot_opts){.ymin = 5, .ymax = 1};
    ASSERT_STATUS(fsci_plot_lines(p, &s, 1, &o), FSCI_EINVAL);
    o = (fsci_plot_opts){.nvlines = 2};
    ASSERT_STATUS(fsci_plot_lines(p, &s, 1, &o), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "nvlines = 2"));
    o = (fsci_plot_opts){.legend = (fsci_plot_legend)17};
    ASSERT_STATUS(fsci_plot_lines(p, &s, 1, &o), FSCI_EINVAL);
    /* Images. */
    fsci_view v;
    ASSERT_OK(fsci_view_init(&v, y, FSCI_F64, 1, (int64_t[]){3}, false));
    ASSERT_STATUS(fsci_plot_image(p, &v, NULL), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "ndim = 1"));
    uint8_t u8[4] = {0};
    ASSERT_OK(fsci_view_init(&v, u8, FSCI_U8, 2, (int64_t[]){2, 2}, false));
    ASSERT_STATUS(fsci_plot_image(p, &v, NULL), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "uint8"));
    ASSERT_STATUS(fsci_plot_image(p, NULL, NULL), FSCI_EINVAL);
    ASSERT_OK(fsci_view_init(&v, y, FSCI_F64, 2, (int64_t[]){1, 3}, false));
    fsci_plot_image_opts io = {.x0 = 0, .x1 = (double)INFINITY};
    ASSERT_STATUS(fsci_plot_image(p, &v, &io), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "x1 = inf"));
    ASSERT_TRUE(!file_exists(p));
}

TEST(plot_missing_directory_leaves_nothing)
{
    char p[1200];
    double y[3] = {1, 2, 3};
    fsci_plot_series s = {.y = y, .n = 3};
    tpath(p, sizeof p, "no-such-dir/fig.png");
    ASSERT_STATUS(fsci_plot_lines(p, &s, 1, NULL), FSCI_EIO);
    ASSERT_TRUE(strstr(fsci_error_message(), "no-such-dir/fig.png"));
    ASSERT_TRUE(!file_exists(p));
    fsci_view v;
    ASSERT_OK(fsci_view_init(&v, y, FSCI_F64, 2, (int64_t[]){1, 3}, false));
    ASSERT_STATUS(fsci_plot_image(p, &v, NULL), FSCI_EIO);
    ASSERT_TRUE(!file_exists(p));
}

/* Set while a PLplot error is being provoked: if PLplot exit()s the process
 * (even with status 0), the atexit hook turns that into a failure. */
static volatile int in_fault_test;

static void exit_guard(void)
{
    if (in_fault_test) {
        fflush(stdout);
        fprintf(stderr, "  FAIL: PLplot ended the process from inside a figure call\n");
        _exit(99);
    }
}

TEST(plot_plplot_errors_never_exit)
{
    char p[1200];
    atexit(exit_guard);
    in_fault_test = 1;
    double y[3] = {1, 2, 3};
    fsci_plot_series s = {.y = y, .n = 3, .label = "y"};
    tpath(p, sizeof p, "fault.png");
    remove(p);
    /* Recoverable PLplot error (plabort). */
    fsci__plot_test_fault(2);
    ASSERT_STATUS(fsci_plot_lines(p, &s, 1, NULL), FSCI_EIO);
    ASSERT_TRUE(strstr(fsci_error_message(), "PLplot error"));
    ASSERT_TRUE(!file_exists(p));
    ASSERT_EQ(count_tmp_files(), 0);
    /* Fatal PLplot error (plexit would call exit()): we get a status back. */
    fsci__plot_test_fault(1);
    ASSERT_STATUS(fsci_plot_lines(p, &s, 1, NULL), FSCI_EIO);
    ASSERT_TRUE(strstr(fsci_error_message(), "fatal"));
    ASSERT_TRUE(strstr(fsci_error_message(), "injected"));
    ASSERT_TRUE(!file_exists(p));
    ASSERT_EQ(count_tmp_files(), 0);
    in_fault_test = 0;
    /* PLplot recovered: the next figure works. */
    ASSERT_OK(fsci_plot_lines(p, &s, 1, NULL));
    int ok;
    uint8_t *rgb = load_figure(p, FSCI_PLOT_DEFAULT_WIDTH, FSCI_PLOT_DEFAULT_HEIGHT, &ok);
    fsci_free(rgb);
    ASSERT_TRUE(ok);
}

TEST(plot_two_threads)
{
    /* PLplot is not thread-safe: the library serialises figures. */
    int failures = 0, valid = 0;
#pragma omp parallel num_threads(2) reduction(+ : failures, valid)
    {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        double y[50], img[12][16];
        for (int i = 0; i < 50; i++) y[i] = sin(i * 0.2 + tid);
        for (int r = 0; r < 12; r++)
            for (int c = 0; c < 16; c++) img[r][c] = r * c + tid;
        for (int k = 0; k < 3; k++) {
            char p[1200], name[64];
            snprintf(name, sizeof name, "thread%d_%d.png", tid, k);
            tpath(p, sizeof p, name);
            int st;
            if (k % 2 == 0) {
                fsci_plot_series s = {.y = y, .n = 50, .label = "sin"};
                fsci_plot_opts o = {.title = name, .width = 400, .height = 300};
                st = fsci_plot_lines(p, &s, 1, &o);
            } else {
                fsci_view v = {.data = img,
                               .dtype = FSCI_F64,
                               .ndim = 2,
                               .shape = {12, 16},
                               .strides = {16 * sizeof(double), sizeof(double)}};
                fsci_plot_image_opts o = {.title = name, .width = 400, .height = 300};
                st = fsci_plot_image(p, &v, &o);
            }
            if (st != FSCI_OK) {
                fprintf(stderr, "  thread %d: %s\n", tid, fsci_error_message());
                failures++;
                continue;
            }
            int ok;
            uint8_t *rgb = load_figure(p, 400, 300, &ok);
            fsci_free(rgb);
            valid += ok;
        }
    }
    ASSERT_EQ(failures, 0);
    ASSERT_EQ(valid, 6);
}

TESTKIT_MAIN()
