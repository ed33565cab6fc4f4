/* qdot: the tuning agent of the reference project in compat mode (never installed).
 *
 * One benchmark trial of the reference agent, the same logic as the numpy port
 * bench/qdot_ref.py run_trial (itself the reference's executive.py + benchmark_phase2.py):
 * five stages with retries, backtracks and HITL triggers (auto-approved and counted), the
 * DQC gate, the safety clip and slew limit, the measurement budget guard, the particle
 * filter, the Monte Carlo information-gain modality selector and the GP + UCB navigation of
 * plan.h, measurements through the compat toy model. Flow, RNG keying and caches:
 * doc/qdot_agent.md.
 *
 * Every random draw comes from Philox keyed by (seed, purpose stream) with the counter
 * (0, 0, trial, logical index), so a trial's result depends on (seed, trial, options) only,
 * never on threads or on the other trials.
 *
 * Thread safety: fsci__qdot_trial_run is reentrant (each call owns its workspace); the log
 * stream, if any, must not be shared between concurrent trials. */
#ifndef FASTSCI_QDOT_AGENT_H
#define FASTSCI_QDOT_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "fastsci/core/defs.h"

/* Philox streams of the agent ("qd" engine, components 0x10..): key {seed, stream},
 * counter {0, 0, trial, index}. */
#define FSCI__QDOT_STREAM_PARAMS UINT64_C(0x71640010) /* device parameters, index 0 */
#define FSCI__QDOT_STREAM_DEVICE UINT64_C(0x71640011) /* measurement noise, index = scan number */
#define FSCI__QDOT_STREAM_PART UINT64_C(0x71640012)   /* initial particles, index 0 */
#define FSCI__QDOT_STREAM_RESAMP UINT64_C(0x71640013) /* resampling offset, index = update number */
#define FSCI__QDOT_STREAM_IG UINT64_C(0x71640014)     /* IG draws, index = 4 * select number + modality */
#define FSCI__QDOT_STREAM_BO UINT64_C(0x71640015)     /* BO prior noise, index = navigation number */

/* Stages of the state machine (the reference's TuningStage order). */
typedef enum {
    FSCI__QDOT_BOOT = 0,
    FSCI__QDOT_SURVEY,
    FSCI__QDOT_CHARGE_ID,
    FSCI__QDOT_NAV,
    FSCI__QDOT_VERIF,
    FSCI__QDOT_COMPLETE,
    FSCI__QDOT_FAILED, /* exists in the reference; no transition of this revision reaches it */
    FSCI__QDOT_NSTAGES
} fsci__qdot_stage;

/* Stage name ("BOOTSTRAPPING", ..., "COMPLETE", "FAILED"). */
const char *fsci__qdot_stage_name(int stage);

/* Options of one trial. fsci__qdot_trial_defaults gives the benchmark's full protocol. */
typedef struct fsci__qdot_trial_opts {
    int64_t trial;      /* trial index (>= 0): part of every RNG key */
    uint64_t seed;      /* benchmark seed (42 in the reference's CLI) */
    int64_t budget;     /* measurement budget (>= 1; 2048 full, 512 fast) */
    int64_t max_steps;  /* control steps (>= 1; 100 full, 50 fast) */
    int64_t particles;  /* particle-filter size (1000) */
    int n_mc;           /* Monte Carlo samples of the information gain (8; at most 1024) */
    bool nats;          /* prior entropy in nats (the fix of the log2/ln mix); false: reference */
    bool no_dqc_gate;   /* not the reference: DQC LOW passes as MODERATE (timing workload) */
    bool success_first; /* state machine: a pass advances before the HITL checks (port default) */
    FILE *log;          /* governance log: one JSON line per decision; NULL = none */
    /* Human in the loop: asked when a move's risk score reaches the threshold ("voltage move";
     * refused: the move is not made) and when the state machine calls for a human ("continue
     * after repeated failures"; refused: the trial ends FAILED). NULL: everything approved. */
    bool (*hitl_ask)(void *user, const char *what, double value);
    void *hitl_user;
} fsci__qdot_trial_opts;

/* The benchmark's full protocol: trial 0, seed 42, budget 2048, 100 steps, 1000 particles,
 * 8 MC samples, log2 prior, DQC gate on, success first, no log. */
void fsci__qdot_trial_defaults(fsci__qdot_trial_opts *o);

typedef struct fsci__qdot_trial_result {
    bool success;               /* final stage COMPLETE */
    int64_t total_measurements; /* points measured */
    double reduction;           /* 1 - total / 4096 */
    int final_stage;            /* fsci__qdot_stage */
    int64_t steps;              /* control steps taken */
    int64_t backtracks;         /* total backtracks */
    int64_t hitl_count;         /* HITL triggers (state machine + risk score), auto-approved */
    int64_t decisions;          /* logged decisions (mission start, stage changes, HITL, moves) */
    double seconds;             /* wall time of the trial */
    double device[6];           /* true device: E_c1, E_c2, t_c, T, lever arm, noise (meV, meV/V) */
} fsci__qdot_trial_result;

/* One trial. FSCI_EINVAL naming the field for budget < 1, max_steps < 1, particles < 1,
 * n_mc < 1, trial < 0; FSCI_ENOMEM; errors of the planning components. */
int fsci__qdot_trial_run(const fsci__qdot_trial_opts *o, fsci__qdot_trial_result *r) FSCI_WUR;

/* ntrials trials with indices base->trial + k (k < ntrials) into results[k], in parallel over
 * fsci_parallel_resolve(nthreads) OpenMP threads (schedule dynamic, one trial per task, BLAS single-threaded
 * inside); results do not depend on the thread count. base->log must be NULL (one stream cannot serve
 * concurrent trials). The first failing trial's status is returned. */
int fsci__qdot_bench_run(const fsci__qdot_trial_opts *base, int ntrials, int nthreads,
                         fsci__qdot_trial_result *results) FSCI_WUR;

/* ------------------------------------------------------------------ state machine */

/* The reference's backtracking state machine (planning/state_machine.py, 5-stage revision):
 * per stage (success threshold, max retries, max backtracks) = BOOT (0.5, 3, 0),
 * SURVEY (0.2, 3, 2), CHARGE_ID (0.5, 2, 2), NAV (0.7, 3, 2), VERIF (0.7, 2, 1). */
typedef struct fsci__qdot_sm {
    int stage;
    bool success_first;
    int retries[FSCI__QDOT_NSTAGES];
    int bt_at_stage[FSCI__QDOT_NSTAGES];
    int consecutive_backtracks;
    int total_backtracks;
    /* appearances of each stage in the backtrack log (from or to), in place of the log */
    int bt_log_count[FSCI__QDOT_NSTAGES];
} fsci__qdot_sm;

void fsci__qdot_sm_init(fsci__qdot_sm *sm, bool success_first);

/* Process a stage result: returns the new stage, *hitl whether HITL was triggered (the
 * stage is then kept and no retry is counted). Called only in stages BOOT..VERIF. */
int fsci__qdot_sm_process(fsci__qdot_sm *sm, bool success, double confidence, bool *hitl);

/* ------------------------------------------------------------------ perception and safety */

/* Min-max normalisation to [0, 1] in float32 as the reference's adapter: out = (float)
 * ((float)in - lo) / (float)(hi - lo), lo and hi the float32 extremes; a constant array maps
 * to zeros. out may equal in. */
void fsci__qdot_normalise_f32(const double *in, int64_t n, double *out);

/* Deterministic classifier of the numpy port (doc/qdot_reference_port.md section 3). */
typedef struct fsci__qdot_verdict {
    int label; /* fsci__qdot_label: DOUBLE_DOT, SINGLE_DOT or MISC */
    double confidence;
    bool physics_override;
    double log_std, axis_corr, diag_strength; /* the features used */
} fsci__qdot_verdict;

/* Classify a res x res row-major patch (res in [2, 64]). The port's fft_peak_ratio is not
 * computed: its only rule needs label double-dot with diag_strength < 0.25, which the
 * decision rule never produces (double-dot requires diag_strength >= 0.25). */
void fsci__qdot_classify(const double *patch, int res, fsci__qdot_verdict *out);

/* safety_clip: scale delta to |d|_1 <= l1_max, then clip v + delta into bounds
 * (lo[i], hi[i]); safe[2] = target - v. Returns whether anything was clipped. */
bool fsci__qdot_safety_clip(const double *v, const double *delta, const double *lo, const double *hi,
                            double l1_max, double *safe);

/* hitl_risk: fixed penalties summed and capped at 1 (step 1 gives 1); dqc as
 * fsci__qdot_dqc_quality. */
double fsci__qdot_hitl_risk(double margin, double l1_step, double l1_max, int dqc, double ood,
                            double disagreement, int consecutive_backtracks, int64_t step);

#endif
