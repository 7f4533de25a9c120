# SPDX-License-Identifier: Apache-2.0
"""The AutoTLS* directives as `apache2 -t` sees them: good values parse, bad ones are refused.

The one idea to hold: every refusal must tell the admin which directive, which value and what
would be accepted, so each bad case asserts that the error line starts with the directive's name
and shows the value. Each case is its own minimal server (ServerRoot = a fresh temp dir), so a
relative file name only resolves when the module resolves it against ServerRoot.
"""

import pathlib
import re
import shutil
import subprocess

import pytest

import httpd
from autotls_server import skip_unless_runnable

MODULE = skip_unless_runnable(as_root=False)

REPO = pathlib.Path(__file__).resolve().parents[2]
SYSTEM_ROOTS = pathlib.Path("/etc/ssl/certs/ca-certificates.crt")
NOTIFY_EXAMPLE = "/usr/local/bin/autotls-mail"  # conf/autotls.conf's example command
DNS_EXAMPLE = "/usr/local/bin/autotls-dns"  # and its example DNS command
PLACEHOLDER_PEM = "-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n"
EAB_KEY = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"  # base64url MAC key


@pytest.fixture
def server_root(tmp_path):
    """A ServerRoot holding a roots file (roots.pem), a directory (adir), an executable (notify)
    and nothing else."""
    root = tmp_path / "root"
    root.mkdir()
    if SYSTEM_ROOTS.is_file():
        shutil.copyfile(SYSTEM_ROOTS, root / "roots.pem")
    else:
        (root / "roots.pem").write_text(PLACEHOLDER_PEM)
    (root / "adir").mkdir()
    (root / "eab.key").write_text(EAB_KEY + "\n")  # AutoTLSEAB: readable by its owner only
    (root / "eab.key").chmod(0o600)
    (root / "notify").write_text("#!/bin/sh\n")
    (root / "notify").chmod(0o755)
    return root


SSL_MODULES = (("socache_shmcb_module", "mod_socache_shmcb.so"), ("ssl_module", "mod_ssl.so"))


def check(root, body):
    """`apache2 -t` on a server with mod_ssl (AutoTLS on needs it), our module and body; {root}
    in body is the ServerRoot."""
    conf = httpd.write_httpd_conf(root, body.replace("{root}", str(root)), module=MODULE,
                                  modules=SSL_MODULES)
    return httpd.check_config(conf)


def assert_ok(result):
    assert result.returncode == 0, result.stderr
    assert "Syntax OK" in result.stdout + result.stderr


def assert_refused(result, *texts):
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Syntax OK" not in output
    for text in texts:
        assert text in output, "%r not in %r" % (text, output)
    return output


GOOD = [
    "AutoTLS on",
    "AutoTLS off",
    "AutoTLS On",
    "AutoTLSCA letsencrypt",
    "AutoTLSCA letsencrypt-staging",
    "AutoTLSCA https://127.0.0.1:14000/dir",
    "AutoTLSCA http://localhost:4001/directory",
    "AutoTLSCA letsencrypt\nAutoTLSCA https://127.0.0.1:14000/dir cafile=roots.pem",
    "AutoTLSCA https://127.0.0.1:14000/dir cafile={root}/roots.pem eab=kid-1:eab.key "
    "profile=tlsserver\nAutoTLSCA letsencrypt-staging profile=shortlived",
    "AutoTLSCAFailover 1",
    "AutoTLSCAFailover 100",
    "AutoTLSCACertificateFile roots.pem",
    "AutoTLSCACertificateFile {root}/roots.pem",
    "AutoTLSIssuerRoots roots.pem",
    "AutoTLSContact admin@example.com",
    "AutoTLSContact mailto:admin@example.com",
    "AutoTLSContact MAILTO:first.last+tls@mail.example.org",
    "AutoTLSStore store",
    "AutoTLSStore {root}/adir",
    "AutoTLSHTTPSPort 1",
    "AutoTLSHTTPSPort 8443",
    "AutoTLSHTTPSPort 65535",
    "AutoTLSKeyType ec256",
    "AutoTLSKeyType ec384",
    "AutoTLSKeyType rsa2048",
    "AutoTLSKeyType rsa3072",
    "AutoTLSKeyType rsa4096",
    "AutoTLSKeyType EC384",
    "AutoTLSKeyType ec256 rsa2048",
    "AutoTLSKeyType RSA4096 ec384",
    "AutoTLSRenewWindow 1%",
    "AutoTLSRenewWindow 33%",
    "AutoTLSRenewWindow 99%",
    "AutoTLSRenewWindow 30d",
    "AutoTLSRenewWindow 12h",
    "AutoTLSRenewWindow 90m",
    "AutoTLSRenewWindow 45s",
    "AutoTLSRedirect on",
    "AutoTLSRedirect off",
    "AutoTLSExclude intranet.example.com",
    "AutoTLSExclude *.internal.example.com test-?.example.com [ab]x.example.com",
    "AutoTLSExclude a.example.com\nAutoTLSExclude b.example.com",
    "AutoTLSNotifyCommand {root}/notify",
    "AutoTLSNotifyCommand {root}/notify timeout=10s",
    "AutoTLSNotifyCommand {root}/notify timeout=1h",
    "AutoTLSOrphanKeep 30d",
    "AutoTLSOrphanKeep 12h",
    "AutoTLSHSTS max-age=300",
    "AutoTLSHSTS max-age=31536000; includeSubDomains; preload",
    'AutoTLSHSTS "max-age=0; includeSubDomains"',
    "AutoTLSHSTS off",
    "AutoTLSPolicy intermediate",
    "AutoTLSPolicy modern",
    "AutoTLSPolicy INHERIT",
    "AutoTLSProfile tlsserver",
    "AutoTLSProfile shortlived required",
    "AutoTLSProfile none",
    "AutoTLSDNSCommand {root}/notify",
    "AutoTLSDNSCommand {root}/notify timeout=2m",
    "AutoTLSDNSPropagation 30s",
    "AutoTLSDNSPropagation 1h",
]


@pytest.mark.parametrize("line", GOOD)
def test_good_value_is_accepted(server_root, line):
    assert_ok(check(server_root, line))


BAD = [
    ("AutoTLS", "maybe"),
    ("AutoTLS", "1"),
    ("AutoTLSCA", "letsencrypt-prod"),
    ("AutoTLSCA", "ftp://ca.example.com/dir"),
    ("AutoTLSCA", "https://"),
    ("AutoTLSCA", "https:///directory"),
    ("AutoTLSCA", "acme-v02.api.letsencrypt.org/directory"),
    ("AutoTLSCAFailover", "0"),
    ("AutoTLSCAFailover", "101"),
    ("AutoTLSCAFailover", "two"),
    ("AutoTLSCACertificateFile", "missing.pem"),
    ("AutoTLSCACertificateFile", "adir"),
    ("AutoTLSIssuerRoots", "missing.pem"),
    ("AutoTLSIssuerRoots", "adir"),
    ("AutoTLSContact", "admin"),
    ("AutoTLSContact", "admin@localhost"),
    ("AutoTLSContact", "mailto:"),
    ("AutoTLSContact", "@example.com"),
    ("AutoTLSContact", "a@b@example.com"),
    ("AutoTLSContact", "mailto:admin@example.com?subject=tls"),
    ("AutoTLSStore", "roots.pem"),
    ("AutoTLSHTTPSPort", "0"),
    ("AutoTLSHTTPSPort", "65536"),
    ("AutoTLSHTTPSPort", "-1"),
    ("AutoTLSHTTPSPort", "443x"),
    ("AutoTLSHTTPSPort", "https"),
    ("AutoTLSHTTPSPort", "99999999999999999999999"),
    ("AutoTLSKeyType", "rsa1024"),
    ("AutoTLSKeyType", "ed25519"),
    ("AutoTLSKeyType", "ec256 ec384"),
    ("AutoTLSKeyType", "rsa2048 rsa4096"),
    ("AutoTLSKeyType", "ec256 ec256"),
    ("AutoTLSKeyType", "ec256 rsa1024"),
    ("AutoTLSRenewWindow", "0%"),
    ("AutoTLSRenewWindow", "100%"),
    ("AutoTLSRenewWindow", "0d"),
    ("AutoTLSRenewWindow", "-5d"),
    ("AutoTLSRenewWindow", "30"),
    ("AutoTLSRenewWindow", "30w"),
    ("AutoTLSRenewWindow", "1.5d"),
    ("AutoTLSRenewWindow", "33%%"),
    ("AutoTLSRenewWindow", "d"),
    ("AutoTLSRenewWindow", "99999999999999999999d"),
    ("AutoTLSRenewWindow", "200000000000000d"),
    ("AutoTLSRedirect", "maybe"),
    ("AutoTLSExclude", "a..example.com"),
    ("AutoTLSExclude", ".example.com"),
    ("AutoTLSExclude", "bad/name.example.com"),
    ("AutoTLSExclude", "[ab.example.com"),
    ("AutoTLSNotifyCommand", "notify"),
    ("AutoTLSNotifyCommand", "/nonexistent/notify"),
    ("AutoTLSNotifyCommand", "/etc/passwd"),
    ("AutoTLSNotifyCommand", "/bin/true timeout=0s"),
    ("AutoTLSNotifyCommand", "/bin/true timeout=2h"),
    ("AutoTLSNotifyCommand", "/bin/true timeout=50%"),
    ("AutoTLSNotifyCommand", "/bin/true timeout=5"),
    ("AutoTLSNotifyCommand", "/bin/true limit=5s"),
    ("AutoTLSOrphanKeep", "0d"),
    ("AutoTLSOrphanKeep", "30"),
    ("AutoTLSOrphanKeep", "50%"),
    ("AutoTLSOrphanKeep", "-1d"),
    ("AutoTLSHSTS", "includeSubDomains"),
    ("AutoTLSHSTS", "max-age=1y"),
    ("AutoTLSHSTS", "max-age=300; preload"),
    ("AutoTLSHSTS", "max-age=300; includeSubDomains; includeSubDomains"),
    ("AutoTLSPolicy", "old"),
    ("AutoTLSPolicy", "mozilla"),
    ("AutoTLSProfile", "short/lived"),
    ("AutoTLSProfile", "tlsserver mandatory"),
    ("AutoTLSProfile", "none required"),
    ("AutoTLSDNSCommand", "dns-command"),
    ("AutoTLSDNSCommand", "/bin/true timeout=11m"),
    ("AutoTLSDNSPropagation", "2h"),
    ("AutoTLSDNSPropagation", "0s"),
]


@pytest.mark.parametrize("directive,value", BAD, ids=["%s %s" % case for case in BAD])
def test_bad_value_is_refused_naming_directive_and_value(server_root, directive, value):
    output = assert_refused(check(server_root, "%s %s" % (directive, value)), value)
    assert re.search(r"^%s: \"[^\n]*%s" % (directive, re.escape(value)), output, re.M), output


def test_refusal_says_what_is_expected(server_root):
    output = assert_refused(check(server_root, "AutoTLSKeyType rsa1024"))
    assert ('AutoTLSKeyType: "rsa1024" is not a key type; '
            "use one of ec256, ec384, rsa2048, rsa3072, rsa4096") in output


def test_two_key_types_must_be_one_ec_and_one_rsa(server_root):
    output = assert_refused(check(server_root, "AutoTLSKeyType ec256 ec384"))
    assert ('AutoTLSKeyType: "ec256 ec384": two key types must be one EC type and one RSA '
            "type") in output
    assert_refused(check(server_root, "AutoTLSKeyType ec256 rsa2048 rsa4096"))


CA_OPTION_BAD = [
    ("rate=300/3h", "is no option of a CA"),
    ("cafile=missing.pem", "cannot be read"),
    ("eab=kid-1", "is not KID:HMAC-FILE"),
    ("eab=kid-1:missing.key", "cannot be the key file"),
    ("profile=short/lived", "is no profile name"),
    ("cafile=roots.pem cafile=roots.pem", "repeats cafile="),
]


@pytest.mark.parametrize("options,why", CA_OPTION_BAD, ids=[c[0] for c in CA_OPTION_BAD])
def test_bad_ca_option_is_refused_naming_the_option(server_root, options, why):
    output = assert_refused(check(server_root, "AutoTLSCA https://127.0.0.1:14000/dir " + options),
                            why)
    assert re.search(r"^AutoTLSCA: \"[^\n]*\" %s" % re.escape(why), output, re.M), output


def test_the_same_ca_twice_is_refused(server_root):
    assert_refused(check(server_root, "AutoTLSCA letsencrypt\n"
                                      "AutoTLSCA https://acme-v02.api.letsencrypt.org/directory/"),
                   "is listed twice")


def test_issuer_roots_without_a_known_cas_root_stop_the_start(server_root):
    """AutoTLSIssuerRoots must cover every CA whose roots are known before it issues (Let's
    Encrypt: ISRG Root X1 and X2); a CA known only by URL is checked by the activator later."""
    own = server_root / "own-roots.pem"  # a private CA's root only
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(server_root / "own.key"),
                    "-out", str(own), "-subj", "/CN=Own Root", "-days", "1"],
                   check=True, capture_output=True)
    assert_refused(check(server_root, "AutoTLSCA https://127.0.0.1:14000/dir\n"
                                      "AutoTLSCA letsencrypt\nAutoTLSIssuerRoots %s" % own),
                   "autotls-0151", "lacks ISRG Root X1",
                   "https://acme-v02.api.letsencrypt.org/directory (CA 2")
    assert_ok(check(server_root, "AutoTLSCA https://127.0.0.1:14000/dir\n"
                                 "AutoTLSIssuerRoots %s" % own))
    if SYSTEM_ROOTS.is_file():  # Debian's bundle holds both ISRG roots
        assert_ok(check(server_root, "AutoTLSCA letsencrypt\nAutoTLSIssuerRoots %s"
                        % SYSTEM_ROOTS))


def test_relative_file_is_resolved_against_server_root(server_root):
    output = assert_refused(check(server_root, "AutoTLSIssuerRoots no-such-roots.pem"))
    assert str(server_root / "no-such-roots.pem") in output


def test_empty_exclude_pattern_is_refused(server_root):
    assert_refused(check(server_root, 'AutoTLSExclude ok.example.com "" other.example.com'),
                   'AutoTLSExclude: "" is empty')


def test_exclude_without_patterns_is_refused(server_root):
    assert_refused(check(server_root, "AutoTLSExclude"), "AutoTLSExclude")


def test_missing_argument_is_refused(server_root):
    assert_refused(check(server_root, "AutoTLSCA"), "AutoTLSCA takes one argument")
    assert_refused(check(server_root, "AutoTLSCAFailover"), "AutoTLSCAFailover takes one argument")


SERVER_WIDE = [
    "AutoTLSCA letsencrypt",
    "AutoTLSCA https://127.0.0.1:14000/dir cafile=roots.pem",
    "AutoTLSCAFailover 2",
    "AutoTLSCACertificateFile roots.pem",
    "AutoTLSIssuerRoots roots.pem",
    "AutoTLSContact admin@example.com",
    "AutoTLSStore store",
    "AutoTLSHTTPSPort 8443",
    "AutoTLSExclude intranet.example.com",
    "AutoTLSEAB kid-1 eab.key",
    "AutoTLSNotifyCommand /bin/true",
    "AutoTLSOrphanKeep 30d",
    "AutoTLSPolicy modern",
    "AutoTLSDNSCommand /bin/true",
    "AutoTLSDNSPropagation 30s",
]

VHOST = """
<VirtualHost 127.0.0.1:*>
    ServerName www.example.com
    %s
</VirtualHost>
"""


@pytest.mark.parametrize("line", SERVER_WIDE)
def test_server_wide_directive_inside_vhost_is_refused(server_root, line):
    directive = line.split()[0]
    assert_refused(check(server_root, VHOST % line), directive, "server-wide")


@pytest.mark.parametrize("line", SERVER_WIDE)
def test_server_wide_directive_outside_vhost_with_vhosts_is_accepted(server_root, line):
    assert_ok(check(server_root, line + "\n" + VHOST % ""))


def test_per_vhost_directives_are_accepted_inside_vhost(server_root):
    body = VHOST % "\n    ".join(["AutoTLS off", "AutoTLSKeyType rsa2048",
                                   "AutoTLSRenewWindow 12h", "AutoTLSRedirect off",
                                   "AutoTLSHSTS max-age=300; includeSubDomains",
                                   "AutoTLSProfile shortlived required"])
    assert_ok(check(server_root, "AutoTLS on\n" + body))


def test_bad_value_inside_vhost_is_refused(server_root):
    assert_refused(check(server_root, VHOST % "AutoTLSRenewWindow 100%"),
                   'AutoTLSRenewWindow: "100%"')


def test_directive_inside_directory_is_refused(server_root):
    body = "<Directory {root}>\n    AutoTLS on\n</Directory>"
    assert_refused(check(server_root, body), "AutoTLS not allowed in <Directory> context")


def test_module_loads_without_any_directive(server_root):
    assert_ok(check(server_root, ""))


# AutoTLSEAB KID FILE: each refusal names the file (or the key id) and says what would do.
EAB_BAD = [
    ("kid-1 missing.key", "missing.key", "cannot open"),
    ("kid-1 adir", "adir", "not a regular file"),
    ("kid-1 notbase64.key", "notbase64.key", "base64url"),
    ("kid-1 world.key", "world.key", "0644"),
    ("kid-1 group.key", "group.key", "0640"),
    ("kid-1 other.key", "other.key", "0604"),
]


@pytest.mark.parametrize("args,shown,why", EAB_BAD, ids=[case[0] for case in EAB_BAD])
def test_eab_key_file_others_may_read_or_not_a_key_is_refused(server_root, args, shown, why):
    for name, mode, text in (("notbase64.key", 0o600, "not+base64/url=="),
                             ("world.key", 0o644, EAB_KEY), ("group.key", 0o640, EAB_KEY),
                             ("other.key", 0o604, EAB_KEY)):
        (server_root / name).write_text(text)
        (server_root / name).chmod(mode)
    output = assert_refused(check(server_root, "AutoTLSEAB " + args), why, "chmod 600")
    assert re.search(r'^AutoTLSEAB: "%s' % re.escape(str(server_root / shown)), output,
                     re.M), output


def test_eab_key_id_and_file_are_both_needed(server_root):
    assert_refused(check(server_root, "AutoTLSEAB kid-1"), "AutoTLSEAB takes two arguments")


def test_shipped_load_file_loads_the_debian_module_path():
    load = (REPO / "conf" / "autotls.load").read_text()
    assert re.search(r"^LoadModule autotls_module /usr/lib/apache2/modules/mod_autotls\.so$",
                     load, re.M), load


def test_shipped_conf_parses_as_shipped_and_with_every_example_uncommented(server_root):
    shipped = (REPO / "conf" / "autotls.conf").read_text()
    assert "<IfModule autotls_module>" in shipped
    assert re.search(r"^\s*#AutoTLS on$", shipped, re.M), "AutoTLS on is not offered commented"
    assert_ok(check(server_root, shipped))
    examples = re.sub(r"^(\s*)#(AutoTLS\w*\s)", r"\1\2", shipped, flags=re.M)
    if not SYSTEM_ROOTS.is_file():
        examples = examples.replace(str(SYSTEM_ROOTS), str(server_root / "roots.pem"))
    examples = examples.replace(NOTIFY_EXAMPLE, str(server_root / "notify"))
    examples = examples.replace(DNS_EXAMPLE, str(server_root / "notify"))
    directives = set(re.findall(r"^\s*(AutoTLS\w*)\s", examples, re.M))
    assert len(directives) == 24, sorted(directives)
    assert_ok(check(server_root, examples))
