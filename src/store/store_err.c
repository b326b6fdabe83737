#include "dockhand/store_err.h"

#include <stdarg.h>
#include <stdio.h>

int store_fail(struct store_err *err, enum store_status st, const char *fmt, ...)
{
    va_list ap;
    err->status = st;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    switch (st) {
    case STORE_OK:
        return 0;
    case STORE_INVALID:
        return DH_ERR_INVALID;
    case STORE_NOT_FOUND:
        return DH_ERR_NOTFOUND;
    case STORE_CONFLICT:
        return DH_ERR_EXISTS;
    default:
        return DH_ERR_DB;
    }
}

int store_internal(struct store_err *err)
{
    return store_fail(err, STORE_INTERNAL, "internal server error");
}
