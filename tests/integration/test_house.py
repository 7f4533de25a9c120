# SPDX-License-Identifier: Apache-2.0
"""Rules of the house that a reader can check on the sources alone.

The one idea to hold: every source file says its licence on its first line (C) or right after
its shebang (scripts, python), as httpd does; a file added without it fails here, by name.
"""

import re

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


CITATION_RE = re.compile(r'docs/ARCHITECTURE\.md, "([^"]+)"')
CITING_DIRS = ("mod_autotls", "include", "tools", "tests", "bench", "scripts")


def _citing_files(root):
    return _sources(root, CITING_DIRS, lambda p: p.suffix in (".c", ".h", ".py", ".sh"))


def test_comments_cite_architecture_sections_that_exist(repo_root):
    sections = set(re.findall(r"^## (.+)$", (repo_root / "docs" / "ARCHITECTURE.md").read_text(),
                              re.M))
    cited, dangling = 0, []
    for path in _citing_files(repo_root):
        for m in CITATION_RE.finditer(path.read_text()):
            cited += 1
            if m.group(1) not in sections:
                dangling.append("%s: %r" % (path.relative_to(repo_root), m.group(1)))
    assert cited >= 10, "found too few citations of docs/ARCHITECTURE.md: %d" % cited
    assert not dangling, "citations of sections docs/ARCHITECTURE.md does not have: %s" % dangling


def test_no_source_cites_a_design_document_outside_the_repository(repo_root):
    citing = [str(p.relative_to(repo_root)) for p in _citing_files(repo_root)
              if re.search(r"\bDESIGN(\.md)? (§|section)", p.read_text())]
    assert not citing, "cite DESIGN.md, which is not in the repository: %s" % citing
