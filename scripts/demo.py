#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""demo.py: zero-touch HTTPS, watched live.

Starts a local ACME CA (pebble + pebble-challtestsrv) and an Apache httpd with mod_autotls, whose
whole configuration is three plain port-80 sites and `AutoTLS on`. Then it waits, without any
restart, until each site serves a CA-issued certificate over HTTPS, and prints what it served.
Everything runs on 127.0.0.1 and is stopped on exit.
"""
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

from autotls_server import AutoTLSServer, Site  # noqa: E402
from pebble import PebbleEnv, free_port  # noqa: E402

SITES = [
    Site("www.example.test", aliases=("example.test",)),
    Site("blog.example.test"),
    Site("shop.example.test"),
]
SERVED_TIMEOUT = 120  # seconds for all three; it usually takes two or three


def main():
    http_port = free_port()
    with PebbleEnv(http01_port=http_port) as pebble:
        print("ACME CA (pebble) at %s" % pebble.directory_url)
        server = AutoTLSServer(SITES, pebble=pebble, http_port=http_port)
        print("httpd ServerRoot %s: three sites on http://127.0.0.1:%d, `AutoTLS on`, "
              "HTTPS on port %d" % (server.root, server.http_port, server.https_port))
        print("\n--- the whole AutoTLS part of httpd.conf ---")
        for line in server.config_text().splitlines():
            if line.startswith("AutoTLS"):
                print("  " + line)
        print()
        with server:
            status, _, _ = server.http_get("www.example.test", https=True)
            print("right after start, https://www.example.test answers %d (certificate being "
                  "obtained)" % status)
            served = {}
            for site in SITES:
                cert = server.wait_until_served(site.name, timeout=SERVED_TIMEOUT)
                served[site.name] = (cert, time.monotonic() - server.started_at)
            status, _, body = server.http_get("www.example.test", https=True, verify=True)
            redirect, headers, _ = server.http_get("www.example.test", path="/about")
            print("\n%-20s %-34s %-22s %s" % ("site", "issuer", "expires", "served after"))
            for name, (cert, elapsed) in served.items():
                print("%-20s %-34s %-26s %.1f s" % (name, cert.issuer, cert.not_after, elapsed))
            print("\nhttps://www.example.test (verified against pebble's root): %d, %r"
                  % (status, body.decode().strip()[:60]))
            print("http://www.example.test/about: %d -> %s" % (redirect, headers.get("Location")))
            print("no restart was issued: httpd parent pid %s throughout" % server.parent_pid())
    return 0


if __name__ == "__main__":
    sys.exit(main())
