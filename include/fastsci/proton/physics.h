/* fastsci proton, physics layer (included by fastsci/proton.h).
 *
 * Physics data: stopping power and CSDA range of liquid water
 * from NIST PSTAR (ICRU Report 49, I = 75 eV), optionally Bethe-Bloch above
 * 20 MeV; the inverse E(R); energy grids uniform in residual range (one bin
 * per step of CSDA loss), in E, or in ln E; Highland scattering power and
 * Fermi-Eyges moments of a pencil beam. Units: MeV, mm of water (density 1),
 * radians; mass stopping power in MeV cm^2/g and ranges also in g/cm^2 where
 * the name says so. Formulas, constants and sources: doc/proton_physics.md. */
#ifndef FASTSCI_PROTON_PHYSICS_H
#define FASTSCI_PROTON_PHYSICS_H

#include <stdbool.h>
#include <stdint.h>

#include "fastsci/core/defs.h"

#define FSCI_PROTON_MASS_MEV 938.272                /* proton rest energy m_p c^2 (MeV) */
#define FSCI_PROTON_ELECTRON_MASS_MEV 0.51099895    /* m_e c^2 (MeV) */
#define FSCI_PROTON_BETHE_K 0.307075                /* 4 pi N_A r_e^2 m_e c^2 (MeV cm^2/mol) */
#define FSCI_PROTON_WATER_Z_OVER_A (10.0 / 18.0153) /* Z/A of H2O (mol/g): 0.55508 */
#define FSCI_PROTON_X0_WATER_MM 360.8               /* radiation length of water: 36.08 cm */
#define FSCI_PROTON_HIGHLAND_MEV 13.6               /* Highland constant (MeV) */
#define FSCI_PROTON_BETHE_SWITCH_MEV 20.0           /* Bethe models use PSTAR at and below this */
#define FSCI_PROTON_EMIN_MEV 0.001                  /* lowest energy of the PSTAR table */
#define FSCI_PROTON_EMAX_MEV 500.0                  /* highest energy of the PSTAR table */

/* Stopping-power model. PSTAR: log-log interpolation of the NIST PSTAR total
 * stopping power of liquid water (1 keV to 500 MeV). BETHE75 / BETHE78: PSTAR
 * up to 20 MeV, above it Bethe-Bloch with I = 75 eV (ICRU 49) or 78 eV
 * (ICRU 90), full T_max, no shell, Barkas, Bloch or density-effect terms. */
typedef enum fsci_proton_sp_model {
    FSCI_PROTON_SP_PSTAR = 0,
    FSCI_PROTON_SP_BETHE75 = 1,
    FSCI_PROTON_SP_BETHE78 = 2
} fsci_proton_sp_model;

/* The compiled-in PSTAR table: *nrows rows of three doubles (kinetic energy
 * in MeV, total mass stopping power in MeV cm^2/g, CSDA range in g/cm^2),
 * ascending in energy; the same numbers as data/pstar_water.tsv. Static
 * storage owned by the library; never NULL. Thread-safe. */
FSCI_API const double *fsci_proton_pstar_water(int64_t *nrows);

/* Relativistic kinematics of a proton of kinetic energy e_mev (> 0, finite):
 * *beta = v/c and *p_mev = p c (MeV). Either output may be NULL.
 * FSCI_EINVAL for e_mev <= 0, NaN or infinite. Thread-safe. */
FSCI_API int fsci_proton_kinematics(double e_mev, double *beta, double *p_mev) FSCI_WUR;

/* Bethe-Bloch mass stopping power of water (MeV cm^2/g):
 * S = K (Z/A) / beta^2 [ 1/2 ln(2 m_e c^2 beta^2 gamma^2 T_max / I^2) - beta^2 ],
 * T_max = 2 m_e c^2 beta^2 gamma^2 / (1 + 2 gamma m_e/m_p + (m_e/m_p)^2),
 * with the constants above and mean excitation energy i_ev (eV). Meaningful
 * above a few MeV (no shell correction: +2.6 % at 2 MeV, +0.2 % at 20 MeV
 * against PSTAR for I = 75 eV). FSCI_EINVAL for non-positive or non-finite
 * inputs; FSCI_ERANGE if the formula gives S <= 0 (far below 1 MeV).
 * Thread-safe. */
FSCI_API int fsci_proton_bethe(double e_mev, double i_ev, double *s_mass) FSCI_WUR;

/* Mass stopping power of water (MeV cm^2/g) from `model` evaluated directly
 * (binary search in the PSTAR table; no fsci_proton_physics object needed).
 * e_mev in [FSCI_PROTON_EMIN_MEV, FSCI_PROTON_EMAX_MEV]. FSCI_EINVAL for a
 * non-positive or NaN energy or an unknown model; FSCI_ERANGE outside the
 * table (the message names the value and the limit). Thread-safe. */
FSCI_API int fsci_proton_stopping_power(double e_mev, fsci_proton_sp_model model, double *s_mass) FSCI_WUR;

/* Highland scattering power of water without the logarithmic term:
 * T(E) = (13.6 MeV / (beta c p))^2 / X0 with X0 = 360.8 mm, in rad^2/mm, for
 * the projected (in-plane) angle: no sqrt(2) factor. Additive over steps: the
 * variance of the in-plane angle after a path s at fixed E is T s. Same
 * energy checks as fsci_proton_kinematics. Thread-safe. */
FSCI_API int fsci_proton_scattering_power(double e_mev, double *t_rad2_per_mm) FSCI_WUR;

/* Bohr energy-loss straggling of water: the growth of the energy variance per
 * unit path, d sigma_E^2 / dz = 0.1569 (Z/A) rho (1 - beta^2/2) / (1 - beta^2)
 * MeV^2/cm (Z/A = 0.5551, rho = 1 g/cm^3; the relativistic Bohr form, ICRU
 * Report 49), in MeV^2/mm. Same energy checks as fsci_proton_kinematics.
 * Thread-safe. */
FSCI_API int fsci_proton_bohr_straggling(double e_mev, double *var_mev2_per_mm) FSCI_WUR;

/* Per-step Highland projected rms angle (rad) for a path s_mm (> 0) in water
 * at fixed energy: theta0 = 13.6/(beta c p) sqrt(s/X0) [1 + 0.038 ln(s/X0)]
 * with log_term, without the bracket otherwise (theta0^2 = T s). With the log
 * term the formula is not additive over steps: summing per-step variances of
 * 1 mm steps under-scatters a pencil beam by about 20 %; use
 * fsci_proton_physics_theta0_sq for the accumulated angle. FSCI_EINVAL for
 * bad energies or s_mm <= 0. Thread-safe. */
FSCI_API int fsci_proton_highland(double e_mev, double s_mm, bool log_term, double *theta0_rad) FSCI_WUR;

/* Options of the physics object; zero-initialised means the defaults. */
typedef struct fsci_proton_physics_opts {
    fsci_proton_sp_model sp_model; /* default FSCI_PROTON_SP_PSTAR */
    int nodes_per_decade;          /* fine-table density in ln E; 0: 200; 10..100000 */
} fsci_proton_physics_opts;

/* Fine stopping-power and range tables for one model, built once. */
typedef struct fsci_proton_physics fsci_proton_physics;

/* Build the tables of model o->sp_model (o may be NULL: defaults). Nodes are
 * the PSTAR energies with each interval split evenly in ln E to about
 * nodes_per_decade per decade. The CSDA range starts at the table's lowest
 * energy with the table's CSDA range there (6.319e-6 g/cm^2 at 1 keV) and
 * adds int dE / S per fine interval in ln E: in closed form on PSTAR's
 * power-law pieces, by 5-point Gauss-Legendre on Bethe pieces (both exact to
 * about 1e-12 at the default density). Between nodes R(E) is the
 * cubic Hermite interpolant in ln E with the exact slopes E / S, checked
 * monotone. FSCI_EINVAL for bad options, FSCI_ENOMEM. *out owns its memory;
 * free with fsci_proton_physics_destroy. */
FSCI_API int fsci_proton_physics_create(const fsci_proton_physics_opts *o,
                                        fsci_proton_physics **out) FSCI_WUR;

/* Release; accepts NULL and *ph == NULL, clears *ph. */
FSCI_API void fsci_proton_physics_destroy(fsci_proton_physics **ph);

/* The model the object was built for (ph must not be NULL). */
FSCI_API fsci_proton_sp_model fsci_proton_physics_model(const fsci_proton_physics *ph);

/* Validity limits: energies [*e_min, *e_max] (MeV) and CSDA ranges
 * [*r_min_mm, *r_max_mm] (mm of water) accepted by the queries below. ph must
 * not be NULL; any output may be NULL. */
FSCI_API void fsci_proton_physics_limits(const fsci_proton_physics *ph, double *e_min, double *e_max,
                                         double *r_min_mm, double *r_max_mm);

/* Mass stopping power S(E) in MeV cm^2/g. For PSTAR it equals the log-log
 * interpolation of the PSTAR table; for the Bethe models, Bethe-Bloch above
 * 20 MeV (S jumps by +0.25 % (I = 75) or -0.37 % (I = 78) at 20 MeV).
 * O(log n). FSCI_EINVAL for a non-positive or NaN energy, FSCI_ERANGE outside
 * the limits (the message names the value and the limit). Thread-safe on a
 * const object; allocates nothing. */
FSCI_API int fsci_proton_physics_stop(const fsci_proton_physics *ph, double e_mev, double *s_mass) FSCI_WUR;

/* Linear stopping power of water at density 1 in MeV/mm (= S / 10). As
 * fsci_proton_physics_stop otherwise. */
FSCI_API int fsci_proton_physics_stop_mm(const fsci_proton_physics *ph, double e_mev,
                                         double *s_mev_per_mm) FSCI_WUR;

/* CSDA range R(E) in mm of water (density 1; g/cm^2 = mm / 10). O(log n).
 * Errors as fsci_proton_physics_stop. Thread-safe on a const object. */
FSCI_API int fsci_proton_physics_range_mm(const fsci_proton_physics *ph, double e_mev, double *r_mm) FSCI_WUR;

/* Inverse of fsci_proton_physics_range_mm: the energy E (MeV) with
 * R(E) = r_mm, by a safeguarded Newton solve of the same cubic, so that
 * E(R(E)) = E to about 1e-13 relative. O(log n). FSCI_EINVAL for a negative
 * or NaN range, FSCI_ERANGE outside [r_min_mm, r_max_mm]. Thread-safe on a
 * const object. */
FSCI_API int fsci_proton_physics_energy_mm(const fsci_proton_physics *ph, double r_mm,
                                           double *e_mev) FSCI_WUR;

/* Fermi-Eyges moments of a zero-width, zero-divergence pencil beam of energy
 * e0_mev entering water, at depth z (mm) along the CSDA path:
 * A_i = int_0^z z'^i T(E(z')) dz' with E(z') = E(R(e0) - z') and T from
 * fsci_proton_scattering_power. With `generalised` each moment is multiplied
 * by [1 + 0.038 ln(z/X0)]^2 (the generalised Highland correction at depth z;
 * `factor` records it, 1 otherwise). sigma_x^2 = A0 z^2 - 2 A1 z + A2 (computed
 * as int (z - z')^2 T dz' to avoid cancellation) and theta0^2 = A0, for the
 * projected (in-plane) angle and position. */
typedef struct fsci_proton_fe {
    double a0;      /* rad^2 */
    double a1;      /* rad^2 mm */
    double a2;      /* rad^2 mm^2 */
    double factor;  /* generalised-Highland factor applied to a0, a1, a2 */
    double theta0;  /* rms projected angle sqrt(a0), rad */
    double sigma_x; /* rms lateral position, mm */
} fsci_proton_fe;

/* Fill *out (see fsci_proton_fe) for depth z_mm in [0, R(e0) - r_min]; z = 0
 * gives zeros. Composite 5-point Gauss-Legendre over the fine table in ln E:
 * relative accuracy about 1e-9. FSCI_EINVAL / FSCI_ERANGE for bad e0_mev or
 * z_mm. Thread-safe on a const object; allocates nothing. */
FSCI_API int fsci_proton_physics_fermi_eyges(const fsci_proton_physics *ph, double e0_mev, double z_mm,
                                             bool generalised, fsci_proton_fe *out) FSCI_WUR;

/* Accumulated projected angle variance of a pencil beam of energy e0_mev
 * after a path s_mm in water, for reference: with `generalised`, the
 * generalised Highland form theta0^2(s) = [1 + 0.038 ln(s/X0)]^2
 * int_0^s T(E(s')) ds'; without, the plain integral. Same as
 * fsci_proton_physics_fermi_eyges(...).a0. Errors as that function. */
FSCI_API int fsci_proton_physics_theta0_sq(const fsci_proton_physics *ph, double e0_mev, double s_mm,
                                           bool generalised, double *theta0_sq) FSCI_WUR;

/* Range straggling of a proton of energy e0_mev stopping in water (Bohr):
 * sigma_R^2 = int_{e_min}^{e0} (d sigma_E^2/dz) / S(E)^3 dE (S linear, MeV/mm;
 * e_min the physics object's lowest energy), by 5-point Gauss-Legendre on each
 * interval of the fine table in ln E. *sigma_mm in mm (e.g. 1.69 mm at
 * 150 MeV). Errors as fsci_proton_physics_range_mm. Thread-safe on a const
 * object; allocates nothing. */
FSCI_API int fsci_proton_physics_range_straggling(const fsci_proton_physics *ph, double e0_mev,
                                                  double *sigma_mm) FSCI_WUR;

/* Analytic depth dose of a broad beam of energy e0_mev (Gaussian energy
 * spread sigma_e_mev, 0 for none) in water: the CSDA Bragg curve of this
 * physics object with fluence loss exp(-mu_per_mm z) to nuclear interactions,
 * a fraction `local` of the removed protons' energy deposited where they are
 * removed, mixed over Gaussian ranges of variance sigma_R^2 (range
 * straggling, fsci_proton_physics_range_straggling) + (sigma_e / S(e0))^2
 * (Bortfeld 1997; doc/proton_physics.md, "Bragg peak: analytic reference").
 * out[k] is the average over depth row [k dz, (k + 1) dz], MeV/mm per
 * primary, the units of fsci_proton_state_depth_dose. FSCI_EINVAL for a NULL
 * argument or a parameter out of range (named in the message), FSCI_ERANGE
 * for an energy outside the physics' limits, FSCI_ENOMEM. Thread-safe on a
 * const object. */
FSCI_API int fsci_proton_physics_bragg_curve(const fsci_proton_physics *ph, double e0_mev, double sigma_e_mev,
                                             double mu_per_mm, double local, int64_t nz, double dz_mm,
                                             double *out) FSCI_WUR;

/* Energy grids. RANGE: edges uniform in CSDA range, R_k = R(e_min) + k ds
 * with n = ceil((R(e_max) - R(e_min)) / ds) (or, with anchor_top,
 * R_k = R(e_max) - (n - k) ds with n = floor(...)), E_k = E(R_k): a CSDA
 * step of ds in water moves energy edge k to edge k - 1 exactly. UNIFORM:
 * n equal bins in E. LOG: n equal bins in ln E. */
typedef enum fsci_proton_egrid_kind {
    FSCI_PROTON_EGRID_RANGE = 0,
    FSCI_PROTON_EGRID_UNIFORM = 1,
    FSCI_PROTON_EGRID_LOG = 2
} fsci_proton_egrid_kind;

typedef struct fsci_proton_egrid_opts {
    fsci_proton_egrid_kind kind;
    double e_min_mev; /* lowest edge (RANGE with anchor_top: the lowest edge at or
                         above e_min, less than ds of range above it) */
    double e_max_mev; /* highest edge (RANGE without anchor_top: the lowest edge at or
                         above e_max, less than ds of range above it) */
    double ds_mm;     /* RANGE: bin width in CSDA range = transport step length (mm) */
    int64_t n;        /* UNIFORM, LOG: number of bins */
    bool anchor_top;  /* RANGE: put an edge exactly at e_max instead of at e_min */
} fsci_proton_egrid_opts;

/* An energy grid of n bins (read-only for users). Bin k spans
 * [edge[k], edge[k+1]] (MeV, ascending). The bin's VALUE, the energy a
 * transport code assigns to it, is its UPPER EDGE edge[k+1]: on a RANGE grid
 * one CSDA step of ds takes value edge[k+1] to edge[k], the value of bin k-1,
 * depositing edge[k+1] - edge[k]; a particle in bin 0 steps to edge[0], the
 * cutoff. centre[k] is for display and binning: the energy at mid-bin in
 * range (RANGE), the arithmetic (UNIFORM) or geometric (LOG) mean of the edges.
 * edge_range[k] = R(edge[k]) in mm, for every kind (on RANGE grids
 * R_0 + k ds exactly as computed, not re-evaluated). */
typedef struct fsci_proton_egrid {
    fsci_proton_egrid_kind kind;
    int64_t n;          /* bins */
    double ds_mm;       /* RANGE: ds; otherwise 0 */
    double *edge;       /* [n + 1] MeV */
    double *edge_range; /* [n + 1] mm */
    double *centre;     /* [n] MeV */
} fsci_proton_egrid;

/* Build a grid for the model of ph. Requires FSCI_PROTON_EMIN_MEV <= e_min <
 * e_max <= FSCI_PROTON_EMAX_MEV; RANGE: 0 < ds_mm and at most 1e8 bins; the
 * top edge must stay within the table and, with anchor_top, ds must not exceed
 * R(e_max) - R(e_min) (FSCI_ERANGE otherwise);
 * UNIFORM / LOG: 1 <= n <= 1e8. FSCI_EINVAL for bad options, FSCI_ENOMEM.
 * *out owns its arrays; free with fsci_proton_egrid_destroy. */
FSCI_API int fsci_proton_egrid_create(const fsci_proton_physics *ph, const fsci_proton_egrid_opts *o,
                                      fsci_proton_egrid **out) FSCI_WUR;

/* Release; accepts NULL and *g == NULL, clears *g. */
FSCI_API void fsci_proton_egrid_destroy(fsci_proton_egrid **g);

#endif
