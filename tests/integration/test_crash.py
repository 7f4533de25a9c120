# SPDX-License-Identifier: Apache-2.0
"""Crash safety: kill -9 of the whole server during orders, ten times in a row, then a normal start.

The one idea to hold: a kill may land at any instant (an order at the CA, a staging set half
written, the activator in the middle of a promotion), and the store must never be torn by it.
Each round starts the server, waits until orders are in flight (a challenge response or a staging
set appears in the store), waits a round-specific delay so that the kills spread over the phases
of an order, and kills the parent with every child and the activator at once (SIGKILL to the
server's own process group, found from this test's pid file). Then, before the next start:
every file in live/ parses, each key matches its chain (or an interrupted promotion's journal
holds a matching pair, which startup completes); after the next start: the leftovers of the kill
(temp files, unfinished staging sets, challenge responses) are gone and every site whose stored
certificate was valid is served that CA certificate at once, never the placeholder. A final
normal start must bring every site a certificate from this pebble run with nothing left over.

Between rounds the test asks for a renewal of every site (jobs/<site>.renew, what `autotls renew`
writes), so that every round has orders to interrupt even once all sites hold certificates.

The kill lands where it lands; so each state a kill can leave is also built by hand once (a
promotion interrupted before and after its commit, a torn live/ beside a valid archived set, an
expired certificate), with certificates from a CA of the test's own, and one start must serve
each site what the design says.
"""

import calendar
import datetime
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import time

import pytest

import httpd
from autotls_server import AutoTLSServer, Site, free_port, normalize_serial, skip_unless_runnable
from test_activator import CATool

MODULE = skip_unless_runnable()

SITES = (
    Site("crash-a.test", aliases=("www.crash-a.test",)),
    Site("crash-b.test"),
    Site("crash-c.test", aliases=("www.crash-c.test", "shop.crash-c.test")),
    Site("crash-d.test"),
)
ROUNDS = 10
# Seconds between "an order is in flight" and the kill, one per round: spread over an order's
# phases (validation, finalization, download, staging, activation; pebble takes about 1 s).
KILL_DELAYS = (0.0, 0.15, 0.35, 0.6, 0.9, 0.05, 0.25, 0.5, 0.75, 1.2)
ORDERS_WAIT = 20.0  # seconds for a round's orders to show up in the store
KILL_WAIT = 10.0  # seconds for every killed process to be gone
SERVED_TIMEOUT = 60.0  # final start: seconds until every site serves a pebble certificate
QUIET_TIMEOUT = 30.0  # final start: seconds until no order or staged set is left
RENEW_FAIL_WAIT = 10.0  # seconds for the renewal thread to fail against a closed port
POLL = 0.005
QUIET_POLL = 0.1
OPENSSL_TIMEOUT = 10
ISSUER = "Pebble"
WORKER = "autotls"  # the ACME account (AutoTLSUser): it owns jobs/
ACTIVATOR_COMM = "autotls-activ"
TEMP_RE = re.compile(r"^\..+\.tmp\.[A-Za-z0-9]{6}$")
KEY_ITEMS = {"privkey.pem", "next.privkey.pem", "placeholder.key"}
CHAIN_ITEMS = {"fullchain.pem", "next.fullchain.pem", "placeholder.pem"}
META_ITEM = "meta.json"  # the CA the activator recorded: written whole (temp file + rename)
PEM_CERT_RE = re.compile(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", re.S)


def meta_whole(path):
    """Whether meta.json parses as an object naming its CA."""
    try:
        with open(path) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and isinstance(meta.get("ca"), str)


def report(capsys, text):
    with capsys.disabled():
        print("\n[autotls crash] %s" % text)


# --- reading certificates with the openssl command -------------------------------------------


def openssl(args, data=None):
    """stdout of `openssl args` on data, or None when openssl refuses it."""
    proc = subprocess.run(["openssl", *args], input=data, capture_output=True, text=True,
                          timeout=OPENSSL_TIMEOUT, check=False)
    return proc.stdout if proc.returncode == 0 else None


def key_public(path):
    return openssl(["pkey", "-in", str(path), "-pubout"])


def chain_facts(path):
    """(leaf public key, leaf issuer, leaf expiry as epoch) when every certificate of the PEM file
    parses, else None."""
    text = pathlib.Path(path).read_text(errors="replace")
    blocks = PEM_CERT_RE.findall(text)
    if not blocks:
        return None
    for block in blocks[1:]:
        if openssl(["x509", "-noout"], block) is None:
            return None
    out = openssl(["x509", "-noout", "-pubkey", "-issuer", "-enddate", "-nameopt", "oneline"],
                  blocks[0])
    if out is None:
        return None
    pub = out[out.index("-----BEGIN PUBLIC KEY-----"):out.index("-----END PUBLIC KEY-----")]
    issuer = re.search(r"^issuer=(.*)$", out, re.M).group(1)
    end = re.search(r"^notAfter=(.*)$", out, re.M).group(1)
    return pub, issuer, calendar.timegm(time.strptime(end, "%b %d %H:%M:%S %Y GMT"))


def matches(key_path, chain_path):
    pub = key_public(key_path)
    facts = chain_facts(chain_path)
    return pub is not None and facts is not None and pub.startswith(facts[0])


# --- the store, after a kill ---------------------------------------------------------------


def walk_store(store):
    """Every file below the store (path, lstat)."""
    found = []
    for top, dirs, files in os.walk(store):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(top, d))]:
            path = os.path.join(top, name)
            found.append((path, os.lstat(path)))
    return found


def check_live_site(directory):
    """Problems of live/<site>/ as a kill left it (empty list: consistent), and whether it holds
    a valid CA certificate, which the next start must then serve.

    Consistent means: the pair the next start serves matches. That is the journal's pending pair
    (next.<item> where present, else <item>) when it matches, else the plain pair (at_live.h).
    A journal the kill left before its commit (next.privkey.pem alone) is discarded by that
    start; on a site's first promotion nothing plain is left then, and the placeholder stays."""
    problems = []
    items = {n for n in os.listdir(directory) if not TEMP_RE.match(n)}
    for name in sorted(items):
        path = os.path.join(directory, name)
        if name in KEY_ITEMS and key_public(path) is None:
            problems.append("%s does not parse as a key" % path)
        elif name in CHAIN_ITEMS and chain_facts(path) is None:
            problems.append("%s does not parse as a certificate chain" % path)
        elif name == META_ITEM and not meta_whole(path):
            problems.append("%s is not a whole record of the CA" % path)
        elif name not in KEY_ITEMS | CHAIN_ITEMS | {META_ITEM}:
            problems.append("%s: unexpected file in live/" % path)
    if problems:
        return problems, False

    def pair(key, chain):
        if key in items and chain in items and matches(os.path.join(directory, key),
                                                       os.path.join(directory, chain)):
            return os.path.join(directory, chain)
        return None

    served = None
    if items & {"next.privkey.pem", "next.fullchain.pem"}:
        served = pair("next.privkey.pem" if "next.privkey.pem" in items else "privkey.pem",
                      "next.fullchain.pem" if "next.fullchain.pem" in items else "fullchain.pem")
        if served is None and {"next.privkey.pem", "next.fullchain.pem"} <= items:
            problems.append("%s: the committed journal's key does not match its chain" % directory)
    served = served or pair("privkey.pem", "fullchain.pem")
    if served is None and items & {"privkey.pem", "fullchain.pem"}:
        problems.append("%s: no matching certificate pair, the journal's or the live one (%s)"
                        % (directory, sorted(items)))
    if {"placeholder.key", "placeholder.pem"} <= items and \
            pair("placeholder.key", "placeholder.pem") is None:
        problems.append("%s: the placeholder's key does not match its certificate" % directory)
    facts = chain_facts(served) if served else None
    return problems, facts is not None and ISSUER in facts[1] and facts[2] > time.time()


def after_kill(store):
    """What a kill left: problems in live/, the sites with a valid stored CA certificate, and the
    leftovers the next start must remove (temp files, unfinished staging sets, challenges)."""
    problems, valid = [], set()
    live = os.path.join(store, "live")
    for site in sorted(os.listdir(live)) if os.path.isdir(live) else []:
        site_problems, site_valid = check_live_site(os.path.join(live, site))
        problems += site_problems
        if site_valid:
            valid.add(site)
    temps = [p for p, _ in walk_store(store) if TEMP_RE.match(os.path.basename(p))]
    staging = os.path.join(store, "staging")
    unfinished, ready = [], []
    for site in sorted(os.listdir(staging)) if os.path.isdir(staging) else []:
        (ready if os.path.exists(os.path.join(staging, site, "ready")) else unfinished).append(site)
    challenges = os.path.join(store, "challenges")
    tokens = [t for t in os.listdir(challenges) if not t.startswith(".")] \
        if os.path.isdir(challenges) else []
    journals = [s for s in (os.listdir(live) if os.path.isdir(live) else [])
                if os.path.exists(os.path.join(live, s, "next.fullchain.pem"))
                or os.path.exists(os.path.join(live, s, "next.privkey.pem"))]
    return {"problems": problems, "valid": valid, "temps": temps, "unfinished": unfinished,
            "ready": ready, "challenges": tokens, "journals": journals}


def survivors(store, found, killed_at):
    """Leftovers of the kill still there after the next start (anything older than the kill)."""
    left = [p for p in found["temps"] if os.path.lexists(p)]
    for site in found["unfinished"]:
        directory = os.path.join(store, "staging", site)
        if os.path.isdir(directory) and not os.path.exists(os.path.join(directory, "ready")) \
                and all(os.lstat(os.path.join(directory, n)).st_mtime <= killed_at
                        for n in os.listdir(directory)):
            left.append(directory)
    for token in found["challenges"]:
        path = os.path.join(store, "challenges", token)
        if os.path.lexists(path) and os.lstat(path).st_mtime <= killed_at:
            left.append(path)
    return left


# --- processes ---------------------------------------------------------------------------------


def process_group(pgid):
    """{pid: comm} of the live (not zombie) processes in process group pgid."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = pathlib.Path("/proc", entry, "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            found[int(entry)] = comm
    return found


def kill_server(server):
    """SIGKILL to the server's whole process group at once: the parent (a session and group
    leader once it detached), its children and the activator. Only a group whose leader is this
    test's own apache2 (pid file, command line naming our config) is signalled."""
    parent = server.parent_pid()
    assert parent and server._ours(parent), "no apache2 of ours in %s" % server.pid_file
    pgid = os.getpgid(parent)
    assert pgid == parent, "apache2 %d is not its own process group leader (%d)" % (parent, pgid)
    members = process_group(pgid)
    os.killpg(pgid, signal.SIGKILL)
    killed_at = time.time()
    deadline = time.monotonic() + KILL_WAIT
    while process_group(pgid) and time.monotonic() < deadline:
        time.sleep(POLL)
    assert not process_group(pgid), "processes survived SIGKILL: %s" % process_group(pgid)
    os.remove(server.pid_file)  # stale: the next start must not read the dead parent from it
    server.pid = None
    return members, killed_at


def request_renewals(server):
    """Drops jobs/<site>.renew for every site, as `autotls renew` does."""
    jobs = os.path.join(server.store, "jobs")
    if not os.path.isdir(jobs):
        return
    for site in SITES:
        path = os.path.join(jobs, site.name + ".renew")
        with open(path, "w"):
            pass
        os.chmod(path, 0o644)
        shutil.chown(path, WORKER, WORKER)


def orders_in_flight(store):
    """Whether the store shows an order at work: a challenge response or a staging set."""
    for group in ("challenges", "staging"):
        directory = os.path.join(store, group)
        if os.path.isdir(directory) and any(not n.startswith(".") for n in os.listdir(directory)):
            return True
    return False


def wait_orders(server):
    deadline = time.monotonic() + ORDERS_WAIT
    while time.monotonic() < deadline:
        if orders_in_flight(server.store):
            return True
        time.sleep(POLL)
    return False


def wait_quiet(server):
    """Waits until no order runs and nothing is staged (bounded); returns whether it got there."""
    deadline = time.monotonic() + QUIET_TIMEOUT
    while time.monotonic() < deadline:
        if not orders_in_flight(server.store):
            return True
        time.sleep(QUIET_POLL)
    return False


def describe(found):
    parts = []
    for key, label in (("challenges", "challenge(s)"), ("unfinished", "unfinished staging"),
                       ("ready", "ready staging"), ("journals", "promotion journal(s)"),
                       ("temps", "temp file(s)")):
        if found[key]:
            parts.append("%d %s" % (len(found[key]), label))
    return ", ".join(parts) or "nothing in flight"


def test_kill_9_during_orders_ten_times_then_a_normal_start(pebble_factory, capsys):
    env = pebble_factory(authz_reuse=0)  # every order validates: longer windows to kill into
    server = AutoTLSServer(SITES, pebble=env)
    rounds = []
    try:
        for number in range(ROUNDS):
            if not env.healthy():
                # pebble's deadlock (docs/ARCHITECTURE.md, "The test CA"), not this test's subject
                env.restart()
            request_renewals(server)
            offset = len(server.error_log())
            server.start()
            if number > 0:
                previous = rounds[-1]
                left = survivors(server.store, previous["found"], previous["killed_at"])
                assert not left, "round %d: leftovers of the kill survived the start: %s\n%s" % (
                    number, left, server.log_tail())
                for name in sorted(previous["found"]["valid"]):
                    cert = server.served_cert(name)
                    assert ISSUER in cert.issuer, (
                        "round %d: %s had a valid certificate stored but is served %s\n%s"
                        % (number, name, cert.issuer, server.log_tail()))
            in_flight = wait_orders(server)
            time.sleep(KILL_DELAYS[number])
            live_lines = server.error_log()[offset:].count("autotls-0312:")
            members, killed_at = kill_server(server)
            assert ACTIVATOR_COMM in members.values(), "the activator was not in the group"
            found = after_kill(server.store)
            assert not found["problems"], "round %d: the store is torn:\n%s" % (
                number, "\n".join(found["problems"]))
            rounds.append({"found": found, "killed_at": killed_at, "in_flight": in_flight,
                           "promoted": live_lines, "processes": len(members)})

        if not env.healthy():
            env.restart()
        server.start()
        left = survivors(server.store, rounds[-1]["found"], rounds[-1]["killed_at"])
        assert not left, "leftovers of the last kill survived the start: %s" % left
        for name in sorted(rounds[-1]["found"]["valid"]):
            assert ISSUER in server.served_cert(name).issuer, name
        for site in SITES:
            server.wait_until_served(site.name, ISSUER, SERVED_TIMEOUT)
        assert wait_quiet(server), "orders or staged sets never finished:\n" + server.log_tail()
        for site in SITES:
            for name in site.names:
                cert = server.served_cert(name, verify=True)  # to this pebble run's root
                assert ISSUER in cert.issuer and name in cert.sans, (name, cert)
        final = after_kill(server.store)  # the same checks, on a store at rest
        assert not final["problems"], final["problems"]
        assert not final["unfinished"] and not final["ready"], final
        assert not final["journals"] and not final["temps"], final
        assert final["valid"] >= {s.name for s in SITES}, final["valid"]
        log = server.error_log()
        # mid-order: orders were seen and not every site's new certificate went live before it
        mid = sum(1 for r in rounds if r["in_flight"] and r["promoted"] < len(SITES))
        swept = [sum(int(n) for n in found) for found in zip(*re.findall(
            r"autotls-0280: \w+ start: removed (\d+) unfinished staged set\(s\), (\d+) stale "
            r"challenge\(s\), (\d+) temp file", log))]
        report(capsys, "%d kills, %d landed mid-order; the starts after them removed %s "
               "unfinished staging set(s), %s challenge(s), %s temp file(s); %d interrupted "
               "promotion(s) completed, %d undone"
               % (len(rounds), mid, *(swept or [0, 0, 0]), log.count("was completed: the new"),
                  log.count("was undone: the previous")))
        for number, r in enumerate(rounds):
            report(capsys, "round %d: kill %.2f s after orders showed (%s), %d process(es) "
                   "killed, %d promotion(s) before it; store after the kill: %s; valid stored: %d"
                   % (number, KILL_DELAYS[number], "seen" if r["in_flight"] else "none seen",
                      r["processes"], r["promoted"], describe(r["found"]),
                      len(r["found"]["valid"])))
    finally:
        if server.parent_pid() and server._ours(server.parent_pid()):
            server.stop()
        if not server.keep:
            shutil.rmtree(server.root, ignore_errors=True)


# --- each state a kill can leave, built by hand -------------------------------------------------

STAMP_FORMAT = "%Y%m%dT%H%M%S.000000Z"
DAY = 86400
DAY_DELTA = datetime.timedelta(days=1)


def write_item(path, text, mode):
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def write_set(directory, key, chain, key_item="privkey.pem", chain_item="fullchain.pem"):
    if key is not None:
        write_item(os.path.join(directory, key_item), key, 0o600)
    if chain is not None:
        write_item(os.path.join(directory, chain_item), chain, 0o644)


def test_startup_settles_every_state_a_kill_can_leave(tmp_path):
    """One start, one site per state; nothing can be ordered (the CA is a closed port)."""
    os.chmod(tmp_path, 0o755)
    ca = CATool(tmp_path, "Crash Test", 0x2000)
    names = ("after-commit.test", "mid-copy.test", "before-commit.test", "torn.test",
             "expired.test", "valid.test")
    server = AutoTLSServer([Site(n) for n in names],
                           ca_url="https://127.0.0.1:%d/dir" % free_port(),
                           extra='AutoTLSIssuerRoots "%s"' % ca.root)
    live = os.path.join(server.store, "live")
    old, new = {}, {}
    for name in names:
        old[name] = ca.leaf([name])
        new[name] = ca.leaf([name])
        write_set(os.path.join(live, name), old[name][0], old[name][1])
    # killed after the commit: the journal holds the new pair, live/ the old one
    write_set(os.path.join(live, "after-commit.test"), new["after-commit.test"][0],
              new["after-commit.test"][1], "next.privkey.pem", "next.fullchain.pem")
    # killed in the middle of the copy: the new key is live, the old chain, the journal's chain
    directory = os.path.join(live, "mid-copy.test")
    write_set(directory, new["mid-copy.test"][0], None)
    write_set(directory, None, new["mid-copy.test"][1], chain_item="next.fullchain.pem")
    # killed before the commit: only the new key reached the journal
    write_set(os.path.join(live, "before-commit.test"), new["before-commit.test"][0], None,
              key_item="next.privkey.pem")
    # live/ torn without a journal (a foreign key beside the chain); the archive holds the set
    # replaced yesterday, still valid
    write_set(os.path.join(live, "torn.test"), new["torn.test"][0], None)
    stamp = time.strftime(STAMP_FORMAT, time.gmtime(time.time() - DAY))
    write_set(os.path.join(server.store, "archive", "torn.test"), old["torn.test"][0],
              old["torn.test"][1], stamp + ".privkey.pem", stamp + ".fullchain.pem")
    write_set(os.path.join(server.store, "archive", "torn.test"), new["torn.test"][0], None,
              stamp.replace("000000Z", "000001Z") + ".privkey.pem")  # half an archived set
    # a certificate that expired yesterday, whose renewal never succeeded
    expired = ca.leaf(["expired.test"], start=-30 * DAY_DELTA, end=-DAY_DELTA)
    write_set(os.path.join(live, "expired.test"), expired[0], expired[1])
    # an orphaned staging set (killed while writing it) and a stale challenge response
    write_item(os.path.join(server.store, "staging", "valid.test", "privkey.pem"), "k", 0o600)
    write_item(os.path.join(server.store, "challenges", "stale-token"), "x", 0o644)
    write_item(os.path.join(live, "valid.test", ".fullchain.pem.tmp.Ab12Cd"), "-----BEGIN", 0o600)

    with server:
        server.start()
        want = {"after-commit.test": new, "mid-copy.test": new, "before-commit.test": old,
                "torn.test": old, "valid.test": old}
        for name, sets in want.items():
            served = server.served_cert(name)
            assert served.serial == normalize_serial(sets[name][2]), (name, served,
                                                                       server.log_tail())
            assert not os.path.exists(os.path.join(live, name, "next.privkey.pem")), name
            assert not os.path.exists(os.path.join(live, name, "next.fullchain.pem")), name
            assert matches(os.path.join(live, name, "privkey.pem"),
                           os.path.join(live, name, "fullchain.pem")), name
        log = server.error_log()
        assert re.search(r"autotls-0277: after-commit.test: .* completed", log), log
        assert re.search(r"autotls-0277: mid-copy.test: .* completed", log), log
        assert re.search(r"autotls-0277: before-commit.test: .* undone", log), log
        assert re.search(r"autotls-0278: torn.test: .* replaced at %s is still valid"
                         % re.escape(stamp), log), log
        archived = os.listdir(os.path.join(server.store, "archive", "torn.test"))
        assert sorted(archived) == [stamp + ".fullchain.pem", stamp + ".privkey.pem"], archived
        # the expired certificate is not served (clients refuse it anyway), loudly
        served = server.served_cert("expired.test")
        assert served.serial != normalize_serial(expired[2]) and "Crash Test" not in \
            served.issuer, served
        assert re.search(r"\[autotls:error\] .*autotls-0275: expired.test: the live certificate "
                         r"%s EXPIRED" % normalize_serial(expired[2]), log), log
        # what the kills left is gone
        assert not os.path.exists(os.path.join(server.store, "staging", "valid.test"))
        assert not os.path.exists(os.path.join(server.store, "challenges", "stale-token"))
        assert not os.path.exists(os.path.join(live, "valid.test", ".fullchain.pem.tmp.Ab12Cd"))
        assert re.search(r"autotls-0280: cold start: removed 1 unfinished staged set\(s\), 1 "
                         r"stale challenge\(s\), 1 temp file", log), log
        # the valid one keeps being served while its renewal fails (the CA is a closed port)
        deadline = time.monotonic() + RENEW_FAIL_WAIT
        while "no ACME account" not in server.error_log() and time.monotonic() < deadline:
            time.sleep(QUIET_POLL)
        assert "no ACME account" in server.error_log(), server.log_tail()
        assert server.served_cert("valid.test").serial == normalize_serial(old["valid.test"][2])
