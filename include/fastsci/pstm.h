/* fastsci pstm: prestack Kirchhoff time migration of SEG-Y data and its exact
 * adjoint (modelling). The operator is stated in doc/pstm.md; the engine's
 * commands (`fastsci pstm info|migrate|model`, fastsci.pstm.*) are built on
 * the functions here. Times in seconds, distances in metres, velocities in
 * m/s, angles in degrees. */
#ifndef FASTSCI_PSTM_H
#define FASTSCI_PSTM_H

#include <stdbool.h>
#include <stdint.h>

#include "fastsci/core/defs.h"
#include "fastsci/core/engine.h"
#include "fastsci/core/params.h"

/* The description of a migration or modelling run (CLI flags, Python keywords). */
typedef struct fsci_pstm_opts {
    char input[FSCI_PARAM_STRLEN];    /* SEG-Y file (the CLI's positional argument) */
    double in_dt, in_t0;              /* array inputs: sample interval and first time of the traces */
    char vrms[FSCI_PARAM_STRLEN];     /* RMS velocity table "t:v,t:v,..." (linear in between) */
    char velocity[FSCI_PARAM_STRLEN]; /* or a .npy: (nt,), (nx, nt) or (ny, nx, nt), m/s */
    double x0, y0;                    /* easting, northing of the first bin centre */
    double dx, dy;                    /* bin spacing */
    int64_t nx, ny;                   /* bins (nx 0: cover the midpoints) */
    double azimuth;                   /* inline (x) axis, degrees counter-clockwise from easting */
    int64_t nt;                       /* output samples */
    double dt;                        /* output sample interval */
    double aperture;                  /* midpoint distance limit */
    double angle;                     /* cone half-angle from vertical; >= 90: none */
    double taper;                     /* tapered fraction of aperture and cone */
    bool aa;                          /* triangle anti-aliasing */
    double aa_factor;                 /* triangle length factor */
    bool weights;                     /* obliquity and spreading weight */
    char dim[FSCI_PARAM_STRLEN];      /* auto | 2 | 3 */
    fsci_param_list offset_classes;   /* first,width,count: image per |offset| class */
    int64_t tile;                     /* output columns per tile side (0: automatic) */
    double memory;                    /* MB of prepared input kept in memory */
    /* modelling (the built-in scene of `fastsci pstm model`) */
    int64_t shots, receivers;
    double shot_x0, shot_dx, receiver_dx, near_offset;
    fsci_param_list diffractors; /* x1,tau1,x2,tau2,...: point scatterers */
    fsci_param_list reflectors;  /* tau1,dip1,tau2,dip2,...: planar reflectors (tau at x0, dip in degrees) */
    fsci_param_list curved;      /* tau1,height1,width1,...: dome-shaped reflectors centred on the grid */
    double ricker;               /* wavelet peak frequency, Hz */
    int64_t ns;                  /* modelled samples per trace */
} fsci_pstm_opts;

#define FSCI_PSTM_NPARAMS 35
FSCI_API extern const fsci_param fsci_pstm_params[FSCI_PSTM_NPARAMS];

/* Work and speed figures of a run. */
typedef struct fsci_pstm_stats {
    int64_t traces;  /* input traces used */
    int64_t skipped; /* input traces outside every offset class */
    int64_t columns; /* output columns (bins) */
    double pairs;    /* (trace, output sample) pairs evaluated */
    double seconds;  /* wall time of the kernel phase */
    double flops;    /* estimated floating-point operations */
    int dim;         /* 2 or 3 */
} fsci_pstm_stats;

#endif
