/* From a robot's stored permissions to registry actions (docs/design.md §3.6 "Scopes and access").
 * Pure; the caller brings the rows it read from the database. */
#pragma once
#include "dockhand/common.h"
#include "dockhand/scope.h"

/* One stored permission, as "resource" and "action" (e.g. "repository", "push"). */
struct perm {
    const char *resource;
    const char *action;
};

/* The registry actions that a set of permissions on one project gives:
 * repository:pull → ACT_PULL; repository:push → ACT_PUSH|ACT_PULL;
 * artifact:delete or repository:delete → ACT_DELETE. Others give nothing. */
unsigned access_effective(const struct perm *perms, size_t n);

/* What a project contributes regardless of the caller: ACT_PULL when public. */
unsigned access_public(bool project_public);

/* Requested ∩ effective. A requested ACT_STAR grants every action in effective
 * (not the star itself); effective's own ACT_STAR bit, if any, is ignored. */
unsigned access_intersect(unsigned requested, unsigned effective);

/* The registry:catalog:* rule: granted ACT_STAR only when the request asks for
 * "*" on registry:catalog and has_catalog_read holds (requested ∩ effective, the
 * effective set being just "*"; other action words there grant nothing). Returns
 * the granted bits for that item. The caller checks type "registry", name "catalog". */
unsigned access_catalog(unsigned requested, bool has_catalog_read);

/* One entry of the catalogue of grantable permissions (GET /permissions lists it).
 * system_only entries may only be held by system robots, not on a project. */
struct perm_def {
    const char *resource, *action, *description;
    bool system_only;
};

/* The catalogue, read-only: Harbor's project-level robot permissions, then the
 * system-only ones (catalog:read). */
extern const struct perm_def access_catalogue[];
extern const size_t access_catalogue_len;

/* True for a (resource, action) pair that dockhand accepts as a grantable
 * permission (the catalogue of docs/design.md §5); system says whether it is the
 * system-level catalogue (which adds catalog:read). Exact, case-sensitive match;
 * NULL arguments give false. */
bool access_perm_known(const char *resource, const char *action, bool system);
