#include "dockhand/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Each entry ends with the kind, field and range of its setting (the macros below), so the
 * names, default and help sit beside the field they fill. */
#define STR(f) CONFIG_STR, offsetof(struct config, f), 0, 0
#define INT(f, lo, hi) CONFIG_INT, offsetof(struct config, f), lo, hi
#define KID(f) CONFIG_KID, offsetof(struct config, f), 0, 0
#define OVERFLOW(f) CONFIG_AUDIT_OVERFLOW, offsetof(struct config, f), 0, 0
const struct config_setting config_settings[] = {
    {"DOCKHAND_DATABASE_URL", "--database-url", "postgresql:///dockhand",
     "libpq connection URL or key=value string", STR(database_url)},
    {"DOCKHAND_LISTEN", "--listen", "127.0.0.1:5001", "address to serve HTTP on, host:port",
     STR(listen)},
    {"DOCKHAND_METRICS_LISTEN", "--metrics-listen", "127.0.0.1:9464",
     "address of the Prometheus /metrics listener, host:port (its own port, never the public "
     "one); off: no listener and no counting",
     STR(metrics_listen)},
    {"DOCKHAND_WORKERS", "--workers", "0", "worker threads (0: one per online CPU)",
     INT(workers, 0, 256)},
    {"DOCKHAND_SERVICE", "--service", "dockhand-registry",
     "the registry's service name; the token's aud", STR(service)},
    {"DOCKHAND_ISSUER", "--issuer", "dockhand", "the token's iss; the registry's issuer",
     STR(issuer)},
    {"DOCKHAND_REALM", "--realm", NULL,
     "public URL of the token endpoint (default http://<listen>/service/token)", STR(realm)},
    {"DOCKHAND_KEYS_DIR", "--keys-dir", "certs", "directory of <name>.key + <name>.crt pairs",
     STR(keys_dir)},
    {"DOCKHAND_KID_FORMAT", "--kid-format", "libtrust",
     "key ID in the token header: libtrust (distribution 2.x) or jwk-thumbprint (3.x)",
     KID(kid_format)},
    {"DOCKHAND_TLS_CERT", "--tls-cert", NULL,
     "PEM certificate (then its intermediates) to serve HTTPS with; with DOCKHAND_TLS_KEY",
     STR(tls_cert)},
    {"DOCKHAND_TLS_KEY", "--tls-key", NULL,
     "PEM private key of DOCKHAND_TLS_CERT (neither given: plain HTTP)", STR(tls_key)},
    {"DOCKHAND_FAIL_LIMIT_ACCOUNT", "--fail-limit-account", "10",
     "failed logins per account in the window before 429", INT(fail_limit_account, 1, 1000000)},
    {"DOCKHAND_FAIL_LIMIT_ADDRESS", "--fail-limit-address", "50",
     "failed logins per client address in the window before 429",
     INT(fail_limit_address, 1, 1000000)},
    {"DOCKHAND_FAIL_WINDOW", "--fail-window", "60", "failed-login window in seconds",
     INT(fail_window, 1, 86400)},
    {"DOCKHAND_PASSWORD_ITERATIONS", "--password-iterations", "600000",
     "PBKDF2-SHA256 iterations of administrator passwords and manual robot secrets, and what "
     "every refused login costs (lower only for tests or slow machines)",
     INT(password_iterations, 10000, 10000000)},
    {"DOCKHAND_HASH_THREADS", "--hash-threads", "0",
     "threads that verify secrets (0: one per online CPU)", INT(hash_threads, 0, 256)},
    {"DOCKHAND_DB_POOL", "--db-pool", "4", "database connections per worker", INT(db_pool, 1, 64)},
    {"DOCKHAND_DB_TIMEOUT_MS", "--db-timeout-ms", "5000",
     "longest wait for the database before 503, milliseconds", INT(db_timeout_ms, 100, 600000)},
    {"DOCKHAND_MAX_BODY", "--max-body", "16384", "largest token POST body in bytes (413 above)",
     INT(max_body, 1024, 1024 * 1024)},
    {"DOCKHAND_MAX_CONNECTIONS", "--max-connections", "0",
     "open client connections per instance (0: the descriptor limit less a reserve); at the cap "
     "the longest idle one is closed, or accepting pauses until one closes",
     INT(max_connections, 0, 10000000)},
    {"DOCKHAND_IDLE_TIMEOUT", "--idle-timeout", "30",
     "seconds a client connection may stay open without a request under way",
     INT(idle_timeout, 1, 3600)},
    {"DOCKHAND_HEADER_TIMEOUT", "--header-timeout", "10",
     "seconds from a request's first byte to the end of its headers, however they trickle in",
     INT(header_timeout, 1, 3600)},
    {"DOCKHAND_BODY_TIMEOUT", "--body-timeout", "30",
     "seconds from the end of a request's headers to the end of its body",
     INT(body_timeout, 1, 3600)},
    {"DOCKHAND_CRED_CACHE_SIZE", "--cred-cache-size", "100000",
     "verified credentials kept in memory (LRU)", INT(cred_cache_size, 0, 10000000)},
    {"DOCKHAND_ROBOT_CACHE_SIZE", "--robot-cache-size", "100000",
     "robots kept in memory with their project access (LRU; 0: read the database every time)",
     INT(robot_cache_size, 0, 10000000)},
    {"DOCKHAND_CACHE_TTL_MS", "--cache-ttl-ms", "300000",
     "longest a cached robot or project answer is used, milliseconds (bounds staleness when a "
     "change bypasses the triggers' notifications)",
     INT(cache_ttl_ms, 100, 3600000)},
    {"DOCKHAND_ROBOT_LIST_CACHE_SIZE", "--robot-list-cache-size", "1000000",
     "robots whose name, level and project the admin API keeps in memory to filter and page "
     "robot lists (0, or more robots than this: the database does it)",
     INT(robot_list_cache_size, 0, 10000000)},
    {"DOCKHAND_API_THREADS", "--api-threads", "2",
     "threads serving the admin API (each with its own database connection)",
     INT(api_threads, 1, 64)},
    {"DOCKHAND_AUDIT_TOKENS", "--audit-tokens", "1",
     "1: record token issuance and refused logins in the audit log; 0: only changes",
     INT(audit_tokens, 0, 1)},
    {"DOCKHAND_AUDIT_FLUSH_MS", "--audit-flush-ms", "200",
     "longest a queued audit record (token issued, login refused) waits to be written, ms",
     INT(audit_flush_ms, 10, 60000)},
    {"DOCKHAND_AUDIT_QUEUE_MAX", "--audit-queue-max", "100000",
     "audit records waiting in memory for the writer; beyond it DOCKHAND_AUDIT_OVERFLOW applies",
     INT(audit_queue_max, 1, 10000000)},
    {"DOCKHAND_AUDIT_OVERFLOW", "--audit-overflow", "block",
     "a token whose audit record finds the queue full: block (the request waits up to "
     "DOCKHAND_AUDIT_BLOCK_MS for room, then 503), spill (the record goes to "
     "DOCKHAND_AUDIT_SPILL, replayed later) or drop (the record is lost, counted)",
     OVERFLOW(audit_overflow)},
    {"DOCKHAND_AUDIT_BLOCK_MS", "--audit-block-ms", "2000",
     "block: longest a token request waits for room in the audit queue before 503, ms",
     INT(audit_block_ms, 1, 60000)},
    {"DOCKHAND_AUDIT_SPILL", "--audit-spill", NULL,
     "spill: the spill file's path (one per instance, on a local disk)", STR(audit_spill)},
    {"DOCKHAND_AUDIT_SPILL_MAX_MB", "--audit-spill-max-mb", "1024",
     "spill: largest size of the spill file, MiB; records beyond it are dropped (counted)",
     INT(audit_spill_max_mb, 1, 1048576)},
    {"DOCKHAND_SESSION_IDLE", "--session-idle", "1800",
     "web page sessions end after this many seconds without a request",
     INT(session_idle, 1, 30 * 86400)},
    {"DOCKHAND_SESSION_MAX", "--session-max", "43200",
     "web page sessions end this many seconds after sign-in, used or not",
     INT(session_max, 1, 365 * 86400)},
    {"DOCKHAND_TRUSTED_PROXIES", "--trusted-proxies", NULL,
     "proxies or load balancers (CIDRs, comma-separated) whose X-Forwarded-For names the "
     "client; from any other peer the header is ignored (default: none)",
     STR(trusted_proxies)},
    {"DOCKHAND_OIDC_MAX_AGE", "--oidc-max-age", "3600",
     "identity tokens (keyless robots) are refused this many seconds after their iat",
     INT(oidc_max_age, 60, 86400)},
    {"DOCKHAND_OIDC_CA_FILE", "--oidc-ca-file", NULL,
     "PEM CA certificates to trust for identity issuers (default: the system's trust store)",
     STR(oidc_ca_file)},
    {"DOCKHAND_OIDC_TIMEOUT_MS", "--oidc-timeout-ms", "5000",
     "longest fetch of an identity issuer's discovery document and keys, milliseconds",
     INT(oidc_timeout_ms, 100, 60000)},
    {"DOCKHAND_OIDC_REFETCH_INTERVAL", "--oidc-refetch-interval", "60",
     "seconds between two fetches of one identity issuer's keys, at least (an unknown kid, a "
     "failed fetch)",
     INT(oidc_refetch_interval, 1, 3600)},
    {"DOCKHAND_LOG_LEVEL", "--log-level", "info", "debug, info, warn or error", STR(log_level)},
    {"DOCKHAND_LOG_FORMAT", "--log-format", "text", "text or json", STR(log_format)},
    {"DOCKHAND_OUTPUT", "--output", "text", "CLI output: text or json", STR(output)},
};
#undef STR
#undef INT
#undef KID
#undef OVERFLOW
const size_t config_settings_len = DH_ARRAY_SIZE(config_settings);

/* name is what the value came from (the variable or the flag), so an error points at the
 * text the user has to change. */
static int setting_apply(struct config *cfg, const struct config_setting *s, const char *value,
                         const char *name, FILE *err)
{
    char *field = (char *)cfg + s->offset;

    switch (s->kind) {
    case CONFIG_STR: {
        char **p = (char **)field;
        free(*p);
        *p = value ? strdup(value) : NULL;
        if (value && !*p)
            return DH_ERR_NOMEM;
        return 0;
    }
    case CONFIG_INT: {
        char *end;
        errno = 0;
        long v = strtol(value, &end, 10);
        /* strtol skips leading blanks and saturates on overflow; neither is a number here. */
        if (!*value || *end || errno || (*value != '-' && (*value < '0' || *value > '9')) ||
            v < s->min || v > s->max) {
            fprintf(err, "dockhand: %s must be an integer from %d to %d, not \"%.40s\"\n", name,
                    s->min, s->max, value);
            return DH_ERR_INVALID;
        }
        *(int *)field = (int)v;
        return 0;
    }
    case CONFIG_KID:
        if (strcmp(value, "libtrust") == 0)
            *(enum kid_format *)field = KID_LIBTRUST;
        else if (strcmp(value, "jwk-thumbprint") == 0)
            *(enum kid_format *)field = KID_JWK_THUMBPRINT;
        else {
            fprintf(err, "dockhand: %s must be libtrust or jwk-thumbprint, not \"%.40s\"\n", name,
                    value);
            return DH_ERR_INVALID;
        }
        return 0;
    case CONFIG_AUDIT_OVERFLOW: {
        static const char *const names[] = {"block", "spill", "drop"};
        for (int i = 0; i < 3; i++) {
            if (strcmp(value, names[i]) == 0) {
                *(int *)field = i;
                return 0;
            }
        }
        fprintf(err, "dockhand: %s must be block, spill or drop, not \"%.40s\"\n", name, value);
        return DH_ERR_INVALID;
    }
    }
    return DH_ERR_INVALID;
}

/* The setting whose flag arg is ("--flag" or "--flag=value"), or NULL. */
static const struct config_setting *setting_by_flag(const char *arg, const char **value)
{
    for (size_t i = 0; i < config_settings_len; i++) {
        const struct config_setting *s = &config_settings[i];
        size_t fl = strlen(s->flag);
        if (strncmp(arg, s->flag, fl) != 0 || (arg[fl] != '=' && arg[fl] != '\0'))
            continue;
        *value = arg[fl] == '=' ? arg + fl + 1 : NULL;
        return s;
    }
    return NULL;
}

static int config_fill(struct config *cfg, int *argc, char **argv, FILE *err)
{
    int rc;

    for (size_t i = 0; i < config_settings_len; i++) {
        const struct config_setting *s = &config_settings[i];
        const char *v = getenv(s->env);
        if (!v || !*v)
            v = s->def;
        if (!v)
            continue;
        rc = setting_apply(cfg, s, v, s->env, err);
        if (rc < 0)
            return rc;
    }

    /* Flags: "--name value" or "--name=value", anywhere after argv[0]. */
    int out = 1;
    for (int a = 1; a < *argc; a++) {
        const char *value = NULL;
        const struct config_setting *s = setting_by_flag(argv[a], &value);
        if (!s) {
            argv[out++] = argv[a];
            continue;
        }
        if (!value) {
            if (a + 1 >= *argc) {
                fprintf(err, "dockhand: %s needs a value\n", argv[a]);
                return DH_ERR_INVALID;
            }
            value = argv[++a];
        }
        rc = setting_apply(cfg, s, value, s->flag, err);
        if (rc < 0)
            return rc;
    }
    *argc = out;
    argv[out] = NULL;

    if (strcmp(cfg->output, "text") != 0 && strcmp(cfg->output, "json") != 0) {
        fprintf(err, "dockhand: --output must be text or json\n");
        return DH_ERR_INVALID;
    }
    if (!cfg->tls_cert != !cfg->tls_key) {
        fprintf(err, "dockhand: DOCKHAND_TLS_CERT (--tls-cert) and DOCKHAND_TLS_KEY (--tls-key) "
                     "go together: give both for HTTPS, or neither for plain HTTP\n");
        return DH_ERR_INVALID;
    }
    if (cfg->trusted_proxies) {
        size_t bad = 0;
        rc = cidr_list_parse(cfg->trusted_proxies, &cfg->proxies, &cfg->nproxies, &bad);
        if (rc == DH_ERR_TOOBIG) {
            fprintf(err,
                    "dockhand: DOCKHAND_TRUSTED_PROXIES (--trusted-proxies) holds more than "
                    "%d networks\n",
                    CIDR_LIST_MAX);
            return rc;
        }
        if (rc == DH_ERR_INVALID) {
            fprintf(err,
                    "dockhand: DOCKHAND_TRUSTED_PROXIES (--trusted-proxies): item %zu is not "
                    "an IPv4 or IPv6 address or network (a.b.c.d/n, x:y::/n; host bits "
                    "clear)\n",
                    bad + 1);
            return rc;
        }
        if (rc < 0)
            return rc;
    }
    if (cfg->workers == 0)
        cfg->workers = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (cfg->hash_threads == 0)
        cfg->hash_threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (cfg->workers < 1)
        cfg->workers = 1;
    if (cfg->hash_threads < 1)
        cfg->hash_threads = 1;
    return 0;
}

int config_load(struct config *cfg, int *argc, char **argv, FILE *err)
{
    memset(cfg, 0, sizeof(*cfg));
    int rc = config_fill(cfg, argc, argv, err);
    if (rc < 0)
        config_deinit(cfg); /* the caller exits; nothing of a refused setup stays behind */
    return rc;
}

void config_deinit(struct config *cfg)
{
    for (size_t i = 0; i < config_settings_len; i++)
        if (config_settings[i].kind == CONFIG_STR)
            free(*(char **)((char *)cfg + config_settings[i].offset));
    free(cfg->proxies);
    memset(cfg, 0, sizeof(*cfg));
}

void config_print_help(FILE *out)
{
    fprintf(out, "Settings (environment variable, flag, default):\n");
    for (size_t i = 0; i < config_settings_len; i++)
        fprintf(out, "  %-28s %-22s %-24s %s\n", config_settings[i].env, config_settings[i].flag,
                config_settings[i].def ? config_settings[i].def : "-", config_settings[i].help);
}
