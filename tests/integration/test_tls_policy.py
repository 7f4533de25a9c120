# SPDX-License-Identifier: Apache-2.0
"""What the HTTPS twins offer a client: AutoTLSPolicy's TLS settings and AutoTLSHSTS's header.

The one idea to hold: both are observed from a client's side. The policy through handshakes a
client restricts on purpose (a TLS 1.2 client that offers only an old CBC cipher, a client
that stops at TLS 1.2): each is refused or accepted by the real twin, before any certificate
is issued (the placeholder serves the handshake just as well, so a CA nobody listens to will
do). HSTS through the response headers: none on the 503 a site answers before its certificate
is live, the configured value on every HTTPS answer of a live site (pages and error pages),
none over plain HTTP and none for a vhost that says AutoTLSHSTS off.
"""

import json
import os
import shutil
import socket
import ssl
import subprocess

import pytest

import httpd
from autotls_server import AutoTLSServer, Site, skip_unless_runnable

MODULE = skip_unless_runnable()

HSTS = "Strict-Transport-Security"
HSTS_VALUE = "max-age=300; includeSubDomains"
# The ECDHE CBC suites OpenSSL's default list offers at TLS 1.2 (the placeholder key may be
# EC or RSA): refused by intermediate, accepted by mod_ssl's default (AutoTLSPolicy inherit).
CBC_ONLY = "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA"
# A client that prefers AES-256: the server's order (AES-128 first) wins under our policies.
AES256_FIRST = ("ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256")
SITE = Site("policy.test")


def dead_ca():
    return "https://127.0.0.1:%d/directory" % httpd.free_port()


def handshake(server, name, maximum=None, ciphers=None):
    """The negotiated (version, cipher) of one handshake restricted as asked, or the error."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if maximum is not None:
        ctx.maximum_version = maximum
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    with socket.create_connection(("127.0.0.1", server.https_port), timeout=5) as sock:
        try:
            with ctx.wrap_socket(sock, server_hostname=name) as tls:
                return tls.version(), tls.cipher()[0]
        except (ssl.SSLError, ConnectionResetError) as e:
            return e


@pytest.fixture
def policy_server(request):
    servers = []

    def start(extra=""):
        server = AutoTLSServer([SITE], ca_url=dead_ca(), extra=extra)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


def test_default_policy_refuses_cbc_ciphers_and_offers_tls13(policy_server):
    server = policy_server()
    old = handshake(server, SITE.name, maximum=ssl.TLSVersion.TLSv1_2, ciphers=CBC_ONLY)
    assert isinstance(old, Exception), "intermediate accepted a CBC-only client: %r" % (old,)
    version, cipher = handshake(server, SITE.name, maximum=ssl.TLSVersion.TLSv1_2)
    assert version == "TLSv1.2" and ("GCM" in cipher or "CHACHA20" in cipher), cipher
    assert handshake(server, SITE.name)[0] == "TLSv1.3"
    _, cipher = handshake(server, SITE.name, maximum=ssl.TLSVersion.TLSv1_2, ciphers=AES256_FIRST)
    assert "AES128-GCM" in cipher, "the client's order won: %s" % cipher


def test_modern_policy_refuses_tls12(policy_server):
    server = policy_server("AutoTLSPolicy modern")
    refused = handshake(server, SITE.name, maximum=ssl.TLSVersion.TLSv1_2)
    assert isinstance(refused, Exception), "modern accepted TLS 1.2: %r" % (refused,)
    assert handshake(server, SITE.name)[0] == "TLSv1.3"


def test_inherit_keeps_mod_ssl_defaults(policy_server):
    server = policy_server("AutoTLSPolicy inherit")
    version, cipher = handshake(server, SITE.name, maximum=ssl.TLSVersion.TLSv1_2,
                                ciphers=CBC_ONLY)
    assert version == "TLSv1.2" and "AES128-SHA" in cipher, cipher
    _, cipher = handshake(server, SITE.name, maximum=ssl.TLSVersion.TLSv1_2, ciphers=AES256_FIRST)
    assert "AES256-GCM" in cipher, "mod_ssl's default lets the client choose: %s" % cipher


def test_no_hsts_on_the_pending_503(policy_server):
    server = policy_server("AutoTLSHSTS %s" % HSTS_VALUE)
    status, headers, _ = server.http_get(SITE.name, https=True)
    assert status == 503
    assert headers.get(HSTS) is None, "HSTS pinned on a placeholder: %r" % headers.get(HSTS)


def test_hsts_on_https_answers_of_live_sites_only(pebble):
    on, off = Site("hsts-on.test"), Site("hsts-off.test", directives="AutoTLSHSTS off")
    with AutoTLSServer([on, off], pebble=pebble,
                       extra="AutoTLSHSTS %s\nAutoTLSRedirect off" % HSTS_VALUE) as server:
        server.start()
        for site in (on, off):
            server.wait_until_served(site.name)
        status, headers, body = server.http_get(on.name, https=True)
        assert status == 200 and on.page().encode() in body
        assert headers.get(HSTS) == HSTS_VALUE
        status, headers, _ = server.http_get(on.name, "/no-such-page", https=True)
        assert status == 404 and headers.get(HSTS) == HSTS_VALUE, "no HSTS on an error page"
        status, headers, _ = server.http_get(on.name)
        assert status == 200 and headers.get(HSTS) is None, "HSTS sent over plain HTTP"
        status, headers, _ = server.http_get(off.name, https=True)
        assert status == 200 and headers.get(HSTS) is None, "AutoTLSHSTS off in the vhost ignored"


TESTSSL = shutil.which("testssl")
TESTSSL_TIMEOUT = 900.0
FAILING_SEVERITIES = ("HIGH", "CRITICAL")
# Properties of the CA's certificate, not of the twin's TLS: pebble's certificates name neither
# a CRL nor an OCSP responder.
CA_FINDINGS = ("cert_revocation",)


# testssl.sh makes thousands of connections from a shell script: 5-10 minutes on 2 shared
# cores, more than the whole suite may spend, so it runs on request only (README, "Testing").
@pytest.mark.skipif(TESTSSL is None or not os.environ.get("AUTOTLS_TESTSSL"),
                    reason="set AUTOTLS_TESTSSL=1 (and install Debian's testssl.sh) to run it")
def test_testssl_finds_nothing_high_or_critical_on_a_live_twin(pebble, tmp_path):
    site = Site("testssl.test")
    with AutoTLSServer([site], pebble=pebble) as server:
        server.start()
        server.wait_until_served(site.name)
        roots = tmp_path / "roots.pem"
        roots.write_text(pebble.roots_pem())
        report = tmp_path / "testssl.json"
        proc = subprocess.run(
            [TESTSSL, "--quiet", "--color", "0", "--warnings", "batch", "--add-ca", str(roots),
             "--ip", "127.0.0.1", "--nodns", "min", "--jsonfile", str(report), "--severity", "LOW",
             "https://%s:%d/" % (site.name, server.https_port)],
            capture_output=True, text=True, timeout=TESTSSL_TIMEOUT)
        findings = json.loads(report.read_text())
        assert findings, "testssl.sh wrote no findings (%d): %s" % (proc.returncode,
                                                                     proc.stdout[-2000:])
        bad = [(f.get("id"), f.get("severity"), f.get("finding")) for f in findings
               if f.get("severity") in FAILING_SEVERITIES and f.get("id") not in CA_FINDINGS]
        assert not bad, bad


CURL = shutil.which("curl")
HTTP2_MODULE = httpd.MODULES_DIR / "mod_http2.so"
CURL_TIMEOUT = 30.0


@pytest.mark.skipif(CURL is None or not HTTP2_MODULE.is_file(), reason="needs curl and mod_http2")
def test_http2_request_to_a_live_twin_under_event_mpm(pebble):
    """Debian's http2.conf sets `Protocols h2 h2c http/1.1` server-wide: the twins inherit it,
    and the intermediate policy's ciphers are all ones HTTP/2 allows (RFC 7540 §9.2.2)."""
    site = Site("h2.test")
    extra = 'LoadModule http2_module "%s"\nProtocols h2 h2c http/1.1' % HTTP2_MODULE
    with AutoTLSServer([site], pebble=pebble, mpm="event", extra=extra) as server:
        server.start()
        server.wait_until_served(site.name)
        proc = subprocess.run(
            [CURL, "--silent", "--show-error", "--http2", "--cacert", server.trust_file,
             "--resolve", "%s:%d:127.0.0.1" % (site.name, server.https_port),
             "--write-out", "\\n%{http_version} %{http_code}",
             "https://%s:%d/" % (site.name, server.https_port)],
            capture_output=True, text=True, timeout=CURL_TIMEOUT)
        assert proc.returncode == 0, proc.stderr
        body, _, status = proc.stdout.rpartition("\n")
        assert status == "2 200", (status, proc.stderr)
        assert site.page() in body + "\n"
