/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_challenge.c: the stored http-01 answer (at_challenge.h) and the Host it is served for
 * (challenge_match.c); the stored tls-alpn-01 answer and the validation certificate made from it.
 *
 * The one idea: an answer decodes only as exactly what the encoder writes for one identifier and
 * one token, and is then served only to that identifier's Host; anything else (a bare key
 * authorization from an older version, another token's answer, an identifier that is not a
 * lower-case host name, an oversized or garbled file) is refused with a reason.
 */
#include <string.h>

#include <arpa/inet.h>

#include <apr_strings.h>
#include <check.h>

#include "unit_main.h"
#include "at_challenge.h"
#include "at_core.h"
#include "at_crypto.h"
#include "at_name.h"
#include "challenge_match.h"

#include <openssl/x509v3.h>

#define TOKEN "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
#define OTHER_TOKEN "Kx1qXcJ7mD0aQx_2b8yT3PwV9nR4sL6eZ5uH-oIjk0w"
#define THUMBPRINT "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
#define KEYAUTH TOKEN "." THUMBPRINT
#define NAME "a.example"
#define LABEL_MAX 63

static apr_pool_t *pool;

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

/* decode of text for TOKEN; the reason when refused */
static apr_status_t decode(at_challenge_answer_t *answer, const char **why, const char *text)
{
    return at_challenge_answer_decode(answer, why, pool, TOKEN, text, strlen(text));
}

static const char *encoded(const char *identifier, const char *keyauth)
{
    return apr_psprintf(pool, "{\"identifier\":\"%s\",\"keyAuthorization\":\"%s\"}", identifier,
                        keyauth);
}

START_TEST(test_answer_round_trips_with_its_identifier)
{
    at_challenge_answer_t answer = {0};
    const char *why = "unset";
    char *data;
    apr_size_t len;

    ck_assert_int_eq(at_challenge_answer_encode(&data, &len, &why, pool, NAME, TOKEN, KEYAUTH),
                     APR_SUCCESS);
    ck_assert_ptr_null(why);
    ck_assert_uint_eq(len, strlen(data));
    ck_assert_str_eq(data, encoded(NAME, KEYAUTH)); /* the documented format, byte for byte */
    ck_assert_int_eq(at_challenge_answer_decode(&answer, &why, pool, TOKEN, data, len),
                     APR_SUCCESS);
    ck_assert_str_eq(answer.identifier, NAME);
    ck_assert_str_eq(answer.key_authorization, KEYAUTH);
}
END_TEST

START_TEST(test_encode_stores_the_identifier_in_lower_case)
{
    at_challenge_answer_t answer = {0};
    const char *why;
    char *data;
    apr_size_t len;

    ck_assert_int_eq(
        at_challenge_answer_encode(&data, &len, &why, pool, "WWW.A.Example", TOKEN, KEYAUTH),
        APR_SUCCESS);
    ck_assert_int_eq(at_challenge_answer_decode(&answer, &why, pool, TOKEN, data, len),
                     APR_SUCCESS);
    ck_assert_str_eq(answer.identifier, "www.a.example");
}
END_TEST

START_TEST(test_decode_accepts_json_spelling_of_the_same_answer)
{
    at_challenge_answer_t answer = {0};
    const char *why;
    const char *text = " {\n \"keyAuthorization\" : \"" KEYAUTH "\",\n \"identifier\":\"a\\u002e"
                       "example\"}\n";

    ck_assert_int_eq(decode(&answer, &why, text), APR_SUCCESS);
    ck_assert_str_eq(answer.identifier, NAME);
}
END_TEST

START_TEST(test_answer_for_another_token_is_refused)
{
    at_challenge_answer_t answer = {0};
    const char *why = NULL;
    const char *text = encoded(NAME, OTHER_TOKEN "." THUMBPRINT);
    char *data;
    apr_size_t len;

    ck_assert_int_eq(decode(&answer, &why, text), AT_EPROTO);
    ck_assert_ptr_nonnull(strstr(why, "another token"));
    ck_assert_ptr_null(answer.identifier);
    /* a token that is a prefix of the other is no match either */
    ck_assert_int_eq(decode(&answer, &why, encoded(NAME, TOKEN "x." THUMBPRINT)), AT_EPROTO);
    ck_assert_int_eq(
        at_challenge_answer_encode(&data, &len, &why, pool, NAME, OTHER_TOKEN, KEYAUTH), AT_EARG);
    ck_assert_ptr_nonnull(strstr(why, "another token"));
}
END_TEST

static const char *const bad_identifiers[] = {
    "",
    "A.example",       /* stored names are lower case */
    "a.example.",      /* trailing dot */
    ".a.example",      /* empty label */
    "a..example",      /* empty label */
    "*.a.example",     /* wildcards have no http-01 */
    "-a.example",      /* label starts with '-' */
    "a-.example",      /* label ends with '-' */
    "a_b.example",     /* not LDH */
    "a.example:80",    /* a port */
    "a.example/x",     /* a path */
    "a example",       /* a space */
    "[::1]",           /* an address literal in brackets: httpd's r->hostname has none */
    "2001:DB8::1",     /* an IPv6 address not in its canonical (lower-case) text */
    "2001:db8:0::1",   /* ... nor with its zeros compressed */
    "a.example\\n",    /* JSON escape for a newline */
    "a\\u0000.b",      /* an embedded NUL */
    "\\u00e9.example", /* not ASCII */
};

START_TEST(test_identifier_that_is_not_a_lower_case_host_name_is_refused)
{
    at_challenge_answer_t answer = {0};
    const char *why = NULL;

    ck_assert_int_eq(decode(&answer, &why, encoded(bad_identifiers[_i], KEYAUTH)), AT_EPROTO);
    ck_assert_ptr_nonnull(why);
    ck_assert_ptr_null(answer.identifier);
}
END_TEST

START_TEST(test_encode_refuses_what_decode_would_refuse)
{
    const char *refused[] = {"",
                             "a.example.",
                             "*.a.example",
                             "a..example",
                             "a_b.example",
                             "a.example:80",
                             "127.0.0.1:80",
                             "é.example"};
    const char *why;
    char *data = NULL;
    apr_size_t len;
    size_t i;

    for (i = 0; i < sizeof(refused) / sizeof(refused[0]); ++i) {
        why = NULL;
        ck_assert_int_eq(
            at_challenge_answer_encode(&data, &len, &why, pool, refused[i], TOKEN, KEYAUTH),
            AT_EARG);
        ck_assert_ptr_nonnull(why);
    }
    ck_assert_int_eq(at_challenge_answer_encode(&data, &len, &why, pool, NULL, TOKEN, KEYAUTH),
                     AT_EARG);
    ck_assert_int_eq(at_challenge_answer_encode(&data, &len, &why, pool, NAME, TOKEN, TOKEN),
                     AT_EARG);
    ck_assert_int_eq(
        at_challenge_answer_encode(&data, &len, &why, pool, NAME, "bad/token", "bad/token.x"),
        AT_EARG);
}
END_TEST

START_TEST(test_identifier_limits_are_dns_limits)
{
    char label[LABEL_MAX + 2];
    char *name;

    memset(label, 'a', sizeof(label) - 1);
    label[sizeof(label) - 1] = '\0';
    ck_assert(!at_challenge_identifier_valid(label)); /* 64 characters */
    label[LABEL_MAX] = '\0';
    ck_assert(at_challenge_identifier_valid(label)); /* 63 */
    /* 4 labels of 63 = 255 characters: over 253 */
    name = apr_pstrcat(pool, label, ".", label, ".", label, ".", label, NULL);
    ck_assert(!at_challenge_identifier_valid(name));
    name[AT_CHALLENGE_IDENTIFIER_MAX] = '\0'; /* 253, ending in a full label */
    ck_assert(at_challenge_identifier_valid(name));
    ck_assert(at_challenge_identifier_valid("xn--bcher-kva.example"));
    ck_assert(at_challenge_identifier_valid("1.example"));
    ck_assert(!at_challenge_identifier_valid(NULL));
}
END_TEST

static const char *const bad_keyauths[] = {
    TOKEN,                    /* no thumbprint */
    TOKEN ".",                /* empty thumbprint */
    TOKEN "." THUMBPRINT "A", /* 44 characters: not a SHA-256 thumbprint */
    TOKEN "."
          "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX", /* 42 */
    TOKEN "."
          "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX=", /* padding */
    TOKEN "."
          "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjE+X0", /* not the url alphabet */
    TOKEN "." THUMBPRINT "\\n",                          /* a trailing newline */
    TOKEN ".." THUMBPRINT,
    "." THUMBPRINT,
};

START_TEST(test_key_authorization_that_is_not_token_dot_thumbprint_is_refused)
{
    at_challenge_answer_t answer = {0};
    const char *why = NULL;

    ck_assert_int_eq(decode(&answer, &why, encoded(NAME, bad_keyauths[_i])), AT_EPROTO);
    ck_assert_ptr_nonnull(why);
}
END_TEST

static const char *const garbage[] = {
    "",
    KEYAUTH, /* the format of earlier versions: a bare key authorization */
    KEYAUTH "\n",
    "\"" KEYAUTH "\"",
    "[\"" NAME "\",\"" KEYAUTH "\"]",
    "null",
    "{}",
    "{\"identifier\":\"" NAME "\"}",
    "{\"keyAuthorization\":\"" KEYAUTH "\"}",
    "{\"identifier\":\"" NAME "\",\"keyAuthorization\":\"" KEYAUTH "\",\"x\":1}",
    "{\"identifier\":\"b.example\",\"identifier\":\"" NAME "\",\"keyAuthorization\":\"" KEYAUTH
    "\"}", /* a duplicate: which one would a reader take? */
    "{\"identifier\":[\"" NAME "\"],\"keyAuthorization\":\"" KEYAUTH "\"}",
    "{\"identifier\":\"" NAME "\",\"keyAuthorization\":7}",
    "{\"identifier\":\"" NAME "\",\"keyAuthorization\":\"" KEYAUTH "\"",
    "{\"identifier\":\"" NAME "\",\"keyAuthorization\":\"" KEYAUTH "\"} trailing",
    "\xef\xbb\xbf{\"identifier\":\"" NAME "\",\"keyAuthorization\":\"" KEYAUTH "\"}",
    NAME "\n" KEYAUTH "\n",
};

START_TEST(test_garbage_and_the_legacy_format_are_refused_with_a_reason)
{
    at_challenge_answer_t answer = {0};
    const char *why = NULL;

    ck_assert_int_eq(decode(&answer, &why, garbage[_i]), AT_EPROTO);
    ck_assert_ptr_nonnull(why);
    ck_assert_ptr_null(answer.identifier);
    ck_assert_ptr_null(answer.key_authorization);
}
END_TEST

START_TEST(test_legacy_bare_key_authorization_is_named_in_the_reason)
{
    const char *why = NULL;
    at_challenge_answer_t answer = {0};

    ck_assert_int_eq(decode(&answer, &why, KEYAUTH), AT_EPROTO);
    ck_assert_ptr_nonnull(strstr(why, "not a JSON object"));
}
END_TEST

START_TEST(test_duplicate_member_is_named_in_the_reason)
{
    const char *why = NULL;
    at_challenge_answer_t answer = {0};

    ck_assert_int_eq(decode(&answer, &why,
                            "{\"identifier\":\"b.example\",\"identifier\":\"" NAME
                            "\",\"keyAuthorization\":\"" KEYAUTH "\"}"),
                     AT_EPROTO);
    ck_assert_str_eq(why, "a member appears twice");
}
END_TEST

START_TEST(test_oversized_answer_is_refused_before_parsing)
{
    at_challenge_answer_t answer = {0};
    apr_size_t len = AT_CHALLENGE_ANSWER_MAX + 1;
    char *data = apr_palloc(pool, len);
    const char *good = encoded(NAME, KEYAUTH);
    const char *why = NULL;

    /* a valid answer padded with JSON whitespace: valid but for its size */
    memset(data, ' ', len);
    memcpy(data, good, strlen(good));
    ck_assert_int_eq(at_challenge_answer_decode(&answer, &why, pool, TOKEN, data, len),
                     AT_ETOOLARGE);
    ck_assert_ptr_nonnull(why);
    ck_assert_int_eq(at_challenge_answer_decode(&answer, &why, pool, TOKEN, data, len - 1),
                     APR_SUCCESS);
}
END_TEST

START_TEST(test_longest_answer_fits_the_size_limit)
{
    char token[AT_CHALLENGE_TOKEN_MAX + 1], *data, *name;
    char label[LABEL_MAX + 1];
    at_challenge_answer_t answer = {0};
    const char *why;
    apr_size_t len;

    memset(token, 'T', sizeof(token) - 1);
    token[sizeof(token) - 1] = '\0';
    memset(label, 'a', sizeof(label) - 1);
    label[sizeof(label) - 1] = '\0';
    name = apr_pstrcat(pool, label, ".", label, ".", label, ".", label, NULL);
    name[AT_CHALLENGE_IDENTIFIER_MAX] = '\0';
    ck_assert_int_eq(at_challenge_answer_encode(&data, &len, &why, pool, name, token,
                                                apr_pstrcat(pool, token, ".", THUMBPRINT, NULL)),
                     APR_SUCCESS);
    ck_assert_uint_le(len, AT_CHALLENGE_ANSWER_MAX);
    ck_assert_int_eq(at_challenge_answer_decode(&answer, &why, pool, token, data, len),
                     APR_SUCCESS);
}
END_TEST

START_TEST(test_answer_is_bound_to_its_host_exactly_ignoring_case)
{
    ck_assert(autotls_challenge_host_bound("a.example", "a.example"));
    ck_assert(autotls_challenge_host_bound("A.EXAMPLE", "a.example"));
    ck_assert(!autotls_challenge_host_bound("b.example", "a.example"));
    ck_assert(!autotls_challenge_host_bound("www.a.example", "a.example"));
    ck_assert(!autotls_challenge_host_bound("a.example", "www.a.example"));
    ck_assert(!autotls_challenge_host_bound("a.example.", "a.example")); /* httpd strips it */
    ck_assert(!autotls_challenge_host_bound("a.exampl", "a.example"));
    ck_assert(!autotls_challenge_host_bound("", ""));
    ck_assert(!autotls_challenge_host_bound(NULL, "a.example"));
    ck_assert(!autotls_challenge_host_bound("a.example", NULL));
}
END_TEST

/* RFC 8738: an answer made for an IP address, stored in its canonical text, is served to the
 * Host the CA sends: the address itself (IPv6: "[2001:db8::1]", which httpd hands over without
 * its brackets), never to another address or a name. */
START_TEST(test_answer_for_an_ip_address_round_trips_and_binds_to_that_host)
{
    static const char *const addresses[] = {"192.0.2.7", "2001:db8::1"};
    at_challenge_answer_t answer = {0};
    const char *why;
    char *data;
    apr_size_t len;
    size_t i;

    for (i = 0; i < sizeof(addresses) / sizeof(addresses[0]); ++i) {
        ck_assert_int_eq(
            at_challenge_answer_encode(&data, &len, &why, pool, addresses[i], TOKEN, KEYAUTH),
            APR_SUCCESS);
        ck_assert_int_eq(at_challenge_answer_decode(&answer, &why, pool, TOKEN, data, len),
                         APR_SUCCESS);
        ck_assert_str_eq(answer.identifier, addresses[i]);
        ck_assert(autotls_challenge_host_bound(addresses[i], answer.identifier));
    }
    ck_assert_int_eq(
        at_challenge_answer_encode(&data, &len, &why, pool, "2001:DB8::1", TOKEN, KEYAUTH),
        APR_SUCCESS); /* stored in lower case, as names are */
    ck_assert(strstr(data, "\"2001:db8::1\"") != NULL);
    ck_assert(!autotls_challenge_host_bound("192.0.2.8", "192.0.2.7"));
    ck_assert(!autotls_challenge_host_bound("[2001:db8::1]", "2001:db8::1"));
    ck_assert(!autotls_challenge_host_bound("a.example", "192.0.2.7"));
}
END_TEST

/* ---- tls-alpn-01 (RFC 8737) ------------------------------------------------------------- */

#define ACME_ID_OID "1.3.6.1.5.5.7.1.31"

START_TEST(test_tlsalpn_answer_holds_name_and_digest_and_decodes_for_that_name_only)
{
    unsigned char digest[AT_ACME_KEYAUTH_DIGEST_LEN];
    at_challenge_tlsalpn_t answer;
    const char *why = "unset";
    char *data;
    apr_size_t len;

    ck_assert_str_eq(at_challenge_tlsalpn_item(pool, "A.Example"), "tls-alpn-01.a.example");
    ck_assert_int_eq(at_challenge_tlsalpn_encode(&data, &len, &why, pool, "A.Example", KEYAUTH),
                     APR_SUCCESS);
    ck_assert_ptr_null(strstr(data, "PRIVATE"));
    ck_assert_ptr_null(strstr(data, TOKEN)); /* neither the key authorization nor its token */
    ck_assert_int_eq(at_challenge_tlsalpn_decode(&answer, &why, pool, NAME, data, len),
                     APR_SUCCESS);
    ck_assert_str_eq(answer.identifier, NAME);
    ck_assert_int_eq(at_acme_keyauth_digest(digest, KEYAUTH), APR_SUCCESS);
    ck_assert_mem_eq(answer.digest, digest, sizeof(digest));
    /* renamed to another site's item: validates nothing there */
    ck_assert_int_eq(at_challenge_tlsalpn_decode(&answer, &why, pool, "b.example", data, len),
                     AT_EPROTO);
    ck_assert_ptr_nonnull(strstr(why, "another identifier"));
}
END_TEST

START_TEST(test_tlsalpn_item_exists_only_for_host_names_of_storable_length)
{
    char *long_name = apr_pstrcat(pool, apr_psprintf(pool, "%0*d", LABEL_MAX, 0), ".",
                                  apr_psprintf(pool, "%0*d", LABEL_MAX, 0), ".",
                                  apr_psprintf(pool, "%0*d", LABEL_MAX, 0), ".",
                                  apr_psprintf(pool, "%0*d", LABEL_MAX - 10, 0), NULL);

    ck_assert_ptr_null(at_challenge_tlsalpn_item(pool, "../a.example"));
    ck_assert_ptr_null(at_challenge_tlsalpn_item(pool, "a/b.example"));
    ck_assert_ptr_null(at_challenge_tlsalpn_item(pool, "*.a.example"));
    ck_assert_ptr_null(at_challenge_tlsalpn_item(pool, ""));
    ck_assert_ptr_null(at_challenge_tlsalpn_item(pool, NULL));
    ck_assert_ptr_null(at_challenge_tlsalpn_item(pool, long_name)); /* a host name, too long */
}
END_TEST

START_TEST(test_tlsalpn_garbage_is_refused_with_a_reason)
{
    static const char *const bad[] = {
        "{\"identifier\":\"a.example\",\"acmeIdentifier\":\"abc\"}",
        "{\"identifier\":\"a.example\",\"keyAuthorization\":\"" KEYAUTH "\"}",
        "{\"identifier\":\"a.example\",\"acmeIdentifier\":\"" THUMBPRINT "\",\"x\":\"y\"}",
        "-----BEGIN PRIVATE KEY-----",
    };
    at_challenge_tlsalpn_t answer;
    const char *why;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        ck_assert_int_eq(
            at_challenge_tlsalpn_decode(&answer, &why, pool, NAME, bad[i], strlen(bad[i])),
            AT_EPROTO);
        ck_assert_ptr_nonnull(why);
    }
}
END_TEST

START_TEST(test_tlsalpn_certificate_names_only_the_name_and_proves_the_digest)
{
    unsigned char digest[AT_ACME_KEYAUTH_DIGEST_LEN];
    ASN1_OBJECT *oid = OBJ_txt2obj(ACME_ID_OID, 1);
    const ASN1_OCTET_STRING *value;
    GENERAL_NAMES *sans;
    const GENERAL_NAME *san;
    apr_array_header_t *names;
    X509_EXTENSION *ext;
    EVP_PKEY *key;
    X509 *cert, *plain;
    int at;

    ck_assert_int_eq(at_acme_keyauth_digest(digest, KEYAUTH), APR_SUCCESS);
    ck_assert_int_eq(at_key_generate(&key, pool, AT_KEY_EC256), APR_SUCCESS);
    ck_assert_int_eq(at_cert_tlsalpn(&cert, pool, key, NAME, digest, apr_time_from_sec(3600)),
                     APR_SUCCESS);
    sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    ck_assert_int_eq(sk_GENERAL_NAME_num(sans), 1);
    san = sk_GENERAL_NAME_value(sans, 0);
    ck_assert_int_eq(san->type, GEN_DNS);
    ck_assert_str_eq((const char *)ASN1_STRING_get0_data(san->d.dNSName), NAME);
    GENERAL_NAMES_free(sans);
    at = X509_get_ext_by_OBJ(cert, oid, -1);
    ck_assert_int_ge(at, 0);
    ext = X509_get_ext(cert, at);
    ck_assert_int_eq(X509_EXTENSION_get_critical(ext), 1);
    value = X509_EXTENSION_get_data(ext);
    ck_assert_int_eq(ASN1_STRING_length(value), 2 + AT_ACME_KEYAUTH_DIGEST_LEN);
    ck_assert_int_eq(ASN1_STRING_get0_data(value)[0], V_ASN1_OCTET_STRING);
    ck_assert_int_eq(ASN1_STRING_get0_data(value)[1], AT_ACME_KEYAUTH_DIGEST_LEN);
    ck_assert_mem_eq(ASN1_STRING_get0_data(value) + 2, digest, sizeof(digest));
    ck_assert_int_eq(X509_verify(cert, key), 1); /* self-signed by the child's key */
    ck_assert(at_cert_is_tlsalpn(cert));
    names = apr_array_make(pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(names, const char *) = NAME;
    ck_assert_int_eq(at_cert_self_signed(&plain, pool, key, names, apr_time_from_sec(3600)),
                     APR_SUCCESS);
    ck_assert(!at_cert_is_tlsalpn(plain)); /* a placeholder is no validation certificate */
    ASN1_OBJECT_free(oid);
}
END_TEST

START_TEST(test_tlsalpn_answer_for_an_ip_address_is_named_and_bound_by_the_address)
{
    static const char *const ips[] = {"127.0.0.3", "203.0.113.5", "2001:db8::5"};
    at_challenge_tlsalpn_t answer;
    const char *why = "unset";
    char *data;
    apr_size_t len;
    size_t i;

    for (i = 0; i < sizeof(ips) / sizeof(ips[0]); i++) {
        ck_assert_str_eq(at_challenge_tlsalpn_item(pool, ips[i]),
                         apr_pstrcat(pool, AT_CHALLENGE_TLSALPN_PREFIX, ips[i], NULL));
        ck_assert_int_eq(at_challenge_tlsalpn_encode(&data, &len, &why, pool, ips[i], KEYAUTH),
                         APR_SUCCESS);
        ck_assert_int_eq(at_challenge_tlsalpn_decode(&answer, &why, pool, ips[i], data, len),
                         APR_SUCCESS);
        ck_assert_str_eq(answer.identifier, ips[i]);
        /* the reverse-DNS name is what alpn.c maps back to the address, never an item name */
        ck_assert_int_eq(
            at_challenge_tlsalpn_decode(&answer, &why, pool, "3.0.0.127.in-addr.arpa", data, len),
            AT_EPROTO);
    }
    /* an address only in its canonical text, as it was ordered (RFC 8738 §3) */
    ck_assert_ptr_null(at_challenge_tlsalpn_item(pool, "2001:db8:0:0::5"));
    ck_assert_ptr_null(at_challenge_tlsalpn_item(pool, "[2001:db8::5]"));
    ck_assert_int_eq(
        at_challenge_tlsalpn_encode(&data, &len, &why, pool, "2001:db8:0:0::5", KEYAUTH), AT_EARG);
}
END_TEST

START_TEST(test_tlsalpn_certificate_for_an_ip_address_names_it_as_ip_address_only)
{
    static const struct {
        const char *ip;
        int bytes;
    } ips[] = {{"127.0.0.3", 4}, {"2001:db8::5", 16}};
    unsigned char digest[AT_ACME_KEYAUTH_DIGEST_LEN];
    char text[AT_NAME_IP_TEXT_MAX];
    GENERAL_NAMES *sans;
    const GENERAL_NAME *san;
    EVP_PKEY *key;
    X509 *cert;
    int critical;
    size_t i;

    ck_assert_int_eq(at_acme_keyauth_digest(digest, KEYAUTH), APR_SUCCESS);
    ck_assert_int_eq(at_key_generate(&key, pool, AT_KEY_EC256), APR_SUCCESS);
    for (i = 0; i < sizeof(ips) / sizeof(ips[0]); i++) {
        ck_assert_int_eq(
            at_cert_tlsalpn(&cert, pool, key, ips[i].ip, digest, apr_time_from_sec(3600)),
            APR_SUCCESS);
        sans = X509_get_ext_d2i(cert, NID_subject_alt_name, &critical, NULL);
        ck_assert_int_eq(sk_GENERAL_NAME_num(sans), 1); /* RFC 8738 §6: the address alone */
        san = sk_GENERAL_NAME_value(sans, 0);
        ck_assert_int_eq(san->type, GEN_IPADD);
        ck_assert_int_eq(ASN1_STRING_length(san->d.iPAddress), ips[i].bytes);
        ck_assert(inet_ntop(ips[i].bytes == 4 ? AF_INET : AF_INET6,
                            ASN1_STRING_get0_data(san->d.iPAddress), text, sizeof(text)));
        ck_assert_str_eq(text, ips[i].ip);
        GENERAL_NAMES_free(sans);
        /* no commonName holds an address: the subject is empty, so the SAN is critical
         * (RFC 5280 §4.2.1.6) */
        ck_assert_int_eq(X509_NAME_entry_count(X509_get_subject_name(cert)), 0);
        ck_assert_int_eq(critical, 1);
        ck_assert(at_cert_is_tlsalpn(cert));
        ck_assert_int_eq(X509_check_ip_asc(cert, ips[i].ip, 0), 1);
        ck_assert_int_eq(X509_verify(cert, key), 1);
    }
}
END_TEST

static Suite *challenge_suite(void)
{
    Suite *s = suite_create("challenge");
    TCase *tc = tcase_create("answer");
    int n;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_answer_round_trips_with_its_identifier);
    tcase_add_test(tc, test_encode_stores_the_identifier_in_lower_case);
    tcase_add_test(tc, test_decode_accepts_json_spelling_of_the_same_answer);
    tcase_add_test(tc, test_answer_for_another_token_is_refused);
    n = (int)(sizeof(bad_identifiers) / sizeof(bad_identifiers[0]));
    tcase_add_loop_test(tc, test_identifier_that_is_not_a_lower_case_host_name_is_refused, 0, n);
    tcase_add_test(tc, test_encode_refuses_what_decode_would_refuse);
    tcase_add_test(tc, test_identifier_limits_are_dns_limits);
    n = (int)(sizeof(bad_keyauths) / sizeof(bad_keyauths[0]));
    tcase_add_loop_test(tc, test_key_authorization_that_is_not_token_dot_thumbprint_is_refused, 0,
                        n);
    n = (int)(sizeof(garbage) / sizeof(garbage[0]));
    tcase_add_loop_test(tc, test_garbage_and_the_legacy_format_are_refused_with_a_reason, 0, n);
    tcase_add_test(tc, test_legacy_bare_key_authorization_is_named_in_the_reason);
    tcase_add_test(tc, test_duplicate_member_is_named_in_the_reason);
    tcase_add_test(tc, test_oversized_answer_is_refused_before_parsing);
    tcase_add_test(tc, test_longest_answer_fits_the_size_limit);
    tcase_add_test(tc, test_answer_is_bound_to_its_host_exactly_ignoring_case);
    tcase_add_test(tc, test_answer_for_an_ip_address_round_trips_and_binds_to_that_host);
    tcase_add_test(tc, test_tlsalpn_answer_holds_name_and_digest_and_decodes_for_that_name_only);
    tcase_add_test(tc, test_tlsalpn_item_exists_only_for_host_names_of_storable_length);
    tcase_add_test(tc, test_tlsalpn_garbage_is_refused_with_a_reason);
    tcase_add_test(tc, test_tlsalpn_certificate_names_only_the_name_and_proves_the_digest);
    tcase_add_test(tc, test_tlsalpn_answer_for_an_ip_address_is_named_and_bound_by_the_address);
    tcase_add_test(tc, test_tlsalpn_certificate_for_an_ip_address_names_it_as_ip_address_only);
    suite_add_tcase(s, tc);
    return s;
}

AT_UNIT_MAIN(challenge_suite)
