/* SPDX-License-Identifier: Apache-2.0 */
/*
 * slots.c: the shared certificate mapping, a seqlock-guarded slot per site, that no child can
 * write.
 *
 * The one idea: readers never lock and never see a torn set. Each slot has two data halves; the
 * writer fills the half nobody reads, then makes the generation odd, flips the active half and
 * the metadata, and makes it even again. A reader copies the active half and keeps the copy only
 * when the generation was even and unchanged around the copy, and checks every count and length
 * it copied against the slot's bounds before it uses them. There is one writer at a time: the
 * parent before it forks the activator, then the activator alone. A writer that died while the
 * generation was odd is recovered by the next publish.
 *
 * Why no child can write: the slots live in a memfd. The parent maps it writable (the writer),
 * seals it against growing, shrinking, any future writable mapping and any further seal, maps
 * it read-only (the reader, which every process reads through; mapped after the seal, since
 * only a mapping made after it can never gain write access), and closes the descriptor. The kernel
 * refuses mprotect(PROT_WRITE) on the reader, there is no descriptor to reopen through /proc, and
 * the writer is MADV_DONTFORK: no forked process gets it, except the activator, forked while
 * autotls_slots_writer_inherit() lets it through. Pages of a slot are touched only when a set is
 * published there, so the size reserved for 2 x AUTOTLS_SLOT_DATA_MAX per slot costs memory only
 * for what is used.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create, F_ADD_SEALS */
#endif

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "at_core.h"
#include "at_crypto.h"
#include "at_pem.h"
#include "slots.h"

/* Seals older C libraries do not name yet (Linux 5.1 added FUTURE_WRITE). */
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

/* Same spelling as log_glue.h's AUTOTLS_LOGNO; this file stays free of httpd headers. */
#define SLOTS_LOGNO(n) "autotls-" #n ": "

#define SLOTS_MAGIC 0x61746c73u /* "atls" */
#define SLOTS_CACHE_LINE 64     /* slot headers never share a line: no false sharing */
#define SLOTS_READ_RETRIES 100  /* a reader gives up (APR_EAGAIN) after this many tries */
#define SLOTS_LEN_BYTES 4       /* big-endian length in front of each certificate's DER */
#define SLOTS_HALVES 2          /* double buffer */
#define SLOTS_COUNT_MAX (1024 * 1024)
#define SLOTS_BYTE_BITS 8
#define SLOTS_BYTE_MASK 0xffu
#define SLOTS_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL)
#define SLOTS_MAPS_PATH "/proc/self/maps"
#define SLOTS_MAPS_LINE 512
/* The smallest DER certificate is far larger; a count above data / this is corrupt. */
#define SLOTS_CERT_MIN_BYTES (SLOTS_LEN_BYTES + 1)

/* The mapping starts with this, then count slot headers, then the data halves. */
typedef struct {
    apr_uint32_t magic;
    apr_uint32_t count;
} slots_header_t;

/* One slot's metadata; everything but generation is written only while generation is odd. */
typedef struct {
    apr_uint32_t generation; /* seqlock: 0 nothing published, odd while changing */
    apr_uint32_t active;     /* the half holding the published set */
    apr_uint32_t ca_issued;
    apr_uint32_t key_len;    /* PKCS#8 DER key at the start of the active half */
    apr_uint32_t data_len;   /* bytes used in the active half */
    apr_uint32_t cert_count; /* length-prefixed DER certificates after the key, leaf first */
    apr_int64_t not_before;
    apr_int64_t not_after;
    char serial[AUTOTLS_SLOT_SERIAL_MAX];
} slots_slot_t;

/*
 * This process's view of the mapping (lives in pconf). Offsets and count are private memory of
 * the process that made the mapping, never read back from it.
 */
struct autotls_slots_t {
    unsigned char *writer;       /* PROT_READ|PROT_WRITE, MADV_DONTFORK; NULL when not ours */
    const unsigned char *reader; /* PROT_READ, sealed: what every process reads through */
    apr_size_t size;
    int count;
    apr_size_t slot_off;
    apr_size_t slot_stride;
    apr_size_t data_off;
    pid_t writer_pid; /* the process the writer belongs to */
    int inherit;      /* the next fork passes the writer on (the activator's) */
};

/* What a reader copies out under the seqlock. */
typedef struct {
    slots_slot_t meta;
    unsigned char *data; /* AUTOTLS_SLOT_DATA_MAX bytes, or NULL for metadata only */
} slots_copy_t;

static apr_size_t slots_align(apr_size_t n, apr_size_t to)
{
    return (n + to - 1) / to * to;
}

/* Gives up this process's page-table entries for the pages under [start, start + len). The
 * mapping is a shared one of the memfd: the pages stay in it, and touching them again maps them
 * back as they are. So a set a process wrote or copied once does not count in its resident
 * memory ever after (the parent writes every set at start, the renewal process reads every
 * leaf: 4 KiB a site each, 40 MB at 10,000 sites). Only a hint: a failure changes nothing. */
static void slots_forget_pages(const unsigned char *start, apr_size_t len)
{
    apr_size_t page = (apr_size_t)sysconf(_SC_PAGESIZE);
    apr_uintptr_t from = (apr_uintptr_t)start / page * page;
    apr_uintptr_t to = ((apr_uintptr_t)start + len + page - 1) / page * page;

    if (len > 0) {
        (void)madvise((void *)from, to - from, MADV_DONTNEED);
    }
}

static const slots_slot_t *slots_meta(const autotls_slots_t *slots, int slot)
{
    return (const slots_slot_t *)(slots->reader + slots->slot_off +
                                  (apr_size_t)slot * slots->slot_stride);
}

static const unsigned char *slots_half(const autotls_slots_t *slots, int slot, apr_uint32_t half)
{
    apr_size_t index = (apr_size_t)slot * SLOTS_HALVES + half;

    return slots->reader + slots->data_off + index * AUTOTLS_SLOT_DATA_MAX;
}

/* The writer's base in this process, or NULL: a forked process that did not inherit the writer
 * holds a stale address (the pages are not there, or are something else by now). */
static unsigned char *slots_writer(const autotls_slots_t *slots)
{
    if (slots == NULL || slots->writer == NULL) {
        return NULL;
    }
    return slots->writer_pid == getpid() || slots->inherit ? slots->writer : NULL;
}

static slots_slot_t *slots_meta_w(unsigned char *writer, const autotls_slots_t *slots, int slot)
{
    return (slots_slot_t *)(writer + slots->slot_off + (apr_size_t)slot * slots->slot_stride);
}

static unsigned char *slots_half_w(unsigned char *writer, const autotls_slots_t *slots, int slot,
                                   apr_uint32_t half)
{
    apr_size_t index = (apr_size_t)slot * SLOTS_HALVES + half;

    return writer + slots->data_off + index * AUTOTLS_SLOT_DATA_MAX;
}

static int slots_valid_index(const autotls_slots_t *slots, int slot)
{
    return slots != NULL && slot >= 0 && slot < slots->count;
}

static apr_status_t slots_unmap(void *data)
{
    autotls_slots_t *slots = data;

    if (slots_writer(slots) != NULL) {
        munmap(slots->writer, slots->size);
    }
    if (slots->reader != NULL) {
        munmap((void *)slots->reader, slots->size);
    }
    slots->writer = NULL;
    slots->reader = NULL;
    return APR_SUCCESS;
}

/* The reader must stay read-only whatever this process does: the kernel refuses write access
 * to a mapping of a FUTURE_WRITE-sealed memfd. APR_EGENERAL when it let it through. */
static apr_status_t slots_check_reader(const autotls_slots_t *slots)
{
    void *reader = (void *)slots->reader;

    if (mprotect(reader, slots->size, PROT_READ | PROT_WRITE) != 0) {
        return APR_SUCCESS;
    }
    mprotect(reader, slots->size, PROT_READ);
    return APR_EGENERAL;
}

/* One shared mapping of the whole memfd with prot; *map stays MAP_FAILED on failure. */
static apr_status_t slots_map(void **map, const autotls_slots_t *made, int fd, int prot)
{
    apr_status_t rv;

    *map = mmap(NULL, made->size, prot, MAP_SHARED | MAP_NORESERVE, fd, 0);
    if (*map != MAP_FAILED) {
        return APR_SUCCESS;
    }
    rv = APR_FROM_OS_ERROR(errno);
    at_log(AT_LOG_ERR, rv,
           SLOTS_LOGNO(0283) "slots: cannot map %" APR_SIZE_T_FMT " bytes of shared memory for "
                             "%d certificate slots",
           made->size, made->count);
    return rv;
}

/* A memfd of size bytes mapped writable and read-only, sealed, its descriptor closed. */
static apr_status_t slots_map_sealed(autotls_slots_t *made)
{
    void *writer = MAP_FAILED, *reader = MAP_FAILED;
    apr_status_t rv;
    int fd, seals;

    fd = memfd_create("autotls-slots", MFD_ALLOW_SEALING | MFD_CLOEXEC);
    if (fd < 0) {
        rv = APR_FROM_OS_ERROR(errno);
        at_log(AT_LOG_ERR, rv,
               SLOTS_LOGNO(0281) "slots: cannot create a sealable memfd "
                                 "(Linux 3.17 or later is needed)");
        return rv;
    }
    if (ftruncate(fd, (off_t)made->size) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        at_log(AT_LOG_ERR, rv,
               SLOTS_LOGNO(0282) "slots: cannot size the memfd to %" APR_SIZE_T_FMT " bytes",
               made->size);
        goto fail;
    }
    if ((rv = slots_map(&writer, made, fd, PROT_READ | PROT_WRITE)) != APR_SUCCESS) {
        goto fail;
    }
    if (madvise(writer, made->size, MADV_DONTFORK) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        at_log(AT_LOG_ERR, rv,
               SLOTS_LOGNO(0284) "slots: cannot keep the writable slot mapping from forked "
                                 "processes (madvise MADV_DONTFORK)");
        goto fail;
    }
    seals = fcntl(fd, F_ADD_SEALS, SLOTS_SEALS) == 0 ? fcntl(fd, F_GET_SEALS) : -1;
    if (seals < 0 || (seals & SLOTS_SEALS) != SLOTS_SEALS) {
        rv = seals < 0 ? APR_FROM_OS_ERROR(errno) : APR_EGENERAL;
        at_log(AT_LOG_ERR, rv,
               SLOTS_LOGNO(0285) "slots: cannot seal the certificate slots against writes "
                                 "by children (F_SEAL_FUTURE_WRITE needs Linux 5.1 or later); "
                                 "refusing to run with slots a child could rewrite");
        goto fail;
    }
    /* Mapped after the seal: only then does the kernel deny it write access for good (a
     * read-only mapping made before FUTURE_WRITE can still be mprotect()ed writable). */
    if ((rv = slots_map(&reader, made, fd, PROT_READ)) != APR_SUCCESS) {
        goto fail;
    }
    close(fd);
    fd = -1;
    made->writer = writer;
    made->reader = reader;
    if (slots_check_reader(made) != APR_SUCCESS) {
        rv = APR_EGENERAL;
        at_log(AT_LOG_ERR, rv,
               SLOTS_LOGNO(0286) "slots: the kernel let the read-only slot mapping become "
                                 "writable despite the seals; refusing to run with slots a "
                                 "child could rewrite");
        made->writer = NULL;
        made->reader = NULL;
        goto fail;
    }
    return APR_SUCCESS;

fail:
    if (writer != MAP_FAILED) {
        munmap(writer, made->size);
    }
    if (reader != MAP_FAILED) {
        munmap(reader, made->size);
    }
    if (fd >= 0) {
        close(fd);
    }
    return rv;
}

apr_status_t autotls_slots_create(autotls_slots_t **slots, apr_pool_t *pconf, int count)
{
    autotls_slots_t *made;
    apr_size_t stride = slots_align(sizeof(slots_slot_t), SLOTS_CACHE_LINE);
    apr_size_t head = slots_align(sizeof(slots_header_t), SLOTS_CACHE_LINE);
    apr_size_t page = (apr_size_t)sysconf(_SC_PAGESIZE);
    slots_header_t *header;
    apr_status_t rv;

    *slots = NULL;
    if (count < 0 || count > SLOTS_COUNT_MAX) {
        at_log(AT_LOG_ERR, AT_EARG,
               SLOTS_LOGNO(0900) "slots: cannot make %d certificate slots (at most %d)", count,
               SLOTS_COUNT_MAX);
        return AT_EARG;
    }
    made = apr_pcalloc(pconf, sizeof(*made));
    made->count = count;
    made->slot_off = head;
    made->slot_stride = stride;
    made->data_off = slots_align(head + (apr_size_t)count * stride, SLOTS_CACHE_LINE);
    made->size = slots_align(
        made->data_off + (apr_size_t)count * SLOTS_HALVES * AUTOTLS_SLOT_DATA_MAX, page);
    rv = slots_map_sealed(made);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* A fresh memfd reads as zeros: every generation starts at 0. */
    made->writer_pid = getpid();
    header = (slots_header_t *)made->writer;
    header->magic = SLOTS_MAGIC;
    header->count = (apr_uint32_t)count;
    apr_pool_cleanup_register(pconf, made, slots_unmap, apr_pool_cleanup_null);
    *slots = made;
    return APR_SUCCESS;
}

apr_status_t autotls_slots_writer_inherit(autotls_slots_t *slots, int inherit)
{
    unsigned char *writer = slots_writer(slots);
    apr_status_t rv;

    if (writer == NULL) {
        return APR_EINVAL;
    }
    if (madvise(writer, slots->size, inherit ? MADV_DOFORK : MADV_DONTFORK) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        at_log(AT_LOG_ERR, rv,
               SLOTS_LOGNO(0287) "slots: cannot %s the writable slot mapping for the next fork",
               inherit ? "pass on" : "withhold");
        return rv;
    }
    /* The forked activator, still flagged by its parent's inherit, takes the writer over. */
    slots->writer_pid = getpid();
    slots->inherit = inherit ? 1 : 0;
    return APR_SUCCESS;
}

/* Where a writable mapping of our memfd shows in /proc/self/maps: its start and end, 1 when
 * one is found. */
static int slots_find_writable(unsigned long *start, unsigned long *end)
{
    char line[SLOTS_MAPS_LINE];
    FILE *maps = fopen(SLOTS_MAPS_PATH, "re");
    int found = 0;

    if (maps == NULL) {
        return 0; /* no /proc (a chroot): MADV_DONTFORK alone keeps the writer out */
    }
    while (!found && fgets(line, sizeof(line), maps) != NULL) {
        char perms[8] = "";

        if (sscanf(line, "%lx-%lx %7s", start, end, perms) == 3 && perms[1] == 'w' &&
            strstr(line, "memfd:autotls-slots") != NULL) {
            found = 1;
        }
    }
    fclose(maps);
    return found;
}

apr_status_t autotls_slots_child_init(autotls_slots_t *slots)
{
    unsigned long start, end;
    apr_status_t rv = APR_SUCCESS;

    if (slots == NULL || slots->reader == NULL) {
        return APR_SUCCESS;
    }
    if (slots->writer_pid != getpid()) {
        slots->writer = NULL; /* a stale address here: never write through it */
        slots->inherit = 0;
    }
    while (slots->writer == NULL && slots_find_writable(&start, &end)) {
        rv = APR_EGENERAL;
        at_log(AT_LOG_ERR, rv,
               SLOTS_LOGNO(0288) "slots: this process inherited a writable mapping of the "
                                 "certificate slots (a fork while the activator's writer was "
                                 "passed on); unmapping it");
        if (munmap((void *)start, end - start) != 0) {
            break;
        }
    }
    if (slots_check_reader(slots) != APR_SUCCESS) {
        rv = APR_EGENERAL;
        at_log(AT_LOG_ERR, rv,
               SLOTS_LOGNO(0289) "slots: the read-only slot mapping could be made writable "
                                 "in this process; made read-only again");
    }
    return rv;
}

int autotls_slots_count(const autotls_slots_t *slots)
{
    return slots == NULL ? 0 : slots->count;
}

apr_uint32_t autotls_slots_generation(const autotls_slots_t *slots, int slot)
{
    if (!slots_valid_index(slots, slot) || slots->reader == NULL) {
        return 0;
    }
    return __atomic_load_n(&slots_meta(slots, slot)->generation, __ATOMIC_ACQUIRE);
}

/* --- writing ----------------------------------------------------------------------------- */

static void slots_put_len(unsigned char *out, apr_uint32_t len)
{
    int i;

    for (i = SLOTS_LEN_BYTES - 1; i >= 0; i--) {
        out[i] = (unsigned char)(len & SLOTS_BYTE_MASK);
        len >>= SLOTS_BYTE_BITS;
    }
}

static apr_uint32_t slots_get_len(const unsigned char *in)
{
    apr_uint32_t len = 0;
    int i;

    for (i = 0; i < SLOTS_LEN_BYTES; i++) {
        len = (len << SLOTS_BYTE_BITS) | in[i];
    }
    return len;
}

/* PKCS#8 DER of key into out (at most room bytes); AT_ETOOLARGE when it does not fit. */
static apr_status_t slots_encode_key(apr_uint32_t *len, unsigned char *out, apr_size_t room,
                                     EVP_PKEY *key)
{
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key);
    apr_status_t rv = AT_ECRYPTO;
    int need;

    if (p8 == NULL) {
        ERR_clear_error();
        return rv;
    }
    need = i2d_PKCS8_PRIV_KEY_INFO(p8, NULL);
    if (need > 0 && (apr_size_t)need > room) {
        rv = AT_ETOOLARGE;
    } else if (need > 0 && i2d_PKCS8_PRIV_KEY_INFO(p8, &out) == need) {
        *len = (apr_uint32_t)need;
        rv = APR_SUCCESS;
    }
    PKCS8_PRIV_KEY_INFO_free(p8);
    ERR_clear_error();
    return rv;
}

apr_size_t autotls_slots_set_size(EVP_PKEY *key, const apr_array_header_t *chain)
{
    PKCS8_PRIV_KEY_INFO *p8 = key == NULL ? NULL : EVP_PKEY2PKCS8(key);
    int len = p8 == NULL ? -1 : i2d_PKCS8_PRIV_KEY_INFO(p8, NULL);
    apr_size_t total = len > 0 ? (apr_size_t)len : 0;
    int i;

    PKCS8_PRIV_KEY_INFO_free(p8);
    for (i = 0; total > 0 && chain != NULL && i < chain->nelts; i++) {
        X509 *cert = APR_ARRAY_IDX(chain, i, X509 *);

        len = cert == NULL ? -1 : i2d_X509(cert, NULL);
        total = len > 0 ? total + SLOTS_LEN_BYTES + (apr_size_t)len : 0;
    }
    ERR_clear_error();
    return chain == NULL || chain->nelts == 0 ? 0 : total;
}

/* Key then length-prefixed certificates into half; meta gets the lengths. */
static apr_status_t slots_encode(slots_slot_t *meta, unsigned char *half, EVP_PKEY *key,
                                 const apr_array_header_t *chain)
{
    apr_size_t used;
    apr_uint32_t key_len = 0;
    apr_status_t rv;
    int i;

    rv = slots_encode_key(&key_len, half, AUTOTLS_SLOT_DATA_MAX, key);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    used = key_len;
    for (i = 0; i < chain->nelts; i++) {
        X509 *cert = APR_ARRAY_IDX(chain, i, X509 *);
        unsigned char *out = half + used + SLOTS_LEN_BYTES;
        int need = cert == NULL ? -1 : i2d_X509(cert, NULL);

        if (need <= 0) {
            ERR_clear_error();
            return AT_ECRYPTO;
        }
        if (used + SLOTS_LEN_BYTES + (apr_size_t)need > AUTOTLS_SLOT_DATA_MAX) {
            return AT_ETOOLARGE;
        }
        if (i2d_X509(cert, &out) != need) {
            ERR_clear_error();
            return AT_ECRYPTO;
        }
        slots_put_len(half + used, (apr_uint32_t)need);
        used += SLOTS_LEN_BYTES + (apr_size_t)need;
    }
    meta->key_len = key_len;
    meta->data_len = (apr_uint32_t)used;
    meta->cert_count = (apr_uint32_t)chain->nelts;
    return APR_SUCCESS;
}

/* The leaf's validity and serial, the way at_cert_info reports them. */
static apr_status_t slots_describe(slots_slot_t *meta, X509 *leaf)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), NULL);
    char *hex = bn == NULL ? NULL : BN_bn2hex(bn);
    apr_time_t not_before = 0, not_after = 0;
    apr_status_t rv = AT_EINVALID;

    if (hex != NULL && at_asn1_time_to_apr(&not_before, X509_get0_notBefore(leaf)) == APR_SUCCESS &&
        at_asn1_time_to_apr(&not_after, X509_get0_notAfter(leaf)) == APR_SUCCESS) {
        memset(meta->serial, 0, sizeof(meta->serial));
        strncpy(meta->serial, hex, sizeof(meta->serial) - 1);
        meta->not_before = not_before;
        meta->not_after = not_after;
        rv = APR_SUCCESS;
    }
    OPENSSL_free(hex);
    BN_free(bn);
    ERR_clear_error();
    return rv;
}

/* Makes staged (encoded into the half nobody reads) the slot's published set: the generation goes
 * odd, the metadata and active half change, the generation goes even. Single writer. */
static void slots_commit(slots_slot_t *meta, const slots_slot_t *staged, apr_uint32_t half,
                         int ca_issued)
{
    apr_uint32_t gen, odd, next;

    gen = __atomic_load_n(&meta->generation, __ATOMIC_RELAXED);
    odd = (gen & 1u) ? gen : gen + 1; /* odd already: a writer died here; finish its work */
    __atomic_store_n(&meta->generation, odd, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    meta->active = half;
    meta->ca_issued = ca_issued ? 1 : 0;
    meta->key_len = staged->key_len;
    meta->data_len = staged->data_len;
    meta->cert_count = staged->cert_count;
    meta->not_before = staged->not_before;
    meta->not_after = staged->not_after;
    memcpy(meta->serial, staged->serial, sizeof(meta->serial));
    next = odd + 1;
    if (next == 0) {
        next = 2; /* 0 means "never published"; wrapping after 2^31 publishes skips it */
    }
    __atomic_store_n(&meta->generation, next, __ATOMIC_RELEASE);
}

/* The writer of slot, or NULL with a log line: no such slot, nothing given, or not ours. */
static unsigned char *slots_writer_for(autotls_slots_t *slots, int slot, int given)
{
    unsigned char *writer = slots_writer(slots);

    if (!slots_valid_index(slots, slot) || !given) {
        at_log(AT_LOG_ERR, AT_EARG,
               SLOTS_LOGNO(0901) "slots: refusing to publish into slot %d: no such slot, or "
                                 "no key or certificate given",
               slot);
        return NULL;
    }
    if (writer == NULL) {
        at_log(AT_LOG_ERR, APR_EACCES,
               SLOTS_LOGNO(0290) "slots: refusing to publish into slot %d: this process does "
                                 "not hold the writable mapping (only the parent and the "
                                 "activator do)",
               slot);
    }
    return writer;
}

/* The one log line of a set that cannot be published; passes rv on. */
static apr_status_t slots_refused(apr_status_t rv, int slot, int certs)
{
    if (rv == AT_ETOOLARGE) {
        at_log(
            AT_LOG_ERR, rv,
            SLOTS_LOGNO(0902) "slots: refusing to publish into slot %d: the key and its chain of "
                              "%d certificates exceed %d bytes of DER",
            slot, certs, AUTOTLS_SLOT_DATA_MAX);
    } else {
        at_log(AT_LOG_ERR, rv,
               SLOTS_LOGNO(0903) "slots: refusing to publish into slot %d: the key or a "
                                 "certificate cannot be encoded",
               slot);
    }
    return rv;
}

apr_status_t autotls_slots_publish(autotls_slots_t *slots, int slot, EVP_PKEY *key,
                                   const apr_array_header_t *chain, int ca_issued)
{
    unsigned char *writer =
        slots_writer_for(slots, slot, key != NULL && chain != NULL && chain->nelts > 0);
    slots_slot_t staged, *meta;
    apr_uint32_t half;
    apr_status_t rv;

    if (writer == NULL) {
        return slots_valid_index(slots, slot) && key != NULL && chain != NULL && chain->nelts > 0
                   ? APR_EACCES
                   : AT_EARG;
    }
    meta = slots_meta_w(writer, slots, slot);
    memset(&staged, 0, sizeof(staged));
    /* Single writer: nobody else changes active or generation while we run. */
    half = meta->active == 0 ? 1 : 0;
    rv = slots_encode(&staged, slots_half_w(writer, slots, slot, half), key, chain);
    if (rv == APR_SUCCESS) {
        rv = slots_describe(&staged, APR_ARRAY_IDX(chain, 0, X509 *));
    }
    if (rv != APR_SUCCESS) {
        return slots_refused(rv, slot, chain->nelts);
    }
    slots_commit(meta, &staged, half, ca_issued);
    slots_forget_pages(slots_half_w(writer, slots, slot, half), staged.data_len);
    return APR_SUCCESS;
}

/* A DER set into half (as slots_encode lays out objects); meta gets the lengths. */
static apr_status_t slots_encode_der(slots_slot_t *meta, unsigned char *half,
                                     const autotls_slot_der_t *set)
{
    apr_size_t used = set->key_len;
    int i;

    if (set->key_len == 0 || set->key_len > AUTOTLS_SLOT_DATA_MAX) {
        return set->key_len == 0 ? AT_EINVALID : AT_ETOOLARGE;
    }
    memcpy(half, set->key_der, set->key_len);
    for (i = 0; i < set->certs->nelts; i++) {
        const at_der_t *cert = &APR_ARRAY_IDX(set->certs, i, at_der_t);

        if (cert->len == 0 || cert->len > AUTOTLS_SLOT_DATA_MAX) {
            return cert->len == 0 ? AT_EINVALID : AT_ETOOLARGE;
        }
        if (used + SLOTS_LEN_BYTES + cert->len > AUTOTLS_SLOT_DATA_MAX) {
            return AT_ETOOLARGE;
        }
        slots_put_len(half + used, (apr_uint32_t)cert->len);
        memcpy(half + used + SLOTS_LEN_BYTES, cert->der, cert->len);
        used += SLOTS_LEN_BYTES + cert->len;
    }
    meta->key_len = (apr_uint32_t)set->key_len;
    meta->data_len = (apr_uint32_t)used;
    meta->cert_count = (apr_uint32_t)set->certs->nelts;
    return APR_SUCCESS;
}

apr_status_t autotls_slots_publish_der(autotls_slots_t *slots, int slot,
                                       const autotls_slot_der_t *set, int ca_issued)
{
    int given = set != NULL && set->key_der != NULL && set->certs != NULL &&
                set->certs->nelts > 0 && set->serial != NULL;
    unsigned char *writer = slots_writer_for(slots, slot, given);
    slots_slot_t staged, *meta;
    apr_uint32_t half;
    apr_status_t rv;

    if (writer == NULL) {
        return slots_valid_index(slots, slot) && given ? APR_EACCES : AT_EARG;
    }
    meta = slots_meta_w(writer, slots, slot);
    memset(&staged, 0, sizeof(staged));
    half = meta->active == 0 ? 1 : 0;
    rv = slots_encode_der(&staged, slots_half_w(writer, slots, slot, half), set);
    if (rv != APR_SUCCESS) {
        return slots_refused(rv, slot, set->certs->nelts);
    }
    strncpy(staged.serial, set->serial, sizeof(staged.serial) - 1);
    staged.not_before = set->not_before;
    staged.not_after = set->not_after;
    slots_commit(meta, &staged, half, ca_issued);
    slots_forget_pages(slots_half_w(writer, slots, slot, half), staged.data_len);
    return APR_SUCCESS;
}

/* --- reading ------------------------------------------------------------------------------ */

/* Whether copied metadata stays inside its half: every length and count the parser will use. */
static int slots_meta_sane(const slots_slot_t *meta)
{
    apr_uint32_t certs_room;

    if (meta->active >= SLOTS_HALVES || meta->data_len > AUTOTLS_SLOT_DATA_MAX ||
        meta->key_len == 0 || meta->key_len >= meta->data_len) {
        return 0;
    }
    certs_room = meta->data_len - meta->key_len;
    return meta->cert_count > 0 && meta->cert_count <= certs_room / SLOTS_CERT_MIN_BYTES;
}

/* A consistent copy of slot's metadata (and data when copy->data is set). APR_ENOENT when
 * nothing is published, AT_EINVALID when a stable slot holds lengths outside its bounds. */
static apr_status_t slots_copy(const autotls_slots_t *slots, int slot, slots_copy_t *copy,
                               apr_uint32_t *generation)
{
    const slots_slot_t *meta = slots_meta(slots, slot);
    int tries;

    for (tries = 0; tries < SLOTS_READ_RETRIES; tries++) {
        apr_uint32_t before = __atomic_load_n(&meta->generation, __ATOMIC_ACQUIRE);
        int sane;

        if (before == 0) {
            return APR_ENOENT;
        }
        if (before & 1u) {
            sched_yield();
            continue;
        }
        memcpy(&copy->meta, meta, sizeof(copy->meta));
        sane = slots_meta_sane(&copy->meta);
        if (sane && copy->data != NULL) {
            memcpy(copy->data, slots_half(slots, slot, copy->meta.active), copy->meta.data_len);
        }
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&meta->generation, __ATOMIC_RELAXED) != before) {
            continue; /* torn: a publish ran during the copy */
        }
        if (!sane) {
            return AT_EINVALID;
        }
        if (copy->data != NULL) { /* copied: the pages are not needed in this process again */
            slots_forget_pages(slots_half(slots, slot, copy->meta.active), copy->meta.data_len);
        }
        copy->meta.generation = before;
        *generation = before;
        return APR_SUCCESS;
    }
    return APR_EAGAIN;
}

apr_status_t autotls_slots_info(const autotls_slots_t *slots, int slot, autotls_slot_info_t *info)
{
    slots_copy_t copy;
    apr_uint32_t gen = 0;
    apr_status_t rv;

    memset(info, 0, sizeof(*info));
    if (!slots_valid_index(slots, slot) || slots->reader == NULL) {
        return AT_EARG;
    }
    copy.data = NULL;
    rv = slots_copy(slots, slot, &copy, &gen);
    if (rv == APR_ENOENT) {
        return APR_SUCCESS; /* generation 0: nothing published, not CA-issued */
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    info->generation = gen;
    info->ca_issued = copy.meta.ca_issued != 0;
    info->not_before = copy.meta.not_before;
    info->not_after = copy.meta.not_after;
    memcpy(info->serial, copy.meta.serial, sizeof(info->serial));
    info->serial[sizeof(info->serial) - 1] = '\0';
    return APR_SUCCESS;
}

static apr_status_t slots_free_key(void *key)
{
    EVP_PKEY_free(key);
    return APR_SUCCESS;
}

static apr_status_t slots_free_cert(void *cert)
{
    X509_free(cert);
    return APR_SUCCESS;
}

/* The length-prefixed certificate at *at (before end) into an object owned by p; *at moves past
 * it. Every length is checked against what is left. */
static apr_status_t slots_parse_cert(const unsigned char **at, const unsigned char *end,
                                     apr_pool_t *p, X509 **cert)
{
    const unsigned char *der;
    apr_uint32_t len;

    if (end - *at < SLOTS_LEN_BYTES) {
        return AT_EINVALID;
    }
    len = slots_get_len(*at);
    *at += SLOTS_LEN_BYTES;
    if (len == 0 || (apr_size_t)(end - *at) < len) {
        return AT_EINVALID;
    }
    der = *at;
    *cert = d2i_X509(NULL, &der, (long)len);
    if (*cert == NULL || der != *at + len) {
        X509_free(*cert);
        *cert = NULL;
        ERR_clear_error();
        return AT_EINVALID;
    }
    apr_pool_cleanup_register(p, *cert, slots_free_cert, apr_pool_cleanup_null);
    *at += len;
    return APR_SUCCESS;
}

/* Parses a copied set into objects owned by p; the lengths in copy->meta are sane already
 * (slots_meta_sane), and every certificate length is checked against what is left. */
static apr_status_t slots_parse(const slots_copy_t *copy, apr_pool_t *p, EVP_PKEY **key,
                                apr_array_header_t **chain)
{
    const unsigned char *at = copy->data;
    const unsigned char *end = copy->data + copy->meta.data_len;
    PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &at, (long)copy->meta.key_len);
    EVP_PKEY *parsed = p8 == NULL ? NULL : EVP_PKCS82PKEY(p8);
    apr_uint32_t i;

    PKCS8_PRIV_KEY_INFO_free(p8);
    if (parsed == NULL || at != copy->data + copy->meta.key_len) {
        EVP_PKEY_free(parsed);
        ERR_clear_error();
        return AT_EINVALID;
    }
    apr_pool_cleanup_register(p, parsed, slots_free_key, apr_pool_cleanup_null);
    *key = parsed;
    *chain = apr_array_make(p, (int)copy->meta.cert_count, sizeof(X509 *));
    for (i = 0; i < copy->meta.cert_count; i++) {
        X509 *cert;
        apr_status_t rv = slots_parse_cert(&at, end, p, &cert);

        if (rv != APR_SUCCESS) {
            return rv;
        }
        APR_ARRAY_PUSH(*chain, X509 *) = cert;
    }
    return at == end ? APR_SUCCESS : AT_EINVALID;
}

/* A consistent copy of slot's metadata and data, the data in p. */
static apr_status_t slots_copy_set(const autotls_slots_t *slots, int slot, slots_copy_t *copy,
                                   apr_uint32_t *gen, apr_pool_t *p)
{
    if (!slots_valid_index(slots, slot) || slots->reader == NULL) {
        return AT_EARG;
    }
    copy->data = apr_palloc(p, AUTOTLS_SLOT_DATA_MAX);
    return slots_copy(slots, slot, copy, gen);
}

apr_status_t autotls_slots_read(const autotls_slots_t *slots, int slot, apr_pool_t *p,
                                EVP_PKEY **key, apr_array_header_t **chain,
                                apr_uint32_t *generation)
{
    slots_copy_t copy;
    apr_uint32_t gen = 0;
    apr_status_t rv;

    *key = NULL;
    *chain = NULL;
    *generation = 0;
    rv = slots_copy_set(slots, slot, &copy, &gen, p);
    if (rv == APR_SUCCESS) {
        rv = slots_parse(&copy, p, key, chain);
    }
    if (rv == AT_EINVALID) {
        *key = NULL;
        *chain = NULL;
        at_log(AT_LOG_ERR, rv,
               SLOTS_LOGNO(0291) "slots: slot %d holds a corrupt set (key %u bytes, %u "
                                 "certificates, %u bytes in all); refused",
               slot, (unsigned)copy.meta.key_len, (unsigned)copy.meta.cert_count,
               (unsigned)copy.meta.data_len);
        return rv;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *generation = gen;
    return APR_SUCCESS;
}

/* The leaf of a copied set into an object owned by p; the key is never decoded. */
static apr_status_t slots_parse_leaf(const slots_copy_t *copy, apr_pool_t *p, X509 **leaf)
{
    const unsigned char *at = copy->data + copy->meta.key_len;

    return slots_parse_cert(&at, copy->data + copy->meta.data_len, p, leaf);
}

apr_status_t autotls_slots_read_leaf(const autotls_slots_t *slots, int slot, apr_pool_t *p,
                                     X509 **leaf, apr_uint32_t *generation)
{
    slots_copy_t copy;
    apr_uint32_t gen = 0;
    apr_status_t rv;

    *leaf = NULL;
    *generation = 0;
    rv = slots_copy_set(slots, slot, &copy, &gen, p);
    if (rv == APR_SUCCESS) {
        rv = slots_parse_leaf(&copy, p, leaf);
    }
    if (rv == APR_SUCCESS) {
        *generation = gen;
    }
    return rv;
}

#ifdef AUTOTLS_SLOTS_TESTING
void autotls_slots_test_corrupt(autotls_slots_t *slots, int slot, autotls_slots_test_field_e field,
                                apr_uint32_t value)
{
    unsigned char *writer = slots_writer(slots);
    slots_slot_t *meta = slots_meta_w(writer, slots, slot);

    switch (field) {
    case AUTOTLS_SLOTS_TEST_ACTIVE:
        meta->active = value;
        break;
    case AUTOTLS_SLOTS_TEST_KEY_LEN:
        meta->key_len = value;
        break;
    case AUTOTLS_SLOTS_TEST_DATA_LEN:
        meta->data_len = value;
        break;
    case AUTOTLS_SLOTS_TEST_CERT_COUNT:
        meta->cert_count = value;
        break;
    case AUTOTLS_SLOTS_TEST_LEAF_LEN:
        slots_put_len(slots_half_w(writer, slots, slot, meta->active) + meta->key_len, value);
        break;
    }
}
#endif
