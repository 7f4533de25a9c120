# SPDX-License-Identifier: Apache-2.0
"""The sanitizer net itself: a report from a sanitized module inside httpd reaches a file the
tests read, from a child running as www-data as much as from the root parent.

The one idea to hold: "zero reports" means nothing unless a report, when there is one, is seen.
So this test builds a tiny module of its own with the same flags as a sanitizer build, loads it
into apache2 the way every test server is started (httpd.run_httpd: runtimes preloaded, options
set), makes it overflow a heap buffer in a child and overflow a signed int in another, and
requires both reports as files in the report directory. It then takes those two reports away,
so the session stays clean; any other report fails it as usual. Runs only in a sanitizer build.
"""

import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

import httpd
import sanitizers

# marks, not module-level skips: a -m selection then deselects this module instead of counting
# a skip
pytestmark = [
    pytest.mark.skipif(not sanitizers.active(),
                       reason="not a sanitizer build (configure --enable-sanitizers)"),
    pytest.mark.skipif(not shutil.which(httpd.APACHE2),
                       reason="apache2 not installed: %s is missing" % httpd.APACHE2),
]

APXS = shutil.which("apxs") or shutil.which("apxs2")
CC = os.environ.get("CC", "gcc")
SAN_FLAGS = ("-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
             "-fno-omit-frame-pointer", "-g")
TOOL_TIMEOUT = 60.0  # seconds for the compiler and config queries
REPORT_TIMEOUT = 15.0  # seconds until a crashed child's report file is complete
REQUEST_TIMEOUT = 5.0
POLL_INTERVAL = 0.1
WWW_USER = "www-data"
SANITIZER_LOG_C = pathlib.Path(__file__).resolve().parents[2] / "mod_autotls/lib/sanitizer_log.c"

# Two handlers that misbehave on purpose, one per sanitizer. volatile keeps GCC from proving the
# bugs away at compile time.
NET_MODULE_C = r"""
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"

static int net_handler(request_rec *r)
{
    if (strcmp(r->uri, "/heap-overflow") == 0) {
        char *volatile buf = malloc(8);
        volatile size_t at = 8;
        buf[at] = 1;
        free(buf);
    }
    else if (strcmp(r->uri, "/int-overflow") == 0) {
        volatile int big = INT_MAX;
        ap_rprintf(r, "%d", big + 1);
        return OK;
    }
    return DECLINED;
}

static void net_hooks(apr_pool_t *p)
{
    ap_hook_handler(net_handler, NULL, NULL, APR_HOOK_FIRST);
}

module AP_MODULE_DECLARE_DATA sanitizer_net_module = {
    STANDARD20_MODULE_STUFF, NULL, NULL, NULL, NULL, NULL, net_hooks
};
"""


def tool_output(*argv):
    return subprocess.run(argv, capture_output=True, text=True, check=True,
                          timeout=TOOL_TIMEOUT, stdin=subprocess.DEVNULL).stdout.split()


@pytest.fixture
def net_module():
    """mod_sanitizer_net.so, built like a sanitizer build's mod_autotls.so (sanitizer_log.c
    included), in a directory www-data can read: the runtimes symbolize a child's report by
    reading the module's file as the child's user."""
    if APXS is None or shutil.which(CC) is None:
        pytest.skip("apxs or %s missing" % CC)
    flags = ["-I" + tool_output(APXS, "-q", "INCLUDEDIR")[0]]
    apr_config = tool_output(APXS, "-q", "APR_CONFIG")[0]
    flags += tool_output(apr_config, "--includes", "--cppflags")
    build = pathlib.Path(tempfile.mkdtemp(prefix="autotls-sannet-build-"))
    os.chmod(build, 0o755)
    source = build / "mod_sanitizer_net.c"
    source.write_text(NET_MODULE_C)
    so = build / "mod_sanitizer_net.so"
    subprocess.run([CC, "-shared", "-fPIC", "-DAT_SANITIZERS", *SAN_FLAGS, *flags, "-o", str(so),
                    str(source), str(SANITIZER_LOG_C)],
                   check=True, capture_output=True, timeout=TOOL_TIMEOUT)
    os.chmod(so, 0o755)
    yield so
    shutil.rmtree(build, ignore_errors=True)


def request(port, path):
    """One GET; the child may die mid-request (the point of it), so any outcome is accepted."""
    try:
        with socket.create_connection((httpd.LOOPBACK, port), timeout=REQUEST_TIMEOUT) as s:
            s.sendall(b"GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
                      % path.encode())
            while s.recv(4096):
                pass
    except OSError:
        pass


def wait_started(pid_file, port):
    """The parent's pid once the pid file names it and the port answers."""
    deadline = time.monotonic() + REQUEST_TIMEOUT
    while time.monotonic() < deadline:
        try:
            pid = int(pid_file.read_text())
            socket.create_connection((httpd.LOOPBACK, port), timeout=REQUEST_TIMEOUT).close()
            return pid
        except (OSError, ValueError):
            time.sleep(POLL_INTERVAL)
    pytest.fail("httpd did not start within %.0f s" % REQUEST_TIMEOUT)


def wait_for_report(tool, needle):
    """(path, text) of the first complete report of `tool` (asan/ubsan) whose text has needle.
    Complete: ASan's ends with its SUMMARY and shadow map, UBSan's stack with an empty line."""
    deadline = time.monotonic() + REPORT_TIMEOUT
    while time.monotonic() < deadline:
        for path in sorted(sanitizers.log_dir().glob(tool + ".*")):
            text = path.read_text(errors="replace")
            done = "SUMMARY" in text if tool == "asan" else text.endswith("\n\n")
            if needle in text and done:
                return path, text
        time.sleep(POLL_INTERVAL)
    found = {p.name: p.read_text(errors="replace")[:2000] for p in sanitizers.log_dir().iterdir()}
    pytest.fail("no %s report with %r within %.0f s in %s: %r"
                % (tool, needle, REPORT_TIMEOUT, sanitizers.log_dir(), found))


def test_reports_of_a_www_data_child_land_in_files(net_module):
    root = pathlib.Path(tempfile.mkdtemp(prefix="autotls-sannet-"))
    os.chmod(root, 0o755)
    port = httpd.free_port()
    user = "User %s\nGroup %s\n" % (WWW_USER, WWW_USER) if os.geteuid() == 0 else ""
    conf = httpd.write_httpd_conf(
        root, user + "LoadModule sanitizer_net_module %s\n" % net_module, port=port,
        module=False)
    started = httpd.run_httpd(conf, "-k", "start")
    assert started.returncode == 0, started.stdout + started.stderr
    ours = []
    try:
        parent = wait_started(root / "httpd.pid", port)
        request(port, "/heap-overflow")
        asan_path, asan_text = wait_for_report("asan", "heap-buffer-overflow")
        ours.append(asan_path)
        request(port, "/int-overflow")
        ubsan_path, ubsan_text = wait_for_report("ubsan", "signed integer overflow")
        ours.append(ubsan_path)
        assert ".apache2." in asan_path.name, asan_path  # log_exe_name: who reported
        # frames symbolized afterwards, as a failing test shows them: function and line
        shown = sanitizers.symbolize(asan_text)
        assert "in net_handler" in shown and "mod_sanitizer_net.c:14" in shown, shown
        shown = sanitizers.symbolize(ubsan_text)
        assert "mod_sanitizer_net.c:19" in shown and "runtime error" in shown, shown
        assert int(asan_path.name.rsplit(".", 1)[1]) != parent  # a child's, not the parent's
    finally:
        httpd.run_httpd(conf, "-k", "stop")
        # Ours, made on purpose: not findings. Any other report stays and fails the test.
        sanitizers.forget(ours)
        shutil.rmtree(root, ignore_errors=True)
