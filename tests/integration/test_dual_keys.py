# SPDX-License-Identifier: Apache-2.0
"""Dual keys (issue 14 item 6): `AutoTLSKeyType ec256 rsa2048` gets a site one certificate per
key type, and each client the one its signature algorithms allow.

The one idea to hold: everything is checked from outside, as a client and an operator see it:
`openssl s_client -sigalgs` offering only ECDSA or only RSA signatures (TLS 1.2 and 1.3) must
get a chain whose leaf has that key, issued by pebble for the site's names; the store holds a
set and a job file per key type (the second under `<site>_<type>`, which no host name can be);
`autotls renew NAME` replaces both without a restart; a site with one key type beside it (its
vhost's own `AutoTLSKeyType ec256` replaces the server's two) gets one certificate, as before.

Runs as root only: the parent must be root and the children www-data, as in production.
"""

import json
import os
import pwd
import re
import subprocess
import time

import pytest

from autotls_server import (ACME_USER, WWW_USER, AutoTLSServer, Site, parse_der,
                            skip_unless_runnable, wait_for)

MODULE = skip_unless_runnable()

ISSUER = "Pebble"
SERVER_WIDE = "AutoTLSKeyType ec256 rsa2048"  # DUAL takes it from the server
DUAL = Site("dual.keys.test", aliases=("www.dual.keys.test",))
SINGLE = Site("single.keys.test", directives="AutoTLSKeyType ec256")  # replaces both types
SECOND = DUAL.name + "_rsa2048"  # the store name of DUAL's RSA certificate
# RSA first; its ECDSA certificate's job is in backoff from the start (a job file seeded so)
HELD = Site("held.keys.test", directives="AutoTLSKeyType rsa2048 ec256")
HELD_SECOND = HELD.name + "_ec256"
HELD_ERROR = "seeded: the CA said no"
HELD_FOR = 3600  # seconds of the seeded backoff

SERVED_TIMEOUT = 60.0  # both orders, one after the other
RENEW_TIMEOUT = 60.0
PICKUP_TIMEOUT = 5.0
CLI_TIMEOUT = 30.0
CLIENT_TIMEOUT = 15.0

# (protocol option, -sigalgs, the leaf's public key algorithm as `openssl x509 -text` names it)
ECDSA_ONLY = (("-tls1_2", "ECDSA+SHA256", "id-ecPublicKey"),
              ("-tls1_3", "ECDSA+SHA256", "id-ecPublicKey"))
RSA_ONLY = (("-tls1_2", "RSA+SHA256", "rsaEncryption"),
            ("-tls1_3", "rsa_pss_rsae_sha256", "rsaEncryption"))

PEM_RE = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def s_client_chain(server, name, protocol, sigalgs):
    """The PEM certificates (leaf first) a client offering only sigalgs gets for SNI name."""
    proc = subprocess.run(
        ["openssl", "s_client", "-connect", "%s:%d" % (server.address, server.https_port),
         "-servername", name, protocol, "-sigalgs", sigalgs, "-showcerts"],
        input=b"", capture_output=True, timeout=CLIENT_TIMEOUT, check=False)
    return PEM_RE.findall(proc.stdout.decode(errors="replace"))


def pem_text(pem):
    return subprocess.run(["openssl", "x509", "-noout", "-text"], input=pem.encode(),
                          capture_output=True, timeout=CLIENT_TIMEOUT, check=True).stdout.decode()


def pem_der(pem):
    return subprocess.run(["openssl", "x509", "-outform", "DER"], input=pem.encode(),
                          capture_output=True, timeout=CLIENT_TIMEOUT, check=True).stdout


def key_algorithm(pem):
    match = re.search(r"Public Key Algorithm: (\S+)", pem_text(pem))
    return match.group(1) if match else None


def leaf_of(server, name, protocol, sigalgs, algorithm):
    """ServedCert of the pebble-issued leaf with that key algorithm, or None."""
    chain = s_client_chain(server, name, protocol, sigalgs)
    if not chain or key_algorithm(chain[0]) != algorithm:
        return None
    leaf = parse_der(pem_der(chain[0]))
    return leaf if ISSUER in leaf.issuer else None


def served_pair(server):
    """(ECDSA leaf, RSA leaf) served for DUAL once both are pebble's, else None."""
    ec = leaf_of(server, DUAL.name, *ECDSA_ONLY[0])
    rsa = leaf_of(server, DUAL.name, *RSA_ONLY[0])
    return (ec, rsa) if ec and rsa else None


def cli_renew(cli, server, name):
    proc = subprocess.run([cli, "renew", "--store", server.store, name], capture_output=True,
                          text=True, timeout=CLI_TIMEOUT, stdin=subprocess.DEVNULL, check=False)
    assert proc.returncode == 0, "autotls renew %s: exit %d\n%s%s" % (
        name, proc.returncode, proc.stdout, proc.stderr)


def seed_backoff(server, name):
    """jobs/<name>.json as the renewal process writes it after failures, before the start."""
    acme = pwd.getpwnam(ACME_USER)
    jobs = os.path.join(server.store, "jobs")
    os.makedirs(jobs, mode=0o700)
    os.chmod(server.store, 0o755)
    os.chown(jobs, acme.pw_uid, acme.pw_gid)
    job = os.path.join(jobs, name + ".json")
    with open(job, "w", encoding="utf-8") as f:
        json.dump({"failures": 3, "next_try": int(time.time()) + HELD_FOR,
                   "last_error": HELD_ERROR, "last_error_at": int(time.time())}, f)
    os.chmod(job, 0o600)
    os.chown(job, acme.pw_uid, acme.pw_gid)


@pytest.fixture(scope="module")
def server(pebble):
    server = AutoTLSServer((DUAL, SINGLE, HELD), pebble=pebble, extra=SERVER_WIDE)
    seed_backoff(server, HELD_SECOND)
    with server:
        wait_for("both certificates of " + DUAL.name, lambda: served_pair(server),
                 SERVED_TIMEOUT, server)
        server.wait_until_served(SINGLE.name, ISSUER, SERVED_TIMEOUT)
        server.wait_until_served(HELD.name, ISSUER, SERVED_TIMEOUT)
        yield server


@pytest.mark.parametrize("protocol,sigalgs,algorithm", ECDSA_ONLY + RSA_ONLY)
def test_each_client_gets_the_chain_of_its_signature_algorithms(server, protocol, sigalgs,
                                                                algorithm):
    chain = s_client_chain(server, DUAL.name, protocol, sigalgs)
    assert len(chain) >= 2, "%s %s: chain %r\n%s" % (protocol, sigalgs, chain, server.log_tail())
    assert key_algorithm(chain[0]) == algorithm, pem_text(chain[0])
    leaf = parse_der(pem_der(chain[0]))
    assert ISSUER in leaf.issuer, leaf
    assert leaf.sans == tuple(sorted(DUAL.names)), leaf
    # the chain is the leaf's own: the next certificate is its issuer
    issuer = parse_der(pem_der(chain[1]))
    assert re.search(r"Subject: .*Pebble Intermediate", pem_text(chain[1])), issuer
    assert re.search(r"Issuer: .*Pebble Intermediate", pem_text(chain[0]))


def test_each_key_type_has_its_own_set_and_job(server):
    for name in (DUAL.name, SECOND):
        assert os.path.isfile(os.path.join(server.store, "live", name, "fullchain.pem")), name
        assert os.path.isfile(os.path.join(server.store, "jobs", name + ".json")), name
    ec, rsa = served_pair(server)
    assert ec.serial != rsa.serial


def test_the_second_key_is_no_more_readable_by_user_than_the_first(server):
    """httpd's User (the tenants' PHP) reads neither key of a dual-key site."""
    for name in (DUAL.name, SECOND):
        key = os.path.join(server.store, "live", name, "privkey.pem")
        st = os.stat(key)
        assert st.st_uid == 0 and st.st_mode & 0o077 == 0, (key, oct(st.st_mode))
        proc = subprocess.run(["runuser", "-u", WWW_USER, "--", "cat", key],
                              capture_output=True, timeout=10, check=False)
        assert proc.returncode != 0 and b"PRIVATE KEY" not in proc.stdout, key


def test_a_site_with_one_key_type_is_unaffected(server):
    assert not os.path.exists(os.path.join(server.store, "live", SINGLE.name + "_rsa2048"))
    assert not os.path.exists(os.path.join(server.store, "jobs", SINGLE.name + "_rsa2048.json"))
    leaf = leaf_of(server, SINGLE.name, *ECDSA_ONLY[1])
    assert leaf is not None and leaf.sans == (SINGLE.name,), server.log_tail()
    # no RSA certificate: an RSA-only client gets none
    assert not s_client_chain(server, SINGLE.name, *RSA_ONLY[1][:2])


def test_status_lists_each_key_types_certificate(server):
    def entries():
        with open(os.path.join(server.store, "status", "snapshot.json"), encoding="utf-8") as f:
            sites = {s["site"]: s for s in json.load(f)["sites"]}
        return sites if DUAL.name in sites and SECOND in sites else None

    sites = wait_for("both entries in the status snapshot", entries, PICKUP_TIMEOUT, server)
    ec, rsa = served_pair(server)
    assert sites[DUAL.name]["names"] == list(DUAL.names)
    assert sites[SECOND]["names"] == list(DUAL.names)
    assert sites[DUAL.name]["serial"].lstrip("0") == ec.serial
    assert sites[SECOND]["serial"].lstrip("0") == rsa.serial


def test_autotls_renew_replaces_both_without_restart(server, autotls_cli):
    ec, rsa = served_pair(server)
    single = server.served_cert(SINGLE.name)
    parent = server.parent_pid()
    cli_renew(autotls_cli, server, DUAL.name)

    def renewed():
        pair = served_pair(server)
        return pair if pair and pair[0].serial != ec.serial and pair[1].serial != rsa.serial \
            else None

    new_ec, new_rsa = wait_for("new serials for both key types", renewed, RENEW_TIMEOUT, server)
    assert new_ec.sans == new_rsa.sans == tuple(sorted(DUAL.names))
    assert server.parent_pid() == parent  # no restart
    assert server.served_cert(SINGLE.name).serial == single.serial
    for protocol, sigalgs, algorithm in ECDSA_ONLY + RSA_ONLY:  # every child serves the new
        leaf = leaf_of(server, DUAL.name, protocol, sigalgs, algorithm)
        assert leaf and leaf.serial in (new_ec.serial, new_rsa.serial), (protocol, sigalgs, leaf)


def test_a_key_type_in_backoff_does_not_hold_the_other(server):
    """HELD's ECDSA job is in backoff: its RSA certificate is ordered and served regardless."""
    rsa = leaf_of(server, HELD.name, *RSA_ONLY[1])
    assert rsa is not None and rsa.sans == (HELD.name,), server.log_tail()
    assert not s_client_chain(server, HELD.name, *ECDSA_ONLY[1][:2])  # none for ECDSA yet
    assert "%s: new certificate staged" % HELD.name in server.error_log()
    assert "%s: new certificate staged" % HELD_SECOND not in server.error_log()
    with open(os.path.join(server.store, "jobs", HELD_SECOND + ".json"), encoding="utf-8") as f:
        job = json.load(f)
    assert job["failures"] == 3 and job["last_error"] == HELD_ERROR, job


HANDED_RE = re.compile(r"autotls-\d+: (\d+) order\(s\) handed to the task threads")
STAGED_RE = re.compile(r"autotls-\d+: (\S+): new certificate staged for activation")


def test_a_sites_two_orders_run_one_after_the_other(server):
    """They ask for the same names (one tls-alpn-01 answer per name; a CA may give both orders
    the same pending authorization): the second key type's order is handed to a task only
    after the first's staged its set. At the start every site without a certificate is due at
    once, so without this all four orders would be handed in the first tick."""
    handed_before = None
    handed = 0
    for line in server.error_log().splitlines():
        match = HANDED_RE.search(line)
        if match:
            handed += int(match.group(1))
        match = STAGED_RE.search(line)
        if match and match.group(1) in (DUAL.name, SECOND) and handed_before is None:
            handed_before = handed
    assert handed_before is not None, server.log_tail()
    # one of DUAL's two, SINGLE and HELD (HELD's second is in backoff)
    assert handed_before <= 3, server.log_tail(200)
    assert handed >= 4, server.log_tail(200)


def test_both_served_after_a_graceful_restart(server):
    """The new generation publishes the second type's live set into its slot too (certs.c): the
    activator publishes only what it promotes, so nothing else would serve it again."""
    ec, rsa = served_pair(server)
    server.graceful()
    assert wait_for("both certificates after the graceful restart",
                    lambda: (lambda pair: pair if pair and pair[0].serial == ec.serial
                             and pair[1].serial == rsa.serial else None)(served_pair(server)),
                    PICKUP_TIMEOUT, server)
