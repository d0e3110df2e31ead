"""Receive memory: a receiver whose application stops reading fills its buffer over a lossy path
without ever dropping in-window data for lack of memory (tcp_can_ingest as in 6.18.y after
"tcp: give up on stronger sk_rcvbuf checks"), so the advertised right edge never retracts and the
peer's segments stay acceptable; once the application reads, everything arrives intact."""

from __future__ import annotations

import asyncio
import hashlib
import struct

import pytest

from tuxnet.core.trace import SkbDropReason
from tuxnet.lab.lab import Lab
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
