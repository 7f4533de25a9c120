/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_verdict.c: the verdict cache (at_verdict.h) and the DER inside PEM text (at_pem.h).
 *
 * The one idea: a remembered verdict must never stand for bytes it was not given for. Every way
 * a file can change (content of the same size with its mtime put back, `touch -r`; another inode
 * renamed into place; size; a chmod), and every other input (names, roots file), must make the
 * lookup miss, and so must the certificate's own expiry; the same files and inputs must hit.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>
#include <check.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "unit_main.h"
#include "at_core.h"
#include "at_crypto.h"
#include "at_pem.h"
#include "at_verdict.h"
#include "tiny_ca.h"

#define SITE "example.org"
#define DAY apr_time_from_sec(86400)
/* Long enough for the kernel's file timestamps to move on (they advance by clock ticks). */
#define TICK_USEC 30000
/* Stored "later" than the files' last change, so that no file counts as just changed. */
#define AFTER_RACY (AT_VERDICT_RACY + apr_time_from_sec(1))

static apr_pool_t *pool;
static char dir[] = "/tmp/test_verdict.XXXXXX";
static const char *key_path, *chain_path, *roots_path;

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
}

/* The caches a test made: their entries are malloc'd, emptied at teardown (the cache has no
 * pool cleanup of its own, on purpose: at_verdict.h). */
#define MAX_CACHES 16
static at_verdict_cache_t *caches[MAX_CACHES];
static int cache_count;

static at_verdict_cache_t *new_cache(void)
{
    at_verdict_cache_t *cache;

    ck_assert_int_lt(cache_count, MAX_CACHES);
    ck_assert_int_eq(at_verdict_cache_create(&cache, pool), APR_SUCCESS);
    caches[cache_count++] = cache;
    return cache;
}

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
    strcpy(dir, "/tmp/test_verdict.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    key_path = apr_pstrcat(pool, dir, "/privkey.pem", NULL);
    chain_path = apr_pstrcat(pool, dir, "/fullchain.pem", NULL);
    roots_path = apr_pstrcat(pool, dir, "/roots.pem", NULL);
    write_file(key_path, "key AAAA\n");
    write_file(chain_path, "chain BBBB\n");
    write_file(roots_path, "roots CCCC\n");
}

static void teardown(void)
{
    while (cache_count > 0) { /* a pass that touches nothing drops every entry */
        at_verdict_cache_t *cache = caches[--cache_count];

        at_verdict_cache_begin(cache);
        at_verdict_cache_end(cache);
    }
    unlink(key_path);
    unlink(chain_path);
    unlink(roots_path);
    unlink(apr_pstrcat(pool, dir, "/other", NULL));
    unlink(apr_pstrcat(pool, dir, "/verdicts.json", NULL));
    unlink(apr_pstrcat(pool, dir, "/verdicts.json.tmp", NULL));
    unlink(apr_pstrcat(pool, dir, "/verdicts.link", NULL));
    rmdir(dir);
    apr_pool_destroy(pool);
}

static at_certset_check_t check_for(const char *first_name, const char *roots)
{
    at_certset_check_t check;

    memset(&check, 0, sizeof(check));
    check.names = at_unit_names(pool, first_name, "www.example.org", NULL);
    check.roots_file = roots;
    return check;
}

/* The subject as the module takes it: the files as they are now. */
static at_verdict_subject_t subject_now(const char *first_name)
{
    at_certset_check_t check = check_for(first_name, roots_path);
    at_verdict_subject_t subject;

    subject.policy = at_verdict_policy(pool, &check);
    ck_assert_int_eq(at_file_id_of(&subject.key, key_path), APR_SUCCESS);
    ck_assert_int_eq(at_file_id_of(&subject.chain, chain_path), APR_SUCCESS);
    ck_assert_int_eq(at_file_id_of(&subject.roots, roots_path), APR_SUCCESS);
    return subject;
}

static at_verdict_t verdict_valid_for(apr_time_t from, apr_time_t to)
{
    at_verdict_t verdict;

    memset(&verdict, 0, sizeof(verdict));
    verdict.not_before = from;
    verdict.not_after = to;
    strcpy(verdict.serial, "0A1B");
    return verdict;
}

/* A cache holding a verdict on the files as they are now, valid from a day ago for 90 days. */
static at_verdict_cache_t *cache_with_verdict(void)
{
    at_verdict_cache_t *cache;
    at_verdict_subject_t subject = subject_now(SITE);
    at_verdict_t verdict = verdict_valid_for(apr_time_now() - DAY, apr_time_now() + 90 * DAY);

    cache = new_cache();
    at_verdict_cache_begin(cache);
    ck_assert_int_eq(at_verdict_store(cache, SITE, &subject, &verdict, apr_time_now() + AFTER_RACY),
                     APR_SUCCESS);
    return cache;
}

static const at_verdict_t *lookup_now(at_verdict_cache_t *cache, const char *first_name)
{
    at_verdict_subject_t subject = subject_now(first_name);

    return at_verdict_lookup(cache, SITE, &subject, apr_time_now());
}

/* The same content, same size, with the modification time put back: only ctime tells. */
static void rewrite_keeping_mtime(const char *path, const char *text)
{
    struct stat st;
    struct timespec times[2];

    ck_assert_int_eq(stat(path, &st), 0);
    usleep(TICK_USEC);
    write_file(path, text);
    times[0] = st.st_atim;
    times[1] = st.st_mtim;
    ck_assert_int_eq(utimensat(AT_FDCWD, path, times, 0), 0);
}

/* --- the cache -------------------------------------------------------------------------------- */

START_TEST(test_same_files_names_and_roots_hit)
{
    at_verdict_cache_t *cache = cache_with_verdict();
    const at_verdict_t *found = lookup_now(cache, SITE);
    at_verdict_stats_t stats;

    ck_assert_ptr_nonnull(found);
    ck_assert_str_eq(found->serial, "0A1B");
    ck_assert_ptr_nonnull(lookup_now(cache, SITE)); /* and again */
    at_verdict_cache_stats(cache, &stats);
    ck_assert_int_eq(stats.lookups, 2);
    ck_assert_int_eq(stats.hits, 2);
    ck_assert_int_eq(stats.entries, 1);
    at_verdict_forget(cache, SITE); /* entries are malloc'd: the cache outlives pools */
}
END_TEST

START_TEST(test_same_size_rewrite_with_mtime_put_back_misses)
{
    at_verdict_cache_t *cache = cache_with_verdict();
    struct stat before, after;

    stat(chain_path, &before);
    rewrite_keeping_mtime(chain_path, "chain XXXX\n"); /* what `touch -r` after a copy leaves */
    stat(chain_path, &after);
    ck_assert_int_eq(before.st_size, after.st_size);
    ck_assert_int_eq(before.st_ino, after.st_ino);
    ck_assert_int_eq(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
    ck_assert_ptr_null(lookup_now(cache, SITE));
}
END_TEST

START_TEST(test_other_inode_renamed_into_place_misses)
{
    at_verdict_cache_t *cache = cache_with_verdict();
    const char *other = apr_pstrcat(pool, dir, "/other", NULL);
    struct stat st;
    struct timespec times[2];

    /* the same bytes and the same mtime, but another file */
    ck_assert_int_eq(stat(key_path, &st), 0);
    write_file(other, "key AAAA\n");
    times[0] = st.st_atim;
    times[1] = st.st_mtim;
    ck_assert_int_eq(utimensat(AT_FDCWD, other, times, 0), 0);
    ck_assert_int_eq(rename(other, key_path), 0);
    ck_assert_ptr_null(lookup_now(cache, SITE));
}
END_TEST

START_TEST(test_size_change_misses)
{
    at_verdict_cache_t *cache = cache_with_verdict();

    usleep(TICK_USEC);
    write_file(key_path, "key AAAAA\n");
    ck_assert_ptr_null(lookup_now(cache, SITE));
}
END_TEST

START_TEST(test_mtime_change_misses)
{
    at_verdict_cache_t *cache = cache_with_verdict();
    struct timespec times[2] = {{0, UTIME_OMIT}, {1000000000, 0}};

    ck_assert_int_eq(utimensat(AT_FDCWD, chain_path, times, 0), 0);
    ck_assert_ptr_null(lookup_now(cache, SITE));
}
END_TEST

START_TEST(test_mode_change_misses)
{
    at_verdict_cache_t *cache = cache_with_verdict();

    ck_assert_int_eq(chmod(key_path, 0644), 0);
    ck_assert_ptr_null(lookup_now(cache, SITE));
}
END_TEST

START_TEST(test_other_names_miss)
{
    at_verdict_cache_t *cache = cache_with_verdict();

    ck_assert_ptr_null(lookup_now(cache, "example.net"));
}
END_TEST

START_TEST(test_changed_or_other_roots_miss)
{
    at_verdict_cache_t *cache = cache_with_verdict();
    at_verdict_subject_t subject;
    at_certset_check_t check = check_for(SITE, NULL);

    rewrite_keeping_mtime(roots_path, "roots DDDD\n");
    ck_assert_ptr_null(lookup_now(cache, SITE));

    /* no roots file any more: another policy and another roots identity */
    cache = cache_with_verdict();
    subject = subject_now(SITE);
    subject.policy = at_verdict_policy(pool, &check);
    memset(&subject.roots, 0, sizeof(subject.roots));
    ck_assert_ptr_null(at_verdict_lookup(cache, SITE, &subject, apr_time_now()));
}
END_TEST

START_TEST(test_expired_verdict_is_not_used)
{
    at_verdict_cache_t *cache = cache_with_verdict();
    at_verdict_subject_t subject = subject_now(SITE);

    /* the same files, but the certificate's notAfter has passed */
    ck_assert_ptr_null(at_verdict_lookup(cache, SITE, &subject, apr_time_now() + 91 * DAY));
    /* and the entry is gone: it does not come back at an earlier time either */
    ck_assert_ptr_null(at_verdict_lookup(cache, SITE, &subject, apr_time_now()));
}
END_TEST

START_TEST(test_not_yet_valid_verdict_is_not_used)
{
    at_verdict_cache_t *cache;
    at_verdict_subject_t subject = subject_now(SITE);
    at_verdict_t verdict = verdict_valid_for(apr_time_now() + DAY, apr_time_now() + 90 * DAY);

    cache = new_cache();
    at_verdict_cache_begin(cache);
    ck_assert_int_eq(at_verdict_store(cache, SITE, &subject, &verdict, apr_time_now() + AFTER_RACY),
                     APR_SUCCESS);
    ck_assert_ptr_null(at_verdict_lookup(cache, SITE, &subject, apr_time_now()));
}
END_TEST

START_TEST(test_just_changed_files_are_not_remembered)
{
    at_verdict_cache_t *cache;
    at_verdict_subject_t subject = subject_now(SITE);
    at_verdict_t verdict = verdict_valid_for(apr_time_now() - DAY, apr_time_now() + 90 * DAY);

    cache = new_cache();
    at_verdict_cache_begin(cache);
    ck_assert_int_eq(at_verdict_store(cache, SITE, &subject, &verdict, apr_time_now()), APR_EAGAIN);
    ck_assert_ptr_null(at_verdict_lookup(cache, SITE, &subject, apr_time_now()));
}
END_TEST

START_TEST(test_a_pass_drops_sites_it_did_not_touch)
{
    at_verdict_cache_t *cache = cache_with_verdict();
    at_verdict_subject_t subject = subject_now(SITE);
    at_verdict_t verdict = verdict_valid_for(apr_time_now() - DAY, apr_time_now() + 90 * DAY);
    at_verdict_stats_t stats;

    ck_assert_int_eq(
        at_verdict_store(cache, "gone.example", &subject, &verdict, apr_time_now() + AFTER_RACY),
        APR_SUCCESS);
    at_verdict_cache_end(cache);
    at_verdict_cache_begin(cache); /* the next pass configures SITE only */
    ck_assert_ptr_nonnull(lookup_now(cache, SITE));
    at_verdict_cache_end(cache);
    at_verdict_cache_stats(cache, &stats);
    ck_assert_int_eq(stats.entries, 1);
    ck_assert_int_eq(stats.dropped, 1);
    ck_assert_ptr_null(at_verdict_lookup(cache, "gone.example", &subject, apr_time_now()));
    at_verdict_forget(cache, SITE);
}
END_TEST

START_TEST(test_verdict_of_leaf_reads_serial_and_validity)
{
    tiny_ca_t ca;
    at_verdict_t verdict;
    at_cert_info_t *info;

    tiny_ca_make(&ca, pool, "verdict root");
    ck_assert_int_eq(at_verdict_of_leaf(&verdict, pool, ca.leaf, 1), APR_SUCCESS);
    ck_assert_int_eq(at_cert_info(&info, pool, ca.leaf), APR_SUCCESS);
    ck_assert_str_eq(verdict.serial, info->serial);
    ck_assert_int_eq(verdict.not_before, info->not_before);
    ck_assert_int_eq(verdict.not_after, info->not_after);
    ck_assert_int_eq(verdict.partial, 1);
}
END_TEST

/* --- DER inside PEM ----------------------------------------------------------------------------
 */

static const char *key_pem(EVP_PKEY *key)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    const char *pem;
    long len;

    ck_assert_int_eq(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL), 1);
    len = BIO_get_mem_data(bio, &data);
    pem = apr_pstrmemdup(pool, data, (apr_size_t)len);
    BIO_free(bio);
    return pem;
}

START_TEST(test_der_of_a_chain_is_each_certificate)
{
    tiny_ca_t ca;
    apr_array_header_t *blocks;
    const char *pem;
    unsigned char *der = NULL;
    int len;

    tiny_ca_make(&ca, pool, "der root");
    pem = apr_pstrcat(pool, "leading text\n", tiny_ca_pem(pool, ca.leaf),
                      tiny_ca_pem(pool, ca.inter), NULL);
    ck_assert_int_eq(at_pem_der_blocks(&blocks, pool, pem, strlen(pem), AT_PEM_LABEL_CERT),
                     APR_SUCCESS);
    ck_assert_int_eq(blocks->nelts, 2);
    len = i2d_X509(ca.inter, &der);
    ck_assert_int_eq((int)APR_ARRAY_IDX(blocks, 1, at_der_t).len, len);
    ck_assert_int_eq(memcmp(APR_ARRAY_IDX(blocks, 1, at_der_t).der, der, (size_t)len), 0);
    OPENSSL_free(der);
}
END_TEST

START_TEST(test_der_of_a_pkcs8_key_parses_back_to_the_key)
{
    tiny_ca_t ca;
    apr_array_header_t *blocks;
    const char *pem;
    const unsigned char *at;
    PKCS8_PRIV_KEY_INFO *p8;
    EVP_PKEY *back;

    tiny_ca_make(&ca, pool, "key root");
    pem = key_pem(ca.leaf_key);
    ck_assert_int_eq(at_pem_der_blocks(&blocks, pool, pem, strlen(pem), AT_PEM_LABEL_PKCS8),
                     APR_SUCCESS);
    ck_assert_int_eq(blocks->nelts, 1);
    at = APR_ARRAY_IDX(blocks, 0, at_der_t).der;
    p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &at, (long)APR_ARRAY_IDX(blocks, 0, at_der_t).len);
    ck_assert_ptr_nonnull(p8);
    back = EVP_PKCS82PKEY(p8);
    ck_assert_ptr_nonnull(back);
    ck_assert_int_eq(EVP_PKEY_eq(back, ca.leaf_key), 1);
    EVP_PKEY_free(back);
    PKCS8_PRIV_KEY_INFO_free(p8);
}
END_TEST

START_TEST(test_der_refuses_other_labels_encryption_and_nothing)
{
    tiny_ca_t ca;
    apr_array_header_t *blocks;
    const char *cert = NULL, *mixed, *encrypted;

    tiny_ca_make(&ca, pool, "refuse root");
    cert = tiny_ca_pem(pool, ca.leaf);
    ck_assert_int_eq(at_pem_der_blocks(&blocks, pool, cert, strlen(cert), AT_PEM_LABEL_PKCS8),
                     AT_EINVALID);
    mixed = apr_pstrcat(pool, cert, key_pem(ca.leaf_key), NULL);
    ck_assert_int_eq(at_pem_der_blocks(&blocks, pool, mixed, strlen(mixed), AT_PEM_LABEL_CERT),
                     AT_EINVALID);
    encrypted = "-----BEGIN PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n"
                "DEK-Info: AES-128-CBC,00000000000000000000000000000000\n\nAAAA\n"
                "-----END PRIVATE KEY-----\n";
    ck_assert_int_eq(
        at_pem_der_blocks(&blocks, pool, encrypted, strlen(encrypted), AT_PEM_LABEL_PKCS8),
        AT_EINVALID);
    ck_assert_int_eq(at_pem_der_blocks(&blocks, pool, "no pem here\n", 12, AT_PEM_LABEL_CERT),
                     AT_EINVALID);
}
END_TEST

/* --- the cache on disk (verdict_file.c) ----------------------------------------------------- */

static const char *file_path(void)
{
    return apr_pstrcat(pool, dir, "/verdicts.json", NULL);
}

/* A fresh cache read from path as a new parent would, a moment after the files were written. */
static at_verdict_cache_t *cache_read(const char *path, apr_status_t expect, int expect_added)
{
    at_verdict_cache_t *cache;
    const char *why = NULL;
    int added = -1;

    cache = new_cache();
    ck_assert_int_eq(
        at_verdict_cache_read(cache, path, apr_time_now() + AFTER_RACY, &added, &why, pool),
        expect);
    ck_assert_int_eq(added, expect_added);
    if (expect != APR_SUCCESS && expect != APR_ENOENT) {
        ck_assert_ptr_nonnull(why);
    }
    at_verdict_cache_begin(cache);
    return cache;
}

START_TEST(test_file_round_trip_gives_the_next_parent_the_same_verdict)
{
    struct stat st;
    const at_verdict_t *found;

    ck_assert_int_eq(at_verdict_cache_write(cache_with_verdict(), file_path(), pool), APR_SUCCESS);
    ck_assert_int_eq(stat(file_path(), &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0600);
    ck_assert_int_eq(access(apr_pstrcat(pool, file_path(), ".tmp", NULL), F_OK), -1);
    found = lookup_now(cache_read(file_path(), APR_SUCCESS, 1), SITE);
    ck_assert_ptr_nonnull(found);
    ck_assert_str_eq(found->serial, "0A1B");
    /* What it carries stands only for the files as they were: a key rewritten since misses. */
    rewrite_keeping_mtime(key_path, "key ZZZZ\n");
    ck_assert_ptr_null(lookup_now(cache_read(file_path(), APR_SUCCESS, 1), SITE));
}
END_TEST

START_TEST(test_file_not_there_adds_nothing)
{
    ck_assert_ptr_null(lookup_now(cache_read(file_path(), APR_ENOENT, 0), SITE));
}
END_TEST

START_TEST(test_file_open_to_others_linked_or_owned_by_another_is_not_believed)
{
    const char *link_path = apr_pstrcat(pool, dir, "/verdicts.link", NULL);
    const char *other = apr_pstrcat(pool, dir, "/other", NULL);

    ck_assert_int_eq(at_verdict_cache_write(cache_with_verdict(), file_path(), pool), APR_SUCCESS);
    ck_assert_int_eq(chmod(file_path(), 0640), 0);
    ck_assert_ptr_null(lookup_now(cache_read(file_path(), AT_EMODE, 0), SITE));
    ck_assert_int_eq(chmod(file_path(), 0600), 0);
    ck_assert_int_eq(symlink(file_path(), link_path), 0);
    ck_assert_ptr_null(lookup_now(cache_read(link_path, AT_EMODE, 0), SITE));
    ck_assert_int_eq(link(file_path(), other), 0);
    ck_assert_ptr_null(lookup_now(cache_read(file_path(), AT_EMODE, 0), SITE));
    ck_assert_int_eq(unlink(other), 0);
    if (geteuid() == 0) {
        ck_assert_int_eq(chown(file_path(), 65534, 65534), 0);
        ck_assert_ptr_null(lookup_now(cache_read(file_path(), AT_EMODE, 0), SITE));
        ck_assert_int_eq(chown(file_path(), 0, 0), 0);
    }
    ck_assert_ptr_nonnull(lookup_now(cache_read(file_path(), APR_SUCCESS, 1), SITE));
}
END_TEST

static char *read_file_text(const char *path)
{
    char buf[65536];
    FILE *f = fopen(path, "r");
    size_t n;

    ck_assert_ptr_nonnull(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    ck_assert_int_eq(fclose(f), 0);
    return apr_pstrmemdup(pool, buf, n);
}

/* Writes text as the verdict file, owned and moded as the parent writes it. */
static void write_verdict_file(const char *text)
{
    write_file(file_path(), text);
    ck_assert_int_eq(chmod(file_path(), 0600), 0);
}

START_TEST(test_file_malformed_anywhere_is_refused_whole)
{
    char *good, *torn, *cut;

    ck_assert_int_eq(at_verdict_cache_write(cache_with_verdict(), file_path(), pool), APR_SUCCESS);
    good = read_file_text(file_path());
    /* torn by a crash in the middle of a write */
    torn = apr_pstrndup(pool, good, strlen(good) / 2);
    write_verdict_file(torn);
    ck_assert_ptr_null(lookup_now(cache_read(file_path(), AT_EPROTO, 0), SITE));
    write_verdict_file("{\"version\":2,\"sets\":[]}");
    cache_read(file_path(), AT_EPROTO, 0);
    write_verdict_file("[]");
    cache_read(file_path(), AT_EPROTO, 0);
    /* one good entry and one whose serial is no hex: nothing is taken */
    cut = strstr(good, "\"sets\":[");
    ck_assert_ptr_nonnull(cut);
    cut += strlen("\"sets\":[");
    write_verdict_file(apr_pstrcat(
        pool, apr_pstrndup(pool, good, (apr_size_t)(cut - good)),
        "{\"site\":\"b.example.org\",\"policy\":\"p\",\"key\":null,\"chain\":null,"
        "\"roots\":null,\"not_before\":0,\"not_after\":1,\"serial\":\"zz\",\"partial\":false},",
        cut, NULL));
    ck_assert_ptr_null(lookup_now(cache_read(file_path(), AT_EPROTO, 0), SITE));
    /* the same good entry with a site holding a control character */
    write_verdict_file(apr_pstrcat(pool, apr_pstrndup(pool, good, (apr_size_t)(cut - good)),
                                   "{\"site\":\"a\\u0001b\"},", cut, NULL));
    cache_read(file_path(), AT_EPROTO, 0);
}
END_TEST

START_TEST(test_file_expired_verdicts_are_not_taken)
{
    at_verdict_cache_t *cache;
    at_verdict_subject_t subject = subject_now(SITE);
    at_verdict_t verdict = verdict_valid_for(apr_time_now() - 90 * DAY, apr_time_now() - DAY);

    cache = new_cache();
    at_verdict_cache_begin(cache);
    ck_assert_int_eq(at_verdict_store(cache, SITE, &subject, &verdict, apr_time_now() + AFTER_RACY),
                     APR_SUCCESS);
    ck_assert_int_eq(at_verdict_cache_write(cache, file_path(), pool), APR_SUCCESS);
    cache_read(file_path(), APR_SUCCESS, 0);
}
END_TEST

/* A root, an intermediate and a leaf, each with its own notAfter (days from now). */
static void short_lived_path(apr_array_header_t **chain, const char **roots_file, long root_days,
                             long inter_days, long leaf_days)
{
    tiny_cert_spec_t spec;
    EVP_PKEY *root_key = tiny_ca_key(pool), *inter_key = tiny_ca_key(pool);
    X509 *root, *inter, *leaf;

    memset(&spec, 0, sizeof(spec));
    spec.key = root_key;
    spec.cn = "short root";
    spec.from_secs = -86400;
    spec.to_secs = root_days * 86400;
    root = tiny_ca_cert(pool, &spec);
    spec.key = inter_key;
    spec.cn = "short intermediate";
    spec.issuer = root;
    spec.issuer_key = root_key;
    spec.to_secs = inter_days * 86400;
    inter = tiny_ca_cert(pool, &spec);
    spec.key = tiny_ca_key(pool);
    spec.cn = SITE;
    spec.san = "DNS:" SITE;
    spec.eku = "serverAuth";
    spec.issuer = inter;
    spec.issuer_key = inter_key;
    spec.to_secs = leaf_days * 86400;
    leaf = tiny_ca_cert(pool, &spec);
    *chain = apr_array_make(pool, 2, sizeof(X509 *));
    APR_ARRAY_PUSH(*chain, X509 *) = leaf;
    APR_ARRAY_PUSH(*chain, X509 *) = inter;
    *roots_file = tiny_ca_temp_file(pool, tiny_ca_pem(pool, root));
}

START_TEST(test_verdict_of_chain_ends_with_the_first_certificate_of_the_path_to_expire)
{
    apr_array_header_t *chain;
    const char *roots_file, *why;
    apr_time_t path_nb = 0, path_na = 0, inter_na, root_na;
    at_verdict_t verdict;

    short_lived_path(&chain, &roots_file, 5, 10, 60);
    ck_assert_int_eq(
        at_asn1_time_to_apr(&inter_na, X509_get0_notAfter(APR_ARRAY_IDX(chain, 1, X509 *))),
        APR_SUCCESS);
    /* the chain file alone: the intermediate ends it, not the leaf */
    ck_assert_int_eq(at_verdict_of_chain(&verdict, pool, chain, 0, 0, 0), APR_SUCCESS);
    ck_assert_int_eq(verdict.not_after, inter_na);
    /* verified to the roots: the trust anchor, sooner still */
    ck_assert_int_eq(
        at_chain_verify_window(&why, pool, chain, roots_file, apr_time_now(), &path_nb, &path_na),
        APR_SUCCESS);
    root_na = path_na;
    ck_assert_int_lt(root_na, inter_na);
    ck_assert_int_eq(at_verdict_of_chain(&verdict, pool, chain, 0, path_nb, path_na), APR_SUCCESS);
    ck_assert_int_eq(verdict.not_after, root_na);
    ck_assert_int_gt(verdict.not_after, apr_time_now() + 4 * DAY);
}
END_TEST

START_TEST(test_a_verdict_without_serial_or_validity_is_not_remembered)
{
    at_verdict_cache_t *cache;
    at_verdict_subject_t subject = subject_now(SITE);
    at_verdict_t verdict = verdict_valid_for(apr_time_now() - DAY, apr_time_now() + DAY);
    apr_time_t later = apr_time_now() + AFTER_RACY;

    cache = new_cache();
    at_verdict_cache_begin(cache);
    verdict.serial[0] = '\0';
    ck_assert_int_eq(at_verdict_store(cache, SITE, &subject, &verdict, later), AT_EARG);
    verdict = verdict_valid_for(apr_time_now() - DAY, 0);
    ck_assert_int_eq(at_verdict_store(cache, SITE, &subject, &verdict, later), AT_EARG);
    ck_assert_ptr_null(lookup_now(cache, SITE));
}
END_TEST

START_TEST(test_roots_behind_a_link_are_followed)
{
    const char *link_path = apr_pstrcat(pool, dir, "/verdicts.link", NULL);
    at_file_id_t before, after;

    ck_assert_int_eq(symlink(roots_path, link_path), 0);
    ck_assert_int_eq(at_file_id_of_target(&before, link_path), APR_SUCCESS);
    rewrite_keeping_mtime(roots_path, "roots DDDD\n"); /* the bundle changes, the link does not */
    ck_assert_int_eq(at_file_id_of_target(&after, link_path), APR_SUCCESS);
    ck_assert_int_eq(at_file_id_same(&before, &after), 0);
}
END_TEST

START_TEST(test_file_of_another_build_is_not_taken)
{
    char *good, *at;

    ck_assert_int_eq(at_verdict_cache_write(cache_with_verdict(), file_path(), pool), APR_SUCCESS);
    good = read_file_text(file_path());
    at = strstr(good, "\"made_by\":\"mod_autotls ");
    ck_assert_ptr_nonnull(at);
    write_verdict_file(apr_pstrcat(pool, apr_pstrndup(pool, good, (apr_size_t)(at - good)),
                                   "\"made_by\":\"mod_autotls 0.0.1-older, ",
                                   at + strlen("\"made_by\":\"mod_autotls "), NULL));
    ck_assert_ptr_null(lookup_now(cache_read(file_path(), APR_SUCCESS, 0), SITE));
}
END_TEST

START_TEST(test_file_leaves_out_what_it_could_not_read_back)
{
    at_verdict_cache_t *cache = cache_with_verdict();
    at_verdict_subject_t subject = subject_now(SITE);
    at_verdict_t verdict = verdict_valid_for(apr_time_now() - DAY, apr_time_now() + DAY);

    subject.policy = "names=b.example.org\nroots=/etc/a\tb.pem\nchain=0 partial=0";
    ck_assert_int_eq(
        at_verdict_store(cache, "b.example.org", &subject, &verdict, apr_time_now() + AFTER_RACY),
        APR_SUCCESS);
    subject.policy = "names=c.example.org\nroots=/etc/\xff.pem\nchain=0 partial=0";
    ck_assert_int_eq(
        at_verdict_store(cache, "c.example.org", &subject, &verdict, apr_time_now() + AFTER_RACY),
        APR_SUCCESS);
    ck_assert_int_eq(at_verdict_cache_write(cache, file_path(), pool), APR_SUCCESS);
    /* the file is read, with the one entry it could carry */
    ck_assert_ptr_nonnull(lookup_now(cache_read(file_path(), APR_SUCCESS, 1), SITE));
}
END_TEST

static Suite *verdict_suite(void)
{
    Suite *s = suite_create("verdict");
    TCase *tc = tcase_create("cache");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_same_files_names_and_roots_hit);
    tcase_add_test(tc, test_same_size_rewrite_with_mtime_put_back_misses);
    tcase_add_test(tc, test_other_inode_renamed_into_place_misses);
    tcase_add_test(tc, test_size_change_misses);
    tcase_add_test(tc, test_mtime_change_misses);
    tcase_add_test(tc, test_mode_change_misses);
    tcase_add_test(tc, test_other_names_miss);
    tcase_add_test(tc, test_changed_or_other_roots_miss);
    tcase_add_test(tc, test_expired_verdict_is_not_used);
    tcase_add_test(tc, test_not_yet_valid_verdict_is_not_used);
    tcase_add_test(tc, test_just_changed_files_are_not_remembered);
    tcase_add_test(tc, test_a_pass_drops_sites_it_did_not_touch);
    tcase_add_test(tc, test_verdict_of_leaf_reads_serial_and_validity);
    suite_add_tcase(s, tc);
    tc = tcase_create("file");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_file_round_trip_gives_the_next_parent_the_same_verdict);
    tcase_add_test(tc, test_file_not_there_adds_nothing);
    tcase_add_test(tc, test_file_open_to_others_linked_or_owned_by_another_is_not_believed);
    tcase_add_test(tc, test_file_malformed_anywhere_is_refused_whole);
    tcase_add_test(tc, test_file_expired_verdicts_are_not_taken);
    tcase_add_test(tc, test_file_of_another_build_is_not_taken);
    tcase_add_test(tc, test_file_leaves_out_what_it_could_not_read_back);
    tcase_add_test(tc, test_verdict_of_chain_ends_with_the_first_certificate_of_the_path_to_expire);
    tcase_add_test(tc, test_a_verdict_without_serial_or_validity_is_not_remembered);
    tcase_add_test(tc, test_roots_behind_a_link_are_followed);
    suite_add_tcase(s, tc);
    tc = tcase_create("pem_der");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_der_of_a_chain_is_each_certificate);
    tcase_add_test(tc, test_der_of_a_pkcs8_key_parses_back_to_the_key);
    tcase_add_test(tc, test_der_refuses_other_labels_encryption_and_nothing);
    suite_add_tcase(s, tc);
    return s;
}

AT_UNIT_MAIN(verdict_suite)
