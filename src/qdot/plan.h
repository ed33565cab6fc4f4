/* qdot: planning components of the double-quantum-dot tuning engine (never installed).
 *
 *   belief.c   particle filter over charge states (n1, n2) in {0..nmax}^2
 *   sensing.c  Monte Carlo information gain per measurement modality, and the selector
 *   gp.c       Gaussian process (RBF, Matern 5/2) with an appended Cholesky factor, UCB
 *   dqc.c      data-quality gate (SNR, dynamic range, flatness, plausibility)
 *
 * The formulas, the reference project's quirks that compat mode keeps and what the
 * non-compat path does instead are in doc/qdot_planning.md. Every random input (initial
 * particles, the resampling offset, Monte Carlo hypotheses and noise) is an argument, so
 * another implementation fed the same numbers gives the same results.
 *
 * State index: s = n1 * (nmax + 1) + n2, S = (nmax + 1)^2 states.
 * Thread safety: functions on distinct objects may run concurrently; const objects may be
 * shared (predict and UCB take the caller's workspace). */
#ifndef FASTSCI_QDOT_PLAN_H
#define FASTSCI_QDOT_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "fastsci/core/defs.h"

/* Philox stream of the initial particle draws: "qd" (0x7164) engine, component 1. */
#define FSCI__QDOT_STREAM_PF UINT64_C(0x71640001)

/* ------------------------------------------------------------------ particle filter */

/* Classification label given with a 2-D measurement (the boost rules of the reference). */
typedef enum {
    FSCI__QDOT_LABEL_NONE = 0,   /* no classification: no boost */
    FSCI__QDOT_LABEL_DOUBLE_DOT, /* +1.5 conf where n1 >= 1 and n2 >= 1 */
    FSCI__QDOT_LABEL_SINGLE_DOT, /* +1.0 conf where n1 == 0 or n2 == 0 */
    FSCI__QDOT_LABEL_MISC,       /* +0.5 conf where n1 + n2 == 0 */
    FSCI__QDOT_LABEL_OTHER       /* any other label: no boost */
} fsci__qdot_label;

/* n particles, state[i] in [0, S), log-weights logw[i]. w, cum, st2, probs: workspace and
 * by-products owned by the filter (w: normalised weights after fsci__qdot_pf_weights,
 * probs: charge probabilities per state after fsci__qdot_pf_charge_probs). */
typedef struct fsci__qdot_pf {
    int64_t n;
    int nmax;
    int32_t *state;
    double *logw;
    double *w;
    double *cum;
    int32_t *st2;
    double *probs;
} fsci__qdot_pf;

/* Number of states (nmax + 1)^2. */
static inline int64_t fsci__qdot_nstates(int nmax)
{
    return (int64_t)(nmax + 1) * (nmax + 1);
}

/* A filter of n >= 1 particles over nmax in [0, 1000]; all particles in state 0 with
 * uniform log-weights -log n until initialised. FSCI_EINVAL, FSCI_ENOMEM. */
int fsci__qdot_pf_create(int64_t n, int nmax, fsci__qdot_pf **out) FSCI_WUR;
void fsci__qdot_pf_destroy(fsci__qdot_pf **p);

/* Particles from given state indices states[n] (each in [0, S)); log-weights -log n. */
int fsci__qdot_pf_init_states(fsci__qdot_pf *pf, const int32_t *states) FSCI_WUR;

/* Particles drawn uniformly: state[i] = floor(u_i S), u_i the i-th fsci_rng_uniform of
 * fsci_rng_init(seed, stream, 0, 0); log-weights -log n. */
int fsci__qdot_pf_init_uniform(fsci__qdot_pf *pf, uint64_t seed, uint64_t stream) FSCI_WUR;

/* Gaussian pixel-mean log-likelihood -0.5 mean_p ((obs_p - pred_p) / sigma)^2 over P pixels.
 * The reference divides by sigma + 1e-8: pass that as sigma to match it. */
double fsci__qdot_ll_gauss(const double *obs, const double *pred, int64_t P, double sigma);

/* log-sum-exp of x[0..n): max + log sum exp(x - max); -inf if every x is -inf. */
double fsci__qdot_logsumexp(const double *x, int64_t n);

/* logw[i] += wf * ll_state[state[i]]: ll_state has S entries, one per distinct state
 * (compute them once per state, not per particle). */
void fsci__qdot_pf_add_ll(fsci__qdot_pf *pf, const double *ll_state, double wf);

/* Classification boost: logw[i] += rule(label, state[i]) * conf (see fsci__qdot_label). */
void fsci__qdot_pf_boost(fsci__qdot_pf *pf, fsci__qdot_label label, double conf);

/* logw -= logsumexp(logw). FSCI_ERANGE if every log-weight is -inf or one is NaN/+inf. */
int fsci__qdot_pf_normalise(fsci__qdot_pf *pf) FSCI_WUR;

/* pf->w = exp(logw - logsumexp(logw)); returns the effective sample size 1 / sum w^2. */
double fsci__qdot_pf_weights(fsci__qdot_pf *pf);

/* probs[s] = sum of w over particles in state s (S entries; call fsci__qdot_pf_weights
 * first). probs may be pf->probs. */
void fsci__qdot_pf_charge_probs(const fsci__qdot_pf *pf, double *probs);

/* Systematic resampling indices in O(n) with two pointers: idx[i] = min(j_i, n - 1), j_i the
 * first j with cum[j] >= (i + u) / n, cum the running sum of w in index order: exactly
 * numpy's searchsorted(cumsum(w), positions) (side 'left'). u in [0, 1). cum: n workspace. */
void fsci__qdot_resample_indices(const double *w, int64_t n, double u, double *cum, int64_t *idx);

/* Systematic resampling of the particles with offset u (w from fsci__qdot_pf_weights);
 * log-weights reset to -log n. */
void fsci__qdot_pf_resample(fsci__qdot_pf *pf, double u);

/* One measurement update, in the reference's order: wf = 0.5 if override else 1;
 * logw += wf ll_state[state]; boost unless override (label NONE: none); normalise; weights;
 * resample with u when ESS < frac * n (frac 0.5 in the reference). *resampled (may be NULL)
 * says whether it did; pf->w and the ESS then describe the filter after the step. */
int fsci__qdot_pf_step(fsci__qdot_pf *pf, const double *ll_state, fsci__qdot_label label, double conf,
                       bool override, double frac, double u, bool *resampled) FSCI_WUR;

/* ------------------------------------------------------------------ information gain */

/* Modalities of the selector, in the reference's evaluation order. */
enum {
    FSCI__QDOT_MOD_NONE = -1,
    FSCI__QDOT_MOD_LINE = 0, /* line scan, 128 points */
    FSCI__QDOT_MOD_COARSE,   /* 16 x 16 */
    FSCI__QDOT_MOD_LOCAL,    /* 32 x 32 */
    FSCI__QDOT_MOD_FINE,     /* 64 x 64 */
    FSCI__QDOT_NMOD
};
extern const int fsci__qdot_mod_cost[FSCI__QDOT_NMOD];       /* 128, 256, 1024, 4096 points */
extern const int fsci__qdot_mod_resolution[FSCI__QDOT_NMOD]; /* 128, 16, 32, 64 */

/* compat: the reference's arithmetic (1e-12 guards, noisy predictions eta, clip at 0);
 * otherwise one GEMM, exact log-sum-exp posteriors, no clip. prior_log2: prior entropy in
 * bits (the reference's BeliefState.entropy) while posteriors stay in nats; false: nats. */
typedef struct {
    double sigma;
    bool compat;
    bool prior_log2;
} fsci__qdot_ig_opts;

/* Workspace for S hypotheses, P pixels, M samples. */
typedef struct fsci__qdot_ig fsci__qdot_ig;
int fsci__qdot_ig_create(int64_t S, int64_t P, int64_t M, fsci__qdot_ig **out) FSCI_WUR;
void fsci__qdot_ig_destroy(fsci__qdot_ig **p);

/* Prior entropy of probs[S] as the selected path defines it (see doc). */
double fsci__qdot_prior_entropy(const double *probs, int64_t S, const fsci__qdot_ig_opts *o);

/* Expected information gain H(prior) - mean_m H(posterior | o_m) into *ig.
 *   pred  [S x P]    predicted mean patch of each hypothesis (row-major)
 *   probs [S]        prior probabilities (>= 0; summing to 1 up to rounding)
 *   hyp   [M]        hypothesis drawn for sample m (index into pred; needs probs > 0)
 *   eps   [M x P]    observation noise, already scaled: o_m = pred[hyp[m]] + eps[m]
 *   eta   [M x S x P] prediction noise (compat only; NULL: none; ignored otherwise)
 * Sizes must equal the workspace's. FSCI_EINVAL on bad arguments. */
int fsci__qdot_ig_eval(fsci__qdot_ig *ws, const double *pred, const double *probs, const int32_t *hyp,
                       const double *eps, const double *eta, const fsci__qdot_ig_opts *o,
                       double *ig) FSCI_WUR;

/* Selector: score = IG / cost over the modalities in order, strictly better replaces.
 * skip() is the reference's cheap bound (skip when prior_H / cost <= best score; prior_H
 * as BeliefState.entropy, +inf = never skip): it never changes the result, only which IGs
 * need computing (and thus random draws). end() gives NONE if the best score < thresh. */
typedef struct {
    double best_score;
    int best;
} fsci__qdot_select_state;
void fsci__qdot_select_begin(fsci__qdot_select_state *st);
bool fsci__qdot_select_skip(const fsci__qdot_select_state *st, double prior_H, int mod);
void fsci__qdot_select_offer(fsci__qdot_select_state *st, int mod, double ig);
int fsci__qdot_select_end(const fsci__qdot_select_state *st, double thresh, double *score);

/* ------------------------------------------------------------------ Gaussian process */

typedef enum { FSCI__QDOT_KERN_RBF = 0, FSCI__QDOT_KERN_MATERN52 } fsci__qdot_kern;

/* GP over 2-D points: the reference's defaults are RBF, ell 0.05 V, s2 0.5, noise 0.01. */
typedef struct fsci__qdot_gp {
    fsci__qdot_kern kern;
    double ell, s2, noise;
    int64_t n, cap;
    double *x;     /* [cap x 2] points */
    double *r;     /* [cap] residuals y - m(X) */
    double *L;     /* [cap x cap] lower Cholesky factor of K + noise I, leading dim cap */
    double *alpha; /* [cap] (K + noise I)^-1 r */
    double jitter; /* total diagonal jitter added so far (0 normally) */
} fsci__qdot_gp;

int fsci__qdot_gp_create(fsci__qdot_kern kern, double ell, double s2, double noise, int64_t cap,
                         fsci__qdot_gp **out) FSCI_WUR;
void fsci__qdot_gp_destroy(fsci__qdot_gp **p);

/* Kernel value k(a, b). */
double fsci__qdot_gp_kernel(const fsci__qdot_gp *gp, const double *a, const double *b);

/* Replace the data by n points x[n x 2] with residuals r[n]: one LAPACKE_dpotrf of
 * K + noise I, retried once with 1e-6 I added on failure. FSCI_EINVAL, FSCI_ERANGE. */
int fsci__qdot_gp_fit(fsci__qdot_gp *gp, int64_t n, const double *x, const double *r) FSCI_WUR;

/* Add one point in O(n^2): l = L^-1 k, d = sqrt(k(x,x) + noise - l.l) appended as a new
 * row (1e-6 added to d^2 if it is not positive). FSCI_ERANGE when full or still singular. */
int fsci__qdot_gp_append(fsci__qdot_gp *gp, const double *x, double r) FSCI_WUR;

/* Posterior at x given the prior mean m there: mean = m + k.alpha, var = max(0, k(x,x) -
 * |L^-1 k|^2); without data (m, s2). work: n doubles. */
void fsci__qdot_gp_predict(const fsci__qdot_gp *gp, const double *x, double m, double *work, double *mean,
                           double *var);

/* Prior mean callback for the UCB search (NULL: zero). */
typedef double (*fsci__qdot_mean_fn)(const double *x, void *ctx);

/* Maximise mu + beta sqrt(var) over the box [lo, hi] (per axis, lo <= hi): a 21 x 21 grid
 * with end points, then 3 rounds of an 11 x 11 grid over +-1 previous spacing around the
 * best point (clipped to the box); ties keep the first point in grid order (axis 0 outer).
 * Deterministic. work: n doubles. */
int fsci__qdot_gp_ucb_max(const fsci__qdot_gp *gp, const double *lo, const double *hi, double beta,
                          fsci__qdot_mean_fn mean_fn, void *ctx, double *work, double *xbest,
                          double *ucb) FSCI_WUR;

/* ------------------------------------------------------------------ data-quality gate */

typedef enum { FSCI__QDOT_DQC_HIGH = 0, FSCI__QDOT_DQC_MODERATE, FSCI__QDOT_DQC_LOW } fsci__qdot_dqc_quality;

/* Thresholds; dr_bypass > 0 reproduces the later reference revision (SNR-LOW only when the
 * dynamic range is also < dr_bypass, 0.8 there); 0 = the revision the notes describe. */
typedef struct {
    double snr_high, snr_low, dr_min, flat_min, dr_bypass;
} fsci__qdot_dqc_opts;

typedef struct {
    fsci__qdot_dqc_quality quality;
    double snr_db, dynamic_range, flatness;
    bool plausible, nonfinite, out_of_range;
} fsci__qdot_dqc_result;

/* 20 dB, 10 dB, 0.3, 1e-4, bypass off. */
void fsci__qdot_dqc_defaults(fsci__qdot_dqc_opts *o);

/* Assess a 1-D line (ndim 1, n1 ignored) or a 2-D row-major patch n0 x n1 of doubles.
 * work: 2 n0 n1 doubles. FSCI_EINVAL on bad sizes or NULL pointers. */
int fsci__qdot_dqc_assess(const double *a, int ndim, int64_t n0, int64_t n1, const fsci__qdot_dqc_opts *o,
                          double *work, fsci__qdot_dqc_result *res) FSCI_WUR;

#endif
