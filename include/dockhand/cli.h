/* The `dockhand` command line: serve, migrate, keygen, project, robot, config. */
#pragma once
#include "dockhand/config.h"

/* Runs the command in argv (settings flags already taken out by config_load).
 * Returns the exit code: 0 ok, 1 a refused or failed operation, 2 a usage error. */
int cli_main(struct config *cfg, int argc, char **argv);
