/* A toy engine, added to a test build by the recipe of doc/ADDING_AN_ENGINE.md
 * (its folder plus one registration line, here given by the CMake option
 * FSCI_EXTRA_ENGINES instead of an edit of src/engine_list.h). It must appear
 * in `fastsci --help`, `fastsci demo` and `import fastsci` with no other change. */
#include <stddef.h>

#include "fastsci/fastsci.h"

typedef struct toy_opts {
    int64_t n;
    double scale;
} toy_opts;

static const fsci_param toy_params[] = {
    {"n", FSCI_PARAM_INT, offsetof(toy_opts, n), "8", 1, 1e6, NULL, "number of values"},
    {"scale", FSCI_PARAM_DOUBLE, offsetof(toy_opts, scale), "1", -1e6, 1e6, NULL, "slope of the ramp"},
};

static const char *const toy_inputs[] = {"offset", NULL};

/* ramp[i] = scale * i + offset[i] (offset: an optional float64 input of n values) + u_i / 1000,
 * u_i uniform from the run's seed. */
static int ramp_run(const void *opts, const fsci_inputs *in, const fsci_ctx *ctx, fsci_sink *sink)
{
    const toy_opts *o = opts;
    const fsci_view *off = fsci_inputs_get(in, "offset");
    int st = FSCI_OK;
    double *v = fsci_malloc((size_t)o->n, sizeof *v);
    FSCI_CHECK(v, FSCI_ENOMEM, "toy: out of memory");
    FSCI_CHECK_GOTO(!off || (off->dtype == FSCI_F64 && off->ndim == 1 && off->shape[0] == o->n &&
                             fsci_view_is_c_contiguous(off)),
                    FSCI_EINVAL, "toy: offset must be %lld contiguous float64 values", (long long)o->n);
    FSCI_TRY(fsci_rng_fill_uniform(fsci_ctx_seed(ctx, 7), 0, v, o->n, ctx->threads));
    double sum = 0;
    for (int64_t i = 0; i < o->n; i++) {
        v[i] = o->scale * (double)i + (off ? ((const double *)off->data)[i] : 0.0) + v[i] / 1000.0;
        sum += v[i];
    }
    fsci_view view;
    FSCI_TRY(fsci_view_init(&view, v, FSCI_F64, 1, &o->n, false));
    if (sink) FSCI_TRY(fsci_sink_add(sink, "ramp", &view));
    char summary[64];
    snprintf(summary, sizeof summary, "{\"sum\": %.17g}", sum);
    if (sink) FSCI_TRY(fsci_sink_set_summary(sink, summary));
    fsci_ctx_printf(ctx, "toy: sum %.6f\n", sum);
fail:
    fsci_free(v);
    return st;
}

static int toy_demo(fsci_report *r, const fsci_ctx *ctx, bool quick)
{
    (void)ctx;
    fsci_report_section(r, "toy", "Toy engine", "A section written by the toy engine of the recipe test.");
    fsci_report_html(r, "<p>toy demo ran (quick=%d)</p>\n", quick);
    return FSCI_OK;
}

static const fsci_command toy_commands[] = {
    {.name = "ramp",
     .summary = "a ramp plus a little seeded noise",
     .usage = "[--n N] [--scale X] [-o FILE.npz]",
     .params = toy_params,
     .nparams = 2,
     .opts_size = sizeof(toy_opts),
     .inputs = toy_inputs,
     .output = FSCI_OUTPUT_NPZ,
     .default_seed = 7,
     .run = ramp_run},
};

const fsci_engine fsci_engine_toy = {
    .name = "toy",
    .title = "Toy",
    .summary = "the recipe test's toy engine",
    .commands = toy_commands,
    .ncommands = 1,
    .demo = toy_demo,
};
