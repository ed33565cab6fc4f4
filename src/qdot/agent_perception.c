/* qdot agent: normalisation, the deterministic classifier, the safety clip, the HITL risk
 * score and the backtracking state machine, as the numpy port bench/qdot_ref.py defines them
 * (doc/qdot_reference_port.md sections 2-4, doc/qdot_agent.md). */
#include <math.h>
#include <string.h>

#include "qdot/agent.h"
#include "qdot/plan.h"

static const char *const stage_names[FSCI__QDOT_NSTAGES] = {
    "BOOTSTRAPPING", "COARSE_SURVEY", "CHARGE_ID", "NAVIGATION", "VERIFICATION", "COMPLETE", "FAILED"};

const char *fsci__qdot_stage_name(int stage)
{
    return stage >= 0 && stage < FSCI__QDOT_NSTAGES ? stage_names[stage] : "?";
}

void fsci__qdot_normalise_f32(const double *in, int64_t n, double *out)
{
    float lo = (float)in[0], hi = lo;
    for (int64_t i = 1; i < n; i++) {
        float a = (float)in[i];
        lo = a < lo ? a : lo;
        hi = a > hi ? a : hi;
    }
    double span = (double)hi - (double)lo;
    if (!(span > 0.0)) {
        for (int64_t i = 0; i < n; i++) out[i] = 0.0;
        return;
    }
    float fs = (float)span;
    for (int64_t i = 0; i < n; i++) out[i] = (double)(((float)in[i] - lo) / fs);
}

/* Normalised lag-(di, dj) autocorrelation of the zero-mean patch z (res x res). */
static double autocorr(const double *z, int res, int di, int dj)
{
    int i0 = di > 0 ? di : 0, i1 = res + (di < 0 ? di : 0);
    int j0 = dj > 0 ? dj : 0, j1 = res + (dj < 0 ? dj : 0);
    double ab = 0.0, aa = 0.0, bb = 0.0;
    for (int i = i0; i < i1; i++) {
        for (int j = j0; j < j1; j++) {
            double a = z[i * res + j], b = z[(i - di) * res + (j - dj)];
            ab += a * b;
            aa += a * a;
            bb += b * b;
        }
    }
    double den = sqrt(aa * bb);
    return den > 0 ? ab / den : 0.0;
}

void fsci__qdot_classify(const double *x, int res, fsci__qdot_verdict *out)
{
    int64_t n = (int64_t)res * res;
    double mean = 0.0;
    for (int64_t i = 0; i < n; i++) mean += x[i];
    mean /= (double)n;
    double lmean = 0.0;
    for (int64_t i = 0; i < n; i++) lmean += log1p(x[i] > 0 ? x[i] : 0.0);
    lmean /= (double)n;
    double lvar = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = log1p(x[i] > 0 ? x[i] : 0.0) - lmean;
        lvar += d * d;
    }
    double zz[64 * 64];
    for (int64_t i = 0; i < n; i++) zz[i] = x[i] - mean;
    double axis = 0.5 * (autocorr(zz, res, 1, 0) + autocorr(zz, res, 0, 1));
    double d1 = autocorr(zz, res, 1, 1), d2 = autocorr(zz, res, 1, -1);
    double diag = d1 > d2 ? d1 : d2;
    out->log_std = sqrt(lvar / (double)n);
    out->axis_corr = axis;
    out->diag_strength = diag - axis > 0.0 ? diag - axis : 0.0;
    double conf;
    int label;
    if (axis < 0.3) {
        label = FSCI__QDOT_LABEL_MISC;
        conf = 1.0 - 0.5 * (axis > 0.0 ? axis : 0.0) / 0.3;
    } else {
        label = out->diag_strength >= 0.25 ? FSCI__QDOT_LABEL_DOUBLE_DOT : FSCI__QDOT_LABEL_SINGLE_DOT;
        conf = fmin(0.95, 0.5 + axis / 2);
    }
    out->physics_override = false;
    if (out->diag_strength < 0.10 && out->log_std < 0.05) {
        label = FSCI__QDOT_LABEL_MISC;
        out->physics_override = true;
    }
    out->label = label;
    out->confidence = conf;
}

bool fsci__qdot_safety_clip(const double *v, const double *delta, const double *lo, const double *hi,
                            double l1_max, double *safe)
{
    double d[2] = {delta[0], delta[1]};
    double l1 = fabs(d[0]) + fabs(d[1]);
    bool clipped = false;
    if (l1 > l1_max) {
        d[0] *= l1_max / l1;
        d[1] *= l1_max / l1;
        clipped = true;
    }
    for (int i = 0; i < 2; i++) {
        double t = v[i] + d[i], c = t < lo[i] ? lo[i] : (t > hi[i] ? hi[i] : t);
        if (c != t) clipped = true;
        safe[i] = c - v[i];
    }
    return clipped;
}

double fsci__qdot_hitl_risk(double margin, double l1_step, double l1_max, int dqc, double ood,
                            double disagreement, int consecutive_backtracks, int64_t step)
{
    if (step == 1) return 1.0;
    double r = 0.0;
    if (margin < 0.05)
        r += 0.50;
    else if (margin < 0.10)
        r += 0.25;
    if (l1_step > l1_max + 1e-12) r += 0.40;
    if (dqc == FSCI__QDOT_DQC_LOW)
        r += 0.60;
    else if (dqc == FSCI__QDOT_DQC_MODERATE)
        r += 0.35;
    if (ood > 24.0) r += 0.40;
    if (disagreement > 0.30) r += 0.35;
    if (consecutive_backtracks >= 2) r += 0.45;
    return r < 1.0 ? r : 1.0;
}

/* ------------------------------------------------------------------ state machine */

/* (success threshold, max retries, max backtracks) per stage BOOT..VERIF */
static const double sm_thr[5] = {0.5, 0.2, 0.5, 0.7, 0.7};
static const int sm_retries[5] = {3, 3, 2, 3, 2};
static const int sm_maxbt[5] = {0, 2, 2, 2, 1};

void fsci__qdot_sm_init(fsci__qdot_sm *sm, bool success_first)
{
    memset(sm, 0, sizeof *sm);
    sm->stage = FSCI__QDOT_BOOT;
    sm->success_first = success_first;
}

static bool sm_check_hitl(const fsci__qdot_sm *sm, int stage)
{
    int cfg = stage <= FSCI__QDOT_VERIF ? stage : FSCI__QDOT_VERIF;
    if (sm->consecutive_backtracks >= 2) return true;
    if (sm_maxbt[cfg] > 0 && sm->bt_at_stage[stage] >= sm_maxbt[cfg]) return true;
    return sm->bt_log_count[stage] > 5;
}

int fsci__qdot_sm_process(fsci__qdot_sm *sm, bool success, double confidence, bool *hitl)
{
    int stage = sm->stage;
    bool ok = success && confidence >= sm_thr[stage];
    *hitl = false;
    if (!sm->success_first && sm_check_hitl(sm, stage)) {
        *hitl = true;
        return stage;
    }
    if (ok) {
        sm->retries[stage] = 0;
        sm->stage = stage + 1;
        sm->consecutive_backtracks = 0;
        return sm->stage;
    }
    if (sm->success_first && sm_check_hitl(sm, stage)) {
        *hitl = true;
        return stage;
    }
    if (sm->retries[stage] >= sm_retries[stage]) {
        if (stage == FSCI__QDOT_BOOT || sm_maxbt[stage] == 0) {
            *hitl = true;
            return stage;
        }
        int prev = stage - 1;
        sm->bt_log_count[stage]++;
        sm->bt_log_count[prev]++;
        sm->consecutive_backtracks++;
        sm->total_backtracks++;
        sm->bt_at_stage[stage]++;
        sm->retries[stage] = 0;
        sm->retries[prev] = 0;
        sm->stage = prev;
        *hitl = sm_check_hitl(sm, prev);
        return prev;
    }
    sm->retries[stage]++;
    return stage;
}
