/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_copy.c: `autotls store copy --from A --to B`: opens both stores and runs the library's
 * copy loop (at_store_copy).
 *
 * The one idea: thin. Which items are secrets, how Redis seals them, what a set is: all the
 * library's (lib/store_copy.c, lib/store_redis.c); here only options become two open stores.
 */
#include <stdio.h>
#include <string.h>

#include <apr_getopt.h>
#include <apr_strings.h>

#include "at_core.h"
#include "at_store.h"
#include "at_store_copy.h"
#include "at_store_redis.h"
#include "store_copy.h"

#define STORE_EXIT_OK 0
#define STORE_EXIT_USAGE 2
#define STORE_EXIT_LOCAL 3
#define STORE_OPT_FROM 300
#define STORE_OPT_TO 301
#define STORE_OPT_KEY_FILE 302
#define STORE_OPT_PASSWORD_FILE 303
#define STORE_OPT_PREFIX 304

typedef struct {
    const char *from, *to, *key_file, *password_file, *prefix;
} store_args_t;

static int store_usage(const char *why)
{
    if (why != NULL) {
        fprintf(stderr, "autotls: %s\n", why);
    }
    fputs(AUTOTLS_CLI_STORE_USAGE, stderr);
    return STORE_EXIT_USAGE;
}

static apr_status_t store_open(at_store_t **store, const store_args_t *args, const char *where,
                               apr_pool_t *p)
{
    at_store_redis_conf_t conf = {0};
    apr_status_t rv;

    if (!at_store_redis_url_is_redis(where)) {
        if ((rv = at_store_fs_open(store, p, where)) == APR_SUCCESS) {
            at_store_fs_trust_group_owner(*store, AT_STORE_ACCOUNTS, p);
        }
        return rv;
    }
    conf.url = where;
    conf.key_file = args->key_file;
    conf.password_file = args->password_file;
    conf.prefix = args->prefix;
    if ((rv = at_store_redis_open(store, p, &conf)) == APR_SUCCESS) {
        rv = at_store_redis_ping(*store);
    }
    return rv;
}

static int store_parse(store_args_t *args, int argc, const char *const *argv, apr_pool_t *p)
{
    static const apr_getopt_option_t options[] = {
        {"from", STORE_OPT_FROM, 1, "the store to copy"},
        {"to", STORE_OPT_TO, 1, "the store to copy into"},
        {"key-file", STORE_OPT_KEY_FILE, 1, "AutoTLSStoreKeyFile of a Redis side"},
        {"password-file", STORE_OPT_PASSWORD_FILE, 1, "AutoTLSStorePasswordFile of a Redis side"},
        {"prefix", STORE_OPT_PREFIX, 1, "AutoTLSStorePrefix of a Redis side"},
        {"help", 'h', 0, "this text"},
        {NULL, 0, 0, NULL},
    };
    apr_getopt_t *opt;
    const char *arg;
    apr_status_t rv;
    int code;

    memset(args, 0, sizeof(*args));
    apr_getopt_init(&opt, p, argc, argv);
    opt->errfn = NULL;
    opt->ind = 2; /* past "store copy" */
    while ((rv = apr_getopt_long(opt, options, &code, &arg)) == APR_SUCCESS) {
        switch (code) {
        case STORE_OPT_FROM:
            args->from = arg;
            break;
        case STORE_OPT_TO:
            args->to = arg;
            break;
        case STORE_OPT_KEY_FILE:
            args->key_file = arg;
            break;
        case STORE_OPT_PASSWORD_FILE:
            args->password_file = arg;
            break;
        case STORE_OPT_PREFIX:
            args->prefix = arg;
            break;
        default:
            fputs(AUTOTLS_CLI_STORE_USAGE, stdout);
            return -1;
        }
    }
    if (rv != APR_EOF || opt->ind != argc) {
        return store_usage("unknown option or extra argument");
    }
    if (args->from == NULL || args->to == NULL) {
        return store_usage("both --from and --to are needed");
    }
    if (strcmp(args->from, args->to) == 0) {
        return store_usage("--from and --to name the same store");
    }
    return STORE_EXIT_OK;
}

int autotls_cli_store(int argc, const char *const *argv, apr_pool_t *p)
{
    at_store_copy_result_t result;
    at_store_t *from, *to;
    store_args_t args;
    apr_status_t rv;
    int code;

    if (argc < 2 || strcmp(argv[1], "copy") != 0) {
        return store_usage(argc < 2 ? NULL : "the only store command is copy");
    }
    if ((code = store_parse(&args, argc, argv, p)) != STORE_EXIT_OK) {
        return code < 0 ? STORE_EXIT_OK : code;
    }
    if (store_open(&from, &args, args.from, p) != APR_SUCCESS ||
        store_open(&to, &args, args.to, p) != APR_SUCCESS) {
        return STORE_EXIT_LOCAL;
    }
    rv = at_store_copy(&result, from, to, p);
    printf("copied %d items (%d secret) and %d staging sets from %s to %s%s\n", result.items,
           result.secrets, result.sets, args.from, args.to,
           result.kept ? apr_psprintf(p, "; %d staging sets were there already", result.kept) : "");
    return rv == APR_SUCCESS ? STORE_EXIT_OK : STORE_EXIT_LOCAL;
}
