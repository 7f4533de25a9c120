# SPDX-License-Identifier: Apache-2.0
"""The ARI test server (ari_proxy.py) in front of a real pebble, and `autotls show` reading ARI.

The one idea to hold: the proxy is only worth its tests if pebble behind it still behaves like
pebble (a real issuance through it works, every URL points at the proxy) and if what it adds is
exactly what a test set: the window for the right certID, Retry-After, the `replaces` record and
the refusals. Certificate IDs here are computed with the `openssl` command from the RFC 9773
recipe, independently of the C library.
"""

import base64
import http.client
import json
import os
import re
import socket
import ssl
import subprocess
import time
import urllib.parse

import pytest

from ari_proxy import AriProxy, rfc3339
from pebble import LOOPBACK

CLI_TIMEOUT = 120  # seconds one CLI run may take
ISSUE_TIMEOUT_ARG = "60"
HTTP_TIMEOUT = 10.0
STOP_DEADLINE = 3.0  # stop() must close an idle keep-alive connection within this
WINDOW_START = 1900000000  # 2030-03-17
WINDOW_END = WINDOW_START + 86400
PROXY_VARS = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


# --- helpers -----------------------------------------------------------------------------------


@pytest.fixture
def proxy(pebble):
    with AriProxy(pebble) as p:
        yield p


def run(cli, *args):
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARS}
    return subprocess.run([cli] + [str(a) for a in args], capture_output=True, text=True,
                          timeout=CLI_TIMEOUT, env=env, stdin=subprocess.DEVNULL)


def explain(proc):
    return "exit %d\n--- stdout\n%s--- stderr\n%s" % (proc.returncode, proc.stdout, proc.stderr)


def issue_through(cli, proxy, store, name):
    proc = run(cli, "issue", "--ca", proxy.directory_url, "--ca-cert", proxy.ca_file,
               "--store", store, "--timeout", ISSUE_TIMEOUT_ARG,
               "--standalone", "%s:%d" % (LOOPBACK, proxy.pebble.http01_port), name)
    assert proc.returncode == 0, explain(proc)
    return proc


def https(proxy, method, path, body=None, headers=None):
    """(status, headers dict with lower-case names, body bytes) of one request to the proxy."""
    ctx = ssl.create_default_context(cafile=proxy.ca_file)
    conn = http.client.HTTPSConnection(LOOPBACK, proxy.port, timeout=HTTP_TIMEOUT, context=ctx)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def directory(proxy):
    status, _, body = https(proxy, "GET", "/dir")
    assert status == 200
    return json.loads(body)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def cert_id_of(pem):
    """RFC 9773 section 4.1 with the openssl command: AKI keyIdentifier "." serial octets."""
    aki = subprocess.run(["openssl", "x509", "-noout", "-ext", "authorityKeyIdentifier"],
                         input=pem, capture_output=True, text=True, check=True).stdout
    key_id = re.search(r"((?:[0-9A-Fa-f]{2}:)+[0-9A-Fa-f]{2})", aki.split("\n", 1)[1]).group(1)
    serial = subprocess.run(["openssl", "x509", "-noout", "-serial"], input=pem,
                            capture_output=True, text=True, check=True).stdout
    serial_hex = serial.strip().split("=", 1)[1]
    serial_hex = ("0" if len(serial_hex) % 2 else "") + serial_hex
    octets = bytes.fromhex(serial_hex)
    if octets[0] & 0x80:  # DER INTEGER content: a leading zero keeps it positive
        octets = b"\x00" + octets
    return b64url(bytes.fromhex(key_id.replace(":", ""))) + "." + b64url(octets)


def leaf_pem(store, site):
    with open(os.path.join(store, "live", site, "fullchain.pem")) as f:
        return re.search(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n", f.read(),
                         re.S).group(0)


def fake_jws(payload):
    """A flattened JWS with this payload and no valid signature: the proxy decodes without
    verifying, pebble refuses whatever reaches it."""
    protected = {"alg": "ES256", "nonce": "x", "url": "https://example.invalid/", "kid": "x"}
    return json.dumps({"protected": b64url(json.dumps(protected).encode()),
                       "payload": b64url(json.dumps(payload).encode()),
                       "signature": b64url(b"\0" * 64)}).encode()


# --- the proxy ---------------------------------------------------------------------------------


def test_directory_through_proxy_points_every_url_at_the_proxy(proxy):
    d = directory(proxy)
    assert d["renewalInfo"] == proxy.renewal_info_url
    urls = [v for v in d.values() if isinstance(v, str)]
    assert len(urls) >= 5
    for url in urls:
        parts = urllib.parse.urlsplit(url)
        assert (parts.scheme, parts.hostname, parts.port) == ("https", LOOPBACK, proxy.port), url
    assert proxy.port != proxy.pebble.acme_port


def test_proxy_without_ari_serves_pebbles_own_directory(pebble):
    with AriProxy(pebble, ari=False) as plain:
        d = directory(plain)
        assert "renewalInfo" not in d
        assert d["newOrder"] == "https://%s:%d/order-plz" % (LOOPBACK, plain.port)
        status, _, _ = https(plain, "GET", "/renewal-info/aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE")
        assert status == 404  # forwarded: pebble has no such resource


def test_cli_issues_through_the_proxy(autotls_cli, proxy, tmp_path):
    store = str(tmp_path / "store")
    issue_through(autotls_cli, proxy, store, "through.test")
    methods_paths = set(proxy.requests)
    assert ("GET", "/dir") in methods_paths
    assert ("POST", "/order-plz") in methods_paths
    assert any(m == "POST" and p.startswith("/finalize-order/") for m, p in proxy.requests)
    assert proxy.orders == [None]  # a first issuance replaces nothing
    assert proxy.replaces_seen == []


def test_default_window_is_far_in_the_future_without_retry_after(proxy):
    status, headers, body = https(proxy, "GET", "/renewal-info/aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE")
    assert status == 200 and headers["content-type"] == "application/json"
    assert "retry-after" not in headers
    window = json.loads(body)["suggestedWindow"]
    year = time.gmtime().tm_year
    assert int(window["start"][:4]) >= year + 5 and window["end"] > window["start"]


def test_window_set_for_a_cert_id_is_served_for_that_certificate_only(autotls_cli, proxy,
                                                                       tmp_path):
    store = str(tmp_path / "store")
    issue_through(autotls_cli, proxy, store, "window.test")
    cert_id = cert_id_of(leaf_pem(store, "window.test"))
    proxy.set_window(WINDOW_START, WINDOW_END, retry_after=120, cert_id=cert_id,
                     explanation_url="https://example.test/why")

    status, headers, body = https(proxy, "GET", "/renewal-info/" + cert_id)
    assert status == 200
    assert headers["retry-after"] == "120"
    doc = json.loads(body)
    assert doc["suggestedWindow"] == {"start": rfc3339(WINDOW_START), "end": rfc3339(WINDOW_END)}
    assert doc["suggestedWindow"]["start"] == "2030-03-17T17:46:40Z"
    assert doc["explanationURL"] == "https://example.test/why"

    status, headers, body = https(proxy, "GET", "/renewal-info/AAAA.AQ")
    assert status == 200 and "retry-after" not in headers
    assert json.loads(body)["suggestedWindow"]["start"] != rfc3339(WINDOW_START)
    assert proxy.ari_requests == [cert_id, "AAAA.AQ"]


def test_malformed_cert_id_is_refused(proxy):
    status, headers, body = https(proxy, "GET", "/renewal-info/no-dot-here")
    assert status == 400
    assert headers["content-type"] == "application/problem+json"
    assert json.loads(body)["type"] == "urn:ietf:params:acme:error:malformed"


def test_orders_carrying_replaces_are_recorded_and_refused_n_times(proxy):
    proxy.refuse_replaces(1)
    order = {"identifiers": [{"type": "dns", "value": "r.test"}], "replaces": "AAAA.AQ"}
    headers = {"Content-Type": "application/jose+json"}

    status, h, body = https(proxy, "POST", "/order-plz", fake_jws(order), headers)
    assert status == 409
    assert h["content-type"] == "application/problem+json"
    assert json.loads(body)["type"] == "urn:ietf:params:acme:error:alreadyReplaced"
    assert h.get("replay-nonce"), "a refusal still hands out a fresh nonce"

    # the refusal is used up: the next one reaches pebble, which rejects the fake signature
    status, h, body = https(proxy, "POST", "/order-plz", fake_jws(order), headers)
    assert status != 409 and 400 <= status < 500
    assert json.loads(body)["type"] != "urn:ietf:params:acme:error:alreadyReplaced"

    # an order without replaces is never refused, whatever is pending
    proxy.refuse_replaces(2, status=403, type="urn:ietf:params:acme:error:unauthorized")
    del order["replaces"]
    status, _, _ = https(proxy, "POST", "/order-plz", fake_jws(order), headers)
    assert status != 403
    # only the proxy's own refusal counts as an order: pebble created none of the fake ones
    assert proxy.replaces_seen == ["AAAA.AQ"]
    assert proxy.orders == ["AAAA.AQ"]


def test_stop_closes_an_idle_keep_alive_connection(pebble):
    p = AriProxy(pebble).start()
    ctx = ssl.create_default_context(cafile=p.ca_file)
    raw = socket.create_connection((LOOPBACK, p.port), timeout=HTTP_TIMEOUT)
    conn = ctx.wrap_socket(raw, server_hostname=LOOPBACK)
    try:
        conn.sendall(b"GET /dir HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (LOOPBACK.encode(), p.port))
        assert conn.recv(64).startswith(b"HTTP/1.1 200")
        time.sleep(0.2)  # let the rest arrive: the connection is now idle, kept alive
        started = time.monotonic()
        p.stop()
        assert time.monotonic() - started < STOP_DEADLINE
        conn.settimeout(STOP_DEADLINE)
        while conn.recv(65536):  # drains the directory's tail, then must see the close
            pass
    finally:
        conn.close()


# --- autotls show ------------------------------------------------------------------------------


def test_show_prints_the_window_the_ca_suggests_for_that_certificate(autotls_cli, proxy,
                                                                     tmp_path):
    store = str(tmp_path / "store")
    issue_through(autotls_cli, proxy, store, "shown.test")
    cert_id = cert_id_of(leaf_pem(store, "shown.test"))
    proxy.set_window(WINDOW_START, WINDOW_END, retry_after=60, cert_id=cert_id)

    proc = run(autotls_cli, "show", "--store", store)
    assert proc.returncode == 0, explain(proc)
    assert "  renewal window: %s .. %s\n" % (rfc3339(WINDOW_START), rfc3339(WINDOW_END)) \
        in proc.stdout, explain(proc)
    assert proxy.ari_requests == [cert_id]  # the C identifier is the openssl-computed one

    proc = run(autotls_cli, "show", "--store", store, "--json")
    assert proc.returncode == 0, explain(proc)
    [entry] = json.loads(proc.stdout)
    assert entry["renewal_window"] == {"start": rfc3339(WINDOW_START),
                                       "end": rfc3339(WINDOW_END)}


def test_show_says_so_when_the_ca_offers_no_renewal_info(autotls_cli, pebble, tmp_path):
    store = str(tmp_path / "store")
    with AriProxy(pebble, ari=False) as plain:
        issue_through(autotls_cli, plain, store, "plain.test")
        proc = run(autotls_cli, "show", "--store", store)
        assert proc.returncode == 0, explain(proc)
        lines = [line for line in proc.stdout.splitlines() if "renewal window" in line]
        assert lines == ["  renewal window: not offered by the CA"], explain(proc)
        assert not any(p.startswith("/renewal-info") for _, p in plain.requests)
        proc = run(autotls_cli, "show", "--store", store, "--json")
        assert json.loads(proc.stdout)[0]["renewal_window"] is None


def test_show_with_the_ca_gone_still_lists_the_certificate(autotls_cli, pebble, tmp_path):
    store = str(tmp_path / "store")
    with AriProxy(pebble) as p:
        issue_through(autotls_cli, p, store, "gone.test")
    proc = run(autotls_cli, "show", "--store", store)  # the proxy's port is closed now
    assert proc.returncode == 0, explain(proc)
    assert "gone.test" in proc.stdout
    assert re.search(r"^  renewal window: unavailable \(.+\)$", proc.stdout, re.M), explain(proc)
