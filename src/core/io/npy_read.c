/* .npy reading: the header parser and the array reader, for plain files and
 * (through npz_read.c) zip members.
 *
 * Format: numpy/doc/neps/nep-0001-npy-format.rst and numpy/lib/format.py
 * ("\x93NUMPY", major, minor, little-endian header length of 2 bytes for
 * version 1.0 and 4 bytes for 2.0/3.0, then a Python dict literal with the
 * keys 'descr', 'fortran_order' and 'shape', padded with spaces and '\n' so
 * the data starts at a multiple of 64). */
#include <stdio.h>
#include <string.h>

#include "core/io/io_impl.h"
#include "core/io/npy_impl.h"
#include "fastsci/core/alloc.h"
#include "fastsci/core/npy.h"

/* Largest header accepted. numpy itself refuses headers over 10000 bytes by
 * default; the headers of the dtypes we support are < 400 bytes. */
enum { NPY_HEADER_LIMIT = 1 << 20 };

#define RD_ERR(r, code, ...) FSCI__IOERR((code), (r)->fname, (r)->member, __VA_ARGS__)

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

const char *fsci__npy_descr_code(fsci_dtype dtype)
{
    for (size_t k = 0; k < sizeof descr_table / sizeof descr_table[0]; k++)
        if (descr_table[k].dtype == dtype) return descr_table[k].code;
    return "";
}

/* Map a descr string; false if unsupported. */
static bool map_descr(const char *d, fsci__npy_hdr *h)
{
    char bo = d[0];
    if (bo != '<' && bo != '>' && bo != '|' && bo != '=') return false;
    const char *t = d + 1;
    bool file_le = bo == '<' || ((bo == '|' || bo == '=') && fsci__host_is_le());
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
        h->swap = file_le != fsci__host_is_le();
        return true;
    }
    for (size_t k = 0; k < sizeof descr_table / sizeof descr_table[0]; k++) {
        if (strcmp(t, descr_table[k].code) == 0) {
            h->kind = FSCI__NPY_NUMERIC;
            h->dtype = descr_table[k].dtype;
            h->itemsize = fsci_dtype_size(h->dtype);
            h->swap = h->itemsize > 1 && file_le != fsci__host_is_le();
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
