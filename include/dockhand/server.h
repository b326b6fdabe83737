/* `dockhand serve`: worker threads on one listening socket, each with its own
 * event_base, evhttp and database pool (README "How it runs"), and the route table
 * that hands each request to its handler (http.h). */
#pragma once
#include "dockhand/config.h"
#include "dockhand/http.h"

/* One entry of the route table: a request whose path equals path (or, with prefix set,
 * starts with it) goes to handle. The first match wins. */
struct server_route {
    const char *path;
    bool prefix;
    http_handler_fn *handle;
    enum route_group group; /* for the request duration metric */
};

/* Runs the server until SIGTERM/SIGINT. Returns the process exit code. */
int server_run(const struct config *cfg);
