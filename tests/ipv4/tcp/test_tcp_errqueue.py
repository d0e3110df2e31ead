"""The TCP socket error queue through the lab socket API: MSG_ZEROCOPY completions and
SO_TIMESTAMPING (SCHED/SND/ACK, OPT_ID, OPT_TSONLY, RX_SOFTWARE) between two hosts whose link has
netem delay, with the virtual times each event must carry."""

from __future__ import annotations

import errno
import struct

import pytest

from tuxnet.ipv4.tcp.tcp_output import TCP_SKB_OVERHEAD
from tuxnet.lab.lab import Lab
from tuxnet.sock.constants import (
    EPOLLERR,
    MSG_ERRQUEUE,
    MSG_TRUNC,
    MSG_ZEROCOPY,
    SCM_TIMESTAMPING,
    SCM_TIMESTAMPING_OPT_STATS,
    SO_EE_CODE_ZEROCOPY_COPIED,
    SO_EE_ORIGIN_TIMESTAMPING,
    SO_EE_ORIGIN_ZEROCOPY,
    SO_SNDBUF,
    SO_TIMESTAMPING,
    SO_ZEROCOPY,
    SOL_IP,
    SOL_SOCKET,
)
from tuxnet.sock.timestamping import (
    SCM_TSTAMP_ACK,
    SCM_TSTAMP_SCHED,
    SCM_TSTAMP_SND,
    SOF_TIMESTAMPING_OPT_ID,
    SOF_TIMESTAMPING_OPT_STATS,
    SOF_TIMESTAMPING_OPT_TSONLY,
    SOF_TIMESTAMPING_RX_SOFTWARE,
    SOF_TIMESTAMPING_SOFTWARE,
    SOF_TIMESTAMPING_TX_ACK,
    SOF_TIMESTAMPING_TX_SCHED,
    SOF_TIMESTAMPING_TX_SOFTWARE,
)
from tuxnet.socket import AF_INET, SOCK_DGRAM, SOCK_RAW, SOCK_STREAM
from tuxnet.wire.addr import ip_aton

IP_RECVERR = 11
IPPROTO_TCP, TCP_NODELAY, TCP_FASTOPEN = 6, 1, 23
MSG_FASTOPEN = 0x20000000
MS = 1_000_000
EXTERR = struct.Struct("=IBBBBII")
TX_ALL = (SOF_TIMESTAMPING_TX_SCHED | SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_TX_ACK
          | SOF_TIMESTAMPING_SOFTWARE | SOF_TIMESTAMPING_OPT_ID)


def connected_pair(delay_ms: int = 10):
    """a (10.0.0.1) <-> b (10.0.0.2) over a veth with ``delay_ms`` of netem each way; a's client
    socket (non-blocking) and b's accepted socket, the handshake done."""
    lab = Lab(5)
    a, b = lab.add_host("a"), lab.add_host("b")
    da, db = lab.add_link(a, "eth0", b, "eth0", impair={"delay": f"{delay_ms}ms"})
    a.devinet.add(da, ip_aton("10.0.0.1"), 24)
    b.devinet.add(db, ip_aton("10.0.0.2"), 24)
    srv = b.socket(AF_INET, SOCK_STREAM)
    srv.bind(("10.0.0.2", 5000))
    srv.listen()
    c = a.socket(AF_INET, SOCK_STREAM)
    c.setblocking(False)
    assert c.connect_ex(("10.0.0.2", 5000)) == errno.EINPROGRESS
    lab.run(0.2)
    conn, _ = srv.accept()
    arrivals: list[int] = []  # when a's eth0 received each segment from b
    da.taps.append(lambda skb, outgoing: None if outgoing else arrivals.append(lab.loop.now_ns))
    return lab, a, b, c, conn, arrivals


def read_errqueue(s, bufsize: int = 0):
    data, anc, flags, addr = s.recvmsg(bufsize, 1024, MSG_ERRQUEUE)
    return data, anc, flags, addr


def exterr(anc):
    (level, ctype, raw), = [x for x in anc if x[:2] == (SOL_IP, IP_RECVERR)]
    assert len(raw) == 32  # sock_extended_err + sockaddr_in offender (zeroed)
    assert raw[16:] == bytes(16)
    return EXTERR.unpack_from(raw)


# ---------------------------------------------------------------------------------- MSG_ZEROCOPY
def test_zerocopy_completions_arrive_with_the_acks_and_coalesce():
    lab, a, b, c, conn, arrivals = connected_pair()
    c.setsockopt(SOL_SOCKET, SO_ZEROCOPY, 1)
    c.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)  # each send leaves at once, whole
    assert c.getsockopt(SOL_SOCKET, SO_ZEROCOPY) == 1
    t0 = lab.loop.now_ns
    for _ in range(3):
        assert c.send(bytes(4000), MSG_ZEROCOPY) == 4000
    assert not c.poll() & EPOLLERR
    lab.run(0.019)  # the data reaches b at +10ms, its ACKs are back at +20ms
    with pytest.raises(BlockingIOError):
        read_errqueue(c)
    lab.run(0.011)
    assert arrivals and arrivals[0] >= t0 + 20 * MS
    assert conn.recv(20000) == bytes(12000)
    assert c.poll() & EPOLLERR
    data, anc, flags, addr = read_errqueue(c)
    assert (data, flags, addr) == (b"", MSG_ERRQUEUE, None)
    ee_errno, origin, ee_type, code, _pad, info, ee_data = exterr(anc)
    assert (ee_errno, origin, ee_type) == (0, SO_EE_ORIGIN_ZEROCOPY, 0)
    assert code == SO_EE_CODE_ZEROCOPY_COPIED  # veth delivers to a local receive path: copied
    assert (info, ee_data) == (0, 2)  # three sends, one notification [0, 2]
    assert not c.poll() & EPOLLERR
    with pytest.raises(BlockingIOError):
        read_errqueue(c)
    # the next send is id 3, notified on its own
    c.send(b"x" * 100, MSG_ZEROCOPY)
    lab.run(0.05)
    assert exterr(read_errqueue(c)[1])[5:] == (3, 3)


def test_zerocopy_notification_waits_for_every_segment_of_the_send():
    lab, a, b, c, conn, arrivals = connected_pair()
    c.setsockopt(SOL_SOCKET, SO_ZEROCOPY, 1)
    # 30000 bytes is more than the initial window: the tail waits for the first ACKs
    assert c.send(bytes(30000), MSG_ZEROCOPY) == 30000
    tp = c.sk
    lab.run(0.021)
    assert tp.snd_una != tp.write_seq  # part of the send is still unacknowledged
    with pytest.raises(BlockingIOError):
        read_errqueue(c)
    lab.run(0.2)
    assert tp.snd_una == tp.write_seq
    assert exterr(read_errqueue(c)[1])[5:] == (0, 0)


def test_msg_zerocopy_without_so_zerocopy_is_a_plain_send():
    lab, a, b, c, conn, arrivals = connected_pair()
    assert c.send(bytes(4000), MSG_ZEROCOPY) == 4000
    lab.run(0.1)
    assert conn.recv(8000) == bytes(4000)
    with pytest.raises(BlockingIOError):
        read_errqueue(c)
    assert c.sk.sk_zckey == 0


def test_a_failed_zerocopy_send_gives_its_id_back():
    lab = Lab(1)
    a = lab.add_host("a")
    s = a.socket(AF_INET, SOCK_STREAM)
    s.setsockopt(SOL_SOCKET, SO_ZEROCOPY, 1)
    with pytest.raises(BrokenPipeError):
        s.send(bytes(100), MSG_ZEROCOPY)
    assert s.sk.sk_zckey == 0
    with pytest.raises(BlockingIOError):
        read_errqueue(s)


def test_zerocopy_sendmsg_buffers_become_frags_seventeen_per_segment():
    lab, a, b, c, conn, arrivals = connected_pair()
    c.setsockopt(SOL_SOCKET, SO_SNDBUF, 1 << 20)
    c.setsockopt(SOL_SOCKET, SO_ZEROCOPY, 1)
    sizes: list[int] = []
    a.devices["eth0"].taps.append(lambda skb, out: sizes.append(skb.len - 14 - 20 - 32) if out else None)
    assert c.sendmsg([b"z"] * 40, [], MSG_ZEROCOPY) == 40
    # each pinned page is charged whole to the send buffer (truesize += PAGE_ALIGN)
    assert c.sk.sk_wmem_queued == 3 * TCP_SKB_OVERHEAD + 40 * 4096
    lab.run(0.1)
    assert c.sk.sk_wmem_queued == 0
    assert [n for n in sizes if n > 0] == [17, 17, 6]  # MAX_SKB_FRAGS pages per segment
    assert conn.recv(100) == b"z" * 40
    assert exterr(read_errqueue(c)[1])[5:] == (0, 0)


def test_so_zerocopy_only_on_tcp_and_udp_and_only_boolean():
    lab = Lab(1)
    a = lab.add_host("a")
    udp = a.socket(AF_INET, SOCK_DGRAM)
    udp.setsockopt(SOL_SOCKET, SO_ZEROCOPY, 1)
    raw = a.socket(AF_INET, SOCK_RAW, 1)
    with pytest.raises(OSError) as e:
        raw.setsockopt(SOL_SOCKET, SO_ZEROCOPY, 1)
    assert e.value.errno == errno.EOPNOTSUPP
    tcp = a.socket(AF_INET, SOCK_STREAM)
    with pytest.raises(OSError) as e:
        tcp.setsockopt(SOL_SOCKET, SO_ZEROCOPY, 2)
    assert e.value.errno == errno.EINVAL


# ---------------------------------------------------------------------------------- SO_TIMESTAMPING
def stamps(s):
    """Every queued timestamp: (ee_info, ee_data, ts ns, payload length, msg_flags)."""
    out = []
    while True:
        try:
            data, anc, flags, _ = s.recvmsg(4096, 1024, MSG_ERRQUEUE)
        except BlockingIOError:
            return out
        (lvl, typ, raw), = [x for x in anc if x[:2] == (SOL_SOCKET, SCM_TIMESTAMPING)]
        sec, nsec, *rest = struct.unpack("=qqqqqq", raw)
        assert rest == [0, 0, 0, 0]
        ee = exterr(anc)
        assert (ee[0], ee[1]) == (errno.ENOMSG, SO_EE_ORIGIN_TIMESTAMPING)
        out.append((ee[5], ee[6], sec * 1_000_000_000 + nsec, len(data), flags))


def test_tx_timestamps_sched_snd_ack_at_their_virtual_times():
    lab, a, b, c, conn, arrivals = connected_pair(delay_ms=10)
    c.setsockopt(SOL_SOCKET, SO_TIMESTAMPING, TX_ALL)
    assert c.getsockopt(SOL_SOCKET, SO_TIMESTAMPING) == TX_ALL
    t0 = lab.loop.now_ns
    n_before = len(arrivals)
    assert c.send(bytes(1000)) == 1000
    lab.run(0.1)
    ack_at = arrivals[n_before]  # the ACK of the 1000 bytes, as a's eth0 saw it arrive
    assert ack_at == t0 + 20 * MS
    got = stamps(c)
    frame = 14 + 20 + 32 + 1000  # SCHED/SND copy the packet from its Ethernet header
    assert got == [
        (SCM_TSTAMP_SCHED, 999, t0, frame, MSG_ERRQUEUE),  # into the (netem) qdisc at once
        (SCM_TSTAMP_SND, 999, t0 + 10 * MS, frame, MSG_ERRQUEUE),  # netem let it go 10ms later
        (SCM_TSTAMP_ACK, 999, ack_at, 1000, MSG_ERRQUEUE),  # the ACK's arrival: the payload
    ]
    # the key counts bytes from the setsockopt: the next send's last byte is 1000 + 500 - 1
    c.send(bytes(500))
    lab.run(0.1)
    assert [(i, d) for i, d, *_ in stamps(c)] == [(1, 1499), (0, 1499), (2, 1499)]


def test_tx_timestamp_only_for_the_last_byte_and_tsonly_has_no_payload():
    lab, a, b, c, conn, arrivals = connected_pair(delay_ms=5)
    c.setsockopt(SOL_SOCKET, SO_TIMESTAMPING, TX_ALL | SOF_TIMESTAMPING_OPT_TSONLY)
    c.send(bytes(5000))  # several segments: only the one carrying byte 4999 is stamped
    lab.run(0.2)
    got = stamps(c)
    assert [(i, d, n, f) for i, d, _, n, f in got] == [(1, 4999, 0, MSG_ERRQUEUE),
                                                        (0, 4999, 0, MSG_ERRQUEUE),
                                                        (2, 4999, 0, MSG_ERRQUEUE)]


def test_truncated_read_of_a_timestamp_sets_msg_trunc():
    lab, a, b, c, conn, arrivals = connected_pair(delay_ms=5)
    c.setsockopt(SOL_SOCKET, SO_TIMESTAMPING, SOF_TIMESTAMPING_TX_SCHED | SOF_TIMESTAMPING_SOFTWARE)
    c.send(b"hello")
    lab.run(0.05)
    data, anc, flags, addr = c.recvmsg(0, 1024, MSG_ERRQUEUE)
    assert (data, flags, addr) == (b"", MSG_ERRQUEUE | MSG_TRUNC, None)
    assert exterr(anc)[6] == 0  # no OPT_ID: ee_data 0


def test_so_timestamping_option_checks():
    lab = Lab(1)
    a = lab.add_host("a")
    s = a.socket(AF_INET, SOCK_STREAM)
    for bad, code in ((SOF_TIMESTAMPING_OPT_ID | SOF_TIMESTAMPING_SOFTWARE, errno.EINVAL),  # CLOSE
                      (SOF_TIMESTAMPING_OPT_STATS, errno.EINVAL),  # without OPT_TSONLY
                      (1 << 19, errno.EINVAL),  # unknown bit
                      (1 << 16, errno.EINVAL),  # OPT_ID_TCP without OPT_ID
                      (1 << 15, errno.EOPNOTSUPP)):  # BIND_PHC: no PTP clock
        with pytest.raises(OSError) as e:
            s.setsockopt(SOL_SOCKET, SO_TIMESTAMPING, bad)
        assert e.value.errno == code
    s.setsockopt(SOL_SOCKET, SO_TIMESTAMPING, 18)
    assert s.getsockopt(SOL_SOCKET, SO_TIMESTAMPING, 8) == struct.pack("=ii", 18, 0)


def test_rx_software_timestamp_is_the_arrival_time():
    lab, a, b, c, conn, arrivals = connected_pair(delay_ms=10)
    conn.setsockopt(SOL_SOCKET, SO_TIMESTAMPING, SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE)
    t0 = lab.loop.now_ns
    c.send(b"ping")
    lab.run(0.05)
    data, anc, flags, _ = conn.recvmsg(100, 1024)
    assert data == b"ping" and flags == 0
    (lvl, typ, raw), = anc
    assert (lvl, typ) == (SOL_SOCKET, SCM_TIMESTAMPING)
    sec, nsec, *_ = struct.unpack("=qqqqqq", raw)
    assert sec * 1_000_000_000 + nsec == t0 + 10 * MS  # one netem delay after the send
    # without the option: no ancillary data
    c.send(b"pong")
    lab.run(0.05)
    conn.setsockopt(SOL_SOCKET, SO_TIMESTAMPING, 0)
    assert conn.recvmsg(100, 1024)[:2] == (b"pong", [])



def test_opt_stats_carry_the_socket_counters_as_netlink_attributes():
    lab, a, b, c, conn, arrivals = connected_pair(delay_ms=10)
    flags = TX_ALL | SOF_TIMESTAMPING_OPT_TSONLY | SOF_TIMESTAMPING_OPT_STATS
    c.setsockopt(SOL_SOCKET, SO_TIMESTAMPING, flags)
    c.send(bytes(1000))
    lab.run(0.1)
    entries = []
    while True:
        try:
            data, anc, flags, _ = c.recvmsg(4096, 1024, MSG_ERRQUEUE)
        except BlockingIOError:
            break
        (stats,) = [d for lvl, typ, d in anc if (lvl, typ) == (SOL_SOCKET, SCM_TIMESTAMPING_OPT_STATS)]
        assert data == stats and flags == MSG_ERRQUEUE  # the stats are also the entry's data
        attrs, off = {}, 0
        while off < len(stats):
            ln, typ = struct.unpack_from("=HH", stats, off)
            attrs[typ] = int.from_bytes(stats[off + 4:off + ln], "little")
            off += (ln + 3) & ~3
        entries.append((exterr(anc)[5], attrs))
    assert [info for info, _ in entries] == [SCM_TSTAMP_SCHED, SCM_TSTAMP_SND, SCM_TSTAMP_ACK]
    sched, ack = entries[0][1], entries[2][1]
    assert (sched[13], sched[24]) == (1000, 1000)  # SNDQ_SIZE, BYTES_NOTSENT before it left
    assert (ack[13], ack[24], ack[26]) == (0, 0, 64)  # all acked; the ACK's TTL
    assert 26 not in sched
    assert ack[18] == 1000 and ack[4] == 1  # BYTES_SENT, DATA_SEGS_OUT
    # SRTT in us, as before this ACK's RTT sample (tcp_ack_tstamp runs in tcp_clean_rtx_queue)
    assert ack[22] == sched[22] > 0 and c.sk.srtt_us >> 3 != ack[22]


def test_zerocopy_data_in_a_fast_open_syn_is_notified_once_acked():
    lab = Lab(3)
    a, b = lab.add_host("a"), lab.add_host("b")
    da, db = lab.add_link(a, "eth0", b, "eth0", impair={"delay": "5ms"})
    a.devinet.add(da, ip_aton("10.0.0.1"), 24)
    b.devinet.add(db, ip_aton("10.0.0.2"), 24)
    b.sysctl.set("net.ipv4.tcp_fastopen", "3")
    srv = b.socket(AF_INET, SOCK_STREAM)
    srv.bind(("0.0.0.0", 8080))
    srv.listen(16)
    srv.setsockopt(IPPROTO_TCP, TCP_FASTOPEN, 16)
    # no cookie yet: EINPROGRESS, nothing taken, the id goes back
    c1 = a.socket(AF_INET, SOCK_STREAM)
    c1.setblocking(False)
    c1.setsockopt(SOL_SOCKET, SO_ZEROCOPY, 1)
    with pytest.raises(BlockingIOError):
        c1.sendto(b"x" * 500, MSG_FASTOPEN | MSG_ZEROCOPY, ("10.0.0.2", 8080))
    assert c1.sk.sk_zckey == 0
    lab.run(0.1)
    with pytest.raises(BlockingIOError):
        read_errqueue(c1)
    c1.close()
    lab.run(1)
    # with the cookie the SYN carries the 500 bytes: the notification comes with the SYN-ACK
    c2 = a.socket(AF_INET, SOCK_STREAM)
    c2.setblocking(False)
    c2.setsockopt(SOL_SOCKET, SO_ZEROCOPY, 1)
    assert c2.sendto(b"y" * 500, MSG_FASTOPEN | MSG_ZEROCOPY, ("10.0.0.2", 8080)) == 500
    lab.run(0.009)
    with pytest.raises(BlockingIOError):
        read_errqueue(c2)
    lab.run(0.002)  # the SYN-ACK acking the data is back at +10ms
    ee = exterr(read_errqueue(c2)[1])
    assert (ee[1], ee[3], ee[5], ee[6]) == (SO_EE_ORIGIN_ZEROCOPY, SO_EE_CODE_ZEROCOPY_COPIED, 0, 0)
