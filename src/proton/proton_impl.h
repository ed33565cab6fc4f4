/* proton: internals shared by the files of src/proton (never installed). */
#ifndef FASTSCI_PROTON_IMPL_H
#define FASTSCI_PROTON_IMPL_H

#include <float.h>
#include <math.h>

#include "fastsci/proton.h"
#include "proton/proton_hooks.h"

/* Element type of the phase space psi and of everything the operators
 * multiply it with (kernel taps, energy-transfer weights, survival factors,
 * stencil fractions, row buffers). float32 by default; compiling the proton
 * sources with -DFSCI_PROTON_F64 makes it double (a test build in which each
 * operator conserves to rounding in double, tests/CMakeLists.txt). All these
 * weights are multiples of 2^-24 in [0, 1], so they have the same values in
 * both builds; the public API keeps float32 for psi and kernel taps. */
#ifdef FSCI_PROTON_F64
typedef double fsci__psi_t;
#define FSCI__PSI_MAX DBL_MAX
#else
typedef float fsci__psi_t;
#define FSCI__PSI_MAX FLT_MAX
#endif

/* Round a weight in [0, 1] to a multiple of 2^-24: sums of such weights are
 * exact in float32, so "1 - w" keeps kernels and splits normalised exactly. */
static inline double fsci__q24(double w)
{
    if (!(w > 0)) return 0;
    if (w >= 1) return 1;
    return nearbyint(w * 16777216.0) / 16777216.0;
}

/* NIST PSTAR, liquid water: rows {E (MeV), S_total (MeV cm^2/g), R_CSDA (g/cm^2)}
 * (src/proton/pstar_data.c, mirrored by data/pstar_water.tsv). */
enum { FSCI__PSTAR_N = 111 };
extern const double fsci__pstar_water[FSCI__PSTAR_N][3];

/* Fine tables of one stopping-power model on nodes u[j] = ln E_j (j < n).
 * Segment j = [u[j], u[j+1]] carries one-sided values at its two ends, so a
 * jump of S (the Bethe switch at 20 MeV) sits exactly on a node. */
struct fsci_proton_physics {
    fsci_proton_sp_model model;
    double i_ev;          /* Bethe mean excitation energy; 0 for PSTAR */
    int64_t n;            /* nodes */
    double *u;            /* [n] ln E (MeV) */
    double *r;            /* [n] CSDA range (mm) */
    double *ls0;          /* [n-1] ln S at the left end of segment j (MeV cm^2/g) */
    double *ls1;          /* [n-1] ln S at its right end */
    double *d0;           /* [n-1] dR/du = 10 E / S at the left end (mm) */
    double *d1;           /* [n-1] dR/du at the right end (mm) */
    unsigned char *bethe; /* [n-1] 1: segment uses the analytic Bethe formula */
};

/* ---- transport internals (src/proton/transport*.c) ---- */

/* Bounding box of the non-zero part of one (E, theta) plane: rows [z0, z1),
 * columns [x0, x1). Empty when z0 >= z1. Memory outside the box is zero. */
typedef struct fsci__pbox {
    int32_t z0, z1, x0, x1;
} fsci__pbox;

/* Streaming stencil of one angle bin: displacement (iu + fu, iv + fv) cells,
 * fractions quantised to multiples of 2^-24 so that (1 - f) + f == 1 exactly
 * in float32. */
typedef struct fsci__stencil {
    int32_t iu, iv;
    fsci__psi_t fu, fv;
} fsci__stencil;

/* A run of equal material class along a row: columns [x0, x1). */
typedef struct fsci__run {
    int32_t x0, x1, c;
} fsci__run;

/* One source part of an energy transfer: weight w of source bin k. */
typedef struct fsci__epart {
    int32_t k;
    fsci__psi_t w;
} fsci__epart;

struct fsci_proton_plan {
    fsci_proton_opts o; /* resolved copy (ds_mm, e_window set) */
    fsci_proton_physics *ph;
    fsci_proton_egrid *eg;
    int64_t ne, nth, nz, nx, nw, plane; /* plane = nz * nx */
    int nthreads;
    double ds, dth;
    double *theta;       /* [nth] bin centres (rad) */
    double *value;       /* [ne] bin values edge[k + 1] (MeV) */
    fsci__stencil *sten; /* [nth] */
    /* materials */
    int64_t nclass;
    uint16_t *cls;                   /* [plane] class per cell, NULL when nclass == 1 */
    double *c_rsp, *c_rscat, *c_rho; /* [nclass] */
    fsci__run *runs;                 /* runs of each row */
    int64_t *row_run;                /* [nz + 1] */
    /* scattering: plain kernels, CSR over (class, bin) */
    double *tbar;    /* [ne] mean T over the step in water (rad^2/mm) */
    double *tcum;    /* [ne + 1] RANGE: int T dR from edge 0 to edge k (rad^2) */
    int32_t *k_half; /* [nclass * ne] */
    int64_t *k_off;  /* [nclass * ne] offset of tap -h */
    fsci__psi_t *k_w;
#ifdef FSCI_PROTON_F64
    float *k_w32; /* float32 copy of k_w (exact) for fsci_proton_plan_kernel */
#endif
    double *k_var;     /* [nclass * ne] target variance (bin^2) */
    int64_t k_taps;    /* taps allocated */
    int32_t *bin_half; /* [ne] max half over classes */
    int64_t hmax_used, kernels_clamped;
    /* energy transfer per (class, source bin): up to two targets (-1: cutoff) */
    int32_t *e_tj;     /* [nclass * ne * 2] */
    fsci__psi_t *e_tw; /* [nclass * ne * 2] */
    double *dep;       /* [nclass * ne] MeV deposited per unit weight (incl. nuclear local) */
    double *cutf;      /* [nclass * ne] weight fraction reaching the cutoff */
    double *nucw;      /* [nclass] removed fraction p (as applied: rounded to 2^-24) */
    fsci__psi_t *surv; /* [nclass] survival 1 - p (applied to psi) */
    double *nuce;      /* [nclass * ne] escaping nuclear energy per unit weight */
    /* all targets per (class, source bin), the CSDA split convolved with the
     * straggling kernel: parts [t_off[i], t_off[i + 1]), k = target (-1: cutoff) */
    int64_t *t_off; /* [nclass * ne + 1] */
    fsci__epart *t_part;
    /* gather lists per (class, target bin): parts [g_off[i], g_off[i + 1]) */
    int64_t *g_off; /* [nclass * ne + 1] */
    fsci__epart *g_part;
    int32_t g_span_lo, g_span_hi; /* sources of target j lie in [j + lo, j + hi] */
    bool water_shift;             /* RANGE grid, one class with rsp 1: A_E is a shift by one bin */
    bool shift_blend;             /* water_shift with straggling: the fused step streams, for each
                                     target bin, the blend of its source bins (gather lists) */
    double *mass_g;               /* [plane] grams per cell (density x dx^2 dz) */
    double mem_bytes;
};

/* Per-item counters filled by the parallel operators (summed in item order). */
enum {
    FSCI__P_LEAKW,
    FSCI__P_LEAKE,
    FSCI__P_REJW,
    FSCI__P_REJE,
    FSCI__P_PRUNW,
    FSCI__P_PRUNE,
    FSCI__P_OUTW,
    FSCI__P_OUTE,
    FSCI__P_CELLS,
    FSCI__NP
};

/* Row partials of the energy accounting. */
enum { FSCI__R_DEP, FSCI__R_CUTW, FSCI__R_NUCW, FSCI__R_NUCE, FSCI__NR };

typedef struct fsci__item {
    int32_t k;    /* logical source (scatter, stream) or target (energy) bin */
    int32_t t;    /* angle bin (-1: a whole bin) */
    int32_t kind; /* 0: compute, 1: clear the output plane */
    int32_t pad;
    int64_t cost;
} fsci__item;

struct fsci_proton_state {
    const fsci_proton_plan *plan;
    fsci__psi_t *psi[2];
    fsci__pbox *box[2]; /* [nw * nth] */
    double *psum[2];    /* [nw * nth] weight per plane */
    int cur;
    int64_t klo, khi; /* occupied logical bins */
    double *wsum;     /* [nw * plane] sum over theta after scattering */
    fsci__pbox *wbox; /* [nw] */
    int32_t *wbin;    /* [nw] logical bin held by wsum slot (-1: none) */
    double *dose;     /* [plane] MeV (raw weight) */
    double *stop;     /* [nz] cutoff weight per row */
    int64_t steps;
    double injected_w, injected_e, tau;
    double run[2][8], stepb[2][8]; /* balances (raw), fields in fsci_proton_balance order */
    double cells;                  /* cells processed */
    /* scratch */
    fsci__item *items;
    int64_t items_cap;
    double *part;        /* [items_cap * FSCI__NP] */
    double *rowpart;     /* [nz * FSCI__NR] */
    uint8_t *written;    /* [nw * nth] */
    fsci__psi_t *trow;   /* per thread: 2 rows of nx + 16 elements */
    fsci__psi_t *sblend; /* shift_blend: per thread, one plane (the blended source) */
    int64_t trow_stride;
    double *tplane; /* per thread, MUSCL: plane + 4 rows of nx + 4 doubles */
    int64_t tplane_stride;
    uint8_t *cls_seen; /* [nclass] scratch of the energy-window check */
    double last_bytes; /* bytes moved by the last operator (profiling) */
    /* GENERALISED kernels of the current step (CSR like the plan's) */
    int32_t *gk_half;
    int64_t *gk_off;
    fsci__psi_t *gk_w;
    int32_t *gk_bin_half; /* [ne] */
    double *gk_tmp;       /* [2 kernel_half_max + 1] kernel-building scratch */
};

/* Operators (transport_ops.c). scatter: A_theta (want_wsum: also the sum over
 * angles per cell and bin, for the dose accounting); wsum: that sum alone;
 * energy: the dose accounting of A_E and (gather) the transfer to the target
 * bins; energy_check: FSCI_ERANGE if A_E would overflow the energy window;
 * stream: A_stream (shift: the fused water step, bin k to bin k - 1 with the
 * nuclear survival factor). */
int fsci__proton_scatter(const fsci_proton_plan *p, fsci_proton_state *s, bool want_wsum) FSCI_WUR;
int fsci__proton_wsum(const fsci_proton_plan *p, fsci_proton_state *s) FSCI_WUR;
int fsci__proton_energy(const fsci_proton_plan *p, fsci_proton_state *s, bool gather) FSCI_WUR;
int fsci__proton_stream(const fsci_proton_plan *p, fsci_proton_state *s, bool shift) FSCI_WUR;
int fsci__proton_build_kernel(double v, int64_t hmax, fsci__psi_t *w, double *tmp, int64_t *half,
                              bool *clamped) FSCI_WUR;
/* A kernel wider than a periodic ring of nth bins, folded onto it (f: scratch
 * of 2 *half + 1 doubles). */
void fsci__proton_fold_kernel(fsci__psi_t *w, int64_t *half, int64_t nth, double *f);
void fsci__proton_window_update(const fsci_proton_plan *p, fsci_proton_state *s);
int fsci__proton_generalised_kernels(const fsci_proton_plan *p, fsci_proton_state *s) FSCI_WUR;
int fsci__proton_energy_check(const fsci_proton_plan *p, fsci_proton_state *s) FSCI_WUR;

/* Plan tables (plan_tables.c), called by fsci_proton_plan_create once the
 * grids and material classes are set: the PLAIN scattering kernels (tbar,
 * tcum, k_*) and the energy-transfer tables (e_*, dep, cutf, nuc*, surv, g_*). */
int fsci__proton_build_kernels(fsci_proton_plan *p) FSCI_WUR;
int fsci__proton_build_energy_tables(fsci_proton_plan *p) FSCI_WUR;

/* Register the proton profiling events (transport.c; idempotent). */
void fsci__proton_register_events(void);

#endif
