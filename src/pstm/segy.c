/* pstm: SEG-Y input through Debian's libsegyio (doc/io.md, "SEG-Y").
 *
 * segyio reads the headers and the samples (byte order handled by its SEGY_LSB
 * option) and converts IBM and IEEE floats to native; the integer sample
 * formats are widened here. What segyio does not check is checked here: a
 * regular file, a known format code, ns and dt, and a size that is exactly the
 * headers plus a whole number of traces. Trace headers are read in one pass,
 * one segy_traceheader call per trace: segy_field_forall (one call per field)
 * would make a pass per field and, in segyio 1.8.3, returns 2-byte fields of
 * little-endian files unswapped. Samples are read on demand. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <segyio/segy.h>

#include "core/io/io_impl.h"
#include "fastsci/core/alloc.h"
#include "fastsci/core/error.h"
#include "pstm/pstm_impl.h"

struct fsci__segy {
    segy_file *fp;
    char *path;
    fsci__segy_geom g;
    long trace0;         /* byte offset of trace 0's header */
    int bsize;           /* bytes of samples per trace */
    int esize;           /* bytes per sample */
    unsigned char *wide; /* one trace of raw samples for the 1- and 2-byte formats */
};

enum { SEGY_HDR = 3600, SEGY_TRH = 240 };

/* Bytes per sample of the format codes supported, 0 for the others. */
static int format_esize(int fmt)
{
    switch (fmt) {
    case SEGY_IBM_FLOAT_4_BYTE:
    case SEGY_SIGNED_INTEGER_4_BYTE:
    case SEGY_IEEE_FLOAT_4_BYTE: return 4;
    case SEGY_SIGNED_SHORT_2_BYTE: return 2;
    case SEGY_SIGNED_CHAR_1_BYTE: return 1;
    default: return 0;
    }
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = fsci_malloc(n, 1);
    if (d) memcpy(d, s, n);
    return d;
}

/* A coordinate with the SEG-Y scalar rule: > 0 multiplies, < 0 divides by
 * |s|, 0 leaves the value as it is. */
static double scaled(int32_t v, int32_t s)
{
    if (s > 0) return (double)v * (double)s;
    if (s < 0) return (double)v / -(double)s;
    return (double)v;
}

static int32_t field(const char *th, int f)
{
    int32_t v = 0;
    (void)segy_get_field(th, f, &v); /* f is always a valid field here */
    return v;
}

/* The binary header's format code: as stored (big-endian) or byte-swapped
 * (a little-endian file). Sets f->g.format, f->g.lsb, f->esize. */
static int detect_format(fsci__segy *f, const char *bin)
{
    int32_t v = 0;
    (void)segy_get_bfield(bin, SEGY_BIN_FORMAT, &v);
    uint16_t be = (uint16_t)v, le = (uint16_t)((be >> 8) | (be << 8));
    if (format_esize(be)) {
        f->g.format = be;
    } else if (format_esize(le)) {
        f->g.format = le;
        f->g.lsb = true;
    } else {
        FSCI_CHECK(0, FSCI_ENOTSUP,
                   "%s: binary header format code (bytes 3225-3226) %u (byte-swapped %u) not supported: "
                   "1 IBM float, 2 int32, 3 int16, 5 IEEE float, 8 int8",
                   f->path, (unsigned)be, (unsigned)le);
    }
    f->esize = format_esize(f->g.format);
    return FSCI_OK;
}

/* Binary header and file size: format, ns, the binary dt (0: taken from
 * trace 0 later), trace0, ntr. */
static int read_binary(fsci__segy *f, uint64_t size, int *dt_us)
{
    char bin[SEGY_BINARY_HEADER_SIZE];
    FSCI_CHECK(size >= SEGY_HDR, FSCI_EFORMAT,
               "%s: %" PRIu64
               " bytes, shorter than the 3600-byte SEG-Y file header (textual 3200 + binary 400)",
               f->path, size);
    FSCI_CHECK(segy_binheader(f->fp, bin) == SEGY_OK, FSCI_EIO, "%s: cannot read the binary header", f->path);
    int st = detect_format(f, bin);
    if (st) return st;
    /* From here segyio hands every header and sample over in big-endian order. */
    FSCI_CHECK(segy_set_format(f->fp, f->g.format | (f->g.lsb ? SEGY_LSB : SEGY_MSB)) == SEGY_OK,
               FSCI_EINTERNAL, "%s: segy_set_format(%d) failed", f->path, f->g.format);
    FSCI_CHECK(segy_binheader(f->fp, bin) == SEGY_OK, FSCI_EIO, "%s: cannot read the binary header", f->path);

    int32_t v = 0;
    (void)segy_get_bfield(bin, SEGY_BIN_SAMPLES, &v);
    int ns = (uint16_t)v; /* unsigned 16 bits: segyio 1.8.3 reads it signed */
    FSCI_CHECK(ns > 0 && ns <= 1000000, FSCI_EFORMAT,
               "%s: binary header samples per trace (bytes 3221-3222) is %d, must be in [1, 1000000]",
               f->path, ns);
    (void)segy_get_bfield(bin, SEGY_BIN_INTERVAL, &v);
    *dt_us = (uint16_t)v; /* microseconds, unsigned 16 bits */
    (void)segy_get_bfield(bin, SEGY_BIN_EXT_HEADERS, &v);
    FSCI_CHECK(v >= 0, FSCI_ENOTSUP,
               "%s: binary header extended textual headers (bytes 3505-3506) is %d: a variable number "
               "of extended headers is not supported",
               f->path, (int)v);

    f->g.ns = ns;
    f->trace0 = segy_trace0(bin);
    f->bsize = ns * f->esize;
    int64_t trbytes = SEGY_TRH + (int64_t)f->bsize;
    FSCI_CHECK(size >= (uint64_t)f->trace0, FSCI_EFORMAT,
               "%s: %" PRIu64
               " bytes, shorter than its headers (3600 bytes + %d extended textual headers = %ld)",
               f->path, size, (int)v, f->trace0);
    uint64_t data = size - (uint64_t)f->trace0;
    int64_t ntr = (int64_t)(data / (uint64_t)trbytes), rem = (int64_t)(data % (uint64_t)trbytes);
    FSCI_CHECK(rem == 0, FSCI_EFORMAT,
               "%s: truncated: trace %" PRId64 " has %" PRId64 " of its %" PRId64
               " bytes (240-byte header + %d samples of format %d); the file has %" PRIu64
               " bytes, a whole number of traces would be %" PRIu64,
               f->path, ntr, rem, trbytes, ns, f->g.format, size,
               (uint64_t)f->trace0 + (uint64_t)ntr * trbytes);
    FSCI_CHECK(ntr > 0, FSCI_EFORMAT, "%s: no traces after the %ld header bytes", f->path, f->trace0);
    FSCI_CHECK(ntr <= INT_MAX, FSCI_ENOTSUP, "%s: %" PRId64 " traces, more than segyio's limit %d", f->path,
               ntr, INT_MAX);
    f->g.ntr = ntr;
    return FSCI_OK;
}

static int alloc_geom(fsci__segy_geom *g)
{
    size_t n = (size_t)g->ntr;
    double **d[] = {&g->sx, &g->sy, &g->gx, &g->gy, &g->cdpx, &g->cdpy};
    for (size_t k = 0; k < sizeof d / sizeof d[0]; k++) {
        *d[k] = fsci_malloc(n, sizeof(double));
        FSCI_CHECK(*d[k], FSCI_ENOMEM, "segy: out of memory for %zu trace coordinates", n);
    }
    g->offset = fsci_malloc(n, sizeof(int32_t));
    g->fldr = fsci_malloc(n, sizeof(int32_t));
    FSCI_CHECK(g->offset && g->fldr, FSCI_ENOMEM, "segy: out of memory for %zu trace headers", n);
    return FSCI_OK;
}

/* Every trace header, in one pass: coordinates with their scalar, offset,
 * field record; t0 from trace 0 (the same for every trace); dt from trace 0
 * when the binary header has none. */
static int read_trace_headers(fsci__segy *f, int dt_us)
{
    fsci__segy_geom *g = &f->g;
    char th[SEGY_TRACE_HEADER_SIZE];
    int32_t delrt0 = 0;
    for (int64_t i = 0; i < g->ntr; i++) {
        FSCI_CHECK(segy_traceheader(f->fp, (int)i, th, f->trace0, f->bsize) == SEGY_OK, FSCI_EIO,
                   "%s: cannot read the header of trace %" PRId64, f->path, i);
        int32_t s = field(th, SEGY_TR_SOURCE_GROUP_SCALAR);
        g->sx[i] = scaled(field(th, SEGY_TR_SOURCE_X), s);
        g->sy[i] = scaled(field(th, SEGY_TR_SOURCE_Y), s);
        g->gx[i] = scaled(field(th, SEGY_TR_GROUP_X), s);
        g->gy[i] = scaled(field(th, SEGY_TR_GROUP_Y), s);
        g->cdpx[i] = scaled(field(th, SEGY_TR_CDP_X), s);
        g->cdpy[i] = scaled(field(th, SEGY_TR_CDP_Y), s);
        g->offset[i] = field(th, SEGY_TR_OFFSET);
        g->fldr[i] = field(th, SEGY_TR_FIELD_RECORD);
        int32_t delrt = field(th, SEGY_TR_DELAY_REC_TIME);
        if (i == 0) {
            delrt0 = delrt;
            if (dt_us == 0) dt_us = (uint16_t)field(th, SEGY_TR_SAMPLE_INTER);
            FSCI_CHECK(dt_us > 0, FSCI_EFORMAT,
                       "%s: sample interval is 0 in the binary header (bytes 3217-3218) and in trace 0's "
                       "header (bytes 117-118)",
                       f->path);
        }
        FSCI_CHECK(delrt == delrt0, FSCI_ENOTSUP,
                   "%s: trace %" PRId64 ": delay recording time (bytes 109-110) %d ms differs from trace 0's "
                   "%d ms (one start time per file is supported)",
                   f->path, i, (int)delrt, (int)delrt0);
    }
    g->dt = dt_us * 1e-6;
    g->t0 = delrt0 * 1e-3;
    return FSCI_OK;
}

static void free_geom(fsci__segy_geom *g)
{
    fsci_free(g->sx);
    fsci_free(g->sy);
    fsci_free(g->gx);
    fsci_free(g->gy);
    fsci_free(g->cdpx);
    fsci_free(g->cdpy);
    fsci_free(g->offset);
    fsci_free(g->fldr);
}

int fsci__segy_open(const char *path, fsci__segy **out)
{
    int st = FSCI_OK;
    fsci__segy *f = NULL;
    int fd = -1;
    uint64_t size = 0;
    char eb[128];
    FSCI_CHECK(out, FSCI_EINVAL, "segy: NULL output pointer");
    *out = NULL;
    /* segyio opens with fopen, which would block on a FIFO: refuse anything
     * but a regular file first, without blocking. */
    FSCI_TRY(fsci__input_open(path, &fd, &size));
    close(fd);

    f = fsci_calloc(1, sizeof *f);
    FSCI_CHECK_GOTO(f, FSCI_ENOMEM, "%s: out of memory", path);
    f->path = dup_str(path);
    FSCI_CHECK_GOTO(f->path, FSCI_ENOMEM, "%s: out of memory", path);
    errno = 0;
    f->fp = segy_open(path, "rb");
    FSCI_CHECK_GOTO(f->fp, FSCI_EIO, "%s: cannot open: %s", path,
                    errno ? fsci__errstr(errno, eb, sizeof eb) : "segy_open failed");
    int dt_us = 0;
    FSCI_TRY(read_binary(f, size, &dt_us));
    FSCI_TRY(alloc_geom(&f->g));
    FSCI_TRY(read_trace_headers(f, dt_us));
    if (f->esize < 4) {
        f->wide = fsci_malloc((size_t)f->bsize, 1);
        FSCI_CHECK_GOTO(f->wide, FSCI_ENOMEM, "%s: out of memory", path);
    }
    *out = f;
    return FSCI_OK;
fail:
    fsci__segy_close(&f);
    return st;
}

const fsci__segy_geom *fsci__segy_geometry(const fsci__segy *f)
{
    return f ? &f->g : NULL;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Trace i into out[ns] as native float; NaN and infinity are refused. */
static int read_one(fsci__segy *f, int64_t i, float *out)
{
    int ns = (int)f->g.ns;
    void *buf = f->esize == 4 ? (void *)out : (void *)f->wide;
    FSCI_CHECK(segy_readtrace(f->fp, (int)i, buf, f->trace0, f->bsize) == SEGY_OK, FSCI_EIO,
               "%s: cannot read the samples of trace %" PRId64, f->path, i);
    const unsigned char *b = buf;
    switch (f->g.format) {
    case SEGY_IBM_FLOAT_4_BYTE:
    case SEGY_IEEE_FLOAT_4_BYTE: segy_to_native(f->g.format, ns, out); break;
    case SEGY_SIGNED_INTEGER_4_BYTE:
        for (int k = 0; k < ns; k++) out[k] = (float)(int32_t)be32(b + 4 * k);
        break;
    case SEGY_SIGNED_SHORT_2_BYTE:
        for (int k = 0; k < ns; k++) out[k] = (float)(int16_t)(uint16_t)(b[2 * k] << 8 | b[2 * k + 1]);
        break;
    default:
        for (int k = 0; k < ns; k++) out[k] = (float)(int8_t)b[k];
        break;
    }
    for (int k = 0; k < ns; k++) {
        uint32_t u;
        memcpy(&u, &out[k], sizeof u);
        FSCI_CHECK((u & 0x7f800000u) != 0x7f800000u, FSCI_EFORMAT,
                   "%s: trace %" PRId64 " sample %d is %s (format %d): NaN and infinite samples are refused",
                   f->path, i, k, (u & 0x007fffffu) ? "NaN" : "infinite", f->g.format);
    }
    return FSCI_OK;
}

int fsci__segy_read(fsci__segy *f, int64_t first, int64_t n, float *out)
{
    FSCI_CHECK(f && (out || n == 0), FSCI_EINVAL, "segy: NULL file or output");
    FSCI_CHECK(first >= 0 && n >= 0 && first <= f->g.ntr - n, FSCI_EINVAL,
               "%s: traces [%" PRId64 ", %" PRId64 ") outside the file's %" PRId64, f->path, first, first + n,
               f->g.ntr);
    for (int64_t j = 0; j < n; j++) {
        int st = read_one(f, first + j, out + j * f->g.ns);
        if (st) return st;
    }
    return FSCI_OK;
}

int fsci__segy_read_list(fsci__segy *f, const int64_t *idx, int64_t n, float *out)
{
    FSCI_CHECK(f && ((idx && out) || n == 0) && n >= 0, FSCI_EINVAL, "segy: NULL file, index list or output");
    for (int64_t j = 0; j < n; j++) {
        FSCI_CHECK(idx[j] >= 0 && idx[j] < f->g.ntr, FSCI_EINVAL,
                   "%s: trace index %" PRId64 " (list entry %" PRId64 ") outside the file's %" PRId64,
                   f->path, idx[j], j, f->g.ntr);
        int st = read_one(f, idx[j], out + j * f->g.ns);
        if (st) return st;
    }
    return FSCI_OK;
}

void fsci__segy_close(fsci__segy **pf)
{
    if (!pf || !*pf) return;
    fsci__segy *f = *pf;
    if (f->fp) segy_close(f->fp);
    free_geom(&f->g);
    fsci_free(f->wide);
    fsci_free(f->path);
    fsci_free(f);
    *pf = NULL;
}
