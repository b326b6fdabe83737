/* libFuzzer driver: the Cookie header parser, the session token shape check and the
 * If-None-Match matcher on arbitrary bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/session.h"
#include "dockhand/web.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), v[SESSION_TOKEN_LEN + 1];
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    int rc = session_cookie_get(s, SESSION_COOKIE, v, sizeof(v));
    /* A value found fits, and is a substring of the header. */
    if (rc == 0 && (strlen(v) > SESSION_TOKEN_LEN || (v[0] && !strstr(s, v))))
        __builtin_trap();
    if (rc == 0)
        (void)session_token_wellformed(v);
    (void)web_etag_matches(s, "\"abc\"");
    (void)web_asset_find(s);
    free(s);
    return 0;
}
