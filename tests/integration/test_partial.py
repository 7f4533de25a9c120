# SPDX-License-Identifier: Apache-2.0
"""Partial success (issue 4, point 4): a vhost whose alias cannot validate still gets HTTPS now.

The one idea to hold: the CA decides which names validate, and the test makes one name fail the
way it fails in the field: pebble-challtestsrv answers b.test with 127.0.0.9, where nothing
listens on the http-01 port, so pebble's VA gets "connection refused" for b.test only. Everything
is then observed from outside: the SANs of the certificate served for a.test, the error log
naming b.test with the CA's own problem type, the time another site takes to be served, and the
certificate after the operator's `autotls renew` once b.test resolves to the server again.

Pieces under test: the library's partial issuance (lib/issue.c: allow_partial, one re-order for
the names that validated), the renewal thread (orders with allow_partial, retries the missing
names, `autotls renew NAME`), the activator (accepts a set covering a subset of the site's names).
"""

import re
import subprocess
import time

import pytest

import httpd
from autotls_server import AutoTLSServer, Site, skip_unless_runnable
from pebble import LOOPBACK

MODULE = skip_unless_runnable()

ISSUER = "Pebble"
DEAD_ADDRESS = "127.0.0.9"  # loopback too, but nothing listens there
PROBLEM_PREFIX = "urn:ietf:params:acme:error:"
# A site whose names all validate is served within seconds (one order, pebble without VA
# sleep); a failing alias elsewhere must not hold it back by as much as one order timeout.
USUAL_SERVED_SECONDS = 20.0
PARTIAL_SERVED_SECONDS = 40.0  # first order fails on b.test, the second covers a.test alone
RENEWED_SECONDS = 30.0  # `autotls renew` is picked up within a tick, then one order
CLI_TIMEOUT = 30.0
POLL_INTERVAL = 0.2

SITE = Site("a.test", aliases=("b.test",))
OTHER = Site("other.test")


def report(capsys, text):
    """Prints a measured figure into the test run's output, even without -s."""
    with capsys.disabled():
        print("\n[autotls partial] %s" % text)


def wait_for_sans(server, name, sans, timeout):
    """The certificate served for SNI name once it is a pebble one covering exactly sans."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = server.served_cert(name)
            if ISSUER in last.issuer and last.sans == tuple(sorted(sans)):
                return last
        except OSError as e:  # ssl.SSLError is one
            last = e
        time.sleep(POLL_INTERVAL)
    raise AssertionError("%s: no pebble certificate for %s within %.0f s (last: %r)\n%s"
                         % (name, ",".join(sans), timeout, last, server.log_tail()))


def failure_lines(server, name):
    """Error log lines that name `name` together with a problem type of the CA."""
    word = re.compile(r"(?<![\w.-])%s(?![\w-])" % re.escape(name))
    return [line for line in server.error_log().splitlines()
            if word.search(line) and PROBLEM_PREFIX in line]


def autotls_renew(cli, server, name):
    proc = subprocess.run([cli, "renew", "--store", server.store, name], capture_output=True,
                          text=True, timeout=CLI_TIMEOUT)
    assert proc.returncode == 0, ("`autotls renew` (the operator's retry-now request) failed "
                                  "(%d): %s%s" % (proc.returncode, proc.stdout, proc.stderr))


@pytest.fixture
def dead_alias(pebble):
    """b.test resolves to an address where nothing listens, for this test only."""
    pebble.set_a("b.test", DEAD_ADDRESS)
    yield "b.test"
    pebble.clear_a("b.test")


def test_alias_that_cannot_validate_is_left_out_then_added_on_request(
        pebble, dead_alias, autotls_cli, capsys):
    server = AutoTLSServer([SITE, OTHER], pebble=pebble)
    with server:
        server.start()

        # Another site is served in the usual time, whatever a.test's alias does.
        other = server.wait_until_served(OTHER.name, ISSUER, USUAL_SERVED_SECONDS)
        other_seconds = time.monotonic() - server.started_at
        assert other.sans == (OTHER.name,)

        # a.test gets a certificate now, for the name that validated only.
        partial = wait_for_sans(server, SITE.name, [SITE.name], PARTIAL_SERVED_SECONDS)
        partial_seconds = time.monotonic() - server.started_at
        assert server.served_cert(SITE.name, verify=True).serial == partial.serial

        # The log names b.test with the CA's reason: pebble's connection problem, at the dead
        # address.
        lines = failure_lines(server, dead_alias)
        assert lines, "no log line names %s with the CA's problem\n%s" % (dead_alias,
                                                                          server.log_tail())
        assert any(PROBLEM_PREFIX + "connection" in line and DEAD_ADDRESS in line
                   for line in lines), lines
        assert not failure_lines(server, OTHER.name), failure_lines(server, OTHER.name)
        report(capsys, "other.test served after %.2f s, a.test (partial: %s) after %.2f s"
               % (other_seconds, ",".join(partial.sans), partial_seconds))

        # b.test reaches the server again (challtestsrv adds A records to a name's list: clear
        # the dead one first); the operator asks for a retry now.
        pebble.clear_a(dead_alias)
        pebble.set_a(dead_alias, LOOPBACK)
        asked = time.monotonic()
        autotls_renew(autotls_cli, server, SITE.name)
        full = wait_for_sans(server, SITE.name, SITE.names, RENEWED_SECONDS)
        assert full.serial != partial.serial
        for name in SITE.names:
            cert = server.served_cert(name, verify=True)  # host name checked: b.test covered
            assert cert.serial == full.serial, (name, cert)
        report(capsys, "after `autotls renew`: %s served in %.2f s"
               % (",".join(full.sans), time.monotonic() - asked))

        # other.test was left alone meanwhile.
        assert server.served_cert(OTHER.name).serial == other.serial


# A renewal on our own schedule (here: half of a short lifetime) while the complete certificate
# is still valid.
SHORT_VALIDITY_SECONDS = 40
RENEWAL_FAILED_SECONDS = 45.0  # the renewal is due after 20 s; its order fails within seconds
COMPLETE = Site("c.test", aliases=("d.test",))


def test_due_renewal_keeps_the_complete_certificate_while_an_alias_fails(pebble_factory):
    """A name failing at a scheduled renewal does not take HTTPS away from it weeks early: the
    order is all or nothing, fails, backs off, and the complete certificate stays served."""
    ca = pebble_factory(validity_seconds=SHORT_VALIDITY_SECONDS, authz_reuse=0)
    server = AutoTLSServer([COMPLETE], pebble=ca)
    with server:
        server.start()
        complete = wait_for_sans(server, COMPLETE.name, COMPLETE.names, USUAL_SERVED_SECONDS)
        ca.set_a("d.test", DEAD_ADDRESS)
        try:
            failed = re.compile(r"autotls-0603: %s: order failed \([^\n]*reason: lifetime"
                                % re.escape(COMPLETE.name))
            deadline = time.monotonic() + RENEWAL_FAILED_SECONDS
            while not failed.search(server.error_log()) and time.monotonic() < deadline:
                time.sleep(POLL_INTERVAL)
            assert failed.search(server.error_log()), server.log_tail()
            # Complete still (a renewal pebble let through on a reused authorization may have
            # replaced it before d.test failed: the names are what matters, not the serial).
            for name in COMPLETE.names:
                served = server.served_cert(name, verify=True)
                assert ISSUER in served.issuer and served.sans == complete.sans, (name, served)
            assert not re.search(r"partial certificate for %s" % re.escape(COMPLETE.name),
                                 server.error_log())
        finally:
            ca.clear_a("d.test")
