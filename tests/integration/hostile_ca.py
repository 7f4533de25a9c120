# SPDX-License-Identifier: Apache-2.0
"""A misbehaving ACME CA on loopback, for proving that no CA answer can hurt the client.

The one idea to hold: one HTTPS server (stdlib, its own listener CA) serves every misbehaviour at
once, each under its own path prefix, so a test picks a mode by its directory URL:
    https://127.0.0.1:PORT/<mode>/directory
Modes that break the transport or the format do it at the directory (the first request any
client makes); modes that break the certificate run just enough ACME for a client to get there
(directory, nonce, account, an order whose authorization is already valid, finalize, download),
without verifying JWS signatures: the CSR is read from the finalize payload and signed with the
openssl command, by this CA's issuing intermediate or by a stranger's.

Every stream, drip and loop here is bounded in bytes and time, and stops when the client hangs
up. Standard library only, plus the `openssl` command.
"""

import base64
import http.server
import itertools
import json
import os
import pathlib
import secrets
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time

from pebble import LOOPBACK, free_port, make_listener_certs

OPENSSL_TIMEOUT = 30
CERT_DAYS = 30
STREAM_CHUNK = 64 * 1024
OVERSIZED_BYTES = 50 * 1024 * 1024  # what the oversized directory claims (and would send)
ENDLESS_MAX_BYTES = 512 * 1024 * 1024  # the "endless" body stops here at the latest
ENDLESS_MAX_SECONDS = 120
DRIP_INTERVAL = 1.0  # seconds per byte
DRIP_MAX_BYTES = 120  # the drip gives up after this many bytes
DRIP_CLAIMED_LENGTH = 4096
HEADER_FLOOD_COUNT = 20000
HEADER_FLOOD_VALUE = "x" * 40
OTHER_NAME = "other.hostile-ca.test"
STOP_TIMEOUT = 5.0
MAX_REQUEST_BYTES = 1024 * 1024

# Modes that misbehave at the directory: (what it does, for test ids and docs)
DIRECTORY_MODES = {
    "oversized": "a 50 MB directory (Content-Length says so)",
    "endless": "a chunked directory body that never ends",
    "drip": "a directory body sent at 1 byte per second",
    "headerflood": "20,000 response headers",
    "html": "a text/html page where the directory should be",
    "redirect": "301 to itself",
    "badjson": "application/json that is not JSON",
    "truncated": "a JSON directory cut off in the middle, with a matching Content-Length",
    "cutoff": "Content-Length larger than what is sent, then the connection closes",
}
# Modes that run a flow and misbehave later.
FLOW_MODES = {
    "good": "a correct flow (the control: proves the flow works)",
    "noproblem": "newAccount refused with a problem document sent as text/plain",
    "othernames": "a certificate for the CSR's key, but for other names",
    "unknownroot": "a certificate for the right names, signed by an unknown root",
    "garbagechain": "application/pem-certificate-chain that is not a certificate",
}
MODES = dict(DIRECTORY_MODES, **FLOW_MODES)


def _openssl(*args, cwd=None, input=None):
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, input=input,
                          timeout=OPENSSL_TIMEOUT, stdin=None if input else subprocess.DEVNULL,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError("openssl %s: %s"
                           % (" ".join(args), done.stderr.decode(errors="replace")))
    return done.stdout


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class IssuingCA:
    """A root and an intermediate made with the openssl command; signs CSRs."""

    def __init__(self, directory, label):
        self.dir = pathlib.Path(directory) / label.replace(" ", "-")
        self.dir.mkdir(parents=True)
        self.label = label
        self._lock = threading.Lock()
        self._serials = itertools.count(0x1000)
        root_key, self.root = self.dir / "root.key", self.dir / "root.pem"
        self.int_key, self.int = self.dir / "int.key", self.dir / "int.pem"
        for key in (root_key, self.int_key):
            _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                     "-out", str(key))
        _openssl("req", "-x509", "-new", "-key", str(root_key), "-subj", "/CN=%s Root" % label,
                 "-days", str(CERT_DAYS), "-out", str(self.root),
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        (self.dir / "ca.ext").write_text("[ca]\nbasicConstraints=critical,CA:TRUE\n"
                                         "keyUsage=critical,keyCertSign,cRLSign\n")
        _openssl("req", "-new", "-key", str(self.int_key), "-subj",
                 "/CN=%s Issuing CA" % label, "-out", str(self.dir / "int.csr"))
        _openssl("x509", "-req", "-in", str(self.dir / "int.csr"), "-CA", str(self.root),
                 "-CAkey", str(root_key), "-set_serial", "1", "-days", str(CERT_DAYS),
                 "-extfile", str(self.dir / "ca.ext"), "-extensions", "ca", "-out", str(self.int))
        self.root.chmod(0o644)

    def sign(self, csr_der, names, comment_bytes=0):
        """A chain (leaf + intermediate, PEM) for the CSR's public key, for names; comment_bytes
        of padding in a non-critical extension make the leaf as large as a test needs."""
        with self._lock:
            n = next(self._serials)
        work = self.dir / ("leaf%d" % n)
        work.mkdir()
        (work / "csr.der").write_bytes(csr_der)
        (work / "leaf.ext").write_text(
            "[leaf]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
            "extendedKeyUsage=serverAuth\nsubjectAltName=%s\n%s"
            % (",".join("DNS:" + name for name in names),
               "nsComment=%s\n" % ("x" * comment_bytes) if comment_bytes else ""))
        _openssl("req", "-inform", "DER", "-in", "csr.der", "-out", "csr.pem", cwd=work)
        _openssl("x509", "-req", "-in", "csr.pem", "-CA", str(self.int), "-CAkey",
                 str(self.int_key), "-set_serial", str(n), "-days", str(CERT_DAYS),
                 "-subj", "/CN=%s" % names[0], "-extfile", "leaf.ext", "-extensions", "leaf",
                 "-out", "leaf.pem", cwd=work)
        return (work / "leaf.pem").read_text() + self.int.read_text()


    def leaf(self, names, comment_bytes=0):
        """A new P-256 key and a chain for it: (key PEM, chain PEM), as a CA would issue."""
        with self._lock:
            n = next(self._serials)
        work = self.dir / ("own%d" % n)
        work.mkdir()
        _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
                 "key.pem", cwd=work)
        _openssl("req", "-new", "-key", "key.pem", "-subj", "/CN=%s" % names[0], "-outform",
                 "DER", "-out", "csr.der", cwd=work)
        chain = self.sign((work / "csr.der").read_bytes(), names, comment_bytes)
        return (work / "key.pem").read_text(), chain


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "HostileCA/1"

    def log_message(self, fmt, *args):  # quiet: the test reads .requests instead
        pass

    # --- plumbing ----------------------------------------------------------------------------

    @property
    def ca(self):
        return self.server.hostile

    def _base(self, mode):
        return "https://%s:%d/%s" % (LOOPBACK, self.ca.port, mode)

    def _send(self, status, body=b"", content_type="application/json", headers=()):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Replay-Nonce", secrets.token_urlsafe(16))
        self.send_header("Cache-Control", "no-store")
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status, obj, headers=()):
        self._send(status, json.dumps(obj), "application/json", headers)

    def _payload(self):
        try:
            jws = json.loads(self.body)
            text = b64url_decode(jws.get("payload", ""))
            return json.loads(text) if text else None
        except ValueError:
            return None

    def _route(self):
        parts = self.path.split("?", 1)[0].strip("/").split("/")
        mode, rest = parts[0], parts[1:]
        with self.ca.lock:
            self.ca.requests.append((mode, self.command, "/" + "/".join(rest)))
        return mode, rest

    def do_GET(self):
        self._dispatch()

    def do_HEAD(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def _dispatch(self):
        # the body is read whole before anything else: left unread it would be taken for the
        # next request on this kept-alive connection
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(min(length, MAX_REQUEST_BYTES)) if length > 0 else b""
        mode, rest = self._route()
        if mode not in MODES or not rest:
            self._send(404, "no such mode", "text/plain")
            return
        try:
            if rest == ["directory"] and mode in DIRECTORY_MODES:
                getattr(self, "_dir_" + mode)(mode)
            else:
                self._flow(mode, rest)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout, OSError):
            self.close_connection = True  # the client hung up: exactly what we wanted

    # --- misbehaving directories --------------------------------------------------------------

    def _directory(self, mode):
        base = self._base(mode)
        return {"newNonce": base + "/nonce", "newAccount": base + "/account",
                "newOrder": base + "/order", "revokeCert": base + "/revoke",
                "keyChange": base + "/keychange",
                "meta": {"termsOfService": base + "/terms"}}

    def _stream(self, limit_bytes, limit_seconds, chunked):
        deadline = time.monotonic() + limit_seconds
        chunk = b" " * STREAM_CHUNK
        sent = 0
        if not chunked:
            self.wfile.write(b"{\"newNonce\": \"")
        while sent < limit_bytes and time.monotonic() < deadline:
            data = b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk
            self.wfile.write(data)
            sent += len(chunk)
        self.close_connection = True

    def _dir_oversized(self, mode):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(OVERSIZED_BYTES))
        self.end_headers()
        self._stream(OVERSIZED_BYTES, ENDLESS_MAX_SECONDS, chunked=False)

    def _dir_endless(self, mode):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.write(b"e\r\n{\"newNonce\": \"\r\n")
        self._stream(ENDLESS_MAX_BYTES, ENDLESS_MAX_SECONDS, chunked=True)

    def _dir_drip(self, mode):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(DRIP_CLAIMED_LENGTH))
        self.end_headers()
        self.wfile.flush()
        for _ in range(DRIP_MAX_BYTES):
            self.wfile.write(b" ")
            self.wfile.flush()
            time.sleep(DRIP_INTERVAL)
        self.close_connection = True

    def _dir_headerflood(self, mode):
        self.send_response(200)
        for i in range(HEADER_FLOOD_COUNT):
            self.send_header("X-Flood-%d" % i, HEADER_FLOOD_VALUE)
        self.send_header("Content-Type", "application/json")
        body = json.dumps(self._directory(mode)).encode()
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _dir_html(self, mode):
        page = ("<!DOCTYPE html>\n<html><head><title>Welcome</title></head><body>"
                "<h1>Please log in to the network</h1></body></html>\n")
        self._send(200, page, "text/html; charset=utf-8")

    def _dir_redirect(self, mode):
        self._send(301, "", "text/plain", headers=(("Location", self._base(mode) + "/directory"),))

    def _dir_badjson(self, mode):
        self._send(200, "{newNonce: https://nowhere, ]", "application/json")

    def _dir_truncated(self, mode):
        text = json.dumps(self._directory(mode))
        self._send(200, text[:len(text) // 2], "application/json")

    def _dir_cutoff(self, mode):
        text = json.dumps(self._directory(mode)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(text) * 2))
        self.end_headers()
        self.wfile.write(text[:len(text) // 2])
        self.wfile.flush()
        self.close_connection = True

    # --- just enough ACME -----------------------------------------------------------------------

    def _flow(self, mode, rest):
        base = self._base(mode)
        what = rest[0]
        if what == "directory":
            self._json(200, self._directory(mode))
        elif what == "nonce":
            self._send(200 if self.command == "HEAD" else 204, "", None)
        elif what == "account":
            payload = self._payload() or {}
            if mode == "noproblem":
                problem = {"type": "urn:ietf:params:acme:error:malformed",
                           "detail": "this problem is sent as text/plain", "status": 400}
                self._send(400, json.dumps(problem), "text/plain")
            elif payload.get("onlyReturnExisting"):
                self._json(400, {"type": "urn:ietf:params:acme:error:accountDoesNotExist",
                                 "detail": "no such account", "status": 400})
            else:
                self._json(201, {"status": "valid", "orders": base + "/orders/1"},
                           headers=(("Location", base + "/acct/1"),))
        elif what == "acct":
            self._json(200, {"status": "valid"})
        elif what == "order" and len(rest) == 1:
            payload = self._payload() or {}
            names = [i.get("value") for i in payload.get("identifiers", [])]
            with self.ca.lock:
                n = len(self.ca.orders) + 1
                self.ca.orders[n] = {"names": names, "certificate": None}
            self._json(201, self._order(mode, n), headers=(("Location", base + "/order/%d" % n),))
        elif what == "order":
            self._json(200, self._order(mode, int(rest[1])))
        elif what == "authz":
            n = int(rest[1])
            name = self.ca.orders[n]["names"][int(rest[2])]
            self._json(200, {"status": "valid", "identifier": {"type": "dns", "value": name},
                             "challenges": [{"type": "http-01", "status": "valid",
                                             "url": base + "/chall/%d" % n,
                                             "token": secrets.token_urlsafe(32)}]})
        elif what == "finalize":
            n = int(rest[1])
            payload = self._payload() or {}
            self.ca.orders[n]["certificate"] = self._issue(mode, n, payload.get("csr", ""))
            self._json(200, self._order(mode, n))
        elif what == "cert":
            chain = self.ca.orders[int(rest[1])]["certificate"] or ""
            self._send(200, chain, "application/pem-certificate-chain")
        else:
            self._json(404, {"type": "urn:ietf:params:acme:error:malformed",
                             "detail": "unknown resource", "status": 404})

    def _order(self, mode, n):
        base = self._base(mode)
        order = self.ca.orders[n]
        obj = {"status": "valid" if order["certificate"] else "ready",
               "identifiers": [{"type": "dns", "value": v} for v in order["names"]],
               "authorizations": [base + "/authz/%d/%d" % (n, i)
                                  for i in range(len(order["names"]))],
               "finalize": base + "/finalize/%d" % n}
        if order["certificate"]:
            obj["certificate"] = base + "/cert/%d" % n
        return obj

    def _issue(self, mode, n, csr_b64):
        names = self.ca.orders[n]["names"]
        if mode == "garbagechain":
            return ("-----BEGIN CERTIFICATE-----\nTm90IGEgY2VydGlmaWNhdGUgYXQgYWxs\n"
                    "-----END CERTIFICATE-----\n")
        csr = b64url_decode(csr_b64)
        if mode == "othernames":
            return self.ca.issuer.sign(csr, [OTHER_NAME])
        if mode == "unknownroot":
            return self.ca.stranger.sign(csr, names)
        return self.ca.issuer.sign(csr, names)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, hostile, context):
        self.hostile = hostile
        self.context = context
        super().__init__(address, _Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        # the handshake happens in the handler's thread, at its first read
        return self.context.wrap_socket(sock, server_side=True,
                                        do_handshake_on_connect=False), addr


class HostileCA:
    """The misbehaving CA; a context manager.

    url(mode): the directory URL of a mode (MODES lists them).
    ca_cert: the listener's CA (what a client trusts for HTTPS to this server).
    issuer_root: the root of the honest issuing CA (AutoTLSIssuerRoots); the stranger's is not.
    requests: (mode, method, path) of every request, in order.
    """

    def __init__(self, workdir=None):
        self.workdir = workdir
        self._own_workdir = workdir is None
        self.port = None
        self.requests = []
        self.orders = {}
        self.lock = threading.Lock()
        self._server = None
        self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        if self.workdir is None:
            self.workdir = tempfile.mkdtemp(prefix="autotls-hostile-ca-")
        os.chmod(self.workdir, 0o755)  # httpd children (www-data) read ca.pem
        make_listener_certs(self.workdir)
        self.issuer = IssuingCA(self.workdir, "Hostile Test")
        self.stranger = IssuingCA(self.workdir, "Stranger")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(os.path.join(self.workdir, "cert.pem"),
                                os.path.join(self.workdir, "key.pem"))
        self.port = free_port()
        self._server = _Server((LOOPBACK, self.port), self, context)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="hostile-ca")
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(STOP_TIMEOUT)
            self._server = None
        if self._own_workdir and self.workdir and not os.environ.get("AUTOTLS_KEEP_TMP"):
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def url(self, mode):
        if mode not in MODES:
            raise ValueError("unknown mode %r" % mode)
        return "https://%s:%d/%s/directory" % (LOOPBACK, self.port, mode)

    @property
    def ca_cert(self):
        return os.path.join(self.workdir, "ca.pem")

    @property
    def issuer_root(self):
        return str(self.issuer.root)

    def requests_of(self, mode):
        with self.lock:
            return [(m, p) for (md, m, p) in self.requests if md == mode]
