/* The proton engine's run parameters, described once for the CLI and Python,
 * and their resolution into transport options, beams and materials. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastsci/fastsci.h"

#define F(x) offsetof(fsci_proton_run_opts, x)

/* Memory budget of the two phase-space buffers when a phantom needs a wide
 * energy window (bytes). */
#define PHANTOM_WINDOW_BYTES 2e9

/* The energy grid holds each beam's spectrum from energy - 6 sigma (the
 * sampling of fsci_proton_state_add_beam) to energy + 4 sigma. */
#define SPREAD_LOW 6.0
#define SPREAD_TOP 4.0

/* Most bins of an energy grid (fsci_proton_egrid_create). */
#define MAX_EBINS 1e8

/* Relative stopping power of the built-in lung slab (fsci_proton_slab_fill). */
#define LUNG_RSP 0.3

const fsci_param fsci_proton_params[FSCI_PROTON_NPARAMS] = {
    {"energy", FSCI_PARAM_DOUBLES, F(energy), "150", 1, 1e9, NULL,
     "beam energies in MeV (comma-separated; one beam each, equal weights); at most 500 (PSTAR)"},
    {"energy-spread", FSCI_PARAM_DOUBLE, F(energy_sigma), "0", 0, 50, NULL, "Gaussian energy sigma (MeV)"},
    {"energy-spread-pct", FSCI_PARAM_DOUBLE, F(energy_sigma_pct), "0", 0, 10, NULL,
     "Gaussian energy sigma in % of each beam's energy (instead of --energy-spread)"},
    {"spot-sigma", FSCI_PARAM_DOUBLE, F(spot_sigma), "3", 0, 1000, NULL,
     "pencil-beam lateral sigma (mm; 0: zero width)"},
    {"x0", FSCI_PARAM_DOUBLE, F(x0), "0", -1e6, 1e6, NULL, "lateral beam centre (mm)"},
    {"angle", FSCI_PARAM_DOUBLE, F(angle), "0", -90, 90, NULL, "beam direction from +z towards +x (degrees)"},
    {"angle-sigma", FSCI_PARAM_DOUBLE, F(angle_sigma), "0", 0, 90, NULL, "angular sigma (degrees)"},
    {"width", FSCI_PARAM_DOUBLE, F(width), "0", 0, 1e6, NULL,
     "> 0: a broad beam of this full width (mm) instead of a pencil"},
    {"phantom", FSCI_PARAM_STRING, F(phantom), "water", 0, -1, NULL,
     "water | slab:bone:Z1:Z2 | slab:lung:Z1:Z2 (mm) | FILE.npz (rsp [, rscat, density], (nz, nx) float64)"},
    {"nx", FSCI_PARAM_INT, F(nx), "80", 1, 1000000, NULL, "lateral cells"},
    {"nz", FSCI_PARAM_INT, F(nz), "0", 0, 1000000, NULL, "depth cells; 0: 1.15 x the CSDA range + 10 mm"},
    {"dx", FSCI_PARAM_DOUBLE, F(dx), "1", -1e9, 1e9, NULL, "lateral cell size (mm)"},
    {"dz", FSCI_PARAM_DOUBLE, F(dz), "1", -1e9, 1e9, NULL, "depth cell size (mm)"},
    {"ntheta", FSCI_PARAM_INT, F(ntheta), "121", 1, 100000, NULL, "angle bins"},
    {"theta-max", FSCI_PARAM_DOUBLE, F(theta_max), "30.25", 0.001, 180, NULL,
     "half-width of the angular cone (degrees, outer bin edge)"},
    {"step", FSCI_PARAM_DOUBLE, F(ds), "0", 0, 1e6, NULL, "transport step (mm); 0: min(dx, dz)"},
    {"egrid", FSCI_PARAM_CHOICE, F(egrid), "range", 0, -1, "range|uniform|log",
     "energy grid: uniform in residual range (bin = step), in E or in ln E"},
    {"ne", FSCI_PARAM_INT, F(ne), "200", 1, 100000, NULL, "energy bins of uniform / log grids"},
    {"stream", FSCI_PARAM_CHOICE, F(stream), "muscl", 0, -1, "muscl|bilinear",
     "streaming: muscl (default: second order, accurate lateral spread at dx ~ 0.5-1 mm) or bilinear "
     "(first order, diffusive; needs dx <= ~0.1 mm)"},
    {"mcs", FSCI_PARAM_CHOICE, F(mcs), "plain", 0, -1, "plain|generalised",
     "multiple scattering: plain Highland power or the generalised Highland form"},
    {"nuclear", FSCI_PARAM_BOOL, F(nuclear), "true", 0, -1, NULL, "nuclear removal of primaries"},
    {"nuclear-local", FSCI_PARAM_DOUBLE, F(nuclear_local), "0.6", 0, 1, NULL,
     "fraction of a removed proton's energy deposited locally (Bortfeld 1997; the rest escapes)"},
    {"straggling", FSCI_PARAM_BOOL, F(straggling), "true", 0, -1, NULL,
     "Bohr energy-loss straggling (off: CSDA, the sharp range of earlier versions)"},
    {"sparse", FSCI_PARAM_BOOL, F(sparse), "true", 0, -1, NULL, "process only occupied bounding boxes"},
    {"max-loss", FSCI_PARAM_DOUBLE, F(max_loss), "0.2", 0, 1, NULL,
     "fail when more than this fraction of the beam leaves the grid or the energy/angle grids (1: never; "
     "above 0.01 a warning)"},
};

_Static_assert(sizeof fsci_proton_params / sizeof fsci_proton_params[0] == FSCI_PROTON_NPARAMS,
               "FSCI_PROTON_NPARAMS");

static int fin_pos(const char *flag, double v)
{
    FSCI_CHECK(isfinite(v), FSCI_EINVAL, "--%s: %g is not a finite number", flag, v);
    FSCI_CHECK(v > 0, FSCI_EINVAL, "--%s: %g must be > 0", flag, v);
    return FSCI_OK;
}

static int fin(const char *flag, double v)
{
    FSCI_CHECK(isfinite(v), FSCI_EINVAL, "--%s: %g is not a finite number", flag, v);
    return FSCI_OK;
}

/* "(5, 50, 20)": the shape of a view, every dimension. */
static void shape_text(const fsci_view *v, char *buf, size_t cap)
{
    size_t len = (size_t)snprintf(buf, cap, "(");
    for (int d = 0; d < v->ndim && len < cap; d++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%lld", d ? ", " : "", (long long)v->shape[d]);
    if (len < cap) snprintf(buf + len, cap - len, v->ndim == 1 ? ",)" : ")");
}

/* Every value of member `name` of map file `path` within its range (as the
 * plan requires); a bad value names the file, the member, the cell and the value. */
static int check_map_values(const char *path, int k, const double *a, int64_t nz, int64_t nx)
{
    static const char *names[3] = {"rsp", "rscat", "density"};
    static const double hi[3] = {10, 100, 25};
    for (int64_t i = 0; i < nz * nx; i++) {
        const double v = a[i];
        const bool ok = isfinite(v) && (k == 2 ? v > 0 : v >= 0) && v <= hi[k];
        FSCI_CHECK(ok, FSCI_EFORMAT, "--phantom %s: %s[%lld, %lld] = %g: must be in %c0, %g]%s", path,
                   names[k], (long long)(i / nx), (long long)(i % nx), v, k == 2 ? '(' : '[', hi[k],
                   k == 2 ? " g/cm^3" : "");
    }
    return FSCI_OK;
}

/* Read the material map members of an .npz into the setup's arrays. */
static int load_map(const char *path, fsci_proton_setup *su)
{
    static const char *names[3] = {"rsp", "rscat", "density"};
    int st = FSCI_OK;
    fsci_npz *z = NULL;
    fsci_array *a = NULL;
    int64_t nz = su->opts.nz, nx = su->opts.nx;
    double *dst[3] = {su->rsp, su->rscat, su->density};
    FSCI_TRY(fsci_npz_open(path, &z));
    FSCI_CHECK_GOTO(fsci_npz_has(z, "rsp"), FSCI_EINVAL, "--phantom %s: no member 'rsp'", path);
    for (int k = 0; k < 3; k++) {
        if (!fsci_npz_has(z, names[k])) {
            for (int64_t i = 0; i < nz * nx; i++) dst[k][i] = 1.0;
            continue;
        }
        FSCI_TRY(fsci_npz_read_as(z, names[k], FSCI_F64, &a)); /* errors name the file and member */
        char shape[32 * FSCI_MAX_NDIM];
        shape_text(&a->view, shape, sizeof shape);
        FSCI_CHECK_GOTO(a->view.ndim == 2 && a->view.shape[0] == nz && a->view.shape[1] == nx, FSCI_EINVAL,
                        "--phantom %s: %s has shape %s, the grid (nz, nx) is (%lld, %lld)", path, names[k],
                        shape, (long long)nz, (long long)nx);
        fsci_view dv;
        FSCI_TRY(fsci_view_init(&dv, dst[k], FSCI_F64, 2, (int64_t[2]){nz, nx}, false));
        FSCI_TRY(fsci_view_copy(&dv, &a->view));
        fsci_array_destroy(&a);
        FSCI_TRY(check_map_values(path, k, dst[k], nz, nx));
    }
fail:
    fsci_array_destroy(&a);
    fsci_npz_close(&z);
    return st;
}

/* Gaussian energy sigma (MeV) of a beam of energy e: --energy-spread, or
 * --energy-spread-pct of e. */
static double spread_of(const fsci_proton_run_opts *r, double e)
{
    return r->energy_sigma_pct > 0 ? r->energy_sigma_pct * e / 100 : r->energy_sigma;
}

/* Highest energy of the spectra (energy + 4 sigma over the beams). */
static double spectrum_top(const fsci_proton_run_opts *r)
{
    double top = 0;
    for (int i = 0; i < r->energy.n; i++) {
        const double e = r->energy.v[i], t = e + SPREAD_TOP * spread_of(r, e);
        if (t > top) top = t;
    }
    return top;
}

/* Check the run options that do not depend on the grid; *emax_out: the
 * highest beam energy. */
static int check_run_opts(const fsci_proton_run_opts *r, double *emax_out)
{
    int st = FSCI_OK;
    FSCI_CHECK(r->energy.n >= 1, FSCI_EINVAL, "--energy: at least one energy is required");
    double emax = 0;
    for (int i = 0; i < r->energy.n; i++) {
        double e = r->energy.v[i];
        FSCI_TRY(fin_pos("energy", e));
        FSCI_CHECK(e <= FSCI_PROTON_EMAX_MEV, FSCI_ERANGE,
                   "--energy: %g MeV is above the PSTAR table (%g MeV)", e, FSCI_PROTON_EMAX_MEV);
        FSCI_CHECK(e > 1.5, FSCI_ERANGE, "--energy: %g MeV is below the cutoff (1 MeV)", e);
        if (e > emax) emax = e;
    }
    FSCI_TRY(fin("energy-spread", r->energy_sigma));
    FSCI_CHECK(r->energy_sigma >= 0, FSCI_EINVAL, "--energy-spread: %g must be >= 0", r->energy_sigma);
    FSCI_TRY(fin("energy-spread-pct", r->energy_sigma_pct));
    FSCI_CHECK(r->energy_sigma_pct >= 0, FSCI_EINVAL, "--energy-spread-pct: %g must be >= 0",
               r->energy_sigma_pct);
    FSCI_CHECK(!(r->energy_sigma > 0 && r->energy_sigma_pct > 0), FSCI_EINVAL,
               "--energy-spread %g and --energy-spread-pct %g: give the spread one way only", r->energy_sigma,
               r->energy_sigma_pct);
    FSCI_TRY(fin("nuclear-local", r->nuclear_local));
    FSCI_CHECK(r->nuclear_local >= 0 && r->nuclear_local <= 1, FSCI_EINVAL,
               "--nuclear-local: %g must be in [0, 1]", r->nuclear_local);
    /* the top of the energy grid holds the highest energy plus 4 sigma */
    const double top = spectrum_top(r);
    FSCI_CHECK(top <= FSCI_PROTON_EMAX_MEV, FSCI_ERANGE,
               "--energy %g with --energy-spread%s %g: the spectrum reaches %g MeV (energy + 4 x spread), "
               "above the PSTAR table (%g MeV); lower --energy or the spread",
               emax, r->energy_sigma_pct > 0 ? "-pct" : "",
               r->energy_sigma_pct > 0 ? r->energy_sigma_pct : r->energy_sigma, top, FSCI_PROTON_EMAX_MEV);
    FSCI_TRY(fin("spot-sigma", r->spot_sigma));
    FSCI_CHECK(r->spot_sigma >= 0, FSCI_EINVAL, "--spot-sigma: %g must be >= 0", r->spot_sigma);
    FSCI_TRY(fin("x0", r->x0));
    FSCI_TRY(fin("angle", r->angle));
    FSCI_TRY(fin("angle-sigma", r->angle_sigma));
    FSCI_TRY(fin("width", r->width));
    FSCI_CHECK(r->width >= 0, FSCI_EINVAL, "--width: %g must be >= 0", r->width);
    FSCI_TRY(fin_pos("dx", r->dx));
    FSCI_TRY(fin_pos("dz", r->dz));
    FSCI_CHECK(r->nx >= 1, FSCI_EINVAL, "--nx: %lld must be >= 1", (long long)r->nx);
    FSCI_CHECK(r->nz >= 0, FSCI_EINVAL, "--nz: %lld must be >= 0", (long long)r->nz);
    FSCI_CHECK(r->ntheta >= 1, FSCI_EINVAL, "--ntheta: %lld must be >= 1", (long long)r->ntheta);
    FSCI_TRY(fin_pos("theta-max", r->theta_max));
    FSCI_TRY(fin("step", r->ds));
    FSCI_CHECK(r->ds >= 0, FSCI_EINVAL, "--step: %g must be >= 0", r->ds);
    /* the beam enters inside the grid and the angular cone */
    FSCI_CHECK(fabs(r->angle) <= r->theta_max, FSCI_EINVAL,
               "--angle %g: outside the angular cone +-%g degrees of --theta-max", r->angle, r->theta_max);
    const double half = 0.5 * (double)r->nx * r->dx;
    FSCI_CHECK(fabs(r->x0) <= half, FSCI_EINVAL,
               "--x0 %g: outside the grid [%g, %g] mm (--nx %lld x --dx %g mm, centred on 0)", r->x0, -half,
               half, (long long)r->nx, r->dx);
    *emax_out = emax;
fail:
    return st;
}

/* Transport options straight from the run options; the top of the energy
 * grid holds the highest energy plus its spread. */
static void set_transport_opts(const fsci_proton_run_opts *r, int nthreads, bool progress,
                               fsci_proton_opts *o)
{
    fsci_proton_opts_default(o);
    o->nx = r->nx;
    o->dx_mm = r->dx;
    o->dz_mm = r->dz;
    o->ntheta = r->ntheta;
    o->theta_max_deg = r->theta_max;
    o->ds_mm = r->ds;
    o->ne = r->ne;
    o->nuclear = r->nuclear;
    o->nuclear_local = r->nuclear_local;
    o->straggling = r->straggling;
    o->dense = !r->sparse;
    o->nthreads = nthreads;
    o->progress = progress;
    o->loss_warn = FSCI_PROTON_LOSS_WARN;
    o->loss_fail = r->max_loss;
    o->egrid = strcmp(r->egrid, "uniform") == 0 ? FSCI_PROTON_EGRID_UNIFORM
               : strcmp(r->egrid, "log") == 0   ? FSCI_PROTON_EGRID_LOG
                                                : FSCI_PROTON_EGRID_RANGE;
    o->stream = strcmp(r->stream, "bilinear") == 0 ? FSCI_PROTON_STREAM_BILINEAR : FSCI_PROTON_STREAM_MUSCL;
    o->mcs = strcmp(r->mcs, "generalised") == 0 ? FSCI_PROTON_MCS_GENERALISED : FSCI_PROTON_MCS_PLAIN;
    /* check_run_opts keeps this within the table; the plan anchors the grid
     * at its top when a bin above it would leave the table */
    o->e_max_mev = spectrum_top(r);
}

/* A range grid has one bin per step of residual range: refuse a step that
 * would need more bins than the energy grid allows (1e8), naming the option
 * the step comes from. */
static int check_step(const fsci_proton_run_opts *r, const fsci_proton_physics *ph, const fsci_proton_opts *o)
{
    int st = FSCI_OK;
    double rtop, rcut;
    FSCI_TRY(fsci_proton_physics_range_mm(ph, o->e_max_mev, &rtop));
    FSCI_TRY(fsci_proton_physics_range_mm(ph, o->e_min_mev, &rcut));
    const double ds = r->ds > 0 ? r->ds : fmin(r->dx, r->dz), nbins = (rtop - rcut) / ds;
    FSCI_CHECK_GOTO(nbins <= MAX_EBINS || r->ds <= 0, FSCI_EINVAL,
                    "--step %g: the range energy grid from %g to %g MeV needs %.3g bins of %g mm, more than "
                    "%.0e; raise --step",
                    r->ds, o->e_min_mev, o->e_max_mev, nbins, ds, MAX_EBINS);
    const char *flag = r->dx <= r->dz ? "dx" : "dz";
    FSCI_CHECK_GOTO(
        nbins <= MAX_EBINS, FSCI_EINVAL,
        "--%s %g (the step is min(--dx, --dz) unless --step is given): the range energy grid from "
        "%g to %g MeV needs %.3g bins of %g mm, more than %.0e; raise --%s or set --step",
        flag, ds, o->e_min_mev, o->e_max_mev, nbins, ds, MAX_EBINS, flag);
fail:
    return st;
}

/* Depth cells (unless given) and the energy window, from the CSDA ranges. */
static int size_grid(const fsci_proton_run_opts *r, double emax, fsci_proton_opts *o)
{
    int st = FSCI_OK;
    fsci_proton_physics *ph = NULL;
    double rmax, rlow, emin = emax;
    for (int i = 0; i < r->energy.n; i++) {
        const double e = r->energy.v[i] - SPREAD_LOW * spread_of(r, r->energy.v[i]);
        if (e < emin) emin = e;
    }
    if (emin < 1.5) emin = 1.5;
    FSCI_TRY(fsci_proton_physics_create(NULL, &ph));
    FSCI_TRY(fsci_proton_physics_range_mm(ph, o->e_max_mev, &rmax));
    FSCI_TRY(fsci_proton_physics_range_mm(ph, emin, &rlow));
    if (o->egrid == FSCI_PROTON_EGRID_RANGE && (r->energy.n > 1 || spread_of(r, emax) > 0)) {
        /* the energy window must hold every beam's bins at once, and with
         * straggling +-7 sigma_R around them */
        double ds = r->ds > 0 ? r->ds : (r->dx < r->dz ? r->dx : r->dz), sig = 0;
        if (r->straggling) FSCI_TRY(fsci_proton_physics_range_straggling(ph, o->e_max_mev, &sig));
        o->e_window = (int64_t)ceil((rmax - rlow) / ds) + 34 + 2 * (int64_t)ceil(7 * sig / ds);
    }
    if (r->nz > 0) {
        o->nz = r->nz;
    } else {
        double rmm;
        FSCI_TRY(fsci_proton_physics_range_mm(ph, emax, &rmm));
        /* a slab of lower stopping power than water pushes the range deeper */
        double z1 = 0, z2 = 0;
        char kind[16], extra;
        if (strncmp(r->phantom, "slab:", 5) == 0 &&
            sscanf(r->phantom + 5, "%15[a-z]:%lf:%lf%c", kind, &z1, &z2, &extra) == 3 &&
            strcmp(kind, "lung") == 0 && isfinite(z1) && isfinite(z2) && z2 > z1 && z1 < 1.15 * rmm + 10)
            rmm += (1 - LUNG_RSP) * (z2 - z1) / 1.15;
        const double nzd = ceil((1.15 * rmm + 10) / r->dz);
        FSCI_CHECK_GOTO(
            nzd <= 1000000, FSCI_EINVAL,
            "--dz %g: covering 1.15 x the CSDA range + 10 mm (%g mm) needs %.0f depth cells, more than "
            "1000000; raise --dz or set --nz",
            r->dz, 1.15 * rmm + 10, nzd);
        o->nz = (int64_t)nzd;
    }
    if (o->egrid == FSCI_PROTON_EGRID_RANGE) FSCI_TRY(check_step(r, ph, o));
    if (o->egrid == FSCI_PROTON_EGRID_RANGE && strcmp(r->phantom, "water") != 0) {
        /* In a material with rsp != 1 the energy transfer splits weight between
         * two bins each step, and lateral heterogeneity spreads it further:
         * hold the whole grid if it fits the memory budget, else as many bins
         * as fit (a run that still overflows fails naming --step). */
        double ds = r->ds > 0 ? r->ds : (r->dx < r->dz ? r->dx : r->dz), rcut;
        FSCI_TRY(fsci_proton_physics_range_mm(ph, o->e_min_mev, &rcut));
        const double ne = ceil((rmax - rcut) / ds) + 2;
        const double per_bin = 2.0 * (double)o->ntheta * (double)o->nz * (double)o->nx * sizeof(float);
        double fit = floor(PHANTOM_WINDOW_BYTES / per_bin), want = ne < fit ? ne : fit;
        if (want > 100000) want = 100000;
        if (want > (double)(o->e_window > 0 ? o->e_window : 32)) o->e_window = (int64_t)want;
    }
fail:
    fsci_proton_physics_destroy(&ph);
    return st;
}

/* One beam per energy, equal weights. */
static void set_beams(const fsci_proton_run_opts *r, fsci_proton_setup *su)
{
    for (int i = 0; i < r->energy.n; i++) {
        fsci_proton_beam *b = &su->beams[i];
        fsci_proton_beam_default(b);
        b->kind = r->width > 0 ? FSCI_PROTON_BEAM_BROAD : FSCI_PROTON_BEAM_PENCIL;
        b->energy_mev = r->energy.v[i];
        b->energy_sigma_mev = spread_of(r, r->energy.v[i]);
        b->x_mm = r->x0;
        b->sigma_x_mm = r->spot_sigma;
        b->width_mm = r->width;
        b->angle_deg = r->angle;
        b->sigma_angle_deg = r->angle_sigma;
        b->weight = 1.0;
    }
    su->nbeams = r->energy.n;
}

/* The material map of a phantom other than water: a built-in slab or an
 * .npz file. The arrays belong to `su` (freed by its destroy). */
static int set_materials(const fsci_proton_run_opts *r, fsci_proton_setup *su)
{
    int st = FSCI_OK;
    const fsci_proton_opts *o = &su->opts;
    int64_t n = o->nz * o->nx;
    su->has_materials = true;
    su->mat.nz = o->nz;
    su->mat.nx = o->nx;
    char what[FSCI_PARAM_STRLEN + 128];
    snprintf(what, sizeof what, "the material map of --phantom %s (--nx %lld x --nz %lld cells)", r->phantom,
             (long long)o->nx, (long long)o->nz);
    st = fsci_sys_check_memory(what, 3.0 * (double)sizeof(double) * (double)n);
    if (st == FSCI_ERANGE) st = FSCI_ENOMEM; /* the machine's limit, not a bad value */
    if (st) goto fail;
    double *rsp = fsci_malloc((size_t)n, sizeof(double));
    double *rsc = fsci_malloc((size_t)n, sizeof(double));
    double *den = fsci_malloc((size_t)n, sizeof(double));
    su->mat.rsp = su->rsp = rsp;
    su->mat.rscat = su->rscat = rsc;
    su->mat.density = su->density = den;
    FSCI_CHECK_GOTO(rsp && rsc && den, FSCI_ENOMEM, "out of memory for the material map");
    if (strncmp(r->phantom, "slab:", 5) == 0) {
        char kind[16];
        double z1, z2;
        char extra;
        int got = sscanf(r->phantom + 5, "%15[a-z]:%lf:%lf%c", kind, &z1, &z2, &extra);
        FSCI_CHECK_GOTO(got == 3 && (strcmp(kind, "bone") == 0 || strcmp(kind, "lung") == 0), FSCI_EINVAL,
                        "--phantom: '%s' is not slab:bone:Z1:Z2 or slab:lung:Z1:Z2", r->phantom);
        FSCI_CHECK_GOTO(isfinite(z1) && isfinite(z2) && z1 >= 0 && z1 < z2, FSCI_EINVAL,
                        "--phantom: '%s' needs finite depths 0 <= Z1 < Z2", r->phantom);
        FSCI_TRY(fsci_proton_slab_fill(o, kind[0] == 'b' ? FSCI_PROTON_SLAB_BONE : FSCI_PROTON_SLAB_LUNG, z1,
                                       z2, rsp, rsc, den));
    } else {
        size_t len = strlen(r->phantom);
        FSCI_CHECK_GOTO(len > 4 && strcmp(r->phantom + len - 4, ".npz") == 0, FSCI_EINVAL,
                        "--phantom: '%s' is not water, slab:bone:Z1:Z2, slab:lung:Z1:Z2 or FILE.npz",
                        r->phantom);
        FSCI_TRY(load_map(r->phantom, su));
    }
fail:
    return st;
}

int fsci_proton_setup_create(const fsci_proton_run_opts *r, int nthreads, bool progress,
                             fsci_proton_setup **out)
{
    int st = FSCI_OK;
    fsci_proton_setup *su = NULL;
    FSCI_CHECK(r && out, FSCI_EINVAL, "fsci_proton_setup_create: NULL argument");
    *out = NULL;
    double emax = 0;
    FSCI_TRY(check_run_opts(r, &emax));
    su = fsci_calloc(1, sizeof *su);
    FSCI_CHECK_GOTO(su, FSCI_ENOMEM, "out of memory");
    set_transport_opts(r, nthreads, progress, &su->opts);
    FSCI_TRY(size_grid(r, emax, &su->opts));
    set_beams(r, su);
    if (strcmp(r->phantom, "water") != 0) FSCI_TRY(set_materials(r, su));
    *out = su;
    return FSCI_OK;
fail:
    fsci_proton_setup_destroy(&su);
    return st;
}

void fsci_proton_setup_destroy(fsci_proton_setup **s)
{
    if (!s || !*s) return;
    fsci_free((*s)->rsp);
    fsci_free((*s)->rscat);
    fsci_free((*s)->density);
    fsci_free(*s);
    *s = NULL;
}
