/* .npy writing: header formatting, view checks, strided gathering and the
 * atomic file writer. */
#include <stdio.h>
#include <string.h>

#include "core/io/npy_impl.h"
#include "fastsci/core/alloc.h"
#include "fastsci/core/atomic.h"
#include "fastsci/core/npy.h"

#define IO_CHUNK ((size_t)1 << 30)
enum { GATHER_BUF = 1 << 18 };

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
        const char *code = fsci__npy_descr_code((fsci_dtype)dtype);
        char bo = fsci_dtype_size((fsci_dtype)dtype) == 1 ? '|' : fsci__host_is_le() ? '<' : '>';
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
    int st = FSCI_OK;
    unsigned char *buf = NULL;
    int64_t numel = fsci_view_numel(v);
    if (numel == 0) return FSCI_OK;
    size_t es = fsci_dtype_size(v->dtype);
    bool direct = fortran ? fsci_view_is_f_contiguous(v) : fsci_view_is_c_contiguous(v);
    if (direct) {
        const unsigned char *p = v->data;
        uint64_t left = (uint64_t)numel * es;
        while (left > 0) {
            size_t n = left < IO_CHUNK ? (size_t)left : IO_CHUNK;
            FSCI_TRY(sink(ctx, p, n));
            p += n;
            left -= n;
        }
        return FSCI_OK;
    }
    /* Gather in C order through a small buffer, a row (last axis) at a time. */
    buf = fsci_malloc(GATHER_BUF, 1);
    if (!buf) return FSCI_ENOMEM;
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

static int atomic_sink(void *ctx, const void *p, size_t n)
{
    return fsci_atomic_write(ctx, p, n);
}

int fsci_npy_write(const char *path, const fsci_view *v)
{
    int st = FSCI_OK;
    fsci_atomic *a = NULL;
    FSCI_CHECK(path, FSCI_EINVAL, "npy write: NULL path");
    FSCI_TRY(fsci__npy_check_view(v, path, NULL));
    unsigned char hdr[FSCI__NPY_HDR_MAX];
    bool fortran = fsci__npy_view_order(v);
    size_t hl = fsci__npy_format_header(hdr, (int)v->dtype, 0, fortran, v->ndim, v->shape);
    FSCI_TRY(fsci_atomic_open(path, FSCI_ATOMIC_DEFAULT, &a));
    FSCI_TRY(fsci_atomic_write(a, hdr, hl));
    st = fsci__npy_emit_view(v, fortran, atomic_sink, a);
    if (st == FSCI_ENOMEM) st = fsci__io_error_prefix(st, path, NULL);
    if (st < 0) goto fail;
    return fsci_atomic_commit(&a);
fail:
    fsci_atomic_abort(&a);
    return st;
}
