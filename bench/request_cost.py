#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""What a plain HTTP request costs httpd with our module loaded, against without it: CPU time.

The one idea to hold: vs_modmd.py --http measures requests per second, and on 2 shared cores
its load generator (Python threads on the same cores) bounds that figure, so rounds of the same
server spread by several per cent. Here the server's own CPU time is counted instead: the
on-CPU nanoseconds of every thread of every httpd process (/proc/<pid>/task/<tid>/schedstat,
which the kernel keeps per thread, to the nanosecond), read before and after a bounded number of
requests, divided by that number. The client's time is not in it, and neither is time a
process spent waiting for a core. Every process counts: the parent, the children, and with our
module the renewal process and the activator (their idle ticks are part of what the module
costs). A thread that ended during a measurement loses its time, so the MPM is asked to keep
its children (no MaxConnectionsPerChild, spare threads at the start) and the count of threads
is checked to be the same before and after.

Both servers: the same 50 name-based vhosts on the plain port; "with" is vs_modmd.py's
OursServer (AutoTLS on, a CA nobody listens to, so nothing is issued and nothing redirects: every
request goes through our post_read_request hooks and is declined), "without" the same vhosts
with our module not loaded. Rounds alternate which server goes first; the figures are medians.

Run as root from a build (about a minute with the defaults):
    AUTOTLS_BUILD=$PWD/build /usr/bin/python3 bench/request_cost.py [--rounds 5] [--requests 6000]
Standard library only, plus the integration test helpers and vs_modmd.py's servers.
"""

import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))

import procmem  # noqa: E402
import vs_modmd  # noqa: E402
from autotls_server import LOOPBACK, Site  # noqa: E402
from pebble import free_port  # noqa: E402

DEFAULT_ROUNDS = 5
DEFAULT_REQUESTS = 6000
WARMUP = 500  # unmeasured requests first: children, threads and caches are up
LOAD_THREADS = 4
LOAD_SECONDS_MAX = 120.0  # a measurement's bound in time, whatever the count
SETTLE = 1.0  # seconds between start-up and the warm-up: the helpers' start-up work is done
NS_PER_US = 1000.0


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS)
    parser.add_argument("--requests", type=int, default=DEFAULT_REQUESTS)
    parser.add_argument("--mpm", default="event", choices=("event", "prefork"))
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.requests < 1:
        parser.error("need --rounds >= 1 and --requests >= 1")
    return args


def threads_ns(parent_pid):
    """{(pid, tid): on-CPU ns} of every thread of httpd's processes."""
    out = {}
    for pid, _role in procmem.processes(parent_pid):
        try:
            tids = os.listdir("/proc/%d/task" % pid)
        except OSError:
            continue
        for tid in tids:
            try:
                with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                    out[(pid, int(tid))] = int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    return out


def measure(server, names, count):
    """(server CPU us per request, failed requests, threads ended) over `count` requests."""
    one = vs_modmd.http_fn(server.http_port, names)
    vs_modmd.load(one, LOAD_SECONDS_MAX, WARMUP, LOAD_THREADS, warmup=0)
    parent = server.parent_pid()
    before = threads_ns(parent)
    counts = {}
    vs_modmd.load(one, LOAD_SECONDS_MAX, count, LOAD_THREADS, warmup=0, counts=counts)
    done, fails = counts["ok"], counts["fail"]
    after = threads_ns(parent)
    lost = len(set(before) - set(after))
    used = sum(after[k] - before.get(k, 0) for k in after)
    return used / NS_PER_US / max(1, done), fails, lost


def main(argv):
    args = parse_args(argv)
    commit = subprocess.run(["git", "-C", str(HERE.parent), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    print("request_cost: commit %s, %d cores, load average %s, %d requests x %d rounds"
          % (commit, os.cpu_count(), " ".join("%.2f" % x for x in os.getloadavg()),
             args.requests, args.rounds), flush=True)
    sites = [Site("h-%d.%s" % (i, vs_modmd.DOMAIN)) for i in range(vs_modmd.HTTP_SITES)]
    names = [s.name for s in sites]
    dead_ca = "https://%s:%d/dir" % (LOOPBACK, free_port())
    out = {"with": [], "without": []}
    for rnd in range(args.rounds):
        order = ("with", "without") if rnd % 2 == 0 else ("without", "with")
        for which in order:
            cls = vs_modmd.OursServer if which == "with" else vs_modmd.PlainServer
            server = cls(sites, ca_url=dead_ca, mpm=args.mpm)
            server.start()
            try:
                time.sleep(SETTLE)
                us, fails, lost = measure(server, names, args.requests)
            finally:
                server.stop()
                shutil.rmtree(server.root, ignore_errors=True)
            out[which].append(us)
            print("  round %d module %-7s %7.1f us CPU per request (%d failed, %d threads ended)"
                  % (rnd + 1, which, us, fails, lost), flush=True)
    with_mod, without = statistics.median(out["with"]), statistics.median(out["without"])
    print("| server CPU per plain HTTP request | with module %.1f us | without %.1f us | "
          "ratio %.3f |" % (with_mod, without, with_mod / without))
    print("request_cost: done; load average %s"
          % " ".join("%.2f" % x for x in os.getloadavg()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
