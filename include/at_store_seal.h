/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_store_seal.h: private keys sealed (AES-256-GCM) before they leave the node for a network
 * store.
 *
 * A fleet shares one 32-byte key (AutoTLSStoreKeyFile, `head -c 32 /dev/urandom`), readable by
 * root and the ACME account only. Every secret item goes to Redis as a sealed envelope:
 *
 *   "ATSL"  version (1 byte)  key id (16 hex)  nonce (12)  ciphertext  GCM tag (16)
 *
 * binary, never PEM. The key id is the first 8 bytes of SHA-256 of the key, in hex: it tells
 * which key sealed a value without saying anything of the key. The associated data is the
 * binding (the full Redis key name the value is stored under) and the key id, so a value copied
 * or moved to another key does not open, and neither does one with any bit changed. Opening
 * never gives plaintext unless the tag verifies.
 */
#ifndef AT_STORE_SEAL_H
#define AT_STORE_SEAL_H

#include <apr_pools.h>

#define AT_STORE_SEAL_KEY_LEN 32
#define AT_STORE_SEAL_KEY_ID_LEN 16 /* hex characters */
#define AT_STORE_SEAL_MAGIC "ATSL"
#define AT_STORE_SEAL_MAGIC_LEN 4
#define AT_STORE_SEAL_VERSION 1
#define AT_STORE_SEAL_NONCE_LEN 12
#define AT_STORE_SEAL_TAG_LEN 16
/* What sealing adds to a value: magic, version, key id, nonce, tag. */
#define AT_STORE_SEAL_OVERHEAD                                                                     \
    (AT_STORE_SEAL_MAGIC_LEN + 1 + AT_STORE_SEAL_KEY_ID_LEN + AT_STORE_SEAL_NONCE_LEN +            \
     AT_STORE_SEAL_TAG_LEN)

typedef struct at_store_seal_key_t at_store_seal_key_t;

/* Reads the key from path: exactly AT_STORE_SEAL_KEY_LEN bytes in a file at_secret_file_read
 * accepts (no link, no access for group or others). On failure *why says what is wrong and how
 * to make a good one; nothing is logged. The key's bytes are wiped when p is cleared. */
apr_status_t at_store_seal_key_read(at_store_seal_key_t **key, const char **why, apr_pool_t *p,
                                    const char *path);

/* A key from bytes (tests, tools): len must be AT_STORE_SEAL_KEY_LEN, else AT_EARG. */
apr_status_t at_store_seal_key_make(at_store_seal_key_t **key, apr_pool_t *p,
                                    const unsigned char *bytes, apr_size_t len);

/* The key's id: 16 lower-case hex characters. */
const char *at_store_seal_key_id(const at_store_seal_key_t *key);

/* Seals data for binding (the name it is stored under) into *out (from p). */
apr_status_t at_store_seal_encrypt(char **out, apr_size_t *out_len, apr_pool_t *p,
                                   const at_store_seal_key_t *key, const char *binding,
                                   const void *data, apr_size_t len);

/* Opens what at_store_seal_encrypt made for binding; *out is NUL-terminated. AT_ECORRUPT: not an
 * envelope (foreign, truncated, another version); AT_ECRYPTO: sealed under another key (*why
 * names both ids) or it does not authenticate (altered, or sealed for another binding). *why is
 * set on every failure, *out only on success. */
apr_status_t at_store_seal_decrypt(char **out, apr_size_t *out_len, const char **why, apr_pool_t *p,
                                   const at_store_seal_key_t *key, const char *binding,
                                   const void *data, apr_size_t len);

/* Whether data starts like a sealed envelope (magic and version): a cheap test, no proof. */
int at_store_seal_is_sealed(const void *data, apr_size_t len);

#endif
