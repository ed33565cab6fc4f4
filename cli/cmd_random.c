/* fastsci random: draws from the counter-based generator into a .npy file. */
#include <string.h>

#include "commands.h"

typedef struct {
    int64_t n;
    double lam;
    int64_t stream;
} random_opts;

static const fsci_param random_params[] = {
    {"n", FSCI_PARAM_INT, offsetof(random_opts, n), "1000000", 0, 1e12, NULL, "number of draws"},
    {"lam", FSCI_PARAM_DOUBLE, offsetof(random_opts, lam), "1", 0, FSCI_RNG_POISSON_MAX, NULL,
     "Poisson mean (poisson only)"},
    {"stream", FSCI_PARAM_INT, offsetof(random_opts, stream), "0", 0, 9223372036854775807.0, NULL,
     "stream number: independent sequences for one seed (2^63 - 1 at most; Python takes any 64-bit value)"},
};

static int run_random(int argc, char **argv, cli_common *common)
{
    random_opts o;
    cli_args pos;
    bool help;
    int rc = cli_parse(&cmd_random, argc, argv, &o, common, &pos, &help);
    if (rc || help) return rc;
    const char *kinds[] = {"poisson", "uniform", "normal", "raw"};
    int kind = -1;
    for (int i = 0; i < 4 && pos.n == 1; i++)
        if (strcmp(pos.v[0], kinds[i]) == 0) kind = i;
    if (kind < 0) {
        fprintf(stderr, "fastsci random: %s '%s'\nusage: %s\n",
                pos.n == 1 ? "unknown distribution" : "expected one distribution, got",
                pos.n ? pos.v[pos.n - 1] : "nothing", cmd_random.usage);
        return CLI_USAGE;
    }
    if (!common->output) {
        fprintf(stderr, "fastsci random: -o/--output FILE.npy is required\nusage: %s\n", cmd_random.usage);
        return CLI_USAGE;
    }
    if ((rc = cli_apply_common(common))) return rc;
    static const fsci_dtype types[] = {FSCI_I64, FSCI_F64, FSCI_F64, FSCI_I64};
    fsci_array *a = NULL;
    char what[64];
    snprintf(what, sizeof what, "--n %lld (%lld draws of 8 bytes)", (long long)o.n, (long long)o.n);
    /* refuse what cannot work before drawing anything */
    int st = cli_check_output(common->output, false);
    if (!st) st = fsci_sys_check_memory(what, 8.0 * (double)o.n);
    if (!st) st = fsci_sys_check_disk(what, common->output, 8.0 * (double)o.n + 128);
    if (!st && (st = fsci_array_create(types[kind], 1, &o.n, false, &a)) == FSCI_ENOMEM)
        st = fsci_error_set(st, __FILE__, __LINE__, __func__, "%s: out of memory for %.3g GB", what,
                            8e-9 * (double)o.n);
    if (!st) {
        void *d = a->view.data;
        uint64_t seed = common->seed, stream = (uint64_t)o.stream;
        static fsci_event ev = -1;
        if (!(st = fsci_profile_register("random.draw", &ev))) {
            double t0 = fsci_profile_begin(ev);
            switch (kind) {
            case 0: st = fsci_rng_fill_poisson(seed, stream, &o.lam, 1, d, o.n, common->threads); break;
            case 1: st = fsci_rng_fill_uniform(seed, stream, d, o.n, common->threads); break;
            case 2: st = fsci_rng_fill_normal(seed, stream, d, o.n, common->threads); break;
            default: st = fsci_rng_fill_u64(seed, stream, d, o.n, common->threads); break;
            }
            fsci_profile_end(ev, t0, 8.0 * (double)o.n, 0);
        }
    }
    if (!st) st = fsci_npy_write(common->output, &a->view);
    fsci_array_destroy(&a);
    if (st) return cli_fail(st);
    cli_finish(common);
    return CLI_OK;
}

const cli_command cmd_random = {
    .name = "random",
    .run = run_random,
    .positional = true,
    .summary = "draw random numbers (Philox4x64-10) into a .npy file",
    .usage =
        "fastsci random poisson|uniform|normal|raw [--n N] [--lam X] [--seed S] [--stream K] -o FILE.npy",
    .params = random_params,
    .nparams = sizeof random_params / sizeof random_params[0],
    .details = "poisson: int64 counts, exact for every lam; uniform: float64 in [0,1); normal: float64;\n"
               "raw: the generator's 64-bit words (as int64 bits), equal to numpy.random.Philox(key=[seed, "
               "stream]).\n"
               "The output does not depend on --threads.\n",
};
