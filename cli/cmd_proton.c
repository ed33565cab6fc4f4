/* fastsci proton: deterministic proton transport in water or a slab phantom. */
#include <math.h>
#include <string.h>

#include "commands.h"

static int usage(const char *msg, const char *arg)
{
    fprintf(stderr, "fastsci proton: %s%s%s\n", msg, arg ? " " : "", arg ? arg : "");
    fprintf(stderr, "usage: %s (see 'fastsci help proton')\n", cmd_proton.usage);
    return CLI_USAGE;
}

/* Validation errors of the run description are usage errors (exit 2). */
static int setup_fail(int st)
{
    if (st == FSCI_EINVAL || st == FSCI_ERANGE) {
        fprintf(stderr, "fastsci proton: %s\n", fsci_error_message());
        return CLI_USAGE;
    }
    return cli_fail(st);
}

static void print_balance(const char *what, const fsci_proton_balance *b)
{
    fprintf(stdout,
            "balance %-6s initial %.6g = deposited %.6g + leaked %.6g + rejected %.6g + cutoff %.6g + "
            "nuclear %.6g"
            " + pruned %.3g + remaining %.3g (residual %.2e)\n",
            what, b->initial, b->deposited, b->leaked, b->rejected, b->cutoff, b->nuclear, b->pruned,
            b->remaining, b->residual);
}

static int run(int argc, char **argv, cli_common *common)
{
    fsci_proton_run_opts r;
    cli_args pos;
    bool help;
    int rc = cli_parse(&cmd_proton, argc, argv, &r, common, &pos, &help);
    if (rc || help) return rc;
    if (pos.n > 0) return usage("unexpected argument", pos.v[0]);
    if ((rc = cli_apply_common(common))) return rc;
    fsci_proton_setup *su = NULL;
    fsci_proton_result res;
    int st = fsci_proton_setup_create(&r, common->threads, !common->quiet, &su);
    if (st) return setup_fail(st);
    st = fsci_proton_simulate(su, &res);
    fsci_proton_setup_destroy(&su);
    if (st) return cli_fail(st);
    if (common->output) st = fsci_proton_result_write(&res, common->output);
    if (st) {
        fsci_proton_result_free(&res);
        return cli_fail(st);
    }
    const fsci_proton_range_metrics *m = &res.metrics;
    printf("R80 %.3f mm  R90 %.3f mm  peak %.3f mm  d80-20 %.3f mm  (grid %lld x %lld, %lld steps, %.2f s)\n",
           m->r80_mm, m->r90_mm, m->peak_mm, m->falloff_mm, (long long)res.nz, (long long)res.nx,
           (long long)res.steps, res.seconds);
    print_balance("weight", &res.weight);
    print_balance("MeV", &res.energy);
    if (common->output && !common->quiet) fprintf(stderr, "proton: wrote %s/\n", common->output);
    fsci_proton_result_free(&res);
    cli_finish(common);
    return CLI_OK;
}

static int pdd(int argc, char **argv, cli_common *common)
{
    fsci_proton_run_opts r;
    cli_args pos;
    bool help;
    int rc = cli_parse(&cmd_proton, argc, argv, &r, common, &pos, &help);
    if (rc || help) return rc;
    if (pos.n > 0) return usage("unexpected argument", pos.v[0]);
    if ((rc = cli_apply_common(common))) return rc;
    int n = r.energy.n, st = FSCI_OK;
    double rows[FSCI_PARAM_LISTLEN][5];
    fsci_proton_physics *ph = NULL;
    fsci_proton_setup *su = NULL;
    fsci_proton_result res = {0};
    /* validate every energy before running any */
    if ((st = fsci_proton_setup_create(&r, common->threads, false, &su))) return setup_fail(st);
    fsci_proton_setup_destroy(&su);
    if ((st = fsci_proton_physics_create(NULL, &ph))) return cli_fail(st);
    for (int i = 0; i < n; i++) {
        fsci_proton_run_opts one = r;
        one.energy.n = 1;
        one.energy.v[0] = r.energy.v[i];
        double csda = NAN;
        st = fsci_proton_physics_range_mm(ph, one.energy.v[0], &csda);
        if (!st) st = fsci_proton_setup_create(&one, common->threads, false, &su);
        if (!st) st = fsci_proton_simulate(su, &res);
        fsci_proton_setup_destroy(&su);
        if (st) break;
        rows[i][0] = one.energy.v[0];
        rows[i][1] = csda;
        rows[i][2] = res.metrics.r80_mm;
        rows[i][3] = res.metrics.r80_mm - csda;
        rows[i][4] = res.metrics.peak_mm;
        fsci_proton_result_free(&res);
        if (!common->quiet) fprintf(stderr, "proton pdd: %g MeV done\n", rows[i][0]);
    }
    fsci_proton_physics_destroy(&ph);
    if (st) return cli_fail(st);
    printf("%10s %14s %10s %12s %10s\n", "E_MeV", "CSDA_PSTAR_mm", "R80_mm", "R80-CSDA_mm", "peak_mm");
    for (int i = 0; i < n; i++)
        printf("%10.3f %14.3f %10.3f %12.3f %10.3f\n", rows[i][0], rows[i][1], rows[i][2], rows[i][3],
               rows[i][4]);
    if (common->output) {
        char tmp[4096];
        int len = snprintf(tmp, sizeof tmp, "%s.tmp", common->output);
        FILE *f = len > 0 && (size_t)len < sizeof tmp ? fopen(tmp, "w") : NULL;
        if (!f) {
            fprintf(stderr, "fastsci: cannot create %s\n", common->output);
            return CLI_FAIL;
        }
        fprintf(f, "energy_mev,csda_pstar_mm,r80_mm,r80_minus_csda_mm,peak_mm\n");
        for (int i = 0; i < n; i++)
            fprintf(f, "%.6g,%.9g,%.9g,%.9g,%.9g\n", rows[i][0], rows[i][1], rows[i][2], rows[i][3],
                    rows[i][4]);
        bool bad = ferror(f) != 0;
        if (fclose(f) != 0) bad = true;
        if (bad || rename(tmp, common->output) != 0) {
            remove(tmp);
            fprintf(stderr, "fastsci: cannot write %s\n", common->output);
            return CLI_FAIL;
        }
    }
    cli_finish(common);
    return CLI_OK;
}

static int run_proton(int argc, char **argv, cli_common *common)
{
    if (argc < 2) return usage("expected a subcommand: run or pdd", NULL);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        cli_help(&cmd_proton, stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "run") == 0) return run(argc - 1, argv + 1, common);
    if (strcmp(argv[1], "pdd") == 0) return pdd(argc - 1, argv + 1, common);
    return usage("unknown subcommand", argv[1]);
}

const cli_command cmd_proton = {
    .name = "proton",
    .run = run_proton,
    .summary = "deterministic 2-D proton transport (pencil or broad beams) in water or a slab phantom",
    .usage = "fastsci proton run --energy E [options] [-o DIR] | fastsci proton pdd --energy E1,E2,... [-o "
             "FILE.csv]",
    .params = fsci_proton_params,
    .nparams = FSCI_PROTON_NPARAMS,
    .details =
        "run: transport the beams to the end; prints R80, R90, peak depth, d80-20 and the weight and energy\n"
        "  balance. With -o DIR writes dose.npy (Gy per primary, float64 (nz, nx)), dose_mev.npy, dose.mhd "
        "+\n"
        "  dose.raw (MetaImage, MET_DOUBLE), depth_dose.csv (MeV/mm per primary), lateral.csv and "
        "summary.json.\n"
        "pdd: one run per energy; a table of energy, PSTAR CSDA range, R80, R80 - CSDA and peak depth\n"
        "  (-o FILE.csv also writes it as CSV).\n"
        "Streaming defaults to muscl (second order): lateral spread within ~1 % of Fermi-Eyges at dx = 0.5 "
        "mm;\n"
        "bilinear is cheaper but diffusive. Physics and accuracy: doc/proton.md.\n",
};
