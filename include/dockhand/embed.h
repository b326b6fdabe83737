/* Files compiled into the binary (SQL migrations, the web page). */
#pragma once
#include <stddef.h>

struct embedded_file {
    const char *name;          /* base name, e.g. "001_initial.sql" */
    const unsigned char *data; /* NUL-terminated for convenience */
    size_t len;                /* length without the NUL */
};

/* The SQL migrations in name order, terminated by an entry with name NULL. */
extern const struct embedded_file migrations[];

/* One file of the web page (web/meson.build's web_files), served at /ui/<path>. */
struct web_asset {
    const char *path;          /* relative to web/, e.g. "app.js" or "img/logo.svg" */
    const char *content_type;  /* by extension, e.g. "text/javascript; charset=utf-8" */
    const unsigned char *data; /* NUL-terminated for convenience */
    size_t len;                /* length without the NUL */
    const char *etag;          /* strong ETag: "<SHA-256 of the content, hex>", quotes included */
};

/* The web page's files, terminated by an entry with path NULL. */
extern const struct web_asset web_assets[];
