/* SPDX-License-Identifier: Apache-2.0 */
/*
 * name.c: the name-eligibility rule (at_name.h).
 *
 * The one idea: a name is refused with the first reason a reader would give, so the log line
 * or the CLI's error tells the admin what to change: a wildcard or an IP address before "not a
 * valid host name", localhost and single labels last. An IP address is judged by its range
 * (IANA's special-purpose registries, RFC 6890): one no public CA validates is refused unless
 * the admin says the CA is a private one.
 */
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <apr_fnmatch.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "at_name.h"

#define NAME_LOCALHOST "localhost"
#define NAME_IP4_BYTES 4
#define NAME_IP6_BYTES 16
#define NAME_IP4_OCTET_MAX 255
#define NAME_IP4_OCTET_DIGITS 3 /* "255" */
#define NAME_DECIMAL 10
#define NAME_NIBBLE_BITS 4
#define NAME_NIBBLES_PER_BYTE 2
#define NAME_BITS_PER_BYTE 8
#define NAME_WHY_IP_VHOST "is an IP address: only with AutoTLS on in its vhost"
#define NAME_WHY_IP_FORM                                                                           \
    "is an IP address not in its canonical form (IPv4 dotted decimal; IPv6 as RFC 5952: lower "    \
    "case, zeros compressed, no brackets)"
#define NAME_WHY_PRIVATE_HINT                                                                      \
    ": no public CA validates it (AutoTLSAllowPrivateIP on, or autotls issue --allow-private-ip, " \
    "for a private CA)"

/* An address range an IP name may not be in: always, or unless private addresses are allowed. */
typedef struct {
    int family;
    unsigned char prefix[NAME_IP6_BYTES];
    int bits;
    int always; /* no server is reached there: refused even with AT_NAME_ALLOW_PRIVATE_IP */
    const char *why;
} name_ip_range_t;

/* First match wins (::1 before ::/96). */
static const name_ip_range_t name_ip_ranges[] = {
    {AF_INET, {0}, 8, 1, "is in 0.0.0.0/8 (\"this network\"): not an address a server has"},
    {AF_INET, {224}, 4, 1, "is a multicast address: not an address a server has"},
    {AF_INET, {240}, 4, 1, "is a reserved or the broadcast address: not an address a server has"},
    {AF_INET, {127}, 8, 0, "is a loopback address" NAME_WHY_PRIVATE_HINT},
    {AF_INET, {10}, 8, 0, "is a private address (RFC 1918)" NAME_WHY_PRIVATE_HINT},
    {AF_INET, {172, 16}, 12, 0, "is a private address (RFC 1918)" NAME_WHY_PRIVATE_HINT},
    {AF_INET, {192, 168}, 16, 0, "is a private address (RFC 1918)" NAME_WHY_PRIVATE_HINT},
    {AF_INET, {100, 64}, 10, 0, "is a shared address (RFC 6598)" NAME_WHY_PRIVATE_HINT},
    {AF_INET, {169, 254}, 16, 0, "is a link-local address" NAME_WHY_PRIVATE_HINT},
    {AF_INET, {192, 0, 0}, 24, 0, "is an IETF protocol address (RFC 6890)" NAME_WHY_PRIVATE_HINT},
    {AF_INET, {192, 0, 2}, 24, 0, "is a documentation address (RFC 5737)" NAME_WHY_PRIVATE_HINT},
    {AF_INET, {198, 51, 100}, 24, 0, "is a documentation address (RFC 5737)" NAME_WHY_PRIVATE_HINT},
    {AF_INET, {203, 0, 113}, 24, 0, "is a documentation address (RFC 5737)" NAME_WHY_PRIVATE_HINT},
    {AF_INET, {198, 18}, 15, 0, "is a benchmarking address (RFC 2544)" NAME_WHY_PRIVATE_HINT},
    {AF_INET6,
     {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
     128,
     0,
     "is a loopback address" NAME_WHY_PRIVATE_HINT},
    {AF_INET6,
     {0},
     96,
     1,
     "is the unspecified or an IPv4-compatible address: not an address a server has"},
    {AF_INET6,
     {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff},
     96,
     1,
     "is an IPv4-mapped IPv6 address: write the IPv4 address"},
    {AF_INET6, {0xff}, 8, 1, "is a multicast address: not an address a server has"},
    {AF_INET6, {0xfc}, 7, 0, "is a unique local address (RFC 4193)" NAME_WHY_PRIVATE_HINT},
    {AF_INET6, {0xfe, 0x80}, 10, 0, "is a link-local address" NAME_WHY_PRIVATE_HINT},
    {AF_INET6,
     {0x20, 0x01, 0x0d, 0xb8},
     32,
     0,
     "is a documentation address (RFC 3849)" NAME_WHY_PRIVATE_HINT},
};

int at_name_ip(const char *text, char *canonical)
{
    unsigned char addr[NAME_IP6_BYTES];
    char bare[AT_NAME_IP_TEXT_MAX];
    size_t len = text != NULL ? strlen(text) : 0;
    int family = AF_INET;

    if (len >= 2 && text[0] == '[' && text[len - 1] == ']') {
        text++;
        len -= 2;
        family = AF_INET6; /* brackets hold IPv6 only (RFC 3986 §3.2.2) */
    }
    if (len == 0 || len >= sizeof(bare)) {
        return 0;
    }
    memcpy(bare, text, len);
    bare[len] = '\0';
    if (memchr(bare, ':', len) != NULL) {
        family = AF_INET6;
    } else if (family == AF_INET6) {
        return 0;
    }
    if (inet_pton(family, bare, addr) != 1) {
        return 0;
    }
    return canonical == NULL || inet_ntop(family, addr, canonical, AT_NAME_IP_TEXT_MAX) != NULL;
}

/* Whether name ends in suffix (case ignored) with at least one character before it; the length
 * of what comes before it. */
static int name_strip_suffix(const char *name, size_t len, const char *suffix, size_t *head)
{
    size_t n = strlen(suffix);

    if (len <= n || strcasecmp(name + len - n, suffix) != 0) {
        return 0;
    }
    *head = len - n;
    return 1;
}

/* The four decimal labels of an in-addr.arpa name's head (len characters), last byte first. */
static int name_reverse_ip4(const char *head, size_t len, unsigned char *addr)
{
    size_t i = 0;
    int labels = 0;

    while (labels < NAME_IP4_BYTES) {
        unsigned value = 0;
        size_t digits = 0;

        while (i < len && apr_isdigit(head[i])) {
            if (++digits > NAME_IP4_OCTET_DIGITS || (digits == 2 && value == 0)) {
                return 0; /* a leading zero, or too long for an octet */
            }
            value = value * NAME_DECIMAL + (unsigned)(head[i++] - '0');
        }
        if (digits == 0 || value > NAME_IP4_OCTET_MAX) {
            return 0;
        }
        addr[NAME_IP4_BYTES - 1 - labels++] = (unsigned char)value;
        if (labels < NAME_IP4_BYTES && (i >= len || head[i++] != '.')) {
            return 0;
        }
    }
    return i == len;
}

/* The 32 one-nibble labels of an ip6.arpa name's head (len characters), last nibble first. */
static int name_reverse_ip6(const char *head, size_t len, unsigned char *addr)
{
    size_t i;

    if (len != NAME_IP6_BYTES * NAME_NIBBLES_PER_BYTE * 2 - 1) {
        return 0; /* "n.n. ... .n": one character and one dot per nibble, the last dot the suffix's
                   */
    }
    memset(addr, 0, NAME_IP6_BYTES);
    for (i = 0; i < NAME_IP6_BYTES * NAME_NIBBLES_PER_BYTE; i++) {
        char c = head[2 * i];
        unsigned nibble;

        if (!apr_isxdigit(c) || (2 * i + 1 < len && head[2 * i + 1] != '.')) {
            return 0;
        }
        nibble =
            apr_isdigit(c) ? (unsigned)(c - '0') : (unsigned)(apr_tolower(c) - 'a' + NAME_DECIMAL);
        addr[NAME_IP6_BYTES - 1 - i / NAME_NIBBLES_PER_BYTE] |=
            (unsigned char)(nibble << (NAME_NIBBLE_BITS * (i % NAME_NIBBLES_PER_BYTE)));
    }
    return 1;
}

int at_name_reverse_ip(const char *name, char *canonical)
{
    unsigned char addr[NAME_IP6_BYTES];
    size_t len = name != NULL ? strlen(name) : 0, head;
    int family;

    if (name_strip_suffix(name, len, AT_NAME_REVERSE_IP4_SUFFIX, &head)) {
        family = AF_INET;
        if (!name_reverse_ip4(name, head, addr)) {
            return 0;
        }
    } else if (name_strip_suffix(name, len, AT_NAME_REVERSE_IP6_SUFFIX, &head)) {
        family = AF_INET6;
        if (!name_reverse_ip6(name, head, addr)) {
            return 0;
        }
    } else {
        return 0;
    }
    return canonical == NULL || inet_ntop(family, addr, canonical, AT_NAME_IP_TEXT_MAX) != NULL;
}

/* Whether the first bits of addr are prefix's. */
static int name_ip_in(const unsigned char *addr, const unsigned char *prefix, int bits)
{
    int whole = bits / NAME_BITS_PER_BYTE, rest = bits % NAME_BITS_PER_BYTE;
    unsigned char mask = (unsigned char)(0xff << (NAME_BITS_PER_BYTE - rest));

    return memcmp(addr, prefix, (size_t)whole) == 0 &&
           (rest == 0 || (addr[whole] & mask) == (prefix[whole] & mask));
}

/* The IP literal name (canonical: its canonical text) under the allow flags of at_name_eligible_as.
 */
static int name_ip_eligible(const char *name, const char *canonical, unsigned allow,
                            const char **why)
{
    unsigned char addr[NAME_IP6_BYTES];
    int family = strchr(canonical, ':') != NULL ? AF_INET6 : AF_INET;
    size_t i;

    if (!(allow & AT_NAME_ALLOW_IP)) {
        *why = NAME_WHY_IP_VHOST;
        return 0;
    }
    if (strcasecmp(name, canonical) != 0 || inet_pton(family, canonical, addr) != 1) {
        *why = NAME_WHY_IP_FORM;
        return 0;
    }
    for (i = 0; i < sizeof(name_ip_ranges) / sizeof(name_ip_ranges[0]); i++) {
        const name_ip_range_t *range = &name_ip_ranges[i];

        if (range->family == family && name_ip_in(addr, range->prefix, range->bits)) {
            if (range->always || !(allow & AT_NAME_ALLOW_PRIVATE_IP)) {
                *why = range->why;
                return 0;
            }
            return 1;
        }
    }
    return 1;
}

/* Whether the name of len characters is localhost or a name under it. */
static int name_is_localhost(const char *name, size_t len)
{
    size_t lh = strlen(NAME_LOCALHOST);

    return len >= lh && strncasecmp(name + len - lh, NAME_LOCALHOST, lh) == 0 &&
           (len == lh || name[len - lh - 1] == '.');
}

int at_name_eligible(const char *name, const char **why)
{
    return at_name_eligible_as(name, 0, why);
}

int at_name_eligible_as(const char *name, unsigned allow, const char **why)
{
    char canonical[AT_NAME_IP_TEXT_MAX];
    size_t len = name != NULL ? strlen(name) : 0;
    size_t label = 0, i;
    int labels = 1;
    int numeric = 1; /* the last label is all digits so far */

    if (at_name_ip(name, canonical)) {
        return name_ip_eligible(name, canonical, allow, why);
    }
    if (len > 0 && name[len - 1] == '.') {
        len--; /* an absolute name: the root's empty label */
    }
    if (len == 0) {
        *why = "is empty";
        return 0;
    }
    if (memchr(name, '*', len) != NULL) {
        *why = "is a wildcard: it needs dns-01 validation (AutoTLSDNSCommand)";
        return 0;
    }
    if (name[0] == '[' || memchr(name, ':', len) != NULL) {
        *why = NAME_WHY_IP_FORM; /* the brackets or colons of an IPv6 address that does not parse */
        return 0;
    }
    for (i = 0; i < len; i++) {
        char c = name[i];

        if (c == '.') {
            if (label == 0 || name[i - 1] == '-') {
                *why = "is not a valid host name (empty label or label ending in '-')";
                return 0;
            }
            label = 0;
            numeric = 1;
            labels++;
            continue;
        }
        if (!apr_isalnum(c) && (c != '-' || label == 0)) {
            *why = "is not a valid host name (only letters, digits, '-' and '.' are allowed)";
            return 0;
        }
        numeric = numeric && apr_isdigit(c);
        if (++label > AT_NAME_LABEL_MAX) {
            *why = "is not a valid host name (a label is longer than 63 characters)";
            return 0;
        }
    }
    if (len > AT_NAME_MAX || label == 0 || name[len - 1] == '-') {
        *why = "is not a valid host name";
        return 0;
    }
    if (numeric) {
        *why = NAME_WHY_IP_FORM; /* "192.0.2.1.", "10.1": a top-level domain is never all digits */
        return 0;
    }
    if (name_is_localhost(name, len)) {
        *why = "is localhost: no public CA can validate it";
        return 0;
    }
    if (labels == 1) {
        *why = "is a single label: a public certificate needs a fully qualified name";
        return 0;
    }
    return 1;
}

int at_name_wildcard_eligible(const char *name, const char **why)
{
    size_t prefix = strlen(AT_NAME_WILDCARD_PREFIX);
    const char *base;

    if (name == NULL || strncmp(name, AT_NAME_WILDCARD_PREFIX, prefix) != 0) {
        *why = "is not a wildcard (\"*.\" and a name)";
        return 0;
    }
    base = name + prefix;
    if (!at_name_eligible(base, why)) {
        return 0;
    }
    if (strchr(base, '.') == NULL || (strchr(base, '.') == base + strlen(base) - 1)) {
        *why = "is a wildcard over a single label: no CA certifies a whole top-level domain";
        return 0;
    }
    return 1;
}

const char *at_name_excluded_by(const apr_array_header_t *patterns, const char *name)
{
    int i;

    for (i = 0; patterns != NULL && i < patterns->nelts; i++) {
        const char *pattern = APR_ARRAY_IDX(patterns, i, const char *);

        if (apr_fnmatch(pattern, name, APR_FNM_CASE_BLIND) == APR_SUCCESS) {
            return pattern;
        }
    }
    return NULL;
}

const char *at_name_list_text(apr_pool_t *p, const apr_array_header_t *names, const char *sep)
{
    apr_size_t total = 0, sep_len = strlen(sep), n;
    char *out, *at;
    int i;

    if (names == NULL || names->nelts == 0) {
        return "";
    }
    for (i = 0; i < names->nelts; ++i) {
        total += strlen(APR_ARRAY_IDX(names, i, const char *)) + sep_len;
    }
    out = at = apr_palloc(p, total + 1);
    for (i = 0; i < names->nelts; ++i) {
        if (i > 0) {
            memcpy(at, sep, sep_len);
            at += sep_len;
        }
        n = strlen(APR_ARRAY_IDX(names, i, const char *));
        memcpy(at, APR_ARRAY_IDX(names, i, const char *), n);
        at += n;
    }
    *at = '\0';
    return out;
}
