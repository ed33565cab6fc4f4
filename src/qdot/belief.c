/* qdot: particle filter over charge states (doc/qdot_planning.md, section 1).
 *
 * Particles live on a lattice of S = (nmax + 1)^2 states, so likelihoods are taken per
 * distinct state and scattered (the caller's table); weights, ESS and charge probabilities
 * come from one pass; systematic resampling walks the cumulative weights with two pointers
 * and reproduces numpy's searchsorted indices exactly. */
#include <math.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/error.h"
#include "fastsci/core/rng.h"
#include "qdot/plan.h"

int fsci__qdot_pf_create(int64_t n, int nmax, fsci__qdot_pf **out)
{
    int st = FSCI_OK;
    fsci__qdot_pf *pf = NULL;
    FSCI_CHECK(out != NULL, FSCI_EINVAL, "qdot particle filter: out is NULL");
    *out = NULL;
    FSCI_CHECK(n >= 1 && n <= (INT64_C(1) << 40), FSCI_EINVAL,
               "qdot particle filter: n_particles = %lld, must be in [1, 2^40]", (long long)n);
    FSCI_CHECK(nmax >= 0 && nmax <= 1000, FSCI_EINVAL,
               "qdot particle filter: nmax = %d, must be in [0, 1000]", nmax);
    int64_t S = fsci__qdot_nstates(nmax);
    pf = fsci_calloc(1, sizeof *pf);
    FSCI_CHECK_GOTO(pf != NULL, FSCI_ENOMEM, "qdot particle filter: out of memory");
    pf->n = n;
    pf->nmax = nmax;
    pf->state = fsci_calloc((size_t)n, sizeof *pf->state);
    pf->st2 = fsci_malloc((size_t)n, sizeof *pf->st2);
    pf->logw = fsci_malloc((size_t)n, sizeof *pf->logw);
    pf->w = fsci_malloc((size_t)n, sizeof *pf->w);
    pf->cum = fsci_malloc((size_t)n, sizeof *pf->cum);
    pf->probs = fsci_calloc((size_t)S, sizeof *pf->probs);
    FSCI_CHECK_GOTO(pf->state && pf->st2 && pf->logw && pf->w && pf->cum && pf->probs, FSCI_ENOMEM,
                    "qdot particle filter: out of memory for %lld particles", (long long)n);
    double lw0 = -log((double)n);
    for (int64_t i = 0; i < n; i++) pf->logw[i] = lw0;
    *out = pf;
    return FSCI_OK;
fail:
    fsci__qdot_pf_destroy(&pf);
    return st;
}

void fsci__qdot_pf_destroy(fsci__qdot_pf **p)
{
    if (p == NULL || *p == NULL) return;
    fsci__qdot_pf *pf = *p;
    fsci_free(pf->state);
    fsci_free(pf->st2);
    fsci_free(pf->logw);
    fsci_free(pf->w);
    fsci_free(pf->cum);
    fsci_free(pf->probs);
    fsci_free(pf);
    *p = NULL;
}

static void reset_logw(fsci__qdot_pf *pf)
{
    double lw0 = -log((double)pf->n);
    for (int64_t i = 0; i < pf->n; i++) pf->logw[i] = lw0;
}

int fsci__qdot_pf_init_states(fsci__qdot_pf *pf, const int32_t *states)
{
    FSCI_CHECK(pf != NULL && states != NULL, FSCI_EINVAL, "qdot particle filter: NULL argument");
    int64_t S = fsci__qdot_nstates(pf->nmax);
    for (int64_t i = 0; i < pf->n; i++)
        FSCI_CHECK(states[i] >= 0 && states[i] < S, FSCI_EINVAL,
                   "qdot particle filter: states[%lld] = %d, must be in [0, %lld)", (long long)i,
                   (int)states[i], (long long)S);
    for (int64_t i = 0; i < pf->n; i++) pf->state[i] = states[i];
    reset_logw(pf);
    return FSCI_OK;
}

int fsci__qdot_pf_init_uniform(fsci__qdot_pf *pf, uint64_t seed, uint64_t stream)
{
    FSCI_CHECK(pf != NULL, FSCI_EINVAL, "qdot particle filter: NULL filter");
    int64_t S = fsci__qdot_nstates(pf->nmax);
    fsci_rng r;
    fsci_rng_init(&r, seed, stream, 0, 0);
    for (int64_t i = 0; i < pf->n; i++) {
        int64_t s = (int64_t)(fsci_rng_uniform(&r) * (double)S);
        pf->state[i] = (int32_t)(s < S ? s : S - 1);
    }
    reset_logw(pf);
    return FSCI_OK;
}

double fsci__qdot_ll_gauss(const double *obs, const double *pred, int64_t P, double sigma)
{
    double acc = 0.0;
    for (int64_t p = 0; p < P; p++) {
        double d = (obs[p] - pred[p]) / sigma;
        acc += d * d;
    }
    return -0.5 * (acc / (double)P);
}

double fsci__qdot_logsumexp(const double *x, int64_t n)
{
    double mx = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        if (x[i] > mx) mx = x[i];
    if (!isfinite(mx)) return mx;
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += exp(x[i] - mx);
    return mx + log(s);
}

void fsci__qdot_pf_add_ll(fsci__qdot_pf *pf, const double *ll_state, double wf)
{
    for (int64_t i = 0; i < pf->n; i++) pf->logw[i] += wf * ll_state[pf->state[i]];
}

/* Boost of one state under a label, the reference's three rules (first match wins). */
static double boost_of(fsci__qdot_label label, int n1, int n2, double conf)
{
    switch (label) {
    case FSCI__QDOT_LABEL_DOUBLE_DOT: return (n1 >= 1 && n2 >= 1) ? conf * 1.5 : 0.0;
    case FSCI__QDOT_LABEL_SINGLE_DOT: return (n1 == 0 || n2 == 0) ? conf * 1.0 : 0.0;
    case FSCI__QDOT_LABEL_MISC: return (n1 + n2 == 0) ? conf * 0.5 : 0.0;
    default: return 0.0;
    }
}

void fsci__qdot_pf_boost(fsci__qdot_pf *pf, fsci__qdot_label label, double conf)
{
    int m = pf->nmax + 1;
    for (int64_t i = 0; i < pf->n; i++) {
        int s = pf->state[i];
        pf->logw[i] += boost_of(label, s / m, s % m, conf);
    }
}

int fsci__qdot_pf_normalise(fsci__qdot_pf *pf)
{
    double lse = fsci__qdot_logsumexp(pf->logw, pf->n);
    FSCI_CHECK(isfinite(lse), FSCI_ERANGE, "qdot particle filter: log-sum-exp of the log-weights is %g", lse);
    for (int64_t i = 0; i < pf->n; i++) pf->logw[i] -= lse;
    return FSCI_OK;
}

double fsci__qdot_pf_weights(fsci__qdot_pf *pf)
{
    double lse = fsci__qdot_logsumexp(pf->logw, pf->n);
    double s2 = 0.0;
    for (int64_t i = 0; i < pf->n; i++) {
        pf->w[i] = exp(pf->logw[i] - lse);
        s2 += pf->w[i] * pf->w[i];
    }
    return 1.0 / s2;
}

void fsci__qdot_pf_charge_probs(const fsci__qdot_pf *pf, double *probs)
{
    int64_t S = fsci__qdot_nstates(pf->nmax);
    for (int64_t s = 0; s < S; s++) probs[s] = 0.0;
    for (int64_t i = 0; i < pf->n; i++) probs[pf->state[i]] += pf->w[i];
}

void fsci__qdot_resample_indices(const double *w, int64_t n, double u, double *cum, int64_t *idx)
{
    /* Running sum in index order, as numpy's cumsum: the same doubles as the reference. */
    double c = 0.0;
    for (int64_t j = 0; j < n; j++) {
        c += w[j];
        cum[j] = c;
    }
    /* Positions (i + u) / n are non-decreasing in i (rounding is monotone), so the first
     * j with cum[j] >= position only moves forward. */
    int64_t j = 0;
    for (int64_t i = 0; i < n; i++) {
        double pos = ((double)i + u) / (double)n;
        while (j < n && cum[j] < pos) j++;
        idx[i] = j < n ? j : n - 1;
    }
}

void fsci__qdot_pf_resample(fsci__qdot_pf *pf, double u)
{
    int64_t n = pf->n;
    double c = 0.0;
    for (int64_t j = 0; j < n; j++) {
        c += pf->w[j];
        pf->cum[j] = c;
    }
    int64_t j = 0;
    for (int64_t i = 0; i < n; i++) {
        double pos = ((double)i + u) / (double)n;
        while (j < n && pf->cum[j] < pos) j++;
        pf->st2[i] = pf->state[j < n ? j : n - 1];
    }
    int32_t *t = pf->state;
    pf->state = pf->st2;
    pf->st2 = t;
    reset_logw(pf);
}

int fsci__qdot_pf_step(fsci__qdot_pf *pf, const double *ll_state, fsci__qdot_label label, double conf,
                       bool override, double frac, double u, bool *resampled)
{
    FSCI_CHECK(pf != NULL && ll_state != NULL, FSCI_EINVAL, "qdot particle filter: NULL argument");
    FSCI_CHECK(u >= 0.0 && u < 1.0, FSCI_EINVAL,
               "qdot particle filter: resampling offset u = %g, must be in [0, 1)", u);
    if (resampled) *resampled = false;
    fsci__qdot_pf_add_ll(pf, ll_state, override ? 0.5 : 1.0);
    if (label != FSCI__QDOT_LABEL_NONE && !override) fsci__qdot_pf_boost(pf, label, conf);
    int st = fsci__qdot_pf_normalise(pf);
    if (st < 0) return st;
    double ess = fsci__qdot_pf_weights(pf);
    if (ess < (double)pf->n * frac) {
        fsci__qdot_pf_resample(pf, u);
        fsci__qdot_pf_weights(pf);
        if (resampled) *resampled = true;
    }
    return FSCI_OK;
}
