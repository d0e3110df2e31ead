"""A whole connection against one Linux 6.18 made (tests/wire/golden/veth_basic.pcap).

The golden capture: 10.0.0.1 connects to 10.0.0.2:8080, sends "hello", the server answers
"hello", closes 0.3 s later, the client closes 0.2 s after that; both with the 6.18 default
tcp_rmem (max 32 MB, hence wscale 10).  The same program runs on tuxnet and the two captures must
agree segment by segment: flags, relative sequence and ACK numbers, windows, the option layout,
lengths, DF/TTL, IP ID 0 for the time-wait ACK, which timestamp each segment echoes, and when the
delayed ACK leaves.  Also the RSTs a closed port draws for a SYN without SACK and without TS.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from tuxnet.lab.lab import Lab
from tuxnet.socket import AF_INET, SOCK_STREAM
from tuxnet.wire.addr import ip_aton
from tuxnet.wire.ipv4 import Ipv4Header
from tuxnet.wire.tcp import TcpHeader

GOLDEN = Path(__file__).parents[2] / "wire" / "golden" / "veth_basic.pcap"


def pcap_frames(path: Path) -> list[tuple[int, bytes]]:
    data = path.read_bytes()
    assert struct.unpack_from("<I", data)[0] == 0xA1B2C3D4
    out = []
    off = 24
    while off < len(data):
        sec, usec, incl, _ = struct.unpack_from("<IIII", data, off)
        out.append((sec * 1_000_000_000 + usec * 1000, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return out


def tcp_view(frames: list[tuple[int, bytes]], client_port: int | None = None) -> list[dict]:
    """The TCP frames of one connection, made comparable across runs (relative numbers)."""
    rows = []
    isn: dict[int, int] = {}
    tsvals: list[tuple[int, int, int]] = []  # (frame index, sender, tsval)
    t0 = None
    for t, f in frames:
        if f[12:14] != b"\x08\x00" or f[23] != 6:
            continue
        ip = Ipv4Header.parse(f[14:])
        tcp = TcpHeader.parse(f[14 + ip.hlen:14 + ip.tot_len])
        if client_port is None:
            client_port = tcp.sport
        if client_port not in (tcp.sport, tcp.dport):
            continue
        side = 0 if tcp.sport == client_port else 1
        if int(tcp.flags) & 0x02:
            isn[side] = tcp.seq
        if t0 is None:
            t0 = t
        ts = tcp.timestamp()
        echoes = None
        if ts is not None:
            # which earlier segment of the other side this one echoes
            for idx, who, val in reversed(tsvals):
                if who != side and val == ts[1]:
                    echoes = idx
                    break
            tsvals.append((len(rows), side, ts[0]))
        plen = ip.tot_len - ip.hlen - tcp.hlen
        rows.append({
            "side": side,
            "flags": int(tcp.flags),
            "seq": (tcp.seq - isn.get(side, tcp.seq)) & 0xFFFFFFFF,
            "ack": (tcp.ack - isn.get(1 - side, 0)) & 0xFFFFFFFF if int(tcp.flags) & 0x10 else 0,
            "win": tcp.window,
            "opts": [type(o).__name__ if type(o).__name__ != "TcpOptMss" else ("mss", o[0])
                     for o in tcp.options],
            "wscale": [o[0] for o in tcp.options if type(o).__name__ == "TcpOptWscale"],
            "len": plen,
            "df": ip.df,
            "ttl": ip.ttl,
            "id0": ip.id == 0,
            "echoes": echoes,
            "t_ms": (t - t0) / 1e6,
        })
    return rows


def run_tuxnet_conversation() -> list[tuple[int, bytes]]:
    lab = Lab(3)
    a, b = lab.add_host("a"), lab.add_host("b")
    da, db = lab.add_link(a, "eth0", b, "eth0")
    a.devinet.add(da, ip_aton("10.0.0.1"), 24)
    b.devinet.add(db, ip_aton("10.0.0.2"), 24)
    for h in (a, b):
        h.sysctl.set("net.ipv4.tcp_rmem", "4096 131072 33554432")  # Linux 6.18's default
    frames: list[tuple[int, bytes]] = []
    da.taps.append(lambda skb, out: out and frames.append((lab.now, skb.mac_bytes())))
    db.taps.append(lambda skb, out: out and frames.append((lab.now, skb.mac_bytes())))
    ls = b.socket(AF_INET, SOCK_STREAM)
    ls.bind(("10.0.0.2", 8080))
    ls.listen(5)
    ls.setblocking(False)
    c = a.socket(AF_INET, SOCK_STREAM)
    c.setblocking(False)
    assert c.connect_ex(("10.0.0.2", 8080)) == 115
    lab.run(0.0001)
    c.send(b"hello")
    lab.run(0.0001)
    s, _ = ls.accept()
    assert s.recv(100) == b"hello"
    s.send(b"hello")
    lab.run(0.0001)
    assert c.recv(100) == b"hello"
    lab.run(0.3)
    s.close()
    lab.run(0.2)
    assert c.recv(100) == b""
    c.close()
    lab.run(1)
    # SYNs to a closed port with SACK off and TS off (the golden capture's frames 15 and 17)
    for key in ("net.ipv4.tcp_sack", "net.ipv4.tcp_timestamps"):
        a.sysctl.set(key, "0")
        x = a.socket(AF_INET, SOCK_STREAM)
        x.setblocking(False)
        x.connect_ex(("10.0.0.2", 9001))
        lab.run(0.1)
        x.close()
        a.sysctl.set(key, "1")
    return frames


@pytest.fixture(scope="module")
def both():
    gold = pcap_frames(GOLDEN)
    mine = run_tuxnet_conversation()
    return gold, mine


def test_connection_matches_linux_segment_by_segment(both):
    gold, mine = both
    g = tcp_view(gold, 50416)
    m = tcp_view(mine)
    assert len(m) == len(g) == 11
    keys = ("side", "flags", "seq", "ack", "win", "opts", "wscale", "len", "df", "ttl", "id0", "echoes")
    for i, (x, y) in enumerate(zip(g, m, strict=True)):
        for k in keys:
            assert x[k] == y[k], (i, k, x[k], y[k])


def test_delayed_ack_of_the_fin_leaves_after_the_ato(both):
    gold, mine = both
    g = tcp_view(gold, 50416)
    m = tcp_view(mine)
    # frame 7: the server's FIN; frame 8: the client's delayed ACK of it (Linux: 42 ms at HZ=250)
    for rows in (g, m):
        assert rows[7]["flags"] == 0x11 and rows[8]["flags"] == 0x10
    gap_g = g[8]["t_ms"] - g[7]["t_ms"]
    gap_m = m[8]["t_ms"] - m[7]["t_ms"]
    assert 40 <= gap_g <= 44
    assert gap_m == pytest.approx(40, abs=1)
    # the answered data in between was ACKed at once (quick ACKs at connection start)
    assert m[6]["t_ms"] - m[5]["t_ms"] < 1


def test_rst_for_syn_to_closed_port_matches_linux(both):
    gold, mine = both

    def rsts(frames):
        out = []
        for _, f in frames:
            if f[12:14] != b"\x08\x00" or f[23] != 6:
                continue
            ip = Ipv4Header.parse(f[14:])
            tcp = TcpHeader.parse(f[14 + ip.hlen:14 + ip.tot_len])
            if tcp.dport in (9001, 9002) or tcp.sport in (9001, 9002):
                out.append((ip, tcp))
        return out

    g = rsts(gold)
    m = rsts(mine)
    assert len(g) == len(m) == 4
    for (gip, gt), (mip, mt) in zip(g, m, strict=True):
        assert [type(o) for o in gt.options] == [type(o) for o in mt.options]
        assert int(gt.flags) == int(mt.flags)
        assert gt.window == mt.window
        assert (gip.id == 0) == (mip.id == 0) and gip.df == mip.df and gip.tot_len == mip.tot_len
        if int(gt.flags) & 0x04:
            syn_g = g[g.index((gip, gt)) - 1][1]
            syn_m = m[m.index((mip, mt)) - 1][1]
            assert gt.seq == 0 and mt.seq == 0
            assert gt.ack == syn_g.seq + 1 and mt.ack == syn_m.seq + 1
