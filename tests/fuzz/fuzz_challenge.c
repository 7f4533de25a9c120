/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_challenge.c: the http-01 responder's decision on a request, the store read it makes, and
 * the stored answer it decodes.
 *
 * Input: "METHOD TARGET" newline "Host" [newline ANSWER] (no second line: no Host). The target
 * goes through apr_uri_parse() as httpd's ap_parse_uri() does (an absolute target's host wins
 * over Host); then autotls_challenge_token() decides as challenge.c does for every request, with
 * the managed names example.com and www.example.com looked up as site.c does. A token that is
 * answered must be the plain remainder of the path, base64url, a valid store item name, resolve
 * to a file directly inside the store's challenges/ directory, and read back only what was
 * planted there: a secret planted next to the store is never reached. The planted answer was
 * made for example.com and is served for that Host only.
 * ANSWER (any bytes, NULs included) is decoded as if the store held it for the requested token
 * (for the planted token when none is answered): a decoded answer names a lower-case host name
 * and carries token "." 43 base64url characters, encodes back to an answer that decodes the same,
 * and is served only when the Host equals its identifier ignoring case; a refusal says why.
 */
#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_network_io.h>
#include <apr_cstr.h>
#include <apr_uri.h>

#include "at_b64url.h"
#include "at_challenge.h"
#include "challenge_match.h"
#include "fuzz_store_tmp.h"

#define FUZZ_PLANTED_TOKEN "fuzzPlantedToken_0123456789-abcdefghijklmn"
#define FUZZ_PLANTED_KEYAUTH FUZZ_PLANTED_TOKEN ".LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
#define FUZZ_PLANTED_NAME "example.com"
#define FUZZ_THUMBPRINT_LEN 43
#define FUZZ_SECRET "secret.pem"
#define FUZZ_SECRET_TEXT "-----BEGIN PRIVATE KEY-----\nnot for anyone\n"
#define FUZZ_TEXT_MAX 4096

static apr_hash_t *fuzz_managed;

/* As site.c's autotls_site_for_host(): a bounded lower-case copy looked up in a hash. */
static int fuzz_host_managed(const void *baton, const char *host)
{
    char name[APRMAXHOSTLEN + 1];
    char *c;

    (void)baton;
    apr_cpystrn(name, host, sizeof(name));
    for (c = name; *c != '\0'; c++) {
        *c = (char)apr_tolower(*c);
    }
    return apr_hash_get(fuzz_managed, name, APR_HASH_KEY_STRING) != NULL;
}

static at_store_t *fuzz_setup(const char **root)
{
    at_store_t *store = fuzz_store(root);
    const char *why;
    char *answer;
    apr_size_t len;
    FILE *secret;

    if (fuzz_managed == NULL) {
        fuzz_managed = apr_hash_make(fuzz_root_pool);
        apr_hash_set(fuzz_managed, FUZZ_PLANTED_NAME, APR_HASH_KEY_STRING, "");
        apr_hash_set(fuzz_managed, "www.example.com", APR_HASH_KEY_STRING, "");
        if (at_challenge_answer_encode(&answer, &len, &why, fuzz_root_pool, FUZZ_PLANTED_NAME,
                                       FUZZ_PLANTED_TOKEN, FUZZ_PLANTED_KEYAUTH) != APR_SUCCESS ||
            at_store_save(store, AT_STORE_CHALLENGES, NULL, FUZZ_PLANTED_TOKEN, answer, len,
                          AT_STORE_PUBLIC, fuzz_root_pool) != APR_SUCCESS ||
            (secret = fopen(apr_pstrcat(fuzz_root_pool, *root, "/" FUZZ_SECRET, NULL), "w")) ==
                NULL) {
            abort();
        }
        fputs(FUZZ_SECRET_TEXT, secret);
        fclose(secret);
    }
    return store;
}

/* "host:port" -> "host", as httpd strips the port before naming the vhost. */
static const char *fuzz_host_of(apr_pool_t *p, const char *header)
{
    const char *colon = strrchr(header, ':');

    if (colon == NULL || strchr(colon, ']') != NULL) {
        return header;
    }
    return apr_pstrmemdup(p, header, (apr_size_t)(colon - header));
}

/* Whether name is what the decoder may hand out: a lower-case LDH name, checked here without the
 * library's own function. */
static int fuzz_lower_host_name(const char *name)
{
    size_t len = strlen(name);
    const char *c;

    if (len == 0 || len > AT_CHALLENGE_IDENTIFIER_MAX || name[0] == '.' || name[len - 1] == '.' ||
        strstr(name, "..") != NULL) {
        return 0;
    }
    for (c = name; *c != '\0'; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '.')) {
            return 0;
        }
    }
    return 1;
}

/*
 * The decoder on len bytes stored for token; whether the responder serves them to host (the
 * decision challenge.c makes), with the invariants of a decoded answer checked.
 */
static int fuzz_serves(apr_pool_t *p, const char *token, const char *host, const char *data,
                       apr_size_t len)
{
    at_challenge_answer_t answer = {0}, again = {0};
    const char *why = NULL, *c;
    size_t token_len = strlen(token);
    apr_size_t encoded_len;
    char *encoded;
    apr_status_t rv;

    rv = at_challenge_answer_decode(&answer, &why, p, token, data, len);
    if (rv != APR_SUCCESS) {
        FUZZ_REQUIRE(rv == AT_EPROTO || rv == AT_ETOOLARGE);
        FUZZ_REQUIRE(why != NULL && *why != '\0' && answer.identifier == NULL);
        for (c = why; *c != '\0'; c++) {
            FUZZ_REQUIRE(*c >= ' ' && *c < 0x7f); /* it goes to the error log */
        }
        if (fuzz_verbose()) {
            fprintf(stderr, "refused: %s\n", why);
        }
        return 0;
    }
    FUZZ_REQUIRE(len <= AT_CHALLENGE_ANSWER_MAX && why == NULL);
    FUZZ_REQUIRE(fuzz_lower_host_name(answer.identifier));
    FUZZ_REQUIRE(strncmp(answer.key_authorization, token, token_len) == 0 &&
                 answer.key_authorization[token_len] == '.');
    FUZZ_REQUIRE(strlen(answer.key_authorization + token_len + 1) == FUZZ_THUMBPRINT_LEN &&
                 at_b64url_is_token(answer.key_authorization + token_len + 1, FUZZ_THUMBPRINT_LEN));
    FUZZ_REQUIRE(at_challenge_answer_encode(&encoded, &encoded_len, &why, p, answer.identifier,
                                            token, answer.key_authorization) == APR_SUCCESS);
    FUZZ_REQUIRE(at_challenge_answer_decode(&again, &why, p, token, encoded, encoded_len) ==
                 APR_SUCCESS);
    FUZZ_REQUIRE(strcmp(again.identifier, answer.identifier) == 0 &&
                 strcmp(again.key_authorization, answer.key_authorization) == 0);
    if (!autotls_challenge_host_bound(host, answer.identifier)) {
        return 0;
    }
    FUZZ_REQUIRE(strlen(host) == strlen(answer.identifier));
    for (c = host; *c != '\0'; c++) {
        FUZZ_REQUIRE(apr_tolower(*c) == answer.identifier[c - host]);
    }
    return 1;
}

static void fuzz_check_answer(apr_pool_t *p, at_store_t *store, const char *root, const char *path,
                              const char *token, const char *host)
{
    size_t prefix = sizeof(AUTOTLS_CHALLENGE_PREFIX) - 1;
    char *stored;
    apr_size_t len;
    apr_status_t rv;

    FUZZ_REQUIRE(strncmp(path, AUTOTLS_CHALLENGE_PREFIX, prefix) == 0 && token == path + prefix);
    FUZZ_REQUIRE(at_b64url_is_token(token, AUTOTLS_CHALLENGE_TOKEN_MAX));
    FUZZ_REQUIRE(at_store_component_valid(token));
    (void)root; /* challenges/ has no path to compare (at_store_path: live/ and archive/ only) */
    rv = at_store_load(store, AT_STORE_CHALLENGES, NULL, token, &stored, &len, AT_STORE_PUBLIC, p);
    if (strcmp(token, FUZZ_PLANTED_TOKEN) == 0) {
        FUZZ_REQUIRE(rv == APR_SUCCESS);
        /* the planted answer is example.com's: www.example.com, managed too, never gets it */
        FUZZ_REQUIRE(fuzz_serves(p, token, host, stored, len) ==
                     (apr_cstr_casecmp(host, FUZZ_PLANTED_NAME) == 0));
    } else {
        FUZZ_REQUIRE(APR_STATUS_IS_ENOENT(rv));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    const char *root, *host = NULL, *token = NULL, *answer = NULL;
    char *text, *target, *newline;
    apr_size_t answer_len = 0;
    at_store_t *store;
    apr_uri_t uri;
    int is_get;

    if (size > FUZZ_TEXT_MAX) {
        return 0;
    }
    store = fuzz_setup(&root);
    p = fuzz_pool();
    text = apr_palloc(p, size + 1); /* NULs kept for the answer; the request stops at one */
    memcpy(text, data, size);
    text[size] = '\0';
    if ((newline = memchr(text, '\n', size)) != NULL) {
        *newline = '\0';
        host = newline + 1;
        if ((newline = memchr(host, '\n', size - (size_t)(host - text))) != NULL) {
            *newline = '\0';
            answer = newline + 1;
            answer_len = size - (apr_size_t)(answer - text);
        }
        host = fuzz_host_of(p, host);
    }
    target = strchr(text, ' ');
    if (target == NULL) {
        apr_pool_destroy(p);
        return 0;
    }
    *target++ = '\0';
    is_get = strcmp(text, "GET") == 0 || strcmp(text, "HEAD") == 0;
    if (apr_uri_parse(p, target, &uri) == APR_SUCCESS) {
        if (uri.hostname != NULL) {
            host = uri.hostname;
        }
        token = autotls_challenge_token(is_get, uri.path, host, fuzz_host_managed, NULL);
        if (token != NULL) {
            FUZZ_REQUIRE(is_get && host != NULL && fuzz_host_managed(NULL, host));
            fuzz_check_answer(p, store, root, uri.path, token, host);
        }
    }
    if (answer != NULL) {
        fuzz_serves(p, token != NULL ? token : FUZZ_PLANTED_TOKEN, host, answer, answer_len);
    }
    apr_pool_destroy(p);
    return 0;
}
