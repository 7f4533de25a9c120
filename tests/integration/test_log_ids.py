# SPDX-License-Identifier: Apache-2.0
"""Every kind of log line has its own id (../shared/STYLE.md: one APLOGNO-style number per
message kind, so that a user can search for it).

The one idea to hold: the ids are read from the sources, as written (AUTOTLS_LOGNO(NNNN) in the
httpd glue, AT_LOGNO(NNNN) in the core library, or "autotls-NNNN: " where glue code logs
through the library): an id may repeat only inside one file (one message kind worded in two
branches), never across files, where two engineers picked the same number for different
messages. Every call that writes a line carries one: the library's at_log() (else the glue
prints the catch-all autotls-0001 before it) and the glue's ap_log_*error() alike.
"""

import collections
import re

ID_RE = re.compile(r'\b(?:AUTOTLS_|AT_|SLOTS_)LOGNO\((\d{4})\)|"autotls-(\d{4}): ')
LIBRARY_ID_RE = re.compile(r"\bAT_LOGNO\((\d{4})\)")
LIBRARY_IDS = range(1000, 1600)  # at_core.h: the library's ids; the glue has 0001-0999
GLUE_ID_RE = re.compile(r"\b(?:AUTOTLS_|SLOTS_)LOGNO\(\d{4}\)|^\"autotls-\d{4}: ")
# The calls that write a line, and which of their arguments is the format (0-based).
GLUE_LOG_CALLS = {"ap_log_error": 4, "ap_log_perror": 4, "ap_log_cerror": 4,
                  "ap_log_rerror": 4, "autotls_log_error": 4}
LIBRARY_LOG_CALL = ("at_log", 2)
# Calls that hand on a line whose id is already in its text: log_glue.c (autotls_log_error, the
# library's lines) and twin.c (notes of pre_config, each written with its AUTOTLS_LOGNO).
FORWARDING = {"mod_autotls/log_glue.c", "mod_autotls/twin.c"}
FORWARDED_FORMATS = {'"%s%s"', '"%s (%s)"', '"%s"'}


def _sources(repo_root, *dirs):
    for d in dirs:
        for path in sorted((repo_root / d).rglob("*.c")):
            yield str(path.relative_to(repo_root)), path.read_text()


def _strip_comments(text):
    """The text with /* */ and // comments blanked (strings kept), offsets unchanged."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text[i] in "\"'":
            j = i + 1
            while j < n and text[j] != text[i]:
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _call_args(text, start):
    """The top-level arguments of the call whose "(" is at start, as stripped strings."""
    args, depth, i, arg_start = [], 0, start, start + 1
    while i < len(text):
        c = text[i]
        if c in "\"'":
            j = i + 1
            while text[j] != c:
                j += 2 if text[j] == "\\" else 1
            i = j
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                args.append(text[arg_start:i].strip())
                return args
        elif c == "," and depth == 1:
            args.append(text[arg_start:i].strip())
            arg_start = i + 1
        i += 1
    raise AssertionError("unbalanced call at offset %d" % start)


def _calls(text, name):
    """(line, args) of every call of name in text (not its declaration or definition)."""
    code = _strip_comments(text)
    for m in re.finditer(r"\b%s\s*\(" % re.escape(name), code):
        line_start = code.rfind("\n", 0, m.start()) + 1
        before = code[line_start:m.start()].strip()
        if before.startswith(("void", "#define")) or before.endswith("*"):
            continue
        yield code.count("\n", 0, m.start()) + 1, _call_args(code, m.end() - 1)


def test_each_log_id_belongs_to_one_file(repo_root):
    where = collections.defaultdict(set)
    for path, text in _sources(repo_root, "mod_autotls", "tools"):
        for m in ID_RE.finditer(text):
            where[m.group(1) or m.group(2)].add(path)
    assert len(where) > 200, "found too few log ids: %d" % len(where)
    shared = {i: sorted(files) for i, files in where.items() if len(files) > 1}
    assert not shared, "log ids used in more than one file: %s" % shared


def test_library_ids_are_the_library_range_and_the_library_only(repo_root):
    outside, misplaced = [], []
    for path, text in _sources(repo_root, "mod_autotls", "tools"):
        for m in LIBRARY_ID_RE.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            if int(m.group(1)) not in LIBRARY_IDS:
                outside.append("%s:%d %s" % (path, line, m.group(0)))
            if not path.startswith("mod_autotls/lib/"):
                misplaced.append("%s:%d %s" % (path, line, m.group(0)))
    assert not outside, "library ids outside %d-%d: %s" % (
        LIBRARY_IDS[0], LIBRARY_IDS[-1], outside)
    assert not misplaced, "AT_LOGNO outside the library (the glue has AUTOTLS_LOGNO): %s" % (
        misplaced)


def test_every_library_log_call_carries_an_id(repo_root):
    name, fmt_index = LIBRARY_LOG_CALL
    calls, missing = 0, []
    for path, text in _sources(repo_root, "mod_autotls"):
        for line, args in _calls(text, name):
            calls += 1
            fmt = args[fmt_index] if len(args) > fmt_index else ""
            wanted = LIBRARY_ID_RE if path.startswith("mod_autotls/lib/") else GLUE_ID_RE
            if not wanted.match(fmt):
                missing.append("%s:%d %s" % (path, line, fmt[:60]))
    assert calls > 150, "found too few at_log calls: %d" % calls
    assert not missing, "at_log lines without their own id (the glue would print " \
        "autotls-0001): %s" % missing


def test_every_glue_log_call_carries_an_id(repo_root):
    calls, missing = 0, []
    for path, text in _sources(repo_root, "mod_autotls"):
        if path.startswith("mod_autotls/lib/"):
            continue
        for name, fmt_index in GLUE_LOG_CALLS.items():
            for line, args in _calls(text, name):
                calls += 1
                # APLOG_MARK, or the file, line and module index it stands for spelled out
                at = fmt_index if args[0] == "APLOG_MARK" else fmt_index + 2
                fmt = args[at] if len(args) > at else ""
                if path in FORWARDING and fmt in FORWARDED_FORMATS:
                    continue
                if not re.match(r"\bAUTOTLS_LOGNO\(\d{4}\)", fmt):
                    missing.append("%s:%d %s(... %s" % (path, line, name, fmt[:60]))
    assert calls > 80, "found too few glue log calls: %d" % calls
    assert not missing, "glue log lines without AUTOTLS_LOGNO: %s" % missing
