/*
 * fuzz_challenge.c: the http-01 responder's decision on a request, and the store read it makes.
 *
 * Input: "METHOD TARGET" newline "Host" (no second line: no Host). The target goes through
 * apr_uri_parse() as httpd's ap_parse_uri() does (an absolute target's host wins over Host);
 * then autotls_challenge_token() decides as challenge.c does for every request, with the managed
 * names example.com and www.example.com looked up as site.c does. A token that is answered must
 * be the plain remainder of the path, base64url, a valid store item name, resolve to a file
 * directly inside the store's challenges/ directory, and read back only what was planted there:
 * a secret planted next to the store is never reached.
 */
#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_network_io.h>
#include <apr_uri.h>

#include "at_b64url.h"
#include "challenge_match.h"
#include "fuzz_store_tmp.h"

#define FUZZ_PLANTED_TOKEN "fuzzPlantedToken_0123456789-abcdefghijklmn"
#define FUZZ_PLANTED_KEYAUTH FUZZ_PLANTED_TOKEN ".thumbprint"
#define FUZZ_SECRET "secret.pem"
#define FUZZ_SECRET_TEXT "-----BEGIN PRIVATE KEY-----\nnot for anyone\n"
#define FUZZ_TEXT_MAX 4096

static apr_hash_t *fuzz_managed;

/* As site.c's autotls_site_for_host(): a bounded lower-case copy looked up in a hash. */
static int fuzz_host_managed(const void *baton, const char *host)
{
    char name[APRMAXHOSTLEN + 1];
    char *c;

    (void)baton;
    apr_cpystrn(name, host, sizeof(name));
    for (c = name; *c != '\0'; c++) {
        *c = (char)apr_tolower(*c);
    }
    return apr_hash_get(fuzz_managed, name, APR_HASH_KEY_STRING) != NULL;
}

static at_store_t *fuzz_setup(const char **root)
{
    at_store_t *store = fuzz_store(root);
    FILE *secret;

    if (fuzz_managed == NULL) {
        fuzz_managed = apr_hash_make(fuzz_root_pool);
        apr_hash_set(fuzz_managed, "example.com", APR_HASH_KEY_STRING, "");
        apr_hash_set(fuzz_managed, "www.example.com", APR_HASH_KEY_STRING, "");
        if (at_store_save(store, AT_STORE_CHALLENGES, NULL, FUZZ_PLANTED_TOKEN,
                          FUZZ_PLANTED_KEYAUTH, strlen(FUZZ_PLANTED_KEYAUTH), AT_STORE_PUBLIC,
                          fuzz_root_pool) != APR_SUCCESS ||
            (secret = fopen(apr_pstrcat(fuzz_root_pool, *root, "/" FUZZ_SECRET, NULL), "w")) ==
                NULL) {
            abort();
        }
        fputs(FUZZ_SECRET_TEXT, secret);
        fclose(secret);
    }
    return store;
}

/* "host:port" -> "host", as httpd strips the port before naming the vhost. */
static const char *fuzz_host_of(apr_pool_t *p, const char *header)
{
    const char *colon = strrchr(header, ':');

    if (colon == NULL || strchr(colon, ']') != NULL) {
        return header;
    }
    return apr_pstrmemdup(p, header, (apr_size_t)(colon - header));
}

static void fuzz_check_answer(apr_pool_t *p, at_store_t *store, const char *root, const char *path,
                              const char *token)
{
    size_t prefix = sizeof(AUTOTLS_CHALLENGE_PREFIX) - 1;
    const char *file;
    char *keyauth;
    apr_size_t len;
    apr_status_t rv;

    FUZZ_REQUIRE(strncmp(path, AUTOTLS_CHALLENGE_PREFIX, prefix) == 0 && token == path + prefix);
    FUZZ_REQUIRE(at_b64url_is_token(token, AUTOTLS_CHALLENGE_TOKEN_MAX));
    FUZZ_REQUIRE(at_store_component_valid(token));
    FUZZ_REQUIRE(at_store_path(store, AT_STORE_CHALLENGES, NULL, token, &file, p) == APR_SUCCESS);
    FUZZ_REQUIRE(strcmp(file, apr_pstrcat(p, root, "/challenges/", token, NULL)) == 0);
    rv = at_store_load(store, AT_STORE_CHALLENGES, NULL, token, &keyauth, &len, AT_STORE_PUBLIC, p);
    if (strcmp(token, FUZZ_PLANTED_TOKEN) == 0) {
        FUZZ_REQUIRE(rv == APR_SUCCESS && len == strlen(FUZZ_PLANTED_KEYAUTH) &&
                     memcmp(keyauth, FUZZ_PLANTED_KEYAUTH, len) == 0);
    } else {
        FUZZ_REQUIRE(APR_STATUS_IS_ENOENT(rv));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    const char *root, *host = NULL, *token;
    char *text, *target, *newline;
    at_store_t *store;
    apr_uri_t uri;
    int is_get;

    if (size > FUZZ_TEXT_MAX) {
        return 0;
    }
    store = fuzz_setup(&root);
    p = fuzz_pool();
    text = fuzz_cstr(p, data, size);
    if ((newline = strchr(text, '\n')) != NULL) {
        *newline = '\0';
        host = fuzz_host_of(p, newline + 1);
    }
    target = strchr(text, ' ');
    if (target == NULL) {
        apr_pool_destroy(p);
        return 0;
    }
    *target++ = '\0';
    is_get = strcmp(text, "GET") == 0 || strcmp(text, "HEAD") == 0;
    if (apr_uri_parse(p, target, &uri) == APR_SUCCESS) {
        if (uri.hostname != NULL) {
            host = uri.hostname;
        }
        token = autotls_challenge_token(is_get, uri.path, host, fuzz_host_managed, NULL);
        if (token != NULL) {
            FUZZ_REQUIRE(is_get && host != NULL && fuzz_host_managed(NULL, host));
            fuzz_check_answer(p, store, root, uri.path, token);
        }
    }
    apr_pool_destroy(p);
    return 0;
}
