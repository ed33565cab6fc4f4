/* fastsci internal: constants of the samplers in rng.c, exposed to the tests
 * (tests/core/test_rng.c checks the tables against their defining equations).
 * Not part of the public API. */
#ifndef FASTSCI_CORE_RNG_IMPL_H
#define FASTSCI_CORE_RNG_IMPL_H

#include <stdint.h>

/* Ziggurat for f(x) = exp(-x^2/2) with FSCI__RNG_ZIG_N layers of equal area V.
 * x[1] = R is the start of the tail, x[0] = V / f(R) the pseudo-width of the base
 * layer (rectangle plus tail), x[i+1] = f^-1(f(x[i]) + V / x[i]), x[N] = 0.
 * f[i] = f(x[i]) (f[0] unused, f[N] = 1); k[i] = floor(2^52 x[i+1] / x[i]). */
#define FSCI__RNG_ZIG_N 256
extern const double fsci__rng_zig_x[FSCI__RNG_ZIG_N + 1];
extern const double fsci__rng_zig_f[FSCI__RNG_ZIG_N + 1];
extern const uint64_t fsci__rng_zig_k[FSCI__RNG_ZIG_N];

/* log P(K = k) for K ~ Poisson(lam), lam > 0, k >= 0 an integer-valued double,
 * computed without cancellation as -bd0(k, lam) - log(2 pi k)/2 - stirlerr(k)
 * (Loader 2000); stirlerr from a table for k < 32 and its asymptotic series
 * otherwise. This is the log-pmf used by the PTRS acceptance step. */
double fsci__rng_poisson_logpmf(double k, double lam);

#endif
