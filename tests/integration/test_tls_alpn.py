# SPDX-License-Identifier: Apache-2.0
"""tls-alpn-01 (RFC 8737, issue 14 item 1): certificates for sites whose port 80 the CA cannot reach.

The one idea to hold: pebble's VA here is real and port 80 is closed to it. pebble's httpPort
points at a port where nothing listens and its tlsPort at the twins' HTTPS port, so http-01
cannot succeed and tls-alpn-01 can: the CA connects with SNI = the name and ALPN acme-tls/1
alone, and the child answers with a validation certificate it minted itself from the stored
answer (the name and the key authorization's digest, no key). Any other client on the same port
gets the site's own certificate; a lone acme-tls/1 offer for a name without an answer gets a
failed handshake and no certificate at all.
"""

import base64
import hashlib
import json
import os
import re
import secrets
import socket
import ssl
import stat
import subprocess
import threading
import time

import pytest
from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

import httpd
from autotls_server import (ACME_USER, WWW_USER, AutoTLSServer, Site, skip_unless_runnable,
                            wait_for, write_challenge)
from pebble import LOOPBACK, PebbleEnv, free_port

MODULE = skip_unless_runnable()

ISSUER = "Pebble"
SERVED_TIMEOUT = 90.0
LOG_TIMEOUT = 30.0
ACME_TLS = "acme-tls/1"
ACME_IDENTIFIER = ObjectIdentifier("1.3.6.1.5.5.7.1.31")
ITEM_PREFIX = "tls-alpn-01."
FALLBACK_LOG = r"http-01 validation of %s failed at .*; ordering again with tls-alpn-01"
ANSWERED_LOG = r"autotls-0145: %s: answering tls-alpn-01"
REFUSED_LOG = r"autotls-0144: %s: an acme-tls/1 handshake for a name without a tls-alpn-01"
FALLBACK_BURST = 10
FALLBACK_RATE = "AutoTLSCARate %d/1h\n" % FALLBACK_BURST
WATCH_POLL = 0.002  # seconds between looks at challenges/ while an order runs
HANDSHAKE_TIMEOUT = 5.0


@pytest.fixture(scope="module")
def closed_port80_pebble():
    """pebble whose http-01 port has no listener (port 80 closed to the CA); its tlsPort is the
    HTTPS port the test servers use."""
    with PebbleEnv(http01_port=free_port(), tls_port=free_port()) as env:
        yield env


def rate_tokens(server):
    """The tokens of the CA's order bucket as the renewal process last saved it, or None."""
    for name in os.listdir(os.path.join(server.store, "jobs")):
        if name.startswith("_rate-"):
            with open(os.path.join(server.store, "jobs", name)) as f:
                return json.load(f)["tokens"]
    return None


def alpn_server(sites, env, extra=""):
    return AutoTLSServer(sites, pebble=env, http_port=free_port(), https_port=env.tls_port,
                         extra=extra)


def handshake(server, name, protocols):
    """(selected ALPN protocol, DER of the served certificate) of one handshake with SNI name,
    offering protocols; raises ssl.SSLError when the server ends the handshake."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(list(protocols))
    with socket.create_connection((LOOPBACK, server.https_port), timeout=HANDSHAKE_TIMEOUT) as s:
        with ctx.wrap_socket(s, server_hostname=name) as tls:
            return tls.selected_alpn_protocol(), tls.getpeercert(binary_form=True)


def acme_identifier(der):
    """(critical, value bytes) of the certificate's acmeIdentifier extension, or None."""
    cert = x509.load_der_x509_certificate(der)
    try:
        ext = cert.extensions.get_extension_for_oid(ACME_IDENTIFIER)
    except x509.ExtensionNotFound:
        return None
    return ext.critical, ext.value.value


def dns_names(der):
    cert = x509.load_der_x509_certificate(der)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return san.get_values_for_type(x509.DNSName)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def plant_answer(server, name, keyauth):
    """challenges/tls-alpn-01.<name> as the renewal process writes it; the digest it holds."""
    digest = hashlib.sha256(keyauth.encode()).digest()
    body = json.dumps({"identifier": name, "acmeIdentifier": b64url(digest)},
                      separators=(",", ":"))
    write_challenge(server, ITEM_PREFIX + name, body)
    return digest


class ChallengeWatch:
    """Reads every tls-alpn-01 item that appears in challenges/ while an order runs (the renewal
    process removes it once the CA has looked), with its owner and mode."""

    def __init__(self, server):
        self.directory = os.path.join(server.store, "challenges")
        self.seen = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        return False

    def _run(self):
        while not self._stop.is_set():
            try:
                for entry in os.listdir(self.directory):
                    if entry.startswith(ITEM_PREFIX) and entry not in self.seen:
                        path = os.path.join(self.directory, entry)
                        st = os.stat(path)
                        with open(path, "rb") as f:
                            self.seen[entry] = (f.read(), st.st_uid, stat.S_IMODE(st.st_mode))
            except OSError:
                pass
            time.sleep(WATCH_POLL)


def test_site_with_only_tls_alpn_gets_a_certificate_while_port_80_is_closed_to_the_ca(
        closed_port80_pebble):
    site = Site("alpn-only.test", directives="AutoTLSChallenge tls-alpn-01")
    server = alpn_server([site], closed_port80_pebble)
    # the watch runs before the server starts (entering the server starts it): the whole order
    # may take less than 100 ms, the answer's life a few
    with ChallengeWatch(server) as watch, server:
        served = server.wait_until_served(site.name, ISSUER, SERVED_TIMEOUT)
        assert served.sans == (site.name,)
        verified = server.served_cert(site.name, verify=True)
        assert verified.serial == served.serial
        status, _, body = server.http_get(site.name, https=True)
        assert status == 200 and site.page().encode() in body
        log = server.error_log()
        assert re.search(ANSWERED_LOG % re.escape(site.name), log), server.log_tail()
        assert not re.search(FALLBACK_LOG % re.escape(site.name), log)  # never tried http-01
        # (d) what the renewal process published: the name and a digest, owned by the ACME
        # account, public (children read it) and without a key
        item = ITEM_PREFIX + site.name
        assert item in watch.seen, "the answer was never seen in challenges/"
        content, uid, mode = watch.seen[item]
        answer = json.loads(content)
        assert set(answer) == {"identifier", "acmeIdentifier"}, answer
        assert answer["identifier"] == site.name
        assert len(base64.urlsafe_b64decode(answer["acmeIdentifier"] + "=")) == 32
        assert b"PRIVATE KEY" not in content and b"CERTIFICATE" not in content
        assert uid == _uid(ACME_USER) and mode == 0o644
        # withdrawn once the order is done
        wait_for("the answer withdrawn",
                 lambda: not os.path.exists(os.path.join(watch.directory, item)),
                 LOG_TIMEOUT, server)


def test_default_list_falls_back_to_tls_alpn_when_the_ca_cannot_connect_to_port_80(
        closed_port80_pebble):
    site = Site("fallback.test")
    with alpn_server([site], closed_port80_pebble, extra=FALLBACK_RATE) as server:
        server.start()
        served = server.wait_until_served(site.name, ISSUER, SERVED_TIMEOUT)
        assert served.sans == (site.name,)
        log = server.error_log()
        assert re.search(FALLBACK_LOG % re.escape(site.name), log), server.log_tail()
        assert re.search(ANSWERED_LOG % re.escape(site.name), log), server.log_tail()
        # Two new orders at the CA (the failed http-01 one and the fallback): two tokens spent,
        # as the CA counts them; the bucket is saved within a tick.
        wait_for("the bucket saved with two tokens spent",
                 lambda: rate_tokens(server) == FALLBACK_BURST - 2, 5, server)


@pytest.fixture(scope="module")
def placeholder_server():
    """Two managed sites that keep their placeholders (no CA listens); Debian's http2.conf
    line server-wide, so the twins' Protocols must add acme-tls/1 to it."""
    sites = [Site("answered.test"), Site("unanswered.test"),
             Site("http-only.test", directives="AutoTLSChallenge http-01")]
    srv = AutoTLSServer(sites, ca_url="https://127.0.0.1:%d/directory" % httpd.free_port(),
                        extra="Protocols h2 h2c http/1.1")
    with srv:
        srv.start()
        yield srv


def test_only_a_lone_acme_tls_offer_ever_gets_the_validation_certificate(placeholder_server):
    server = placeholder_server
    name = "answered.test"
    digest = plant_answer(server, name, "%s.%s" % (secrets.token_urlsafe(32),
                                                   secrets.token_urlsafe(32)))
    placeholder = server.served_cert(name)
    for offer in (["h2", "http/1.1"], ["http/1.1"], [ACME_TLS, "http/1.1"], [ACME_TLS, "h2"],
                  ["h2", ACME_TLS]):
        try:
            selected, der = handshake(server, name, offer)
        except ssl.SSLError:
            # httpd (no mod_http2 here) answers http/1.1, which an h2-only offer may refuse:
            # no certificate reached the client at all
            assert "http/1.1" not in offer, offer
            continue
        assert selected != ACME_TLS, offer
        assert acme_identifier(der) is None, offer
        assert dns_names(der) == [name] and x509.load_der_x509_certificate(der).serial_number \
            == int(placeholder.serial, 16), offer
    selected, der = handshake(server, name, [ACME_TLS])
    assert selected == ACME_TLS
    assert acme_identifier(der) == (True, b"\x04\x20" + digest)
    assert dns_names(der) == [name]
    assert re.search(ANSWERED_LOG % re.escape(name), server.error_log())


def test_acme_tls_for_a_name_without_an_answer_fails_the_handshake(placeholder_server):
    server = placeholder_server
    for name in ("unanswered.test", "unknown.test"):
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            handshake(server, name, [ACME_TLS])
    # a site that does not list tls-alpn-01 never speaks acme-tls/1 (httpd answers http/1.1,
    # which the client may refuse)
    try:
        selected, der = handshake(server, "http-only.test", [ACME_TLS])
        assert selected != ACME_TLS and acme_identifier(der) is None
    except ssl.SSLError:
        pass
    assert re.search(REFUSED_LOG % re.escape("unanswered.test"), server.error_log())
    # an answer for one name never validates another: renamed to another site's item
    digest = hashlib.sha256(b"x").digest()
    write_challenge(server, ITEM_PREFIX + "unanswered.test",
                    json.dumps({"identifier": "answered.test", "acmeIdentifier": b64url(digest)}))
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        handshake(server, "unanswered.test", [ACME_TLS])


def test_no_http_after_a_validation_handshake(placeholder_server):
    server = placeholder_server
    plant_answer(server, "answered.test", "k.%s" % secrets.token_urlsafe(32))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols([ACME_TLS])
    with socket.create_connection((LOOPBACK, server.https_port), timeout=HANDSHAKE_TIMEOUT) as s:
        with ctx.wrap_socket(s, server_hostname="answered.test") as tls:
            assert tls.selected_alpn_protocol() == ACME_TLS
            tls.sendall(b"GET / HTTP/1.1\r\nHost: answered.test\r\n\r\n")
            try:
                data = tls.recv(4096)
            except (ssl.SSLError, ConnectionResetError):
                data = b""
    assert b"HTTP/" not in data


def test_a_user_process_cannot_plant_a_tls_alpn_answer(placeholder_server):
    """(d) the children's account (User, where tenants' code runs) cannot write challenges/, and
    an item it owns (a store from before the ACME account) is not served."""
    server = placeholder_server
    directory = os.path.join(server.store, "challenges")
    st = os.stat(directory)
    assert st.st_uid == _uid(ACME_USER) and stat.S_IMODE(st.st_mode) == 0o755
    target = os.path.join(directory, ITEM_PREFIX + "unanswered.test")
    proc = subprocess.run(["runuser", "-u", WWW_USER, "--", "sh", "-c",
                           "echo '{}' > '%s'" % target], capture_output=True, timeout=10,
                          check=False)
    assert proc.returncode != 0
    path = write_challenge(server, ITEM_PREFIX + "unanswered.test", json.dumps(
        {"identifier": "unanswered.test",
         "acmeIdentifier": b64url(hashlib.sha256(b"tenant").digest())}))
    os.chown(path, _uid(WWW_USER), _uid(WWW_USER))
    try:
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            handshake(server, "unanswered.test", [ACME_TLS])
    finally:
        os.unlink(path)


def test_config_check_lists_challenge_types_and_refuses_unknown_ones():
    site = Site("check.test", directives="AutoTLSChallenge tls-alpn-01 http-01")
    server = AutoTLSServer([site], ca_url="https://127.0.0.1:%d/directory" % httpd.free_port())
    server.write_config()
    proc = server.apache2("-t")
    assert proc.returncode == 0, proc.stderr
    assert "check.test: validated by tls-alpn-01, then http-01" in proc.stderr + proc.stdout
    bad = AutoTLSServer([Site("bad.test", directives="AutoTLSChallenge http-01 tls-sni-01")],
                        ca_url="https://127.0.0.1:%d/directory" % httpd.free_port())
    bad.write_config()
    proc = bad.apache2("-t")
    assert proc.returncode != 0
    assert 'AutoTLSChallenge: "tls-sni-01" is no challenge type' in proc.stderr + proc.stdout


def _uid(user):
    import pwd
    return pwd.getpwnam(user).pw_uid
