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

import http.client
import re
import shutil
import socket
import ssl
import subprocess
import time

import pytest

from autotls_server import CONNECT_TIMEOUT, LOOPBACK, AutoTLSServer, Site, skip_unless_runnable

MODULE = skip_unless_runnable()

IP = "127.0.0.3"  # the address this test's IP site has, and listens on
OTHER_IP = "127.0.0.4"  # a ServerName left to the server-wide AutoTLS only
HOST = "www.ip-cert.test"  # a host-name site beside it (challtestsrv resolves it to 127.0.0.1)
UNUSED_CA = "https://127.0.0.1:9/dir"  # `apache2 -S` reads the configuration only
ISSUED_TIMEOUT = 90.0
POLL_INTERVAL = 0.2
SKIP_VHOST = "%s: skipped: its ServerName is an IP address: only with AutoTLS on in its vhost"
SKIP_PRIVATE = "%s: skipped: its ServerName is a loopback address: no public CA validates it"


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
