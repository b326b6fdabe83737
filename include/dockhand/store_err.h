/* How a store function (robots, projects, settings, admins, audit, Harbor import) says
 * why it refused or failed: a class and a sentence for a person. The classes are the
 * store's own, not HTTP's: the API maps them to statuses (api_store_error in
 * src/http/api_call.c), the command line to exit codes (cli_fail). */
#pragma once
#include "dockhand/common.h"

enum store_status {
    STORE_OK = 0,
    STORE_INVALID,   /* the caller's input breaks a rule; msg says which */
    STORE_NOT_FOUND, /* the robot, project, administrator … does not exist */
    STORE_CONFLICT,  /* a duplicate name, or a secret that does not match */
    STORE_INTERNAL,  /* the database failed or memory ran out; msg is not for clients */
};

#define STORE_ERR_MSG_MAX 256

struct store_err {
    enum store_status status;
    char msg[STORE_ERR_MSG_MAX]; /* never holds a secret */
};

/* Fills err (status st, message formatted and cut at STORE_ERR_MSG_MAX) and returns the
 * project error code of the class (DH_ERR_INVALID, DH_ERR_NOTFOUND, DH_ERR_EXISTS,
 * DH_ERR_DB), so that a store function can `return store_fail(...)`. */
int store_fail(struct store_err *err, enum store_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* store_fail(err, STORE_INTERNAL, "internal server error"): the database failed or
 * memory ran out, and the details are in the log, not in err. */
int store_internal(struct store_err *err);
