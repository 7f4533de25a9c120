/* SPDX-License-Identifier: Apache-2.0 */
/*
 * renew_job.c: the renewal schedule of one site and its job file (see renew_job.h).
 *
 * The one idea: what is read back is never trusted further than a schedule deserves. A field
 * that is missing, of the wrong type or out of range reads as "none", so a damaged or hostile
 * job file can make a site try early, never make it stop trying.
 */
#include <string.h>
#include <strings.h>

#include <apr_strings.h>

#include "at_core.h"
#include "at_issue.h"
#include "at_job.h"
#include "at_renew.h"
#include "renew_job.h"

/* Bounds on what a job file may hold: a site has a few names, not thousands. */
#define JOB_MISSING_MAX 256
#define JOB_FAILURES_MAX 1000000
#define JOB_SECONDS_PER_MINUTE 60
#define JOB_SECONDS_PER_HOUR 3600
#define JOB_SECONDS_PER_DAY (24 * 3600)

void autotls_job_init(autotls_job_t *job)
{
    memset(job, 0, sizeof(*job));
    job->missing = json_array();
}

void autotls_job_clear(autotls_job_t *job)
{
    json_decref(job->missing);
    memset(job, 0, sizeof(*job));
}

/* The length of the well-formed UTF-8 sequence at s (as jansson checks it: no overlong forms,
 * no surrogates, nothing beyond U+10FFFF), or 0 when the bytes there are none. */
static apr_size_t job_utf8_len(const unsigned char *s)
{
    unsigned char lo = 0x80, hi = 0xbf;
    apr_size_t len, i;

    if (s[0] < 0x80) {
        return 1;
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        lo = s[0] == 0xe0 ? 0xa0 : lo;
        hi = s[0] == 0xed ? 0x9f : hi;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        lo = s[0] == 0xf0 ? 0x90 : lo;
        hi = s[0] == 0xf4 ? 0x8f : hi;
    } else {
        return 0;
    }
    if (s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (i = 2; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
    }
    return len;
}

/* Copies src cut to size, as valid UTF-8 (bytes that are not, a character cut in two included,
 * become '?'): JSON holds nothing else, and a text that json_pack refuses would cost the whole
 * job file its save. Found by tests/fuzz/fuzz_renew_job.c. */
static void job_copy_text(char *dst, apr_size_t size, const char *src)
{
    unsigned char *c;
    apr_size_t n;

    apr_cpystrn(dst, src != NULL ? src : "", size);
    for (c = (unsigned char *)dst; *c != '\0'; c += n) {
        if ((n = job_utf8_len(c)) == 0) {
            *c = '?';
            n = 1;
        }
    }
}

/* Every wait our rules set (daily backoff plus jitter, a CA's Retry-After, the next ARI poll) is
 * shorter than this: a later time read back was not written by us. */
#define JOB_WAIT_MAX apr_time_from_sec(2 * JOB_SECONDS_PER_DAY)

/* Seconds since the epoch in JSON -> apr_time_t; anything else (or negative) -> 0. */
static apr_time_t job_time(const json_t *value)
{
    json_int_t sec;

    if (!json_is_integer(value) || (sec = json_integer_value(value)) <= 0 ||
        sec > APR_INT64_MAX / APR_USEC_PER_SEC) {
        return 0;
    }
    return apr_time_from_sec(sec);
}

/* A "not before" time read back: one further away than any wait we set reads as "none", so a
 * damaged or planted file cannot park a site (until year 9999, say). */
static apr_time_t job_wait(const json_t *value)
{
    apr_time_t t = job_time(value);

    return t > apr_time_now() + JOB_WAIT_MAX ? 0 : t;
}

static int job_count(const json_t *value)
{
    json_int_t n = json_is_integer(value) ? json_integer_value(value) : 0;

    return n < 0 ? 0 : n > JOB_FAILURES_MAX ? JOB_FAILURES_MAX : (int)n;
}

static json_t *job_seconds(apr_time_t t)
{
    return json_integer(t > 0 ? (json_int_t)apr_time_sec(t) : 0);
}

static json_t *job_missing_entry(const char *name, int failures, apr_time_t next_try,
                                 const char *error)
{
    return json_pack("{s:s, s:i, s:o, s:s}", "name", name, "failures", failures, "next_try",
                     job_seconds(next_try), "last_error", error ? error : "");
}

static void job_load_ari(autotls_job_t *job, const json_t *ari)
{
    const json_t *cert_id = json_object_get(ari, "cert_id");

    if (!json_is_string(cert_id) || json_string_length(cert_id) >= AUTOTLS_JOB_CERT_ID_MAX) {
        return;
    }
    job_copy_text(job->ari.cert_id, sizeof(job->ari.cert_id), json_string_value(cert_id));
    job->ari.start = job_time(json_object_get(ari, "start"));
    job->ari.end = job_time(json_object_get(ari, "end"));
    job->ari.chosen = job_time(json_object_get(ari, "chosen"));
    job->ari.next_poll = job_wait(json_object_get(ari, "next_poll"));
    if (job->ari.end <= job->ari.start || job->ari.chosen < job->ari.start ||
        job->ari.chosen > job->ari.end) {
        job->ari.start = job->ari.end = job->ari.chosen = 0; /* poll again, decide again */
    }
}

static void job_load_missing(autotls_job_t *job, const json_t *missing)
{
    const json_t *entry;
    size_t i;

    json_array_foreach(missing, i, entry)
    {
        const json_t *name = json_object_get(entry, "name");
        const json_t *error = json_object_get(entry, "last_error");

        if (i >= JOB_MISSING_MAX) {
            break;
        }
        if (json_is_string(name) && json_string_length(name) > 0) {
            json_array_append_new(
                job->missing,
                job_missing_entry(json_string_value(name),
                                  job_count(json_object_get(entry, "failures")),
                                  job_wait(json_object_get(entry, "next_try")),
                                  json_is_string(error) ? json_string_value(error) : ""));
        }
    }
}

/* A text field that fits dst, else "" (a cut URL or serial would name something else). */
static void job_load_text(char *dst, apr_size_t size, const json_t *value)
{
    if (json_is_string(value) && json_string_length(value) < size) {
        job_copy_text(dst, size, json_string_value(value));
    }
}

static void job_load_config(autotls_job_t *job, const json_t *config)
{
    job_load_text(job->config, sizeof(job->config), config);
}

static void job_load_cas(autotls_job_t *job, const json_t *json)
{
    job_load_text(job->ca, sizeof(job->ca), json_object_get(json, "ca"));
    job->ca_failures = job_count(json_object_get(json, "ca_failures"));
    job_load_text(job->issued_ca, sizeof(job->issued_ca), json_object_get(json, "issued_ca"));
    job_load_text(job->issued_serial, sizeof(job->issued_serial),
                  json_object_get(json, "issued_serial"));
}

/* When the job file was last written: the time of an error an older release recorded without
 * one (stable, unlike the time it is looked at); now when the store cannot say. */
static apr_time_t job_file_time(at_store_t *store, const char *item, apr_pool_t *p)
{
    at_store_stat_t st;

    if (at_store_stat(store, AT_STORE_JOBS, NULL, item, &st, p) == APR_SUCCESS && st.exists &&
        st.mtime > 0) {
        return st.mtime;
    }
    return apr_time_now();
}

apr_status_t autotls_job_load(autotls_job_t *job, at_store_t *store, const char *item,
                              apr_pool_t *p)
{
    json_t *json;
    const json_t *error;
    apr_status_t rv;

    rv = at_store_load_json(store, AT_STORE_JOBS, NULL, item, &json, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (!json_is_object(json)) {
        json_decref(json);
        return AT_EPROTO;
    }
    job->failures = job_count(json_object_get(json, "failures"));
    job->next_try = job_wait(json_object_get(json, "next_try"));
    job->retry_after = job_wait(json_object_get(json, "retry_after"));
    error = json_object_get(json, AT_JOB_LAST_ERROR);
    job_copy_text(job->last_error, sizeof(job->last_error),
                  json_is_string(error) ? json_string_value(error) : "");
    job->last_error_at = job_time(json_object_get(json, AT_JOB_LAST_ERROR_AT));
    if (job->last_error[0] != '\0' && job->last_error_at == 0) {
        job->last_error_at = job_file_time(store, item, p);
    }
    error = json_object_get(json, "last_error_type");
    job_copy_text(job->last_error_type, sizeof(job->last_error_type),
                  json_is_string(error) ? json_string_value(error) : "");
    job->pending_since = job_time(json_object_get(json, "pending_since"));
    job->orphaned_since = job_time(json_object_get(json, AT_ORPHAN_SINCE_KEY));
    job_load_ari(job, json_object_get(json, "ari"));
    job_load_missing(job, json_object_get(json, "missing"));
    job_load_config(job, json_object_get(json, "config"));
    job_load_cas(job, json);
    json_decref(json);
    return APR_SUCCESS;
}

apr_status_t autotls_job_save(const autotls_job_t *job, at_store_t *store, const char *item,
                              apr_pool_t *p)
{
    json_t *json, *ari = NULL;
    apr_status_t rv;

    if (job->ari.cert_id[0] != '\0') {
        ari = json_pack("{s:s, s:o, s:o, s:o, s:o}", "cert_id", job->ari.cert_id, "start",
                        job_seconds(job->ari.start), "end", job_seconds(job->ari.end), "chosen",
                        job_seconds(job->ari.chosen), "next_poll", job_seconds(job->ari.next_poll));
    }
    json = json_pack("{s:i, s:o, s:s, s:o, s:O}", "failures", job->failures, "next_try",
                     job_seconds(job->next_try), "last_error", job->last_error, "retry_after",
                     job_seconds(job->retry_after), "missing", job->missing);
    if (json == NULL) {
        json_decref(ari);
        return APR_ENOMEM;
    }
    if (ari != NULL) {
        json_object_set_new(json, "ari", ari);
    }
    json_object_set_new(json, AT_JOB_LAST_ERROR_AT, job_seconds(job->last_error_at));
    json_object_set_new(json, "last_error_type", json_string(job->last_error_type));
    json_object_set_new(json, "pending_since", job_seconds(job->pending_since));
    if (job->config[0] != '\0') {
        json_object_set_new(json, "config", json_string(job->config));
    }
    if (job->ca[0] != '\0' || job->ca_failures > 0) {
        json_object_set_new(json, "ca", json_string(job->ca));
        json_object_set_new(json, "ca_failures", json_integer(job->ca_failures));
    }
    if (job->issued_ca[0] != '\0') {
        json_object_set_new(json, "issued_ca", json_string(job->issued_ca));
        json_object_set_new(json, "issued_serial", json_string(job->issued_serial));
    }
    rv = at_store_save_json(store, AT_STORE_JOBS, NULL, item, json, p);
    json_decref(json);
    return rv;
}

at_ca_position_t autotls_job_ca_position(const autotls_job_t *job, const apr_array_header_t *cas)
{
    at_ca_position_t pos = {0, 0};
    int index = at_ca_index(cas, job->ca);

    if (job->ca[0] == '\0' || index >= 0) {
        pos.index = index > 0 ? index : 0;
        pos.failures = job->ca_failures;
    }
    return pos;
}

void autotls_job_ca_set(autotls_job_t *job, const apr_array_header_t *cas, at_ca_position_t pos)
{
    const char *url = "";

    if (pos.index > 0 && pos.index < cas->nelts) {
        url = APR_ARRAY_IDX(cas, pos.index, at_ca_spec_t).url;
    }
    job_copy_text(job->ca, sizeof(job->ca), strlen(url) < sizeof(job->ca) ? url : "");
    job->ca_failures = pos.failures;
}

void autotls_job_issued(autotls_job_t *job, const apr_array_header_t *cas, int index,
                        const char *serial)
{
    const char *url =
        index >= 0 && index < cas->nelts ? APR_ARRAY_IDX(cas, index, at_ca_spec_t).url : "";
    at_ca_position_t first = {0, 0};

    if (strlen(url) >= sizeof(job->issued_ca) || serial == NULL ||
        strlen(serial) >= sizeof(job->issued_serial)) {
        url = serial = "";
    }
    job_copy_text(job->issued_ca, sizeof(job->issued_ca), url);
    job_copy_text(job->issued_serial, sizeof(job->issued_serial), serial);
    autotls_job_ca_set(job, cas, first);
}

int autotls_job_issuer(const autotls_job_t *job, const apr_array_header_t *cas,
                       const char *served_serial)
{
    /* unknown: with one CA, as before there were several (that CA's) */
    int unknown = cas->nelts == 1 ? 0 : -1;

    if (job->issued_ca[0] == '\0' || served_serial == NULL ||
        strcasecmp(job->issued_serial, served_serial) != 0) {
        return unknown;
    }
    return at_ca_index(cas, job->issued_ca);
}

void autotls_job_set_error(autotls_job_t *job, const char *error)
{
    job_copy_text(job->last_error, sizeof(job->last_error), error);
    job->last_error_at = apr_time_now();
    job->last_error_type[0] = '\0';
}

void autotls_job_set_error_detail(autotls_job_t *job, const char *type, apr_time_t at)
{
    job_copy_text(job->last_error_type, sizeof(job->last_error_type), type);
    job->last_error_at = at;
}

int autotls_job_pending(autotls_job_t *job, int ca_issued, apr_time_t now)
{
    apr_time_t since = ca_issued ? 0 : job->pending_since != 0 ? job->pending_since : now;

    if (since == job->pending_since) {
        return 0;
    }
    job->pending_since = since;
    return 1;
}

apr_interval_time_t autotls_job_failed(autotls_job_t *job, apr_time_t now, apr_uint32_t random,
                                       apr_interval_time_t retry_after, const char *error)
{
    apr_interval_time_t delay;

    if (job->failures < JOB_FAILURES_MAX) {
        ++job->failures;
    }
    delay = at_renew_retry_delay(job->failures, random, retry_after);
    job->next_try = now + delay;
    job->retry_after = retry_after > 0 ? now + retry_after : 0;
    autotls_job_set_error(job, error);
    return delay;
}

void autotls_job_reset(autotls_job_t *job, int all)
{
    json_t *entry;
    size_t i;

    job->failures = 0;
    job->next_try = 0;
    job->retry_after = 0;
    job->last_error[0] = '\0';
    job->last_error_type[0] = '\0';
    job->last_error_at = 0;
    if (!all) {
        return;
    }
    json_array_foreach(job->missing, i, entry)
    {
        json_object_set_new(entry, "next_try", json_integer(0));
    }
}

int autotls_job_config_changed(autotls_job_t *job, const char *fingerprint, apr_time_t now)
{
    apr_time_t retry_after = job->retry_after > now ? job->retry_after : 0;
    int waiting = job->failures > 0 || autotls_job_missing_count(job) > 0;
    int changed =
        fingerprint != NULL && job->config[0] != '\0' && strcmp(job->config, fingerprint) != 0;

    if (fingerprint != NULL) {
        apr_cpystrn(job->config, fingerprint, sizeof(job->config));
    }
    if (!changed || !waiting) {
        return 0;
    }
    autotls_job_reset(job, 1);
    job->next_try = job->retry_after = retry_after;
    return 1;
}

/* --- missing names -------------------------------------------------------------------------- */

int autotls_job_missing_count(const autotls_job_t *job)
{
    return (int)json_array_size(job->missing);
}

apr_time_t autotls_job_missing_next_try(const autotls_job_t *job)
{
    const json_t *entry;
    apr_time_t earliest = 0, t;
    size_t i;

    json_array_foreach(job->missing, i, entry)
    {
        t = job_time(json_object_get(entry, "next_try"));
        if (i == 0 || t < earliest) {
            earliest = t;
        }
    }
    return earliest;
}

int autotls_job_missing_due(const autotls_job_t *job, apr_time_t now)
{
    return autotls_job_missing_count(job) > 0 && autotls_job_missing_next_try(job) <= now;
}

const char *autotls_job_missing_names(const autotls_job_t *job, apr_pool_t *p)
{
    const json_t *entry;
    const char *out = "";
    size_t i;

    json_array_foreach(job->missing, i, entry)
    {
        out = apr_pstrcat(p, out, i ? ", " : "", json_string_value(json_object_get(entry, "name")),
                          NULL);
    }
    return out;
}

static json_t *job_missing_find(const autotls_job_t *job, const char *name)
{
    json_t *entry;
    size_t i;

    json_array_foreach(job->missing, i, entry)
    {
        const char *have = json_string_value(json_object_get(entry, "name"));

        if (have != NULL && strcasecmp(have, name) == 0) {
            return entry;
        }
    }
    return NULL;
}

static int job_names_have(const apr_array_header_t *names, const char *name)
{
    int i;

    for (i = 0; names != NULL && i < names->nelts; ++i) {
        if (strcasecmp(APR_ARRAY_IDX(names, i, const char *), name) == 0) {
            return 1;
        }
    }
    return 0;
}

int autotls_job_missing_reconcile(autotls_job_t *job, const apr_array_header_t *site_names,
                                  const apr_array_header_t *served)
{
    json_t *missing = json_array(), *entry;
    int i, added = 0;

    for (i = 0; i < site_names->nelts && i < JOB_MISSING_MAX; ++i) {
        const char *name = APR_ARRAY_IDX(site_names, i, const char *);

        if (job_names_have(served, name)) {
            continue;
        }
        if ((entry = job_missing_find(job, name)) != NULL) {
            json_array_append(missing, entry);
        } else {
            json_array_append_new(missing, job_missing_entry(name, 0, 0, ""));
            ++added;
        }
    }
    json_decref(job->missing);
    job->missing = missing;
    return added;
}

/* One failure more for entry, with its own backoff from now. */
static void job_missing_bump(json_t *entry, apr_time_t now, apr_uint32_t random,
                             apr_interval_time_t retry_after, const char *why)
{
    int failures = job_count(json_object_get(entry, "failures"));
    char error[AUTOTLS_JOB_ERROR_MAX];

    if (failures < JOB_FAILURES_MAX) {
        ++failures;
    }
    json_object_set_new(entry, "failures", json_integer(failures));
    json_object_set_new(entry, "next_try",
                        job_seconds(now + at_renew_retry_delay(failures, random, retry_after)));
    job_copy_text(error, sizeof(error), why);
    json_object_set_new(entry, "last_error", json_string(error));
}

void autotls_job_missing_from_result(autotls_job_t *job, const apr_array_header_t *failed,
                                     apr_time_t now, apr_uint32_t random)
{
    json_t *missing = json_array(), *entry;
    int i;

    for (i = 0; failed != NULL && i < failed->nelts && i < JOB_MISSING_MAX; ++i) {
        const at_issue_failed_t *f = &APR_ARRAY_IDX(failed, i, at_issue_failed_t);

        if (f->name == NULL) {
            continue;
        }
        entry = job_missing_find(job, f->name);
        entry = entry != NULL ? json_deep_copy(entry) : job_missing_entry(f->name, 0, 0, "");
        job_missing_bump(entry, now, random, 0, f->reason);
        json_array_append_new(missing, entry);
    }
    json_decref(job->missing);
    job->missing = missing;
}

apr_time_t autotls_job_missing_failed(autotls_job_t *job, apr_time_t now, apr_uint32_t random,
                                      apr_interval_time_t retry_after, const char *error)
{
    json_t *entry;
    size_t i;

    json_array_foreach(job->missing, i, entry)
    {
        job_missing_bump(entry, now, random, retry_after, error);
    }
    return autotls_job_missing_next_try(job);
}

void autotls_job_missing_clear(autotls_job_t *job)
{
    json_array_clear(job->missing);
}

/* --- texts ------------------------------------------------------------------------------------ */

const char *autotls_job_time_text(apr_pool_t *p, apr_time_t t)
{
    return at_rfc3339_format(p, t);
}

const char *autotls_job_duration_text(apr_pool_t *p, apr_interval_time_t d)
{
    apr_int64_t s = apr_time_sec(d < 0 ? -d : d);

    if (s >= JOB_SECONDS_PER_DAY) {
        return apr_psprintf(p, "%" APR_INT64_T_FMT "d %" APR_INT64_T_FMT "h",
                            s / JOB_SECONDS_PER_DAY,
                            s % JOB_SECONDS_PER_DAY / JOB_SECONDS_PER_HOUR);
    }
    if (s >= JOB_SECONDS_PER_HOUR) {
        return apr_psprintf(p, "%" APR_INT64_T_FMT "h %" APR_INT64_T_FMT "m",
                            s / JOB_SECONDS_PER_HOUR,
                            s % JOB_SECONDS_PER_HOUR / JOB_SECONDS_PER_MINUTE);
    }
    if (s >= JOB_SECONDS_PER_MINUTE) {
        return apr_psprintf(p, "%" APR_INT64_T_FMT "m %" APR_INT64_T_FMT "s",
                            s / JOB_SECONDS_PER_MINUTE, s % JOB_SECONDS_PER_MINUTE);
    }
    return apr_psprintf(p, "%" APR_INT64_T_FMT "s", s);
}
