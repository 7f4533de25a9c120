# SPDX-License-Identifier: Apache-2.0
"""A real Apache httpd running mod_autotls against a real CA, seen the way a user sees it.

The one idea to hold: AutoTLSServer writes a complete server of its own into a temp ServerRoot
(config, DocumentRoots, store, logs) and observes it only from outside: TLS handshakes with SNI
to the HTTPS port, HTTP requests with a Host header, the error log, the pid file. Nothing here
reads the module's memory or trusts the module's word for what is served.

The children run as www-data (the test runs as root), so everything they read is opened up
(0755 directories, 0644 files); the store is the module's own business.

Standard library only, plus the `openssl` command to read certificates that did not verify.
"""

import collections
import datetime
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

import httpd
import pytest
from pebble import LOOPBACK, free_port

WWW_USER = "www-data"
# The account the renewal process runs as (AutoTLSUser's default; scripts/bootstrap.sh makes it):
# it owns accounts/, jobs/, staging/ and challenges/, and writes what the children serve.
ACME_USER = "autotls"
MODULES_DIR = httpd.MODULES_DIR
MPMS = ("event", "prefork")

START_TIMEOUT = 30.0  # seconds until a started server answers on its HTTP port
STOP_TIMEOUT = 15.0  # seconds until a stopped server's parent is gone
GRACEFUL_TIMEOUT = 30.0  # seconds until a graceful restart has resumed
SERVED_TIMEOUT = 60.0  # default wait for a CA-issued certificate to be served
CONNECT_TIMEOUT = 5.0  # one TCP connect + TLS handshake + request
POLL_INTERVAL = 0.1
LOG_TAIL_LINES = 60

RESUMING = "resuming normal operations"
STAGED = "new certificate staged for activation"
LIVE_RE = re.compile(r"^\[(?P<when>[^\]]+)\] .*autotls-0312: (?P<site>\S+): certificate "
                     r"(?P<serial>[0-9A-Fa-f]+) for (?P<names>\S+) from (?P<issuer>.*) is live")
LOG_TIME_FORMAT = "%a %b %d %H:%M:%S.%f %Y"

ServedCert = collections.namedtuple("ServedCert", "serial issuer sans not_after")
LiveEvent = collections.namedtuple("LiveEvent", "when site serial names issuer")


class Site:
    """One <VirtualHost> on the HTTP port: ServerName, ServerAliases, extra directives inside.

    autotls: None leaves the vhost to the server-wide `AutoTLS on`; False writes `AutoTLS off`.
    address: the vhost's address (the server's when None; "*" or another loopback address: the test
    adds the Listen it needs)."""

    def __init__(self, name, aliases=(), directives="", autotls=None, address=None):
        self.name = name
        self.aliases = tuple(aliases)
        self.directives = directives
        self.autotls = autotls
        self.address = address

    @property
    def names(self):
        return (self.name,) + self.aliases

    def page(self):
        """The index.html content: it names the site, so a test knows which vhost answered."""
        return "<!DOCTYPE html>\n<html><body><h1>site %s</h1></body></html>\n" % self.name

    def not_found(self):
        """The site's own 404 text (ErrorDocument), so a 404 shows which vhost produced it."""
        return "not found on %s" % self.name


def wait_for(what, predicate, timeout, server, poll=0.2):
    """predicate()'s first true value within timeout seconds, else an AssertionError naming
    what was awaited, with the server's log tail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError("%s: not within %.0f s\n%s" % (what, timeout, server.log_tail()))


def skip_unless_runnable(as_root=True):
    """Skips the calling test module (call it at import) unless the real thing can run: our
    mod_autotls.so built, apache2 with mod_ssl installed and, with as_root, a root test (the
    design needs a root parent and www-data children). Returns the module's path."""
    module = httpd.module_path()
    if not module.is_file():
        pytest.skip("mod_autotls.so not built: %s is missing (build first, or set "
                    "AUTOTLS_MODULE)" % module, allow_module_level=True)
    if not shutil.which(httpd.APACHE2) or not (httpd.MODULES_DIR / "mod_ssl.so").is_file():
        pytest.skip("apache2 with mod_ssl is needed (%s)" % httpd.APACHE2,
                    allow_module_level=True)
    if as_root and os.geteuid() != 0:
        pytest.skip("needs a root parent and www-data children: run as root",
                    allow_module_level=True)
    return module


def normalize_serial(serial):
    """Upper-case hex without separators or leading zeros: one spelling for every source."""
    return serial.replace(":", "").strip().upper().lstrip("0") or "0"


def parse_der(der):
    """ServedCert of a DER certificate, read by the openssl command."""
    proc = subprocess.run(
        ["openssl", "x509", "-inform", "DER", "-noout", "-serial", "-issuer", "-enddate",
         "-ext", "subjectAltName", "-nameopt", "oneline"],
        input=der, capture_output=True, timeout=CONNECT_TIMEOUT, check=False)
    if proc.returncode != 0:
        raise RuntimeError("openssl x509 failed: %s" % proc.stderr.decode(errors="replace"))
    serial = issuer = not_after = ""
    sans = []
    for line in proc.stdout.decode().splitlines():
        line = line.strip()
        if line.startswith("serial="):
            serial = normalize_serial(line[len("serial="):])
        elif line.startswith("issuer="):
            issuer = line[len("issuer="):].strip()
        elif line.startswith("notAfter="):
            not_after = line[len("notAfter="):]
        elif line.startswith("DNS:"):
            sans += [part.strip()[len("DNS:"):] for part in line.split(",")
                     if part.strip().startswith("DNS:")]
    return ServedCert(serial, issuer, tuple(sorted(sans)), not_after)


def cert_from_dict(peer):
    """ServedCert of ssl.SSLSocket.getpeercert() (verified connections only)."""
    issuer = ", ".join("%s = %s" % kv for rdn in peer.get("issuer", ()) for kv in rdn)
    sans = tuple(sorted(v for k, v in peer.get("subjectAltName", ()) if k == "DNS"))
    return ServedCert(normalize_serial(peer["serialNumber"]), issuer, sans, peer["notAfter"])


def chown_acme(path):
    """Gives path to the ACME account, as the renewal process would have written it."""
    shutil.chown(path, ACME_USER, ACME_USER)


class HTTPError(RuntimeError):
    pass


class AutoTLSServer:
    """apache2 + mod_autotls in a temp ServerRoot.

    sites: Site objects, one <VirtualHost address:http_port> each (address: 127.0.0.1 unless the
    Site says), in this order.
    pebble: a started PebbleEnv (CA URL, its listener CA, its issuing root) or None.
    ca_url: AutoTLSCA when pebble is None (e.g. a port where nothing listens).
    http_port: the plain port (pebble's http01_port when pebble validates there).
    mpm: "event" or "prefork".
    extra: server-wide directives appended after the AutoTLS ones.
    address: the loopback address it listens on (default 127.0.0.1; a fleet's second node
    127.0.0.2, which pebble's VA never reaches).
    """

    def __init__(self, sites, pebble=None, ca_url=None, http_port=None, https_port=None,
                 mpm="event", extra="", module=None, root=None, address=None):
        if mpm not in MPMS:
            raise ValueError("mpm must be one of %s" % (MPMS,))
        self.sites = list(sites)
        self.pebble = pebble
        self.ca_url = ca_url or (pebble.directory_url if pebble else None)
        self.http_port = int(http_port or (pebble.http01_port if pebble else free_port()))
        self.https_port = int(https_port or free_port())
        self.mpm = mpm
        self.address = address or LOOPBACK
        self.extra = extra
        self.module = str(module or httpd.module_path())
        self.keep = bool(os.environ.get("AUTOTLS_KEEP_TMP"))
        self.root = root or tempfile.mkdtemp(prefix="autotls-e2e-")
        os.chmod(self.root, 0o755)
        self.conf = os.path.join(self.root, "httpd.conf")
        self.store = os.path.join(self.root, "store")
        self.pid_file = os.path.join(self.root, "httpd.pid")
        self.error_log_path = os.path.join(self.root, "error.log")
        self.access_log_path = os.path.join(self.root, "access.log")
        self.issuer_roots = os.path.join(self.root, "issuer-roots.pem")
        self.trust_file = os.path.join(self.root, "pebble-chain.pem")
        self.started_at = None
        self.pid = None  # the parent's pid, recorded at start: stop() needs nothing else
        self._verify_ctx = None
        self._noverify_ctx = ssl.create_default_context()
        self._noverify_ctx.check_hostname = False
        self._noverify_ctx.verify_mode = ssl.CERT_NONE
        self._write_sites()

    # --- configuration ---------------------------------------------------------------------

    def site(self, name):
        for site in self.sites:
            if name in site.names:
                return site
        raise KeyError(name)

    def docroot(self, site):
        return os.path.join(self.root, "sites", site.name)

    def _write_sites(self):
        os.makedirs(os.path.join(self.root, "run"), mode=0o755, exist_ok=True)
        os.chmod(os.path.join(self.root, "run"), 0o755)
        os.makedirs(os.path.join(self.root, "sites"), mode=0o755, exist_ok=True)
        os.chmod(os.path.join(self.root, "sites"), 0o755)
        for site in self.sites:
            root = self.docroot(site)
            os.makedirs(root, mode=0o755, exist_ok=True)
            os.chmod(root, 0o755)
            index = os.path.join(root, "index.html")
            with open(index, "w") as f:
                f.write(site.page())
            os.chmod(index, 0o644)

    def _write_trust(self):
        """The issuing root (AutoTLSIssuerRoots) and root + intermediate (client trust), fetched
        afresh: pebble makes a new issuing CA at each start. Earlier ones are kept, so that
        certificates issued before a pebble restart (the deadlock remedy) still verify."""
        if self.pebble is None:
            return
        roots = self.pebble.roots_pem()
        for path, text in ((self.issuer_roots, roots),
                           (self.trust_file, roots + self.pebble.intermediates_pem())):
            _add_pem(path, text)
        self._verify_ctx = ssl.create_default_context(cafile=self.trust_file)

    def config_text(self):
        root = self.root
        modules = [
            ("mpm_%s_module" % self.mpm, "mod_mpm_%s.so" % self.mpm),
            ("authz_core_module", "mod_authz_core.so"),
            ("mime_module", "mod_mime.so"),
            ("dir_module", "mod_dir.so"),
            ("alias_module", "mod_alias.so"),
            ("socache_shmcb_module", "mod_socache_shmcb.so"),
            ("ssl_module", "mod_ssl.so"),
        ]
        lines = ['ServerRoot "%s"' % root]
        # Debian compiles in mod_log_config (and mod_unixd, mod_watchdog): no LoadModule.
        lines += ["LoadModule %s %s" % (name, MODULES_DIR / so) for name, so in modules]
        lines.append('LoadModule autotls_module "%s"' % self.module)
        if os.geteuid() == 0:
            lines += ["User %s" % WWW_USER, "Group %s" % WWW_USER]
        lines += [
            "ServerName localhost",
            "Listen %s:%d" % (self.address, self.http_port),
            'DefaultRuntimeDir "%s/run"' % root,
            'PidFile "%s"' % self.pid_file,
            'ErrorLog "%s"' % self.error_log_path,
            "LogLevel info autotls:debug ssl:warn",
            # pid, the certificate serial the request's connection got (or "-"), vhost, status
            'LogFormat "%{usec}t %P %{SSL_SERVER_M_SERIAL}x %v:%{local}p %m %U %>s" autotls_e2e',
            'CustomLog "%s" autotls_e2e' % self.access_log_path,
            "TypesConfig /etc/mime.types",
            "DirectoryIndex index.html",
            'SSLSessionCache "shmcb:%s/run/ssl_scache(512000)"' % root,
            "<Directory />",
            "    AllowOverride None",
            "    Require all denied",
            "</Directory>",
            '<Directory "%s/sites">' % root,
            "    Require all granted",
            "</Directory>",
            "AutoTLS on",
        ]
        if self.ca_url:
            lines.append("AutoTLSCA %s" % self.ca_url)
        if self.pebble is not None:
            lines.append('AutoTLSCACertificateFile "%s"' % self.pebble.ca_cert)
            lines.append('AutoTLSIssuerRoots "%s"' % self.issuer_roots)
        lines += [
            "AutoTLSHTTPSPort %d" % self.https_port,
            'AutoTLSStore "%s"' % self.store,
            self.extra.strip("\n"),
            "",
        ]
        for site in self.sites:
            lines.append("<VirtualHost %s:%d>" % (site.address or self.address, self.http_port))
            lines.append("    ServerName %s" % site.name)
            if site.aliases:
                lines.append("    ServerAlias %s" % " ".join(site.aliases))
            lines.append('    DocumentRoot "%s"' % self.docroot(site))
            lines.append('    ErrorDocument 404 "%s"' % site.not_found())
            if site.autotls is not None:
                lines.append("    AutoTLS %s" % ("on" if site.autotls else "off"))
            if site.directives:
                lines += ["    " + d.strip() for d in site.directives.strip().splitlines()]
            lines += ["</VirtualHost>", ""]
        return "\n".join(lines)

    def write_config(self):
        with open(self.conf, "w") as f:
            f.write(self.config_text())
        os.chmod(self.conf, 0o644)
        return self.conf

    # --- lifecycle -------------------------------------------------------------------------

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        stopped = self.stop()
        if stopped and not self.keep and exc_type is None:
            shutil.rmtree(self.root, ignore_errors=True)
        return False

    def apache2(self, *args, timeout=httpd.RUN_TIMEOUT):
        return httpd.run_httpd(self.conf, *args, timeout=timeout)

    def start(self):
        """`apache2 -k start`; returns once the HTTP port answers (not once certificates are
        served). started_at is taken just before apache2 runs."""
        if self.pid and _alive(self.pid) and self._ours(self.pid):
            return self  # already running (a `with` block and an explicit start)
        self._write_trust()
        self.write_config()
        before = self.count(RESUMING)
        self.started_at = time.monotonic()
        proc = self.apache2("-k", "start")
        if proc.returncode != 0:
            raise HTTPError("apache2 -k start failed (%d): %s%s\n%s"
                            % (proc.returncode, proc.stdout, proc.stderr, self.log_tail()))
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            self.pid = self.parent_pid()
            # The port accepts as soon as it listens, before the MPM has started: wait for its
            # line too, so that a test counting restarts starts from this one.
            if (self.pid and self.count(RESUMING) > before
                    and self._port_answers(self.http_port)):
                return self
            time.sleep(POLL_INTERVAL)
        raise HTTPError("httpd did not answer on %d within %.0f s\n%s"
                        % (self.http_port, START_TIMEOUT, self.log_tail()))

    def stop(self):
        """`apache2 -k stop` (SIGTERM to the parent recorded at start when that fails, e.g. the
        ServerRoot was removed under it), then waits until the parent is gone; SIGKILL as a last
        resort. Returns whether the parent is gone."""
        pid = self.pid or self.parent_pid()
        if pid is None or not _alive(pid) or not self._ours(pid):
            self.pid = None
            return True
        proc = self.apache2("-k", "stop") if os.path.exists(self.conf) else None
        if proc is None or proc.returncode != 0:
            os.kill(pid, signal.SIGTERM)
        if not _wait_gone(pid, STOP_TIMEOUT):
            os.kill(pid, signal.SIGKILL)
            if not _wait_gone(pid, STOP_TIMEOUT):
                return False
        self.pid = None
        return True

    def graceful(self):
        """`apache2 -k graceful`; returns once the error log says the new generation resumed."""
        before = self.count(RESUMING)
        proc = self.apache2("-k", "graceful")
        if proc.returncode != 0:
            raise HTTPError("apache2 -k graceful failed (%d): %s%s"
                            % (proc.returncode, proc.stdout, proc.stderr))
        deadline = time.monotonic() + GRACEFUL_TIMEOUT
        while time.monotonic() < deadline:
            if self.count(RESUMING) > before and self._port_answers(self.http_port):
                return
            time.sleep(POLL_INTERVAL)
        raise HTTPError("graceful restart did not resume within %.0f s\n%s"
                        % (GRACEFUL_TIMEOUT, self.log_tail()))

    def _ours(self, pid):
        """Whether pid is this server's apache2 (never signal a pid that was reused)."""
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            return False
        return self.conf.encode() in argv

    def parent_pid(self):
        try:
            with open(self.pid_file) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def _port_answers(self, port):
        try:
            with socket.create_connection((self.address, port), timeout=1.0):
                return True
        except OSError:
            return False

    # --- what the server says about itself -------------------------------------------------

    def error_log(self):
        try:
            with open(self.error_log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def access_log(self):
        try:
            with open(self.access_log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def count(self, text):
        return self.error_log().count(text)

    def log_tail(self, lines=LOG_TAIL_LINES):
        return "==> %s <==\n%s" % (self.error_log_path,
                                   "\n".join(self.error_log().splitlines()[-lines:]))

    def live_events(self):
        """Every "certificate S for N from I is live" line of the activator, in log order."""
        events = []
        for line in self.error_log().splitlines():
            m = LIVE_RE.match(line)
            if m:
                when = datetime.datetime.strptime(m.group("when"), LOG_TIME_FORMAT).timestamp()
                events.append(LiveEvent(when, m.group("site"), normalize_serial(m.group("serial")),
                                        tuple(m.group("names").split(",")), m.group("issuer")))
        return events

    # --- TLS and HTTP, from outside ------------------------------------------------------------

    def tls_connect(self, name, verify=False, timeout=CONNECT_TIMEOUT):
        """A TLS connection to 127.0.0.1:https_port with SNI = name. verify: against this
        pebble run's root + intermediate, host name checked."""
        if verify and self._verify_ctx is None:
            raise ValueError("verification needs a pebble")
        ctx = self._verify_ctx if verify else self._noverify_ctx
        sock = socket.create_connection((self.address, self.https_port), timeout=timeout)
        try:
            return ctx.wrap_socket(sock, server_hostname=name)
        except BaseException:
            sock.close()
            raise

    def served_cert(self, name, verify=False):
        """(serial, issuer, sans, not_after) of the certificate served for SNI = name."""
        with self.tls_connect(name, verify=verify) as tls:
            if verify:
                return cert_from_dict(tls.getpeercert())
            return parse_der(tls.getpeercert(binary_form=True))

    def wait_until_served(self, name, issuer_substring="Pebble", timeout=SERVED_TIMEOUT):
        """Polls handshakes until the certificate served for name has issuer_substring in its
        issuer; returns it. Raises with the error log's tail on timeout."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = self.served_cert(name)
                if issuer_substring in last.issuer:
                    return last
            except (OSError, ssl.SSLError) as e:
                last = e
            time.sleep(POLL_INTERVAL)
        raise HTTPError("%s: no certificate from %r within %.0f s (last: %r)\n%s"
                        % (name, issuer_substring, timeout, last, self.log_tail()))

    def http_get(self, name, path="/", https=False, method="GET", body=None, headers=None,
                 verify=False, timeout=CONNECT_TIMEOUT):
        """(status, headers, body bytes) of one request with Host: name[:port]; redirects are
        not followed. Over HTTPS the SNI is name too."""
        port = self.https_port if https else self.http_port
        conn = http.client.HTTPConnection(name, port, timeout=timeout)
        sock = (self.tls_connect(name, verify=verify, timeout=timeout) if https
                else socket.create_connection((self.address, port), timeout=timeout))
        conn.sock = sock
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.headers, resp.read()
        finally:
            conn.close()


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is gone for our purposes
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _wait_gone(pid, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(POLL_INTERVAL)
    return False


def _add_pem(path, text):
    """Appends text to the PEM file at path unless it is there already; 0644."""
    try:
        with open(path) as f:
            old = f.read()
    except FileNotFoundError:
        old = ""
    if text not in old:
        with open(path, "w") as f:
            f.write(old + text)
    if os.stat(path).st_mode & 0o7777 != 0o644:
        os.chmod(path, 0o644)  # only then: a chmod is a change (ctime) the module notices


def challenge_answer(identifier, keyauth):
    """The bytes of challenges/<token>: an answer made for identifier (include/at_challenge.h)."""
    return json.dumps({"identifier": identifier, "keyAuthorization": keyauth},
                      separators=(",", ":"))


def write_challenge(server, token, content):
    """Writes <store>/challenges/<token> (content as given, 0644) as the renewal process would:
    owned by whoever owns challenges/ (the ACME account, AutoTLSUser), so the responder trusts
    the file as it trusts its own."""
    directory = os.path.join(server.store, "challenges")
    if not os.path.isdir(directory):
        os.makedirs(directory, mode=0o755)
        chown_acme(directory)
    owner = os.stat(directory)
    path = os.path.join(directory, token)
    with open(path, "w") as f:
        f.write(content)
    os.chmod(path, 0o644)
    os.chown(path, owner.st_uid, owner.st_gid)
    return path


def write_challenge_answer(server, identifier, token, keyauth):
    """Publishes the http-01 answer keyauth for identifier as the renewal process does."""
    return write_challenge(server, token, challenge_answer(identifier, keyauth))


class RawResponse:
    """An HTTP response as raw bytes from a socket: status, lower-cased headers, body."""

    def __init__(self, raw):
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
        self.status = int(m.group(1)) if m else 0
        self.headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        self.raw = raw

    def __repr__(self):
        return "<%d %r>" % (self.status, self.raw[:300])


RAW_READ_TIMEOUT = 5.0  # seconds a raw exchange waits for the server
RAW_RESPONSE_MAX = 1024 * 1024  # bytes read at most


def raw_exchange(server, request, https=False, sni=None):
    """Sends request (bytes, exactly as given) on a fresh connection (TLS without verification
    when https, with sni) and reads the answer until the server closes: a RawResponse."""
    port = server.https_port if https else server.http_port
    sock = socket.create_connection((LOOPBACK, port), timeout=RAW_READ_TIMEOUT)
    try:
        if https:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            sock = ctx.wrap_socket(sock, server_hostname=sni)
        sock.sendall(request)
        chunks, size = [], 0
        while size < RAW_RESPONSE_MAX:
            try:
                data = sock.recv(65536)
            except (ConnectionResetError, ssl.SSLError):
                break
            if not data:
                break
            chunks.append(data)
            size += len(data)
    finally:
        sock.close()
    return RawResponse(b"".join(chunks))
