# SPDX-License-Identifier: Apache-2.0
"""docs/SECURITY.md names, for each claim, the test that fails when the protection goes: every
test it names must exist, or the page promises a proof nobody runs.

The one idea to hold: references are read as written, `name.py::test_x` (pytest, under
tests/integration) and `name.c::test_x` (Check, under tests/unit); a trailing `*` stands for a
family of tests, and at least one must exist.
"""

import re

REF_RE = re.compile(r"`([a-z_]+\.(?:py|c))::(test_[a-z0-9_]*\*?)")
MIN_REFS = 40  # the page names far more: fewer means the pattern stopped matching


def test_every_test_the_security_page_names_exists(repo_root):
    text = (repo_root / "docs" / "SECURITY.md").read_text()
    refs = REF_RE.findall(text)
    assert len(refs) >= MIN_REFS, refs
    missing = []
    for filename, name in refs:
        folder = "integration" if filename.endswith(".py") else "unit"
        source = (repo_root / "tests" / folder / filename)
        body = source.read_text() if source.is_file() else ""
        pattern = re.escape(name.rstrip("*")) + (r"\w*" if name.endswith("*") else r"\b")
        if not re.search(r"(def |START_TEST\()" + pattern, body):
            missing.append("%s::%s" % (filename, name))
    assert not missing, "docs/SECURITY.md names tests that do not exist: %s" % missing
