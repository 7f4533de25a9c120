# SPDX-License-Identifier: Apache-2.0
"""mod_autotls end to end: real apache2, real pebble, observed the way a user observes a server.

The one idea to hold: `AutoTLS on` must be all an admin writes. Every assertion here is made from
outside the server: TLS handshakes with SNI (which certificate, from whom, for which names, with
which serial), HTTP requests (status, Location, Retry-After, page content), the pid file, the
error log and pebble's own log. A failing test points at the piece that broke; it is never made
to pass by looking less closely.

Servers on the module's pebble share its http-01 port, so they run one at a time; tests that need
another CA behaviour (short certificate lifetimes) or their own clock (start-to-served time) get
their own pebble from pebble_factory.
"""

import http.client
import os
import re
import subprocess
import threading
import time

import pytest

import httpd
from autotls_server import (MPMS, RESUMING, STAGED, AutoTLSServer, Site, free_port,
                            normalize_serial, skip_unless_runnable, write_challenge_answer)

MODULE = skip_unless_runnable()

ISSUER = "Pebble"
SERVED_TIMEOUT = 60.0  # seconds for every site of a fresh server to be served by pebble
PEBBLE_ISSUED = "Issued certificate serial"

# Renewal under load: pebble certificates last a day and the renew window is 30 days, so every
# certificate is due again as soon as it is live: renewals run back to back.
# A window longer than the lifetime renews as early as the policy allows (a tenth of the
# lifetime), so 20-second certificates are renewed about every 2 seconds.
RENEW_VALIDITY_SECONDS = 20
DEAD_CA_WATCH_SECONDS = 4  # several renewal ticks (1 s each)
RENEW_WINDOW = "30d"
LOAD_THREADS = 4
LOAD_SECONDS = 20.0  # upper bound of the load phase
LOAD_MAX_REQUESTS_PER_THREAD = 4000
LOAD_ENOUGH_SERIALS = 5  # stop the load early once this many serials were served
MIN_SERIALS = 3
MAX_STALENESS = 1.0  # seconds after the activator's "is live" line until every child serves it
FRESH_RUN = 20  # consecutive handshakes that must show the new serial

THREE_SITES = (
    Site("alpha.test", aliases=("www.alpha.test",)),
    Site("beta.test"),
    Site("gamma.test", aliases=("gamma-alias.test", "www.gamma.test")),
)


def report(capsys, text):
    """Prints a measured figure into the test run's output, even without -s."""
    with capsys.disabled():
        print("\n[autotls e2e] %s" % text)


def pebble_issued(env):
    with open(env.pebble_log, errors="replace") as f:
        return f.read().count(PEBBLE_ISSUED)


def wait_all_served(server, sites, timeout=SERVED_TIMEOUT):
    """{name: ServedCert} once every site serves a pebble certificate."""
    deadline = time.monotonic() + timeout
    return {site.name: server.wait_until_served(site.name, ISSUER,
                                                max(0.1, deadline - time.monotonic()))
            for site in sites}


# --- the shared server: four managed sites and one the admin kept out ------------------------

LIVE_SITES = THREE_SITES + (
    Site("noredirect.test", directives="AutoTLSRedirect off"),
    Site("plain.test", autotls=False),
)
MANAGED = [s for s in LIVE_SITES if s.autotls is not False]


@pytest.fixture(scope="module")
def live(pebble):
    """One event-MPM server on the module's pebble whose managed sites all serve their
    certificate; kept running for the tests that only look at it."""
    server = AutoTLSServer(LIVE_SITES, pebble=pebble)
    with server:
        server.start()
        wait_all_served(server, MANAGED)
        yield server


# --- 1. AutoTLS on is all it takes ----------------------------------------------------------


@pytest.mark.parametrize("mpm", MPMS)
def test_three_vhosts_get_pebble_certificates_without_restart(mpm, pebble_factory, capsys):
    env = pebble_factory()
    server = AutoTLSServer(THREE_SITES, pebble=env, mpm=mpm)
    with server:
        server.start()
        parent = server.parent_pid()
        http_pages = {}  # what HTTP serves before the certificates (issuance takes > 1 s)
        for site in THREE_SITES:
            status, _, body = server.http_get(site.name, "/")
            assert status in (200, 301), (site.name, status)
            http_pages[site.name] = body.decode() if status == 200 else site.page()
        served = wait_all_served(server, THREE_SITES)
        elapsed = time.monotonic() - server.started_at
        report(capsys, "%s: start to all 3 sites served over HTTPS: %.2f s" % (mpm, elapsed))

        for site in THREE_SITES:
            for name in site.names:
                cert = server.served_cert(name, verify=True)  # chain to this pebble run's root
                assert ISSUER in cert.issuer, cert
                assert cert.sans == tuple(sorted(site.names)), (name, cert)
                assert cert.serial == served[site.name].serial, "%s: alias got another cert" % name
                status, _, body = server.http_get(name, "/", https=True, verify=True)
                assert status == 200
                assert body.decode() == http_pages[site.name], "%s: not the HTTP page" % name
                assert site.name in body.decode()
        assert len({c.serial for c in served.values()}) == len(THREE_SITES)

        assert server.parent_pid() == parent, "the parent changed: the server was restarted"
        assert server.count(RESUMING) == 1, "a restart happened:\n" + server.log_tail()


def test_vhost_with_its_own_https_vhost_keeps_its_certificate(pebble_factory, tmp_path):
    env = pebble_factory()
    key, crt = tmp_path / "own.key", tmp_path / "own.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key), "-out", str(crt),
                    "-days", "30", "-subj", "/CN=own.test",
                    "-addext", "subjectAltName=DNS:own.test"], check=True, capture_output=True)
    own_serial = subprocess.run(["openssl", "x509", "-noout", "-serial", "-in", str(crt)],
                                check=True, capture_output=True, text=True).stdout
    own_serial = own_serial.strip().split("=", 1)[1].upper().lstrip("0")
    os.chmod(tmp_path, 0o755)
    https_port = free_port()
    # The admin's own HTTPS vhost for own.test, with its own certificate, next to AutoTLS on.
    extra = ("<VirtualHost 127.0.0.1:%d>\n    ServerName own.test\n    SSLEngine on\n"
             "    SSLCertificateFile %s\n    SSLCertificateKeyFile %s\n</VirtualHost>\n"
             % (https_port, crt, key))
    sites = (Site("managed.test"), Site("own.test"))
    server = AutoTLSServer(sites, pebble=env, https_port=https_port, extra=extra)
    with server:
        server.start()
        managed = server.wait_until_served("managed.test")
        assert ISSUER in managed.issuer
        own = server.served_cert("own.test")
        assert ISSUER not in own.issuer and own.serial.lstrip("0") == own_serial, own
        assert "own.test" not in {e.site for e in server.live_events()}
        assert server.count("own.test: new certificate staged") == 0


# --- 2. the gate: 503 before the certificate, redirect after ---------------------------------


def test_https_answers_503_with_retry_after_until_a_certificate_exists():
    dead_ca = "https://127.0.0.1:%d/dir" % free_port()  # nothing listens: no certificate comes
    sites = (Site("waiting.test"), Site("waiting2.test", aliases=("www.waiting2.test",)))
    server = AutoTLSServer(sites, ca_url=dead_ca)
    with server:
        server.start()
        for site in sites:
            for name in site.names:
                status, headers, body = server.http_get(name, "/some/page?x=1", https=True)
                assert status == 503, (name, status, body)
                retry = headers.get("Retry-After")
                assert retry is not None and retry.isdigit() and int(retry) > 0, headers
                assert b"being obtained" in body, body
                assert "Pebble" not in server.served_cert(name).issuer

                status, headers, body = server.http_get(name, "/", https=False)
                assert status == 200, (name, status, headers)
                assert headers.get("Location") is None
                assert body.decode() == site.page()

        # The unreachable CA is not asked again at every tick: the account attempt backs off.
        time.sleep(DEAD_CA_WATCH_SECONDS)
        attempts = server.count("no ACME account at %s yet" % dead_ca)
        assert attempts == 1, server.log_tail()
        assert "next try in" in server.error_log()


def test_http_redirects_to_https_once_live_get_301_post_308(live):
    for site in THREE_SITES:
        status, headers, _ = live.http_get(site.name, "/some/path?q=1&r=two")
        assert status == 301, (site.name, status)
        assert headers["Location"] == "https://%s:%d/some/path?q=1&r=two" % (site.name,
                                                                               live.https_port)
        status, headers, _ = live.http_get(site.name, "/form?a=b", method="POST", body=b"x=1",
                                           headers={"Content-Type": "text/plain"})
        assert status == 308, (site.name, status)
        assert headers["Location"] == "https://%s:%d/form?a=b" % (site.name, live.https_port)
    alias = THREE_SITES[0].aliases[0]
    status, headers, _ = live.http_get(alias, "/")
    assert status == 301
    assert headers["Location"] == "https://%s:%d/" % (alias, live.https_port)


def test_challenge_path_is_never_redirected(live):
    for site in THREE_SITES:
        status, headers, body = live.http_get(site.name, "/.well-known/acme-challenge/anything")
        assert status == 404, (site.name, status, headers)
        assert headers.get("Location") is None
        assert body.decode().strip() == site.not_found()


def test_redirect_off_keeps_http_serving(live):
    site = live.site("noredirect.test")
    status, headers, body = live.http_get(site.name, "/")
    assert status == 200, (status, headers)
    assert headers.get("Location") is None
    assert body.decode() == site.page()
    status, _, body = live.http_get(site.name, "/", https=True, verify=True)
    assert status == 200 and body.decode() == site.page()


def test_unmanaged_vhost_keeps_http_and_gets_no_twin_certificate(live):
    site = live.site("plain.test")
    status, headers, body = live.http_get(site.name, "/")
    assert status == 200, (status, headers)
    assert body.decode() == site.page()
    assert "plain.test" not in live.served_cert(site.name).sans  # no twin, no certificate
    assert re.search(r"autotls-0211: plain\.test: .*AutoTLS off", live.error_log())


# --- 3. the http-01 responder -----------------------------------------------------------------


def test_unknown_challenge_token_reaches_the_site_404(live):
    for name in ("alpha.test", "plain.test"):
        site = live.site(name)
        status, _, body = live.http_get(name, "/.well-known/acme-challenge/UnknownToken_0123")
        assert status == 404, (name, status)
        assert body.decode().strip() == site.not_found()


def test_published_token_answered_for_its_own_managed_host_only(live):
    names = ("alpha.test", "www.alpha.test", "beta.test")
    tokens = {name: "e2eToken_%d-%s" % (os.getpid(), name.replace(".", "_")) for name in names}
    contents = {name: "%s.%s" % (token, "T" * 43) for name, token in tokens.items()}
    paths = [write_challenge_answer(live, name, tokens[name], contents[name]) for name in names]
    try:
        for name in names:
            uri = "/.well-known/acme-challenge/" + tokens[name]
            content = contents[name]
            status, headers, body = live.http_get(name, uri)
            assert status == 200, (name, status, body)
            assert body.decode() == content
            assert headers.get("Location") is None

            status, headers, body = live.http_get(name, uri, method="HEAD")
            assert status == 200
            assert body == b""
            assert int(headers["Content-Length"]) == len(content)

            status, _, body = live.http_get(name, uri, method="POST", body=b"{}")
            assert status == 404, (name, status, body)  # declined: the site's own answer
            assert body.decode().strip() == live.site(name).not_found()

            for other in names:  # another managed name's answer is no answer for this one
                if other != name:
                    status, _, body = live.http_get(other, uri)
                    assert status == 404 and content.encode() not in body, (other, name, status)

            site = live.site("plain.test")  # AutoTLS off: the token is not its business
            status, _, body = live.http_get(site.name, uri)
            assert status == 404, status
            assert body.decode().strip() == site.not_found()
            assert content.encode() not in body
    finally:
        for path in paths:
            os.unlink(path)


# --- 7. live private keys stay root's ----------------------------------------------------------


def test_live_private_keys_are_root_only(live):
    for site in MANAGED:
        key = os.path.join(live.store, "live", site.name, "privkey.pem")
        st = os.stat(key)
        assert (st.st_uid, st.st_gid) == (0, 0), (key, st.st_uid, st.st_gid)
        assert st.st_mode & 0o777 == 0o600, (key, oct(st.st_mode))
        proc = subprocess.run(["runuser", "-u", "www-data", "--", "cat", key],
                              capture_output=True, timeout=10, check=False)
        assert proc.returncode != 0 and b"PRIVATE KEY" not in proc.stdout, key


# --- 4. restarts keep what was issued ----------------------------------------------------------


def test_stop_start_and_graceful_serve_same_certificates_without_new_orders(live, pebble):
    before = {s.name: live.served_cert(s.name, verify=True).serial for s in MANAGED}
    staged = live.count(STAGED)
    issued = pebble_issued(pebble)
    assert staged >= len(MANAGED) and issued >= len(MANAGED), live.log_tail()

    live.stop()
    live.start()
    after_restart = {s.name: live.served_cert(s.name, verify=True).serial for s in MANAGED}
    assert after_restart == before

    live.graceful()
    after_graceful = {s.name: live.served_cert(s.name, verify=True).serial for s in MANAGED}
    assert after_graceful == before

    time.sleep(2.5)  # two renewal-thread ticks: any order it wanted to start has started
    assert live.count(STAGED) == staged, live.log_tail()
    assert pebble_issued(pebble) == issued
    assert {s.name: live.served_cert(s.name).serial for s in MANAGED} == before


# --- 5. renewal under load -----------------------------------------------------------------------


class Load:
    """LOAD_THREADS threads of fresh, verified TLS handshakes + GET /, recording every one as
    (start, end, serial or None, error or None)."""

    def __init__(self, server, site):
        self.server = server
        self.site = site
        self.records = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.serials = set()

    def one(self):
        start = time.time()
        try:
            status, _, body, serial = self._request()
            if status != 200 or body.decode() != self.site.page():
                return start, time.time(), serial, "status %d, body %r" % (status, body[:80])
            return start, time.time(), serial, None
        except Exception as e:  # every failure is a finding: keep it
            return start, time.time(), None, repr(e)

    def _request(self):
        tls = self.server.tls_connect(self.site.name, verify=True)
        serial = normalize_serial(tls.getpeercert()["serialNumber"])
        conn = http.client.HTTPConnection(self.site.name, self.server.https_port)
        conn.sock = tls
        try:
            conn.request("GET", "/")
            resp = conn.getresponse()
            return resp.status, resp.headers, resp.read(), serial
        finally:
            conn.close()

    def worker(self):
        for _ in range(LOAD_MAX_REQUESTS_PER_THREAD):
            if self.stop.is_set():
                return
            record = self.one()
            with self.lock:
                self.records.append(record)
                if record[2]:
                    self.serials.add(record[2])

    def run(self, seconds):
        threads = [threading.Thread(target=self.worker, daemon=True) for _ in range(LOAD_THREADS)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and any(t.is_alive() for t in threads):
            with self.lock:
                if len(self.serials) >= LOAD_ENOUGH_SERIALS:
                    break
            time.sleep(0.2)
        self.stop.set()
        for t in threads:
            t.join(timeout=30)
        return sorted(self.records)


def staleness(records, events):
    """(max seconds a handshake started after an "is live" line still got an older serial,
    max seconds until FRESH_RUN consecutive handshakes showed the new serial or a newer one,
    serials served that never went live)."""
    order = {e.serial: i for i, e in enumerate(events)}
    unknown = {r[2] for r in records if r[2] and r[2] not in order}
    worst_stale = worst_settle = 0.0
    for i, event in enumerate(events):
        after = [r for r in records if r[0] > event.when and r[2]]
        stale = [r[0] - event.when for r in after if order.get(r[2], -1) < i]
        if stale:
            worst_stale = max(worst_stale, max(stale))
        for j in range(len(after) - FRESH_RUN + 1):
            if all(order.get(r[2], -1) >= i for r in after[j:j + FRESH_RUN]):
                worst_settle = max(worst_settle, after[j][0] - event.when)
                break
    return worst_stale, worst_settle, unknown


def stale_children(access_log, https_port, events, delay):
    """Children (pids) that answered over HTTPS more than delay seconds after an "is live" line
    with an older serial; and every child pid seen on HTTPS."""
    order = {e.serial: i for i, e in enumerate(events)}
    stale, seen = set(), set()
    for line in access_log.splitlines():
        parts = line.split()
        if len(parts) < 4 or not parts[3].endswith(":%d" % https_port) or parts[2] == "-":
            continue
        when, pid, serial = int(parts[0]) / 1e6, parts[1], normalize_serial(parts[2])
        seen.add(pid)
        for i, event in enumerate(events):
            if when > event.when + delay and order.get(serial, -1) < i:
                stale.add((pid, serial, event.serial))
    return stale, seen


@pytest.mark.parametrize("mpm", MPMS)
def test_renewals_under_https_load_lose_no_request(mpm, pebble_factory, capsys):
    env = pebble_factory(validity_seconds=RENEW_VALIDITY_SECONDS)
    site = Site("renew.test")
    server = AutoTLSServer((site,), pebble=env, mpm=mpm,
                           extra="AutoTLSRenewWindow %s" % RENEW_WINDOW)
    with server:
        server.start()
        wait_all_served(server, (site,))
        load = Load(server, site)
        began = time.monotonic()
        records = load.run(LOAD_SECONDS)
        took = time.monotonic() - began
        time.sleep(0.5)  # the access log is written after each response
        events = [e for e in server.live_events() if e.site == site.name]
        errors = [r for r in records if r[3]]
        serials = {r[2] for r in records if r[2]}
        worst_stale, worst_settle, unknown = staleness(records, events)
        stale, children = stale_children(server.access_log(), server.https_port, events,
                                         MAX_STALENESS)
        report(capsys, "%s: %d requests in %.1f s, %d errors, %d serials served (%d went "
               "live), %d children answered; max staleness after 'is live' %.3f s, max time "
               "to %d consecutive fresh handshakes %.3f s"
               % (mpm, len(records), took, len(errors), len(serials), len(events),
                  len(children), worst_stale, FRESH_RUN, worst_settle))

        assert not errors, "%d of %d requests failed, first: %r" % (len(errors), len(records),
                                                                    errors[:3])
        assert len(serials) >= MIN_SERIALS, (serials, server.log_tail())
        assert not unknown, "served serials the activator never logged as live: %r" % unknown
        assert worst_stale <= MAX_STALENESS
        assert worst_settle <= MAX_STALENESS
        assert not stale, "children serving an old certificate: %r" % sorted(stale)[:5]
