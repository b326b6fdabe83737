/* IPv4 and IPv6 networks (CIDR) and addresses, parsed once into a compact form and
 * matched without allocating: a robot's allowed networks (robots.networks) and the
 * trusted proxies (DOCKHAND_TRUSTED_PROXIES). Pure: no database, no sockets.
 *
 * Grammar: an address as inet_pton(3) takes it (dotted quad, or RFC 4291 text with an
 * optional embedded dotted quad), then optionally "/" and a prefix length of decimal
 * digits (0-32 for IPv4, 0-128 for IPv6). A bare address is a /32 or /128. Host bits set
 * under the prefix ("10.0.0.1/8") are refused, as PostgreSQL's cidr type refuses them.
 * An IPv4-mapped IPv6 address (::ffff:a.b.c.d) given as a client address is the IPv4
 * address a.b.c.d, so IPv4 rules match clients of a dual-stack listener. */
#pragma once
#include <stdint.h>
#include "dockhand/common.h"

#define CIDR_TEXT_MAX 64 /* longest accepted text of one network, bytes */
#define CIDR_LIST_MAX 64 /* networks in one list (robots.networks' CHECK; the proxies) */

struct cidr {
    uint8_t addr[16]; /* IPv4 in the first 4 bytes */
    uint8_t prefix;   /* bits */
    uint8_t family;   /* 4 or 6 */
};

/* Parses one network from s[0..len): 0, or DH_ERR_INVALID (also for host bits set under
 * the prefix, NULs, spaces, a text over CIDR_TEXT_MAX). */
int cidr_parse(const char *s, size_t len, struct cidr *out) DH_MUST_CHECK;

/* Parses one client address (no prefix; an IPv4-mapped IPv6 address becomes IPv4; an
 * IPv6 zone "%eth0" is refused): 0 or DH_ERR_INVALID. */
int cidr_addr_parse(const char *s, struct cidr *out) DH_MUST_CHECK;

/* Whether addr (a full-length prefix) lies within net; never across families. */
bool cidr_contains(const struct cidr *net, const struct cidr *addr);

/* Whether any of list[0..n) contains addr. */
bool cidr_list_contains(const struct cidr *list, size_t n, const struct cidr *addr);

/* Parses a list of networks separated by commas and/or white space (empty items are
 * skipped) into *out (malloc'd, caller frees; NULL when there are none) and *n. At most
 * CIDR_LIST_MAX (DH_ERR_TOOBIG); a bad item is DH_ERR_INVALID with its 0-based index in
 * *bad (when bad is not NULL); DH_ERR_NOMEM. */
int cidr_list_parse(const char *text, struct cidr **out, size_t *n, size_t *bad) DH_MUST_CHECK;

/* Writes net as PostgreSQL's cidr type prints it ("10.0.0.0/8", "2001:db8::/32",
 * "::1/128") into out (CIDR_TEXT_MAX bytes are enough); returns out. */
char *cidr_format(const struct cidr *net, char *out, size_t cap);

/* Writes an address (no prefix) as inet_ntop(3) does ("10.0.0.1", "2001:db8::1"). */
char *cidr_addr_format(const struct cidr *addr, char *out, size_t cap);
