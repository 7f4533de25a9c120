# SPDX-License-Identifier: Apache-2.0
"""No code running in a child can rewrite the shared certificate slots (issue 9, item 6).

The one idea to hold: a hostile tenant's code runs inside the children as www-data (mod_php, a
module, a CGI handler in the child). attack_module/mod_autotls_attack.c stands in for it: built
here with apxs and loaded next to mod_autotls, it runs after every other child_init and tries
each way a child has to write the slots: mprotect the slot mapping writable, store through any
mapping of the slots, MADV_REMOVE, open /proc/self/map_files, write / ftruncate / fallocate /
mmap any shared-memory descriptor it holds and the same on it reopened through /proc/self/fd,
and list the root parent's descriptors. When a write goes through it does the real damage: site
0's key and chain copied into site 1's slot. Each child appends one line per attempt to a report
file. Asserted from outside: every attempt failed, the attack did find the slots, and both sites
still serve their own certificate (serial and names over TLS with SNI) in the children that
attacked.

Runs as root only (a root parent, www-data children), under mpm_event and mpm_prefork.
"""

import os
import pwd
import re
import shutil
import subprocess
import tempfile

import pytest

from autotls_server import AutoTLSServer, Site, skip_unless_runnable, wait_for
from hostile_ca import HostileCA

MODULE = skip_unless_runnable()

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "attack_module",
                      "mod_autotls_attack.c")
ALPHA = "alpha.autotls-attack.org"
ALPHA_WWW = "www.alpha.autotls-attack.org"
BETA = "beta.autotls-attack.org"
ISSUER = "Hostile Test Issuing CA"
WORKER = pwd.getpwnam("www-data")
WAIT = 30.0
APXS_TIMEOUT = 120
HANDSHAKES = 12  # spread over the children, every one of which attacked
ATTEMPT_RE = re.compile(r"^ATTEMPT (?P<what>.*): (?P<result>SUCCEEDED|FAILED.*)$")
DONE_RE = re.compile(r"^DONE uid=(?P<uid>\d+) pid=(?P<pid>\d+) slot_mappings=(?P<maps>\d+) ")


@pytest.fixture(scope="module")
def attack_module():
    """mod_autotls_attack.so, built by apxs in a temp directory."""
    apxs = shutil.which("apxs") or shutil.which("apxs2")
    if apxs is None:
        pytest.skip("apxs (apache2-dev) is needed to build the attack module")
    build = tempfile.mkdtemp(prefix="autotls-attack-build-")
    shutil.copy(SOURCE, build)
    proc = subprocess.run([apxs, "-c", os.path.basename(SOURCE)], cwd=build, capture_output=True,
                          text=True, timeout=APXS_TIMEOUT, check=False)
    assert proc.returncode == 0, "apxs -c failed:\n%s%s" % (proc.stdout, proc.stderr)
    so = os.path.join(build, ".libs", "mod_autotls_attack.so")
    os.chmod(build, 0o755)
    yield so
    shutil.rmtree(build, ignore_errors=True)


@pytest.fixture(scope="module")
def hostile():
    with HostileCA() as ca:
        yield ca


def read_report(path):
    try:
        with open(path) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def done_lines(lines):
    return [m for m in map(DONE_RE.match, lines) if m]


def served(server):
    return {name: server.served_cert(name) for name in (ALPHA, BETA)}


@pytest.mark.parametrize("mpm", ["event", "prefork"])
def test_no_child_can_rewrite_a_certificate_slot(hostile, attack_module, mpm):
    reports = tempfile.mkdtemp(prefix="autotls-attack-report-")
    os.chmod(reports, 0o755)
    os.chown(reports, WORKER.pw_uid, WORKER.pw_gid)
    report = os.path.join(reports, "attempts.txt")
    extra = ('AutoTLSCACertificateFile "%s"\nAutoTLSIssuerRoots "%s"\n'
             'LoadModule autotls_attack_module "%s"\nAutoTLSAttackReport "%s"\n'
             % (hostile.ca_cert, hostile.issuer_root, attack_module, report))
    srv = AutoTLSServer([Site(ALPHA, aliases=(ALPHA_WWW,)), Site(BETA)],
                        ca_url=hostile.url("good"), extra=extra, mpm=mpm)
    with srv:
        for site in (ALPHA, BETA):
            srv.wait_until_served(site, ISSUER, timeout=WAIT)
        before = served(srv)
        assert before[ALPHA].serial != before[BETA].serial
        assert before[ALPHA].sans == tuple(sorted((ALPHA, ALPHA_WWW)))
        assert before[BETA].sans == (BETA,)
        # New children, forked with both sets published, attack the slots as they start.
        started = len(done_lines(read_report(report)))
        srv.graceful()
        wait_for("a child of the new generation to finish its attempts",
                 lambda: len(done_lines(read_report(report))) > started, WAIT, srv)
        after = [served(srv) for _ in range(HANDSHAKES)]
        log = srv.error_log()

    lines = read_report(report)
    attempts = [m for m in map(ATTEMPT_RE.match, lines) if m]
    succeeded = [m.group("what") for m in attempts if m.group("result") == "SUCCEEDED"]
    done = done_lines(lines)
    assert done, "no child reported its attempts:\n%s" % "\n".join(lines)
    assert all(int(m.group("uid")) == WORKER.pw_uid for m in done), "children not www-data"
    problems = ["attempt went through: %s" % what for what in succeeded]
    for seen in after:
        for name in (ALPHA, BETA):
            if (seen[name].serial, seen[name].sans) != (before[name].serial, before[name].sans):
                problems.append("%s now serves %s (was %s)" % (name, seen[name], before[name]))
    assert not problems, "\n".join(sorted(set(problems)))
    assert all(int(m.group("maps")) >= 1 for m in done), \
        "a child did not find the slot mapping, so nothing was tried:\n%s" % "\n".join(lines)
    assert any("mprotect slots mapping" in m.group("what") for m in attempts)
    assert any("list the parent's" in m.group("what") for m in attempts)
    # child_init found nothing writable to remove (autotls-0288/0289)
    assert not re.search(r"autotls-028[89]:", log)
    if not os.environ.get("AUTOTLS_KEEP_TMP"):
        shutil.rmtree(reports, ignore_errors=True)
