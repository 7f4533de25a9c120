# SPDX-License-Identifier: Apache-2.0
"""Challenge answers are bound to their name: an answer made for one site never validates another.

The one idea to hold: on shared hosting every site's http-01 answers sit in one challenges/
directory, and the responder answers in post_read_request for every managed Host. Each stored
answer names the identifier it was made for (include/at_challenge.h), and the responder serves
it only when the request's Host is that identifier (ignoring case); to any other Host the token
is as unknown as any other, so the request reaches the site, which answers with its own 404. A
file in another format (the bare key authorization earlier versions wrote, another token's
answer, a bad identifier) is never served and costs one warning line naming the token and why.

Answers are planted as the renewal process writes them (autotls_server.write_challenge_answer:
owned by whoever owns challenges/), and requests go out on raw sockets so that the Host header
is exactly what the test says.
"""

import re
import secrets

import pytest

import httpd
from autotls_server import (AutoTLSServer, Site, raw_exchange, skip_unless_runnable,
                            write_challenge, write_challenge_answer)

MODULE = skip_unless_runnable()

A = "a.test"
B = "b.test"
PLAIN = "plain.test"  # a vhost with AutoTLS off
UNKNOWN = "unknown.test"  # no vhost at all: the default (first) vhost, A, answers
PREFIX = "/.well-known/acme-challenge/"
THUMBPRINT_BYTES = 32  # a SHA-256 JWK thumbprint: 43 base64url characters
PENDING = 503  # the HTTPS twin's own answer until a certificate is live
BAD_ANSWER_LOG = r"autotls-0510: .*token %s is not served: %s"
OTHER_HOST_LOG = r"autotls-0511: %s: http-01 token %s was made for %s: declined"


def new_token(label):
    return "%s_%s" % (label, secrets.token_urlsafe(24))


def keyauth_of(token):
    return "%s.%s" % (token, secrets.token_urlsafe(THUMBPRINT_BYTES))


class Answer:
    """One answer published for identifier under a fresh token."""

    def __init__(self, server, identifier, label):
        self.identifier = identifier
        self.token = new_token(label)
        self.keyauth = keyauth_of(self.token)
        self.path = write_challenge_answer(server, identifier, self.token, self.keyauth)




def get(server, token, host, method="GET", https=False, sni=None):
    """The response to METHOD PREFIX+token with exactly this Host header, over a raw socket."""
    request = ("%s %s%s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
               % (method, PREFIX, token, host)).encode("latin-1")
    return raw_exchange(server, request, https=https,
                        sni=sni or host.split(":")[0].rstrip("."))


def served(response, answer):
    return response.status == 200 and response.body == answer.keyauth.encode()


def site_404(response, name):
    """The request went on to the site named name: its own ErrorDocument text, no answer."""
    return response.status == 404 and Site(name).not_found().encode() in response.body


@pytest.fixture(scope="module")
def server():
    sites = [Site(A), Site(B), Site(PLAIN, autotls=False)]
    # no CA is listening: no order runs, the only answers are the ones the tests plant
    srv = AutoTLSServer(sites, ca_url="https://127.0.0.1:%d/directory" % httpd.free_port())
    with srv:
        yield srv


@pytest.fixture(scope="module")
def answer_a(server):
    return Answer(server, A, "forA")


def test_answer_is_served_for_the_host_it_was_made_for(server, answer_a):
    r = get(server, answer_a.token, A)
    assert served(r, answer_a), r
    assert r.headers["content-type"].startswith("text/plain"), r
    head = get(server, answer_a.token, A, method="HEAD")
    assert head.status == 200 and head.body == b"", head
    assert int(head.headers["content-length"]) == len(answer_a.keyauth)


def test_answer_for_one_site_is_not_served_for_another_managed_site(server, answer_a):
    """The attack of issue 9: a tenant's answer for a.test must not validate b.test."""
    before = len(server.error_log())
    r = get(server, answer_a.token, B)
    assert site_404(r, B), r
    assert answer_a.keyauth.encode() not in r.raw
    r = get(server, answer_a.token, "%s:%d" % (B, server.http_port))
    assert site_404(r, B), r
    log = server.error_log()[before:]
    assert re.search(OTHER_HOST_LOG % (re.escape(B), answer_a.token, re.escape(A)), log), log
    assert not re.search(r"\[autotls:(emerg|alert|crit|error|warn)\]", log), log


def test_answer_for_one_site_is_not_served_on_another_sites_https_twin(server, answer_a):
    r = get(server, answer_a.token, B, https=True)
    assert r.status in (404, PENDING) and answer_a.keyauth.encode() not in r.raw, r
    r = get(server, answer_a.token, A, https=True)  # its own twin does answer
    assert served(r, answer_a), r


def test_each_site_gets_only_its_own_answer(server, answer_a):
    answer_b = Answer(server, B, "forB")
    assert served(get(server, answer_b.token, B), answer_b)
    assert site_404(get(server, answer_b.token, A), A)
    assert served(get(server, answer_a.token, A), answer_a)


@pytest.mark.parametrize("host", ["A.TEST", "A.Test", "A.TEST:{port}"],
                         ids=["upper", "mixed", "upper-port"])
def test_answer_is_served_for_its_host_in_any_case(server, answer_a, host):
    assert served(get(server, answer_a.token, host.format(port=server.http_port)), answer_a)


def test_trailing_dot_is_the_same_name_as_httpd_normalises_it(server, answer_a):
    """httpd removes one trailing dot from the Host before any module sees it ("a.test." is the
    absolute form of the very same DNS name): served for a.test., never for b.test."""
    assert served(get(server, answer_a.token, A + "."), answer_a)
    r = get(server, answer_a.token, B + ".")
    assert site_404(r, B) and answer_a.keyauth.encode() not in r.raw, r


@pytest.mark.parametrize("host", [A + "..", "." + A, "x." + A, A[:-1], A + ".evil"],
                         ids=["two-dots", "leading-dot", "subdomain", "truncated", "suffix"])
def test_other_spellings_are_not_the_answers_host(server, answer_a, host):
    r = get(server, answer_a.token, host)
    assert answer_a.keyauth.encode() not in r.raw, r
    assert r.status in (400, 404), r


@pytest.mark.parametrize("host", [PLAIN, UNKNOWN, "127.0.0.1"], ids=["autotls-off", "unknown",
                                                                     "ip"])
def test_answer_is_not_served_for_an_unmanaged_host(server, answer_a, host):
    r = get(server, answer_a.token, host)
    assert r.status == 404 and answer_a.keyauth.encode() not in r.raw, r


def stored_file_is_refused(server, token, content, reason, hosts=(A, B)):
    """Plants content as challenges/<token>; asserts that no Host gets it and that the refusal
    is logged as a warning naming the token and the reason."""
    before = len(server.error_log())
    write_challenge(server, token, content)
    for host in hosts:
        r = get(server, token, host)
        assert site_404(r, host), (host, r)
        assert content.encode() not in r.raw
    log = server.error_log()[before:]
    assert re.search(BAD_ANSWER_LOG % (token, reason), log), log


def test_legacy_bare_key_authorization_is_never_served(server):
    """What earlier versions wrote (and what a tenant could plant without knowing the format)."""
    token = new_token("legacy")
    stored_file_is_refused(server, token, keyauth_of(token), r"not a JSON object")


def test_another_tokens_answer_copied_under_this_token_is_never_served(server):
    other = new_token("other")
    stored = '{"identifier":"%s","keyAuthorization":"%s"}' % (A, keyauth_of(other))
    stored_file_is_refused(server, new_token("copied"), stored, r".*another token")


@pytest.mark.parametrize("identifier", ["*.a.test", "A.TEST", "a.test.", "a.test:80", ""],
                         ids=["wildcard", "upper-case", "trailing-dot", "port", "empty"])
def test_answer_with_a_bad_identifier_is_never_served(server, identifier):
    token = new_token("badid")
    stored = '{"identifier":"%s","keyAuthorization":"%s"}' % (identifier, keyauth_of(token))
    stored_file_is_refused(server, token, stored, r"the identifier is not a lower-case host name")


def test_answer_with_members_of_its_own_is_never_served(server):
    token = new_token("extra")
    stored = ('{"identifier":"%s","keyAuthorization":"%s","identifiers":["%s"]}'
              % (A, keyauth_of(token), B))
    stored_file_is_refused(server, token, stored, r"not exactly the string members")
