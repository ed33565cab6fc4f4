/* fastsci internal: constants and single steps of the samplers in rng.c,
 * rng_poisson.c and rng_pmf.c, exposed to the tests (tests/core/test_rng*.c check the tables against their
 * defining equations and each fast path against the exact one it replaces),
 * and the generator steps, chunking and argument checks the rng*.c files share.
 * Not part of the public API. */
#ifndef FASTSCI_CORE_RNG_IMPL_H
#define FASTSCI_CORE_RNG_IMPL_H

#include <stdint.h>

#include <Random123/philox.h>

#include "fastsci/core/error.h"
#include "fastsci/core/parallel.h"
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

/* One attempt of the Poisson kernel (see the fill layout in rng_poisson.c and
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

/* The first pass of one attempt level of a Poisson fill with one mean per
 * element (rng_poisson_simd.c), on n <= FSCI__RNG_FRONT_BATCH elements that
 * take their words in order from w[wp] on (two for lam >= 10, one below,
 * none for 0; w readable two words past the last): returns the position
 * after them. Element j gets k[j] = the value when it is decided here (lam = 0; a PTRS
 * fast acceptance; an inversion whose cell in the table cells, rows of
 * 2^FSCI__RNG_CELL_UBITS bytes readable 3 bytes past the last, is pure), else
 * -1. The undecided ones are handed back in element order: PTRS attempts
 * with their proposal (pi: element; x, k = trunc(min(max(x, -1), 2^62)), lam,
 * b, V, us as in rng_poisson.c), mixed cells (ii, with their word iw). Versions: plain C, AVX2,
 * AVX-512 (F, DQ, VL; with BMI2), all with the same results; the fastest the CPU has
 * runs unless fsci__rng_simd_set chose another. */
enum { FSCI__RNG_SIMD_C = 0, FSCI__RNG_SIMD_AVX2 = 1, FSCI__RNG_SIMD_AVX512 = 2 };
enum { FSCI__RNG_FRONT_BATCH = 256, FSCI__RNG_FRONT_ROOM = FSCI__RNG_FRONT_BATCH + 8 };
typedef struct fsci__rng_front_out {
    int np, ni;
    int32_t pi[FSCI__RNG_FRONT_ROOM], ii[FSCI__RNG_FRONT_ROOM];
    uint64_t iw[FSCI__RNG_FRONT_ROOM];
    double x[FSCI__RNG_FRONT_ROOM], k[FSCI__RNG_FRONT_ROOM], lam[FSCI__RNG_FRONT_ROOM];
    double b[FSCI__RNG_FRONT_ROOM], V[FSCI__RNG_FRONT_ROOM], us[FSCI__RNG_FRONT_ROOM];
} fsci__rng_front_out;
int fsci__rng_poisson_front(int n, const double *lam, const uint64_t *w, int wp, const uint8_t *cells,
                            int64_t *k, fsci__rng_front_out *o);

/* nb Philox blocks in order: block j is fsci__rng_block(k0, k1, first + j, 0,
 * c2, c3), written to out[4 j .. 4 j + 3] (eight at a time with AVX-512). */
void fsci__rng_philox_blocks(uint64_t k0, uint64_t k1, uint64_t first, uint64_t c2, uint64_t c3, int nb,
                             uint64_t *out);

/* The version the front end runs: level (one of FSCI__RNG_SIMD_*), or the
 * best available for level < 0. Returns the level now in use, or -1 (nothing
 * changed) when the CPU lacks it. For tests and benchmarks: not thread-safe
 * against fills running at the same time. */
int fsci__rng_simd_set(int level);
int fsci__rng_simd_get(void);

/* ------------------------------------------------ shared by rng*.c only */

/* The Philox4x64-10 block of counter {c0, c1, c2, c3} under key {k0, k1}. */
static inline void fsci__rng_block(uint64_t k0, uint64_t k1, uint64_t c0, uint64_t c1, uint64_t c2,
                                   uint64_t c3, uint64_t *out)
{
    philox4x64_ctr_t ctr = {{c0, c1, c2, c3}};
    philox4x64_key_t key = {{k0, k1}};
    philox4x64_ctr_t y = philox4x64_R(10, ctr, key);
    out[0] = y.v[0];
    out[1] = y.v[1];
    out[2] = y.v[2];
    out[3] = y.v[3];
}

/* Next block of a sequential generator, next word, top 53 bits as [0, 1). */
static inline void fsci__rng_refill(fsci_rng *r)
{
    /* 256-bit increment before each block, word 0 least significant: numpy's order. */
    if (++r->ctr[0] == 0 && ++r->ctr[1] == 0 && ++r->ctr[2] == 0) ++r->ctr[3];
    fsci__rng_block(r->key[0], r->key[1], r->ctr[0], r->ctr[1], r->ctr[2], r->ctr[3], r->buf);
    r->pos = 0;
}

static inline uint64_t fsci__rng_next(fsci_rng *r)
{
    if ((unsigned)r->pos >= 4u) fsci__rng_refill(r);
    return r->buf[r->pos++];
}

static inline double fsci__rng_unit53(uint64_t w)
{
    return (double)(w >> 11) * 0x1p-53;
}

/* Fills: number of FSCI_RNG_CHUNK chunks of n elements, threads for them. */
static inline int64_t fsci__rng_num_chunks(int64_t n)
{
    return (n + FSCI_RNG_CHUNK - 1) / FSCI_RNG_CHUNK;
}

static inline int fsci__rng_team_size(int nthreads, int64_t nchunks)
{
    int nt = fsci_parallel_resolve(nthreads);
    return nchunks < nt ? (int)(nchunks > 0 ? nchunks : 1) : nt;
}

#define FSCI__RNG_CHECK_FILL_ARGS(out, n)                                                                    \
    do {                                                                                                     \
        FSCI_CHECK((n) >= 0, FSCI_EINVAL, "%s: n = %lld is negative", __func__, (long long)(n));             \
        FSCI_CHECK((n) == 0 || (out), FSCI_EINVAL, "%s: out is NULL for n = %lld", __func__,                 \
                   (long long)(n));                                                                          \
    } while (0)

/* CHUNK(args..., c, out + b, m) for every chunk c (first element b, m
 * elements). With one thread (or one chunk) the loop runs in the caller,
 * without entering a parallel region: the fills are called per pattern from
 * inside the engines' own regions. */
#define FSCI__RNG_FOR_EACH_CHUNK(CHUNK, SCHED, out, n, nthreads, ...)                                        \
    do {                                                                                                     \
        int64_t nch_ = fsci__rng_num_chunks(n);                                                              \
        int nt_ = fsci__rng_team_size(nthreads, nch_);                                                       \
        if (nt_ <= 1) {                                                                                      \
            for (int64_t c_ = 0; c_ < nch_; c_++) {                                                          \
                int64_t b_ = c_ * FSCI_RNG_CHUNK;                                                            \
                CHUNK(__VA_ARGS__, (uint64_t)c_, (out) + b_,                                                 \
                      (n)-b_ < FSCI_RNG_CHUNK ? (n)-b_ : FSCI_RNG_CHUNK);                                    \
            }                                                                                                \
        } else {                                                                                             \
            _Pragma(SCHED) for (int64_t c_ = 0; c_ < nch_; c_++)                                             \
            {                                                                                                \
                int64_t b_ = c_ * FSCI_RNG_CHUNK;                                                            \
                CHUNK(__VA_ARGS__, (uint64_t)c_, (out) + b_,                                                 \
                      (n)-b_ < FSCI_RNG_CHUNK ? (n)-b_ : FSCI_RNG_CHUNK);                                    \
            }                                                                                                \
        }                                                                                                    \
    } while (0)

#endif
