/* Small things every module uses. */
#pragma once
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DH_MUST_CHECK __attribute__((warn_unused_result))
#define DH_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define DH_UNUSED __attribute__((unused))

/* The commit this binary was built from (src/util/revision.c.in), or "unknown". */
extern const char dockhand_revision[];

/* Project error codes (negative, beyond errno's range). */
enum {
    DH_ERR_INVALID = -EINVAL,  /* malformed input */
    DH_ERR_TOOBIG = -E2BIG,    /* input over a named limit */
    DH_ERR_NOMEM = -ENOMEM,    /* allocation failed */
    DH_ERR_NOTFOUND = -ENOENT, /* no such object */
    DH_ERR_EXISTS = -EEXIST,   /* duplicate */
    DH_ERR_DB = -10001,        /* database unreachable or failed */
    DH_ERR_CRYPTO = -10002,    /* OpenSSL failure */
};
