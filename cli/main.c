/* fastsci: one binary, subcommands through a table. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

static const cli_command *const commands[] = {
    &cmd_demo, &cmd_info, &cmd_proton, &cmd_ptycho, &cmd_random, &cmd_version,
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
    fprintf(f,
            "usage: fastsci <command> [options]\n\n"
            "fastsci %s: fast scientific pipelines (ptychography simulation, proton transport,\n"
            "Kirchhoff migration, N2V2 denoising, quantum-dot tuning) from one C library.\n\n"
            "commands:\n",
            fsci_version());
    for (int i = 0; i < NCOMMANDS; i++) fprintf(f, "  %-12s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(f, "  %-12s %s\n\n", "help", "help on a command: fastsci help <command>");
    fprintf(f, "Every command takes --threads N, --seed N, --profile, --quiet, -o/--output PATH, --help.\n");
}

int main(int argc, char **argv)
{
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
    if (strcmp(name, "help") == 0) {
        if (argc < 3) {
            main_help(stdout);
            return CLI_OK;
        }
        const cli_command *c = cli_find(argv[2]);
        if (!c) {
            fprintf(stderr, "fastsci help: unknown command '%s'\n", argv[2]);
            fprintf(stderr, "usage: fastsci help <command> (see 'fastsci --help')\n");
            return CLI_USAGE;
        }
        cli_help(c, stdout);
        return CLI_OK;
    }
    const cli_command *c = cli_find(name);
    if (!c) {
        fprintf(stderr, "fastsci: unknown command '%s'\n", name);
        fprintf(stderr, "usage: fastsci <command> [options] (see 'fastsci --help')\n");
        return CLI_USAGE;
    }
    cli_common common = {0};
    return c->run(argc - 1, argv + 1, &common);
}
