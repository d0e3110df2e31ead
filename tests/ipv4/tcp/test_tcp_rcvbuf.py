"""Receive memory: a receiver whose application stops reading fills its buffer over a lossy path
without ever dropping in-window data for lack of memory (tcp_can_ingest as in 6.18.y after
"tcp: give up on stronger sk_rcvbuf checks"), so the advertised right edge never retracts and the
peer's segments stay acceptable; once the application reads, everything arrives intact. And what a
real squeeze (SO_RCVBUF shrunk under a full queue) does, as Linux 6.18: a zero window that retracts
the right edge, and a refused ACK beyond it."""

from __future__ import annotations

import asyncio
import hashlib
import struct

import pytest

from tuxnet.core.trace import SkbDropReason
from tuxnet.lab.lab import Lab
from tuxnet.tools.packetdrill.runner import run_script
from tuxnet.wire.addr import ip_aton

SIZE = 8 << 20


def _right_edges(frames: list[bytes], wscale: int) -> list[int]:
    """ack + (window << wscale) of every ACK in ``frames`` (Ethernet + IPv4 + TCP, no IP options)."""
    edges = []
    for f in frames:
        tcp = f[14 + 20:]
        ack, = struct.unpack_from("!I", tcp, 8)
        win, = struct.unpack_from("!H", tcp, 14)
        if tcp[13] & 0x02:  # SYN: the window is not scaled
            continue
        edges.append((ack + (win << wscale)) & 0xFFFFFFFF)
    return edges


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_full_receive_buffer_on_a_lossy_path_never_drops_in_window_data(seed):
    lab = Lab(seed)
    a, b = lab.add_host("a"), lab.add_host("b")
    da, db = lab.add_link(a, "eth0", b, "eth0", impair={"delay": "10ms", "loss": "3%"})
    a.devinet.add(da, ip_aton("10.0.0.1"), 24)
    b.devinet.add(db, ip_aton("10.0.0.2"), 24)
    data = hashlib.shake_256(b"rcvbuf").digest(SIZE)
    acks: list[bytes] = []

    def tap(skb, outgoing):
        frame = skb.bytes()
        if outgoing and frame[12:14] == b"\x08\x00" and frame[14 + 9] == 6:
            acks.append(frame)

    db.taps.append(tap)

    async def main():
        conns = []
        await b.start_server(lambda r, w: conns.append((r, w)), port=5001)
        _, w = await a.open_connection("10.0.0.2", 5001)
        w.write(data)
        await asyncio.sleep(5)  # the server's application does not read: its buffer fills up
        sk = next(iter(b.tcp.ehash.values()))
        full = (sk.sk_rmem_alloc, sk.sk_rcvbuf, sk.tcp_receive_window(), sk.rx_opt.rcv_wscale)
        r, _ = conns[0]
        h = hashlib.sha256()
        n = 0
        while n < SIZE:
            chunk = await r.read(1 << 20)
            h.update(chunk)
            n += len(chunk)
        return full, h.hexdigest()

    (rmem, rcvbuf, window, wscale), digest = lab.run_coro(main(), timeout=120)
    assert digest == hashlib.sha256(data).hexdigest()
    assert window == 0 and rmem >= rcvbuf * 9 // 10  # the buffer really filled, the window closed
    ext = b.mib.tcpext
    assert a.drops[SkbDropReason.NETEM_LOSS] + b.drops[SkbDropReason.NETEM_LOSS] > 0
    assert ext.TCPRcvQDrop == 0 and ext.RcvPruned == 0
    for reason in (SkbDropReason.PROTO_MEM, SkbDropReason.TCP_INVALID_END_SEQUENCE,
                   SkbDropReason.TCP_INVALID_SEQUENCE):
        assert b.drops[reason] == 0, reason
    edges = _right_edges(acks, wscale)
    assert len(edges) > 100
    # RFC 9293 SHLD-14 / tcp_select_window: the offered right edge never moves left
    assert all(((e2 - e1) & 0xFFFFFFFF) < 1 << 31 for e1, e2 in zip(edges, edges[1:], strict=False))


# Linux 6.18 after a memory squeeze (ICSK_ACK_NOMEM): the window drops to zero, retracting the right
# edge offered before, and a segment beyond the zero window is refused even where an earlier window
# covered it: its ACK is not processed, a dupack answers and BeyondWindow counts it. Accepting
# anything up to the largest window ever offered (RFC 7323 2.4, rcv_mwnd_seq) is 7.1's; the 6.18.44
# kernel on the development machine answers exactly as below (tests/differential/test_tcp_shrink.py
# sends it the same segments).
SQUEEZE_PKT = "\n".join([
    "--mss=1000",
    "`./defaults.sh`",
    "   +0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3",
    "   +0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0",
    "   +0 setsockopt(3, SOL_SOCKET, SO_RCVBUF, [1000000], 4) = 0",
    "   +0 bind(3, ..., ...) = 0",
    "   +0 listen(3, 1) = 0",
    "   +0 < S 0:0(0) win 32792 <mss 1000,nop,nop,sackOK,nop,wscale 7>",
    "   +0 > S. 0:0(0) ack 1 win 65535 <mss 1460,nop,nop,sackOK,nop,wscale 4>",
    "   +0 < . 1:1(0) ack 1 win 257",
    "   +0 accept(3, ..., ...) = 4",
    *(f"   +0 < P. {1 + i * 65000}:{65001 + i * 65000}(65000) ack 1 win 257\n"
      f"    * > . 1:1(0) ack {65001 + i * 65000}" for i in range(16)),
    "   +0 setsockopt(4, SOL_SOCKET, SO_RCVBUF, [16000], 4) = 0",
    "   +0 < P. 1040001:1105001(65000) ack 1 win 257",
    "    * > . 1:1(0) ack 1040001 win 0",
    "   +0 write(4, ..., 1000) = 1000",
    "   +0 > P. 1:1001(1000) ack 1040001 win 0",
    "   +0 < . 1105001:1105001(0) ack 1001 win 257",
    "   +0 > . 1001:1001(0) ack 1040001 win 0",
    "   +0 read(4, ..., 2000000) = 1040000",
    "    * > . 1001:1001(0) ack 1040001",
]) + "\n"


def test_a_squeeze_retracts_the_window_and_refuses_what_lies_beyond_it(tmp_path):
    p = tmp_path / "squeeze.pkt"
    p.write_text(SQUEEZE_PKT)
    res = run_script(p)
    assert res.status == "PASS", res.summary() + "\n" + "\n".join(res.details)
