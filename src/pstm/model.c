/* pstm: modelling, the exact adjoint of migration (doc/pstm.md), applied to a
 * scene built on the output grid (point diffractors and planar reflectors
 * with a Ricker wavelet) or to a given image; the geometry is a built-in 2-D
 * line or given as arrays. Parallel over traces (each owned by one thread,
 * its columns visited in increasing order): results do not depend on the
 * thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>
#include <stdio.h>

#include "pstm/pstm_run.h"

typedef struct geom {
    int64_t ntr;
    double *sx, *sy, *gx, *gy; /* owned copies */
    int32_t *shot, *chan;
} geom;

static void geom_free(geom *G)
{
    fsci_free(G->sx);
    fsci_free(G->sy);
    fsci_free(G->gx);
    fsci_free(G->gy);
    fsci_free(G->shot);
    fsci_free(G->chan);
    memset(G, 0, sizeof *G);
}

static int geom_alloc(geom *G, int64_t n)
{
    G->ntr = n;
    G->sx = fsci_malloc((size_t)n, sizeof(double));
    G->sy = fsci_malloc((size_t)n, sizeof(double));
    G->gx = fsci_malloc((size_t)n, sizeof(double));
    G->gy = fsci_malloc((size_t)n, sizeof(double));
    G->shot = fsci_malloc((size_t)n, sizeof(int32_t));
    G->chan = fsci_malloc((size_t)n, sizeof(int32_t));
    FSCI_CHECK(G->sx && G->sy && G->gx && G->gy && G->shot && G->chan, FSCI_ENOMEM,
               "model: out of memory for %lld traces", (long long)n);
    return FSCI_OK;
}

/* The built-in line or the arrays sx, sy, gx, gy. */
static int make_geometry(const fsci_pstm_opts *o, const fsci_inputs *in, geom *G)
{
    const char *names[4] = {"sx", "sy", "gx", "gy"};
    const fsci_view *v[4];
    int given = 0;
    for (int i = 0; i < 4; i++) given += (v[i] = fsci_inputs_get(in, names[i])) != NULL;
    if (given == 0) {
        const int64_t n = o->shots * o->receivers;
        FSCI_CHECK(n <= 100000000, FSCI_ERANGE, "model: %lld shots x %lld receivers is more than 1e8 traces",
                   (long long)o->shots, (long long)o->receivers);
        int e = geom_alloc(G, n);
        if (e) return e;
        for (int64_t s = 0; s < o->shots; s++)
            for (int64_t r = 0; r < o->receivers; r++) {
                const int64_t i = s * o->receivers + r;
                G->sx[i] = o->shot_x0 + (double)s * o->shot_dx;
                G->gx[i] = G->sx[i] + o->near_offset + (double)r * o->receiver_dx;
                G->sy[i] = G->gy[i] = 0;
                G->shot[i] = (int32_t)(s + 1);
                G->chan[i] = (int32_t)(r + 1);
            }
        return FSCI_OK;
    }
    FSCI_CHECK(given == 4, FSCI_EINVAL, "model: give all of sx, sy, gx, gy (or none for the built-in line)");
    const int64_t n = v[0]->ndim == 1 ? v[0]->shape[0] : -1;
    for (int i = 0; i < 4; i++)
        FSCI_CHECK(v[i]->dtype == FSCI_F64 && v[i]->ndim == 1 && v[i]->shape[0] == n &&
                       fsci_view_is_c_contiguous(v[i]),
                   FSCI_EINVAL, "%s: expected contiguous float64 of shape (%lld,)", names[i], (long long)n);
    FSCI_CHECK(n > 0, FSCI_EINVAL, "sx: no traces");
    int r = geom_alloc(G, n);
    if (r) return r;
    double *dst[4] = {G->sx, G->sy, G->gx, G->gy};
    for (int i = 0; i < 4; i++) {
        memcpy(dst[i], v[i]->data, (size_t)n * sizeof(double));
        for (int64_t k = 0; k < n; k++)
            FSCI_CHECK(isfinite(dst[i][k]), FSCI_EINVAL, "%s: value %g of trace %lld is not finite", names[i],
                       dst[i][k], (long long)k);
    }
    for (int64_t k = 0; k < n; k++) {
        G->shot[k] = (int32_t)(k + 1);
        G->chan[k] = 1;
    }
    return FSCI_OK;
}

/* Add a at fractional sample position p of column c (linear split). */
static void spike(float *col, int64_t nt, double p, double a)
{
    const double f = floor(p);
    const int64_t k = (int64_t)f;
    if (k >= 0 && k < nt) col[k] += (float)(a * (1 - (p - f)));
    if (k + 1 >= 0 && k + 1 < nt) col[k + 1] += (float)(a * (p - f));
}

/* The scene's reflectivity convolved with a Ricker wavelet, on the grid. */
static int make_scene(const fsci_pstm_opts *o, const fsci__pstm_grid *g, float *img)
{
    int st = FSCI_OK;
    const int64_t nt = g->nt, ncol = g->nx * g->ny;
    float *r = fsci_calloc((size_t)(ncol * nt), sizeof(float));
    FSCI_CHECK(r, FSCI_ENOMEM, "model: out of memory for the scene");
    const int64_t iyc = g->ny / 2, ixc = g->nx / 2;
    for (int i = 0; i + 1 < o->diffractors.n; i += 2) {
        double ox0, oy0;
        fsci__pstm_grid_pos(g, 0, iyc, &ox0, &oy0);
        /* inline distance of x from the first bin (x measured along the inline axis) */
        const double u = (o->diffractors.v[i] - (ox0 * g->ex[0] + oy0 * g->ex[1])) / g->dx;
        const int64_t ix = (int64_t)lround(u);
        if (ix < 0 || ix >= g->nx) continue;
        spike(r + (iyc * g->nx + ix) * nt, nt, o->diffractors.v[i + 1] / g->dt,
              10); /* a point: 10 x a reflector sample */
    }
    for (int i = 0; i + 1 < o->reflectors.n; i += 2) {
        const double tau0 = o->reflectors.v[i], tn = tan(o->reflectors.v[i + 1] * (M_PI / 180));
        const int64_t k0 = (int64_t)fmin(fmax(tau0 / g->dt, 0), (double)(nt - 1));
        for (int64_t iy = 0; iy < g->ny; iy++)
            for (int64_t ix = 0; ix < g->nx; ix++) {
                const double v = g->vel[(iy * g->nx + ixc) * g->vstride + k0];
                const double tau = tau0 + 2 * (double)(ix - ixc) * g->dx * tn / v;
                spike(r + (iy * g->nx + ix) * nt, nt, tau / g->dt, 1);
            }
    }
    for (int i = 0; i + 2 < o->curved.n; i += 3) {
        const double tau0 = o->curved.v[i], hgt = o->curved.v[i + 1], w = o->curved.v[i + 2];
        for (int64_t iy = 0; iy < g->ny; iy++)
            for (int64_t ix = 0; ix < g->nx; ix++) {
                const double u = (double)(ix - ixc) * g->dx;
                spike(r + (iy * g->nx + ix) * nt, nt, (tau0 - hgt * exp(-0.5 * u * u / (w * w))) / g->dt, 1);
            }
    }
    /* Ricker (1 - 2 (pi f t)^2) exp(-(pi f t)^2), |t| <= 1.5 / f */
    const int64_t hw = (int64_t)ceil(1.5 / (o->ricker * g->dt));
    double *w = fsci_malloc((size_t)(2 * hw + 1), sizeof(double));
    FSCI_CHECK_GOTO(w, FSCI_ENOMEM, "model: out of memory for the wavelet");
    for (int64_t j = -hw; j <= hw; j++) {
        const double a = M_PI * o->ricker * (double)j * g->dt;
        w[j + hw] = (1 - 2 * a * a) * exp(-a * a);
    }
    for (int64_t c = 0; c < ncol; c++) {
        const float *rc = r + c * nt;
        float *oc = img + c * nt;
        for (int64_t k = 0; k < nt; k++) {
            double s = 0;
            for (int64_t j = -hw; j <= hw; j++)
                if (k - j >= 0 && k - j < nt) s += w[j + hw] * (double)rc[k - j];
            oc[k] = (float)s;
        }
    }
    fsci_free(w);
fail:
    fsci_free(r);
    return st;
}

typedef struct mjob {
    const fsci__pstm_kopt *ko;
    const fsci__pstm_prep *prep;
    const fsci__pstm_col *cols;
    const fsci_kdtree *kd;
    const float *img;
    const geom *G;
    int64_t ns, nt;
} mjob;

/* Trace i into out[ns] (qa: scratch of ns doubles, the modelling buffer with or without AA). */
static int model_trace(const mjob *M, int64_t i, double *qa, float *out, double *pairs)
{
    int st = FSCI_OK;
    const geom *G = M->G;
    const double mx = 0.5 * (G->sx[i] + G->gx[i]), my = 0.5 * (G->sy[i] + G->gy[i]);
    int64_t *idx = NULL, n = 0;
    FSCI_TRY(fsci_kdtree_radius(M->kd, mx, my, M->ko->aperture * (1 + 1e-9) + 1e-6, &idx, NULL, &n));
    if (n > 1) qsort(idx, (size_t)n, sizeof *idx, fsci__pstm_cmp_i64); /* a fixed summation order */
    memset(qa, 0, (size_t)M->ns * sizeof(double));
    int64_t hint[3] = {-1, -1, -1}; /* neighbouring columns: neighbouring bounds */
    for (int64_t j = 0; j < n; j++)
        *pairs += (double)fsci__pstm_pair_mod_hint(M->ko, M->prep, &M->cols[idx[j]], G->sx[i], G->sy[i],
                                                   G->gx[i], G->gy[i], M->img + idx[j] * M->nt, qa, hint);
    FSCI_TRY(fsci__pstm_prepare_adj(M->prep, qa, out));
fail:
    fsci_free(idx);
    return st;
}

static int write_output(const fsci_pstm_opts *o, const fsci_ctx *ctx, fsci_sink *sink, const geom *G,
                        float *data, int64_t ns, double dt)
{
    int st = FSCI_OK;
    fsci__segy_writer *w = NULL;
    if (ctx->output && fsci__pstm_is_segy_path(ctx->output)) {
        char text[3200];
        snprintf(text, sizeof text,
                 "fastsci pstm model: synthetic prestack data, the exact adjoint of fastsci's Kirchhoff time "
                 "migration (doc/pstm.md). %lld traces of %lld samples at %g s. Ricker %g Hz. Aperture %g m, "
                 "angle %g deg, anti-aliasing %s.",
                 (long long)G->ntr, (long long)ns, dt, o->ricker, o->aperture, o->angle,
                 o->aa ? "on" : "off");
        FSCI_TRY(fsci__segy_create(ctx->output, G->ntr, ns, dt, text, &w));
        for (int64_t i = 0; i < G->ntr; i++) {
            fsci__segy_trace_hdr h = {.sx = G->sx[i],
                                      .sy = G->sy[i],
                                      .gx = G->gx[i],
                                      .gy = G->gy[i],
                                      .cdpx = 0.5 * (G->sx[i] + G->gx[i]),
                                      .cdpy = 0.5 * (G->sy[i] + G->gy[i]),
                                      .offset =
                                          (int32_t)lround(hypot(G->gx[i] - G->sx[i], G->gy[i] - G->sy[i])),
                                      .cdp = 0,
                                      .fldr = G->shot[i],
                                      .tracf = G->chan[i]};
            FSCI_TRY(fsci__segy_put(w, &h, data + i * ns));
        }
        FSCI_TRY(fsci__segy_commit(&w));
    } else if (sink) {
        fsci_view v;
        FSCI_TRY(fsci_view_init(&v, data, FSCI_F32, 2, (int64_t[2]){G->ntr, ns}, false));
        FSCI_TRY(fsci_sink_add(sink, "traces", &v));
        const char *names[4] = {"sx", "sy", "gx", "gy"};
        double *arr[4] = {G->sx, G->sy, G->gx, G->gy};
        for (int k = 0; k < 4; k++) {
            FSCI_TRY(fsci_view_init(&v, arr[k], FSCI_F64, 1, (int64_t[1]){G->ntr}, false));
            FSCI_TRY(fsci_sink_add(sink, names[k], &v));
        }
    }
fail:
    fsci__segy_abort(&w);
    return st;
}

int fsci__pstm_model_run(const void *opts, const fsci_inputs *in, const fsci_ctx *ctx, fsci_sink *sink)
{
    const fsci_pstm_opts *o = opts;
    int st = FSCI_OK;
    geom G = {0};
    fsci__pstm_grid g = {0};
    fsci__pstm_col *cols = NULL;
    fsci__pstm_prep *prep = NULL;
    fsci_kdtree *kd = NULL;
    float *img = NULL, *data = NULL;
    double *scratch = NULL;
    double *mx = NULL, *my = NULL, *cx = NULL, *cy = NULL;
    int64_t ncol = 0;
    const double t0 = fsci_clock();
    if (fsci_mpi_rank() > 0) return FSCI_OK; /* under mpirun, rank 0 models and writes */
    FSCI_CHECK(o->vrms[0] || o->velocity[0], FSCI_EINVAL,
               "model: give the velocity: --vrms t:v,... or --velocity V.npy");
    FSCI_TRY(make_geometry(o, in, &G));
    fsci__pstm_input pin = {.ntr = G.ntr, .sx = G.sx, .sy = G.sy, .gx = G.gx, .gy = G.gy};
    const int dim = fsci__pstm_dim(o, &pin);
    mx = fsci_malloc((size_t)G.ntr, sizeof *mx);
    my = fsci_malloc((size_t)G.ntr, sizeof *my);
    FSCI_CHECK_GOTO(mx && my, FSCI_ENOMEM, "model: out of memory");
    for (int64_t i = 0; i < G.ntr; i++) {
        mx[i] = 0.5 * (G.sx[i] + G.gx[i]);
        my[i] = 0.5 * (G.sy[i] + G.gy[i]);
    }
    FSCI_TRY(fsci__pstm_grid_init(o, mx, my, G.ntr, dim, &g));
    ncol = g.nx * g.ny;
    img = fsci_malloc((size_t)(ncol * g.nt), sizeof(float));
    FSCI_CHECK_GOTO(img, FSCI_ENOMEM, "model: out of memory for the %lld x %lld x %lld image",
                    (long long)g.ny, (long long)g.nx, (long long)g.nt);
    const fsci_view *iv = fsci_inputs_get(in, "image");
    if (iv) {
        FSCI_CHECK_GOTO(iv->dtype == FSCI_F32 && iv->ndim == 3 && fsci_view_is_c_contiguous(iv) &&
                            iv->shape[0] == g.ny && iv->shape[1] == g.nx && iv->shape[2] == g.nt,
                        FSCI_EINVAL, "image: expected contiguous float32 (ny %lld, nx %lld, nt %lld)",
                        (long long)g.ny, (long long)g.nx, (long long)g.nt);
        memcpy(img, iv->data, (size_t)(ncol * g.nt) * sizeof(float));
    } else {
        FSCI_TRY(make_scene(o, &g, img));
    }
    const fsci__pstm_kopt ko = {.dim = dim,
                                .aa = o->aa,
                                .aa_factor = o->aa_factor,
                                .aa_dx = dim == 3 ? 0.5 * (g.dx + g.dy) : g.dx,
                                .aperture = o->aperture,
                                .angle_deg = o->angle,
                                .taper = o->taper,
                                .weights = o->weights};
    FSCI_TRY(fsci__pstm_prep_create(&ko, o->ns, o->in_dt, o->in_t0, &prep));
    cols = fsci_calloc((size_t)ncol, sizeof *cols);
    cx = fsci_malloc((size_t)ncol, sizeof *cx);
    cy = fsci_malloc((size_t)ncol, sizeof *cy);
    FSCI_CHECK_GOTO(cols && cx && cy, FSCI_ENOMEM, "model: out of memory for %lld columns", (long long)ncol);
    for (int64_t c = 0; c < ncol; c++) {
        fsci__pstm_grid_pos(&g, c % g.nx, c / g.nx, &cx[c], &cy[c]);
        FSCI_TRY(fsci__pstm_col_init(&cols[c], &ko, cx[c], cy[c], g.vel + c * g.vstride, g.nt, g.dt));
    }
    FSCI_TRY(fsci_kdtree_create(cx, cy, ncol, &kd));
    const int nth = fsci_parallel_resolve(ctx->threads);
    data = fsci_malloc((size_t)(G.ntr * o->ns), sizeof(float));
    scratch = fsci_malloc((size_t)(nth * o->ns), sizeof(double));
    FSCI_CHECK_GOTO(data && scratch, FSCI_ENOMEM, "model: out of memory for %lld traces of %lld samples",
                    (long long)G.ntr, (long long)o->ns);
    const mjob M = {
        .ko = &ko, .prep = prep, .cols = cols, .kd = kd, .img = img, .G = &G, .ns = o->ns, .nt = g.nt};
    double pairs = 0;
    int bad = FSCI_OK;
#pragma omp parallel for num_threads(nth) schedule(dynamic, 16) reduction(+ : pairs) reduction(min : bad)
    for (int64_t i = 0; i < G.ntr; i++) {
        double p = 0;
        int r = model_trace(&M, i, scratch + (int64_t)omp_get_thread_num() * o->ns, data + i * o->ns, &p);
        pairs += p;
        if (r < bad) bad = r;
    }
    FSCI_TRY(bad);
    const double secs = fsci_clock() - t0;
    FSCI_TRY(write_output(o, ctx, sink, &G, data, o->ns, o->in_dt));
    fsci_ctx_printf(
        ctx,
        "modelled %lld traces of %lld samples (%d-D) from a %lld x %lld x %lld image: %.3g pairs in %.2f s\n",
        (long long)G.ntr, (long long)o->ns, dim, (long long)g.ny, (long long)g.nx, (long long)g.nt, pairs,
        secs);
    if (sink) {
        char json[512];
        snprintf(json, sizeof json,
                 "{\"ntraces\": %lld, \"ns\": %lld, \"dt\": %.17g, \"pairs\": %.17g, \"seconds\": %.9g, "
                 "\"dim\": %d, "
                 "\"nx\": %lld, \"ny\": %lld, \"nt\": %lld, \"x0\": %.17g, \"y0\": %.17g}",
                 (long long)G.ntr, (long long)o->ns, o->in_dt, pairs, secs, dim, (long long)g.nx,
                 (long long)g.ny, (long long)g.nt, g.x0, g.y0);
        FSCI_TRY(fsci_sink_set_summary(sink, json));
    }
fail:
    for (int64_t c = 0; cols && c < ncol; c++) fsci__pstm_col_free(&cols[c]);
    fsci_free(cols);
    fsci_kdtree_destroy(&kd);
    fsci__pstm_prep_destroy(&prep);
    fsci_free(img);
    fsci_free(data);
    fsci_free(scratch);
    fsci_free(mx);
    fsci_free(my);
    fsci_free(cx);
    fsci_free(cy);
    fsci__pstm_grid_free(&g);
    geom_free(&G);
    return st;
}
