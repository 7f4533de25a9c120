# SPDX-License-Identifier: Apache-2.0
"""An ACME CA with ACME Renewal Information (RFC 9773): a TLS proxy in front of a running pebble.

The one idea to hold: pebble 2.4.0 builds every URL it hands out (directory, Location, Link,
order and authorization URLs) from the request's Host header and checks a JWS's "url" against
that same Host, so a proxy that forwards each request unchanged, Host included, makes pebble
speak with the proxy's address throughout. The proxy then only adds what pebble lacks: a
"renewalInfo" entry in the directory, the renewalInfo resource answering with the window the
test set, a record of the `replaces` field of every newOrder, and on demand a refusal of orders
that carry `replaces`. It also plays a CA with certificate profiles (draft-ietf-acme-profiles,
which pebble 2.4.0 lacks too): set_profiles() lists them in the directory's meta.profiles, every
newOrder's `profile` is recorded, and refuse_profile() answers orders asking for one with the
draft's invalidProfile problem; pebble itself ignores the field and issues as usual. And it
plays a CA in trouble (CA failover tests): fail_orders() answers the next newOrders with a 500
serverInternal problem, as a CA whose order backend is down would.

Standard library only. Bounded: one thread per connection up to MAX_CONNECTIONS, socket
timeouts on both sides, a body size cap, and stop() closes every open connection.

    with AriProxy(pebble) as proxy:
        proxy.set_window(start, end, retry_after=60)
        ... autotls issue --ca proxy.directory_url --ca-cert proxy.ca_file ...
        proxy.replaces_seen, proxy.requests
"""

import base64
import binascii
import http.client
import http.server
import json
import re
import socket
import ssl
import threading
import time
import urllib.parse

from pebble import LOOPBACK, free_port

DIRECTORY_PATH = "/dir"  # pebble's directory path
RENEWAL_INFO_PATH = "/renewal-info"  # ours: pebble 2.4.0 has no renewalInfo
CONNECTION_TIMEOUT = 15.0  # seconds a client connection may sit idle or in a handshake
UPSTREAM_TIMEOUT = 30.0  # seconds pebble may take to answer one request
STOP_JOIN_TIMEOUT = 5.0  # seconds stop() waits for each connection thread
MAX_CONNECTIONS = 64  # open client connections at once; more are closed at once
MAX_BODY = 1 << 20  # request bodies larger than this are refused (413)
DEFAULT_WINDOW_AHEAD = 10 * 365 * 86400  # default window starts this far after start()
DEFAULT_WINDOW_LENGTH = 86400
HTTP_CREATED = 201  # pebble's answer to a newOrder it created
RFC3339_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
CERT_ID_RE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailer", "transfer-encoding", "upgrade", "content-length"}
PROBLEM_TYPE_ALREADY_REPLACED = "urn:ietf:params:acme:error:alreadyReplaced"
PROBLEM_TYPE_RATE_LIMITED = "urn:ietf:params:acme:error:rateLimited"
PROBLEM_TYPE_INVALID_PROFILE = "urn:ietf:params:acme:error:invalidProfile"
PROBLEM_TYPE_SERVER_INTERNAL = "urn:ietf:params:acme:error:serverInternal"
HTTP_INTERNAL_ERROR = 500
HTTP_BAD_REQUEST = 400
HTTP_TOO_MANY_REQUESTS = 429


def rfc3339(epoch):
    """An RFC 3339 UTC timestamp with whole seconds, e.g. 2025-01-02T03:04:05Z."""
    return time.strftime(RFC3339_FORMAT, time.gmtime(int(epoch)))


def _b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jws_payload(body):
    """The decoded JSON payload of a flattened JWS (no verification); None when there is none."""
    try:
        jws = json.loads(body)
        payload = jws.get("payload") if isinstance(jws, dict) else None
        if not payload:
            return None
        return json.loads(_b64url_decode(payload))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        return None


class _Window:
    def __init__(self, start, end, retry_after, explanation_url):
        self.start, self.end = int(start), int(end)
        self.retry_after = retry_after
        self.explanation_url = explanation_url

    def body(self):
        doc = {"suggestedWindow": {"start": rfc3339(self.start), "end": rfc3339(self.end)}}
        if self.explanation_url:
            doc["explanationURL"] = self.explanation_url
        return json.dumps(doc).encode()


class AriProxy:
    """A TLS proxy on 127.0.0.1 in front of a started PebbleEnv that adds RFC 9773.

    ari: False leaves the directory as pebble serves it (a CA without renewalInfo).
    Attributes read by tests (lists of the proxy's own, appended to under a lock):
      requests       (method, path) of every request received, in order
      replaces_seen  the `replaces` value of each newOrder that carried one (refused ones too)
      order_times    when each of orders came (time.monotonic())
      orders         the `replaces` value of every newOrder refused here or created by pebble,
                     None when it carried none (a resend after badNonce is not counted twice)
      ari_requests   the certID of every renewalInfo GET
      rate_limited   the identifiers of every newOrder refused with a 429 (rate_limit)
      profiles_seen  the `profile` of every newOrder received, None when it carried none
                     (a resend after badNonce counts again)
      failed_orders  the `replaces` value (None: none) of every newOrder fail_orders() failed
    """

    def __init__(self, pebble, ari=True):
        self.pebble = pebble
        self.ari = ari
        self.port = None
        self.requests = []
        self.replaces_seen = []
        self.orders = []
        self.order_times = []  # time.monotonic() of each entry of orders
        self.ari_requests = []
        self.rate_limited = []
        self.profiles_seen = []
        self.failed_orders = []
        self._failing = 0  # newOrders still to fail with serverInternal (fail_orders)
        self._profiles = None  # name -> description for meta.profiles, None: not listed
        self._refused_profiles = set()
        self._rate_limits = []  # [(retry_after, detail, names)] for the next matching newOrders
        self._lock = threading.Lock()
        self._windows = {}  # cert_id or None (any) -> _Window
        self._refusals = []  # [(status, type)] for the next orders carrying replaces
        self._delays = {}  # path prefix -> seconds each matching request is held before pebble
        self._server = None
        self._thread = None
        self._conns = {}  # accepted socket -> the socket to shut down at stop (TLS once wrapped)
        self._conn_threads = set()
        self._new_order_path = self._new_nonce_path = None
        self._server_ctx = None
        self._upstream_ctx = None

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        self.stop()
        return False

    def start(self):
        directory = self.pebble.directory()
        self._new_order_path = urllib.parse.urlsplit(directory["newOrder"]).path
        self._new_nonce_path = urllib.parse.urlsplit(directory["newNonce"]).path
        now = int(time.time())
        self._windows.setdefault(None, _Window(now + DEFAULT_WINDOW_AHEAD,
                                               now + DEFAULT_WINDOW_AHEAD + DEFAULT_WINDOW_LENGTH,
                                               None, None))
        # pebble's listener leaf names localhost and 127.0.0.1: clients trust ca_file for both.
        self._server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._server_ctx.load_cert_chain(self._workfile("cert.pem"), self._workfile("key.pem"))
        self._upstream_ctx = ssl.create_default_context(cafile=self.pebble.ca_cert)
        self.port = free_port()
        self._server = _Server((LOOPBACK, self.port), _Handler, self)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True,
                                        name="ari-proxy-%d" % self.port)
        self._thread.start()
        return self

    def stop(self):
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(STOP_JOIN_TIMEOUT)
        with self._lock:
            conns, threads = list(self._conns.values()), list(self._conn_threads)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in threads:
            thread.join(STOP_JOIN_TIMEOUT)
        self._server = self._thread = None

    # --- what tests use ------------------------------------------------------------------------

    @property
    def directory_url(self):
        return "https://%s:%d%s" % (LOOPBACK, self.port, DIRECTORY_PATH)

    @property
    def renewal_info_url(self):
        return "https://%s:%d%s" % (LOOPBACK, self.port, RENEWAL_INFO_PATH)

    @property
    def ca_file(self):
        """Roots to trust for HTTPS to the proxy: the CA of pebble's listener."""
        return self.pebble.ca_cert

    def set_window(self, start_epoch, end_epoch, retry_after=None, cert_id=None,
                   explanation_url=None):
        """The window served for cert_id (None: for every certID without its own window).

        retry_after: seconds sent as Retry-After (None: no header). The values are served as
        given, so a test may set a window that is invalid on purpose (end before start)."""
        with self._lock:
            self._windows[cert_id] = _Window(start_epoch, end_epoch, retry_after,
                                             explanation_url)

    def refuse_replaces(self, n, status=409, type=PROBLEM_TYPE_ALREADY_REPLACED):
        """Refuses the next n newOrders that carry `replaces` with a problem document."""
        with self._lock:
            self._refusals.extend([(int(status), type)] * int(n))

    def rate_limit(self, n, retry_after, detail, names=None):
        """Answers the next n newOrders (those with an identifier equal to or below one of
        names, when given) with 429, Retry-After: retry_after seconds and a rateLimited problem
        document whose detail is detail (word it as the CA would)."""
        with self._lock:
            self._rate_limits.extend([(int(retry_after), detail, names)] * int(n))

    def fail_orders(self, n, detail="the order backend is down"):
        """Answers the next n newOrders with 500 and a serverInternal problem (0: stop)."""
        with self._lock:
            self._failing = int(n)
            self._failing_detail = detail

    def _order_fails(self, replaces):
        with self._lock:
            if self._failing <= 0:
                return None
            self._failing -= 1
            self.failed_orders.append(replaces)
            self.orders.append(replaces)
            return self._failing_detail

    def set_profiles(self, profiles):
        """Lists profiles (name -> description) in the directory's meta.profiles; None: none."""
        with self._lock:
            self._profiles = dict(profiles) if profiles is not None else None

    def refuse_profile(self, name):
        """Answers every newOrder asking for profile name with 400 invalidProfile."""
        with self._lock:
            self._refused_profiles.add(name)

    # --- internals -------------------------------------------------------------------------------

    def delay(self, path_prefix, seconds):
        """Holds every request whose path starts with path_prefix for seconds before passing it
        on (e.g. "/finalize-order/": an order stays in flight that long); 0 ends it."""
        seconds = min(float(seconds), UPSTREAM_TIMEOUT)
        with self._lock:
            if seconds > 0:
                self._delays[path_prefix] = seconds
            else:
                self._delays.pop(path_prefix, None)

    def _delay_for(self, path):
        with self._lock:
            return max([s for p, s in self._delays.items() if path.startswith(p)], default=0)

    def _workfile(self, name):
        return "%s/%s" % (self.pebble.workdir, name)

    def _record(self, method, path):
        with self._lock:
            self.requests.append((method, path))

    def _window_for(self, cert_id):
        with self._lock:
            self.ari_requests.append(cert_id)
            return self._windows.get(cert_id) or self._windows[None]

    def _order_seen(self, body):
        """A newOrder's `replaces`, and (status, type) when it is to be refused, else None."""
        payload = jws_payload(body)
        replaces = payload.get("replaces") if isinstance(payload, dict) else None
        with self._lock:
            if replaces is None or not self._refusals:
                return replaces, None
            return replaces, self._refusals.pop(0)

    def _profile_refused(self, body):
        """Records a newOrder's `profile`; whether it is one refuse_profile() named."""
        payload = jws_payload(body)
        profile = payload.get("profile") if isinstance(payload, dict) else None
        with self._lock:
            self.profiles_seen.append(profile)
            return profile is not None and profile in self._refused_profiles

    def _rate_limit_for(self, body):
        """(retry_after, detail) when this newOrder is to get a 429, else None."""
        payload = jws_payload(body)
        idents = [i.get("value", "") for i in (payload or {}).get("identifiers", [])
                  if isinstance(i, dict)] if isinstance(payload, dict) else []
        with self._lock:
            for k, (retry_after, detail, names) in enumerate(self._rate_limits):
                if names is None or any(i == n or i.endswith("." + n)
                                        for i in idents for n in names):
                    del self._rate_limits[k]
                    self.rate_limited.append(idents)
                    return retry_after, detail
        return None

    def _order_done(self, replaces):
        """Records an order refused here or created by pebble (a badNonce resend is not one)."""
        with self._lock:
            self.orders.append(replaces)
            self.order_times.append(time.monotonic())
            if replaces is not None:
                self.replaces_seen.append(replaces)

    def _upstream(self):
        return http.client.HTTPSConnection(LOOPBACK, self.pebble.acme_port,
                                           timeout=UPSTREAM_TIMEOUT, context=self._upstream_ctx)


class _Server(http.server.ThreadingHTTPServer):
    """Thread per connection, counted and tracked so stop() can close them all."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, handler, proxy):
        self.proxy = proxy
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        proxy = self.proxy
        with proxy._lock:
            full = len(proxy._conns) >= MAX_CONNECTIONS
            if not full:
                proxy._conns[request] = request
        if full:
            self.shutdown_request(request)
            return
        thread = threading.Thread(target=self._serve_one, args=(request, client_address),
                                  daemon=True)
        with proxy._lock:
            proxy._conn_threads.add(thread)
        thread.start()

    def _serve_one(self, request, client_address):
        try:
            self.finish_request(request, client_address)
        except Exception:  # a broken client connection ends only that connection
            pass
        finally:
            self.shutdown_request(request)
            with self.proxy._lock:
                self.proxy._conns.pop(request, None)
                self.proxy._conn_threads.discard(threading.current_thread())


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        proxy = self.server.proxy
        raw = self.request
        raw.settimeout(CONNECTION_TIMEOUT)
        self.upstream = None
        self.request = proxy._server_ctx.wrap_socket(raw, server_side=True)
        with proxy._lock:
            if raw in proxy._conns:
                proxy._conns[raw] = self.request
        super().setup()

    def finish(self):
        try:
            super().finish()
        finally:
            if self.upstream is not None:
                self.upstream.close()
            self.request.close()

    def log_message(self, *args):
        pass

    def do_GET(self):
        self._handle()

    def do_HEAD(self):
        self._handle()

    def do_POST(self):
        self._handle()

    # --- one request -----------------------------------------------------------------------------

    def _handle(self):
        proxy = self.server.proxy
        proxy._record(self.command, self.path)
        body = self._read_body()
        if body is None:
            return
        path = urllib.parse.urlsplit(self.path).path
        if proxy.ari and self.command == "GET" and path.startswith(RENEWAL_INFO_PATH + "/"):
            self._renewal_info(path[len(RENEWAL_INFO_PATH) + 1:])
            return
        new_order = self.command == "POST" and path == proxy._new_order_path
        if new_order:
            replaces, refusal = proxy._order_seen(body)
            failing = proxy._order_fails(replaces)
            if failing is not None:
                self._problem(HTTP_INTERNAL_ERROR, PROBLEM_TYPE_SERVER_INTERNAL, failing)
                return
            if proxy._profile_refused(body):
                proxy._order_done(replaces)
                self._problem(HTTP_BAD_REQUEST, PROBLEM_TYPE_INVALID_PROFILE,
                              "this account may not use that profile")
                return
            if refusal is not None:
                proxy._order_done(replaces)
                self._problem(*refusal)
                return
            limit = proxy._rate_limit_for(body)
            if limit is not None:
                proxy._order_done(replaces)
                self._problem(HTTP_TOO_MANY_REQUESTS, PROBLEM_TYPE_RATE_LIMITED, limit[1],
                              [("Retry-After", str(limit[0]))])
                return
        held = proxy._delay_for(path)
        if held > 0:
            time.sleep(held)
        status, headers, data = self._forward(body)
        if status is None:
            self._send(504, [("Content-Type", "text/plain")], b"pebble did not answer\n")
            return
        if new_order and status == HTTP_CREATED:
            proxy._order_done(replaces)
        if self.command == "GET" and path == DIRECTORY_PATH and status == 200:
            data = self._with_additions(data)
        self._send(status, headers, data)

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._send(411, [("Content-Type", "text/plain")], b"length required\n")
            self.close_connection = True
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self._send(413, [("Content-Type", "text/plain")], b"bad body length\n")
            self.close_connection = True
            return None
        return self.rfile.read(length) if length else b""

    def _forward(self, body, method=None, path=None):
        """Sends the request to pebble with the client's headers (Host kept); one reconnect."""
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers.setdefault("Host", "%s:%d" % (LOOPBACK, self.server.proxy.port))
        method = method or self.command
        if method == "POST":
            headers["Content-Length"] = str(len(body))
        for attempt in range(2):
            if self.upstream is None:
                self.upstream = self.server.proxy._upstream()
            try:
                self.upstream.request(method, path or self.path, body=body or None,
                                      headers=headers)
                resp = self.upstream.getresponse()
                data = resp.read(MAX_BODY + 1)
                kept = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
                if resp.will_close or len(data) > MAX_BODY:
                    self.upstream.close()
                    self.upstream = None
                return resp.status, kept, data[:MAX_BODY]
            except (OSError, http.client.HTTPException):
                self.upstream.close()
                self.upstream = None
                if attempt:
                    return None, None, None
        return None, None, None

    def _with_additions(self, data):
        """The directory with renewalInfo (ari) and meta.profiles (set_profiles) added."""
        proxy = self.server.proxy
        with proxy._lock:
            profiles = dict(proxy._profiles) if proxy._profiles is not None else None
        if not proxy.ari and profiles is None:
            return data
        try:
            directory = json.loads(data)
        except ValueError:
            return data
        if proxy.ari:
            host = self.headers.get("Host") or "%s:%d" % (LOOPBACK, proxy.port)
            directory["renewalInfo"] = "https://%s%s" % (host, RENEWAL_INFO_PATH)
        if profiles is not None:
            directory.setdefault("meta", {})["profiles"] = profiles
        return json.dumps(directory, indent=2).encode()

    def _renewal_info(self, cert_id):
        if not CERT_ID_RE.match(cert_id):
            self._problem(400, "urn:ietf:params:acme:error:malformed", "not an ARI certID")
            return
        window = self.server.proxy._window_for(cert_id)
        headers = [("Content-Type", "application/json")]
        if window.retry_after is not None:
            headers.append(("Retry-After", str(window.retry_after)))
        self._send(200, headers, window.body())

    def _problem(self, status, type, detail="refused by the ARI test proxy", extra=()):
        headers = [("Content-Type", "application/problem+json")] + list(extra)
        nonce = self._fresh_nonce()
        if nonce:
            headers.append(("Replay-Nonce", nonce))
        doc = {"type": type, "detail": detail, "status": status}
        self._send(status, headers, json.dumps(doc).encode())

    def _fresh_nonce(self):
        """A nonce from pebble, so a refused request still feeds the client's nonce pool."""
        _, headers, _ = self._forward(b"", method="HEAD",
                                           path=self.server.proxy._new_nonce_path)
        for k, v in headers or ():
            if k.lower() == "replay-nonce":
                return v
        return None

    def _send(self, status, headers, data):
        self.send_response_only(status)
        for k, v in headers:
            self.send_header(k, v)
        if self.command != "HEAD" or not any(k.lower() == "content-length" for k, _ in headers):
            self.send_header("Content-Length", str(len(data) if self.command != "HEAD" else 0))
        self.end_headers()
        if self.command != "HEAD" and data:
            self.wfile.write(data)
        self.wfile.flush()
