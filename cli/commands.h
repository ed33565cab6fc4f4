/* The subcommand table's entries, one per cmd_*.c file. */
#ifndef FASTSCI_CLI_COMMANDS_H
#define FASTSCI_CLI_COMMANDS_H

#include "cli.h"

extern const cli_command cmd_demo;
extern const cli_command cmd_info;
extern const cli_command cmd_proton;
extern const cli_command cmd_ptycho;
extern const cli_command cmd_random;
extern const cli_command cmd_version;

#endif
