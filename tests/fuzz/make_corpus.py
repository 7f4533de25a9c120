#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the hand-made seed corpora and the test CA of the certset target.

The one idea: pebble's real documents (capture_pebble.py) show one CA's habits; these seeds add
what other CAs and attackers send: RFC 8555 and RFC 9773 examples, Let's Encrypt's shapes, error
documents with subproblems and control characters, hostile challenge requests, every directive
form, Link and Retry-After variants, and certificate sets that fail each check in turn (made by a
test CA whose root becomes tests/fuzz/data/roots.pem together with pebble's). Inputs that once
crashed a target live in tests/fuzz/regressions/, not here. Run by hand; the output is checked in:
    /usr/bin/python3 tests/fuzz/make_corpus.py
"""

import datetime
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
DATA = os.path.join(HERE, "data")
PLANTED = "fuzzPlantedToken_0123456789-abcdefghijklmn"  # fuzz_challenge.c's planted token
THUMBPRINT = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"  # any 43 base64url characters
ANSWER = '{"identifier":"%s","keyAuthorization":"%s.' + THUMBPRINT + '"}'  # at_challenge.h
TOKEN = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
NOT_BEFORE = datetime.datetime(2025, 1, 1)
NOT_AFTER = datetime.datetime(2035, 1, 1)


def seed(target, name, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(CORPUS, target, name), "wb") as f:
        f.write(data)


DIRECTORIES = {
    "letsencrypt": """{
  "keyChange": "https://acme-v02.api.letsencrypt.org/acme/key-change",
  "meta": {
    "caaIdentities": ["letsencrypt.org"],
    "profiles": {"classic": "https://letsencrypt.org/docs/profiles#classic"},
    "termsOfService": "https://letsencrypt.org/documents/LE-SA-v1.5-February-24-2025.pdf",
    "website": "https://letsencrypt.org"
  },
  "newAccount": "https://acme-v02.api.letsencrypt.org/acme/new-acct",
  "newNonce": "https://acme-v02.api.letsencrypt.org/acme/new-nonce",
  "newOrder": "https://acme-v02.api.letsencrypt.org/acme/new-order",
  "renewalInfo": "https://acme-v02.api.letsencrypt.org/acme/renewal-info",
  "revokeCert": "https://acme-v02.api.letsencrypt.org/acme/revoke-cert",
  "yVAvyX3Fh6c": "https://community.letsencrypt.org/t/adding-random-entries-to-the-directory/33417"
}""",
    "eab-required": """{"newNonce": "https://ca.example/nonce", "newAccount": "https://ca.example/acct",
 "newOrder": "https://ca.example/order", "newAuthz": "https://ca.example/authz",
 "revokeCert": "https://ca.example/revoke", "keyChange": "https://ca.example/key",
 "meta": {"externalAccountRequired": true, "termsOfService": "https://ca.example/tos"}}""",
    "minimal": '{"newNonce":"http://a/n","newAccount":"http://a/a","newOrder":"http://a/o"}',
    "not-urls": '{"newNonce":"ftp://a/n","newAccount":"/a","newOrder":"javascript:x"}',
    "meta-wrong-types": '{"newNonce":"http://a/n","newAccount":"http://a/a",'
                        '"newOrder":"http://a/o","meta":{"externalAccountRequired":"yes"}}',
    "nul-in-url": '{"newNonce":"http://a/n\\u0000x","newAccount":"http://a/a","newOrder":"http://a/o"}',
}

PROBLEMS = {
    "rfc8555-subproblems": """{
    "type": "urn:ietf:params:acme:error:malformed",
    "detail": "Some of the identifiers requested were rejected",
    "subproblems": [
        {"type": "urn:ietf:params:acme:error:malformed",
         "detail": "Invalid underscore in DNS name \\"_example.org\\"",
         "identifier": {"type": "dns", "value": "_example.org"}},
        {"type": "urn:ietf:params:acme:error:rejectedIdentifier",
         "detail": "This CA will not issue for \\"example.net\\"",
         "identifier": {"type": "dns", "value": "example.net"}}
    ]
}""",
    "rate-limited": '{"type":"urn:ietf:params:acme:error:rateLimited","detail":"too many '
                    'certificates (5) already issued for this exact set of identifiers in the '
                    'last 168h0m0s, retry after 2025-01-02 03:04:05 UTC","status":429}',
    "control-chars": '{"type":"urn:ietf:params:acme:error:serverInternal\\u001b[31m",'
                     '"detail":"line one\\nline two\\r\\u0000\\u007f\\u0007end"}',
    "nested-subproblems": '{"type":"about:blank","subproblems":[{"type":"x","subproblems":[]}]}',
    "no-type": '{"detail":"","status":500}',
    "wrong-types": '{"type":5,"detail":["a"],"identifier":"x"}',
    "identifier-not-object": '{"type":"t","subproblems":[{"identifier":"example.com"}]}',
}

ORDERS = {
    "rfc8555-retry-after": """#120
{
  "status": "pending",
  "expires": "2016-01-05T14:09:07.99Z",
  "notBefore": "2016-01-01T00:00:00Z",
  "notAfter": "2016-01-08T00:00:00Z",
  "identifiers": [
    { "type": "dns", "value": "www.example.org" },
    { "type": "dns", "value": "example.org" }
  ],
  "authorizations": [
    "https://example.com/acme/authz/PAniVnsZcis",
    "https://example.com/acme/authz/r4HqLzrSrpI"
  ],
  "finalize": "https://example.com/acme/order/TOlocE8rfgo/finalize",
  "certificate": "https://example.com/acme/cert/mAt3xBGaobw"
}""",
    "offset-expiry": '#Wed, 21 Oct 2015 07:28:00 GMT\n{"status":"processing","expires":'
                     '"2030-02-29T23:59:60.123456789+01:00","identifiers":[],'
                     '"authorizations":[],"finalize":"https://c/f"}',
    "invalid-with-error": '{"status":"invalid","identifiers":[{"type":"ip","value":"10.0.0.1"}],'
                          '"authorizations":["https://c/a"],"finalize":"https://c/f",'
                          '"error":{"type":"urn:ietf:params:acme:error:rejectedIdentifier",'
                          '"detail":"no","subproblems":[{"type":"x","identifier":'
                          '{"type":"dns","value":"a"}}]}}',
    "bad-types": '{"status":1,"identifiers":{},"authorizations":[1],"finalize":"x"}',
}

AUTHZS = {
    "rfc8555-wildcard": """{
  "status": "pending",
  "expires": "2016-01-02T14:09:30Z",
  "identifier": { "type": "dns", "value": "example.org" },
  "wildcard": true,
  "challenges": [
    { "url": "https://example.com/acme/chall/prV_B7yEyA4", "type": "dns-01",
      "status": "pending", "token": "DGyRejmCefe7v4NfDGDKfA" }
  ]
}""",
    "all-types": '{"status":"valid","identifier":{"type":"dns","value":"www.example.com"},'
                 '"challenges":[{"type":"http-01","url":"https://c/1","status":"valid",'
                 '"token":"%s","validated":"2025-01-01T00:00:00Z"},{"type":"tls-alpn-01",'
                 '"url":"https://c/2","status":"pending","token":"%s"},{"type":"unknown-01",'
                 '"url":"https://c/3","status":"pending"}]}' % (TOKEN, TOKEN),
    "hostile-token": '{"status":"pending","identifier":{"type":"dns","value":"a.example"},'
                     '"challenges":[{"type":"http-01","url":"https://c/1","status":"pending",'
                     '"token":"../../../etc/passwd"}]}',
    "long-token": '{"status":"pending","identifier":{"type":"dns","value":"a.example"},'
                  '"challenges":[{"type":"http-01","url":"https://c/1","status":"pending",'
                  '"token":"%s"}]}' % ("A" * 255),
    "invalid-error": '#30\n{"status":"invalid","identifier":{"type":"dns","value":"a.example"},'
                     '"challenges":[{"type":"http-01","url":"https://c/1","status":"invalid",'
                     '"token":"abc","error":{"type":"urn:ietf:params:acme:error:connection",'
                     '"detail":"refused"}}]}',
}

ACCOUNTS = {
    "rfc8555": """{
  "status": "valid",
  "contact": ["mailto:cert-admin@example.org", "mailto:admin@example.org"],
  "termsOfServiceAgreed": true,
  "orders": "https://example.com/acme/orders/rzGoeA"
}""",
    "deactivated": '{"status":"deactivated"}',
    "bad-contact": '{"contact":["mailto:a@b", 7]}',
}

ARI = {
    "rfc9773": """#21600
{
  "suggestedWindow": {
    "start": "2025-01-02T04:00:00Z",
    "end": "2025-01-03T04:00:00Z"
  },
  "explanationURL": "https://acme.example.com/docs/ari"
}""",
    "fractions-offsets": '{"suggestedWindow":{"start":"2025-01-02T04:00:00.5+05:30",'
                         '"end":"2025-01-02t23:59:60.999999999-00:00"}}',
    "extremes": '#Wed, 21 Oct 2015 07:28:00 GMT\n{"suggestedWindow":{"start":'
                '"1970-01-01T00:00:00Z","end":"9999-12-31T23:59:59Z"}}',
    "reversed": '#1\n{"suggestedWindow":{"start":"2025-01-03T04:00:00Z",'
                '"end":"2025-01-02T04:00:00Z"},"explanationURL":null}',
    "bad-url": '{"suggestedWindow":{"start":"2025-01-02T04:00:00Z","end":"2025-01-03T04:00:00Z"},'
               '"explanationURL":"https://a/\\u0001"}',
}

CHALLENGES = {
    "get-token": "GET /.well-known/acme-challenge/%s\nwww.example.com" % TOKEN,
    "head-planted": "HEAD /.well-known/acme-challenge/%s\nEXAMPLE.COM:80" % PLANTED,
    "get-planted": "GET /.well-known/acme-challenge/%s\nwww.example.com" % PLANTED,
    "post": "POST /.well-known/acme-challenge/%s\nexample.com" % TOKEN,
    "dotdot": "GET /.well-known/acme-challenge/../../secret.pem\nexample.com",
    "encoded-dotdot": "GET /.well-known/acme-challenge/%2e%2e%2fsecret.pem\nexample.com",
    "encoded-slash": "GET /.well-known/acme-challenge/a%2F..%2F..%2Fsecret.pem\nexample.com",
    "absolute-uri": "GET http://www.example.com:8080/.well-known/acme-challenge/%s\nevil.test"
                    % PLANTED,
    "unmanaged-host": "GET /.well-known/acme-challenge/%s\nevil.test" % PLANTED,
    "no-host": "GET /.well-known/acme-challenge/%s" % PLANTED,
    "query-fragment": "GET /.well-known/acme-challenge/%s?x=1#y\nexample.com" % PLANTED,
    "long-token": "GET /.well-known/acme-challenge/%s\nexample.com" % ("A" * 255),
    "ipv6-host": "GET /.well-known/acme-challenge/%s\n[::1]:80" % TOKEN,
    "empty-token": "GET /.well-known/acme-challenge/\nexample.com",
    # a third line: the answer stored for the token (at_challenge.h), made for example.com
    "answer-bound-host": "GET /.well-known/acme-challenge/%s\nexample.com\n%s"
                         % (PLANTED, ANSWER % ("example.com", PLANTED)),
    "answer-other-host": "GET /.well-known/acme-challenge/%s\nwww.example.com\n%s"
                         % (PLANTED, ANSWER % ("example.com", PLANTED)),
    "answer-uppercase-host": "GET /.well-known/acme-challenge/%s\nEXAMPLE.COM:80\n%s"
                             % (PLANTED, ANSWER % ("example.com", PLANTED)),
    "answer-legacy-bare": "GET /.well-known/acme-challenge/%s\nexample.com\n%s.%s"
                          % (PLANTED, PLANTED, THUMBPRINT),
    "answer-other-token": "GET /.well-known/acme-challenge/%s\nexample.com\n%s"
                          % (PLANTED, ANSWER % ("example.com", "otherToken")),
    "answer-bad-identifier": "GET /.well-known/acme-challenge/%s\nexample.com\n%s"
                             % (PLANTED, ANSWER % ("Example.COM.", PLANTED)),
    "answer-duplicate": "GET /.well-known/acme-challenge/%s\nexample.com\n"
                        '{"identifier":"www.example.com","identifier":"example.com",'
                        '"keyAuthorization":"%s.%s"}' % (PLANTED, PLANTED, THUMBPRINT),
    "answer-extra-member": "GET /.well-known/acme-challenge/%s\nexample.com\n"
                           '{"identifier":"example.com","keyAuthorization":"%s.%s","x":1}'
                           % (PLANTED, PLANTED, THUMBPRINT),
    "answer-nul": "GET /.well-known/acme-challenge/%s\nexample.com\n%s"
                  % (PLANTED, ANSWER % ("exa\\u0000mple.com", PLANTED)),
}

CONFIG = ["30d", "12h", "90m", "3600s", "33%", "1%", "99%", "100%", "0d", "-5d",
          "9223372036854775807s", "99999999999999999999d", "30D", "30 d", "on", "OFF", "maybe",
          "443", "65535", "65536", "0", "+443", "letsencrypt", "LetsEncrypt-Staging",
          "https://acme.example.org/directory", "http://127.0.0.1:14000/dir", "https://",
          "file:///etc/passwd", "admin@example.com", "mailto:Admin@Example.COM", "a@b",
          "a b@example.com", "x@-bad-.example.com", "ec256", "EC384", "rsa2048", "rsa4096",
          "rsa1024", "*.internal.example.com foo[0-9].example.com", "[!a-z]*.example.com",
          "a..b", "[", "*", "a" * 254]

STORE_NAMES = [
    b"\x02www.example.com\x00privkey.pem\x00https://acme-v02.api.letsencrypt.org/directory",
    b"\x03\x00" + TOKEN.encode() + b"\x00https://127.0.0.1:14000/dir",
    b"\x00acme-v02.api.letsencrypt.org-directory\x00account.json\x00http://[::1]:443/d",
    b"\x04..\x00.hidden\x00" + b"https://" + b"x" * 300 + b"/dir",
    b"\x06site\x00a/b\x00://::://",
    b"\x01\x00" + b"A" * 255 + b"\x00",
]

JOBS = {
    "full": """{"failures": 1, "next_try": 1700000060, "last_error": "urn:ietf:params:acme:error:rateLimited: too many certificates", "retry_after": 1700003600,
 "ari": {"cert_id": "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE", "start": 1700000000, "end": 1700086400,
         "chosen": 1700012345, "next_poll": 1700021600},
 "missing": [{"name": "www.example.com", "failures": 2, "next_try": 1700000600,
              "last_error": "urn:ietf:params:acme:error:connection: refused"}]}
""",
    "hostile-values": '{"failures": 3, "next_try": 9223372036854775807, "retry_after": -1, '
                      '"last_error": 7, "ari": {"cert_id": "x.y", "start": 5, "end": 4}, '
                      '"missing": [{"name": ""}, {"name": "a", "failures": 99999999999}, 5]}',
    "truncated": '{"failures": 1, "next_try": 17000',
}

HEADERS = {
    "alternates": 'Link: <https://ca.example/acme/cert/1/1>;rel="alternate"\n'
                  'Link: </acme/cert/1/2>; rel=alternate, <../issuer>;rel="up"\n'
                  'Link: <https://ca.example/dir>;rel="index"\n',
    "link-params": 'Link: <a>; title="x,y;rel=alternate"; rel="next alternate", <b>;rel=up;'
                   ' rel=alternate\nLink: <c\nLink: ,,; <d>;;rel\n',
    "retry-seconds": "Retry-After: 120\nLocation: /acme/order/1\n",
    "retry-date": "Retry-After: Wed, 21 Oct 2037 07:28:00 GMT\n",
    "retry-huge": "Retry-After: 99999999999999999999999\nLocation: https://other.example/x\n",
    "retry-negative": "Retry-After: -5\nLocation: //evil.example/x\n",
}


def test_ca():
    """A root and an intermediate (P-256), fixed validity around fuzz_certset's FUZZ_NOW."""
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "autotls fuzz root")])
    root = (x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
            .public_key(root_key.public_key()).serial_number(1)
            .not_valid_before(NOT_BEFORE).not_valid_after(NOT_AFTER)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()),
                           critical=False)
            .sign(root_key, hashes.SHA256()))
    inter_key = ec.generate_private_key(ec.SECP256R1())
    inter_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "autotls fuzz issuer")])
    inter = (x509.CertificateBuilder().subject_name(inter_name).issuer_name(root_name)
             .public_key(inter_key.public_key()).serial_number(2)
             .not_valid_before(NOT_BEFORE).not_valid_after(NOT_AFTER)
             .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
             .add_extension(x509.SubjectKeyIdentifier.from_public_key(inter_key.public_key()),
                            critical=False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                 root_key.public_key()), critical=False)
             .sign(root_key, hashes.SHA256()))
    return root, inter, inter_key


def leaf(inter, inter_key, key, names, serial, not_before=NOT_BEFORE, not_after=NOT_AFTER,
         aki=True):
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
               .issuer_name(inter.subject).public_key(key.public_key()).serial_number(serial)
               .not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                              critical=False))
    if aki:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            inter_key.public_key()), critical=False)
    return builder.sign(inter_key, hashes.SHA256())


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def certsets():
    root, inter, inter_key = test_ca()
    names = ["www.example.com", "example.com"]
    ec_key = ec.generate_private_key(ec.SECP256R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    good = leaf(inter, inter_key, ec_key, names, 0x00ff01)
    sets = {
        "valid-ec": (names, key_pem(ec_key), pem(good) + pem(inter)),
        "valid-rsa": (names, key_pem(rsa_key),
                      pem(leaf(inter, inter_key, rsa_key, names, 0x7f02)) + pem(inter)),
        "no-intermediate": (names, key_pem(ec_key), pem(good)),
        "wrong-key": (names, key_pem(rsa_key), pem(good) + pem(inter)),
        "wrong-names": (["other.example.net"], key_pem(ec_key), pem(good) + pem(inter)),
        "wildcard": (["a.example.com", "example.com"], key_pem(ec_key),
                     pem(leaf(inter, inter_key, ec_key, ["*.example.com", "example.com"], 3))
                     + pem(inter)),
        "expired": (names, key_pem(ec_key),
                    pem(leaf(inter, inter_key, ec_key, names, 4,
                             not_after=datetime.datetime(2026, 1, 1))) + pem(inter)),
        "not-yet-valid": (names, key_pem(ec_key),
                          pem(leaf(inter, inter_key, ec_key, names, 5,
                                   not_before=datetime.datetime(2031, 1, 1))) + pem(inter)),
        "no-aki": (names, key_pem(ec_key),
                   pem(leaf(inter, inter_key, ec_key, names, 6, aki=False)) + pem(inter)),
        "chain-then-root": (names, key_pem(ec_key), pem(good) + pem(inter) + pem(root)),
        "truncated": (names, key_pem(ec_key), (pem(good) + pem(inter))[:-100]),
        "encrypted-key": (names, ec_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret")), pem(good) + pem(inter)),
    }
    for name, (set_names, key, chain) in sets.items():
        seed("certset", name, ",".join(set_names).encode() + b"\0" + key + b"\0" + chain)
    roots = pem(root)
    pebble_root = os.path.join(DATA, "pebble-root.pem")
    if os.path.exists(pebble_root):
        with open(pebble_root, "rb") as f:
            roots += f.read()
    with open(os.path.join(DATA, "roots.pem"), "wb") as f:
        f.write(roots)


def main():
    os.makedirs(DATA, exist_ok=True)
    for target, docs in (("acme_directory", DIRECTORIES), ("acme_problem", PROBLEMS),
                         ("acme_order", ORDERS), ("acme_authz", AUTHZS),
                         ("acme_account", ACCOUNTS), ("ari", ARI), ("challenge", CHALLENGES),
                         ("http_headers", HEADERS), ("renew_job", JOBS)):
        for name, text in docs.items():
            seed(target, name, text)
    for i, value in enumerate(CONFIG):
        seed("config", "value-%02d" % i, value)
    for i, data in enumerate(STORE_NAMES):
        seed("store_names", "names-%02d" % i, data)
    certsets()
    print("wrote seeds into %s and the test roots into %s" % (CORPUS, DATA))


if __name__ == "__main__":
    main()
