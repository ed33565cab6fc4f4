/* qdot compat: the reference project's linear toy model, kept exactly (its
 * energies are linear in the occupations, so it has no honeycomb; it exists
 * so that our agent can be compared with the reference's on its own terms).
 * Formulas: doc/qdot.md section 6 (from qdot/simulator/cim.py of the
 * reference project, described in the research notes). */
#include <math.h>

#include "fastsci/core/error.h"
#include "fastsci/qdot.h"

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
    double lo = HUGE_VAL, lo2 = HUGE_VAL;
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
    double emin = HUGE_VAL;
    for (int m1 = 0; m1 < 3; m1++)
        for (int m2 = 0; m2 < 3; m2++) emin = fmin(emin, toy_energy(p, v1, v2, m1, m2));
    double de = fmax(0.0, et - emin);
    double boltz = exp(-de / fmax(p->temp, 0.01));
    static const int dn[4][2] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}};
    double gap = HUGE_VAL;
    for (int k = 0; k < 4; k++) {
        int m1 = n1 + dn[k][0], m2 = n2 + dn[k][1];
        if (m1 < 0 || m1 > 2 || m2 < 0 || m2 > 2) continue;
        gap = fmin(gap, fabs(toy_energy(p, v1, v2, m1, m2) - et));
    }
    if (isinf(gap)) return 0.0;
    double b = fmax(p->t_c, p->temp);
    double g = b / (gap * gap + b * b) * boltz;
    return g > 0 ? g : 0.0;
}

int fsci_qdot_toy_predict(const fsci_qdot_toy *p, const double *v1, const double *v2, int64_t np,
                          const int *states, int ns, double *out)
{
    FSCI_CHECK(p && v1 && v2 && states && out && np >= 0 && ns >= 0, FSCI_EINVAL, "qdot toy: bad argument");
#pragma omp parallel for schedule(static) collapse(2) if (np * ns > 4096)
    for (int s = 0; s < ns; s++)
        for (int64_t i = 0; i < np; i++)
            out[(int64_t)s * np + i] =
                fsci_qdot_toy_current_for_state(p, v1[i], v2[i], states[2 * s], states[2 * s + 1]);
    return FSCI_OK;
}
