#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Start-up cost and memory at thousands of vhosts: mod_autotls against the same vhosts by hand.

The one idea to hold: every variant serves the same N name-based vhosts on the same machine in
one run, so the printed ratios compare like with like. "static" is what an admin writes by hand:
each <VirtualHost :80> with a :443 twin, SSLEngine on and one wildcard certificate for all names
in mod_ssl. "ours" is the same :80 vhosts with `AutoTLS on` and AutoTLSCA on a closed loopback
port (the CA is unreachable: nothing is issued, start-up is all that is measured). A second
module (--baseline, e.g. a build of an earlier commit) runs as a third variant, "base".

For each variant, in a fresh ServerRoot:
  - cold start: `apache2 -k start` (the command's own time), then until a TLS handshake with SNI
    succeeds for each name of a sample spread over the N ("HTTPS answering");
  - RSS and Pss of all processes (tests/integration/procmem.py) after those handshakes;
  - a graceful restart: from `-k graceful` until the log says the new generation resumed and the
    sample answers again;
  - a stop, then a warm start on the same store (stored placeholders or live sets reused, and
    the verdicts the first parent wrote to verdicts.json: a new parent checks no unchanged set).
  - the error log's lines at warn and above, counted per module (a per-vhost warning shows as N).
With --live every site of "ours"/"base" starts with a live set on disk (one wildcard set copied
N times, signed by a bench CA): all of them are published into the slots, which is the case
where a child that parses every set at child_init pays for all N.

Run as root (the parent must be root, the children www-data), from a build:
    AUTOTLS_BUILD=$PWD/build /usr/bin/python3 bench/startup_10k.py --n 2000 \\
        --baseline /tmp/base/mod_autotls.so [--live] [--rounds 1]
Standard library only, plus the integration test helpers and the openssl command.
"""

import argparse
import os
import pathlib
import re
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))

import httpd  # noqa: E402
import procmem  # noqa: E402
from pebble import free_port  # noqa: E402

DOMAIN = "bench.test"
WWW_USER = "www-data"
SAMPLE = 20  # names handshaken to call HTTPS "answering"
CONNECT_TIMEOUT = 5.0
ANSWER_TIMEOUT = 900.0  # seconds for a start or graceful at 10,000 vhosts on a busy machine
RUN_TIMEOUT = 900.0  # one apache2 invocation
STOP_TIMEOUT = 120.0
POLL = 0.05
OPENSSL_TIMEOUT = 60
CERT_DAYS = 30
# A live file changed less than a second before a check is not remembered (AT_VERDICT_RACY): the
# sets are left this long after they are copied in, as sets the activator promoted are at a start.
LIVE_SETTLE = 1.5
KIB_PER_MIB = 1024.0
RESUMING = "resuming normal operations"
LOG_LEVEL_RE = re.compile(r"^\[[^\]]+\] \[([a-z_0-9]+):(warn|error|crit|alert|emerg)\]")

MODULES = (
    ("mpm_event_module", "mod_mpm_event.so"),
    ("authz_core_module", "mod_authz_core.so"),
    ("mime_module", "mod_mime.so"),
    ("dir_module", "mod_dir.so"),
    ("socache_shmcb_module", "mod_socache_shmcb.so"),
    ("ssl_module", "mod_ssl.so"),
)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="vhosts (default 2000)")
    parser.add_argument("--module", default=None, help="our module (default: the build's)")
    parser.add_argument("--baseline", default=None, help="a second mod_autotls.so ('base')")
    parser.add_argument("--live", action="store_true",
                        help="every managed site starts with a live set on disk")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--only", default=None, help="comma-separated variants to run")
    parser.add_argument("--keep", action="store_true", help="keep the ServerRoots")
    parser.add_argument("--detail", action="store_true",
                        help="print RSS and Pss per process after the cold start")
    args = parser.parse_args(argv)
    if args.n < 1 or args.rounds < 1:
        parser.error("need n >= 1 and rounds >= 1")
    return args


def names(n):
    width = len(str(n))
    return ["s%0*d.%s" % (width, i, DOMAIN) for i in range(n)]


def sample(all_names):
    step = max(1, len(all_names) // SAMPLE)
    return all_names[::step][:SAMPLE]


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, timeout=OPENSSL_TIMEOUT,
                   check=True)


def make_pki(d):
    """A bench CA and a P-256 leaf for *.bench.test signed by it, in directory d."""
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-days", str(CERT_DAYS), "-subj",
            "/CN=startup bench CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign", cwd=d)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
            "leaf.key", "-out", "leaf.csr", "-subj", "/CN=*." + DOMAIN, cwd=d)
    with open(os.path.join(d, "leaf.ext"), "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:*.%s\n" % DOMAIN)
    openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-set_serial", "4242", "-days", str(CERT_DAYS), "-extfile", "leaf.ext", "-out",
            "leaf.pem", cwd=d)
    with open(os.path.join(d, "fullchain.pem"), "w") as out:
        for part in ("leaf.pem", "ca.pem"):
            out.write(pathlib.Path(d, part).read_text())
    return {"key": os.path.join(d, "leaf.key"), "chain": os.path.join(d, "fullchain.pem")}


def install_live_sets(store, all_names, pki):
    """live/<name>/ as the activator leaves it (root-owned, 0700 directory, 0600 key)."""
    live = os.path.join(store, "live")
    os.makedirs(live, mode=0o700)
    os.chmod(store, 0o755)
    os.chmod(live, 0o700)
    key, chain = pathlib.Path(pki["key"]).read_bytes(), pathlib.Path(pki["chain"]).read_bytes()
    for name in all_names:
        d = os.path.join(live, name)
        os.mkdir(d, 0o700)
        for item, data, mode in (("privkey.pem", key, 0o600), ("fullchain.pem", chain, 0o644)):
            path = os.path.join(d, item)
            with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "wb") as f:
                f.write(data)


def config(root, variant, module, all_names, http_port, https_port, ca_port, pki):
    lines = ['ServerRoot "%s"' % root]
    lines += ["LoadModule %s %s" % (n, httpd.MODULES_DIR / so) for n, so in MODULES]
    if variant != "static":
        lines.append('LoadModule autotls_module "%s"' % module)
    lines += [
        "User %s" % WWW_USER, "Group %s" % WWW_USER,
        "ServerName localhost",
        "Listen 127.0.0.1:%d" % http_port,
        'DefaultRuntimeDir "%s/run"' % root,
        'PidFile "%s/httpd.pid"' % root,
        'ErrorLog "%s/error.log"' % root,
        "LogLevel warn",
        "TypesConfig /etc/mime.types",
        "DirectoryIndex index.html",
        'SSLSessionCache "shmcb:%s/run/ssl_scache(512000)"' % root,
        '<Directory "%s/www">' % root, "    Require all granted", "</Directory>",
    ]
    if variant == "static":
        lines.append("Listen 127.0.0.1:%d https" % https_port)
    else:
        lines += ["AutoTLS on",
                  "AutoTLSCA https://127.0.0.1:%d/directory" % ca_port,
                  "AutoTLSHTTPSPort %d" % https_port,
                  'AutoTLSStore "%s/store"' % root]
    vhost = ("<VirtualHost 127.0.0.1:{port}>\n    ServerName {name}\n"
             '    DocumentRoot "{root}/www"\n{extra}</VirtualHost>\n')
    tls = ('    SSLEngine on\n    SSLCertificateFile "%s"\n    SSLCertificateKeyFile "%s"\n'
           % (pki["chain"], pki["key"]))
    for name in all_names:
        lines.append(vhost.format(port=http_port, name=name, root=root, extra=""))
        if variant == "static":
            lines.append(vhost.format(port=https_port, name=name, root=root, extra=tls))
    path = os.path.join(root, "httpd.conf")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


class Server:
    def __init__(self, variant, module, all_names, pki, live):
        self.variant = variant
        self.root = tempfile.mkdtemp(prefix="autotls-startup-%s-" % variant)
        os.chmod(self.root, 0o755)
        for d in ("run", "www"):
            os.makedirs(os.path.join(self.root, d), mode=0o755)
        pathlib.Path(self.root, "www", "index.html").write_text("bench\n")
        self.names = all_names
        self.https_port = free_port()
        self.conf = config(self.root, variant, module, all_names, free_port(), self.https_port,
                           free_port(), pki)
        if live and variant != "static":
            install_live_sets(os.path.join(self.root, "store"), all_names, pki)
            time.sleep(LIVE_SETTLE)
        self.ctx = ssl.create_default_context()
        self.ctx.check_hostname = False
        self.ctx.verify_mode = ssl.CERT_NONE

    def apache2(self, *args):
        t = time.monotonic()
        proc = httpd.run_httpd(self.conf, *args, timeout=RUN_TIMEOUT)
        if proc.returncode != 0:
            raise RuntimeError("%s: apache2 %s failed: %s%s\n%s" % (
                self.variant, " ".join(args), proc.stdout, proc.stderr, self.log()[-3000:]))
        return time.monotonic() - t

    def log(self):
        try:
            return pathlib.Path(self.root, "error.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def pid(self):
        try:
            return int(pathlib.Path(self.root, "httpd.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def answers(self, name):
        try:
            with socket.create_connection(("127.0.0.1", self.https_port),
                                          timeout=CONNECT_TIMEOUT) as raw:
                with self.ctx.wrap_socket(raw, server_hostname=name):
                    return True
        except (OSError, ssl.SSLError):
            return False

    def wait_answering(self, since, resumed_before=None):
        """Seconds from since until every sample name answers (and, for a graceful, the log
        says the new generation resumed)."""
        pending = list(sample(self.names))
        deadline = since + ANSWER_TIMEOUT
        while pending or (resumed_before is not None
                          and self.log().count(RESUMING) <= resumed_before):
            if time.monotonic() > deadline:
                raise RuntimeError("%s: HTTPS not answering within %.0f s\n%s" % (
                    self.variant, ANSWER_TIMEOUT, self.log()[-3000:]))
            if resumed_before is not None and self.log().count(RESUMING) <= resumed_before:
                time.sleep(POLL)
                continue
            pending = [n for n in pending if not self.answers(n)]
            if pending:
                time.sleep(POLL)
        return time.monotonic() - since

    def start(self):
        t0 = time.monotonic()
        cmd = self.apache2("-k", "start")
        return cmd, self.wait_answering(t0)

    def graceful(self):
        before = self.log().count(RESUMING)
        t0 = time.monotonic()
        self.apache2("-k", "graceful")
        return self.wait_answering(t0, resumed_before=before)

    def stop(self):
        pid = self.pid()
        try:
            self.apache2("-k", "stop")
        except RuntimeError:
            pass
        deadline = time.monotonic() + STOP_TIMEOUT
        while pid and os.path.exists("/proc/%d" % pid) and time.monotonic() < deadline:
            time.sleep(POLL)

    def warnings(self):
        counts = {}
        for line in self.log().splitlines():
            m = LOG_LEVEL_RE.match(line)
            if m:
                key = "%s:%s" % m.groups()
                counts[key] = counts.get(key, 0) + 1
        return counts


def one_round(variant, module, all_names, pki, live, keep, detail=False):
    srv = Server(variant, module, all_names, pki, live)
    res = {}
    try:
        res["start_cmd"], res["https"] = srv.start()
        snap = procmem.snapshot(srv.pid())
        res["rss"] = procmem.total(snap) / KIB_PER_MIB
        res["pss"] = procmem.total(snap, "pss_kib") / KIB_PER_MIB
        res["procs"] = len(snap)
        if detail:
            print(procmem.describe(snap), flush=True)
        res["graceful"] = srv.graceful()
        srv.stop()
        res["warm_cmd"], res["warm_https"] = srv.start()
        res["warnings"] = srv.warnings()
    finally:
        srv.stop()
        if not keep:
            shutil.rmtree(srv.root, ignore_errors=True)
        else:
            print("  kept %s" % srv.root)
    return res


FIELDS = (("start_cmd", "-k start (cold), s"), ("https", "start -> HTTPS answering (cold), s"),
          ("graceful", "graceful -> answering, s"), ("warm_cmd", "-k start (warm), s"),
          ("warm_https", "start -> HTTPS answering (warm), s"), ("rss", "RSS all processes, MiB"),
          ("pss", "Pss all processes, MiB"))


def main(argv):
    args = parse_args(argv)
    all_names = names(args.n)
    variants = [("static", None), ("ours", str(args.module or httpd.module_path()))]
    if args.baseline:
        variants.append(("base", args.baseline))
    if args.only:
        keep = set(args.only.split(","))
        variants = [v for v in variants if v[0] in keep]
    pki_dir = tempfile.mkdtemp(prefix="autotls-startup-pki-")
    os.chmod(pki_dir, 0o755)
    pki = make_pki(pki_dir)
    os.chmod(pki["key"], 0o600)
    results = {v: [] for v, _ in variants}
    print("N = %d vhosts, %s, load %s" % (args.n, "live sets" if args.live else "no live sets",
                                          " ".join("%.2f" % x for x in os.getloadavg())))
    try:
        for r in range(args.rounds):
            for variant, module in variants:
                res = one_round(variant, module, all_names, pki, args.live, args.keep,
                                args.detail)
                results[variant].append(res)
                print("round %d %-6s " % (r + 1, variant) + "  ".join(
                    "%s %.2f" % (k, res[k]) for k, _ in FIELDS) + "  procs %d" % res["procs"],
                    flush=True)
                print("       warn+ lines by module: %s" % (res["warnings"] or "none"))
    finally:
        shutil.rmtree(pki_dir, ignore_errors=True)
    med = {v: {k: statistics.median(r[k] for r in rs) for k, _ in FIELDS}
           for v, rs in results.items()}
    names_ = [v for v, _ in variants]
    print("\nmedians over %d round(s)%s:" % (args.rounds, "" if "static" not in med
                                            else "; ratio = variant / static"))
    print("  %-38s" % "" + "".join("%12s" % v for v in names_)
          + "".join("%14s" % ("%s/static" % v) for v in names_ if v != "static" and
                    "static" in med))
    for k, label in FIELDS:
        row = "  %-38s" % label + "".join("%12.2f" % med[v][k] for v in names_)
        if "static" in med:
            row += "".join("%14.2f" % (med[v][k] / med["static"][k] if med["static"][k] else 0)
                           for v in names_ if v != "static")
        print(row)
    return 0


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("run as root: the parent must be root and the children www-data")
    sys.exit(main(sys.argv[1:]))
