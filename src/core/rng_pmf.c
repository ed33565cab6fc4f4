/* The Poisson log-pmf without cancellation (C. Loader, "Fast and accurate
 * computation of binomial probabilities", 2000: bd0 and stirlerr), used by the
 * final acceptance test of the PTRS sampler in rng_poisson.c. */
#include <math.h>

#include "rng_impl.h"

/* clang-format off */
/* stirlerr(n) = log(n!) - (n log n - n + log(2 pi n) / 2) for n = 1..31 (mpmath);
 * entry 0 is unused. */
static const double stirlerr_tab[32] = {
    0x0p+0, 0x1.4c071bcda0a5bp-4, 0x1.52a9b923ea649p-5, 0x1.c579a268d80b3p-6,
    0x1.54a2662fd78a9p-6, 0x1.10b4e513fcbedp-6, 0x1.c6b167bebdf36p-7, 0x1.85d4d612e4a86p-7,
    0x1.552805e7b3076p-7, 0x1.2f4871b12ab64p-7, 0x1.10f9d4c0743a7p-7, 0x1.f0593088014f8p-8,
    0x1.c7018733aa9c6p-8, 0x1.a40514700f36cp-8, 0x1.86076c002d4a7p-8, 0x1.6c08f6f194a10p-8,
    0x1.5549f7dd113bcp-8, 0x1.4137c74da35f2p-8, 0x1.2f604ff627d77p-8, 0x1.1f697dd857d8ep-8,
    0x1.110b3ed261fb3p-8, 0x1.040b3999e0e2ap-8, 0x1.f0735f77a883ap-9, 0x1.dade5f5c049d4p-9,
    0x1.c715b494f1b23p-9, 0x1.b4e224e78a104p-9, 0x1.a414f4a0d8468p-9, 0x1.948654042bccap-9,
    0x1.861422f5d68c0p-9, 0x1.78a0f61376d1dp-9, 0x1.6c134df6e3d33p-9, 0x1.6054f550b26c0p-9
};
/* clang-format on */

#define LN_2PI 1.8378770664093454835606594728112353

/* stirlerr(n) for n >= 32 from its asymptotic series
 * 1/(12n) - 1/(360n^3) + 1/(1260n^5) - 1/(1680n^7) + 1/(1188n^9);
 * the first omitted term is below 1e-19 there. */
static double stirlerr(double n)
{
    if (n < 32.0) return stirlerr_tab[(int)n];
    double r = 1.0 / (n * n);
    return (1.0 / 12 - r * (1.0 / 360 - r * (1.0 / 1260 - r * (1.0 / 1680 - r / 1188)))) / n;
}

/* bd0(x, m) = x log(x/m) + m - x >= 0 without cancellation (Loader 2000): for
 * x near m, with v = (x - m)/(x + m), log(x/m) = 2 atanh(v) gives
 * bd0 = (x - m) v + 2x (v^3/3 + v^5/5 + ...). */
static double bd0(double x, double m)
{
    /* 1 / (2j + 1), j = 1..16: |v| < 0.1 makes the terms fall below 2^-53 by j = 9. */
    static const double inv_odd[16] = {1.0 / 3,  1.0 / 5,  1.0 / 7,  1.0 / 9,  1.0 / 11, 1.0 / 13,
                                       1.0 / 15, 1.0 / 17, 1.0 / 19, 1.0 / 21, 1.0 / 23, 1.0 / 25,
                                       1.0 / 27, 1.0 / 29, 1.0 / 31, 1.0 / 33};
    double d = x - m;
    if (fabs(d) < 0.1 * (x + m)) {
        double v = d / (x + m), s = d * v, t = 2.0 * x * v, v2 = v * v;
        for (int j = 0; j < 16; j++) {
            t *= v2;
            double s1 = s + t * inv_odd[j];
            if (s1 == s) break;
            s = s1;
        }
        return s;
    }
    return x * log(x / m) + m - x;
}

/* log(lam^k e^-lam / k!) with log k! = k log k - k + log(2 pi k)/2 + stirlerr(k). */
double fsci__rng_poisson_logpmf(double k, double lam)
{
    if (k == 0.0) return -lam;
    return -bd0(k, lam) - 0.5 * (LN_2PI + log(k)) - stirlerr(k);
}
