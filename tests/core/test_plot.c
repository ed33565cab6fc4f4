/* Colormaps, raw PNG I/O, heatmaps and PLplot figures. */
#include <dirent.h>
#include <errno.h>
#include <png.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "fastsci/core/alloc.h"
#include "fastsci/core/plot.h"
#include "testkit.h"

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

/* ------------------------------------------------------------ helpers */

static const char *tmpdir(void)
{
    static char dir[1024];
    if (!dir[0]) {
        const char *base = getenv("FSCI_TEST_TMP");
        snprintf(dir, sizeof dir, "%s/plot", base && *base ? base : "/tmp");
        mkdir(dir, 0777);
    }
    return dir;
}

static const char *tpath(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", tmpdir(), name);
    return buf;
}

static int file_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* Number of leftover temporary files of this process ("*.tmp<pid>.<n>")
 * in the test directory. */
static int count_tmp_files(void)
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

static double luminance(const uint8_t c[3])
{
    double y = 0.0;
    static const double w[3] = {0.2126, 0.7152, 0.0722};
    for (int k = 0; k < 3; k++) {
        double v = c[k] / 255.0;
        y += w[k] * (v <= 0.04045 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4));
    }
    return y;
}

static int rgb_eq(const uint8_t *p, int r, int g, int b)
{
    return p[0] == r && p[1] == g && p[2] == b;
}

/* Pixels within `tol` (per channel) of colour (r, g, b). */
static int64_t count_color(const uint8_t *rgb, int64_t npix, int r, int g, int b, int tol)
{
    int64_t n = 0;
    for (int64_t i = 0; i < npix; i++) {
        const uint8_t *p = rgb + 3 * i;
        if (abs(p[0] - r) <= tol && abs(p[1] - g) <= tol && abs(p[2] - b) <= tol) n++;
    }
    return n;
}

/* Decode a figure and check size and white corners. Returns the pixels. */
static uint8_t *load_figure(const char *path, int64_t w, int64_t h, int *ok)
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

/* ------------------------------------------------------------ colormaps */

TEST(cmap_names)
{
    fsci_cmap c;
    ASSERT_OK(fsci_cmap_from_name("viridis", &c));
    ASSERT_EQ(c, FSCI_CMAP_VIRIDIS);
    ASSERT_OK(fsci_cmap_from_name("grey", &c));
    ASSERT_EQ(c, FSCI_CMAP_GRAY);
    ASSERT_OK(fsci_cmap_from_name("coolwarm", &c));
    ASSERT_EQ(c, FSCI_CMAP_DIVERGING);
    ASSERT_OK(fsci_cmap_from_name("magma", &c));
    ASSERT_EQ(c, FSCI_CMAP_MAGMA);
    for (int i = 0; i < FSCI_CMAP_COUNT; i++) {
        ASSERT_OK(fsci_cmap_from_name(fsci_cmap_name((fsci_cmap)i), &c));
        ASSERT_EQ(c, i);
    }
    ASSERT_STATUS(fsci_cmap_from_name("jet", &c), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "'jet'"));
    ASSERT_STATUS(fsci_cmap_from_name(NULL, &c), FSCI_EINVAL);
    ASSERT_STREQ(fsci_cmap_name((fsci_cmap)99), "invalid");
}

TEST(cmap_endpoints_and_bad)
{
    uint8_t c[3];
    fsci_cmap_rgb(FSCI_CMAP_VIRIDIS, 0.0, c);
    ASSERT_TRUE(rgb_eq(c, 68, 1, 84)); /* published first entry #440154 */
    fsci_cmap_rgb(FSCI_CMAP_VIRIDIS, 1.0, c);
    ASSERT_TRUE(rgb_eq(c, 253, 231, 37)); /* last entry #fde725 */
    fsci_cmap_rgb(FSCI_CMAP_MAGMA, 0.0, c);
    ASSERT_TRUE(rgb_eq(c, 0, 0, 4));
    fsci_cmap_rgb(FSCI_CMAP_MAGMA, 1.0, c);
    ASSERT_TRUE(rgb_eq(c, 252, 253, 191));
    fsci_cmap_rgb(FSCI_CMAP_GRAY, 0.0, c);
    ASSERT_TRUE(rgb_eq(c, 0, 0, 0));
    fsci_cmap_rgb(FSCI_CMAP_GRAY, 1.0, c);
    ASSERT_TRUE(rgb_eq(c, 255, 255, 255));
    fsci_cmap_rgb(FSCI_CMAP_GRAY, 100.0 / 255.0, c);
    ASSERT_TRUE(rgb_eq(c, 100, 100, 100));
    /* Moreland's endpoints. */
    fsci_cmap_rgb(FSCI_CMAP_DIVERGING, 0.0, c);
    ASSERT_TRUE(rgb_eq(c, 59, 76, 192));
    fsci_cmap_rgb(FSCI_CMAP_DIVERGING, 1.0, c);
    ASSERT_TRUE(rgb_eq(c, 180, 4, 38));
    /* Clamping and non-finite values. */
    uint8_t d[3];
    fsci_cmap_rgb(FSCI_CMAP_VIRIDIS, -3.0, c);
    fsci_cmap_rgb(FSCI_CMAP_VIRIDIS, -HUGE_VAL, d);
    ASSERT_TRUE(rgb_eq(c, 68, 1, 84) && rgb_eq(d, 68, 1, 84));
    fsci_cmap_rgb(FSCI_CMAP_VIRIDIS, HUGE_VAL, d);
    ASSERT_TRUE(rgb_eq(d, 253, 231, 37));
    for (int i = 0; i < FSCI_CMAP_COUNT; i++) {
        fsci_cmap_rgb((fsci_cmap)i, (double)NAN, c);
        ASSERT_TRUE(rgb_eq(c, FSCI_CMAP_BAD_R, FSCI_CMAP_BAD_G, FSCI_CMAP_BAD_B));
    }
}

TEST(cmap_luminance_monotone)
{
    /* viridis, magma and gray: luminance rises with t (8-bit rounding of
     * viridis allows steps down of < 1e-3 between neighbours). */
    fsci_cmap maps[3] = {FSCI_CMAP_VIRIDIS, FSCI_CMAP_MAGMA, FSCI_CMAP_GRAY};
    for (int m = 0; m < 3; m++) {
        double prev = -1.0, prev8 = -1.0;
        for (int i = 0; i < 256; i++) {
            uint8_t c[3];
            fsci_cmap_rgb(maps[m], i / 255.0, c);
            double y = luminance(c);
            ASSERT_TRUE(y >= prev - 1e-3);
            if (i % 8 == 0) {
                ASSERT_TRUE(y > prev8);
                prev8 = y;
            }
            prev = y;
        }
    }
    /* Diverging: bright neutral middle, equally dark ends. */
    uint8_t mid[3], a[3], b[3];
    fsci_cmap_rgb(FSCI_CMAP_DIVERGING, 0.5, mid);
    ASSERT_TRUE(abs(mid[0] - mid[1]) <= 3 && abs(mid[1] - mid[2]) <= 3 && mid[1] >= 200);
    fsci_cmap_rgb(FSCI_CMAP_DIVERGING, 0.0, a);
    fsci_cmap_rgb(FSCI_CMAP_DIVERGING, 1.0, b);
    ASSERT_NEAR_REL(luminance(a), luminance(b), 0, 0.01);
    ASSERT_TRUE(luminance(mid) > 3.0 * luminance(a));
    ASSERT_TRUE(a[2] > a[0] && b[0] > b[2]); /* blue low end, red high end */
    for (int i = 0; i < 128; i++) {          /* luminance rises towards the middle */
        uint8_t p[3], q[3];
        fsci_cmap_rgb(FSCI_CMAP_DIVERGING, i / 255.0, p);
        fsci_cmap_rgb(FSCI_CMAP_DIVERGING, (i + 8 > 127 ? 127 : i + 8) / 255.0, q);
        if (i + 8 <= 127) ASSERT_TRUE(luminance(q) > luminance(p));
    }
}

/* ------------------------------------------------------------ raw PNG */

TEST(png_rgb_round_trip)
{
    char p[1200];
    tpath(p, sizeof p, "raw.png");
    enum { W = 17, H = 13 };
    uint8_t img[W * H * 3];
    for (int i = 0; i < W * H * 3; i++) img[i] = (uint8_t)((i * 37 + 11) & 255);
    ASSERT_OK(fsci_png_write_rgb(p, img, W, H));
    uint8_t *back = NULL;
    int64_t w, h;
    ASSERT_OK(fsci_png_read_rgb(p, &back, &w, &h));
    ASSERT_EQ(w, W);
    ASSERT_EQ(h, H);
    int same = memcmp(back, img, sizeof img) == 0;
    fsci_free(back);
    ASSERT_TRUE(same);
    /* Overwriting an existing file works and leaves no temporary behind. */
    img[0] ^= 0xFF;
    ASSERT_OK(fsci_png_write_rgb(p, img, W, H));
    ASSERT_OK(fsci_png_read_rgb(p, &back, &w, &h));
    ASSERT_EQ(back[0], img[0]);
    fsci_free(back);
    ASSERT_EQ(count_tmp_files(), 0);
}

/* Write a PNG of any type with libpng directly (fixtures for the reader). */
static int write_raw_png(const char *path, int w, int h, int depth, int ctype, const uint8_t *data,
                         int bytes_per_row, const png_color *palette, int npal)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, ctype, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (palette) png_set_PLTE(png, info, palette, npal);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, data + y * bytes_per_row);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(f);
    return 0;
}

TEST(png_read_converts_types)
{
    char p[1200];
    uint8_t *rgb = NULL;
    int64_t w, h;
    /* 16-bit gray, big-endian samples: 0x0000, 0xFFFF, 0x8080. */
    uint8_t g16[6] = {0x00, 0x00, 0xFF, 0xFF, 0x80, 0x80};
    ASSERT_EQ(write_raw_png(tpath(p, sizeof p, "g16.png"), 3, 1, 16, PNG_COLOR_TYPE_GRAY, g16, 6, NULL, 0),
              0);
    ASSERT_OK(fsci_png_read_rgb(p, &rgb, &w, &h));
    ASSERT_TRUE(w == 3 && h == 1);
    ASSERT_TRUE(rgb_eq(rgb, 0, 0, 0) && rgb_eq(rgb + 3, 255, 255, 255) && rgb_eq(rgb + 6, 128, 128, 128));
    fsci_free(rgb);
    /* Palette, 2 entries, 1 bit per pixel: pixels 1, 0. */
    png_color pal[2] = {{10, 20, 30}, {200, 100, 50}};
    uint8_t idx[1] = {0x80};
    ASSERT_EQ(write_raw_png(tpath(p, sizeof p, "pal.png"), 2, 1, 1, PNG_COLOR_TYPE_PALETTE, idx, 1, pal, 2),
              0);
    ASSERT_OK(fsci_png_read_rgb(p, &rgb, &w, &h));
    ASSERT_TRUE(w == 2 && h == 1);
    ASSERT_TRUE(rgb_eq(rgb, 200, 100, 50) && rgb_eq(rgb + 3, 10, 20, 30));
    fsci_free(rgb);
    /* RGBA: alpha is dropped. */
    uint8_t rgba[8] = {1, 2, 3, 0, 250, 251, 252, 255};
    ASSERT_EQ(write_raw_png(tpath(p, sizeof p, "rgba.png"), 2, 1, 8, PNG_COLOR_TYPE_RGBA, rgba, 8, NULL, 0),
              0);
    ASSERT_OK(fsci_png_read_rgb(p, &rgb, &w, &h));
    ASSERT_TRUE(rgb_eq(rgb, 1, 2, 3) && rgb_eq(rgb + 3, 250, 251, 252));
    fsci_free(rgb);
    /* Gray + alpha, 8 bit. */
    uint8_t ga[4] = {77, 10, 177, 255};
    ASSERT_EQ(write_raw_png(tpath(p, sizeof p, "ga.png"), 2, 1, 8, PNG_COLOR_TYPE_GRAY_ALPHA, ga, 4, NULL, 0),
              0);
    ASSERT_OK(fsci_png_read_rgb(p, &rgb, &w, &h));
    ASSERT_TRUE(rgb_eq(rgb, 77, 77, 77) && rgb_eq(rgb + 3, 177, 177, 177));
    fsci_free(rgb);
}

TEST(png_read_errors)
{
    char p[1200], q[1200];
    uint8_t *rgb = (uint8_t *)&rgb; /* must be reset to NULL on failure */
    int64_t w, h;
    ASSERT_STATUS(fsci_png_read_rgb(tpath(p, sizeof p, "does-not-exist.png"), &rgb, &w, &h), FSCI_EIO);
    ASSERT_TRUE(rgb == NULL);
    ASSERT_TRUE(strstr(fsci_error_message(), "does-not-exist.png"));
    /* Not a PNG. */
    FILE *f = fopen(tpath(p, sizeof p, "text.png"), "wb");
    ASSERT_TRUE(f);
    fputs("hello, this is not an image\n", f);
    fclose(f);
    ASSERT_STATUS(fsci_png_read_rgb(p, &rgb, &w, &h), FSCI_EFORMAT);
    ASSERT_TRUE(strstr(fsci_error_message(), "text.png"));
    /* Truncated PNG: a valid file cut in half. */
    uint8_t img[32 * 32 * 3];
    for (size_t i = 0; i < sizeof img; i++) img[i] = (uint8_t)(i * 7919 >> 3);
    ASSERT_OK(fsci_png_write_rgb(tpath(q, sizeof q, "full.png"), img, 32, 32));
    FILE *in = fopen(q, "rb");
    ASSERT_TRUE(in);
    static uint8_t bytes[1 << 16];
    size_t n = fread(bytes, 1, sizeof bytes, in);
    fclose(in);
    ASSERT_TRUE(n > 100);
    f = fopen(tpath(p, sizeof p, "cut.png"), "wb");
    ASSERT_TRUE(f);
    fwrite(bytes, 1, n / 2, f);
    fclose(f);
    ASSERT_STATUS(fsci_png_read_rgb(p, &rgb, &w, &h), FSCI_EFORMAT);
    ASSERT_TRUE(rgb == NULL);
    ASSERT_TRUE(strstr(fsci_error_message(), "cut.png"));
    /* Corrupted IDAT data (CRC mismatch). */
    bytes[n - 20] ^= 0x5A;
    f = fopen(tpath(p, sizeof p, "crc.png"), "wb");
    ASSERT_TRUE(f);
    fwrite(bytes, 1, n, f);
    fclose(f);
    ASSERT_STATUS(fsci_png_read_rgb(p, &rgb, &w, &h), FSCI_EFORMAT);
    /* Too wide: refused before any pixel buffer is allocated. */
    static uint8_t row[150000 / 8];
    ASSERT_EQ(write_raw_png(tpath(p, sizeof p, "wide.png"), 150000, 1, 1, PNG_COLOR_TYPE_GRAY, row,
                            (int)sizeof row, NULL, 0),
              0);
    int64_t before = fsci_alloc_count();
    ASSERT_STATUS(fsci_png_read_rgb(p, &rgb, &w, &h), FSCI_ERANGE);
    ASSERT_EQ(fsci_alloc_count(), before);
    ASSERT_TRUE(strstr(fsci_error_message(), "150000"));
    /* Bad arguments. */
    ASSERT_STATUS(fsci_png_read_rgb(NULL, &rgb, &w, &h), FSCI_EINVAL);
    ASSERT_STATUS(fsci_png_read_rgb(q, NULL, &w, &h), FSCI_EINVAL);
}

TEST(png_write_errors)
{
    char p[1200];
    uint8_t px[3] = {1, 2, 3};
    ASSERT_STATUS(fsci_png_write_rgb(tpath(p, sizeof p, "x.png"), NULL, 1, 1), FSCI_EINVAL);
    ASSERT_STATUS(fsci_png_write_rgb(p, px, 0, 1), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "0 x 1"));
    ASSERT_STATUS(fsci_png_write_rgb(p, px, 1, FSCI_PNG_MAX_SIDE + 1), FSCI_EINVAL);
    ASSERT_STATUS(fsci_png_write_rgb(tpath(p, sizeof p, "no/such/dir/x.png"), px, 1, 1), FSCI_EIO);
    ASSERT_TRUE(strstr(fsci_error_message(), "no/such/dir/x.png"));
    ASSERT_TRUE(!file_exists(p));
}

/* ------------------------------------------------------------ heatmaps */

TEST(heatmap_exact_pixels_row0_top)
{
    char p[1200];
    /* 2 x 3 image, gray map on a fixed [0, 255] range: pixel value == data. */
    double d[2][3] = {{0, 51, 102}, {153, 204, 255}};
    fsci_view v;
    ASSERT_OK(fsci_view_init(&v, d, FSCI_F64, 2, (int64_t[]){2, 3}, false));
    fsci_heatmap_opts o = {.cmap = FSCI_CMAP_GRAY, .fixed_range = 1, .vmin = 0, .vmax = 255};
    ASSERT_OK(fsci_png_write_heatmap(tpath(p, sizeof p, "hm.png"), &v, &o));
    uint8_t *rgb;
    int64_t w, h;
    ASSERT_OK(fsci_png_read_rgb(p, &rgb, &w, &h));
    ASSERT_TRUE(w == 3 && h == 2);
    for (int r = 0; r < 2; r++)
        for (int c = 0; c < 3; c++) {
            int g = (int)d[r][c];
            if (!rgb_eq(rgb + 3 * (r * 3 + c), g, g, g)) {
                fsci_free(rgb);
                TESTKIT_FAIL("pixel (%d, %d) is not %d", r, c, g);
            }
        }
    fsci_free(rgb);
    /* viridis, autoscale: min -> first entry, max -> last, others as the lookup. */
    o = (fsci_heatmap_opts){0};
    ASSERT_OK(fsci_png_write_heatmap(p, &v, &o));
    ASSERT_OK(fsci_png_read_rgb(p, &rgb, &w, &h));
    int ok = rgb_eq(rgb, 68, 1, 84) && rgb_eq(rgb + 15, 253, 231, 37);
    uint8_t e[3];
    fsci_cmap_rgb(FSCI_CMAP_VIRIDIS, 0.4, e); /* value 102 of [0, 255] */
    ok = ok && rgb_eq(rgb + 6, e[0], e[1], e[2]);
    fsci_free(rgb);
    ASSERT_TRUE(ok);
}

TEST(heatmap_strides_float32_upscale)
{
    char p[1200];
    /* A 3 x 4 float32 array shown through a transposed view (4 x 3). */
    float a[3][4];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++) a[i][j] = (float)(i * 4 + j) * 20.0f;
    fsci_view t = {.data = a,
                   .dtype = FSCI_F32,
                   .ndim = 2,
                   .shape = {4, 3},
                   .strides = {sizeof(float), 4 * sizeof(float)}};
    fsci_heatmap_opts o = {.cmap = FSCI_CMAP_GRAY, .fixed_range = 1, .vmin = 0, .vmax = 255, .upscale = 3};
    ASSERT_OK(fsci_png_write_heatmap(tpath(p, sizeof p, "hm_t.png"), &t, &o));
    uint8_t *rgb;
    int64_t w, h;
    ASSERT_OK(fsci_png_read_rgb(p, &rgb, &w, &h));
    ASSERT_TRUE(w == 9 && h == 12);
    int bad = 0;
    for (int y = 0; y < 12; y++)
        for (int x = 0; x < 9; x++) {
            int r = y / 3, c = x / 3; /* view element (r, c) = a[c][r] */
            int g = (int)a[c][r];
            if (!rgb_eq(rgb + 3 * (y * 9 + x), g, g, g)) bad++;
        }
    fsci_free(rgb);
    ASSERT_EQ(bad, 0);
    /* Negative strides (flipped rows) are honoured too. */
    fsci_view flip = {.data = &a[2][0],
                      .dtype = FSCI_F32,
                      .ndim = 2,
                      .shape = {3, 4},
                      .strides = {-4 * (int64_t)sizeof(float), sizeof(float)}};
    o.upscale = 0;
    ASSERT_OK(fsci_png_write_heatmap(p, &flip, &o));
    ASSERT_OK(fsci_png_read_rgb(p, &rgb, &w, &h));
    int top_left = rgb[0];
    fsci_free(rgb);
    ASSERT_EQ(top_left, (int)a[2][0]);
}

TEST(heatmap_nan_inf_log_symmetric)
{
    char p[1200];
    uint8_t *rgb;
    int64_t w, h;
    /* NaN -> bad colour; autoscale over finite values only; inf -> top end. */
    double d[4] = {(double)NAN, 1.0, 3.0, (double)INFINITY};
    fsci_view v;
    ASSERT_OK(fsci_view_init(&v, d, FSCI_F64, 2, (int64_t[]){1, 4}, false));
    fsci_heatmap_opts o = {.cmap = FSCI_CMAP_GRAY};
    ASSERT_OK(fsci_png_write_heatmap(tpath(p, sizeof p, "hm_nan.png"), &v, &o));
    ASSERT_OK(fsci_png_read_rgb(p, &rgb, &w, &h));
    int ok = rgb_eq(rgb, FSCI_CMAP_BAD_R, FSCI_CMAP_BAD_G, FSCI_CMAP_BAD_B) && rgb_eq(rgb + 3, 0, 0, 0) &&
             rgb_eq(rgb + 6, 255, 255, 255) && rgb_eq(rgb + 9, 255, 255, 255);
    fsci_free(rgb);
    ASSERT_TRUE(ok);
    /* log10 with the automatic floor (smallest positive value = 1). */
    double l[4] = {1.0, 10.0, 100.0, 0.0};
    ASSERT_OK(fsci_view_init(&v, l, FSCI_F64, 2, (int64_t[]){1, 4}, false));
    o = (fsci_heatmap_opts){.cmap = FSCI_CMAP_GRAY, .log10 = 1};
    ASSERT_OK(fsci_png_write_heatmap(p, &v, &o));
    ASSERT_OK(fsci_png_read_rgb(p, &rgb, &w, &h));
    ok = rgb[0] == 0 && rgb[3] == 128 && rgb[6] == 255 && rgb[9] == 0;
    fsci_free(rgb);
    ASSERT_TRUE(ok);
    /* Explicit floor 10: 1 and 0 clip to it. */
    o.log_floor = 10.0;
    ASSERT_OK(fsci_png_write_heatmap(p, &v, &o));
    ASSERT_OK(fsci_png_read_rgb(p, &rgb, &w, &h));
    ok = rgb[0] == 0 && rgb[3] == 0 && rgb[6] == 255 && rgb[9] == 0;
    fsci_free(rgb);
    ASSERT_TRUE(ok);
    /* Symmetric range: [-1, 0.5] becomes [-1, 1]; 0 is the middle. */
    double s[3] = {-1.0, 0.0, 0.5};
    ASSERT_OK(fsci_view_init(&v, s, FSCI_F64, 2, (int64_t[]){1, 3}, false));
    o = (fsci_heatmap_opts){.cmap = FSCI_CMAP_GRAY, .symmetric = 1};
    ASSERT_OK(fsci_png_write_heatmap(p, &v, &o));
    ASSERT_OK(fsci_png_read_rgb(p, &rgb, &w, &h));
    ok = rgb[0] == 0 && rgb[3] == 128 && rgb[6] == 191; /* round(255 * 0.75) */
    fsci_free(rgb);
    ASSERT_TRUE(ok);
    /* Constant image: middle colour; all-NaN image: all bad. */
    double c[2] = {7.0, 7.0};
    ASSERT_OK(fsci_view_init(&v, c, FSCI_F64, 2, (int64_t[]){1, 2}, false));
    ASSERT_OK(fsci_png_write_heatmap(p, &v, &(fsci_heatmap_opts){.cmap = FSCI_CMAP_GRAY}));
    ASSERT_OK(fsci_png_read_rgb(p, &rgb, &w, &h));
    ok = rgb[0] == 128 && rgb[3] == 128;
    fsci_free(rgb);
    ASSERT_TRUE(ok);
}

TEST(heatmap_bad_inputs)
{
    char p[1200];
    tpath(p, sizeof p, "hm_bad.png");
    remove(p);
    double d[6] = {0, 1, 2, 3, 4, 5};
    fsci_view v;
    ASSERT_OK(fsci_view_init(&v, d, FSCI_F64, 3, (int64_t[]){1, 2, 3}, false));
    ASSERT_STATUS(fsci_png_write_heatmap(p, &v, NULL), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "ndim = 3"));
    int32_t ints[6] = {0};
    ASSERT_OK(fsci_view_init(&v, ints, FSCI_I32, 2, (int64_t[]){2, 3}, false));
    ASSERT_STATUS(fsci_png_write_heatmap(p, &v, NULL), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "int32"));
    ASSERT_STATUS(fsci_png_write_heatmap(p, NULL, NULL), FSCI_EINVAL);
    ASSERT_OK(fsci_view_init(&v, d, FSCI_F64, 2, (int64_t[]){2, 3}, false));
    fsci_heatmap_opts o = {.fixed_range = 1, .vmin = 2, .vmax = 2};
    ASSERT_STATUS(fsci_png_write_heatmap(p, &v, &o), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "vmin = 2"));
    o = (fsci_heatmap_opts){.upscale = 300};
    ASSERT_STATUS(fsci_png_write_heatmap(p, &v, &o), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "upscale"));
    o = (fsci_heatmap_opts){.log10 = 1, .symmetric = 1};
    ASSERT_STATUS(fsci_png_write_heatmap(p, &v, &o), FSCI_EINVAL);
    o = (fsci_heatmap_opts){.log10 = 1, .log_floor = -1};
    ASSERT_STATUS(fsci_png_write_heatmap(p, &v, &o), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "log_floor"));
    o = (fsci_heatmap_opts){.log10 = 1, .fixed_range = 1, .vmin = 0, .vmax = 1};
    ASSERT_STATUS(fsci_png_write_heatmap(p, &v, &o), FSCI_EINVAL);
    o = (fsci_heatmap_opts){.cmap = (fsci_cmap)42};
    ASSERT_STATUS(fsci_png_write_heatmap(p, &v, &o), FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "cmap = 42"));
    ASSERT_TRUE(!file_exists(p));
    char q[1200];
    ASSERT_STATUS(fsci_png_write_heatmap(tpath(q, sizeof q, "missing/dir/hm.png"), &v, NULL), FSCI_EIO);
    ASSERT_TRUE(!file_exists(q));
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
