/* Poisson samplers of the Philox generator (see rng.c and doc/rng.md): inversion
 * by sequential search for means below FSCI_RNG_POISSON_SWITCH (with a guide
 * table for one shared mean and a cell table for per-element means), PTRS
 * transformed rejection (W. Hoermann 1993) above, with an exp- and log-free
 * squeeze in front of the exact acceptance test; single draws and
 * thread-count-independent fills. */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/error.h"
#include "fastsci/core/parallel.h"
#include "fastsci/core/rng.h"
#include "rng_impl.h"

#if defined(__GNUC__)
#define RNG_NOINLINE __attribute__((noinline))
#define RNG_INLINE inline __attribute__((always_inline))
#else
#define RNG_NOINLINE
#define RNG_INLINE inline
#endif

/* The step-4 squeeze loop is compiled for AVX-512 and AVX2 as well as the
 * baseline, picked at load time (GCC function multiversioning). It cannot
 * change a result: the squeeze only ever decides what the exact test would
 * decide, with margins far above any rounding difference between the
 * versions. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__ELF__)
#define RNG_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define RNG_SIMD_CLONES
#endif

/* Inversion: K = min{k : u < F(k)} with F(k) accumulated as q(0) = P(K = 0),
 * q(k) = q(k-1) (lam / k) (lam times a table of 1/k), F(k) = F(k-1) + q(k).
 * The accumulation stops where adding q(k) no longer changes F (the rest of
 * the tail is below rounding) or at INV_KMAX terms; a u at or above the last F
 * is redrawn, so rounding never produces a wrong or unbounded k. All paths
 * (single draws, the guide table, the cell table) compute the same F values
 * and therefore the same K for the same word. */
enum { INV_KMAX = 64, GUIDE_BITS = 7, GUIDE_N = 1 << GUIDE_BITS };

/* clang-format off */
static const double inv_k[INV_KMAX] = {
    0.0, 1.0 / 1, 1.0 / 2, 1.0 / 3, 1.0 / 4, 1.0 / 5, 1.0 / 6, 1.0 / 7,
    1.0 / 8, 1.0 / 9, 1.0 / 10, 1.0 / 11, 1.0 / 12, 1.0 / 13, 1.0 / 14, 1.0 / 15,
    1.0 / 16, 1.0 / 17, 1.0 / 18, 1.0 / 19, 1.0 / 20, 1.0 / 21, 1.0 / 22, 1.0 / 23,
    1.0 / 24, 1.0 / 25, 1.0 / 26, 1.0 / 27, 1.0 / 28, 1.0 / 29, 1.0 / 30, 1.0 / 31,
    1.0 / 32, 1.0 / 33, 1.0 / 34, 1.0 / 35, 1.0 / 36, 1.0 / 37, 1.0 / 38, 1.0 / 39,
    1.0 / 40, 1.0 / 41, 1.0 / 42, 1.0 / 43, 1.0 / 44, 1.0 / 45, 1.0 / 46, 1.0 / 47,
    1.0 / 48, 1.0 / 49, 1.0 / 50, 1.0 / 51, 1.0 / 52, 1.0 / 53, 1.0 / 54, 1.0 / 55,
    1.0 / 56, 1.0 / 57, 1.0 / 58, 1.0 / 59, 1.0 / 60, 1.0 / 61, 1.0 / 62, 1.0 / 63
};
/* clang-format on */

/* q(0) = e^-lam, raised to 1 - lam if exp rounds below that bound (e^-lam >=
 * 1 - lam holds exactly): then the squeeze "u < 1 - lam => K = 0", which
 * spares the exp for most draws with a small mean, always agrees with the
 * search. */
static inline double inv_q0(double lam)
{
    double e = exp(-lam), t = 1.0 - lam;
    return e > t ? e : t;
}

/* K for the uniform u, or -1 if u lies beyond the last F (redraw). */
static inline int inv_search(double u, double lam, double q0)
{
    double q = q0, F = q;
    int k = 0;
    while (u >= F) {
        if (++k >= INV_KMAX) return -1;
        q *= lam * inv_k[k];
        double Fn = F + q;
        if (Fn == F) return -1;
        F = Fn;
    }
    return k;
}

/* K from one word, or -1 (redraw). The squeeze is worth a branch only while
 * it usually succeeds. */
static inline int inv_word(double lam, uint64_t w)
{
    double u = fsci__rng_unit53(w);
    if (lam <= 0.25 && u < 1.0 - lam) return 0;
    return inv_search(u, lam, inv_q0(lam));
}

static inline int64_t inv_draw(fsci_rng *r, double lam)
{
    for (;;) {
        int k = inv_word(lam, fsci__rng_next(r));
        if (k >= 0) return k;
    }
}

typedef struct inv_table {
    double cdf[INV_KMAX + 1]; /* F(0..n-1), then 2.0 as a sentinel */
    uint8_t guide[GUIDE_N];   /* guide[j] = min{k : F(k) > j / GUIDE_N} */
    int n;
} inv_table;

static void inv_build(inv_table *t, double lam)
{
    double q = inv_q0(lam), F = q;
    int n = 1;
    t->cdf[0] = F;
    for (int k = 1; k < INV_KMAX; k++) {
        q *= lam * inv_k[k];
        double Fn = F + q;
        if (Fn == F) break;
        t->cdf[n++] = F = Fn;
    }
    for (int k = n; k <= INV_KMAX; k++) t->cdf[k] = 2.0;
    t->n = n;
    int k = 0;
    for (int j = 0; j < GUIDE_N; j++) {
        double lo = (double)j / GUIDE_N;
        while (k < n && t->cdf[k] <= lo) k++;
        t->guide[j] = (uint8_t)k;
    }
}

/* Inversion through the guide table of one mean: the same result as inv_word. */
static inline int inv_tab_word(const inv_table *t, uint64_t w)
{
    uint64_t v = w >> 11;
    double u = (double)v * 0x1p-53;
    int k = t->guide[v >> (53 - GUIDE_BITS)];
    while (u >= t->cdf[k]) k++;
    return k < t->n ? k : -1; /* k == n: u beyond the saturated CDF, redraw */
}

/* Cell table for per-element means below FSCI_RNG_POISSON_SWITCH. The plane
 * (lam, u) is cut into cells of 1/CELL_PER_UNIT in lam (cell row
 * floor(CELL_PER_UNIT lam), exact) and 1/CELL_NU in u (the top CELL_UBITS bits
 * of the word). K is non-decreasing in u and in lam, so if K takes the same
 * value at the cell's lower-left corner (lam_lo, u_lo) and at its upper-right
 * corner (lam_hi, u_hi), K has that value in the whole cell: such a cell
 * stores it, and a draw landing there costs one byte load. Other cells
 * ("mixed", about 3 to 15 % of the draws for lam >= 1, fewer below) run the
 * search. The corners are evaluated with the search's own F values at
 * u_lo - 2^-40 and u_hi + 2^-40: the computed F(k) differ from the exact
 * Poisson CDF by less than 2^-44 (q(0) within 2 ulp, at most 64 products and
 * sums, a tail beyond the last term below 2^-52), so the margins cover the
 * rounding and the stored K equals the search's K for every (lam, u) in the
 * cell. The top u row is always mixed (it contains the redraws). */
enum {
    CELL_PER_UNIT = FSCI__RNG_CELL_PER_UNIT,
    CELL_NL = 10 * CELL_PER_UNIT,
    CELL_UBITS = FSCI__RNG_CELL_UBITS,
    CELL_NU = 1 << CELL_UBITS,
    CELL_MIXED = 255
};

static uint8_t inv_cell[CELL_NL + 1][CELL_NU]; /* a spare row: see fsci__rng_poisson_front */
static pthread_once_t inv_cell_once = PTHREAD_ONCE_INIT;

static void inv_cell_build(void)
{
    const double eps = 0x1p-40;
    inv_table lo, hi;
    inv_build(&lo, 0.0);
    for (int j = 0; j < CELL_NL; j++) {
        inv_build(&hi, (double)(j + 1) / CELL_PER_UNIT);
        int klo = 0, khi = 0;
        for (int b = 0; b < CELL_NU; b++) {
            double ulo = (double)b / CELL_NU - eps, uhi = (double)(b + 1) / CELL_NU + eps;
            while (klo < lo.n && ulo >= lo.cdf[klo]) klo++;
            while (khi < hi.n && uhi >= hi.cdf[khi]) khi++;
            int pure = klo < lo.n && klo == khi && b < CELL_NU - 1;
            inv_cell[j][b] = (uint8_t)(pure ? klo : CELL_MIXED);
        }
        lo = hi;
    }
}

/* inv_word through the cell table: the same result for every word. */
static inline int inv_cell_word(double lam, uint64_t w)
{
    unsigned c = inv_cell[(int)(lam * CELL_PER_UNIT)][w >> (64 - CELL_UBITS)];
    return c != CELL_MIXED ? (int)c : inv_word(lam, w);
}

/* PTRS constants of one mean (Hoermann 1993, algorithm PTRS, valid for
 * lam >= 10): b = 0.931 + 2.53 sqrt(lam), a = -0.059 + 0.02483 b,
 * 1/alpha = 1.1239 + 1.1328 / (b - 3.4), v_r = 0.9277 - 3.6224 / (b - 2). The
 * fast acceptance V <= v_r is tested multiplied out,
 * V (b - 2) <= 0.9277 (b - 2) - 3.6224, and 1/alpha (step 4 only) is computed
 * where it is needed, so that a new mean costs one square root and no
 * division. */
typedef struct ptrs_mean {
    double lam, b, a, a2, bm2, vrb;
} ptrs_mean;

static inline double ptrs_b(double lam)
{
    return 0.931 + 2.53 * sqrt(lam);
}

static inline void ptrs_mean_from_b(ptrs_mean *p, double lam, double b)
{
    p->lam = lam;
    p->b = b;
    p->a = -0.059 + 0.02483 * b;
    p->a2 = 2.0 * p->a;
    p->bm2 = b - 2.0;
    p->vrb = 0.9277 * p->bm2 - 3.6224;
}

static inline void ptrs_mean_set(ptrs_mean *p, double lam)
{
    ptrs_mean_from_b(p, lam, ptrs_b(lam));
}

static inline double ptrs_invalpha(double b)
{
    return 1.1239 + 1.1328 / (b - 3.4);
}

/* Bulk draws with one mean: its constants, 1/alpha, and an optional table
 * of the pmf over [lo, hi). */
typedef struct ptrs_consts {
    ptrs_mean m;
    double invalpha;
    const double *pmf;
    double lo, hi;
} ptrs_consts;

static void ptrs_setup(ptrs_consts *p, double lam)
{
    ptrs_mean_set(&p->m, lam);
    p->invalpha = ptrs_invalpha(p->m.b);
    p->pmf = NULL;
    p->lo = p->hi = 0.0;
}

/* P(K = k): the single definition behind both the pmf table and the direct
 * path (kept out of line so that both round identically), hence tabulated
 * and direct draws take the same decisions. */
static RNG_NOINLINE double ptrs_pmf(double k, double lam)
{
    return exp(fsci__rng_poisson_logpmf(k, lam));
}

/* Proposals beyond this are rejected outright: their acceptance probability,
 * the pmf at k with lam <= 1e15, is below 10^-(10^18). Keeps k an int64. */
#define PTRS_KMAX 0x1p62

/* Algorithm PTRS, one attempt from two words: U uniform on [-1/2, 1/2) and
 * V on (0, 1] (V = 0 would accept a k whose pmf underflows), us = 1/2 - |U|,
 * x = (2a/us + b) U + lam + 0.43 and k = floor(x). The paper tests "k < 0:
 * reject" after the fast acceptance; so do we (with k >= 2^62: reject), the
 * fast region (us >= 0.07, V <= v_r) giving 4 <= k < 2^62 for
 * 10 <= lam <= 1e15. */
typedef struct ptrs_try {
    double us, V, x;
} ptrs_try;

static inline ptrs_try ptrs_propose(const ptrs_mean *p, uint64_t w0, uint64_t w1)
{
    ptrs_try t;
    double U = fsci__rng_unit53(w0) - 0.5;
    t.V = 1.0 - fsci__rng_unit53(w1);
    t.us = 0.5 - fabs(U);
    t.x = (p->a2 / t.us + p->b) * U + p->lam + 0.43;
    return t;
}

/* The fast acceptance, us >= 0.07 and V <= v_r. */
#define PTRS_FAST(p, us, V) ((us) >= 0.07 && (V) * (p)->bm2 <= (p)->vrb)

/* Step 4 of the paper, V alpha / (a / us^2 + b) <= p(k), in the linear domain
 * and multiplied out (both denominators are positive): L <= p(k) c2 with
 * L = V (1/alpha) us^2, c2 = a + b us^2. One macro for every kernel, so that
 * they round identically. */
#define PTRS_STEP4(p, ia, V, us2, pk) ((V) * (ia) * (us2) <= (pk) * ((p)->a + (p)->b * (us2)))

/* A squeeze for step 4 without exp or log: bounds ylo <= y <= yhi on
 * y = bd0(k, lam) + stirlerr(k) = -log(p(k) sqrt(2 pi k)), then bounds on
 * e^-y; "L <= p(k) c2" is decided when both bounds agree. Returns 1 (accept),
 * 0 (reject) or -1 (undecided: run the exact test; ~1e-3 of the step-4 tests
 * for lam < 30, ~1e-5 above 1e3). The exact test compares L with the rounded product
 * exp(logpmf) c2: logpmf lies within 1e-9 (1 + y) of the true log p(k)
 * (Loader's forms lose at most a few hundred ulps of bd0; about 1e-14 in
 * practice), exp and the products within an ulp each; the margin mu covers
 * all of this, so a decision taken here is the exact test's decision (the
 * test suite checks this on a million random cases).
 *   - bd0 = d v + 2 k v^3 S(v^2), d = k - lam, v = d / (k + lam),
 *     S(t) = sum_j t^j / (2j + 3), 0 <= t < 1: the first 8 terms are a lower
 *     bound of S, and adding t^8 / (19 (1 - t)) an upper one (the terms
 *     shrink by at least t); the bounds are tight for the usual small t and
 *     still decide most rejections far in the tails;
 *   - 1/(12k) - 1/(360k^3) < stirlerr(k) < 1/(12k) for k >= 1 (the Stirling
 *     series is enveloping); for k = 0, y = lam and p(0) = e^-lam;
 *   - e^-z = 2^-n e^-r with n = round(z / ln 2), |r| = |z - n ln 2| <=
 *     0.35 to rounding (Cody and Waite's two-part ln 2), e^-r =
 *     sum_{j <= 8} (-r)^j / j! within 0.35^9 e^0.35 / 9! < 3e-10 (Estrin's
 *     scheme: short dependency chains), and e^-yhi >= e^-ylo (1 - (yhi - ylo)). */
#define LN2_HI 0x1.62e42fee00000p-1
#define LN2_LO 0x1.a39ef35793c76p-33
#define LOG2E 0x1.71547652b82fep+0
#define TWO_PI 0x1.921fb54442d18p+2

static inline double bits_to_double(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static inline uint64_t double_to_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

/* c ? a : b through the bits (vectorises where a select on doubles would
 * not, and is immune to NaN in the arm not taken). */
static inline double select_bits(int c, double a, double b)
{
    uint64_t m = (uint64_t)0 - (uint64_t)(c != 0);
    return bits_to_double((double_to_bits(a) & m) | (double_to_bits(b) & ~m));
}

/* The squeeze for the attempt (k, V, us^2) at mean lam with constant b:
 * 1.0 accept, 0.0 reject, -1.0 undecided. Straight-line arithmetic without
 * branches or calls (invalid cases are masked at the end), so that a loop
 * over many attempts is vectorised and its long dependency chain overlaps
 * across attempts. */
static inline double ptrs_squeeze(double kd, double lam, double b, double V, double us2)
{
    const double round_int = 0x1.8p52; /* (x + round_int) - round_int: x rounded to an integer */
    double a = -0.059 + 0.02483 * b, ia = ptrs_invalpha(b);
    double L = V * ia * us2, c2 = a + b * us2; /* as in PTRS_STEP4 */
    /* one division gives both 1/k and v */
    double d = kd - lam, s = kd + lam, q = 1.0 / (kd * s), ik = s * q, v = d * (kd * q), t = v * v;
    double t2 = t * t, t4 = t2 * t2;
    double S = (1.0 / 3 + t * (1.0 / 5)) + t2 * (1.0 / 7 + t * (1.0 / 9)) +
               t4 * ((1.0 / 11 + t * (1.0 / 13)) + t2 * (1.0 / 15 + t * (1.0 / 17)));
    double it = 1.0 / (1.0 - t), Sr = t4 * t4 * it * (1.0 / 19);
    double lin = d * v, cub = 2.0 * kd * v * t, cs = cub * S, cr = fabs(cub) * Sr;
    double st = ik * (1.0 / 12);
    /* mu from a bound on y that does not wait for S: S + Sr <= 1 / (3 (1 - t)) */
    double mu = 1e-9 * (1.0 + lin + fabs(cub) * it * (1.0 / 3) + st) + 1e-12;
    double ylo = lin + (cs - cr) + (st - ik * ik * ik * (1.0 / 360)) - mu, yhi = lin + (cs + cr) + st + mu;
    /* k = 0: p(0) = e^-lam exactly, y = lam (and no sqrt(2 pi k) below) */
    int k0 = kd == 0.0;
    double mu0 = 1e-9 * (1.0 + lam) + 1e-12, ylo0 = lam - mu0, yhi0 = lam + mu0;
    ylo = select_bits(k0, ylo0, ylo);
    yhi = select_bits(k0, yhi0, yhi);
    double gap = yhi - ylo;
    /* e^-yl = 2^-n e^-r, n = round(yl / ln 2), |r| <= ln(2)/2 (+ rounding), with
     * yl = min(ylo, 300): e^-yl still bounds e^-y from above, for rejections
     * far in the tails */
    double yl = select_bits(ylo < 300.0, ylo, 300.0);
    double f = yl * LOG2E + round_int, n = f - round_int;
    double r = (yl - n * LN2_HI) - n * LN2_LO, r2 = r * r, r4 = r2 * r2;
    double P = (1.0 - r) + r2 * (1.0 / 2 - r * (1.0 / 6)) +
               r4 * ((1.0 / 24 - r * (1.0 / 120)) + r2 * (1.0 / 720 - r * (1.0 / 5040))) +
               r4 * r4 * (1.0 / 40320);
    double scale = bits_to_double((1023 + double_to_bits(round_int) - double_to_bits(f)) << 52); /* 2^-n */
    double hi = c2 * ((P + 1e-9) * scale), lo = c2 * ((P - 1e-9) * scale * (1.0 - gap));
    /* L sqrt(2 pi k) against c2 e^-y, squared: no square root (yl <= 300
     * keeps the squares normal) */
    double tk = TWO_PI * kd, L2k = L * L * select_bits(k0, 1.0, tk); /* 1 for k = 0 */
    /* every comparison evaluated (no short circuit), so the selects need no branch */
    int acc = (L2k <= lo * lo) & (yhi < 300.0) & (gap < 0.5), rej = L2k > hi * hi;
    int valid = k0 | ((kd >= 1.0) & (t < 0.99));
    double dec = acc ? 1.0 : -1.0;
    dec = rej ? 0.0 : dec;
    return valid ? dec : -1.0;
}

/* Step 4 without a table: the squeeze, else the exact test. */
static RNG_NOINLINE int ptrs_step4_direct(const ptrs_mean *p, double kd, double V, double us2)
{
    double dec = ptrs_squeeze(kd, p->lam, p->b, V, us2);
    if (dec >= 0.0) return dec > 0.0;
    return PTRS_STEP4(p, ptrs_invalpha(p->b), V, us2, ptrs_pmf(kd, p->lam));
}

/* Step 4 with the one-mean table when k is in it. */
static inline int ptrs_accept(const ptrs_consts *p, int64_t k, double V, double us)
{
    double kd = (double)k, us2 = us * us;
    if (kd >= p->lo && kd < p->hi)
        return PTRS_STEP4(&p->m, p->invalpha, V, us2, p->pmf[(int64_t)(kd - p->lo)]);
    return ptrs_step4_direct(&p->m, kd, V, us2);
}

/* One PTRS attempt with the direct step 4: k, or -1 (rejected). */
static inline int64_t ptrs_attempt(const ptrs_mean *p, uint64_t w0, uint64_t w1)
{
    ptrs_try t = ptrs_propose(p, w0, w1);
    if (PTRS_FAST(p, t.us, t.V)) return (int64_t)t.x;
    if (!(t.x >= 0.0 && t.x < PTRS_KMAX) || (t.us < 0.013 && t.V > t.us)) return -1;
    return ptrs_step4_direct(p, (double)(int64_t)t.x, t.V, t.us * t.us) ? (int64_t)t.x : -1;
}

static inline int64_t ptrs_draw(fsci_rng *r, const ptrs_mean *p)
{
    for (;;) {
        uint64_t w0 = fsci__rng_next(r), w1 = fsci__rng_next(r);
        int64_t k = ptrs_attempt(p, w0, w1);
        if (k >= 0) return k;
    }
}

/* Tabulate the pmf over lam +- (10 sd + 10) (at most 512 KiB, lam up to ~1e7)
 * when that is small next to the number of draws. Returns the table to free, or NULL (then draws use the
 * direct path, with identical results). */
static double *ptrs_table(ptrs_consts *p, int64_t ndraws)
{
    double lam = p->m.lam, w = 10.0 * sqrt(lam) + 10.0;
    double lo = floor(lam - w), hi = ceil(lam + w);
    if (lo < 0.0) lo = 0.0;
    if (hi - lo > 65536.0 || 16.0 * (hi - lo) > (double)ndraws) return NULL;
    int64_t m = (int64_t)(hi - lo);
    double *t = fsci_malloc((size_t)m, sizeof *t);
    if (!t) {
        fsci_error_clear();
        return NULL;
    }
    for (int64_t i = 0; i < m; i++) t[i] = ptrs_pmf(lo + (double)i, lam);
    p->pmf = t;
    p->lo = lo;
    p->hi = hi;
    return t;
}

static inline int poisson_lam_ok(double lam)
{
    return lam >= 0.0 && lam <= FSCI_RNG_POISSON_MAX;
}

int64_t fsci_rng_poisson(fsci_rng *r, double lam)
{
    if (!poisson_lam_ok(lam)) return -1;
    if (lam == 0.0) return 0;
    if (lam < FSCI_RNG_POISSON_SWITCH) return inv_draw(r, lam);
    ptrs_mean p;
    ptrs_mean_set(&p, lam);
    return ptrs_draw(r, &p);
}

int64_t fsci__rng_poisson_attempt(double lam, const uint64_t *w)
{
    if (!poisson_lam_ok(lam)) return -2;
    if (lam == 0.0) return 0;
    if (lam < FSCI_RNG_POISSON_SWITCH) return inv_word(lam, w[0]);
    ptrs_mean p;
    ptrs_mean_set(&p, lam);
    return ptrs_attempt(&p, w[0], w[1]);
}

int fsci__rng_poisson_inv_word(double lam, uint64_t w, int mode)
{
    if (!(lam > 0.0 && lam < FSCI_RNG_POISSON_SWITCH)) return -3;
    if (mode == 0) return inv_word(lam, w);
    pthread_once(&inv_cell_once, inv_cell_build);
    if (mode == 2) return inv_cell_word(lam, w);
    unsigned c = inv_cell[(int)(lam * CELL_PER_UNIT)][w >> (64 - CELL_UBITS)];
    return c == CELL_MIXED ? -2 : (int)c;
}

int fsci__rng_ptrs_step4(double k, double lam, double V, double us, int mode)
{
    ptrs_mean p;
    ptrs_mean_set(&p, lam);
    double us2 = us * us;
    if (mode == 1) return (int)ptrs_squeeze(k, lam, p.b, V, us2);
    if (mode == 2) return ptrs_step4_direct(&p, k, V, us2);
    return PTRS_STEP4(&p, ptrs_invalpha(p.b), V, us2, ptrs_pmf(k, lam));
}

/* Poisson fills: the word layout. The Poisson kernel is a sequence of
 * attempts, each reading a fixed number of words and giving a value or
 * nothing: one word for 0 < lam < 10 (inversion; nothing = a redraw, below
 * 1e-13), two for lam >= 10 (a PTRS proposal; nothing = a rejection, about
 * one attempt in eight), none for lam = 0. fsci_rng_poisson runs them on
 * consecutive words. A fill gives each attempt level its own sub-stream:
 * attempt a (a = 0, 1, ...) of element i of chunk c reads sub-stream
 * {seed, stream}, counter {b, 0, c, a}, right after attempt a of the elements
 * before i in the chunk (those that needed one). So every attempt has a known
 * place: a level is a batch of independent attempts, classes of elements run
 * in their own loops, and nothing waits for the outcome of the element before
 * (with one shared stream, each PTRS rejection test, some 150 cycles of
 * dependent arithmetic, would gate everything after it). Level 0 is the
 * chunk's sub-stream of fsci_rng_fill_u64. */
enum { BATCH_WORDS = 128, PTRS_BATCH = BATCH_WORDS / 2 };

/* nw words (rounded up to whole blocks) of level a of chunk c, from block
 * *blk + 1 on. */
static void level_words(uint64_t k0, uint64_t k1, uint64_t c, uint64_t a, uint64_t *blk, int nw,
                        uint64_t *restrict w)
{
    int nb = (nw + 3) / 4;
    fsci__rng_philox_blocks(k0, k1, *blk + 1, c, a, nb, w);
    *blk += (uint64_t)nb;
}

/* Kernels for one mean: attempt a of the n elements idx[0..n) (idx NULL:
 * elements 0..n-1), in order. Each writes out[i] = the value, or -1 and i to
 * pend[] (which may be idx itself), and returns the number pending. */
static RNG_INLINE int inv_attempts(uint64_t k0, uint64_t k1, uint64_t c, uint64_t a, const inv_table *t,
                                   int64_t *restrict out, const uint16_t *idx, int n, uint16_t *pend)
{
    uint64_t w[BATCH_WORDS], blk = 0;
    int np = 0;
    for (int b = 0; b < n; b += BATCH_WORDS) {
        int nw = n - b < BATCH_WORDS ? n - b : BATCH_WORDS;
        level_words(k0, k1, c, a, &blk, nw, w);
        for (int j = 0; j < nw; j++) {
            int i = idx ? idx[b + j] : b + j;
            int k = inv_tab_word(t, w[j]);
            out[i] = k;
            pend[np] = (uint16_t)i;
            np += k < 0;
        }
    }
    return np;
}

/* PTRS attempts without branches: the proposal and all acceptance tests (with
 * a pmf table, step 4 is a lookup; without, or outside it, the direct test). */
static RNG_INLINE int ptrs_attempts_flat(uint64_t k0, uint64_t k1, uint64_t c, uint64_t a,
                                         const ptrs_consts *p, int64_t *restrict out, const uint16_t *idx,
                                         int n, uint16_t *pend)
{
    uint64_t w[BATCH_WORDS], blk = 0;
    static const double no_table = 0.0;
    const double *pmf = p->pmf ? p->pmf : &no_table;
    double lo = p->lo, hi = p->hi;
    int np = 0;
    for (int b = 0; b < n; b += PTRS_BATCH) {
        int na = n - b < PTRS_BATCH ? n - b : PTRS_BATCH;
        level_words(k0, k1, c, a, &blk, 2 * na, w);
        for (int j = 0; j < na; j++) {
            int i = idx ? idx[b + j] : b + j;
            ptrs_try t = ptrs_propose(&p->m, w[2 * j], w[2 * j + 1]);
            int ok = (t.x >= 0.0) & (t.x < PTRS_KMAX);
            int fast = (t.us >= 0.07) & (t.V * p->m.bm2 <= p->m.vrb);
            int squeeze = (t.us < 0.013) & (t.V > t.us);
            double xs = ok ? t.x : 0.0;
            int64_t k = (int64_t)xs;
            double kd = (double)k, us2 = t.us * t.us;
            int intab = (kd >= lo) & (kd < hi);
            double pk = pmf[intab ? (int64_t)(kd - lo) : 0];
            int step4 = PTRS_STEP4(&p->m, p->invalpha, t.V, us2, pk);
            int slow = ok & !fast & !squeeze;
            int acc = fast | (slow & intab & step4);
            if (slow & !intab) acc = ptrs_accept(p, k, t.V, t.us);
            out[i] = k | ((int64_t)acc - 1); /* k or -1, without a branch */
            pend[np] = (uint16_t)i;
            np += !acc;
        }
    }
    return np;
}

/* The same attempts with ordinary branches: faster once the fast acceptance is
 * well predicted (large lam), slower below. */
static RNG_INLINE int ptrs_attempts_branchy(uint64_t k0, uint64_t k1, uint64_t c, uint64_t a,
                                            const ptrs_consts *p, int64_t *restrict out, const uint16_t *idx,
                                            int n, uint16_t *pend)
{
    uint64_t w[BATCH_WORDS], blk = 0;
    int np = 0;
    for (int b = 0; b < n; b += PTRS_BATCH) {
        int na = n - b < PTRS_BATCH ? n - b : PTRS_BATCH;
        level_words(k0, k1, c, a, &blk, 2 * na, w);
        for (int j = 0; j < na; j++) {
            int i = idx ? idx[b + j] : b + j;
            ptrs_try t = ptrs_propose(&p->m, w[2 * j], w[2 * j + 1]);
            if (PTRS_FAST(&p->m, t.us, t.V)) {
                out[i] = (int64_t)t.x;
            } else if (t.x >= 0.0 && t.x < PTRS_KMAX && !(t.us < 0.013 && t.V > t.us) &&
                       ptrs_accept(p, (int64_t)t.x, t.V, t.us)) {
                out[i] = (int64_t)t.x;
            } else {
                out[i] = -1;
                pend[np++] = (uint16_t)i;
            }
        }
    }
    return np;
}

/* The squeeze for a batch of attempts that were not fast: dec[q] = 0 when the
 * attempt is out of range or squeezed out (rejected before step 4), else the
 * squeeze's 1, 0 or -1. Vectorised: no branches, no calls. */
RNG_SIMD_CLONES static void ptrs_squeeze_batch(int n, const double *restrict x, const double *restrict k,
                                               const double *restrict lam, const double *restrict b,
                                               const double *restrict V, const double *restrict us,
                                               double *restrict dec)
{
    for (int q = 0; q < n; q++) {
        double xq = x[q], uq = us[q], vq = V[q];
        int ok = (xq >= 0.0) & (xq < PTRS_KMAX) & !((uq < 0.013) & (vq > uq));
        double d = ptrs_squeeze(k[q], lam[q], b[q], vq, uq * uq);
        dec[q] = ok ? d : 0.0;
    }
}

/* Finishes the PTRS attempts the first pass handed back (not fast
 * acceptances): their step-4 squeezes as one vectorised loop, the rare
 * undecided ones with the exact test. out[] gets k for accepted ones, -1 for
 * rejected ones. */
static void ptrs_finish(const fsci__rng_front_out *g, int64_t *restrict out)
{
    double dec[FSCI__RNG_FRONT_BATCH];
    ptrs_squeeze_batch(g->np, g->x, g->k, g->lam, g->b, g->V, g->us, dec);
    for (int q = 0; q < g->np; q++) {
        int acc = dec[q] > 0.0;
        if (dec[q] < 0.0) {
            ptrs_mean pm;
            ptrs_mean_from_b(&pm, g->lam[q], g->b[q]);
            acc = PTRS_STEP4(&pm, ptrs_invalpha(g->b[q]), g->V[q], g->us[q] * g->us[q],
                             ptrs_pmf(g->k[q], g->lam[q]));
        }
        out[g->pi[q]] = (int64_t)g->k[q] | ((int64_t)acc - 1); /* k or -1, without a branch */
    }
}

/* Work arrays of array_attempts for one chunk (about 50 KiB, on the stack of
 * poisson_chunk). */
typedef struct array_ws {
    uint64_t w[2 * FSCI_RNG_CHUNK + 4]; /* the level's words (and a spare) */
    double lam[FSCI_RNG_CHUNK];         /* levels > 0: the pending elements' means */
    int64_t k[FSCI_RNG_CHUNK];          /* levels > 0: their results */
    fsci__rng_front_out g;
} array_ws;

/* Attempt a of the n elements idx[0..n) (idx NULL: elements 0..n-1) with
 * one mean per element. The elements take the level's words in order: an
 * inversion one, a PTRS attempt two, lam = 0 none. So the words are
 * generated at once, then a vectorised pass (fsci__rng_poisson_front) decides
 * almost every element: the PTRS fast acceptances, the pure cells of the
 * inversion table, lam = 0. It hands back the rest, finished here: the other
 * PTRS attempts together (ptrs_finish), mixed cells by the search. The
 * elements still pending go to pend[] (which may be idx), in order; returns
 * their number. */
static int array_attempts(array_ws *restrict s, uint64_t k0, uint64_t k1, uint64_t c, uint64_t a,
                          const double *restrict lam, int64_t *restrict out, const uint16_t *idx, int n,
                          uint16_t *pend)
{
    const double *l = lam;
    int64_t *k = out;
    if (idx) { /* compact the pending elements */
        for (int j = 0; j < n; j++) s->lam[j] = lam[idx[j]];
        l = s->lam;
        k = s->k;
    }
    int nw = 0;
    for (int j = 0; j < n; j++) /* 2 words for PTRS, 1 for inversion, none for 0 */
        nw += (l[j] >= FSCI_RNG_POISSON_SWITCH) + (l[j] > 0.0);
    uint64_t blk = 0;
    level_words(k0, k1, c, a, &blk, nw, s->w);
    s->w[(nw + 3) / 4 * 4] = s->w[(nw + 3) / 4 * 4 + 1] = 0; /* spare words the first pass may read */
    for (int j0 = 0, wp = 0; j0 < n; j0 += FSCI__RNG_FRONT_BATCH) {
        int nb = n - j0 < FSCI__RNG_FRONT_BATCH ? n - j0 : FSCI__RNG_FRONT_BATCH;
        wp = fsci__rng_poisson_front(nb, l + j0, s->w, wp, &inv_cell[0][0], k + j0, &s->g);
        ptrs_finish(&s->g, k + j0);
        for (int r = 0; r < s->g.ni; r++) /* mixed cells */
            k[j0 + s->g.ii[r]] = inv_word(l[j0 + s->g.ii[r]], s->g.iw[r]);
    }
    int m = 0;
    if (idx) {
        for (int j = 0; j < n; j++) { /* pend may be idx: m <= j */
            int i = idx[j];
            out[i] = k[j];
            pend[m] = (uint16_t)i;
            m += k[j] < 0;
        }
    } else {
        for (int j = 0; j < n; j++) {
            pend[m] = (uint16_t)j;
            m += k[j] < 0;
        }
    }
    return m;
}

/* Everything a Poisson fill's chunks share. */
typedef struct poisson_job {
    const double *lam;
    int scalar;
    inv_table tab;
    ptrs_consts pc;
} poisson_job;

static void poisson_chunk(const poisson_job *job, uint64_t k0, uint64_t k1, uint64_t c, int64_t *restrict out,
                          int64_t m64)
{
    int m = (int)m64, n = 0;
    uint16_t pend[FSCI_RNG_CHUNK];
    if (!job->scalar) {
        array_ws ws;
        const double *lam = job->lam + c * FSCI_RNG_CHUNK;
        n = array_attempts(&ws, k0, k1, c, 0, lam, out, NULL, m, pend);
        for (uint64_t a = 1; n > 0; a++) n = array_attempts(&ws, k0, k1, c, a, lam, out, pend, n, pend);
        return;
    }
    double lam = job->lam[0];
    if (lam == 0.0) {
        for (int i = 0; i < m; i++) out[i] = 0;
        return;
    }
    /* level 0 (every element, idx NULL) and the others are separate calls,
     * so that the inlined kernels are specialised for each */
    if (lam < FSCI_RNG_POISSON_SWITCH) {
        n = inv_attempts(k0, k1, c, 0, &job->tab, out, NULL, m, pend);
        for (uint64_t a = 1; n > 0; a++) n = inv_attempts(k0, k1, c, a, &job->tab, out, pend, n, pend);
    } else if (lam < 300.0) { /* measured crossover of the two kernels: between lam = 100 and 1000 */
        n = ptrs_attempts_flat(k0, k1, c, 0, &job->pc, out, NULL, m, pend);
        for (uint64_t a = 1; n > 0; a++) n = ptrs_attempts_flat(k0, k1, c, a, &job->pc, out, pend, n, pend);
    } else {
        n = ptrs_attempts_branchy(k0, k1, c, 0, &job->pc, out, NULL, m, pend);
        for (uint64_t a = 1; n > 0; a++)
            n = ptrs_attempts_branchy(k0, k1, c, a, &job->pc, out, pend, n, pend);
    }
}

int fsci_rng_fill_poisson(uint64_t seed, uint64_t stream, const double *lam, int64_t nlam, int64_t *out,
                          int64_t n, int nthreads)
{
    FSCI__RNG_CHECK_FILL_ARGS(out, n);
    FSCI_CHECK(nlam == 1 || nlam == n, FSCI_EINVAL, "%s: lam has %lld entries; expected 1 or n = %lld",
               __func__, (long long)nlam, (long long)n);
    FSCI_CHECK(nlam == 0 || lam, FSCI_EINVAL, "%s: lam is NULL", __func__);
    if (n == 0) return FSCI_OK;

    /* Validate every mean before writing anything: a branch-free (vectorised)
     * pass, then a search for the first bad index only if there is one. */
    double bad_seen = 0.0;
    for (int64_t i = 0; i < nlam; i++)
        bad_seen = (lam[i] >= 0.0) & (lam[i] <= FSCI_RNG_POISSON_MAX) ? bad_seen : 1.0;
    if (bad_seen != 0.0) {
        int64_t bad = 0;
        while (poisson_lam_ok(lam[bad])) bad++;
        FSCI_CHECK(0, FSCI_EINVAL,
                   "lam[%lld] = %.17g is not a valid Poisson mean (need a finite value in [0, %g])",
                   (long long)bad, lam[bad], FSCI_RNG_POISSON_MAX);
    }

    poisson_job job = {.lam = lam, .scalar = nlam == 1};
    double *pmf = NULL;
    if (job.scalar) {
        if (lam[0] > 0.0 && lam[0] < FSCI_RNG_POISSON_SWITCH) inv_build(&job.tab, lam[0]);
        if (lam[0] >= FSCI_RNG_POISSON_SWITCH) {
            ptrs_setup(&job.pc, lam[0]);
            pmf = ptrs_table(&job.pc, n);
        }
    } else {
        pthread_once(&inv_cell_once, inv_cell_build);
    }
    const poisson_job *jp = &job;
    FSCI__RNG_FOR_EACH_CHUNK(poisson_chunk, "omp parallel for num_threads(nt_) schedule(dynamic, 8)", out, n,
                             nthreads, jp, seed, stream);
    fsci_free(pmf);
    return FSCI_OK;
}
