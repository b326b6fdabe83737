#include "dockhand/config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum setting_kind { S_STR, S_INT, S_KID };

struct setting_slot {
    enum setting_kind kind;
    size_t offset;
    int min, max;
};

const struct config_setting config_settings[] = {
    {"DOCKHAND_DATABASE_URL", "--database-url", "postgresql:///dockhand",
     "libpq connection URL or key=value string"},
    {"DOCKHAND_LISTEN", "--listen", "127.0.0.1:5001", "address to serve HTTP on, host:port"},
    {"DOCKHAND_WORKERS", "--workers", "0", "worker threads (0: one per online CPU)"},
    {"DOCKHAND_SERVICE", "--service", "dockhand-registry",
     "the registry's service name; the token's aud"},
    {"DOCKHAND_ISSUER", "--issuer", "dockhand", "the token's iss; the registry's issuer"},
    {"DOCKHAND_REALM", "--realm", NULL,
     "public URL of the token endpoint (default http://<listen>/service/token)"},
    {"DOCKHAND_KEYS_DIR", "--keys-dir", "certs", "directory of <name>.key + <name>.crt pairs"},
    {"DOCKHAND_KID_FORMAT", "--kid-format", "libtrust",
     "key ID in the token header: libtrust (distribution 2.x) or jwk-thumbprint (3.x)"},
    {"DOCKHAND_FAIL_LIMIT_ACCOUNT", "--fail-limit-account", "10",
     "failed logins per account in the window before 429"},
    {"DOCKHAND_FAIL_LIMIT_ADDRESS", "--fail-limit-address", "50",
     "failed logins per client address in the window before 429"},
    {"DOCKHAND_FAIL_WINDOW", "--fail-window", "60", "failed-login window in seconds"},
    {"DOCKHAND_HASH_THREADS", "--hash-threads", "0",
     "threads that verify secrets (0: one per online CPU)"},
    {"DOCKHAND_DB_POOL", "--db-pool", "4", "database connections per worker"},
    {"DOCKHAND_DB_TIMEOUT_MS", "--db-timeout-ms", "5000",
     "longest wait for the database before 503, milliseconds"},
    {"DOCKHAND_MAX_BODY", "--max-body", "16384", "largest token POST body in bytes (413 above)"},
    {"DOCKHAND_CRED_CACHE_SIZE", "--cred-cache-size", "100000",
     "verified credentials kept in memory (LRU)"},
    {"DOCKHAND_ROBOT_CACHE_SIZE", "--robot-cache-size", "100000",
     "robots kept in memory with their project access (LRU; 0: read the database every time)"},
    {"DOCKHAND_CACHE_TTL_MS", "--cache-ttl-ms", "300000",
     "longest a cached robot or project answer is used, milliseconds (bounds staleness when a "
     "change bypasses the triggers' notifications)"},
    {"DOCKHAND_ROBOT_LIST_CACHE_SIZE", "--robot-list-cache-size", "1000000",
     "robots whose name, level and project the admin API keeps in memory to filter and page "
     "robot lists (0, or more robots than this: the database does it)"},
    {"DOCKHAND_API_THREADS", "--api-threads", "2",
     "threads serving the admin API (each with its own database connection)"},
    {"DOCKHAND_AUDIT_TOKENS", "--audit-tokens", "1",
     "1: record token issuance and refused logins in the audit log; 0: only changes"},
    {"DOCKHAND_AUDIT_FLUSH_MS", "--audit-flush-ms", "200",
     "longest a queued audit record (token issued, login refused) waits to be written, ms"},
    {"DOCKHAND_SESSION_IDLE", "--session-idle", "1800",
     "web page sessions end after this many seconds without a request"},
    {"DOCKHAND_SESSION_MAX", "--session-max", "43200",
     "web page sessions end this many seconds after sign-in, used or not"},
    {"DOCKHAND_LOG_LEVEL", "--log-level", "info", "debug, info, warn or error"},
    {"DOCKHAND_LOG_FORMAT", "--log-format", "text", "text or json"},
    {"DOCKHAND_OUTPUT", "--output", "text", "CLI output: text or json"},
};
const size_t config_settings_len = DH_ARRAY_SIZE(config_settings);

#define STR(f)                                                                                     \
    {                                                                                              \
        S_STR, offsetof(struct config, f), 0, 0                                                    \
    }
#define INT(f, lo, hi)                                                                             \
    {                                                                                              \
        S_INT, offsetof(struct config, f), lo, hi                                                  \
    }
static const struct setting_slot slots[] = {
    STR(database_url),
    STR(listen),
    INT(workers, 0, 256),
    STR(service),
    STR(issuer),
    STR(realm),
    STR(keys_dir),
    {S_KID, offsetof(struct config, kid_format), 0, 0},
    INT(fail_limit_account, 1, 1000000),
    INT(fail_limit_address, 1, 1000000),
    INT(fail_window, 1, 86400),
    INT(hash_threads, 0, 256),
    INT(db_pool, 1, 64),
    INT(db_timeout_ms, 100, 600000),
    INT(max_body, 1024, 1024 * 1024),
    INT(cred_cache_size, 0, 10000000),
    INT(robot_cache_size, 0, 10000000),
    INT(cache_ttl_ms, 100, 3600000),
    INT(robot_list_cache_size, 0, 10000000),
    INT(api_threads, 1, 64),
    INT(audit_tokens, 0, 1),
    INT(audit_flush_ms, 10, 60000),
    INT(session_idle, 1, 30 * 86400),
    INT(session_max, 1, 365 * 86400),
    STR(log_level),
    STR(log_format),
    STR(output),
};
_Static_assert(DH_ARRAY_SIZE(slots) == DH_ARRAY_SIZE(config_settings), "settings table");

static int setting_apply(struct config *cfg, size_t i, const char *value, FILE *err)
{
    const struct setting_slot *s = &slots[i];
    char *base = (char *)cfg;

    switch (s->kind) {
    case S_STR: {
        char **p = (char **)(base + s->offset);
        free(*p);
        *p = value ? strdup(value) : NULL;
        if (value && !*p)
            return DH_ERR_NOMEM;
        return 0;
    }
    case S_INT: {
        char *end;
        long v = strtol(value, &end, 10);
        if (!*value || *end || v < s->min || v > s->max) {
            fprintf(err, "dockhand: %s must be an integer from %d to %d\n", config_settings[i].env,
                    s->min, s->max);
            return DH_ERR_INVALID;
        }
        *(int *)(base + s->offset) = (int)v;
        return 0;
    }
    case S_KID:
        if (strcmp(value, "libtrust") == 0)
            cfg->kid_format = KID_LIBTRUST;
        else if (strcmp(value, "jwk-thumbprint") == 0)
            cfg->kid_format = KID_JWK_THUMBPRINT;
        else {
            fprintf(err, "dockhand: %s must be libtrust or jwk-thumbprint\n",
                    config_settings[i].env);
            return DH_ERR_INVALID;
        }
        return 0;
    }
    return DH_ERR_INVALID;
}

int config_load(struct config *cfg, int *argc, char **argv, FILE *err)
{
    int rc;

    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < config_settings_len; i++) {
        const char *v = getenv(config_settings[i].env);
        if (!v || !*v)
            v = config_settings[i].def;
        if (!v)
            continue;
        rc = setting_apply(cfg, i, v, err);
        if (rc < 0)
            return rc;
    }

    /* Flags: "--name value" or "--name=value", anywhere after argv[0]. */
    int out = 1;
    for (int a = 1; a < *argc; a++) {
        const char *arg = argv[a];
        size_t i;
        const char *value = NULL;
        for (i = 0; i < config_settings_len; i++) {
            size_t fl = strlen(config_settings[i].flag);
            if (strncmp(arg, config_settings[i].flag, fl) != 0)
                continue;
            if (arg[fl] == '=') {
                value = arg + fl + 1;
                break;
            }
            if (arg[fl] == '\0') {
                if (a + 1 >= *argc) {
                    fprintf(err, "dockhand: %s needs a value\n", arg);
                    return DH_ERR_INVALID;
                }
                value = argv[++a];
                break;
            }
        }
        if (i == config_settings_len) {
            argv[out++] = argv[a];
            continue;
        }
        rc = setting_apply(cfg, i, value, err);
        if (rc < 0)
            return rc;
    }
    *argc = out;
    argv[out] = NULL;

    if (strcmp(cfg->output, "text") != 0 && strcmp(cfg->output, "json") != 0) {
        fprintf(err, "dockhand: --output must be text or json\n");
        return DH_ERR_INVALID;
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

void config_deinit(struct config *cfg)
{
    for (size_t i = 0; i < DH_ARRAY_SIZE(slots); i++)
        if (slots[i].kind == S_STR)
            free(*(char **)((char *)cfg + slots[i].offset));
    memset(cfg, 0, sizeof(*cfg));
}

void config_print_help(FILE *out)
{
    fprintf(out, "Settings (environment variable, flag, default):\n");
    for (size_t i = 0; i < config_settings_len; i++)
        fprintf(out, "  %-28s %-22s %-24s %s\n", config_settings[i].env, config_settings[i].flag,
                config_settings[i].def ? config_settings[i].def : "-", config_settings[i].help);
}
