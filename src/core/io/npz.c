/* .npz archives: ZIP files whose members are .npy streams.
 *
 * Layout from PKWARE's APPNOTE.TXT (6.3.x): local file header (30 bytes +
 * name + extra) before each member's data, the central directory (46 bytes
 * + name + extra + comment per entry), optionally the zip64 end-of-central-
 * directory record (56 bytes) and locator (20 bytes), then the end-of-central-
 * directory record (22 bytes + comment). Sizes and offsets that do not fit in
 * 32 bits are 0xFFFFFFFF and the real values follow in the zip64 extra field
 * (id 0x0001) in the order: size, compressed size, local header offset, disk.
 * numpy.savez writes members through zipfile with force_zip64=True, so every
 * local header it writes carries a zip64 extra field; the central directory
 * (which this reader trusts) carries one only when needed. */
#include <stdio.h>
#include <string.h>

#include "core/io/npy_impl.h"
#include "fastsci/core/alloc.h"
#include "fastsci/core/npy.h"
#include "fastsci/core/parallel.h"

enum {
    LOCAL_SIG = 0x04034b50,
    CENTRAL_SIG = 0x02014b50,
    EOCD_SIG = 0x06054b50,
    ZIP64_EOCD_SIG = 0x06064b50,
    ZIP64_LOC_SIG = 0x07064b50,
    LOCAL_LEN = 30,
    CENTRAL_LEN = 46,
    EOCD_LEN = 22,
    ZIP64_EOCD_LEN = 56,
    ZIP64_LOC_LEN = 20,
    MAX_COMMENT = 65535,
    ZBUF = 1 << 16,
};

/* Deflate cannot expand more than 1032:1 (a 258-byte match coded in 2 bits;
 * zlib FAQ, "What's the maximum compression ratio?"). A member declaring more
 * is corrupt or a compression bomb. */
#define DEFLATE_MAX_RATIO 1032u

static uint64_t g_zip64_limit = 0xFFFFFFFFu;

void fsci__npz_set_zip64_limit(uint64_t limit)
{
    g_zip64_limit = limit;
}

static uint16_t rd16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}
static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const unsigned char *p)
{
    return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static unsigned char *wr16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v & 0xff);
    p[1] = (unsigned char)(v >> 8 & 0xff);
    return p + 2;
}
static unsigned char *wr32(unsigned char *p, uint32_t v)
{
    for (int k = 0; k < 4; k++) p[k] = (unsigned char)(v >> (8 * k) & 0xff);
    return p + 4;
}
static unsigned char *wr64(unsigned char *p, uint64_t v)
{
    for (int k = 0; k < 8; k++) p[k] = (unsigned char)(v >> (8 * k) & 0xff);
    return p + 8;
}

static bool ends_with_npy(const char *s, size_t n)
{
    return n >= 4 && memcmp(s + n - 4, ".npy", 4) == 0;
}

/* ---- reading --------------------------------------------------------------- */

typedef struct zent {
    char *name;    /* as stored */
    char *display; /* without ".npy" */
    uint64_t csize, usize, loff;
    uint32_t crc;
    uint16_t method, flags, name_len;
} zent;

struct fsci_npz {
    fsci__blob b;
    char *fname;
    zent *e;
    int64_t n;
    char *pool;
    uint64_t data_end; /* start of the central directory: member data ends before it */
};

#define ZERR(z, code, ...) FSCI__IOERR((code), (z)->fname, NULL, __VA_ARGS__)

/* Parse the zip64 extra field of a directory entry. */
static int parse_extra(fsci_npz *z, int64_t i, const unsigned char *x, size_t xlen, zent *e, bool usize64,
                       bool csize64, bool loff64)
{
    size_t k = 0;
    while (xlen - k >= 4) {
        unsigned id = rd16(x + k), len = rd16(x + k + 2);
        if (len > xlen - k - 4)
            return ZERR(z, FSCI_EFORMAT, "directory entry %lld: extra field 0x%04x overruns (%u bytes)",
                        (long long)i, id, len);
        if (id == 0x0001) {
            const unsigned char *p = x + k + 4;
            size_t left = len;
            bool want[3] = {usize64, csize64, loff64};
            uint64_t *dst[3] = {&e->usize, &e->csize, &e->loff};
            for (int f = 0; f < 3; f++) {
                if (!want[f]) continue;
                if (left < 8)
                    return ZERR(z, FSCI_EFORMAT, "directory entry %lld: zip64 extra field too short",
                                (long long)i);
                *dst[f] = rd64(p);
                p += 8;
                left -= 8;
            }
            return FSCI_OK;
        }
        k += 4 + len;
    }
    if (usize64 || csize64 || loff64)
        return ZERR(z, FSCI_EFORMAT, "directory entry %lld: sizes need a zip64 extra field but it is missing",
                    (long long)i);
    return FSCI_OK;
}

static int npz_parse(fsci_npz *z)
{
    int st = FSCI_OK;
    unsigned char *tail = NULL, *cd = NULL;
    uint64_t size = z->b.size;
    if (size < EOCD_LEN) {
        st = ZERR(z, FSCI_EFORMAT, "not a zip archive: %llu bytes is too short", (unsigned long long)size);
        goto fail;
    }
    size_t tlen = size < (uint64_t)(EOCD_LEN + MAX_COMMENT) ? (size_t)size : EOCD_LEN + MAX_COMMENT;
    tail = fsci_malloc(tlen, 1);
    if (!tail) goto nomem;
    FSCI_TRY(fsci__blob_read(&z->b, size - tlen, tail, tlen, z->fname, NULL));
    size_t p = tlen - EOCD_LEN + 1;
    bool found = false;
    while (p-- > 0) {
        if (rd32(tail + p) == EOCD_SIG && p + EOCD_LEN + rd16(tail + p + 20) <= tlen) {
            found = true;
            break;
        }
    }
    if (!found) {
        st = ZERR(z, FSCI_EFORMAT, "not a zip archive (no end-of-central-directory record)");
        goto fail;
    }
    const unsigned char *eo = tail + p;
    uint64_t eocd_off = size - tlen + p;
    uint64_t nent = rd16(eo + 10), cd_size = rd32(eo + 12), cd_off = rd32(eo + 16);
    unsigned disk = rd16(eo + 4), cd_disk = rd16(eo + 6);
    uint64_t cd_limit = eocd_off;
    unsigned char loc[ZIP64_LOC_LEN];
    bool zip64 = false;
    if (eocd_off >= ZIP64_LOC_LEN) {
        FSCI_TRY(fsci__blob_read(&z->b, eocd_off - ZIP64_LOC_LEN, loc, ZIP64_LOC_LEN, z->fname, NULL));
        zip64 = rd32(loc) == ZIP64_LOC_SIG;
    }
    if (zip64) {
        uint64_t z64_off = rd64(loc + 8);
        if (rd32(loc + 4) != 0 || rd32(loc + 16) > 1) {
            st = ZERR(z, FSCI_ENOTSUP, "multi-disk zip archives are not supported");
            goto fail;
        }
        uint64_t loc_off = eocd_off - ZIP64_LOC_LEN;
        if (z64_off > loc_off || loc_off - z64_off < ZIP64_EOCD_LEN) {
            st = ZERR(z, FSCI_EFORMAT, "zip64 end record offset %llu is outside the archive",
                      (unsigned long long)z64_off);
            goto fail;
        }
        unsigned char r64[ZIP64_EOCD_LEN];
        FSCI_TRY(fsci__blob_read(&z->b, z64_off, r64, ZIP64_EOCD_LEN, z->fname, NULL));
        if (rd32(r64) != ZIP64_EOCD_SIG) {
            st = ZERR(z, FSCI_EFORMAT, "bad zip64 end-of-central-directory signature at offset %llu",
                      (unsigned long long)z64_off);
            goto fail;
        }
        disk = rd32(r64 + 16) != 0;
        cd_disk = rd32(r64 + 20) != 0;
        nent = rd64(r64 + 32);
        cd_size = rd64(r64 + 40);
        cd_off = rd64(r64 + 48);
        cd_limit = z64_off;
    }
    if (disk != 0 || cd_disk != 0) {
        st = ZERR(z, FSCI_ENOTSUP, "multi-disk zip archives are not supported");
        goto fail;
    }
    if (cd_off > cd_limit || cd_size > cd_limit - cd_off) {
        st = ZERR(z, FSCI_EFORMAT,
                  "central directory (%llu bytes at offset %llu) runs past its end record at %llu",
                  (unsigned long long)cd_size, (unsigned long long)cd_off, (unsigned long long)cd_limit);
        goto fail;
    }
    if (nent > cd_size / CENTRAL_LEN) {
        st = ZERR(z, FSCI_EFORMAT, "central directory of %llu bytes cannot hold %llu entries",
                  (unsigned long long)cd_size, (unsigned long long)nent);
        goto fail;
    }
    z->data_end = cd_off;
    cd = fsci_malloc((size_t)cd_size, 1);
    z->e = fsci_calloc((size_t)nent, sizeof *z->e);
    /* Each name stored twice (as is, and without ".npy"), NUL-terminated. */
    z->pool = fsci_malloc(2 * (size_t)cd_size + 2, 1);
    if (!cd || !z->e || !z->pool) goto nomem;
    FSCI_TRY(fsci__blob_read(&z->b, cd_off, cd, (size_t)cd_size, z->fname, NULL));
    size_t off = 0, pool_used = 0;
    for (int64_t i = 0; i < (int64_t)nent; i++) {
        if (cd_size - off < CENTRAL_LEN) {
            st = ZERR(z, FSCI_EFORMAT, "central directory entry %lld is truncated", (long long)i);
            goto fail;
        }
        const unsigned char *c = cd + off;
        if (rd32(c) != CENTRAL_SIG) {
            st = ZERR(z, FSCI_EFORMAT, "central directory entry %lld has a bad signature at offset %llu",
                      (long long)i, (unsigned long long)(cd_off + off));
            goto fail;
        }
        zent *e = &z->e[i];
        e->flags = rd16(c + 8);
        e->method = rd16(c + 10);
        e->crc = rd32(c + 16);
        e->csize = rd32(c + 20);
        e->usize = rd32(c + 24);
        size_t nlen = rd16(c + 28), xlen = rd16(c + 30), clen = rd16(c + 32);
        e->loff = rd32(c + 42);
        if (CENTRAL_LEN + nlen + xlen + clen > cd_size - off) {
            st = ZERR(z, FSCI_EFORMAT, "central directory entry %lld is truncated", (long long)i);
            goto fail;
        }
        const char *name = (const char *)(c + CENTRAL_LEN);
        if (memchr(name, '\0', nlen)) {
            st = ZERR(z, FSCI_EFORMAT, "central directory entry %lld: file name contains a NUL byte",
                      (long long)i);
            goto fail;
        }
        FSCI_TRY(parse_extra(z, i, c + CENTRAL_LEN + nlen, xlen, e, e->usize == 0xFFFFFFFFu,
                             e->csize == 0xFFFFFFFFu, e->loff == 0xFFFFFFFFu));
        e->name_len = (uint16_t)nlen;
        e->name = z->pool + pool_used;
        memcpy(e->name, name, nlen);
        e->name[nlen] = '\0';
        pool_used += nlen + 1;
        size_t dlen = ends_with_npy(name, nlen) ? nlen - 4 : nlen;
        e->display = z->pool + pool_used;
        memcpy(e->display, name, dlen);
        e->display[dlen] = '\0';
        pool_used += dlen + 1;
        off += CENTRAL_LEN + nlen + xlen + clen;
        z->n = i + 1;
    }
    fsci_free(tail);
    fsci_free(cd);
    return FSCI_OK;
nomem:
    st = fsci__io_error_prefix(FSCI_ENOMEM, z->fname, NULL);
fail:
    fsci_free(tail);
    fsci_free(cd);
    return st;
}

static int npz_open_common(fsci_npz *z, const char *name, fsci_npz **out)
{
    int st = FSCI_OK;
    size_t n = strlen(name);
    z->fname = fsci_malloc(n + 1, 1);
    if (!z->fname) {
        st = fsci__io_error_prefix(FSCI_ENOMEM, name, NULL);
        goto fail;
    }
    memcpy(z->fname, name, n + 1);
    FSCI_TRY(npz_parse(z));
    *out = z;
    return FSCI_OK;
fail:
    fsci_npz_close(&z);
    return st;
}

int fsci_npz_open(const char *path, fsci_npz **out)
{
    FSCI_CHECK(out, FSCI_EINVAL, "npz open: NULL output pointer");
    *out = NULL;
    FSCI_CHECK(path, FSCI_EINVAL, "npz open: NULL path");
    fsci_npz *z = fsci_calloc(1, sizeof *z);
    if (!z) return fsci__io_error_prefix(FSCI_ENOMEM, path, NULL);
    z->b.fd = -1;
    int st = fsci__blob_open(&z->b, path);
    if (st < 0) {
        fsci_free(z);
        return st;
    }
    return npz_open_common(z, path, out);
}

int fsci_npz_open_mem(const void *buf, size_t len, const char *name, fsci_npz **out)
{
    FSCI_CHECK(out, FSCI_EINVAL, "npz open: NULL output pointer");
    *out = NULL;
    if (!name) name = "<memory>";
    FSCI_CHECK(buf || len == 0, FSCI_EINVAL, "%s: NULL buffer", name);
    fsci_npz *z = fsci_calloc(1, sizeof *z);
    if (!z) return fsci__io_error_prefix(FSCI_ENOMEM, name, NULL);
    fsci__blob_mem(&z->b, buf, len);
    return npz_open_common(z, name, out);
}

void fsci_npz_close(fsci_npz **zp)
{
    if (!zp || !*zp) return;
    fsci_npz *z = *zp;
    fsci__blob_close(&z->b);
    fsci_free(z->e);
    fsci_free(z->pool);
    fsci_free(z->fname);
    fsci_free(z);
    *zp = NULL;
}

int64_t fsci_npz_count(const fsci_npz *z)
{
    return z ? z->n : 0;
}

const char *fsci_npz_name(const fsci_npz *z, int64_t i)
{
    if (!z || i < 0 || i >= z->n) return NULL;
    return z->e[i].display;
}

static zent *npz_find(const fsci_npz *z, const char *name)
{
    if (!z || !name) return NULL;
    size_t n = strlen(name);
    for (int64_t i = 0; i < z->n; i++) {
        const zent *e = &z->e[i];
        if (e->name_len == n + 4 && ends_with_npy(e->name, e->name_len) && memcmp(e->name, name, n) == 0)
            return &z->e[i];
    }
    for (int64_t i = 0; i < z->n; i++)
        if (z->e[i].name_len == n && memcmp(z->e[i].name, name, n) == 0) return &z->e[i];
    return NULL;
}

bool fsci_npz_has(const fsci_npz *z, const char *name)
{
    return npz_find(z, name) != NULL;
}

static int no_member(const fsci_npz *z, const char *name)
{
    char list[512];
    size_t k = 0;
    list[0] = '\0';
    for (int64_t i = 0; i < z->n; i++) {
        int w = snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "", z->e[i].display);
        if (w < 0 || (size_t)w >= sizeof list - k) {
            memcpy(list + (k < sizeof list - 6 ? k : sizeof list - 6), ", ...", 6);
            break;
        }
        k += (size_t)w;
    }
    return ZERR(z, FSCI_EINVAL, "no member '%.200s' (members: %s)", name, z->n ? list : "none");
}

/* Locate and check member e's data; set up a reader that verifies its CRC. */
static int member_reader(fsci_npz *z, const zent *e, fsci__rd *r)
{
    const char *m = e->name;
    unsigned char lh[LOCAL_LEN];
    char *lname = NULL;
    int st = FSCI_OK;
    memset(r, 0, sizeof *r);
    if (e->flags & 1) return FSCI__IOERR(FSCI_ENOTSUP, z->fname, m, "encrypted members are not supported");
    if (e->method != 0 && e->method != 8)
        return FSCI__IOERR(FSCI_ENOTSUP, z->fname, m,
                           "compression method %u is not supported (only 0 stored and 8 deflate)",
                           (unsigned)e->method);
    if (e->loff > z->data_end || z->data_end - e->loff < LOCAL_LEN)
        return FSCI__IOERR(FSCI_EFORMAT, z->fname, m,
                           "local header offset %llu is beyond the member area (%llu bytes)",
                           (unsigned long long)e->loff, (unsigned long long)z->data_end);
    FSCI_TRY(fsci__blob_read(&z->b, e->loff, lh, LOCAL_LEN, z->fname, m));
    if (rd32(lh) != LOCAL_SIG) {
        st = FSCI__IOERR(FSCI_EFORMAT, z->fname, m, "bad local header signature at offset %llu",
                         (unsigned long long)e->loff);
        goto fail;
    }
    uint64_t lnlen = rd16(lh + 26), lxlen = rd16(lh + 28);
    uint64_t data_off = e->loff + LOCAL_LEN + lnlen + lxlen;
    if (data_off > z->data_end) {
        st = FSCI__IOERR(FSCI_EFORMAT, z->fname, m, "local header at offset %llu runs past the member area",
                         (unsigned long long)e->loff);
        goto fail;
    }
    lname = fsci_malloc((size_t)lnlen + 1, 1);
    if (!lname) {
        st = fsci__io_error_prefix(FSCI_ENOMEM, z->fname, m);
        goto fail;
    }
    FSCI_TRY(fsci__blob_read(&z->b, e->loff + LOCAL_LEN, lname, (size_t)lnlen, z->fname, m));
    if (lnlen != e->name_len || memcmp(lname, e->name, (size_t)lnlen) != 0) {
        st = FSCI__IOERR(FSCI_EFORMAT, z->fname, m,
                         "local header file name differs from the central directory's");
        goto fail;
    }
    if (e->csize > z->data_end - data_off) {
        st = FSCI__IOERR(FSCI_EFORMAT, z->fname, m,
                         "member data (%llu bytes at offset %llu) runs past the member area (%llu bytes)",
                         (unsigned long long)e->csize, (unsigned long long)data_off,
                         (unsigned long long)z->data_end);
        goto fail;
    }
    if (e->method == 0) {
        if (e->csize != e->usize) {
            st =
                FSCI__IOERR(FSCI_EFORMAT, z->fname, m, "stored member with compressed size %llu != size %llu",
                            (unsigned long long)e->csize, (unsigned long long)e->usize);
            goto fail;
        }
        fsci__rd_init_stored(r, &z->b, data_off, e->csize, z->fname, m);
    } else {
        if (e->usize > e->csize * DEFLATE_MAX_RATIO + 1024) {
            st = FSCI__IOERR(FSCI_EFORMAT, z->fname, m,
                             "declares %llu bytes from %llu compressed bytes, more than deflate "
                             "can produce (%u:1): corrupt or a compression bomb",
                             (unsigned long long)e->usize, (unsigned long long)e->csize, DEFLATE_MAX_RATIO);
            goto fail;
        }
        FSCI_TRY(fsci__rd_init_deflate(r, &z->b, data_off, e->csize, e->usize, z->fname, m));
    }
    r->crc_check = true;
    r->crc_expect = e->crc;
fail:
    fsci_free(lname);
    return st;
}

static int lookup(fsci_npz *z, const char *name, zent **e)
{
    FSCI_CHECK(z && name, FSCI_EINVAL, "npz: NULL archive or member name");
    *e = npz_find(z, name);
    if (!*e) return no_member(z, name);
    return FSCI_OK;
}

int fsci_npz_read(fsci_npz *z, const char *name, fsci_array **out)
{
    FSCI_CHECK(out, FSCI_EINVAL, "npz read: NULL output pointer");
    *out = NULL;
    zent *e;
    int st = lookup(z, name, &e);
    if (st < 0) return st;
    fsci__rd r;
    st = member_reader(z, e, &r);
    if (st >= 0) st = fsci__npy_read_array(&r, out);
    fsci__rd_free(&r);
    return st;
}

int fsci_npz_peek(fsci_npz *z, const char *name, fsci_dtype *dtype, int *ndim, int64_t *shape)
{
    zent *e;
    int st = lookup(z, name, &e);
    if (st < 0) return st;
    fsci__rd r;
    fsci__npy_hdr h;
    FSCI_TRY(member_reader(z, e, &r));
    FSCI_TRY(fsci__npy_read_header(&r, &h));
    if (h.kind != FSCI__NPY_NUMERIC) {
        st = FSCI__IOERR(FSCI_ENOTSUP, z->fname, e->name,
                         "unsupported dtype '%s': a unicode string, not a numeric array", h.descr);
        goto fail;
    }
    if (dtype) *dtype = h.dtype;
    if (ndim) *ndim = h.ndim;
    if (shape)
        for (int d = 0; d < FSCI_MAX_NDIM; d++) shape[d] = d < h.ndim ? h.shape[d] : 0;
fail:
    fsci__rd_free(&r);
    return st;
}

/* UCS-4 code points to UTF-8 (RFC 3629). */
static size_t put_utf8(char *o, uint32_t c)
{
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xC0 | c >> 6);
        o[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | c >> 12);
        o[1] = (char)(0x80 | (c >> 6 & 0x3F));
        o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | c >> 18);
    o[1] = (char)(0x80 | (c >> 12 & 0x3F));
    o[2] = (char)(0x80 | (c >> 6 & 0x3F));
    o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

int fsci_npz_read_string(fsci_npz *z, const char *name, char **utf8_out)
{
    FSCI_CHECK(utf8_out, FSCI_EINVAL, "npz read string: NULL output pointer");
    *utf8_out = NULL;
    zent *e;
    int st = lookup(z, name, &e);
    if (st < 0) return st;
    fsci__rd r;
    fsci__npy_hdr h;
    unsigned char *raw = NULL;
    char *s = NULL;
    FSCI_TRY(member_reader(z, e, &r));
    FSCI_TRY(fsci__npy_read_header(&r, &h));
    if (h.kind != FSCI__NPY_UNICODE || h.numel != 1) {
        char sh[FSCI_MAX_NDIM * 22 + 4];
        fsci__npy_shape_str(sh, sizeof sh, h.ndim, h.shape);
        st = FSCI__IOERR(FSCI_EINVAL, z->fname, e->name,
                         "holds '%s' with shape %s, not a single unicode string", h.descr, sh);
        goto fail;
    }
    size_t nchar = h.itemsize / 4;
    raw = fsci_malloc(h.itemsize, 1);
    s = fsci_malloc(4 * nchar + 1, 1);
    if (!raw || !s) {
        st = fsci__io_error_prefix(FSCI_ENOMEM, z->fname, e->name);
        goto fail;
    }
    FSCI_TRY(fsci__rd_read(&r, raw, h.itemsize));
    FSCI_TRY(fsci__rd_finish(&r));
    for (size_t i = 0; i < nchar; i++) {
        unsigned char *q = raw + 4 * i;
        if (h.file_be) { /* to little-endian, which rd32 reads */
            unsigned char t0 = q[0], t1 = q[1];
            q[0] = q[3];
            q[1] = q[2];
            q[2] = t1;
            q[3] = t0;
        }
    }
    size_t end = nchar; /* numpy drops trailing NULs */
    while (end > 0 && rd32(raw + 4 * (end - 1)) == 0) end--;
    size_t k = 0;
    for (size_t i = 0; i < end; i++) {
        uint32_t c = rd32(raw + 4 * i);
        if (c == 0 || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
            st = FSCI__IOERR(FSCI_EFORMAT, z->fname, e->name,
                             "string holds an invalid code point U+%04X at character %zu", (unsigned)c, i);
            goto fail;
        }
        k += put_utf8(s + k, c);
    }
    s[k] = '\0';
    *utf8_out = s;
    s = NULL;
fail:
    fsci_free(raw);
    fsci_free(s);
    fsci__rd_free(&r);
    return st;
}

/* ---- writing ---------------------------------------------------------------- */

typedef struct wentry {
    char *name; /* with ".npy" */
    uint64_t loff, csize, usize;
    uint32_t crc;
    uint16_t method, flags;
} wentry;

struct fsci_npz_writer {
    fsci__afile f;
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

#define WERR(w, code, member, ...) FSCI__IOERR((code), (w)->f.path, (member), __VA_ARGS__)

static int poison(fsci_npz_writer *w, int st)
{
    if (st < 0 && !w->poisoned) w->poisoned = st;
    return st;
}

static int w_raw(fsci_npz_writer *w, const void *p, size_t n)
{
    int st = fsci__afile_write(&w->f, p, n);
    if (st < 0) return poison(w, st);
    w->pos += n;
    return FSCI_OK;
}

int fsci_npz_writer_create(const char *path, bool compress, fsci_npz_writer **out)
{
    FSCI_CHECK(out, FSCI_EINVAL, "npz writer: NULL output pointer");
    *out = NULL;
    FSCI_CHECK(path, FSCI_EINVAL, "npz writer: NULL path");
    fsci_npz_writer *w = fsci_calloc(1, sizeof *w);
    if (!w) return fsci__io_error_prefix(FSCI_ENOMEM, path, NULL);
    w->compress = compress;
    int st = fsci__afile_create(&w->f, path);
    if (st < 0) {
        fsci_free(w);
        return st;
    }
    *out = w;
    return FSCI_OK;
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
    fsci__afile_abort(&w->f);
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
        if (!e) return fsci__io_error_prefix(FSCI_ENOMEM, w->f.path, NULL);
        if (w->n) memcpy(e, w->e, (size_t)w->n * sizeof *e);
        fsci_free(w->e);
        w->e = e;
        w->cap = cap;
    }
    w->cur.name = fsci_malloc(n + 5, 1);
    if (!w->cur.name) return fsci__io_error_prefix(FSCI_ENOMEM, w->f.path, NULL);
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
            st = fsci__io_error_prefix(FSCI_ENOMEM, w->f.path, w->cur.name);
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
    if (fseeko(w->f.fp, (off_t)off, SEEK_SET) != 0)
        return poison(w, WERR(w, FSCI_EIO, NULL, "cannot seek in the temporary file %s", w->f.tmp));
    return FSCI_OK;
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
    st = fsci__afile_write(&w->f, b, 12);
    if (st < 0) goto io_fail;
    if (w->cur_zip64) {
        FSCI_TRY(seek_to(w, w->cur.loff + LOCAL_LEN + strlen(w->cur.name) + 4));
        p = b;
        p = wr64(p, w->cur.usize);
        p = wr64(p, w->cur.csize);
        st = fsci__afile_write(&w->f, b, 16);
        if (st < 0) goto io_fail;
    }
    FSCI_TRY(seek_to(w, end));
    w->e[w->n++] = w->cur;
    w->cur.name = NULL; /* now owned by the entry */
    member_cleanup(w);
    return FSCI_OK;
io_fail:
    poison(w, st);
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
    st = fsci__npy_check_view(v, w->f.path, name);
    if (st < 0) return st;
    unsigned char hdr[FSCI__NPY_HDR_MAX];
    bool fortran = fsci__npy_view_order(v);
    size_t hl = fsci__npy_format_header(hdr, (int)v->dtype, 0, fortran, v->ndim, v->shape);
    FSCI_TRY(member_begin(w, name, hdr, hl, (uint64_t)fsci_view_nbytes(v)));
    st = fsci__npy_emit_view(v, fortran, member_sink, w);
    if (st == FSCI_ENOMEM) st = fsci__io_error_prefix(st, w->f.path, w->cur.name);
    if (st < 0) {
        poison(w, st);
        member_cleanup(w);
        return st;
    }
    return member_end(w);
fail:
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
            st = member_data(w, buf, used);
            if (st < 0) goto member_fail;
            used = 0;
        }
    }
    if (nchars == 0) {
        wr32(buf, 0);
        used = 4;
    }
    st = member_data(w, buf, used);
    if (st < 0) goto member_fail;
    return member_end(w);
member_fail:
    member_cleanup(w);
fail:
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
    st = fsci__npy_check_view(&v, w->f.path, name);
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
    st = fsci__afile_commit(&w->f); /* removes the temporary file on failure */
fail:
    fsci_npz_writer_abort(wp);
    return st;
}
