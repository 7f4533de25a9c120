# SPDX-License-Identifier: Apache-2.0
"""Notifications, revocation of module-issued certificates, and orphaned sites, seen from outside.

The one idea to hold: every claim is checked where an admin would see it: what the notification
command itself received (a script written here appends its argv, environment and uid to a file),
the certificate a TLS handshake gets, pebble's own record of a serial (its management port), the
store's directories and the error log.

  - AutoTLSNotifyCommand hears `obtained` (first certificate), `renewed` (an operator's renewal),
    `failed` (a site pebble cannot validate) and `orphaned` (after `autotls forget`), with the
    served certificate's serial, names and expiry in its environment, as the ACME account, with
    nothing of httpd's environment;
  - a hanging command is killed at its time limit (its whole process group) and the renewal it
    was told of is served all the same;
  - `autotls revoke` works on a certificate the module issued (the activator recorded its CA in
    meta.json): pebble says Revoked, the command hears `revoked`, and a new certificate with
    another serial is served;
  - a site removed from the configuration is marked orphaned (one log line, orphaned_since in
    its job file); `autotls forget` refuses a configured site and archives an orphan: live set
    gone from live/, present in archive/, job file gone.

Runs as root only: the parent must be root, the renewal process the ACME account.
"""

import datetime
import json
import os
import pwd
import re
import subprocess
import time

import pytest

import autotls_server
from autotls_server import ACME_USER, AutoTLSServer, Site, normalize_serial, skip_unless_runnable

MODULE = skip_unless_runnable()

ISSUER = "Pebble"
GOOD = Site("good.notify.test")
BAD = Site("bad.notify.test")  # challtestsrv points it where nothing listens
REVOKED = Site("revoke.notify.test", aliases=("www.revoke.notify.test",))
ORPHAN = Site("orphan.notify.test")
UNREACHABLE = "127.0.0.2"
TIME_LIMIT = 3  # seconds: the command's timeout= in these tests
SERVED_TIMEOUT = 60.0
EVENT_TIMEOUT = 30.0
RENEW_TIMEOUT = 30.0
KILL_SLACK = 5.0  # seconds past the time limit until the kill is logged
CLI_TIMEOUT = 60.0
POLL = 0.1
ALLOWED_ENV = {"PATH", "LANG", "HOME", "AUTOTLS_EVENT", "AUTOTLS_SITE", "AUTOTLS_NAMES",
               "AUTOTLS_SERIAL", "AUTOTLS_NOT_AFTER", "AUTOTLS_ERROR",
               "LC_CTYPE"}  # LC_CTYPE: python's own locale coercion (PEP 538) under LANG=C
KILLED_RE = re.compile(r"autotls-0803: (?P<site>\S+): notification command \S+ (?P<event>\w+) "
                       r"killed")

NOTIFY_SCRIPT = """#!/usr/bin/python3
import fcntl, json, os, sys, time
fds = {}
for fd in os.listdir("/proc/self/fd"):
    try:
        fds[fd] = os.readlink("/proc/self/fd/" + fd)
    except OSError:
        pass  # the listing's own descriptor, closed by now
record = {"argv": sys.argv[1:], "uid": os.getuid(), "env": dict(os.environ), "fds": fds}
with open(%(out)r, "a") as f:
    fcntl.flock(f, fcntl.LOCK_EX)
    f.write(json.dumps(record) + "\\n")
print("told of", sys.argv[1], sys.argv[2])
sys.stdout.flush()
if os.path.exists(%(hang)r):
    os.system("sleep 600 &")  # a child in its process group: killed with it
    time.sleep(600)
if os.path.exists(%(detach)r):
    os.system("sleep %(sleeper)d &")  # left behind holding the output pipe; the command exits
"""
SLEEPER = 613  # seconds: the detached sleeper's argument, to find it by


def wait_for(what, predicate, timeout, server):
    return autotls_server.wait_for(what, predicate, timeout, server, POLL)


def run_cli(cli, *args):
    return subprocess.run([cli, *args], capture_output=True, text=True, timeout=CLI_TIMEOUT,
                          stdin=subprocess.DEVNULL, check=False)


def explain(proc):
    return "exit %d\nstdout: %s\nstderr: %s" % (proc.returncode, proc.stdout, proc.stderr)


class Notified:
    """The file the notification script appends to: one JSON record per run."""

    def __init__(self, root):
        self.dir = os.path.join(root, "notified")
        os.makedirs(self.dir, mode=0o700)
        acme = pwd.getpwnam(ACME_USER)
        os.chown(self.dir, acme.pw_uid, acme.pw_gid)
        self.out = os.path.join(self.dir, "events.jsonl")
        self.hang = os.path.join(root, "hang")
        self.detach = os.path.join(root, "detach")
        self.script = os.path.join(root, "notify.py")
        with open(self.script, "w") as f:
            f.write(NOTIFY_SCRIPT % {"out": self.out, "hang": self.hang, "detach": self.detach,
                                     "sleeper": SLEEPER})
        os.chmod(self.script, 0o755)

    def records(self):
        try:
            with open(self.out) as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def find(self, event, site, serial=None):
        for r in self.records():
            if r["argv"] == [event, site] and (
                    serial is None or normalize_serial(r["env"]["AUTOTLS_SERIAL"]) == serial):
                return r
        return None

    def wait(self, server, event, site, serial=None, timeout=EVENT_TIMEOUT):
        return wait_for("the command to hear %s %s" % (event, site),
                        lambda: self.find(event, site, serial), timeout, server)


@pytest.fixture(scope="module")
def setup(pebble):
    pebble.set_a(BAD.name, UNREACHABLE)
    server = AutoTLSServer((GOOD, BAD, REVOKED, ORPHAN), pebble=pebble)
    notified = Notified(server.root)  # a 0755 directory the ACME account can reach
    server.extra = "AutoTLSNotifyCommand %s timeout=%ds" % (notified.script, TIME_LIMIT)
    with server:
        for site in (GOOD, REVOKED, ORPHAN):
            server.wait_until_served(site.name, ISSUER, SERVED_TIMEOUT)
        yield server, notified
    pebble.clear_a(BAD.name)


def served_serial(server, name):
    return normalize_serial(server.served_cert(name).serial)


def new_serial(server, name, old):
    def other():
        cert = server.served_cert(name)
        serial = normalize_serial(cert.serial)
        return serial if serial != old and ISSUER in cert.issuer else None

    return wait_for("a new certificate for " + name, other, RENEW_TIMEOUT, server)


def test_obtained_is_told_with_the_served_certificate_as_the_acme_account(setup):
    server, notified = setup
    serial = served_serial(server, GOOD.name)
    record = notified.wait(server, "obtained", GOOD.name)
    env = record["env"]
    assert env["AUTOTLS_EVENT"] == "obtained" and env["AUTOTLS_SITE"] == GOOD.name
    assert normalize_serial(env["AUTOTLS_SERIAL"]) == serial
    assert env["AUTOTLS_NAMES"] == GOOD.name
    not_after = datetime.datetime.strptime(server.served_cert(GOOD.name).not_after,
                                           "%b %d %H:%M:%S %Y %Z")
    assert env["AUTOTLS_NOT_AFTER"] == not_after.strftime("%Y-%m-%dT%H:%M:%SZ"), (env, not_after)
    assert env["AUTOTLS_ERROR"] == ""
    assert record["uid"] == pwd.getpwnam(ACME_USER).pw_uid != 0
    assert set(env) <= ALLOWED_ENV, "the command got more than its clean environment: %s" % env
    wait_for("its output and status logged", lambda: re.search(
        r"autotls-0802: %s: notification command \S+ obtained said: told of obtained %s"
        % (re.escape(GOOD.name), re.escape(GOOD.name)), server.error_log()), EVENT_TIMEOUT,
        server)


def test_the_command_inherits_no_descriptor_but_stdin_stdout_and_stderr(setup):
    server, notified = setup
    record = notified.wait(server, "obtained", GOOD.name)
    fds = record["fds"]
    assert sorted(fds) == ["0", "1", "2"], "descriptors leaked into the command: %s" % fds
    assert fds["0"] == "/dev/null" and fds["1"].startswith("pipe:"), fds


def sleepers():
    found = subprocess.run(["pgrep", "-x", "-f", "sleep %d" % SLEEPER], capture_output=True,
                           text=True)
    return [int(pid) for pid in found.stdout.split()]


def renewed_ends(server):
    return re.findall(r"autotls-080[345]: %s: notification command \S+ renewed (?:killed|exited|"
                      r"failed)" % re.escape(GOOD.name), server.error_log())


def test_a_child_the_command_leaves_behind_is_killed_with_its_group(setup, autotls_cli):
    server, notified = setup
    old = served_serial(server, GOOD.name)
    before = len(renewed_ends(server))
    with open(notified.detach, "w"):
        pass
    try:
        proc = run_cli(autotls_cli, "renew", "--store", server.store, GOOD.name)
        assert proc.returncode == 0, explain(proc)
        serial = new_serial(server, GOOD.name, old)
        notified.wait(server, "renewed", GOOD.name, serial)
        wait_for("the command's end logged", lambda: len(renewed_ends(server)) > before,
                 EVENT_TIMEOUT, server)
        left = sleepers()
        assert not left, "the command's child escaped its group: %s" % left
    finally:
        os.unlink(notified.detach)
        for pid in sleepers():  # started by this test's command
            os.kill(pid, 9)


def test_failed_is_told_with_the_ca_error(setup):
    server, notified = setup
    record = notified.wait(server, "failed", BAD.name)
    assert record["env"]["AUTOTLS_ERROR"], record
    assert record["env"]["AUTOTLS_SERIAL"] == ""  # it never had a certificate


def test_renewed_is_told_with_the_new_serial(setup, autotls_cli):
    server, notified = setup
    old = served_serial(server, GOOD.name)
    proc = run_cli(autotls_cli, "renew", "--store", server.store, GOOD.name)
    assert proc.returncode == 0, explain(proc)
    serial = new_serial(server, GOOD.name, old)
    record = notified.wait(server, "renewed", GOOD.name, serial)
    assert record["env"]["AUTOTLS_NAMES"] == GOOD.name


def test_a_hanging_command_is_killed_at_its_limit_and_renewals_go_on(setup, autotls_cli):
    server, notified = setup
    old = served_serial(server, GOOD.name)
    with open(notified.hang, "w"):
        pass
    try:
        proc = run_cli(autotls_cli, "renew", "--store", server.store, GOOD.name)
        assert proc.returncode == 0, explain(proc)
        serial = new_serial(server, GOOD.name, old)  # served while the command hangs
        told = notified.wait(server, "renewed", GOOD.name, serial)
        assert told
        started = time.monotonic()
        m = wait_for("the hanging command to be killed", lambda: [
            m for m in KILLED_RE.finditer(server.error_log())
            if m.group("site") == GOOD.name and m.group("event") == "renewed"],
            TIME_LIMIT + KILL_SLACK, server)
        assert m, server.log_tail()
        assert time.monotonic() - started <= TIME_LIMIT + KILL_SLACK
        # nothing of its process group is left
        leftovers = subprocess.run(["pgrep", "-f", "sleep 600"], capture_output=True, text=True)
        assert leftovers.stdout.strip() == "", "left running: " + leftovers.stdout
        # and the next renewal still goes through
        proc = run_cli(autotls_cli, "renew", "--store", server.store, GOOD.name)
        assert proc.returncode == 0, explain(proc)
        new_serial(server, GOOD.name, serial)
    finally:
        os.unlink(notified.hang)


def test_revoke_of_a_module_issued_certificate_revokes_at_the_ca_and_reorders(
        setup, pebble, autotls_cli):
    server, notified = setup
    old = served_serial(server, REVOKED.name)
    meta = json.load(open(os.path.join(server.store, "live", REVOKED.name, "meta.json")))
    assert meta["ca"] == pebble.directory_url and meta["issued_by"] == "module", meta
    assert pebble.cert_status(old)["Status"] == "Valid"
    proc = run_cli(autotls_cli, "revoke", "--store", server.store, "--reason", "4", REVOKED.name)
    assert proc.returncode == 0, explain(proc)
    assert "a new certificate is ordered now" in proc.stdout, explain(proc)
    status = pebble.cert_status(old)
    assert status["Status"] == "Revoked" and status.get("Reason") == 4, status
    record = notified.wait(server, "revoked", REVOKED.name, old)
    assert record["env"]["AUTOTLS_NAMES"] == " ".join(REVOKED.names)
    serial = new_serial(server, REVOKED.name, old)
    assert pebble.cert_status(serial)["Status"] == "Valid"


def test_forget_refuses_a_site_the_server_still_manages(setup, autotls_cli):
    server, _ = setup
    proc = run_cli(autotls_cli, "forget", "--store", server.store, GOOD.name)
    assert proc.returncode == 2, explain(proc)
    assert "--force" in proc.stderr
    assert os.path.isdir(os.path.join(server.store, "live", GOOD.name))


def test_a_removed_site_is_orphaned_then_forgotten_into_the_archive(setup, autotls_cli):
    server, notified = setup
    serial = served_serial(server, ORPHAN.name)
    job = os.path.join(server.store, "jobs", ORPHAN.name + ".json")
    server.sites = [s for s in server.sites if s.name != ORPHAN.name]
    server.write_config()
    server.graceful()

    def marked():
        try:
            with open(job) as f:
                return json.load(f).get("orphaned_since")
        except (OSError, ValueError):
            return None

    since = wait_for("orphaned_since in " + job, marked, EVENT_TIMEOUT, server)
    assert abs(since - time.time()) < EVENT_TIMEOUT
    wait_for("the orphaned line", lambda: "autotls-0810: %s: orphaned" % ORPHAN.name
             in server.error_log(), EVENT_TIMEOUT, server)
    proc = run_cli(autotls_cli, "forget", "--store", server.store, ORPHAN.name)
    assert proc.returncode == 0, explain(proc)
    assert not os.path.exists(os.path.join(server.store, "live", ORPHAN.name))
    archived = os.listdir(os.path.join(server.store, "archive", ORPHAN.name))
    assert any(a.endswith(".fullchain.pem") for a in archived), archived
    assert any(a.endswith(".privkey.pem") for a in archived), archived
    assert not os.path.exists(job)
    record = notified.wait(server, "orphaned", ORPHAN.name, serial)
    assert record["env"]["AUTOTLS_NAMES"] == ORPHAN.name
    # the graceful restart marked it once: no line again
    assert server.count("autotls-0810: %s: orphaned" % ORPHAN.name) == 1
