# SPDX-License-Identifier: Apache-2.0
"""What the HTTPS twins serve from startup on: the live set on disk, else a placeholder.

The one idea to hold: the module starts whatever the CA does. Here the CA is a port where nothing
listens, so nothing is ever issued; one site already has a valid live set on disk (made by this
test with the openssl command: root -> intermediate -> leaf), the other has none. Then sets are
staged the way the renewal thread stages them, and the activator publishes them into the shared
slots: every child's certificate callback must follow, without a restart, for every client, in
children forked after the swap too, and under handshake load. Every assertion looks from outside:
the certificate a TLS handshake with SNI gets (serial, issuer, names, chain that verifies), file
owners and modes on disk, what the worker user can read, and the same again after a graceful
restart.

Runs as root only: the parent must be root and the children www-data, as in production.
"""

import os
import pwd
import random
import shutil
import socket
import ssl
import stat
import subprocess
import threading
import time

import pytest

import httpd
from autotls_server import (ACME_USER, WWW_USER, AutoTLSServer, Site, free_port, normalize_serial,
                            parse_der, skip_unless_runnable)
from pebble import LOOPBACK

MODULE = skip_unless_runnable()

LIVE_SITE = Site("alpha.test", aliases=("www.alpha.test",))
PLACEHOLDER_SITE = Site("beta.test")
ROOT_CN = "autotls hot swap test root"
INTERMEDIATE_CN = "autotls hot swap test intermediate"
CERT_DAYS = 30
OPENSSL_TIMEOUT = 30
SERIAL_BITS = 63
CONNECT_TIMEOUT = 5.0
RSA_BITS = 2048
SWAP_WITHIN = 5.0  # seconds from `ready` in staging/ to the new certificate on the wire
POLL = 0.05
MAX_CONNECTIONS_PER_CHILD = 10  # children are replaced while the tests run
NEW_CHILD_HANDSHAKES = 200  # bound on handshakes spent waiting for a child forked after a swap
LOAD_THREADS = 4
LOAD_SWAPS = 6  # alternating RSA and P-256 sets
LOAD_MAX_SECONDS = 60.0
TLS12_ECDSA_FIRST = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"

ROOT_CONFIG = ("[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = %s\n"
               "[v3]\nbasicConstraints = critical,CA:TRUE\n"
               "keyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n" % ROOT_CN)
INTERMEDIATE_EXT = ("basicConstraints=critical,CA:TRUE,pathlen:0\n"
                    "keyUsage=critical,keyCertSign,cRLSign\n")
LEAF_EXT = ("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
            "extendedKeyUsage=serverAuth\nsubjectAltName=%s\n")


def openssl(*args, cwd):
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=OPENSSL_TIMEOUT, check=False)
    assert proc.returncode == 0, "openssl %s failed: %s" % (" ".join(args), proc.stderr)
    return proc.stdout


def new_key(cwd, name, rsa=False):
    if rsa:
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:%d" % RSA_BITS,
                "-out", name, cwd=cwd)
    else:
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
                name, cwd=cwd)


def sign(cwd, subject, key, issuer_cert, issuer_key, ext_text, out, serial):
    with open(os.path.join(cwd, out + ".ext"), "w") as f:
        f.write(ext_text)
    openssl("req", "-new", "-key", key, "-subj", "/CN=" + subject, "-out", out + ".csr", cwd=cwd)
    openssl("x509", "-req", "-in", out + ".csr", "-CA", issuer_cert, "-CAkey", issuer_key,
            "-set_serial", str(serial), "-days", str(CERT_DAYS), "-extfile", out + ".ext",
            "-out", out, cwd=cwd)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A test root, an intermediate and a leaf for LIVE_SITE's names; the leaf's serial."""
    d = str(tmp_path_factory.mktemp("pki"))
    new_key(d, "root.key")
    with open(os.path.join(d, "root.cnf"), "w") as f:
        f.write(ROOT_CONFIG)
    openssl("req", "-x509", "-new", "-key", "root.key", "-config", "root.cnf", "-extensions",
            "v3", "-days", str(CERT_DAYS), "-out", "root.pem", cwd=d)
    new_key(d, "intermediate.key")
    sign(d, INTERMEDIATE_CN, "intermediate.key", "root.pem", "root.key", INTERMEDIATE_EXT,
         "intermediate.pem", random.getrandbits(SERIAL_BITS) | 1)
    pki = {"dir": d, "root": os.path.join(d, "root.pem")}
    pki["serial"] = issue_leaf(pki, "leaf", LIVE_SITE.names)
    return pki


def issue_leaf(pki, label, names, rsa=False):
    """<label>.key and <label>.pem (leaf for names, signed by the intermediate); its serial."""
    d = pki["dir"]
    new_key(d, label + ".key", rsa=rsa)
    serial = random.getrandbits(SERIAL_BITS) | 1
    sans = ",".join("DNS:" + n for n in names)
    sign(d, names[0], label + ".key", "intermediate.pem", "intermediate.key", LEAF_EXT % sans,
         label + ".pem", serial)
    return normalize_serial("%X" % serial)


def read(path):
    with open(path) as f:
        return f.read()


def install_live_set(store, site, pki):
    """live/<site>/ as the activator leaves it: root-owned, 0700 directory, 0600 key."""
    live = os.path.join(store, "live", site)
    os.makedirs(live, mode=0o700)
    for path in (store, os.path.join(store, "live")):
        os.chmod(path, 0o755 if path == store else 0o700)
    os.chmod(live, 0o700)
    key = os.path.join(live, "privkey.pem")
    shutil.copyfile(os.path.join(pki["dir"], "leaf.key"), key)
    os.chmod(key, 0o600)
    chain = os.path.join(live, "fullchain.pem")
    with open(chain, "w") as out:
        for part in ("leaf.pem", "intermediate.pem"):
            with open(os.path.join(pki["dir"], part)) as f:
                out.write(f.read())
    os.chmod(chain, 0o644)


@pytest.fixture(scope="module")
def server(pki):
    """Two managed sites, a CA that never answers, alpha's live set on disk before start."""
    srv = AutoTLSServer([LIVE_SITE, PLACEHOLDER_SITE],
                        ca_url="https://%s:%d/directory" % (LOOPBACK, free_port()))
    roots = os.path.join(srv.root, "test-roots.pem")
    shutil.copyfile(pki["root"], roots)
    os.chmod(roots, 0o644)
    # the config is written at start
    srv.extra = 'AutoTLSIssuerRoots "%s"\nMaxConnectionsPerChild %d' % (
        roots, MAX_CONNECTIONS_PER_CHILD)
    install_live_set(srv.store, LIVE_SITE.name, pki)
    with srv:
        yield srv


def served(server, name):
    return server.served_cert(name)


def www_uid():
    return pwd.getpwnam(WWW_USER).pw_uid


def acme_uid():
    return pwd.getpwnam(ACME_USER).pw_uid


def served_with_verified_chain(server, name, root_pem):
    """The handshake verifies (host name too) against the test root only: the server must send
    the intermediate, and the leaf must be the one for these names."""
    ctx = ssl.create_default_context(cafile=root_pem)
    with socket.create_connection((LOOPBACK, server.https_port), timeout=CONNECT_TIMEOUT) as raw:
        with ctx.wrap_socket(raw, server_hostname=name) as tls:
            return parse_der(tls.getpeercert(binary_form=True))


def file_serial(path):
    return normalize_serial(subprocess.run(
        ["openssl", "x509", "-in", path, "-noout", "-serial"], capture_output=True, text=True,
        timeout=OPENSSL_TIMEOUT, check=True).stdout.strip().split("=", 1)[1])


def subject_of_served(server, name):
    with server.tls_connect(name) as tls:
        der = tls.getpeercert(binary_form=True)
    return subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-subject", "-nameopt",
                           "oneline"], input=der, capture_output=True, timeout=OPENSSL_TIMEOUT,
                          check=True).stdout.decode().strip()


def placeholder_path(server, item):
    return os.path.join(server.store, "live", PLACEHOLDER_SITE.name, item)


def test_live_set_on_disk_is_served_with_its_chain(server, pki):
    for name in LIVE_SITE.names:
        cert = served_with_verified_chain(server, name, pki["root"])
        assert cert.serial == pki["serial"], "%s: served %s, live set has %s" % (
            name, cert.serial, pki["serial"])
        assert INTERMEDIATE_CN in cert.issuer
        assert cert.sans == tuple(sorted(LIVE_SITE.names))


def test_site_without_live_set_serves_its_placeholder(server):
    cert = served(server, PLACEHOLDER_SITE.name)
    assert cert.sans == (PLACEHOLDER_SITE.name,)
    assert "CN = %s" % PLACEHOLDER_SITE.name in cert.issuer, "not self-signed: %s" % cert.issuer
    assert "CN = %s" % PLACEHOLDER_SITE.name in subject_of_served(server, PLACEHOLDER_SITE.name)
    assert cert.serial == file_serial(placeholder_path(server, "placeholder.pem"))
    # The live site has no placeholder: it never needed one.
    assert not os.path.exists(os.path.join(server.store, "live", LIVE_SITE.name,
                                           "placeholder.pem"))


def test_private_keys_are_root_only_and_acme_dirs_belong_to_the_acme_account(server):
    keys = [os.path.join(server.store, "live", LIVE_SITE.name, "privkey.pem"),
            placeholder_path(server, "placeholder.key")]
    live = os.path.join(server.store, "live")
    st = os.stat(live)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o700)
    for key in keys:
        st = os.stat(key)
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o600), key
        proc = subprocess.run(["runuser", "-u", WWW_USER, "--", "cat", key], capture_output=True,
                              timeout=OPENSSL_TIMEOUT, check=False)
        assert proc.returncode != 0 and b"PRIVATE KEY" not in proc.stdout, key
    # The same command does read what the worker may read: the refusal above is the modes'.
    index = os.path.join(server.docroot(LIVE_SITE), "index.html")
    proc = subprocess.run(["runuser", "-u", WWW_USER, "--", "cat", index], capture_output=True,
                          timeout=OPENSSL_TIMEOUT, check=False)
    assert proc.returncode == 0 and LIVE_SITE.name.encode() in proc.stdout
    for group, mode in (("accounts", 0o700), ("staging", 0o700), ("challenges", 0o755),
                        ("jobs", 0o700)):
        st = os.stat(os.path.join(server.store, group))
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (acme_uid(), mode), group


def test_graceful_restart_keeps_serving_the_same_certificates(server, pki):
    placeholder = placeholder_path(server, "placeholder.pem")
    before_placeholder = open(placeholder).read()
    before_beta = served(server, PLACEHOLDER_SITE.name).serial
    server.graceful()
    assert served_with_verified_chain(server, LIVE_SITE.name, pki["root"]).serial == pki["serial"]
    assert served(server, PLACEHOLDER_SITE.name).serial == before_beta
    assert open(placeholder).read() == before_placeholder, "placeholder made again on restart"


def test_drifted_store_modes_are_set_back_at_restart(server, pki):
    live = os.path.join(server.store, "live")
    challenges = os.path.join(server.store, "challenges")
    os.chmod(live, 0o755)
    os.chown(challenges, 0, 0)
    drift_lines = server.count("had drifted")
    server.graceful()
    st = os.stat(live)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o700)
    assert os.stat(challenges).st_uid == acme_uid()
    assert server.count("had drifted") >= drift_lines + 2, server.log_tail()
    assert served(server, LIVE_SITE.name).serial == pki["serial"]


# --- hot swaps: the activator publishes, every child's certificate callback follows ------------


def stage(server, site, key_pem, chain_pem):
    """staging/<site>/ as the renewal process writes it (at_store_save_set): owned by the ACME
    account, key 0600, built in a temp directory that is renamed into place."""
    worker = pwd.getpwnam(ACME_USER)
    d = os.path.join(server.store, "staging", site)
    tmp = os.path.join(server.store, "staging", ".%s.tmp.T00000" % site)
    deadline = time.monotonic() + SWAP_WITHIN
    while os.path.lexists(d):  # the activator removes the previous set after publishing it
        assert time.monotonic() < deadline, "%s was not taken by the activator" % d
        time.sleep(POLL)
    os.mkdir(tmp, 0o700)
    os.chown(tmp, worker.pw_uid, worker.pw_gid)
    for item, text, mode in (("privkey.pem", key_pem, 0o600), ("fullchain.pem", chain_pem, 0o644),
                             ("ready", "", 0o644)):
        path = os.path.join(tmp, item)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chown(path, worker.pw_uid, worker.pw_gid)
    os.rename(tmp, d)


def stage_leaf(server, pki, label, site):
    """Stages <label>.key and <label>.pem + the intermediate for site."""
    chain = read(os.path.join(pki["dir"], label + ".pem")) + read(
        os.path.join(pki["dir"], "intermediate.pem"))
    stage(server, site.name, read(os.path.join(pki["dir"], label + ".key")), chain)


def stage_new_leaf(server, pki, label, site, rsa=False):
    serial = issue_leaf(pki, label, site.names, rsa=rsa)
    stage_leaf(server, pki, label, site)
    return serial


def wait_serial(server, name, serial, timeout=SWAP_WITHIN):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = served(server, name).serial
        except (OSError, ssl.SSLError) as e:
            last = e
        if last == serial:
            return
        time.sleep(POLL)
    pytest.fail("%s: still served %r, not %s, %.1f s after staging\n%s"
                % (name, last, serial, timeout, server.log_tail()))


def served_to_client(server, name, context):
    with socket.create_connection((LOOPBACK, server.https_port), timeout=CONNECT_TIMEOUT) as raw:
        with context.wrap_socket(raw, server_hostname=name) as tls:
            return parse_der(tls.getpeercert(binary_form=True)).serial


def children(server):
    """Pids of the parent's worker children (www-data)."""
    parent, uid, found = server.parent_pid(), www_uid(), set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/status" % entry) as f:
                status = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        if (int(status["PPid"].strip()) == parent
                and int(status["Uid"].split()[0]) == uid):
            found.add(int(entry))
    return found


def test_swap_from_placeholder_to_rsa_leaves_no_ecdsa_certificate_behind(server, pki):
    """The placeholder is P-256; an RSA certificate published over it must replace it even for
    clients that prefer ECDSA, in TLS 1.3 and TLS 1.2."""
    serial = stage_new_leaf(server, pki, "beta-rsa", PLACEHOLDER_SITE, rsa=True)
    wait_serial(server, PLACEHOLDER_SITE.name, serial)
    tls13 = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    tls12 = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    tls12.set_ciphers(TLS12_ECDSA_FIRST)
    for ctx in (tls13, tls12):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        for _ in range(MAX_CONNECTIONS_PER_CHILD):
            assert served_to_client(server, PLACEHOLDER_SITE.name, ctx) == serial


def test_children_forked_after_a_swap_serve_the_new_certificate(server, pki):
    """mod_ssl in every child still holds the set it loaded at startup; a child forked after the
    swap must serve the published one from its first handshake on."""
    old = served(server, LIVE_SITE.name).serial
    serial = stage_new_leaf(server, pki, "alpha-2", LIVE_SITE)
    wait_serial(server, LIVE_SITE.name, serial)
    assert serial != old
    at_swap = children(server)
    seen_new_child = False
    for _ in range(NEW_CHILD_HANDSHAKES):
        assert served(server, LIVE_SITE.name).serial == serial
        if children(server) - at_swap:
            seen_new_child = True
            break
    assert seen_new_child, "no child was replaced within %d handshakes" % NEW_CHILD_HANDSHAKES
    for _ in range(MAX_CONNECTIONS_PER_CHILD * 2):
        assert served(server, LIVE_SITE.name).serial == serial


def test_swaps_under_handshake_load_fail_no_handshake(server, pki):
    """Handshakes from several threads while the set changes again and again (the key type too):
    none fails, each gets one of the published certificates, and the last one wins."""
    published = {served(server, LIVE_SITE.name).serial}
    stop = threading.Event()
    results = {"ok": 0, "errors": [], "unknown": []}
    lock = threading.Lock()

    def hammer():
        deadline = time.monotonic() + LOAD_MAX_SECONDS
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                got = served(server, LIVE_SITE.name).serial
            except (OSError, ssl.SSLError) as e:
                with lock:
                    results["errors"].append(repr(e))
                continue
            with lock:
                results["ok"] += 1
                if got not in published:
                    results["unknown"].append(got)

    threads = [threading.Thread(target=hammer) for _ in range(LOAD_THREADS)]
    for t in threads:
        t.start()
    try:
        for i in range(LOAD_SWAPS):
            label = "alpha-load-%d" % i
            serial = issue_leaf(pki, label, LIVE_SITE.names, rsa=i % 2 == 0)
            with lock:
                published.add(serial)
            stage_leaf(server, pki, label, LIVE_SITE)
            wait_serial(server, LIVE_SITE.name, serial)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert results["errors"] == [], results["errors"][:5]
    assert results["unknown"] == []
    assert results["ok"] > LOAD_SWAPS * LOAD_THREADS
    for _ in range(MAX_CONNECTIONS_PER_CHILD * 2):
        assert served(server, LIVE_SITE.name).serial == serial
    assert "AH00052" not in server.error_log(), "a child crashed:\n" + server.log_tail()
