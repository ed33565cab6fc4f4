/* proton: depth doses of 70, 100, 150 and 200 MeV with straggling and nuclear
 * local deposition against an analytic Bragg curve built here from the same
 * physics (doc/proton_physics.md, "Bragg peak: analytic reference"):
 *
 *   D(z) = exp(-mu z) int f(R0 + d - z) G(d; sigma_R) dd,
 *   f(r) = S(E(r)) + gamma mu E(r)   (r > 0; 0 otherwise),
 *
 * here with point samples of the Gaussian and f averaged over 2 um steps of r
 * (the library's fsci_proton_physics_bragg_curve, which the demo draws,
 * integrates over cells of the Gaussian instead; the two must agree),
 *
 * the CSDA curve with exponential fluence loss mu and local deposition gamma of
 * the removed protons' energy, mixed over Gaussian ranges (Bortfeld 1997, Med.
 * Phys. 24, 2024, convolves the straggling-free curve with a Gaussian of width
 * sigma_R; here numerically, with the Bohr sigma_R of the same physics). The
 * transport runs as a 1-D problem (one column, one periodic angle bin: no
 * scattering), so the comparison isolates A_E. Checked: R80 within the PSTAR
 * tolerance of the range tests (0.5 %), d80-20 within 25 % of the reference
 * table (0.63, 1.14, 2.25, 3.60 mm; computed with Bortfeld's fit constants),
 * FWHM within 20 % and peak/entrance within 15 % of the analytic curve. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastsci/core/progress.h"
#include "fastsci/proton.h"
#include "proton/proton_hooks.h"
#include "testkit.h"

#define MU 0.0012   /* 1/mm, opts.nuclear_mu_per_mm */
#define GAMMA 0.6   /* opts.nuclear_local */
#define FINE 0.002  /* mm, residual-range table step */
#define SUB 40      /* samples per depth row */
#define NDELTA 2401 /* range samples over +-6 sigma */

/* f on the steps [i FINE, (i + 1) FINE], i < n, as its mean there: the
 * stopping part from the energy difference (S rises to its maximum within the
 * last microns, which point samples of S would miss), the nuclear part at the
 * step's mean energy. */
static double *f_table(const fsci_proton_physics *ph, double r0, int64_t *n_out)
{
    double rmin = 0;
    fsci_proton_physics_limits(ph, NULL, NULL, &rmin, NULL);
    const int64_t n = (int64_t)(r0 / FINE) + 2;
    double *f = malloc(sizeof(double) * (size_t)n), ea = 0;
    if (!f || fsci_proton_physics_energy_mm(ph, rmin, &ea)) {
        free(f);
        return NULL;
    }
    for (int64_t i = 0; i < n; i++) {
        double r = (double)(i + 1) * FINE, eb = 0;
        if (fsci_proton_physics_energy_mm(ph, r < rmin ? rmin : r, &eb)) {
            free(f);
            return NULL;
        }
        f[i] = (eb - ea) / FINE + GAMMA * MU * 0.5 * (ea + eb);
        ea = eb;
    }
    *n_out = n;
    return f;
}

static double f_at(const double *f, int64_t n, double r)
{
    if (r <= 0) return 0;
    int64_t i = (int64_t)(r / FINE);
    return f[i < n ? i : n - 1];
}

/* Analytic depth dose, row averages over rows of dz: dd[nz] (MeV/mm). */
static void analytic(const double *f, int64_t n, double r0, double sig, int64_t nz, double dz, double *dd)
{
    double w[NDELTA], d[NDELTA], sw = 0;
    for (int q = 0; q < NDELTA; q++) {
        d[q] = sig * (-6.0 + 12.0 * q / (NDELTA - 1));
        w[q] = exp(-0.5 * (d[q] / sig) * (d[q] / sig));
        sw += w[q];
    }
    for (int64_t k = 0; k < nz; k++) {
        double acc = 0;
        for (int j = 0; j < SUB; j++) {
            const double z = ((double)k + (j + 0.5) / SUB) * dz;
            double m = 0;
            for (int q = 0; q < NDELTA; q++) m += w[q] * f_at(f, n, r0 + d[q] - z);
            acc += exp(-MU * z) * m / sw;
        }
        dd[k] = acc / SUB;
    }
}

/* Full width at half maximum around the peak sample. */
static double fwhm(const double *dd, int64_t n, double dz)
{
    int64_t ip = 0;
    for (int64_t k = 1; k < n; k++)
        if (dd[k] > dd[ip]) ip = k;
    const double h = 0.5 * dd[ip];
    double a = NAN, b = NAN;
    for (int64_t k = ip; k > 0; k--)
        if (dd[k - 1] < h) {
            a = ((double)k - 1 + 0.5 + (h - dd[k - 1]) / (dd[k] - dd[k - 1])) * dz;
            break;
        }
    for (int64_t k = ip; k < n - 1; k++)
        if (dd[k + 1] < h) {
            b = ((double)k + 0.5 + (dd[k] - h) / (dd[k] - dd[k + 1])) * dz;
            break;
        }
    return b - a;
}

/* A broad beam of energy e0 and Gaussian energy spread sigma_e (MeV): the
 * analytic curve's range sigma is then hypot(sigma_R, sigma_e / S(e0)). With a
 * spread, d80-20 is checked against the analytic curve's (within 10 %). */
static void bragg_case(int *testkit_failed, double e0, double sigma_e, double dz, double d8020_ref)
{
    fsci_proton_physics *ph = NULL;
    ASSERT_OK(fsci_proton_physics_create(NULL, &ph));
    double r0 = 0, sig = 0, s0 = 0, rlo = 0, rhi = 0;
    ASSERT_OK(fsci_proton_physics_range_mm(ph, e0, &r0));
    ASSERT_OK(fsci_proton_physics_range_straggling(ph, e0, &sig));
    ASSERT_OK(fsci_proton_physics_stop_mm(ph, e0, &s0));
    const double sig_strag = sig;
    sig = hypot(sig, sigma_e / s0);
    fsci_proton_opts o;
    fsci_proton_opts_default(&o);
    o.e_max_mev = e0 + 4 * sigma_e;
    if (sigma_e > 0) { /* the energy window holds the spectrum and the straggling */
        ASSERT_OK(fsci_proton_physics_range_mm(ph, o.e_max_mev, &rhi));
        ASSERT_OK(fsci_proton_physics_range_mm(ph, e0 - 4 * sigma_e, &rlo));
        o.e_window = (int64_t)ceil((rhi - rlo) / dz) + 34 + 2 * (int64_t)ceil(7 * sig_strag / dz);
    }
    o.nx = 1;
    o.dx_mm = 1;
    o.dz_mm = dz;
    o.nz = (int64_t)ceil((r0 + 8 * sig + 2) / dz);
    o.ntheta = 1;
    o.theta_bc = FSCI_PROTON_THETA_PERIODIC;
    o.nthreads = 1;
    ASSERT_TRUE(o.straggling && o.nuclear && o.nuclear_mu_per_mm == MU && o.nuclear_local == GAMMA);
    const int64_t nz = o.nz;
    double *dd = calloc((size_t)nz, sizeof(double)), *da = calloc((size_t)nz, sizeof(double));
    fsci_proton_plan *p = NULL;
    fsci_proton_state *s = NULL;
    ASSERT_OK(fsci_proton_plan_create(&o, NULL, &p));
    ASSERT_OK(fsci_proton_state_create(p, &s));
    fsci_proton_beam b;
    fsci_proton_beam_default(&b);
    b.energy_mev = e0;
    b.energy_sigma_mev = sigma_e;
    ASSERT_OK(fsci_proton_state_add_beam(s, &b));
    ASSERT_OK(fsci_proton_run(p, s, 0, NULL));
    ASSERT_OK(fsci_proton_state_depth_dose(s, dd));
    fsci_proton_balance w, e;
    fsci_proton_state_balance(s, &w, &e);
    int64_t n = 0;
    double *f = f_table(ph, r0 + 7 * sig, &n);
    ASSERT_TRUE(f != NULL);
    analytic(f, n, r0, sig, nz, dz, da);
    /* the library's curve (the demo's overlay), built its own way, agrees */
    double *dl = calloc((size_t)nz, sizeof(double)), lmax = 0, amax = 0;
    ASSERT_OK(fsci_proton_physics_bragg_curve(ph, e0, sigma_e, MU, GAMMA, nz, dz, dl));
    for (int64_t k = 0; k < nz; k++) {
        lmax = fmax(lmax, fabs(dl[k] - da[k]));
        amax = fmax(amax, da[k]);
    }
    free(dl);
    fsci_proton_range_metrics mt, ma;
    ASSERT_OK(fsci_proton_analyze(dd, nz, dz, &mt));
    ASSERT_OK(fsci_proton_analyze(da, nz, dz, &ma));
    const double ft = fwhm(dd, nz, dz), fa = fwhm(da, nz, dz);
    const double pet = 1 / mt.entrance, pea = 1 / ma.entrance;
    printf("  %3.0f MeV, spread %.2f MeV (dz %.2f mm, sigma_R %.2f mm): R80 %.2f mm (analytic %.2f, PSTAR "
           "CSDA %.2f); d80-20 "
           "%.2f mm (analytic %.2f, table %.2f); FWHM %.2f mm (analytic %.2f); peak/entrance %.3f (analytic "
           "%.3f); energy residual %.1e, weight %.1e\n",
           e0, sigma_e, dz, sig, mt.r80_mm, ma.r80_mm, r0, mt.falloff_mm, ma.falloff_mm, d8020_ref, ft, fa,
           pet, pea, e.residual, w.residual);
    printf("    library analytic curve vs this test's: max |d| %.1e of the peak\n", lmax / amax);
    ASSERT_TRUE(lmax <= 2e-3 * amax);
    /* issue 9: <= 1e-6 per run with straggling and nuclear deposition on (the
     * float64 build closes it to rounding) */
    const double tol = fsci_proton_psi_bytes() == 8 ? 1e-12 : 1e-6;
    ASSERT_TRUE(fabs(e.residual) <= tol && fabs(w.residual) <= tol);
    ASSERT_NEAR_REL(mt.r80_mm, r0, 0.005, 0);
    if (sigma_e > 0)
        ASSERT_NEAR_REL(mt.falloff_mm, ma.falloff_mm, 0.10, 0);
    else
        ASSERT_NEAR_REL(mt.falloff_mm, d8020_ref, 0.25, 0);
    ASSERT_NEAR_REL(ft, fa, 0.20, 0);
    ASSERT_NEAR_REL(pet, pea, 0.15, 0);
    free(f);
    free(dd);
    free(da);
    fsci_proton_state_destroy(&s);
    fsci_proton_plan_destroy(&p);
    fsci_proton_physics_destroy(&ph);
}

TEST(bragg_curves_against_analytic_straggling)
{
    fsci_progress_set_mode(FSCI_PROGRESS_QUIET);
    static const double E[4] = {70, 100, 150, 200}, DZ[4] = {0.1, 0.1, 0.2, 0.2},
                        D8020[4] = {0.63, 1.14, 2.25, 3.60};
    for (int i = 0; i < 4 && !*testkit_failed; i++) bragg_case(testkit_failed, E[i], 0, DZ[i], D8020[i]);
}

/* A 1 % energy spread at 150 MeV (the clinical way of stating a beam model):
 * the transport's fall-off, FWHM and peak/entrance follow the analytic curve
 * whose range variance adds (sigma_E / S)^2. */
TEST(energy_spread_against_analytic)
{
    fsci_progress_set_mode(FSCI_PROGRESS_QUIET);
    bragg_case(testkit_failed, 150, 1.5, 0.2, NAN);
}

TESTKIT_MAIN()
