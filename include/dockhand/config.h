/* Process settings: one table lists every setting with its environment variable, flag,
 * default, help, and the field, kind and range it fills (docs/design.md §7). Read once at
 * start; read-only afterwards. */
#pragma once
#include <stdio.h>
#include "dockhand/cidr.h"
#include "dockhand/common.h"
#include "dockhand/keys.h"

#define CONFIG_MAX_BODY_DEFAULT 16384

/* DOCKHAND_AUDIT_OVERFLOW's values, in the order of enum audit_overflow (audit_writer.h). */
#define CONFIG_AUDIT_BLOCK 0
#define CONFIG_AUDIT_SPILL 1
#define CONFIG_AUDIT_DROP 2

struct config {
    char *database_url;
    char *listen;         /* host:port */
    char *metrics_listen; /* host:port, or "off" */
    int workers;          /* 0: online CPUs */
    char *service;
    char *issuer;
    char *realm; /* NULL: http://<listen>/service/token */
    char *keys_dir;
    char *tls_cert; /* PEM chain; with tls_key the listener speaks HTTPS, else HTTP */
    char *tls_key;
    enum kid_format kid_format;
    int fail_limit_account;
    int fail_limit_address;
    int fail_window;           /* seconds */
    int password_iterations;   /* PBKDF2 of people-chosen secrets and of every refusal */
    int hash_threads;          /* 0: online CPUs */
    int db_pool;               /* connections per worker */
    int db_timeout_ms;         /* every database wait */
    int max_body;              /* bytes of a POST body */
    int max_connections;       /* open client connections (0: from the descriptor limit) */
    int idle_timeout;          /* seconds a connection waits for a request */
    int header_timeout;        /* seconds a request's headers may take */
    int body_timeout;          /* seconds a request's body may take */
    int cred_cache_size;       /* verified credentials kept */
    int robot_cache_size;      /* robots (with their project access) kept */
    int cache_ttl_ms;          /* longest a cached robot or project is used unchecked */
    int robot_list_cache_size; /* robots the admin API lists from memory (robotdir) */
    int api_threads;           /* admin API threads */
    int audit_tokens;          /* 1: token issuance and refused logins are audited */
    int audit_flush_ms;        /* longest a queued audit record waits */
    int audit_queue_max;       /* audit records waiting in memory */
    int audit_overflow;        /* beyond it: CONFIG_AUDIT_BLOCK, _SPILL or _DROP */
    int audit_block_ms;        /* block: longest a token request waits for room */
    char *audit_spill;         /* spill: the spill file, or NULL */
    int audit_spill_max_mb;    /* spill: its largest size */
    int session_idle;          /* seconds a web page session lives unused */
    int session_max;           /* seconds a web page session lives at most */
    char *trusted_proxies;     /* CIDRs whose X-Forwarded-For is believed (text) */
    struct cidr *proxies;      /* trusted_proxies parsed (not a setting of its own) */
    size_t nproxies;
    int oidc_max_age;          /* seconds an identity token is accepted after its iat */
    char *oidc_ca_file;        /* CA certificates for identity issuers; NULL: the system's */
    int oidc_timeout_ms;       /* longest fetch of an issuer's keys */
    int oidc_refetch_interval; /* seconds between two fetches of one issuer's keys, at least */
    char *log_level;
    char *log_format;
    char *output; /* CLI: "text" | "json" */
};

enum config_kind {
    CONFIG_STR,            /* char *, a copy of the text */
    CONFIG_INT,            /* int within [min, max] */
    CONFIG_KID,            /* enum kid_format by name */
    CONFIG_AUDIT_OVERFLOW, /* int: CONFIG_AUDIT_BLOCK, _SPILL or _DROP by name */
};

/* One setting: where it is read from, its default and help, and the field of struct
 * config it fills. One entry holds all of it, so a setting cannot be matched with the
 * wrong field or range by its position in a second table. */
struct config_setting {
    const char *env;  /* DOCKHAND_... */
    const char *flag; /* --... */
    const char *def;  /* default as text, NULL for none */
    const char *help;
    enum config_kind kind;
    size_t offset; /* of the field in struct config */
    int min, max;  /* CONFIG_INT: the accepted range, both ends included */
};

/* Every setting, for --help, the README check and config_load. */
extern const struct config_setting config_settings[];
extern const size_t config_settings_len;

/* Fills cfg from defaults, then the environment (an empty variable counts as unset), then
 * flags found in argv ("--flag value" or "--flag=value"; removed from argv, *argc updated,
 * argv[*argc] set to NULL). Other "--" arguments are left in argv, in order, for the command
 * to accept or refuse (subcommands have flags of their own). Returns 0; DH_ERR_INVALID for
 * a value out of range or not of its kind, or a flag without its value, with one line naming
 * the variable or flag printed to err; DH_ERR_NOMEM. On failure cfg is left zeroed (nothing
 * to free) and argv may be partly reordered. */
int config_load(struct config *cfg, int *argc, char **argv, FILE *err) DH_MUST_CHECK;

/* Frees the strings. */
void config_deinit(struct config *cfg);

/* Prints the settings table (for `dockhand help`). */
void config_print_help(FILE *out);
