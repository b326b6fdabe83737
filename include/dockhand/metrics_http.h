/* The Prometheus listener: GET /metrics on its own address (DOCKHAND_METRICS_LISTEN), on
 * its own thread, so that a scrape never waits behind token traffic and the public port
 * never shows it. What it exports is listed in README "Metrics". */
#pragma once
#include "dockhand/jsonw.h"

struct server_state;
struct metrics_server;

/* Binds listen ("host:port") and starts the thread. NULL (logged) when it cannot. */
struct metrics_server *metrics_server_start(struct server_state *st, const char *listen);

/* Stops the thread and closes the listener. Accepts NULL. */
void metrics_server_stop(struct metrics_server *ms);

/* The exposition text of st now (what GET /metrics answers). */
void metrics_render(struct server_state *st, struct jsonw *out);
