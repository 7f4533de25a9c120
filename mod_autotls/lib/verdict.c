/* SPDX-License-Identifier: Apache-2.0 */
/*
 * verdict.c: the cache of passing certificate-set verdicts (at_verdict.h).
 *
 * The one idea: a verdict is returned only for exactly the files, policy and roots it was given
 * for, and only while its certificate is within its validity; anything else drops it. Entries
 * are malloc'd and freed one by one, the hash of them lives in the cache's own pool: nothing
 * here refers to code (no hash function of ours, no cleanup), so the cache survives the module
 * that made it being unloaded.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <apr_hash.h>
#include <apr_strings.h>

#include <openssl/bn.h>
#include <openssl/err.h>

#include "at_core.h"
#include "at_verdict.h"
#include "verdict_internal.h"

#define VERDICT_NS_PER_SEC 1000000000LL
/* Separates the parts of a policy text; no DNS name or flag holds it. */
#define VERDICT_POLICY_SEP "\n"

typedef struct {
    char *site;   /* the hash key */
    char *policy; /* at_verdict_policy() of the check it passed */
    at_file_id_t key, chain, roots;
    at_verdict_t verdict;
    unsigned pass; /* the pass that last touched it */
} verdict_entry_t;

struct at_verdict_cache_t {
    apr_pool_t *pool;
    apr_hash_t *entries; /* site -> verdict_entry_t * */
    unsigned pass;
    at_verdict_stats_t stats;
};

static apr_status_t verdict_file_id(at_file_id_t *id, const char *path, int follow)
{
    struct stat st;

    memset(id, 0, sizeof(*id));
    if ((follow ? stat(path, &st) : lstat(path, &st)) != 0) {
        return errno == ENOENT || errno == ENOTDIR ? APR_SUCCESS : APR_FROM_OS_ERROR(errno);
    }
    id->dev = (apr_uint64_t)st.st_dev;
    id->ino = (apr_uint64_t)st.st_ino;
    id->size = (apr_int64_t)st.st_size;
    id->mtime_ns = (apr_int64_t)st.st_mtim.tv_sec * VERDICT_NS_PER_SEC + st.st_mtim.tv_nsec;
    id->ctime_ns = (apr_int64_t)st.st_ctim.tv_sec * VERDICT_NS_PER_SEC + st.st_ctim.tv_nsec;
    id->mode = (apr_uint32_t)st.st_mode;
    id->uid = (apr_uint32_t)st.st_uid;
    id->gid = (apr_uint32_t)st.st_gid;
    id->present = 1;
    return APR_SUCCESS;
}

apr_status_t at_file_id_of(at_file_id_t *id, const char *path)
{
    return verdict_file_id(id, path, 0);
}

apr_status_t at_file_id_of_target(at_file_id_t *id, const char *path)
{
    return verdict_file_id(id, path, 1);
}

int at_file_id_same(const at_file_id_t *a, const at_file_id_t *b)
{
    return a->present == b->present && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns && a->mode == b->mode &&
           a->uid == b->uid && a->gid == b->gid;
}

const char *at_verdict_policy(apr_pool_t *p, const at_certset_check_t *check)
{
    const char *names = check->names == NULL || check->names->nelts == 0
                            ? ""
                            : apr_array_pstrcat(p, check->names, VERDICT_POLICY_SEP[0]);

    return apr_psprintf(
        p, "names=%s" VERDICT_POLICY_SEP "roots=%s" VERDICT_POLICY_SEP "chain=%d partial=%d", names,
        check->roots_file != NULL ? check->roots_file : "", check->require_chain,
        check->allow_partial);
}

apr_status_t at_verdict_of_leaf(at_verdict_t *verdict, apr_pool_t *p, X509 *leaf, int partial)
{
    /* The serial as at_cert_info spells it, without at_cert_info's names and key type: this
     * runs for every site of a configuration pass. */
    BIGNUM *bn = leaf == NULL ? NULL : ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), NULL);
    char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
    apr_status_t rv = AT_EINVALID;

    memset(verdict, 0, sizeof(*verdict));
    if (hex != NULL && strlen(hex) <= AT_VERDICT_SERIAL_MAX &&
        at_asn1_time_to_apr(&verdict->not_before, X509_get0_notBefore(leaf)) == APR_SUCCESS &&
        at_asn1_time_to_apr(&verdict->not_after, X509_get0_notAfter(leaf)) == APR_SUCCESS) {
        apr_cpystrn(verdict->serial, hex, sizeof(verdict->serial));
        verdict->partial = partial;
        rv = APR_SUCCESS;
    }
    OPENSSL_free(hex);
    BN_free(bn);
    ERR_clear_error();
    return rv;
}

apr_status_t at_verdict_of_chain(at_verdict_t *verdict, apr_pool_t *p,
                                 const apr_array_header_t *chain, int partial,
                                 apr_time_t path_not_before, apr_time_t path_not_after)
{
    apr_status_t rv;
    int i;

    if (chain == NULL || chain->nelts == 0) {
        return AT_EARG;
    }
    rv = at_verdict_of_leaf(verdict, p, APR_ARRAY_IDX(chain, 0, X509 *), partial);
    for (i = 1; rv == APR_SUCCESS && i < chain->nelts; i++) {
        X509 *cert = APR_ARRAY_IDX(chain, i, X509 *);
        apr_time_t nb, na;

        if (at_asn1_time_to_apr(&nb, X509_get0_notBefore(cert)) != APR_SUCCESS ||
            at_asn1_time_to_apr(&na, X509_get0_notAfter(cert)) != APR_SUCCESS) {
            rv = AT_EINVALID;
            break;
        }
        verdict->not_before = nb > verdict->not_before ? nb : verdict->not_before;
        verdict->not_after = na < verdict->not_after ? na : verdict->not_after;
    }
    if (rv == APR_SUCCESS && path_not_before != 0 && path_not_before > verdict->not_before) {
        verdict->not_before = path_not_before;
    }
    if (rv == APR_SUCCESS && path_not_after != 0 && path_not_after < verdict->not_after) {
        verdict->not_after = path_not_after;
    }
    ERR_clear_error();
    return rv;
}

apr_status_t at_verdict_cache_create(at_verdict_cache_t **cache, apr_pool_t *parent)
{
    apr_pool_t *pool;
    apr_status_t rv;

    *cache = NULL;
    if ((rv = apr_pool_create(&pool, parent)) != APR_SUCCESS) {
        return rv;
    }
    apr_pool_tag(pool, "at_verdict_cache");
    *cache = apr_pcalloc(pool, sizeof(**cache));
    (*cache)->pool = pool;
    (*cache)->entries = apr_hash_make(pool);
    return APR_SUCCESS;
}

static void verdict_entry_free(verdict_entry_t *entry)
{
    free(entry->site);
    free(entry->policy);
    free(entry);
}

static void verdict_drop(at_verdict_cache_t *cache, verdict_entry_t *entry)
{
    apr_hash_set(cache->entries, entry->site, APR_HASH_KEY_STRING, NULL);
    verdict_entry_free(entry);
    cache->stats.dropped++;
}

void at_verdict_cache_begin(at_verdict_cache_t *cache)
{
    cache->pass++;
    memset(&cache->stats, 0, sizeof(cache->stats));
}

void at_verdict_cache_end(at_verdict_cache_t *cache)
{
    apr_hash_index_t *hi = apr_hash_first(NULL, cache->entries);

    /* Removing the entry under the iterator is allowed: apr_hash_next already points past it. */
    while (hi != NULL) {
        verdict_entry_t *entry = apr_hash_this_val(hi);

        hi = apr_hash_next(hi);
        if (entry->pass != cache->pass) {
            verdict_drop(cache, entry);
        }
    }
}

void at_verdict_cache_stats(const at_verdict_cache_t *cache, at_verdict_stats_t *stats)
{
    *stats = cache->stats;
    stats->entries = (int)apr_hash_count(cache->entries);
}

static int verdict_subject_is(const verdict_entry_t *entry, const at_verdict_subject_t *subject)
{
    return entry->key.present && entry->chain.present &&
           at_file_id_same(&entry->key, &subject->key) &&
           at_file_id_same(&entry->chain, &subject->chain) &&
           at_file_id_same(&entry->roots, &subject->roots) && subject->policy != NULL &&
           strcmp(entry->policy, subject->policy) == 0;
}

const at_verdict_t *at_verdict_lookup(at_verdict_cache_t *cache, const char *site,
                                      const at_verdict_subject_t *subject, apr_time_t now)
{
    verdict_entry_t *entry = apr_hash_get(cache->entries, site, APR_HASH_KEY_STRING);

    cache->stats.lookups++;
    if (entry == NULL) {
        return NULL;
    }
    /* The certificate's own validity is checked again every time: never a stale "valid". */
    if (!verdict_subject_is(entry, subject) || now < entry->verdict.not_before ||
        now > entry->verdict.not_after) {
        verdict_drop(cache, entry);
        return NULL;
    }
    entry->pass = cache->pass;
    cache->stats.hits++;
    return &entry->verdict;
}

/* Whether a file changed so recently that a change to come could leave its timestamps as they
 * are: the kernel stamps changes with a clock that moves in ticks of a few milliseconds. */
static int verdict_racy(const at_file_id_t *id, apr_time_t now)
{
    apr_int64_t now_ns = (apr_int64_t)apr_time_sec(now) * VERDICT_NS_PER_SEC +
                         (apr_int64_t)apr_time_usec(now) * (VERDICT_NS_PER_SEC / APR_USEC_PER_SEC);
    apr_int64_t racy_ns = (apr_int64_t)apr_time_sec(AT_VERDICT_RACY) * VERDICT_NS_PER_SEC;

    return now_ns - id->ctime_ns < racy_ns || now_ns - id->mtime_ns < racy_ns;
}

apr_status_t at_verdict_store(at_verdict_cache_t *cache, const char *site,
                              const at_verdict_subject_t *subject, const at_verdict_t *verdict,
                              apr_time_t now)
{
    verdict_entry_t *entry, *old;

    if (site == NULL || subject == NULL || subject->policy == NULL || verdict == NULL ||
        !subject->key.present || !subject->chain.present || verdict->serial[0] == '\0' ||
        verdict->not_after <= verdict->not_before) {
        return AT_EARG; /* a verdict without a serial or a validity never stands */
    }
    if (verdict_racy(&subject->key, now) || verdict_racy(&subject->chain, now) ||
        (subject->roots.present && verdict_racy(&subject->roots, now))) {
        at_verdict_forget(cache, site);
        return APR_EAGAIN;
    }
    entry = calloc(1, sizeof(*entry));
    if (entry == NULL || (entry->site = strdup(site)) == NULL ||
        (entry->policy = strdup(subject->policy)) == NULL) {
        if (entry != NULL) {
            verdict_entry_free(entry);
        }
        return APR_ENOMEM;
    }
    entry->key = subject->key;
    entry->chain = subject->chain;
    entry->roots = subject->roots;
    entry->verdict = *verdict;
    entry->pass = cache->pass;
    old = apr_hash_get(cache->entries, site, APR_HASH_KEY_STRING);
    if (old != NULL) {
        apr_hash_set(cache->entries, old->site, APR_HASH_KEY_STRING, NULL);
        verdict_entry_free(old);
    }
    apr_hash_set(cache->entries, entry->site, APR_HASH_KEY_STRING, entry);
    cache->stats.stored++;
    return APR_SUCCESS;
}

void at_verdict_forget(at_verdict_cache_t *cache, const char *site)
{
    verdict_entry_t *entry = apr_hash_get(cache->entries, site, APR_HASH_KEY_STRING);

    if (entry != NULL) {
        verdict_drop(cache, entry);
    }
}

apr_array_header_t *at_verdict_cache_entries(const at_verdict_cache_t *cache, apr_pool_t *p)
{
    apr_array_header_t *out =
        apr_array_make(p, (int)apr_hash_count(cache->entries) + 1, sizeof(at_verdict_entry_t));
    apr_hash_index_t *hi;

    for (hi = apr_hash_first(p, cache->entries); hi != NULL; hi = apr_hash_next(hi)) {
        const verdict_entry_t *entry = apr_hash_this_val(hi);
        at_verdict_entry_t *copy = apr_array_push(out);

        copy->site = apr_pstrdup(p, entry->site);
        copy->subject.key = entry->key;
        copy->subject.chain = entry->chain;
        copy->subject.roots = entry->roots;
        copy->subject.policy = apr_pstrdup(p, entry->policy);
        copy->verdict = entry->verdict;
    }
    return out;
}
