/* proton transport, the state: allocation, reset, beams entering the surface, and
 * the test hooks that set and read the phase space. */
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
    s->trow_stride = 2 * (p->nx + 16);
    s->trow = fsci_malloc((size_t)(p->nthreads * s->trow_stride), sizeof(fsci__psi_t));
    FSCI_CHECK_GOTO(s->wsum && s->wbox && s->wbin && s->dose && s->stop && s->items && s->part &&
                        s->rowpart && s->written && s->trow,
                    FSCI_ENOMEM, "state: out of memory");
    if (p->nclass > 1) {
        s->cls_seen = fsci_malloc((size_t)p->nclass, 1);
        FSCI_CHECK_GOTO(s->cls_seen, FSCI_ENOMEM, "state: out of memory");
    }
    if (p->shift_blend) {
        s->sblend = fsci_malloc((size_t)(p->nthreads * p->plane), sizeof(fsci__psi_t));
        FSCI_CHECK_GOTO(s->sblend, FSCI_ENOMEM, "state: out of memory for the streaming scratch");
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
                    s->part,    s->rowpart, s->written, s->trow,        s->tplane,   s->sblend,
                    s->gk_half, s->gk_off,  s->gk_w,    s->gk_bin_half, s->cls_seen, s->gk_tmp};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) fsci_free(bufs[i]);
    fsci_free(s);
    *ps = NULL;
}

/* ---- beams ---------------------------------------------------------------- */

void fsci_proton_beam_default(fsci_proton_beam *b)
{
    memset(b, 0, sizeof *b);
    b->kind = FSCI_PROTON_BEAM_PENCIL;
    b->energy_mev = 150;
    b->weight = 1;
}

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
    int st = FSCI_OK;
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
        FSCI_TRY(fsci_proton_physics_range_mm(p->ph, e, &r));
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
fail:
    return st;
}

static int check_beam(const fsci_proton_plan *p, const fsci_proton_beam *b)
{
    FSCI_CHECK(b->kind == FSCI_PROTON_BEAM_PENCIL || b->kind == FSCI_PROTON_BEAM_BROAD, FSCI_EINVAL,
               "beam.kind = %d: not pencil (0) or broad (1)", (int)b->kind);
    FSCI_CHECK(isfinite(b->energy_mev) && b->energy_mev > 0, FSCI_EINVAL,
               "beam.energy_mev = %g: must be a positive number", b->energy_mev);
    const double top = p->value[p->ne - 1];
    FSCI_CHECK(b->energy_mev <= top * (1 + 1e-9), FSCI_ERANGE,
               "beam.energy_mev = %g: above the top bin value %g MeV of the grid (raise e_max_mev)",
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
                   "beam.angle_deg = %g: outside the angular cone +-%g degrees (--theta-max)", b->angle_deg,
                   p->o.theta_max_deg);
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
    FSCI_TRY(check_beam(p, b));
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
                        "beam: the occupied energy bins %lld..%lld span more than the %lld bins of the "
                        "energy window (e_window)",
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
                   "%s: the occupied energy bins %lld..%lld span more than the %lld bins of the energy "
                   "window (e_window)",
                   fn, (long long)blo, (long long)bhi, (long long)p->nw);
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
