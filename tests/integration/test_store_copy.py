# SPDX-License-Identifier: Apache-2.0
"""`autotls store copy`: a single server's store into Redis and back, byte for byte.

The one idea to hold: the store copied is a real one (an account registered at this run's pebble
and a certificate issued with it), Redis is a real redis-server this module starts on a free
loopback port, and every check reads what is really there: the files of the store copied back,
and the raw values in Redis (over the socket, around the module): private keys sealed, not PEM.
"""

import os
import shutil
import socket
import subprocess
import time

import pytest

from pebble import LOOPBACK, free_port
from test_cli import explain, issue, run

REDIS_BIN = "redis-server"
REDIS_START_TIMEOUT = 10  # seconds until the started redis-server must answer PING
KEY_BYTES = 32
SITE = "copy.store.test"
SET_ITEMS = ("privkey.pem", "fullchain.pem")


def resp_command(port, *words):
    """One command in RESP2 over a plain socket; returns the raw reply bytes (enough for GET)."""
    data = b"*%d\r\n" % len(words)
    for w in words:
        w = w.encode() if isinstance(w, str) else w
        data += b"$%d\r\n%s\r\n" % (len(w), w)
    with socket.create_connection((LOOPBACK, port), timeout=5) as s:
        s.sendall(data)
        reply = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
            if reply.startswith(b"$"):
                head, _, rest = reply.partition(b"\r\n")
                if int(head[1:]) < 0 or len(rest) >= int(head[1:]) + 2:
                    break
            elif reply.endswith(b"\r\n"):
                break
    return reply


def redis_get(port, key):
    reply = resp_command(port, "GET", key)
    head, _, rest = reply.partition(b"\r\n")
    assert head.startswith(b"$"), reply[:100]
    n = int(head[1:])
    return None if n < 0 else rest[:n]


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory):
    if shutil.which(REDIS_BIN) is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([REDIS_BIN, "--port", str(port), "--bind", LOOPBACK, "--save", "",
                             "--appendonly", "no", "--dir", str(workdir), "--daemonize", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + REDIS_START_TIMEOUT
    while True:
        try:
            if resp_command(port, "PING").startswith(b"+PONG"):
                break
        except OSError:
            pass
        assert time.monotonic() < deadline, "redis-server did not start"
        time.sleep(0.05)
    yield port
    proc.terminate()
    proc.wait(timeout=10)


def files_of(root, groups=("accounts", "staging")):
    """{relative path: bytes} of every regular file under root/<group>."""
    out = {}
    for group in groups:
        for dirpath, _, names in os.walk(os.path.join(root, group)):
            for name in names:
                path = os.path.join(dirpath, name)
                with open(path, "rb") as f:
                    out[os.path.relpath(path, root)] = f.read()
    return out


def stage_the_live_set(store):
    """A staging set as the renewal process leaves one: the issued key and chain."""
    staging = os.path.join(store, "staging", SITE)
    os.makedirs(staging, mode=0o700)
    os.chmod(os.path.join(store, "staging"), 0o700)
    for item in SET_ITEMS:
        shutil.copyfile(os.path.join(store, "live", SITE, item), os.path.join(staging, item))
        os.chmod(os.path.join(staging, item), 0o600 if item == "privkey.pem" else 0o644)


def test_store_copied_to_redis_and_back_is_byte_identical(autotls_cli, pebble, redis_port,
                                                          tmp_path):
    store = str(tmp_path / "store")
    issue(autotls_cli, pebble, store, [SITE])
    stage_the_live_set(store)
    key_file = tmp_path / "store.key"
    key_file.write_bytes(os.urandom(KEY_BYTES))
    key_file.chmod(0o600)
    url = "redis://%s:%d/0" % (LOOPBACK, redis_port)

    there = run(autotls_cli, "store", "copy", "--from", store, "--to", url, "--key-file",
                key_file)
    assert there.returncode == 0, explain(there)
    assert "1 staging sets" in there.stdout, explain(there)
    back_dir = str(tmp_path / "back")
    back = run(autotls_cli, "store", "copy", "--from", url, "--to", back_dir, "--key-file",
               key_file)
    assert back.returncode == 0, explain(back)

    original, copied = files_of(store), files_of(back_dir)
    assert any(p.endswith("account.key") for p in original), sorted(original)
    assert os.path.join("staging", SITE, "privkey.pem") in original
    assert copied == original
    # Private keys came back as private files.
    for path in copied:
        if path.endswith(("account.key", "privkey.pem")):
            assert os.stat(os.path.join(back_dir, path)).st_mode & 0o077 == 0, path
    # In Redis: sealed, no PEM, not the key file's bytes; live/ was never copied.
    sealed = redis_get(redis_port, "autotls:item:staging/%s/privkey.pem" % SITE)
    assert sealed is not None and sealed.startswith(b"ATSL")
    assert b"PRIVATE KEY" not in sealed and key_file.read_bytes()[:8] not in sealed
    account_keys = [p for p in original if p.endswith("account.key")]
    sealed = redis_get(redis_port, "autotls:item:" + account_keys[0].replace(os.sep, "/"))
    assert sealed.startswith(b"ATSL") and b"PRIVATE KEY" not in sealed
    assert redis_get(redis_port, "autotls:item:live/%s/privkey.pem" % SITE) is None


def test_copy_from_redis_with_another_key_fails_and_names_the_key(autotls_cli, redis_port,
                                                                  tmp_path):
    store = str(tmp_path / "store")
    staging = os.path.join(store, "staging", "other.store.test")
    os.makedirs(staging, mode=0o700)
    with open(os.path.join(staging, "privkey.pem"), "w") as f:
        f.write("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    os.chmod(os.path.join(staging, "privkey.pem"), 0o600)
    keys = []
    for name in ("a.key", "b.key"):
        k = tmp_path / name
        k.write_bytes(os.urandom(KEY_BYTES))
        k.chmod(0o600)
        keys.append(k)
    url = "redis://%s:%d/1" % (LOOPBACK, redis_port)
    there = run(autotls_cli, "store", "copy", "--from", store, "--to", url, "--key-file", keys[0])
    assert there.returncode == 0, explain(there)
    back = run(autotls_cli, "store", "copy", "--from", url, "--to", str(tmp_path / "back"),
               "--key-file", keys[1])
    assert back.returncode == 3, explain(back)
    assert "autotls:item:staging/other.store.test/privkey.pem" in back.stderr, explain(back)
    assert "BEGIN" not in back.stdout + back.stderr


def test_copy_refuses_a_redis_url_with_a_password_and_a_missing_key_file(autotls_cli, tmp_path):
    proc = run(autotls_cli, "store", "copy", "--from", str(tmp_path), "--to",
               "redis://u:hunter2@127.0.0.1:1")
    assert proc.returncode == 3, explain(proc)
    assert "AutoTLSStorePasswordFile" in proc.stderr and "hunter2" not in proc.stderr
    proc = run(autotls_cli, "store", "copy", "--from", str(tmp_path), "--to",
               "redis://127.0.0.1:1")
    assert proc.returncode == 3 and "AutoTLSStoreKeyFile" in proc.stderr, explain(proc)
    proc = run(autotls_cli, "store", "copy", "--from", str(tmp_path))
    assert proc.returncode == 2, explain(proc)
