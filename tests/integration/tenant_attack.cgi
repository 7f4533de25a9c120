#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A hostile tenant: CGI code run by mod_cgid as httpd's User, like a hosted customer's script.

The one idea to hold: this script only *tries*. test_security.py POSTs a JSON object of
parameters to ?<attack>; the script performs that attack with plain system calls and prints
one JSON object saying what each call did ("ok" or the errno name). It never decides whether
an attack should have worked: the test does. Standard library only (it runs as www-data with
the CGI environment, so nothing of the test's own Python path is there).
"""

import ctypes
import errno
import hashlib
import json
import os
import subprocess
import sys

READ_MAX = 1024 * 1024  # bytes read of one file: enough to find a PEM header
FIND_TIMEOUT = 20
PTRACE_ATTACH = 16
PTRACE_DETACH = 17
WAIT_ALL = 0x40000000  # __WALL: wait for a traced process that is not our child


def err(e):
    return errno.errorcode.get(e.errno, str(e.errno))


def attempt(fn, *args):
    """'ok' (or what fn returned, when not None) or the errno name of the OSError it raised."""
    try:
        value = fn(*args)
    except OSError as e:
        return err(e)
    return "ok" if value is None else value


def create(path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    os.write(fd, b"tenant was here\n")
    os.close(fd)


def overwrite(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    os.write(fd, text.encode())
    os.close(fd)


def read(path):
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        data = os.read(fd, READ_MAX)
    finally:
        os.close(fd)
    return {"sha256": hashlib.sha256(data).hexdigest(),
            "private_key": b"PRIVATE KEY" in data, "bytes": len(data)}


# --- attacks: each takes the POSTed parameters and returns a JSON-able result -------------------


def whoami(params):
    return {"uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(),
            "groups": os.getgroups(), "pid": os.getpid()}


def plant(params):
    """Writes each {"path", "text"}: create (O_EXCL) when new, else truncate and overwrite."""
    out = {}
    for item in params["files"]:
        path = item["path"]
        out[path] = attempt(overwrite, path, item["text"])
    return out


def mkdirs(params):
    return {path: attempt(os.makedirs, path, 0o755, True) for path in params["dirs"]}


def read_all(params):
    """Tries to read each path the test found in the store, and walks the store itself as far
    as it can list: {"read": {path: result}, "listed": [dirs listed], "seen": [paths seen]}."""
    reads = {path: attempt(read, path) for path in params["paths"]}
    listed, seen = [], []
    for dirpath, dirnames, filenames in os.walk(params["store"], onerror=lambda e: None):
        listed.append(dirpath)
        for name in filenames + dirnames:
            path = os.path.join(dirpath, name)
            seen.append(path)
            if path not in reads and os.path.isfile(path):
                reads[path] = attempt(read, path)
    return {"read": reads, "listed": listed, "seen": seen}


def writable(params):
    """`find STORE -writable` as this user, and access(W_OK) on every path the test names."""
    done = subprocess.run(["/usr/bin/find", params["store"], "-writable"], capture_output=True,
                          text=True, timeout=FIND_TIMEOUT, stdin=subprocess.DEVNULL)
    return {"find": done.stdout.split("\n") if done.stdout else [],
            "find_stderr": done.stderr, "find_rc": done.returncode,
            "access": [p for p in params["paths"] if os.access(p, os.W_OK)]}


def tree(root, outside):
    """root/ with a file and a symlink to an outside file: what the tenant moves around."""
    os.mkdir(root, 0o755)
    with open(os.path.join(root, "file"), "w") as f:
        f.write("tree file\n")
    os.symlink(outside, os.path.join(root, "link"))


def intact_tree(root, outside):
    try:
        with open(os.path.join(root, "file")) as f:
            ok = f.read() == "tree file\n"
        return ok and os.readlink(os.path.join(root, "link")) == outside
    except OSError:
        return False


def dir_ops(params):
    """For each target directory: create a file, mkdir, symlink, rename a file in, move a tree
    in, hard-link a file in, replace and remove an existing entry. Sources live in the
    tenant's scratch directory; {"ops": {dir: {op: result}}, "sources_intact": bool}."""
    scratch, outside = params["scratch"], params["outside"]
    out = {}
    intact = True
    for i, target in enumerate(params["dirs"]):
        src = os.path.join(scratch, "src%d" % i)
        os.mkdir(src, 0o700)
        for name in ("moved", "hard", "replacement"):
            with open(os.path.join(src, name), "w") as f:
                f.write("tenant %s\n" % name)
        tree(os.path.join(src, "tree"), outside)
        ops = {
            "create": attempt(create, os.path.join(target, "tenant-new")),
            "mkdir": attempt(os.mkdir, os.path.join(target, "tenant-dir")),
            "symlink": attempt(os.symlink, outside, os.path.join(target, "tenant-link")),
            "rename_file": attempt(os.rename, os.path.join(src, "moved"),
                                   os.path.join(target, "tenant-moved")),
            "rename_tree": attempt(os.rename, os.path.join(src, "tree"),
                                   os.path.join(target, "tenant-tree")),
            "hardlink": attempt(os.link, os.path.join(src, "hard"),
                                os.path.join(target, "tenant-hard")),
        }
        existing = params["existing"].get(target, {})
        if existing.get("file"):
            victim = os.path.join(target, existing["file"])
            ops["replace_file"] = attempt(os.rename, os.path.join(src, "replacement"), victim)
            ops["unlink_file"] = attempt(os.unlink, victim)
        if existing.get("dir"):
            victim = os.path.join(target, existing["dir"])
            ops["rename_dir_away"] = attempt(os.rename, victim, os.path.join(src, "stolen"))
            ops["rmdir_dir"] = attempt(os.rmdir, victim)
        out[target] = ops
        if not params.get("control"):
            intact = intact and intact_tree(os.path.join(src, "tree"), outside)
            for name in ("moved", "hard", "replacement"):
                intact = intact and os.path.isfile(os.path.join(src, name))
    return {"ops": out, "sources_intact": intact}


def procs(params):
    """Signals, traces and reads the memory of each pid the test names; with "signal_only",
    only kill -0 (the control on the tenant's own processes must not stop a server child)."""
    libc = ctypes.CDLL(None, use_errno=True)
    out = {}
    for pid in params["pids"]:
        r = {"kill0": attempt(os.kill, pid, 0)}
        if params.get("signal_only"):
            out[str(pid)] = r
            continue
        if libc.ptrace(PTRACE_ATTACH, pid, None, None) == 0:
            r["ptrace"] = "ok"
            os.waitpid(pid, WAIT_ALL)  # the attach stop, or the detach would fail and leave it
            libc.ptrace(PTRACE_DETACH, pid, None, None)
        else:
            r["ptrace"] = errno.errorcode.get(ctypes.get_errno(), "?")
        for name in ("environ", "mem", "maps", "cmdline"):
            r[name] = attempt(read, "/proc/%d/%s" % (pid, name))
        out[str(pid)] = r
    return out


def farm(params):
    """Plants symlinks (to the store and to outside files) and look-alike trees where the tenant
    may write: {"links": {path: target}, "errors": {path: errno}}."""
    links, errors = {}, {}
    for item in params["links"]:
        try:
            os.makedirs(os.path.dirname(item["path"]), 0o755, exist_ok=True)
            os.symlink(item["target"], item["path"])
            links[item["path"]] = item["target"]
        except OSError as e:
            errors[item["path"]] = err(e)
    return {"links": links, "errors": errors}


ATTACKS = {f.__name__: f for f in (whoami, plant, mkdirs, read_all, writable, dir_ops, procs,
                                   farm)}


def main():
    attack = os.environ.get("QUERY_STRING", "")
    length = int(os.environ.get("CONTENT_LENGTH") or 0)
    params = json.loads(sys.stdin.read(length) or "{}") if length else {}
    if attack not in ATTACKS:
        result, status = {"error": "no such attack: %r" % attack}, "400 Bad Request"
    else:
        try:
            result, status = ATTACKS[attack](params), "200 OK"
        except Exception as e:  # the test shows what broke
            result, status = {"error": "%s: %s" % (type(e).__name__, e)}, "500 Internal Error"
    body = json.dumps(result)
    sys.stdout.write("Status: %s\r\nContent-Type: application/json\r\n\r\n%s" % (status, body))


if __name__ == "__main__":
    main()
