/* fastsci proton: deterministic 2-D proton transport in water.
 *
 * Physics data (this section): stopping power and CSDA range of liquid water
 * from NIST PSTAR (ICRU Report 49, I = 75 eV), optionally Bethe-Bloch above
 * 20 MeV; the inverse E(R); energy grids uniform in residual range (one bin
 * per step of CSDA loss), in E, or in ln E; Highland scattering power and
 * Fermi-Eyges moments of a pencil beam. Units: MeV, mm of water (density 1),
 * radians; mass stopping power in MeV cm^2/g and ranges also in g/cm^2 where
 * the name says so. Formulas, constants and sources: doc/proton_physics.md. */
#ifndef FASTSCI_PROTON_H
#define FASTSCI_PROTON_H

#include <stdbool.h>
#include <stdint.h>

#include "fastsci/core/defs.h"

/* ---- physics data ---- */

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

/* ---- transport ---- */

/* Deterministic transport of the phase-space density psi[E][theta][z][x]
 * (float32, x fastest) through water or a 2-D material map, by operator
 * splitting over a common path-length step ds: every step applies angular
 * scattering A_theta, continuous energy loss A_E (with nuclear removal) and
 * spatial streaming A_stream. Equations, choices and measured accuracy:
 * doc/proton.md.
 *
 * Coordinates: x lateral, centred on 0, cell centres x_i = (i + 0.5 - nx/2) dx;
 * z depth from the surface z = 0, cell centres z_k = (k + 0.5) dz. The angle
 * theta is measured from +z towards +x. Beams enter through the surface into
 * the first row of cells. Dose arrays are (nz, nx), row-major (x fastest). All
 * results are per primary: divided by the total weight the beams injected.
 *
 * Usage: fill fsci_proton_opts (fsci_proton_opts_default first), build one
 * plan (all tables; nothing is allocated afterwards), create one or more
 * states from it, add beams, run, read the results:
 *     fsci_proton_opts o; fsci_proton_opts_default(&o);  o.e_max_mev = 150;
 *     fsci_proton_plan *p; fsci_proton_plan_create(&o, NULL, &p);
 *     fsci_proton_state *s; fsci_proton_state_create(p, &s);
 *     fsci_proton_beam b; fsci_proton_beam_default(&b); b.energy_mev = 150;
 *     fsci_proton_state_add_beam(s, &b);  fsci_proton_run(p, s, 0, NULL);
 *     fsci_proton_state_depth_dose(s, dd);  fsci_proton_analyze(dd, nz, dz, &m);
 * A plan is immutable and may be shared by states on several threads; one
 * state must be used by one thread at a time. */

/* Boundary condition of the angular grid. ABSORB: a forward cone
 * [-theta_max, theta_max]; weight scattered beyond it is removed and counted
 * as `rejected`. PERIODIC: the full circle [-180, 180) degrees. */
typedef enum fsci_proton_theta_bc {
    FSCI_PROTON_THETA_ABSORB = 0,
    FSCI_PROTON_THETA_PERIODIC = 1
} fsci_proton_theta_bc;

/* Streaming scheme. BILINEAR: the displacement (ds sin theta, ds cos theta)
 * is constant over an (E, theta) plane, so streaming is a 4-tap bilinear
 * gather (first order: adds f (1 - f) dx^2 of lateral variance per step for a
 * fractional shift f; lateral spreads need dx <= ~0.1 mm to be within a few
 * per cent). MUSCL: conservative second-order upwind fluxes with the
 * monotonised-central limiter, one sweep in x then one in z (positive, 5x less
 * diffusive, within 1 % of Fermi-Eyges at dx = 0.5 mm for 150 MeV; about 3x
 * the streaming cost on a dense grid). */
typedef enum fsci_proton_stream_kind {
    FSCI_PROTON_STREAM_BILINEAR = 0,
    FSCI_PROTON_STREAM_MUSCL = 1
} fsci_proton_stream_kind;

/* Multiple Coulomb scattering. PLAIN: per step the angular variance grows by
 * T(E) ds (fsci_proton_scattering_power, relative scattering power of the
 * cell applied). GENERALISED: the accumulated variance follows the
 * generalised Highland form [1 + 0.038 ln(s/X0)]^2 int T ds' of the path s
 * travelled so far (every particle has travelled the same path s = steps ds),
 * so each step adds the increment of that product; RANGE grids only. */
typedef enum fsci_proton_mcs { FSCI_PROTON_MCS_PLAIN = 0, FSCI_PROTON_MCS_GENERALISED = 1 } fsci_proton_mcs;

/* Every parameter of a transport plan. Set with fsci_proton_opts_default, then
 * change fields. Lengths in mm, energies in MeV, angles in degrees. */
typedef struct fsci_proton_opts {
    int64_t nx;                     /* lateral cells (default 80) */
    int64_t nz;                     /* depth cells (default 200) */
    double dx_mm;                   /* lateral cell size (1) */
    double dz_mm;                   /* depth cell size (1) */
    int64_t ntheta;                 /* angle bins (121); odd puts a bin centre at 0 */
    double theta_max_deg;           /* ABSORB: half-width of the cone, outer bin edge (30.25:
                                       0.5-degree bins centred on -30..30); PERIODIC: ignored */
    fsci_proton_theta_bc theta_bc;  /* ABSORB */
    fsci_proton_egrid_kind egrid;   /* RANGE (residual-range grid, bin width = ds) */
    double e_min_mev;               /* lowest grid edge = cutoff energy (1 MeV: 0.025 mm of
                                       residual range); RANGE grids are anchored here */
    double e_max_mev;               /* highest energy (230); RANGE grids: the top edge is the
                                       first edge at or above it */
    int64_t ne;                     /* UNIFORM / LOG grids: number of bins (200) */
    fsci_proton_sp_model sp_model;  /* stopping power (PSTAR) */
    double ds_mm;                   /* step length; 0: min(dx, dz) (default 0) */
    int64_t e_window;               /* energy bins held in memory (a ring over the occupied
                                       bins); 0: all bins if dense or not RANGE, else
                                       min(ne, 32); a run that needs more fails with FSCI_ERANGE */
    fsci_proton_mcs mcs;            /* PLAIN */
    int64_t kernel_half_max;        /* widest scattering kernel: 2 h + 1 taps, h <= this (24) */
    bool nuclear;                   /* nuclear removal of primaries (true) */
    double nuclear_mu_per_mm;       /* removal rate in water, 1/mm (0.0012 = 1.2 %/cm) */
    double nuclear_local;           /* fraction of a removed proton's energy deposited locally (0.6) */
    fsci_proton_stream_kind stream; /* BILINEAR */
    bool dense;                     /* process every cell (no bounding boxes); for benchmarks */
    double prune;                   /* values below prune x (injected weight) are set to 0 and
                                       counted as `pruned` (1e-10; 0 disables) */
    int nthreads;                   /* 0: fsci_parallel_threads() */
    bool progress;                  /* report progress in fsci_proton_run (false) */
} fsci_proton_opts;

/* Fill *o with the defaults above. o must not be NULL. */
FSCI_API void fsci_proton_opts_default(fsci_proton_opts *o);

/* A 2-D material map (caller-owned arrays, read only during
 * fsci_proton_plan_create, which copies what it needs). Each array is
 * (nz, nx) float64, row-major, and must match the plan's nz and nx. */
typedef struct fsci_proton_materials {
    int64_t nz, nx;
    const double *rsp;     /* relative (to water) stopping power, in [0, 10]; required */
    const double *rscat;   /* relative scattering power T_m / T_water, in [0, 100];
                              NULL: 1 everywhere */
    const double *density; /* mass density in g/cm^3, in (0, 25]: scales nuclear removal
                              and converts MeV to Gy; NULL: 1 everywhere */
} fsci_proton_materials;

/* Built-in slab phantoms: water with a slab between depths z1 and z2.
 * BONE: rsp 1.6, rscat 2.2, density 1.85 g/cm^3. LUNG: rsp 0.3, rscat 0.3,
 * density 0.3 g/cm^3 (see doc/proton.md for the sources). WATER: no slab. */
typedef enum fsci_proton_slab {
    FSCI_PROTON_SLAB_WATER = 0,
    FSCI_PROTON_SLAB_BONE = 1,
    FSCI_PROTON_SLAB_LUNG = 2
} fsci_proton_slab;

/* Fill rsp, rscat and density (each nz*nx doubles, caller-owned, for the grid
 * of *o) with water and, in the rows whose centre lies in [z1_mm, z2_mm), the
 * slab material. FSCI_EINVAL for NULL arrays, a bad kind, bad grid sizes or
 * z1 > z2 / NaN. Thread-safe. */
FSCI_API int fsci_proton_slab_fill(const fsci_proton_opts *o, fsci_proton_slab kind, double z1_mm,
                                   double z2_mm, double *rsp, double *rscat, double *density) FSCI_WUR;

/* Immutable tables of one transport problem: grids, scattering kernels per
 * energy bin and material class, streaming stencils per angle, energy
 * transfer tables, material classes. */
typedef struct fsci_proton_plan fsci_proton_plan;

/* Validate *o (and *m if not NULL; NULL means water everywhere) and build the
 * plan. Every bad value is reported as one message naming the field and the
 * value (FSCI_EINVAL; FSCI_ERANGE for energies outside the stopping-power
 * table), e.g. "opts.nx = 0: must be in [1, 1000000]" or "materials: shape
 * (10, 40) does not match the grid (nz, nx) = (40, 40)". FSCI_ENOMEM. *out
 * owns everything; free with fsci_proton_plan_destroy. Not thread-safe with
 * respect to fsci_profile_register (registers its events on first use). */
FSCI_API int fsci_proton_plan_create(const fsci_proton_opts *o, const fsci_proton_materials *m,
                                     fsci_proton_plan **out) FSCI_WUR;

/* Release; accepts NULL and *p == NULL, clears *p. States created from the
 * plan must be destroyed first. */
FSCI_API void fsci_proton_plan_destroy(fsci_proton_plan **p);

/* What a plan resolved. */
typedef struct fsci_proton_plan_info {
    int64_t ne, ntheta, nz, nx; /* grid */
    int64_t nwindow;            /* energy bins held in memory */
    int64_t nclass;             /* distinct (rsp, rscat, density) materials */
    double ds_mm;               /* step length */
    double dtheta_rad;          /* angle bin width */
    double e_cut_mev;           /* cutoff: the lowest grid edge */
    double e_top_mev;           /* value of the top bin (highest energy a beam may have) */
    int64_t kernel_half_max;    /* widest kernel used, h (2h + 1 taps) */
    int64_t kernels_clamped;    /* kernels whose variance exceeded h_max^2 (clamped) */
    double mem_bytes;           /* bytes a state will allocate */
    int nthreads;
} fsci_proton_plan_info;

/* Fill *info (p and info must not be NULL). */
FSCI_API void fsci_proton_plan_get_info(const fsci_proton_plan *p, fsci_proton_plan_info *info);

/* The plan's energy grid (owned by the plan). Bin k has the value (energy)
 * edge[k + 1]. */
FSCI_API const fsci_proton_egrid *fsci_proton_plan_egrid(const fsci_proton_plan *p);

/* Angle bin centres in radians, [ntheta] (owned by the plan). */
FSCI_API const double *fsci_proton_plan_theta(const fsci_proton_plan *p);

/* Material classes are the distinct (rsp, rscat, density) triplets of the
 * map, numbered in increasing lexicographic order (water alone: class 0).
 * fsci_proton_plan_material returns class ic's values (outputs may be NULL).
 * FSCI_EINVAL for ic out of range. */
FSCI_API int fsci_proton_plan_material(const fsci_proton_plan *p, int64_t ic, double *rsp, double *rscat,
                                       double *density) FSCI_WUR;

/* The PLAIN scattering kernel of energy bin ie for material class ic:
 * *half = h and taps w[0..2h]
 * for offsets -h..h in angle bins (float32, sum exactly 1, owned by the plan),
 * *variance = its variance in bin^2 (T ds rscat / dtheta^2). FSCI_EINVAL for
 * indices out of range. */
FSCI_API int fsci_proton_plan_kernel(const fsci_proton_plan *p, int64_t ie, int64_t ic, int64_t *half,
                                     const float **w, double *variance) FSCI_WUR;

/* Bilinear streaming stencil of angle bin it: the displacement in cells is
 * (iu + fu) in x and (iv + fv) in z with 0 <= fu, fv < 1 (fractions rounded
 * to multiples of 2^-24). */
FSCI_API int fsci_proton_plan_stencil(const fsci_proton_plan *p, int64_t it, int64_t *iu, double *fu,
                                      int64_t *iv, double *fv) FSCI_WUR;

/* Energy transfer A_E of bin ie in material class ic, for one step: the
 * surviving weight (fraction *survival as applied, a multiple of 2^-24 in
 * every build; 1 - survival is removed by nuclear interactions) goes to bins target[q] with weights
 * weight[q] (summing to 1; target -1: the cutoff, -2: unused part), and
 * *deposit MeV is deposited per unit of weight (energy differences to the
 * targets, all of it at the cutoff, plus nuclear_local of the removed
 * protons' energy). In water on a RANGE grid: target {ie - 1, -2}, weight
 * {1, 0}. survival and deposit may be NULL. FSCI_EINVAL for bad indices. */
FSCI_API int fsci_proton_plan_transfer(const fsci_proton_plan *p, int64_t ie, int64_t ic, int64_t target[2],
                                       double weight[2], double *survival, double *deposit) FSCI_WUR;

/* A beam entering through the surface z = 0 into the first row of cells. */
typedef enum fsci_proton_beam_kind {
    FSCI_PROTON_BEAM_PENCIL = 0, /* Gaussian lateral profile (sigma_x_mm; 0: a zero-width
                                    beam split linearly between the two nearest columns) */
    FSCI_PROTON_BEAM_BROAD = 1   /* uniform over [x_mm - width/2, x_mm + width/2] */
} fsci_proton_beam_kind;

typedef struct fsci_proton_beam {
    fsci_proton_beam_kind kind;
    double energy_mev;       /* mean kinetic energy, <= the top bin value */
    double energy_sigma_mev; /* Gaussian spread (0: monoenergetic) */
    double x_mm;             /* lateral centre */
    double sigma_x_mm;       /* PENCIL: lateral sigma */
    double width_mm;         /* BROAD: full width */
    double angle_deg;        /* mean direction, from +z towards +x */
    double sigma_angle_deg;  /* Gaussian angular sigma (0: split between the two nearest bins) */
    double weight;           /* relative number of primaries (> 0) */
} fsci_proton_beam;

/* Defaults: a zero-width, monoenergetic 150 MeV pencil beam at x = 0 along
 * +z, weight 1. b must not be NULL. */
FSCI_API void fsci_proton_beam_default(fsci_proton_beam *b);

/* Phase space, dose and counters of one transport problem (mutable). */
typedef struct fsci_proton_state fsci_proton_state;

/* Allocate a zeroed state for plan p (two phase-space buffers of
 * nwindow*ntheta*nz*nx floats, dose and scratch; fsci_proton_plan_info's
 * mem_bytes). The state keeps a pointer to p, which must outlive it.
 * FSCI_ENOMEM. Free with fsci_proton_state_destroy. */
FSCI_API int fsci_proton_state_create(const fsci_proton_plan *p, fsci_proton_state **out) FSCI_WUR;

/* Release; accepts NULL and *s == NULL, clears *s. */
FSCI_API void fsci_proton_state_destroy(fsci_proton_state **s);

/* Empty the phase space and zero dose, counters and the step count, keeping
 * the memory (to run the next beam with the same plan). */
FSCI_API void fsci_proton_state_reset(fsci_proton_state *s);

/* Add a beam: weight x (energy split) x (angle profile) x (lateral profile)
 * in the first row. The energy goes to the two bins whose values bracket it,
 * linearly in residual range on RANGE grids (the mean range is kept) and in
 * energy otherwise; a Gaussian spread is integrated with 401 points over
 * +-6 sigma (parts above the top bin value go to the top bin, parts below the
 * lowest to bin 0). Angles split the same way over bin centres (ABSORB: the
 * beam's direction must lie inside the cone; Gaussian parts outside it are
 * dropped before normalisation). The beam's weight is renormalised to the
 * stored phase-space values, which define the injected weight and energy.
 * FSCI_EINVAL / FSCI_ERANGE naming the field for a bad beam (energy above the
 * top bin value, x outside the grid, NaN, weight <= 0, ...); FSCI_ERANGE if
 * the occupied energy bins would exceed the window. May be called after steps
 * (the beam then starts at the current step; GENERALISED scattering assumes
 * every beam started at step 0). */
FSCI_API int fsci_proton_state_add_beam(fsci_proton_state *s, const fsci_proton_beam *b) FSCI_WUR;

/* Replace the phase space with psi (ne*ntheta*nz*nx float32, C order
 * [E][theta][z][x], finite and >= 0; the occupied bins must fit in the
 * window) and count it as injected. Dose and counters are not reset. For
 * tests and benchmarks. */
FSCI_API int fsci_proton_state_set_psi(fsci_proton_state *s, const float *psi) FSCI_WUR;

/* Copy the phase space into psi (ne*ntheta*nz*nx float32, C order). */
FSCI_API int fsci_proton_state_get_psi(const fsci_proton_state *s, float *psi) FSCI_WUR;

/* As fsci_proton_state_set_psi, from float64 values (ne*ntheta*nz*nx, C
 * order, finite, >= 0 and representable in the engine's element type). The
 * float64 test build (fsci_proton_psi_bytes() == 8) stores them exactly; the
 * normal float32 build rounds each to the nearest float32, and the stored
 * values define the injected weight. FSCI_EINVAL naming the first bad element,
 * FSCI_ERANGE as set_psi. */
FSCI_API int fsci_proton_state_set_psi64(fsci_proton_state *s, const double *psi) FSCI_WUR;

/* Copy the phase space into psi (ne*ntheta*nz*nx float64, C order): an exact
 * copy in the float64 test build, exact widening in the float32 build.
 * FSCI_EINVAL for NULL arguments. */
FSCI_API int fsci_proton_state_get_psi64(const fsci_proton_state *s, double *psi) FSCI_WUR;

/* Bytes per phase-space element of this build of the engine: 4 (float32, the
 * library, CLI and Python module) or 8 (the float64 test build compiled with
 * -DFSCI_PROTON_F64, in which every operator computes on psi in double). Lets
 * tests choose tolerances. Thread-safe. */
FSCI_API int fsci_proton_psi_bytes(void);

/* One transport step: psi <- A_stream(A_E(A_theta(psi))), dose scored where
 * the energy is lost (before streaming: the middle of the step's path for a
 * beam entering at the surface). In water A_E and A_stream commute, so this is
 * the same phase space as A_E(A_stream(A_theta(psi))). Allocates nothing.
 * FSCI_EINVAL if s was created for another plan; FSCI_ERANGE if the energy
 * window overflows (the state is left as before the step). */
FSCI_API int fsci_proton_step(const fsci_proton_plan *p, fsci_proton_state *s) FSCI_WUR;

/* Run steps until the phase space is empty or max_steps steps were taken
 * (max_steps <= 0: until empty, at most 4 (ne + nz + nx) + 16 steps).
 * *steps_done (may be NULL) receives the number taken. Progress is reported
 * when opts.progress is set. Errors as fsci_proton_step. */
FSCI_API int fsci_proton_run(const fsci_proton_plan *p, fsci_proton_state *s, int64_t max_steps,
                             int64_t *steps_done) FSCI_WUR;

/* The three operators alone (the step uses the same kernels, fused).
 * scatter: A_theta, angular convolution per energy bin and cell material,
 * counts `rejected` (ABSORB) and `pruned`. energy: A_E, moves each bin to its
 * target bins after a step ds in the cell's material, deposits the energy
 * difference in the cell (and everything at the cutoff), applies nuclear
 * removal. stream: A_stream over ds, counts `leaked`. Each updates the
 * state's step balance (fsci_proton_state_step_balance) and adds to the run
 * balance; they do not advance the step count. */
FSCI_API int fsci_proton_apply_scatter(const fsci_proton_plan *p, fsci_proton_state *s) FSCI_WUR;
FSCI_API int fsci_proton_apply_energy(const fsci_proton_plan *p, fsci_proton_state *s) FSCI_WUR;
FSCI_API int fsci_proton_apply_stream(const fsci_proton_plan *p, fsci_proton_state *s) FSCI_WUR;

/* Conservation bookkeeping, for weight (number of protons) or energy (MeV),
 * per primary: initial = deposited + leaked + rejected + cutoff + nuclear +
 * pruned + remaining up to rounding (residual). For weight, `deposited` is 0.
 * For energy, `cutoff` is 0 (protons reaching the cutoff deposit their
 * remaining energy locally, inside `deposited`) and `nuclear` is the escaping
 * part (1 - nuclear_local) of the removed protons' energy. */
typedef struct fsci_proton_balance {
    double initial;   /* run: injected; step: present at the start */
    double deposited; /* energy scored in the dose grid */
    double leaked;    /* streamed out of the spatial grid */
    double rejected;  /* scattered out of the angular cone */
    double cutoff;    /* weight that reached the cutoff energy */
    double nuclear;   /* removed by nuclear interactions */
    double pruned;    /* dropped by the sparsity threshold (opts.prune) */
    double remaining; /* still in the phase space */
    double residual;  /* (initial - everything else) / initial */
} fsci_proton_balance;

/* Balance of the whole run so far (since creation or reset) and of the last
 * step or operator call. Any output may be NULL. */
FSCI_API void fsci_proton_state_balance(const fsci_proton_state *s, fsci_proton_balance *weight,
                                        fsci_proton_balance *energy);
FSCI_API void fsci_proton_state_step_balance(const fsci_proton_state *s, fsci_proton_balance *weight,
                                             fsci_proton_balance *energy);

/* Dose units: MEV: energy deposited per cell per primary; GY: per primary, in
 * a cell of thickness dy = dx perpendicular to the plane, mass
 * density x dx dy dz. */
typedef enum fsci_proton_dose_unit {
    FSCI_PROTON_DOSE_MEV = 0,
    FSCI_PROTON_DOSE_GY = 1
} fsci_proton_dose_unit;

/* Copy the dose (nz*nx doubles, row-major) into out. FSCI_EINVAL for NULL
 * or a bad unit; zeros before any beam. */
FSCI_API int fsci_proton_state_dose(const fsci_proton_state *s, fsci_proton_dose_unit unit,
                                    double *out) FSCI_WUR;

/* Laterally integrated depth dose, MeV/mm per primary, at the row centres
 * (k + 0.5) dz: out[nz]. */
FSCI_API int fsci_proton_state_depth_dose(const fsci_proton_state *s, double *out) FSCI_WUR;

/* Lateral dose profile (MeV per cell per primary) at depth z_mm, linearly
 * interpolated between row centres (clamped to the first and last rows):
 * out[nx]. FSCI_EINVAL for NaN or z outside [0, nz dz]. */
FSCI_API int fsci_proton_state_lateral_profile(const fsci_proton_state *s, double z_mm, double *out) FSCI_WUR;

/* Weight per primary that reached the cutoff in each depth row (out[nz]): the
 * distribution of stopping depths. */
FSCI_API int fsci_proton_state_stopping(const fsci_proton_state *s, double *out) FSCI_WUR;

/* Counters of the state. */
typedef struct fsci_proton_state_info {
    int64_t steps;          /* steps taken */
    double path_mm;         /* steps x ds */
    int64_t e_lo, e_hi;     /* occupied energy bins (e_lo > e_hi: empty) */
    int64_t active_planes;  /* (E, theta) planes holding weight */
    int64_t active_cells;   /* cells inside their bounding boxes */
    double cells_processed; /* cells visited by the operators since creation or reset */
    double injected;        /* total injected weight (the per-primary divisor) */
} fsci_proton_state_info;

FSCI_API void fsci_proton_state_get_info(const fsci_proton_state *s, fsci_proton_state_info *info);

/* Range metrics of a depth-dose curve. */
typedef struct fsci_proton_range_metrics {
    double peak_mm;    /* depth of the maximum (parabola through the top three points) */
    double peak_value; /* maximum sample */
    double entrance;   /* first sample / peak_value */
    double r90_mm;     /* distal depths where the curve falls to 90, 80, 50, 20 % */
    double r80_mm;     /*   of the maximum sample (linear interpolation between */
    double r50_mm;     /*   row centres; NaN if it never falls that low) */
    double r20_mm;
    double falloff_mm; /* distal fall-off r20 - r80 */
} fsci_proton_range_metrics;

/* Analyse dd[n] sampled at depths (k + 0.5) dz_mm. FSCI_EINVAL for NULL,
 * n < 1, dz <= 0, NaN or negative samples, or an all-zero curve. */
FSCI_API int fsci_proton_analyze(const double *dd, int64_t n, double dz_mm,
                                 fsci_proton_range_metrics *out) FSCI_WUR;

/* Mean and standard deviation of a non-negative profile p[n] sampled at
 * x_i = (i + 0.5 - n/2) dx_mm. FSCI_EINVAL for a bad or all-zero profile. */
FSCI_API int fsci_proton_profile_moments(const double *p, int64_t n, double dx_mm, double *mean,
                                         double *sigma) FSCI_WUR;

/* ---- parameters and outputs ---- */

#include "fastsci/core/params.h"
#include "fastsci/core/sink.h"

/* The user-facing description of one run (CLI flags, Python keywords), turned
 * into fsci_proton_opts, beams and a material map by fsci_proton_setup_create.
 * Lengths in mm, energies in MeV, angles in degrees. */
typedef struct fsci_proton_run_opts {
    fsci_param_list energy;          /* beam energies, one beam each (equal weights) */
    double energy_sigma;             /* Gaussian energy spread of every beam */
    double spot_sigma;               /* pencil-beam lateral sigma (0: zero width) */
    double x0;                       /* lateral centre of the beams */
    double angle;                    /* beam direction from +z towards +x */
    double angle_sigma;              /* angular sigma */
    double width;                    /* > 0: broad beam of this full width instead of a pencil */
    char phantom[FSCI_PARAM_STRLEN]; /* water | slab:bone:Z1:Z2 | slab:lung:Z1:Z2 | FILE.npz */
    int64_t nx, nz;                  /* grid (nz 0: deep enough for the highest energy) */
    double dx, dz;
    int64_t ntheta;
    double theta_max;               /* half-width of the angular cone */
    double ds;                      /* step; 0: min(dx, dz) */
    char egrid[FSCI_PARAM_STRLEN];  /* range | uniform | log */
    int64_t ne;                     /* uniform / log grids: bins */
    char stream[FSCI_PARAM_STRLEN]; /* muscl | bilinear */
    char mcs[FSCI_PARAM_STRLEN];    /* plain | generalised */
    bool nuclear;
    bool sparse; /* bounding boxes (false: dense) */
} fsci_proton_run_opts;

#define FSCI_PROTON_NPARAMS 21
FSCI_API extern const fsci_param fsci_proton_params[FSCI_PROTON_NPARAMS];

/* A resolved problem: plan options, beams and (optional) material map. */
typedef struct fsci_proton_setup {
    fsci_proton_opts opts;
    int nbeams;
    fsci_proton_beam beams[FSCI_PARAM_LISTLEN];
    bool has_materials;
    fsci_proton_materials mat;     /* points at the arrays below */
    double *rsp, *rscat, *density; /* (nz, nx) owned, NULL for water */
} fsci_proton_setup;

/* Validate *r and resolve it (nthreads into opts.nthreads, progress into
 * opts.progress). Errors name the flag and value, e.g. "--energy: 600 MeV is
 * above the PSTAR table (500 MeV)", "--dx: 0 must be > 0", "--phantom m.npz:
 * rsp has shape (10, 40), the grid (nz, nx) is (40, 40)". FSCI_EINVAL,
 * FSCI_ERANGE, FSCI_EIO (map file), FSCI_ENOMEM. Free with
 * fsci_proton_setup_destroy. */
FSCI_API int fsci_proton_setup_create(const fsci_proton_run_opts *r, int nthreads, bool progress,
                                      fsci_proton_setup **out) FSCI_WUR;

/* Release; accepts NULL and *s == NULL, clears *s. */
FSCI_API void fsci_proton_setup_destroy(fsci_proton_setup **s);

/* Results of one run, per primary. */
typedef struct fsci_proton_result {
    int64_t nz, nx;
    double dx_mm, dz_mm;
    double *dose_gy;    /* (nz, nx) Gy per primary */
    double *dose_mev;   /* (nz, nx) MeV per cell per primary */
    double *depth_dose; /* [nz] MeV/mm per primary */
    fsci_proton_range_metrics metrics;
    fsci_proton_balance weight, energy;
    int64_t steps;
    double seconds;
} fsci_proton_result;

/* Build the plan and a state for *su, add its beams, run to the end and fill
 * *res (arrays owned by res; free with fsci_proton_result_free). Errors as
 * the transport functions. */
FSCI_API int fsci_proton_simulate(const fsci_proton_setup *su, fsci_proton_result *res) FSCI_WUR;

/* Free the arrays of *res and zero it; accepts NULL. */
FSCI_API void fsci_proton_result_free(fsci_proton_result *res);

/* Add the results to a sink: dose (Gy per primary) and dose_mev ((nz, nx)
 * float64), depth_dose (MeV/mm per primary, [nz]) and the axes z, x (mm, cell
 * centres). FSCI_EINVAL, FSCI_ENOMEM, or the sink's error. */
FSCI_API int fsci_proton_result_to_sink(const fsci_proton_result *res, fsci_sink *sink) FSCI_WUR;

/* Write the outputs of *res into directory `dir` (created if missing):
 * dose.npy (Gy, float64 (nz, nx)), dose_mev.npy, dose.mhd + dose.raw
 * (MetaImage, MET_DOUBLE, Gy), depth_dose.csv, lateral.csv (profiles at 25,
 * 50, 75 and 100 % of R80) and summary.json. Each file goes to a temporary
 * name first; all are renamed once every one is written, so on failure no new
 * file is left (and a directory this call created is removed). FSCI_EIO,
 * FSCI_EINVAL, FSCI_ENOMEM. */
FSCI_API int fsci_proton_result_write(const fsci_proton_result *res, const char *dir) FSCI_WUR;

#endif
