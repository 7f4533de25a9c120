/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_status.c: the state model of a site, the monitoring levels, the status snapshot's JSON
 * (written, joined from pieces, read back strictly) and its Prometheus text; and the store's size
 * cap of the snapshot, which alone may exceed the 4 MiB of every other item.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw */
#endif

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "at_core.h"
#include "at_name.h"
#include "at_renew.h"
#include "at_status.h"
#include "at_store.h"
#include "unit_main.h"

#define DAY apr_time_from_sec(24 * 3600)
#define MINUTE apr_time_from_sec(60)
#define HOUR apr_time_from_sec(3600)
#define NOW apr_time_from_sec(1800000000)

static apr_pool_t *pool;

static void setup(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

/* A site with a 90-day certificate issued 10 days ago. */
static at_status_site_t *valid_site(at_status_t *status, const char *name)
{
    at_status_site_t *s = at_status_site_add(status, name, pool);

    APR_ARRAY_PUSH(s->names, const char *) = name;
    s->has_cert = 1;
    s->serial = "0A1B";
    s->issuer = "Pebble Intermediate CA 1";
    s->not_before = NOW - 10 * DAY;
    s->not_after = NOW + 80 * DAY;
    s->next_renewal = NOW + 50 * DAY;
    s->next_reason = AT_STATUS_NEXT_LIFETIME;
    s->state = at_status_derive(s, 0, 0, NOW);
    return s;
}

/* The whole snapshot's text as a writer makes it: the server part joined with each site's. */
static char *status_dumps(const at_status_t *status)
{
    const char **texts = apr_pcalloc(pool, sizeof(*texts) * (status->sites->nelts + 1));
    apr_size_t len;
    char *out;
    int i;

    for (i = 0; i < status->sites->nelts; ++i) {
        texts[i] = at_status_site_dumps(APR_ARRAY_IDX(status->sites, i, at_status_site_t *), pool);
    }
    out = at_status_join(status, texts, status->sites->nelts, &len, pool);
    for (i = 0; i < status->sites->nelts; ++i) {
        free((char *)texts[i]);
    }
    return out;
}

START_TEST(test_state_names_round_trip)
{
    at_status_t *status;
    char *text;
    int i;

    for (i = 0; i < AT_STATUS_STATE_COUNT; ++i) {
        status = at_status_make(pool);
        at_status_site_add(status, "a.test", pool)->state = (at_status_state_e)i;
        text = status_dumps(status);
        ck_assert_int_eq(at_status_parse(&status, text, strlen(text), pool), APR_SUCCESS);
        free(text);
        ck_assert_int_eq(APR_ARRAY_IDX(status->sites, 0, at_status_site_t *)->state, i);
    }
    ck_assert_str_eq(at_status_state_name(AT_STATUS_FAILING), "failing");
    ck_assert_ptr_null(at_status_state_name(AT_STATUS_STATE_COUNT));
    ck_assert_str_eq(at_status_next_name(AT_STATUS_NEXT_ARI), "ari");
    ck_assert_str_eq(at_status_order_name(AT_STATUS_ORDER_RATE_LIMITED), "rate_limited");
}
END_TEST

START_TEST(test_derive_follows_the_rules_in_order)
{
    at_status_t *status = at_status_make(pool);
    at_status_site_t *s = valid_site(status, "a.example");

    ck_assert_int_eq(at_status_derive(s, 0, 0, NOW), AT_STATUS_VALID);
    ck_assert_int_eq(at_status_derive(s, 0, 1, NOW), AT_STATUS_RENEWING);
    s->failures = 2;
    ck_assert_int_eq(at_status_derive(s, 0, 1, NOW), AT_STATUS_FAILING);
    ck_assert_int_eq(at_status_derive(s, 0, 0, s->not_after), AT_STATUS_EXPIRED);
    ck_assert_int_eq(at_status_derive(s, 1, 0, s->not_after), AT_STATUS_ORPHANED);
    s->failures = 0;
    s->has_cert = 0;
    ck_assert_int_eq(at_status_derive(s, 0, 1, NOW), AT_STATUS_PENDING);
}
END_TEST

START_TEST(test_reader_reports_expiry_that_happened_after_the_write)
{
    at_status_t *status = at_status_make(pool);
    at_status_site_t *s = valid_site(status, "a.example");

    ck_assert_int_eq(at_status_state_at(s, NOW), AT_STATUS_VALID);
    ck_assert_int_eq(at_status_state_at(s, s->not_after + 1), AT_STATUS_EXPIRED);
    s->has_cert = 0;
    s->state = AT_STATUS_PENDING;
    ck_assert_int_eq(at_status_state_at(s, s->not_after + 1), AT_STATUS_PENDING);
}
END_TEST

START_TEST(test_check_levels_follow_the_monitoring_convention)
{
    at_status_t *status = at_status_make(pool);
    at_status_site_t *s = valid_site(status, "a.example");
    const char *why;

    ck_assert_int_eq(at_status_site_check(s, NOW, &why, pool), AT_STATUS_CHECK_OK);
    ck_assert_str_eq(why, "");
    /* inside the warn window */
    ck_assert_int_eq(
        at_status_site_check(s, at_renew_warn_time(s->not_before, s->not_after), &why, pool),
        AT_STATUS_CHECK_WARNING);
    ck_assert_ptr_nonnull(strstr(why, "expires at"));
    ck_assert_int_eq(at_status_site_check(s, s->not_after, &why, pool), AT_STATUS_CHECK_CRITICAL);
    ck_assert_ptr_nonnull(strstr(why, "expired"));
    s->failures = 1;
    s->last_error.detail = "dns problem";
    s->state = AT_STATUS_FAILING;
    ck_assert_int_eq(at_status_site_check(s, NOW, &why, pool), AT_STATUS_CHECK_WARNING);
    ck_assert_str_eq(why, "failing (1 failure(s))");
    /* pending: fine for an hour, a warning after, critical after a day */
    s->failures = 0;
    s->has_cert = 0;
    s->state = AT_STATUS_PENDING;
    s->pending_since = NOW - HOUR + 1;
    ck_assert_int_eq(at_status_site_check(s, NOW, &why, pool), AT_STATUS_CHECK_OK);
    s->pending_since = NOW - HOUR;
    ck_assert_int_eq(at_status_site_check(s, NOW, &why, pool), AT_STATUS_CHECK_WARNING);
    s->pending_since = NOW - DAY;
    ck_assert_int_eq(at_status_site_check(s, NOW, &why, pool), AT_STATUS_CHECK_CRITICAL);
    s->state = AT_STATUS_ORPHANED;
    ck_assert_int_eq(at_status_site_check(s, NOW, &why, pool), AT_STATUS_CHECK_WARNING);
}
END_TEST

static at_status_t *sample(void)
{
    at_status_t *status = at_status_make(pool);
    at_status_site_t *s;

    status->ca = "https://ca.example/dir";
    status->account = "https://ca.example/acct/1";
    status->generated = NOW;
    status->orders_in_flight = 1;
    status->orders_total[AT_STATUS_ORDER_ISSUED] = 3;
    status->orders_total[AT_STATUS_ORDER_FAILED] = 2;
    status->ca_requests_total = 41;
    valid_site(status, "a.example");
    s = at_status_site_add(status, "b.example", pool);
    APR_ARRAY_PUSH(s->names, const char *) = "b.example";
    APR_ARRAY_PUSH(s->names, const char *) = "www.b.example";
    APR_ARRAY_PUSH(s->missing, const char *) = "www.b.example";
    s->failures = 4;
    s->last_error.type = "urn:ietf:params:acme:error:dns";
    s->last_error.detail = "no such host \"www.b.example\"";
    s->last_error.at = NOW - HOUR;
    s->next_renewal = NOW + HOUR;
    s->next_reason = AT_STATUS_NEXT_BACKOFF;
    s->pending_since = NOW - 2 * HOUR;
    s->ca = "https://ca2.example/dir"; /* failed over to the second CA of the list */
    s->state = at_status_derive(s, 0, 0, NOW);
    return status;
}

static void assert_sample(const at_status_t *got)
{
    const at_status_site_t *a, *b;

    ck_assert_str_eq(got->ca, "https://ca.example/dir");
    ck_assert_str_eq(got->account, "https://ca.example/acct/1");
    ck_assert_str_eq(got->version, AT_VERSION);
    ck_assert_int_eq(got->generated, NOW);
    ck_assert_int_eq(got->orders_in_flight, 1);
    ck_assert_int_eq(got->orders_total[AT_STATUS_ORDER_ISSUED], 3);
    ck_assert_int_eq(got->orders_total[AT_STATUS_ORDER_FAILED], 2);
    ck_assert_int_eq(got->ca_requests_total, 41);
    ck_assert_int_eq(got->sites->nelts, 2);
    a = APR_ARRAY_IDX(got->sites, 0, at_status_site_t *);
    b = APR_ARRAY_IDX(got->sites, 1, at_status_site_t *);
    ck_assert_str_eq(a->site, "a.example");
    ck_assert_int_eq(a->state, AT_STATUS_VALID);
    ck_assert(a->has_cert);
    ck_assert_str_eq(a->serial, "0A1B");
    ck_assert_str_eq(a->issuer, "Pebble Intermediate CA 1");
    ck_assert_int_eq(a->not_after, NOW + 80 * DAY);
    ck_assert_int_eq(a->next_reason, AT_STATUS_NEXT_LIFETIME);
    ck_assert_int_eq(a->last_error.at, 0);
    ck_assert_str_eq(b->site, "b.example");
    ck_assert_int_eq(b->state, AT_STATUS_FAILING);
    ck_assert_int_eq(b->names->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(b->missing, 0, const char *), "www.b.example");
    ck_assert_int_eq(b->failures, 4);
    ck_assert_str_eq(b->last_error.type, "urn:ietf:params:acme:error:dns");
    ck_assert_str_eq(b->last_error.detail, "no such host \"www.b.example\"");
    ck_assert_int_eq(b->last_error.at, NOW - HOUR);
    ck_assert_int_eq(b->next_reason, AT_STATUS_NEXT_BACKOFF);
    ck_assert_int_eq(b->pending_since, NOW - 2 * HOUR);
    ck_assert_str_eq(b->ca, "https://ca2.example/dir");
    ck_assert_str_eq(a->ca, ""); /* none set: "" */
}

START_TEST(test_snapshot_round_trips)
{
    char *text = status_dumps(sample());
    at_status_t *got;

    ck_assert_ptr_nonnull(text);
    ck_assert_int_eq(at_status_parse(&got, text, strlen(text), pool), APR_SUCCESS);
    assert_sample(got);
    free(text);
}
END_TEST

START_TEST(test_snapshot_joined_from_pieces_reads_the_same)
{
    at_status_t *status = sample();
    const char *texts[2];
    json_t *json = at_status_to_json(status, 0, pool);
    char *joined, *whole = json_dumps(json, JSON_COMPACT); /* the document as one object */
    apr_size_t len;
    at_status_t *got;
    int i;

    json_decref(json);
    for (i = 0; i < 2; ++i) {
        texts[i] = at_status_site_dumps(APR_ARRAY_IDX(status->sites, i, at_status_site_t *), pool);
    }
    joined = at_status_join(status, texts, 2, &len, pool);
    ck_assert_ptr_nonnull(joined);
    ck_assert_uint_eq(len, strlen(joined));
    ck_assert_str_eq(joined, whole);
    ck_assert_int_eq(at_status_parse(&got, joined, len, pool), APR_SUCCESS);
    assert_sample(got);
    free(joined);
    free(whole);
    for (i = 0; i < 2; ++i) {
        free((char *)texts[i]);
    }
    joined = at_status_join(status, NULL, 0, &len, pool);
    ck_assert_int_eq(at_status_parse(&got, joined, len, pool), APR_SUCCESS);
    ck_assert_int_eq(got->sites->nelts, 0);
    free(joined);
}
END_TEST

/* The sample's text with one piece replaced: what a damaged or hostile snapshot looks like. */
static apr_status_t parse_altered(const char *from, const char *to)
{
    char *text = status_dumps(sample()), *at = strstr(text, from);
    const char *altered;
    at_status_t *got = (at_status_t *)1;
    apr_status_t rv;

    ck_assert_msg(at != NULL, "%s not in %s", from, text);
    altered = apr_pstrcat(pool, apr_pstrndup(pool, text, (apr_size_t)(at - text)), to,
                          at + strlen(from), NULL);
    free(text);
    rv = at_status_parse(&got, altered, strlen(altered), pool);
    ck_assert_ptr_null(got);
    return rv;
}

START_TEST(test_reader_refuses_what_the_writer_does_not_write)
{
    at_status_t *got;

    ck_assert_int_eq(at_status_parse(&got, "", 0, pool), AT_EPROTO);
    ck_assert_int_eq(at_status_parse(&got, "{\"format\":1", 11, pool), AT_EPROTO);
    ck_assert_int_eq(at_status_parse(&got, "[]", 2, pool), AT_EPROTO);
    ck_assert_int_eq(at_status_parse(&got, NULL, 0, pool), AT_EPROTO);
    ck_assert_int_eq(parse_altered("\"format\":1", "\"format\":2"), AT_EPROTO);
    ck_assert_int_eq(parse_altered("\"state\":\"valid\"", "\"state\":\"fine\""), AT_EPROTO);
    ck_assert_int_eq(parse_altered("\"failures\":4", "\"failures\":\"4\""), AT_EPROTO);
    ck_assert_int_eq(parse_altered("\"failures\":4", "\"failures\":-4"), AT_EPROTO);
    ck_assert_int_eq(parse_altered("\"serial\":\"0A1B\",", ""), AT_EPROTO);
    ck_assert_int_eq(parse_altered("\"not_after\":\"", "\"not_after\":\"yesterday"), AT_EPROTO);
    ck_assert_int_eq(parse_altered("\"names\":[\"a.example\"]", "\"names\":[1]"), AT_EPROTO);
    ck_assert_int_eq(parse_altered("\"ca_requests_total\":41", "\"ca_requests_total\":null"),
                     AT_EPROTO);
    ck_assert_int_eq(parse_altered("\"sites\":[", "\"sites\":[7,"), AT_EPROTO);
    ck_assert_int_eq(parse_altered("\"ca\":", "\"ca\":1,\"ca\":"), AT_EPROTO); /* duplicate */
}
END_TEST

START_TEST(test_metrics_have_help_type_and_escaped_labels)
{
    at_status_t *status = sample();
    at_status_site_t *odd = valid_site(status, "we\"ird\\site\nname");
    const char *text;

    odd->has_cert = 1;
    text = at_status_metrics(status, NOW, pool);
    ck_assert_ptr_nonnull(strstr(text, "# HELP autotls_certificate_expiry_timestamp_seconds "));
    ck_assert_ptr_nonnull(
        strstr(text, "# TYPE autotls_certificate_expiry_timestamp_seconds gauge\n"));
    ck_assert_ptr_nonnull(
        strstr(text, apr_psprintf(pool,
                                  "autotls_certificate_expiry_timestamp_"
                                  "seconds{site=\"a.example\"} %" APR_TIME_T_FMT "\n",
                                  apr_time_sec(NOW + 80 * DAY))));
    ck_assert_ptr_nonnull(strstr(text, "autotls_certificate_valid{site=\"a.example\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "autotls_certificate_valid{site=\"b.example\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(text, "autotls_renewal_failures{site=\"b.example\"} 4\n"));
    ck_assert_ptr_nonnull(strstr(text, "autotls_orders_total{result=\"issued\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(text, "# TYPE autotls_orders_total counter\n"));
    ck_assert_ptr_nonnull(strstr(text, "autotls_ca_requests_total 41\n"));
    ck_assert_ptr_nonnull(strstr(text, "autotls_sites{state=\"valid\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(text, "autotls_sites{state=\"failing\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "{site=\"we\\\"ird\\\\site\\nname\"}"));
    /* expired since the write: no longer valid, counted as expired */
    text = at_status_metrics(status, NOW + 81 * DAY, pool);
    ck_assert_ptr_nonnull(strstr(text, "autotls_certificate_valid{site=\"a.example\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(text, "autotls_sites{state=\"expired\"} 2\n"));
}
END_TEST

/* ---- a fleet's view (issue 13 item 8) ----------------------------------------------------------
 */

static at_status_t *fleet_sample(void)
{
    at_status_t *status = sample();
    at_status_fleet_t *fleet = at_status_fleet_make(status, "node-a", pool);
    at_status_lease_t *mine = apr_pcalloc(pool, sizeof(*mine)), *theirs;

    APR_ARRAY_PUSH(fleet->nodes_live, const char *) = "node-a";
    APR_ARRAY_PUSH(fleet->nodes_live, const char *) = "node-b";
    mine->site = "a.example";
    mine->node = "node-a";
    mine->until = NOW + 2 * MINUTE;
    theirs = apr_pcalloc(pool, sizeof(*theirs));
    theirs->site = "b.example";
    theirs->node = "no\"de-b";
    theirs->until = NOW + MINUTE;
    APR_ARRAY_PUSH(fleet->leases, at_status_lease_t *) = mine;
    APR_ARRAY_PUSH(fleet->leases, at_status_lease_t *) = theirs;
    return status;
}

START_TEST(test_fleet_part_round_trips_and_leases_end_at_their_time)
{
    char *text = status_dumps(fleet_sample());
    const at_status_lease_t *l;
    apr_array_header_t *held;
    at_status_t *got;

    ck_assert_int_eq(at_status_parse(&got, text, strlen(text), pool), APR_SUCCESS);
    free(text);
    assert_sample(got);
    ck_assert_ptr_nonnull(got->fleet);
    ck_assert_str_eq(got->fleet->node, "node-a");
    ck_assert_str_eq(at_name_list_text(pool, got->fleet->nodes_live, ","), "node-a,node-b");
    ck_assert_int_eq(got->fleet->leases->nelts, 2);
    l = APR_ARRAY_IDX(got->fleet->leases, 1, at_status_lease_t *);
    ck_assert_str_eq(l->site, "b.example");
    ck_assert_str_eq(l->node, "no\"de-b");
    ck_assert_int_eq(l->until, NOW + MINUTE);
    /* a reader shows only the leases still held */
    ck_assert_int_eq(at_status_leases_at(got->fleet, NOW, pool)->nelts, 2);
    held = at_status_leases_at(got->fleet, NOW + MINUTE, pool);
    ck_assert_int_eq(held->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(held, 0, at_status_lease_t *)->node, "node-a");
    text = at_status_metrics(got, NOW + MINUTE, pool);
    ck_assert_ptr_nonnull(strstr(text, "# TYPE autotls_fleet_node_live gauge\n"));
    ck_assert_ptr_nonnull(strstr(text, "autotls_fleet_node_live{node=\"node-b\"} 1\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "autotls_fleet_lease{site=\"a.example\",node=\"node-a\"} 1\n"));
    ck_assert_ptr_null(strstr(text, "b.example\",node="));
    /* without a fleet: "fleet" is null, no fleet family; a snapshot without the member (an
     * older release's) reads as no fleet */
    text = status_dumps(sample());
    ck_assert_ptr_nonnull(strstr(text, "\"fleet\":null"));
    ck_assert_int_eq(at_status_parse(&got, text, strlen(text), pool), APR_SUCCESS);
    ck_assert_ptr_null(got->fleet);
    ck_assert_ptr_null(strstr(at_status_metrics(got, NOW, pool), "autotls_fleet"));
    memmove(strstr(text, "\"fleet\":null,"),
            strstr(text, "\"fleet\":null,") + strlen("\"fleet\":null,"),
            strlen(strstr(text, "\"fleet\":null,") + strlen("\"fleet\":null,")) + 1);
    ck_assert_ptr_null(strstr(text, "fleet"));
    ck_assert_int_eq(at_status_parse(&got, text, strlen(text), pool), APR_SUCCESS);
    ck_assert_ptr_null(got->fleet);
    free(text);
}
END_TEST

START_TEST(test_reader_refuses_a_damaged_fleet_part)
{
    ck_assert_int_eq(parse_altered("\"fleet\":null", "\"fleet\":[]"), AT_EPROTO);
    ck_assert_int_eq(parse_altered("\"fleet\":null", "\"fleet\":{\"node\":\"a\"}"), AT_EPROTO);
    ck_assert_int_eq(parse_altered("\"fleet\":null", "\"fleet\":{\"node\":\"a\",\"nodes_live\":[1],"
                                                     "\"leases\":[]}"),
                     AT_EPROTO);
    ck_assert_int_eq(parse_altered("\"fleet\":null", "\"fleet\":{\"node\":\"a\",\"nodes_live\":[],"
                                                     "\"leases\":[{\"site\":\"x\",\"node\":\"b\","
                                                     "\"until\":\"soon\"}]}"),
                     AT_EPROTO);
}
END_TEST

/* ---- the store's cap ------------------------------------------------------------------------ */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

START_TEST(test_store_takes_a_snapshot_beyond_the_item_cap_and_nothing_else)
{
    char dir[] = "/tmp/at_status_XXXXXX";
    apr_size_t big = AT_STORE_MAX_ITEM + 1024 * 1024, len;
    char *data = malloc(big), *back;
    at_store_t *store;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    memset(data, 'x', big);
    ck_assert_int_eq(at_store_fs_open(&store, pool, dir), APR_SUCCESS);
    ck_assert_uint_eq(at_store_item_max(AT_STORE_STATUS), AT_STATUS_MAX_ITEM);
    ck_assert_uint_eq(at_store_item_max(AT_STORE_JOBS), AT_STORE_MAX_ITEM);
    ck_assert_str_eq(at_store_group_name(AT_STORE_STATUS), "status");
    ck_assert_int_eq(
        at_store_save(store, AT_STORE_JOBS, NULL, "big", data, big, AT_STORE_PUBLIC, pool),
        AT_ETOOLARGE);
    ck_assert_int_eq(at_store_save(store, AT_STORE_STATUS, NULL, AT_STATUS_ITEM, data, big,
                                   AT_STORE_PUBLIC, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(at_store_load(store, AT_STORE_STATUS, NULL, AT_STATUS_ITEM, &back, &len,
                                   AT_STORE_PUBLIC, pool),
                     APR_SUCCESS);
    ck_assert_uint_eq(len, big);
    /* the same file in jobs/ is refused on load */
    ck_assert_int_eq(
        at_store_save(store, AT_STORE_JOBS, NULL, "small", "x", 1, AT_STORE_PUBLIC, pool),
        APR_SUCCESS);
    ck_assert_int_eq(rename(apr_pstrcat(pool, dir, "/status/" AT_STATUS_ITEM, NULL),
                            apr_pstrcat(pool, dir, "/jobs/big", NULL)),
                     0);
    ck_assert_int_eq(
        at_store_load(store, AT_STORE_JOBS, NULL, "big", &back, &len, AT_STORE_PUBLIC, pool),
        AT_ETOOLARGE);
    free(data);
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}
END_TEST

static Suite *status_suite(void)
{
    Suite *s = suite_create("status");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_state_names_round_trip);
    tcase_add_test(tc, test_derive_follows_the_rules_in_order);
    tcase_add_test(tc, test_reader_reports_expiry_that_happened_after_the_write);
    tcase_add_test(tc, test_check_levels_follow_the_monitoring_convention);
    tcase_add_test(tc, test_snapshot_round_trips);
    tcase_add_test(tc, test_snapshot_joined_from_pieces_reads_the_same);
    tcase_add_test(tc, test_reader_refuses_what_the_writer_does_not_write);
    tcase_add_test(tc, test_metrics_have_help_type_and_escaped_labels);
    tcase_add_test(tc, test_fleet_part_round_trips_and_leases_end_at_their_time);
    tcase_add_test(tc, test_reader_refuses_a_damaged_fleet_part);
    tcase_add_test(tc, test_store_takes_a_snapshot_beyond_the_item_cap_and_nothing_else);
    suite_add_tcase(s, tc);
    return s;
}

AT_UNIT_MAIN(status_suite)
