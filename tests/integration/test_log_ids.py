# SPDX-License-Identifier: Apache-2.0
"""Every kind of log line has its own id (../shared/STYLE.md: one APLOGNO-style number per
message kind, so that a user can search for it).

The one idea to hold: the ids are read from the sources, as written (AUTOTLS_LOGNO(NNNN), or
"autotls-NNNN: " where glue code logs through the library): an id may repeat only inside one
file (one message kind worded in two branches), never across files, where two engineers picked
the same number for different messages.
"""

import collections
import re

ID_RE = re.compile(r'AUTOTLS_LOGNO\((\d{4})\)|"autotls-(\d{4}): ')
LIBRARY_ID = "0001"  # what the log glue puts before every line of the library


def test_each_log_id_belongs_to_one_file(repo_root):
    where = collections.defaultdict(set)
    for path in list((repo_root / "mod_autotls").rglob("*.c")) + list(
            (repo_root / "tools").rglob("*.c")):
        for m in ID_RE.finditer(path.read_text()):
            where[m.group(1) or m.group(2)].add(str(path.relative_to(repo_root)))
    assert len(where) > 50, "found too few log ids: %d" % len(where)
    shared = {i: sorted(files) for i, files in where.items()
              if len(files) > 1 and i != LIBRARY_ID}
    assert not shared, "log ids used in more than one file: %s" % shared
