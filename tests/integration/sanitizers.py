# SPDX-License-Identifier: Apache-2.0
"""ASan + UBSan for the integration tests: the runtime environment, and a session that fails on
any sanitizer report.

The one idea to hold: a build configured with --enable-sanitizers is recognised by what it is
(mod_autotls.so needs libasan), never by a flag someone must remember. Then every sanitized
process the tests start (httpd with our module, the activator it forks, its children running as
www-data, the autotls CLI) writes its reports as files into one world-writable directory, and a
report file that appears while a test runs fails that test with the report's text. Nothing is
read from stderr, which for httpd's children is the middle of an error log.

httpd itself is not built with ASan: it gets the sanitizer runtimes through LD_PRELOAD (the ASan
runtime must come first in the process), and leak detection stays off for it (httpd and APR leave
their pools to exit). `CoreDumpDirectory` on its command line keeps the www-data children
dumpable, so that UBSan, which starts in a child at its first report, can read its options from
/proc/self/environ; mod_autotls/lib/sanitizer_log.c makes it honour their log_path. The CLI is
linked with the runtimes and runs with leak detection on. docs/SANITIZERS.md tells the story.

Loaded as a pytest plugin by conftest.py; httpd.py asks httpd_env() and httpd_args().
Environment: AUTOTLS_SANITIZER_LOGS (a directory for the reports; default a new temp dir);
AUTOTLS_SANITIZER_HTTPD_LEAKS=1 turns LeakSanitizer on in httpd as well (reports of httpd's and
APR's own exit-time memory included: to study, not for CI).
Standard library only (pytest for the hooks, when it runs them).
"""

import os
import pathlib
import re
import subprocess
import tempfile

try:
    import pytest
except ImportError:  # imported outside pytest (scripts/demo.py via httpd.py): helpers only
    pytest = None

__all__ = ["runtimes", "active", "log_dir", "httpd_env", "httpd_args", "cli_env", "reports",
           "forget", "symbolize"]

HTTPD_LEAKS_ENV = "AUTOTLS_SANITIZER_HTTPD_LEAKS"  # "1": LeakSanitizer in httpd too (to study)
PLAIN_BUILD_MARK = "plain_build"  # @pytest.mark.plain_build: see pytest_configure
LDD_TIMEOUT = 10.0  # seconds for `ldd mod_autotls.so`
REPORT_MAX_CHARS = 20000  # of one report shown in a failing test's output
RUNTIME_RE = re.compile(r"^\s*(lib(?:asan|ubsan)\.so[.\d]*)\s+=>\s+(\S+)", re.M)
FRAME_RE = re.compile(r"^\s*#\d+ 0x[0-9a-f]+\s+\((?P<path>/[^+()]+)\+(?P<offset>0x[0-9a-f]+)\)\s*$")
ADDR2LINE_TIMEOUT = 30.0  # seconds for one addr2line run (one binary, all its frames)
LOG_DIR_MODE = 0o1777  # children run as www-data, the activator as root: all write here

# Common to every sanitized process: reports as files <log_dir>/<tool>.<exe>.<pid>, stop at the
# first error (abort: a dead httpd child is noticed), no core files.
ASAN_COMMON = ("halt_on_error=1", "abort_on_error=1", "disable_coredump=1", "log_exe_name=1",
               "detect_stack_use_after_return=1", "strict_string_checks=1")
UBSAN_COMMON = ("print_stacktrace=1", "halt_on_error=1", "abort_on_error=1", "log_exe_name=1")

_state = {"runtimes": None, "log_dir": None, "seen": set()}


def _module_path():
    explicit = os.environ.get("AUTOTLS_MODULE")
    if explicit:
        return pathlib.Path(explicit)
    repo = pathlib.Path(__file__).resolve().parents[2]
    build = pathlib.Path(os.environ.get("AUTOTLS_BUILD") or repo / "build")
    return build / ".libs" / "mod_autotls.so"


def runtimes():
    """The sanitizer runtimes our module is linked with, ASan first (absolute paths); empty for
    a plain build or when the module is missing."""
    if _state["runtimes"] is None:
        found = {}
        module = _module_path()
        if module.is_file():
            try:
                out = subprocess.run(["ldd", str(module)], capture_output=True, text=True,
                                     timeout=LDD_TIMEOUT, stdin=subprocess.DEVNULL,
                                     check=False).stdout
            except (OSError, subprocess.TimeoutExpired):
                out = ""
            found = dict(RUNTIME_RE.findall(out))
        _state["runtimes"] = tuple(path for name, path in sorted(found.items()))
    return _state["runtimes"]


def active():
    """Whether the build under test is a sanitizer build."""
    return bool(runtimes())


def log_dir():
    """The directory every sanitized process writes its reports into (made on first use)."""
    if _state["log_dir"] is None:
        explicit = os.environ.get("AUTOTLS_SANITIZER_LOGS")
        if explicit:
            path = pathlib.Path(explicit)
            path.mkdir(parents=True, exist_ok=True)
        else:
            path = pathlib.Path(tempfile.mkdtemp(prefix="autotls-sanitizer-"))
            _state["made_log_dir"] = True
        os.chmod(path, LOG_DIR_MODE)
        _state["log_dir"] = path.resolve()
    return _state["log_dir"]


def _options(common, tool, extra=()):
    return ":".join(common + tuple(extra) + ("log_path=%s" % (log_dir() / tool),))


def _sanitizer_vars(detect_leaks, symbolize_now):
    extra = ("detect_leaks=%d" % int(detect_leaks), "symbolize=%d" % int(symbolize_now))
    return {
        "ASAN_OPTIONS": _options(ASAN_COMMON, "asan", extra),
        "UBSAN_OPTIONS": _options(UBSAN_COMMON, "ubsan", ("symbolize=%d" % int(symbolize_now),)),
    }


def httpd_env(base=None):
    """The environment for /usr/sbin/apache2 (os.environ when base is None): unchanged for a
    plain build; for a sanitizer build the runtimes preloaded and reports sent to log_dir().
    Leak detection is off: httpd and APR leave memory to exit. No symbolization in the process:
    it can take seconds, and a child being stopped is killed in the middle of its report; the
    frames are symbolized when a test shows the report (symbolize())."""
    env = dict(os.environ if base is None else base)
    if not active():
        return env
    leaks = os.environ.get(HTTPD_LEAKS_ENV) == "1"
    env.update(_sanitizer_vars(detect_leaks=leaks, symbolize_now=False))
    if leaks:  # a leak report must not fail `apache2 -k start` itself; full allocation stacks
        env["ASAN_OPTIONS"] += ":abort_on_error=0:exitcode=0:fast_unwind_on_malloc=0"
    preload = [p for p in env.get("LD_PRELOAD", "").replace(":", " ").split() if p]
    env["LD_PRELOAD"] = " ".join(list(runtimes()) + [p for p in preload if p not in runtimes()])
    return env


def httpd_args():
    """Extra apache2 arguments for a sanitizer build: `CoreDumpDirectory` makes the children
    that switched to www-data dumpable again, which lets the sanitizer runtimes in them read
    /proc/self/environ: UBSan starts at its first report, in the child, and reads its options
    there (without them it would not find log_path). Cores stay off: disable_coredump=1."""
    if not active():
        return []
    return ["-C", 'CoreDumpDirectory "%s"' % log_dir()]


def cli_env(base=None):
    """The environment for the autotls CLI: reports to log_dir(), leak detection on."""
    env = dict(os.environ if base is None else base)
    if active():
        env.update(_sanitizer_vars(detect_leaks=True, symbolize_now=True))
    return env


def reports():
    """Report files in log_dir() not returned before, oldest first: [(path, text)]."""
    if not active() or _state["log_dir"] is None:
        return []
    found = []
    for path in sorted(log_dir().iterdir(), key=lambda p: (p.stat().st_mtime, p.name)):
        if path.name in _state["seen"] or not path.is_file():
            continue
        _state["seen"].add(path.name)
        try:
            text = path.read_text(errors="replace")
        except OSError as e:
            text = "(unreadable: %s)" % e
        found.append((path, text))
    return found


def forget(paths):
    """Removes report files a test produced on purpose (the self-test of this net)."""
    for path in paths:
        pathlib.Path(path).unlink(missing_ok=True)


def symbolize(text):
    """text with each unsymbolized frame ("#3 0x7f.. (/path/lib.so+0x1f00)", as symbolize=0
    prints them) followed by its function and file:line from addr2line; text unchanged when
    addr2line is missing."""
    lines = text.splitlines()
    wanted = {}
    for line in lines:
        m = FRAME_RE.match(line)
        if m:
            wanted.setdefault(m.group("path"), set()).add(m.group("offset"))
    names = {}
    for path, offsets in wanted.items():
        offsets = sorted(offsets)
        try:
            out = subprocess.run(["addr2line", "-C", "-f", "-i", "-p", "-e", path, *offsets],
                                 capture_output=True, text=True, timeout=ADDR2LINE_TIMEOUT,
                                 stdin=subprocess.DEVNULL, check=False).stdout
        except (OSError, subprocess.TimeoutExpired):
            continue
        blocks = []
        for out_line in out.splitlines():
            if out_line.startswith(" (inlined by)") and blocks:
                blocks[-1] += "; " + out_line.strip()
            else:
                blocks.append(out_line.strip())
        if len(blocks) == len(offsets):
            # without debug information addr2line guesses the nearest exported name: no line,
            # no name
            names.update({(path, off): b for off, b in zip(offsets, blocks)
                          if not b.endswith("??:?") and not b.startswith("??")})
    result = []
    for line in lines:
        m = FRAME_RE.match(line)
        name = m and names.get((m.group("path"), m.group("offset")))
        result.append("%s in %s" % (line.rstrip(), name) if name else line)
    return "\n".join(result)


def _describe(found):
    parts = []
    for path, text in found:
        text = symbolize(text)
        if len(text) > REPORT_MAX_CHARS:
            text = text[:REPORT_MAX_CHARS] + "\n... (%d more characters in the file)" % (
                len(text) - REPORT_MAX_CHARS)
        parts.append("==> %s <==\n%s" % (path, text))
    return "sanitizer report(s) while this test ran:\n" + "\n".join(parts)


# --- pytest hooks --------------------------------------------------------------------------------


if pytest is not None:
    def pytest_configure(config):
        """In a sanitizer build: every process the tests start inherits the report settings (the
        CLI needs nothing more; httpd gets the preload from httpd_env())."""
        config.addinivalue_line(
            "markers", "%s: the test measures what a sanitizer build distorts (RSS, a memory "
            "limit, tight timing); scripts/test.sh runs it in the plain build too, where it "
            "must enforce its bounds" % PLAIN_BUILD_MARK)
        if active():
            os.environ.update(cli_env({}))

    def pytest_report_header(config):
        if not active():
            return "sanitizers: none (plain build)"
        return "sanitizers: %s; reports in %s" % (
            " ".join(os.path.basename(p) for p in runtimes()), log_dir())

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(item, call):
        """A report file that appeared by the end of a test's teardown (its servers stopped) fails
        the test, shown with the report's text."""
        outcome = yield
        if call.when != "teardown" or not active():
            return
        found = reports()
        if not found:
            return
        report = outcome.get_result()
        report.outcome = "failed"
        report.longrepr = _describe(found)

    def pytest_sessionfinish(session, exitstatus):
        """Reports that appeared after the last teardown fail the session."""
        found = reports()
        if found:
            session.config._autotls_late_reports = found
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(terminalreporter, exitstatus, config):
        found = getattr(config, "_autotls_late_reports", None)
        if found:
            terminalreporter.section("sanitizer reports after the last test")
            terminalreporter.write_line(_describe(found))
        elif active():
            terminalreporter.write_line("sanitizers: no reports in %s" % log_dir())

    def pytest_unconfigure(config):
        """A report directory this session made and left empty goes."""
        if _state.get("made_log_dir") and _state["log_dir"] is not None:
            try:
                _state["log_dir"].rmdir()
            except OSError:
                pass  # not empty: the reports stay for whoever reads the failures
