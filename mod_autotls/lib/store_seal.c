/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_seal.c: seals private keys (AES-256-GCM) before they leave the node for a network store,
 * and opens them on the way back.
 *
 * The one idea: an envelope opens only under the key that sealed it and only for the name it was
 * sealed for (the associated data is the envelope's header, key id included, then the binding);
 * anything else (another key, a moved value, one flipped bit, a cut, a foreign value) is refused
 * with a reason, and no plaintext ever leaves this file unless the GCM tag verified.
 */
#include <stdint.h>
#include <string.h>

#include <apr_strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "at_core.h"
#include "at_secret_file.h"
#include "at_store_seal.h"

#define SEAL_KEY_ID_BYTES (AT_STORE_SEAL_KEY_ID_LEN / 2)
#define SEAL_HEADER_LEN (AT_STORE_SEAL_MAGIC_LEN + 1 + AT_STORE_SEAL_KEY_ID_LEN)
#define SEAL_VERSION_AT AT_STORE_SEAL_MAGIC_LEN
#define SEAL_KEY_ID_AT (AT_STORE_SEAL_MAGIC_LEN + 1)
#define SEAL_NONCE_AT SEAL_HEADER_LEN
#define SEAL_CIPHER_AT (SEAL_HEADER_LEN + AT_STORE_SEAL_NONCE_LEN)

struct at_store_seal_key_t {
    unsigned char bytes[AT_STORE_SEAL_KEY_LEN];
    char id[AT_STORE_SEAL_KEY_ID_LEN + 1];
};

static apr_status_t seal_key_wipe(void *data)
{
    OPENSSL_cleanse(data, sizeof(at_store_seal_key_t));
    return APR_SUCCESS;
}

apr_status_t at_store_seal_key_make(at_store_seal_key_t **key, apr_pool_t *p,
                                    const unsigned char *bytes, apr_size_t len)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    at_store_seal_key_t *k;
    int i;

    *key = NULL;
    if (bytes == NULL || len != AT_STORE_SEAL_KEY_LEN) {
        return AT_EARG;
    }
    if (EVP_Digest(bytes, len, digest, &digest_len, EVP_sha256(), NULL) != 1) {
        return AT_ECRYPTO;
    }
    k = apr_palloc(p, sizeof(*k));
    apr_pool_cleanup_register(p, k, seal_key_wipe, apr_pool_cleanup_null);
    memcpy(k->bytes, bytes, len);
    for (i = 0; i < SEAL_KEY_ID_BYTES; i++) {
        apr_snprintf(k->id + 2 * i, 3, "%02x", digest[i]);
    }
    *key = k;
    return APR_SUCCESS;
}

apr_status_t at_store_seal_key_read(at_store_seal_key_t **key, const char **why, apr_pool_t *p,
                                    const char *path)
{
    char *data;
    apr_size_t len;
    apr_status_t rv;

    *key = NULL;
    /* One byte more than a key so that a longer file is told apart from a key. */
    rv = at_secret_file_read(&data, &len, why, p, path, "the store key", AT_STORE_SEAL_KEY_LEN + 1);
    if (rv == AT_ETOOLARGE || (rv == APR_SUCCESS && len != AT_STORE_SEAL_KEY_LEN)) {
        *why = apr_psprintf(p,
                            "%s (the store key) must hold exactly %d random bytes, not %s; make "
                            "one with: head -c %d /dev/urandom > %s; chmod 600 %s",
                            path, AT_STORE_SEAL_KEY_LEN,
                            rv == AT_ETOOLARGE ? "more" : apr_ltoa(p, (long)len),
                            AT_STORE_SEAL_KEY_LEN, path, path);
        return AT_EARG;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return at_store_seal_key_make(key, p, (const unsigned char *)data, len);
}

const char *at_store_seal_key_id(const at_store_seal_key_t *key)
{
    return key->id;
}

int at_store_seal_is_sealed(const void *data, apr_size_t len)
{
    const unsigned char *d = data;

    return len >= SEAL_HEADER_LEN && memcmp(d, AT_STORE_SEAL_MAGIC, AT_STORE_SEAL_MAGIC_LEN) == 0 &&
           d[SEAL_VERSION_AT] == AT_STORE_SEAL_VERSION;
}

/* Runs AES-256-GCM over in (encrypting or decrypting) with the header and binding as associated
 * data; on decryption tag is checked, on encryption written. 1 on success. */
static int seal_gcm(int encrypt, const at_store_seal_key_t *key, const unsigned char *nonce,
                    const unsigned char *header, const char *binding, const unsigned char *in,
                    apr_size_t len, unsigned char *out, unsigned char *tag)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, ok;

    ok = ctx != NULL && EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, encrypt) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, AT_STORE_SEAL_NONCE_LEN, NULL) == 1 &&
         EVP_CipherInit_ex(ctx, NULL, NULL, key->bytes, nonce, encrypt) == 1 &&
         EVP_CipherUpdate(ctx, NULL, &n, header, SEAL_HEADER_LEN) == 1 &&
         EVP_CipherUpdate(ctx, NULL, &n, (const unsigned char *)binding, (int)strlen(binding)) ==
             1 &&
         (len == 0 || EVP_CipherUpdate(ctx, out, &n, in, (int)len) == 1) &&
         (encrypt ||
          EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, AT_STORE_SEAL_TAG_LEN, tag) == 1) &&
         EVP_CipherFinal_ex(ctx, out + len, &n) == 1 &&
         (!encrypt ||
          EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, AT_STORE_SEAL_TAG_LEN, tag) == 1);
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

apr_status_t at_store_seal_encrypt(char **out, apr_size_t *out_len, apr_pool_t *p,
                                   const at_store_seal_key_t *key, const char *binding,
                                   const void *data, apr_size_t len)
{
    apr_size_t total = len + AT_STORE_SEAL_OVERHEAD;
    unsigned char *buf;

    *out = NULL;
    if (key == NULL || binding == NULL || (data == NULL && len > 0) || len > INT32_MAX) {
        return AT_EARG;
    }
    buf = apr_palloc(p, total + 1);
    memcpy(buf, AT_STORE_SEAL_MAGIC, AT_STORE_SEAL_MAGIC_LEN);
    buf[SEAL_VERSION_AT] = AT_STORE_SEAL_VERSION;
    memcpy(buf + SEAL_KEY_ID_AT, key->id, AT_STORE_SEAL_KEY_ID_LEN);
    /* A fresh random nonce per value: at 2^32 values per key the collision risk stays below
     * NIST's bound, far beyond what a fleet seals. */
    if (RAND_bytes(buf + SEAL_NONCE_AT, AT_STORE_SEAL_NONCE_LEN) != 1 ||
        !seal_gcm(1, key, buf + SEAL_NONCE_AT, buf, binding, data, len, buf + SEAL_CIPHER_AT,
                  buf + SEAL_CIPHER_AT + len)) {
        return AT_ECRYPTO;
    }
    buf[total] = '\0';
    *out = (char *)buf;
    *out_len = total;
    return APR_SUCCESS;
}

apr_status_t at_store_seal_decrypt(char **out, apr_size_t *out_len, const char **why, apr_pool_t *p,
                                   const at_store_seal_key_t *key, const char *binding,
                                   const void *data, apr_size_t len)
{
    const unsigned char *in = data;
    unsigned char tag[AT_STORE_SEAL_TAG_LEN];
    apr_size_t clen;
    unsigned char *buf;

    *out = NULL;
    if (!at_store_seal_is_sealed(data, len) || len < AT_STORE_SEAL_OVERHEAD) {
        *why = at_store_seal_is_sealed(data, len)
                   ? apr_psprintf(p, "a sealed value cut short (%" APR_SIZE_T_FMT " bytes)", len)
                   : "not a sealed value of this store (foreign, or another version)";
        return AT_ECORRUPT;
    }
    if (memcmp(in + SEAL_KEY_ID_AT, key->id, AT_STORE_SEAL_KEY_ID_LEN) != 0) {
        *why = apr_psprintf(p,
                            "sealed under the store key with id %.*s, but this node's "
                            "AutoTLSStoreKeyFile has id %s: every node needs the same key",
                            AT_STORE_SEAL_KEY_ID_LEN, (const char *)in + SEAL_KEY_ID_AT, key->id);
        return AT_ECRYPTO;
    }
    clen = len - AT_STORE_SEAL_OVERHEAD;
    memcpy(tag, in + SEAL_CIPHER_AT + clen, AT_STORE_SEAL_TAG_LEN);
    buf = apr_palloc(p, clen + 1);
    if (!seal_gcm(0, key, in + SEAL_NONCE_AT, in, binding, in + SEAL_CIPHER_AT, clen, buf, tag)) {
        OPENSSL_cleanse(buf, clen + 1);
        *why = "it does not authenticate: altered, cut, or sealed for another key name";
        return AT_ECRYPTO;
    }
    buf[clen] = '\0';
    *out = (char *)buf;
    *out_len = clen;
    return APR_SUCCESS;
}
