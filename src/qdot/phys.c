/* qdot: the tuning agent on the physical simulator (phys.h; doc/qdot.md section 7). */
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
#include "qdot/phys.h"
#include "qdot/plan.h"
#include "qdot/qdot_impl.h"

enum { NMAX = 4, S = (NMAX + 1) * (NMAX + 1), TARGET = 1 * (NMAX + 1) + 1, NTH = 7 };
enum { SURVEY = 16, LOCAL = 12, FINE = 61, SMOOTH = 7 };
static const double HALF = 6.0;
static const double PRIOR_LO[NTH] = {80, 80, 5, 8, 0, 0, 8};
static const double PRIOR_HI[NTH] = {120, 120, 30, 12, 2, 2, 12};

/* Philox streams of the physical agent: key {seed, stream}, counter {0, 0, trial, index}. */
#define STREAM_DEVICE UINT64_C(0x71640020) /* the true device */
#define STREAM_PRIOR UINT64_C(0x71640021)  /* initial particles, index = particle */
#define STREAM_MOVE UINT64_C(0x71640022)   /* resample-move, index = round * 2^32 + particle */
#define STREAM_NOISE UINT64_C(0x71640023)  /* the scans' noise: stream of the scan */

void fsci__qdot_phys_defaults(fsci__qdot_phys_opts *o)
{
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->particles = 4000;
    o->p_goal = 0.95;
    o->retries = 2;
    o->lo = 0;
    o->hi = 60;
    o->budget = 2048;
    o->slew = 10;
}

/* One scan kept for re-weighting: its grid and the log-likelihood ratio of an edge per pixel pair
 * (horizontal pairs first, then vertical). */
typedef struct scan_rec {
    double x0, x1, y0, y1;
    int nx, ny;
    double *llr;
} scan_rec;

typedef struct phys {
    int64_t n;
    double *th, *th2, *logw, *w, *cum;
    int64_t *idx;
    double *c, *a; /* per particle: c[p * S + s], a[(p * S + s) * 2 + g] */
    double *work, *xs, *ys, *zero, *fine;
    int32_t *st;
    double qzero[S];
    int occ[S * 2];
    scan_rec scans[8];
    int nscans;
} phys;

static void tables(const double *th, double *c, double *a)
{
    const double c1 = th[0], c2 = th[1], cm = th[2], det = c1 * c2 - cm * cm;
    const double inv[4] = {c2 / det, cm / det, cm / det, c1 / det};
    const double al[4] = {inv[0] * th[3] + inv[1] * th[5], inv[0] * th[4] + inv[1] * th[6],
                          inv[2] * th[3] + inv[3] * th[5], inv[2] * th[4] + inv[3] * th[6]};
    for (int s = 0; s < S; s++) {
        const double n1 = s / (NMAX + 1), n2 = s % (NMAX + 1);
        c[s] = 0.5 * FSCI_QDOT_E2_AF * (n1 * inv[0] * n1 + 2 * n1 * inv[1] * n2 + n2 * inv[3] * n2);
        a[2 * s] = al[0] * n1 + al[2] * n2;
        a[2 * s + 1] = al[1] * n1 + al[3] * n2;
    }
}

/* Ground-state indices of particle p at np points, through the simulator's kernel. */
static void ground(phys *b, int64_t p, const double *x, const double *y, int64_t np, int32_t *out,
                   double *sig)
{
    struct fsci_qdot_device d;
    memset(&d, 0, sizeof d);
    d.p.ndots = 2;
    d.p.ngates = 2;
    d.p.nmax = NMAX;
    d.p.sensor_width = 1;
    d.nstates = S;
    d.c = b->c + p * S;
    d.a = b->a + p * S * 2;
    d.occ = b->occ;
    d.q_sensor = d.q_charge = b->qzero;
    const double base[2] = {0, 0};
    fsci__qdot_eval(&d, FSCI_QDOT_CHARGE, 0, 1, base, x, y, NULL, np, sig, out, b->work);
}

static void grid(double x0, double x1, double y0, double y1, int nx, int ny, double *x, double *y)
{
    for (int j = 0; j < ny; j++)
        for (int i = 0; i < nx; i++) {
            x[j * nx + i] = x0 + (x1 - x0) * i / (nx - 1);
            y[j * nx + i] = y0 + (y1 - y0) * j / (ny - 1);
        }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The edge log-likelihood ratio of every pixel pair of a scan: no edge, |d| ~ half-normal of the
 * pixel noise (estimated from the median pair, most pairs having no edge); edge, a mixture of a
 * uniform step up to 0.5 and the noise. */
static void edge_llr(const double *obs, int nx, int ny, double *llr, double *tmp)
{
    int k = 0;
    for (int j = 0; j < ny; j++)
        for (int i = 0; i + 1 < nx; i++) llr[k++] = fabs(obs[j * nx + i + 1] - obs[j * nx + i]);
    for (int j = 0; j + 1 < ny; j++)
        for (int i = 0; i < nx; i++) llr[k++] = fabs(obs[(j + 1) * nx + i] - obs[j * nx + i]);
    memcpy(tmp, llr, (size_t)k * sizeof *tmp);
    qsort(tmp, (size_t)k, sizeof *tmp, cmp_double);
    double med = k % 2 ? tmp[k / 2] : 0.5 * (tmp[k / 2 - 1] + tmp[k / 2]);
    const double sig = fmax(1.4826 * med / sqrt(2.0), 1e-4), s2 = sqrt(2.0) * sig;
    for (int q = 0; q < k; q++) {
        const double d = llr[q];
        const double l_no = -0.5 * (d / s2) * (d / s2) - log(s2 * sqrt(1.57079632679489661923));
        const double l_edge = log(0.8 / 0.5 * (d < 0.5) + 0.2 * exp(l_no) + 1e-300);
        llr[q] = l_edge - l_no;
    }
}

static double loglik(phys *b, int64_t p, const scan_rec *r)
{
    const int nx = r->nx, ny = r->ny;
    grid(r->x0, r->x1, r->y0, r->y1, nx, ny, b->xs, b->ys);
    ground(b, p, b->xs, b->ys, (int64_t)nx * ny, b->st, b->zero);
    double ll = 0;
    int k = 0;
    for (int j = 0; j < ny; j++)
        for (int i = 0; i + 1 < nx; i++, k++)
            if (b->st[j * nx + i + 1] != b->st[j * nx + i]) ll += r->llr[k];
    for (int j = 0; j + 1 < ny; j++)
        for (int i = 0; i < nx; i++, k++)
            if (b->st[(j + 1) * nx + i] != b->st[j * nx + i]) ll += r->llr[k];
    return ll;
}

static void normalise(phys *b)
{
    double m = -HUGE_VAL;
    for (int64_t p = 0; p < b->n; p++) m = fmax(m, b->logw[p]);
    for (int64_t p = 0; p < b->n; p++) b->logw[p] -= m;
}

static void add_scan_weights(phys *b, const scan_rec *r)
{
    for (int64_t p = 0; p < b->n; p++) b->logw[p] += loglik(b, p, r);
    normalise(b);
}

static void all_tables(phys *b)
{
    for (int64_t p = 0; p < b->n; p++) tables(b->th + p * NTH, b->c + p * S, b->a + p * S * 2);
}

/* Resample-move: systematic resampling by weight, a Gaussian jitter of scale / (round + 1) times
 * the prior's width (kept inside the prior), then weights from every scan so far. */
static void refine(phys *b, const fsci__qdot_phys_opts *o, int rounds, double scale, uint64_t *move)
{
    for (int r = 0; r < rounds; r++, (*move)++) {
        double tot = 0;
        for (int64_t p = 0; p < b->n; p++) tot += (b->w[p] = exp(b->logw[p]));
        for (int64_t p = 0; p < b->n; p++) b->w[p] /= tot;
        fsci_rng g;
        fsci_rng_init(&g, o->seed, STREAM_MOVE, (uint64_t)o->trial, *move << 32);
        fsci__qdot_resample_indices(b->w, b->n, fsci_rng_uniform(&g), b->cum, b->idx);
        for (int64_t p = 0; p < b->n; p++) {
            fsci_rng_init(&g, o->seed, STREAM_MOVE, (uint64_t)o->trial, (*move << 32) | (uint64_t)(p + 1));
            for (int k = 0; k < NTH; k++) {
                double v = b->th[b->idx[p] * NTH + k] +
                           fsci_rng_normal(&g) * (PRIOR_HI[k] - PRIOR_LO[k]) * scale / (r + 1);
                b->th2[p * NTH + k] = fmin(fmax(v, PRIOR_LO[k]), PRIOR_HI[k]);
            }
        }
        double *t = b->th;
        b->th = b->th2;
        b->th2 = t;
        all_tables(b);
        memset(b->logw, 0, (size_t)b->n * sizeof *b->logw);
        for (int k = 0; k < b->nscans; k++)
            for (int64_t p = 0; p < b->n; p++) b->logw[p] += loglik(b, p, &b->scans[k]);
        normalise(b);
    }
}

/* Posterior probability of (1, 1) at np points (particles below 1e-9 of the largest weight left out). */
static void p_target(phys *b, const double *x, const double *y, int64_t np, double *out)
{
    double tot = 0;
    for (int64_t p = 0; p < b->n; p++) tot += (b->w[p] = b->logw[p] > log(1e-9) ? exp(b->logw[p]) : 0);
    memset(out, 0, (size_t)np * sizeof *out);
    for (int64_t p = 0; p < b->n; p++) {
        if (b->w[p] == 0) continue;
        ground(b, p, x, y, np, b->st, b->zero);
        const double w = b->w[p] / tot;
        for (int64_t i = 0; i < np; i++) out[i] += b->st[i] == TARGET ? w : 0.0;
    }
    for (int64_t i = 0; i < np; i++) out[i] = fmin(out[i], 1.0); /* a sum of normalised weights */
}

static double ess(phys *b)
{
    double s = 0, s2 = 0;
    for (int64_t p = 0; p < b->n; p++) {
        const double w = exp(b->logw[p]);
        s += w;
        s2 += w * w;
    }
    return s * s / s2;
}

static void phys_free(phys *b)
{
    fsci_free(b->th);
    fsci_free(b->th2);
    fsci_free(b->logw);
    fsci_free(b->w);
    fsci_free(b->cum);
    fsci_free(b->idx);
    fsci_free(b->c);
    fsci_free(b->a);
    fsci_free(b->work);
    fsci_free(b->xs);
    fsci_free(b->ys);
    fsci_free(b->zero);
    fsci_free(b->fine);
    fsci_free(b->st);
    for (int k = 0; k < 8; k++) fsci_free(b->scans[k].llr);
    memset(b, 0, sizeof *b);
}

static int phys_alloc(phys *b, int64_t n, double lo, double hi)
{
    memset(b, 0, sizeof *b);
    b->n = n;
    const int64_t pts = FINE * FINE;
    b->th = fsci_malloc((size_t)(n * NTH), sizeof(double));
    b->th2 = fsci_malloc((size_t)(n * NTH), sizeof(double));
    b->logw = fsci_malloc((size_t)n, sizeof(double));
    b->w = fsci_malloc((size_t)n, sizeof(double));
    b->cum = fsci_malloc((size_t)n, sizeof(double));
    b->idx = fsci_malloc((size_t)n, sizeof(int64_t));
    b->c = fsci_malloc((size_t)(n * S), sizeof(double));
    b->a = fsci_malloc((size_t)(n * S * 2), sizeof(double));
    b->work = fsci_malloc((size_t)(4 * S + 6 * FSCI__QDOT_BLOCK + S * FSCI__QDOT_BLOCK), sizeof(double));
    b->xs = fsci_malloc((size_t)pts, sizeof(double));
    b->ys = fsci_malloc((size_t)pts, sizeof(double));
    b->zero = fsci_malloc((size_t)pts, sizeof(double));
    b->fine = fsci_malloc((size_t)(3 * pts), sizeof(double));
    b->st = fsci_malloc((size_t)pts, sizeof(int32_t));
    bool ok = b->th && b->th2 && b->logw && b->w && b->cum && b->idx && b->c && b->a && b->work && b->xs &&
              b->ys && b->zero && b->fine && b->st;
    for (int k = 0; k < 8 && ok; k++)
        ok = (b->scans[k].llr = fsci_malloc(2 * SURVEY * SURVEY, sizeof(double)));
    if (!ok) {
        phys_free(b);
        return fsci_error_set(FSCI_ENOMEM, __FILE__, __LINE__, __func__,
                              "qdot physical agent: out of memory for %lld particles", (long long)n);
    }
    for (int s = 0; s < S; s++) {
        b->qzero[s] = 0;
        b->occ[2 * s] = s / (NMAX + 1);
        b->occ[2 * s + 1] = s % (NMAX + 1);
    }
    grid(lo, hi, lo, hi, FINE, FINE, b->fine, b->fine + pts);
    return FSCI_OK;
}

/* The true device of a trial: capacitances from the prior, a sensor with random lever arms,
 * couplings and offset, kT 0.01 meV, white noise 0.01 and 1/f noise 0.005. */
static void true_device(const fsci__qdot_phys_opts *o, fsci_qdot_params *p, double *th)
{
    fsci_rng g;
    fsci_rng_init(&g, o->seed, STREAM_DEVICE, (uint64_t)o->trial, 0);
    for (int k = 0; k < NTH; k++) th[k] = PRIOR_LO[k] + (PRIOR_HI[k] - PRIOR_LO[k]) * fsci_rng_uniform(&g);
    fsci_qdot_params_dqd(p);
    const double cc[4] = {th[0], -th[2], -th[2], th[1]}, cv[4] = {th[3], th[4], th[5], th[6]};
    memcpy(p->c_cc, cc, sizeof cc);
    memcpy(p->c_cv, cv, sizeof cv);
    p->nmax = NMAX;
    p->kT = 0.01;
    for (int k = 0; k < 2; k++) p->sensor_lever[k] = 0.001 + 0.002 * fsci_rng_uniform(&g);
    for (int k = 0; k < 2; k++) p->sensor_coupling[k] = 0.06 + 0.09 * fsci_rng_uniform(&g);
    p->sensor_offset = -0.5 + 0.3 * fsci_rng_uniform(&g);
    p->noise.white = 0.01;
    p->noise.pink = 0.005;
}

/* Measure an nx x ny scan of the true device and keep its edge likelihood. */
static int measure(phys *b, const fsci_qdot_device *dev, const fsci__qdot_phys_opts *o, double x0, double x1,
                   double y0, double y1, int n, int64_t *meas)
{
    scan_rec *r = &b->scans[b->nscans];
    fsci_qdot_scan s = {.gx = 0, .gy = 1, .x0 = x0, .x1 = x1, .y0 = y0, .y1 = y1, .nx = n, .ny = n};
    s.signal = FSCI_QDOT_SENSOR;
    s.noise = true;
    s.seed = o->seed ^ STREAM_NOISE;
    s.stream = (uint64_t)o->trial * 8 + (uint64_t)b->nscans;
    FSCI__QDOT_RET(fsci_qdot_scan_run(dev, &s, b->zero, NULL));
    edge_llr(b->zero, n, n, r->llr, b->xs);
    r->x0 = x0;
    r->x1 = x1;
    r->y0 = y0;
    r->y1 = y1;
    r->nx = r->ny = n;
    b->nscans++;
    *meas += (int64_t)n * n;
    add_scan_weights(b, r);
    return FSCI_OK;
}

/* The most probable (1, 1) point of the fine grid, the posterior averaged over a 7 x 7 window
 * (zero outside the window), first maximum in row order. */
static void navigate(phys *b, double *v)
{
    const int64_t pts = FINE * FINE;
    double *p = b->fine + 2 * pts;
    p_target(b, b->fine, b->fine + pts, pts, p);
    double best = -1;
    int64_t arg = 0;
    for (int j = 0; j < FINE; j++)
        for (int i = 0; i < FINE; i++) {
            double acc = 0;
            for (int dj = -SMOOTH / 2; dj <= SMOOTH / 2; dj++)
                for (int di = -SMOOTH / 2; di <= SMOOTH / 2; di++) {
                    const int jj = j + dj, ii = i + di;
                    if (jj >= 0 && jj < FINE && ii >= 0 && ii < FINE) acc += p[jj * FINE + ii];
                }
            if (acc > best) {
                best = acc;
                arg = j * FINE + i;
            }
        }
    v[0] = b->fine[arg];
    v[1] = b->fine[pts + arg];
}

/* One decision of the governance log. */
static void log_line(const fsci__qdot_phys_opts *o, const fsci__qdot_phys_result *r, const char *stage,
                     const char *action, const double *v, double value)
{
    if (!o->log) return;
    fprintf(o->log,
            "{\"trial\":%lld,\"step\":%lld,\"stage\":\"%s\",\"action\":\"%s\",\"v\":[%.6f,%.6f],"
            "\"value\":%.6g,\"measurements\":%lld}\n",
            (long long)o->trial, (long long)r->steps, stage, action, v ? v[0] : 0.0, v ? v[1] : 0.0, value,
            (long long)r->total_measurements);
}

/* The safety critic's slew limit: from `at` to `to` in steps of L1 length <= slew, each logged. */
static void slew_to(const fsci__qdot_phys_opts *o, fsci__qdot_phys_result *r, double *at, const double *to)
{
    const double l1 = fabs(to[0] - at[0]) + fabs(to[1] - at[1]);
    const int64_t k = (int64_t)ceil(l1 / o->slew - 1e-12);
    for (int64_t i = 1; i <= k; i++) {
        const double v[2] = {at[0] + (to[0] - at[0]) * (double)i / (double)k,
                             at[1] + (to[1] - at[1]) * (double)i / (double)k};
        log_line(o, r, "NAVIGATION", "gate_step", v, l1 / (double)k);
        r->moves++;
    }
    at[0] = to[0];
    at[1] = to[1];
}

static int trial_body(phys *b, fsci_qdot_device *dev, const fsci__qdot_phys_opts *o,
                      fsci__qdot_phys_result *r)
{
    fsci_rng g;
    for (int64_t p = 0; p < b->n; p++) {
        fsci_rng_init(&g, o->seed, STREAM_PRIOR, (uint64_t)o->trial, (uint64_t)p);
        for (int k = 0; k < NTH; k++)
            b->th[p * NTH + k] = PRIOR_LO[k] + (PRIOR_HI[k] - PRIOR_LO[k]) * fsci_rng_uniform(&g);
    }
    all_tables(b);
    memset(b->logw, 0, (size_t)b->n * sizeof *b->logw);
    b->nscans = 0;
    uint64_t move = 0;
    const double LO = o->lo, HI = o->hi;
    const double box[2] = {LO, HI};
    log_line(o, r, "COARSE_SURVEY", "mission_start", NULL, (double)o->particles);
    FSCI__QDOT_RET(measure(b, dev, o, LO, HI, LO, HI, SURVEY, &r->total_measurements));
    refine(b, o, 3, 0.05, &move);
    r->steps = 1;
    log_line(o, r, "COARSE_SURVEY", "survey_16x16", box, ess(b));
    double at[2] = {HI, HI}; /* a scan ends at its last point */
    for (int attempt = 0; attempt <= o->retries; attempt++) {
        if (r->total_measurements + LOCAL * LOCAL > o->budget) break; /* the budget guard: FAILED */
        navigate(b, r->v);
        log_line(o, r, "NAVIGATION", "target", r->v, 0);
        if (attempt == 0 && o->belief_maps)
            memcpy(o->belief_maps, b->fine + 2 * FINE * FINE, FINE * FINE * sizeof(double));
        const double x0 = fmax(LO, r->v[0] - HALF), x1 = fmin(HI, r->v[0] + HALF);
        const double y0 = fmax(LO, r->v[1] - HALF), y1 = fmin(HI, r->v[1] + HALF);
        const double start[2] = {x0, y0};
        slew_to(o, r, at, start); /* the verification scan starts at its first point and ends at its last */
        FSCI__QDOT_RET(measure(b, dev, o, x0, x1, y0, y1, LOCAL, &r->total_measurements));
        at[0] = x1;
        at[1] = y1;
        refine(b, o, 2, 0.02, &move);
        const double win[4] = {x0, x1, y0, y1};
        memcpy(r->windows[r->steps - 1], win, sizeof win);
        r->steps++;
        p_target(b, &r->v[0], &r->v[1], 1, &r->p_final);
        log_line(o, r, "VERIFICATION", "verify_12x12", r->v, r->p_final);
        if (r->p_final >= o->p_goal) {
            r->complete = true;
            slew_to(o, r, at, r->v); /* park the gates at the target */
            break;
        }
    }
    log_line(o, r, r->complete ? "COMPLETE" : "FAILED", "mission_end", r->v, r->p_final);
    if (o->belief_maps)
        p_target(b, b->fine, b->fine + FINE * FINE, FINE * FINE, o->belief_maps + FINE * FINE);
    int n[2];
    fsci_qdot_ground_state(dev, r->v, n);
    r->true_n1 = n[0];
    r->true_n2 = n[1];
    r->success = r->complete && n[0] == 1 && n[1] == 1;
    r->ess = ess(b);
    return FSCI_OK;
}

static int check_opts(const fsci__qdot_phys_opts *o)
{
    FSCI_CHECK(o->particles >= 10 && o->particles <= 10000000, FSCI_EINVAL,
               "qdot physical agent: particles = %lld is outside [10, 1e7]", (long long)o->particles);
    FSCI_CHECK(o->p_goal > 0 && o->p_goal < 1, FSCI_EINVAL,
               "qdot physical agent: p_goal = %g is outside (0, 1)", o->p_goal);
    FSCI_CHECK(o->retries >= 0 && o->retries <= 4, FSCI_EINVAL,
               "qdot physical agent: retries = %d is outside [0, 4]", o->retries);
    FSCI_CHECK(o->trial >= 0, FSCI_EINVAL, "qdot physical agent: trial = %lld is negative",
               (long long)o->trial);
    return FSCI_OK;
}

static int run_one(phys *b, const fsci__qdot_phys_opts *o, fsci__qdot_phys_result *r)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    memset(r, 0, sizeof *r);
    fsci_qdot_params p;
    true_device(o, &p, r->device);
    fsci_qdot_device *dev = NULL;
    FSCI__QDOT_RET(fsci_qdot_device_create(&p, &dev));
    int st = trial_body(b, dev, o, r);
    fsci_qdot_device_destroy(&dev);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    r->seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    return st;
}

void fsci__qdot_phys_device(const fsci__qdot_phys_opts *o, fsci_qdot_params *p)
{
    double th[NTH];
    true_device(o, p, th);
}

int fsci__qdot_phys_trial(const fsci__qdot_phys_opts *o, fsci__qdot_phys_result *r)
{
    FSCI_CHECK(o && r, FSCI_EINVAL, "qdot physical agent: NULL argument");
    FSCI__QDOT_RET(check_opts(o));
    phys b;
    FSCI__QDOT_RET(phys_alloc(&b, o->particles, o->lo, o->hi));
    int st = run_one(&b, o, r);
    phys_free(&b);
    return st;
}

int fsci__qdot_phys_bench(const fsci__qdot_phys_opts *base, int ntrials, int nthreads,
                          fsci__qdot_phys_result *results)
{
    FSCI_CHECK(base && results && ntrials >= 0, FSCI_EINVAL, "qdot physical agent: bad argument");
    FSCI_CHECK(base->log == NULL, FSCI_EINVAL, "qdot physical agent: log is for single trials");
    FSCI_CHECK(base->belief_maps == NULL, FSCI_EINVAL,
               "qdot physical agent: belief_maps is for single trials (concurrent trials would share it)");
    FSCI__QDOT_RET(check_opts(base));
    int first = -1, first_st = FSCI_OK;
    char msg[512] = "";
#pragma omp parallel num_threads(fsci_parallel_resolve(nthreads))
    {
        phys b;
        int ast = phys_alloc(&b, base->particles, base->lo, base->hi);
#pragma omp for schedule(dynamic, 1)
        for (int k = 0; k < ntrials; k++) {
            fsci__qdot_phys_opts o = *base;
            o.trial = base->trial + k;
            int tst = ast < 0 ? ast : run_one(&b, &o, &results[k]);
            if (tst < 0) {
#pragma omp critical(fsci_qdot_phys)
                if (first < 0 || k < first) {
                    first = k;
                    first_st = tst;
                    snprintf(msg, sizeof msg, "%s", fsci_error_message());
                }
            }
        }
        if (ast >= 0) phys_free(&b);
    }
    FSCI_CHECK(first < 0, first_st, "qdot physical agent: trial %lld failed: %s",
               (long long)(base->trial + first), msg);
    return FSCI_OK;
}
