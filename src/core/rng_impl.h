/* fastsci internal: constants and single steps of the samplers in rng.c,
 * exposed to the tests (tests/core/test_rng.c checks the tables against their
 * defining equations and each fast path against the exact one it replaces).
 * Not part of the public API. */
#ifndef FASTSCI_CORE_RNG_IMPL_H
#define FASTSCI_CORE_RNG_IMPL_H

#include <stdint.h>

#include "fastsci/core/rng.h"

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

/* One attempt of the Poisson kernel (see the fill layout in rng.c and
 * doc/rng.md) on the words w[0..) it reads (none for lam = 0, one for
 * lam < FSCI_RNG_POISSON_SWITCH, two above): the value, or -1 when another
 * attempt is needed; -2 for an invalid lam. fsci_rng_poisson runs attempts on
 * consecutive words until one gives a value. */
int64_t fsci__rng_poisson_attempt(double lam, const uint64_t *w);

/* Cell table of the per-element inversion: FSCI__RNG_CELL_PER_UNIT rows per
 * unit of lam (row floor(64 lam)), 2^FSCI__RNG_CELL_UBITS columns (the top
 * bits of the word). */
#define FSCI__RNG_CELL_PER_UNIT 64
#define FSCI__RNG_CELL_UBITS 9

/* One word of inversion for 0 < lam < FSCI_RNG_POISSON_SWITCH: the K it gives,
 * or -1 when the word must be redrawn. mode 0: the search of single draws
 * (squeeze for K = 0, then the CDF); mode 2: through the cell table of the
 * per-element fills (same result); mode 1: the cell table alone, -2 for a
 * mixed cell. -3 for a lam outside (0, FSCI_RNG_POISSON_SWITCH). */
int fsci__rng_poisson_inv_word(double lam, uint64_t w, int mode);

/* Step 4 of PTRS for proposal k at mean lam >= 10 with the attempt's V and
 * us: 1 accept, 0 reject. mode 0: the exact test (pmf from the log-pmf above);
 * mode 1: the exp- and log-free squeeze alone, -1 when it cannot decide;
 * mode 2: squeeze, then the exact test if needed (what the samplers run). */
int fsci__rng_ptrs_step4(double k, double lam, double V, double us, int mode);

#endif
