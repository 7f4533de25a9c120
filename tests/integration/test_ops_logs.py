# SPDX-License-Identifier: Apache-2.0
"""Log lines an admin can act on, and EAB in the module (issue 11, items 8 and 9).

The one idea to hold: each case is what an admin sees in the error log of a real httpd (against
a real pebble where a CA is needed), read as text: no "(120007)APR does not understand this error
code" before our lines, library lines with ids of their own, a CA file the ACME account cannot
read named at startup with the account, one WARNING without a contact address, a site in
backoff whose configuration changed trying again at once after a graceful restart (and one whose
configuration did not, still waiting), and an account that a CA requiring external account
binding refuses without AutoTLSEAB and accepts with it.
"""

import os
import pwd
import re
import shutil
import time

import pytest

from autotls_server import (ACME_USER, AutoTLSServer, HTTPError, Site, skip_unless_runnable,
                            wait_for)

MODULE = skip_unless_runnable()

APR_PREFIX = "APR does not understand"
ID_RE = re.compile(r"autotls-(\d{4}): ")
LIBRARY_IDS = range(1000, 1500)  # at_core.h AT_LOGNO
CATCH_ALL_ID = "autotls-0001: "  # what the glue prints before a library line without an id
DEAD_CA = "https://127.0.0.1:1/directory"  # nothing listens: orders fail, nothing is issued
DEAD_ADDRESS = "127.0.0.2"  # nothing listens there on the http-01 port: validation fails

STARTUP_TIMEOUT = 15.0  # seconds for a startup line to be written
FAIL_TIMEOUT = 30.0  # seconds from start to a site's first failed order
RETRY_TIMEOUT = 20.0  # seconds from a graceful restart to the certificate of a changed site
BACKOFF_FIRST = 60.0 * 0.9  # the first backoff step, its jitter taken off (at_renew.h)
EAB_KID = "kid-ops"
EAB_KEY = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"

ORDER_FAILED_RE = r"autotls-0603: %s: order failed .*attempt (\d+); next try in (\d+) s"
CONFIG_CHANGED = "autotls-0914: %s: the configuration changed since the last failure"
CONTACT_WARNING = "autotls-0910: "
UNREADABLE_FILE = "autotls-0911: "
FOREIGN_OWNER = "autotls-0912: "
CHECK_SKIPPED = "autotls-0851: "
NO_EAB = "requires external account binding: give its key id and key file with AutoTLSEAB"


def lines_with(server, text):
    """The error log's lines holding text (read it before the server's `with` block ends: its
    ServerRoot goes then)."""
    return [line for line in server.error_log().splitlines() if text in line]


def eab_key_file(directory, mode=0o600, owner=ACME_USER):
    path = os.path.join(directory, "eab.key")
    with open(path, "w") as f:
        f.write(EAB_KEY + "\n")
    os.chmod(path, mode)
    shutil.chown(path, owner, owner)
    return path


# --- 8a, 8b: no APR prefix on our lines, one id per library message ----------------------------


def test_library_status_is_named_in_words_not_as_an_unknown_apr_code():
    """A store directory others may write is refused by the library (AT_EMODE): the glue's line
    says why in the library's words, and the library's own line carries its own id."""
    server = AutoTLSServer([Site("store.test")], ca_url=DEAD_CA)
    try:
        os.makedirs(server.store)
        os.chmod(server.store, 0o777)
        server.write_config()
        server.apache2("-k", "start")
        refused = wait_for("the store refused at startup",
                           lambda: lines_with(server, "autotls-0405: "), STARTUP_TIMEOUT, server)
        log = server.error_log()
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)
    assert APR_PREFIX not in log, log
    assert "unsafe file owner or mode" in refused[0], refused
    library = [line for line in log.splitlines() if "refusing the store directory" in line]
    assert library and all("autotls-1170: " in line for line in library), log
    assert CATCH_ALL_ID not in log, log


# --- 8c, 8d: startup checks --------------------------------------------------------------------


def test_ca_file_the_acme_account_cannot_read_is_named_at_startup(pebble):
    server = AutoTLSServer([Site("cafile.test")], pebble=pebble)
    root_only = os.path.join(server.root, "ca-root-only.pem")
    shutil.copyfile(pebble.ca_cert, root_only)
    os.chmod(root_only, 0o600)  # root can read it (apachectl -t passes), the ACME account not
    server.extra = 'AutoTLSCACertificateFile "%s"' % root_only
    with server:
        wait_for("the first request to the CA failing",
                 lambda: lines_with(server, "transport failure"), FAIL_TIMEOUT, server)
        mentions = lines_with(server, root_only)
    named = [line for line in mentions if UNREADABLE_FILE in line]
    assert len(named) == 1, mentions
    line = named[0]
    assert mentions.index(line) == 0, "named only after a failure: %s" % mentions
    assert "[autotls:error]" in line and "Permission denied" in line, line
    assert "AutoTLSCACertificateFile" in line and "ACME account %s" % ACME_USER in line, line


def test_no_contact_address_warns_once_and_a_contact_silences_it():
    debian_default = Site("contact.test")
    server = AutoTLSServer([debian_default], ca_url=DEAD_CA,
                           extra="ServerAdmin webmaster@localhost")
    with server:
        warned = wait_for("the contact WARNING", lambda: lines_with(server, CONTACT_WARNING),
                          STARTUP_TIMEOUT, server)
        time.sleep(1.0)  # a second line would come from the same startup
        warned = lines_with(server, CONTACT_WARNING)
    assert len(warned) == 1, warned
    assert "[autotls:warn]" in warned[0] and "AutoTLSContact" in warned[0], warned
    assert "webmaster@localhost" in warned[0], warned

    server = AutoTLSServer([debian_default], ca_url=DEAD_CA,
                           extra="AutoTLSContact admin@example.com")
    with server:
        wait_for("the renewal process", lambda: lines_with(server, "autotls-06"),
                 STARTUP_TIMEOUT, server)
        assert lines_with(server, CONTACT_WARNING) == [], server.log_tail()


# --- 8e: a changed configuration is acted on at graceful ---------------------------------------


def test_graceful_with_a_changed_site_retries_it_at_once_and_the_unchanged_one_waits(pebble):
    changed, same = Site("changed.test"), Site("same.test")
    for site in (changed, same):
        pebble.set_a(site.name, DEAD_ADDRESS)
    server = AutoTLSServer([changed, same], pebble=pebble)
    try:
        with server:
            failed = {}
            for site in (changed, same):
                m = wait_for("%s: first failed order" % site.name,
                             lambda s=site: re.search(ORDER_FAILED_RE % re.escape(s.name),
                                                      server.error_log()),
                             FAIL_TIMEOUT, server)
                assert m.group(1) == "1", m.group(0)
                failed[site.name] = time.monotonic()
            for site in (changed, same):
                pebble.clear_a(site.name)  # the cause is gone for both
            changed.directives = "AutoTLSKeyType rsa2048"  # only one site's config changes
            server.write_config()
            server.graceful()
            served = server.wait_until_served(changed.name, timeout=RETRY_TIMEOUT)
            retried_after = time.monotonic() - failed[changed.name]
            assert retried_after < BACKOFF_FIRST, retried_after
            assert "RSA" in served.issuer or served.serial, served
            assert len(lines_with(server, CONFIG_CHANGED % changed.name)) == 1, server.log_tail()
            assert lines_with(server, CONFIG_CHANGED % same.name) == [], server.log_tail()
            # the unchanged site keeps its backoff: no second attempt, no certificate yet
            assert len(re.findall(ORDER_FAILED_RE % re.escape(same.name),
                                  server.error_log())) == 1, server.log_tail()
            with pytest.raises(HTTPError):
                server.wait_until_served(same.name, timeout=1.0)
            log = server.error_log()
    finally:
        for site in (changed, same):
            pebble.clear_a(site.name)
    library_ids = {int(i) for i in ID_RE.findall(log) if int(i) in LIBRARY_IDS}
    assert len(library_ids) >= 3, sorted(library_ids)
    assert CATCH_ALL_ID not in log and APR_PREFIX not in log, log


# --- 9: EAB ----------------------------------------------------------------------------------------


def test_eab_ca_refuses_without_autotls_eab_and_issues_with_it(pebble_factory):
    ca = pebble_factory(eab_keys={EAB_KID: EAB_KEY})
    site = Site("eab.test")
    server = AutoTLSServer([site], pebble=ca)
    with server:
        refused = wait_for("the account refused for want of EAB",
                           lambda: lines_with(server, NO_EAB), FAIL_TIMEOUT, server)
        assert "autotls-0604" in refused[0], refused
        with pytest.raises(HTTPError):
            server.wait_until_served(site.name, timeout=1.0)
        key = eab_key_file(server.root)
        server.extra = "AutoTLSEAB %s %s" % (EAB_KID, key)
        server.write_config()
        server.graceful()  # a changed configuration: the account does not wait out its backoff
        server.wait_until_served(site.name, timeout=RETRY_TIMEOUT)
        log = server.error_log()
    assert EAB_KEY not in log, "the MAC key is in the error log"
    assert "the configuration changed since the last failure" in log, log


def test_eab_key_file_others_may_read_is_refused_at_config_time():
    server = AutoTLSServer([Site("eabmode.test")], ca_url=DEAD_CA)
    key = eab_key_file(server.root, mode=0o644)
    server.extra = "AutoTLSEAB %s %s" % (EAB_KID, key)
    server.write_config()
    try:
        proc = server.apache2("-t")
        assert proc.returncode != 0, proc
        assert key in proc.stderr and "0644" in proc.stderr and "chmod 600" in proc.stderr, proc
        os.chmod(key, 0o600)
        proc = server.apache2("-t")
        assert proc.returncode == 0, proc.stderr
    finally:
        shutil.rmtree(server.root, ignore_errors=True)


def test_eab_key_file_owned_by_another_account_is_named_at_startup():
    server = AutoTLSServer([Site("eabnobody.test")], ca_url=DEAD_CA)
    key = eab_key_file(server.root, owner="root")
    os.chown(key, pwd.getpwnam("nobody").pw_uid, 0)  # 0600: nobody could read the MAC key too
    server.extra = "AutoTLSEAB %s %s" % (EAB_KID, key)
    with server:
        wait_for("the key file's owner named", lambda: lines_with(server, FOREIGN_OWNER),
                 STARTUP_TIMEOUT, server)
        owned = lines_with(server, FOREIGN_OWNER)
    assert len(owned) == 1, owned
    assert key in owned[0] and "uid %d" % pwd.getpwnam("nobody").pw_uid in owned[0], owned


def test_graceful_restart_checks_the_key_file_again_only_when_it_changed():
    server = AutoTLSServer([Site("eabgraceful.test")], ca_url=DEAD_CA)
    key = eab_key_file(server.root)  # the ACME account's, 0600: the check passes
    server.extra = "AutoTLSEAB %s %s" % (EAB_KID, key)
    with server:
        server.graceful()
        wait_for("the unchanged check skipped", lambda: lines_with(server, CHECK_SKIPPED),
                 STARTUP_TIMEOUT, server)
        assert not lines_with(server, UNREADABLE_FILE)
        shutil.chown(key, "root", "root")  # now the ACME account cannot read it
        server.graceful()
        wait_for("the changed key file checked again and named",
                 lambda: lines_with(server, UNREADABLE_FILE), STARTUP_TIMEOUT, server)
        assert len(lines_with(server, CHECK_SKIPPED)) == 1


def test_eab_key_file_the_acme_account_cannot_read_is_named_at_startup():
    server = AutoTLSServer([Site("eabowner.test")], ca_url=DEAD_CA)
    key = eab_key_file(server.root, owner="root")  # 0600 root: the ACME account cannot read
    server.extra = "AutoTLSEAB %s %s" % (EAB_KID, key)
    with server:
        wait_for("the unreadable key file named",
                 lambda: lines_with(server, UNREADABLE_FILE), STARTUP_TIMEOUT, server)
        time.sleep(1.0)  # a second line would come from the same startup
        mentions = lines_with(server, key)
    named = [line for line in mentions if UNREADABLE_FILE in line]
    assert len(named) == 1, mentions
    assert "AutoTLSEAB" in named[0] and "ACME account %s" % ACME_USER in named[0], named
