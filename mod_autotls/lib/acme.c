/* SPDX-License-Identifier: Apache-2.0 */
/*
 * acme.c: the core of the ACME client: directory, nonce pool and the signed POST (RFC 8555 §6).
 *
 * The one idea: every request to the CA goes through acme_post(), which owns the protocol's
 * plumbing (nonces, badNonce retries, problem documents, content types), so that the account
 * and order code only builds payloads and reads answers, and never trusts their shape.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "acme_internal.h"
#include "at_b64url.h"
#include "at_core.h"
#include "at_jws.h"

#define ACME_JSON_FLAGS JSON_REJECT_DUPLICATES
#define HTTP_STATUS_OK_MIN 200
#define HTTP_STATUS_OK_MAX 299
#define HTTP_STATUS_ERROR_MIN 400
#define HTTP_STATUS_TOO_MANY_REQUESTS 429
#define HTTP_STATUS_UNAVAILABLE 503

apr_status_t at_acme_create(at_acme_t **acme, apr_pool_t *p, const char *directory_url,
                            at_http_t *http)
{
    at_acme_t *a;
    apr_status_t rv;

    if (directory_url == NULL || http == NULL) {
        at_log(AT_LOG_ERR, AT_EARG,
               AT_LOGNO(1017) "acme: a directory URL and an HTTP client are required");
        return AT_EARG;
    }
    a = apr_pcalloc(p, sizeof(*a));
    a->pool = p;
    a->url = apr_pstrdup(p, directory_url);
    a->http = http;
    if ((rv = apr_pool_create(&a->account_pool, p)) != APR_SUCCESS ||
        (rv = apr_pool_create(&a->problem_pool, p)) != APR_SUCCESS) {
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1018) "acme %s: cannot create pools", directory_url);
        return rv;
    }
    *acme = a;
    return APR_SUCCESS;
}

const char *at_acme_url(const at_acme_t *acme)
{
    return acme->url;
}

const at_acme_problem_t *at_acme_last_problem(const at_acme_t *acme)
{
    return acme->last_problem;
}

apr_interval_time_t at_acme_retry_after(const at_acme_t *acme)
{
    return acme->retry_after;
}

at_http_t *at_acme_http(at_acme_t *acme)
{
    return acme->http;
}

/* Remembers the Retry-After of a 429 or 503 response, 0 after any other: every response from
 * the CA passes through here, so the value always describes the last one. */
static void acme_note_response(at_acme_t *acme, const at_http_response_t *response)
{
    int busy = response->status == HTTP_STATUS_TOO_MANY_REQUESTS ||
               response->status == HTTP_STATUS_UNAVAILABLE;

    acme->retry_after = busy ? at_http_retry_after(response) : 0;
}

void at_acme_set_account(at_acme_t *acme, EVP_PKEY *key, const char *kid)
{
    apr_size_t len = kid != NULL ? strlen(kid) + 1 : 0;
    char *copy = len > 0 ? malloc(len) : NULL;

    /* copy before clearing: kid may point into the account pool (the current kid) */
    if (copy != NULL) {
        memcpy(copy, kid, len);
    }
    apr_pool_clear(acme->account_pool);
    acme->key = key;
    acme->kid = copy != NULL ? apr_pstrdup(acme->account_pool, copy) : NULL;
    free(copy);
}

unsigned at_acme_request_count(const at_acme_t *acme)
{
    return at_http_request_count(acme->http);
}

apr_status_t acme_protocol_error(const at_acme_t *acme, const char *what, const char *why)
{
    at_log(AT_LOG_ERR, AT_EPROTO, AT_LOGNO(1019) "CA %s: %s: %s", acme->url, what, why);
    return AT_EPROTO;
}

/* --- nonces (RFC 8555 §6.5) ----------------------------------------------------------------- */

static void acme_nonce_feed(at_acme_t *acme, const at_http_response_t *response)
{
    const char *nonce = apr_table_get(response->headers, "Replay-Nonce");

    if (nonce == NULL) {
        return;
    }
    if (!at_b64url_is_token(nonce, ACME_NONCE_MAX)) {
        at_log(AT_LOG_DEBUG, APR_SUCCESS,
               AT_LOGNO(1020) "CA %s: ignoring malformed Replay-Nonce from %s", acme->url,
               response->url);
        return;
    }
    if (acme->nonce_count == ACME_NONCE_POOL_MAX) {
        /* full: drop the oldest, nonces age out at the CA */
        memmove(acme->nonces[0], acme->nonces[1],
                sizeof(acme->nonces[0]) * (ACME_NONCE_POOL_MAX - 1));
        acme->nonce_count--;
    }
    apr_cpystrn(acme->nonces[acme->nonce_count++], nonce, sizeof(acme->nonces[0]));
}

static apr_status_t acme_nonce_take(const char **nonce, at_acme_t *acme, apr_pool_t *p)
{
    const at_acme_directory_t *dir;
    at_http_response_t *response;
    apr_status_t rv;

    if (acme->nonce_count == 0) {
        if ((rv = at_acme_directory(&dir, acme)) != APR_SUCCESS) {
            return rv;
        }
    }
    if (acme->nonce_count == 0) {
        acme->retry_after = 0;
        rv = at_http_request(acme->http, p, "HEAD", acme->dir->new_nonce, NULL, NULL, 0, &response);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        acme_note_response(acme, response);
        acme_nonce_feed(acme, response);
        if (acme->nonce_count == 0) {
            return acme_protocol_error(
                acme, apr_psprintf(p, "newNonce %s", acme->dir->new_nonce),
                apr_psprintf(p, "answered %d without a usable Replay-Nonce", response->status));
        }
    }
    *nonce = apr_pstrdup(p, acme->nonces[--acme->nonce_count]);
    return APR_SUCCESS;
}

/* --- JSON helpers ----------------------------------------------------------------------------- */

static apr_status_t acme_json_member_error(const char *what, const char *key, const char *why)
{
    at_log(AT_LOG_ERR, AT_EPROTO, AT_LOGNO(1021) "CA answered %s with \"%s\" %s", what, key, why);
    return AT_EPROTO;
}

apr_status_t acme_json_string(const char **out, apr_pool_t *p, const json_t *obj, const char *key,
                              int required, const char *what)
{
    const json_t *value = json_object_get(obj, key);
    const char *text;

    *out = NULL;
    if (value == NULL || json_is_null(value)) {
        return required ? acme_json_member_error(what, key, "missing") : APR_SUCCESS;
    }
    if (!json_is_string(value)) {
        return acme_json_member_error(what, key, "not a string");
    }
    text = json_string_value(value);
    if (strlen(text) != json_string_length(value)) {
        return acme_json_member_error(what, key, "containing a NUL byte");
    }
    *out = apr_pstrdup(p, text);
    return APR_SUCCESS;
}

static int acme_is_http_url(const char *url)
{
    return strncasecmp(url, "https://", sizeof("https://") - 1) == 0 ||
           strncasecmp(url, "http://", sizeof("http://") - 1) == 0;
}

apr_status_t acme_json_url(const char **out, apr_pool_t *p, const json_t *obj, const char *key,
                           int required, const char *what)
{
    apr_status_t rv = acme_json_string(out, p, obj, key, required, what);

    if (rv == APR_SUCCESS && *out != NULL && !acme_is_http_url(*out)) {
        *out = NULL;
        return acme_json_member_error(what, key, "not an http(s) URL");
    }
    return rv;
}

apr_status_t acme_json_strings(apr_array_header_t **out, apr_pool_t *p, const json_t *obj,
                               const char *key, int required, const char *what)
{
    const json_t *array = json_object_get(obj, key), *item;
    apr_array_header_t *strings;
    size_t i;

    if (array == NULL && !required) {
        *out = apr_array_make(p, 0, sizeof(const char *));
        return APR_SUCCESS;
    }
    if (array == NULL) {
        return acme_json_member_error(what, key, "missing");
    }
    if (!json_is_array(array)) {
        return acme_json_member_error(what, key, "not an array");
    }
    strings = apr_array_make(p, (int)json_array_size(array), sizeof(const char *));
    json_array_foreach(array, i, item)
    {
        if (!json_is_string(item) || strlen(json_string_value(item)) != json_string_length(item)) {
            return acme_json_member_error(what, key, "holding something other than strings");
        }
        APR_ARRAY_PUSH(strings, const char *) = apr_pstrdup(p, json_string_value(item));
    }
    *out = strings;
    return APR_SUCCESS;
}

apr_status_t acme_json_problem(at_acme_problem_t **out, apr_pool_t *p, const json_t *obj,
                               const char *key, int status, const char *what)
{
    const json_t *value = json_object_get(obj, key);

    *out = NULL;
    if (value == NULL || json_is_null(value)) {
        return APR_SUCCESS;
    }
    if (at_acme_problem_parse(out, p, value, status) != APR_SUCCESS) {
        return acme_json_member_error(what, key, "not a problem document");
    }
    return APR_SUCCESS;
}

apr_status_t acme_location(const char **location, at_acme_t *acme, apr_pool_t *p, const char *what,
                           const at_http_response_t *response)
{
    const char *header = apr_table_get(response->headers, "Location");

    *location = header != NULL ? at_http_resolve(p, response->url, header) : NULL;
    if (*location == NULL) {
        return acme_protocol_error(
            acme, what,
            apr_psprintf(p, "answered status %d without a usable Location", response->status));
    }
    return APR_SUCCESS;
}

/* --- directory (RFC 8555 §7.1.1) ------------------------------------------------------------ */

/* meta.profiles (draft-ietf-acme-profiles): an object of profile name -> description. A name
 * must be usable as written in newOrder, so each description must be a string. */
static apr_status_t acme_directory_profiles(apr_hash_t **profiles, apr_pool_t *p,
                                            const json_t *meta, const char *what)
{
    const json_t *list = json_object_get(meta, "profiles"), *value;
    const char *name, *description;
    apr_status_t rv;

    *profiles = NULL;
    if (list == NULL || json_is_null(list)) {
        return APR_SUCCESS;
    }
    if (!json_is_object(list)) {
        return acme_json_member_error(what, "profiles", "not an object");
    }
    *profiles = apr_hash_make(p);
    json_object_foreach((json_t *)list, name, value)
    {
        if ((rv = acme_json_string(&description, p, list, name, 1, what)) != APR_SUCCESS) {
            return rv;
        }
        apr_hash_set(*profiles, apr_pstrdup(p, name), APR_HASH_KEY_STRING, description);
        (void)value;
    }
    return APR_SUCCESS;
}

static apr_status_t acme_directory_parse(at_acme_directory_t **out, at_acme_t *acme,
                                         const json_t *json)
{
    at_acme_directory_t *dir = apr_pcalloc(acme->pool, sizeof(*dir));
    const char *what = apr_pstrcat(acme->pool, "directory ", acme->url, NULL);
    const json_t *meta, *eab;
    apr_status_t rv;

    if ((rv = acme_json_url(&dir->new_nonce, acme->pool, json, "newNonce", 1, what)) ||
        (rv = acme_json_url(&dir->new_account, acme->pool, json, "newAccount", 1, what)) ||
        (rv = acme_json_url(&dir->new_order, acme->pool, json, "newOrder", 1, what)) ||
        (rv = acme_json_url(&dir->new_authz, acme->pool, json, "newAuthz", 0, what)) ||
        (rv = acme_json_url(&dir->revoke_cert, acme->pool, json, "revokeCert", 0, what)) ||
        (rv = acme_json_url(&dir->key_change, acme->pool, json, "keyChange", 0, what)) ||
        (rv = acme_json_url(&dir->renewal_info, acme->pool, json, "renewalInfo", 0, what))) {
        return rv;
    }
    meta = json_object_get(json, "meta");
    if (meta != NULL && !json_is_object(meta)) {
        return acme_json_member_error(what, "meta", "not an object");
    }
    if (meta != NULL) {
        rv = acme_json_string(&dir->terms_of_service, acme->pool, meta, "termsOfService", 0, what);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        eab = json_object_get(meta, "externalAccountRequired");
        if (eab != NULL && !json_is_boolean(eab)) {
            return acme_json_member_error(what, "externalAccountRequired", "not a boolean");
        }
        dir->eab_required = eab != NULL && json_is_true(eab);
        if ((rv = acme_directory_profiles(&dir->profiles, acme->pool, meta, what)) != APR_SUCCESS) {
            return rv;
        }
    }
    *out = dir;
    return APR_SUCCESS;
}

apr_status_t at_acme_directory_preset(at_acme_t *acme, const char *text, apr_size_t len)
{
    json_error_t error;
    json_t *json = json_loadb(text, len, ACME_JSON_FLAGS, &error);
    apr_status_t rv = AT_EPROTO;

    if (json != NULL && json_is_object(json)) {
        rv = acme_directory_parse(&acme->dir, acme, json);
    }
    json_decref(json);
    return rv;
}

const char *at_acme_directory_text(const at_acme_t *acme)
{
    return acme->dir_text;
}

apr_status_t at_acme_directory(const at_acme_directory_t **dir, at_acme_t *acme)
{
    at_http_response_t *response;
    json_t *json = NULL;
    json_error_t error;
    apr_pool_t *p;
    apr_status_t rv;

    if (acme->dir != NULL) {
        *dir = acme->dir;
        return APR_SUCCESS;
    }
    if ((rv = apr_pool_create(&p, acme->pool)) != APR_SUCCESS) {
        return rv;
    }
    acme->retry_after = 0;
    rv = at_http_request(acme->http, p, "GET", acme->url, NULL, NULL, 0, &response);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    acme_note_response(acme, response);
    acme_nonce_feed(acme, response);
    if (response->status != HTTP_STATUS_OK_MIN) {
        rv = acme_protocol_error(acme, "directory",
                                 apr_psprintf(p, "answered status %d", response->status));
        goto leave;
    }
    json = json_loadb(response->body, response->body_len, ACME_JSON_FLAGS, &error);
    if (json == NULL || !json_is_object(json)) {
        rv = acme_protocol_error(acme, "directory",
                                 apr_psprintf(p, "not a JSON object (content type \"%s\"): %s",
                                              response->content_type,
                                              json == NULL ? error.text : "another JSON type"));
        goto leave;
    }
    if ((rv = acme_directory_parse(&acme->dir, acme, json)) == APR_SUCCESS) {
        acme->dir_text = apr_pstrmemdup(acme->pool, response->body, response->body_len);
        *dir = acme->dir;
    }
leave:
    json_decref(json);
    apr_pool_destroy(p);
    return rv;
}

/* --- the signed POST (RFC 8555 §6.2, §6.3) -------------------------------------------------- */

static int acme_status_ok(int status)
{
    return status >= HTTP_STATUS_OK_MIN && status <= HTTP_STATUS_OK_MAX;
}

static int acme_is_json_type(const char *content_type)
{
    return strcmp(content_type, ACME_CT_JSON) == 0 || strcmp(content_type, ACME_CT_PROBLEM) == 0;
}

/* Parses the body of a response when it is JSON; *json stays NULL for other content. */
static apr_status_t acme_response_json(json_t **json, at_acme_t *acme, apr_pool_t *p,
                                       const char *what, const at_http_response_t *response)
{
    json_error_t error;

    *json = NULL;
    if (!acme_is_json_type(response->content_type) || response->body_len == 0) {
        return APR_SUCCESS;
    }
    *json = json_loadb(response->body, response->body_len, ACME_JSON_FLAGS, &error);
    if (*json == NULL) {
        return acme_protocol_error(
            acme, what,
            apr_psprintf(p, "%s answered status %d with malformed %s: %s (line %d)", response->url,
                         response->status, response->content_type, error.text, error.line));
    }
    return APR_SUCCESS;
}

/* A response that is a problem, or an error status: the problem, or AT_EPROTO. */
static apr_status_t acme_response_problem(at_acme_problem_t **problem, at_acme_t *acme,
                                          apr_pool_t *p, const char *what,
                                          const at_http_response_t *response, const json_t *json)
{
    if (json == NULL ||
        at_acme_problem_parse(problem, acme->problem_pool, json, response->status) != APR_SUCCESS) {
        return acme_protocol_error(
            acme, what,
            apr_psprintf(p,
                         "%s answered status %d without a problem document (content type "
                         "\"%s\")",
                         response->url, response->status, response->content_type));
    }
    return APR_SUCCESS;
}

static apr_status_t acme_post_once(at_acme_t *acme, apr_pool_t *p, const char *url,
                                   const json_t *payload, at_http_response_t **response)
{
    const char *nonce = NULL, *jws = NULL;
    apr_status_t rv;

    if (acme->key == NULL) {
        at_log(AT_LOG_ERR, AT_EARG, AT_LOGNO(1022) "CA %s: no account key set for POST %s",
               acme->url, url);
        return AT_EARG;
    }
    if ((rv = acme_nonce_take(&nonce, acme, p)) != APR_SUCCESS ||
        (rv = at_jws_sign(&jws, p, acme->key, acme->kid, nonce, url, payload)) != APR_SUCCESS) {
        return rv;
    }
    acme->retry_after = 0;
    rv = at_http_request(acme->http, p, "POST", url, ACME_CT_JOSE, jws, strlen(jws), response);
    if (rv == APR_SUCCESS) {
        acme_note_response(acme, *response);
        acme_nonce_feed(acme, *response);
    }
    return rv;
}

apr_status_t acme_post(at_acme_t *acme, apr_pool_t *p, const char *what, const char *url,
                       const json_t *payload, const char *quiet_type, at_http_response_t **response,
                       json_t **json)
{
    at_acme_problem_t *problem = NULL;
    at_http_response_t *r = NULL;
    json_t *body = NULL;
    int attempt, quiet;
    apr_status_t rv;

    *json = NULL;
    for (attempt = 0; attempt <= AT_ACME_BADNONCE_RETRIES; attempt++) {
        apr_pool_clear(acme->problem_pool);
        acme->last_problem = NULL;
        json_decref(body);
        body = NULL;
        if ((rv = acme_post_once(acme, p, url, payload, &r)) != APR_SUCCESS ||
            (rv = acme_response_json(&body, acme, p, what, r)) != APR_SUCCESS) {
            return rv;
        }
        if (acme_status_ok(r->status) && strcmp(r->content_type, ACME_CT_PROBLEM) != 0) {
            *response = r;
            *json = body;
            return APR_SUCCESS;
        }
        if (r->status < HTTP_STATUS_ERROR_MIN && strcmp(r->content_type, ACME_CT_PROBLEM) != 0) {
            json_decref(body);
            return acme_protocol_error(acme, what,
                                       apr_psprintf(p, "%s answered status %d", url, r->status));
        }
        rv = acme_response_problem(&problem, acme, p, what, r, body);
        if (rv != APR_SUCCESS) {
            json_decref(body);
            return rv;
        }
        acme->last_problem = problem;
        if (!at_acme_problem_is(problem, "badNonce")) {
            break;
        }
        at_log(AT_LOG_DEBUG, APR_SUCCESS, AT_LOGNO(1023) "CA %s: badNonce on %s (attempt %d)",
               acme->url, url, attempt + 1);
    }
    json_decref(body);
    *response = r;
    quiet = quiet_type != NULL &&
            (strcmp(quiet_type, ACME_QUIET_ANY) == 0 || at_acme_problem_is(problem, quiet_type));
    at_log(quiet ? AT_LOG_DEBUG : AT_LOG_ERR, AT_EPROBLEM, AT_LOGNO(1024) "CA %s refused %s: %s",
           acme->url, what, at_acme_problem_text(p, problem));
    return AT_EPROBLEM;
}

apr_status_t acme_post_object(at_acme_t *acme, apr_pool_t *p, const char *what, const char *url,
                              const json_t *payload, const char *quiet_type,
                              at_http_response_t **response, json_t **json)
{
    apr_status_t rv = acme_post(acme, p, what, url, payload, quiet_type, response, json);

    if (rv == APR_SUCCESS && !json_is_object(*json)) {
        rv = acme_protocol_error(
            acme, what,
            apr_psprintf(p, "%s answered status %d with %s instead of a JSON object", url,
                         (*response)->status,
                         *json != NULL                       ? "another JSON type"
                         : (*response)->content_type[0] == 0 ? "no content type"
                                                             : (*response)->content_type));
        json_decref(*json);
        *json = NULL;
    }
    return rv;
}

apr_status_t at_acme_post(at_acme_t *acme, apr_pool_t *p, const char *url, const json_t *payload,
                          at_http_response_t **response, json_t **json)
{
    const at_acme_directory_t *dir;
    const char *what = "POST";
    apr_status_t rv;

    if ((rv = at_acme_directory(&dir, acme)) != APR_SUCCESS) {
        return rv;
    }
    if (strcmp(url, dir->new_account) == 0) {
        what = "newAccount";
    } else if (strcmp(url, dir->new_order) == 0) {
        what = "newOrder";
    } else if (dir->key_change != NULL && strcmp(url, dir->key_change) == 0) {
        what = "keyChange";
    } else if (dir->revoke_cert != NULL && strcmp(url, dir->revoke_cert) == 0) {
        what = "revokeCert";
    }
    return acme_post(acme, p, apr_pstrcat(p, what, " ", url, NULL), url, payload, NULL, response,
                     json);
}

/* --- profiles (draft-ietf-acme-profiles) ------------------------------------------------------ */

int at_acme_profile_name_valid(const char *name)
{
    apr_size_t n = name != NULL ? strlen(name) : 0;

    return n > 0 && n <= AT_ACME_PROFILE_NAME_MAX &&
           strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

static int acme_profile_name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

apr_status_t at_acme_profile_choose(const char **send, int *unlisted, const char **offered,
                                    apr_pool_t *p, const at_acme_directory_t *dir,
                                    const char *wanted, int required)
{
    apr_array_header_t *names = apr_array_make(p, 4, sizeof(const char *));
    apr_hash_index_t *hi;

    *send = NULL;
    *unlisted = 0;
    for (hi = dir->profiles != NULL ? apr_hash_first(p, dir->profiles) : NULL; hi != NULL;
         hi = apr_hash_next(hi)) {
        APR_ARRAY_PUSH(names, const char *) = apr_hash_this_key(hi);
    }
    qsort(names->elts, (size_t)names->nelts, sizeof(const char *), acme_profile_name_cmp);
    *offered = apr_array_pstrcat(p, names, ',');
    if (wanted == NULL) {
        return APR_SUCCESS;
    }
    if (dir->profiles != NULL && apr_hash_get(dir->profiles, wanted, APR_HASH_KEY_STRING)) {
        *send = wanted;
        return APR_SUCCESS;
    }
    *unlisted = 1;
    return required ? AT_EARG : APR_SUCCESS;
}
