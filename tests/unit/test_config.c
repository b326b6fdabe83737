/* The settings loader (util/config.c): defaults, the environment over the defaults, flags
 * over the environment, values out of range or of the wrong kind refused with a line that
 * names the variable or flag, flags that are not settings left to the command, and the
 * one table itself (names follow one rule, one entry per field, defaults within their
 * ranges, help lists every setting). */
#include "check.h"

#include <ctype.h>
#include <unistd.h>

#include "dockhand/config.h"

/* A stream for config_load's errors, read back by err_text. */
static FILE *err_file;
static char err_buf[1024];

static void err_reset(void)
{
    if (ftruncate(fileno(err_file), 0) != 0)
        perror("ftruncate");
    rewind(err_file);
}

static const char *err_text(void)
{
    fflush(err_file);
    rewind(err_file);
    size_t n = fread(err_buf, 1, sizeof(err_buf) - 1, err_file);
    err_buf[n] = '\0';
    return err_buf;
}

/* Every DOCKHAND_* variable out of the way: the result must not depend on the shell. */
static void env_clear(void)
{
    for (size_t i = 0; i < config_settings_len; i++)
        unsetenv(config_settings[i].env);
}

/* config_load on a copy of args (a NULL-terminated list after "dockhand"); argc out. */
static int load(struct config *cfg, char **argv, int *argc)
{
    err_reset();
    int n = 0;
    while (argv[n])
        n++;
    *argc = n;
    return config_load(cfg, argc, argv, err_file);
}

static bool err_has(const char *want)
{
    const char *got = err_text();
    if (strstr(got, want))
        return true;
    printf("# error text \"%s\" lacks \"%s\"\n", got, want);
    return false;
}

static void test_defaults(void)
{
    struct config cfg;
    char *argv[] = {"dockhand", NULL};
    int argc;

    env_clear();
    CHECK(load(&cfg, argv, &argc) == 0);
    CHECK(argc == 1 && argv[1] == NULL);
    CHECK_STR(cfg.database_url, "postgresql:///dockhand");
    CHECK_STR(cfg.listen, "127.0.0.1:5001");
    CHECK_STR(cfg.service, "dockhand-registry");
    CHECK_STR(cfg.issuer, "dockhand");
    CHECK(cfg.realm == NULL); /* derived from listen by the server */
    CHECK_STR(cfg.keys_dir, "certs");
    CHECK(cfg.kid_format == KID_LIBTRUST);
    CHECK(cfg.workers >= 1 && cfg.hash_threads >= 1); /* 0 means one per online CPU */
    CHECK(cfg.fail_limit_account == 10 && cfg.fail_limit_address == 50);
    CHECK(cfg.fail_window == 60);
    CHECK(cfg.db_pool == 4 && cfg.db_timeout_ms == 5000);
    CHECK(cfg.max_body == CONFIG_MAX_BODY_DEFAULT);
    CHECK(cfg.cred_cache_size == 100000 && cfg.robot_cache_size == 100000);
    CHECK(cfg.cache_ttl_ms == 300000 && cfg.robot_list_cache_size == 1000000);
    CHECK(cfg.api_threads == 2);
    CHECK(cfg.audit_tokens == 1 && cfg.audit_flush_ms == 200);
    CHECK(cfg.session_idle == 1800 && cfg.session_max == 43200);
    CHECK_STR(cfg.log_level, "info");
    CHECK_STR(cfg.log_format, "text");
    CHECK_STR(cfg.output, "text");
    CHECK(strcmp(err_text(), "") == 0);
    config_deinit(&cfg);
    config_deinit(&cfg); /* zeroed: a second deinit is harmless */
}

static void test_env_overrides(void)
{
    struct config cfg;
    char *argv[] = {"dockhand", NULL};
    int argc;

    env_clear();
    setenv("DOCKHAND_DATABASE_URL", "host=/tmp dbname=x", 1);
    setenv("DOCKHAND_WORKERS", "3", 1);
    setenv("DOCKHAND_KID_FORMAT", "jwk-thumbprint", 1);
    setenv("DOCKHAND_REALM", "https://auth.example/token", 1);
    setenv("DOCKHAND_SESSION_MAX", "60", 1);
    setenv("DOCKHAND_SERVICE", "", 1); /* empty counts as unset */
    CHECK(load(&cfg, argv, &argc) == 0);
    CHECK_STR(cfg.database_url, "host=/tmp dbname=x");
    CHECK(cfg.workers == 3);
    CHECK(cfg.kid_format == KID_JWK_THUMBPRINT);
    CHECK_STR(cfg.realm, "https://auth.example/token");
    CHECK(cfg.session_max == 60);
    CHECK_STR(cfg.service, "dockhand-registry");
    CHECK(cfg.db_pool == 4); /* the others keep their defaults */
    config_deinit(&cfg);
    env_clear();
}

static void test_flag_overrides(void)
{
    struct config cfg;
    int argc;

    env_clear();
    setenv("DOCKHAND_LISTEN", "1.2.3.4:1", 1);
    setenv("DOCKHAND_WORKERS", "3", 1);
    setenv("DOCKHAND_SERVICE", "svc-from-env", 1);
    /* Both flag forms, anywhere among the command's own arguments, which keep their order;
     * the last of a repeated flag wins. */
    char *argv[] = {"dockhand", "robot",    "--listen", "0.0.0.0:7000", "create",    "--workers=5",
                    "--public", "--output", "json",     "--db-pool=9",  "--db-pool", "7",
                    "name",     NULL};
    CHECK(load(&cfg, argv, &argc) == 0);
    CHECK_STR(cfg.listen, "0.0.0.0:7000");
    CHECK(cfg.workers == 5);
    CHECK_STR(cfg.output, "json");
    CHECK(cfg.db_pool == 7);
    CHECK_STR(cfg.service, "svc-from-env"); /* no flag: the environment holds */
    CHECK(argc == 5);
    CHECK_STR(argv[1], "robot");
    CHECK_STR(argv[2], "create");
    CHECK_STR(argv[3], "--public");
    CHECK_STR(argv[4], "name");
    CHECK(argv[5] == NULL);
    config_deinit(&cfg);

    /* A flag's value is taken as it is, even when it looks like a flag. */
    char *argv2[] = {"dockhand", "--issuer", "--workers", NULL};
    CHECK(load(&cfg, argv2, &argc) == 0);
    CHECK_STR(cfg.issuer, "--workers");
    CHECK(argc == 1);
    config_deinit(&cfg);
    env_clear();
}

/* A refused value: config_load fails, says which setting and what it accepts, and leaves
 * nothing allocated (the caller exits without config_deinit). */
static void refused(char **argv, const char *want)
{
    struct config cfg;
    int argc;
    int rc = load(&cfg, argv, &argc);
    CHECK(rc == DH_ERR_INVALID);
    CHECK(err_has(want));
    CHECK(cfg.database_url == NULL && cfg.listen == NULL && cfg.output == NULL);
}

static void test_out_of_range(void)
{
    env_clear();
    char *a1[] = {"dockhand", "--workers", "257", NULL};
    refused(a1, "--workers must be an integer from 0 to 256");
    char *a2[] = {"dockhand", "--db-pool=0", NULL};
    refused(a2, "--db-pool must be an integer from 1 to 64");
    char *a3[] = {"dockhand", "--max-body", "1023", NULL};
    refused(a3, "--max-body must be an integer from 1024 to 1048576");
    char *a4[] = {"dockhand", "--audit-tokens=-1", NULL};
    refused(a4, "--audit-tokens must be an integer from 0 to 1");
    char *a5[] = {"dockhand", "--fail-window", "99999999999999999999", NULL};
    refused(a5, "--fail-window must be an integer from 1 to 86400");
    char *a6[] = {"dockhand", "--workers", "many", NULL};
    refused(a6, "--workers must be an integer");
    char *a7[] = {"dockhand", "--workers=", NULL};
    refused(a7, "--workers must be an integer");
    char *a8[] = {"dockhand", "--workers", "4x", NULL};
    refused(a8, "--workers must be an integer");
    char *a9[] = {"dockhand", "--workers", " 4", NULL};
    refused(a9, "--workers must be an integer");
    char *a10[] = {"dockhand", "--kid-format", "x5t", NULL};
    refused(a10, "--kid-format must be libtrust or jwk-thumbprint");
    char *a11[] = {"dockhand", "--output", "xml", NULL};
    refused(a11, "--output must be text or json");

    /* From the environment the message names the variable. */
    char *none[] = {"dockhand", NULL};
    setenv("DOCKHAND_FAIL_WINDOW", "0", 1);
    refused(none, "DOCKHAND_FAIL_WINDOW must be an integer from 1 to 86400");
    env_clear();
    setenv("DOCKHAND_SESSION_IDLE", "2592001", 1);
    refused(none, "DOCKHAND_SESSION_IDLE must be an integer from 1 to 2592000");
    env_clear();

    /* Both ends of a range are accepted. */
    struct config cfg;
    int argc;
    char *ends[] = {"dockhand", "--db-pool=1", "--api-threads=64", "--audit-tokens", "0", NULL};
    CHECK(load(&cfg, ends, &argc) == 0);
    CHECK(cfg.db_pool == 1 && cfg.api_threads == 64 && cfg.audit_tokens == 0);
    config_deinit(&cfg);
}

static void test_flags_not_settings(void)
{
    struct config cfg;
    int argc;

    env_clear();
    /* A setting's flag without its value is refused. */
    char *a1[] = {"dockhand", "serve", "--max-body", NULL};
    refused(a1, "--max-body needs a value");

    /* Unknown flags, and names that only begin like a setting's flag, are no setting: they
     * stay in argv for the command, which refuses what it does not know (cli.c). */
    char *a2[] = {
        "dockhand", "serve", "--no-such-setting", "--worker=2", "--workersx=2", "--listen-on",
        "x",        NULL};
    CHECK(load(&cfg, a2, &argc) == 0);
    CHECK(argc == 7);
    CHECK_STR(a2[2], "--no-such-setting");
    CHECK_STR(a2[3], "--worker=2");
    CHECK_STR(a2[4], "--workersx=2");
    CHECK_STR(a2[5], "--listen-on");
    CHECK_STR(cfg.listen, "127.0.0.1:5001");
    config_deinit(&cfg);
}

/* The table: env DOCKHAND_X_Y goes with flag --x-y, each named once, each filling its own
 * field, and `dockhand help` lists every one with its default. */
static void test_table(void)
{
    CHECK(config_settings_len >= 27);
    for (size_t i = 0; i < config_settings_len; i++) {
        const struct config_setting *s = &config_settings[i];
        char want[64] = "DOCKHAND_";
        size_t n = strlen(want);
        for (const char *p = s->flag + 2; *p && n + 1 < sizeof(want); p++)
            want[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
        want[n] = '\0';
        CHECK_STR(s->env, want);
        CHECK(strncmp(s->flag, "--", 2) == 0 && s->help && *s->help);
        /* One entry per field: two entries writing one field would mean a setting whose
         * value is silently replaced by another's. */
        for (size_t k = 0; k < i; k++)
            CHECK(strcmp(config_settings[k].env, s->env) != 0 &&
                  config_settings[k].offset != s->offset);
        CHECK(s->offset < sizeof(struct config));
        if (s->kind == CONFIG_INT) {
            CHECK(s->min <= s->max);
            CHECK(s->def && atoi(s->def) >= s->min && atoi(s->def) <= s->max);
        }
    }

    FILE *f = tmpfile();
    config_print_help(f);
    fflush(f);
    rewind(f);
    static char help[16384];
    help[fread(help, 1, sizeof(help) - 1, f)] = '\0';
    fclose(f);
    for (size_t i = 0; i < config_settings_len; i++) {
        const struct config_setting *s = &config_settings[i];
        char line[256];
        snprintf(line, sizeof(line), "  %-28s %-22s %-24s", s->env, s->flag, s->def ? s->def : "-");
        CHECK(strstr(help, line) != NULL);
    }
}

int main(void)
{
    err_file = tmpfile();
    if (!err_file)
        return 99;
    test_defaults();
    test_env_overrides();
    test_flag_overrides();
    test_out_of_range();
    test_flags_not_settings();
    test_table();
    fclose(err_file);
    return check_done();
}
