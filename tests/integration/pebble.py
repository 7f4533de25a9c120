# SPDX-License-Identifier: Apache-2.0
"""A real ACME test CA on loopback: pebble + pebble-challtestsrv, started and stopped as one.

The one idea to hold: everything pebble needs is made fresh in a temp dir at each start (its own
HTTPS listener CA and leaf, its config, its logs), every listener sits on 127.0.0.1, and pebble's
*issuing* root is a different CA that pebble regenerates at every start, so fetch it (roots_pem())
after start, never cache it across restarts. The design notes (section 7) list the
traps avoided here: AAAA ::1 answers, fixed default ports, system DNS, the signed-request deadlock.

Standard library only. Usable two ways:
    with PebbleEnv(http01_port=5002) as env: ...           (tests)
    python3 tests/integration/pebble.py serve --http01-port 5002 --info FILE   (scripts)
"""

import argparse
import ctypes
import json
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

PEBBLE_BIN = "/usr/bin/pebble"
CHALLTESTSRV_BIN = "/usr/bin/pebble-challtestsrv"
LOOPBACK = "127.0.0.1"

START_TIMEOUT = 30.0  # seconds until both servers must answer
STOP_TIMEOUT = 5.0  # seconds between SIGTERM and SIGKILL
POLL_INTERVAL = 0.05
REQUEST_TIMEOUT = 10.0
HEALTH_TIMEOUT = 2.0
LOG_TAIL_LINES = 40
LISTENER_CERT_DAYS = 30

FREE_PORT_LOW = 20000  # free ports are picked from here up to the ephemeral range
FREE_PORT_ATTEMPTS = 200
EPHEMERAL_RANGE_FILE = "/proc/sys/net/ipv4/ip_local_port_range"
EPHEMERAL_LOW_DEFAULT = 32768

_PR_SET_PDEATHSIG = 1
_random = random.SystemRandom()
_handed_out = set()


def _ephemeral_low():
    try:
        with open(EPHEMERAL_RANGE_FILE) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return EPHEMERAL_LOW_DEFAULT


def _bindable(port, udp_too):
    kinds = [socket.SOCK_STREAM] + ([socket.SOCK_DGRAM] if udp_too else [])
    try:
        for kind in kinds:
            with socket.socket(socket.AF_INET, kind) as s:
                s.bind((LOOPBACK, port))
    except OSError:
        return False
    return True


def free_port(udp_too=False):
    """A port free on 127.0.0.1 right now, never handed out before by this process.

    Chosen below the kernel's ephemeral range: a port from bind(0) lies inside it, and any
    outgoing connection (pebble's VA, a test's HTTP client) may take it as its local port before
    the test's server binds it. The small race with other processes is accepted."""
    high = min(_ephemeral_low(), 65536) - 1
    for _ in range(FREE_PORT_ATTEMPTS):
        port = _random.randint(FREE_PORT_LOW, high) if high > FREE_PORT_LOW else 0
        if port in _handed_out:
            continue
        if port == 0:  # no room below the ephemeral range: fall back to the kernel's choice
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind((LOOPBACK, 0))
                port = s.getsockname()[1]
        if _bindable(port, udp_too):
            _handed_out.add(port)
            return port
    raise RuntimeError("no free loopback port found")


def _die_with_parent():
    """preexec_fn: the servers get SIGTERM when the Python process that started them dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def _run_openssl(args, cwd):
    proc = subprocess.run(["openssl"] + args, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args), proc.stderr.strip()))


def make_listener_certs(directory):
    """Writes ca.pem (to trust), cert.pem + key.pem (pebble's HTTPS listener) into directory."""
    _run_openssl(
        ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", "ca.key", "-out", "ca.pem", "-days", str(LISTENER_CERT_DAYS),
         "-subj", "/CN=autotls test listener CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"], directory)
    _run_openssl(
        ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", "key.pem", "-out", "leaf.csr", "-subj", "/CN=localhost"], directory)
    with open(os.path.join(directory, "leaf.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                "basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\n")
    _run_openssl(
        ["x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-days", str(LISTENER_CERT_DAYS), "-extfile", "leaf.ext",
         "-out", "cert.pem"], directory)
    os.chmod(os.path.join(directory, "ca.pem"), 0o644)
    for key in ("ca.key", "key.pem"):
        os.chmod(os.path.join(directory, key), 0o600)


class PebbleError(RuntimeError):
    pass


class PebbleEnv:
    """pebble-challtestsrv + pebble on loopback; a context manager.

    http01_port: where pebble's VA connects for http-01 (the port the test serves on).
    tls_port: pebble's tlsPort (tls-alpn-01); a free port when None.
    nonce_reject: PEBBLE_WFE_NONCEREJECT percent; None keeps pebble's default (5%).
    authz_reuse: PEBBLE_AUTHZREUSE percent; None keeps pebble's default (50%).
    validity_seconds: certificateValidityPeriod; None keeps pebble's default (5 years).
    eab_keys: {kid: base64url HMAC key}; when set, pebble requires external account binding.
    """

    def __init__(self, http01_port, tls_port=None, nonce_reject=None, authz_reuse=None,
                 validity_seconds=None, eab_keys=None, workdir=None, keep=None):
        self.http01_port = int(http01_port)
        self.tls_port = int(tls_port) if tls_port else free_port()
        self.nonce_reject = nonce_reject
        self.authz_reuse = authz_reuse
        self.validity_seconds = validity_seconds
        self.eab_keys = dict(eab_keys) if eab_keys else None
        self.keep = keep if keep is not None else bool(os.environ.get("AUTOTLS_KEEP_TMP"))
        self._own_workdir = workdir is None
        self.workdir = workdir
        self.pebble_proc = None
        self.challtestsrv_proc = None
        self._log_files = []
        self._ssl = None
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self.acme_port = self.mgmt_port = self.dns_port = self.challtestsrv_mgmt_port = None

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.stop()
        return False

    def start(self):
        if self.workdir is None:
            self.workdir = tempfile.mkdtemp(prefix="autotls-pebble-")
        # httpd children (User) read ca.pem: the dir must be traversable, keys stay 0600.
        os.chmod(self.workdir, 0o755)
        if not os.path.exists(os.path.join(self.workdir, "cert.pem")):
            make_listener_certs(self.workdir)
        self.acme_port = self.acme_port or free_port()
        self.mgmt_port = self.mgmt_port or free_port()
        self.dns_port = self.dns_port or free_port(udp_too=True)
        self.challtestsrv_mgmt_port = self.challtestsrv_mgmt_port or free_port()
        self._ssl = ssl.create_default_context(cafile=self.ca_cert)
        self._write_config()
        try:
            self._start_challtestsrv()
            self._start_pebble()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        for proc in (self.pebble_proc, self.challtestsrv_proc):
            if proc is not None and proc.poll() is None:
                proc.terminate()
        for proc in (self.pebble_proc, self.challtestsrv_proc):
            if proc is None:
                continue
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT)
        self.pebble_proc = self.challtestsrv_proc = None
        for f in self._log_files:
            f.close()
        self._log_files = []
        if self._own_workdir and not self.keep and self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def restart(self):
        """Stops and starts again on the same ports (a new issuing root: fetch it again)."""
        own, self._own_workdir = self._own_workdir, False
        self.stop()
        self._own_workdir = own
        return self.start()

    # --- where things are ----------------------------------------------------------------------

    @property
    def directory_url(self):
        return "https://%s:%d/dir" % (LOOPBACK, self.acme_port)

    @property
    def management_url(self):
        return "https://%s:%d" % (LOOPBACK, self.mgmt_port)

    @property
    def challtestsrv_url(self):
        return "http://%s:%d" % (LOOPBACK, self.challtestsrv_mgmt_port)

    @property
    def ca_cert(self):
        """The CA of pebble's HTTPS listener: trust it to talk to pebble (not the issuing root)."""
        return os.path.join(self.workdir, "ca.pem")

    @property
    def pebble_log(self):
        return os.path.join(self.workdir, "pebble.log")

    @property
    def challtestsrv_log(self):
        return os.path.join(self.workdir, "challtestsrv.log")

    # --- ACME and management helpers ------------------------------------------------------------

    def _get(self, url, timeout=REQUEST_TIMEOUT):
        """(status, body bytes); HTTP errors are returned, not raised."""
        kwargs = {"timeout": timeout}
        if url.startswith("https:"):
            # the opener's default HTTPS handler does not take a context: make one per call.
            opener = urllib.request.build_opener(
                urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=self._ssl))
        else:
            opener = self._opener
        try:
            with opener.open(url, **kwargs) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def _post_challtestsrv(self, path, payload):
        req = urllib.request.Request(self.challtestsrv_url + path,
                                     data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with self._opener.open(req, timeout=REQUEST_TIMEOUT) as resp:
                status = resp.status
        except urllib.error.HTTPError as e:
            status = e.code
        if status != 200:
            raise PebbleError("challtestsrv %s answered %d" % (path, status))

    def directory(self):
        status, body = self._get(self.directory_url)
        if status != 200:
            raise PebbleError("directory answered %d" % status)
        return json.loads(body)

    def roots_pem(self):
        """The issuing root of this run (changes at each start)."""
        return self._management_pem("/roots/0")

    def roots_file(self):
        """This run's issuing root written to a file (0644) in the temp dir; returns its path."""
        path = os.path.join(self.workdir, "issuing-root.pem")
        with open(path, "w") as f:
            f.write(self.roots_pem())
        os.chmod(path, 0o644)
        return path

    def intermediates_pem(self):
        return self._management_pem("/intermediates/0")

    def _management_pem(self, path):
        status, body = self._get(self.management_url + path)
        if status != 200:
            raise PebbleError("management %s answered %d" % (path, status))
        return body.decode()

    def cert_status(self, serial_hex):
        """pebble's record of a certificate ({"Status": "Valid"|"Revoked", ...}) or None."""
        serial = serial_hex.replace(":", "").strip().lower().lstrip("0") or "0"
        candidates = [serial]
        if len(serial) % 2:
            candidates.append("0" + serial)
        for s in candidates:
            status, body = self._get(self.management_url + "/cert-status-by-serial/" + s)
            if status == 200:
                return json.loads(body)
        return None

    def healthy(self, timeout=HEALTH_TIMEOUT):
        """False when pebble hangs on signed requests (the DESIGN section 7 deadlock)."""
        try:
            status, _ = self._get(self.management_url + "/cert-status-by-serial/1", timeout)
        except (OSError, urllib.error.URLError):
            return False
        return status == 404

    def set_a(self, host, ip):
        """Makes challtestsrv answer A queries for host with ip (instead of 127.0.0.1)."""
        self._post_challtestsrv("/add-a", {"host": _fqdn(host), "addresses": [ip]})

    def clear_a(self, host):
        self._post_challtestsrv("/clear-a", {"host": _fqdn(host)})

    def log_tail(self, lines=LOG_TAIL_LINES):
        """The last lines of both logs, for a failing test's report."""
        out = []
        for path in (self.challtestsrv_log, self.pebble_log):
            if self.workdir and os.path.exists(path):
                with open(path, errors="replace") as f:
                    tail = f.readlines()[-lines:]
                out.append("==> %s <==\n%s" % (path, "".join(tail)))
        return "\n".join(out)

    # --- internals -------------------------------------------------------------------------------

    def _write_config(self):
        conf = {
            "listenAddress": "%s:%d" % (LOOPBACK, self.acme_port),
            "managementListenAddress": "%s:%d" % (LOOPBACK, self.mgmt_port),
            "certificate": os.path.join(self.workdir, "cert.pem"),
            "privateKey": os.path.join(self.workdir, "key.pem"),
            "httpPort": self.http01_port,
            "tlsPort": self.tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": bool(self.eab_keys),
        }
        if self.eab_keys:
            conf["externalAccountMACKeys"] = self.eab_keys
        if self.validity_seconds:
            conf["certificateValidityPeriod"] = int(self.validity_seconds)
        with open(os.path.join(self.workdir, "pebble-config.json"), "w") as f:
            json.dump({"pebble": conf}, f, indent=2)

    def _spawn(self, argv, log_path, env):
        log = open(log_path, "ab")
        self._log_files.append(log)
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, env=env, cwd=self.workdir,
                                preexec_fn=_die_with_parent)

    def _start_challtestsrv(self):
        argv = [CHALLTESTSRV_BIN,
                "-defaultIPv6", "", "-defaultIPv4", LOOPBACK,
                "-http01", "", "-https01", "", "-tlsalpn01", "",
                "-dns01", "%s:%d" % (LOOPBACK, self.dns_port),
                "-management", "%s:%d" % (LOOPBACK, self.challtestsrv_mgmt_port)]
        self.challtestsrv_proc = self._spawn(argv, self.challtestsrv_log, dict(os.environ))
        self._wait_until(self.challtestsrv_proc, "pebble-challtestsrv",
                         lambda: self._answers(self.challtestsrv_url + "/"))

    def _start_pebble(self):
        env = dict(os.environ)
        env["PEBBLE_VA_NOSLEEP"] = "1"
        for var, value in (("PEBBLE_WFE_NONCEREJECT", self.nonce_reject),
                           ("PEBBLE_AUTHZREUSE", self.authz_reuse)):
            if value is None:
                env.pop(var, None)
            else:
                env[var] = str(int(value))
        argv = [PEBBLE_BIN, "-config", os.path.join(self.workdir, "pebble-config.json"),
                "-dnsserver", "%s:%d" % (LOOPBACK, self.dns_port)]
        self.pebble_proc = self._spawn(argv, self.pebble_log, env)
        self._wait_until(self.pebble_proc, "pebble",
                         lambda: self._answers(self.directory_url, 200)
                         and self._answers(self.management_url + "/roots/0", 200))

    def _answers(self, url, want=None):
        try:
            status, _ = self._get(url, timeout=1.0)
        except (OSError, urllib.error.URLError):
            return False
        return want is None or status == want

    def _wait_until(self, proc, what, ready):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise PebbleError("%s exited with %d at start\n%s"
                                  % (what, proc.returncode, self.log_tail()))
            if ready():
                return
            time.sleep(POLL_INTERVAL)
        raise PebbleError("%s did not answer within %.0f s\n%s"
                          % (what, START_TIMEOUT, self.log_tail()))


def _fqdn(host):
    return host if host.endswith(".") else host + "."


def _serve(args):
    """Runs a PebbleEnv until SIGTERM/SIGINT; writes shell-sourceable facts to args.info."""
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    with PebbleEnv(http01_port=args.http01_port, nonce_reject=args.nonce_reject) as env:
        roots = env.roots_file()
        tmp = args.info + ".tmp"
        with open(tmp, "w") as f:
            f.write("PEBBLE_DIRECTORY=%s\nPEBBLE_CA_CERT=%s\nPEBBLE_ROOT=%s\nPEBBLE_WORKDIR=%s\n"
                    % (env.directory_url, env.ca_cert, roots, env.workdir))
        os.replace(tmp, args.info)
        while not stop:
            if env.pebble_proc.poll() is not None or env.challtestsrv_proc.poll() is not None:
                sys.stderr.write("pebble.py: a server died\n%s\n" % env.log_tail())
                return 1
            time.sleep(0.2)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description="pebble + challtestsrv on loopback")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run until SIGTERM, facts written to --info")
    serve.add_argument("--http01-port", type=int, required=True)
    serve.add_argument("--nonce-reject", type=int, default=None)
    serve.add_argument("--info", required=True, help="file to write KEY=VALUE lines into")
    args = parser.parse_args(argv)
    return _serve(args)


if __name__ == "__main__":
    sys.exit(main())
