# SPDX-License-Identifier: Apache-2.0
"""A CA outage: what is stored keeps being served, what is missing waits politely and arrives later.

The one idea to hold: pebble is really stopped (its process gone, its port closed) while a real
httpd runs, and then a real httpd is started with pebble still down. Everything is observed from
outside: the certificate a TLS handshake with SNI gets (serial, and which pebble run's root its
chain verifies to), HTTP answers, the error log, the site's job file in the store, the parent's
pid. When pebble comes back, the operator's `autotls renew NAME` is the lever that skips the rest
of the backoff (the real-world path; the module has no test-only knob): the missing certificate
must then arrive without a restart of httpd. The backoff is checked where it shows within the
time budget: attempt 1, the next try announced ~60 s later in the log line and in the job file,
and no second attempt in the seconds after it (the retry at ~60 s itself is not waited for).
Until its certificate comes, the new site's HTTPS twin serves the placeholder and answers 503
with Retry-After (the gate), while its plain HTTP side keeps serving the site.

pebble makes a new issuing root at every start, so the server's AutoTLSIssuerRoots file is kept
by this test and gets the new root appended after pebble returns (an admin whose CA added a root
does the same); a certificate of the earlier run must still verify to the earlier root only.
"""

import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

import autotls_server
import httpd
import sanitizers
from autotls_server import (RESUMING, AutoTLSServer, Site, cert_from_dict,
                            skip_unless_runnable)
from pebble import LOOPBACK, PebbleEnv

MODULE = skip_unless_runnable()

ISSUER = "Pebble"
STORED = Site("stored.test", aliases=("www.stored.test",))
RUNNING = Site("running.test")
NEW = Site("new.test", aliases=("www.new.test",))
OLD_SITES = (STORED, RUNNING)

SERVED_TIMEOUT = 60.0  # seconds for a pebble certificate to be served while pebble is up
FAIL_TIMEOUT = 15.0  # seconds from start (pebble down) to the new site's first failed order
WATCH_SECONDS = 6.0  # renewal ticks are 1 s: a retry at every tick would show 5 more failures
SAMPLE_INTERVAL = 0.5  # between two looks at the served certificates while pebble is down
BACKOFF_FIRST = 60.0  # seconds: the first step of the backoff (DESIGN section 6)
BACKOFF_JITTER = 0.10  # +-10 % (at_renew.h AT_RENEW_BACKOFF_JITTER)
BACKOFF_SLACK = 2.0  # seconds of rounding and clock between the failure and our reading
PICKUP_TIMEOUT = 5.0  # the renewal thread looks for jobs/<site>.renew every tick (1 s)
RECOVER_TIMEOUT = 30.0  # `autotls renew` to the certificate on the wire
CLI_TIMEOUT = 30.0
CONNECT_TIMEOUT = 5.0
POLL = 0.1

ORDER_FAILED_RE = re.compile(r"autotls-\d+: (?P<site>\S+): order failed .*attempt (?P<attempt>\d+)"
                             r"; next try in (?P<delay>-?\d+) s")


def report(capsys, text):
    """Prints a measured figure into the test run's output, even without -s."""
    with capsys.disabled():
        print("\n[autotls outage] %s" % text)


@pytest.fixture
def pebble(http01_port, https_port):
    """This module's pebble keeps its work dir (listener CA, config, logs, ports) across stop()
    and start(): the outage stops the very pebble the server was configured for. Named `pebble`
    so that conftest's health check and failure report cover it."""
    workdir = tempfile.mkdtemp(prefix="autotls-outage-pebble-")
    env = PebbleEnv(http01_port=http01_port, tls_port=https_port, workdir=workdir)
    try:
        yield env.start()
    finally:
        env.stop()
        if not os.environ.get("AUTOTLS_KEEP_TMP"):
            shutil.rmtree(workdir, ignore_errors=True)


class Trust:
    """The issuer roots file the server is configured with, and one file per pebble run's root
    (clients verify against exactly one run's root)."""

    def __init__(self, directory):
        self.dir = directory
        self.issuer_roots = os.path.join(directory, "issuer-roots.pem")
        self.runs = []  # path of each pebble run's root, in order

    def add_run(self, env):
        pem = env.roots_pem()
        path = os.path.join(self.dir, "root-run%d.pem" % (len(self.runs) + 1))
        with open(path, "w") as f:
            f.write(pem)
        with open(self.issuer_roots, "a") as f:
            f.write(pem)
        for p in (path, self.issuer_roots):
            os.chmod(p, 0o644)
        self.runs.append(path)
        return path


def make_server(env, trust, sites, root=None, https_port=None):
    """An AutoTLSServer on env's directory whose trust files are the test's, so that it can be
    started while pebble is down (AutoTLSServer would fetch the root from pebble)."""
    extra = 'AutoTLSCACertificateFile "%s"\nAutoTLSIssuerRoots "%s"' % (env.ca_cert,
                                                                     trust.issuer_roots)
    return AutoTLSServer(sites, ca_url=env.directory_url, http_port=env.http01_port,
                         https_port=https_port, extra=extra, root=root)


def verified_cert(server, name, root_file):
    """ServedCert of the chain served for SNI = name, verified (host name too) against root_file
    alone; raises ssl.SSLCertVerificationError when it does not chain to that root."""
    ctx = ssl.create_default_context(cafile=root_file)
    sock = socket.create_connection((LOOPBACK, server.https_port), timeout=CONNECT_TIMEOUT)
    with ctx.wrap_socket(sock, server_hostname=name) as tls:
        return cert_from_dict(tls.getpeercert())


def verifies_to(server, name, root_file):
    try:
        verified_cert(server, name, root_file)
        return True
    except ssl.SSLCertVerificationError:
        return False


def order_failures(server, site):
    """[(attempt, announced delay in s)] of every "order failed" line for site, in log order."""
    return [(int(m.group("attempt")), int(m.group("delay")))
            for m in ORDER_FAILED_RE.finditer(server.error_log()) if m.group("site") == site]


def job_file(server, site):
    return os.path.join(server.store, "jobs", site + ".json")


def read_job(server, site):
    """(job JSON, mtime) of jobs/<site>.json, or (None, None)."""
    path = job_file(server, site)
    try:
        with open(path) as f:
            job = json.load(f)
        return job, os.stat(path).st_mtime
    except (FileNotFoundError, ValueError):
        return None, None


def job_failed(server, site):
    """(job, mtime) once jobs/<site>.json records a failure, else None."""
    job, written = read_job(server, site)
    return (job, written) if job and job.get("failures") else None


def wait_for(what, predicate, timeout, server):
    return autotls_server.wait_for(what, predicate, timeout, server, POLL)


def operator_renew(cli, server, site):
    """`autotls renew --store DIR NAME`, as root, the way an operator asks for a retry now."""
    proc = subprocess.run([cli, "renew", "--store", server.store, site], capture_output=True,
                          text=True, timeout=CLI_TIMEOUT, stdin=subprocess.DEVNULL,
                          env=sanitizers.cli_env(), check=False)
    assert proc.returncode == 0, "autotls renew %s: exit %d\n%s%s" % (
        site, proc.returncode, proc.stdout, proc.stderr)


def assert_backoff_delay(seconds, what):
    low = BACKOFF_FIRST * (1 - BACKOFF_JITTER) - BACKOFF_SLACK
    high = BACKOFF_FIRST * (1 + BACKOFF_JITTER) + BACKOFF_SLACK
    assert low <= seconds <= high, "%s: next try in %.1f s, expected %.0f s +-%d %%" % (
        what, seconds, BACKOFF_FIRST, BACKOFF_JITTER * 100)


def test_ca_outage_keeps_stored_certificates_and_recovers_without_restart(pebble, autotls_cli,
                                                                         tmp_path, capsys):
    os.chmod(tmp_path, 0o755)  # the children (www-data) read the CA file and issuer roots
    trust = Trust(str(tmp_path))
    run1_root = trust.add_run(pebble)

    # --- pebble up: the two old sites get their certificates ------------------------------------
    first = make_server(pebble, trust, OLD_SITES)
    second = None
    passed = False
    try:
        first.start()
        before = {}
        for site in OLD_SITES:
            first.wait_until_served(site.name, ISSUER, SERVED_TIMEOUT)
            before[site.name] = verified_cert(first, site.name, run1_root)
            assert before[site.name].sans == tuple(sorted(site.names)), before[site.name]

        # --- (b) pebble stops under a running server: it keeps serving what it has ------------
        pebble.stop()
        assert pebble.pebble_proc is None
        down_since = time.monotonic()
        while time.monotonic() - down_since < WATCH_SECONDS / 2:
            for site in OLD_SITES:
                for name in site.names:
                    cert = verified_cert(first, name, run1_root)
                    assert cert.serial == before[site.name].serial, (name, cert)
                    status, _, body = first.http_get(name, "/", https=True)
                    assert status == 200 and body.decode() == site.page(), (name, status)
            time.sleep(SAMPLE_INTERVAL)
        assert all(not order_failures(first, s.name) for s in OLD_SITES), first.log_tail()
        first.stop()

        # --- (a) a start with pebble down: stored certificates are served at once ----------------
        second = make_server(pebble, trust, OLD_SITES + (NEW,), root=first.root,
                             https_port=first.https_port)
        second.start()
        parent = second.parent_pid()
        resumed = second.count(RESUMING)
        for site in OLD_SITES:
            for name in site.names:
                cert = verified_cert(second, name, run1_root)
                assert cert.serial == before[site.name].serial, (name, cert, before[site.name])
                assert ISSUER in cert.issuer, cert
                status, headers, _ = second.http_get(name, "/")
                assert status == 301, (name, status)  # live: HTTP moves to HTTPS

        # --- (c) the new site: placeholder + 503 over HTTPS, its page over plain HTTP -------------
        for name in NEW.names:
            served = second.served_cert(name)
            assert ISSUER not in served.issuer, served
            assert name in served.sans, served
            assert not verifies_to(second, name, run1_root)
            status, headers, body = second.http_get(name, "/", https=True)
            assert status == 503, (name, status, body)
            retry = headers.get("Retry-After")
            assert retry is not None and retry.isdigit() and int(retry) > 0, dict(headers)
            status, headers, body = second.http_get(name, "/")
            assert status == 200 and headers.get("Location") is None, (name, status)
            assert body.decode() == NEW.page()

        # --- (d) the new site's orders back off: attempt 1, next try in ~60 s, no hammering ------
        failures = wait_for("the new site's first failed order",
                            lambda: order_failures(second, NEW.name), FAIL_TIMEOUT, second)
        failed_at = time.monotonic()
        attempt, delay = failures[0]
        assert attempt == 1, failures
        assert_backoff_delay(delay, "log line")
        job, written = wait_for("jobs/%s.json" % NEW.name, lambda: job_failed(second, NEW.name),
                                FAIL_TIMEOUT, second)
        assert job.get("failures") == 1, job
        assert_backoff_delay(job["next_try"] - written, "job file")
        assert isinstance(job.get("last_error"), str) and job["last_error"], job
        watch_from = time.monotonic()
        while time.monotonic() - watch_from < WATCH_SECONDS:
            for site in OLD_SITES:  # (b) again: the new site's failures change nothing for them
                assert verified_cert(second, site.name, run1_root).serial == \
                    before[site.name].serial
            time.sleep(SAMPLE_INTERVAL)
        failures = order_failures(second, NEW.name)
        assert failures == [(attempt, delay)], "retried within %.0f s: %r" % (WATCH_SECONDS,
                                                                           failures)
        assert read_job(second, NEW.name)[0].get("failures") == 1
        assert all(not order_failures(second, s.name) for s in OLD_SITES), second.log_tail()
        report(capsys, "pebble down: %s failed at attempt %d, next try in %d s (job file: %.0f "
               "s); %d failure line(s) in the %.0f s after it; job file %s"
               % (NEW.name, attempt, delay, job["next_try"] - written, len(failures),
                  time.monotonic() - failed_at, json.dumps(job, sort_keys=True)))

        # --- (e) pebble returns; the operator asks for a retry now; no restart ------------------
        pebble.start()
        run2_root = trust.add_run(pebble)
        asked = time.monotonic()
        operator_renew(autotls_cli, second, NEW.name)
        renew_request = os.path.join(second.store, "jobs", NEW.name + ".renew")
        wait_for("the renewal thread to take %s" % renew_request,
                 lambda: not os.path.exists(renew_request), PICKUP_TIMEOUT, second)
        second.wait_until_served(NEW.name, ISSUER, RECOVER_TIMEOUT)
        took = time.monotonic() - asked
        for name in NEW.names:
            cert = verified_cert(second, name, run2_root)  # the new run's root, not the old one
            assert cert.sans == tuple(sorted(NEW.names)), cert
            assert not verifies_to(second, name, run1_root)
            status, _, body = second.http_get(name, "/", https=True)
            assert status == 200 and body.decode() == NEW.page(), (name, status)
        for site in OLD_SITES:
            assert verified_cert(second, site.name, run1_root).serial == before[site.name].serial
        assert second.parent_pid() == parent, "the parent changed: httpd was restarted"
        assert second.count(RESUMING) == resumed, "a restart happened:\n" + second.log_tail()
        job, _ = read_job(second, NEW.name)
        assert job is not None and job.get("failures") == 0, job
        report(capsys, "pebble back: `autotls renew %s` to its certificate on the wire: %.2f s, "
               "same httpd parent %d" % (NEW.name, took, parent))
        passed = True
    finally:
        for server in (second, first):
            if server is not None:
                server.stop()
        if passed and not os.environ.get("AUTOTLS_KEEP_TMP"):
            shutil.rmtree(first.root, ignore_errors=True)
