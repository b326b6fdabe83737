/* The token realm's scope grammar: `type[(class)]:name:actions`.
 * Type runs to the first ':', actions follow the last ':', the name is what lies
 * between (so names may hold host:port). Pure; knows nothing of HTTP or SQL. */
#pragma once
#include "dockhand/common.h"

#define SCOPE_MAX_ITEMS 64 /* distinct resources in one request */
#define SCOPE_MAX_LEN 1024 /* one scope string */
#define SCOPE_MAX_NAME 512 /* resource name */
#define SCOPE_MAX_TYPE 64  /* type and class */

/* Registry actions as bits. Unknown action words are dropped (never granted). */
enum {
    ACT_PULL = 1u << 0,
    ACT_PUSH = 1u << 1,
    ACT_DELETE = 1u << 2,
    ACT_STAR = 1u << 3, /* the literal "*" */
};

struct scope_item {
    char *type;         /* e.g. "repository", "registry" */
    char *cls;          /* NULL when no "(class)" was given */
    char *name;         /* e.g. "library/app", "catalog" */
    unsigned requested; /* ACT_* bits requested */
    unsigned granted;   /* 0 here; the realm fills it in (access_intersect, access_catalog) */
};

struct scope_list {
    struct scope_item *items;
    size_t n;
    size_t cap;
};

/* Parses one parameter value, which may hold several scopes separated by spaces
 * (runs of spaces and empty values are fine), and appends them to l. A scope for a
 * resource (type, class, name) already in l merges its actions into that item, so
 * repeated parameters are added by calling this once per value. value is
 * length-delimited (it may be NULL when len is 0); a NUL byte inside is invalid.
 * Fails with DH_ERR_INVALID (no ':' pair, empty type or name, bad class syntax,
 * control characters, invalid UTF-8), DH_ERR_TOOBIG (a scope over SCOPE_MAX_LEN, a
 * name over SCOPE_MAX_NAME, a type or class over SCOPE_MAX_TYPE bytes, or l would
 * hold more than SCOPE_MAX_ITEMS items), DH_ERR_NOMEM.
 * On failure l keeps what it had before the call. */
int scope_list_add(struct scope_list *l, const char *value, size_t len) DH_MUST_CHECK;

/* Frees every item; l is reusable (zeroed) afterwards. Accepts a zeroed list. */
void scope_list_deinit(struct scope_list *l);

/* Writes the action words of bits into out as a comma-separated list in the order
 * pull, push, delete, * (e.g. "pull,push"). out needs 32 bytes. Returns length. */
size_t scope_actions_format(unsigned bits, char *out);

/* For a repository name, the project: the first path component ("library/app" →
 * "library"). Copies it into out, NUL-terminated (strlen(name) bytes always suffice).
 * Returns false when the name has no '/', the component is empty, or it does not
 * fit in outcap bytes with its NUL. */
bool scope_repo_project(const char *name, char *out, size_t outcap);
