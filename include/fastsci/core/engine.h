/* fastsci: the engine contract.
 *
 * Every engine registers one fsci_engine: its name, a one-line summary, its
 * commands (each with a parameter table, the array inputs it accepts, the kind
 * of output it writes and a run function) and an optional demo section. The
 * command-line program, the demo report and the Python module all read the
 * same registry (fsci_engine_count / fsci_engine_at / fsci_engine_find), so an
 * engine added to src/engine_list.h appears in all three with no other change.
 * doc/ADDING_AN_ENGINE.md is the recipe.
 *
 * A run takes a run context (threads, seed, progress, quiet, profile, where
 * result lines go) and writes every output through an fsci_sink: an .npz file,
 * a directory of files, or memory (the Python module's dicts). */
#ifndef FASTSCI_CORE_ENGINE_H
#define FASTSCI_CORE_ENGINE_H

#include <stdbool.h>
#include <stdio.h>

#include "fastsci/core/array.h"
#include "fastsci/core/defs.h"
#include "fastsci/core/params.h"
#include "fastsci/core/sink.h"

/* The run context. Clients fill it (fsci_ctx_init gives the defaults) and pass
 * it, read-only, to a command's run. */
typedef struct fsci_ctx {
    int threads;        /* worker threads; 0: the default (FSCI_NUM_THREADS or all cores) */
    uint64_t seed;      /* the random seed when seed_set */
    bool seed_set;      /* false: the command's default_seed */
    bool progress;      /* progress on stderr (a bar on a terminal, plain lines otherwise) */
    bool quiet;         /* no progress, no warnings, no status lines (results still go to out) */
    bool profile;       /* record profiling events (printed by the client) */
    FILE *out;          /* human-readable result lines (the CLI: stdout); NULL: none */
    const char *output; /* the path the sink writes (for up-front size checks); NULL: memory */
    /* Input files of a command with positional_many when the client names several,
     * or one folder (the CLI's positional arguments; NULL, 0: none). ctx->output is
     * then a folder that the run writes itself, on every MPI rank. */
    const char *const *paths;
    int npaths;
} fsci_ctx;

/* Defaults: threads 0, seed unset, no progress, not quiet, no profile, out NULL. */
FSCI_API void fsci_ctx_init(fsci_ctx *c);

/* The seed a run uses: c->seed if set, else `engine_default`. */
FSCI_API uint64_t fsci_ctx_seed(const fsci_ctx *c, uint64_t engine_default);

/* Print a result line to c->out (nothing if NULL). Results are printed even
 * when quiet; status lines check c->quiet themselves. */
FSCI_API void fsci_ctx_printf(const fsci_ctx *c, const char *fmt, ...) FSCI_PRINTF(2, 3);

/* Named array inputs a client hands to a command (the Python module's arrays;
 * the CLI passes none and names files through parameters instead). */
typedef struct fsci_input {
    const char *name;
    fsci_view view;
} fsci_input;

typedef struct fsci_inputs {
    const fsci_input *v;
    int n;
} fsci_inputs;

/* The view named `name`, or NULL if absent (in may be NULL). */
FSCI_API const fsci_view *fsci_inputs_get(const fsci_inputs *in, const char *name);

/* What a command's -o / output= names. */
typedef enum fsci_output_kind {
    FSCI_OUTPUT_NONE = 0, /* the command writes no file */
    FSCI_OUTPUT_NPZ,      /* one .npz archive; every member goes into it */
    FSCI_OUTPUT_DIR,      /* a directory; each member is a file, the set appears at once */
    FSCI_OUTPUT_TEXT      /* one text file: the run's single text member */
} fsci_output_kind;

/* A command of an engine: `fastsci ENGINE COMMAND [options]`,
 * `fastsci.ENGINE.COMMAND(**params)`. */
typedef struct fsci_command {
    const char *name;    /* "simulate" */
    const char *summary; /* one line */
    const char *usage;   /* what follows "fastsci ENGINE COMMAND", e.g. "[options] -o data.npz" */
    const char *details; /* further help text (lines end in '\n'), may be NULL */
    const fsci_param *params;
    int nparams;
    size_t opts_size;          /* size of the options struct the table fills */
    const char *const *inputs; /* NULL-terminated names of accepted array inputs; NULL: none */
    fsci_output_kind output;
    bool output_required; /* the CLI refuses to run without -o */
    /* NULL-terminated file suffixes (".sgy") the command writes itself: an
     * output path ending in one gets a memory sink (for the summary) and the
     * run writes ctx->output through the atomic writer. NULL: none. */
    const char *const *own_formats;
    /* The STRING parameter a single positional argument fills (the CLI's
     * `fastsci ENGINE COMMAND FILE`), or NULL: no positional argument. */
    const char *positional;
    /* The command also takes several positional arguments, or one folder: the
     * CLI then passes them in ctx->paths (the positional parameter stays empty),
     * opens no sink, and checks -o as a folder. */
    bool positional_many;
    uint64_t default_seed;
    /* Validate the options before any output is opened; a failure is a usage
     * error (CLI exit 2). May be NULL. */
    int (*check)(const void *opts, const fsci_ctx *ctx);
    /* Run. `sink` receives every output; it is NULL when the output is
     * optional and the client asked for none. Returns a status. */
    int (*run)(const void *opts, const fsci_inputs *in, const fsci_ctx *ctx, fsci_sink *sink);
} fsci_command;

typedef struct fsci_report fsci_report;

/* One engine's registration. */
typedef struct fsci_engine {
    const char *name;    /* "ptycho": the CLI command, Python submodule and demo section */
    const char *title;   /* heading of its demo section */
    const char *summary; /* one line for `fastsci --help` */
    const fsci_command *commands;
    int ncommands;
    /* Its section of the demo report (`quick`: small workloads for tests); NULL: none. */
    int (*demo)(fsci_report *r, const fsci_ctx *ctx, bool quick);
} fsci_engine;

/* The registry, in the order of src/engine_list.h. */
FSCI_API int fsci_engine_count(void);
FSCI_API const fsci_engine *fsci_engine_at(int i);
/* By name; NULL if there is none. */
FSCI_API const fsci_engine *fsci_engine_find(const char *name);
FSCI_API const fsci_command *fsci_engine_command(const fsci_engine *e, const char *name);

/* True when `path` ends in one of c->own_formats (case-insensitive). */
FSCI_API bool fsci_command_owns_output(const fsci_command *c, const char *path);
/* Run a command: checks its arguments (a sink is required when the command
 * writes output and given), runs `check` then `run`. Thread-safe if the
 * command's run is. */
FSCI_API int fsci_command_run(const fsci_command *c, const void *opts, const fsci_inputs *in,
                              const fsci_ctx *ctx, fsci_sink *sink) FSCI_WUR;

#endif
