/* `dockhand robot import FILE`: robots exported from a Harbor database (harbor.h). */
#include "dockhand/cli.h"
#include "dockhand/cli_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "dockhand/harbor.h"

#define IMPORT_READ_CHUNK (1024 * 1024)

/* Reads all of fd into a heap buffer, refusing more than HARBOR_IMPORT_MAX_BYTES.
 * Returns 0, DH_ERR_TOOBIG, DH_ERR_NOMEM or -errno. */
static int read_all(int fd, char **out, size_t *len)
{
    size_t cap = 0, n = 0;
    char *buf = NULL;
    int rc = 0;

    for (;;) {
        if (cap - n < IMPORT_READ_CHUNK) {
            size_t want = cap + IMPORT_READ_CHUNK;
            char *bigger = realloc(buf, want + 1);
            if (!bigger) {
                rc = DH_ERR_NOMEM;
                goto out;
            }
            buf = bigger;
            cap = want;
        }
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = -errno;
            goto out;
        }
        if (got == 0)
            break;
        n += (size_t)got;
        if (n > HARBOR_IMPORT_MAX_BYTES) {
            rc = DH_ERR_TOOBIG;
            goto out;
        }
    }
    buf[n] = '\0';
out:
    if (rc < 0) {
        free(buf);
        buf = NULL;
        n = 0;
    }
    *out = buf;
    *len = n;
    return rc;
}

/* The file's contents; "-" reads standard input. Prints why on failure. */
static int load(const char *path, char **text, size_t *len)
{
    bool is_stdin = strcmp(path, "-") == 0;
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    int rc;

    if (fd < 0) {
        fprintf(stderr, "dockhand: %s: %s\n", path, strerror(errno));
        return -1;
    }
    bool known = fstat(fd, &st) == 0;
    if (known && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "dockhand: %s: is a directory\n", path);
        rc = -1;
        goto out;
    }
    /* A regular file's size is known before reading it; a pipe's only while reading. */
    if (known && S_ISREG(st.st_mode) && st.st_size > HARBOR_IMPORT_MAX_BYTES)
        rc = DH_ERR_TOOBIG;
    else
        rc = read_all(fd, text, len);
    if (rc == DH_ERR_TOOBIG)
        fprintf(stderr,
                "dockhand: %s: larger than %d bytes, the most an import reads; nothing "
                "was imported\n",
                path, HARBOR_IMPORT_MAX_BYTES);
    else if (rc == DH_ERR_NOMEM)
        fprintf(stderr, "dockhand: %s: out of memory\n", path);
    else if (rc < 0)
        fprintf(stderr, "dockhand: %s: %s\n", path, strerror(-rc));
out:
    if (!is_stdin)
        close(fd);
    return rc;
}

static void print_text(const struct harbor_import_report *rep)
{
    printf("imported from Harbor: %zu robot%s created, %zu unchanged, %zu skipped; %zu "
           "project%s created\n",
           rep->robots_created, rep->robots_created == 1 ? "" : "s", rep->robots_unchanged,
           rep->robots_skipped, rep->projects_created, rep->projects_created == 1 ? "" : "s");
    if (!rep->details)
        return;
    json_t *robots = json_object_get(rep->details, "robots"), *r;
    size_t i;
    json_array_foreach(robots, i, r)
    {
        const char *status = json_string_value(json_object_get(r, "status"));
        printf("  %-9s %s%s", status, json_string_value(json_object_get(r, "name")),
               json_is_true(json_object_get(r, "legacy")) ? " (legacy)" : "");
        if (json_integer_value(json_object_get(r, "permissions_skipped")) > 0)
            printf(", %" JSON_INTEGER_FORMAT " permission%s not stored",
                   json_integer_value(json_object_get(r, "permissions_skipped")),
                   json_integer_value(json_object_get(r, "permissions_skipped")) == 1 ? "" : "s");
        if (json_object_get(r, "reason"))
            printf(": %s", json_string_value(json_object_get(r, "reason")));
        printf("\n");
    }
    json_t *pairs = json_object_get(rep->details, "skipped_permissions"), *count;
    const char *pair;
    if (json_object_size(pairs) > 0) {
        printf("permissions dockhand does not grant, not stored:");
        const char *sep = " ";
        json_object_foreach(pairs, pair, count)
        {
            printf("%s%s (%" JSON_INTEGER_FORMAT ")", sep, pair, json_integer_value(count));
            sep = ", ";
        }
        printf("\n");
    }
    json_int_t missing =
        json_integer_value(json_object_get(rep->details, "permissions_on_missing_projects"));
    if (missing > 0)
        printf("permissions on projects deleted in Harbor, not stored: %" JSON_INTEGER_FORMAT "\n",
               missing);
}

static int print_json_report(const struct harbor_import_report *rep)
{
    json_t *o = json_pack(
        "{s:I, s:I, s:I, s:I, s:I}", "robots_created", (json_int_t)rep->robots_created,
        "robots_unchanged", (json_int_t)rep->robots_unchanged, "robots_skipped",
        (json_int_t)rep->robots_skipped, "projects_created", (json_int_t)rep->projects_created,
        "permissions_skipped", (json_int_t)rep->permissions_skipped);
    if (o && rep->details && json_object_update(o, rep->details) < 0) {
        json_decref(o);
        o = NULL;
    }
    char *s = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!s) {
        fprintf(stderr, "dockhand: out of memory for the report (the import itself is done)\n");
        return -1;
    }
    printf("%s\n", s);
    free(s);
    return 0;
}

int cli_robot_import(const struct config *cfg, PGconn *db, const char *path)
{
    struct harbor_import_report rep;
    struct store_err err = {0};
    char *text = NULL;
    size_t len = 0;
    int rc;

    if (load(path, &text, &len) < 0)
        return 1;
    rc = harbor_import(db, text, len, &rep, &err);
    free(text);
    if (rc < 0) {
        fprintf(stderr, "dockhand: %s\n", err.msg);
        return 1;
    }
    if (strcmp(cfg->output, "json") == 0)
        rc = print_json_report(&rep);
    else
        print_text(&rep);
    harbor_import_report_deinit(&rep);
    return rc < 0 ? 1 : 0;
}
