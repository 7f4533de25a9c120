/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_name.h: which host names can get a publicly trusted certificate.
 *
 * The one idea: the module (which vhosts get a twin, which aliases a site's certificate covers)
 * and the CLI (which names `autotls issue` orders) apply the same rule, so a name refused by one
 * is refused by the other, with the same reason. An IP address (RFC 8738) is a name only where
 * it is asked for explicitly (AutoTLS on in its own vhost, the CLI) and only in its canonical
 * text, the one spelling the CA, the certificate check, httpd's Host matching and the store use.
 */
#ifndef AT_NAME_H
#define AT_NAME_H

#include <apr_pools.h>
#include <apr_tables.h>

#define AT_NAME_MAX 253      /* a DNS name's length, without the root's trailing dot */
#define AT_NAME_LABEL_MAX 63 /* a DNS label's length */

#define AT_NAME_IP_TEXT_MAX 46 /* INET6_ADDRSTRLEN: the longest IP address text and its NUL */

/* Whether name can get a publicly trusted certificate: a valid host name (letters, digits, '-'
 * and '.', labels of 1..63 characters not starting or ending in '-', 253 characters at most; one
 * trailing dot allowed), not a wildcard, not an IP address, not localhost or a name under it,
 * not a single label. When not, *why says which (a static text, "is ..."). Case is ignored. Pure
 * function; name may be NULL (ineligible: empty). */
int at_name_eligible(const char *name, const char **why);

/* What at_name_eligible_as accepts beyond host names. */
#define AT_NAME_ALLOW_IP 0x1u /* IP addresses: asked for explicitly (AutoTLS on in the vhost) */
#define AT_NAME_ALLOW_PRIVATE_IP                                                                   \
    0x2u /* and private, loopback, link-local and documentation ones                               \
            (AutoTLSAllowPrivateIP: a private CA, a lab, tests) */

/* at_name_eligible, and with AT_NAME_ALLOW_IP an IP address in its canonical text (at_name_ip)
 * that a server can be reached at: unicast, not unspecified, not IPv4-mapped; and unless
 * AT_NAME_ALLOW_PRIVATE_IP also publicly routable. Without AT_NAME_ALLOW_IP an IP address is
 * refused with the reason that it needs AutoTLS on in its own vhost. */
int at_name_eligible_as(const char *name, unsigned allow, const char **why);

/* Whether text is an IP address literal: IPv4 in dotted decimal, or IPv6 with or without
 * brackets. When it is and canonical is not NULL, writes there (AT_NAME_IP_TEXT_MAX bytes) its
 * canonical text: IPv4 as RFC 1123 §2.1, IPv6 as RFC 5952 §4 (lower case, longest run of zeros
 * compressed), without brackets: the ACME identifier's value (RFC 8738 §3), what httpd makes of
 * a Host header (r->hostname) and what a certificate's iPAddress SAN is compared with. */
int at_name_ip(const char *text, char *canonical);

/* The reverse-DNS names of IP addresses (RFC 1035 §3.5, RFC 3596 §2.5): what a CA sends as SNI
 * when it validates an IP identifier by tls-alpn-01 (RFC 8738 §6), since SNI carries no address
 * (RFC 6066 §3). */
#define AT_NAME_REVERSE_IP4_SUFFIX ".in-addr.arpa"
#define AT_NAME_REVERSE_IP6_SUFFIX ".ip6.arpa"

/* Whether name is the reverse-DNS name of an IP address, parsed strictly: exactly four decimal
 * labels of 0..255 without leading zeros, the address's bytes in reverse order, then
 * "in-addr.arpa" ("1.0.0.127.in-addr.arpa" is 127.0.0.1); or exactly 32 labels of one hex digit,
 * the address's nibbles from the last, then "ip6.arpa". Letters in any case (DNS names compare
 * case-insensitively); no trailing dot (an SNI carries none, RFC 6066 §3); anything else is no
 * address. When it is and canonical is not NULL, writes there (AT_NAME_IP_TEXT_MAX bytes) the
 * address's canonical text (at_name_ip). Pure function; name may be NULL (not one). */
int at_name_reverse_ip(const char *name, char *canonical);

/* Whether name is a wildcard that can get a publicly trusted certificate by dns-01: "*." and
 * an eligible name of at least two labels ("*.example.com"; not "*.com", not "a.*.example.com").
 * When not, *why says which. */
#define AT_NAME_WILDCARD_PREFIX "*."
int at_name_wildcard_eligible(const char *name, const char **why);

/* The first of patterns (const char *: host names or fnmatch patterns, as AutoTLSExclude takes
 * them) that name matches, case ignored; NULL when none does. */
const char *at_name_excluded_by(const apr_array_header_t *patterns, const char *name);

/* The names (const char *) as one text, sep between them (log lines, pages, the CLI); "" for
 * none or NULL. */
const char *at_name_list_text(apr_pool_t *p, const apr_array_header_t *names, const char *sep);

#endif
