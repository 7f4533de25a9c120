# SPDX-License-Identifier: Apache-2.0
"""Tenant isolation (issue 9): a hosted customer's code, running as httpd's User, attacks the store.

The one idea to hold: on shared hosting every customer's CGI/PHP code runs as User (www-data),
so here a CGI script (tenant_attack.cgi, run by mod_cgid as www-data, exactly like a customer's
script) is the attacker. It only tries; this file decides. Each test asks the tenant to attack
one way, then asserts from outside, as root and over the wire, that the attack failed with
EACCES/EPERM, that nothing outside the store changed (a root-owned canary, the other site's
document root, the tenant's own files that it tried to move) and that every site still serves its
own certificate (serial and names, read by a TLS handshake with SNI). Three identities: root (the
parent and the activator), the ACME account `autotls` (the renewal process; accounts/, jobs/,
staging/, challenges/), and www-data (children and tenants: may read challenge answers, write
nothing).

The CA is a real pebble (no authorization reuse, so every order validates over http-01). Sets a
compromised ACME account could stage are signed by a test IssuingCA that AutoTLSIssuerRoots also
trusts, so that only the property under test can refuse them.

Pending merges (issue 9): the answer binding (a) makes
test_real_answer_is_served_only_for_the_host_it_was_made_for pass; the flat set removal (b) may
leave a refused set with a subdirectory in staging/, which
test_removing_a_staged_set_follows_no_link allows. The status snapshot (issue 11) is readable by User on
purpose: status/snapshot.json, names, serials, times and error texts, nothing secret.
"""

import hashlib
import json
import os
import pathlib
import pwd
import queue
import re
import secrets
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time

import pytest

import autotls_server
import httpd
import sanitizers
from autotls_server import ACME_USER, AutoTLSServer, Site, skip_unless_runnable
from hostile_ca import IssuingCA
from pebble import LOOPBACK, PebbleEnv, free_port

MODULE = skip_unless_runnable()

TENANT = "tenant.autotls-attack.test"  # the attacker's own site: its CGI runs here
VICTIM = "victim.autotls-attack.test"
VICTIM_WWW = "www.victim.autotls-attack.test"
SITES = (Site(TENANT), Site(VICTIM, aliases=(VICTIM_WWW,)))
NAMES = {TENANT: (TENANT,), VICTIM: (VICTIM, VICTIM_WWW)}
ALL_NAMES = (TENANT, VICTIM, VICTIM_WWW)

ISSUER = "Pebble"
STAGED_CA = "Staged Test"  # IssuingCA label: what a compromised ACME account could stage
RENEW_COMM = "autotls-renew"
ACTIVATOR_COMM = "autotls-activ"
WORKER = pwd.getpwnam(autotls_server.WWW_USER)
ACME = pwd.getpwnam(ACME_USER)
NOBODY = pwd.getpwnam("nobody")
CGID_SO = httpd.MODULES_DIR / "mod_cgid.so"
CGI_SOURCE = pathlib.Path(__file__).with_name("tenant_attack.cgi")
CGI_URL = "/tenant-cgi"
GATE_IP = "127.0.0.2"  # pebble's VA is sent here for the tenant's name, to hold its request

DENIED = ("EACCES", "EPERM")
STORE_GROUPS = ("accounts", "jobs", "staging", "challenges", "live", "archive", "status", "leases")
ACME_GROUPS = ("accounts", "jobs", "staging", "challenges", "status", "leases")
PUBLIC_GROUPS = ("challenges", "status")  # 0755: the children read what is in them
ROOT_GROUPS = ("live", "archive")
# What User may read in the store: challenge answers, and the status snapshot (issue 11), which
# holds names, serials, times and error texts for the status pages the children serve.
USER_READABLE = re.compile(r"^(challenges/[^/]+|status/snapshot\.json)$")
KEY_FILE = re.compile(r"(privkey\.pem|\.key(\.next)?)$")

WAIT = 30.0
POLL = 0.1
CGI_TIMEOUT = 30.0
CLI_TIMEOUT = 30.0
EVENT_PREFIX = "_event-"  # AT_EVENT_ITEM_PREFIX
EVENT_ITEM = EVENT_PREFIX + "20261205T000000Z-0123456789ab.event"  # as at_event_post names them
FORGED_EVENT = json.dumps({"event": "revoked", "site": VICTIM, "names": [VICTIM],
                           "serial": "01", "not_after": 0, "time": 0, "error": ""})
PICKUP_SECONDS = 3.0  # jobs/<site>.renew is looked for every 1 s tick: 3 ticks
GATE_HOLD = 20.0  # seconds the gate holds pebble's validation request at most
STORE_ITEM_MAX = 4 * 1024 * 1024  # AT_STORE_MAX_ITEM
SLOT_DATA_MAX = 16 * 1024  # AUTOTLS_SLOT_DATA_MAX
FAR_FUTURE = 4102444800  # 2100-01-01, as a job's next_try
SETTLE_SECONDS = 2.0  # after a refusal, how long the removal of the set may take


# --- helpers ----------------------------------------------------------------------------------


def wait_for(what, predicate, server, timeout=WAIT):
    return autotls_server.wait_for(what, predicate, timeout, server, POLL)


def wait_log(server, pattern, start):
    return wait_for("log line %r" % pattern,
                    lambda: re.search(pattern, server.error_log()[start:]), server)


def tenant(server, attack, **params):
    """The tenant's CGI performs attack with params; its JSON answer."""
    status, _, body = server.http_get(TENANT, CGI_URL + "?" + attack, https=True, method="POST",
                                      body=json.dumps(params).encode(),
                                      headers={"Content-Type": "application/json"},
                                      timeout=CGI_TIMEOUT)
    assert status == 200, "tenant CGI %s: %d %r" % (attack, status, body[:2000])
    return json.loads(body)


def store_walk(store):
    """(relative path, lstat) of everything in the store, as root sees it."""
    out = []
    for dirpath, dirnames, filenames in os.walk(store):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            out.append((os.path.relpath(path, store), os.lstat(path)))
    return out


def store_dirs(store):
    return [store] + [os.path.join(store, rel) for rel, st in store_walk(store)
                      if stat.S_ISDIR(st.st_mode)]


def served(server):
    """{name: (serial, names, issuer)} of what a handshake with SNI = name gets, for every name."""
    out = {}
    for name in ALL_NAMES:
        cert = server.served_cert(name)
        out[name] = (cert.serial, cert.sans, cert.issuer)
    return out


def assert_own_certificates(now):
    """Every name is served a CA-issued certificate for its own site's names (no placeholder,
    no other site's certificate)."""
    for name, (serial, sans, issuer) in now.items():
        site = next(s for s, names in NAMES.items() if name in names)
        assert sans == tuple(sorted(NAMES[site])), "%s is served %s (%s)" % (name, sans, serial)
        assert ISSUER in issuer or STAGED_CA in issuer, "%s: placeholder? %s" % (name, issuer)


def tree_state(top):
    """Everything under top (top included): type, owner, mode, content hash or link target."""
    state = {}
    if not os.path.lexists(top):
        return state
    paths = [top]
    for dirpath, dirnames, filenames in os.walk(top):
        paths += [os.path.join(dirpath, n) for n in dirnames + filenames]
    for path in paths:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            what = "-> " + os.readlink(path)
        elif stat.S_ISREG(st.st_mode):
            what = hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()
        else:
            what = "dir" if stat.S_ISDIR(st.st_mode) else "other"
        state[path] = (stat.S_IFMT(st.st_mode), st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode),
                       st.st_nlink if not stat.S_ISDIR(st.st_mode) else 0, what)
    return state


class World:
    """The server and everything around it that an attack must leave alone."""

    def __init__(self, server, pebble, staged_ca, tmp):
        self.server = server
        self.pebble = pebble
        self.staged_ca = staged_ca
        self.canary = os.path.join(server.root, "canary")  # root's, outside the store
        self.scratch = os.path.join(server.root, "tenant")  # the tenant's own, same filesystem
        self.tenant_docroot = server.docroot(server.site(TENANT))
        self.tmp = tmp  # the tenant's directory in /tmp (made by the tenant)
        self.build = os.path.join(server.root, "build")  # where root assembles staged sets

    def outside(self):
        """State of what no attack may change: the canary, the victim's document root, the
        names at the top of the ServerRoot."""
        state = tree_state(self.canary)
        state.update(tree_state(self.server.docroot(self.server.site(VICTIM))))
        state["top"] = sorted(n for n in os.listdir(self.server.root)
                              if n not in ("error.log", "access.log"))
        return state

    def scratch_dir(self, label):
        """A fresh directory of the tenant's (www-data, 0700) under its scratch directory."""
        path = os.path.join(self.scratch, "%s-%s" % (label, secrets.token_hex(4)))
        os.mkdir(path, 0o700)
        os.chown(path, WORKER.pw_uid, WORKER.pw_gid)
        return path


@pytest.fixture(scope="module")
def pebble():
    # authz_reuse=0: every order validates over http-01, so answers really go through the store
    with PebbleEnv(http01_port=free_port(), authz_reuse=0) as env:
        yield env


@pytest.fixture(scope="module", params=autotls_server.MPMS)
def world(request, pebble):
    if not CGID_SO.is_file():
        pytest.skip("mod_cgid is needed for the tenant CGI: %s" % CGID_SO)
    srv = AutoTLSServer(SITES, pebble=pebble, mpm=request.param)
    root = srv.root
    cgi_bin = os.path.join(root, "cgi-bin")
    os.mkdir(cgi_bin, 0o755)
    script = os.path.join(cgi_bin, "tenant_attack.cgi")
    shutil.copyfile(CGI_SOURCE, script)
    os.chmod(script, 0o755)
    srv.extra = "\n".join([
        "LoadModule cgid_module %s" % CGID_SO,
        'ScriptSock "%s/run/cgid.sock"' % root,
        '<Directory "%s">' % cgi_bin,
        "    Require all granted",
        "</Directory>",
    ])
    srv.site(TENANT).directives = 'ScriptAlias %s "%s"' % (CGI_URL, script)
    staged_ca = IssuingCA(tempfile.mkdtemp(prefix="autotls-staged-ca-"), STAGED_CA)
    with open(srv.issuer_roots, "a") as f:  # start() adds pebble's roots to this file
        f.write(staged_ca.root.read_text())
    os.chmod(srv.issuer_roots, 0o644)
    tmp = tempfile.mkdtemp(prefix="autotls-tenant-tmp-")
    os.chown(tmp, WORKER.pw_uid, WORKER.pw_gid)
    w = World(srv, pebble, staged_ca, tmp)
    os.mkdir(w.canary, 0o755)
    pathlib.Path(w.canary, "precious").write_text("root's precious file\n")
    os.chmod(os.path.join(w.canary, "precious"), 0o644)
    pathlib.Path(w.canary, "secret").write_text("root's secret\n")
    os.chmod(os.path.join(w.canary, "secret"), 0o600)
    os.mkdir(w.scratch, 0o700)
    os.chown(w.scratch, WORKER.pw_uid, WORKER.pw_gid)
    os.mkdir(w.build, 0o700)
    for dirpath, dirnames, filenames in os.walk(w.tenant_docroot):  # the tenant owns its site
        for path in [dirpath] + [os.path.join(dirpath, n) for n in filenames]:
            os.chown(path, WORKER.pw_uid, WORKER.pw_gid)
    try:
        with srv:
            for name in ALL_NAMES:
                srv.wait_until_served(name, ISSUER, timeout=WAIT)
            # one more set for VICTIM, so that archive/ holds a replaced key too
            key, chain = staged_ca.leaf([VICTIM, VICTIM_WWW])
            offset = len(srv.error_log())
            stage(w, VICTIM, key, chain)
            wait_log(srv, r"autotls-0312: %s: certificate" % re.escape(VICTIM), offset)
            yield w
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(staged_ca.dir.parent, ignore_errors=True)


@pytest.fixture
def unchanged(world):
    """Around an attack: every site serves the certificate it served before (serial, names),
    and nothing outside the store changed."""
    before_certs = served(world.server)
    assert_own_certificates(before_certs)
    before_outside = world.outside()
    yield world
    assert world.outside() == before_outside, "something outside the store changed"
    assert served(world.server) == before_certs, "a site's certificate changed"


def assert_denied(results, what):
    """Every value of results (op -> "ok" or errno name) is EACCES or EPERM."""
    bad = {k: v for k, v in results.items() if v not in DENIED}
    assert not bad, "%s: the tenant got through (or failed for another reason): %s" % (what, bad)


def no_tenant_traces(store):
    traces = [rel for rel, _ in store_walk(store) if os.path.basename(rel).startswith("tenant-")]
    assert not traces, "the tenant's entries are in the store: %s" % traces


# --- the tenant is who we think ------------------------------------------------------------------


def test_the_tenant_cgi_runs_as_user(world):
    me = tenant(world.server, "whoami")
    assert (me["uid"], me["euid"], me["gid"]) == (WORKER.pw_uid, WORKER.pw_uid, WORKER.pw_gid)
    assert 0 not in me["groups"] and ACME.pw_gid not in me["groups"], me
    # the tenant's moves stay on one filesystem with the store (else EXDEV would hide EACCES)
    assert os.stat(world.scratch).st_dev == os.stat(world.server.store).st_dev


# --- 1. challenge answers -------------------------------------------------------------------------


def planted_answers(token):
    """What a tenant would plant for token: the bare key authorization, and guesses at a format
    bound to an identifier (JSON naming the victim)."""
    keyauth = "%s.%s" % (token, secrets.token_urlsafe(32))
    guesses = [
        keyauth,
        json.dumps({"identifier": VICTIM, "keyAuthorization": keyauth}),
        json.dumps({"identifier": {"type": "dns", "value": VICTIM}, "key_authorization": keyauth,
                    "host": VICTIM, "name": VICTIM, "keyauth": keyauth, "token": token}),
        "%s\n%s\n" % (VICTIM, keyauth),
    ]
    return keyauth, guesses


def test_planted_challenge_answer_is_never_served(unchanged):
    world = unchanged
    store = world.server.store
    challenges = os.path.join(store, "challenges")
    planted = {}  # token -> key authorization
    files = []
    for i in range(4):
        token = secrets.token_urlsafe(32)
        keyauth, guesses = planted_answers(token)
        planted[token] = keyauth
        files.append({"path": os.path.join(challenges, token), "text": guesses[i]})
        # per-identifier layouts a tenant could guess, and places the tenant can write
        files.append({"path": os.path.join(challenges, VICTIM, token), "text": guesses[i]})
        files.append({"path": os.path.join(challenges, "%s.%s" % (VICTIM, token)),
                      "text": guesses[i]})
        for where in (world.tenant_docroot, world.tmp, world.scratch):
            files.append({"path": os.path.join(where, token), "text": guesses[i]})
    dirs = tenant(world.server, "mkdirs", dirs=[os.path.join(challenges, VICTIM)])
    assert_denied(dirs, "mkdir in challenges/")
    result = tenant(world.server, "plant", files=files)
    assert_denied({p: r for p, r in result.items() if os.path.dirname(p) == challenges},
                  "planting in challenges/")
    # deeper guesses fail at their missing directory (which the tenant could not make)
    assert all(r != "ok" for p, r in result.items() if p.startswith(challenges + os.sep)), result
    # the control: the tenant's writes work where it may write
    assert all(r == "ok" for p, r in result.items() if not p.startswith(store + os.sep)), result
    traversal = "..%2F..%2F..%2Fsites%2F" + TENANT + "%2F"
    for token, keyauth in planted.items():
        for host in ALL_NAMES:
            for path in ("/.well-known/acme-challenge/" + token,
                         "/.well-known/acme-challenge/" + traversal + token):
                status, _, body = world.server.http_get(host, path)
                assert not (status == 200 and keyauth.encode() in body), (
                    "a planted answer is served for %s%s" % (host, path))
    no_tenant_traces(store)
    assert not [p for p in os.listdir(challenges) if p in planted or VICTIM in p]


class Gate:
    """A listener on GATE_IP:port where pebble's VA is sent for the tenant's name: it holds each
    validation request (the answer then sits in challenges/) until released, then forwards it
    to httpd on 127.0.0.1 so that the validation succeeds."""

    def __init__(self, port):
        self.port = port
        self.requests = queue.Queue()
        self.released = threading.Event()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((GATE_IP, port))
        self.sock.listen(8)
        self.sock.settimeout(POLL)
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn:
            conn.settimeout(GATE_HOLD)
            data = b""
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
            host = next((h.split(":", 1)[1].strip() for h in head[1:]
                         if h.lower().startswith("host:")), "")
            self.requests.put((head[0].split()[1], host.split(":")[0]))
            self.released.wait(GATE_HOLD)
            lines = [head[0], "Connection: close"] + [
                h for h in head[1:] if not h.lower().startswith("connection:")]
            with socket.create_connection((LOOPBACK, self.port), timeout=GATE_HOLD) as up:
                up.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
                while True:
                    chunk = up.recv(65536)
                    if not chunk:
                        break
                    conn.sendall(chunk)

    def close(self):
        self.released.set()
        self.stopping = True
        self.sock.close()


def cli_renew(world, autotls_cli, name):
    proc = subprocess.run([autotls_cli, "renew", "--store", world.server.store, name],
                          capture_output=True, text=True, timeout=CLI_TIMEOUT,
                          stdin=subprocess.DEVNULL, check=False)
    assert proc.returncode == 0, "autotls renew %s: %s%s" % (name, proc.stdout, proc.stderr)


def wait_new_serial(world, name, old_serial):
    def fresh():
        try:
            cert = world.server.served_cert(name)
        except OSError:
            return None
        return cert if cert.serial != old_serial and ISSUER in cert.issuer else None
    return wait_for("a new certificate for %s" % name, fresh, world.server)


def test_real_answer_is_served_only_for_the_host_it_was_made_for(world, autotls_cli):
    """The renewal process's own answer for the tenant's name, while pebble's validation is
    held: served for that Host (any case), never for another managed Host. Pending (a)."""
    server = world.server
    old = server.served_cert(TENANT).serial
    gate = Gate(server.http_port)
    world.pebble.set_a(TENANT, GATE_IP)
    try:
        cli_renew(world, autotls_cli, TENANT)
        path, host = gate.requests.get(timeout=WAIT)
        assert host == TENANT, (path, host)
        own = server.http_get(TENANT, path)
        upper = server.http_get(TENANT.upper(), path)
        others = {h: server.http_get(h, path) for h in (VICTIM, VICTIM_WWW)}
        gate.released.set()
        wait_new_serial(world, TENANT, old)  # no order left in flight for the next test
        assert own[0] == 200 and own[2].startswith(path.rsplit("/", 1)[1].encode()), own
        assert upper[0] == 200 and upper[2] == own[2], upper
        for h, (status, _, body) in others.items():
            assert not (status == 200 and body == own[2]), (
                "the answer for %s is served for %s" % (TENANT, h))
    finally:
        gate.close()
        world.pebble.clear_a(TENANT)


# --- 2, 3, 7. reading and finding writable things -------------------------------------------------


def test_user_reads_nothing_in_the_store_but_challenge_answers(unchanged):
    world = unchanged
    store = world.server.store
    files = {os.path.join(store, rel): rel for rel, st in store_walk(store)
             if stat.S_ISREG(st.st_mode)}
    keys = [p for p in files if b"PRIVATE KEY" in pathlib.Path(p).read_bytes()]
    rels = [files[p] for p in keys]
    assert any(r.startswith("accounts/") for r in rels) and any(
        r.startswith("live/") for r in rels) and any(r.startswith("archive/") for r in rels), rels
    result = tenant(world.server, "read_all", store=store, paths=sorted(files))
    readable = {p: r for p, r in result["read"].items() if isinstance(r, dict)}
    for path, r in readable.items():
        rel = os.path.relpath(path, store)
        assert USER_READABLE.match(rel), "User can read %s" % rel
        assert not r["private_key"], "User can read a private key: %s" % rel
    for path in keys:
        assert result["read"][path] in DENIED, (files[path], result["read"][path])
    assert store in result["listed"], result["listed"]  # the walk itself ran


def test_user_cannot_read_the_account_key(unchanged):
    """With the account key a tenant could revoke every certificate of the server or deactivate
    the account, from anywhere."""
    world = unchanged
    accounts = os.path.join(world.server.store, "accounts")
    keys = [os.path.join(d, n) for d, _, names in os.walk(accounts) for n in names
            if n.startswith("account.key")]
    assert keys, "no account key in %s" % accounts
    result = tenant(world.server, "read_all", store=accounts, paths=keys)
    for key in keys:
        assert result["read"][key] in DENIED, (key, result["read"][key])
    listing = tenant(world.server, "read_all", store=accounts, paths=[])
    assert listing["seen"] == [], "User can list accounts/: %s" % listing["seen"]


def test_user_finds_nothing_writable_in_the_store(unchanged):
    world = unchanged
    store = world.server.store
    paths = [store] + [os.path.join(store, rel) for rel, _ in store_walk(store)]
    result = tenant(world.server, "writable", store=store, paths=paths)
    assert [p for p in result["find"] if p] == [], result["find"]
    assert result["access"] == [], result["access"]
    # the control: the same call finds the tenant's own directory writable
    own = tenant(world.server, "writable", store=world.scratch, paths=[world.scratch])
    assert world.scratch in own["find"] and own["access"] == [world.scratch], own


# --- 4. no entry into any store directory ---------------------------------------------------------


def test_user_cannot_add_move_link_or_remove_anything_in_any_store_directory(unchanged):
    world = unchanged
    store = world.server.store
    dirs = store_dirs(store)
    for group in STORE_GROUPS:
        assert os.path.join(store, group) in dirs, group
    existing = {}
    for d in dirs:
        # answers come and go with orders: replacing or removing one is tried on live/ etc.
        entries = [] if d.startswith(os.path.join(store, "challenges")) else sorted(os.listdir(d))
        existing[d] = {
            "file": next((e for e in entries if os.path.isfile(os.path.join(d, e))), None),
            "dir": next((e for e in entries if os.path.isdir(os.path.join(d, e))), None)}
    before = tree_state(store)
    outside = os.path.join(world.canary, "precious")
    # the control: every operation works in a directory the tenant owns
    control = world.scratch_dir("control")
    own = tenant(world.server, "dir_ops", dirs=[control], existing={},
                 scratch=world.scratch_dir("control-src"), outside=outside, control=True)
    assert all(r == "ok" for r in own["ops"][control].values()), own
    result = tenant(world.server, "dir_ops", dirs=dirs, existing=existing,
                    scratch=world.scratch_dir("src"), outside=outside)
    for d, ops in result["ops"].items():
        assert_denied(ops, os.path.relpath(d, os.path.dirname(store)))
    assert result["sources_intact"], "the tenant's files were taken"
    no_tenant_traces(store)
    after = tree_state(store)
    gone = sorted(set(before) - set(after))
    # answers come and go with orders, and the renewal process takes (and removes) the event
    # files root drops into jobs/ after a promotion: neither is the tenant's doing, whose every
    # operation was refused above
    consumed = re.compile(re.escape(os.path.join(store, "jobs")) + r"/_event-[^/]*\.event$")
    assert not [p for p in gone if not p.startswith(os.path.join(store, "challenges"))
                and not consumed.match(p)], gone


# --- 5. job files ---------------------------------------------------------------------------------


def test_user_cannot_write_job_files(unchanged):
    """A far-future next_try would park the victim's renewal forever; a .renew file would make
    the server order on the tenant's say-so (and burn the CA's rate limit)."""
    world = unchanged
    jobs = os.path.join(world.server.store, "jobs")
    job = os.path.join(jobs, VICTIM + ".json")
    before = job_files(jobs)
    parked = json.dumps({"failures": 0, "next_try": FAR_FUTURE, "last_error": "",
                         "retry_after": FAR_FUTURE, "ari": {"start": FAR_FUTURE,
                                                            "end": FAR_FUTURE}})
    result = tenant(world.server, "plant", files=[
        {"path": job, "text": parked},
        {"path": os.path.join(jobs, VICTIM + ".renew"), "text": ""},
        {"path": os.path.join(jobs, TENANT + ".renew"), "text": ""},
        {"path": os.path.join(jobs, "." + VICTIM + ".json.tmp.AAAAAA"), "text": parked},
        {"path": os.path.join(jobs, EVENT_ITEM), "text": FORGED_EVENT}])
    assert_denied(result, "writing jobs/")
    time.sleep(PICKUP_SECONDS)  # a .renew that got through would be taken and ordered by now
    assert job_files(jobs) == before, "jobs/ changed"


def test_event_file_not_from_root_or_the_acme_account_is_refused_and_runs_nothing(unchanged):
    """Were an event file of User's ever in jobs/ (an old release's leftovers, a mistaken chown),
    the renewal process must refuse it by its owner, with a log line, and hand nothing on to the
    notification command."""
    world = unchanged
    jobs = os.path.join(world.server.store, "jobs")
    path = os.path.join(jobs, EVENT_ITEM)
    offset = len(world.server.error_log())
    with open(path, "w") as f:
        f.write(FORGED_EVENT)
    os.chmod(path, 0o644)
    os.chown(path, WORKER.pw_uid, WORKER.pw_gid)
    wait_log(world.server, r"autotls-1147: store: refusing \S*%s: file owned by uid %d"
             % (re.escape(EVENT_ITEM), WORKER.pw_uid), offset)
    wait_log(world.server, r"autotls-1401: jobs/%s is not a valid event file; removed, nothing run"
             % re.escape(EVENT_ITEM), offset)
    assert not os.path.exists(path), "the refused event file was left to be read again"
    time.sleep(PICKUP_SECONDS)
    handed = re.findall(r"autotls-0807: %s: event" % re.escape(VICTIM),
                        world.server.error_log()[offset:])
    assert not handed, "a User's event file was handed to the notification command"


def job_files(jobs):
    """jobs/ but the event files root posts meanwhile (the renewal process takes each within a
    second: the activator's `renewed` of the fixture's set may still be there)."""
    return {n: (pathlib.Path(jobs, n).read_bytes() if os.path.isfile(os.path.join(jobs, n))
                else "not a file") for n in os.listdir(jobs)
            if n == EVENT_ITEM or not n.startswith(EVENT_PREFIX)}


# --- 6. processes ---------------------------------------------------------------------------------


def proc_status(pid):
    text = pathlib.Path("/proc/%d/status" % pid).read_text()

    def ids(field):
        return tuple(int(x) for x in re.search(r"^%s:\s*([\d\s]*)$" % field, text,
                                                re.M).group(1).split())
    return {"uid": ids("Uid"), "gid": ids("Gid"), "groups": ids("Groups"),
            "ppid": int(re.search(r"^PPid:\s+(\d+)", text, re.M).group(1))}


def descendants(parent):
    """{pid: comm} of every live descendant of parent."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = pathlib.Path("/proc", entry, "stat").read_text()
        except OSError:
            continue
        comm = text[text.index("(") + 1:text.rindex(")")]
        fields = text[text.rindex(")") + 2:].split()
        if fields[0] != "Z":
            table[int(entry)] = (comm, int(fields[1]))
    out, frontier = {}, {parent}
    while frontier:
        frontier = {pid for pid, (_, ppid) in table.items() if ppid in frontier}
        out.update({pid: table[pid][0] for pid in frontier})
    return out


def helpers(server):
    procs = descendants(server.parent_pid())
    renew = [pid for pid, comm in procs.items() if comm == RENEW_COMM]
    activ = [pid for pid, comm in procs.items() if comm == ACTIVATOR_COMM]
    assert len(renew) == 1 and len(activ) == 1, procs
    return renew[0], activ[0], procs


def test_each_process_runs_as_its_own_identity(world):
    server = world.server
    parent = server.parent_pid()
    assert proc_status(parent)["uid"] == (0, 0, 0, 0)
    tenant(server, "whoami")  # a CGI process and the cgid daemon exist
    renew, activ, procs = helpers(server)
    st = proc_status(renew)
    assert st["uid"] == (ACME.pw_uid,) * 4, st  # real, effective, saved, filesystem
    assert st["gid"] == (ACME.pw_gid,) * 4, st
    assert 0 not in st["groups"] and WORKER.pw_gid not in st["groups"], st
    assert ACME.pw_uid not in (0, WORKER.pw_uid)
    assert proc_status(activ)["uid"] == (0, 0, 0, 0)
    others = [pid for pid in procs if pid not in (renew, activ)]
    assert others, procs
    for pid in others:
        try:
            st = proc_status(pid)
        except OSError:
            continue  # gone meanwhile
        assert st["uid"] == (WORKER.pw_uid,) * 4, (pid, procs[pid], st)


def test_the_renewal_process_is_not_dumpable(world):
    """A non-dumpable process's /proc files belong to root: no process of its own uid (nor
    User) can read its memory or environment. With CoreDumpDirectory (the sanitizer build sets
    it, so that the runtimes can read their options), httpd makes its children dumpable and the
    renewal process follows: its files then belong to the ACME account, still never to User."""
    renew, _, _ = helpers(world.server)
    dumpable = "CoreDumpDirectory" in " ".join(sanitizers.httpd_args())
    for name in ("environ", "mem", "maps"):
        owner = os.stat("/proc/%d/%s" % (renew, name)).st_uid
        assert owner == (ACME.pw_uid if dumpable else 0), name
        assert owner != WORKER.pw_uid, name


def test_user_cannot_signal_trace_or_read_the_privileged_processes(world):
    renew, activ, _ = helpers(world.server)
    parent = world.server.parent_pid()
    result = tenant(world.server, "procs", pids=[renew, activ, parent])
    for pid in (renew, activ, parent):
        r = result[str(pid)]
        for op in ("kill0", "ptrace", "environ", "mem"):
            assert r[op] in DENIED, (pid, op, r)
    # the control: the tenant can signal a process of its own uid (a child, the cgid daemon)
    _, _, procs = helpers(world.server)
    own = [pid for pid in procs if pid not in (renew, activ)]
    result = tenant(world.server, "procs", pids=own, signal_only=True)
    assert "ok" in [r["kill0"] for r in result.values()], result


# --- store layout, from root's side ---------------------------------------------------------------


def test_store_owners_and_modes(world):
    store = world.server.store
    top = os.lstat(store)
    assert (top.st_uid, stat.S_IMODE(top.st_mode)) == (0, 0o755)
    seen = set()
    for rel, st in store_walk(store):
        group = rel.split(os.sep)[0]
        mode = stat.S_IMODE(st.st_mode)
        seen.add(group)
        assert not stat.S_ISLNK(st.st_mode), "a link in the store: %s" % rel
        assert not mode & 0o022, "%s is writable by group or other (%04o)" % (rel, mode)
        if group in ROOT_GROUPS:
            assert (st.st_uid, st.st_gid) == (0, 0), "%s is not root's" % rel
            if stat.S_ISDIR(st.st_mode):
                assert mode == 0o700, "%s: %04o" % (rel, mode)
        elif group in ACME_GROUPS:
            assert (st.st_uid, st.st_gid) == (ACME.pw_uid, ACME.pw_gid), rel
            if rel in PUBLIC_GROUPS:
                assert mode == 0o755, "%s: %04o" % (rel, mode)
            elif group in PUBLIC_GROUPS:
                assert not stat.S_ISDIR(st.st_mode) or mode == 0o755, rel
            elif rel == group:
                assert mode == 0o700, "%s: %04o" % (rel, mode)
        else:  # a snapshot, or a store moved aside at adoption: root's or the account's
            assert st.st_uid in (0, ACME.pw_uid), rel
        if KEY_FILE.search(rel) and stat.S_ISREG(st.st_mode):
            assert mode == 0o600, "key %s: %04o" % (rel, mode)
    assert set(STORE_GROUPS) <= seen, seen


# --- 8. links the tenant plants are never followed ------------------------------------------------


def test_restart_and_renewal_follow_no_link_the_tenant_planted(world, autotls_cli):
    """A symlink farm where the tenant can write (its document root, /tmp, its scratch
    directory), pointing into the store and at root's files, with names that look like store
    items; then a graceful restart, a stop and start, and a renewal of every site: root neither
    follows nor removes any of it, and every site serves a new certificate of its own."""
    server = world.server
    store = server.store
    targets = [store, os.path.join(store, "live"), os.path.join(store, "live", VICTIM),
               os.path.join(store, "live", VICTIM, "privkey.pem"),
               os.path.join(store, "accounts"), os.path.join(store, "staging"),
               os.path.join(store, "challenges"), world.canary,
               os.path.join(world.canary, "precious"), os.path.join(world.canary, "secret")]
    names = ["ready", "privkey.pem", "fullchain.pem", ".privkey.pem.tmp.AAAAAA", VICTIM, TENANT,
             "staging", "live", "challenges", "store"]
    links = []
    for where in (world.tenant_docroot, world.tmp, world.scratch):
        for i, target in enumerate(targets):
            links.append({"path": os.path.join(where, "farm", names[i], "link"),
                          "target": target})
            links.append({"path": os.path.join(where, "farm", "%s-%d" % (names[i], i)),
                          "target": target})
        links.append({"path": os.path.join(where, ".well-known", "acme-challenge"),
                      "target": os.path.join(store, "challenges")})
    planted = tenant(server, "farm", links=links)
    assert planted["errors"] == {}, planted["errors"]
    farms = {w: tree_state(w) for w in (world.tenant_docroot, world.tmp, world.scratch)}
    outside = world.outside()
    old = served(server)
    server.graceful()
    server.stop()
    leftovers = plant_leftovers(world)
    try:
        server.start()
        for name in ALL_NAMES:
            wait_for("%s served as before the restart" % name,
                     lambda: served_serial(server, name) == old[name][0], server)
        for site in (TENANT, VICTIM):
            cli_renew(world, autotls_cli, site)
        for name in ALL_NAMES:
            wait_new_serial(world, name, old[name][0])
    finally:
        for path in leftovers:  # what the sweep left, so that the store is clean again
            if os.path.lexists(path):
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                else:
                    os.unlink(path)
    assert_own_certificates(served(server))
    for where, state in farms.items():
        assert tree_state(where) == state, "the tenant's tree in %s changed" % where
    assert world.outside() == outside, "root followed a planted link"


def served_serial(server, name):
    try:
        return server.served_cert(name).serial
    except OSError:
        return None


def plant_leftovers(world):
    """What a killed (or compromised) renewal process could leave in its own directories for
    root's sweep at a cold start: an unfinished set and temp files that are links to root's
    files. Owned by the ACME account. Returns the paths, for clean-up."""
    store = world.server.store
    precious = os.path.join(world.canary, "precious")
    unfinished = os.path.join(store, "staging", TENANT)
    os.mkdir(unfinished, 0o700)
    paths = [unfinished]
    for path, target in ((os.path.join(unfinished, "dir-link"), world.canary),
                         (os.path.join(unfinished, ".privkey.pem.tmp.BBBBBB"), precious),
                         (os.path.join(store, "challenges", "dir-link"), world.canary),
                         (os.path.join(store, "jobs", ".x.json.tmp.CCCCCC"), precious)):
        os.symlink(target, path)
        paths.append(path)
    for path in paths:
        os.chown(path, ACME.pw_uid, ACME.pw_gid, follow_symlinks=False)
    return paths


# --- what a compromised ACME account could stage (the activator stays the judge) ------------------


def stage(world, site, key, chain, owner=ACME, extra=None):
    """A complete set as the renewal process makes it (owner's, key 0600, chain 0644, `ready`
    last), assembled outside staging/ and renamed in as one directory."""
    d = os.path.join(world.build, "%s-%s" % (site, secrets.token_hex(4)))
    os.mkdir(d, 0o700)
    items = []
    if key is not None:
        items.append(("privkey.pem", key, 0o600))
    if chain is not None:
        items.append(("fullchain.pem", chain, 0o644))
    for name, text, mode in items:
        path = os.path.join(d, name)
        pathlib.Path(path).write_text(text)
        os.chmod(path, mode)
        os.chown(path, owner.pw_uid, owner.pw_gid)
    if extra is not None:
        extra(d)
    ready = os.path.join(d, "ready")
    pathlib.Path(ready).write_text("")
    os.chmod(ready, 0o644)
    os.chown(ready, owner.pw_uid, owner.pw_gid)
    os.chown(d, owner.pw_uid, owner.pw_gid)
    target = os.path.join(world.server.store, "staging", site)
    os.rename(d, target)
    return target


def live_state(world, site):
    return tree_state(os.path.join(world.server.store, "live", site))


def refused(world, site, why, offset, removed=True):
    """The activator refused staging/<site> for why; live/ and the served certificate stay."""
    server = world.server
    before = live_state(world, site)
    wait_log(server, r"autotls-0314: %s: refused staged certificate: [^\n]*(%s)"
             % (re.escape(site), why), offset)
    staging = os.path.join(server.store, "staging", site)
    if removed:
        wait_for("the refused set is removed", lambda: not os.path.lexists(staging), server)
    else:  # a set root cannot remove flat may stay; the next set needs the name: clear it
        deadline = time.monotonic() + SETTLE_SECONDS
        while os.path.lexists(staging) and time.monotonic() < deadline:
            time.sleep(POLL)
        shutil.rmtree(staging, ignore_errors=True)  # follows no link
    assert live_state(world, site) == before, "live/ changed"
    assert not re.search(r"autotls-0312: %s:" % re.escape(site), server.error_log()[offset:])


@pytest.mark.parametrize("case", ["owned-by-user", "item-owned-by-user", "owned-by-nobody",
                                  "mode-0777"])
def test_set_not_from_the_acme_account_is_refused(unchanged, case):
    """Only the ACME account's staging is trusted: a valid set for the right names is refused
    when User (or anyone else) owns it or could have written it."""
    world = unchanged
    key, chain = world.staged_ca.leaf([VICTIM, VICTIM_WWW])
    owner = {"owned-by-user": WORKER, "owned-by-nobody": NOBODY}.get(case, ACME)

    def loosen(d):
        if case == "mode-0777":
            os.chmod(d, 0o777)
        elif case == "item-owned-by-user":
            os.chown(os.path.join(d, "fullchain.pem"), WORKER.pw_uid, WORKER.pw_gid)

    offset = len(world.server.error_log())
    stage(world, VICTIM, key, chain, owner=owner, extra=loosen)
    refused(world, VICTIM, r".", offset)


def test_set_for_names_of_no_managed_site_is_refused(unchanged):
    world = unchanged
    key, chain = world.staged_ca.leaf(["bank.example", "www.bank.example"])
    offset = len(world.server.error_log())
    stage(world, VICTIM, key, chain)
    refused(world, VICTIM, r"does not cover|not one of the site's names", offset)


def test_another_sites_live_set_staged_for_ours_is_refused(unchanged):
    """Even the ACME account (which cannot read live/) staging a copy of TENANT's set as
    VICTIM's cannot put TENANT's certificate on VICTIM."""
    world = unchanged
    live = os.path.join(world.server.store, "live", TENANT)
    key = pathlib.Path(live, "privkey.pem").read_text()
    chain = pathlib.Path(live, "fullchain.pem").read_text()
    offset = len(world.server.error_log())
    stage(world, VICTIM, key, chain)
    refused(world, VICTIM, r"does not cover|not one of the site's names", offset)


@pytest.mark.parametrize("item", ["privkey.pem", "fullchain.pem"])
def test_oversized_staged_file_is_refused_unread(unchanged, item):
    world = unchanged
    key, chain = world.staged_ca.leaf([VICTIM, VICTIM_WWW])

    def grow(d):
        with open(os.path.join(d, item), "a") as f:  # sparse: the size is what counts
            f.truncate(STORE_ITEM_MAX + 1)

    offset = len(world.server.error_log())
    stage(world, VICTIM, key, chain, extra=grow)
    wait_log(world.server, r"refusing [^\n]*%s: \d+ bytes, the limit is %d"
             % (re.escape(item), STORE_ITEM_MAX), offset)
    refused(world, VICTIM, r"too large", offset)


def test_set_too_large_for_a_slot_is_refused(unchanged):
    world = unchanged
    key, chain = world.staged_ca.leaf([VICTIM, VICTIM_WWW], comment_bytes=SLOT_DATA_MAX)
    offset = len(world.server.error_log())
    stage(world, VICTIM, key, chain)
    refused(world, VICTIM, r".", offset)


def test_named_pipe_in_staging_neither_blocks_nor_passes(unchanged):
    world = unchanged
    _, chain = world.staged_ca.leaf([VICTIM, VICTIM_WWW])

    def fifo(d):
        os.mkfifo(os.path.join(d, "privkey.pem"), 0o600)
        os.chown(os.path.join(d, "privkey.pem"), ACME.pw_uid, ACME.pw_gid)

    offset = len(world.server.error_log())
    stage(world, VICTIM, None, chain, extra=fifo)
    refused(world, VICTIM, r".", offset)


def test_removing_a_staged_set_follows_no_link(unchanged, tmp_path):
    """Root removes staging/<site> after each decision: links in it, to a directory or a file
    outside, and a subdirectory are never followed (issue 9: flat removal; pending (b) may leave
    the subdirectory, which is fine)."""
    world = unchanged
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious").write_text("keep me\n")
    before = tree_state(str(victim))
    key, chain = world.staged_ca.leaf(["bank.example"])  # refused: only the removal matters

    def links(d):
        os.symlink(victim, os.path.join(d, "dir-link"))
        os.symlink(victim / "precious", os.path.join(d, ".privkey.pem.tmp.AAAAAA"))
        sub = os.path.join(d, "sub")
        os.mkdir(sub, 0o700)
        os.symlink(victim / "precious", os.path.join(sub, "file-link"))
        for path in (sub, os.path.join(d, "dir-link"), os.path.join(d, ".privkey.pem.tmp.AAAAAA"),
                     os.path.join(sub, "file-link")):
            os.chown(path, ACME.pw_uid, ACME.pw_gid, follow_symlinks=False)

    offset = len(world.server.error_log())
    stage(world, VICTIM, key, chain, extra=links)
    refused(world, VICTIM, r".", offset, removed=False)
    assert tree_state(str(victim)) == before
