/* The pstm engine's registration: info, migrate and model, and where their
 * outputs go (a SEG-Y file the run writes itself, or arrays through the sink). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "fastsci/fastsci.h"
#include "pstm/pstm_run.h"

static const char *const segy_formats[] = {".sgy", ".segy", NULL};

bool fsci__pstm_is_segy_path(const char *path)
{
    const size_t n = path ? strlen(path) : 0;
    for (const char *const *f = segy_formats; *f; f++) {
        const size_t m = strlen(*f);
        if (n > m && strcasecmp(path + n - m, *f) == 0) return true;
    }
    return false;
}

static int check_migrate(const void *opts, const fsci_ctx *ctx)
{
    (void)ctx;
    return fsci__pstm_check_opts(opts, true);
}

static int check_model(const void *opts, const fsci_ctx *ctx)
{
    (void)ctx;
    return fsci__pstm_check_opts(opts, false);
}

/* ---- info ---------------------------------------------------------------- */

static int info_run(const void *opts, const fsci_inputs *in, const fsci_ctx *ctx, fsci_sink *sink)
{
    (void)in;
    (void)sink;
    const fsci_pstm_opts *o = opts;
    int st = FSCI_OK;
    fsci__segy *f = NULL;
    FSCI_CHECK(o->input[0], FSCI_EINVAL, "info: name a SEG-Y file");
    FSCI_TRY(fsci__segy_open(o->input, &f));
    const fsci__segy_geom *g = fsci__segy_geometry(f);
    double hmin = INFINITY, hmax = -INFINITY, mx0 = INFINITY, mx1 = -INFINITY, my0 = INFINITY,
           my1 = -INFINITY;
    int64_t shots = 0;
    for (int64_t i = 0; i < g->ntr; i++) {
        const double h = hypot(g->gx[i] - g->sx[i], g->gy[i] - g->sy[i]);
        hmin = fmin(hmin, h);
        hmax = fmax(hmax, h);
        const double mx = 0.5 * (g->sx[i] + g->gx[i]), my = 0.5 * (g->sy[i] + g->gy[i]);
        mx0 = fmin(mx0, mx);
        mx1 = fmax(mx1, mx);
        my0 = fmin(my0, my);
        my1 = fmax(my1, my);
        /* a shot: a source position different from the previous trace's */
        shots += i == 0 || g->sx[i] != g->sx[i - 1] || g->sy[i] != g->sy[i - 1];
    }
    fsci_ctx_printf(
        ctx, "%s: %lld traces of %lld samples at %g ms (%.3f s, first at %g ms), SEG-Y format %d (%s, %s)\n",
        o->input, (long long)g->ntr, (long long)g->ns, g->dt * 1e3, (double)(g->ns - 1) * g->dt, g->t0 * 1e3,
        g->format,
        g->format == 1   ? "IBM float"
        : g->format == 5 ? "IEEE float"
                         : "integer",
        g->lsb ? "little-endian" : "big-endian");
    if (g->ntr > 0) {
        fsci_ctx_printf(ctx, "shots (source position changes): %lld; offsets %.1f .. %.1f m\n",
                        (long long)shots, hmin, hmax);
        fsci_ctx_printf(ctx, "midpoints: x %.1f .. %.1f m, y %.1f .. %.1f m (%s)\n", mx0, mx1, my0, my1,
                        my1 - my0 <= 1e-6 * fmax(1, mx1 - mx0) || mx1 - mx0 <= 1e-6 * fmax(1, my1 - my0)
                            ? "a 2-D line"
                            : "3-D");
    }
    if (sink) { /* Python: the figures */
        char json[768];
        snprintf(json, sizeof json,
                 "{\"ntraces\": %lld, \"ns\": %lld, \"dt\": %.17g, \"t0\": %.17g, \"format\": %d, "
                 "\"little_endian\": %s, \"shots\": %lld, \"offset_min\": %.17g, \"offset_max\": %.17g, "
                 "\"midpoint_x_min\": %.17g, \"midpoint_x_max\": %.17g, \"midpoint_y_min\": %.17g, "
                 "\"midpoint_y_max\": %.17g}",
                 (long long)g->ntr, (long long)g->ns, g->dt, g->t0, g->format, g->lsb ? "true" : "false",
                 (long long)shots, hmin, hmax, mx0, mx1, my0, my1);
        FSCI_TRY(fsci_sink_set_summary(sink, json));
    }
fail:
    fsci__segy_close(&f);
    return st;
}

/* ---- migrate ------------------------------------------------------------- */

typedef struct out_ctx {
    const fsci_pstm_opts *o;
    const fsci__pstm_grid *g;
    int noff;
    fsci__segy_writer *w; /* SEG-Y output, or */
    fsci_sink *sink;      /* the image member streamed through the sink */
} out_ctx;

static int emit_slab(void *user, int64_t c0, int64_t c1, const float *img)
{
    out_ctx *u = user;
    const fsci__pstm_grid *g = u->g;
    const int64_t nt = g->nt;
    if (u->sink) return fsci_sink_write(u->sink, img, (size_t)((c1 - c0) * u->noff * nt) * sizeof(float));
    if (!u->w) return FSCI_OK;
    for (int64_t c = c0; c < c1; c++) {
        const int64_t ix = c % g->nx, iy = c / g->nx;
        double ox, oy;
        fsci__pstm_grid_pos(g, ix, iy, &ox, &oy);
        for (int k = 0; k < u->noff; k++) {
            const fsci_param_list *oc = &u->o->offset_classes;
            const double off = oc->n ? oc->v[0] + (k + 0.5) * oc->v[1] : 0;
            fsci__segy_trace_hdr h = {.sx = ox,
                                      .sy = oy,
                                      .gx = ox,
                                      .gy = oy,
                                      .cdpx = ox,
                                      .cdpy = oy,
                                      .offset = (int32_t)lround(off),
                                      .cdp = (int32_t)(c + 1),
                                      .inline_no = (int32_t)(iy + 1),
                                      .crossline_no = (int32_t)(ix + 1),
                                      .fldr = (int32_t)(c + 1),
                                      .tracf = k + 1};
            int st = fsci__segy_put(u->w, &h, img + ((c - c0) * u->noff + k) * nt);
            if (st) return st;
        }
    }
    return FSCI_OK;
}

static int migrate_summary(const fsci_pstm_opts *o, const fsci__pstm_grid *g, int noff,
                           const fsci_pstm_stats *s, const fsci_ctx *ctx, fsci_sink *sink)
{
    const double pps = s->seconds > 0 ? s->pairs / s->seconds : 0;
    char rate[32];
    fsci_format_si(pps, rate, sizeof rate);
    fsci_ctx_printf(
        ctx,
        "migrated %lld traces (%lld outside the offset classes) into %lld x %lld bins x %lld samples%s "
        "(%d-D): %.3g pairs in %.2f s = %s pairs/s, %.0f traces/s, %.2f GFLOP/s\n",
        (long long)s->traces, (long long)s->skipped, (long long)g->nx, (long long)g->ny, (long long)g->nt,
        noff > 1 ? " per offset class" : "", s->dim, s->pairs, s->seconds, rate,
        s->seconds > 0 ? (double)s->traces / s->seconds : 0,
        s->seconds > 0 ? s->flops / s->seconds * 1e-9 : 0);
    if (!sink) return FSCI_OK;
    char json[1024];
    snprintf(json, sizeof json,
             "{\"ntraces\": %lld, \"skipped\": %lld, \"columns\": %lld, \"pairs\": %.17g, \"seconds\": %.9g, "
             "\"pairs_per_s\": %.9g, \"traces_per_s\": %.9g, \"gflops\": %.6g, \"dim\": %d, \"nx\": %lld, "
             "\"ny\": %lld, \"nt\": %lld, \"dt\": %.17g, \"x0\": %.17g, \"y0\": %.17g, \"dx\": %.17g, "
             "\"dy\": %.17g, "
             "\"azimuth\": %.17g, \"offset_classes\": %d, \"aa\": %s}",
             (long long)s->traces, (long long)s->skipped, (long long)s->columns, s->pairs, s->seconds, pps,
             s->seconds > 0 ? (double)s->traces / s->seconds : 0,
             s->seconds > 0 ? s->flops / s->seconds * 1e-9 : 0, s->dim, (long long)g->nx, (long long)g->ny,
             (long long)g->nt, g->dt, g->x0, g->y0, g->dx, g->dy, o->azimuth, noff, o->aa ? "true" : "false");
    return fsci_sink_set_summary(sink, json);
}

static int migrate_run(const void *opts, const fsci_inputs *in, const fsci_ctx *ctx, fsci_sink *sink)
{
    const fsci_pstm_opts *o = opts;
    int st = FSCI_OK;
    fsci__pstm_input src = {0};
    fsci__pstm_grid g = {0};
    double *mx = NULL, *my = NULL;
    out_ctx out = {.o = o, .g = &g};
    fsci_pstm_stats stats = {0};
    FSCI_TRY(fsci__pstm_input_open(o, in, &src));
    const int dim = fsci__pstm_dim(o, &src);
    mx = fsci_malloc((size_t)src.ntr, sizeof *mx);
    my = fsci_malloc((size_t)src.ntr, sizeof *my);
    FSCI_CHECK_GOTO(mx && my, FSCI_ENOMEM, "migrate: out of memory for %lld midpoints", (long long)src.ntr);
    for (int64_t i = 0; i < src.ntr; i++) {
        mx[i] = 0.5 * (src.sx[i] + src.gx[i]);
        my[i] = 0.5 * (src.sy[i] + src.gy[i]);
    }
    FSCI_TRY(fsci__pstm_grid_init(o, mx, my, src.ntr, dim, &g));
    out.noff = o->offset_classes.n ? (int)o->offset_classes.v[2] : 1;
    if (fsci_mpi_rank() == 0 && ctx->output && fsci__pstm_is_segy_path(ctx->output)) {
        char text[3200];
        snprintf(
            text, sizeof text,
            "fastsci pstm migrate: prestack Kirchhoff time migration. Input %s. Grid %lld x %lld bins, dx %g "
            "dy %g m, azimuth %g deg, %lld samples at %g s. Aperture %g m, angle %g deg, taper %g, "
            "anti-aliasing %s, weights %s, %d offset class(es). Traces: one per bin and class, "
            "inline 189, crossline 193, CDP 21, CDP_X/Y 181/185.",
            o->input[0] ? o->input : "(arrays)", (long long)g.nx, (long long)g.ny, g.dx, g.dy, o->azimuth,
            (long long)g.nt, g.dt, o->aperture, o->angle, o->taper, o->aa ? "on" : "off",
            o->weights ? "on" : "off", out.noff);
        FSCI_TRY(fsci__segy_create(ctx->output, g.nx * g.ny * out.noff, g.nt, g.dt, text, &out.w));
    } else if (sink && fsci_mpi_rank() == 0) {
        FSCI_TRY(fsci_sink_begin(sink, "image", FSCI_F32, 4, (int64_t[4]){g.ny, g.nx, out.noff, g.nt}));
        out.sink = sink;
    }
    FSCI_TRY(fsci__pstm_migrate(o, &src, ctx, &g, out.noff, emit_slab, &out, &stats));
    if (out.sink) FSCI_TRY(fsci_sink_end(sink));
    if (out.w) FSCI_TRY(fsci__segy_commit(&out.w));
    FSCI_TRY(migrate_summary(o, &g, out.noff, &stats, ctx, sink));
fail:
    fsci__segy_abort(&out.w);
    fsci_free(mx);
    fsci_free(my);
    fsci__pstm_grid_free(&g);
    fsci__pstm_input_close(&src);
    return st;
}

static const char *const migrate_inputs[] = {"traces", "sx", "sy", "gx", "gy", NULL};
static const char *const model_inputs[] = {"image", "sx", "sy", "gx", "gy", NULL};

static const fsci_command commands[] = {
    {.name = "info",
     .summary = "the geometry of a SEG-Y file: traces, samples, shots, offsets, extent",
     .usage = "FILE.sgy",
     .details = "Reads the binary header and every trace header (not the samples).\n",
     .params = fsci_pstm_params,
     .nparams = FSCI_PSTM_NPARAMS,
     .opts_size = sizeof(fsci_pstm_opts),
     .output = FSCI_OUTPUT_NONE,
     .positional = "input",
     .run = info_run},
    {.name = "migrate",
     .summary = "prestack Kirchhoff time migration of a SEG-Y file (or arrays) into an image",
     .usage = "IN.sgy --vrms T:V,... | --velocity V.npy [options] -o IMAGE.sgy|IMAGE.npz",
     .details =
         "Writes one output trace per bin (and offset class) to IMAGE.sgy as tiles finish (IEEE, inline\n"
         "189, crossline 193, CDP_X/Y 181/185), or image (ny, nx, classes, nt) float32 to an .npz.\n"
         "The operator, weights and anti-aliasing: doc/pstm.md. Under mpirun the bins are shared\n"
         "among the ranks and rank 0 writes.\n",
     .params = fsci_pstm_params,
     .nparams = FSCI_PSTM_NPARAMS,
     .opts_size = sizeof(fsci_pstm_opts),
     .inputs = migrate_inputs,
     .output = FSCI_OUTPUT_NPZ,
     .own_formats = segy_formats,
     .positional = "input",
     .check = check_migrate,
     .run = migrate_run},
    {.name = "model",
     .summary = "synthetic prestack data: the exact adjoint of migration applied to a scene",
     .usage = "[--diffractors X,TAU,...] [--reflectors TAU,DIP,...] [options] -o DATA.sgy|DATA.npz",
     .details = "A 2-D line (--shots, --receivers, spacings, --near-offset) or the geometry arrays sx, sy,\n"
                "gx, gy; the scene (point diffractors, planar reflectors, a Ricker wavelet of --ricker Hz)\n"
                "on the output grid, or an image array (ny, nx, nt). Writes the traces with their headers.\n",
     .params = fsci_pstm_params,
     .nparams = FSCI_PSTM_NPARAMS,
     .opts_size = sizeof(fsci_pstm_opts),
     .inputs = model_inputs,
     .output = FSCI_OUTPUT_NPZ,
     .output_required = false,
     .own_formats = segy_formats,
     .check = check_model,
     .run = fsci__pstm_model_run},
};

const fsci_engine fsci_engine_pstm = {
    .name = "pstm",
    .title = "Prestack Kirchhoff time migration",
    .summary = "prestack Kirchhoff time migration of SEG-Y data, its exact adjoint (modelling), MPI",
    .commands = commands,
    .ncommands = sizeof commands / sizeof commands[0],
    .demo = fsci__pstm_demo,
};
