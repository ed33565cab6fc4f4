/* Shared input layer of the .npy and .npz readers: error messages naming the
 * file and member, bounded input (a regular file read with pread, or a
 * caller's buffer) and a sequential reader that inflates zip members straight
 * into their destination. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/io/io_impl.h"
#include "core/io/npy_impl.h"
#include "fastsci/core/alloc.h"
#include "fastsci/core/npy.h"

/* Pieces of large transfers, so that zlib's 32-bit counters never overflow. */
#define IO_CHUNK ((size_t)1 << 30)
enum { DEFLATE_INBUF = 1 << 16 };

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
    b->mem = NULL;
    b->fd = -1;
    b->size = 0;
    return fsci__input_open(path, &b->fd, &b->size);
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
                               (unsigned long long)off, fsci__errstr(errno, eb, sizeof eb));
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
