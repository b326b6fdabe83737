/* The admin REST API (Harbor v2.0 compatible subset, README "Admin API"). Requests are
 * parsed on the worker's loop and handed to a small pool of API threads (workpool.h),
 * each with its own blocking database connection; the reply goes back to the worker's
 * loop. Only administrators authenticate; robots get 403. */
#pragma once
#include <event2/http.h>

#define API_QUEUE_MAX 1024 /* waiting API requests before 503 */

struct server_state;
struct worker;
struct workpool;

/* Starts threads API threads, each with its own database connection, closed when the
 * thread ends; workpool_free finishes the queued calls and stops them. */
struct workpool *apipool_new(int threads);

/* Takes an /api/v2.0/ or /c/ request from the worker's loop. */
void api_handle(struct worker *w, struct evhttp_request *req);
