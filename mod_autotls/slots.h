/*
 * slots.h: the shared certificate mapping between the activator and every child.
 *
 * One anonymous shared mapping, created by the parent in post_config before any child or the
 * activator is forked. Each site owns one slot: a seqlock generation counter and the DER of its
 * current key and chain. Only the activator (root) and the parent write; children map it
 * read-only after child_init and re-read a slot only when its generation changed, so the cost on
 * the handshake path is one atomic load.
 */
#ifndef AUTOTLS_SLOTS_H
#define AUTOTLS_SLOTS_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

/* DER key + DER chain of one published set; a set beyond this is refused with a log line. */
#define AUTOTLS_SLOT_DATA_MAX (16 * 1024)
#define AUTOTLS_SLOT_SERIAL_MAX 64

typedef struct autotls_slots_t autotls_slots_t;

typedef struct {
    apr_uint32_t generation; /* 0: nothing published yet */
    int ca_issued;           /* a CA-issued certificate (not a placeholder) is published */
    apr_time_t not_before;
    apr_time_t not_after;
    char serial[AUTOTLS_SLOT_SERIAL_MAX];
} autotls_slot_info_t;

/* Creates the mapping for count slots from pconf (parent only, before forking). */
apr_status_t autotls_slots_create(autotls_slots_t **slots, apr_pool_t *pconf, int count);

int autotls_slots_count(const autotls_slots_t *slots);

/* Bytes key and chain take in a slot (PKCS#8 key + length-prefixed DER certificates), to compare
 * with AUTOTLS_SLOT_DATA_MAX before promoting a set; 0 when they cannot be encoded. */
apr_size_t autotls_slots_set_size(EVP_PKEY *key, const apr_array_header_t *chain);

/* Publishes a validated set into slot (activator and parent only). */
apr_status_t autotls_slots_publish(autotls_slots_t *slots, int slot, EVP_PKEY *key,
                                   const apr_array_header_t *chain, int ca_issued);

/* The slot's generation: one atomic load, for the handshake path. */
apr_uint32_t autotls_slots_generation(const autotls_slots_t *slots, int slot);

/* A consistent copy of the slot's metadata. */
apr_status_t autotls_slots_info(const autotls_slots_t *slots, int slot, autotls_slot_info_t *info);

/* A consistent copy of the slot's key and chain (X509 *), parsed into objects owned by p, and
 * the generation they belong to. APR_ENOENT when nothing is published. */
apr_status_t autotls_slots_read(const autotls_slots_t *slots, int slot, apr_pool_t *p,
                                EVP_PKEY **key, apr_array_header_t **chain,
                                apr_uint32_t *generation);

/* Makes the mapping read-only in this process (children, from child_init). */
apr_status_t autotls_slots_protect(autotls_slots_t *slots);

#endif
