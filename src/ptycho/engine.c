/* The ptycho engine's registration: its commands (simulate, group) and demo section. */
#include <math.h>
#include <string.h>

#include "fastsci/fastsci.h"
#include "demo.h"

static const char *const simulate_inputs[] = {"object_array", "probe_array", "xcoords", "ycoords", NULL};

/* xcoords/ycoords given as arrays: float64, 1-D, contiguous, equal length. */
static int coords_inputs(const fsci_inputs *in, const double **x, const double **y, int64_t *n)
{
    const fsci_view *vx = fsci_inputs_get(in, "xcoords"), *vy = fsci_inputs_get(in, "ycoords");
    *x = *y = NULL;
    *n = 0;
    if (!vx && !vy) return FSCI_OK;
    FSCI_CHECK(vx && vy, FSCI_EINVAL, "xcoords and ycoords must be given together");
    FSCI_CHECK(vx->dtype == FSCI_F64 && vy->dtype == FSCI_F64 && vx->ndim == 1 && vy->ndim == 1, FSCI_EINVAL,
               "xcoords and ycoords must be float64 1-D arrays");
    FSCI_CHECK(vx->shape[0] == vy->shape[0], FSCI_EINVAL, "xcoords has %lld values but ycoords %lld",
               (long long)vx->shape[0], (long long)vy->shape[0]);
    FSCI_CHECK(fsci_view_is_c_contiguous(vx) && fsci_view_is_c_contiguous(vy), FSCI_EINVAL,
               "xcoords and ycoords must be contiguous");
    *x = vx->data;
    *y = vy->data;
    *n = vx->shape[0];
    return FSCI_OK;
}

static int simulate_summary(const fsci_ptycho_report *r, fsci_sink *sink)
{
    int st = FSCI_OK;
    char *text = NULL;
    json_t *o = json_object(), *t = json_object();
    FSCI_CHECK_GOTO(o && t, FSCI_ENOMEM, "ptycho: out of memory for the run summary");
    FSCI_TRY(fsci_json_set_number(o, "intensity_scale", r->scale));
    FSCI_TRY(fsci_json_set_number(o, "intensity_scale_raw", r->scale_raw));
    FSCI_TRY(fsci_json_set_number(o, "X_full_norm", r->xfull_norm));
    FSCI_TRY(fsci_json_set_number(o, "mean_counts", r->mean_counts));
    FSCI_TRY(fsci_json_set_int(o, "npoints", r->npoints));
    FSCI_TRY(fsci_json_set_int(o, "ngroups", r->ngroups));
    FSCI_TRY(fsci_json_set_int(o, "npatterns", r->npatterns));
    const double times[] = {r->t_inputs, r->t_group, r->t_scale, r->t_extract,
                            r->t_fft,    r->t_noise, r->t_write, r->t_total};
    const char *names[] = {"inputs", "group", "scale", "extract", "fft", "noise", "write", "total"};
    for (int i = 0; i < 8; i++) FSCI_TRY(fsci_json_set_number(t, names[i], times[i]));
    json_t *timings = t;
    t = NULL;
    FSCI_TRY(fsci_json_set(o, "timings", timings)); /* takes the reference, even on failure */
    FSCI_TRY(fsci_json_dumps(o, 0, &text));
    FSCI_TRY(fsci_sink_set_summary(sink, text));
fail:
    fsci_free(text);
    json_decref(t);
    json_decref(o);
    return st;
}

/* Options that name inputs must not be empty. */
static int check_simulate(const void *opts, const fsci_ctx *ctx)
{
    (void)ctx;
    const fsci_ptycho_opts *o = opts;
    FSCI_CHECK(o->object[0], FSCI_EINVAL, "--object: empty (lines, star, FILE.npy or FILE.npz)");
    FSCI_CHECK(o->probe[0], FSCI_EINVAL, "--probe: empty (disk, FILE.npy or FILE.npz)");
    FSCI_CHECK(o->positions[0], FSCI_EINVAL, "--positions: empty (random or FILE.npz)");
    return FSCI_OK;
}

static int simulate_run(const void *opts, const fsci_inputs *in, const fsci_ctx *ctx, fsci_sink *sink)
{
    const fsci_ptycho_opts *o = opts;
    fsci_ptycho_inputs pin = {.object = fsci_inputs_get(in, "object_array"),
                              .probe = fsci_inputs_get(in, "probe_array")};
    fsci_ptycho_report rep;
    int st = FSCI_OK;
    FSCI_TRY(coords_inputs(in, &pin.xcoords, &pin.ycoords, &pin.npoints));
    FSCI_TRY(fsci_ptycho_check_resources(o, &pin, ctx->output));
    FSCI_TRY(fsci_ptycho_simulate(o, &pin, fsci_ctx_seed(ctx, 42), ctx->threads, sink, &rep));
    FSCI_TRY(simulate_summary(&rep, sink));
    if (ctx->quiet) return FSCI_OK;
    char rate[32];
    fsci_format_si((double)(rep.npatterns + (o->raw ? rep.npoints : 0)) / rep.t_total, rate, sizeof rate);
    fsci_ctx_printf(
        ctx,
        "ptycho: %lld positions, %lld groups, %lld patterns of %lld x %lld; intensity scale %.6g; "
        "mean photons/pattern %.6g; %.2f s (%s patterns/s, %d threads)\n",
        (long long)rep.npoints, (long long)rep.ngroups, (long long)rep.npatterns, (long long)o->N,
        (long long)o->N, rep.scale, o->noise ? rep.mean_counts : o->nphotons, rep.t_total, rate,
        fsci_parallel_resolve(ctx->threads));
fail:
    return st;
}

static const char *const group_inputs[] = {"xcoords", "ycoords", NULL};

/* Positions from the inputs, or from the --positions file. */
static int group_positions(const fsci_ptycho_opts *o, const fsci_inputs *in, fsci_array **ax, fsci_array **ay,
                           const double **x, const double **y, int64_t *n)
{
    int st = FSCI_OK;
    fsci_npz *z = NULL;
    FSCI_TRY(coords_inputs(in, x, y, n));
    if (*x) return FSCI_OK;
    FSCI_CHECK(strcmp(o->positions, "random") != 0, FSCI_EINVAL,
               "group needs scan positions: --positions FILE.npz (xcoords, ycoords)");
    FSCI_TRY(fsci_npz_open(o->positions, &z));
    FSCI_TRY(fsci_npz_read(z, "xcoords", ax));
    FSCI_TRY(fsci_npz_read(z, "ycoords", ay));
    const fsci_view *vx = &(*ax)->view, *vy = &(*ay)->view;
    FSCI_CHECK_GOTO(vx->dtype == FSCI_F64 && vy->dtype == FSCI_F64 && vx->ndim == 1 && vy->ndim == 1 &&
                        vx->shape[0] == vy->shape[0],
                    FSCI_EINVAL, "%s: xcoords and ycoords must be float64 1-D arrays of equal length",
                    o->positions);
    FSCI_CHECK_GOTO(vx->shape[0] >= o->gridsize * o->gridsize, FSCI_EINVAL,
                    "positions: %s has %lld scan positions, but --gridsize %lld needs at least %lld",
                    o->positions, (long long)vx->shape[0], (long long)o->gridsize,
                    (long long)(o->gridsize * o->gridsize));
    *x = vx->data;
    *y = vy->data;
    *n = vx->shape[0];
fail:
    fsci_npz_close(&z);
    return st;
}

static int group_run(const void *opts, const fsci_inputs *in, const fsci_ctx *ctx, fsci_sink *sink)
{
    const fsci_ptycho_opts *o = opts;
    int st = FSCI_OK;
    fsci_array *ax = NULL, *ay = NULL;
    int32_t *nn = NULL;
    int64_t *seeds = NULL, B = 0, n = 0;
    const double *x = NULL, *y = NULL;
    fsci_view v;
    FSCI_TRY(group_positions(o, in, &ax, &ay, &x, &y, &n));
    fsci_ptycho_group_opts go = {.nsamples = o->n_groups > 0 ? o->n_groups : n,
                                 .K = (int)o->K,
                                 .gridsize = (int)o->gridsize,
                                 .seed = fsci_ctx_seed(ctx, 42),
                                 .oversampling = o->oversampling,
                                 .pool_size = (int)o->pool_size,
                                 .nthreads = ctx->threads};
    double t0 = fsci_clock();
    FSCI_TRY(fsci_ptycho_group(x, y, n, &go, &nn, &seeds, &B));
    double dt = fsci_clock() - t0;
    int64_t C = o->gridsize * o->gridsize;
    FSCI_TRY(fsci_view_init(&v, nn, FSCI_I32, 2, (int64_t[2]){B, C}, false));
    FSCI_TRY(fsci_sink_add(sink, "nn_indices", &v));
    FSCI_TRY(fsci_view_init(&v, seeds, FSCI_I64, 1, &B, false));
    FSCI_TRY(fsci_sink_add(sink, "seed_indices", &v));
    if (!ctx->quiet)
        fsci_ctx_printf(ctx, "ptycho group: %lld groups of %lld in %.1f ms\n", (long long)B, (long long)C,
                        1e3 * dt);
fail:
    fsci_array_destroy(&ax);
    fsci_array_destroy(&ay);
    fsci_free(nn);
    fsci_free(seeds);
    return st;
}

static const fsci_command commands[] = {
    {.name = "simulate",
     .summary = "simulate PtychoPINN ptychography training data (NPZ)",
     .usage = "[options] -o data.npz",
     .details =
         "Scan positions (random or --positions), gridsize^2 nearest-neighbour groups, bilinear patches\n"
         "of the object, exit wave s * patch * probe, |FFT2|^2 / N^2 with fftshift, Poisson photon counts;\n"
         "writes PtychoPINN's NPZ keys (diff3d, xcoords, ycoords, probeGuess, objectGuess, diffraction, Y,\n"
         "X_full, coords_offsets, coords_relative, nn_indices, ground_truth_patches, _metadata in\n"
         "PtychoPINN's schema). Seed default 42; SOURCE_DATE_EPOCH fixes the metadata timestamp.\n"
         "Conventions and formulas: doc/ptycho.md.\n",
     .params = fsci_ptycho_params,
     .nparams = FSCI_PTYCHO_NPARAMS,
     .opts_size = sizeof(fsci_ptycho_opts),
     .inputs = simulate_inputs,
     .output = FSCI_OUTPUT_NPZ,
     .output_required = true,
     .default_seed = 42,
     .check = check_simulate,
     .run = simulate_run},
    {.name = "group",
     .summary = "group scan positions by PtychoPINN's sample-then-group rule",
     .usage = "--positions FILE.npz [options] -o groups.npz",
     .details = "Reads xcoords/ycoords from --positions; writes nn_indices (B, gridsize^2) int32 and\n"
                "seed_indices (B,) int64. Uses --n-groups, --K, --gridsize, --oversampling, --pool-size.\n",
     .params = fsci_ptycho_params,
     .nparams = FSCI_PTYCHO_NPARAMS,
     .opts_size = sizeof(fsci_ptycho_opts),
     .inputs = group_inputs,
     .output = FSCI_OUTPUT_NPZ,
     .output_required = true,
     .default_seed = 42,
     .check = check_simulate,
     .run = group_run},
};

const fsci_engine fsci_engine_ptycho = {
    .name = "ptycho",
    .title = "Ptychography training data (PtychoPINN layout)",
    .summary = "simulate PtychoPINN ptychography training data (NPZ), or group scan positions",
    .commands = commands,
    .ncommands = sizeof commands / sizeof commands[0],
    .demo = fsci__ptycho_demo,
};
