#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""What the renewal process costs: time to the first certificates and memory, against a baseline.

The one idea to hold: two builds of mod_autotls run side by side in one run, on the same pebble
and the same machine, in alternating rounds (baseline, candidate, baseline, ...), so that the
ratios printed at the end compare like with like on a shared, noisy machine. Each round starts
a fresh server with N sites and an empty store and measures:
  - start -> every site served a CA-issued certificate (a TLS handshake per site, polled);
  - memory once all are served, per process (VmRSS and Pss, tests/integration/procmem.py): the
    whole server, and the process that runs the ACME client (the renewal process of today's
    design; for a baseline with the renewal thread in a child, the child that staged the sets).

Run as root, with the candidate build in AUTOTLS_BUILD and a baseline module (e.g. a build of
an earlier commit):
    AUTOTLS_BUILD=build /usr/bin/python3 bench/process_cost.py \\
        --baseline /tmp/old/build/mod_autotls/.libs/mod_autotls.so --sites 20 --rounds 3
Standard library only, plus the integration test helpers.
"""

import argparse
import os
import pathlib
import re
import statistics
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))

import httpd  # noqa: E402
import procmem  # noqa: E402
from autotls_server import AutoTLSServer, Site  # noqa: E402
from pebble import PebbleEnv, free_port  # noqa: E402

ISSUER = "Pebble"
SERVED_TIMEOUT = 120.0  # seconds for all first certificates
POLL = 0.05  # seconds between two rounds of handshakes
KIB_PER_MIB = 1024.0
RENEW_COMM = "autotls-renew"  # AUTOTLS_RENEW_TITLE in mod_autotls/renew.c
STAGED_PID_RE = re.compile(r"\[pid (\d+):tid \d+\] autotls-\d+: \S+: new certificate staged")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", required=True, help="mod_autotls.so to compare against")
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3, help="rounds per build")
    parser.add_argument("--mpm", default="event", choices=("event", "prefork"))
    args = parser.parse_args(argv)
    if args.sites < 1 or args.rounds < 1:
        parser.error("need sites >= 1 and rounds >= 1")
    return args


def acme_client_pid(server, snap):
    """The process running the ACME client: the renewal process, else the child that staged."""
    for pid in snap:
        try:
            with open("/proc/%d/comm" % pid) as f:
                if f.read().strip() == RENEW_COMM:
                    return pid
        except OSError:
            continue
    pids = STAGED_PID_RE.findall(server.error_log())
    return int(pids[-1]) if pids else None


def served_all(server, sites):
    for site in sites:
        try:
            if ISSUER not in server.served_cert(site.name).issuer:
                return False
        except OSError:
            return False
    return True


def one_round(pebble, module, sites, mpm):
    """(seconds to all served, total RSS KiB, total Pss KiB, ACME client RSS KiB)."""
    server = AutoTLSServer(sites, pebble=pebble, module=module, mpm=mpm)
    start = time.monotonic()
    server.start()
    try:
        deadline = start + SERVED_TIMEOUT
        while not served_all(server, sites):
            if time.monotonic() > deadline:
                raise RuntimeError("not all served within %.0f s\n%s"
                                   % (SERVED_TIMEOUT, server.log_tail()))
            time.sleep(POLL)
        elapsed = time.monotonic() - start
        snap = procmem.snapshot(server.parent_pid())
        client = acme_client_pid(server, snap)
        return (elapsed, procmem.total(snap), procmem.total(snap, "pss_kib"),
                snap[client].rss_kib if client in snap else 0)
    finally:
        server.stop()


def main(argv):
    args = parse_args(argv)
    candidate = str(httpd.module_path())
    builds = (("baseline", args.baseline), ("candidate", candidate))
    results = {name: [] for name, _ in builds}
    with PebbleEnv(http01_port=free_port()) as pebble:
        for r in range(args.rounds):
            for name, module in builds:
                sites = [Site("r%d-%s-%d.cost.test" % (r, name, i)) for i in range(args.sites)]
                res = one_round(pebble, module, sites, args.mpm)
                results[name].append(res)
                print("round %d %-9s %d sites served in %6.2f s; RSS %7.1f MiB, Pss %7.1f MiB; "
                      "ACME client RSS %6.1f MiB" % (r + 1, name, args.sites, res[0],
                                                    res[1] / KIB_PER_MIB, res[2] / KIB_PER_MIB,
                                                    res[3] / KIB_PER_MIB), flush=True)
    med = {name: [statistics.median(v[i] for v in vals) for i in range(4)]
           for name, vals in results.items()}
    labels = ("time to all served", "total RSS", "total Pss", "ACME client RSS")
    print("medians over %d rounds, candidate / baseline:" % args.rounds)
    for i, label in enumerate(labels):
        base, cand = med["baseline"][i], med["candidate"][i]
        print("  %-20s %10.2f / %10.2f = %.2f" % (label, cand if i == 0 else cand / KIB_PER_MIB,
                                                 base if i == 0 else base / KIB_PER_MIB,
                                                 cand / base if base else float("nan")))
    return 0


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("run as root: the parent must be root and the children www-data")
    sys.exit(main(sys.argv[1:]))
