/* pstm: the parameter table shared by the CLI and Python, and the resolved
 * setup of a run: output grid, velocity per column, offset classes. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastsci/fastsci.h"
#include "pstm/pstm_run.h"

#define F(field) offsetof(fsci_pstm_opts, field)

const fsci_param fsci_pstm_params[FSCI_PSTM_NPARAMS] = {
    {"input", FSCI_PARAM_STRING, F(input), "", 0, -1, NULL, "input SEG-Y file (or the positional argument)"},
    {"in-dt", FSCI_PARAM_DOUBLE, F(in_dt), "0.004", 1e-6, 10, NULL,
     "sample interval of array inputs and of modelled traces (s; SEG-Y files carry their own)"},
    {"in-t0", FSCI_PARAM_DOUBLE, F(in_t0), "0", -100, 100, NULL,
     "time of the first sample of array inputs (s)"},
    {"vrms", FSCI_PARAM_STRING, F(vrms), "", 0, -1, NULL,
     "RMS velocity table t:v,t:v,... (s:m/s, linear in between, constant beyond)"},
    {"velocity", FSCI_PARAM_STRING, F(velocity), "", 0, -1, NULL,
     "RMS velocity (m/s) on the output grid: .npy (nt,), (nx, nt) or (ny, nx, nt), or SEG-Y (1 or ny x nx "
     "traces of nt)"},
    {"x0", FSCI_PARAM_DOUBLE, F(x0), "0", -1e9, 1e9, NULL, "easting of the first bin centre (m)"},
    {"y0", FSCI_PARAM_DOUBLE, F(y0), "0", -1e9, 1e9, NULL, "northing of the first bin centre (m)"},
    {"dx", FSCI_PARAM_DOUBLE, F(dx), "12.5", 1e-3, 1e6, NULL, "inline bin spacing (m)"},
    {"dy", FSCI_PARAM_DOUBLE, F(dy), "12.5", 1e-3, 1e6, NULL, "crossline bin spacing (m)"},
    {"nx", FSCI_PARAM_INT, F(nx), "0", 0, 10000000, NULL, "inline bins (0: cover the midpoints)"},
    {"ny", FSCI_PARAM_INT, F(ny), "0", 0, 10000000, NULL,
     "crossline bins (0: cover the midpoints; 1 in 2-D)"},
    {"azimuth", FSCI_PARAM_DOUBLE, F(azimuth), "0", -360, 360, NULL,
     "inline axis direction, degrees counter-clockwise from easting"},
    {"nt", FSCI_PARAM_INT, F(nt), "1000", 1, 1000000, NULL, "output samples"},
    {"dt", FSCI_PARAM_DOUBLE, F(dt), "0.004", 1e-6, 10, NULL, "output sample interval (s)"},
    {"aperture", FSCI_PARAM_DOUBLE, F(aperture), "2500", 1e-3, 1e7, NULL,
     "largest midpoint-to-bin distance (m)"},
    {"angle", FSCI_PARAM_DOUBLE, F(angle), "60", 0.1, 90, NULL,
     "cone half-angle from vertical (degrees; 90: none)"},
    {"taper", FSCI_PARAM_DOUBLE, F(taper), "0.1", 0, 0.99, NULL, "tapered fraction of aperture and cone"},
    {"aa", FSCI_PARAM_BOOL, F(aa), "off", 0, -1, NULL, "triangle anti-aliasing (Lumley-Claerbout-Bevc)"},
    {"aa-factor", FSCI_PARAM_DOUBLE, F(aa_factor), "1", 0, 100, NULL, "anti-aliasing triangle length factor"},
    {"weights", FSCI_PARAM_BOOL, F(weights), "on", 0, -1, NULL, "obliquity and spreading weight"},
    {"dim", FSCI_PARAM_CHOICE, F(dim), "auto", 0, -1, "auto|2|3",
     "2-D (half-derivative) or 3-D (derivative); auto: 3 when the sources or receivers span y"},
    {"offset-classes", FSCI_PARAM_DOUBLES, F(offset_classes), "", 0, 1e9, NULL,
     "first,width,count: one image per |offset| class (common-image gathers)"},
    {"tile", FSCI_PARAM_INT, F(tile), "0", 0, 4096, NULL, "output bins per tile side (0: automatic)"},
    {"memory", FSCI_PARAM_DOUBLE, F(memory), "1024", 16, 1e7, NULL,
     "MB of prepared input traces kept in memory (more input is streamed in passes)"},
    {"shots", FSCI_PARAM_INT, F(shots), "40", 1, 10000000, NULL, "model: shots on the line"},
    {"receivers", FSCI_PARAM_INT, F(receivers), "120", 1, 100000, NULL, "model: receivers per shot"},
    {"shot-dx", FSCI_PARAM_DOUBLE, F(shot_dx), "25", 1e-3, 1e6, NULL, "model: shot spacing (m)"},
    {"receiver-dx", FSCI_PARAM_DOUBLE, F(receiver_dx), "25", 1e-3, 1e6, NULL, "model: receiver spacing (m)"},
    {"near-offset", FSCI_PARAM_DOUBLE, F(near_offset), "262.5", 0, 1e6, NULL,
     "model: nearest receiver's offset (m; receivers trail the shot)"},
    {"diffractors", FSCI_PARAM_DOUBLES, F(diffractors), "", -1e9, 1e9, NULL,
     "model: point scatterers x1,tau1,x2,tau2,... (m, s; amplitude 10, reflectors 1 per bin)"},
    {"reflectors", FSCI_PARAM_DOUBLES, F(reflectors), "", -1e9, 1e9, NULL,
     "model: planar reflectors tau1,dip1,... (two-way time at x0 in s, dip in degrees)"},
    {"curved", FSCI_PARAM_DOUBLES, F(curved), "", -1e9, 1e9, NULL,
     "model: dome reflectors tau,height,width: tau(x) = tau - height exp(-(x - xc)^2 / 2 width^2) (s, s, m)"},
    {"ricker", FSCI_PARAM_DOUBLE, F(ricker), "25", 1, 500, NULL, "model: Ricker wavelet peak frequency (Hz)"},
    {"ns", FSCI_PARAM_INT, F(ns), "1000", 2, 1000000, NULL, "model: samples per modelled trace"},
    {"shot-x0", FSCI_PARAM_DOUBLE, F(shot_x0), "0", -1e9, 1e9, NULL, "model: first shot position (m)"},
};
_Static_assert(sizeof fsci_pstm_params / sizeof fsci_pstm_params[0] == FSCI_PSTM_NPARAMS,
               "FSCI_PSTM_NPARAMS");

/* "t:v,t:v" into sorted knots; errors name --vrms and the entry. */
static int parse_vrms(const char *s, double **t_out, double **v_out, int *n_out)
{
    int st = FSCI_OK, n = 0, cap = 1;
    for (const char *c = s; *c; c++) cap += *c == ',';
    double *t = fsci_malloc((size_t)cap, sizeof *t), *v = fsci_malloc((size_t)cap, sizeof *v);
    FSCI_CHECK_GOTO(t && v, FSCI_ENOMEM, "--vrms: out of memory");
    const char *c = s;
    while (*c) {
        char *end = NULL;
        double tt = strtod(c, &end);
        FSCI_CHECK_GOTO(end != c && *end == ':', FSCI_EINVAL, "--vrms: entry %d of '%s' is not t:v", n + 1,
                        s);
        const char *vs = end + 1;
        double vv = strtod(vs, &end);
        FSCI_CHECK_GOTO(end != vs && (*end == ',' || *end == 0), FSCI_EINVAL,
                        "--vrms: entry %d of '%s' is not t:v", n + 1, s);
        FSCI_CHECK_GOTO(isfinite(tt) && tt >= 0, FSCI_EINVAL, "--vrms: time %g must be finite and >= 0", tt);
        FSCI_CHECK_GOTO(isfinite(vv) && vv >= 100 && vv <= 20000, FSCI_ERANGE,
                        "--vrms: velocity %g m/s is outside [100, 20000]", vv);
        FSCI_CHECK_GOTO(n == 0 || tt > t[n - 1], FSCI_EINVAL, "--vrms: times must increase (%g after %g)", tt,
                        t[n - 1]);
        t[n] = tt;
        v[n++] = vv;
        c = *end ? end + 1 : end;
    }
    FSCI_CHECK_GOTO(n > 0, FSCI_EINVAL, "--vrms: empty table");
    *t_out = t;
    *v_out = v;
    *n_out = n;
    return FSCI_OK;
fail:
    fsci_free(t);
    fsci_free(v);
    return st;
}

static float interp_knots(const double *t, const double *v, int n, double x)
{
    if (x <= t[0]) return (float)v[0];
    if (x >= t[n - 1]) return (float)v[n - 1];
    int i = 1;
    while (t[i] < x) i++;
    double f = (x - t[i - 1]) / (t[i] - t[i - 1]);
    return (float)(v[i - 1] + f * (v[i] - v[i - 1]));
}

int fsci__pstm_check_opts(const fsci_pstm_opts *o, bool migrate)
{
    if (migrate) {
        FSCI_CHECK(o->vrms[0] || o->velocity[0], FSCI_EINVAL,
                   "give the velocity: --vrms t:v,... or --velocity V.npy");
        FSCI_CHECK(!(o->vrms[0] && o->velocity[0]), FSCI_EINVAL,
                   "give one of --vrms and --velocity, not both");
    }
    if (o->offset_classes.n) {
        FSCI_CHECK(o->offset_classes.n == 3, FSCI_EINVAL,
                   "--offset-classes: expected first,width,count, got %d values", o->offset_classes.n);
        FSCI_CHECK(o->offset_classes.v[1] > 0, FSCI_EINVAL, "--offset-classes: width %g must be > 0",
                   o->offset_classes.v[1]);
        double c = o->offset_classes.v[2];
        FSCI_CHECK(c >= 1 && c <= 10000 && c == floor(c), FSCI_EINVAL,
                   "--offset-classes: count %g must be a whole number in [1, 10000]", c);
    }
    FSCI_CHECK(o->diffractors.n % 2 == 0, FSCI_EINVAL, "--diffractors: expected pairs x,tau, got %d values",
               o->diffractors.n);
    FSCI_CHECK(o->reflectors.n % 2 == 0, FSCI_EINVAL, "--reflectors: expected pairs tau,dip, got %d values",
               o->reflectors.n);
    FSCI_CHECK(o->curved.n % 3 == 0, FSCI_EINVAL,
               "--curved: expected triples tau,height,width, got %d values", o->curved.n);
    for (int i = 2; i < o->curved.n; i += 3)
        FSCI_CHECK(o->curved.v[i] > 0, FSCI_EINVAL, "--curved: width %g must be > 0", o->curved.v[i]);
    for (int i = 1; i < o->reflectors.n; i += 2)
        FSCI_CHECK(fabs(o->reflectors.v[i]) < 80, FSCI_ERANGE,
                   "--reflectors: dip %g is outside (-80, 80) degrees", o->reflectors.v[i]);
    return FSCI_OK;
}

/* Velocity of every column: v[col * nt + k]. */
static int grid_velocity(const fsci_pstm_opts *o, fsci__pstm_grid *g)
{
    int st = FSCI_OK;
    double *kt = NULL, *kv = NULL;
    fsci_array *a = NULL;
    const int64_t nt = g->nt, ncol = g->nx * g->ny;
    if (o->vrms[0]) { /* one function of tau for every column */
        int n = 0;
        FSCI_TRY(parse_vrms(o->vrms, &kt, &kv, &n));
        g->vel = fsci_malloc((size_t)nt, sizeof(float));
        FSCI_CHECK_GOTO(g->vel, FSCI_ENOMEM, "velocity: out of memory for %lld samples", (long long)nt);
        g->vstride = 0;
        for (int64_t k = 0; k < nt; k++) g->vel[k] = interp_knots(kt, kv, n, (double)k * g->dt);
        goto fail; /* done */
    }
    if (fsci__pstm_is_segy_path(o->velocity)) { /* one trace, or one per column in grid order */
        fsci__segy *f = NULL;
        FSCI_TRY(fsci__segy_open(o->velocity, &f));
        const fsci__segy_geom *sg = fsci__segy_geometry(f);
        const int64_t n = sg->ntr, ns = sg->ns;
        if (ns != nt || (n != 1 && n != ncol)) {
            fsci__segy_close(&f);
            FSCI_CHECK_GOTO(
                0, FSCI_EINVAL,
                "%s: %lld velocity traces of %lld samples do not match the output grid: expected 1 or "
                "%lld (ny %lld x nx %lld) traces of nt %lld samples",
                o->velocity, (long long)n, (long long)ns, (long long)ncol, (long long)g->ny, (long long)g->nx,
                (long long)nt);
        }
        g->vstride = n == 1 ? 0 : nt;
        g->vel = fsci_malloc((size_t)(n * nt), sizeof(float));
        st = g->vel ? fsci__segy_read(f, 0, n, g->vel) : FSCI_ENOMEM;
        fsci__segy_close(&f);
        FSCI_CHECK_GOTO(st != FSCI_ENOMEM, FSCI_ENOMEM, "velocity: out of memory for %lld traces",
                        (long long)n);
        FSCI_TRY(st);
        for (int64_t i = 0; i < n * nt; i++)
            FSCI_CHECK_GOTO(g->vel[i] >= 100 && g->vel[i] <= 20000, FSCI_ERANGE,
                            "%s: velocity %g at sample %lld of trace %lld is not in [100, 20000] m/s",
                            o->velocity, (double)g->vel[i], (long long)(i % nt), (long long)(i / nt));
        goto fail; /* done */
    }
    FSCI_TRY(fsci_npy_read_as(o->velocity, FSCI_F32, &a));
    const fsci_view *v = &a->view;
    const int64_t *sh = v->shape;
    bool ok = (v->ndim == 1 && sh[0] == nt) ||
              (v->ndim == 2 && sh[0] == g->nx && sh[1] == nt && g->ny == 1) ||
              (v->ndim == 3 && sh[0] == g->ny && sh[1] == g->nx && sh[2] == nt);
    char shape[96];
    int len = snprintf(shape, sizeof shape, "(");
    for (int d = 0; d < v->ndim && len < (int)sizeof shape - 24; d++)
        len += snprintf(shape + len, sizeof shape - (size_t)len, "%s%lld", d ? ", " : "", (long long)sh[d]);
    snprintf(shape + len, sizeof shape - (size_t)len, "%s)", v->ndim == 1 ? "," : "");
    FSCI_CHECK_GOTO(
        ok, FSCI_EINVAL,
        "%s: velocity of shape %s does not match the output grid (ny %lld, nx %lld, nt %lld): expected "
        "(nt,), (nx, nt) or (ny, nx, nt)",
        o->velocity, shape, (long long)g->ny, (long long)g->nx, (long long)nt);
    const float *src = v->data;
    g->vstride = v->ndim == 1 ? 0 : nt;
    g->vel = fsci_malloc((size_t)(g->vstride ? ncol * nt : nt), sizeof(float));
    FSCI_CHECK_GOTO(g->vel, FSCI_ENOMEM, "velocity: out of memory for %lld columns", (long long)ncol);
    for (int64_t i = 0; i < (v->ndim == 1 ? nt : ncol * nt); i++)
        FSCI_CHECK_GOTO(isfinite(src[i]) && src[i] >= 100 && src[i] <= 20000, FSCI_ERANGE,
                        "%s: velocity %g at element %lld is not in [100, 20000] m/s", o->velocity,
                        (double)src[i], (long long)i);
    memcpy(g->vel, src, (size_t)(g->vstride ? ncol * nt : nt) * sizeof(float));
fail:
    fsci_array_destroy(&a);
    fsci_free(kt);
    fsci_free(kv);
    return st;
}

int fsci__pstm_grid_init(const fsci_pstm_opts *o, const double *mx, const double *my, int64_t ntr, int dim,
                         fsci__pstm_grid *g)
{
    int st = FSCI_OK;
    memset(g, 0, sizeof *g);
    const double az = o->azimuth * (M_PI / 180);
    g->ex[0] = cos(az);
    g->ex[1] = sin(az);
    g->ey[0] = -sin(az);
    g->ey[1] = cos(az);
    g->dx = o->dx;
    g->dy = o->dy;
    g->nt = o->nt;
    g->dt = o->dt;
    g->x0 = o->x0;
    g->y0 = o->y0;
    g->nx = o->nx;
    g->ny = dim == 2 ? 1 : o->ny;
    /* origin and counts covering the midpoints when nx is not given */
    if (g->nx == 0) {
        FSCI_CHECK(ntr > 0, FSCI_EINVAL, "output grid: no traces to cover (give --nx)");
        double u0 = INFINITY, u1 = -INFINITY, v0 = INFINITY, v1 = -INFINITY;
        for (int64_t i = 0; i < ntr; i++) {
            double u = mx[i] * g->ex[0] + my[i] * g->ex[1], v = mx[i] * g->ey[0] + my[i] * g->ey[1];
            u0 = fmin(u0, u);
            u1 = fmax(u1, u);
            v0 = fmin(v0, v);
            v1 = fmax(v1, v);
        }
        g->nx = (int64_t)floor((u1 - u0) / g->dx + 1e-9) + 1;
        if (dim == 3 && g->ny == 0) g->ny = (int64_t)floor((v1 - v0) / g->dy + 1e-9) + 1;
        g->x0 = u0 * g->ex[0] + v0 * g->ey[0];
        g->y0 = u0 * g->ex[1] + v0 * g->ey[1];
    }
    FSCI_CHECK(g->ny > 0, FSCI_EINVAL, "output grid: give --ny for a 3-D grid (or neither --nx nor --ny)");
    FSCI_CHECK(g->nx > 0 && g->ny > 0 && g->nx * g->ny <= 100000000, FSCI_ERANGE,
               "output grid: %lld x %lld bins is outside [1, 1e8]", (long long)g->nx, (long long)g->ny);
    FSCI_TRY(grid_velocity(o, g));
fail:
    return st;
}

void fsci__pstm_grid_pos(const fsci__pstm_grid *g, int64_t ix, int64_t iy, double *ox, double *oy)
{
    const double u = (double)ix * g->dx, v = (double)iy * g->dy;
    *ox = g->x0 + u * g->ex[0] + v * g->ey[0];
    *oy = g->y0 + u * g->ex[1] + v * g->ey[1];
}

void fsci__pstm_grid_free(fsci__pstm_grid *g)
{
    fsci_free(g->vel);
    g->vel = NULL;
}
