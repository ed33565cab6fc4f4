/* qdot simulator: the constant-interaction physics against closed forms
 * computed here from the capacitance matrices (van der Wiel et al. 2002;
 * doc/qdot.md section 2), an independent ground-state solver, a Fermi fit of
 * the thermal occupation, the noise statistics, thread independence and bad
 * input. */
#include <math.h>
#include <omp.h>
#include <stdbool.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/rng.h"
#include "fastsci/qdot.h"
#include "testkit.h"

/* ---- independent helpers (row-major, small N) ---- */

/* Gauss-Jordan inverse with partial pivoting. */
static void gj_inverse(const double *a, int n, double *inv)
{
    double m[8][16];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < 2 * n; j++) m[i][j] = j < n ? a[i * n + j] : (j - n == i);
    for (int c = 0; c < n; c++) {
        int piv = c;
        for (int r = c + 1; r < n; r++)
            if (fabs(m[r][c]) > fabs(m[piv][c])) piv = r;
        for (int j = 0; j < 2 * n; j++) {
            double t = m[c][j];
            m[c][j] = m[piv][j];
            m[piv][j] = t;
        }
        double d = m[c][c];
        for (int j = 0; j < 2 * n; j++) m[c][j] /= d;
        for (int r = 0; r < n; r++) {
            if (r == c) continue;
            double f = m[r][c];
            for (int j = 0; j < 2 * n; j++) m[r][j] -= f * m[c][j];
        }
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) inv[i * n + j] = m[i][n + j];
}

/* alpha = Ccc^-1 Ccv (n x g). */
static void lever_arms(const fsci_qdot_params *p, double *alpha)
{
    double inv[64];
    gj_inverse(p->c_cc, p->ndots, inv);
    for (int i = 0; i < p->ndots; i++)
        for (int g = 0; g < p->ngates; g++) {
            double s = 0;
            for (int k = 0; k < p->ndots; k++) s += inv[i * p->ndots + k] * p->c_cv[k * p->ngates + g];
            alpha[i * p->ngates + g] = s;
        }
}

static double rnd(fsci_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * fsci_rng_uniform(r);
}

/* A random double dot: totals 80-120 aF, mutual 5-30 aF, plungers 8-12 aF, cross 0-2 aF. */
static void random_dqd(fsci_rng *r, fsci_qdot_params *p)
{
    fsci_qdot_params_dqd(p);
    double c1 = rnd(r, 80, 120), c2 = rnd(r, 80, 120), cm = rnd(r, 5, 30);
    p->c_cc[0] = c1;
    p->c_cc[1] = p->c_cc[2] = -cm;
    p->c_cc[3] = c2;
    p->c_cv[0] = rnd(r, 8, 12);
    p->c_cv[1] = rnd(r, 0, 2);
    p->c_cv[2] = rnd(r, 0, 2);
    p->c_cv[3] = rnd(r, 8, 12);
    p->kT = 0;
}

/* Electron/hole triple points of cell (n1, n2) from the electrochemical
 * potentials mu1 = mu2 = 0 written out for the double dot: with
 * Ec = e^2 Ccc^-1, the addition energy of dot i from state n is
 * (Ec n)_i + Ec_ii / 2 - (alpha V)_i. */
static void analytic_tp(const fsci_qdot_params *p, int n1, int n2, bool hole, double *x, double *y)
{
    double inv[4], al[4];
    gj_inverse(p->c_cc, 2, inv);
    lever_arms(p, al);
    double ec[4];
    for (int i = 0; i < 4; i++) ec[i] = FSCI_QDOT_E2_AF * inv[i];
    /* electron point: adding to dot 1 from (n1,n2) and to dot 2 from (n1,n2) both cost 0.
     * hole point: adding to dot 1 from (n1,n2+1) and to dot 2 from (n1+1,n2) both cost 0. */
    double m1 = hole ? n2 + 1 : n2, m2 = hole ? n1 + 1 : n1;
    double r1 = ec[0] * n1 + ec[1] * m1 + 0.5 * ec[0];
    double r2 = ec[2] * m2 + ec[3] * n2 + 0.5 * ec[3];
    double det = al[0] * al[3] - al[1] * al[2];
    *x = (r1 * al[3] - al[1] * r2) / det;
    *y = (al[0] * r2 - al[2] * r1) / det;
}

TEST(triple_points_match_closed_form)
{
    fsci_rng r;
    fsci_rng_init(&r, 11, 0, 0, 0);
    for (int trial = 0; trial < 20; trial++) {
        fsci_qdot_params p;
        random_dqd(&r, &p);
        fsci_qdot_device *d = NULL;
        ASSERT_OK(fsci_qdot_device_create(&p, &d));
        /* the library's triple points equal the closed form */
        double xy[64];
        int kind[32], cnt = 0;
        const double base[2] = {0, 0};
        ASSERT_OK(fsci_qdot_triple_points(d, 0, 1, base, xy, kind, 32, &cnt));
        ASSERT_EQ(cnt, 2 * p.nmax * p.nmax);
        for (int k = 0; k < cnt; k++) {
            int cell = k / 2, n1 = cell / p.nmax, n2 = cell % p.nmax;
            double ex, ey;
            analytic_tp(&p, n1, n2, kind[k] == 1, &ex, &ey);
            ASSERT_NEAR_REL(xy[2 * k], ex, 1e-9, 1e-9);
            ASSERT_NEAR_REL(xy[2 * k + 1], ey, 1e-9, 1e-9);
        }
        /* a simulated diagram has its triple points there within one pixel */
        double ex0, ey0, ex1, ey1;
        analytic_tp(&p, 0, 0, false, &ex0, &ey0);
        analytic_tp(&p, 0, 0, true, &ex1, &ey1);
        fsci_qdot_scan s = {.gx = 0, .gy = 1, .nx = 300, .ny = 300, .signal = FSCI_QDOT_CHARGE};
        s.x0 = fmin(ex0, ex1) - 8;
        s.x1 = fmax(ex0, ex1) + 8;
        s.y0 = fmin(ey0, ey1) - 8;
        s.y1 = fmax(ey0, ey1) + 8;
        double *sig = fsci_malloc(300 * 300, sizeof *sig);
        int32_t *st = fsci_malloc(300 * 300, sizeof *st);
        ASSERT_OK(fsci_qdot_scan_run(d, &s, sig, st));
        const double dx = (s.x1 - s.x0) / 299, dy = (s.y1 - s.y0) / 299;
        const int m = p.nmax + 1;
        /* each 2x2 block holding exactly the three states of the (0,0) electron or the (1,1) hole point */
        const int want[2][3] = {{0 * m + 0, 1 * m + 0, 0 * m + 1}, {1 * m + 1, 1 * m + 0, 0 * m + 1}};
        for (int h = 0; h < 2; h++) {
            double sx = 0, sy = 0;
            int nfound = 0;
            for (int j = 0; j + 1 < 300; j++)
                for (int i = 0; i + 1 < 300; i++) {
                    int q[4] = {st[j * 300 + i], st[j * 300 + i + 1], st[(j + 1) * 300 + i],
                                st[(j + 1) * 300 + i + 1]};
                    bool has[3] = {false, false, false}, other = false;
                    for (int a = 0; a < 4; a++) {
                        int hit = -1;
                        for (int b = 0; b < 3; b++)
                            if (q[a] == want[h][b]) hit = b;
                        if (hit < 0)
                            other = true;
                        else
                            has[hit] = true;
                    }
                    if (!other && has[0] && has[1] && has[2]) {
                        sx += s.x0 + (i + 0.5) * dx;
                        sy += s.y0 + (j + 0.5) * dy;
                        nfound++;
                    }
                }
            ASSERT_TRUE(nfound >= 1 && nfound <= 4);
            double ax = h ? ex1 : ex0, ay = h ? ey1 : ey0;
            ASSERT_TRUE(fabs(sx / nfound - ax) <= dx && fabs(sy / nfound - ay) <= dy);
        }
        fsci_free(sig);
        fsci_free(st);
        fsci_qdot_device_destroy(&d);
    }
}

/* The boundary between two states along x at height y, by bisection on the
 * ground state (lo side in state sa, hi side in state sb). */
static double boundary_x(const fsci_qdot_device *d, double y, double lo, double hi, int target_n1)
{
    for (int it = 0; it < 200; it++) {
        double mid = 0.5 * (lo + hi), v[2] = {mid, y};
        int n[2];
        fsci_qdot_ground_state(d, v, n);
        if (n[0] < target_n1)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

TEST(transition_slopes_equal_lever_arm_ratios)
{
    fsci_rng r;
    fsci_rng_init(&r, 12, 0, 0, 0);
    for (int trial = 0; trial < 20; trial++) {
        fsci_qdot_params p;
        random_dqd(&r, &p);
        fsci_qdot_device *d = NULL;
        ASSERT_OK(fsci_qdot_device_create(&p, &d));
        double al[4];
        lever_arms(&p, al);
        /* the (0,0)-(1,0) line below the (0,0) electron point: alpha11 x + alpha12 y = const */
        double tx, ty;
        analytic_tp(&p, 0, 0, false, &tx, &ty);
        double ya = ty - 12, yb = ty - 2;
        double xa = boundary_x(d, ya, tx - 30, tx + 30, 1), xb = boundary_x(d, yb, tx - 30, tx + 30, 1);
        double dxdy = (xb - xa) / (yb - ya);
        ASSERT_NEAR_REL(dxdy, -al[1] / al[0], 1e-6, 1e-9);
        /* the (0,0)-(0,1) line left of it: dy/dx = -alpha21 / alpha22, by bisection in y */
        double xs[2] = {tx - 12, tx - 2}, ys[2];
        for (int k = 0; k < 2; k++) {
            double lo = ty - 30, hi = ty + 30;
            for (int it = 0; it < 200; it++) {
                double mid = 0.5 * (lo + hi), v[2] = {xs[k], mid};
                int n[2];
                fsci_qdot_ground_state(d, v, n);
                if (n[1] < 1)
                    lo = mid;
                else
                    hi = mid;
            }
            ys[k] = 0.5 * (lo + hi);
        }
        ASSERT_NEAR_REL((ys[1] - ys[0]) / (xs[1] - xs[0]), -al[2] / al[3], 1e-6, 1e-9);
        fsci_qdot_device_destroy(&d);
    }
}

TEST(rectangular_cells_without_mutual_capacitance)
{
    fsci_qdot_params p;
    fsci_qdot_params_dqd(&p);
    p.c_cc[1] = p.c_cc[2] = 0;
    p.c_cv[1] = p.c_cv[2] = 0;
    p.kT = 0;
    fsci_qdot_device *d = NULL;
    ASSERT_OK(fsci_qdot_device_create(&p, &d));
    double xy[64];
    int kind[32], cnt = 0;
    const double base[2] = {0, 0};
    ASSERT_OK(fsci_qdot_triple_points(d, 0, 1, base, xy, kind, 32, &cnt));
    for (int k = 0; k + 1 < cnt; k += 2) {
        /* electron and hole points of a cell coincide: the cells are rectangles */
        ASSERT_NEAR_REL(xy[2 * k], xy[2 * k + 2], 0, 1e-9);
        ASSERT_NEAR_REL(xy[2 * k + 1], xy[2 * k + 3], 0, 1e-9);
    }
    fsci_qdot_scan s = {.gx = 0, .gy = 1, .x0 = -5, .x1 = 60, .y0 = -5, .y1 = 60, .nx = 131, .ny = 127};
    s.signal = FSCI_QDOT_CHARGE;
    double *sig = fsci_malloc(131 * 127, sizeof *sig);
    int32_t *st = fsci_malloc(131 * 127, sizeof *st);
    ASSERT_OK(fsci_qdot_scan_run(d, &s, sig, st));
    const int m = p.nmax + 1;
    /* n1 depends on x only, n2 on y only */
    for (int j = 0; j < 127; j++)
        for (int i = 0; i < 131; i++) {
            ASSERT_EQ(st[j * 131 + i] / m, st[0 * 131 + i] / m);
            ASSERT_EQ(st[j * 131 + i] % m, st[j * 131 + 0] % m);
        }
    fsci_free(sig);
    fsci_free(st);
    fsci_qdot_device_destroy(&d);
}

/* Independent solver: the continuous minimiser n* = (e^2 Ccc^-1)^-1 alpha V =
 * Ccv V / e (in electrons), then the integer points within the radius that
 * bounds the integer minimiser of a positive definite quadratic,
 * |n - n*|^2 <= cond(A) N / 4, clipped to the box. */
static int independent_ground(const fsci_qdot_params *p, const double *ec, const double *al, const double *v,
                              double rad)
{
    double ns[2];
    for (int i = 0; i < 2; i++) ns[i] = (p->c_cv[i * 2] * v[0] + p->c_cv[i * 2 + 1] * v[1]) / FSCI_QDOT_E2_AF;
    int best = -1;
    double be = 0;
    for (int a = (int)floor(ns[0] - rad); a <= (int)ceil(ns[0] + rad); a++)
        for (int b = (int)floor(ns[1] - rad); b <= (int)ceil(ns[1] + rad); b++) {
            if (a < 0 || b < 0 || a > p->nmax || b > p->nmax) continue;
            double e = 0.5 * (ec[0] * a * a + 2 * ec[1] * a * b + ec[3] * b * b) -
                       (a * (al[0] * v[0] + al[1] * v[1]) + b * (al[2] * v[0] + al[3] * v[1]));
            if (best < 0 || e < be) {
                be = e;
                best = a * (p->nmax + 1) + b;
            }
        }
    return best;
}

TEST(ground_state_agrees_with_independent_solver)
{
    fsci_rng r;
    fsci_rng_init(&r, 13, 0, 0, 0);
    fsci_qdot_params p;
    random_dqd(&r, &p);
    p.nmax = 6;
    fsci_qdot_device *d = NULL;
    ASSERT_OK(fsci_qdot_device_create(&p, &d));
    double inv[4], ec[4], al[4];
    gj_inverse(p.c_cc, 2, inv);
    for (int i = 0; i < 4; i++) ec[i] = FSCI_QDOT_E2_AF * inv[i];
    lever_arms(&p, al);
    double tr = ec[0] + ec[3], det = ec[0] * ec[3] - ec[1] * ec[2];
    double l1 = 0.5 * (tr + sqrt(tr * tr - 4 * det)), l2 = det / l1;
    double rad = sqrt(l1 / l2 * 2 / 4) + 1e-9;
    /* voltages whose continuous minimiser lies inside [0, nmax]^2: n* = Ccv V / e */
    const int64_t n = 1000000;
    double *v1 = fsci_malloc(n, sizeof *v1), *v2 = fsci_malloc(n, sizeof *v2);
    double cdet = p.c_cv[0] * p.c_cv[3] - p.c_cv[1] * p.c_cv[2];
    for (int64_t k = 0; k < n; k++) {
        double a = rnd(&r, 0, p.nmax) * FSCI_QDOT_E2_AF, b = rnd(&r, 0, p.nmax) * FSCI_QDOT_E2_AF;
        v1[k] = (a * p.c_cv[3] - p.c_cv[1] * b) / cdet;
        v2[k] = (p.c_cv[0] * b - p.c_cv[2] * a) / cdet;
    }
    int64_t bad = 0;
    for (int64_t k = 0; k < n; k++) {
        const double v[2] = {v1[k], v2[k]};
        int nn[2];
        fsci_qdot_ground_state(d, v, nn);
        if (nn[0] * (p.nmax + 1) + nn[1] != independent_ground(&p, ec, al, v, rad)) bad++;
    }
    ASSERT_EQ(bad, 0);
    /* the vectorised kernel (charge signal = n1 + n2 at kT = 0) on the same points */
    double *out = fsci_malloc(n, sizeof *out);
    const double base[2] = {0, 0};
    ASSERT_OK(fsci_qdot_signal_points(d, FSCI_QDOT_CHARGE, 0, 1, base, v1, v2, n, out));
    for (int64_t k = 0; k < n; k++) {
        const double v[2] = {v1[k], v2[k]};
        int s = independent_ground(&p, ec, al, v, rad);
        if (out[k] != s / (p.nmax + 1) + s % (p.nmax + 1)) bad++;
    }
    ASSERT_EQ(bad, 0);
    fsci_free(v1);
    fsci_free(v2);
    fsci_free(out);
    fsci_qdot_device_destroy(&d);
}

/* Fit n(V) = 1 / (1 + exp(-(V - V0) / w)) by Gauss-Newton. */
static void fermi_fit(const double *v, const double *y, int n, double *v0, double *w)
{
    for (int it = 0; it < 100; it++) {
        double jtj[3] = {0, 0, 0}, jtr[2] = {0, 0};
        for (int i = 0; i < n; i++) {
            double t = (v[i] - *v0) / *w, f = 1 / (1 + exp(-t)), df = f * (1 - f);
            double j0 = -df / *w, j1 = -df * t / *w, res = y[i] - f;
            jtj[0] += j0 * j0;
            jtj[1] += j0 * j1;
            jtj[2] += j1 * j1;
            jtr[0] += j0 * res;
            jtr[1] += j1 * res;
        }
        double det = jtj[0] * jtj[2] - jtj[1] * jtj[1];
        *v0 += (jtj[2] * jtr[0] - jtj[1] * jtr[1]) / det;
        *w += (jtj[0] * jtr[1] - jtj[1] * jtr[0]) / det;
    }
}

TEST(thermal_transition_fit_recovers_kT)
{
    fsci_qdot_params p;
    memset(&p, 0, sizeof p);
    p.ndots = 1;
    p.ngates = 1;
    p.c_cc[0] = 100;
    p.c_cv[0] = 10;
    p.nmax = 3;
    p.kT = 0.05;
    p.sensor_width = 1;
    p.noise.white = 0.01;
    fsci_qdot_device *d = NULL;
    ASSERT_OK(fsci_qdot_device_create(&p, &d));
    /* the 0 -> 1 transition: E_C/2 = alpha V -> V = e/(2 Cg) */
    double vt = 0.5 * FSCI_QDOT_E2_AF / p.c_cv[0];
    fsci_qdot_scan s = {.gx = 0, .gy = -1, .x0 = vt - 8, .x1 = vt + 8, .nx = 801, .ny = 1};
    s.signal = FSCI_QDOT_CHARGE;
    s.noise = true;
    s.seed = 5;
    double y[801], v[801];
    ASSERT_OK(fsci_qdot_scan_run(d, &s, y, NULL));
    for (int i = 0; i < 801; i++) v[i] = s.x0 + (s.x1 - s.x0) * i / 800.0;
    double v0 = vt + 0.5, w = 1.0;
    fermi_fit(v, y, 801, &v0, &w);
    double kt_fit = w * p.c_cv[0] / p.c_cc[0];
    ASSERT_NEAR_REL(kt_fit, p.kT, 0.02, 0);
    ASSERT_NEAR_REL(v0, vt, 0, 0.02);
    fsci_qdot_device_destroy(&d);
}

TEST(noise_statistics)
{
    fsci_qdot_params p;
    memset(&p, 0, sizeof p);
    p.ndots = 1;
    p.ngates = 1;
    p.c_cc[0] = 100;
    p.c_cv[0] = 10;
    p.nmax = 1;
    p.sensor_width = 1;
    /* deep in the n = 0 cell the charge signal is 0: what remains is noise */
    fsci_qdot_scan s = {.gx = 0, .gy = -1, .x0 = -1, .x1 = -0.5, .nx = 1 << 16, .ny = 1};
    s.signal = FSCI_QDOT_CHARGE;
    s.noise = true;
    s.seed = 9;
    const int64_t n = s.nx;
    double *y = fsci_malloc(n, sizeof *y);
    fsci_qdot_device *d = NULL;
    /* white: variance */
    p.noise.white = 0.2;
    ASSERT_OK(fsci_qdot_device_create(&p, &d));
    ASSERT_OK(fsci_qdot_scan_run(d, &s, y, NULL));
    double m = 0, v = 0;
    for (int64_t i = 0; i < n; i++) m += y[i];
    m /= n;
    for (int64_t i = 0; i < n; i++) v += (y[i] - m) * (y[i] - m);
    v /= n - 1;
    ASSERT_NEAR_REL(sqrt(v), 0.2, 0.02, 0);
    fsci_qdot_device_destroy(&d);
    /* telegraph: mean dwell time 1 / rate */
    p.noise.white = 0;
    p.noise.telegraph = 1;
    p.noise.telegraph_rate = 0.01;
    ASSERT_OK(fsci_qdot_device_create(&p, &d));
    ASSERT_OK(fsci_qdot_scan_run(d, &s, y, NULL));
    int64_t flips = 0;
    for (int64_t i = 1; i < n; i++) {
        ASSERT_TRUE(fabs(fabs(y[i]) - 0.5) < 1e-12);
        flips += y[i] != y[i - 1];
    }
    double dwell = (double)n / (double)flips;
    ASSERT_NEAR_REL(dwell, 100, 0.05, 0);
    fsci_qdot_device_destroy(&d);
    /* pink: the periodogram falls as 1/f (slope -1 +- 0.15 over two decades) */
    p.noise.telegraph = 0;
    p.noise.pink = 1;
    ASSERT_OK(fsci_qdot_device_create(&p, &d));
    ASSERT_OK(fsci_qdot_scan_run(d, &s, y, NULL));
    /* band powers from averaged segments of 1024 (direct DFT at log-spaced bins) */
    const int seg = 1024, nseg = (int)(n / seg);
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    int npts = 0;
    for (int k = 4; k <= 256; k *= 2) {
        double pw = 0;
        for (int sg = 0; sg < nseg; sg++) {
            double re = 0, im = 0;
            for (int t = 0; t < seg; t++) {
                double ph = 2 * 3.14159265358979323846 * k * t / seg;
                re += y[sg * seg + t] * cos(ph);
                im += y[sg * seg + t] * sin(ph);
            }
            pw += re * re + im * im;
        }
        double lx = log((double)k), ly = log(pw / nseg);
        sx += lx;
        sy += ly;
        sxx += lx * lx;
        sxy += lx * ly;
        npts++;
    }
    double slope = (npts * sxy - sx * sy) / (npts * sxx - sx * sx);
    ASSERT_NEAR_REL(slope, -1.0, 0, 0.15);
    fsci_qdot_device_destroy(&d);
    fsci_free(y);
}

TEST(scan_does_not_depend_on_threads)
{
    fsci_qdot_params p;
    fsci_qdot_params_dqd(&p);
    p.noise.white = 0.01;
    p.noise.pink = 0.01;
    p.noise.telegraph = 0.02;
    p.noise.telegraph_rate = 0.001;
    p.noise.jump_rate = 1e-4;
    p.noise.jump_size = 0.05;
    fsci_qdot_device *d = NULL;
    ASSERT_OK(fsci_qdot_device_create(&p, &d));
    const fsci_qdot_signal sigs[3] = {FSCI_QDOT_SENSOR, FSCI_QDOT_CURRENT, FSCI_QDOT_CHARGE};
    for (int k = 0; k < 3; k++) {
        fsci_qdot_scan s = {.gx = 0, .gy = 1, .x0 = 0, .x1 = 50, .y0 = 0, .y1 = 50, .nx = 333, .ny = 157};
        s.signal = sigs[k];
        s.noise = true;
        s.seed = 3;
        s.stream = 7;
        double *a = fsci_malloc(333 * 157, sizeof *a), *b = fsci_malloc(333 * 157, sizeof *b);
        omp_set_num_threads(1);
        ASSERT_OK(fsci_qdot_scan_run(d, &s, a, NULL));
        omp_set_num_threads(2);
        ASSERT_OK(fsci_qdot_scan_run(d, &s, b, NULL));
        ASSERT_TRUE(memcmp(a, b, 333 * 157 * sizeof *a) == 0);
        /* signals stay in range and are finite */
        for (int64_t i = 0; i < 333 * 157; i++) ASSERT_TRUE(isfinite(a[i]));
        fsci_free(a);
        fsci_free(b);
    }
    fsci_qdot_device_destroy(&d);
}

TEST(current_peaks_at_triple_points)
{
    fsci_qdot_params p;
    fsci_qdot_params_dqd(&p);
    p.kT = 0.02;
    fsci_qdot_device *d = NULL;
    ASSERT_OK(fsci_qdot_device_create(&p, &d));
    double xy[64];
    int kind[32], cnt = 0;
    const double base[2] = {0, 0};
    ASSERT_OK(fsci_qdot_triple_points(d, 0, 1, base, xy, kind, 32, &cnt));
    double at[32], off[32], offx[32], offy[32];
    for (int k = 0; k < cnt; k++) {
        offx[k] = xy[2 * k] + 3;
        offy[k] = xy[2 * k + 1] - 3;
        at[k] = xy[2 * k];
        off[k] = xy[2 * k + 1];
    }
    double ia[32], io[32];
    ASSERT_OK(fsci_qdot_signal_points(d, FSCI_QDOT_CURRENT, 0, 1, base, at, off, cnt, ia));
    ASSERT_OK(fsci_qdot_signal_points(d, FSCI_QDOT_CURRENT, 0, 1, base, offx, offy, cnt, io));
    for (int k = 0; k < cnt; k++) {
        ASSERT_NEAR_REL(ia[k], 1.0, 0.02, 0); /* three degenerate states: 27 (1/3)^3 */
        ASSERT_TRUE(io[k] < 1e-6);
    }
    fsci_qdot_device_destroy(&d);
}

TEST(bad_devices_are_refused)
{
    fsci_qdot_params p;
    fsci_qdot_device *d = NULL;
    fsci_qdot_params_dqd(&p);
    p.c_cc[1] = p.c_cc[2] = -150; /* mutual above the totals: not positive definite */
    ASSERT_STATUS(fsci_qdot_device_create(&p, &d), FSCI_ERANGE);
    ASSERT_TRUE(d == NULL);
    fsci_qdot_params_dqd(&p);
    p.c_cc[1] = -10;
    ASSERT_STATUS(fsci_qdot_device_create(&p, &d), FSCI_EINVAL);
    fsci_qdot_params_dqd(&p);
    p.c_cv[1] = -1;
    ASSERT_STATUS(fsci_qdot_device_create(&p, &d), FSCI_EINVAL);
    fsci_qdot_params_dqd(&p);
    p.kT = NAN;
    ASSERT_STATUS(fsci_qdot_device_create(&p, &d), FSCI_EINVAL);
    fsci_qdot_params_dqd(&p);
    p.ndots = 7;
    ASSERT_STATUS(fsci_qdot_device_create(&p, &d), FSCI_EINVAL);
    fsci_qdot_params_dqd(&p);
    p.nmax = 100;
    ASSERT_STATUS(fsci_qdot_device_create(&p, &d), FSCI_EINVAL);
    fsci_qdot_params_dqd(&p);
    ASSERT_OK(fsci_qdot_device_create(&p, &d));
    fsci_qdot_scan s = {.gx = 0, .gy = 0, .nx = 4, .ny = 4};
    double out[16];
    ASSERT_STATUS(fsci_qdot_scan_run(d, &s, out, NULL), FSCI_EINVAL);
    s.gy = 1;
    s.x1 = NAN;
    ASSERT_STATUS(fsci_qdot_scan_run(d, &s, out, NULL), FSCI_EINVAL);
    fsci_qdot_device_destroy(&d);
    fsci_qdot_device_destroy(&d); /* NULL is fine */
}

TESTKIT_MAIN()
