# SPDX-License-Identifier: Apache-2.0
"""dns-01 and wildcard aliases (issue 14, item 2): AutoTLSDNSCommand, called as lego's exec provider.

The one idea to hold: the DNS here is real to pebble. pebble's VA resolves through
pebble-challtestsrv, and the DNS command the test hands the module is a shell script that sets and
clears TXT records there through challtestsrv's management API (what a real script does at a DNS
provider's API), logging each call. A vhost with `ServerAlias *.name` then gets a certificate
whose SANs hold the wildcard, served for any name under it; a command that fails costs the
wildcard only (the site's other names are served), and without a command the wildcard is skipped
with the reason, as before.
"""

import os
import pathlib
import re
import shutil
import stat
import tempfile

import pytest

from autotls_server import AutoTLSServer, Site, skip_unless_runnable, wait_for

MODULE = skip_unless_runnable()

ISSUER = "Pebble"
SERVED_TIMEOUT = 60.0
LOG_TIMEOUT = 30.0
COMMAND = """#!/bin/sh
# lego's exec provider: $1 = present|cleanup, $2 = fqdn, $3 = value
echo "$1 $2 $3" >> "{log}"
case "$1" in
  present) path=/set-txt; body="{{\\"host\\":\\"$2\\",\\"value\\":\\"$3\\"}}" ;;
  cleanup) path=/clear-txt; body="{{\\"host\\":\\"$2\\"}}" ;;
  *) echo "unknown operation $1"; exit 2 ;;
esac
{fail}curl -sS --fail -X POST -d "$body" "{url}$path" || exit 1
echo "$1 done for $2"
"""


@pytest.fixture
def dns_command(pebble):
    """make(fail=False) -> (path of the command, path of its call log), in a directory the ACME
    account can reach (pytest's own tmp_path is root's alone)."""
    made = []

    def make(fail=False):
        directory = pathlib.Path(tempfile.mkdtemp(prefix="autotls-dns-"))
        made.append(directory)
        os.chmod(directory, 0o777)  # the ACME account appends to the call log
        log = directory / "calls.log"
        path = directory / "dns-command"
        path.write_text(COMMAND.format(log=log, url=pebble.challtestsrv_url,
                                       fail='echo "provider refused"; exit 3\n' if fail else ""))
        path.chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
        return str(path), log

    yield make
    for directory in made:
        shutil.rmtree(directory, ignore_errors=True)


def calls(log):
    return log.read_text().splitlines() if log.exists() else []


def test_wildcard_alias_gets_a_certificate_through_the_dns_command(pebble, dns_command):
    command, log = dns_command()
    site = Site("wild.test", aliases=("*.wild.test",))
    with AutoTLSServer([site], pebble=pebble, extra="AutoTLSDNSCommand %s" % command) as server:
        server.start()
        served = server.wait_until_served("foo.wild.test", ISSUER, SERVED_TIMEOUT)
        assert served.sans == ("*.wild.test", "wild.test"), served.sans
        assert server.served_cert("wild.test").serial == served.serial
        status, _, body = server.http_get("bar.wild.test", https=True)
        assert status == 200 and site.page().encode() in body
        wait_for("the cleanup call", lambda: any(c.startswith("cleanup ") for c in calls(log)),
                 LOG_TIMEOUT, server)
    made = calls(log)
    present = [c.split() for c in made if c.startswith("present ")]
    assert [p[1] for p in present] == ["_acme-challenge.wild.test."], made
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", present[0][2]), present  # base64url(SHA-256)
    assert ["cleanup", "_acme-challenge.wild.test.", present[0][2]] in [c.split() for c in made]


def test_a_failing_dns_command_costs_the_wildcard_only(pebble, dns_command):
    command, log = dns_command(fail=True)
    site = Site("brittle.test", aliases=("*.brittle.test", "www.brittle.test"))
    other = Site("plain-dns.test")
    with AutoTLSServer([site, other], pebble=pebble,
                       extra="AutoTLSDNSCommand %s" % command) as server:
        server.start()
        served = server.wait_until_served("brittle.test", ISSUER, SERVED_TIMEOUT)
        assert served.sans == ("brittle.test", "www.brittle.test"), served.sans
        server.wait_until_served(other.name, ISSUER, SERVED_TIMEOUT)
        line = wait_for("the DNS command's failure",
                        lambda: re.search(r"autotls-0663: DNS command \S+ present "
                                          r"_acme-challenge\.brittle\.test\. failed "
                                          r"\(exit status 3\): provider refused",
                                          server.error_log()), LOG_TIMEOUT, server)
        assert line


def test_without_a_dns_command_the_wildcard_is_skipped_with_the_reason(pebble):
    site = Site("nodns.test", aliases=("*.nodns.test",))
    with AutoTLSServer([site], pebble=pebble) as server:
        server.start()
        served = server.wait_until_served(site.name, ISSUER, SERVED_TIMEOUT)
        assert served.sans == ("nodns.test",)
        assert re.search(r"autotls-0401: nodns\.test: alias \*\.nodns\.test skipped: is a "
                         r"wildcard: it needs dns-01 validation \(AutoTLSDNSCommand\)",
                         server.error_log())
