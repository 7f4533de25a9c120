# SPDX-License-Identifier: Apache-2.0
"""What `make install`, the package metadata and the admin docs promise, checked quickly (the
package itself is built and installed by test_package.py).

The one idea to hold: an admin installing from source gets Debian's layout (the conf where
a2enmod looks, the module where apxs says) and never loses an edited autotls.conf, and
`make uninstall` never leaves an enabled link pointing at nothing. Everything is installed into a
DESTDIR, so the machine's /etc is never touched.
"""

import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
MAKE_TIMEOUT = 300.0


def apxs(var):
    return subprocess.run(["apxs", "-q", var], capture_output=True, text=True,
                          check=True).stdout.strip()


def make(build_dir, target, destdir, check=True):
    proc = subprocess.run(["make", "-C", str(build_dir), "-s", target, "DESTDIR=%s" % destdir],
                          capture_output=True, text=True, timeout=MAKE_TIMEOUT)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture
def installed(build_dir, tmp_path):
    if shutil.which("apxs") is None or not (build_dir / "Makefile").is_file():
        pytest.skip("needs apxs and a configured build (%s)" % build_dir)
    dest = tmp_path / "dest"
    make(build_dir, "install", dest)
    etc = dest / apxs("SYSCONFDIR").lstrip("/")
    return dest, etc / "mods-available", etc / "mods-enabled"


def test_make_install_puts_the_conf_where_a2enmod_looks_and_keeps_an_edited_one(
        build_dir, installed):
    dest, available, _ = installed
    module = pathlib.Path(apxs("LIBEXECDIR")) / "mod_autotls.so"
    assert (dest / module.relative_to("/")).is_file()
    load = (available / "autotls.load").read_text()
    assert re.search(r"^LoadModule autotls_module %s$" % re.escape(str(module)), load, re.M)
    assert "# Depends: ssl" in load  # a2enmod enables mod_ssl with it
    conf = available / "autotls.conf"
    assert conf.read_text() == (REPO / "conf" / "autotls.conf").read_text()
    edited = conf.read_text().replace("#AutoTLS on", "AutoTLS on")
    conf.write_text(edited)
    proc = make(build_dir, "install", dest)
    assert conf.read_text() == edited, "make install overwrote the admin's autotls.conf"
    assert (available / "autotls.conf.dist").read_text() == (REPO / "conf" /
                                                             "autotls.conf").read_text()
    assert "kept your" in proc.stdout


def test_make_uninstall_refuses_while_enabled_and_keeps_an_edited_conf(build_dir, installed):
    dest, available, enabled = installed
    module = dest / pathlib.Path(apxs("LIBEXECDIR")).relative_to("/") / "mod_autotls.so"
    conf = available / "autotls.conf"
    conf.write_text(conf.read_text() + "# edited by the admin\n")
    enabled.mkdir(parents=True)
    (enabled / "autotls.load").symlink_to("../mods-available/autotls.load")
    proc = make(build_dir, "uninstall", dest, check=False)
    assert proc.returncode != 0
    assert "a2dismod autotls" in proc.stderr and "nothing was removed" in proc.stderr
    assert module.is_file() and (available / "autotls.load").is_file(), \
        "a refused uninstall removed files: the enabled link would dangle"
    (enabled / "autotls.load").unlink()
    make(build_dir, "uninstall", dest)
    assert not module.exists() and not (available / "autotls.load").exists()
    assert conf.read_text().endswith("# edited by the admin\n"), "uninstall removed an edited conf"


def test_unedited_conf_goes_with_make_uninstall(build_dir, installed):
    dest, available, _ = installed
    make(build_dir, "uninstall", dest)
    assert not (available / "autotls.conf").exists()


def test_debian_changelog_version_is_the_configure_version():
    ac_init = re.search(r"AC_INIT\(\[mod_autotls\], \[([^\]]+)\]",
                        (REPO / "configure.ac").read_text()).group(1)
    changelog = (REPO / "debian" / "changelog").read_text().splitlines()[0]
    version = re.match(r"^mod-autotls \(([^)]+)\) ", changelog).group(1)
    assert version == ac_init, "debian/changelog says %s, configure.ac %s" % (version, ac_init)


def test_man_page_renders_without_warnings_and_names_every_command_and_option():
    if shutil.which("man") is None:
        pytest.skip("man is not installed")
    page = REPO / "docs" / "autotls.1"
    proc = subprocess.run(["man", "--warnings", "-l", str(page)], capture_output=True,
                          text=True, env=dict(os.environ, MANWIDTH="80"), timeout=60)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    text = proc.stdout
    source = (REPO / "tools" / "autotls.c").read_text()
    options = re.findall(r'^\s*\{"([a-z-]+)", [A-Z_\']+', source, re.M)
    commands = re.findall(r'^\s*"  ([a-z]+)\s{2,}', source, re.M)
    assert len(options) >= 15 and len(commands) >= 5, (options, commands)
    missing = [o for o in options if "--" + o not in text]
    missing += [c for c in commands if not re.search(r"^\s+%s\b" % c, text, re.M)]
    for sub in ("account show", "account rollover", "account update"):
        if sub not in text:
            missing.append(sub)
    assert not missing, "autotls.1 does not describe: %s" % missing


def test_admin_guide_lists_every_log_id_the_sources_have():
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "log_ids.py"), "--check"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


SPDX = "SPDX-License-Identifier: Apache-2.0"
SPDX_LINES = 2  # the first line, or the second after a #! line


def test_every_source_file_carries_the_spdx_license_line():
    listed = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    missing = []
    for rel in listed.stdout.split():
        path = REPO / rel
        if not path.is_file() or path.suffix not in (".c", ".h", ".py", ".sh", ".cgi"):
            continue
        head = path.read_text(errors="replace").splitlines()[:SPDX_LINES]
        if not any(SPDX in line for line in head):
            missing.append(rel)
    assert not missing, "no %r line at the top of: %s" % (SPDX, missing)
