/* qdot: the device's precomputed tables (private). */
#ifndef FASTSCI_QDOT_IMPL_H
#define FASTSCI_QDOT_IMPL_H

#include "fastsci/qdot.h"

/* Per state s (n_0 slowest, n_{N-1} fastest, each 0..nmax):
 *   E_s(V) = c[s] - sum_g a[s * G + g] V_g,
 *   c[s] = (e^2/2) n^T Ccc^-1 n,   a[s * G + g] = (alpha^T n)_g,
 * occ[s * N + i] = n_i, q_sensor[s] = sum_i sensor_coupling_i n_i,
 * q_charge[s] = sum_i n_i. */
struct fsci_qdot_device {
    fsci_qdot_params p;
    int nstates;
    double alpha[FSCI_QDOT_MAX_DOTS * FSCI_QDOT_MAX_GATES];
    double echarge[FSCI_QDOT_MAX_DOTS * FSCI_QDOT_MAX_DOTS];
    double *c;
    double *a;
    int *occ;
    double *q_sensor;
    double *q_charge;
};

/* States are considered in the thermal sums up to this many kT above the lowest. */
#define FSCI__QDOT_KT_CUT 30.0

/* Sub-streams of a scan's noise key (stream << 3 | kind). */
enum { FSCI__QDOT_NOISE_WHITE = 0, FSCI__QDOT_NOISE_PINK, FSCI__QDOT_NOISE_TELEGRAPH, FSCI__QDOT_NOISE_JUMP };

/* Evaluate the signal for np pixels at (x[i], y[i]) of gates gx, gy, the
 * others at base; jump[i] (may be NULL) shifts the sensor potential (meV).
 * out[np]; states[np] (may be NULL) the ground-state index. Single thread,
 * no allocation (work must hold fsci__qdot_work_len(dev) doubles). */
int64_t fsci__qdot_work_len(const fsci_qdot_device *dev);
void fsci__qdot_eval(const fsci_qdot_device *dev, fsci_qdot_signal sig, int gx, int gy, const double *base,
                     const double *x, const double *y, const double *jump, int64_t np, double *out,
                     int32_t *states, double *work);

/* Return a failing status at once (functions without a fail: label). */
#define FSCI__QDOT_RET(expr)                                                                                 \
    do {                                                                                                     \
        int st_ = (expr);                                                                                    \
        if (st_ < 0) return st_;                                                                             \
    } while (0)

/* Pixels per evaluation block. */
#define FSCI__QDOT_BLOCK 256

#endif
