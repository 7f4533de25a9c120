# SPDX-License-Identifier: Apache-2.0
"""IP-address certificates (RFC 8738): a vhost whose ServerName is an IP address, against a real
pebble.

The one idea to hold: a client of https://<ip>/ sends no SNI (RFC 6066 carries no address), so
what it gets is decided by the address it connected to. We connect the way such a client does:
to the address, without SNI, verifying the chain against pebble's roots and the address against
the certificate's iPAddress SAN (OpenSSL's own check: `openssl s_client -verify_ip`). The test
owns 127.0.0.3 (all of 127/8 is loopback on Linux): pebble's VA connects to the address itself
for http-01, so the vhost really listens there. An IP vhost is managed only with AutoTLS on in
that vhost, and a loopback one only with AutoTLSAllowPrivateIP on: what `apache2 -S` says shows
both refusals.
"""

import base64
import hashlib
import http.client
import ipaddress
import json
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import threading
import time

import pytest
from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

import httpd
from autotls_server import (CONNECT_TIMEOUT, LOOPBACK, AutoTLSServer, Site, normalize_serial,
                            skip_unless_runnable, write_challenge)
from pebble import PebbleEnv, free_port

MODULE = skip_unless_runnable()

IP = "127.0.0.3"  # the address this test's IP site has, and listens on
OTHER_IP = "127.0.0.4"  # a ServerName left to the server-wide AutoTLS only
HOST = "www.ip-cert.test"  # a host-name site beside it (challtestsrv resolves it to 127.0.0.1)
UNUSED_CA = "https://127.0.0.1:9/dir"  # `apache2 -S` reads the configuration only
ISSUED_TIMEOUT = 90.0
POLL_INTERVAL = 0.2
SKIP_VHOST = "%s: skipped: its ServerName is an IP address: only with AutoTLS on in its vhost"
SKIP_PRIVATE = "%s: skipped: its ServerName is a loopback address: no public CA validates it"
# tls-alpn-01 for an IP address (RFC 8738 §6): the CA's SNI is the address's reverse-DNS name
ACME_TLS = "acme-tls/1"
ACME_IDENTIFIER = ObjectIdentifier("1.3.6.1.5.5.7.1.31")
REVERSE = "3.0.0.127.in-addr.arpa"  # IP's reverse-DNS name, as pebble's VA sends it
IP6 = "::1"  # an IPv6 address goes in a ServerAlias (httpd's ServerName cannot hold one)
V6_HOST = "v6.ip-cert.test"
REVERSE6 = "1." + "0." * 31 + "ip6.arpa"  # ::1's 32 nibbles, the last first
ANSWERED_LOG = "autotls-0145: %s: answering tls-alpn-01" % IP
FALLBACK_LOG = "ordering again with tls-alpn-01"
# what an ordinary client offers; acme-tls/1 beside another protocol is no validation either
ORDINARY_OFFERS = ([], ["http/1.1"], ["h2", "http/1.1"], [ACME_TLS, "http/1.1"])
PROBE_INTERVAL = 0.05  # seconds between an ordinary client's handshakes while the order runs


def ip_server(pebble, sites, extra=""):
    """An AutoTLSServer that also listens for plain HTTP on IP (where pebble's VA connects)."""
    server = AutoTLSServer(sites, pebble=pebble,
                           extra="AutoTLSAllowPrivateIP on\n" + extra)
    server.extra += "\nListen %s:%d\n" % (IP, server.http_port)
    return server


def sans_of(der):
    """(IP SANs, DNS SANs) of a DER certificate, as the openssl command prints them."""
    text = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-ext",
                           "subjectAltName"], input=der, capture_output=True, check=True,
                          timeout=CONNECT_TIMEOUT).stdout.decode()
    return (tuple(re.findall(r"IP Address:([0-9A-Fa-f.:]+)", text)),
            tuple(re.findall(r"DNS:([^,\s]+)", text)))


def connect(server, address, verify, sni=None):
    """A TLS connection to address:https_port, without SNI unless sni; verify: the chain against
    this pebble run's roots (the address is checked by the caller: no host name to check)."""
    ctx = ssl.create_default_context(cafile=server.trust_file)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED if verify else ssl.CERT_NONE
    sock = socket.create_connection((address, server.https_port), timeout=CONNECT_TIMEOUT)
    try:
        return ctx.wrap_socket(sock, server_hostname=sni)
    except BaseException:
        sock.close()
        raise


def wait_for_ip_cert(server, address, want_ip):
    """The DER certificate served without SNI on address once pebble issued it for want_ip."""
    last = None
    for _ in range(int(ISSUED_TIMEOUT / POLL_INTERVAL)):
        try:
            with connect(server, address, verify=False) as tls:
                der = tls.getpeercert(binary_form=True)
            if want_ip in sans_of(der)[0] and "Pebble" in issuer_of(der):
                return der
            last = sans_of(der)
        except (OSError, ssl.SSLError) as e:
            last = e
        time.sleep(POLL_INTERVAL)
    raise AssertionError("no pebble certificate for %s on %s (last: %r)\n%s"
                         % (want_ip, address, last, server.log_tail()))


def issuer_of(der):
    return subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-issuer"], input=der,
                          capture_output=True, check=True, timeout=CONNECT_TIMEOUT).stdout.decode()


def verify_ip_with_openssl(server, address):
    """`openssl s_client -noservername -verify_ip address`: its verify return code line."""
    proc = subprocess.run(
        ["openssl", "s_client", "-connect", "%s:%d" % (address, server.https_port),
         "-noservername", "-verify_ip", address, "-CAfile", server.trust_file,
         "-verify_return_error"],
        input=b"", capture_output=True, timeout=CONNECT_TIMEOUT * 2)
    out = proc.stdout.decode(errors="replace")
    m = re.search(r"Verify return code: (\d+ \([^)]*\))", out)
    return m.group(1) if m else out[-500:] + proc.stderr.decode(errors="replace")


def get_page(server, address, host):
    """(status, body) of GET / over HTTPS to address without SNI, with Host: host."""
    with connect(server, address, verify=True) as tls:
        tls.sendall(("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host).encode())
        data = b""
        while len(data) < 1 << 20:
            chunk = tls.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode(errors="replace")


def test_ip_vhost_gets_an_ip_certificate_served_without_sni(pebble):
    sites = [Site(IP, autotls=True, address=IP), Site(HOST), Site(OTHER_IP)]
    with ip_server(pebble, sites) as server:
        der = wait_for_ip_cert(server, IP, IP)
        ips, dns = sans_of(der)
        assert ips == (IP,) and dns == (), (ips, dns)  # an iPAddress SAN, never a dNSName
        assert "Pebble Intermediate" in issuer_of(der)
        assert verify_ip_with_openssl(server, IP) == "0 (ok)"
        status, body = get_page(server, IP, IP)
        assert status == 200 and body == sites[0].page()
        assert [e for e in server.live_events() if e.site == IP][0].names == (IP,)
        # its plain side redirects to its HTTPS address (Host: the address, as a browser sends)
        plain = http.client.HTTPConnection(IP, server.http_port, timeout=CONNECT_TIMEOUT)
        try:
            plain.request("GET", "/x?y")
            resp = plain.getresponse()
            assert resp.status == 301
            assert resp.getheader("Location") == "https://%s:%d/x?y" % (IP, server.https_port)
        finally:
            plain.close()
        # a host-name site on another address keeps its own certificate, chosen by SNI
        served = server.wait_until_served(HOST)
        assert served.sans == (HOST,)
        assert (SKIP_VHOST % OTHER_IP) in server.error_log()


def test_without_sni_the_address_picks_the_ip_certificate_whichever_vhost_is_first(pebble):
    """Both vhosts on *:port, the host-name one first: mod_ssl leaves a connection without SNI on
    the first vhost of the address, and the module's certificate callback serves the site whose
    name is the address the connection came in on."""
    sites = [Site(HOST, address="*"), Site(IP, autotls=True, address="*")]
    extra = "Listen %s:{https} https\nListen %s:{https} https" % (LOOPBACK, IP)
    server = ip_server(pebble, sites)
    server.extra += extra.replace("{https}", str(server.https_port))
    with server:
        der = wait_for_ip_cert(server, IP, IP)
        assert sans_of(der) == ((IP,), ())
        assert verify_ip_with_openssl(server, IP) == "0 (ok)"
        served = server.wait_until_served(HOST)  # SNI still picks the host-name site
        assert served.sans == (HOST,)
        with connect(server, IP, verify=False, sni=HOST) as tls:  # on the IP's address too
            assert sans_of(tls.getpeercert(binary_form=True))[1] == (HOST,)


def config_test(sites, extra=""):
    """What `apache2 -S` says about sites (stderr: the module's decisions at LogLevel info)."""
    server = AutoTLSServer(sites, ca_url=UNUSED_CA, extra=extra)
    try:
        server.write_config()
        proc = server.apache2("-S")
    finally:
        shutil.rmtree(server.root, ignore_errors=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def test_server_wide_autotls_alone_never_manages_an_ip_vhost():
    out = config_test([Site("8.8.8.8"), Site(HOST)], extra="AutoTLSAllowPrivateIP on")
    assert SKIP_VHOST % "8.8.8.8" in out
    assert "%s: managed" % HOST in out


def test_private_ip_needs_allow_private_ip():
    out = config_test([Site(IP, autotls=True, address=IP)])
    assert SKIP_PRIVATE % IP in out
    assert "AutoTLSAllowPrivateIP on" in out
    out = config_test([Site(IP, autotls=True, address=IP)], extra="AutoTLSAllowPrivateIP on")
    assert "%s: managed" % IP in out


# --- tls-alpn-01 for an IP address (RFC 8738 §6, issue 14 item 4) ----------------------------


def alpn_handshake(server, address, sni, protocols):
    """(selected ALPN protocol, DER served) of one handshake to address:https_port; raises
    ssl.SSLError (or a reset) when the server ends it."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if protocols:
        ctx.set_alpn_protocols(list(protocols))
    with socket.create_connection((address, server.https_port), timeout=CONNECT_TIMEOUT) as sock:
        with ctx.wrap_socket(sock, server_hostname=sni) as tls:
            return tls.selected_alpn_protocol(), tls.getpeercert(binary_form=True)


def acme_identifier(der):
    """The value of the certificate's acmeIdentifier extension (critical), or None."""
    cert = x509.load_der_x509_certificate(der)
    try:
        ext = cert.extensions.get_extension_for_oid(ACME_IDENTIFIER)
    except x509.ExtensionNotFound:
        return None
    assert ext.critical
    return ext.value.value


def serial_of(der):
    return normalize_serial("%X" % x509.load_der_x509_certificate(der).serial_number)


def plant_ip_answer(server, keyauth, ip=IP):
    """challenges/tls-alpn-01.<ip> as the renewal process writes it; the digest it holds."""
    digest = hashlib.sha256(keyauth.encode()).digest()
    value = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    write_challenge(server, "tls-alpn-01." + ip, json.dumps(
        {"identifier": ip, "acmeIdentifier": value}, separators=(",", ":")))
    return digest


class OrdinaryClients:
    """Handshakes to IP as ordinary clients make them (no SNI, or the reverse-DNS name, with the
    offers of ORDINARY_OFFERS), over and over while an order runs: every certificate they got
    that carries acmeIdentifier is kept in leaked."""

    def __init__(self, server):
        self.server = server
        self.leaked = []
        self.handshakes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def stop(self):
        self._stop.set()
        self._thread.join()

    def _run(self):
        while not self._stop.is_set():
            for sni in (None, REVERSE):
                for offer in ORDINARY_OFFERS:
                    try:
                        selected, der = alpn_handshake(self.server, IP, sni, offer)
                    except (OSError, ssl.SSLError):
                        continue
                    self.handshakes += 1
                    if selected == ACME_TLS or acme_identifier(der) is not None:
                        self.leaked.append((sni, offer, selected))
            time.sleep(PROBE_INTERVAL)


def test_ip_site_gets_its_certificate_by_tls_alpn_when_port_80_is_closed_to_the_ca():
    """pebble's http-01 port has no listener; its tlsPort is the twins' HTTPS port. The IP site
    lists tls-alpn-01 alone: pebble connects to the address with SNI = its reverse-DNS name and
    ALPN acme-tls/1, gets the validation certificate (iPAddress SAN), and issues; a client
    without SNI then gets the issued certificate. Ordinary clients of the address never saw the
    validation certificate meanwhile."""
    site = Site(IP, autotls=True, address=IP, directives="AutoTLSChallenge tls-alpn-01")
    with PebbleEnv(http01_port=free_port(), tls_port=free_port()) as env:
        server = AutoTLSServer([site], pebble=env, http_port=free_port(), https_port=env.tls_port,
                               extra="AutoTLSAllowPrivateIP on")
        server.extra += "\nListen %s:%d\n" % (IP, server.http_port)
        # the clients start before the server (entering it starts it): the order takes
        # milliseconds
        with OrdinaryClients(server) as clients, server:
            der = wait_for_ip_cert(server, IP, IP)
            clients.stop()
            assert clients.handshakes > 0
            assert clients.leaked == [], clients.leaked
            assert sans_of(der) == ((IP,), ())
            assert "Pebble Intermediate" in issuer_of(der)
            live = [e for e in server.live_events() if e.site == IP]
            assert live and live[-1].names == (IP,), live
            assert serial_of(der) == live[-1].serial
            assert acme_identifier(der) is None
            assert verify_ip_with_openssl(server, IP) == "0 (ok)"
            log = server.error_log()
            assert ANSWERED_LOG in log, server.log_tail()
            assert FALLBACK_LOG not in log  # tls-alpn-01 alone: never tried http-01
            # the answer is withdrawn after the order; a no-SNI acme-tls/1 offer is refused
            with pytest.raises((ssl.SSLError, ConnectionResetError)):
                alpn_handshake(server, IP, None, [ACME_TLS])


@pytest.fixture(scope="module")
def ip_placeholder_server():
    """An IP site (tls-alpn-01 listed) and a host-name site on one address, both keeping their
    placeholders (no CA listens); the host-name site's twin is first on *:https, so a
    reverse-DNS SNI stays on it."""
    sites = [Site(HOST, address="*"),
             Site(IP, autotls=True, address="*", directives="AutoTLSChallenge tls-alpn-01"),
             Site(V6_HOST, aliases=(IP6,), autotls=True, address="*",
                  directives="AutoTLSChallenge tls-alpn-01")]
    server = AutoTLSServer(sites, ca_url="https://127.0.0.1:%d/directory" % httpd.free_port(),
                           extra="AutoTLSAllowPrivateIP on\nProtocols h2 h2c http/1.1")
    server.extra += "\nListen %s:%d https\nListen %s:%d https\nListen [%s]:%d https\n" % (
        LOOPBACK, server.https_port, IP, server.https_port, IP6, server.https_port)
    with server:
        server.start()
        yield server


def test_reverse_dns_sni_gets_the_ip_validation_certificate_and_nothing_else_does(
        ip_placeholder_server):
    server = ip_placeholder_server
    digest = plant_ip_answer(server, "%s.%s" % (secrets.token_urlsafe(32),
                                                secrets.token_urlsafe(32)))
    _, placeholder = alpn_handshake(server, IP, None, ["http/1.1"])
    assert acme_identifier(placeholder) is None
    for sni in (None, REVERSE, HOST):
        for offer in ORDINARY_OFFERS:
            try:
                selected, der = alpn_handshake(server, IP, sni, offer)
            except ssl.SSLError:
                assert "http/1.1" not in offer, (sni, offer)  # h2 alone: httpd has no h2 here
                continue
            assert selected != ACME_TLS and acme_identifier(der) is None, (sni, offer)
    # the CA's handshake, on the IP's address and on the other one (the name picks the site)
    for address in (IP, LOOPBACK):
        selected, der = alpn_handshake(server, address, REVERSE, [ACME_TLS])
        assert selected == ACME_TLS
        assert acme_identifier(der) == b"\x04\x20" + digest
        assert sans_of(der) == ((IP,), ())  # an iPAddress SAN, never a dNSName
    assert ANSWERED_LOG in server.error_log()


def test_ip6_reverse_name_of_32_nibbles_gets_the_ipv6_validation_certificate(
        ip_placeholder_server):
    server = ip_placeholder_server
    digest = plant_ip_answer(server, "k6.%s" % secrets.token_urlsafe(32), ip=IP6)
    selected, der = alpn_handshake(server, IP6, REVERSE6, [ACME_TLS])
    assert selected == ACME_TLS
    assert acme_identifier(der) == b"\x04\x20" + digest
    ips, dns = sans_of(der)  # the openssl command prints IPv6 uncompressed
    assert [ipaddress.ip_address(a) for a in ips] == [ipaddress.ip_address(IP6)] and dns == ()
    assert "autotls-0145: %s: answering tls-alpn-01" % IP6 in server.error_log()
    # no SNI, a trailing dot, 33 nibbles: refused
    for sni in (None, REVERSE6 + ".", "0." + REVERSE6):
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            alpn_handshake(server, IP6, sni, [ACME_TLS])


def test_acme_tls_without_sni_or_with_a_malformed_reverse_name_is_refused(ip_placeholder_server):
    server = ip_placeholder_server
    plant_ip_answer(server, "k.%s" % secrets.token_urlsafe(32))
    for sni in (None,                          # no SNI: which name would it be? refused as ever
                "03.0.0.127.in-addr.arpa",     # leading zero
                "3.0.0.0.127.in-addr.arpa",    # five labels
                "0.0.127.in-addr.arpa",        # three labels
                "259.0.0.127.in-addr.arpa",    # not an octet
                "4.0.0.127.in-addr.arpa",      # another address, no site there
                IP + ".in-addr.arpa"):         # not reversed: 1.0.0.127... is not IP
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            alpn_handshake(server, IP, sni, [ACME_TLS])
    assert re.search(r"autotls-0144: \(no SNI\): an acme-tls/1 handshake", server.error_log())
