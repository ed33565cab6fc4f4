/* qdot: Monte Carlo information gain per modality and the modality selector
 * (doc/qdot_planning.md, section 2).
 *
 * IG = H(prior) - (1/M) sum_m H(p(. | o_m)), o_m = pred[hyp[m]] + eps[m], with the
 * pixel-mean Gaussian log-likelihood of belief.c. The non-compat path gets all M x S
 * residual sums from one GEMM: |o - p|^2 = |o|^2 - 2 o.p + |p|^2. The compat path keeps the
 * reference's arithmetic, including fresh noise on every prediction (eta), which rules out
 * the GEMM. */
#include <cblas.h>
#include <limits.h>
#include <math.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/error.h"
#include "qdot/plan.h"

const int fsci__qdot_mod_cost[FSCI__QDOT_NMOD] = {128, 256, 1024, 4096};
const int fsci__qdot_mod_resolution[FSCI__QDOT_NMOD] = {128, 16, 32, 64};

struct fsci__qdot_ig {
    int64_t S, P, M;
    double *obs;   /* [M x P] simulated observations */
    double *dot;   /* [M x S] o_m . p_s */
    double *pnorm; /* [S] |p_s|^2 */
    double *lw;    /* [S] posterior log-weights of one sample */
};

int fsci__qdot_ig_create(int64_t S, int64_t P, int64_t M, fsci__qdot_ig **out)
{
    int st = FSCI_OK;
    fsci__qdot_ig *ws = NULL;
    FSCI_CHECK(out != NULL, FSCI_EINVAL, "qdot information gain: out is NULL");
    *out = NULL;
    FSCI_CHECK(S >= 1 && S <= INT_MAX, FSCI_EINVAL,
               "qdot information gain: S = %lld hypotheses, must be in [1, %d]", (long long)S, INT_MAX);
    FSCI_CHECK(P >= 1 && P <= INT_MAX, FSCI_EINVAL,
               "qdot information gain: P = %lld pixels, must be in [1, %d]", (long long)P, INT_MAX);
    FSCI_CHECK(M >= 1 && M <= INT_MAX, FSCI_EINVAL,
               "qdot information gain: M = %lld samples, must be in [1, %d]", (long long)M, INT_MAX);
    ws = fsci_calloc(1, sizeof *ws);
    FSCI_CHECK_GOTO(ws != NULL, FSCI_ENOMEM, "qdot information gain: out of memory");
    ws->S = S;
    ws->P = P;
    ws->M = M;
    ws->obs = fsci_malloc((size_t)M, (size_t)P * sizeof(double));
    ws->dot = fsci_malloc((size_t)M, (size_t)S * sizeof(double));
    ws->pnorm = fsci_malloc((size_t)S, sizeof(double));
    ws->lw = fsci_malloc((size_t)S, sizeof(double));
    FSCI_CHECK_GOTO(ws->obs && ws->dot && ws->pnorm && ws->lw, FSCI_ENOMEM,
                    "qdot information gain: out of memory for M = %lld, S = %lld, P = %lld", (long long)M,
                    (long long)S, (long long)P);
    *out = ws;
    return FSCI_OK;
fail:
    fsci__qdot_ig_destroy(&ws);
    return st;
}

void fsci__qdot_ig_destroy(fsci__qdot_ig **p)
{
    if (p == NULL || *p == NULL) return;
    fsci__qdot_ig *ws = *p;
    fsci_free(ws->obs);
    fsci_free(ws->dot);
    fsci_free(ws->pnorm);
    fsci_free(ws->lw);
    fsci_free(ws);
    *p = NULL;
}

/* -sum p log p over p > 0, natural log. */
static double entropy_nats(const double *p, int64_t n)
{
    double h = 0.0;
    for (int64_t i = 0; i < n; i++)
        if (p[i] > 0.0) h -= p[i] * log(p[i]);
    return h;
}

double fsci__qdot_prior_entropy(const double *probs, int64_t S, const fsci__qdot_ig_opts *o)
{
    if (!o->compat) {
        double sum = 0.0;
        for (int64_t s = 0; s < S; s++) sum += probs[s];
        double h = 0.0;
        for (int64_t s = 0; s < S; s++)
            if (probs[s] > 0.0) h -= (probs[s] / sum) * log(probs[s] / sum);
        return h;
    }
    double h;
    if (o->prior_log2) {
        h = 0.0;
        for (int64_t s = 0; s < S; s++)
            if (probs[s] > 0.0) h -= probs[s] * log2(probs[s]);
    } else {
        h = entropy_nats(probs, S);
    }
    /* The reference's fallback for an entropy of exactly 0: nats of probs / (sum + 1e-12)
     * over entries > 1e-10. */
    if (h == 0.0) {
        double sum = 0.0;
        for (int64_t s = 0; s < S; s++) sum += probs[s];
        for (int64_t s = 0; s < S; s++) {
            double q = probs[s] / (sum + 1e-12);
            if (q > 1e-10) h -= q * log(q);
        }
    }
    return h;
}

/* Posterior entropy of one compat sample: log(p + 1e-12) + ll over states with p > 0,
 * shifted by the max, exp, divided by (sum + 1e-12), entropy over weights > 1e-10. */
static double post_entropy_compat(fsci__qdot_ig *ws, const double *pred, const double *probs, const double *o,
                                  const double *eta_m, double sigma)
{
    int64_t S = ws->S, P = ws->P;
    double mx = -INFINITY;
    for (int64_t s = 0; s < S; s++) {
        if (!(probs[s] > 0.0)) continue;
        const double *p = pred + s * P;
        const double *e = eta_m ? eta_m + s * P : NULL;
        double acc = 0.0;
        for (int64_t k = 0; k < P; k++) {
            double d = (o[k] - (e ? p[k] + e[k] : p[k])) / sigma;
            acc += d * d;
        }
        ws->lw[s] = log(probs[s] + 1e-12) - 0.5 * (acc / (double)P);
        if (ws->lw[s] > mx) mx = ws->lw[s];
    }
    if (isinf(mx)) return 0.0;
    double sum = 0.0;
    for (int64_t s = 0; s < S; s++) {
        if (!(probs[s] > 0.0)) continue;
        ws->lw[s] = exp(ws->lw[s] - mx);
        sum += ws->lw[s];
    }
    double h = 0.0;
    for (int64_t s = 0; s < S; s++) {
        if (!(probs[s] > 0.0)) continue;
        double w = ws->lw[s] / (sum + 1e-12);
        if (w > 1e-10) h -= w * log(w);
    }
    return h;
}

/* Posterior entropy of sample m from the GEMM products: exact log-sum-exp, H = -sum w lw. */
static double post_entropy_gemm(fsci__qdot_ig *ws, const double *probs, double psum, int64_t m, double onorm,
                                double sigma)
{
    int64_t S = ws->S;
    double scale = -0.5 / ((double)ws->P * sigma * sigma);
    const double *g = ws->dot + m * S;
    double mx = -INFINITY;
    for (int64_t s = 0; s < S; s++) {
        if (!(probs[s] > 0.0)) continue;
        double d2 = onorm - 2.0 * g[s] + ws->pnorm[s];
        if (d2 < 0.0) d2 = 0.0; /* cancellation when o is close to p_s */
        ws->lw[s] = log(probs[s] / psum) + scale * d2;
        if (ws->lw[s] > mx) mx = ws->lw[s];
    }
    double sum = 0.0;
    for (int64_t s = 0; s < S; s++)
        if (probs[s] > 0.0) sum += exp(ws->lw[s] - mx);
    double lse = mx + log(sum), h = 0.0;
    for (int64_t s = 0; s < S; s++) {
        if (!(probs[s] > 0.0)) continue;
        double l = ws->lw[s] - lse;
        h -= exp(l) * l;
    }
    return h;
}

static int check_ig_args(const fsci__qdot_ig *ws, const double *pred, const double *probs, const int32_t *hyp,
                         const double *eps, const fsci__qdot_ig_opts *o, const double *ig)
{
    FSCI_CHECK(ws && pred && probs && hyp && eps && o && ig, FSCI_EINVAL,
               "qdot information gain: NULL argument");
    FSCI_CHECK(o->sigma > 0.0 && isfinite(o->sigma), FSCI_EINVAL,
               "qdot information gain: sigma = %g, must be > 0", o->sigma);
    for (int64_t s = 0; s < ws->S; s++)
        FSCI_CHECK(probs[s] >= 0.0 && isfinite(probs[s]), FSCI_EINVAL,
                   "qdot information gain: probs[%lld] = %g, must be finite and >= 0", (long long)s,
                   probs[s]);
    for (int64_t m = 0; m < ws->M; m++)
        FSCI_CHECK(hyp[m] >= 0 && hyp[m] < ws->S && probs[hyp[m]] > 0.0, FSCI_EINVAL,
                   "qdot information gain: hyp[%lld] = %d, must index a hypothesis of positive probability",
                   (long long)m, (int)hyp[m]);
    return FSCI_OK;
}

int fsci__qdot_ig_eval(fsci__qdot_ig *ws, const double *pred, const double *probs, const int32_t *hyp,
                       const double *eps, const double *eta, const fsci__qdot_ig_opts *o, double *ig)
{
    int st = check_ig_args(ws, pred, probs, hyp, eps, o, ig);
    if (st < 0) return st;
    int64_t S = ws->S, P = ws->P, M = ws->M;
    double prior_h = fsci__qdot_prior_entropy(probs, S, o);
    if (o->compat && prior_h < 1e-10) {
        *ig = 0.0;
        return FSCI_OK;
    }
    for (int64_t m = 0; m < M; m++) {
        const double *p = pred + (int64_t)hyp[m] * P, *e = eps + m * P;
        double *ob = ws->obs + m * P;
        for (int64_t k = 0; k < P; k++) ob[k] = p[k] + e[k];
    }
    double hsum = 0.0;
    if (o->compat) {
        for (int64_t m = 0; m < M; m++)
            hsum +=
                post_entropy_compat(ws, pred, probs, ws->obs + m * P, eta ? eta + m * S * P : NULL, o->sigma);
        double v = prior_h - hsum / (double)M;
        *ig = v > 0.0 ? v : 0.0;
        return FSCI_OK;
    }
    /* dot[M x S] = obs[M x P] . pred[S x P]^T: every cross term of every sample at once. */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)S, (int)P, 1.0, ws->obs, (int)P, pred,
                (int)P, 0.0, ws->dot, (int)S);
    double psum = 0.0;
    for (int64_t s = 0; s < S; s++) {
        const double *p = pred + s * P;
        double a = 0.0;
        for (int64_t k = 0; k < P; k++) a += p[k] * p[k];
        ws->pnorm[s] = a;
        psum += probs[s];
    }
    for (int64_t m = 0; m < M; m++) {
        const double *ob = ws->obs + m * P;
        double a = 0.0;
        for (int64_t k = 0; k < P; k++) a += ob[k] * ob[k];
        hsum += post_entropy_gemm(ws, probs, psum, m, a, o->sigma);
    }
    *ig = prior_h - hsum / (double)M;
    return FSCI_OK;
}

void fsci__qdot_select_begin(fsci__qdot_select_state *st)
{
    st->best_score = -1.0;
    st->best = FSCI__QDOT_MOD_NONE;
}

bool fsci__qdot_select_skip(const fsci__qdot_select_state *st, double prior_H, int mod)
{
    if (!isfinite(prior_H)) return false;
    return prior_H / (double)fsci__qdot_mod_cost[mod] <= st->best_score;
}

void fsci__qdot_select_offer(fsci__qdot_select_state *st, int mod, double ig)
{
    double score = ig / (double)fsci__qdot_mod_cost[mod];
    if (score > st->best_score) {
        st->best_score = score;
        st->best = mod;
    }
}

int fsci__qdot_select_end(const fsci__qdot_select_state *st, double thresh, double *score)
{
    if (score) *score = st->best_score;
    return st->best_score < thresh ? FSCI__QDOT_MOD_NONE : st->best;
}
