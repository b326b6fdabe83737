#include "dockhand/cli_grammar.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "dockhand/common.h"

/* One command. A one-word command (serve) has no verb. Options are NULL-terminated
 * lists; value options take the next word. required: value options that must be given.
 * A verb with actions (robot federation add|list|remove) has one entry per action. */
struct cli_verb {
    const char *group;
    const char *verb;
    int min_words, max_words; /* after the verb (and action) */
    const char *const *value_opts;
    const char *const *flag_opts;
    const char *const *required;
    const char *usage;  /* its lines in the usage text, each ending in a newline */
    const char *action; /* the word after the verb, or NULL */
};

#define OPTS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define CLI_GRAMMAR_MAX_WORDS 1000

static const char robot_state_usage[] = "  robot disable|enable|delete ROBOT\n";

static const struct cli_verb verbs[] = {
    {"serve", NULL, 0, 0, NULL, NULL, NULL,
     "  serve                                  run the HTTP server\n", NULL},
    {"migrate", NULL, 0, 0, NULL, NULL, NULL,
     "  migrate                                create or upgrade the database schema\n", NULL},
    {"keygen", NULL, 0, 0, OPTS("--alg", "--days", "--cn"), NULL, NULL,
     "  keygen [--alg ES256|ES384|RS256] [--days N] [--cn NAME]\n"
     "                                         make a signing key and certificate in the keys "
     "dir\n",
     NULL},
    {"project", "create", 1, 1, NULL, OPTS("--public"), NULL,
     "  project create NAME [--public]         create a project\n", NULL},
    {"project", "list", 0, 0, OPTS("--search"), NULL, NULL,
     "  project list [--search PART]           list projects\n", NULL},
    {"project", "show", 1, 1, NULL, NULL, NULL,
     "  project show NAME|ID                   show a project\n", NULL},
    {"project", "delete", 1, 1, NULL, NULL, NULL,
     "  project delete NAME|ID                 delete a project, its project robots and "
     "grants\n",
     NULL},
    {"robot", "create", 1, 1,
     OPTS("--level", "--project", "--all-projects", "--duration", "--description", "--export"),
     OPTS("--catalog"), NULL,
     "  robot create NAME [--level system|project] [--project PROJ:PERM,...]...\n"
     "               [--all-projects PERM,...] [--catalog] [--duration DAYS]\n"
     "               [--description TEXT] [--export FILE]\n",
     NULL},
    {"robot", "list", 0, 0, OPTS("--search", "--level"), NULL, NULL,
     "  robot list [--search PART] [--level system|project]\n", NULL},
    {"robot", "show", 1, 1, NULL, NULL, NULL,
     "  robot show ROBOT                       ROBOT: id, name, or name with prefix\n", NULL},
    {"robot", "update", 1, 1, OPTS("--description", "--duration", "--project", "--all-projects"),
     OPTS("--catalog"), NULL,
     "  robot update ROBOT [--description T] [--duration D] [--project ...]...\n"
     "               [--all-projects ...] [--catalog]\n"
     "                                         permissions are replaced when any is given\n",
     NULL},
    {"robot", "disable", 1, 1, NULL, NULL, NULL, robot_state_usage, NULL},
    {"robot", "enable", 1, 1, NULL, NULL, NULL, robot_state_usage, NULL},
    {"robot", "delete", 1, 1, NULL, NULL, NULL, robot_state_usage, NULL},
    {"robot", "refresh-secret", 1, 1, OPTS("--export"), OPTS("--secret-stdin"), NULL,
     "  robot refresh-secret ROBOT [--secret-stdin] [--export FILE]\n", NULL},
    {"robot", "import", 1, 1, NULL, NULL, NULL,
     "  robot import FILE                      import robots exported from a Harbor "
     "database\n",
     NULL},
    {"robot", "federation", 1, 1, OPTS("--issuer-url", "--subject", "--audience", "--claim"), NULL,
     OPTS("--issuer-url", "--subject"),
     "  robot federation add ROBOT --issuer-url URL --subject PATTERN [--audience AUD]\n"
     "               [--claim NAME=PATTERN]...   trust an OIDC issuer's identity tokens\n",
     "add"},
    {"robot", "federation", 1, 1, NULL, NULL, NULL,
     "  robot federation list ROBOT            its federation rules, numbered from 1\n", "list"},
    {"robot", "federation", 1, 2, NULL, OPTS("--all"), NULL,
     "  robot federation remove ROBOT INDEX|--all\n"
     "                                         remove one rule (its number) or all\n",
     "remove"},
    {"robot", "networks", 2, CLI_GRAMMAR_MAX_WORDS, NULL, NULL, NULL,
     "  robot networks set ROBOT CIDR...       log in only from these networks (IPv4, IPv6)\n",
     "set"},
    {"robot", "networks", 1, 1, NULL, NULL, NULL,
     "  robot networks list ROBOT              the networks it may log in from\n", "list"},
    {"robot", "networks", 1, 1, NULL, NULL, NULL,
     "  robot networks clear ROBOT             log in from anywhere again\n", "clear"},
    {"admin", "create", 1, 1, NULL, OPTS("--password-stdin"), NULL,
     "  admin create NAME [--password-stdin]   create an administrator (password generated\n"
     "                                         and printed once unless read from stdin)\n",
     NULL},
    {"admin", "passwd", 1, 1, NULL, OPTS("--password-stdin"), NULL,
     "  admin passwd NAME [--password-stdin]   set a new password\n", NULL},
    {"admin", "list", 0, 0, NULL, NULL, NULL,
     "  admin list                             list administrators\n", NULL},
    {"admin", "delete", 1, 1, NULL, NULL, NULL,
     "  admin delete NAME                      delete an administrator\n", NULL},
    {"audit", "list", 0, 0,
     OPTS("--operation", "--resource-type", "--resource", "--username", "--from", "--to", "--page",
          "--page-size"),
     NULL, NULL,
     "  audit list [--operation OP] [--resource-type T] [--resource PART] [--username U]\n"
     "             [--from TIME] [--to TIME] [--page N] [--page-size N]\n"
     "                                         the audit log, newest first\n",
     NULL},
    {"audit", "prune", 0, 0, OPTS("--before"), NULL, OPTS("--before"),
     "  audit prune --before TIME              delete older audit records (recorded itself)\n",
     NULL},
    {"permissions", NULL, 0, 0, NULL, NULL, NULL,
     "  permissions                            the grantable permissions (system, project)\n",
     NULL},
    {"config", "get", 0, 1, NULL, NULL, NULL,
     "  config get [KEY]                       a setting (robot_token_duration,\n"
     "                                         robot_name_prefix, token_expiration), or all\n",
     NULL},
    {"config", "set", 2, 2, NULL, NULL, NULL,
     "  config set KEY VALUE                   change a setting\n", NULL},
    {"probe", NULL, 0, 1, NULL, NULL, NULL,
     "  probe [PATH]                           GET PATH (/readyz) of this instance, HTTPS when\n"
     "                                         DOCKHAND_TLS_CERT is set: exit 0 on a 200\n",
     NULL},
    {"version", NULL, 0, 0, NULL, NULL, NULL,
     "  version                                this binary's version and schema\n", NULL},
    {"help", NULL, 0, 0, NULL, NULL, NULL,
     "  help                                   this text and every setting\n", NULL},
};

static const char notes[] =
    "\n"
    "PERM: pull, push, delete (artifact delete) or RESOURCE/ACTION (e.g. tag/create).\n"
    "Add --output json for machine-readable output; COMMAND --help for one command's usage.\n";

/* Prints the usage lines of the entries matching group (and verb when not NULL), each
 * shared block once. */
static void print_usage(FILE *out, const char *group, const char *verb)
{
    const char *last = NULL;
    for (size_t i = 0; i < DH_ARRAY_SIZE(verbs); i++) {
        const struct cli_verb *v = &verbs[i];
        if ((group && strcmp(v->group, group) != 0) ||
            (verb && (!v->verb || strcmp(v->verb, verb) != 0)) || v->usage == last)
            continue;
        fputs(v->usage, out);
        last = v->usage;
    }
}

void cli_grammar_usage(FILE *out)
{
    fputs("usage: dockhand COMMAND [ARGS] [--setting VALUE ...]\n\n", out);
    print_usage(out, NULL, NULL);
    fputs(notes, out);
}

static bool listed(const char *const *opts, const char *a)
{
    for (size_t i = 0; opts && opts[i]; i++)
        if (strcmp(opts[i], a) == 0)
            return true;
    return false;
}

static bool is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

int cli_usage_error(const char *group, const char *verb, const char *why)
{
    if (why)
        fprintf(stderr, "dockhand: %s\n", why);
    if (group) {
        fputs("usage:\n", stderr);
        print_usage(stderr, group, verb);
    } else {
        cli_grammar_usage(stderr);
    }
    return 2;
}

static enum cli_check refuse(const char *group, const char *verb, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum cli_check refuse(const char *group, const char *verb, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    cli_usage_error(group, verb, why);
    return CLI_USAGE;
}

enum cli_check cli_grammar_check(int argc, char **argv)
{
    if (argc < 1)
        return refuse(NULL, NULL, "a command is needed");
    const char *group = argv[0];
    const struct cli_verb *v = NULL;
    bool known_group = false;
    for (size_t i = 0; i < DH_ARRAY_SIZE(verbs); i++)
        known_group |= strcmp(verbs[i].group, group) == 0;
    if (!known_group)
        return refuse(NULL, NULL, "unknown command %s", group);

    int first = 1; /* the first word after the command (and its verb) */
    for (size_t i = 0; i < DH_ARRAY_SIZE(verbs) && !v; i++)
        if (strcmp(verbs[i].group, group) == 0 && !verbs[i].verb)
            v = &verbs[i];
    if (!v) {
        if (argc < 2 || is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
            if (argc >= 2) {
                fputs("usage:\n", stdout);
                print_usage(stdout, group, NULL);
                return CLI_HELP;
            }
            return refuse(group, NULL, "%s needs a subcommand", group);
        }
        for (size_t i = 0; i < DH_ARRAY_SIZE(verbs) && !v; i++)
            if (strcmp(verbs[i].group, group) == 0 && strcmp(verbs[i].verb, argv[1]) == 0)
                v = &verbs[i];
        if (!v)
            return refuse(group, NULL, "unknown subcommand %s", argv[1]);
        first = 2;
        if (v->action) {
            const char *verb = v->verb;
            if (argc < 3 || is_help(argv[2])) {
                if (argc >= 3) {
                    fputs("usage:\n", stdout);
                    print_usage(stdout, group, verb);
                    return CLI_HELP;
                }
                return refuse(group, verb, "%s %s needs an action", group, verb);
            }
            v = NULL;
            for (size_t i = 0; i < DH_ARRAY_SIZE(verbs) && !v; i++)
                if (strcmp(verbs[i].group, group) == 0 && verbs[i].verb &&
                    strcmp(verbs[i].verb, verb) == 0 && verbs[i].action &&
                    strcmp(verbs[i].action, argv[2]) == 0)
                    v = &verbs[i];
            if (!v)
                return refuse(group, verb, "unknown action %s", argv[2]);
            first = 3;
        }
    }
    for (int i = first; i < argc; i++) {
        if (is_help(argv[i])) {
            fputs("usage:\n", stdout);
            if (v->action)
                fputs(v->usage, stdout);
            else
                print_usage(stdout, v->group, v->verb);
            return CLI_HELP;
        }
    }

    char name[64];
    snprintf(name, sizeof(name), "%s%s%s%s%s", v->group, v->verb ? " " : "", v->verb ? v->verb : "",
             v->action ? " " : "", v->action ? v->action : "");
    int words = 0;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            if (++words > v->max_words)
                return refuse(v->group, v->verb, "unexpected argument %s", a);
        } else if (listed(v->value_opts, a)) {
            if (i + 1 >= argc)
                return refuse(v->group, v->verb, "%s needs a value", a);
            i++;
        } else if (!listed(v->flag_opts, a)) {
            return refuse(v->group, v->verb, "unknown option %s", a);
        }
    }
    if (words < v->min_words)
        return refuse(v->group, v->verb, "%s: an argument is missing", name);
    for (size_t r = 0; v->required && v->required[r]; r++) {
        bool given = false;
        for (int i = first; i < argc && !given; i++)
            given = strcmp(argv[i], v->required[r]) == 0 && i + 1 < argc;
        if (!given)
            return refuse(v->group, v->verb, "%s is required", v->required[r]);
    }
    /* remove takes a rule's number or --all, not both */
    if (v->action && strcmp(v->action, "remove") == 0) {
        bool all = false;
        for (int i = first; i < argc; i++)
            all |= strcmp(argv[i], "--all") == 0;
        if ((words == 2) == all)
            return refuse(v->group, v->verb, "%s: give a rule's number or --all", name);
    }
    return CLI_RUN;
}
