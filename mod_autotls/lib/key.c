/* SPDX-License-Identifier: Apache-2.0 */
/*
 * key.c: certificate and account keys: their five types, generation, and PKCS#8 PEM in and out.
 *
 * The one idea: a key is read without ever asking anyone anything. The module runs unattended,
 * so an encrypted key is refused with a log line instead of a passphrase prompt on a terminal
 * that nobody watches.
 */
#include <limits.h>
#include <string.h>

#include <apr_strings.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include "at_core.h"
#include "at_crypto.h"
#include "at_store.h"
#include "crypto_int.h"

#define KEY_GROUP_NAME_LEN 64 /* room for a curve name such as "prime256v1" */

/* One key type: its configuration name and how OpenSSL makes it. */
typedef struct {
    at_key_type_e type;
    const char *name;
    int curve_nid;     /* NID_undef for RSA */
    const char *group; /* EC group name for generation, NULL for RSA */
    int rsa_bits;      /* 0 for EC */
} key_kind_t;

static const key_kind_t key_kinds[] = {
    {AT_KEY_EC256, "ec256", NID_X9_62_prime256v1, "P-256", 0},
    {AT_KEY_EC384, "ec384", NID_secp384r1, "P-384", 0},
    {AT_KEY_RSA2048, "rsa2048", NID_undef, NULL, 2048},
    {AT_KEY_RSA3072, "rsa3072", NID_undef, NULL, 3072},
    {AT_KEY_RSA4096, "rsa4096", NID_undef, NULL, 4096},
};

#define KEY_KIND_COUNT (sizeof(key_kinds) / sizeof(key_kinds[0]))

const char *at_crypto_reason(char *buf, apr_size_t len)
{
    unsigned long err = ERR_peek_last_error();

    if (err == 0) {
        apr_cpystrn(buf, "no reason given by OpenSSL", len);
    } else {
        ERR_error_string_n(err, buf, len);
    }
    ERR_clear_error();
    return buf;
}

static const key_kind_t *key_kind_of_type(at_key_type_e type)
{
    apr_size_t i;

    for (i = 0; i < KEY_KIND_COUNT; i++) {
        if (key_kinds[i].type == type) {
            return &key_kinds[i];
        }
    }
    return NULL;
}

apr_status_t at_key_type_parse(at_key_type_e *type, const char *text)
{
    apr_size_t i;

    for (i = 0; text != NULL && i < KEY_KIND_COUNT; i++) {
        if (strcasecmp(text, key_kinds[i].name) == 0) {
            *type = key_kinds[i].type;
            return APR_SUCCESS;
        }
    }
    return AT_EARG;
}

const char *at_key_type_name(at_key_type_e type)
{
    const key_kind_t *kind = key_kind_of_type(type);

    return kind != NULL ? kind->name : "unknown";
}

int at_key_types_pair(at_key_type_e a, at_key_type_e b)
{
    const key_kind_t *ka = key_kind_of_type(a), *kb = key_kind_of_type(b);

    return ka != NULL && kb != NULL && (ka->rsa_bits == 0) != (kb->rsa_bits == 0);
}

const char *at_key_site_name(apr_pool_t *p, const char *site, at_key_type_e type)
{
    const key_kind_t *kind = key_kind_of_type(type);
    const char *name;

    if (site == NULL || kind == NULL) {
        return NULL;
    }
    name = apr_pstrcat(p, site, AT_KEY_SITE_SEPARATOR, kind->name, NULL);
    return at_store_component_valid(name) ? name : NULL;
}

static apr_status_t key_cleanup(void *data)
{
    EVP_PKEY_free(data);
    return APR_SUCCESS;
}

static void key_track(apr_pool_t *p, EVP_PKEY *key)
{
    apr_pool_cleanup_register(p, key, key_cleanup, apr_pool_cleanup_null);
}

apr_status_t at_key_generate(EVP_PKEY **key, apr_pool_t *p, at_key_type_e type)
{
    const key_kind_t *kind = key_kind_of_type(type);
    char reason[AT_CRYPTO_REASON_LEN];
    EVP_PKEY *made;

    *key = NULL;
    if (kind == NULL) {
        at_log(AT_LOG_ERR, AT_EARG, AT_LOGNO(1101) "key: cannot generate unknown key type %d",
               (int)type);
        return AT_EARG;
    }
    if (kind->group != NULL) {
        made = EVP_PKEY_Q_keygen(NULL, NULL, "EC", kind->group);
    } else {
        made = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)kind->rsa_bits);
    }
    if (made == NULL) {
        at_log(AT_LOG_ERR, AT_ECRYPTO, AT_LOGNO(1102) "key: generating a %s key failed: %s",
               kind->name, at_crypto_reason(reason, sizeof(reason)));
        return AT_ECRYPTO;
    }
    key_track(p, made);
    *key = made;
    return APR_SUCCESS;
}

/* The curve NID of an EC key, NID_undef when OpenSSL names a curve we do not know. */
static int key_curve_nid(EVP_PKEY *key)
{
    char name[KEY_GROUP_NAME_LEN];
    size_t name_len = 0;
    int nid;

    if (!EVP_PKEY_get_group_name(key, name, sizeof(name), &name_len)) {
        ERR_clear_error();
        return NID_undef;
    }
    nid = OBJ_txt2nid(name);
    if (nid == NID_undef) {
        nid = EC_curve_nist2nid(name);
    }
    return nid;
}

apr_status_t at_key_type_of(at_key_type_e *type, EVP_PKEY *key)
{
    int curve_nid = NID_undef;
    int rsa_bits = 0;
    apr_size_t i;

    if (key == NULL) {
        return AT_EARG;
    }
    if (EVP_PKEY_is_a(key, "EC")) {
        curve_nid = key_curve_nid(key);
        if (curve_nid == NID_undef) {
            return AT_EARG;
        }
    } else if (EVP_PKEY_is_a(key, "RSA")) {
        rsa_bits = EVP_PKEY_get_bits(key);
    } else {
        return AT_EARG;
    }
    for (i = 0; i < KEY_KIND_COUNT; i++) {
        if (key_kinds[i].curve_nid == curve_nid && key_kinds[i].rsa_bits == rsa_bits) {
            *type = key_kinds[i].type;
            return APR_SUCCESS;
        }
    }
    return AT_EARG;
}

apr_status_t at_key_to_pem(const char **pem, apr_size_t *len, apr_pool_t *p, EVP_PKEY *key)
{
    char reason[AT_CRYPTO_REASON_LEN];
    apr_status_t rv = APR_SUCCESS;
    char *data = NULL;
    long data_len;
    BIO *bio;

    *pem = NULL;
    *len = 0;
    /* secure memory: the key's text is wiped when the BIO is freed */
    bio = BIO_new(BIO_s_secmem());
    if (bio == NULL || !PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)) {
        at_log(AT_LOG_ERR, AT_ECRYPTO,
               AT_LOGNO(1103) "key: writing the private key as PEM failed: %s",
               at_crypto_reason(reason, sizeof(reason)));
        rv = AT_ECRYPTO;
        goto leave;
    }
    data_len = BIO_get_mem_data(bio, &data);
    if (data_len <= 0 || data == NULL) {
        at_log(AT_LOG_ERR, AT_ECRYPTO,
               AT_LOGNO(1104) "key: OpenSSL wrote an empty private key PEM");
        rv = AT_ECRYPTO;
        goto leave;
    }
    *pem = apr_pstrmemdup(p, data, (apr_size_t)data_len);
    *len = (apr_size_t)data_len;
leave:
    BIO_free(bio);
    return rv;
}

/* The EVP type of a PKCS#8 key's algorithm, when it is one of the types of key_types; else
 * EVP_PKEY_NONE. */
static int key_pkcs8_type(const unsigned char *der, long len)
{
    const unsigned char *p = der;
    PKCS8_PRIV_KEY_INFO *info = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, len);
    const ASN1_OBJECT *alg = NULL;
    int nid = NID_undef;

    if (info != NULL && PKCS8_pkey_get0(&alg, NULL, NULL, NULL, info) && alg != NULL) {
        nid = OBJ_obj2nid(alg);
    }
    PKCS8_PRIV_KEY_INFO_free(info);
    return nid == NID_X9_62_id_ecPublicKey ? EVP_PKEY_EC
           : nid == NID_rsaEncryption      ? EVP_PKEY_RSA
                                           : EVP_PKEY_NONE;
}

/*
 * The store's own keys (unencrypted PKCS#8 "PRIVATE KEY" of an EC or RSA type) decoded with the
 * type named: OpenSSL 3's generic reader (PEM_read_bio_PrivateKey) builds a decoder chain over
 * every provider's decoders for each key, which made it a sixth of a cold `-k start` at
 * thousands of sites (bench/README.md). NULL for anything else, which the caller hands to the
 * generic reader. The DER is wiped before it is freed.
 */
static EVP_PKEY *key_from_pkcs8_pem(BIO *bio)
{
    char *label = NULL, *header = NULL;
    unsigned char *der = NULL;
    const unsigned char *p;
    EVP_PKEY *key = NULL;
    long len = 0;
    int type;

    if (!PEM_read_bio(bio, &label, &header, &der, &len)) {
        return NULL;
    }
    if (strcmp(label, PEM_STRING_PKCS8INF) == 0 && header[0] == '\0' &&
        (type = key_pkcs8_type(der, len)) != EVP_PKEY_NONE) {
        p = der;
        key = d2i_PrivateKey_ex(type, NULL, &p, len, NULL, NULL);
        if (key != NULL && p != der + len) { /* trailing bytes: not what we wrote */
            EVP_PKEY_free(key);
            key = NULL;
        }
    }
    OPENSSL_free(label);
    OPENSSL_free(header);
    OPENSSL_clear_free(der, (size_t)len);
    return key;
}

/* Passphrase callback that never asks: it notes that a passphrase was wanted and refuses. */
static int key_no_passphrase(char *buf, int size, int rwflag, void *baton)
{
    int *asked = baton;

    (void)buf;
    (void)size;
    (void)rwflag;
    *asked = 1;
    return -1;
}

apr_status_t at_key_from_pem(EVP_PKEY **key, apr_pool_t *p, const char *pem, apr_size_t len)
{
    char reason[AT_CRYPTO_REASON_LEN];
    EVP_PKEY *parsed;
    int asked = 0;
    BIO *bio;

    *key = NULL;
    if (pem == NULL || len == 0) {
        at_log(AT_LOG_ERR, AT_ECRYPTO, AT_LOGNO(1105) "key: no private key PEM given");
        return AT_ECRYPTO;
    }
    if (len > INT_MAX) {
        at_log(AT_LOG_ERR, AT_ETOOLARGE,
               AT_LOGNO(1106) "key: private key PEM of %" APR_SIZE_T_FMT " bytes", len);
        return AT_ETOOLARGE;
    }
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL) {
        at_log(AT_LOG_ERR, AT_ECRYPTO, AT_LOGNO(1107) "key: cannot read the private key PEM: %s",
               at_crypto_reason(reason, sizeof(reason)));
        return AT_ECRYPTO;
    }
    parsed = key_from_pkcs8_pem(bio);
    if (parsed == NULL) {
        /* anything else (a traditional or an encrypted PEM, a type not ours): OpenSSL's way */
        ERR_clear_error();
        (void)BIO_reset(bio);
        parsed = PEM_read_bio_PrivateKey(bio, NULL, key_no_passphrase, &asked);
    }
    BIO_free(bio);
    if (parsed == NULL || asked) {
        at_crypto_reason(reason, sizeof(reason));
        EVP_PKEY_free(parsed);
        if (asked) {
            at_log(AT_LOG_ERR, AT_ECRYPTO,
                   AT_LOGNO(1108) "key: the private key is encrypted; encrypted "
                                  "keys are not supported, "
                                  "store it without a passphrase");
        } else {
            at_log(AT_LOG_ERR, AT_ECRYPTO,
                   AT_LOGNO(1109) "key: the private key PEM does not parse: %s", reason);
        }
        return AT_ECRYPTO;
    }
    key_track(p, parsed);
    *key = parsed;
    return APR_SUCCESS;
}
