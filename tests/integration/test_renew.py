# SPDX-License-Identifier: Apache-2.0
"""Renewal that never needs a human: the renewal thread's schedule, seen from outside.

The one idea to hold: every claim about the schedule is checked where an operator would look,
never in the module's memory: the job file jobs/<site>.json (the schedule on disk, which a
restart must read back rather than reset), the error log (one line per order outcome, the
operator's request, the expiry warnings), the CA's side (pebble behind the ARI test proxy,
which records each newOrder's `replaces` and serves the renewal windows the test sets) and
the certificate a TLS handshake gets.

  (a) a failing site backs off 1 min (+-10 %), and a restart neither resets nor hammers;
      the same for the account when the CA cannot be reached at all;
  (b) `autotls renew NAME` orders at once, without a restart, valid certificate or not;
  (c) ARI decides: a far window renews nothing, a window in the past renews within seconds
      with `replaces` = the certID of the served certificate, a refused `replaces` still renews;
  (d) a certificate whose renewal keeps failing: one warning, then one error once it expired,
      and it is served all along (never the placeholder);
  (e) an alias that cannot validate: the partial certificate is served, the alias is retried on
      its own backoff, all or nothing, and the partial certificate stays while it fails.

Runs as root only: the parent must be root and the children www-data, as in production.
"""

import base64
import datetime
import glob
import json
import os
import re
import subprocess
import time

import pytest

import autotls_server
import httpd
from ari_proxy import AriProxy
from autotls_server import (AutoTLSServer, Site, free_port, parse_der,
                            skip_unless_runnable)
from pebble import LOOPBACK

MODULE = skip_unless_runnable()

ISSUER = "Pebble"
GOOD = Site("good.renew.test")
BAD = Site("bad.renew.test")  # challtestsrv points it where nothing listens: validation fails
UNREACHABLE = "127.0.0.2"  # loopback, no listener: pebble's VA gets "connection refused"
ACCOUNT_SITE = Site("account.renew.test")
ARI_SITE = Site("ari.renew.test")
PARTIAL = Site("partial.renew.test", aliases=("dead.partial.renew.test",))
EXPIRING = Site("expiring.renew.test")

BACKOFF_FIRST = 60.0  # seconds: the first backoff step (DESIGN section 6)
BACKOFF_SECOND = 600.0  # seconds: the second step
BACKOFF_JITTER = 0.10  # +-10 % (at_renew.h AT_RENEW_BACKOFF_JITTER)
BACKOFF_SLACK = 2.0  # seconds of rounding (the job file keeps whole seconds) and clock
SERVED_TIMEOUT = 30.0
FAIL_TIMEOUT = 20.0  # start to the first failed order / account attempt
WATCH_SECONDS = 3.0  # renewal ticks are 1 s: hammering would show 2 more attempts
PICKUP_TIMEOUT = 5.0  # jobs/<site>.renew is looked for every tick
RENEW_TIMEOUT = 20.0  # `autotls renew` to the new certificate on the wire
ARI_TIMEOUT = 10.0  # a poll of the renewal window, or an order after a window in the past
VALIDITY_SECONDS = 10  # certificates of the expiry test: renewal due after half of it
EXPIRY_SLACK = 4.0  # seconds after notAfter until the expiry line must be there
CLI_TIMEOUT = 30.0
POLL = 0.05
FAR_AHEAD = 10 * 365 * 86400

FAILED_RE = re.compile(r"autotls-\d+: (?P<site>\S+): order failed .*attempt (?P<attempt>\d+); "
                       r"next try in (?P<delay>-?\d+) s")
ACCOUNT_RE = re.compile(r"autotls-\d+: no ACME account at \S+ yet .*attempt (?P<attempt>\d+); "
                        r"next try in (?P<delay>-?\d+) s")
STARTED = "renewal process started"
OPERATOR = "renewal requested by the operator"


# --- helpers ----------------------------------------------------------------------------------


def wait_for(what, predicate, timeout, server):
    return autotls_server.wait_for(what, predicate, timeout, server, POLL)


def assert_first_backoff(seconds, what, step=BACKOFF_FIRST):
    low = step * (1 - BACKOFF_JITTER) - BACKOFF_SLACK
    high = step * (1 + BACKOFF_JITTER) + BACKOFF_SLACK
    assert low <= seconds <= high, "%s: next try in %.1f s, expected %.0f s +-%d %%" % (
        what, seconds, step, BACKOFF_JITTER * 100)


def failures(server, site):
    """[(attempt, announced delay)] of every "order failed" line for site, in log order."""
    return [(int(m.group("attempt")), int(m.group("delay")))
            for m in FAILED_RE.finditer(server.error_log()) if m.group("site") == site]


def read_job(path):
    """(JSON, mtime) of a job file, or (None, None)."""
    try:
        with open(path) as f:
            return json.load(f), os.stat(path).st_mtime
    except (FileNotFoundError, ValueError):
        return None, None


def job_path(server, site):
    return os.path.join(server.store, "jobs", site + ".json")


def job_failed(server, site):
    """(job JSON, mtime) once jobs/<site>.json records a failure, else None."""
    job, written = read_job(job_path(server, site))
    return (job, written) if job and job.get("failures") else None


def cli_renew(cli, store, name):
    return subprocess.run([cli, "renew", "--store", store, name], capture_output=True, text=True,
                          timeout=CLI_TIMEOUT, stdin=subprocess.DEVNULL, check=False)


def operator_renew(cli, server, name):
    proc = cli_renew(cli, server.store, name)
    assert proc.returncode == 0, "autotls renew %s: exit %d\n%s%s" % (
        name, proc.returncode, proc.stdout, proc.stderr)
    request = os.path.join(server.store, "jobs", name + ".renew")
    wait_for("the renewal thread to take " + request, lambda: not os.path.exists(request),
             PICKUP_TIMEOUT, server)


def served_der(server, name):
    with server.tls_connect(name) as tls:
        return tls.getpeercert(binary_form=True)


def new_certificate(server, name, old_der):
    """The DER of the CA-issued certificate served for name once it is another than old_der."""
    def other():
        der = served_der(server, name)
        return der if der != old_der and ISSUER in parse_der(der).issuer else None

    return wait_for("a new certificate for " + name, other, RENEW_TIMEOUT, server)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def cert_id(der):
    """RFC 9773 section 4.1 with the openssl command, independently of the C library:
    base64url(AKI keyIdentifier) "." base64url(serial DER content octets)."""
    out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-serial", "-ext",
                          "authorityKeyIdentifier"], input=der, capture_output=True,
                         check=True).stdout.decode()
    serial = re.search(r"serial=([0-9A-Fa-f]+)", out).group(1)
    key_id = re.search(r"Authority Key Identifier:\s*\n\s*(?:keyid:)?((?:[0-9A-Fa-f]{2}:)*"
                       r"[0-9A-Fa-f]{2})", out).group(1)
    number = int(serial, 16)
    octets = number.to_bytes(number.bit_length() // 8 + 1, "big")  # sign octet when needed
    return b64url(bytes.fromhex(key_id.replace(":", ""))) + "." + b64url(octets)


def not_after(der):
    out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-enddate"], input=der,
                         capture_output=True, check=True).stdout.decode()
    when = datetime.datetime.strptime(out.strip().split("=", 1)[1], "%b %d %H:%M:%S %Y %Z")
    return when.replace(tzinfo=datetime.timezone.utc).timestamp()


def report(capsys, text):
    with capsys.disabled():
        print("\n[autotls renew] %s" % text)


# --- (a) backoff, and (b) the operator's request ----------------------------------------------


class TestBackoffAndOperator:
    """One server, two sites: GOOD gets its certificate, BAD can never validate."""

    @pytest.fixture(scope="class")
    def server(self, pebble):
        pebble.set_a(BAD.name, UNREACHABLE)
        with AutoTLSServer((GOOD, BAD), pebble=pebble) as server:
            server.wait_until_served(GOOD.name, ISSUER, SERVED_TIMEOUT)
            yield server
        pebble.clear_a(BAD.name)

    def test_failed_order_backs_off_a_minute_and_a_restart_keeps_the_schedule(self, server,
                                                                              capsys):
        job, written = wait_for("a failure in jobs/%s.json" % BAD.name,
                                lambda: job_failed(server, BAD.name), FAIL_TIMEOUT, server)
        assert job["failures"] == 1, job
        assert job["last_error"], job
        assert job["retry_after"] == 0, job
        assert_first_backoff(job["next_try"] - written, "job file")
        lines = wait_for("the failure line", lambda: failures(server, BAD.name), FAIL_TIMEOUT,
                         server)
        assert lines[0][0] == 1, lines
        assert_first_backoff(lines[0][1], "log line")
        assert not failures(server, GOOD.name), server.log_tail()

        # A restart reads the schedule back before contacting the CA: no new attempt, the
        # job file untouched, the other site not ordered again either.
        staged = server.count("new certificate staged for activation")
        server.stop()
        server.start()
        wait_for("the new renewal thread", lambda: server.count(STARTED) == 2, FAIL_TIMEOUT,
                 server)
        time.sleep(WATCH_SECONDS)
        assert failures(server, BAD.name) == lines[:1], server.log_tail()
        assert read_job(job_path(server, BAD.name)) == (job, written)
        assert server.count("new certificate staged for activation") == staged
        assert ISSUER in server.served_cert(GOOD.name).issuer
        report(capsys, "backoff: %s failed at attempt 1, next try in %d s (log) / %d s (job "
               "file); after a restart: %d failure line(s), next_try unchanged"
               % (BAD.name, lines[0][1], job["next_try"] - written,
                  len(failures(server, BAD.name))))

    def test_autotls_renew_orders_now_while_the_certificate_is_valid(self, server, autotls_cli):
        before = server.served_cert(GOOD.name)
        staged = server.count("new certificate staged for activation")
        operator_renew(autotls_cli, server, GOOD.name)
        after = wait_for("a new certificate for " + GOOD.name,
                         lambda: (lambda c: c if c.serial != before.serial else None)(
                             server.served_cert(GOOD.name)), RENEW_TIMEOUT, server)
        assert ISSUER in after.issuer and after.sans == (GOOD.name,), after
        assert server.count("%s: %s" % (GOOD.name, OPERATOR)) == 1, server.log_tail()
        assert server.count("new certificate staged for activation") == staged + 1
        assert "(reason: operator)" in server.error_log()
        assert read_job(job_path(server, GOOD.name))[0]["failures"] == 0

    def test_autotls_renew_clears_the_backoff_of_a_failing_site(self, server, autotls_cli):
        before = failures(server, BAD.name)
        assert before and before[-1][1] > WATCH_SECONDS, before  # its next try is far off
        operator_renew(autotls_cli, server, BAD.name)
        after = wait_for("an attempt right after the request",
                         lambda: (lambda f: f if len(f) > len(before) else None)(
                             failures(server, BAD.name)), FAIL_TIMEOUT, server)
        assert after[-1][0] == 1, after  # the backoff was cleared: attempt 1 again
        assert_first_backoff(after[-1][1], "log line")

    def test_autotls_renew_refuses_what_is_no_site(self, server, autotls_cli, tmp_path):
        proc = cli_renew(autotls_cli, server.store, "nothere.renew.test")
        assert proc.returncode == 2, proc
        assert "no site" in proc.stderr
        assert not os.path.exists(os.path.join(server.store, "jobs", "nothere.renew.test.renew"))
        proc = cli_renew(autotls_cli, str(tmp_path / "no-store"), GOOD.name)
        assert proc.returncode == 2, proc
        assert not os.path.exists(tmp_path / "no-store")
        proc = cli_renew(autotls_cli, server.store, "../" + GOOD.name)
        assert proc.returncode == 2, proc


def test_unreachable_ca_account_backoff_survives_a_restart(capsys):
    dead_ca = "https://%s:%d/dir" % (LOOPBACK, free_port())
    with AutoTLSServer((ACCOUNT_SITE,), ca_url=dead_ca) as server:
        attempt = wait_for("the first account attempt",
                           lambda: ACCOUNT_RE.findall(server.error_log()), FAIL_TIMEOUT, server)
        assert attempt[0][0] == "1", attempt
        assert_first_backoff(int(attempt[0][1]), "log line")
        paths = glob.glob(os.path.join(server.store, "jobs", "_account-*.json"))
        assert len(paths) == 1, paths
        job, written = read_job(paths[0])
        assert job["failures"] == 1 and job["last_error"], job
        assert_first_backoff(job["next_try"] - written, "account job file")

        server.stop()
        server.start()
        wait_for("the new renewal thread", lambda: server.count(STARTED) == 2, FAIL_TIMEOUT,
                 server)
        time.sleep(WATCH_SECONDS)
        assert len(ACCOUNT_RE.findall(server.error_log())) == 1, server.log_tail()
        assert read_job(paths[0]) == (job, written)
        report(capsys, "CA unreachable: account attempt 1, next try in %s s (log) / %d s (job "
               "file); none after a restart" % (attempt[0][1], job["next_try"] - written))


# --- (c) ARI ----------------------------------------------------------------------------------


def test_ari_window_decides_and_renewals_name_the_certificate_they_replace(pebble_factory,
                                                                          autotls_cli, capsys):
    # No badNonce retries: the proxy's record of newOrders is then one entry per order.
    pebble = pebble_factory(nonce_reject=0)
    with AriProxy(pebble) as proxy, \
            AutoTLSServer((ARI_SITE,), pebble=pebble, ca_url=proxy.directory_url) as server:
        name = ARI_SITE.name

        def orders_after(count):
            return proxy.orders[count:] if len(proxy.orders) > count else None

        # A far window (the proxy's default): the window is fetched, nothing is renewed.
        first = new_certificate(server, name, None)
        id1 = cert_id(first)
        wait_for("the window of the served certificate", lambda: id1 in proxy.ari_requests,
                 ARI_TIMEOUT, server)
        assert proxy.orders == [None], proxy.orders  # the first order replaces nothing
        wait_for("the window in the job file",
                 lambda: (read_job(job_path(server, name))[0] or {}).get("ari", {})
                 .get("cert_id") == id1, ARI_TIMEOUT, server)
        time.sleep(WATCH_SECONDS)
        job = read_job(job_path(server, name))[0]
        assert job["ari"]["start"] <= job["ari"]["chosen"] <= job["ari"]["end"], job
        assert job["ari"]["chosen"] > time.time() + FAR_AHEAD / 2, job
        assert proxy.orders == [None], proxy.orders
        assert served_der(server, name) == first

        # A window in the past for every certificate: the operator's renewal replaces the first
        # certificate; the new one's window says "now", so it is renewed at once, naming it.
        now = time.time()
        proxy.set_window(now - 120, now - 60)
        operator_renew(autotls_cli, server, name)
        orders = wait_for("the operator's order", lambda: orders_after(1), RENEW_TIMEOUT, server)
        assert orders[0] == id1, proxy.orders
        second = new_certificate(server, name, first)
        id2 = cert_id(second)
        seen = time.monotonic()
        orders = wait_for("an order for the window in the past", lambda: orders_after(2),
                          ARI_TIMEOUT, server)
        proxy.set_window(now + FAR_AHEAD, now + FAR_AHEAD + 86400)  # before it is asked again
        took = time.monotonic() - seen
        assert orders[0] == id2, proxy.orders
        assert id2 in proxy.ari_requests
        third = new_certificate(server, name, second)
        assert server.count("(reason: ari)") == 1, server.log_tail()
        time.sleep(WATCH_SECONDS)
        assert len(proxy.orders) == 3, proxy.orders  # the far window again: nothing more

        # The CA refuses `replaces` once: the order is made again without it and succeeds.
        id3 = cert_id(third)
        proxy.refuse_replaces(1)
        operator_renew(autotls_cli, server, name)
        new_certificate(server, name, third)
        assert proxy.orders[3:] == [id3, None], proxy.orders
        assert not failures(server, name), server.log_tail()
        report(capsys, "ARI: window in the past -> order with replaces=%s %.2f s after the "
               "certificate was served; orders seen: %d" % (id2, took, len(proxy.orders)))


# --- (d) expiry -------------------------------------------------------------------------------


def test_failing_renewal_warns_then_errors_and_keeps_serving(pebble_factory, capsys):
    env = pebble_factory(validity_seconds=VALIDITY_SECONDS)
    with AutoTLSServer((EXPIRING,), pebble=env) as server:
        name = EXPIRING.name
        cert = server.wait_until_served(name, ISSUER, SERVED_TIMEOUT)
        env.stop()  # renewal is due after half of the lifetime: it can only fail now
        expires = not_after(served_der(server, name))
        warn = re.compile(r"autotls-\d+: %s: certificate expires in \S+ \(.*\) and renewing it "
                          r"keeps failing \(failed attempts: 1, last error: .+\); still "
                          r"serving it" % re.escape(name))
        error = re.compile(r"autotls-\d+: %s: certificate EXPIRED \S+ ago .* keeps failing "
                           r"\(failed attempts: 1, last error: .+\); still serving it"
                           % re.escape(name))
        wait_for("the warning", lambda: warn.search(server.error_log()),
                 expires - time.time() + 1, server)
        assert time.time() < expires
        assert server.served_cert(name).serial == cert.serial
        wait_for("the expiry line", lambda: error.search(server.error_log()),
                 expires - time.time() + EXPIRY_SLACK, server)
        served = server.served_cert(name)
        assert served.serial == cert.serial and ISSUER in served.issuer, served
        log = server.error_log()
        assert len(warn.findall(log)) == 1 and len(error.findall(log)) == 1, server.log_tail()
        assert len(failures(server, name)) == 1, server.log_tail()
        report(capsys, "expiry: one warning while valid, one error once expired, the expired "
               "certificate %s still served" % served.serial)


# --- (e) partial success ------------------------------------------------------------------------


def test_missing_alias_backs_off_on_its_own_and_the_partial_certificate_stays(pebble, capsys):
    dead = PARTIAL.aliases[0]
    pebble.set_a(dead, UNREACHABLE)
    try:
        with AutoTLSServer((PARTIAL,), pebble=pebble) as server:
            name = PARTIAL.name
            partial = wait_for("the partial certificate",
                               lambda: (lambda c: c if ISSUER in c.issuer else None)(
                                   server.served_cert(name)), SERVED_TIMEOUT, server)
            assert partial.sans == (name,), partial
            job, written = wait_for("the missing alias in the job file",
                                    lambda: (lambda j: j if j[0] and j[0].get("missing") else None)(
                                        read_job(job_path(server, name))), ARI_TIMEOUT, server)
            assert job["failures"] == 0, job  # the site is not failing
            [entry] = job["missing"]
            assert entry["name"] == dead and entry["failures"] == 1 and entry["last_error"], job
            assert_first_backoff(entry["next_try"] - written, "the alias's own backoff")

            # Make the alias due (the schedule is the job file) and restart: the retry asks for
            # all names or none, fails again, and the partial certificate stays.
            server.stop()
            staged = server.count("new certificate staged for activation")
            entry["next_try"] = int(time.time())
            with open(job_path(server, name), "w") as f:  # keeps owner and mode
                json.dump(job, f)
            server.start()
            line = wait_for("the failed retry of the alias",
                            lambda: re.search(r"autotls-\d+: %s: %s still cannot be added .*"
                                              r"next try in (\d+) s" % (re.escape(name),
                                                                         re.escape(dead)),
                                              server.error_log()), FAIL_TIMEOUT, server)
            assert_first_backoff(int(line.group(1)), "log line", BACKOFF_SECOND)
            job, written = read_job(job_path(server, name))
            assert job["failures"] == 0 and job["missing"][0]["failures"] == 2, job
            assert_first_backoff(job["missing"][0]["next_try"] - written, "job file",
                                 BACKOFF_SECOND)
            assert server.served_cert(name).serial == partial.serial
            assert server.count("new certificate staged for activation") == staged
            assert not failures(server, name), server.log_tail()
            report(capsys, "partial: %s left out, retried alone after its own backoff, failed "
                   "again: next try in %s s, the partial certificate %s stays"
                   % (dead, line.group(1), partial.serial))
    finally:
        pebble.clear_a(dead)
