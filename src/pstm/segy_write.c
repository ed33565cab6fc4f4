/* pstm: SEG-Y output (doc/io.md, "SEG-Y"): SEG-Y revision 1, IEEE float
 * samples (format 5), big-endian, fixed-length traces, written through the
 * atomic writer so that nothing appears until every trace is in. segyio fills
 * the header words and converts the samples to big-endian; its own writer
 * works on a FILE it opens itself, so the bytes go through fsci_atomic. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <segyio/segy.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/atomic.h"
#include "fastsci/core/error.h"
#include "pstm/pstm_impl.h"

struct fsci__segy_writer {
    fsci_atomic *a;
    int64_t ntr, ns, done;
    int dt_us;
    unsigned char *buf; /* one trace: 240-byte header + 4 ns bytes */
};

enum { TEXT_COLS = 80, TEXT_ROWS = 40, TEXT_USER_ROWS = 38 };

/* IBM code page 037 (US EBCDIC) for printable ASCII 0x20..0x7e. */
static const unsigned char cp037[95] = {
    0x40, 0x5a, 0x7f, 0x7b, 0x5b, 0x6c, 0x50, 0x7d, 0x4d, 0x5d, 0x5c, 0x4e, 0x6b, 0x60, 0x4b, 0x61,
    0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0x7a, 0x5e, 0x4c, 0x7e, 0x6e, 0x6f,
    0x7c, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6,
    0xd7, 0xd8, 0xd9, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xba, 0xe0, 0xbb, 0xb0, 0x6d,
    0x79, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96,
    0x97, 0x98, 0x99, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xc0, 0x4f, 0xd0, 0xa1,
};

/* The 3200-byte textual header: 40 cards "Cnn " + 76 characters, the
 * caller's lines (split at '\n', cut at 76 characters, at most 38 of them)
 * on cards 1..38, the revision and end marks of SEG-Y rev 1 on 39 and 40;
 * EBCDIC, with characters outside printable ASCII written as spaces. */
static void text_header(const char *text, unsigned char out[SEGY_TEXT_HEADER_SIZE])
{
    char card[TEXT_ROWS][TEXT_COLS + 1];
    const char *p = text ? text : "written by fastsci";
    for (int r = 0; r < TEXT_ROWS; r++) {
        memset(card[r], ' ', TEXT_COLS);
        card[r][TEXT_COLS] = '\0';
        char lead[8];
        snprintf(lead, sizeof lead, "C%2d ", r + 1);
        memcpy(card[r], lead, 4);
        const char *body = r == 38 ? "SEG Y REV1" : r == 39 ? "END TEXTUAL HEADER" : NULL;
        if (body) {
            memcpy(card[r] + 4, body, strlen(body));
        } else if (r < TEXT_USER_ROWS && *p) {
            size_t n = strcspn(p, "\n");
            memcpy(card[r] + 4, p, n < TEXT_COLS - 4 ? n : TEXT_COLS - 4);
            p += n + (p[n] == '\n');
        }
    }
    for (int r = 0; r < TEXT_ROWS; r++)
        for (int c = 0; c < TEXT_COLS; c++) {
            unsigned char ch = (unsigned char)card[r][c];
            out[r * TEXT_COLS + c] = ch >= 0x20 && ch < 0x7f ? cp037[ch - 0x20] : 0x40;
        }
}

static int put_bfield(const char *path, char *bin, int f, int32_t v)
{
    FSCI_CHECK(segy_set_bfield(bin, f, v) == SEGY_OK, FSCI_EINTERNAL,
               "%s: binary header field %d cannot hold %" PRId32, path, f, v);
    return FSCI_OK;
}

static int binary_header(const char *path, int64_t ns, int dt_us, char bin[SEGY_BINARY_HEADER_SIZE])
{
    memset(bin, 0, SEGY_BINARY_HEADER_SIZE);
    const struct {
        int f;
        int32_t v;
    } w[] = {
        {SEGY_BIN_TRACES, 1},
        {SEGY_BIN_INTERVAL, dt_us},
        {SEGY_BIN_INTERVAL_ORIG, dt_us},
        {SEGY_BIN_SAMPLES, (int32_t)ns},
        {SEGY_BIN_SAMPLES_ORIG, (int32_t)ns},
        {SEGY_BIN_FORMAT, SEGY_IEEE_FLOAT_4_BYTE},
        {SEGY_BIN_MEASUREMENT_SYSTEM, 1}, /* metres */
        {SEGY_BIN_SEGY_REVISION, 0x0100}, /* revision 1.0 */
        {SEGY_BIN_TRACE_FLAG, 1},         /* fixed-length traces */
        {SEGY_BIN_EXT_HEADERS, 0},
    };
    for (size_t k = 0; k < sizeof w / sizeof w[0]; k++) {
        int st = put_bfield(path, bin, w[k].f, w[k].v);
        if (st) return st;
    }
    return FSCI_OK;
}

int fsci__segy_create(const char *path, int64_t ntr, int64_t ns, double dt, const char *text,
                      fsci__segy_writer **out)
{
    int st = FSCI_OK;
    fsci__segy_writer *w = NULL;
    FSCI_CHECK(out, FSCI_EINVAL, "segy: NULL output pointer");
    *out = NULL;
    FSCI_CHECK(path && path[0], FSCI_EINVAL, "segy: NULL or empty output path");
    FSCI_CHECK(ntr >= 1 && ntr <= INT32_MAX, FSCI_EINVAL, "%s: trace count %" PRId64 " outside [1, %d]", path,
               ntr, INT32_MAX);
    /* Signed 16-bit words in SEG-Y rev 1 (segyio 1.8.3 reads them so and
     * aborts on a negative count): at most 32767. */
    FSCI_CHECK(ns >= 1 && ns <= 32767, FSCI_EINVAL,
               "%s: samples per trace %" PRId64
               " outside [1, 32767] (a signed 16-bit SEG-Y rev 1 header word)",
               path, ns);
    double us = dt * 1e6;
    FSCI_CHECK(
        isfinite(us) && us >= 0.5 && us < 32767.5, FSCI_EINVAL,
        "%s: sample interval %g s outside [1, 32767] microseconds (a signed 16-bit SEG-Y rev 1 header word)",
        path, dt);
    int dt_us = (int)lround(us);
    FSCI_CHECK(fabs(us - dt_us) <= 1e-6 * us, FSCI_EINVAL,
               "%s: sample interval %.9g s is not a whole number of microseconds", path, dt);

    w = fsci_calloc(1, sizeof *w);
    FSCI_CHECK(w, FSCI_ENOMEM, "%s: out of memory", path);
    w->ntr = ntr;
    w->ns = ns;
    w->dt_us = dt_us;
    w->buf = fsci_calloc((size_t)(SEGY_TRACE_HEADER_SIZE + 4 * ns), 1);
    FSCI_CHECK_GOTO(w->buf, FSCI_ENOMEM, "%s: out of memory", path);
    FSCI_TRY(fsci_atomic_open(path, FSCI_ATOMIC_DEFAULT, &w->a));

    unsigned char txt[SEGY_TEXT_HEADER_SIZE];
    char bin[SEGY_BINARY_HEADER_SIZE];
    text_header(text, txt);
    FSCI_TRY(binary_header(path, ns, dt_us, bin));
    FSCI_TRY(fsci_atomic_write(w->a, txt, sizeof txt));
    FSCI_TRY(fsci_atomic_write(w->a, bin, sizeof bin));
    *out = w;
    return FSCI_OK;
fail:
    fsci__segy_abort(&w);
    return st;
}

/* The coordinate scalar for one trace: -100 (centimetres) when every
 * coordinate fits a 32-bit word in centimetres, else -10, else 1. */
static int coord_scalar(const char *path, int64_t i, const double *v, const char *const *name, int n,
                        int32_t *scalar)
{
    static const double mult[3] = {100, 10, 1};
    for (int k = 0; k < n; k++)
        FSCI_CHECK(isfinite(v[k]), FSCI_EINVAL, "%s: trace %" PRId64 ": coordinate %s is %g", path, i,
                   name[k], v[k]);
    for (int m = 0; m < 3; m++) {
        bool fits = true;
        for (int k = 0; k < n; k++) fits = fits && fabs(nearbyint(v[k] * mult[m])) <= (double)INT32_MAX;
        if (fits) {
            *scalar = m == 2 ? 1 : -(int32_t)mult[m];
            return FSCI_OK;
        }
    }
    for (int k = 0; k < n; k++)
        FSCI_CHECK(fabs(nearbyint(v[k])) <= (double)INT32_MAX, FSCI_ERANGE,
                   "%s: trace %" PRId64 ": coordinate %s = %g m does not fit a 32-bit SEG-Y header word",
                   path, i, name[k], v[k]);
    return FSCI_EINTERNAL;
}

static int trace_header(fsci__segy_writer *w, const fsci__segy_trace_hdr *h, char *th)
{
    const char *path = fsci_atomic_path(w->a);
    const double c[6] = {h->sx, h->sy, h->gx, h->gy, h->cdpx, h->cdpy};
    static const char *const cname[6] = {"sx", "sy", "gx", "gy", "cdpx", "cdpy"};
    static const int cfield[6] = {SEGY_TR_SOURCE_X, SEGY_TR_SOURCE_Y, SEGY_TR_GROUP_X,
                                  SEGY_TR_GROUP_Y,  SEGY_TR_CDP_X,    SEGY_TR_CDP_Y};
    int32_t scalar = 1;
    int st = coord_scalar(path, w->done, c, cname, 6, &scalar);
    if (st) return st;
    double mult = scalar < 0 ? -(double)scalar : 1.0;
    int32_t seq = (int32_t)(w->done + 1);
    const struct {
        int f;
        int32_t v;
    } f[] = {
        {SEGY_TR_SEQ_LINE, seq},
        {SEGY_TR_SEQ_FILE, seq},
        {SEGY_TR_FIELD_RECORD, h->fldr},
        {SEGY_TR_NUMBER_ORIG_FIELD, h->tracf},
        {SEGY_TR_ENSEMBLE, h->cdp},
        {SEGY_TR_TRACE_ID, 1}, /* seismic data */
        {SEGY_TR_OFFSET, h->offset},
        {SEGY_TR_ELEV_SCALAR, 1},
        {SEGY_TR_SOURCE_GROUP_SCALAR, scalar},
        {SEGY_TR_COORD_UNITS, 1}, /* length (metres) */
        {SEGY_TR_SAMPLE_COUNT, (int32_t)w->ns},
        {SEGY_TR_SAMPLE_INTER, w->dt_us},
        {SEGY_TR_INLINE, h->inline_no},
        {SEGY_TR_CROSSLINE, h->crossline_no},
    };
    memset(th, 0, SEGY_TRACE_HEADER_SIZE);
    for (size_t k = 0; k < sizeof f / sizeof f[0]; k++)
        FSCI_CHECK(segy_set_field(th, f[k].f, f[k].v) == SEGY_OK, FSCI_EINTERNAL,
                   "%s: trace header field %d cannot hold %" PRId32, path, f[k].f, f[k].v);
    for (int k = 0; k < 6; k++)
        FSCI_CHECK(segy_set_field(th, cfield[k], (int32_t)nearbyint(c[k] * mult)) == SEGY_OK, FSCI_EINTERNAL,
                   "%s: trace header field %d: bad coordinate", path, cfield[k]);
    return FSCI_OK;
}

int fsci__segy_put(fsci__segy_writer *w, const fsci__segy_trace_hdr *h, const float *samples)
{
    FSCI_CHECK(w && w->a && h && samples, FSCI_EINVAL, "segy: NULL writer, header or samples");
    const char *path = fsci_atomic_path(w->a);
    FSCI_CHECK(w->done < w->ntr, FSCI_EINVAL,
               "%s: trace %" PRId64 " put, but the file was created for %" PRId64 " traces", path, w->done,
               w->ntr);
    char *th = (char *)w->buf;
    int st = trace_header(w, h, th);
    if (st) return st;
    float *s = (float *)(w->buf + SEGY_TRACE_HEADER_SIZE);
    for (int64_t k = 0; k < w->ns; k++) {
        FSCI_CHECK(isfinite(samples[k]), FSCI_EINVAL, "%s: trace %" PRId64 " sample %" PRId64 " is %g", path,
                   w->done, k, (double)samples[k]);
        s[k] = samples[k];
    }
    FSCI_CHECK(segy_from_native(SEGY_IEEE_FLOAT_4_BYTE, w->ns, s) == SEGY_OK, FSCI_EINTERNAL,
               "%s: segy_from_native failed", path);
    st = fsci_atomic_write(w->a, w->buf, (size_t)(SEGY_TRACE_HEADER_SIZE + 4 * w->ns));
    if (st) return st;
    w->done++;
    return FSCI_OK;
}

int fsci__segy_commit(fsci__segy_writer **pw)
{
    int st = FSCI_OK;
    FSCI_CHECK(pw && *pw && (*pw)->a, FSCI_EINVAL, "segy: NULL writer");
    fsci__segy_writer *w = *pw;
    FSCI_CHECK_GOTO(w->done == w->ntr, FSCI_EINVAL,
                    "%s: commit after %" PRId64 " of %" PRId64 " traces: nothing written",
                    fsci_atomic_path(w->a), w->done, w->ntr);
    st = fsci_atomic_commit(&w->a);
fail:
    fsci__segy_abort(pw);
    return st;
}

void fsci__segy_abort(fsci__segy_writer **pw)
{
    if (!pw || !*pw) return;
    fsci__segy_writer *w = *pw;
    fsci_atomic_abort(&w->a);
    fsci_free(w->buf);
    fsci_free(w);
    *pw = NULL;
}
