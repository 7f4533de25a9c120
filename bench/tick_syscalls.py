#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""System calls of the renewal process at rest: how much one tick costs at N sites, per build.

The one idea to hold: a server with N vhosts, each with a valid live set (nothing is due) and the
CA on a closed port, is left to settle; then `strace -c -f` is attached to its renewal process for
a fixed time and the calls are counted by name. What remains is what every tick pays while
nothing happens (the look at jobs/ for requests, the status snapshot, the queues), so two builds
side by side show what a change to the tick costs or saves.

Run as root from a build (a second module with --baseline):
    AUTOTLS_BUILD=$PWD/build /usr/bin/python3 bench/tick_syscalls.py --n 2000 \\
        --baseline /tmp/base/build/mod_autotls/.libs/mod_autotls.so
Standard library only, plus bench/startup_10k.py, the integration test helpers and strace.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import startup_10k as base  # noqa: E402  (same directory; puts tests/integration on the path)
import httpd  # noqa: E402

RENEW_COMM = "autotls-renew"  # AUTOTLS_RENEW_TITLE in mod_autotls/renew_proc.c
SETTLE = 20.0  # seconds after HTTPS answers, so that the first ticks' work is done
STRACE_SLACK = 30  # seconds strace may take beyond the window to write its table
ROW_RE = re.compile(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:(\d+)\s+)?(\w+)\s*$")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="vhosts (default 2000)")
    parser.add_argument("--seconds", type=int, default=10, help="strace window (default 10)")
    parser.add_argument("--module", default=None, help="our module (default: the build's)")
    parser.add_argument("--baseline", default=None, help="a second mod_autotls.so ('base')")
    return parser.parse_args(argv)


def renew_pid(parent):
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open("/proc/%s/comm" % pid) as f:
                comm = f.read().strip()
        except OSError:
            continue
        if int(fields[1]) == parent and comm.startswith(RENEW_COMM):
            return int(pid)
    return None


def count(pid, seconds):
    """{syscall: calls} of pid and its threads over seconds."""
    out = tempfile.mktemp(prefix="autotls-strace-")
    subprocess.run(["timeout", "-s", "INT", str(seconds), "strace", "-c", "-f", "-q", "-o", out,
                    "-p", str(pid)], timeout=seconds + STRACE_SLACK)
    calls = {}
    with open(out) as f:
        for line in f:
            m = ROW_RE.match(line)
            if m and m.group(3) != "total":
                calls[m.group(3)] = int(m.group(1))
    os.unlink(out)
    return calls


def one(variant, module, all_names, pki, seconds):
    srv = base.Server(variant, module, all_names, pki, True)
    try:
        srv.start()
        time.sleep(SETTLE)
        pid = renew_pid(srv.pid())
        if pid is None:
            raise RuntimeError("%s: no renewal process\n%s" % (variant, srv.log()[-3000:]))
        return count(pid, seconds)
    finally:
        srv.stop()
        shutil.rmtree(srv.root, ignore_errors=True)


def main(argv):
    args = parse_args(argv)
    all_names = base.names(args.n)
    variants = [("ours", str(args.module or httpd.module_path()))]
    if args.baseline:
        variants.insert(0, ("base", args.baseline))
    pki_dir = tempfile.mkdtemp(prefix="autotls-tick-pki-")
    os.chmod(pki_dir, 0o755)
    pki = base.make_pki(pki_dir)
    os.chmod(pki["key"], 0o600)
    results = {}
    try:
        for variant, module in variants:
            results[variant] = one(variant, module, all_names, pki, args.seconds)
    finally:
        shutil.rmtree(pki_dir, ignore_errors=True)
    names = sorted({k for r in results.values() for k in r},
                   key=lambda k: -max(r.get(k, 0) for r in results.values()))
    print("N = %d vhosts, live sets, CA closed; renewal process, %d s of strace -c -f"
          % (args.n, args.seconds))
    print("%-22s" % "syscall" + "".join("%10s" % v for v, _ in variants))
    for k in names:
        print("%-22s" % k + "".join("%10d" % results[v].get(k, 0) for v, _ in variants))
    print("%-22s" % "total" + "".join("%10d" % sum(results[v].values()) for v, _ in variants))
    return 0


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("run as root: the parent must be root and the children www-data")
    sys.exit(main(sys.argv[1:]))
