"""UDP (ipv4/udp.py) through the whole stack: sockets on lab hosts, frames read off veth taps.

Topology (``lab3``)::

    h1 10.0.0.1/24 eth0 ---- eth0 10.0.0.2/24 h2 eth1 10.0.1.2/24 ---- eth0 10.0.1.3/24 h3
    h1 10.0.2.1/24 eth1 ---- eth0 10.0.2.254/24 r eth1 10.0.3.254/24 ---- (mtu 1000) eth0 10.0.3.4/24 h4

Expected errnos, counters and flags are Linux's; frame bytes are checked against an independent
encoder (tuxnet.wire and, where installed, scapy's checksums).
"""

from __future__ import annotations

import errno
import struct

import pytest

from tuxnet.core.trace import SkbDropReason
from tuxnet.ipv4.udp import proc_net_udp
from tuxnet.lab.lab import Lab
from tuxnet.sock.sock import Cred
from tuxnet.socket import (
    AF_INET,
    FIONREAD,
    IP_FREEBIND,
    IP_MTU,
    IP_MTU_DISCOVER,
    IP_PMTUDISC_DO,
    IP_PMTUDISC_DONT,
    IP_RECVERR,
    IPPROTO_ICMP,
    IPPROTO_UDP,
    MSG_ERRQUEUE,
    MSG_PEEK,
    MSG_TRUNC,
    SIOCOUTQ,
    SO_BINDTODEVICE,
    SO_BROADCAST,
    SO_ERROR,
    SO_RCVBUF,
    SO_REUSEADDR,
    SO_REUSEPORT,
    SOCK_DGRAM,
    SOCK_RAW,
    SOL_IP,
    SOL_SOCKET,
)
from tuxnet.tools import run_command
from tuxnet.wire.addr import ip_aton
from tuxnet.wire.ethernet_consts import ETH_P_IP
from tuxnet.wire.ipv4 import IP_DF, Ipv4Header
from tuxnet.wire.udp import UdpHeader, udp_checksum_ok

A1, A2, A3 = "10.0.0.1", "10.0.0.2", "10.0.1.3"
H4 = "10.0.3.4"


class Cap:
    """Frames seen by a device tap."""

    def __init__(self, dev) -> None:
        self.frames: list[tuple[bool, bytes]] = []
        dev.taps.append(lambda skb, out: self.frames.append((out, skb.mac_bytes())))

    def ip(self, outgoing: bool, proto: int = 17) -> list[bytes]:
        return [f for o, f in self.frames if o == outgoing and f[12:14] == b"\x08\x00" and f[23] == proto]


def lab3(seed: int = 11):
    lab = Lab(seed)
    h1, h2, h3 = lab.add_host("h1"), lab.add_host("h2"), lab.add_host("h3")
    d1, d2 = lab.add_link(h1, "eth0", h2, "eth0")
    e2, e3 = lab.add_link(h2, "eth1", h3, "eth0")
    h1.devinet.add(d1, ip_aton(A1), 24)
    h2.devinet.add(d2, ip_aton(A2), 24)
    h2.devinet.add(e2, ip_aton("10.0.1.2"), 24)
    h3.devinet.add(e3, ip_aton(A3), 24)
    return lab, h1, h2, h3


def lab_router(seed: int = 12):
    """h1 -- r -- h4 where the r--h4 link has MTU 1000."""
    lab = Lab(seed)
    h1, r, h4 = lab.add_host("h1"), lab.add_host("r"), lab.add_host("h4")
    a, b = lab.add_link(h1, "eth1", r, "eth0")
    c, d = lab.add_link(r, "eth1", h4, "eth0", mtu=1000)
    h1.devinet.add(a, ip_aton("10.0.2.1"), 24)
    r.devinet.add(b, ip_aton("10.0.2.254"), 24)
    r.devinet.add(c, ip_aton("10.0.3.254"), 24)
    h4.devinet.add(d, ip_aton(H4), 24)
    r.sysctl.set("net.ipv4.ip_forward", "1")
    assert run_command(h1, "ip route add default via 10.0.2.254")[0] == 0
    assert run_command(h4, "ip route add default via 10.0.3.254")[0] == 0
    return lab, h1, r, h4


def errno_of(fn, *args) -> int:
    with pytest.raises(OSError) as ei:
        fn(*args)
    return ei.value.errno


def expected_frame(src_dev, dst_dev, saddr: str, daddr: str, sport: int, dport: int, payload: bytes,
                   ip_id: int, df: bool = True) -> bytes:
    s, d = ip_aton(saddr), ip_aton(daddr)
    udp = UdpHeader(sport, dport, 8 + len(payload)).pack(s, d, payload) + payload
    iph = Ipv4Header(tot_len=20 + len(udp), id=ip_id, frag_off=IP_DF if df else 0, ttl=64, protocol=17,
                     saddr=s, daddr=d).pack()
    return dst_dev.mac + src_dev.mac + ETH_P_IP.to_bytes(2, "big") + iph + udp


# ------------------------------------------------------------------ data path
def test_echo_both_ways_exact_bytes_on_the_wire():
    lab, h1, h2, _ = lab3()
    d1, d2 = h1.devices["eth0"], h2.devices["eth0"]
    c1, c2 = Cap(d1), Cap(d2)
    srv = h2.socket()
    srv.bind(("0.0.0.0", 7))
    cli = h1.socket()
    cli.sendto(b"hello, world", (A2, 7))
    lab.run(0.1)
    data, addr = srv.recvfrom(2048)
    assert data == b"hello, world" and addr == (A1, cli.getsockname()[1])
    srv.sendto(data[::-1], addr)
    lab.run(0.1)
    assert cli.recvfrom(2048) == (b"dlrow ,olleh", (A2, 7))

    (req,) = c1.ip(outgoing=True)
    (rep,) = c2.ip(outgoing=True)
    sport = cli.getsockname()[1]
    assert req == expected_frame(d1, d2, A1, A2, sport, 7, b"hello, world", int.from_bytes(req[18:20], "big"))
    assert rep == expected_frame(d2, d1, A2, A1, 7, sport, b"dlrow ,olleh", int.from_bytes(rep[18:20], "big"))
    assert c2.ip(outgoing=False) == [req] and c1.ip(outgoing=False) == [rep]
    for frame in (req, rep):
        assert udp_checksum_ok(int.from_bytes(frame[26:30], "big"), int.from_bytes(frame[30:34], "big"),
                               frame[34:])
    scapy = pytest.importorskip("scapy.layers.l2")
    from scapy.layers.inet import IP, UDP

    for frame in (req, rep):
        p = scapy.Ether(frame)
        p[IP].chksum = None
        p[UDP].chksum = None
        assert bytes(scapy.Ether(bytes(p))) == frame  # scapy recomputes both checksums the same
    assert h1.mib.udp.OutDatagrams == 1 and h2.mib.udp.InDatagrams == 1
    assert h2.mib.udp.OutDatagrams == 1 and h1.mib.udp.InDatagrams == 1


def test_connected_socket_ids_and_ttl_tos():
    lab, h1, h2, _ = lab3()
    c1 = Cap(h1.devices["eth0"])
    srv = h2.socket()
    srv.bind(("", 9))
    cli = h1.socket()
    cli.setsockopt(SOL_IP, 2, 17)  # IP_TTL
    cli.setsockopt(SOL_IP, 1, 0x10)  # IP_TOS
    cli.connect((A2, 9))
    for _ in range(3):
        cli.send(b"x")
    lab.run(0.1)
    frames = c1.ip(outgoing=True)
    assert len(frames) == 3
    ids = [int.from_bytes(f[18:20], "big") for f in frames]
    # a connected socket numbers its datagrams from inet_id
    assert ids[1] == (ids[0] + 1) & 0xFFFF and ids[2] == (ids[0] + 2) & 0xFFFF
    assert all(f[22] == 17 and f[15] == 0x10 for f in frames)


def test_large_datagram_is_fragmented_and_reassembled():
    lab, h1, h2, _ = lab3()
    c2 = Cap(h2.devices["eth0"])
    srv = h2.socket()
    srv.bind(("", 5001))
    cli = h1.socket()
    payload = bytes(range(256)) * 15 + bytes(160)  # 4000 bytes
    cli.sendto(payload, (A2, 5001))
    lab.run(0.1)
    assert srv.recv(65536) == payload
    frags = c2.ip(outgoing=False)
    assert [len(f) for f in frags] == [14 + 1500, 14 + 1500, 14 + 20 + 4008 - 2960]
    offs = [(int.from_bytes(f[20:22], "big")) for f in frags]
    # no DF (the datagram did not fit the MTU), MF on all but the last, offsets in 8-byte units
    assert offs == [0x2000, 0x2000 | 185, 370]
    assert h1.mib.ip.FragOKs == 1 and h1.mib.ip.FragCreates == 3
    assert h2.mib.ip.ReasmReqds == 3 and h2.mib.ip.ReasmOKs == 1 and h2.mib.udp.InDatagrams == 1


def test_emsgsize_limits_and_df():
    lab, h1, h2, _ = lab3()
    c1 = Cap(h1.devices["eth0"])
    srv = h2.socket()
    srv.bind(("", 5002))
    cli = h1.socket()
    assert errno_of(cli.sendto, bytes(65508), ("127.0.0.1", 9)) == errno.EMSGSIZE
    assert errno_of(cli.sendto, bytes(70000), ("127.0.0.1", 9)) == errno.EMSGSIZE
    assert cli.sendto(bytes(65507), ("127.0.0.1", 9)) == 65507
    cli.setsockopt(SOL_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO)
    assert errno_of(cli.sendto, bytes(1473), (A2, 5002)) == errno.EMSGSIZE
    assert cli.sendto(bytes(1472), (A2, 5002)) == 1472
    cli.setsockopt(SOL_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DONT)
    cli.sendto(b"small", (A2, 5002))
    lab.run(0.1)
    df_bits = [bool(f[20] & 0x40) for f in c1.ip(outgoing=True)]
    assert df_bits == [True, False]
    assert srv.recv(2000) == bytes(1472) and srv.recv(2000) == b"small"


def test_path_mtu_discovery_through_a_router():
    lab, h1, r, h4 = lab_router()
    srv = h4.socket()
    srv.bind(("", 9000))
    cli = h1.socket()
    cli.connect((H4, 9000))
    assert cli.getsockopt(SOL_IP, IP_MTU) == 1500
    cli.send(bytes(1400))  # DF (fits 1500), refused by r's 1000-byte link
    lab.run(1)
    assert r.mib.icmp.OutDestUnreachs == 1 and h1.mib.icmp.InDestUnreachs == 1
    assert cli.getsockopt(SOL_IP, IP_MTU) == 1000
    # __udp4_lib_err: frag needed is a hard error for a connected socket unless IP_PMTUDISC_DONT
    assert errno_of(cli.send, bytes(1400)) == errno.EMSGSIZE
    cli.send(bytes(1400))  # now fragmented at the source to the learned PMTU
    lab.run(1)
    assert srv.recv(2000) == bytes(1400)
    assert h1.mib.ip.FragCreates == 2 and h4.mib.ip.ReasmOKs == 1


# ------------------------------------------------------------------ ports and binding
def test_ephemeral_ports_in_range_and_deterministic():
    def ports(seed: int) -> list[int]:
        _, h1, _, _ = lab3(seed)
        out = []
        for _ in range(5):
            s = h1.socket()
            s.bind(("", 0))
            out.append(s.getsockname()[1])
        return out

    a, b, c = ports(1), ports(1), ports(2)
    assert a == b and a != c
    assert all(32768 <= p <= 60999 for p in a + c) and len(set(a)) == 5


def test_reserved_ports_and_exhaustion():
    lab, h1, _, _ = lab3()
    h1.sysctl.set("net.ipv4.ip_local_port_range", "40000 40009")
    h1.sysctl.set("net.ipv4.ip_local_reserved_ports", "40000-40003,40005-40008")
    got = []
    for _ in range(2):
        s = h1.socket()
        s.bind(("", 0))
        got.append(s.getsockname()[1])
    assert sorted(got) == [40004, 40009]
    s = h1.socket()
    assert errno_of(s.bind, ("", 0)) == errno.EADDRINUSE
    # the automatic bind of sendto/connect fails with EAGAIN instead
    assert errno_of(s.sendto, b"x", (A2, 9)) == errno.EAGAIN
    assert errno_of(s.connect, (A2, 9)) == errno.EAGAIN
    # an explicit bind to a reserved port is allowed
    s.bind(("", 40000))


def test_bind_errors():
    _, h1, _, _ = lab3()
    s = h1.socket()
    assert errno_of(s.bind, ("10.9.9.9", 0)) == errno.EADDRNOTAVAIL
    s.bind((A1, 0))
    assert errno_of(s.bind, (A1, 0)) == errno.EINVAL
    t = h1.socket()
    t.setsockopt(SOL_IP, IP_FREEBIND, 1)
    t.bind(("10.9.9.9", 0))
    h1.sysctl.set("net.ipv4.ip_nonlocal_bind", "1")
    h1.socket().bind(("10.9.9.8", 0))
    user = h1.sockets.socket(AF_INET, 2, 0, cred=Cred(1000, 1000))
    assert errno_of(user.bind, ("", 80)) == errno.EACCES
    user.bind(("", 1024))
    h1.socket().bind(("", 80))  # root may


def test_bind_conflicts_reuseaddr_and_reuseport():
    lab, h1, h2, _ = lab3()
    a = h2.socket()
    a.bind((A2, 7777))
    assert errno_of(h2.socket().bind, (A2, 7777)) == errno.EADDRINUSE
    assert errno_of(h2.socket().bind, ("", 7777)) == errno.EADDRINUSE  # wildcard vs specific
    h2.socket().bind(("10.0.1.2", 7777))  # another address is fine
    # SO_REUSEADDR must be set on both
    b = h2.socket()
    b.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    assert errno_of(b.bind, (A2, 7777)) == errno.EADDRINUSE
    a.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    b.bind((A2, 7777))
    # unicast goes to the most recently bound of equal sockets
    cli = h1.socket()
    cli.sendto(b"1", (A2, 7777))
    lab.run(0.1)
    assert b.recv(10) == b"1"
    with pytest.raises(BlockingIOError):
        a.recv(10)
    b.close()
    cli.sendto(b"2", (A2, 7777))
    lab.run(0.1)
    assert a.recv(10) == b"2"
    # SO_REUSEPORT: same owner only, and both sockets
    p = h2.socket()
    p.setsockopt(SOL_SOCKET, SO_REUSEPORT, 1)
    p.bind((A2, 8888))
    q = h2.socket()
    assert errno_of(q.bind, (A2, 8888)) == errno.EADDRINUSE
    other = h2.sockets.socket(AF_INET, 2, 0, cred=Cred(1000, 1000))
    other.setsockopt(SOL_SOCKET, SO_REUSEPORT, 1)
    assert errno_of(other.bind, (A2, 8888)) == errno.EADDRINUSE
    q.setsockopt(SOL_SOCKET, SO_REUSEPORT, 1)
    q.bind((A2, 8888))


def test_reuseport_group_spreads_by_flow():
    lab, h1, h2, _ = lab3(seed=21)
    members = []
    for _ in range(3):
        s = h2.socket()
        s.setsockopt(SOL_SOCKET, SO_REUSEPORT, 1)
        s.bind(("", 8888))
        members.append(s)
    clients = [h1.socket() for _ in range(30)]
    for c in clients:
        c.sendto(b"a", (A2, 8888))
        c.sendto(b"b", (A2, 8888))
    lab.run(0.1)
    per_member: list[list[tuple[bytes, int]]] = []
    for s in members:
        got = []
        while True:
            try:
                d, (_, port) = s.recvfrom(10)
            except BlockingIOError:
                break
            got.append((d, port))
        per_member.append(got)
    assert sum(len(g) for g in per_member) == 60
    assert all(len(g) >= 4 for g in per_member)  # every member gets a share
    # a flow sticks to one member: both datagrams of a client land together
    for g in per_member:
        ports = [p for _, p in g]
        assert all(ports.count(p) == 2 for p in ports)


def test_lookup_prefers_exact_address_connected_and_device():
    lab, h1, h2, h3 = lab3()
    # exact local address beats the wildcard even when the wildcard was bound later
    spec = h2.socket()
    spec.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    spec.bind((A2, 7000))
    wild = h2.socket()
    wild.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    wild.bind(("", 7000))
    # a connected socket beats an unconnected one for its peer only
    conn = h2.socket()
    conn.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    conn.bind(("", 7001))
    conn.connect((A1, 5000))
    open_ = h2.socket()
    open_.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    open_.bind(("", 7001))
    # SO_BINDTODEVICE scores higher on its device, and does not match another one
    dev1 = h2.socket()
    dev1.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    dev1.setsockopt(SOL_SOCKET, SO_BINDTODEVICE, b"eth1")
    dev1.bind(("", 53))
    anydev = h2.socket()
    anydev.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    anydev.bind(("", 53))

    c5000, c5001 = h1.socket(), h1.socket()
    c5000.bind(("", 5000))
    c5001.bind(("", 5001))
    c5000.sendto(b"to-7000", (A2, 7000))
    c5000.sendto(b"from-5000", (A2, 7001))
    c5001.sendto(b"from-5001", (A2, 7001))
    c5000.sendto(b"dns-eth0", (A2, 53))
    h3.socket().sendto(b"dns-eth1", ("10.0.1.2", 53))
    lab.run(0.1)
    assert spec.recv(20) == b"to-7000"
    assert conn.recv(20) == b"from-5000"
    assert open_.recv(20) == b"from-5001"
    assert anydev.recv(20) == b"dns-eth0"
    assert dev1.recv(20) == b"dns-eth1"
    for s in (wild, conn, open_, anydev, dev1):
        with pytest.raises(BlockingIOError):
            s.recv(20)
    # different devices do not conflict even without SO_REUSEADDR
    x, y = h2.socket(), h2.socket()
    x.setsockopt(SOL_SOCKET, SO_BINDTODEVICE, b"eth0")
    y.setsockopt(SOL_SOCKET, SO_BINDTODEVICE, b"eth1")
    x.bind(("", 6000))
    y.bind(("", 6000))


# ------------------------------------------------------------------ errors from the network
def test_port_unreachable_gives_econnrefused_to_connected_socket():
    lab, h1, h2, _ = lab3()
    conn = h1.socket()
    conn.connect((A2, 9))
    unconn = h1.socket()
    unconn.sendto(b"x", (A2, 9))
    conn.send(b"x")
    lab.run(0.1)
    assert h2.mib.udp.NoPorts == 2
    assert h2.mib.icmp.OutDestUnreachs == 2 and h1.mib.icmp.InDestUnreachs == 2
    assert h2.drops[SkbDropReason.NO_SOCKET] == 2
    # reported once, on the next call, then cleared
    assert errno_of(conn.send, b"y") == errno.ECONNREFUSED
    assert conn.send(b"z") == 1
    lab.run(0.1)
    assert conn.getsockopt(SOL_SOCKET, SO_ERROR) == errno.ECONNREFUSED
    assert conn.getsockopt(SOL_SOCKET, SO_ERROR) == 0
    # the unconnected socket heard nothing
    assert unconn.getsockopt(SOL_SOCKET, SO_ERROR) == 0
    with pytest.raises(BlockingIOError):
        unconn.recv(10)
    conn.send(b"w")
    lab.run(0.1)
    assert errno_of(conn.recv, 10) == errno.ECONNREFUSED


def test_ip_recverr_reports_to_unconnected_socket_with_error_queue():
    lab, h1, h2, _ = lab3()
    s = h1.socket()
    s.setsockopt(SOL_IP, IP_RECVERR, 1)
    s.sendto(b"payload!", (A2, 4444))
    lab.run(0.1)
    data, anc, flags, addr = s.recvmsg(100, 256, MSG_ERRQUEUE)
    assert data == b"payload!" and addr == (A2, 4444) and flags & MSG_ERRQUEUE
    ((level, ctype, cdata),) = anc
    assert (level, ctype) == (SOL_IP, IP_RECVERR)
    ee_errno, origin, etype, code, _, info, _ = struct.unpack_from("=IBBBBII", cdata)
    assert (ee_errno, origin, etype, code, info) == (errno.ECONNREFUSED, 2, 3, 3, 0)
    family, _, offender = struct.unpack_from("=HH4s", cdata, 16)
    assert family == AF_INET and offender == bytes([10, 0, 0, 2])
    # sk_err was set too (read and cleared by the error queue read)
    assert s.getsockopt(SOL_SOCKET, SO_ERROR) == 0
    with pytest.raises(BlockingIOError):
        s.recvmsg(100, 256, MSG_ERRQUEUE)


def test_host_unreachable_is_not_fatal_for_connected_udp():
    """icmp_err_convert: 3/1 is not fatal; without IP_RECVERR Linux keeps quiet."""
    lab, h1, r, h4 = lab_router()
    assert run_command(r, "ip route add unreachable 10.9.0.0/16")[0] == 0
    s = h1.socket()
    s.connect(("10.9.0.1", 53))
    s.send(b"q")
    lab.run(1)
    assert h1.mib.icmp.InDestUnreachs == 1
    assert s.getsockopt(SOL_SOCKET, SO_ERROR) == 0
    s.setsockopt(SOL_IP, IP_RECVERR, 1)
    s.send(b"q")
    lab.run(2)
    assert errno_of(s.send, b"q") == errno.EHOSTUNREACH


# ------------------------------------------------------------------ receive side
def test_receive_buffer_overflow_drops_and_counts():
    lab, h1, h2, _ = lab3()
    srv = h2.socket()
    srv.setsockopt(SOL_SOCKET, SO_RCVBUF, 1)  # -> SOCK_MIN_RCVBUF, 2304
    srv.bind(("", 6001))
    cli = h1.socket()
    for i in range(10):
        cli.sendto(bytes([i]) * 10, (A2, 6001))
    lab.run(0.1)
    # each small datagram charges 832 bytes of truesize: two fit in 2304
    assert h2.mib.udp.RcvbufErrors == 8 and h2.mib.udp.InErrors == 8
    assert h2.drops[SkbDropReason.SOCKET_RCVBUFF] == 8
    line = proc_net_udp(h2).splitlines()[1].split()
    assert line[4] == f"00000000:{2 * 832:08X}" and line[-1] == "8"
    assert [srv.recv(100)[0] for _ in range(2)] == [0, 1]
    assert h2.mib.udp.InDatagrams == 2
    # an empty queue takes a datagram even beyond the limit
    srv.setsockopt(SOL_SOCKET, SO_RCVBUF, 0)
    srv.sk.sk_rcvbuf = 100
    cli.sendto(b"later", (A2, 6001))
    cli.sendto(b"dropped", (A2, 6001))
    lab.run(0.1)
    assert srv.recv(100) == b"later"
    # exactly three fit in 3 * 832
    srv.setsockopt(SOL_SOCKET, SO_RCVBUF, 3 * 832 // 2)
    for _ in range(6):
        cli.sendto(b"z", (A2, 6001))
    lab.run(0.1)
    assert h2.mib.udp.RcvbufErrors == 8 + 1 + 3


def test_peek_trunc_and_indatagrams_counted_on_read():
    lab, h1, h2, _ = lab3()
    srv = h2.socket()
    srv.bind(("", 6002))
    h1.socket().sendto(b"0123456789", (A2, 6002))
    lab.run(0.1)
    assert h2.mib.udp.InDatagrams == 0  # Linux counts it in recvmsg
    assert srv.recv(4, MSG_PEEK) == b"0123"
    data, _, flags, _ = srv.recvmsg(4)
    assert data == b"0123" and flags & MSG_TRUNC
    assert h2.mib.udp.InDatagrams == 1
    with pytest.raises(BlockingIOError):
        srv.recv(10)


def test_fionread_is_the_next_datagram_and_ping_sockets_have_no_ioctl():
    # udp_ioctl: SIOCINQ is first_packet_length, not the queue's total; SIOCOUTQ the unsent bytes
    lab, h1, h2, _ = lab3()
    srv = h2.socket()
    srv.bind(("", 6003))
    assert srv.ioctl(FIONREAD) == srv.ioctl(SIOCOUTQ) == 0
    c = h1.socket()
    c.sendto(b"a" * 10, (A2, 6003))
    c.sendto(b"b" * 300, (A2, 6003))
    lab.run(0.1)
    assert srv.ioctl(FIONREAD) == 10
    srv.recv(100)
    assert srv.ioctl(FIONREAD) == 300
    raw = h2.socket(AF_INET, SOCK_RAW, IPPROTO_UDP)
    c.sendto(b"c" * 5, (A2, 6003))
    lab.run(0.1)
    assert raw.ioctl(FIONREAD) == 20 + 8 + 5  # raw_ioctl: the whole IP packet
    h2.sysctl.set("net.ipv4.ping_group_range", "0 0")
    ping = h2.socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)
    assert errno_of(ping.ioctl, FIONREAD) == errno.ENOTTY


def test_bad_checksum_and_bad_length_are_dropped():
    lab, h1, h2, _ = lab3()
    srv = h2.socket()
    srv.bind(("", 6003))
    raw = h1.socket(AF_INET, SOCK_RAW, IPPROTO_UDP)
    good = UdpHeader(1234, 6003, 8 + 4).pack(ip_aton(A1), ip_aton(A2), b"good") + b"good"
    bad = bytearray(good)
    bad[6] ^= 0xFF
    nosum = UdpHeader(1234, 6003, 8 + 4, 0).pack() + b"zero"
    longlen = UdpHeader(1234, 6003, 100, 0).pack() + b"shrt"
    for pkt in (bytes(bad), nosum, longlen, good):
        raw.sendto(pkt, (A2, 0))
    lab.run(0.1)
    assert srv.recv(100) == b"zero" and srv.recv(100) == b"good"
    assert h2.mib.udp.InCsumErrors == 1 and h2.mib.udp.InErrors == 2
    assert h2.drops[SkbDropReason.UDP_CSUM] == 1 and h2.drops[SkbDropReason.PKT_TOO_SMALL] == 1


# ------------------------------------------------------------------ broadcast
def test_broadcast_needs_so_broadcast_and_reaches_wildcard_sockets():
    lab, h1, h2, _ = lab3()
    wild = h2.socket()
    wild.bind(("", 9999))
    unicast = h2.socket()
    unicast.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    wild.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    unicast.bind((A2, 9999))
    bcast = h2.socket()
    bcast.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    bcast.bind(("10.0.0.255", 9999))
    cli = h1.socket()
    assert errno_of(cli.sendto, b"x", ("10.0.0.255", 9999)) == errno.EACCES
    assert errno_of(cli.connect, ("10.0.0.255", 9999)) == errno.EACCES
    cli.setsockopt(SOL_SOCKET, SO_BROADCAST, 1)
    cli.sendto(b"all", ("10.0.0.255", 9999))
    cli.sendto(b"nobody", ("10.0.0.255", 9998))
    lab.run(0.1)
    assert wild.recv(10) == b"all" and bcast.recv(10) == b"all"
    with pytest.raises(BlockingIOError):
        unicast.recv(10)
    # nobody on 9998 (and h1's own looped-back copies): IgnoredMulti, never an ICMP error
    assert h2.mib.udp.IgnoredMulti == 1 and h2.mib.udp.NoPorts == 0
    assert h1.mib.udp.IgnoredMulti == 2
    assert h2.mib.icmp.OutMsgs == 0


# ------------------------------------------------------------------ /proc/net/udp
# captured from Linux 6.18 (trailing blanks stripped): a socket on 127.0.0.1:5353 holding 5 bytes,
# and a socket connected to it from port 52389; every line is padded to 127 columns
KERNEL_SAMPLE = [
    "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref "
    "pointer drops",
    "  315: 0100007F:CCA5 0100007F:14E9 01 00000000:00000000 00:00000000 00000000     0        0 23336 2 "
    "00000000454f073a 0",
    " 2431: 0100007F:14E9 00000000:0000 07 00000000:00000340 00:00000000 00000000     0        0 23334 2 "
    "0000000054dde899 0",
]


def _mask(line: str) -> list[str]:
    f = line.split()
    return [f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[10], f[12]]  # no sl, inode, pointer


def test_proc_net_udp_matches_the_kernel_layout():
    lab, h1, _, _ = lab3()
    srv = h1.socket()
    srv.bind(("127.0.0.1", 5353))
    cli = h1.socket()
    cli.bind(("127.0.0.1", 52389))
    cli.connect(("127.0.0.1", 5353))
    cli.send(b"hello")
    lab.run(0.1)
    ours = proc_net_udp(h1).splitlines(keepends=True)
    theirs = [ln.ljust(127) + "\n" for ln in KERNEL_SAMPLE]
    assert ours[0] == theirs[0]
    assert all(len(ln) == 128 for ln in ours)  # seq_setwidth(127) + newline
    by_local = {ln.split()[1]: ln for ln in ours[1:]}
    for ln in theirs[1:]:
        mine = by_local[ln.split()[1]]
        assert _mask(mine) == _mask(ln)
        # same columns at the same offsets
        assert [i for i, ch in enumerate(mine) if ch == ":"] == [i for i, ch in enumerate(ln) if ch == ":"]
    srv_line = by_local["0100007F:14E9"]
    assert int(srv_line.split()[9]) == srv.ino
    assert int(srv_line.split()[0][:-1]) == h1.udp.bucket(5353)


# ------------------------------------------------------------------ multicast
def test_multicast_to_a_joined_group():
    import socket as pysocket

    from tuxnet.socket import IP_ADD_MEMBERSHIP, IP_DROP_MEMBERSHIP, IP_MULTICAST_ALL, IP_MULTICAST_IF

    lab, h1, h2, _ = lab3()
    c1 = Cap(h1.devices["eth0"])
    mreq = pysocket.inet_aton("239.1.1.1") + pysocket.inet_aton(A2)
    member = h2.socket()
    member.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    member.bind(("", 5000))
    member.setsockopt(SOL_IP, IP_ADD_MEMBERSHIP, mreq)
    assert errno_of(member.setsockopt, SOL_IP, IP_ADD_MEMBERSHIP, mreq) == errno.EADDRINUSE
    strict = h2.socket()  # bound to the port but not a member, and not taking everything
    strict.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    strict.setsockopt(SOL_IP, IP_MULTICAST_ALL, 0)
    strict.bind(("", 5000))
    s = h1.socket()
    s.setsockopt(SOL_IP, IP_MULTICAST_IF, pysocket.inet_aton(A1))
    s.sendto(b"group", ("239.1.1.1", 5000))
    lab.run(0.1)
    (frame,) = c1.ip(outgoing=True)
    assert frame[:6] == bytes.fromhex("01005e010101") and frame[22] == 1  # group MAC, IP_MULTICAST_TTL 1
    assert member.recvfrom(100) == (b"group", (A1, s.getsockname()[1]))
    with pytest.raises(BlockingIOError):
        strict.recv(100)
    # leaving the group: the device stops accepting it
    member.setsockopt(SOL_IP, IP_DROP_MEMBERSHIP, mreq)
    s.sendto(b"again", ("239.1.1.1", 5000))
    lab.run(0.1)
    with pytest.raises(BlockingIOError):
        member.recv(100)


def test_mark_priority_and_tos_reach_the_packet():
    from tuxnet.netfilter.hooks import NF_ACCEPT, NF_INET_LOCAL_OUT
    from tuxnet.socket import IP_TOS, SO_MARK, SO_PRIORITY

    lab, h1, h2, _ = lab3()
    seen: list[tuple[int, int, int]] = []

    def hook(skb, indev, outdev):
        seen.append((skb.mark, skb.priority, skb.buf[skb.network_header + 1]))
        return NF_ACCEPT

    h1.nf.register(NF_INET_LOCAL_OUT, 0, hook, "test")
    s = h1.socket()
    s.setsockopt(SOL_SOCKET, SO_MARK, 42)
    s.setsockopt(SOL_IP, IP_TOS, 0x10)  # priority follows the TOS (6, interactive)...
    s.sendto(b"a", (A2, 9))
    s.setsockopt(SOL_SOCKET, SO_PRIORITY, 5)  # ...until set explicitly
    s.sendto(b"b", (A2, 9))
    lab.run(0.1)
    assert seen == [(42, 6, 0x10), (42, 5, 0x10)]
    user = h1.sockets.socket(AF_INET, 2, 0, cred=Cred(1000, 1000))
    assert errno_of(user.setsockopt, SOL_SOCKET, SO_MARK, 1) == errno.EPERM
    assert errno_of(user.setsockopt, SOL_SOCKET, SO_PRIORITY, 7) == errno.EPERM
    user.setsockopt(SOL_SOCKET, SO_PRIORITY, 6)
