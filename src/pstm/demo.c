/* The pstm section of the demo report: a synthetic 2-D line with point
 * diffractors and dipping reflectors (modelled with the adjoint operator), a
 * shot gather, the NMO stack of the input, the migrated image with
 * anti-aliasing off and on, and an impulse response. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pstm/pstm_run.h"

typedef struct arrays {
    fsci_array *a[5]; /* traces, sx, sy, gx, gy  or  image */
} arrays;

static void arrays_free(arrays *A)
{
    for (int i = 0; i < 5; i++) fsci_array_destroy(&A->a[i]);
}

/* Run engine command `name` with opts and inputs into memory; take the
 * members named in want (up to 5). */
static int run_mem(const char *name, const fsci_pstm_opts *o, const fsci_inputs *in, const fsci_ctx *ctx,
                   const char *const *want, int nwant, arrays *out)
{
    int st = FSCI_OK;
    fsci_sink *s = NULL;
    const fsci_engine *e = fsci_engine_find("pstm");
    const fsci_command *c = fsci_engine_command(e, name);
    FSCI_CHECK(c, FSCI_EINTERNAL, "pstm demo: no command %s", name);
    FSCI_TRY(fsci_sink_memory_create(&s));
    fsci_ctx q = *ctx;
    q.out = NULL;
    q.output = NULL;
    FSCI_TRY(fsci_command_run(c, o, in, &q, s));
    FSCI_TRY(fsci_sink_close(s));
    for (int64_t i = 0; i < fsci_sink_memory_count(s); i++) {
        const char *nm;
        fsci_array *a = NULL;
        char *text = NULL;
        FSCI_TRY(fsci_sink_memory_take(s, i, &nm, &a, &text));
        fsci_free(text);
        bool kept = false;
        for (int k = 0; k < nwant && !kept; k++)
            if (a && strcmp(nm, want[k]) == 0) {
                out->a[k] = a;
                kept = true;
            }
        if (!kept) fsci_array_destroy(&a);
    }
fail:
    fsci_sink_destroy(&s);
    return st;
}

/* A seismic section (rows = time samples) as a figure, grey, symmetric. */
static int section(fsci_report *r, const char *file, const char *title, const char *xlabel, const float *d,
                   int64_t ncol, int64_t nt, int64_t col_stride, double x0, double x1, double tmax)
{
    int st = FSCI_OK;
    float *t = fsci_malloc((size_t)(ncol * nt), sizeof(float));
    FSCI_CHECK(t, FSCI_ENOMEM, "pstm demo: out of memory");
    double m = 0;
    for (int64_t c = 0; c < ncol; c++)
        for (int64_t k = 0; k < nt; k++) {
            t[k * ncol + c] = d[c * col_stride + k];
            m = fmax(m, fabs((double)d[c * col_stride + k]));
        }
    const double clip = m > 0 ? 0.6 * m : 1;
    fsci_view v;
    FSCI_TRY(fsci_view_init(&v, t, FSCI_F32, 2, (int64_t[2]){nt, ncol}, false));
    char path[4200];
    fsci_report_path(r, file, path, sizeof path);
    fsci_plot_image_opts po = {
        .title = title,
        .xlabel = xlabel,
        .ylabel = "time (s)",
        .x0 = x0,
        .x1 = x1,
        .y0 = 0,
        .y1 = tmax,
        .width = 900,
        .height = 520,
        .map = {.cmap = FSCI_CMAP_GRAY, .fixed_range = 1, .vmin = -clip, .vmax = clip}};
    FSCI_TRY(fsci_plot_image(path, &v, &po));
fail:
    fsci_free(t);
    return st;
}

/* NMO stack with the table velocity into bins of dx from x0. */
static int nmo_stack(const fsci_pstm_opts *o, const float *tr, const double *sx, const double *gx,
                     int64_t ntr, int64_t ns, double x0, int64_t nx, float *out)
{
    double *acc = fsci_calloc((size_t)(nx * ns), sizeof(double));
    double *fold = fsci_calloc((size_t)nx, sizeof(double));
    if (!acc || !fold) {
        fsci_free(acc);
        fsci_free(fold);
        return FSCI_ENOMEM;
    }
    for (int64_t i = 0; i < ntr; i++) {
        const int64_t b = (int64_t)lround((0.5 * (sx[i] + gx[i]) - x0) / o->dx);
        if (b < 0 || b >= nx) continue;
        const double h = fabs(gx[i] - sx[i]);
        fold[b] += 1;
        for (int64_t k = 0; k < ns; k++) {
            const double t0 = (double)k * o->in_dt, v = 1500 + 500 * t0; /* the demo's V_rms */
            const double u = sqrt(t0 * t0 + h * h / (v * v)) / o->in_dt;
            const int64_t j = (int64_t)u;
            if (j + 1 >= ns) break;
            const double f = u - (double)j;
            acc[b * ns + k] += (1 - f) * (double)tr[i * ns + j] + f * (double)tr[i * ns + j + 1];
        }
    }
    for (int64_t b = 0; b < nx; b++)
        for (int64_t k = 0; k < ns; k++)
            out[b * ns + k] = fold[b] > 0 ? (float)(acc[b * ns + k] / fold[b]) : 0;
    fsci_free(acc);
    fsci_free(fold);
    return FSCI_OK;
}

int fsci__pstm_demo(fsci_report *r, const fsci_ctx *ctx, bool quick)
{
    int st = FSCI_OK;
    arrays data = {0}, im0 = {0}, im1 = {0}, imp = {0};
    float *stack = NULL, *spike = NULL;
    fsci_pstm_opts o = {0};
    FSCI_TRY(fsci_params_defaults(fsci_pstm_params, FSCI_PSTM_NPARAMS, &o));
    snprintf(o.vrms, sizeof o.vrms, "0:1500,4:3500");
    o.shots = quick ? 24 : 60;
    o.receivers = quick ? 48 : 96;
    o.shot_dx = 50;
    o.receiver_dx = 25;
    o.near_offset = 100;
    o.ns = quick ? 400 : 600;
    o.nt = o.ns;
    o.in_dt = o.dt = 0.004;
    o.dx = 12.5;
    o.aperture = 2000;
    const double xmid =
        0.5 * ((double)(o.shots - 1) * o.shot_dx + o.near_offset + (double)(o.receivers - 1) * 25 * 0.5);
    o.diffractors = (fsci_param_list){.n = 6, .v = {xmid - 300, 0.6, xmid, 0.9, xmid + 300, 1.2}};
    o.reflectors = (fsci_param_list){.n = 4, .v = {0.5, 0, 1.0, 25}};
    o.curved = (fsci_param_list){.n = 3, .v = {quick ? 1.45 : 1.9, 0.3, 400}};
    const char *dn[5] = {"traces", "sx", "sy", "gx", "gy"};
    FSCI_TRY(run_mem("model", &o, NULL, ctx, dn, 5, &data));
    const int64_t ntr = data.a[0]->view.shape[0], ns = data.a[0]->view.shape[1];
    fsci_input iv[5];
    for (int k = 0; k < 5; k++) iv[k] = (fsci_input){.name = dn[k], .view = data.a[k]->view};
    const fsci_inputs in = {.v = iv, .n = 5};
    fsci_pstm_opts m = o;
    m.diffractors.n = m.reflectors.n = m.curved.n = 0;
    const char *imn[1] = {"image"};
    double t0 = fsci_clock();
    FSCI_TRY(run_mem("migrate", &m, &in, ctx, imn, 1, &im0));
    const double s_off = fsci_clock() - t0;
    m.aa = true;
    t0 = fsci_clock();
    FSCI_TRY(run_mem("migrate", &m, &in, ctx, imn, 1, &im1));
    const double s_on = fsci_clock() - t0;
    const int64_t nx = im0.a[0]->view.shape[1];
    const double *sx = data.a[1]->view.data, *gx = data.a[3]->view.data;
    double mmin = INFINITY;
    for (int64_t i = 0; i < ntr; i++) mmin = fmin(mmin, 0.5 * (sx[i] + gx[i]));
    const double tmax = (double)(ns - 1) * o.in_dt, xe = mmin + (double)nx * o.dx;

    fsci_report_section(
        r, "pstm", "Prestack Kirchhoff time migration",
        "A synthetic 2-D line: three point diffractors and two reflectors (flat at 0.5 s, dipping 25 "
        "degrees through 1.0 s) with a 25 Hz Ricker wavelet, V_rms(t) = 1500 + 500 t m/s, modelled "
        "with the exact adjoint of the migration operator (doc/pstm.md), then migrated.");
    const float *tr = data.a[0]->view.data;
    const int64_t shot = o.shots / 2;
    FSCI_TRY(section(r, "pstm_shot.png", "shot gather (middle shot)", "receiver offset (m)",
                     tr + shot * o.receivers * ns, o.receivers, ns, ns, o.near_offset,
                     o.near_offset + (double)o.receivers * o.receiver_dx, tmax));
    fsci_report_figure(r, "pstm_shot.png",
                       "One shot gather: diffraction hyperbolas and reflections with moveout.");
    stack = fsci_malloc((size_t)(nx * ns), sizeof(float));
    FSCI_CHECK_GOTO(stack, FSCI_ENOMEM, "pstm demo: out of memory");
    FSCI_TRY(nmo_stack(&o, tr, sx, gx, ntr, ns, mmin, nx, stack));
    FSCI_TRY(section(r, "pstm_stack.png", "input: NMO stack (unmigrated)", "midpoint x (m)", stack, nx, ns,
                     ns, mmin, xe, tmax));
    fsci_report_figure(
        r, "pstm_stack.png",
        "The input stacked after NMO with the true velocity: diffractions remain hyperbolas and the "
        "dipping reflector is mispositioned, as before any migration.");
    const float *i0 = im0.a[0]->view.data, *i1 = im1.a[0]->view.data;
    FSCI_TRY(section(r, "pstm_image_aa_off.png", "migrated image, anti-aliasing off", "x (m)", i0, nx, o.nt,
                     o.nt, mmin, xe, tmax));
    char cap[512];
    snprintf(
        cap, sizeof cap,
        "Prestack time migration, anti-aliasing off (%.2f s): diffractions collapse to points at their true "
        "positions (x = %.0f, %.0f, %.0f m; 0.6, 0.9, 1.2 s) and the dipping reflector is restored.",
        s_off, xmid - 300, xmid, xmid + 300);
    fsci_report_figure(r, "pstm_image_aa_off.png", cap);
    FSCI_TRY(section(r, "pstm_image_aa_on.png", "migrated image, anti-aliasing on", "x (m)", i1, nx, o.nt,
                     o.nt, mmin, xe, tmax));
    snprintf(cap, sizeof cap,
             "The same with Lumley-Claerbout-Bevc triangle anti-aliasing (%.2f s): steep operator flanks are "
             "low-passed, so the aliased noise of the coarse shot spacing is weaker.",
             s_on);
    fsci_report_figure(r, "pstm_image_aa_on.png", cap);

    /* impulse response: one trace, one spike at 1.0 s, offset 600 m */
    spike = fsci_calloc((size_t)ns, sizeof(float));
    FSCI_CHECK_GOTO(spike, FSCI_ENOMEM, "pstm demo: out of memory");
    spike[(int64_t)lround(1.0 / o.in_dt)] = 1;
    double isx = xmid - 300, igx = xmid + 300, zero = 0;
    fsci_input ii[5] = {{.name = "traces"}, {.name = "sx"}, {.name = "sy"}, {.name = "gx"}, {.name = "gy"}};
    FSCI_TRY(fsci_view_init(&ii[0].view, spike, FSCI_F32, 2, (int64_t[2]){1, ns}, false));
    FSCI_TRY(fsci_view_init(&ii[1].view, &isx, FSCI_F64, 1, (int64_t[1]){1}, false));
    FSCI_TRY(fsci_view_init(&ii[2].view, &zero, FSCI_F64, 1, (int64_t[1]){1}, false));
    FSCI_TRY(fsci_view_init(&ii[3].view, &igx, FSCI_F64, 1, (int64_t[1]){1}, false));
    FSCI_TRY(fsci_view_init(&ii[4].view, &zero, FSCI_F64, 1, (int64_t[1]){1}, false));
    const fsci_inputs iin = {.v = ii, .n = 5};
    fsci_pstm_opts p = m;
    p.aa = false;
    p.nx = nx;
    p.x0 = mmin;
    p.y0 = 0;
    snprintf(p.vrms, sizeof p.vrms, "0:2000");
    p.angle = 89;
    FSCI_TRY(run_mem("migrate", &p, &iin, ctx, imn, 1, &imp));
    FSCI_TRY(section(r, "pstm_impulse.png", "impulse response (V = 2000 m/s, offset 600 m, t = 1 s)", "x (m)",
                     imp.a[0]->view.data, nx, o.nt, o.nt, mmin, xe, tmax));
    fsci_report_figure(
        r, "pstm_impulse.png",
        "A single spike migrates onto the double-square-root ellipse (the spike's isochron): apex "
        "below the midpoint at tau = sqrt(t^2 - (2h/V)^2) = 0.954 s for h = 300 m, nothing after "
        "tau = t.");
fail:
    arrays_free(&data);
    arrays_free(&im0);
    arrays_free(&im1);
    arrays_free(&imp);
    fsci_free(stack);
    fsci_free(spike);
    return st;
}
