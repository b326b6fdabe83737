#include "dockhand/cli.h"
#include "dockhand/cli_grammar.h"
#include "dockhand/cli_util.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "dockhand/access.h"
#include "dockhand/api_models.h"
#include "dockhand/db.h"
#include "dockhand/keys.h"
#include "dockhand/log.h"
#include "dockhand/server.h"
#include "dockhand/projects.h"
#include "dockhand/robots.h"
#include "dockhand/secret.h"
#include "dockhand/settings.h"

#define CLI_MAX_ARGS 64

static int usage(const char *why)
{
    return cli_usage_error(NULL, NULL, why);
}

/* ---- command-line options of a subcommand --------------------------------------------- */

struct opts {
    const char *pos[4];
    int npos;
    const char *flags[CLI_MAX_ARGS][2]; /* name, value (NULL for booleans) */
    int nflags;
};

/* Splits args into positionals and --flags; value_flags take a value. */
static int opts_parse(struct opts *o, int argc, char **argv, const char *const *value_flags,
                      const char *const *bool_flags)
{
    memset(o, 0, sizeof(*o));
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            if (o->npos == (int)DH_ARRAY_SIZE(o->pos))
                return usage("too many arguments");
            o->pos[o->npos++] = a;
            continue;
        }
        bool known = false;
        for (int k = 0; value_flags && value_flags[k]; k++) {
            if (strcmp(a, value_flags[k]) == 0) {
                if (i + 1 >= argc) {
                    fprintf(stderr, "dockhand: %s needs a value\n", a);
                    return 2;
                }
                if (o->nflags == CLI_MAX_ARGS)
                    return usage("too many options");
                o->flags[o->nflags][0] = a;
                o->flags[o->nflags++][1] = argv[++i];
                known = true;
            }
        }
        for (int k = 0; !known && bool_flags && bool_flags[k]; k++) {
            if (strcmp(a, bool_flags[k]) == 0) {
                if (o->nflags == CLI_MAX_ARGS)
                    return usage("too many options");
                o->flags[o->nflags][0] = a;
                o->flags[o->nflags++][1] = NULL;
                known = true;
            }
        }
        if (!known) {
            fprintf(stderr, "dockhand: unknown option %s\n", a);
            return 2;
        }
    }
    return 0;
}

static const char *opt_get(const struct opts *o, const char *name)
{
    const char *v = NULL;
    for (int i = 0; i < o->nflags; i++)
        if (strcmp(o->flags[i][0], name) == 0)
            v = o->flags[i][1] ? o->flags[i][1] : "";
    return v;
}

static bool parse_int64(const char *s, int64_t *out)
{
    char *end;
    if (!s || !*s || strlen(s) > 19)
        return false;
    long long v = strtoll(s, &end, 10);
    if (*end)
        return false;
    *out = v;
    return true;
}

/* ---- permissions from the command line ---------------------------------------------- */

struct perm_args {
    struct robot_permission perms[ROBOT_MAX_PERMS];
    size_t n;
};

static void perm_args_deinit(struct perm_args *pa)
{
    for (size_t i = 0; i < pa->n; i++) {
        for (size_t j = 0; j < pa->perms[i].naccess; j++) {
            free(pa->perms[i].access[j].resource);
            free(pa->perms[i].access[j].action);
        }
        free(pa->perms[i].access);
        free(pa->perms[i].kind);
        free(pa->perms[i].namespace_);
    }
    pa->n = 0;
}

/* "pull,push,tag/create" into access pairs of p. */
static int perm_list_parse(struct robot_permission *p, const char *list)
{
    char *copy = strdup(list), *save = NULL;
    size_t cap = 1;
    for (const char *c = list; *c; c++)
        cap += *c == ',';
    p->access = calloc(cap, sizeof(*p->access));
    if (!copy || !p->access) {
        free(copy);
        return DH_ERR_NOMEM;
    }
    for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        const char *res = "repository", *act = w;
        char *slash = strchr(w, '/');
        if (slash) {
            *slash = '\0';
            res = w;
            act = slash + 1;
        } else if (strcmp(w, "delete") == 0) {
            res = "artifact";
        }
        p->access[p->naccess].resource = strdup(res);
        p->access[p->naccess].action = strdup(act);
        p->naccess++;
    }
    free(copy);
    return 0;
}

static int perm_args_collect(struct perm_args *pa, const struct opts *o, bool *any)
{
    *any = false;
    for (int i = 0; i < o->nflags; i++) {
        const char *name = o->flags[i][0], *v = o->flags[i][1];
        if (strcmp(name, "--project") != 0 && strcmp(name, "--all-projects") != 0 &&
            strcmp(name, "--catalog") != 0)
            continue;
        *any = true;
        if (pa->n == DH_ARRAY_SIZE(pa->perms)) {
            fprintf(stderr, "dockhand: too many permission options\n");
            return 1;
        }
        struct robot_permission *p = &pa->perms[pa->n++];
        int rc;
        if (strcmp(name, "--catalog") == 0) {
            p->kind = strdup("system");
            p->namespace_ = strdup("/");
            rc = perm_list_parse(p, "catalog/read");
        } else if (strcmp(name, "--all-projects") == 0) {
            p->kind = strdup("project");
            p->namespace_ = strdup("*");
            rc = perm_list_parse(p, v);
        } else {
            const char *colon = strchr(v, ':');
            if (!colon) {
                fprintf(stderr, "dockhand: --project takes PROJECT:PERM,PERM (got %s)\n", v);
                return 2;
            }
            p->kind = strdup("project");
            p->namespace_ = strndup(v, (size_t)(colon - v));
            rc = perm_list_parse(p, colon + 1);
        }
        if (rc < 0 || !p->kind || !p->namespace_) {
            fprintf(stderr, "dockhand: out of memory\n");
            return 1;
        }
    }
    return 0;
}

/* ---- output ---------------------------------------------------------------------------- */

static void expiry_text(int64_t expires_at, char *out, size_t cap)
{
    if (expires_at == -1) {
        snprintf(out, cap, "never");
        return;
    }
    time_t t = (time_t)expires_at, now = time(NULL);
    struct tm tm;
    char ts[32];
    gmtime_r(&t, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%SZ", &tm);
    if (t <= now)
        snprintf(out, cap, "%s (expired)", ts);
    else if (t - now >= 86400)
        snprintf(out, cap, "%s (%" PRId64 " days left)", ts, (int64_t)(t - now) / 86400);
    else
        snprintf(out, cap, "%s (%" PRId64 " hours left)", ts, (int64_t)(t - now) / 3600);
}

static void robot_print(const struct robot *r)
{
    char exp[64];
    expiry_text(r->expires_at, exp, sizeof(exp));
    printf("id:           %" PRId64 "\n", r->id);
    printf("name:         %s%s\n", r->full_name, r->legacy ? " (legacy)" : "");
    printf("level:        %s\n", r->level);
    printf("enabled:      %s\n", r->disabled ? "no" : "yes");
    printf("description:  %s\n", r->description);
    printf("duration:     %d%s\n", r->duration, r->duration == -1 ? " (never expires)" : " days");
    printf("expires:      %s\n", exp);
    printf("created:      %s\n", r->creation_time);
    printf("last used:    %s\n", r->last_used ? r->last_used : "never");
    printf("permissions:\n");
    for (size_t i = 0; i < r->nperms; i++) {
        const struct robot_permission *p = &r->perms[i];
        if (strcmp(p->kind, "system") == 0)
            printf("  system:");
        else if (strcmp(p->namespace_, "*") == 0)
            printf("  all projects:");
        else
            printf("  project %s:", p->namespace_);
        for (size_t j = 0; j < p->naccess; j++)
            printf("%s %s:%s", j ? "," : "", p->access[j].resource, p->access[j].action);
        printf("\n");
    }
}

/* Writes the export JSON to path, created or truncated with mode 0600. */
static int export_write(const char *path, json_t *o)
{
    char *s = json_dumps(o, JSON_INDENT(2));
    int rc = 1;
    int fd = s ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600) : -1;
    if (fd < 0) {
        fprintf(stderr, "dockhand: cannot write %s: %s\n", path, strerror(errno));
        goto out;
    }
    size_t len = strlen(s);
    if (fchmod(fd, 0600) < 0 || write(fd, s, len) != (ssize_t)len || write(fd, "\n", 1) != 1) {
        fprintf(stderr, "dockhand: cannot write %s: %s\n", path, strerror(errno));
        close(fd);
        goto out;
    }
    rc = close(fd) < 0 ? 1 : 0;
out:
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
    return rc;
}

/* Prints a robot with its new secret (create, refresh) and writes the export file. */
static int secret_output(const struct config *cfg, const struct robot *r, const char *secret,
                         const char *export_path)
{
    json_t *o = api_model_robot_created(r, secret && *secret ? secret : NULL);
    int rc = 0;
    if (!o)
        return 1;
    if (export_path)
        rc = export_write(export_path, o);
    if (cli_json_out(cfg)) {
        cli_print_json(o);
    } else {
        printf("robot:   %s (id %" PRId64 ")\n", r->full_name, r->id);
        if (secret && *secret) {
            printf("secret:  %s\n", secret);
            printf("The secret is shown only this once%s.\n",
                   export_path ? " and was written to the export file" : "");
        } else {
            printf("The new secret is in effect.\n");
        }
    }
    json_decref(o);
    return rc;
}

/* ---- commands -------------------------------------------------------------------------- */

/* The catalogue of /api/v2.0/permissions. */
static int cmd_permissions(const struct config *cfg)
{
    if (cli_json_out(cfg)) {
        json_t *all = api_model_permissions();
        cli_print_json(all);
        json_decref(all);
        return 0;
    }
    printf("%-20s %-8s %-8s %s\n", "RESOURCE", "ACTION", "LEVEL", "DESCRIPTION");
    for (size_t i = 0; i < access_catalogue_len; i++) {
        const struct perm_def *d = &access_catalogue[i];
        printf("%-20s %-8s %-8s %s\n", d->resource, d->action, d->system_only ? "system" : "any",
               d->description);
    }
    return 0;
}

static int cmd_migrate(const struct config *cfg)
{
    PGconn *db = db_connect(cfg->database_url, DB_ROLE_CLI);
    if (!db)
        return 1;
    int rc = db_migrate(db, !cli_json_out(cfg));
    int v = rc == 0 ? db_schema_version(db) : rc;
    PQfinish(db);
    if (rc < 0 || v < 0)
        return 1;
    if (cli_json_out(cfg))
        printf("{\"schema_version\": %d}\n", v);
    else
        printf("schema at version %d\n", v);
    return 0;
}

static int cmd_keygen(const struct config *cfg, int argc, char **argv)
{
    static const char *const vf[] = {"--alg", "--days", "--cn", NULL};
    struct opts o;
    int rc = opts_parse(&o, argc, argv, vf, NULL);
    if (rc)
        return rc;
    if (o.npos)
        return usage("keygen takes no arguments");
    const char *alg = opt_get(&o, "--alg"), *cn = opt_get(&o, "--cn");
    int64_t days = 3650;
    if (opt_get(&o, "--days") &&
        (!parse_int64(opt_get(&o, "--days"), &days) || days < 1 || days > 36500))
        return usage("--days takes 1 to 36500");
    char name[256];
    rc = keys_generate(cfg->keys_dir, alg ? alg : "ES256", cn ? cn : "dockhand token signer",
                       (int)days, name, sizeof(name));
    if (rc < 0) {
        /* keys_generate removes what it wrote before failing: say so, with the reason (a
         * full or read-only file system, a missing permission). */
        fprintf(stderr, "dockhand: cannot make a key in %s: %s; nothing was written\n",
                cfg->keys_dir,
                rc == DH_ERR_CRYPTO    ? "OpenSSL could not make the key"
                : rc == DH_ERR_INVALID ? "invalid arguments"
                                       : strerror(-rc));
        return 1;
    }
    if (cli_json_out(cfg))
        printf("{\"keys_dir\": \"%s\", \"name\": \"%s\"}\n", cfg->keys_dir, name);
    else
        printf("wrote %s/%s.key and %s/%s.crt\n", cfg->keys_dir, name, cfg->keys_dir, name);
    return 0;
}

static int cmd_project(const struct config *cfg, PGconn *db, int argc, char **argv)
{
    static const char *const vf[] = {"--search", "--page", "--page-size", NULL};
    static const char *const bf[] = {"--public", NULL};
    struct opts o;
    struct store_err err = {0};
    int rc = opts_parse(&o, argc, argv, vf, bf);
    if (rc)
        return rc;
    if (o.npos < 1)
        return usage("project needs a subcommand");
    const char *sub = o.pos[0];
    if (strcmp(sub, "create") == 0 && o.npos == 2) {
        struct project p;
        if (project_create(db, o.pos[1], opt_get(&o, "--public") != NULL, &p, &err) < 0)
            return cli_fail(&err);
        if (cli_json_out(cfg)) {
            json_t *j = api_model_project(&p);
            cli_print_json(j);
            json_decref(j);
        } else {
            printf("created project %s (id %" PRId64 ", %s)\n", p.name, p.id,
                   p.public_ ? "public" : "private");
        }
        project_deinit(&p);
        return 0;
    }
    if (strcmp(sub, "show") == 0 && o.npos == 2) {
        struct project p;
        if (project_get(db, o.pos[1], &p, &err) < 0)
            return cli_fail(&err);
        json_t *j = api_model_project(&p);
        if (cli_json_out(cfg))
            cli_print_json(j);
        else
            printf("id: %" PRId64 "\nname: %s\npublic: %s\ncreated: %s\nproject robots: %" PRId64
                   "\n",
                   p.id, p.name, p.public_ ? "yes" : "no", p.creation_time, p.robot_count);
        json_decref(j);
        project_deinit(&p);
        return 0;
    }
    if (strcmp(sub, "list") == 0 && o.npos == 1) {
        struct project *list;
        size_t n;
        int64_t total;
        if (project_list(db, opt_get(&o, "--search"), 1, 0, &list, &n, &total, &err) < 0)
            return cli_fail(&err);
        json_t *arr = json_array();
        if (!cli_json_out(cfg))
            printf("%-8s %-40s %-8s %-8s %s\n", "ID", "NAME", "PUBLIC", "ROBOTS", "CREATED");
        for (size_t i = 0; i < n; i++) {
            if (cli_json_out(cfg))
                json_array_append_new(arr, api_model_project(&list[i]));
            else
                printf("%-8" PRId64 " %-40s %-8s %-8" PRId64 " %s\n", list[i].id, list[i].name,
                       list[i].public_ ? "yes" : "no", list[i].robot_count, list[i].creation_time);
        }
        if (cli_json_out(cfg))
            cli_print_json(arr);
        json_decref(arr);
        project_list_free(list, n);
        return 0;
    }
    if (strcmp(sub, "delete") == 0 && o.npos == 2) {
        if (project_delete(db, o.pos[1], &err) < 0)
            return cli_fail(&err);
        if (cli_json_out(cfg))
            printf("{\"deleted\": true}\n");
        else
            printf("deleted project %s\n", o.pos[1]);
        return 0;
    }
    return usage("unknown project command or wrong arguments");
}

static int robot_resolve(PGconn *db, const char *ref, struct robot *r)
{
    struct store_err err = {0};
    if (robot_find(db, ref, r, &err) < 0)
        return cli_fail(&err);
    return 0;
}

static int cmd_robot(const struct config *cfg, PGconn *db, int argc, char **argv)
{
    static const char *const vf[] = {"--level",       "--project", "--all-projects", "--duration",
                                     "--description", "--export",  "--search",       NULL};
    static const char *const bf[] = {"--catalog", "--secret-stdin", NULL};
    struct opts o;
    struct store_err err = {0};
    struct perm_args *pa = calloc(1, sizeof(*pa));
    struct robot r = {0};
    bool perms_given = false;
    int rc = pa ? opts_parse(&o, argc, argv, vf, bf) : 1;
    if (rc)
        goto out;
    rc = perm_args_collect(pa, &o, &perms_given);
    if (rc)
        goto out;
    if (o.npos < 1) {
        rc = usage("robot needs a subcommand");
        goto out;
    }
    const char *sub = o.pos[0];
    int64_t duration = 0;
    const char *dur = opt_get(&o, "--duration");
    if (dur && !parse_int64(dur, &duration)) {
        rc = usage("--duration takes a number of days, or -1 for never");
        goto out;
    }

    if (strcmp(sub, "create") == 0 && o.npos == 2) {
        char secret[SECRET_GEN_LEN + 1];
        struct robot_spec spec = {
            .name = o.pos[1],
            .description = opt_get(&o, "--description"),
            .level = opt_get(&o, "--level") ? opt_get(&o, "--level") : "system",
            .duration_set = dur != NULL,
            .duration = duration,
            .perms = pa->perms,
            .nperms = pa->n,
        };
        if (robot_create(db, &spec, &r, secret, &err) < 0) {
            rc = cli_fail(&err);
            goto out;
        }
        rc = secret_output(cfg, &r, secret, opt_get(&o, "--export"));
        OPENSSL_cleanse(secret, sizeof(secret));
    } else if (strcmp(sub, "list") == 0 && o.npos == 1) {
        struct robot *list;
        size_t n;
        int64_t total;
        struct robot_filter f = {.name_part = opt_get(&o, "--search"),
                                 .level = opt_get(&o, "--level")};
        if (robot_list(db, &f, &list, &n, &total, &err) < 0) {
            rc = cli_fail(&err);
            goto out;
        }
        json_t *arr = json_array();
        if (!cli_json_out(cfg))
            printf("%-6s %-32s %-8s %-8s %-9s %-38s %-24s %s\n", "ID", "NAME", "LEVEL", "ENABLED",
                   "PROJECTS", "EXPIRES", "LAST USED", "DESCRIPTION");
        for (size_t i = 0; i < n; i++) {
            if (cli_json_out(cfg)) {
                json_array_append_new(arr, api_model_robot(&list[i]));
                continue;
            }
            char exp[64], projects[32];
            bool all = false;
            size_t np = 0;
            for (size_t k = 0; k < list[i].nperms; k++) {
                if (strcmp(list[i].perms[k].namespace_, "*") == 0)
                    all = true;
                else if (strcmp(list[i].perms[k].kind, "project") == 0)
                    np++;
            }
            snprintf(projects, sizeof(projects), all ? "all" : "%zu", np);
            expiry_text(list[i].expires_at, exp, sizeof(exp));
            printf("%-6" PRId64 " %-32s %-8s %-8s %-9s %-38s %-24s %.60s\n", list[i].id,
                   list[i].full_name, list[i].level, list[i].disabled ? "no" : "yes", projects, exp,
                   list[i].last_used ? list[i].last_used : "never", list[i].description);
        }
        if (cli_json_out(cfg))
            cli_print_json(arr);
        json_decref(arr);
        robot_list_free(list, n);
        rc = 0;
    } else if (o.npos == 2 && (strcmp(sub, "show") == 0 || strcmp(sub, "update") == 0 ||
                               strcmp(sub, "disable") == 0 || strcmp(sub, "enable") == 0 ||
                               strcmp(sub, "delete") == 0 || strcmp(sub, "refresh-secret") == 0)) {
        rc = robot_resolve(db, o.pos[1], &r);
        if (rc)
            goto out;
        if (strcmp(sub, "show") == 0) {
            if (cli_json_out(cfg)) {
                json_t *j = api_model_robot(&r);
                cli_print_json(j);
                json_decref(j);
            } else {
                robot_print(&r);
            }
        } else if (strcmp(sub, "delete") == 0) {
            if (robot_delete(db, r.id, &err) < 0) {
                rc = cli_fail(&err);
                goto out;
            }
            if (cli_json_out(cfg))
                printf("{\"deleted\": true, \"id\": %" PRId64 "}\n", r.id);
            else
                printf("deleted robot %s\n", r.full_name);
        } else if (strcmp(sub, "refresh-secret") == 0) {
            char secret[SECRET_GEN_LEN + 1], manual[SECRET_MANUAL_MAX + 2];
            size_t mlen = 0;
            bool use_manual = opt_get(&o, "--secret-stdin") != NULL;
            if (use_manual) {
                if (cli_read_secret("secret", manual, sizeof(manual), &mlen) != 0) {
                    rc = 1;
                    goto out;
                }
            }
            int r3 = robot_refresh_secret(db, r.id, use_manual ? manual : NULL, mlen, secret, &err);
            OPENSSL_cleanse(manual, sizeof(manual));
            if (r3 < 0) {
                rc = cli_fail(&err);
                goto out;
            }
            rc = secret_output(cfg, &r, use_manual ? NULL : secret, opt_get(&o, "--export"));
            OPENSSL_cleanse(secret, sizeof(secret));
        } else {
            struct robot_change ch = {0};
            if (strcmp(sub, "update") == 0) {
                ch.description = opt_get(&o, "--description");
                ch.duration_set = dur != NULL;
                ch.duration = duration;
                ch.perms_set = perms_given;
                ch.perms = pa->perms;
                ch.nperms = pa->n;
            } else {
                ch.disabled_set = true;
                ch.disabled = strcmp(sub, "disable") == 0;
            }
            if (robot_update(db, r.id, &ch, &err) < 0) {
                rc = cli_fail(&err);
                goto out;
            }
            int64_t id = r.id;
            robot_deinit(&r);
            if (robot_get(db, id, &r, &err) < 0) {
                rc = cli_fail(&err);
                goto out;
            }
            if (cli_json_out(cfg)) {
                json_t *j = api_model_robot(&r);
                cli_print_json(j);
                json_decref(j);
            } else {
                printf("%s robot %s\n",
                       strcmp(sub, "update") == 0 ? "updated"
                       : ch.disabled              ? "disabled"
                                                  : "enabled",
                       r.full_name);
            }
        }
    } else {
        rc = usage("unknown robot command or wrong arguments");
    }
out:
    robot_deinit(&r);
    if (pa) {
        perm_args_deinit(pa);
        free(pa);
    }
    return rc;
}

static int cmd_config(const struct config *cfg, PGconn *db, int argc, char **argv)
{
    struct store_err err = {0};
    if (argc >= 1 && strcmp(argv[0], "get") == 0 && argc <= 2) {
        if (argc == 2) {
            char *v;
            if (settings_get(db, argv[1], &v, &err) < 0) /* refuses unknown keys */
                return cli_fail(&err);
            free(v);
        }
        json_t *o = json_object();
        for (size_t i = 0; i < SETTINGS_COUNT; i++) {
            if (argc == 2 && strcmp(argv[1], settings_keys[i]) != 0)
                continue;
            char *v;
            if (settings_get(db, settings_keys[i], &v, &err) < 0) {
                json_decref(o);
                return cli_fail(&err);
            }
            if (cli_json_out(cfg))
                json_object_set_new(o, settings_keys[i], json_string(v));
            else if (argc == 2)
                printf("%s\n", v);
            else
                printf("%-22s %s\n", settings_keys[i], v);
            free(v);
        }
        if (cli_json_out(cfg))
            cli_print_json(o);
        json_decref(o);
        return 0;
    }
    if (argc == 3 && strcmp(argv[0], "set") == 0) {
        if (settings_set(db, argv[1], argv[2], &err) < 0)
            return cli_fail(&err);
        if (cli_json_out(cfg))
            printf("{\"%s\": \"ok\"}\n", argv[1]);
        else
            printf("%s set\n", argv[1]);
        return 0;
    }
    return usage("config get [KEY] | config set KEY VALUE");
}

/* Who the audit log names for changes made here: "cli:<login user>". */
static const char *cli_actor(void)
{
    static char actor[96];
    const char *user = getenv("SUDO_USER");
    if (!user || !*user)
        user = getenv("USER");
    if (!user || !*user)
        user = getenv("LOGNAME");
    snprintf(actor, sizeof(actor), "cli:%.80s", user && *user ? user : "unknown");
    return actor;
}

int cli_main(struct config *cfg, int argc, char **argv)
{
    if (log_configure(cfg->log_level, cfg->log_format) < 0)
        return usage("DOCKHAND_LOG_LEVEL must be debug|info|warn|error and DOCKHAND_LOG_FORMAT "
                     "text|json");
    /* Before any thread: admin passwords, manual secrets and refusals all use it. */
    secret_set_slow_iterations((unsigned)cfg->password_iterations);
    if (argc < 2)
        return usage(NULL);
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        cli_grammar_usage(stdout);
        printf("\n");
        config_print_help(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("dockhand %s (schema %d)\n", DOCKHAND_VERSION, db_schema_expected());
        return 0;
    }
    /* The grammar first: --help and usage errors need no database, no keys. */
    switch (cli_grammar_check(argc - 1, argv + 1)) {
    case CLI_HELP:
        return 0;
    case CLI_USAGE:
        return 2;
    case CLI_RUN:
        break;
    }
    if (strcmp(cmd, "version") == 0) {
        printf("dockhand %s (schema %d)\n", DOCKHAND_VERSION, db_schema_expected());
        return 0;
    }
    if (strcmp(cmd, "permissions") == 0)
        return cmd_permissions(cfg);
    if (strcmp(cmd, "probe") == 0)
        return cli_probe(cfg, argc > 2 ? argv[2] : NULL);
    if (strcmp(cmd, "serve") == 0)
        return server_run(cfg);
    if (strcmp(cmd, "migrate") == 0)
        return cmd_migrate(cfg);
    if (strcmp(cmd, "keygen") == 0)
        return cmd_keygen(cfg, argc - 2, argv + 2);

    bool project = strcmp(cmd, "project") == 0, robot = strcmp(cmd, "robot") == 0,
         config = strcmp(cmd, "config") == 0, admin = strcmp(cmd, "admin") == 0,
         audit = strcmp(cmd, "audit") == 0;
    if (!project && !robot && !config && !admin && !audit)
        return usage("unknown command");
    PGconn *db = db_connect(cfg->database_url, DB_ROLE_CLI);
    if (!db)
        return 1;
    bool usable;
    int v = db_schema_check(db, &usable), rc;
    if (v >= 0 && !usable) {
        fprintf(stderr,
                v < db_schema_expected()
                    ? "dockhand: database schema is at version %d, this binary needs %d: run "
                      "`dockhand migrate`\n"
                    : "dockhand: database schema is at version %d, newer than this binary's %d "
                      "and not usable by it: run the newer release\n",
                v, db_schema_expected());
        rc = 1;
    } else if (v < 0) {
        fprintf(stderr, "dockhand: cannot read the database schema's version: %s",
                PQerrorMessage(db));
        rc = 1;
    } else if (db_set_actor(db, cli_actor(), "local", NULL) < 0) {
        rc = 1;
    } else if (admin) {
        rc = cli_admin(cfg, db, argc - 2, argv + 2);
    } else if (audit) {
        rc = cli_audit(cfg, db, argc - 2, argv + 2);
    } else if (robot && argc == 4 && strcmp(argv[2], "import") == 0) {
        rc = cli_robot_import(cfg, db, argv[3]);
    } else if (robot && argc >= 5 &&
               (strcmp(argv[2], "federation") == 0 || strcmp(argv[2], "networks") == 0)) {
        struct robot r = {0};
        rc = robot_resolve(db, argv[4], &r);
        if (rc == 0)
            rc = (strcmp(argv[2], "federation") == 0 ? cli_robot_federation : cli_robot_networks)(
                cfg, db, &r, argv[3], argc - 5, argv + 5);
        robot_deinit(&r);
    } else if (project) {
        rc = cmd_project(cfg, db, argc - 2, argv + 2);
    } else if (robot) {
        rc = cmd_robot(cfg, db, argc - 2, argv + 2);
    } else {
        rc = cmd_config(cfg, db, argc - 2, argv + 2);
    }
    PQfinish(db);
    return rc;
}
