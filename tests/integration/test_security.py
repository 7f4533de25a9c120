"""The privilege boundary of docs/SECURITY.md, claim by claim, on a running server.

The one idea to hold: root (the httpd parent and the activator) and the worker user (www-data:
the children and the renewal thread) share one store, and every claim of the threat model is
checked here from the worker's side of it: which processes hold which uid, what www-data can
read and write (each attempt made as www-data with setpriv), and what a compromised child could
stage and what the activator then does with it. Claims proven elsewhere are named in
docs/SECURITY.md with their tests; this file holds the rest. The CA is hostile_ca.HostileCA in
its honest mode, so both sites hold real CA-issued certificates within seconds.
"""

import os
import pathlib
import pwd
import re
import stat
import subprocess
import time

import pytest

import httpd
from autotls_server import AutoTLSServer, Site, skip_unless_runnable
from hostile_ca import HostileCA

MODULE = skip_unless_runnable()

ALPHA = "alpha.autotls-security.org"
ALPHA_WWW = "www.alpha.autotls-security.org"
BETA = "beta.autotls-security.org"
ISSUER = "Hostile Test Issuing CA"
ACTIVATOR_COMM = "autotls-activ"
WORKER = pwd.getpwnam("www-data")
NOBODY = pwd.getpwnam("nobody")
WAIT = 30.0
POLL = 0.1
STORE_ITEM_MAX = 4 * 1024 * 1024  # AT_STORE_MAX_ITEM
SLOT_DATA_MAX = 16 * 1024  # AUTOTLS_SLOT_DATA_MAX
AS_WORKER_TIMEOUT = 10
KEY_NAMES = re.compile(r"(privkey\.pem|\.key)$")


def wait_for(what, predicate, server, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(POLL)
    pytest.fail("%s did not happen within %.0f s\n%s" % (what, timeout, server.log_tail()))


def wait_log(server, pattern, start):
    return wait_for("log line %r" % pattern,
                    lambda: re.search(pattern, server.error_log()[start:]), server)


def as_worker(*argv):
    """Runs argv as www-data (uid, gid, no supplementary groups); the CompletedProcess."""
    return subprocess.run(["setpriv", "--reuid=%d" % WORKER.pw_uid, "--regid=%d" % WORKER.pw_gid,
                           "--clear-groups", "--", *argv], capture_output=True, text=True,
                          timeout=AS_WORKER_TIMEOUT, stdin=subprocess.DEVNULL)


def write_owned(path, text, mode, uid=WORKER.pw_uid, gid=WORKER.pw_gid):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    os.chown(path, uid, gid)


def stage(server, site, key, chain, extra=None):
    """staging/<site>/ as the worker writes it; extra(dir) may add entries before `ready`."""
    d = os.path.join(server.store, "staging", site)
    os.mkdir(d, 0o700)
    os.chown(d, WORKER.pw_uid, WORKER.pw_gid)
    if key is not None:
        write_owned(os.path.join(d, "privkey.pem"), key, 0o600)
    if chain is not None:
        write_owned(os.path.join(d, "fullchain.pem"), chain, 0o644)
    if extra is not None:
        extra(d)
    write_owned(os.path.join(d, "ready"), "", 0o644)
    return d


def refused(server, site, why, offset):
    """The activator refused staging/<site> for why, removed it, and live/ is as it was."""
    before = live_sums(server, site)
    wait_log(server, r"autotls-0314: %s: refused staged certificate: [^\n]*(%s)"
             % (re.escape(site), why), offset)
    staging = os.path.join(server.store, "staging", site)
    wait_for("the refused set is removed", lambda: not os.path.lexists(staging), server)
    assert live_sums(server, site) == before, "live/ changed"
    assert not re.search(r"autotls-0312: %s:" % re.escape(site), server.error_log()[offset:])


def live_sums(server, site):
    d = pathlib.Path(server.store, "live", site)
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


@pytest.fixture(scope="module")
def hostile():
    with HostileCA() as ca:
        yield ca


@pytest.fixture(scope="module")
def server(hostile):
    extra = ('AutoTLSCACertificateFile "%s"\nAutoTLSIssuerRoots "%s"\n'
             % (hostile.ca_cert, hostile.issuer_root))
    srv = AutoTLSServer([Site(ALPHA, aliases=(ALPHA_WWW,)), Site(BETA)],
                        ca_url=hostile.url("good"), extra=extra)
    with srv:
        for site in (ALPHA, BETA):
            srv.wait_until_served(site, ISSUER, timeout=WAIT)
        # one more set for ALPHA, so that archive/ holds a replaced key too
        key, chain = hostile.issuer.leaf([ALPHA, ALPHA_WWW])
        offset = len(srv.error_log())
        stage(srv, ALPHA, key, chain)
        wait_log(srv, r"autotls-0312: %s: certificate" % re.escape(ALPHA), offset)
        yield srv


# --- who runs as root ---------------------------------------------------------------------------


def proc_children(parent):
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = pathlib.Path("/proc", entry, "stat").read_text()
            status = pathlib.Path("/proc", entry, "status").read_text()
        except OSError:
            continue
        comm = text[text.index("(") + 1:text.rindex(")")]
        ppid = int(text[text.rindex(")") + 2:].split()[1])
        uids = re.search(r"^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", status, re.M).groups()
        if ppid == parent:
            found.append((int(entry), comm, tuple(map(int, uids))))
    return found


def test_only_the_parent_and_the_activator_run_as_root(server):
    parent = server.parent_pid()
    status = pathlib.Path("/proc/%d/status" % parent).read_text()
    assert re.search(r"^Uid:\s+0\s+0\s+0\s+0\b", status, re.M)
    children = proc_children(parent)
    activators = [c for c in children if c[1] == ACTIVATOR_COMM]
    workers = [c for c in children if c[1] != ACTIVATOR_COMM]
    assert len(activators) == 1 and activators[0][2] == (0, 0, 0, 0), children
    assert workers, children
    for pid, comm, uids in workers:  # real, effective, saved and filesystem uid
        assert uids == (WORKER.pw_uid,) * 4, (pid, comm, uids)


def test_worker_cannot_signal_or_trace_the_root_processes(server):
    parent = server.parent_pid()
    (activator,) = [c[0] for c in proc_children(parent) if c[1] == ACTIVATOR_COMM]
    for pid in (parent, activator):
        done = as_worker("kill", "-0", str(pid))
        assert done.returncode != 0, pid
        assert "not permitted" in done.stderr, done.stderr
        done = as_worker("cat", "/proc/%d/environ" % pid)
        assert done.returncode != 0, pid


# --- what lies where, owned by whom -------------------------------------------------------------


def store_entries(store):
    for dirpath, dirnames, filenames in os.walk(store):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            yield os.path.relpath(path, store), os.lstat(path)


def test_store_owners_and_modes(server):
    root = os.lstat(server.store)
    assert (root.st_uid, stat.S_IMODE(root.st_mode)) == (0, 0o755)
    seen = set()
    for rel, st in store_entries(server.store):
        group = rel.split(os.sep)[0]
        mode = stat.S_IMODE(st.st_mode)
        seen.add(group)
        assert not stat.S_ISLNK(st.st_mode), "a link in the store: %s" % rel
        assert not mode & 0o022, "%s is writable by group or other (%04o)" % (rel, mode)
        if group in ("live", "archive"):
            assert (st.st_uid, st.st_gid) == (0, 0), "%s is not root's" % rel
        else:
            assert (st.st_uid, st.st_gid) == (WORKER.pw_uid, WORKER.pw_gid), rel
        if group in ("live", "accounts") and stat.S_ISDIR(st.st_mode):
            assert mode == 0o700, "%s: %04o" % (rel, mode)
        if KEY_NAMES.search(rel) and stat.S_ISREG(st.st_mode):
            assert mode == 0o600, "key %s: %04o" % (rel, mode)
            parent = os.lstat(os.path.join(server.store, os.path.dirname(rel)))
            assert stat.S_IMODE(parent.st_mode) == 0o700, "key %s in an open directory" % rel
    assert {"live", "archive", "accounts", "staging", "jobs"} <= seen, seen


# --- what the worker user can touch ---------------------------------------------------------------


def test_worker_cannot_read_any_live_or_archived_key(server):
    keys = [rel for rel, st in store_entries(server.store)
            if rel.split(os.sep)[0] in ("live", "archive") and KEY_NAMES.search(rel)]
    assert any(k.startswith("archive") for k in keys) and any(k.startswith("live") for k in keys)
    for rel in keys:
        done = as_worker("cat", os.path.join(server.store, rel))
        assert done.returncode != 0 and "BEGIN" not in done.stdout, rel
        assert "Permission denied" in done.stderr, done.stderr
    for d in ("live", os.path.join("archive", ALPHA)):  # archive/ lists site names only
        done = as_worker("ls", os.path.join(server.store, d))
        assert done.returncode != 0 and "pem" not in done.stdout, d


def test_worker_cannot_write_live_archive_or_the_store_root(server):
    for target in ("live/intruder", "live/%s/privkey.pem" % ALPHA, "archive/intruder",
                   "intruder", "staging/../live/intruder"):
        path = os.path.join(server.store, target)
        done = as_worker("sh", "-c", 'echo x > "$1"', "sh", path)
        assert done.returncode != 0, target
        assert not os.path.exists(os.path.join(server.store, "intruder"))
    for group in ("live", "archive", "staging", "accounts"):  # nor replace a group directory
        done = as_worker("mv", os.path.join(server.store, group),
                         os.path.join(server.store, group + ".moved"))
        assert done.returncode != 0, group
        assert os.path.isdir(os.path.join(server.store, group))


def test_worker_can_write_only_its_own_groups(server):
    """The renewal thread needs these; the probe proves the checks above are not vacuous."""
    for group in ("staging", "challenges", "jobs", "accounts"):
        probe = os.path.join(server.store, group, "probe-%d" % os.getpid())
        done = as_worker("sh", "-c", 'echo x > "$1" && rm "$1"', "sh", probe)
        assert done.returncode == 0, (group, done.stderr)


# --- what a compromised child can stage, and what the activator does with it ---------------------


def test_set_for_names_of_no_managed_site_is_refused(server, hostile):
    key, chain = hostile.issuer.leaf(["bank.example", "www.bank.example"])
    offset = len(server.error_log())
    stage(server, ALPHA, key, chain)
    refused(server, ALPHA, r"does not cover|not one of the site's names", offset)


def test_set_with_a_name_of_no_managed_site_besides_ours_is_refused(server, hostile):
    key, chain = hostile.issuer.leaf([ALPHA, ALPHA_WWW, "bank.example"])
    offset = len(server.error_log())
    stage(server, ALPHA, key, chain)
    refused(server, ALPHA, r"bank\.example, which is not one of the site's names", offset)


def test_another_sites_live_set_staged_for_ours_is_refused(server):
    """The worker cannot read BETA's key; but even a copy of BETA's set (say, from a backup)
    staged as ALPHA's cannot put BETA's certificate on ALPHA."""
    beta = os.path.join(server.store, "live", BETA)
    key = pathlib.Path(beta, "privkey.pem").read_text()
    chain = pathlib.Path(beta, "fullchain.pem").read_text()
    offset = len(server.error_log())
    stage(server, ALPHA, key, chain)
    refused(server, ALPHA, r"does not cover|not one of the site's names", offset)


@pytest.mark.parametrize("item", ["privkey.pem", "fullchain.pem"])
def test_oversized_staged_file_is_refused_unread(server, hostile, item):
    key, chain = hostile.issuer.leaf([ALPHA, ALPHA_WWW])

    def grow(d):
        path = os.path.join(d, item)
        with open(path, "a") as f:  # sparse: the size is what counts
            f.truncate(STORE_ITEM_MAX + 1)
        os.chown(path, WORKER.pw_uid, WORKER.pw_gid)

    offset = len(server.error_log())
    d = stage(server, ALPHA, key, chain, extra=grow)
    wait_log(server, r"store: refusing %s: \d+ bytes, the limit is %d"
             % (re.escape(os.path.join(d, item)), STORE_ITEM_MAX), offset)
    refused(server, ALPHA, r"too large", offset)


def test_set_too_large_for_a_slot_is_refused(server, hostile):
    key, chain = hostile.issuer.leaf([ALPHA, ALPHA_WWW], comment_bytes=SLOT_DATA_MAX)
    offset = len(server.error_log())
    stage(server, ALPHA, key, chain)
    refused(server, ALPHA, r"a slot holds %d" % SLOT_DATA_MAX, offset)


@pytest.mark.parametrize("case", ["mode-0777", "owned-by-nobody"])
def test_staging_directory_others_can_write_is_refused(server, hostile, case):
    key, chain = hostile.issuer.leaf([ALPHA, ALPHA_WWW])

    def loosen(d):
        if case == "mode-0777":
            os.chmod(d, 0o777)
        else:
            os.chown(d, NOBODY.pw_uid, NOBODY.pw_gid)

    offset = len(server.error_log())
    stage(server, ALPHA, key, chain, extra=loosen)
    refused(server, ALPHA, r"not writable by group or other", offset)


def test_named_pipe_in_staging_neither_blocks_nor_passes(server, hostile):
    _, chain = hostile.issuer.leaf([ALPHA, ALPHA_WWW])

    def fifo(d):
        os.mkfifo(os.path.join(d, "privkey.pem"), 0o600)
        os.chown(os.path.join(d, "privkey.pem"), WORKER.pw_uid, WORKER.pw_gid)

    offset = len(server.error_log())
    stage(server, ALPHA, None, chain, extra=fifo)
    refused(server, ALPHA, r"symbolic link or has an unsafe owner or mode", offset)
    # and the activator is not stuck: a clean set goes live right after
    key, chain = hostile.issuer.leaf([ALPHA, ALPHA_WWW])
    offset = len(server.error_log())
    stage(server, ALPHA, key, chain)
    wait_log(server, r"autotls-0312: %s: certificate" % re.escape(ALPHA), offset)


def test_removing_a_staged_set_follows_no_link(server, hostile, tmp_path):
    """Root removes staging/<site> after each decision: links in it, to a directory or a file
    outside, are removed themselves and never lead it anywhere."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious").write_text("keep me\n")
    key, chain = hostile.issuer.leaf(["bank.example"])  # refused: only the removal matters

    def links(d):
        os.symlink(victim, os.path.join(d, "dir-link"))
        sub = os.path.join(d, "sub")
        os.mkdir(sub, 0o700)
        os.symlink(victim / "precious", os.path.join(sub, "file-link"))
        for path in (sub, os.path.join(d, "dir-link"), os.path.join(sub, "file-link")):
            os.chown(path, WORKER.pw_uid, WORKER.pw_gid, follow_symlinks=False)

    offset = len(server.error_log())
    stage(server, ALPHA, key, chain, extra=links)
    refused(server, ALPHA, r"does not cover|not one of the site's names", offset)
    assert (victim / "precious").read_text() == "keep me\n"
    assert sorted(os.listdir(victim)) == ["precious"]


def test_cold_start_sweep_follows_no_link(server, tmp_path):
    """At startup root sweeps what killed processes left (unfinished staged sets, temp files,
    challenges) in the worker's directories: a planted link is removed, never followed."""
    victim = tmp_path / "victim"
    victim.mkdir()
    precious = victim / "precious"
    precious.write_text("keep me\n")
    temp_victim = victim / ".privkey.pem.tmp.AAAAAA"  # a name the sweep would remove
    temp_victim.write_text("keep me too\n")
    server.stop()
    try:
        unfinished = os.path.join(server.store, "staging", BETA)
        os.mkdir(unfinished, 0o700)
        os.symlink(victim, os.path.join(unfinished, "dir-link"))
        os.symlink(precious, os.path.join(unfinished, ".privkey.pem.tmp.BBBBBB"))
        os.symlink(victim, os.path.join(server.store, "challenges", "dir-link"))
        os.symlink(precious, os.path.join(server.store, "jobs", ".x.json.tmp.CCCCCC"))
        for path in (unfinished, os.path.join(unfinished, "dir-link"),
                     os.path.join(unfinished, ".privkey.pem.tmp.BBBBBB"),
                     os.path.join(server.store, "challenges", "dir-link"),
                     os.path.join(server.store, "jobs", ".x.json.tmp.CCCCCC")):
            os.chown(path, WORKER.pw_uid, WORKER.pw_gid, follow_symlinks=False)
        offset = len(server.error_log())
    finally:
        server.start()
    wait_log(server, r"autotls-0280: cold start: removed", offset)
    assert precious.read_text() == "keep me\n"
    assert temp_victim.read_text() == "keep me too\n"
    assert sorted(os.listdir(victim)) == [".privkey.pem.tmp.AAAAAA", "precious"]
    server.wait_until_served(BETA, ISSUER, timeout=WAIT)
