#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""mod_autotls against Debian's mod_md: the same N names, the same pebble, one after the other.

The one idea to hold: both modules run in the same process of this script against ONE pebble it
starts itself (PEBBLE_VA_NOSLEEP=1), talking to it directly, with the same key type (P-256), the
same vhosts and a fresh store each, in alternating order (ours first in even rounds, mod_md
first in odd ones), so that every ratio printed compares two figures taken minutes apart on
one machine. Each run uses names of its own (`a-r<round>-n<N>-<i>.bench.test` for ours, `m-...` for
mod_md) and a fresh ACME account, so pebble cannot reuse an authorization across runs.

One run, for one module and N names:
  - `apache2 -k start` is timed (the command, until the parent has detached);
  - ours: every name whose activator logs "is live" is checked by a verified TLS handshake
    (SNI = the name, chain to this pebble's root, host name checked) until all pass;
  - mod_md: the moment its log holds AH10059 ("The Managed Domain ... has been setup and changes
    will be activated on next (graceful) server restart") for every name, `apache2 -k graceful`
    runs (mod_md serves none of its certificates before one), then every name is checked the
    same way; the graceful and the reload count in the time;
  - "served" = time from just before `-k start` to the last verified handshake;
  - CA requests = ACME requests in pebble's log ("<METHOD> <path> -> calling handler()") from
    start to that moment, divided by N (the first certificate's share includes the account).
    Not counted through tests/integration/ari_proxy.py: that proxy, Python, adds tens of
    milliseconds per request on a loaded machine, which mod_md, ordering one certificate at a
    time, pays in full and our parallel orders mostly hide;
  - memory = VmRSS and Pss summed over the parent and all its children (tests/integration/
    procmem.py) one second after all are served.
Between runs pebble's health is checked (docs/ARCHITECTURE.md, "The test CA": pebble 2.4 can
deadlock on parallel orders) and pebble is restarted when it hangs; a run that saw pebble hang is
run again.

Optional (--handshakes, --http): full TLS handshakes per second on one managed vhost of ours
against the same certificate and key configured statically in mod_ssl, and plain HTTP requests
per second to the same vhosts with our module loaded (CA unreachable, so nothing is issued and
no redirect happens) against the same configuration without it. Both use a load generator of
Python threads on loopback, bounded in count and time, alternating the two servers per round.

Run as root from a build (the default, N = 50 and 200 with 3 rounds, takes about 6 minutes):
    AUTOTLS_BUILD=$PWD/build /usr/bin/python3 bench/vs_modmd.py
    AUTOTLS_BUILD=$PWD/build /usr/bin/python3 bench/vs_modmd.py --n 50 --n 1000 --rounds 3 \\
        --handshakes --http
Standard library only, plus the integration test helpers.
"""

import argparse
import os
import pathlib
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import threading
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))

import httpd  # noqa: E402
import procmem  # noqa: E402
from autotls_server import LOOPBACK, MODULES_DIR, AutoTLSServer, Site  # noqa: E402
from pebble import PebbleEnv, free_port  # noqa: E402

MOD_MD = MODULES_DIR / "mod_md.so"
DEFAULT_NS = (50, 200)
DEFAULT_ROUNDS = 3
KEY_TYPE_OURS = "ec256"  # AutoTLSKeyType's default, written out all the same
KEY_TYPE_MD = "secp256r1"
DOMAIN = "bench.test"
CONTACT = "bench@example.org"
LOG_LEVEL = "LogLevel info ssl:warn"  # the same for both: no debug logging in a timed run

BASE_TIMEOUT = 120.0  # seconds a run may take, plus PER_NAME_TIMEOUT per name
PER_NAME_TIMEOUT = 1.0
STALL_CHECK = 10.0  # seconds without progress before pebble's health is checked
POLL = 0.05  # seconds between two looks at the logs
SETTLE = 1.0  # seconds between "all served" and the memory snapshot
RUN_ATTEMPTS = 3  # a run that saw pebble hang is retried this often in all
KIB_PER_MIB = 1024.0

LIVE_RE = re.compile(r"autotls-031[12]: (\S+): (?:new )?certificate .*is live")
MD_SETUP_RE = re.compile(r"AH10059: The Managed Domain (\S+) has been setup")
PEBBLE_REQUEST_RE = re.compile(r" (?:GET|HEAD|POST) /(?!roots|intermediates|cert-status)\S* -> "
                               r"calling handler\(\)")

HANDSHAKE_SECONDS = 5.0  # length of one handshake or HTTP measurement
HANDSHAKE_MAX = 20000  # and its bound in count
LOAD_THREADS = 8
HTTP_SITES = 50  # vhosts of the HTTP req/s comparison
LOAD_TIMEOUT = 5.0  # socket timeout of one load connection
WARMUP = 200  # unmeasured calls before each measurement: children and their threads start


class PebbleHung(RuntimeError):
    pass


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, action="append",
                        help="names per run (repeatable; default %s)" % " ".join(
                            "--n %d" % n for n in DEFAULT_NS))
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS,
                        help="runs per module and N; figures are medians (default %d)"
                        % DEFAULT_ROUNDS)
    parser.add_argument("--mpm", default="event", choices=("event", "prefork"))
    parser.add_argument("--only", choices=("autotls", "md"), help="run one module only")
    parser.add_argument("--handshakes", action="store_true",
                        help="also: full handshakes/s, managed vhost vs static mod_ssl")
    parser.add_argument("--http", action="store_true",
                        help="also: plain HTTP req/s with our module loaded vs without")
    parser.add_argument("--http-ab", action="store_true",
                        help="with --http: load with ab (apache2-utils, C) instead of Python "
                             "threads, which cost more CPU than the server they measure")
    parser.add_argument("--load-seconds", type=float, default=HANDSHAKE_SECONDS)
    parser.add_argument("--load-threads", type=int, default=LOAD_THREADS)
    args = parser.parse_args(argv)
    args.n = args.n or list(DEFAULT_NS)
    if min(args.n) < 1 or args.rounds < 1:
        parser.error("need --n >= 1 and --rounds >= 1")
    return args


# --- the two servers ------------------------------------------------------------------------


class TimedServer(AutoTLSServer):
    """AutoTLSServer that times its `apache2 -k ...` commands and logs at LOG_LEVEL."""

    def __init__(self, *args, **kwargs):
        self.timings = {}
        super().__init__(*args, **kwargs)

    def apache2(self, *args, **kwargs):
        t0 = time.monotonic()
        proc = super().apache2(*args, **kwargs)
        self.timings.setdefault(" ".join(args), []).append(time.monotonic() - t0)
        return proc

    def config_text(self):
        return re.sub(r"^LogLevel .*$", LOG_LEVEL, super().config_text(), count=1, flags=re.M)


class OursServer(TimedServer):
    def config_text(self):
        return super().config_text().replace(
            "AutoTLS on\n", "AutoTLS on\nAutoTLSKeyType %s\nAutoTLSContact %s\n"
            % (KEY_TYPE_OURS, CONTACT), 1)


class ModMdServer(TimedServer):
    """The same server with mod_md instead of ours: each site a vhost on the plain port (where
    pebble's VA asks for http-01) and a `<VirtualHost ...:https_port>` with SSLEngine on and no
    certificate of its own, one MDomain per name."""

    def config_text(self):
        text = super().config_text()
        head, _, _ = text.partition("AutoTLS on\n")
        head = head.replace('LoadModule autotls_module "%s"\n' % self.module,
                            "LoadModule md_module %s\n" % MOD_MD)
        lines = [head.rstrip("\n"),
                 "Listen %s:%d https" % (LOOPBACK, self.https_port),
                 "MDCertificateAuthority %s" % self.ca_url,
                 "MDCertificateAgreement accepted",
                 'MDCACertificateFile "%s"' % self.pebble.ca_cert,
                 'MDStoreDir "%s"' % os.path.join(self.root, "md"),
                 "MDPrivateKeys %s" % KEY_TYPE_MD,
                 "MDContactEmail %s" % CONTACT,
                 # pebble's VA connects to the plain port: say that it is "port 80" to mod_md
                 "MDPortMap http:%d https:%d" % (self.http_port, self.https_port),
                 "MDCAChallenges http-01",
                 ""]
        lines += ["MDomain %s" % site.name for site in self.sites]
        lines.append("")
        for site in self.sites:
            for port, tls in ((self.http_port, False), (self.https_port, True)):
                lines.append("<VirtualHost %s:%d>" % (LOOPBACK, port))
                lines.append("    ServerName %s" % site.name)
                lines.append('    DocumentRoot "%s"' % self.docroot(site))
                if tls:
                    lines.append("    SSLEngine on")
                lines += ["</VirtualHost>", ""]
        return "\n".join(lines)


class PlainServer(TimedServer):
    """The same vhosts without our module; with `static` = (cert, key), each vhost also gets a
    twin on the HTTPS port with that certificate configured in mod_ssl."""

    def __init__(self, *args, static=None, **kwargs):
        self.static = static
        super().__init__(*args, **kwargs)

    def config_text(self):
        text = super().config_text()
        head, _, _ = text.partition("AutoTLS on\n")
        head = head.replace('LoadModule autotls_module "%s"\n' % self.module, "")
        lines = [head.rstrip("\n")]
        if self.static:
            lines.append("Listen %s:%d https" % (LOOPBACK, self.https_port))
        lines.append("")
        for site in self.sites:
            ports = [(self.http_port, False)]
            if self.static:
                ports.append((self.https_port, True))
            for port, tls in ports:
                lines.append("<VirtualHost %s:%d>" % (LOOPBACK, port))
                lines.append("    ServerName %s" % site.name)
                lines.append('    DocumentRoot "%s"' % self.docroot(site))
                lines.append('    ErrorDocument 404 "%s"' % site.not_found())
                if tls:
                    lines += ["    SSLEngine on",
                              '    SSLCertificateFile "%s"' % self.static[0],
                              '    SSLCertificateKeyFile "%s"' % self.static[1]]
                lines += ["</VirtualHost>", ""]
        return "\n".join(lines)


# --- one issuance run -----------------------------------------------------------------------


class LogFollower:
    """The lines appended to a file since the last call (complete lines only)."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.partial = ""

    def new_lines(self):
        try:
            with open(self.path, errors="replace") as f:
                f.seek(self.offset)
                text = f.read()
                self.offset = f.tell()
        except FileNotFoundError:
            return []
        text = self.partial + text
        lines = text.split("\n")
        self.partial = lines.pop()
        return lines


def verified(server, name):
    try:
        return "Pebble" in server.served_cert(name, verify=True).issuer
    except (OSError, ssl.SSLError):
        return False


def stall_check(pebble, last_progress):
    """Raises PebbleHung when nothing moved for STALL_CHECK seconds and pebble hangs."""
    if time.monotonic() - last_progress > STALL_CHECK:
        if not pebble.healthy():
            raise PebbleHung("pebble stopped answering signed requests")
        return time.monotonic()
    return last_progress


def one_run(kind, n, rnd, pebble, mpm):
    """Issues n certificates with one module; returns a dict of figures."""
    prefix = "%s-r%d-n%d" % ("a" if kind == "autotls" else "m", rnd, n)
    sites = [Site("%s-%d.%s" % (prefix, i, DOMAIN)) for i in range(n)]
    cls = OursServer if kind == "autotls" else ModMdServer
    server = cls(sites, pebble=pebble, mpm=mpm)
    names = [s.name for s in sites]
    follower = LogFollower(server.error_log_path)
    timeout = BASE_TIMEOUT + PER_NAME_TIMEOUT * n
    ca_log = LogFollower(pebble.pebble_log)
    ca_log.new_lines()  # from here on
    res = {"graceful": 0.0}
    server.start()
    t0 = server.started_at
    res["start"] = server.timings["-k start"][0]
    try:
        ready = set()  # names the log says are ready to be checked
        pending = set(names)
        last_progress = time.monotonic()
        graceful_done = kind == "autotls"
        while pending:
            now = time.monotonic()
            if now - t0 > timeout:
                raise RuntimeError("%s n=%d: %d of %d not served within %.0f s\n%s"
                                   % (kind, n, len(pending), n, timeout, server.log_tail()))
            for line in follower.new_lines():
                m = (LIVE_RE if kind == "autotls" else MD_SETUP_RE).search(line)
                if m and m.group(1) in pending and m.group(1) not in ready:
                    ready.add(m.group(1))
                    last_progress = time.monotonic()
            if not graceful_done and len(ready) == n:
                res["obtained"] = time.monotonic() - t0
                g0 = time.monotonic()
                server.graceful()
                res["graceful"] = time.monotonic() - g0
                graceful_done = True
            if graceful_done:
                for name in sorted(ready & pending):
                    if verified(server, name):
                        pending.discard(name)
                        last_progress = time.monotonic()
            last_progress = stall_check(pebble, last_progress)
            if pending:
                time.sleep(POLL)
        res["served"] = time.monotonic() - t0
        res["requests"] = sum(1 for line in ca_log.new_lines()
                              if PEBBLE_REQUEST_RE.search(line)) / float(n)
        time.sleep(SETTLE)
        snap = procmem.snapshot(server.pid)
        res["rss"] = procmem.total(snap) / KIB_PER_MIB
        res["pss"] = procmem.total(snap, "pss_kib") / KIB_PER_MIB
        res["procs"] = len(snap)
        res["server"] = server
        return res
    finally:
        server.stop()
        if "server" not in res:
            shutil.rmtree(server.root, ignore_errors=True)


def ensure_healthy(pebble):
    if not pebble.healthy():
        print("  pebble hangs: restarting it", flush=True)
        pebble.restart()


def run_with_retries(kind, n, rnd, pebble, mpm):
    for attempt in range(RUN_ATTEMPTS):
        ensure_healthy(pebble)
        try:
            return one_run(kind, n, rnd * RUN_ATTEMPTS + attempt, pebble, mpm)
        except PebbleHung as e:
            print("  %s n=%d round %d: %s; run again" % (kind, n, rnd + 1, e), flush=True)
    raise RuntimeError("pebble hung %d times in a row" % RUN_ATTEMPTS)


# --- load generators ------------------------------------------------------------------------


def load(one, seconds, max_count, threads, warmup=WARMUP, counts=None):
    """Calls one() from `threads` threads until `seconds` pass or max_count calls are made,
    after `warmup` unmeasured calls; returns (successful calls per second, failures). counts, a
    dict, receives "ok" and "fail" as well."""
    lock = threading.Lock()
    counts = counts if counts is not None else {}
    counts.update({"ok": 0, "fail": 0, "issued": 0})

    def worker():
        while time.monotonic() < deadline:
            with lock:
                if counts["issued"] >= max_count:
                    return
                counts["issued"] += 1
            try:
                one()
                key = "ok"
            except (OSError, ssl.SSLError):
                key = "fail"
            with lock:
                counts[key] += 1

    for _ in range(warmup):
        try:
            one()
        except (OSError, ssl.SSLError):
            pass
    deadline = time.monotonic() + seconds
    t0 = time.monotonic()
    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(seconds + LOAD_TIMEOUT * 2)
    return counts["ok"] / (time.monotonic() - t0), counts["fail"]


def handshake_fn(port, name, ctx):
    def one():
        with socket.create_connection((LOOPBACK, port), timeout=LOAD_TIMEOUT) as sock:
            with ctx.wrap_socket(sock, server_hostname=name):
                pass  # a full handshake: no session is offered
    return one


def http_fn(port, names):
    request = [("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % name).encode()
               for name in names]
    counter = iter(range(1 << 62))

    def one():
        req = request[next(counter) % len(request)]
        with socket.create_connection((LOOPBACK, port), timeout=LOAD_TIMEOUT) as sock:
            sock.sendall(req)
            data = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
            if not data.startswith(b"HTTP/1.1 200"):
                raise OSError("unexpected answer %r" % data[:40])
    return one


def handshake_bench(ours, args):
    """Handshakes/s of one managed vhost of the finished run `ours` against the same
    certificate in a static mod_ssl vhost; returns (managed median, static median)."""
    site = ours.sites[0]
    tmp = os.path.join(ours.root, "static")
    os.makedirs(tmp, exist_ok=True)
    live = os.path.join(ours.store, "live", site.name)
    cert, key = os.path.join(tmp, "fullchain.pem"), os.path.join(tmp, "privkey.pem")
    shutil.copy(os.path.join(live, "fullchain.pem"), cert)
    shutil.copy(os.path.join(live, "privkey.pem"), key)
    os.chmod(key, 0o600)
    ctx = ssl.create_default_context(cafile=ours.trust_file)
    out = {"managed": [], "static": []}
    for rnd in range(args.rounds):
        order = ("managed", "static") if rnd % 2 == 0 else ("static", "managed")
        for which in order:
            if which == "managed":
                server = OursServer(ours.sites, pebble=ours.pebble, ca_url=ours.ca_url,
                                    mpm=args.mpm, root=ours.root, http_port=ours.http_port,
                                    https_port=ours.https_port)
            else:
                server = PlainServer(ours.sites, pebble=ours.pebble, mpm=args.mpm,
                                     static=(cert, key), http_port=ours.http_port,
                                     https_port=ours.https_port)
            server.start()
            try:
                server.wait_until_served(site.name)
                rate, fails = load(handshake_fn(server.https_port, site.name, ctx),
                                   args.load_seconds, HANDSHAKE_MAX, args.load_threads)
            finally:
                server.stop()
                if which == "static":
                    shutil.rmtree(server.root, ignore_errors=True)
            out[which].append(rate)
            print("  handshakes round %d %-7s %7.0f/s (%d failed)" % (rnd + 1, which, rate, fails),
                  flush=True)
    return statistics.median(out["managed"]), statistics.median(out["static"])


AB = "/usr/bin/ab"
AB_WARMUP = 500
AB_RATE_RE = re.compile(r"^Requests per second:\s+([0-9.]+)", re.M)
AB_FAILED_RE = re.compile(r"^Failed requests:\s+([0-9]+)", re.M)
AB_NON2XX_RE = re.compile(r"^Non-2xx responses:\s+([0-9]+)", re.M)


def ab_load(port, name, seconds, max_count, concurrency):
    """ab's req/s for GET / on name (no keep-alive: one connection per request, as http_fn),
    bounded by max_count requests and `seconds`; (rate, failed or non-2xx)."""
    def run(count, limit):
        # -t first: it implies -n 50000, which the -n after it overrides
        proc = subprocess.run([AB, "-q", "-t", str(max(1, int(limit))), "-n", str(count),
                               "-c", str(concurrency), "-H", "Host: %s" % name,
                               "http://%s:%d/" % (LOOPBACK, port)],
                              capture_output=True, text=True, timeout=limit + LOAD_TIMEOUT * 4,
                              check=False)
        rate = AB_RATE_RE.search(proc.stdout)
        if proc.returncode != 0 or rate is None:
            raise RuntimeError("ab failed: %s%s" % (proc.stdout[-500:], proc.stderr[-500:]))
        failed = sum(int(m.group(1)) for m in (AB_FAILED_RE.search(proc.stdout),
                                                AB_NON2XX_RE.search(proc.stdout)) if m)
        return float(rate.group(1)), failed

    run(AB_WARMUP, seconds)  # children and their threads start
    return run(max_count, seconds)


def http_bench(args):
    """Plain HTTP req/s, our module loaded (CA unreachable) vs not; returns (with, without)."""
    sites = [Site("h-%d.%s" % (i, DOMAIN)) for i in range(HTTP_SITES)]
    names = [s.name for s in sites]
    dead_ca = "https://%s:%d/dir" % (LOOPBACK, free_port())
    out = {"with": [], "without": []}
    for rnd in range(args.rounds):
        order = ("with", "without") if rnd % 2 == 0 else ("without", "with")
        for which in order:
            cls = OursServer if which == "with" else PlainServer
            server = cls(sites, ca_url=dead_ca, mpm=args.mpm)
            server.start()
            try:
                if args.http_ab:
                    rate, fails = ab_load(server.http_port, names[0], args.load_seconds,
                                          HANDSHAKE_MAX, args.load_threads)
                else:
                    rate, fails = load(http_fn(server.http_port, names), args.load_seconds,
                                       HANDSHAKE_MAX, args.load_threads)
            finally:
                server.stop()
                shutil.rmtree(server.root, ignore_errors=True)
            out[which].append(rate)
            print("  http round %d module %-7s %7.0f req/s (%d failed)"
                  % (rnd + 1, which, rate, fails), flush=True)
    return statistics.median(out["with"]), statistics.median(out["without"])


# --- report ---------------------------------------------------------------------------------


FIGURES = (  # key, label, format
    ("served", "start -> all served (s)", "%.2f"),
    ("obtained", "  of which: all obtained (s)", "%.2f"),
    ("graceful", "  of which: graceful (s)", "%.2f"),
    ("requests", "CA requests per certificate", "%.1f"),
    ("start", "`apache2 -k start` (s)", "%.3f"),
    ("rss", "RSS, all processes (MiB)", "%.1f"),
    ("pss", "PSS, all processes (MiB)", "%.1f"),
)


def median_of(runs, key):
    values = [r[key] for r in runs if key in r]
    return statistics.median(values) if values else None


def fmt(spec, value):
    return "-" if value is None else spec % value


def report(results, rounds):
    print("\nmedians of %d rounds (mod_autotls / mod_md; < 1 is better for ours):" % rounds)
    print("\n| N | figure | mod_autotls | mod_md | ratio |")
    print("|---|---|---|---|---|")
    for n in sorted(results):
        for key, label, spec in FIGURES:
            ours = median_of(results[n]["autotls"], key)
            md = median_of(results[n]["md"], key)
            if key in ("obtained", "graceful"):  # ours needs no graceful
                ours = None
            ratio = "%.2f" % (ours / md) if ours is not None and md else "-"
            print("| %d | %s | %s | %s | %s |" % (n, label, fmt(spec, ours), fmt(spec, md), ratio))


def machine_facts():
    with open("/proc/loadavg") as f:
        load_avg = " ".join(f.read().split()[:3])
    commit = subprocess.run(["git", "-C", str(HERE.parent), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    source = subprocess.run(["git", "-C", str(HERE.parent), "log", "-1", "--format=%h", "--",
                             "mod_autotls", "include"], capture_output=True, text=True)
    source = source.stdout.strip()
    dirty = subprocess.run(["git", "-C", str(HERE.parent), "status", "--porcelain", "--",
                            "mod_autotls", "include"], capture_output=True, text=True).stdout
    return ("commit %s (module sources last changed in %s)%s, %d cores, load average %s, "
            "module %s" % (commit or "?", source or "?",
                           " (+local changes)" if dirty.strip() else "", os.cpu_count(),
                           load_avg, httpd.module_path()))


def main(argv):
    args = parse_args(argv)
    for path in (httpd.module_path(), MOD_MD):
        if not pathlib.Path(path).is_file():
            sys.exit("missing %s" % path)
    print("vs_modmd: %s" % machine_facts(), flush=True)
    kinds = ("autotls", "md") if args.only is None else (args.only,)
    results = {}
    last_ours = None
    with PebbleEnv(http01_port=free_port()) as pebble:
        for n in args.n:
            results[n] = {"autotls": [], "md": []}
            for rnd in range(args.rounds):
                order = kinds if rnd % 2 == 0 else tuple(reversed(kinds))
                for kind in order:
                    res = run_with_retries(kind, n, rnd, pebble, args.mpm)
                    server = res.pop("server")
                    if kind == "autotls" and args.handshakes:
                        if last_ours is not None:
                            shutil.rmtree(last_ours.root, ignore_errors=True)
                        last_ours = server
                    else:
                        shutil.rmtree(server.root, ignore_errors=True)
                    results[n][kind].append(res)
                    print("n=%-5d round %d %-7s served %7.2f s%s, %.1f CA req/cert, start "
                          "%.3f s, RSS %.1f MiB, PSS %.1f MiB (%d procs)"
                          % (n, rnd + 1, kind, res["served"],
                             " (obtained %.2f + graceful %.2f)" % (res["obtained"],
                                                                  res["graceful"])
                             if "obtained" in res else "", res["requests"], res["start"],
                             res["rss"], res["pss"], res["procs"]), flush=True)
        report(results, args.rounds)
        if args.handshakes and last_ours is not None:
            print("\nfull handshakes/s, one managed vhost vs the same certificate static "
                  "(%d threads, %.0f s each):" % (args.load_threads, args.load_seconds),
                  flush=True)
            ensure_healthy(pebble)
            managed, static = handshake_bench(last_ours, args)
            shutil.rmtree(last_ours.root, ignore_errors=True)
            print("| handshakes/s | managed %.0f | static %.0f | ratio %.3f |"
                  % (managed, static, managed / static))
    if args.http:
        print("\nplain HTTP req/s, %d vhosts, module loaded vs not (%d threads, %.0f s each):"
              % (HTTP_SITES, args.load_threads, args.load_seconds), flush=True)
        with_mod, without = http_bench(args)
        print("| HTTP req/s | with module %.0f | without %.0f | ratio %.3f |"
              % (with_mod, without, with_mod / without))
    print("vs_modmd: done; %s" % machine_facts())
    return 0


if __name__ == "__main__":
    # SIGTERM ends the run through the finally clauses: no server is left behind
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if os.geteuid() != 0:
        sys.exit("run as root: the parent must be root and the children www-data")
    sys.exit(main(sys.argv[1:]))
