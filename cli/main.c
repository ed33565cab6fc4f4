/* fastsci: one binary. Built-in commands through a table; every registered
 * engine (the library's registry) is a command too. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

static const cli_command *const commands[] = {
    &cmd_demo,
    &cmd_info,
    &cmd_random,
    &cmd_version,
};
enum { NCOMMANDS = sizeof commands / sizeof commands[0] };

const cli_command *cli_find(const char *name)
{
    for (int i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i]->name, name) == 0) return commands[i];
    return NULL;
}

static void main_help(FILE *f)
{
    fprintf(
        f,
        "usage: fastsci <command> [options]\n\nfastsci %s: fast scientific pipelines from one C library.\n\n",
        fsci_version());
    fprintf(f, "engines:\n");
    for (int i = 0; i < fsci_engine_count(); i++)
        fprintf(f, "  %-12s %s\n", fsci_engine_at(i)->name, fsci_engine_at(i)->summary);
    fprintf(f, "\ncommands:\n");
    for (int i = 0; i < NCOMMANDS; i++) fprintf(f, "  %-12s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(f, "  %-12s %s\n\n", "help", "help on a command: fastsci help <command> [<subcommand>]");
    fprintf(f, "Every command takes --threads N, --seed N, --profile, --quiet, -o/--output PATH, --help.\n");
}

static int unknown(const char *who, const char *name)
{
    fprintf(stderr, "fastsci%s: unknown command '%s'\n", who, name);
    fprintf(stderr, "usage: fastsci <command> [options] (see 'fastsci --help')\n");
    return CLI_USAGE;
}

static int help(int argc, char **argv)
{
    if (argc < 3) {
        main_help(stdout);
        return CLI_OK;
    }
    const fsci_engine *e = fsci_engine_find(argv[2]);
    if (e && argc >= 4) return cli_engine_command_help(e, argv[3], stdout);
    if (e) {
        cli_engine_help(e, stdout);
        return CLI_OK;
    }
    const cli_command *c = cli_find(argv[2]);
    if (!c) return unknown(" help", argv[2]);
    cli_help(c, stdout);
    return CLI_OK;
}

static int run_main(int argc, char **argv)
{
    /* Ctrl-C, SIGTERM and SIGHUP remove live temporary files before the process
     * dies; a file-size limit surfaces as EFBIG on the write (SIGXFSZ ignored). */
    if (fsci_atomic_install_signal_cleanup() != FSCI_OK) return cli_fail(fsci_error_code());
    if (argc < 2) {
        fprintf(stderr, "fastsci: no command given\n");
        fprintf(stderr, "usage: fastsci <command> [options] (see 'fastsci --help')\n");
        return CLI_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        main_help(stdout);
        return CLI_OK;
    }
    if (strcmp(name, "--version") == 0) name = "version";
    if (strcmp(name, "help") == 0) return help(argc, argv);
    const fsci_engine *e = fsci_engine_find(name);
    if (e) return cli_run_engine(e, argc - 1, argv + 1);
    const cli_command *c = cli_find(name);
    if (!c) return unknown("", name);
    cli_common common = {0};
    return c->run(argc - 1, argv + 1, &common);
}

/* Results that could not be written to stdout (a full disk, a closed pipe) are
 * a failure, not a success. */
static int flush_stdout(int rc)
{
    if (fflush(stdout) == 0 && !ferror(stdout)) return rc;
    fprintf(stderr, "fastsci: cannot write the results to standard output: %s\n", strerror(errno));
    return rc ? rc : CLI_FAIL;
}

int main(int argc, char **argv)
{
    /* under mpirun: MPI first (it may consume its own arguments) */
    if (fsci_mpi_init(&argc, &argv) != FSCI_OK) return cli_fail(fsci_error_code());
    int rc = flush_stdout(run_main(argc, argv));
    if (rc != CLI_OK) fsci_mpi_abort(rc); /* one rank failed: do not leave the others waiting */
    fsci_mpi_finalize();
    return rc;
}
