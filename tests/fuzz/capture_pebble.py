#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Captures real ACME documents from pebble as seed corpora for the fuzz targets.

The one idea: seeds should be what a CA really sends, so this runs one complete issuance (and a
few refusals) against a real pebble on loopback with a minimal ACME client, and writes each
answer where its target reads it: tests/fuzz/corpus/<target>/pebble-<what>. Run it by hand after
a pebble upgrade (it is not part of CI; the corpus it wrote is checked in):
    /usr/bin/python3 tests/fuzz/capture_pebble.py
It also writes the issued key and chain as a certset seed, and pebble's issuing root of that run
into tests/fuzz/data/roots.pem, so the certset target sees a set that really verifies.
"""

import base64
import hashlib
import http.server
import json
import os
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from pebble import PebbleEnv, free_port  # noqa: E402

CORPUS = os.path.join(HERE, "corpus")
NAMES = ["www.example.com", "example.com"]
POLL_TRIES = 50
POLL_SLEEP = 0.2
TIMEOUT = 10


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def save(target, what, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(CORPUS, target, "pebble-" + what), "wb") as f:
        f.write(data)


def headers_text(headers):
    return "".join("%s: %s\n" % (k, v) for k, v in headers.items())


class Client:
    """Just enough RFC 8555 to walk pebble through an issuance."""

    def __init__(self, env):
        self.env = env
        self.ctx = ssl.create_default_context(cafile=env.ca_cert)
        self.key = ec.generate_private_key(ec.SECP256R1())
        nums = self.key.public_key().public_numbers()
        self.jwk = {"crv": "P-256", "kty": "EC",
                    "x": b64url(nums.x.to_bytes(32, "big")),
                    "y": b64url(nums.y.to_bytes(32, "big"))}
        self.kid = None
        self.dir = None

    def request(self, url, data=None, method=None, ctype="application/jose+json"):
        req = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", ctype)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                             urllib.request.HTTPSHandler(context=self.ctx))
        try:
            with opener.open(req, timeout=TIMEOUT) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def nonce(self):
        _, headers, _ = self.request(self.dir["newNonce"], method="HEAD")
        return headers["Replay-Nonce"]

    def post(self, url, payload, nonce=None):
        protected = {"alg": "ES256", "nonce": nonce or self.nonce(), "url": url}
        if self.kid:
            protected["kid"] = self.kid
        else:
            protected["jwk"] = self.jwk
        p64 = b64url(json.dumps(protected).encode())
        body64 = "" if payload is None else b64url(json.dumps(payload).encode())
        der = self.key.sign(("%s.%s" % (p64, body64)).encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        sig = b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
        jws = json.dumps({"protected": p64, "payload": body64, "signature": sig}).encode()
        return self.request(url, jws)

    def thumbprint(self):
        canon = json.dumps(self.jwk, sort_keys=True, separators=(",", ":")).encode()
        return b64url(hashlib.sha256(canon).digest())


class Responder(http.server.BaseHTTPRequestHandler):
    answers = {}

    def do_GET(self):
        token = self.path.rsplit("/", 1)[-1]
        body = self.answers.get(token)
        self.send_response(200 if body else 404)
        self.end_headers()
        if body:
            self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


def poll(client, url, until):
    for _ in range(POLL_TRIES):
        status, headers, body = client.post(url, None)
        doc = json.loads(body)
        if doc.get("status") in until:
            return status, headers, body, doc
        time.sleep(POLL_SLEEP)
    raise RuntimeError("%s never reached %s" % (url, until))


def capture(env, http01_port):
    c = Client(env)
    status, headers, body = c.request(env.directory_url)
    save("acme_directory", "directory", body)
    c.dir = json.loads(body)

    # refusals first: a bad nonce, an unknown account, a malformed order
    _, _, body = c.post(c.dir["newAccount"], {"termsOfServiceAgreed": True}, nonce="bm9ub25jZQ")
    save("acme_problem", "badNonce", body)
    _, _, body = c.post(c.dir["newAccount"], {"onlyReturnExisting": True})
    save("acme_problem", "accountDoesNotExist", body)

    status, headers, body = c.post(c.dir["newAccount"],
                                   {"termsOfServiceAgreed": True,
                                    "contact": ["mailto:admin@example.com"]})
    save("acme_account", "account", body)
    save("http_headers", "account-headers", headers_text(headers))
    c.kid = headers["Location"]

    _, _, body = c.post(c.dir["newOrder"], {"identifiers": [{"type": "ip", "value": "x"}]})
    save("acme_problem", "malformed-order", body)
    _, _, body = c.post(c.dir["newOrder"], {})
    save("acme_problem", "malformed-empty", body)

    order_payload = {"identifiers": [{"type": "dns", "value": n} for n in NAMES]}
    status, headers, body = c.post(c.dir["newOrder"], order_payload)
    save("acme_order", "order-pending", body)
    save("http_headers", "order-headers", headers_text(headers))
    order_url = headers["Location"]
    order = json.loads(body)

    for i, authz_url in enumerate(order["authorizations"]):
        status, headers, body = c.post(authz_url, None)
        authz = json.loads(body)
        if authz["status"] == "valid":  # pebble reuses authorizations now and then
            save("acme_authz", "authz-reused-%d" % i, body)
            continue
        save("acme_authz", "authz-pending-%d" % i, body)
        chall = [ch for ch in authz["challenges"] if ch["type"] == "http-01"][0]
        Responder.answers[chall["token"]] = chall["token"] + "." + c.thumbprint()
        save("challenge", "request-%d" % i, "GET /.well-known/acme-challenge/%s\n%s:%d"
             % (chall["token"], authz["identifier"]["value"], http01_port))
        c.post(chall["url"], {})
        _, _, body, _ = poll(c, authz_url, ("valid", "invalid"))
        save("acme_authz", "authz-valid-%d" % i, body)

    _, _, body, order = poll(c, order_url, ("ready",))
    save("acme_order", "order-ready", body)

    cert_key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAMES[0])]))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in NAMES]),
                          critical=False)
           .sign(cert_key, hashes.SHA256()))
    csr64 = b64url(csr.public_bytes(serialization.Encoding.DER))
    status, headers, body = c.post(order["finalize"], {"csr": csr64})
    save("acme_order", "order-finalized", body)
    _, _, body, order = poll(c, order_url, ("valid",))
    save("acme_order", "order-valid", body)

    status, headers, chain = c.post(order["certificate"], None)
    save("http_headers", "certificate-headers", headers_text(headers))
    key_pem = cert_key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())
    save("certset", "issued", ",".join(NAMES).encode() + b"\0" + key_pem + b"\0" + chain)
    with open(os.path.join(HERE, "data", "pebble-root.pem"), "w") as f:
        f.write(env.roots_pem())

    # an order the CA cannot validate: nobody answers the challenge
    Responder.answers.clear()
    status, headers, body = c.post(c.dir["newOrder"],
                                   {"identifiers": [{"type": "dns", "value": "nobody.example.org"}]})
    bad = json.loads(body)
    _, _, body = c.post(bad["authorizations"][0], None)
    authz = json.loads(body)
    if authz["status"] == "pending":
        chall = [ch for ch in authz["challenges"] if ch["type"] == "http-01"][0]
        c.post(chall["url"], {})
        _, _, body, _ = poll(c, bad["authorizations"][0], ("invalid",))
        save("acme_authz", "authz-invalid", body)
        _, _, body, _ = poll(c, headers["Location"], ("invalid",))
        save("acme_order", "order-invalid", body)
        doc = json.loads(body)
        if "error" in doc:
            save("acme_problem", "order-error", json.dumps(doc["error"]))


def main():
    http01_port = free_port()
    server = http.server.HTTPServer(("127.0.0.1", http01_port), Responder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with PebbleEnv(http01_port=http01_port, authz_reuse=0, nonce_reject=0) as env:
            capture(env, http01_port)
    finally:
        server.shutdown()
    print("captured pebble documents into %s" % CORPUS)


if __name__ == "__main__":
    main()
