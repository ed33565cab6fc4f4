/* fastsci: n-dimensional array views and owning arrays.
 *
 * A view describes memory it does not own: data pointer, dtype, ndim <= 8,
 * shape and strides in bytes (numpy's convention). An owning array is a view
 * plus the memory behind it. Kernels either honour strides or check
 * contiguity at entry. */
#ifndef FASTSCI_CORE_ARRAY_H
#define FASTSCI_CORE_ARRAY_H

#include <stdbool.h>

#include "fastsci/core/defs.h"

#define FSCI_MAX_NDIM 8

typedef enum fsci_dtype {
    FSCI_F32 = 0, /* float */
    FSCI_F64,     /* double */
    FSCI_C64,     /* float complex (re, im) */
    FSCI_C128,    /* double complex */
    FSCI_I32,     /* int32_t */
    FSCI_I64,     /* int64_t */
    FSCI_U8,      /* uint8_t */
    FSCI_U16,     /* uint16_t */
    FSCI_NDTYPES
} fsci_dtype;

typedef struct fsci_view {
    void *data;
    fsci_dtype dtype;
    int ndim;
    int64_t shape[FSCI_MAX_NDIM];
    int64_t strides[FSCI_MAX_NDIM]; /* bytes */
} fsci_view;

typedef struct fsci_array {
    fsci_view view; /* view.data is owned and 64-byte aligned */
} fsci_array;

/* Size of one element in bytes (0 for an invalid dtype). */
FSCI_API size_t fsci_dtype_size(fsci_dtype t);

/* Short name: "float32", "float64", "complex64", "complex128", "int32",
 * "int64", "uint8", "uint16"; "invalid" otherwise. */
FSCI_API const char *fsci_dtype_name(fsci_dtype t);

/* Parse a name as above; FSCI_EINVAL if unknown. */
FSCI_API int fsci_dtype_from_name(const char *name, fsci_dtype *out) FSCI_WUR;

/* Fill `v` as a C-contiguous (fortran=false) or Fortran-contiguous view of
 * `data`. Checks dtype, ndim and shape (>= 0) and that the byte size fits. */
FSCI_API int fsci_view_init(fsci_view *v, void *data, fsci_dtype dtype, int ndim, const int64_t *shape,
                            bool fortran) FSCI_WUR;

/* Number of elements (product of the shape; 1 for ndim 0). */
FSCI_API int64_t fsci_view_numel(const fsci_view *v);

/* numel * element size. */
FSCI_API int64_t fsci_view_nbytes(const fsci_view *v);

/* True if the strides are those of a dense C-order (resp. Fortran-order) array. */
FSCI_API bool fsci_view_is_c_contiguous(const fsci_view *v);
FSCI_API bool fsci_view_is_f_contiguous(const fsci_view *v);

/* Pointer to element `idx` (ndim indices, unchecked). */
FSCI_API void *fsci_view_ptr(const fsci_view *v, const int64_t *idx);

/* Copy src into dst element by element; dtype and shape must be equal,
 * strides may differ. */
FSCI_API int fsci_view_copy(const fsci_view *dst, const fsci_view *src) FSCI_WUR;

/* Allocate a zero-filled array; C order unless `fortran`. */
FSCI_API int fsci_array_create(fsci_dtype dtype, int ndim, const int64_t *shape, bool fortran,
                               fsci_array **out) FSCI_WUR;

/* As fsci_array_create, but the data are left uninitialised: for arrays the
 * caller fills completely (saves a pass over memory for large outputs). */
FSCI_API int fsci_array_alloc(fsci_dtype dtype, int ndim, const int64_t *shape, bool fortran,
                              fsci_array **out) FSCI_WUR;

/* Release an array; accepts NULL and *a == NULL, clears *a. */
FSCI_API void fsci_array_destroy(fsci_array **a);

#endif
