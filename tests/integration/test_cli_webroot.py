# SPDX-License-Identifier: Apache-2.0
"""`autotls issue` run as root against a real pebble, with a webroot that belongs to a customer.

The one idea to hold: the customer (another uid) owns the webroot and can plant symbolic links
in it at any moment; whatever they do, root must create, change and remove nothing outside the
webroot. Each test plants a link towards a root-only directory or file ("the victim") and checks
the victim byte for byte and mode for mode afterwards. The standalone server's tests measure
that slow or silent clients neither stall validation nor delay the CLI's exit.
"""

import json
import os
import pty
import pwd
import select
import socket
import subprocess
import threading
import time
import types

import pytest

import ari_proxy
from ari_proxy import AriProxy
from pebble import LOOPBACK
from test_cli import (CLI_TIMEOUT, ISSUE_TIMEOUT_ARG, WebrootServer, assert_issued, explain,
                      issued_line, run)

CUSTOMER = "www-data"  # owns the webroot in these tests
VICTIM_CONTENT = "root-only secret\n"
VICTIM_FILE_MODE = 0o600
VICTIM_DIR_MODE = 0o700
ANSWER_MODE = 0o644
EXIT_LOCAL = 3
RACE_MAX_SECONDS = 60.0  # the swapping thread stops after this long whatever happens
RACE_MAX_SWAPS = 200000
SLOW_IDLE_CLIENTS = 4  # connect and send nothing
SLOW_DRIP_CLIENTS = 4  # send one byte per second
DRIP_INTERVAL = 1.0
SLOW_CLIENT_MAX_SECONDS = 90.0  # the slow clients give up after this long whatever happens
STANDALONE_DEADLINE = 5.0  # tools/standalone.c STANDALONE_REQUEST_DEADLINE
CUT_SLACK = 3.0  # seconds beyond the deadline a dripping client may stay connected
EXIT_AFTER_ISSUED_MAX = 2.0  # seconds from the "issued" line to the CLI's exit
SLOW_EXTRA_MAX = 8.0  # seconds an issue may take longer with the slow clients than without
SILENT_CA_TIMEOUT_ARG = "12"  # --timeout against a CA that never answers: the server's lifetime
SILENT_CA_BACKLOG = 8
PTY_POLL = 0.2  # seconds between checks of the CLI's terminal
PTY_READ = 4096


# --- helpers -------------------------------------------------------------------------------------


def customer_ids():
    pw = pwd.getpwnam(CUSTOMER)
    return pw.pw_uid, pw.pw_gid


@pytest.fixture(autouse=True)
def as_root():
    if os.geteuid() != 0:
        pytest.skip("these tests run the CLI as root against a customer's webroot")


def make_webroot(tmp_path, with_well_known=False, with_challenge=False):
    """A webroot owned by the customer, as a hosting provider's document root is."""
    uid, gid = customer_ids()
    webroot = tmp_path / "www"
    webroot.mkdir(mode=0o755)
    os.chown(webroot, uid, gid)
    if with_well_known or with_challenge:
        (webroot / ".well-known").mkdir(mode=0o755)
        os.chown(webroot / ".well-known", uid, gid)
    if with_challenge:
        (webroot / ".well-known" / "acme-challenge").mkdir(mode=0o755)
        os.chown(webroot / ".well-known" / "acme-challenge", uid, gid)
    return webroot


def make_victim(tmp_path):
    """A root-only directory outside the webroot with one root-only file in it."""
    victim = tmp_path / "victim"
    victim.mkdir(mode=VICTIM_DIR_MODE)
    os.chmod(victim, VICTIM_DIR_MODE)
    secret = victim / "secret"
    secret.write_text(VICTIM_CONTENT)
    os.chmod(secret, VICTIM_FILE_MODE)
    return victim, secret


def snapshot(victim):
    """Every entry below victim with its mode, owner and content: what must not change."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(victim):
        for name in [""] + dirnames + filenames:
            path = os.path.join(dirpath, name) if name else dirpath
            st = os.lstat(path)
            content = None
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as f:
                    content = f.read()
            state[os.path.relpath(path, victim)] = (st.st_mode, st.st_uid, st.st_gid, content)
    return state


def issue_webroot(cli, ca_url, ca_cert, store, webroot, names, expect=None):
    proc = run(cli, "issue", "--ca", ca_url, "--ca-cert", ca_cert, "--store", store, "--timeout",
               ISSUE_TIMEOUT_ARG, "--webroot", webroot, *names)
    if expect is not None:
        assert proc.returncode == expect, explain(proc)
    return proc


def assert_refused_link(proc, link_path):
    assert proc.returncode == EXIT_LOCAL, explain(proc)
    lines = [line for line in proc.stderr.splitlines()
             if str(link_path) in line and "symbolic link" in line and "refusing" in line]
    assert lines, "no error line names the link %s\n%s" % (link_path, explain(proc))


# --- links in the walk ---------------------------------------------------------------------------


def test_symlinked_acme_challenge_is_refused_and_target_untouched(autotls_cli, pebble, tmp_path):
    webroot = make_webroot(tmp_path, with_well_known=True)
    victim, _ = make_victim(tmp_path)
    link = webroot / ".well-known" / "acme-challenge"
    os.symlink(victim, link)
    before = snapshot(victim)
    store = str(tmp_path / "store")
    with WebrootServer(webroot, pebble.http01_port):
        proc = issue_webroot(autotls_cli, pebble.directory_url, pebble.ca_cert, store, webroot,
                             ["linked-challenge.test"])
    assert_refused_link(proc, link)
    assert snapshot(victim) == before
    assert os.path.islink(link) and os.readlink(link) == str(victim)
    assert not os.path.exists(os.path.join(store, "live", "linked-challenge.test"))


def test_symlinked_well_known_is_refused_and_target_untouched(autotls_cli, pebble, tmp_path):
    webroot = make_webroot(tmp_path)
    victim, _ = make_victim(tmp_path)
    link = webroot / ".well-known"
    os.symlink(victim, link)
    before = snapshot(victim)
    store = str(tmp_path / "store")
    with WebrootServer(webroot, pebble.http01_port):
        proc = issue_webroot(autotls_cli, pebble.directory_url, pebble.ca_cert, store, webroot,
                             ["linked-wellknown.test"])
    assert_refused_link(proc, link)
    assert snapshot(victim) == before
    assert not os.path.exists(os.path.join(store, "live", "linked-wellknown.test"))


def test_answer_name_planted_as_symlink_is_not_followed(autotls_cli, pebble, tmp_path,
                                                        monkeypatch):
    """The customer learns the token (here: from the CA's authorization, through a proxy) and
    plants <token> -> a root-only file before the CLI writes its answer."""
    webroot = make_webroot(tmp_path, with_challenge=True)
    challenge_dir = webroot / ".well-known" / "acme-challenge"
    victim, secret = make_victim(tmp_path)
    before = snapshot(victim)
    planted = []
    lock = threading.Lock()
    send = ari_proxy._Handler._send

    def planting_send(handler, status, headers, data):
        try:
            doc = json.loads(data) if data else None
        except ValueError:
            doc = None
        for ch in (doc or {}).get("challenges", []) if isinstance(doc, dict) else []:
            token = ch.get("token") if ch.get("type") == "http-01" else None
            with lock:
                if token and token not in planted:
                    os.symlink(secret, challenge_dir / token)
                    planted.append(token)
        return send(handler, status, headers, data)

    monkeypatch.setattr(ari_proxy._Handler, "_send", planting_send)
    store = str(tmp_path / "store")
    name = "planted-answer.test"
    with AriProxy(pebble, ari=False) as proxy, WebrootServer(webroot, pebble.http01_port) as www:
        proc = issue_webroot(autotls_cli, proxy.directory_url, proxy.ca_file, store, webroot,
                             [name])
        ca = types.SimpleNamespace(directory_url=proxy.directory_url, roots_pem=pebble.roots_pem)
    assert planted, "the proxy saw no http-01 token to plant"
    assert snapshot(victim) == before, "the planted link was followed"
    # the link was replaced by a real answer, not followed: the CA got it and it is gone again
    assert_issued(tmp_path, ca, store, [name], proc)
    answers = [s for s in www.served if s[0].endswith("/" + planted[0])]
    assert answers and answers[0][1] is not None, www.served
    assert (answers[0][1] & 0o170000) == 0o100000 and answers[0][1] & 0o777 == ANSWER_MODE
    assert os.listdir(challenge_dir) == []


def test_swapping_acme_challenge_during_issue_never_reaches_outside(autotls_cli, pebble,
                                                                     tmp_path):
    """A thread swaps acme-challenge between a real directory and a link to the victim as fast
    as it can while the CLI runs: whatever the outcome, the victim is untouched."""
    webroot = make_webroot(tmp_path, with_challenge=True)
    acme = str(webroot / ".well-known" / "acme-challenge")
    aside = str(webroot / ".well-known" / "aside")
    victim, _ = make_victim(tmp_path)
    before = snapshot(victim)
    stop = threading.Event()
    swaps = [0, 0]  # [swaps done, times the link was in place]

    def swapper():
        deadline = time.monotonic() + RACE_MAX_SECONDS
        while not stop.is_set() and time.monotonic() < deadline and swaps[0] < RACE_MAX_SWAPS:
            for step in (lambda: os.rename(acme, aside), lambda: os.symlink(victim, acme)):
                try:
                    step()
                except OSError:
                    pass
            if os.path.islink(acme):
                swaps[1] += 1
            time.sleep(0.0005)
            for step in (lambda: os.unlink(acme), lambda: os.rename(aside, acme)):
                try:
                    step()
                except OSError:
                    pass
            swaps[0] += 1

    thread = threading.Thread(target=swapper, daemon=True)
    store = str(tmp_path / "store")
    started = time.monotonic()
    with WebrootServer(webroot, pebble.http01_port):
        thread.start()
        try:
            proc = issue_webroot(autotls_cli, pebble.directory_url, pebble.ca_cert, store,
                                 webroot, ["swapped.test"])
        finally:
            stop.set()
            thread.join(RACE_MAX_SECONDS)
    assert not thread.is_alive()
    assert swaps[1] > 0, "the link was never in place: the race did not run"
    assert snapshot(victim) == before, "root wrote through the swapped link"
    assert proc.returncode in (0, 1, EXIT_LOCAL), explain(proc)
    assert time.monotonic() - started < CLI_TIMEOUT


def test_normal_webroot_gets_certificate_and_no_answer_left(autotls_cli, pebble, tmp_path):
    webroot = make_webroot(tmp_path)
    store = str(tmp_path / "store")
    name = "plain-webroot.test"
    with WebrootServer(webroot, pebble.http01_port) as www:
        proc = issue_webroot(autotls_cli, pebble.directory_url, pebble.ca_cert, store, webroot,
                             [name], expect=0)
    assert_issued(tmp_path, pebble, store, [name], proc)
    answers = [s for s in www.served if s[0].startswith("/.well-known/acme-challenge/")]
    assert answers, www.served
    for path, mode, uid in answers:
        assert mode is not None and mode & 0o777 == ANSWER_MODE, (path, oct(mode or 0))
        assert uid == 0
    # the directories it created are gone again; the customer's webroot is as it was
    assert os.listdir(webroot) == []
    assert os.stat(webroot).st_uid == customer_ids()[0]


def test_existing_challenge_dir_is_kept_and_left_empty(autotls_cli, pebble, tmp_path):
    webroot = make_webroot(tmp_path, with_challenge=True)
    challenge_dir = webroot / ".well-known" / "acme-challenge"
    store = str(tmp_path / "store")
    with WebrootServer(webroot, pebble.http01_port):
        issue_webroot(autotls_cli, pebble.directory_url, pebble.ca_cert, store, webroot,
                      ["kept-dir.test"], expect=0)
    assert os.listdir(challenge_dir) == []
    st = os.stat(challenge_dir)
    assert st.st_uid == customer_ids()[0] and st.st_mode & 0o777 == 0o755


# --- standalone against slow clients -------------------------------------------------------------


class SlowClients:
    """Idle and dripping connections to the standalone port, reopened whenever one is closed,
    until stop() (or SLOW_CLIENT_MAX_SECONDS). Records how long each dripping connection
    lived before the server cut it."""

    def __init__(self, port):
        self.port = port
        self.stop_event = threading.Event()
        self.drip_lifetimes = []
        self.connections = 0
        self.threads = [threading.Thread(target=self._idle, daemon=True)
                        for _ in range(SLOW_IDLE_CLIENTS)]
        self.threads += [threading.Thread(target=self._drip, daemon=True)
                         for _ in range(SLOW_DRIP_CLIENTS)]
        self.deadline = time.monotonic() + SLOW_CLIENT_MAX_SECONDS

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        for t in self.threads:
            t.join(SLOW_CLIENT_MAX_SECONDS)

    def _running(self):
        return not self.stop_event.is_set() and time.monotonic() < self.deadline

    def _connect(self):
        while self._running():
            try:
                s = socket.create_connection((LOOPBACK, self.port), timeout=1.0)
                self.connections += 1
                return s
            except OSError:
                self.stop_event.wait(0.05)
        return None

    def _idle(self):
        while self._running():
            s = self._connect()
            if s is None:
                return
            with s:
                s.settimeout(0.2)
                while self._running():
                    try:
                        if s.recv(1) == b"":
                            break  # closed by the server
                    except socket.timeout:
                        continue
                    except OSError:
                        break

    def _drip(self):
        request = b"GET /.well-known/acme-challenge/x HTTP/1.1\r\nHost: slow\r\n\r\n"
        while self._running():
            s = self._connect()
            if s is None:
                return
            opened = time.monotonic()
            with s:
                i = 0
                while self._running():
                    try:
                        s.send(request[i % len(request):i % len(request) + 1]
                               if i < len(request) - 4 else b"X")
                    except OSError:
                        self.drip_lifetimes.append(time.monotonic() - opened)
                        break
                    i += 1
                    if self.stop_event.wait(DRIP_INTERVAL):
                        break


def read_line(fd, timeout):
    """The first line written to the pty master fd, or what came until timeout or EOF."""
    data, end = b"", time.monotonic() + timeout
    while b"\n" not in data and time.monotonic() < end:
        if select.select([fd], [], [], PTY_POLL)[0]:
            try:
                chunk = os.read(fd, PTY_READ)
            except OSError:  # EIO: the CLI closed its end
                break
            if not chunk:
                break
            data += chunk
    return data.decode(errors="replace").replace("\r\n", "\n")


def issue_standalone_timed(cli, env, store, name, tmp_path):
    """Runs issue --standalone with stdout on a terminal (line-buffered, so the issued line
    arrives when it is printed); returns (result, total seconds, seconds from the issued line
    to the exit)."""
    args = [cli, "issue", "--ca", env.directory_url, "--ca-cert", env.ca_cert, "--store", store,
            "--timeout", ISSUE_TIMEOUT_ARG, "--standalone", "%s:%d" % (LOOPBACK, env.http01_port),
            name]
    master, slave = pty.openpty()
    with open(tmp_path / ("%s.stderr" % name), "w+") as err:
        started = time.monotonic()
        try:
            proc = subprocess.Popen(args, stdout=slave, stderr=err, stdin=subprocess.DEVNULL)
        finally:
            os.close(slave)
        try:
            line = read_line(master, CLI_TIMEOUT)
            issued_at = time.monotonic()
            try:
                proc.wait(CLI_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            exited = time.monotonic()
        finally:
            os.close(master)
        err.seek(0)
        result = subprocess.CompletedProcess(args, proc.returncode, line, err.read())
    return result, exited - started, exited - issued_at


def test_standalone_slow_clients_stall_neither_validation_nor_exit(autotls_cli, pebble,
                                                                   tmp_path):
    baseline, base_total, _ = issue_standalone_timed(autotls_cli, pebble, str(tmp_path / "base"),
                                                     "fast.slow.test", tmp_path)
    assert baseline.returncode == 0, explain(baseline)
    with SlowClients(pebble.http01_port) as slow:
        proc, total, exit_delay = issue_standalone_timed(autotls_cli, pebble,
                                                         str(tmp_path / "store"),
                                                         "slow.slow.test", tmp_path)
        connections = slow.connections
    assert proc.returncode == 0, explain(proc)
    assert issued_line(proc).group("site") == "slow.slow.test"
    assert connections >= SLOW_IDLE_CLIENTS + SLOW_DRIP_CLIENTS, "slow clients never connected"
    assert exit_delay < EXIT_AFTER_ISSUED_MAX, "exit took %.1fs after the issued line" % exit_delay
    assert total < base_total + SLOW_EXTRA_MAX, "%.1fs with slow clients, %.1fs without" % (
        total, base_total)


def test_standalone_cuts_a_dripping_client_at_the_deadline(autotls_cli, pebble, tmp_path):
    """A client that sends a byte per second is cut after the whole-request deadline, not kept
    for as long as it keeps sending. The CA here accepts connections and never answers, so the
    CLI's server stays up for the whole --timeout."""
    with socket.socket() as silent_ca:
        silent_ca.bind((LOOPBACK, 0))
        silent_ca.listen(SILENT_CA_BACKLOG)
        ca_url = "https://%s:%d/dir" % (LOOPBACK, silent_ca.getsockname()[1])
        with SlowClients(pebble.http01_port) as slow:
            started = time.monotonic()
            proc = run(autotls_cli, "issue", "--ca", ca_url, "--ca-cert", pebble.ca_cert,
                       "--store", str(tmp_path / "store"), "--timeout", SILENT_CA_TIMEOUT_ARG,
                       "--standalone", "%s:%d" % (LOOPBACK, pebble.http01_port), "cut.test")
            elapsed = time.monotonic() - started
            lifetimes = list(slow.drip_lifetimes)
    assert proc.returncode != 0, explain(proc)
    assert lifetimes, "no dripping connection was cut in %.1fs" % elapsed
    assert max(lifetimes) < STANDALONE_DEADLINE + CUT_SLACK, lifetimes
    # the exit did not wait for the slow clients either
    assert elapsed < int(SILENT_CA_TIMEOUT_ARG) + STANDALONE_DEADLINE, elapsed
