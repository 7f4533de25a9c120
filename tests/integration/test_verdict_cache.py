# SPDX-License-Identifier: Apache-2.0
"""The parent checks a live set once per change, not once per configuration pass (issue 10).

The one idea to hold: a graceful restart with nothing changed checks no live set again (the
parent remembers each verdict with the identity of the files it was given for), and a live file
replaced in place, even with its size and modification time put back the way `touch -r` puts
them back, is checked again: a set that fails is refused with its log line and never served.
Everything is seen from outside: the module's per-pass count (autotls-0100), the refusal line
(autotls-0268), and the certificate a TLS handshake gets.

Runs as root only, with pebble issuing the two sites' certificates.
"""

import os
import re
import shutil
import subprocess
import tempfile
import time

from autotls_server import AutoTLSServer, Site, free_port, skip_unless_runnable

MODULE = skip_unless_runnable()

ALPHA = Site("alpha.test")
BRAVO = Site("bravo.test")
ATTACKER_ORG = "verdict test attacker"
OPENSSL_TIMEOUT = 30
# A live file changed less than this ago is not remembered (AT_VERDICT_RACY, at_verdict.h).
RACY_SECONDS = 1.0
SETTLE_MARGIN = 0.2
PASS_RE = re.compile(r"autotls-0100: (\w+) configuration pass: (\d+) live set\(s\) checked in "
                     r"full, (\d+) unchanged since their last check \(verdict kept\); "
                     r"placeholders: (\d+) checked, (\d+) unchanged")


def passes(server):
    """(pass, checked, reused) of live sets for every configuration pass the log reports."""
    return [(m.group(1), int(m.group(2)), int(m.group(3)))
            for m in PASS_RE.finditer(server.error_log())]


def placeholder_passes(server):
    """(pass, checked, reused) of placeholders for every configuration pass the log reports."""
    return [(m.group(1), int(m.group(4)), int(m.group(5)))
            for m in PASS_RE.finditer(server.error_log())]


def live_file(server, site, item):
    return os.path.join(server.store, "live", site.name, item)


def settle(server, sites):
    """Waits until the sites' live files and the issuer roots changed longer ago than the racy
    window."""
    paths = [live_file(server, site, item) for site in sites
             for item in ("privkey.pem", "fullchain.pem")] + [server.issuer_roots]
    newest = max(os.stat(path).st_ctime for path in paths)
    time.sleep(max(0.0, newest + RACY_SECONDS + SETTLE_MARGIN - time.time()))


def self_signed_like(key_path, name, size):
    """PEM of a certificate for name on the live key, signed by itself (not by the issuer roots),
    with text before the block so that the file has exactly size bytes."""
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-key", key_path, "-subj",
                        "/O=%s/CN=%s" % (ATTACKER_ORG, name), "-addext",
                        "subjectAltName=DNS:%s" % name, "-days", "30", "-out", out],
                       check=True, capture_output=True, timeout=OPENSSL_TIMEOUT)
        with open(out, "rb") as f:
            pem = f.read()
    pad = size - len(pem)
    assert pad > 0, "the attacker's certificate must fit in the live chain's size"
    line = b"x" * 63 + b"\n"
    rest = pad % len(line)
    return line * (pad // len(line)) + (b"y" * (rest - 1) + b"\n" if rest else b"") + pem


def replace_in_place(path, data):
    """Writes data over path (same inode, same size) and puts atime and mtime back, to the
    nanosecond, as `touch -r` would: only ctime still tells."""
    before = os.stat(path)
    assert len(data) == before.st_size
    with open(path, "r+b") as f:
        f.write(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino, before.st_size, before.st_mtime_ns)


def test_graceful_with_nothing_changed_checks_no_set_and_a_replaced_file_is_checked(pebble):
    server = AutoTLSServer([ALPHA, BRAVO], pebble=pebble)
    with server:
        issued = {site.name: server.wait_until_served(site.name) for site in (ALPHA, BRAVO)}
        settle(server, (ALPHA, BRAVO))
        # Both sets were promoted by the activator after the last pass: the next one checks them.
        server.graceful()
        assert passes(server)[-1] == ("restart", 2, 0), server.log_tail()
        # Nothing changed since: the second graceful takes both verdicts as they stand.
        server.graceful()
        assert passes(server)[-1] == ("restart", 0, 2), server.log_tail()
        for site in (ALPHA, BRAVO):
            assert server.served_cert(site.name).serial == issued[site.name].serial

        # alpha's chain replaced in place by a certificate that does not chain to the issuer
        # roots, same size, mtime put back.
        chain = live_file(server, ALPHA, "fullchain.pem")
        replace_in_place(chain, self_signed_like(live_file(server, ALPHA, "privkey.pem"),
                                                 ALPHA.name, os.stat(chain).st_size))
        refusals = server.count("autotls-0268: %s: the live certificate set is not used"
                                % ALPHA.name)
        server.graceful()
        assert passes(server)[-1] == ("restart", 1, 1), server.log_tail()
        assert server.count("autotls-0268: %s: the live certificate set is not used: chain does "
                            "not verify to the issuer roots" % ALPHA.name) == refusals + 1, \
            server.log_tail()
        served = server.served_cert(ALPHA.name)
        assert ATTACKER_ORG not in served.issuer, served
        assert served.serial != issued[ALPHA.name].serial  # its files are gone: a placeholder
        # bravo is untouched and still served from its remembered verdict
        assert server.served_cert(BRAVO.name).serial == issued[BRAVO.name].serial


def test_first_start_pass_checks_and_real_pass_reuses(pebble):
    """A new parent: its first pass (mod_ssl's trial run) checks each live set, the real pass
    right after takes the verdicts."""
    server = AutoTLSServer([ALPHA], pebble=pebble)
    try:
        server.start()
        issued = server.wait_until_served(ALPHA.name)
        assert server.stop()
        settle(server, (ALPHA,))
        before = len(passes(server))
        server.start()
        seen = passes(server)[before:]
        assert seen[:2] == [("first", 1, 0), ("start", 0, 1)], server.log_tail()
        assert server.served_cert(ALPHA.name).serial == issued.serial
    finally:
        if server.stop() and not server.keep:
            shutil.rmtree(server.root, ignore_errors=True)


def test_placeholders_are_checked_once_then_taken_as_they_stand():
    """Sites without a certificate (the CA a closed port): the first start makes their
    placeholders, and a graceful with nothing changed parses none of them again."""
    sites = [Site("p%d.test" % i) for i in range(3)]
    server = AutoTLSServer(sites, ca_url="https://127.0.0.1:%d/directory" % free_port())
    with server:
        time.sleep(RACY_SECONDS + SETTLE_MARGIN)  # the placeholders were just made
        server.graceful()
        assert placeholder_passes(server)[-1] == ("restart", 3, 0), server.log_tail()
        server.graceful()
        assert placeholder_passes(server)[-1] == ("restart", 0, 3), server.log_tail()
        # a placeholder's file replaced: that one is checked again
        path = live_file(server, sites[0], "placeholder.pem")
        with open(path, "rb") as f:
            replace_in_place(path, f.read())
        server.graceful()
        assert placeholder_passes(server)[-1] == ("restart", 1, 2), server.log_tail()
        assert "Pebble" not in server.served_cert(sites[1].name).issuer


def verdict_file(server):
    return os.path.join(server.store, "verdicts.json")


def test_a_new_parent_takes_the_verdicts_its_predecessor_wrote(pebble):
    """A start (a new parent) checks no live set the previous parent checked, as long as its
    files are as they were: the parent keeps its verdicts in the store's verdicts.json (root's,
    0600). A file open to others is not believed, and a live file replaced while the server was
    stopped is checked (and refused) all the same."""
    server = AutoTLSServer([ALPHA, BRAVO], pebble=pebble)
    try:
        server.start()
        issued = {site.name: server.wait_until_served(site.name) for site in (ALPHA, BRAVO)}
        settle(server, (ALPHA, BRAVO))
        server.graceful()  # the sets the activator promoted are checked once, and written down
        assert passes(server)[-1] == ("restart", 2, 0), server.log_tail()
        st = os.stat(verdict_file(server))
        assert (st.st_uid, st.st_mode & 0o7777, st.st_nlink) == (0, 0o600, 1), st
        assert server.stop()

        before = len(passes(server))
        server.start()
        assert passes(server)[before:before + 2] == [("first", 0, 2), ("start", 0, 2)], \
            server.log_tail()
        assert server.count("autotls-0122: 2 verdict(s) on live sets taken from %s"
                            % verdict_file(server)) == 1, server.log_tail()
        for site in (ALPHA, BRAVO):
            assert server.served_cert(site.name).serial == issued[site.name].serial
        # nothing changed: the file is not written again (a start costs no write)
        assert os.stat(verdict_file(server)).st_mtime_ns == st.st_mtime_ns
        assert server.stop()

        # Open to others: not believed, every set checked; the start writes it back as it must be.
        os.chmod(verdict_file(server), 0o644)
        before = len(passes(server))
        server.start()
        assert passes(server)[before] == ("first", 2, 0), server.log_tail()
        assert server.count("autotls-0123: %s is not believed: its mode 0644 opens it to group or "
                            "others" % verdict_file(server)) == 1, server.log_tail()
        assert os.stat(verdict_file(server)).st_mode & 0o7777 == 0o600
        assert server.stop()

        # alpha's chain replaced in place while stopped (same size, mtime put back): the file's
        # verdict does not stand for it, it is checked, refused and not served.
        chain = live_file(server, ALPHA, "fullchain.pem")
        replace_in_place(chain, self_signed_like(live_file(server, ALPHA, "privkey.pem"),
                                                 ALPHA.name, os.stat(chain).st_size))
        before = len(passes(server))
        server.start()
        assert passes(server)[before] == ("first", 1, 1), server.log_tail()
        served = server.served_cert(ALPHA.name)
        assert ATTACKER_ORG not in served.issuer, served
        assert server.served_cert(BRAVO.name).serial == issued[BRAVO.name].serial
    finally:
        if server.stop() and not server.keep:
            shutil.rmtree(server.root, ignore_errors=True)
