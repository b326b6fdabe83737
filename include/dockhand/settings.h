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
#define SETTINGS_NORM_LEN 24 /* a normalised integer value, NUL included */
/* settings_set's check, with no database: 0 when value suits key, *value then pointing at
 * the text to store (norm, for the integer settings); else STORE_INVALID in err. */
int settings_check(const char *key, const char **value, char norm[SETTINGS_NORM_LEN],
                   struct store_err *err) DH_MUST_CHECK;
/* Validates (duration -1 or 1..ROBOT_DURATION_MAX; prefix name_prefix_valid;
 * token_expiration 1..SETTINGS_TOKEN_EXPIRATION_MAX minutes) and stores. */
int settings_set(PGconn *db, const char *key, const char *value,
                 struct store_err *err) DH_MUST_CHECK;
