/* SPDX-License-Identifier: Apache-2.0 */
/*
 * challenge_answer.c: the format of a stored http-01 answer (see at_challenge.h).
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

#define CHALLENGE_MEMBER_IDENTIFIER "identifier"
#define CHALLENGE_MEMBER_KEYAUTH "keyAuthorization"
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

apr_status_t at_challenge_answer_encode(char **data, apr_size_t *len, const char **why,
                                        apr_pool_t *p, const char *identifier, const char *token,
                                        const char *key_authorization)
{
    char *name, *dumped;
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
    dumped = json != NULL ? json_dumps(json, CHALLENGE_DUMP_FLAGS) : NULL;
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

/* The string member key of json, or NULL when it is missing or not a string without NULs. */
static const char *challenge_member(const json_t *json, const char *key)
{
    const json_t *value = json_object_get(json, key);
    const char *text = json_string_value(value);

    return text != NULL && strlen(text) == json_string_length(value) ? text : NULL;
}

static apr_status_t challenge_decode_json(at_challenge_answer_t *answer, const char **why,
                                          apr_pool_t *p, const char *token, const json_t *json)
{
    const char *identifier, *keyauth;

    if (!json_is_object(json)) {
        *why = "not a JSON object (a bare key authorization from an older version?)";
        return AT_EPROTO;
    }
    identifier = challenge_member(json, CHALLENGE_MEMBER_IDENTIFIER);
    keyauth = challenge_member(json, CHALLENGE_MEMBER_KEYAUTH);
    if (identifier == NULL || keyauth == NULL || json_object_size(json) != CHALLENGE_MEMBERS) {
        *why = "not exactly the string members identifier and keyAuthorization";
        return AT_EPROTO;
    }
    if (!at_challenge_identifier_valid(identifier)) {
        *why = "the identifier is not a lower-case host name or a canonical IP address";
        return AT_EPROTO;
    }
    if ((*why = challenge_keyauth_problem(token, keyauth)) != NULL) {
        return AT_EPROTO;
    }
    answer->identifier = apr_pstrdup(p, identifier);
    answer->key_authorization = apr_pstrdup(p, keyauth);
    return APR_SUCCESS;
}

apr_status_t at_challenge_answer_decode(at_challenge_answer_t *answer, const char **why,
                                        apr_pool_t *p, const char *token, const void *data,
                                        apr_size_t len)
{
    json_error_t error;
    json_t *json;
    apr_status_t rv;

    *why = NULL;
    if (token == NULL || data == NULL) {
        *why = "no token or no data";
        return AT_EPROTO;
    }
    if (len > AT_CHALLENGE_ANSWER_MAX) {
        *why = "larger than " APR_STRINGIFY(AT_CHALLENGE_ANSWER_MAX) " bytes";
        return AT_ETOOLARGE;
    }
    /* jansson's error text quotes the input: the reason stays ours */
    if ((json = json_loadb(data, len, CHALLENGE_JSON_FLAGS, &error)) == NULL) {
        *why = json_error_code(&error) == json_error_duplicate_key
                   ? "a member appears twice"
                   : "not a JSON object (a bare key authorization from an older version?)";
        return AT_EPROTO;
    }
    rv = challenge_decode_json(answer, why, p, token, json);
    json_decref(json);
    return rv;
}
