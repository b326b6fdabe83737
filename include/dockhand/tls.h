/* Native TLS for the main listener (DOCKHAND_TLS_CERT / DOCKHAND_TLS_KEY): one OpenSSL
 * server context per generation of the certificate, the newest used for new connections,
 * replaced on SIGHUP (README "How it runs"). Connections keep the context they started
 * with: SSL_new takes a reference, so an old context lives until its last connection ends. */
#pragma once
#include <event2/bufferevent.h>
#include <event2/event.h>
#include "dockhand/common.h"

struct tls;

/* Loads cert_file (PEM: the certificate, then any intermediates) and key_file (PEM
 * private key) into a server context: TLS 1.2 and 1.3 only, no compression, no
 * renegotiation, the server's cipher order. Refused (a logged error naming the files and
 * OpenSSL's reason): unreadable, malformed, a key that does not match the certificate, a
 * certificate past its notAfter. On success *out owns the context (tls_free). Returns 0,
 * DH_ERR_CRYPTO or DH_ERR_NOMEM. */
int tls_new(const char *cert_file, const char *key_file, struct tls **out) DH_MUST_CHECK;

/* Reads the same two files again (SIGHUP; main thread only). On success new connections
 * get the new context at once; on failure the old one stays in use and the error is
 * logged. Returns 0 or the failure of tls_new. */
int tls_reload(struct tls *t) DH_MUST_CHECK;

/* An evhttp bufferevent callback (evhttp_set_bevcb, arg = the struct tls): a server-side
 * OpenSSL bufferevent, not yet bound to its socket (evhttp sets the fd), on the newest
 * context. Safe from any worker thread. When no SSL object can be made it returns one
 * that evhttp cannot bind, so the connection is closed: never plain HTTP. */
struct bufferevent *tls_bufferevent_new(struct event_base *base, void *arg);

/* One line describing the certificate in use (subject, serial, notAfter) into out. */
void tls_describe(struct tls *t, char *out, size_t cap);

/* Frees the newest context (connections still open keep theirs) and t. NULL is fine. */
void tls_free(struct tls *t);
