/* SPDX-License-Identifier: Apache-2.0 */
/*
 * verdict_file.c: the verdict cache kept on disk for the next parent (at_verdict.h).
 *
 * The one idea: a new parent (every start, cold or warm) would check every live set in full in
 * its first pass, about 0.4 ms a set (4 s at 10,000 sites), although the previous parent checked
 * the very same files. So the parent writes what it remembers into one file of its own at the end
 * of a real pass that changed it, and the next parent takes it back under the rules of
 * docs/SECURITY.md ("Verdict cache"). The file adds no trust the parent's memory does not already
 * give: each entry still spares the check only of files whose identity (inode, size, mtime and
 * ctime to the nanosecond, mode, owner) is the one recorded, and only while the certificate is
 * valid; what it carries is the memory across a restart. A file that is not exactly what this
 * code writes is refused whole, and then every set is checked, as without it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_NOFOLLOW, O_CLOEXEC */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>
#include <jansson.h>
#include <openssl/crypto.h> /* OpenSSL_version */

#include "at_core.h"
#include "at_verdict.h"
#include "verdict_internal.h"

#define VF_VERSION 1
/* Who wrote the file: verdicts stand only for the checks of the same code. */
#define VF_MADE_BY_FORMAT "mod_autotls %s, %s"
#define VF_SITE_MAX 512     /* a site's name, with "_<key type>" or " placeholder" after it */
#define VF_POLICY_MAX 65536 /* a site's names, the roots file's path and the flags */
#define VF_TMP_FORMAT "%s.tmp.%ld" /* the path, this process's id */
#define VF_MODE 0600
#define VF_GROUP_OTHER_BITS 077
#define VF_PERM_BITS 07777
/* What vf_id_json, vf_entry_json and the file's top object hold: no more, no less. */
#define VF_ID_FIELDS 8
#define VF_ENTRY_FIELDS 9
#define VF_TOP_FIELDS 3
#define VF_SERIAL_CHARS "0123456789ABCDEF-" /* BN_bn2hex's spelling */

static const char *vf_entry_of(at_verdict_entry_t *e, const json_t *j);

/* This build: its version and the OpenSSL it runs with. */
static const char *vf_made_by(apr_pool_t *p)
{
    return apr_psprintf(p, VF_MADE_BY_FORMAT, AT_VERSION, OpenSSL_version(OPENSSL_VERSION));
}

/* --- writing --------------------------------------------------------------------------------- */

static json_t *vf_id_json(const at_file_id_t *id)
{
    if (!id->present) {
        return json_null();
    }
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "dev", (json_int_t)id->dev, "ino",
                     (json_int_t)id->ino, "size", (json_int_t)id->size, "mtime",
                     (json_int_t)id->mtime_ns, "ctime", (json_int_t)id->ctime_ns, "mode",
                     (json_int_t)id->mode, "uid", (json_int_t)id->uid, "gid", (json_int_t)id->gid);
}

static json_t *vf_entry_json(const at_verdict_entry_t *e)
{
    /* "o" takes the reference of each identity; json_pack releases them when it fails. */
    return json_pack("{s:s,s:s,s:o,s:o,s:o,s:I,s:I,s:s,s:b}", "site", e->site, "policy",
                     e->subject.policy, "key", vf_id_json(&e->subject.key), "chain",
                     vf_id_json(&e->subject.chain), "roots", vf_id_json(&e->subject.roots),
                     "not_before", (json_int_t)e->verdict.not_before, "not_after",
                     (json_int_t)e->verdict.not_after, "serial", e->verdict.serial, "partial",
                     e->verdict.partial != 0);
}

static apr_status_t vf_write_all(int fd, const char *data, apr_size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n < 0 ? APR_FROM_OS_ERROR(errno) : APR_EGENERAL;
        }
        data += n;
        len -= (apr_size_t)n;
    }
    return APR_SUCCESS;
}

apr_status_t at_verdict_cache_write(const at_verdict_cache_t *cache, const char *path,
                                    apr_pool_t *p)
{
    apr_array_header_t *entries;
    json_t *root, *sets;
    const char *tmp;
    char *text;
    apr_status_t rv;
    int i, fd;

    if (cache == NULL || path == NULL) {
        return AT_EARG;
    }
    entries = at_verdict_cache_entries(cache, p);
    sets = json_array();
    root =
        json_pack("{s:i,s:s,s:o}", "version", VF_VERSION, "made_by", vf_made_by(p), "sets", sets);
    if (root == NULL) {
        return APR_ENOMEM;
    }
    for (i = 0; i < entries->nelts; i++) {
        /* NULL: a text JSON cannot carry (not UTF-8), left out like one the reader refuses */
        json_t *entry = vf_entry_json(&APR_ARRAY_IDX(entries, i, at_verdict_entry_t));
        at_verdict_entry_t back;

        if (entry == NULL || vf_entry_of(&back, entry) != NULL) {
            json_decref(entry);
            continue;
        }
        if (json_array_append_new(sets, entry) != 0) {
            json_decref(root);
            return APR_ENOMEM;
        }
    }
    text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (text == NULL) {
        return APR_ENOMEM;
    }
    tmp = apr_psprintf(p, VF_TMP_FORMAT, path, (long)getpid());
    /* Ours alone (this process's name): a leftover of an earlier process with our id goes. */
    if (unlink(tmp) != 0 && errno != ENOENT) {
        rv = APR_FROM_OS_ERROR(errno);
        free(text);
        return rv;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, VF_MODE);
    if (fd < 0) {
        rv = APR_FROM_OS_ERROR(errno);
        free(text);
        return rv;
    }
    rv = fchmod(fd, VF_MODE) == 0 ? APR_SUCCESS : APR_FROM_OS_ERROR(errno); /* whatever umask */
    if (rv == APR_SUCCESS) {
        rv = vf_write_all(fd, text, strlen(text));
    }
    if (rv == APR_SUCCESS && fsync(fd) != 0) { /* the rename never outruns the bytes */
        rv = APR_FROM_OS_ERROR(errno);
    }
    free(text);
    if (close(fd) != 0 && rv == APR_SUCCESS) {
        rv = APR_FROM_OS_ERROR(errno);
    }
    if (rv == APR_SUCCESS && rename(tmp, path) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
    }
    if (rv != APR_SUCCESS) {
        unlink(tmp);
    }
    return rv;
}

/* --- reading --------------------------------------------------------------------------------- */

static int vf_int(const json_t *obj, const char *key, json_int_t *out)
{
    const json_t *v = json_object_get(obj, key);

    if (!json_is_integer(v)) {
        return 0;
    }
    *out = json_integer_value(v);
    return 1;
}

static int vf_u32(const json_t *obj, const char *key, apr_uint32_t *out)
{
    json_int_t v;

    if (!vf_int(obj, key, &v) || v < 0 || v > (json_int_t)UINT32_MAX) {
        return 0;
    }
    *out = (apr_uint32_t)v;
    return 1;
}

/* A file identity as vf_id_json wrote it; null is "no file", allowed only when !required. */
static int vf_id_of(at_file_id_t *id, const json_t *j, int required)
{
    json_int_t dev, ino, size, mtime, ctime;

    memset(id, 0, sizeof(*id));
    if (json_is_null(j)) {
        return !required;
    }
    if (!json_is_object(j) || json_object_size(j) != VF_ID_FIELDS || !vf_int(j, "dev", &dev) ||
        !vf_int(j, "ino", &ino) || !vf_int(j, "size", &size) || size < 0 ||
        !vf_int(j, "mtime", &mtime) || !vf_int(j, "ctime", &ctime) ||
        !vf_u32(j, "mode", &id->mode) || !vf_u32(j, "uid", &id->uid) ||
        !vf_u32(j, "gid", &id->gid)) {
        return 0;
    }
    id->dev = (apr_uint64_t)dev;
    id->ino = (apr_uint64_t)ino;
    id->size = size;
    id->mtime_ns = mtime;
    id->ctime_ns = ctime;
    id->present = 1;
    return 1;
}

/* A JSON string of 1..max bytes without a NUL inside (and, unless newlines, no control bytes). */
static const char *vf_text(const json_t *obj, const char *key, apr_size_t max, int newlines)
{
    const json_t *v = json_object_get(obj, key);
    const char *s = json_string_value(v);
    apr_size_t len, i;

    if (s == NULL || (len = json_string_length(v)) == 0 || len > max || strlen(s) != len) {
        return NULL;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if ((c < ' ' && !(newlines && c == '\n')) || c == 0x7f) {
            return NULL;
        }
    }
    return s;
}

/* One entry as vf_entry_json wrote it, into e (its strings point into the JSON); its problem. */
static const char *vf_entry_of(at_verdict_entry_t *e, const json_t *j)
{
    const char *serial;
    json_int_t not_before, not_after;
    const json_t *partial;

    memset(e, 0, sizeof(*e));
    if (!json_is_object(j) || json_object_size(j) != VF_ENTRY_FIELDS) {
        return "not an object of the fields written";
    }
    if ((e->site = vf_text(j, "site", VF_SITE_MAX, 0)) == NULL) {
        return "no valid site";
    }
    if ((e->subject.policy = vf_text(j, "policy", VF_POLICY_MAX, 1)) == NULL) {
        return "no valid policy";
    }
    if (!vf_id_of(&e->subject.key, json_object_get(j, "key"), 1) ||
        !vf_id_of(&e->subject.chain, json_object_get(j, "chain"), 1) ||
        !vf_id_of(&e->subject.roots, json_object_get(j, "roots"), 0)) {
        return "a file identity is not valid";
    }
    if (!vf_int(j, "not_before", &not_before) || !vf_int(j, "not_after", &not_after) ||
        not_before > not_after) {
        return "no valid validity";
    }
    serial = vf_text(j, "serial", AT_VERDICT_SERIAL_MAX, 0);
    if (serial == NULL || strspn(serial, VF_SERIAL_CHARS) != strlen(serial)) {
        return "no valid serial";
    }
    partial = json_object_get(j, "partial");
    if (!json_is_boolean(partial)) {
        return "no valid partial flag";
    }
    e->verdict.not_before = (apr_time_t)not_before;
    e->verdict.not_after = (apr_time_t)not_after;
    apr_cpystrn(e->verdict.serial, serial, sizeof(e->verdict.serial));
    e->verdict.partial = json_is_true(partial);
    return NULL;
}

/* Why the file described by st may not be believed (see at_verdict.h), or NULL. */
static const char *vf_refusal(const struct stat *st, apr_pool_t *p)
{
    if (!S_ISREG(st->st_mode)) {
        return "it is not a regular file";
    }
    if (st->st_nlink != 1) {
        return apr_psprintf(p, "it has %lu names (a hard link)", (unsigned long)st->st_nlink);
    }
    if (st->st_uid != geteuid()) {
        return apr_psprintf(p, "it is owned by uid %lu, not by this process's (%lu)",
                            (unsigned long)st->st_uid, (unsigned long)geteuid());
    }
    if ((st->st_mode & VF_GROUP_OTHER_BITS) != 0) {
        return apr_psprintf(p, "its mode %04lo opens it to group or others",
                            (unsigned long)(st->st_mode & VF_PERM_BITS));
    }
    if (st->st_size > AT_VERDICT_FILE_MAX) {
        return "it is larger than any this code writes";
    }
    return NULL;
}

/* The file's text, when the file may be believed at all (see at_verdict.h). */
static apr_status_t vf_load(char **text, apr_size_t *len, const char **why, const char *path,
                            apr_pool_t *p)
{
    struct stat st;
    apr_size_t got = 0;
    apr_status_t rv = APR_SUCCESS;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

    if (fd < 0) {
        if (errno == ENOENT) {
            return APR_ENOENT;
        }
        rv = errno == ELOOP ? AT_EMODE : APR_FROM_OS_ERROR(errno);
        *why = errno == ELOOP ? "it is a symbolic link" : "it cannot be opened";
        return rv;
    }
    if (fstat(fd, &st) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        *why = "it cannot be looked at (fstat)";
    } else if ((*why = vf_refusal(&st, p)) != NULL) {
        rv = st.st_size > AT_VERDICT_FILE_MAX ? AT_ETOOLARGE : AT_EMODE;
    }
    if (rv == APR_SUCCESS) {
        *len = (apr_size_t)st.st_size;
        *text = apr_palloc(p, *len + 1);
        while (got < *len) {
            ssize_t n = read(fd, *text + got, *len - got);

            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                break;
            }
            got += (apr_size_t)n;
        }
        if (got != *len) {
            rv = AT_EPROTO, *why = "it changed size while it was read";
        }
        (*text)[got] = '\0';
    }
    close(fd);
    return rv;
}

apr_status_t at_verdict_cache_read(at_verdict_cache_t *cache, const char *path, apr_time_t now,
                                   int *added, const char **why, apr_pool_t *p)
{
    apr_array_header_t *entries;
    json_error_t err;
    json_t *root, *sets;
    const char *made_by, *us;
    char *text = NULL;
    apr_size_t len = 0, i;
    apr_status_t rv;

    *added = 0;
    *why = NULL;
    if (cache == NULL || path == NULL) {
        return AT_EARG;
    }
    if ((rv = vf_load(&text, &len, why, path, p)) != APR_SUCCESS) {
        return rv;
    }
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    sets = json_object_get(root, "sets");
    made_by = json_string_value(json_object_get(root, "made_by"));
    if (root == NULL || !json_is_object(root) || json_object_size(root) != VF_TOP_FIELDS ||
        made_by == NULL || !json_is_integer(json_object_get(root, "version")) ||
        json_integer_value(json_object_get(root, "version")) != VF_VERSION ||
        !json_is_array(sets)) {
        *why = root == NULL ? apr_psprintf(p, "it is not JSON (%s, line %d)", err.text, err.line)
                            : "it is not a verdict file of this version";
        json_decref(root);
        return AT_EPROTO;
    }
    if (strcmp(made_by, (us = vf_made_by(p))) != 0) {
        *why = apr_psprintf(p, "it was written by %s, this is %s", made_by, us);
        json_decref(root);
        return APR_SUCCESS;
    }
    /* All or nothing: every entry is read before any is taken. */
    entries = apr_array_make(p, (int)json_array_size(sets) + 1, sizeof(at_verdict_entry_t));
    for (i = 0; i < json_array_size(sets); i++) {
        const char *problem = vf_entry_of(apr_array_push(entries), json_array_get(sets, i));

        if (problem != NULL) {
            *why = apr_psprintf(p, "entry %lu: %s", (unsigned long)i, problem);
            json_decref(root);
            return AT_EPROTO;
        }
    }
    for (i = 0; i < (apr_size_t)entries->nelts; i++) {
        const at_verdict_entry_t *e = &APR_ARRAY_IDX(entries, i, at_verdict_entry_t);

        /* Expired: no use; changed too recently: at_verdict_store refuses it as always. */
        if (now <= e->verdict.not_after &&
            at_verdict_store(cache, e->site, &e->subject, &e->verdict, now) == APR_SUCCESS) {
            (*added)++;
        }
    }
    json_decref(root);
    return APR_SUCCESS;
}
