/* pstm: the input side of the kernel (doc/pstm.md §1): the pre-filter P
 * (half-derivative in 2-D, derivative in 3-D) as a circular convolution through
 * the FFT module, and the causal/anticausal double integration of the
 * anti-aliasing triangle, both in double precision; with AA the prepared trace
 * is stored in 32-bit fixed point. */
#include <complex.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/error.h"
#include "fastsci/core/fft.h"
#include "pstm/pstm_impl.h"

struct fsci__pstm_prep {
    int64_t ns, n; /* trace samples, padded transform length */
    double dt, t0;
    bool aa;
    double complex *H;              /* [n] H(w_j) / n for every bin (conjugate-symmetric) */
    const fsci_fft_plan *fwd, *bwd; /* in-place complex double, owned by the FFT cache */
};

/* Smallest 2^a 3^b 5^c 7^d >= m (FFTW's fast sizes). */
static int64_t good_size(int64_t m)
{
    for (int64_t n = m > 1 ? m : 1;; n++) {
        int64_t r = n;
        static const int f[4] = {2, 3, 5, 7};
        for (int i = 0; i < 4; i++)
            while (r % f[i] == 0) r /= f[i];
        if (r == 1) return n;
    }
}

int fsci__pstm_prep_create(const fsci__pstm_kopt *o, int64_t ns, double dt, double t0, fsci__pstm_prep **out)
{
    int st = FSCI_OK;
    fsci__pstm_prep *p = NULL;
    FSCI_CHECK(o && out, FSCI_EINVAL, "pstm prep: NULL argument");
    *out = NULL;
    FSCI_CHECK(o->dim == 2 || o->dim == 3, FSCI_EINVAL, "pstm prep: dim = %d (2 or 3)", o->dim);
    FSCI_CHECK(ns >= 2 && ns <= (1 << 24), FSCI_EINVAL, "pstm prep: ns = %lld (2 .. 2^24)", (long long)ns);
    FSCI_CHECK(dt > 0 && isfinite(dt), FSCI_EINVAL, "pstm prep: dt = %g s (> 0)", dt);
    FSCI_CHECK(isfinite(t0), FSCI_EINVAL, "pstm prep: t0 = %g s (finite)", t0);
    p = fsci_calloc(1, sizeof *p);
    FSCI_CHECK_GOTO(p, FSCI_ENOMEM, "pstm prep: out of memory");
    p->ns = ns;
    p->dt = dt;
    p->t0 = t0;
    p->aa = o->aa;
    p->n = good_size(2 * ns);
    int64_t n = p->n;
    p->H = fsci_malloc((size_t)n, sizeof *p->H);
    FSCI_CHECK_GOTO(p->H, FSCI_ENOMEM, "pstm prep: out of memory (n = %lld)", (long long)n);
    /* bin j <= n/2 has w = 2 pi j / n; bin n - j holds the conjugate so that a
     * real input stays real; the Nyquist bin of an even n keeps Re H only */
    const double pi = 3.14159265358979323846;
    for (int64_t j = 0; j <= n / 2; j++) {
        double w = 2.0 * pi * (double)j / (double)n;
        double complex h = o->dim == 2 ? CMPLX(sqrt(w) * cos(pi / 4), sqrt(w) * sin(pi / 4)) : CMPLX(0.0, w);
        if (j == 0) h = 0;
        if (2 * j == n) h = creal(h);
        p->H[j] = h / (double)n;
        if (j > 0) p->H[n - j] = conj(h) / (double)n;
    }
    fsci_fft_desc fd = {
        .dtype = FSCI_C128, .rank = 1, .shape = {n}, .howmany = 1, .dir = FSCI_FFT_FORWARD, .inplace = true};
    FSCI_TRY(fsci_fft_plan_get(&fd, &p->fwd));
    fd.dir = FSCI_FFT_BACKWARD;
    FSCI_TRY(fsci_fft_plan_get(&fd, &p->bwd));
    *out = p;
    return FSCI_OK;
fail:
    fsci__pstm_prep_destroy(&p);
    return st;
}

void fsci__pstm_prep_destroy(fsci__pstm_prep **pp)
{
    if (!pp || !*pp) return;
    fsci_free((*pp)->H);
    fsci_free(*pp);
    *pp = NULL;
}

int64_t fsci__pstm_prep_ns(const fsci__pstm_prep *p)
{
    return p->ns;
}
double fsci__pstm_prep_dt(const fsci__pstm_prep *p)
{
    return p->dt;
}
double fsci__pstm_prep_t0(const fsci__pstm_prep *p)
{
    return p->t0;
}

/* x[0..ns) (zero-padded to n) -> circular convolution with H (or conj H),
 * result kept in buf. */
static int filter(const fsci__pstm_prep *p, double complex *buf, bool adjoint)
{
    int64_t n = p->n;
    int st = fsci_fft_execute(p->fwd, buf, buf);
    if (st) return st;
    if (adjoint)
        for (int64_t j = 0; j < n; j++) buf[j] *= conj(p->H[j]);
    else
        for (int64_t j = 0; j < n; j++) buf[j] *= p->H[j];
    return fsci_fft_execute(p->bwd, buf, buf);
}

/* x = (I - E) x, E x the straight line through x[0] and x[ns - 1]: the result is 0
 * at both ends. E is a projection onto span{1, i} (not orthogonal); the triangle's
 * taps (weights 2, -1, -1 on linearly interpolated values) give 0 on any line, so
 * the operator is unchanged. ns >= 2. */
static void remove_ends(double complex *x, int64_t ns)
{
    double a = creal(x[0]), b = creal(x[ns - 1]), s = 1.0 / (double)(ns - 1);
    for (int64_t i = 0; i < ns; i++) {
        double l = (double)i * s;
        x[i] = creal(x[i]) - (a * (1 - l) + b * l);
    }
}

/* The adjoint: y = (I - E)^T y, E^T y = e_0 sum y[i] (1 - i/(ns-1)) + e_{ns-1} sum y[i] i/(ns-1). */
static void remove_ends_adj(double complex *y, int64_t ns)
{
    double a = 0, b = 0, s = 1.0 / (double)(ns - 1);
    for (int64_t i = 0; i < ns; i++) {
        double l = (double)i * s;
        a += creal(y[i]) * (1 - l);
        b += creal(y[i]) * l;
    }
    y[0] = creal(y[0]) - a;
    y[ns - 1] = creal(y[ns - 1]) - b;
}

/* With AA the prepared trace is D' = (I - E) D in 32-bit fixed point (doc/pstm.md
 * §1): word i (1 <= i < ns) holds the integer round(D'[i] / sigma), |.| < 2^29, so
 * that the kernel's differences of three of them are exact in int32; word 0 (where
 * D' is 0) holds sigma as float bits. sigma = max |D'| / (2^29 - 1024) in float. */
#define PSTM_FIX_MAX 536869888.0 /* 2^29 - 1024: headroom for sigma's float rounding */

/* The work buffer is allocated per call (one trace, 16 n bytes): the
 * interface has no workspace argument, and the cost is far below that of the
 * trace's pairs. */
int fsci__pstm_prepare(const fsci__pstm_prep *p, const float *d, void *out)
{
    int st = FSCI_OK;
    FSCI_CHECK(p && d && out, FSCI_EINVAL, "pstm prepare: NULL argument");
    int64_t ns = p->ns, n = p->n;
    double complex *buf = fsci_malloc((size_t)n, sizeof *buf);
    FSCI_CHECK(buf, FSCI_ENOMEM, "pstm prepare: out of memory (n = %lld)", (long long)n);
    for (int64_t i = 0; i < ns; i++) buf[i] = (double)d[i];
    for (int64_t i = ns; i < n; i++) buf[i] = 0;
    FSCI_TRY(filter(p, buf, false));
    if (p->aa) { /* c = causal sum of p, D = anticausal sum of c, minus its end line */
        double c = 0;
        for (int64_t i = 0; i < ns; i++) {
            c += creal(buf[i]);
            buf[i] = c;
        }
        double D = 0;
        for (int64_t i = ns - 1; i >= 0; i--) {
            D += creal(buf[i]);
            buf[i] = D;
        }
        remove_ends(buf, ns);
        double mx = 0;
        for (int64_t i = 1; i < ns - 1; i++) mx = fmax(mx, fabs(creal(buf[i])));
        float sigma = (float)(mx / PSTM_FIX_MAX);
        FSCI_CHECK_GOTO(isfinite(sigma), FSCI_ERANGE,
                        "pstm prepare: the trace's double integral reaches %g, beyond float range", mx);
        if (mx > 0 && sigma < FLT_MIN) sigma = FLT_MIN; /* a normal sigma keeps |D'/sigma| < 2^29 */
        int32_t *oi = out, bits;
        memcpy(&bits, &sigma, sizeof bits);
        oi[0] = bits;
        double is = mx > 0 ? 1.0 / (double)sigma : 0.0;
        for (int64_t i = 1; i < ns - 1; i++) oi[i] = (int32_t)lrint(creal(buf[i]) * is);
        oi[ns - 1] = 0;
    } else {
        float *of = out;
        for (int64_t i = 0; i < ns; i++) of[i] = (float)creal(buf[i]);
    }
fail:
    fsci_free(buf);
    return st;
}

int fsci__pstm_prepare_adj(const fsci__pstm_prep *p, const void *q, float *out)
{
    FSCI_CHECK(p && q && out, FSCI_EINVAL, "pstm prepare_adj: NULL argument");
    int64_t ns = p->ns, n = p->n;
    double complex *buf = fsci_malloc((size_t)n, sizeof *buf);
    FSCI_CHECK(buf, FSCI_ENOMEM, "pstm prepare_adj: out of memory (n = %lld)", (long long)n);
    if (p->aa) { /* (I - E)^T, A^T: causal sum, C^T: anticausal sum */
        const double *qd = q;
        for (int64_t i = 0; i < ns; i++) buf[i] = qd[i];
        remove_ends_adj(buf, ns);
        double a = 0;
        for (int64_t i = 0; i < ns; i++) {
            a += creal(buf[i]);
            buf[i] = a;
        }
        double b = 0;
        for (int64_t i = ns - 1; i >= 0; i--) {
            b += creal(buf[i]);
            buf[i] = b;
        }
    } else {
        const double *qf = q;
        for (int64_t i = 0; i < ns; i++) buf[i] = qf[i];
    }
    for (int64_t i = ns; i < n; i++) buf[i] = 0;
    int st = filter(p, buf, true);
    if (!st)
        for (int64_t i = 0; i < ns; i++) out[i] = (float)creal(buf[i]);
    fsci_free(buf);
    return st;
}
