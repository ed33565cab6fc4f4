/* The first pass of a Poisson fill level with one mean per element
 * (rng_poisson.c, doc/rng.md), in three versions picked at run time: plain C,
 * AVX2 and AVX-512 (F + DQ + VL, with BMI2). For each element it reads its words, and
 *   - lam >= 10: computes the PTRS proposal and the fast acceptance (us >=
 *     0.07 and V (b - 2) <= v_r (b - 2)) with exactly the operations of
 *     ptrs_mean_from_b and ptrs_propose in rng_poisson.c, one IEEE-rounded
 *     operation at a time (square root, products, sums, quotient; no fused
 *     multiply-add: the rng sources are compiled with -ffp-contract=off);
 *     attempts that are not fast acceptances are handed back with their
 *     proposal for the squeeze and the exact test;
 *   - 0 < lam < 10: looks up the inversion cell table (row floor(64 lam),
 *     column the top 9 bits of the word); mixed cells are handed back;
 *   - lam = 0: 0.
 * Every version gives the same bits: the test suite forces each available
 * version and compares them with each other and with the single-attempt
 * kernel. */
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "rng_impl.h"

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define RNG_X86 1
#include <immintrin.h>
#else
#define RNG_X86 0
#endif

/* PTRS constants (Hoermann 1993) as in rng_poisson.c. */
#define C_B0 0.931
#define C_B1 2.53
#define C_A0 (-0.059)
#define C_A1 0.02483
#define C_VR0 0.9277
#define C_VR1 3.6224
#define KMAX 0x1p62 /* PTRS_KMAX */
#define CELL_MIXED 255
#define CELL_COLS (1 << FSCI__RNG_CELL_UBITS)

static int front_c(int n, int j0, const double *restrict lam, const uint64_t *restrict w, int wp,
                   const uint8_t *restrict cells, int64_t *restrict k, fsci__rng_front_out *restrict o)
{
    int np = o->np, ni = o->ni;
    for (int j = j0; j < n; j++) {
        double l = lam[j];
        int isp = l >= FSCI_RNG_POISSON_SWITCH, isi = (l > 0.0) & !isp;
        uint64_t wa = w[wp], wb = w[wp + 1]; /* w has a spare word past the last */
        wp += isp + isp + isi;
        double b = C_B0 + C_B1 * sqrt(l);
        double a2 = 2.0 * (C_A0 + C_A1 * b), bm2 = b - 2.0, vrb = C_VR0 * bm2 - C_VR1;
        double U = fsci__rng_unit53(wa) - 0.5, V = 1.0 - fsci__rng_unit53(wb);
        double us = 0.5 - fabs(U);
        double x = (a2 / us + b) * U + l + 0.43;
        int fast = (us >= 0.07) & (V * bm2 <= vrb);
        double xc = x > -1.0 ? x : -1.0;
        double kd = trunc(xc < KMAX ? xc : KMAX) + 0.0; /* + 0: no -0 */
        int cell = isi ? cells[(int)(l * FSCI__RNG_CELL_PER_UNIT) * CELL_COLS +
                               (int)(wa >> (64 - FSCI__RNG_CELL_UBITS))]
                       : 0;
        int mixed = isi & (cell == CELL_MIXED), slowp = isp & !fast;
        k[j] = isp ? (fast ? (int64_t)kd : -1) : mixed ? -1 : cell; /* lam = 0: cell 0 */
        o->pi[np] = j;
        o->x[np] = x;
        o->k[np] = kd;
        o->lam[np] = l;
        o->b[np] = b;
        o->V[np] = V;
        o->us[np] = us;
        np += slowp;
        o->ii[ni] = j;
        o->iw[ni] = wa;
        ni += mixed;
    }
    o->np = np;
    o->ni = ni;
    return wp;
}

#if RNG_X86

static const int32_t pack4[16][8] = {
    {0, 1, 0, 1, 0, 1, 0, 1}, {0, 1, 0, 1, 0, 1, 0, 1}, {2, 3, 0, 1, 0, 1, 0, 1}, {0, 1, 2, 3, 0, 1, 0, 1},
    {4, 5, 0, 1, 0, 1, 0, 1}, {0, 1, 4, 5, 0, 1, 0, 1}, {2, 3, 4, 5, 0, 1, 0, 1}, {0, 1, 2, 3, 4, 5, 0, 1},
    {6, 7, 0, 1, 0, 1, 0, 1}, {0, 1, 6, 7, 0, 1, 0, 1}, {2, 3, 6, 7, 0, 1, 0, 1}, {0, 1, 2, 3, 6, 7, 0, 1},
    {4, 5, 6, 7, 0, 1, 0, 1}, {0, 1, 4, 5, 6, 7, 0, 1}, {2, 3, 4, 5, 6, 7, 0, 1}, {0, 1, 2, 3, 4, 5, 6, 7}};

/* The top 53 bits of each word as a double in [0, 1): the upper 52 bits and
 * the lowest of the 53 through the 2^52 exponent trick, exact. */
__attribute__((target("avx2"))) static inline __m256d unit53_avx2(__m256i w)
{
    const __m256i magic = _mm256_set1_epi64x(0x4330000000000000LL);
    const __m256d two52 = _mm256_set1_pd(0x1p52);
    __m256d hi = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64(w, 12), magic)), two52);
    __m256i lo1 = _mm256_and_si256(_mm256_srli_epi64(w, 11), _mm256_set1_epi64x(1));
    __m256d lo = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(lo1, magic)), two52);
    return _mm256_mul_pd(_mm256_add_pd(_mm256_add_pd(hi, hi), lo), _mm256_set1_pd(0x1p-53));
}

/* stores the lanes of v selected by the 4-bit mask m, packed, at p */
__attribute__((target("avx2"))) static inline void pack_store_avx2(double *p, __m256d v, int m)
{
    __m256i perm = _mm256_loadu_si256((const __m256i *)(const void *)pack4[m]);
    _mm256_storeu_pd(p, _mm256_castsi256_pd(_mm256_permutevar8x32_epi32(_mm256_castpd_si256(v), perm)));
}

__attribute__((target("avx2"))) static int front_avx2(int n, const double *restrict lam,
                                                      const uint64_t *restrict w, int wp,
                                                      const uint8_t *restrict cells, int64_t *restrict k,
                                                      fsci__rng_front_out *restrict o)
{
    const __m256d b0 = _mm256_set1_pd(C_B0), b1 = _mm256_set1_pd(C_B1), a0 = _mm256_set1_pd(C_A0);
    const __m256d a1 = _mm256_set1_pd(C_A1), vr0 = _mm256_set1_pd(C_VR0), vr1 = _mm256_set1_pd(C_VR1);
    const __m256d two = _mm256_set1_pd(2.0), half = _mm256_set1_pd(0.5), one = _mm256_set1_pd(1.0);
    const __m256d c007 = _mm256_set1_pd(0.07), c043 = _mm256_set1_pd(0.43);
    const __m256d sw = _mm256_set1_pd(FSCI_RNG_POISSON_SWITCH), zero = _mm256_setzero_pd();
    const __m256d crow = _mm256_set1_pd(FSCI__RNG_CELL_PER_UNIT), m1 = _mm256_set1_pd(-1.0);
    const __m256d kmax = _mm256_set1_pd(KMAX), two52 = _mm256_set1_pd(0x1p52);
    const __m256d absmask = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL));
    const __m256i ones = _mm256_set1_epi64x(-1), ff = _mm256_set1_epi64x(CELL_MIXED);
    const __m256i evens = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    const long long *wl = (const long long *)(const void *)w;
    int np = o->np, ni = o->ni, q = 0;
    for (; q + 4 <= n; q += 4) {
        __m256d l = _mm256_loadu_pd(lam + q);
        __m256d isp = _mm256_cmp_pd(l, sw, _CMP_GE_OQ);
        __m256d isi = _mm256_andnot_pd(isp, _mm256_cmp_pd(l, zero, _CMP_GT_OQ));
        int mp = _mm256_movemask_pd(isp), mi = _mm256_movemask_pd(isi);
        __m256i wa, wb;
        if (mp == 15) { /* four PTRS attempts: eight consecutive words */
            __m256i e0 = _mm256_loadu_si256((const __m256i *)(const void *)(w + wp));
            __m256i e1 = _mm256_loadu_si256((const __m256i *)(const void *)(w + wp + 4));
            wa = _mm256_permute4x64_epi64(_mm256_unpacklo_epi64(e0, e1), 0xd8);
            wb = _mm256_permute4x64_epi64(_mm256_unpackhi_epi64(e0, e1), 0xd8);
            wp += 8;
        } else { /* word positions: exclusive prefix sums of the words per element */
            __m256i c = _mm256_sub_epi64(
                _mm256_setzero_si256(),
                _mm256_add_epi64(_mm256_castpd_si256(isp), _mm256_castpd_si256(_mm256_or_pd(isp, isi))));
            __m256i s1 = _mm256_add_epi64(
                c, _mm256_blend_epi32(_mm256_permute4x64_epi64(c, 0x90), _mm256_setzero_si256(), 0x03));
            __m256i s2 = _mm256_add_epi64(s1, _mm256_permute2x128_si256(s1, s1, 0x08));
            __m256i p = _mm256_add_epi64(_mm256_sub_epi64(s2, c), _mm256_set1_epi64x(wp));
            wa = _mm256_i64gather_epi64(wl, p, 8); /* w has a spare word past the last */
            wb = _mm256_i64gather_epi64(wl + 1, p, 8);
            wp += (int)_mm256_extract_epi64(s2, 3);
        }
        __m256d b = _mm256_add_pd(b0, _mm256_mul_pd(b1, _mm256_sqrt_pd(l)));
        __m256d a2 = _mm256_mul_pd(two, _mm256_add_pd(a0, _mm256_mul_pd(a1, b)));
        __m256d bm2 = _mm256_sub_pd(b, two);
        __m256d vrb = _mm256_sub_pd(_mm256_mul_pd(vr0, bm2), vr1);
        __m256d U = _mm256_sub_pd(unit53_avx2(wa), half);
        __m256d V = _mm256_sub_pd(one, unit53_avx2(wb));
        __m256d us = _mm256_sub_pd(half, _mm256_and_pd(U, absmask));
        __m256d x =
            _mm256_add_pd(_mm256_add_pd(_mm256_mul_pd(_mm256_add_pd(_mm256_div_pd(a2, us), b), U), l), c043);
        __m256d fast = _mm256_and_pd(_mm256_cmp_pd(us, c007, _CMP_GE_OQ),
                                     _mm256_cmp_pd(_mm256_mul_pd(V, bm2), vrb, _CMP_LE_OQ));
        __m256d xc = _mm256_blendv_pd(m1, x, _mm256_cmp_pd(x, m1, _CMP_GT_OQ));
        xc = _mm256_blendv_pd(kmax, xc, _mm256_cmp_pd(xc, kmax, _CMP_LT_OQ));
        __m256d kd = _mm256_add_pd(_mm256_round_pd(xc, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC), zero);
        /* int64 of kd for fast ones (4 <= kd < 2^52) through the 2^52 exponent trick */
        __m256i kp =
            _mm256_sub_epi64(_mm256_castpd_si256(_mm256_add_pd(kd, two52)), _mm256_castpd_si256(two52));
        kp = _mm256_blendv_epi8(ones, kp, _mm256_castpd_si256(fast));
        /* inversion: the cell's byte (a 32-bit load at its address; the table is padded) */
        __m256i cell = _mm256_setzero_si256();
        if (mi) {
            __m256i row =
                _mm256_cvtepi32_epi64(_mm256_cvttpd_epi32(_mm256_and_pd(_mm256_mul_pd(l, crow), isi)));
            __m256i ci = _mm256_add_epi64(_mm256_slli_epi64(row, FSCI__RNG_CELL_UBITS),
                                          _mm256_srli_epi64(wa, 64 - FSCI__RNG_CELL_UBITS));
            __m128i imask =
                _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(_mm256_castpd_si256(isi), evens));
            __m128i cb = _mm256_mask_i64gather_epi32(_mm_setzero_si128(), (const int *)(const void *)cells,
                                                     ci, imask, 1);
            cell = _mm256_and_si256(_mm256_cvtepi32_epi64(cb), ff);
        }
        __m256i mixed = _mm256_cmpeq_epi64(cell, ff);
        __m256i ki = _mm256_blendv_epi8(cell, ones, mixed);
        __m256i kk = _mm256_blendv_epi8(ki, kp, _mm256_castpd_si256(isp)); /* lam = 0: cell 0 */
        _mm256_storeu_si256((__m256i *)(void *)(k + q), kk);
        int ms = _mm256_movemask_pd(_mm256_andnot_pd(fast, isp));
        int mm = _mm256_movemask_pd(_mm256_castsi256_pd(mixed));
        { /* stored whole (the arrays have room), without a branch */
            pack_store_avx2(o->x + np, x, ms);
            pack_store_avx2(o->k + np, kd, ms);
            pack_store_avx2(o->lam + np, l, ms);
            pack_store_avx2(o->b + np, b, ms);
            pack_store_avx2(o->V + np, V, ms);
            pack_store_avx2(o->us + np, us, ms);
            for (int e = 0; e < 4; e++) {
                o->pi[np] = q + e;
                np += (ms >> e) & 1;
            }
        }
        if (mm) {
            uint64_t wv[4];
            _mm256_storeu_si256((__m256i *)(void *)wv, wa);
            for (int e = 0; e < 4; e++) {
                o->ii[ni] = q + e;
                o->iw[ni] = wv[e];
                ni += (mm >> e) & 1;
            }
        }
    }
    o->np = np;
    o->ni = ni;
    return front_c(n, q, lam, w, wp, cells, k, o);
}

__attribute__((target("avx512f,avx512dq,avx512vl,bmi2"))) static int
front_avx512(int n, const double *restrict lam, const uint64_t *restrict w, int wp,
             const uint8_t *restrict cells, int64_t *restrict k, fsci__rng_front_out *restrict o)
{
    const __m512i even = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14),
                  odd = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
    const __m512d b0 = _mm512_set1_pd(C_B0), b1 = _mm512_set1_pd(C_B1), a0 = _mm512_set1_pd(C_A0);
    const __m512d a1 = _mm512_set1_pd(C_A1), vr0 = _mm512_set1_pd(C_VR0), vr1 = _mm512_set1_pd(C_VR1);
    const __m512d two = _mm512_set1_pd(2.0), half = _mm512_set1_pd(0.5), one = _mm512_set1_pd(1.0);
    const __m512d c007 = _mm512_set1_pd(0.07), c043 = _mm512_set1_pd(0.43), sc = _mm512_set1_pd(0x1p-53);
    const __m512d sw = _mm512_set1_pd(FSCI_RNG_POISSON_SWITCH), zero = _mm512_setzero_pd();
    const __m512d crow = _mm512_set1_pd(FSCI__RNG_CELL_PER_UNIT), m1 = _mm512_set1_pd(-1.0);
    const __m512d kmax = _mm512_set1_pd(KMAX);
    const __m512i minus1 = _mm512_set1_epi64(-1), ff = _mm512_set1_epi64(CELL_MIXED);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    int np = o->np, ni = o->ni;
    for (int q = 0; q < n; q += 8) {
        __mmask8 m = n - q >= 8 ? (__mmask8)0xff : (__mmask8)((1u << (n - q)) - 1u);
        /* lanes past n: lam = 0, position 0, neither stored nor handed back */
        __m512d l = _mm512_maskz_loadu_pd(m, lam + q);
        __mmask8 isp = _mm512_cmp_pd_mask(l, sw, _CMP_GE_OQ);
        __mmask8 isi = _mm512_cmp_pd_mask(l, zero, _CMP_GT_OQ) & (__mmask8)~isp;
        /* the words in element order: slots (wa, wb) per lane, wa used by PTRS and
         * inversion, wb by PTRS; expand-loaded from consecutive words */
        unsigned slots = _pdep_u32((unsigned)(isp | isi), 0x5555u) | _pdep_u32(isp, 0xaaaau);
        __mmask8 lo = (__mmask8)slots, hi = (__mmask8)(slots >> 8);
        __m512i e0 = _mm512_maskz_expandloadu_epi64(lo, w + wp);
        wp += __builtin_popcount(lo);
        __m512i e1 = _mm512_maskz_expandloadu_epi64(hi, w + wp);
        wp += __builtin_popcount(hi);
        __m512i wa = _mm512_permutex2var_epi64(e0, even, e1), wb = _mm512_permutex2var_epi64(e0, odd, e1);
        __m512d b = _mm512_add_pd(b0, _mm512_mul_pd(b1, _mm512_sqrt_pd(l)));
        __m512d a2 = _mm512_mul_pd(two, _mm512_add_pd(a0, _mm512_mul_pd(a1, b)));
        __m512d bm2 = _mm512_sub_pd(b, two);
        __m512d vrb = _mm512_sub_pd(_mm512_mul_pd(vr0, bm2), vr1);
        __m512d U = _mm512_sub_pd(_mm512_mul_pd(_mm512_cvtepu64_pd(_mm512_srli_epi64(wa, 11)), sc), half);
        __m512d V = _mm512_sub_pd(one, _mm512_mul_pd(_mm512_cvtepu64_pd(_mm512_srli_epi64(wb, 11)), sc));
        __m512d us = _mm512_sub_pd(half, _mm512_abs_pd(U));
        __m512d x =
            _mm512_add_pd(_mm512_add_pd(_mm512_mul_pd(_mm512_add_pd(_mm512_div_pd(a2, us), b), U), l), c043);
        __mmask8 fast = _mm512_cmp_pd_mask(us, c007, _CMP_GE_OQ) &
                        _mm512_cmp_pd_mask(_mm512_mul_pd(V, bm2), vrb, _CMP_LE_OQ);
        __m512d xc = _mm512_mask_mov_pd(m1, _mm512_cmp_pd_mask(x, m1, _CMP_GT_OQ), x);
        xc = _mm512_mask_mov_pd(kmax, _mm512_cmp_pd_mask(xc, kmax, _CMP_LT_OQ), xc);
        __m512d kd = _mm512_add_pd(_mm512_roundscale_pd(xc, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC), zero);
        __m512i kp = _mm512_mask_cvttpd_epi64(minus1, fast, kd);
        __m512i cell = _mm512_setzero_si512();
        if (isi) {
            __m512i row = _mm512_cvttpd_epi64(_mm512_maskz_mul_pd(isi, l, crow));
            __m512i ci = _mm512_add_epi64(_mm512_slli_epi64(row, FSCI__RNG_CELL_UBITS),
                                          _mm512_srli_epi64(wa, 64 - FSCI__RNG_CELL_UBITS));
            __m256i cb = _mm512_mask_i64gather_epi32(_mm256_setzero_si256(), isi, ci, cells, 1);
            cell = _mm512_and_si512(_mm512_cvtepi32_epi64(cb), ff);
        }
        __mmask8 mixed = _mm512_cmpeq_epi64_mask(cell, ff) & m;
        __m512i kk = _mm512_mask_mov_epi64(cell, mixed, minus1);
        kk = _mm512_mask_mov_epi64(kk, isp, kp); /* lam = 0: cell 0 */
        _mm512_mask_storeu_epi64(k + q, m, kk);
        __mmask8 ms = isp & (__mmask8)~fast & m;
        __m256i li = _mm256_add_epi32(lane, _mm256_set1_epi32(q));
        { /* packed in registers, stored whole (the arrays have room), without a branch */
            _mm512_storeu_pd(o->x + np, _mm512_maskz_compress_pd(ms, x));
            _mm512_storeu_pd(o->k + np, _mm512_maskz_compress_pd(ms, kd));
            _mm512_storeu_pd(o->lam + np, _mm512_maskz_compress_pd(ms, l));
            _mm512_storeu_pd(o->b + np, _mm512_maskz_compress_pd(ms, b));
            _mm512_storeu_pd(o->V + np, _mm512_maskz_compress_pd(ms, V));
            _mm512_storeu_pd(o->us + np, _mm512_maskz_compress_pd(ms, us));
            _mm256_storeu_si256((__m256i *)(void *)(o->pi + np), _mm256_maskz_compress_epi32(ms, li));
            np += __builtin_popcount(ms);
        }
        if (mixed) {
            _mm256_storeu_si256((__m256i *)(void *)(o->ii + ni), _mm256_maskz_compress_epi32(mixed, li));
            _mm512_storeu_si512(o->iw + ni, _mm512_maskz_compress_epi64(mixed, wa));
            ni += __builtin_popcount(mixed);
        }
    }
    o->np = np;
    o->ni = ni;
    return wp;
}

/* Philox4x64-10 on eight blocks per vector: the 64 x 64 -> 128-bit products
 * from four 32 x 32 -> 64-bit ones (exact integer arithmetic, so the words
 * are those of fsci__rng_block), four vectors of blocks at a time for
 * independent work. */
#define PHILOX_M0 0xD2E7470EE14C6C93ULL
#define PHILOX_M1 0xCA5A826395121157ULL
#define PHILOX_W0 0x9E3779B97F4A7C15ULL
#define PHILOX_W1 0xBB67AE8584CAA73BULL

__attribute__((target("avx512f"))) static inline __m512i mulhilo_avx512(__m512i x, __m512i ml, __m512i mh,
                                                                        __m512i *lo)
{
    /* x M = p3 2^64 + (p1 + p2) 2^32 + p0 with pi < 2^64 the 32 x 32 products;
     * t and t2 carry the middle columns without overflow */
    const __m512i m32 = _mm512_set1_epi64(0xffffffff);
    __m512i xh = _mm512_srli_epi64(x, 32);
    __m512i p0 = _mm512_mul_epu32(x, ml), p1 = _mm512_mul_epu32(x, mh);
    __m512i p2 = _mm512_mul_epu32(xh, ml), p3 = _mm512_mul_epu32(xh, mh);
    __m512i t = _mm512_add_epi64(p1, _mm512_srli_epi64(p0, 32));
    __m512i t2 = _mm512_add_epi64(p2, _mm512_and_si512(t, m32));
    *lo = _mm512_ternarylogic_epi64(_mm512_slli_epi64(t2, 32), p0, m32, 0xf8); /* (t2 << 32) | (p0 & m32) */
    return _mm512_add_epi64(_mm512_add_epi64(p3, _mm512_srli_epi64(t, 32)), _mm512_srli_epi64(t2, 32));
}

enum { PHILOX_NV = 4 }; /* vectors of eight blocks in flight */

/* blocks first + j (j < 8 PHILOX_NV) of counters {first + j, 0, c2, c3} */
__attribute__((target("avx512f"), always_inline)) static inline void
philox_avx512(uint64_t k0, uint64_t k1, uint64_t first, uint64_t c2, uint64_t c3, int nv,
              uint64_t *restrict out)
{
    const __m512i m0l = _mm512_set1_epi64((long long)(PHILOX_M0 & 0xffffffff));
    const __m512i m0h = _mm512_set1_epi64((long long)(PHILOX_M0 >> 32));
    const __m512i m1l = _mm512_set1_epi64((long long)(PHILOX_M1 & 0xffffffff));
    const __m512i m1h = _mm512_set1_epi64((long long)(PHILOX_M1 >> 32));
    const __m512i lanes = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
    const __m512i lo2 = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11),
                  hi2 = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
    __m512i x0[PHILOX_NV], x1[PHILOX_NV], x2[PHILOX_NV], x3[PHILOX_NV];
    for (int g = 0; g < nv; g++) {
        x0[g] = _mm512_add_epi64(_mm512_set1_epi64((long long)(first + 8 * (uint64_t)g)), lanes);
        x1[g] = _mm512_setzero_si512();
        x2[g] = _mm512_set1_epi64((long long)c2);
        x3[g] = _mm512_set1_epi64((long long)c3);
    }
    for (int r = 0; r < 10; r++) {
        __m512i ka = _mm512_set1_epi64((long long)(k0 + (uint64_t)r * PHILOX_W0));
        __m512i kb = _mm512_set1_epi64((long long)(k1 + (uint64_t)r * PHILOX_W1));
        for (int g = 0; g < nv; g++) {
            __m512i lo0, lo1;
            __m512i hi0 = mulhilo_avx512(x0[g], m0l, m0h, &lo0), hi1 = mulhilo_avx512(x2[g], m1l, m1h, &lo1);
            x0[g] = _mm512_ternarylogic_epi64(hi1, x1[g], ka, 0x96); /* hi1 ^ x1 ^ ka */
            x2[g] = _mm512_ternarylogic_epi64(hi0, x3[g], kb, 0x96);
            x1[g] = lo1;
            x3[g] = lo0;
        }
    }
    for (int g = 0; g < nv; g++) { /* word i of blocks 0..7 -> blocks in order */
        uint64_t *o = out + 32 * g;
        __m512i t0 = _mm512_unpacklo_epi64(x0[g], x1[g]), t1 = _mm512_unpackhi_epi64(x0[g], x1[g]);
        __m512i t2 = _mm512_unpacklo_epi64(x2[g], x3[g]), t3 = _mm512_unpackhi_epi64(x2[g], x3[g]);
        __m512i u0 = _mm512_permutex2var_epi64(t0, lo2, t2), u1 = _mm512_permutex2var_epi64(t1, lo2, t3);
        __m512i u2 = _mm512_permutex2var_epi64(t0, hi2, t2), u3 = _mm512_permutex2var_epi64(t1, hi2, t3);
        _mm512_storeu_si512(o, _mm512_shuffle_i64x2(u0, u1, 0x44));
        _mm512_storeu_si512(o + 8, _mm512_shuffle_i64x2(u0, u1, 0xee));
        _mm512_storeu_si512(o + 16, _mm512_shuffle_i64x2(u2, u3, 0x44));
        _mm512_storeu_si512(o + 24, _mm512_shuffle_i64x2(u2, u3, 0xee));
    }
}

/* The whole groups of eight of nb blocks (see fsci__rng_philox_blocks);
 * returns how many blocks it wrote. */
__attribute__((target("avx512f"))) static int philox_blocks_avx512(uint64_t k0, uint64_t k1, uint64_t first,
                                                                   uint64_t c2, uint64_t c3, int nb,
                                                                   uint64_t *restrict out)
{
    int j = 0;
    for (; j + 8 * PHILOX_NV <= nb; j += 8 * PHILOX_NV)
        philox_avx512(k0, k1, first + (uint64_t)j, c2, c3, PHILOX_NV, out + 4 * j);
    for (; j + 8 <= nb; j += 8) philox_avx512(k0, k1, first + (uint64_t)j, c2, c3, 1, out + 4 * j);
    return j;
}

static int simd_detect(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("bmi2"))
        return FSCI__RNG_SIMD_AVX512;
    if (__builtin_cpu_supports("avx2")) return FSCI__RNG_SIMD_AVX2;
    return FSCI__RNG_SIMD_C;
}

#else

static int simd_detect(void)
{
    return FSCI__RNG_SIMD_C;
}

#endif

/* -1: not yet detected; else the version in use */
static atomic_int simd_level = -1;
static atomic_int simd_best = -1;

static int simd_best_level(void)
{
    int b = atomic_load_explicit(&simd_best, memory_order_relaxed);
    if (b < 0) {
        b = simd_detect();
        atomic_store_explicit(&simd_best, b, memory_order_relaxed);
    }
    return b;
}

int fsci__rng_simd_set(int level)
{
    int best = simd_best_level();
    if (level < 0) level = best;
    if (level > best) return -1;
    atomic_store_explicit(&simd_level, level, memory_order_relaxed);
    return level;
}

int fsci__rng_simd_get(void)
{
    int l = atomic_load_explicit(&simd_level, memory_order_relaxed);
    if (l < 0) {
        l = simd_best_level();
        atomic_store_explicit(&simd_level, l, memory_order_relaxed);
    }
    return l;
}

int fsci__rng_poisson_front(int n, const double *lam, const uint64_t *w, int wp, const uint8_t *cells,
                            int64_t *k, fsci__rng_front_out *o)
{
    o->np = o->ni = 0;
#if RNG_X86
    switch (fsci__rng_simd_get()) {
    case FSCI__RNG_SIMD_AVX512: return front_avx512(n, lam, w, wp, cells, k, o);
    case FSCI__RNG_SIMD_AVX2: return front_avx2(n, lam, w, wp, cells, k, o);
    default: break;
    }
#endif
    return front_c(n, 0, lam, w, wp, cells, k, o);
}

void fsci__rng_philox_blocks(uint64_t k0, uint64_t k1, uint64_t first, uint64_t c2, uint64_t c3, int nb,
                             uint64_t *out)
{
    int j = 0;
#if RNG_X86
    if (fsci__rng_simd_get() == FSCI__RNG_SIMD_AVX512)
        j = philox_blocks_avx512(k0, k1, first, c2, c3, nb, out);
#endif
    for (; j < nb; j++) fsci__rng_block(k0, k1, first + (uint64_t)j, 0, c2, c3, out + 4 * j);
}
