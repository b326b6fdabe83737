/* The settings stored in the database (robot_token_duration, robot_name_prefix,
 * token_expiration): read and validated writes, on a blocking connection. */
#pragma once
#include <libpq-fe.h>
#include "dockhand/common.h"
#include "dockhand/store_err.h"

#define SETTINGS_COUNT 3
#define SETTINGS_TOKEN_EXPIRATION_MAX 1440 /* minutes (a day) */
extern const char *const settings_keys[SETTINGS_COUNT];
/* *value heap-allocated. */
int settings_get(PGconn *db, const char *key, char **value, struct store_err *err) DH_MUST_CHECK;
/* Validates (duration -1 or 1..ROBOT_DURATION_MAX; prefix name_prefix_valid;
 * token_expiration 1..SETTINGS_TOKEN_EXPIRATION_MAX minutes) and stores. */
int settings_set(PGconn *db, const char *key, const char *value,
                 struct store_err *err) DH_MUST_CHECK;
