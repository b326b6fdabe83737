/* The settings stored in the database (settings.h). */
#include "dockhand/settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/db.h"
#include "dockhand/names.h"
#include "dockhand/robots.h"

const char *const settings_keys[SETTINGS_COUNT] = {
    "robot_token_duration",
    "robot_name_prefix",
    "token_expiration",
};

static bool settings_known(const char *key)
{
    for (size_t i = 0; i < SETTINGS_COUNT; i++)
        if (strcmp(key, settings_keys[i]) == 0)
            return true;
    return false;
}

int settings_get(PGconn *db, const char *key, char **value, struct store_err *err)
{
    *value = NULL;
    if (!settings_known(key))
        return store_fail(err, STORE_INVALID, "unknown setting %.64s", key);
    const char *p[] = {key};
    /* The prefix as the login-name rule reads it (sql/007): its default when the row is
     * missing, so that the page's preview and the names robots log in with agree. */
    PGresult *res = db_exec(db, PGRES_TUPLES_OK,
                            "SELECT CASE WHEN $1 = 'robot_name_prefix'"
                            " THEN dockhand_robot_name_prefix()"
                            " ELSE (SELECT value FROM settings WHERE key = $1) END",
                            1, p);
    if (!res || PQntuples(res) == 0 || PQgetisnull(res, 0, 0)) {
        PQclear(res);
        return store_internal(err);
    }
    *value = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return *value ? 0 : store_internal(err);
}

static bool int_in(const char *v, long lo, long hi, long *out)
{
    char *end;
    if (!*v || strlen(v) > 12)
        return false;
    long x = strtol(v, &end, 10);
    if (*end || x < lo || x > hi)
        return false;
    *out = x;
    return true;
}

int settings_check(const char *key, const char **value, char norm[SETTINGS_NORM_LEN],
                   struct store_err *err)
{
    long x;
    if (!settings_known(key))
        return store_fail(err, STORE_INVALID, "unknown setting %.64s", key);
    if (strcmp(key, "robot_name_prefix") == 0) {
        if (!name_prefix_valid(*value))
            return store_fail(err, STORE_INVALID,
                              "robot_name_prefix must be 1-%d printable ASCII characters without"
                              " spaces or ':'",
                              PREFIX_MAX_LEN);
    } else if (strcmp(key, "robot_token_duration") == 0) {
        if (!int_in(*value, -1, ROBOT_DURATION_MAX, &x) || x == 0)
            return store_fail(err, STORE_INVALID,
                              "robot_token_duration must be -1 (never) or 1 to %d days",
                              ROBOT_DURATION_MAX);
        snprintf(norm, SETTINGS_NORM_LEN, "%ld", x);
        *value = norm;
    } else {
        if (!int_in(*value, 1, SETTINGS_TOKEN_EXPIRATION_MAX, &x))
            return store_fail(err, STORE_INVALID, "token_expiration must be 1 to %d minutes",
                              SETTINGS_TOKEN_EXPIRATION_MAX);
        snprintf(norm, SETTINGS_NORM_LEN, "%ld", x);
        *value = norm;
    }
    return 0;
}

int settings_set(PGconn *db, const char *key, const char *value, struct store_err *err)
{
    char norm[SETTINGS_NORM_LEN];
    int rc = settings_check(key, &value, norm, err);
    if (rc < 0)
        return rc;
    const char *p[] = {key, value};
    PGresult *res =
        db_exec(db, PGRES_COMMAND_OK, "UPDATE settings SET value = $2 WHERE key = $1", 2, p);
    if (!res)
        return store_internal(err);
    PQclear(res);
    return 0;
}
