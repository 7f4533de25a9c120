# SPDX-License-Identifier: Apache-2.0
"""Zero-touch HTTPS vhosts (docs/ARCHITECTURE.md, "Hooks and their order"): the twins
pre_config writes into the tree.

The one idea to hold: we look at what httpd itself made of the rewritten tree. `apache2 -S`
lists every vhost with the file and line it was defined at (a twin's file carries the
"(mod_autotls twin)" annotation), `apache2 -t -D DUMP_CONFIG` (mod_info) prints the tree after
pre_config, and one real start on loopback proves the twins and the added Listen serve TLS.
Each case is its own server (ServerRoot = a fresh temp dir) with LogLevel info, so the module's
one-line-per-decision log shows on stderr.
"""

import os
import pathlib
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

import httpd
from autotls_server import skip_unless_runnable

MODULE = skip_unless_runnable(as_root=False)

SSL_MODULES = (("ssl_module", "mod_ssl.so"),)
INFO_MODULE = (("info_module", "mod_info.so"),)  # for -D DUMP_CONFIG
TWIN_MARK = "(mod_autotls twin)"
START_TIMEOUT = 15.0  # seconds until a started server answers on its ports
STOP_TIMEOUT = 10.0
POLL_INTERVAL = 0.1
IO_TIMEOUT = 5.0


@pytest.fixture(scope="module")
def test_cert(tmp_path_factory):
    """A self-signed P-256 certificate and key (openssl CLI), given server-wide in test configs
    so that mod_ssl has something to load for the twins and for admin-made HTTPS vhosts."""
    d = tmp_path_factory.mktemp("cert")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(d / "key.pem"),
                    "-out", str(d / "cert.pem"), "-days", "2", "-subj", "/CN=autotls-test"],
                   check=True, capture_output=True, timeout=30)
    return d / "cert.pem", d / "key.pem"


class Server:
    """One test configuration: ports, files, and apache2 runs on it."""

    def __init__(self, root, test_cert):
        self.root = pathlib.Path(root)
        self.http = httpd.free_port()
        self.https = httpd.free_port()
        self.cert, self.key = test_cert
        self.conf = None

    def write(self, body, *, ssl_module=True, info=False, tls_files=True, modules=()):
        """The server conf: {http}, {https}, {root} in body are filled in."""
        head = "AutoTLSHTTPSPort {https}\n"
        if tls_files:
            head += "SSLCertificateFile %s\nSSLCertificateKeyFile %s\n" % (self.cert, self.key)
        body = (head + body).format(http=self.http, https=self.https, root=self.root)
        mods = (SSL_MODULES if ssl_module else ()) + (INFO_MODULE if info else ()) + modules
        self.conf = httpd.write_httpd_conf(self.root, body, port=self.http, module=MODULE,
                                           modules=mods)
        return self

    def run(self, *args):
        return httpd.run_httpd(self.conf, *args)

    def vhosts(self):
        """`apache2 -S` as a list of (address, name, defined-at); asserts it succeeded."""
        result = self.run("-S")
        assert result.returncode == 0, result.stdout + result.stderr
        return parse_vhosts(result.stdout), result.stderr

    def twins(self):
        vhosts, log = self.vhosts()
        return sorted((addr, name) for addr, name, where in vhosts if TWIN_MARK in where), log

    def dump_config(self):
        """The tree after pre_config, as mod_info prints it (`-t -D DUMP_CONFIG`)."""
        result = self.run("-t", "-D", "DUMP_CONFIG")
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout, result.stderr


def parse_vhosts(text):
    """The vhosts of `apache2 -S` output: (address, name, defined-at) tuples."""
    vhosts = []
    current = None
    for line in text.splitlines():
        m = re.match(r"^(\S+:\d+)\s+is a NameVirtualHost$", line)
        if m:
            current = m.group(1)
            continue
        m = re.match(r"^\s+port \d+ namevhost (\S+) \((.*)\)$", line)
        if m and current:
            vhosts.append((current, m.group(1), m.group(2)))
            continue
        m = re.match(r"^(\S+:\d+)\s+(\S+) \((.*)\)$", line)
        if m:
            current = None
            vhosts.append(m.groups())
    return vhosts


def vhost(name, addr="*:{http}", extra=""):
    return "<VirtualHost %s>\n    ServerName %s\n%s</VirtualHost>\n" % (addr, name, extra)


def assert_refused(result, *texts):
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    for text in texts:
        assert text in output, "%r not in %r" % (text, output)


@pytest.fixture
def server(tmp_path, test_cert):
    return Server(tmp_path / "root", test_cert)


def test_every_eligible_vhost_gets_an_https_twin(server):
    names = ["a.example.org", "b.example.org", "c.example.org"]
    server.write("AutoTLS on\n" + "".join(vhost(n) for n in names))
    vhosts, log = server.vhosts()
    twins = sorted((a, n) for a, n, where in vhosts if TWIN_MARK in where)
    assert twins == [("*:%d" % server.https, n) for n in names]
    plain = sorted((a, n) for a, n, where in vhosts if TWIN_MARK not in where)
    assert plain == [("*:%d" % server.http, n) for n in names]
    where = {(a, n): w for a, n, w in vhosts}
    for n in names:
        plain_file, plain_line = where[("*:%d" % server.http, n)].rsplit(":", 1)
        # a twin is defined at its original's line, in the annotated file name
        assert where[("*:%d" % server.https, n)] == "%s %s:%s" % (plain_file, TWIN_MARK,
                                                                   plain_line)
        assert re.search(r"autotls-0210: %s: managed: HTTPS twin <VirtualHost \*:%d>"
                         % (re.escape(n), server.https), log), log


def test_vhost_with_autotls_off_gets_no_twin(server):
    server.write("AutoTLS on\n" + vhost("a.example.org")
                 + vhost("b.example.org", extra="    AutoTLS off\n"))
    twins, log = server.twins()
    assert twins == [("*:%d" % server.https, "a.example.org")]
    assert "b.example.org: skipped: AutoTLS off" in log


def test_vhost_with_its_own_https_vhost_gets_no_extra_twin(server):
    admin_https = vhost("a.example.org", addr="*:{https}", extra="    SSLEngine on\n")
    server.write("AutoTLS on\n" + vhost("a.example.org") + admin_https + vhost("b.example.org"))
    vhosts, log = server.vhosts()
    on_https = sorted((n, TWIN_MARK in w) for a, n, w in vhosts if a == "*:%d" % server.https)
    assert on_https == [("a.example.org", False), ("b.example.org", True)]
    assert re.search(r"a\.example\.org: skipped: it has an HTTPS vhost of its own at \S+:\d+",
                     log), log


def test_vhost_with_its_own_tls_settings_gets_no_twin(server, test_cert):
    own = "    SSLEngine off\n    SSLCertificateFile %s\n" % test_cert[0]
    server.write("AutoTLS on\n" + vhost("a.example.org", extra=own) + vhost("b.example.org"))
    twins, log = server.twins()
    assert twins == [("*:%d" % server.https, "b.example.org")]
    assert "a.example.org: skipped: it has TLS settings of its own" in log


@pytest.mark.parametrize("server_name, name, why", [
    ("10.1.2.3", "10.1.2.3", "is an IP address"),
    ("http://10.0.0.7:80", "10.0.0.7", "is an IP address"),
    ("localhost", "localhost", "is localhost"),
    ("app.localhost", "app.localhost", "is localhost"),
    ("intranet", "intranet", "is a single label"),
    ("bad_name.example.org", "bad_name.example.org", "is not a valid host name"),
])
def test_name_without_public_certificate_is_skipped(server, server_name, name, why):
    server.write("AutoTLS on\n" + vhost(server_name) + vhost("ok.example.org"))
    twins, log = server.twins()
    assert twins == [("*:%d" % server.https, "ok.example.org")]
    assert re.search(r"autotls-0211: %s: skipped: its ServerName %s"
                     % (re.escape(name), re.escape(why)), log), log


def test_vhost_without_servername_is_skipped(server):
    server.write("AutoTLS on\n<VirtualHost *:{http}>\n</VirtualHost>\n" + vhost("a.example.org"))
    twins, log = server.twins()
    assert twins == [("*:%d" % server.https, "a.example.org")]
    assert "skipped: it has no ServerName" in log


def test_excluded_name_is_skipped(server):
    server.write("AutoTLS on\nAutoTLSExclude other.example.net *.internal.example.org\n"
                 + vhost("app.internal.example.org") + vhost("www.example.org"))
    twins, log = server.twins()
    assert twins == [("*:%d" % server.https, "www.example.org")]
    assert ("app.internal.example.org: skipped: excluded by AutoTLSExclude "
            "*.internal.example.org") in log


def test_autotls_in_one_vhost_only_twins_that_one(server):
    server.write(vhost("a.example.org", extra="    AutoTLS on\n") + vhost("b.example.org"))
    twins, log = server.twins()
    assert twins == [("*:%d" % server.https, "a.example.org")]
    assert "b.example.org" not in log  # nothing said AutoTLS for it: no decision to report


def test_vhost_defined_before_the_directive_is_twinned(server):
    """docs/ARCHITECTURE.md, "Hooks and their order": doing this in the directive handler would
    miss this vhost."""
    server.write(vhost("early.example.org") + "AutoTLS on\n" + vhost("late.example.org"))
    twins, _ = server.twins()
    assert twins == [("*:%d" % server.https, "early.example.org"),
                     ("*:%d" % server.https, "late.example.org")]


def test_no_autotls_changes_nothing(server):
    server.write(vhost("a.example.org"))
    vhosts, log = server.vhosts()
    assert [(a, n) for a, n, w in vhosts] == [("*:%d" % server.http, "a.example.org")]
    assert "autotls-02" not in log


def test_twin_tree_copies_children_strips_port_and_ends_with_sslengine(server):
    server.write("AutoTLS on\n" + vhost(
        "www.example.org:80", extra="    ServerAlias example.org\n"
        "    <Directory {root}>\n        Require all granted\n    </Directory>\n"
        "    SSLEngine off\n"), info=True)
    tree, _ = server.dump_config()
    twin = re.search(r"^<VirtualHost \*:%d>\n(.*?)^</VirtualHost>" % server.https, tree,
                     re.M | re.S)
    assert twin, tree
    lines = [ln.strip() for ln in twin.group(1).splitlines() if not ln.strip().startswith("#")]
    assert re.match(r'AutoTLSTwin ".*httpd\.conf:\d+"$', lines[0]), lines
    assert lines[1:7] == ["ServerName www.example.org", "ServerAlias example.org",
                          "<Directory %s>" % server.root, "Require all granted", "</Directory>",
                          "SSLEngine off"]
    # then AutoTLSPolicy's settings (intermediate by default: tests/integration/test_tls_policy.py)
    assert [ln.split()[0] for ln in lines[7:]] == ["SSLProtocol", "SSLCipherSuite",
                                                    "SSLHonorCipherOrder", "SSLOpenSSLConfCmd",
                                                    "SSLSessionTickets", "Protocols",
                                                    "SSLEngine"], lines
    # acme-tls/1 (tls-alpn-01) added to httpd's default list: no Protocols anywhere else
    assert lines[-2] == "Protocols http/1.1 acme-tls/1", lines
    assert lines[-1] == "SSLEngine on"
    assert "ServerName www.example.org:80" in tree  # the original keeps its own
    assert re.search(r"^Listen %d https$" % server.https, tree, re.M), tree


def test_piped_log_is_left_out_of_the_twin(server):
    server.write("AutoTLS on\n" + vhost("www.example.org", extra=(
        '    CustomLog "|/bin/cat" common\n    CustomLog {root}/access.log common\n')), info=True)
    tree, log = server.dump_config()
    twin = re.search(r"^<VirtualHost \*:%d>\n(.*?)^</VirtualHost>" % server.https, tree,
                     re.M | re.S).group(1)
    assert "CustomLog {}/access.log common".format(server.root) in twin
    assert "|/bin/cat" not in twin
    assert tree.count('CustomLog "|/bin/cat" common') == 1  # the original keeps it
    assert re.search(r'autotls-0212: www\.example\.org: its HTTPS twin leaves out CustomLog '
                     r'"\|/bin/cat" common \(\S+:\d+\): a piped log', log), log


def test_listen_is_added_for_the_twin_address(server):
    server.write("AutoTLS on\n" + vhost("a.example.org", addr="127.0.0.1:{http}"), info=True)
    tree, log = server.dump_config()
    assert re.search(r"^Listen 127\.0\.0\.1:%d https$" % server.https, tree, re.M), tree
    assert "added Listen 127.0.0.1:%d https" % server.https in log


def test_existing_listen_on_the_https_port_is_kept(server):
    server.write("Listen 127.0.0.1:{https}\nAutoTLS on\n" + vhost("a.example.org"), info=True)
    tree, log = server.dump_config()
    assert re.findall(r"^Listen .*$", tree, re.M) == [
        "Listen 127.0.0.1:%d" % server.http, "Listen 127.0.0.1:%d" % server.https]
    assert "added Listen" not in log


def test_plain_vhost_first_on_the_https_address_refuses_startup(server):
    plain = vhost("other.example.org", addr="*:{https}")
    server.write("AutoTLS on\n" + plain + vhost("a.example.org"))
    assert_refused(server.run("-t"), "autotls-0202",
                   "is the first vhost on *:%d and has no SSLEngine on" % server.https,
                   "AutoTLSHTTPSPort")


def test_plain_vhost_after_the_twins_is_accepted(server):
    plain = vhost("other.example.org", addr="*:{https}")
    server.write("AutoTLS on\n" + vhost("a.example.org") + plain)
    result = server.run("-t")
    assert result.returncode == 0, result.stderr
    assert "autotls-0202" not in result.stderr


def test_catch_all_vhost_in_front_is_no_hazard_and_gets_no_twin(server):
    """A plain <VirtualHost *:*> first does not take TLS away: httpd prefers the exact port."""
    server.write("AutoTLS on\n" + vhost("any.example.org", addr="*:*") + vhost("a.example.org"))
    twins, log = server.twins()
    assert twins == [("*:%d" % server.https, "a.example.org")]
    assert "any.example.org: skipped: an address of it has no port" in log


def test_missing_mod_ssl_refuses_startup(server):
    server.write("AutoTLS on\n" + vhost("a.example.org"), ssl_module=False, tls_files=False)
    assert_refused(server.run("-t"), "AutoTLS needs mod_ssl: a2enmod ssl")


def test_missing_mod_ssl_is_fine_without_autotls_on(server):
    server.write(vhost("a.example.org"), ssl_module=False, tls_files=False)
    result = server.run("-t")
    assert result.returncode == 0, result.stderr


def test_marker_directive_cannot_be_used_by_hand(server):
    server.write(vhost("a.example.org", extra='    AutoTLSTwin "/etc/x.conf:1"\n'))
    assert_refused(server.run("-t"), "AutoTLSTwin is written by mod_autotls")


def test_same_name_on_two_addresses_gets_one_twin(server):
    server.write("AutoTLS on\n" + vhost("a.example.org", addr="*:{http}")
                 + vhost("a.example.org", addr="127.0.0.2:{http}"))
    twins, log = server.twins()
    assert twins == [("*:%d" % server.https, "a.example.org")]
    assert "with the same ServerName already has the twin" in log


# --- a real start on loopback -------------------------------------------------------------------

@pytest.fixture
def docroot():
    """Content the children (User www-data) can read: mktemp dirs are 0700, so open this one."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="autotls-twins-"))
    d.chmod(0o755)
    for site in ("a", "b"):
        (d / site).mkdir(mode=0o755)
        (d / site / "index.html").write_text("site %s\n" % site)
        (d / site / "index.html").chmod(0o644)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def wait_port(port, timeout=START_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((httpd.LOOPBACK, port), timeout=IO_TIMEOUT):
                return True
        except OSError:
            time.sleep(POLL_INTERVAL)
    return False


def fetch(port, host, use_tls):
    """GET /index.html with Host (and SNI) host; returns (status line, body)."""
    raw = socket.create_connection((httpd.LOOPBACK, port), timeout=IO_TIMEOUT)
    if use_tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        raw = ctx.wrap_socket(raw, server_hostname=host)
    with raw:
        raw.sendall(("GET /index.html HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                     % host).encode())
        data = b""
        deadline = time.monotonic() + IO_TIMEOUT
        while time.monotonic() < deadline:
            chunk = raw.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.decode("latin-1").partition("\r\n\r\n")
    return head.splitlines()[0] if head else "", body


def stop(server, pidfile):
    server.run("-k", "stop")
    deadline = time.monotonic() + STOP_TIMEOUT
    while pidfile.exists() and time.monotonic() < deadline:
        time.sleep(POLL_INTERVAL)
    if pidfile.exists():  # the parent we started did not stop: end it by its own pid
        try:
            os.kill(int(pidfile.read_text().strip()), signal.SIGKILL)
        except (OSError, ValueError):
            pass


def test_real_start_serves_each_twin_over_tls_and_survives_graceful(server, docroot):
    body = ("User www-data\nGroup www-data\nAutoTLS on\n"
            "AutoTLSStore {root}/store\nAutoTLSCA https://127.0.0.1:9/directory\n")
    for site in ("a", "b"):
        body += vhost("%s.example.org:80" % site, addr="127.0.0.1:{http}",
                      extra="    DocumentRoot %s\n" % (docroot / site))
    server.write(body)
    pidfile = server.root / "httpd.pid"
    result = server.run("-k", "start")
    assert result.returncode == 0, result.stdout + result.stderr
    try:
        assert wait_port(server.https), (server.root / "error.log").read_text()
        for site in ("a", "b"):
            # TLS works on every twin; until a CA certificate is live it answers 503 (gate.c).
            status, page = fetch(server.https, "%s.example.org" % site, True)
            assert status == "HTTP/1.1 503 Service Unavailable" and "certificate" in page
            assert fetch(server.http, "%s.example.org" % site, False)[1] == "site %s\n" % site
        with pytest.raises((ssl.SSLError, ConnectionError)):
            fetch(server.http, "a.example.org", True)  # the plain side stays plain
        log = (server.root / "error.log").read_text()
        assert log.count("autotls-0210: a.example.org: managed") == 1, log
        assert "added Listen 127.0.0.1:%d https" % server.https in log

        generation = log.count("autotls-0210")
        assert server.run("-k", "graceful").returncode == 0
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            log = (server.root / "error.log").read_text()
            if log.count("autotls-0210") > generation and "resuming normal operations" in \
                    log.rsplit("autotls-0210", 1)[1]:
                break
            time.sleep(POLL_INTERVAL)
        assert log.count("autotls-0210") == 2 * generation, log  # the rewrite ran again, once
        assert fetch(server.https, "b.example.org", True)[0] == "HTTP/1.1 503 Service Unavailable"
    finally:
        stop(server, pidfile)


def test_twin_protocols_add_acme_tls_to_what_the_admin_configured(server):
    """tls-alpn-01 needs acme-tls/1 in the twin's Protocols; a vhost's own list replaces the
    server's, so a twin repeats the server-wide one (Debian's http2.conf) before adding it."""
    server.write("AutoTLS on\nProtocols h2 h2c http/1.1\n" + vhost("a.example.org")
                 + vhost("b.example.org", extra="    Protocols http/1.1\n"), info=True)
    tree, _ = server.dump_config()
    twins = re.findall(r"^<VirtualHost \*:%d>\n(.*?)^</VirtualHost>" % server.https, tree,
                       re.M | re.S)
    assert len(twins) == 2, tree
    protocols = [[ln.strip() for ln in t.splitlines() if ln.strip().startswith("Protocols")]
                 for t in twins]
    assert protocols[0] == ["Protocols h2 h2c http/1.1 acme-tls/1"], protocols
    assert protocols[1] == ["Protocols http/1.1", "Protocols acme-tls/1"], protocols
