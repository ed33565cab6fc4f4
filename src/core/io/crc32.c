/* CRC-32 (the zip/gzip polynomial 0x04C11DB7, bit-reflected) by carry-less
 * multiplication, with zlib's table-driven crc32_z as the fallback.
 *
 * Method: V. Gopal et al., "Fast CRC Computation for Generic Polynomials
 * Using PCLMULQDQ Instruction", Intel white paper 323102 (2009). The data is
 * folded 64 bytes at a time into four 128-bit accumulators: an accumulator a
 * that stands 512 bits before the next block b becomes
 *     clmul(a.lo, K1) ^ clmul(a.hi, K2) ^ b,
 * with K1 = x^(512+32) mod P and K2 = x^(512-32) mod P (bit-reflected and
 * shifted left by one, as the paper's reflected variant needs). The four
 * accumulators are then folded into one with the 128-bit-distance pair K3, K4.
 * Folding keeps the polynomial value of the message modulo P, so the CRC of
 * the whole input equals the plain (zero-initial) CRC of the final 16-byte
 * remainder; we compute that with zlib instead of a Barrett reduction, which
 * costs nothing measurable and leaves less to get wrong. The constants are the
 * paper's; tests/core/test_npy.c compares with zlib at every length 0..1100,
 * all 16 alignments, continued values and a few large sizes. */
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include "core/io/npy_impl.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define FOLD_TARGET __attribute__((target("pclmul,sse4.1")))

FOLD_TARGET static inline __m128i fold(__m128i a, __m128i k, __m128i b)
{
    __m128i lo = _mm_clmulepi64_si128(a, k, 0x00); /* a.lo * k.lo */
    __m128i hi = _mm_clmulepi64_si128(a, k, 0x11); /* a.hi * k.hi */
    return _mm_xor_si128(_mm_xor_si128(lo, hi), b);
}

/* CRC of the first *used bytes of p (the largest multiple of 16 <= n; the
 * caller passes n >= 64 and finishes the rest), continuing from crc, the
 * zlib-style (pre/post-inverted) value so far. */
FOLD_TARGET static uint32_t crc_fold(uint32_t crc, const unsigned char *p, size_t n, size_t *used)
{
    const __m128i k12 = _mm_set_epi64x(INT64_C(0x1c6e41596), INT64_C(0x154442bd4));
    const __m128i k34 = _mm_set_epi64x(INT64_C(0x0ccaa009e), INT64_C(0x1751997d0));
    __m128i x0 = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i x1 = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
    __m128i x2 = _mm_loadu_si128((const __m128i *)(const void *)(p + 32));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(const void *)(p + 48));
    /* the initial register value enters as the first 32 bits of the message */
    x0 = _mm_xor_si128(x0, _mm_cvtsi32_si128((int)~crc));
    size_t i = 64;
    for (; i + 64 <= n; i += 64) {
        x0 = fold(x0, k12, _mm_loadu_si128((const __m128i *)(const void *)(p + i)));
        x1 = fold(x1, k12, _mm_loadu_si128((const __m128i *)(const void *)(p + i + 16)));
        x2 = fold(x2, k12, _mm_loadu_si128((const __m128i *)(const void *)(p + i + 32)));
        x3 = fold(x3, k12, _mm_loadu_si128((const __m128i *)(const void *)(p + i + 48)));
    }
    __m128i x = fold(x0, k34, x1);
    x = fold(x, k34, x2);
    x = fold(x, k34, x3);
    for (; i + 16 <= n; i += 16) x = fold(x, k34, _mm_loadu_si128((const __m128i *)(const void *)(p + i)));
    unsigned char rem[16];
    _mm_storeu_si128((__m128i *)(void *)rem, x);
    *used = i;
    /* zero-initial CRC of the remainder, then the final inversion: zlib's
     * crc32 with 0xffffffff starts from register 0 and inverts at the end */
    return (uint32_t)crc32(0xffffffffUL, rem, 16);
}

static int have_pclmul(void)
{
    static int known = -1;
    int k = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (k < 0) {
        __builtin_cpu_init();
        k = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
        __atomic_store_n(&known, k, __ATOMIC_RELAXED);
    }
    return k;
}
#endif

uint32_t fsci__crc32(uint32_t crc, const void *data, size_t n)
{
    const unsigned char *p = data;
#if defined(__x86_64__) && defined(__GNUC__)
    if (n >= 256 && have_pclmul()) {
        size_t used = 0;
        crc = crc_fold(crc, p, n, &used);
        p += used;
        n -= used;
    }
#endif
    while (n > 0) { /* zlib takes at most 2^32 - 1 bytes per call */
        uInt chunk = (uInt)(n < ((size_t)1 << 30) ? n : ((size_t)1 << 30));
        crc = (uint32_t)crc32_z(crc, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return crc;
}
