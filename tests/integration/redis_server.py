# SPDX-License-Identifier: Apache-2.0
"""A real redis-server on a loopback port for the fleet tests (issue 13), stopped by pid.

The one idea to hold: the test owns this Redis entirely: a free port, a temp dir, no periodic
persistence (`--save "" --appendonly no`); stop() ends exactly the process start() made. A stop
with keep=True (`SHUTDOWN SAVE`) writes one snapshot into the temp dir, which the next start()
loads: an outage that loses nothing, as a Redis with persistence would have.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time

from pebble import LOOPBACK, free_port

REDIS_SERVER = "/usr/bin/redis-server"
REDIS_CLI = "/usr/bin/redis-cli"
START_TIMEOUT = 10.0  # seconds until a started redis-server answers PING
STOP_TIMEOUT = 10.0
CLI_TIMEOUT = 10.0
POLL = 0.05


def available():
    return os.access(REDIS_SERVER, os.X_OK) and os.access(REDIS_CLI, os.X_OK)


class RedisServer:
    def __init__(self):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="autotls-redis-")
        self.proc = None

    def url(self, db=0):
        return "redis://%s:%d/%d" % (LOOPBACK, self.port, db)

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def start(self):
        log = open(os.path.join(self.dir, "redis.log"), "a")
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", LOOPBACK, "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--daemonize", "no"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("redis-server exited: %s" % self.log())
            if self.cli("PING").strip() == "PONG":
                return self
            time.sleep(POLL)
        raise RuntimeError("redis-server did not answer within %.0f s" % START_TIMEOUT)

    def stop(self, keep=False):
        """Ends the redis-server start() made (by pid); keep: snapshot first (SHUTDOWN SAVE)."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = None
            return
        if keep:
            self.cli("SHUTDOWN", "SAVE")
        else:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT)
        self.proc = None

    def cli(self, *args, raw=False):
        """redis-cli's output of one command (text), "" when it failed to connect."""
        proc = subprocess.run([REDIS_CLI, "-h", LOOPBACK, "-p", str(self.port), *args],
                              capture_output=True, timeout=CLI_TIMEOUT, check=False)
        return proc.stdout if raw else proc.stdout.decode(errors="replace")

    def get(self, key):
        """The raw bytes of a string key (redis-cli appends one newline)."""
        out = self.cli("--no-raw", "EXISTS", key)
        if out.strip() != "(integer) 1":
            return None
        return self.cli("GET", key, raw=True)[:-1]

    def keys(self, pattern):
        return [k for k in self.cli("--scan", "--pattern", pattern).splitlines() if k]

    def used_memory(self):
        for line in self.cli("INFO", "memory").splitlines():
            if line.startswith("used_memory:"):
                return int(line.split(":", 1)[1])
        raise RuntimeError("no used_memory in INFO memory")

    def log(self):
        try:
            with open(os.path.join(self.dir, "redis.log"), errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""
