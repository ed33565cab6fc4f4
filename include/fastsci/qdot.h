/* fastsci: the qdot engine, gate-defined quantum dots.
 *
 * Simulator: the constant-interaction model of N dots under G gates.
 * Capacitances are in aF, gate voltages in mV, energies in meV:
 *
 *     E(n, V) = (e^2/2) n^T Ccc^-1 n - e n^T Ccc^-1 Ccv V        (doc/qdot.md section 2)
 *
 * with Ccc the dots' Maxwell capacitance matrix (symmetric positive definite:
 * the total capacitance of each dot on the diagonal, minus the mutual
 * capacitance off it) and Ccv the dot-to-gate capacitances (non-negative).
 * e^2/(1 aF) = FSCI_QDOT_E2_AF meV, and e times 1 mV is 1 meV, so the lever
 * arms alpha = Ccc^-1 Ccv are dimensionless (meV per mV).
 *
 * Occupations run over 0..nmax per dot, (nmax+1)^N states searched by brute
 * force with the per-state constants precomputed. kT > 0 gives the thermal
 * (Boltzmann) occupation over the states within 30 kT of the lowest; kT = 0
 * the ground state. Signals: a charge sensor (a sensor dot whose potential the
 * gates and the dots' charges shift, read on the flank of a Lorentzian
 * Coulomb peak), a transport current near triple points, or the occupations.
 * Noise (white, 1/f, random telegraph, sensor jumps) is drawn from the Philox
 * generator keyed by (seed, stream, pixel), so a scan does not depend on the
 * thread count.
 *
 * Thread safety: a device is immutable after creation; scans may run
 * concurrently on one device. */
#ifndef FASTSCI_QDOT_H
#define FASTSCI_QDOT_H

#include <stdbool.h>
#include <stdint.h>

#include "fastsci/core/defs.h"

#define FSCI_QDOT_MAX_DOTS 6
#define FSCI_QDOT_MAX_GATES 8
#define FSCI_QDOT_MAX_STATES 4096
/* e^2 / (1 aF) in meV (CODATA 2018 e). */
#define FSCI_QDOT_E2_AF 160.21766340

typedef enum fsci_qdot_signal {
    FSCI_QDOT_SENSOR = 0, /* charge-sensor conductance, 0..1 */
    FSCI_QDOT_CURRENT,    /* transport current through the dots in series, 0..1 (triple points) */
    FSCI_QDOT_CHARGE      /* total occupation sum_i <n_i> */
} fsci_qdot_signal;

/* Noise on a scan, in signal units unless stated. All zero: none. */
typedef struct fsci_qdot_noise {
    double white;          /* standard deviation of white Gaussian noise */
    double pink;           /* standard deviation of 1/f noise along the scan order */
    double telegraph;      /* amplitude of a two-state random telegraph signal */
    double telegraph_rate; /* its switching probability per pixel, (0, 1) */
    double jump_rate;      /* probability per pixel of a sensor jump */
    double jump_size;      /* standard deviation of a jump of the sensor potential, meV */
} fsci_qdot_noise;

typedef struct fsci_qdot_params {
    int ndots;                                             /* 1..FSCI_QDOT_MAX_DOTS */
    int ngates;                                            /* 1..FSCI_QDOT_MAX_GATES */
    double c_cc[FSCI_QDOT_MAX_DOTS * FSCI_QDOT_MAX_DOTS];  /* ndots x ndots, row-major, aF */
    double c_cv[FSCI_QDOT_MAX_DOTS * FSCI_QDOT_MAX_GATES]; /* ndots x ngates, row-major, aF */
    int nmax;                                              /* occupations 0..nmax per dot */
    double kT;                                             /* meV; 0: ground state */
    /* charge sensor */
    double sensor_lever[FSCI_QDOT_MAX_GATES];   /* meV per mV of each gate on the sensor potential */
    double sensor_coupling[FSCI_QDOT_MAX_DOTS]; /* meV the sensor potential drops per electron on dot i */
    double sensor_offset;                       /* sensor potential at V = 0, meV */
    double sensor_width;                        /* Lorentzian half width, meV (> 0) */
    double sensor_period; /* spacing of the sensor's Coulomb peaks, meV (0: a single peak) */
    fsci_qdot_noise noise;
} fsci_qdot_params;

/* The double-dot preset of doc/qdot.md section 3 (two dots, two plunger
 * gates with 10 % cross capacitance, Cm = 0.2 C, nmax 3, kT 0.01 meV, a sensor
 * on the flank of its peak, no noise). */
FSCI_API void fsci_qdot_params_dqd(fsci_qdot_params *p);

typedef struct fsci_qdot_device fsci_qdot_device;

/* Validate and precompute. FSCI_EINVAL naming the field for sizes out of
 * range, NaN, a non-symmetric Ccc, negative Ccv, kT < 0, a non-positive
 * sensor width, noise out of range; FSCI_ERANGE for a Ccc that is not
 * positive definite. */
FSCI_API int fsci_qdot_device_create(const fsci_qdot_params *p, fsci_qdot_device **out) FSCI_WUR;
FSCI_API void fsci_qdot_device_destroy(fsci_qdot_device **dev);
FSCI_API const fsci_qdot_params *fsci_qdot_device_params(const fsci_qdot_device *dev);
FSCI_API int fsci_qdot_device_nstates(const fsci_qdot_device *dev);

/* The lever-arm matrix alpha = Ccc^-1 Ccv (ndots x ngates, row-major) and
 * the charging matrix e^2 Ccc^-1 (ndots x ndots, meV). Either may be NULL. */
FSCI_API void fsci_qdot_device_matrices(const fsci_qdot_device *dev, double *alpha, double *echarge);

/* E(n, V) in meV for occupations n[ndots] and voltages v[ngates]. */
FSCI_API double fsci_qdot_energy(const fsci_qdot_device *dev, const int *n, const double *v);

/* The ground state at v (ties go to the lowest state index, n_0 slowest):
 * n[ndots] and its energy. */
FSCI_API double fsci_qdot_ground_state(const fsci_qdot_device *dev, const double *v, int *n);

/* Thermal mean occupations nbar[ndots] at v (the ground state when kT = 0). */
FSCI_API void fsci_qdot_occupation(const fsci_qdot_device *dev, const double *v, double *nbar);

/* A scan over two gates: gate gx along the fast axis (nx points from x0 to
 * x1 inclusive), gate gy along the slow axis (ny points from y0 to y1), the
 * other gates at base[ngates] (the entries for gx and gy are ignored). nx or
 * ny may be 1 (a line). */
typedef struct fsci_qdot_scan {
    int gx, gy;
    double x0, x1, y0, y1;
    int64_t nx, ny;
    double base[FSCI_QDOT_MAX_GATES];
    fsci_qdot_signal signal;
    bool noise;      /* add the device's noise */
    uint64_t seed;   /* noise key */
    uint64_t stream; /* noise key: one per scan of a run */
} fsci_qdot_scan;

/* out[ny * nx] (row y, column x) gets the signal; states (may be NULL) the
 * ground-state index of each pixel (n_0 slowest). Uses the OpenMP threads;
 * the result does not depend on their number. */
FSCI_API int fsci_qdot_scan_run(const fsci_qdot_device *dev, const fsci_qdot_scan *s, double *out,
                                int32_t *states) FSCI_WUR;

/* The signal at arbitrary voltage points: v1[i], v2[i] for gates gx, gy, the
 * others at base; no noise. out[n]. */
FSCI_API int fsci_qdot_signal_points(const fsci_qdot_device *dev, fsci_qdot_signal sig, int gx, int gy,
                                     const double *base, const double *v1, const double *v2, int64_t n,
                                     double *out) FSCI_WUR;

/* Analytic triple points of a double dot (ndots = 2) in the (gx, gy) plane,
 * the other gates at base: for every (n1, n2) with n1, n2 < nmax, the electron
 * point E(n1,n2) = E(n1+1,n2) = E(n1,n2+1) and the hole point
 * E(n1+1,n2+1) = E(n1+1,n2) = E(n1,n2+1). xy[2 * k] holds (x, y) of point k,
 * kind[k] is 0 (electron) or 1 (hole); at most cap points; *count gets how
 * many. FSCI_EINVAL for ndots != 2. */
FSCI_API int fsci_qdot_triple_points(const fsci_qdot_device *dev, int gx, int gy, const double *base,
                                     double *xy, int *kind, int cap, int *count) FSCI_WUR;

/* ---- Compat: the reference project's linear toy model (doc/qdot.md section 6) ---- */

typedef struct fsci_qdot_toy {
    double e_c1, e_c2, t_c, temp, lever, noise;
} fsci_qdot_toy;

/* The reference's defaults (0.50, 0.55, 0.05, 0.015, 1.0, 0.01). */
FSCI_API void fsci_qdot_toy_default(fsci_qdot_toy *p);

/* current(): the Lorentzian in the gap between the two lowest of the 9 state
 * energies, plus noise_draw * noise, clipped at 0 (noise_draw: a standard
 * normal draw the caller supplies). */
FSCI_API double fsci_qdot_toy_current(const fsci_qdot_toy *p, double v1, double v2, double noise_draw);

/* current_for_state(): the planner's noise-free prediction for state (n1, n2). */
FSCI_API double fsci_qdot_toy_current_for_state(const fsci_qdot_toy *p, double v1, double v2, int n1, int n2);

/* out[s * np + i] = current_for_state(v1[i], v2[i], states[2s], states[2s+1])
 * for s < ns, i < np (vectorised over the pixels). */
FSCI_API int fsci_qdot_toy_predict(const fsci_qdot_toy *p, const double *v1, const double *v2, int64_t np,
                                   const int *states, int ns, double *out) FSCI_WUR;

#endif
