#include "cli.h"
#include "commands.h"

static int run_version(int argc, char **argv, cli_common *common)
{
    cli_args pos;
    bool help;
    int rc = cli_parse(&cmd_version, argc, argv, NULL, common, &pos, &help);
    if (rc || help) return rc;
    if (pos.n > 0) {
        fprintf(stderr, "fastsci version: unexpected argument '%s'\nusage: %s\n", pos.v[0],
                cmd_version.usage);
        return CLI_USAGE;
    }
    printf("fastsci %s\n", fsci_version());
    return CLI_OK;
}

const cli_command cmd_version = {
    .name = "version",
    .run = run_version,
    .summary = "print the version",
    .usage = "fastsci version",
};
