#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""log_ids.py: the table of every log id in docs/ADMIN.md, read from the sources.

The one idea: the id, the level and the message of each row come from the code (every
`..._LOGNO(NNNN)` and every `"autotls-NNNN: ` string under mod_autotls/ and tools/), so the table
cannot drift from what the server logs; only the last column, what the admin should do, is
written by people, and --update keeps it for every id that is still there.

  scripts/log_ids.py --check   exit 1 (saying why) when the table is not what the sources give,
                               or an id has no advice yet
  scripts/log_ids.py --update  rewrite the table; new ids get an empty advice cell to fill in
  scripts/log_ids.py --list    print id, level, file, message (tab separated)

Standard library only.
"""

import argparse
import collections
import pathlib
import re
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "ADMIN.md"
SOURCE_DIRS = ("mod_autotls", "tools")
BEGIN = ("<!-- log-ids:begin: scripts/log_ids.py --update writes this table; edit only the last "
         "column -->")
END = "<!-- log-ids:end -->"
HEADER = ("| id | level | message (`…` stands for a value) | where | what to do |\n"
          "|---|---|---|---|---|")

# An id as the glue writes it (AUTOTLS_LOGNO(0410), or any other *_LOGNO), or spelled out.
ID_RE = re.compile(r'\b[A-Z_]*LOGNO\((\d{4})\)|"autotls-(\d{4}): ')
# What follows the id: string literals, with macros (APR_TIME_T_FMT, ...) between them, or one
# macro that names the whole message (#define NAME "...").
LITERALS_RE = re.compile(r'(?:\s*(?:"(?:[^"\\]|\\.)*"|[A-Z][A-Z0-9_]*(?=\s*")|[A-Z][A-Z0-9_]*_FMT\b))+')
MACRO_RE = re.compile(r"\s*([A-Z][A-Z0-9_]*)\b")
DEFINE_RE = r'#define\s+%s\s+((?:\\\n|"(?:[^"\\]|\\.)*"|[ \t])+)'
HELPER_RE = r"\n[a-z][^\n;]*\b%s\s*\([^;{]*\)\s*\{"  # a helper's definition in the file
STRING_RE = re.compile(r'"((?:[^"\\]|\\.)*)"|([A-Z][A-Z0-9_]*)')
FORMAT_RE = re.compile(r"%(?:[-+ #0]*\d*(?:\.\d+)?(?:hh|h|ll|l|z|j|t|L)?[a-zA-Z]|%)")
LEVEL_RE = re.compile(r"APLOG_(EMERG|ALERT|CRIT|ERR|WARNING|NOTICE|INFO|DEBUG|TRACE\d)|"
                      r"AT_LOG_(ERR|WARN|NOTICE|INFO|DEBUG|TRACE)")
CALL_RE = re.compile(r"\b(?:ap_log_\w+|at_log\w*|autotls_log\w*)\s*\(")
LEVEL_NAMES = {"ERR": "error", "WARN": "warning"}
# log_glue.c: 0000 is its pattern for "some id", never logged; 0001 marks the library's lines,
# whose level and text are the library's own.
NOT_IDS = {"0000"}
LIBRARY = {"0001": ("any", "(a line of the library: its own text follows)")}
# Helpers that keep a message to log it later, at their caller's level.
DEFERRED_LEVELS = {"twin_note": "info"}  # twin.c logs its notes at APLOG_INFO after pre_config
LOOKBACK = 400  # characters before an id searched for its call and level

Row = collections.namedtuple("Row", "id level message where")


def _define(name, text):
    """The string a macro stands for, from this file or include/ and mod_autotls/ headers."""
    sources = [text] + [p.read_text(errors="replace") for top in ("include", "mod_autotls")
                        for p in sorted((REPO / top).rglob("*.h"))]
    for source in sources:
        m = re.search(DEFINE_RE % re.escape(name), source)
        if m:
            return m.group(1)
    return ""


def _message(text, start):
    """The message text after an id at start: its literals joined, formats shown as `…`."""
    m = LITERALS_RE.match(text, start)
    if m:
        literals = m.group(0)
    else:
        macro = MACRO_RE.match(text, start)
        literals = _define(macro.group(1), text) if macro else ""
    parts = []
    for lit, macro in STRING_RE.findall(literals):
        # a format macro completes the "%" before it (APR_SIZE_T_FMT); any other is a value
        parts.append(("d" if macro.endswith("_FMT") else "%s") if macro else lit)
    msg = "".join(parts)
    msg = msg.replace('\\"', '"').replace("\\n", " ").replace("\\\\", "\\")
    return FORMAT_RE.sub(lambda f: "%" if f.group(0) == "%%" else "…", msg).strip()


def _level(text, pos):
    """The level(s) of the call an id at pos belongs to, e.g. "notice/error"."""
    window = text[max(0, pos - LOOKBACK):pos]
    calls = list(CALL_RE.finditer(window))
    if calls:
        window = window[calls[-1].start():]
    else:  # logged through a helper of the file (twin_note(...)): the helper's own level
        helpers = list(re.finditer(r"\b([a-z]\w*)\s*\(", window))
        if helpers and helpers[-1].group(1) in DEFERRED_LEVELS:
            return DEFERRED_LEVELS[helpers[-1].group(1)]
        helper = re.search(HELPER_RE % re.escape(helpers[-1].group(1)), text) if helpers else None
        if helper:
            window = text[helper.end():helper.end() + LOOKBACK]
    levels = []
    for m in LEVEL_RE.finditer(window):
        name = (m.group(1) or m.group(2))
        name = LEVEL_NAMES.get(name, name.lower())
        if name not in levels:
            levels.append(name)
    return "/".join(levels) or "—"


def scan(repo=REPO):
    """Every id in the sources: {id: Row}, messages of one id joined with " / "."""
    found = collections.OrderedDict()
    for top in SOURCE_DIRS:
        for path in sorted((repo / top).rglob("*.c")):
            text = path.read_text(errors="replace")
            rel = str(path.relative_to(repo))
            for m in ID_RE.finditer(text):
                ident = m.group(1) or m.group(2)
                if ident in NOT_IDS:
                    continue
                message = _message(text, m.end()) if m.group(1) else _message(
                    text, m.start())[len("autotls-0000: "):]
                level = _level(text, m.start())
                row = found.get(ident)
                if row is None:
                    found[ident] = Row(ident, level, [message], [rel])
                    continue
                if message and message not in row.message:
                    row.message.append(message)
                if rel not in row.where:
                    row.where.append(rel)
                if level != "—":
                    merged = [x for x in row.level.split("/") if x != "—"]
                    merged += [x for x in level.split("/") if x not in merged]
                    found[ident] = row._replace(level="/".join(merged))
    for ident, (level, message) in LIBRARY.items():
        if ident in found:
            found[ident] = found[ident]._replace(level=level, message=[message])
    return dict(sorted(found.items()))


def _cell(text):
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").strip()


def _advice(doc_text):
    """{id: what to do} from the table now in the document."""
    advice = {}
    inside = doc_text.split(BEGIN, 1)[-1].split(END, 1)[0] if BEGIN in doc_text else ""
    for line in inside.splitlines():
        m = re.match(r"^\| `autotls-(\d{4})` \|", line)
        if m:
            cells = re.split(r"(?<!\\)\|", line)
            advice[m.group(1)] = cells[-2].strip() if len(cells) >= 3 else ""
    return advice


def table(rows, advice):
    lines = [HEADER]
    for ident, row in rows.items():
        where = ", ".join("`%s`" % w.split("/")[-1] for w in row.where)
        lines.append("| `autotls-%s` | %s | %s | %s | %s |" % (
            ident, row.level, _cell(" / ".join(m for m in row.message if m)), where,
            advice.get(ident, "")))
    return "\n".join(lines)


def render(doc_text, rows):
    if BEGIN not in doc_text or END not in doc_text:
        raise SystemExit("%s has no %r ... %r section" % (DOC, BEGIN, END))
    head, rest = doc_text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return head + BEGIN + "\n" + table(rows, _advice(doc_text)) + "\n" + END + tail


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--check", action="store_true")
    group.add_argument("--update", action="store_true")
    group.add_argument("--list", action="store_true")
    args = ap.parse_args(argv)
    rows = scan()
    if args.list:
        for row in rows.values():
            print("\t".join((row.id, row.level, ",".join(row.where), " / ".join(row.message))))
        return 0
    doc_text = DOC.read_text()
    new_text = render(doc_text, rows)
    missing = sorted(i for i in rows if not _advice(new_text).get(i))
    if args.update:
        if new_text != doc_text:
            DOC.write_text(new_text)
            print("log_ids: %s updated (%d ids)" % (DOC.relative_to(REPO), len(rows)))
        if missing:
            print("log_ids: write what to do for: %s" % ", ".join(missing))
        return 0
    problems = []
    if new_text != doc_text:
        old = set(_advice(doc_text))
        added, gone = sorted(set(rows) - old), sorted(old - set(rows))
        problems.append("the log id table of %s is not what the sources say (new: %s; gone: "
                        "%s; or a message or level changed): run scripts/log_ids.py --update"
                        % (DOC.relative_to(REPO), ", ".join(added) or "none",
                           ", ".join(gone) or "none"))
    if missing:
        problems.append("ids without advice in %s: %s" % (DOC.relative_to(REPO),
                                                           ", ".join(missing)))
    for p in problems:
        print("log_ids: " + p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
