#include "dockhand/admin.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "dockhand/db.h"
#include "dockhand/names.h"
#include "dockhand/secret.h"
#include "dockhand/store_util.h"

static int name_check(const char *name, struct store_err *err)
{
    if (!name || !name_valid(name))
        return store_fail(
            err, STORE_INVALID,
            "invalid administrator name: use 1-255 of a-z 0-9 and . _ - between them");
    return 0;
}

/* 1 when name exists, 0 when not, DH_ERR_DB. */
static int admin_exists(PGconn *db, const char *name)
{
    const char *p[] = {name};
    int found = store_rows(db, "SELECT 1 FROM admins WHERE name = $1", 1, p);
    return found < 0 ? found : found > 0;
}

/* The hash of the given password (checked against the policy) or of a generated one,
 * written to generated. */
static int password_hash(const char *password, size_t len, char generated[SECRET_GEN_LEN + 1],
                         char **hash, struct store_err *err)
{
    *hash = NULL;
    generated[0] = '\0';
    if (password) {
        const char *why = secret_policy_check(password, len);
        /* The policy speaks of robot secrets: "the secret must …". */
        if (why && strncmp(why, "the secret ", 11) == 0)
            return store_fail(err, STORE_INVALID, "the password %s", why + 11);
        if (why)
            return store_fail(err, STORE_INVALID, "%s", why);
        if (secret_hash(password, len, secret_slow_iterations(), hash) < 0)
            return store_internal(err);
        return 0;
    }
    if (secret_generate(generated) < 0 ||
        secret_hash(generated, SECRET_GEN_LEN, secret_slow_iterations(), hash) < 0) {
        OPENSSL_cleanse(generated, SECRET_GEN_LEN + 1);
        return store_internal(err);
    }
    return 0;
}

static void hash_free(char *hash)
{
    if (hash) {
        OPENSSL_cleanse(hash, strlen(hash));
        free(hash);
    }
}

/* Hashes the password (or a generated one, into generated) and runs sql with $1 the name
 * and $2 the hash; no row back means the name was taken (creating) or is gone (not
 * creating). The generated password is wiped on failure. */
static int admin_write_password(PGconn *db, const char *sql, const char *name, const char *password,
                                size_t password_len, char generated[SECRET_GEN_LEN + 1],
                                bool creating, struct store_err *err)
{
    char *hash = NULL;
    int rc = password_hash(password, password_len, generated, &hash, err);
    if (rc < 0)
        return rc;
    const char *p[] = {name, hash};
    int rows = store_rows(db, sql, 2, p);
    hash_free(hash);
    if (rows > 0)
        return 0;
    if (rows < 0)
        rc = store_internal(err);
    else if (creating)
        rc = store_fail(err, STORE_CONFLICT, "administrator %s already exists", name);
    else
        rc = store_fail(err, STORE_NOT_FOUND, "administrator %s not found", name);
    OPENSSL_cleanse(generated, SECRET_GEN_LEN + 1);
    return rc;
}

int admin_create(PGconn *db, const char *name, const char *password, size_t password_len,
                 char generated[SECRET_GEN_LEN + 1], struct store_err *err)
{
    generated[0] = '\0';
    int rc = name_check(name, err);
    if (rc < 0)
        return rc;
    /* Refuse a duplicate before paying for the hash (the INSERT still decides). */
    rc = admin_exists(db, name);
    if (rc < 0)
        return store_internal(err);
    if (rc > 0)
        return store_fail(err, STORE_CONFLICT, "administrator %s already exists", name);
    return admin_write_password(db,
                                "INSERT INTO admins (name, password_hash) VALUES ($1, $2)"
                                " ON CONFLICT (name) DO NOTHING RETURNING id",
                                name, password, password_len, generated, true, err);
}

int admin_passwd(PGconn *db, const char *name, const char *password, size_t password_len,
                 char generated[SECRET_GEN_LEN + 1], struct store_err *err)
{
    generated[0] = '\0';
    /* No administrator can have an invalid name. */
    if (!name || !name_valid(name))
        return store_fail(err, STORE_NOT_FOUND, "administrator not found");
    int rc = admin_exists(db, name);
    if (rc < 0)
        return store_internal(err);
    if (rc == 0)
        return store_fail(err, STORE_NOT_FOUND, "administrator %s not found", name);
    return admin_write_password(
        db,
        "UPDATE admins SET password_hash = $2, cred_version = cred_version + 1,"
        " update_time = now() WHERE name = $1 RETURNING id",
        name, password, password_len, generated, false, err);
}

int admin_delete(PGconn *db, const char *name, struct store_err *err)
{
    if (!name || !name_valid(name))
        return store_fail(err, STORE_NOT_FOUND, "administrator not found");
    const char *p[] = {name};
    int found = store_rows(db, "DELETE FROM admins WHERE name = $1 RETURNING id", 1, p);
    if (found < 0)
        return store_internal(err);
    return found ? 0 : store_fail(err, STORE_NOT_FOUND, "administrator %s not found", name);
}

void admin_list_free(struct admin *list, size_t n)
{
    for (size_t i = 0; list && i < n; i++) {
        free(list[i].name);
        free(list[i].creation_time);
        free(list[i].update_time);
    }
    free(list);
}

static void admins_free(void *list, size_t n)
{
    admin_list_free(list, n);
}

static int admin_from_row(const PGresult *res, int row, void *elem)
{
    struct admin *a = elem;
    a->id = strtoll(PQgetvalue(res, row, 0), NULL, 10);
    a->name = strdup(PQgetvalue(res, row, 1));
    a->creation_time = strdup(PQgetvalue(res, row, 2));
    a->update_time = strdup(PQgetvalue(res, row, 3));
    return a->name && a->creation_time && a->update_time ? 0 : DH_ERR_NOMEM;
}

int admin_list(PGconn *db, struct admin **out, size_t *n, struct store_err *err)
{
    *out = NULL;
    *n = 0;
    PGresult *res = db_exec(db, PGRES_TUPLES_OK,
                            "SELECT id, name, " STORE_TS_SQL("creation_time") ", " STORE_TS_SQL(
                                "update_time") " FROM admins ORDER BY name",
                            0, NULL);
    if (!res)
        return store_internal(err);
    void *list;
    int rc = store_list_read(res, sizeof(**out), admin_from_row, admins_free, &list, n);
    *out = list;
    PQclear(res);
    return rc < 0 ? store_internal(err) : 0;
}

int admin_lookup(PGconn *db, const char *name, int64_t *id, char **hash, int *version)
{
    *hash = NULL;
    if (!name)
        return 0;
    /* Asked even for a name no administrator can have, so every name costs one query. */
    const char *p[] = {name};
    PGresult *res =
        db_exec(db, PGRES_TUPLES_OK,
                "SELECT id, password_hash, cred_version FROM admins WHERE name = $1", 1, p);
    if (!res)
        return DH_ERR_DB;
    int rc = 0;
    if (PQntuples(res) > 0) {
        *id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        *version = atoi(PQgetvalue(res, 0, 2));
        *hash = strdup(PQgetvalue(res, 0, 1));
        rc = *hash ? 1 : DH_ERR_NOMEM;
    }
    PQclear(res);
    return rc;
}
