/* `fastsci ENGINE COMMAND ...` for every registered engine: parse the command's
 * parameter table, open the output its kind names, run, close. Nothing here is
 * engine-specific: engines register themselves in the library (src/engine_list.h). */
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

enum { SPEC_TEXT = 512 };

/* The command's help and parsing description. */
static void make_spec(const fsci_engine *e, const fsci_command *c, cli_command *spec, char *name, char *usage)
{
    snprintf(name, SPEC_TEXT, "%s %s", e->name, c->name);
    snprintf(usage, SPEC_TEXT, "fastsci %s %s %s", e->name, c->name, c->usage ? c->usage : "[options]");
    *spec = (cli_command){.name = name,
                          .summary = c->summary,
                          .usage = usage,
                          .params = c->params,
                          .nparams = c->nparams,
                          .details = c->details,
                          .positional = c->positional != NULL};
}

void cli_engine_help(const fsci_engine *e, FILE *f)
{
    fprintf(f, "usage: fastsci %s <command> [options]\n\n%s\n\ncommands:\n", e->name, e->summary);
    for (int i = 0; i < e->ncommands; i++)
        fprintf(f, "  %-12s %s\n", e->commands[i].name, e->commands[i].summary);
    fprintf(f, "\n'fastsci help %s <command>' shows a command's options.\n", e->name);
}

static int engine_usage(const fsci_engine *e, const char *msg, const char *arg)
{
    fprintf(stderr, "fastsci %s: %s%s%s\n", e->name, msg, arg ? " " : "", arg ? arg : "");
    fprintf(stderr, "usage: fastsci %s <command> [options] (see 'fastsci help %s')\n", e->name, e->name);
    return CLI_USAGE;
}

/* A command whose parameter table has a boolean "compress" deflates its .npz. */
static bool wants_compression(const fsci_command *c, const void *opts)
{
    const fsci_param *p = fsci_params_find(c->params, c->nparams, "compress");
    return p && p->type == FSCI_PARAM_BOOL && *(const bool *)((const char *)opts + p->offset);
}

static int open_sink(const fsci_command *c, const void *opts, const char *path, fsci_sink **sink)
{
    *sink = NULL;
    if (!path) return FSCI_OK;
    if (fsci_command_owns_output(c, path)) return fsci_sink_memory_create(sink); /* the run writes path */
    switch (c->output) {
    case FSCI_OUTPUT_NPZ: return fsci_sink_npz_create(path, wants_compression(c, opts), sink);
    case FSCI_OUTPUT_DIR: return fsci_sink_dir_create(path, sink);
    case FSCI_OUTPUT_TEXT: return fsci_sink_memory_create(sink);
    default: return FSCI_OK;
    }
}

/* A text command's single text member, written atomically to `path`. */
static int write_text_output(fsci_sink *sink, const char *path)
{
    int st = FSCI_OK;
    for (int64_t i = 0; i < fsci_sink_memory_count(sink); i++) {
        const char *name;
        fsci_array *a = NULL;
        char *text = NULL;
        st = fsci_sink_memory_take(sink, i, &name, &a, &text);
        if (!st && text) st = fsci_atomic_write_file(path, text, strlen(text));
        fsci_array_destroy(&a);
        fsci_free(text);
        if (st) return st;
    }
    return st;
}

static int finish_output(const fsci_command *c, fsci_sink *sink, const char *path)
{
    int st = FSCI_OK;
    if (!sink) return FSCI_OK;
    FSCI_TRY(fsci_sink_close(sink));
    if (c->output == FSCI_OUTPUT_TEXT && !fsci_command_owns_output(c, path))
        FSCI_TRY(write_text_output(sink, path));
fail:
    return st;
}

static int run_command(const fsci_engine *e, const fsci_command *c, int argc, char **argv)
{
    char name[SPEC_TEXT], usage[SPEC_TEXT];
    cli_command spec;
    make_spec(e, c, &spec, name, usage);
    cli_common common = {0};
    cli_args pos;
    bool help;
    void *opts = fsci_calloc(1, c->opts_size ? c->opts_size : 1);
    fsci_sink *sink = NULL;
    int rc = opts ? cli_parse(&spec, argc, argv, opts, &common, &pos, &help) : cli_fail(FSCI_ENOMEM);
    if (rc || help) goto done;
    /* several inputs, or one folder: the run gets them all in ctx.paths and -o names a folder */
    struct stat sb;
    const bool many = c->positional && c->positional_many &&
                      (pos.n > 1 || (pos.n == 1 && stat(pos.v[0], &sb) == 0 && S_ISDIR(sb.st_mode)));
    if (pos.n > (c->positional ? 1 : 0) && !many) {
        rc = cli_usage(&spec, "unexpected argument '%s'", pos.v[c->positional ? 1 : 0]);
        goto done;
    }
    if (pos.n == 1 && !many) {
        const fsci_param *pp = fsci_params_find(c->params, c->nparams, c->positional);
        if (pp && pp->type == FSCI_PARAM_STRING && ((const char *)opts + pp->offset)[0]) {
            rc = cli_usage(&spec, "give the file once: '%s' and --%s", pos.v[0], c->positional);
            goto done;
        }
        if (fsci_params_set(c->params, c->nparams, opts, c->positional, pos.v[0])) {
            rc = cli_usage(&spec, "%s", fsci_error_message());
            goto done;
        }
    }
    if (c->output == FSCI_OUTPUT_NONE && common.output) {
        rc = cli_usage(&spec, "-o/--output: this command writes no file");
        goto done;
    }
    if (c->output_required && !common.output) {
        rc = cli_usage(&spec, "-o/--output is required");
        goto done;
    }
    if ((rc = cli_apply_common(&common))) goto done;
    fsci_ctx ctx;
    cli_make_ctx(&common, &ctx);
    const char *folder = many ? common.output : NULL; /* every rank writes its own files there */
    if (many) {
        ctx.paths = (const char *const *)pos.v;
        ctx.npaths = pos.n;
    }
    if (fsci_mpi_rank() > 0) { /* under mpirun: rank 0 prints and writes, the others compute */
        common.output = NULL;
        common.quiet = true;
        ctx.out = NULL;
        ctx.quiet = true;
        ctx.progress = false;
    }
    ctx.output = many ? folder : c->output == FSCI_OUTPUT_NONE ? NULL : common.output;
    if (c->check && (rc = c->check(opts, &ctx))) {
        /* a bad value is a usage error; an input file that cannot be read is a failure */
        if (rc == FSCI_EINVAL || rc == FSCI_ERANGE) {
            fprintf(stderr, "fastsci %s: %s\n", name, fsci_error_message());
            rc = CLI_USAGE;
        } else {
            rc = cli_fail(rc);
        }
        goto done;
    }
    int st = common.output ? cli_check_output(common.output, c->output == FSCI_OUTPUT_DIR || many) : FSCI_OK;
    if (!st && !many) st = open_sink(c, opts, common.output, &sink);
    double t0 = fsci_clock();
    if (!st) st = fsci_command_run(c, opts, NULL, &ctx, sink);
    if (!st) st = finish_output(c, sink, common.output);
    if (st) {
        rc = cli_fail(st);
        goto done;
    }
    if (common.output && !common.quiet) cli_report_written(common.output, fsci_clock() - t0);
    cli_finish(&common);
    rc = CLI_OK;
done:
    fsci_sink_destroy(&sink);
    fsci_free(opts);
    return rc;
}

int cli_run_engine(const fsci_engine *e, int argc, char **argv)
{
    if (argc < 2) {
        char list[256] = "";
        for (int i = 0; i < e->ncommands; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                     e->commands[i].name);
        return engine_usage(e, "expected a command:", list);
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        cli_engine_help(e, stdout);
        return CLI_OK;
    }
    const fsci_command *c = fsci_engine_command(e, argv[1]);
    if (!c) return engine_usage(e, "unknown subcommand", argv[1]);
    return run_command(e, c, argc - 1, argv + 1);
}

int cli_engine_command_help(const fsci_engine *e, const char *command, FILE *f)
{
    const fsci_command *c = fsci_engine_command(e, command);
    if (!c) return engine_usage(e, "unknown subcommand", command);
    char name[SPEC_TEXT], usage[SPEC_TEXT];
    cli_command spec;
    make_spec(e, c, &spec, name, usage);
    cli_help(&spec, f);
    return CLI_OK;
}
