"""Raw IP sockets (ipv4/raw.py): ICMP seen with its IP header, IP_HDRINCL, ICMP_FILTER, unknown
protocols, errors, /proc/net/raw.

h1 10.0.0.1/24 eth0 -- eth0 10.0.0.2/24 h2 (h2 also has 10.0.0.12/24 as a secondary address)
"""

from __future__ import annotations

import errno
import struct

import pytest

from tuxnet.core.trace import SkbDropReason
from tuxnet.ipv4.raw import proc_net_raw
from tuxnet.lab.lab import Lab
from tuxnet.sock.sock import Cred
from tuxnet.socket import (
    AF_INET,
    ICMP_FILTER,
    IP_HDRINCL,
    IP_RECVERR,
    IPPROTO_ICMP,
    IPPROTO_RAW,
    IPPROTO_UDP,
    MSG_ERRQUEUE,
    SO_BROADCAST,
    SO_ERROR,
    SO_RCVBUF,
    SOCK_DGRAM,
    SOCK_RAW,
    SOL_IP,
    SOL_RAW,
    SOL_SOCKET,
)
from tuxnet.wire.addr import ip_aton
from tuxnet.wire.icmp import IcmpHeader
from tuxnet.wire.ipv4 import Ipv4Header

A1, A2 = "10.0.0.1", "10.0.0.2"


def lab2(seed: int = 5):
    lab = Lab(seed)
    h1, h2 = lab.add_host("h1"), lab.add_host("h2")
    d1, d2 = lab.add_link(h1, "eth0", h2, "eth0")
    h1.devinet.add(d1, ip_aton(A1), 24)
    h2.devinet.add(d2, ip_aton(A2), 24)
    h2.devinet.add(d2, ip_aton("10.0.0.12"), 24)
    return lab, h1, h2


def errno_of(fn, *args) -> int:
    with pytest.raises(OSError) as ei:
        fn(*args)
    return ei.value.errno


def tx_frames(dev) -> list[bytes]:
    out: list[bytes] = []
    dev.taps.append(lambda skb, o: out.append(skb.mac_bytes()) if o else None)
    return out


def drain(s) -> list[tuple[bytes, tuple[str, int]]]:
    got = []
    while True:
        try:
            got.append(s.recvfrom(70000))
        except BlockingIOError:
            return got


def test_creation_and_name():
    _, h1, _ = lab2()
    s = h1.socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)
    assert s.getsockname() == ("0.0.0.0", IPPROTO_ICMP)
    assert s.getsockopt(SOL_IP, IP_HDRINCL) == 0
    assert h1.socket(AF_INET, SOCK_RAW, IPPROTO_RAW).getsockopt(SOL_IP, IP_HDRINCL) == 1
    assert h1.raw.inuse == 2
    user = Cred(7, 7)
    assert errno_of(lambda: h1.sockets.socket(AF_INET, SOCK_RAW, IPPROTO_ICMP, cred=user)) == errno.EPERM
    s.close()
    assert h1.raw.inuse == 1


def test_echo_round_trip_over_raw_icmp_sockets():
    """What ping does as root: h1's raw socket sends an echo request, h2's raw socket sees it (IP
    header included, byte for byte as sent), h2's kernel answers, h1's raw socket reads the reply."""
    lab, h1, h2 = lab2()
    tx1 = tx_frames(h1.devices["eth0"])
    r1 = h1.socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)
    r2 = h2.socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)
    req = IcmpHeader.echo(0x4242, 1, b"abcdefgh").pack()
    assert r1.sendto(req, (A2, 12345)) == len(req)  # the port is ignored
    lab.run(0.1)
    ((seen, (src, port)),) = drain(r2)
    assert (src, port) == (A1, 0)
    (frame,) = [f for f in tx1 if f[12:14] == b"\x08\x00"]
    assert seen == frame[14:]
    iph = Ipv4Header.parse(seen, verify_checksum=True)
    assert (iph.protocol, iph.ttl, iph.df, seen[20:]) == (1, 64, True, req)
    ((reply, (src, _)),) = drain(r1)
    assert src == A2
    icmp = IcmpHeader.parse(reply, 20, verify_checksum=True)
    assert (icmp.type, icmp.echo_id, icmp.echo_seq, icmp.payload) == (0, 0x4242, 1, b"abcdefgh")
    assert h1.mib.icmp.OutEchos == 1 and h1.mib.icmp.InEchoReps == 1
    assert h2.mib.icmp.InEchos == 1 and h2.mib.icmp.OutEchoReps == 1
    # the kernel's own reply is not delivered to the raw socket of its sender
    assert drain(r2) == []


def test_icmp_filter_blocks_chosen_types():
    lab, h1, h2 = lab2()
    r1 = h1.socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)
    r2 = h2.socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)
    r2.setsockopt(SOL_RAW, ICMP_FILTER, 1 << 8)  # no echo requests
    assert r2.getsockopt(SOL_RAW, ICMP_FILTER) == 1 << 8
    r1.setsockopt(SOL_RAW, ICMP_FILTER, 1 << 0)  # no echo replies
    r1.sendto(IcmpHeader.echo(1, 1).pack(), (A2, 0))
    h2.socket().sendto(b"x", (A1, 9))  # port unreachable from h1 back to h2
    lab.run(0.1)
    assert drain(r1) == []
    ((err, _),) = drain(r2)
    assert err[20] == 3 and err[21] == 3
    udp = h1.socket(AF_INET, SOCK_RAW, IPPROTO_UDP)
    assert errno_of(udp.setsockopt, SOL_RAW, ICMP_FILTER, 1) == errno.EOPNOTSUPP


def test_raw_sees_udp_alongside_the_socket_and_owns_unknown_protocols():
    lab, h1, h2 = lab2()
    rudp = h2.socket(AF_INET, SOCK_RAW, IPPROTO_UDP)
    srv = h2.socket()
    srv.bind(("", 5000))
    h1.socket().sendto(b"dual", (A2, 5000))
    r253 = h1.socket(AF_INET, SOCK_RAW, 253)
    r253.sendto(b"experimental", (A2, 0))
    lab.run(0.1)
    assert srv.recv(10) == b"dual"
    ((pkt, _),) = drain(rudp)
    assert pkt[9] == 17 and pkt[28:] == b"dual"
    # protocol 253 on h2: nobody, so protocol unreachable; then with a raw socket: delivered
    assert h2.mib.ip.InUnknownProtos == 1 and h1.mib.icmp.InDestUnreachs == 1
    assert h2.drops[SkbDropReason.IP_NOPROTO] == 1
    r253b = h2.socket(AF_INET, SOCK_RAW, 253)
    r253.sendto(b"again", (A2, 0))
    lab.run(0.1)
    ((pkt, _),) = drain(r253b)
    assert pkt[20:] == b"again"
    assert h2.mib.ip.InUnknownProtos == 1 and h1.mib.icmp.InDestUnreachs == 1


def test_bound_and_connected_raw_sockets_filter_what_they_get():
    lab, h1, h2 = lab2()
    bound = h2.socket(AF_INET, SOCK_RAW, 253)
    bound.bind(("10.0.0.12", 0))
    conn = h2.socket(AF_INET, SOCK_RAW, 253)
    conn.connect(("10.0.0.99", 0))
    s = h1.socket(AF_INET, SOCK_RAW, 253)
    s.sendto(b"to-primary", (A2, 0))
    s.sendto(b"to-secondary", ("10.0.0.12", 0))
    lab.run(0.1)
    assert [p[20:] for p, _ in drain(bound)] == [b"to-secondary"]
    assert drain(conn) == []
    assert errno_of(bound.bind, ("10.9.9.9", 0)) == errno.EADDRNOTAVAIL


def test_ip_hdrincl_fills_in_what_linux_fills_in():
    lab, h1, h2 = lab2()
    tx = tx_frames(h1.devices["eth0"])
    rx = h2.socket(AF_INET, SOCK_RAW, 253)
    s = h1.socket(AF_INET, SOCK_RAW, IPPROTO_RAW)
    payload = b"handmade"
    # saddr 0, id 0, no DF, bogus tot_len and checksum: the kernel fixes those
    hdr = Ipv4Header(tot_len=999, id=0, ttl=9, protocol=253, saddr=0, daddr=ip_aton(A2), check=0x1234)
    pkt = hdr.pack(compute_checksum=False) + payload
    assert s.sendto(pkt, (A2, 0)) == len(pkt)
    lab.run(0.1)
    (frame,) = [f for f in tx if f[12:14] == b"\x08\x00"]
    sent = Ipv4Header.parse(frame, 14, verify_checksum=True)
    assert (sent.saddr, sent.tot_len, sent.ttl, sent.protocol) == (ip_aton(A1), 28, 9, 253)
    assert sent.id != 0
    ((got, _),) = drain(rx)
    assert got == frame[14:]
    # DF and id 0: the id stays 0
    df = Ipv4Header(id=0, frag_off=0x4000, protocol=253, saddr=ip_aton(A1), daddr=ip_aton(A2)).pack() + b"x"
    s.sendto(df, (A2, 0))
    lab.run(0.1)
    assert tx[-1][18:20] == b"\x00\x00"
    assert errno_of(s.sendto, bytes(19), (A2, 0)) == errno.EINVAL
    assert errno_of(s.sendto, bytes(1501), (A2, 0)) == errno.EMSGSIZE
    bad_ihl = bytearray(Ipv4Header(daddr=ip_aton(A2)).pack())
    bad_ihl[0] = 0x4F  # ihl 60 bytes > 20 given
    assert errno_of(s.sendto, bytes(bad_ihl), (A2, 0)) == errno.EINVAL


def test_udp_ping_and_raw_route_alike_but_raw_counts_no_outnoroutes():
    """The routing step the three datagram sockets share (ipv4/datagram.py): ENETUNREACH from the route
    lookup, which udp_sendmsg and ping_v4_sendmsg count as OutNoRoutes and raw_sendmsg does not; EACCES
    for a broadcast route until SO_BROADCAST is set."""
    _, h1, _ = lab2()
    h1.sysctl.set("net.ipv4.ping_group_range", "0 0")
    echo = IcmpHeader.echo(1, 1).pack()
    socks = ((h1.socket(AF_INET, SOCK_DGRAM), b"x", 9),
             (h1.socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP), echo, 0),
             (h1.socket(AF_INET, SOCK_RAW, IPPROTO_ICMP), echo, 0))
    counted = []
    for s, data, port in socks:
        before = h1.mib.ip.OutNoRoutes
        assert errno_of(s.sendto, data, ("192.0.2.1", port)) == errno.ENETUNREACH
        counted.append(h1.mib.ip.OutNoRoutes - before)
        assert errno_of(s.sendto, data, ("10.0.0.255", port)) == errno.EACCES
        s.setsockopt(SOL_SOCKET, SO_BROADCAST, 1)
        assert s.sendto(data, ("10.0.0.255", port)) == len(data)
    assert counted == [1, 1, 0]



def test_udp_ping_and_raw_find_the_destination_alike():
    """sendmsg_dest: no address on an unconnected socket is EDESTADDRREQ; a family other than AF_INET is
    EAFNOSUPPORT, except that udp_sendmsg and raw_sendmsg take AF_UNSPEC and ping_v4_sendmsg does not."""
    _, h1, _ = lab2()
    h1.sysctl.set("net.ipv4.ping_group_range", "0 0")
    echo = IcmpHeader.echo(1, 1).pack()
    socks = ((h1.socket(AF_INET, SOCK_DGRAM), b"x", 9, True),
             (h1.socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP), echo, 0, False),
             (h1.socket(AF_INET, SOCK_RAW, IPPROTO_ICMP), echo, 0, True))
    for s, data, port, unspec_ok in socks:
        assert errno_of(s.send, data) == errno.EDESTADDRREQ
        assert errno_of(s.ops.sendmsg, s, data, (10, ip_aton(A2), port), 0) == errno.EAFNOSUPPORT  # AF_INET6
        if unspec_ok:
            assert s.ops.sendmsg(s, data, (0, ip_aton(A2), port), 0) == len(data)
        else:
            assert errno_of(s.ops.sendmsg, s, data, (0, ip_aton(A2), port), 0) == errno.EAFNOSUPPORT


def test_raw_send_limits_and_broadcast():
    _, h1, _ = lab2()
    s = h1.socket(AF_INET, SOCK_RAW, 253)
    assert errno_of(s.sendto, bytes(65516), ("127.0.0.1", 0)) == errno.EMSGSIZE
    assert s.sendto(bytes(65515), ("127.0.0.1", 0)) == 65515
    assert errno_of(s.sendto, b"x", ("10.0.0.255", 0)) == errno.EACCES
    s.setsockopt(SOL_SOCKET, SO_BROADCAST, 1)
    s.sendto(b"x", ("10.0.0.255", 0))
    assert errno_of(s.send, b"x") == errno.EDESTADDRREQ


def test_icmp_errors_reach_raw_sockets_of_the_quoted_protocol():
    lab, h1, h2 = lab2()
    conn = h1.socket(AF_INET, SOCK_RAW, 253)
    conn.connect((A2, 0))
    recverr = h1.socket(AF_INET, SOCK_RAW, 253)
    recverr.setsockopt(SOL_IP, IP_RECVERR, 1)
    quiet = h1.socket(AF_INET, SOCK_RAW, 253)
    conn.send(b"nobody home")  # h2 answers protocol unreachable (3/2): fatal
    lab.run(0.1)
    assert conn.getsockopt(SOL_SOCKET, SO_ERROR) == errno.ENOPROTOOPT
    assert quiet.getsockopt(SOL_SOCKET, SO_ERROR) == 0
    data, anc, _, addr = recverr.recvmsg(100, 256, MSG_ERRQUEUE)
    assert data == b"nobody home" and addr == (A2, 0)
    ee = struct.unpack_from("=IBBBBII", anc[0][2])
    assert ee[:4] == (errno.ENOPROTOOPT, 2, 3, 2)


def test_receive_buffer_limit():
    lab, h1, h2 = lab2()
    r = h2.socket(AF_INET, SOCK_RAW, 253)
    r.setsockopt(SOL_SOCKET, SO_RCVBUF, 1)
    s = h1.socket(AF_INET, SOCK_RAW, 253)
    for _ in range(5):
        s.sendto(b"y" * 10, (A2, 0))
    lab.run(0.1)
    # __sock_queue_rcv_skb: refused once sk_rmem_alloc >= sk_rcvbuf (832 bytes each, 2304 allowed)
    assert len(drain(r)) == 3
    assert h2.drops[SkbDropReason.SOCKET_RCVBUFF] == 2
    assert proc_net_raw(h2).splitlines()[1].split()[-1] == "2"


def test_proc_net_raw_layout():
    _, h1, _ = lab2()
    s = h1.socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)
    text = proc_net_raw(h1)
    header, line = text.splitlines()
    # raw_seq_show: no padding; captured from Linux 6.18 for an unbound ICMP raw socket
    kernel = (" 253: 00000000:0001 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 "
              "123283 2 0000000050e12b3f 0")
    assert header == ("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
                      "timeout inode ref pointer drops")
    kf, of = kernel.split(), line.split()
    assert of[1:9] == kf[1:9] and of[10] == kf[10] and of[12] == kf[12]
    assert int(of[9]) == s.ino and len(of[11]) == 16
    assert text.endswith("\n") and not line.endswith(" ")
