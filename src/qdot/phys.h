/* qdot: the tuning agent on the physical simulator (doc/qdot.md section 7).
 *
 * The true device is drawn from a documented prior. The agent reads its charge sensor and
 * keeps a belief over the device's seven capacitances as weighted particles; the charge state
 * anywhere follows from a particle by the constant-interaction model. The likelihood of a scan
 * uses only where the sensor steps (which neighbouring pixels change charge state), so the
 * sensor's own parameters need not be known. Stages: COARSE_SURVEY (16 x 16 over the window,
 * then resample-move refinement of the belief), NAVIGATION (the most probable (1, 1) point,
 * averaged over +-3 grid steps of the 61 x 61 grid over the bounds), VERIFICATION (a 12 x 12 scan of +-6 mV
 * around it; COMPLETE when the posterior of (1, 1) there reaches p_goal), up to two retries, else FAILED.
 * Success: COMPLETE and the true device's ground state at the final voltage is (1, 1).
 *
 * Every random draw comes from Philox keyed by (seed, purpose) with the trial and a logical
 * index as the counter, so a trial does not depend on threads. The numpy version of the same
 * agent is bench/qdot_phys_ref.py. */
#ifndef FASTSCI_QDOT_PHYS_H
#define FASTSCI_QDOT_PHYS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "fastsci/core/defs.h"
#include "fastsci/qdot.h"

typedef struct fsci__qdot_phys_opts {
    int64_t trial;
    uint64_t seed;
    int64_t particles; /* belief size (4000) */
    double p_goal;     /* posterior of (1, 1) needed at verification (0.95) */
    int retries;       /* navigation retries after a failed verification (2) */
    double lo, hi;     /* voltage bounds of both gates, mV (0, 60) */
    int64_t budget;    /* measurement budget: a scan that would exceed it is not taken (2048) */
    double slew;       /* largest L1 gate step of a move, mV (10): longer moves go in steps */
    /* NULL, or 2 x 61 x 61: the posterior of (1, 1) on the 0..60 mV grid (row = gate 2) after the
     * survey and at the end (for pictures; costs one more grid evaluation) */
    double *belief_maps;
    FILE *log; /* governance log: one JSON line per decision (NULL: none; single trials only) */
} fsci__qdot_phys_opts;

void fsci__qdot_phys_defaults(fsci__qdot_phys_opts *o);

typedef struct fsci__qdot_phys_result {
    bool success;               /* COMPLETE and the true state at v is (1, 1) */
    bool complete;              /* the agent declared COMPLETE */
    int true_n1, true_n2;       /* the true ground state at v */
    int64_t total_measurements; /* points measured */
    int64_t steps;              /* survey + navigation/verification rounds */
    double v[2];                /* final gate voltages, mV */
    double p_final;             /* posterior of (1, 1) at v */
    int64_t moves;              /* gate steps of at most slew (L1) taken between scans */
    double ess;                 /* effective sample size of the final belief */
    double seconds;
    double device[7];     /* true C1, C2, Cm, g11, g12, g21, g22 (aF) */
    double windows[5][4]; /* the verification scans: x0, x1, y0, y1 (mV), steps - 1 of them */
} fsci__qdot_phys_result;

/* The true device of trial o->trial (its capacitances, sensor and noise). */
void fsci__qdot_phys_device(const fsci__qdot_phys_opts *o, fsci_qdot_params *p);

int fsci__qdot_phys_trial(const fsci__qdot_phys_opts *o, fsci__qdot_phys_result *r) FSCI_WUR;

/* ntrials trials (indices base->trial + k) over fsci_parallel_resolve(nthreads) threads. */
int fsci__qdot_phys_bench(const fsci__qdot_phys_opts *base, int ntrials, int nthreads,
                          fsci__qdot_phys_result *results) FSCI_WUR;

#endif
