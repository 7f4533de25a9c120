# SPDX-License-Identifier: Apache-2.0
"""Hostile requests to the http-01 responder: only an exact token for a managed host is answered.

The one idea to hold: the responder runs in post_read_request, before anything of the site's
configuration, so everything it does not answer must fall through to the site untouched (the
site's own 404 text shows it did), and nothing it answers may come from outside the challenge
store. Secret files with a known marker are planted everywhere a path trick could reach (the
store root and its other groups, challenges/ itself under names that are not tokens, links and
special files in challenges/, the DocumentRoot's parents, /tmp), and no response body, over HTTP
or HTTPS, may ever contain the marker. Requests are written on raw sockets, byte for byte, so no
client library normalises a path or a Host header on the way.
"""

import os
import pwd
import re
import secrets

import pytest

import httpd
from autotls_server import (AutoTLSServer, Site, raw_exchange, skip_unless_runnable,
                            write_challenge_answer)

MODULE = skip_unless_runnable()

ALPHA = "alpha.autotls-hostile.org"
ALPHA_WWW = "www.alpha.autotls-hostile.org"
BETA = "beta.autotls-hostile.org"
UNMANAGED = "unmanaged.autotls-hostile.org"
PREFIX = "/.well-known/acme-challenge/"
TOKEN = "Hx0-_valid_" + secrets.token_urlsafe(24)
KEYAUTH = TOKEN + "." + secrets.token_urlsafe(32)
MARKER = "AUTOTLS-SECRET-" + secrets.token_hex(16)
TOKEN_MAX = 255  # the longest token the store can hold (one path component)
DECLINED = (400, 403, 404, 414)  # httpd's own answers to what the responder leaves alone
PENDING = 503
NOBODY = "nobody"

# Tokens with a planted file behind them that must never be served.
LINK_TOKEN = "link_" + secrets.token_urlsafe(12)  # challenges/<t> -> a secret file
FOREIGN_TOKEN = "foreign_" + secrets.token_urlsafe(12)  # owned by nobody
FIFO_TOKEN = "fifo_" + secrets.token_urlsafe(12)  # a named pipe (must not hang a child)
DIR_TOKEN = "dir_" + secrets.token_urlsafe(12)  # a directory
BIG_TOKEN = "big_" + secrets.token_urlsafe(12)  # larger than the store's item limit
BIG_BYTES = 5 * 1024 * 1024
NOT_A_TOKEN = "secret.txt"  # a real file in challenges/ whose name is not a token




def raw_request(server, request, https=False, sni=ALPHA):
    """Sends request (bytes, exactly as given) and reads the answer until the server closes."""
    response = raw_exchange(server, request, https=https, sni=sni)
    assert MARKER.encode() not in response.raw, "a secret leaked: %r" % response
    assert MARKER.encode().hex().encode() not in response.raw.lower()
    return response


def get(server, path, host=ALPHA, method="GET", version="HTTP/1.1", extra=b"", https=False):
    lines = ["%s %s %s" % (method, path, version)]
    if host is not None:
        lines.append("Host: %s" % host)
    lines.append("Connection: close")
    request = ("\r\n".join(lines) + "\r\n").encode("latin-1") + extra + b"\r\n"
    return raw_request(server, request, https=https)


def plant(path, text, uid=0, gid=0, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    os.chown(path, uid, gid)
    return path


@pytest.fixture(scope="module")
def server():
    sites = [Site(ALPHA, aliases=(ALPHA_WWW,)), Site(BETA)]
    srv = AutoTLSServer(sites, ca_url="https://127.0.0.1:%d/directory" % httpd.free_port())
    with srv:
        www = pwd.getpwnam("www-data")
        nobody = pwd.getpwnam(NOBODY)
        store, challenges = srv.store, os.path.join(srv.store, "challenges")
        write_challenge_answer(srv, ALPHA, TOKEN, KEYAUTH)
        secret = "%s in %%s\n" % MARKER
        planted = [
            plant(os.path.join(store, "secret.txt"), secret % "store"),
            plant(os.path.join(store, "jobs", "secret.txt"), secret % "jobs", www.pw_uid,
                  www.pw_gid),
            plant(os.path.join(store, "staging", "secret.txt"), secret % "staging",
                  www.pw_uid, www.pw_gid),
            plant(os.path.join(store, "live", "secret.txt"), secret % "live"),
            plant(os.path.join(challenges, NOT_A_TOKEN), secret % "challenges", www.pw_uid,
                  www.pw_gid),
            plant(os.path.join(srv.root, "sites", "secret.txt"), secret % "docroot parent"),
            plant(os.path.join(srv.root, "secret.txt"), secret % "server root"),
            plant("/tmp/autotls-hostile-%s.txt" % MARKER, secret % "/tmp"),
        ]
        os.symlink(os.path.join(store, "secret.txt"), os.path.join(challenges, LINK_TOKEN))
        plant(os.path.join(challenges, FOREIGN_TOKEN), secret % "foreign", nobody.pw_uid,
              nobody.pw_gid)
        os.mkfifo(os.path.join(challenges, FIFO_TOKEN), 0o644)
        os.chown(os.path.join(challenges, FIFO_TOKEN), www.pw_uid, www.pw_gid)
        os.mkdir(os.path.join(challenges, DIR_TOKEN), 0o755)
        plant(os.path.join(challenges, BIG_TOKEN), (secret % "big") * (BIG_BYTES // 40),
              www.pw_uid, www.pw_gid)
        try:
            yield srv
        finally:
            for path in planted:
                if path.startswith("/tmp/"):
                    os.unlink(path)


def site_404(response, site=ALPHA):
    """The request reached the site's own handling: its ErrorDocument text."""
    return response.status == 404 and Site(site).not_found().encode() in response.body


# --- the one thing answered ---------------------------------------------------------------------


def test_valid_token_for_its_managed_host_answers_the_exact_key_authorization(server):
    r = get(server, PREFIX + TOKEN, host=ALPHA)
    assert r.status == 200, r
    assert r.body == KEYAUTH.encode(), r
    assert r.headers["content-type"].startswith("text/plain"), r
    for host in (ALPHA_WWW, BETA):  # managed too, but the answer was made for ALPHA
        r = get(server, PREFIX + TOKEN, host=host)
        assert site_404(r, server.site(host).name) and KEYAUTH.encode() not in r.body, (host, r)
    head = get(server, PREFIX + TOKEN, method="HEAD")
    assert head.status == 200 and head.body == b""
    assert int(head.headers["content-length"]) == len(KEYAUTH)


@pytest.mark.parametrize("host", [
    "%s:%s" % (ALPHA, "{port}"),  # the port the client connected to
    ALPHA.upper(),
    ALPHA + ".",  # the absolute form of the same name
    "AlPhA.AutoTLS-Hostile.ORG:{port}",
], ids=["port", "uppercase", "trailing-dot", "mixed-case-port"])
def test_same_managed_host_spelled_differently_is_answered(server, host):
    r = get(server, PREFIX + TOKEN, host=host.format(port=server.http_port))
    assert r.status == 200 and r.body == KEYAUTH.encode(), r


def test_absolute_form_target_names_the_host(server):
    """RFC 9112 §3.2.2: the host of an absolute-form target wins over the Host header."""
    url = "http://%s%s%s" % (ALPHA, PREFIX, TOKEN)
    assert get(server, url, host=UNMANAGED).body == KEYAUTH.encode()
    url = "http://%s%s%s" % (UNMANAGED, PREFIX, TOKEN)
    r = get(server, url, host=ALPHA)
    assert r.status in DECLINED and KEYAUTH.encode() not in r.body, r


def test_double_slash_httpd_merges_is_answered(server):
    """httpd merges slashes before any module sees the path: the very same resource."""
    r = get(server, "/" + PREFIX + TOKEN)
    assert r.status == 200 and r.body == KEYAUTH.encode(), r


def test_challenges_are_answered_on_the_https_twin_too(server):
    r = get(server, PREFIX + TOKEN, https=True)
    assert r.status == 200 and r.body == KEYAUTH.encode(), r


# --- paths: declined, the site answers, nothing outside the challenge store ---------------------

HOSTILE_PATHS = {
    "dotdot": PREFIX + "../../../secret.txt",
    "dotdot-store": PREFIX + "../../store/secret.txt",
    "dotdot-after-token": PREFIX + TOKEN + "/../../../secret.txt",
    "encoded-dotdot": PREFIX + "%2e%2e/%2e%2e/%2e%2e/secret.txt",
    "encoded-dotdot-upper": PREFIX + "%2E%2E/%2E%2E/secret.txt",
    "encoded-slash": PREFIX + "..%2f..%2f..%2fsecret.txt",
    "encoded-all": PREFIX + "%2e%2e%2f%2e%2e%2fstore%2fsecret.txt",
    "double-encoded": PREFIX + "%252e%252e%252f%252e%252e%252fsecret.txt",
    "backslash": PREFIX + "..\\..\\secret.txt",
    "dot": PREFIX + ".",
    "dotdot-back": PREFIX + "x/../" + TOKEN,  # dot segments reach the site, not the responder
    "dot-segment": "/.well-known/./acme-challenge/" + TOKEN,
    "dotdot-only": PREFIX + "..",
    "empty-token": PREFIX,
    "not-a-token-file": PREFIX + NOT_A_TOKEN,
    "trailing-slash": PREFIX + TOKEN + "/",
    "path-param": PREFIX + TOKEN + ";.txt",
    "encoded-token-char": PREFIX + TOKEN[:-1] + "%%%02X" % ord(TOKEN[-1]),
    "nul": PREFIX + TOKEN + "%00",
    "non-base64url": PREFIX + "tok+en/=",
    "unknown-token": PREFIX + "unknown_" + secrets.token_urlsafe(24),
    "symlink-in-store": PREFIX + LINK_TOKEN,
    "foreign-owner": PREFIX + FOREIGN_TOKEN,
    "fifo": PREFIX + FIFO_TOKEN,
    "directory": PREFIX + DIR_TOKEN,
    "oversized-file": PREFIX + BIG_TOKEN,
    "overlong-10k": PREFIX + "A" * 10240,
    "one-past-store-limit": PREFIX + "B" * (TOKEN_MAX + 1),
    "store-limit": PREFIX + "C" * TOKEN_MAX,
}


@pytest.mark.parametrize("name", sorted(HOSTILE_PATHS))
@pytest.mark.parametrize("https", [False, True], ids=["http", "https"])
def test_hostile_path_is_declined_and_reads_nothing_outside_the_store(server, name, https):
    r = get(server, HOSTILE_PATHS[name], https=https)
    # on the HTTPS twin the site's own handling is the gate's 503 until a certificate is live
    assert r.status in DECLINED + ((PENDING,) if https else ()), r
    assert KEYAUTH.encode() not in r.body
    if not https and r.status == 404:
        assert site_404(r), "the 404 did not come from the site: %r" % r


@pytest.mark.parametrize("name", [
    "overlong-10k", "store-limit", "non-base64url", "unknown-token", "encoded-dotdot", "dotdot",
    "encoded-slash", "empty-token",
    "one-past-store-limit",
])
def test_hostile_token_costs_no_log_line_of_ours(server, name):
    """Whatever a client sends, only a tampered store earns a log line, never a token's shape."""
    before = len(server.error_log())
    get(server, HOSTILE_PATHS[name])
    get(server, PREFIX + TOKEN)  # a request after it: its log lines are written by then
    new = server.error_log()[before:]
    assert not re.search(r"\[autotls:(emerg|alert|crit|error|warn)\]", new), new


# --- hosts: only managed ones are answered -------------------------------------------------------


@pytest.mark.parametrize("host", [
    UNMANAGED, "127.0.0.1", "127.0.0.1:{port}", "[::1]", "localhost", "autotls-hostile.org",
    "x." + ALPHA, ALPHA[1:], ALPHA + ".evil.example",
], ids=["unmanaged", "ip", "ip-port", "ipv6", "localhost", "parent-domain", "subdomain",
        "truncated", "suffix"])
def test_unmanaged_host_is_declined(server, host):
    r = get(server, PREFIX + TOKEN, host=host.format(port=server.http_port))
    assert r.status in DECLINED and KEYAUTH.encode() not in r.body, r


@pytest.mark.parametrize("host", [
    "", ALPHA + ":80:80", "user@" + ALPHA, ALPHA + "/x", ALPHA + " " + BETA,
    ALPHA + "," + BETA, "a" * 10240 + "." + ALPHA, ALPHA + "\t.x",
], ids=["empty", "two-ports", "userinfo", "slash", "space", "comma", "overlong", "tab"])
def test_malformed_host_is_declined(server, host):
    r = get(server, PREFIX + TOKEN, host=host)
    assert r.status in DECLINED and KEYAUTH.encode() not in r.body, r


def test_two_host_headers_are_declined(server):
    r = get(server, PREFIX + TOKEN, host=UNMANAGED, extra=("Host: %s\r\n" % ALPHA).encode())
    assert r.status in DECLINED and KEYAUTH.encode() not in r.body, r


def test_http11_without_host_is_refused_by_httpd(server):
    r = get(server, PREFIX + TOKEN, host=None)
    assert r.status == 400 and KEYAUTH.encode() not in r.body, r


def test_http10_without_host_is_declined_to_the_default_site(server):
    r = get(server, PREFIX + TOKEN, host=None, version="HTTP/1.0")
    assert site_404(r), r


def test_http09_style_request_gets_nothing(server):
    r = raw_request(server, ("GET %s%s\r\n" % (PREFIX, TOKEN)).encode())
    assert KEYAUTH.encode() not in r.raw, r


# --- methods: only GET and HEAD -----------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE",
                                    "PROPFIND", "BREW"])
def test_other_methods_never_get_the_key_authorization(server, method):
    extra = b"Content-Length: 0\r\n" if method in ("POST", "PUT", "PATCH") else b""
    r = get(server, PREFIX + TOKEN, method=method, extra=extra)
    assert KEYAUTH.encode() not in r.body, r
    if method not in ("OPTIONS", "TRACE"):
        assert r.status in DECLINED + (405, 501), r
    assert os.path.isfile(os.path.join(server.store, "challenges", TOKEN)), "it was deleted"
