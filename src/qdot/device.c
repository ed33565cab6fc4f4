/* qdot: the constant-interaction device, its validation and precomputed
 * per-state constants, and point queries (energy, ground state, occupation,
 * analytic triple points). doc/qdot.md section 2. */
#include <lapacke.h>
#include <math.h>
#include <string.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/error.h"
#include "qdot/qdot_impl.h"

void fsci_qdot_params_dqd(fsci_qdot_params *p)
{
    memset(p, 0, sizeof *p);
    p->ndots = 2;
    p->ngates = 2;
    /* total 100 aF per dot, mutual 20 aF; plungers 10 aF with 1 aF cross */
    const double cc[4] = {100.0, -20.0, -20.0, 100.0};
    const double cv[4] = {10.0, 1.0, 1.0, 10.0};
    memcpy(p->c_cc, cc, sizeof cc);
    memcpy(p->c_cv, cv, sizeof cv);
    p->nmax = 3;
    p->kT = 0.01;
    p->sensor_lever[0] = 0.002;
    p->sensor_lever[1] = 0.002;
    p->sensor_coupling[0] = 0.12;
    p->sensor_coupling[1] = 0.08;
    p->sensor_offset = -0.35;
    p->sensor_width = 0.25;
    p->sensor_period = 0.0;
}

static int check_finite(const double *v, int n, const char *field)
{
    for (int i = 0; i < n; i++)
        FSCI_CHECK(isfinite(v[i]), FSCI_EINVAL, "qdot device: %s[%d] is %g (must be finite)", field, i, v[i]);
    return FSCI_OK;
}

static int check_noise(const fsci_qdot_noise *nz)
{
    const double vals[6] = {nz->white,          nz->pink,      nz->telegraph,
                            nz->telegraph_rate, nz->jump_rate, nz->jump_size};
    const char *names[6] = {"noise.white",          "noise.pink",      "noise.telegraph",
                            "noise.telegraph_rate", "noise.jump_rate", "noise.jump_size"};
    for (int i = 0; i < 6; i++)
        FSCI_CHECK(isfinite(vals[i]) && vals[i] >= 0, FSCI_EINVAL,
                   "qdot device: %s is %g (must be finite and >= 0)", names[i], vals[i]);
    FSCI_CHECK(nz->telegraph_rate < 1 && nz->jump_rate < 1, FSCI_EINVAL,
               "qdot device: noise rates must be below 1 per pixel (telegraph %g, jump %g)",
               nz->telegraph_rate, nz->jump_rate);
    FSCI_CHECK(nz->telegraph == 0 || nz->telegraph_rate > 0, FSCI_EINVAL,
               "qdot device: noise.telegraph %g needs noise.telegraph_rate > 0", nz->telegraph);
    return FSCI_OK;
}

static int check_params(const fsci_qdot_params *p)
{
    const int N = p->ndots, G = p->ngates;
    FSCI_CHECK(N >= 1 && N <= FSCI_QDOT_MAX_DOTS, FSCI_EINVAL, "qdot device: ndots %d is outside [1, %d]", N,
               FSCI_QDOT_MAX_DOTS);
    FSCI_CHECK(G >= 1 && G <= FSCI_QDOT_MAX_GATES, FSCI_EINVAL, "qdot device: ngates %d is outside [1, %d]",
               G, FSCI_QDOT_MAX_GATES);
    FSCI_CHECK(p->nmax >= 1, FSCI_EINVAL, "qdot device: nmax %d must be >= 1", p->nmax);
    double ns = pow(p->nmax + 1.0, N);
    FSCI_CHECK(ns <= FSCI_QDOT_MAX_STATES, FSCI_EINVAL,
               "qdot device: (nmax + 1)^ndots = %.0f states exceeds %d (lower nmax or ndots)", ns,
               FSCI_QDOT_MAX_STATES);
    FSCI__QDOT_RET(check_finite(p->c_cc, N * N, "c_cc"));
    FSCI__QDOT_RET(check_finite(p->c_cv, N * G, "c_cv"));
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < i; j++) {
            double a = p->c_cc[i * N + j], b = p->c_cc[j * N + i];
            FSCI_CHECK(fabs(a - b) <= 1e-12 * fmax(fabs(a), fabs(b)), FSCI_EINVAL,
                       "qdot device: c_cc is not symmetric (c_cc[%d][%d] = %g, c_cc[%d][%d] = %g)", i, j, a,
                       j, i, b);
        }
        for (int g = 0; g < G; g++)
            FSCI_CHECK(p->c_cv[i * G + g] >= 0, FSCI_EINVAL,
                       "qdot device: c_cv[%d][%d] is %g (gate capacitances must be >= 0)", i, g,
                       p->c_cv[i * G + g]);
    }
    FSCI_CHECK(isfinite(p->kT) && p->kT >= 0, FSCI_EINVAL, "qdot device: kT %g must be finite and >= 0",
               p->kT);
    FSCI__QDOT_RET(check_finite(p->sensor_lever, G, "sensor_lever"));
    FSCI__QDOT_RET(check_finite(p->sensor_coupling, N, "sensor_coupling"));
    FSCI_CHECK(isfinite(p->sensor_offset), FSCI_EINVAL, "qdot device: sensor_offset is %g", p->sensor_offset);
    FSCI_CHECK(isfinite(p->sensor_width) && p->sensor_width > 0, FSCI_EINVAL,
               "qdot device: sensor_width %g must be > 0", p->sensor_width);
    FSCI_CHECK(isfinite(p->sensor_period) && p->sensor_period >= 0, FSCI_EINVAL,
               "qdot device: sensor_period %g must be >= 0", p->sensor_period);
    return check_noise(&p->noise);
}

/* Ccc^-1 through LAPACK's Cholesky (FSCI_ERANGE if not positive definite). */
static int invert_ccc(const fsci_qdot_params *p, double *inv)
{
    const int N = p->ndots;
    memcpy(inv, p->c_cc, (size_t)N * N * sizeof *inv);
    lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', N, inv, N);
    FSCI_CHECK(info == 0, FSCI_ERANGE,
               "qdot device: c_cc is not positive definite (leading minor %d is not positive); a Maxwell "
               "capacitance matrix has each dot's total capacitance above the sum of its mutual ones",
               (int)info);
    info = LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'L', N, inv, N);
    FSCI_CHECK(info == 0, FSCI_ERANGE, "qdot device: c_cc could not be inverted (dpotri info %d)", (int)info);
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++) inv[i * N + j] = inv[j * N + i];
    return FSCI_OK;
}

static void state_occ(int s, int N, int nmax, int *n)
{
    for (int i = N - 1; i >= 0; i--) {
        n[i] = s % (nmax + 1);
        s /= nmax + 1;
    }
}

static void fill_tables(fsci_qdot_device *d, const double *inv)
{
    const fsci_qdot_params *p = &d->p;
    const int N = p->ndots, G = p->ngates;
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++) d->echarge[i * N + j] = FSCI_QDOT_E2_AF * inv[i * N + j];
        for (int g = 0; g < G; g++) {
            double acc = 0;
            for (int k = 0; k < N; k++) acc += inv[i * N + k] * p->c_cv[k * G + g];
            d->alpha[i * G + g] = acc;
        }
    }
    for (int s = 0; s < d->nstates; s++) {
        int *n = d->occ + (int64_t)s * N;
        state_occ(s, N, p->nmax, n);
        double c = 0, qs = 0, qc = 0;
        for (int i = 0; i < N; i++) {
            for (int j = 0; j < N; j++) c += 0.5 * n[i] * d->echarge[i * N + j] * n[j];
            qs += p->sensor_coupling[i] * n[i];
            qc += n[i];
        }
        d->c[s] = c;
        d->q_sensor[s] = qs;
        d->q_charge[s] = qc;
        for (int g = 0; g < G; g++) {
            double a = 0;
            for (int i = 0; i < N; i++) a += d->alpha[i * G + g] * n[i];
            d->a[(int64_t)s * G + g] = a;
        }
    }
}

int fsci_qdot_device_create(const fsci_qdot_params *p, fsci_qdot_device **out)
{
    FSCI_CHECK(p != NULL && out != NULL, FSCI_EINVAL, "qdot device: NULL argument");
    *out = NULL;
    FSCI__QDOT_RET(check_params(p));
    double inv[FSCI_QDOT_MAX_DOTS * FSCI_QDOT_MAX_DOTS];
    FSCI__QDOT_RET(invert_ccc(p, inv));
    int st = FSCI_OK;
    fsci_qdot_device *d = fsci_calloc(1, sizeof *d);
    FSCI_CHECK(d != NULL, FSCI_ENOMEM, "qdot device: out of memory");
    d->p = *p;
    d->nstates = (int)lround(pow(p->nmax + 1.0, p->ndots));
    int64_t S = d->nstates;
    d->c = fsci_malloc((size_t)S, sizeof *d->c);
    d->a = fsci_malloc((size_t)(S * p->ngates), sizeof *d->a);
    d->occ = fsci_malloc((size_t)(S * p->ndots), sizeof *d->occ);
    d->q_sensor = fsci_malloc((size_t)S, sizeof *d->q_sensor);
    d->q_charge = fsci_malloc((size_t)S, sizeof *d->q_charge);
    FSCI_CHECK_GOTO(d->c && d->a && d->occ && d->q_sensor && d->q_charge, FSCI_ENOMEM,
                    "qdot device: out of memory for %lld states", (long long)S);
    fill_tables(d, inv);
    *out = d;
    return FSCI_OK;
fail:
    fsci_qdot_device_destroy(&d);
    return st;
}

void fsci_qdot_device_destroy(fsci_qdot_device **dev)
{
    if (dev == NULL || *dev == NULL) return;
    fsci_qdot_device *d = *dev;
    fsci_free(d->c);
    fsci_free(d->a);
    fsci_free(d->occ);
    fsci_free(d->q_sensor);
    fsci_free(d->q_charge);
    fsci_free(d);
    *dev = NULL;
}

const fsci_qdot_params *fsci_qdot_device_params(const fsci_qdot_device *dev)
{
    return &dev->p;
}

int fsci_qdot_device_nstates(const fsci_qdot_device *dev)
{
    return dev->nstates;
}

void fsci_qdot_device_matrices(const fsci_qdot_device *dev, double *alpha, double *echarge)
{
    const int N = dev->p.ndots, G = dev->p.ngates;
    if (alpha) memcpy(alpha, dev->alpha, (size_t)N * G * sizeof *alpha);
    if (echarge) memcpy(echarge, dev->echarge, (size_t)N * N * sizeof *echarge);
}

double fsci_qdot_energy(const fsci_qdot_device *dev, const int *n, const double *v)
{
    const int N = dev->p.ndots, G = dev->p.ngates;
    double e = 0;
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++) e += 0.5 * n[i] * dev->echarge[i * N + j] * n[j];
        for (int g = 0; g < G; g++) e -= n[i] * dev->alpha[i * G + g] * v[g];
    }
    return e;
}

static double state_energy(const fsci_qdot_device *d, int s, const double *v)
{
    const int G = d->p.ngates;
    double e = d->c[s];
    for (int g = 0; g < G; g++) e -= d->a[(int64_t)s * G + g] * v[g];
    return e;
}

double fsci_qdot_ground_state(const fsci_qdot_device *dev, const double *v, int *n)
{
    int best = 0;
    double emin = state_energy(dev, 0, v);
    for (int s = 1; s < dev->nstates; s++) {
        double e = state_energy(dev, s, v);
        if (e < emin) {
            emin = e;
            best = s;
        }
    }
    if (n) memcpy(n, dev->occ + (int64_t)best * dev->p.ndots, (size_t)dev->p.ndots * sizeof *n);
    return emin;
}

void fsci_qdot_occupation(const fsci_qdot_device *dev, const double *v, double *nbar)
{
    const int N = dev->p.ndots;
    int n[FSCI_QDOT_MAX_DOTS];
    double emin = fsci_qdot_ground_state(dev, v, n);
    if (dev->p.kT <= 0) {
        for (int i = 0; i < N; i++) nbar[i] = n[i];
        return;
    }
    double z = 0;
    for (int i = 0; i < N; i++) nbar[i] = 0;
    for (int s = 0; s < dev->nstates; s++) {
        double x = (state_energy(dev, s, v) - emin) / dev->p.kT;
        if (x > FSCI__QDOT_KT_CUT) continue;
        double w = exp(-x);
        z += w;
        for (int i = 0; i < N; i++) nbar[i] += w * dev->occ[(int64_t)s * N + i];
    }
    for (int i = 0; i < N; i++) nbar[i] /= z;
}

/* Solve E(na) = E(nb) = E(nc) for (x, y) of gates gx, gy: two linear
 * equations (a_b - a_a) . V = c_b - c_a. Returns false if singular. */
static bool solve_triple(const fsci_qdot_device *d, int gx, int gy, const double *base, const int *sa,
                         const int *sb, const int *sc, double *x, double *y)
{
    const int G = d->p.ngates;
    const int idx[3] = {sa[0] * (d->p.nmax + 1) + sa[1], sb[0] * (d->p.nmax + 1) + sb[1],
                        sc[0] * (d->p.nmax + 1) + sc[1]};
    double m[2][2], r[2];
    for (int k = 0; k < 2; k++) {
        int s0 = idx[0], s1 = idx[k + 1];
        /* c_s1 - a_s1 V = c_s0 - a_s0 V  ->  (a_s1 - a_s0) . V = c_s1 - c_s0 */
        double rhs = d->c[s1] - d->c[s0];
        for (int g = 0; g < G; g++) {
            if (g == gx || g == gy) continue;
            rhs -= (d->a[(int64_t)s1 * G + g] - d->a[(int64_t)s0 * G + g]) * base[g];
        }
        m[k][0] = d->a[(int64_t)s1 * G + gx] - d->a[(int64_t)s0 * G + gx];
        m[k][1] = d->a[(int64_t)s1 * G + gy] - d->a[(int64_t)s0 * G + gy];
        r[k] = rhs;
    }
    double det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
    if (fabs(det) < 1e-300) return false;
    *x = (r[0] * m[1][1] - m[0][1] * r[1]) / det;
    *y = (m[0][0] * r[1] - m[1][0] * r[0]) / det;
    return true;
}

int fsci_qdot_triple_points(const fsci_qdot_device *dev, int gx, int gy, const double *base, double *xy,
                            int *kind, int cap, int *count)
{
    FSCI_CHECK(dev && xy && kind && count && base, FSCI_EINVAL, "qdot triple points: NULL argument");
    FSCI_CHECK(dev->p.ndots == 2, FSCI_EINVAL, "qdot triple points: need a double dot (ndots = 2, got %d)",
               dev->p.ndots);
    FSCI_CHECK(gx >= 0 && gx < dev->p.ngates && gy >= 0 && gy < dev->p.ngates && gx != gy, FSCI_EINVAL,
               "qdot triple points: gates (%d, %d) must be two distinct gates below %d", gx, gy,
               dev->p.ngates);
    int k = 0;
    for (int n1 = 0; n1 < dev->p.nmax; n1++) {
        for (int n2 = 0; n2 < dev->p.nmax; n2++) {
            const int a[2] = {n1, n2}, b[2] = {n1 + 1, n2}, c[2] = {n1, n2 + 1}, d[2] = {n1 + 1, n2 + 1};
            double x, y;
            if (k < cap && solve_triple(dev, gx, gy, base, a, b, c, &x, &y)) {
                xy[2 * k] = x;
                xy[2 * k + 1] = y;
                kind[k++] = 0;
            }
            if (k < cap && solve_triple(dev, gx, gy, base, d, b, c, &x, &y)) {
                xy[2 * k] = x;
                xy[2 * k + 1] = y;
                kind[k++] = 1;
            }
        }
    }
    *count = k;
    return FSCI_OK;
}
