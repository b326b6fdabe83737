#include "dockhand/tls.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "dockhand/log.h"

#define TLS_DESC_MAX 512

struct tls {
    char *cert_file;
    char *key_file;
    /* Held from reading ctx until SSL_new has taken its reference, so that a reload
     * cannot free the context in between; a connection's setup is the only other user. */
    pthread_mutex_t lock;
    SSL_CTX *ctx;
    char desc[TLS_DESC_MAX];
};

/* OpenSSL's reason for the last failure (its error queue, then emptied). */
static void ssl_reason(char *out, size_t cap)
{
    unsigned long e = ERR_peek_last_error();
    if (e)
        ERR_error_string_n(e, out, cap);
    else
        snprintf(out, cap, "unknown error");
    ERR_clear_error();
}

/* "subject ..., serial ..., expires ..." of cert. */
static void cert_describe(X509 *cert, char *out, size_t cap)
{
    char subject[256] = "?", serial[128] = "?", expires[64] = "?";
    X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    if (hex)
        snprintf(serial, sizeof(serial), "%s", hex);
    OPENSSL_free(hex);
    BN_free(bn);
    BIO *mem = BIO_new(BIO_s_mem());
    if (mem && ASN1_TIME_print(mem, X509_get0_notAfter(cert)) == 1) {
        int n = BIO_read(mem, expires, sizeof(expires) - 1);
        expires[n > 0 ? n : 0] = '\0';
    }
    BIO_free(mem);
    snprintf(out, cap, "subject %s, serial %s, expires %s", subject, serial, expires);
}

/* A server context from the two files, or NULL with the reason logged. */
static SSL_CTX *ctx_load(const char *cert_file, const char *key_file, char *desc, size_t cap)
{
    char why[256];
    const char *step;
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        step = "cannot make a TLS context";
        goto fail;
    }
    /* OpenSSL 3 already leaves compression off; renegotiation is refused because a
     * bufferevent cannot follow it, and a client that closes without close_notify after
     * a complete reply is an ordinary end of connection (HTTP frames its own bodies). */
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
        step = "cannot restrict the protocol to TLS 1.2 and 1.3";
        goto fail;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    /* Idle keep-alive connections give their buffers back. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        step = "cannot read the certificate chain";
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
        step = "cannot read the private key, or it does not match the certificate";
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        step = "the private key does not match the certificate";
        goto fail;
    }
    X509 *cert = SSL_CTX_get0_certificate(ctx);
    if (!cert) {
        step = "no certificate";
        goto fail;
    }
    cert_describe(cert, desc, cap);
    if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0) {
        log_error("TLS certificate %s (%s) has expired", cert_file, desc);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;

fail:
    ssl_reason(why, sizeof(why));
    log_error("TLS certificate %s with key %s: %s: %s", cert_file, key_file, step, why);
    SSL_CTX_free(ctx);
    return NULL;
}

int tls_new(const char *cert_file, const char *key_file, struct tls **out)
{
    *out = NULL;
    struct tls *t = calloc(1, sizeof(*t));
    if (!t)
        return DH_ERR_NOMEM;
    t->cert_file = strdup(cert_file);
    t->key_file = strdup(key_file);
    if (!t->cert_file || !t->key_file || pthread_mutex_init(&t->lock, NULL) != 0) {
        free(t->cert_file);
        free(t->key_file);
        free(t);
        return DH_ERR_NOMEM;
    }
    t->ctx = ctx_load(cert_file, key_file, t->desc, sizeof(t->desc));
    if (!t->ctx) {
        tls_free(t);
        return DH_ERR_CRYPTO;
    }
    *out = t;
    return 0;
}

int tls_reload(struct tls *t)
{
    char desc[TLS_DESC_MAX];
    SSL_CTX *ctx = ctx_load(t->cert_file, t->key_file, desc, sizeof(desc));
    if (!ctx) {
        log_error("SIGHUP: TLS certificate not reloaded; still serving %s", t->desc);
        return DH_ERR_CRYPTO;
    }
    pthread_mutex_lock(&t->lock);
    SSL_CTX *old = t->ctx;
    t->ctx = ctx;
    memcpy(t->desc, desc, sizeof(desc));
    pthread_mutex_unlock(&t->lock);
    /* Connections made with the old context hold references of their own. */
    SSL_CTX_free(old);
    log_info("SIGHUP: TLS certificate reloaded: %s", desc);
    return 0;
}

struct bufferevent *tls_bufferevent_new(struct event_base *base, void *arg)
{
    struct tls *t = arg;
    pthread_mutex_lock(&t->lock);
    SSL *ssl = SSL_new(t->ctx);
    pthread_mutex_unlock(&t->lock);
    struct bufferevent *bev = NULL;
    if (ssl)
        bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                             BEV_OPT_CLOSE_ON_FREE);
    if (bev) {
        bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
        return bev;
    }
    SSL_free(ssl);
    ERR_clear_error();
    log_error("TLS: no memory for a connection's TLS state; connection closed");
    /* evhttp answers NULL with a plain socket bufferevent: it would speak HTTP without
     * TLS. One end of a pair has no socket to bind, so evhttp drops the connection. */
    struct bufferevent *pair[2];
    if (bufferevent_pair_new(base, 0, pair) < 0)
        abort(); /* nothing left to refuse the connection with but plain HTTP */
    bufferevent_free(pair[1]);
    return pair[0];
}

void tls_describe(struct tls *t, char *out, size_t cap)
{
    pthread_mutex_lock(&t->lock);
    snprintf(out, cap, "%s", t->desc);
    pthread_mutex_unlock(&t->lock);
}

void tls_free(struct tls *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ctx);
    pthread_mutex_destroy(&t->lock);
    free(t->cert_file);
    free(t->key_file);
    free(t);
}
