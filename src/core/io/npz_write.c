/* .npz writing: ZIP members stored or deflated, written through the atomic
 * file writer; layout as described in npz_read.c (APPNOTE.TXT 6.3.x). */
#include <stdio.h>
#include <string.h>

#include "core/io/npy_impl.h"
#include "core/io/npz_impl.h"
#include "fastsci/core/alloc.h"
#include "fastsci/core/atomic.h"
#include "fastsci/core/npy.h"
#include "fastsci/core/parallel.h"

static uint64_t g_zip64_limit = 0xFFFFFFFFu;

void fsci__npz_set_zip64_limit(uint64_t limit)
{
    g_zip64_limit = limit;
}

/* ---- writing ---------------------------------------------------------------- */

typedef struct wentry {
    char *name; /* with ".npy" */
    uint64_t loff, csize, usize;
    uint32_t crc;
    uint16_t method, flags;
} wentry;

struct fsci_npz_writer {
    fsci_atomic *f;
    bool compress;
    int poisoned; /* first status that made the archive unusable, 0 if none */
    uint64_t pos; /* bytes written so far */
    wentry *e;
    int64_t n, cap;
    /* the member being written */
    bool in_member, streaming, cur_zip64;
    wentry cur;
    uint64_t data_off, declared, done;
    z_stream zs;
    bool zinit;
    unsigned char *zbuf;
};

#define WERR(w, code, member, ...) FSCI__IOERR((code), fsci_atomic_path((w)->f), (member), __VA_ARGS__)

static int poison(fsci_npz_writer *w, int st)
{
    if (st < 0 && !w->poisoned) w->poisoned = st;
    return st;
}

static int w_raw(fsci_npz_writer *w, const void *p, size_t n)
{
    int st = fsci_atomic_write(w->f, p, n);
    if (st < 0) return poison(w, st);
    w->pos += n;
    return FSCI_OK;
}

int fsci_npz_writer_create(const char *path, bool compress, fsci_npz_writer **out)
{
    FSCI_CHECK(out, FSCI_EINVAL, "npz writer: NULL output pointer");
    *out = NULL;
    FSCI_CHECK(path, FSCI_EINVAL, "npz writer: NULL path");
    int st = FSCI_OK;
    fsci_npz_writer *w = fsci_calloc(1, sizeof *w);
    if (!w) return fsci__io_error_prefix(FSCI_ENOMEM, path, NULL);
    w->compress = compress;
    FSCI_TRY(fsci_atomic_open(path, FSCI_ATOMIC_DEFAULT, &w->f));
    *out = w;
    return FSCI_OK;
fail:
    fsci_free(w);
    return st;
}

static void member_cleanup(fsci_npz_writer *w)
{
    if (w->zinit) deflateEnd(&w->zs);
    w->zinit = false;
    fsci_free(w->zbuf);
    w->zbuf = NULL;
    fsci_free(w->cur.name);
    w->cur.name = NULL;
    w->in_member = w->streaming = false;
}

void fsci_npz_writer_abort(fsci_npz_writer **wp)
{
    if (!wp || !*wp) return;
    fsci_npz_writer *w = *wp;
    member_cleanup(w);
    fsci_atomic_abort(&w->f);
    for (int64_t i = 0; i < w->n; i++) fsci_free(w->e[i].name);
    fsci_free(w->e);
    fsci_free(w);
    *wp = NULL;
}

static int check_ready(fsci_npz_writer *w, const char *name)
{
    FSCI_CHECK(w, FSCI_EINVAL, "npz writer: NULL writer");
    if (w->poisoned)
        return WERR(w, w->poisoned, NULL, "an earlier error made this archive unusable (%s)",
                    fsci_strerror(w->poisoned));
    if (w->in_member)
        return WERR(w, FSCI_EINVAL, w->cur.name, "still open: end it before adding another member");
    if (!name || !name[0]) return WERR(w, FSCI_EINVAL, NULL, "empty member name");
    size_t n = strlen(name);
    if (n > 60000) return WERR(w, FSCI_EINVAL, NULL, "member name of %zu bytes is too long", n);
    if (strchr(name, '/') || strchr(name, '\\'))
        return WERR(w, FSCI_EINVAL, NULL, "member name '%s' contains a path separator", name);
    for (int64_t i = 0; i < w->n; i++)
        if (strlen(w->e[i].name) == n + 4 && memcmp(w->e[i].name, name, n) == 0)
            return WERR(w, FSCI_EINVAL, NULL, "duplicate member name '%s'", name);
    return FSCI_OK;
}

/* Append n bytes to the open member (CRC, then deflate or copy). */
static int member_data(fsci_npz_writer *w, const void *p, size_t n);

/* Start member "name.npy" of hlen + data_bytes uncompressed bytes and write
 * the .npy header hdr into it. Failures after the first byte poison. */
static int member_begin(fsci_npz_writer *w, const char *name, const unsigned char *hdr, size_t hlen,
                        uint64_t data_bytes)
{
    int st = FSCI_OK;
    size_t n = strlen(name);
    memset(&w->cur, 0, sizeof w->cur);
    if (w->n == w->cap) {
        int64_t cap = w->cap ? 2 * w->cap : 8;
        wentry *e = fsci_malloc((size_t)cap, sizeof *e);
        if (!e) return fsci__io_error_prefix(FSCI_ENOMEM, fsci_atomic_path(w->f), NULL);
        if (w->n) memcpy(e, w->e, (size_t)w->n * sizeof *e);
        fsci_free(w->e);
        w->e = e;
        w->cap = cap;
    }
    w->cur.name = fsci_malloc(n + 5, 1);
    if (!w->cur.name) return fsci__io_error_prefix(FSCI_ENOMEM, fsci_atomic_path(w->f), NULL);
    memcpy(w->cur.name, name, n);
    memcpy(w->cur.name + n, ".npy", 5);
    if (data_bytes > UINT64_MAX / 2) {
        st = WERR(w, FSCI_EINVAL, w->cur.name, "member too large");
        goto fail;
    }
    w->cur.usize = hlen + data_bytes;
    w->cur.method = w->compress ? 8 : 0;
    w->cur.loff = w->pos;
    for (size_t k = 0; k < n; k++)
        if ((unsigned char)name[k] >= 0x80) w->cur.flags |= 1u << 11; /* UTF-8 name */
    if (w->compress) {
        w->zbuf = fsci_malloc(ZBUF, 1);
        if (!w->zbuf) {
            st = fsci__io_error_prefix(FSCI_ENOMEM, fsci_atomic_path(w->f), w->cur.name);
            goto fail;
        }
        w->zs.zalloc = fsci__zalloc;
        w->zs.zfree = fsci__zfree;
        w->zs.opaque = Z_NULL;
        int zr = deflateInit2(&w->zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
        if (zr != Z_OK) {
            st = WERR(w, zr == Z_MEM_ERROR ? FSCI_ENOMEM : FSCI_EINTERNAL, w->cur.name,
                      "cannot start deflate (zlib %d)", zr);
            goto fail;
        }
        w->zinit = true;
    }
    /* The local header gets the zip64 extra field if either size might not
     * fit in 32 bits (deflate output is bounded by usize + usize/8 + 1 KiB,
     * far above zlib's deflateBound). */
    uint64_t bound = w->cur.usize + (w->compress ? w->cur.usize / 8 + 1024 : 0);
    w->cur_zip64 = bound >= g_zip64_limit;
    unsigned char lh[LOCAL_LEN + 20], *p = lh;
    p = wr32(p, LOCAL_SIG);
    p = wr16(p, w->cur_zip64 ? 45 : 20);
    p = wr16(p, w->cur.flags);
    p = wr16(p, w->cur.method);
    p = wr16(p, 0);      /* time 00:00:00 */
    p = wr16(p, 0x0021); /* date 1980-01-01: fixed, so output is reproducible */
    p = wr32(p, 0);      /* CRC, sizes: patched by member_end */
    p = wr32(p, w->cur_zip64 ? 0xFFFFFFFFu : 0);
    p = wr32(p, w->cur_zip64 ? 0xFFFFFFFFu : 0);
    p = wr16(p, (unsigned)(n + 4));
    p = wr16(p, w->cur_zip64 ? 20 : 0);
    w->in_member = true;
    FSCI_TRY(w_raw(w, lh, LOCAL_LEN));
    FSCI_TRY(w_raw(w, w->cur.name, n + 4));
    if (w->cur_zip64) {
        p = lh;
        p = wr16(p, 1);
        p = wr16(p, 16);
        p = wr64(p, 0);
        p = wr64(p, 0);
        FSCI_TRY(w_raw(w, lh, 20));
    }
    w->data_off = w->pos;
    w->declared = w->cur.usize;
    w->done = 0;
    w->cur.crc = (uint32_t)crc32(0L, Z_NULL, 0);
    FSCI_TRY(member_data(w, hdr, hlen));
    return FSCI_OK;
fail:
    if (w->in_member) poison(w, st);
    member_cleanup(w);
    return st;
}

/* CRC-32 of a large buffer on every core: pieces from crc 0 in parallel, then
 * joined in order with crc32_combine (same value as one sequential pass). */
static uint32_t crc_update(uint32_t crc, const unsigned char *p, uInt n)
{
    enum { PIECES = 16 };
    if (n < ((uInt)8 << 20)) return fsci__crc32(crc, p, n);
    uLong part[PIECES];
    uInt len = n / PIECES;
    int nt = fsci_parallel_threads();
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int i = 0; i < PIECES; i++)
        part[i] = fsci__crc32(0, p + (size_t)i * len, i == PIECES - 1 ? n - (PIECES - 1) * len : len);
    for (int i = 0; i < PIECES; i++)
        crc =
            (uint32_t)crc32_combine(crc, part[i], (z_off_t)(i == PIECES - 1 ? n - (PIECES - 1) * len : len));
    return crc;
}

static int member_data(fsci_npz_writer *w, const void *data, size_t n)
{
    if (n > w->declared - w->done)
        return poison(w, WERR(w, FSCI_EINVAL, w->cur.name,
                              "writing %zu more bytes would exceed the declared %llu (%llu written)", n,
                              (unsigned long long)w->declared, (unsigned long long)w->done));
    const unsigned char *p = data;
    size_t left = n;
    while (left > 0) {
        uInt chunk = (uInt)(left < ((size_t)1 << 30) ? left : ((size_t)1 << 30));
        w->cur.crc = crc_update(w->cur.crc, p, chunk);
        if (!w->compress) {
            int st = w_raw(w, p, chunk);
            if (st < 0) return st;
        } else {
            w->zs.next_in = p;
            w->zs.avail_in = chunk;
            do {
                w->zs.next_out = w->zbuf;
                w->zs.avail_out = ZBUF;
                int zr = deflate(&w->zs, Z_NO_FLUSH);
                if (zr == Z_STREAM_ERROR)
                    return poison(w, WERR(w, FSCI_EINTERNAL, w->cur.name, "deflate failed"));
                int st = w_raw(w, w->zbuf, ZBUF - w->zs.avail_out);
                if (st < 0) return st;
            } while (w->zs.avail_out == 0);
        }
        p += chunk;
        left -= chunk;
        w->done += chunk;
    }
    return FSCI_OK;
}

static int seek_to(fsci_npz_writer *w, uint64_t off)
{
    int st = fsci_atomic_seek(w->f, off);
    return st < 0 ? poison(w, st) : FSCI_OK;
}

/* Overwrite bytes at the current file position (a header patch): pos, the
 * end of the archive so far, does not move. A failure poisons the writer. */
static int w_patch(fsci_npz_writer *w, const void *p, size_t n)
{
    int st = fsci_atomic_write(w->f, p, n);
    return st < 0 ? poison(w, st) : FSCI_OK;
}

static int member_end(fsci_npz_writer *w)
{
    int st = FSCI_OK;
    if (w->done != w->declared) {
        st = poison(w, WERR(w, FSCI_EINVAL, w->cur.name, "only %llu of the declared %llu bytes were written",
                            (unsigned long long)w->done, (unsigned long long)w->declared));
        goto fail;
    }
    if (w->compress) {
        int zr;
        w->zs.next_in = Z_NULL;
        w->zs.avail_in = 0;
        do {
            w->zs.next_out = w->zbuf;
            w->zs.avail_out = ZBUF;
            zr = deflate(&w->zs, Z_FINISH);
            if (zr == Z_STREAM_ERROR) {
                st = poison(w, WERR(w, FSCI_EINTERNAL, w->cur.name, "deflate failed"));
                goto fail;
            }
            FSCI_TRY(w_raw(w, w->zbuf, ZBUF - w->zs.avail_out));
        } while (zr != Z_STREAM_END);
    }
    uint64_t end = w->pos;
    w->cur.csize = end - w->data_off;
    if (!w->cur_zip64 && (w->cur.csize >= 0xFFFFFFFFu || w->cur.usize >= 0xFFFFFFFFu)) {
        st = poison(w, WERR(w, FSCI_EINTERNAL, w->cur.name, "size outgrew its local header"));
        goto fail;
    }
    /* Patch CRC and sizes into the local header, then return to the end. */
    unsigned char b[16], *p = b;
    FSCI_TRY(seek_to(w, w->cur.loff + 14));
    p = wr32(p, w->cur.crc);
    p = wr32(p, w->cur_zip64 ? 0xFFFFFFFFu : (uint32_t)w->cur.csize);
    p = wr32(p, w->cur_zip64 ? 0xFFFFFFFFu : (uint32_t)w->cur.usize);
    FSCI_TRY(w_patch(w, b, 12));
    if (w->cur_zip64) {
        FSCI_TRY(seek_to(w, w->cur.loff + LOCAL_LEN + strlen(w->cur.name) + 4));
        p = b;
        p = wr64(p, w->cur.usize);
        p = wr64(p, w->cur.csize);
        FSCI_TRY(w_patch(w, b, 16));
    }
    FSCI_TRY(seek_to(w, end));
    w->e[w->n++] = w->cur;
    w->cur.name = NULL; /* now owned by the entry */
    member_cleanup(w);
    return FSCI_OK;
fail:
    member_cleanup(w);
    return st;
}

static int member_sink(void *ctx, const void *p, size_t n)
{
    return member_data(ctx, p, n);
}

int fsci_npz_writer_add(fsci_npz_writer *w, const char *name, const fsci_view *v)
{
    int st = check_ready(w, name);
    if (st < 0) return st;
    st = fsci__npy_check_view(v, fsci_atomic_path(w->f), name);
    if (st < 0) return st;
    unsigned char hdr[FSCI__NPY_HDR_MAX];
    bool fortran = fsci__npy_view_order(v);
    size_t hl = fsci__npy_format_header(hdr, (int)v->dtype, 0, fortran, v->ndim, v->shape);
    FSCI_TRY(member_begin(w, name, hdr, hl, (uint64_t)fsci_view_nbytes(v)));
    st = fsci__npy_emit_view(v, fortran, member_sink, w);
    if (st == FSCI_ENOMEM) st = fsci__io_error_prefix(st, fsci_atomic_path(w->f), w->cur.name);
    FSCI_TRY(poison(w, st));
    return member_end(w);
fail:
    member_cleanup(w); /* after a failed member_begin: nothing left to release */
    return st;
}

/* Decode one UTF-8 sequence (RFC 3629: no overlongs, no surrogates, at most
 * U+10FFFF); returns its length or 0 if invalid. */
static size_t get_utf8(const unsigned char *s, uint32_t *cp)
{
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v, min;
    if ((c & 0xE0) == 0xC0)
        len = 2, v = c & 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0)
        len = 3, v = c & 0x0F, min = 0x800;
    else if ((c & 0xF8) == 0xF0)
        len = 4, v = c & 0x07, min = 0x10000;
    else
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80) return 0; /* also stops at the terminating NUL */
        v = v << 6 | (s[k] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return len;
}

int fsci_npz_writer_add_string(fsci_npz_writer *w, const char *name, const char *utf8)
{
    int st = check_ready(w, name);
    if (st < 0) return st;
    if (!utf8) return WERR(w, FSCI_EINVAL, name, "NULL string");
    const unsigned char *s = (const unsigned char *)utf8;
    int64_t nchars = 0;
    for (size_t i = 0; s[i];) {
        uint32_t cp;
        size_t k = get_utf8(s + i, &cp);
        if (!k) return WERR(w, FSCI_EINVAL, name, "string is not valid UTF-8 at byte %zu", i);
        i += k;
        nchars++;
    }
    /* numpy stores '' as '<U1' holding one NUL. */
    int64_t width = nchars > 0 ? nchars : 1;
    unsigned char hdr[FSCI__NPY_HDR_MAX];
    size_t hl = fsci__npy_format_header(hdr, -1, width, false, 0, NULL);
    FSCI_TRY(member_begin(w, name, hdr, hl, 4 * (uint64_t)width));
    unsigned char buf[1024];
    size_t used = 0;
    for (size_t i = 0; s[i];) {
        uint32_t cp = 0;
        i += get_utf8(s + i, &cp);
        wr32(buf + used, cp);
        used += 4;
        if (used == sizeof buf) {
            FSCI_TRY(member_data(w, buf, used));
            used = 0;
        }
    }
    if (nchars == 0) {
        wr32(buf, 0);
        used = 4;
    }
    FSCI_TRY(member_data(w, buf, used));
    return member_end(w);
fail:
    member_cleanup(w); /* after a failed member_begin: nothing left to release */
    return st;
}

int fsci_npz_writer_begin(fsci_npz_writer *w, const char *name, fsci_dtype dtype, int ndim,
                          const int64_t *shape)
{
    int st = check_ready(w, name);
    if (st < 0) return st;
    fsci_view v;
    memset(&v, 0, sizeof v);
    v.dtype = dtype;
    v.ndim = ndim;
    if (ndim > 0 && !shape) return WERR(w, FSCI_EINVAL, name, "NULL shape");
    for (int d = 0; d < ndim && d < FSCI_MAX_NDIM; d++) v.shape[d] = shape[d];
    v.data = &v; /* checked below only for being non-NULL */
    st = fsci__npy_check_view(&v, fsci_atomic_path(w->f), name);
    if (st < 0) return st;
    unsigned char hdr[FSCI__NPY_HDR_MAX];
    size_t hl = fsci__npy_format_header(hdr, (int)dtype, 0, false, ndim, v.shape);
    FSCI_TRY(member_begin(w, name, hdr, hl, (uint64_t)fsci_view_nbytes(&v)));
    w->streaming = true;
fail:
    return st;
}

int fsci_npz_writer_write(fsci_npz_writer *w, const void *data, size_t nbytes)
{
    FSCI_CHECK(w, FSCI_EINVAL, "npz writer: NULL writer");
    if (w->poisoned)
        return WERR(w, w->poisoned, NULL, "an earlier error made this archive unusable (%s)",
                    fsci_strerror(w->poisoned));
    if (!w->in_member || !w->streaming)
        return WERR(w, FSCI_EINVAL, NULL, "write without fsci_npz_writer_begin");
    if (nbytes > 0 && !data) return WERR(w, FSCI_EINVAL, w->cur.name, "NULL data");
    int st = member_data(w, data, nbytes);
    if (st < 0) member_cleanup(w);
    return st;
}

int fsci_npz_writer_end(fsci_npz_writer *w)
{
    FSCI_CHECK(w, FSCI_EINVAL, "npz writer: NULL writer");
    if (w->poisoned)
        return WERR(w, w->poisoned, NULL, "an earlier error made this archive unusable (%s)",
                    fsci_strerror(w->poisoned));
    if (!w->in_member || !w->streaming)
        return WERR(w, FSCI_EINVAL, NULL, "end without fsci_npz_writer_begin");
    return member_end(w);
}

static int write_directory(fsci_npz_writer *w)
{
    int st = FSCI_OK;
    const uint64_t L = g_zip64_limit;
    uint64_t cd_start = w->pos;
    for (int64_t i = 0; i < w->n; i++) {
        const wentry *e = &w->e[i];
        size_t nlen = strlen(e->name);
        bool zu = e->usize >= L, zc = e->csize >= L, zo = e->loff >= L;
        unsigned nx = (unsigned)zu + (unsigned)zc + (unsigned)zo;
        bool z64 = nx > 0;
        unsigned char c[CENTRAL_LEN + 28], *p = c;
        p = wr32(p, CENTRAL_SIG);
        p = wr16(p, 0x0300 | (z64 ? 45 : 20)); /* made by: Unix */
        p = wr16(p, z64 ? 45 : 20);
        p = wr16(p, e->flags);
        p = wr16(p, e->method);
        p = wr16(p, 0);
        p = wr16(p, 0x0021);
        p = wr32(p, e->crc);
        p = wr32(p, zc ? 0xFFFFFFFFu : (uint32_t)e->csize);
        p = wr32(p, zu ? 0xFFFFFFFFu : (uint32_t)e->usize);
        p = wr16(p, (unsigned)nlen);
        p = wr16(p, z64 ? 4 + 8 * nx : 0);
        p = wr16(p, 0);                       /* comment */
        p = wr16(p, 0);                       /* disk */
        p = wr16(p, 0);                       /* internal attributes */
        p = wr32(p, (uint32_t)0100644 << 16); /* regular file, rw-r--r-- */
        p = wr32(p, zo ? 0xFFFFFFFFu : (uint32_t)e->loff);
        FSCI_TRY(w_raw(w, c, CENTRAL_LEN));
        FSCI_TRY(w_raw(w, e->name, nlen));
        if (z64) {
            p = c;
            p = wr16(p, 1);
            p = wr16(p, 8 * nx);
            if (zu) p = wr64(p, e->usize);
            if (zc) p = wr64(p, e->csize);
            if (zo) p = wr64(p, e->loff);
            FSCI_TRY(w_raw(w, c, (size_t)(p - c)));
        }
    }
    uint64_t cd_size = w->pos - cd_start, n = (uint64_t)w->n;
    bool zn = n >= 0xFFFF || n >= L, zs = cd_size >= L, zo = cd_start >= L;
    unsigned char r[ZIP64_EOCD_LEN], *p;
    if (zn || zs || zo) {
        uint64_t z64_off = w->pos;
        p = r;
        p = wr32(p, ZIP64_EOCD_SIG);
        p = wr64(p, ZIP64_EOCD_LEN - 12); /* size of the rest of the record */
        p = wr16(p, 0x0300 | 45);
        p = wr16(p, 45);
        p = wr32(p, 0);
        p = wr32(p, 0);
        p = wr64(p, n);
        p = wr64(p, n);
        p = wr64(p, cd_size);
        p = wr64(p, cd_start);
        FSCI_TRY(w_raw(w, r, ZIP64_EOCD_LEN));
        p = r;
        p = wr32(p, ZIP64_LOC_SIG);
        p = wr32(p, 0);
        p = wr64(p, z64_off);
        p = wr32(p, 1);
        FSCI_TRY(w_raw(w, r, ZIP64_LOC_LEN));
    }
    p = r;
    p = wr32(p, EOCD_SIG);
    p = wr16(p, 0);
    p = wr16(p, 0);
    p = wr16(p, zn ? 0xFFFF : (unsigned)n);
    p = wr16(p, zn ? 0xFFFF : (unsigned)n);
    p = wr32(p, zs ? 0xFFFFFFFFu : (uint32_t)cd_size);
    p = wr32(p, zo ? 0xFFFFFFFFu : (uint32_t)cd_start);
    p = wr16(p, 0);
    FSCI_TRY(w_raw(w, r, EOCD_LEN));
fail:
    return st;
}

int fsci_npz_writer_close(fsci_npz_writer **wp)
{
    FSCI_CHECK(wp && *wp, FSCI_EINVAL, "npz writer close: NULL writer");
    fsci_npz_writer *w = *wp;
    int st = FSCI_OK;
    if (w->poisoned) {
        st = WERR(w, w->poisoned, NULL, "not written: an earlier error made the archive unusable (%s)",
                  fsci_strerror(w->poisoned));
        goto fail;
    }
    if (w->in_member) {
        st = WERR(w, FSCI_EINVAL, w->cur.name, "begun but never ended: archive not written");
        goto fail;
    }
    FSCI_TRY(write_directory(w));
    st = fsci_atomic_commit(&w->f); /* removes the temporary file on failure */
fail:
    fsci_npz_writer_abort(wp);
    return st;
}
