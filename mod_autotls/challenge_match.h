/* SPDX-License-Identifier: Apache-2.0 */
/*
 * challenge_match.h: which requests the http-01 responder answers, decided without httpd.
 */
#ifndef AUTOTLS_CHALLENGE_MATCH_H
#define AUTOTLS_CHALLENGE_MATCH_H

#define AUTOTLS_CHALLENGE_PREFIX "/.well-known/acme-challenge/"
/* RFC 8555 tokens carry at least 128 bits of entropy; nothing real comes close to this. */
#define AUTOTLS_CHALLENGE_TOKEN_MAX 256

/* Whether uri is under the http-01 path (never redirected, never gated). */
int autotls_challenge_path(const char *uri);

/* Whether host (as the request named it, any case) is a managed name; baton is the caller's. */
typedef int autotls_challenge_host_fn(const void *baton, const char *host);

/*
 * The token an http-01 request asks for, pointing into path, or NULL when the responder must
 * decline it: not a GET (httpd counts HEAD as GET), path not under AUTOTLS_CHALLENGE_PREFIX, a
 * token that is not 1..AUTOTLS_CHALLENGE_TOKEN_MAX base64url characters (so no '/', '.', '%') or
 * not a valid store item name (at_store_component_valid: at most 255), no Host, or a Host that
 * managed() does not know. A returned token is one safe store item name.
 */
const char *autotls_challenge_token(int is_get, const char *path, const char *host,
                                    autotls_challenge_host_fn *managed, const void *baton);

/*
 * Whether an answer made for identifier (a lower-case host name or a canonical IP address,
 * at_challenge_answer_decode()) is for the request's host: equal ignoring case, nothing else.
 * host is as httpd hands it over in r->hostname (port removed, lower case, one trailing dot
 * removed: "a.test." is the same DNS name as "a.test"; an IPv6 Host's brackets removed, so the
 * CA's "Host: [2001:db8::1]" of RFC 8738 §7 arrives as "2001:db8::1"); no other normalisation
 * happens here, so a trailing dot or an address spelled otherwise never matches. NULL on either
 * side never matches.
 */
int autotls_challenge_host_bound(const char *host, const char *identifier);

#endif
