/* `dockhand admin …` and `dockhand audit list`. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "dockhand/admin.h"
#include "dockhand/api_models.h"
#include "dockhand/audit.h"
#include "dockhand/cli.h"
#include "dockhand/cli_util.h"
#include "dockhand/cli_grammar.h"
#include "dockhand/config.h"
#include "dockhand/timefmt.h"

#define AUDIT_CLI_PAGE_SIZE 20 /* records per page of `audit list` unless --page-size */
#define AUDIT_CLI_PAGE_MAX 100

/* Prints s for a terminal: control characters (in names a client sent) as '?'. */
static void print_plain(const char *s, int width)
{
    int n = 0;
    for (; *s; s++, n++)
        putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
    for (; n < width; n++)
        putchar(' ');
}

/* ---- administrators -------------------------------------------------------------- */

static int admin_set(const struct config *cfg, PGconn *db, bool create, const char *name,
                     bool from_stdin)
{
    char password[SECRET_MANUAL_MAX + 2], generated[SECRET_GEN_LEN + 1] = "";
    size_t len = 0;
    struct store_err err = {0};
    int rc;

    if (from_stdin && cli_read_secret("password", password, sizeof(password), &len) != 0)
        return 1;
    const char *pw = from_stdin ? password : NULL;
    rc = create ? admin_create(db, name, pw, len, generated, &err)
                : admin_passwd(db, name, pw, len, generated, &err);
    OPENSSL_cleanse(password, sizeof(password));
    if (rc < 0)
        return cli_fail(&err);

    if (cli_json_out(cfg)) {
        json_t *o = json_pack("{s:s}", "name", name);
        if (o && generated[0])
            json_object_set_new(o, "password", json_string(generated));
        rc = cli_print_json(o);
        json_decref(o);
    } else {
        printf("%s administrator %s\n", create ? "created" : "new password for", name);
        if (generated[0])
            printf("password: %s\nThe password is shown only this once.\n", generated);
        rc = 0;
    }
    OPENSSL_cleanse(generated, sizeof(generated));
    return rc;
}

static int admin_print_list(const struct config *cfg, PGconn *db)
{
    struct admin *list;
    size_t n;
    struct store_err err = {0};
    if (admin_list(db, &list, &n, &err) < 0)
        return cli_fail(&err);
    int rc = 0;
    if (cli_json_out(cfg)) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < n; i++)
            json_array_append_new(arr, json_pack("{s:I, s:s, s:s, s:s}", "id",
                                                 (json_int_t)list[i].id, "name", list[i].name,
                                                 "creation_time", list[i].creation_time,
                                                 "update_time", list[i].update_time));
        rc = cli_print_json(arr);
        json_decref(arr);
    } else {
        printf("%-6s %-32s %-26s %s\n", "ID", "NAME", "CREATED", "UPDATED");
        for (size_t i = 0; i < n; i++)
            printf("%-6" PRId64 " %-32s %-26s %s\n", list[i].id, list[i].name,
                   list[i].creation_time, list[i].update_time);
    }
    admin_list_free(list, n);
    return rc;
}

int cli_admin(const struct config *cfg, PGconn *db, int argc, char **argv)
{
    const char *sub = argc > 0 ? argv[0] : NULL, *name = NULL;
    bool from_stdin = false;
    int npos = 0;

    if (!sub)
        return cli_usage_error("admin", NULL, "admin needs a subcommand");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--password-stdin") == 0) {
            from_stdin = true;
        } else if (strncmp(argv[i], "--", 2) == 0) {
            fprintf(stderr, "dockhand: unknown option %s\n", argv[i]);
            return 2;
        } else {
            name = argv[i];
            npos++;
        }
    }
    bool create = strcmp(sub, "create") == 0, passwd = strcmp(sub, "passwd") == 0;
    if ((create || passwd) && npos == 1)
        return admin_set(cfg, db, create, name, from_stdin);
    if (from_stdin)
        return cli_usage_error("admin", NULL,
                               "--password-stdin belongs to admin create and admin passwd");
    if (strcmp(sub, "list") == 0 && npos == 0)
        return admin_print_list(cfg, db);
    if (strcmp(sub, "delete") == 0 && npos == 1) {
        struct store_err err = {0};
        if (admin_delete(db, name, &err) < 0)
            return cli_fail(&err);
        if (cli_json_out(cfg))
            printf("{\"deleted\": true}\n");
        else
            printf("deleted administrator %s\n", name);
        return 0;
    }
    return cli_usage_error("admin", NULL, "unknown admin command or wrong arguments");
}

/* ---- the audit log --------------------------------------------------------------- */

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* A time flag's value, in the grammar the API's op_time uses too (timefmt.h); on failure
 * the usage text with the grammar's own sentence, and 2. */
static int time_flag(const char *flag, const char *s, int64_t *out)
{
    const char *why;
    if (timefmt_parse(s, strlen(s), out, &why) == 0)
        return 0;
    char msg[256];
    snprintf(msg, sizeof(msg), "%s: %s", flag, why);
    return cli_usage_error("audit", NULL, msg);
}

static bool parse_count(const char *s, int64_t max, int64_t *out)
{
    size_t len = strlen(s);
    if (len < 1 || len > 12 || !digits(s, len))
        return false;
    *out = strtoll(s, NULL, 10);
    return *out >= 1 && *out <= max;
}

static void audit_print(json_t *items, int64_t total, int64_t page, int64_t page_size)
{
    printf("%-8s %-24s %-24s %-15s %-14s %-32s %s\n", "ID", "TIME", "USERNAME", "OPERATION", "TYPE",
           "RESOURCE", "CLIENT");
    size_t i;
    json_t *o;
    json_array_foreach(items, i, o)
    {
        const char *client = json_string_value(json_object_get(o, "client_ip"));
        printf("%-8" JSON_INTEGER_FORMAT " %-24s ", json_integer_value(json_object_get(o, "id")),
               json_string_value(json_object_get(o, "op_time")));
        print_plain(json_string_value(json_object_get(o, "username")), 24);
        putchar(' ');
        print_plain(json_string_value(json_object_get(o, "operation")), 15);
        putchar(' ');
        print_plain(json_string_value(json_object_get(o, "resource_type")), 14);
        putchar(' ');
        print_plain(json_string_value(json_object_get(o, "resource")), 32);
        putchar(' ');
        print_plain(client ? client : "-", 0);
        json_t *detail = json_object_get(o, "detail");
        if (detail && !json_is_null(detail)) {
            char *d = json_dumps(detail, JSON_COMPACT | JSON_ENSURE_ASCII);
            if (d) {
                fputs("  ", stdout);
                print_plain(d, 0);
            }
            free(d);
        }
        putchar('\n');
    }
    int64_t pages = total ? (total + page_size - 1) / page_size : 1;
    printf("page %" PRId64 " of %" PRId64 ", %" PRId64 " record%s\n", page, pages, total,
           total == 1 ? "" : "s");
}

int cli_audit(const struct config *cfg, PGconn *db, int argc, char **argv)
{
    static const char *const value_flags[] = {"--operation", "--resource-type", "--resource",
                                              "--username",  "--from",          "--to",
                                              "--page",      "--page-size",     NULL};
    const char *val[8] = {0};

    if (argc == 3 && strcmp(argv[0], "prune") == 0 && strcmp(argv[1], "--before") == 0) {
        int64_t before, deleted = 0;
        struct store_err err = {0};
        if (time_flag("--before", argv[2], &before) != 0)
            return 2;
        if (audit_prune(db, before, &deleted, &err) < 0)
            return cli_fail(&err);
        if (cli_json_out(cfg))
            printf("{\"deleted\": %" PRId64 "}\n", deleted);
        else
            printf("deleted %" PRId64 " audit records\n", deleted);
        return 0;
    }
    if (argc < 1 || strcmp(argv[0], "list") != 0)
        return cli_usage_error("audit", NULL, "audit needs the subcommand list or prune");
    for (int i = 1; i < argc; i++) {
        int k = 0;
        while (value_flags[k] && strcmp(argv[i], value_flags[k]) != 0)
            k++;
        if (!value_flags[k]) {
            fprintf(stderr, "dockhand: unknown option or argument %s\n", argv[i]);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "dockhand: %s needs a value\n", argv[i]);
            return 2;
        }
        val[k] = argv[++i];
    }

    struct audit_filter f = {
        .operation = val[0],
        .resource_type = val[1],
        .resource = val[2],
        .username = val[3],
        .page = 1,
        .page_size = AUDIT_CLI_PAGE_SIZE,
    };
    if (val[4] && time_flag("--from", val[4], &f.from) != 0)
        return 2;
    if (val[5] && time_flag("--to", val[5], &f.to) != 0)
        return 2;
    if (val[4] && val[5] && f.from > f.to)
        return cli_usage_error("audit", NULL, "--from is later than --to");
    if (val[6] && !parse_count(val[6], INT64_C(1000000000000), &f.page))
        return cli_usage_error("audit", NULL, "--page takes a number from 1");
    if (val[7] && !parse_count(val[7], AUDIT_CLI_PAGE_MAX, &f.page_size))
        return cli_usage_error("audit", NULL, "--page-size takes a number from 1 to 100");
    /* 0 means open in the filter: the first second of 1970 is open enough. */
    if (val[5] && f.to == 0)
        return cli_usage_error("audit", NULL, "--to must be after 1970-01-01T00:00:00Z");

    struct audit_record *records;
    size_t n;
    int64_t total;
    struct store_err err = {0};
    if (audit_list(db, &f, &records, &n, &total, &err) < 0)
        return cli_fail(&err);
    /* The text output reads the same objects as --output json, so both show a record's
     * detail the same way. */
    json_t *items = api_model_audit_logs(records, n);
    audit_records_free(records, n);
    if (!items) {
        fprintf(stderr, "dockhand: out of memory\n");
        return 1;
    }
    int rc = 0;
    if (cli_json_out(cfg)) {
        json_t *o =
            json_pack("{s:I, s:I, s:I, s:O}", "total", (json_int_t)total, "page",
                      (json_int_t)f.page, "page_size", (json_int_t)f.page_size, "items", items);
        rc = cli_print_json(o);
        json_decref(o);
    } else {
        audit_print(items, total, f.page, f.page_size);
    }
    json_decref(items);
    return rc;
}
