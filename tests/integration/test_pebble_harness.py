# SPDX-License-Identifier: Apache-2.0
"""The test CA itself: pebble and challtestsrv start on loopback and answer as the other tests need.

The one idea to hold: if these fail, every other integration failure is noise; they check the
harness against the traps of DESIGN section 7 (AAAA answers, issuing root vs listener CA).
"""

import random
import socket
import struct
import subprocess

from pebble import LOOPBACK, PebbleEnv, free_port

DNS_TYPE_A = 1
DNS_TYPE_AAAA = 28
DNS_TIMEOUT = 2.0


def dns_query(port, name, qtype):
    """Asks challtestsrv's DNS (UDP, 127.0.0.1:port) and returns the answers' rdata as text."""
    qid = random.randrange(1 << 16)
    header = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    qname = b"".join(bytes([len(label)]) + label.encode() for label in name.rstrip(".").split("."))
    packet = header + qname + b"\x00" + struct.pack("!HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(DNS_TIMEOUT)
        s.sendto(packet, (LOOPBACK, port))
        data, _ = s.recvfrom(4096)
    rid, _flags, qdcount, ancount = struct.unpack("!HHHH", data[:8])
    assert rid == qid
    pos = 12
    for _ in range(qdcount):
        pos = _skip_name(data, pos) + 4
    answers = []
    for _ in range(ancount):
        pos = _skip_name(data, pos)
        rtype, _cls, _ttl, rdlen = struct.unpack("!HHIH", data[pos:pos + 10])
        rdata = data[pos + 10:pos + 10 + rdlen]
        pos += 10 + rdlen
        if rtype == DNS_TYPE_A:
            answers.append(socket.inet_ntop(socket.AF_INET, rdata))
        elif rtype == DNS_TYPE_AAAA:
            answers.append(socket.inet_ntop(socket.AF_INET6, rdata))
    return answers


def _skip_name(data, pos):
    while True:
        length = data[pos]
        if length == 0:
            return pos + 1
        if length & 0xC0 == 0xC0:
            return pos + 2
        pos += 1 + length


def openssl_text(pem, *args):
    proc = subprocess.run(["openssl", "x509", "-noout"] + list(args), input=pem,
                          capture_output=True, text=True, check=True)
    return proc.stdout


def test_directory_lists_new_nonce_account_and_order(pebble):
    directory = pebble.directory()
    for key in ("newNonce", "newAccount", "newOrder", "revokeCert"):
        assert directory[key].startswith("https://127.0.0.1:")
    assert directory["meta"]["termsOfService"]


def test_issuing_root_and_intermediate_are_ca_certificates(pebble):
    root = pebble.roots_pem()
    intermediate = pebble.intermediates_pem()
    assert root.startswith("-----BEGIN CERTIFICATE-----")
    assert "CA:TRUE" in openssl_text(root, "-ext", "basicConstraints")
    assert "CA:TRUE" in openssl_text(intermediate, "-ext", "basicConstraints")
    root_subject = openssl_text(root, "-subject").split("=", 1)[1]
    assert root_subject in openssl_text(intermediate, "-issuer")


def test_issuing_root_is_not_the_listener_ca(pebble):
    with open(pebble.ca_cert) as f:
        listener_ca = f.read()
    assert openssl_text(listener_ca, "-fingerprint") != openssl_text(pebble.roots_pem(),
                                                                     "-fingerprint")


def test_healthy_and_unknown_serial_has_no_status(pebble):
    assert pebble.healthy()
    assert pebble.cert_status("0123abcd") is None


def test_challtestsrv_answers_a_with_loopback_and_no_aaaa(pebble):
    assert dns_query(pebble.dns_port, "anything.test", DNS_TYPE_A) == ["127.0.0.1"]
    assert dns_query(pebble.dns_port, "anything.test", DNS_TYPE_AAAA) == []


def test_set_a_points_a_name_elsewhere_until_cleared(pebble):
    pebble.set_a("elsewhere.test", "127.0.0.2")
    try:
        assert dns_query(pebble.dns_port, "elsewhere.test", DNS_TYPE_A) == ["127.0.0.2"]
        assert dns_query(pebble.dns_port, "other.test", DNS_TYPE_A) == ["127.0.0.1"]
    finally:
        pebble.clear_a("elsewhere.test")
    assert dns_query(pebble.dns_port, "elsewhere.test", DNS_TYPE_A) == ["127.0.0.1"]


def test_listeners_are_on_loopback_only(pebble):
    out = subprocess.run(["ss", "-Hltnup"], capture_output=True, text=True).stdout
    pids = {pebble.pebble_proc.pid, pebble.challtestsrv_proc.pid}
    mine = [line for line in out.splitlines() if any("pid=%d," % pid in line for pid in pids)]
    assert len(mine) >= 4  # acme, management, dns udp+tcp, challtestsrv management
    for line in mine:
        local = line.split()[4]
        assert local.startswith("127.0.0.1:"), line


def test_stop_ends_both_servers_and_a_restart_gets_a_new_root():
    env = PebbleEnv(http01_port=free_port())
    with env:
        first_root = env.roots_pem()
        procs = [env.pebble_proc, env.challtestsrv_proc]
        env.restart()
        assert env.healthy()
        assert env.roots_pem() != first_root
        procs += [env.pebble_proc, env.challtestsrv_proc]
        workdir = env.workdir
    assert all(proc.poll() is not None for proc in procs)
    assert env.workdir is None
    with socket.socket() as s:
        assert s.connect_ex((LOOPBACK, env.acme_port)) != 0
    assert workdir
