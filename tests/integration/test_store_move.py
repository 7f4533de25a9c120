# SPDX-License-Identifier: Apache-2.0
"""The store moves from the old default (<ServerRoot>/autotls, /etc/apache2/autotls on Debian) to
the state directory (/var/lib/apache2/autotls) at the first start without AutoTLSStore.

The one idea to hold: an admin who upgrades notices nothing but one log line. The same
certificates are served (same serials), pebble gets no new order, and a carry a crash cut short
(a partial copy beside the new place, no marker) is made again whole at the next start. The new
place is the test's own default store (AUTOTLS_STORE_DIR, conftest.py), never the machine's.
"""

import os
import re
import time

from autotls_server import AutoTLSServer, Site, skip_unless_runnable, wait_for

skip_unless_runnable()

ISSUER = "Pebble"
SERVED_TIMEOUT = 60.0
QUIET_SECONDS = 4.0  # renewal ticks are 1 s: an order after the move would show by then
OLD_DEFAULT = "autotls"  # AUTOTLS_STORE_OLD_DEFAULT, relative to ServerRoot
MARKER = ".carried-from"  # AT_STORE_CARRY_MARKER
TEMP_SUFFIX = ".carrying"  # AT_STORE_CARRY_TEMP_SUFFIX
CARRIED_RE = r"autotls-0951: store: carried over from %s to %s \((\d+) file\(s\)"
ORDER_ADDED = "Added order"  # pebble's log line for each new order


class MovingServer(AutoTLSServer):
    """AutoTLSServer whose AutoTLSStore is `given` (a path), or unset when given is None."""

    given = None

    def config_text(self):
        lines = [line for line in super().config_text().splitlines()
                 if not line.startswith("AutoTLSStore")]
        if self.given is not None:
            lines.append('AutoTLSStore "%s"' % self.given)
        return "\n".join(lines) + "\n"


def orders_at(pebble):
    with open(pebble.pebble_log, errors="replace") as f:
        return f.read().count(ORDER_ADDED)


def serve_from_old_default(pebble, sites):
    """A server of a release before the state directory: its store at <ServerRoot>/autotls,
    every site's certificate obtained. Returns the stopped server and the served serials."""
    server = MovingServer(sites, pebble=pebble)
    server.given = os.path.join(server.root, OLD_DEFAULT)
    server.store = server.given
    server.start()  # not `with`: leaving it would remove the ServerRoot and the old store
    try:
        serials = {s.name: server.wait_until_served(s.name, ISSUER, SERVED_TIMEOUT).serial
                   for s in sites}
        for s in sites:
            wait_for("the job file of %s" % s.name, lambda s=s: os.path.exists(
                os.path.join(server.store, "jobs", s.name + ".json")), 10, server)
    finally:
        server.stop()
    return server, serials


def assert_moved_without_order(server, pebble, sites, serials, new_store):
    old = os.path.join(server.root, OLD_DEFAULT)
    orders = orders_at(pebble)
    server.given = None
    server.store = new_store
    server.start()
    try:
        for s in sites:
            assert server.served_cert(s.name).serial == serials[s.name], s.name
        log = server.error_log()
        assert len(re.findall(CARRIED_RE % (re.escape(old), re.escape(new_store)), log)) == 1, \
            server.log_tail()
        time.sleep(QUIET_SECONDS)
        assert orders_at(pebble) == orders, "pebble got a new order after the move"
        for s in sites:
            assert server.served_cert(s.name).serial == serials[s.name], s.name
    finally:
        server.stop()
    with open(os.path.join(new_store, MARKER)) as f:
        assert f.read() == old + "\n"
    assert not os.path.exists(new_store + TEMP_SUFFIX)
    assert os.path.isdir(os.path.join(old, "live")), "the old store must be left as it was"
    # The next start finds the marker: no second carry, the same certificates.
    with server:
        for s in sites:
            assert server.served_cert(s.name).serial == serials[s.name], s.name
        assert "autotls-0951" not in server.error_log()[len(log):]


def test_store_moves_from_the_old_default_at_first_start_with_the_same_serials(
        pebble, default_store_dir):
    sites = (Site("move-a.store-move.test"), Site("move-b.store-move.test"))
    server, serials = serve_from_old_default(pebble, sites)
    assert not os.path.exists(default_store_dir)
    assert_moved_without_order(server, pebble, sites, serials, default_store_dir)


def test_carry_cut_short_by_a_crash_is_made_again_whole(pebble, default_store_dir):
    sites = (Site("crash.store-move.test"),)
    server, serials = serve_from_old_default(pebble, sites)
    # What a crash in the middle of the copy leaves: part of the tree beside the new place, no
    # marker, no new store. The module must neither use it nor trip over it.
    partial = default_store_dir + TEMP_SUFFIX
    os.makedirs(os.path.join(partial, "live", sites[0].name), mode=0o700)
    with open(os.path.join(partial, "live", sites[0].name, "privkey.pem"), "w") as f:
        f.write("-----BEGIN PRIVATE KEY-----\ncut short")
    assert_moved_without_order(server, pebble, sites, serials, default_store_dir)
