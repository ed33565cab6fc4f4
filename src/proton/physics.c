/* proton physics data: stopping power, CSDA range and its inverse, energy
 * grids, Highland scattering power and Fermi-Eyges moments for water.
 *
 * Sources (doc/proton_physics.md has the derivations):
 *  - NIST PSTAR (ICRU Report 49) total stopping power and CSDA range of liquid
 *    water, src/proton/pstar_data.c;
 *  - Bethe-Bloch as written in the PDG review "Passage of particles through
 *    matter" (eq. 34.5 of the 2020 edition) without shell, Barkas, Bloch or
 *    density-effect corrections;
 *  - Highland's formula with the PDG constant 13.6 MeV and X0(water) =
 *    36.08 g/cm^2 (PDG atomic and nuclear properties), for the projected angle;
 *  - Fermi-Eyges moments, e.g. Gottschalk, "On the scattering power of
 *    radiotherapy protons", Med. Phys. 37 (2010) 352 (arXiv 0908.1413). */
#include <float.h>
#include <math.h>
#include <string.h>

#include "fastsci/core/alloc.h"
#include "fastsci/core/error.h"
#include "proton/proton_impl.h"

enum { NODES_PER_DECADE_DEFAULT = 200 };

/* 5-point Gauss-Legendre on [-1, 1]. */
static const double GL_X[5] = {-0.9061798459386640, -0.5384693101056831, 0.0, 0.5384693101056831,
                               0.9061798459386640};
static const double GL_W[5] = {0.2369268850561891, 0.4786286704993665, 0.5688888888888889, 0.4786286704993665,
                               0.2369268850561891};

const double *fsci_proton_pstar_water(int64_t *nrows)
{
    if (nrows) *nrows = FSCI__PSTAR_N;
    return &fsci__pstar_water[0][0];
}

/* ---- validation ----------------------------------------------------------- */

static int check_energy(double e)
{
    FSCI_CHECK(e > 0, FSCI_EINVAL, "energy %g MeV is not a positive number", e);
    FSCI_CHECK(e >= FSCI_PROTON_EMIN_MEV, FSCI_ERANGE,
               "energy %g MeV is below the stopping-power table (min %g MeV)", e, FSCI_PROTON_EMIN_MEV);
    FSCI_CHECK(e <= FSCI_PROTON_EMAX_MEV, FSCI_ERANGE,
               "energy %g MeV is above the stopping-power table (max %g MeV)", e, FSCI_PROTON_EMAX_MEV);
    return FSCI_OK;
}

static int check_kinetic(double e)
{
    FSCI_CHECK(e > 0 && isfinite(e), FSCI_EINVAL, "energy %g MeV is not a positive finite number", e);
    return FSCI_OK;
}

static int model_ok(fsci_proton_sp_model m)
{
    return m == FSCI_PROTON_SP_PSTAR || m == FSCI_PROTON_SP_BETHE75 || m == FSCI_PROTON_SP_BETHE78;
}

static double model_i_ev(fsci_proton_sp_model m)
{
    return m == FSCI_PROTON_SP_BETHE75 ? 75.0 : m == FSCI_PROTON_SP_BETHE78 ? 78.0 : 0.0;
}

/* ---- kinematics and analytic formulas ------------------------------------ */

/* beta c p = p^2 c^2 / E_total = (T^2 + 2 T M) / (T + M), in MeV. */
static double pv_of(double e)
{
    return e * (e + 2.0 * FSCI_PROTON_MASS_MEV) / (e + FSCI_PROTON_MASS_MEV);
}

static double scat_power(double e)
{
    double a = FSCI_PROTON_HIGHLAND_MEV / pv_of(e);
    return a * a / FSCI_PROTON_X0_WATER_MM;
}

/* Bethe-Bloch mass stopping power of water, MeV cm^2/g (may be <= 0 far below 1 MeV). */
static double bethe_raw(double e, double i_ev)
{
    const double M = FSCI_PROTON_MASS_MEV, me = FSCI_PROTON_ELECTRON_MASS_MEV;
    double gamma = 1.0 + e / M;
    double bg2 = e * (e + 2.0 * M) / (M * M); /* beta^2 gamma^2 without cancellation */
    double b2 = bg2 / (gamma * gamma);
    double r = me / M;
    double tmax = 2.0 * me * bg2 / (1.0 + 2.0 * gamma * r + r * r);
    double I = i_ev * 1e-6;
    return FSCI_PROTON_BETHE_K * FSCI_PROTON_WATER_Z_OVER_A / b2 *
           (0.5 * log(2.0 * me * bg2 * tmax / (I * I)) - b2);
}

int fsci_proton_kinematics(double e_mev, double *beta, double *p_mev)
{
    int st = FSCI_OK;
    FSCI_TRY(check_kinetic(e_mev));
    double pc = sqrt(e_mev * (e_mev + 2.0 * FSCI_PROTON_MASS_MEV));
    if (beta) *beta = pc / (e_mev + FSCI_PROTON_MASS_MEV);
    if (p_mev) *p_mev = pc;
fail:
    return st;
}

int fsci_proton_bethe(double e_mev, double i_ev, double *s_mass)
{
    FSCI_CHECK(s_mass, FSCI_EINVAL, "s_mass is NULL");
    int st = FSCI_OK;
    FSCI_TRY(check_kinetic(e_mev));
    FSCI_CHECK(i_ev > 0 && isfinite(i_ev), FSCI_EINVAL,
               "mean excitation energy %g eV is not a positive finite number", i_ev);
    double s = bethe_raw(e_mev, i_ev);
    FSCI_CHECK(s > 0, FSCI_ERANGE, "Bethe-Bloch gives no positive stopping power at %g MeV (I = %g eV)",
               e_mev, i_ev);
    *s_mass = s;
fail:
    return st;
}

/* Log-log interpolation in the PSTAR table (e inside the table). */
static double pstar_interp(double e)
{
    int lo = 0, hi = FSCI__PSTAR_N - 1;
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (fsci__pstar_water[mid][0] <= e)
            lo = mid;
        else
            hi = mid;
    }
    double e0 = fsci__pstar_water[lo][0], e1 = fsci__pstar_water[hi][0];
    double s0 = fsci__pstar_water[lo][1], s1 = fsci__pstar_water[hi][1];
    if (e == e0) return s0;
    if (e == e1) return s1;
    double t = log(e / e0) / log(e1 / e0);
    return s0 * exp(t * log(s1 / s0));
}

int fsci_proton_stopping_power(double e_mev, fsci_proton_sp_model model, double *s_mass)
{
    FSCI_CHECK(s_mass, FSCI_EINVAL, "s_mass is NULL");
    FSCI_CHECK(model_ok(model), FSCI_EINVAL, "unknown stopping-power model %d", (int)model);
    int st = FSCI_OK;
    FSCI_TRY(check_energy(e_mev));
    if (model != FSCI_PROTON_SP_PSTAR && e_mev > FSCI_PROTON_BETHE_SWITCH_MEV)
        *s_mass = bethe_raw(e_mev, model_i_ev(model));
    else
        *s_mass = pstar_interp(e_mev);
fail:
    return st;
}

int fsci_proton_scattering_power(double e_mev, double *t_rad2_per_mm)
{
    FSCI_CHECK(t_rad2_per_mm, FSCI_EINVAL, "t_rad2_per_mm is NULL");
    int st = FSCI_OK;
    FSCI_TRY(check_kinetic(e_mev));
    *t_rad2_per_mm = scat_power(e_mev);
fail:
    return st;
}

/* Bohr variance per mm in water: 0.1569 (Z/A) (1 - b^2/2) / (1 - b^2) MeV^2/cm / 10. */
static double bohr_var(double e)
{
    const double g = (e + FSCI_PROTON_MASS_MEV) / FSCI_PROTON_MASS_MEV, b2 = 1.0 - 1.0 / (g * g);
    return 0.01569 * 0.5551 * (1.0 - 0.5 * b2) * g * g;
}

int fsci_proton_bohr_straggling(double e_mev, double *var_mev2_per_mm)
{
    FSCI_CHECK(var_mev2_per_mm, FSCI_EINVAL, "var_mev2_per_mm is NULL");
    int st = FSCI_OK;
    FSCI_TRY(check_kinetic(e_mev));
    *var_mev2_per_mm = bohr_var(e_mev);
fail:
    return st;
}

int fsci_proton_highland(double e_mev, double s_mm, bool log_term, double *theta0_rad)
{
    FSCI_CHECK(theta0_rad, FSCI_EINVAL, "theta0_rad is NULL");
    int st = FSCI_OK;
    FSCI_TRY(check_kinetic(e_mev));
    FSCI_CHECK(s_mm > 0 && isfinite(s_mm), FSCI_EINVAL, "path length %g mm is not a positive finite number",
               s_mm);
    double x = s_mm / FSCI_PROTON_X0_WATER_MM;
    double th = FSCI_PROTON_HIGHLAND_MEV / pv_of(e_mev) * sqrt(x);
    if (log_term) th *= 1.0 + 0.038 * log(x);
    *theta0_rad = th;
fail:
    return st;
}

/* ---- the fine tables ------------------------------------------------------ */

/* Segment j such that u[j] < u <= u[j+1] (j = 0 at the lowest node). */
static int64_t seg_of_u(const fsci_proton_physics *ph, double u)
{
    int64_t lo = 0, hi = ph->n - 1;
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (ph->u[mid] < u)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Segment j such that r[j] < r <= r[j+1] (j = 0 at the lowest node). */
static int64_t seg_of_r(const fsci_proton_physics *ph, double r)
{
    int64_t lo = 0, hi = ph->n - 1;
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (ph->r[mid] < r)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Model stopping power inside segment j at u = ln E. */
static double seg_stop(const fsci_proton_physics *ph, int64_t j, double u)
{
    if (ph->bethe[j]) return bethe_raw(exp(u), ph->i_ev);
    double h = ph->u[j + 1] - ph->u[j];
    double t = (u - ph->u[j]) / h;
    return exp(ph->ls0[j] + t * (ph->ls1[j] - ph->ls0[j]));
}

/* Hermite cubic of segment j in t = (u - u_j)/h: R = r0 + t (h d0 + t (c2 + t c3)). */
typedef struct {
    double r0, b, c2, c3;
} cubic;

static cubic seg_cubic(const fsci_proton_physics *ph, int64_t j)
{
    double h = ph->u[j + 1] - ph->u[j];
    double dr = ph->r[j + 1] - ph->r[j];
    double hd0 = h * ph->d0[j], hd1 = h * ph->d1[j];
    cubic c = {ph->r[j], hd0, 3.0 * dr - 2.0 * hd0 - hd1, -2.0 * dr + hd0 + hd1};
    return c;
}

static double cubic_val(cubic c, double t)
{
    return c.r0 + t * (c.b + t * (c.c2 + t * c.c3));
}
static double cubic_der(cubic c, double t)
{
    return c.b + t * (2.0 * c.c2 + 3.0 * t * c.c3);
}

static double range_at_u(const fsci_proton_physics *ph, int64_t j, double u)
{
    double t = (u - ph->u[j]) / (ph->u[j + 1] - ph->u[j]);
    return cubic_val(seg_cubic(ph, j), t);
}

/* t in [0, 1] with cubic(t) = r; the cubic is monotone (checked at create). */
static double cubic_solve(cubic c, double r)
{
    double span = c.b + c.c2 + c.c3; /* cubic(1) - cubic(0) */
    double lo = 0.0, hi = 1.0;
    double t = span > 0 ? (r - c.r0) / span : 0.5;
    if (!(t > 0.0)) t = 0.0;
    if (t > 1.0) t = 1.0;
    for (int it = 0; it < 100; it++) {
        double f = cubic_val(c, t) - r;
        if (f == 0.0) break;
        if (f < 0)
            lo = t;
        else
            hi = t;
        double d = cubic_der(c, t);
        double tn = d > 0 ? t - f / d : 0.5 * (lo + hi);
        if (!(tn > lo && tn < hi)) tn = 0.5 * (lo + hi);
        if (fabs(tn - t) <= 2.0 * DBL_EPSILON * fmax(t, DBL_EPSILON)) {
            t = tn;
            break;
        }
        t = tn;
    }
    return t;
}

int fsci_proton_physics_create(const fsci_proton_physics_opts *o, fsci_proton_physics **out)
{
    int st = FSCI_OK;
    fsci_proton_physics *ph = NULL;
    FSCI_CHECK(out, FSCI_EINVAL, "out is NULL");
    *out = NULL;
    fsci_proton_physics_opts d;
    memset(&d, 0, sizeof d);
    if (o) d = *o;
    FSCI_CHECK(model_ok(d.sp_model), FSCI_EINVAL, "unknown stopping-power model %d", (int)d.sp_model);
    if (d.nodes_per_decade == 0) d.nodes_per_decade = NODES_PER_DECADE_DEFAULT;
    FSCI_CHECK(d.nodes_per_decade >= 10 && d.nodes_per_decade <= 100000, FSCI_EINVAL,
               "nodes_per_decade %d is outside [10, 100000]", d.nodes_per_decade);

    const int np = FSCI__PSTAR_N;
    const double per_u = d.nodes_per_decade / log(10.0);
    int64_t n = 1;
    for (int i = 0; i + 1 < np; i++) {
        double w = log(fsci__pstar_water[i + 1][0] / fsci__pstar_water[i][0]);
        int64_t m = (int64_t)ceil(w * per_u - 1e-9);
        n += m < 1 ? 1 : m;
    }

    ph = fsci_calloc(1, sizeof *ph);
    FSCI_CHECK_GOTO(ph, FSCI_ENOMEM, "physics object: out of memory");
    ph->model = d.sp_model;
    ph->i_ev = model_i_ev(d.sp_model);
    ph->n = n;
    ph->u = fsci_malloc((size_t)n, sizeof(double));
    ph->r = fsci_malloc((size_t)n, sizeof(double));
    ph->ls0 = fsci_malloc((size_t)n - 1, sizeof(double));
    ph->ls1 = fsci_malloc((size_t)n - 1, sizeof(double));
    ph->d0 = fsci_malloc((size_t)n - 1, sizeof(double));
    ph->d1 = fsci_malloc((size_t)n - 1, sizeof(double));
    ph->bethe = fsci_malloc((size_t)n - 1, 1);
    FSCI_CHECK_GOTO(ph->u && ph->r && ph->ls0 && ph->ls1 && ph->d0 && ph->d1 && ph->bethe, FSCI_ENOMEM,
                    "physics tables (%lld nodes): out of memory", (long long)n);

    /* Nodes: every PSTAR energy, each interval split evenly in ln E. */
    int64_t j = 0;
    ph->u[0] = log(fsci__pstar_water[0][0]);
    for (int i = 0; i + 1 < np; i++) {
        double ua = log(fsci__pstar_water[i][0]), ub = log(fsci__pstar_water[i + 1][0]);
        double la = log(fsci__pstar_water[i][1]), lb = log(fsci__pstar_water[i + 1][1]);
        int64_t m = (int64_t)ceil((ub - ua) * per_u - 1e-9);
        if (m < 1) m = 1;
        bool bethe = ph->i_ev > 0 && fsci__pstar_water[i][0] >= FSCI_PROTON_BETHE_SWITCH_MEV;
        for (int64_t k = 0; k < m; k++, j++) {
            double t0 = (double)k / (double)m, t1 = (double)(k + 1) / (double)m;
            ph->u[j + 1] = k + 1 == m ? ub : ua + t1 * (ub - ua);
            ph->bethe[j] = bethe;
            if (bethe) {
                ph->ls0[j] = log(bethe_raw(exp(ph->u[j]), ph->i_ev));
                ph->ls1[j] = log(bethe_raw(exp(ph->u[j + 1]), ph->i_ev));
            } else {
                /* on PSTAR's log-log line, so interpolating these reproduces it */
                ph->ls0[j] = k == 0 ? la : la + t0 * (lb - la);
                ph->ls1[j] = k + 1 == m ? lb : la + t1 * (lb - la);
            }
            ph->d0[j] = 10.0 * exp(ph->u[j] - ph->ls0[j]);
            ph->d1[j] = 10.0 * exp(ph->u[j + 1] - ph->ls1[j]);
        }
    }
    FSCI_CHECK_GOTO(j == n - 1, FSCI_EINTERNAL, "fine table: %lld segments, expected %lld", (long long)j,
                    (long long)(n - 1));

    /* CSDA range in mm: R = R_table(E_min) + int dE / S = int 10 E / S du. */
    ph->r[0] = 10.0 * fsci__pstar_water[0][2];
    for (j = 0; j + 1 < n; j++) {
        double ua = ph->u[j], h = ph->u[j + 1] - ua, dr;
        if (ph->bethe[j]) {
            dr = 0;
            for (int q = 0; q < 5; q++) {
                double uq = ua + 0.5 * h * (1.0 + GL_X[q]);
                dr += GL_W[q] * 10.0 * exp(uq) / bethe_raw(exp(uq), ph->i_ev);
            }
            dr *= 0.5 * h;
        } else {
            /* 10 E / S = d0 exp(c (u - ua)) on a power-law piece: exact integral */
            double ch = h - (ph->ls1[j] - ph->ls0[j]);
            dr = ph->d0[j] * h * (fabs(ch) < 1e-300 ? 1.0 : expm1(ch) / ch);
        }
        ph->r[j + 1] = ph->r[j] + dr;
        /* Fritsch-Carlson: the Hermite cubic is monotone if alpha, beta > 0 and
         * alpha^2 + beta^2 <= 9 */
        double delta = dr / h, al = ph->d0[j] / delta, be = ph->d1[j] / delta;
        FSCI_CHECK_GOTO(dr > 0 && al > 0 && be > 0 && al * al + be * be <= 9.0, FSCI_EINTERNAL,
                        "range table not monotone at %g MeV (alpha %g, beta %g)", exp(ua), al, be);
    }
    *out = ph;
    return FSCI_OK;
fail:
    fsci_proton_physics_destroy(&ph);
    return st;
}

void fsci_proton_physics_destroy(fsci_proton_physics **p)
{
    if (!p || !*p) return;
    fsci_proton_physics *ph = *p;
    fsci_free(ph->u);
    fsci_free(ph->r);
    fsci_free(ph->ls0);
    fsci_free(ph->ls1);
    fsci_free(ph->d0);
    fsci_free(ph->d1);
    fsci_free(ph->bethe);
    fsci_free(ph);
    *p = NULL;
}

fsci_proton_sp_model fsci_proton_physics_model(const fsci_proton_physics *ph)
{
    return ph->model;
}

void fsci_proton_physics_limits(const fsci_proton_physics *ph, double *e_min, double *e_max, double *r_min_mm,
                                double *r_max_mm)
{
    if (e_min) *e_min = FSCI_PROTON_EMIN_MEV;
    if (e_max) *e_max = FSCI_PROTON_EMAX_MEV;
    if (r_min_mm) *r_min_mm = ph->r[0];
    if (r_max_mm) *r_max_mm = ph->r[ph->n - 1];
}

int fsci_proton_physics_stop(const fsci_proton_physics *ph, double e_mev, double *s_mass)
{
    FSCI_CHECK(ph && s_mass, FSCI_EINVAL, "NULL argument");
    int st = FSCI_OK;
    FSCI_TRY(check_energy(e_mev));
    double u = log(e_mev);
    *s_mass = seg_stop(ph, seg_of_u(ph, u), u);
fail:
    return st;
}

int fsci_proton_physics_stop_mm(const fsci_proton_physics *ph, double e_mev, double *s_mev_per_mm)
{
    double s;
    int st = FSCI_OK;
    FSCI_TRY(fsci_proton_physics_stop(ph, e_mev, &s));
    FSCI_CHECK(s_mev_per_mm, FSCI_EINVAL, "s_mev_per_mm is NULL");
    *s_mev_per_mm = 0.1 * s;
fail:
    return st;
}

int fsci_proton_physics_range_mm(const fsci_proton_physics *ph, double e_mev, double *r_mm)
{
    FSCI_CHECK(ph && r_mm, FSCI_EINVAL, "NULL argument");
    int st = FSCI_OK;
    FSCI_TRY(check_energy(e_mev));
    double u = log(e_mev);
    *r_mm = range_at_u(ph, seg_of_u(ph, u), u);
fail:
    return st;
}

int fsci_proton_physics_energy_mm(const fsci_proton_physics *ph, double r_mm, double *e_mev)
{
    FSCI_CHECK(ph && e_mev, FSCI_EINVAL, "NULL argument");
    FSCI_CHECK(r_mm >= 0, FSCI_EINVAL, "range %g mm is not a non-negative number", r_mm);
    FSCI_CHECK(r_mm >= ph->r[0], FSCI_ERANGE, "range %g mm is below the range table (min %g mm at %g MeV)",
               r_mm, ph->r[0], FSCI_PROTON_EMIN_MEV);
    FSCI_CHECK(r_mm <= ph->r[ph->n - 1], FSCI_ERANGE,
               "range %g mm is above the range table (max %g mm at %g MeV)", r_mm, ph->r[ph->n - 1],
               FSCI_PROTON_EMAX_MEV);
    int64_t j = seg_of_r(ph, r_mm);
    double t = cubic_solve(seg_cubic(ph, j), r_mm);
    double e = exp(ph->u[j] + t * (ph->u[j + 1] - ph->u[j]));
    /* keep results inside the limits despite rounding at the two ends */
    *e_mev = fmin(fmax(e, FSCI_PROTON_EMIN_MEV), FSCI_PROTON_EMAX_MEV);
    return FSCI_OK;
}

/* ---- Fermi-Eyges ---------------------------------------------------------- */

int fsci_proton_physics_fermi_eyges(const fsci_proton_physics *ph, double e0_mev, double z_mm,
                                    bool generalised, fsci_proton_fe *out)
{
    FSCI_CHECK(ph && out, FSCI_EINVAL, "NULL argument");
    memset(out, 0, sizeof *out);
    out->factor = 1.0;
    int st = FSCI_OK;
    FSCI_TRY(check_energy(e0_mev));
    FSCI_CHECK(z_mm >= 0 && isfinite(z_mm), FSCI_EINVAL, "depth %g mm is not a non-negative finite number",
               z_mm);
    double u0 = log(e0_mev);
    int64_t j0 = seg_of_u(ph, u0);
    double r0 = range_at_u(ph, j0, u0);
    double r_end = r0 - z_mm;
    FSCI_CHECK(r_end >= ph->r[0], FSCI_ERANGE,
               "depth %g mm is beyond the end of the range table for %g MeV (max %g mm)", z_mm, e0_mev,
               r0 - ph->r[0]);
    if (z_mm == 0) return FSCI_OK;

    double e_end;
    FSCI_TRY(fsci_proton_physics_energy_mm(ph, r_end, &e_end));
    double ue = log(e_end);
    int64_t j = seg_of_u(ph, ue);
    double a0 = 0, a1 = 0, a2 = 0, sx2 = 0;
    /* over ln E from the end point up to e0, piece by piece along the fine
     * table: z' = r0 - R(u), dz'/du = dR/du, T(E(u)) */
    for (; j <= j0; j++) {
        double ua = fmax(ph->u[j], ue), ub = fmin(ph->u[j + 1], u0);
        if (!(ub > ua)) continue;
        double h = ph->u[j + 1] - ph->u[j];
        cubic c = seg_cubic(ph, j);
        for (int q = 0; q < 5; q++) {
            double uq = ua + 0.5 * (ub - ua) * (1.0 + GL_X[q]);
            double t = (uq - ph->u[j]) / h;
            double rq = cubic_val(c, t);
            double w = GL_W[q] * 0.5 * (ub - ua) * cubic_der(c, t) / h * scat_power(exp(uq));
            double zp = r0 - rq, dz = rq - r_end;
            a0 += w;
            a1 += w * zp;
            a2 += w * zp * zp;
            sx2 += w * dz * dz;
        }
    }
    double f = 1.0;
    if (generalised) {
        double g = 1.0 + 0.038 * log(z_mm / FSCI_PROTON_X0_WATER_MM);
        f = g * g;
    }
    out->a0 = f * a0;
    out->a1 = f * a1;
    out->a2 = f * a2;
    out->factor = f;
    out->theta0 = sqrt(out->a0);
    out->sigma_x = sqrt(f * sx2);
fail:
    return st;
}

int fsci_proton_physics_range_straggling(const fsci_proton_physics *ph, double e0_mev, double *sigma_mm)
{
    FSCI_CHECK(ph && sigma_mm, FSCI_EINVAL, "NULL argument");
    int st = FSCI_OK;
    FSCI_TRY(check_energy(e0_mev));
    const double u0 = log(e0_mev);
    const int64_t j0 = seg_of_u(ph, u0);
    double v = 0;
    /* int K / S^2 dR over u, with S = E / (dR/du) (MeV/mm) */
    for (int64_t j = 0; j <= j0; j++) {
        double ua = ph->u[j], ub = fmin(ph->u[j + 1], u0);
        if (!(ub > ua)) continue;
        double h = ph->u[j + 1] - ph->u[j];
        cubic c = seg_cubic(ph, j);
        for (int q = 0; q < 5; q++) {
            double uq = ua + 0.5 * (ub - ua) * (1.0 + GL_X[q]), e = exp(uq);
            double d = cubic_der(c, (uq - ph->u[j]) / h) / h;
            v += GL_W[q] * 0.5 * (ub - ua) * bohr_var(e) * d * d * d / (e * e);
        }
    }
    *sigma_mm = sqrt(v);
fail:
    return st;
}

int fsci_proton_physics_theta0_sq(const fsci_proton_physics *ph, double e0_mev, double s_mm, bool generalised,
                                  double *theta0_sq)
{
    FSCI_CHECK(theta0_sq, FSCI_EINVAL, "theta0_sq is NULL");
    fsci_proton_fe fe;
    int st = FSCI_OK;
    FSCI_TRY(fsci_proton_physics_fermi_eyges(ph, e0_mev, s_mm, generalised, &fe));
    *theta0_sq = fe.a0;
fail:
    return st;
}

/* ---- energy grids --------------------------------------------------------- */

void fsci_proton_egrid_destroy(fsci_proton_egrid **p)
{
    if (!p || !*p) return;
    fsci_free((*p)->edge);
    fsci_free((*p)->edge_range);
    fsci_free((*p)->centre);
    fsci_free(*p);
    *p = NULL;
}

int fsci_proton_egrid_create(const fsci_proton_physics *ph, const fsci_proton_egrid_opts *o,
                             fsci_proton_egrid **out)
{
    int st = FSCI_OK;
    fsci_proton_egrid *g = NULL;
    FSCI_CHECK(ph && o && out, FSCI_EINVAL, "NULL argument");
    *out = NULL;
    FSCI_CHECK(o->kind == FSCI_PROTON_EGRID_RANGE || o->kind == FSCI_PROTON_EGRID_UNIFORM ||
                   o->kind == FSCI_PROTON_EGRID_LOG,
               FSCI_EINVAL, "unknown energy-grid kind %d", (int)o->kind);
    const double emin = o->e_min_mev, emax = o->e_max_mev;
    FSCI_TRY(check_energy(emin));
    FSCI_TRY(check_energy(emax));
    FSCI_CHECK(emin < emax, FSCI_EINVAL, "e_min %g MeV is not below e_max %g MeV", emin, emax);

    double rlo = 0, rhi = 0, rbase = 0;
    int64_t n;
    if (o->kind == FSCI_PROTON_EGRID_RANGE) {
        FSCI_CHECK(o->ds_mm > 0 && isfinite(o->ds_mm), FSCI_EINVAL,
                   "step ds %g mm is not a positive finite number", o->ds_mm);
        FSCI_TRY(fsci_proton_physics_range_mm(ph, emin, &rlo));
        FSCI_TRY(fsci_proton_physics_range_mm(ph, emax, &rhi));
        double nd = (rhi - rlo) / o->ds_mm;
        FSCI_CHECK(nd <= 1e8, FSCI_EINVAL, "step ds %g mm gives %.3g bins between %g and %g MeV (max 1e8)",
                   o->ds_mm, nd, emin, emax);
        /* anchored at e_min: round the bin count up so the top edge reaches
         * e_max; anchored at e_max: round down so the bottom edge stays at or
         * above e_min (a range below zero does not exist) */
        n = o->anchor_top ? (int64_t)floor(nd + 1e-9) : (int64_t)ceil(nd - 1e-9);
        if (!o->anchor_top && n < 1) n = 1;
        FSCI_CHECK(n >= 1, FSCI_ERANGE,
                   "step ds %g mm is longer than the range difference %g mm between %g and %g MeV", o->ds_mm,
                   rhi - rlo, emin, emax);
        rbase = o->anchor_top ? rhi - (double)n * o->ds_mm : rlo;
        double rtop = rbase + (double)n * o->ds_mm;
        /* tolerate rounding at the two ends of the table (the lookups clamp) */
        FSCI_CHECK(rbase >= ph->r[0] * (1.0 - 1e-12), FSCI_ERANGE,
                   "lowest edge of the range grid, R = %g mm, is below the range table "
                   "(min %g mm); raise e_min %g MeV",
                   rbase, ph->r[0], emin);
        FSCI_CHECK(rtop <= ph->r[ph->n - 1] * (1.0 + 1e-12), FSCI_ERANGE,
                   "highest edge of the range grid, R = %g mm, is above the range table "
                   "(max %g mm at %g MeV); lower e_max %g MeV or use anchor_top",
                   rtop, ph->r[ph->n - 1], FSCI_PROTON_EMAX_MEV, emax);
    } else {
        FSCI_CHECK(o->n >= 1 && o->n <= 100000000, FSCI_EINVAL,
                   "number of energy bins %lld is outside [1, 1e8]", (long long)o->n);
        n = o->n;
    }

    g = fsci_calloc(1, sizeof *g);
    FSCI_CHECK_GOTO(g, FSCI_ENOMEM, "energy grid: out of memory");
    g->kind = o->kind;
    g->n = n;
    g->edge = fsci_malloc((size_t)n + 1, sizeof(double));
    g->edge_range = fsci_malloc((size_t)n + 1, sizeof(double));
    g->centre = fsci_malloc((size_t)n, sizeof(double));
    FSCI_CHECK_GOTO(g->edge && g->edge_range && g->centre, FSCI_ENOMEM,
                    "energy grid of %lld bins: out of memory", (long long)n);

    if (o->kind == FSCI_PROTON_EGRID_RANGE) {
        const double ds = o->ds_mm, rmin = ph->r[0], rmax = ph->r[ph->n - 1];
        g->ds_mm = ds;
        for (int64_t k = 0; k <= n; k++) {
            double rk = rbase + (double)k * ds;
            g->edge_range[k] = rk;
            FSCI_TRY(fsci_proton_physics_energy_mm(ph, fmin(fmax(rk, rmin), rmax), &g->edge[k]));
        }
        /* the anchored edge is the requested energy itself (E(R(e)) = e to ~1e-13) */
        if (o->anchor_top)
            g->edge[n] = emax;
        else
            g->edge[0] = emin;
        for (int64_t k = 0; k < n; k++)
            FSCI_TRY(fsci_proton_physics_energy_mm(ph, rbase + ((double)k + 0.5) * ds, &g->centre[k]));
    } else {
        const bool lg = o->kind == FSCI_PROTON_EGRID_LOG;
        const double a = lg ? log(emin) : emin, b = lg ? log(emax) : emax;
        for (int64_t k = 0; k <= n; k++) {
            double x = a + (b - a) * ((double)k / (double)n);
            g->edge[k] = k == 0 ? emin : k == n ? emax : lg ? exp(x) : x;
        }
        for (int64_t k = 0; k < n; k++)
            g->centre[k] = lg ? sqrt(g->edge[k] * g->edge[k + 1]) : 0.5 * (g->edge[k] + g->edge[k + 1]);
        for (int64_t k = 0; k <= n; k++)
            FSCI_TRY(fsci_proton_physics_range_mm(ph, g->edge[k], &g->edge_range[k]));
    }
    *out = g;
    return FSCI_OK;
fail:
    fsci_proton_egrid_destroy(&g);
    return st;
}
