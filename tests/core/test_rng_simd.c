/* Tests of the SIMD versions behind the Poisson fills (rng_poisson_simd.c):
 * every version this CPU has (plain C, AVX2, AVX-512) is forced in turn and
 * must give the same bits: the Philox blocks against the block function, the
 * first pass of a fill level (values, handed-back proposals, word count)
 * against the plain C version and against the single-attempt kernel, and
 * whole fills on diffraction-like means. */
#include "core/rng_impl.h"
#include "fastsci/core/alloc.h"
#include "fastsci/core/rng.h"
#include "testkit.h"
#include "test_rng_util.h"

/* The versions this CPU has, lowest first; returns their number. */
static int simd_levels(int *lev)
{
    int n = 0;
    for (int l = FSCI__RNG_SIMD_C; l <= FSCI__RNG_SIMD_AVX512; l++)
        if (fsci__rng_simd_set(l) == l) lev[n++] = l;
    fsci__rng_simd_set(-1);
    return n;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

TEST(philox_blocks_equal_the_block_function)
{
    int lev[3], nl = simd_levels(lev);
    ASSERT_TRUE(nl >= 1 && lev[0] == FSCI__RNG_SIMD_C);
    enum { NB = 600 };
    static uint64_t got[4 * NB + 4], want[4 * NB + 4];
    const int sizes[] = {0, 1, 7, 8, 9, 31, 32, 33, 40, 64, 100, 512, NB};
    const uint64_t firsts[] = {1, 12345, UINT64_MAX - 20}; /* the last wraps word 0 */
    for (int v = 0; v < nl; v++) {
        ASSERT_EQ(fsci__rng_simd_set(lev[v]), lev[v]);
        for (size_t f = 0; f < sizeof firsts / sizeof firsts[0]; f++)
            for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
                int nb = sizes[t];
                uint64_t k0 = 0x0123456789abcdefULL + f, k1 = ~k0 * 3, c2 = 77 + t, c3 = 5 * f;
                for (int j = 0; j < nb; j++)
                    fsci__rng_block(k0, k1, firsts[f] + (uint64_t)j, 0, c2, c3, want + 4 * j);
                memset(got, 0xa5, sizeof got);
                fsci__rng_philox_blocks(k0, k1, firsts[f], c2, c3, nb, got);
                if (memcmp(got, want, (size_t)nb * 4 * sizeof got[0]) != 0)
                    TESTKIT_FAIL("version %d: %d blocks from %llu differ", lev[v], nb,
                                 (unsigned long long)firsts[f]);
                ASSERT_EQ_U64(got[4 * nb], 0xa5a5a5a5a5a5a5a5ULL); /* nothing written past the end */
            }
    }
    fsci__rng_simd_set(-1);
}

/* A mean from a mixture that covers every class and edge of the first pass. */
static double edge_mean(uint64_t *s)
{
    double u = lcg_unit(s);
    if (u < 0.05) return 0.0;
    if (u < 0.10) return lcg_unit(s) < 0.5 ? 10.0 : 9.999999999999998;
    if (u < 0.15) return (double)(splitmix(s) % 640) / 64.0 + (lcg_unit(s) < 0.5 ? 0.0 : 1.0 / 64.0);
    if (u < 0.20) return lcg_unit(s) < 0.5 ? 1e15 : 1e-300;
    if (u < 0.60) return log_uniform(s, 10.0, 1e13);
    return log_uniform(s, 1e-7, 1e13);
}

/* A word: mostly random, sometimes one that puts U or V on an edge (U =
 * -1/2: us = 0; us = 0.07 and 0.013 neighbours; V = 1 or 2^-53). */
static uint64_t edge_word(uint64_t *s)
{
    uint64_t w = splitmix(s);
    switch (splitmix(s) % 16) {
    case 0: return 0;
    case 1: return ~(uint64_t)0;
    case 2: return (uint64_t)1 << 11;
    case 3: return (uint64_t)(0.07 * 0x1p53) << 11;        /* U = -0.43: us = 0.07 */
    case 4: return (uint64_t)(0.93 * 0x1p53) << 11;        /* U = 0.43 */
    case 5: return (uint64_t)(0.013 * 0x1p53 + 1.0) << 11; /* us just above 0.013 */
    default: return w;
    }
}

/* Runs the first pass under version lev; the words after the last are the
 * readable spares. Returns the word position after the batch. */
static int run_front(int lev, int n, const double *lam, const uint64_t *w, int64_t *k, fsci__rng_front_out *o,
                     const uint8_t *cells)
{
    fsci__rng_simd_set(lev);
    memset(o, 0x5a, sizeof *o);
    return fsci__rng_poisson_front(n, lam, w, 0, cells, k, o);
}

TEST(poisson_first_pass_versions_agree_bitwise)
{
    int lev[3], nl = simd_levels(lev);
    enum { NMAX = FSCI__RNG_FRONT_BATCH };
    static double lam[NMAX];
    static uint64_t w[2 * NMAX + 2];
    static int64_t k0[NMAX], k1[NMAX];
    static fsci__rng_front_out o0, o1;
    /* a cell table with pure and mixed cells at random, the spare row readable */
    uint8_t *cells = fsci_malloc(641 * 512, 1);
    ASSERT_TRUE(cells != NULL);
    uint64_t s = 2024;
    for (int i = 0; i < 641 * 512; i++) cells[i] = (uint8_t)(splitmix(&s) % 4 == 0 ? 255 : splitmix(&s) % 40);
    int64_t decided = 0, handed = 0, mixed = 0;
    for (int trial = 0; trial < 3000; trial++) {
        int n = trial < 300 ? trial % 20 + 1 : (int)(splitmix(&s) % NMAX) + 1;
        int runs = trial % 3 == 0; /* runs of one class, as in diffraction patterns */
        for (int j = 0; j < n; j++)
            lam[j] = runs && j > 0 && lcg_unit(&s) < 0.9 ? fmin(lam[j - 1] * 1.01, 1e15) : edge_mean(&s);
        for (int j = 0; j < 2 * NMAX + 2; j++) w[j] = edge_word(&s);
        /* some PTRS attempts with V next to the fast-acceptance bound v_r
         * (within a few ulps), as computed in rng_poisson.c */
        for (int j = 0, pos = 0; j < n; j++) {
            if (lam[j] >= 10.0 && lcg_unit(&s) < 0.2) {
                double b = 0.931 + 2.53 * sqrt(lam[j]), bm2 = b - 2.0, vr = (0.9277 * bm2 - 3.6224) / bm2;
                int64_t v = (int64_t)((1.0 - vr) * 0x1p53) + (int64_t)(splitmix(&s) % 5) - 2;
                w[pos + 1] = (uint64_t)v << 11;
            }
            pos += lam[j] >= 10.0 ? 2 : lam[j] > 0.0;
        }
        int wp0 = run_front(lev[0], n, lam, w, k0, &o0, cells);
        int words = 0;
        for (int j = 0; j < n; j++) words += lam[j] >= 10.0 ? 2 : lam[j] > 0.0;
        ASSERT_EQ(wp0, words);
        /* the plain C version against the single-attempt kernel: a decided
         * value is the attempt's; a handed-back PTRS attempt is not a fast
         * acceptance; a mixed cell is one */
        int p = 0, q = 0;
        for (int j = 0, pos = 0; j < n; j++) {
            double l = lam[j];
            if (l >= 10.0) {
                int64_t a = fsci__rng_poisson_attempt(l, w + pos);
                if (k0[j] >= 0) {
                    ASSERT_EQ(k0[j], a);
                    decided++;
                } else {
                    ASSERT_TRUE(p < o0.np && o0.pi[p] == j);
                    /* the handed-back proposal finishes as the attempt does */
                    int ok = o0.x[p] >= 0.0 && o0.x[p] < 0x1p62 && !(o0.us[p] < 0.013 && o0.V[p] > o0.us[p]);
                    int acc = ok && fsci__rng_ptrs_step4(o0.k[p], l, o0.V[p], o0.us[p], 2);
                    ASSERT_EQ(acc ? (int64_t)o0.k[p] : -1, a);
                    p++;
                    handed++;
                }
                pos += 2;
            } else if (l > 0.0) {
                unsigned c = cells[(int)(l * 64.0) * 512 + (int)(w[pos] >> 55)];
                if (c == 255) {
                    ASSERT_TRUE(k0[j] == -1 && q < o0.ni && o0.ii[q] == j && o0.iw[q] == w[pos]);
                    q++;
                    mixed++;
                } else {
                    ASSERT_EQ(k0[j], (int64_t)c);
                }
                pos += 1;
            } else {
                ASSERT_EQ(k0[j], 0);
            }
        }
        ASSERT_TRUE(p == o0.np && q == o0.ni);
        for (int v = 1; v < nl; v++) {
            int wp1 = run_front(lev[v], n, lam, w, k1, &o1, cells);
            int same = wp1 == wp0 && memcmp(k0, k1, (size_t)n * sizeof k0[0]) == 0 && o1.np == o0.np &&
                       o1.ni == o0.ni;
            size_t np = (size_t)o0.np, ni = (size_t)o0.ni;
            same = same && memcmp(o0.pi, o1.pi, np * sizeof o0.pi[0]) == 0 &&
                   memcmp(o0.x, o1.x, np * sizeof o0.x[0]) == 0 &&
                   memcmp(o0.k, o1.k, np * sizeof o0.k[0]) == 0 &&
                   memcmp(o0.lam, o1.lam, np * sizeof o0.lam[0]) == 0 &&
                   memcmp(o0.b, o1.b, np * sizeof o0.b[0]) == 0 &&
                   memcmp(o0.V, o1.V, np * sizeof o0.V[0]) == 0 &&
                   memcmp(o0.us, o1.us, np * sizeof o0.us[0]) == 0 &&
                   memcmp(o0.ii, o1.ii, ni * sizeof o0.ii[0]) == 0 &&
                   memcmp(o0.iw, o1.iw, ni * sizeof o0.iw[0]) == 0;
            if (!same) {
                fsci_free(cells);
                fsci__rng_simd_set(-1);
                TESTKIT_FAIL("trial %d (n = %d): version %d differs from plain C", trial, n, lev[v]);
            }
        }
    }
    fsci_free(cells);
    fsci__rng_simd_set(-1);
    /* every kind of element was exercised */
    ASSERT_TRUE(decided > 50000 && handed > 10000 && mixed > 5000);
}

/* Means like a diffraction pattern: a bright centre (1e6) falling off to
 * below 1 at the edges, with speckle, and some exact zeros. */
static void pattern_means(double *lam, int npat, int n, uint64_t *s)
{
    for (int p = 0; p < npat; p++)
        for (int r = 0; r < n; r++)
            for (int c = 0; c < n; c++) {
                double x = (r - n / 2) / (0.12 * n), y = (c - n / 2) / (0.12 * n);
                double v = 1e6 * exp(-(x * x + y * y)) * (0.2 + 1.6 * lcg_unit(s)) + 0.05 * lcg_unit(s);
                lam[((int64_t)p * n + r) * n + c] = lcg_unit(s) < 0.01 ? 0.0 : v;
            }
}

/* Whole fills (one call, and one call per 64 x 64 pattern as the diffraction
 * stage makes them) give the same draws in every version and with 1 or 2
 * threads. */
TEST(poisson_fills_agree_across_versions_and_threads)
{
    int lev[3], nl = simd_levels(lev);
    const int npat = 12, n = 64;
    const int64_t m = (int64_t)npat * n * n, m1 = (int64_t)n * n;
    double *lam = fsci_malloc((size_t)m, sizeof *lam);
    int64_t *whole = fsci_malloc((size_t)m, sizeof *whole), *per = fsci_malloc((size_t)m, sizeof *per);
    int64_t *x = fsci_malloc((size_t)m, sizeof *x);
    ASSERT_TRUE(lam && whole && per && x);
    uint64_t s = 7;
    pattern_means(lam, npat, n, &s);
    int rc = 0, bad = -1;
    for (int v = 0; v < nl && bad < 0; v++) {
        fsci__rng_simd_set(lev[v]);
        for (int nt = 1; nt <= 2 && bad < 0; nt++) {
            int first = v == 0 && nt == 1; /* plain C, one thread: the references */
            int64_t *out = first ? whole : x;
            rc |= fsci_rng_fill_poisson(42, 3, lam, m, out, m, nt);
            if (!first && memcmp(x, whole, (size_t)m * sizeof *x) != 0) bad = 10 * lev[v] + nt;
            out = first ? per : x;
            for (int p = 0; p < npat; p++)
                rc |= fsci_rng_fill_poisson(42, 100 + (uint64_t)p, lam + p * m1, m1, out + p * m1, m1, nt);
            if (!first && memcmp(x, per, (size_t)m * sizeof *x) != 0) bad = 100 + 10 * lev[v] + nt;
        }
    }
    fsci__rng_simd_set(-1);
    /* the values are Poisson draws: (k - lam) / sqrt(lam) over the bright pixels averages near 0 */
    double z = 0.0;
    int64_t nz = 0;
    for (int64_t i = 0; i < m; i++)
        if (lam[i] > 100.0) {
            z += ((double)whole[i] - lam[i]) / sqrt(lam[i]);
            nz++;
        }
    fsci_free(lam);
    fsci_free(whole);
    fsci_free(per);
    fsci_free(x);
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(bad, -1);
    ASSERT_TRUE(nz > 1000 && fabs(z / sqrt((double)nz)) < 5.0);
}

TESTKIT_MAIN()
