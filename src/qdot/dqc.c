/* qdot: data-quality gate of a measurement (doc/qdot_planning.md, section 4).
 *
 * SNR = 10 log10(var(smooth) / var(a - smooth)): smooth is a 3-point moving average with
 * zero padding for a line (numpy convolve, mode 'same') and a 3 x 3 mean with edge-repeating
 * borders for a patch (scipy uniform_filter, mode 'reflect', which for a width-3 window
 * repeats the edge sample). Features are computed on the array clipped to [0, 1]. */
#include <math.h>

#include "fastsci/core/error.h"
#include "qdot/plan.h"

void fsci__qdot_dqc_defaults(fsci__qdot_dqc_opts *o)
{
    o->snr_high = 20.0;
    o->snr_low = 10.0;
    o->dr_min = 0.30;
    o->flat_min = 1e-4;
    o->dr_bypass = 0.0;
}

static double clip01(double v)
{
    return v < 0.0 ? 0.0 : (v > 1.0 ? 1.0 : v);
}

/* Population variance (ddof 0), two passes. */
static double variance(const double *x, int64_t n)
{
    double m = 0.0;
    for (int64_t i = 0; i < n; i++) m += x[i];
    m /= (double)n;
    double v = 0.0;
    for (int64_t i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
    return v / (double)n;
}

/* Moving average of 3 along a line of n samples with stride st, edge sample repeated;
 * in == out is allowed (the left neighbour is kept before it is overwritten). */
static void mean3_edge(const double *in, double *out, int64_t n, int64_t st)
{
    double prev = in[0];
    for (int64_t i = 0; i < n; i++) {
        double c = in[i * st], r = in[(i + 1 < n ? i + 1 : n - 1) * st];
        out[i * st] = (prev + c + r) / 3.0;
        prev = c;
    }
}

/* SNR in dB of the clipped array c; sm: n0 * n1 doubles for the smoothed array. */
static double snr_db(const double *c, double *sm, int ndim, int64_t n0, int64_t n1)
{
    int64_t n = n0 * n1;
    if (ndim == 1) {
        if (n < 4) return 0.0;
        for (int64_t i = 0; i < n; i++) {
            double l = i > 0 ? c[i - 1] : 0.0, r = i + 1 < n ? c[i + 1] : 0.0;
            sm[i] = l / 3.0 + c[i] / 3.0 + r / 3.0;
        }
    } else {
        for (int64_t j = 0; j < n1; j++) mean3_edge(c + j, sm + j, n0, n1);           /* axis 0 */
        for (int64_t i = 0; i < n0; i++) mean3_edge(sm + i * n1, sm + i * n1, n1, 1); /* axis 1 */
    }
    double ps = variance(sm, n), mr = 0.0, pn = 0.0;
    for (int64_t i = 0; i < n; i++) mr += c[i] - sm[i];
    mr /= (double)n;
    for (int64_t i = 0; i < n; i++) pn += (c[i] - sm[i] - mr) * (c[i] - sm[i] - mr);
    pn /= (double)n;
    if (pn < 1e-20) return 60.0; /* no residual at all: the reference's cap */
    if (ps < 1e-20) return 0.0;
    return 10.0 * log10(ps / pn);
}

static fsci__qdot_dqc_quality classify(const fsci__qdot_dqc_opts *o, const fsci__qdot_dqc_result *r)
{
    bool snr_low = r->snr_db < o->snr_low;
    if (o->dr_bypass > 0.0) snr_low = snr_low && r->dynamic_range < o->dr_bypass;
    if (snr_low || !r->plausible || r->flatness < o->flat_min) return FSCI__QDOT_DQC_LOW;
    if (r->snr_db < o->snr_high || r->dynamic_range < o->dr_min) return FSCI__QDOT_DQC_MODERATE;
    return FSCI__QDOT_DQC_HIGH;
}

int fsci__qdot_dqc_assess(const double *a, int ndim, int64_t n0, int64_t n1, const fsci__qdot_dqc_opts *o,
                          double *work, fsci__qdot_dqc_result *res)
{
    FSCI_CHECK(a && o && work && res, FSCI_EINVAL, "qdot DQC: NULL argument");
    FSCI_CHECK(ndim == 1 || ndim == 2, FSCI_EINVAL, "qdot DQC: ndim = %d, must be 1 or 2", ndim);
    if (ndim == 1) n1 = 1;
    FSCI_CHECK(n0 >= 1 && n1 >= 1 && n0 <= (INT64_C(1) << 31) && n1 <= (INT64_C(1) << 31), FSCI_EINVAL,
               "qdot DQC: shape %lld x %lld, each side must be in [1, 2^31]", (long long)n0, (long long)n1);
    int64_t n = n0 * n1;
    *res = (fsci__qdot_dqc_result){FSCI__QDOT_DQC_LOW, 0.0, 0.0, 0.0, false, false, false};
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(a[i]))
            res->nonfinite = true;
        else if (a[i] < -1e-6 || a[i] > 1.0 + 1e-6)
            res->out_of_range = true;
    }
    res->plausible = !(res->nonfinite || res->out_of_range);
    if (res->nonfinite) return FSCI_OK; /* LOW, every feature 0 */
    double *c = work, *sm = work + n;
    double lo = INFINITY, hi = -INFINITY, mean = 0.0;
    for (int64_t i = 0; i < n; i++) {
        c[i] = clip01(a[i]);
        lo = fmin(lo, c[i]);
        hi = fmax(hi, c[i]);
        mean += c[i];
    }
    mean /= (double)n;
    res->dynamic_range = hi < 1e-12 ? 0.0 : (hi - lo) / hi;
    double var = variance(c, n);
    res->flatness = fabs(mean) < 1e-12 ? var : var / (mean * mean);
    res->snr_db = snr_db(c, sm, ndim, n0, n1);
    res->quality = classify(o, res);
    return FSCI_OK;
}
