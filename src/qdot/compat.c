/* qdot compat: the reference project's linear toy model, kept exactly (its
 * energies are linear in the occupations, so it has no honeycomb; it exists
 * so that our agent can be compared with the reference's on its own terms).
 * Formulas: doc/qdot.md section 6 (from qdot/simulator/cim.py of the
 * reference project, described in the research notes). Built with -ffast-math
 * so that exp vectorises; every operand is finite. */
#include <math.h>
#include <stdbool.h>

#include "fastsci/core/error.h"
#include "fastsci/qdot.h"

/* "no value yet" (this file is built with -ffast-math: no infinities) */
#define BIG 1e300

void fsci_qdot_toy_default(fsci_qdot_toy *p)
{
    p->e_c1 = 0.50;
    p->e_c2 = 0.55;
    p->t_c = 0.05;
    p->temp = 0.015;
    p->lever = 1.0;
    p->noise = 0.01;
}

/* E(n1, n2) = E_c1 n1 + E_c2 n2 + lever (v1 n1 + v2 n2), minus t_c for (1, 1). */
static double toy_energy(const fsci_qdot_toy *p, double v1, double v2, int n1, int n2)
{
    double e = (p->e_c1 * n1 + p->e_c2 * n2) + p->lever * (v1 * n1 + v2 * n2);
    if (n1 == 1 && n2 == 1) e -= p->t_c;
    return e;
}

double fsci_qdot_toy_current(const fsci_qdot_toy *p, double v1, double v2, double noise_draw)
{
    /* the two lowest of the 9 energies over {0,1,2}^2 */
    double lo = BIG, lo2 = BIG;
    for (int n1 = 0; n1 < 3; n1++) {
        for (int n2 = 0; n2 < 3; n2++) {
            double e = toy_energy(p, v1, v2, n1, n2);
            if (e < lo) {
                lo2 = lo;
                lo = e;
            } else if (e < lo2) {
                lo2 = e;
            }
        }
    }
    double gap = lo2 - lo, b = fmax(p->t_c, p->temp);
    double g = b / (gap * gap + b * b);
    if (p->noise > 0) g += p->noise * noise_draw;
    return g > 0 ? g : 0.0;
}

double fsci_qdot_toy_current_for_state(const fsci_qdot_toy *p, double v1, double v2, int n1, int n2)
{
    double et = toy_energy(p, v1, v2, n1, n2);
    double emin = BIG;
    for (int m1 = 0; m1 < 3; m1++)
        for (int m2 = 0; m2 < 3; m2++) emin = fmin(emin, toy_energy(p, v1, v2, m1, m2));
    double de = fmax(0.0, et - emin);
    double boltz = exp(-de / fmax(p->temp, 0.01));
    static const int dn[4][2] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}};
    double gap = BIG;
    for (int k = 0; k < 4; k++) {
        int m1 = n1 + dn[k][0], m2 = n2 + dn[k][1];
        if (m1 < 0 || m1 > 2 || m2 < 0 || m2 > 2) continue;
        gap = fmin(gap, fabs(toy_energy(p, v1, v2, m1, m2) - et));
    }
    if (gap >= BIG) return 0.0;
    double b = fmax(p->t_c, p->temp);
    double g = b / (gap * gap + b * b) * boltz;
    return g > 0 ? g : 0.0;
}

/* current_for_state of one state over n pixels. k = 0 is the state, 1..4 its
 * neighbours (+e1, -e1, +e2, -e2): c[k] = E_c1 m1 + E_c2 m2, m1[k], m2[k] as
 * doubles and tc[k] the tunnel term (loop invariants, which GCC 12 vectorises
 * only when they are not integers); f[k] pushes the gap of an out-of-range
 * neighbour beyond any real one. */
static void toy_state_row(const fsci_qdot_toy *pp, const double *restrict v1, const double *restrict v2,
                          int n, const double *restrict c, const double *restrict m1,
                          const double *restrict m2, const double *restrict tc, const double *restrict f,
                          const double *restrict emin, double *restrict o)
{
    const double lev = pp->lever, b = fmax(pp->t_c, pp->temp), teff = fmax(pp->temp, 0.01);
    const double c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3], c4 = c[4];
    const double a0 = m1[0], a1 = m1[1], a2 = m1[2], a3 = m1[3], a4 = m1[4];
    const double b0 = m2[0], b1 = m2[1], b2 = m2[2], b3 = m2[3], b4 = m2[4];
    const double t0 = tc[0], t1 = tc[1], t2 = tc[2], t3 = tc[3], t4 = tc[4];
    const double f1 = f[1], f2 = f[2], f3 = f[3], f4 = f[4];
#pragma omp simd
    for (int i = 0; i < n; i++) {
        const double x = v1[i], y = v2[i];
        double et = (c0 + lev * (x * a0 + y * b0)) - t0;
        double boltz = exp(-fmax(0.0, et - emin[i]) / teff);
        double g1 = fabs((c1 + lev * (x * a1 + y * b1)) - t1 - et) + f1;
        double g2 = fabs((c2 + lev * (x * a2 + y * b2)) - t2 - et) + f2;
        double g3 = fabs((c3 + lev * (x * a3 + y * b3)) - t3 - et) + f3;
        double g4 = fabs((c4 + lev * (x * a4 + y * b4)) - t4 - et) + f4;
        double gap = fmin(fmin(g1, g2), fmin(g3, g4));
        double g = b / (gap * gap + b * b) * boltz;
        o[i] = g > 0 ? g : 0.0;
    }
}

/* Vectorised over the pixels: the 9 energies' minimum once per pixel, then
 * toy_state_row per state. */
static void toy_block(const fsci_qdot_toy *p, const double *restrict v1, const double *restrict v2, int n,
                      const int *states, int ns, double *restrict emin, double *restrict out, int64_t stride)
{
    for (int i = 0; i < n; i++) {
        double m = BIG;
        for (int a1 = 0; a1 < 3; a1++)
            for (int a2 = 0; a2 < 3; a2++) m = fmin(m, toy_energy(p, v1[i], v2[i], a1, a2));
        emin[i] = m;
    }
    static const int dn[5][2] = {{0, 0}, {1, 0}, {-1, 0}, {0, 1}, {0, -1}};
    for (int s = 0; s < ns; s++) {
        double c[5], m1[5], m2[5], tc[5], f[5];
        int k = 0;
        for (int j = 0; j < 5; j++) {
            const int a1 = states[2 * s] + dn[j][0], a2 = states[2 * s + 1] + dn[j][1];
            const bool ok = a1 >= 0 && a1 <= 2 && a2 >= 0 && a2 <= 2;
            k += j > 0 && ok;
            c[j] = p->e_c1 * a1 + p->e_c2 * a2;
            m1[j] = a1;
            m2[j] = a2;
            tc[j] = (a1 == 1 && a2 == 1) ? p->t_c : 0.0;
            f[j] = ok ? 0.0 : BIG;
        }
        double *restrict o = out + (int64_t)s * stride;
        if (k == 0)
            for (int i = 0; i < n; i++) o[i] = 0.0;
        else
            toy_state_row(p, v1, v2, n, c, m1, m2, tc, f, emin, o);
    }
}

int fsci_qdot_toy_predict(const fsci_qdot_toy *p, const double *v1, const double *v2, int64_t np,
                          const int *states, int ns, double *out)
{
    FSCI_CHECK(p && v1 && v2 && states && out && np >= 0 && ns >= 0, FSCI_EINVAL, "qdot toy: bad argument");
    enum { TB = 256 };
    const int64_t nb = (np + TB - 1) / TB;
#pragma omp parallel for schedule(static) if (np * ns > 65536)
    for (int64_t k = 0; k < nb; k++) {
        double emin[TB];
        const int64_t i0 = k * TB;
        const int n = (int)(np - i0 < TB ? np - i0 : TB);
        toy_block(p, v1 + i0, v2 + i0, n, states, ns, emin, out + i0, np);
    }
    return FSCI_OK;
}
