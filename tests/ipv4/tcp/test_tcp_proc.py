"""/proc/net/tcp rendered as Linux renders it (tcp4_seq_show): the header and every line padded to
149 characters, addresses as the raw network-order word, states, queues, timers in USER_HZ
ticks, and the listener, request, full-socket and TIME_WAIT line variants."""

from __future__ import annotations

import re

from tcpharness import Flow, Harness, passive_open

from tuxnet.procfs import read_proc

# the first line of /proc/net/tcp on Linux 6.18 (trailing blanks included)
LINUX_HEADER = ("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
                "inode").ljust(149)

_H = r"([0-9A-F]{%d})"
_HEAD = (r"^ {0,3}\d+: " + _H % 8 + ":" + _H % 4 + " " + _H % 8 + ":" + _H % 4 + " " + _H % 2 + " "
         + _H % 8 + ":" + _H % 8 + " " + _H % 2 + ":" + _H % 8 + " " + _H % 8
         + r" +(\d+) +(\d+) (\d+) (\d+) ([0-9a-f]{16})")
FULL = re.compile(_HEAD + r" (\d+) (\d+) (\d+) (\d+) (-?\d+) *$")
SHORT = re.compile(_HEAD + r" *$")


def lines(hs: Harness) -> list[str]:
    text = read_proc(hs.h, "/proc/net/tcp")
    assert text.endswith("\n")
    out = text.split("\n")[:-1]
    assert all(len(x) == 149 for x in out)
    assert out[0] == LINUX_HEADER
    return out[1:]


def test_listener_and_established_lines():
    hs = Harness(delay_ms=5)
    _, conn, fl = passive_open(hs)
    conn.send(b"x" * 100)  # unacknowledged: tx_queue, and the retransmit-class timer runs
    fl.send("P.", b"y" * 33)  # unread: rx_queue
    rows = lines(hs)
    lst = FULL.match(rows[0]).groups()
    # 192.0.2.1:8080 as a little-endian host prints the network-order word
    assert lst[:5] == ("010200C0", "1F90", "00000000", "0000", "0A")
    assert lst[5:10] == ("00000000", "00000000", "00", "00000000", "00000000")
    assert lst[-5:] == ("100", "0", "0", "10", "0")  # listener: rto 1 s, max_qlen 0 (no TFO)
    est = FULL.match(rows[1]).groups()
    assert est[:5] == ("010200C0", "1F90", "020200C0", "9C40", "01")
    assert (int(est[5], 16), int(est[6], 16)) == (100, 33)
    assert est[7] == "01"  # the loss probe counts as the retransmit timer
    rto, ato, quick, cwnd, ssthresh = (int(x) for x in est[-5:])
    assert rto == conn.sk.icsk_rto // 10 and cwnd == 10 and ssthresh == -1
    assert int(est[8], 16) <= rto
    assert int(est[12]) == conn.ino and int(est[10]) == 0  # inode; the uid is root's


def test_request_and_time_wait_lines():
    hs = Harness(delay_ms=5)
    _, conn, fl = passive_open(hs)
    Flow(hs, 40001, 8080).send("S")
    conn.close()
    fin = fl.recv()
    fl.send("F.", ack=fin.end_seq)
    rows = lines(hs)
    req = [r for r in rows if " 03 " in r]
    tw = [r for r in rows if " 06 " in r]
    assert len(req) == 1 and len(tw) == 1
    g = SHORT.match(req[0]).groups()
    assert g[3] == "9C41" and g[7] == "01" and g[12] == "0"  # expire timer, no inode
    assert int(g[8], 16) <= 100  # the SYN-ACK timer: 1 s at most
    g = SHORT.match(tw[0]).groups()
    assert g[3] == "9C40" and g[7] == "03" and g[12] == "0"
    assert int(g[8], 16) == 6000  # 60 s of TIME_WAIT left, in USER_HZ ticks
