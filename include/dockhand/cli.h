/* The `dockhand` command line: serve, migrate, keygen, project, robot, config. */
#pragma once
#include "dockhand/config.h"

/* Runs the command in argv (settings flags already taken out by config_load).
 * Returns the exit code: 0 ok, 1 a refused or failed operation, 2 a usage error. */
int cli_main(struct config *cfg, int argc, char **argv);

/* `dockhand probe [PATH]` (cli_probe.c): GET PATH (NULL: /readyz) of this instance, over
 * HTTPS when it serves HTTPS; 0 on a 200, 1 otherwise, 2 for a bad PATH. */
int cli_probe(const struct config *cfg, const char *path);

#include <libpq-fe.h>

/* `dockhand admin create|passwd|list|delete` and `dockhand audit list` (cli_admin.c).
 * argv starts after the command word. */
int cli_admin(const struct config *cfg, PGconn *db, int argc, char **argv);
int cli_audit(const struct config *cfg, PGconn *db, int argc, char **argv);

/* `dockhand robot import FILE` (cli_import.c). */
int cli_robot_import(const struct config *cfg, PGconn *db, const char *path);

/* `dockhand robot federation add|list|remove ROBOT …` and `dockhand robot networks
 * set|list|clear ROBOT …` (cli_robotnet.c), the grammar already checked; r is the robot,
 * argv the words after ROBOT. */
struct robot;
int cli_robot_federation(const struct config *cfg, PGconn *db, const struct robot *r,
                         const char *action, int argc, char **argv);
int cli_robot_networks(const struct config *cfg, PGconn *db, const struct robot *r,
                       const char *action, int argc, char **argv);
