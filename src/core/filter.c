/* fastsci core: separable filters of 2-D float64 images (fastsci/core/filter.h).
 *
 * Each line (a row, or a column) is copied with its boundary extension into a
 * contiguous buffer, then correlated with the kernel into the image: the
 * inner loop is a contiguous dot product, and a column pass does not need a
 * transposed copy of the image. Written here rather than taken from a
 * library: the ptycho engine's objects must keep their exact bits, which
 * fixes the accumulation order, and no Debian C library offers it. */
#include <math.h>
#include <string.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/error.h"
#include "fastsci/core/filter.h"

#define GAUSS_RADIUS_MAX (INT64_C(1) << 20)

/* Index of position i (any integer) of a line of n samples in a mode other
 * than constant. */
static int64_t extend(int64_t i, int64_t n, fsci_filter_mode mode)
{
    if (i >= 0 && i < n) return i;
    switch (mode) {
    case FSCI_FILTER_REFLECT: {
        int64_t p = 2 * n;
        i %= p;
        if (i < 0) i += p;
        return i < n ? i : p - 1 - i;
    }
    case FSCI_FILTER_MIRROR: {
        if (n == 1) return 0;
        int64_t p = 2 * n - 2;
        i %= p;
        if (i < 0) i += p;
        return i < n ? i : p - i;
    }
    case FSCI_FILTER_NEAREST: return i < 0 ? 0 : n - 1;
    case FSCI_FILTER_WRAP: i %= n; return i < 0 ? i + n : i;
    default: return -1; /* constant: the caller stores cval */
    }
}

/* Correlate `count` lines of n samples (element i of line c at
 * img[c * step + i * stride]) with k[0..len), in place. line holds
 * n + len - 1 doubles. */
static void filter_lines(double *img, int64_t n, int64_t count, int64_t stride, int64_t step, const double *k,
                         int64_t len, fsci_filter_mode mode, double cval, double *line)
{
    const int64_t o = len / 2;
    for (int64_t c = 0; c < count; c++) {
        double *base = img + c * step;
        for (int64_t i = -o; i < n + len - 1 - o; i++) {
            int64_t j = extend(i, n, mode);
            line[i + o] = j < 0 ? cval : base[j * stride];
        }
        for (int64_t i = 0; i < n; i++) {
            double acc = 0;
            for (int64_t j = 0; j < len; j++) acc += k[j] * line[i + j];
            base[i * stride] = acc;
        }
    }
}

int fsci_filter_separable(const double *in, double *out, int64_t h, int64_t w, const double *kx, int64_t nx,
                          const double *ky, int64_t ny, fsci_filter_mode mode, double cval)
{
    int st = FSCI_OK;
    double *line = NULL;
    FSCI_CHECK(in && out, FSCI_EINVAL, "filter: NULL image (in = %p, out = %p)", (const void *)in,
               (const void *)out);
    FSCI_CHECK(h >= 1 && w >= 1, FSCI_EINVAL, "filter: image shape (%lld, %lld) is empty or negative",
               (long long)h, (long long)w);
    FSCI_CHECK(h <= INT64_MAX / w, FSCI_EINVAL, "filter: image shape (%lld, %lld) overflows", (long long)h,
               (long long)w);
    FSCI_CHECK(!kx || nx >= 1, FSCI_EINVAL, "filter: row kernel length %lld < 1", (long long)nx);
    FSCI_CHECK(!ky || ny >= 1, FSCI_EINVAL, "filter: column kernel length %lld < 1", (long long)ny);
    FSCI_CHECK(mode >= FSCI_FILTER_REFLECT && mode <= FSCI_FILTER_CONSTANT, FSCI_EINVAL,
               "filter: unknown boundary mode %d", (int)mode);
    int64_t len = 0;
    if (kx && w + nx - 1 > len) len = w + nx - 1;
    if (ky && h + ny - 1 > len) len = h + ny - 1;
    if (len > 0) {
        line = fsci_malloc((size_t)len, sizeof *line);
        FSCI_CHECK_GOTO(line, FSCI_ENOMEM, "filter: out of memory for a line of %lld samples",
                        (long long)len);
    }
    if (out != in) memcpy(out, in, (size_t)(h * w) * sizeof *out);
    if (kx) filter_lines(out, w, h, 1, w, kx, nx, mode, cval, line);
    if (ky) filter_lines(out, h, w, w, 1, ky, ny, mode, cval, line);
fail:
    fsci_free(line);
    return st;
}

int fsci_filter_gaussian(const double *in, double *out, int64_t h, int64_t w, double sigma, double truncate,
                         fsci_filter_mode mode, double cval)
{
    int st = FSCI_OK;
    double *k = NULL;
    FSCI_CHECK(isfinite(sigma) && sigma >= 0, FSCI_EINVAL, "gaussian filter: sigma = %g is not >= 0", sigma);
    FSCI_CHECK(isfinite(truncate) && truncate > 0, FSCI_EINVAL, "gaussian filter: truncate = %g is not > 0",
               truncate);
    FSCI_CHECK(truncate * sigma + 0.5 < (double)GAUSS_RADIUS_MAX, FSCI_EINVAL,
               "gaussian filter: radius truncate * sigma = %g exceeds 2^20", truncate * sigma);
    int64_t rad = (int64_t)(truncate * sigma + 0.5);
    k = fsci_malloc((size_t)(2 * rad + 1), sizeof *k);
    FSCI_CHECK_GOTO(k, FSCI_ENOMEM, "gaussian filter: out of memory for a kernel of radius %lld",
                    (long long)rad);
    if (rad == 0) {
        k[0] = 1.0;
    } else {
        double sum = 0;
        for (int64_t i = -rad; i <= rad; i++)
            sum += k[i + rad] = exp(-0.5 * (double)(i * i) / (sigma * sigma));
        for (int64_t i = 0; i <= 2 * rad; i++) k[i] /= sum;
    }
    FSCI_TRY(fsci_filter_separable(in, out, h, w, k, 2 * rad + 1, k, 2 * rad + 1, mode, cval));
fail:
    fsci_free(k);
    return st;
}
