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
#include <stdlib.h>
#include <string.h>

#include "core/io/npy_impl.h"
#include "core/io/npz_impl.h"
#include "fastsci/core/alloc.h"
#include "fastsci/core/npy.h"

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
    if (!tail) {
        st = fsci__io_error_prefix(FSCI_ENOMEM, z->fname, NULL);
        goto fail;
    }
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
    if (!cd || !z->e || !z->pool) {
        st = fsci__io_error_prefix(FSCI_ENOMEM, z->fname, NULL);
        goto fail;
    }
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
fail:
    fsci_free(tail);
    fsci_free(cd);
    return st;
}

static int cmp_display(const void *a, const void *b)
{
    const zent *x = *(const zent *const *)a, *y = *(const zent *const *)b;
    int c = strcmp(x->display, y->display);
    return c ? c : (x < y ? -1 : x > y);
}

/* Two entries with the same name (or "a" and "a.npy", which numpy shows
 * alike) make the archive ambiguous: numpy keeps the last one silently;
 * fastsci refuses the archive, naming the member. */
static int check_duplicates(fsci_npz *z)
{
    int st = FSCI_OK;
    const zent **p = NULL;
    if (z->n < 2) return FSCI_OK;
    p = fsci_malloc((size_t)z->n, sizeof *p);
    if (!p) return fsci__io_error_prefix(FSCI_ENOMEM, z->fname, NULL);
    for (int64_t i = 0; i < z->n; i++) p[i] = &z->e[i];
    qsort(p, (size_t)z->n, sizeof *p, cmp_display);
    for (int64_t i = 1; i < z->n; i++)
        if (strcmp(p[i - 1]->display, p[i]->display) == 0) {
            st = FSCI__IOERR(FSCI_EFORMAT, z->fname, p[i]->name,
                             "duplicate member name (also stored as '%.200s'): the archive is ambiguous",
                             p[i - 1]->name);
            goto fail;
        }
fail:
    fsci_free(p);
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
    FSCI_TRY(check_duplicates(z));
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
    int st = FSCI_OK;
    fsci_npz *z = fsci_calloc(1, sizeof *z);
    if (!z) return fsci__io_error_prefix(FSCI_ENOMEM, path, NULL);
    z->b.fd = -1;
    FSCI_TRY(fsci__blob_open(&z->b, path));
    return npz_open_common(z, path, out);
fail:
    fsci_free(z);
    return st;
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

const char *fsci__npz_fname(const fsci_npz *z)
{
    return z ? z->fname : "<null>";
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
