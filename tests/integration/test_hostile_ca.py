# SPDX-License-Identifier: Apache-2.0
"""A hostile CA: whatever it answers, the client fails clearly, quickly, small, and stores nothing.

The one idea to hold: each misbehaviour of hostile_ca.HostileCA is met by the real client, the
`autotls issue` CLI (and, for the certificate it finally hands out, the real module through
AutoTLSServer), and each run is judged from outside: its exit code, the one error line that names
the CA's URL and fault, its wall time against the client's own bounds, its memory (the CLI runs
under an RLIMIT_DATA a client reading a 50 MB answer whole could not live within, so the clean
error line proves the bound), and the store afterwards (no live/ set, no temp file). A control
mode ("good") runs the same flow to a certificate, so a refusal here is the client's doing, not
a broken test server.
"""

import os
import re
import resource
import shutil
import subprocess
import tempfile
import time

import pytest

import httpd
from autotls_server import AutoTLSServer, Site
from hostile_ca import OTHER_NAME, HostileCA

try:
    import sanitizers
except ImportError:  # a tree without the sanitizer plugin: plain builds only
    sanitizers = None

SITE = "alpha.autotls-hostile.org"
ALIAS = "www.alpha.autotls-hostile.org"
EXIT_CA = 1

# The client's own bounds (mod_autotls/lib/http.c, include/at_http.h).
HTTP_STALL_WINDOW = 10.0  # a response that began must keep coming
TIME_MARGIN = 8.0  # process start, key generation, a loaded machine
# The CLI's heap and private mappings (RLIMIT_DATA): it needs under 24 MiB for a whole issuance.
# ru_maxrss cannot bound it: Linux carries the forking Python's peak RSS into the child.
CLI_DATA_MAX = 32 * 1024 * 1024
CLI_TIMEOUT = 120  # seconds before the test kills a CLI run (a failure, never expected)

MODULE_WAIT = 30.0  # seconds for the module to order and the activator to decide
POLL = 0.1

# mode -> (what the error line must say, seconds the run may take)
DIRECTORY_FAULTS = {
    "oversized": (r"response larger than \d+ bytes", TIME_MARGIN),
    "endless": (r"response larger than \d+ bytes", TIME_MARGIN),
    "drip": (r"the CA stopped sending", HTTP_STALL_WINDOW + TIME_MARGIN),
    "headerflood": (r"response headers larger than \d+ bytes", TIME_MARGIN),
    "html": (r'not a JSON object \(content type "text/html"\)', TIME_MARGIN),
    "redirect": (r"answered status 301", TIME_MARGIN),
    "badjson": (r"not a JSON object", TIME_MARGIN),
    "truncated": (r"not a JSON object .*premature end of input", TIME_MARGIN),
    "cutoff": (r"transfer closed with \d+ bytes remaining", TIME_MARGIN),
    "noproblem": (r'answered status 400 without a problem document \(content type "text/plain"\)',
                  TIME_MARGIN),
}

MODULE = httpd.module_path()
needs_module = pytest.mark.skipif(
    not MODULE.is_file() or not shutil.which(httpd.APACHE2) or os.geteuid() != 0
    or not (httpd.MODULES_DIR / "mod_ssl.so").is_file(),
    reason="needs root, apache2 with mod_ssl and a built mod_autotls.so")


@pytest.fixture(scope="module")
def hostile():
    with HostileCA() as ca:
        yield ca


class Run:
    """One finished CLI run: code, stdout, stderr, wall seconds, ru_maxrss (KiB, for the
    record only: it includes the forking parent's peak)."""

    def __init__(self, code, out, err, wall, rss_kb):
        self.code, self.out, self.err, self.wall, self.rss_kb = code, out, err, wall, rss_kb

    def __str__(self):
        return ("exit %d after %.1f s, max RSS %d KiB\n--- stdout\n%s--- stderr\n%s"
                % (self.code, self.wall, self.rss_kb, self.out, self.err))

    def errors(self):
        return [line for line in self.err.splitlines() if line.startswith("autotls: error:")]


def limit_data():
    resource.setrlimit(resource.RLIMIT_DATA, (CLI_DATA_MAX, CLI_DATA_MAX))


def sanitized():
    """ASan reserves terabytes of shadow memory: no data limit can apply to its builds."""
    return sanitizers is not None and sanitizers.active()


def run_cli(cli, ca, mode, store):
    """`autotls issue` against a mode, under the memory bound; reaped with wait4."""
    webroot = tempfile.mkdtemp(prefix="autotls-hostile-web-")
    out_f = tempfile.TemporaryFile()
    err_f = tempfile.TemporaryFile()
    argv = [cli, "issue", "--ca", ca.url(mode), "--ca-cert", ca.ca_cert, "--store", store,
            "--webroot", webroot, "--timeout", "60", SITE, ALIAS]
    start = time.monotonic()
    env = sanitizers.cli_env() if sanitizers is not None else None
    proc = subprocess.Popen(argv, stdout=out_f, stderr=err_f, stdin=subprocess.DEVNULL, env=env,
                            preexec_fn=None if sanitized() else limit_data)
    deadline = start + CLI_TIMEOUT
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            break
        if time.monotonic() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.02)
    wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    shutil.rmtree(webroot, ignore_errors=True)
    out_f.seek(0)
    err_f.seek(0)
    return Run(proc.returncode, out_f.read().decode(errors="replace"),
               err_f.read().decode(errors="replace"), wall, usage.ru_maxrss)


def store_files(store):
    found = []
    for dirpath, _, files in os.walk(store):
        found += [os.path.join(dirpath, f) for f in files]
    return found


def assert_nothing_stored(store):
    files = store_files(store)
    live = [f for f in files if os.sep + "live" + os.sep in f]
    temps = [f for f in files if ".tmp." in os.path.basename(f)]
    assert not live, "a certificate set was stored: %s" % live
    assert not temps, "temp files were left behind: %s" % temps


@pytest.mark.plain_build  # RLIMIT_DATA applies only without ASan: test.sh runs it there too
@pytest.mark.parametrize("mode", sorted(DIRECTORY_FAULTS))
def test_misbehaving_ca_fails_clearly_quickly_and_small(autotls_cli, hostile, tmp_path, mode):
    fault, seconds = DIRECTORY_FAULTS[mode]
    store = str(tmp_path / "store")
    run = run_cli(autotls_cli, hostile, mode, store)
    assert run.code == EXIT_CA, run
    naming = [line for line in run.errors()
              if hostile.url(mode).rsplit("/", 1)[0] in line and re.search(fault, line)]
    assert naming, "no error line names the CA URL and %r\n%s" % (fault, run)
    assert run.wall < seconds, "took %.1f s, bound %.1f s\n%s" % (run.wall, seconds, run)
    assert "issued" not in run.out
    assert_nothing_stored(store)


def test_redirect_is_never_followed(autotls_cli, hostile, tmp_path):
    before = len(hostile.requests_of("redirect"))
    run = run_cli(autotls_cli, hostile, "redirect", str(tmp_path / "store"))
    assert run.code == EXIT_CA, run
    assert hostile.requests_of("redirect")[before:] == [("GET", "/directory")]


def test_control_flow_issues_a_certificate(autotls_cli, hostile, tmp_path):
    """The hostile CA's flow is sound: with honest answers the CLI gets a certificate."""
    store = str(tmp_path / "store")
    run = run_cli(autotls_cli, hostile, "good", store)
    assert run.code == 0, run
    assert re.search(r"^issued %s: names %s,%s;" % (re.escape(SITE), re.escape(SITE),
                                                     re.escape(ALIAS)), run.out, re.M), run
    assert os.path.isfile(os.path.join(store, "live", SITE, "fullchain.pem"))


@pytest.mark.parametrize("mode, fault", [
    ("othernames", r"does not cover %s" % re.escape(SITE)),
    ("garbagechain", r"does not parse as a PEM certificate chain"),
], ids=["othernames", "garbagechain"])
def test_cli_refuses_a_certificate_it_did_not_ask_for(autotls_cli, hostile, tmp_path, mode,
                                                      fault):
    store = str(tmp_path / "store")
    run = run_cli(autotls_cli, hostile, mode, store)
    assert run.code == EXIT_CA, run
    assert any(re.search(fault, line) for line in run.errors()), run
    assert_nothing_stored(store)


# --- the module: a bad chain from the CA is never activated -------------------------------------


def module_server(ca, mode):
    extra = ('AutoTLSCACertificateFile "%s"\nAutoTLSIssuerRoots "%s"\n'
             % (ca.ca_cert, ca.issuer_root))
    return AutoTLSServer([Site(SITE, aliases=(ALIAS,))], ca_url=ca.url(mode), extra=extra)


def wait_for(server, pattern, timeout=MODULE_WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = re.search(pattern, server.error_log())
        if m:
            return m
        time.sleep(POLL)
    pytest.fail("no log line matching %r within %.0f s\n%s"
                % (pattern, timeout, server.log_tail()))


def assert_placeholder_kept(server):
    served = server.served_cert(SITE)
    assert "Hostile" not in served.issuer and "Stranger" not in served.issuer, served
    live = os.path.join(server.store, "live", SITE)
    assert not os.path.exists(os.path.join(live, "privkey.pem")), os.listdir(live)
    assert not os.path.exists(os.path.join(live, "fullchain.pem")), os.listdir(live)
    assert not [f for f in store_files(server.store) if ".tmp." in os.path.basename(f)]


# What the renewal thread can check itself (the names, our key, the PEM) stops the set before it
# is staged; what needs the issuer roots is refused by the root activator.
CANNOT_USE = r"%s: the CA at [^\n]* sent a certificate we cannot use: " % re.escape(SITE)
MODULE_REFUSALS = {
    "othernames": CANNOT_USE + r"certificate does not cover %s" % re.escape(SITE),
    "unknownroot": r"autotls-0314: %s: refused staged certificate: [^\n]*chain does not verify "
                   r"to the issuer roots" % re.escape(SITE),
    "garbagechain": CANNOT_USE + r"it does not parse as a PEM certificate chain",
}


@needs_module
@pytest.mark.parametrize("mode", sorted(MODULE_REFUSALS))
def test_module_never_activates_a_bad_chain_from_the_ca(hostile, mode):
    with module_server(hostile, mode) as server:
        wait_for(server, MODULE_REFUSALS[mode])
        assert "autotls-0312" not in server.error_log(), server.log_tail()
        assert_placeholder_kept(server)
        staging = os.path.join(server.store, "staging", SITE)
        deadline = time.monotonic() + MODULE_WAIT
        while os.path.exists(staging) and time.monotonic() < deadline:
            time.sleep(POLL)
        assert not os.path.exists(staging), "the refused set stayed in staging/"


@needs_module
def test_module_control_flow_goes_live(hostile):
    """The same flow with an honest certificate goes live: the refusals above are real."""
    with module_server(hostile, "good") as server:
        served = server.wait_until_served(SITE, issuer_substring="Hostile Test Issuing CA",
                                          timeout=MODULE_WAIT)
        assert set(served.sans) == {SITE, ALIAS}


@needs_module
def test_module_survives_a_dripping_ca(hostile):
    """A CA that drips its directory costs the renewal thread one bounded attempt; the server
    keeps serving its placeholder and answers requests meanwhile."""
    with module_server(hostile, "drip") as server:
        wait_for(server, r"the CA stopped sending", HTTP_STALL_WINDOW + TIME_MARGIN)
        status, _, _ = server.http_get(SITE, "/")
        assert status in (200, 301, 302), status
        assert_placeholder_kept(server)
