/* Tests of the qdot Gaussian process (src/qdot/gp.c, doc/qdot_planning.md section 3): the
 * appended Cholesky factor against a fresh LAPACKE factorisation, mean and variance against
 * a direct LU solve with K, the variance at and far from the data, the kernels' values,
 * the jitter on a singular matrix, and the UCB search on functions with a known maximum. */
#include <lapacke.h>
#include <math.h>

#include "fastsci/core/rng.h"
#include "qdot/plan.h"
#include "testkit.h"

enum { N = 50 };
#define ELL 0.05
#define S2 0.5
#define NOISE 0.01

static double kern(int kind, const double *a, const double *b)
{
    double r = hypot(a[0] - b[0], a[1] - b[1]);
    if (kind == 0) return S2 * exp(-r * r / (2 * ELL * ELL));
    double t = sqrt(5.0) * r / ELL;
    return S2 * (1 + t + 5.0 * r * r / (3 * ELL * ELL)) * exp(-t);
}

static void make_points(uint64_t seed, double *x, double *r, int n)
{
    fsci_rng g;
    fsci_rng_init(&g, seed, 4, 0, 0);
    for (int i = 0; i < 2 * n; i++) x[i] = 0.2 * fsci_rng_uniform(&g) - 0.1;
    for (int i = 0; i < n; i++) r[i] = fsci_rng_normal(&g) * 0.3;
}

TEST(appended_cholesky_equals_fresh_factorisation)
{
    static double x[2 * N], r[N], K[N * N];
    for (int kind = 0; kind < 2; kind++) {
        make_points(1 + kind, x, r, N);
        fsci__qdot_gp *gp = NULL;
        ASSERT_OK(fsci__qdot_gp_create((fsci__qdot_kern)kind, ELL, S2, NOISE, N, &gp));
        int st = 0;
        for (int i = 0; i < N && st == 0; i++) st = fsci__qdot_gp_append(gp, x + 2 * i, r[i]);
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++)
                K[i * N + j] = kern(kind, x + 2 * i, x + 2 * j) + (i == j ? NOISE : 0.0);
        int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', N, K, N);
        double err = 0.0;
        for (int i = 0; i < N; i++)
            for (int j = 0; j <= i; j++) err = fmax(err, fabs(gp->L[i * gp->cap + j] - K[i * N + j]));
        double jit = gp->jitter;
        fsci__qdot_gp_destroy(&gp);
        ASSERT_OK(st);
        ASSERT_EQ(info, 0);
        printf("  kernel %d: max |L(append) - L(potrf)| = %.3g over %d points\n", kind, err, N);
        ASSERT_TRUE(err <= 1e-10);
        ASSERT_TRUE(jit == 0.0);
    }
}

TEST(mean_and_variance_equal_direct_solve)
{
    static double x[2 * N], r[N], K[N * N], B[N * 2], work[N];
    for (int kind = 0; kind < 2; kind++) {
        make_points(10 + kind, x, r, N);
        fsci__qdot_gp *a = NULL, *b = NULL;
        ASSERT_OK(fsci__qdot_gp_create((fsci__qdot_kern)kind, ELL, S2, NOISE, N, &a));
        int st = fsci__qdot_gp_create((fsci__qdot_kern)kind, ELL, S2, NOISE, N, &b);
        for (int i = 0; i < N && st == 0; i++) st = fsci__qdot_gp_append(a, x + 2 * i, r[i]);
        if (st == 0) st = fsci__qdot_gp_fit(b, N, x, r);
        double emu = 0.0, evar = 0.0, eab = 0.0;
        fsci_rng g;
        fsci_rng_init(&g, 99, 4, 0, 0);
        for (int t = 0; t < 20 && st == 0; t++) {
            double xs[2] = {0.24 * fsci_rng_uniform(&g) - 0.12, 0.24 * fsci_rng_uniform(&g) - 0.12};
            double m = 0.1 * t;
            for (int i = 0; i < N; i++) {
                for (int j = 0; j < N; j++)
                    K[i * N + j] = kern(kind, x + 2 * i, x + 2 * j) + (i == j ? NOISE : 0.0);
                B[2 * i] = r[i];
                B[2 * i + 1] = kern(kind, x + 2 * i, xs);
            }
            lapack_int ipiv[N];
            if (LAPACKE_dgesv(LAPACK_ROW_MAJOR, N, 2, K, N, ipiv, B, 2) != 0) st = -99;
            double mu = m, var = kern(kind, xs, xs);
            for (int i = 0; i < N; i++) {
                mu += kern(kind, x + 2 * i, xs) * B[2 * i];
                var -= kern(kind, x + 2 * i, xs) * B[2 * i + 1];
            }
            double m1, v1, m2, v2;
            fsci__qdot_gp_predict(a, xs, m, work, &m1, &v1);
            fsci__qdot_gp_predict(b, xs, m, work, &m2, &v2);
            emu = fmax(emu, fabs(m1 - mu));
            evar = fmax(evar, fabs(v1 - fmax(var, 0.0)));
            eab = fmax(eab, fmax(fabs(m1 - m2), fabs(v1 - v2)));
        }
        fsci__qdot_gp_destroy(&a);
        fsci__qdot_gp_destroy(&b);
        ASSERT_OK(st);
        printf("  kernel %d: max |mean - gesv| = %.3g, |var - gesv| = %.3g, append vs fit %.3g\n", kind, emu,
               evar, eab);
        ASSERT_TRUE(emu <= 1e-9 && evar <= 1e-9 && eab <= 1e-12);
    }
}

TEST(variance_at_and_away_from_data)
{
    static double x[2 * N], r[N], work[N];
    make_points(20, x, r, N);
    fsci__qdot_gp *gp = NULL;
    ASSERT_OK(fsci__qdot_gp_create(FSCI__QDOT_KERN_RBF, ELL, S2, NOISE, N, &gp));
    double m, v, vmin = INFINITY, vmax = 0.0, vfar = 0.0, v0 = 0.0;
    fsci__qdot_gp_predict(gp, x, 0.25, work, &m, &v0); /* no data: the prior */
    int st = fsci__qdot_gp_fit(gp, N, x, r);
    for (int i = 0; i < N && st == 0; i++) {
        fsci__qdot_gp_predict(gp, x + 2 * i, 0.0, work, &m, &v);
        vmin = fmin(vmin, v);
        vmax = fmax(vmax, v);
    }
    double far[2] = {3.0, -3.0};
    double mfar;
    fsci__qdot_gp_predict(gp, far, 0.7, work, &mfar, &vfar);
    fsci__qdot_gp_destroy(&gp);
    ASSERT_OK(st);
    ASSERT_NEAR_REL(v0, S2, 1e-15, 0.0);
    /* One point alone gives s2 noise / (s2 + noise) = 0.0098; neighbours only lower it. */
    ASSERT_TRUE(vmin >= 0.0 && vmax <= S2 * NOISE / (S2 + NOISE) + 1e-12);
    ASSERT_TRUE(vmax > 0.1 * NOISE);
    ASSERT_NEAR_REL(vfar, S2, 1e-12, 0.0);
    ASSERT_NEAR_REL(mfar, 0.7, 1e-12, 0.0);
}

TEST(kernel_values)
{
    fsci__qdot_gp *a = NULL, *b = NULL;
    ASSERT_OK(fsci__qdot_gp_create(FSCI__QDOT_KERN_RBF, 0.05, 0.5, 0.01, 4, &a));
    int st = fsci__qdot_gp_create(FSCI__QDOT_KERN_MATERN52, 0.05, 0.5, 0.01, 4, &b);
    double p[2] = {0.1, 0.2}, q[2] = {0.13, 0.24}; /* r = 0.05 */
    double ka = a ? fsci__qdot_gp_kernel(a, p, q) : 0, kb = b ? fsci__qdot_gp_kernel(b, p, q) : 0;
    double k0 = b ? fsci__qdot_gp_kernel(b, p, p) : 0;
    fsci__qdot_gp_destroy(&a);
    fsci__qdot_gp_destroy(&b);
    ASSERT_OK(st);
    ASSERT_NEAR_REL(ka, 0.5 * exp(-0.5), 1e-14, 0.0);
    ASSERT_NEAR_REL(kb, 0.5 * (1 + sqrt(5.0) + 5.0 / 3.0) * exp(-sqrt(5.0)), 1e-14, 0.0);
    ASSERT_NEAR_REL(k0, 0.5, 1e-15, 0.0);
}

TEST(jitter_on_singular_matrix)
{
    /* Noise 0 and a repeated point: K is singular (pivot exactly 0 with s2 = 0.25); the
     * append and the fit add 1e-6 and go on. */
    fsci__qdot_gp *gp = NULL;
    ASSERT_OK(fsci__qdot_gp_create(FSCI__QDOT_KERN_RBF, ELL, 0.25, 0.0, 4, &gp)); /* exact pivots */
    double p[2] = {0.0, 0.0};
    int st = fsci__qdot_gp_append(gp, p, 1.0);
    if (st == 0) st = fsci__qdot_gp_append(gp, p, 1.0);
    double jit = gp->jitter, l11 = gp->L[gp->cap + 1];
    int st_fit = fsci__qdot_gp_fit(gp, 2, (const double[]){0, 0, 0, 0}, (const double[]){1, 1});
    double jit_fit = gp->jitter;
    fsci__qdot_gp_destroy(&gp);
    ASSERT_OK(st);
    ASSERT_OK(st_fit);
    ASSERT_NEAR_REL(jit, 1e-6, 1e-12, 0.0);
    ASSERT_NEAR_REL(l11, 1e-3, 1e-6, 0.0);
    ASSERT_NEAR_REL(jit_fit, 1e-6, 1e-12, 0.0);
}

/* Concave bump with its top at (0.0123, -0.0371), off every grid. */
static double bump(const double *x, void *ctx)
{
    (void)ctx;
    double a = x[0] - 0.0123, b = x[1] + 0.0371;
    return -(a * a + 3.0 * b * b) + 0.2 * a * b;
}

TEST(ucb_maximiser_finds_known_maxima)
{
    fsci__qdot_gp *gp = NULL;
    ASSERT_OK(fsci__qdot_gp_create(FSCI__QDOT_KERN_RBF, ELL, S2, NOISE, 8, &gp));
    double lo[2] = {-0.05, -0.05}, hi[2] = {0.05, 0.05}, xb[2], u, work[8];
    /* No data: UCB = m(x) + beta sqrt(s2), maximised where m is. */
    int st = fsci__qdot_gp_ucb_max(gp, lo, hi, 2.0, bump, NULL, work, xb, &u);
    double e1 = hypot(xb[0] - 0.0123, xb[1] + 0.0371), u1 = u;
    /* Data: three points with unequal residuals, zero prior mean: the maximum of
     * mu + 2 sigma (unique: the points break the symmetry) against a 1001^2 scan. */
    const double p[6] = {0.02, 0.03, -0.03, 0.01, 0.0, -0.04}, pr[3] = {2.0, 0.5, -1.0};
    for (int i = 0; i < 3 && st == 0; i++) st = fsci__qdot_gp_append(gp, p + 2 * i, pr[i]);
    if (st == 0) st = fsci__qdot_gp_ucb_max(gp, lo, hi, 2.0, NULL, NULL, work, xb, &u);
    double best = -INFINITY, bx[2] = {0, 0};
    for (int i = 0; i <= 1000 && st == 0; i++)
        for (int j = 0; j <= 1000; j++) {
            double x[2] = {-0.05 + 1e-4 * i, -0.05 + 1e-4 * j}, m, v;
            fsci__qdot_gp_predict(gp, x, 0.0, work, &m, &v);
            if (m + 2.0 * sqrt(v) > best) {
                best = m + 2.0 * sqrt(v);
                bx[0] = x[0];
                bx[1] = x[1];
            }
        }
    double bad_lo[2] = {0.1, 0.0};
    int st_bad = fsci__qdot_gp_ucb_max(gp, bad_lo, hi, 2.0, NULL, NULL, work, xb, &u);
    fsci__qdot_gp_destroy(&gp);
    ASSERT_OK(st);
    ASSERT_EQ(st_bad, FSCI_EINVAL);
    printf("  bump: |x - argmax| = %.3g; data: UCB %.12f vs scan %.12f at distance %.3g\n", e1, u, best,
           hypot(xb[0] - bx[0], xb[1] - bx[1]));
    ASSERT_TRUE(e1 <= 1e-4);
    ASSERT_NEAR_REL(u1, bump((double[]){0.0123, -0.0371}, NULL) + 2.0 * sqrt(S2), 0.0, 1e-8);
    ASSERT_TRUE(u >= best - 1e-9);
    ASSERT_TRUE(hypot(xb[0] - bx[0], xb[1] - bx[1]) <= 2e-4);
}

TESTKIT_MAIN()
