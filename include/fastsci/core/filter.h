/* fastsci: separable filters of 2-D float64 images.
 *
 * Images are C-contiguous row-major (h, w) float64 arrays: pixel (r, c) is
 * img[r * w + c]. A separable filter correlates every row with a 1-D kernel
 * kx, then every column of the result with ky (scipy.ndimage.correlate1d
 * along axis 1, then along axis 0, with origin 0). Pixels outside the image
 * come from the boundary mode. Accumulation is in double, in kernel order,
 * so results are reproducible bit for bit. See doc/spatial.md. */
#ifndef FASTSCI_CORE_FILTER_H
#define FASTSCI_CORE_FILTER_H

#include "fastsci/core/defs.h"

/* How a line a b c d is extended beyond its ends (scipy.ndimage's names). */
typedef enum fsci_filter_mode {
    FSCI_FILTER_REFLECT = 0, /* d c b a | a b c d | d c b a  (half-sample symmetric, 'reflect') */
    FSCI_FILTER_MIRROR,      /* d c b | a b c d | c b a      (whole-sample symmetric, 'mirror') */
    FSCI_FILTER_NEAREST,     /* a a a | a b c d | d d d      ('nearest') */
    FSCI_FILTER_WRAP,        /* b c d | a b c d | a b c      (periodic, 'grid-wrap') */
    FSCI_FILTER_CONSTANT     /* cval   | a b c d | cval       ('constant' for filters) */
} fsci_filter_mode;

/* Apply a separable filter: tmp[r, c] = sum_j kx[j] * in[r, c + j - nx/2],
 * then out[r, c] = sum_j ky[j] * tmp[r + j - ny/2, c] (integer division:
 * the origin of an even kernel is right of centre, as in scipy). kx or ky
 * may be NULL to leave that axis alone (its length is then ignored).
 * in and out: h * w doubles each, either the same array (in place) or not
 * overlapping. cval is used by FSCI_FILTER_CONSTANT only.
 * Errors: FSCI_EINVAL for NULL in or out, h < 1, w < 1, a kernel length < 1,
 * an unknown mode; FSCI_ENOMEM. On error out is unspecified (in place: the
 * image may be partly filtered). Serial; reentrant. O(h w (nx + ny)). */
FSCI_API int fsci_filter_separable(const double *in, double *out, int64_t h, int64_t w, const double *kx,
                                   int64_t nx, const double *ky, int64_t ny, fsci_filter_mode mode,
                                   double cval) FSCI_WUR;

/* Gaussian filter of standard deviation sigma (pixels) along both axes, as
 * scipy.ndimage.gaussian_filter(in, sigma, mode, cval, truncate): kernel
 * exp(-i^2 / (2 sigma^2)) for |i| <= radius = (int)(truncate * sigma + 0.5),
 * normalised to sum 1; rows first, then columns (see fsci_filter_separable).
 * sigma == 0 copies the image. Errors: FSCI_EINVAL for sigma < 0 or not
 * finite, truncate <= 0 or not finite, a radius above 2^20, and as
 * fsci_filter_separable. */
FSCI_API int fsci_filter_gaussian(const double *in, double *out, int64_t h, int64_t w, double sigma,
                                  double truncate, fsci_filter_mode mode, double cval) FSCI_WUR;

#endif
