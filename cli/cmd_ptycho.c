/* fastsci ptycho: simulate PtychoPINN training data, or group scan positions. */
#include <string.h>
#include <sys/stat.h>

#include "commands.h"

static int usage(const char *msg, const char *arg)
{
    fprintf(stderr, "fastsci ptycho: %s%s%s\n", msg, arg ? " " : "", arg ? arg : "");
    fprintf(stderr, "usage: %s (see 'fastsci help ptycho')\n", cmd_ptycho.usage);
    return CLI_USAGE;
}

static int simulate(int argc, char **argv, cli_common *common)
{
    fsci_ptycho_opts o;
    cli_args pos;
    bool help;
    int rc = cli_parse(&cmd_ptycho, argc, argv, &o, common, &pos, &help);
    if (rc || help) return rc;
    if (pos.n > 0) return usage("unexpected argument", pos.v[0]);
    if (!common->output) return usage("simulate needs -o/--output FILE.npz", NULL);
    if ((rc = cli_apply_common(common))) return rc;
    fsci_sink *sink = NULL;
    fsci_ptycho_report rep;
    uint64_t seed = common->seed_set ? common->seed : 42;
    int st = fsci_ptycho_check_resources(&o, NULL, common->output);
    if (!st) st = fsci_sink_npz_create(common->output, o.compress, &sink);
    if (!st) st = fsci_ptycho_simulate(&o, NULL, seed, common->threads, sink, &rep);
    if (!st) st = fsci_sink_close(sink);
    fsci_sink_destroy(&sink);
    if (st) return cli_fail(st);
    if (!common->quiet) {
        struct stat sb;
        double mb = stat(common->output, &sb) == 0 ? (double)sb.st_size / 1e6 : 0;
        char rate[32];
        fsci_format_si((double)(rep.npatterns + (o.raw ? rep.npoints : 0)) / rep.t_total, rate, sizeof rate);
        fprintf(stderr,
                "ptycho: %lld positions, %lld groups, %lld patterns of %lld x %lld; intensity scale %.6g; "
                "mean photons/pattern %.6g\n"
                "ptycho: wrote %s (%.1f MB) in %.2f s (%s patterns/s end to end, %d threads)\n",
                (long long)rep.npoints, (long long)rep.ngroups, (long long)rep.npatterns, (long long)o.N,
                (long long)o.N, rep.scale, o.noise ? rep.mean_counts : o.nphotons, common->output, mb,
                rep.t_total, rate, fsci_parallel_resolve(common->threads));
    }
    cli_finish(common);
    return CLI_OK;
}

static int group(int argc, char **argv, cli_common *common)
{
    fsci_ptycho_opts o;
    cli_args pos;
    bool help;
    int rc = cli_parse(&cmd_ptycho, argc, argv, &o, common, &pos, &help);
    if (rc || help) return rc;
    if (pos.n > 0) return usage("unexpected argument", pos.v[0]);
    if (!common->output) return usage("group needs -o/--output FILE.npz", NULL);
    if (strcmp(o.positions, "random") == 0) return usage("group needs --positions FILE.npz", NULL);
    if ((rc = cli_apply_common(common))) return rc;
    int st;
    fsci_npz *z = NULL;
    fsci_array *ax = NULL, *ay = NULL;
    int32_t *nn = NULL;
    int64_t *seeds = NULL, B = 0;
    fsci_npz_writer *w = NULL;
    double t0 = fsci_clock();
    st = fsci_npz_open(o.positions, &z);
    if (!st) st = fsci_npz_read(z, "xcoords", &ax);
    if (!st) st = fsci_npz_read(z, "ycoords", &ay);
    if (!st && (ax->view.dtype != FSCI_F64 || ay->view.dtype != FSCI_F64 || ax->view.ndim != 1 ||
                ay->view.ndim != 1 || ax->view.shape[0] != ay->view.shape[0]))
        st =
            fsci_error_set(FSCI_EINVAL, __FILE__, __LINE__, __func__,
                           "%s: xcoords and ycoords must be float64 1-D arrays of equal length", o.positions);
    if (!st) {
        fsci_ptycho_group_opts go = {.nsamples = o.n_groups > 0 ? o.n_groups : ax->view.shape[0],
                                     .K = (int)o.K,
                                     .gridsize = (int)o.gridsize,
                                     .seed = common->seed_set ? common->seed : 42,
                                     .oversampling = o.oversampling,
                                     .pool_size = (int)o.pool_size,
                                     .nthreads = common->threads};
        st = fsci_ptycho_group(ax->view.data, ay->view.data, ax->view.shape[0], &go, &nn, &seeds, &B);
    }
    double dt = fsci_clock() - t0;
    fsci_view v;
    int64_t C = o.gridsize * o.gridsize;
    if (!st) st = fsci_npz_writer_create(common->output, false, &w);
    if (!st) st = fsci_view_init(&v, nn, FSCI_I32, 2, (int64_t[2]){B, C}, false);
    if (!st) st = fsci_npz_writer_add(w, "nn_indices", &v);
    if (!st) st = fsci_view_init(&v, seeds, FSCI_I64, 1, &B, false);
    if (!st) st = fsci_npz_writer_add(w, "seed_indices", &v);
    if (!st) st = fsci_npz_writer_close(&w);
    fsci_npz_writer_abort(&w);
    fsci_npz_close(&z);
    fsci_array_destroy(&ax);
    fsci_array_destroy(&ay);
    fsci_free(nn);
    fsci_free(seeds);
    if (st) return cli_fail(st);
    if (!common->quiet)
        fprintf(stderr, "ptycho group: %lld groups of %lld in %.1f ms; wrote %s\n", (long long)B,
                (long long)C, 1e3 * dt, common->output);
    cli_finish(common);
    return CLI_OK;
}

static int run_ptycho(int argc, char **argv, cli_common *common)
{
    if (argc < 2) return usage("expected a subcommand: simulate or group", NULL);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        cli_help(&cmd_ptycho, stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "simulate") == 0) return simulate(argc - 1, argv + 1, common);
    if (strcmp(argv[1], "group") == 0) return group(argc - 1, argv + 1, common);
    return usage("unknown subcommand", argv[1]);
}

const cli_command cmd_ptycho = {
    .name = "ptycho",
    .run = run_ptycho,
    .summary = "simulate PtychoPINN ptychography training data (NPZ), or group scan positions",
    .usage =
        "fastsci ptycho simulate [options] -o data.npz | fastsci ptycho group --positions FILE.npz [options] "
        "-o groups.npz",
    .params = fsci_ptycho_params,
    .nparams = FSCI_PTYCHO_NPARAMS,
    .details =
        "simulate: scan positions (random or --positions), gridsize^2 nearest-neighbour groups, bilinear "
        "patches\n"
        "  of the object, exit wave s * patch * probe, |FFT2|^2 / N^2 with fftshift, Poisson photon counts;\n"
        "  writes PtychoPINN's NPZ keys (diff3d, xcoords, ycoords, probeGuess, objectGuess, diffraction, Y,\n"
        "  X_full, coords_offsets, coords_relative, nn_indices, _metadata). Seed default 42.\n"
        "group: PtychoPINN's sample-then-group rule on xcoords/ycoords from --positions; writes "
        "nn_indices.\n",
};
