/* `dockhand robot federation add|list|remove` and `dockhand robot networks set|list|clear`
 * (issue 15): a robot's federation rules and the networks it may log in from. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dockhand/api_models.h"
#include "dockhand/cli.h"
#include "dockhand/cli_util.h"
#include "dockhand/robots.h"
#include "dockhand/store_err.h"

/* Prints s for a terminal: control characters as '?' (rules hold none, but be sure). */
static void print_plain(const char *s)
{
    for (; *s; s++)
        putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

static int federation_print(const struct config *cfg, const struct robot *r,
                            const struct robot_fed_rule *rules, size_t n)
{
    if (cli_json_out(cfg)) {
        json_t *arr = api_model_federation(rules, n);
        int rc = cli_print_json(arr);
        json_decref(arr);
        return rc;
    }
    if (n == 0) {
        printf("robot %s has no federation rules\n", r->full_name);
        return 0;
    }
    printf("%-5s %-40s %-24s %s\n", "INDEX", "ISSUER", "AUDIENCE", "SUBJECT / CLAIMS");
    for (size_t i = 0; i < n; i++) {
        printf("%-5zu %-40s %-24s ", i + 1, rules[i].issuer,
               rules[i].audience ? rules[i].audience : "(the service)");
        print_plain(rules[i].subject);
        for (size_t k = 0; k < rules[i].nclaims; k++) {
            printf("\n%-72s ", "");
            print_plain(rules[i].claims[k].name);
            putchar('=');
            print_plain(rules[i].claims[k].value);
        }
        putchar('\n');
    }
    return 0;
}

/* The options of `federation add` into a new rule appended to a copy of rules. */
static int federation_add(const struct config *cfg, PGconn *db, const struct robot *r, int argc,
                          char **argv)
{
    struct store_err err = {0};
    struct robot_fed_rule *rules = NULL;
    size_t n = 0;
    int rc;
    if (robot_federation_get(db, r->id, &rules, &n, &err) < 0)
        return cli_fail(&err);
    struct robot_fed_rule *grown = realloc(rules, (n + 1) * sizeof(*rules));
    if (!grown) {
        robot_federation_free(rules, n);
        fprintf(stderr, "dockhand: out of memory\n");
        return 1;
    }
    rules = grown;
    struct robot_fed_rule *nr = &rules[n++];
    memset(nr, 0, sizeof(*nr));
    nr->claims = calloc((size_t)argc + 1, sizeof(*nr->claims));
    rc = nr->claims ? 0 : 1;
    for (int i = 0; rc == 0 && i + 1 < argc; i++) {
        const char *a = argv[i], *v = argv[i + 1];
        char **field = strcmp(a, "--issuer-url") == 0 ? &nr->issuer
                       : strcmp(a, "--subject") == 0  ? &nr->subject
                       : strcmp(a, "--audience") == 0 ? &nr->audience
                                                      : NULL;
        if (field) {
            free(*field);
            *field = strdup(v);
            rc = *field ? 0 : 1;
            i++;
        } else if (strcmp(a, "--claim") == 0) {
            const char *eq = strchr(v, '=');
            if (!eq || eq == v) {
                fprintf(stderr, "dockhand: --claim takes NAME=VALUE (VALUE may hold '*')\n");
                rc = 2;
                break;
            }
            struct robot_claim *c = &nr->claims[nr->nclaims++];
            c->name = strndup(v, (size_t)(eq - v));
            c->value = strdup(eq + 1);
            rc = c->name && c->value ? 0 : 1;
            i++;
        }
    }
    if (rc == 0 && robot_federation_set(db, r->id, rules, n, &err) < 0)
        rc = cli_fail(&err);
    robot_federation_free(rules, n);
    if (rc)
        return rc;
    if (robot_federation_get(db, r->id, &rules, &n, &err) < 0)
        return cli_fail(&err);
    if (!cli_json_out(cfg))
        printf("added federation rule %zu to robot %s\n", n, r->full_name);
    rc = cli_json_out(cfg) ? federation_print(cfg, r, rules, n) : 0;
    robot_federation_free(rules, n);
    return rc;
}

static int federation_remove(const struct config *cfg, PGconn *db, const struct robot *r,
                             const char *index)
{
    struct store_err err = {0};
    struct robot_fed_rule *rules = NULL;
    size_t n = 0, keep = 0;
    if (robot_federation_get(db, r->id, &rules, &n, &err) < 0)
        return cli_fail(&err);
    char *end = NULL;
    long at = index ? strtol(index, &end, 10) : 0;
    if (index && (!*index || *end || at < 1 || (size_t)at > n)) {
        fprintf(stderr, "dockhand: robot %s has no federation rule %.20s (it has %zu)\n",
                r->full_name, index, n);
        robot_federation_free(rules, n);
        return 1;
    }
    if (index) { /* the rule goes; the others keep their order */
        struct robot_fed_rule gone = rules[at - 1];
        memmove(&rules[at - 1], &rules[at], (n - (size_t)at) * sizeof(*rules));
        rules[n - 1] = gone;
        keep = n - 1;
    }
    int rc = robot_federation_set(db, r->id, rules, keep, &err) < 0 ? cli_fail(&err) : 0;
    robot_federation_free(rules, n);
    if (rc)
        return rc;
    if (cli_json_out(cfg))
        printf("{\"removed\": %zu, \"left\": %zu}\n", n - keep, keep);
    else
        printf("removed %zu federation rule(s) of robot %s; %zu left\n", n - keep, r->full_name,
               keep);
    return 0;
}

int cli_robot_federation(const struct config *cfg, PGconn *db, const struct robot *r,
                         const char *action, int argc, char **argv)
{
    struct store_err err = {0};
    if (strcmp(action, "add") == 0)
        return federation_add(cfg, db, r, argc, argv);
    if (strcmp(action, "remove") == 0) {
        const char *index = NULL;
        for (int i = 0; i < argc; i++)
            if (strcmp(argv[i], "--all") != 0)
                index = argv[i];
        return federation_remove(cfg, db, r, index);
    }
    struct robot_fed_rule *rules = NULL;
    size_t n = 0;
    if (robot_federation_get(db, r->id, &rules, &n, &err) < 0)
        return cli_fail(&err);
    int rc = federation_print(cfg, r, rules, n);
    robot_federation_free(rules, n);
    return rc;
}

int cli_robot_networks(const struct config *cfg, PGconn *db, const struct robot *r,
                       const char *action, int argc, char **argv)
{
    struct store_err err = {0};
    char **list = NULL;
    size_t n = 0;
    int rc;
    if (strcmp(action, "list") == 0)
        rc = robot_networks_get(db, r->id, &list, &n, &err);
    else
        rc = robot_networks_set(db, r->id, (const char *const *)argv,
                                strcmp(action, "set") == 0 ? (size_t)argc : 0, &list, &n, &err);
    if (rc < 0)
        return cli_fail(&err);
    if (cli_json_out(cfg)) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < n; i++)
            json_array_append_new(arr, json_string(list[i]));
        rc = cli_print_json(arr);
        json_decref(arr);
    } else if (n == 0) {
        printf("robot %s may log in from anywhere\n", r->full_name);
    } else {
        if (strcmp(action, "list") != 0)
            printf("robot %s may log in only from:\n", r->full_name);
        for (size_t i = 0; i < n; i++)
            printf("%s\n", list[i]);
    }
    robot_networks_free(list, n);
    return rc;
}
