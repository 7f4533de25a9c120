/* SPDX-License-Identifier: Apache-2.0 */
/*
 * slots.h: the shared certificate mapping between the activator and every child.
 *
 * One sealed memfd, created by the parent in post_config before any child or the activator is
 * forked, mapped twice: writable (the writer: the parent, then the activator, which alone gets
 * it across a fork) and read-only (the reader: every process, every read). Its descriptor is
 * closed at once and its seals forbid any new writable mapping, so no child, helper or tenant
 * code running in a child can write a slot. Each site owns one slot: a seqlock generation
 * counter and the DER of its current key and chain. Children re-read a slot only when its
 * generation changed, so the cost on the handshake path is one atomic load.
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

/* Creates the sealed mapping for count slots from pconf (parent only, before forking); fails,
 * with a log line, where the kernel cannot seal it (Linux before 5.1). */
apr_status_t autotls_slots_create(autotls_slots_t **slots, apr_pool_t *pconf, int count);

int autotls_slots_count(const autotls_slots_t *slots);

/* Bytes key and chain take in a slot (PKCS#8 key + length-prefixed DER certificates), to compare
 * with AUTOTLS_SLOT_DATA_MAX before promoting a set; 0 when they cannot be encoded. */
apr_size_t autotls_slots_set_size(EVP_PKEY *key, const apr_array_header_t *chain);

/* Publishes a validated set into slot through the writer; APR_EACCES in a process that does not
 * hold it (only the parent and the activator do). */
apr_status_t autotls_slots_publish(autotls_slots_t *slots, int slot, EVP_PKEY *key,
                                   const apr_array_header_t *chain, int ca_issued);

/* A set as DER (PKCS#8 key, certificates leaf first as at_der_t) and the leaf's metadata: what
 * the parent publishes for a set whose verdict it remembers (at_verdict.h) without parsing it. */
typedef struct {
    const unsigned char *key_der;
    apr_size_t key_len;
    const apr_array_header_t *certs;
    apr_time_t not_before;
    apr_time_t not_after;
    const char *serial;
} autotls_slot_der_t;

/* autotls_slots_publish for a set given as DER; the bytes are copied as they are (every child
 * parses and matches them before serving, sslhook.c). */
apr_status_t autotls_slots_publish_der(autotls_slots_t *slots, int slot,
                                       const autotls_slot_der_t *set, int ca_issued);

/* The slot's generation: one atomic load, for the handshake path. */
apr_uint32_t autotls_slots_generation(const autotls_slots_t *slots, int slot);

/* A consistent copy of the slot's metadata. */
apr_status_t autotls_slots_info(const autotls_slots_t *slots, int slot, autotls_slot_info_t *info);

/* A consistent copy of the slot's key and chain (X509 *), parsed into objects owned by p, and
 * the generation they belong to. APR_ENOENT when nothing is published. */
apr_status_t autotls_slots_read(const autotls_slots_t *slots, int slot, apr_pool_t *p,
                                EVP_PKEY **key, apr_array_header_t **chain,
                                apr_uint32_t *generation);

/* The leaf certificate of the slot's set only (what the renewal process looks at: its names,
 * issuer and ARI id), parsed into an object owned by p, and its generation; the key is not
 * decoded (an EC key costs far more to decode than a certificate, and the renewal process has
 * no use for it). APR_ENOENT when nothing is published. */
apr_status_t autotls_slots_read_leaf(const autotls_slots_t *slots, int slot, apr_pool_t *p,
                                     X509 **leaf, apr_uint32_t *generation);

/*
 * Lets the writer through the next fork (inherit 1) or keeps it from every fork (inherit 0, the
 * state after create). The parent brackets the activator's fork with 1 and 0, single-threaded,
 * so no other process is forked in between; the forked activator calls it with 0 first, which
 * makes the writer its own and keeps it from anything it forks. APR_EINVAL in a process that
 * does not hold the writer.
 */
apr_status_t autotls_slots_writer_inherit(autotls_slots_t *slots, int inherit);

/*
 * In every process forked from the parent except the activator (children from child_init, the
 * renewal process): forgets the writer's address, unmaps any writable mapping of the slots this
 * process still holds, and checks that the reader cannot be made writable. APR_EGENERAL, with a
 * log line, when something writable was found (and then removed).
 */
apr_status_t autotls_slots_child_init(autotls_slots_t *slots);

#ifdef AUTOTLS_SLOTS_TESTING
/* Unit tests only: what a corrupting writer changes in a published slot. */
typedef enum {
    AUTOTLS_SLOTS_TEST_ACTIVE,
    AUTOTLS_SLOTS_TEST_KEY_LEN,
    AUTOTLS_SLOTS_TEST_DATA_LEN,
    AUTOTLS_SLOTS_TEST_CERT_COUNT,
    AUTOTLS_SLOTS_TEST_LEAF_LEN /* the length in front of the first certificate's DER */
} autotls_slots_test_field_e;

/* Overwrites field of slot with value through the writer, generation unchanged. */
void autotls_slots_test_corrupt(autotls_slots_t *slots, int slot, autotls_slots_test_field_e field,
                                apr_uint32_t value);
#endif

#endif
