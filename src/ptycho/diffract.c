/* Patch extraction and far-field diffraction: the hot path of the ptycho engine.
 *
 * Written by hand because it is the point of the engine: one patch at a time
 * from an (n+1)^2 window with four constant weights (never a whole-canvas
 * translate), the probe product, one in-place FFTW transform on a per-thread
 * buffer, |F|^2 / n^2 with the fftshift folded into the store, and Poisson
 * counts from the counter-based generator keyed by the pattern's index. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "fastsci/core/fft.h"
#include "ptycho_impl.h"

void fsci__ptycho_extract_one(const float *obj, int64_t h, int64_t w, double cx, double cy, int64_t n,
                              float *out)
{
    double fx0 = floor(cx), fy0 = floor(cy);
    double fx = cx - fx0, fy = cy - fy0;
    int64_t x0 = (int64_t)fx0 - n / 2, y0 = (int64_t)fy0 - n / 2;
    double w00 = (1 - fy) * (1 - fx), w01 = (1 - fy) * fx, w10 = fy * (1 - fx), w11 = fy * fx;
    bool inside = x0 >= 0 && y0 >= 0 && x0 + n < w && y0 + n < h;
    for (int64_t r = 0; r < n; r++) {
        int64_t ya = y0 + r, yb = ya + 1;
        float *o = out + 2 * r * n;
        if (inside) {
            const float *a = obj + 2 * (ya * w + x0), *b = obj + 2 * (yb * w + x0);
            for (int64_t k = 0; k < 2 * n; k++)
                o[k] = (float)(w00 * (double)a[k] + w01 * (double)a[k + 2] + w10 * (double)b[k] +
                               w11 * (double)b[k + 2]);
            continue;
        }
        bool ra = ya >= 0 && ya < h, rb = yb >= 0 && yb < h;
        for (int64_t s = 0; s < n; s++) {
            int64_t xa = x0 + s, xb = xa + 1;
            bool ca = xa >= 0 && xa < w, cb = xb >= 0 && xb < w;
            for (int c = 0; c < 2; c++) {
                double v = 0;
                if (ra && ca) v += w00 * (double)obj[2 * (ya * w + xa) + c];
                if (ra && cb) v += w01 * (double)obj[2 * (ya * w + xb) + c];
                if (rb && ca) v += w10 * (double)obj[2 * (yb * w + xa) + c];
                if (rb && cb) v += w11 * (double)obj[2 * (yb * w + xb) + c];
                o[2 * s + c] = (float)v;
            }
        }
    }
}

double fsci__ptycho_illum_energy(const float *patch, const float *probe, int64_t n)
{
    /* four partial sums: a single running sum is a chain of dependent adds */
    double e[4] = {0, 0, 0, 0};
    int64_t m = n * n, i = 0;
    for (; i + 4 <= m; i += 4)
        for (int j = 0; j < 4; j++) {
            double pr = (double)patch[2 * (i + j)], pi = (double)patch[2 * (i + j) + 1];
            double qr = (double)probe[2 * (i + j)], qi = (double)probe[2 * (i + j) + 1];
            double re = pr * qr - pi * qi, im = pr * qi + pi * qr;
            e[j] += re * re + im * im;
        }
    for (; i < m; i++) {
        double pr = (double)patch[2 * i], pi = (double)patch[2 * i + 1];
        double qr = (double)probe[2 * i], qi = (double)probe[2 * i + 1];
        double re = pr * qr - pi * qi, im = pr * qi + pi * qr;
        e[0] += re * re + im * im;
    }
    return (e[0] + e[1]) + (e[2] + e[3]);
}

/* sum of squares of float values in double, four partial sums (fixed order) */
static double sum_squares(const float *a, int64_t m)
{
    double e[4] = {0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 4 <= m; i += 4)
        for (int j = 0; j < 4; j++) e[j] += (double)a[i + j] * (double)a[i + j];
    for (; i < m; i++) e[0] += (double)a[i] * (double)a[i];
    return (e[0] + e[1]) + (e[2] + e[3]);
}

int fsci__ptycho_diff_create(int64_t n, const fsci_view *probe, double scale, bool noise, uint64_t seed,
                             uint64_t stream, int nthreads, fsci__ptycho_diff **out)
{
    int st = FSCI_OK;
    fsci__ptycho_diff *d = fsci_calloc(1, sizeof *d);
    FSCI_CHECK(d, FSCI_ENOMEM, "diffraction: out of memory");
    d->n = n;
    d->scale = scale;
    d->inv_scale = 1.0 / scale;
    d->noise = noise;
    d->seed = seed;
    d->stream = stream;
    d->nthreads = fsci_parallel_resolve(nthreads);
    d->probe = fsci_malloc((size_t)(2 * n * n), sizeof(float));
    d->ws = fsci_calloc((size_t)d->nthreads, sizeof *d->ws);
    FSCI_CHECK_GOTO(d->probe && d->ws, FSCI_ENOMEM, "diffraction: out of memory");
    fsci_view pv;
    FSCI_TRY(fsci_view_init(&pv, d->probe, FSCI_C64, 2, (int64_t[2]){n, n}, false));
    FSCI_TRY(fsci_view_copy(&pv, probe));
    for (int t = 0; t < d->nthreads; t++) {
        fsci__ptycho_ws *w = &d->ws[t];
        w->patch = fsci_malloc((size_t)(2 * n * n), sizeof(float));
        w->buf = fsci_malloc((size_t)(n * n), sizeof(fftwf_complex));
        w->lam = fsci_malloc((size_t)(n * n), sizeof(double));
        w->counts = fsci_malloc((size_t)(n * n), sizeof(int64_t));
        w->amp = fsci_malloc((size_t)(n * n), sizeof(float));
        FSCI_CHECK_GOTO(w->patch && w->buf && w->lam && w->counts && w->amp, FSCI_ENOMEM,
                        "diffraction: out of memory");
    }
    /* one in-place n x n forward transform from the shared cache (FFTW_ESTIMATE:
     * the same plan, so every bit of the output, in every run) */
    fsci_fft_desc fd = {.dtype = FSCI_C64,
                        .rank = 2,
                        .shape = {n, n},
                        .howmany = 1,
                        .dir = FSCI_FFT_FORWARD,
                        .inplace = true};
    FSCI_TRY(fsci_fft_plan_get(&fd, &d->plan));
    *out = d;
    return FSCI_OK;
fail:
    fsci__ptycho_diff_destroy(&d);
    return st;
}

void fsci__ptycho_diff_destroy(fsci__ptycho_diff **dp)
{
    if (!dp || !*dp) return;
    fsci__ptycho_diff *d = *dp; /* d->plan belongs to the FFT cache */
    for (int t = 0; d->ws && t < d->nthreads; t++) {
        fsci_free(d->ws[t].patch);
        fsci_free(d->ws[t].buf);
        fsci_free(d->ws[t].lam);
        fsci_free(d->ws[t].counts);
        fsci_free(d->ws[t].amp);
    }
    fsci_free(d->ws);
    fsci_free(d->probe);
    fsci_free(d);
    *dp = NULL;
}

double fsci__ptycho_pattern(const fsci__ptycho_diff *d, fsci__ptycho_ws *w, const float *patch, int64_t index,
                            float *amp, int64_t amp_stride)
{
    int64_t n = d->n, h = n / 2;
    double s = d->scale;
    double t0 = fsci_clock();
    float *buf = (float *)w->buf;
    /* exit wave = s * patch * probe, formed in double and rounded once: s may be
     * far outside float's range even when the product is not */
    for (int64_t i = 0; i < n * n; i++) {
        double pr = (double)patch[2 * i], pi = (double)patch[2 * i + 1];
        double qr = (double)d->probe[2 * i], qi = (double)d->probe[2 * i + 1];
        buf[2 * i] = (float)(s * (pr * qr - pi * qi));
        buf[2 * i + 1] = (float)(s * (pr * qi + pi * qr));
    }
    int fst = fsci_fft_execute(d->plan, w->buf, w->buf);
    if (fst && !w->st) { /* cannot happen: the buffers come from fsci_malloc */
        w->st = fst;
        snprintf(w->err, sizeof w->err, "pattern %lld: %s", (long long)index, fsci_error_message());
    }
    /* |F|^2 / n^2, stored fftshifted: row r goes to (r + n/2) mod n, likewise columns. */
    double inv_n2 = 1.0 / (double)(n * n);
    int64_t hc = n - h; /* columns [0, hc) go to [h, n), columns [hc, n) to [0, h) */
    for (int64_t r = 0; r < n; r++) {
        const float *row = buf + 2 * r * n;
        double *dst = w->lam + ((r + h) % n) * n;
        for (int64_t c = 0; c < hc; c++) {
            double re = (double)row[2 * c], im = (double)row[2 * c + 1];
            dst[c + h] = (re * re + im * im) * inv_n2;
        }
        for (int64_t c = hc; c < n; c++) {
            double re = (double)row[2 * c], im = (double)row[2 * c + 1];
            dst[c - hc] = (re * re + im * im) * inv_n2;
        }
    }
    double t1 = fsci_clock();
    double inv_s = d->inv_scale;
    float *a = amp_stride == 1 ? amp : w->amp; /* contiguous output: written in place */
    int64_t m = n * n;
    if (d->noise) {
        int st = fsci_rng_fill_poisson(d->seed, fsci__ptycho_noise_stream(d->stream, index), w->lam, m,
                                       w->counts, m, 1);
        if (st) {
            /* cannot happen for inputs the callers validated; never store garbage */
            if (!w->st) {
                w->st = st;
                snprintf(w->err, sizeof w->err, "pattern %lld: %s", (long long)index, fsci_error_message());
            }
            memset(w->counts, 0, (size_t)m * sizeof *w->counts);
        }
        int64_t total = 0;
        for (int64_t i = 0; i < m; i++) {
            a[i] = (float)(sqrt((double)w->counts[i]) * inv_s);
            total += w->counts[i];
        }
        w->last_counts = total;
    } else {
        for (int64_t i = 0; i < m; i++) a[i] = (float)(sqrt(w->lam[i]) * inv_s);
        w->last_counts = 0;
    }
    double sumsq = sum_squares(a, m);
    if (amp_stride != 1)
        for (int64_t i = 0; i < m; i++) amp[i * amp_stride] = a[i];
    double t2 = fsci_clock();
    w->t_fft += t1 - t0;
    w->t_noise += t2 - t1;
    return sumsq;
}

int fsci__ptycho_ws_status(const fsci__ptycho_diff *d)
{
    for (int t = 0; t < d->nthreads; t++)
        if (d->ws[t].st) return fsci_error_set(d->ws[t].st, __FILE__, __LINE__, __func__, "%s", d->ws[t].err);
    return FSCI_OK;
}

static int check_obj(const fsci_view *obj)
{
    FSCI_CHECK(obj && obj->dtype == FSCI_C64 && obj->ndim == 2 && fsci_view_is_c_contiguous(obj), FSCI_EINVAL,
               "object: expected a C-contiguous complex64 2-D array, got %s with %d dimensions",
               obj ? fsci_dtype_name(obj->dtype) : "NULL", obj ? obj->ndim : 0);
    return FSCI_OK;
}

int fsci_ptycho_extract(const fsci_view *obj, const double *cx, const double *cy, int64_t npatch, int64_t n,
                        float *out, int nthreads)
{
    int st = check_obj(obj);
    if (st) return st;
    FSCI_CHECK(cx && cy && (out || npatch == 0), FSCI_EINVAL, "extract: NULL argument");
    FSCI_CHECK(n >= 1 && n <= 4096, FSCI_EINVAL, "extract: N = %lld is outside [1, 4096]", (long long)n);
    for (int64_t p = 0; p < npatch; p++)
        FSCI_CHECK(isfinite(cx[p]) && isfinite(cy[p]) && fabs(cx[p]) < 1e12 && fabs(cy[p]) < 1e12,
                   FSCI_EINVAL, "extract: centre %lld = (%g, %g) is not finite", (long long)p, cx[p], cy[p]);
    int nt = fsci_parallel_resolve(nthreads);
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t p = 0; p < npatch; p++)
        fsci__ptycho_extract_one(obj->data, obj->shape[0], obj->shape[1], cx[p], cy[p], n,
                                 out + 2 * p * n * n);
    return FSCI_OK;
}

/* Index of the first non-finite value of a[0..n), or -1: a branch-free
 * (vectorised) scan, then a search only if there is one. */
static int64_t first_nonfinite(const float *a, int64_t n)
{
    uint32_t bad = 0;
    for (int64_t i = 0; i < n; i++) { /* exponent all ones: inf or NaN */
        uint32_t u;
        memcpy(&u, a + i, sizeof u);
        bad |= (u & 0x7f800000u) == 0x7f800000u;
    }
    for (int64_t i = 0; bad && i < n; i++)
        if (!isfinite(a[i])) return i;
    return -1;
}

int fsci_ptycho_diffract(const float *patches, int64_t npatch, int64_t n, const fsci_view *probe,
                         double scale, bool noise, uint64_t seed, uint64_t stream, int64_t first_index,
                         float *amp, double *sumsq, int nthreads)
{
    FSCI_CHECK(patches || npatch == 0, FSCI_EINVAL, "diffract: patches is NULL");
    FSCI_CHECK(amp || npatch == 0, FSCI_EINVAL, "diffract: amp (output) is NULL");
    FSCI_CHECK(npatch >= 0, FSCI_EINVAL, "diffract: npatch = %lld is negative", (long long)npatch);
    FSCI_CHECK(n >= 2 && n <= 4096, FSCI_EINVAL, "diffract: N = %lld is outside [2, 4096]", (long long)n);
    FSCI_CHECK(probe, FSCI_EINVAL, "diffract: probe is NULL");
    FSCI_CHECK(probe->dtype == FSCI_C64 && probe->ndim == 2 && probe->shape[0] == n && probe->shape[1] == n,
               FSCI_EINVAL, "probe: %s with %d dimensions (%lld, %lld); expected complex64 (%lld, %lld)",
               fsci_dtype_name(probe->dtype), probe->ndim, (long long)(probe->ndim > 0 ? probe->shape[0] : 0),
               (long long)(probe->ndim > 1 ? probe->shape[1] : 0), (long long)n, (long long)n);
    FSCI_CHECK(isfinite(scale) && scale > 0 && scale < 1e30, FSCI_EINVAL,
               "diffract: scale %g is outside (0, 1e30)", scale);
    FSCI_CHECK(stream < (UINT64_C(1) << 31), FSCI_EINVAL, "diffract: stream %llu is not below 2^31",
               (unsigned long long)stream);
    FSCI_CHECK(first_index >= 0 && first_index + npatch <= FSCI__PTYCHO_MAX_PATTERNS, FSCI_EINVAL,
               "diffract: pattern indices [%lld, %lld) exceed 2^32", (long long)first_index,
               (long long)(first_index + npatch));
    for (int64_t r = 0; r < n; r++)
        for (int64_t c = 0; c < n; c++) {
            const float *q = (const float *)(const void *)((const char *)probe->data + r * probe->strides[0] +
                                                           c * probe->strides[1]);
            FSCI_CHECK(isfinite(q[0]) && isfinite(q[1]), FSCI_EINVAL,
                       "probe: element (%lld, %lld) is not finite", (long long)r, (long long)c);
        }
    fsci__ptycho_diff *d = NULL;
    int st = fsci__ptycho_diff_create(n, probe, scale, noise, seed, stream, nthreads, &d);
    if (st) return st;
    /* Each patch is checked for non-finite values right before its pattern,
     * while it is in cache (one pass over the input); a bad one is skipped and
     * the call fails, naming the first bad element (amp is then partly written). */
    int64_t bad = INT64_MAX;
#pragma omp parallel num_threads(d->nthreads)
    {
        fsci__ptycho_ws *w = &d->ws[omp_get_thread_num()];
#pragma omp for schedule(static) reduction(min : bad)
        for (int64_t p = 0; p < npatch; p++) {
            const float *patch = patches + 2 * p * n * n;
            int64_t b = first_nonfinite(patch, 2 * n * n);
            if (b >= 0) {
                bad = 2 * p * n * n + b < bad ? 2 * p * n * n + b : bad;
                continue;
            }
            double e = fsci__ptycho_pattern(d, w, patch, first_index + p, amp + p * n * n, 1);
            if (sumsq) sumsq[p] = e;
        }
    }
    st = fsci__ptycho_ws_status(d);
    if (!st && bad != INT64_MAX)
        st = fsci_error_set(FSCI_EINVAL, __FILE__, __LINE__, __func__, "patches: element %lld is not finite",
                            (long long)(bad / 2));
    fsci__ptycho_diff_destroy(&d);
    return st;
}
