/* proton: internals shared by the files of src/proton (never installed). */
#ifndef FASTSCI_PROTON_IMPL_H
#define FASTSCI_PROTON_IMPL_H

#include "fastsci/proton.h"

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

#endif
