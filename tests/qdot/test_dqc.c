/* Tests of the qdot data-quality gate (src/qdot/dqc.c, doc/qdot_planning.md section 4):
 * hand-computed cases (constant, ramp, NaN/Inf, values outside [0, 1], short lines, a clean
 * sinusoid) and random lines and patches against a direct reimplementation in this file of
 * numpy's convolve (mode 'same') and scipy's uniform_filter (mode 'reflect', written with
 * scipy's index rule and a full 3 x 3 sum rather than two passes). */
#include <math.h>
#include <stdbool.h>

#include "fastsci/core/rng.h"
#include "qdot/plan.h"
#include "testkit.h"

static double work[2 * 64 * 64];

static fsci__qdot_dqc_result assess(const double *a, int ndim, int64_t n0, int64_t n1, double bypass, int *st)
{
    fsci__qdot_dqc_opts o;
    fsci__qdot_dqc_defaults(&o);
    o.dr_bypass = bypass;
    fsci__qdot_dqc_result r;
    *st = fsci__qdot_dqc_assess(a, ndim, n0, n1, &o, work, &r);
    return r;
}

TEST(constant_patches_are_low)
{
    double a[64], z[64];
    for (int i = 0; i < 64; i++) a[i] = 0.5, z[i] = 0.0;
    int st, st2;
    fsci__qdot_dqc_result r = assess(a, 2, 8, 8, 0.0, &st), q = assess(z, 2, 8, 8, 0.0, &st2);
    ASSERT_OK(st);
    ASSERT_OK(st2);
    ASSERT_TRUE(r.snr_db == 60.0 && r.dynamic_range == 0.0 && r.flatness == 0.0 && r.plausible);
    ASSERT_EQ(r.quality, FSCI__QDOT_DQC_LOW);
    ASSERT_TRUE(q.snr_db == 60.0 && q.dynamic_range == 0.0 && q.flatness == 0.0);
    ASSERT_EQ(q.quality, FSCI__QDOT_DQC_LOW);
}

TEST(line_ramp_by_hand)
{
    /* [0, .25, .5, .75, 1]: smooth (zero padded) [1/12, .25, .5, .75, 7/12]; residual is
     * non-zero at the ends only: var(smooth) = 17/300, var(residual) = 19/600. */
    const double a[5] = {0.0, 0.25, 0.5, 0.75, 1.0};
    int st;
    fsci__qdot_dqc_result r = assess(a, 1, 5, 0, 0.0, &st), b = assess(a, 1, 5, 0, 0.8, &st);
    ASSERT_OK(st);
    ASSERT_NEAR_REL(r.snr_db, 10.0 * log10(34.0 / 19.0), 1e-13, 0.0);
    ASSERT_NEAR_REL(r.dynamic_range, 1.0, 1e-15, 0.0);
    ASSERT_NEAR_REL(r.flatness, 0.125 / 0.25, 1e-14, 0.0);
    ASSERT_EQ(r.quality, FSCI__QDOT_DQC_LOW);      /* 2.5 dB < 10 dB */
    ASSERT_EQ(b.quality, FSCI__QDOT_DQC_MODERATE); /* later revision: range 1 >= 0.8 bypasses */
    int st3;
    fsci__qdot_dqc_result s = assess(a, 1, 3, 0, 0.0, &st3); /* fewer than 4 samples */
    ASSERT_OK(st3);
    ASSERT_TRUE(s.snr_db == 0.0);
    ASSERT_NEAR_REL(s.dynamic_range, 1.0, 1e-15, 0.0);
}

TEST(nonfinite_and_out_of_range)
{
    double a[64];
    for (int i = 0; i < 64; i++) a[i] = 0.5 + 0.4 * sin(0.7 * i);
    int st;
    a[10] = NAN;
    fsci__qdot_dqc_result r = assess(a, 2, 8, 8, 0.0, &st);
    ASSERT_OK(st);
    ASSERT_TRUE(r.nonfinite && !r.plausible && r.snr_db == 0.0 && r.dynamic_range == 0.0 &&
                r.flatness == 0.0);
    ASSERT_EQ(r.quality, FSCI__QDOT_DQC_LOW);
    a[10] = -INFINITY;
    r = assess(a, 2, 8, 8, 0.8, &st);
    ASSERT_TRUE(r.nonfinite && r.quality == FSCI__QDOT_DQC_LOW);
    /* 1 + 5e-7 is inside the 1e-6 tolerance; 1.5 is not (features use the clipped array). */
    a[10] = 1.0 + 5e-7;
    fsci__qdot_dqc_result in = assess(a, 2, 8, 8, 0.8, &st);
    ASSERT_TRUE(in.plausible && !in.out_of_range);
    a[10] = 1.5;
    fsci__qdot_dqc_result out = assess(a, 2, 8, 8, 0.8, &st);
    ASSERT_TRUE(!out.plausible && out.out_of_range && !out.nonfinite);
    ASSERT_EQ(out.quality, FSCI__QDOT_DQC_LOW);
    ASSERT_NEAR_REL(out.snr_db, in.snr_db, 1e-6, 0.0); /* 1.5 clipped to 1 vs 1 + 5e-7 clipped */
    ASSERT_STATUS(fsci__qdot_dqc_assess(a, 3, 8, 8, &(fsci__qdot_dqc_opts){20, 10, .3, 1e-4, 0}, work, &out),
                  FSCI_EINVAL);
}

TEST(clean_sinusoid_is_high)
{
    static double a[32 * 32];
    for (int i = 0; i < 32; i++)
        for (int j = 0; j < 32; j++) a[i * 32 + j] = 0.5 + 0.4 * sin(2 * FSCI_PI * (i + 0.5) / 32.0);
    int st;
    fsci__qdot_dqc_result r = assess(a, 2, 32, 32, 0.0, &st);
    ASSERT_OK(st);
    printf("  sinusoid: SNR %.2f dB, range %.3f, flatness %.3f\n", r.snr_db, r.dynamic_range, r.flatness);
    ASSERT_TRUE(r.snr_db > 20.0 && r.dynamic_range > 0.3);
    ASSERT_EQ(r.quality, FSCI__QDOT_DQC_HIGH);
}

/* ------------------------------------------------------------ direct reimplementation */

static double ref_var(const double *x, int n)
{
    double m = 0, v = 0;
    for (int i = 0; i < n; i++) m += x[i];
    m /= n;
    for (int i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
    return v / n;
}

/* scipy.ndimage 'reflect' (d c b a | a b c d | d c b a). */
static int reflect(int i, int n)
{
    if (n == 1) return 0;
    if (i < 0) return -i - 1;
    if (i >= n) return 2 * n - i - 1;
    return i;
}

static double ref_snr(const double *c, int ndim, int n0, int n1)
{
    static double sm[64 * 64], res[64 * 64];
    int n = n0 * n1;
    if (ndim == 1) {
        if (n < 4) return 0.0;
        for (int i = 0; i < n; i++)
            sm[i] = ((i > 0 ? c[i - 1] : 0) + c[i] + (i + 1 < n ? c[i + 1] : 0)) * (1.0 / 3.0);
    } else {
        for (int i = 0; i < n0; i++)
            for (int j = 0; j < n1; j++) {
                double s = 0;
                for (int di = -1; di <= 1; di++)
                    for (int dj = -1; dj <= 1; dj++) s += c[reflect(i + di, n0) * n1 + reflect(j + dj, n1)];
                sm[i * n1 + j] = s / 9.0;
            }
    }
    for (int i = 0; i < n; i++) res[i] = c[i] - sm[i];
    double ps = ref_var(sm, n), pn = ref_var(res, n);
    if (pn < 1e-20) return 60.0;
    if (ps < 1e-20) return 0.0;
    return 10 * log10(ps / pn);
}

TEST(random_patches_against_reimplementation)
{
    static double a[64 * 64], c[64 * 64];
    fsci_rng g;
    fsci_rng_init(&g, 3, 5, 0, 0);
    const int shapes[][3] = {{2, 16, 16}, {2, 32, 32}, {2, 64, 64}, {2, 1, 9},  {2, 9, 1}, {2, 2, 2},
                             {2, 3, 7},   {1, 128, 1}, {1, 4, 1},   {1, 33, 1}, {2, 64, 5}};
    double emax = 0;
    int classes[3] = {0, 0, 0};
    for (int t = 0; t < 200; t++) {
        const int *sh = shapes[t % 11];
        int n0 = sh[1], n1 = sh[0] == 1 ? 1 : sh[2], n = n0 * n1;
        double noise = 0.3 * fsci_rng_uniform(&g), freq = 0.5 * fsci_rng_uniform(&g);
        for (int i = 0; i < n; i++) {
            a[i] = 0.5 + 0.45 * sin(freq * i) + noise * (fsci_rng_uniform(&g) - 0.5);
            if (t % 7 == 3 && i % 13 == 0) a[i] += 0.02; /* small spills past 1 get clipped */
        }
        int st;
        fsci__qdot_dqc_result r = assess(a, sh[0], n0, n1, t % 2 ? 0.8 : 0.0, &st);
        ASSERT_OK(st);
        bool oor = false;
        double lo = 1, hi = 0, m = 0;
        for (int i = 0; i < n; i++) {
            oor |= a[i] < -1e-6 || a[i] > 1 + 1e-6;
            c[i] = fmin(1.0, fmax(0.0, a[i]));
            lo = fmin(lo, c[i]);
            hi = fmax(hi, c[i]);
            m += c[i];
        }
        m /= n;
        double snr = ref_snr(c, sh[0], n0, n1), dr = hi < 1e-12 ? 0 : (hi - lo) / hi, v = ref_var(c, n);
        double flat = fabs(m) < 1e-12 ? v : v / (m * m);
        bool low = snr < 10 && (t % 2 ? dr < 0.8 : true);
        int q = (low || oor || flat < 1e-4) ? 2 : (snr < 20 || dr < 0.3) ? 1 : 0;
        emax = fmax(emax, fabs(r.snr_db - snr));
        ASSERT_NEAR_REL(r.snr_db, snr, 1e-12, 1e-12);
        ASSERT_NEAR_REL(r.dynamic_range, dr, 1e-15, 0.0);
        ASSERT_NEAR_REL(r.flatness, flat, 1e-12, 0.0);
        ASSERT_EQ(r.out_of_range, oor);
        ASSERT_EQ((int)r.quality, q);
        classes[q]++;
    }
    printf("  200 random arrays: max |SNR - reimplementation| = %.3g dB; HIGH %d, MODERATE %d, LOW %d\n",
           emax, classes[0], classes[1], classes[2]);
    ASSERT_TRUE(classes[0] > 0 && classes[1] > 0 && classes[2] > 0);
}

TESTKIT_MAIN()
