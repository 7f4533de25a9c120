# SPDX-License-Identifier: Apache-2.0
"""CA failover (issue 14 item 5): two AutoTLSCA lines, the second with its own cafile=.

The one idea to hold: CA 1 is the ARI test proxy in front of pebble, told to fail newOrders with
a 500 serverInternal problem (ari_proxy.py fail_orders); CA 2 is pebble itself. Both issue from
the same pebble, but they are two CAs to the module: two directory URLs, two accounts, two
buckets. Everything is checked where an operator would look: the error log (the one WARNING
naming both CAs and CA 1's problem), the store (accounts/, jobs/<site>.json, the status
snapshot), the certificate a TLS handshake gets, and what CA 1 saw (its newOrders and their
`replaces`, its renewal-info requests):

  - with AutoTLSCAFailover 2 a new site fails twice at CA 1, then gets its certificate from CA 2
    at once and it is served without a restart;
  - CA 1 is never asked about CA 2's certificate: no renewal-info request, no `replaces`;
  - once CA 1 works again, the next renewal (`autotls renew`) goes to CA 1 first.

The second failure is asked for with `autotls renew` (it clears the backoff, not the count of
failures at CA 1), so the test does not wait out the first backoff step.

Runs as root only: the parent must be root and the children www-data, as in production.
"""

import glob
import json
import os
import re
import subprocess
import time

import pytest

import autotls_server
from ari_proxy import AriProxy
from autotls_server import (AutoTLSServer, Site, normalize_serial, parse_der,
                            skip_unless_runnable)

MODULE = skip_unless_runnable()

ISSUER = "Pebble"
SITE = Site("failover.test")
FAILOVER = 2  # AutoTLSCAFailover of the test
FAIL_TIMEOUT = 30.0  # start to the first failed order
SERVED_TIMEOUT = 30.0  # the second failure to CA 2's certificate on the wire
PICKUP_TIMEOUT = 5.0  # jobs/<site>.renew is looked for every tick
ARI_QUIET = 4.0  # seconds in which a renewal-info poll of the served certificate would come
CLI_TIMEOUT = 30.0
POLL = 0.05

FAILED_RE = re.compile(r"autotls-\d+: (?P<site>\S+): order failed .*attempt (?P<attempt>\d+);")
FAILOVER_RE = re.compile(r"autotls-0150: (?P<site>\S+): (?P<n>\d+) failed orders in a row at "
                         r"(?P<old>\S+) \(last: (?P<why>.*)\); the next order goes to "
                         r"(?P<new>\S+), at once")


def wait_for(what, predicate, timeout, server):
    return autotls_server.wait_for(what, predicate, timeout, server, POLL)


def failed_attempts(server):
    return [int(m.group("attempt")) for m in FAILED_RE.finditer(server.error_log())
            if m.group("site") == SITE.name]


def read_job(server):
    try:
        with open(os.path.join(server.store, "jobs", SITE.name + ".json")) as f:
            return json.load(f)
    except (FileNotFoundError, ValueError):
        return None


def read_meta(server):
    with open(os.path.join(server.store, "live", SITE.name, "meta.json")) as f:
        return json.load(f)


def snapshot_site(server):
    try:
        with open(os.path.join(server.store, "status", "snapshot.json")) as f:
            doc = json.load(f)
    except (FileNotFoundError, ValueError):
        return None
    return next((s for s in doc.get("sites", []) if s.get("site") == SITE.name), None)


def operator_renew(cli, server):
    proc = subprocess.run([cli, "renew", "--store", server.store, SITE.name], capture_output=True,
                          text=True, timeout=CLI_TIMEOUT, stdin=subprocess.DEVNULL, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    request = os.path.join(server.store, "jobs", SITE.name + ".renew")
    wait_for("the renewal process to take " + request, lambda: not os.path.exists(request),
             PICKUP_TIMEOUT, server)


def served(server):
    with server.tls_connect(SITE.name) as tls:
        return parse_der(tls.getpeercert(binary_form=True))


def served_from_ca(server, old_serial=None):
    def check():
        cert = served(server)
        return cert if ISSUER in cert.issuer and cert.serial != old_serial else None

    return wait_for("a CA certificate for " + SITE.name, check, SERVED_TIMEOUT, server)


@pytest.fixture
def ca1(pebble):
    with AriProxy(pebble) as proxy:  # with renewalInfo: it must never be asked about CA 2's
        proxy.fail_orders(FAILOVER)
        yield proxy


@pytest.fixture
def server(pebble, ca1):
    extra = "AutoTLSCA %s cafile=%s\nAutoTLSCAFailover %d" % (pebble.directory_url,
                                                             pebble.ca_cert, FAILOVER)
    with AutoTLSServer((SITE,), pebble=pebble, ca_url=ca1.directory_url, extra=extra) as server:
        yield server


def test_site_fails_over_to_the_second_ca_and_returns_to_the_first(server, ca1, pebble,
                                                                   autotls_cli, capsys):
    # 1. the first order fails at CA 1; the site stays there (1 of 2 failures)
    wait_for("the first failed order", lambda: failed_attempts(server) == [1], FAIL_TIMEOUT,
             server)
    # the task writes the job file after its log line
    job = wait_for("the failure in the job file",
                   lambda: (lambda j: j if j and j.get("ca_failures") else None)(read_job(server)),
                   PICKUP_TIMEOUT, server)
    assert job["ca_failures"] == 1, job
    assert job.get("ca", "") == "", job  # still the first CA
    assert not FAILOVER_RE.search(server.error_log()), server.log_tail()

    # 2. the operator clears the backoff: the second failure at CA 1 moves the site to CA 2,
    #    which issues at once; served without a restart
    operator_renew(autotls_cli, server)
    cert = served_from_ca(server)
    moves = [m for m in FAILOVER_RE.finditer(server.error_log()) if m.group("site") == SITE.name]
    assert len(moves) == 1, server.log_tail()
    assert int(moves[0].group("n")) == FAILOVER
    assert moves[0].group("old") == ca1.directory_url
    assert moves[0].group("new") == pebble.directory_url
    assert "serverInternal" in moves[0].group("why"), moves[0].group(0)
    assert len(ca1.failed_orders) == FAILOVER, ca1.failed_orders
    # `autotls renew` cleared the site's backoff (attempt 1 again), not its failures at CA 1
    assert failed_attempts(server) == [1, 1]
    job = wait_for("the issuing CA in the job file",
                   lambda: (lambda j: j if j and j.get("issued_ca") else None)(read_job(server)),
                   PICKUP_TIMEOUT, server)
    assert job["issued_ca"] == pebble.directory_url, job
    assert normalize_serial(job["issued_serial"]) == cert.serial, (job, cert.serial)
    assert job.get("ca", "") == "" and job.get("ca_failures", 0) == 0, job  # next: CA 1 again
    # what `autotls revoke` will ask: the CA that issued the live certificate
    assert read_meta(server)["ca"] == pebble.directory_url, read_meta(server)
    accounts = sorted(os.path.basename(d) for d in glob.glob(os.path.join(server.store,
                                                                          "accounts", "*")))
    assert len(accounts) == 2, accounts  # one account per CA

    # CA 1 is never asked about CA 2's certificate (its renewal window, RFC 9773)
    time.sleep(ARI_QUIET)
    assert ca1.ari_requests == [], ca1.ari_requests
    entry = wait_for("the site in the status snapshot", lambda: snapshot_site(server),
                     PICKUP_TIMEOUT, server)
    assert entry["ca"] == ca1.directory_url, entry  # the CA its next order goes to

    # 3. CA 1 works again: the next renewal goes to CA 1, without `replaces` (CA 2's
    #    certificate is none of CA 1's business)
    orders_before = len(ca1.orders)
    operator_renew(autotls_cli, server)
    renewed = served_from_ca(server, old_serial=cert.serial)
    assert len(ca1.orders) == orders_before + 1, ca1.orders
    assert ca1.orders[-1] is None, ca1.orders  # no `replaces` for another CA's certificate
    assert ca1.replaces_seen == [], ca1.replaces_seen
    job = wait_for("CA 1 recorded as the issuer",
                   lambda: (lambda j: j if j and j.get("issued_ca") == ca1.directory_url
                            else None)(read_job(server)), PICKUP_TIMEOUT, server)
    assert normalize_serial(job["issued_serial"]) == renewed.serial, (job, renewed.serial)
    assert read_meta(server)["ca"] == ca1.directory_url, read_meta(server)
    # and now CA 1 is the one asked about its own certificate
    wait_for("CA 1's renewal-info poll", lambda: ca1.ari_requests, PICKUP_TIMEOUT, server)
    with capsys.disabled():
        print("\n[failover] %s: 2 failures at %s, certificate %s from %s, renewed at %s (%s)"
              % (SITE.name, ca1.directory_url, cert.serial, pebble.directory_url,
                 ca1.directory_url, renewed.serial))


WRAP_RE = re.compile(r"autotls-0150: (?P<site>\S+): 1 failed orders in a row at (?P<old>\S+) "
                     r"\(last: [^\n]*\); the next order goes to (?P<new>\S+) \(the first CA again")


def test_a_second_ca_without_an_account_sends_the_site_back_to_the_first(pebble, ca1):
    """The last CA of the list cannot even make an account (nothing listens there): that counts
    as a failed order of the site at that CA, so with AutoTLSCAFailover 1 the site wraps back to
    the first CA, on its backoff, instead of waiting on that account for ever."""
    dead = "https://127.0.0.1:%d/dir" % autotls_server.free_port()
    extra = "AutoTLSCA %s cafile=%s\nAutoTLSCAFailover 1" % (dead, pebble.ca_cert)
    with AutoTLSServer((SITE,), pebble=pebble, ca_url=ca1.directory_url, extra=extra) as server:
        wait_for("the wrap back to the first CA",
                 lambda: WRAP_RE.search(server.error_log()), FAIL_TIMEOUT, server)
        log = server.error_log()
        assert re.search(r"autotls-0150: %s: 1 failed orders in a row at %s \(last: [^\n]*"
                         r"serverInternal[^\n]*\); the next order goes to %s, at once"
                         % (re.escape(SITE.name), re.escape(ca1.directory_url),
                            re.escape(dead)), log), server.log_tail()
        assert re.search(r"autotls-0153: %s: no order at %s: its account cannot be made"
                         % (re.escape(SITE.name), re.escape(dead)), log), server.log_tail()
        wrap = WRAP_RE.search(log)
        assert wrap.group("old") == dead and wrap.group("new") == ca1.directory_url, wrap.group(0)
        job = wait_for("the job file back at the first CA",
                       lambda: (lambda j: j if j and j.get("failures") == 2 else None)(
                           read_job(server)), PICKUP_TIMEOUT, server)
        assert job.get("ca", "") == "" and job.get("ca_failures", 0) == 0, job
        assert job["next_try"] > time.time() + 60, job  # the wrap waits the site's backoff
        assert len(ca1.failed_orders) == 1, ca1.failed_orders
