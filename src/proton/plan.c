/* proton transport, the plan: options and their validation, material classes,
 * slab phantoms, plan creation (grids, angles, stencils, energy window) and its
 * queries. The kernel and energy-transfer tables are built in plan_tables.c.
 * doc/proton.md has the equations and their sources.
 *
 * Sources of the physics constants used here:
 *  - nuclear removal 1.2 %/cm of water and 60 % of a removed proton's energy
 *    deposited locally: Bortfeld, "An analytical approximation of the Bragg
 *    curve for therapeutic proton beams", Med. Phys. 24 (1997) 2024 (beta =
 *    0.012 /cm, gamma = 0.6), consistent with the PDG nuclear interaction
 *    length of soft tissue, 83 g/cm^2;
 *  - slab materials: see fsci_proton_slab_fill. */
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
#include "fastsci/core/sysinfo.h"
#include "proton/proton_impl.h"

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
    o->straggling = true;
    o->stream = FSCI_PROTON_STREAM_BILINEAR;
    o->dense = false;
    o->prune = 1e-10;
    o->nthreads = 0;
    o->progress = false;
    o->loss_warn = 0;
    o->loss_fail = 0;
}

/* ---- validation ----------------------------------------------------------- */

static int check_int(const char *name, int64_t v, int64_t lo, int64_t hi)
{
    FSCI_CHECK(v >= lo && v <= hi, FSCI_EINVAL, "%s %lld: must be in [%lld, %lld]", name, (long long)v,
               (long long)lo, (long long)hi);
    return FSCI_OK;
}

static int check_dbl(const char *name, double v, double lo, double hi, bool open_lo)
{
    bool ok = isfinite(v) && (open_lo ? v > lo : v >= lo) && v <= hi;
    FSCI_CHECK(ok, FSCI_EINVAL, "%s %g: must be a number in %c%g, %g]", name, v, open_lo ? '(' : '[', lo, hi);
    return FSCI_OK;
}

static int validate_opts(const fsci_proton_opts *o)
{
    int st = FSCI_OK;
    FSCI_TRY(check_int("--nx", o->nx, 1, 1000000));
    FSCI_TRY(check_int("--nz", o->nz, 1, 1000000));
    FSCI_TRY(check_dbl("--dx", o->dx_mm, 0, 1e4, true));
    FSCI_TRY(check_dbl("--dz", o->dz_mm, 0, 1e4, true));
    FSCI_TRY(check_int("--ntheta", o->ntheta, 1, 100000));
    FSCI_CHECK(o->theta_bc == FSCI_PROTON_THETA_ABSORB || o->theta_bc == FSCI_PROTON_THETA_PERIODIC,
               FSCI_EINVAL, "theta_bc %d: not a boundary condition (0 absorb, 1 periodic)", (int)o->theta_bc);
    if (o->theta_bc == FSCI_PROTON_THETA_ABSORB)
        FSCI_TRY(check_dbl("--theta-max", o->theta_max_deg, 0, 180, true));
    FSCI_CHECK(o->egrid == FSCI_PROTON_EGRID_RANGE || o->egrid == FSCI_PROTON_EGRID_UNIFORM ||
                   o->egrid == FSCI_PROTON_EGRID_LOG,
               FSCI_EINVAL, "--egrid %d: not an energy-grid kind (0 range, 1 uniform, 2 log)", (int)o->egrid);
    FSCI_CHECK(!isnan(o->e_min_mev) && !isnan(o->e_max_mev), FSCI_EINVAL,
               "e_min_mev %g, e_max_mev %g: energies must be numbers", o->e_min_mev, o->e_max_mev);
    FSCI_CHECK(o->e_max_mev <= FSCI_PROTON_EMAX_MEV, FSCI_ERANGE,
               "e_max_mev %g (the highest beam energy): above the stopping-power table (max %g MeV)",
               o->e_max_mev, FSCI_PROTON_EMAX_MEV);
    FSCI_CHECK(o->e_min_mev >= FSCI_PROTON_EMIN_MEV, FSCI_ERANGE,
               "e_min_mev %g (the cutoff energy): below the stopping-power table (min %g MeV)", o->e_min_mev,
               FSCI_PROTON_EMIN_MEV);
    FSCI_CHECK(o->e_min_mev < o->e_max_mev, FSCI_EINVAL,
               "e_min_mev %g (the cutoff energy): must be below e_max_mev %g (the highest beam energy)",
               o->e_min_mev, o->e_max_mev);
    if (o->egrid != FSCI_PROTON_EGRID_RANGE) FSCI_TRY(check_int("--ne", o->ne, 1, 100000));
    FSCI_CHECK(o->sp_model == FSCI_PROTON_SP_PSTAR || o->sp_model == FSCI_PROTON_SP_BETHE75 ||
                   o->sp_model == FSCI_PROTON_SP_BETHE78,
               FSCI_EINVAL, "sp_model %d: not a stopping-power model", (int)o->sp_model);
    FSCI_TRY(check_dbl("--step", o->ds_mm, 0, 1e4, false));
    FSCI_TRY(check_int("e_window", o->e_window, 0, 100000));
    FSCI_CHECK(o->mcs == FSCI_PROTON_MCS_PLAIN || o->mcs == FSCI_PROTON_MCS_GENERALISED, FSCI_EINVAL,
               "--mcs %d: not a scattering model (0 plain, 1 generalised)", (int)o->mcs);
    FSCI_CHECK(o->mcs == FSCI_PROTON_MCS_PLAIN || o->egrid == FSCI_PROTON_EGRID_RANGE, FSCI_ENOTSUP,
               "--mcs generalised needs --egrid range (got egrid %d)", (int)o->egrid);
    FSCI_TRY(check_int("kernel_half_max", o->kernel_half_max, 1, 10000));
    FSCI_TRY(check_dbl("nuclear_mu_per_mm", o->nuclear_mu_per_mm, 0, 1, false));
    FSCI_TRY(check_dbl("nuclear_local", o->nuclear_local, 0, 1, false));
    FSCI_CHECK(o->stream == FSCI_PROTON_STREAM_BILINEAR || o->stream == FSCI_PROTON_STREAM_MUSCL, FSCI_EINVAL,
               "--stream %d: not a streaming scheme (0 bilinear, 1 muscl)", (int)o->stream);
    FSCI_TRY(check_dbl("prune", o->prune, 0, 1e-3, false));
    FSCI_TRY(check_int("--threads", o->nthreads, 0, 4096));
    FSCI_TRY(check_dbl("loss_warn", o->loss_warn, 0, 1, false));
    FSCI_TRY(check_dbl("loss_fail", o->loss_fail, 0, 1, false));
fail:
    return st;
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
    FSCI_CHECK(isfinite(o->dz_mm) && o->dz_mm > 0, FSCI_EINVAL, "slab: --dz %g is not positive", o->dz_mm);
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

/* Bytes of the plan and one state at their peak for nclass material classes
 * (p's grids and window set): the two phase-space buffers and the window sums
 * dominate; then the per-cell arrays (dose, mass, classes, the material map's
 * sort keys), the streaming scratch and the per-class, per-bin tables (their
 * kernels counted at the largest width). */
static double plan_bytes(const fsci_proton_plan *p, int64_t nclass)
{
    const double psi = (double)sizeof(fsci__psi_t), plane = (double)p->plane, nw = (double)p->nw;
    const double np = nw * (double)p->nth, ne = (double)p->ne, nc = (double)nclass;
    const double taps = (double)(2 * p->o.kernel_half_max + 1);
    double b = 2 * np * plane * psi + nw * plane * 8; /* psi[2], wsum */
    b += 2 * np * ((double)sizeof(fsci__pbox) + 8) + nw * ((double)sizeof(fsci__pbox) + 4) + np;
    b += (2 * np + nw + 16) * ((double)sizeof(fsci__item) + FSCI__NP * 8.0);
    b += plane * (8 + 8) + (double)p->nz * (8 + FSCI__NR * 8.0 + 8);           /* dose, mass_g, stop, rows */
    if (nclass > 1) b += plane * (2 + (double)sizeof(fsci__run)) + plane * 32; /* cls, runs, sort keys */
    const double nthreads = (double)p->nthreads;
    b += nthreads * 2 * ((double)p->nx + 16) * psi;
    if (p->o.stream == FSCI_PROTON_STREAM_MUSCL) b += nthreads * (plane + 10 * ((double)p->nx + 16)) * 8;
    if (p->o.straggling) b += nthreads * plane * psi; /* blended source planes */
    b += nc * ne * (2 * (4 + psi) + 3 * 8 + 8 + 4 + 8 + 8 + 4 * (double)sizeof(fsci__epart)) + ne * 8 * 4;
    b += nc * ne * taps * psi;
    if (p->o.mcs == FSCI_PROTON_MCS_GENERALISED) b += nc * ne * (taps * psi + 16);
    return b;
}

/* Refuse up front a plan and state that would not fit in the available
 * memory, naming the options behind its size (FSCI_ENOMEM). */
static int check_plan_memory(const fsci_proton_plan *p, int64_t nclass)
{
    char what[256];
    snprintf(
        what, sizeof what,
        "the phase space of --nx %lld x --nz %lld cells x --ntheta %lld angles x %lld energy bins held%s",
        (long long)p->nx, (long long)p->nz, (long long)p->nth, (long long)p->nw,
        p->o.egrid != FSCI_PROTON_EGRID_RANGE ? " (--ne)" : "");
    int st = fsci_sys_check_memory(what, plan_bytes(p, nclass));
    if (st == FSCI_ERANGE) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", fsci_error_message());
        st = fsci_error_set(FSCI_ENOMEM, __FILE__, __LINE__, __func__, "%s; reduce the grid", msg);
    }
    return st;
}

/* A range grid anchored at e_min rounds its bin count up, so its top edge
 * passes e_max by up to one step: near the top of the table (a 500 MeV beam)
 * that edge would leave it, and the grid is anchored at e_max instead (its
 * lowest edge, the cutoff, then rises by less than one step of range). */
static int anchor_at_top(const fsci_proton_plan *p, bool *top)
{
    int st = FSCI_OK;
    double rlo, rhi, rtab;
    *top = false;
    if (p->o.egrid != FSCI_PROTON_EGRID_RANGE) return FSCI_OK;
    FSCI_TRY(fsci_proton_physics_range_mm(p->ph, p->o.e_min_mev, &rlo));
    FSCI_TRY(fsci_proton_physics_range_mm(p->ph, p->o.e_max_mev, &rhi));
    FSCI_TRY(fsci_proton_physics_range_mm(p->ph, FSCI_PROTON_EMAX_MEV, &rtab));
    const double nd = (rhi - rlo) / p->ds;
    if (nd > 1e8) return FSCI_OK; /* refused by the grid, naming the step */
    *top = rlo + ceil(nd - 1e-9) * p->ds > rtab * (1.0 + 1e-12) && floor(nd + 1e-9) >= 1;
fail:
    return st;
}

int fsci_proton_plan_create(const fsci_proton_opts *o, const fsci_proton_materials *m, fsci_proton_plan **out)
{
    int st = FSCI_OK;
    fsci_proton_plan *p = NULL;
    FSCI_CHECK(o && out, FSCI_EINVAL, "plan: NULL argument");
    *out = NULL;
    FSCI_TRY(validate_opts(o));

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
    FSCI_TRY(anchor_at_top(p, &go.anchor_top));
    st = fsci_proton_egrid_create(p->ph, &go, &p->eg);
    if (st < 0) {
        /* name the option behind the failure */
        char msg[512];
        snprintf(msg, sizeof msg, "%s", fsci_error_message());
        if (o->ds_mm > 0)
            st = fsci_error_set(st, __FILE__, __LINE__, __func__,
                                "energy grid from %g to %g MeV with --step %g mm: %s", o->e_min_mev,
                                o->e_max_mev, p->ds, msg);
        else
            st = fsci_error_set(st, __FILE__, __LINE__, __func__,
                                "energy grid from %g to %g MeV with the step min(--dx %g, --dz %g) = %g mm "
                                "(--step not given): %s",
                                o->e_min_mev, o->e_max_mev, o->dx_mm, o->dz_mm, p->ds, msg);
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
        double iu = floor(u), iv = floor(v), fu = fsci__q24(u - iu), fv = fsci__q24(v - iv);
        if (fu >= 1) {
            iu += 1;
            fu = 0;
        }
        if (fv >= 1) {
            iv += 1;
            fv = 0;
        }
        FSCI_CHECK_GOTO(fabs(iu) < 1e9 && fabs(iv) < 1e9, FSCI_EINVAL,
                        "--step %g mm: the step spans too many cells", p->ds);
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
    if (o->e_window <= 0 && p->nw < p->ne && o->straggling) {
        /* straggling spreads a beam over +-7 sigma_R of range bins (the
         * prune threshold, 1e-10, lies at 6.4 sigma) */
        double sig = 0;
        FSCI_TRY(fsci_proton_physics_range_straggling(p->ph, p->value[p->ne - 1], &sig));
        const double want = 32 + 2 * ceil(7 * sig / p->ds);
        p->nw = want < (double)p->ne ? (int64_t)want : p->ne;
    }
    if (o->dense) p->nw = p->ne;

    FSCI_TRY(check_plan_memory(p, m ? 2 : 1));
    FSCI_TRY(build_materials(p, m));
    FSCI_TRY(fsci__proton_build_kernels(p));
    FSCI_TRY(fsci__proton_build_energy_tables(p));

    {
        double cells = (double)p->nw * (double)p->nth * (double)p->plane;
        FSCI_CHECK_GOTO(
            cells < 4e9, FSCI_ENOMEM,
            "plan: the phase space (%lld energy bins held x %lld angles x %lld x %lld cells) has %.3g "
            "cells per buffer; reduce the grid (--nx, --nz, --ntheta) or the energy bins held (e_window)",
            (long long)p->nw, (long long)p->nth, (long long)p->nz, (long long)p->nx, cells);
        p->mem_bytes = plan_bytes(p, p->nclass);
    }
    fsci__proton_register_events();
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
                    p->surv,  p->nuce,     p->g_off, p->g_part, p->mass_g, p->t_off,   p->t_part};
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
