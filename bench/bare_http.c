/* L_http: the bare libevent limit. One thread, one evhttp, a fixed small JSON body:
 * what this machine can answer at all, for the benchmark's ratios. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

static const char body[] = "{\"token\":\"x\",\"expires_in\":300}";

static void reply(struct evhttp_request *req, void *arg)
{
    struct evbuffer *out = evbuffer_new();
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evbuffer_add(out, body, sizeof(body) - 1);
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 5099;
    struct event_base *base = event_base_new();
    struct evhttp *http = evhttp_new(base);
    if (!base || !http || evhttp_bind_socket(http, "127.0.0.1", (ev_uint16_t)port) != 0) {
        fprintf(stderr, "bare_http: cannot listen on 127.0.0.1:%d\n", port);
        return 1;
    }
    evhttp_set_gencb(http, reply, NULL);
    event_base_dispatch(base);
    return 0;
}
