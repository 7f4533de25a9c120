/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_jws.c: JWKs, thumbprints, flattened JWS and EAB, checked the way a CA would check them.
 *
 * The one idea: nothing here trusts jws.c's own view. Keys are rebuilt from the JWK a request
 * carries, r||s is turned back into DER, and OpenSSL verifies over "protected.payload"; the HMAC
 * of EAB and the RFC 7638 thumbprint are recomputed independently.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <check.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "unit_main.h"
#include "at_b64url.h"
#include "at_core.h"
#include "at_jws.h"

#define P256_COORD_LEN 32
#define P384_COORD_LEN 48
#define RSA_TEST_BITS 2048
#define EC_UNCOMPRESSED_TAG 0x04
#define LEADING_ZERO_MAX_TRIES 2000
#define FIXED_LENGTH_SIGNATURES 300
#define HS256_LEN 32

#define TEST_URL "https://ca.example/acme/new-order"
#define TEST_NONCE "oFvnlFP1wIhRlYS2jTaXbA"
#define TEST_KID "https://ca.example/acme/acct/7"

/* RFC 7638 §3.1: the example RSA key and its thumbprint. */
#define RFC7638_N                                                                                  \
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"      \
    "BJECPebWK"                                                                                    \
    "RXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"              \
    "FDW2QvzqY368QQMi"                                                                             \
    "cAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-"                            \
    "bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr"                                                              \
    "3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
#define RFC7638_E "AQAB"
#define RFC7638_THUMBPRINT "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

static apr_pool_t *pool;

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

static apr_status_t key_cleanup(void *data)
{
    EVP_PKEY_free(data);
    return APR_SUCCESS;
}

static EVP_PKEY *pool_key(EVP_PKEY *key)
{
    ck_assert_ptr_nonnull(key);
    apr_pool_cleanup_register(pool, key, key_cleanup, apr_pool_cleanup_null);
    return key;
}

/* "P-256", "P-384" or "RSA": a fresh key freed with the test's pool. */
static EVP_PKEY *gen_key(const char *what)
{
    if (strcmp(what, "RSA") == 0) {
        return pool_key(EVP_RSA_gen(RSA_TEST_BITS));
    }
    return pool_key(EVP_EC_gen(what));
}

static unsigned char *b64_bytes(const char *text, apr_size_t *len)
{
    unsigned char *out = NULL;

    ck_assert_ptr_nonnull(text);
    ck_assert_int_eq(at_b64url_decode(&out, len, pool, text), APR_SUCCESS);
    return out;
}

static BIGNUM *b64_bn(const char *text)
{
    apr_size_t len = 0;
    unsigned char *bytes = b64_bytes(text, &len);
    BIGNUM *bn = BN_bin2bn(bytes, (int)len, NULL);

    ck_assert_ptr_nonnull(bn);
    return bn;
}

static const char *member(const json_t *obj, const char *name)
{
    const char *value = json_string_value(json_object_get(obj, name));

    ck_assert_msg(value != NULL, "member %s missing or not a string", name);
    return value;
}

/* A public key rebuilt from a JWK, the way a CA reads the "jwk" header. */
static EVP_PKEY *key_from_jwk(const json_t *jwk)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *key = NULL;
    BIGNUM *n = NULL, *e = NULL;
    int is_ec = strcmp(member(jwk, "kty"), "EC") == 0;

    ck_assert_ptr_nonnull(bld);
    if (is_ec) {
        apr_size_t x_len = 0, y_len = 0;
        unsigned char *x = b64_bytes(member(jwk, "x"), &x_len);
        unsigned char *y = b64_bytes(member(jwk, "y"), &y_len);
        unsigned char *point = apr_palloc(pool, 1 + x_len + y_len);

        point[0] = EC_UNCOMPRESSED_TAG;
        memcpy(point + 1, x, x_len);
        memcpy(point + 1 + x_len, y, y_len);
        ck_assert(OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                                  member(jwk, "crv"), 0));
        ck_assert(OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point,
                                                   1 + x_len + y_len));
    } else {
        ck_assert_str_eq(member(jwk, "kty"), "RSA");
        n = b64_bn(member(jwk, "n"));
        e = b64_bn(member(jwk, "e"));
        ck_assert(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n));
        ck_assert(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e));
    }
    params = OSSL_PARAM_BLD_to_param(bld);
    ck_assert_ptr_nonnull(params);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, is_ec ? "EC" : "RSA", NULL);
    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(EVP_PKEY_fromdata_init(ctx), 1);
    ck_assert_int_eq(EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params), 1);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return pool_key(key);
}

/* Whether sig (JWS form: raw r||s for EC) verifies over input with key and digest. */
static int verify_jws_signature(EVP_PKEY *key, const char *digest, apr_size_t coord_len,
                                const char *input, const unsigned char *sig, apr_size_t sig_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char *der = NULL;
    int der_len = 0, ok;

    ck_assert_ptr_nonnull(ctx);
    if (coord_len > 0) {
        ECDSA_SIG *ecdsa = ECDSA_SIG_new();
        BIGNUM *r, *s;

        ck_assert_uint_eq(sig_len, 2 * coord_len);
        r = BN_bin2bn(sig, (int)coord_len, NULL);
        s = BN_bin2bn(sig + coord_len, (int)coord_len, NULL);
        ck_assert(ecdsa != NULL && r != NULL && s != NULL);
        ck_assert_int_eq(ECDSA_SIG_set0(ecdsa, r, s), 1);
        der_len = i2d_ECDSA_SIG(ecdsa, &der);
        ck_assert_int_gt(der_len, 0);
        ECDSA_SIG_free(ecdsa);
        sig = der;
        sig_len = (apr_size_t)der_len;
    }
    ck_assert_int_eq(EVP_DigestVerifyInit_ex(ctx, NULL, digest, NULL, NULL, key, NULL), 1);
    ok = EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)input, strlen(input)) == 1;
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    return ok;
}

/* A flattened JWS taken apart. */
typedef struct {
    json_t *header;      /* decoded protected header, owned */
    const char *input;   /* "protected.payload" */
    const char *payload; /* base64url payload as sent */
    unsigned char *sig;
    apr_size_t sig_len;
} parsed_jws_t;

static void parse_jws(parsed_jws_t *out, const json_t *jws)
{
    apr_size_t len = 0;
    unsigned char *header_text;
    const char *protected_b64 = member(jws, "protected");

    ck_assert_uint_eq(json_object_size(jws), 3);
    out->payload = member(jws, "payload");
    out->input = apr_pstrcat(pool, protected_b64, ".", out->payload, NULL);
    out->sig = b64_bytes(member(jws, "signature"), &out->sig_len);
    header_text = b64_bytes(protected_b64, &len);
    out->header = json_loadb((const char *)header_text, len, 0, NULL);
    ck_assert_ptr_nonnull(out->header);
}

/* Signs with kid or jwk, checks the header as RFC 8555 §6.2 asks, verifies like a CA. */
static void check_signed_request(EVP_PKEY *key, const char *alg, const char *digest,
                                 apr_size_t coord_len, const char *kid)
{
    json_t *payload =
        json_pack("{s:[s], s:b}", "contact", "mailto:a@example.org", "termsOfServiceAgreed", 1);
    const char *text = NULL;
    json_t *jws;
    parsed_jws_t parsed;
    EVP_PKEY *verify_key = key;
    apr_size_t len = 0;
    unsigned char *payload_text;
    json_t *payload_back;

    ck_assert_int_eq(at_jws_sign(&text, pool, key, kid, TEST_NONCE, TEST_URL, payload),
                     APR_SUCCESS);
    jws = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(jws);
    parse_jws(&parsed, jws);

    ck_assert_str_eq(member(parsed.header, "alg"), alg);
    ck_assert_str_eq(member(parsed.header, "nonce"), TEST_NONCE);
    ck_assert_str_eq(member(parsed.header, "url"), TEST_URL);
    ck_assert_uint_eq(json_object_size(parsed.header), 4);
    if (kid != NULL) {
        ck_assert_str_eq(member(parsed.header, "kid"), kid);
        ck_assert_ptr_null(json_object_get(parsed.header, "jwk"));
    } else {
        ck_assert_ptr_null(json_object_get(parsed.header, "kid"));
        ck_assert(json_is_object(json_object_get(parsed.header, "jwk")));
        /* Verify with the key the CA would rebuild from the header, not with ours. */
        verify_key = key_from_jwk(json_object_get(parsed.header, "jwk"));
        ck_assert_int_eq(EVP_PKEY_eq(verify_key, key), 1);
    }

    payload_text = b64_bytes(parsed.payload, &len);
    payload_back = json_loadb((const char *)payload_text, len, 0, NULL);
    ck_assert(json_equal(payload_back, payload));

    ck_assert(verify_jws_signature(verify_key, digest, coord_len, parsed.input, parsed.sig,
                                   parsed.sig_len));
    /* The check can fail: one flipped bit in the signed input breaks it. */
    parsed.sig[parsed.sig_len - 1] ^= 1;
    ck_assert(!verify_jws_signature(verify_key, digest, coord_len, parsed.input, parsed.sig,
                                    parsed.sig_len));

    json_decref(payload_back);
    json_decref(parsed.header);
    json_decref(jws);
    json_decref(payload);
}

START_TEST(test_rfc7638_example_thumbprint)
{
    json_t *example = json_pack("{s:s, s:s, s:s}", "kty", "RSA", "n", RFC7638_N, "e", RFC7638_E);
    EVP_PKEY *key = key_from_jwk(example);
    const char *thumbprint = NULL;

    ck_assert_int_eq(at_jwk_thumbprint(&thumbprint, pool, key), APR_SUCCESS);
    ck_assert_str_eq(thumbprint, RFC7638_THUMBPRINT);
    json_decref(example);
}
END_TEST

START_TEST(test_rsa_jwk_has_exactly_e_kty_n_without_leading_zeros)
{
    json_t *example = json_pack("{s:s, s:s, s:s}", "kty", "RSA", "n", RFC7638_N, "e", RFC7638_E);
    EVP_PKEY *key = key_from_jwk(example);
    json_t *jwk = NULL;

    ck_assert_int_eq(at_jwk_public(&jwk, key), APR_SUCCESS);
    ck_assert_uint_eq(json_object_size(jwk), 3);
    ck_assert_str_eq(member(jwk, "kty"), "RSA");
    ck_assert_str_eq(member(jwk, "n"), RFC7638_N);
    ck_assert_str_eq(member(jwk, "e"), RFC7638_E);
    json_decref(jwk);
    json_decref(example);
}
END_TEST

START_TEST(test_ec_thumbprint_hashes_sorted_compact_required_members)
{
    EVP_PKEY *key = gen_key("P-256");
    json_t *jwk = NULL;
    const char *thumbprint = NULL, *canonical;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;

    ck_assert_int_eq(at_jwk_public(&jwk, key), APR_SUCCESS);
    canonical = apr_psprintf(pool, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
                             member(jwk, "x"), member(jwk, "y"));
    ck_assert_int_eq(
        EVP_Digest(canonical, strlen(canonical), digest, &digest_len, EVP_sha256(), NULL), 1);
    ck_assert_int_eq(at_jwk_thumbprint(&thumbprint, pool, key), APR_SUCCESS);
    ck_assert_str_eq(thumbprint, at_b64url_encode(pool, digest, digest_len));
    json_decref(jwk);
}
END_TEST

START_TEST(test_ec_jwk_coordinates_keep_fixed_width_with_leading_zero)
{
    int tries, found = 0;

    for (tries = 0; tries < LEADING_ZERO_MAX_TRIES && !found; tries++) {
        EVP_PKEY *key = EVP_EC_gen("P-256");
        json_t *jwk = NULL;
        apr_size_t x_len = 0, y_len = 0;
        unsigned char *x, *y;

        ck_assert_ptr_nonnull(key);
        ck_assert_int_eq(at_jwk_public(&jwk, key), APR_SUCCESS);
        ck_assert_uint_eq(json_object_size(jwk), 4);
        ck_assert_str_eq(member(jwk, "kty"), "EC");
        ck_assert_str_eq(member(jwk, "crv"), "P-256");
        x = b64_bytes(member(jwk, "x"), &x_len);
        y = b64_bytes(member(jwk, "y"), &y_len);
        ck_assert_uint_eq(x_len, P256_COORD_LEN);
        ck_assert_uint_eq(y_len, P256_COORD_LEN);
        if (x[0] == 0 || y[0] == 0) {
            found = 1;
            ck_assert_int_eq(EVP_PKEY_eq(key_from_jwk(jwk), key), 1);
        }
        json_decref(jwk);
        EVP_PKEY_free(key);
    }
    ck_assert_msg(found, "no P-256 key with a leading zero coordinate in %d keys", tries);
}
END_TEST

START_TEST(test_p384_jwk_has_48_byte_coordinates)
{
    EVP_PKEY *key = gen_key("P-384");
    json_t *jwk = NULL;
    apr_size_t len = 0;

    ck_assert_int_eq(at_jwk_public(&jwk, key), APR_SUCCESS);
    ck_assert_str_eq(member(jwk, "crv"), "P-384");
    b64_bytes(member(jwk, "x"), &len);
    ck_assert_uint_eq(len, P384_COORD_LEN);
    b64_bytes(member(jwk, "y"), &len);
    ck_assert_uint_eq(len, P384_COORD_LEN);
    json_decref(jwk);
}
END_TEST

START_TEST(test_alg_follows_key_type)
{
    const char *alg = NULL;

    ck_assert_int_eq(at_jws_alg(&alg, gen_key("P-256")), APR_SUCCESS);
    ck_assert_str_eq(alg, "ES256");
    ck_assert_int_eq(at_jws_alg(&alg, gen_key("P-384")), APR_SUCCESS);
    ck_assert_str_eq(alg, "ES384");
    ck_assert_int_eq(at_jws_alg(&alg, gen_key("RSA")), APR_SUCCESS);
    ck_assert_str_eq(alg, "RS256");
}
END_TEST

START_TEST(test_es256_with_jwk_verifies_with_key_rebuilt_from_header)
{
    check_signed_request(gen_key("P-256"), "ES256", "SHA256", P256_COORD_LEN, NULL);
}
END_TEST

START_TEST(test_es256_with_kid_carries_kid_and_no_jwk)
{
    check_signed_request(gen_key("P-256"), "ES256", "SHA256", P256_COORD_LEN, TEST_KID);
}
END_TEST

START_TEST(test_es384_signs_and_verifies)
{
    EVP_PKEY *key = gen_key("P-384");

    check_signed_request(key, "ES384", "SHA384", P384_COORD_LEN, NULL);
    check_signed_request(key, "ES384", "SHA384", P384_COORD_LEN, TEST_KID);
}
END_TEST

START_TEST(test_rs256_signs_and_verifies)
{
    EVP_PKEY *key = gen_key("RSA");

    check_signed_request(key, "RS256", "SHA256", 0, NULL);
    check_signed_request(key, "RS256", "SHA256", 0, TEST_KID);
}
END_TEST

START_TEST(test_post_as_get_has_empty_payload_and_signs_protected_dot)
{
    EVP_PKEY *key = gen_key("P-256");
    json_t *jws = NULL;
    parsed_jws_t parsed;
    const char *protected_b64;

    ck_assert_int_eq(at_jws_sign_json(&jws, pool, key, TEST_KID, TEST_NONCE, TEST_URL, NULL),
                     APR_SUCCESS);
    parse_jws(&parsed, jws);
    ck_assert_str_eq(parsed.payload, "");
    protected_b64 = member(jws, "protected");
    ck_assert_str_eq(parsed.input, apr_pstrcat(pool, protected_b64, ".", NULL));
    ck_assert(verify_jws_signature(key, "SHA256", P256_COORD_LEN, parsed.input, parsed.sig,
                                   parsed.sig_len));
    json_decref(parsed.header);
    json_decref(jws);
}
END_TEST

START_TEST(test_null_nonce_is_omitted_from_header)
{
    EVP_PKEY *key = gen_key("P-256");
    json_t *payload = json_pack("{s:s}", "account", TEST_KID);
    json_t *jws = NULL;
    parsed_jws_t parsed;

    ck_assert_int_eq(at_jws_sign_json(&jws, pool, key, NULL, NULL, TEST_URL, payload), APR_SUCCESS);
    parse_jws(&parsed, jws);
    ck_assert_ptr_null(json_object_get(parsed.header, "nonce"));
    ck_assert_uint_eq(json_object_size(parsed.header), 3);
    ck_assert_str_eq(member(parsed.header, "url"), TEST_URL);
    ck_assert(verify_jws_signature(key, "SHA256", P256_COORD_LEN, parsed.input, parsed.sig,
                                   parsed.sig_len));
    json_decref(parsed.header);
    json_decref(jws);
    json_decref(payload);
}
END_TEST

/* Signs POST-as-GET once; returns the raw signature after checking length and validity. */
static unsigned char *es256_signature_once(EVP_PKEY *key)
{
    json_t *jws = NULL;
    parsed_jws_t parsed;

    ck_assert_int_eq(at_jws_sign_json(&jws, pool, key, TEST_KID, TEST_NONCE, TEST_URL, NULL),
                     APR_SUCCESS);
    parse_jws(&parsed, jws);
    ck_assert_uint_eq(parsed.sig_len, 2 * P256_COORD_LEN);
    ck_assert(verify_jws_signature(key, "SHA256", P256_COORD_LEN, parsed.input, parsed.sig,
                                   parsed.sig_len));
    json_decref(parsed.header);
    json_decref(jws);
    return parsed.sig;
}

START_TEST(test_es256_signature_is_64_bytes_even_with_leading_zero_in_r_or_s)
{
    EVP_PKEY *key = gen_key("P-256");
    int i, found = 0;

    for (i = 0; i < LEADING_ZERO_MAX_TRIES && (i < FIXED_LENGTH_SIGNATURES || !found); i++) {
        unsigned char *sig = es256_signature_once(key);

        if (sig[0] == 0 || sig[P256_COORD_LEN] == 0) {
            found = 1;
        }
    }
    ck_assert_msg(found, "no ES256 signature with a leading zero in r or s in %d", i);
}
END_TEST

START_TEST(test_eab_is_hs256_over_account_jwk_with_decoded_mac_key)
{
    static const unsigned char mac_key[] = "an EAB MAC key of 32 bytes long!";
    const char *mac_b64 = at_b64url_encode(pool, mac_key, sizeof(mac_key) - 1);
    EVP_PKEY *account = gen_key("P-256");
    json_t *eab = NULL, *jwk = NULL, *payload_back;
    parsed_jws_t parsed;
    unsigned char expected[EVP_MAX_MD_SIZE], *payload_text;
    unsigned int expected_len = 0;
    apr_size_t len = 0;

    ck_assert_int_eq(at_jws_eab(&eab, pool, "kid-1", mac_b64, account, TEST_URL), APR_SUCCESS);
    parse_jws(&parsed, eab);
    ck_assert_uint_eq(json_object_size(parsed.header), 3);
    ck_assert_str_eq(member(parsed.header, "alg"), "HS256");
    ck_assert_str_eq(member(parsed.header, "kid"), "kid-1");
    ck_assert_str_eq(member(parsed.header, "url"), TEST_URL);

    ck_assert_int_eq(at_jwk_public(&jwk, account), APR_SUCCESS);
    payload_text = b64_bytes(parsed.payload, &len);
    payload_back = json_loadb((const char *)payload_text, len, 0, NULL);
    ck_assert(json_equal(payload_back, jwk));

    ck_assert_ptr_nonnull(HMAC(EVP_sha256(), mac_key, (int)(sizeof(mac_key) - 1),
                               (const unsigned char *)parsed.input, strlen(parsed.input), expected,
                               &expected_len));
    ck_assert_uint_eq(expected_len, HS256_LEN);
    ck_assert_uint_eq(parsed.sig_len, HS256_LEN);
    ck_assert_mem_eq(parsed.sig, expected, HS256_LEN);

    json_decref(payload_back);
    json_decref(jwk);
    json_decref(parsed.header);
    json_decref(eab);
}
END_TEST

START_TEST(test_eab_rejects_mac_key_that_is_not_base64url)
{
    json_t *eab = NULL;

    ck_assert_int_eq(
        at_jws_eab(&eab, pool, "kid-1", "not+base64/url==", gen_key("P-256"), TEST_URL), AT_EARG);
    ck_assert_ptr_null(eab);
}
END_TEST

START_TEST(test_unsupported_keys_are_refused_with_earg)
{
    EVP_PKEY *ed25519 = pool_key(EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"));
    EVP_PKEY *p521 = gen_key("P-521");
    const char *alg = "unchanged", *text = "unchanged";
    json_t *jwk = NULL;

    ck_assert_int_eq(at_jws_alg(&alg, ed25519), AT_EARG);
    ck_assert_ptr_null(alg);
    ck_assert_int_eq(at_jwk_public(&jwk, ed25519), AT_EARG);
    ck_assert_ptr_null(jwk);
    ck_assert_int_eq(at_jws_sign(&text, pool, ed25519, NULL, TEST_NONCE, TEST_URL, NULL), AT_EARG);
    ck_assert_ptr_null(text);
    ck_assert_int_eq(at_jws_alg(&alg, p521), AT_EARG);
    ck_assert_int_eq(at_jws_sign(&text, pool, p521, TEST_KID, TEST_NONCE, TEST_URL, NULL), AT_EARG);
}
END_TEST

static Suite *jws_suite(void)
{
    Suite *s = suite_create("jws");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_rfc7638_example_thumbprint);
    tcase_add_test(tc, test_rsa_jwk_has_exactly_e_kty_n_without_leading_zeros);
    tcase_add_test(tc, test_ec_thumbprint_hashes_sorted_compact_required_members);
    tcase_add_test(tc, test_ec_jwk_coordinates_keep_fixed_width_with_leading_zero);
    tcase_add_test(tc, test_p384_jwk_has_48_byte_coordinates);
    tcase_add_test(tc, test_alg_follows_key_type);
    tcase_add_test(tc, test_es256_with_jwk_verifies_with_key_rebuilt_from_header);
    tcase_add_test(tc, test_es256_with_kid_carries_kid_and_no_jwk);
    tcase_add_test(tc, test_es384_signs_and_verifies);
    tcase_add_test(tc, test_rs256_signs_and_verifies);
    tcase_add_test(tc, test_post_as_get_has_empty_payload_and_signs_protected_dot);
    tcase_add_test(tc, test_null_nonce_is_omitted_from_header);
    tcase_add_test(tc, test_es256_signature_is_64_bytes_even_with_leading_zero_in_r_or_s);
    tcase_add_test(tc, test_eab_is_hs256_over_account_jwk_with_decoded_mac_key);
    tcase_add_test(tc, test_eab_rejects_mac_key_that_is_not_base64url);
    tcase_add_test(tc, test_unsupported_keys_are_refused_with_earg);
    suite_add_tcase(s, tc);
    return s;
}

AT_UNIT_MAIN(jws_suite)
