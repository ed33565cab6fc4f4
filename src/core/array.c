#include <string.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/array.h"
#include "fastsci/core/error.h"

static const struct {
    const char *name;
    size_t size;
} dtype_info[FSCI_NDTYPES] = {
    [FSCI_F32] = {"float32", 4},      [FSCI_F64] = {"float64", 8}, [FSCI_C64] = {"complex64", 8},
    [FSCI_C128] = {"complex128", 16}, [FSCI_I32] = {"int32", 4},   [FSCI_I64] = {"int64", 8},
    [FSCI_U8] = {"uint8", 1},         [FSCI_U16] = {"uint16", 2},
};

static bool dtype_valid(fsci_dtype t)
{
    return (int)t >= 0 && t < FSCI_NDTYPES;
}

size_t fsci_dtype_size(fsci_dtype t)
{
    return dtype_valid(t) ? dtype_info[t].size : 0;
}

const char *fsci_dtype_name(fsci_dtype t)
{
    return dtype_valid(t) ? dtype_info[t].name : "invalid";
}

int fsci_dtype_from_name(const char *name, fsci_dtype *out)
{
    FSCI_CHECK(name && out, FSCI_EINVAL, "dtype name: NULL argument");
    for (int t = 0; t < FSCI_NDTYPES; t++) {
        if (strcmp(name, dtype_info[t].name) == 0) {
            *out = (fsci_dtype)t;
            return FSCI_OK;
        }
    }
    return fsci_error_set(FSCI_EINVAL, __FILE__, __LINE__, __func__, "unknown dtype '%s'", name);
}

int fsci_view_init(fsci_view *v, void *data, fsci_dtype dtype, int ndim, const int64_t *shape, bool fortran)
{
    FSCI_CHECK(v, FSCI_EINVAL, "view: NULL view");
    FSCI_CHECK(dtype_valid(dtype), FSCI_EINVAL, "view: invalid dtype %d", (int)dtype);
    FSCI_CHECK(ndim >= 0 && ndim <= FSCI_MAX_NDIM, FSCI_EINVAL, "view: ndim %d outside [0, %d]", ndim,
               FSCI_MAX_NDIM);
    FSCI_CHECK(ndim == 0 || shape, FSCI_EINVAL, "view: NULL shape");
    memset(v, 0, sizeof *v);
    v->data = data;
    v->dtype = dtype;
    v->ndim = ndim;
    bool empty = false;
    for (int k = 0; k < ndim; k++) {
        FSCI_CHECK(shape[k] >= 0, FSCI_EINVAL, "view: shape[%d] = %lld is negative", k, (long long)shape[k]);
        empty |= shape[k] == 0;
    }
    /* An empty array holds no bytes, so its strides only need to be well
     * defined, not representable as a size: they saturate instead. */
    int64_t stride = (int64_t)dtype_info[dtype].size;
    for (int k = 0; k < ndim; k++) {
        int d = fortran ? k : ndim - 1 - k;
        v->shape[d] = shape[d];
        v->strides[d] = stride;
        if (shape[d] <= 1) continue;
        if (stride > INT64_MAX / shape[d]) {
            FSCI_CHECK(empty, FSCI_ENOMEM, "view: size of shape overflows 64 bits");
            stride = INT64_MAX;
        } else {
            stride *= shape[d];
        }
    }
    return FSCI_OK;
}

int64_t fsci_view_numel(const fsci_view *v)
{
    int64_t n = 1;
    for (int k = 0; k < v->ndim; k++) n *= v->shape[k];
    return n;
}

int64_t fsci_view_nbytes(const fsci_view *v)
{
    return fsci_view_numel(v) * (int64_t)fsci_dtype_size(v->dtype);
}

static bool is_contig(const fsci_view *v, bool fortran)
{
    int64_t expect = (int64_t)fsci_dtype_size(v->dtype);
    for (int k = 0; k < v->ndim; k++) {
        int d = fortran ? k : v->ndim - 1 - k;
        if (v->shape[d] == 0) return true;
        if (v->shape[d] != 1 && v->strides[d] != expect) return false;
        expect *= v->shape[d];
    }
    return true;
}

bool fsci_view_is_c_contiguous(const fsci_view *v)
{
    return is_contig(v, false);
}
bool fsci_view_is_f_contiguous(const fsci_view *v)
{
    return is_contig(v, true);
}

void *fsci_view_ptr(const fsci_view *v, const int64_t *idx)
{
    char *p = v->data;
    for (int k = 0; k < v->ndim; k++) p += idx[k] * v->strides[k];
    return p;
}

int fsci_view_copy(const fsci_view *dst, const fsci_view *src)
{
    FSCI_CHECK(dst && src, FSCI_EINVAL, "copy: NULL view");
    FSCI_CHECK(dst->dtype == src->dtype, FSCI_EINVAL, "copy: dtype %s into %s", fsci_dtype_name(src->dtype),
               fsci_dtype_name(dst->dtype));
    FSCI_CHECK(dst->ndim == src->ndim, FSCI_EINVAL, "copy: ndim %d into %d", src->ndim, dst->ndim);
    for (int k = 0; k < src->ndim; k++)
        FSCI_CHECK(dst->shape[k] == src->shape[k], FSCI_EINVAL, "copy: shape[%d] %lld into %lld", k,
                   (long long)src->shape[k], (long long)dst->shape[k]);
    int64_t n = fsci_view_numel(src);
    if (n == 0) return FSCI_OK;
    size_t es = fsci_dtype_size(src->dtype);
    if ((fsci_view_is_c_contiguous(src) && fsci_view_is_c_contiguous(dst)) ||
        (fsci_view_is_f_contiguous(src) && fsci_view_is_f_contiguous(dst))) {
        memmove(dst->data, src->data, (size_t)n * es);
        return FSCI_OK;
    }
    int64_t idx[FSCI_MAX_NDIM] = {0};
    for (int64_t i = 0; i < n; i++) {
        memcpy(fsci_view_ptr(dst, idx), fsci_view_ptr(src, idx), es);
        for (int k = src->ndim - 1; k >= 0; k--) {
            if (++idx[k] < src->shape[k]) break;
            idx[k] = 0;
        }
    }
    return FSCI_OK;
}

static int array_new(fsci_dtype dtype, int ndim, const int64_t *shape, bool fortran, bool zero,
                     fsci_array **out)
{
    int st = FSCI_OK;
    fsci_array *a = NULL;
    FSCI_CHECK(out, FSCI_EINVAL, "array: NULL output pointer");
    *out = NULL;
    a = fsci_calloc(1, sizeof *a);
    FSCI_CHECK_GOTO(a, FSCI_ENOMEM, "array: out of memory");
    FSCI_TRY(fsci_view_init(&a->view, NULL, dtype, ndim, shape, fortran));
    size_t n = (size_t)fsci_view_numel(&a->view), es = fsci_dtype_size(dtype);
    a->view.data = zero ? fsci_calloc(n, es) : fsci_malloc(n, es);
    FSCI_CHECK_GOTO(a->view.data, FSCI_ENOMEM, "array: out of memory for %lld bytes",
                    (long long)fsci_view_nbytes(&a->view));
    *out = a;
    return FSCI_OK;
fail:
    fsci_array_destroy(&a);
    return st;
}

int fsci_array_create(fsci_dtype dtype, int ndim, const int64_t *shape, bool fortran, fsci_array **out)
{
    return array_new(dtype, ndim, shape, fortran, true, out);
}

int fsci_array_alloc(fsci_dtype dtype, int ndim, const int64_t *shape, bool fortran, fsci_array **out)
{
    return array_new(dtype, ndim, shape, fortran, false, out);
}

void fsci_array_destroy(fsci_array **a)
{
    if (!a || !*a) return;
    fsci_free((*a)->view.data);
    fsci_free(*a);
    *a = NULL;
}
