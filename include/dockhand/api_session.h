/* The web page's sign-in (/c/login), session (/c/session) and sign-out (/c/log_out),
 * on an API thread. */
#pragma once

struct api_call;

/* rest is the path after "/c". */
void api_session(struct api_call *c, const char *rest);
