# SPDX-License-Identifier: Apache-2.0
"""The memory of a running httpd as the kernel counts it, per process, read from /proc.

The one idea to hold: a leak shows as memory that keeps growing in one process, so every figure
is per pid and per role (the parent, the root activator, each child), read from the kernel's own
accounting: VmRSS from /proc/<pid>/status (resident pages, shared ones counted in full by every
process) and Pss from /proc/<pid>/smaps_rollup (shared pages divided among their users: the sum
over processes is what the server really costs). Reading other users' smaps needs root.

Used by tests/integration/test_housekeeping.py and bench/rss_renewals.py. Standard library only.
"""

import collections
import os

ACTIVATOR_COMM = "autotls-activ"  # AUTOTLS_ACTIVATOR_TITLE in mod_autotls/activator.h
RENEW_COMM = "autotls-renew"  # the renewal process's title (mod_autotls/renew_proc.c)
ROLES = {ACTIVATOR_COMM: "activator", RENEW_COMM: "renewal"}

ProcMem = collections.namedtuple("ProcMem", "pid role rss_kib pss_kib threads")


def _stat_fields(pid):
    """(comm, ppid) of pid, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            text = f.read()
    except OSError:
        return None
    comm = text[text.index("(") + 1:text.rindex(")")]
    rest = text[text.rindex(")") + 2:].split()
    return comm, int(rest[1])


def _status_kib(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _pss_kib(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def processes(parent_pid):
    """[(pid, role)] of httpd's parent and its live children; role is "parent", "activator",
    "renewal" or "child"."""
    found = [(parent_pid, "parent")]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields is None or fields[1] != parent_pid:
            continue
        found.append((int(entry), ROLES.get(fields[0], "child")))
    return sorted(found)


def snapshot(parent_pid):
    """{pid: ProcMem} of every process of the server that could be read now."""
    out = {}
    for pid, role in processes(parent_pid):
        rss = _status_kib(pid, "VmRSS")
        if rss is None:  # gone meanwhile
            continue
        out[pid] = ProcMem(pid, role, rss, _pss_kib(pid), _status_kib(pid, "Threads"))
    return out


def total(snap, field="rss_kib", pids=None):
    """Sum of field over snap (only the given pids when set); None values count as 0."""
    return sum(getattr(m, field) or 0 for pid, m in snap.items() if pids is None or pid in pids)


def describe(snap):
    """One line per process: role, pid, RSS and Pss in KiB, threads."""
    return "\n".join("  %-9s pid %-7d RSS %7d KiB  Pss %7s KiB  threads %s"
                     % (m.role, m.pid, m.rss_kib, m.pss_kib if m.pss_kib is not None else "-",
                        m.threads) for m in sorted(snap.values(), key=lambda m: (m.role, m.pid)))
