/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ari.c: ACME Renewal Information (RFC 9773): the certificate's identifier, the CA's window.
 *
 * The one idea: the window is the CA's wish, not an order, and it comes from the network, so it
 * is taken only when it is exactly what RFC 9773 describes (two RFC 3339 times, end after
 * start), and the CA's Retry-After is bounded so a CA can neither make us poll it in a tight loop
 * nor silence us for days. Anything else is AT_EPROTO and the caller keeps its own schedule.
 */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <jansson.h>
#include <openssl/asn1.h>
#include <openssl/x509v3.h>

#include "at_ari.h"
#include "at_b64url.h"
#include "at_core.h"

#define ARI_JSON_FLAGS JSON_REJECT_DUPLICATES
#define ARI_HTTP_OK 200
#define ARI_PROBLEM_TYPE "application/problem+json"
#define ARI_CERT_ID_MAX 512 /* a 20-byte AKI and a 20-byte serial need 45 characters */
#define ARI_URL_MAX 2048
#define ARI_ECHO_MAX 40         /* characters of a CA's text quoted in a log line */
#define ARI_ASN1_GET_ERROR 0x80 /* ASN1_get_object(): the header did not parse */
#define ARI_RANDOM_BITS 32
#define ARI_RANDOM_MASK 0xffffffffu

/* --- the certificate's identifier (RFC 9773 §4.1) ------------------------------------------- */

/* The content octets of the serial's DER INTEGER: the minimal two's complement, so a leading
 * 0x00 stays when the first byte has its high bit set. */
static apr_status_t ari_serial_octets(const unsigned char **octets, long *len, apr_pool_t *p,
                                      const ASN1_INTEGER *serial)
{
    const unsigned char *cursor;
    unsigned char *der, *out;
    int der_len, tag, xclass, flags;

    der_len = i2d_ASN1_INTEGER(serial, NULL);
    if (der_len <= 0) {
        return AT_ECRYPTO;
    }
    der = out = apr_palloc(p, (apr_size_t)der_len);
    if (i2d_ASN1_INTEGER(serial, &out) != der_len) {
        return AT_ECRYPTO;
    }
    cursor = der;
    flags = ASN1_get_object(&cursor, len, &tag, &xclass, der_len);
    if ((flags & ARI_ASN1_GET_ERROR) != 0 || tag != V_ASN1_INTEGER || *len <= 0) {
        return AT_ECRYPTO;
    }
    *octets = cursor;
    return APR_SUCCESS;
}

apr_status_t at_ari_cert_id(const char **cert_id, apr_pool_t *p, X509 *leaf)
{
    const ASN1_OCTET_STRING *key_id = X509_get0_authority_key_id(leaf);
    const unsigned char *serial;
    long serial_len;
    apr_status_t rv;

    *cert_id = NULL;
    if (key_id == NULL || ASN1_STRING_length(key_id) <= 0) {
        at_log(
            AT_LOG_ERR, AT_EPROTO,
            "ARI: the certificate has no Authority Key Identifier: it cannot be named to the CA");
        return AT_EPROTO;
    }
    if ((rv = ari_serial_octets(&serial, &serial_len, p, X509_get0_serialNumber(leaf)))) {
        at_log(AT_LOG_ERR, rv, "ARI: cannot encode the certificate's serial number");
        return rv;
    }
    *cert_id = apr_pstrcat(
        p,
        at_b64url_encode(p, ASN1_STRING_get0_data(key_id), (apr_size_t)ASN1_STRING_length(key_id)),
        ".", at_b64url_encode(p, serial, (apr_size_t)serial_len), NULL);
    return APR_SUCCESS;
}

/* base64url "." base64url and nothing else: what goes into a URL path and into `replaces`. */
static int ari_cert_id_valid(const char *cert_id)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char *dot = cert_id != NULL ? strchr(cert_id, '.') : NULL;

    return dot != NULL && dot != cert_id && strlen(cert_id) <= ARI_CERT_ID_MAX &&
           strspn(cert_id, alphabet) == (apr_size_t)(dot - cert_id) &&
           at_b64url_is_token(dot + 1, ARI_CERT_ID_MAX);
}

/* A CA's text, cut short and with anything unprintable as '?', fit to quote in a log line. */
static const char *ari_echo(apr_pool_t *p, const char *text)
{
    apr_size_t len = strlen(text), i;
    char *copy = apr_pstrndup(p, text, len < ARI_ECHO_MAX ? len : ARI_ECHO_MAX);

    for (i = 0; copy[i] != '\0'; i++) {
        if (copy[i] < ' ' || copy[i] > '~') {
            copy[i] = '?';
        }
    }
    return len > ARI_ECHO_MAX ? apr_pstrcat(p, copy, "...", NULL) : copy;
}

/* --- the window (RFC 9773 §4.2) ------------------------------------------------------------ */

/* The CA's Retry-After (0 or less: none) as the next poll, within [POLL_MIN, POLL_MAX]. */
static apr_interval_time_t ari_next_poll(apr_interval_time_t retry_after)
{
    if (retry_after <= 0) {
        return AT_ARI_POLL_DEFAULT;
    }
    if (retry_after < AT_ARI_POLL_MIN) {
        return AT_ARI_POLL_MIN;
    }
    return retry_after > AT_ARI_POLL_MAX ? AT_ARI_POLL_MAX : retry_after;
}

/* A string member without NUL bytes, or NULL. */
static const char *ari_json_text(const json_t *obj, const char *key)
{
    const json_t *value = json_object_get(obj, key);

    if (!json_is_string(value) || strlen(json_string_value(value)) != json_string_length(value)) {
        return NULL;
    }
    return json_string_value(value);
}

/* An http(s) URL of printable ASCII: it ends up in log lines and status pages. */
static int ari_url_valid(const char *url)
{
    const char *c;

    if (strncasecmp(url, "https://", sizeof("https://") - 1) != 0 &&
        strncasecmp(url, "http://", sizeof("http://") - 1) != 0) {
        return 0;
    }
    for (c = url; *c != '\0'; c++) {
        if (*c <= ' ' || *c > '~') {
            return 0;
        }
    }
    return c - url <= ARI_URL_MAX;
}

/* Fills window from a renewalInfo document; NULL on success, else why it is not a window. */
static const char *ari_window_read(at_ari_window_t *window, apr_pool_t *p, const json_t *json)
{
    const json_t *suggested = json_object_get(json, "suggestedWindow"), *explanation;
    const char *start, *end, *url;

    if (!json_is_object(json)) {
        return "not a JSON object";
    }
    if (!json_is_object(suggested)) {
        return "\"suggestedWindow\" missing or not an object";
    }
    if ((start = ari_json_text(suggested, "start")) == NULL ||
        (end = ari_json_text(suggested, "end")) == NULL) {
        return "\"suggestedWindow\" needs \"start\" and \"end\" strings";
    }
    if (at_rfc3339_parse(&window->start, start) != APR_SUCCESS ||
        at_rfc3339_parse(&window->end, end) != APR_SUCCESS) {
        return apr_psprintf(p, "window times \"%s\", \"%s\" are not both RFC 3339 times",
                            ari_echo(p, start), ari_echo(p, end));
    }
    if (window->end <= window->start) {
        return apr_psprintf(p, "window end %s is not after its start %s", end, start);
    }
    explanation = json_object_get(json, "explanationURL");
    if (explanation != NULL && !json_is_null(explanation)) {
        url = ari_json_text(json, "explanationURL");
        if (url == NULL || !ari_url_valid(url)) {
            return "\"explanationURL\" is not an http(s) URL";
        }
        window->explanation_url = apr_pstrdup(p, url);
    }
    return NULL;
}

/* The window in body, or why not; window->retry_after is set either way. */
static const char *ari_window_parse(at_ari_window_t *window, apr_pool_t *p, const char *body,
                                    apr_size_t len, apr_interval_time_t retry_after)
{
    at_ari_window_t parsed = {0};
    json_error_t error;
    json_t *json;
    const char *why;

    memset(window, 0, sizeof(*window));
    window->retry_after = ari_next_poll(retry_after);
    if (body == NULL || len == 0) {
        return "empty body";
    }
    if ((json = json_loadb(body, len, ARI_JSON_FLAGS, &error)) == NULL) {
        return apr_psprintf(p, "not JSON: %s", ari_echo(p, error.text));
    }
    why = ari_window_read(&parsed, p, json);
    json_decref(json);
    if (why == NULL) {
        parsed.retry_after = window->retry_after;
        *window = parsed;
    }
    return why;
}

apr_status_t at_ari_parse(at_ari_window_t *window, apr_pool_t *p, const char *body, apr_size_t len,
                          apr_interval_time_t retry_after)
{
    const char *why = ari_window_parse(window, p, body, len, retry_after);

    if (why != NULL) {
        at_log(AT_LOG_WARN, AT_EPROTO, "ARI: renewalInfo is not a valid window: %s", why);
        return AT_EPROTO;
    }
    return APR_SUCCESS;
}

/* Why a non-200 answer holds no window: its status, and the CA's problem when it sent one. */
static const char *ari_refusal(apr_pool_t *p, const at_http_response_t *response)
{
    at_acme_problem_t *problem = NULL;
    json_t *json = NULL;
    const char *text = "";

    if (strcmp(response->content_type, ARI_PROBLEM_TYPE) == 0) {
        json = json_loadb(response->body, response->body_len, ARI_JSON_FLAGS, NULL);
        if (json != NULL &&
            at_acme_problem_parse(&problem, p, json, response->status) == APR_SUCCESS) {
            text = apr_pstrcat(p, ": ", at_acme_problem_text(p, problem), NULL);
        }
        json_decref(json);
    }
    return apr_psprintf(p, "answered status %d%s", response->status, text);
}

apr_status_t at_ari_fetch(at_ari_window_t *window, at_acme_t *acme, apr_pool_t *p,
                          const char *cert_id)
{
    const at_acme_directory_t *dir;
    at_http_response_t *response;
    const char *url, *why;
    apr_size_t base_len;
    apr_status_t rv;

    memset(window, 0, sizeof(*window));
    window->retry_after = AT_ARI_POLL_DEFAULT;
    if (!ari_cert_id_valid(cert_id)) {
        at_log(AT_LOG_ERR, AT_EARG, "ARI: \"%s\" is not a certificate identifier",
               cert_id != NULL ? ari_echo(p, cert_id) : "(null)");
        return AT_EARG;
    }
    if ((rv = at_acme_directory(&dir, acme)) != APR_SUCCESS) {
        return rv;
    }
    if (dir->renewal_info == NULL) {
        return APR_ENOTIMPL;
    }
    base_len = strlen(dir->renewal_info);
    url = apr_pstrcat(p, dir->renewal_info,
                      base_len > 0 && dir->renewal_info[base_len - 1] == '/' ? "" : "/", cert_id,
                      NULL);
    rv = at_http_request(at_acme_http(acme), p, "GET", url, NULL, NULL, 0, &response);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (response->status != ARI_HTTP_OK) {
        window->retry_after = ari_next_poll(at_http_retry_after(response));
        why = ari_refusal(p, response);
    } else {
        why = ari_window_parse(window, p, response->body, response->body_len,
                               at_http_retry_after(response));
    }
    if (why != NULL) {
        at_log(AT_LOG_WARN, AT_EPROTO, "CA %s: renewalInfo %s: %s", at_acme_url(acme), url, why);
        return AT_EPROTO;
    }
    return APR_SUCCESS;
}

/* start + span * random / 2^32 without overflow: span is split at 32 bits. */
apr_time_t at_ari_pick(const at_ari_window_t *window, apr_uint32_t random)
{
    apr_uint64_t span, high, low;

    if (window->end <= window->start) {
        return window->start;
    }
    span = (apr_uint64_t)window->end - (apr_uint64_t)window->start; /* no signed overflow */
    high = (span >> ARI_RANDOM_BITS) * random;
    low = ((span & ARI_RANDOM_MASK) * random) >> ARI_RANDOM_BITS;
    return (apr_time_t)((apr_uint64_t)window->start + high + low);
}
