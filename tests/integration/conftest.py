# SPDX-License-Identifier: Apache-2.0
"""Fixtures shared by the integration tests: where the build is, and a real ACME CA on loopback.

The one idea to hold: a test module gets its own pebble (module scope), because Debian's pebble
2.4.0 can deadlock after parallel orders (docs/ARCHITECTURE.md, "The test CA"); a test needing
other CA behaviour (nonce rejection, EAB) starts its own PebbleEnv. The http-01 port is chosen
before pebble starts, since pebble's config fixes where its VA connects.
"""

import os
import pathlib
import shutil
import tempfile

import pytest

from pebble import PebbleEnv, free_port

# ASan/UBSan reports from the processes a test starts fail that test (a sanitizer build only).
pytest_plugins = ("sanitizers",)


@pytest.fixture(scope="session")
def repo_root():
    return pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def build_dir(repo_root):
    return pathlib.Path(os.environ.get("AUTOTLS_BUILD") or repo_root / "build").resolve()


@pytest.fixture(scope="session")
def autotls_cli(build_dir):
    path = build_dir / "tools" / "autotls"
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.skip("autotls CLI not built: %s is missing (build first, or set AUTOTLS_BUILD)"
                    % path)
    return str(path)


@pytest.fixture(scope="module")
def http01_port():
    """The port pebble's VA connects to for http-01; serve challenges on 127.0.0.1 there."""
    return free_port()


@pytest.fixture(scope="module")
def https_port():
    """pebble's tlsPort (tls-alpn-01); also a free port for a test server's TLS listener."""
    return free_port()


@pytest.fixture(scope="module")
def pebble(http01_port, https_port):
    """A fresh pebble + challtestsrv for this test module; healthy on entry to every test."""
    with PebbleEnv(http01_port=http01_port, tls_port=https_port) as env:
        yield env


@pytest.fixture
def pebble_factory(request):
    """Starts extra PebbleEnvs for one test (own ports, e.g. nonce_reject=0); stops them after.

    Each call takes PebbleEnv's keyword arguments; http01_port defaults to a new free port."""
    envs = []
    request.node._autotls_pebbles = envs

    def start(**kwargs):
        kwargs.setdefault("http01_port", free_port())
        env = PebbleEnv(**kwargs)
        envs.append(env)
        return env.start()

    yield start
    for env in envs:
        env.stop()


@pytest.fixture(autouse=True)
def _pebble_healthy(request):
    """Restarts the module's pebble when it hangs (docs/ARCHITECTURE.md, "The test CA") before a
    test uses it."""
    if "pebble" in request.fixturenames:
        env = request.getfixturevalue("pebble")
        if not env.healthy():
            env.restart()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Appends the tail of every live PebbleEnv's logs to a failing test's report."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    envs = list(getattr(item, "_autotls_pebbles", []))
    env = getattr(item, "funcargs", {}).get("pebble")
    if isinstance(env, PebbleEnv):
        envs.append(env)
    for env in envs:
        if env.workdir:
            report.sections.append(("pebble logs (tail) %s" % env.workdir, env.log_tail()))


# --- the default store (deb-pkg) -----------------------------------------------------------------
# Without AutoTLSStore the module and the CLI use the state directory (/var/lib/apache2/autotls):
# no test may write the machine's. Every test gets its own default store through the environment
# the module honours (AUTOTLS_STORE_DIR, lib/store_carry.c), inherited by every apache2 and CLI the
# test starts; tests that set AutoTLSStore never look at it. The package test
# (test_package.py) alone uses the real one, and clears this variable for the server it starts.
STORE_DIR_ENV = "AUTOTLS_STORE_DIR"


@pytest.fixture(autouse=True)
def default_store_dir(monkeypatch):
    """This test's default store directory (not yet created), in a temp dir www-data can
    traverse."""
    parent = tempfile.mkdtemp(prefix="autotls-default-store-")
    os.chmod(parent, 0o755)
    path = os.path.join(parent, "store")
    monkeypatch.setenv(STORE_DIR_ENV, path)
    yield path
    shutil.rmtree(parent, ignore_errors=True)


# The machine's own default store, which only test_package.py may create (and purges again).
MACHINE_STORE = "/var/lib/apache2/autotls"
_machine_store_before = os.path.lexists(MACHINE_STORE)


def pytest_sessionfinish(session, exitstatus):
    """Fails the run when a test left the machine's default store behind."""
    if not _machine_store_before and os.path.lexists(MACHINE_STORE):
        session.config.pluginmanager.get_plugin("terminalreporter").write_line(
            "FAILED: a test wrote the machine's store %s (every test must use its own store)"
            % MACHINE_STORE, red=True)
        session.exitstatus = 1
