"""Closing: active and passive close through every state (FIN_WAIT1/2, CLOSING, TIME_WAIT,
CLOSE_WAIT, LAST_ACK), half-close, the RST of close() with unread data (RFC 2525) and of a zero
SO_LINGER, orphans (FIN_WAIT2 timeout, data to a closed socket), and the errors calls return."""

from __future__ import annotations

import errno
import struct

import pytest
from tcpharness import MS, Harness, active_open, passive_open

from tuxnet.sock.constants import SHUT_RD, SHUT_WR, SO_LINGER, SOL_SOCKET

PEER = 40000


def state(hs: Harness, port: int = 8080) -> str | None:
    return hs.states().get((port, PEER))


def test_active_close_fin_wait1_fin_wait2_time_wait_then_gone():
    hs = Harness(delay_ms=5)
    _, conn, fl = passive_open(hs)
    conn.shutdown(SHUT_WR)  # the socket stays ours: FIN_WAIT2 is a full socket
    fin = fl.recv()
    assert fin.flags == "F." and fin.seq == fl.iss_h + 1
    assert state(hs) == "FIN_WAIT1"
    fl.send(".", ack=fin.end_seq)
    assert state(hs) == "FIN_WAIT2"
    fl.send("F.")
    ack = fl.recv()
    assert ack.flags == "." and ack.ack == fl.seq
    assert state(hs) == "TIME_WAIT"
    conn.close()
    t_tw = hs.now - hs.delay_ns
    hs.run(59.9)
    row = [r for r in hs.proc_tcp() if r["state"] == "TIME_WAIT"]
    assert row and row[0]["timer"] == 3  # the TIME_WAIT timer
    hs.run(0.2)
    assert state(hs) is None
    assert hs.now - t_tw >= 60 * 1000 * MS  # TCP_TIMEWAIT_LEN
    assert hs.h.mib.tcp.CurrEstab == 0


def test_passive_close_close_wait_last_ack():
    hs = Harness(delay_ms=5)
    _, conn, fl = passive_open(hs)
    fl.send("F.")
    a = fl.recv()
    assert a.ack == fl.seq
    assert state(hs) == "CLOSE_WAIT"
    assert conn.recv(100) == b""  # end of stream
    conn.send(b"still talking")  # CLOSE_WAIT may still send
    d = fl.recv()
    assert d.data == b"still talking"
    fl.send(".")
    conn.close()
    fin = fl.recv()
    assert fin.flags == "F."
    assert state(hs) == "LAST_ACK"
    # LAST_ACK retransmits its FIN on RTO
    hs.run(0.3)
    assert [s.flags for s in hs.take()] == ["F."]
    fl.send(".", ack=fin.end_seq)
    assert state(hs) is None
    assert hs.h.mib.tcp.CurrEstab == 0 and hs.h.mib.tcp.EstabResets == 0


def test_simultaneous_close_goes_through_closing():
    hs = Harness(delay_ms=5)
    _, conn, fl = passive_open(hs)
    conn.shutdown(SHUT_WR)
    fin = hs.next()
    fl.send("F.", ack=fin.seq)  # the peer's FIN crossed ours: it does not ACK our FIN yet
    ack = hs.next()
    assert ack.flags == "." and ack.ack == fl.seq
    assert state(hs) == "CLOSING"
    fl.send(".", ack=fin.end_seq)
    assert state(hs) == "TIME_WAIT"


def test_half_close_still_receives():
    hs = Harness(delay_ms=5)
    _, conn, fl = passive_open(hs)
    conn.shutdown(SHUT_WR)
    fin = fl.recv()
    fl.send(".", ack=fin.end_seq)
    fl.send("P.", b"late data")
    hs.run(0.1)
    assert conn.recv(100) == b"late data"
    with pytest.raises(OSError) as e:
        conn.send(b"x")
    assert e.value.errno == errno.EPIPE
    fl.send("F.")
    assert conn.recv(100) == b""


def test_shutdown_read_then_data_is_accepted_but_discarded_on_close():
    hs = Harness(delay_ms=5)
    _, conn, fl = passive_open(hs)
    conn.shutdown(SHUT_RD)
    assert conn.recv(10) == b""
    with pytest.raises(OSError) as e:
        conn.shutdown(99)
    assert e.value.errno == errno.EINVAL


def test_close_with_unread_data_sends_rst():
    hs = Harness(delay_ms=5)
    _, conn, fl = passive_open(hs)
    fl.send("P.", b"never read")
    hs.run(0.1)
    hs.take()
    conn.close()
    (rst,) = [s for s in hs.take() + [hs.next()]]
    assert rst.flags == "R." and rst.seq == fl.iss_h + 1 and rst.ack == fl.seq
    assert state(hs) is None
    ext = hs.h.mib.tcpext
    assert ext.TCPAbortOnClose == 1
    assert hs.h.mib.tcp.OutRsts == 1 and hs.h.mib.tcp.EstabResets == 1


def test_zero_linger_close_sends_rst_and_no_time_wait():
    hs = Harness(delay_ms=5)
    _, conn, fl = passive_open(hs)
    conn.setsockopt(SOL_SOCKET, SO_LINGER, struct.pack("ii", 1, 0))
    conn.send(b"queued")
    hs.run(0.001)
    conn.close()
    hs.run(0.01)
    segs = hs.take()
    assert [s.flags for s in segs] == ["P.", "R."]
    assert segs[1].seq == segs[0].end_seq
    assert state(hs) is None
    assert hs.h.mib.tcpext.TCPAbortOnData == 1


def test_orphan_in_fin_wait2_is_reaped_after_tcp_fin_timeout():
    hs = Harness(delay_ms=5, sysctls={"net.ipv4.tcp_fin_timeout": "30"})
    _, conn, fl = passive_open(hs)
    conn.close()
    fin = fl.recv()
    fl.send(".", ack=fin.end_seq)
    assert state(hs) == "FIN_WAIT2"
    hs.run(29.9)
    assert state(hs) == "FIN_WAIT2"
    hs.run(0.2)
    assert state(hs) is None


def test_data_to_a_closed_socket_draws_rst():
    # FIN_WAIT1 (a full socket closed for reading): RFC 1122 reset, TCPAbortOnData
    hs = Harness(delay_ms=5)
    _, conn, fl = passive_open(hs)
    conn.close()
    fin = fl.recv()
    fl.send("P.", b"anyone there?", ack=fin.seq)
    rst = hs.next()
    # tcp_v4_send_reset answers a segment with an ACK by an RST at that ACK number
    assert rst.flags == "R" and rst.seq == fin.seq
    assert state(hs) is None
    assert hs.h.mib.tcpext.TCPAbortOnData == 1
    # FIN_WAIT2 of an orphan lives in a time-wait bucket: it resets too, without the counter
    hs = Harness(delay_ms=5)
    _, conn, fl = passive_open(hs)
    conn.close()
    fin = fl.recv()
    fl.send(".", ack=fin.end_seq)
    fl.send("P.", b"anyone there?")
    rst = hs.next()
    assert rst.flags == "R" and rst.seq == fin.end_seq
    assert state(hs) is None
    assert hs.h.mib.tcpext.TCPAbortOnData == 0


def test_peer_reset_gives_econnreset_then_epipe():
    hs = Harness(delay_ms=5)
    _, conn, fl = passive_open(hs)
    fl.send("R.", options=())
    assert state(hs) is None
    with pytest.raises(OSError) as e:
        conn.recv(10)
    assert e.value.errno == errno.ECONNRESET
    with pytest.raises(OSError) as e:
        conn.send(b"x")
    assert e.value.errno == errno.EPIPE
    assert hs.h.mib.tcp.EstabResets == 1 and hs.h.mib.tcp.CurrEstab == 0


def test_send_after_reset_reports_econnreset_first():
    hs = Harness(delay_ms=5)
    s, fl = active_open(hs)
    fl.send("R.", options=())
    with pytest.raises(OSError) as e:
        s.send(b"x")
    assert e.value.errno == errno.ECONNRESET
    with pytest.raises(OSError) as e:
        s.send(b"x")
    assert e.value.errno == errno.EPIPE


def test_close_in_syn_sent_sends_nothing():
    hs = Harness(delay_ms=5)
    s = hs.socket()
    s.setblocking(False)
    s.connect_ex(("192.0.2.2", 80))
    hs.next()
    s.close()
    hs.run(5)
    assert hs.take() == []
    assert hs.states() == {}


def test_time_wait_acks_a_retransmitted_fin_and_restarts():
    hs = Harness(delay_ms=5)
    _, conn, fl = passive_open(hs)
    conn.close()
    fin = fl.recv()
    fl.send("F.", ack=fin.end_seq)
    fl.recv()
    hs.run(30)
    fl.send("F.", seq=fl.seq - 1, ack=fin.end_seq)  # our ACK was lost: the FIN comes again
    again = hs.next()
    assert again.flags == "." and again.ack == fl.seq
    assert again.ip.id == 0  # sent from the time-wait bucket (ip_send_unicast_reply)
    hs.run(59)
    assert state(hs) == "TIME_WAIT"  # the timer restarted at the FIN
    hs.run(1.1)
    assert state(hs) is None


def test_rst_kills_time_wait_by_default_rfc1337_off():
    for rfc1337, left in (("0", None), ("1", "TIME_WAIT")):
        hs = Harness(delay_ms=5, sysctls={"net.ipv4.tcp_rfc1337": rfc1337})
        _, conn, fl = passive_open(hs)
        conn.close()
        fin = fl.recv()
        fl.send("F.", ack=fin.end_seq)
        fl.recv()
        fl.send("R", ack=0, options=())
        assert state(hs) == left


def test_syn_in_time_wait_with_higher_sequence_opens_a_new_connection():
    hs = Harness(delay_ms=5)
    lst, conn, fl = passive_open(hs)
    conn.close()
    fin = fl.recv()
    fl.send("F.", ack=fin.end_seq)
    fl.recv()
    hs.run(1)
    fl.send("S", seq=fl.seq + 100000, ack=0)
    sa = hs.next()
    assert sa.flags == "S." and sa.ack == fl.seq + 100001
    # the new ISN continues the old connection's sequence space: tw_snd_nxt + 65535 + 2
    assert sa.seq == (fin.end_seq + 65537) & 0xFFFFFFFF
    assert state(hs) == "SYN_RECV" and lst.sk.syn_queue_len == 1


def test_syn_in_time_wait_with_old_sequence_gets_the_old_ack():
    hs = Harness(delay_ms=5)
    _, conn, fl = passive_open(hs)
    conn.close()
    fin = fl.recv()
    fl.send("F.", ack=fin.end_seq)
    fl.recv()
    hs.run(1)
    # an older SYN and an older timestamp: the time-wait bucket answers with its ACK
    fl.ts_base -= 100000
    fl.send("S", seq=fl.seq - 10, ack=0)
    a = hs.next()
    assert a.flags == "." and a.ack == fl.seq
