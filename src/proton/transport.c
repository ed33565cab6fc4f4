/* proton transport: options, plan (grids, kernels, transfer tables,
 * materials), state, beams, results and range analysis. The operators are in
 * transport_ops.c; doc/proton.md has the equations and their sources.
 *
 * Sources of the physics constants used here:
 *  - nuclear removal 1.2 %/cm of water and 60 % of a removed proton's energy
 *    deposited locally: Bortfeld, "An analytical approximation of the Bragg
 *    curve for therapeutic proton beams", Med. Phys. 24 (1997) 2024 (beta =
 *    0.012 /cm, gamma = 0.6), consistent with the PDG nuclear interaction
 *    length of soft tissue, 83 g/cm^2 (research notes §2.6);
 *  - slab materials: see fsci_proton_slab_fill. */
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

#define MEV_TO_J 1.602176634e-13
#define Q24 16777216.0 /* 2^24 */

/* Round a weight in [0, 1] to a multiple of 2^-24: sums of such weights are
 * exact in float32, so "1 - w" keeps kernels and splits normalised exactly. */
static double q24(double w)
{
    if (!(w > 0)) return 0;
    if (w >= 1) return 1;
    return nearbyint(w * Q24) / Q24;
}

void fsci_proton_opts_default(fsci_proton_opts *o)
{
    memset(o, 0, sizeof *o);
    o->nx = 80;
    o->nz = 200;
    o->dx_mm = 1;
    o->dz_mm = 1;
    o->ntheta = 121;
    o->theta_max_deg = 30.25;
    o->theta_bc = FSCI_PROTON_THETA_ABSORB;
    o->egrid = FSCI_PROTON_EGRID_RANGE;
    o->e_min_mev = 1;
    o->e_max_mev = 230;
    o->ne = 200;
    o->sp_model = FSCI_PROTON_SP_PSTAR;
    o->ds_mm = 0;
    o->e_window = 0;
    o->mcs = FSCI_PROTON_MCS_PLAIN;
    o->kernel_half_max = 24;
    o->nuclear = true;
    o->nuclear_mu_per_mm = 0.0012;
    o->nuclear_local = 0.6;
    o->stream = FSCI_PROTON_STREAM_BILINEAR;
    o->dense = false;
    o->prune = 1e-10;
    o->nthreads = 0;
    o->progress = false;
}

void fsci_proton_beam_default(fsci_proton_beam *b)
{
    memset(b, 0, sizeof *b);
    b->kind = FSCI_PROTON_BEAM_PENCIL;
    b->energy_mev = 150;
    b->weight = 1;
}

/* ---- validation ----------------------------------------------------------- */

static int check_int(const char *name, int64_t v, int64_t lo, int64_t hi)
{
    FSCI_CHECK(v >= lo && v <= hi, FSCI_EINVAL, "opts.%s = %lld: must be in [%lld, %lld]", name, (long long)v,
               (long long)lo, (long long)hi);
    return FSCI_OK;
}

static int check_dbl(const char *name, double v, double lo, double hi, bool open_lo)
{
    bool ok = isfinite(v) && (open_lo ? v > lo : v >= lo) && v <= hi;
    FSCI_CHECK(ok, FSCI_EINVAL, "opts.%s = %g: must be a number in %c%g, %g]", name, v, open_lo ? '(' : '[',
               lo, hi);
    return FSCI_OK;
}

static int validate_opts(const fsci_proton_opts *o)
{
    int st;
#define TRYV(x)                                                                                              \
    do {                                                                                                     \
        st = (x);                                                                                            \
        if (st < 0) return st;                                                                               \
    } while (0)
    TRYV(check_int("nx", o->nx, 1, 1000000));
    TRYV(check_int("nz", o->nz, 1, 1000000));
    TRYV(check_dbl("dx_mm", o->dx_mm, 0, 1e4, true));
    TRYV(check_dbl("dz_mm", o->dz_mm, 0, 1e4, true));
    TRYV(check_int("ntheta", o->ntheta, 1, 100000));
    FSCI_CHECK(o->theta_bc == FSCI_PROTON_THETA_ABSORB || o->theta_bc == FSCI_PROTON_THETA_PERIODIC,
               FSCI_EINVAL, "opts.theta_bc = %d: not a boundary condition (0 absorb, 1 periodic)",
               (int)o->theta_bc);
    if (o->theta_bc == FSCI_PROTON_THETA_ABSORB)
        TRYV(check_dbl("theta_max_deg", o->theta_max_deg, 0, 180, true));
    FSCI_CHECK(o->egrid == FSCI_PROTON_EGRID_RANGE || o->egrid == FSCI_PROTON_EGRID_UNIFORM ||
                   o->egrid == FSCI_PROTON_EGRID_LOG,
               FSCI_EINVAL, "opts.egrid = %d: not an energy-grid kind (0 range, 1 uniform, 2 log)",
               (int)o->egrid);
    FSCI_CHECK(!isnan(o->e_min_mev) && !isnan(o->e_max_mev), FSCI_EINVAL,
               "opts.e_min_mev = %g, opts.e_max_mev = %g: must be numbers", o->e_min_mev, o->e_max_mev);
    FSCI_CHECK(o->e_max_mev <= FSCI_PROTON_EMAX_MEV, FSCI_ERANGE,
               "opts.e_max_mev = %g: above the stopping-power table (max %g MeV)", o->e_max_mev,
               FSCI_PROTON_EMAX_MEV);
    FSCI_CHECK(o->e_min_mev >= FSCI_PROTON_EMIN_MEV, FSCI_ERANGE,
               "opts.e_min_mev = %g: below the stopping-power table (min %g MeV)", o->e_min_mev,
               FSCI_PROTON_EMIN_MEV);
    FSCI_CHECK(o->e_min_mev < o->e_max_mev, FSCI_EINVAL,
               "opts.e_min_mev = %g: must be below opts.e_max_mev = %g", o->e_min_mev, o->e_max_mev);
    if (o->egrid != FSCI_PROTON_EGRID_RANGE) TRYV(check_int("ne", o->ne, 1, 100000));
    FSCI_CHECK(o->sp_model == FSCI_PROTON_SP_PSTAR || o->sp_model == FSCI_PROTON_SP_BETHE75 ||
                   o->sp_model == FSCI_PROTON_SP_BETHE78,
               FSCI_EINVAL, "opts.sp_model = %d: not a stopping-power model", (int)o->sp_model);
    TRYV(check_dbl("ds_mm", o->ds_mm, 0, 1e4, false));
    TRYV(check_int("e_window", o->e_window, 0, 100000));
    FSCI_CHECK(o->mcs == FSCI_PROTON_MCS_PLAIN || o->mcs == FSCI_PROTON_MCS_GENERALISED, FSCI_EINVAL,
               "opts.mcs = %d: not a scattering model (0 plain, 1 generalised)", (int)o->mcs);
    FSCI_CHECK(o->mcs == FSCI_PROTON_MCS_PLAIN || o->egrid == FSCI_PROTON_EGRID_RANGE, FSCI_ENOTSUP,
               "opts.mcs = generalised needs opts.egrid = range (got %d)", (int)o->egrid);
    TRYV(check_int("kernel_half_max", o->kernel_half_max, 1, 10000));
    TRYV(check_dbl("nuclear_mu_per_mm", o->nuclear_mu_per_mm, 0, 1, false));
    TRYV(check_dbl("nuclear_local", o->nuclear_local, 0, 1, false));
    FSCI_CHECK(o->stream == FSCI_PROTON_STREAM_BILINEAR || o->stream == FSCI_PROTON_STREAM_MUSCL, FSCI_EINVAL,
               "opts.stream = %d: not a streaming scheme (0 bilinear, 1 muscl)", (int)o->stream);
    TRYV(check_dbl("prune", o->prune, 0, 1e-3, false));
    TRYV(check_int("nthreads", o->nthreads, 0, 4096));
#undef TRYV
    return FSCI_OK;
}

/* ---- material classes ----------------------------------------------------- */

typedef struct {
    double a, b, c;
    int64_t i;
} mat_key;

static int mat_cmp(const void *pa, const void *pb)
{
    const mat_key *x = pa, *y = pb;
    if (x->a != y->a) return x->a < y->a ? -1 : 1;
    if (x->b != y->b) return x->b < y->b ? -1 : 1;
    if (x->c != y->c) return x->c < y->c ? -1 : 1;
    return x->i < y->i ? -1 : (x->i > y->i);
}

static int build_materials(fsci_proton_plan *p, const fsci_proton_materials *m)
{
    int st = FSCI_OK;
    mat_key *keys = NULL;
    const int64_t n = p->plane;
    if (!m) {
        p->nclass = 1;
        p->c_rsp = fsci_malloc(1, sizeof(double));
        p->c_rscat = fsci_malloc(1, sizeof(double));
        p->c_rho = fsci_malloc(1, sizeof(double));
        FSCI_CHECK_GOTO(p->c_rsp && p->c_rscat && p->c_rho, FSCI_ENOMEM, "plan: out of memory");
        p->c_rsp[0] = p->c_rscat[0] = p->c_rho[0] = 1;
    } else {
        FSCI_CHECK_GOTO(m->nz == p->nz && m->nx == p->nx, FSCI_EINVAL,
                        "materials: shape (%lld, %lld) does not match the grid (nz, nx) = (%lld, %lld)",
                        (long long)m->nz, (long long)m->nx, (long long)p->nz, (long long)p->nx);
        FSCI_CHECK_GOTO(m->rsp, FSCI_EINVAL, "materials.rsp is NULL");
        for (int64_t i = 0; i < n; i++) {
            double r = m->rsp[i], t = m->rscat ? m->rscat[i] : 1, d = m->density ? m->density[i] : 1;
            int64_t z = i / p->nx, x = i % p->nx;
            FSCI_CHECK_GOTO(isfinite(r) && r >= 0 && r <= 10, FSCI_EINVAL,
                            "materials.rsp[%lld, %lld] = %g: must be in [0, 10]", (long long)z, (long long)x,
                            r);
            FSCI_CHECK_GOTO(isfinite(t) && t >= 0 && t <= 100, FSCI_EINVAL,
                            "materials.rscat[%lld, %lld] = %g: must be in [0, 100]", (long long)z,
                            (long long)x, t);
            FSCI_CHECK_GOTO(isfinite(d) && d > 0 && d <= 25, FSCI_EINVAL,
                            "materials.density[%lld, %lld] = %g: must be in (0, 25] g/cm^3", (long long)z,
                            (long long)x, d);
        }
        keys = fsci_malloc((size_t)n, sizeof *keys);
        FSCI_CHECK_GOTO(keys, FSCI_ENOMEM, "plan: out of memory for the material map");
        for (int64_t i = 0; i < n; i++) {
            keys[i].a = m->rsp[i];
            keys[i].b = m->rscat ? m->rscat[i] : 1;
            keys[i].c = m->density ? m->density[i] : 1;
            keys[i].i = i;
        }
        qsort(keys, (size_t)n, sizeof *keys, mat_cmp);
        int64_t nc = 0;
        for (int64_t i = 0; i < n; i++)
            if (i == 0 || keys[i].a != keys[i - 1].a || keys[i].b != keys[i - 1].b ||
                keys[i].c != keys[i - 1].c)
                nc++;
        FSCI_CHECK_GOTO(
            nc <= 65535, FSCI_ENOTSUP,
            "materials: %lld distinct (rsp, rscat, density) triplets; at most 65535 are supported",
            (long long)nc);
        p->nclass = nc;
        p->c_rsp = fsci_malloc((size_t)nc, sizeof(double));
        p->c_rscat = fsci_malloc((size_t)nc, sizeof(double));
        p->c_rho = fsci_malloc((size_t)nc, sizeof(double));
        p->cls = fsci_malloc((size_t)n, sizeof(uint16_t));
        FSCI_CHECK_GOTO(p->c_rsp && p->c_rscat && p->c_rho && p->cls, FSCI_ENOMEM, "plan: out of memory");
        int64_t c = -1;
        for (int64_t i = 0; i < n; i++) {
            if (i == 0 || keys[i].a != keys[i - 1].a || keys[i].b != keys[i - 1].b ||
                keys[i].c != keys[i - 1].c) {
                c++;
                p->c_rsp[c] = keys[i].a;
                p->c_rscat[c] = keys[i].b;
                p->c_rho[c] = keys[i].c;
            }
            p->cls[keys[i].i] = (uint16_t)c;
        }
        if (nc == 1) { /* uniform map: no per-cell classes needed */
            fsci_free(p->cls);
            p->cls = NULL;
        }
    }
    /* runs of equal class along each row */
    int64_t nruns = 0;
    for (int64_t z = 0; z < p->nz; z++) {
        nruns++;
        if (p->cls)
            for (int64_t x = 1; x < p->nx; x++) nruns += p->cls[z * p->nx + x] != p->cls[z * p->nx + x - 1];
    }
    p->runs = fsci_malloc((size_t)nruns, sizeof(fsci__run));
    p->row_run = fsci_malloc((size_t)p->nz + 1, sizeof(int64_t));
    p->mass_g = fsci_malloc((size_t)n, sizeof(double));
    FSCI_CHECK_GOTO(p->runs && p->row_run && p->mass_g, FSCI_ENOMEM, "plan: out of memory");
    int64_t r = 0;
    for (int64_t z = 0; z < p->nz; z++) {
        p->row_run[z] = r;
        int64_t x0 = 0;
        for (int64_t x = 1; x <= p->nx; x++) {
            if (x == p->nx || (p->cls && p->cls[z * p->nx + x] != p->cls[z * p->nx + x0])) {
                p->runs[r].x0 = (int32_t)x0;
                p->runs[r].x1 = (int32_t)x;
                p->runs[r].c = p->cls ? p->cls[z * p->nx + x0] : 0;
                r++;
                x0 = x;
            }
        }
    }
    p->row_run[p->nz] = r;
    const double vol_cm3 = p->o.dx_mm * p->o.dx_mm * p->o.dz_mm * 1e-3;
    for (int64_t i = 0; i < n; i++) p->mass_g[i] = p->c_rho[p->cls ? p->cls[i] : 0] * vol_cm3;
fail:
    fsci_free(keys);
    return st;
}

int fsci_proton_slab_fill(const fsci_proton_opts *o, fsci_proton_slab kind, double z1_mm, double z2_mm,
                          double *rsp, double *rscat, double *density)
{
    FSCI_CHECK(o && rsp && rscat && density, FSCI_EINVAL, "slab: NULL argument");
    FSCI_CHECK(o->nz >= 1 && o->nx >= 1 && o->nz <= 1000000 && o->nx <= 1000000, FSCI_EINVAL,
               "slab: grid (nz, nx) = (%lld, %lld) is not valid", (long long)o->nz, (long long)o->nx);
    FSCI_CHECK(isfinite(o->dz_mm) && o->dz_mm > 0, FSCI_EINVAL, "slab: opts.dz_mm = %g is not positive",
               o->dz_mm);
    FSCI_CHECK(kind == FSCI_PROTON_SLAB_WATER || kind == FSCI_PROTON_SLAB_BONE ||
                   kind == FSCI_PROTON_SLAB_LUNG,
               FSCI_EINVAL, "slab: kind %d is not water (0), bone (1) or lung (2)", (int)kind);
    FSCI_CHECK(isfinite(z1_mm) && isfinite(z2_mm) && z1_mm <= z2_mm, FSCI_EINVAL,
               "slab: depths z1 = %g, z2 = %g mm must be numbers with z1 <= z2", z1_mm, z2_mm);
    /* bone: RSP 1.6 (cortical bone, the value); relative scattering
     * power 2.2, cf. rho X0_water / X0_bone = 1.85 * 36.08 / 27.4 = 2.4 with the
     * PDG radiation length of cortical bone (ICRP); density 1.85 g/cm^3.
     * lung: RSP 0.3, scattering 0.3 (inflated lung, density ~0.3 g/cm^3, X0
     * in g/cm^2 close to water's). */
    double r = 1, t = 1, d = 1;
    if (kind == FSCI_PROTON_SLAB_BONE) {
        r = 1.6;
        t = 2.2;
        d = 1.85;
    } else if (kind == FSCI_PROTON_SLAB_LUNG) {
        r = 0.3;
        t = 0.3;
        d = 0.3;
    }
    for (int64_t z = 0; z < o->nz; z++) {
        double zc = ((double)z + 0.5) * o->dz_mm;
        bool in = kind != FSCI_PROTON_SLAB_WATER && zc >= z1_mm && zc < z2_mm;
        for (int64_t x = 0; x < o->nx; x++) {
            rsp[z * o->nx + x] = in ? r : 1;
            rscat[z * o->nx + x] = in ? t : 1;
            density[z * o->nx + x] = in ? d : 1;
        }
    }
    return FSCI_OK;
}

/* ---- plan ----------------------------------------------------------------- */

/* 5-point Gauss-Legendre on [-1, 1]. */
static const double GLX[5] = {-0.9061798459386640, -0.5384693101056831, 0.0, 0.5384693101056831,
                              0.9061798459386640};
static const double GLW[5] = {0.2369268850561891, 0.4786286704993665, 0.5688888888888889, 0.4786286704993665,
                              0.2369268850561891};

/* int T(E(R)) dR over [r0, r1] (rad^2). */
static int t_integral(const fsci_proton_physics *ph, double r0, double r1, double *out)
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
        double e = 0, t = 0;
        st = fsci_proton_physics_energy_mm(ph, c + h * GLX[i], &e);
        if (st < 0) return st;
        st = fsci_proton_scattering_power(e, &t);
        if (st < 0) return st;
        acc += GLW[i] * t;
    }
    *out = acc * h;
    return FSCI_OK;
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
        double q = q24(tmp[t + h]);
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
        double m = floor(r), f = q24(r - m);
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
    int st = fsci_proton_physics_range_mm(p->ph, p->value[k], &rv);
    if (st < 0) return st;
    st = fsci_proton_physics_range_mm(p->ph, edge[0], &r0);
    if (st < 0) return st;
    if (rv - r * p->ds <= r0) return FSCI_OK; /* cut off during the step */
    st = fsci_proton_physics_energy_mm(p->ph, rv - r * p->ds, &e1);
    if (st < 0) return st;
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
    double f = q24((e1 - edge[lo]) / (edge[lo + 1] - edge[lo]));
    tj[0] = (int32_t)lo;
    tw[0] = (fsci__psi_t)f;
    tj[1] = (int32_t)(lo - 1 < 0 ? -1 : lo - 1);
    tw[1] = (fsci__psi_t)(1 - f);
    return FSCI_OK;
}

static double target_value(const fsci_proton_plan *p, int32_t j)
{
    return j < 0 ? 0 : p->value[j];
}

static int build_energy_tables(fsci_proton_plan *p)
{
    int st = FSCI_OK;
    const int64_t nc = p->nclass, ne = p->ne;
    const double gam = p->o.nuclear_local;
    p->e_tj = fsci_malloc((size_t)(nc * ne * 2), sizeof(int32_t));
    p->e_tw = fsci_malloc((size_t)(nc * ne * 2), sizeof(fsci__psi_t));
    p->dep = fsci_malloc((size_t)(nc * ne), sizeof(double));
    p->cutf = fsci_malloc((size_t)(nc * ne), sizeof(double));
    p->nuce = fsci_malloc((size_t)(nc * ne), sizeof(double));
    p->nucw = fsci_malloc((size_t)nc, sizeof(double));
    p->surv = fsci_malloc((size_t)nc, sizeof(fsci__psi_t));
    p->g_off = fsci_calloc((size_t)(nc * ne + 1), sizeof(int64_t));
    FSCI_CHECK_GOTO(p->e_tj && p->e_tw && p->dep && p->cutf && p->nuce && p->nucw && p->surv && p->g_off,
                    FSCI_ENOMEM, "plan: out of memory for the energy tables");
    int32_t lo = INT32_MAX, hi = INT32_MIN;
    for (int64_t c = 0; c < nc; c++) {
        double pr = p->o.nuclear ? 1 - exp(-p->o.nuclear_mu_per_mm * p->c_rho[c] * p->ds) : 0;
        double sv = 1 - q24(pr);
        p->surv[c] = (fsci__psi_t)sv;
        p->nucw[c] = 1 - sv; /* the removal actually applied to psi */
        const double pn = p->nucw[c];
        for (int64_t k = 0; k < ne; k++) {
            int32_t *tj = p->e_tj + 2 * (c * ne + k);
            fsci__psi_t *tw = p->e_tw + 2 * (c * ne + k);
            FSCI_TRY(energy_targets(p, k, p->c_rsp[c], tj, tw));
            const double vk = p->value[k];
            double dep = 0, cut = 0;
            for (int i = 0; i < 2; i++) {
                if (tw[i] == 0) continue;
                dep += (double)tw[i] * (vk - target_value(p, tj[i]));
                if (tj[i] < 0)
                    cut += (double)tw[i];
                else {
                    p->g_off[c * ne + tj[i] + 1]++;
                    int32_t d = (int32_t)(k - tj[i]);
                    if (d < lo) lo = d;
                    if (d > hi) hi = d;
                }
            }
            p->dep[c * ne + k] = pn * gam * vk + (1 - pn) * dep;
            p->cutf[c * ne + k] = (1 - pn) * cut;
            p->nuce[c * ne + k] = pn * (1 - gam) * vk;
        }
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
                for (int i = 0; i < 2; i++) {
                    int32_t j = p->e_tj[2 * (c * ne + k) + i];
                    fsci__psi_t w = p->e_tw[2 * (c * ne + k) + i];
                    if (w == 0 || j < 0) continue;
                    fsci__epart *e = &p->g_part[fill[c * ne + j]++];
                    e->k = (int32_t)k;
                    e->w = w;
                }
        fsci_free(fill);
    }
    p->water_shift = p->eg->kind == FSCI_PROTON_EGRID_RANGE && nc == 1 && p->c_rsp[0] == 1;
fail:
    return st;
}

static int build_kernels(fsci_proton_plan *p)
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

static fsci_event ev_scatter = -1, ev_energy = -1, ev_stream = -1, ev_step = -1;

int fsci_proton_plan_create(const fsci_proton_opts *o, const fsci_proton_materials *m, fsci_proton_plan **out)
{
    int st = FSCI_OK;
    fsci_proton_plan *p = NULL;
    FSCI_CHECK(o && out, FSCI_EINVAL, "plan: NULL argument");
    *out = NULL;
    st = validate_opts(o);
    if (st < 0) return st;

    p = fsci_calloc(1, sizeof *p);
    FSCI_CHECK(p, FSCI_ENOMEM, "plan: out of memory");
    p->o = *o;
    p->nx = o->nx;
    p->nz = o->nz;
    p->nth = o->ntheta;
    p->plane = o->nx * o->nz;
    p->ds = o->ds_mm > 0 ? o->ds_mm : fmin(o->dx_mm, o->dz_mm);
    p->o.ds_mm = p->ds;
    p->nthreads = fsci_parallel_resolve(o->nthreads);

    fsci_proton_physics_opts po = {o->sp_model, 0};
    FSCI_TRY(fsci_proton_physics_create(&po, &p->ph));
    fsci_proton_egrid_opts go = {o->egrid, o->e_min_mev, o->e_max_mev, p->ds, o->ne, false};
    st = fsci_proton_egrid_create(p->ph, &go, &p->eg);
    if (st < 0) {
        /* name the option behind the failure */
        char msg[512];
        snprintf(msg, sizeof msg, "%s", fsci_error_message());
        st = fsci_error_set(st, __FILE__, __LINE__, __func__,
                            "energy grid from opts.e_min_mev = %g, opts.e_max_mev = %g, step %g mm: %s",
                            o->e_min_mev, o->e_max_mev, p->ds, msg);
        goto fail;
    }
    p->ne = p->eg->n;
    p->value = fsci_malloc((size_t)p->ne, sizeof(double));
    p->theta = fsci_malloc((size_t)p->nth, sizeof(double));
    p->sten = fsci_malloc((size_t)p->nth, sizeof(fsci__stencil));
    FSCI_CHECK_GOTO(p->value && p->theta && p->sten, FSCI_ENOMEM, "plan: out of memory");
    for (int64_t k = 0; k < p->ne; k++) p->value[k] = p->eg->edge[k + 1];

    /* angles: centres of equal bins over the cone or the circle */
    double tmin;
    if (o->theta_bc == FSCI_PROTON_THETA_PERIODIC) {
        p->dth = 2 * FSCI_PI / (double)p->nth;
        tmin = -FSCI_PI;
    } else {
        p->dth = 2 * o->theta_max_deg * FSCI_PI / 180 / (double)p->nth;
        tmin = -o->theta_max_deg * FSCI_PI / 180;
    }
    for (int64_t t = 0; t < p->nth; t++) {
        double th = tmin + ((double)t + 0.5) * p->dth;
        if (fabs(th) < 1e-12) th = 0;
        p->theta[t] = th;
        double u = p->ds * sin(th) / o->dx_mm, v = p->ds * cos(th) / o->dz_mm;
        double iu = floor(u), iv = floor(v), fu = q24(u - iu), fv = q24(v - iv);
        if (fu >= 1) {
            iu += 1;
            fu = 0;
        }
        if (fv >= 1) {
            iv += 1;
            fv = 0;
        }
        FSCI_CHECK_GOTO(fabs(iu) < 1e9 && fabs(iv) < 1e9, FSCI_EINVAL,
                        "opts.ds_mm = %g: the step spans too many cells", p->ds);
        p->sten[t].iu = (int32_t)iu;
        p->sten[t].iv = (int32_t)iv;
        p->sten[t].fu = (fsci__psi_t)fu;
        p->sten[t].fv = (fsci__psi_t)fv;
    }

    /* energy window */
    if (o->e_window > 0)
        p->nw = o->e_window < p->ne ? o->e_window : p->ne;
    else
        p->nw = (o->dense || o->egrid != FSCI_PROTON_EGRID_RANGE) ? p->ne : (p->ne < 32 ? p->ne : 32);
    if (o->dense) p->nw = p->ne;

    FSCI_TRY(build_materials(p, m));
    FSCI_TRY(build_kernels(p));
    FSCI_TRY(build_energy_tables(p));

    {
        double cells = (double)p->nw * (double)p->nth * (double)p->plane;
        FSCI_CHECK_GOTO(
            cells < 4e9, FSCI_ENOMEM,
            "plan: the phase space (%lld energy bins held x %lld angles x %lld x %lld cells) has %.3g "
            "cells per buffer; reduce the grid or opts.e_window",
            (long long)p->nw, (long long)p->nth, (long long)p->nz, (long long)p->nx, cells);
        double mem = 2 * cells * (double)sizeof(fsci__psi_t) + (double)p->nw * (double)p->plane * 8 +
                     (double)p->plane * 8;
        mem += 2 * (double)p->nw * (double)p->nth * (sizeof(fsci__pbox) + 8);
        if (o->stream == FSCI_PROTON_STREAM_MUSCL) mem += (double)p->nthreads * (double)p->plane * 8;
        if (o->mcs == FSCI_PROTON_MCS_GENERALISED)
            mem += (double)p->nclass * (double)p->ne * (double)(2 * o->kernel_half_max + 1) *
                   (double)sizeof(fsci__psi_t);
        p->mem_bytes = mem;
    }
    if (fsci_profile_register("proton.scatter", &ev_scatter) < 0 ||
        fsci_profile_register("proton.energy", &ev_energy) < 0 ||
        fsci_profile_register("proton.stream", &ev_stream) < 0 ||
        fsci_profile_register("proton.step", &ev_step) < 0)
        fsci_error_clear(); /* profiling is optional */
    *out = p;
    return FSCI_OK;
fail:
    fsci_proton_plan_destroy(&p);
    return st;
}

void fsci_proton_plan_destroy(fsci_proton_plan **pp)
{
    if (!pp || !*pp) return;
    fsci_proton_plan *p = *pp;
    fsci_proton_physics_destroy(&p->ph);
    fsci_proton_egrid_destroy(&p->eg);
    void *bufs[] = {p->theta, p->value,    p->sten,  p->cls,    p->c_rsp,  p->c_rscat, p->c_rho,
                    p->runs,  p->row_run,  p->tbar,  p->tcum,   p->k_half, p->k_off,   p->k_w,
                    p->k_var, p->bin_half, p->e_tj,  p->e_tw,   p->dep,    p->cutf,    p->nucw,
                    p->surv,  p->nuce,     p->g_off, p->g_part, p->mass_g};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) fsci_free(bufs[i]);
#ifdef FSCI_PROTON_F64
    fsci_free(p->k_w32);
#endif
    fsci_free(p);
    *pp = NULL;
}

void fsci_proton_plan_get_info(const fsci_proton_plan *p, fsci_proton_plan_info *info)
{
    memset(info, 0, sizeof *info);
    info->ne = p->ne;
    info->ntheta = p->nth;
    info->nz = p->nz;
    info->nx = p->nx;
    info->nwindow = p->nw;
    info->nclass = p->nclass;
    info->ds_mm = p->ds;
    info->dtheta_rad = p->dth;
    info->e_cut_mev = p->eg->edge[0];
    info->e_top_mev = p->value[p->ne - 1];
    info->kernel_half_max = p->hmax_used;
    info->kernels_clamped = p->kernels_clamped;
    info->mem_bytes = p->mem_bytes;
    info->nthreads = p->nthreads;
}

const fsci_proton_egrid *fsci_proton_plan_egrid(const fsci_proton_plan *p)
{
    return p->eg;
}

const double *fsci_proton_plan_theta(const fsci_proton_plan *p)
{
    return p->theta;
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

int fsci_proton_plan_material(const fsci_proton_plan *p, int64_t ic, double *rsp, double *rscat,
                              double *density)
{
    FSCI_CHECK(p, FSCI_EINVAL, "plan_material: NULL plan");
    FSCI_CHECK(ic >= 0 && ic < p->nclass, FSCI_EINVAL, "plan_material: material class %lld outside [0, %lld)",
               (long long)ic, (long long)p->nclass);
    if (rsp) *rsp = p->c_rsp[ic];
    if (rscat) *rscat = p->c_rscat[ic];
    if (density) *density = p->c_rho[ic];
    return FSCI_OK;
}

/* ---- state ---------------------------------------------------------------- */

static void full_box(const fsci_proton_plan *p, fsci__pbox *b)
{
    b->z0 = 0;
    b->z1 = (int32_t)p->nz;
    b->x0 = 0;
    b->x1 = (int32_t)p->nx;
}

/* Zero everything (first use) or, in sparse mode, only the bounding boxes
 * that may hold data, so that resetting a large state between beams is cheap. */
static void state_clear(fsci_proton_state *s, bool all)
{
    const fsci_proton_plan *p = s->plan;
    const int64_t np = p->nw * p->nth;
    if (all || p->o.dense) {
        for (int b = 0; b < 2; b++) memset(s->psi[b], 0, (size_t)(np * p->plane) * sizeof(fsci__psi_t));
        memset(s->wsum, 0, (size_t)(p->nw * p->plane) * sizeof(double));
    } else {
        for (int b = 0; b < 2; b++)
            for (int64_t i = 0; i < np; i++) {
                const fsci__pbox bx = s->box[b][i];
                for (int64_t z = bx.z0; z < bx.z1; z++)
                    memset(s->psi[b] + i * p->plane + z * p->nx + bx.x0, 0,
                           (size_t)(bx.x1 - bx.x0) * sizeof(fsci__psi_t));
            }
        for (int64_t i = 0; i < p->nw; i++) {
            const fsci__pbox bx = s->wbox[i];
            for (int64_t z = bx.z0; z < bx.z1; z++)
                memset(s->wsum + i * p->plane + z * p->nx + bx.x0, 0,
                       (size_t)(bx.x1 - bx.x0) * sizeof(double));
        }
    }
    for (int b = 0; b < 2; b++)
        for (int64_t i = 0; i < np; i++) {
            if (p->o.dense)
                full_box(p, &s->box[b][i]);
            else
                s->box[b][i] = (fsci__pbox){0, 0, 0, 0};
            s->psum[b][i] = 0;
        }
    for (int64_t i = 0; i < p->nw; i++) {
        s->wbox[i] = (fsci__pbox){0, 0, 0, 0};
        s->wbin[i] = -1;
    }
    memset(s->dose, 0, (size_t)p->plane * sizeof(double));
    memset(s->stop, 0, (size_t)p->nz * sizeof(double));
    s->cur = 0;
    s->klo = 0;
    s->khi = p->o.dense ? p->ne - 1 : -1;
    s->steps = 0;
    s->injected_w = s->injected_e = s->tau = 0;
    memset(s->run, 0, sizeof s->run);
    memset(s->stepb, 0, sizeof s->stepb);
    s->cells = 0;
}

void fsci_proton_state_reset(fsci_proton_state *s)
{
    if (s) state_clear(s, false);
}

int fsci_proton_state_create(const fsci_proton_plan *p, fsci_proton_state **out)
{
    int st = FSCI_OK;
    fsci_proton_state *s = NULL;
    FSCI_CHECK(p && out, FSCI_EINVAL, "state: NULL argument");
    *out = NULL;
    s = fsci_calloc(1, sizeof *s);
    FSCI_CHECK(s, FSCI_ENOMEM, "state: out of memory");
    s->plan = p;
    const int64_t np = p->nw * p->nth;
    const size_t cells = (size_t)np * (size_t)p->plane;
    for (int b = 0; b < 2; b++) {
        s->psi[b] = fsci_malloc(cells, sizeof(fsci__psi_t));
        s->box[b] = fsci_malloc((size_t)np, sizeof(fsci__pbox));
        s->psum[b] = fsci_malloc((size_t)np, sizeof(double));
        FSCI_CHECK_GOTO(s->psi[b] && s->box[b] && s->psum[b], FSCI_ENOMEM,
                        "state: out of memory for the phase space (2 x %.3g GB)",
                        (double)cells * ((double)sizeof(fsci__psi_t) * 1e-9));
    }
    s->wsum = fsci_malloc((size_t)(p->nw * p->plane), sizeof(double));
    s->wbox = fsci_malloc((size_t)p->nw, sizeof(fsci__pbox));
    s->wbin = fsci_malloc((size_t)p->nw, sizeof(int32_t));
    s->dose = fsci_malloc((size_t)p->plane, sizeof(double));
    s->stop = fsci_malloc((size_t)p->nz, sizeof(double));
    s->items_cap = 2 * np + p->nw + 16;
    s->items = fsci_malloc((size_t)s->items_cap, sizeof(fsci__item));
    s->part = fsci_malloc((size_t)(s->items_cap * FSCI__NP), sizeof(double));
    s->rowpart = fsci_malloc((size_t)(p->nz * FSCI__NR), sizeof(double));
    s->written = fsci_malloc((size_t)np, 1);
    s->bounds = fsci_malloc((size_t)p->nthreads + 1, sizeof(int64_t));
    s->trow_stride = 2 * (p->nx + 16);
    s->trow = fsci_malloc((size_t)(p->nthreads * s->trow_stride), sizeof(fsci__psi_t));
    FSCI_CHECK_GOTO(s->wsum && s->wbox && s->wbin && s->dose && s->stop && s->items && s->part &&
                        s->rowpart && s->written && s->bounds && s->trow,
                    FSCI_ENOMEM, "state: out of memory");
    if (p->nclass > 1) {
        s->cls_seen = fsci_malloc((size_t)p->nclass, 1);
        FSCI_CHECK_GOTO(s->cls_seen, FSCI_ENOMEM, "state: out of memory");
    }
    if (p->o.stream == FSCI_PROTON_STREAM_MUSCL) {
        s->tplane_stride = p->plane + 10 * (p->nx + 16);
        s->tplane = fsci_malloc((size_t)(p->nthreads * s->tplane_stride), sizeof(double));
        FSCI_CHECK_GOTO(s->tplane, FSCI_ENOMEM, "state: out of memory for the streaming scratch");
    }
    if (p->o.mcs == FSCI_PROTON_MCS_GENERALISED) {
        const int64_t nk = p->nclass * p->ne;
        s->gk_half = fsci_malloc((size_t)nk, sizeof(int32_t));
        s->gk_off = fsci_malloc((size_t)nk, sizeof(int64_t));
        s->gk_bin_half = fsci_malloc((size_t)p->ne, sizeof(int32_t));
        s->gk_w = fsci_malloc((size_t)(nk * (2 * p->o.kernel_half_max + 1)), sizeof(fsci__psi_t));
        s->gk_tmp = fsci_malloc((size_t)(2 * p->o.kernel_half_max + 1), sizeof(double));
        FSCI_CHECK_GOTO(s->gk_half && s->gk_off && s->gk_w && s->gk_bin_half && s->gk_tmp, FSCI_ENOMEM,
                        "state: out of memory for the scattering kernels");
    }
    for (int b = 0; b < 2; b++)
        for (int64_t i = 0; i < np; i++) s->box[b][i] = (fsci__pbox){0, 0, 0, 0};
    for (int64_t i = 0; i < p->nw; i++) s->wbox[i] = (fsci__pbox){0, 0, 0, 0};
    state_clear(s, true);
    *out = s;
    return FSCI_OK;
fail:
    fsci_proton_state_destroy(&s);
    return st;
}

void fsci_proton_state_destroy(fsci_proton_state **ps)
{
    if (!ps || !*ps) return;
    fsci_proton_state *s = *ps;
    for (int b = 0; b < 2; b++) {
        fsci_free(s->psi[b]);
        fsci_free(s->box[b]);
        fsci_free(s->psum[b]);
    }
    void *bufs[] = {s->wsum,    s->wbox,    s->wbin,    s->dose,        s->stop,     s->items,
                    s->part,    s->rowpart, s->written, s->bounds,      s->trow,     s->tplane,
                    s->gk_half, s->gk_off,  s->gk_w,    s->gk_bin_half, s->cls_seen, s->gk_tmp};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) fsci_free(bufs[i]);
    fsci_free(s);
    *ps = NULL;
}

/* ---- beams ---------------------------------------------------------------- */

static double phi(double x)
{
    return 0.5 * erfc(-x / sqrt(2.0));
}

/* Add weight w at continuous bin position pos in [0, n - 1] to a[], split
 * linearly between floor(pos) and floor(pos) + 1. */
static void split_add(double *a, int64_t n, double pos, double w)
{
    if (pos <= 0) {
        a[0] += w;
        return;
    }
    if (pos >= (double)(n - 1)) {
        a[n - 1] += w;
        return;
    }
    int64_t i = (int64_t)floor(pos);
    double f = pos - (double)i;
    a[i] += w * (1 - f);
    if (f > 0) a[i + 1] += w * f;
}

/* Continuous bin position of energy e: RANGE grids linear in range between
 * bin values, others linear in energy. */
static int energy_position(const fsci_proton_plan *p, double e, double *pos)
{
    const int64_t ne = p->ne;
    if (e <= p->value[0]) {
        *pos = 0;
        return FSCI_OK;
    }
    if (e >= p->value[ne - 1]) {
        *pos = (double)(ne - 1);
        return FSCI_OK;
    }
    if (p->eg->kind == FSCI_PROTON_EGRID_RANGE) {
        double r = 0;
        int st = fsci_proton_physics_range_mm(p->ph, e, &r);
        if (st < 0) return st;
        *pos = (r - p->eg->edge_range[0]) / p->ds - 1;
        if (*pos < 0) *pos = 0;
        if (*pos > (double)(ne - 1)) *pos = (double)(ne - 1);
        return FSCI_OK;
    }
    int64_t lo = 0, hi = ne - 1; /* value[lo] <= e < value[hi] */
    while (hi - lo > 1) {
        int64_t mid = (lo + hi) / 2;
        if (p->value[mid] <= e)
            lo = mid;
        else
            hi = mid;
    }
    *pos = (double)lo + (e - p->value[lo]) / (p->value[hi] - p->value[lo]);
    return FSCI_OK;
}

static int check_beam(const fsci_proton_plan *p, const fsci_proton_beam *b)
{
    FSCI_CHECK(b->kind == FSCI_PROTON_BEAM_PENCIL || b->kind == FSCI_PROTON_BEAM_BROAD, FSCI_EINVAL,
               "beam.kind = %d: not pencil (0) or broad (1)", (int)b->kind);
    FSCI_CHECK(isfinite(b->energy_mev) && b->energy_mev > 0, FSCI_EINVAL,
               "beam.energy_mev = %g: must be a positive number", b->energy_mev);
    const double top = p->value[p->ne - 1];
    FSCI_CHECK(b->energy_mev <= top * (1 + 1e-9), FSCI_ERANGE,
               "beam.energy_mev = %g: above the top bin value %g MeV of the grid (raise opts.e_max_mev)",
               b->energy_mev, top);
    FSCI_CHECK(isfinite(b->energy_sigma_mev) && b->energy_sigma_mev >= 0, FSCI_EINVAL,
               "beam.energy_sigma_mev = %g: must be a number >= 0", b->energy_sigma_mev);
    const double half = 0.5 * (double)p->nx * p->o.dx_mm;
    FSCI_CHECK(isfinite(b->x_mm) && fabs(b->x_mm) <= half, FSCI_EINVAL,
               "beam.x_mm = %g: outside the grid [%g, %g] mm", b->x_mm, -half, half);
    FSCI_CHECK(isfinite(b->sigma_x_mm) && b->sigma_x_mm >= 0, FSCI_EINVAL,
               "beam.sigma_x_mm = %g: must be a number >= 0", b->sigma_x_mm);
    if (b->kind == FSCI_PROTON_BEAM_BROAD)
        FSCI_CHECK(isfinite(b->width_mm) && b->width_mm > 0, FSCI_EINVAL,
                   "beam.width_mm = %g: a broad beam needs a positive width", b->width_mm);
    FSCI_CHECK(isfinite(b->angle_deg) && fabs(b->angle_deg) <= 180, FSCI_EINVAL,
               "beam.angle_deg = %g: must be a number in [-180, 180]", b->angle_deg);
    if (p->o.theta_bc == FSCI_PROTON_THETA_ABSORB)
        FSCI_CHECK(fabs(b->angle_deg) <= p->o.theta_max_deg, FSCI_EINVAL,
                   "beam.angle_deg = %g: outside the angular cone +-%g degrees (opts.theta_max_deg)",
                   b->angle_deg, p->o.theta_max_deg);
    FSCI_CHECK(isfinite(b->sigma_angle_deg) && b->sigma_angle_deg >= 0, FSCI_EINVAL,
               "beam.sigma_angle_deg = %g: must be a number >= 0", b->sigma_angle_deg);
    FSCI_CHECK(isfinite(b->weight) && b->weight > 0, FSCI_EINVAL,
               "beam.weight = %g: must be a positive number", b->weight);
    return FSCI_OK;
}

static void set_tau(fsci_proton_state *s)
{
    s->tau = s->plan->o.prune * s->injected_w;
}

int fsci_proton_state_add_beam(fsci_proton_state *s, const fsci_proton_beam *b)
{
    int st = FSCI_OK;
    double *we = NULL, *wt = NULL, *wx = NULL;
    FSCI_CHECK(s && b, FSCI_EINVAL, "add_beam: NULL argument");
    const fsci_proton_plan *p = s->plan;
    st = check_beam(p, b);
    if (st < 0) return st;
    const int64_t ne = p->ne, nth = p->nth, nx = p->nx;
    we = fsci_calloc((size_t)ne, sizeof(double));
    wt = fsci_calloc((size_t)nth, sizeof(double));
    wx = fsci_calloc((size_t)nx, sizeof(double));
    FSCI_CHECK_GOTO(we && wt && wx, FSCI_ENOMEM, "add_beam: out of memory");

    /* energy */
    if (b->energy_sigma_mev == 0) {
        double pos = 0;
        FSCI_TRY(energy_position(p, b->energy_mev, &pos));
        split_add(we, ne, pos, 1);
    } else {
        double tot = 0;
        for (int i = 0; i <= 400; i++) {
            double u = -6 + 12 * (double)i / 400, e = b->energy_mev + b->energy_sigma_mev * u;
            double g = exp(-0.5 * u * u), pos = 0;
            if (e <= FSCI_PROTON_EMIN_MEV) continue;
            FSCI_TRY(energy_position(p, fmin(e, p->value[ne - 1]), &pos));
            split_add(we, ne, pos, g);
            tot += g;
        }
        for (int64_t k = 0; k < ne; k++) we[k] /= tot;
    }
    /* angle */
    const double a = b->angle_deg * FSCI_PI / 180, sa = b->sigma_angle_deg * FSCI_PI / 180;
    const bool per = p->o.theta_bc == FSCI_PROTON_THETA_PERIODIC;
    if (sa == 0) {
        double pos = (a - p->theta[0]) / p->dth;
        if (per) {
            pos = fmod(pos, (double)nth);
            if (pos < 0) pos += (double)nth;
            int64_t i = (int64_t)floor(pos);
            double f = pos - (double)i;
            wt[i % nth] += 1 - f;
            if (f > 0) wt[(i + 1) % nth] += f;
        } else {
            split_add(wt, nth, pos, 1);
        }
    } else {
        double tot = 0;
        for (int64_t t = 0; t < nth; t++) {
            double lo = p->theta[t] - 0.5 * p->dth, hi = p->theta[t] + 0.5 * p->dth, g = 0;
            for (int img = per ? -1 : 0; img <= (per ? 1 : 0); img++) {
                double sh = 2 * FSCI_PI * (double)img;
                g += phi((hi + sh - a) / sa) - phi((lo + sh - a) / sa);
            }
            wt[t] = g;
            tot += g;
        }
        FSCI_CHECK_GOTO(tot > 0, FSCI_EINVAL, "beam.sigma_angle_deg = %g: no weight inside the angular grid",
                        b->sigma_angle_deg);
        for (int64_t t = 0; t < nth; t++) wt[t] /= tot;
    }
    /* lateral */
    {
        const double dx = p->o.dx_mm, xl = -0.5 * (double)nx * dx;
        double tot = 0;
        if (b->kind == FSCI_PROTON_BEAM_PENCIL && b->sigma_x_mm == 0) {
            split_add(wx, nx, (b->x_mm - xl) / dx - 0.5, 1);
            tot = 1;
        } else {
            for (int64_t i = 0; i < nx; i++) {
                double lo = xl + (double)i * dx, hi = lo + dx, g;
                if (b->kind == FSCI_PROTON_BEAM_PENCIL)
                    g = phi((hi - b->x_mm) / b->sigma_x_mm) - phi((lo - b->x_mm) / b->sigma_x_mm);
                else
                    g = fmax(0,
                             fmin(hi, b->x_mm + 0.5 * b->width_mm) - fmax(lo, b->x_mm - 0.5 * b->width_mm));
                wx[i] = g;
                tot += g;
            }
        }
        FSCI_CHECK_GOTO(tot > 0, FSCI_EINVAL, "beam: no weight inside the lateral grid (x_mm = %g)", b->x_mm);
        for (int64_t i = 0; i < nx; i++) wx[i] /= tot;
    }
    /* occupied bins and the window */
    int64_t blo = -1, bhi = -1, xlo = -1, xhi = -1;
    for (int64_t k = 0; k < ne; k++)
        if (we[k] > 0) {
            if (blo < 0) blo = k;
            bhi = k;
        }
    for (int64_t i = 0; i < nx; i++)
        if (wx[i] > 0) {
            if (xlo < 0) xlo = i;
            xhi = i;
        }
    FSCI_CHECK_GOTO(blo >= 0 && xlo >= 0, FSCI_EINVAL, "beam: no weight inside the grid");
    {
        int64_t nlo = s->klo <= s->khi ? (blo < s->klo ? blo : s->klo) : blo;
        int64_t nhi = s->klo <= s->khi ? (bhi > s->khi ? bhi : s->khi) : bhi;
        FSCI_CHECK_GOTO(nhi - nlo + 1 <= p->nw, FSCI_ERANGE,
                        "beam: the occupied energy bins %lld..%lld span more than opts.e_window = %lld bins",
                        (long long)nlo, (long long)nhi, (long long)p->nw);
        if (!p->o.dense) {
            s->klo = nlo;
            s->khi = nhi;
        }
    }
    /* deposit into row 0 of the current buffer */
    fsci__psi_t *psi = s->psi[s->cur];
    for (int64_t k = blo; k <= bhi; k++) {
        if (we[k] <= 0) continue;
        const int64_t slot = k % p->nw;
        for (int64_t t = 0; t < nth; t++) {
            if (wt[t] <= 0) continue;
            const int64_t pl = slot * nth + t;
            fsci__psi_t *row = psi + pl * p->plane; /* z = 0 */
            double before = 0, after = 0;
            for (int64_t i = xlo; i <= xhi; i++) before += (double)row[i];
            for (int64_t i = xlo; i <= xhi; i++)
                if (wx[i] > 0) row[i] += (fsci__psi_t)(b->weight * we[k] * wt[t] * wx[i]);
            for (int64_t i = xlo; i <= xhi; i++) after += (double)row[i];
            s->psum[s->cur][pl] += after - before;
            s->injected_w += after - before;
            s->injected_e += (after - before) * p->value[k];
            fsci__pbox *bx = &s->box[s->cur][pl];
            if (!p->o.dense) {
                if (bx->z0 >= bx->z1) {
                    *bx = (fsci__pbox){0, 1, (int32_t)xlo, (int32_t)xhi + 1};
                } else {
                    bx->z0 = 0;
                    if (xlo < bx->x0) bx->x0 = (int32_t)xlo;
                    if (xhi + 1 > bx->x1) bx->x1 = (int32_t)xhi + 1;
                }
            }
        }
    }
    s->run[0][0] = s->injected_w;
    s->run[1][0] = s->injected_e;
    set_tau(s);
fail:
    fsci_free(we);
    fsci_free(wt);
    fsci_free(wx);
    return st;
}

/* Tight box of a plane (sparse mode). */
static fsci__pbox tight_box(const fsci_proton_plan *p, const fsci__psi_t *pl)
{
    fsci__pbox b = {0, 0, 0, 0};
    int32_t z0 = -1, z1 = -1, x0 = INT32_MAX, x1 = -1;
    for (int64_t z = 0; z < p->nz; z++) {
        const fsci__psi_t *r = pl + z * p->nx;
        int64_t a = 0, e = p->nx - 1;
        while (a < p->nx && r[a] == 0) a++;
        if (a == p->nx) continue;
        while (r[e] == 0) e--;
        if (z0 < 0) z0 = (int32_t)z;
        z1 = (int32_t)z + 1;
        if (a < x0) x0 = (int32_t)a;
        if (e + 1 > x1) x1 = (int32_t)e + 1;
    }
    if (z0 >= 0) b = (fsci__pbox){z0, z1, x0, x1};
    return b;
}

/* Copies between the phase space and the public float32 / float64 arrays:
 * plain copies when the types match, else widening or (inputs checked to be
 * <= FSCI__PSI_MAX) narrowing with round-to-nearest. */
static void psi_from32(fsci__psi_t *restrict d, const float *restrict a, int64_t n)
{
#ifdef FSCI_PROTON_F64
    for (int64_t i = 0; i < n; i++) d[i] = (double)a[i];
#else
    memcpy(d, a, (size_t)n * sizeof(float));
#endif
}

static void psi_from64(fsci__psi_t *restrict d, const double *restrict a, int64_t n)
{
#ifdef FSCI_PROTON_F64
    memcpy(d, a, (size_t)n * sizeof(double));
#else
    for (int64_t i = 0; i < n; i++) d[i] = (float)a[i];
#endif
}

static void psi_to32(float *restrict d, const fsci__psi_t *restrict a, int64_t n)
{
#ifdef FSCI_PROTON_F64
    for (int64_t i = 0; i < n; i++) d[i] = a[i] <= (double)FLT_MAX ? (float)a[i] : HUGE_VALF;
#else
    memcpy(d, a, (size_t)n * sizeof(float));
#endif
}

static void psi_to64(double *restrict d, const fsci__psi_t *restrict a, int64_t n)
{
#ifdef FSCI_PROTON_F64
    memcpy(d, a, (size_t)n * sizeof(double));
#else
    for (int64_t i = 0; i < n; i++) d[i] = (double)a[i];
#endif
}

/* fsci_proton_state_set_psi and _set_psi64: exactly one of a32, a64 is set. */
static int set_psi_any(fsci_proton_state *s, const float *a32, const double *a64)
{
    const char *fn = a32 ? "set_psi" : "set_psi64";
    const fsci_proton_plan *p = s->plan;
    const int64_t per_bin = p->nth * p->plane;
    int64_t blo = -1, bhi = -1;
    for (int64_t k = 0; k < p->ne; k++) {
        bool any = false;
        for (int64_t i = 0; i < per_bin; i++) {
            const double v = a32 ? (double)a32[k * per_bin + i] : a64[k * per_bin + i];
            FSCI_CHECK(isfinite(v) && v >= 0 && v <= (double)FSCI__PSI_MAX, FSCI_EINVAL,
                       "%s: psi[%lld, %lld, %lld, %lld] = %g: must be finite, >= 0 and <= %g", fn,
                       (long long)k, (long long)(i / p->plane), (long long)(i % p->plane / p->nx),
                       (long long)(i % p->nx), v, (double)FSCI__PSI_MAX);
            any |= v != 0;
        }
        if (any) {
            if (blo < 0) blo = k;
            bhi = k;
        }
    }
    if (blo >= 0)
        FSCI_CHECK(bhi - blo + 1 <= p->nw, FSCI_ERANGE,
                   "%s: the occupied energy bins %lld..%lld span more than opts.e_window = %lld bins", fn,
                   (long long)blo, (long long)bhi, (long long)p->nw);
    /* replace: clear the current buffer and copy the bins in */
    const int c = s->cur;
    memset(s->psi[c], 0, (size_t)(p->nw * per_bin) * sizeof(fsci__psi_t));
    for (int64_t i = 0; i < p->nw * p->nth; i++) {
        if (p->o.dense)
            full_box(p, &s->box[c][i]);
        else
            s->box[c][i] = (fsci__pbox){0, 0, 0, 0};
        s->psum[c][i] = 0;
    }
    if (p->o.dense) {
        s->klo = 0;
        s->khi = p->ne - 1;
    } else {
        s->klo = blo >= 0 ? blo : 0;
        s->khi = blo >= 0 ? bhi : -1;
    }
    for (int64_t k = blo; blo >= 0 && k <= bhi; k++) {
        const int64_t slot = k % p->nw;
        if (a32)
            psi_from32(s->psi[c] + slot * per_bin, a32 + k * per_bin, per_bin);
        else
            psi_from64(s->psi[c] + slot * per_bin, a64 + k * per_bin, per_bin);
        for (int64_t t = 0; t < p->nth; t++) {
            const int64_t pl = slot * p->nth + t;
            const fsci__psi_t *a = s->psi[c] + pl * p->plane;
            double sum = 0;
            for (int64_t i = 0; i < p->plane; i++) sum += (double)a[i];
            s->psum[c][pl] = sum;
            s->injected_w += sum;
            s->injected_e += sum * p->value[k];
            if (!p->o.dense) s->box[c][pl] = tight_box(p, a);
        }
    }
    s->run[0][0] = s->injected_w;
    s->run[1][0] = s->injected_e;
    set_tau(s);
    return FSCI_OK;
}

int fsci_proton_state_set_psi(fsci_proton_state *s, const float *psi)
{
    FSCI_CHECK(s && psi, FSCI_EINVAL, "set_psi: NULL argument");
    return set_psi_any(s, psi, NULL);
}

int fsci_proton_state_set_psi64(fsci_proton_state *s, const double *psi)
{
    FSCI_CHECK(s && psi, FSCI_EINVAL, "set_psi64: NULL argument");
    return set_psi_any(s, NULL, psi);
}

int fsci_proton_state_get_psi(const fsci_proton_state *s, float *psi)
{
    FSCI_CHECK(s && psi, FSCI_EINVAL, "get_psi: NULL argument");
    const fsci_proton_plan *p = s->plan;
    const int64_t per_bin = p->nth * p->plane;
    memset(psi, 0, (size_t)(p->ne * per_bin) * sizeof(float));
    for (int64_t k = s->klo; k <= s->khi; k++)
        psi_to32(psi + k * per_bin, s->psi[s->cur] + (k % p->nw) * per_bin, per_bin);
    return FSCI_OK;
}

int fsci_proton_state_get_psi64(const fsci_proton_state *s, double *psi)
{
    FSCI_CHECK(s && psi, FSCI_EINVAL, "get_psi64: NULL argument");
    const fsci_proton_plan *p = s->plan;
    const int64_t per_bin = p->nth * p->plane;
    memset(psi, 0, (size_t)(p->ne * per_bin) * sizeof(double));
    for (int64_t k = s->klo; k <= s->khi; k++)
        psi_to64(psi + k * per_bin, s->psi[s->cur] + (k % p->nw) * per_bin, per_bin);
    return FSCI_OK;
}

int fsci_proton_psi_bytes(void)
{
    return (int)sizeof(fsci__psi_t);
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
    int st = check_pair(p, s);
    if (st < 0) return st;
    double t0 = fsci_profile_begin(ev_step);
    step_begin(p, s);
    if (s->klo <= s->khi) {
        if (!p->water_shift) {
            st = fsci__proton_energy_check(p, s);
            if (st < 0) return st;
        }
        if (p->o.mcs == FSCI_PROTON_MCS_GENERALISED) fsci__proton_generalised_kernels(p, s);
        double t1 = fsci_profile_begin(ev_scatter);
        fsci__proton_scatter(p, s, true);
        fsci_profile_end(ev_scatter, t1, s->last_bytes, 0);
        t1 = fsci_profile_begin(ev_energy);
        fsci__proton_energy(p, s, !p->water_shift);
        fsci_profile_end(ev_energy, t1, s->last_bytes, 0);
        t1 = fsci_profile_begin(ev_stream);
        fsci__proton_stream(p, s, p->water_shift);
        fsci_profile_end(ev_stream, t1, s->last_bytes, 0);
    }
    s->steps++;
    step_end(p, s);
    fsci_profile_end(ev_step, t0, 0, 0);
    return FSCI_OK;
}

int fsci_proton_apply_scatter(const fsci_proton_plan *p, fsci_proton_state *s)
{
    int st = check_pair(p, s);
    if (st < 0) return st;
    double t0 = fsci_profile_begin(ev_scatter);
    step_begin(p, s);
    if (s->klo <= s->khi) {
        if (p->o.mcs == FSCI_PROTON_MCS_GENERALISED) fsci__proton_generalised_kernels(p, s);
        fsci__proton_scatter(p, s, false);
    }
    step_end(p, s);
    fsci_profile_end(ev_scatter, t0, s->last_bytes, 0);
    return FSCI_OK;
}

int fsci_proton_apply_energy(const fsci_proton_plan *p, fsci_proton_state *s)
{
    int st = check_pair(p, s);
    if (st < 0) return st;
    double t0 = fsci_profile_begin(ev_energy);
    step_begin(p, s);
    if (s->klo <= s->khi) {
        st = fsci__proton_energy_check(p, s);
        if (st < 0) return st;
        fsci__proton_wsum(p, s);
        fsci__proton_energy(p, s, true);
    }
    step_end(p, s);
    fsci_profile_end(ev_energy, t0, s->last_bytes, 0);
    return FSCI_OK;
}

int fsci_proton_apply_stream(const fsci_proton_plan *p, fsci_proton_state *s)
{
    int st = check_pair(p, s);
    if (st < 0) return st;
    double t0 = fsci_profile_begin(ev_stream);
    step_begin(p, s);
    if (s->klo <= s->khi) fsci__proton_stream(p, s, false);
    step_end(p, s);
    fsci_profile_end(ev_stream, t0, s->last_bytes, 0);
    return FSCI_OK;
}

static bool state_empty(const fsci_proton_plan *p, const fsci_proton_state *s)
{
    if (s->klo > s->khi) return true;
    if (!p->o.dense) return false;
    double w = 0, e = 0;
    remaining(p, s, &w, &e);
    return w == 0;
}

int fsci_proton_run(const fsci_proton_plan *p, fsci_proton_state *s, int64_t max_steps, int64_t *steps_done)
{
    int st = check_pair(p, s);
    fsci_progress *pg = NULL;
    int64_t n = 0;
    if (st < 0) return st;
    const int64_t limit = max_steps > 0 ? max_steps : 4 * (p->ne + p->nz + p->nx) + 16;
    if (p->o.progress) {
        int64_t total = limit;
        if (max_steps <= 0 && p->water_shift && s->khi >= 0) total = s->khi + 1;
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
