/* Helpers shared by tests/core/test_rng.c and test_rng_poisson.c: the
 * chi-square p-value (through the regularised incomplete gamma function) and a
 * deterministic source of test means. Header-only, static inline. */
#ifndef FSCI_TEST_RNG_UTIL_H
#define FSCI_TEST_RNG_UTIL_H

#include <math.h>
#include <stdint.h>

#define PI 3.14159265358979323846

/* Regularised upper incomplete gamma Q(a, x) = Gamma(a, x) / Gamma(a), for the
 * chi-square p-value P(chi2_df > c) = Q(df/2, c/2). Series for P when x < a+1,
 * Legendre's continued fraction (modified Lentz evaluation) for Q otherwise;
 * formulas as in Press et al., Numerical Recipes, 3rd ed., section 6.2. */
static inline double gamma_q(double a, double x)
{
    if (x <= 0.0) return 1.0;
    double lpre = -x + a * log(x) - lgamma(a);
    if (x < a + 1.0) {
        double term = 1.0 / a, sum = term;
        for (int n = 1; n < 1000000; n++) {
            term *= x / (a + n);
            sum += term;
            if (fabs(term) < 1e-16 * fabs(sum)) break;
        }
        return 1.0 - sum * exp(lpre);
    }
    const double tiny = 1e-300;
    double b = x + 1.0 - a, c = 1.0 / tiny, d = 1.0 / b, h = d;
    for (int n = 1; n < 1000000; n++) {
        double an = -n * (n - a);
        b += 2.0;
        d = an * d + b;
        if (fabs(d) < tiny) d = tiny;
        c = b + an / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1.0 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1.0) < 1e-16) break;
    }
    return exp(lpre) * h;
}

/* Pearson chi-square over consecutive bins, merging neighbours until every
 * merged bin expects >= 5 (a short last group joins the one before).
 * Returns the p-value; *df_out gets the degrees of freedom (groups - 1). */
static inline double chi2_pvalue(const double *obs, const double *expct, int64_t nb, int64_t *df_out)
{
    double chi2 = 0.0, o = 0.0, e = 0.0, last_o = 0.0, last_e = 0.0;
    int64_t groups = 0;
    for (int64_t i = 0; i < nb; i++) {
        o += obs[i];
        e += expct[i];
        if (e >= 5.0) {
            if (groups > 0) chi2 += (last_o - last_e) * (last_o - last_e) / last_e;
            last_o = o;
            last_e = e;
            groups++;
            o = e = 0.0;
        }
    }
    last_o += o;
    last_e += e;
    if (groups > 0) chi2 += (last_o - last_e) * (last_o - last_e) / last_e;
    *df_out = groups - 1;
    return groups > 1 ? gamma_q(0.5 * (double)(groups - 1), 0.5 * chi2) : 1.0;
}

/* Deterministic test means: log-uniform over [lo, hi] from a 64-bit LCG. */
static inline double lcg_unit(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) * 0x1p-53;
}

static inline double log_uniform(uint64_t *s, double lo, double hi)
{
    return lo * pow(hi / lo, lcg_unit(s));
}

#endif
