/* proton transport: stepping (the fused step, the operators alone, the run loop),
 * balances, dose read-out and range analysis. The plan is in plan.c and
 * plan_tables.c, the state and beams in state.c, the operators in ops_*.c;
 * doc/proton.md has the equations and their sources. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/error.h"
#include "fastsci/core/parallel.h"
#include "fastsci/core/profile.h"
#include "fastsci/core/progress.h"
#include "proton/proton_impl.h"

#define MEV_TO_J 1.602176634e-13

static fsci_event ev_scatter = -1, ev_energy = -1, ev_stream = -1, ev_step = -1;

void fsci__proton_register_events(void)
{
    if (fsci_profile_register("proton.scatter", &ev_scatter) < 0 ||
        fsci_profile_register("proton.energy", &ev_energy) < 0 ||
        fsci_profile_register("proton.stream", &ev_stream) < 0 ||
        fsci_profile_register("proton.step", &ev_step) < 0)
        fsci_error_clear(); /* profiling is optional */
}

/* ---- stepping ------------------------------------------------------------- */

static int check_pair(const fsci_proton_plan *p, const fsci_proton_state *s)
{
    FSCI_CHECK(p && s, FSCI_EINVAL, "proton: NULL plan or state");
    FSCI_CHECK(s->plan == p, FSCI_EINVAL, "proton: the state was created for another plan");
    return FSCI_OK;
}

/* Weight and energy in the phase space (fixed order). */
static void remaining(const fsci_proton_plan *p, const fsci_proton_state *s, double *w, double *e)
{
    double sw = 0, se = 0;
    for (int64_t k = s->klo; k <= s->khi; k++) {
        const double *ps = s->psum[s->cur] + (k % p->nw) * p->nth;
        double b = 0;
        for (int64_t t = 0; t < p->nth; t++) b += ps[t];
        sw += b;
        se += b * p->value[k];
    }
    *w = sw;
    *e = se;
}

static void step_begin(const fsci_proton_plan *p, fsci_proton_state *s)
{
    memset(s->stepb, 0, sizeof s->stepb);
    remaining(p, s, &s->stepb[0][0], &s->stepb[1][0]);
}

static void step_end(const fsci_proton_plan *p, fsci_proton_state *s)
{
    remaining(p, s, &s->stepb[0][7], &s->stepb[1][7]);
}

int fsci_proton_step(const fsci_proton_plan *p, fsci_proton_state *s)
{
    int st = FSCI_OK;
    FSCI_TRY(check_pair(p, s));
    double t0 = fsci_profile_begin(ev_step);
    step_begin(p, s);
    if (s->klo <= s->khi) {
        if (!p->water_shift || p->shift_blend) FSCI_TRY(fsci__proton_energy_check(p, s));
        if (p->o.mcs == FSCI_PROTON_MCS_GENERALISED) FSCI_TRY(fsci__proton_generalised_kernels(p, s));
        double t1 = fsci_profile_begin(ev_scatter);
        FSCI_TRY(fsci__proton_scatter(p, s, true));
        fsci_profile_end(ev_scatter, t1, s->last_bytes, 0);
        t1 = fsci_profile_begin(ev_energy);
        FSCI_TRY(fsci__proton_energy(p, s, !p->water_shift));
        fsci_profile_end(ev_energy, t1, s->last_bytes, 0);
        t1 = fsci_profile_begin(ev_stream);
        FSCI_TRY(fsci__proton_stream(p, s, p->water_shift));
        fsci_profile_end(ev_stream, t1, s->last_bytes, 0);
    }
    s->steps++;
    step_end(p, s);
    fsci_profile_end(ev_step, t0, 0, 0);
fail:
    return st;
}

int fsci_proton_apply_scatter(const fsci_proton_plan *p, fsci_proton_state *s)
{
    int st = FSCI_OK;
    FSCI_TRY(check_pair(p, s));
    double t0 = fsci_profile_begin(ev_scatter);
    step_begin(p, s);
    if (s->klo <= s->khi) {
        if (p->o.mcs == FSCI_PROTON_MCS_GENERALISED) FSCI_TRY(fsci__proton_generalised_kernels(p, s));
        FSCI_TRY(fsci__proton_scatter(p, s, false));
    }
    step_end(p, s);
    fsci_profile_end(ev_scatter, t0, s->last_bytes, 0);
fail:
    return st;
}

int fsci_proton_apply_energy(const fsci_proton_plan *p, fsci_proton_state *s)
{
    int st = FSCI_OK;
    FSCI_TRY(check_pair(p, s));
    double t0 = fsci_profile_begin(ev_energy);
    step_begin(p, s);
    if (s->klo <= s->khi) {
        FSCI_TRY(fsci__proton_energy_check(p, s));
        FSCI_TRY(fsci__proton_wsum(p, s));
        FSCI_TRY(fsci__proton_energy(p, s, true));
    }
    step_end(p, s);
    fsci_profile_end(ev_energy, t0, s->last_bytes, 0);
fail:
    return st;
}

int fsci_proton_apply_stream(const fsci_proton_plan *p, fsci_proton_state *s)
{
    int st = FSCI_OK;
    FSCI_TRY(check_pair(p, s));
    double t0 = fsci_profile_begin(ev_stream);
    step_begin(p, s);
    if (s->klo <= s->khi) FSCI_TRY(fsci__proton_stream(p, s, false));
    step_end(p, s);
    fsci_profile_end(ev_stream, t0, s->last_bytes, 0);
fail:
    return st;
}

static bool state_empty(const fsci_proton_plan *p, const fsci_proton_state *s)
{
    if (s->klo > s->khi) return true;
    if (!p->o.dense) return false;
    double w = 0, e = 0;
    remaining(p, s, &w, &e);
    return w == 0;
}

/* The beam-loss check of fsci_proton_run: the fractions of the injected
 * weight and energy that were rejected or leaked, against opts.loss_warn and
 * opts.loss_fail. The message names the run parameters (the run-level API
 * sets the thresholds; fsci_proton_opts users see the same names). */
static int check_losses(const fsci_proton_plan *p, const fsci_proton_state *s)
{
    const fsci_proton_opts *o = &p->o;
    if (!(o->loss_warn > 0 || o->loss_fail > 0) || !(s->injected_w > 0) || !(s->injected_e > 0))
        return FSCI_OK;
    const double rw = s->run[0][3] / s->injected_w, lw = s->run[0][2] / s->injected_w;
    const double re = s->run[1][3] / s->injected_e, le = s->run[1][2] / s->injected_e;
    const double fw = rw + lw, fe = re + le, f = fw > fe ? fw : fe;
    const bool fails = o->loss_fail > 0 && f > o->loss_fail;
    if (!fails && !(o->loss_warn > 0 && f > o->loss_warn)) return FSCI_OK;
    char what[512];
    int n = snprintf(what, sizeof what,
                     "%.3g %% of the beam's weight (%.3g %% of its energy) was lost:", 100 * fw, 100 * fe);
    const bool show_r = rw > 0.01 * f || re > 0.01 * f, show_l = lw > 0.01 * f || le > 0.01 * f;
    if (show_r)
        n += snprintf(what + n, sizeof what - (size_t)n,
                      " %.3g %% scattered out of the angular cone (widen --theta-max, now %g degrees%s)",
                      100 * rw, o->theta_max_deg,
                      o->egrid != FSCI_PROTON_EGRID_RANGE ? ", or use --egrid range or more --ne bins" : "");
    if (show_l)
        snprintf(what + n, sizeof what - (size_t)n,
                 "%s %.3g %% left the grid (enlarge it: --nx %lld x --dx %g mm wide, --nz %lld x --dz %g mm "
                 "deep%s)",
                 show_r ? ";" : "", 100 * lw, (long long)o->nx, o->dx_mm, (long long)o->nz, o->dz_mm,
                 o->egrid != FSCI_PROTON_EGRID_RANGE ? "; or use --egrid range or more --ne bins" : "");
    if (fails)
        return fsci_error_set(FSCI_ERANGE, __FILE__, __LINE__, __func__,
                              "%s; above the --max-loss limit of %g %%, the dose and ranges would be wrong "
                              "(--max-loss 1 runs anyway)",
                              what, 100 * o->loss_fail);
    fsci_warn("%s (above %g %%)", what, 100 * o->loss_warn);
    return FSCI_OK;
}

int fsci_proton_run(const fsci_proton_plan *p, fsci_proton_state *s, int64_t max_steps, int64_t *steps_done)
{
    int st = FSCI_OK;
    fsci_progress *pg = NULL;
    int64_t n = 0;
    FSCI_TRY(check_pair(p, s));
    const int64_t limit = max_steps > 0 ? max_steps : 4 * (p->ne + p->nz + p->nx) + 16;
    if (p->o.progress) {
        int64_t total = limit;
        if (max_steps <= 0 && p->water_shift && s->khi >= 0) {
            total = s->khi + 1;
            double sig = 0; /* straggled protons stop up to ~7 sigma_R deeper */
            if (p->shift_blend) {
                if (fsci_proton_physics_range_straggling(p->ph, p->value[s->khi], &sig) == FSCI_OK)
                    total += (int64_t)ceil(7 * sig / p->ds);
                else
                    fsci_error_clear(); /* only the progress estimate */
            }
        }
        if (fsci_progress_create("proton", total, "steps", &pg) < 0) {
            pg = NULL;
            fsci_error_clear();
        }
    }
    while (n < limit && !state_empty(p, s)) {
        FSCI_TRY(fsci_proton_step(p, s));
        n++;
        if (pg) fsci_progress_add(pg, 1);
    }
    if (pg) fsci_progress_finish(pg);
    FSCI_TRY(check_losses(p, s));
fail:
    fsci_progress_destroy(&pg);
    if (steps_done) *steps_done = n;
    return st;
}

/* ---- results -------------------------------------------------------------- */

/* Raw balance fields (fsci_proton_balance order) to a per-primary struct. */
static void balance_out(const double b[8], double div, fsci_proton_balance *o)
{
    const double d = div > 0 ? div : 1;
    o->initial = b[0] / d;
    o->deposited = b[1] / d;
    o->leaked = b[2] / d;
    o->rejected = b[3] / d;
    o->cutoff = b[4] / d;
    o->nuclear = b[5] / d;
    o->pruned = b[6] / d;
    o->remaining = b[7] / d;
    const double rest = b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + b[7];
    o->residual = b[0] != 0 ? (b[0] - rest) / b[0] : rest;
}

void fsci_proton_state_balance(const fsci_proton_state *s, fsci_proton_balance *weight,
                               fsci_proton_balance *energy)
{
    double b[2][8];
    memcpy(b, s->run, sizeof b);
    remaining(s->plan, s, &b[0][7], &b[1][7]);
    if (weight) balance_out(b[0], s->injected_w, weight);
    if (energy) balance_out(b[1], s->injected_w, energy);
}

void fsci_proton_state_step_balance(const fsci_proton_state *s, fsci_proton_balance *weight,
                                    fsci_proton_balance *energy)
{
    if (weight) balance_out(s->stepb[0], s->injected_w, weight);
    if (energy) balance_out(s->stepb[1], s->injected_w, energy);
}

int fsci_proton_state_dose(const fsci_proton_state *s, fsci_proton_dose_unit unit, double *out)
{
    FSCI_CHECK(s && out, FSCI_EINVAL, "dose: NULL argument");
    FSCI_CHECK(unit == FSCI_PROTON_DOSE_MEV || unit == FSCI_PROTON_DOSE_GY, FSCI_EINVAL,
               "dose: unit %d is not MeV (0) or Gy (1)", (int)unit);
    const fsci_proton_plan *p = s->plan;
    const double d = s->injected_w > 0 ? 1 / s->injected_w : 0;
    for (int64_t i = 0; i < p->plane; i++) {
        double v = s->dose[i] * d;
        if (unit == FSCI_PROTON_DOSE_GY) v *= MEV_TO_J / (p->mass_g[i] * 1e-3);
        out[i] = v;
    }
    return FSCI_OK;
}

int fsci_proton_state_depth_dose(const fsci_proton_state *s, double *out)
{
    FSCI_CHECK(s && out, FSCI_EINVAL, "depth_dose: NULL argument");
    const fsci_proton_plan *p = s->plan;
    const double d = s->injected_w > 0 ? 1 / (s->injected_w * p->o.dz_mm) : 0;
    for (int64_t z = 0; z < p->nz; z++) {
        double a = 0;
        for (int64_t x = 0; x < p->nx; x++) a += s->dose[z * p->nx + x];
        out[z] = a * d;
    }
    return FSCI_OK;
}

int fsci_proton_state_lateral_profile(const fsci_proton_state *s, double z_mm, double *out)
{
    FSCI_CHECK(s && out, FSCI_EINVAL, "lateral_profile: NULL argument");
    const fsci_proton_plan *p = s->plan;
    const double zmax = (double)p->nz * p->o.dz_mm;
    FSCI_CHECK(z_mm >= 0 && z_mm <= zmax, FSCI_EINVAL, "lateral_profile: depth %g mm outside [0, %g]", z_mm,
               zmax);
    double pos = z_mm / p->o.dz_mm - 0.5;
    if (pos < 0) pos = 0;
    if (pos > (double)(p->nz - 1)) pos = (double)(p->nz - 1);
    int64_t z0 = (int64_t)floor(pos), z1 = z0 + 1 < p->nz ? z0 + 1 : z0;
    double f = pos - (double)z0;
    const double d = s->injected_w > 0 ? 1 / s->injected_w : 0;
    for (int64_t x = 0; x < p->nx; x++)
        out[x] = ((1 - f) * s->dose[z0 * p->nx + x] + f * s->dose[z1 * p->nx + x]) * d;
    return FSCI_OK;
}

int fsci_proton_state_stopping(const fsci_proton_state *s, double *out)
{
    FSCI_CHECK(s && out, FSCI_EINVAL, "stopping: NULL argument");
    const double d = s->injected_w > 0 ? 1 / s->injected_w : 0;
    for (int64_t z = 0; z < s->plan->nz; z++) out[z] = s->stop[z] * d;
    return FSCI_OK;
}

void fsci_proton_state_get_info(const fsci_proton_state *s, fsci_proton_state_info *info)
{
    const fsci_proton_plan *p = s->plan;
    memset(info, 0, sizeof *info);
    info->steps = s->steps;
    info->path_mm = (double)s->steps * p->ds;
    info->e_lo = s->klo;
    info->e_hi = s->khi;
    for (int64_t k = s->klo; k <= s->khi; k++)
        for (int64_t t = 0; t < p->nth; t++) {
            const int64_t pl = (k % p->nw) * p->nth + t;
            const fsci__pbox *b = &s->box[s->cur][pl];
            if (b->z0 >= b->z1 || s->psum[s->cur][pl] == 0) continue;
            info->active_planes++;
            info->active_cells += (int64_t)(b->z1 - b->z0) * (b->x1 - b->x0);
        }
    info->cells_processed = s->cells;
    info->injected = s->injected_w;
}

/* ---- analysis ------------------------------------------------------------- */

int fsci_proton_analyze(const double *dd, int64_t n, double dz_mm, fsci_proton_range_metrics *out)
{
    FSCI_CHECK(dd && out, FSCI_EINVAL, "analyze: NULL argument");
    FSCI_CHECK(n >= 1, FSCI_EINVAL, "analyze: %lld samples", (long long)n);
    FSCI_CHECK(isfinite(dz_mm) && dz_mm > 0, FSCI_EINVAL, "analyze: dz %g mm is not positive", dz_mm);
    int64_t im = 0;
    for (int64_t i = 0; i < n; i++) {
        FSCI_CHECK(isfinite(dd[i]) && dd[i] >= 0, FSCI_EINVAL,
                   "analyze: sample %lld = %g is not a number >= 0", (long long)i, dd[i]);
        if (dd[i] > dd[im]) im = i;
    }
    FSCI_CHECK(dd[im] > 0, FSCI_EINVAL, "analyze: the curve is zero everywhere");
    const double mx = dd[im];
    memset(out, 0, sizeof *out);
    out->peak_value = mx;
    out->entrance = dd[0] / mx;
    double zp = ((double)im + 0.5) * dz_mm;
    if (im > 0 && im < n - 1) {
        double a = dd[im - 1], b = dd[im], c = dd[im + 1], den = a - 2 * b + c;
        if (den < 0) zp += 0.5 * (a - c) / den * dz_mm;
    }
    out->peak_mm = zp;
    const double lv[4] = {0.9, 0.8, 0.5, 0.2};
    double *dst[4] = {&out->r90_mm, &out->r80_mm, &out->r50_mm, &out->r20_mm};
    for (int l = 0; l < 4; l++) {
        double thr = lv[l] * mx, r = NAN;
        for (int64_t i = im + 1; i < n; i++)
            if (dd[i] < thr) {
                double f = (dd[i - 1] - thr) / (dd[i - 1] - dd[i]);
                r = ((double)(i - 1) + 0.5 + f) * dz_mm;
                break;
            }
        *dst[l] = r;
    }
    out->falloff_mm = out->r20_mm - out->r80_mm;
    return FSCI_OK;
}

int fsci_proton_profile_moments(const double *p, int64_t n, double dx_mm, double *mean, double *sigma)
{
    FSCI_CHECK(p && mean && sigma, FSCI_EINVAL, "profile_moments: NULL argument");
    FSCI_CHECK(n >= 1 && isfinite(dx_mm) && dx_mm > 0, FSCI_EINVAL, "profile_moments: n = %lld, dx = %g",
               (long long)n, dx_mm);
    double s0 = 0, s1 = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) {
        FSCI_CHECK(isfinite(p[i]) && p[i] >= 0, FSCI_EINVAL, "profile_moments: sample %lld = %g",
                   (long long)i, p[i]);
        double x = ((double)i + 0.5 - 0.5 * (double)n) * dx_mm;
        s0 += p[i];
        s1 += p[i] * x;
    }
    FSCI_CHECK(s0 > 0, FSCI_EINVAL, "profile_moments: the profile is zero everywhere");
    const double m = s1 / s0;
    for (int64_t i = 0; i < n; i++) {
        double x = ((double)i + 0.5 - 0.5 * (double)n) * dx_mm - m;
        s2 += p[i] * x * x;
    }
    *mean = m;
    *sigma = sqrt(s2 / s0);
    return FSCI_OK;
}
