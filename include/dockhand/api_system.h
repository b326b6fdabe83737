/* /api/v2.0/configurations, /permissions and /audit-logs, on an API thread. */
#pragma once

struct api_call;

/* rest: the path after the collection's name. */
void api_configurations(struct api_call *c, const char *rest);
void api_permissions(struct api_call *c, const char *rest);
void api_audit_logs(struct api_call *c, const char *rest);
