/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_challenge.h: the stored http-01 answer, challenges/<token>, bound to the name it was made
 * for (RFC 8555 §8.3), and the stored tls-alpn-01 answer (RFC 8737), below.
 *
 * The renewal process encodes an answer when it publishes a challenge; the responder decodes it
 * for a request and serves the key authorization only for the Host the answer names. This is
 * the one place that knows the format:
 *   {"identifier":"a.example","keyAuthorization":"<token>.<thumbprint>"}
 * A JSON object, like every other structured item of the store (jobs, meta.json, accounts), so
 * an operator and a networked backend meet one kind of file; named members make a bare legacy
 * key authorization, or any later version, impossible to take for this one. Decoding is strict:
 * exactly these two members, both strings, no duplicates, a bounded size.
 */
#ifndef AT_CHALLENGE_H
#define AT_CHALLENGE_H

#include <apr_pools.h>

#include "at_acme.h"

/* Longest encoded answer: both members at their limits fit with room to spare. */
#define AT_CHALLENGE_ANSWER_MAX 1024
/* Longest identifier: a DNS name in text form without the trailing dot (RFC 1035 §2.3.4); an IP
 * address's text is shorter. */
#define AT_CHALLENGE_IDENTIFIER_MAX 253
/* Longest token: what the store takes as one item name. */
#define AT_CHALLENGE_TOKEN_MAX 255

typedef struct {
    const char *identifier;        /* lower-case host name or canonical IP address (RFC 8738)
                                      the answer was made for */
    const char *key_authorization; /* token "." base64url(SHA-256 JWK thumbprint) */
} at_challenge_answer_t;

/*
 * The bytes of challenges/<token> for the answer key_authorization to the http-01 challenge of
 * identifier. The identifier is stored in lower case (DNS names compare case-insensitively).
 * AT_EARG, with *why saying which, when the decoder would refuse the result: an identifier that
 * is neither a host name (no wildcard or trailing dot) nor an IP address in canonical text
 * (at_name_ip: what httpd's r->hostname holds for it), a key authorization that is not token "."
 * thumbprint. data is NUL-terminated (not counted in len).
 */
apr_status_t at_challenge_answer_encode(char **data, apr_size_t *len, const char **why,
                                        apr_pool_t *p, const char *identifier, const char *token,
                                        const char *key_authorization);

/*
 * Reads the answer stored as challenges/<token> from len bytes at data. AT_ETOOLARGE over
 * AT_CHALLENGE_ANSWER_MAX; AT_EPROTO for anything else the encoder does not produce (not a JSON
 * object, other members, an identifier that is not a lower-case host name, a key authorization
 * for another token or not token "." thumbprint in base64url). On failure *why says which in a
 * few words that quote nothing of the input; answer is set only on success.
 */
apr_status_t at_challenge_answer_decode(at_challenge_answer_t *answer, const char **why,
                                        apr_pool_t *p, const char *token, const void *data,
                                        apr_size_t len);

/*
 * tls-alpn-01 (RFC 8737): the stored answer, challenges/<AT_CHALLENGE_TLSALPN_PREFIX><name>:
 *   {"identifier":"a.example","acmeIdentifier":"<base64url SHA-256 of the key authorization>"}
 * Only the name and the digest, never a key: each child mints the validation certificate with a
 * key of its own (at_cert_tlsalpn), so nothing in challenges/ can serve as a certificate key. The
 * item is named for the identifier, which the child looks up by the handshake's SNI (for an IP
 * address, RFC 8738 §6, by the address its reverse-DNS SNI stands for: at_name_reverse_ip); the
 * decoder also wants the identifier inside to be the one asked for, so an item renamed to another
 * name validates nothing. Tokens (http-01 items) never contain '.', so the two kinds never meet.
 */
#define AT_CHALLENGE_TLSALPN_PREFIX "tls-alpn-01."

typedef struct {
    const char *identifier; /* lower-case host name, or IP address in canonical text */
    unsigned char digest[AT_ACME_KEYAUTH_DIGEST_LEN]; /* SHA-256 of the key authorization */
} at_challenge_tlsalpn_t;

/* The item name of identifier's tls-alpn-01 answer (lower case), or NULL when identifier is
 * neither a host name nor an IP address in canonical text (at_challenge_identifier_valid), or the
 * item would be longer than a store item name may be. */
const char *at_challenge_tlsalpn_item(apr_pool_t *p, const char *identifier);

/* The bytes of identifier's tls-alpn-01 answer to key_authorization (the digest is computed
 * here). AT_EARG with *why, as at_challenge_answer_encode. data is NUL-terminated. */
apr_status_t at_challenge_tlsalpn_encode(char **data, apr_size_t *len, const char **why,
                                         apr_pool_t *p, const char *identifier,
                                         const char *key_authorization);

/* Reads the tls-alpn-01 answer for identifier (the lower-case name the item was looked up for)
 * from len bytes at data: AT_ETOOLARGE over AT_CHALLENGE_ANSWER_MAX, AT_EPROTO for anything the
 * encoder does not produce or an answer made for another identifier; *why as for http-01. */
apr_status_t at_challenge_tlsalpn_decode(at_challenge_tlsalpn_t *answer, const char **why,
                                         apr_pool_t *p, const char *identifier, const void *data,
                                         apr_size_t len);

/* Whether name is a lower-case host name: dot-separated labels of 1 to 63 of [a-z0-9-], not
 * starting or ending with '-', at most AT_CHALLENGE_IDENTIFIER_MAX characters, no trailing dot;
 * or an IP address in its canonical text (at_name_ip). */
int at_challenge_identifier_valid(const char *name);

#endif
