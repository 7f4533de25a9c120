/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_crypto.c: keys, CSRs and single certificates (chains and set checks: test_certset.c).
 *
 * The one idea: what the library produces is read back with OpenSSL directly (d2i_X509_REQ,
 * X509_REQ_verify, the certificate's own fields) rather than with the library's own readers.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <check.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "unit_main.h"
#include "at_core.h"
#include "at_crypto.h"
#include "at_name.h"
#include "at_store.h"
#include "tiny_ca.h"

#define TEST_TIMEOUT_SECS 300
#define LOG_LINE_MAX 2048
#define DAY apr_time_from_sec(86400)
#define SERIAL_HEX_LEN 32 /* 128-bit serials */
#define WEAK_RSA_BITS 1024
#define TIME_SLACK apr_time_from_sec(2)

static apr_pool_t *pool;
static char last_error_line[LOG_LINE_MAX];

static void capture_log(void *baton, at_log_level_e level, apr_status_t rv, const char *msg)
{
    (void)baton;
    (void)rv;
    if (level <= AT_LOG_WARN) {
        apr_cpystrn(last_error_line, msg, sizeof(last_error_line));
    }
}

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
    last_error_line[0] = '\0';
    at_log_set(capture_log, NULL, AT_LOG_DEBUG);
}

static void teardown(void)
{
    at_log_set(NULL, NULL, AT_LOG_INFO);
    apr_pool_destroy(pool);
}

/* --- helpers -------------------------------------------------------------------------------- */

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

static EVP_PKEY *new_key(at_key_type_e type)
{
    EVP_PKEY *key = NULL;

    ck_assert_int_eq(at_key_generate(&key, pool, type), APR_SUCCESS);
    ck_assert_ptr_nonnull(key);
    return key;
}

/* The public half of key alone, as a relying party would have it. */
static EVP_PKEY *public_half(EVP_PKEY *key)
{
    unsigned char *der = NULL;
    const unsigned char *cursor;
    int der_len = i2d_PUBKEY(key, &der);
    EVP_PKEY *pub;

    ck_assert_int_gt(der_len, 0);
    cursor = der;
    pub = d2i_PUBKEY(NULL, &cursor, der_len);
    OPENSSL_free(der);
    return pool_key(pub);
}

/* --- keys ----------------------------------------------------------------------------------- */

START_TEST(test_every_key_type_generates_and_round_trips_through_pem)
{
    static const at_key_type_e types[] = {AT_KEY_EC256, AT_KEY_EC384, AT_KEY_RSA2048,
                                          AT_KEY_RSA3072, AT_KEY_RSA4096};
    apr_size_t i;

    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        EVP_PKEY *key = new_key(types[i]), *back = NULL;
        at_key_type_e type = (at_key_type_e)-1;
        const char *pem = NULL;
        apr_size_t len = 0;

        ck_assert_int_eq(at_key_type_of(&type, key), APR_SUCCESS);
        ck_assert_int_eq(type, types[i]);
        ck_assert_int_eq(at_key_to_pem(&pem, &len, pool, key), APR_SUCCESS);
        ck_assert_uint_eq(len, strlen(pem));
        ck_assert_msg(strncmp(pem, "-----BEGIN PRIVATE KEY-----\n", 28) == 0,
                      "%s is not unencrypted PKCS#8: %.40s", at_key_type_name(types[i]), pem);
        ck_assert_int_eq(at_key_from_pem(&back, pool, pem, len), APR_SUCCESS);
        ck_assert_int_eq(EVP_PKEY_eq(key, back), 1);
        ck_assert_int_eq(at_key_type_of(&type, back), APR_SUCCESS);
        ck_assert_int_eq(type, types[i]);
    }
}
END_TEST

/* key.c reads the store's own PKCS#8 keys by their named type and everything else the generic
 * way: an admin's key in OpenSSL's traditional form, or with trailing text, still reads. */
START_TEST(test_traditional_and_pkcs8_with_trailing_text_keys_read_as_before)
{
    static const at_key_type_e types[] = {AT_KEY_EC256, AT_KEY_RSA2048};
    apr_size_t i;

    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        EVP_PKEY *key = new_key(types[i]), *back = NULL;
        BIO *bio = BIO_new(BIO_s_mem());
        const char *pem = NULL;
        char *data = NULL;
        apr_size_t len = 0;

        ck_assert_ptr_nonnull(bio);
        ck_assert_int_eq(PEM_write_bio_PrivateKey_traditional(bio, key, NULL, NULL, 0, NULL, NULL),
                         1);
        len = (apr_size_t)BIO_get_mem_data(bio, &data);
        pem = apr_pstrmemdup(pool, data, len); /* the BIO's data has no NUL */
        ck_assert_msg(strstr(pem, "BEGIN PRIVATE KEY") == NULL, "not traditional: %.40s", pem);
        ck_assert_int_eq(at_key_from_pem(&back, pool, pem, len), APR_SUCCESS);
        ck_assert_int_eq(EVP_PKEY_eq(key, back), 1);
        BIO_free(bio);

        ck_assert_int_eq(at_key_to_pem(&pem, &len, pool, key), APR_SUCCESS);
        pem = apr_pstrcat(pool, pem, "# a comment after the key\n", NULL);
        ck_assert_int_eq(at_key_from_pem(&back, pool, pem, strlen(pem)), APR_SUCCESS);
        ck_assert_int_eq(EVP_PKEY_eq(key, back), 1);
    }
}
END_TEST

START_TEST(test_key_type_parse_accepts_the_five_names_and_rejects_others)
{
    static const char *const good[] = {"ec256", "ec384", "rsa2048", "rsa3072", "rsa4096"};
    static const char *const bad[] = {"",         "ec521", "rsa1024", "ec256 ",
                                      " rsa2048", "rsa",   "p-256",   "ed25519"};
    at_key_type_e type;
    apr_size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        type = (at_key_type_e)-1;
        ck_assert_int_eq(at_key_type_parse(&type, good[i]), APR_SUCCESS);
        ck_assert_str_eq(at_key_type_name(type), good[i]);
    }
    ck_assert_int_eq(at_key_type_parse(&type, "EC384"), APR_SUCCESS);
    ck_assert_int_eq(type, AT_KEY_EC384);
    ck_assert_int_eq(at_key_type_parse(&type, "Rsa4096"), APR_SUCCESS);
    ck_assert_int_eq(type, AT_KEY_RSA4096);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(at_key_type_parse(&type, bad[i]) == AT_EARG, "accepted \"%s\"", bad[i]);
    }
    ck_assert_int_eq(at_key_type_parse(&type, NULL), AT_EARG);
}
END_TEST

START_TEST(test_key_type_of_refuses_keys_outside_the_five_types)
{
    EVP_PKEY *weak = pool_key(EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)WEAK_RSA_BITS));
    EVP_PKEY *p521 = pool_key(EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521"));
    EVP_PKEY *ed = pool_key(EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"));
    at_key_type_e type;

    ck_assert_int_eq(at_key_type_of(&type, weak), AT_EARG);
    ck_assert_int_eq(at_key_type_of(&type, p521), AT_EARG);
    ck_assert_int_eq(at_key_type_of(&type, ed), AT_EARG);
}
END_TEST

START_TEST(test_key_types_pair_only_one_ec_with_one_rsa)
{
    ck_assert(at_key_types_pair(AT_KEY_EC256, AT_KEY_RSA2048));
    ck_assert(at_key_types_pair(AT_KEY_RSA4096, AT_KEY_EC384));
    ck_assert(!at_key_types_pair(AT_KEY_EC256, AT_KEY_EC384));
    ck_assert(!at_key_types_pair(AT_KEY_RSA2048, AT_KEY_RSA3072));
    ck_assert(!at_key_types_pair(AT_KEY_EC256, AT_KEY_EC256));
    ck_assert(!at_key_types_pair(AT_KEY_EC256, (at_key_type_e)-1));
}
END_TEST

START_TEST(test_key_site_name_is_no_host_name_and_fits_the_store)
{
    char longest[256];
    const char *name = at_key_site_name(pool, "example.com", AT_KEY_RSA2048);
    const char *why;

    ck_assert_str_eq(name, "example.com_rsa2048");
    ck_assert(at_store_component_valid(name));
    ck_assert(!at_name_eligible(name, &why)); /* no site can be called so */
    ck_assert_str_eq(at_key_site_name(pool, "2001:db8::1", AT_KEY_EC256), "2001:db8::1_ec256");
    /* a name too long for the suffix has no second set (one store component is 255 bytes) */
    memset(longest, 'a', sizeof(longest) - 1);
    longest[sizeof(longest) - 1] = '\0';
    longest[250] = '\0';
    ck_assert_ptr_null(at_key_site_name(pool, longest, AT_KEY_RSA2048));
    ck_assert_ptr_null(at_key_site_name(pool, NULL, AT_KEY_RSA2048));
}
END_TEST

/* PEM of key encrypted with a passphrase, PKCS#8 or in OpenSSL's traditional form. */
static const char *encrypted_pem(EVP_PKEY *key, int traditional, apr_size_t *len)
{
    static const char pass[] = "secret";
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    const char *pem;
    int ok;

    ck_assert_ptr_nonnull(bio);
    if (traditional) {
        ok = PEM_write_bio_PrivateKey_traditional(
            bio, key, EVP_aes_128_cbc(), (const unsigned char *)pass, sizeof(pass) - 1, NULL, NULL);
    } else {
        ok = PEM_write_bio_PrivateKey(bio, key, EVP_aes_256_cbc(), (const unsigned char *)pass,
                                      sizeof(pass) - 1, NULL, NULL);
    }
    ck_assert_int_eq(ok, 1);
    *len = (apr_size_t)BIO_get_mem_data(bio, &data);
    pem = apr_pstrmemdup(pool, data, *len);
    BIO_free(bio);
    return pem;
}

START_TEST(test_encrypted_pem_key_is_rejected_without_prompting)
{
    EVP_PKEY *key = new_key(AT_KEY_EC256), *back = key;
    int traditional;

    for (traditional = 0; traditional <= 1; traditional++) {
        apr_size_t len = 0;
        const char *pem = encrypted_pem(key, traditional, &len);

        ck_assert_ptr_nonnull(strstr(pem, "ENCRYPTED"));
        last_error_line[0] = '\0';
        /* a prompt would need a terminal; the log line shows our callback refused instead */
        ck_assert_int_eq(at_key_from_pem(&back, pool, pem, len), AT_ECRYPTO);
        ck_assert_ptr_null(back);
        ck_assert_msg(strstr(last_error_line, "encrypted keys are not supported") != NULL,
                      "log line was: %s", last_error_line);
    }
}
END_TEST

START_TEST(test_garbage_or_empty_pem_key_is_rejected)
{
    static const char garbage[] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    EVP_PKEY *back = NULL;
    const char *pem = NULL;
    apr_size_t len = 0;

    ck_assert_int_eq(at_key_from_pem(&back, pool, garbage, sizeof(garbage) - 1), AT_ECRYPTO);
    ck_assert_ptr_nonnull(strstr(last_error_line, "does not parse"));
    ck_assert_int_eq(at_key_from_pem(&back, pool, "hello", 5), AT_ECRYPTO);
    ck_assert_int_eq(at_key_from_pem(&back, pool, "", 0), AT_ECRYPTO);
    /* a key cut short is garbage too */
    ck_assert_int_eq(at_key_to_pem(&pem, &len, pool, new_key(AT_KEY_EC256)), APR_SUCCESS);
    ck_assert_int_eq(at_key_from_pem(&back, pool, pem, len / 2), AT_ECRYPTO);
    ck_assert_ptr_null(back);
}
END_TEST

/* --- CSR ------------------------------------------------------------------------------------ */

static X509_REQ *parse_csr(const unsigned char *der, apr_size_t len)
{
    const unsigned char *cursor = der;
    X509_REQ *req = d2i_X509_REQ(NULL, &cursor, (long)len);

    ck_assert_ptr_nonnull(req);
    ck_assert_ptr_eq(cursor, der + len);
    return req;
}

static void check_csr_sans(X509_REQ *req, const apr_array_header_t *names)
{
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
    GENERAL_NAMES *gens = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
    int i;

    ck_assert_ptr_nonnull(gens);
    ck_assert_int_eq(sk_GENERAL_NAME_num(gens), names->nelts);
    for (i = 0; i < names->nelts; i++) {
        const GENERAL_NAME *gen = sk_GENERAL_NAME_value(gens, i);
        const char *want = APR_ARRAY_IDX(names, i, const char *);

        ck_assert_int_eq(gen->type, GEN_DNS);
        ck_assert_int_eq(ASN1_STRING_length(gen->d.dNSName), (int)strlen(want));
        ck_assert_int_eq(memcmp(ASN1_STRING_get0_data(gen->d.dNSName), want, strlen(want)), 0);
    }
    GENERAL_NAMES_free(gens);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
}

START_TEST(test_csr_has_first_name_as_cn_exactly_the_sans_and_verifies_with_public_key)
{
    static const at_key_type_e types[] = {AT_KEY_EC256, AT_KEY_EC384, AT_KEY_RSA2048};
    static const int sig_nids[] = {NID_ecdsa_with_SHA256, NID_ecdsa_with_SHA256,
                                   NID_sha256WithRSAEncryption};
    apr_array_header_t *names =
        at_unit_names(pool, "example.org", "www.example.org", "a.example.org", NULL);
    EVP_PKEY *other = new_key(AT_KEY_EC256);
    apr_size_t i;

    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        EVP_PKEY *key = new_key(types[i]);
        unsigned char *der = NULL;
        apr_size_t der_len = 0;
        char cn[256];
        X509_REQ *req;

        ck_assert_int_eq(at_csr_create(&der, &der_len, pool, key, names), APR_SUCCESS);
        req = parse_csr(der, der_len);
        ck_assert_int_gt(X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req), NID_commonName,
                                                   cn, sizeof(cn)),
                         0);
        ck_assert_str_eq(cn, "example.org");
        ck_assert_int_eq(X509_NAME_entry_count(X509_REQ_get_subject_name(req)), 1);
        check_csr_sans(req, names);
        ck_assert_int_eq(X509_REQ_get_signature_nid(req), sig_nids[i]);
        ck_assert_int_eq(EVP_PKEY_eq(X509_REQ_get0_pubkey(req), key), 1);
        ck_assert_int_eq(X509_REQ_verify(req, public_half(key)), 1);
        ck_assert_int_le(X509_REQ_verify(req, other), 0);
        X509_REQ_free(req);
    }
}
END_TEST

START_TEST(test_csr_with_one_name_carries_it_as_cn_and_single_san)
{
    apr_array_header_t *names = at_unit_names(pool, "solo.example.net", NULL);
    unsigned char *der = NULL;
    apr_size_t der_len = 0;
    X509_REQ *req;

    ck_assert_int_eq(at_csr_create(&der, &der_len, pool, new_key(AT_KEY_EC256), names),
                     APR_SUCCESS);
    req = parse_csr(der, der_len);
    check_csr_sans(req, names);
    X509_REQ_free(req);
}
END_TEST

/* RFC 8738: an IP address is an iPAddress SAN of its 4 or 16 bytes, never a dNSName, and no CN. */
START_TEST(test_csr_for_ip_addresses_has_ip_sans_and_no_cn)
{
    static const unsigned char v4[] = {192, 0, 2, 7};
    static const unsigned char v6[] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    apr_array_header_t *names = at_unit_names(pool, "192.0.2.7", "2001:db8::1", "ip.example", NULL);
    unsigned char *der = NULL;
    apr_size_t der_len = 0;
    STACK_OF(X509_EXTENSION) * exts;
    GENERAL_NAMES *gens;
    const GENERAL_NAME *gen;
    X509_REQ *req;

    ck_assert_int_eq(at_csr_create(&der, &der_len, pool, new_key(AT_KEY_EC256), names),
                     APR_SUCCESS);
    req = parse_csr(der, der_len);
    ck_assert_int_eq(X509_NAME_entry_count(X509_REQ_get_subject_name(req)), 0);
    exts = X509_REQ_get_extensions(req);
    gens = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
    ck_assert_ptr_nonnull(gens);
    ck_assert_int_eq(sk_GENERAL_NAME_num(gens), 3);
    gen = sk_GENERAL_NAME_value(gens, 0);
    ck_assert_int_eq(gen->type, GEN_IPADD);
    ck_assert_int_eq(ASN1_STRING_length(gen->d.iPAddress), (int)sizeof(v4));
    ck_assert_int_eq(memcmp(ASN1_STRING_get0_data(gen->d.iPAddress), v4, sizeof(v4)), 0);
    gen = sk_GENERAL_NAME_value(gens, 1);
    ck_assert_int_eq(gen->type, GEN_IPADD);
    ck_assert_int_eq(ASN1_STRING_length(gen->d.iPAddress), (int)sizeof(v6));
    ck_assert_int_eq(memcmp(ASN1_STRING_get0_data(gen->d.iPAddress), v6, sizeof(v6)), 0);
    ck_assert_int_eq(sk_GENERAL_NAME_value(gens, 2)->type, GEN_DNS);
    GENERAL_NAMES_free(gens);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_free(req);
}
END_TEST

START_TEST(test_csr_refuses_missing_or_empty_names)
{
    EVP_PKEY *key = new_key(AT_KEY_EC256);
    unsigned char *der = NULL;
    apr_size_t der_len = 0;

    ck_assert_int_eq(at_csr_create(&der, &der_len, pool, key, at_unit_names(pool, NULL)), AT_EARG);
    ck_assert_int_eq(at_csr_create(&der, &der_len, pool, key, NULL), AT_EARG);
    ck_assert_int_eq(
        at_csr_create(&der, &der_len, pool, key, at_unit_names(pool, "a.example", "", NULL)),
        AT_EARG);
    ck_assert_ptr_null(der);
}
END_TEST

/* --- certificates ---------------------------------------------------------------------------- */

START_TEST(test_self_signed_cert_info_has_names_serial_validity_and_issuer)
{
    EVP_PKEY *key = new_key(AT_KEY_EC256);
    apr_array_header_t *names = at_unit_names(pool, "WWW.Example.ORG", "example.org", NULL);
    apr_time_t before = apr_time_now(), after;
    X509 *cert = NULL, *again = NULL;
    at_cert_info_t *info = NULL, *info2 = NULL;
    BIGNUM *bn;
    char *hex;
    int i;

    ck_assert_int_eq(at_cert_self_signed(&cert, pool, key, names, 7 * DAY), APR_SUCCESS);
    after = apr_time_now();
    ck_assert_int_eq(at_cert_info(&info, pool, cert), APR_SUCCESS);

    ck_assert_int_eq(info->names->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(info->names, 0, const char *), "www.example.org");
    ck_assert_str_eq(APR_ARRAY_IDX(info->names, 1, const char *), "example.org");

    ck_assert_uint_eq(strlen(info->serial), SERIAL_HEX_LEN);
    for (i = 0; info->serial[i] != '\0'; i++) {
        ck_assert_msg(apr_isdigit(info->serial[i]) ||
                          (info->serial[i] >= 'A' && info->serial[i] <= 'F'),
                      "serial %s is not upper-case hex", info->serial);
    }
    bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    ck_assert_int_eq(BN_is_negative(bn), 0);
    hex = BN_bn2hex(bn);
    ck_assert_str_eq(info->serial, hex);
    OPENSSL_free(hex);
    BN_free(bn);

    ck_assert_int_ge(info->not_before, apr_time_sec(before) * APR_USEC_PER_SEC - TIME_SLACK);
    ck_assert_int_le(info->not_before, after);
    ck_assert_int_eq(info->not_after - info->not_before, 7 * DAY);

    ck_assert_str_eq(info->subject, "CN=WWW.Example.ORG");
    ck_assert_str_eq(info->issuer, "CN=WWW.Example.ORG");
    ck_assert_str_eq(info->issuer_cn, "WWW.Example.ORG");
    ck_assert_str_eq(info->key_type, "ec256");

    ck_assert_int_eq(X509_verify(cert, public_half(key)), 1);
    ck_assert_int_eq(X509_get_signature_nid(cert), NID_ecdsa_with_SHA256);
    ck_assert_int_eq(X509_check_ca(cert), 0);

    ck_assert_int_eq(at_cert_self_signed(&again, pool, key, names, DAY), APR_SUCCESS);
    ck_assert_int_eq(at_cert_info(&info2, pool, again), APR_SUCCESS);
    ck_assert_str_ne(info->serial, info2->serial);
}
END_TEST

START_TEST(test_self_signed_refuses_no_names_and_no_lifetime)
{
    EVP_PKEY *key = new_key(AT_KEY_EC256);
    X509 *cert = NULL;

    ck_assert_int_eq(at_cert_self_signed(&cert, pool, key, at_unit_names(pool, NULL), DAY),
                     AT_EARG);
    ck_assert_int_eq(
        at_cert_self_signed(&cert, pool, key, at_unit_names(pool, "a.example", NULL), 0), AT_EARG);
    ck_assert_ptr_null(cert);
}
END_TEST

START_TEST(test_cert_info_falls_back_to_cn_and_to_full_issuer)
{
    EVP_PKEY *ca_key = new_key(AT_KEY_RSA2048), *key = new_key(AT_KEY_EC384);
    tiny_cert_spec_t ca_spec = {.key = ca_key,
                                .org = "Test Org Without CN",
                                .from_secs = -TINY_CA_HOUR_SECS,
                                .to_secs = TINY_CA_DAY_SECS};
    X509 *ca = tiny_ca_cert(pool, &ca_spec);
    tiny_cert_spec_t spec = {.key = key,
                             .cn = "Legacy.Example.NET",
                             .issuer = ca,
                             .issuer_key = ca_key,
                             .eku = "serverAuth",
                             .from_secs = -TINY_CA_HOUR_SECS,
                             .to_secs = TINY_CA_DAY_SECS};
    X509 *cert = tiny_ca_cert(pool, &spec);
    at_cert_info_t *info = NULL;

    ck_assert_int_eq(at_cert_info(&info, pool, cert), APR_SUCCESS);
    ck_assert_int_eq(info->names->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(info->names, 0, const char *), "legacy.example.net");
    ck_assert_str_eq(info->issuer_cn, "O=Test Org Without CN");
    ck_assert_str_eq(info->key_type, "ec384");
    ck_assert_int_eq(at_cert_info(&info, pool, ca), APR_SUCCESS);
    ck_assert_int_eq(info->names->nelts, 0);
    ck_assert_str_eq(info->key_type, "rsa2048");
    /* clients ignore the CN: a certificate without SANs covers nothing */
    ck_assert_int_eq(at_cert_covers_name(cert, "legacy.example.net"), 0);
}
END_TEST

START_TEST(test_asn1_time_converts_utc_and_generalized_time)
{
    static const time_t utc_secs = 1700000000;         /* 2023-11-14, UTCTime */
    static const time_t generalized_secs = 2600000000; /* 2052-05-23, GeneralizedTime */
    ASN1_TIME *t = ASN1_TIME_set(NULL, utc_secs);
    apr_time_t result = 0;

    ck_assert_int_eq(at_asn1_time_to_apr(&result, t), APR_SUCCESS);
    ck_assert_int_eq(result, apr_time_from_sec(utc_secs));
    ck_assert_ptr_nonnull(ASN1_TIME_set(t, generalized_secs));
    ck_assert_int_eq(ASN1_STRING_type(t), V_ASN1_GENERALIZEDTIME);
    ck_assert_int_eq(at_asn1_time_to_apr(&result, t), APR_SUCCESS);
    ck_assert_int_eq(result, apr_time_from_sec(generalized_secs));
    ASN1_TIME_free(t);
    ck_assert_int_ne(at_asn1_time_to_apr(&result, NULL), APR_SUCCESS);
}
END_TEST

START_TEST(test_covers_name_is_case_insensitive_and_wildcards_match_one_whole_label)
{
    X509 *cert = NULL;

    ck_assert_int_eq(at_cert_self_signed(&cert, pool, new_key(AT_KEY_EC256),
                                         at_unit_names(pool, "example.org", "*.example.org",
                                                       "w*.example.net", "Mixed.Example.COM", NULL),
                                         DAY),
                     APR_SUCCESS);
    ck_assert_int_eq(at_cert_covers_name(cert, "example.org"), 1);
    ck_assert_int_eq(at_cert_covers_name(cert, "EXAMPLE.Org"), 1);
    ck_assert_int_eq(at_cert_covers_name(cert, "mixed.example.com"), 1);
    ck_assert_int_eq(at_cert_covers_name(cert, "www.example.org"), 1);
    ck_assert_int_eq(at_cert_covers_name(cert, "WWW.EXAMPLE.ORG"), 1);
    ck_assert_int_eq(at_cert_covers_name(cert, "*.example.org"), 1);
    ck_assert_int_eq(at_cert_covers_name(cert, "*.EXAMPLE.ORG"), 1);
    /* one label only */
    ck_assert_int_eq(at_cert_covers_name(cert, "a.b.example.org"), 0);
    /* partial-label wildcards are not honoured */
    ck_assert_int_eq(at_cert_covers_name(cert, "www.example.net"), 0);
    ck_assert_int_eq(at_cert_covers_name(cert, "w.example.net"), 0);
    ck_assert_int_eq(at_cert_covers_name(cert, "example.com"), 0);
    ck_assert_int_eq(at_cert_covers_name(cert, "org"), 0);
    ck_assert_int_eq(at_cert_covers_name(cert, "*.example.com"), 0);
    ck_assert_int_eq(at_cert_covers_name(cert, "*.org"), 0);
    ck_assert_int_eq(at_cert_covers_name(cert, "xexample.org"), 0);
    ck_assert_int_eq(at_cert_covers_name(cert, ""), 0);
    ck_assert_int_eq(at_cert_covers_name(cert, NULL), 0);
}
END_TEST

/* An IP name is covered by an iPAddress SAN of it and by nothing else: not by a dNSName that
 * spells it, not by the subject CN; cert_info lists it in canonical text. */
START_TEST(test_covers_ip_only_by_an_ip_san)
{
    EVP_PKEY *ca_key = new_key(AT_KEY_EC256), *key = new_key(AT_KEY_EC256);
    tiny_cert_spec_t ca_spec = {.key = ca_key,
                                .cn = "IP Test CA",
                                .from_secs = -TINY_CA_HOUR_SECS,
                                .to_secs = TINY_CA_DAY_SECS};
    X509 *ca = tiny_ca_cert(pool, &ca_spec);
    tiny_cert_spec_t spec = {.key = key,
                             .cn = "192.0.2.9",
                             .san = "DNS:192.0.2.9,DNS:2001:db8::9",
                             .issuer = ca,
                             .issuer_key = ca_key,
                             .eku = "serverAuth",
                             .from_secs = -TINY_CA_HOUR_SECS,
                             .to_secs = TINY_CA_DAY_SECS};
    X509 *spelled = tiny_ca_cert(pool, &spec), *cert = NULL;
    at_cert_info_t *info = NULL;

    ck_assert_int_eq(at_cert_covers_name(spelled, "192.0.2.9"), 0);
    ck_assert_int_eq(at_cert_covers_name(spelled, "2001:db8::9"), 0);
    ck_assert_int_eq(at_cert_self_signed(&cert, pool, key,
                                         at_unit_names(pool, "192.0.2.9", "2001:db8::9", NULL),
                                         DAY),
                     APR_SUCCESS);
    ck_assert_int_eq(at_cert_covers_name(cert, "192.0.2.9"), 1);
    ck_assert_int_eq(at_cert_covers_name(cert, "2001:db8::9"), 1);
    ck_assert_int_eq(at_cert_covers_name(cert, "2001:db8:0::9"), 1); /* the same address */
    ck_assert_int_eq(at_cert_covers_name(cert, "192.0.2.10"), 0);
    ck_assert_int_eq(at_cert_covers_name(cert, "2001:db8::a"), 0);
    ck_assert_int_eq(at_cert_info(&info, pool, cert), APR_SUCCESS);
    ck_assert_int_eq(info->names->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(info->names, 0, const char *), "192.0.2.9");
    ck_assert_str_eq(APR_ARRAY_IDX(info->names, 1, const char *), "2001:db8::9");
    ck_assert_int_eq(X509_NAME_entry_count(X509_get_subject_name(cert)), 0);
}
END_TEST

START_TEST(test_cert_matches_its_own_key_and_no_other)
{
    EVP_PKEY *key = new_key(AT_KEY_EC256), *other = new_key(AT_KEY_EC256);
    EVP_PKEY *rsa = new_key(AT_KEY_RSA2048);
    X509 *cert = NULL, *rsa_cert = NULL;
    apr_array_header_t *names = at_unit_names(pool, "example.org", NULL);

    ck_assert_int_eq(at_cert_self_signed(&cert, pool, key, names, DAY), APR_SUCCESS);
    ck_assert_int_eq(at_cert_self_signed(&rsa_cert, pool, rsa, names, DAY), APR_SUCCESS);
    ck_assert_int_eq(at_cert_matches_key(cert, key), 1);
    ck_assert_int_eq(at_cert_matches_key(rsa_cert, rsa), 1);
    ck_assert_int_eq(at_cert_matches_key(cert, other), 0);
    ck_assert_int_eq(at_cert_matches_key(cert, rsa), 0);
    ck_assert_int_eq(at_cert_matches_key(rsa_cert, key), 0);
    ck_assert_int_eq(at_cert_matches_key(cert, NULL), 0);
    ck_assert_int_eq(at_cert_matches_key(NULL, key), 0);
}
END_TEST

static Suite *crypto_suite(void)
{
    Suite *s = suite_create("crypto");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    /* RSA 4096 generation under valgrind takes a while */
    tcase_set_timeout(tc, TEST_TIMEOUT_SECS);
    tcase_add_test(tc, test_every_key_type_generates_and_round_trips_through_pem);
    tcase_add_test(tc, test_traditional_and_pkcs8_with_trailing_text_keys_read_as_before);
    tcase_add_test(tc, test_key_type_parse_accepts_the_five_names_and_rejects_others);
    tcase_add_test(tc, test_key_type_of_refuses_keys_outside_the_five_types);
    tcase_add_test(tc, test_key_types_pair_only_one_ec_with_one_rsa);
    tcase_add_test(tc, test_key_site_name_is_no_host_name_and_fits_the_store);
    tcase_add_test(tc, test_encrypted_pem_key_is_rejected_without_prompting);
    tcase_add_test(tc, test_garbage_or_empty_pem_key_is_rejected);
    tcase_add_test(tc, test_csr_has_first_name_as_cn_exactly_the_sans_and_verifies_with_public_key);
    tcase_add_test(tc, test_csr_with_one_name_carries_it_as_cn_and_single_san);
    tcase_add_test(tc, test_csr_for_ip_addresses_has_ip_sans_and_no_cn);
    tcase_add_test(tc, test_csr_refuses_missing_or_empty_names);
    tcase_add_test(tc, test_self_signed_cert_info_has_names_serial_validity_and_issuer);
    tcase_add_test(tc, test_self_signed_refuses_no_names_and_no_lifetime);
    tcase_add_test(tc, test_cert_info_falls_back_to_cn_and_to_full_issuer);
    tcase_add_test(tc, test_asn1_time_converts_utc_and_generalized_time);
    tcase_add_test(tc, test_covers_name_is_case_insensitive_and_wildcards_match_one_whole_label);
    tcase_add_test(tc, test_covers_ip_only_by_an_ip_san);
    tcase_add_test(tc, test_cert_matches_its_own_key_and_no_other);
    suite_add_tcase(s, tc);
    return s;
}

AT_UNIT_MAIN(crypto_suite)
