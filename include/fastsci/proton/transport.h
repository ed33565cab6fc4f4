/* fastsci proton, transport layer: plan, state, beams, step, run, balances, dose and
 * range analysis. Built on the physics layer (fastsci/proton/physics.h). */
#ifndef FASTSCI_PROTON_TRANSPORT_H
#define FASTSCI_PROTON_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "fastsci/core/defs.h"
#include "fastsci/proton/physics.h"

/* Deterministic transport of the phase-space density psi[E][theta][z][x]
 * (float32, x fastest) through water or a 2-D material map, by operator
 * splitting over a common path-length step ds: every step applies angular
 * scattering A_theta, continuous energy loss A_E (with nuclear removal) and
 * spatial streaming A_stream (A_E with Bohr energy-loss straggling unless
 * opts.straggling is false). Equations, choices and measured accuracy:
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
    bool straggling;                /* Bohr energy-loss straggling in A_E (true; doc/proton_physics.md);
                                       false: the CSDA step, bit for bit as before straggling */
    fsci_proton_stream_kind stream; /* BILINEAR */
    bool dense;                     /* process every cell (no bounding boxes); for benchmarks */
    double prune;                   /* values below prune x (injected weight) are set to 0 and
                                       counted as `pruned` (1e-10; 0 disables) */
    int nthreads;                   /* 0: fsci_parallel_threads() */
    bool progress;                  /* report progress in fsci_proton_run (false) */
    double loss_warn;               /* fsci_proton_run: warn (fsci_warn) when more than this fraction
                                       of the injected weight or energy was rejected or leaked
                                       (0 disables; default 0, the run level sets 0.01) */
    double loss_fail;               /* fsci_proton_run: fail with FSCI_ERANGE above this fraction
                                       (0 disables; default 0, the run level sets 0.2) */
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
 * table), e.g. "--nx 0: must be in [1, 1000000]" (fields with a CLI flag are named by the flag, others by the
 * field name) or "materials: shape (10, 40) does not match the grid (nz, nx) = (40, 40)". FSCI_ENOMEM. *out
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
 * when opts.progress is set. At the end, the fractions of the injected weight
 * and energy that were rejected (scattered out of the angular cone) or
 * leaked (streamed out of the grid) are checked against opts.loss_warn and
 * opts.loss_fail (see doc/proton.md, "Beam losses"): above loss_warn a
 * warning through fsci_warn, above loss_fail FSCI_ERANGE with a message
 * naming the fractions and the run parameters to change (the state keeps the
 * finished run). Errors as fsci_proton_step otherwise. */
FSCI_API int fsci_proton_run(const fsci_proton_plan *p, fsci_proton_state *s, int64_t max_steps,
                             int64_t *steps_done) FSCI_WUR;

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

#endif
