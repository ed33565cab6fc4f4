/* .npy reading and writing, plus the pieces npz.c shares: bounded input
 * (file or memory), a sequential reader that inflates zip members straight
 * into their destination, the header parser/formatter and atomic output files.
 *
 * Format: numpy/doc/neps/nep-0001-npy-format.rst and numpy/lib/format.py
 * ("\x93NUMPY", major, minor, little-endian header length of 2 bytes for
 * version 1.0 and 4 bytes for 2.0/3.0, then a Python dict literal with the
 * keys 'descr', 'fortran_order' and 'shape', padded with spaces and '\n' so
 * the data starts at a multiple of 64). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/io/npy_impl.h"
#include "fastsci/core/alloc.h"
#include "fastsci/core/npy.h"
#include "fastsci/core/parallel.h"

/* Largest header accepted. numpy itself refuses headers over 10000 bytes by
 * default; the headers of the dtypes we support are < 400 bytes. */
enum { NPY_HEADER_LIMIT = 1 << 20 };
/* Pieces of large transfers, so that zlib's 32-bit counters never overflow. */
#define IO_CHUNK ((size_t)1 << 30)
enum { DEFLATE_INBUF = 1 << 16, GATHER_BUF = 1 << 18 };

static bool host_is_le(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* ---- errors -------------------------------------------------------------- */

int fsci__io_error(int code, const char *file, int line, const char *func, const char *fname,
                   const char *member, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!fname) fname = "<memory>";
    if (member) return fsci_error_set(code, file, line, func, "%s: member '%.200s': %s", fname, member, msg);
    return fsci_error_set(code, file, line, func, "%s: %s", fname, msg);
}

int fsci__io_error_prefix(int code, const char *fname, const char *member)
{
    char prev[768];
    snprintf(prev, sizeof prev, "%s", fsci_error_message());
    return FSCI__IOERR(code, fname, member, "%s", prev);
}

static const char *errstr(int err, char *buf, size_t cap)
{
    if (strerror_r(err, buf, cap) != 0) snprintf(buf, cap, "error %d", err);
    return buf;
}

/* ---- zlib allocation ------------------------------------------------------- */

void *fsci__zalloc(void *opaque, unsigned items, unsigned size)
{
    (void)opaque;
    return fsci_malloc(items, size);
}

void fsci__zfree(void *opaque, void *p)
{
    (void)opaque;
    fsci_free(p);
}

/* ---- bounded input ----------------------------------------------------------- */

int fsci__blob_open(fsci__blob *b, const char *path)
{
    char eb[128];
    b->mem = NULL;
    b->fd = -1;
    b->size = 0;
    int fd;
    do {
        fd = open(path, O_RDONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return FSCI__IOERR(FSCI_EIO, path, NULL, "cannot open: %s", errstr(errno, eb, sizeof eb));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return FSCI__IOERR(FSCI_EIO, path, NULL, "cannot stat: %s", errstr(e, eb, sizeof eb));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return FSCI__IOERR(FSCI_EIO, path, NULL, "not a regular file");
    }
    b->fd = fd;
    b->size = (uint64_t)st.st_size;
    return FSCI_OK;
}

void fsci__blob_mem(fsci__blob *b, const void *buf, size_t len)
{
    b->mem = buf;
    b->fd = -1;
    b->size = buf ? (uint64_t)len : 0;
}

void fsci__blob_close(fsci__blob *b)
{
    if (b->fd >= 0) close(b->fd);
    b->fd = -1;
    b->mem = NULL;
    b->size = 0;
}

int fsci__blob_read(const fsci__blob *b, uint64_t off, void *dst, size_t n, const char *fname,
                    const char *member)
{
    if (n == 0) return FSCI_OK;
    if (off > b->size || n > b->size - off)
        return FSCI__IOERR(FSCI_EFORMAT, fname, member,
                           "truncated: needs %zu bytes at offset %llu but the input has %llu", n,
                           (unsigned long long)off, (unsigned long long)b->size);
    if (b->mem) {
        memcpy(dst, b->mem + off, n);
        return FSCI_OK;
    }
    unsigned char *p = dst;
    while (n > 0) {
        size_t chunk = n < IO_CHUNK ? n : IO_CHUNK;
        ssize_t got = pread(b->fd, p, chunk, (off_t)off);
        if (got < 0) {
            if (errno == EINTR) continue;
            char eb[128];
            return FSCI__IOERR(FSCI_EIO, fname, member, "read failed at offset %llu: %s",
                               (unsigned long long)off, errstr(errno, eb, sizeof eb));
        }
        if (got == 0)
            return FSCI__IOERR(FSCI_EFORMAT, fname, member,
                               "file ended at offset %llu while reading (changed on disk?)",
                               (unsigned long long)off);
        p += got;
        n -= (size_t)got;
        off += (uint64_t)got;
    }
    return FSCI_OK;
}

/* ---- sequential reader ---------------------------------------------------------- */

#define RD_ERR(r, code, ...) FSCI__IOERR((code), (r)->fname, (r)->member, __VA_ARGS__)

void fsci__rd_init_stored(fsci__rd *r, const fsci__blob *b, uint64_t off, uint64_t len, const char *fname,
                          const char *member)
{
    memset(r, 0, sizeof *r);
    r->b = b;
    r->fname = fname ? fname : "<memory>";
    r->member = member;
    r->method = 0;
    r->in_pos = off;
    r->in_end = off + len;
    r->out_size = len;
    r->crc = (uint32_t)crc32(0L, Z_NULL, 0);
}

int fsci__rd_init_deflate(fsci__rd *r, const fsci__blob *b, uint64_t off, uint64_t clen, uint64_t usize,
                          const char *fname, const char *member)
{
    fsci__rd_init_stored(r, b, off, clen, fname, member);
    r->method = 8;
    r->out_size = usize;
    if (!b->mem) {
        r->inbuf = fsci_malloc(DEFLATE_INBUF, 1);
        if (!r->inbuf) return fsci__io_error_prefix(FSCI_ENOMEM, r->fname, member);
    }
    r->zs.zalloc = fsci__zalloc;
    r->zs.zfree = fsci__zfree;
    r->zs.opaque = Z_NULL;
    r->zs.next_in = Z_NULL;
    r->zs.avail_in = 0;
    /* windowBits -15: raw deflate, as stored in zip members (RFC 1951). */
    int zr = inflateInit2(&r->zs, -15);
    if (zr != Z_OK) {
        fsci_free(r->inbuf);
        r->inbuf = NULL;
        return RD_ERR(r, zr == Z_MEM_ERROR ? FSCI_ENOMEM : FSCI_EINTERNAL, "cannot start inflate (zlib %d)",
                      zr);
    }
    r->zinit = true;
    return FSCI_OK;
}

void fsci__rd_free(fsci__rd *r)
{
    if (r->zinit) inflateEnd(&r->zs);
    r->zinit = false;
    fsci_free(r->inbuf);
    r->inbuf = NULL;
}

static int rd_refill(fsci__rd *r)
{
    uint64_t left = r->in_end - r->in_pos;
    if (r->b->mem) {
        size_t chunk = left < IO_CHUNK ? (size_t)left : IO_CHUNK;
        r->zs.next_in = r->b->mem + r->in_pos;
        r->zs.avail_in = (uInt)chunk;
        r->in_pos += chunk;
        return FSCI_OK;
    }
    size_t chunk = left < DEFLATE_INBUF ? (size_t)left : DEFLATE_INBUF;
    int st = fsci__blob_read(r->b, r->in_pos, r->inbuf, chunk, r->fname, r->member);
    if (st < 0) return st;
    r->zs.next_in = r->inbuf;
    r->zs.avail_in = (uInt)chunk;
    r->in_pos += chunk;
    return FSCI_OK;
}

/* Inflate up to n bytes into dst; *got receives the count. Stops early only
 * at the end of the deflate stream. */
static int rd_inflate(fsci__rd *r, unsigned char *dst, size_t n, size_t *got)
{
    *got = 0;
    while (*got < n && !r->zend) {
        if (r->zs.avail_in == 0 && r->in_pos < r->in_end) {
            int st = rd_refill(r);
            if (st < 0) return st;
        }
        size_t want = n - *got;
        uInt chunk = (uInt)(want < IO_CHUNK ? want : IO_CHUNK);
        uInt in_before = r->zs.avail_in;
        r->zs.next_out = dst + *got;
        r->zs.avail_out = chunk;
        int zr = inflate(&r->zs, Z_NO_FLUSH);
        size_t produced = chunk - r->zs.avail_out;
        *got += produced;
        if (zr == Z_STREAM_END) {
            r->zend = true;
        } else if (zr == Z_MEM_ERROR) {
            return RD_ERR(r, FSCI_ENOMEM, "out of memory while inflating");
        } else if (zr == Z_NEED_DICT || zr == Z_DATA_ERROR || zr == Z_STREAM_ERROR) {
            return RD_ERR(r, FSCI_EFORMAT, "corrupt deflate data after %llu bytes (%s)",
                          (unsigned long long)(r->out_done + *got), r->zs.msg ? r->zs.msg : "zlib error");
        } else if (produced == 0 && r->zs.avail_in == in_before) {
            /* Z_BUF_ERROR or no progress: only possible with the input used up. */
            if (r->zs.avail_in == 0 && r->in_pos >= r->in_end)
                return RD_ERR(r, FSCI_EFORMAT,
                              "compressed data is truncated: it ends after %llu of the %llu "
                              "declared bytes",
                              (unsigned long long)(r->out_done + *got), (unsigned long long)r->out_size);
            return RD_ERR(r, FSCI_EFORMAT, "deflate stream makes no progress");
        }
    }
    return FSCI_OK;
}

static void rd_crc(fsci__rd *r, const unsigned char *p, size_t n)
{
    while (n > 0) {
        uInt chunk = (uInt)(n < IO_CHUNK ? n : IO_CHUNK);
        r->crc = fsci__crc32(r->crc, p, chunk);
        p += chunk;
        n -= chunk;
    }
}

int fsci__rd_read(fsci__rd *r, void *dst, size_t n)
{
    if (n > fsci__rd_remaining(r))
        return RD_ERR(r, FSCI_EFORMAT, "truncated: needs %zu bytes at data offset %llu but only %llu remain",
                      n, (unsigned long long)r->out_done, (unsigned long long)fsci__rd_remaining(r));
    if (n == 0) return FSCI_OK;
    if (r->method == 0) {
        int st = fsci__blob_read(r->b, r->in_pos, dst, n, r->fname, r->member);
        if (st < 0) return st;
        r->in_pos += n;
    } else {
        size_t got = 0;
        int st = rd_inflate(r, dst, n, &got);
        if (st < 0) return st;
        if (got < n)
            return RD_ERR(r, FSCI_EFORMAT,
                          "deflate stream ends after %llu bytes but the directory declares %llu",
                          (unsigned long long)(r->out_done + got), (unsigned long long)r->out_size);
    }
    if (r->crc_check) rd_crc(r, dst, n);
    r->out_done += n;
    return FSCI_OK;
}

int fsci__rd_finish(fsci__rd *r)
{
    unsigned char scratch[4096];
    while (fsci__rd_remaining(r) > 0) {
        uint64_t left = fsci__rd_remaining(r);
        size_t n = left < sizeof scratch ? (size_t)left : sizeof scratch;
        int st = fsci__rd_read(r, scratch, n);
        if (st < 0) return st;
    }
    if (r->method == 8 && !r->zend) {
        /* The declared size is reached: the stream must end here. */
        size_t got = 0;
        int st = rd_inflate(r, scratch, 1, &got);
        if (st < 0) return st;
        if (got > 0 || !r->zend)
            return RD_ERR(r, FSCI_EFORMAT, "decompresses to more than the declared %llu bytes",
                          (unsigned long long)r->out_size);
    }
    if (r->crc_check && r->crc != r->crc_expect)
        return RD_ERR(r, FSCI_EFORMAT, "CRC-32 mismatch: the directory says 0x%08x but the data gives 0x%08x",
                      (unsigned)r->crc_expect, (unsigned)r->crc);
    return FSCI_OK;
}

/* ---- header parsing --------------------------------------------------------- */

typedef struct lex {
    const char *s;
    size_t n, i;
} lex;

static void lx_ws(lex *L)
{
    while (L->i < L->n &&
           (L->s[L->i] == ' ' || L->s[L->i] == '\t' || L->s[L->i] == '\n' || L->s[L->i] == '\r'))
        L->i++;
}

static bool lx_eat(lex *L, char c)
{
    lx_ws(L);
    if (L->i < L->n && L->s[L->i] == c) {
        L->i++;
        return true;
    }
    return false;
}

static bool lx_peek(lex *L, char c)
{
    lx_ws(L);
    return L->i < L->n && L->s[L->i] == c;
}

/* A quoted string without escapes; false if malformed or longer than cap-1. */
static bool lx_str(lex *L, char *out, size_t cap)
{
    lx_ws(L);
    if (L->i >= L->n || (L->s[L->i] != '\'' && L->s[L->i] != '"')) return false;
    char q = L->s[L->i++];
    size_t k = 0;
    while (L->i < L->n && L->s[L->i] != q) {
        char c = L->s[L->i++];
        if (c == '\\' || c == '\n' || c == '\0' || k + 1 >= cap) return false;
        out[k++] = c;
    }
    if (L->i >= L->n) return false;
    L->i++;
    out[k] = '\0';
    return true;
}

static bool lx_word(lex *L, const char *w)
{
    lx_ws(L);
    size_t k = strlen(w);
    if (L->n - L->i < k || memcmp(L->s + L->i, w, k) != 0) return false;
    L->i += k;
    return true;
}

/* Non-negative decimal integer (Python 2 files may end it with 'L'). */
static bool lx_int(lex *L, int64_t *out)
{
    lx_ws(L);
    size_t start = L->i;
    uint64_t v = 0;
    while (L->i < L->n && L->s[L->i] >= '0' && L->s[L->i] <= '9') {
        unsigned d = (unsigned)(L->s[L->i] - '0');
        if (v > ((uint64_t)INT64_MAX - d) / 10) return false;
        v = v * 10 + d;
        L->i++;
    }
    if (L->i == start) return false;
    if (L->i < L->n && (L->s[L->i] == 'L' || L->s[L->i] == 'l')) L->i++;
    *out = (int64_t)v;
    return true;
}

static const struct {
    const char *code;
    fsci_dtype dtype;
} descr_table[] = {
    {"f4", FSCI_F32}, {"f8", FSCI_F64}, {"c8", FSCI_C64}, {"c16", FSCI_C128},
    {"i4", FSCI_I32}, {"i8", FSCI_I64}, {"u1", FSCI_U8},  {"u2", FSCI_U16},
};

/* Map a descr string; false if unsupported. */
static bool map_descr(const char *d, fsci__npy_hdr *h)
{
    char bo = d[0];
    if (bo != '<' && bo != '>' && bo != '|' && bo != '=') return false;
    const char *t = d + 1;
    bool file_le = bo == '<' || ((bo == '|' || bo == '=') && host_is_le());
    h->file_be = !file_le;
    if (t[0] == 'U') {
        const char *p = t + 1;
        uint64_t n = 0;
        if (*p == '\0') return false;
        for (; *p; p++) {
            if (*p < '0' || *p > '9') return false;
            n = n * 10 + (unsigned)(*p - '0');
            if (n > (uint64_t)INT64_MAX / 8) return false;
        }
        h->kind = FSCI__NPY_UNICODE;
        h->itemsize = (size_t)(4 * n);
        if ((uint64_t)h->itemsize != 4 * n) return false;
        h->swap = file_le != host_is_le();
        return true;
    }
    for (size_t k = 0; k < sizeof descr_table / sizeof descr_table[0]; k++) {
        if (strcmp(t, descr_table[k].code) == 0) {
            h->kind = FSCI__NPY_NUMERIC;
            h->dtype = descr_table[k].dtype;
            h->itemsize = fsci_dtype_size(h->dtype);
            h->swap = h->itemsize > 1 && file_le != host_is_le();
            return true;
        }
    }
    return false;
}

void fsci__npy_shape_str(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t k = 0;
    int w = snprintf(buf, cap, "(");
    k = w > 0 ? (size_t)w : 0;
    for (int d = 0; d < ndim && k < cap; d++) {
        w = snprintf(buf + k, cap - k, "%s%lld", d ? ", " : "", (long long)shape[d]);
        if (w > 0) k += (size_t)w;
    }
    if (k < cap) snprintf(buf + k, cap - k, ndim == 1 ? ",)" : ")");
}

/* A printable excerpt of the header for messages. */
static void header_excerpt(char *out, size_t cap, const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 4 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        out[k++] = (c >= 32 && c < 127) ? (char)c : '?';
    }
    if (k + 4 >= cap && k >= 3) memcpy(out + k - 3, "...", 3);
    while (k > 0 && (out[k - 1] == ' ' || out[k - 1] == '?')) k--;
    out[k] = '\0';
}

static int parse_dict(fsci__rd *r, const char *s, size_t n, fsci__npy_hdr *h)
{
    lex L = {s, n, 0};
    bool have_descr = false, have_fortran = false, have_shape = false;
    char key[32], descr[128], ex[160];
    const char *what = "'{'";
    if (!lx_eat(&L, '{')) goto bad;
    while (!lx_eat(&L, '}')) {
        what = "a quoted key";
        if (!lx_str(&L, key, sizeof key)) goto bad;
        what = "':'";
        if (!lx_eat(&L, ':')) goto bad;
        if (strcmp(key, "descr") == 0 && !have_descr) {
            if (lx_peek(&L, '['))
                return RD_ERR(r, FSCI_ENOTSUP, "unsupported dtype: structured descr (a list of fields)");
            what = "a quoted descr";
            if (!lx_str(&L, descr, sizeof descr)) goto bad;
            have_descr = true;
        } else if (strcmp(key, "fortran_order") == 0 && !have_fortran) {
            if (lx_word(&L, "True"))
                h->fortran = true;
            else if (lx_word(&L, "False"))
                h->fortran = false;
            else {
                what = "True or False";
                goto bad;
            }
            have_fortran = true;
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            what = "a shape tuple";
            if (!lx_eat(&L, '(')) goto bad;
            int nd = 0;
            bool comma = false;
            while (!lx_eat(&L, ')')) {
                int64_t v;
                what = "a non-negative dimension";
                if (!lx_int(&L, &v)) goto bad;
                if (nd >= FSCI_MAX_NDIM)
                    return RD_ERR(r, FSCI_ENOTSUP, "more than %d dimensions", FSCI_MAX_NDIM);
                h->shape[nd++] = v;
                comma = lx_eat(&L, ',');
                what = "',' or ')' in the shape";
                if (!comma && !lx_peek(&L, ')')) goto bad;
            }
            /* "(5)" is the integer 5 in Python, not a tuple: numpy rejects it. */
            what = "a tuple (one dimension needs a trailing comma)";
            if (nd == 1 && !comma) goto bad;
            h->ndim = nd;
            have_shape = true;
        } else {
            what = "only the keys 'descr', 'fortran_order' and 'shape', once each";
            goto bad;
        }
        if (!lx_eat(&L, ',')) {
            what = "',' or '}'";
            if (!lx_peek(&L, '}')) goto bad;
        }
    }
    lx_ws(&L);
    what = "only spaces after '}'";
    if (L.i != L.n) goto bad;
    what = "the keys 'descr', 'fortran_order' and 'shape'";
    if (!have_descr || !have_fortran || !have_shape) goto bad;
    snprintf(h->descr, sizeof h->descr, "%s", descr);
    if (!map_descr(descr, h))
        return RD_ERR(r, FSCI_ENOTSUP,
                      "unsupported dtype '%.60s' (supported: f4 f8 c8 c16 i4 i8 u1 u2 and U strings)", descr);
    return FSCI_OK;
bad:
    header_excerpt(ex, sizeof ex, s, n);
    return RD_ERR(r, FSCI_EFORMAT, "malformed header: expected %s at byte %zu of \"%s\"", what, L.i, ex);
}

int fsci__npy_read_header(fsci__rd *r, fsci__npy_hdr *h)
{
    static const unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
    unsigned char pre[12];
    char *text = NULL;
    int st = FSCI_OK;
    memset(h, 0, sizeof *h);
    uint64_t total = fsci__rd_remaining(r);
    size_t first = total < 10 ? (size_t)total : 10;
    FSCI_TRY(fsci__rd_read(r, pre, first));
    if (memcmp(pre, magic, first < 6 ? first : 6) != 0) {
        st = RD_ERR(r, FSCI_EFORMAT, "not a .npy file (bad magic string)");
        goto fail;
    }
    if (first < 10) {
        st = RD_ERR(r, FSCI_EFORMAT, "truncated: %llu bytes is shorter than a .npy preamble",
                    (unsigned long long)total);
        goto fail;
    }
    unsigned major = pre[6], minor = pre[7];
    uint32_t hlen;
    if (major == 1 && minor == 0) {
        hlen = (uint32_t)pre[8] | (uint32_t)pre[9] << 8;
    } else if ((major == 2 || major == 3) && minor == 0) {
        FSCI_TRY(fsci__rd_read(r, pre + 10, 2));
        hlen = (uint32_t)pre[8] | (uint32_t)pre[9] << 8 | (uint32_t)pre[10] << 16 | (uint32_t)pre[11] << 24;
    } else {
        st = RD_ERR(r, FSCI_ENOTSUP, "unsupported .npy format version %u.%u (known: 1.0, 2.0, 3.0)", major,
                    minor);
        goto fail;
    }
    if (hlen > fsci__rd_remaining(r)) {
        st = RD_ERR(r, FSCI_EFORMAT, "header length %u exceeds the %llu bytes that follow", (unsigned)hlen,
                    (unsigned long long)fsci__rd_remaining(r));
        goto fail;
    }
    if (hlen > NPY_HEADER_LIMIT) {
        st = RD_ERR(r, FSCI_EFORMAT, "header length %u exceeds the limit of %d bytes", (unsigned)hlen,
                    NPY_HEADER_LIMIT);
        goto fail;
    }
    text = fsci_malloc((size_t)hlen + 1, 1);
    if (!text) {
        st = fsci__io_error_prefix(FSCI_ENOMEM, r->fname, r->member);
        goto fail;
    }
    FSCI_TRY(fsci__rd_read(r, text, hlen));
    text[hlen] = '\0';
    FSCI_TRY(parse_dict(r, text, hlen, h));

    /* Size: numel * itemsize, without overflow, and present in the input. */
    uint64_t numel = 1;
    bool overflow = false;
    for (int d = 0; d < h->ndim; d++)
        if (h->shape[d] == 0) numel = 0;
    for (int d = 0; d < h->ndim && numel > 0; d++) {
        uint64_t s = (uint64_t)h->shape[d];
        if (numel > (uint64_t)INT64_MAX / s) {
            overflow = true;
            break;
        }
        numel *= s;
    }
    char sh[FSCI_MAX_NDIM * 22 + 4];
    fsci__npy_shape_str(sh, sizeof sh, h->ndim, h->shape);
    if (overflow || (h->itemsize > 0 && numel > (uint64_t)INT64_MAX / h->itemsize)) {
        st = RD_ERR(r, FSCI_EFORMAT, "header declares shape %s of '%s': the byte size overflows", sh,
                    h->descr);
        goto fail;
    }
    h->numel = (int64_t)numel;
    h->nbytes = numel * h->itemsize;
    if (h->nbytes > fsci__rd_remaining(r) || h->nbytes > SIZE_MAX) {
        st = RD_ERR(r, FSCI_EFORMAT, "header declares shape %s %s = %llu bytes but only %llu remain", sh,
                    h->kind == FSCI__NPY_NUMERIC ? fsci_dtype_name(h->dtype) : h->descr,
                    (unsigned long long)h->nbytes, (unsigned long long)fsci__rd_remaining(r));
        goto fail;
    }
fail:
    fsci_free(text);
    return st;
}

void fsci__npy_swap(void *data, int64_t numel, fsci_dtype dtype)
{
    size_t es = fsci_dtype_size(dtype);
    if (dtype == FSCI_C64 || dtype == FSCI_C128) {
        es /= 2;
        numel *= 2;
    }
    unsigned char *p = data;
    for (int64_t i = 0; i < numel; i++, p += es)
        for (size_t a = 0, b = es - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

int fsci__npy_read_array(fsci__rd *r, fsci_array **out)
{
    int st = FSCI_OK;
    fsci_array *a = NULL;
    fsci__npy_hdr h;
    FSCI_TRY(fsci__npy_read_header(r, &h));
    if (h.kind != FSCI__NPY_NUMERIC) {
        st =
            RD_ERR(r, FSCI_ENOTSUP, "unsupported dtype '%s': a unicode string, not a numeric array", h.descr);
        goto fail;
    }
    st = fsci_array_create(h.dtype, h.ndim, h.shape, h.fortran, &a);
    if (st < 0) {
        st = fsci__io_error_prefix(st, r->fname, r->member);
        goto fail;
    }
    FSCI_TRY(fsci__rd_read(r, a->view.data, (size_t)h.nbytes));
    if (r->crc_check) FSCI_TRY(fsci__rd_finish(r));
    if (h.swap) fsci__npy_swap(a->view.data, h.numel, h.dtype);
    *out = a;
    return FSCI_OK;
fail:
    fsci_array_destroy(&a);
    return st;
}

int fsci_npy_read_mem(const void *buf, size_t len, const char *name, fsci_array **out)
{
    FSCI_CHECK(out, FSCI_EINVAL, "npy read: NULL output pointer");
    *out = NULL;
    if (!name) name = "<memory>";
    FSCI_CHECK(buf || len == 0, FSCI_EINVAL, "%s: NULL buffer", name);
    fsci__blob b;
    fsci__rd r;
    fsci__blob_mem(&b, buf, len);
    fsci__rd_init_stored(&r, &b, 0, b.size, name, NULL);
    int st = fsci__npy_read_array(&r, out);
    fsci__rd_free(&r);
    return st;
}

int fsci_npy_read(const char *path, fsci_array **out)
{
    FSCI_CHECK(out, FSCI_EINVAL, "npy read: NULL output pointer");
    *out = NULL;
    FSCI_CHECK(path, FSCI_EINVAL, "npy read: NULL path");
    fsci__blob b;
    fsci__rd r;
    int st = fsci__blob_open(&b, path);
    if (st < 0) return st;
    fsci__rd_init_stored(&r, &b, 0, b.size, path, NULL);
    st = fsci__npy_read_array(&r, out);
    fsci__rd_free(&r);
    fsci__blob_close(&b);
    return st;
}

/* ---- header formatting ------------------------------------------------------- */

static int ndigits(int64_t v)
{
    int k = 1;
    while (v >= 10) v /= 10, k++;
    return k;
}

size_t fsci__npy_format_header(unsigned char *buf, int dtype, int64_t nchars, bool fortran, int ndim,
                               const int64_t *shape)
{
    char descr[32], sh[FSCI_MAX_NDIM * 22 + 4], dict[FSCI__NPY_HDR_MAX];
    if (dtype < 0) {
        snprintf(descr, sizeof descr, "<U%lld", (long long)nchars);
    } else {
        const char *code = "";
        for (size_t k = 0; k < sizeof descr_table / sizeof descr_table[0]; k++)
            if ((int)descr_table[k].dtype == dtype) code = descr_table[k].code;
        char bo = fsci_dtype_size((fsci_dtype)dtype) == 1 ? '|' : host_is_le() ? '<' : '>';
        snprintf(descr, sizeof descr, "%c%s", bo, code);
    }
    fsci__npy_shape_str(sh, sizeof sh, ndim, shape);
    /* numpy's layout: keys sorted, repr() values, ", " after each, then
     * spare spaces so the growth axis can gain digits in place. */
    int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", descr,
                       fortran ? "True" : "False", sh);
    size_t hl = (size_t)len;
    if (ndim > 0) {
        int spare = 21 - ndigits(shape[fortran ? ndim - 1 : 0]);
        for (int k = 0; k < spare; k++) dict[hl++] = ' ';
    }
    hl += 1; /* the final '\n' */
    size_t prefix = 10;
    size_t pad = 64 - (prefix + hl) % 64;
    if (hl + pad > 65535) {
        prefix = 12;
        pad = 64 - (prefix + hl) % 64;
    }
    uint32_t stored = (uint32_t)(hl + pad);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = prefix == 10 ? 1 : 2;
    buf[7] = 0;
    buf[8] = (unsigned char)(stored & 0xff);
    buf[9] = (unsigned char)(stored >> 8 & 0xff);
    if (prefix == 12) {
        buf[10] = (unsigned char)(stored >> 16 & 0xff);
        buf[11] = (unsigned char)(stored >> 24 & 0xff);
    }
    memcpy(buf + prefix, dict, hl - 1);
    memset(buf + prefix + hl - 1, ' ', pad);
    buf[prefix + hl - 1 + pad] = '\n';
    return prefix + hl + pad;
}

/* ---- views ------------------------------------------------------------------ */

int fsci__npy_check_view(const fsci_view *v, const char *fname, const char *member)
{
    if (!v) return FSCI__IOERR(FSCI_EINVAL, fname, member, "NULL view");
    if ((int)v->dtype < 0 || v->dtype >= FSCI_NDTYPES)
        return FSCI__IOERR(FSCI_EINVAL, fname, member, "invalid dtype %d", (int)v->dtype);
    if (v->ndim < 0 || v->ndim > FSCI_MAX_NDIM)
        return FSCI__IOERR(FSCI_EINVAL, fname, member, "ndim %d outside [0, %d]", v->ndim, FSCI_MAX_NDIM);
    uint64_t numel = 1;
    bool zero = false;
    for (int d = 0; d < v->ndim; d++) {
        if (v->shape[d] < 0)
            return FSCI__IOERR(FSCI_EINVAL, fname, member, "shape[%d] = %lld is negative", d,
                               (long long)v->shape[d]);
        if (v->shape[d] == 0) zero = true;
    }
    if (!zero) {
        for (int d = 0; d < v->ndim; d++) {
            uint64_t s = (uint64_t)v->shape[d];
            if (numel > (uint64_t)INT64_MAX / s)
                return FSCI__IOERR(FSCI_EINVAL, fname, member, "view size overflows");
            numel *= s;
        }
        if (numel > (uint64_t)INT64_MAX / fsci_dtype_size(v->dtype))
            return FSCI__IOERR(FSCI_EINVAL, fname, member, "view byte size overflows");
        if (!v->data) return FSCI__IOERR(FSCI_EINVAL, fname, member, "view has NULL data");
    }
    return FSCI_OK;
}

bool fsci__npy_view_order(const fsci_view *v)
{
    return !fsci_view_is_c_contiguous(v) && fsci_view_is_f_contiguous(v);
}

int fsci__npy_emit_view(const fsci_view *v, bool fortran, fsci__sink_fn sink, void *ctx)
{
    int64_t numel = fsci_view_numel(v);
    if (numel == 0) return FSCI_OK;
    size_t es = fsci_dtype_size(v->dtype);
    bool direct = fortran ? fsci_view_is_f_contiguous(v) : fsci_view_is_c_contiguous(v);
    if (direct) {
        const unsigned char *p = v->data;
        uint64_t left = (uint64_t)numel * es;
        while (left > 0) {
            size_t n = left < IO_CHUNK ? (size_t)left : IO_CHUNK;
            int st = sink(ctx, p, n);
            if (st < 0) return st;
            p += n;
            left -= n;
        }
        return FSCI_OK;
    }
    /* Gather in C order through a small buffer, a row (last axis) at a time. */
    unsigned char *buf = fsci_malloc(GATHER_BUF, 1);
    if (!buf) return FSCI_ENOMEM;
    int st = FSCI_OK;
    int nd = v->ndim;
    int64_t inner = v->shape[nd - 1], istride = v->strides[nd - 1];
    int64_t idx[FSCI_MAX_NDIM] = {0};
    int64_t rows = numel / inner;
    size_t used = 0;
    for (int64_t r = 0; r < rows; r++) {
        const unsigned char *src = fsci_view_ptr(v, idx);
        for (int64_t j = 0; j < inner; j++, src += istride) {
            memcpy(buf + used, src, es);
            used += es;
            if (used + es > GATHER_BUF) {
                FSCI_TRY(sink(ctx, buf, used));
                used = 0;
            }
        }
        for (int k = nd - 2; k >= 0; k--) {
            if (++idx[k] < v->shape[k]) break;
            idx[k] = 0;
        }
    }
    if (used > 0) FSCI_TRY(sink(ctx, buf, used));
fail:
    fsci_free(buf);
    return st;
}

/* ---- atomic output files ------------------------------------------------------ */

static _Atomic unsigned g_tmp_serial;

int fsci__afile_create(fsci__afile *a, const char *path)
{
    char eb[128];
    a->fp = NULL;
    a->path = a->tmp = NULL;
    size_t n = strlen(path);
    if (n == 0) return FSCI__IOERR(FSCI_EINVAL, "(empty path)", NULL, "empty output path");
    a->path = fsci_malloc(n + 1, 1);
    a->tmp = fsci_malloc(n + 64, 1);
    if (!a->path || !a->tmp) { /* nothing created yet: just free */
        fsci_free(a->path);
        fsci_free(a->tmp);
        a->path = a->tmp = NULL;
        return fsci__io_error_prefix(FSCI_ENOMEM, path, NULL);
    }
    memcpy(a->path, path, n + 1);
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        snprintf(a->tmp, n + 64, "%s.%ld-%u.tmp", path, (long)getpid(), atomic_fetch_add(&g_tmp_serial, 1u));
        fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST && errno != EINTR) {
            int e = errno;
            int st = FSCI__IOERR(FSCI_EIO, path, NULL, "cannot create temporary file %s: %s", a->tmp,
                                 errstr(e, eb, sizeof eb));
            fsci_free(a->tmp);
            a->tmp = NULL; /* nothing was created */
            fsci__afile_abort(a);
            return st;
        }
    }
    if (fd < 0) {
        fsci_free(a->tmp);
        a->tmp = NULL;
        fsci__afile_abort(a);
        return FSCI__IOERR(FSCI_EIO, path, NULL, "cannot find a free temporary file name");
    }
    a->fp = fdopen(fd, "wb");
    if (!a->fp) {
        int e = errno;
        close(fd);
        int st = FSCI__IOERR(FSCI_EIO, path, NULL, "cannot open temporary file %s: %s", a->tmp,
                             errstr(e, eb, sizeof eb));
        fsci__afile_abort(a);
        return st;
    }
    return FSCI_OK;
}

/* One stream of writes, also for large buffers: buffered writes into one file
 * are serialised by the kernel (the inode lock), so writing pieces from every
 * core at their own offsets only adds lock spinning (measured: same wall time,
 * 1.7x the system time for a 1.3 GB archive in tmpfs). */
int fsci__afile_write(fsci__afile *a, const void *p, size_t n)
{
    char eb[128];
    if (n == 0) return FSCI_OK;
    errno = 0;
    if (fwrite(p, 1, n, a->fp) != n) {
        int e = errno ? errno : EIO;
        return FSCI__IOERR(FSCI_EIO, a->path, NULL, "write to %s failed: %s", a->tmp,
                           errstr(e, eb, sizeof eb));
    }
    return FSCI_OK;
}

int fsci__afile_commit(fsci__afile *a)
{
    char eb[128];
    int st = FSCI_OK;
    FILE *fp = a->fp;
    a->fp = NULL;
    errno = 0;
    if (fflush(fp) != 0) {
        st = FSCI__IOERR(FSCI_EIO, a->path, NULL, "write to %s failed: %s", a->tmp,
                         errstr(errno ? errno : EIO, eb, sizeof eb));
        fclose(fp);
        goto fail;
    }
    /* The rename alone makes the file appear whole or not at all to other
     * processes. Forcing the data to disk first costs seconds for gigabyte
     * outputs, so (like numpy) it is done only on request: FSCI_FSYNC=1
     * (EINVAL/EROFS: the file system cannot sync). */
    const char *want_sync = getenv("FSCI_FSYNC");
    if (want_sync && strcmp(want_sync, "1") == 0 && fsync(fileno(fp)) != 0 && errno != EINVAL &&
        errno != EROFS) {
        st = FSCI__IOERR(FSCI_EIO, a->path, NULL, "fsync of %s failed: %s", a->tmp,
                         errstr(errno, eb, sizeof eb));
        fclose(fp);
        goto fail;
    }
    if (fclose(fp) != 0) {
        st = FSCI__IOERR(FSCI_EIO, a->path, NULL, "closing %s failed: %s", a->tmp,
                         errstr(errno, eb, sizeof eb));
        goto fail;
    }
    if (rename(a->tmp, a->path) != 0) {
        st = FSCI__IOERR(FSCI_EIO, a->path, NULL, "cannot rename %s into place: %s", a->tmp,
                         errstr(errno, eb, sizeof eb));
        goto fail;
    }
    fsci_free(a->tmp);
    fsci_free(a->path);
    a->tmp = a->path = NULL;
    return FSCI_OK;
fail:
    fsci__afile_abort(a);
    return st;
}

void fsci__afile_abort(fsci__afile *a)
{
    if (a->fp) fclose(a->fp);
    a->fp = NULL;
    if (a->tmp) unlink(a->tmp);
    fsci_free(a->tmp);
    fsci_free(a->path);
    a->tmp = a->path = NULL;
}

static int afile_sink(void *ctx, const void *p, size_t n)
{
    return fsci__afile_write(ctx, p, n);
}

int fsci_npy_write(const char *path, const fsci_view *v)
{
    FSCI_CHECK(path, FSCI_EINVAL, "npy write: NULL path");
    int st = fsci__npy_check_view(v, path, NULL);
    if (st < 0) return st;
    unsigned char hdr[FSCI__NPY_HDR_MAX];
    bool fortran = fsci__npy_view_order(v);
    size_t hl = fsci__npy_format_header(hdr, (int)v->dtype, 0, fortran, v->ndim, v->shape);
    fsci__afile a;
    st = fsci__afile_create(&a, path);
    if (st < 0) return st;
    FSCI_TRY(fsci__afile_write(&a, hdr, hl));
    st = fsci__npy_emit_view(v, fortran, afile_sink, &a);
    if (st == FSCI_ENOMEM) st = fsci__io_error_prefix(st, path, NULL);
    if (st < 0) goto fail;
    return fsci__afile_commit(&a);
fail:
    fsci__afile_abort(&a);
    return st;
}
