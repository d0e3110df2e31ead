"""ICMP echo sockets (ipv4/ping.py): permission, identifiers, echo round trips, errors, /proc/net/icmp.

h1 10.0.2.1/24 eth1 -- eth0 10.0.2.254/24 r eth1 10.0.3.254/24 -- eth0 10.0.3.4/24 h4
"""

from __future__ import annotations

import errno
import struct

import pytest

from tuxnet.ipv4.ping import proc_net_icmp
from tuxnet.lab.lab import Lab
from tuxnet.sock.sock import Cred
from tuxnet.socket import (
    AF_INET,
    IP_RECVERR,
    IP_TTL,
    IPPROTO_ICMP,
    MSG_ERRQUEUE,
    SO_ERROR,
    SO_REUSEADDR,
    SOCK_DGRAM,
    SOL_IP,
    SOL_SOCKET,
)
from tuxnet.tools import run_command
from tuxnet.wire.addr import ip_aton
from tuxnet.wire.icmp import IcmpHeader

H1, H4, R1 = "10.0.2.1", "10.0.3.4", "10.0.2.254"


def lab_router(seed: int = 3, group_range: str | None = "0 0"):
    lab = Lab(seed)
    h1, r, h4 = lab.add_host("h1"), lab.add_host("r"), lab.add_host("h4")
    a, b = lab.add_link(h1, "eth1", r, "eth0")
    c, d = lab.add_link(r, "eth1", h4, "eth0")
    h1.devinet.add(a, ip_aton(H1), 24)
    r.devinet.add(b, ip_aton(R1), 24)
    r.devinet.add(c, ip_aton("10.0.3.254"), 24)
    h4.devinet.add(d, ip_aton(H4), 24)
    r.sysctl.set("net.ipv4.ip_forward", "1")
    assert run_command(h1, "ip route add default via 10.0.2.254")[0] == 0
    assert run_command(h4, "ip route add default via 10.0.3.254")[0] == 0
    if group_range is not None:
        h1.sysctl.set("net.ipv4.ping_group_range", group_range)
    return lab, h1, r, h4


def errno_of(fn, *args) -> int:
    with pytest.raises(OSError) as ei:
        fn(*args)
    return ei.value.errno


def ping_socket(ns, cred: Cred | None = None):
    return ns.sockets.socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP, cred=cred)


def test_ping_group_range_decides():
    _, h1, _, _ = lab_router(group_range=None)
    # the default "1 0" excludes everyone, root (gid 0) included
    assert errno_of(ping_socket, h1) == errno.EACCES
    h1.sysctl.set("net.ipv4.ping_group_range", "1000 1000")
    assert errno_of(ping_socket, h1) == errno.EACCES
    ping_socket(h1, Cred(1000, 1000))
    ping_socket(h1, Cred(1001, 50, groups=(7, 1000)))  # a supplementary group is enough
    assert errno_of(ping_socket, h1, Cred(1001, 1001)) == errno.EACCES
    assert len(h1.sockets) == 2


def test_echo_round_trip_through_a_router():
    lab, h1, r, h4 = lab_router()
    s = ping_socket(h1)
    assert s.getsockname() == ("0.0.0.0", 0)
    req = struct.pack("!BBHHH", 8, 0, 0, 0xDEAD, 7) + b"payload!"  # id and checksum are the kernel's
    assert s.sendto(req, (H4, 999)) == len(req)
    ident = s.getsockname()[1]
    assert ident == 1  # the rover's first value (ping_port_rover starts at 0)
    lab.run(1)
    data, addr = s.recvfrom(100)
    assert addr == (H4, 0)
    reply = IcmpHeader.parse(data, verify_checksum=True)
    got = (reply.type, reply.code, reply.echo_id, reply.echo_seq, reply.payload)
    assert got == (0, 0, ident, 7, b"payload!")
    assert h1.mib.icmp.OutEchos == 1 and h1.mib.icmp.InEchoReps == 1
    assert h4.mib.icmp.InEchos == 1 and h4.mib.icmp.OutEchoReps == 1


def test_identifiers_route_replies_to_their_socket():
    lab, h1, _, h4 = lab_router()
    a, b = ping_socket(h1), ping_socket(h1)
    a.bind(("", 0))
    b.bind(("", 0))
    assert (a.getsockname()[1], b.getsockname()[1]) == (1, 2)
    req = IcmpHeader.echo(0, 1, b"A").pack()
    a.sendto(req, (H4, 0))
    b.sendto(IcmpHeader.echo(0, 1, b"B").pack(), (H4, 0))
    lab.run(1)
    assert IcmpHeader.parse(a.recv(100)).payload == b"A"
    assert IcmpHeader.parse(b.recv(100)).payload == b"B"
    # SO_REUSEADDR is on by default for ping sockets: an identifier can be shared...
    c = ping_socket(h1)
    c.bind(("", 1))
    # ...unless one of them turns it off
    d = ping_socket(h1)
    d.setsockopt(SOL_SOCKET, SO_REUSEADDR, 0)
    assert errno_of(d.bind, ("", 1)) == errno.EADDRINUSE
    assert errno_of(a.bind, ("", 5)) == errno.EINVAL  # already bound


def test_send_validation():
    _, h1, _, _ = lab_router()
    s = ping_socket(h1)
    assert errno_of(s.sendto, IcmpHeader.echo(1, 1, reply=True).pack(), (H4, 0)) == errno.EINVAL
    assert errno_of(s.sendto, struct.pack("!BBH", 8, 0, 0), (H4, 0)) == errno.EINVAL
    assert errno_of(s.sendto, struct.pack("!BBHI", 8, 1, 0, 0), (H4, 0)) == errno.EINVAL
    assert errno_of(s.send, IcmpHeader.echo(1, 1).pack()) == errno.EDESTADDRREQ
    assert errno_of(s.sendto, IcmpHeader.echo(1, 1).pack(), ("10.0.2.255", 0)) == errno.EACCES
    assert errno_of(s.sendto, bytes(65536), (H4, 0)) == errno.EMSGSIZE
    t = ping_socket(h1)
    assert errno_of(t.bind, ("10.0.2.255", 0)) == errno.EADDRNOTAVAIL
    assert errno_of(t.bind, ("10.9.9.9", 0)) == errno.EADDRNOTAVAIL
    t.bind((H1, 0))


def test_time_exceeded_reaches_the_ping_socket():
    """ping -t 1: the router's time exceeded (11/0) quotes our echo request; IP_RECVERR gets it."""
    lab, h1, r, _ = lab_router()
    s = ping_socket(h1)
    s.setsockopt(SOL_IP, IP_TTL, 1)
    s.setsockopt(SOL_IP, IP_RECVERR, 1)
    s.sendto(IcmpHeader.echo(0, 3, b"ttl").pack(), (H4, 0))
    lab.run(1)
    assert r.mib.icmp.OutTimeExcds == 1
    data, anc, _, addr = s.recvmsg(100, 256, MSG_ERRQUEUE)
    quoted = IcmpHeader.parse(data)
    ident = s.getsockname()[1]
    assert (quoted.type, quoted.echo_id, quoted.echo_seq, quoted.payload) == (8, ident, 3, b"ttl")
    assert addr == (H4, 0)
    ee = struct.unpack_from("=IBBBBII", anc[0][2])
    assert ee[:4] == (errno.EHOSTUNREACH, 2, 11, 0)
    assert anc[0][2][20:24] == bytes([10, 0, 2, 254])  # offender: the router
    # without IP_RECVERR a time exceeded is not fatal, even when connected
    c = ping_socket(h1)
    c.setsockopt(SOL_IP, IP_TTL, 1)
    c.connect((H4, 0))
    c.send(IcmpHeader.echo(0, 4).pack())
    lab.run(1)
    assert c.getsockopt(SOL_SOCKET, SO_ERROR) == 0


def test_unreachable_is_fatal_for_a_connected_ping_socket():
    lab, h1, r, _ = lab_router()
    assert run_command(r, "ip route add prohibit 10.8.0.0/16")[0] == 0
    s = ping_socket(h1)
    s.connect(("10.8.0.1", 0))
    s.send(IcmpHeader.echo(0, 1).pack())
    lab.run(1)
    # 3/13 (administratively prohibited) is fatal: EHOSTUNREACH on the next call
    assert errno_of(s.recv, 100) == errno.EHOSTUNREACH


def test_proc_net_icmp_layout():
    lab, h1, _, _ = lab_router()
    s = ping_socket(h1)
    s.bind(("", 39887))
    lines = proc_net_icmp(h1).splitlines()
    # captured from Linux 6.18: an unbound-address ping socket with identifier 39887
    kernel = ["  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
              "inode ref pointer drops",
              "   37: 00000000:9BCF 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 "
              "123272 2 0000000082c94ce9 0"]
    assert lines[0] == kernel[0].ljust(127)
    assert len(lines[1]) == 127
    of, kf = lines[1].split(), kernel[1].split()
    assert of[1:9] == kf[1:9] and of[10] == kf[10] and of[12] == kf[12]
    assert int(of[0][:-1]) == h1.ping.bucket(39887) and int(of[9]) == s.ino
