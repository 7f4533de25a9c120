# SPDX-License-Identifier: Apache-2.0
"""Debian's apache2 run on a configuration of our own, for the integration tests.

The one idea to hold: every test server lives in its own directory, which is its ServerRoot and
holds everything it writes (pid file, error log, runtime files), so tests never touch /etc/apache2
or /var/run/apache2 and can run side by side. Debian's apache2 has mod_unixd and mod_watchdog
compiled in: never LoadModule them. Run it as `apache2 -f <conf>`, not apache2ctl (which needs
Debian's envvars).

Standard library only.
"""

import os
import pathlib
import subprocess
import textwrap

import sanitizers
from pebble import free_port  # one notion of "a free loopback port" for every helper

__all__ = ["APACHE2", "MODULES_DIR", "LOOPBACK", "module_path", "free_port", "write_httpd_conf",
           "run_httpd", "check_config"]

APACHE2 = os.environ.get("APACHE2", "/usr/sbin/apache2")
MODULES_DIR = pathlib.Path("/usr/lib/apache2/modules")
LOOPBACK = "127.0.0.1"
REPO = pathlib.Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 60.0  # seconds for one apache2 invocation

# Modules every test server loads from Debian's build: an MPM, and authz_core so that
# <Directory>/<Location> access rules parse.
BASE_MODULES = (
    ("mpm_event_module", "mod_mpm_event.so"),
    ("authz_core_module", "mod_authz_core.so"),
)


def module_path():
    """Our mod_autotls.so: $AUTOTLS_MODULE, else $AUTOTLS_BUILD/.libs, else <repo>/build/.libs."""
    explicit = os.environ.get("AUTOTLS_MODULE")
    if explicit:
        return pathlib.Path(explicit).resolve()
    build = pathlib.Path(os.environ.get("AUTOTLS_BUILD") or REPO / "build")
    return (build / ".libs" / "mod_autotls.so").resolve()


def write_httpd_conf(server_root, body="", *, port=None, module=None, modules=(),
                     name="httpd.conf"):
    """Writes <server_root>/<name>: a minimal server listening on 127.0.0.1:port (a free one when
    None) that loads the base modules, then `modules` ((name, file) pairs, files relative to
    Debian's module directory), then our module (module_path() when None; False for none), then
    `body` verbatim. Returns the path of the file written."""
    root = pathlib.Path(server_root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    port = free_port() if port is None else port
    lines = ['ServerRoot "%s"' % root]
    for mod_name, mod_file in tuple(BASE_MODULES) + tuple(modules):
        lines.append("LoadModule %s %s" % (mod_name, MODULES_DIR / mod_file))
    if module is not False:
        lines.append('LoadModule autotls_module "%s"' % (module or module_path()))
    lines += [
        "Listen %s:%d" % (LOOPBACK, port),
        "ServerName localhost",
        'DefaultRuntimeDir "%s"' % root,
        'PidFile "%s"' % (root / "httpd.pid"),
        'ErrorLog "%s"' % (root / "error.log"),
        "LogLevel info",
        "",
        textwrap.dedent(body).strip("\n"),
        "",
    ]
    conf = root / name
    conf.write_text("\n".join(lines))
    return conf


def run_httpd(conf, *args, timeout=RUN_TIMEOUT):
    """Runs `apache2 -f conf args...`; returns the CompletedProcess (text stdout and stderr).
    In a sanitizer build apache2 runs with the sanitizer runtimes preloaded and its reports sent
    to files (sanitizers.httpd_env(), httpd_args()): every invocation, since -k stop and -t load
    the module too."""
    return subprocess.run([APACHE2, *sanitizers.httpd_args(), "-f", str(conf), *args],
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, check=False, env=sanitizers.httpd_env())


def check_config(conf):
    """`apache2 -t`: parses and checks the configuration, starts nothing."""
    return run_httpd(conf, "-t")
