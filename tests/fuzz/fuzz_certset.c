/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_certset.c: a staged certificate set, checked and published as the activator does it.
 *
 * Input: "names" NUL "key PEM" NUL "chain PEM", names separated by commas (the site's names).
 * The activator runs as root on files the worker user wrote, so this follows activator_accept():
 * parse the key and the chain, validate them against the names, the test CA's roots
 * (data/roots.pem) and a fixed time, measure the set against a slot; then publish it and read it
 * back as a child does. Whatever is in staging: nothing crashes, a refusal always says why, and
 * a set that passes round-trips through the shared slot intact. The leaf's status-page details
 * and ARI identifier are computed for every chain that parses, valid or not.
 */
#include "at_ari.h"
#include "at_crypto.h"
#include "fuzz_common.h"
#include "slots.h"

#ifndef FUZZ_DATA_DIR
#error "FUZZ_DATA_DIR must name tests/fuzz/data"
#endif
#define FUZZ_ROOTS FUZZ_DATA_DIR "/roots.pem"
#define FUZZ_PARTS 3
#define FUZZ_NAMES_MAX 16
/* 2030-01-01T00:00:00Z: inside the validity of the corpus' certificates (make_corpus.sh). */
#define FUZZ_NOW apr_time_from_sec(1893456000)

static autotls_slots_t *fuzz_slots;

static apr_array_header_t *fuzz_names(apr_pool_t *p, char *text)
{
    apr_array_header_t *names = apr_array_make(p, 2, sizeof(const char *));
    char *state = NULL, *name;

    for (name = apr_strtok(text, ",", &state); name != NULL && names->nelts < FUZZ_NAMES_MAX;
         name = apr_strtok(NULL, ",", &state)) {
        APR_ARRAY_PUSH(names, const char *) = name;
    }
    return names;
}

/* What the status page, the CLI and the renewal thread read from any leaf. */
static void fuzz_leaf_details(apr_pool_t *p, X509 *leaf, const apr_array_header_t *names)
{
    at_cert_info_t *info;
    const char *cert_id;
    int i;

    if (at_cert_info(&info, p, leaf) == APR_SUCCESS) {
        FUZZ_REQUIRE(info->names != NULL && info->serial != NULL && info->key_type != NULL);
    }
    if (at_ari_cert_id(&cert_id, p, leaf) == APR_SUCCESS) {
        FUZZ_REQUIRE(cert_id != NULL && strchr(cert_id, '.') != NULL);
    }
    for (i = 0; i < names->nelts; i++) {
        (void)at_cert_covers_name(leaf, APR_ARRAY_IDX(names, i, const char *));
    }
}

/* Publishes the accepted set and reads it back the way a child does at its next handshake. */
static void fuzz_publish(apr_pool_t *p, EVP_PKEY *key, const apr_array_header_t *chain)
{
    apr_array_header_t *read_chain;
    apr_uint32_t before, generation;
    EVP_PKEY *read_key;

    if (fuzz_slots == NULL && autotls_slots_create(&fuzz_slots, fuzz_root_pool, 1) != 0) {
        abort();
    }
    before = autotls_slots_generation(fuzz_slots, 0);
    FUZZ_REQUIRE(autotls_slots_publish(fuzz_slots, 0, key, chain, 1) == APR_SUCCESS);
    FUZZ_REQUIRE(autotls_slots_read(fuzz_slots, 0, p, &read_key, &read_chain, &generation) ==
                 APR_SUCCESS);
    FUZZ_REQUIRE(generation != before && read_chain->nelts == chain->nelts);
    FUZZ_REQUIRE(at_cert_matches_key(APR_ARRAY_IDX(read_chain, 0, X509 *), read_key));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    char *parts[FUZZ_PARTS];
    size_t lens[FUZZ_PARTS];
    apr_array_header_t *names, *chain = NULL;
    at_certset_check_t check;
    const char *why = NULL;
    EVP_PKEY *key = NULL;
    apr_size_t set_size;
    apr_status_t rv;

    fuzz_split(p, data, size, FUZZ_PARTS, parts, lens);
    names = fuzz_names(p, parts[0]);
    if (at_chain_from_pem(&chain, p, parts[2], lens[2]) == APR_SUCCESS) {
        FUZZ_REQUIRE(chain->nelts > 0);
        fuzz_leaf_details(p, APR_ARRAY_IDX(chain, 0, X509 *), names);
    }
    if (at_key_from_pem(&key, p, parts[1], lens[1]) != APR_SUCCESS || chain == NULL) {
        apr_pool_destroy(p);
        return 0;
    }
    memset(&check, 0, sizeof(check));
    check.names = names;
    check.roots_file = FUZZ_ROOTS;
    check.require_chain = 1;
    check.now = FUZZ_NOW;
    rv = at_certset_validate(&why, p, key, chain, &check);
    FUZZ_REQUIRE((rv == APR_SUCCESS) == (why == NULL));
    if (fuzz_verbose()) {
        fprintf(stderr, "fuzz_certset: %s\n", why != NULL ? why : "the set passes");
    }
    if (rv == APR_SUCCESS) {
        set_size = autotls_slots_set_size(key, chain);
        FUZZ_REQUIRE(set_size > 0);
        if (set_size <= AUTOTLS_SLOT_DATA_MAX) {
            fuzz_publish(p, key, chain);
        }
    }
    apr_pool_destroy(p);
    return 0;
}
