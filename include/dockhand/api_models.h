/* Harbor's API models (the JSON the admin API answers with and `dockhand … --output json`
 * prints), built from the store's structs. The store knows nothing of them. Each returns a
 * new reference, or NULL when memory ran out. */
#pragma once
#include <jansson.h>
#include "dockhand/audit.h"
#include "dockhand/projects.h"
#include "dockhand/robots.h"

/* Harbor's Robot model (no secret): id, name (with prefix), description, level,
 * duration, editable, disable, expires_at, permissions, creation_time, update_time. */
json_t *api_model_robot(const struct robot *r);

/* Harbor's RobotCreated / "Export to File": id, name, secret, creation_time, expires_at.
 * secret may be NULL (a manual refresh: nothing to show). */
json_t *api_model_robot_created(const struct robot *r, const char *secret);

/* Harbor's Permissions model: {"system": […], "project": […]} of {resource, action}.
 * System robots may hold every permission of the catalogue, project robots the ones not
 * marked system-only. */
json_t *api_model_permissions(void);

/* Harbor's Project model subset: project_id, name, metadata.public, creation_time,
 * update_time, and robot_count. */
json_t *api_model_project(const struct project *p);

/* Harbor's AuditLog objects (id, username, resource, resource_type, operation, op_time)
 * plus client_ip, request_id and detail (the stored JSON, or null), one for each of the n
 * records, in their order. */
json_t *api_model_audit_logs(const struct audit_record *list, size_t n);

/* A robot's federation rules (dockhand's extension): [{issuer, audience (only when not
 * the default), subject, claims: {name: value}}] in their order. */
json_t *api_model_federation(const struct robot_fed_rule *rules, size_t n);
