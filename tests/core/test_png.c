/* Colormaps, raw PNG I/O and heatmaps (no PLplot); the figures are in
 * test_plot.c. */
#include <errno.h>
#include <png.h>

#define PLOT_TEST_SUBDIR "png"
#include "fastsci/core/alloc.h"
#include "fastsci/core/plot.h"
#include "plot_testutil.h"

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

TESTKIT_MAIN()
