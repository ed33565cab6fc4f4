/* fastsci: counter-based random numbers (Philox4x64-10).
 *
 * The generator is Random123's Philox4x64-10 (Salmon et al., SC'11), keyed by
 * key = {seed, stream}. A generator state is a 256-bit counter; every block of
 * four 64-bit outputs is produced by first incrementing the counter (word 0 is
 * the least significant, carries go into words 1, 2, 3) and then encrypting it
 * with the key; the block's four words are returned in order. This is exactly
 * numpy.random.Philox, so
 *
 *     fsci_rng_init(&r, seed, stream, lo, hi); fsci_rng_u64(&r) ...
 *
 * yields the same 64-bit words as
 *
 *     numpy.random.Philox(key=np.array([seed, stream], np.uint64),
 *                         counter=np.array([0, 0, lo, hi], np.uint64)).random_raw(n)
 *
 * Sub-streams: the counter starts at {0, 0, index_lo, index_hi}, so each logical
 * index (pattern, trace, chunk, ...) owns 2^64 blocks of its own that no other
 * index can reach. Key streams by logical index, never by thread id: results
 * then do not depend on the thread count. Use distinct `stream` values for
 * unrelated purposes inside one engine.
 *
 * Bulk fills (fsci_rng_fill_*) split the output in chunks of FSCI_RNG_CHUNK
 * elements. Chunk c = i / FSCI_RNG_CHUNK is drawn, in element order, from the
 * generator fsci_rng_init(&r, seed, stream, c, 0), i.e. counter {0, 0, c, 0}
 * (u64, uniform, normal; Poisson uses sub-streams (c, a): see fsci_rng_fill_poisson):
 *
 *     out[c * FSCI_RNG_CHUNK + j] = j-th draw of fsci_rng_<dist>(&r, ...)
 *
 * For fsci_rng_fill_u64 this means element i is word i % 4 of the Philox block
 * with counter {(i % FSCI_RNG_CHUNK) / 4 + 1, 0, i / FSCI_RNG_CHUNK, 0}, and the
 * first FSCI_RNG_CHUNK elements equal numpy's stream with counter {0,0,0,0}.
 * The output is identical for every thread count.
 *
 * Thread safety: a fsci_rng is plain data owned by one thread at a time; the
 * bulk fills are reentrant and use OpenMP internally. See doc/rng.md. */
#ifndef FASTSCI_CORE_RNG_H
#define FASTSCI_CORE_RNG_H

#include "fastsci/core/defs.h"

/* Elements per chunk (and per sub-stream) in the bulk fills. A fixed constant:
 * changing it changes every bulk output. */
#define FSCI_RNG_CHUNK 1024

/* Largest Poisson mean accepted, 1e15. Up to here every quantity of the
 * sampler (lambda, k, k - lambda) is an exactly represented or finely resolved
 * double (spacing <= 0.125), so the sampler stays exact in distribution. */
#define FSCI_RNG_POISSON_MAX 1e15

/* Poisson means below this use inversion (sequential search of the CDF);
 * means at or above it use Hoermann's PTRS transformed rejection. */
#define FSCI_RNG_POISSON_SWITCH 10.0

/* Generator state: plain data, may be copied (a copy continues identically).
 * key = {seed, stream}; ctr = counter of the last block generated; buf = that
 * block; pos = next word of buf to return (4: a new block is needed). */
typedef struct fsci_rng {
    uint64_t key[2];
    uint64_t ctr[4];
    uint64_t buf[4];
    int pos;
} fsci_rng;

/* Initialise `r` with key {seed, stream} and counter {0, 0, index_lo, index_hi}:
 * the sub-stream of one logical index. Equals numpy
 * Philox(key=[seed, stream], counter=[0, 0, index_lo, index_hi]). Never fails
 * (r must not be NULL). */
FSCI_API void fsci_rng_init(fsci_rng *r, uint64_t seed, uint64_t stream, uint64_t index_lo,
                            uint64_t index_hi);

/* Next raw 64-bit word (numpy's random_raw()). */
FSCI_API uint64_t fsci_rng_u64(fsci_rng *r);

/* Uniform double in [0, 1) with 53 random bits: (u64 >> 11) * 2^-53, one word
 * per draw (numpy's Generator.random()). */
FSCI_API double fsci_rng_uniform(fsci_rng *r);

/* Standard normal N(0, 1): 256-layer ziggurat (Marsaglia and Tsang 2000) with
 * Marsaglia's exact tail method beyond R = 3.654. Usually one word per draw.
 * The sequence differs from numpy's standard_normal (different tables). */
FSCI_API double fsci_rng_normal(fsci_rng *r);

/* Poisson(lam) variate. Exact in distribution for every
 * 0 <= lam <= FSCI_RNG_POISSON_MAX: lam == 0 gives 0 and consumes nothing;
 * lam < FSCI_RNG_POISSON_SWITCH uses inversion (one word per draw); larger lam
 * uses PTRS (Hoermann 1993, about 2.2 words per draw). Precondition: lam finite
 * and in range; otherwise -1 is returned (no error is recorded). Use
 * fsci_rng_fill_poisson for validated, fast bulk draws. */
FSCI_API int64_t fsci_rng_poisson(fsci_rng *r, double lam);

/* Fill out[0..n) with raw 64-bit words, chunk layout as described above.
 * nthreads 0 = fsci_parallel_threads(). n == 0 is a no-op (out may be NULL).
 * FSCI_EINVAL for n < 0 or out == NULL with n > 0. */
FSCI_API int fsci_rng_fill_u64(uint64_t seed, uint64_t stream, uint64_t *out, int64_t n,
                               int nthreads) FSCI_WUR;

/* As fsci_rng_fill_u64, mapped to [0, 1) as by fsci_rng_uniform: element i is
 * (fill_u64 element i >> 11) * 2^-53. */
FSCI_API int fsci_rng_fill_uniform(uint64_t seed, uint64_t stream, double *out, int64_t n,
                                   int nthreads) FSCI_WUR;

/* Fill out[0..n) with standard normal draws (fsci_rng_normal on each chunk's
 * sub-stream). Errors as fsci_rng_fill_u64. */
FSCI_API int fsci_rng_fill_normal(uint64_t seed, uint64_t stream, double *out, int64_t n,
                                  int nthreads) FSCI_WUR;

/* Fill out[0..n) with Poisson draws: out[i] ~ Poisson(lam[nlam == 1 ? 0 : i]).
 * The kernel is fsci_rng_poisson's, but its attempts (one word each below
 * FSCI_RNG_POISSON_SWITCH, two above) are laid out by level: attempt a of
 * element i of chunk c reads the sub-stream fsci_rng_init(&r, seed, stream, c, a)
 * right after attempt a of the chunk's earlier elements that needed one (see
 * doc/rng.md). The first fill with nlam == n builds a 320 KiB static table,
 * once per process (thread-safe). lam has nlam entries,
 * nlam == 1 (one mean for all, constants precomputed once) or nlam == n.
 * All of lam is validated before anything is written: a NaN, negative, infinite
 * or > FSCI_RNG_POISSON_MAX entry gives FSCI_EINVAL with a message naming its
 * index and value, and out is left untouched. FSCI_EINVAL also for n < 0, a bad
 * nlam, or NULL pointers with n > 0. Thread count as fsci_rng_fill_u64.
 * With one mean >= FSCI_RNG_POISSON_SWITCH and large n, a pmf table of at most
 * 512 KiB is allocated for the call; if that allocation fails the draws are
 * the same, only slower (no error). */
FSCI_API int fsci_rng_fill_poisson(uint64_t seed, uint64_t stream, const double *lam, int64_t nlam,
                                   int64_t *out, int64_t n, int nthreads) FSCI_WUR;

#endif
