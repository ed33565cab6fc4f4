/* qdot: Gaussian process over gate voltages and UCB maximisation
 * (doc/qdot_planning.md, section 3; Rasmussen and Williams 2006, Algorithm 2.1).
 *
 * The factor L of K + noise I grows by one row per new point (O(n^2): one triangular solve)
 * instead of being refactorised (O(n^3)); alpha = (K + noise I)^-1 r is refreshed with two
 * triangular solves. The UCB search is a fixed grid plus finer grids around the best point,
 * so its result is deterministic. */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/error.h"
#include "qdot/plan.h"

#define GP_JITTER 1e-6

int fsci__qdot_gp_create(fsci__qdot_kern kern, double ell, double s2, double noise, int64_t cap,
                         fsci__qdot_gp **out)
{
    int st = FSCI_OK;
    fsci__qdot_gp *gp = NULL;
    FSCI_CHECK(out != NULL, FSCI_EINVAL, "qdot GP: out is NULL");
    *out = NULL;
    FSCI_CHECK(kern == FSCI__QDOT_KERN_RBF || kern == FSCI__QDOT_KERN_MATERN52, FSCI_EINVAL,
               "qdot GP: kernel = %d, must be RBF (0) or Matern 5/2 (1)", (int)kern);
    FSCI_CHECK(ell > 0.0 && isfinite(ell), FSCI_EINVAL, "qdot GP: length scale = %g, must be > 0", ell);
    FSCI_CHECK(s2 > 0.0 && isfinite(s2), FSCI_EINVAL, "qdot GP: signal variance = %g, must be > 0", s2);
    FSCI_CHECK(noise >= 0.0 && isfinite(noise), FSCI_EINVAL, "qdot GP: noise variance = %g, must be >= 0",
               noise);
    FSCI_CHECK(cap >= 1 && cap <= 46340, FSCI_EINVAL,
               "qdot GP: capacity = %lld points, must be in [1, 46340]", (long long)cap);
    gp = fsci_calloc(1, sizeof *gp);
    FSCI_CHECK_GOTO(gp != NULL, FSCI_ENOMEM, "qdot GP: out of memory");
    gp->kern = kern;
    gp->ell = ell;
    gp->s2 = s2;
    gp->noise = noise;
    gp->cap = cap;
    gp->x = fsci_malloc((size_t)cap, 2 * sizeof(double));
    gp->r = fsci_malloc((size_t)cap, sizeof(double));
    gp->alpha = fsci_malloc((size_t)cap, sizeof(double));
    gp->L = fsci_calloc((size_t)cap, (size_t)cap * sizeof(double));
    FSCI_CHECK_GOTO(gp->x && gp->r && gp->alpha && gp->L, FSCI_ENOMEM,
                    "qdot GP: out of memory for %lld points", (long long)cap);
    *out = gp;
    return FSCI_OK;
fail:
    fsci__qdot_gp_destroy(&gp);
    return st;
}

void fsci__qdot_gp_destroy(fsci__qdot_gp **p)
{
    if (p == NULL || *p == NULL) return;
    fsci__qdot_gp *gp = *p;
    fsci_free(gp->x);
    fsci_free(gp->r);
    fsci_free(gp->alpha);
    fsci_free(gp->L);
    fsci_free(gp);
    *p = NULL;
}

double fsci__qdot_gp_kernel(const fsci__qdot_gp *gp, const double *a, const double *b)
{
    double d0 = a[0] - b[0], d1 = a[1] - b[1];
    double r2 = d0 * d0 + d1 * d1;
    if (gp->kern == FSCI__QDOT_KERN_RBF) return gp->s2 * exp(-r2 / (2.0 * gp->ell * gp->ell));
    double t = sqrt(5.0 * r2) / gp->ell; /* sqrt(5) r / ell */
    return gp->s2 * (1.0 + t + t * t / 3.0) * exp(-t);
}

/* alpha = L^-T L^-1 r. */
static void refresh_alpha(fsci__qdot_gp *gp)
{
    int n = (int)gp->n;
    for (int i = 0; i < n; i++) gp->alpha[i] = gp->r[i];
    cblas_dtrsv(CblasRowMajor, CblasLower, CblasNoTrans, CblasNonUnit, n, gp->L, (int)gp->cap, gp->alpha, 1);
    cblas_dtrsv(CblasRowMajor, CblasLower, CblasTrans, CblasNonUnit, n, gp->L, (int)gp->cap, gp->alpha, 1);
}

static int check_point(const double *x, const char *what)
{
    FSCI_CHECK(isfinite(x[0]) && isfinite(x[1]), FSCI_EINVAL, "qdot GP: %s = (%g, %g), must be finite", what,
               x[0], x[1]);
    return FSCI_OK;
}

int fsci__qdot_gp_fit(fsci__qdot_gp *gp, int64_t n, const double *x, const double *r)
{
    FSCI_CHECK(gp != NULL && (n == 0 || (x != NULL && r != NULL)), FSCI_EINVAL, "qdot GP: NULL argument");
    FSCI_CHECK(n >= 0 && n <= gp->cap, FSCI_EINVAL, "qdot GP: %lld points, capacity is %lld", (long long)n,
               (long long)gp->cap);
    for (int64_t i = 0; i < n; i++) {
        int st = check_point(x + 2 * i, "point");
        if (st < 0) return st;
        FSCI_CHECK(isfinite(r[i]), FSCI_EINVAL, "qdot GP: residual[%lld] = %g, must be finite", (long long)i,
                   r[i]);
    }
    int64_t ld = gp->cap;
    gp->n = 0;
    gp->jitter = 0.0;
    for (int64_t i = 0; i < n; i++) {
        gp->x[2 * i] = x[2 * i];
        gp->x[2 * i + 1] = x[2 * i + 1];
        gp->r[i] = r[i];
    }
    if (n == 0) return FSCI_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        double jit = attempt ? GP_JITTER : 0.0;
        for (int64_t i = 0; i < n; i++) {
            for (int64_t j = 0; j < i; j++)
                gp->L[i * ld + j] = fsci__qdot_gp_kernel(gp, x + 2 * i, x + 2 * j);
            gp->L[i * ld + i] = fsci__qdot_gp_kernel(gp, x + 2 * i, x + 2 * i) + gp->noise + jit;
        }
        lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)n, gp->L, (lapack_int)ld);
        if (info == 0) {
            gp->jitter = jit;
            gp->n = n;
            refresh_alpha(gp);
            return FSCI_OK;
        }
    }
    return fsci_error_set(FSCI_ERANGE, __FILE__, __LINE__, __func__,
                          "qdot GP: K + noise I (+1e-6 I) is not positive definite for %lld points",
                          (long long)n);
}

int fsci__qdot_gp_append(fsci__qdot_gp *gp, const double *x, double r)
{
    FSCI_CHECK(gp != NULL && x != NULL, FSCI_EINVAL, "qdot GP: NULL argument");
    int st = check_point(x, "new point");
    if (st < 0) return st;
    FSCI_CHECK(isfinite(r), FSCI_EINVAL, "qdot GP: new residual = %g, must be finite", r);
    FSCI_CHECK(gp->n < gp->cap, FSCI_ERANGE, "qdot GP: full (%lld points)", (long long)gp->cap);
    int64_t n = gp->n, ld = gp->cap;
    double *row = gp->L + n * ld; /* new row: l = L^-1 k, then d */
    for (int64_t j = 0; j < n; j++) row[j] = fsci__qdot_gp_kernel(gp, gp->x + 2 * j, x);
    if (n > 0)
        cblas_dtrsv(CblasRowMajor, CblasLower, CblasNoTrans, CblasNonUnit, (int)n, gp->L, (int)ld, row, 1);
    double d2 = fsci__qdot_gp_kernel(gp, x, x) + gp->noise;
    for (int64_t j = 0; j < n; j++) d2 -= row[j] * row[j];
    if (!(d2 > 0.0)) {
        d2 += GP_JITTER;
        gp->jitter += GP_JITTER;
    }
    FSCI_CHECK(d2 > 0.0, FSCI_ERANGE, "qdot GP: point (%g, %g) makes K + noise I singular (pivot %g)", x[0],
               x[1], d2);
    row[n] = sqrt(d2);
    gp->x[2 * n] = x[0];
    gp->x[2 * n + 1] = x[1];
    gp->r[n] = r;
    gp->n = n + 1;
    refresh_alpha(gp);
    return FSCI_OK;
}

void fsci__qdot_gp_predict(const fsci__qdot_gp *gp, const double *x, double m, double *work, double *mean,
                           double *var)
{
    int64_t n = gp->n;
    if (n == 0) {
        *mean = m;
        *var = gp->s2;
        return;
    }
    double mu = m;
    for (int64_t j = 0; j < n; j++) {
        work[j] = fsci__qdot_gp_kernel(gp, gp->x + 2 * j, x);
        mu += work[j] * gp->alpha[j];
    }
    cblas_dtrsv(CblasRowMajor, CblasLower, CblasNoTrans, CblasNonUnit, (int)n, gp->L, (int)gp->cap, work, 1);
    double v = fsci__qdot_gp_kernel(gp, x, x);
    for (int64_t j = 0; j < n; j++) v -= work[j] * work[j];
    *mean = mu;
    *var = v > 0.0 ? v : 0.0;
}

static double ucb_at(const fsci__qdot_gp *gp, const double *x, double beta, fsci__qdot_mean_fn fn, void *ctx,
                     double *work)
{
    double mu, var;
    fsci__qdot_gp_predict(gp, x, fn ? fn(x, ctx) : 0.0, work, &mu, &var);
    return mu + beta * sqrt(var);
}

/* Scan a k x k grid over [a, b] (per axis, end points included), keeping the first best. */
static void scan_grid(const fsci__qdot_gp *gp, const double *a, const double *b, int k, double beta,
                      fsci__qdot_mean_fn fn, void *ctx, double *work, double *xbest, double *best)
{
    for (int i = 0; i < k; i++) {
        double x0 = k > 1 ? a[0] + (b[0] - a[0]) * (double)i / (double)(k - 1) : a[0];
        for (int j = 0; j < k; j++) {
            double x[2] = {x0, k > 1 ? a[1] + (b[1] - a[1]) * (double)j / (double)(k - 1) : a[1]};
            double u = ucb_at(gp, x, beta, fn, ctx, work);
            if (u > *best) {
                *best = u;
                xbest[0] = x[0];
                xbest[1] = x[1];
            }
        }
    }
}

int fsci__qdot_gp_ucb_max(const fsci__qdot_gp *gp, const double *lo, const double *hi, double beta,
                          fsci__qdot_mean_fn mean_fn, void *ctx, double *work, double *xbest, double *ucb)
{
    FSCI_CHECK(gp && lo && hi && xbest && ucb && (gp->n == 0 || work), FSCI_EINVAL,
               "qdot UCB: NULL argument");
    for (int d = 0; d < 2; d++)
        FSCI_CHECK(isfinite(lo[d]) && isfinite(hi[d]) && lo[d] <= hi[d], FSCI_EINVAL,
                   "qdot UCB: box axis %d = [%g, %g], must be finite with lo <= hi", d, lo[d], hi[d]);
    FSCI_CHECK(isfinite(beta), FSCI_EINVAL, "qdot UCB: beta = %g, must be finite", beta);
    double best = -INFINITY, h[2];
    xbest[0] = lo[0];
    xbest[1] = lo[1];
    scan_grid(gp, lo, hi, 21, beta, mean_fn, ctx, work, xbest, &best);
    for (int d = 0; d < 2; d++) h[d] = (hi[d] - lo[d]) / 20.0;
    for (int round = 0; round < 3; round++) {
        double a[2], b[2], c[2] = {xbest[0], xbest[1]};
        for (int d = 0; d < 2; d++) {
            a[d] = fmax(lo[d], c[d] - h[d]);
            b[d] = fmin(hi[d], c[d] + h[d]);
            h[d] = (b[d] - a[d]) / 10.0;
        }
        scan_grid(gp, a, b, 11, beta, mean_fn, ctx, work, xbest, &best);
    }
    *ucb = best;
    return FSCI_OK;
}
