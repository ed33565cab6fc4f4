/* TIFF stacks (src/core/io/tiff.c): round trips of every dtype and
 * compression, files made directly with libtiff (byte orders, BigTIFF, tiles,
 * the old deflate code, both predictors, refused kinds), corrupt and
 * truncated input, inputs that are not files, the atomic writer's promises,
 * messages kept off stderr and per thread, and both directions against
 * python3-tifffile (skipped with a note when it is missing). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <tiffio.h>
#include <unistd.h>
#include <zlib.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/array.h"
#include "fastsci/core/tiff.h"
#include "fs_testutil.h"
#include "testkit.h"

#define ASSERT_MSG(s)                                                                                        \
    do {                                                                                                     \
        if (!strstr(fsci_error_message(), (s)))                                                              \
            TESTKIT_FAIL("message lacks \"%s\": \"%s\"", (s), fsci_error_message());                         \
    } while (0)

/* src/core/io/tiff.c: the estimated size from which fsci_tiff_write makes BigTIFF */
void fsci__tiff_set_bigtiff_from(double bytes);

static const fsci_dtype DTYPES[3] = {FSCI_U8, FSCI_U16, FSCI_F32};
static const fsci_tiff_compression COMPS[3] = {FSCI_TIFF_NONE, FSCI_TIFF_LZW, FSCI_TIFF_DEFLATE};

/* A fresh, empty folder under the scratch root. */
static const char *fresh(const char *name)
{
    static char dirs[4][1100];
    static int next;
    char *d = dirs[next++ % 4];
    snprintf(d, sizeof dirs[0], "%s/%s", scratch_root("tiff"), name);
    rm_tree(d);
    mkdir(d, 0777);
    return d;
}

/* ---- the value pattern (the Python script below computes the same) ------------ */

static void put_val(fsci_dtype t, int64_t p, int64_t y, int64_t x, void *dst)
{
    switch (t) {
    case FSCI_U8: *(uint8_t *)dst = (uint8_t)((31 * p + 7 * y + 3 * x) % 256); break;
    case FSCI_U16: {
        uint16_t v = (uint16_t)((7919 * p + 263 * y + 31 * x + 5) % 65536);
        memcpy(dst, &v, 2);
    } break;
    default: {
        float v = (float)((double)(1000 * p + 53 * y + x) * 0.25 - 100.5);
        memcpy(dst, &v, 4);
    } break;
    }
}

static fsci_array *make_stack(fsci_dtype t, int64_t pages, int64_t h, int64_t w)
{
    int64_t shape[3] = {pages, h, w};
    fsci_array *a = NULL;
    if (fsci_array_alloc(t, 3, shape, false, &a) != FSCI_OK) return NULL;
    size_t es = fsci_dtype_size(t);
    unsigned char *d = a->view.data;
    for (int64_t p = 0; p < pages; p++)
        for (int64_t y = 0; y < h; y++)
            for (int64_t x = 0; x < w; x++) put_val(t, p, y, x, d + (size_t)((p * h + y) * w + x) * es);
    return a;
}

/* Compare page p (h*w elements at `got`) with the pattern; prints the first difference. */
static bool page_matches(const void *got, fsci_dtype t, int64_t p, int64_t h, int64_t w, const char *tag)
{
    size_t es = fsci_dtype_size(t);
    for (int64_t y = 0; y < h; y++)
        for (int64_t x = 0; x < w; x++) {
            unsigned char want[4];
            put_val(t, p, y, x, want);
            if (memcmp((const unsigned char *)got + (size_t)(y * w + x) * es, want, es) != 0) {
                fprintf(stderr, "  %s: page %lld (y %lld, x %lld) differs\n", tag, (long long)p, (long long)y,
                        (long long)x);
                return false;
            }
        }
    return true;
}

static bool stack_matches(const fsci_array *a, fsci_dtype t, int64_t pages, int64_t h, int64_t w,
                          const char *tag)
{
    const fsci_view *v = &a->view;
    if (v->dtype != t || v->ndim != 3 || v->shape[0] != pages || v->shape[1] != h || v->shape[2] != w ||
        !fsci_view_is_c_contiguous(v)) {
        fprintf(stderr, "  %s: got %s (%lld, %lld, %lld), expected %s (%lld, %lld, %lld)\n", tag,
                fsci_dtype_name(v->dtype), (long long)v->shape[0], (long long)v->shape[1],
                (long long)v->shape[2], fsci_dtype_name(t), (long long)pages, (long long)h, (long long)w);
        return false;
    }
    size_t pb = (size_t)(h * w) * fsci_dtype_size(t);
    for (int64_t p = 0; p < pages; p++)
        if (!page_matches((const unsigned char *)v->data + (size_t)p * pb, t, p, h, w, tag)) return false;
    return true;
}

/* ---- files made with libtiff itself --------------------------------------------- */

typedef struct spec {
    uint32_t h, w;
    int bits, fmt, spp, photo, comp, pred, orient; /* fmt, photo, orient < 0: tag left out; pred 0: none */
    uint32_t tile, rps;                            /* tile: square edge, 0 for strips; rps 0: one strip */
} spec;

static spec S(fsci_dtype t, uint32_t h, uint32_t w)
{
    spec s = {h,
              w,
              (int)(8 * fsci_dtype_size(t)),
              t == FSCI_F32 ? SAMPLEFORMAT_IEEEFP : SAMPLEFORMAT_UINT,
              1,
              PHOTOMETRIC_MINISBLACK,
              COMPRESSION_NONE,
              0,
              -1,
              0,
              0};
    return s;
}

/* Our dtype for a spec, or -1 when the samples are something else. */
static int spec_dtype(const spec *s)
{
    if (s->spp != 1) return -1;
    if (s->bits == 8 && s->fmt != SAMPLEFORMAT_IEEEFP) return FSCI_U8;
    if (s->bits == 16 && s->fmt != SAMPLEFORMAT_IEEEFP) return FSCI_U16;
    if (s->bits == 32 && s->fmt == SAMPLEFORMAT_IEEEFP) return FSCI_F32;
    return -1;
}

/* Fill `rows` rows x `cols` columns of samples starting at image row y0, col x0
 * (zeros outside the image), `stride` samples per row in buf. */
static void fill_block(const spec *s, int64_t p, unsigned char *buf, size_t nbytes, int64_t y0, int64_t x0,
                       int64_t rows, int64_t cols)
{
    int t = spec_dtype(s);
    if (t < 0) {
        for (size_t i = 0; i < nbytes; i++) buf[i] = (unsigned char)(i * 13 + 7);
        return;
    }
    size_t es = fsci_dtype_size((fsci_dtype)t);
    memset(buf, 0, nbytes);
    for (int64_t y = 0; y < rows; y++)
        for (int64_t x = 0; x < cols; x++)
            if (y0 + y < s->h && x0 + x < s->w)
                put_val((fsci_dtype)t, p, y0 + y, x0 + x, buf + (size_t)(y * cols + x) * es);
}

/* libtiff for the fixtures: its warnings (the old deflate code, bogus byte
 * counts written on purpose) dropped, its errors printed. */
static int fixture_warning(TIFF *tif, void *ud, const char *module, const char *fmt, va_list ap)
{
    (void)tif, (void)ud, (void)module, (void)fmt, (void)ap;
    return 1;
}

static int fixture_error(TIFF *tif, void *ud, const char *module, const char *fmt, va_list ap)
    FSCI_PRINTF(4, 0);
static int fixture_error(TIFF *tif, void *ud, const char *module, const char *fmt, va_list ap)
{
    (void)tif, (void)ud;
    fprintf(stderr, "  libtiff (fixture): %s: ", module ? module : "");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    return 1;
}

static TIFF *lt_open(const char *path, const char *mode)
{
    TIFFOpenOptions *o = TIFFOpenOptionsAlloc();
    if (!o) return NULL;
    TIFFOpenOptionsSetErrorHandlerExtR(o, fixture_error, NULL);
    TIFFOpenOptionsSetWarningHandlerExtR(o, fixture_warning, NULL);
    TIFF *tif = TIFFOpenExt(path, mode, o);
    TIFFOpenOptionsFree(o);
    return tif;
}

/* Write pages with libtiff directly; returns 0 on success. */
static int lt_write(const char *path, const char *mode, int npages, const spec *sp)
{
    TIFF *tif = lt_open(path, mode);
    if (!tif) return -1;
    int rc = 0;
    for (int p = 0; p < npages && rc == 0; p++) {
        const spec *s = &sp[p];
        TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, s->w);
        TIFFSetField(tif, TIFFTAG_IMAGELENGTH, s->h);
        TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, s->bits);
        TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, s->spp);
        if (s->fmt >= 0) TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, s->fmt);
        if (s->photo >= 0) TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, s->photo);
        if (s->orient >= 0) TIFFSetField(tif, TIFFTAG_ORIENTATION, s->orient);
        TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
        TIFFSetField(tif, TIFFTAG_COMPRESSION, s->comp);
        if (s->pred) TIFFSetField(tif, TIFFTAG_PREDICTOR, s->pred);
        static uint16_t cmap[3][256];
        if (s->photo == PHOTOMETRIC_PALETTE) TIFFSetField(tif, TIFFTAG_COLORMAP, cmap[0], cmap[1], cmap[2]);
        if (s->tile) {
            TIFFSetField(tif, TIFFTAG_TILEWIDTH, s->tile);
            TIFFSetField(tif, TIFFTAG_TILELENGTH, s->tile);
            size_t n = (size_t)TIFFTileSize(tif);
            unsigned char *buf = malloc(n);
            for (uint32_t y = 0; y < s->h && rc == 0; y += s->tile)
                for (uint32_t x = 0; x < s->w && rc == 0; x += s->tile) {
                    fill_block(s, p, buf, n, y, x, s->tile, s->tile);
                    if (TIFFWriteEncodedTile(tif, TIFFComputeTile(tif, x, y, 0, 0), buf, (tmsize_t)n) < 0)
                        rc = -2;
                }
            free(buf);
        } else {
            uint32_t rps = s->rps ? s->rps : s->h;
            TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, rps);
            unsigned char *buf = malloc((size_t)TIFFStripSize(tif));
            for (uint32_t y = 0; y < s->h && rc == 0; y += rps) {
                uint32_t rows = s->h - y < rps ? s->h - y : rps;
                size_t n = (size_t)TIFFVStripSize(tif, rows);
                fill_block(s, p, buf, n, y, 0, rows, s->w);
                if (TIFFWriteEncodedStrip(tif, y / rps, buf, (tmsize_t)n) < 0) rc = -3;
            }
            free(buf);
        }
        if (rc == 0 && !TIFFWriteDirectory(tif)) rc = -4;
    }
    TIFFClose(tif);
    return rc;
}

/* One page of h x w uint8 whose single strip holds the given raw bytes. */
static int lt_raw(const char *path, int comp, uint32_t h, uint32_t w, const void *raw, size_t n)
{
    TIFF *tif = lt_open(path, "w");
    if (!tif) return -1;
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, w);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, h);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 8);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(tif, TIFFTAG_COMPRESSION, comp);
    TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, h);
    int rc = TIFFWriteRawStrip(tif, 0, (void *)(uintptr_t)raw, (tmsize_t)n) < 0 || !TIFFWriteDirectory(tif);
    TIFFClose(tif);
    return rc;
}

/* ---- helpers ----------------------------------------------------------------------- */

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static int spit(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

/* `part` occurs exactly once in `s` */
static bool once(const char *s, const char *part)
{
    const char *p = strstr(s, part);
    return p && !strstr(p + 1, part);
}

static bool exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* ---- round trips --------------------------------------------------------------------- */

TEST(round_trip_every_dtype_compression_and_size)
{
    const char *d = fresh("rt");
    static const int64_t sizes[4][3] = {{1, 37, 53}, {3, 37, 53}, {2, 1, 1}, {2, 300, 257}};
    for (int ti = 0; ti < 3; ti++)
        for (int ci = 0; ci < 3; ci++)
            for (int si = 0; si < 4; si++) {
                int64_t pages = sizes[si][0], h = sizes[si][1], w = sizes[si][2];
                char name[64];
                snprintf(name, sizeof name, "%s_c%d_%lldx%lldx%lld.tif", fsci_dtype_name(DTYPES[ti]), ci,
                         (long long)pages, (long long)h, (long long)w);
                const char *path = pj(d, name);
                fsci_array *a = make_stack(DTYPES[ti], pages, h, w), *b = NULL;
                ASSERT_TRUE(a != NULL);
                ASSERT_OK(fsci_tiff_write(path, &a->view, COMPS[ci]));
                fsci_array_destroy(&a);
                fsci_tiff_reader *r = NULL;
                ASSERT_OK(fsci_tiff_open(path, &r));
                const fsci_tiff_info *I = fsci_tiff_reader_info(r);
                ASSERT_EQ(I->pages, pages);
                ASSERT_EQ(I->h, h);
                ASSERT_EQ(I->w, w);
                ASSERT_EQ(I->dtype, DTYPES[ti]);
                ASSERT_EQ(I->compression, COMPS[ci]);
                fsci_tiff_close(&r);
                ASSERT_TRUE(r == NULL);
                ASSERT_OK(fsci_tiff_read(path, &b));
                ASSERT_TRUE(stack_matches(b, DTYPES[ti], pages, h, w, name));
                fsci_array_destroy(&b);
            }
    ASSERT_EQ(count_entries(d), 36); /* no temporary file left behind */
}

TEST(writer_layout_strips_of_64k_predictor_for_integers)
{
    const char *d = fresh("layout");
    static const struct {
        fsci_dtype t;
        int64_t h, w;
        uint32_t rps;
    } cases[] = {
        {FSCI_U16, 500, 300, 109}, {FSCI_U8, 40, 53, 40}, {FSCI_F32, 10, 20000, 1}, {FSCI_F32, 90, 256, 64}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (int ci = 0; ci < 3; ci++) {
            const char *path = pj(d, "l.tif");
            fsci_array *a = make_stack(cases[k].t, 1, cases[k].h, cases[k].w);
            ASSERT_TRUE(a != NULL);
            ASSERT_OK(fsci_tiff_write(path, &a->view, COMPS[ci]));
            fsci_array_destroy(&a);
            TIFF *tif = lt_open(path, "r");
            ASSERT_TRUE(tif != NULL);
            uint32_t rps = 0;
            uint16_t photo = 9, comp = 0, pred = 1, fmt = 0, bits = 0;
            TIFFGetField(tif, TIFFTAG_ROWSPERSTRIP, &rps);
            TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photo);
            TIFFGetField(tif, TIFFTAG_COMPRESSION, &comp);
            TIFFGetField(tif, TIFFTAG_SAMPLEFORMAT, &fmt);
            TIFFGetField(tif, TIFFTAG_BITSPERSAMPLE, &bits);
            int has_pred = TIFFGetField(tif, TIFFTAG_PREDICTOR, &pred);
            int big = TIFFIsBigEndian(tif) || TIFFIsBigTIFF(tif);
            TIFFClose(tif);
            ASSERT_EQ(rps, cases[k].rps);
            ASSERT_EQ(photo, PHOTOMETRIC_MINISBLACK);
            ASSERT_EQ(comp, ci == 0   ? COMPRESSION_NONE
                            : ci == 1 ? COMPRESSION_LZW
                                      : COMPRESSION_ADOBE_DEFLATE);
            ASSERT_EQ(fmt, cases[k].t == FSCI_F32 ? SAMPLEFORMAT_IEEEFP : SAMPLEFORMAT_UINT);
            ASSERT_EQ(bits, 8 * fsci_dtype_size(cases[k].t));
            ASSERT_EQ(has_pred && pred == PREDICTOR_HORIZONTAL, ci != 0 && cases[k].t != FSCI_F32);
            ASSERT_EQ(big, 0);
        }
}

TEST(large_stacks_are_written_as_bigtiff)
{
    const char *d = fresh("bigtiff");
    const char *path = pj(d, "big.tif");
    for (int ci = 0; ci < 3; ci++) {
        fsci_array *a = make_stack(FSCI_U16, 3, 37, 53), *b = NULL;
        ASSERT_TRUE(a != NULL);
        fsci__tiff_set_bigtiff_from(1.0); /* as if the stack were near 4 GiB */
        int st1 = fsci_tiff_write(path, &a->view, COMPS[ci]);
        TIFF *tif = lt_open(path, "r");
        int big = tif && TIFFIsBigTIFF(tif);
        if (tif) TIFFClose(tif);
        fsci__tiff_set_bigtiff_from(0); /* the default: classic for this small stack */
        int st2 = fsci_tiff_write(pj(d, "classic.tif"), &a->view, COMPS[ci]);
        tif = lt_open(pj(d, "classic.tif"), "r");
        int classic = tif && !TIFFIsBigTIFF(tif);
        if (tif) TIFFClose(tif);
        fsci_array_destroy(&a);
        ASSERT_OK(st1);
        ASSERT_OK(st2);
        ASSERT_TRUE(big);
        ASSERT_TRUE(classic);
        ASSERT_OK(fsci_tiff_read(path, &b));
        ASSERT_TRUE(stack_matches(b, FSCI_U16, 3, 37, 53, "bigtiff"));
        fsci_array_destroy(&b);
    }
}

TEST(streaming_writer_shows_nothing_before_commit)
{
    const char *d = fresh("stream");
    const char *path = pj(d, "s.tif");
    fsci_array *a = make_stack(FSCI_U16, 4, 37, 53), *b = NULL;
    ASSERT_TRUE(a != NULL);
    fsci_tiff_writer *tw = NULL;
    ASSERT_OK(fsci_tiff_writer_open(path, 37, 53, FSCI_U16, FSCI_TIFF_LZW, &tw));
    size_t pb = 37 * 53 * 2;
    for (int p = 0; p < 4; p++) {
        ASSERT_OK(fsci_tiff_write_page(tw, (unsigned char *)a->view.data + p * pb));
        ASSERT_TRUE(!exists(path));
        ASSERT_EQ(count_entries(d), 1); /* the temporary file only */
    }
    ASSERT_OK(fsci_tiff_writer_commit(&tw));
    ASSERT_TRUE(tw == NULL);
    ASSERT_EQ(count_entries(d), 1);
    ASSERT_OK(fsci_tiff_read(path, &b));
    ASSERT_TRUE(stack_matches(b, FSCI_U16, 4, 37, 53, "stream"));
    fsci_array_destroy(&b);
    fsci_array_destroy(&a);
}

TEST(strided_views_are_written_in_logical_order)
{
    const char *d = fresh("strided");
    for (int ti = 0; ti < 3; ti++) {
        fsci_dtype t = DTYPES[ti];
        size_t es = fsci_dtype_size(t);
        /* A (3, 37, 53) view into a (3, 74, 106) buffer: every other row and
         * column, pages and columns reversed. */
        int64_t shape[3] = {3, 74, 106};
        fsci_array *big = NULL;
        ASSERT_OK(fsci_array_create(t, 3, shape, false, &big));
        unsigned char *base = big->view.data;
        int64_t s0 = 74 * 106 * (int64_t)es, s1 = 106 * (int64_t)es, s2 = (int64_t)es;
        fsci_view v = {.dtype = t, .ndim = 3, .shape = {3, 37, 53}};
        v.strides[0] = -s0;
        v.strides[1] = 2 * s1;
        v.strides[2] = -2 * s2;
        v.data = base + 2 * s0 + 52 * 2 * s2;
        for (int64_t p = 0; p < 3; p++)
            for (int64_t y = 0; y < 37; y++)
                for (int64_t x = 0; x < 53; x++)
                    put_val(t, p, y, x,
                            (unsigned char *)v.data + p * v.strides[0] + y * v.strides[1] + x * v.strides[2]);
        const char *path = pj(d, "v.tif");
        fsci_array *b = NULL;
        ASSERT_OK(fsci_tiff_write(path, &v, ti == 1 ? FSCI_TIFF_DEFLATE : FSCI_TIFF_NONE));
        ASSERT_OK(fsci_tiff_read(path, &b));
        ASSERT_TRUE(stack_matches(b, t, 3, 37, 53, fsci_dtype_name(t)));
        fsci_array_destroy(&b);
        /* a 2-D view is one page */
        fsci_view v2 = {.data = v.data,
                        .dtype = t,
                        .ndim = 2,
                        .shape = {37, 53},
                        .strides = {v.strides[1], v.strides[2]}};
        ASSERT_OK(fsci_tiff_write(path, &v2, FSCI_TIFF_LZW));
        ASSERT_OK(fsci_tiff_read(path, &b));
        ASSERT_TRUE(stack_matches(b, t, 1, 37, 53, "2-D"));
        fsci_array_destroy(&b);
        fsci_array_destroy(&big);
    }
}

TEST(pages_read_in_any_order)
{
    const char *d = fresh("order");
    const char *path = pj(d, "o.tif");
    fsci_array *a = make_stack(FSCI_F32, 5, 20, 30);
    ASSERT_TRUE(a != NULL);
    ASSERT_OK(fsci_tiff_write(path, &a->view, FSCI_TIFF_DEFLATE));
    fsci_array_destroy(&a);
    fsci_tiff_reader *r = NULL;
    ASSERT_OK(fsci_tiff_open(path, &r));
    float buf[600];
    /* jumps (by directory offset) and steps to the next page (in sequence) */
    static const int order[12] = {4, 0, 1, 2, 3, 3, 1, 4, 2, 3, 0, 1};
    for (int k = 0; k < 12; k++) {
        memset(buf, 0xff, sizeof buf);
        ASSERT_OK(fsci_tiff_read_page(r, order[k], buf));
        ASSERT_TRUE(page_matches(buf, FSCI_F32, order[k], 20, 30, "order"));
    }
    ASSERT_STATUS(fsci_tiff_read_page(r, 5, buf), FSCI_EINVAL);
    ASSERT_MSG("o.tif: page 5 out of range (5 pages)");
    ASSERT_STATUS(fsci_tiff_read_page(r, -1, buf), FSCI_EINVAL);
    ASSERT_STATUS(fsci_tiff_read_page(r, 0, NULL), FSCI_EINVAL);
    fsci_tiff_close(&r);
    fsci_tiff_close(&r); /* NULL is fine */
    fsci_tiff_close(NULL);
    ASSERT_TRUE(fsci_tiff_reader_info(NULL) == NULL);
}

/* ---- files from libtiff ---------------------------------------------------------------- */

TEST(libtiff_files_byte_orders_bigtiff_tiles_predictors)
{
    const char *d = fresh("libtiff");
    static const char *const modes[4] = {"w", "wb", "w8", "wb8"};
    int n = 0;
    for (int mi = 0; mi < 4; mi++)
        for (int ti = 0; ti < 3; ti++) {
            fsci_dtype t = DTYPES[ti];
            spec v[8];
            int k = 0;
            v[k] = S(t, 37, 53);
            v[k++].rps = 5; /* several strips, the last one short */
            v[k] = S(t, 37, 53);
            v[k++].comp = COMPRESSION_LZW;
            /* libtiff 4.5.0 writes big-endian floats with the floating-point
             * predictor wrongly (it swaps the bytes before the predictor,
             * against Technical Note 3): those are made by hand in
             * float_predictor_per_tech_note_3 instead. */
            bool fp3 = t == FSCI_F32 && !strchr(modes[mi], 'b');
            v[k] = S(t, 37, 53);
            v[k].comp = COMPRESSION_LZW;
            v[k++].pred = fp3 ? PREDICTOR_FLOATINGPOINT : t == FSCI_F32 ? 0 : PREDICTOR_HORIZONTAL;
            v[k] = S(t, 37, 53);
            v[k].comp = COMPRESSION_ADOBE_DEFLATE;
            v[k].pred = PREDICTOR_HORIZONTAL; /* on floats too: libtiff differences the 32-bit words */
            v[k++].rps = 8;
            v[k] = S(t, 37, 53);
            v[k].comp = COMPRESSION_DEFLATE; /* the old code, 32946 */
            v[k++].pred = fp3 ? PREDICTOR_FLOATINGPOINT : 0;
            v[k] = S(t, 37, 53);
            v[k++].tile = 16; /* 3 x 4 tiles, the edge ones partly outside */
            v[k] = S(t, 37, 53);
            v[k].tile = 32;
            v[k].comp = COMPRESSION_ADOBE_DEFLATE;
            v[k++].pred = fp3 ? PREDICTOR_FLOATINGPOINT : PREDICTOR_HORIZONTAL;
            v[k] = S(t, 37, 53);
            v[k].photo = -1; /* no PhotometricInterpretation: taken as min-is-black */
            v[k++].orient = ORIENTATION_TOPLEFT;
            char name[32];
            snprintf(name, sizeof name, "%s_%d.tif", modes[mi] + 1, ti);
            const char *path = pj(d, name);
            ASSERT_EQ(lt_write(path, modes[mi], k, v), 0);
            fsci_array *b = NULL;
            ASSERT_OK(fsci_tiff_read(path, &b));
            ASSERT_TRUE(stack_matches(b, t, k, 37, 53, name));
            fsci_array_destroy(&b);
            fsci_tiff_reader *r = NULL;
            ASSERT_OK(fsci_tiff_open(path, &r));
            ASSERT_EQ(fsci_tiff_reader_info(r)->compression, FSCI_TIFF_NONE); /* page 0's */
            fsci_tiff_close(&r);
            n++;
        }
    ASSERT_EQ(n, 12);
}

TEST(uncompressed_single_strip_of_a_large_page)
{
    /* libtiff reads one big uncompressed strip in chopped pieces */
    const char *d = fresh("chop");
    spec s = S(FSCI_U16, 700, 600);
    ASSERT_EQ(lt_write(pj(d, "c.tif"), "w", 1, &s), 0);
    fsci_array *b = NULL;
    ASSERT_OK(fsci_tiff_read(pj(d, "c.tif"), &b));
    ASSERT_TRUE(stack_matches(b, FSCI_U16, 1, 700, 600, "chop"));
    fsci_array_destroy(&b);
}

/* float32 rows encoded by hand as Technical Note 3 says: each row's bytes
 * grouped by significance, most significant first, then differenced byte by
 * byte; the layout does not depend on the file's byte order. */
static void tn3_encode(int64_t p, int64_t h, int64_t w, unsigned char *out)
{
    for (int64_t y = 0; y < h; y++) {
        unsigned char *row = out + (size_t)(y * w * 4);
        for (int64_t x = 0; x < w; x++) {
            uint32_t u;
            put_val(FSCI_F32, p, y, x, &u);
            for (int b = 0; b < 4; b++) row[b * w + x] = (unsigned char)(u >> (24 - 8 * b));
        }
        for (int64_t i = 4 * w - 1; i > 0; i--) row[i] = (unsigned char)(row[i] - row[i - 1]);
    }
}

TEST(float_predictor_per_tech_note_3)
{
    const char *d = fresh("tn3");
    static const char *const modes[4] = {"w", "wb", "w8", "wb8"};
    enum { H = 37, W = 53 };
    static unsigned char raw[H * W * 4], z[H * W * 8];
    for (int mi = 0; mi < 4; mi++) {
        const char *path = pj(d, "tn3.tif");
        TIFF *tif = lt_open(path, modes[mi]);
        ASSERT_TRUE(tif != NULL);
        for (int p = 0; p < 2; p++) {
            TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, W);
            TIFFSetField(tif, TIFFTAG_IMAGELENGTH, H);
            TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 32);
            TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
            TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_IEEEFP);
            TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
            TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE);
            TIFFSetField(tif, TIFFTAG_PREDICTOR, PREDICTOR_FLOATINGPOINT);
            TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, H);
            tn3_encode(p, H, W, raw);
            uLongf zn = sizeof z;
            ASSERT_EQ(compress2(z, &zn, raw, sizeof raw, 6), Z_OK);
            ASSERT_TRUE(TIFFWriteRawStrip(tif, 0, z, (tmsize_t)zn) == (tmsize_t)zn);
            ASSERT_TRUE(TIFFWriteDirectory(tif) == 1);
        }
        TIFFClose(tif);
        fsci_array *b = NULL;
        ASSERT_OK(fsci_tiff_read(path, &b));
        ASSERT_TRUE(stack_matches(b, FSCI_F32, 2, H, W, modes[mi]));
        fsci_array_destroy(&b);
    }
}

/* A file whose page `bad` is `s` and the other pages valid uint8; expects a
 * refusal with `code` and a message with "<name>: page <bad>: <want>". */
static int refuse_case(const char *d, const char *name, spec s, int bad, int code, const char *want)
{
    spec v[2] = {S(FSCI_U8, 8, 8), S(FSCI_U8, 8, 8)};
    v[bad] = s;
    const char *path = pj(d, name);
    if (lt_write(path, "w", 2, v) != 0) {
        fprintf(stderr, "  %s: libtiff could not write it\n", name);
        return 0;
    }
    fsci_tiff_reader *r = NULL;
    fsci_array *a = NULL;
    int st = fsci_tiff_open(path, &r), st2 = fsci_tiff_read(path, &a);
    char full[256];
    snprintf(full, sizeof full, "%s: page %d: %s", path, bad, want);
    if (st != code || st2 != code || r || a || !strstr(fsci_error_message(), full)) {
        fprintf(stderr, "  %s: status %d/%d (expected %d), message \"%s\", expected \"%s\"\n", name, st, st2,
                code, fsci_error_message(), full);
        fsci_tiff_close(&r);
        fsci_array_destroy(&a);
        return 0;
    }
    return 1;
}

TEST(refusals_name_file_page_field_and_value)
{
    const char *d = fresh("refuse");
    spec s;
    int ok = 1;
    s = S(FSCI_U8, 8, 8);
    s.bits = 12;
    ok &= refuse_case(d, "b12.tif", s, 1, FSCI_ENOTSUP, "BitsPerSample = 12 (8, 16 or 32 float)");
    s.bits = 1;
    ok &= refuse_case(d, "b1.tif", s, 0, FSCI_ENOTSUP, "BitsPerSample = 1 (8, 16 or 32 float)");
    s.bits = 4;
    ok &= refuse_case(d, "b4.tif", s, 1, FSCI_ENOTSUP, "BitsPerSample = 4 (8, 16 or 32 float)");
    s = S(FSCI_U8, 8, 8);
    s.bits = 32;
    ok &= refuse_case(d, "u32.tif", s, 1, FSCI_ENOTSUP,
                      "SampleFormat = 1, unsigned integer, with BitsPerSample = 32");
    s = S(FSCI_U16, 8, 8);
    s.fmt = SAMPLEFORMAT_INT;
    ok &= refuse_case(d, "i16.tif", s, 0, FSCI_ENOTSUP,
                      "SampleFormat = 2, signed integer, with BitsPerSample = 16");
    s = S(FSCI_U8, 8, 8);
    s.fmt = SAMPLEFORMAT_INT;
    ok &= refuse_case(d, "i8.tif", s, 1, FSCI_ENOTSUP,
                      "SampleFormat = 2, signed integer, with BitsPerSample = 8");
    s = S(FSCI_U8, 8, 8);
    s.spp = 3;
    s.photo = PHOTOMETRIC_RGB;
    ok &= refuse_case(d, "rgb.tif", s, 1, FSCI_ENOTSUP, "SamplesPerPixel = 3 (1");
    s = S(FSCI_U8, 8, 8);
    s.photo = PHOTOMETRIC_PALETTE;
    ok &= refuse_case(d, "pal.tif", s, 0, FSCI_ENOTSUP,
                      "PhotometricInterpretation = 3, palette (1, min-is-black)");
    s.photo = PHOTOMETRIC_MINISWHITE;
    ok &= refuse_case(d, "white.tif", s, 1, FSCI_ENOTSUP, "PhotometricInterpretation = 0, min-is-white");
    s = S(FSCI_U8, 8, 8);
    s.comp = COMPRESSION_JPEG;
    s.rps = 8;
    ok &= refuse_case(d, "jpeg.tif", s, 1, FSCI_ENOTSUP,
                      "Compression = 7, JPEG (1 none, 5 LZW, 8 or 32946 deflate)");
    s.comp = COMPRESSION_PACKBITS;
    ok &= refuse_case(d, "packbits.tif", s, 0, FSCI_ENOTSUP, "Compression = 32773, PackBits");
    s = S(FSCI_U8, 8, 8);
    s.orient = ORIENTATION_BOTRIGHT;
    ok &= refuse_case(d, "orient.tif", s, 1, FSCI_ENOTSUP, "Orientation = 3 (1, rows top to bottom");
    s = S(FSCI_U8, 8, 9);
    ok &=
        refuse_case(d, "size.tif", s, 1, FSCI_ENOTSUP, "ImageLength x ImageWidth = 8 x 9 (page 0 has 8 x 8)");
    s = S(FSCI_U16, 8, 8);
    ok &= refuse_case(d, "dtype.tif", s, 1, FSCI_ENOTSUP, "dtype uint16 (page 0 has uint8)");
    ASSERT_TRUE(ok);
}

/* ---- corrupt and truncated input --------------------------------------------------------- */

TEST(every_truncation_is_eformat)
{
    const char *d = fresh("trunc");
    for (int ci = 0; ci < 3; ci++) {
        const char *path = pj(d, "full.tif"), *cut = pj(d, "cut.tif");
        fsci_array *a = make_stack(FSCI_U16, 3, 13, 11);
        ASSERT_TRUE(a != NULL);
        ASSERT_OK(fsci_tiff_write(path, &a->view, COMPS[ci]));
        fsci_array_destroy(&a);
        size_t len;
        unsigned char *buf = slurp(path, &len);
        ASSERT_TRUE(buf != NULL && len > 300);
        for (size_t n = 0; n < len; n++) {
            ASSERT_TRUE(spit(cut, buf, n) == 0);
            fsci_array *b = NULL;
            int st = fsci_tiff_read(cut, &b);
            if (st != FSCI_EFORMAT)
                TESTKIT_FAIL("compression %d, cut at %zu of %zu bytes: status %d (%s), message \"%s\"", ci, n,
                             len, st, fsci_strerror(st), fsci_error_message());
            if (!strstr(fsci_error_message(), "cut.tif")) TESTKIT_FAIL("message: %s", fsci_error_message());
        }
        free(buf);
    }
    ASSERT_TRUE(fsci_tiff_read(pj(d, "cut.tif"), &(fsci_array *){NULL}) == FSCI_EFORMAT);
}

TEST(garbage_and_damaged_strips_never_crash)
{
    const char *d = fresh("garbage");
    const char *path = pj(d, "g.tif");
    unsigned char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)(i * 2654435761u >> 13);
    ASSERT_TRUE(spit(path, junk, sizeof junk) == 0);
    fsci_array *b = NULL;
    ASSERT_STATUS(fsci_tiff_read(path, &b), FSCI_EFORMAT);
    ASSERT_MSG("g.tif: not a readable TIFF file: Not a TIFF");
    ASSERT_TRUE(once(fsci_error_message(), "g.tif")); /* libtiff's own "<file>: " is left out */
    /* a TIFF header in front of junk */
    memcpy(junk, "II*\0\x08\0\0\0", 8);
    ASSERT_TRUE(spit(path, junk, sizeof junk) == 0);
    ASSERT_STATUS(fsci_tiff_read(path, &b), FSCI_EFORMAT);
    /* LZW and deflate strips of junk; a deflate stream cut in half */
    ASSERT_EQ(lt_raw(path, COMPRESSION_LZW, 16, 16, junk + 100, 200), 0);
    ASSERT_STATUS(fsci_tiff_read(path, &b), FSCI_EFORMAT);
    ASSERT_MSG("g.tif: page 0: cannot decode a strip: ");
    ASSERT_TRUE(once(fsci_error_message(), "g.tif"));
    ASSERT_EQ(lt_raw(path, COMPRESSION_ADOBE_DEFLATE, 16, 16, junk + 100, 200), 0);
    ASSERT_STATUS(fsci_tiff_read(path, &b), FSCI_EFORMAT);
    unsigned char img[64 * 64], z[8192];
    for (size_t i = 0; i < sizeof img; i++) img[i] = (unsigned char)(i * 7 + (i >> 5));
    uLongf zn = sizeof z;
    ASSERT_EQ(compress2(z, &zn, img, sizeof img, 6), Z_OK);
    ASSERT_EQ(lt_raw(path, COMPRESSION_ADOBE_DEFLATE, 64, 64, z, zn), 0);
    ASSERT_OK(fsci_tiff_read(path, &b)); /* the whole stream reads */
    ASSERT_TRUE(memcmp(b->view.data, img, sizeof img) == 0);
    fsci_array_destroy(&b);
    ASSERT_EQ(lt_raw(path, COMPRESSION_ADOBE_DEFLATE, 64, 64, z, zn / 2), 0);
    ASSERT_STATUS(fsci_tiff_read(path, &b), FSCI_EFORMAT);
    ASSERT_MSG("g.tif: page 0: cannot decode a strip");
    ASSERT_TRUE(b == NULL);
    /* byte flips all over a valid LZW stack: any status but a crash, and a
     * success gives the right shape */
    fsci_array *a = make_stack(FSCI_F32, 2, 19, 23);
    ASSERT_TRUE(a != NULL);
    ASSERT_OK(fsci_tiff_write(path, &a->view, FSCI_TIFF_LZW));
    fsci_array_destroy(&a);
    size_t len;
    unsigned char *buf = slurp(path, &len);
    ASSERT_TRUE(buf != NULL);
    int fails = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char keep = buf[i];
        buf[i] ^= (unsigned char)(0x5a + i);
        ASSERT_TRUE(spit(pj(d, "flip.tif"), buf, len) == 0);
        int st = fsci_tiff_read(pj(d, "flip.tif"), &b);
        if (st == FSCI_OK) {
            ASSERT_EQ(b->view.ndim, 3);
            ASSERT_EQ(b->view.shape[1] * b->view.shape[2], 19 * 23);
        } else {
            fails++;
            if (st != FSCI_EFORMAT && st != FSCI_ENOTSUP)
                TESTKIT_FAIL("byte %zu flipped: status %d, message \"%s\"", i, st, fsci_error_message());
        }
        fsci_array_destroy(&b);
        buf[i] = keep;
    }
    ASSERT_TRUE(fails > 0);
    free(buf);
}

TEST(claimed_sizes_beyond_the_file_are_refused_before_allocating)
{
    const char *d = fresh("bomb");
    const char *path = pj(d, "b.tif");
    unsigned char raw[100] = {0};
    fsci_array *b = NULL;
    /* uncompressed: 1000 x 1000 bytes claimed, 100 stored (libtiff
     * replaces a single strip's byte count by the image size) */
    ASSERT_EQ(lt_raw(path, COMPRESSION_NONE, 1000, 1000, raw, sizeof raw), 0);
    ASSERT_STATUS(fsci_tiff_read(path, &b), FSCI_EFORMAT);
    ASSERT_MSG("b.tif: page 0: strip 0 (8000 bytes at offset 8) extends past the end of the file");
    /* two strips of 8 rows, the second 50 bytes long, the file long enough */
    TIFF *tif = lt_open(path, "w");
    ASSERT_TRUE(tif != NULL);
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, 16);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, 16);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 8);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, 8);
    unsigned char full[128] = {0};
    ASSERT_TRUE(TIFFWriteRawStrip(tif, 0, full, 128) == 128 && TIFFWriteRawStrip(tif, 1, full, 50) == 50);
    ASSERT_TRUE(TIFFWriteDirectory(tif) == 1);
    TIFFClose(tif);
    ASSERT_STATUS(fsci_tiff_read(path, &b), FSCI_EFORMAT);
    ASSERT_MSG(
        "b.tif: page 0: uncompressed strip 1 holds 50 bytes of the 128 it needs: truncated or corrupt");
    /* deflate: 60000 x 60000 bytes (3.4 GiB) from 100 bytes */
    ASSERT_EQ(lt_raw(path, COMPRESSION_ADOBE_DEFLATE, 60000, 60000, raw, sizeof raw), 0);
    ASSERT_STATUS(fsci_tiff_read(path, &b), FSCI_EFORMAT);
    ASSERT_MSG("b.tif: page 0: 100 compressed bytes cannot hold a 60000 x 60000 uint8 page");
    ASSERT_TRUE(b == NULL);
}

/* ---- inputs that are not files --------------------------------------------------------------- */

TEST(fifo_directory_device_and_missing_file)
{
    const char *d = fresh("notfile");
    const char *fifo = pj(d, "f.tif");
    ASSERT_TRUE(mkfifo(fifo, 0600) == 0);
    fsci_tiff_reader *r = NULL;
    ASSERT_STATUS(fsci_tiff_open(fifo, &r), FSCI_EIO); /* at once: no writer ever opens it */
    ASSERT_MSG("f.tif: is a FIFO, not a regular file");
    ASSERT_STATUS(fsci_tiff_open(d, &r), FSCI_EIO);
    ASSERT_MSG("is a directory, not a regular file");
    ASSERT_STATUS(fsci_tiff_open("/dev/zero", &r), FSCI_EIO);
    ASSERT_MSG("/dev/zero: is a character device");
    ASSERT_STATUS(fsci_tiff_open(pj(d, "missing.tif"), &r), FSCI_EIO);
    ASSERT_MSG("missing.tif: cannot open: No such file or directory");
    ASSERT_STATUS(fsci_tiff_open(NULL, &r), FSCI_EINVAL);
    ASSERT_STATUS(fsci_tiff_open("x", NULL), FSCI_EINVAL);
    ASSERT_TRUE(r == NULL);
    fsci_array *a = make_stack(FSCI_U8, 1, 4, 4);
    ASSERT_TRUE(a != NULL);
    ASSERT_STATUS(fsci_tiff_write(fifo, &a->view, FSCI_TIFF_NONE), FSCI_EINVAL); /* never blocks either */
    ASSERT_MSG("is a FIFO");
    ASSERT_STATUS(fsci_tiff_write("/dev/null", &a->view, FSCI_TIFF_NONE), FSCI_EINVAL);
    ASSERT_MSG("/dev/null");
    fsci_array_destroy(&a);
}

/* ---- the writer's promises ---------------------------------------------------------------------- */

TEST(writer_failures_leave_nothing_and_keep_the_old_file)
{
    const char *d = fresh("wfail");
    fsci_array *a = make_stack(FSCI_U8, 2, 4, 4);
    ASSERT_TRUE(a != NULL);
    fsci_tiff_writer *tw = NULL;
    ASSERT_STATUS(fsci_tiff_writer_open(pj(d, "no/such/dir/x.tif"), 4, 4, FSCI_U8, FSCI_TIFF_NONE, &tw),
                  FSCI_EIO);
    ASSERT_MSG("x.tif: cannot create a temporary file next to it: No such file or directory");
    ASSERT_STATUS(fsci_tiff_write(pj(d, "no/x.tif"), &a->view, FSCI_TIFF_NONE), FSCI_EIO);
    /* abort: nothing at the path, no temporary, an old file untouched */
    const char *path = pj(d, "keep.tif");
    ASSERT_TRUE(spit(path, "old", 3) == 0);
    ASSERT_OK(fsci_tiff_writer_open(path, 4, 4, FSCI_U8, FSCI_TIFF_DEFLATE, &tw));
    ASSERT_OK(fsci_tiff_write_page(tw, a->view.data));
    ASSERT_EQ(count_entries(d), 2);
    fsci_tiff_writer_abort(&tw);
    ASSERT_TRUE(tw == NULL);
    fsci_tiff_writer_abort(&tw);
    fsci_tiff_writer_abort(NULL);
    size_t n;
    unsigned char *old = slurp(path, &n);
    ASSERT_TRUE(old && n == 3 && memcmp(old, "old", 3) == 0);
    free(old);
    ASSERT_EQ(count_entries(d), 1);
    /* commit without a page */
    ASSERT_OK(fsci_tiff_writer_open(pj(d, "empty.tif"), 4, 4, FSCI_U8, FSCI_TIFF_NONE, &tw));
    ASSERT_STATUS(fsci_tiff_writer_commit(&tw), FSCI_EINVAL);
    ASSERT_MSG("empty.tif: not written: no page was added");
    ASSERT_TRUE(tw == NULL);
    ASSERT_EQ(count_entries(d), 1);
    ASSERT_STATUS(fsci_tiff_writer_commit(&tw), FSCI_EINVAL);
    /* bad arguments */
    ASSERT_STATUS(fsci_tiff_writer_open(path, 4, 4, FSCI_F64, FSCI_TIFF_NONE, &tw), FSCI_EINVAL);
    ASSERT_MSG("dtype float64 cannot be written as TIFF");
    ASSERT_STATUS(fsci_tiff_writer_open(path, 0, 4, FSCI_U8, FSCI_TIFF_NONE, &tw), FSCI_EINVAL);
    ASSERT_STATUS(fsci_tiff_writer_open(path, 4, INT64_C(1) << 32, FSCI_U8, FSCI_TIFF_NONE, &tw),
                  FSCI_EINVAL);
    ASSERT_STATUS(fsci_tiff_writer_open(path, 4, 4, FSCI_U8, (fsci_tiff_compression)7, &tw), FSCI_EINVAL);
    fsci_view v1 = {.data = a->view.data, .dtype = FSCI_U8, .ndim = 1, .shape = {4}, .strides = {1}};
    ASSERT_STATUS(fsci_tiff_write(path, &v1, FSCI_TIFF_NONE), FSCI_EINVAL);
    ASSERT_MSG("not ndim 1");
    fsci_view v0 = {
        .data = a->view.data, .dtype = FSCI_U8, .ndim = 3, .shape = {0, 4, 4}, .strides = {16, 4, 1}};
    ASSERT_STATUS(fsci_tiff_write(path, &v0, FSCI_TIFF_NONE), FSCI_EINVAL);
    ASSERT_STATUS(fsci_tiff_write_page(NULL, a->view.data), FSCI_EINVAL);
    ASSERT_EQ(count_entries(d), 1);
    fsci_array_destroy(&a);
}

/* In a child: SIGXFSZ at its default action (which would kill the process)
 * and a 64 KiB file-size limit; a 1 MiB stack over an existing file, by
 * fsci_tiff_write and by the streaming writer. */
static int efbig_child(const char *d)
{
    signal(SIGXFSZ, SIG_DFL);
    const char *p = pj(d, "big.tif");
    if (spit(p, "previous", 8) != 0) return 10;
    struct rlimit lim = {65536, 65536};
    if (setrlimit(RLIMIT_FSIZE, &lim) != 0) return 11;
    fsci_array *a = make_stack(FSCI_F32, 4, 256, 256);
    if (!a) return 12;
    if (fsci_tiff_write(p, &a->view, FSCI_TIFF_NONE) != FSCI_EIO) return 13;
    if (!strstr(fsci_error_message(), "big.tif: cannot write: File too large")) {
        fprintf(stderr, "message: %s\n", fsci_error_message());
        return 14;
    }
    fsci_tiff_writer *tw = NULL;
    if (fsci_tiff_writer_open(p, 256, 256, FSCI_F32, FSCI_TIFF_NONE, &tw) != FSCI_OK) return 15;
    int st = FSCI_OK, k = 0;
    for (; k < 4 && st == FSCI_OK; k++) st = fsci_tiff_write_page(tw, (float *)a->view.data + k * 65536);
    if (st != FSCI_EIO || k != 1) return 16; /* the first page already passes 64 KiB */
    if (fsci_tiff_write_page(tw, a->view.data) != FSCI_EIO) return 17; /* poisoned */
    if (fsci_tiff_writer_commit(&tw) != FSCI_EIO || tw) return 18;
    if (!strstr(fsci_error_message(), "big.tif: cannot write: File too large")) return 19;
    fsci_array_destroy(&a);
    size_t n;
    unsigned char *now = slurp(p, &n);
    if (!now || n != 8 || memcmp(now, "previous", 8) != 0) return 20;
    free(now);
    if (count_entries(d) != 1) return 21; /* no temporary file left */
    return 0;
}

TEST(file_size_limit_is_eio_and_the_old_file_stays)
{
    const char *d = fresh("efbig");
    fflush(NULL);
    pid_t pid = fork();
    ASSERT_TRUE(pid >= 0);
    if (pid == 0) _exit(efbig_child(d));
    int ws = 0;
    ASSERT_TRUE(waitpid(pid, &ws, 0) == pid);
    if (WIFSIGNALED(ws)) TESTKIT_FAIL("child killed by signal %d", WTERMSIG(ws));
    ASSERT_EQ(WEXITSTATUS(ws), 0);
}

/* ---- libtiff's messages: off stderr, per handle ----------------------------------------------- */

TEST(libtiff_never_prints_to_stderr)
{
    const char *d = fresh("quiet");
    const char *log = pj(d, "stderr.txt"), *path = pj(d, "q.tif");
    unsigned char junk[512];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)(i * 37 + 1);
    spec s = S(FSCI_U8, 8, 8);
    s.bits = 12;
    spec pal = S(FSCI_U8, 8, 8);
    pal.orient = 5;
    fflush(stderr);
    int saved = dup(2), fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_TRUE(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    fsci_array *b = NULL;
    int st[6];
    memcpy(junk, "MM\0*\0\0\0\x08", 8);
    spit(path, junk, sizeof junk);
    st[0] = fsci_tiff_read(path, &b);
    lt_raw(path, COMPRESSION_LZW, 16, 16, junk + 10, 100);
    st[1] = fsci_tiff_read(path, &b);
    lt_raw(path, COMPRESSION_ADOBE_DEFLATE, 16, 16, junk + 10, 100);
    st[2] = fsci_tiff_read(path, &b);
    lt_write(path, "w", 1, &s);
    st[3] = fsci_tiff_read(path, &b);
    spit(path, junk, 7);
    st[4] = fsci_tiff_read(path, &b);
    lt_write(path, "w", 1, &pal);
    st[5] = fsci_tiff_read(path, &b);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    for (int k = 0; k < 6; k++)
        if (st[k] == FSCI_OK) TESTKIT_FAIL("case %d read", k);
    size_t n = 99;
    char *text = (char *)slurp(log, &n);
    ASSERT_TRUE(text != NULL);
    if (n) TESTKIT_FAIL("stderr got %zu bytes: %.300s", n, text);
    free(text);
}

typedef struct thr_arg {
    const char *path, *want;
    int ok;
} thr_arg;

static void *thr_read(void *p)
{
    thr_arg *t = p;
    t->ok = 1;
    for (int k = 0; k < 200; k++) {
        fsci_array *b = NULL;
        int st = fsci_tiff_read(t->path, &b);
        if (st != FSCI_EFORMAT || !strstr(fsci_error_message(), t->want)) {
            if (t->ok) fprintf(stderr, "  thread: status %d, message \"%s\"\n", st, fsci_error_message());
            t->ok = 0;
        }
        fsci_array_destroy(&b);
    }
    return NULL;
}

TEST(messages_are_per_thread)
{
    const char *d = fresh("threads");
    unsigned char junk[300];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)(i * 91 + 3);
    char p1[1400], p2[1400];
    snprintf(p1, sizeof p1, "%s", pj(d, "lzw_junk.tif"));
    snprintf(p2, sizeof p2, "%s", pj(d, "short.tif"));
    ASSERT_EQ(lt_raw(p1, COMPRESSION_LZW, 32, 32, junk, sizeof junk), 0);
    ASSERT_EQ(lt_raw(p2, COMPRESSION_NONE, 32, 32, junk, sizeof junk), 0);
    thr_arg t[2] = {
        {p1, "lzw_junk.tif: page 0: cannot decode a strip: ", 0},
        {p2, "short.tif: page 0: strip 0 (1024 bytes at offset 8) extends past the end of the file", 0}};
    pthread_t th[2];
    for (int k = 0; k < 2; k++) ASSERT_TRUE(pthread_create(&th[k], NULL, thr_read, &t[k]) == 0);
    for (int k = 0; k < 2; k++) pthread_join(th[k], NULL);
    ASSERT_TRUE(t[0].ok && t[1].ok);
}

/* ---- python3-tifffile, both ways -------------------------------------------------------------- */

/* Written to the scratch folder and run there: "write DIR" makes stacks with
 * tifffile and lists them in DIR/manifest.txt; "check DIR" reads ours (listed
 * in DIR/manifest.txt by the C side) and compares values and tags. Exit 77
 * when tifffile is missing. LZW and the floating-point predictor need
 * imagecodecs in tifffile; without it those cases are left out. */
static const char PY_SCRIPT[] =
    "import sys, os\n"
    "import numpy as np\n"
    "try:\n"
    "    import tifffile\n"
    "except ImportError:\n"
    "    sys.exit(77)\n"
    "try:\n"
    "    import imagecodecs  # noqa: F401\n"
    "    codecs = True\n"
    "except ImportError:\n"
    "    codecs = False\n"
    "COMP = {None: 0, 'lzw': 1, 'zlib': 2}\n"
    "def pattern(dt, pages, h, w):\n"
    "    p, y, x = np.meshgrid(np.arange(pages), np.arange(h), np.arange(w), indexing='ij')\n"
    "    if dt == 'uint8':\n"
    "        return ((31 * p + 7 * y + 3 * x) % 256).astype('u1')\n"
    "    if dt == 'uint16':\n"
    "        return ((7919 * p + 263 * y + 31 * x + 5) % 65536).astype('u2')\n"
    "    return ((1000 * p + 53 * y + x) * 0.25 - 100.5).astype('f4')\n"
    "def write(d):\n"
    "    lines, n = [], 0\n"
    "    for dt in ('uint8', 'uint16', 'float32'):\n"
    "        for comp in (None, 'zlib', 'lzw'):\n"
    "            if comp == 'lzw' and not codecs:\n"
    "                continue\n"
    "            preds = [None]\n"
    "            if comp and dt != 'float32':\n"
    "                preds.append(2)\n"
    "            if comp and dt == 'float32' and codecs:\n"
    "                preds.append(3)\n"
    "            for pred in preds:\n"
    "                for bo in '<>':\n"
    "                    for big in (False, True):\n"
    "                        for tile in (None, (16, 32)):\n"
    "                            pages = 1 + 2 * (n % 2)\n"
    "                            name = 't%03d_%s_%s_%s_%s_%s_%s.tif' % (n, dt, comp, pred, 'be' if bo == "
    "'>' else 'le', 'big' if big else 'classic', 'tiled' if tile else 'strips')\n"
    "                            a = pattern(dt, pages, 37, 53)\n"
    "                            kw = dict(photometric='minisblack', compression=comp, byteorder=bo, "
    "bigtiff=big, metadata=None)\n"
    "                            if pred:\n"
    "                                kw['predictor'] = pred\n"
    "                            if tile:\n"
    "                                kw['tile'] = tile\n"
    "                            else:\n"
    "                                kw['rowsperstrip'] = 7\n"
    "                            tifffile.imwrite(os.path.join(d, name), a, **kw)\n"
    "                            lines.append('%s %s %d 37 53 %d' % (name, dt, pages, COMP[comp]))\n"
    "                            n += 1\n"
    "    with open(os.path.join(d, 'manifest.txt'), 'w') as f:\n"
    "        f.write('\\n'.join(lines) + '\\n')\n"
    "    print('tifffile wrote %d stacks (imagecodecs: %s)' % (n, codecs))\n"
    "def check(d):\n"
    "    bad = checked = 0\n"
    "    for line in open(os.path.join(d, 'manifest.txt')):\n"
    "        name, dt, pages, h, w, comp = line.split()\n"
    "        pages, h, w, comp = int(pages), int(h), int(w), int(comp)\n"
    "        with tifffile.TiffFile(os.path.join(d, name)) as t:\n"
    "            if len(t.pages) != pages:\n"
    "                print(name, 'has', len(t.pages), 'pages'); bad += 1; continue\n"
    "            want = pattern(dt, pages, h, w)\n"
    "            for i, pg in enumerate(t.pages):\n"
    "                code = {0: 1, 1: 5, 2: 8}[comp]\n"
    "                if (pg.shape != (h, w) or pg.dtype != np.dtype(dt) or int(pg.compression) != code\n"
    "                        or int(pg.photometric) != 1 or pg.samplesperpixel != 1):\n"
    "                    print(name, i, 'tags', pg.shape, pg.dtype, pg.compression, pg.photometric); bad += "
    "1\n"
    "                    continue\n"
    "                if pg.rowsperstrip * w * np.dtype(dt).itemsize > 65536 and pg.rowsperstrip != 1:\n"
    "                    print(name, i, 'rowsperstrip', pg.rowsperstrip); bad += 1\n"
    "                if comp == 1 and not codecs:\n"
    "                    continue\n"
    "                if not np.array_equal(pg.asarray(), want[i]):\n"
    "                    print(name, i, 'values differ'); bad += 1\n"
    "                checked += 1\n"
    "    print('tifffile checked %d pages, %d problems' % (checked, bad))\n"
    "    sys.exit(1 if bad or not checked else 0)\n"
    "(write if sys.argv[1] == 'write' else check)(sys.argv[2])\n";

static int run_py(const char *d, const char *mode)
{
    const char *script = pj(d, "interop.py");
    if (spit(script, PY_SCRIPT, sizeof PY_SCRIPT - 1) != 0) return -1;
    const char *py = getenv("FSCI_PYTHON");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' '%s' %s '%s'", py && py[0] ? py : "/usr/bin/python3", script, mode, d);
    fflush(NULL);
    int rc = system(cmd);
    return rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

TEST(tifffile_stacks_read_exactly)
{
    const char *d = fresh("from_tifffile");
    int rc = run_py(d, "write");
    if (rc == 77) {
        printf("  note: python3-tifffile is missing: tifffile_stacks_read_exactly skipped\n");
        return;
    }
    ASSERT_EQ(rc, 0);
    FILE *f = fopen(pj(d, "manifest.txt"), "r");
    ASSERT_TRUE(f != NULL);
    char name[256], dt[16];
    long long pages, h, w;
    int comp, n = 0, be = 0, big = 0, tiled = 0;
    while (fscanf(f, "%255s %15s %lld %lld %lld %d", name, dt, &pages, &h, &w, &comp) == 6) {
        fsci_dtype t;
        ASSERT_OK(fsci_dtype_from_name(dt, &t));
        fsci_tiff_reader *r = NULL;
        ASSERT_OK(fsci_tiff_open(pj(d, name), &r));
        ASSERT_EQ(fsci_tiff_reader_info(r)->compression, comp);
        fsci_tiff_close(&r);
        fsci_array *b = NULL;
        ASSERT_OK(fsci_tiff_read(pj(d, name), &b));
        if (!stack_matches(b, t, pages, h, w, name)) TESTKIT_FAIL("%s differs", name);
        fsci_array_destroy(&b);
        n++;
        be += strstr(name, "_be_") != NULL;
        big += strstr(name, "_big_") != NULL;
        tiled += strstr(name, "_tiled") != NULL;
    }
    fclose(f);
    ASSERT_TRUE(n >= 56 && be == n / 2 && big == n / 2 && tiled == n / 2);
    printf("  %d tifffile stacks read\n", n);
}

TEST(our_stacks_read_by_tifffile)
{
    const char *d = fresh("to_tifffile");
    FILE *f = fopen(pj(d, "manifest.txt"), "w");
    ASSERT_TRUE(f != NULL);
    static const int64_t sizes[3][3] = {{1, 37, 53}, {3, 37, 53}, {2, 200, 400}};
    for (int ti = 0; ti < 3; ti++)
        for (int ci = 0; ci < 3; ci++)
            for (int si = 0; si < 3; si++) {
                char name[64];
                snprintf(name, sizeof name, "ours_%s_%d_%d.tif", fsci_dtype_name(DTYPES[ti]), ci, si);
                fsci_array *a = make_stack(DTYPES[ti], sizes[si][0], sizes[si][1], sizes[si][2]);
                ASSERT_TRUE(a != NULL);
                ASSERT_OK(fsci_tiff_write(pj(d, name), &a->view, COMPS[ci]));
                fsci_array_destroy(&a);
                fprintf(f, "%s %s %lld %lld %lld %d\n", name, fsci_dtype_name(DTYPES[ti]),
                        (long long)sizes[si][0], (long long)sizes[si][1], (long long)sizes[si][2],
                        (int)COMPS[ci]);
            }
    fsci_array *a = make_stack(FSCI_F32, 3, 37, 53);
    ASSERT_TRUE(a != NULL);
    fsci__tiff_set_bigtiff_from(1.0);
    int st = fsci_tiff_write(pj(d, "ours_bigtiff.tif"), &a->view, FSCI_TIFF_DEFLATE);
    fsci__tiff_set_bigtiff_from(0);
    fsci_array_destroy(&a);
    ASSERT_OK(st);
    fprintf(f, "ours_bigtiff.tif float32 3 37 53 2\n");
    fclose(f);
    int rc = run_py(d, "check");
    if (rc == 77) {
        printf("  note: python3-tifffile is missing: our_stacks_read_by_tifffile skipped\n");
        return;
    }
    ASSERT_EQ(rc, 0);
}

TESTKIT_MAIN()
