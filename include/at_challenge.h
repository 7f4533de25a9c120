/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_challenge.h: the stored http-01 answer, challenges/<token>, bound to the name it was made
 * for (RFC 8555 §8.3).
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

/* Whether name is a lower-case host name: dot-separated labels of 1 to 63 of [a-z0-9-], not
 * starting or ending with '-', at most AT_CHALLENGE_IDENTIFIER_MAX characters, no trailing dot;
 * or an IP address in its canonical text (at_name_ip). */
int at_challenge_identifier_valid(const char *name);

#endif
