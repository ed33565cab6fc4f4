/* pstm: the pair kernel (doc/pstm.md §1). For one (input trace, output column)
 * pair, the per-pair quantities (distances, aperture weight, loop bounds) are
 * computed once in double; the loop over the column's output samples k is
 * stride 1, float32 (with AA: exact int32 differences of the fixed-point
 * prepared trace in migration, taps formed in double in modelling),
 * branch-free (masks as selects) and written for the vectoriser: two square
 * roots, one reciprocal, gathers from the prepared trace. Migration accumulates into the column; modelling
 * computes the same taps in a vector loop and sprays them into the prepared-trace buffer in a short scalar
 * loop (neighbouring k may hit the same sample). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/error.h"
#include "pstm/pstm_impl.h"

/* sqrtf never sets errno here (its arguments are never negative): declaring it
 * const lets GCC vectorise the sample loops (vsqrtps) without -fno-math-errno
 * (GCC fixes the errno behaviour of its builtins for the whole translation
 * unit, so an optimize pragma does not do it). */
#if defined(__GNUC__)
float sqrtf(float x) __attribute__((const, nothrow, leaf));
#endif

/* LCB's cap on the triangle half-length, samples (doc/pstm.md §1). */
#define PSTM_HMAX 25.0f
/* Keeps 1/(ts tg) finite where ts or tg is 0 (tau = 0 only), also squared
 * (1/(P N) below); far below float's resolution of any positive ts tg the
 * kernel meets ((dtau/2)^2 >= 1e-10 s^2 for dtau >= 20 us). */
#define PSTM_TINY 1e-18f
/* Modelling: samples per vector block before the scalar spray. */
#define PSTM_BLOCK 256

/* ---- columns ----------------------------------------------------------------- */

int fsci__pstm_col_init(fsci__pstm_col *c, const fsci__pstm_kopt *o, double ox, double oy, const float *v,
                        int64_t nt, double dtau)
{
    int st = FSCI_OK;
    FSCI_CHECK(c && o && v, FSCI_EINVAL, "pstm column: NULL argument");
    *c = (fsci__pstm_col){0};
    FSCI_CHECK(nt >= 1, FSCI_EINVAL, "pstm column: nt = %lld (>= 1)", (long long)nt);
    FSCI_CHECK(dtau > 0 && isfinite(dtau), FSCI_EINVAL, "pstm column: dtau = %g s (> 0)", dtau);
    FSCI_CHECK(isfinite(ox) && isfinite(oy), FSCI_EINVAL, "pstm column: position (%g, %g) not finite", ox,
               oy);
    FSCI_CHECK(o->taper >= 0 && o->taper < 1, FSCI_EINVAL, "pstm column: taper = %g (in [0, 1))", o->taper);
    FSCI_CHECK(o->angle_deg > 0 && o->angle_deg <= 180, FSCI_EINVAL,
               "pstm column: angle = %g degrees (0, 180]", o->angle_deg);
    FSCI_CHECK(o->aperture > 0, FSCI_EINVAL, "pstm column: aperture = %g m (> 0)", o->aperture);
    FSCI_CHECK(!o->aa || (o->aa_factor >= 0 && isfinite(o->aa_factor)), FSCI_EINVAL,
               "pstm column: aa_factor = %g (>= 0)", o->aa_factor);
    FSCI_CHECK(!o->aa || (o->aa_dx > 0 && isfinite(o->aa_dx)), FSCI_EINVAL, "pstm column: aa_dx = %g m (> 0)",
               o->aa_dx);
    for (int64_t k = 0; k < nt; k++)
        FSCI_CHECK(v[k] > 0 && isfinite(v[k]), FSCI_EINVAL, "pstm column at (%g, %g): v[%lld] = %g m/s (> 0)",
                   ox, oy, (long long)k, (double)v[k]);
    c->ox = ox;
    c->oy = oy;
    c->nt = nt;
    c->dtau = dtau;
    c->Q = fsci_malloc((size_t)nt, sizeof(float));
    c->S = fsci_malloc((size_t)nt, sizeof(float));
    c->rho = fsci_malloc((size_t)nt, sizeof(float));
    c->irho = fsci_malloc((size_t)nt, sizeof(float));
    c->mono_d2 = fsci_malloc((size_t)nt, sizeof(double));
    FSCI_CHECK_GOTO(c->Q && c->S && c->rho && c->irho && c->mono_d2, FSCI_ENOMEM,
                    "pstm column: out of memory (nt = %lld)", (long long)nt);
    const double pi = 3.14159265358979323846;
    bool cone = o->angle_deg < 90;
    double tanth = cone ? tan(o->angle_deg * pi / 180) : 0, rmax = 0;
    for (int64_t k = 0; k < nt; k++) {
        double tau = (double)k * dtau, V = (double)v[k];
        c->Q[k] = (float)(0.25 * tau * tau);
        c->S[k] = (float)(1.0 / (V * V));
        if (cone) {
            double rk = tanth * V * tau / 2;
            rmax = rk > rmax ? rk : rmax;
            c->rho[k] = (float)rmax;
            /* taper 0: 1/0 = inf; the kernel's clamp gives 1 for r <= rho, 0 beyond */
            c->irho[k] = c->rho[k] > 0 ? (float)(1.0 / (o->taper * (double)c->rho[k])) : 0.0f;
        } else { /* (inf - r) * 0 = NaN, which the kernel's clamp turns into 1 */
            c->rho[k] = INFINITY;
            c->irho[k] = 0.0f;
        }
    }
    /* t_s = sqrt(Q + d2 S) increases from k to k+1 iff d2 (S_k - S_k+1) <= Q_k+1 - Q_k,
     * evaluated on the float tables the kernel uses; mono_d2[k] is the minimum of
     * that bound over [k, nt) (a velocity increasing with tau makes t of a distant
     * trace fall at small tau, so a single bound for the column would rarely hold) */
    double m = INFINITY;
    c->mono_d2[nt - 1] = m;
    for (int64_t k = nt - 2; k >= 0; k--) {
        double dS = (double)c->S[k] - (double)c->S[k + 1], dQ = (double)c->Q[k + 1] - (double)c->Q[k];
        if (dS > 0 && dQ / dS < m) m = dQ / dS;
        c->mono_d2[k] = m;
    }
    return FSCI_OK;
fail:
    fsci__pstm_col_free(c);
    return st;
}

void fsci__pstm_col_free(fsci__pstm_col *c)
{
    if (!c) return;
    fsci_free(c->Q);
    fsci_free(c->S);
    fsci_free(c->rho);
    fsci_free(c->irho);
    fsci_free(c->mono_d2);
    *c = (fsci__pstm_col){0};
}

/* ---- one pair: the per-pair constants and loop bounds -------------------------- */

typedef struct pair {
    float ds2, dg2;       /* |s - o|^2, |g - o|^2 */
    float ax, ay, bx, by; /* s - o, g - o (slope) */
    float r, wap;         /* midpoint distance, aperture weight */
    float idt, c0, lim;   /* u = t idt + c0; taps need u < lim (no AA) or u + h < lim (AA) */
    float aac;            /* aa_factor aa_dx / dt */
    int64_t k0, k1;       /* samples [k0, k1) */
    bool planar;          /* sy = gy = oy: the slope is 1-D */
} pair;

/* u at sample k in double, for the loop bound (the kernel's float u differs by
 * far less than the one-sample margin the bound keeps). */
/* u at sample k in float, as the sample loop computes it (the bound it serves
 * is a full sample past the last usable position, so rounding cannot move a
 * sample the masks would keep). */
static double u_at(const fsci__pstm_col *c, const pair *pp, double t0, double dt, int64_t k)
{
    (void)t0;
    (void)dt;
    const float Q = c->Q[k], S = c->S[k];
    return (double)((sqrtf(Q + pp->ds2 * S) + sqrtf(Q + pp->dg2 * S)) * pp->idt + pp->c0);
}

/* The first i in [0, n) with a[i] >= x in a non-decreasing a (n if none),
 * without data-dependent branches (the compare selects with a cmov); for
 * float (rho) and double (mono_d2) tables. */
#define PSTM_FIRST_GE(NAME, T)                                                                               \
    static inline int64_t NAME(const T *a, int64_t n, T x)                                                   \
    {                                                                                                        \
        if (n <= 0) return 0;                                                                                \
        const T *b = a;                                                                                      \
        for (int64_t len = n; len > 1;) {                                                                    \
            const int64_t half = len / 2;                                                                    \
            b = b[half - 1] < x ? b + half : b;                                                              \
            len -= half;                                                                                     \
        }                                                                                                    \
        return (b - a) + (*b < x);                                                                           \
    }
PSTM_FIRST_GE(first_ge_f, float)
PSTM_FIRST_GE(first_ge_d, double)

/* The same from a guess g (the neighbouring column's answer): gallop from g,
 * then the branchless search in the bracket found. The answer is the same
 * whatever g; lo is the smallest candidate. */
#define PSTM_FIRST_GE_FROM(NAME, T, BASE)                                                                    \
    static inline int64_t NAME(const T *a, int64_t lo, int64_t n, T x, int64_t g)                            \
    {                                                                                                        \
        if (g < lo || g >= n) return lo + BASE(a + lo, n - lo, x);                                           \
        if (a[g] >= x) { /* the answer is in [lo, g] */                                                      \
            int64_t hi = g, step = 1;                                                                        \
            while (hi - step >= lo && a[hi - step] >= x) {                                                   \
                hi -= step;                                                                                  \
                step *= 2;                                                                                   \
            }                                                                                                \
            const int64_t l2 = hi - step >= lo ? hi - step + 1 : lo;                                         \
            return l2 + BASE(a + l2, hi - l2, x);                                                            \
        }                                                                                                    \
        int64_t l = g + 1, step = 1; /* the answer is in (g, n] */                                           \
        while (l + step - 1 < n && a[l + step - 1] < x) {                                                    \
            l += step;                                                                                       \
            step *= 2;                                                                                       \
        }                                                                                                    \
        const int64_t h2 = l + step - 1 < n ? l + step - 1 : n;                                              \
        return l + BASE(a + l, h2 - l, x);                                                                   \
    }
PSTM_FIRST_GE_FROM(first_ge_from_f, float, first_ge_f)
PSTM_FIRST_GE_FROM(first_ge_from_d, double, first_ge_d)

/* Fills pp; false if the pair contributes nothing (outside the aperture).
 * hint (may be NULL): int64_t[3], the first sample, the start of the monotone
 * part and the last sample of the previous pair of this trace ({-1, -1, -1}
 * for none): neighbouring columns have neighbouring answers. */
static bool pair_setup(const fsci__pstm_kopt *o, const fsci__pstm_prep *p, const fsci__pstm_col *c, double sx,
                       double sy, double gx, double gy, int64_t *hint, pair *pp)
{
    double ax = sx - c->ox, ay = sy - c->oy, bx = gx - c->ox, by = gy - c->oy;
    double mx = 0.5 * (ax + bx), my = 0.5 * (ay + by);
    double r = sqrt(mx * mx + my * my), R = o->aperture, f = o->taper;
    double wap;
    if (r <= (1 - f) * R)
        wap = 1;
    else if (r >= R)
        return false;
    else
        wap = (R - r) / (f * R);
    int64_t ns = fsci__pstm_prep_ns(p);
    double dt = fsci__pstm_prep_dt(p), t0 = fsci__pstm_prep_t0(p);
    pp->ds2 = (float)(ax * ax + ay * ay);
    pp->dg2 = (float)(bx * bx + by * by);
    pp->ax = (float)ax;
    pp->ay = (float)ay;
    pp->bx = (float)bx;
    pp->by = (float)by;
    pp->planar = ay == 0 && by == 0;
    pp->r = (float)r;
    pp->wap = (float)wap;
    pp->idt = (float)(1 / dt);
    pp->c0 = (float)(-t0 / dt);
    pp->lim = (float)(ns - 1);
    pp->aac = (float)(o->aa_factor * o->aa_dx / dt);
    /* first k: rho is non-decreasing; the first k with rho_k >= r (earlier ones
     * have W_ang = 0) */
    const int64_t kfirst = first_ge_from_f(c->rho, 0, c->nt, pp->r, hint ? hint[0] : -1);
    pp->k0 = kfirst;
    pp->k1 = c->nt;
    /* last k: t increases with tau on [km, nt) for this pair (km: the first k with
     * mono_d2[k] >= max(ds2, dg2), a non-decreasing table); from there on the
     * first k whose u is a full sample past the last usable position (u >= ns - 1
     * without AA, u >= ns - 2 with, as h >= 1) ends the loop. The masks still
     * decide every sample before it. Most pairs keep the whole column: one
     * evaluation at the last sample tells. */
    const double dmax = pp->ds2 > pp->dg2 ? (double)pp->ds2 : (double)pp->dg2;
    int64_t a = first_ge_from_d(c->mono_d2, kfirst, c->nt, dmax, hint ? hint[1] : -1);
    if (hint) {
        hint[0] = kfirst;
        hint[1] = a;
    }
    const double ulim = (double)(ns - 1) - (o->aa ? 1.0 : 0.0) + 1.0;
    if (a < c->nt && u_at(c, pp, t0, dt, c->nt - 1) >= ulim) {
        int64_t lo = a, hi = c->nt - 1; /* the answer is in [lo, hi]; u(hi) >= ulim */
        const int64_t h = hint ? hint[2] : -1;
        if (h > lo && h < hi) { /* gallop from the neighbouring column's answer */
            if (u_at(c, pp, t0, dt, h) >= ulim) {
                hi = h;
                for (int64_t step = 1; hi - step >= lo; step *= 2) {
                    if (u_at(c, pp, t0, dt, hi - step) < ulim) {
                        lo = hi - step + 1;
                        break;
                    }
                    hi -= step;
                }
            } else {
                lo = h + 1;
                for (int64_t step = 1; lo + step - 1 < hi; step *= 2) {
                    if (u_at(c, pp, t0, dt, lo + step - 1) >= ulim) {
                        hi = lo + step - 1;
                        break;
                    }
                    lo += step;
                }
            }
        }
        while (lo < hi) {
            const int64_t mid = lo + (hi - lo) / 2;
            if (u_at(c, pp, t0, dt, mid) < ulim)
                lo = mid + 1;
            else
                hi = mid;
        }
        pp->k1 = lo;
    }
    if (hint) hint[2] = pp->k1;
    return pp->k1 > pp->k0;
}

/* ---- the sample loop ------------------------------------------------------------ */

/* Everything the sample loop computes at k but the taps: the weight w_k (0 where
 * the pair does not contribute) and, with AA, the triangle half-length.
 * Written as one inline body for every variant; the flags are compile-time
 * constants at each call so that each variant's loop has no branches. */
#define PSTM_SAMPLE_BODY(DIM3, AA, WT, PLANAR)                                                               \
    float Qk = Q[k], Sk = S[k];                                                                              \
    float ts = sqrtf(Qk + ds2 * Sk), tg = sqrtf(Qk + dg2 * Sk);                                              \
    float t = ts + tg;                                                                                       \
    float u = t * idt + c0;                                                                                  \
    float wa = (rho[k] - r) * irho[k];                                                                       \
    wa = wa < 1.0f ? wa : 1.0f; /* NaN (no cone, or taper 0 at r = rho) -> 1 */                              \
    wa = wa > 0.0f ? wa : 0.0f;                                                                              \
    float w = wap * wa;                                                                                      \
    float inv = 1.0f, h = 1.0f, ih2 = 1.0f;                                                                  \
    if (AA) {                                                                                                \
        /* one division for 1/(ts tg) and the triangle: with P = ts tg and                                   \
         * N = P + aac S |(ax tg + bx ts, ay tg + by ts)|, h = N/P, 1/h = P/N,                               \
         * and R = 1/(P N) gives 1/P = N R, h = N^2 R, 1/h = P^2 R */                                        \
        float P = ts * tg + PSTM_TINY, px = ax * tg + bx * ts, g;                                            \
        if (PLANAR) {                                                                                        \
            g = fabsf(px);                                                                                   \
        } else {                                                                                             \
            float py = ay * tg + by * ts;                                                                    \
            g = sqrtf(px * px + py * py);                                                                    \
        }                                                                                                    \
        float N = P + aac * Sk * g, R = 1.0f / (P * N);                                                      \
        inv = N * R;                                                                                         \
        h = N * N * R;                                                                                       \
        h = h < PSTM_HMAX ? h : PSTM_HMAX;                                                                   \
        float ih = P * P * R;                                                                                \
        ih = ih > 1.0f / PSTM_HMAX ? ih : 1.0f / PSTM_HMAX;                                                  \
        ih2 = ih * ih;                                                                                       \
    } else if (WT) {                                                                                         \
        inv = 1.0f / (ts * tg + PSTM_TINY);                                                                  \
    }                                                                                                        \
    if (WT) {                                                                                                \
        if (DIM3) {                                                                                          \
            /* A = cbar Q/(ts tg), cbar = (tau/2) t / (2 ts tg) */                                           \
            w *= 0.5f * ((float)k * htau) * t * inv * Qk * inv;                                              \
        } else { /* A = cbar (Q/(ts tg))^(1/2) */                                                            \
            w *= 0.5f * Qk * t * inv * sqrtf(inv);                                                           \
        }                                                                                                    \
    }                                                                                                        \
    (void)ih2;

#define PSTM_LOCALS                                                                                          \
    const float *restrict Q = c->Q, *restrict S = c->S, *restrict rho = c->rho, *restrict irho = c->irho;    \
    const float ds2 = pp->ds2, dg2 = pp->dg2, ax = pp->ax, bx = pp->bx, ay = pp->ay, by = pp->by;            \
    const float r = pp->r, wap = pp->wap, idt = pp->idt, c0 = pp->c0, lim = pp->lim, aac = pp->aac;          \
    const float htau = (float)(0.5 * c->dtau);                                                               \
    (void)htau;                                                                                              \
    (void)ay;                                                                                                \
    (void)by;                                                                                                \
    (void)aac

static inline __attribute__((always_inline)) void mig_loop(const pair *pp, const fsci__pstm_col *c,
                                                           const void *qv, float *restrict img,
                                                           const bool dim3, const bool aa, const bool wt,
                                                           const bool planar)
{
    PSTM_LOCALS;
    const int64_t k0 = pp->k0, k1 = pp->k1;
    const float *restrict q = qv;    /* AA off: float samples */
    const int32_t *restrict qi = qv; /* AA on: fixed point */
    float sigma = 0.0f;
    if (aa) memcpy(&sigma, qi, sizeof sigma);
    (void)q;
    (void)qi;
#pragma omp simd
    for (int64_t k = k0; k < k1; k++) {
        PSTM_SAMPLE_BODY(dim3, aa, wt, planar)
        float v;
        if (!aa) {
            float ok = u >= 0.0f ? 1.0f : 0.0f; /* a 0/1 factor, not a select: */
            ok = u < lim ? ok : 0.0f;           /* GCC keeps a selected index as a branch */
            float uc = u * ok;
            int32_t i = (int32_t)uc;
            float ph = uc - (float)i;
            v = q[i] + ph * (q[i + 1] - q[i]);
            w *= ok;
        } else { /* (2 D(u) - D(u - h) - D(u + h)) / h^2, each D linearly interpolated */
            float um = u - h, up = u + h;
            float ok = um >= 0.0f ? 1.0f : 0.0f;
            ok = up < lim ? ok : 0.0f;
            float u0 = u * ok, m0 = um * ok, p0 = up * ok;
            int32_t i = (int32_t)u0, im = (int32_t)m0, ip = (int32_t)p0;
            float f = u0 - (float)i, fm = m0 - (float)im, fp = p0 - (float)ip;
            /* on D' in fixed point (prep.c): word 0 holds sigma (D'[0] = 0); the
             * integer differences are exact (|words| < 2^29), so float rounds
             * only quantities of the size of the differences, not of D */
            int32_t e0 = i > 0 ? qi[i] : 0, em = im > 0 ? qi[im] : 0, ep = ip > 0 ? qi[ip] : 0;
            float b = (float)((e0 - em) - (ep - e0));
            float g0 = (float)(qi[i + 1] - e0), gm = (float)(qi[im + 1] - em), gp = (float)(qi[ip + 1] - ep);
            v = (b + (2.0f * f * g0 - fm * gm - fp * gp)) * (ih2 * sigma);
            w *= ok;
        }
        img[k] += w * v;
    }
}

/* Modelling, one block [kb, ke): the taps (index, weight) in a vector loop,
 * then the spray, always into a double qa (in float, the rounding of sums of
 * ~1,000 columns per trace cost the 3-D dot test 1.6e-5). Without AA two float
 * weights per sample at i, i + 1; with AA six, at im, im + 1, i, i + 1, ip, ip + 1, formed in double
 * from the float weight and fractions and summed into a double qa: they then
 * cancel on the smooth, large part of D to double rounding (in float their
 * rounding times |D| was the main loss of the AA dot test). Masked samples add
 * 0 at 0 and 1. */
static inline __attribute__((always_inline)) void mod_block(const pair *pp, const fsci__pstm_col *c,
                                                            const float *restrict img, void *qa, int64_t kb,
                                                            int64_t ke, const bool dim3, const bool aa,
                                                            const bool wt, const bool planar)
{
    PSTM_LOCALS;
    double *restrict qd = qa;
    int32_t ix[3][PSTM_BLOCK];
    float cf[2][PSTM_BLOCK];
    double cd[6][PSTM_BLOCK];
    const int64_t n = ke - kb;
#pragma omp simd
    for (int64_t j = 0; j < n; j++) {
        const int64_t k = kb + j;
        PSTM_SAMPLE_BODY(dim3, aa, wt, planar)
        if (!aa) {
            float ok = u >= 0.0f ? 1.0f : 0.0f; /* a 0/1 factor, not a select: */
            ok = u < lim ? ok : 0.0f;           /* GCC keeps a selected index as a branch */
            float uc = u * ok;
            int32_t i = (int32_t)uc;
            float ph = uc - (float)i;
            float a = ok * w * img[k];
            ix[0][j] = i;
            cf[0][j] = a * (1.0f - ph);
            cf[1][j] = a * ph;
        } else {
            float um = u - h, up = u + h;
            float ok = um >= 0.0f ? 1.0f : 0.0f;
            ok = up < lim ? ok : 0.0f;
            float u0 = u * ok, m0 = um * ok, p0 = up * ok;
            int32_t i = (int32_t)u0, im = (int32_t)m0, ip = (int32_t)p0;
            float f = u0 - (float)i, fm = m0 - (float)im, fp = p0 - (float)ip;
            double a = (double)(ok * w * img[k] * ih2);
            double a2 = 2.0 * a;
            ix[0][j] = i;
            ix[1][j] = im;
            ix[2][j] = ip;
            cd[0][j] = a2 * (1.0 - (double)f);
            cd[1][j] = a2 * (double)f;
            cd[2][j] = -a * (1.0 - (double)fm);
            cd[3][j] = -a * (double)fm;
            cd[4][j] = -a * (1.0 - (double)fp);
            cd[5][j] = -a * (double)fp;
        }
    }
    if (!aa) {
        for (int64_t j = 0; j < n; j++) {
            qd[ix[0][j]] += (double)cf[0][j];
            qd[ix[0][j] + 1] += (double)cf[1][j];
        }
    } else {
        for (int64_t j = 0; j < n; j++) {
            qd[ix[0][j]] += cd[0][j];
            qd[ix[0][j] + 1] += cd[1][j];
            qd[ix[1][j]] += cd[2][j];
            qd[ix[1][j] + 1] += cd[3][j];
            qd[ix[2][j]] += cd[4][j];
            qd[ix[2][j] + 1] += cd[5][j];
        }
    }
    (void)cf;
    (void)cd;
}

static inline __attribute__((always_inline)) void mod_loop(const pair *pp, const fsci__pstm_col *c,
                                                           const float *restrict img, void *qa,
                                                           const bool dim3, const bool aa, const bool wt,
                                                           const bool planar)
{
    for (int64_t kb = pp->k0; kb < pp->k1; kb += PSTM_BLOCK) {
        int64_t ke = kb + PSTM_BLOCK < pp->k1 ? kb + PSTM_BLOCK : pp->k1;
        mod_block(pp, c, img, qa, kb, ke, dim3, aa, wt, planar);
    }
}

/* One instance per (dim, aa, weights, planar): the flags become constants. */
#define PSTM_DISPATCH(FN, ...)                                                                               \
    switch ((o->dim == 3) | (o->aa << 1) | (o->weights << 2) | ((o->aa && pp.planar) << 3)) {                \
    case 0: FN(__VA_ARGS__, false, false, false, false); break;                                              \
    case 1: FN(__VA_ARGS__, true, false, false, false); break;                                               \
    case 2: FN(__VA_ARGS__, false, true, false, false); break;                                               \
    case 3: FN(__VA_ARGS__, true, true, false, false); break;                                                \
    case 4: FN(__VA_ARGS__, false, false, true, false); break;                                               \
    case 5: FN(__VA_ARGS__, true, false, true, false); break;                                                \
    case 6: FN(__VA_ARGS__, false, true, true, false); break;                                                \
    case 7: FN(__VA_ARGS__, true, true, true, false); break;                                                 \
    case 10: FN(__VA_ARGS__, false, true, false, true); break;                                               \
    case 11: FN(__VA_ARGS__, true, true, false, true); break;                                                \
    case 14: FN(__VA_ARGS__, false, true, true, true); break;                                                \
    default: FN(__VA_ARGS__, true, true, true, true); break;                                                 \
    }

int64_t fsci__pstm_pair_mig(const fsci__pstm_kopt *o, const fsci__pstm_prep *p, const fsci__pstm_col *c,
                            double sx, double sy, double gx, double gy, const void *q, float *img)
{
    return fsci__pstm_pair_mig_hint(o, p, c, sx, sy, gx, gy, q, img, NULL);
}

int64_t fsci__pstm_pair_mig_hint(const fsci__pstm_kopt *o, const fsci__pstm_prep *p, const fsci__pstm_col *c,
                                 double sx, double sy, double gx, double gy, const void *q, float *img,
                                 int64_t *hint)
{
    pair pp;
    if (!pair_setup(o, p, c, sx, sy, gx, gy, hint, &pp)) return 0;
    PSTM_DISPATCH(mig_loop, &pp, c, q, img)
    return pp.k1 - pp.k0;
}

int64_t fsci__pstm_pair_mod(const fsci__pstm_kopt *o, const fsci__pstm_prep *p, const fsci__pstm_col *c,
                            double sx, double sy, double gx, double gy, const float *img, void *qa)
{
    return fsci__pstm_pair_mod_hint(o, p, c, sx, sy, gx, gy, img, qa, NULL);
}

int64_t fsci__pstm_pair_mod_hint(const fsci__pstm_kopt *o, const fsci__pstm_prep *p, const fsci__pstm_col *c,
                                 double sx, double sy, double gx, double gy, const float *img, void *qa,
                                 int64_t *hint)
{
    pair pp;
    if (!pair_setup(o, p, c, sx, sy, gx, gy, hint, &pp)) return 0;
    PSTM_DISPATCH(mod_loop, &pp, c, img, qa)
    return pp.k1 - pp.k0;
}
