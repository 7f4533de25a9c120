#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""RSS of a running httpd + mod_autotls over N forced renewals: does memory stay flat?

The one idea to hold: the renewals are real (pebble issues short-lived certificates, the policy
makes each one due a tenth of its lifetime after it starts, the renewal thread orders, the root
activator validates and publishes, the children load the new set at their next handshake), and
memory is the kernel's figure per process (VmRSS and Pss, tests/integration/procmem.py), printed
at every checkpoint. The last lines give end/start ratios measured in this same run; start is
after a warm-up (HTTPS requests in parallel, so that every child's worker threads have served
TLS, then a few renewals), so that what grows afterwards is what renewals leave behind.

Run as root from a build (the children run as www-data):
    AUTOTLS_BUILD=/path/to/build /usr/bin/python3 bench/rss_renewals.py [--renewals 1000]
Standard library only, plus the integration test helpers (pebble.py, autotls_server.py,
procmem.py).
"""

import argparse
import concurrent.futures
import os
import pathlib
import re
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))

import procmem  # noqa: E402
from autotls_server import AutoTLSServer, Site  # noqa: E402
from pebble import PebbleEnv, free_port  # noqa: E402

ISSUER = "Pebble"
SERVED_TIMEOUT = 60.0  # seconds for the first certificates
SAMPLE_INTERVAL = 0.2  # seconds between two rounds of handshakes (one per site)
RENEW_WINDOW = "99%"  # due as early as the policy allows (the directive takes 1..99 %)
SECONDS_PER_RENEWAL_MAX = 2.0  # per site: give up when renewals are this much slower
KIB_PER_MIB = 1024.0
STAGED_PID_RE = re.compile(r"\[pid (\d+):tid \d+\] autotls-\d+: \S+: new certificate staged")
RENEWAL_CHILD = "renewal"  # the role shown for the child running the renewal thread


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--renewals", type=int, default=1000, help="renewals that go live")
    parser.add_argument("--sites", type=int, default=8, help="managed vhosts")
    parser.add_argument("--checkpoint", type=int, default=100, help="print memory every N")
    parser.add_argument("--warmup", type=int, default=20, help="renewals before the start figure")
    parser.add_argument("--warm-requests", type=int, default=1000,
                        help="HTTPS requests sent before the warm-up renewals (0: none)")
    parser.add_argument("--warm-parallel", type=int, default=64, help="of them at a time")
    parser.add_argument("--validity", type=int, default=10, help="pebble certificate seconds")
    parser.add_argument("--mpm", default="event", choices=("event", "prefork"))
    args = parser.parse_args(argv)
    if args.renewals < args.warmup or args.checkpoint < 1 or args.sites < 1:
        parser.error("need renewals >= warmup, checkpoint >= 1, sites >= 1")
    return args


def renewals(events):
    """Renewals that went live: every "is live" line after a site's first."""
    return len(events) - len({e.site for e in events})


def snapshot(server, parent):
    """procmem.snapshot with the child that stages sets (its log lines say) shown as such."""
    snap = procmem.snapshot(parent)
    pids = STAGED_PID_RE.findall(server.error_log())
    renewal_pid = int(pids[-1]) if pids else None
    if renewal_pid in snap:
        snap[renewal_pid] = snap[renewal_pid]._replace(role=RENEWAL_CHILD)
    return snap


def line(label, done, elapsed, snap):
    print("%-5s renewal %5d at %7.1f s: RSS %7.1f MiB  Pss %7.1f MiB  (%d processes)"
          % (label, done, elapsed, procmem.total(snap) / KIB_PER_MIB,
             procmem.total(snap, "pss_kib") / KIB_PER_MIB, len(snap)))
    print(procmem.describe(snap), flush=True)


def ratios(start, end):
    """Per-process and total end/start lines for the processes present in both."""
    both = sorted(set(start) & set(end), key=lambda pid: (end[pid].role, pid))
    out = []
    for pid in both:
        a, b = start[pid], end[pid]
        pss = ("Pss %6d -> %6d KiB (x%.3f)" % (a.pss_kib, b.pss_kib, b.pss_kib / a.pss_kib)
               if a.pss_kib and b.pss_kib else "Pss -")
        out.append("  %-9s pid %-7d RSS %6d -> %6d KiB (x%.3f, %+5d KiB)  %s"
                   % (b.role, pid, a.rss_kib, b.rss_kib, b.rss_kib / a.rss_kib,
                      b.rss_kib - a.rss_kib, pss))
    rss = [procmem.total(s, "rss_kib", both) for s in (start, end)]
    pss = [procmem.total(s, "pss_kib", both) for s in (start, end)]
    out.append("  total     RSS %d -> %d KiB (x%.3f, %+d KiB); Pss %d -> %d KiB (x%.3f, %+d KiB)"
               % (rss[0], rss[1], rss[1] / rss[0], rss[1] - rss[0], pss[0], pss[1],
                  pss[1] / pss[0] if pss[0] else 0.0, pss[1] - pss[0]))
    gone, new = sorted(set(start) - set(end)), sorted(set(end) - set(start))
    if gone or new:
        out.append("  processes gone since the start: %r; new: %r" % (gone, new))
    return "\n".join(out)


def warm(server, sites, count, parallel):
    """count HTTPS requests, parallel at a time, over every site."""
    if count <= 0:
        return

    def one(i):
        try:
            return server.http_get(sites[i % len(sites)].name, "/", https=True)[0]
        except OSError as e:
            return repr(e)

    began = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        answers = list(pool.map(one, range(count)))
    print("warm-up: %d HTTPS requests, %d at a time, in %.1f s; answers %s"
          % (count, parallel, time.monotonic() - began, sorted(set(map(str, answers)))))


def measure(args, server, pebble, sites, parent):
    """The renewal loop; returns (start, start_at, mid_total, end, done, elapsed, handshakes)
    or None when it had to stop."""
    began = time.monotonic()
    limit = SERVED_TIMEOUT + args.renewals * SECONDS_PER_RENEWAL_MAX / args.sites
    start = start_at = mid = None
    halfway = args.warmup + (args.renewals - args.warmup) // 2
    next_checkpoint = args.checkpoint
    handshakes = done = 0
    while True:
        done = renewals(server.live_events())
        elapsed = time.monotonic() - began
        if start is None and done >= args.warmup:
            start, start_at = snapshot(server, parent), done
            line("start", done, elapsed, start)
        if mid is None and done >= halfway:
            mid = procmem.total(procmem.snapshot(parent))
        if done >= args.renewals:
            return start, start_at, mid, snapshot(server, parent), done, elapsed, handshakes
        if done >= next_checkpoint:
            line("check", done, elapsed, snapshot(server, parent))
            while next_checkpoint <= done:
                next_checkpoint += args.checkpoint
        if elapsed > limit:
            print("gave up: %d renewals in %.0f s\n%s" % (done, elapsed, server.log_tail()))
            return None
        if not pebble.healthy():
            # DESIGN section 7: a hung pebble. Stop: the figures would mix in a restart.
            print("pebble hangs after %d renewals; stopping\n%s" % (done, pebble.log_tail()))
            return None
        for site in sites:  # each child that answers loads the site's newest set
            server.served_cert(site.name)
            handshakes += 1
        time.sleep(SAMPLE_INTERVAL)


def run(args):
    sites = [Site("rss%d.test" % i) for i in range(args.sites)]
    with PebbleEnv(http01_port=free_port(), validity_seconds=args.validity) as pebble:
        server = AutoTLSServer(sites, pebble=pebble, mpm=args.mpm,
                               extra="AutoTLSRenewWindow %s" % RENEW_WINDOW)
        with server:
            server.start()
            for site in sites:
                server.wait_until_served(site.name, ISSUER, SERVED_TIMEOUT)
            parent = server.parent_pid()
            print("%d sites, pebble validity %d s, AutoTLSRenewWindow %s, %s MPM, httpd parent "
                  "%d" % (args.sites, args.validity, RENEW_WINDOW, args.mpm, parent))
            warm(server, sites, args.warm_requests, args.warm_parallel)
            result = measure(args, server, pebble, sites, parent)
            if result is None:
                return 1
            start, start_at, mid, end, done, elapsed, handshakes = result
            line("end", done, elapsed, end)
            total = [procmem.total(start), mid, procmem.total(end)]
            print("\n%d renewals in %.1f s (%.1f/s), %d handshakes, same parent: %s"
                  % (done, elapsed, done / elapsed, handshakes, server.parent_pid() == parent))
            print("total RSS growth, first half %+d KiB, second half %+d KiB"
                  % (total[1] - total[0], total[2] - total[1]))
            print("end/start, start = renewal %d, end = renewal %d:" % (start_at, done))
            print(ratios(start, end), flush=True)
    return 0


def main(argv=None):
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("run as root: httpd's children run as www-data", file=sys.stderr)
        return 2
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
