/* Reading an array as a given dtype: fsci_npy_read_as, fsci_npz_read_as. */
#include <string.h>

#include "core/io/npy_impl.h"
#include "fastsci/core/alloc.h"
#include "fastsci/core/npy.h"

static bool is_complex(fsci_dtype t)
{
    return t == FSCI_C64 || t == FSCI_C128;
}

static bool is_float(fsci_dtype t)
{
    return t == FSCI_F32 || t == FSCI_F64;
}

static void get(const void *p, fsci_dtype t, int64_t i, double *re, double *im)
{
    *im = 0;
    switch (t) {
    case FSCI_F32: *re = (double)((const float *)p)[i]; break;
    case FSCI_F64: *re = ((const double *)p)[i]; break;
    case FSCI_C64:
        *re = (double)((const float *)p)[2 * i];
        *im = (double)((const float *)p)[2 * i + 1];
        break;
    case FSCI_C128:
        *re = ((const double *)p)[2 * i];
        *im = ((const double *)p)[2 * i + 1];
        break;
    case FSCI_I32: *re = (double)((const int32_t *)p)[i]; break;
    case FSCI_I64: *re = (double)((const int64_t *)p)[i]; break;
    case FSCI_U8: *re = (double)((const uint8_t *)p)[i]; break;
    default: *re = (double)((const uint16_t *)p)[i]; break;
    }
}

static void put(void *p, fsci_dtype t, int64_t i, double re, double im)
{
    switch (t) {
    case FSCI_F32: ((float *)p)[i] = (float)re; break;
    case FSCI_F64: ((double *)p)[i] = re; break;
    case FSCI_C64:
        ((float *)p)[2 * i] = (float)re;
        ((float *)p)[2 * i + 1] = (float)im;
        break;
    default:
        ((double *)p)[2 * i] = re;
        ((double *)p)[2 * i + 1] = im;
        break;
    }
}

/* Replace *a by a copy converted to `to` (same shape and memory order). */
static int convert(fsci_array **a, fsci_dtype to, const char *fname, const char *member)
{
    int st = FSCI_OK;
    fsci_array *b = NULL;
    fsci_dtype from = (*a)->view.dtype;
    if (from == to) return FSCI_OK;
    /* real -> float or complex; complex -> complex; integers only as themselves */
    bool ok = is_complex(to) || (is_float(to) && !is_complex(from));
    if ((int)to < 0 || to >= FSCI_NDTYPES) ok = false;
    if (!ok)
        return FSCI__IOERR(FSCI_EINVAL, fname, member, "dtype %s cannot be read as %s", fsci_dtype_name(from),
                           (int)to >= 0 && to < FSCI_NDTYPES ? fsci_dtype_name(to) : "(invalid dtype)");
    const fsci_view *v = &(*a)->view;
    bool fortran = !fsci_view_is_c_contiguous(v);
    st = fsci_array_create(to, v->ndim, v->shape, fortran, &b);
    if (st < 0) return fsci__io_error_prefix(st, fname, member);
    int64_t n = fsci_view_numel(v);
    for (int64_t i = 0; i < n; i++) {
        double re, im;
        get(v->data, from, i, &re, &im);
        put(b->view.data, to, i, re, im);
    }
    fsci_array_destroy(a);
    *a = b;
    return st;
}

int fsci_npy_read_as(const char *path, fsci_dtype dtype, fsci_array **out)
{
    int st = FSCI_OK;
    FSCI_TRY(fsci_npy_read(path, out));
    st = convert(out, dtype, path, NULL);
    if (st < 0) fsci_array_destroy(out);
fail:
    return st;
}

int fsci_npz_read_as(fsci_npz *z, const char *name, fsci_dtype dtype, fsci_array **out)
{
    int st = FSCI_OK;
    FSCI_TRY(fsci_npz_read(z, name, out));
    st = convert(out, dtype, fsci__npz_fname(z), name);
    if (st < 0) fsci_array_destroy(out);
fail:
    return st;
}
