# SPDX-License-Identifier: Apache-2.0
"""The renewal process of issue 9: who runs the ACME client, and how it is replaced.

The one idea to hold: the ACME client runs in a process of its own, forked by the root parent,
as the ACME account (AutoTLSUser, default `autotls`), never as User (www-data), whose uid every
tenant's PHP/CGI code shares. At a graceful restart the old process finishes the order it has in
flight while the new one waits for the store's scheduler lock: the certificate still arrives,
with one order at the CA. A store written by an older release (its directories owned by User) is
handed over at the first start without a walk by root where User can write, and without a new
order. What a tenant can reach is tested in test_security.py.

Runs as root only, with event and prefork. An AriProxy in front of pebble holds the finalize
request, so that an order is in flight for as long as the test needs.
"""

import json
import os
import pwd
import re
import stat
import time

import pytest

from ari_proxy import AriProxy
from autotls_server import (ACME_USER, RESUMING, WWW_USER, AutoTLSServer, Site,
                            skip_unless_runnable, wait_for)

MODULE = skip_unless_runnable()

ISSUER = "Pebble"
RENEW_COMM = "autotls-renew"
SERVED_TIMEOUT = 30.0
FINALIZE_PATH = "/finalize-order/"  # pebble's finalize URLs
FINALIZE_HOLD = 5.0  # seconds the proxy holds a finalize: the order is in flight that long
IN_FLIGHT_TIMEOUT = 20.0
QUIET_SECONDS = 4.0  # renewal ticks are 1 s: an order after a restart would show by then
ACME = pwd.getpwnam(ACME_USER)
WWW = pwd.getpwnam(WWW_USER)


def processes(parent):
    """{pid: (comm, uid, gid, groups)} of the parent's children."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/status" % entry) as f:
                status = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
        except OSError:
            continue
        if int(status["PPid"]) != parent:
            continue
        found[int(entry)] = (status["Name"], int(status["Uid"].split()[0]),
                             int(status["Gid"].split()[0]),
                             tuple(int(g) for g in status.get("Groups", "").split()))
    return found


def renewal_processes(server):
    return {pid: p for pid, p in processes(server.parent_pid()).items() if p[0] == RENEW_COMM}


@pytest.mark.parametrize("mpm", ["event", "prefork"])
def test_renewal_process_runs_as_the_acme_account(pebble, mpm):
    site = Site("run-as.isolation.test")
    with AutoTLSServer((site,), pebble=pebble, mpm=mpm) as server:
        server.wait_until_served(site.name, ISSUER, SERVED_TIMEOUT)
        renew = wait_for("the renewal process", lambda: renewal_processes(server), 10, server)
        assert len(renew) == 1, renew
        (pid, (comm, uid, gid, groups)), = renew.items()
        assert (uid, gid) == (ACME.pw_uid, ACME.pw_gid), (comm, uid, gid)
        assert WWW.pw_gid not in groups and 0 not in groups, groups
        assert re.search(r"autotls-0606: renewal process started, pid %d, as %s \(uid %d\)"
                         % (pid, ACME_USER, ACME.pw_uid), server.error_log())
        # The children are User's; nothing of the ACME client runs there any more.
        others = [p for p in processes(server.parent_pid()).values() if p[0] != RENEW_COMM]
        assert any(p[1] == WWW.pw_uid for p in others), others
        assert "autotls-0410" not in server.error_log()  # the account exists: no fallback


def restart(server, how):
    """`apache2 -k graceful|restart` (the latter: prefork signals the whole process group with
    SIGHUP); returns once the new generation resumed."""
    if how == "graceful":
        server.graceful()
        return
    before = server.count(RESUMING)
    proc = server.apache2("-k", how)
    assert proc.returncode == 0, proc.stderr
    wait_for("the new generation", lambda: server.count(RESUMING) > before, SERVED_TIMEOUT,
             server)


@pytest.mark.parametrize("mpm,how", [("event", "graceful"), ("prefork", "graceful"),
                                     ("prefork", "restart")])
def test_restart_during_an_order_finishes_it_once(pebble, mpm, how):
    site = Site("%s-%s.isolation.test" % (how, mpm))
    with AriProxy(pebble) as proxy, \
            AutoTLSServer((site,), pebble=pebble, ca_url=proxy.directory_url, mpm=mpm) as server:
        proxy.delay(FINALIZE_PATH, FINALIZE_HOLD)
        wait_for("an order at finalize",
                 lambda: any(m == "POST" and p.startswith(FINALIZE_PATH)
                             for m, p in proxy.requests), IN_FLIGHT_TIMEOUT, server)
        (old_pid,) = renewal_processes(server)
        restart(server, how)
        served = server.wait_until_served(site.name, ISSUER, SERVED_TIMEOUT)
        assert served.sans == (site.name,), served
        # The successor takes the lock within a tick of the old process's exit.
        wait_for("the successor's start", lambda: server.count("autotls-0606: renewal process "
                                                               "started") == 2, 10, server)
        log = server.error_log()
        assert re.search(r"autotls-0622: renewal process \(pid %d\) stopping: finishing 1 task"
                         % old_pid, log), server.log_tail()
        # The successor waited for the lock, and only started once the old one had stopped.
        stopped = log.index("autotls-0623: renewal process stopped, pid %d" % old_pid)
        started = [m.start() for m in re.finditer(r"autotls-0606: renewal process started", log)]
        assert len(started) == 2 and started[1] > stopped, server.log_tail()
        assert re.search(r"autotls-0620: renewal process \(pid \d+\) waits for the previous",
                         log), server.log_tail()
        assert len(proxy.orders) == 1, proxy.orders
        # No "long lost child" from the MPM, no respawn: the handed-over process was watched.
        assert "long lost child" not in log and "autotls-0303" not in log, server.log_tail()
        proxy.delay(FINALIZE_PATH, 0)


def test_missing_acme_account_falls_back_to_user_with_a_warning(pebble):
    site = Site("fallback.isolation.test")
    extra = "AutoTLSUser autotls-no-such-account"
    with AutoTLSServer((site,), pebble=pebble, extra=extra) as server:
        server.wait_until_served(site.name, ISSUER, SERVED_TIMEOUT)
        assert re.search(r"autotls-0410: AutoTLSUser autotls-no-such-account: no such account; "
                         r"the ACME client runs as User \(www-data\)", server.error_log())
        (comm, uid, _, _), = renewal_processes(server).values()
        assert uid == WWW.pw_uid


def test_user_named_as_acme_account_is_warned_about_with_what_it_gives_away():
    site = Site("asuser.isolation.test")
    with AutoTLSServer((site,), ca_url="https://127.0.0.1:9/dir",
                       extra="AutoTLSUser %s" % WWW_USER) as server:
        line = wait_for("the warning", lambda: re.search(
            r"autotls-0852: AutoTLSUser %s is User \(uid %d\): .*read the ACME account key.*"
            r"event files and forge the status snapshot" % (WWW_USER, WWW.pw_uid),
            server.error_log()), 15.0, server, 0.1)
        assert line
        (comm, uid, _, _), = renewal_processes(server).values()
        assert uid == WWW.pw_uid


def test_root_as_acme_account_is_refused_at_config_check():
    site = Site("root.isolation.test")
    server = AutoTLSServer((site,), ca_url="https://127.0.0.1:9/dir", extra="AutoTLSUser root")
    server.write_config()
    proc = server.apache2("-t")
    assert proc.returncode != 0
    assert re.search(r"AutoTLSUser: \S*root\S* cannot be the ACME account", proc.stderr), \
        proc.stderr


# --- a store written by an older release ----------------------------------------------------


def tree(path):
    """{relative path: (uid, mode, content)} of every file below path (no links followed)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(path):
        for name in filenames:
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            content = open(full, "rb").read() if stat.S_ISREG(st.st_mode) else None
            out[os.path.relpath(full, path)] = (st.st_uid, stat.S_IMODE(st.st_mode), content)
    return out


def make_old_release_store(server, canary):
    """Gives accounts/, jobs/, staging/ and challenges/ to www-data, as releases before the ACME
    account did, and plants what a tenant could have put there meanwhile: a symlink and a hard
    link to a root-only canary, and a directory tree."""
    for group in ("accounts", "jobs", "staging", "challenges"):
        top = os.path.join(server.store, group)
        for dirpath, dirnames, filenames in os.walk(top):
            os.chown(dirpath, WWW.pw_uid, WWW.pw_gid)
            os.chmod(dirpath, 0o700 if group == "accounts" else 0o755)
            for name in filenames:
                os.chown(os.path.join(dirpath, name), WWW.pw_uid, WWW.pw_gid)
    (ca_dir,) = os.listdir(os.path.join(server.store, "accounts"))
    accounts = os.path.join(server.store, "accounts", ca_dir)
    os.symlink(canary, os.path.join(accounts, "planted-link.pem"))
    os.link(canary, os.path.join(server.store, "jobs", "planted-hardlink.json"))
    nested = os.path.join(server.store, "jobs", "planted-tree", "deeper")
    os.makedirs(nested)
    with open(os.path.join(nested, "x.json"), "w") as f:
        f.write("{}")
    return ca_dir


def test_store_of_an_older_release_is_adopted_without_a_new_order(pebble, tmp_path):
    site = Site("adopt.isolation.test")
    canary = str(tmp_path / "canary")
    with open(canary, "w") as f:
        f.write("root only\n")
    os.chmod(canary, 0o600)
    server = AutoTLSServer((site,), pebble=pebble)
    server.start()
    try:
        before = server.wait_until_served(site.name, ISSUER, SERVED_TIMEOUT)
        wait_for("the job file", lambda: os.path.exists(
            os.path.join(server.store, "jobs", site.name + ".json")), 10, server)
    finally:
        server.stop()
    job_before = open(os.path.join(server.store, "jobs", site.name + ".json")).read()
    ca_dir = make_old_release_store(server, canary)
    with server:
        assert server.served_cert(site.name).serial == before.serial
        log = server.error_log()
        for group in ("accounts", "jobs", "staging", "challenges"):
            assert re.search(r"autotls-0292: store: %s/ belonged to uid %d; handed over to the "
                             r"ACME account %s" % (group, WWW.pw_uid, ACME_USER), log), group
            st = os.lstat(os.path.join(server.store, group))
            assert st.st_uid == ACME.pw_uid, group
            assert stat.S_IMODE(st.st_mode) == (0o755 if group == "challenges" else 0o700), group
        asides = [n for n in os.listdir(server.store) if ".before-uid%d-" % WWW.pw_uid in n]
        assert len(asides) == 4, asides
        for name in asides:
            st = os.lstat(os.path.join(server.store, name))
            assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o700), name
        key = os.path.join(server.store, "accounts", ca_dir, "account.key")
        st = os.lstat(key)
        assert (st.st_uid, stat.S_IMODE(st.st_mode), st.st_nlink) == (ACME.pw_uid, 0o600, 1)
        assert not os.path.lexists(os.path.join(server.store, "accounts", ca_dir,
                                                "planted-link.pem"))
        assert not os.path.lexists(os.path.join(server.store, "jobs", "planted-hardlink.json"))
        assert not os.path.lexists(os.path.join(server.store, "jobs", "planted-tree"))
        # No new order: the account and the schedule came along.
        time.sleep(QUIET_SECONDS)
        assert "autotls-0602" not in server.error_log()[len(log):]
        assert "autotls-0602" not in log.split("autotls-0606")[-1]
        assert server.served_cert(site.name).serial == before.serial
        # The schedule came along (the ARI poll of the served certificate may have been noted).
        job_after = json.loads(open(os.path.join(server.store, "jobs", site.name + ".json")).read())
        job_before = json.loads(job_before)
        # the ARI window and the status snapshot's pending_since follow what is served (the
        # first run may stop before it notices its own certificate); the schedule must survive
        for volatile in ("ari", "pending_since"):
            job_after.pop(volatile, None)
            job_before.pop(volatile, None)
        assert job_after == job_before
    # The canary the tenant linked in is untouched, and still root's alone.
    st = os.stat(canary)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o600)
    assert open(canary).read() == "root only\n"
