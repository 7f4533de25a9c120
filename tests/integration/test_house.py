# SPDX-License-Identifier: Apache-2.0
"""Rules of the house that a reader can check on the sources alone (../shared/STYLE.md).

The one idea to hold: every source file says its licence on its first line (C) or right after
its shebang (scripts, python), as httpd does; a file added without it fails here, by name.
"""

C_SPDX = "/* SPDX-License-Identifier: Apache-2.0 */"
SCRIPT_SPDX = "# SPDX-License-Identifier: Apache-2.0"
C_DIRS = ("mod_autotls", "include", "tools", "tests/unit", "tests/fuzz", "tests/integration")
SCRIPT_DIRS = ("scripts", "tests", "bench", ".ci")
SCRIPT_SUFFIXES = (".py", ".sh", ".cgi")
# Inputs and fixtures, not sources: fuzz corpora, regression inputs, captured data.
NOT_SOURCE = ("corpus", "regressions", "data", "__pycache__")


def _sources(root, dirs, keep):
    for d in dirs:
        for path in sorted((root / d).rglob("*")):
            rel = path.relative_to(root)
            if path.is_file() and not set(rel.parts) & set(NOT_SOURCE) and keep(path):
                yield path


def _is_script(path):
    if path.suffix in SCRIPT_SUFFIXES:
        return True
    with open(path, "rb") as f:
        return path.suffix == "" and f.read(2) == b"#!"


def _spdx_line(path):
    """The line that must carry the SPDX identifier: the first, or the one after a shebang."""
    lines = path.read_text().splitlines()
    if lines and lines[0].startswith("#!"):
        return lines[1] if len(lines) > 1 else ""
    return lines[0] if lines else ""


def test_every_c_source_starts_with_its_spdx_line(repo_root):
    files = list(_sources(repo_root, C_DIRS, lambda p: p.suffix in (".c", ".h")))
    assert len(files) > 100, "found too few C sources: %d" % len(files)
    missing = [str(p.relative_to(repo_root)) for p in files
               if _spdx_line(p) != C_SPDX]
    assert not missing, "C sources without %r as first line: %s" % (C_SPDX, missing)


def test_every_script_carries_its_spdx_line_after_the_shebang(repo_root):
    files = list(_sources(repo_root, SCRIPT_DIRS, _is_script))
    assert len(files) > 30, "found too few scripts: %d" % len(files)
    missing = [str(p.relative_to(repo_root)) for p in files
               if _spdx_line(p) != SCRIPT_SPDX]
    assert not missing, "scripts without %r: %s" % (SCRIPT_SPDX, missing)
