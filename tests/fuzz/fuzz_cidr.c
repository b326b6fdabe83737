/* libFuzzer driver for networks and addresses (cidr.h) and X-Forwarded-For (http.h).
 * Seed ideas: 10.0.0.0/8  ::1  2001:db8::/32  ::ffff:10.1.2.3  0.0.0.0/0  10.0.0.1/8
 * "1.1.1.1, 10.0.0.1"  [2001:db8::7]:443 */
#include <stdlib.h>
#include <string.h>

#include "dockhand/cidr.h"
#include "dockhand/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cidr net, again, *list = NULL;
    char text[CIDR_TEXT_MAX], *s = malloc(size + 1), out[HTTP_ADDR_MAX];
    size_t n = 0;
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (cidr_parse((const char *)data, size, &net) == 0) {
        /* A network printed as PostgreSQL would parses back to itself and contains itself. */
        cidr_format(&net, text, sizeof(text));
        if (cidr_parse(text, strlen(text), &again) != 0 || memcmp(&net, &again, sizeof(net)) ||
            net.prefix > (net.family == 4 ? 32 : 128))
            abort();
    }
    if (cidr_addr_parse(s, &net) == 0 && !cidr_contains(&net, &net))
        abort();
    if (cidr_list_parse(s, &list, &n, NULL) == 0 && n > CIDR_LIST_MAX)
        abort();
    struct cidr any[2];
    if (cidr_parse("0.0.0.0/0", 9, &any[0]) || cidr_parse("::/0", 4, &any[1]))
        abort();
    http_forwarded_client("10.0.0.1", s, any, 2, out, sizeof(out));
    if (strlen(out) >= sizeof(out))
        abort();
    free(list);
    free(s);
    return 0;
}
