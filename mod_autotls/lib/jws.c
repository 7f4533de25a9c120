/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jws.c: JSON Web Keys, thumbprints and flattened JSON Web Signatures for ACME (RFC 7515,
 * RFC 7517/7518, RFC 7638, RFC 8555 §6.2 and §7.3.4).
 *
 * The one idea: the key decides everything. Its type and curve select the "alg", the digest and
 * the width of the JWK coordinates and of the raw r||s signature; what is not in the table below
 * is refused with AT_EARG rather than signed in a form a CA might misread.
 */
#include <string.h>

#include <apr_strings.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

#include "at_b64url.h"
#include "at_core.h"
#include "at_jws.h"

#define JWS_ERRBUF_LEN 256    /* room for one OpenSSL reason text */
#define JWS_GROUP_NAME_LEN 64 /* room for a curve name such as "prime256v1" */
#define JWS_MAX_COORD_LEN 48  /* widest coordinate we sign with (P-384): bounds r||s */
#define JWS_EAB_ALG "HS256"
#define JWS_EAB_DIGEST "SHA256"
#define JWS_THUMBPRINT_DIGEST "SHA256"

/* One key shape we can sign with. */
typedef struct {
    int nid;              /* curve NID, NID_undef for RSA */
    const char *alg;      /* JWS "alg" */
    const char *crv;      /* JWK "crv", NULL for RSA */
    const char *digest;   /* OpenSSL digest name */
    apr_size_t coord_len; /* bytes per EC coordinate and per r and s; 0 for RSA */
} jws_kind_t;

static const jws_kind_t jws_kind_p256 = {NID_X9_62_prime256v1, "ES256", "P-256", "SHA256", 32};
static const jws_kind_t jws_kind_p384 = {NID_secp384r1, "ES384", "P-384", "SHA384", 48};
static const jws_kind_t jws_kind_rsa = {NID_undef, "RS256", NULL, "SHA256", 0};

/* Logs what failed with OpenSSL's reason, empties its error queue, and returns AT_ECRYPTO. */
static apr_status_t jws_crypto_error(const char *what)
{
    char reason[JWS_ERRBUF_LEN] = "no OpenSSL reason";
    unsigned long err = ERR_peek_last_error();

    if (err != 0) {
        ERR_error_string_n(err, reason, sizeof(reason));
    }
    ERR_clear_error();
    at_log(AT_LOG_ERR, AT_ECRYPTO, "jws: %s failed: %s", what, reason);
    return AT_ECRYPTO;
}

/* Sets member name of obj to the text value; AT_EARG when jansson refuses it (not UTF-8). */
static apr_status_t jws_set_string(json_t *obj, const char *name, const char *value)
{
    json_t *str = json_string(value);

    if (str == NULL) {
        at_log(AT_LOG_ERR, AT_EARG, "jws: member %s is not valid UTF-8 text", name);
        return AT_EARG;
    }
    return json_object_set_new(obj, name, str) == 0 ? APR_SUCCESS : APR_ENOMEM;
}

/* The curve NID of an EC key, NID_undef when it has none we know. */
static int jws_ec_nid(EVP_PKEY *key)
{
    char name[JWS_GROUP_NAME_LEN];
    size_t name_len = 0;
    int nid;

    if (!EVP_PKEY_get_group_name(key, name, sizeof(name), &name_len)) {
        return NID_undef;
    }
    nid = OBJ_txt2nid(name);
    if (nid == NID_undef) {
        nid = EC_curve_nist2nid(name);
    }
    return nid;
}

static apr_status_t jws_kind_of(const jws_kind_t **kind, EVP_PKEY *key)
{
    const char *type;
    int nid;

    *kind = NULL;
    if (key == NULL) {
        at_log(AT_LOG_ERR, AT_EARG, "jws: no key given");
        return AT_EARG;
    }
    if (EVP_PKEY_is_a(key, "RSA")) {
        *kind = &jws_kind_rsa;
        return APR_SUCCESS;
    }
    if (EVP_PKEY_is_a(key, "EC")) {
        nid = jws_ec_nid(key);
        if (nid == jws_kind_p256.nid) {
            *kind = &jws_kind_p256;
            return APR_SUCCESS;
        }
        if (nid == jws_kind_p384.nid) {
            *kind = &jws_kind_p384;
            return APR_SUCCESS;
        }
        ERR_clear_error();
        at_log(AT_LOG_ERR, AT_EARG, "jws: EC key on curve %s cannot sign (P-256 or P-384 only)",
               nid != NID_undef ? OBJ_nid2sn(nid) : "unknown");
        return AT_EARG;
    }
    type = EVP_PKEY_get0_type_name(key);
    at_log(AT_LOG_ERR, AT_EARG, "jws: key type %s cannot sign (EC or RSA only)",
           type != NULL ? type : "unknown");
    return AT_EARG;
}

apr_status_t at_jws_alg(const char **alg, EVP_PKEY *key)
{
    const jws_kind_t *kind;
    apr_status_t rv;

    *alg = NULL;
    rv = jws_kind_of(&kind, key);
    if (rv == APR_SUCCESS) {
        *alg = kind->alg;
    }
    return rv;
}

/* Sets member `name` of obj to the base64url of bn, left-padded to pad bytes (0: minimal). */
static apr_status_t jws_set_bn(json_t *obj, apr_pool_t *p, const char *name, const BIGNUM *bn,
                               apr_size_t pad)
{
    apr_size_t len = pad > 0 ? pad : (apr_size_t)BN_num_bytes(bn);
    unsigned char *buf = apr_palloc(p, len + 1);
    int written = pad > 0 ? BN_bn2binpad(bn, buf, (int)len) : BN_bn2bin(bn, buf);

    if (written < 0 || (apr_size_t)written != len) {
        at_log(AT_LOG_ERR, AT_ECRYPTO, "jws: key member %s does not fit %u bytes", name,
               (unsigned)len);
        return AT_ECRYPTO;
    }
    return jws_set_string(obj, name, at_b64url_encode(p, buf, len));
}

/* Fills jwk with the public members of key, read through OpenSSL 3's parameter names. */
static apr_status_t jws_jwk_fill(json_t *jwk, apr_pool_t *p, EVP_PKEY *key, const jws_kind_t *kind)
{
    const char *first_param = kind->crv != NULL ? OSSL_PKEY_PARAM_EC_PUB_X : OSSL_PKEY_PARAM_RSA_N;
    const char *second_param = kind->crv != NULL ? OSSL_PKEY_PARAM_EC_PUB_Y : OSSL_PKEY_PARAM_RSA_E;
    BIGNUM *first = NULL, *second = NULL;
    apr_status_t rv;

    if (!EVP_PKEY_get_bn_param(key, first_param, &first) ||
        !EVP_PKEY_get_bn_param(key, second_param, &second)) {
        rv = jws_crypto_error("reading the public key");
        goto out;
    }
    if (kind->crv != NULL) {
        rv = jws_set_string(jwk, "kty", "EC");
        if (rv == APR_SUCCESS) {
            rv = jws_set_string(jwk, "crv", kind->crv);
        }
        if (rv == APR_SUCCESS) {
            rv = jws_set_bn(jwk, p, "x", first, kind->coord_len);
        }
        if (rv == APR_SUCCESS) {
            rv = jws_set_bn(jwk, p, "y", second, kind->coord_len);
        }
    } else {
        rv = jws_set_string(jwk, "kty", "RSA");
        if (rv == APR_SUCCESS) {
            rv = jws_set_bn(jwk, p, "n", first, 0);
        }
        if (rv == APR_SUCCESS) {
            rv = jws_set_bn(jwk, p, "e", second, 0);
        }
    }
out:
    BN_free(first);
    BN_free(second);
    return rv;
}

apr_status_t at_jwk_public(json_t **jwk, EVP_PKEY *key)
{
    const jws_kind_t *kind;
    apr_pool_t *scratch = NULL;
    json_t *obj = NULL;
    apr_status_t rv;

    *jwk = NULL;
    rv = jws_kind_of(&kind, key);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* No pool in this signature: the coordinates' bytes live in a pool of our own. */
    rv = apr_pool_create(&scratch, NULL);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    obj = json_object();
    if (obj == NULL) {
        rv = APR_ENOMEM;
        goto out;
    }
    rv = jws_jwk_fill(obj, scratch, key, kind);
    if (rv == APR_SUCCESS) {
        *jwk = obj;
        obj = NULL;
    }
out:
    json_decref(obj);
    apr_pool_destroy(scratch);
    return rv;
}

/* Compact JSON text of value in p; sort_keys gives RFC 7638's canonical member order. */
static apr_status_t jws_dump(const char **text, apr_pool_t *p, const json_t *value, int sort_keys)
{
    size_t flags = JSON_COMPACT | JSON_ENCODE_ANY | (sort_keys ? JSON_SORT_KEYS : 0);
    char *dumped = json_dumps(value, flags);

    *text = NULL;
    if (dumped == NULL) {
        at_log(AT_LOG_ERR, APR_ENOMEM, "jws: cannot serialize JSON");
        return APR_ENOMEM;
    }
    *text = apr_pstrdup(p, dumped);
    free(dumped);
    return APR_SUCCESS;
}

/* base64url of the compact JSON text of value. */
static apr_status_t jws_b64_json(const char **b64, apr_pool_t *p, const json_t *value)
{
    const char *text;
    apr_status_t rv = jws_dump(&text, p, value, 1);

    *b64 = rv == APR_SUCCESS ? at_b64url_encode(p, text, strlen(text)) : NULL;
    return rv;
}

apr_status_t at_jwk_thumbprint(const char **thumbprint, apr_pool_t *p, EVP_PKEY *key)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    const char *text = NULL;
    json_t *jwk = NULL;
    EVP_MD *md = NULL;
    apr_status_t rv;

    *thumbprint = NULL;
    rv = at_jwk_public(&jwk, key);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = jws_dump(&text, p, jwk, 1);
    if (rv != APR_SUCCESS) {
        goto out;
    }
    md = EVP_MD_fetch(NULL, JWS_THUMBPRINT_DIGEST, NULL);
    if (md == NULL || !EVP_Digest(text, strlen(text), digest, &digest_len, md, NULL)) {
        rv = jws_crypto_error("hashing the JWK thumbprint");
        goto out;
    }
    *thumbprint = at_b64url_encode(p, digest, digest_len);
out:
    EVP_MD_free(md);
    json_decref(jwk);
    return rv;
}

/* Turns a DER ECDSA signature into JWS's raw r||s, each left-padded to coord_len bytes. */
static apr_status_t jws_ecdsa_raw(unsigned char *raw, apr_pool_t *p, const unsigned char *der,
                                  size_t der_len, apr_size_t coord_len, const char *url)
{
    const unsigned char *cursor = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &cursor, (long)der_len);
    const BIGNUM *r, *s;
    apr_status_t rv = APR_SUCCESS;

    if (sig == NULL) {
        return jws_crypto_error(apr_psprintf(p, "decoding the ECDSA signature for %s", url));
    }
    ECDSA_SIG_get0(sig, &r, &s);
    if (BN_bn2binpad(r, raw, (int)coord_len) < 0 ||
        BN_bn2binpad(s, raw + coord_len, (int)coord_len) < 0) {
        rv = jws_crypto_error(apr_psprintf(p, "converting the ECDSA signature for %s", url));
    }
    ECDSA_SIG_free(sig);
    return rv;
}

/* base64url signature of "protected.payload" with key, in the form JWS wants for its kind. */
static apr_status_t jws_signature(const char **b64, apr_pool_t *p, EVP_PKEY *key,
                                  const jws_kind_t *kind, const char *input, const char *url)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char *sig = NULL;
    unsigned char raw[2 * JWS_MAX_COORD_LEN];
    size_t sig_len = 0;
    apr_status_t rv = APR_SUCCESS;

    *b64 = NULL;
    if (ctx == NULL || !EVP_DigestSignInit_ex(ctx, NULL, kind->digest, NULL, NULL, key, NULL) ||
        !EVP_DigestSign(ctx, NULL, &sig_len, (const unsigned char *)input, strlen(input))) {
        rv = jws_crypto_error(apr_psprintf(p, "preparing %s for %s", kind->alg, url));
        goto out;
    }
    sig = apr_palloc(p, sig_len);
    if (!EVP_DigestSign(ctx, sig, &sig_len, (const unsigned char *)input, strlen(input))) {
        rv = jws_crypto_error(apr_psprintf(p, "%s signing for %s", kind->alg, url));
        goto out;
    }
    if (kind->crv != NULL) {
        rv = jws_ecdsa_raw(raw, p, sig, sig_len, kind->coord_len, url);
        if (rv == APR_SUCCESS) {
            *b64 = at_b64url_encode(p, raw, 2 * kind->coord_len);
        }
    } else {
        *b64 = at_b64url_encode(p, sig, sig_len);
    }
out:
    EVP_MD_CTX_free(ctx);
    return rv;
}

/* The flattened JWS object {protected, payload, signature} from its base64url parts. */
static apr_status_t jws_flattened(json_t **jws, const char *protected_b64, const char *payload_b64,
                                  const char *signature_b64)
{
    json_t *obj = json_object();
    apr_status_t rv = obj != NULL ? APR_SUCCESS : APR_ENOMEM;

    *jws = NULL;
    if (rv == APR_SUCCESS) {
        rv = jws_set_string(obj, "protected", protected_b64);
    }
    if (rv == APR_SUCCESS) {
        rv = jws_set_string(obj, "payload", payload_b64);
    }
    if (rv == APR_SUCCESS) {
        rv = jws_set_string(obj, "signature", signature_b64);
    }
    if (rv != APR_SUCCESS) {
        json_decref(obj);
        return rv;
    }
    *jws = obj;
    return APR_SUCCESS;
}

/* The protected header {alg, jwk|kid, nonce?, url} for key. */
static apr_status_t jws_header(json_t **header, EVP_PKEY *key, const jws_kind_t *kind,
                               const char *kid, const char *nonce, const char *url)
{
    json_t *obj = json_object();
    json_t *jwk = NULL;
    apr_status_t rv = obj != NULL ? APR_SUCCESS : APR_ENOMEM;

    *header = NULL;
    if (rv == APR_SUCCESS) {
        rv = jws_set_string(obj, "alg", kind->alg);
    }
    if (rv == APR_SUCCESS && kid != NULL) {
        rv = jws_set_string(obj, "kid", kid);
    } else if (rv == APR_SUCCESS) {
        rv = at_jwk_public(&jwk, key);
        if (rv == APR_SUCCESS && json_object_set_new(obj, "jwk", jwk) != 0) {
            rv = APR_ENOMEM;
        }
    }
    if (rv == APR_SUCCESS && nonce != NULL) {
        rv = jws_set_string(obj, "nonce", nonce);
    }
    if (rv == APR_SUCCESS) {
        rv = jws_set_string(obj, "url", url);
    }
    if (rv != APR_SUCCESS) {
        json_decref(obj);
        return rv;
    }
    *header = obj;
    return APR_SUCCESS;
}

apr_status_t at_jws_sign_json(json_t **jws, apr_pool_t *p, EVP_PKEY *key, const char *kid,
                              const char *nonce, const char *url, const json_t *payload)
{
    const jws_kind_t *kind;
    const char *protected_b64, *payload_b64 = "", *signature_b64;
    json_t *header = NULL;
    apr_status_t rv;

    *jws = NULL;
    if (url == NULL) {
        at_log(AT_LOG_ERR, AT_EARG, "jws: cannot sign a request without a URL");
        return AT_EARG;
    }
    rv = jws_kind_of(&kind, key);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = jws_header(&header, key, kind, kid, nonce, url);
    if (rv != APR_SUCCESS) {
        goto out;
    }
    rv = jws_b64_json(&protected_b64, p, header);
    if (rv == APR_SUCCESS && payload != NULL) {
        rv = jws_b64_json(&payload_b64, p, payload);
    }
    if (rv != APR_SUCCESS) {
        goto out;
    }
    rv = jws_signature(&signature_b64, p, key, kind,
                       apr_pstrcat(p, protected_b64, ".", payload_b64, NULL), url);
    if (rv != APR_SUCCESS) {
        goto out;
    }
    rv = jws_flattened(jws, protected_b64, payload_b64, signature_b64);
out:
    json_decref(header);
    return rv;
}

apr_status_t at_jws_sign(const char **jws, apr_pool_t *p, EVP_PKEY *key, const char *kid,
                         const char *nonce, const char *url, const json_t *payload)
{
    json_t *obj = NULL;
    apr_status_t rv;

    *jws = NULL;
    rv = at_jws_sign_json(&obj, p, key, kid, nonce, url, payload);
    if (rv == APR_SUCCESS) {
        rv = jws_dump(jws, p, obj, 0);
    }
    json_decref(obj);
    return rv;
}

apr_status_t at_jws_eab(json_t **eab, apr_pool_t *p, const char *kid, const char *hmac_b64url,
                        EVP_PKEY *account_key, const char *url)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t mac_len = 0;
    unsigned char *hmac_key = NULL;
    apr_size_t hmac_key_len = 0;
    const char *protected_b64, *payload_b64, *input;
    json_t *header = NULL, *jwk = NULL;
    apr_status_t rv;

    *eab = NULL;
    if (kid == NULL || url == NULL || hmac_b64url == NULL) {
        at_log(AT_LOG_ERR, AT_EARG,
               "jws: external account binding needs a key id, a MAC key "
               "and the newAccount URL");
        return AT_EARG;
    }
    if (at_b64url_decode(&hmac_key, &hmac_key_len, p, hmac_b64url) != APR_SUCCESS ||
        hmac_key_len == 0) {
        at_log(AT_LOG_ERR, AT_EARG, "jws: the MAC key for EAB key id %s is not base64url", kid);
        return AT_EARG;
    }
    rv = at_jwk_public(&jwk, account_key);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    header = json_object();
    rv = header != NULL ? APR_SUCCESS : APR_ENOMEM;
    if (rv == APR_SUCCESS) {
        rv = jws_set_string(header, "alg", JWS_EAB_ALG);
    }
    if (rv == APR_SUCCESS) {
        rv = jws_set_string(header, "kid", kid);
    }
    if (rv == APR_SUCCESS) {
        rv = jws_set_string(header, "url", url);
    }
    if (rv == APR_SUCCESS) {
        rv = jws_b64_json(&protected_b64, p, header);
    }
    if (rv == APR_SUCCESS) {
        rv = jws_b64_json(&payload_b64, p, jwk);
    }
    if (rv != APR_SUCCESS) {
        goto out;
    }
    input = apr_pstrcat(p, protected_b64, ".", payload_b64, NULL);
    if (EVP_Q_mac(NULL, "HMAC", NULL, JWS_EAB_DIGEST, NULL, hmac_key, hmac_key_len,
                  (const unsigned char *)input, strlen(input), mac, sizeof(mac),
                  &mac_len) == NULL) {
        rv = jws_crypto_error(apr_psprintf(p, "HS256 for EAB key id %s", kid));
        goto out;
    }
    rv = jws_flattened(eab, protected_b64, payload_b64, at_b64url_encode(p, mac, mac_len));
out:
    json_decref(header);
    json_decref(jwk);
    return rv;
}
