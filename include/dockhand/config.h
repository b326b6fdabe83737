/* Process settings: one table lists every setting with its environment variable,
 * flag, default and help (docs/design.md §7). Read once at start; read-only afterwards. */
#pragma once
#include <stdio.h>
#include "dockhand/common.h"
#include "dockhand/keys.h"

#define CONFIG_MAX_BODY_DEFAULT 16384

struct config {
    char *database_url;
    char *listen; /* host:port */
    int workers;  /* 0: online CPUs */
    char *service;
    char *issuer;
    char *realm; /* NULL: http://<listen>/service/token */
    char *keys_dir;
    enum kid_format kid_format;
    int fail_limit_account;
    int fail_limit_address;
    int fail_window;           /* seconds */
    int hash_threads;          /* 0: online CPUs */
    int db_pool;               /* connections per worker */
    int db_timeout_ms;         /* every database wait */
    int max_body;              /* bytes of a POST body */
    int cred_cache_size;       /* verified credentials kept */
    int robot_cache_size;      /* robots (with their project access) kept */
    int cache_ttl_ms;          /* longest a cached robot or project is used unchecked */
    int robot_list_cache_size; /* robots the admin API lists from memory (robotdir) */
    int api_threads;           /* admin API threads */
    int audit_tokens;          /* 1: token issuance and refused logins are audited */
    int audit_flush_ms;        /* longest a queued audit record waits */
    int session_idle;          /* seconds a web page session lives unused */
    int session_max;           /* seconds a web page session lives at most */
    char *log_level;
    char *log_format;
    char *output; /* CLI: "text" | "json" */
};

struct config_setting {
    const char *env;  /* DOCKHAND_... */
    const char *flag; /* --... */
    const char *def;  /* default as text, NULL for none */
    const char *help;
};

/* Every setting, for --help, the README check and config_load. */
extern const struct config_setting config_settings[];
extern const size_t config_settings_len;

/* Fills cfg from defaults, then the environment, then flags found in argv (which
 * are removed from argv; *argc updated). Unknown "--" flags are left in argv for the
 * command to reject. Returns 0, or DH_ERR_INVALID with a message printed to err. */
int config_load(struct config *cfg, int *argc, char **argv, FILE *err) DH_MUST_CHECK;

/* Frees the strings. */
void config_deinit(struct config *cfg);

/* Prints the settings table (for `dockhand help`). */
void config_print_help(FILE *out);
