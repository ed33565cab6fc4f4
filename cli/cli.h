/* fastsci command-line program: shared pieces of the subcommands. */
#ifndef FASTSCI_CLI_H
#define FASTSCI_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "fastsci/fastsci.h"

/* Exit codes: 0 success, 1 failure, 2 usage error. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* Options every subcommand shares, defined once (opts.c). */
typedef struct cli_common {
    int threads; /* 0: default (FSCI_NUM_THREADS or all cores) */
    uint64_t seed;
    bool seed_set;
    bool profile;
    bool quiet;
    const char *output; /* -o / --output */
} cli_common;

/* A subcommand: `fastsci NAME ...`. */
typedef struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv, cli_common *common);
    const char *summary; /* one line for `fastsci --help` */
    const char *usage;   /* "fastsci NAME [options] ..." */
    const fsci_param *params;
    int nparams;
    const char *details; /* extra help text, may be NULL */
    bool positional;     /* takes positional arguments (random, info) */
} cli_command;

/* Positional arguments left after option parsing. */
typedef struct cli_args {
    int n;
    char **v;
} cli_args;

/* Parse argv (argv[0] is the subcommand name): shared options into *common,
 * the command's parameters into *obj, the rest into *pos. Returns CLI_OK, or
 * CLI_USAGE after printing one line and the usage; sets *help_shown when
 * --help was given (the caller then returns CLI_OK). */
int cli_parse(const cli_command *cmd, int argc, char **argv, void *obj, cli_common *common, cli_args *pos,
              bool *help_shown);

/* Print the full help of a command (usage, shared options, parameters). */
void cli_help(const cli_command *cmd, FILE *f);

/* Apply shared options to the library (threads, quiet, profile). */
int cli_apply_common(const cli_common *common);

/* Print "fastsci: <library message>" (or the status text) and return CLI_FAIL. */
int cli_fail(int status);

/* Print the profile table if --profile was given. */
void cli_finish(const cli_common *common);

/* Look up a built-in command by name in the table (main.c). */
const cli_command *cli_find(const char *name);

/* Print "fastsci NAME: message" and the usage line; returns CLI_USAGE. */
int cli_usage(const cli_command *cmd, const char *fmt, ...) FSCI_PRINTF(2, 3);

/* Refuse, before computing, an output path that cannot work: its folder must
 * exist and be writable; a folder output must not be a file, a file output not
 * a folder. Returns a status with the message set. */
int cli_check_output(const char *path, bool folder);

/* The run context of the shared options (result lines to stdout). */
void cli_make_ctx(const cli_common *common, fsci_ctx *ctx);

/* "fastsci: wrote PATH (size) in T s" on stderr. */
void cli_report_written(const char *path, double seconds);

/* Engines (cmd_engine.c): `fastsci ENGINE COMMAND ...`, the engine's help,
 * and one command's help. */
int cli_run_engine(const fsci_engine *e, int argc, char **argv);
void cli_engine_help(const fsci_engine *e, FILE *f);
int cli_engine_command_help(const fsci_engine *e, const char *command, FILE *f);

#endif
