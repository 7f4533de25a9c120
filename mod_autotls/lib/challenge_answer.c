/* SPDX-License-Identifier: Apache-2.0 */
/*
 * challenge_answer.c: the formats of the stored http-01 and tls-alpn-01 answers (at_challenge.h).
 *
 * The one idea: an answer is only as good as the name bound to it. Whatever decodes here is
 * served for exactly one Host, so decoding accepts no answer the encoder would refuse to write
 * (JSON spelling aside), and the encoder refuses whatever the decoder would refuse: a published
 * answer is always servable.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <jansson.h>

#include "at_b64url.h"
#include "at_challenge.h"
#include "at_core.h"
#include "at_name.h"
#include "at_store.h"

#define CHALLENGE_MEMBER_IDENTIFIER "identifier"
#define CHALLENGE_MEMBER_KEYAUTH "keyAuthorization"
#define CHALLENGE_MEMBER_ACME_ID "acmeIdentifier"
#define CHALLENGE_MEMBERS 2
#define CHALLENGE_LABEL_MAX 63 /* RFC 1035 §2.3.4 */
/* base64url of a SHA-256 digest without padding: the JWK thumbprint of RFC 8555 §8.1. */
#define CHALLENGE_THUMBPRINT_LEN 43
#define CHALLENGE_JSON_FLAGS JSON_REJECT_DUPLICATES
#define CHALLENGE_DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER)

static int challenge_label_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

static void challenge_lower(char *name)
{
    for (; *name != '\0'; ++name) {
        *name = (char)apr_tolower(*name);
    }
}

/* Whether name is an IP address in its canonical text (RFC 8738: the identifier as ordered). */
static int challenge_ip_canonical(const char *name)
{
    char canonical[AT_NAME_IP_TEXT_MAX];

    return at_name_ip(name, canonical) && strcmp(name, canonical) == 0;
}

int at_challenge_identifier_valid(const char *name)
{
    const char *label = name, *c;

    if (name == NULL || *name == '\0' || strlen(name) > AT_CHALLENGE_IDENTIFIER_MAX) {
        return 0;
    }
    if (challenge_ip_canonical(name)) {
        return 1;
    }
    for (c = name;; ++c) {
        if (*c == '.' || *c == '\0') {
            apr_size_t len = (apr_size_t)(c - label);

            if (len == 0 || len > CHALLENGE_LABEL_MAX || label[0] == '-' || c[-1] == '-') {
                return 0; /* also an empty last label: a trailing dot */
            }
            if (*c == '\0') {
                return 1;
            }
            label = c + 1;
        } else if (!challenge_label_char(*c)) {
            return 0;
        }
    }
}

/* Why key_authorization is not token "." thumbprint, or NULL when it is. */
static const char *challenge_keyauth_problem(const char *token, const char *key_authorization)
{
    apr_size_t token_len = strlen(token);
    const char *thumbprint;

    if (!at_b64url_is_token(token, AT_CHALLENGE_TOKEN_MAX)) {
        return "the token is not base64url of a storable length";
    }
    if (strncmp(key_authorization, token, token_len) != 0 || key_authorization[token_len] != '.') {
        return "the key authorization was made for another token";
    }
    thumbprint = key_authorization + token_len + 1;
    if (strlen(thumbprint) != CHALLENGE_THUMBPRINT_LEN ||
        !at_b64url_is_token(thumbprint, CHALLENGE_THUMBPRINT_LEN)) {
        return "the key authorization's thumbprint is not 43 base64url characters";
    }
    return NULL;
}

/* The stored bytes of an answer; takes json's reference. */
static apr_status_t challenge_dump(char **data, apr_size_t *len, const char **why, apr_pool_t *p,
                                   json_t *json)
{
    char *dumped = json != NULL ? json_dumps(json, CHALLENGE_DUMP_FLAGS) : NULL;

    json_decref(json);
    if (dumped == NULL) {
        *why = "out of memory";
        return APR_ENOMEM;
    }
    *len = strlen(dumped);
    *data = apr_pstrmemdup(p, dumped, *len);
    free(dumped);
    return APR_SUCCESS;
}

apr_status_t at_challenge_answer_encode(char **data, apr_size_t *len, const char **why,
                                        apr_pool_t *p, const char *identifier, const char *token,
                                        const char *key_authorization)
{
    char *name;
    json_t *json;

    *why = NULL;
    if (identifier == NULL || token == NULL || key_authorization == NULL) {
        *why = "identifier, token and key authorization are all required";
        return AT_EARG;
    }
    name = apr_pstrdup(p, identifier);
    challenge_lower(name);
    if (!at_challenge_identifier_valid(name)) {
        *why = "the identifier is not a host name or an IP address in canonical text";
        return AT_EARG;
    }
    if ((*why = challenge_keyauth_problem(token, key_authorization)) != NULL) {
        return AT_EARG;
    }
    json = json_pack("{s:s, s:s}", CHALLENGE_MEMBER_IDENTIFIER, name, CHALLENGE_MEMBER_KEYAUTH,
                     key_authorization);
    return challenge_dump(data, len, why, p, json);
}

/* The string member key of json, or NULL when it is missing or not a string without NULs. */
static const char *challenge_member(const json_t *json, const char *key)
{
    const json_t *value = json_object_get(json, key);
    const char *text = json_string_value(value);

    return text != NULL && strlen(text) == json_string_length(value) ? text : NULL;
}

/* What both kinds of answer share: len bytes at data hold a JSON object of exactly the string
 * members identifier (a lower-case host name or IP address) and value_key; copies of both into p.
 */
static apr_status_t challenge_decode_json(const char **identifier, const char **value,
                                          const char **why, apr_pool_t *p, const char *value_key,
                                          const void *data, apr_size_t len)
{
    const char *bare = "not a JSON object (a bare key authorization from an older version?)";
    const char *id, *val;
    json_error_t error;
    json_t *json;
    apr_status_t rv = AT_EPROTO;

    *why = NULL;
    if (data == NULL) {
        *why = "no data";
        return AT_EPROTO;
    }
    if (len > AT_CHALLENGE_ANSWER_MAX) {
        *why = "larger than " APR_STRINGIFY(AT_CHALLENGE_ANSWER_MAX) " bytes";
        return AT_ETOOLARGE;
    }
    /* jansson's error text quotes the input: the reason stays ours */
    if ((json = json_loadb(data, len, CHALLENGE_JSON_FLAGS, &error)) == NULL) {
        *why =
            json_error_code(&error) == json_error_duplicate_key ? "a member appears twice" : bare;
        return AT_EPROTO;
    }
    id = challenge_member(json, CHALLENGE_MEMBER_IDENTIFIER);
    val = challenge_member(json, value_key);
    if (!json_is_object(json)) {
        *why = bare;
    } else if (id == NULL || val == NULL || json_object_size(json) != CHALLENGE_MEMBERS) {
        *why = apr_pstrcat(p, "not exactly the string members identifier and ", value_key, NULL);
    } else if (!at_challenge_identifier_valid(id)) {
        *why = "the identifier is not a lower-case host name or a canonical IP address";
    } else {
        *identifier = apr_pstrdup(p, id);
        *value = apr_pstrdup(p, val);
        rv = APR_SUCCESS;
    }
    json_decref(json);
    return rv;
}

apr_status_t at_challenge_answer_decode(at_challenge_answer_t *answer, const char **why,
                                        apr_pool_t *p, const char *token, const void *data,
                                        apr_size_t len)
{
    const char *identifier, *keyauth;
    apr_status_t rv;

    *why = NULL;
    if (token == NULL || data == NULL) {
        *why = "no token or no data";
        return AT_EPROTO;
    }
    rv = challenge_decode_json(&identifier, &keyauth, why, p, CHALLENGE_MEMBER_KEYAUTH, data, len);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if ((*why = challenge_keyauth_problem(token, keyauth)) != NULL) {
        return AT_EPROTO;
    }
    answer->identifier = identifier;
    answer->key_authorization = keyauth;
    return APR_SUCCESS;
}

/* ---- tls-alpn-01 ------------------------------------------------------------------------ */

const char *at_challenge_tlsalpn_item(apr_pool_t *p, const char *identifier)
{
    char *name;
    const char *item;

    if (identifier == NULL) {
        return NULL;
    }
    name = apr_pstrdup(p, identifier);
    challenge_lower(name);
    if (!at_challenge_identifier_valid(name)) {
        return NULL;
    }
    item = apr_pstrcat(p, AT_CHALLENGE_TLSALPN_PREFIX, name, NULL);
    return at_store_component_valid(item) ? item : NULL;
}

apr_status_t at_challenge_tlsalpn_encode(char **data, apr_size_t *len, const char **why,
                                         apr_pool_t *p, const char *identifier,
                                         const char *key_authorization)
{
    unsigned char digest[AT_ACME_KEYAUTH_DIGEST_LEN];
    json_t *json;

    *why = NULL;
    if (at_challenge_tlsalpn_item(p, identifier) == NULL) {
        *why = "the identifier is neither a host name of a storable length nor an IP address in "
               "canonical text";
        return AT_EARG;
    }
    if (at_acme_keyauth_digest(digest, key_authorization) != APR_SUCCESS) {
        *why = "no key authorization";
        return AT_EARG;
    }
    json = json_pack("{s:s, s:s}", CHALLENGE_MEMBER_IDENTIFIER,
                     at_challenge_tlsalpn_item(p, identifier) + strlen(AT_CHALLENGE_TLSALPN_PREFIX),
                     CHALLENGE_MEMBER_ACME_ID, at_b64url_encode(p, digest, sizeof(digest)));
    return challenge_dump(data, len, why, p, json);
}

apr_status_t at_challenge_tlsalpn_decode(at_challenge_tlsalpn_t *answer, const char **why,
                                         apr_pool_t *p, const char *identifier, const void *data,
                                         apr_size_t len)
{
    const char *name, *value;
    unsigned char *digest;
    apr_size_t digest_len;
    apr_status_t rv;

    rv = challenge_decode_json(&name, &value, why, p, CHALLENGE_MEMBER_ACME_ID, data, len);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (identifier == NULL || strcmp(name, identifier) != 0) {
        *why = "it was made for another identifier";
        return AT_EPROTO;
    }
    if (!at_b64url_is_token(value, CHALLENGE_THUMBPRINT_LEN) ||
        at_b64url_decode(&digest, &digest_len, p, value) != APR_SUCCESS ||
        digest_len != AT_ACME_KEYAUTH_DIGEST_LEN) {
        *why = "the acmeIdentifier is not base64url of 32 bytes";
        return AT_EPROTO;
    }
    answer->identifier = name;
    memcpy(answer->digest, digest, AT_ACME_KEYAUTH_DIGEST_LEN);
    return APR_SUCCESS;
}
