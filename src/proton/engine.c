/* The proton engine's registration: its commands (run, pdd) and demo section. */
#include <math.h>
#include <string.h>

#include "fastsci/fastsci.h"
#include "demo.h"

/* Validation of the run description before any output is opened. */
static int check_run(const void *opts, const fsci_ctx *ctx)
{
    fsci_proton_setup *su = NULL;
    int st = fsci_proton_setup_create(opts, ctx->threads, false, &su);
    fsci_proton_setup_destroy(&su);
    return st;
}

static void print_balance(const fsci_ctx *ctx, const char *what, const fsci_proton_balance *b)
{
    fsci_ctx_printf(
        ctx,
        "balance %-6s initial %.6g = deposited %.6g + leaked %.6g + rejected %.6g + cutoff %.6g + "
        "nuclear %.6g + pruned %.3g + remaining %.3g (residual %.2e)\n",
        what, b->initial, b->deposited, b->leaked, b->rejected, b->cutoff, b->nuclear, b->pruned,
        b->remaining, b->residual);
}

static int run_run(const void *opts, const fsci_inputs *in, const fsci_ctx *ctx, fsci_sink *sink)
{
    (void)in;
    int st = FSCI_OK;
    fsci_proton_setup *su = NULL;
    fsci_proton_result res = {0};
    FSCI_TRY(fsci_proton_setup_create(opts, ctx->threads, ctx->progress && !ctx->quiet, &su));
    FSCI_TRY(fsci_proton_simulate(su, &res));
    if (sink) FSCI_TRY(fsci_proton_result_to_sink(&res, sink));
    const fsci_proton_range_metrics *m = &res.metrics;
    fsci_ctx_printf(ctx,
                    "R80 %.3f mm  R90 %.3f mm  peak %.3f mm  d80-20 %.3f mm  (grid %lld x %lld, %lld steps, "
                    "%.2f s)\n",
                    m->r80_mm, m->r90_mm, m->peak_mm, m->falloff_mm, (long long)res.nz, (long long)res.nx,
                    (long long)res.steps, res.seconds);
    print_balance(ctx, "weight", &res.weight);
    print_balance(ctx, "MeV", &res.energy);
fail:
    fsci_proton_result_free(&res);
    fsci_proton_setup_destroy(&su);
    return st;
}

enum { PDD_COLS = 5 };

/* One run per energy: energy, PSTAR CSDA range, R80, R80 - CSDA, peak depth. */
static int pdd_rows(const fsci_proton_run_opts *r, const fsci_ctx *ctx, double rows[][PDD_COLS])
{
    int st = FSCI_OK;
    fsci_proton_physics *ph = NULL;
    fsci_proton_setup *su = NULL;
    fsci_proton_result res = {0};
    FSCI_TRY(fsci_proton_physics_create(NULL, &ph));
    for (int i = 0; i < r->energy.n; i++) {
        fsci_proton_run_opts one = *r;
        one.energy.n = 1;
        one.energy.v[0] = r->energy.v[i];
        double csda = NAN;
        FSCI_TRY(fsci_proton_physics_range_mm(ph, one.energy.v[0], &csda));
        FSCI_TRY(fsci_proton_setup_create(&one, ctx->threads, false, &su));
        FSCI_TRY(fsci_proton_simulate(su, &res));
        fsci_proton_setup_destroy(&su);
        rows[i][0] = one.energy.v[0];
        rows[i][1] = csda;
        rows[i][2] = res.metrics.r80_mm;
        rows[i][3] = res.metrics.r80_mm - csda;
        rows[i][4] = res.metrics.peak_mm;
        fsci_proton_result_free(&res);
        if (ctx->progress && !ctx->quiet) fprintf(stderr, "proton pdd: %g MeV done\n", rows[i][0]);
    }
fail:
    fsci_proton_result_free(&res);
    fsci_proton_setup_destroy(&su);
    fsci_proton_physics_destroy(&ph);
    return st;
}

static int pdd_run(const void *opts, const fsci_inputs *in, const fsci_ctx *ctx, fsci_sink *sink)
{
    (void)in;
    const fsci_proton_run_opts *r = opts;
    double rows[FSCI_PARAM_LISTLEN][PDD_COLS];
    int st = FSCI_OK, n = r->energy.n;
    FSCI_TRY(pdd_rows(r, ctx, rows));
    fsci_ctx_printf(ctx, "%10s %14s %10s %12s %10s\n", "E_MeV", "CSDA_PSTAR_mm", "R80_mm", "R80-CSDA_mm",
                    "peak_mm");
    for (int i = 0; i < n; i++)
        fsci_ctx_printf(ctx, "%10.3f %14.3f %10.3f %12.3f %10.3f\n", rows[i][0], rows[i][1], rows[i][2],
                        rows[i][3], rows[i][4]);
    if (!sink) return FSCI_OK;
    fsci_view v;
    FSCI_TRY(fsci_view_init(&v, rows, FSCI_F64, 2, (int64_t[2]){n, PDD_COLS}, false));
    FSCI_TRY(fsci_sink_add(sink, "table", &v));
    char csv[64 + FSCI_PARAM_LISTLEN * 5 * 24];
    size_t len =
        (size_t)snprintf(csv, sizeof csv, "energy_mev,csda_pstar_mm,r80_mm,r80_minus_csda_mm,peak_mm\n");
    for (int i = 0; i < n && len < sizeof csv; i++)
        len += (size_t)snprintf(csv + len, sizeof csv - len, "%.6g,%.9g,%.9g,%.9g,%.9g\n", rows[i][0],
                                rows[i][1], rows[i][2], rows[i][3], rows[i][4]);
    FSCI_TRY(fsci_sink_add_text(sink, "pdd.csv", csv));
fail:
    return st;
}

static const fsci_command commands[] = {
    {.name = "run",
     .summary = "transport the beams to the end: dose, depth dose, range metrics, balances",
     .usage = "--energy E [options] [-o DIR]",
     .details = "Prints R80, R90, peak depth, d80-20 and the weight and energy balance. With -o DIR writes\n"
                "dose.npy (Gy per primary, float64 (nz, nx)), dose_mev.npy, dose.mhd + dose.raw (MetaImage,\n"
                "MET_DOUBLE), depth_dose.csv (MeV/mm per primary), lateral.csv and summary.json; the set\n"
                "appears at once. Streaming defaults to muscl (second order): lateral spread within ~1 % of\n"
                "Fermi-Eyges at dx = 0.5 mm; bilinear is cheaper but diffusive. Physics: doc/proton.md.\n",
     .params = fsci_proton_params,
     .nparams = FSCI_PROTON_NPARAMS,
     .opts_size = sizeof(fsci_proton_run_opts),
     .output = FSCI_OUTPUT_DIR,
     .check = check_run,
     .run = run_run},
    {.name = "pdd",
     .summary = "one run per energy: PSTAR CSDA range, R80, R80 - CSDA, peak depth",
     .usage = "--energy E1,E2,... [options] [-o FILE.csv]",
     .details = "Prints the table; -o FILE.csv also writes it as CSV.\n",
     .params = fsci_proton_params,
     .nparams = FSCI_PROTON_NPARAMS,
     .opts_size = sizeof(fsci_proton_run_opts),
     .output = FSCI_OUTPUT_TEXT,
     .check = check_run,
     .run = pdd_run},
};

const fsci_engine fsci_engine_proton = {
    .name = "proton",
    .title = "Proton transport (deterministic, 2-D phase space)",
    .summary = "deterministic 2-D proton transport (pencil or broad beams) in water or a slab phantom",
    .commands = commands,
    .ncommands = sizeof commands / sizeof commands[0],
    .demo = fsci__proton_demo,
};
