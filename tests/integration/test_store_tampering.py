# SPDX-License-Identifier: Apache-2.0
"""A tampered store: unsafe files are refused by name, broken job state is rebuilt, links are
never followed by root.

The one idea to hold: the store is a directory anyone with the wrong access can change, so each
test changes it the way a careless admin or a compromised worker would (modes, owners, garbage
JSON, links planted in staging/) and then looks from outside: the error log must name the file,
the site must still end up with a certificate from the CA, and nothing may reach live/ that did
not pass the activator. The CA is hostile_ca.HostileCA in its honest mode: a certificate within a
second of asking, no pebble needed.
"""

import hashlib
import json
import os
import pwd
import re
import shutil
import subprocess
import time

import pytest

import httpd
from autotls_server import AutoTLSServer, Site, skip_unless_runnable
from hostile_ca import HostileCA

try:
    import sanitizers
except ImportError:  # a tree without the sanitizer plugin: plain builds only
    sanitizers = None

MODULE = skip_unless_runnable()

ALPHA = "alpha.autotls-tamper.org"
BETA = "beta.autotls-tamper.org"
ISSUER = "Hostile Test Issuing CA"
WAIT = 30.0  # seconds for an order, an activation or a refusal
PARKED_WAIT = 8.0  # seconds a site may lag behind its neighbours of the same server
POLL = 0.1
CLI_TIMEOUT = 60
EXIT_LOCAL = 3
WORKER = pwd.getpwnam("www-data")
ACME = pwd.getpwnam("autotls")  # AutoTLSUser: the renewal process owns jobs/ and accounts/
NOBODY = pwd.getpwnam("nobody")

# jobs/<site>.json as a crash, a full disk or a careless hand leaves it
BROKEN_JOBS = {
    "invalid.autotls-tamper.org": "this is not JSON at all\n",
    "truncated.autotls-tamper.org": '{"failures": 2, "next_try": 17',
    "wrongtypes.autotls-tamper.org": '{"failures": "many", "next_try": [1, 2], "last_error": 7}',
    "empty.autotls-tamper.org": "",
    "array.autotls-tamper.org": "[1, 2, 3]\n",
}
FAR_FUTURE_SITE = "farfuture.autotls-tamper.org"
FAR_FUTURE_JOB = '{"failures": 1, "next_try": 253402300799, "last_error": "x"}'


def wait_for(what, predicate, timeout=WAIT, tail=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(POLL)
    pytest.fail("%s did not happen within %.0f s\n%s" % (what, timeout, tail() if tail else ""))


def log_match(server, pattern, start=0):
    return re.search(pattern, server.error_log()[start:])


def wait_log(server, pattern, start=0, timeout=WAIT):
    return wait_for("log line %r" % pattern, lambda: log_match(server, pattern, start), timeout,
                    server.log_tail)


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def write_owned(path, text, mode, uid, gid):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    os.chown(path, uid, gid)


def server_for(hostile, sites, root=None):
    extra = ('AutoTLSCACertificateFile "%s"\nAutoTLSIssuerRoots "%s"\n'
             % (hostile.ca_cert, hostile.issuer_root))
    return AutoTLSServer([Site(name) for name in sites], ca_url=hostile.url("good"),
                         extra=extra, root=root)


def no_crash(server):
    log = server.error_log()
    assert "Segmentation fault" not in log and "exit signal" not in log, server.log_tail()


@pytest.fixture(scope="module")
def hostile():
    with HostileCA() as ca:
        yield ca


# --- job state ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def busy(hostile):
    """One running server: ALPHA and BETA live, and the sites whose job JSON was broken before
    the server started."""
    names = [ALPHA, BETA] + sorted(BROKEN_JOBS) + [FAR_FUTURE_SITE]
    server = server_for(hostile, names)
    jobs = os.path.join(server.store, "jobs")
    os.makedirs(jobs, mode=0o755)
    os.chmod(server.store, 0o755)
    os.chmod(jobs, 0o700)
    os.chown(jobs, ACME.pw_uid, ACME.pw_gid)
    for site, text in list(BROKEN_JOBS.items()) + [(FAR_FUTURE_SITE, FAR_FUTURE_JOB)]:
        write_owned(os.path.join(jobs, site + ".json"), text, 0o644, ACME.pw_uid, ACME.pw_gid)
    with server:
        for site in (ALPHA, BETA):
            server.wait_until_served(site, ISSUER, timeout=WAIT)
        yield server
        no_crash(server)


@pytest.mark.parametrize("site", sorted(BROKEN_JOBS))
def test_broken_job_json_is_rebuilt_and_the_site_still_gets_its_certificate(busy, site):
    served = busy.wait_until_served(site, ISSUER, timeout=WAIT)
    assert served.sans == (site,)
    job = os.path.join(busy.store, "jobs", site + ".json")
    with open(job) as f:
        state = json.load(f)  # rewritten whole, not left broken
    assert isinstance(state, dict), state
    st = os.stat(job)
    assert (st.st_uid, st.st_mode & 0o777) == (ACME.pw_uid, 0o644)
    no_crash(busy)


def test_job_state_cannot_park_a_site_forever(busy):
    for site in BROKEN_JOBS:  # the same server got these within seconds
        busy.wait_until_served(site, ISSUER, timeout=WAIT)
    busy.wait_until_served(FAR_FUTURE_SITE, ISSUER, timeout=PARKED_WAIT)


# --- staging: root follows no link --------------------------------------------------------------


def stage(server, site, files):
    """Writes staging/<site>/ as the renewal process does (at_store_save_set): owned by the ACME
    account, built in a temp directory renamed into place; files: name -> text, or ("symlink",
    target), or ("hardlink", target). Returns the final directory."""
    # The ACME client's account (AutoTLSUser, or User standing in for it) owns accounts/.
    acme = pwd.getpwuid(os.stat(os.path.join(server.store, "accounts")).st_uid)
    d = os.path.join(server.store, "staging", site)
    tmp = os.path.join(server.store, "staging", ".%s.tmp.T00000" % site)
    os.mkdir(tmp, 0o700)
    os.chown(tmp, acme.pw_uid, acme.pw_gid)
    for name, spec in list(files.items()) + [("ready", "")]:
        path = os.path.join(tmp, name)
        if isinstance(spec, tuple) and spec[0] == "symlink":
            os.symlink(spec[1], path)
            os.chown(path, acme.pw_uid, acme.pw_gid, follow_symlinks=False)
        elif isinstance(spec, tuple):
            os.link(spec[1], path)  # as root: what protected_hardlinks=0 would let anyone do
        else:
            write_owned(path, spec, 0o600 if name == "privkey.pem" else 0o644, acme.pw_uid,
                        acme.pw_gid)
    os.rename(tmp, d)
    return d


def live_state(server, site):
    d = os.path.join(server.store, "live", site)
    return {name: sha(os.path.join(d, name)) for name in sorted(os.listdir(d))}


def assert_refused_and_nothing_copied(server, offset, staged_path, before_live, before_served,
                                      why=r"symbolic link|hard link"):
    wait_log(server, r"store: refusing %s[^\n]*(%s)" % (re.escape(staged_path), why), offset)
    wait_log(server, r"autotls-0314: %s: refused staged certificate" % re.escape(ALPHA), offset)
    staging = os.path.dirname(staged_path)
    wait_for("the refused set is removed", lambda: not os.path.lexists(staging),
             tail=server.log_tail)
    assert live_state(server, ALPHA) == before_live, "live/ changed"
    assert server.served_cert(ALPHA) == before_served
    assert not log_match(server, r"autotls-0312: %s:" % re.escape(ALPHA), offset)


@pytest.mark.parametrize("target", ["/etc/shadow", "beta-key"], ids=["etc-shadow",
                                                                     "other-site-live-key"])
def test_symlinked_key_in_staging_is_not_followed(busy, hostile, target):
    beta = os.path.join(busy.store, "live", BETA)
    target = os.path.join(beta, "privkey.pem") if target == "beta-key" else target
    target_sum = sha(target)
    with open(os.path.join(beta, "fullchain.pem")) as f:
        beta_chain = f.read()
    before_live, before_served = live_state(busy, ALPHA), busy.served_cert(ALPHA)
    offset = len(busy.error_log())
    d = stage(busy, ALPHA, {"privkey.pem": ("symlink", target), "fullchain.pem": beta_chain})
    assert_refused_and_nothing_copied(busy, offset, os.path.join(d, "privkey.pem"), before_live,
                                      before_served)
    assert sha(target) == target_sum, "the link target was changed"


def test_symlinked_chain_in_staging_is_not_followed(busy, hostile):
    key, _ = hostile.issuer.leaf([ALPHA])
    target = os.path.join(busy.store, "live", BETA, "fullchain.pem")
    before_live, before_served = live_state(busy, ALPHA), busy.served_cert(ALPHA)
    offset = len(busy.error_log())
    d = stage(busy, ALPHA, {"privkey.pem": key, "fullchain.pem": ("symlink", target)})
    assert_refused_and_nothing_copied(busy, offset, os.path.join(d, "fullchain.pem"),
                                      before_live, before_served)


def test_hardlinked_root_key_in_staging_is_not_taken(busy, hostile, tmp_path):
    """A worker that can link a root-only key into staging/ (protected_hardlinks=0) and has a
    certificate for its public key must not get it copied into live/ and the shared slots."""
    key, chain = hostile.issuer.leaf([ALPHA])
    secret = tmp_path / "root-only.key"
    write_owned(secret, key, 0o600, 0, 0)
    before_live, before_served = live_state(busy, ALPHA), busy.served_cert(ALPHA)
    offset = len(busy.error_log())
    d = stage(busy, ALPHA, {"privkey.pem": ("hardlink", str(secret)), "fullchain.pem": chain})
    assert_refused_and_nothing_copied(busy, offset, os.path.join(d, "privkey.pem"), before_live,
                                      before_served, why="hard link")
    assert sha(os.path.join(busy.store, "live", ALPHA, "privkey.pem")) != sha(secret)


def test_a_clean_set_staged_the_same_way_goes_live(busy, hostile):
    """The control: the same staging by hand with real files is taken, so the refusals above
    are about the links."""
    key, chain = hostile.issuer.leaf([ALPHA])
    offset = len(busy.error_log())
    stage(busy, ALPHA, {"privkey.pem": key, "fullchain.pem": chain})
    wait_log(busy, r"autotls-0312: %s: certificate \S+ for %s from %s is live"
             % (re.escape(ALPHA), re.escape(ALPHA), re.escape(ISSUER)), offset)


# --- live/ and accounts/: unsafe modes and owners are refused by name ---------------------------


@pytest.fixture(scope="module")
def restartable(hostile, tmp_path_factory):
    """A one-site server the tests stop, tamper with and start again."""
    server = server_for(hostile, [ALPHA])
    server.start()
    try:
        server.wait_until_served(ALPHA, ISSUER, timeout=WAIT)
        yield server
    finally:
        server.stop()
        no_crash(server)
        shutil.rmtree(server.root, ignore_errors=True)


LIVE_TAMPERING = {
    "key-0644": ("privkey.pem", 0o644, None, r"mode 0644"),
    "key-0640": ("privkey.pem", 0o640, None, r"mode 0640"),
    "key-owned-by-worker": ("privkey.pem", 0o600, WORKER, r"owned by uid %d" % WORKER.pw_uid),
    "chain-0666": ("fullchain.pem", 0o666, None, r"mode 0666"),
    "chain-owned-by-nobody": ("fullchain.pem", 0o644, NOBODY, r"owned by uid %d" % NOBODY.pw_uid),
}


@pytest.mark.parametrize("case", sorted(LIVE_TAMPERING))
def test_unsafe_live_file_is_refused_at_startup_and_never_served(restartable, case):
    server = restartable
    item, mode, owner, why = LIVE_TAMPERING[case]
    old = server.wait_until_served(ALPHA, ISSUER, timeout=WAIT)
    server.stop()
    path = os.path.join(server.store, "live", ALPHA, item)
    os.chmod(path, mode)
    if owner is not None:
        os.chown(path, owner.pw_uid, owner.pw_gid)
    offset = len(server.error_log())
    server.start()
    wait_log(server, r"store: refusing %s: [^\n]*%s" % (re.escape(path), why), offset)
    wait_log(server, r"autotls-0268: %s: the live certificate set is not used" % re.escape(ALPHA),
             offset)
    # from the first handshake on, never the set whose file was unsafe; then a new one
    deadline = time.monotonic() + WAIT
    while True:
        served = server.served_cert(ALPHA)
        assert served.serial != old.serial, "the refused set was served"
        if ISSUER in served.issuer:
            break
        assert time.monotonic() < deadline, server.log_tail()
        time.sleep(POLL)
    st = os.stat(path)
    too_open = 0o077 if item == "privkey.pem" else 0o022
    assert (st.st_uid, st.st_mode & too_open) == (0, 0), "the new set has unsafe modes"


def account_key(store):
    accounts = os.path.join(store, "accounts")
    (ca_name,) = os.listdir(accounts)
    return os.path.join(accounts, ca_name, "account.key")


@pytest.mark.parametrize("case", ["0644", "owned-by-nobody"])
def test_unsafe_account_key_is_refused_and_never_used(restartable, hostile, case):
    """The renewal process (AutoTLSUser) reads the account key: too open or foreign, it is refused
    by name and the CA never sees a request made with it."""
    server = restartable
    server.wait_until_served(ALPHA, ISSUER, timeout=WAIT)
    server.stop()
    key = account_key(server.store)
    if case == "0644":
        os.chmod(key, 0o644)
        why = r"mode 0644"
    else:  # readable, so that the owner is what gets it refused
        os.chmod(key, 0o644)
        os.chown(key, NOBODY.pw_uid, NOBODY.pw_gid)
        why = r"owned by uid %d" % NOBODY.pw_uid
    shutil.rmtree(os.path.join(server.store, "live", ALPHA))  # so that an order is due
    orders_before = len(hostile.requests_of("good"))
    offset = len(server.error_log())
    try:
        server.start()
        wait_log(server, r"store: refusing %s: [^\n]*%s" % (re.escape(key), why), offset)
        time.sleep(2.0)  # two ticks of the renewal process
        new = hostile.requests_of("good")[orders_before:]
        assert not [r for r in new if r[1] in ("/order", "/account")], new
        assert ISSUER not in server.served_cert(ALPHA).issuer
    finally:
        server.stop()
        os.chmod(key, 0o600)
        os.chown(key, ACME.pw_uid, ACME.pw_gid)
        # the refusal was a failure the renewal process backs off from, across restarts too
        jobs = os.path.join(server.store, "jobs")
        for name in os.listdir(jobs):
            os.unlink(os.path.join(jobs, name))
        server.start()


# --- the CLI refuses the same files by name -----------------------------------------------------


def cli(autotls_cli, *args):
    return subprocess.run([autotls_cli, *args], capture_output=True, text=True,
                          timeout=CLI_TIMEOUT, stdin=subprocess.DEVNULL,
                          env=sanitizers.cli_env() if sanitizers is not None else None)


def cli_issue(autotls_cli, hostile, store, webroot):
    return cli(autotls_cli, "issue", "--ca", hostile.url("good"), "--ca-cert", hostile.ca_cert,
               "--store", store, "--webroot", webroot, ALPHA)


@pytest.mark.parametrize("case", ["key-0644", "key-owned-by-nobody", "chain-0666"])
def test_cli_show_refuses_unsafe_live_files_by_name(autotls_cli, hostile, tmp_path, case):
    store, webroot = str(tmp_path / "store"), str(tmp_path / "web")
    os.mkdir(webroot)
    done = cli_issue(autotls_cli, hostile, store, webroot)
    assert done.returncode == 0, done.stderr
    item = "fullchain.pem" if case.startswith("chain") else "privkey.pem"
    path = os.path.join(store, "live", ALPHA, item)
    if case == "key-owned-by-nobody":
        os.chown(path, NOBODY.pw_uid, NOBODY.pw_gid)
    else:
        os.chmod(path, 0o666 if item == "fullchain.pem" else 0o644)
    done = cli(autotls_cli, "show", "--store", store)
    assert done.returncode == EXIT_LOCAL, done
    assert re.search(r"store: refusing %s: " % re.escape(path), done.stderr), done.stderr
    assert ALPHA not in done.stdout


@pytest.mark.parametrize("case", ["0640", "owned-by-nobody"])
def test_cli_issue_refuses_an_unsafe_account_key_by_name(autotls_cli, hostile, tmp_path, case):
    store, webroot = str(tmp_path / "store"), str(tmp_path / "web")
    os.mkdir(webroot)
    assert cli_issue(autotls_cli, hostile, store, webroot).returncode == 0
    key = account_key(store)
    if case == "0640":
        os.chmod(key, 0o640)
    else:
        os.chown(key, NOBODY.pw_uid, NOBODY.pw_gid)
    serial_before = open(os.path.join(store, "live", ALPHA, "fullchain.pem")).read()
    done = cli_issue(autotls_cli, hostile, store, webroot)
    assert done.returncode == EXIT_LOCAL, done
    assert re.search(r"store: refusing %s: " % re.escape(key), done.stderr), done.stderr
    assert open(os.path.join(store, "live", ALPHA, "fullchain.pem")).read() == serial_before

