/* Robot and project names, and the login-name prefix (docs/design.md §4.2 "Names"). */
#pragma once
#include "dockhand/common.h"

#define NAME_MAX_LEN 255       /* robot or project name, without prefix */
#define PREFIX_MAX_LEN 64      /* robot_name_prefix */
#define LEGACY_PREFIX "robot$" /* what legacy robots keep */
#define LOGIN_MAX_LEN 512      /* a login name as sent by a client */
/* name_valid's rule as a regular expression, POSIX extended and JavaScript alike: the web
 * page gets it from GET /c/limits; test_names checks that it and name_valid agree. */
#define NAME_PATTERN "^[a-z0-9]+([._-][a-z0-9]+)*$"

/* ^[a-z0-9]+(?:[._-][a-z0-9]+)*$ and 1..NAME_MAX_LEN bytes (robot names without
 * prefix, and project names). NULL gives false. */
bool name_valid(const char *name);

/* A prefix: 1..PREFIX_MAX_LEN printable ASCII characters, no space, no ':' (HTTP
 * Basic splits there). */
bool name_prefix_valid(const char *prefix);

/* The stored name of a project robot: "<project>+<name>". Heap string (free()),
 * or NULL when project or name is not name_valid, or on allocation failure. */
char *name_project_robot(const char *project, const char *name);

/* When login starts with prefix, the rest (the stored name, a pointer into login);
 * else NULL. Also NULL when nothing follows the prefix, the prefix is empty, or
 * login is longer than LOGIN_MAX_LEN. */
const char *name_strip_prefix(const char *login, const char *prefix);
