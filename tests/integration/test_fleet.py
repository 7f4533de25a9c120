# SPDX-License-Identifier: Apache-2.0
"""A fleet of nodes on one Redis store (issue 13): what each node serves, what pebble was asked.

Real redis-server (redis_server.py, a loopback port of its own), real pebble behind a counting
proxy (ari_proxy.py: every newOrder pebble created), real httpd nodes: A on 127.0.0.1 (pebble's
VA reaches it: its http-01 port), B on 127.0.0.2 (never reached by the VA). B's orders validate
only because A's renewal process mirrors the fleet's answers into A's challenges/ (issue 13
item 4); every node takes every set from Redis and serves the same certificate. Each node has
an AutoTLSNodeName (they share a host name here). Each test uses a key prefix of its own, so the
tests share one Redis and one pebble.
"""

import json
import os
import signal
import subprocess
import time

import pytest

import redis_server
from ari_proxy import AriProxy
from autotls_server import AutoTLSServer, Site, skip_unless_runnable, wait_for
from pebble import free_port

skip_unless_runnable()
if not redis_server.available():
    pytest.skip("redis-server and redis-cli are needed (apt-get install redis-server)",
                allow_module_level=True)

NODE_B = "127.0.0.2"
KEY_BYTES = 32
SERVE_TIMEOUT = 180.0  # seconds until every site is served (a loaded 2-core machine)
LEASE_TTL = 10  # seconds (AUTOTLS_TEST_LEASE_TTL): a killed node's leases expire quickly
OUTAGE_WATCH = 8.0  # seconds both nodes are watched while Redis is away
UNREACHABLE = "autotls-1300:"
STORES_PER_NODE = 4  # Redis connections a node may hold at once (scheduler, activator, tasks)  # the library's line when Redis cannot be reached
REACHABLE = "autotls-1303:"
LEASE_BUSY = "autotls-0115:"
TWIN_ID = "autotls-0121:"
CLI_TIMEOUT = 30
START_HOLD = 2  # seconds pebble's newOrder is held while two nodes start
METRICS = os.environ.get("AUTOTLS_FLEET_METRICS")  # a file the measurements are appended to


@pytest.fixture(scope="module")
def redis():
    with redis_server.RedisServer() as r:
        yield r


@pytest.fixture(scope="module")
def proxy(pebble):
    with AriProxy(pebble, ari=False) as p:
        yield p


@pytest.fixture(scope="module")
def key_file(tmp_path_factory):
    """The fleet's seal key: 32 random bytes, root's, 0600 (the renewal process reads it as root
    before it becomes the ACME account)."""
    d = tmp_path_factory.mktemp("fleetkey")
    os.chmod(str(d), 0o755)
    path = d / "store.key"
    path.write_bytes(os.urandom(KEY_BYTES))
    path.chmod(0o600)
    return str(path)


def fleet_extra(redis, key_file, prefix, name=None):
    return ("AutoTLSStore %s\nAutoTLSStoreKeyFile \"%s\"\nAutoTLSStorePrefix %s\n"
            % (redis.url(), key_file, prefix)
            + ("AutoTLSNodeName %s\n" % name if name else ""))


def node(sites, pebble, proxy, redis, key_file, prefix, address=None, more="", validated=False,
         name=None):
    """A node; B (address given) on a plain port of its own, or on pebble's http-01 port at its
    own address when validated (its sites then resolve to it)."""
    kwargs = {}
    given, name = name, "node-a"
    if address is not None:
        kwargs = dict(address=address) if validated else dict(address=address,
                                                               http_port=free_port())
        name = "node-b"
    name = given or name
    return AutoTLSServer(sites, pebble=pebble, ca_url=proxy.directory_url,
                         extra=fleet_extra(redis, key_file, prefix, name) + more, **kwargs)


def served_all(server, sites, timeout=SERVE_TIMEOUT):
    """{site: ServedCert}, each verified against pebble's roots with its names."""
    out = {}
    for site in sites:
        server.wait_until_served(site.name, timeout=timeout)
        out[site.name] = server.served_cert(site.name, verify=True)
        assert site.name in out[site.name].sans
    return out


def orders(proxy):
    """newOrders pebble created through the proxy (a resend after badNonce counts once)."""
    return len(proxy.orders)


def note(text):
    if METRICS:
        with open(METRICS, "a") as f:
            f.write(text + "\n")


def snapshot(server):
    """The node's status snapshot as its children and `autotls status` read it."""
    try:
        with open(os.path.join(server.store, "status", "snapshot.json")) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


HEARTBEAT_FRESH_MS = 15000  # AT_FLEET_HEARTBEAT_TTL is 20 s and a working mirror beats every second


def beaten_again(redis, prefix):
    """Whether both nodes' mirrors beat their heartbeat since Redis came back (a key from before
    the outage has less than the outage's length left): only then does each mirror ack answers,
    so that an order waits for both (else its validation may reach a node that has not mirrored
    the answer yet, fail, and be ordered again)."""
    for node_id in ("node-a", "node-b"):
        keys = redis.keys("%s*node:%s" % (prefix, node_id))
        out = redis.cli("PTTL", keys[0]).strip() if len(keys) == 1 else ""
        if not out.isdigit() or int(out) < HEARTBEAT_FRESH_MS:
            return False
    return True


def fleet_settled(fleet):
    """The fleet part once both nodes are seen alive and no lease is held, else None."""
    if fleet and fleet["nodes_live"] == ["node-a", "node-b"] and fleet["leases"] == []:
        return fleet
    return None


def kill_group(server):
    pid = server.parent_pid()
    os.killpg(os.getpgid(pid), signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    server.pid = None


def test_one_node_on_redis_serves_pebble_certificates_with_sealed_keys(
        pebble, proxy, redis, key_file, autotls_cli, tmp_path_factory):
    sites = [Site("one%d.fleet.test" % i) for i in range(3)]
    prefix = "fa:"
    with node(sites, pebble, proxy, redis, key_file, prefix) as a:
        served_all(a, sites)
        for site in sites:
            key = "%sitem:staging/%s/privkey.pem" % (prefix, site.name)
            sealed = redis.get(key)
            assert sealed is not None and sealed.startswith(b"ATSL"), key
            assert b"PRIVATE KEY" not in sealed and b"-----BEGIN" not in sealed
        # The node's own files stay local: live/ is never in Redis.
        assert redis.keys(prefix + "item:live/*") == []
        assert os.path.isfile(os.path.join(a.store, "live", sites[0].name, "privkey.pem"))
        # A node that serves one of these sites takes A's set, and the fleet's other sites are
        # not orphans of its own: orphaned is decided per node.
        with node(sites[:1], pebble, proxy, redis, key_file, prefix, address=NODE_B) as b:
            served_all(b, sites[:1])
            doc = wait_for("B's status", lambda: snapshot(b).get("sites"), 30, b)
            assert [s["site"] for s in doc] == [sites[0].name], doc
            assert b.count("orphaned") == 0, b.log_tail()
    # Without the fleet's key nothing opens: a copy out of Redis with another key fails and
    # names the sealed key; with the right key it gives the PEM back.
    d = tmp_path_factory.mktemp("copyout")
    other = d / "other.key"
    other.write_bytes(os.urandom(KEY_BYTES))
    other.chmod(0o600)
    wrong = subprocess.run([autotls_cli, "store", "copy", "--from", redis.url(), "--to",
                            str(d / "wrong"), "--key-file", str(other), "--prefix", prefix],
                           capture_output=True, text=True, timeout=CLI_TIMEOUT, check=False)
    assert wrong.returncode == 3, wrong.stdout + wrong.stderr
    assert "refusing the value of Redis key %sitem:" % prefix in wrong.stderr, wrong.stderr
    assert "BEGIN" not in wrong.stdout + wrong.stderr
    right = subprocess.run([autotls_cli, "store", "copy", "--from", redis.url(), "--to",
                            str(d / "right"), "--key-file", key_file, "--prefix", prefix],
                           capture_output=True, text=True, timeout=CLI_TIMEOUT, check=False)
    assert right.returncode == 0, right.stdout + right.stderr
    with open(os.path.join(str(d / "right"), "staging", sites[0].name, "privkey.pem")) as f:
        assert "PRIVATE KEY" in f.read()


def test_apachectl_t_refuses_a_redis_store_without_or_with_an_open_key_file(
        redis, key_file, tmp_path_factory):
    sites = [Site("conf.fleet.test")]
    server = AutoTLSServer(sites, ca_url="https://127.0.0.1:1/dir",
                           extra="AutoTLSStore %s\n" % redis.url())
    server.write_config()
    proc = server.apache2("-t")
    assert proc.returncode != 0
    assert "autotls-0112:" in proc.stderr and "AutoTLSStoreKeyFile" in proc.stderr
    d = tmp_path_factory.mktemp("openkey")
    os.chmod(str(d), 0o755)
    open_key = d / "open.key"
    open_key.write_bytes(os.urandom(KEY_BYTES))
    open_key.chmod(0o640)
    server.extra = fleet_extra(redis, str(open_key), "fc:")
    server.write_config()
    proc = server.apache2("-t")
    assert proc.returncode != 0
    assert "AutoTLSStoreKeyFile" in proc.stderr and "0640" in proc.stderr
    server.extra = fleet_extra(redis, key_file, "fc:")
    server.write_config()
    proc = server.apache2("-t")
    assert proc.returncode == 0, proc.stderr
    assert "autotls-0113:" in proc.stderr or "Syntax OK" in proc.stderr
    # -t names the node; a node id that cannot be one is refused with what would do
    server.extra = fleet_extra(redis, key_file, "fc:", "web-1.dc2")
    server.write_config()
    proc = server.apache2("-t")
    assert proc.returncode == 0 and "this node (web-1.dc2)'s" in proc.stderr, proc.stderr
    server.extra = fleet_extra(redis, key_file, "fc:", ".hidden")
    server.write_config()
    proc = server.apache2("-t")
    assert proc.returncode != 0 and "is no node id" in proc.stderr, proc.stderr


def test_a_node_killed_mid_order_loses_its_leases_and_the_other_finishes(
        pebble, proxy, redis, key_file, monkeypatch):
    sites = [Site("kill%d.fleet.test" % i) for i in range(2)]
    prefix = "fk:"
    monkeypatch.setenv("AUTOTLS_TEST_LEASE_TTL", str(LEASE_TTL))
    b = node(sites, pebble, proxy, redis, key_file, prefix, address=NODE_B)
    a = node(sites, pebble, proxy, redis, key_file, prefix)
    proxy.delay("/order-plz", 8)  # B's orders hang at newOrder while it holds the leases
    try:
        b.start()
        wait_for("B holds a lease per site",
                 lambda: len(redis.keys(prefix + "lease:*")) == len(sites), 60, b)
        kill_group(b)
        proxy.delay("/order-plz", 0)
        assert len(redis.keys(prefix + "lease:*")) == len(sites)  # B's, until they expire
        a.start()
        # A's status names the node that holds each lease it found taken, until it expires
        wait_for("A's status shows B's leases", lambda: {
            (l["site"], l["node"]) for l in (snapshot(a).get("fleet") or {}).get("leases", [])
        } == {(s.name, "node-b") for s in sites}, LEASE_TTL, a)
        served_all(a, sites)
        # A waited for B's leases (at least one site found one held) and then ordered itself.
        assert a.count(LEASE_BUSY) >= 1, a.log_tail()
        assert a.count("new certificate staged") == len(sites)
    finally:
        proxy.delay("/order-plz", 0)
        a.stop()
        b.stop()


RATE_BURST = 3
RATE_PERIOD = 15  # seconds: AutoTLSCARate 3/15s, one token back every 5 s, for the whole fleet
RATE_STEP = RATE_PERIOD / RATE_BURST
RATE_SLACK = 0.5  # seconds: the proxy is sampled every 50 ms, the schedulers tick every second


def order_times(proxy, before, count, timeout, server):
    """When the proxy's newOrders before + 1, ... before + count came (the proxy's own clock)."""
    wait_for("%d orders" % count, lambda: orders(proxy) - before >= count, timeout, server)
    return proxy.order_times[before:before + count]


def test_the_ca_rate_is_the_fleets_not_each_nodes(pebble, proxy, redis, key_file):
    # (before two_nodes: its node A, kept for the module, holds pebble's http-01 port)
    """Two nodes with sites of their own (each site's name resolves to its node), started at
    once, on one account: they spend from one bucket, so the CA sees the rate once, not once per
    node."""
    sites = [Site("rate%d.fleet.test" % i) for i in range(8)]
    on_a, on_b = sites[:4], sites[4:]
    prefix = "fr:"
    rate = "AutoTLSCARate %d/%ds\nAutoTLSOrdersInFlight 4\n" % (RATE_BURST, RATE_PERIOD)
    before = orders(proxy)
    for site in on_b:
        pebble.set_a(site.name, NODE_B)
    a = node(on_a, pebble, proxy, redis, key_file, prefix, more=rate)
    b = node(on_b, pebble, proxy, redis, key_file, prefix, address=NODE_B, more=rate,
             validated=True)
    try:
        b.start()
        a.start()
        times = order_times(proxy, before, len(sites), SERVE_TIMEOUT, a)
        first = times[0]
        for k, at in enumerate(times, start=1):
            earliest = max(0, k - RATE_BURST) * RATE_STEP - RATE_SLACK
            assert at - first >= earliest, (
                "order %d came %.2f s after the first; the fleet's bucket allows it after %.1f s"
                % (k, at - first, earliest + RATE_SLACK), [round(t - first, 2) for t in times])
        served_all(a, on_a)
        served_all(b, on_b)
        assert orders(proxy) - before == len(sites)
    finally:
        b.stop()
        a.stop()
        for site in on_b:
            pebble.clear_a(site.name)


def test_two_servers_with_one_node_id_are_told(pebble, proxy, redis, key_file):
    """Two servers given the same AutoTLSNodeName count as one node: each would take the other's
    acknowledgement for its own. The renewal process sees another process beat its heartbeat and
    says so once."""
    sites = [Site("twin.fleet.test")]
    prefix = "ft:"
    a = node(sites, pebble, proxy, redis, key_file, prefix, name="twin")
    b = node(sites, pebble, proxy, redis, key_file, prefix, address=NODE_B, name="twin")
    try:
        a.start()
        b.start()
        wait_for("a line about the shared node id",
                 lambda: a.count(TWIN_ID) + b.count(TWIN_ID) >= 1, 15, a)
        time.sleep(3)  # once, not every beat
        assert a.count(TWIN_ID) <= 1 and b.count(TWIN_ID) <= 1
    finally:
        b.stop()
        a.stop()


@pytest.fixture(scope="module")
def two_nodes(pebble, proxy, redis, key_file):
    """A and B started at once on one Redis prefix, the same 10 sites."""
    sites = [Site("two%d.fleet.test" % i) for i in range(10)]
    prefix = "fb:"
    before_memory = redis.used_memory()
    before_orders = orders(proxy)
    a = node(sites, pebble, proxy, redis, key_file, prefix)
    b = node(sites, pebble, proxy, redis, key_file, prefix, address=NODE_B)
    start = time.monotonic()
    # B starts first, so that both order; pebble holds newOrders for a moment so that none is
    # validated before A (which the validations reach) listens.
    proxy.delay("/order-plz", START_HOLD)
    try:
        b.start()
        a.start()
        proxy.delay("/order-plz", 0)
        on_a = served_all(a, sites)
        on_b = served_all(b, sites)
        elapsed = time.monotonic() - start
        per_site = (redis.used_memory() - before_memory) / len(sites)
        note("fleet: %d sites, %d orders at pebble, both nodes serving %.1f s after A's start; "
             "Redis used_memory %.0f bytes per site"
             % (len(sites), orders(proxy) - before_orders, elapsed, per_site))
        yield dict(a=a, b=b, sites=sites, prefix=prefix, on_a=on_a, on_b=on_b,
                   orders=orders(proxy) - before_orders)
    finally:
        proxy.delay("/order-plz", 0)
        b.stop()
        a.stop()


def test_two_nodes_one_order_per_site_same_serial_on_both(two_nodes):
    sites = two_nodes["sites"]
    a, b = two_nodes["a"], two_nodes["b"]
    assert two_nodes["orders"] == len(sites)  # exactly one order per site across the fleet
    for site in sites:
        assert two_nodes["on_a"][site.name].serial == two_nodes["on_b"][site.name].serial
    # Both ordered (B started first) and every order validated: B's through A's mirror, which
    # pebble's VA reached on A's address, with both nodes' acks before the CA was asked.
    staged_a, staged_b = a.count("new certificate staged"), b.count("new certificate staged")
    assert staged_a + staged_b == len(sites)
    assert staged_b >= 1, (staged_a, staged_b)
    assert a.count("fleet: node node-a mirrors") == 1 and b.count("fleet: node node-b") == 1
    assert a.count("autotls-1483:") == 0 and b.count("autotls-1483:") == 0  # no ack wait ran out
    assert len(b.live_events()) == len(sites) and len(a.live_events()) == len(sites)
    # each node's status: its id, both nodes alive, no lease left once every order is done
    for n, me in ((a, "node-a"), (b, "node-b")):
        fleet = wait_for("%s's status: both nodes, no lease" % me,
                         lambda n=n: fleet_settled(snapshot(n).get("fleet")), 30, n)
        assert fleet["node"] == me, fleet


def test_redis_away_both_serve_no_order_then_renew_reaches_both(two_nodes, redis, proxy,
                                                              key_file, autotls_cli):
    a, b, sites, prefix = two_nodes["a"], two_nodes["b"], two_nodes["sites"], two_nodes["prefix"]
    first = sites[0].name
    before = {n.conf: n.served_cert(first).serial for n in (a, b)}
    orders_before = orders(proxy)
    redis.stop(keep=True)
    try:
        time.sleep(2.0)
        lines = {n.conf: n.count(UNREACHABLE) for n in (a, b)}
        time.sleep(OUTAGE_WATCH)
        for n in (a, b):
            for site in sites:
                assert "Pebble" in n.served_cert(site.name).issuer
            # said when it went away (once per Redis connection), none more while it lasts
            assert n.count(UNREACHABLE) == lines[n.conf] >= 1, n.log_tail()
        assert orders(proxy) == orders_before
    finally:
        redis.start()
    for n in (a, b):
        wait_for("renewal process reaches Redis again", lambda n=n: n.count(REACHABLE) >= 1, 30, n)
    wait_for("both mirrors beat again", lambda: beaten_again(redis, prefix), 30, a)
    # Whichever node takes the request orders; the other's activator takes the set from Redis.
    proc = subprocess.run([autotls_cli, "renew", "--store", redis.url(), "--key-file",
                           key_file, "--prefix", prefix, first], capture_output=True,
                          text=True, timeout=CLI_TIMEOUT, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for n in (a, b):
        wait_for("a new serial on %s" % n.address,
                 lambda n=n: n.served_cert(first).serial != before[n.conf], SERVE_TIMEOUT, n)
    assert a.served_cert(first).serial == b.served_cert(first).serial
    assert orders(proxy) == orders_before + 1

