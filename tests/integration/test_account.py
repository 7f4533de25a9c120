# SPDX-License-Identifier: Apache-2.0
"""The ACME account kept current by a running server, against a real pebble (issue 9 item 9).

The one idea to hold: the CLI (root) never changes the key of a store a server uses; it drops a
request into jobs/ and the renewal side carries it out between orders. Every check looks at what
pebble itself accepts (a request signed here with the old or the new key, the account object as
pebble returns it, the next order), and at the files (thumbprint, mode, owner), not at the CLI's
word alone.
  (a) `autotls account rollover`: new key in the store, pebble refuses the old one, orders go on;
  (b) a changed AutoTLSContact reaches the existing account at the next start;
  (c) an account deactivated behind the server's back is replaced by a new one with a new key,
      with an ERROR line naming the CA's problem (the order that met it fails), and the next
      order succeeds.
"""

import base64
import hashlib
import json
import os
import ssl
import subprocess
import urllib.error
import urllib.request

import pytest

import autotls_server
from autotls_server import AutoTLSServer, Site, skip_unless_runnable

cryptography = pytest.importorskip("cryptography")
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature  # noqa: E402

MODULE = skip_unless_runnable()

ISSUER = "Pebble"
SITE = Site("a.account.test")
SERVED_TIMEOUT = 30.0
RENEW_TIMEOUT = 30.0
CLI_TIMEOUT = 60.0
WAIT_ARG = "30"  # `--wait` of the CLI: the renewal side answers within a tick or two
LOG_TIMEOUT = 20.0
POLL = 0.1
P256_BYTES = 32
OLD_CONTACT = "old@account.test"
NEW_CONTACT = "new@account.test"


# --- a tiny ACME JWS client (ES256), to ask pebble with a given key --------------------------


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwk(key):
    numbers = key.public_key().public_numbers()
    return {"crv": "P-256", "kty": "EC", "x": b64url(numbers.x.to_bytes(P256_BYTES, "big")),
            "y": b64url(numbers.y.to_bytes(P256_BYTES, "big"))}


def thumbprint(key):
    text = json.dumps(jwk(key), separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(text.encode()).digest())


BAD_NONCE = "urn:ietf:params:acme:error:badNonce"
BAD_NONCE_TRIES = 10


class Acme:
    def __init__(self, pebble):
        self.ctx = ssl.create_default_context(cafile=pebble.ca_cert)
        with urllib.request.urlopen(pebble.directory_url, context=self.ctx) as resp:
            self.directory = json.load(resp)

    def _nonce(self):
        request = urllib.request.Request(self.directory["newNonce"], method="HEAD")
        with urllib.request.urlopen(request, context=self.ctx) as resp:
            return resp.headers["Replay-Nonce"]

    def post(self, url, payload, key, kid):
        """(status, body) of a POST signed by key as account kid; payload None: POST-as-GET.
        pebble refuses a share of nonces on purpose (badNonce): sent again, a bounded number of
        times, as every ACME client must."""
        for _ in range(BAD_NONCE_TRIES):
            status, body = self._post_once(url, payload, key, kid)
            if not (status == 400 and isinstance(body, dict)
                    and body.get("type") == BAD_NONCE):
                break
        return status, body

    def _post_once(self, url, payload, key, kid):
        protected = b64url(json.dumps({"alg": "ES256", "nonce": self._nonce(), "url": url,
                                       "kid": kid}).encode())
        body = "" if payload is None else b64url(json.dumps(payload).encode())
        r, s = decode_dss_signature(key.sign((protected + "." + body).encode(),
                                             ec.ECDSA(hashes.SHA256())))
        jws = {"protected": protected, "payload": body,
               "signature": b64url(r.to_bytes(P256_BYTES, "big") + s.to_bytes(P256_BYTES, "big"))}
        request = urllib.request.Request(url, data=json.dumps(jws).encode(),
                                         headers={"Content-Type": "application/jose+json"})
        try:
            with urllib.request.urlopen(request, context=self.ctx) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")


# --- helpers ----------------------------------------------------------------------------------


def wait_for(what, predicate, timeout, server):
    return autotls_server.wait_for(what, predicate, timeout, server, POLL)


def account_dir(server):
    accounts = os.path.join(server.store, "accounts")
    names = os.listdir(accounts)
    assert len(names) == 1, names
    return os.path.join(accounts, names[0])


def stored_key(server):
    with open(os.path.join(account_dir(server), "account.key"), "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def stored_url(server):
    with open(os.path.join(account_dir(server), "account.json")) as f:
        return json.load(f)["url"]


def cli(autotls_cli, *args):
    return subprocess.run([autotls_cli] + [str(a) for a in args], capture_output=True, text=True,
                          timeout=CLI_TIMEOUT, stdin=subprocess.DEVNULL)


def explain(proc):
    return "exit %d\n--- stdout\n%s--- stderr\n%s" % (proc.returncode, proc.stdout, proc.stderr)


def renewed(autotls_cli, server, name):
    """`autotls renew NAME`, then the new certificate on the wire."""
    before = server.served_cert(name)
    proc = cli(autotls_cli, "renew", "--store", server.store, name)
    assert proc.returncode == 0, explain(proc)
    return wait_for("a new certificate for " + name,
                    lambda: (lambda c: c if c.serial != before.serial else None)(
                        server.served_cert(name)), RENEW_TIMEOUT, server)


# --- the tests --------------------------------------------------------------------------------


class TestAccount:
    @pytest.fixture(scope="class")
    def server(self, pebble):
        with AutoTLSServer((SITE,), pebble=pebble,
                           extra="AutoTLSContact %s" % OLD_CONTACT) as server:
            server.wait_until_served(SITE.name, ISSUER, SERVED_TIMEOUT)
            yield server

    def test_rollover_via_the_cli_changes_the_key_and_pebble_refuses_the_old(
            self, server, pebble, autotls_cli):
        old_key, url = stored_key(server), stored_url(server)
        acme = Acme(pebble)
        assert acme.post(url, None, old_key, url)[0] == 200

        proc = cli(autotls_cli, "account", "rollover", "--store", server.store, "--wait",
                   WAIT_ARG)
        assert proc.returncode == 0, explain(proc)
        new_key = stored_key(server)
        assert thumbprint(new_key) != thumbprint(old_key)
        assert "new key thumbprint %s" % thumbprint(new_key) in proc.stdout, explain(proc)
        assert stored_url(server) == url  # the same account, a new key

        key_path = os.path.join(account_dir(server), "account.key")
        st, accounts = os.stat(key_path), os.stat(os.path.dirname(account_dir(server)))
        assert oct(st.st_mode & 0o777) == oct(0o600)
        assert st.st_uid == accounts.st_uid
        assert not os.path.exists(key_path + ".next")
        assert not [n for n in os.listdir(os.path.join(server.store, "jobs"))
                    if n.endswith(".rollover")]
        assert server.count("key rolled over on the operator's request; new key thumbprint %s"
                            % thumbprint(new_key)) == 1, server.log_tail()

        status, body = acme.post(url, None, new_key, url)
        assert status == 200 and body["status"] == "valid", body
        status, body = acme.post(url, None, old_key, url)
        assert status >= 400, body  # pebble no longer accepts the old key

        cert = renewed(autotls_cli, server, SITE.name)
        assert ISSUER in cert.issuer

    def test_changed_contact_reaches_the_account_at_the_next_start(self, server, pebble,
                                                                   autotls_cli):
        url = stored_url(server)
        status, body = Acme(pebble).post(url, None, stored_key(server), url)
        assert body["contact"] == ["mailto:" + OLD_CONTACT], body

        server.stop()
        server.extra = "AutoTLSContact %s" % NEW_CONTACT
        server.write_config()
        server.start()
        wait_for("the contact update line",
                 lambda: server.count("contact updated to mailto:%s" % NEW_CONTACT) == 1,
                 LOG_TIMEOUT, server)
        status, body = Acme(pebble).post(url, None, stored_key(server), url)
        assert status == 200 and body["contact"] == ["mailto:" + NEW_CONTACT], body
        proc = cli(autotls_cli, "account", "show", "--store", server.store, "--ca-cert",
                   pebble.ca_cert)
        assert proc.returncode == 0, explain(proc)
        assert "contact:    mailto:%s" % NEW_CONTACT in proc.stdout, explain(proc)
        assert "status:     valid" in proc.stdout, explain(proc)
        assert url in proc.stdout and thumbprint(stored_key(server)) in proc.stdout

    def test_deactivated_account_is_replaced_with_a_new_key(self, server, pebble, autotls_cli):
        old_key, old_url = stored_key(server), stored_url(server)
        status, body = Acme(pebble).post(old_url, {"status": "deactivated"}, old_key, old_url)
        assert status == 200 and body["status"] == "deactivated", body

        # The order that meets the deactivated account fails and names the CA's problem; the
        # renewal side then registers a new account with a new key, and the next order works.
        proc = cli(autotls_cli, "renew", "--store", server.store, SITE.name)
        assert proc.returncode == 0, explain(proc)
        wait_for("the replacement line",
                 lambda: server.count("replaced the deactivated account") == 1, LOG_TIMEOUT,
                 server)
        errors = [line for line in server.error_log().splitlines()
                  if ":error]" in line and "is deactivated" in line]
        assert errors and "unauthorized" in errors[0], server.log_tail()
        cert = renewed(autotls_cli, server, SITE.name)
        assert ISSUER in cert.issuer
        new_key, new_url = stored_key(server), stored_url(server)
        assert thumbprint(new_key) != thumbprint(old_key)
        assert new_url != old_url
        status, body = Acme(pebble).post(new_url, None, new_key, new_url)
        assert status == 200 and body["status"] == "valid", body
        assert server.count("replaced the deactivated account") == 1, server.log_tail()
