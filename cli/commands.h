/* The built-in commands, one per cmd_*.c file (engines come from the library's registry). */
#ifndef FASTSCI_CLI_COMMANDS_H
#define FASTSCI_CLI_COMMANDS_H

#include "cli.h"

extern const cli_command cmd_demo;
extern const cli_command cmd_info;
extern const cli_command cmd_random;
extern const cli_command cmd_version;

#endif
