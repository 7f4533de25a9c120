# SPDX-License-Identifier: Apache-2.0
"""The Debian package, the way an admin meets it: built, checked by lintian, installed into this
machine's Apache, three sites from sites-available served over HTTPS by pebble's certificates,
then disabled, removed and purged, leaving a server whose configuration still checks.

The one idea to hold: this is the only test that touches the machine's own Apache
(/etc/apache2, /var/lib/apache2/autotls, the package database), so it restores everything it
changed, stops the Apache it started by pid, and skips rather than touch a machine that is in
use: the package already installed, a store already at /var/lib/apache2/autotls, the system
Apache running. It takes minutes (dpkg-buildpackage): scripts/test.sh runs it as its own part
("package"); AUTOTLS_PACKAGE_TEST=0 skips it.

Every command it runs is recorded in order (COMMANDS) and printed with lintian's output, so a
failing run shows the whole sequence.
"""

import json
import os
import pathlib
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

from autotls_server import cert_from_dict, normalize_serial
from pebble import LOOPBACK, free_port

REPO = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = "libapache2-mod-autotls"
STORE = pathlib.Path("/var/lib/apache2/autotls")
APACHE_ETC = pathlib.Path("/etc/apache2")
PORTS_CONF = APACHE_ETC / "ports.conf"
PID_FILE = pathlib.Path("/var/run/apache2/apache2.pid")
ACME_USER = "autotls"
SITES = ("one.package.test", "two.package.test", "three.package.test")
TEST_CONF = "autotls-package-test"  # conf-available/<this>.conf: the test's CA settings

BUILD_TIMEOUT = 1200.0  # dpkg-buildpackage on 2 busy cores
COMMAND_TIMEOUT = 300.0
SERVED_TIMEOUT = 90.0
STOP_TIMEOUT = 20.0
POLL = 0.2

COMMANDS = []  # (command line, exit status) of everything run, in order


def _skip_reason():
    if os.environ.get("AUTOTLS_PACKAGE_TEST") == "0":
        return "AUTOTLS_PACKAGE_TEST=0"
    if os.geteuid() != 0:
        return "needs root: it installs a package"
    for tool in ("dpkg-buildpackage", "lintian", "apt-get", "a2enmod", "apache2ctl"):
        if shutil.which(tool) is None:
            return "%s is not installed" % tool
    if _installed(PACKAGE):
        return "%s is installed already: this machine is not ours to test on" % PACKAGE
    if STORE.exists():
        return "%s exists already: it is not this test's to purge" % STORE
    if _pid_alive(_system_apache_pid()):
        return "the system Apache is running: this test starts and stops its own"
    if subprocess.run(["dpkg-checkbuilddeps"], cwd=REPO, capture_output=True).returncode != 0:
        return "build dependencies missing (dpkg-checkbuilddeps)"
    return None


def _installed(package):
    proc = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True,
                          text=True)
    return proc.returncode == 0 and proc.stdout.strip() == "install ok installed"


def _system_apache_pid():
    try:
        return int(PID_FILE.read_text().strip())
    except (OSError, ValueError):
        return None


def _pid_alive(pid):
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return os.path.basename(os.readlink("/proc/%d/exe" % pid)) == "apache2"
    except OSError:
        return False


pytestmark = pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")


def system_env():
    """The environment a root shell gives Apache and apt: none of the test's overrides."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("AUTOTLS_STORE_DIR", "LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS")}
    env["DEBIAN_FRONTEND"] = "noninteractive"
    return env


def account_exists():
    return subprocess.run(["getent", "passwd", ACME_USER], capture_output=True).returncode == 0


def sh(*argv, cwd=None, timeout=COMMAND_TIMEOUT, check=True, env=None):
    """Runs argv; records it; returns the CompletedProcess (text). check: asserts exit 0."""
    proc = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env or system_env(), stdin=subprocess.DEVNULL)
    COMMANDS.append((" ".join(str(a) for a in argv), proc.returncode))
    if check:
        assert proc.returncode == 0, "%s: exit %d\n%s%s" % (
            " ".join(str(a) for a in argv), proc.returncode, proc.stdout[-4000:],
            proc.stderr[-4000:])
    return proc


def copy_tree(dest):
    """The source tree as a checkout has it (tracked and new files, nothing ignored: no build
    directory, no generated configure)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=REPO, capture_output=True)
    if listed.returncode != 0:  # not a git checkout: everything but the builds
        shutil.copytree(REPO, dest, symlinks=True,
                        ignore=shutil.ignore_patterns("build*", ".git", "__pycache__"))
        return
    for rel in listed.stdout.decode().split("\0"):
        if not rel or not (REPO / rel).exists():
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, target, follow_symlinks=False)


def served(name, port, context):
    """The certificate served for SNI name, verified against context (pebble's root and
    intermediate, host name checked): a ServedCert, or None while it does not verify."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=5) as sock:
            with context.wrap_socket(sock, server_hostname=name) as tls:
                return cert_from_dict(tls.getpeercert())
    except (OSError, ssl.SSLError):
        return None


class Machine:
    """What the test changes on this machine, and how to put it back."""

    def __init__(self):
        self.ports_conf = PORTS_CONF.read_text()
        self.mods_enabled = set(os.listdir(APACHE_ETC / "mods-enabled"))
        self.files = []  # files the test wrote under /etc/apache2
        self.sites = []

    def write(self, path, text):
        path = pathlib.Path(path)
        path.write_text(text)
        self.files.append(path)

    def stop_apache(self):
        pid = _system_apache_pid()
        if not _pid_alive(pid):
            return
        os.kill(pid, signal.SIGTERM)
        COMMANDS.append(("kill -TERM %d  # the system apache2, by its pid file" % pid, 0))
        deadline = time.monotonic() + STOP_TIMEOUT
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(POLL)
        if _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)

    def restore(self):
        self.stop_apache()
        for site in self.sites:
            sh("a2dissite", "-q", site, check=False)
        if _installed(PACKAGE) or subprocess.run(
                ["dpkg-query", "-W", PACKAGE], capture_output=True).returncode == 0:
            sh("apt-get", "purge", "-y", "-q", PACKAGE, check=False)
        sh("a2disconf", "-q", TEST_CONF, check=False)
        for path in self.files:
            if path.exists():
                path.unlink()
        for mod in set(os.listdir(APACHE_ETC / "mods-enabled")) - self.mods_enabled:
            if mod.endswith(".load"):
                sh("a2dismod", "-q", "-f", mod[:-len(".load")], check=False)
        PORTS_CONF.write_text(self.ports_conf)


def test_package_builds_installs_serves_three_sites_and_purges_cleanly(pebble, http01_port):
    work = pathlib.Path(tempfile.mkdtemp(prefix="autotls-package-"))
    os.chmod(work, 0o755)
    src = work / "mod-autotls"
    copy_tree(src)
    machine = Machine()
    report = []
    try:
        # --- build and check ---------------------------------------------------------------
        # nocheck: the unit tests run in their own part of scripts/test.sh
        sh("dpkg-buildpackage", "-b", "-us", "-uc", cwd=src, timeout=BUILD_TIMEOUT,
           env=dict(system_env(), DEB_BUILD_OPTIONS="nocheck parallel=2"))
        debs = sorted(work.glob("%s_*.deb" % PACKAGE))
        assert len(debs) == 1, sorted(os.listdir(work))
        deb = debs[0]
        changes = sorted(work.glob("*.changes"))
        lintian = sh("lintian", "--fail-on", "error,warning", changes[0], check=False)
        report.append("lintian %s (exit %d):\n%s%s" % (changes[0].name, lintian.returncode,
                                                       lintian.stdout, lintian.stderr))
        assert lintian.returncode == 0, report[-1]
        assert not re.search(r"^[EW]: ", lintian.stdout, re.M), report[-1]

        # --- install, enable, configure as the admin would ---------------------------------
        sh("apt-get", "install", "-y", "-q", "--no-install-recommends", deb)
        assert _installed(PACKAGE)
        assert account_exists()
        for path in ("/usr/lib/apache2/modules/mod_autotls.so", "/usr/bin/autotls",
                     "/etc/apache2/mods-available/autotls.load",
                     "/etc/apache2/mods-available/autotls.conf"):
            assert os.path.exists(path), path
        assert not (APACHE_ETC / "mods-enabled" / "autotls.load").exists(), \
            "the package enabled the module: only the admin may"
        sh("a2enmod", "autotls")
        conf = APACHE_ETC / "mods-available" / "autotls.conf"
        text = conf.read_text()
        assert re.search(r"^\s*#AutoTLS on$", text, re.M)
        conf.write_text(re.sub(r"^(\s*)#AutoTLS on$", r"\1AutoTLS on", text, flags=re.M))

        # This machine's ports stay closed: the sites listen on loopback, on the port pebble
        # validates http-01 at; the generated HTTPS twins on a free loopback port.
        https_port = free_port()
        machine.write(PORTS_CONF, "# replaced by %s for the test\n" % __name__)
        roots = work / "issuer-roots.pem"
        roots.write_text(pebble.roots_pem())
        os.chmod(roots, 0o644)
        machine.write(APACHE_ETC / "conf-available" / (TEST_CONF + ".conf"), "\n".join([
            "Listen %s:%d" % (LOOPBACK, http01_port),
            "<IfModule autotls_module>",
            "    AutoTLSCA %s" % pebble.directory_url,
            '    AutoTLSCACertificateFile "%s"' % pebble.ca_cert,
            '    AutoTLSIssuerRoots "%s"' % roots,
            "    AutoTLSHTTPSPort %d" % https_port,
            "</IfModule>", ""]))
        sh("a2enconf", "-q", TEST_CONF)
        for name in SITES:
            docroot = work / "www" / name
            docroot.mkdir(parents=True)
            (docroot / "index.html").write_text("site %s\n" % name)
            os.chmod(docroot.parent, 0o755)
            os.chmod(docroot, 0o755)
            machine.write(APACHE_ETC / "sites-available" / ("%s.conf" % name), "\n".join([
                "<VirtualHost %s:%d>" % (LOOPBACK, http01_port),
                "    ServerName %s" % name,
                '    DocumentRoot "%s"' % docroot,
                '    <Directory "%s">' % docroot,
                "        Require all granted",
                "    </Directory>",
                "</VirtualHost>", ""]))
            sh("a2ensite", "-q", name)
            machine.sites.append(name)
        sh("apache2ctl", "-t")
        sh("apache2ctl", "start")

        # --- three sites over HTTPS, issued by pebble ----------------------------------------
        context = ssl.create_default_context(cadata=pebble.roots_pem() +
                                             pebble.intermediates_pem())
        subject = subprocess.run(["openssl", "x509", "-noout", "-subject", "-nameopt", "oneline"],
                                 input=pebble.intermediates_pem(), capture_output=True,
                                 text=True).stdout
        issuer = re.search(r"CN = (.+)$", subject.strip()).group(1)  # pebble's intermediate
        deadline = time.monotonic() + SERVED_TIMEOUT
        certs = {}
        while len(certs) < len(SITES) and time.monotonic() < deadline:
            for name in SITES:
                if name not in certs:
                    cert = served(name, https_port, context)
                    if cert is not None:
                        certs[name] = cert
            time.sleep(POLL)
        assert len(certs) == len(SITES), "served with pebble's chain: %s\n%s" % (
            sorted(certs), _log_tail())
        for name, cert in certs.items():
            assert name in cert.sans
            assert cert.issuer == "commonName = %s" % issuer, (cert, issuer)
            assert normalize_serial(cert.serial)
        assert (STORE / "live").is_dir()
        assert os.stat(STORE / "accounts").st_uid == int(
            subprocess.run(["id", "-u", ACME_USER], capture_output=True, text=True).stdout)
        shown = sh("autotls", "show", "--json")  # the CLI finds the server's store itself
        assert sorted(e["site"] for e in json.loads(shown.stdout)) == sorted(SITES)

        # --- disable, remove, purge ------------------------------------------------------------
        machine.stop_apache()
        sh("a2dismod", "autotls")
        sh("apt-get", "remove", "-y", "-q", PACKAGE)
        sh("apache2ctl", "-t")
        assert conf.exists(), "remove must keep the admin's edited conffile"
        assert STORE.is_dir(), "remove must keep the store"
        purge = sh("apt-get", "purge", "-y", "-q", PACKAGE)
        assert "removing the certificate store %s" % STORE in purge.stdout + purge.stderr
        assert not STORE.exists()
        assert not conf.exists()
        assert account_exists(), "purge must keep the system account"
        sh("apache2ctl", "-t")
    finally:
        machine.restore()
        print("package test commands:\n" + "\n".join("  [%d] %s" % (rc, cmd)
                                                       for cmd, rc in COMMANDS))
        print("\n".join(report))
        shutil.rmtree(work, ignore_errors=True)
    assert not _installed(PACKAGE)
    assert PORTS_CONF.read_text() == machine.ports_conf


def _log_tail(lines=40):
    try:
        text = pathlib.Path("/var/log/apache2/error.log").read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
