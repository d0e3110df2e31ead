"""Socket options as Linux 6.18 answers them (values measured on the reference kernel in two
namespaces): buffer sizes before and after connect, SO_RCVBUF's effect on the SYN's window and
scale, TCP_INFO's layout and fields, TCP_CONGESTION, TCP_MAXSEG, and the errnos."""

from __future__ import annotations

import errno
import struct

import pytest
from tcpharness import Harness, P, active_open, passive_open

from tuxnet.ipv4.tcp.tcp_sock import TCP_ESTABLISHED
from tuxnet.ipv4.tcp.tcp_sockopt import TCP_CONGESTION, TCP_INFO, TCP_MAXSEG, TCP_NODELAY, tcp_get_info
from tuxnet.sock.constants import IPPROTO_TCP, SO_RCVBUF, SO_SNDBUF, SOL_SOCKET
from tuxnet.wire.tcp import TcpOptWscale


def test_buffer_defaults_and_clamps():
    hs = Harness()
    s = hs.socket()
    assert s.getsockopt(SOL_SOCKET, SO_SNDBUF) == 16384  # tcp_wmem[1]
    assert s.getsockopt(SOL_SOCKET, SO_RCVBUF) == 131072  # tcp_rmem[1]
    s.setsockopt(SOL_SOCKET, SO_RCVBUF, 4096)
    assert s.getsockopt(SOL_SOCKET, SO_RCVBUF) == 8192  # doubled
    s.setsockopt(SOL_SOCKET, SO_SNDBUF, 1)
    assert s.getsockopt(SOL_SOCKET, SO_SNDBUF) == 4608  # SOCK_MIN_SNDBUF
    s.setsockopt(SOL_SOCKET, SO_RCVBUF, 1)
    assert s.getsockopt(SOL_SOCKET, SO_RCVBUF) == 2304  # SOCK_MIN_RCVBUF


@pytest.mark.parametrize("cc, sndbuf", [("cubic", 46080), ("bbr", 69120)])
def test_send_buffer_grows_for_the_initial_window_on_connect(cc, sndbuf):
    # tcp_sndbuf_expand: (2, or 3 for BBR) * 10 segments * per-segment truesize (2304 here)
    hs = Harness(sysctls={"net.ipv4.tcp_congestion_control": cc})
    s, fl = active_open(hs)
    assert s.getsockopt(SOL_SOCKET, SO_SNDBUF) == sndbuf
    assert s.getsockopt(SOL_SOCKET, SO_RCVBUF) == 131072


@pytest.mark.parametrize("rcvbuf, win, wscale", [(8192, 7300, 0), (65536, 64240, 1)])
def test_locked_receive_buffer_sets_the_syn_window_and_scale(rcvbuf, win, wscale):
    hs = Harness()
    s = hs.socket()
    s.setsockopt(SOL_SOCKET, SO_RCVBUF, rcvbuf)
    s.setblocking(False)
    s.connect_ex((P, 80))
    syn = hs.next()
    assert syn.win == win and syn.opt(TcpOptWscale)[0] == wscale


def test_tcp_info_layout_and_fields():
    hs = Harness(sysctls={"net.ipv4.tcp_rmem": "4096 131072 33554432"})
    s, fl = active_open(hs)
    raw = s.getsockopt(IPPROTO_TCP, TCP_INFO, 512)
    assert len(raw) == 280  # Linux 6.18's struct tcp_info
    state, ca_state, retransmits, probes, backoff, options, wscale, flags = struct.unpack_from("8B", raw)
    assert (state, ca_state, retransmits, probes, backoff) == (TCP_ESTABLISHED, 0, 0, 0, 0)
    assert options == 7  # TIMESTAMPS | SACK | WSCALE
    assert wscale == (10 << 4) | 7  # ours (rcv) high nibble, the peer's (snd) low
    rto, ato, snd_mss, rcv_mss = struct.unpack_from("4I", raw, 8)
    assert (ato, snd_mss, rcv_mss) == (0, 1448, 536)
    assert rto == s.sk.icsk_rto * 1000
    info = tcp_get_info(s.sk)
    assert info["tcpi_snd_cwnd"] == 10 and info["tcpi_snd_ssthresh"] == 0x7FFFFFFF
    assert s.getsockopt(IPPROTO_TCP, TCP_INFO) == raw[:4]  # the caller's buffer size rules
    s.send(b"x" * 3000)
    hs.run(0)
    info = tcp_get_info(s.sk)
    assert info["tcpi_unacked"] == 3 and info["tcpi_bytes_sent"] == 3000
    assert info["tcpi_data_segs_out"] == 3 and info["tcpi_notsent_bytes"] == 0


def test_tcp_info_counts_retransmissions():
    hs = Harness(delay_ms=5)
    _, conn, fl = passive_open(hs)
    conn.send(b"r" * 100)
    hs.run(1)
    info = tcp_get_info(conn.sk)
    assert info["tcpi_total_retrans"] == hs.h.mib.tcp.RetransSegs > 0
    assert info["tcpi_retransmits"] == conn.sk.icsk_retransmits and info["tcpi_backoff"] > 0
    assert info["tcpi_ca_state"] == 4  # Loss


def test_tcp_congestion_names():
    hs = Harness()
    s = hs.socket()
    assert s.getsockopt(IPPROTO_TCP, TCP_CONGESTION, 16).rstrip(b"\0") == b"cubic"
    with pytest.raises(OSError) as e:
        s.setsockopt(IPPROTO_TCP, TCP_CONGESTION, b"nope")
    assert e.value.errno == errno.ENOENT
    s.setsockopt(IPPROTO_TCP, TCP_CONGESTION, b"reno")
    assert s.getsockopt(IPPROTO_TCP, TCP_CONGESTION, 16).rstrip(b"\0") == b"reno"
    hs.h.sysctl.set("net.ipv4.tcp_congestion_control", "bbr")
    s2 = hs.socket()
    assert s2.getsockopt(IPPROTO_TCP, TCP_CONGESTION, 16).rstrip(b"\0") == b"bbr"


def test_tcp_maxseg_limits():
    hs = Harness()
    s = hs.socket()
    s.setsockopt(IPPROTO_TCP, TCP_MAXSEG, 0)  # 0: back to the route's MSS
    for bad in (87, 32768):  # below TCP_MIN_MSS, above MAX_TCP_WINDOW
        with pytest.raises(OSError) as e:
            s.setsockopt(IPPROTO_TCP, TCP_MAXSEG, bad)
        assert e.value.errno == errno.EINVAL
    s.setsockopt(IPPROTO_TCP, TCP_MAXSEG, 88)  # TCP_MIN_MSS
    assert s.getsockopt(IPPROTO_TCP, TCP_MAXSEG) == 88


def test_unknown_tcp_option_is_enoprotoopt():
    hs = Harness()
    s = hs.socket()
    with pytest.raises(OSError) as e:
        s.setsockopt(IPPROTO_TCP, 9999, 1)
    assert e.value.errno == errno.ENOPROTOOPT
    s.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)
    assert s.getsockopt(IPPROTO_TCP, TCP_NODELAY) == 1


def test_getsockname_getpeername_errors():
    hs = Harness()
    s = hs.socket()
    assert s.getsockname() == ("0.0.0.0", 0)
    with pytest.raises(OSError) as e:
        s.getpeername()
    assert e.value.errno == errno.ENOTCONN
    with pytest.raises(OSError) as e:
        s.send(b"x")
    assert e.value.errno == errno.EPIPE
    with pytest.raises(OSError) as e:
        s.recv(1)
    assert e.value.errno == errno.ENOTCONN
