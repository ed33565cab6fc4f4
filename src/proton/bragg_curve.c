/* proton physics: the analytic depth dose of a broad beam in water, the
 * reference the transport is compared with (doc/proton_physics.md, "Bragg
 * peak: analytic reference").
 *
 *   D(z) = exp(-mu z) E_delta[ f(R0 + delta - z) ],  delta ~ N(0, sigma^2),
 *   f(r) = S(E(r)) + gamma mu E(r) for r > 0, 0 otherwise,
 *   sigma^2 = sigma_straggling(E0)^2 + (sigma_E / S(E0))^2,
 *
 * the CSDA curve of residual range r with the stopping power S of the physics
 * object, fluence loss mu and local deposition gamma of the removed protons'
 * energy, mixed over Gaussian ranges: Bortfeld (1997) convolves the
 * straggling-free curve with a Gaussian whose variance adds the range
 * straggling and the beam's energy spread mapped through dR/dE = 1 / S(E0)
 * (his fluence loss is linear in depth; ours is the transport's exponential).
 * Here the mixture is a sum over 240 range cells of +-6 sigma, each weighted
 * by its exact Gaussian probability (differences of erf) and contributing the
 * mean of f over the residual ranges it spans, from the integral of f
 * tabulated on a 0.002 mm grid (its stopping part is E(r) itself): the jump
 * of f at r = 0 and its steep rise just above are integrated, not sampled. */
#include <math.h>
#include <stdlib.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/error.h"
#include "proton/proton_impl.h"

#define TABLE_STEP 0.002   /* mm: residual-range step of the f table */
#define SIGMAS 6.0         /* the mixture covers +-6 sigma */
#define CELLS 240          /* range cells of the mixture over +-6 sigma */
#define SAMPLE_STEP 0.0025 /* mm: depth samples within a row, at most this far apart */

typedef struct ftab {
    double *F;   /* F(r_i) = int_0^r_i f dr, r_i = i TABLE_STEP */
    double ftop; /* f at the last node, to continue F beyond the table */
    int64_t n;
} ftab;

/* The integral of f at r = i TABLE_STEP, i < n: the stopping part exactly,
 * int_0^r S(E(r')) dr' = E(r) (the energy below the physics' lowest range,
 * <= e_min, is dropped), the nuclear part gamma mu int E dr by the trapezoid
 * rule (E is smooth). Integrating S by quadrature instead would lose ~0.05 %
 * of the energy in the first table step, where S rises to its maximum. */
static int f_build(const fsci_proton_physics *ph, double rmax, double mu, double gamma, ftab *t)
{
    int st = FSCI_OK;
    double rmin = 0, e0 = 0, ep = 0, s = 0;
    fsci_proton_physics_limits(ph, NULL, NULL, &rmin, NULL);
    t->n = (int64_t)(rmax / TABLE_STEP) + 2;
    t->F = fsci_malloc((size_t)t->n, sizeof *t->F);
    FSCI_CHECK(t->F, FSCI_ENOMEM, "bragg_curve: out of memory for %lld table entries", (long long)t->n);
    FSCI_TRY(fsci_proton_physics_energy_mm(ph, rmin, &e0));
    double nuc = 0;
    for (int64_t i = 0; i < t->n; i++) {
        double e = 0;
        FSCI_TRY(fsci_proton_physics_energy_mm(ph, fmax((double)i * TABLE_STEP, rmin), &e));
        if (i > 0) nuc += 0.5 * TABLE_STEP * (ep + e);
        t->F[i] = (e - e0) + gamma * mu * nuc;
        ep = e;
    }
    FSCI_TRY(fsci_proton_physics_stop_mm(ph, ep, &s));
    t->ftop = s + gamma * mu * ep;
fail:
    return st;
}

/* int_0^r f: 0 for r <= 0 (protons with less range have stopped), linear
 * between the nodes, continued with f's last value beyond the table. */
static double F_eval(const ftab *t, double r)
{
    if (!(r > 0)) return 0;
    const double u = r / TABLE_STEP;
    int64_t i = (int64_t)u;
    if (i >= t->n - 1) return t->F[t->n - 1] + (r - (double)(t->n - 1) * TABLE_STEP) * t->ftop;
    return t->F[i] + (u - (double)i) * (t->F[i + 1] - t->F[i]);
}

static int check_args(double e0, double sigma_e, double mu, double gamma, int64_t nz, double dz)
{
    FSCI_CHECK(isfinite(e0) && e0 > 0, FSCI_EINVAL, "bragg_curve: energy %g MeV is not a positive number",
               e0);
    FSCI_CHECK(isfinite(sigma_e) && sigma_e >= 0 && sigma_e < e0, FSCI_EINVAL,
               "bragg_curve: energy spread %g MeV is not in [0, %g)", sigma_e, e0);
    FSCI_CHECK(isfinite(mu) && mu >= 0 && mu < 1, FSCI_EINVAL,
               "bragg_curve: nuclear removal rate %g /mm is not in [0, 1)", mu);
    FSCI_CHECK(isfinite(gamma) && gamma >= 0 && gamma <= 1, FSCI_EINVAL,
               "bragg_curve: local fraction %g is not in [0, 1]", gamma);
    FSCI_CHECK(nz >= 1 && nz <= 100000000, FSCI_EINVAL, "bragg_curve: %lld rows is not in [1, 1e8]",
               (long long)nz);
    FSCI_CHECK(isfinite(dz) && dz > 0 && dz <= 1000, FSCI_EINVAL,
               "bragg_curve: row size %g mm is not in (0, 1000]", dz);
    return FSCI_OK;
}

int fsci_proton_physics_bragg_curve(const fsci_proton_physics *ph, double e0_mev, double sigma_e_mev,
                                    double mu_per_mm, double local, int64_t nz, double dz_mm, double *out)
{
    int st = FSCI_OK;
    ftab t = {NULL, 0, 0};
    FSCI_CHECK(ph && out, FSCI_EINVAL, "bragg_curve: NULL argument");
    FSCI_TRY(check_args(e0_mev, sigma_e_mev, mu_per_mm, local, nz, dz_mm));
    double r0 = 0, ss = 0, s0 = 0;
    FSCI_TRY(fsci_proton_physics_range_mm(ph, e0_mev, &r0));
    FSCI_TRY(fsci_proton_physics_range_straggling(ph, e0_mev, &ss));
    FSCI_TRY(fsci_proton_physics_stop_mm(ph, e0_mev, &s0));
    const double sb = sigma_e_mev / s0, sig = sqrt(ss * ss + sb * sb);
    /* range cells: offsets at the cell centres, weights the Gaussian
     * probability of each cell */
    double off[CELLS], wt[CELLS], wsum = 0;
    int ncell = CELLS;
    const double width = sig > 0 ? 2 * SIGMAS * sig / CELLS : TABLE_STEP,
                 rs = sig > 0 ? 1 / (sqrt(2.0) * sig) : 0;
    if (sig > 0) {
        for (int c = 0; c < CELLS; c++) {
            const double a = -SIGMAS * sig + c * width, b = a + width;
            off[c] = 0.5 * (a + b);
            wt[c] = 0.5 * (erf(b * rs) - erf(a * rs));
            wsum += wt[c];
        }
    } else {
        ncell = 1;
        off[0] = 0;
        wt[0] = wsum = 1;
    }
    FSCI_TRY(f_build(ph, r0 + SIGMAS * sig + TABLE_STEP, mu_per_mm, local, &t));
    int64_t sub = (int64_t)ceil(dz_mm / SAMPLE_STEP);
    if (sub < 4) sub = 4;
    const double zend = r0 + SIGMAS * sig + width; /* every proton has stopped beyond it */
    for (int64_t k = 0; k < nz; k++) {
        double row = 0;
        if ((double)k * dz_mm > zend) {
            out[k] = 0;
            continue;
        }
        for (int64_t j = 0; j < sub; j++) {
            const double z = ((double)k + ((double)j + 0.5) / (double)sub) * dz_mm;
            /* each cell: its probability times the mean of f over the residual
             * ranges it spans (f is 0 below r = 0 and steep just above) */
            double m = 0;
            for (int c = 0; c < ncell; c++) {
                const double ra = r0 + off[c] - 0.5 * width - z, rb = ra + width;
                if (rb <= 0) continue;
                m += wt[c] * (F_eval(&t, rb) - F_eval(&t, ra)) / width;
            }
            row += exp(-mu_per_mm * z) * m / wsum;
        }
        out[k] = row / (double)sub;
    }
fail:
    fsci_free(t.F);
    return st;
}
