# SPDX-License-Identifier: Apache-2.0
"""Issuance at the CA's pace (issue 10): the order bucket and the CA's 429s, seen from the CA.

The one idea to hold: every claim is checked where the CA sees it, at the AriProxy in front of
pebble, which records each newOrder pebble created or the proxy refused (proxy.orders) and can
answer the next newOrders with a 429, a Retry-After and a rateLimited problem document worded as
Let's Encrypt words it (proxy.rate_limit); and where an operator sees it: the certificate a TLS
handshake gets, the job file, the error log.

  (a) `AutoTLSCARate 5/10s`: a burst of 5 orders, then one every 2 s (a token bucket, as Let's
      Encrypt's own: burst N, one token back every DURATION/N); all 12 sites are served;
  (b) an account-wide 429 ("too many new orders ... from this account") holds every order until
      its Retry-After, and the site it hit counts no failure;
  (c) a 429 naming a registered domain holds the sites under it (the one refused and the one
      never ordered) while another site still gets its certificate.

Runs as root only.
"""

import json
import os
import re
import time

from ari_proxy import AriProxy
from autotls_server import AutoTLSServer, Site, skip_unless_runnable, wait_for

MODULE = skip_unless_runnable()

ISSUER = "Pebble"
SERVED_TIMEOUT = 30.0
POLL = 0.05  # seconds between looks at the proxy's record

# (a)
RATE_SITES = [Site("s%02d.pace.test" % i) for i in range(12)]
RATE_BURST = 5
RATE_PERIOD = 10.0  # seconds: AutoTLSCARate 5/10s
RATE_STEP = RATE_PERIOD / RATE_BURST  # one token back every 2 s
RATE_SLACK = 0.5  # seconds: the proxy is sampled every POLL, the module ticks every second
RATE_ALL_TIMEOUT = 60.0  # 12 orders at one per 2 s after the burst: 14 s, plus issuance

# (b)
ACCOUNT_SITES = [Site("first.account-limit.test"), Site("second.account-limit.test")]
ACCOUNT_RETRY_AFTER = 6  # seconds
ACCOUNT_DETAIL = ("too many new orders (300) from this account in the last 3h0m0s, retry after "
                  "2030-01-01 00:00:00 UTC: see "
                  "https://letsencrypt.org/docs/rate-limits/#new-orders-per-account")
RESUME_SLACK = 0.5  # seconds the next order may precede the Retry-After (clock sampling)

# (c)
DOMAIN = "blocked.test"
# httpd keeps vhosts in reverse order and new sites are ordered in the module's order of its
# sites: the free site, written first, comes last, after the 429 (the assertions do not depend
# on it; it only makes "still gets its certificate" happen while the domain is held).
DOMAIN_SITES = [Site("free.other.test"), Site("a." + DOMAIN), Site("b." + DOMAIN)]
DOMAIN_RETRY_AFTER = 60  # seconds
DOMAIN_DETAIL = ('too many certificates (50) already issued for "%s" in the last 168h0m0s, '
                 "retry after 2030-01-01 00:00:00 UTC: see https://letsencrypt.org/docs/"
                 "rate-limits/#new-certificates-per-registered-domain" % DOMAIN)
WATCH_SECONDS = 3.0  # renewal ticks are 1 s: an order for a held site would show by then
BACKOFF_SLACK = 3.0  # seconds between the 429 and the job file's write, and rounding


def extra(*directives):
    return "\n".join(directives)


def order_times(proxy, count, timeout, server):
    """Monotonic times at which proxy.orders reached 1, 2, ... count entries."""
    times = []
    deadline = time.monotonic() + timeout
    while len(times) < count:
        if time.monotonic() > deadline:
            raise AssertionError("%d of %d orders within %.0f s\n%s"
                                 % (len(times), count, timeout, server.log_tail()))
        seen, now = len(proxy.orders), time.monotonic()
        times += [now] * (seen - len(times))
        time.sleep(POLL)
    return times


def read_job(server, site):
    with open(os.path.join(server.store, "jobs", site + ".json")) as f:
        return json.load(f)


def test_ca_rate_gives_a_burst_then_one_order_per_step_and_serves_every_site(pebble):
    config = extra("AutoTLSCARate %d/%ds" % (RATE_BURST, RATE_PERIOD), "AutoTLSOrdersInFlight 4")
    with AriProxy(pebble) as proxy, \
            AutoTLSServer(RATE_SITES, pebble=pebble, ca_url=proxy.directory_url,
                          extra=config) as server:
        times = order_times(proxy, len(RATE_SITES), RATE_ALL_TIMEOUT, server)
        first = times[0]
        # The k-th order (k > burst) waits for k - burst tokens to come back.
        for k, at in enumerate(times, start=1):
            earliest = max(0, k - RATE_BURST) * RATE_STEP - RATE_SLACK
            assert at - first >= earliest, (
                "order %d came %.2f s after the first, the bucket allows it after %.1f s"
                % (k, at - first, earliest + RATE_SLACK))
        early = [at for at in times if at - first < RATE_STEP - RATE_SLACK]
        assert len(early) <= RATE_BURST, [round(at - first, 2) for at in times]
        for site in RATE_SITES:
            server.wait_until_served(site.name, ISSUER, SERVED_TIMEOUT)
        log = server.error_log()
        assert re.search(r"autotls-0634: orders: at most 4 at once; new orders at \S+ paced at "
                         r"5/10s", log), server.log_tail()
        # Waiting is told once per site, not once a tick.
        waits = re.findall(r"autotls-0633: (\S+): next in line for a new order; waiting for the "
                           r"CA's order rate \(5/10s\)", log)
        assert waits, server.log_tail()
        assert len(waits) == len(set(waits)), waits
        assert len(proxy.orders) == len(RATE_SITES), proxy.orders


def test_account_wide_429_holds_every_order_until_its_retry_after(pebble):
    proxy = AriProxy(pebble).start()
    try:
        proxy.rate_limit(1, ACCOUNT_RETRY_AFTER, ACCOUNT_DETAIL)
        config = extra("AutoTLSOrdersInFlight 1")
        with AutoTLSServer(ACCOUNT_SITES, pebble=pebble, ca_url=proxy.directory_url,
                           extra=config) as server:
            times = order_times(proxy, 2, SERVED_TIMEOUT, server)
            assert len(proxy.rate_limited) == 1, proxy.rate_limited
            refused = proxy.rate_limited[0]
            gap = times[1] - times[0]
            assert gap >= ACCOUNT_RETRY_AFTER - RESUME_SLACK, (
                "the next order came %.2f s after the 429, its Retry-After was %d s"
                % (gap, ACCOUNT_RETRY_AFTER))
            for site in ACCOUNT_SITES:
                server.wait_until_served(site.name, ISSUER, SERVED_TIMEOUT)
            log = server.error_log()
            assert re.search(r"autotls-0630: %s: the CA limits new orders for the whole account"
                             % re.escape(refused[0]), log), server.log_tail()
            # The account was limited, not the site: no failure, no backoff of its own.
            assert read_job(server, refused[0])["failures"] == 0
            assert not re.search(r"autotls-0603: .*order failed", log), server.log_tail()
    finally:
        proxy.stop()


def test_429_on_a_registered_domain_holds_its_sites_and_no_other(pebble):
    proxy = AriProxy(pebble).start()
    try:
        proxy.rate_limit(len(DOMAIN_SITES), DOMAIN_RETRY_AFTER, DOMAIN_DETAIL, names=[DOMAIN])
        # One order at a time: the first site under the domain meets the limit, the other waits.
        config = extra("AutoTLSOrdersInFlight 1")
        with AutoTLSServer(DOMAIN_SITES, pebble=pebble, ca_url=proxy.directory_url,
                           extra=config) as server:
            refused_at = time.time()
            free = DOMAIN_SITES[0].name
            server.wait_until_served(free, ISSUER, SERVED_TIMEOUT)
            time.sleep(WATCH_SECONDS)
            # Only the first order under the domain reached the CA; the other site was held.
            assert len(proxy.rate_limited) == 1, proxy.rate_limited
            (refused,), = proxy.rate_limited
            (held,) = [s.name for s in DOMAIN_SITES[1:] if s.name != refused]
            for site in DOMAIN_SITES[1:]:
                assert ISSUER not in server.served_cert(site.name).issuer, site.name
            job = read_job(server, refused)
            assert job["failures"] == 1 and job["retry_after"] > 0, job
            assert job["next_try"] >= refused_at + DOMAIN_RETRY_AFTER - BACKOFF_SLACK, job
            log = server.error_log()
            assert re.search(r"autotls-0631: %s: the CA limits certificates for the registered "
                             r"domain %s" % (re.escape(refused), re.escape(DOMAIN)),
                             log), server.log_tail()
            assert re.search(r"autotls-0632: %s: waiting until \S+: the CA limits certificates "
                             r"for %s" % (re.escape(held), re.escape(DOMAIN)),
                             log), server.log_tail()
            assert "autotls-0630" not in log, server.log_tail()  # not the whole account
    finally:
        proxy.stop()
