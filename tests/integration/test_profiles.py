# SPDX-License-Identifier: Apache-2.0
"""Certificate profiles (draft-ietf-acme-profiles; issue 14, item 3): AutoTLSProfile NAME [required].

The one idea to hold: pebble 2.4 has no profiles, so tests/integration/ari_proxy.py plays a CA
that lists some in its directory's meta.profiles, records the `profile` of every newOrder and
refuses a profile on demand with the draft's invalidProfile problem; pebble behind it ignores the
field and issues. What a user observes: which profile each order asked for (the proxy's record),
the certificate served, and the error log's lines, one warning per profile the CA does not list
(not one per site).
"""

import re

from ari_proxy import AriProxy
from autotls_server import AutoTLSServer, Site, skip_unless_runnable, wait_for

MODULE = skip_unless_runnable()

ISSUER = "Pebble"
PROFILES = {"tlsserver": "90-day certificates for TLS servers",
            "shortlived": "160-hour certificates"}
SERVED_TIMEOUT = 60.0
REFUSAL_TIMEOUT = 30.0
UNLISTED_WARNING = re.compile(r"autotls-0661: .* does not offer profile classic")
REQUIRED_ERROR = re.compile(r"autotls-0660: (\S+): .* does not offer profile classic")


def test_a_listed_profile_is_asked_for_and_the_certificate_served(pebble):
    sites = [Site("prof-a.test"), Site("prof-b.test", directives="AutoTLSProfile tlsserver")]
    with AriProxy(pebble, ari=False) as proxy:
        proxy.set_profiles(PROFILES)
        with AutoTLSServer(sites, pebble=pebble, ca_url=proxy.directory_url,
                           extra="AutoTLSProfile shortlived required") as server:
            server.start()
            for site in sites:
                server.wait_until_served(site.name, ISSUER, SERVED_TIMEOUT)
    asked = [p for p in proxy.profiles_seen]
    assert sorted(set(asked)) == ["shortlived", "tlsserver"], asked


def test_an_unlisted_profile_is_warned_of_once_and_ordered_without(pebble):
    sites = [Site("unl-%d.test" % i) for i in range(3)]
    with AriProxy(pebble, ari=False) as proxy:
        proxy.set_profiles(PROFILES)
        with AutoTLSServer(sites, pebble=pebble, ca_url=proxy.directory_url,
                           extra="AutoTLSProfile classic") as server:
            server.start()
            for site in sites:
                server.wait_until_served(site.name, ISSUER, SERVED_TIMEOUT)
            log = server.error_log()
    warnings = UNLISTED_WARNING.findall(log)
    assert len(warnings) == 1, warnings
    assert "it offers: shortlived,tlsserver" in log
    assert proxy.profiles_seen and set(proxy.profiles_seen) == {None}, proxy.profiles_seen


def test_a_required_profile_the_ca_lacks_orders_nothing_for_that_site(pebble):
    strict = Site("strict.test", directives="AutoTLSProfile classic required")
    other = Site("relaxed.test")
    with AriProxy(pebble, ari=False) as proxy:
        proxy.set_profiles(PROFILES)
        with AutoTLSServer([strict, other], pebble=pebble, ca_url=proxy.directory_url) as server:
            server.start()
            server.wait_until_served(other.name, ISSUER, SERVED_TIMEOUT)
            wait_for("the required profile's refusal",
                     lambda: REQUIRED_ERROR.search(server.error_log()), REFUSAL_TIMEOUT, server)
            assert REQUIRED_ERROR.search(server.error_log()).group(1) == strict.name
            status, _, _ = server.http_get(strict.name, https=True)
            assert status == 503  # nothing was issued: the placeholder's honest 503
            assert ISSUER not in server.served_cert(strict.name).issuer
    # one newOrder in all: the relaxed site's, without a profile
    assert proxy.profiles_seen == [None], proxy.profiles_seen


def test_a_profile_the_ca_refuses_is_reported_with_its_problem(pebble):
    site = Site("refused.test", directives="AutoTLSProfile shortlived")
    with AriProxy(pebble, ari=False) as proxy:
        proxy.set_profiles(PROFILES)
        proxy.refuse_profile("shortlived")
        with AutoTLSServer([site], pebble=pebble, ca_url=proxy.directory_url) as server:
            server.start()
            line = wait_for(
                "the CA's invalidProfile in the log",
                lambda: [ln for ln in server.error_log().splitlines()
                         if "autotls-0603" in ln and site.name in ln and "invalidProfile" in ln],
                REFUSAL_TIMEOUT, server)
            assert line
    assert "shortlived" in proxy.profiles_seen
