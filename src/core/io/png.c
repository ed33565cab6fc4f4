/* Raw PNG I/O through libpng, and the heatmap writer.
 *
 * libpng reports errors by longjmp to png_jmpbuf(); each entry point below
 * sets that jump point in a small function whose locals touched after
 * setjmp are volatile, and turns the jump into a status code. Warnings are
 * dropped (libpng would print them to stderr). */
#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/io/io_impl.h"
#include "fastsci/core/alloc.h"
#include "fastsci/core/atomic.h"
#include "fastsci/core/error.h"
#include "fastsci/core/plot.h"

static const char *errno_text(int e, char *buf, size_t cap)
{
    return fsci__errstr(e, buf, cap);
}

/* ------------------------------------------------------------ libpng glue */

/* Message of the last libpng error on this thread (thread-local rather than a
 * local so that it is well defined after the longjmp). */
static _Thread_local char tl_png_msg[256];

static void png_error_fn(png_structp png, png_const_charp msg)
{
    snprintf(tl_png_msg, sizeof tl_png_msg, "%s", msg ? msg : "unknown libpng error");
    png_longjmp(png, 1);
}

static void png_warning_fn(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static int png_encode(FILE *f, const char *path, const uint8_t *rgb, int64_t w, int64_t h)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, png_error_fn, png_warning_fn);
    FSCI_CHECK(png, FSCI_ENOMEM, "PNG '%s': cannot create libpng write struct", path);
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        FSCI_CHECK(0, FSCI_ENOMEM, "PNG '%s': cannot create libpng info struct", path);
    }
    tl_png_msg[0] = '\0';
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        FSCI_CHECK(0, FSCI_EIO, "cannot write PNG '%s': %s", path, tl_png_msg);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int64_t y = 0; y < h; y++) png_write_row(png, rgb + (size_t)(y * w * 3));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return FSCI_OK;
}

int fsci_png_write_rgb(const char *path, const uint8_t *rgb, int64_t width, int64_t height)
{
    int st = FSCI_OK;
    fsci_atomic *a = NULL;
    FSCI_CHECK(path && *path, FSCI_EINVAL, "PNG: path is NULL or empty");
    FSCI_CHECK(rgb, FSCI_EINVAL, "PNG '%s': pixel buffer is NULL", path);
    FSCI_CHECK(width >= 1 && width <= FSCI_PNG_MAX_SIDE && height >= 1 && height <= FSCI_PNG_MAX_SIDE,
               FSCI_EINVAL, "PNG '%s': size %lld x %lld outside [1, %d]", path, (long long)width,
               (long long)height, FSCI_PNG_MAX_SIDE);
    FSCI_TRY(fsci_atomic_open(path, FSCI_ATOMIC_DEFAULT, &a));
    FSCI_TRY(png_encode(fsci_atomic_file(a), path, rgb, width, height));
    return fsci_atomic_commit(&a); /* reports a failed flush (full disk) */
fail:
    fsci_atomic_abort(&a);
    return st;
}

typedef struct mem_src {
    const unsigned char *p;
    size_t len, pos;
} mem_src;

static void mem_read_fn(png_structp png, png_bytep out, size_t n)
{
    mem_src *m = png_get_io_ptr(png);
    if (n > m->len - m->pos) png_error(png, "unexpected end of data");
    memcpy(out, m->p + m->pos, n);
    m->pos += n;
}

/* Decode from the stream `f` or, when f is NULL, from the memory source `m`
 * (both already past the 8-byte signature). */
static int png_decode(FILE *f, mem_src *m, const char *path, uint8_t **out, int64_t *wout, int64_t *hout)
{
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, png_error_fn, png_warning_fn);
    FSCI_CHECK(png, FSCI_ENOMEM, "PNG '%s': cannot create libpng read struct", path);
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        FSCI_CHECK(0, FSCI_ENOMEM, "PNG '%s': cannot create libpng info struct", path);
    }
    uint8_t *volatile buf = NULL;
    png_bytep *volatile rows = NULL;
    tl_png_msg[0] = '\0';
    if (setjmp(png_jmpbuf(png))) {
        fsci_free(buf);
        fsci_free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        FSCI_CHECK(0, FSCI_EFORMAT, "PNG '%s' is corrupt or truncated: %s", path, tl_png_msg);
    }
    if (f)
        png_init_io(png, f);
    else
        png_set_read_fn(png, m, mem_read_fn);
    png_set_sig_bytes(png, 8);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info);
    png_uint_32 h = png_get_image_height(png, info);
    int depth = png_get_bit_depth(png, info);
    int ctype = png_get_color_type(png, info);
    if (w < 1 || h < 1 || w > FSCI_PNG_MAX_SIDE || h > FSCI_PNG_MAX_SIDE ||
        (int64_t)w * (int64_t)h > FSCI_PNG_MAX_PIXELS) {
        png_destroy_read_struct(&png, &info, NULL);
        FSCI_CHECK(0, FSCI_ERANGE, "PNG '%s': size %lu x %lu outside [1, %d] per side or above %lld pixels",
                   path, (unsigned long)w, (unsigned long)h, FSCI_PNG_MAX_SIDE,
                   (long long)FSCI_PNG_MAX_PIXELS);
    }
    if (ctype == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16) png_set_scale_16(png);
    if (ctype & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
    if (ctype == PNG_COLOR_TYPE_GRAY || ctype == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    (void)png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)w * 3) {
        png_destroy_read_struct(&png, &info, NULL);
        FSCI_CHECK(0, FSCI_EINTERNAL, "PNG '%s': unexpected row size %zu after conversion to RGB8", path,
                   (size_t)png_get_rowbytes(png, info));
    }
    buf = fsci_malloc((size_t)w * (size_t)h, 3);
    rows = fsci_malloc((size_t)h, sizeof(png_bytep));
    if (!buf || !rows) {
        fsci_free(buf);
        fsci_free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        return FSCI_ENOMEM;
    }
    for (png_uint_32 y = 0; y < h; y++) rows[y] = buf + (size_t)y * w * 3;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    fsci_free(rows);
    *out = buf;
    *wout = (int64_t)w;
    *hout = (int64_t)h;
    return FSCI_OK;
}

int fsci__png_read_mem(const void *buf, size_t len, const char *name, uint8_t **rgb, int64_t *width,
                       int64_t *height)
{
    FSCI_CHECK(rgb && width && height, FSCI_EINVAL, "PNG read: output pointer is NULL");
    *rgb = NULL;
    *width = *height = 0;
    if (!name) name = "<memory>";
    FSCI_CHECK(buf || len == 0, FSCI_EINVAL, "PNG '%s': NULL buffer", name);
    FSCI_CHECK(len >= 8 && png_sig_cmp((png_const_bytep)buf, 0, 8) == 0, FSCI_EFORMAT,
               "'%s' is not a PNG file (bad signature)", name);
    mem_src m = {buf, len, 8};
    return png_decode(NULL, &m, name, rgb, width, height);
}

int fsci_png_read_rgb(const char *path, uint8_t **rgb, int64_t *width, int64_t *height)
{
    int st = FSCI_OK;
    int fd = -1;
    uint64_t size;
    FILE *f = NULL;
    char eb[128];
    FSCI_CHECK(rgb && width && height, FSCI_EINVAL, "PNG read: output pointer is NULL");
    *rgb = NULL;
    *width = *height = 0;
    FSCI_CHECK(path && *path, FSCI_EINVAL, "PNG read: path is NULL or empty");
    FSCI_TRY(fsci__input_open(path, &fd, &size));
    f = fdopen(fd, "rb");
    FSCI_CHECK_GOTO(f, FSCI_EIO, "cannot open PNG '%s': %s", path, errno_text(errno, eb, sizeof eb));
    fd = -1;
    unsigned char sig[8];
    FSCI_CHECK_GOTO(fread(sig, 1, sizeof sig, f) == sizeof sig && png_sig_cmp(sig, 0, sizeof sig) == 0,
                    FSCI_EFORMAT, "'%s' is not a PNG file (bad signature)", path);
    st = png_decode(f, NULL, path, rgb, width, height);
fail:
    if (f) fclose(f);
    if (fd >= 0) close(fd);
    return st;
}

/* ------------------------------------------------------------ heatmap */

int fsci_png_write_heatmap(const char *path, const fsci_view *img, const fsci_heatmap_opts *o)
{
    int st = FSCI_OK;
    uint8_t *rgb = NULL;
    static const fsci_heatmap_opts defaults = {0};
    FSCI_CHECK(path && *path, FSCI_EINVAL, "heatmap: path is NULL or empty");
    if (!o) o = &defaults;
    double lo, hi, fl;
    FSCI_TRY(fsci__cmap_scale(img, o, "heatmap", &lo, &hi, &fl));
    int k = o->upscale == 0 ? 1 : o->upscale;
    FSCI_CHECK(k >= 1 && k <= 256, FSCI_EINVAL, "heatmap '%s': upscale must be in [0, 256], got %d", path,
               o->upscale);
    int64_t rows = img->shape[0], cols = img->shape[1];
    FSCI_CHECK(rows <= FSCI_PNG_MAX_SIDE / k && cols <= FSCI_PNG_MAX_SIDE / k, FSCI_EINVAL,
               "heatmap '%s': image %lld x %lld upscaled by %d exceeds %d pixels per side", path,
               (long long)rows, (long long)cols, k, FSCI_PNG_MAX_SIDE);
    int64_t W = cols * k, H = rows * k;
    rgb = fsci_malloc((size_t)W * (size_t)H, 3);
    if (!rgb) return FSCI_ENOMEM;
    for (int64_t r = 0; r < rows; r++) {
        uint8_t *line = rgb + (size_t)(r * k) * (size_t)W * 3;
        for (int64_t c = 0; c < cols; c++) {
            double t = fsci__cmap_position(fsci__cmap_view_get(img, r, c), lo, hi, o->log10, fl);
            uint8_t px[3];
            fsci_cmap_rgb(o->cmap, t, px);
            for (int j = 0; j < k; j++) memcpy(line + (size_t)(c * k + j) * 3, px, 3);
        }
        for (int i = 1; i < k; i++) memcpy(line + (size_t)i * (size_t)W * 3, line, (size_t)W * 3);
    }
    FSCI_TRY(fsci_png_write_rgb(path, rgb, W, H));
fail:
    fsci_free(rgb);
    return st;
}
