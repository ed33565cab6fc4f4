/* Tests of the Poisson samplers: log-pmf accuracy, goodness of fit, the
 * documented fill layout, each fast path against the exact path it replaces,
 * and argument checking. */
#include "core/rng_impl.h"
#include "fastsci/core/alloc.h"
#include "fastsci/core/rng.h"
#include "testkit.h"
#include "test_rng_util.h"

/* ------------------------------------------------------------ helpers */

static double poisson_pmf_ref(double k, double lam)
{
    return exp(-lam + k * log(lam) - lgamma(k + 1.0));
}

/* Chi-square of Poisson draws against the pmf over lam +- (12 sd + 20); the
 * (negligible) mass outside goes to the end bins. */
static double poisson_gof(const int64_t *x, int64_t n, double lam, int64_t *df)
{
    double w = 12.0 * sqrt(lam) + 20.0;
    int64_t lo = (int64_t)fmax(0.0, floor(lam - w)), hi = (int64_t)ceil(lam + w);
    int64_t nb = hi - lo + 1;
    double *obs = calloc((size_t)nb, sizeof *obs), *ex = calloc((size_t)nb, sizeof *ex);
    if (!obs || !ex) {
        free(obs);
        free(ex);
        return -1.0;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t b = x[i] < lo ? 0 : x[i] > hi ? nb - 1 : x[i] - lo;
        obs[b] += 1.0;
    }
    for (int64_t b = 0; b < nb; b++) ex[b] = (double)n * poisson_pmf_ref((double)(lo + b), lam);
    double p = chi2_pvalue(obs, ex, nb, df);
    free(obs);
    free(ex);
    return p;
}

/* -------------------------------------------------------------- Poisson */

TEST(incomplete_gamma_reference_values)
{
    /* Q(1, x) = e^-x; Q(1/2, x) = erfc(sqrt x); Q(k, x) = P(Poisson(x) < k). */
    ASSERT_NEAR_REL(gamma_q(1.0, 2.5), exp(-2.5), 1e-13, 0);
    ASSERT_NEAR_REL(gamma_q(1.0, 0.3), exp(-0.3), 1e-13, 0);
    ASSERT_NEAR_REL(gamma_q(0.5, 4.0), erfc(2.0), 1e-12, 0);
    for (int k = 1; k <= 60; k += 7) {
        for (double x = 0.5; x < 80.0; x *= 2.3) {
            double cdf = 0.0;
            for (int j = 0; j < k; j++) cdf += poisson_pmf_ref(j, x);
            ASSERT_NEAR_REL(gamma_q(k, x), cdf, 1e-10, 1e-300);
        }
    }
    /* Large shape, as in the chi-square with thousands of bins: the median of
     * Gamma(a) is about a - 1/3, so Q(a, a - 1/3) ~ 1/2. */
    ASSERT_NEAR_REL(gamma_q(2500.0, 2500.0 - 1.0 / 3.0), 0.5, 1e-4, 0);
}

TEST(poisson_logpmf_is_accurate)
{
    const double lams[4] = {10.0, 37.5, 1e3, 2.5e4};
    for (int t = 0; t < 4; t++) {
        double lam = lams[t];
        for (double k = 0.0; k < lam + 12.0 * sqrt(lam); k += 1.0) {
            double ref = -lam + k * log(lam) - lgamma(k + 1.0);
            /* the reference itself loses ~ eps * (k log lam) to cancellation */
            double tol = 4e-16 * (lam + k * log(lam) + lgamma(k + 1.0)) + 1e-14;
            ASSERT_NEAR_REL(fsci__rng_poisson_logpmf(k, lam), ref, 0, tol);
        }
    }
    /* At k = lam, bd0 = 0: log p = -log(2 pi k)/2 - stirlerr(k), no cancellation. */
    double k = 1e12;
    ASSERT_NEAR_REL(fsci__rng_poisson_logpmf(k, k), -0.5 * log(2.0 * PI * k) - 1.0 / (12.0 * k), 1e-15, 0);
    /* The pmf sums to one for a large mean. */
    double lam = 1e6, sum = 0.0;
    for (double j = lam - 12000.0; j <= lam + 12000.0; j += 1.0) sum += exp(fsci__rng_poisson_logpmf(j, lam));
    ASSERT_NEAR_REL(sum, 1.0, 1e-12, 0);
}

TEST(poisson_moments_and_goodness_of_fit)
{
    const int64_t n = 1000000;
    const double lams[] = {0.0, 1e-3, 0.5, 3.0, 9.999999999999998, 10.0, 30.0, 1e3, 1e6};
    int64_t *x = fsci_malloc((size_t)n, sizeof *x);
    ASSERT_TRUE(x);
    for (size_t t = 0; t < sizeof lams / sizeof lams[0]; t++) {
        double lam = lams[t];
        int st = fsci_rng_fill_poisson(1000 + t, 5, &lam, 1, x, n, 2);
        if (st != FSCI_OK) fsci_free(x);
        ASSERT_OK(st);
        double s = 0.0, s2 = 0.0;
        int64_t neg = 0;
        for (int64_t i = 0; i < n; i++) {
            double d = (double)x[i] - lam;
            s += d;
            s2 += d * d;
            neg += x[i] < 0;
        }
        double dn = (double)n, mean = s / dn, var = s2 / dn - mean * mean;
        if (lam == 0.0) {
            if (s2 != 0.0) fsci_free(x);
            ASSERT_TRUE(s2 == 0.0); /* all zeros */
            continue;
        }
        double zm = mean / sqrt(lam / dn);
        double zv = (var - lam) / sqrt((lam + 2.0 * lam * lam) / dn);
        int64_t df = 0;
        double p = poisson_gof(x, n, lam, &df);
        printf("  lam %-9g mean z %+.2f  var z %+.2f  chi2 p %.3f (df %lld)\n", lam, zm, zv, p,
               (long long)df);
        if (!(neg == 0 && fabs(zm) < 4.0 && fabs(zv) < 4.0 && p > 1e-3 && df >= 1)) {
            fsci_free(x);
            TESTKIT_FAIL("lam %g: negatives %lld, mean z %g, var z %g, chi2 p %g (df %lld)", lam,
                         (long long)neg, zm, zv, p, (long long)df);
        }
    }
    fsci_free(x);
}

TEST(poisson_switch_point_is_exact_both_sides)
{
    /* The switch constant and the two neighbouring means; the fit at these
     * means is covered above, here the per-element path at the switch. */
    ASSERT_TRUE(FSCI_RNG_POISSON_SWITCH == 10.0);
    ASSERT_TRUE(nextafter(10.0, 0.0) == 9.999999999999998);
    const int64_t n = 400000;
    int64_t *x = fsci_malloc((size_t)n, sizeof *x);
    double *lam = fsci_malloc((size_t)n, sizeof *lam);
    ASSERT_TRUE(x && lam);
    for (int64_t i = 0; i < n; i++) lam[i] = (i & 1) ? 10.0 : nextafter(10.0, 0.0);
    ASSERT_OK(fsci_rng_fill_poisson(77, 1, lam, n, x, n, 2));
    double s[2] = {0, 0}, s2[2] = {0, 0};
    for (int64_t i = 0; i < n; i++) {
        s[i & 1] += (double)x[i] - 10.0;
        s2[i & 1] += ((double)x[i] - 10.0) * ((double)x[i] - 10.0);
    }
    fsci_free(x);
    fsci_free(lam);
    for (int h = 0; h < 2; h++) {
        double dn = (double)n / 2, mean = s[h] / dn, var = s2[h] / dn - mean * mean;
        ASSERT_TRUE(fabs(mean / sqrt(10.0 / dn)) < 4.0);
        ASSERT_TRUE(fabs((var - 10.0) / sqrt(210.0 / dn)) < 4.0);
    }
}

TEST(poisson_huge_and_tiny_means)
{
    const int64_t n = 100000;
    int64_t *x = fsci_malloc((size_t)n, sizeof *x);
    ASSERT_TRUE(x);
    const double big[2] = {1e12, FSCI_RNG_POISSON_MAX};
    for (int t = 0; t < 2; t++) {
        double lam = big[t];
        ASSERT_OK(fsci_rng_fill_poisson(5, 6, &lam, 1, x, n, 2));
        double s = 0.0, s2 = 0.0;
        for (int64_t i = 0; i < n; i++) {
            double d = (double)x[i] - lam;
            s += d;
            s2 += d * d;
        }
        double mean = s / (double)n, var = s2 / (double)n - mean * mean;
        ASSERT_TRUE(fabs(mean / sqrt(lam / (double)n)) < 4.0);
        ASSERT_TRUE(fabs((var - lam) / sqrt(2.0 * lam * lam / (double)n)) < 4.0);
    }
    double tiny = 1e-300;
    ASSERT_OK(fsci_rng_fill_poisson(5, 6, &tiny, 1, x, n, 2));
    int64_t nz = 0;
    for (int64_t i = 0; i < n; i++) nz += x[i] != 0;
    fsci_free(x);
    ASSERT_EQ(nz, 0);
    fsci_rng r;
    fsci_rng_init(&r, 1, 2, 3, 4);
    ASSERT_EQ(fsci_rng_poisson(&r, 0.0), 0);
    ASSERT_EQ(r.pos, 4); /* lam = 0 consumes nothing */
    ASSERT_EQ(fsci_rng_poisson(&r, -0.0), 0);
    ASSERT_EQ(fsci_rng_poisson(&r, NAN), -1);
    ASSERT_EQ(fsci_rng_poisson(&r, -1.0), -1);
    ASSERT_EQ(fsci_rng_poisson(&r, 2e15), -1);
}

/* ------------------------------------------- Poisson: the fill layout */

/* Words one Poisson attempt reads (rng_poisson.c, doc/rng.md). */
static int attempt_words(double lam)
{
    return lam == 0.0 ? 0 : lam < FSCI_RNG_POISSON_SWITCH ? 1 : 2;
}

/* The documented layout of a Poisson fill, rebuilt from raw words: attempt a
 * of element i of chunk c reads sub-stream (c, a) (fsci_rng_init(&r, seed,
 * stream, c, a)) right after attempt a of the elements before it that needed
 * one; the value is the single-attempt kernel's. *levels gets the number of
 * attempt levels used. Returns 0, or -1 if out of memory. */
static int poisson_fill_reference(uint64_t seed, uint64_t stream, const double *lam, int64_t nlam,
                                  int64_t *ref, int64_t n, int *levels)
{
    int64_t *pend = malloc(FSCI_RNG_CHUNK * sizeof *pend);
    if (!pend) return -1;
    *levels = 0;
    for (int64_t c0 = 0; c0 < n; c0 += FSCI_RNG_CHUNK) {
        int64_t m = n - c0 < FSCI_RNG_CHUNK ? n - c0 : FSCI_RNG_CHUNK, np = 0;
        for (int64_t i = 0; i < m; i++) pend[np++] = c0 + i;
        for (uint64_t a = 0; np > 0; a++) {
            fsci_rng r;
            fsci_rng_init(&r, seed, stream, (uint64_t)(c0 / FSCI_RNG_CHUNK), a);
            int64_t keep = 0;
            for (int64_t j = 0; j < np; j++) {
                int64_t i = pend[j];
                double l = lam[nlam == 1 ? 0 : i];
                uint64_t w[2] = {0, 0};
                for (int t = 0; t < attempt_words(l); t++) w[t] = fsci_rng_u64(&r);
                int64_t k = fsci__rng_poisson_attempt(l, w);
                if (k >= 0)
                    ref[i] = k;
                else
                    pend[keep++] = i;
            }
            np = keep;
            if ((int)a + 1 > *levels) *levels = (int)a + 1;
        }
    }
    free(pend);
    return 0;
}

/* Every bulk path (inversion guide table, flat and branchy PTRS with and
 * without a pmf table, the per-element kernels: cell table, PTRS groups and
 * their squeeze) equals the documented layout rebuilt from raw Philox words
 * with the single-attempt kernel, including the retry levels, in every SIMD
 * version of the first pass and of the Philox blocks this CPU has (plain C,
 * AVX2, AVX-512). The large n tabulates the pmf for lam = 20 and 1e4, the
 * small n does not, nor is 1e7 or 1e12 at these sizes. */
static void fill_layout_check(int *testkit_failed);

TEST(poisson_fill_follows_the_attempt_layout)
{
    int nlev = 0;
    for (int lev = FSCI__RNG_SIMD_C; lev <= FSCI__RNG_SIMD_AVX512; lev++) {
        if (fsci__rng_simd_set(lev) != lev) continue; /* not on this CPU */
        ASSERT_EQ(fsci__rng_simd_get(), lev);
        fill_layout_check(testkit_failed);
        if (*testkit_failed) fprintf(stderr, "  (SIMD version %d)\n", lev);
        nlev++;
        if (*testkit_failed) break;
    }
    int best = fsci__rng_simd_set(-1);
    ASSERT_TRUE(nlev >= 1 && best >= 0 && nlev == best + 1);
}

static void fill_layout_check(int *testkit_failed)
{
    const int64_t sizes[2] = {40 * FSCI_RNG_CHUNK + 3, 1000};
    const int64_t nmax = sizes[0];
    int64_t *x = fsci_malloc((size_t)nmax, sizeof *x), *ref = fsci_malloc((size_t)nmax, sizeof *ref);
    double *lam1 = fsci_malloc((size_t)nmax, sizeof *lam1), *lam2 = fsci_malloc((size_t)nmax, sizeof *lam2);
    ASSERT_TRUE(x && ref && lam1 && lam2);
    uint64_t s = 99;
    for (int64_t i = 0; i < nmax; i++) {
        lam1[i] = (i % 7 == 0) ? 0.0 : 0.37 * (double)((i * 31) % 97);
        double u = lcg_unit(&s);
        lam2[i] = u < 0.05   ? 0.0
                  : u < 0.1  ? (i % 2 ? 10.0 : 9.999999999999998)
                  : u < 0.15 ? (double)(i % 640) / 64.0 + 1.0 / 64.0 /* cell rows' edges */
                             : log_uniform(&s, 1e-7, 1e12);
    }
    enum { NS = 8 };
    const double scal[NS] = {0.5, 3.0, 9.999999999999998, 10.0, 20.0, 1e4, 1e7, 1e12};
    int64_t bad = -1;
    int maxlev = 0, rc = 0;
    for (int sz = 0; sz < 2 && bad < 0 && rc == 0; sz++) {
        int64_t n = sizes[sz];
        for (int t = 0; t < NS + 2 && bad < 0 && rc == 0; t++) {
            const double *lam = t < NS ? &scal[t] : t == NS ? lam1 : lam2;
            int64_t nlam = t < NS ? 1 : n;
            int levels = 0;
            rc = fsci_rng_fill_poisson(9, 8, lam, nlam, x, n, 2) != FSCI_OK ||
                 poisson_fill_reference(9, 8, lam, nlam, ref, n, &levels) != 0;
            for (int64_t i = 0; i < n && rc == 0; i++)
                if (x[i] != ref[i]) {
                    bad = (sz * (NS + 2) + t) * nmax + i;
                    break;
                }
            if (levels > maxlev) maxlev = levels;
        }
    }
    fsci_free(x);
    fsci_free(ref);
    fsci_free(lam1);
    fsci_free(lam2);
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(bad, -1);
    ASSERT_TRUE(maxlev >= 3); /* retries of retries were exercised */
}

/* fsci_rng_poisson runs the same attempts on consecutive words of its
 * generator, and leaves it in the same state. */
TEST(poisson_single_draws_run_the_attempts)
{
    const double lams[] = {0.0, 1e-300, 1e-6, 0.5, 3.0, 9.999999999999998, 10.0, 37.0, 1e3, 1e6, 1e12, 1e15};
    for (size_t t = 0; t < sizeof lams / sizeof lams[0]; t++) {
        fsci_rng r, q;
        fsci_rng_init(&r, 4, 5, 6, 7);
        q = r;
        int64_t bad = -1;
        for (int d = 0; d < 3000 && bad < 0; d++) {
            int64_t k = fsci_rng_poisson(&r, lams[t]), kq;
            do {
                uint64_t w[2] = {0, 0};
                for (int j = 0; j < attempt_words(lams[t]); j++) w[j] = fsci_rng_u64(&q);
                kq = fsci__rng_poisson_attempt(lams[t], w);
            } while (kq == -1);
            if (k != kq) bad = d;
        }
        ASSERT_EQ(bad, -1);
        ASSERT_TRUE(memcmp(&r, &q, sizeof r) == 0);
    }
}

/* ------------------------------------ Poisson: the exact shortcuts */

/* The cell table gives the search's result for every word: on every cell
 * row edge (lam = j/64 and its neighbours), for the first and last word of
 * every column and for random words. Mixed cells are few. */
TEST(poisson_cell_table_equals_the_search)
{
    const int nrow = 10 * FSCI__RNG_CELL_PER_UNIT, ncol = 1 << FSCI__RNG_CELL_UBITS;
    const int shift = 64 - FSCI__RNG_CELL_UBITS;
    uint64_t s = 7;
    int64_t bad = -1, checked = 0, mixed1 = 0, cells1 = 0, mixed0 = 0, cells0 = 0;
    for (int j = 0; j <= nrow && bad < 0; j++) {
        double edge = (double)j / FSCI__RNG_CELL_PER_UNIT;
        double lams[4] = {nextafter(edge, 0.0), edge, nextafter(edge, 20.0), edge + lcg_unit(&s) / 64.0};
        for (int e = 0; e < 4 && bad < 0; e++) {
            double l = lams[e];
            if (!(l > 0.0 && l < FSCI_RNG_POISSON_SWITCH)) continue;
            for (int b = 0; b < ncol + 64 && bad < 0; b++) {
                uint64_t w;
                if (b < ncol)
                    w = e == 1 ? (uint64_t)b << shift : ((uint64_t)b << shift) | (((uint64_t)1 << shift) - 1);
                else
                    w = (s = s * 6364136223846793005ULL + 1442695040888963407ULL);
                int k0 = fsci__rng_poisson_inv_word(l, w, 0);
                int k1 = fsci__rng_poisson_inv_word(l, w, 1);
                int k2 = fsci__rng_poisson_inv_word(l, w, 2);
                if (k2 != k0 || (k1 != -2 && k1 != k0)) bad = j;
                checked++;
                if (b < ncol && e == 1) {
                    int64_t *mx = l >= 1.0 ? &mixed1 : &mixed0, *cl = l >= 1.0 ? &cells1 : &cells0;
                    *mx += k1 == -2;
                    (*cl)++;
                }
            }
        }
    }
    printf("  cell table: %lld words checked, mixed cells %.1f %% (lam >= 1), %.1f %% (lam < 1)\n",
           (long long)checked, 100.0 * (double)mixed1 / (double)cells1,
           100.0 * (double)mixed0 / (double)cells0);
    ASSERT_EQ(bad, -1);
    ASSERT_TRUE(checked > 1000000);
    ASSERT_TRUE((double)mixed1 < 0.08 * (double)cells1);
    ASSERT_TRUE((double)mixed0 < 0.03 * (double)cells0);
    /* the squeeze K = 0 for u < 1 - lam (lam <= 1/4): words around that bound
     * and around the true boundary F(0) = e^-lam */
    const double small[4] = {1e-300, 1e-9, 0.2, 0.25};
    for (int t = 0; t < 4; t++) {
        double l = small[t], F0 = exp(-l), centre[2] = {1.0 - l, F0};
        for (int e = 0; e < 2; e++) {
            uint64_t w0 = (uint64_t)(centre[e] * 0x1p53) << 11;
            for (int64_t dw = -3; dw <= 3; dw++) {
                uint64_t w = w0 + ((uint64_t)dw << 11);
                double u = (double)(w >> 11) * 0x1p-53;
                int k = fsci__rng_poisson_inv_word(l, w, 0);
                if (u < F0 - 1e-15) ASSERT_EQ(k, 0);
                if (u > F0 + 1e-15) ASSERT_TRUE(k >= 1);
            }
        }
    }
}

/* PTRS proposals the way the sampler makes them, for a mean log-uniform
 * over [10, 100] (half of them, where k = 0 and the far tails occur) or
 * [10, 1e15]: us in (0, 1/2], U = +-(1/2 - us), V in (0, 1], k =
 * floor((2a/us + b) U + lam + 0.43). */
typedef struct ptrs_case {
    double lam, k, V, us;
} ptrs_case;

static int ptrs_random_case(uint64_t *s, ptrs_case *c)
{
    c->lam = log_uniform(s, 10.0, lcg_unit(s) < 0.5 ? 100.0 : 1e15);
    double b = 0.931 + 2.53 * sqrt(c->lam), a = -0.059 + 0.02483 * b;
    c->us = 0.5 - 0.5 * lcg_unit(s);
    double U = lcg_unit(s) < 0.5 ? -(0.5 - c->us) : 0.5 - c->us;
    c->V = 1.0 - lcg_unit(s);
    double x = (2.0 * a / c->us + b) * U + c->lam + 0.43;
    c->k = floor(x);
    return x >= 0.0 && x < 0x1p62;
}

/* The squeeze of step 4 never contradicts the exact test and rarely defers
 * to it, on proposals as the sampler makes them (those that reach step 4)
 * and on attempts whose V is placed within a relative 1e-6 .. 1e-15 of the
 * acceptance boundary (most of those it must leave to the exact test). */
TEST(ptrs_squeeze_agrees_with_the_exact_test)
{
    uint64_t s = 2024;
    int64_t n = 0, wrong = 0, undecided = 0, mismatch = 0, edge = 0, edge_undecided = 0;
    while (n < 400000) {
        ptrs_case c;
        /* only what reaches step 4: in range, not squeezed out by us < 0.013 */
        if (!ptrs_random_case(&s, &c) || (c.us < 0.013 && c.V > c.us)) continue;
        n++;
        int e = fsci__rng_ptrs_step4(c.k, c.lam, c.V, c.us, 0);
        int q = fsci__rng_ptrs_step4(c.k, c.lam, c.V, c.us, 1);
        int d = fsci__rng_ptrs_step4(c.k, c.lam, c.V, c.us, 2);
        wrong += q >= 0 && q != e;
        undecided += q < 0;
        mismatch += d != e;
        if (n % 4 == 0) {
            /* V at the boundary L = p(k) c2, moved by a relative +-1e-6 .. 1e-15 */
            double b = 0.931 + 2.53 * sqrt(c.lam), a = -0.059 + 0.02483 * b, ia = 1.1239 + 1.1328 / (b - 3.4);
            double us2 = c.us * c.us, pk = exp(fsci__rng_poisson_logpmf(c.k, c.lam));
            double delta = (lcg_unit(&s) < 0.5 ? -1.0 : 1.0) * pow(10.0, -6.0 - 9.0 * lcg_unit(&s));
            double V = pk * (a + b * us2) / (ia * us2) * (1.0 + delta);
            if (V > 0.0 && V <= 1.0) {
                e = fsci__rng_ptrs_step4(c.k, c.lam, V, c.us, 0);
                q = fsci__rng_ptrs_step4(c.k, c.lam, V, c.us, 1);
                d = fsci__rng_ptrs_step4(c.k, c.lam, V, c.us, 2);
                wrong += q >= 0 && q != e;
                edge_undecided += q < 0;
                mismatch += d != e;
                edge++;
            }
        }
    }
    printf("  squeeze: %lld cases, %lld undecided; %lld at the boundary, %lld undecided\n", (long long)n,
           (long long)undecided, (long long)edge, (long long)edge_undecided);
    ASSERT_EQ(wrong, 0);
    ASSERT_EQ(mismatch, 0);
    ASSERT_TRUE(edge > 10000);
    ASSERT_TRUE((double)undecided < 1e-4 * (double)n);
}

/* ------------------------------ Poisson: per-element means, statistics */

/* Moments and goodness of fit of the per-element path (nlam = n, every
 * element the same mean): the cell table around its row edges, the squeeze
 * K = 0, the switch, PTRS with its squeeze and retry levels, huge means. */
TEST(poisson_per_element_fills_fit)
{
    const int64_t n = 300000;
    const double lams[] = {1e-300, 1e-9, 1e-3, 0.015625, 0.015624999999999998,
                           0.3,    1.0,  2.5,  7.0,      9.999999999999998,
                           10.0,   10.5, 15.0, 100.0,    3e3,
                           1e6,    1e10, 1e15};
    int64_t *x = fsci_malloc((size_t)n, sizeof *x);
    double *lam = fsci_malloc((size_t)n, sizeof *lam);
    ASSERT_TRUE(x && lam);
    for (size_t t = 0; t < sizeof lams / sizeof lams[0]; t++) {
        double l = lams[t];
        for (int64_t i = 0; i < n; i++) lam[i] = l;
        int st = fsci_rng_fill_poisson(4000 + t, 9, lam, n, x, n, 2);
        double sm = 0.0, s2 = 0.0;
        int64_t neg = 0;
        for (int64_t i = 0; i < n; i++) {
            double d = (double)x[i] - l;
            sm += d;
            s2 += d * d;
            neg += x[i] < 0;
        }
        double dn = (double)n, mean = sm / dn, var = s2 / dn - mean * mean;
        double zm = mean / sqrt(l / dn), zv = (var - l) / sqrt((l + 2.0 * l * l) / dn);
        int64_t df = 0;
        double p = l <= 1e6 ? poisson_gof(x, n, l, &df) : 1.0;
        printf("  per element lam %-9g mean z %+.2f  var z %+.2f  chi2 p %.3f (df %lld)\n", l, zm, zv, p,
               (long long)df);
        /* expected total below 1: at most 2 events (P(more) < 5e-12 for n lam <= 3e-4) */
        int tiny = l * dn < 1.0, fits = tiny ? sm + l * dn <= 2.0 : fabs(zm) < 4.0 && fabs(zv) < 4.0;
        int ok = st == FSCI_OK && neg == 0 && fits && p > 1e-3 && (l > 1e6 || tiny || df >= 1);
        if (!ok) {
            fsci_free(x);
            fsci_free(lam);
            TESTKIT_FAIL("per-element lam %g: status %d, negatives %lld, mean z %g, var z %g, chi2 p %g", l,
                         st, (long long)neg, zm, zv, p);
        }
    }
    fsci_free(x);
    fsci_free(lam);
}

/* Randomised probability integral transform of a Poisson(lam) draw x:
 * F(x - 1) + V P(x), uniform on (0, 1) for an exact sampler. F from the
 * regularised incomplete gamma: F(x) = Q(x + 1, lam). */
static double poisson_pit(int64_t x, double lam, double v)
{
    double Fm = x == 0 ? 0.0 : gamma_q((double)x, lam), F = gamma_q((double)x + 1.0, lam);
    return Fm + v * (F - Fm);
}

/* The ptycho workload: one mean per pixel, as in a far-field pattern with
 * 1e9 photons (14.5 % below 1e-3, 14.5 % in [1e-3, 1), 17 % in [1, 10), 31 %
 * in [10, 1e3), 23 % above, up to 1.5e8), classes interleaved at random.
 * Per class: mean and variance z-scores of the sums, and a chi-square of the
 * randomised PIT over 20 bins (classes up to 1e5, where the incomplete gamma
 * of the test is cheap). */
TEST(poisson_diffraction_like_mix_per_class)
{
    enum { NC = 6, NB = 20 };
    static const double lo[NC] = {1e-6, 1e-3, 1.0, 10.0, 1e3, 1e5},
                        hi[NC] = {1e-3, 1.0, 10.0, 1e3, 1e5, 1.5e8};
    static const double cum[NC] = {0.145, 0.29, 0.46, 0.77, 0.885, 1.0};
    const int64_t n = 600000;
    double *lam = fsci_malloc((size_t)n, sizeof *lam);
    int64_t *x = fsci_malloc((size_t)n, sizeof *x);
    uint8_t *cls = fsci_malloc((size_t)n, sizeof *cls);
    ASSERT_TRUE(lam && x && cls);
    uint64_t s = 314159;
    for (int64_t i = 0; i < n; i++) {
        double u = lcg_unit(&s);
        int c = 0;
        while (u >= cum[c]) c++;
        cls[i] = (uint8_t)c;
        lam[i] = log_uniform(&s, lo[c], hi[c]);
    }
    int st = fsci_rng_fill_poisson(77, 3, lam, n, x, n, 2);
    double sd[NC] = {0}, sl[NC] = {0}, sv[NC] = {0}, svv[NC] = {0}, obs[NC][NB] = {{0}};
    int64_t cnt[NC] = {0}, neg = 0;
    fsci_rng r;
    fsci_rng_init(&r, 1, 2, 3, 4);
    for (int64_t i = 0; i < n; i++) {
        int c = cls[i];
        double l = lam[i], d = (double)x[i] - l;
        sd[c] += d;
        sl[c] += l;
        sv[c] += d * d - l;
        svv[c] += l + 2.0 * l * l;
        cnt[c]++;
        neg += x[i] < 0;
        if (c < NC - 1 && x[i] >= 0) {
            int b = (int)(poisson_pit(x[i], l, fsci_rng_uniform(&r)) * NB);
            obs[c][b < 0 ? 0 : b >= NB ? NB - 1 : b] += 1.0;
        }
    }
    fsci_free(lam);
    fsci_free(x);
    fsci_free(cls);
    ASSERT_OK(st);
    ASSERT_EQ(neg, 0);
    for (int c = 0; c < NC; c++) {
        double zm = sd[c] / sqrt(sl[c]), zv = sv[c] / sqrt(svv[c]), p = 1.0;
        int64_t df = 0;
        if (c < NC - 1) {
            double ex[NB];
            for (int b = 0; b < NB; b++) ex[b] = (double)cnt[c] / NB;
            p = chi2_pvalue(obs[c], ex, NB, &df);
        }
        printf("  class [%g, %g): %lld draws, mean z %+.2f  var z %+.2f", lo[c], hi[c], (long long)cnt[c], zm,
               zv);
        if (c < NC - 1) printf("  PIT chi2 p %.3f (df %lld)", p, (long long)df);
        printf("\n");
        ASSERT_TRUE(cnt[c] > 30000);
        ASSERT_TRUE(fabs(zm) < 4.0);
        ASSERT_TRUE(fabs(zv) < 4.0);
        if (c < NC - 1) ASSERT_TRUE(df == NB - 1);
        if (!(p > 1e-3)) TESTKIT_FAIL("class %d: PIT chi-square p = %g", c, p);
    }
}

/* ---------------------------------------------------------------- errors */

TEST(bad_means_are_rejected_with_index_and_value)
{
    int64_t out[8];
    double lam[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    static const struct {
        double v;
        const char *text;
    } bad[4] = {{NAN, "nan"}, {-1.0, "-1"}, {INFINITY, "inf"}, {2e15, "2000000000000000"}};
    for (int t = 0; t < 4; t++) {
        for (int i = 0; i < 8; i++) out[i] = -77;
        ASSERT_STATUS(fsci_rng_fill_poisson(1, 1, &bad[t].v, 1, out, 8, 2), FSCI_EINVAL);
        ASSERT_TRUE(strstr(fsci_error_message(), bad[t].text) != NULL);
        ASSERT_TRUE(strstr(fsci_error_message(), "lam[0]") != NULL);
        lam[5] = bad[t].v;
        ASSERT_STATUS(fsci_rng_fill_poisson(1, 1, lam, 8, out, 8, 2), FSCI_EINVAL);
        ASSERT_TRUE(strstr(fsci_error_message(), "lam[5]") != NULL);
        ASSERT_TRUE(strstr(fsci_error_message(), bad[t].text) != NULL);
        for (int i = 0; i < 8; i++) ASSERT_EQ(out[i], -77); /* nothing written */
        lam[5] = 6.0;
    }
    /* the largest allowed mean is accepted */
    double mx = FSCI_RNG_POISSON_MAX;
    ASSERT_OK(fsci_rng_fill_poisson(1, 1, &mx, 1, out, 8, 1));
    /* first bad index is reported even with many threads */
    double many[5000];
    for (int i = 0; i < 5000; i++) many[i] = 1.0;
    many[4321] = -3.5;
    many[4999] = NAN;
    int64_t *o = fsci_malloc(5000, sizeof *o);
    ASSERT_TRUE(o);
    int st = fsci_rng_fill_poisson(1, 1, many, 5000, o, 5000, 3);
    fsci_free(o);
    ASSERT_STATUS(st, FSCI_EINVAL);
    ASSERT_TRUE(strstr(fsci_error_message(), "lam[4321] = -3.5") != NULL);
}

TESTKIT_MAIN()
