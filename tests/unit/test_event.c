/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_event.c: event files (at_event.h) and meta.json (at_certmeta.h) read back exactly as
 * written, and anything else refused.
 *
 * The one idea: both files cross from one identity to another (root to the ACME account, root
 * to root's CLI), so their readers are strict: a wrong type, a control character, a path in a
 * site name, a URL that is no URL, an oversized file: refused, never half taken.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_file_io.h>
#include <apr_strings.h>
#include <check.h>

#include "unit_main.h"
#include "at_certmeta.h"
#include "at_core.h"
#include "at_event.h"

#define REMOVE_FDS 16

static apr_pool_t *pool;

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    return remove(path);
}

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

static apr_status_t parse_event(at_event_t **event, const char *text)
{
    return at_event_parse(event, pool, text, strlen(text));
}

START_TEST(test_event_round_trips_every_field)
{
    at_event_t *event = at_event_make(pool, AT_EVENT_RENEWED, "example.org",
                                      apr_time_from_sec(1760000000)),
               *back;
    char *text;

    event->names = at_unit_names(pool, "example.org", "www.example.org", NULL);
    event->serial = "03A1FF";
    event->not_after = apr_time_from_sec(1767225600);
    event->error = "urn:ietf:params:acme:error:rateLimited: too many";
    ck_assert_int_eq(at_event_format(&text, pool, event), APR_SUCCESS);
    ck_assert_int_eq(parse_event(&back, text), APR_SUCCESS);
    ck_assert_int_eq(back->kind, AT_EVENT_RENEWED);
    ck_assert_str_eq(back->site, "example.org");
    ck_assert_int_eq(back->names->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(back->names, 1, const char *), "www.example.org");
    ck_assert_str_eq(back->serial, "03A1FF");
    ck_assert_int_eq(apr_time_sec(back->not_after), 1767225600);
    ck_assert_str_eq(back->error, event->error);
    ck_assert_int_eq(apr_time_sec(back->time), 1760000000);
}
END_TEST

START_TEST(test_every_kind_has_a_name_that_parses_back)
{
    at_event_kind_e kind;
    int i;

    for (i = 0; i < AT_EVENT_KIND_COUNT; ++i) {
        ck_assert_ptr_nonnull(at_event_kind_name((at_event_kind_e)i));
        ck_assert_int_eq(at_event_kind_parse(&kind, at_event_kind_name((at_event_kind_e)i)),
                         APR_SUCCESS);
        ck_assert_int_eq(kind, i);
    }
    ck_assert_ptr_null(at_event_kind_name(AT_EVENT_KIND_COUNT));
    ck_assert_int_ne(at_event_kind_parse(&kind, "Obtained"), APR_SUCCESS);
}
END_TEST

static const char *const bad_events[] = {
    "",
    "[]",
    "not json",
    "{\"site\": \"a.test\"}",
    "{\"event\": \"exploded\", \"site\": \"a.test\"}",
    "{\"event\": \"obtained\"}",
    "{\"event\": \"obtained\", \"site\": \"../etc\"}",
    "{\"event\": \"obtained\", \"site\": \"a/b\"}",
    "{\"event\": \"obtained\", \"site\": \".hidden\"}",
    "{\"event\": \"obtained\", \"site\": 42}",
    "{\"event\": \"obtained\", \"site\": \"a.test\", \"serial\": \"12; rm -rf /\"}",
    "{\"event\": \"obtained\", \"site\": \"a.test\", \"error\": \"line\\nforged line\"}",
    "{\"event\": \"obtained\", \"site\": \"a.test\", \"names\": \"a.test\"}",
    "{\"event\": \"obtained\", \"site\": \"a.test\", \"names\": [\"a/../b\"]}",
    "{\"event\": \"obtained\", \"site\": \"a.test\", \"names\": [1]}",
    "{\"event\": \"obtained\", \"site\": \"a.test\", \"not_after\": -5}",
    "{\"event\": \"obtained\", \"site\": \"a.test\", \"not_after\": \"soon\"}",
    "{\"event\": \"obtained\", \"site\": \"a.test\", \"event\": \"revoked\"}",
};

START_TEST(test_bad_event_files_are_refused)
{
    at_event_t *event = (at_event_t *)&event;

    ck_assert_int_ne(parse_event(&event, bad_events[_i]), APR_SUCCESS);
    ck_assert_ptr_null(event);
}
END_TEST

START_TEST(test_an_oversized_event_file_is_refused)
{
    apr_size_t len = AT_EVENT_MAX_LEN + 1;
    char *text = apr_palloc(pool, len + 1);
    at_event_t *event;
    const char *head = "{\"event\": \"failed\", \"site\": \"a.test\", \"x\": \"";

    memset(text, 'a', len);
    memcpy(text, head, strlen(head));
    memcpy(text + len - 2, "\"}", 2);
    text[len] = '\0';
    ck_assert_int_eq(at_event_parse(&event, pool, text, len), AT_ETOOLARGE);
}
END_TEST

START_TEST(test_event_item_names)
{
    ck_assert(at_event_is_item("_event-20261205T071900.000001Z-a1b2c3d4e5f6.event"));
    ck_assert(!at_event_is_item("_event-.event"));
    ck_assert(!at_event_is_item("example.org.json"));
    ck_assert(!at_event_is_item("_event-x.json"));
}
END_TEST

/* Posted by root, taken by the renewal side: oldest first, each removed; a bad one is removed
 * too, never returned. */
START_TEST(test_posted_events_are_taken_once_in_order)
{
    char dir[] = "/tmp/at-event-XXXXXX";
    apr_array_header_t *events;
    at_store_t *store;
    int i;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(at_store_fs_open(&store, pool, dir), APR_SUCCESS);
    for (i = 0; i < 3; ++i) {
        at_event_t *event =
            at_event_make(pool, AT_EVENT_FAILED, apr_psprintf(pool, "s%d.test", i), apr_time_now());

        ck_assert_int_eq(at_event_post(store, event, pool), APR_SUCCESS);
    }
    ck_assert_int_eq(at_store_save(store, AT_STORE_JOBS, NULL, "_event-zzz.event", "{]", 2,
                                   AT_STORE_PUBLIC, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(at_event_take(&events, store, pool), APR_SUCCESS);
    ck_assert_int_eq(events->nelts, 3);
    ck_assert_int_ne(access(apr_pstrcat(pool, dir, "/jobs/_event-zzz.event", NULL), F_OK), 0);
    ck_assert_int_eq(errno, ENOENT);
    for (i = 0; i < 3; ++i) {
        ck_assert_str_eq(APR_ARRAY_IDX(events, i, at_event_t *)->site,
                         apr_psprintf(pool, "s%d.test", i));
    }
    ck_assert_int_eq(at_event_take(&events, store, pool), APR_SUCCESS);
    ck_assert_int_eq(events->nelts, 0);
    nftw(dir, remove_one, REMOVE_FDS, FTW_DEPTH | FTW_PHYS);
}
END_TEST

/* The renewal process lists jobs/ once a tick and hands that listing to the take: an event file
 * the listing does not show waits for the next look, one it shows is taken. */
START_TEST(test_events_are_taken_from_the_callers_listing)
{
    char dir[] = "/tmp/at-event-XXXXXX";
    apr_array_header_t *events, *listed;
    at_store_t *store;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(at_store_fs_open(&store, pool, dir), APR_SUCCESS);
    ck_assert_int_eq(at_event_post(store, at_event_make(pool, AT_EVENT_FAILED, "a.test", 1), pool),
                     APR_SUCCESS);
    ck_assert_int_eq(at_store_list(store, AT_STORE_JOBS, NULL, &listed, pool), APR_SUCCESS);
    ck_assert_int_eq(at_event_post(store, at_event_make(pool, AT_EVENT_FAILED, "b.test", 2), pool),
                     APR_SUCCESS);
    ck_assert_int_eq(at_event_take_listed(&events, store, listed, pool), APR_SUCCESS);
    ck_assert_int_eq(events->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(events, 0, at_event_t *)->site, "a.test");
    ck_assert_int_eq(at_event_take_listed(&events, store, NULL, pool), APR_SUCCESS);
    ck_assert_int_eq(events->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(events, 0, at_event_t *)->site, "b.test");
    nftw(dir, remove_one, REMOVE_FDS, FTW_DEPTH | FTW_PHYS);
}
END_TEST

/* ---- meta.json ---------------------------------------------------------------------------- */

START_TEST(test_certmeta_round_trips)
{
    at_certmeta_t meta = {0}, *back;
    char *text;

    meta.ca = "https://127.0.0.1:14000/dir";
    meta.ca_cert = "/etc/autotls/ca.pem";
    meta.names = at_unit_names(pool, "a.test", "www.a.test", NULL);
    meta.issued_by = AT_CERTMETA_BY_MODULE;
    ck_assert_int_eq(at_certmeta_format(&text, pool, &meta), APR_SUCCESS);
    ck_assert_int_eq(at_certmeta_parse(&back, pool, text, strlen(text)), APR_SUCCESS);
    ck_assert_str_eq(back->ca, meta.ca);
    ck_assert_str_eq(back->ca_cert, meta.ca_cert);
    ck_assert_ptr_null(back->order);
    ck_assert_str_eq(back->issued_by, AT_CERTMETA_BY_MODULE);
    ck_assert_int_eq(back->names->nelts, 2);
}
END_TEST

/* What the CLI wrote before this file existed still reads. */
START_TEST(test_certmeta_reads_what_older_cli_wrote)
{
    const char *text = "{\"ca\": \"https://ca.test/dir\", \"names\": [\"a.test\"], "
                       "\"order\": \"https://ca.test/order/1\"}";
    at_certmeta_t *meta;

    ck_assert_int_eq(at_certmeta_parse(&meta, pool, text, strlen(text)), APR_SUCCESS);
    ck_assert_str_eq(meta->ca, "https://ca.test/dir");
    ck_assert_ptr_null(meta->ca_cert);
}
END_TEST

static const char *const bad_metas[] = {
    "",
    "[\"https://ca.test/\"]",
    "{}",
    "{\"ca\": 5}",
    "{\"ca\": \"file:///etc/passwd\"}",
    "{\"ca\": \"https://ca.test/\\u0000x\"}",
    "{\"ca\": \"https://ca.test/\", \"ca_cert\": \"relative.pem\"}",
    "{\"ca\": \"https://ca.test/\", \"ca_cert\": 1}",
    "{\"ca\": \"https://ca.test/\", \"names\": {}}",
    "{\"ca\": \"https://ca.test/\", \"order\": \"gopher://x\"}",
    "{\"ca\": \"https://a.test/\", \"ca\": \"https://b.test/\"}",
};

START_TEST(test_bad_certmeta_is_refused)
{
    at_certmeta_t *meta = (at_certmeta_t *)&meta;

    ck_assert_int_ne(at_certmeta_parse(&meta, pool, bad_metas[_i], strlen(bad_metas[_i])),
                     APR_SUCCESS);
    ck_assert_ptr_null(meta);
}
END_TEST

static Suite *event_suite(void)
{
    Suite *s = suite_create("event");
    TCase *tc = tcase_create("event");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_event_round_trips_every_field);
    tcase_add_test(tc, test_every_kind_has_a_name_that_parses_back);
    tcase_add_loop_test(tc, test_bad_event_files_are_refused, 0,
                        (int)(sizeof(bad_events) / sizeof(bad_events[0])));
    tcase_add_test(tc, test_an_oversized_event_file_is_refused);
    tcase_add_test(tc, test_event_item_names);
    tcase_add_test(tc, test_posted_events_are_taken_once_in_order);
    tcase_add_test(tc, test_events_are_taken_from_the_callers_listing);
    tcase_add_test(tc, test_certmeta_round_trips);
    tcase_add_test(tc, test_certmeta_reads_what_older_cli_wrote);
    tcase_add_loop_test(tc, test_bad_certmeta_is_refused, 0,
                        (int)(sizeof(bad_metas) / sizeof(bad_metas[0])));
    suite_add_tcase(s, tc);
    return s;
}

AT_UNIT_MAIN(event_suite)
