# SPDX-License-Identifier: Apache-2.0
"""The `autotls` command-line tool against a real pebble: issue, show, revoke, exit codes.

The one idea to hold: every check looks at what the CLI really produced (files, modes, the chain
verified by `openssl verify` against this run's pebble root, pebble's own record of the serial,
the CA requests the CLI reports with -v), never at the CLI's word alone.
"""

import datetime
import functools
import http.server
import json
import os
import re
import socket
import statistics
import subprocess
import threading

import pytest

from pebble import LOOPBACK

CLI_TIMEOUT = 180  # seconds one CLI run may take before the test fails
ISSUE_TIMEOUT_ARG = "60"  # the CLI's own --timeout for one issuance
# Median CA requests for a one-name certificate with an existing account at pebble NOSLEEP: 8 when
# the first poll of the order and of the certificate each finds the CA done, one extra poll allowed.
MEDIAN_CA_REQUESTS_ONE_NAME = 9
COUNTED_ISSUANCES = 5

ISSUED_RE = re.compile(r"^issued (?P<site>\S+): names (?P<names>\S+);"
                       r" serial (?P<serial>[0-9A-Fa-f]+);"
                       r" expires (?P<expires>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ);"
                       r" CA requests (?P<requests>\d+)$")
REQUEST_RE = re.compile(r"^autotls: debug: http request (?P<n>\d+): (?P<method>[A-Z]+) (?P<url>\S+)"
                        r" -> (?P<status>\d+)$")
ACCOUNT_RE = re.compile(r"^autotls: account (?P<how>registered|reused) (?P<url>\S+)$")
REVOKED_RE = re.compile(r"^revoked (?P<site>\S+): serial (?P<serial>[0-9A-Fa-f]+)$")
PROXY_VARS = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


# --- helpers -----------------------------------------------------------------------------------


def run(cli, *args, timeout=CLI_TIMEOUT):
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARS}
    return subprocess.run([cli] + [str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout, env=env, stdin=subprocess.DEVNULL)


def explain(proc):
    return "exit %d\n--- stdout\n%s--- stderr\n%s" % (proc.returncode, proc.stdout, proc.stderr)


def issue(cli, env, store, names, *extra, standalone=True, expect=0):
    args = ["issue", "--ca", env.directory_url, "--ca-cert", env.ca_cert, "--store", store,
            "--timeout", ISSUE_TIMEOUT_ARG]
    if standalone:
        args += ["--standalone", "%s:%d" % (LOOPBACK, env.http01_port)]
    proc = run(cli, *(args + list(extra) + list(names)))
    if expect is not None:
        assert proc.returncode == expect, explain(proc)
    return proc


def issued_line(proc):
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, explain(proc)
    m = ISSUED_RE.match(lines[0])
    assert m, "unexpected issue output: %r" % lines[0]
    return m


def requests_of(proc):
    return [m for m in map(REQUEST_RE.match, proc.stderr.splitlines()) if m]


def account_of(proc):
    found = [m for m in map(ACCOUNT_RE.match, proc.stderr.splitlines()) if m]
    assert len(found) == 1, explain(proc)
    return found[0].group("how"), found[0].group("url")


def norm_serial(text):
    return text.replace(":", "").strip().upper().lstrip("0")


def openssl(*args, input=None):
    proc = subprocess.run(["openssl"] + list(args), capture_output=True, text=True, input=input)
    return proc


def split_pem(text):
    return re.findall(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n?", text,
                      re.S)


def leaf_sans(leaf_pem):
    out = openssl("x509", "-noout", "-ext", "subjectAltName", input=leaf_pem).stdout
    return sorted(re.findall(r"DNS:([^,\s]+)", out))


def leaf_serial(leaf_pem):
    out = openssl("x509", "-noout", "-serial", input=leaf_pem).stdout
    return norm_serial(out.split("=", 1)[1])


def leaf_not_after(leaf_pem):
    out = openssl("x509", "-noout", "-enddate", input=leaf_pem).stdout.split("=", 1)[1].strip()
    return datetime.datetime.strptime(out, "%b %d %H:%M:%S %Y GMT")


def issuer_cn(leaf_pem):
    out = openssl("x509", "-noout", "-issuer", "-nameopt", "RFC2253", input=leaf_pem).stdout
    m = re.search(r"CN=([^,\n]+)", out)
    assert m, out
    return m.group(1).strip()


def live_dir(store, site):
    return os.path.join(store, "live", site)


def read_chain(store, site):
    with open(os.path.join(live_dir(store, site), "fullchain.pem")) as f:
        return split_pem(f.read())


def assert_chain_verifies(tmp_path, env, chain):
    assert len(chain) >= 2, "fullchain.pem holds %d certificates" % len(chain)
    (tmp_path / "root.pem").write_text(env.roots_pem())
    (tmp_path / "leaf.pem").write_text(chain[0])
    (tmp_path / "untrusted.pem").write_text("".join(chain[1:]))
    proc = openssl("verify", "-CAfile", str(tmp_path / "root.pem"), "-untrusted",
                   str(tmp_path / "untrusted.pem"), "-purpose", "sslserver",
                   str(tmp_path / "leaf.pem"))
    assert proc.returncode == 0 and proc.stdout.strip().endswith(": OK"), proc.stdout + proc.stderr


def assert_issued(tmp_path, env, store, names, proc):
    """Everything a successful issue must leave behind, checked from the outside."""
    m = issued_line(proc)
    site = names[0]
    assert m.group("site") == site
    assert m.group("names").split(",") == list(names)
    d = live_dir(store, site)
    assert os.stat(os.path.join(d, "privkey.pem")).st_mode & 0o777 == 0o600
    chain = read_chain(store, site)
    assert_chain_verifies(tmp_path, env, chain)
    assert leaf_sans(chain[0]) == sorted(names)
    assert norm_serial(m.group("serial")) == leaf_serial(chain[0])
    expires = datetime.datetime.strptime(m.group("expires"), "%Y-%m-%dT%H:%M:%SZ")
    assert expires == leaf_not_after(chain[0])
    key_check = openssl("pkey", "-in", os.path.join(d, "privkey.pem"), "-pubout")
    leaf_key = openssl("x509", "-noout", "-pubkey", input=chain[0])
    assert key_check.returncode == 0 and key_check.stdout == leaf_key.stdout, "key does not match"
    with open(os.path.join(d, "meta.json")) as f:
        meta = json.load(f)
    assert isinstance(meta, dict) and env.directory_url in json.dumps(meta)
    return m


class WebrootServer:
    """A Python http.server thread serving a directory on 127.0.0.1:port, recording the paths
    asked for (paths) and, for each, the served file's (path, mode, uid) as found (served)."""

    def __init__(self, root, port):
        self.paths = []
        self.served = []
        paths, served, top = self.paths, self.served, str(root)

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):
                paths.append(self.path)
                try:
                    st = os.lstat(os.path.join(top, self.path.lstrip("/")))
                    served.append((self.path, st.st_mode, st.st_uid))
                except OSError:
                    served.append((self.path, None, None))
                super().do_GET()

            def log_message(self, *args):
                pass

        handler = functools.partial(Handler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer((LOOPBACK, port), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


# --- issuance ------------------------------------------------------------------------------------


def test_one_name_certificate_issued_standalone(autotls_cli, pebble, tmp_path):
    store = str(tmp_path / "store")
    proc = issue(autotls_cli, pebble, store, ["one.test"])
    m = assert_issued(tmp_path, pebble, store, ["one.test"], proc)
    assert pebble.cert_status(m.group("serial"))["Status"] == "Valid"


def test_three_name_certificate_covers_all_names(autotls_cli, pebble, tmp_path):
    store = str(tmp_path / "store")
    names = ["a.test", "b.test", "c.test"]
    proc = issue(autotls_cli, pebble, store, names, "--contact", "admin@example.test")
    assert_issued(tmp_path, pebble, store, names, proc)
    assert sorted(os.listdir(os.path.join(store, "live"))) == ["a.test"]


@pytest.mark.parametrize("key_type,openssl_words", [
    ("ec384", ["NIST CURVE: P-384", "secp384r1"]),
    ("rsa2048", ["Private-Key: (2048 bit"]),
])
def test_key_type_gives_that_key(autotls_cli, pebble, tmp_path, key_type, openssl_words):
    store = str(tmp_path / "store")
    site = "%s.keytype.test" % key_type
    proc = issue(autotls_cli, pebble, store, [site], "--key-type", key_type)
    assert_issued(tmp_path, pebble, store, [site], proc)
    text = openssl("pkey", "-noout", "-text", "-in",
                   os.path.join(live_dir(store, site), "privkey.pem")).stdout
    assert any(word in text for word in openssl_words), text[:200]


def test_second_issue_reuses_the_account(autotls_cli, pebble, tmp_path):
    store = str(tmp_path / "store")
    new_account = pebble.directory()["newAccount"]
    first = issue(autotls_cli, pebble, store, ["first.reuse.test"], "-v")
    how, url = account_of(first)
    assert how == "registered" and url.startswith("https://127.0.0.1:")
    assert any(r.group("method") == "POST" and r.group("url") == new_account
               for r in requests_of(first)), "first run never POSTed to newAccount"
    second = issue(autotls_cli, pebble, store, ["second.reuse.test"], "-v")
    assert account_of(second) == ("reused", url)
    posts = [r.group(0) for r in requests_of(second)
             if r.group("method") == "POST" and r.group("url") == new_account]
    assert posts == [], "account reuse still POSTed to newAccount: %s" % posts
    assert_issued(tmp_path, pebble, store, ["second.reuse.test"], second)


def test_issue_succeeds_at_default_nonce_rejection(autotls_cli, pebble, tmp_path):
    """pebble rejects 5% of good nonces by default: several issuances in a row must all pass."""
    store = str(tmp_path / "store")
    for i in range(4):
        name = "n%d.default-nonce.test" % i
        proc = issue(autotls_cli, pebble, store, [name])
        assert issued_line(proc).group("site") == name


def test_ca_request_count_for_one_name_with_existing_account(autotls_cli, pebble_factory,
                                                             tmp_path):
    """Polling early costs requests: the median over several certificates stays at the target."""
    env = pebble_factory(nonce_reject=0, authz_reuse=0)
    store = str(tmp_path / "store")
    issue(autotls_cli, env, store, ["warmup.count.test"])
    counts, logs = [], []
    for i in range(COUNTED_ISSUANCES):
        proc = issue(autotls_cli, env, store, ["counted%d.count.test" % i], "-v")
        assert account_of(proc)[0] == "reused"
        reqs = requests_of(proc)
        numbers = [int(r.group("n")) for r in reqs]
        assert numbers == list(range(1, len(reqs) + 1)), "request lines not numbered 1..N"
        printed = int(issued_line(proc).group("requests"))
        assert printed == len(reqs), "printed %d, logged %d" % (printed, len(reqs))
        assert all(r.group("url").startswith("https://127.0.0.1:%d/" % env.acme_port)
                   for r in reqs)
        counts.append(len(reqs))
        logs.append("\n".join(r.group(0) for r in reqs))
    assert statistics.median(counts) <= MEDIAN_CA_REQUESTS_ONE_NAME, \
        "requests per certificate %s\n%s" % (counts, "\n--\n".join(logs))


def test_issue_succeeds_at_half_nonces_rejected(autotls_cli, pebble_factory, tmp_path):
    env = pebble_factory(nonce_reject=50)
    store = str(tmp_path / "store")
    proc = issue(autotls_cli, env, store, ["x.badnonce.test", "y.badnonce.test"], "-v")
    assert_issued(tmp_path, env, store, ["x.badnonce.test", "y.badnonce.test"], proc)
    statuses = [r.group("status") for r in requests_of(proc)]
    assert "400" in statuses, "pebble rejected no nonce at 50%%? %s" % statuses


def test_unreachable_name_fails_with_exit_1_naming_it(autotls_cli, pebble, tmp_path):
    name = "unreachable.test"
    pebble.set_a(name, "127.0.0.2")  # nothing listens on 127.0.0.2:<http01 port>
    try:
        proc = issue(autotls_cli, pebble, str(tmp_path / "store"), [name], expect=1)
    finally:
        pebble.clear_a(name)
    lines = [line for line in proc.stderr.splitlines()
             if name in line and ("acme:error" in line or "connection" in line.lower())]
    assert lines, "no stderr line names %s and the CA's problem\n%s" % (name, explain(proc))
    assert not os.path.exists(live_dir(str(tmp_path / "store"), name))


def test_webroot_issuance_via_external_server(autotls_cli, pebble, tmp_path):
    store = str(tmp_path / "store")
    webroot = tmp_path / "www"
    webroot.mkdir()
    name = "webroot.test"
    with WebrootServer(webroot, pebble.http01_port) as server:
        proc = issue(autotls_cli, pebble, store, [name], "--webroot", str(webroot),
                     standalone=False)
    assert_issued(tmp_path, pebble, store, [name], proc)
    assert any(p.startswith("/.well-known/acme-challenge/") for p in server.paths), server.paths
    challenge_dir = webroot / ".well-known" / "acme-challenge"
    left = os.listdir(challenge_dir) if challenge_dir.exists() else []
    assert left == [], "challenge files left behind: %s" % left


def test_eab_account_registers_with_kid_and_key(autotls_cli, pebble_factory, tmp_path):
    kid, key = "kid-1", "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
    env = pebble_factory(eab_keys={kid: key})
    without = issue(autotls_cli, env, str(tmp_path / "plain"), ["noeab.test"], expect=None)
    # the CA's refusal (1) or the CLI's own check of the directory's meta (3): both say why
    assert without.returncode in (1, 3), explain(without)
    reason = without.stderr.lower()
    assert "external account" in reason or "externalaccount" in reason, explain(without)
    assert not os.path.exists(live_dir(str(tmp_path / "plain"), "noeab.test"))
    store = str(tmp_path / "store")
    key_file = tmp_path / "eab.key"
    key_file.write_text(key + "\n")
    key_file.chmod(0o600)
    proc = issue(autotls_cli, env, store, ["eab.test"], "--eab-kid", kid, "--eab-hmac-file",
                 str(key_file))
    assert_issued(tmp_path, env, store, ["eab.test"], proc)


def test_eab_key_on_the_command_line_or_in_a_readable_file_is_refused(autotls_cli, tmp_path):
    """The MAC key opens an account at the CA: never in /proc/PID/cmdline, never in a file that
    others can read."""
    key = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
    common = ["issue", "--ca", "https://127.0.0.1:1/dir", "--store", str(tmp_path / "S"),
              "--standalone", "127.0.0.1:1", "--eab-kid", "k"]
    proc = run(autotls_cli, *common, "--eab-hmac", key, "x.test", timeout=30)
    assert proc.returncode == 2, explain(proc)
    assert "/proc" in proc.stderr and "--eab-hmac-file" in proc.stderr, explain(proc)
    key_file = tmp_path / "eab.key"
    key_file.write_text(key)
    for mode in (0o644, 0o640, 0o604):
        key_file.chmod(mode)
        proc = run(autotls_cli, *common, "--eab-hmac-file", str(key_file), "x.test", timeout=30)
        assert proc.returncode == 2, explain(proc)
        assert str(key_file) in proc.stderr and "%04o" % mode in proc.stderr, explain(proc)
    assert not (tmp_path / "S").exists(), "a refused key touched the store"


# --- show ----------------------------------------------------------------------------------------


def test_show_prints_site_issuer_serial(autotls_cli, pebble, tmp_path):
    store = str(tmp_path / "store")
    names = ["show.test", "www.show.test"]
    serial = norm_serial(issued_line(issue(autotls_cli, pebble, store, names)).group("serial"))
    leaf = read_chain(store, "show.test")[0]
    proc = run(autotls_cli, "show", "--store", store)
    assert proc.returncode == 0, explain(proc)
    out = proc.stdout
    assert "show.test" in out and "www.show.test" in out
    assert issuer_cn(leaf) in out
    hexes = {norm_serial(h) for h in re.findall(r"[0-9A-Fa-f:]{8,}", out)}
    assert serial in hexes, out
    assert "ec256" in out


def test_show_json_lists_every_live_certificate(autotls_cli, pebble, tmp_path):
    store = str(tmp_path / "store")
    issue(autotls_cli, pebble, store, ["j1.test"])
    issue(autotls_cli, pebble, store, ["j2.test", "alias.j2.test"], "--key-type", "rsa2048")
    proc = run(autotls_cli, "show", "--store", store, "--json")
    assert proc.returncode == 0, explain(proc)
    entries = {e["site"]: e for e in json.loads(proc.stdout)}
    assert sorted(entries) == ["j1.test", "j2.test"]
    for site, names, key_type in (("j1.test", ["j1.test"], "ec256"),
                                  ("j2.test", ["j2.test", "alias.j2.test"], "rsa2048")):
        e = entries[site]
        assert set(e) >= {"site", "names", "issuer", "serial", "not_after", "key_type"}
        leaf = read_chain(store, site)[0]
        assert sorted(e["names"]) == sorted(names)
        assert issuer_cn(leaf) in e["issuer"]
        assert norm_serial(e["serial"]) == leaf_serial(leaf)
        assert e["key_type"] == key_type
        not_after = datetime.datetime.strptime(e["not_after"], "%Y-%m-%dT%H:%M:%SZ")
        assert not_after == leaf_not_after(leaf)


def test_show_without_store_lists_the_default_store(autotls_cli, pebble, default_store_dir):
    """Without --store the CLI reads the store the module uses without AutoTLSStore (here the
    test's own, through AUTOTLS_STORE_DIR; /var/lib/apache2/autotls on a real server)."""
    issue(autotls_cli, pebble, default_store_dir, ["default.test"])
    proc = run(autotls_cli, "show", "--json")
    assert proc.returncode == 0, explain(proc)
    assert [e["site"] for e in json.loads(proc.stdout)] == ["default.test"]


def test_show_json_of_empty_store_is_empty_array(autotls_cli, tmp_path):
    proc = run(autotls_cli, "show", "--store", str(tmp_path / "empty"), "--json")
    assert proc.returncode == 0, explain(proc)
    assert json.loads(proc.stdout) == []


# --- revoke --------------------------------------------------------------------------------------


def test_revoke_marks_the_serial_revoked_at_the_ca(autotls_cli, pebble, tmp_path):
    store = str(tmp_path / "store")
    serial = issued_line(issue(autotls_cli, pebble, store, ["revoke.test"])).group("serial")
    assert pebble.cert_status(serial)["Status"] == "Valid"
    proc = run(autotls_cli, "revoke", "--store", store, "--ca-cert", pebble.ca_cert,
               "--reason", "4", "revoke.test")
    assert proc.returncode == 0, explain(proc)
    m = REVOKED_RE.match(proc.stdout.strip())
    assert m and m.group("site") == "revoke.test", explain(proc)
    assert norm_serial(m.group("serial")) == norm_serial(serial)
    status = pebble.cert_status(serial)
    assert status["Status"] == "Revoked"
    assert status.get("Reason") == 4


def test_revoke_unknown_site_exits_3(autotls_cli, tmp_path):
    proc = run(autotls_cli, "revoke", "--store", str(tmp_path / "store"), "nosuch.test")
    assert proc.returncode == 3, explain(proc)
    assert "nosuch.test" in proc.stderr


# --- usage and local errors ----------------------------------------------------------------------


@pytest.mark.parametrize("command", [[], ["issue"], ["show"], ["revoke"]])
def test_help_prints_usage_and_exits_0(autotls_cli, command):
    proc = run(autotls_cli, *(command + ["--help"]))
    assert proc.returncode == 0, explain(proc)
    assert "usage" in proc.stdout.lower()
    if command:
        assert command[0] in proc.stdout


USAGE_ERRORS = {
    "no_command": [],
    "unknown_command": ["frobnicate"],
    "issue_without_store": ["issue", "--ca", "https://127.0.0.1:1/dir", "--standalone",
                            "127.0.0.1:1", "x.test"],
    "issue_without_names": ["issue", "--ca", "https://127.0.0.1:1/dir", "--store", "S",
                            "--standalone", "127.0.0.1:1"],
    "issue_without_ca": ["issue", "--store", "S", "--standalone", "127.0.0.1:1", "x.test"],
    "issue_without_responder": ["issue", "--ca", "https://127.0.0.1:1/dir", "--store", "S",
                                "x.test"],
    "issue_with_two_responders": ["issue", "--ca", "https://127.0.0.1:1/dir", "--store", "S",
                                  "--standalone", "127.0.0.1:1", "--webroot", "W", "x.test"],
    "issue_bad_key_type": ["issue", "--ca", "https://127.0.0.1:1/dir", "--store", "S",
                           "--standalone", "127.0.0.1:1", "--key-type", "dsa512", "x.test"],
    "issue_eab_kid_without_key": ["issue", "--ca", "https://127.0.0.1:1/dir", "--store", "S",
                                  "--standalone", "127.0.0.1:1", "--eab-kid", "k", "x.test"],
    "issue_bad_standalone_address": ["issue", "--ca", "https://127.0.0.1:1/dir", "--store", "S",
                                     "--standalone", "nocolon", "x.test"],
    "issue_bad_timeout": ["issue", "--ca", "https://127.0.0.1:1/dir", "--store", "S",
                          "--standalone", "127.0.0.1:1", "--timeout", "soon", "x.test"],
    "issue_unknown_option": ["issue", "--frob", "--ca", "https://127.0.0.1:1/dir", "--store", "S",
                             "--standalone", "127.0.0.1:1", "x.test"],
    "revoke_without_name": ["revoke", "--store", "S"],
    "revoke_bad_reason": ["revoke", "--store", "S", "--reason", "many", "x.test"],
}


@pytest.mark.parametrize("args", list(USAGE_ERRORS.values()), ids=list(USAGE_ERRORS))
def test_usage_error_exits_2(autotls_cli, tmp_path, args):
    args = [str(tmp_path / a) if a in ("S", "W") else a for a in args]
    proc = run(autotls_cli, *args, timeout=30)
    assert proc.returncode == 2, explain(proc)
    assert proc.stderr.strip(), "usage error without a message"
    assert not (tmp_path / "S").exists(), "a usage error touched the store"


# The module's name rule (at_name.h), applied by the CLI before anything is touched.
INELIGIBLE = {
    "wildcard": ("*.cli.test", "is a wildcard"),
    # an IP address is a NAME (RFC 8738), in its canonical text only
    "ip_address_not_canonical": ("2001:db8:0::1", "is an IP address not in its canonical form"),
    "localhost": ("app.localhost", "is localhost"),
    "single_label": ("intranet", "is a single label"),
    "bad_character": ("under_score.test", "is not a valid host name"),
}


@pytest.mark.parametrize("command", ["issue", "renew", "revoke"])
@pytest.mark.parametrize("name,why", list(INELIGIBLE.values()), ids=list(INELIGIBLE))
def test_ineligible_name_exits_2_with_its_reason(autotls_cli, tmp_path, command, name, why):
    store = tmp_path / "S"
    if command == "issue":
        args = ["issue", "--ca", "https://127.0.0.1:1/dir", "--store", str(store),
                "--standalone", "127.0.0.1:1", "www.cli.test", name]
    else:
        args = [command, "--store", str(store), name]
    proc = run(autotls_cli, *args, timeout=30)
    assert proc.returncode == 2, explain(proc)
    assert '"%s" %s' % (name, why) in proc.stderr, explain(proc)
    assert not store.exists(), "a refused name touched the store"


def test_store_that_is_a_file_exits_3(autotls_cli, tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    proc = run(autotls_cli, "show", "--store", str(not_a_dir))
    assert proc.returncode == 3, explain(proc)
    assert str(not_a_dir) in proc.stderr


def test_standalone_port_in_use_exits_3(autotls_cli, pebble, tmp_path):
    with socket.socket() as busy:
        # earlier tests' connections may linger in TIME_WAIT on this port
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind((LOOPBACK, pebble.http01_port))
        busy.listen(1)
        proc = issue(autotls_cli, pebble, str(tmp_path / "store"), ["busy.test"], expect=3)
    assert str(pebble.http01_port) in proc.stderr
