/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cert.c: certificates and chains: PEM and DER in and out, what a certificate says about itself,
 * which names it covers, whether a chain verifies, and self-signed placeholders.
 *
 * The one idea: a chain read from disk is either entirely understood or refused. A truncated
 * file (a crash mid-copy, a full disk) must never pass as a shorter chain, so every
 * "-----BEGIN" line has to end up as a block that parsed.
 */
#include <limits.h>
#include <string.h>

#include <arpa/inet.h>
#include <sys/socket.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "at_acme.h"
#include "at_core.h"
#include "at_crypto.h"
#include "at_name.h"
#include "crypto_int.h"

#define CHAIN_MAX_BLOCKS 32        /* PEM blocks read from one text: more is not a chain */
#define CERT_SERIAL_BYTES 16       /* 128-bit serials for self-signed certificates */
#define CERT_SECONDS_PER_DAY 86400 /* ASN1_TIME_adj takes days and seconds apart */
/* RFC 8737 §6.1: id-pe-acmeIdentifier; its value is the DER of an OCTET STRING of 32 bytes. */
#define CERT_ACME_ID_OID "1.3.6.1.5.5.7.1.31"
#define CERT_DER_HEADER_LEN 2 /* tag and short-form length */
#define CERT_ACME_ID_DER_LEN (CERT_DER_HEADER_LEN + AT_ACME_KEYAUTH_DIGEST_LEN)
#define PEM_BEGIN_MARK "-----BEGIN "
#define CERT_IPV4_BYTES 4  /* an iPAddress SAN of an IPv4 address */
#define CERT_IPV6_BYTES 16 /* ... of an IPv6 address */

static apr_status_t cert_cleanup(void *data)
{
    X509_free(data);
    return APR_SUCCESS;
}

static void cert_track(apr_pool_t *p, X509 *cert)
{
    apr_pool_cleanup_register(p, cert, cert_cleanup, apr_pool_cleanup_null);
}

/* Frees the certificates of a chain that is being refused now rather than with the pool. */
static void cert_release_all(apr_pool_t *p, apr_array_header_t *certs)
{
    int i;

    for (i = 0; i < certs->nelts; i++) {
        apr_pool_cleanup_run(p, APR_ARRAY_IDX(certs, i, X509 *), cert_cleanup);
    }
    apr_array_clear(certs);
}

/* How many lines of text start a PEM block: what a complete parse has to account for. A text
 * that stops inside a BEGIN line ("...\n-----BEG") counts that line as a block begun. */
static int cert_count_pem_begins(const char *pem, apr_size_t len)
{
    apr_size_t mark_len = sizeof(PEM_BEGIN_MARK) - 1;
    apr_size_t i, last_line = 0;
    int count = 0;

    for (i = 0; i < len; i++) {
        if (i > 0 && pem[i - 1] != '\n') {
            continue;
        }
        last_line = i;
        if (i + mark_len <= len && memcmp(pem + i, PEM_BEGIN_MARK, mark_len) == 0) {
            count++;
        }
    }
    if (len > 0 && pem[len - 1] != '\n' && len - last_line < mark_len &&
        memcmp(pem + last_line, PEM_BEGIN_MARK, len - last_line) == 0) {
        count++;
    }
    return count;
}

/* Parses one PEM block's DER into chain; the DER must be one certificate and nothing more. */
static apr_status_t cert_add_der(apr_array_header_t *chain, apr_pool_t *p,
                                 const unsigned char *data, long data_len)
{
    const unsigned char *cursor = data;
    X509 *cert = d2i_X509(NULL, &cursor, data_len);

    if (cert == NULL || cursor != data + data_len) {
        X509_free(cert);
        return AT_EINVALID;
    }
    cert_track(p, cert);
    APR_ARRAY_PUSH(chain, X509 *) = cert;
    return APR_SUCCESS;
}

/* Reads the next block from bio; APR_EOF when only text without blocks is left. */
static apr_status_t cert_read_block(apr_array_header_t *chain, apr_pool_t *p, BIO *bio, int n)
{
    char reason[AT_CRYPTO_REASON_LEN];
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    long data_len = 0;
    apr_status_t rv = APR_SUCCESS;
    unsigned long err;

    if (!PEM_read_bio(bio, &name, &header, &data, &data_len)) {
        err = ERR_peek_last_error();
        if (ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE) {
            ERR_clear_error();
            return APR_EOF;
        }
        at_log(AT_LOG_ERR, AT_EINVALID,
               AT_LOGNO(1046) "cert: PEM block %d is truncated or malformed: %s", n,
               at_crypto_reason(reason, sizeof(reason)));
        return AT_EINVALID;
    }
    if (strcmp(name, PEM_STRING_X509) == 0) {
        rv = cert_add_der(chain, p, data, data_len);
        if (rv != APR_SUCCESS) {
            at_log(AT_LOG_ERR, rv,
                   AT_LOGNO(1047) "cert: PEM block %d is not a valid certificate: %s", n,
                   at_crypto_reason(reason, sizeof(reason)));
        }
    } else {
        at_log(AT_LOG_DEBUG, APR_SUCCESS, AT_LOGNO(1048) "cert: skipping PEM block %d of type %s",
               n, name);
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    return rv;
}

apr_status_t at_chain_from_pem(apr_array_header_t **chain, apr_pool_t *p, const char *pem,
                               apr_size_t len)
{
    apr_array_header_t *certs = apr_array_make(p, 4, sizeof(X509 *));
    apr_status_t rv = APR_SUCCESS;
    int begins, blocks;
    BIO *bio;

    *chain = NULL;
    if (pem == NULL || len == 0) {
        at_log(AT_LOG_ERR, AT_EINVALID, AT_LOGNO(1049) "cert: empty certificate PEM");
        return AT_EINVALID;
    }
    if (len > INT_MAX) {
        at_log(AT_LOG_ERR, AT_ETOOLARGE,
               AT_LOGNO(1050) "cert: certificate PEM of %" APR_SIZE_T_FMT " bytes", len);
        return AT_ETOOLARGE;
    }
    begins = cert_count_pem_begins(pem, len);
    if (begins > CHAIN_MAX_BLOCKS) {
        at_log(AT_LOG_ERR, AT_EINVALID,
               AT_LOGNO(1051) "cert: %d PEM blocks, more than the %d a chain may have", begins,
               CHAIN_MAX_BLOCKS);
        return AT_EINVALID;
    }
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL) {
        ERR_clear_error();
        return AT_ECRYPTO;
    }
    for (blocks = 0; blocks <= begins; blocks++) {
        rv = cert_read_block(certs, p, bio, blocks + 1);
        if (rv != APR_SUCCESS) {
            break;
        }
    }
    BIO_free(bio);
    if (rv == APR_EOF && blocks != begins) {
        at_log(AT_LOG_ERR, AT_EINVALID, AT_LOGNO(1052) "cert: PEM block %d is truncated",
               blocks + 1);
        rv = AT_EINVALID;
    } else if (rv == APR_EOF && certs->nelts == 0) {
        at_log(AT_LOG_ERR, AT_EINVALID,
               AT_LOGNO(1053) "cert: no CERTIFICATE block in the PEM text");
        rv = AT_EINVALID;
    } else if (rv == APR_EOF) {
        *chain = certs;
        rv = APR_SUCCESS;
    } else if (rv == APR_SUCCESS) {
        /* more blocks parsed than lines that begin one: OpenSSL and we disagree on the text */
        at_log(AT_LOG_ERR, AT_EINVALID,
               AT_LOGNO(1054) "cert: PEM text has blocks we cannot account for");
        rv = AT_EINVALID;
    }
    if (rv != APR_SUCCESS) {
        cert_release_all(p, certs);
    }
    return rv;
}

apr_status_t at_chain_to_pem(const char **pem, apr_size_t *len, apr_pool_t *p,
                             const apr_array_header_t *chain)
{
    char reason[AT_CRYPTO_REASON_LEN];
    apr_status_t rv = APR_SUCCESS;
    char *data = NULL;
    long data_len;
    BIO *bio;
    int i;

    *pem = NULL;
    *len = 0;
    if (chain == NULL || chain->nelts == 0) {
        at_log(AT_LOG_ERR, AT_EARG, AT_LOGNO(1055) "cert: no certificates to write as PEM");
        return AT_EARG;
    }
    bio = BIO_new(BIO_s_mem());
    for (i = 0; bio != NULL && i < chain->nelts; i++) {
        if (!PEM_write_bio_X509(bio, APR_ARRAY_IDX(chain, i, X509 *))) {
            break;
        }
    }
    if (bio == NULL || i < chain->nelts) {
        at_log(AT_LOG_ERR, AT_ECRYPTO,
               AT_LOGNO(1056) "cert: writing certificate %d as PEM failed: %s", i + 1,
               at_crypto_reason(reason, sizeof(reason)));
        rv = AT_ECRYPTO;
        goto leave;
    }
    data_len = BIO_get_mem_data(bio, &data);
    *pem = apr_pstrmemdup(p, data, (apr_size_t)data_len);
    *len = (apr_size_t)data_len;
leave:
    BIO_free(bio);
    return rv;
}

apr_status_t at_cert_to_der(unsigned char **der, apr_size_t *len, apr_pool_t *p, X509 *cert)
{
    char reason[AT_CRYPTO_REASON_LEN];
    unsigned char *out = NULL;
    int out_len;

    *der = NULL;
    *len = 0;
    out_len = cert != NULL ? i2d_X509(cert, &out) : -1;
    if (out_len <= 0) {
        at_log(AT_LOG_ERR, AT_ECRYPTO,
               AT_LOGNO(1057) "cert: encoding a certificate as DER failed: %s",
               at_crypto_reason(reason, sizeof(reason)));
        return AT_ECRYPTO;
    }
    *der = apr_pmemdup(p, out, (apr_size_t)out_len);
    *len = (apr_size_t)out_len;
    OPENSSL_free(out);
    return APR_SUCCESS;
}

apr_status_t at_asn1_time_to_apr(apr_time_t *t, const ASN1_TIME *asn1)
{
    apr_time_exp_t xt;
    struct tm tm;

    *t = 0;
    /* ASN1_TIME_to_tm(NULL) would give the current time: refuse instead */
    if (asn1 == NULL || !ASN1_TIME_to_tm(asn1, &tm)) {
        ERR_clear_error();
        return AT_EINVALID;
    }
    memset(&xt, 0, sizeof(xt));
    xt.tm_year = tm.tm_year;
    xt.tm_mon = tm.tm_mon;
    xt.tm_mday = tm.tm_mday;
    xt.tm_hour = tm.tm_hour;
    xt.tm_min = tm.tm_min;
    xt.tm_sec = tm.tm_sec;
    return apr_time_exp_gmt_get(t, &xt) == APR_SUCCESS ? APR_SUCCESS : AT_EINVALID;
}

/* A pool copy of an ASN.1 string as UTF-8, NULL when it does not convert or holds a NUL. */
static const char *cert_asn1_utf8(apr_pool_t *p, const ASN1_STRING *text)
{
    unsigned char *utf8 = NULL;
    const char *copy = NULL;
    int utf8_len = ASN1_STRING_to_UTF8(&utf8, text);

    if (utf8_len >= 0 && memchr(utf8, '\0', (size_t)utf8_len) == NULL) {
        copy = apr_pstrmemdup(p, (const char *)utf8, (apr_size_t)utf8_len);
    }
    OPENSSL_free(utf8);
    ERR_clear_error();
    return copy;
}

/* The first commonName of name, or NULL. */
static const char *cert_name_cn(apr_pool_t *p, const X509_NAME *name)
{
    int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);

    if (idx < 0) {
        return NULL;
    }
    return cert_asn1_utf8(p, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
}

/* One-line RFC 2253 text of name. */
static const char *cert_name_text(apr_pool_t *p, const X509_NAME *name)
{
    BIO *bio = BIO_new(BIO_s_mem());
    const char *text = "";
    char *data = NULL;
    long data_len;

    if (bio != NULL && X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0) {
        data_len = BIO_get_mem_data(bio, &data);
        text = apr_pstrmemdup(p, data, (apr_size_t)data_len);
    }
    BIO_free(bio);
    ERR_clear_error();
    return text;
}

static char *cert_lower(char *text)
{
    char *c;

    for (c = text; *c != '\0'; c++) {
        *c = (char)apr_tolower(*c);
    }
    return text;
}

/* The canonical text (at_name_ip) of an iPAddress SAN, or NULL when it is not 4 or 16 bytes. */
static const char *cert_ip_text(apr_pool_t *p, const ASN1_OCTET_STRING *ip)
{
    char text[AT_NAME_IP_TEXT_MAX];
    int len = ASN1_STRING_length(ip);
    int family = len == CERT_IPV4_BYTES ? AF_INET : len == CERT_IPV6_BYTES ? AF_INET6 : AF_UNSPEC;

    if (family == AF_UNSPEC ||
        inet_ntop(family, ASN1_STRING_get0_data(ip), text, sizeof(text)) == NULL) {
        return NULL;
    }
    return apr_pstrdup(p, text);
}

/* The dNSName SANs of cert, lower-cased, and its iPAddress SANs as text, pushed onto names. */
static void cert_dns_names(apr_array_header_t *names, apr_pool_t *p, X509 *cert)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    int i;

    for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *gen = sk_GENERAL_NAME_value(gens, i);
        const char *name = NULL;

        if (gen->type == GEN_DNS) {
            name = cert_asn1_utf8(p, gen->d.dNSName);
            name = name != NULL ? cert_lower((char *)name) : NULL;
        } else if (gen->type == GEN_IPADD) {
            name = cert_ip_text(p, gen->d.iPAddress);
        }
        if (name != NULL) {
            APR_ARRAY_PUSH(names, const char *) = name;
        }
    }
    GENERAL_NAMES_free(gens);
    ERR_clear_error();
}

/* Upper-case hex of the serial number, no separators. */
static const char *cert_serial_hex(apr_pool_t *p, X509 *cert)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
    const char *copy = hex != NULL ? apr_pstrdup(p, hex) : NULL;

    OPENSSL_free(hex);
    BN_free(bn);
    return copy;
}

apr_status_t at_cert_info(at_cert_info_t **info, apr_pool_t *p, X509 *cert)
{
    at_cert_info_t *ci;
    const char *cn;
    at_key_type_e key_type;
    EVP_PKEY *pub;

    *info = NULL;
    if (cert == NULL) {
        return AT_EARG;
    }
    ci = apr_pcalloc(p, sizeof(*ci));
    ci->names = apr_array_make(p, 4, sizeof(const char *));
    cert_dns_names(ci->names, p, cert);
    cn = cert_name_cn(p, X509_get_subject_name(cert));
    if (ci->names->nelts == 0 && cn != NULL) {
        APR_ARRAY_PUSH(ci->names, const char *) = cert_lower(apr_pstrdup(p, cn));
    }
    ci->subject = cert_name_text(p, X509_get_subject_name(cert));
    ci->issuer = cert_name_text(p, X509_get_issuer_name(cert));
    ci->issuer_cn = cert_name_cn(p, X509_get_issuer_name(cert));
    if (ci->issuer_cn == NULL) {
        ci->issuer_cn = ci->issuer;
    }
    ci->serial = cert_serial_hex(p, cert);
    if (ci->serial == NULL ||
        at_asn1_time_to_apr(&ci->not_before, X509_get0_notBefore(cert)) != APR_SUCCESS ||
        at_asn1_time_to_apr(&ci->not_after, X509_get0_notAfter(cert)) != APR_SUCCESS) {
        ERR_clear_error();
        at_log(AT_LOG_ERR, AT_EINVALID,
               AT_LOGNO(1058) "cert: certificate %s has an unreadable serial or "
                              "validity",
               ci->subject);
        return AT_EINVALID;
    }
    pub = X509_get0_pubkey(cert);
    ci->key_type = "unknown";
    if (pub != NULL && at_key_type_of(&key_type, pub) == APR_SUCCESS) {
        ci->key_type = at_key_type_name(key_type);
    }
    ERR_clear_error();
    *info = ci;
    return APR_SUCCESS;
}

int at_cert_matches_key(X509 *cert, EVP_PKEY *key)
{
    EVP_PKEY *pub = cert != NULL ? X509_get0_pubkey(cert) : NULL;
    int matches = pub != NULL && key != NULL && EVP_PKEY_eq(pub, key) == 1;

    ERR_clear_error();
    return matches;
}

int at_cert_covers_name(X509 *cert, const char *name)
{
    /* SANs only, as browsers do; "*" only as a whole left-most label, matching one label. A
     * wildcard name ("*.example.org") is covered by the same wildcard SAN, compared as text. An
     * IP address only by an iPAddress SAN (RFC 8738 §3): a dNSName spelling it never counts. */
    unsigned int flags = X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT;
    int covered;

    if (cert == NULL || name == NULL || name[0] == '\0') {
        return 0;
    }
    if (at_name_ip(name, NULL)) {
        covered = X509_check_ip_asc(cert, name, 0) == 1;
    } else {
        covered = X509_check_host(cert, name, strlen(name), flags, NULL) == 1;
    }
    ERR_clear_error();
    return covered;
}

/* The latest notBefore and the earliest notAfter over the verified path in ctx. */
static void cert_path_window(X509_STORE_CTX *ctx, apr_time_t *not_before, apr_time_t *not_after)
{
    STACK_OF(X509) *path = X509_STORE_CTX_get0_chain(ctx);
    int i;

    if (not_before != NULL) {
        *not_before = 0;
    }
    if (not_after != NULL) {
        *not_after = APR_INT64_MAX;
    }
    for (i = 0; path != NULL && i < sk_X509_num(path); i++) {
        X509 *cert = sk_X509_value(path, i);
        apr_time_t nb, na;

        if (not_before != NULL &&
            at_asn1_time_to_apr(&nb, X509_get0_notBefore(cert)) == APR_SUCCESS &&
            nb > *not_before) {
            *not_before = nb;
        }
        if (not_after != NULL &&
            at_asn1_time_to_apr(&na, X509_get0_notAfter(cert)) == APR_SUCCESS && na < *not_after) {
            *not_after = na;
        }
    }
}

apr_status_t at_chain_verify(const char **why, apr_pool_t *p, const apr_array_header_t *chain,
                             const char *roots_file, apr_time_t at)
{
    return at_chain_verify_window(why, p, chain, roots_file, at, NULL, NULL);
}

apr_status_t at_chain_verify_window(const char **why, apr_pool_t *p,
                                    const apr_array_header_t *chain, const char *roots_file,
                                    apr_time_t at, apr_time_t *not_before, apr_time_t *not_after)
{
    char reason[AT_CRYPTO_REASON_LEN];
    STACK_OF(X509) *untrusted = NULL;
    X509_STORE_CTX *ctx = NULL;
    X509_STORE *store = NULL;
    apr_status_t rv = APR_SUCCESS;
    int i, loaded;

    *why = NULL;
    if (chain == NULL || chain->nelts == 0) {
        *why = "no certificate to verify";
        return AT_EINVALID;
    }
    store = X509_STORE_new();
    untrusted = sk_X509_new_null();
    ctx = X509_STORE_CTX_new();
    if (store == NULL || untrusted == NULL || ctx == NULL) {
        *why = apr_pstrdup(p, at_crypto_reason(reason, sizeof(reason)));
        rv = AT_ECRYPTO;
        goto leave;
    }
    loaded = roots_file != NULL ? X509_STORE_load_file(store, roots_file)
                                : X509_STORE_set_default_paths(store);
    if (!loaded) {
        *why = apr_psprintf(p, "cannot load the trusted roots from %s: %s",
                            roots_file != NULL ? roots_file : "the system store",
                            at_crypto_reason(reason, sizeof(reason)));
        rv = AT_EINVALID;
        goto leave;
    }
    for (i = 1; i < chain->nelts; i++) {
        if (!sk_X509_push(untrusted, APR_ARRAY_IDX(chain, i, X509 *))) {
            *why = apr_pstrdup(p, at_crypto_reason(reason, sizeof(reason)));
            rv = AT_ECRYPTO;
            goto leave;
        }
    }
    if (!X509_STORE_CTX_init(ctx, store, APR_ARRAY_IDX(chain, 0, X509 *), untrusted) ||
        !X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER)) {
        *why = apr_pstrdup(p, at_crypto_reason(reason, sizeof(reason)));
        rv = AT_ECRYPTO;
        goto leave;
    }
    X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), (time_t)apr_time_sec(at));
    if (X509_verify_cert(ctx) != 1) {
        *why = apr_pstrdup(p, X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
        rv = AT_EINVALID;
    } else {
        cert_path_window(ctx, not_before, not_after);
    }
    ERR_clear_error();
leave:
    X509_STORE_CTX_free(ctx);
    sk_X509_free(untrusted); /* the certificates belong to chain */
    X509_STORE_free(store);
    return rv;
}

/* Sets a fresh random positive serial of CERT_SERIAL_BYTES bytes. */
static int cert_set_random_serial(X509 *cert)
{
    unsigned char bytes[CERT_SERIAL_BYTES];
    BIGNUM *bn;
    int ok;

    if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
        return 0;
    }
    /* top bit clear keeps it positive in DER; the next bit set keeps its full width */
    bytes[0] = (unsigned char)((bytes[0] & 0x7f) | 0x40);
    bn = BN_bin2bn(bytes, sizeof(bytes), NULL);
    ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL;
    BN_free(bn);
    return ok;
}

/* notBefore = now, notAfter = now + valid. */
static int cert_set_validity(X509 *cert, apr_interval_time_t valid)
{
    time_t now = (time_t)apr_time_sec(apr_time_now());
    apr_int64_t secs = apr_time_sec(valid);

    return ASN1_TIME_set(X509_getm_notBefore(cert), now) != NULL &&
           ASN1_TIME_adj(X509_getm_notAfter(cert), now, (int)(secs / CERT_SECONDS_PER_DAY),
                         (long)(secs % CERT_SECONDS_PER_DAY)) != NULL;
}

/* Subject and issuer CN=first name (when a CN takes it), basicConstraints CA:FALSE, SANs; the
 * SANs critical when the subject stays empty (an IP address: RFC 5280 §4.2.1.6). */
static int cert_set_names(X509 *cert, const apr_array_header_t *names)
{
    const char *first = APR_ARRAY_IDX(names, 0, const char *);
    X509_NAME *subject = X509_get_subject_name(cert);
    BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
    GENERAL_NAMES *gens = at_crypto_san_names(names);
    int ok = bc != NULL && gens != NULL, cn = at_crypto_cn_takes(first);

    if (ok && cn) {
        ok = X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, (const unsigned char *)first,
                                        -1, -1, 0);
    }
    ok = ok && X509_set_issuer_name(cert, subject);
    if (ok) {
        bc->ca = 0;
        ok = X509_add1_ext_i2d(cert, NID_basic_constraints, bc, 1, X509V3_ADD_DEFAULT) == 1 &&
             X509_add1_ext_i2d(cert, NID_subject_alt_name, gens, !cn, X509V3_ADD_DEFAULT) == 1;
    }
    BASIC_CONSTRAINTS_free(bc);
    GENERAL_NAMES_free(gens);
    return ok;
}

/* RFC 8737 §3: the critical acmeIdentifier extension, an OCTET STRING of the digest inside the
 * extension's own OCTET STRING (an extension's value is DER, as for every extension). */
static int cert_add_acme_identifier(X509 *cert, const unsigned char *digest)
{
    unsigned char der[CERT_ACME_ID_DER_LEN];
    ASN1_OBJECT *oid = OBJ_txt2obj(CERT_ACME_ID_OID, 1);
    ASN1_OCTET_STRING *value = ASN1_OCTET_STRING_new();
    X509_EXTENSION *ext = NULL;
    int ok;

    der[0] = V_ASN1_OCTET_STRING;
    der[1] = AT_ACME_KEYAUTH_DIGEST_LEN;
    memcpy(der + CERT_DER_HEADER_LEN, digest, AT_ACME_KEYAUTH_DIGEST_LEN);
    ok = oid != NULL && value != NULL && ASN1_OCTET_STRING_set(value, der, sizeof(der)) &&
         (ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 1, value)) != NULL &&
         X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(value);
    ASN1_OBJECT_free(oid);
    return ok;
}

/* The one builder of self-signed certificates; digest: tls-alpn-01's, or NULL. */
static apr_status_t cert_self_signed(X509 **cert, apr_pool_t *p, EVP_PKEY *key,
                                     const apr_array_header_t *names, apr_interval_time_t valid,
                                     const unsigned char *digest)
{
    char reason[AT_CRYPTO_REASON_LEN];
    apr_status_t rv;
    X509 *made;

    *cert = NULL;
    rv = at_crypto_names_check(names, "cert");
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (key == NULL || apr_time_sec(valid) <= 0) {
        at_log(AT_LOG_ERR, AT_EARG,
               AT_LOGNO(1059) "cert: a self-signed certificate needs a key and a "
                              "validity of a second or more");
        return AT_EARG;
    }
    made = X509_new();
    if (made == NULL || !X509_set_version(made, X509_VERSION_3) || !cert_set_random_serial(made) ||
        !cert_set_validity(made, valid) || !cert_set_names(made, names) ||
        (digest != NULL && !cert_add_acme_identifier(made, digest)) ||
        !X509_set_pubkey(made, key) || X509_sign(made, key, EVP_sha256()) <= 0) {
        at_log(AT_LOG_ERR, AT_ECRYPTO,
               AT_LOGNO(1060) "cert: making a self-signed certificate for %s failed: %s",
               APR_ARRAY_IDX(names, 0, const char *), at_crypto_reason(reason, sizeof(reason)));
        X509_free(made);
        return AT_ECRYPTO;
    }
    cert_track(p, made);
    *cert = made;
    return APR_SUCCESS;
}

apr_status_t at_cert_self_signed(X509 **cert, apr_pool_t *p, EVP_PKEY *key,
                                 const apr_array_header_t *names, apr_interval_time_t valid)
{
    return cert_self_signed(cert, p, key, names, valid, NULL);
}

apr_status_t at_cert_tlsalpn(X509 **cert, apr_pool_t *p, EVP_PKEY *key, const char *name,
                             const unsigned char *digest, apr_interval_time_t valid)
{
    apr_array_header_t *names = apr_array_make(p, 1, sizeof(const char *));

    if (digest == NULL) {
        return AT_EARG;
    }
    APR_ARRAY_PUSH(names, const char *) = name;
    return cert_self_signed(cert, p, key, names, valid, digest);
}

int at_cert_is_tlsalpn(X509 *cert)
{
    ASN1_OBJECT *oid = OBJ_txt2obj(CERT_ACME_ID_OID, 1);
    int found = cert != NULL && oid != NULL && X509_get_ext_by_OBJ(cert, oid, -1) >= 0;

    ASN1_OBJECT_free(oid);
    return found;
}
