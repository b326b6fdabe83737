/* Files compiled into the binary (SQL migrations, later the web page). */
#pragma once
#include <stddef.h>

struct embedded_file {
    const char *name;          /* base name, e.g. "001_initial.sql" */
    const unsigned char *data; /* NUL-terminated for convenience */
    size_t len;                /* length without the NUL */
};

/* The SQL migrations in name order, terminated by an entry with name NULL. */
extern const struct embedded_file migrations[];
