/* proton transport, plan tables: scattering kernels per (material class, energy
 * bin) and energy-transfer tables (targets, deposit, nuclear removal, gather
 * lists); the hooks that expose them to tests and benchmarks. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/error.h"
#include "fastsci/core/parallel.h"
#include "fastsci/core/profile.h"
#include "fastsci/core/progress.h"
#include "proton/proton_impl.h"

#define Q24 16777216.0 /* 2^24 */

/* ---- plan ----------------------------------------------------------------- */

/* 5-point Gauss-Legendre on [-1, 1]. */
static const double GLX[5] = {-0.9061798459386640, -0.5384693101056831, 0.0, 0.5384693101056831,
                              0.9061798459386640};
static const double GLW[5] = {0.2369268850561891, 0.4786286704993665, 0.5688888888888889, 0.4786286704993665,
                              0.2369268850561891};

/* Integrands of the range integrals below, as functions of the energy E(R). */
typedef int (*range_integrand)(const fsci_proton_physics *ph, double e, double *f);

/* 5-point Gauss-Legendre of f(E(R)) dR over [r0, r1], clipped to the table's ranges. */
static int range_integral(const fsci_proton_physics *ph, double r0, double r1, range_integrand f, double *out)
{
    int st = FSCI_OK;
    double rmin = 0, rmax = 0, acc = 0;
    fsci_proton_physics_limits(ph, NULL, NULL, &rmin, &rmax);
    r0 = fmax(r0, rmin);
    r1 = fmin(r1, rmax);
    if (!(r1 > r0)) {
        *out = 0;
        return FSCI_OK;
    }
    const double h = 0.5 * (r1 - r0), c = 0.5 * (r1 + r0);
    for (int i = 0; i < 5; i++) {
        double e = 0, v = 0;
        FSCI_TRY(fsci_proton_physics_energy_mm(ph, c + h * GLX[i], &e));
        FSCI_TRY(f(ph, e, &v));
        acc += GLW[i] * v;
    }
    *out = acc * h;
fail:
    return st;
}

/* The scattering power T(E) (rad^2/mm). */
static int t_of_e(const fsci_proton_physics *ph, double e, double *t)
{
    (void)ph;
    return fsci_proton_scattering_power(e, t);
}

/* Fold a kernel w[0 .. 2 *half] onto a periodic ring of nth angle bins when
 * it is wider than the ring: offsets that land on the same bin are merged
 * (sums of multiples of 2^-24 below 1, so exact in float32), leaving one tap
 * per bin at offsets -h' .. h', h' = nth / 2 (for even nth the tap at -h' is
 * 0: it is the same bin as +h'). Without this, a ring of one bin would apply
 * 1 as w_-1 + w_0 + w_1 in float32 arithmetic at every step and drift the
 * weight by ~1e-8 per step; folded, it applies exactly 1. f: scratch of
 * 2 *half + 1 doubles. */
void fsci__proton_fold_kernel(fsci__psi_t *w, int64_t *half, int64_t nth, double *f)
{
    const int64_t h = *half, hn = nth / 2;
    if (2 * h + 1 <= nth) return;
    for (int64_t d = 0; d <= 2 * hn; d++) f[d] = 0;
    for (int64_t d = -h; d <= h; d++) {
        int64_t m = ((d % nth) + nth) % nth; /* bin offset on the ring, [0, nth) */
        if (m > hn) m -= nth;
        f[m + hn] += (double)w[d + h];
    }
    if (nth % 2 == 0) {
        f[2 * hn] += f[0]; /* -hn and +hn are one bin */
        f[0] = 0;
    }
    for (int64_t d = 0; d <= 2 * hn; d++) w[d] = (fsci__psi_t)f[d];
    *half = hn;
}

/* int T(E(R)) dR over [r0, r1] (rad^2). */
static int t_integral(const fsci_proton_physics *ph, double r0, double r1, double *out)
{
    return range_integral(ph, r0, r1, t_of_e, out);
}

/* Kernel of variance v (bin^2) with at most hmax taps each side: 3 taps
 * (w_{+-1} = v/2) for v <= 0.5; else a sampled Gaussian exp(-t^2 / 2 s^2),
 * |t| <= h = ceil(3 sqrt v), with s solved so that the discrete variance is v;
 * if h is capped and v exceeds what a Gaussian shape on 2h + 1 taps can hold,
 * a mixture of the uniform kernel and the two end taps (still exact and
 * non-negative) up to v = h^2, beyond which v is clamped (*clamped).
 * Side taps are rounded to multiples of 2^-24 and the centre tap is 1 minus
 * their sum, so the taps sum to exactly 1 in float32. w has room for
 * 2 hmax + 1 taps, tmp (scratch) too. */
int fsci__proton_build_kernel(double v, int64_t hmax, fsci__psi_t *w, double *tmp, int64_t *half,
                              bool *clamped)
{
    *clamped = false;
    if (!(v > 0)) {
        *half = 0;
        w[0] = 1;
        return FSCI_OK;
    }
    int64_t h;
    if (v <= 0.5) {
        h = 1;
        tmp[0] = tmp[2] = v / 2;
        tmp[1] = 1 - v;
    } else {
        h = (int64_t)ceil(3 * sqrt(v));
        if (h > hmax) h = hmax;
        double hh = (double)h, vu = hh * (hh + 1) / 3; /* variance of the uniform kernel */
        if (v > hh * hh) {
            v = hh * hh;
            *clamped = true;
        }
        if (v < 0.98 * vu) {
            double lo = 1e-3, hi = 1e3 * hh; /* bisection on the Gaussian's s */
            for (int it = 0; it < 200; it++) {
                double s = 0.5 * (lo + hi), sw = 0, sv = 0;
                for (int64_t t = -h; t <= h; t++) {
                    double g = exp(-0.5 * (double)(t * t) / (s * s));
                    sw += g;
                    sv += g * (double)(t * t);
                }
                if (sv / sw < v)
                    lo = s;
                else
                    hi = s;
                if (hi - lo < 1e-15 * hi) break;
            }
            double s = 0.5 * (lo + hi), sw = 0;
            for (int64_t t = -h; t <= h; t++) {
                tmp[t + h] = exp(-0.5 * (double)(t * t) / (s * s));
                sw += tmp[t + h];
            }
            for (int64_t t = -h; t <= h; t++) tmp[t + h] /= sw;
        } else {
            /* alpha * uniform + (1 - alpha) * {+-h}: alpha vu + (1 - alpha) h^2 = v */
            double alpha = (hh * hh - v) / (hh * hh - vu);
            for (int64_t t = -h; t <= h; t++) tmp[t + h] = alpha / (2 * hh + 1);
            tmp[0] += (1 - alpha) / 2;
            tmp[2 * h] += (1 - alpha) / 2;
        }
    }
    double side = 0, var = 0;
    for (int64_t t = -h; t <= h; t++) {
        if (t == 0) continue;
        double q = fsci__q24(tmp[t + h]);
        tmp[t + h] = q;
        side += q;
        var += q * (double)(t * t);
    }
    /* restore the variance lost to rounding through the +-1 taps (each unit
     * there adds 2 to the variance): exact to 2^-24 */
    if (h >= 1) {
        double dlt = nearbyint((v - var) / 2 * Q24) / Q24;
        if (tmp[h + 1] + dlt >= 0 && 1 - side - 2 * dlt >= 0) {
            tmp[h + 1] += dlt;
            tmp[h - 1] += dlt;
            side += 2 * dlt;
        }
    }
    for (int64_t t = -h; t <= h; t++)
        if (t != 0) w[t + h] = (fsci__psi_t)tmp[t + h];
    w[h] = (fsci__psi_t)(1 - side);
    *half = h;
    return FSCI_OK;
}

/* Energy transfer of source bin k in a material of relative stopping power r:
 * up to two targets tj[0..1] (-1: cutoff; weight 0: unused) with weights
 * summing to exactly 1 in float32. */
static int energy_targets(const fsci_proton_plan *p, int64_t k, double r, int32_t *tj, fsci__psi_t *tw)
{
    tj[0] = tj[1] = -1;
    tw[0] = 1;
    tw[1] = 0;
    if (p->eg->kind == FSCI_PROTON_EGRID_RANGE) {
        /* the loss is r bins: targets k - m (1 - f) and k - m - 1 (f) */
        double m = floor(r), f = fsci__q24(r - m);
        if (f >= 1) {
            m += 1;
            f = 0;
        }
        int64_t ja = k - (int64_t)m, jb = ja - 1;
        tj[0] = (int32_t)(ja < 0 ? -1 : ja);
        tw[0] = (fsci__psi_t)(1 - f);
        tj[1] = (int32_t)(jb < 0 ? -1 : jb);
        tw[1] = (fsci__psi_t)f;
        return FSCI_OK;
    }
    /* UNIFORM / LOG: E' = E(R(v_k) - r ds), split linearly in energy between
     * the bracketing values edge[j] <= E' <= edge[j + 1] (edge[0]: cutoff) */
    const double *edge = p->eg->edge;
    double rv = 0, r0 = 0, e1 = 0;
    int st = FSCI_OK;
    FSCI_TRY(fsci_proton_physics_range_mm(p->ph, p->value[k], &rv));
    FSCI_TRY(fsci_proton_physics_range_mm(p->ph, edge[0], &r0));
    if (rv - r * p->ds <= r0) return FSCI_OK; /* cut off during the step */
    FSCI_TRY(fsci_proton_physics_energy_mm(p->ph, rv - r * p->ds, &e1));
    if (e1 >= p->value[k]) { /* no loss (r = 0) */
        tj[0] = (int32_t)k;
        return FSCI_OK;
    }
    int64_t lo = 0, hi = k + 1; /* edge[lo] <= e1 < edge[hi] */
    while (hi - lo > 1) {
        int64_t mid = (lo + hi) / 2;
        if (edge[mid] <= e1)
            lo = mid;
        else
            hi = mid;
    }
    /* e1 in [edge[lo], edge[lo + 1]]: value of bin lo is edge[lo + 1], of bin lo - 1 edge[lo] */
    double f = fsci__q24((e1 - edge[lo]) / (edge[lo + 1] - edge[lo]));
    tj[0] = (int32_t)lo;
    tw[0] = (fsci__psi_t)f;
    tj[1] = (int32_t)(lo - 1 < 0 ? -1 : lo - 1);
    tw[1] = (fsci__psi_t)(1 - f);
fail:
    return st;
}

static double target_value(const fsci_proton_plan *p, int32_t j)
{
    return j < 0 ? 0 : p->value[j];
}

/* int K(E(R)) / S(E(R))^2 dR over [r0, r1] (mm^2): the range variance that
 * Bohr straggling adds over that interval of water range. */
/* K(E) / S(E)^2 (mm): Bohr's energy variance per mm over the squared stopping power. */
static int k_over_s2(const fsci_proton_physics *ph, double e, double *f)
{
    int st = FSCI_OK;
    double k = 0, sp = 0;
    FSCI_TRY(fsci_proton_bohr_straggling(e, &k));
    FSCI_TRY(fsci_proton_physics_stop_mm(ph, e, &sp));
    *f = k / (sp * sp);
fail:
    return st;
}

static int straggle_integral(const fsci_proton_physics *ph, double r0, double r1, double *out)
{
    return range_integral(ph, r0, r1, k_over_s2, out);
}

/* Straggling variance (bin^2) one step adds to source bin k in class c.
 * RANGE grids: (rho / r) int K / S^2 dR over the r ds of water range the step
 * covers, over ds^2; other grids: K rho ds over the bin's width in energy. */
static int straggle_var(const fsci_proton_plan *p, int64_t c, int64_t k, double *v)
{
    int st = FSCI_OK;
    const double r = p->c_rsp[c], rho = p->c_rho[c];
    *v = 0;
    if (!p->o.straggling || !(r > 0) || !(rho > 0)) return FSCI_OK;
    if (p->eg->kind == FSCI_PROTON_EGRID_RANGE) {
        const double rt = p->eg->edge_range[k + 1];
        double a = 0;
        FSCI_TRY(straggle_integral(p->ph, rt - r * p->ds, rt, &a));
        *v = rho / r * a / (p->ds * p->ds);
    } else {
        double kv = 0, de = p->eg->edge[k + 1] - p->eg->edge[k];
        FSCI_TRY(fsci_proton_bohr_straggling(p->value[k], &kv));
        *v = kv * rho * p->ds / (de * de);
    }
fail:
    return st;
}

/* The targets of source bin k (class c) into tp (returns the count): the
 * CSDA split (tj, tw) as is without straggling; with it, each part that does
 * not reach the cutoff convolved with the kernel kw[0 .. 2 h] (targets below
 * bin 0 go to the cutoff, above the top bin to the top bin), all weights but
 * the largest rounded to 2^-24 and the largest 1 minus their sum (exact in
 * float32). cw: scratch of 2 h + 4 doubles. */
static int64_t combine_targets(const fsci_proton_plan *p, int64_t k, const int32_t *tj, const fsci__psi_t *tw,
                               const fsci__psi_t *kw, int64_t h, double *cw, fsci__epart *tp)
{
    int64_t n = 0;
    if (!p->o.straggling) {
        for (int i = 0; i < 2; i++)
            if (tw[i] != 0) tp[n++] = (fsci__epart){tj[i], tw[i]};
        return n;
    }
    /* window of targets [b, b + 2 h + 2]: b = lowest CSDA target - h, -1 cutoff */
    int64_t lo = INT64_MAX;
    for (int i = 0; i < 2; i++)
        if (tw[i] != 0 && tj[i] < lo) lo = tj[i];
    if (lo == INT64_MAX) lo = k;
    const int64_t b = lo - h, m = 2 * h + 3;
    for (int64_t q = 0; q < m; q++) cw[q] = 0;
    double cut = 0;
    for (int i = 0; i < 2; i++) {
        if (tw[i] == 0) continue;
        if (tj[i] < 0) {
            cut += (double)tw[i];
            continue;
        }
        for (int64_t d = 0; d <= 2 * h; d++) cw[tj[i] - h + d - b] += (double)tw[i] * (double)kw[d];
    }
    /* fold targets below bin 0 into the cutoff and above the top into the top bin */
    for (int64_t q = 0; q < m; q++) {
        const int64_t j = b + q;
        if (j < 0) {
            cut += cw[q];
            cw[q] = 0;
        } else if (j > p->ne - 1) {
            cw[p->ne - 1 - b] += cw[q];
            cw[q] = 0;
        }
    }
    int64_t big = -1; /* index of the largest part (-2: the cutoff) */
    double bw = cut;
    if (cut > 0) big = -2;
    for (int64_t q = 0; q < m; q++)
        if (cw[q] > bw) {
            bw = cw[q];
            big = q;
        }
    double side = 0;
    if (big != -2) {
        cut = fsci__q24(cut);
        side += cut;
    }
    for (int64_t q = 0; q < m; q++)
        if (q != big) {
            cw[q] = fsci__q24(cw[q]);
            side += cw[q];
        }
    if (big == -2)
        cut = 1 - side;
    else
        cw[big] = 1 - side;
    if (cut > 0) tp[n++] = (fsci__epart){-1, (fsci__psi_t)cut};
    for (int64_t q = 0; q < m; q++)
        if (cw[q] > 0) tp[n++] = (fsci__epart){(int32_t)(b + q), (fsci__psi_t)cw[q]};
    return n;
}

/* The energy-transfer tables of one class: t parts, dep, cutf, nuce. */
static int class_targets(fsci_proton_plan *p, int64_t c, fsci__epart *tp, int64_t *nt, fsci__psi_t *kw,
                         double *tmp, double *cw)
{
    int st = FSCI_OK;
    const int64_t ne = p->ne;
    const double gam = p->o.nuclear_local, pn = p->nucw[c];
    for (int64_t k = 0; k < ne; k++) {
        int32_t *tj = p->e_tj + 2 * (c * ne + k);
        fsci__psi_t *tw = p->e_tw + 2 * (c * ne + k);
        FSCI_TRY(energy_targets(p, k, p->c_rsp[c], tj, tw));
        double v = 0;
        int64_t h = 0;
        bool clamped = false;
        FSCI_TRY(straggle_var(p, c, k, &v));
        FSCI_TRY(fsci__proton_build_kernel(v, p->o.kernel_half_max, kw, tmp, &h, &clamped));
        const int64_t n = combine_targets(p, k, tj, tw, kw, h, cw, tp + *nt);
        const double vk = p->value[k];
        double dep = 0, cut = 0;
        for (int64_t i = 0; i < n; i++) {
            const fsci__epart e = tp[*nt + i];
            dep += (double)e.w * (vk - target_value(p, e.k));
            if (e.k < 0) cut += (double)e.w;
        }
        p->t_off[c * ne + k + 1] = p->t_off[c * ne + k] + n;
        *nt += n;
        p->dep[c * ne + k] = pn * gam * vk + (1 - pn) * dep;
        p->cutf[c * ne + k] = (1 - pn) * cut;
        p->nuce[c * ne + k] = pn * (1 - gam) * vk;
    }
fail:
    return st;
}

int fsci__proton_build_energy_tables(fsci_proton_plan *p)
{
    int st = FSCI_OK;
    const int64_t nc = p->nclass, ne = p->ne, hmax = p->o.kernel_half_max;
    const int64_t per = p->o.straggling ? 2 * hmax + 4 : 2; /* targets per source, at most */
    double *tmp = fsci_malloc((size_t)(2 * hmax + 1), sizeof(double));
    double *cw = fsci_malloc((size_t)(2 * hmax + 4), sizeof(double));
    fsci__psi_t *kw = fsci_malloc((size_t)(2 * hmax + 1), sizeof(fsci__psi_t));
    fsci__epart *tp = fsci_malloc((size_t)(nc * ne * per), sizeof(fsci__epart));
    p->e_tj = fsci_malloc((size_t)(nc * ne * 2), sizeof(int32_t));
    p->e_tw = fsci_malloc((size_t)(nc * ne * 2), sizeof(fsci__psi_t));
    p->dep = fsci_malloc((size_t)(nc * ne), sizeof(double));
    p->cutf = fsci_malloc((size_t)(nc * ne), sizeof(double));
    p->nuce = fsci_malloc((size_t)(nc * ne), sizeof(double));
    p->nucw = fsci_malloc((size_t)nc, sizeof(double));
    p->surv = fsci_malloc((size_t)nc, sizeof(fsci__psi_t));
    p->g_off = fsci_calloc((size_t)(nc * ne + 1), sizeof(int64_t));
    p->t_off = fsci_calloc((size_t)(nc * ne + 1), sizeof(int64_t));
    FSCI_CHECK_GOTO(tmp && cw && kw && tp && p->e_tj && p->e_tw && p->dep && p->cutf && p->nuce && p->nucw &&
                        p->surv && p->g_off && p->t_off,
                    FSCI_ENOMEM, "plan: out of memory for the energy tables");
    int64_t nt = 0;
    for (int64_t c = 0; c < nc; c++) {
        double pr = p->o.nuclear ? 1 - exp(-p->o.nuclear_mu_per_mm * p->c_rho[c] * p->ds) : 0;
        double sv = 1 - fsci__q24(pr);
        p->surv[c] = (fsci__psi_t)sv;
        p->nucw[c] = 1 - sv; /* the removal actually applied to psi */
        FSCI_TRY(class_targets(p, c, tp, &nt, kw, tmp, cw));
    }
    p->t_part = fsci_malloc((size_t)(nt > 0 ? nt : 1), sizeof(fsci__epart));
    FSCI_CHECK_GOTO(p->t_part, FSCI_ENOMEM, "plan: out of memory for the energy tables");
    memcpy(p->t_part, tp, (size_t)nt * sizeof(fsci__epart));
    int32_t lo = INT32_MAX, hi = INT32_MIN;
    for (int64_t c = 0; c < nc; c++)
        for (int64_t k = 0; k < ne; k++)
            for (int64_t q = p->t_off[c * ne + k]; q < p->t_off[c * ne + k + 1]; q++) {
                const int32_t j = p->t_part[q].k;
                if (j < 0) continue;
                p->g_off[c * ne + j + 1]++;
                const int32_t d = (int32_t)(k - j);
                if (d < lo) lo = d;
                if (d > hi) hi = d;
            }
    if (lo > hi) lo = hi = 0;
    p->g_span_lo = lo;
    p->g_span_hi = hi;
    for (int64_t i = 0; i < nc * ne; i++) p->g_off[i + 1] += p->g_off[i];
    p->g_part = fsci_malloc((size_t)(p->g_off[nc * ne] > 0 ? p->g_off[nc * ne] : 1), sizeof(fsci__epart));
    FSCI_CHECK_GOTO(p->g_part, FSCI_ENOMEM, "plan: out of memory for the energy tables");
    {
        int64_t *fill = fsci_malloc((size_t)(nc * ne), sizeof(int64_t));
        FSCI_CHECK_GOTO(fill, FSCI_ENOMEM, "plan: out of memory for the energy tables");
        memcpy(fill, p->g_off, (size_t)(nc * ne) * sizeof(int64_t));
        for (int64_t c = 0; c < nc; c++)
            for (int64_t k = 0; k < ne; k++)
                for (int64_t q = p->t_off[c * ne + k]; q < p->t_off[c * ne + k + 1]; q++) {
                    const fsci__epart t = p->t_part[q];
                    if (t.k < 0) continue;
                    fsci__epart *e = &p->g_part[fill[c * ne + t.k]++];
                    e->k = (int32_t)k;
                    e->w = t.w;
                }
        fsci_free(fill);
    }
    p->water_shift = p->eg->kind == FSCI_PROTON_EGRID_RANGE && nc == 1 && p->c_rsp[0] == 1;
    p->shift_blend = p->water_shift && p->o.straggling;
fail:
    fsci_free(tp);
    fsci_free(kw);
    fsci_free(cw);
    fsci_free(tmp);
    return st;
}

int fsci__proton_build_kernels(fsci_proton_plan *p)
{
    int st = FSCI_OK;
    const int64_t nc = p->nclass, ne = p->ne, hmax = p->o.kernel_half_max;
    fsci__psi_t *w = NULL;
    double *tmp = fsci_malloc((size_t)(2 * hmax + 1), sizeof(double));
    p->tbar = fsci_malloc((size_t)ne, sizeof(double));
    p->tcum = fsci_malloc((size_t)ne + 1, sizeof(double));
    p->k_half = fsci_malloc((size_t)(nc * ne), sizeof(int32_t));
    p->k_off = fsci_malloc((size_t)(nc * ne), sizeof(int64_t));
    p->k_var = fsci_malloc((size_t)(nc * ne), sizeof(double));
    p->bin_half = fsci_calloc((size_t)ne, sizeof(int32_t));
    w = fsci_malloc((size_t)(2 * hmax + 1), sizeof(fsci__psi_t));
    FSCI_CHECK_GOTO(p->tbar && p->tcum && p->k_half && p->k_off && p->k_var && p->bin_half && w && tmp,
                    FSCI_ENOMEM, "plan: out of memory for the scattering kernels");
    /* mean scattering power over the step of each bin, in water */
    p->tcum[0] = 0;
    for (int64_t k = 0; k < ne; k++) {
        double r1 = 0, ti = 0;
        if (p->eg->kind == FSCI_PROTON_EGRID_RANGE) {
            FSCI_TRY(t_integral(p->ph, p->eg->edge_range[k], p->eg->edge_range[k + 1], &ti));
        } else {
            FSCI_TRY(fsci_proton_physics_range_mm(p->ph, p->value[k], &r1));
            FSCI_TRY(t_integral(p->ph, r1 - p->ds, r1, &ti));
        }
        p->tbar[k] = ti / p->ds;
        p->tcum[k + 1] = p->tcum[k] + ti;
    }
    int64_t taps = 0;
    p->hmax_used = 0;
    p->kernels_clamped = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            p->k_taps = taps;
            p->k_w = fsci_malloc((size_t)taps, sizeof(fsci__psi_t));
            FSCI_CHECK_GOTO(p->k_w, FSCI_ENOMEM, "plan: out of memory for the scattering kernels");
#ifdef FSCI_PROTON_F64
            p->k_w32 = fsci_malloc((size_t)taps, sizeof(float));
            FSCI_CHECK_GOTO(p->k_w32, FSCI_ENOMEM, "plan: out of memory for the scattering kernels");
#endif
            taps = 0;
        }
        for (int64_t c = 0; c < nc; c++)
            for (int64_t k = 0; k < ne; k++) {
                double v = p->c_rscat[c] * p->tbar[k] * p->ds / (p->dth * p->dth);
                int64_t h = 0;
                bool cl = false;
                FSCI_TRY(fsci__proton_build_kernel(v, hmax, w, tmp, &h, &cl));
                if (p->o.theta_bc == FSCI_PROTON_THETA_PERIODIC) fsci__proton_fold_kernel(w, &h, p->nth, tmp);
                if (pass == 1) {
                    const int64_t i = c * ne + k;
                    p->k_half[i] = (int32_t)h;
                    p->k_off[i] = taps;
                    p->k_var[i] = v;
                    memcpy(p->k_w + taps, w, (size_t)(2 * h + 1) * sizeof(fsci__psi_t));
#ifdef FSCI_PROTON_F64
                    for (int64_t d = 0; d <= 2 * h; d++)
                        p->k_w32[taps + d] = (float)w[d]; /* exact: 2^-24 steps */
#endif
                    if (h > p->bin_half[k]) p->bin_half[k] = (int32_t)h;
                    if (h > p->hmax_used) p->hmax_used = h;
                    p->kernels_clamped += cl;
                }
                taps += 2 * h + 1;
            }
    }
fail:
    fsci_free(w);
    fsci_free(tmp);
    return st;
}

int fsci_proton_plan_kernel(const fsci_proton_plan *p, int64_t ie, int64_t ic, int64_t *half, const float **w,
                            double *variance)
{
    FSCI_CHECK(p && half && w, FSCI_EINVAL, "plan_kernel: NULL argument");
    FSCI_CHECK(ie >= 0 && ie < p->ne, FSCI_EINVAL, "plan_kernel: energy bin %lld outside [0, %lld)",
               (long long)ie, (long long)p->ne);
    FSCI_CHECK(ic >= 0 && ic < p->nclass, FSCI_EINVAL, "plan_kernel: material class %lld outside [0, %lld)",
               (long long)ic, (long long)p->nclass);
    const int64_t i = ic * p->ne + ie;
    *half = p->k_half[i];
#ifdef FSCI_PROTON_F64
    *w = p->k_w32 + p->k_off[i];
#else
    *w = p->k_w + p->k_off[i];
#endif
    if (variance) *variance = p->k_var[i];
    return FSCI_OK;
}

int fsci_proton_plan_stencil(const fsci_proton_plan *p, int64_t it, int64_t *iu, double *fu, int64_t *iv,
                             double *fv)
{
    FSCI_CHECK(p && iu && fu && iv && fv, FSCI_EINVAL, "plan_stencil: NULL argument");
    FSCI_CHECK(it >= 0 && it < p->nth, FSCI_EINVAL, "plan_stencil: angle bin %lld outside [0, %lld)",
               (long long)it, (long long)p->nth);
    *iu = p->sten[it].iu;
    *iv = p->sten[it].iv;
    *fu = (double)p->sten[it].fu;
    *fv = (double)p->sten[it].fv;
    return FSCI_OK;
}

int fsci_proton_plan_transfer(const fsci_proton_plan *p, int64_t ie, int64_t ic, int64_t target[2],
                              double weight[2], double *survival, double *deposit)
{
    FSCI_CHECK(p && target && weight, FSCI_EINVAL, "plan_transfer: NULL argument");
    FSCI_CHECK(ie >= 0 && ie < p->ne, FSCI_EINVAL, "plan_transfer: energy bin %lld outside [0, %lld)",
               (long long)ie, (long long)p->ne);
    FSCI_CHECK(ic >= 0 && ic < p->nclass, FSCI_EINVAL, "plan_transfer: material class %lld outside [0, %lld)",
               (long long)ic, (long long)p->nclass);
    const int64_t i = ic * p->ne + ie;
    for (int q = 0; q < 2; q++) {
        weight[q] = (double)p->e_tw[2 * i + q];
        target[q] = weight[q] > 0 ? p->e_tj[2 * i + q] : -2;
    }
    if (survival) *survival = (double)p->surv[ic];
    if (deposit) *deposit = p->dep[i];
    return FSCI_OK;
}
