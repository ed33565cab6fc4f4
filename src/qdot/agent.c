/* qdot agent: one benchmark trial of the reference tuning agent in compat mode, the logic of
 * the numpy port bench/qdot_ref.py (_Agent, run_trial); doc/qdot_agent.md.
 *
 * Speed comes from three things, none of which changes the agent's logic:
 *   - forward predictions of all 25 charge states are computed once per scan geometry and
 *     kept in a small cache per modality (IG, sensing parameters) and per resolution (belief
 *     update, belief parameters): the survey's geometry never changes, CHARGE_ID's and
 *     VERIFICATION's only when the voltage moves;
 *   - the information gain's noisy predictions (the reference adds fresh N(0, 0.02^2) noise to
 *     every predicted pixel, M x S x P draws) are drawn in distribution from their sufficient
 *     statistic: sum_k (d_k - eta_k)^2 = (|d| - 0.02 z)^2 + 0.02^2 chi^2_{P-1} exactly in
 *     distribution (rotate eta so that its first axis is along d), two draws per (m, s);
 *   - one workspace per trial, nothing allocated per step. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/error.h"
#include "fastsci/core/parallel.h"
#include "fastsci/core/rng.h"
#include "fastsci/qdot.h"
#include "qdot/agent.h"
#include "qdot/plan.h"

enum { NS = 25, NMAX = 4, NSLOT = 2, S11 = 6, PMAX = 4096, NRES = 3 };
#define SIGMA_LL (0.05 + 1e-8) /* the reference's sigma + 1e-8 */
#define IG_NOISE 0.02
#define L1_MAX 0.10
#define HITL_THRESHOLD 0.70
#define DENSE_BASELINE 4096.0

/* Predictions of the 25 states over one scan geometry. */
typedef struct {
    bool valid;
    double r1[2], r2[2];
    double *pred;  /* [NS x P] */
    double pn[NS]; /* |pred_s|^2 */
} geo;

/* One measurement: a vg1 line of n points (vg2 = 0) or an n x n patch; ranges after {:.6f}. */
typedef struct {
    bool is2d;
    int n;
    double r1[2], r2[2];
} scan;

typedef struct {
    const fsci__qdot_trial_opts *o;
    fsci_qdot_toy truth, sensing, belief;
    fsci__qdot_pf *pf;
    fsci__qdot_gp *gp;
    geo ig[FSCI__QDOT_NMOD][NSLOT];
    int ig_next[FSCI__QDOT_NMOD];
    geo bel[NRES][NSLOT]; /* resolutions 16, 32, 64 */
    int bel_next[NRES];
    double *buf; /* one block: v1, v2, meas, obs, dqc work, gp work */
    double *v1, *v2, *meas, *obs, *dqcw, *gpw;
    double *dot, *onorm; /* IG: [M x NS] products, [M] |o_m|^2; obs is [M x PMAX] */
    double *bo_x, *bo_y, *bo_r;
    int64_t nbo, cap;
    int states[2 * NS];
    double probs[NS];
    bool present[NS];
    fsci__qdot_dqc_opts dqc;
    /* agent state */
    double v[2];
    int64_t total, steps, decisions, hitl, nscan, nupdate, nselect, nnav;
    int last_dqc; /* -1: none yet */
    bool has_cls;
    fsci__qdot_verdict last_cls;
    fsci__qdot_sm sm;
} agent;

/* ------------------------------------------------------------------ helpers */

/* translator.py writes voltages with "{:.6f}" */
static double fmt6(double x)
{
    char s[64];
    snprintf(s, sizeof s, "%.6f", x);
    return strtod(s, NULL);
}

/* numpy linspace: k * step + start, the last point exactly stop; f32 rounds each to float. */
static void linspace(double a, double b, int n, bool f32, double *out)
{
    double step = n > 1 ? (b - a) / (double)(n - 1) : 0.0;
    for (int k = 0; k < n; k++) {
        double y = k == n - 1 && n > 1 ? b : (double)k * step + a;
        out[k] = f32 ? (double)(float)y : y;
    }
}

/* grid_2d: rows along vg2, v1[i * res + j] = g1[j], v2[i * res + j] = g2[i]. */
static void grid2d(const double *r1, const double *r2, int res, bool f32, double *v1, double *v2)
{
    double g1[PMAX / 16 + 64], g2[PMAX / 16 + 64];
    linspace(r1[0], r1[1], res, f32, g1);
    linspace(r2[0], r2[1], res, f32, g2);
    for (int i = 0; i < res; i++)
        for (int j = 0; j < res; j++) {
            v1[i * res + j] = g1[j];
            v2[i * res + j] = g2[i];
        }
}

static void log_decision(agent *a, const char *action, int to, double value)
{
    FILE *f = a->o->log;
    if (!f) return;
    fprintf(
        f,
        "{\"trial\":%lld,\"step\":%lld,\"decision\":%lld,\"stage\":\"%s\",\"action\":\"%s\",\"to\":\"%s\","
        "\"value\":%.6g,\"v\":[%.6f,%.6f],\"measurements\":%lld}\n",
        (long long)a->o->trial, (long long)a->steps, (long long)a->decisions,
        fsci__qdot_stage_name(a->sm.stage), action, to >= 0 ? fsci__qdot_stage_name(to) : "", value, a->v[0],
        a->v[1], (long long)a->total);
}

static void rng_at(const agent *a, fsci_rng *r, uint64_t stream, int64_t index)
{
    fsci_rng_init(r, a->o->seed, stream, (uint64_t)a->o->trial, (uint64_t)index);
}

/* Marsaglia and Tsang (2000) gamma(shape, 1) for shape >= 1. */
static double gamma_draw(fsci_rng *r, double shape)
{
    const double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x, v;
        do {
            x = fsci_rng_normal(r);
            v = 1.0 + c * x;
        } while (v <= 0.0);
        v = v * v * v;
        double u = fsci_rng_uniform(r);
        if (u < 1.0 - 0.0331 * (x * x) * (x * x)) return d * v;
        if (log(u) < 0.5 * x * x + d * (1.0 - v + log(v))) return d * v;
    }
}

/* belief bookkeeping (_sync): weights, charge probabilities, states present */
static void sync(agent *a)
{
    fsci__qdot_pf_weights(a->pf);
    fsci__qdot_pf_charge_probs(a->pf, a->probs);
    memset(a->present, 0, sizeof a->present);
    for (int64_t i = 0; i < a->pf->n; i++) a->present[a->pf->state[i]] = true;
}

/* Cached predictions of the 25 states for a geometry: line (r1, vg2 = 0) or res x res. */
static const geo *cached_pred(agent *a, geo *slots, int *next, const fsci_qdot_toy *p, bool line, int res,
                              const double *r1, const double *r2, int *status)
{
    for (int k = 0; k < NSLOT; k++) {
        geo *g = &slots[k];
        if (g->valid && g->r1[0] == r1[0] && g->r1[1] == r1[1] &&
            (line || (g->r2[0] == r2[0] && g->r2[1] == r2[1])))
            return g;
    }
    geo *g = &slots[*next];
    *next = (*next + 1) % NSLOT;
    int P = line ? res : res * res;
    if (line) {
        linspace(r1[0], r1[1], res, false, a->v1);
        for (int k = 0; k < res; k++) a->v2[k] = 0.0;
    } else {
        grid2d(r1, r2, res, false, a->v1, a->v2);
    }
    *status = fsci_qdot_toy_predict(p, a->v1, a->v2, P, a->states, NS, g->pred);
    if (*status < 0) return NULL;
    for (int s = 0; s < NS; s++) {
        double acc = 0.0;
        for (int k = 0; k < P; k++) acc += g->pred[s * P + k] * g->pred[s * P + k];
        g->pn[s] = acc;
    }
    g->valid = true;
    g->r1[0] = r1[0];
    g->r1[1] = r1[1];
    g->r2[0] = line ? 0.0 : r2[0];
    g->r2[1] = line ? 0.0 : r2[1];
    return g;
}

static int res_slot(int res)
{
    return res == 16 ? 0 : (res == 32 ? 1 : 2);
}

/* ------------------------------------------------------------------ sensing */

/* Monte Carlo IG of modality m (sensing.py _estimate_ig with the compat arithmetic of
 * plan.h): the M simulated observations o_m = pred[hyp_m] + eps_m are the rows of one matrix,
 * |o_m - p_s|^2 = |o_m|^2 - 2 o_m.p_s + |p_s|^2 with the M x S products from one GEMM. */
static int ig_eval(agent *a, int m, const double *r1, const double *r2, double h0, double *ig)
{
    const bool line = m == FSCI__QDOT_MOD_LINE;
    const int res = fsci__qdot_mod_resolution[m], P = line ? res : res * res, M = a->o->n_mc;
    int st = FSCI_OK;
    const geo *g = cached_pred(a, a->ig[m], &a->ig_next[m], &a->sensing, line, res, r1, r2, &st);
    if (!g) return st;
    const double *pred = g->pred;
    fsci_rng r;
    rng_at(a, &r, FSCI__QDOT_STREAM_IG, 4 * a->nselect + m);
    int ps[NS], np = 0;
    double psum = 0.0, cdf[NS];
    for (int s = 0; s < NS; s++)
        if (a->present[s]) {
            ps[np++] = s;
            psum += a->probs[s];
        }
    double acc = 0.0;
    for (int i = 0; i < np; i++) cdf[i] = (acc += a->probs[ps[i]] / psum);
    for (int i = 0; i < np; i++) cdf[i] /= cdf[np - 1];
    double *o = a->obs, *dot = a->dot, *on = a->onorm;
    for (int mc = 0; mc < M; mc++) {
        double u = fsci_rng_uniform(&r);
        int h = 0;
        while (h < np - 1 && !(cdf[h] > u)) h++; /* numpy choice: searchsorted side 'right' */
        const double *ph = pred + (int64_t)ps[h] * P;
        double *om = o + (int64_t)mc * P, nn = 0.0;
        for (int k = 0; k < P; k++) {
            om[k] = ph[k] + IG_NOISE * fsci_rng_normal(&r);
            nn += om[k] * om[k];
        }
        on[mc] = nn;
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, NS, P, 1.0, o, P, pred, P, 0.0, dot, NS);
    const double inv_s2 = 1.0 / (SIGMA_LL * SIGMA_LL), shape = 0.5 * (P - 1);
    double hsum = 0.0;
    for (int mc = 0; mc < M; mc++) {
        double lw[NS], mx = -INFINITY;
        for (int i = 0; i < np; i++) {
            const int s = ps[i];
            lw[i] = -INFINITY;
            if (!(a->probs[s] > 0.0)) continue;
            double d2 = on[mc] - 2.0 * dot[mc * NS + s] + g->pn[s];
            d2 = d2 > 0.0 ? d2 : 0.0; /* cancellation when o is close to p_s */
            if (!line) {
                /* the reference's noisy predictions, in distribution (file comment) */
                double dz = sqrt(d2) - IG_NOISE * fsci_rng_normal(&r);
                d2 = dz * dz + IG_NOISE * IG_NOISE * 2.0 * gamma_draw(&r, shape);
            }
            lw[i] = log(a->probs[s] + 1e-12) - 0.5 * (d2 * inv_s2 / (double)P);
            mx = lw[i] > mx ? lw[i] : mx;
        }
        double sum = 0.0, hh = 0.0;
        for (int i = 0; i < np; i++)
            if (a->probs[ps[i]] > 0.0) sum += (lw[i] = exp(lw[i] - mx));
        for (int i = 0; i < np; i++) {
            if (!(a->probs[ps[i]] > 0.0)) continue;
            double w = lw[i] / (sum + 1e-12);
            if (w > 1e-10) hh -= w * log(w);
        }
        hsum += hh;
    }
    double gain = h0 - hsum / M;
    *ig = gain > 0.0 ? gain : 0.0;
    return FSCI_OK;
}

/* ActiveSensingPolicy.select over the ranges: the modality or NONE. */
static int select_modality(agent *a, const double *r1, const double *r2, int *mod)
{
    fsci__qdot_ig_opts io = {.sigma = SIGMA_LL, .compat = true, .prior_log2 = !a->o->nats};
    double pr[NS];
    for (int s = 0; s < NS; s++) pr[s] = a->present[s] ? a->probs[s] : 0.0;
    double h0 = fsci__qdot_prior_entropy(pr, NS, &io);
    fsci__qdot_select_state sel;
    fsci__qdot_select_begin(&sel);
    for (int m = 0; m < FSCI__QDOT_NMOD; m++) {
        if (fsci__qdot_select_skip(&sel, h0, m)) continue;
        double ig = 0.0;
        if (!(h0 < 1e-10)) {
            int st = ig_eval(a, m, r1, r2, h0, &ig);
            if (st < 0) return st;
        }
        fsci__qdot_select_offer(&sel, m, ig);
    }
    a->nselect++;
    *mod = fsci__qdot_select_end(&sel, 1e-4, NULL);
    return FSCI_OK;
}

/* ------------------------------------------------------------------ measuring */

static void measure(agent *a, bool is2d, int n, const double *r1, const double *r2, scan *sc)
{
    fsci_rng r;
    rng_at(a, &r, FSCI__QDOT_STREAM_DEVICE, a->nscan++);
    sc->is2d = is2d;
    sc->n = n;
    sc->r1[0] = fmt6(r1[0]);
    sc->r1[1] = fmt6(r1[1]);
    int64_t P = n;
    if (is2d) {
        sc->r2[0] = fmt6(r2[0]);
        sc->r2[1] = fmt6(r2[1]);
        grid2d(sc->r1, sc->r2, n, true, a->v1, a->v2);
        P = (int64_t)n * n;
    } else {
        linspace(sc->r1[0], sc->r1[1], n, true, a->v1);
        for (int k = 0; k < n; k++) a->v2[k] = 0.0; /* translator: line scans at fixed = 0.0 */
    }
    for (int64_t k = 0; k < P; k++)
        a->meas[k] = fsci_qdot_toy_current(&a->truth, a->v1[k], a->v2[k], fsci_rng_normal(&r));
    a->total += P;
    fsci__qdot_normalise_f32(a->meas, P, a->meas);
}

/* select, fit the plan to the remaining budget (executive.py), measure. *got: false = none. */
static int acquire(agent *a, const double *r1, const double *r2, scan *sc, bool *got)
{
    int m;
    int st = select_modality(a, r1, r2, &m);
    if (st < 0) return st;
    int64_t remaining = a->o->budget - a->total;
    *got = false;
    if (m == FSCI__QDOT_MOD_NONE || remaining <= 0) return FSCI_OK;
    int line_n = (int)(remaining < 128 ? (remaining > 2 ? remaining : 2) : 128);
    int res = fsci__qdot_mod_resolution[m];
    if (m != FSCI__QDOT_MOD_LINE && (int64_t)res * res <= remaining)
        measure(a, true, res, r1, r2, sc);
    else
        measure(a, false, line_n, r1, NULL, sc);
    *got = true;
    return FSCI_OK;
}

static int dqc_quality(agent *a, const scan *sc)
{
    fsci__qdot_dqc_result res;
    int st =
        fsci__qdot_dqc_assess(a->meas, sc->is2d ? 2 : 1, sc->n, sc->is2d ? sc->n : 1, &a->dqc, a->dqcw, &res);
    if (st < 0) return st;
    int q = (int)res.quality;
    if (a->o->no_dqc_gate && q == FSCI__QDOT_DQC_LOW) q = FSCI__QDOT_DQC_MODERATE;
    a->last_dqc = q;
    return q;
}

static void minmaxmean(const double *x, int64_t n, double *mn, double *mx, double *mean, double *var)
{
    double lo = x[0], hi = x[0], s = 0.0;
    for (int64_t i = 0; i < n; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
        s += x[i];
    }
    s /= (double)n;
    double v = 0.0;
    for (int64_t i = 0; i < n; i++) v += (x[i] - s) * (x[i] - s);
    *mn = lo;
    *mx = hi;
    *mean = s;
    *var = v / (double)n;
}

/* update_from_2d: likelihood per present state (belief parameters), particle-filter step. */
static int update_2d(agent *a, const scan *sc, const fsci__qdot_verdict *cls)
{
    int st = FSCI_OK, k = res_slot(sc->n);
    const geo *g = cached_pred(a, a->bel[k], &a->bel_next[k], &a->belief, false, sc->n, sc->r1, sc->r2, &st);
    if (!g) return st;
    const double *pred = g->pred;
    const int64_t P = (int64_t)sc->n * sc->n;
    double ll[NS];
    for (int s = 0; s < NS; s++)
        ll[s] = a->present[s] ? fsci__qdot_ll_gauss(a->meas, pred + s * P, P, SIGMA_LL) : 0.0;
    fsci_rng r;
    rng_at(a, &r, FSCI__QDOT_STREAM_RESAMP, a->nupdate++);
    double u = fsci_rng_uniform(&r);
    fsci__qdot_label label = cls ? (fsci__qdot_label)cls->label : FSCI__QDOT_LABEL_NONE;
    st = fsci__qdot_pf_step(a->pf, ll, label, cls ? cls->confidence : 0.0,
                            cls ? cls->physics_override : false, 0.5, u, NULL);
    if (st < 0) return st;
    sync(a);
    return FSCI_OK;
}

static int classify(agent *a, const scan *sc, fsci__qdot_verdict *cls)
{
    fsci__qdot_classify(a->meas, sc->n, cls);
    a->last_cls = *cls;
    a->has_cls = true;
    a->bo_x[2 * a->nbo] = a->v[0];
    a->bo_x[2 * a->nbo + 1] = a->v[1];
    a->bo_y[a->nbo] = cls->label == FSCI__QDOT_LABEL_DOUBLE_DOT ? cls->confidence : 0.0;
    a->nbo++;
    return update_2d(a, sc, cls);
}

/* ------------------------------------------------------------------ stages */

static int run_bootstrap(agent *a, bool *ok, double *conf)
{
    int64_t remaining = a->o->budget - a->total;
    *ok = false;
    *conf = 0.0;
    if (remaining <= 0) return FSCI_OK;
    int n = remaining >= 32 ? 32 : (remaining > 2 ? (int)remaining : 2);
    const double r1[2] = {-0.5, 0.5};
    scan sc;
    measure(a, false, n, r1, NULL, &sc);
    double lo, hi, mean, var;
    minmaxmean(a->meas, n, &lo, &hi, &mean, &var);
    *ok = hi - lo > 0.1 && var > 1e-6;
    *conf = *ok ? 1.0 : 0.0;
    return FSCI_OK;
}

static int run_survey(agent *a, bool *ok, double *conf)
{
    const double r[2] = {-1.0, 1.0};
    scan sc;
    bool got;
    *ok = false;
    *conf = 0.0;
    int st = acquire(a, r, r, &sc, &got);
    if (st < 0 || !got) return st;
    if ((st = dqc_quality(a, &sc)) < 0 || st == FSCI__QDOT_DQC_LOW) return st < 0 ? st : FSCI_OK;
    int64_t P = sc.is2d ? (int64_t)sc.n * sc.n : sc.n;
    double lo, hi, mean, var;
    minmaxmean(a->meas, P, &lo, &hi, &mean, &var);
    double pq = (hi - mean) / (hi + 1e-8);
    if (sc.is2d && (st = update_2d(a, &sc, NULL)) < 0) return st;
    *ok = pq > 0.2;
    *conf = pq < 0.0 ? 0.0 : (pq > 1.0 ? 1.0 : pq);
    return FSCI_OK;
}

/* charge_id_result */
static void charge_id_result(int label, double c, bool override, bool *ok, double *conf)
{
    double eff = override ? fmin(0.65, c) : c;
    *ok = (label == FSCI__QDOT_LABEL_SINGLE_DOT || label == FSCI__QDOT_LABEL_DOUBLE_DOT) && eff > 0.5;
    *conf = eff;
}

static int run_charge_id(agent *a, bool *ok, double *conf)
{
    const double r1[2] = {a->v[0] - 0.1, a->v[0] + 0.1}, r2[2] = {a->v[1] - 0.1, a->v[1] + 0.1};
    scan sc;
    bool got;
    *ok = false;
    *conf = 0.0;
    int st = acquire(a, r1, r2, &sc, &got);
    if (st < 0 || !got) return st;
    if ((st = dqc_quality(a, &sc)) < 0 || st == FSCI__QDOT_DQC_LOW) return st < 0 ? st : FSCI_OK;
    if (!sc.is2d) {
        charge_id_result(FSCI__QDOT_LABEL_OTHER, 0.3, false, ok, conf);
        return FSCI_OK;
    }
    fsci__qdot_verdict cls;
    if ((st = classify(a, &sc, &cls)) < 0) return st;
    charge_id_result(cls.label, cls.confidence, cls.physics_override, ok, conf);
    return FSCI_OK;
}

/* GP prior mean (revision of the notes): sum over present states of p_s * current(x) with
 * the sensing device's noise drawn afresh per (evaluation, state). */
typedef struct {
    agent *a;
    fsci_rng *r;
} prior_ctx;

static double prior_mean(const double *x, void *ctx)
{
    const prior_ctx *c = ctx;
    const agent *a = c->a;
    fsci_qdot_toy quiet = a->sensing;
    quiet.noise = 0.0;
    double g = fsci_qdot_toy_current(&quiet, x[0], x[1], 0.0), out = 0.0;
    for (int s = 0; s < NS; s++) {
        if (!a->present[s]) continue;
        double gs = g + a->sensing.noise * fsci_rng_normal(c->r);
        out += a->probs[s] * (gs > 0.0 ? gs : 0.0);
    }
    return out;
}

static int run_navigation(agent *a, bool *ok, double *conf)
{
    fsci_rng r;
    rng_at(a, &r, FSCI__QDOT_STREAM_BO, a->nnav++);
    prior_ctx ctx = {a, &r};
    for (int64_t i = 0; i < a->nbo; i++) a->bo_r[i] = a->bo_y[i] - prior_mean(a->bo_x + 2 * i, &ctx);
    int st = fsci__qdot_gp_fit(a->gp, a->nbo, a->bo_x, a->bo_r);
    if (st < 0) return st;
    const double blo[2] = {-1.0, -1.0}, bhi[2] = {1.0, 1.0};
    double lo[2], hi[2], xb[2], ucb;
    for (int i = 0; i < 2; i++) {
        lo[i] = fmax(blo[i], a->v[i] - L1_MAX / 2);
        hi[i] = fmin(bhi[i], a->v[i] + L1_MAX / 2);
    }
    st = fsci__qdot_gp_ucb_max(a->gp, lo, hi, 2.0, prior_mean, &ctx, a->gpw, xb, &ucb);
    if (st < 0) return st;
    double delta[2] = {xb[0] - a->v[0], xb[1] - a->v[1]}, safe[2];
    fsci__qdot_safety_clip(a->v, delta, blo, bhi, L1_MAX, safe);
    double tgt[2] = {a->v[0] + safe[0], a->v[1] + safe[1]};
    double margin = INFINITY;
    for (int i = 0; i < 2; i++) margin = fmin(margin, fmin(tgt[i] - blo[i], bhi[i] - tgt[i]));
    double risk = fsci__qdot_hitl_risk(margin, fabs(safe[0]) + fabs(safe[1]), L1_MAX,
                                       a->last_dqc < 0 ? FSCI__QDOT_DQC_HIGH : a->last_dqc, 0.0, 0.0,
                                       a->sm.consecutive_backtracks, a->decisions + 1);
    if (risk >= HITL_THRESHOLD) {
        a->hitl++; /* auto-approved without a hook (benchmarks); a refused move is not made */
        const bool yes = !a->o->hitl_ask || a->o->hitl_ask(a->o->hitl_user, "voltage move", risk);
        log_decision(a, yes ? "hitl_risk_approved" : "hitl_risk_rejected", -1, risk);
        if (!yes) {
            tgt[0] = a->v[0];
            tgt[1] = a->v[1];
        }
    }
    a->v[0] = tgt[0];
    a->v[1] = tgt[1];
    a->decisions++;
    log_decision(a, "voltage_move", -1, risk);
    int ml = 0;
    for (int s = 1; s < NS; s++)
        if (a->probs[s] > a->probs[ml]) ml = s;
    bool target = a->probs[ml] > 0.0 && ml == S11;
    *ok = target && a->probs[S11] >= 0.7;
    *conf = a->probs[S11];
    return FSCI_OK;
}

static int run_verification(agent *a, bool *ok, double *conf)
{
    int n = 0;
    for (int k = 0; k < 3; k++) {
        const double r1[2] = {a->v[0] - 0.05, a->v[0] + 0.05}, r2[2] = {a->v[1] - 0.05, a->v[1] + 0.05};
        scan sc;
        bool got;
        int st = acquire(a, r1, r2, &sc, &got);
        if (st < 0) return st;
        if (!got) continue;
        if ((st = dqc_quality(a, &sc)) < 0) return st;
        if (st == FSCI__QDOT_DQC_LOW || !sc.is2d) continue;
        fsci__qdot_verdict cls;
        if ((st = classify(a, &sc, &cls)) < 0) return st;
        n += cls.label == FSCI__QDOT_LABEL_DOUBLE_DOT;
    }
    double rep = n / 3.0, noise = 1.0 - rep;
    *ok = n >= 2 && rep > 0.8 && noise < 0.1;
    *conf = rep * (1.0 - noise);
    return FSCI_OK;
}

static int step(agent *a)
{
    a->steps++;
    int stage = a->sm.stage, st;
    bool ok = false, hitl;
    double conf = 0.0;
    switch (stage) {
    case FSCI__QDOT_BOOT: st = run_bootstrap(a, &ok, &conf); break;
    case FSCI__QDOT_SURVEY: st = run_survey(a, &ok, &conf); break;
    case FSCI__QDOT_CHARGE_ID: st = run_charge_id(a, &ok, &conf); break;
    case FSCI__QDOT_NAV: st = run_navigation(a, &ok, &conf); break;
    default: st = run_verification(a, &ok, &conf); break;
    }
    if (st < 0) return st;
    int next = fsci__qdot_sm_process(&a->sm, ok, conf, &hitl);
    if (next != stage) {
        a->decisions++;
        log_decision(a, "stage_transition", next, conf);
    }
    if (hitl) {
        a->hitl++;
        a->decisions++;
        const bool yes =
            !a->o->hitl_ask || a->o->hitl_ask(a->o->hitl_user, "continue after repeated failures", conf);
        log_decision(a, yes ? "hitl_state_machine" : "hitl_mission_stopped", -1, conf);
        if (!yes) a->sm.stage = FSCI__QDOT_FAILED; /* the operator stopped the mission */
    }
    return FSCI_OK;
}

/* ------------------------------------------------------------------ trial */

void fsci__qdot_trial_defaults(fsci__qdot_trial_opts *o)
{
    memset(o, 0, sizeof *o);
    o->seed = 42;
    o->budget = 2048;
    o->max_steps = 100;
    o->particles = 1000;
    o->n_mc = 8;
    o->success_first = true;
}

static void agent_free(agent *a)
{
    fsci__qdot_pf_destroy(&a->pf);
    fsci__qdot_gp_destroy(&a->gp);
    for (int m = 0; m < FSCI__QDOT_NMOD; m++)
        for (int k = 0; k < NSLOT; k++) fsci_free(a->ig[m][k].pred);
    for (int m = 0; m < NRES; m++)
        for (int k = 0; k < NSLOT; k++) fsci_free(a->bel[m][k].pred);
    fsci_free(a->buf);
    memset(a, 0, sizeof *a);
}

/* The workspace for trials with o's sizes (particles, n_mc, budget, max_steps). The caches
 * depend only on the geometry and the fixed sensing and belief parameters, so they stay
 * valid from one trial to the next. */
static int agent_alloc(agent *a, const fsci__qdot_trial_opts *o)
{
    int st = FSCI_OK;
    memset(a, 0, sizeof *a);
    fsci_qdot_toy_default(&a->sensing);
    a->belief = (fsci_qdot_toy){2.3, 2.5, 0.15, 0.1, 0.5, 0.0};
    for (int s = 0; s < NS; s++) {
        a->states[2 * s] = s / (NMAX + 1);
        a->states[2 * s + 1] = s % (NMAX + 1);
    }
    fsci__qdot_dqc_defaults(&a->dqc);
    /* every classification needs a 2-D scan of >= 256 points, at most 3 per step */
    int64_t by_budget = o->budget / 256 + 1, by_steps = 3 * o->max_steps;
    a->cap = (by_budget < by_steps ? by_budget : by_steps) + 1;
    FSCI_TRY(fsci__qdot_pf_create(o->particles, NMAX, &a->pf));
    FSCI_TRY(fsci__qdot_gp_create(FSCI__QDOT_KERN_RBF, 0.05, 0.5, 0.01, a->cap, &a->gp));
    for (int m = 0; m < FSCI__QDOT_NMOD; m++) {
        int res = fsci__qdot_mod_resolution[m], P = m == FSCI__QDOT_MOD_LINE ? res : res * res;
        for (int k = 0; k < NSLOT; k++) {
            a->ig[m][k].pred = fsci_malloc((size_t)NS * P, sizeof(double));
            FSCI_CHECK_GOTO(a->ig[m][k].pred, FSCI_ENOMEM, "qdot agent: out of memory");
        }
    }
    for (int m = 0; m < NRES; m++) {
        int res = 16 << m;
        for (int k = 0; k < NSLOT; k++) {
            a->bel[m][k].pred = fsci_malloc((size_t)NS * res * res, sizeof(double));
            FSCI_CHECK_GOTO(a->bel[m][k].pred, FSCI_ENOMEM, "qdot agent: out of memory");
        }
    }
    size_t M = (size_t)o->n_mc;
    size_t nbuf = (5 + M) * (size_t)PMAX + 6 * (size_t)a->cap + M * (NS + 1);
    a->buf = fsci_malloc(nbuf, sizeof(double));
    FSCI_CHECK_GOTO(a->buf, FSCI_ENOMEM, "qdot agent: out of memory for %zu doubles", nbuf);
    a->v1 = a->buf;
    a->v2 = a->v1 + PMAX;
    a->meas = a->v2 + PMAX;
    a->obs = a->meas + PMAX;
    a->dqcw = a->obs + M * PMAX; /* 2 PMAX */
    a->bo_x = a->dqcw + 2 * PMAX;
    a->bo_y = a->bo_x + 2 * a->cap;
    a->bo_r = a->bo_y + a->cap;
    a->gpw = a->bo_r + a->cap;
    a->dot = a->gpw + 2 * a->cap;
    a->onorm = a->dot + M * NS;
    return FSCI_OK;
fail:
    agent_free(a);
    return st;
}

/* Start trial o->trial: the device, the particles, the state machine, the counters. */
static int agent_reset(agent *a, const fsci__qdot_trial_opts *o)
{
    a->o = o;
    a->v[0] = a->v[1] = 0.0;
    a->total = a->steps = a->hitl = a->nscan = a->nupdate = a->nselect = a->nnav = a->nbo = 0;
    a->decisions = 1; /* mission_start */
    a->last_dqc = -1;
    a->has_cls = false;
    fsci_rng r;
    rng_at(a, &r, FSCI__QDOT_STREAM_PARAMS, 0);
    double u_ec = fsci_rng_uniform(&r), u_tc = fsci_rng_uniform(&r);
    double e_c = 3.0 + (-0.5 + u_ec * 1.0), t_c = 0.3 + (-0.1 + u_tc * 0.2);
    a->truth = (fsci_qdot_toy){e_c, e_c + 0.2, t_c, 0.08, 0.55, 0.015};
    /* initial particles uniform on the 25 states */
    int32_t *init = a->pf->st2;
    rng_at(a, &r, FSCI__QDOT_STREAM_PART, 0);
    for (int64_t i = 0; i < o->particles; i++) {
        int s = (int)(fsci_rng_uniform(&r) * NS);
        init[i] = s < NS ? s : NS - 1;
    }
    int st = fsci__qdot_pf_init_states(a->pf, init);
    if (st < 0) return st;
    fsci__qdot_sm_init(&a->sm, o->success_first);
    sync(a);
    return FSCI_OK;
}

static int check_opts(const fsci__qdot_trial_opts *o)
{
    FSCI_CHECK(o->budget >= 1, FSCI_EINVAL, "qdot trial: budget = %lld, must be >= 1", (long long)o->budget);
    FSCI_CHECK(o->max_steps >= 1, FSCI_EINVAL, "qdot trial: max_steps = %lld, must be >= 1",
               (long long)o->max_steps);
    FSCI_CHECK(o->particles >= 1 && o->particles <= (INT64_C(1) << 30), FSCI_EINVAL,
               "qdot trial: particles = %lld, must be in [1, 2^30]", (long long)o->particles);
    FSCI_CHECK(o->n_mc >= 1 && o->n_mc <= 1024, FSCI_EINVAL, "qdot trial: n_mc = %d, must be in [1, 1024]",
               o->n_mc);
    FSCI_CHECK(o->trial >= 0, FSCI_EINVAL, "qdot trial: trial = %lld, must be >= 0", (long long)o->trial);
    return FSCI_OK;
}

/* One trial on an allocated workspace; seconds counted from t0. */
static int agent_run(agent *a, const fsci__qdot_trial_opts *o, const struct timespec *t0,
                     fsci__qdot_trial_result *res)
{
    int st = agent_reset(a, o);
    if (st < 0) return st;
    log_decision(a, "mission_start", -1, 0.0);
    while (!(a->steps >= o->max_steps || a->total >= o->budget || a->sm.stage == FSCI__QDOT_COMPLETE ||
             a->sm.stage == FSCI__QDOT_FAILED)) {
        if ((st = step(a)) < 0) break;
    }
    if (o->log) fflush(o->log);
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    memset(res, 0, sizeof *res);
    res->success = a->sm.stage == FSCI__QDOT_COMPLETE;
    res->total_measurements = a->total;
    res->reduction = 1.0 - (double)a->total / DENSE_BASELINE;
    res->final_stage = a->sm.stage;
    res->steps = a->steps;
    res->backtracks = a->sm.total_backtracks;
    res->hitl_count = a->hitl;
    res->decisions = a->decisions;
    res->seconds = (double)(t1.tv_sec - t0->tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0->tv_nsec);
    const fsci_qdot_toy *d = &a->truth;
    double dev[6] = {d->e_c1, d->e_c2, d->t_c, d->temp, d->lever, d->noise};
    memcpy(res->device, dev, sizeof dev);
    return st < 0 ? st : FSCI_OK;
}

int fsci__qdot_trial_run(const fsci__qdot_trial_opts *o, fsci__qdot_trial_result *res)
{
    FSCI_CHECK(o != NULL && res != NULL, FSCI_EINVAL, "qdot trial: NULL options or result");
    int st = check_opts(o);
    if (st < 0) return st;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    agent a;
    if ((st = agent_alloc(&a, o)) < 0) return st;
    st = agent_run(&a, o, &t0, res);
    agent_free(&a);
    return st;
}

int fsci__qdot_bench_run(const fsci__qdot_trial_opts *base, int ntrials, int nthreads,
                         fsci__qdot_trial_result *results)
{
    FSCI_CHECK(base != NULL && results != NULL, FSCI_EINVAL, "qdot bench: NULL options or results");
    FSCI_CHECK(ntrials >= 0, FSCI_EINVAL, "qdot bench: ntrials = %d, must be >= 0", ntrials);
    FSCI_CHECK(base->hitl_ask == NULL, FSCI_EINVAL,
               "qdot bench: hitl_ask must be NULL (benchmark trials approve automatically)");
    FSCI_CHECK(base->log == NULL, FSCI_EINVAL,
               "qdot bench: log must be NULL (one stream cannot serve concurrent trials)");
    int st = check_opts(base);
    if (st < 0) return st;
    FSCI_CHECK(ntrials == 0 || base->trial <= INT64_MAX - ntrials, FSCI_EINVAL,
               "qdot bench: trial = %lld, too large for %d trials", (long long)base->trial, ntrials);
    int first = -1, first_st = FSCI_OK;
    char msg[512] = "";
    const int nth = fsci_parallel_resolve(nthreads);
    /* one workspace per thread, reused by its trials (a trial's result does not depend on
     * what the workspace ran before: the caches hold exact recomputable values) */
#pragma omp parallel num_threads(nth)
    {
        agent a;
        int ast = agent_alloc(&a, base);
        char amsg[512] = "";
        if (ast < 0) snprintf(amsg, sizeof amsg, "%s", fsci_error_message());
#pragma omp for schedule(dynamic, 1)
        for (int k = 0; k < ntrials; k++) {
            fsci__qdot_trial_opts o = *base;
            o.trial = base->trial + k;
            struct timespec t0;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            int tst = ast < 0 ? ast : agent_run(&a, &o, &t0, &results[k]);
            if (tst < 0) {
#pragma omp critical(fsci_qdot_bench)
                if (first < 0 || k < first) {
                    first = k;
                    first_st = tst;
                    snprintf(msg, sizeof msg, "%s", ast < 0 ? amsg : fsci_error_message());
                }
            }
        }
        if (ast >= 0) agent_free(&a);
    }
    FSCI_CHECK(first < 0, first_st, "qdot bench: trial %lld failed: %s", (long long)(base->trial + first),
               msg);
    return FSCI_OK;
}
