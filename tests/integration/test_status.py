# SPDX-License-Identifier: Apache-2.0
"""Operators see every site's state (issue 11, items 1, 2, 3, 5): status page, metrics,
server-status section and `autotls status`.

The one idea to hold: what the pages say is checked against what a client sees. Sites get
certificates from a real pebble; the serial, issuer and notAfter the status JSON and the metrics
report for a site are compared with the certificate read from a TLS handshake with its SNI. One
site (fail.test) resolves where nothing listens, so pebble's VA cannot validate it: it must show
as failing, with pebble's own problem type. States pebble cannot make quickly (an expired
certificate, a site pending for a day, a damaged snapshot) are written by the test into a store
of its own, or over the snapshot for a moment, the way a damaged or hostile file would look.
"""

import calendar
import json
import os
import pwd
import re
import shutil
import ssl
import subprocess
import tempfile
import time

import pytest

import autotls_server
import httpd
from autotls_server import ACME_USER, AutoTLSServer, Site, skip_unless_runnable

MODULE = skip_unless_runnable()

ISSUER = "Pebble"
DEAD_ADDRESS = "127.0.0.9"  # loopback too, but nothing listens there
CONNECTION_PROBLEM = "urn:ietf:params:acme:error:connection"
SERVED_SECONDS = 40.0
FAILING_SECONDS = 40.0
CLI_TIMEOUT = 30.0
POLL = 0.2
STATUS_PATH = "/autotls-status"
METRICS_PATH = "/autotls-metrics"
SERVER_STATUS_PATH = "/server-status"
MONITOR = "monitor.test"  # an unmanaged vhost the admin exposes the pages on

# fail.test tries http-01 only: with tls-alpn-01 after it (the default) the status would show
# pebble's problem for the second challenge, which pebble types "unauthorized" (test_tls_alpn.py)
SITES = [Site("a.test"), Site("b.test", aliases=("www.b.test",)),
         Site("fail.test", directives="AutoTLSChallenge http-01\n"),
         Site(MONITOR, autotls=False, directives="""
<Location %s>
    SetHandler autotls-status
    Require ip 127.0.0.1
</Location>
<Location %s>
    SetHandler autotls-metrics
    Require ip 127.0.0.1
</Location>
<Location %s>
    SetHandler server-status
    Require ip 127.0.0.1
</Location>
""" % (STATUS_PATH, METRICS_PATH, SERVER_STATUS_PATH))]
VALID = ("a.test", "b.test")
EXTRA = "\n".join("LoadModule %s_module %s" % (m, httpd.MODULES_DIR / ("mod_%s.so" % m))
                  for m in ("status", "authz_host"))

EXIT_OK, EXIT_WARNING, EXIT_CRITICAL, EXIT_UNKNOWN = 0, 1, 2, 3


def get(server, path, headers=None, method="GET"):
    status, hdrs, body = server.http_get(MONITOR, path, headers=headers, method=method)
    return status, hdrs, body.decode("utf-8", "replace")


def status_json(server):
    status, hdrs, body = get(server, STATUS_PATH)
    assert status == 200, (status, body, server.log_tail())
    assert hdrs["Content-Type"] == "application/json", hdrs["Content-Type"]
    return json.loads(body)


def by_site(doc):
    return {s["site"]: s for s in doc["sites"]}


def epoch(rfc3339):
    return calendar.timegm(time.strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ"))


# A small parser of the text exposition format (0.0.4): families with HELP/TYPE, samples.
SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)')


def unescape(value):
    return re.sub(r'\\(.)', lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def parse_metrics(text):
    """{name: {"help": str, "type": str, "samples": [(labels dict, float)]}}; asserts the
    grammar: HELP and TYPE once per family, before its samples."""
    families = {}
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            kind, name, rest = line[2:6].lower(), *line[7:].split(" ", 1)
            fam = families.setdefault(name, {"samples": []})
            assert kind not in fam, "second %s line for %s" % (kind, name)
            assert not fam["samples"], "%s line after samples of %s" % (kind, name)
            fam[kind] = rest
            continue
        m = SAMPLE_RE.match(line)
        assert m, "not a sample line: %r" % line
        name, labels_text, value = m.groups()
        labels, pos = {}, 0
        while labels_text and pos < len(labels_text):
            lm = LABEL_RE.match(labels_text, pos)
            assert lm, "bad labels in %r" % line
            labels[lm.group(1)] = unescape(lm.group(2))
            pos = lm.end()
        assert name in families and "type" in families[name], "no TYPE before %s" % name
        families[name]["samples"].append((labels, float(value)))
    return families


def sample(families, name, **labels):
    found = [v for lab, v in families[name]["samples"] if lab == labels]
    assert len(found) == 1, (name, labels, families.get(name))
    return found[0]


def run_status(cli, store, *args):
    return subprocess.run([cli, "status", "--store", store] + list(args), capture_output=True,
                          text=True, timeout=CLI_TIMEOUT)


@pytest.fixture(scope="module")
def world(pebble):
    """A running server with two valid sites and one failing, once its pages say so."""
    pebble.set_a("fail.test", DEAD_ADDRESS)
    server = AutoTLSServer(SITES, pebble=pebble, extra=EXTRA)
    with server:
        server.start()
        served = {name: server.wait_until_served(name, ISSUER, SERVED_SECONDS) for name in VALID}
        deadline = time.monotonic() + FAILING_SECONDS
        while True:
            status, _, body = get(server, STATUS_PATH)
            sites = by_site(json.loads(body)) if status == 200 else {}
            doc = body
            if (all(sites.get(n, {}).get("state") == "valid" for n in VALID)
                    and sites.get("fail.test", {}).get("state") == "failing"):
                break
            assert time.monotonic() < deadline, (doc, server.log_tail())
            time.sleep(POLL)
        yield server, served
    pebble.clear_a("fail.test")


def test_status_json_lists_each_site_with_the_certificate_actually_served(world):
    server, served = world
    doc = status_json(server)
    sites = by_site(doc)
    assert doc["format"] == 1 and doc["ca"] and doc["version"]
    assert doc["account"].startswith("https://"), doc["account"]
    assert doc["counters"]["orders_total"]["issued"] >= 2, doc["counters"]
    assert doc["counters"]["orders_total"]["failed"] >= 1, doc["counters"]
    assert doc["counters"]["ca_requests_total"] > 0
    assert set(sites) == {"a.test", "b.test", "fail.test"}, set(sites)  # monitor.test: off
    for name in VALID:
        s, cert = sites[name], served[name]
        now = server.served_cert(name)  # still the same one
        assert now.serial == cert.serial
        assert s["state"] == "valid" and s["has_cert"], s
        assert s["serial"].lstrip("0") == cert.serial, (s["serial"], cert.serial)
        assert cert.issuer.endswith("CN = " + s["issuer"]), (s["issuer"], cert.issuer)
        assert epoch(s["not_after"]) == ssl.cert_time_to_seconds(cert.not_after), s
        assert s["names"] == list(next(x for x in SITES if x.name == name).names)
        assert s["failures"] == 0 and s["last_error"] is None, s
        assert s["next_renewal_reason"] in ("ari", "lifetime"), s
        assert epoch(s["next_renewal"]) < epoch(s["not_after"]), s
    fail = sites["fail.test"]
    assert fail["state"] == "failing" and not fail["has_cert"], fail
    assert fail["failures"] >= 1
    assert fail["last_error"]["type"] == CONNECTION_PROBLEM, fail["last_error"]
    assert DEAD_ADDRESS in fail["last_error"]["detail"], fail["last_error"]
    assert fail["next_renewal_reason"] == "backoff" and fail["next_renewal"], fail
    assert fail["pending_since"], fail


def test_status_answers_get_and_head_only(world):
    server, _ = world
    status, hdrs, body = get(server, STATUS_PATH, method="HEAD")
    assert status == 200 and body == "" and hdrs["Content-Type"] == "application/json"
    status, hdrs, _ = get(server, STATUS_PATH, method="POST")
    assert status == 405, status


def test_status_html_for_a_browser_lists_failing_sites_first(world):
    server, served = world
    for how in ({"path": STATUS_PATH + "?html"},
                {"path": STATUS_PATH, "headers": {"Accept": "text/html,application/xhtml+xml"}}):
        status, hdrs, body = get(server, how["path"], headers=how.get("headers"))
        assert status == 200 and hdrs["Content-Type"].startswith("text/html"), (status, hdrs)
        assert body.index("fail.test") < body.index("a.test") < body.index("b.test"), body
        assert served["a.test"].serial in body.upper()
        assert "urn:ietf:params:acme:error:connection" in body


def written_by_acme(path, text):
    """Replaces the snapshot the way its owner would (temp file, rename, ACME account, 0644)."""
    acme = pwd.getpwnam(ACME_USER)
    tmp = path + ".test"
    with open(tmp, "w") as f:
        f.write(text)
    os.chown(tmp, acme.pw_uid, acme.pw_gid)
    os.chmod(tmp, 0o644)
    os.rename(tmp, path)


def test_html_escapes_and_a_bad_snapshot_is_a_clear_503(world):
    server, _ = world
    path = os.path.join(server.store, "status", "snapshot.json")
    with open(path) as f:
        original = f.read()
    doc = json.loads(original)
    evil = "<script>alert(1)</script>&\"'"
    doc["sites"][0]["last_error"] = {"type": evil, "detail": evil, "time": "2030-01-01T00:00:00Z"}
    doc["sites"][0]["issuer"] = evil
    try:
        written_by_acme(path, json.dumps(doc))
        status, _, body = get(server, STATUS_PATH + "?html")
        assert status == 200, body
        assert "<script>" not in body and "&lt;script&gt;" in body, body
        written_by_acme(path, '{"format": 1, "sites": [')  # torn or damaged
        status, hdrs, body = get(server, STATUS_PATH)
        assert status == 503 and "cannot be read" in body, (status, body)
        status, _, _ = get(server, METRICS_PATH)
        assert status == 503
        assert "autotls-0710" in server.error_log()
        # the server itself is unharmed: sites are served, the next snapshot reads again
        assert server.served_cert("a.test").serial
    finally:
        written_by_acme(path, original)
    assert status_json(server)["format"] == 1


def test_metrics_match_the_served_certificates_and_pass_promtool(world):
    server, served = world
    status, hdrs, body = get(server, METRICS_PATH)
    assert status == 200
    assert hdrs["Content-Type"].startswith("text/plain; version=0.0.4"), hdrs["Content-Type"]
    fams = parse_metrics(body)
    for name in ("autotls_certificate_expiry_timestamp_seconds", "autotls_certificate_valid",
                 "autotls_next_renewal_timestamp_seconds", "autotls_renewal_failures",
                 "autotls_orders_total", "autotls_ca_requests_total", "autotls_sites"):
        assert fams[name]["help"] and fams[name]["type"], name
    assert fams["autotls_orders_total"]["type"] == "counter"
    for name in VALID:
        cert = served[name]
        assert sample(fams, "autotls_certificate_expiry_timestamp_seconds", site=name) == \
            ssl.cert_time_to_seconds(cert.not_after)
        assert sample(fams, "autotls_certificate_valid", site=name) == 1
        assert sample(fams, "autotls_renewal_failures", site=name) == 0
    assert sample(fams, "autotls_certificate_valid", site="fail.test") == 0
    assert sample(fams, "autotls_renewal_failures", site="fail.test") >= 1
    assert sample(fams, "autotls_sites", state="valid") == 2
    assert sample(fams, "autotls_sites", state="failing") == 1
    assert sample(fams, "autotls_orders_total", result="issued") >= 2
    assert sample(fams, "autotls_ca_requests_total") > 0
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is missing: scripts/bootstrap.sh installs Debian's prometheus")
    proc = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True,
                          text=True, timeout=CLI_TIMEOUT)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_server_status_has_an_autotls_section_also_in_auto(world):
    server, _ = world
    status, _, body = get(server, SERVER_STATUS_PATH)
    assert status == 200 and "<h2>AutoTLS</h2>" in body, body[-2000:]
    assert "2 valid" in body and "1 failing" in body, body
    status, _, body = get(server, SERVER_STATUS_PATH + "?auto")
    assert status == 200
    lines = dict(line.split(": ", 1) for line in body.splitlines() if ": " in line)
    assert lines["AutoTLSSitesValid"] == "2", body
    assert lines["AutoTLSSitesFailing"] == "1", body
    assert lines["AutoTLSSitesExpired"] == "0", body
    assert "fail.test" in lines["AutoTLSLastFailure"], body
    assert CONNECTION_PROBLEM in lines["AutoTLSLastFailure"], body
    assert "AutoTLSNextRenewal" in lines


def test_cli_status_warns_about_the_failing_site_and_show_exits_0(world, autotls_cli):
    server, _ = world
    proc = run_status(autotls_cli, server.store)
    assert proc.returncode == EXIT_WARNING, proc.stdout + proc.stderr
    first = proc.stdout.splitlines()[0]
    assert first.startswith("AUTOTLS WARNING - 3 site(s)"), first
    assert re.search(r"^WARNING fail\.test: failing;.*%s" % CONNECTION_PROBLEM, proc.stdout,
                     re.M), proc.stdout
    proc = run_status(autotls_cli, server.store, "--json")
    doc = json.loads(proc.stdout)
    assert doc["exit_code"] == EXIT_WARNING and doc["level"] == "WARNING"
    assert by_site(doc)["a.test"]["level"] == "OK"
    # `show` lists the pending fail.test and no longer fails because of it
    proc = subprocess.run([autotls_cli, "show", "--store", server.store], capture_output=True,
                          text=True, timeout=CLI_TIMEOUT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "fail.test\n  pending" in proc.stdout, proc.stdout


@pytest.fixture
def crafted(world):
    """A store of the test's own holding a copy of the server's snapshot, to alter."""
    server, _ = world
    with open(os.path.join(server.store, "status", "snapshot.json")) as f:
        doc = json.loads(f.read())
    root = tempfile.mkdtemp(prefix="autotls-status-")
    os.makedirs(os.path.join(root, "status"))

    def write(d):
        path = os.path.join(root, "status", "snapshot.json")
        with open(path, "w") as f:
            f.write(json.dumps(d) if not isinstance(d, str) else d)
        os.chmod(path, 0o644)
        return root
    yield doc, write, server
    shutil.rmtree(root)


def test_cli_status_names_the_ca_of_a_site_that_failed_over(crafted, autotls_cli):
    """Every entry has `ca`, the CA its next order goes to (AutoTLSCA, in failover order); the
    CLI names it only for a site that is not on the first CA."""
    doc, write, server = crafted
    sites = by_site(doc)
    assert all(s["ca"] == doc["ca"] for s in doc["sites"]), doc["sites"]
    proc = run_status(autotls_cli, write(doc))
    assert " on CA " not in proc.stdout, proc.stdout
    second = "https://ca2.example/dir"
    doc["sites"] = [sites["a.test"], dict(sites["b.test"], ca=second)]
    proc = run_status(autotls_cli, write(doc))
    line = next(l for l in proc.stdout.splitlines() if " b.test: " in l)
    assert "; on CA %s" % second in line, proc.stdout
    assert " on CA " not in next(l for l in proc.stdout.splitlines() if " a.test: " in l)


def test_cli_status_exit_codes_for_each_level(crafted, autotls_cli):
    doc, write, server = crafted
    sites = by_site(doc)
    doc["sites"] = [sites["a.test"], sites["b.test"]]
    root = write(doc)
    proc = run_status(autotls_cli, root)
    assert proc.returncode == EXIT_OK, proc.stdout + proc.stderr
    assert proc.stdout.startswith("AUTOTLS OK - 2 site(s): 2 valid"), proc.stdout
    # root also sees a live certificate the server no longer manages: orphaned, a warning
    shutil.copytree(os.path.join(server.store, "live", "a.test"),
                    os.path.join(root, "live", "gone.test"))
    os.chmod(os.path.join(root, "live"), 0o700)
    proc = run_status(autotls_cli, root)
    assert proc.returncode == EXIT_WARNING, proc.stdout + proc.stderr
    assert "WARNING gone.test: orphaned" in proc.stdout, proc.stdout
    shutil.rmtree(os.path.join(root, "live"))
    # pending for two hours: a warning
    pending = dict(sites["fail.test"], state="pending", failures=0, last_error=None,
                   pending_since=time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                               time.gmtime(time.time() - 7200)))
    doc["sites"] = [sites["a.test"], pending]
    assert run_status(autotls_cli, write(doc)).returncode == EXIT_WARNING
    # without a certificate for two days: critical
    pending["pending_since"] = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                             time.gmtime(time.time() - 2 * 86400))
    proc = run_status(autotls_cli, write(doc))
    assert proc.returncode == EXIT_CRITICAL, proc.stdout
    # an expired certificate (the snapshot said valid: the check sees the time): critical
    expired = dict(sites["a.test"], not_after="2020-01-01T00:00:00Z",
                   not_before="2019-10-01T00:00:00Z")
    doc["sites"] = [expired, sites["b.test"]]
    proc = run_status(autotls_cli, write(doc))
    assert proc.returncode == EXIT_CRITICAL, proc.stdout
    assert "CRITICAL a.test: expired" in proc.stdout, proc.stdout
    # a damaged snapshot, and no store at all: unknown
    proc = run_status(autotls_cli, write('{"format": 1, "sites": ['))
    assert proc.returncode == EXIT_UNKNOWN, proc.stdout
    assert proc.stdout.startswith("AUTOTLS UNKNOWN"), proc.stdout
    missing = os.path.join(tempfile.gettempdir(), "autotls-no-store-%d" % os.getpid())
    assert run_status(autotls_cli, missing).returncode == EXIT_UNKNOWN


def test_cli_status_prints_escape_sequences_of_the_snapshot_written_out(crafted, autotls_cli):
    """A CA's error detail (or a site name) holding a terminal escape sequence must not reach the
    operator's terminal raw: it would recolour, move the cursor over earlier lines, retitle."""
    doc, write, _ = crafted
    sites = by_site(doc)
    failing = dict(sites["fail.test"], site="fail\x1b]0;owned\x07.test", last_error={
        "type": "urn:ietf:params:acme:error:connection\x1b[2J",
        "detail": "\x1b[31mall is fine\x1b[0m \u009b1A", "time": "2026-01-01T00:00:00Z"})
    doc["sites"] = [sites["a.test"], failing]
    proc = run_status(autotls_cli, write(doc))
    assert proc.returncode == EXIT_WARNING, proc.stdout + proc.stderr
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout, repr(proc.stdout)
    assert "\u009b" not in proc.stdout, repr(proc.stdout)
    assert "fail\\x1b]0;owned\\x07.test" in proc.stdout, proc.stdout
    assert "\\x1b[31mall is fine\\x1b[0m \\u009b1A" in proc.stdout, proc.stdout
    assert "connection\\x1b[2J" in proc.stdout, proc.stdout


def test_an_older_releases_error_keeps_the_time_of_its_job_file():
    """A job file of a release before last_error_at has an error and no time for it: the status
    shows the file's time, not the moment it was looked at (which moved at every look)."""
    acme = pwd.getpwnam(ACME_USER)
    server = AutoTLSServer([Site("kept.test")], ca_url="https://127.0.0.1:9/dir", extra=EXTRA)
    jobs = os.path.join(server.store, "jobs")
    os.makedirs(jobs, mode=0o755)
    os.chmod(server.store, 0o755)
    os.chmod(jobs, 0o700)
    os.chown(jobs, acme.pw_uid, acme.pw_gid)
    job = os.path.join(jobs, "gone.test.json")
    with open(job, "w") as f:
        json.dump({"failures": 2, "next_try": 0, "last_error": "the CA said no"}, f)
    os.chmod(job, 0o644)
    os.chown(job, acme.pw_uid, acme.pw_gid)
    written = calendar.timegm((2026, 1, 2, 3, 4, 5))
    os.utime(job, (written, written))
    snapshot = os.path.join(server.store, "status", "snapshot.json")
    with server:
        autotls_server.wait_for("the orphan in the snapshot", lambda: os.path.exists(snapshot)
                                and "gone.test" in open(snapshot).read(), 15.0, server, POLL)
        with open(snapshot) as f:
            gone = by_site(json.load(f))["gone.test"]
    assert gone["state"] == "orphaned", gone
    assert gone["last_error"]["detail"] == "the CA said no", gone
    assert gone["last_error"]["time"] == "2026-01-02T03:04:05Z", gone


def test_a_snapshot_write_that_failed_is_made_again_once_it_can_be(autotls_cli):
    """status/ unwritable while a site changes: one error line; writable again: the snapshot is
    written at the next tick without waiting for another change, with one line saying so."""
    site = Site("retry.test")
    with AutoTLSServer([site], ca_url="https://127.0.0.1:9/dir", extra=EXTRA) as server:
        status_dir = os.path.join(server.store, "status")
        snapshot = os.path.join(status_dir, "snapshot.json")
        autotls_server.wait_for("a first snapshot", lambda: os.path.exists(snapshot), 15.0,
                                server, POLL)
        os.chmod(status_dir, 0o555)  # its owner, the ACME account, can no longer write it
        try:
            proc = subprocess.run([autotls_cli, "renew", "--store", server.store, site.name],
                                  capture_output=True, text=True, timeout=CLI_TIMEOUT)
            assert proc.returncode == 0, proc.stdout + proc.stderr
            autotls_server.wait_for("the failed write logged", lambda: "autotls-0702" in
                                    server.error_log(), 15.0, server, POLL)
            time.sleep(3.0)  # the renewal is tried and fails meanwhile: nothing else changes
        finally:
            os.chmod(status_dir, 0o755)
        restored = time.time()
        autotls_server.wait_for("the snapshot written again", lambda: "autotls-0853" in
                                server.error_log(), 5.0, server, POLL)
        assert os.stat(snapshot).st_mtime >= restored - 1.0
        assert server.error_log().count("autotls-0702") == 1, server.log_tail()


def test_snapshot_is_readable_by_user_and_written_by_the_acme_account(world):
    server, _ = world
    acme = pwd.getpwnam(ACME_USER)
    d = os.stat(os.path.join(server.store, "status"))
    f = os.stat(os.path.join(server.store, "status", "snapshot.json"))
    assert (d.st_uid, d.st_mode & 0o7777) == (acme.pw_uid, 0o755)
    assert (f.st_uid, f.st_mode & 0o7777) == (acme.pw_uid, 0o644)
    with open(os.path.join(server.store, "status", "snapshot.json")) as fh:
        text = fh.read()
    assert "PRIVATE KEY" not in text and "keyAuthorization" not in text


def test_job_state_of_a_removed_site_is_listed_as_orphaned(world, autotls_cli):
    """Last in this module: a graceful restart. The renewal process reads jobs/ at its start;
    a job file no configured site owns is reported, never silently ignored."""
    server, _ = world
    acme = pwd.getpwnam(ACME_USER)
    path = os.path.join(server.store, "jobs", "gone.test.json")
    with open(path, "w") as f:
        json.dump({"failures": 3, "next_try": 0, "last_error": "it went away",
                   "retry_after": 0, "missing": []}, f)
    os.chown(path, acme.pw_uid, acme.pw_gid)
    os.chmod(path, 0o600)
    server.graceful()
    deadline = time.monotonic() + FAILING_SECONDS
    while True:
        status, _, body = get(server, STATUS_PATH)
        gone = by_site(json.loads(body)).get("gone.test") if status == 200 else None
        if gone is not None:
            break
        assert time.monotonic() < deadline, (status, body, server.log_tail())
        time.sleep(POLL)
    assert gone["state"] == "orphaned" and gone["failures"] == 3, gone
    assert gone["last_error"]["detail"] == "it went away", gone
    assert by_site(json.loads(body))["a.test"]["state"] == "valid"
    proc = run_status(autotls_cli, server.store)
    assert "WARNING gone.test: orphaned" in proc.stdout, proc.stdout
    assert "autotls-0700" in server.error_log()
