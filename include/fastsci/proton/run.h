/* fastsci proton, run level: the parameter table shared by the CLI and Python, the
 * resolved setup, fsci_proton_simulate and the written outputs. Built on the
 * transport layer (fastsci/proton/transport.h). */
#ifndef FASTSCI_PROTON_RUN_H
#define FASTSCI_PROTON_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "fastsci/core/defs.h"
#include "fastsci/core/params.h"
#include "fastsci/core/sink.h"
#include "fastsci/proton/transport.h"

/* The user-facing description of one run (CLI flags, Python keywords), turned
 * into fsci_proton_opts, beams and a material map by fsci_proton_setup_create.
 * Lengths in mm, energies in MeV, angles in degrees. */
typedef struct fsci_proton_run_opts {
    fsci_param_list energy;          /* beam energies, one beam each (equal weights) */
    double energy_sigma;             /* Gaussian energy spread of every beam (MeV) */
    double energy_sigma_pct;         /* or in % of each beam's energy (give one of the two) */
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
    double nuclear_local; /* fraction of a removed proton's energy deposited locally (0.6) */
    bool straggling;      /* Bohr energy-loss straggling */
    bool sparse;          /* bounding boxes (false: dense) */
    double max_loss;      /* beam fraction lost above which a run fails (1: never) */
} fsci_proton_run_opts;

#define FSCI_PROTON_NPARAMS 25
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

/* Beam-loss limits of the run level (opts.loss_warn, opts.loss_fail of the
 * resolved setup): more than 1 % of the injected weight or energy rejected or
 * leaked gives a warning, more than --max-loss (default 20 %) fails
 * (doc/proton.md, "Beam losses"). */
#define FSCI_PROTON_LOSS_WARN 0.01
#define FSCI_PROTON_LOSS_FAIL 0.2

/* Validate *r and resolve it (nthreads into opts.nthreads, progress into
 * opts.progress). Errors name the flag and value, e.g. "--energy: 600 MeV is
 * above the PSTAR table (500 MeV)", "--dx: 0 must be > 0", "--angle 90:
 * outside the angular cone +-30.25 degrees of --theta-max", "--phantom m.npz:
 * rsp has shape (10, 40), the grid (nz, nx) is (40, 40)". FSCI_EINVAL,
 * FSCI_ERANGE (bad values), FSCI_EIO (map file), FSCI_EFORMAT (a map value
 * out of range: "--phantom m.npz: rsp[0, 7] = nan: must be in [0, 10]"),
 * FSCI_ENOMEM (the material map does not fit in the available memory). Free
 * with fsci_proton_setup_destroy. */
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
