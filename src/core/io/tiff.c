/* Multi-page grayscale TIFF stacks through libtiff (Debian libtiff 4.5).
 *
 * libtiff is opened on our own I/O callbacks (TIFFClientOpenExt): reading
 * goes through a descriptor from fsci__input_open (FIFOs and devices refused
 * before anything blocks), writing through the atomic writer, so the house
 * rules on partial output, full disks and file-size limits hold. Its error
 * and warning handlers are per handle (TIFFOpenOptionsSetErrorHandlerExtR,
 * libtiff >= 4.5), never the process-wide ones: the first error of an
 * operation is kept in the handle and becomes part of our message; warnings
 * are dropped. Behaviour: include/fastsci/core/tiff.h and doc/io.md. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <tiffio.h>
#include <unistd.h>

#include "core/io/io_impl.h"
#include "fastsci/core/alloc.h"
#include "fastsci/core/atomic.h"
#include "fastsci/core/tiff.h"

/* Largest expansion accepted for a compressed page: LZW emits at most 4096
 * bytes per 12-bit code (< 2731:1), deflate at most 1032:1. */
enum { MAX_RATIO = 4096, RATIO_SLACK = 4096 };

/* Target strip size of the writer (libtiff's and tifffile's habit). */
enum { STRIP_BYTES = 1 << 16 };

/* Estimated file size from which fsci_tiff_write makes a BigTIFF: just under
 * the 4 GiB that classic TIFF offsets can address. */
#define BIGTIFF_FROM (4294967296.0 * 0.99)
static double g_bigtiff_from = BIGTIFF_FROM;

/* Test hook (not thread-safe): BigTIFF from `bytes` on (<= 0: the default). */
void fsci__tiff_set_bigtiff_from(double bytes);
void fsci__tiff_set_bigtiff_from(double bytes)
{
    g_bigtiff_from = bytes > 0 ? bytes : BIGTIFF_FROM;
}

/* ---- messages --------------------------------------------------------------------- */

/* What libtiff said during one operation on one handle. */
typedef struct tmsgs {
    const char *path; /* to strip a leading "<path>: " from libtiff's text */
    char first[400];  /* first error, "module: text" */
    int nerr;
} tmsgs;

static int on_tiff_error(TIFF *tif, void *ud, const char *module, const char *fmt, va_list ap)
    FSCI_PRINTF(4, 0);
static int on_tiff_error(TIFF *tif, void *ud, const char *module, const char *fmt, va_list ap)
{
    (void)tif;
    tmsgs *m = ud;
    if (m->nerr++ == 0) {
        char text[360];
        vsnprintf(text, sizeof text, fmt, ap);
        const char *t = text;
        size_t n = m->path ? strlen(m->path) : 0;
        if (n && strncmp(t, m->path, n) == 0 && t[n] == ':' && t[n + 1] == ' ') t += n + 2;
        if (module && module[0] && !(m->path && strcmp(module, m->path) == 0)) /* codecs name the file */
            snprintf(m->first, sizeof m->first, "%s: %s", module, t);
        else
            snprintf(m->first, sizeof m->first, "%s", t);
    }
    return 1; /* handled: libtiff's global handlers are not called */
}

static int on_tiff_warning(TIFF *tif, void *ud, const char *module, const char *fmt, va_list ap)
{
    (void)tif, (void)ud, (void)module, (void)fmt, (void)ap;
    return 1;
}

static void msgs_reset(tmsgs *m)
{
    m->first[0] = '\0';
    m->nerr = 0;
}

static const char *msgs_text(const tmsgs *m)
{
    return m->nerr ? m->first : "libtiff reported a failure without a message";
}

/* Record "<path>: page <p>: <text>" (without the page part when page < 0). */
static int terr(int code, const char *file, int line, const char *func, const char *path, int64_t page,
                const char *fmt, ...) FSCI_PRINTF(7, 8);
static int terr(int code, const char *file, int line, const char *func, const char *path, int64_t page,
                const char *fmt, ...)
{
    char text[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (page >= 0)
        return fsci_error_set(code, file, line, func, "%s: page %lld: %s", path, (long long)page, text);
    return fsci_error_set(code, file, line, func, "%s: %s", path, text);
}

#define TERR(code, path, page, ...) terr((code), __FILE__, __LINE__, __func__, (path), (page), __VA_ARGS__)

static TIFFOpenOptions *make_options(tmsgs *m, tmsize_t max_alloc)
{
    TIFFOpenOptions *o = TIFFOpenOptionsAlloc();
    if (!o) return NULL;
    TIFFOpenOptionsSetErrorHandlerExtR(o, on_tiff_error, m);
    TIFFOpenOptionsSetWarningHandlerExtR(o, on_tiff_warning, m);
    if (max_alloc > 0) TIFFOpenOptionsSetMaxSingleMemAlloc(o, max_alloc);
    return o;
}

static const char *compression_name(unsigned c)
{
    switch (c) {
    case COMPRESSION_NONE: return "none";
    case COMPRESSION_CCITTRLE: return "CCITT RLE";
    case COMPRESSION_CCITTFAX3: return "CCITT group 3";
    case COMPRESSION_CCITTFAX4: return "CCITT group 4";
    case COMPRESSION_LZW: return "LZW";
    case COMPRESSION_OJPEG: return "old-style JPEG";
    case COMPRESSION_JPEG: return "JPEG";
    case COMPRESSION_ADOBE_DEFLATE: return "deflate";
    case COMPRESSION_DEFLATE: return "deflate (old code)";
    case COMPRESSION_PACKBITS: return "PackBits";
    case COMPRESSION_JBIG: return "JBIG";
    case COMPRESSION_LZMA: return "LZMA";
    case COMPRESSION_ZSTD: return "Zstandard";
    case COMPRESSION_WEBP: return "WebP";
    case COMPRESSION_JXL: return "JPEG XL";
    case 34712: return "JPEG 2000";
    default: return "unknown";
    }
}

static const char *photometric_name(unsigned p)
{
    switch (p) {
    case PHOTOMETRIC_MINISWHITE: return "min-is-white";
    case PHOTOMETRIC_MINISBLACK: return "min-is-black";
    case PHOTOMETRIC_RGB: return "RGB";
    case PHOTOMETRIC_PALETTE: return "palette";
    case PHOTOMETRIC_MASK: return "transparency mask";
    case PHOTOMETRIC_SEPARATED: return "separated (CMYK)";
    case PHOTOMETRIC_YCBCR: return "YCbCr";
    case PHOTOMETRIC_CIELAB: return "CIE L*a*b*";
    case PHOTOMETRIC_ICCLAB: return "ICC L*a*b*";
    case PHOTOMETRIC_ITULAB: return "ITU L*a*b*";
    case PHOTOMETRIC_CFA: return "colour filter array";
    case PHOTOMETRIC_LOGL: return "LogL";
    case PHOTOMETRIC_LOGLUV: return "LogLuv";
    default: return "unknown";
    }
}

static const char *sampleformat_name(unsigned f)
{
    switch (f) {
    case SAMPLEFORMAT_UINT: return "unsigned integer";
    case SAMPLEFORMAT_INT: return "signed integer";
    case SAMPLEFORMAT_IEEEFP: return "IEEE float";
    case SAMPLEFORMAT_VOID: return "untyped";
    case SAMPLEFORMAT_COMPLEXINT: return "complex integer";
    case SAMPLEFORMAT_COMPLEXIEEEFP: return "complex IEEE float";
    default: return "unknown";
    }
}

static bool dtype_ok(fsci_dtype t)
{
    return t == FSCI_U8 || t == FSCI_U16 || t == FSCI_F32;
}

/* ==== reading ======================================================================== */

struct fsci_tiff_reader {
    TIFF *tif;
    int fd;
    uint64_t size, pos;
    int io_err; /* errno of the first failed read, 0 if none */
    char *path;
    int64_t cur;    /* libtiff's current directory */
    uint64_t *offs; /* each page's directory offset */
    int64_t ncap;
    fsci_tiff_info info;
    tmsgs msgs;
};

/* The storage of the current page, checked. */
typedef struct layout {
    int64_t h, w;
    size_t es;
    fsci_dtype dtype;
    fsci_tiff_compression comp;
    bool tiled;
    int64_t rps;    /* strips: rows per strip (<= h) */
    int64_t tw, th; /* tiles */
    uint32_t nstriles;
} layout;

static tmsize_t rd_read(thandle_t h, void *buf, tmsize_t n)
{
    fsci_tiff_reader *r = (fsci_tiff_reader *)h;
    if (n < 0) return -1;
    size_t done = 0;
    while (done < (size_t)n) {
        if (r->pos + done >= r->size) break; /* the size seen at open: a file that grows is not followed */
        size_t want = (size_t)n - done;
        if (want > r->size - r->pos - done) want = (size_t)(r->size - r->pos - done);
        ssize_t k = pread(r->fd, (char *)buf + done, want, (off_t)(r->pos + done));
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            if (!r->io_err) r->io_err = errno;
            return -1;
        }
        if (k == 0) break;
        done += (size_t)k;
    }
    r->pos += done;
    return (tmsize_t)done;
}

static tmsize_t rd_write(thandle_t h, void *buf, tmsize_t n)
{
    (void)h, (void)buf, (void)n;
    return -1;
}

static toff_t rd_seek(thandle_t h, toff_t off, int whence)
{
    fsci_tiff_reader *r = (fsci_tiff_reader *)h;
    uint64_t p;
    switch (whence) {
    case SEEK_SET: p = off; break;
    case SEEK_CUR: p = r->pos + off; break; /* off is a two's-complement offset */
    case SEEK_END: p = r->size + off; break;
    default: return (toff_t)-1;
    }
    if (p > (uint64_t)INT64_MAX) return (toff_t)-1;
    r->pos = p;
    return p;
}

static int rd_close(thandle_t h)
{
    (void)h;
    return 0;
}

static toff_t rd_size(thandle_t h)
{
    return ((fsci_tiff_reader *)h)->size;
}

static int no_map(thandle_t h, void **base, toff_t *size)
{
    (void)h, (void)base, (void)size;
    return 0;
}

static void no_unmap(thandle_t h, void *base, toff_t size)
{
    (void)h, (void)base, (void)size;
}

/* Record a failure reported by libtiff on page `page`: a read error of ours
 * is FSCI_EIO with the system error, anything else `code` with libtiff's
 * first message. */
static int lib_fail(fsci_tiff_reader *r, int64_t page, int code, const char *what)
{
    char eb[128];
    if (r->io_err)
        return TERR(FSCI_EIO, r->path, page, "cannot read: %s", fsci__errstr(r->io_err, eb, sizeof eb));
    return TERR(code, r->path, page, "%s: %s", what, msgs_text(&r->msgs));
}

static uint16_t get16(TIFF *tif, uint32_t tag, uint16_t dflt, bool *present)
{
    uint16_t v = 0;
    bool ok = TIFFGetField(tif, tag, &v) == 1;
    if (present) *present = ok;
    return ok ? v : dflt;
}

static int page_dtype(const fsci_tiff_reader *r, int64_t page, unsigned bits, unsigned fmt, fsci_dtype *t)
{
    if (bits != 8 && bits != 16 && bits != 32)
        return TERR(FSCI_ENOTSUP, r->path, page, "BitsPerSample = %u (8, 16 or 32 float)", bits);
    if (bits == 32 && fmt == SAMPLEFORMAT_IEEEFP) {
        *t = FSCI_F32;
        return FSCI_OK;
    }
    if (bits != 32 && fmt == SAMPLEFORMAT_UINT) {
        *t = bits == 8 ? FSCI_U8 : FSCI_U16;
        return FSCI_OK;
    }
    if (bits == 32)
        return TERR(FSCI_ENOTSUP, r->path, page,
                    "SampleFormat = %u, %s, with BitsPerSample = 32 (32-bit samples only as 3, IEEE float)",
                    fmt, sampleformat_name(fmt));
    return TERR(FSCI_ENOTSUP, r->path, page,
                "SampleFormat = %u, %s, with BitsPerSample = %u (%u-bit samples only as 1, unsigned integer)",
                fmt, sampleformat_name(fmt), bits, bits);
}

/* Check the current directory (page `page`) and describe its storage. Every
 * strip or tile must lie inside the file, an uncompressed one must hold all
 * its bytes and a compressed page may not expand more than MAX_RATIO times. */
static int page_layout(fsci_tiff_reader *r, int64_t page, layout *L)
{
    TIFF *tif = r->tif;
    memset(L, 0, sizeof *L);
    uint32_t w32 = 0, h32 = 0;
    if (TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w32) != 1 || w32 == 0)
        return TERR(FSCI_EFORMAT, r->path, page, "ImageWidth = %u (missing or 0)", w32);
    if (TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h32) != 1 || h32 == 0)
        return TERR(FSCI_EFORMAT, r->path, page, "ImageLength = %u (missing or 0)", h32);
    L->w = w32;
    L->h = h32;
    unsigned spp = get16(tif, TIFFTAG_SAMPLESPERPIXEL, 1, NULL);
    if (spp != 1)
        return TERR(FSCI_ENOTSUP, r->path, page, "SamplesPerPixel = %u (1: one grayscale sample per pixel)",
                    spp);
    bool have;
    unsigned photo = get16(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK, &have);
    if (photo != PHOTOMETRIC_MINISBLACK)
        return TERR(FSCI_ENOTSUP, r->path, page, "PhotometricInterpretation = %u, %s (1, min-is-black)%s",
                    photo, photometric_name(photo),
                    photo == PHOTOMETRIC_MINISWHITE ? ": min-is-white values are inverted; not converted here"
                                                    : "");
    unsigned bits = get16(tif, TIFFTAG_BITSPERSAMPLE, 1, NULL);
    unsigned fmt = get16(tif, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_UINT, NULL);
    int st = page_dtype(r, page, bits, fmt, &L->dtype);
    if (st < 0) return st;
    L->es = fsci_dtype_size(L->dtype);
    unsigned comp = get16(tif, TIFFTAG_COMPRESSION, COMPRESSION_NONE, NULL);
    switch (comp) {
    case COMPRESSION_NONE: L->comp = FSCI_TIFF_NONE; break;
    case COMPRESSION_LZW: L->comp = FSCI_TIFF_LZW; break;
    case COMPRESSION_ADOBE_DEFLATE:
    case COMPRESSION_DEFLATE: L->comp = FSCI_TIFF_DEFLATE; break;
    default:
        return TERR(FSCI_ENOTSUP, r->path, page, "Compression = %u, %s (1 none, 5 LZW, 8 or 32946 deflate)",
                    comp, compression_name(comp));
    }
    if (L->comp != FSCI_TIFF_NONE) {
        unsigned pred = get16(tif, TIFFTAG_PREDICTOR, PREDICTOR_NONE, NULL);
        if (pred != PREDICTOR_NONE && pred != PREDICTOR_HORIZONTAL && pred != PREDICTOR_FLOATINGPOINT)
            return TERR(FSCI_ENOTSUP, r->path, page,
                        "Predictor = %u (1 none, 2 horizontal, 3 floating point)", pred);
        if (pred == PREDICTOR_FLOATINGPOINT && L->dtype != FSCI_F32)
            return TERR(FSCI_EFORMAT, r->path, page, "Predictor = 3, floating point, on %s samples",
                        fsci_dtype_name(L->dtype));
    }
    unsigned orient = get16(tif, TIFFTAG_ORIENTATION, ORIENTATION_TOPLEFT, NULL);
    if (orient != ORIENTATION_TOPLEFT)
        return TERR(FSCI_ENOTSUP, r->path, page,
                    "Orientation = %u (1, rows top to bottom, columns left to right; not reoriented here)",
                    orient);

    uint64_t decoded, need_each = 0, expected;
    L->tiled = TIFFIsTiled(tif) != 0;
    if (L->tiled) {
        uint32_t tw = 0, th = 0;
        TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
        TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
        if (tw == 0 || th == 0)
            return TERR(FSCI_EFORMAT, r->path, page, "TileWidth = %u, TileLength = %u (must be > 0)", tw, th);
        L->tw = tw;
        L->th = th;
        uint64_t across = ((uint64_t)L->w + tw - 1) / tw, down = ((uint64_t)L->h + th - 1) / th;
        expected = across * down; /* < 2^64: both < 2^32 */
        if (__builtin_mul_overflow((uint64_t)tw * th, (uint64_t)L->es, &need_each) ||
            __builtin_mul_overflow(expected, need_each, &decoded) || expected > UINT32_MAX ||
            TIFFTileSize64(tif) != need_each)
            return TERR(FSCI_EFORMAT, r->path, page,
                        "tiles of %u x %u for a %lld x %lld image are impossible", tw, th, (long long)L->w,
                        (long long)L->h);
        L->nstriles = TIFFNumberOfTiles(tif);
    } else {
        uint32_t rps = UINT32_MAX;
        TIFFGetField(tif, TIFFTAG_ROWSPERSTRIP, &rps);
        if (rps == 0) return TERR(FSCI_EFORMAT, r->path, page, "RowsPerStrip = 0");
        L->rps = rps < (uint64_t)L->h ? (int64_t)rps : L->h;
        expected = ((uint64_t)L->h + (uint64_t)L->rps - 1) / (uint64_t)L->rps;
        if (__builtin_mul_overflow((uint64_t)L->h * (uint64_t)L->w, (uint64_t)L->es, &decoded) ||
            TIFFStripSize64(tif) != (uint64_t)L->rps * (uint64_t)L->w * L->es)
            return TERR(FSCI_EFORMAT, r->path, page, "strips of %lld rows of %lld samples are impossible",
                        (long long)L->rps, (long long)L->w);
        L->nstriles = TIFFNumberOfStrips(tif);
    }
    const char *kind = L->tiled ? "tile" : "strip";
    if (L->nstriles != expected)
        return TERR(FSCI_EFORMAT, r->path, page, "%u %ss where the image needs %llu", L->nstriles, kind,
                    (unsigned long long)expected);
    uint64_t stored = 0;
    for (uint32_t s = 0; s < L->nstriles; s++) {
        int err = 0;
        uint64_t off = TIFFGetStrileOffsetWithErr(tif, s, &err);
        uint64_t cnt = err ? 0 : TIFFGetStrileByteCountWithErr(tif, s, &err);
        if (err) return lib_fail(r, page, FSCI_EFORMAT, "cannot read the strip or tile offsets");
        if (cnt == 0) return TERR(FSCI_EFORMAT, r->path, page, "%s %u has no data (byte count 0)", kind, s);
        if (off > r->size || cnt > r->size - off)
            return TERR(FSCI_EFORMAT, r->path, page,
                        "%s %u (%llu bytes at offset %llu) extends past the end of the file (%llu bytes): "
                        "truncated or corrupt",
                        kind, s, (unsigned long long)cnt, (unsigned long long)off,
                        (unsigned long long)r->size);
        if (L->comp == FSCI_TIFF_NONE) {
            uint64_t need = need_each;
            if (!L->tiled) {
                uint64_t rows = (uint64_t)L->h - (uint64_t)s * (uint64_t)L->rps;
                if (rows > (uint64_t)L->rps) rows = (uint64_t)L->rps;
                need = rows * (uint64_t)L->w * L->es;
            }
            if (cnt < need)
                return TERR(FSCI_EFORMAT, r->path, page,
                            "uncompressed %s %u holds %llu bytes of the %llu it needs: truncated or corrupt",
                            kind, s, (unsigned long long)cnt, (unsigned long long)need);
        }
        stored = stored + cnt < stored ? UINT64_MAX : stored + cnt;
    }
    uint64_t most =
        stored > (UINT64_MAX - RATIO_SLACK) / MAX_RATIO ? UINT64_MAX : stored * MAX_RATIO + RATIO_SLACK;
    if (L->comp != FSCI_TIFF_NONE && decoded > most)
        return TERR(
            FSCI_EFORMAT, r->path, page,
            "%llu compressed bytes cannot hold a %lld x %lld %s page (%llu bytes; at most %d:1 is accepted)",
            (unsigned long long)stored, (long long)L->h, (long long)L->w, fsci_dtype_name(L->dtype),
            (unsigned long long)decoded, MAX_RATIO);
    return FSCI_OK;
}

/* libtiff takes a directory whose link to the next one is cut off by the end
 * of the file as the last one: a truncated stack would read as a shorter one.
 * So the whole directory (count, entries, link) must lie inside the file. */
static int check_dir_extent(fsci_tiff_reader *r, int64_t page)
{
    bool big = TIFFIsBigTIFF(r->tif) != 0;
    uint64_t off = TIFFCurrentDirOffset(r->tif), count = 0;
    size_t cs = big ? 8 : 2;
    unsigned char b[8];
    if (off > r->size || r->size - off < cs || pread(r->fd, b, cs, (off_t)off) != (ssize_t)cs)
        return TERR(FSCI_EFORMAT, r->path, page,
                    "directory at offset %llu lies past the end of the file (%llu bytes)",
                    (unsigned long long)off, (unsigned long long)r->size);
    bool le = !TIFFIsBigEndian(r->tif); /* the file's byte order */
    for (size_t k = 0; k < cs; k++) count |= (uint64_t)b[le ? k : cs - 1 - k] << (8 * k);
    uint64_t entry = big ? 20 : 12, link = big ? 8 : 4, room = r->size - off - cs;
    if (count > room / entry || room - count * entry < link)
        return TERR(
            FSCI_EFORMAT, r->path, page,
            "directory at offset %llu (%llu entries) ends past the end of the file (%llu bytes): truncated",
            (unsigned long long)off, (unsigned long long)count, (unsigned long long)r->size);
    return FSCI_OK;
}

/* Make page `page` libtiff's current directory. TIFFSetDirectory walks the
 * chain from the first page (in libtiff 4.5.0: reading a stack page by page
 * would take quadratic time), so the next page is read in sequence and any
 * other one straight from the offset recorded at open. */
static int goto_page(fsci_tiff_reader *r, int64_t page, layout *L)
{
    msgs_reset(&r->msgs);
    if (r->cur != page) {
        int64_t from = r->cur;
        r->cur = -1;
        int ok = from >= 0 && page == from + 1 ? TIFFReadDirectory(r->tif)
                                               : TIFFSetSubDirectory(r->tif, r->offs[page]);
        if (ok != 1 || TIFFCurrentDirOffset(r->tif) != r->offs[page])
            return lib_fail(r, page, FSCI_EFORMAT, "cannot read the directory");
        r->cur = page;
    }
    int st = page_layout(r, page, L);
    if (st < 0) return st;
    /* the file has not changed under us since open, or it is refused */
    const fsci_tiff_info *I = &r->info;
    if (L->h != I->h || L->w != I->w || L->dtype != I->dtype)
        return TERR(FSCI_EFORMAT, r->path, page, "now %lld x %lld %s, was %lld x %lld %s at open",
                    (long long)L->h, (long long)L->w, fsci_dtype_name(L->dtype), (long long)I->h,
                    (long long)I->w, fsci_dtype_name(I->dtype));
    return FSCI_OK;
}

void fsci_tiff_close(fsci_tiff_reader **rp)
{
    if (!rp || !*rp) return;
    fsci_tiff_reader *r = *rp;
    if (r->tif) TIFFClose(r->tif);
    if (r->fd >= 0) close(r->fd);
    fsci_free(r->offs);
    fsci_free(r->path);
    fsci_free(r);
    *rp = NULL;
}

int fsci_tiff_open(const char *path, fsci_tiff_reader **out)
{
    int st = FSCI_OK;
    fsci_tiff_reader *r = NULL;
    TIFFOpenOptions *opts = NULL;
    FSCI_CHECK(out, FSCI_EINVAL, "tiff: NULL output pointer");
    *out = NULL;
    FSCI_CHECK(path && path[0], FSCI_EINVAL, "tiff: NULL or empty path");
    r = fsci_calloc(1, sizeof *r);
    FSCI_CHECK(r, FSCI_ENOMEM, "%s: out of memory", path);
    r->fd = -1;
    r->cur = -1;
    size_t n = strlen(path);
    r->path = fsci_malloc(n + 1, 1);
    FSCI_CHECK_GOTO(r->path, FSCI_ENOMEM, "%s: out of memory", path);
    memcpy(r->path, path, n + 1);
    r->msgs.path = r->path;
    FSCI_TRY(fsci__input_open(path, &r->fd, &r->size));
    /* libtiff needs no single buffer larger than the file (raw strips) or a
     * decoded strip (float predictor); the cap stops absurd claims early. */
    uint64_t cap = r->size + ((uint64_t)1 << 30);
    opts = make_options(&r->msgs, cap > (uint64_t)INT64_MAX ? 0 : (tmsize_t)cap);
    FSCI_CHECK_GOTO(opts, FSCI_ENOMEM, "%s: out of memory", path);
    /* "m": no memory mapping (a file truncated while mapped would raise SIGBUS). */
    r->tif = TIFFClientOpenExt(path, "rm", (thandle_t)r, rd_read, rd_write, rd_seek, rd_close, rd_size,
                               no_map, no_unmap, opts);
    TIFFOpenOptionsFree(opts);
    opts = NULL;
    if (!r->tif) {
        st = lib_fail(r, -1, FSCI_EFORMAT, "not a readable TIFF file");
        goto fail;
    }
    r->cur = 0;
    for (int64_t page = 0;; page++) {
        layout L;
        if (page == r->ncap) {
            int64_t grown = r->ncap ? 2 * r->ncap : 64;
            uint64_t *o = fsci_malloc((size_t)grown, sizeof *o);
            FSCI_CHECK_GOTO(o, FSCI_ENOMEM, "%s: out of memory for %lld directory offsets", path,
                            (long long)grown);
            if (page) memcpy(o, r->offs, (size_t)page * sizeof *o);
            fsci_free(r->offs);
            r->offs = o;
            r->ncap = grown;
        }
        r->offs[page] = TIFFCurrentDirOffset(r->tif);
        FSCI_TRY(check_dir_extent(r, page));
        FSCI_TRY(page_layout(r, page, &L));
        if (page == 0) {
            r->info.h = L.h;
            r->info.w = L.w;
            r->info.dtype = L.dtype;
            r->info.compression = L.comp;
        } else if (L.h != r->info.h || L.w != r->info.w) {
            st = TERR(FSCI_ENOTSUP, r->path, page,
                      "ImageLength x ImageWidth = %lld x %lld (page 0 has %lld x %lld)", (long long)L.h,
                      (long long)L.w, (long long)r->info.h, (long long)r->info.w);
            goto fail;
        } else if (L.dtype != r->info.dtype) {
            st = TERR(FSCI_ENOTSUP, r->path, page, "dtype %s (page 0 has %s)", fsci_dtype_name(L.dtype),
                      fsci_dtype_name(r->info.dtype));
            goto fail;
        }
        r->info.pages = page + 1;
        msgs_reset(&r->msgs);
        if (TIFFLastDirectory(r->tif)) break;
        if (TIFFReadDirectory(r->tif) != 1) {
            st = lib_fail(r, page + 1, FSCI_EFORMAT, "cannot read the directory");
            goto fail;
        }
        r->cur = page + 1;
    }
    *out = r;
    return FSCI_OK;
fail:
    if (opts) TIFFOpenOptionsFree(opts);
    fsci_tiff_close(&r);
    return st;
}

const fsci_tiff_info *fsci_tiff_reader_info(const fsci_tiff_reader *r)
{
    return r ? &r->info : NULL;
}

static int read_strips(fsci_tiff_reader *r, int64_t page, const layout *L, unsigned char *dst)
{
    size_t row = (size_t)L->w * L->es;
    for (uint32_t s = 0; s < L->nstriles; s++) {
        int64_t y0 = (int64_t)s * L->rps;
        int64_t rows = L->h - y0 < L->rps ? L->h - y0 : L->rps;
        tmsize_t want = (tmsize_t)((size_t)rows * row);
        tmsize_t got = TIFFReadEncodedStrip(r->tif, s, dst + (size_t)y0 * row, want);
        if (got != want) {
            if (got < 0 || r->io_err || r->msgs.nerr)
                return lib_fail(r, page, FSCI_EFORMAT, "cannot decode a strip");
            return TERR(FSCI_EFORMAT, r->path, page, "strip %u decodes to %lld bytes instead of %lld", s,
                        (long long)got, (long long)want);
        }
    }
    return FSCI_OK;
}

static int read_tiles(fsci_tiff_reader *r, int64_t page, const layout *L, unsigned char *dst)
{
    size_t tbytes = (size_t)L->tw * (size_t)L->th * L->es, row = (size_t)L->w * L->es;
    unsigned char *buf = fsci_malloc(tbytes, 1);
    if (!buf)
        return TERR(FSCI_ENOMEM, r->path, page, "out of memory for a %lld x %lld tile", (long long)L->tw,
                    (long long)L->th);
    int st = FSCI_OK;
    for (int64_t y = 0; y < L->h; y += L->th)
        for (int64_t x = 0; x < L->w; x += L->tw) {
            uint32_t t = TIFFComputeTile(r->tif, (uint32_t)x, (uint32_t)y, 0, 0);
            tmsize_t got = TIFFReadEncodedTile(r->tif, t, buf, (tmsize_t)tbytes);
            if (got != (tmsize_t)tbytes) {
                if (got < 0 || r->io_err || r->msgs.nerr)
                    st = lib_fail(r, page, FSCI_EFORMAT, "cannot decode a tile");
                else
                    st = TERR(FSCI_EFORMAT, r->path, page, "tile %u decodes to %lld bytes instead of %zu", t,
                              (long long)got, tbytes);
                goto done;
            }
            int64_t rows = L->h - y < L->th ? L->h - y : L->th, cols = L->w - x < L->tw ? L->w - x : L->tw;
            for (int64_t k = 0; k < rows; k++)
                memcpy(dst + (size_t)(y + k) * row + (size_t)x * L->es,
                       buf + (size_t)k * (size_t)L->tw * L->es, (size_t)cols * L->es);
        }
done:
    fsci_free(buf);
    return st;
}

int fsci_tiff_read_page(fsci_tiff_reader *r, int64_t page, void *dst)
{
    FSCI_CHECK(r && dst, FSCI_EINVAL, "tiff read: NULL reader or destination");
    if (page < 0 || page >= r->info.pages)
        return TERR(FSCI_EINVAL, r->path, -1, "page %lld out of range (%lld pages)", (long long)page,
                    (long long)r->info.pages);
    layout L;
    int st = goto_page(r, page, &L);
    if (st < 0) return st;
    return L.tiled ? read_tiles(r, page, &L, dst) : read_strips(r, page, &L, dst);
}

int fsci_tiff_read(const char *path, fsci_array **out)
{
    int st = FSCI_OK;
    fsci_tiff_reader *r = NULL;
    fsci_array *a = NULL;
    FSCI_CHECK(out, FSCI_EINVAL, "tiff read: NULL output pointer");
    *out = NULL;
    FSCI_TRY(fsci_tiff_open(path, &r));
    const fsci_tiff_info *I = &r->info;
    int64_t shape[3] = {I->pages, I->h, I->w};
    st = fsci_array_alloc(I->dtype, 3, shape, false, &a);
    if (st < 0) {
        st = TERR(st, path, -1, "cannot allocate a %lld x %lld x %lld %s array: %s", (long long)I->pages,
                  (long long)I->h, (long long)I->w, fsci_dtype_name(I->dtype), fsci_error_message());
        goto fail;
    }
    size_t page_bytes = (size_t)I->h * (size_t)I->w * fsci_dtype_size(I->dtype);
    for (int64_t p = 0; p < I->pages; p++)
        FSCI_TRY(fsci_tiff_read_page(r, p, (unsigned char *)a->view.data + (size_t)p * page_bytes));
    fsci_tiff_close(&r);
    *out = a;
    return FSCI_OK;
fail:
    fsci_array_destroy(&a);
    fsci_tiff_close(&r);
    return st;
}

/* ==== writing ======================================================================== */

struct fsci_tiff_writer {
    fsci_atomic *a;
    TIFF *tif;
    int rfd;                 /* the temporary file, read-only, for libtiff's read-backs */
    uint64_t pos, fpos, end; /* libtiff's position, the stream's, the end of data */
    int io_st;               /* first failure of the stream (FSCI_EIO), 0 if none */
    bool discard;            /* aborting: ignore libtiff's last flushes */
    int failed;              /* first failure of any kind: the writer is poisoned */
    char fail_msg[768];      /* its message */
    int64_t h, w, pages, rps;
    fsci_dtype dtype;
    fsci_tiff_compression comp;
    unsigned char *sbuf; /* one strip */
    tmsgs msgs;
};

/* Remember the message just recorded on this thread as the writer's first failure. */
static int poison(fsci_tiff_writer *tw, int st)
{
    if (st < 0 && !tw->failed) {
        tw->failed = st;
        snprintf(tw->fail_msg, sizeof tw->fail_msg, "%s", fsci_error_message());
    }
    return st;
}

static void io_fail(fsci_tiff_writer *tw, int st)
{
    if (!tw->io_st) tw->io_st = st;
    poison(tw, st);
}

static tmsize_t wr_write(thandle_t h, void *buf, tmsize_t n)
{
    fsci_tiff_writer *tw = (fsci_tiff_writer *)h;
    if (tw->discard || tw->io_st || n < 0) return -1;
    int st = FSCI_OK;
    if (tw->fpos != tw->pos) st = fsci_atomic_seek(tw->a, tw->pos);
    if (st == FSCI_OK) {
        tw->fpos = tw->pos;
        st = fsci_atomic_write(tw->a, buf, (size_t)n);
    }
    if (st < 0) {
        io_fail(tw, st);
        return -1;
    }
    tw->pos += (uint64_t)n;
    tw->fpos = tw->pos;
    if (tw->pos > tw->end) tw->end = tw->pos;
    return n;
}

/* libtiff reads back what it wrote (to link a directory to the previous
 * one): flush the stream, then read the file through a second descriptor. */
static tmsize_t wr_read(thandle_t h, void *buf, tmsize_t n)
{
    fsci_tiff_writer *tw = (fsci_tiff_writer *)h;
    if (tw->discard || tw->io_st || n < 0) return -1;
    int st = fsci_atomic_seek(tw->a, tw->fpos); /* writes out the buffer */
    if (st < 0) {
        io_fail(tw, st);
        return -1;
    }
    size_t done = 0;
    while (done < (size_t)n) {
        ssize_t k = pread(tw->rfd, (char *)buf + done, (size_t)n - done, (off_t)(tw->pos + done));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        done += (size_t)k;
    }
    tw->pos += done;
    return (tmsize_t)done;
}

static toff_t wr_seek(thandle_t h, toff_t off, int whence)
{
    fsci_tiff_writer *tw = (fsci_tiff_writer *)h;
    uint64_t p;
    switch (whence) {
    case SEEK_SET: p = off; break;
    case SEEK_CUR: p = tw->pos + off; break;
    case SEEK_END: p = tw->end + off; break;
    default: return (toff_t)-1;
    }
    if (p > (uint64_t)INT64_MAX) return (toff_t)-1;
    tw->pos = p;
    return p;
}

static toff_t wr_size(thandle_t h)
{
    return ((fsci_tiff_writer *)h)->end;
}

void fsci_tiff_writer_abort(fsci_tiff_writer **twp)
{
    if (!twp || !*twp) return;
    fsci_tiff_writer *tw = *twp;
    tw->discard = true;
    if (tw->tif) TIFFClose(tw->tif);
    if (tw->rfd >= 0) close(tw->rfd);
    fsci_atomic_abort(&tw->a);
    fsci_free(tw->sbuf);
    fsci_free(tw);
    *twp = NULL;
}

static int writer_open(const char *path, int64_t h, int64_t w, fsci_dtype dtype, fsci_tiff_compression c,
                       bool big, fsci_tiff_writer **out)
{
    int st = FSCI_OK;
    fsci_tiff_writer *tw = NULL;
    TIFFOpenOptions *opts = NULL;
    char eb[128];
    FSCI_CHECK(out, FSCI_EINVAL, "tiff writer: NULL output pointer");
    *out = NULL;
    FSCI_CHECK(path && path[0], FSCI_EINVAL, "tiff writer: NULL or empty path");
    FSCI_CHECK(dtype_ok(dtype), FSCI_EINVAL,
               "%s: dtype %s cannot be written as TIFF (uint8, uint16 or float32)", path,
               fsci_dtype_name(dtype));
    FSCI_CHECK(h >= 1 && w >= 1 && h <= (int64_t)UINT32_MAX && w <= (int64_t)UINT32_MAX, FSCI_EINVAL,
               "%s: page size %lld x %lld outside [1, 4294967295]", path, (long long)h, (long long)w);
    FSCI_CHECK(c == FSCI_TIFF_NONE || c == FSCI_TIFF_LZW || c == FSCI_TIFF_DEFLATE, FSCI_EINVAL,
               "%s: unknown compression %d", path, (int)c);
    tw = fsci_calloc(1, sizeof *tw);
    FSCI_CHECK(tw, FSCI_ENOMEM, "%s: out of memory", path);
    tw->rfd = -1;
    tw->h = h;
    tw->w = w;
    tw->dtype = dtype;
    tw->comp = c;
    size_t row = (size_t)w * fsci_dtype_size(dtype);
    tw->rps = row >= STRIP_BYTES ? 1 : (int64_t)(STRIP_BYTES / row);
    if (tw->rps > h) tw->rps = h;
    tw->sbuf = fsci_malloc((size_t)tw->rps, row);
    FSCI_CHECK_GOTO(tw->sbuf, FSCI_ENOMEM, "%s: out of memory for a strip of %lld rows of %zu bytes", path,
                    (long long)tw->rps, row);
    FSCI_TRY(fsci_atomic_open(path, FSCI_ATOMIC_REGULAR_ONLY, &tw->a));
    const char *tmp = fsci_atomic_temp_path(tw->a);
    FSCI_CHECK_GOTO(tmp, FSCI_EINTERNAL, "%s: no temporary file", path);
    do {
        tw->rfd = open(tmp, O_RDONLY | O_CLOEXEC);
    } while (tw->rfd < 0 && errno == EINTR);
    FSCI_CHECK_GOTO(tw->rfd >= 0, FSCI_EIO, "%s: cannot open the temporary file %s: %s", path, tmp,
                    fsci__errstr(errno, eb, sizeof eb));
    tw->msgs.path = path;
    opts = make_options(&tw->msgs, 0);
    FSCI_CHECK_GOTO(opts, FSCI_ENOMEM, "%s: out of memory", path);
    tw->tif = TIFFClientOpenExt(path, big ? "w8m" : "wm", (thandle_t)tw, wr_read, wr_write, wr_seek, rd_close,
                                wr_size, no_map, no_unmap, opts);
    TIFFOpenOptionsFree(opts);
    opts = NULL;
    if (!tw->tif) {
        if (tw->io_st) {
            st = tw->io_st; /* the atomic writer's message stands */
            goto fail;
        }
        FSCI_CHECK_GOTO(0, FSCI_EIO, "%s: libtiff cannot start the file: %s", path, msgs_text(&tw->msgs));
    }
    *out = tw;
    return FSCI_OK;
fail:
    if (opts) TIFFOpenOptionsFree(opts);
    fsci_tiff_writer_abort(&tw);
    return st;
}

int fsci_tiff_writer_open(const char *path, int64_t h, int64_t w, fsci_dtype dtype, fsci_tiff_compression c,
                          fsci_tiff_writer **out)
{
    return writer_open(path, h, w, dtype, c, false, out);
}

/* A failure while libtiff was writing page `page`: the stream's own message,
 * the classic-TIFF size limit, or libtiff's message. */
static int write_fail(fsci_tiff_writer *tw, int64_t page, const char *what)
{
    const char *path = fsci_atomic_path(tw->a);
    if (tw->io_st) {
        fsci_error_set(tw->io_st, __FILE__, __LINE__, __func__, "%s", tw->fail_msg);
        return tw->io_st;
    }
    if (tw->msgs.nerr && strstr(tw->msgs.first, "Maximum TIFF file size exceeded"))
        return poison(tw, TERR(FSCI_ERANGE, path, page,
                               "the file would pass 4 GiB, the limit of classic TIFF (fsci_tiff_write "
                               "chooses BigTIFF for large stacks)"));
    return poison(tw, TERR(FSCI_EIO, path, page, "%s: %s", what, msgs_text(&tw->msgs)));
}

/* Gather rows [y0, y0 + rows) of a 2-D view (any strides) into dst. */
static void gather_rows(unsigned char *dst, const unsigned char *base, int64_t s0, int64_t s1, int64_t y0,
                        int64_t rows, int64_t w, size_t es)
{
    for (int64_t y = 0; y < rows; y++) {
        const unsigned char *src = base + (y0 + y) * s0;
        unsigned char *d = dst + (size_t)y * (size_t)w * es;
        if (s1 == (int64_t)es)
            memcpy(d, src, (size_t)w * es);
        else
            for (int64_t x = 0; x < w; x++) memcpy(d + (size_t)x * es, src + x * s1, es);
    }
}

/* Append one page whose element (y, x) is at base + y*s0 + x*s1. */
static int write_page_strided(fsci_tiff_writer *tw, const unsigned char *base, int64_t s0, int64_t s1)
{
    if (tw->failed) {
        fsci_error_set(tw->failed, __FILE__, __LINE__, __func__, "%s", tw->fail_msg);
        return tw->failed;
    }
    TIFF *tif = tw->tif;
    int64_t page = tw->pages;
    msgs_reset(&tw->msgs);
    size_t es = fsci_dtype_size(tw->dtype), row = (size_t)tw->w * es;
    unsigned comp = tw->comp == FSCI_TIFF_LZW       ? COMPRESSION_LZW
                    : tw->comp == FSCI_TIFF_DEFLATE ? COMPRESSION_ADOBE_DEFLATE
                                                    : COMPRESSION_NONE;
    int ok = TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, (uint32_t)tw->w) == 1 &&
             TIFFSetField(tif, TIFFTAG_IMAGELENGTH, (uint32_t)tw->h) == 1 &&
             TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, (int)(8 * es)) == 1 &&
             TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1) == 1 &&
             TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT,
                          tw->dtype == FSCI_F32 ? SAMPLEFORMAT_IEEEFP : SAMPLEFORMAT_UINT) == 1 &&
             TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK) == 1 &&
             TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG) == 1 &&
             TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, (uint32_t)tw->rps) == 1 &&
             TIFFSetField(tif, TIFFTAG_COMPRESSION, (int)comp) == 1;
    /* Horizontal differencing for integers (2-4x smaller microscopy data).
     * Floats go without: the floating-point predictor is not read by every
     * TIFF reader (ImageJ 1.x among them). */
    if (ok && comp != COMPRESSION_NONE && tw->dtype != FSCI_F32)
        ok = TIFFSetField(tif, TIFFTAG_PREDICTOR, PREDICTOR_HORIZONTAL) == 1;
    /* Deflate level 1 (libdeflate's fastest): on noisy 16-bit images about 6x
     * faster than the default 6 for files ~2 % larger. */
    if (ok && comp == COMPRESSION_ADOBE_DEFLATE) ok = TIFFSetField(tif, TIFFTAG_ZIPQUALITY, 1) == 1;
    if (!ok) return write_fail(tw, page, "cannot set the tags");
    uint32_t nstrips = (uint32_t)((tw->h + tw->rps - 1) / tw->rps);
    for (uint32_t s = 0; s < nstrips; s++) {
        int64_t y0 = (int64_t)s * tw->rps, rows = tw->h - y0 < tw->rps ? tw->h - y0 : tw->rps;
        gather_rows(tw->sbuf, base, s0, s1, y0, rows, tw->w, es);
        if (TIFFWriteEncodedStrip(tif, s, tw->sbuf, (tmsize_t)((size_t)rows * row)) < 0)
            return write_fail(tw, page, "cannot write a strip");
    }
    if (TIFFWriteDirectory(tif) != 1) return write_fail(tw, page, "cannot write the directory");
    if (tw->io_st) return write_fail(tw, page, "cannot write");
    tw->pages++;
    return FSCI_OK;
}

int fsci_tiff_write_page(fsci_tiff_writer *tw, const void *src)
{
    FSCI_CHECK(tw && src, FSCI_EINVAL, "tiff write: NULL writer or page");
    size_t es = fsci_dtype_size(tw->dtype);
    return write_page_strided(tw, src, tw->w * (int64_t)es, (int64_t)es);
}

int fsci_tiff_writer_commit(fsci_tiff_writer **twp)
{
    int st = FSCI_OK;
    FSCI_CHECK(twp && *twp, FSCI_EINVAL, "tiff commit: NULL writer");
    fsci_tiff_writer *tw = *twp;
    const char *path = fsci_atomic_path(tw->a);
    if (tw->failed) {
        st = fsci_error_set(tw->failed, __FILE__, __LINE__, __func__, "%s", tw->fail_msg);
        goto fail;
    }
    if (tw->pages == 0) {
        st = TERR(FSCI_EINVAL, path, -1, "not written: no page was added");
        goto fail;
    }
    msgs_reset(&tw->msgs);
    if (TIFFFlush(tw->tif) != 1) {
        st = write_fail(tw, -1, "cannot finish the file");
        goto fail;
    }
    TIFFClose(tw->tif);
    tw->tif = NULL;
    if (tw->io_st) {
        st = write_fail(tw, -1, "cannot finish the file");
        goto fail;
    }
    close(tw->rfd);
    tw->rfd = -1;
    st = fsci_atomic_commit(&tw->a);
    if (st < 0) goto fail;
    fsci_free(tw->sbuf);
    fsci_free(tw);
    *twp = NULL;
    return FSCI_OK;
fail:
    fsci_tiff_writer_abort(twp);
    return st;
}

int fsci_tiff_write(const char *path, const fsci_view *v, fsci_tiff_compression c)
{
    int st = FSCI_OK;
    fsci_tiff_writer *tw = NULL;
    FSCI_CHECK(path && path[0], FSCI_EINVAL, "tiff write: NULL or empty path");
    FSCI_CHECK(v && v->data, FSCI_EINVAL, "%s: NULL view or data", path);
    FSCI_CHECK(v->ndim == 2 || v->ndim == 3, FSCI_EINVAL,
               "%s: a TIFF stack needs a 2-D (h, w) or 3-D (pages, h, w) "
               "view, not ndim %d",
               path, v->ndim);
    FSCI_CHECK(dtype_ok(v->dtype), FSCI_EINVAL,
               "%s: dtype %s cannot be written as TIFF (uint8, uint16 or float32)", path,
               fsci_dtype_name(v->dtype));
    int d0 = v->ndim - 2;
    int64_t pages = v->ndim == 3 ? v->shape[0] : 1, h = v->shape[d0], w = v->shape[d0 + 1];
    FSCI_CHECK(pages >= 1 && h >= 1 && w >= 1, FSCI_EINVAL,
               "%s: cannot write an empty stack (%lld pages of %lld x %lld)", path, (long long)pages,
               (long long)h, (long long)w);
    /* BigTIFF when the file may pass 4 GiB: data (LZW can grow incompressible
     * data by half), two 8-byte entries per strip and ~200 bytes of tags per page. */
    size_t es = fsci_dtype_size(v->dtype);
    double raw = (double)pages * (double)h * (double)w * (double)es;
    double grow = c == FSCI_TIFF_LZW ? 1.5 : c == FSCI_TIFF_DEFLATE ? 1.01 : 1.0;
    double est = raw * grow + (double)pages * (256.0 + 16.0 * (double)h) + 4096.0;
    bool big = est >= g_bigtiff_from;
    FSCI_TRY(writer_open(path, h, w, v->dtype, c, big, &tw));
    int64_t sp = v->ndim == 3 ? v->strides[0] : 0;
    for (int64_t p = 0; p < pages; p++)
        FSCI_TRY(write_page_strided(tw, (const unsigned char *)v->data + p * sp, v->strides[d0],
                                    v->strides[d0 + 1]));
    return fsci_tiff_writer_commit(&tw);
fail:
    fsci_tiff_writer_abort(&tw);
    return st;
}
