/* /api/v2.0/projects: create, list, check, get and delete projects, on an API
 * thread. */
#pragma once

struct api_call;

/* rest is the path after "/projects": "" or "/<name or id>". */
void api_projects(struct api_call *c, const char *rest);
