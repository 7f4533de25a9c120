# SPDX-License-Identifier: Apache-2.0
"""The activator: staged certificate sets go live without a restart, bad ones never do.

The one idea to hold: the activator runs as root and trusts nothing in staging/. So each test here
plays the renewal process: it builds a set exactly as at_store_save_set does (owned by the ACME
account, key 0600, chain 0644, `ready`, in a temp directory renamed to <store>/staging/<site>) and
then watches what a client sees over TLS with SNI. A good set must be served within 2 s; a bad one
must be refused with a log line naming why, and the certificate served before must still be
served. The attacks play User (www-data, the tenants' uid): their sets are never believed, and a
tree they move into staging/ loses nothing.

The issuing CA is made here with the openssl CLI (root -> intermediate -> leaves, `openssl ca` for
leaves with chosen validity) and is the server's AutoTLSIssuerRoots; AutoTLSCA points at a closed
loopback port so that no real order ever succeeds and every certificate comes from this test.
"""

import datetime
import os
import pathlib
import pwd
import re
import signal
import socket
import ssl
import stat
import subprocess
import shutil
import time
import traceback

import pytest

import httpd
from autotls_server import skip_unless_runnable

MODULE = skip_unless_runnable()

WORKER = "www-data"
ACME_USER = "autotls"  # AutoTLSUser's default; scripts/bootstrap.sh creates the account
SITE = "alpha.autotls-test.org"
SITE_ALIAS = "www.alpha.autotls-test.org"
OTHER = "beta.autotls-test.org"
ACTIVATOR_COMM = "autotls-activ"

LIVE_WITHIN = 2.0  # seconds from the rename to the new certificate on the wire
PROMOTED_WITHIN = 0.5  # seconds from the rename to the "is live" line (a 100 ms poll: ~0.1 more)
LATENCY_RUNS = 5
IDLE_SECONDS = 2.0
IDLE_WAKEUPS_MAX = 3  # an idle activator sleeps; a 100 ms poll would wake 20 times
OUTSIDER = 65534  # nobody: the owner of files a tenant moves into staging/
REFUSE_WITHIN = 3.0  # seconds from `ready` to the refusal in the log
START_TIMEOUT = 15.0
RESPAWN_TIMEOUT = 10.0
RESTART_TIMEOUT = 20.0
POLL = 0.05
CONNECT_TIMEOUT = 2.0
OPENSSL_TIMEOUT = 30
TIME_FORMAT = "%Y%m%d%H%M%SZ"


def openssl(*args, cwd=None):
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=OPENSSL_TIMEOUT, stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 0, "openssl %s: %s" % (" ".join(args), done.stderr)
    return done.stdout


def utc_text(delta):
    return (datetime.datetime.now(datetime.timezone.utc) + delta).strftime(TIME_FORMAT)


class CATool:
    """A root and an intermediate made with the openssl CLI; issues leaves with `openssl ca`."""

    def __init__(self, workdir, label, serial_base):
        self.dir = pathlib.Path(workdir) / label
        (self.dir / "newcerts").mkdir(parents=True)
        (self.dir / "index.txt").write_text("")
        serial = "%X" % serial_base
        (self.dir / "serial").write_text(serial.zfill(len(serial) + len(serial) % 2) + "\n")
        (self.dir / "ext.cnf").write_text(
            "[ca]\nbasicConstraints = critical,CA:TRUE\n"
            "keyUsage = critical,keyCertSign,cRLSign\n"
            "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n")
        (self.dir / "ca.cnf").write_text(
            "[ca]\ndefault_ca = this\n[this]\ndir = %s\ndatabase = $dir/index.txt\n"
            "new_certs_dir = $dir/newcerts\nserial = $dir/serial\ndefault_md = sha256\n"
            "policy = any\nunique_subject = no\ncopy_extensions = none\n"
            "[any]\ncommonName = supplied\n" % self.dir)
        self.root_key = self.new_key("root.key")
        self.root = self.dir / "root.pem"
        openssl("req", "-x509", "-new", "-key", str(self.root_key), "-subj",
                "/CN=%s Root" % label, "-days", "3650", "-out", str(self.root),
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        self.int_key = self.new_key("int.key")
        self.int = self.dir / "int.pem"
        csr = self.dir / "int.csr"
        openssl("req", "-new", "-key", str(self.int_key), "-subj", "/CN=%s Issuing CA" % label,
                "-out", str(csr))
        openssl("x509", "-req", "-in", str(csr), "-CA", str(self.root), "-CAkey",
                str(self.root_key), "-set_serial", str(serial_base + 1), "-days", "3650",
                "-extfile", str(self.dir / "ext.cnf"), "-extensions", "ca", "-out",
                str(self.int))
        self.count = 0

    def new_key(self, name):
        path = self.dir / name
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
                str(path))
        return path

    def leaf(self, names, start=datetime.timedelta(hours=-1), end=datetime.timedelta(days=30)):
        """A new key and a leaf for names valid from now+start to now+end: (key_pem, chain_pem,
        serial as upper-case hex, leaf DER)."""
        self.count += 1
        key = self.new_key("leaf%d.key" % self.count)
        csr = self.dir / ("leaf%d.csr" % self.count)
        cert = self.dir / ("leaf%d.pem" % self.count)
        ext = self.dir / ("leaf%d.ext" % self.count)
        ext.write_text("[leaf]\nbasicConstraints = critical,CA:FALSE\n"
                       "keyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth\n"
                       "subjectAltName = %s\n" % ",".join("DNS:" + n for n in names))
        openssl("req", "-new", "-key", str(key), "-subj", "/CN=%s" % names[0], "-out", str(csr))
        openssl("ca", "-batch", "-notext", "-config", str(self.dir / "ca.cnf"), "-cert",
                str(self.int), "-keyfile", str(self.int_key), "-in", str(csr), "-out", str(cert),
                "-startdate", utc_text(start), "-enddate", utc_text(end), "-extfile", str(ext),
                "-extensions", "leaf")
        serial = openssl("x509", "-in", str(cert), "-noout", "-serial").strip().split("=")[1]
        leaf_pem = cert.read_text()
        der = ssl.PEM_cert_to_DER_cert(leaf_pem)
        return key.read_text(), leaf_pem + self.int.read_text(), serial.upper(), der


class Server:
    """One httpd (mod_ssl + mod_autotls, two *:PORT vhosts, AutoTLS on) run as root."""

    def __init__(self, root, issuer_roots):
        self.root = pathlib.Path(root)
        self.port = httpd.free_port()
        self.https_port = httpd.free_port()
        self.store = self.root / "store"
        docroot = self.root / "htdocs"
        docroot.mkdir()
        (docroot / "index.html").write_text("hello\n")
        for path in (self.root, docroot):
            path.chmod(0o755)
        open_up_ancestors(self.root)
        body = """
            Listen 127.0.0.1:{https} https
            User {worker}
            Group {worker}
            LogLevel info ssl:warn
            AutoTLS on
            AutoTLSCA https://127.0.0.1:{dead}/directory
            AutoTLSIssuerRoots "{roots}"
            AutoTLSStore "{store}"
            AutoTLSHTTPSPort {https}
            AutoTLSContact admin@autotls-test.org
            # A piped logger (mod_log_config is built in): another "other child" of the parent.
            CustomLog "||/bin/cat" common
            <VirtualHost *:{port}>
                ServerName {site}
                ServerAlias {alias}
                DocumentRoot "{docroot}"
            </VirtualHost>
            <VirtualHost *:{port}>
                ServerName {other}
                DocumentRoot "{docroot}"
            </VirtualHost>
        """.format(https=self.https_port, worker=WORKER, dead=httpd.free_port(),
                   roots=issuer_roots, store=self.store, port=self.port, site=SITE,
                   alias=SITE_ALIAS, other=OTHER, docroot=docroot)
        self.conf = httpd.write_httpd_conf(self.root, body, port=self.port, module=MODULE,
                                           modules=(("ssl_module", "mod_ssl.so"),))
        self.error_log = self.root / "error.log"
        self.worker = pwd.getpwnam(WORKER)
        try:
            self.acme = pwd.getpwnam(ACME_USER)
        except KeyError:
            pytest.skip("the ACME account %s is missing (scripts/bootstrap.sh creates it)"
                        % ACME_USER)

    def run(self, *args):
        done = httpd.run_httpd(self.conf, *args)
        assert done.returncode == 0, "apache2 %s: %s%s\n%s" % (
            " ".join(args), done.stdout, done.stderr, self.log_tail())
        return done

    def parent_pid(self):
        return int((self.root / "httpd.pid").read_text().strip())

    def log(self):
        try:
            return self.error_log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines=40):
        return "\n".join(self.log().splitlines()[-lines:])

    def wait_log(self, pattern, timeout, start=0):
        """The first match of pattern in the error log after offset start, within timeout."""
        deadline = time.monotonic() + timeout
        while True:
            m = re.compile(pattern).search(self.log(), start)
            if m:
                return m
            if time.monotonic() > deadline:
                pytest.fail("no log line matching %r within %.1f s; log tail:\n%s"
                            % (pattern, timeout, self.log_tail()))
            time.sleep(POLL)

    def activators(self):
        """Pids of processes named like the activator whose parent is the httpd parent."""
        return self.children_named(ACTIVATOR_COMM)

    def children_named(self, name):
        """Pids of the httpd parent's children whose process name is name."""
        parent = self.parent_pid()
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                proc_stat = pathlib.Path("/proc", entry, "stat").read_text()
            except OSError:
                continue
            comm = proc_stat[proc_stat.index("(") + 1:proc_stat.rindex(")")]
            ppid = int(proc_stat[proc_stat.rindex(")") + 2:].split()[1])
            if ppid == parent and comm == name:
                found.append(int(entry))
        return sorted(found)

    def served(self, name):
        """DER of the certificate the HTTPS twin presents for SNI name, or None."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        try:
            with socket.create_connection((httpd.LOOPBACK, self.https_port),
                                          timeout=CONNECT_TIMEOUT) as sock:
                with ctx.wrap_socket(sock, server_hostname=name) as tls:
                    return tls.getpeercert(binary_form=True)
        except (OSError, ssl.SSLError):
            return None

    def wait_served(self, name, der, timeout):
        deadline = time.monotonic() + timeout
        while self.served(name) != der:
            if time.monotonic() > deadline:
                return False
            time.sleep(POLL)
        return True

    def staging(self, site):
        return self.store / "staging" / site

    def stage(self, site, key_pem, chain_pem, key_link_to=None, owner=None):
        """Writes a set as the renewal process does (at_store_save_set): owned by the ACME account
        (or owner, a pwd entry), key 0600, chain 0644, `ready`, all in a temp directory that is
        then renamed to staging/<site>. With key_link_to, privkey.pem is a symbolic link to that
        file instead. Returns the time of the rename."""
        owner = owner or self.acme
        uid, gid = owner.pw_uid, owner.pw_gid
        group = self.store / "staging"
        if not group.exists():
            group.mkdir(mode=0o755)
            os.chown(group, uid, gid)
        d = group / (".%s.tmp.T%05d" % (site, os.getpid() % 100000))
        d.mkdir(mode=0o700)
        os.chown(d, uid, gid)
        key = d / "privkey.pem"
        if key_link_to is None:
            write_owned(key, key_pem, 0o600, uid, gid)
        else:
            os.symlink(key_link_to, key)
            os.chown(key, uid, gid, follow_symlinks=False)
        write_owned(d / "fullchain.pem", chain_pem, 0o644, uid, gid)
        write_owned(d / "ready", "", 0o644, uid, gid)
        renamed = time.time()
        os.rename(d, self.staging(site))
        return renamed

    def wait_staging_gone(self, site, timeout):
        deadline = time.monotonic() + timeout
        while os.path.lexists(self.staging(site)):
            if time.monotonic() > deadline:
                return False
            time.sleep(POLL)
        return True


def open_up_ancestors(path):
    """pytest's temp dirs are 0700: let the worker user traverse down to path (the renewal
    thread reads the store there), without opening anything up for reading."""
    for parent in pathlib.Path(path).resolve().parents:
        st = parent.stat()
        if st.st_uid == os.geteuid() and not st.st_mode & stat.S_IXOTH:
            parent.chmod(st.st_mode | stat.S_IXOTH)


def first_der(pem):
    """DER of the first certificate of a PEM chain."""
    end = "-----END CERTIFICATE-----"
    return ssl.PEM_cert_to_DER_cert(pem[:pem.index(end) + len(end)])


def write_owned(path, text, mode, uid, gid):
    """Mode and owner are set on the open file: once `ready` exists the activator may take the
    set and remove it at any moment, so nothing may be done by path afterwards."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fchmod(fd, mode)
        os.fchown(fd, uid, gid)


def wait_gone(pid, timeout):
    """Whether pid is gone, reaped and not a zombie, within timeout."""
    deadline = time.monotonic() + timeout
    while os.path.exists("/proc/%d" % pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL)
    return True


@pytest.fixture(scope="module")
def cas(tmp_path_factory):
    work = tmp_path_factory.mktemp("cas")
    work.chmod(0o755)
    return {"ours": CATool(work, "AutoTLS Test", 0x1000),
            "stranger": CATool(work, "Stranger", 0x9000)}


@pytest.fixture(scope="module")
def server(tmp_path_factory, cas):
    root = tmp_path_factory.mktemp("activator")
    srv = Server(root, cas["ours"].root)
    srv.run("-k", "start")
    try:
        srv.wait_log(r"autotls-0300: activator started, pid \d+", START_TIMEOUT)
        srv.wait_log(r"resuming normal operations", START_TIMEOUT)  # pid file is there
        yield srv
    finally:
        try:
            pids = srv.activators()
        except (OSError, ValueError):
            pids = []  # already stopped
        httpd.run_httpd(srv.conf, "-k", "stop")
        for pid in pids:
            wait_gone(pid, RESTART_TIMEOUT)


@pytest.fixture(scope="module")
def live(server, cas):
    """Puts a first CA-issued certificate live for SITE; returns its leaf DER."""
    key, chain, serial, der = cas["ours"].leaf([SITE, SITE_ALIAS])
    server.stage(SITE, key, chain)
    assert server.wait_served(SITE, der, LIVE_WITHIN), server.log_tail()
    return {"der": der, "serial": serial}


def test_exactly_one_activator_runs_as_root_under_the_parent(server):
    pids = server.activators()
    assert len(pids) == 1, pids
    status = pathlib.Path("/proc/%d/status" % pids[0]).read_text()
    assert re.search(r"^Uid:\s+0\s", status, re.M), status


def test_staged_certificate_served_without_restart(server, cas):
    parent = server.parent_pid()
    before = server.served(OTHER)
    key, chain, serial, der = cas["ours"].leaf([SITE, SITE_ALIAS])
    offset = len(server.log())
    server.stage(SITE, key, chain)
    assert server.wait_served(SITE, der, LIVE_WITHIN), server.log_tail()
    assert server.served(SITE_ALIAS) == der
    assert server.served(OTHER) == before, "another site's certificate changed"
    assert server.parent_pid() == parent
    m = server.wait_log(r"autotls-0312: %s: certificate %s for ([^ ]+) from .* is live, expires "
                        r"\d{4}-\d\d-\d\d" % (re.escape(SITE), serial), LIVE_WITHIN, offset)
    assert set(m.group(1).split(",")) == {SITE, SITE_ALIAS}
    assert server.wait_staging_gone(SITE, LIVE_WITHIN)
    live_dir = server.store / "live" / SITE
    st = os.stat(live_dir / "privkey.pem", follow_symlinks=False)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (0, 0, 0o600)
    st = os.stat(live_dir / "fullchain.pem", follow_symlinks=False)
    assert (st.st_uid, st.st_mode & 0o777) == (0, 0o644)
    assert os.stat(live_dir).st_uid == 0
    assert first_der((live_dir / "fullchain.pem").read_text()) == der


def test_previous_live_set_is_archived(server, cas, live):
    archive = server.store / "archive" / SITE
    before = set(os.listdir(archive)) if archive.exists() else set()
    key, chain, _, der = cas["ours"].leaf([SITE, SITE_ALIAS])
    server.stage(SITE, key, chain)
    assert server.wait_served(SITE, der, LIVE_WITHIN), server.log_tail()
    assert server.wait_staging_gone(SITE, LIVE_WITHIN)
    added = set(os.listdir(archive)) - before
    assert any(n.endswith(".privkey.pem") for n in added), added
    chains = [n for n in added if n.endswith(".fullchain.pem")]
    assert len(chains) == 1, added
    archived = first_der((archive / chains[0]).read_text())
    assert archived == live["der"]
    st = os.stat(archive / chains[0].replace("fullchain", "privkey"))
    assert (st.st_uid, st.st_mode & 0o777) == (0, 0o600)
    live["der"] = der


def refused(server, reason, offset):
    """Waits for the refusal line naming reason; the staged set must be gone too."""
    server.wait_log(r"autotls-0314: %s: refused staged certificate: [^\n]*%s"
                    % (re.escape(SITE), reason), REFUSE_WITHIN, offset)
    assert server.wait_staging_gone(SITE, REFUSE_WITHIN), "the refused set was left in staging/"


BAD_SETS = {
    "key_mismatch": "private key does not match",
    "foreign_name": "names stranger.autotls-test.org, which is not one of the site's names",
    "expired": "expired on",
    "not_yet_valid": "not valid before",
    "foreign_issuer": "does not verify to the issuer roots",
    "truncated_pem": "not a readable PEM",
}


@pytest.mark.parametrize("case", sorted(BAD_SETS))
def test_invalid_set_is_refused_and_old_certificate_stays(server, cas, live, case):
    ours = cas["ours"]
    day = datetime.timedelta(days=1)
    if case == "key_mismatch":
        _, chain, _, _ = ours.leaf([SITE, SITE_ALIAS])
        key = ours.new_key("stray%d.key" % ours.count).read_text()
    elif case == "foreign_name":
        key, chain, _, _ = ours.leaf([SITE, "stranger.autotls-test.org"])
    elif case == "expired":
        key, chain, _, _ = ours.leaf([SITE, SITE_ALIAS], start=-30 * day, end=-day)
    elif case == "not_yet_valid":
        key, chain, _, _ = ours.leaf([SITE, SITE_ALIAS], start=day, end=30 * day)
    elif case == "foreign_issuer":
        key, chain, _, _ = cas["stranger"].leaf([SITE, SITE_ALIAS])
    else:
        key, chain, _, _ = ours.leaf([SITE, SITE_ALIAS])
        chain = chain[:len(chain) // 2]
    offset = len(server.log())
    server.stage(SITE, key, chain)
    refused(server, BAD_SETS[case], offset)
    assert server.served(SITE) == live["der"]


def test_partial_set_is_served_and_names_what_it_leaves_out(server, cas, live):
    """Partial issuance: a set for some of the site's names (the alias failed validation) goes
    live, and the log names the alias still missing."""
    key, chain, serial, der = cas["ours"].leaf([SITE])
    offset = len(server.log())
    server.stage(SITE, key, chain)
    assert server.wait_served(SITE, der, LIVE_WITHIN), server.log_tail()
    server.wait_log(r"autotls-0320: %s: the live certificate leaves out %s "
                    % (re.escape(SITE), re.escape(SITE_ALIAS)), LIVE_WITHIN, offset)
    assert server.wait_staging_gone(SITE, LIVE_WITHIN)
    live["der"] = der
    key, chain, _, der = cas["ours"].leaf([SITE, SITE_ALIAS])  # the complete one replaces it
    server.stage(SITE, key, chain)
    assert server.wait_served(SITE_ALIAS, der, LIVE_WITHIN), server.log_tail()
    live["der"] = der


def test_symlinked_key_is_refused(server, cas, live, tmp_path):
    key, chain, _, _ = cas["ours"].leaf([SITE, SITE_ALIAS])
    secret = tmp_path / "root-only.key"
    write_owned(secret, key, 0o600, 0, 0)  # a valid key: only the link itself is wrong
    offset = len(server.log())
    server.stage(SITE, None, chain, key_link_to=secret)
    refused(server, "symbolic link", offset)
    assert server.served(SITE) == live["der"]
    assert secret.read_text() == key, "the link target was touched"


def test_symlinked_staging_directory_is_refused(server, cas, live, tmp_path):
    key, chain, _, _ = cas["ours"].leaf([SITE, SITE_ALIAS])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    for name, text, mode in (("privkey.pem", key, 0o600), ("fullchain.pem", chain, 0o644),
                             ("ready", "", 0o644)):
        write_owned(elsewhere / name, text, mode, 0, 0)  # a valid set: only the link is wrong
    offset = len(server.log())
    link = server.store / "staging" / (".%s.tmp.L00000" % SITE)
    os.symlink(elsewhere, link)
    os.chown(link, server.acme.pw_uid, server.acme.pw_gid, follow_symlinks=False)
    os.rename(link, server.staging(SITE))  # a link of the trusted account is still a link
    refused(server, "not a directory", offset)
    assert server.served(SITE) == live["der"]
    assert sorted(os.listdir(elsewhere)) == ["fullchain.pem", "privkey.pem", "ready"]


def test_killed_activator_is_replaced_and_keeps_working(server, cas, live):
    (old,) = server.activators()
    offset = len(server.log())
    os.kill(old, signal.SIGKILL)
    server.wait_log(r"autotls-0303: activator \(pid %d\) was killed by signal 9; starting a new "
                    r"one" % old, RESPAWN_TIMEOUT, offset)
    m = server.wait_log(r"autotls-0300: activator started, pid (\d+)", RESPAWN_TIMEOUT, offset)
    new = int(m.group(1))
    assert new != old
    assert wait_gone(old, RESPAWN_TIMEOUT), "the killed activator was not reaped"
    assert server.activators() == [new]
    key, chain, _, der = cas["ours"].leaf([SITE, SITE_ALIAS])
    server.stage(SITE, key, chain)
    assert server.wait_served(SITE, der, LIVE_WITHIN), server.log_tail()
    live["der"] = der


def test_other_children_survive_a_replaced_activator(server, cas, live):
    """APR keeps a dead other child's record unless its callback drops it, and the next death of
    any other child (here the piped logger) then walks into it: the parent must survive."""
    (old,) = server.activators()
    parent = server.parent_pid()
    offset = len(server.log())
    os.kill(old, signal.SIGKILL)
    m = server.wait_log(r"autotls-0300: activator started, pid (\d+)", RESPAWN_TIMEOUT, offset)
    (logger,) = server.children_named("cat")
    os.kill(logger, signal.SIGKILL)
    assert wait_gone(logger, RESPAWN_TIMEOUT), "the piped logger was not reaped"
    deadline = time.monotonic() + RESPAWN_TIMEOUT
    while not server.children_named("cat") and time.monotonic() < deadline:
        time.sleep(POLL)
    assert os.path.exists("/proc/%d" % parent), "the httpd parent died"
    assert server.children_named("cat"), "the piped logger was not started again"
    assert server.activators() == [int(m.group(1))]
    key, chain, _, der = cas["ours"].leaf([SITE, SITE_ALIAS])
    server.stage(SITE, key, chain)
    assert server.wait_served(SITE, der, LIVE_WITHIN), server.log_tail()
    live["der"] = der


def test_graceful_restart_leaves_exactly_one_activator(server, cas, live):
    (old,) = server.activators()
    parent = server.parent_pid()
    for _ in range(2):
        offset = len(server.log())
        server.run("-k", "graceful")
        server.wait_log(r"autotls-0300: activator started, pid (\d+)", RESTART_TIMEOUT, offset)
        assert wait_gone(old, RESTART_TIMEOUT), "the old generation's activator is still there"
        pids = server.activators()
        assert len(pids) == 1 and pids[0] != old, pids
        old = pids[0]
    assert server.parent_pid() == parent
    # live/ carried the last certificate across the restarts, and the new activator works.
    assert server.wait_served(SITE, live["der"], LIVE_WITHIN), server.log_tail()
    key, chain, _, der = cas["ours"].leaf([SITE, SITE_ALIAS])
    server.stage(SITE, key, chain)
    assert server.wait_served(SITE, der, LIVE_WITHIN), server.log_tail()
    live["der"] = der


def test_unknown_names_in_staging_are_ignored(server, cas, live):
    key, chain, _, _ = cas["ours"].leaf(["stranger.autotls-test.org"])
    offset = len(server.log())
    server.stage("stranger.autotls-test.org", key, chain)
    time.sleep(10 * POLL)
    assert "autotls-031" not in server.log()[offset:], "the activator acted on a non-site set"
    assert server.staging("stranger.autotls-test.org").exists(), "a non-site set was touched"
    assert not (server.store / "live" / "stranger.autotls-test.org").exists()
    assert server.served(SITE) == live["der"]


def run_as(user, action):
    """Runs action() in a forked process as user (uid, gid, no supplementary groups), as code
    running under that uid (a tenant's PHP or CGI script) would; fails the test if it raised."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            action()
            code = 0
        except BaseException:  # pylint: disable=broad-except
            traceback.print_exc()
        finally:
            os._exit(code)  # pylint: disable=protected-access
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, \
        "the step run as %s failed" % user.pw_name


def move_into_staging(server, tree, site):
    """Moves tree to staging/<site> as User when User can write staging/ (a store made before
    the ACME account owned it); else as root, standing for however it got there."""
    group = server.store / "staging"
    if os.stat(group).st_uid == server.worker.pw_uid:
        run_as(server.worker, lambda: os.rename(tree, group / site))
    else:
        os.rename(tree, group / site)


def tenant_dir(server, tmp_path):
    """A directory of User's beside the store (same filesystem, so a rename can move from it)."""
    d = server.root / ("tenant-" + tmp_path.name)
    d.mkdir(mode=0o755)
    os.chown(d, server.worker.pw_uid, server.worker.pw_gid)
    return d


def owner_line(server, site, uid, offset):
    return server.wait_log(r"autotls-0314: %s: refused staged certificate: [^\n]*owned by uid %d"
                           % (re.escape(site), uid), REFUSE_WITHIN, offset)


@pytest.mark.parametrize("case", ["set-of-user", "files-of-user-in-an-acme-directory"])
def test_set_owned_by_user_is_refused_naming_the_owner(server, cas, live, tmp_path, case):
    """User (the tenants' uid) is never trusted for staging/: whatever it places there, however
    valid, is refused with a line naming its owner, and the old certificate stays."""
    key, chain, _, der = cas["ours"].leaf([SITE, SITE_ALIAS])
    tenant = tenant_dir(server, tmp_path)
    tree = tenant / "set"

    def build():
        tree.mkdir(mode=0o700)
        for name, text, mode in (("privkey.pem", key, 0o600), ("fullchain.pem", chain, 0o644),
                                 ("ready", "", 0o644)):
            fd = os.open(tree / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            with os.fdopen(fd, "w") as f:
                f.write(text)

    run_as(server.worker, build)
    offset = len(server.log())
    if case == "set-of-user":
        move_into_staging(server, tree, SITE)
        uid = server.worker.pw_uid
        owner_line(server, SITE, uid, offset)
    else:
        os.chown(tree, server.acme.pw_uid, server.acme.pw_gid)
        os.rename(tree, server.staging(SITE))
        server.wait_log(r"autotls-0314: %s: refused staged certificate: a file of the set "
                        % re.escape(SITE), REFUSE_WITHIN, offset)
        assert re.search(r"privkey.pem: file owned by uid %d" % server.worker.pw_uid,
                         server.log()[offset:]), server.log_tail()
    time.sleep(10 * POLL)
    assert server.served(SITE) == live["der"]
    assert server.served(SITE) != der
    # User's own files are not root's to delete: they stay, moved aside with their directory so
    # that they block no new set.
    kept = kept_aside(server, SITE, offset)
    assert (kept / "privkey.pem").exists()
    assert not server.staging(SITE).exists()
    shutil.rmtree(kept)


def kept_aside(server, site, offset):
    """Where a refused set with entries the store did not make went: its directory, moved aside
    untouched (one warning naming the new name)."""
    m = server.wait_log(r"staging/%s keeps entries the store did not make[^\n]*moved aside as "
                        r"(\.[^,\s]+)," % re.escape(site), REFUSE_WITHIN, offset)
    return server.staging(m.group(1))


def test_tree_moved_into_staging_is_refused_and_loses_nothing(server, cas, live, tmp_path):
    """A tenant moves a tree of other users' files (a subdirectory, a link to an outside
    directory, a file named like an item) into staging/<site>: root refuses it and removes none
    of it, inside or outside."""
    key, chain, _, _ = cas["ours"].leaf([OTHER])
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("outside data\n")
    tenant = tenant_dir(server, tmp_path)
    tree = tenant / "tree"
    tree.mkdir()
    (tree / "sub").mkdir()
    victims = {"privkey.pem": key, "fullchain.pem": chain, "sub/notes": "theirs\n",
               "sub/privkey.pem": "theirs too\n"}
    for rel, text in victims.items():
        (tree / rel).write_text(text)
        os.chown(tree / rel, OUTSIDER, OUTSIDER)
    os.chown(tree / "sub", OUTSIDER, OUTSIDER)
    os.symlink(outside, tree / "link")
    os.chown(tree, server.worker.pw_uid, server.worker.pw_gid)
    run_as(server.worker, lambda: (tree / "ready").write_text(""))
    offset = len(server.log())
    move_into_staging(server, tree, OTHER)
    owner_line(server, OTHER, server.worker.pw_uid, offset)
    time.sleep(10 * POLL)
    moved = kept_aside(server, OTHER, offset)
    for rel, text in victims.items():
        assert (moved / rel).read_text() == text, rel
        assert os.stat(moved / rel).st_uid == OUTSIDER
    assert os.readlink(moved / "link") == str(outside)
    assert (outside / "precious").read_text() == "outside data\n"
    assert (moved / "ready").exists()
    shutil.rmtree(moved)


def log_time(line):
    """The time (seconds since the epoch) of an error log line: [Www Mmm dd hh:mm:ss.uuuuuu yyyy]."""
    stamp = re.match(r"\[([^\]]+)\]", line).group(1)
    return datetime.datetime.strptime(stamp, "%a %b %d %H:%M:%S.%f %Y").timestamp()


def wakeups(pid):
    status = pathlib.Path("/proc/%d/status" % pid).read_text()
    return int(re.search(r"^voluntary_ctxt_switches:\s+(\d+)", status, re.M).group(1))


def test_promotion_follows_the_rename_at_once_and_the_idle_activator_sleeps(server, cas, live):
    """The activator learns of a set from a notification, not by listing staging/ every 100 ms:
    idle, it does not wake; a set renamed into staging/ is live well within a poll interval."""
    (pid,) = server.activators()
    before = wakeups(pid)
    time.sleep(IDLE_SECONDS)
    woke = wakeups(pid) - before
    assert woke <= IDLE_WAKEUPS_MAX, "the idle activator woke %d times in %.0f s" % (
        woke, IDLE_SECONDS)
    latencies = []
    for _ in range(LATENCY_RUNS):
        key, chain, serial, der = cas["ours"].leaf([SITE, SITE_ALIAS])
        offset = len(server.log())
        renamed = server.stage(SITE, key, chain)
        m = server.wait_log(r"(?m)^.*autotls-0312: %s: certificate %s .* is live.*$"
                            % (re.escape(SITE), serial), LIVE_WITHIN, offset)
        latencies.append(log_time(m.group(0)) - renamed)
        assert server.wait_served(SITE, der, LIVE_WITHIN), server.log_tail()
        live["der"] = der
    latencies.sort()
    print("rename -> live latency (ms): %s" % ", ".join("%.1f" % (x * 1000) for x in latencies))
    assert latencies[len(latencies) // 2] < PROMOTED_WITHIN, latencies


def test_stop_ends_the_activator(server):
    (pid,) = server.activators()
    offset = len(server.log())
    server.run("-k", "stop")
    assert wait_gone(pid, RESTART_TIMEOUT), "the activator outlived the server"
    server.wait_log(r"autotls-0301: activator stopped, pid %d" % pid, RESTART_TIMEOUT, offset)
    assert "autotls-0303" not in server.log()[offset:], "the activator was restarted on stop"
