/* /api/v2.0/robots: Harbor's robot account endpoints, on an API thread. */
#pragma once

struct api_call;

/* rest is the path after "/robots": "", "/<id>" or "/<id>/sec". */
void api_robots(struct api_call *c, const char *rest);
