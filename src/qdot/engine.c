/* The qdot engine's registration: simulate (a stability diagram or the signal
 * at given voltages). */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <omp.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fastsci/core/json.h"
#include "fastsci/core/npy.h"
#include "fastsci/core/plot.h"
#include "qdot/agent_cmd.h"
#include "qdot/qdot_impl.h"
#include "qdot/sim.h"

static const char *const sim_formats[] = {".png", ".npy", NULL};
static const char *const sim_inputs[] = {"v1", "v2", NULL};
static const char *const tune_formats[] = {".png", NULL};
static const char *const cls_formats[] = {".fsqc", NULL};
static const char *const cls_inputs[] = {"patches", NULL};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int check_sim(const void *opts, const fsci_ctx *ctx)
{
    (void)ctx;
    fsci_qdot_params p;
    fsci_qdot_scan s;
    FSCI__QDOT_RET(fsci__qdot_sim_setup(opts, &p, &s));
    fsci_qdot_device *d = NULL;
    FSCI__QDOT_RET(fsci_qdot_device_create(&p, &d));
    double one;
    fsci_qdot_scan probe = s;
    probe.nx = probe.ny = 1;
    int st = fsci_qdot_scan_run(d, &probe, &one, NULL);
    fsci_qdot_device_destroy(&d);
    return st;
}

/* The diagram as a PNG, row 0 at the top = the last y, with the analytic
 * triple points marked (white: electron, black: hole). */
void fsci__qdot_render_rgb(const double *sig, int64_t nx, int64_t ny, uint8_t *rgb)
{
    double lo = sig[0], hi = sig[0];
    for (int64_t i = 0; i < nx * ny; i++) {
        lo = fmin(lo, sig[i]);
        hi = fmax(hi, sig[i]);
    }
    for (int64_t j = 0; j < ny; j++)
        for (int64_t i = 0; i < nx; i++)
            fsci_cmap_rgb(FSCI_CMAP_VIRIDIS, hi > lo ? (sig[j * nx + i] - lo) / (hi - lo) : 0.5,
                          rgb + 3 * ((ny - 1 - j) * nx + i));
}

int fsci__qdot_write_png(const char *path, const fsci_qdot_device *d, const fsci_qdot_scan *s,
                         const double *sig, bool marks)
{
    const int64_t nx = s->nx, ny = s->ny;
    int st = FSCI_OK;
    uint8_t *rgb = fsci_malloc((size_t)(nx * ny), 3);
    FSCI_CHECK(rgb != NULL, FSCI_ENOMEM, "qdot simulate: out of memory for the image");
    fsci__qdot_render_rgb(sig, nx, ny, rgb);
    if (marks && d->p.ndots == 2 && s->gy >= 0 && ny > 1 && nx > 1) {
        double xy[2 * 2 * 64 * 64];
        int kind[2 * 64 * 64], cnt = 0;
        FSCI__QDOT_RET(fsci_qdot_triple_points(d, s->gx, s->gy, s->base, xy, kind, 2 * 64 * 64, &cnt));
        for (int k = 0; k < cnt; k++) {
            double fi = (xy[2 * k] - s->x0) / (s->x1 - s->x0) * (double)(nx - 1);
            double fj = (xy[2 * k + 1] - s->y0) / (s->y1 - s->y0) * (double)(ny - 1);
            int64_t ci = llround(fi), cj = ny - 1 - llround(fj);
            for (int64_t t = -2; t <= 2; t++) {
                const int64_t px[2][2] = {{ci + t, cj}, {ci, cj + t}};
                for (int a = 0; a < 2; a++) {
                    if (px[a][0] < 0 || px[a][0] >= nx || px[a][1] < 0 || px[a][1] >= ny) continue;
                    memset(rgb + 3 * (px[a][1] * nx + px[a][0]), kind[k] ? 0 : 255, 3);
                }
            }
        }
    }
    st = fsci_png_write_rgb(path, rgb, nx, ny);
    fsci_free(rgb);
    return st;
}

static int summary(const fsci_qdot_device *d, int64_t npix, double secs, fsci_sink *sink, const fsci_ctx *ctx)
{
    const fsci_qdot_params *p = fsci_qdot_device_params(d);
    double alpha[FSCI_QDOT_MAX_DOTS * FSCI_QDOT_MAX_GATES];
    fsci_qdot_device_matrices(d, alpha, NULL);
    fsci_ctx_printf(ctx, "qdot: %d dots, %d gates, %d states; %lld points in %.3f s (%.3g points/s)\n",
                    p->ndots, p->ngates, fsci_qdot_device_nstates(d), (long long)npix, secs,
                    secs > 0 ? (double)npix / secs : 0.0);
    if (!sink) return FSCI_OK;
    json_t *j = json_object();
    FSCI_CHECK(j != NULL, FSCI_ENOMEM, "qdot simulate: out of memory");
    int st = fsci_json_set_int(j, "ndots", p->ndots);
    if (!st) st = fsci_json_set_int(j, "ngates", p->ngates);
    if (!st) st = fsci_json_set_int(j, "nstates", fsci_qdot_device_nstates(d));
    if (!st) st = fsci_json_set_int(j, "points", npix);
    if (!st) st = fsci_json_set_number(j, "seconds", secs);
    json_t *al = json_array();
    for (int i = 0; al && i < p->ndots * p->ngates; i++)
        json_array_append_new(al, fsci_json_number(alpha[i]));
    if (!st) st = fsci_json_set(j, "lever_arms", al);
    char *text = NULL;
    if (!st) st = fsci_json_dumps(j, 0, &text);
    if (!st) st = fsci_sink_set_summary(sink, text);
    fsci_free(text);
    json_decref(j);
    return st;
}

static int add_f64(fsci_sink *sink, const char *name, double *data, int ndim, const int64_t *shape)
{
    fsci_view v;
    FSCI__QDOT_RET(fsci_view_init(&v, data, FSCI_F64, ndim, shape, NULL));
    return fsci_sink_add(sink, name, &v);
}

/* Python's points mode: the signal at v1[i], v2[i] (same shapes), no noise. */
static int run_points(const fsci_qdot_device *d, const fsci_qdot_scan *s, const fsci_view *v1,
                      const fsci_view *v2, const fsci_ctx *ctx, fsci_sink *sink)
{
    FSCI_CHECK(v1->dtype == FSCI_F64 && fsci_view_is_c_contiguous(v1), FSCI_EINVAL,
               "qdot simulate: v1 must be contiguous float64");
    const int64_t n = fsci_view_numel(v1);
    FSCI_CHECK(s->gy < 0 ||
                   (v2 && v2->dtype == FSCI_F64 && fsci_view_is_c_contiguous(v2) && fsci_view_numel(v2) == n),
               FSCI_EINVAL, "qdot simulate: v2 must be contiguous float64 of v1's size (%lld)", (long long)n);
    double *out = fsci_malloc((size_t)(n > 0 ? n : 1), sizeof *out);
    FSCI_CHECK(out != NULL, FSCI_ENOMEM, "qdot simulate: out of memory for %lld points", (long long)n);
    double t0 = now();
    int st =
        fsci_qdot_signal_points(d, s->signal, s->gx, s->gy, s->base, v1->data, v2 ? v2->data : NULL, n, out);
    double secs = now() - t0;
    if (!st && sink) st = add_f64(sink, "signal", out, v1->ndim, v1->shape);
    if (!st) st = summary(d, n, secs, sink, ctx);
    fsci_free(out);
    return st;
}

/* The members after the signal: states, axes, triple points. */
static int sink_scan(const fsci_qdot_device *d, const fsci_qdot_scan *s, int32_t *states, fsci_sink *sink)
{
    const int64_t shape[2] = {s->ny, s->nx};
    fsci_view v;
    if (states) {
        FSCI__QDOT_RET(fsci_view_init(&v, states, FSCI_I32, 2, shape, NULL));
        FSCI__QDOT_RET(fsci_sink_add(sink, "states", &v));
    }
    double *ax = fsci_malloc((size_t)(s->nx + s->ny), sizeof *ax);
    FSCI_CHECK(ax != NULL, FSCI_ENOMEM, "qdot simulate: out of memory");
    for (int64_t i = 0; i < s->nx; i++)
        ax[i] = s->nx == 1 ? s->x0 : s->x0 + (s->x1 - s->x0) * (double)i / (double)(s->nx - 1);
    for (int64_t j = 0; j < s->ny; j++)
        ax[s->nx + j] = s->ny == 1 ? s->y0 : s->y0 + (s->y1 - s->y0) * (double)j / (double)(s->ny - 1);
    int st = add_f64(sink, "v1", ax, 1, &s->nx);
    if (!st) st = add_f64(sink, "v2", ax + s->nx, 1, &s->ny);
    fsci_free(ax);
    if (st || d->p.ndots != 2 || s->gy < 0) return st;
    double xy[2 * 2 * 64 * 64];
    int kind[2 * 64 * 64], cnt = 0;
    FSCI__QDOT_RET(fsci_qdot_triple_points(d, s->gx, s->gy, s->base, xy, kind, 2 * 64 * 64, &cnt));
    const int64_t tshape[2] = {cnt, 2};
    FSCI__QDOT_RET(add_f64(sink, "triple_points", xy, 2, tshape));
    const int64_t kshape[1] = {cnt};
    FSCI__QDOT_RET(fsci_view_init(&v, kind, FSCI_I32, 1, kshape, NULL));
    return fsci_sink_add(sink, "triple_kind", &v);
}

static int run_sim(const void *opts, const fsci_inputs *in, const fsci_ctx *ctx, fsci_sink *sink)
{
    fsci_qdot_params p;
    fsci_qdot_scan s;
    FSCI__QDOT_RET(fsci__qdot_sim_setup(opts, &p, &s));
    s.seed = fsci_ctx_seed(ctx, 0);
    fsci_qdot_device *d = NULL;
    FSCI__QDOT_RET(fsci_qdot_device_create(&p, &d));
    const int prev = omp_get_max_threads();
    if (ctx->threads > 0) omp_set_num_threads(ctx->threads);
    int st = FSCI_OK;
    double *sig = NULL;
    int32_t *states = NULL;
    bool in_sink = false;
    const fsci_view *v1 = fsci_inputs_get(in, "v1");
    if (v1) {
        st = run_points(d, &s, v1, fsci_inputs_get(in, "v2"), ctx, sink);
        goto fail;
    }
    const int64_t n = s.nx * s.ny;
    const bool want_states = ((const fsci__qdot_sim_opts *)opts)->states;
    const bool own =
        ctx->output &&
        fsci_command_owns_output(fsci_engine_command(fsci_engine_find("qdot"), "simulate"), ctx->output);
    const int64_t shape[2] = {s.ny, s.nx};
    /* in_sink: the signal is computed straight into the memory sink's member */
    if (sink && !own) {
        void *buf = NULL;
        FSCI_TRY(fsci_sink_begin(sink, "signal", FSCI_F64, 2, shape));
        FSCI_TRY(fsci_sink_buffer(sink, &buf));
        if (buf) {
            sig = buf;
            in_sink = true;
            FSCI_TRY(fsci_sink_end(sink));
        }
    }
    if (!in_sink) sig = fsci_malloc((size_t)n, sizeof *sig);
    if (want_states) states = fsci_malloc((size_t)n, sizeof *states);
    FSCI_CHECK_GOTO(sig && (states || !want_states), FSCI_ENOMEM,
                    "qdot simulate: out of memory for %lld points", (long long)n);
    double t0 = now();
    FSCI_TRY(fsci_qdot_scan_run(d, &s, sig, states));
    double secs = now() - t0;
    if (own) {
        const size_t L = strlen(ctx->output);
        if (L >= 4 && strcasecmp(ctx->output + L - 4, ".png") == 0) {
            FSCI_TRY(fsci__qdot_write_png(ctx->output, d, &s, sig, true));
        } else {
            fsci_view v;
            FSCI_TRY(fsci_view_init(&v, sig, FSCI_F64, 2, shape, NULL));
            FSCI_TRY(fsci_npy_write(ctx->output, &v));
        }
    } else if (sink) {
        if (!in_sink) { /* the member begun above streams */
            FSCI_TRY(fsci_sink_write(sink, sig, (size_t)n * sizeof *sig));
            FSCI_TRY(fsci_sink_end(sink));
        }
        FSCI_TRY(sink_scan(d, &s, states, sink));
    }
    FSCI_TRY(summary(d, n, secs, sink, ctx));
fail:
    if (ctx->threads > 0) omp_set_num_threads(prev);
    if (!in_sink) fsci_free(sig);
    fsci_free(states);
    fsci_qdot_device_destroy(&d);
    return st;
}

static const fsci_command commands[] = {
    {.name = "simulate",
     .summary = "a stability diagram of the constant-interaction model (sensor, current or charge)",
     .usage = "[--preset dqd] [--c-cc ... --c-cv ...] [--x-range a,b --y-range a,b] -o diagram.npz|.npy|.png",
     .details = "Capacitances in aF, voltages in mV, energies in meV (doc/qdot.md). The .npz holds signal\n"
                "(ny, nx), states (ground-state index, n_0 slowest), the axes v1 and v2, and for a double\n"
                "dot the analytic triple_points (k, 2) with triple_kind (0 electron, 1 hole). A .png shows\n"
                "the diagram with the triple points marked (white electron, black hole); .npy the signal.\n",
     .params = fsci__qdot_sim_params,
     .nparams = FSCI__QDOT_SIM_NPARAMS,
     .opts_size = sizeof(fsci__qdot_sim_opts),
     .inputs = sim_inputs,
     .output = FSCI_OUTPUT_NPZ,
     .own_formats = sim_formats,
     .default_seed = 0,
     .check = check_sim,
     .run = run_sim},
    {.name = "bench",
     .summary = "many trials of the tuning agent: success rate, measurement reduction, stages (summary.json, "
                "trials.csv)",
     .usage = "[--n-trials 100 --budget 2048 --max-steps 100] [--fast] [--ablation] -o DIR",
     .details = "Compat mode: the reference project's agent and benchmark protocol on its toy model\n"
                "(doc/qdot_agent.md); trials run in parallel, each keyed by (seed, trial), so the\n"
                "results do not depend on --threads. The seed defaults to the reference's 42.\n",
     .params = fsci__qdot_agent_params,
     .nparams = FSCI__QDOT_AGENT_NPARAMS,
     .opts_size = sizeof(fsci__qdot_agent_opts),
     .output = FSCI_OUTPUT_DIR,
     .default_seed = 42,
     .check = fsci__qdot_agent_check,
     .run = fsci__qdot_bench_cmd},
    {.name = "tune",
     .summary =
         "one trial of the tuning agent (compat: with its governance log; physical: a trajectory picture)",
     .usage = "[--trial K] [--compat off] [-o DIR | -o trajectory.png]",
     .details =
         "Compat mode writes governance.jsonl (one JSON line per decision) and summary.json into DIR.\n"
         "With --compat off (the physical agent) -o trajectory.png draws the true device's sensor map\n"
         "with the verification scans (white frames) and the final voltage (white cross; black when\n"
         "the true state there is not (1, 1)).\n",
     .own_formats = tune_formats,
     .params = fsci__qdot_agent_params,
     .nparams = FSCI__QDOT_AGENT_NPARAMS,
     .opts_size = sizeof(fsci__qdot_agent_opts),
     .output = FSCI_OUTPUT_DIR,
     .default_seed = 42,
     .check = fsci__qdot_agent_check,
     .run = fsci__qdot_tune_cmd},
    {.name = "train-classifier",
     .summary = "train the charge-state classifier (five TinyCNNs) on simulated stability diagrams",
     .usage = "[--n 6000] [--members 5] [--epochs 20] -o classifier.fsqc",
     .details = "The reference's ensemble: four 3x3 stride-2 convolutions with batch norm and ReLU, global\n"
                "average pooling, 64 -> 32 -> 3 (doc/qdot_classifier.md); labels double dot, single dot,\n"
                "misc. The shipped weights are data/qdot_classifier.fsqc (this command with its defaults).\n",
     .params = fsci__qdot_cls_params,
     .nparams = FSCI__QDOT_CLS_NPARAMS,
     .opts_size = sizeof(fsci__qdot_cls_cmd_opts),
     .output = FSCI_OUTPUT_NPZ,
     .output_required = true,
     .own_formats = cls_formats,
     .default_seed = 7,
     .run = fsci__qdot_cls_cmd},
    {.name = "classify",
     .summary = "charge-state labels (double dot, single dot, misc) of 64 x 64 sensor patches",
     .usage = "PATCHES.npy --weights classifier.fsqc [-o labels.npz]",
     .details = "Each raw patch is log-preprocessed as in training; the label is the argmax of the\n"
                "ensemble's mean softmax, the confidence its value, the disagreement the largest\n"
                "L-infinity distance between two members' softmax vectors.\n",
     .params = fsci__qdot_classify_params,
     .nparams = FSCI__QDOT_CLASSIFY_NPARAMS,
     .opts_size = sizeof(fsci__qdot_classify_opts),
     .inputs = cls_inputs,
     .output = FSCI_OUTPUT_NPZ,
     .positional = "input",
     .check = fsci__qdot_classify_check,
     .run = fsci__qdot_classify_cmd},
};

const fsci_engine fsci_engine_qdot = {
    .name = "qdot",
    .title = "qdot: double-quantum-dot simulator",
    .summary = "quantum-dot devices: constant-interaction simulator and the tuning agent (compat mode)",
    .commands = commands,
    .ncommands = sizeof commands / sizeof commands[0],
    .demo = fsci__qdot_demo,
};
